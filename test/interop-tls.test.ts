/**
 * SIP over TLS against real peers on 127.0.0.1, with a throw-away PKI made by openssl
 * (test/helpers/tlsPki.ts):
 * - Kamailio with its TLS module (test/helpers/kamailioTls.ts: the shared configuration plus TLS
 *   listeners): a 4-line engine registers per-line names over TLS with digest auth; a call
 *   through Kamailio over TLS carries audio both ways; a wrong CA or a certificate for another
 *   host name fail the registration with the TLS reason; a restarted Kamailio sees the engine
 *   reconnect and register again.
 * - SIPp as UAC and UAS. Debian's SIPp is built without TLS (`-t l1` fails: "To use a TLS
 *   transport you must compile SIPp with OpenSSL"), and neither socat nor stunnel is installed,
 *   so SIPp speaks TCP to a small TLS<->TCP relay (test/helpers/tlsRelay.ts) and the relay speaks
 *   TLS to the engine: what the engine sees is a TLS peer; what SIPp sees is plain TCP.
 */
import type { ExecutionContext } from 'ava';
import { TelephonyReturnValue as T } from '../index.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { freePort, freePorts } from './helpers/ports.js';
import { testPki } from './helpers/tlsPki.js';
import { kamailioTlsModule, startKamailioTls, type KamailioTls } from './helpers/kamailioTls.js';
import { peerFile, sippScenario, startSipp, type KamailioHandle, type KamailioRegistration } from './helpers/peers.js';
import { analyse, assertTone, capture, listenFor, sendTone } from './helpers/audio.js';
import { startTlsRelay } from './helpers/tlsRelay.js';
import { execFileSync } from 'node:child_process';
import { until } from './helpers/observe.js';

const KAMAILIO_TLS = ['kamailio', 'sipp', 'openssl', kamailioTlsModule()];

async function kamailioTls(t: ExecutionContext, args?: readonly string[]): Promise<KamailioTls> {
  const k = await startKamailioTls(testPki(), { args });
  t.teardown(() => k.handle.stop());
  return k;
}

/** An engine sending over TLS, trusting the test CA, with a TLS listener of its own. */
async function tlsEngine(t: ExecutionContext, phoneName: string, lines: number, ca = testPki().ca.cert): Promise<EngineUnderTest & { tlsPort: number }> {
  const pki = testPki();
  const tlsPort = await freePort();
  const e = await startEngine(t, {
    phoneName,
    numPhoneLinesRequested: lines,
    sipTransport: 'TLS',
    tlsPort,
    tls: { certificate: pki.server.cert, privateKey: pki.server.key, ca },
  });
  return Object.assign(e, { tlsPort });
}

