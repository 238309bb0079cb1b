/**
 * Calls with real media against SIPp (UDP, 127.0.0.1):
 * - a SIPp UAC streams a 1 kHz PCMU tone into an engine line that answers; the line's Rx IVR
 *   channel hears 1000 Hz and SIPp's BYE ends the call;
 * - the engine calls a SIPp UAS that echoes RTP, plays a 1 kHz WAV and hears the echo;
 * - INVITEs the engine must refuse (garbage SDP → 400/488, G.723 only → 488 with a Warning), a
 *   late-offer INVITE (offer in the 200, answer in the ACK) that connects, and a normal call afterwards;
 * - a SIPp UAC offering only G.729 (annexb=no) connects in G.729 and gets annexb=no back;
 * - a CANCEL crossing the 200 OK must leave the answered call up (RFC 3261 9.2).
 */
import type { ExecutionContext } from 'ava';
import { TelephonyReturnValue as T } from '../index.js';
import { assertTone, listenFor } from './helpers/audio.js';
import { sleep, startEngine, type EngineUnderTest } from './helpers/engine.js';
import { native, peerTest } from './helpers/env.js';
import { peerFile, runSipp, sippScenario, startSipp, waitForUdpPort } from './helpers/peers.js';
import { freePort, freePorts } from './helpers/ports.js';

/** Name the test engines answer as (the Request-URI user SIPp dials with `-s`). */
const PHONE_NAME = 'ivr';

/**
 * Starts an engine with its own block of RTP ports (reserved across ava workers), which
 * answers every call that rings as soon as it may.
 *
 * @param t - the test
 * @param lines - number of phone lines
 * @returns the engine under test
 */
async function answeringEngine(t: ExecutionContext, lines = 2): Promise<EngineUnderTest> {
  const rtp = await freePorts(16, { even: true });
  const e = await startEngine(t, {
    numPhoneLinesRequested: lines,
    phoneName: PHONE_NAME,
    minLocalRtpPort: rtp[0]!,
    maxLocalRtpPort: rtp[rtp.length - 1]! + 1,
  });
  e.engine.on('SipOkToAnswerCall', (n) => {
    const rc = e.engine.goOffHook(n.phoneLine);
    if (rc !== T.SipSuccess) t.log(`goOffHook(${n.phoneLine}): ${T[rc]}`);
  });
  return e;
}

/**
 * SIPp arguments of the shared PCMU streaming UAC calling the engine.
 *
 * @param e - the engine
 * @param durationMs - how long SIPp streams before BYE (`-d`)
 * @returns arguments for runSipp/startSipp
 */
async function streamingUacArgs(e: EngineUnderTest, durationMs: number): Promise<string[]> {
  const [sipPort] = await freePorts(1);
  const [mediaPort] = await freePorts(2, { even: true });
  return [
    `127.0.0.1:${e.port}`,
    '-sf', peerFile('sipp', 'uac-pcmu-stream.xml'),
    '-key', 'rtp_stream', 'tone1k.ul,-1,0',
    '-s', PHONE_NAME,
    '-p', String(sipPort),
    '-mp', String(mediaPort),
    '-d', String(durationMs),
    '-m', '1',
    '-timeout', '30s', '-timeout_error',
  ];
}

peerTest('SIPp UAC streams a 1 kHz PCMU tone into an answering line; its Rx IVR channel hears 1000 Hz; SIPp BYE ends it', ['sipp'], async (t) => {
  const e = await answeringEngine(t);
  const sipp = startSipp(await streamingUacArgs(e, 4000), { cwd: peerFile('sipp', ''), timeoutMs: 40_000 });
  t.teardown(() => sipp.kill());
  const connected = await e.waitFor(T.SipIncomingCallConnected);
  const line = connected.phoneLine;
  t.true(e.of(T.SipOkToAnswerCall).some((n) => n.phoneLine === line), 'the connected line rang first');
  const rx = e.engine.openRxIvrChannel(line, { sampleRate: 8000 });
  t.is(rx.result, T.SipSuccess);
  // skip the first 500 ms (jitter buffer fill, stream start), then listen 1.5 s
  await sleep(500);
  const pcm = await listenFor(rx.channel!, 1500);
  assertTone(t, pcm, 1000, 'engine Rx from SIPp');
  const info = e.engine.getActiveCallInfo(line);
  t.is(info.result, T.SipSuccess);
  t.is(info.codec, 'PCMU');
  const result = await sipp.wait();
  t.is(result.code, 0, result.summary);
  await e.waitFor(T.SipByeReceived, (n) => n.phoneLine === line);
  await e.waitFor(T.SipCallComplete, (n) => n.phoneLine === line);
  await e.waitFor(T.SipOnHook, (n) => n.phoneLine === line);
});

