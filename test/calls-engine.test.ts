/**
 * Engine to engine calls on loopback: four lines at once with a distinct tone per line and
 * direction for PCMU, PCMA and Opus; call flows and their notification sequences; failures.
 */
import test from 'ava';
import { TelephonyReturnValue as T, MediaFormatAudio, LineState, LineMode, CallDirection, CallHoldType, type Notification } from '../index.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { analyse, capture, sendTone, soundAfterOnset, wait, type Capture } from './helpers/audio.js';
import { blocksWithoutTone, mediaStats, mediaWait, pathChanges, pathFigures, receiveTrouble } from './helpers/mediaTime.js';
import { until } from './helpers/observe.js';
import { toneLevelDb } from './helpers/analysis.js';

/** Answers every call that rings on `e`. */
function autoAnswer(e: EngineUnderTest): void {
  e.engine.on('SipOkToAnswerCall', (n) => e.engine.goOffHook(n.phoneLine));
}

const events = (e: EngineUnderTest, line: number): string[] =>
  e.seen.filter((n) => n.phoneLine === line).map((n) => T[n.event]);

/** A registrar engine plus a 4-line engine whose lines are named 100..103. */
async function namedDesk(t: Parameters<typeof startEngine>[0], formats?: MediaFormatAudio[]) {
  const pbx = await startEngine(t, { phoneName: 'pbx' });
  const desk = await startEngine(t, { numPhoneLinesRequested: 4, phoneName: 'desk' });
  if (formats) for (let l = 0; l < 4; l++) desk.engine.setAudioMediaFormats(l, formats);
  await desk.engine.enableSipRegisterServer('100,101,102,103', true, false, '127.0.0.1', pbx.port, 60, 60, 2000, false);
  await desk.waitForCount(T.SipRegisterSuccess, 4);
  return desk;
}

