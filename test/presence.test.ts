/**
 * Presence between real engines on loopback (RFC 3856/3863): subscribe, authorize, status
 * changes, offline, refresh of a short subscription, unsubscribe, rejection, shutdown; the same
 * through Kamailio with its 407 challenges; and the PIDF builder/reader and the pure
 * subscription helpers.
 */
import test from 'ava';
import { TelephonyReturnValue as T, VoipMediaEngine } from '../index.js';
import { buildPidf, parsePidf, parseXml } from '../sip/pidf.js';
import { parseEventHeader, parseSubscriptionState, refreshDelayMs } from '../sip/subscription.js';
import { startEngine, sleep, type EngineUnderTest } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { until } from './helpers/observe.js';
import { startKamailio } from './helpers/peers.js';

async function pair(t: Parameters<typeof startEngine>[0]): Promise<{ alice: EngineUnderTest; bob: EngineUnderTest; bobUri: string }> {
  const bob = await startEngine(t, { phoneName: 'bob', phoneDisplayName: 'Bob Builder' });
  const alice = await startEngine(t, { phoneName: 'alice', phoneDisplayName: 'Alice' });
  return { alice, bob, bobUri: `sip:bob@127.0.0.1:${bob.port}` };
}

// ---------------------------------------------------------------- pure parts

test('PIDF: built documents read back (open + note, closed, escaping)', (t) => {
  const open = buildPidf({ entity: 'sip:bob@example.com', basic: 'open', note: 'Lunch & <coffee> "now"' });
  t.regex(open, /<basic>open<\/basic>/);
  t.regex(open, /<note>Lunch &amp; &lt;coffee&gt; &quot;now&quot;<\/note>/);
  const r = parsePidf(open);
  t.true(r.ok);
  if (r.ok) t.like(r.pidf, { entity: 'sip:bob@example.com', basic: 'open', note: 'Lunch & <coffee> "now"' });
  const closed = parsePidf(Buffer.from(buildPidf({ entity: 'sip:bob@example.com', basic: 'closed' })));
  t.true(closed.ok && closed.pidf.basic === 'closed' && closed.pidf.note === '');
});

test('PIDF: tolerant reading of other agents\' documents (prefixes, rpid person note, CDATA, comments)', (t) => {
  const doc = `<?xml version="1.0"?>
<!-- from another phone -->
<p:presence xmlns:p="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" entity="pres:carol@x">
  <p:tuple id="a1"><p:status><p:basic>closed</p:basic></p:status></p:tuple>
  <p:tuple id="a2"><p:status><p:basic> OPEN </p:basic></p:status><p:note><![CDATA[On the <phone>]]></p:note></p:tuple>
  <dm:person id="p1"><dm:note>ignored when a tuple has one</dm:note></dm:person>
</p:presence>`;
  const r = parsePidf(doc);
  t.true(r.ok, JSON.stringify(r));
  if (r.ok) {
    t.is(r.pidf.basic, 'open');
    t.is(r.pidf.note, 'On the <phone>');
    t.is(r.pidf.tuples.length, 2);
  }
  const personOnly = parsePidf('<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:x@y"><tuple id="t"><status><basic>open</basic></status></tuple><dm:person xmlns:dm="d"><dm:note>Busy</dm:note></dm:person></presence>');
  t.true(personOnly.ok && personOnly.pidf.note === 'Busy');
});

test('PIDF: what is not XML is told apart from XML that is not PIDF', (t) => {
  for (const bad of ['this is not xml', '<presence><tuple></presence>', '<presence a=1/>', '<presence>&bogus;</presence>', '<a/><b/>', '', '<!DOCTYPE x [<!ENTITY a "b">]><presence/>', '<presence>\u0000']) {
    const r = parsePidf(bad);
    t.false(r.ok, bad);
    if (!r.ok) t.is(r.error, 'not-xml', bad);
  }
  const other = parsePidf('<rss version="2.0"><channel/></rss>');
  t.false(other.ok);
  if (!other.ok) t.is(other.error, 'not-pidf');
  const deep = '<a>'.repeat(200) + '</a>'.repeat(200);
  t.false(parseXml(deep).ok, 'nesting is bounded');
  t.false(parsePidf('<presence>' + 'x'.repeat(70000) + '</presence>').ok, 'size is bounded');
});

