/**
 * 3xx redirection: a SIPp redirect server answers 302 with a Contact naming another engine;
 * the caller raises SipReceived302MovedTemporarily and the call connects there.
 */
import { TelephonyReturnValue as T } from '../index.js';
import { startEngine } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { startSipp, sippScenario, waitForUdpPort } from './helpers/peers.js';
import { freeUdpTcpPort } from './helpers/ports.js';

peerTest('a 302 redirect is followed to the Contact it names', ['sipp'], async (t) => {
  const bob = await startEngine(t, { phoneName: 'bob' });
  bob.engine.on('SipOkToAnswerCall', (n) => bob.engine.goOffHook(n.phoneLine));
  const port = await freeUdpTcpPort();
  const sipp = startSipp(
    ['-sf', sippScenario('uas-redirect-302.xml'), '-p', String(port), '-key', 'target_user', 'bob', '-key', 'target_port', String(bob.port), '-m', '1', '-timeout', '20s', '-timeout_error'],
  );
  t.teardown(() => sipp.kill());
  t.true(await waitForUdpPort(port));
  const alice = await startEngine(t, { phoneName: 'alice' });
  t.is(await alice.engine.makeCall('oldbob', '127.0.0.1', port, 0, true, 8000), T.SipSuccess);
  const moved = await alice.waitFor(T.SipReceived302MovedTemporarily);
  t.like(moved.data, { statusCode: 302 });
  t.deepEqual(moved.data.contacts, [`<sip:bob@127.0.0.1:${bob.port}>`]);
  await bob.waitFor(T.SipIncomingCallConnected);
  t.regex(bob.engine.getIncomingCallInfo(0).requestUri!, /^sip:bob@127\.0\.0\.1/);
  const res = await sipp.wait();
  t.is(res.code, 0, res.summary);
  t.is(await alice.engine.terminateCall(0, true, 5000), T.SipSuccess);
});
