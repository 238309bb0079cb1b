/**
 * Session timers (RFC 4028) against SIPp on 127.0.0.1, with intervals of seconds (the engine's
 * floor lowered through `EngineOptions.sessionTimerFloorSeconds`, the test hook; RFC 4028's 90 s
 * minimum holds otherwise). The SIPp scenarios check the headers; the engine is judged by its
 * notifications.
 * Engine as UAS:
 * - the caller refreshes (refresher=uac): 200 keeps it with Require: timer, the refresh is
 *   answered, the engine never hangs up by itself;
 * - an offer naming no refresher, with the engine's preference `local`: refresher=uas, and the
 *   engine refreshes with a re-INVITE;
 * - Session-Expires below our Min-SE: 422 with Min-SE;
 * - a caller that never refreshes (and sends Require: timer, which is honoured): the engine
 *   sends BYE before expiry, with SipSessionExpired;
 * - with session timers off, Require: timer gets 420 with Unsupported: timer.
 * Engine as UAC:
 * - 422 with Min-SE: the INVITE again with the larger interval;
 * - refresher=uac in the 200: the engine re-INVITEs at half the interval, or sends UPDATEs
 *   without a body when the far end's Allow lists UPDATE;
 * - its refresh answered 481, or not at all: BYE, SipSessionExpired with the status (0: none).
 * baresip (1.0, which does not do session timers): the engine calling it refreshes by itself
 * (no Session-Expires in baresip's 200) and the call outlives several intervals.
 * And the start option's validation.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { TelephonyReturnValue as T, VoipMediaEngine, type StartSipTelephonyParams } from '../index.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { type SippHandle, runSippUac, startSippUas } from './helpers/peers.js';
import { freePorts } from './helpers/ports.js';
import { startBaresip } from './helpers/baresip.js';
import { sleep } from './helpers/engine.js';

const PHONE_NAME = 'st';

/** An engine whose session timers run in seconds (floor 1 s, Min-SE 4 s), answering every call. */
async function engine(t: ExecutionContext, sessionTimer: StartSipTelephonyParams['sessionTimer'] = {}, extra: StartSipTelephonyParams = {}): Promise<EngineUnderTest> {
  const rtp = await freePorts(8, { even: true });
  const e = await startEngine(
    t,
    {
      numPhoneLinesRequested: 2,
      phoneName: PHONE_NAME,
      minLocalRtpPort: rtp[0]!,
      maxLocalRtpPort: rtp[rtp.length - 1]! + 1,
      mediaTimeoutSeconds: 0,
      sessionTimer: { minSeSeconds: 4, intervalSeconds: 30, ...sessionTimer },
      ...extra,
    },
    { sessionTimerFloorSeconds: 1 },
  );
  e.engine.on('SipOkToAnswerCall', (n) => void e.engine.goOffHook(n.phoneLine));
  return e;
}

/** Runs a SIPp UAC scenario against `e` to its end. */
async function uac(e: EngineUnderTest, scenario: string): Promise<{ code: number | null; summary: string }> {
  return runSippUac(e.port, scenario, PHONE_NAME, { timeoutSeconds: 30 });
}

/** Starts a SIPp UAS scenario on a free port and waits for it to bind. */
async function uas(t: ExecutionContext, scenario: string): Promise<{ sipp: SippHandle; port: number }> {
  return startSippUas(t, scenario, { timeoutSeconds: 30 });
}

/** Engine as UAC, the far end (SIPp `scenario`) names us refresher: our refreshes keep the call until SIPp hangs up. */
async function weRefreshUntilFarEndHangsUp(t: ExecutionContext, scenario: string): Promise<void> {
  const e = await engine(t);
  const { sipp, port } = await uas(t, scenario);
  t.is(await e.engine.makeCall('far', '127.0.0.1', port, 0, true, 10_000), T.SipSuccess);
  const complete = await e.waitFor(T.SipCallComplete, (n) => n.phoneLine === 0);
  t.is(complete.data.reason, 'SipByeReceived');
  const res = await sipp.wait();
  t.is(res.code, 0, res.summary);
  t.is(e.of(T.SipSessionExpired).length, 0);
  t.is(e.of(T.SipCallHoldOn).length + e.of(T.SipCallHoldOff).length, 0, 'a refresh is not a hold');
}

