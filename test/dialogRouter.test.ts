/**
 * The dialog router (sip/dialogRouter.ts) with fake usages and a fake server transaction, no
 * sockets: 481 for an unknown dialog (a dialog with an empty remote tag takes its peer's requests), 500 for an out-of-order CSeq, dispatch by dialog to the
 * right usage (NOTIFYs of a refer and an event subscription on one dialog told apart by the
 * Event id), the method table, 405 + Allow for a known method nobody implements, 501 for an
 * unknown one; usages made from one shared kind per module (`OwnedDialogUsage`), and capability
 * header values that follow the table.
 */
import test from 'ava';
import { parseMessage } from '../sip/parser.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import { buildResponse, tagOf } from '../sip/util.js';
import type { ServerTransaction } from '../sip/transaction.js';
import type { Endpoint } from '../sip/transport.js';
import { Dialog } from '../sip/dialog.js';
import { CapabilityRegistry } from '../sip/capabilities.js';
import { DialogRouter, OwnedDialogUsage, type DialogUsage, type DialogUsageKind } from '../sip/dialogRouter.js';

const FROM: Endpoint = { protocol: 'UDP', host: '127.0.0.1', port: 5099 };

/** A request as a peer would send it; `toTag` makes it in-dialog. */
function request(method: string, cseq: number, opts: { toTag?: string; fromTag?: string; callId?: string; headers?: string[] } = {}): SipRequest {
  const text =
    `${method} sip:bob@127.0.0.1:5060 SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK${method}${cseq}\r\n` +
    `Max-Forwards: 70\r\n` +
    `From: <sip:alice@127.0.0.1:5099>${opts.fromTag === '' ? '' : `;tag=${opts.fromTag ?? 'remote'}`}\r\n` +
    `To: <sip:bob@127.0.0.1:5060>${opts.toTag ? `;tag=${opts.toTag}` : ''}\r\n` +
    `Call-ID: ${opts.callId ?? 'call-1'}\r\n` +
    `CSeq: ${cseq} ${method}\r\n` +
    (opts.headers ?? []).map((h) => `${h}\r\n`).join('') +
    `Content-Length: 0\r\n\r\n`;
  return parseMessage(Buffer.from(text, 'latin1')) as SipRequest;
}

/** A server transaction that keeps what it was answered. */
function fakeTx(): { tx: ServerTransaction; answers: SipResponse[] } {
  const answers: SipResponse[] = [];
  const tx = { respond: (res: SipResponse) => (answers.push(res), true) } as unknown as ServerTransaction;
  return { tx, answers };
}

function newRouter(): { router: DialogRouter; capabilities: CapabilityRegistry } {
  const capabilities = new CapabilityRegistry();
  const router = new DialogRouter({ createResponse: (req, status, reason, options) => buildResponse(req, status, reason, options), capabilities });
  return { router, capabilities };
}

/** A usage that records what it was handed. */
function fakeUsage(name: string, methods: string[], dialog: Dialog | undefined, eventId?: string): DialogUsage & { got: SipRequest[] } {
  const got: SipRequest[] = [];
  return {
    name,
    methods,
    got,
    dialog: () => dialog,
    ...(eventId !== undefined ? { ownsEvent: (e) => e.package === eventId.split(';')[0] && (e.id ?? '') === (eventId.split(';')[1] ?? '') } : {}),
    handle: (req, tx) => {
      got.push(req);
      tx.respond(buildResponse(req, 200));
    },
  };
}

/** A dialog as the UAS of `call-1` (local tag `local`, remote tag `remote`), remote CSeq 1. */
function uasDialog(): Dialog {
  return new Dialog('call-1', 'local', 'remote', '<sip:bob@127.0.0.1:5060>', '<sip:alice@127.0.0.1:5099>', 0, 1, 'sip:alice@127.0.0.1:5099', [], 'sip:bob@127.0.0.1:5060');
}

function route(router: DialogRouter, req: SipRequest): SipResponse[] {
  const { tx, answers } = fakeTx();
  router.route(req, tx, FROM);
  return answers;
}

test('an in-dialog request for an unknown dialog gets 481; a dead usage counts as none', (t) => {
  const { router } = newRouter();
  t.is(route(router, request('BYE', 2, { toTag: 'local' }))[0]?.status, 481);
  const d = uasDialog();
  let alive = true;
  const u = { ...fakeUsage('invite', ['BYE'], d), alive: () => alive };
  router.attach(d.id, u);
  alive = false;
  t.is(route(router, request('BYE', 2, { toTag: 'local' }))[0]?.status, 481);
  t.is(u.got.length, 0);
});

