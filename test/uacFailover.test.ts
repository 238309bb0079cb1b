/**
 * RFC 3263 §4.3 failover in the one client path (sip/uac.ts), on the fake transaction layer
 * and a VirtualClock: a transport error, timer F or a 503 moves the request to the next target
 * with a new CSeq; a challenge retry stays on its target; the last target's answer is the
 * outcome; an abandoned request does not move on; a DNS rejection is the outcome's error.
 */
import test from 'ava';
import { VirtualClock } from '../sip/clock.js';
import { SipHeaders, type SipRequest } from '../sip/message.js';
import { buildResponse } from '../sip/util.js';
import type { Endpoint } from '../sip/transport.js';
import { sendUacRequest, type UacDestination, type UacOutcome } from '../sip/uac.js';
import { DnsLocateError } from '../sip/dnsLocator.js';
import { fakeUac, TIMER_F_MS } from './helpers/fakeSip.js';

const A: Endpoint = { protocol: 'TCP', host: '127.0.0.1', port: 5070 };
const B: Endpoint = { protocol: 'UDP', host: '127.0.0.2', port: 5071 };
const C: Endpoint = { protocol: 'UDP', host: '127.0.0.3', port: 5072 };
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function setup(destination: UacDestination, abandoned?: () => boolean): { clock: VirtualClock; sent: ReturnType<typeof fakeUac>['sent']; outcomes: UacOutcome[] } {
  const clock = new VirtualClock();
  const { services, sent } = fakeUac(clock, {});
  const outcomes: UacOutcome[] = [];
  let cseq = 0;
  const build = (): SipRequest => {
    const h = new SipHeaders();
    h.append('From', '<sip:alice@test.example>;tag=a1');
    h.append('To', '<sip:alice@test.example>');
    h.append('Call-ID', 'reg-1');
    h.append('CSeq', `${++cseq} REGISTER`);
    h.append('Via', 'SIP/2.0/UDP 0.0.0.0;branch=z9hG4bK');
    return { type: 'request', method: 'REGISTER', uri: 'sip:test.example', version: 'SIP/2.0', headers: h, body: Buffer.alloc(0) };
  };
  sendUacRequest(services, { build, destination, authUser: 'alice', ...(abandoned ? { abandoned } : {}) }, (o) => outcomes.push(o));
  return { clock, sent, outcomes };
}

test('transport error, then timer F, then a 200: three targets in order, each a new CSeq', async (t) => {
  const { clock, sent, outcomes } = setup(() => Promise.resolve([A, B, C]));
  await tick();
  t.deepEqual(sent.map((s) => s.dest), [A]);
  sent[0]!.user.onTransportError(new Error('connect ECONNREFUSED'));
  await tick();
  t.deepEqual(sent.map((s) => s.dest), [A, B]);
  clock.advance(TIMER_F_MS);
  await tick();
  t.deepEqual(sent.map((s) => s.dest), [A, B, C]);
  t.deepEqual(sent.map((s) => s.req.headers.get('CSeq')), ['1 REGISTER', '2 REGISTER', '3 REGISTER']);
  t.is(outcomes.length, 0);
  sent[2]!.user.onFinal(buildResponse(sent[2]!.req, 200, undefined, { toTag: 'r' }));
  t.is(outcomes.length, 1);
  t.like(outcomes[0], { kind: 'final', res: { status: 200 } });
});

test('a 503 moves on; the last target\'s 503 is the outcome; other errors do not move on', async (t) => {
  const { sent, outcomes } = setup([A, B]);
  await tick();
  sent[0]!.user.onFinal(buildResponse(sent[0]!.req, 503, undefined, { toTag: 'r' }));
  await tick();
  t.deepEqual(sent.map((s) => s.dest), [A, B]);
  sent[1]!.user.onFinal(buildResponse(sent[1]!.req, 503, undefined, { toTag: 'r' }));
  await tick();
  t.is(sent.length, 2);
  t.like(outcomes[0], { kind: 'final', res: { status: 503 } });

  const other = setup([A, B]);
  await tick();
  other.sent[0]!.user.onFinal(buildResponse(other.sent[0]!.req, 404, undefined, { toTag: 'r' }));
  await tick();
  t.is(other.sent.length, 1, 'a 404 is an answer, not an unavailable server');
  t.like(other.outcomes[0], { kind: 'final', res: { status: 404 } });
});

test('the last target timing out is a timeout outcome; an abandoned request does not move on', async (t) => {
  const { clock, sent, outcomes } = setup([A, B]);
  await tick();
  clock.advance(TIMER_F_MS);
  await tick();
  clock.advance(TIMER_F_MS);
  await tick();
  t.is(sent.length, 2);
  t.like(outcomes[0], { kind: 'timeout' });

  let gaveUp = false;
  const quit = setup([A, B], () => gaveUp);
  await tick();
  gaveUp = true;
  quit.sent[0]!.user.onTransportError(new Error('reset'));
  await tick();
  t.is(quit.sent.length, 1);
  t.like(quit.outcomes[0], { kind: 'transport' });
});

test('a destination that rejects (DNS found nothing) is a transport outcome carrying the reason', async (t) => {
  const { sent, outcomes } = setup(() => Promise.reject(new DnsLocateError('nothing.test.example')));
  await tick();
  t.is(sent.length, 0);
  t.is(outcomes[0]?.kind, 'transport');
  const o = outcomes[0];
  t.is(o?.kind === 'transport' ? o.error?.message : undefined, 'DNS: no records for nothing.test.example');
});