peerTest('the engine calls a SIPp UAS that echoes RTP: a 1 kHz WAV played out comes back at 1000 Hz; the engine hangs up', ['sipp'], async (t) => {
  const e = await answeringEngine(t);
  const port = await freePort();
  const [mediaPort] = await freePorts(2, { even: true });
  const uas = startSipp(
    ['-sf', peerFile('sipp', 'uas-pcmu-echo.xml'), '-p', String(port), '-mp', String(mediaPort), '-rtp_echo', '-m', '1', '-timeout', '30s', '-timeout_error'],
    { timeoutMs: 40_000 },
  );
  t.teardown(() => uas.kill());
  t.true(await waitForUdpPort(port), 'SIPp UAS bound its port');
  t.is(await e.engine.makeCall('service', '127.0.0.1', port, 0, true, 10_000), T.SipSuccess);
  await e.waitFor(T.SipOutgoingCallConnected, (n) => n.phoneLine === 0);
  const rx = e.engine.openRxIvrChannel(0, { sampleRate: 8000 });
  t.is(rx.result, T.SipSuccess);
  t.is(e.engine.playWaveFile(0, peerFile('audio', 'tone1k.wav'), true), T.SipSuccess);
  await sleep(600);
  const pcm = await listenFor(rx.channel!, 1500);
  assertTone(t, pcm, 1000, 'engine Rx of its own echo');
  const stats = e.engine.getActiveCallInfo(0).statistics as { tx: { packets: number }; rx: { received: number } } | undefined;
  t.truthy(stats);
  t.log(`tx packets ${stats?.tx.packets}, rx received ${stats?.rx.received}`);
  t.true((stats?.tx.packets ?? 0) > 50 && (stats?.rx.received ?? 0) > 50);
  t.is(await e.engine.terminateCall(0, true, 5000), T.SipSuccess);
  await e.waitFor(T.SipCallComplete, (n) => n.phoneLine === 0);
  const result = await uas.wait();
  t.is(result.code, 0, result.summary);
});

peerTest('INVITEs the engine must refuse (garbage SDP: 400/488, G.723 only: 488 with a Warning), a late offer that connects, then a normal call', ['sipp'], async (t) => {
  const e = await answeringEngine(t);
  let lastMediaPort = 0;
  const base = async (): Promise<string[]> => {
    const [sipPort] = await freePorts(1);
    const [mediaPort] = await freePorts(2, { even: true });
    lastMediaPort = mediaPort!;
    return [`127.0.0.1:${e.port}`, '-s', PHONE_NAME, '-p', String(sipPort), '-mp', String(mediaPort), '-m', '1', '-timeout', '20s', '-timeout_error'];
  };

  // 1. garbage in an application/sdp body
  const bad = await runSipp([...(await base()), '-sf', sippScenario('uac-call-bad-sdp.xml')], { timeoutMs: 30_000, traceMessages: true });
  t.is(bad.code, 0, bad.summary);
  const badAbort = await e.waitFor(T.SipIncomingCallAborted);
  t.log(`garbage SDP refused with ${JSON.stringify(badAbort.data)}`);
  t.true([400, 488].includes(Number(badAbort.data.statusCode)), `refused with ${JSON.stringify(badAbort.data)}`);

  // 2. only G.723 offered (a codec LineScape does not speak); the scenario checks the Warning
  const g723 = await runSipp([...(await base()), '-sf', sippScenario('uac-call-g723-only.xml')], { timeoutMs: 30_000 });
  t.is(g723.code, 0, g723.summary);
  const aborts = await e.waitForCount(T.SipIncomingCallAborted, 2);
  t.is(Number(aborts[1]!.data.statusCode), 488);
  t.is(e.of(T.SipIncomingCallConnected).length, 0, 'no refused call connected');
  t.is(e.of(T.SipOkToAnswerCall).length, 0, 'no refused call rang');

  // 3. late offer: INVITE without SDP, offer in our 200, answer in SIPp's ACK
  const late = startSipp([...(await base()), '-sf', sippScenario('uac-call-late-offer.xml'), '-d', '1500'], { timeoutMs: 30_000 });
  t.teardown(() => late.kill());
  const connected = await e.waitFor(T.SipIncomingCallConnected);
  const lateInfo = e.engine.getActiveCallInfo(connected.phoneLine);
  t.like(lateInfo, { result: T.SipSuccess, connected: true, codec: 'PCMU', remoteRtpAddress: '127.0.0.1', remoteRtpPort: lastMediaPort }, 'media from the answer in the ACK');
  const lateResult = await late.wait();
  t.is(lateResult.code, 0, lateResult.summary);
  await e.waitFor(T.SipByeReceived, (n) => n.phoneLine === connected.phoneLine);
  await e.waitForCount(T.SipCallComplete, 3);

  // 4. the engine still serves a normal call with media
  const normal = startSipp(await streamingUacArgs(e, 3000), { cwd: peerFile('sipp', ''), timeoutMs: 30_000 });
  t.teardown(() => normal.kill());
  const second = await e.waitForCount(T.SipIncomingCallConnected, 2);
  const rx = e.engine.openRxIvrChannel(second[1]!.phoneLine, { sampleRate: 8000 });
  t.is(rx.result, T.SipSuccess);
  await sleep(400);
  assertTone(t, await listenFor(rx.channel!, 1000), 1000, 'normal call after the refusals');
  const res = await normal.wait();
  t.is(res.code, 0, res.summary);
  await e.waitForCount(T.SipByeReceived, 2);
});

