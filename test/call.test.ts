/**
 * One call (lines/call.ts) with a fake host and a VirtualClock, over the real stack and
 * transactions on a socket-less transport (test/helpers/fakeSip.ts): outgoing INVITE → 180 →
 * 200 → ACK, incoming INVITE → ringing → answer → ACK, the 2xx retransmitted until the ACK and
 * the time-out when it never comes, CANCEL races on both sides, the 401 retry through the client
 * path, re-INVITE glare with the RFC 3261 §14.1 back-off, BYE both ways, 3xx redirects, and the
 * state table refusing illegal transitions. Every scenario also checks the call's state path and
 * that no illegal transition was attempted.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { createChallenge, formatDigestHeader } from '../sip/digest.js';
import type { SipRequest } from '../sip/message.js';
import { tagOf } from '../sip/util.js';
import { Call, glareRetryDelayMs } from '../lines/call.js';
import { CALL_TRANSITIONS, CallState, isLegalCallTransition } from '../lines/callState.js';
import { TelephonyReturnValue as T } from '../engine/returnCodes.js';
import { LineState } from '../engine/types.js';
import { callRig, type CallRig } from './helpers/callRig.js';
import { FarEndCall, farEndSdp, flush } from './helpers/fakeSipStack.js';

/** Records a call's state path. */
function trace(call: Call): CallState[] {
  const path = [call.state];
  call.onStateChange = (c) => path.push(c.to);
  return path;
}

/** The call on line `i` (fails when none). */
function callOn(rig: CallRig, i = 0): Call {
  const c = rig.lines[i]!.call;
  if (!c) throw new Error(`no call on line ${i}`);
  return c;
}

function noBugs(t: ExecutionContext, rig: CallRig): void {
  t.deepEqual(rig.bugs, [], 'no illegal state transition was attempted');
}

/** Dials, and has the far end ring (180) and answer (200 with SDP). Returns the call, connected. */
async function connectedOutgoing(rig: CallRig): Promise<{ call: Call; invite: SipRequest; path: CallState[] }> {
  const call = await rig.dial();
  const path = trace(call);
  const invite = rig.peer.last('INVITE');
  rig.peer.respond(invite, 180, 'p1');
  rig.peer.respond(invite, 200, 'p1', { sdp: farEndSdp(30000) });
  await flush();
  return { call, invite, path };
}

/** The far end calls; the line rings. */
async function ringingIncoming(rig: CallRig, sdp: string | null = farEndSdp(30000)): Promise<{ far: FarEndCall; call: Call }> {
  const far = new FarEndCall(rig.peer);
  far.start(sdp);
  await flush();
  return { far, call: callOn(rig) };
}

// ------------------------------------------------------------------ the state table

test('the state table: Terminated is final, every live state may end, and the obvious wrong turns are illegal', (t) => {
  t.deepEqual(CALL_TRANSITIONS[CallState.Terminated], []);
  for (const s of Object.values(CallState)) {
    if (s !== CallState.Terminated) t.true(isLegalCallTransition(s, CallState.Terminated), `${s} may end`);
  }
  t.false(isLegalCallTransition(CallState.Ringing, CallState.Calling));
  t.false(isLegalCallTransition(CallState.Confirmed, CallState.Ringing));
  t.false(isLegalCallTransition(CallState.Cancelling, CallState.Confirmed), 'a cancelled call never connects');
  t.false(isLegalCallTransition(CallState.Terminated, CallState.Confirmed));
  t.false(isLegalCallTransition(CallState.Ringing, CallState.Confirmed), 'an incoming call is confirmed by the ACK of our 200, not before');
});

test('an illegal transition is refused and reported, and the call goes on', async (t) => {
  const rig = await callRig();
  const { far, call } = await ringingIncoming(rig);
  // nothing in Call takes this turn: reach the one transition function directly
  const enter = (call as unknown as { enter(s: CallState): boolean }).enter.bind(call);
  t.false(enter(CallState.Calling));
  t.is(call.state, CallState.Ringing);
  t.deepEqual(rig.bugs, [{ from: CallState.Ringing, to: CallState.Calling, line: 0 }]);
  t.is(call.answer(), T.SipSuccess);
  far.ack();
  await flush();
  t.is(call.state, CallState.Confirmed);
});

