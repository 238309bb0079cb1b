/**
 * UPDATE (lines/callUpdate.ts) on the call rig: a real stack, router and client path on a
 * virtual clock, a far end that scripts its side. Sending with and without an offer, glare in
 * both directions, bodies that hold no offer, and the observer the session timers use.
 */
import test from 'ava';
import { allowLists, updateRetryAfterSeconds, type UpdateOutcome } from '../lines/callUpdate.js';
import { TelephonyReturnValue as T } from '../lines/telephonyCodes.js';
import { callRig } from './helpers/callRig.js';
import { FarEndCall, farEndSdp, flush } from './helpers/fakeSipStack.js';

/** An incoming call answered and ACKed on line 0 of a rig. */
async function confirmedCall() {
  const rig = await callRig();
  const far = new FarEndCall(rig.peer);
  far.start();
  await flush();
  const call = rig.lines[0]!.call!;
  call.answer();
  far.ack();
  await flush();
  return { rig, far, call };
}

test('Retry-After of a 500 for a crossing offer is 0-10 s; Allow lists are read case-insensitively', (t) => {
  t.is(updateRetryAfterSeconds(() => 0), 0);
  t.is(updateRetryAfterSeconds(() => 0.9999), 10);
  t.true(allowLists(['INVITE, ACK, update'], 'UPDATE'));
  t.true(allowLists(['INVITE', 'UPDATE'], 'update'));
  t.false(allowLists(['INVITE, UPDATES'], 'UPDATE'));
  t.false(allowLists([], 'UPDATE'));
});

test('sendUpdate without SDP: an UPDATE with no body in the dialog, the 200 is the outcome', async (t) => {
  const { rig, call } = await confirmedCall();
  const outcome = call.sendUpdate({ withSdp: false, headers: [['Session-Expires', '1800;refresher=uas']] });
  await flush();
  const update = rig.peer.last('UPDATE');
  t.is(update.body.length, 0);
  t.false(update.headers.has('Content-Type'));
  t.is(update.headers.get('Session-Expires'), '1800;refresher=uas');
  t.regex(update.headers.get('CSeq') ?? '', /^\d+ UPDATE$/);
  rig.peer.respond(update, 200, undefined);
  const o = await outcome;
  t.like(o, { kind: 'final', status: 200, applied: undefined });
  t.deepEqual(rig.bugs, []);
});

test('sendUpdate with SDP: an unchanged offer keeps the session version; the answer is applied; a crossing UPDATE or re-INVITE offer gets 491', async (t) => {
  const { rig, far, call } = await confirmedCall();
  const answered = rig.peer.responses(200).find((r) => (r.headers.get('CSeq') ?? '').endsWith('INVITE'))!;
  const version = /o=\S+ \d+ (\d+)/.exec(answered.body.toString())![1];
  const outcome = call.sendUpdate({ withSdp: true });
  await flush();
  const update = rig.peer.last('UPDATE');
  t.is(update.headers.get('Content-Type'), 'application/sdp');
  t.is(/o=\S+ \d+ (\d+)/.exec(update.body.toString())![1], version, 'a refresh offer keeps the version');
  t.regex(update.body.toString(), /a=sendrecv/);
  t.is((await call.sendUpdate({ withSdp: true })).kind, 'not-sent', 'one offer of ours at a time');
  // glare, both ways: the far end's offers meet ours
  const theirs = far.request('UPDATE', { sdp: farEndSdp(30000, 'sendonly', 2) });
  const reinvite = far.request('INVITE', { sdp: farEndSdp(30000, 'sendonly', 2) });
  await flush();
  t.is(far.answersTo(theirs)[0]?.status, 491);
  t.is(far.answersTo(reinvite)[0]?.status, 491);
  const configured = rig.media[0]!.configured.length;
  rig.peer.respond(update, 200, undefined, { sdp: farEndSdp(30000, 'sendrecv', 1) });
  const o: UpdateOutcome = await outcome;
  t.like(o, { kind: 'final', status: 200, applied: true });
  t.is(rig.media[0]!.configured.length, configured + 1, 'the answer was applied');
  t.false(call.farEndHold);
});

