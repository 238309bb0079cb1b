/**
 * The subscription core's implicit subscriptions (sip/subscription.ts), made by a REFER in an
 * existing dialog rather than by a SUBSCRIBE: the subscriber side (ImplicitSubscriber,
 * ImplicitSubscriptions: states, Subscription-State, expiry with the 32 s margin, the id = the
 * REFER's CSeq also after a 401 retry, 481 for NOTIFYs naming no subscription) and the notifier
 * side (NotifierSession with `implicit`: NOTIFYs one at a time, the final one terminated, none
 * after a 481). A real Dialog and the real client path over the fake transaction layer, on a
 * VirtualClock; no sockets.
 */
import test from 'ava';
import { VirtualClock } from '../sip/clock.js';
import { Dialog } from '../sip/dialog.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import {
  ImplicitSubscriptions,
  NotifierSession,
  TRANSACTION_MARGIN_S,
  parseEventHeader,
  parseSubscriptionState,
  type SubscriberEvents,
  type SubscriberTermination,
  type SubscriptionChannel,
} from '../sip/subscription.js';
import { sendUacRequest } from '../sip/uac.js';
import { buildResponse } from '../sip/util.js';
import { fakeServerTx, fakeUac, parseRequest, settle, TIMER_F_MS, type FakeUac } from './helpers/fakeSip.js';

const US = '127.0.0.1';

interface Rig {
  clock: VirtualClock;
  uac: FakeUac;
  dialog: Dialog;
  channel: SubscriptionChannel;
  /** A NOTIFY from the far end in the dialog; returns the answers given. */
  notify(event: string | undefined, state: string | undefined, body?: string): SipResponse[];
}

function rig(): Rig {
  const clock = new VirtualClock();
  const uac = fakeUac(clock, { credentials: [['100', 'secret', 'example.com']] });
  const dialog = new Dialog('call-1', 'our-tag', 'far-tag', `<sip:100@${US}:5060>`, `<sip:alice@${US}:5099>`, 1, 1, `sip:alice@${US}:5099`, [], `sip:100@${US}:5060`);
  const channel: SubscriptionChannel = {
    clock,
    createResponse: (req, status, reason, options) => buildResponse(req, status, reason, options),
    send: (method, options, done, onSend) => {
      sendUacRequest(uac.services, { build: () => dialog.createRequest(method, options), authUser: '100', onSend }, done);
      return true;
    },
  };
  let cseq = 10;
  const notify = (event: string | undefined, state: string | undefined, body = ''): SipResponse[] => {
    cseq++;
    const headers = [
      `Via: SIP/2.0/UDP ${US}:5099;branch=z9hG4bK-n${cseq}`,
      'Max-Forwards: 70',
      `From: <sip:alice@${US}:5099>;tag=far-tag`,
      `To: <sip:100@${US}:5060>;tag=our-tag`,
      'Call-ID: call-1',
      `CSeq: ${cseq} NOTIFY`,
    ];
    if (event !== undefined) headers.push(`Event: ${event}`);
    if (state !== undefined) headers.push(`Subscription-State: ${state}`);
    if (body) headers.push('Content-Type: message/sipfrag;version=2.0');
    const { tx, answers } = fakeServerTx();
    subsOf.get(dialog)?.handleNotify(parseRequest(`NOTIFY sip:100@${US}:5060 SIP/2.0`, headers, body), tx);
    return answers;
  };
  return { clock, uac, dialog, channel, notify };
}

const subsOf = new WeakMap<Dialog, ImplicitSubscriptions>();

/** The refer subscriptions of the rig's dialog, with a log of the callbacks. */
function referSubs(r: Rig): { subs: ImplicitSubscriptions; log: string[]; ended: SubscriberTermination[]; events: SubscriberEvents } {
  const subs = new ImplicitSubscriptions(r.channel, { package: 'refer', defaultExpires: 60 });
  subsOf.set(r.dialog, subs);
  const log: string[] = [];
  const ended: SubscriberTermination[] = [];
  const events: SubscriberEvents = {
    onAccepted: (expires) => void log.push(`accepted ${expires}`),
    onNotify: (req, state) => {
      log.push(`notify ${state.state}`);
      return req.body.toString('latin1').startsWith('SIP/2.0') || !req.body.length ? 200 : 400;
    },
    onTerminated: (info) => void ended.push(info),
    onAuthFailure: (res) => void log.push(`auth ${res.status}`),
  };
  return { subs, log, ended, events };
}

/** The REFER (CSeq 7) the far end sent in the dialog: it made the subscription the notifier serves. */
function referFromFarEnd(): SipRequest {
  return parseRequest(`REFER sip:100@${US}:5060 SIP/2.0`, [
    `Via: SIP/2.0/UDP ${US}:5099;branch=z9hG4bK-r7`,
    'Max-Forwards: 70',
    `From: <sip:alice@${US}:5099>;tag=far-tag`,
    `To: <sip:100@${US}:5060>;tag=our-tag`,
    'Call-ID: call-1',
    'CSeq: 7 REFER',
    `Refer-To: <sip:carol@${US}>`,
  ]);
}