test('without a reporter an illegal transition becomes a process warning, never an exception', async (t) => {
  const rig = await callRig();
  const { call } = await ringingIncoming(rig);
  const host = (call as unknown as { host: { illegalTransition?: unknown } }).host;
  host.illegalTransition = undefined; // shadows the rig's reporter (the call's host derives from the manager's)
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => {
    warnings.push(w);
  };
  process.on('warning', onWarning);
  try {
    const enter = (call as unknown as { enter(s: CallState): boolean }).enter.bind(call);
    t.notThrows(() => enter(CallState.Proceeding));
    await flush();
  } finally {
    process.off('warning', onWarning);
  }
  t.is(call.state, CallState.Ringing);
  t.true(warnings.some((w) => w.name === 'LineScapeBug' && /Ringing -> Proceeding/.test(w.message)));
});

// ------------------------------------------------------------------ outgoing

test('outgoing: INVITE → 180 → 200 → ACK connects; the far end hangs up with BYE', async (t) => {
  const rig = await callRig();
  rig.lines[0]!.recordCallStates = true;
  const { call, invite, path } = await connectedOutgoing(rig);
  t.is(invite.headers.get('CSeq'), '1 INVITE');
  t.is(invite.headers.get('Content-Type'), 'application/sdp');
  t.regex(invite.body.toString(), /m=audio 40000 RTP\/AVP 0/);
  const ack = rig.peer.last('ACK');
  t.is(ack.headers.get('CSeq'), '1 ACK');
  t.is(tagOf(ack.headers.get('To')), 'p1');
  t.true(call.isConnected);
  t.is(rig.media[0]!.started, 1);
  t.is(rig.media[0]!.configured[0]!.remotePort, 30000);
  t.deepEqual(rig.names(), [
    'SipOffHook', 'SipOutgoingCallInitializing', 'SipSendInvite', 'SipStartOutgoingRing', 'SipReceived180Ringing',
    'SipInviteOkReceived', 'SipSendInviteAck', 'SipOutgoingCallConnected', 'SipInCall',
  ]);
  t.is(await call.whenSettled(), T.SipSuccess);

  // the far end hangs up: its BYE is answered 200 and the line is free
  const fromTag = tagOf(invite.headers.get('From'))!;
  const bye = rig.peer.send('BYE', 'sip:alice@127.0.0.1:5060', {
    from: '<sip:peer@127.0.0.2:5070>;tag=p1',
    to: `${invite.headers.get('From')!.replace(/;tag=.*/, '')};tag=${fromTag}`,
    callId: invite.headers.get('Call-ID')!,
  });
  await flush();
  t.is(rig.peer.responses().find((r) => r.headers.get('CSeq') === bye.headers.get('CSeq'))?.status, 200);
  t.deepEqual(rig.names().slice(-3), ['SipByeReceived', 'SipCallComplete', 'SipOnHook']);
  t.true(call.isEnded);
  t.true(rig.media[0]!.stopped);
  t.is(rig.lines[0]!.call, undefined);
  t.is(rig.manager.dialogCount, 0);
  t.deepEqual(path, [CallState.Calling, CallState.Proceeding, CallState.Confirmed, CallState.Terminated]);
  t.deepEqual(rig.lines[0]!.recordedStates().map((s) => LineState[s.state]), ['Dialing', 'InCall', 'OnHook']);
  noBugs(t, rig);
});

test('outgoing: we hang up with BYE; a BYE nobody answers ends the call after Timer F; a second hang-up waits for the first', async (t) => {
  const rig = await callRig();
  const { call, path } = await connectedOutgoing(rig);
  const done = call.hangUp();
  await flush();
  t.is(call.state, CallState.Terminating);
  t.true(call.isConnected, 'still connected while the BYE is out');
  const again = call.hangUp();
  rig.clock.advance(32_000);
  await flush();
  t.is(await done, T.SipSuccess);
  t.is(await again, T.SipSuccess);
  t.is(rig.names().filter((n) => n === 'SipSendBye').length, 1, 'one BYE');
  t.deepEqual(rig.names().slice(-4), ['SipSendBye', 'SipByeAckNotReceived', 'SipCallComplete', 'SipOnHook']);
  t.deepEqual(path.slice(-2), [CallState.Terminating, CallState.Terminated]);
  t.is(await call.hangUp(), T.SipNoCallActive);
  noBugs(t, rig);
});

test('outgoing: a BYE we send is answered 200: SipReceivedByeAck', async (t) => {
  const rig = await callRig();
  const { call } = await connectedOutgoing(rig);
  const done = call.hangUp();
  await flush();
  const bye = rig.peer.last('BYE');
  t.is(bye.headers.get('CSeq'), '2 BYE');
  rig.peer.respond(bye, 200, undefined);
  t.is(await done, T.SipSuccess);
  t.deepEqual(rig.names().slice(-4), ['SipSendBye', 'SipReceivedByeAck', 'SipCallComplete', 'SipOnHook']);
  t.is(rig.lines[0]!.state, LineState.OnHook);
  noBugs(t, rig);
});

