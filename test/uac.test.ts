/**
 * The one client path (sip/uac.ts) with a fake transaction layer on a VirtualClock: 401 answered
 * once, 407 with proxy credentials, a stale nonce answered again, a repeated challenge final,
 * the round limit, time-out, the outbound proxy's Route and the route set's next hop. And the
 * capability registry that builds Allow, Supported, Accept and Allow-Events.
 */
import test from 'ava';
import { VirtualClock } from '../sip/clock.js';
import { createChallenge, formatDigestHeader } from '../sip/digest.js';
import { SipHeaders, type SipRequest, type SipResponse } from '../sip/message.js';
import { buildResponse } from '../sip/util.js';
import type { Endpoint } from '../sip/transport.js';
import { Dialog } from '../sip/dialog.js';
import { looseRoute, MAX_AUTH_ROUNDS, sendUacRequest, type OutboundProxy, type UacOutcome, type UacServices } from '../sip/uac.js';
import { CapabilityRegistry, KNOWN_METHODS } from '../sip/capabilities.js';
import { fakeUac, type SentRequest } from './helpers/fakeSip.js';

/** The shared fake transaction layer (test/helpers/fakeSip.ts) with alice's credentials. */
function fakeServices(clock: VirtualClock, outbound?: OutboundProxy): { services: UacServices; sent: SentRequest[] } {
  const { services, sent } = fakeUac(clock, {
    credentials: [['alice', 'secret', 'example.com']],
    ...(outbound ? { outbound } : {}),
    resolve: (host) => (host === 'pbx.example.com' ? '127.0.0.7' : undefined),
  });
  return { services, sent };
}

function request(method: string, cseq: number): SipRequest {
  const h = new SipHeaders();
  h.append('From', '<sip:alice@example.com>;tag=a1');
  h.append('To', '<sip:bob@example.com>');
  h.append('Call-ID', 'call-1');
  h.append('CSeq', `${cseq} ${method}`);
  h.append('Via', 'SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK' + cseq);
  return { type: 'request', method, uri: 'sip:bob@example.com', version: 'SIP/2.0', headers: h, body: Buffer.alloc(0) };
}

