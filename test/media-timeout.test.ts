/**
 * The media time-out against real peers on 127.0.0.1:
 * - a SIPp UAC that sends no RTP or RTCP is hung up after `mediaTimeoutSeconds` with
 *   SipMediaTimeout and a BYE that reaches SIPp (its scenario waits for the BYE and answers 200);
 * - a SIPp UAC that holds the call from the start (sendonly, inactive) and sends nothing is not
 *   hung up: SIPp ends it with its own BYE after more than the time-out;
 * - an engine-to-engine call with RTP flowing outlives several time-outs;
 * - the start option and setMediaTimeout refuse bad values, and 0 turns the check off.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { TelephonyReturnValue as T, LineState } from '../index.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { runSipp, sippScenario } from './helpers/peers.js';
import { freePorts } from './helpers/ports.js';
import { mediaWait } from './helpers/mediaTime.js';

const PHONE_NAME = 'mto';

/** An engine with its own RTP ports and the given media time-out, answering every call. */
async function answeringEngine(t: ExecutionContext, mediaTimeoutSeconds: number): Promise<EngineUnderTest> {
  const rtp = await freePorts(8, { even: true });
  const e = await startEngine(t, {
    numPhoneLinesRequested: 2,
    phoneName: PHONE_NAME,
    minLocalRtpPort: rtp[0]!,
    maxLocalRtpPort: rtp[rtp.length - 1]! + 1,
    mediaTimeoutSeconds,
  });
  e.engine.on('SipOkToAnswerCall', (n) => e.engine.goOffHook(n.phoneLine));
  return e;
}

/** SIPp UAC arguments calling `e` with scenario `name`. */
async function uacArgs(e: EngineUnderTest, name: string, extra: string[] = []): Promise<string[]> {
  const [sipPort] = await freePorts(1);
  const [mediaPort] = await freePorts(2, { even: true });
  return [
    `127.0.0.1:${e.port}`, '-sf', sippScenario(name), '-s', PHONE_NAME,
    '-p', String(sipPort), '-mp', String(mediaPort), '-m', '1', '-timeout', '30s', '-timeout_error', ...extra,
  ];
}

peerTest('a SIPp UAC that sends no RTP is hung up after the media time-out: SipMediaTimeout, then a BYE that SIPp answers', ['sipp'], async (t) => {
  const e = await answeringEngine(t, 2);
  const res = await runSipp(await uacArgs(e, 'uac-call-no-media.xml'), { timeoutMs: 40_000, traceMessages: true });
  t.is(res.code, 0, res.summary);
  const connected = await e.waitFor(T.SipIncomingCallConnected);
  const line = connected.phoneLine;
  const timedOut = await e.waitFor(T.SipMediaTimeout, (n) => n.phoneLine === line);
  t.deepEqual(timedOut.data, { seconds: 2 });
  await e.waitFor(T.SipReceivedByeAck, (n) => n.phoneLine === line);
  const complete = await e.waitFor(T.SipCallComplete, (n) => n.phoneLine === line);
  t.is(complete.data.reason, 'SipMediaTimeout');
  await e.waitFor(T.SipOnHook, (n) => n.phoneLine === line);
  const order = e.seen.filter((n) => n.phoneLine === line).map((n) => T[n.event]);
  const at = (name: string) => order.indexOf(name);
  t.true(at('SipInCall') < at('SipMediaTimeout') && at('SipMediaTimeout') < at('SipSendBye') && at('SipSendBye') < at('SipCallComplete'), order.join(', '));
  t.is(e.of(T.SipByeReceived).length, 0, 'the engine hung up, not SIPp');
  t.is(e.engine.getLineStatus(line).state, LineState.OnHook);
});

for (const dir of ['sendonly', 'inactive'] as const) {
  peerTest(`a SIPp UAC that holds the call (${dir}) and sends nothing is not hung up by the media time-out`, ['sipp'], async (t) => {
    const e = await answeringEngine(t, 1);
    // 4 s of silence against a 1 s time-out (the sweep adds at most 1 s)
    const res = await runSipp(await uacArgs(e, 'uac-call-held-no-media.xml', ['-key', 'dir', dir, '-d', '4000']), { timeoutMs: 40_000, traceMessages: true });
    t.is(res.code, 0, res.summary);
    const connected = await e.waitFor(T.SipIncomingCallConnected);
    t.true(e.of(T.SipFarEndHoldOn).some((n) => n.phoneLine === connected.phoneLine), 'the engine saw the hold');
    await e.waitFor(T.SipByeReceived, (n) => n.phoneLine === connected.phoneLine);
    const complete = await e.waitFor(T.SipCallComplete, (n) => n.phoneLine === connected.phoneLine);
    t.is(complete.data.reason, 'SipByeReceived');
    t.is(e.of(T.SipMediaTimeout).length, 0);
    t.is(e.of(T.SipSendBye).length, 0);
  });
}

test('an engine-to-engine call with RTP flowing outlives several media time-outs', async (t) => {
  const callee = await startEngine(t, { phoneName: 'callee', mediaTimeoutSeconds: 1 });
  callee.engine.on('SipOkToAnswerCall', (n) => callee.engine.goOffHook(n.phoneLine));
  const caller = await startEngine(t, { phoneName: 'caller', mediaTimeoutSeconds: 1 });
  t.is(await caller.engine.makeCall('callee', '127.0.0.1', callee.port, 0, true, 10_000), T.SipSuccess);
  await callee.waitFor(T.SipIncomingCallConnected);
  // 4 s of media time on each side (a loaded machine may take longer in wall time)
  t.true((await mediaWait(caller.engine, 0, 4000)) >= 200);
  t.true((await mediaWait(callee.engine, 0, 1000)) >= 50);
  t.is(caller.of(T.SipMediaTimeout).length + callee.of(T.SipMediaTimeout).length, 0);
  t.is(caller.engine.getLineStatus(0).state, LineState.InCall);
  t.is(callee.engine.getLineStatus(0).state, LineState.InCall);
  t.is(await caller.engine.terminateCall(0, true, 5000), T.SipSuccess);
  const complete = await callee.waitFor(T.SipCallComplete);
  t.is(complete.data.reason, 'SipByeReceived');
});

test('mediaTimeoutSeconds and setMediaTimeout refuse bad values; 0 is allowed', async (t) => {
  const { VoipMediaEngine } = await import('../index.js');
  for (const bad of [-1, 1.5, '60', 4_294_968]) {
    const engine = new VoipMediaEngine();
    t.is(await engine.startSipTelephony({ ipAddressOfThisHost: '127.0.0.1', sipPort: 0, mediaTimeoutSeconds: bad as number }), T.SipBadParameter, String(bad));
  }
  const e = await startEngine(t, { mediaTimeoutSeconds: 0 });
  for (const bad of [-1, 1.5, '60', Number.NaN, 4_294_968]) t.is(e.engine.setMediaTimeout(bad as number), T.SipBadParameter, String(bad));
  t.is(e.engine.setMediaTimeout(0), T.SipSuccess);
  t.is(e.engine.setMediaTimeout(30), T.SipSuccess);
  t.is(new VoipMediaEngine().setMediaTimeout(30), T.SipMediaEngineNotInitialized);
});
