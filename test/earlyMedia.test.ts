/**
 * Early media (lines/earlyMedia.ts and its hooks in lines/call.ts) with a fake host and a
 * VirtualClock over the real stack: at the caller, an 18x with an SDP answer starts media and
 * raises SipEarlyMedia; the 200 confirms it (no SDP, the same SDP) or re-targets it (a different
 * SDP, another fork); an unusable SDP from a second fork is ignored while the first plays. At the
 * callee, `sendProgress` sends 183 with our answer and starts media; the 200 repeats that SDP
 * and media is not started twice; a late offer cannot have early media.
 */
import test from 'ava';
import { Call } from '../lines/call.js';
import { CallState } from '../lines/callState.js';
import { TelephonyReturnValue as T } from '../engine/returnCodes.js';
import { callRig, type CallRig } from './helpers/callRig.js';
import { FarEndCall, farEndSdp, flush } from './helpers/fakeSipStack.js';

function callOn(rig: CallRig, i = 0): Call {
  const c = rig.lines[i]!.call;
  if (!c) throw new Error(`no call on line ${i}`);
  return c;
}

const VIDEO_ONLY = 'v=0\r\no=- 7 7 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=video 31000 RTP/AVP 34\r\na=rtpmap:34 H263/90000\r\n';

test('caller: a 183 with SDP starts media and raises SipEarlyMedia; a 200 without SDP connects on that answer', async (t) => {
  const rig = await callRig();
  const call = await rig.dial();
  const invite = rig.peer.last('INVITE');
  rig.peer.respond(invite, 183, 'p1', { sdp: farEndSdp(30000) });
  await flush();
  const media = rig.media[0]!;
  t.is(media.started, 1, 'media runs before the answer');
  t.is(media.configured[0]!.remotePort, 30000);
  t.is(call.state, CallState.Proceeding);
  const early = rig.events.find((e) => e.event === T.SipEarlyMedia);
  t.like(early?.data, { statusCode: 183, remoteAddress: '127.0.0.2', remotePort: 30000, codec: 'PCMU' });
  // a 180 repeating the answer changes nothing
  rig.peer.respond(invite, 180, 'p1', { sdp: farEndSdp(30000) });
  rig.peer.respond(invite, 200, 'p1');
  await flush();
  t.true(call.isConnected, 'the 183 answer is THE answer (RFC 3261 §13.2.1)');
  t.is(media.started, 1);
  t.is(media.configured.length, 1, 'the session is kept as it is');
  t.is(rig.events.filter((e) => e.event === T.SipEarlyMedia).length, 1);
  t.is(rig.peer.requests('ACK').length, 1);
  t.is(rig.peer.requests('BYE').length, 0);
  t.deepEqual(rig.bugs, []);
});

test('caller: a 200 repeating the 183 SDP keeps the session; a 200 with a different SDP re-targets it', async (t) => {
  for (const [sdp, configured, port] of [[farEndSdp(30000), 1, 30000], [farEndSdp(32000, 'sendrecv', 2), 2, 32000]] as const) {
    const rig = await callRig();
    const call = await rig.dial();
    const invite = rig.peer.last('INVITE');
    rig.peer.respond(invite, 183, 'p1', { sdp: farEndSdp(30000) });
    rig.peer.respond(invite, 200, 'p1', { sdp });
    await flush();
    t.true(call.isConnected);
    const media = rig.media[0]!;
    t.is(media.started, 1);
    t.is(media.configured.length, configured);
    t.is(media.configured.at(-1)!.remotePort, port);
  }
});

test('caller, forked: media follows the latest early dialog; an unusable fork is ignored; the 200 of the first fork without SDP returns to its answer', async (t) => {
  const rig = await callRig();
  const call = await rig.dial();
  const invite = rig.peer.last('INVITE');
  rig.peer.respond(invite, 183, 'a', { sdp: farEndSdp(30000) });
  rig.peer.respond(invite, 183, 'b', { sdp: farEndSdp(34000) });
  rig.peer.respond(invite, 183, 'c', { sdp: VIDEO_ONLY });
  await flush();
  const media = rig.media[0]!;
  t.deepEqual(media.configured.map((m) => m.remotePort), [30000, 34000]);
  t.is(rig.peer.requests('CANCEL').length, 0, 'a bad fork does not end an attempt whose media plays');
  t.deepEqual(rig.events.filter((e) => e.event === T.SipEarlyMedia).map((e) => (e.data as { remotePort: number }).remotePort), [30000, 34000]);
  rig.peer.respond(invite, 200, 'a');
  await flush();
  t.true(call.isConnected);
  t.is(media.configured.at(-1)!.remotePort, 30000);
  t.is(media.started, 1);
});

test('caller: a 200 from a fork that sent no early answer, without SDP, still fails (No SDP answer)', async (t) => {
  const rig = await callRig();
  const call = await rig.dial();
  const invite = rig.peer.last('INVITE');
  rig.peer.respond(invite, 183, 'a', { sdp: farEndSdp(30000) });
  rig.peer.respond(invite, 200, 'b');
  await flush();
  t.false(call.isConnected);
  t.is(call.errorInfo?.responseReasonPhrase, 'No SDP answer');
  t.is(rig.peer.requests('BYE').length, 1);
});

test('callee: sendProgress sends 183 with our answer and starts media; the 200 carries the same SDP and media starts once', async (t) => {
  const rig = await callRig();
  const far = new FarEndCall(rig.peer);
  far.start(farEndSdp(30000));
  await flush();
  const call = callOn(rig);
  t.is(call.state, CallState.Ringing);
  t.is(call.sendProgress(), T.SipSuccess);
  const media = rig.media[0]!;
  t.is(media.started, 1, 'media runs in the 183 phase');
  const p183 = far.inviteResponses().find((r) => r.status === 183)!;
  t.is(p183.headers.get('Content-Type'), 'application/sdp');
  t.regex(p183.body.toString(), /m=audio 40000 RTP\/AVP 0/);
  t.true(rig.names().includes('SipSendSessionProgress'));
  t.is(call.sendProgress(), T.SipSuccess, 'again: the 183 goes again');
  t.is(far.inviteResponses().filter((r) => r.status === 183).length, 2);
  t.is(call.answer(), T.SipSuccess);
  const ok = far.inviteResponses().find((r) => r.status === 200)!;
  t.is(ok.body.toString(), p183.body.toString(), 'the 200 repeats the 183 answer');
  t.is(media.started, 1);
  t.is(media.configured.length, 1);
  t.is(call.sendProgress(), T.SipAlreadyOffHook);
  far.ack();
  await flush();
  t.true(call.isConnected);
  t.deepEqual(rig.bugs, []);
});

test('callee: early media then refused: the call ends with the refusal and media stops; a late offer cannot have early media', async (t) => {
  const rig = await callRig();
  const far = new FarEndCall(rig.peer);
  far.start(farEndSdp(30000));
  await flush();
  const call = callOn(rig);
  t.is(call.sendProgress(), T.SipSuccess);
  call.reject(486, 'Busy Here');
  await flush();
  t.true(call.isEnded);
  t.true(rig.media[0]!.stopped);
  t.truthy(far.inviteResponses().find((r) => r.status === 486));
  t.is(call.sendProgress(), T.SipNoCallActive);

  const rig2 = await callRig();
  const late = new FarEndCall(rig2.peer);
  late.start(null);
  await flush();
  t.is(callOn(rig2).sendProgress(), T.SipFeatureNotAvailable);
  t.is(rig2.media[0]!.started, 0);
});
