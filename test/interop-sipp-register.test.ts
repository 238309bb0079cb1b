/**
 * Registration against SIPp playing registrar: 423 Interval Too Brief handled by retrying with
 * Min-Expires, and NAT detection from the `received`/`rport` of the answer's Via.
 */
import { TelephonyReturnValue as T } from '../index.js';
import { startEngine } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { startSipp, sippScenario, waitForUdpPort } from './helpers/peers.js';
import { freeUdpTcpPort } from './helpers/ports.js';

peerTest('423 Interval Too Brief: the engine retries with Min-Expires and registers', ['sipp'], async (t) => {
  const port = await freeUdpTcpPort();
  const sipp = startSipp(['-sf', sippScenario('uas-register-423.xml'), '-p', String(port), '-m', '1', '-timeout', '20s', '-timeout_error']);
  t.teardown(() => sipp.kill());
  t.true(await waitForUdpPort(port));
  const e = await startEngine(t, {});
  t.is(await e.engine.enableSipRegisterServer('alice', false, false, '127.0.0.1', port, 60, 60, 4000, false), T.SipSuccess);
  const interval = await e.waitFor(T.SipRegisterIntervalError);
  t.like(interval.data, { name: 'alice', statusCode: 423, minExpires: 120, retrying: true });
  const ok = await e.waitFor(T.SipRegisterSuccess);
  t.like(ok.data, { name: 'alice', expires: 120 });
  const result = await sipp.wait();
  t.is(result.code, 0, result.summary);
});

peerTest('NAT auto-detect: received/rport in the answer raise SipWanIpAddressChange and re-register the public Contact', ['sipp'], async (t) => {
  const port = await freeUdpTcpPort();
  const sipp = startSipp(['-sf', sippScenario('uas-register-received.xml'), '-p', String(port), '-m', '1', '-timeout', '20s', '-timeout_error']);
  t.teardown(() => sipp.kill());
  t.true(await waitForUdpPort(port));
  const e = await startEngine(t, {});
  t.is(await e.engine.enableSipRegisterServer('bob', false, false, '127.0.0.1', port, 60, 3600, 4000, true), T.SipSuccess);
  const change = await e.waitFor(T.SipWanIpAddressChange);
  t.like(change.data, { previousAddress: '127.0.0.1', previousPort: e.port, wanIpAddress: '127.0.0.2', wanPort: 45060 });
  const ok = await e.waitForCount(T.SipRegisterSuccess, 2);
  t.like(ok[1]!.data, { contact: 'sip:bob@127.0.0.2:45060' });
  const result = await sipp.wait();
  t.is(result.code, 0, result.summary);
  t.is(e.of(T.SipWanIpAddressChange).length, 1, 'a stable public address raises one change');
});

peerTest('NAT auto-detect off: the same answer changes nothing', ['sipp'], async (t) => {
  const port = await freeUdpTcpPort();
  const sipp = startSipp(['-sf', sippScenario('uas-register-received.xml'), '-p', String(port), '-m', '1', '-timeout', '5s']);
  t.teardown(() => sipp.kill());
  t.true(await waitForUdpPort(port));
  const e = await startEngine(t, {});
  t.is(await e.engine.enableSipRegisterServer('carol', false, false, '127.0.0.1', port, 60, 3600, 4000, false), T.SipSuccess);
  const ok = await e.waitFor(T.SipRegisterSuccess);
  t.like(ok.data, { contact: `sip:carol@127.0.0.1:${e.port}` });
  t.is(e.of(T.SipWanIpAddressChange).length, 0);
});