test('an UPDATE whose body holds no offer gets 415 with Accept; the observer sees every answer and may add to it', async (t) => {
  const { far, call } = await confirmedCall();
  const seen: number[] = [];
  call.updates.onReceived = (_req, res) => {
    seen.push(res.status);
    res.headers.append('Session-Expires', '90;refresher=uac');
  };
  const text = far.request('UPDATE', { body: 'hello', contentType: 'text/plain' });
  const refresh = far.request('UPDATE');
  const hold = far.request('UPDATE', { sdp: farEndSdp(30000, 'sendonly', 2) });
  await flush();
  const refused = far.answersTo(text)[0]!;
  t.is(refused.status, 415);
  t.truthy(refused.headers.get('Accept')?.includes('application/sdp'));
  const ok = far.answersTo(refresh)[0]!;
  t.is(ok.status, 200);
  t.is(ok.headers.get('Session-Expires'), '90;refresher=uac');
  t.truthy(ok.headers.get('Contact'));
  const held = far.answersTo(hold)[0]!;
  t.is(held.status, 200);
  t.regex(held.body.toString(), /a=recvonly/);
  t.true(call.farEndHold);
  t.deepEqual(seen, [200, 200]);
});

test('an outgoing call has no dialog for an UPDATE before a provisional with a To tag', async (t) => {
  const rig = await callRig();
  const call = await rig.dial();
  await flush();
  t.like(await call.sendUpdate({ withSdp: false }), { kind: 'not-sent', reason: 'no-dialog' });
  const invite = rig.peer.last('INVITE');
  rig.peer.respond(invite, 180, 'fartag');
  await flush();
  const outcome = call.sendUpdate({ withSdp: false });
  await flush();
  const update = rig.peer.last('UPDATE');
  t.true((update.headers.get('To') ?? '').includes('tag=fartag'), 'in the early dialog');
  t.is(update.uri, 'sip:peer@127.0.0.2:5070');
  rig.peer.respond(update, 200, undefined);
  t.like(await outcome, { kind: 'final', status: 200 });
  // our INVITE's offer is unanswered: no offer in an UPDATE yet (RFC 3311 §5.1)
  t.like(await call.sendUpdate({ withSdp: true }), { kind: 'not-sent', reason: 'offer-pending' });
  // the confirmed dialog goes on from the early UPDATE's CSeq: the BYE's is past it
  rig.peer.respond(invite, 200, 'fartag', { sdp: farEndSdp(30000) });
  await flush();
  void call.hangUp();
  await flush();
  const seq = (m: { headers: { get(n: string): string | undefined } }) => Number.parseInt(m.headers.get('CSeq') ?? '0', 10);
  t.true(seq(rig.peer.last('BYE')) > seq(update), `BYE CSeq ${seq(rig.peer.last('BYE'))} after UPDATE CSeq ${seq(update)}`);
  t.deepEqual(rig.bugs, []);
});

/** An outgoing call on a rig with `holdMethod: 'update'`, answered by a 200 with `allow` (when given). */
async function answeredOutgoing(allow?: string) {
  const rig = await callRig({ holdMethod: 'update' });
  const call = await rig.dial();
  await flush();
  const invite = rig.peer.last('INVITE');
  rig.peer.respond(invite, 200, 'fartag', { sdp: farEndSdp(30000), headers: allow ? [['Allow', allow]] : [] });
  await flush();
  return { rig, call };
}

test("holdMethod 'update': hold goes by UPDATE when the peer's Allow lists it, by re-INVITE when it does not", async (t) => {
  const { rig, call } = await answeredOutgoing('INVITE, ACK, BYE, CANCEL, UPDATE');
  const held = call.hold(true);
  await flush();
  const update = rig.peer.last('UPDATE');
  t.regex(update.body.toString(), /a=sendonly/);
  rig.peer.respond(update, 200, undefined, { sdp: farEndSdp(30000, 'recvonly', 2) });
  t.is(await held, T.SipSuccess);
  t.true(call.localHold);
  t.is(rig.peer.requests('INVITE').length, 1, 'no re-INVITE');

  const plain = await answeredOutgoing();
  const held2 = plain.call.hold(true);
  await flush();
  t.is(plain.rig.peer.requests('UPDATE').length, 0);
  t.is(plain.rig.peer.requests('INVITE').length, 2, 'a re-INVITE instead');
  plain.rig.peer.respond(plain.rig.peer.last('INVITE'), 200, 'fartag', { sdp: farEndSdp(30000, 'recvonly', 2) });
  t.is(await held2, T.SipSuccess);
});

test("holdMethod 'update': a 481 to the hold UPDATE ends the call with BYE", async (t) => {
  const { rig, call } = await answeredOutgoing('UPDATE');
  const held = call.hold(true);
  await flush();
  rig.peer.respond(rig.peer.last('UPDATE'), 481, undefined);
  t.is(await held, T.SipCallFailure);
  await flush();
  t.is(rig.peer.requests('BYE').length, 1);
});