for (const [name, format] of [
  ['PCMU', MediaFormatAudio.ULaw8k],
  ['PCMA', MediaFormatAudio.ALaw8k],
  ['opus', MediaFormatAudio.Opus48k],
] as const) {
  test(`four lines call four lines at once; each line's tone reaches the right far line both ways (${name})`, async (t) => {
    const desk = await namedDesk(t, [format]);
    autoAnswer(desk);
    const caller = await startEngine(t, { numPhoneLinesRequested: 4, phoneName: 'caller' });
    for (let l = 0; l < 4; l++) caller.engine.setAudioMediaFormats(l, [format]);
    // caller line i dials desk name 10(3-i): crossing numbers prove the routing by name
    const rcs = await Promise.all([0, 1, 2, 3].map((i) => caller.engine.makeCall(String(103 - i), '127.0.0.1', desk.port, i, true, 10000)));
    t.deepEqual(rcs, [T.SipSuccess, T.SipSuccess, T.SipSuccess, T.SipSuccess]);
    await desk.waitForCount(T.SipIncomingCallConnected, 4);
    for (let i = 0; i < 4; i++) {
      t.is(caller.engine.getActiveCallInfo(i).codec, name);
      t.is(desk.engine.getActiveCallInfo(i).codec, name);
    }
    const up = [400, 700, 1000, 1300]; // caller line i sends up[i]
    const down = [550, 850, 1150, 1450]; // desk line j sends down[j]
    const deskCaps = [0, 1, 2, 3].map((j) => capture(desk.engine, j));
    const callerCaps = [0, 1, 2, 3].map((i) => capture(caller.engine, i));
    for (let i = 0; i < 4; i++) sendTone(caller.engine, i, up[i]!, 2);
    for (let j = 0; j < 4; j++) sendTone(desk.engine, j, down[j]!, 2);
    const troubleAt = (e: EngineUnderTest, l: number): number => receiveTrouble(e.engine, l);
    const desk0 = [0, 1, 2, 3].map((j) => troubleAt(desk, j));
    const caller0 = [0, 1, 2, 3].map((i) => troubleAt(caller, i));
    const deskPath0 = [0, 1, 2, 3].map((j) => pathFigures(desk.engine, j));
    const callerPath0 = [0, 1, 2, 3].map((i) => pathFigures(caller.engine, i));
    // on every line, the 0.5 s of received media from 1 s after its tone began (the tones last 2 s of
    // media): counted from the tone's onset, not from the capture's start, because a loaded machine
    // can take a second to carry a tone to the floor that sends it, and it skips media ticks, so wall
    // time would say nothing about how much was heard
    const heard = (c: Capture): ReturnType<typeof soundAfterOnset> => soundAfterOnset(c, 500, 30000, 1000);
    const atDeskLines = await Promise.all(deskCaps.map(heard));
    const atCallerLines = await Promise.all(callerCaps.map(heard));
    for (let i = 0; i < 4; i++) {
      const j = 3 - i; // desk line that took caller line i's call
      const fromDesk = atDeskLines[j]!;
      const fromCaller = atCallerLines[i]!;
      const atDesk = analyse(fromDesk.pcm);
      const atCaller = analyse(fromCaller.pcm);
      // every 20 ms block of the window carries the right tone, except blocks damaged by trouble
      // measured at the receiving line meanwhile (a concealed or dropped frame spoils its block
      // and, through the decoder's overlap, the next one)
      const deskTrouble = troubleAt(desk, j) - desk0[j]!;
      const callerTrouble = troubleAt(caller, i) - caller0[i]!;
      const badDesk = blocksWithoutTone(fromDesk.pcm, 8000, up[i]!);
      const badCaller = blocksWithoutTone(fromCaller.pcm, 8000, down[j]!);
      // both ends' figures since the tones began, for a failure message
      const paths = `caller line ${i} (sound from sample ${fromCaller.onset} of ${fromCaller.captured}): ${pathChanges(callerPath0[i]!, pathFigures(caller.engine, i))}; desk line ${j} (sound from sample ${fromDesk.onset} of ${fromDesk.captured}): ${pathChanges(deskPath0[j]!, pathFigures(desk.engine, j))}`;
      t.true(badDesk <= 2 * deskTrouble, `desk line ${j}: ${badDesk} of 25 blocks without ${up[i]} Hz, ${deskTrouble} frames of trouble (heard ${atDesk.freq.toFixed(1)} Hz); ${paths}`);
      t.true(badCaller <= 2 * callerTrouble, `caller line ${i}: ${badCaller} of 25 blocks without ${down[j]} Hz, ${callerTrouble} frames of trouble (heard ${atCaller.freq.toFixed(1)} Hz); ${paths}`);
      if (deskTrouble === 0) t.true(Math.abs(atDesk.freq - up[i]!) < up[i]! * 0.02 && atDesk.levelDb > -6, `desk line ${j} hears ${atDesk.freq} Hz at ${atDesk.levelDb.toFixed(1)} dB, wants ${up[i]}`);
      if (callerTrouble === 0) t.true(Math.abs(atCaller.freq - down[j]!) < down[j]! * 0.02 && atCaller.levelDb > -6, `caller line ${i} hears ${atCaller.freq} Hz at ${atCaller.levelDb.toFixed(1)} dB, wants ${down[j]}`);
      // not a mix: every other tone of the test is far below (a level threshold alone would also
      // trip on codec artefacts when a loaded machine makes Opus conceal a frame)
      const others = (pcm: Int16Array, want: number): number =>
        Math.max(...[...up, ...down].filter((f) => f !== want).map((f) => toneLevelDb(pcm, 8000, f)));
      const leakDesk = others(fromDesk.pcm, up[i]!);
      const leakCaller = others(fromCaller.pcm, down[j]!);
      t.true(leakDesk < -20 && leakCaller < -20, `not a mix (strongest other tone ${leakDesk.toFixed(1)} / ${leakCaller.toFixed(1)} dB)`);
    }
    for (const c of [...deskCaps, ...callerCaps]) c.close();
    await Promise.all([0, 1, 2, 3].map((i) => caller.engine.terminateCall(i, true, 5000)));
    await desk.waitForCount(T.SipOnHook, 4);
    t.deepEqual(desk.engine.getNumActiveCalls(), { result: T.SipSuccess, numActiveCalls: 0 });
  });
}