test('one sequence guard: a CSeq lower than the last one gets 500, for every usage of the dialog', (t) => {
  const { router } = newRouter();
  const d = uasDialog();
  const invite = fakeUsage('invite', ['INFO', 'BYE'], d);
  const message = fakeUsage('message', ['MESSAGE'], d);
  router.attach(d.id, invite);
  router.attach(d.id, message);
  t.is(route(router, request('INFO', 5, { toTag: 'local' }))[0]?.status, 200);
  t.is(route(router, request('MESSAGE', 4, { toTag: 'local' }))[0]?.status, 500, 'lower than the INFO before it');
  t.is(route(router, request('MESSAGE', 6, { toTag: 'local' }))[0]?.status, 200);
  t.is(route(router, request('BYE', 6, { toTag: 'local' }))[0]?.status, 200, 'equal is not lower');
  t.is(invite.got.length, 2);
  t.is(message.got.length, 1);
});

test('dispatch by dialog: each dialog reaches its own usage, by method', (t) => {
  const { router } = newRouter();
  const d1 = uasDialog();
  const d2 = new Dialog('call-2', 'local2', 'remote', '<sip:bob@127.0.0.1>', '<sip:alice@127.0.0.1>', 0, 1, 'sip:alice@127.0.0.1:5099', [], 'sip:bob@127.0.0.1');
  const a = fakeUsage('invite', ['BYE'], d1);
  const b = fakeUsage('invite', ['BYE'], d2);
  router.attach(d1.id, a);
  router.attach(d2.id, b);
  route(router, request('BYE', 2, { toTag: 'local2', callId: 'call-2' }));
  t.is(a.got.length, 0);
  t.is(b.got.length, 1);
  router.detach(d2.id, b);
  t.is(router.dialogCount, 1);
  t.is(route(router, request('BYE', 3, { toTag: 'local2', callId: 'call-2' }))[0]?.status, 481);
});

test('NOTIFYs of a refer subscription and of an event subscription on one dialog go to their usage by Event id', (t) => {
  const { router, capabilities } = newRouter();
  capabilities.register('x', { eventPackages: ['refer', 'dialog'] });
  const d = uasDialog();
  const refer = fakeUsage('refer', ['REFER', 'NOTIFY'], d, 'refer;7');
  const events = fakeUsage('subscription', ['NOTIFY'], d, 'dialog;abc');
  router.attach(d.id, refer);
  router.attach(d.id, events);
  route(router, request('NOTIFY', 2, { toTag: 'local', headers: ['Event: dialog;id=abc', 'Subscription-State: active'] }));
  route(router, request('NOTIFY', 3, { toTag: 'local', headers: ['Event: refer;id=7', 'Subscription-State: active'] }));
  t.is(refer.got.length, 1);
  t.is(refer.got[0]?.headers.get('CSeq'), '3 NOTIFY');
  t.is(events.got.length, 1);
  t.is(events.got[0]?.headers.get('CSeq'), '2 NOTIFY');
  const bad = route(router, request('NOTIFY', 4, { toTag: 'local', headers: ['Event: refer;id=8'] }))[0];
  t.is(bad?.status, 489, 'nobody owns refer;id=8');
  t.is(bad?.headers.get('Allow-Events'), 'refer, dialog');
  t.is(route(router, request('NOTIFY', 5, { toTag: 'local' }))[0]?.status, 400, 'no Event at all');
});

test('a subscriber attached by Call-ID and local tag takes the first NOTIFY whatever its From tag', (t) => {
  const { router } = newRouter();
  const sub = fakeUsage('subscription', ['NOTIFY'], undefined, 'presence');
  router.attach(DialogRouter.earlyKey('call-1', 'local'), sub);
  t.is(route(router, request('NOTIFY', 1, { toTag: 'local', fromTag: 'forked', headers: ['Event: presence'] }))[0]?.status, 200);
  t.is(sub.got.length, 1);
});

test('method table: out-of-dialog requests go to the handler of their method, whatever the registration order', (t) => {
  const { router, capabilities } = newRouter();
  const seen: string[] = [];
  router.module('messaging', { methods: ['MESSAGE'] }, { MESSAGE: (req, tx) => (seen.push(`msg ${req.method}`), tx.respond(buildResponse(req, 200))) });
  router.module('calls', { methods: ['INVITE', 'ACK', 'CANCEL', 'BYE'] }, { INVITE: (req, tx) => (seen.push(`call ${req.method}`), tx.respond(buildResponse(req, 180))) });
  t.is(route(router, request('INVITE', 1))[0]?.status, 180);
  t.is(route(router, request('MESSAGE', 1))[0]?.status, 200);
  t.deepEqual(seen, ['call INVITE', 'msg MESSAGE']);
  t.deepEqual(capabilities.methods(), ['MESSAGE', 'INVITE', 'ACK', 'CANCEL', 'BYE']);
  t.throws(() => router.module('other', {}, { INVITE: () => undefined }), { message: /INVITE already has a handler/ });
  t.is(route(router, request('BYE', 2))[0]?.status, 481, 'a BYE outside a dialog');
  t.deepEqual(route(router, request('ACK', 1)), [], 'an ACK is never answered');
});