test('outgoing: a retransmitted 200 is ACKed again, during the transaction and after it ended', async (t) => {
  const rig = await callRig();
  const { invite } = await connectedOutgoing(rig);
  t.is(rig.peer.requests('ACK').length, 1);
  rig.peer.respond(invite, 200, 'p1', { sdp: farEndSdp(30000) });
  await flush();
  t.is(rig.peer.requests('ACK').length, 2, 'ACKed again while the INVITE transaction is Accepted');
  rig.clock.advance(32_000); // Timer M: the transaction is gone
  rig.peer.respond(invite, 200, 'p1', { sdp: farEndSdp(30000) });
  await flush();
  t.is(rig.peer.requests('ACK').length, 3, 'a stray 2xx is ACKed by the call manager');
  noBugs(t, rig);
});

test('outgoing: a 200 without SDP is ACKed, then ended with BYE (never a CANCEL)', async (t) => {
  const rig = await callRig();
  const call = await rig.dial();
  const path = trace(call);
  const invite = rig.peer.last('INVITE');
  rig.peer.respond(invite, 180, 'p1');
  rig.peer.respond(invite, 200, 'p1');
  await flush();
  t.is(rig.peer.requests('ACK').length, 1);
  t.is(rig.peer.requests('CANCEL').length, 0);
  const bye = rig.peer.last('BYE');
  rig.peer.respond(bye, 200, undefined);
  await flush();
  t.true(call.isEnded);
  t.false(call.isConnected);
  t.is(call.errorInfo?.responseCode, 488);
  t.deepEqual(rig.names().slice(5), ['SipInviteOkReceived', 'SipSendInviteAck', 'SipFarEndError', 'SipSendBye', 'SipReceivedByeAck', 'SipCallComplete', 'SipOnHook']);
  t.deepEqual(path, [CallState.Calling, CallState.Proceeding, CallState.Terminating, CallState.Terminated]);
  t.is(await call.whenSettled(), T.SipFarEndError);
  noBugs(t, rig);
});

test('outgoing: a 486 is SipFarEndIsBusy with the error info', async (t) => {
  const rig = await callRig();
  const call = await rig.dial();
  const settled = call.whenSettled();
  rig.peer.respond(rig.peer.last('INVITE'), 486, 'p1');
  await flush();
  t.is(await settled, T.SipFarEndIsBusy);
  t.is(call.errorInfo?.responseCode, 486);
  t.is(rig.peer.requests('ACK').length, 1, 'the transaction ACKs the 486');
  t.deepEqual(rig.names().slice(-3), ['SipFarEndIsBusy', 'SipCallComplete', 'SipOnHook']);
  noBugs(t, rig);
});

test('outgoing: a 401 is answered through the client path: a new INVITE with the next CSeq and credentials', async (t) => {
  const rig = await callRig();
  const call = await rig.dial();
  const path = trace(call);
  const first = rig.peer.last('INVITE');
  const challenge = formatDigestHeader(createChallenge('example.com'), true);
  rig.peer.respond(first, 100, undefined);
  rig.peer.respond(first, 401, 'p0', { headers: [['WWW-Authenticate', challenge]] });
  await flush();
  t.is(rig.peer.requests('ACK').length, 1, 'the 401 is ACKed by the INVITE transaction');
  const retry = rig.peer.last('INVITE');
  t.not(retry, first);
  t.is(retry.headers.get('CSeq'), '2 INVITE');
  t.is(retry.headers.get('Call-ID'), first.headers.get('Call-ID'));
  t.is(tagOf(retry.headers.get('From')), tagOf(first.headers.get('From')));
  t.regex(retry.headers.get('Authorization') ?? '', /^Digest .*username="alice"/);
  t.deepEqual(retry.body, first.body, 'the same offer');
  rig.peer.respond(retry, 180, 'p1');
  rig.peer.respond(retry, 200, 'p1', { sdp: farEndSdp(30000) });
  await flush();
  t.true(call.isConnected);
  t.is(rig.names().filter((n) => n === 'SipSendInvite').length, 2);
  t.false(rig.names().includes('SipOutgoingCallDigestAuthenticationRequired'));
  t.deepEqual(path, [CallState.Calling, CallState.Proceeding, CallState.Calling, CallState.Proceeding, CallState.Confirmed]);
  noBugs(t, rig);
});