peerTest('a SIPp UAC offering only G.729 with annexb=no connects: the answer is G.729 with annexb=no, the line sends two-frame packets', ['sipp', native('bcg729')], async (t) => {
  const e = await answeringEngine(t);
  const [sipPort] = await freePorts(1);
  const [mediaPort] = await freePorts(2, { even: true });
  const sipp = startSipp(
    [`127.0.0.1:${e.port}`, '-sf', sippScenario('uac-call-g729.xml'), '-s', PHONE_NAME, '-p', String(sipPort), '-mp', String(mediaPort), '-d', '1500', '-m', '1', '-timeout', '20s', '-timeout_error'],
    { timeoutMs: 30_000 },
  );
  t.teardown(() => sipp.kill());
  const connected = await e.waitFor(T.SipIncomingCallConnected);
  const line = connected.phoneLine;
  const info = e.engine.getActiveCallInfo(line);
  t.like(info, { result: T.SipSuccess, connected: true, codec: 'G729', remoteRtpPort: mediaPort });
  const sent: number[] = [];
  e.engine.enableRawRtpPacketAccess(line, true, (d) => {
    if (d.transmittingPacket) sent.push(d.payloadType * 1000 + d.payload.length);
  });
  await sleep(500);
  t.true(sent.length > 5, `${sent.length} packets sent`);
  t.true(sent.every((v) => v === 18 * 1000 + 20), 'payload type 18, 20 octets (two frames) each');
  const result = await sipp.wait();
  t.is(result.code, 0, result.summary);
  await e.waitFor(T.SipByeReceived, (n) => n.phoneLine === line);
});

/**
 * A CANCEL that crosses the 200 OK has no effect on the answered call (RFC 3261 9.2): the
 * caller's ACK confirms it and its BYE gets 200.
 */
peerTest('a CANCEL crossing the 200 OK leaves the answered call up (RFC 3261 9.2); BYE then gets 200', ['sipp'], async (t) => {
  const e = await answeringEngine(t);
  const [sipPort] = await freePorts(1);
  const [mediaPort] = await freePorts(2, { even: true });
  const res = await runSipp(
    [`127.0.0.1:${e.port}`, '-sf', sippScenario('uac-call-cancel-after-200.xml'), '-s', PHONE_NAME, '-p', String(sipPort), '-mp', String(mediaPort), '-m', '1', '-timeout', '20s', '-timeout_error'],
    { timeoutMs: 30_000, traceMessages: true },
  );
  t.is(res.code, 0, res.summary);
  await e.waitFor(T.SipIncomingCallConnected);
  await e.waitFor(T.SipByeReceived);
  t.is(e.of(T.SipCallCanceled).length, 0, 'the CANCEL after the 200 changed nothing');
});