test('405 with Allow for a known method nobody implements, 501 for an unknown one, in and out of dialogs', (t) => {
  const { router } = newRouter();
  router.module('calls', { methods: ['INVITE', 'BYE'] }, { INVITE: () => undefined });
  const out405 = route(router, request('PUBLISH', 1))[0];
  t.is(out405?.status, 405);
  t.is(out405?.headers.get('Allow'), 'INVITE, BYE');
  t.truthy(out405 && /tag=/.test(out405.headers.get('To') ?? ''), 'an out-of-dialog answer is tagged');
  const out501 = route(router, request('FROBNICATE', 1))[0];
  t.is(out501?.status, 501);
  t.is(out501?.headers.get('Allow'), 'INVITE, BYE');
  const d = uasDialog();
  router.attach(d.id, fakeUsage('invite', ['BYE'], d));
  t.is(route(router, request('UPDATE', 2, { toTag: 'local' }))[0]?.status, 405);
  t.is(route(router, request('FROBNICATE', 3, { toTag: 'local' }))[0]?.status, 501);
});

test('unknown-dialog handler: an in-dialog NOTIFY nobody owns goes there instead of 481', (t) => {
  const { router } = newRouter();
  const seen: string[] = [];
  router.onUnknownDialog('NOTIFY', (req, tx) => (seen.push(req.method), tx.respond(buildResponse(req, 200))));
  t.is(route(router, request('NOTIFY', 1, { toTag: 'x', headers: ['Event: presence'] }))[0]?.status, 200);
  t.is(route(router, request('SUBSCRIBE', 1, { toTag: 'x', headers: ['Event: presence'] }))[0]?.status, 481);
  t.deepEqual(seen, ['NOTIFY']);
});

test('Require with an option tag nobody supports: 420 Bad Extension with Unsupported, before any usage sees it (RFC 3261 §8.2.2.3)', (t) => {
  const { router, capabilities } = newRouter();
  const got: SipRequest[] = [];
  router.module('calls', { methods: ['INVITE', 'BYE'], optionTags: ['replaces'] }, { INVITE: (req, tx) => (got.push(req), tx.respond(buildResponse(req, 200))) });
  capabilities.register('timers', { optionTags: ['timer'] });
  const { tx, answers } = fakeTx();
  router.route(request('INVITE', 1, { headers: ['Require: foo, Timer', 'Require: bar, foo'] }), tx, FROM);
  t.is(answers[0]?.status, 420);
  t.deepEqual(answers[0]?.headers.getAll('Unsupported'), ['foo, bar']);
  t.truthy(tagOf(answers[0]?.headers.get('To')), 'the 420 carries a To tag');
  t.is(got.length, 0);
  // every tag supported (any case): the usage gets it
  const ok = fakeTx();
  router.route(request('INVITE', 2, { headers: ['Require: REPLACES, timer'] }), ok.tx, FROM);
  t.is(ok.answers[0]?.status, 200);
  t.is(got.length, 1);
  // in a dialog too, and never for CANCEL
  const bye = fakeTx();
  router.route(request('BYE', 3, { toTag: 'local', headers: ['Require: foo'] }), bye.tx, FROM);
  t.is(bye.answers[0]?.status, 420);
  const cancel = fakeTx();
  router.route(request('CANCEL', 1, { headers: ['Require: foo'] }), cancel.tx, FROM);
  t.not(cancel.answers[0]?.status, 420);
});

test('a dialog with an empty remote tag (a 2xx without To tag) takes its peer\'s requests with or without a From tag; other dialogs still 481', (t) => {
  const { router } = newRouter();
  const d = new Dialog('call-1', 'local', '', '<sip:bob@127.0.0.1:5060>', '<sip:alice@127.0.0.1:5099>', 0, -1, 'sip:alice@127.0.0.1:5099', [], 'sip:bob@127.0.0.1:5060');
  const u = fakeUsage('invite', ['INVITE', 'BYE'], d);
  router.attach(d.id, u);
  t.is(route(router, request('INVITE', 1, { toTag: 'local', fromTag: '' }))[0]?.status, 200);
  t.is(route(router, request('BYE', 2, { toTag: 'local', fromTag: 'late' }))[0]?.status, 200);
  t.is(u.got.length, 2);
  t.is(route(router, request('BYE', 3, { toTag: 'other', fromTag: 'late' }))[0]?.status, 481);
  t.is(route(router, request('BYE', 3, { toTag: 'local', fromTag: 'late', callId: 'call-2' }))[0]?.status, 481);
});