test('outgoing: hanging up while the 401 retry is unanswered frees the line at once', async (t) => {
  const rig = await callRig();
  const call = await rig.dial();
  const first = rig.peer.last('INVITE');
  rig.peer.respond(first, 100, undefined);
  rig.peer.respond(first, 401, 'p0', { headers: [['WWW-Authenticate', formatDigestHeader(createChallenge('example.com'), true)]] });
  await flush();
  t.is(call.state, CallState.Calling, 'the retry is a new INVITE nothing answered yet');
  t.is(await call.hangUp(), T.SipSuccess);
  t.true(call.isEnded);
  t.is(rig.lines[0]!.state, LineState.OnHook);
  // the CANCEL waits for a provisional to the retry (RFC 3261 §9.1), then goes
  t.is(rig.peer.requests('CANCEL').length, 0);
  rig.peer.respond(rig.peer.last('INVITE'), 180, 'p1');
  await flush();
  t.is(rig.peer.requests('CANCEL').length, 1);
  noBugs(t, rig);
});

test('outgoing: credentials the far end refuses end the call with SipOutgoingCallDigestAuthenticationRequired', async (t) => {
  const rig = await callRig();
  const call = await rig.dial();
  const ch = createChallenge('example.com');
  const value = formatDigestHeader(ch, true);
  rig.peer.respond(rig.peer.last('INVITE'), 401, 'p0', { headers: [['WWW-Authenticate', value]] });
  await flush();
  // the same nonce again, without stale=true: the credentials are wrong
  rig.peer.respond(rig.peer.last('INVITE'), 401, 'p0', { headers: [['WWW-Authenticate', value]] });
  await flush();
  t.is(rig.peer.requests('INVITE').length, 2);
  t.true(call.isEnded);
  t.deepEqual(rig.names().slice(-4), ['SipOutgoingCallDigestAuthenticationRequired', 'SipFarEndError', 'SipCallComplete', 'SipOnHook']);
  noBugs(t, rig);
});

// ------------------------------------------------------------------ CANCEL, outgoing side

test('outgoing CANCEL: hung up while ringing, the CANCEL goes, the 487 ends the call as cancelled', async (t) => {
  const rig = await callRig();
  const call = await rig.dial();
  const path = trace(call);
  const invite = rig.peer.last('INVITE');
  rig.peer.respond(invite, 180, 'p1');
  await flush();
  const done = call.hangUp();
  await flush();
  t.is(call.state, CallState.Cancelling);
  const cancel = rig.peer.last('CANCEL');
  t.is(cancel.headers.get('CSeq'), '1 CANCEL');
  t.is(cancel.headers.get('Via'), invite.headers.get('Via'), 'same branch as the INVITE');
  rig.peer.respond(cancel, 200, 'p1');
  rig.peer.respond(invite, 487, 'p1');
  t.is(await done, T.SipSuccess);
  t.deepEqual(rig.names().slice(-3), ['SipCallCanceled', 'SipCallComplete', 'SipOnHook']);
  t.deepEqual(path, [CallState.Calling, CallState.Proceeding, CallState.Cancelling, CallState.Terminated]);
  t.is(await call.whenSettled(), T.SipCallFailure);
  noBugs(t, rig);
});

test('outgoing CANCEL after 200: the 200 that crossed our CANCEL is ACKed and hung up, and the call never connects', async (t) => {
  const rig = await callRig();
  const call = await rig.dial();
  const path = trace(call);
  const settled = call.whenSettled();
  const invite = rig.peer.last('INVITE');
  rig.peer.respond(invite, 180, 'p1');
  await flush();
  const done = call.hangUp();
  await flush();
  // the far end answered before it saw the CANCEL
  rig.peer.respond(rig.peer.last('CANCEL'), 200, 'p1');
  rig.peer.respond(invite, 200, 'p1', { sdp: farEndSdp(30000) });
  await flush();
  t.is(rig.peer.requests('ACK').length, 1);
  const bye = rig.peer.last('BYE');
  rig.peer.respond(bye, 200, undefined);
  t.is(await done, T.SipSuccess);
  t.false(call.isConnected);
  t.true(call.isEnded);
  t.is(await settled, T.SipCallCanceled);
  t.false(rig.names().includes('SipOutgoingCallConnected'));
  t.is(rig.media[0]!.started, 0, 'no media for a call we hung up');
  t.deepEqual(path, [CallState.Calling, CallState.Proceeding, CallState.Cancelling, CallState.Terminating, CallState.Terminated]);
  t.is(rig.lines[0]!.state, LineState.OnHook);
  noBugs(t, rig);
});

