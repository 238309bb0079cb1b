/**
 * lines/reliableProvisional.ts on a VirtualClock (RFC 3262): the policy's verdict on an INVITE;
 * the callee's sender (Require/RSeq stamped, retransmissions at T1, 2T1, 4T1 ... until the PRACK,
 * give-up after 64*T1, one reliable 18x at a time, a 2xx held while an 18x with SDP is
 * unacknowledged, a PRACK crossing the final answer still acknowledged); the caller's receiver
 * (new, repeated and out-of-order RSeq per early dialog, the RAck value).
 */
import test from 'ava';
import { VirtualClock } from '../sip/clock.js';
import { SipHeaders, type SipRequest, type SipResponse } from '../sip/message.js';
import { parseRAck, ReliableProvisionalReceiver, ReliableProvisionalSender, uasDecision } from '../lines/reliableProvisional.js';

function invite(headers: Array<[string, string]>): SipRequest {
  const h = new SipHeaders();
  for (const [n, v] of headers) h.append(n, v);
  return { type: 'request', method: 'INVITE', uri: 'sip:a@127.0.0.1', version: 'SIP/2.0', headers: h, body: Buffer.alloc(0) };
}

function response(status: number, headers: Array<[string, string]> = []): SipResponse {
  const h = new SipHeaders();
  for (const [n, v] of headers) h.append(n, v);
  return { type: 'response', status, reason: 'x', version: 'SIP/2.0', headers: h, body: Buffer.alloc(0) };
}

function sender(clock: VirtualClock, cseq = 7): { s: ReliableProvisionalSender; sent: SipResponse[]; gaveUp: () => number } {
  const sent: SipResponse[] = [];
  let gave = 0;
  const s = new ReliableProvisionalSender({ clock: () => clock, t1Ms: () => 500, send: (r) => sent.push(r), gaveUp: () => gave++ }, cseq, () => 0);
  return { s, sent, gaveUp: () => gave };
}

test('policy: reliable when the caller names 100rel (Supported or Require); required refuses a caller without it; off never', (t) => {
  const sup = invite([['Supported', 'timer, 100rel']]);
  const req = invite([['Require', '100rel']]);
  const none = invite([['Supported', 'replaces']]);
  t.is(uasDecision('supported', sup), 'reliable');
  t.is(uasDecision('supported', req), 'reliable');
  t.is(uasDecision('supported', none), 'unreliable');
  t.is(uasDecision('required', none), 'refuse');
  t.is(uasDecision('required', sup), 'reliable');
  t.is(uasDecision('off', sup), 'unreliable');
  t.deepEqual(parseRAck('5 7 INVITE'), { rseq: 5, cseq: 7, method: 'INVITE' });
  t.is(parseRAck('5 INVITE'), undefined);
});

test('sender: Require and RSeq stamped; retransmitted at T1 doubling until the PRACK; a wrong RAck is unknown', (t) => {
  const clock = new VirtualClock();
  const { s, sent } = sender(clock);
  s.send(response(180), false);
  t.is(sent.length, 1);
  t.is(sent[0]!.headers.get('Require'), '100rel');
  t.is(sent[0]!.headers.get('RSeq'), '1');
  clock.advance(499);
  t.is(sent.length, 1);
  clock.advance(1);
  t.is(sent.length, 2, 'first retransmission at T1');
  clock.advance(1000);
  t.is(sent.length, 3, 'then 2*T1 later');
  clock.advance(2000);
  t.is(sent.length, 4, 'then 4*T1 later');
  t.is(s.onPrack('1 8 INVITE'), 'unknown', 'RAck names another INVITE');
  t.is(s.onPrack('2 7 INVITE'), 'unknown', 'RAck names no 18x of ours');
  t.is(s.onPrack('1 7 INVITE'), 'acknowledged');
  t.is(s.onPrack('1 7 INVITE'), 'repeat', 'the same PRACK again (for a retransmission) is answered too');
  clock.advance(60_000);
  t.is(sent.length, 4, 'no retransmission after the PRACK');
  t.is(clock.pending, 0);
});

test('sender: no PRACK within 64*T1 gives up once', (t) => {
  const clock = new VirtualClock();
  const { s, sent, gaveUp } = sender(clock);
  s.send(response(183), true);
  clock.advance(64 * 500 - 1);
  t.is(gaveUp(), 0);
  clock.advance(1);
  t.is(gaveUp(), 1);
  t.is(sent.length, 7, 'sent at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s');
  t.false(s.awaitingPrack);
  clock.advance(100_000);
  t.is(gaveUp(), 1);
});

test('sender: one reliable 18x at a time; a 2xx waits while an unacknowledged one carries SDP', (t) => {
  const clock = new VirtualClock();
  const { s, sent } = sender(clock);
  s.send(response(180), false);
  s.send(response(183), true);
  t.is(sent.length, 1, 'the 183 waits for the 180 to be PRACKed');
  t.true(s.holds2xx, 'a queued 18x with SDP holds the 2xx');
  let released = 0;
  s.whenClear(() => released++);
  t.is(s.onPrack('1 7 INVITE'), 'acknowledged');
  t.is(sent.length, 2);
  t.is(sent[1]!.status, 183);
  t.is(sent[1]!.headers.get('RSeq'), '2');
  s.releaseHeld();
  t.is(released, 0, 'the 183 with SDP is not acknowledged yet');
  t.is(s.onPrack('2 7 INVITE'), 'acknowledged');
  s.releaseHeld();
  t.is(released, 1);
  s.whenClear(() => released++);
  t.is(released, 2, 'nothing held: at once');
});

test('sender: a PRACK crossing the final answer is still acknowledged', (t) => {
  const clock = new VirtualClock();
  const { s, sent } = sender(clock);
  s.send(response(180), false);
  s.finalSent();
  clock.advance(10_000);
  t.is(sent.length, 1, 'no retransmission after the final answer');
  t.is(s.onPrack('1 7 INVITE'), 'repeat');
});

test('receiver: new, repeated and out-of-order RSeq per early dialog; unreliable without Require or RSeq', (t) => {
  const r = new ReliableProvisionalReceiver();
  const rel = (status: number, rseq: string, tag = 'a'): SipResponse =>
    response(status, [['To', `<sip:b@h>;tag=${tag}`], ['CSeq', '3 INVITE'], ['Require', '100rel'], ['RSeq', rseq]]);
  t.deepEqual(r.classify(response(180, [['To', '<sip:b@h>;tag=a'], ['RSeq', '4']])), { kind: 'unreliable' });
  t.deepEqual(r.classify(response(180, [['To', '<sip:b@h>;tag=a'], ['Require', '100rel']])), { kind: 'unreliable' });
  t.deepEqual(r.classify(rel(183, '10')), { kind: 'new', rack: '10 3 INVITE' });
  t.deepEqual(r.classify(rel(183, '10')), { kind: 'repeat', rack: '10 3 INVITE' });
  t.deepEqual(r.classify(rel(180, '12')), { kind: 'out-of-order' });
  t.deepEqual(r.classify(rel(180, '9')), { kind: 'out-of-order' });
  t.deepEqual(r.classify(rel(180, '11')), { kind: 'new', rack: '11 3 INVITE' });
  t.deepEqual(r.classify(rel(180, '500', 'other')), { kind: 'new', rack: '500 3 INVITE' }, 'another early dialog counts on its own');
});