test('owned usages: one shared kind serves every owner; without ownsEvent or alive a usage owns no event and lives while attached', (t) => {
  const { router, capabilities } = newRouter();
  capabilities.register('x', { eventPackages: ['refer'] });
  type Owner = { dialog: Dialog; got: string[]; ended: boolean };
  const plain: DialogUsageKind<Owner> = {
    name: 'invite',
    methods: ['BYE', 'NOTIFY'],
    dialog: (o) => o.dialog,
    handle: (o, req, tx) => {
      o.got.push(req.method);
      tx.respond(buildResponse(req, 200));
    },
  };
  const refer: DialogUsageKind<Owner> = { ...plain, name: 'refer', methods: ['NOTIFY'], ownsEvent: (_o, e) => e.package === 'refer', alive: (o) => !o.ended };
  const d2 = new Dialog('call-2', 'local2', 'remote', '<sip:bob@127.0.0.1>', '<sip:alice@127.0.0.1>', 0, 1, 'sip:alice@127.0.0.1:5099', [], 'sip:bob@127.0.0.1');
  const one: Owner = { dialog: uasDialog(), got: [], ended: false };
  const two: Owner = { dialog: d2, got: [], ended: false };
  const usages = [one, two].map((o) => [new OwnedDialogUsage(plain, o), new OwnedDialogUsage(refer, o)] as const);
  for (const [i, o] of [one, two].entries()) for (const u of usages[i]!) router.attach(o.dialog.id, u);
  t.is(usages[0]![0].name, 'invite');
  t.deepEqual(usages[1]![1].methods, ['NOTIFY']);
  t.is(usages[0]![0].owner, one);
  t.false(usages[0]![0].ownsEvent({ package: 'refer' }), 'a kind without ownsEvent owns none');
  t.true(usages[0]![0].alive(), 'a kind without alive lives while attached');
  t.is(route(router, request('BYE', 2, { toTag: 'local2', callId: 'call-2' }))[0]?.status, 200);
  t.is(route(router, request('NOTIFY', 3, { toTag: 'local2', callId: 'call-2', headers: ['Event: refer', 'Subscription-State: active'] }))[0]?.status, 200);
  t.deepEqual(two.got, ['BYE', 'NOTIFY']);
  t.deepEqual(one.got, []);
  two.ended = true;
  t.is(route(router, request('NOTIFY', 4, { toTag: 'local2', callId: 'call-2', headers: ['Event: refer'] }))[0]?.status, 489, 'the ended refer usage owns nothing now');
  t.is(router.usagesOf(one.dialog.id).length, 2);
});

test('capability header values follow the table: a usage registered or removed later changes them', (t) => {
  const { capabilities } = newRouter();
  capabilities.register('calls', { methods: ['INVITE', 'BYE'] });
  t.is(capabilities.value('Allow'), 'INVITE, BYE');
  t.is(capabilities.value('Allow'), 'INVITE, BYE');
  capabilities.register('messaging', { methods: ['MESSAGE'] });
  t.is(capabilities.value('Allow'), 'INVITE, BYE, MESSAGE');
  capabilities.unregister('calls');
  t.is(capabilities.value('Allow'), 'MESSAGE');
  t.is(capabilities.value('Supported'), '');
});

test('the sequence guard: the last CSeq again with the same method is a stale copy (500); a usage may name the dialog by request (early forks)', (t) => {
  const { router } = newRouter();
  const d = uasDialog();
  const invite = fakeUsage('invite', ['UPDATE', 'BYE'], d);
  router.attach(d.id, invite);
  t.is(route(router, request('UPDATE', 7, { toTag: 'local' }))[0]?.status, 200);
  t.is(route(router, request('UPDATE', 7, { toTag: 'local' }))[0]?.status, 500, 'same number, same method');
  t.is(route(router, request('UPDATE', 6, { toTag: 'local' }))[0]?.status, 500, 'lower');
  t.is(invite.got.length, 1);
  // a usage shared by several early dialogs picks the one the request belongs to
  const other = uasDialog();
  other.remoteSeq = 100;
  const seen: Array<string | undefined> = [];
  const shared = { ...fakeUsage('invite', ['UPDATE'], undefined), dialog: (req?: SipRequest) => (seen.push(req?.method), other) };
  router.detach(d.id, invite);
  router.attach(d.id, shared);
  t.is(route(router, request('UPDATE', 8, { toTag: 'local' }))[0]?.status, 500, 'checked against the dialog the usage named for this request');
  t.deepEqual(seen, ['UPDATE']);
});