test('outgoing CANCEL before any provisional: the line is free at once; a late 200 is ACKed and hung up', async (t) => {
  const rig = await callRig();
  const call = await rig.dial();
  const invite = rig.peer.last('INVITE');
  t.is(await call.hangUp(), T.SipSuccess);
  t.true(call.isEnded);
  t.is(rig.peer.requests('CANCEL').length, 0, 'held until a provisional arrives (§9.1)');
  rig.peer.respond(invite, 200, 'p1', { sdp: farEndSdp(30000) });
  await flush();
  t.is(rig.peer.requests('ACK').length, 1);
  t.is(rig.peer.requests('BYE').length, 1);
  t.deepEqual(rig.names().slice(-2), ['SipCallComplete', 'SipOnHook']);
  noBugs(t, rig);
});

test('outgoing CANCEL: an INVITE nobody answers is given up 64*T1 after the CANCEL', async (t) => {
  const rig = await callRig();
  const call = await rig.dial();
  rig.peer.respond(rig.peer.last('INVITE'), 180, 'p1');
  await flush();
  const done = call.hangUp();
  await flush();
  rig.clock.advance(32_000);
  t.is(await done, T.SipSuccess);
  t.true(call.isEnded);
  noBugs(t, rig);
});

// ------------------------------------------------------------------ redirects

test('redirect: a 302 is followed to its Contact with the next CSeq; the new target answers', async (t) => {
  const rig = await callRig();
  const call = await rig.dial();
  const path = trace(call);
  const first = rig.peer.last('INVITE');
  rig.peer.respond(first, 302, 'p0', { headers: [['Contact', '<sip:carol@carol.example:5080>']] });
  await flush();
  const second = rig.peer.last('INVITE');
  t.not(second, first);
  t.is(second.uri, 'sip:carol@carol.example:5080');
  t.is(second.headers.get('CSeq'), '2 INVITE');
  t.deepEqual(rig.wire.sent.at(-1)!.dest, { protocol: 'UDP', host: '127.0.0.3', port: 5080 });
  const moved = rig.events.find((e) => e.event === T.SipReceived302MovedTemporarily);
  t.like(moved?.data, { statusCode: 302, contacts: ['<sip:carol@carol.example:5080>'] });
  rig.peer.respond(second, 200, 'c1', { sdp: farEndSdp(30002) });
  await flush();
  t.true(call.isConnected);
  t.deepEqual(path, [CallState.Calling, CallState.Redirecting, CallState.Calling, CallState.Confirmed]);
  noBugs(t, rig);
});

test('redirect: after three redirects the fourth 3xx is a failure; an unknown target is 404', async (t) => {
  const rig = await callRig();
  const call = await rig.dial();
  for (let i = 0; i < 3; i++) {
    rig.peer.respond(rig.peer.last('INVITE'), 302, `r${i}`, { headers: [['Contact', `<sip:carol${i}@127.0.0.3:5080>`]] });
    await flush();
  }
  t.is(rig.peer.requests('INVITE').length, 4);
  rig.peer.respond(rig.peer.last('INVITE'), 302, 'r3', { headers: [['Contact', '<sip:carol9@127.0.0.3:5080>']] });
  await flush();
  t.true(call.isEnded);
  t.is(call.errorInfo?.responseCode, 302);

  const other = await rig.dial(1);
  rig.peer.respond(rig.peer.last('INVITE'), 301, 'x', { headers: [['Contact', '<sip:dave@nowhere.invalid>']] });
  await flush();
  t.true(other.isEnded);
  t.is(other.errorInfo?.responseCode, 404);
  noBugs(t, rig);
});

test('redirect: a 3xx that crossed our CANCEL is not followed', async (t) => {
  const rig = await callRig();
  const call = await rig.dial();
  const invite = rig.peer.last('INVITE');
  rig.peer.respond(invite, 180, 'p1');
  await flush();
  const done = call.hangUp();
  await flush();
  rig.peer.respond(invite, 302, 'p1', { headers: [['Contact', '<sip:carol@127.0.0.3:5080>']] });
  await flush();
  t.is(await done, T.SipSuccess);
  t.is(rig.peer.requests('INVITE').length, 1, 'no INVITE to the redirect target');
  t.true(call.isEnded);
  noBugs(t, rig);
});

// ------------------------------------------------------------------ incoming

