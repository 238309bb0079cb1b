/**
 * Registration against a real Kamailio (../shared/peers/kamailio) on 127.0.0.1 with MD5
 * digest auth: per-line names, wrong password, registrar outage and recovery, removal,
 * registering through the proxy, and TCP.
 */
import { TelephonyReturnValue as T } from '../index.js';
import { startEngine } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { startKamailio, type KamailioHandle } from './helpers/peers.js';
import type { ExecutionContext } from 'ava';

async function kamailio(t: ExecutionContext, port?: number): Promise<KamailioHandle> {
  const k = await startKamailio(port ? { port } : {});
  t.teardown(() => k.stop());
  return k;
}

async function waitForBindings(k: KamailioHandle, want: (n: number) => boolean, timeoutMs = 10000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const regs = await k.registrations();
    if (want(regs.length) || Date.now() > end) return regs;
    await new Promise((r) => setTimeout(r, 100));
  }
}

peerTest('a 4-line engine registers 100..103 per line with digest auth; disable removes them', ['kamailio', 'sipp'], async (t) => {
  const k = await kamailio(t);
  const e = await startEngine(t, { numPhoneLinesRequested: 4, phoneName: 'desk' });
  for (const u of ['100', '101', '102', '103']) t.is(e.engine.addAuthorizationCredentials(u, `secret-${u}`, '127.0.0.1'), T.SipSuccess);
  t.is(await e.engine.enableSipRegisterServer('100,101,102,103', true, false, '127.0.0.1', k.port, 60, 60, 4000, true), T.SipSuccess);
  const ok = await e.waitForCount(T.SipRegisterSuccess, 4);
  t.deepEqual(ok.map((n) => n.data.name).sort(), ['100', '101', '102', '103']);
  t.is(e.of(T.SipRegisterAuthorizationError).length, 0);
  const regs = await k.registrations();
  t.deepEqual(regs.map((r) => r.aor).sort(), ['100', '101', '102', '103']);
  for (const r of regs) {
    t.regex(r.contact, new RegExp(`^sip:${r.aor}@127\\.0\\.0\\.1:${e.port}`), 'each contact is the engine');
    t.true(r.expires > 0 && r.expires <= 60);
  }
  // Kamailio adds received/rport = our own address: no NAT is detected.
  t.is(e.of(T.SipWanIpAddressChange).length, 0);
  for (let line = 0; line < 4; line++) t.is(e.engine.lineForIncomingCall(String(100 + line)), line);
  t.is(await e.engine.disableSipRegisterServer(), T.SipSuccess);
  t.deepEqual(await k.registrations(), [], 'Expires: 0 removed every binding');
  await e.waitForCount(T.SipUnRegisterSuccess, 4);
});

peerTest('a wrong password or missing credentials yield SipRegisterAuthorizationError', ['kamailio', 'sipp'], async (t) => {
  const k = await kamailio(t);
  const wrong = await startEngine(t, {});
  wrong.engine.registrationErrorRetryTime(60_000);
  wrong.engine.addAuthorizationCredentials('110', 'wrong-password', '127.0.0.1');
  t.is(await wrong.engine.enableSipRegisterServer('110', false, false, '127.0.0.1', k.port, 60, 60, 4000, false), T.SipSuccess);
  const bad = await wrong.waitFor(T.SipRegisterAuthorizationError);
  t.like(bad.data, { name: '110', statusCode: 403 }, 'Kamailio answers a wrong password with 403');

  // No credentials for the realm at all: the 401 is final. (Credentials of another user of the
  // same realm would be used instead: one account commonly serves several names.)
  const none = await startEngine(t, {});
  none.engine.registrationErrorRetryTime(60_000);
  none.engine.addAuthorizationCredentials('111', 'secret-111', 'another-realm');
  t.is(await none.engine.enableSipRegisterServer('111', false, false, '127.0.0.1', k.port, 60, 60, 4000, false), T.SipSuccess);
  const missing = await none.waitFor(T.SipRegisterAuthorizationError);
  t.like(missing.data, { name: '111', statusCode: 401 });
  t.is(wrong.of(T.SipRegisterSuccess).length + none.of(T.SipRegisterSuccess).length, 0);
  t.deepEqual(await k.registrations(), []);
});

peerTest.serial('a stopped registrar yields SipRegisterTimeOut, and registration recovers when it restarts', ['kamailio', 'sipp'], async (t) => {
  let k = await kamailio(t);
  const port = k.port;
  const e = await startEngine(t, {});
  e.engine.addAuthorizationCredentials('120', 'secret-120', '');
  t.is(e.engine.registrationErrorRetryTime(500), T.SipSuccess);
  t.is(await e.engine.enableSipRegisterServer('120', false, false, '127.0.0.1', port, 2, 60, 1500, false), T.SipSuccess);
  await e.waitForCount(T.SipRegisterSuccess, 1);
  await k.stop();
  const timeout = await e.waitFor(T.SipRegisterTimeOut, undefined, 20000);
  t.like(timeout.data, { name: '120', timeOutMs: 1500 });
  const before = e.of(T.SipRegisterSuccess).length;
  k = await kamailio(t, port);
  await e.waitForCount(T.SipRegisterSuccess, before + 1, undefined, 20000);
  const regs = await waitForBindings(k, (n) => n === 1);
  t.deepEqual(regs.map((r) => r.aor), ['120'], 'registered again after the restart');
});

peerTest('registering through the proxy with a domain, and over TCP', ['kamailio', 'sipp'], async (t) => {
  const k = await kamailio(t);
  const udp = await startEngine(t, { numPhoneLinesRequested: 1 });
  udp.engine.addAuthorizationCredentials('130', 'secret-130', '127.0.0.1');
  t.is(await udp.engine.enableSipProxyServer('127.0.0.1', k.port), T.SipSuccess);
  t.is(udp.engine.enableSipDomain('127.0.0.1'), T.SipSuccess);
  // the registrar address is unused when registering through the proxy
  t.is(await udp.engine.enableSipRegisterServer('130', true, true, 'localhost', 9, 60, 60, 4000, true), T.SipSuccess);
  await udp.waitFor(T.SipRegisterSuccess);

  const tcp = await startEngine(t, { numPhoneLinesRequested: 1, sipTransport: 'TCP' });
  tcp.engine.addAuthorizationCredentials('131', 'secret-131', '127.0.0.1');
  t.is(await tcp.engine.enableSipRegisterServer('131', true, false, '127.0.0.1', k.port, 60, 60, 4000, true), T.SipSuccess);
  await tcp.waitFor(T.SipRegisterSuccess);
  t.is(tcp.of(T.SipWanIpAddressChange).length, 0, 'the ephemeral TCP source port is no NAT');

  const regs = await waitForBindings(k, (n) => n === 2);
  const tcpReg = regs.find((r) => r.aor === '131');
  t.truthy(regs.find((r) => r.aor === '130'));
  t.truthy(tcpReg);
  t.regex(tcpReg!.socket, /^tcp:/);
  t.regex(tcpReg!.contact, /transport=tcp/i);
});