test('subscription header helpers and the refresh schedule', (t) => {
  t.deepEqual(parseEventHeader('Presence;id=7'), { package: 'presence', id: '7' });
  t.is(parseEventHeader('bad event'), undefined);
  t.deepEqual(parseSubscriptionState('terminated;reason=rejected;retry-after=30'), { state: 'terminated', reason: 'rejected', retryAfter: 30 });
  t.deepEqual(parseSubscriptionState('active;expires=599'), { state: 'active', expires: 599 });
  t.is(refreshDelayMs(3600), 3240_000, '90 % of a long expiry');
  t.is(refreshDelayMs(120), 88_000, 'a transaction time before a medium one');
  t.is(refreshDelayMs(5), 2500, 'half of a short one');
});

// ---------------------------------------------------------------- engine watching engine

test('presence: subscribe, SipPresenceRecvSubscribe, accept, status changes, offline, unsubscribe', async (t) => {
  const { alice, bob, bobUri } = await pair(t);
  t.is(await alice.engine.presenceSubscribe(bobUri, 'May I see your status?'), T.SipSuccess);
  t.is(await alice.engine.presenceSubscribe(bobUri, ''), T.SipSubscriptionAlreadyExists);
  const recv = await bob.waitFor(T.SipPresenceRecvSubscribe);
  t.like(recv.data, { from: 'sip:alice@127.0.0.1', fromDisplayName: 'Alice', subject: 'May I see your status?' });
  const subscribeId = recv.data.subscribeId;
  t.true(Number.isInteger(subscribeId) && subscribeId > 0);
  await alice.waitFor(T.SipSubscriptionSuccess);
  t.like(bob.engine.getPresenceWatchers().watchers[0], { subscribeId, state: 'pending' });

  // A pending watcher learns nothing.
  t.is(bob.engine.setPresenceStatus('Available'), T.SipSuccess);
  await sleep(300);
  t.is(alice.of(T.SipPresenceOnline).length, 0, 'no status before the watcher is authorized');

  t.is(bob.engine.presenceAcceptSubscribe(subscribeId), T.SipSuccess);
  const online = await alice.waitFor(T.SipPresenceOnline);
  t.deepEqual(online.data, { fromDisplayName: 'Bob Builder', from: bobUri, stateText: 'Available' });
  t.like(bob.engine.getPresenceWatchers().watchers[0], { subscribeId, state: 'active' });

  t.is(bob.engine.setPresenceStatus('In a meeting'), T.SipSuccess);
  t.is(bob.engine.setPresenceStatus('Out to lunch, back at 2'), T.SipSuccess);
  const changes = await alice.waitForCount(T.SipPresenceOnline, 3);
  t.deepEqual(changes.map((n) => n.data.stateText), ['Available', 'In a meeting', 'Out to lunch, back at 2'], 'in order');

  t.is(bob.engine.presenceOffline(), T.SipSuccess);
  const offline = await alice.waitFor(T.SipPresenceOffline);
  t.deepEqual(offline.data, { fromDisplayName: 'Bob Builder', from: bobUri });
  t.is(bob.engine.setPresenceStatus('Back'), T.SipSuccess);
  t.is((await alice.waitForCount(T.SipPresenceOnline, 4))[3]!.data.stateText, 'Back');

  t.like(alice.engine.getPresenceSubscriptions().subscriptions[0], { contact: bobUri, state: 'active' });
  t.is(await alice.engine.presenceUnsubscribe(bobUri), T.SipSuccess);
  t.true(await until(() => bob.engine.getPresenceWatchers().watchers.length === 0), 'the notifier forgot the watcher');
  t.is(alice.engine.getPresenceSubscriptions().subscriptions.length, 0);
  await sleep(200);
  t.is(alice.of(T.SipPresenceOffline).length, 1, 'unsubscribing is not going offline');
  t.is(alice.of(T.SipPresenceOnline).length, 4, 'and the final NOTIFY raises no status');
  t.is(await alice.engine.presenceUnsubscribe(bobUri), T.SipInvalidHandle);
  t.is(bob.engine.presenceAcceptSubscribe(subscribeId), T.SipInvalidHandle);
});