test('incoming: INVITE → 180 → answer → 200 → ACK connects; the answer carries our SDP', async (t) => {
  const rig = await callRig();
  rig.lines[0]!.recordCallStates = true;
  const { far, call } = await ringingIncoming(rig);
  const path = trace(call);
  t.is(call.state, CallState.Ringing);
  const ringing = far.inviteResponses().find((r) => r.status === 180)!;
  t.truthy(tagOf(ringing.headers.get('To')));
  t.is(call.answer(), T.SipSuccess);
  t.is(call.answer(), T.SipAlreadyOffHook);
  t.is(call.state, CallState.Connecting);
  const ok = far.inviteResponses().find((r) => r.status === 200)!;
  t.is(tagOf(ok.headers.get('To')), tagOf(ringing.headers.get('To')));
  t.regex(ok.body.toString(), /m=audio 40000 RTP\/AVP 0/);
  t.is(rig.media[0]!.started, 1, 'media starts with the 200');
  far.ack();
  await flush();
  t.true(call.isConnected);
  t.deepEqual(rig.names(), [
    'SipIncomingCallStart', 'SipIncomingCallInitialized', 'SipSendRinging', 'SipStartIncomingRing', 'SipOkToAnswerCall',
    'SipAnsweringCall', 'SipSend200Ok', 'SipReceivedInviteAck', 'SipIncomingCallConnected', 'SipInCall',
  ]);
  t.deepEqual(path, [CallState.Ringing, CallState.Connecting, CallState.Confirmed]);
  t.deepEqual(rig.lines[0]!.recordedStates().map((s) => LineState[s.state]), ['Ringing', 'InCall']);
  noBugs(t, rig);
});

test('incoming: our 200 is retransmitted (T1, 2T1, 4T1 ... capped at T2) until the ACK comes', async (t) => {
  const rig = await callRig();
  const { far, call } = await ringingIncoming(rig);
  const start = rig.clock.now();
  call.answer();
  const is200 = (m: { type: string; status?: number }): boolean => m.type === 'response' && m.status === 200;
  rig.clock.advance(7_500);
  t.deepEqual(rig.peer.times(is200).map((x) => x - start), [0, 500, 1500, 3500, 7500]);
  far.ack();
  await flush();
  t.true(call.isConnected);
  rig.clock.advance(20_000);
  t.is(rig.peer.times(is200).length, 5, 'nothing more after the ACK');
  noBugs(t, rig);
});

test('incoming: no ACK for our 200 within 64*T1: SipInviteAckNotReceived, then BYE', async (t) => {
  const rig = await callRig();
  const { call } = await ringingIncoming(rig);
  const path = trace(call);
  call.answer();
  rig.clock.advance(31_999);
  t.is(call.state, CallState.Connecting);
  rig.clock.advance(1);
  await flush();
  t.is(call.state, CallState.Terminating);
  const bye = rig.peer.last('BYE');
  rig.peer.respond(bye, 200, undefined);
  await flush();
  t.true(call.isEnded);
  t.deepEqual(rig.names().slice(7), ['SipInviteAckNotReceived', 'SipSendBye', 'SipReceivedByeAck', 'SipCallComplete', 'SipOnHook']);
  t.deepEqual(path, [CallState.Ringing, CallState.Connecting, CallState.Terminating, CallState.Terminated]);
  noBugs(t, rig);
});

test('incoming: a late offer (INVITE without SDP) is offered in the 200 and answered in the ACK', async (t) => {
  const rig = await callRig();
  const { far, call } = await ringingIncoming(rig, null);
  call.answer();
  const ok = far.inviteResponses().find((r) => r.status === 200)!;
  t.regex(ok.body.toString(), /m=audio 40000/);
  t.is(rig.media[0]!.started, 0, 'no media before the answer');
  far.ack(farEndSdp(30000));
  await flush();
  t.true(call.isConnected);
  t.is(rig.media[0]!.started, 1);
  noBugs(t, rig);
});

test('incoming: no answer within the answer time-out refuses the call with 480', async (t) => {
  const rig = await callRig({ answerTimeoutSeconds: 5 });
  const { far, call } = await ringingIncoming(rig);
  rig.clock.advance(5_000);
  t.true(call.isEnded);
  t.true(far.inviteResponses().some((r) => r.status === 480));
  t.deepEqual(rig.names().slice(-3), ['SipAnswerTimeout', 'SipCallComplete', 'SipOnHook']);
  noBugs(t, rig);
});

test('incoming: answering before the media is open is refused, not a crash', async (t) => {
  const rig = await callRig();
  let open!: () => void;
  rig.mediaGate = new Promise((resolve) => (open = resolve));
  const far = new FarEndCall(rig.peer);
  far.start();
  await flush();
  const call = callOn(rig);
  t.is(call.state, CallState.Initial);
  t.is(call.answer(), T.SipCallAlreadyInProgress);
  open();
  await flush();
  t.is(call.state, CallState.Ringing);
  t.is(call.answer(), T.SipSuccess);
  noBugs(t, rig);
});