const cseqOf = (req: SipRequest): number => Number.parseInt(req.headers.get('CSeq') ?? '', 10);

test('implicit subscriber: a REFER creates it (trying → pending by the 202 → active by a NOTIFY → terminated by the final one), id = the REFER CSeq', async (t) => {
  const r = rig();
  const { subs, log, ended, events } = referSubs(r);
  const sub = subs.create('REFER', { headers: [['Refer-To', `<sip:carol@${US}>`]] }, events);
  t.truthy(sub);
  if (!sub) return;
  t.is(sub.state, 'trying');
  await settle();
  const refer = r.uac.last('REFER');
  t.is(sub.id, String(cseqOf(refer.req)), 'named by the CSeq it was sent with');
  refer.reply(202);
  t.is(sub.state, 'pending');
  t.deepEqual(log, ['accepted 60']);
  t.is(r.notify(`refer;id=${sub.id}`, 'active;expires=30', 'SIP/2.0 100 Trying\r\n')[0]?.status, 200);
  t.is(sub.state, 'active');
  t.is(sub.grantedExpires, 30);
  t.is(r.notify(`Refer;ID="${sub.id}"`, 'Terminated;reason=noresource', 'SIP/2.0 200 OK\r\n')[0]?.status, 200, 'quoted id, any case');
  t.true(sub.terminated);
  t.deepEqual(ended, [{ cause: 'notified', reason: 'noresource', retryAfter: undefined, initial: false }]);
  t.is(r.clock.pending, 0, 'no timer left');
  t.is(r.notify(`refer;id=${sub.id}`, 'active', 'SIP/2.0 100 Trying\r\n')[0]?.status, 481, 'over: 481');
});

test('implicit subscriber: NOTIFYs naming no subscription get 481; no id names the single one; bad ones change nothing', async (t) => {
  const r = rig();
  const { subs, log, events } = referSubs(r);
  const a = subs.create('REFER', {}, events)!;
  await settle();
  r.uac.last('REFER').reply(202);
  t.is(r.notify('refer;id=999', 'active')[0]?.status, 481, 'unknown id');
  t.is(r.notify('refer', 'active')[0]?.status, 200, 'no id: the only REFER of the dialog');
  const b = subs.create('REFER', {}, events)!;
  await settle();
  r.uac.last('REFER').reply(202);
  t.not(a.id, b.id);
  t.is(r.notify('refer', 'active')[0]?.status, 481, 'no id with two subscriptions names none');
  t.is(r.notify(`refer;id=${b.id}`, undefined)[0]?.status, 400, 'no Subscription-State');
  t.is(r.notify(`refer;id=${b.id}`, 'active', 'garbage')[0]?.status, 400, 'the package refuses the body');
  t.is(b.state, 'pending', 'a refused NOTIFY changes no state');
  t.is(r.notify(`dialog;id=${b.id}`, 'active')[0]?.status, 481, 'another package');
  t.deepEqual(subs.subscriptions(), [a, b]);
  t.is(log.filter((l) => l.startsWith('notify')).length, 2);
});

test('implicit subscriber: a 401 retry renames it by the new CSeq; refusals, no answer and unanswerable challenges end it at once', async (t) => {
  const r = rig();
  const { subs, ended, log, events } = referSubs(r);
  const sub = subs.create('REFER', {}, events)!;
  await settle();
  const first = r.uac.last('REFER');
  first.challenge(401);
  await settle();
  const retry = r.uac.last('REFER');
  t.is(cseqOf(retry.req), cseqOf(first.req) + 1);
  t.is(sub.id, String(cseqOf(retry.req)));
  t.is(r.notify(`refer;id=${cseqOf(first.req)}`, 'active')[0]?.status, 481, "the challenged REFER's CSeq names nothing");
  retry.reply(603);
  t.true(sub.terminated);
  t.like(ended[0], { cause: 'rejected', code: 603, initial: true });

  subs.create('REFER', {}, events);
  await settle();
  r.clock.advance(TIMER_F_MS);
  t.like(ended[1], { cause: 'no-answer', code: 408, reason: 'Request Timeout', initial: true });

  subs.create('REFER', {}, events);
  await settle();
  r.uac.last('REFER').challenge(407, { realm: 'elsewhere.org' });
  await settle();
  t.like(ended[2], { cause: 'auth', code: 407, initial: true });
  t.true(log.includes('auth 407'));
  t.deepEqual(subs.subscriptions(), []);
});