test('presence: a rejected watcher gets SipSubscriptionNotAccepted and no status', async (t) => {
  const { alice, bob, bobUri } = await pair(t);
  t.is(bob.engine.setPresenceStatus('secret'), T.SipSuccess);
  t.is(await alice.engine.presenceSubscribe(bobUri, 'hi'), T.SipSuccess);
  const recv = await bob.waitFor(T.SipPresenceRecvSubscribe);
  t.is(bob.engine.presenceRejectSubscribe(recv.data.subscribeId), T.SipSuccess);
  const no = await alice.waitFor(T.SipSubscriptionNotAccepted);
  t.like(no.data, { eventPackage: 'presence', targetUri: bobUri, reason: 'rejected' });
  t.is(alice.of(T.SipPresenceOnline).length, 0);
  t.is(alice.engine.getPresenceSubscriptions().subscriptions.length, 0);
  t.is(bob.engine.getPresenceWatchers().watchers.length, 0);
  t.is(bob.engine.presenceRejectSubscribe(recv.data.subscribeId), T.SipInvalidHandle);
  // Subscribing again is allowed once the first one is over.
  t.is(await alice.engine.presenceSubscribe(bobUri, 'please'), T.SipSuccess);
  await bob.waitForCount(T.SipPresenceRecvSubscribe, 2);
});

test('presence: a 5 s subscription is refreshed before it expires and keeps delivering', async (t) => {
  const { alice, bob, bobUri } = await pair(t);
  t.is(await alice.engine.presenceSubscribe(bobUri, '', 5), T.SipSuccess);
  const recv = await bob.waitFor(T.SipPresenceRecvSubscribe);
  t.is(bob.engine.presenceAcceptSubscribe(recv.data.subscribeId), T.SipSuccess);
  await alice.waitFor(T.SipPresenceOnline);
  const first = alice.of(T.SipSubscriptionSuccess)[0]!;
  t.like(first.data, { expires: 5, refresh: false });
  const refreshed = await alice.waitForCount(T.SipSubscriptionSuccess, 3, undefined, 15000);
  t.like(refreshed[1]!.data, { expires: 5, refresh: true });
  t.like(refreshed[2]!.data, { expires: 5, refresh: true });
  // More than two expiry periods after subscribing, the subscription is still alive at both ends.
  t.like(alice.engine.getPresenceSubscriptions().subscriptions[0], { state: 'active' });
  t.true(alice.engine.getPresenceSubscriptions().subscriptions[0]!.refreshCount >= 2);
  t.is(bob.engine.getPresenceWatchers().watchers.length, 1);
  const before = alice.of(T.SipPresenceOnline).length;
  t.is(bob.engine.setPresenceStatus('still here'), T.SipSuccess);
  await alice.waitForCount(T.SipPresenceOnline, before + 1, (n) => n.data.stateText === 'still here');
  t.pass();
});

test('presence: stopping the presentity ends the subscription (offline); stopping the watcher unsubscribes', async (t) => {
  const { alice, bob, bobUri } = await pair(t);
  const carol = await startEngine(t, { phoneName: 'carol' });
  t.is(await alice.engine.presenceSubscribe(bobUri, ''), T.SipSuccess);
  t.is(await carol.engine.presenceSubscribe(bobUri, ''), T.SipSuccess);
  const recvs = await bob.waitForCount(T.SipPresenceRecvSubscribe, 2);
  for (const r of recvs) t.is(bob.engine.presenceAcceptSubscribe(r.data.subscribeId), T.SipSuccess);
  await alice.waitFor(T.SipPresenceOnline);
  await carol.waitFor(T.SipPresenceOnline);
  t.is(await carol.engine.stopSipTelephony(), T.SipSuccess);
  t.true(await until(() => bob.engine.getPresenceWatchers().watchers.length === 1), 'carol unsubscribed when she stopped');
  t.is(await bob.engine.stopSipTelephony(), T.SipSuccess);
  const off = await alice.waitFor(T.SipPresenceOffline);
  t.like(off.data, { from: bobUri });
  t.true(await until(() => alice.engine.getPresenceSubscriptions().subscriptions.length === 0));
});