test('outgoing and incoming notification sequences, call info, BYE from the callee', async (t) => {
  const a = await startEngine(t, { phoneName: 'alice', phoneDisplayName: 'Alice A' });
  const b = await startEngine(t, { phoneName: 'bob' });
  autoAnswer(b);
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, -1, true, 5000), T.SipSuccess);
  await b.waitFor(T.SipIncomingCallConnected);
  const outSeq = events(a, 0);
  for (const e of ['SipOffHook', 'SipOutgoingCallInitializing', 'SipSendInvite', 'SipReceived180Ringing', 'SipInviteOkReceived', 'SipSendInviteAck', 'SipOutgoingCallConnected']) {
    t.true(outSeq.includes(e), `caller raised ${e}`);
  }
  t.true(outSeq.indexOf('SipSendInvite') < outSeq.indexOf('SipInviteOkReceived'));
  t.true(outSeq.indexOf('SipInviteOkReceived') < outSeq.indexOf('SipOutgoingCallConnected'));
  const assign = b.of(T.SipIncomingCallAssignPhoneLine)[0]!;
  t.is(assign.notifyType, 0, 'immediate');
  const inSeq = events(b, 0);
  const wanted = ['SipIncomingCallStart', 'SipIncomingCallInitialized', 'SipSendRinging', 'SipStartIncomingRing', 'SipOkToAnswerCall', 'SipAnsweringCall', 'SipSend200Ok', 'SipReceivedInviteAck', 'SipIncomingCallConnected'];
  t.deepEqual(inSeq.filter((e) => wanted.includes(e)), wanted, 'callee sequence in order');
  const info = b.engine.getIncomingCallInfo(0);
  t.is(info.result, T.SipSuccess);
  t.is(info.fromDisplayName, 'Alice A');
  t.regex(info.from!, /sip:alice@127\.0\.0\.1/);
  t.is(a.engine.getOutgoingCallInfo(0).result, T.SipSuccess);
  t.is(a.engine.getIncomingCallInfo(0).result, T.SipNoCallActive);
  t.like(a.engine.getLineStatus(0), { state: LineState.InCall, callDirection: CallDirection.Outgoing });
  t.like(b.engine.getLineStatus(0), { state: LineState.InCall, callDirection: CallDirection.Incoming });
  t.is(a.engine.getNumActiveCalls().numActiveCalls, 1);
  // the callee hangs up
  t.is(await b.engine.terminateCall(0, true, 5000), T.SipSuccess);
  await a.waitFor(T.SipOnHook);
  t.true(events(a, 0).includes('SipByeReceived'));
  t.true(events(b, 0).includes('SipSendBye'));
  t.like(a.engine.getLineStatus(0), { state: LineState.OnHook, callDirection: CallDirection.None });
  t.is(a.engine.terminateCall(0, false, 0) instanceof Promise, true);
  t.is(await a.engine.terminateCall(0, false, 0), T.SipNoCallActive);
});

test('busy, rejected, cancelled and unanswered calls report the far end error', async (t) => {
  const a = await startEngine(t, { numPhoneLinesRequested: 2, phoneName: 'alice' });
  const b = await startEngine(t, { numPhoneLinesRequested: 1, phoneName: 'bob' });
  // every line busied out: 486
  b.engine.busyOutLine(0, true);
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 0, true, 5000), T.SipFarEndIsBusy);
  t.like(a.engine.getOutgoingCallErrorInfo(0), { result: T.SipSuccess, responseCode: 486 });
  t.regex(a.engine.getOutgoingCallErrorInfo(0).rawSipMessage!, /^SIP\/2\.0 486/);
  b.engine.busyOutLine(0, false);
  // the application refuses with 603
  const onRing = (n: Notification) => b.engine.abortIncomingCall(n.phoneLine, 603, 'Decline');
  b.engine.on('SipOkToAnswerCall', onRing);
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 0, true, 5000), T.SipFarEndError);
  t.like(a.engine.getOutgoingCallErrorInfo(0), { responseCode: 603, responseReasonPhrase: 'Decline' });
  await b.waitFor(T.SipIncomingCallAborted);
  b.engine.off('SipOkToAnswerCall', onRing);
  // the caller gives up while it rings: CANCEL
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 1, false, 0), T.SipSuccess);
  await b.waitFor(T.SipOkToAnswerCall, (n) => b.seen.filter((x) => x.event === T.SipOkToAnswerCall).indexOf(n) === 1);
  t.is(await a.engine.terminateCall(1, true, 5000), T.SipSuccess);
  await b.waitFor(T.SipCallCanceled);
  await a.waitFor(T.SipOnHook, (n) => n.phoneLine === 1);
  t.is(b.engine.getLineStatus(0).state, LineState.OnHook);
  // nobody answers: the answer time-out gives 480
  t.is(b.engine.setCallAnswerTimeout(1), T.SipSuccess);
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 0, true, 8000), T.SipFarEndError);
  t.is(a.engine.getOutgoingCallErrorInfo(0).responseCode, 480);
  await b.waitFor(T.SipAnswerTimeout);
});