test('implicit subscriber: a NOTIFY may overtake the 202, and a late error answer then keeps the subscription', async (t) => {
  const r = rig();
  const { subs, ended, log, events } = referSubs(r);
  const sub = subs.create('REFER', {}, events)!;
  await settle();
  t.is(r.notify('refer', 'pending;expires=20')[0]?.status, 200);
  t.is(sub.state, 'pending');
  r.uac.last('REFER').reply(500);
  t.false(sub.terminated);
  t.deepEqual(ended, []);
  t.deepEqual(log, ['notify pending']);
});

test('implicit subscriber: silence past the expiry plus the 32 s margin ends it as expired; each NOTIFY re-arms it; dispose is silent', async (t) => {
  const r = rig();
  const { subs, ended, events } = referSubs(r);
  const sub = subs.create('REFER', {}, events)!;
  await settle();
  r.uac.last('REFER').reply(202);
  r.clock.advance(50_000);
  t.is(r.notify(`refer;id=${sub.id}`, 'active;expires=10')[0]?.status, 200);
  r.clock.advance((10 + TRANSACTION_MARGIN_S) * 1000 - 1);
  t.false(sub.terminated);
  r.clock.advance(1);
  t.deepEqual(ended, [{ cause: 'expired', initial: false }]);

  const other = subs.create('REFER', {}, events)!;
  await settle();
  r.uac.last('REFER').reply(202);
  t.is(r.clock.pending, 1, 'its expiry timer');
  other.dispose();
  t.is(r.clock.pending, 0);
  t.is(ended.length, 1, 'no callback');
  t.deepEqual(subs.subscriptions(), []);
});

test('implicit notifier: NOTIFYs in the REFER dialog one at a time, refer;id=CSeq, active;expires=60 each time, the final one terminated', async (t) => {
  const r = rig();
  const refer = referFromFarEnd();
  let ended = '';
  const n = new NotifierSession(r.channel, r.dialog, refer, { package: 'refer', id: '7' }, { localContact: r.dialog.localContact, expires: 60, contentType: 'message/sipfrag;version=2.0', implicit: true });
  n.events = { onTerminated: (reason) => void (ended = reason) };
  t.is(r.clock.pending, 0, 'no expiry timer: it lasts as long as the transfer');
  const first = n.notify({ state: 'active', body: 'SIP/2.0 100 Trying\r\n' });
  void n.notify({ state: 'active', body: 'SIP/2.0 180 Ringing\r\n' });
  const last = n.notify({ state: 'terminated', reason: 'noresource', body: 'SIP/2.0 200 OK\r\n' });
  t.true(n.terminated, 'closing once the final one is queued');
  t.deepEqual(await n.notify({ state: 'active', body: 'SIP/2.0 100 Trying\r\n' }), { error: 'terminated' });
  await settle();
  t.is(r.uac.of('NOTIFY').length, 1, 'one at a time');
  const n1 = r.uac.last('NOTIFY');
  t.deepEqual(parseEventHeader(n1.req.headers.get('Event')), { package: 'refer', id: '7' });
  t.is(n1.req.headers.get('Call-ID'), 'call-1');
  t.is(n1.req.headers.get('Content-Type'), 'message/sipfrag;version=2.0');
  r.clock.advance(30_000);
  n1.reply(200);
  t.deepEqual(await first, { code: 200, reason: 'OK' });
  await settle();
  const n2 = r.uac.last('NOTIFY');
  t.is(n2.req.headers.get('Subscription-State'), 'active;expires=60', 'each NOTIFY grants the period again');
  n2.reply(200);
  await settle();
  const n3 = r.uac.last('NOTIFY');
  t.like(parseSubscriptionState(n3.req.headers.get('Subscription-State')), { state: 'terminated', reason: 'noresource' });
  t.is(n3.req.body.toString(), 'SIP/2.0 200 OK\r\n');
  t.is(ended, 'noresource');
  n3.reply(200);
  t.deepEqual(await last, { code: 200, reason: 'OK' });
});

test('implicit notifier: a 481 stops it; the NOTIFYs queued behind are not sent', async (t) => {
  const r = rig();
  const refer = referFromFarEnd();
  const n = new NotifierSession(r.channel, r.dialog, refer, { package: 'refer', id: '7' }, { localContact: r.dialog.localContact, expires: 60, implicit: true });
  let ended = '';
  n.events = { onTerminated: (reason) => void (ended = reason) };
  void n.notify({ state: 'active', body: 'SIP/2.0 100 Trying\r\n' });
  const second = n.notify({ state: 'active', body: 'SIP/2.0 180 Ringing\r\n' });
  await settle();
  r.uac.last('NOTIFY').reply(481);
  t.deepEqual(await second, { error: 'terminated' });
  t.deepEqual(await n.notify({ state: 'terminated', body: 'SIP/2.0 200 OK\r\n' }), { error: 'terminated' });
  t.is(r.uac.of('NOTIFY').length, 1);
  t.is(ended, 'giveup');
});