test('presence procedures return codes, never throw', async (t) => {
  const idle = new VoipMediaEngine();
  t.is(await idle.presenceSubscribe('sip:bob@127.0.0.1', ''), T.SipMediaEngineNotInitialized);
  t.is(idle.setPresenceStatus('x'), T.SipMediaEngineNotInitialized);
  t.is(idle.presenceAcceptSubscribe(1), T.SipMediaEngineNotInitialized);
  t.is(idle.getPresenceWatchers().result, T.SipMediaEngineNotInitialized);
  const { presenceSubscribe, setPresenceStatus } = idle;
  t.is(await presenceSubscribe('sip:a@b', ''), T.SipInvalidHandle, 'unbound call');
  t.is(setPresenceStatus('x'), T.SipInvalidHandle);
  const e = await startEngine(t, { phoneName: 'eve' });
  t.is(await e.engine.presenceSubscribe('not a uri', ''), T.SipBadSipUri);
  t.is(await e.engine.presenceSubscribe('tel:+123', ''), T.SipBadSipUri);
  t.is(await e.engine.presenceSubscribe(42 as unknown as string, ''), T.SipBadParameter);
  t.is(await e.engine.presenceSubscribe('sip:bob@127.0.0.1', 'bad\r\nX-Injected: 1'), T.SipBadParameter);
  t.is(await e.engine.presenceSubscribe('sip:bob@127.0.0.1', '', 0), T.SipBadParameter);
  t.is(await e.engine.presenceSubscribe('sip:bob@no-such-host.invalid', ''), T.SipUnknownHost);
  t.is(e.engine.setPresenceStatus(null as unknown as string), T.SipBadParameter);
  t.is(e.engine.presenceAcceptSubscribe(-1), T.SipInvalidHandle);
  t.is(e.engine.presenceRejectSubscribe(NaN), T.SipInvalidHandle);
  t.is(await e.engine.setPresenceServer('', 5060), T.SipBadParameter);
  t.is(await e.engine.setPresenceServer('127.0.0.1', 70000), T.SipBadParameter);
  t.is(e.engine.getPresencePublication().result, T.SipNotEnabled);
});

// ---------------------------------------------------------------- through Kamailio

peerTest('presence through Kamailio: SUBSCRIBE answers its 407 with digest, NOTIFYs follow the record-route', ['kamailio'], async (t) => {
  const kam = await startKamailio();
  t.teardown(() => kam.stop());
  const bob = await startEngine(t, { phoneName: 'bob', phoneDisplayName: 'Bob' });
  const alice = await startEngine(t, { phoneName: 'alice', phoneDisplayName: 'Alice' });
  for (const [e, user] of [[bob, 'bob'], [alice, 'alice']] as const) {
    t.is(e.engine.addAuthorizationCredentials(user, `secret-${user}`, '127.0.0.1'), T.SipSuccess);
    t.is(await e.engine.enableSipProxyServer('127.0.0.1', kam.port), T.SipSuccess);
    t.is(e.engine.enableSipDomain('127.0.0.1'), T.SipSuccess);
  }
  t.is(await bob.engine.enableSipRegisterServer('bob', false, true, '127.0.0.1', kam.port, 60, 60, 4000, false), T.SipSuccess);
  await bob.waitFor(T.SipRegisterSuccess);

  // Without credentials the 407 cannot be answered.
  const eve = await startEngine(t, { phoneName: 'carol' });
  t.is(await eve.engine.enableSipProxyServer('127.0.0.1', kam.port), T.SipSuccess);
  t.is(eve.engine.enableSipDomain('127.0.0.1'), T.SipSuccess);
  t.is(await eve.engine.presenceSubscribe('sip:bob@127.0.0.1', ''), T.SipSuccess);
  const noAuth = await eve.waitFor(T.SipSubscriptionRequiresAuthentication);
  t.like(noAuth.data, { code: 407 });

  t.is(await alice.engine.presenceSubscribe('sip:bob@127.0.0.1', 'via the proxy', 6), T.SipSuccess);
  const recv = await bob.waitFor(T.SipPresenceRecvSubscribe);
  t.like(recv.data, { from: 'sip:alice@127.0.0.1', subject: 'via the proxy' });
  t.is(bob.engine.setPresenceStatus('Behind a proxy'), T.SipSuccess);
  t.is(bob.engine.presenceAcceptSubscribe(recv.data.subscribeId), T.SipSuccess);
  const online = await alice.waitFor(T.SipPresenceOnline);
  t.like(online.data, { from: 'sip:bob@127.0.0.1', stateText: 'Behind a proxy', fromDisplayName: 'Bob' });
  // The 6 s subscription is refreshed in-dialog through the proxy.
  const refreshed = await alice.waitFor(T.SipSubscriptionSuccess, (n) => n.data.refresh === true, 15000);
  t.like(refreshed.data, { expires: 6 });
  t.is(bob.engine.presenceOffline(), T.SipSuccess);
  await alice.waitFor(T.SipPresenceOffline);
  t.is(await alice.engine.presenceUnsubscribe('sip:bob@127.0.0.1'), T.SipSuccess);
  t.true(await until(() => bob.engine.getPresenceWatchers().watchers.length === 0));
});