test('the application assigns or refuses incoming calls in SipIncomingCallAssignPhoneLine; all lines busy gives 486', async (t) => {
  const a = await startEngine(t, { numPhoneLinesRequested: 3, phoneName: 'alice' });
  const b = await startEngine(t, { numPhoneLinesRequested: 3, phoneName: 'bob' });
  autoAnswer(b);
  b.engine.on('SipIncomingCallAssignPhoneLine', (n) => {
    const d = n.data;
    if (d.calledUser === 'sales') d.phoneLine = 2;
    if (d.calledUser === 'spam') d.rejectStatusCode = 403;
  });
  t.is(await a.engine.makeCall('sales', '127.0.0.1', b.port, 0, true, 5000), T.SipSuccess);
  const connected = await b.waitFor(T.SipIncomingCallConnected);
  t.is(connected.phoneLine, 2, 'the application moved it to line 2');
  t.is(b.engine.getLineStatus(2).state, LineState.InCall);
  t.is(await a.engine.makeCall('spam', '127.0.0.1', b.port, 1, true, 5000), T.SipFarEndError);
  t.is(a.engine.getOutgoingCallErrorInfo(1).responseCode, 403);
  b.engine.setOutgoingLineOnly(0, true);
  b.engine.busyOutLine(1, true);
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 1, true, 5000), T.SipFarEndIsBusy, 'no line can take it');
});

test('hold and resume in each hold style; the far end sees SipFarEndHoldOn/Off and audio stops while held', async (t) => {
  const a = await startEngine(t, { phoneName: 'alice' });
  const b = await startEngine(t, { phoneName: 'bob' });
  autoAnswer(b);
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 0, true, 5000), T.SipSuccess);
  await b.waitFor(T.SipIncomingCallConnected);
  for (const style of [CallHoldType.Rfc3264, CallHoldType.Rfc2543, CallHoldType.Both]) {
    t.is(a.engine.setCallHoldType(style), T.SipSuccess);
    const before = b.of(T.SipFarEndHoldOn).length;
    t.is(await a.engine.holdLine(0, true), T.SipSuccess);
    await b.waitForCount(T.SipFarEndHoldOn, before + 1);
    t.is(a.engine.getLineStatus(0).state, LineState.OnHold);
    t.true(a.engine.getActiveCallInfo(0).localHold);
    t.true(b.engine.getActiveCallInfo(0).farEndHold);
    // A holds B (A sendonly, B recvonly): what B sends no longer reaches A. What A's jitter
    // buffer held when the hold took effect (B's tone of the previous round; a loaded machine
    // grows that delay) may still play first: it is skipped, and 0.6 s of A's media after it
    // are judged (media time: a loaded machine skips ticks, so wall time says nothing)
    const buffered = mediaStats(a.engine, 0)?.jitter.currentDelayMs ?? 0;
    const cap = capture(a.engine, 0);
    sendTone(b.engine, 0, 900, 1);
    const skip = Math.round(((buffered + 40) * 8000) / 1000);
    await until(() => cap.samples().length >= skip + 4800, 30000);
    const held = analyse(cap.samples().subarray(skip));
    t.true(held.levelDb < -10 || Math.abs(held.freq - 900) > 50, `nothing of B's tone while held (${held.freq} Hz, ${held.levelDb} dB, ${buffered} ms were buffered)`);
    cap.close();
    t.is(await a.engine.holdLine(0, false), T.SipSuccess);
    await b.waitForCount(T.SipFarEndHoldOff, before + 1);
    t.is(a.engine.getLineStatus(0).state, LineState.InCall);
    const cap2 = capture(a.engine, 0);
    sendTone(b.engine, 0, 900, 1);
    // judged from where B's tone begins at A (40 ms in, 0.5 s of it): how long it takes to get
    // there is B's floor, the wire and A's jitter buffer, all stretched on a loaded machine
    const back = await soundAfterOnset(cap2, 500);
    const resumed = analyse(back.pcm);
    t.true(Math.abs(resumed.freq - 900) < 20, `audio again after resume (${resumed.freq} Hz, ${resumed.levelDb} dB; sound from sample ${back.onset} of ${back.captured})`);
    cap2.close();
    await mediaWait(b.engine, 0, 400); // B's 1 s tone has played out before the next round
  }
  t.true(a.of(T.SipCallHoldOn).length === 3 && a.of(T.SipCallHoldOff).length === 3);
  t.is(a.engine.setCallHoldType(7 as CallHoldType), T.SipBadParameter);
});