// ------------------------------------------------------------------ CANCEL, incoming side

test('incoming CANCEL before our 200: 200 to the CANCEL, 487 to the INVITE, SipCallCanceled', async (t) => {
  const rig = await callRig();
  const { far, call } = await ringingIncoming(rig);
  const cancel = far.cancel();
  await flush();
  t.is(far.answersTo(cancel)[0]?.status, 200);
  t.true(far.inviteResponses().some((r) => r.status === 487));
  t.true(call.isEnded);
  t.deepEqual(rig.names().slice(-3), ['SipCallCanceled', 'SipCallComplete', 'SipOnHook']);
  t.is(call.answer(), T.SipNoCallActive);
  noBugs(t, rig);
});

test('incoming CANCEL after our 200: the CANCEL is answered but changes nothing; the ACK connects', async (t) => {
  const rig = await callRig();
  const { far, call } = await ringingIncoming(rig);
  call.answer();
  const cancel = far.cancel();
  await flush();
  t.is(far.answersTo(cancel)[0]?.status, 200);
  t.false(far.inviteResponses().some((r) => r.status === 487));
  t.is(call.state, CallState.Connecting);
  far.ack();
  await flush();
  t.true(call.isConnected);
  t.false(rig.names().includes('SipCallCanceled'));
  noBugs(t, rig);
});

test('incoming: the application refuses a ringing call; refusing after our 200 hangs up with BYE instead', async (t) => {
  const rig = await callRig();
  const { far, call } = await ringingIncoming(rig);
  call.reject(603, 'Decline');
  t.true(far.inviteResponses().some((r) => r.status === 603));
  t.true(call.isEnded);
  t.like(rig.events.find((e) => e.event === T.SipIncomingCallAborted)?.data, { statusCode: 603 });

  const second = new FarEndCall(rig.peer);
  second.start();
  await flush();
  const c2 = callOn(rig);
  c2.answer();
  c2.reject(486);
  await flush();
  t.is(c2.state, CallState.Terminating);
  t.is(rig.peer.requests('BYE').length, 1);
  noBugs(t, rig);
});

// ------------------------------------------------------------------ BYE from the far end, incoming

test('incoming: the far end hangs up with BYE; an in-dialog request after that gets 481', async (t) => {
  const rig = await callRig();
  const { far, call } = await ringingIncoming(rig);
  call.answer();
  far.ack();
  await flush();
  const bye = far.request('BYE');
  await flush();
  t.is(far.answersTo(bye)[0]?.status, 200);
  t.true(call.isEnded);
  t.deepEqual(rig.names().slice(-3), ['SipByeReceived', 'SipCallComplete', 'SipOnHook']);
  const late = far.request('INFO');
  await flush();
  t.is(far.answersTo(late)[0]?.status, 481);
  noBugs(t, rig);
});

// ------------------------------------------------------------------ re-INVITE and glare

test('hold: our re-INVITE meets 491 (glare); the owner of the Call-ID retries after 2.1-4 s', async (t) => {
  const rig = await callRig();
  const { call } = await connectedOutgoing(rig);
  const holding = call.hold(true);
  await flush();
  const reinvite = rig.peer.last('INVITE');
  t.is(reinvite.headers.get('CSeq'), '2 INVITE');
  t.regex(reinvite.body.toString(), /a=sendonly/);
  rig.peer.respond(reinvite, 491, 'p1');
  await flush();
  t.is(await call.hold(true), T.SipCallAlreadyInProgress, 'one re-INVITE of ours at a time, the glare wait included');
  rig.clock.advance(2_099);
  await flush();
  t.is(rig.peer.requests('INVITE').length, 2, 'not before 2.1 s');
  rig.clock.advance(1_901);
  await flush();
  t.is(rig.peer.requests('INVITE').length, 3, 'by 4 s');
  const retry = rig.peer.last('INVITE');
  t.is(retry.headers.get('CSeq'), '3 INVITE');
  rig.peer.respond(retry, 200, 'p1', { sdp: farEndSdp(30000, 'recvonly', 2) });
  t.is(await holding, T.SipSuccess);
  t.true(call.localHold);
  t.is(rig.lines[0]!.state, LineState.OnHold);
  t.is(rig.peer.requests('ACK').length, 3, 'the 491 and the 200 are ACKed');
  t.deepEqual(rig.names().slice(-1), ['SipCallHoldOn']);
  noBugs(t, rig);
});