/** Engine as UAS, SIPp `scenario` refreshes: the session outlives its interval and SIPp hangs up, never the engine. */
async function farEndRefreshesUntilItHangsUp(t: ExecutionContext, scenario: string): Promise<void> {
  const e = await engine(t);
  const res = await uac(e, scenario);
  t.is(res.code, 0, res.summary);
  const complete = await e.waitFor(T.SipCallComplete);
  t.is(complete.data.reason, 'SipByeReceived');
  t.is(e.of(T.SipSessionExpired).length, 0);
  t.is(e.of(T.SipSendBye).length, 0, 'the engine did not hang up');
}

peerTest('UAS: the caller refreshes (refresher=uac): 200 keeps it with Require: timer, the refresh is answered, SIPp hangs up', ['sipp'], async (t) => {
  await farEndRefreshesUntilItHangsUp(t, 'uac-st-refresher-uac.xml');
});

peerTest('UAS: the caller refreshes by UPDATE without a body: each 200 carries Session-Expires, and the session outlives the interval', ['sipp'], async (t) => {
  await farEndRefreshesUntilItHangsUp(t, 'uac-st-refresh-update.xml');
});

peerTest('UAS: an offer naming no refresher, preference local: 200 says refresher=uas and the engine refreshes by re-INVITE', ['sipp'], async (t) => {
  const e = await engine(t, { refresher: 'local' });
  const res = await uac(e, 'uac-st-no-refresher.xml');
  t.is(res.code, 0, res.summary);
  const complete = await e.waitFor(T.SipCallComplete);
  t.is(complete.data.reason, 'SipByeReceived');
  t.is(e.of(T.SipSessionExpired).length, 0);
});

peerTest('UAS: Session-Expires below our Min-SE gets 422 Session Interval Too Small with Min-SE, before a line rings', ['sipp'], async (t) => {
  const e = await engine(t);
  const res = await uac(e, 'uac-st-too-small.xml');
  t.is(res.code, 0, res.summary);
  t.is(e.of(T.SipIncomingCallStart).length, 0, 'refused before a line was chosen');
});

peerTest('UAS: a caller that never refreshes is hung up before the session expires: SipSessionExpired, BYE, reason SipSessionExpired', ['sipp'], async (t) => {
  const e = await engine(t);
  const res = await uac(e, 'uac-st-never-refreshes.xml');
  t.is(res.code, 0, res.summary);
  const connected = await e.waitFor(T.SipIncomingCallConnected);
  const line = connected.phoneLine;
  const expired = await e.waitFor(T.SipSessionExpired, (n) => n.phoneLine === line);
  t.deepEqual(expired.data, { seconds: 6 });
  await e.waitFor(T.SipReceivedByeAck, (n) => n.phoneLine === line);
  const complete = await e.waitFor(T.SipCallComplete, (n) => n.phoneLine === line);
  t.is(complete.data.reason, 'SipSessionExpired');
  const order = e.seen.filter((n) => n.phoneLine === line).map((n) => T[n.event]);
  const at = (name: string) => order.indexOf(name);
  t.true(at('SipInCall') < at('SipSessionExpired') && at('SipSessionExpired') < at('SipSendBye'), order.join(', '));
});

peerTest('UAC: a 422 with Min-SE is followed by the INVITE again with the larger interval, which connects', ['sipp'], async (t) => {
  const e = await engine(t, { intervalSeconds: 6 });
  const { sipp, port } = await uas(t, 'uas-st-422.xml');
  t.is(await e.engine.makeCall('far', '127.0.0.1', port, 0, true, 10_000), T.SipSuccess);
  await e.waitFor(T.SipOutgoingCallConnected, (n) => n.phoneLine === 0);
  t.is(await e.engine.terminateCall(0, true, 5000), T.SipSuccess);
  const res = await sipp.wait();
  t.is(res.code, 0, res.summary);
  t.is(e.of(T.SipFarEndError).length, 0);
});

peerTest('UAC: refresher=uac in the 200: the engine refreshes by re-INVITE at half the interval; SIPp hangs up after it', ['sipp'], async (t) => {
  await weRefreshUntilFarEndHangsUp(t, 'uas-st-refresher-uac.xml');
});

peerTest('UAC: a far end whose Allow lists UPDATE is refreshed by UPDATE without a body (RFC 4028 §7.4), twice, and no re-INVITE goes', ['sipp'], async (t) => {
  await weRefreshUntilFarEndHangsUp(t, 'uas-st-refresh-update.xml');
});