function challenge(req: SipRequest, status: 401 | 407, nonce?: string, stale = false): SipResponse {
  const res = buildResponse(req, status, undefined, { toTag: 'b1' });
  const c = createChallenge('example.com', { stale });
  if (nonce) c.params['nonce'] = nonce;
  res.headers.append(status === 407 ? 'Proxy-Authenticate' : 'WWW-Authenticate', formatDigestHeader(c, true));
  return res;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const DEST: Endpoint = { protocol: 'UDP', host: '127.0.0.2', port: 5060 };

function run(services: UacServices, method = 'BYE', destination: Endpoint | undefined = DEST): { outcomes: UacOutcome[] } {
  let cseq = 0;
  const outcomes: UacOutcome[] = [];
  sendUacRequest(services, { build: () => request(method, ++cseq), destination, authUser: 'alice' }, (o) => outcomes.push(o));
  return { outcomes };
}

test('a 401 is answered once with a new CSeq and the credentials; the 200 is the outcome', async (t) => {
  const clock = new VirtualClock();
  const { services, sent } = fakeServices(clock);
  const { outcomes } = run(services);
  await tick();
  t.is(sent.length, 1);
  sent[0]!.user.onFinal(challenge(sent[0]!.req, 401));
  await tick();
  t.is(sent.length, 2);
  const retry = sent[1]!.req;
  t.is(retry.headers.get('CSeq'), '2 BYE');
  t.is(retry.headers.get('Call-ID'), 'call-1');
  t.regex(retry.headers.get('Authorization') ?? '', /^Digest .*username="alice"/);
  sent[1]!.user.onFinal(buildResponse(retry, 200, undefined, { toTag: 'b1' }));
  t.is(outcomes.length, 1);
  const o = outcomes[0]!;
  t.is(o.kind, 'final');
  if (o.kind === 'final') {
    t.is(o.res.status, 200);
    t.is(o.req, retry);
    t.is(o.authFailure, undefined);
  }
});

test('a 407 is answered with Proxy-Authorization', async (t) => {
  const clock = new VirtualClock();
  const { services, sent } = fakeServices(clock);
  const { outcomes } = run(services, 'REFER');
  await tick();
  sent[0]!.user.onFinal(challenge(sent[0]!.req, 407));
  await tick();
  t.true(sent[1]!.req.headers.has('Proxy-Authorization'));
  t.false(sent[1]!.req.headers.has('Authorization'));
  sent[1]!.user.onFinal(buildResponse(sent[1]!.req, 202, undefined, { toTag: 'b1' }));
  t.is(outcomes[0]!.kind, 'final');
});

test('the same nonce again without stale is final; with stale=true it is answered again', async (t) => {
  const clock = new VirtualClock();
  {
    const { services, sent } = fakeServices(clock);
    const { outcomes } = run(services, 'NOTIFY');
    await tick();
    sent[0]!.user.onFinal(challenge(sent[0]!.req, 401, 'n-1'));
    await tick();
    sent[1]!.user.onFinal(challenge(sent[1]!.req, 401, 'n-1'));
    await tick();
    t.is(sent.length, 2, 'no third request');
    const o = outcomes[0]!;
    t.true(o.kind === 'final' && o.authFailure === 'rejected' && o.res.status === 401);
  }
  {
    const { services, sent } = fakeServices(clock);
    const { outcomes } = run(services, 'NOTIFY');
    await tick();
    sent[0]!.user.onFinal(challenge(sent[0]!.req, 401, 'n-2'));
    await tick();
    sent[1]!.user.onFinal(challenge(sent[1]!.req, 401, 'n-2', true));
    await tick();
    t.is(sent.length, 3, 'a stale nonce is answered again');
    sent[2]!.user.onFinal(buildResponse(sent[2]!.req, 200, undefined, { toTag: 'b1' }));
    t.true(outcomes[0]!.kind === 'final' && outcomes[0]!.authFailure === undefined);
  }
});

test('no credentials for the realm is final; fresh nonces stop at the one round limit', async (t) => {
  const clock = new VirtualClock();
  const { services, sent } = fakeServices(clock);
  let cseq = 0;
  const outcomes: UacOutcome[] = [];
  sendUacRequest(services, { build: () => request('MESSAGE', ++cseq), destination: DEST, authUser: 'nobody' }, (o) => outcomes.push(o));
  await tick();
  const res = challenge(sent[0]!.req, 401);
  res.headers.set('WWW-Authenticate', formatDigestHeader(createChallenge('elsewhere.org'), true));
  sent[0]!.user.onFinal(res);
  await tick();
  t.is(sent.length, 1);
  t.true(outcomes[0]!.kind === 'final' && outcomes[0]!.authFailure === 'no-credentials');

  const second = fakeServices(clock);
  const r2 = run(second.services);
  for (let i = 0; i <= MAX_AUTH_ROUNDS; i++) {
    await tick();
    second.sent[i]!.user.onFinal(challenge(second.sent[i]!.req, 401));
  }
  await tick();
  t.is(second.sent.length, MAX_AUTH_ROUNDS + 1);
  t.true(r2.outcomes[0]!.kind === 'final' && r2.outcomes[0]!.authFailure === 'rejected');
});

test('no final answer: a timeout outcome on the virtual clock', async (t) => {
  const clock = new VirtualClock();
  const { services } = fakeServices(clock);
  const { outcomes } = run(services);
  await tick();
  clock.advance(31_999);
  t.is(outcomes.length, 0);
  clock.advance(1);
  t.is(outcomes[0]!.kind, 'timeout');
});

test('out of dialog: the outbound proxy gets the request and its Route; in dialog: the route set decides', async (t) => {
  const clock = new VirtualClock();
  const outbound: OutboundProxy = { endpoint: { protocol: 'UDP', host: '127.0.0.9', port: 5070 }, route: looseRoute('proxy.example.com', 5070) };
  const { services, sent } = fakeServices(clock, outbound);
  run(services, 'MESSAGE');
  await tick();
  t.deepEqual(sent[0]!.dest, outbound.endpoint);
  t.deepEqual(sent[0]!.req.headers.getAll('Route'), ['<sip:proxy.example.com:5070;lr>']);

  // In a dialog the route set (Record-Route of the far end) names the next hop; no outbound Route.
  const d = new Dialog('c', 'a', 'b', '<sip:a@x>', '<sip:b@y>', 1, -1, 'sip:bob@127.0.0.3:5080', ['<sip:pbx.example.com:5062;lr>'], 'sip:a@127.0.0.1');
  sendUacRequest(services, { build: () => d.createRequest('BYE'), authUser: 'alice' }, () => undefined);
  await tick();
  await tick();
  t.deepEqual(sent[1]!.dest, { protocol: 'UDP', host: '127.0.0.7', port: 5062 });
  t.deepEqual(sent[1]!.req.headers.getAll('Route'), ['<sip:pbx.example.com:5062;lr>']);
  t.is(looseRoute('::1', 5060), '<sip:[::1]:5060;lr>');
});

test('capability registry: one table builds Allow, Supported, Accept and Allow-Events; no UPDATE unless registered', (t) => {
  const reg = new CapabilityRegistry()
    .register('calls', { methods: ['INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'info'], accept: ['application/sdp'] })
    .register('transfer', { methods: ['REFER', 'NOTIFY'], optionTags: ['replaces'], eventPackages: ['refer'] })
    .register('subscriptions', { methods: ['SUBSCRIBE', 'NOTIFY'], eventPackages: ['Presence'], accept: ['application/pidf+xml'] });
  t.is(reg.value('Allow'), 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, SUBSCRIBE');
  t.is(reg.value('Supported'), 'replaces');
  t.is(reg.value('Accept'), 'application/sdp, application/pidf+xml');
  t.is(reg.value('Allow-Events'), 'refer, presence');
  t.false(reg.implements('UPDATE'));
  t.true(KNOWN_METHODS.has('UPDATE'));
  const h = new SipHeaders();
  reg.unregister('transfer');
  reg.addHeaders(h, ['Allow', 'Supported']);
  t.deepEqual(h.getAll('Allow'), ['INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, SUBSCRIBE, NOTIFY']);
  t.false(h.has('Supported'), 'an empty capability header is left out');
});