test('glare: the side that does not own the Call-ID retries within 0-2 s; the far end\'s re-INVITE during ours gets 491', async (t) => {
  const rig = await callRig();
  const { far, call } = await ringingIncoming(rig);
  call.answer();
  far.ack();
  await flush();
  const holding = call.hold(true);
  await flush();
  const ours = rig.peer.last('INVITE');
  // their re-INVITE crosses ours: we answer it 491 ...
  const theirs = far.request('INVITE', { sdp: farEndSdp(30000, 'sendrecv', 2) });
  await flush();
  t.is(far.answersTo(theirs)[0]?.status, 491);
  // ... and they answer ours 491
  rig.peer.respond(ours, 491, tagOf(ours.headers.get('To')));
  await flush();
  rig.clock.advance(2_000);
  await flush();
  t.is(rig.peer.requests('INVITE').length, 2, 'retried within 2 s');
  const retry = rig.peer.last('INVITE');
  rig.peer.respond(retry, 200, tagOf(retry.headers.get('To')), { sdp: farEndSdp(30000, 'recvonly', 3) });
  t.is(await holding, T.SipSuccess);
  noBugs(t, rig);
});

test('glare back-off: 10 ms steps, 2.1-4 s for the owner of the Call-ID, 0-2 s for the other side', (t) => {
  t.is(glareRetryDelayMs(true, () => 0), 2100);
  t.is(glareRetryDelayMs(true, () => 0.999999), 4000);
  t.is(glareRetryDelayMs(false, () => 0), 0);
  t.is(glareRetryDelayMs(false, () => 0.999999), 2000);
  t.is(glareRetryDelayMs(true, () => 0.5) % 10, 0);
});

test('the far end\'s re-INVITE puts us on hold: SipFarEndHoldOn, and media follows', async (t) => {
  const rig = await callRig();
  const { far, call } = await ringingIncoming(rig);
  call.answer();
  far.ack();
  await flush();
  const reinvite = far.request('INVITE', { sdp: farEndSdp(30000, 'sendonly', 2) });
  await flush();
  const ok = far.answersTo(reinvite).find((r) => r.status === 200)!;
  t.regex(ok.body.toString(), /a=recvonly/);
  t.true(call.farEndHold);
  t.deepEqual(rig.names().slice(-1), ['SipFarEndHoldOn']);
  t.is(rig.media[0]!.configured.length, 2);
  noBugs(t, rig);
});

test('a re-INVITE with a multipart/mixed offer is answered from its SDP part; one without SDP gets 415 + Accept; a bad SDP gets 488 + Warning 305', async (t) => {
  const rig = await callRig();
  const { far, call } = await ringingIncoming(rig);
  call.answer();
  far.ack();
  await flush();
  const mixed = `--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: application/sdp\r\n\r\n${farEndSdp(30000, 'sendonly', 2)}\r\n--b--\r\n`;
  const hold = far.request('INVITE', { body: mixed, contentType: 'multipart/mixed;boundary=b' });
  await flush();
  const ok = far.answersTo(hold).find((r) => r.status === 200)!;
  t.regex(ok.body.toString(), /a=recvonly/);
  t.true(call.farEndHold);
  const noSdp = far.request('INVITE', { body: '--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n', contentType: 'multipart/mixed;boundary=b' });
  await flush();
  const refused = far.answersTo(noSdp).find((r) => r.status >= 200)!;
  t.is(refused.status, 415);
  t.regex(refused.headers.get('Accept') ?? '', /application\/sdp/);
  const g723 = far.request('INVITE', { sdp: farEndSdp(30000, 'sendrecv', 3).replace(/RTP\/AVP [\d ]+/, 'RTP/AVP 4') });
  await flush();
  const notAcceptable = far.answersTo(g723).find((r) => r.status >= 200)!;
  t.is(notAcceptable.status, 488);
  t.regex(notAcceptable.headers.get('Warning') ?? '', /^305 \S+ "no common audio codec"$/);
  t.true(call.farEndHold, 'the refused offers changed nothing');
  noBugs(t, rig);
});

test('a hang-up ends a call whose re-INVITE waits out a glare; the hold resolves SipNoCallActive', async (t) => {
  const rig = await callRig();
  const { call } = await connectedOutgoing(rig);
  const holding = call.hold(true);
  await flush();
  rig.peer.respond(rig.peer.last('INVITE'), 491, 'p1');
  await flush();
  const done = call.hangUp();
  await flush();
  rig.peer.respond(rig.peer.last('BYE'), 200, undefined);
  t.is(await done, T.SipSuccess);
  t.is(await holding, T.SipNoCallActive);
  rig.clock.advance(5_000);
  await flush();
  t.is(rig.peer.requests('INVITE').length, 2, 'no re-INVITE after the call ended');
  noBugs(t, rig);
});
