/**
 * The facade's two kinds of state: what exists only while started (the running engine,
 * engine/runningEngine.ts) goes with stopSipTelephony, and a restart starts it afresh; what
 * outlives a run (engine/engineState.ts: credentials, handle counters, settings allowed while
 * stopped) is still there after a restart.
 */
import test from 'ava';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { VoipMediaEngine, TelephonyReturnValue as T } from '../index.js';

const START = { ipAddressOfThisHost: '127.0.0.1', sipPort: 0 } as const;

test('before start, while starting and after stop the engine answers as stopped; a restart builds a fresh run', async (t) => {
  const engine = new VoipMediaEngine();
  t.is(engine.getSipPort(), 0);
  const starting = engine.startSipTelephony({ ...START, numPhoneLinesRequested: 2 });
  // nothing of the run is visible before it is complete
  t.is(engine.getNumPhoneLines().result, T.SipMediaEngineNotInitialized);
  t.is(await engine.startSipTelephony(START), T.SipMediaEngineAlreadyInitialized);
  t.is(await starting, T.SipSuccess);
  t.teardown(() => engine.stopSipTelephony());
  t.true(engine.getSipPort() > 0);
  t.deepEqual(engine.getNumPhoneLines(), { result: T.SipSuccess, numPhoneLines: 2 });
  t.is(engine.lineForIncomingCall(), 0);
  t.is(engine.enableKeepAliveTransmissions(false, true, 15_000), T.SipSuccess);
  t.is(engine.rtpKeepAliveMs, 15_000);
  t.is(await engine.enableSipProxyServer('127.0.0.1', 5999), T.SipSuccess);
  t.is(engine.enableSipDomain('example.test'), T.SipSuccess);

  t.is(await engine.stopSipTelephony(), T.SipSuccess);
  t.is(engine.getSipPort(), 0);
  t.is(engine.rtpKeepAliveMs, 0);
  t.is(engine.lineForIncomingCall(), -1);
  t.is(engine.getNumPhoneLines().result, T.SipMediaEngineNotInitialized);
  t.is(await engine.stopSipTelephony(), T.SipMediaEngineNotInitialized);

  t.is(await engine.startSipTelephony({ ...START, numPhoneLinesRequested: 3 }), T.SipSuccess);
  t.deepEqual(engine.getNumPhoneLines(), { result: T.SipSuccess, numPhoneLines: 3 });
  t.is(engine.rtpKeepAliveMs, 0, 'keep-alives belong to the run');
  // the proxy and domain of the first run are gone
  t.is(await engine.enableSipRegisterServer('a', false, true, '127.0.0.1', 5999, 60, 60, 1000, false), T.SipProxyNotEnabled);
});

test('credentials and message ids outlive a run; the registration retry time is set while stopped', async (t) => {
  // a peer that never answers: the MESSAGEs stay pending until the engine stops
  const silent = createSocket('udp4');
  silent.bind(0, '127.0.0.1');
  await once(silent, 'listening');
  t.teardown(() => silent.close());
  const to = `sip:nobody@127.0.0.1:${silent.address().port}`;

  const engine = new VoipMediaEngine();
  t.is(engine.registrationErrorRetryTime(5_000), T.SipSuccess, 'allowed while stopped');
  t.is(await engine.startSipTelephony(START), T.SipSuccess);
  t.teardown(() => engine.stopSipTelephony());
  t.is(engine.addAuthorizationCredentials('alice', 'secret', 'realm'), T.SipSuccess);
  const first = engine.sendOutOfDialogMessage(to, 'text', 'plain', 'one');
  t.is(first.result, T.SipSuccess);
  t.is(await engine.stopSipTelephony(), T.SipSuccess);

  t.is(await engine.startSipTelephony(START), T.SipSuccess);
  const second = engine.sendOutOfDialogMessage(to, 'text', 'plain', 'two');
  t.is(second.result, T.SipSuccess);
  t.true(second.messageId > first.messageId, 'an id of an earlier run never names a message of a later one');
  t.is(engine.deleteAuthorizationCredentials('alice', 'realm'), T.SipSuccess, 'the credentials were kept');
  t.is(engine.deleteAuthorizationCredentials('alice', 'realm'), T.SipBadParameter);
});
