/**
 * PRACK in one call (lines/call.ts with lines/reliableProvisional.ts) on a VirtualClock, over the
 * real stack on a socket-less transport: the callee's reliable 180 retransmitted until its PRACK;
 * 504 after 64*T1 without one; a late offer in the reliable 180 answered in the PRACK, with the
 * 200 held until then and sent without SDP; a PRACK naming no 18x gets 481; the caller PRACKs a
 * reliable 183 with SDP in its early dialog, connects on a 200 without SDP, and its BYE's CSeq
 * follows the PRACK's.
 */
import test from 'ava';
import type { SipRequest } from '../sip/message.js';
import { cseqNumber } from '../sip/util.js';
import type { Call } from '../lines/call.js';
import { TelephonyReturnValue as T } from '../engine/returnCodes.js';
import { LineState } from '../engine/types.js';
import { callRig, type CallRig } from './helpers/callRig.js';
import { FarEndCall, farEndSdp, flush } from './helpers/fakeSipStack.js';

/** The far end calls with Supported: 100rel (an offer unless `sdp` is null). */
async function reliableCaller(rig: CallRig, sdp: string | null = farEndSdp(30000)): Promise<{ far: FarEndCall; call: Call }> {
  const far = new FarEndCall(rig.peer);
  far.invite = rig.peer.send('INVITE', 'sip:bob@127.0.0.1:5060', { from: `<sip:alice@127.0.0.2>;tag=${far.tag}`, to: '<sip:bob@127.0.0.1>', callId: far.callId, cseq: 1 }, {
    headers: [['Supported', '100rel']],
    ...(sdp === null ? {} : { sdp }),
  });
  await flush();
  const call = rig.lines[0]!.call;
  if (!call) throw new Error('no call rang');
  return { far, call };
}

const ringings = (far: FarEndCall) => far.inviteResponses().filter((r) => r.status === 180);

test('callee: the reliable 180 (Require, RSeq) is retransmitted at T1 doubling until its PRACK, which gets 200', async (t) => {
  const rig = await callRig({ reliableProvisional: 'supported' });
  const { far, call } = await reliableCaller(rig);
  const first = ringings(far);
  t.is(first.length, 1);
  t.is(first[0]!.headers.get('Require'), '100rel');
  const rseq = first[0]!.headers.get('RSeq')!;
  t.regex(rseq, /^\d+$/);
  rig.clock.advance(500);
  t.is(ringings(far).length, 2);
  rig.clock.advance(1000);
  t.is(ringings(far).length, 3);
  t.true(ringings(far).every((r) => r.headers.get('RSeq') === rseq), 'the same RSeq every time');
  const prack = far.request('PRACK', { headers: [['RAck', `${rseq} 1 INVITE`]] });
  await flush();
  t.is(far.answersTo(prack)[0]?.status, 200);
  rig.clock.advance(10_000);
  t.is(ringings(far).length, 3, 'no retransmission after the PRACK');
  t.is(call.answer(), T.SipSuccess);
  t.is(far.inviteResponses().filter((r) => r.status === 200).length, 1);
  far.ack();
  await flush();
  t.is(rig.lines[0]!.state, LineState.InCall);
  t.deepEqual(rig.bugs, []);
});

test('callee: no PRACK within 64*T1 refuses the INVITE with 504; a PRACK naming no 18x gets 481', async (t) => {
  // rings longer than 64*T1 (32 s), so the answer time-out does not come first
  const rig = await callRig({ reliableProvisional: 'supported', answerTimeoutSeconds: 60 });
  const { far } = await reliableCaller(rig);
  const wrong = far.request('PRACK', { headers: [['RAck', '1 99 INVITE']] });
  await flush();
  t.is(far.answersTo(wrong)[0]?.status, 481);
  rig.clock.advance(32_000);
  await flush();
  t.is(far.inviteResponses().filter((r) => r.status === 504).length, 1);
  t.true(rig.names().includes('SipIncomingCallAborted'));
  t.is(rig.lines[0]!.state, LineState.OnHook);
  t.deepEqual(rig.bugs, []);
});

test('callee, late offer: our offer goes in the reliable 180, the 200 waits for the PRACK whose SDP answers it, and carries no SDP', async (t) => {
  const rig = await callRig({ reliableProvisional: 'supported' });
  const { far, call } = await reliableCaller(rig, null);
  const ringing = ringings(far)[0]!;
  t.regex(ringing.body.toString(), /m=audio \d+ RTP\/AVP/);
  t.is(call.answer(), T.SipSuccess);
  await flush();
  t.is(far.inviteResponses().filter((r) => r.status === 200).length, 0, 'held until the PRACK');
  const prack = far.request('PRACK', { headers: [['RAck', `${ringing.headers.get('RSeq')} 1 INVITE`]], sdp: farEndSdp(30002) });
  await flush();
  t.is(far.answersTo(prack)[0]?.status, 200);
  const ok = far.inviteResponses().filter((r) => r.status === 200);
  t.is(ok.length, 1, 'the 200 went after the PRACK');
  t.is(ok[0]!.body.length, 0, 'no SDP: the offer/answer is complete');
  far.ack();
  await flush();
  t.is(rig.lines[0]!.state, LineState.InCall);
  t.is(rig.media[0]!.configured.at(-1)?.remotePort, 30002);
  t.deepEqual(rig.bugs, []);
});

test('callee, policy off: a caller with Supported: 100rel gets a plain 180', async (t) => {
  const rig = await callRig();
  const { far } = await reliableCaller(rig);
  const r = ringings(far)[0]!;
  t.false(r.headers.has('RSeq'));
  t.false(r.headers.has('Require'));
});

test('caller: a reliable 183 with SDP is PRACKed in its early dialog; a 200 without SDP connects; the BYE follows the PRACK in CSeq', async (t) => {
  const rig = await callRig({ reliableProvisional: 'supported' });
  const call = await rig.dial();
  const invite = rig.peer.last('INVITE');
  rig.peer.respond(invite, 183, 'p1', { sdp: farEndSdp(30000), headers: [['Require', '100rel'], ['RSeq', '5']] });
  await flush();
  const prack: SipRequest = rig.peer.last('PRACK');
  t.is(prack.headers.get('RAck'), `5 ${cseqNumber(invite.headers.get('CSeq'))} INVITE`);
  t.is(prack.uri, 'sip:peer@127.0.0.2:5070', 'sent to the 183 Contact');
  t.regex(prack.headers.get('To') ?? '', /tag=p1/);
  rig.peer.respond(prack, 200, 'p1');
  rig.peer.respond(invite, 200, 'p1');
  await flush();
  t.true(call.isConnected);
  t.is(rig.names().filter((n) => n === 'SipFarEndError').length, 0);
  void call.hangUp();
  await flush();
  const bye = rig.peer.last('BYE');
  t.true(cseqNumber(bye.headers.get('CSeq')) > cseqNumber(prack.headers.get('CSeq')));
  t.deepEqual(rig.bugs, []);
});
