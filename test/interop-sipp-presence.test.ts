/**
 * Presence against SIPp: a SIPp watcher subscribing to an engine (PIDF bodies checked by
 * regular expression), a SIPp presentity sending a PIDF that is not XML (400, then the engine
 * keeps working), a SIPp presence server taking PUBLISH with digest auth and entity tags, and
 * bad SUBSCRIBE/NOTIFY input (481, 489, 400) while the engine keeps serving.
 */
import { TelephonyReturnValue as T } from '../index.js';
import { startEngine } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { until } from './helpers/observe.js';
import { runSipp, startSipp, sippScenario, waitForUdpPort } from './helpers/peers.js';
import { freeUdpTcpPort } from './helpers/ports.js';

peerTest('a SIPp watcher subscribes to an engine: pending, open + note, closed, unsubscribe', ['sipp'], async (t) => {
  const e = await startEngine(t, { phoneName: 'bob', phoneDisplayName: 'Bob' });
  const sipp = startSipp([`127.0.0.1:${e.port}`, '-sf', sippScenario('uac-subscribe-presence.xml'), '-s', 'bob', '-m', '1', '-timeout', '20s', '-timeout_error'], { traceMessages: true });
  t.teardown(() => sipp.kill());
  const recv = await e.waitFor(T.SipPresenceRecvSubscribe);
  t.like(recv.data, { fromDisplayName: 'SIPp Watcher', subject: 'SIPp wants to know' });
  t.regex(recv.data.from, /^sip:watcher@127\.0\.0\.1:\d+$/);
  t.is(e.engine.setPresenceStatus('Available'), T.SipSuccess);
  t.is(e.engine.presenceAcceptSubscribe(recv.data.subscribeId), T.SipSuccess);
  t.is(e.engine.presenceOffline(), T.SipSuccess);
  const result = await sipp.wait();
  t.is(result.code, 0, result.summary);
  t.true(await until(() => e.engine.getPresenceWatchers().watchers.length === 0), 'the unsubscribed watcher is gone');
});

peerTest('a PIDF that is not XML gets 400 and the engine keeps watching', ['sipp'], async (t) => {
  const port = await freeUdpTcpPort();
  const sipp = startSipp(['-sf', sippScenario('uas-notify-bad-pidf.xml'), '-p', String(port), '-m', '1', '-timeout', '20s', '-timeout_error']);
  t.teardown(() => sipp.kill());
  t.true(await waitForUdpPort(port));
  const e = await startEngine(t, { phoneName: 'watcher' });
  const contact = `sip:presentity@127.0.0.1:${port}`;
  t.is(await e.engine.presenceSubscribe(contact, ''), T.SipSuccess);
  const online = await e.waitFor(T.SipPresenceOnline);
  t.deepEqual(online.data, { fromDisplayName: 'Presentity', from: contact, stateText: 'Recovered' });
  t.is(e.of(T.SipPresenceOnline).length, 1, 'the unreadable NOTIFY raised nothing');
  t.is(await e.engine.presenceUnsubscribe(contact), T.SipSuccess);
  const result = await sipp.wait();
  t.is(result.code, 0, result.summary);
});

peerTest('PUBLISH to a SIPp presence server: 401 answered, SIP-ETag refresh, modify, remove', ['sipp'], async (t) => {
  const port = await freeUdpTcpPort();
  const sipp = startSipp(['-sf', sippScenario('uas-publish-auth.xml'), '-p', String(port), '-m', '1', '-timeout', '30s', '-timeout_error']);
  t.teardown(() => sipp.kill());
  t.true(await waitForUdpPort(port));
  const e = await startEngine(t, { phoneName: 'alice' });
  t.is(e.engine.addAuthorizationCredentials('alice', 'secret-alice', 'presence.test'), T.SipSuccess);
  t.is(e.engine.setPresenceStatus('Available'), T.SipSuccess);
  t.is(await e.engine.setPresenceServer('127.0.0.1', port, 4), T.SipSuccess);
  t.true(await until(() => e.engine.getPresencePublication().refreshCount >= 1, 15000), 'refreshed before the 4 s expiry');
  t.like(e.engine.getPresencePublication(), { result: T.SipSuccess, etag: 'et2', grantedExpires: 60 });
  t.is(e.engine.setPresenceStatus('Away'), T.SipSuccess);
  t.true(await until(() => e.engine.getPresencePublication().etag === 'et3'));
  t.is(await e.engine.disablePresenceServer(), T.SipSuccess);
  t.is(e.engine.getPresencePublication().result, T.SipNotEnabled);
  const result = await sipp.wait();
  t.is(result.code, 0, result.summary);
});

peerTest('bad SUBSCRIBE/NOTIFY input: 481 for unknown subscriptions, 489 for unknown packages, 400 without Event', ['sipp'], async (t) => {
  const e = await startEngine(t, { phoneName: 'bob' });
  // A watcher from another engine is served the whole time: bad input must not disturb it.
  const w = await startEngine(t, { phoneName: 'alice' });
  const uri = `sip:bob@127.0.0.1:${e.port}`;
  t.is(await w.engine.presenceSubscribe(uri, ''), T.SipSuccess);
  t.is(e.engine.presenceAcceptSubscribe((await e.waitFor(T.SipPresenceRecvSubscribe)).data.subscribeId), T.SipSuccess);
  await w.waitFor(T.SipPresenceOnline);

  const result = await runSipp([`127.0.0.1:${e.port}`, '-sf', sippScenario('uac-presence-bad-input.xml'), '-s', 'bob', '-m', '1', '-timeout', '15s', '-timeout_error']);
  t.is(result.code, 0, result.summary);
  t.is(e.of(T.SipPresenceRecvSubscribe).length, 1, 'no presence event from the bad requests');
  const refused = e.of(T.SipSubscriptionReceived);
  t.is(refused.length, 1, 'the unknown package was offered to the application, which left it refused');
  t.like(refused[0]!.data, { eventPackage: 'x-no-such-package', acceptSubscription: false, rejectStatusCode: 489 });

  t.is(e.engine.setPresenceStatus('still fine'), T.SipSuccess);
  const after = await w.waitFor(T.SipPresenceOnline, (n) => n.data.stateText === 'still fine');
  t.like(after.data, { from: uri });
});
