/**
 * Early media against real peers (issue 10, item 4):
 * - SIPp UAS answers 183 with SDP and streams a 1 kHz tone (rtp_stream), then answers 200
 *   without SDP: the engine's line hears the tone by frequency in the 183 phase (Rx IVR channel,
 *   raw RTP, recording), raises SipEarlyMedia, and connects on the 183's answer;
 * - engine to engine: the callee answers with 183 (sendCallProgress) and plays a WAV; the caller
 *   hears it before the answer; then goOffHook and the call proceeds with media both ways.
 */
import type { ExecutionContext } from 'ava';
import test from 'ava';
import { TelephonyReturnValue as T } from '../index.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { assertTone, capture, sendTone } from './helpers/audio.js';
import { until } from './helpers/observe.js';
import { peerFile, sippScenario, startSipp, waitForUdpPort } from './helpers/peers.js';
import { freePort, freePorts } from './helpers/ports.js';

async function engine(t: ExecutionContext, phoneName: string): Promise<EngineUnderTest> {
  const rtp = await freePorts(8, { even: true });
  return startEngine(t, { numPhoneLinesRequested: 2, phoneName, minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[rtp.length - 1]! + 1, enablePhoneLineRecording: true });
}

peerTest('SIPp 183 + RTP tone, then 200 without SDP: the line hears 1 kHz before the answer (IVR Rx, raw RTP, recording), SipEarlyMedia, and connects on the 183 answer', ['sipp'], async (t) => {
  const e = await engine(t, 'ivr');
  const port = await freePort();
  const [mediaPort] = await freePorts(2, { even: true });
  const sipp = startSipp(
    ['-sf', sippScenario('uas-183-early-media.xml'), '-key', 'rtp_stream', `${peerFile('sipp', 'tone1k.ul')},-1,0`, '-d', '4000',
      '-p', String(port), '-mp', String(mediaPort), '-m', '1', '-timeout', '30s', '-timeout_error'],
    { timeoutMs: 40_000 },
  );
  t.teardown(() => sipp.kill());
  t.true(await waitForUdpPort(port), 'SIPp UAS bound its port');
  let rawBeforeAnswer = 0;
  let answered = false;
  t.is(e.engine.enableRawRtpPacketAccess(0, true, () => {
    if (!answered) rawBeforeAnswer++;
  }), T.SipSuccess);
  let cap: ReturnType<typeof capture> | undefined;
  let recorded = 0;
  let recordedPeak = 0;
  e.engine.on('SipEarlyMedia', (n) => {
    cap ??= capture(e.engine, n.phoneLine);
    // recording follows the early media like a connected call's
    const rc = e.engine.startPhoneLineRecording(n.phoneLine, false, false, '', (f) => {
      if (answered) return;
      recorded++;
      for (let i = 0; i < f.samples; i++) recordedPeak = Math.max(recordedPeak, Math.abs(f.rx[i]!));
    });
    if (rc !== T.SipSuccess) t.fail(`startPhoneLineRecording: ${T[rc]}`);
  });
  let early: Int16Array | undefined;
  e.engine.on('SipInviteOkReceived', () => {
    answered = true;
    early = cap?.samples().slice();
  });
  t.is(await e.engine.makeCall('far', '127.0.0.1', port, 0, false, 0), T.SipSuccess);
  const n = await e.waitFor(T.SipEarlyMedia, (x) => x.phoneLine === 0);
  t.like(n.data, { statusCode: 183, remoteAddress: '127.0.0.1', remotePort: mediaPort, codec: 'PCMU' });
  await e.waitFor(T.SipOutgoingCallConnected, (x) => x.phoneLine === 0, 30_000);
  t.truthy(early, 'audio was captured before the 200');
  assertTone(t, early!, 1000, 'early media (183 phase)');
  t.true(rawBeforeAnswer > 0, `raw RTP seen before the answer (${rawBeforeAnswer} packets)`);
  t.true(recorded > 0 && recordedPeak > 1000, `recorded before the answer (${recorded} frames, rx peak ${recordedPeak})`);
  t.is(e.of(T.SipFarEndError).length, 0, 'the 200 without SDP is not "No SDP answer"');
  const order = e.seen.map((x) => x.event);
  t.true(order.indexOf(T.SipEarlyMedia) < order.indexOf(T.SipInviteOkReceived));
  t.is(await e.engine.terminateCall(0, true, 5000), T.SipSuccess);
  const res = await sipp.wait();
  t.is(res.code, 0, res.summary);
});

test('engine to engine: the callee answers 183 (sendCallProgress) and plays a WAV; the caller hears it before the answer; then goOffHook and the call proceeds', async (t) => {
  const a = await engine(t, 'alice');
  const b = await engine(t, 'bob');
  b.engine.on('SipOkToAnswerCall', (n) => {
    const rc = b.engine.sendCallProgress(n.phoneLine);
    if (rc !== T.SipSuccess) t.fail(`sendCallProgress: ${T[rc]}`);
    const played = b.engine.playWaveFile(n.phoneLine, peerFile('audio', 'tone440.wav'), true);
    if (played !== T.SipSuccess) t.fail(`playWaveFile: ${T[played]}`);
  });
  let cap: ReturnType<typeof capture> | undefined;
  a.engine.on('SipEarlyMedia', (n) => {
    cap ??= capture(a.engine, n.phoneLine);
  });
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 0, false, 0), T.SipSuccess);
  await a.waitFor(T.SipEarlyMedia, (n) => n.phoneLine === 0);
  await b.waitFor(T.SipSendSessionProgress);
  // a second of audio, heard while nobody answered
  t.true(await until(() => (cap?.samples().length ?? 0) >= 8000, 20_000), 'the caller receives early media');
  t.is(a.of(T.SipOutgoingCallConnected).length, 0, 'not answered yet');
  t.is(b.of(T.SipSend200Ok).length, 0);
  assertTone(t, cap!.samples().slice(), 440, 'the callee\'s WAV before the answer');
  b.engine.stopWaveFile(0);

  t.is(b.engine.goOffHook(0), T.SipSuccess);
  await a.waitFor(T.SipOutgoingCallConnected, (n) => n.phoneLine === 0);
  await b.waitFor(T.SipIncomingCallConnected);
  // the call proceeds: the caller's voice reaches the callee on the same session
  const back = capture(b.engine, 0);
  sendTone(a.engine, 0, 1000, 3);
  t.true(await until(() => back.samples().length >= 16000, 20_000));
  assertTone(t, back.samples().slice(-8000), 1000, 'the caller after the answer');
  t.is(a.of(T.SipEarlyMedia).length, 1);
  t.is(await a.engine.terminateCall(0, true, 5000), T.SipSuccess);
  await b.waitFor(T.SipByeReceived);
});