async function bindings(k: KamailioHandle, want: (r: KamailioRegistration[]) => boolean, timeoutMs = 15_000): Promise<KamailioRegistration[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const regs = await k.registrations();
    if (want(regs) || Date.now() > end) return regs;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function credentials(e: EngineUnderTest, users: string[]): void {
  for (const u of users) e.engine.addAuthorizationCredentials(u, `secret-${u}`, '127.0.0.1');
}

peerTest('Kamailio over TLS: a 4-line engine registers 100..103 with digest auth, Contact transport=tls', KAMAILIO_TLS, async (t) => {
  const k = await kamailioTls(t);
  const e = await tlsEngine(t, 'desk', 4);
  credentials(e, ['100', '101', '102', '103']);
  const t0 = performance.now();
  t.is(await e.engine.enableSipRegisterServer('100,101,102,103', true, false, '127.0.0.1', k.tlsPort, 60, 60, 5000, false), T.SipSuccess);
  const ok = await e.waitForCount(T.SipRegisterSuccess, 4);
  t.log(`4 registrations over TLS (one handshake, digest auth) in ${(performance.now() - t0).toFixed(0)} ms`);
  t.deepEqual(ok.map((n) => n.data.name).sort(), ['100', '101', '102', '103']);
  for (const n of ok) t.regex(n.data.contact, new RegExp(`^sip:${n.data.name}@127\\.0\\.0\\.1:${e.tlsPort};transport=tls$`));
  const regs = await bindings(k.handle, (r) => r.length === 4);
  t.deepEqual(regs.map((r) => r.aor).sort(), ['100', '101', '102', '103']);
  for (const r of regs) t.regex(r.socket, new RegExp(`^tls:127\\.0\\.0\\.1:${k.tlsPort}$`), 'bound over the TLS socket');
  t.deepEqual(e.of(T.SipTlsError), []);
  for (let line = 0; line < 4; line++) t.is(e.engine.lineForIncomingCall(String(100 + line)), line);

  // the same over UDP for comparison (figures only, no assertion on time)
  const u = await startEngine(t, { phoneName: 'udp', numPhoneLinesRequested: 4 });
  credentials(u, ['110', '111', '112', '113']);
  const u0 = performance.now();
  await u.engine.enableSipRegisterServer('110,111,112,113', true, false, '127.0.0.1', k.handle.port, 60, 60, 5000, false);
  await u.waitForCount(T.SipRegisterSuccess, 4);
  t.log(`4 registrations over UDP in ${(performance.now() - u0).toFixed(0)} ms`);
  t.is(await e.engine.disableSipRegisterServer(), T.SipSuccess);
  await e.waitForCount(T.SipUnRegisterSuccess, 4);
});

peerTest('Kamailio over TLS: a call between two registered engines carries audio both ways', KAMAILIO_TLS, async (t) => {
  const k = await kamailioTls(t, ['-A', 'NO_PROXY_AUTH']);
  const caller = await tlsEngine(t, 'caller', 1);
  const callee = await tlsEngine(t, 'callee', 1);
  credentials(caller, ['120']);
  credentials(callee, ['121']);
  t.is(await caller.engine.enableSipRegisterServer('120', true, false, '127.0.0.1', k.tlsPort, 60, 60, 5000, false), T.SipSuccess);
  t.is(await callee.engine.enableSipRegisterServer('121', true, false, '127.0.0.1', k.tlsPort, 60, 60, 5000, false), T.SipSuccess);
  await caller.waitFor(T.SipRegisterSuccess);
  await callee.waitFor(T.SipRegisterSuccess);
  callee.engine.on('SipOkToAnswerCall', (n) => callee.engine.goOffHook(n.phoneLine));
  t.is(await caller.engine.enableSipProxyServer('127.0.0.1', k.tlsPort), T.SipSuccess);
  t.is(caller.engine.enableSipDomain('127.0.0.1'), T.SipSuccess);
  t.is(await caller.engine.makeCall('121', '', 0, 0, true, 15_000), T.SipSuccess);
  await callee.waitFor(T.SipIncomingCallConnected);
  const atCallee = capture(callee.engine, 0);
  const atCaller = capture(caller.engine, 0);
  sendTone(caller.engine, 0, 600, 2);
  sendTone(callee.engine, 0, 1000, 2);
  await until(() => atCallee.samples().length >= 12_000 && atCaller.samples().length >= 12_000, 30_000);
  const a = analyse(atCallee.samples());
  const b = analyse(atCaller.samples());
  t.true(Math.abs(a.freq - 600) < 15, `callee hears ${a.freq} Hz`);
  t.true(Math.abs(b.freq - 1000) < 20, `caller hears ${b.freq} Hz`);
  t.is(await caller.engine.terminateCall(0, true, 5000), T.SipSuccess);
  await callee.waitFor(T.SipCallComplete);
  t.deepEqual([...caller.of(T.SipTlsError), ...callee.of(T.SipTlsError)], []);
});

peerTest('Kamailio over TLS: a wrong CA fails the registration with unknown-ca, a certificate for another name with host-name-mismatch', KAMAILIO_TLS, async (t) => {
  const k = await kamailioTls(t);
  const wrongCa = await tlsEngine(t, 'wrongca', 1, testPki().otherCa.cert);
  wrongCa.engine.registrationErrorRetryTime(60_000);
  credentials(wrongCa, ['130']);
  t.is(await wrongCa.engine.enableSipRegisterServer('130', true, false, '127.0.0.1', k.tlsPort, 60, 60, 5000, false), T.SipSuccess);
  const e1 = await wrongCa.waitFor(T.SipRegisterError);
  t.like(e1.data, { name: '130', statusCode: 503, reasonPhrase: 'TLS unknown-ca', tlsReason: 'unknown-ca' });
  t.like((await wrongCa.waitFor(T.SipTlsError)).data, { reason: 'unknown-ca', outgoing: true, peer: { host: '127.0.0.1', port: k.tlsPort } });

  const wrongName = await tlsEngine(t, 'wrongname', 1);
  wrongName.engine.registrationErrorRetryTime(60_000);
  credentials(wrongName, ['131']);
  t.is(await wrongName.engine.enableSipRegisterServer('131', true, false, '127.0.0.1', k.wrongNamePort, 60, 60, 5000, false), T.SipSuccess);
  const e2 = await wrongName.waitFor(T.SipRegisterError);
  t.like(e2.data, { name: '131', statusCode: 503, reasonPhrase: 'TLS host-name-mismatch', tlsReason: 'host-name-mismatch' });
  t.deepEqual(await k.handle.registrations(), [], 'nothing was registered');
  t.deepEqual(wrongCa.of(T.SipRegisterSuccess), []);
});

peerTest.serial('Kamailio over TLS restarted: the engine reconnects and registers again', KAMAILIO_TLS, async (t) => {
  const k = await kamailioTls(t);
  const e = await tlsEngine(t, 'desk', 2);
  e.engine.registrationErrorRetryTime(1000);
  credentials(e, ['140', '141']);
  t.is(await e.engine.enableSipRegisterServer('140,141', true, false, '127.0.0.1', k.tlsPort, 3600, 3600, 5000, false), T.SipSuccess);
  await e.waitForCount(T.SipRegisterSuccess, 2);
  t.is((await bindings(k.handle, (r) => r.length === 2)).length, 2);
  await k.handle.stop();
  const before = e.of(T.SipRegisterSuccess).length;
  await k.restart();
  t.teardown(() => k.handle.stop());
  t.deepEqual(await k.handle.registrations(), [], 'the new Kamailio starts empty');
  // the refresh interval is an hour: only the dropped connection can bring the names back now
  await e.waitForCount(T.SipRegisterSuccess, before + 2, undefined, 30_000);
  const regs = await bindings(k.handle, (r) => r.length === 2, 15_000);
  t.deepEqual(regs.map((r) => r.aor).sort(), ['140', '141']);
  for (const r of regs) t.regex(r.socket, /^tls:/);
});

// ------------------------------------------------------------------ SIPp through the TLS relay

/** Waits until something listens on TCP 127.0.0.1:port (SIPp -t t1 binds no UDP). */
async function waitForTcpListener(port: number, timeoutMs = 5000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (execFileSync('ss', ['-Hlnt', `sport = :${port}`], { encoding: 'utf8' }).trim() !== '') return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** An engine answering every call, with its own RTP ports, listening on TLS. */
async function answeringTlsEngine(t: ExecutionContext): Promise<EngineUnderTest & { tlsPort: number }> {
  const pki = testPki();
  const tlsPort = await freePort();
  const rtp = await freePorts(8, { even: true });
  const e = await startEngine(t, {
    phoneName: 'ivr',
    numPhoneLinesRequested: 2,
    sipTransport: 'TLS',
    tlsPort,
    tls: { certificate: pki.server.cert, privateKey: pki.server.key, ca: pki.ca.cert },
    minLocalRtpPort: rtp[0]!,
    maxLocalRtpPort: rtp[rtp.length - 1]! + 1,
  });
  e.engine.on('SipOkToAnswerCall', (n) => e.engine.goOffHook(n.phoneLine));
  return Object.assign(e, { tlsPort });
}

peerTest('SIPp UAC calls the engine over TLS (through the relay): the 1 kHz tone is heard, SIPp hangs up', ['sipp', 'openssl', 'ss'], async (t) => {
  const e = await answeringTlsEngine(t);
  const relay = await startTlsRelay({ mode: 'tcpToTls', target: e.tlsPort, ca: testPki().ca.cert });
  t.teardown(() => relay.close());
  const [sipPort] = await freePorts(1);
  const [mediaPort] = await freePorts(2, { even: true });
  const sipp = startSipp(
    [`127.0.0.1:${relay.port}`, '-t', 't1', '-sf', peerFile('sipp', 'uac-pcmu-stream.xml'), '-key', 'rtp_stream', 'tone1k.ul,-1,0', '-s', 'ivr',
      '-p', String(sipPort), '-mp', String(mediaPort), '-d', '3000', '-m', '1', '-timeout', '30s', '-timeout_error'],
    { cwd: peerFile('sipp', ''), timeoutMs: 40_000, traceMessages: true },
  );
  t.teardown(() => sipp.kill());
  const connected = await e.waitFor(T.SipIncomingCallConnected);
  const rx = e.engine.openRxIvrChannel(connected.phoneLine, { sampleRate: 8000 });
  t.is(rx.result, T.SipSuccess);
  assertTone(t, await listenFor(rx.channel!, 1500), 1000, 'engine Rx from SIPp over TLS signalling');
  const result = await sipp.wait();
  t.is(result.code, 0, result.summary);
  await e.waitFor(T.SipByeReceived, (n) => n.phoneLine === connected.phoneLine);
  await e.waitFor(T.SipCallComplete, (n) => n.phoneLine === connected.phoneLine);
  t.is(relay.connections(), 1, 'everything went over one TLS connection');
});

peerTest('the engine calls a SIPp UAS over TLS (through the relay): its echo comes back, the engine hangs up', ['sipp', 'openssl', 'ss'], async (t) => {
  const pki = testPki();
  const e = await answeringTlsEngine(t);
  const [sipPort] = await freePorts(1);
  const [mediaPort] = await freePorts(2, { even: true });
  const relay = await startTlsRelay({ mode: 'tlsToTcp', target: sipPort!, cert: pki.server.cert, key: pki.server.key });
  t.teardown(() => relay.close());
  const uas = startSipp(
    ['-t', 't1', '-sf', sippScenario('uas-tls-relay-echo.xml'), '-key', 'relay_port', String(relay.port), '-p', String(sipPort), '-mp', String(mediaPort),
      '-rtp_echo', '-m', '1', '-timeout', '30s', '-timeout_error'],
    { timeoutMs: 40_000, traceMessages: true },
  );
  t.teardown(() => uas.kill());
  t.true(await waitForTcpListener(sipPort!), 'SIPp UAS listens on TCP');
  t.is(await e.engine.makeCall('service', '127.0.0.1', relay.port, 0, true, 10_000), T.SipSuccess);
  await e.waitFor(T.SipOutgoingCallConnected, (n) => n.phoneLine === 0);
  const rx = e.engine.openRxIvrChannel(0, { sampleRate: 8000 });
  t.is(e.engine.playWaveFile(0, peerFile('audio', 'tone1k.wav'), true), T.SipSuccess);
  await new Promise((r) => setTimeout(r, 600));
  assertTone(t, await listenFor(rx.channel!, 1500), 1000, 'engine Rx of its own echo');
  t.is(await e.engine.terminateCall(0, true, 5000), T.SipSuccess);
  await e.waitFor(T.SipCallComplete, (n) => n.phoneLine === 0);
  const result = await uas.wait();
  t.is(result.code, 0, result.summary);
  t.is(relay.connections(), 1, 'INVITE, ACK and BYE went over one TLS connection');
});