test('call procedures return codes for bad input and impossible states', async (t) => {
  const a = await startEngine(t, { numPhoneLinesRequested: 2, phoneName: 'alice' });
  t.is(await a.engine.makeCall('bad user', '127.0.0.1', 5060, -1, true, 1000), T.SipBadUserName);
  t.is(await a.engine.makeCall('bob', 'nosuchhost.invalid', 5060, -1, true, 1000), T.SipUnknownHost);
  t.is(await a.engine.makeCall('bob', '127.0.0.1', 70000, -1, true, 1000), T.SipBadParameter);
  t.is(await a.engine.makeCall('bob', '127.0.0.1', 5060, 9, true, 1000), T.SipBadPhoneLine);
  t.is(await a.engine.makeCall('bob', '127.0.0.1', 5060, -1, true, 0), T.SipBadParameter);
  a.engine.busyOutLine(1, true);
  t.is(await a.engine.makeCall('bob', '127.0.0.1', 5060, 1, false, 0), T.SipLineBusyOut);
  t.is(await a.engine.makeCallUri('not a uri', false, -1, false, 0), T.SipBadSipUri);
  t.is(await a.engine.makeCallUri('sip:bob@127.0.0.1', true, -1, false, 0), T.SipProxyNotEnabled);
  t.is(await a.engine.enableSipProxyServer('127.0.0.1', 5999), T.SipSuccess);
  t.is(await a.engine.makeCall('bob', '', 0, -1, false, 0), T.SipDomainNameNotDefined);
  t.is(a.engine.disableSipProxyServer(), T.SipSuccess);
  t.is(a.engine.goOffHook(0), T.SipNoCallActive);
  t.is(a.engine.abortIncomingCall(0, 486, 'Busy'), T.SipNoCallActive);
  t.is(await a.engine.holdLine(0, true), T.SipNoCallActive);
  t.is(a.engine.sendDtmf(0, '1'), T.SipNoCallActive);
  t.is(a.engine.setAudioMediaFormats(0, []), T.SipBadParameter);
  t.is(a.engine.setAudioMediaFormats(0, [42 as MediaFormatAudio]), T.SipBadParameter);
  t.is(a.engine.setAudioMediaFormats(0, [MediaFormatAudio.Opus48k, MediaFormatAudio.ULaw8k]), T.SipSuccess);
  t.is(a.engine.setPhoneLineVolume(0, 3000, 512), T.SipBadParameter);
  t.is(a.engine.setPhoneLineVolume(0, 1024, 256), T.SipSuccess);
  t.is(a.engine.setJitterTimeMs(0, 5), T.SipBadParameter);
  t.is(a.engine.setJitterTimeMs(0, 100), T.SipSuccess);
  t.is(a.engine.setEnableJitter(0, false), T.SipSuccess);
  t.is(a.engine.setPhoneLineLoopBack(0, 'x' as never), T.SipBadParameter);
  t.is(a.engine.enableRawRtpPacketAccess(0, true), T.SipBadParameter, 'no callback');
  t.is(a.engine.playWaveFile(0, '/nonexistent.wav', false), T.SipNoCallActive);
  t.is(a.engine.openRxIvrChannel(0).result, T.SipNoCallActive);
  // nothing listens on this port: the INVITE times out (Timer B runs 32 s: use the async form and cancel)
  t.is(await a.engine.makeCall('bob', '127.0.0.1', 9, 0, false, 0), T.SipSuccess);
  t.is(a.engine.getLineStatus(0).state, LineState.Dialing);
  t.is(await a.engine.makeCall('bob', '127.0.0.1', 9, 0, false, 0), T.SipCallAlreadyInProgress);
  t.is(await a.engine.terminateCall(0, true, 3000), T.SipSuccess);
  t.is(a.engine.getLineStatus(0).state, LineState.OnHook);
  t.is(await a.engine.makeCall('bob', '127.0.0.1', 9, -1, false, 0), T.SipSuccess);
  t.is(await a.engine.makeCall('bob', '127.0.0.1', 9, -1, false, 0), T.SipLineCapacityReached);
});

test('a server without a local audio device keeps PhoneLine lines independent', async (t) => {
  const server = await startEngine(t, { numPhoneLinesRequested: 2, phoneName: 'ivr', lineMode: LineMode.PhoneLine });
  autoAnswer(server);
  const callers = await startEngine(t, { numPhoneLinesRequested: 2, phoneName: 'callers' });
  t.is(await callers.engine.makeCall('ivr', '127.0.0.1', server.port, 0, true, 5000), T.SipSuccess);
  t.is(await callers.engine.makeCall('ivr', '127.0.0.1', server.port, 1, true, 5000), T.SipSuccess);
  await server.waitForCount(T.SipIncomingCallConnected, 2);
  await wait(300);
  t.is(server.of(T.SipCallHoldOn).length, 0);
});
