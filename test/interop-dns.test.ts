/**
 * The engine finds its servers by DNS (RFC 3263): dnsmasq on a loopback port serves SRV and A
 * records for `test.example`, SIPp plays the registrars and the called party. Registration
 * goes to the highest-priority target; it fails over to the next when the first refuses the
 * TCP connection or answers 503; a call to `sip:agent@test.example` is routed by SRV; a name
 * without records is refused with SipUnknownHost.
 */
import { TelephonyReturnValue as T } from '../index.js';
import { startEngine } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { peerFile, startDnsmasq, startSipp, sippScenario, waitForUdpPort, type SippHandle } from './helpers/peers.js';
import { freePorts, freeUdpTcpPort } from './helpers/ports.js';
import { createSocket } from 'node:dgram';
import { createConnection } from 'node:net';

/** Waits until something accepts TCP connections on 127.0.0.1:port. */
async function waitForTcpPort(port: number, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** A SIPp registrar for one REGISTER on a free port (`tcp`: SIPp's `-t t1`). */
async function registrar(t: Parameters<Parameters<typeof peerTest>[2]>[0], scenario: string, tcp = false): Promise<{ sipp: SippHandle; port: number }> {
  const port = await freeUdpTcpPort();
  const sipp = startSipp(['-sf', sippScenario(scenario), '-p', String(port), '-m', '1', '-timeout', '30s', '-timeout_error', ...(tcp ? ['-t', 't1'] : [])], { timeoutMs: 40_000 });
  t.teardown(() => sipp.kill());
  t.true(tcp ? await waitForTcpPort(port) : await waitForUdpPort(port), 'SIPp bound its port');
  return { sipp, port };
}

const A_RECORDS = ['--host-record=reg1.test.example,127.0.0.1,60', '--host-record=reg2.test.example,127.0.0.1,60'];

peerTest('registration to test.example (no port) goes to the highest-priority SRV target', ['dnsmasq', 'sipp'], async (t) => {
  const first = await registrar(t, 'uas-register-ok.xml');
  const second = await registrar(t, 'uas-register-ok.xml');
  const dns = await startDnsmasq(t, [
    ...A_RECORDS,
    `--srv-host=_sip._udp.test.example,reg2.test.example,${second.port},20,100`,
    `--srv-host=_sip._udp.test.example,reg1.test.example,${first.port},10,100`,
  ], 'reg1.test.example');
  const e = await startEngine(t, { dnsServers: [dns.server] });
  t.is(await e.engine.enableSipRegisterServer('alice', false, false, 'test.example', 0, 60, 60, 4000, false), T.SipSuccess);
  const ok = await e.waitFor(T.SipRegisterSuccess);
  t.like(ok.data, { name: 'alice' });
  const r = await first.sipp.wait();
  t.is(r.code, 0, r.summary);
  const other = await second.sipp.kill();
  t.is(other.stats?.successful ?? 0, 0, 'the lower-priority registrar got nothing');
});

peerTest('registration fails over to the next SRV target when the first refuses the TCP connection', ['dnsmasq', 'sipp'], async (t) => {
  const dead = await freeUdpTcpPort(); // nothing listens there: the connection is refused
  const live = await registrar(t, 'uas-register-ok.xml', true);
  const dns = await startDnsmasq(t, [
    ...A_RECORDS,
    `--srv-host=_sip._tcp.test.example,reg1.test.example,${dead},10,100`,
    `--srv-host=_sip._tcp.test.example,reg2.test.example,${live.port},20,100`,
  ], 'reg1.test.example');
  const e = await startEngine(t, { dnsServers: [dns.server], sipTransport: 'TCP' });
  t.is(await e.engine.enableSipRegisterServer('bob', false, false, 'test.example', 0, 60, 60, 4000, false), T.SipSuccess);
  const ok = await e.waitFor(T.SipRegisterSuccess);
  t.like(ok.data, { name: 'bob' });
  t.is(e.of(T.SipRegisterTimeOut).length, 0, 'the refused connection is no time-out for the application');
  const r = await live.sipp.wait();
  t.is(r.code, 0, r.summary);
});

peerTest('registration fails over to the next SRV target when the first answers 503', ['dnsmasq', 'sipp'], async (t) => {
  const busy = await registrar(t, 'uas-register-503.xml');
  const live = await registrar(t, 'uas-register-ok.xml');
  const dns = await startDnsmasq(t, [
    ...A_RECORDS,
    `--srv-host=_sip._udp.test.example,reg1.test.example,${busy.port},10,100`,
    `--srv-host=_sip._udp.test.example,reg2.test.example,${live.port},20,100`,
  ], 'reg1.test.example');
  const e = await startEngine(t, { dnsServers: [dns.server] });
  t.is(await e.engine.enableSipRegisterServer('carol', false, false, 'test.example', 0, 60, 60, 4000, false), T.SipSuccess);
  const ok = await e.waitFor(T.SipRegisterSuccess);
  t.like(ok.data, { name: 'carol' });
  t.is(e.of(T.SipRegisterError).length, 0, 'the 503 is not the final answer');
  for (const s of [busy, live]) {
    const r = await s.sipp.wait();
    t.is(r.code, 0, r.summary);
  }
});

peerTest('registration fails over when the first SRV target never answers (timer F with a small T1)', ['dnsmasq', 'sipp'], async (t) => {
  // A UDP socket that takes every REGISTER and answers none: timer F (64 × T1) ends the attempt.
  const silent = createSocket('udp4');
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  t.teardown(() => silent.close());
  let swallowed = 0;
  silent.on('message', () => swallowed++);
  const live = await registrar(t, 'uas-register-ok.xml');
  const dns = await startDnsmasq(t, [
    ...A_RECORDS,
    `--srv-host=_sip._udp.test.example,reg1.test.example,${silent.address().port},10,100`,
    `--srv-host=_sip._udp.test.example,reg2.test.example,${live.port},20,100`,
  ], 'reg1.test.example');
  const e = await startEngine(t, { dnsServers: [dns.server], sipT1Ms: 50 });
  t.is(await e.engine.enableSipRegisterServer('erin', false, false, 'test.example', 0, 60, 60, 30_000, false), T.SipSuccess);
  const ok = await e.waitFor(T.SipRegisterSuccess, () => true, 30_000);
  t.like(ok.data, { name: 'erin' });
  t.true(swallowed >= 1, 'the first target got the REGISTER (and its retransmissions)');
  t.is(e.of(T.SipRegisterTimeOut).length, 0);
  const r = await live.sipp.wait();
  t.is(r.code, 0, r.summary);
});

peerTest('a name with no records: enableSipRegisterServer and makeCallUri say SipUnknownHost', ['dnsmasq'], async (t) => {
  const dns = await startDnsmasq(t, A_RECORDS, 'reg1.test.example');
  const e = await startEngine(t, { dnsServers: [dns.server] });
  t.is(await e.engine.enableSipRegisterServer('dave', false, false, 'nothing.test.example', 0, 60, 60, 4000, false), T.SipUnknownHost);
  t.is(await e.engine.makeCallUri('sip:agent@nothing.test.example', false, 0, false, 0), T.SipUnknownHost);
  t.is(await e.engine.enableSipRegisterServer('dave', false, false, '127.0.0.1', 0, 60, 60, 4000, false), T.SipBadParameter, 'an address has no SRV');
});

peerTest('a call to sip:agent@test.example goes where SRV says', ['dnsmasq', 'sipp'], async (t) => {
  const port = await freeUdpTcpPort();
  const [mediaPort] = await freePorts(2, { even: true });
  const uas = startSipp(
    ['-sf', peerFile('sipp', 'uas-pcmu-echo.xml'), '-p', String(port), '-mp', String(mediaPort), '-rtp_echo', '-m', '1', '-timeout', '30s', '-timeout_error'],
    { timeoutMs: 40_000 },
  );
  t.teardown(() => uas.kill());
  t.true(await waitForUdpPort(port), 'SIPp UAS bound its port');
  const dns = await startDnsmasq(t, [...A_RECORDS, `--srv-host=_sip._udp.test.example,reg1.test.example,${port},10,100`], 'reg1.test.example');
  const e = await startEngine(t, { dnsServers: [dns.server] });
  t.is(await e.engine.makeCallUri('sip:agent@test.example', false, 0, true, 10_000), T.SipSuccess);
  await e.waitFor(T.SipOutgoingCallConnected, (n) => n.phoneLine === 0);
  t.is(await e.engine.terminateCall(0, true, 5000), T.SipSuccess);
  await e.waitFor(T.SipCallComplete, (n) => n.phoneLine === 0);
  const r = await uas.wait();
  t.is(r.code, 0, r.summary);
});