peerTest('UAC: a refresh answered 481 ends the call with BYE and SipSessionExpired naming the status', ['sipp'], async (t) => {
  const e = await engine(t);
  const { sipp, port } = await uas(t, 'uas-st-refresh-481.xml');
  t.is(await e.engine.makeCall('far', '127.0.0.1', port, 0, true, 10_000), T.SipSuccess);
  const expired = await e.waitFor(T.SipSessionExpired, (n) => n.phoneLine === 0);
  t.deepEqual(expired.data, { seconds: 4, refreshStatus: 481 });
  const complete = await e.waitFor(T.SipCallComplete, (n) => n.phoneLine === 0);
  t.is(complete.data.reason, 'SipSessionExpired');
  const res = await sipp.wait();
  t.is(res.code, 0, res.summary);
});

peerTest('UAC: a refresh that gets no answer (Timer B) ends the call with BYE and SipSessionExpired, refreshStatus 0', ['sipp'], async (t) => {
  // T1 50 ms: Timer B (64 T1) is 3.2 s
  const e = await engine(t, {}, { sipT1Ms: 50, sipT2Ms: 400 });
  const { sipp, port } = await uas(t, 'uas-st-refresh-unanswered.xml');
  t.is(await e.engine.makeCall('far', '127.0.0.1', port, 0, true, 10_000), T.SipSuccess);
  const expired = await e.waitFor(T.SipSessionExpired, (n) => n.phoneLine === 0);
  t.deepEqual(expired.data, { seconds: 4, refreshStatus: 0 });
  const complete = await e.waitFor(T.SipCallComplete, (n) => n.phoneLine === 0);
  t.is(complete.data.reason, 'SipSessionExpired');
  const res = await sipp.wait();
  t.is(res.code, 0, res.summary);
});

peerTest('Require: timer is refused 420 when session timers are off', ['sipp'], async (t) => {
  const e = await engine(t, { enabled: false });
  const res = await uac(e, 'uac-st-require-timer-off.xml');
  t.is(res.code, 0, res.summary);
  t.is(e.of(T.SipIncomingCallStart).length, 0);
});

peerTest('baresip, which has no session timers, answers the engine\'s refresh re-INVITEs: the call outlives three intervals', ['baresip'], async (t) => {
  const e = await engine(t, { intervalSeconds: 4 });
  const peer = await startBaresip({ user: 'alice', codecs: 'PCMU', answerMode: 'auto' });
  t.teardown(() => peer.stop());
  t.is(await e.engine.makeCall(peer.user, '127.0.0.1', peer.port, -1, true, 15_000), T.SipSuccess);
  const connected = await e.waitFor(T.SipOutgoingCallConnected);
  await peer.waitEvent('CALL_ESTABLISHED', 15);
  // the engine refreshes every 2 s; without the refreshes answered it would end the call
  await sleep(12_000);
  t.is(e.of(T.SipSessionExpired).length, 0);
  t.is(e.of(T.SipCallComplete).length, 0, 'still connected');
  t.is(peer.events.filter((ev) => ev.type === 'CALL_CLOSED').length, 0);
  t.is(await e.engine.terminateCall(connected.phoneLine, true, 5000), T.SipSuccess);
  await peer.waitEvent('CALL_CLOSED', 15);
});

test('the sessionTimer start option: bad values are SipBadParameter; Min-SE below 90 s needs the test hook', async (t) => {
  const engine = new VoipMediaEngine();
  const bad: unknown[] = [
    'on',
    null,
    { enabled: 'yes' },
    { minSeSeconds: 89 },
    { minSeSeconds: 90.5 },
    { intervalSeconds: 60 },
    { intervalSeconds: 120, minSeSeconds: 180 },
    { refresher: 'me' },
  ];
  for (const st of bad) {
    t.is(await engine.startSipTelephony({ ipAddressOfThisHost: '127.0.0.1', sipPort: 0, sessionTimer: st as StartSipTelephonyParams['sessionTimer'] }), T.SipBadParameter, JSON.stringify(st));
  }
  const ok = await startEngine(t, { sessionTimer: { intervalSeconds: 600, minSeSeconds: 120, refresher: 'remote' } });
  t.is(ok.engine.getSipPort() > 0, true);
  const off = await startEngine(t, { sessionTimer: { enabled: false } });
  t.is(off.engine.getSipPort() > 0, true);
});
