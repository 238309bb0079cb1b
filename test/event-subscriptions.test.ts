/**
 * LanScape's generic event subscriptions between two real engines on loopback:
 * startEventSubscription / SipSubscriptionReceived / sendEventNotification / triggerSubscription /
 * stopEventSubscription / closeNotifyHandle, refusals, NOTIFY time-outs, and the unsolicited
 * NOTIFY switch (a plain UDP socket plays the far end where no engine procedure sends the
 * request needed).
 */
import test from 'ava';
import dgram from 'node:dgram';
import { TelephonyReturnValue as T } from '../index.js';
import { startEngine, sleep } from './helpers/engine.js';


/** A bare UDP SIP endpoint: sends text requests, collects what arrives. */
async function udpPeer(t: Parameters<typeof startEngine>[0]) {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => sock.close());
  const port = sock.address().port;
  const inbox: string[] = [];
  const waiters: Array<() => void> = [];
  sock.on('message', (m) => {
    inbox.push(m.toString('latin1'));
    for (const w of waiters.splice(0)) w();
  });
  const waitFor = async (re: RegExp, timeoutMs = 5000): Promise<string> => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = inbox.find((m) => re.test(m));
      if (hit) {
        inbox.splice(inbox.indexOf(hit), 1);
        return hit;
      }
      if (Date.now() > end) throw new Error(`no message matching ${re}; inbox: ${inbox.join('\n---\n')}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 100);
      });
    }
  };
  const send = (text: string, to: number): void => {
    sock.send(Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1'), to, '127.0.0.1');
  };
  return { port, send, waitFor, inbox };
}

function request(method: string, uri: string, peerPort: number, headers: string[], body = ''): string {
  const branch = `z9hG4bK${Math.random().toString(16).slice(2)}`;
  return [
    `${method} ${uri} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${peerPort};branch=${branch};rport`,
    'Max-Forwards: 70',
    ...headers,
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\n');
}

test('generic subscription between engines: receive, accept, notify, trigger, stop', async (t) => {
  const bob = await startEngine(t, { phoneName: 'voicemail' });
  const alice = await startEngine(t, { phoneName: 'alice' });
  let notifyHandle = 0;
  bob.engine.on('SipSubscriptionReceived', (n) => {
    const d = n.data;
    if (d.eventPackage !== 'message-summary') return; // others keep the default refusal (489)
    notifyHandle = d.notifyHandle;
    d.acceptSubscription = true;
    d.initialNotifyBody = 'Messages-Waiting: no\r\n';
  });
  alice.engine.on('SipEventNotifyReceived', (n) => {
    const d = n.data;
    if (d.body.toString() === 'garbage') d.responseStatusCode = 400;
  });
  const target = `sip:voicemail@127.0.0.1:${bob.port}`;
  const { result, handle } = await alice.engine.startEventSubscription(target, 'message-summary', 'application/simple-message-summary', 120);
  t.is(result, T.SipSuccess);
  t.true(handle > 0);
  t.like((await alice.waitFor(T.SipSubscriptionTrying)).data, { handle, eventPackage: 'message-summary', targetUri: target });
  const received = await bob.waitFor(T.SipSubscriptionReceived);
  t.like(received.data, { eventPackage: 'message-summary', from: 'sip:alice@127.0.0.1', expires: 120, accept: ['application/simple-message-summary'] });
  t.like((await alice.waitFor(T.SipSubscriptionSuccess)).data, { handle, expires: 120, refresh: false });
  const first = await alice.waitFor(T.SipEventNotifyReceived);
  t.like(first.data, { handle, solicited: true, eventPackage: 'message-summary', subscriptionState: 'active', contentType: 'application/simple-message-summary' });
  t.is(first.data.body.toString(), 'Messages-Waiting: no\r\n');

  t.is(await bob.engine.sendEventNotification(notifyHandle, 'Messages-Waiting: yes\r\nVoice-Message: 2/0\r\n', 3000), T.SipSuccess);
  const second = (await alice.waitForCount(T.SipEventNotifyReceived, 2))[1]!;
  t.is(second.data.body.toString(), 'Messages-Waiting: yes\r\nVoice-Message: 2/0\r\n');
  const binary = Buffer.from([0, 1, 2, 0xff, 0, 0x0d, 0x0a]);
  t.is(await bob.engine.sendEventNotification(notifyHandle, binary, 3000, 'application/octet-stream'), T.SipSuccess);
  const third = (await alice.waitForCount(T.SipEventNotifyReceived, 3))[2]!;
  t.deepEqual(third.data.body, binary, 'binary bodies arrive byte for byte');
  t.is(third.data.contentType, 'application/octet-stream');
  t.is(await bob.engine.sendEventNotification(notifyHandle, 'garbage', 3000), T.SipEventNotifyNotAccepted, 'the subscriber answered 400');

  // Refresh on demand: a 2xx, and the notifier repeats its state.
  t.is(alice.engine.triggerSubscription(handle), T.SipSuccess);
  t.like((await alice.waitFor(T.SipSubscriptionSuccess, (n) => n.data.refresh === true)).data, { handle, refresh: true });
  await alice.waitForCount(T.SipEventNotifyReceived, 5);

  t.is(alice.engine.stopEventSubscription(handle), T.SipSuccess);
  const last = await alice.waitFor(T.SipEventNotifyReceived, (n) => n.data.subscriptionState === 'terminated');
  t.like(last.data, { handle, reason: 'timeout' });
  t.is(alice.engine.stopEventSubscription(handle), T.SipInvalidHandle);
  t.is(alice.engine.triggerSubscription(handle), T.SipInvalidHandle);
  await sleep(100);
  t.is(await bob.engine.sendEventNotification(notifyHandle, 'x', 1000), T.SipInvalidHandle, 'the handle died with the subscription');
});

test('generic subscription: closeNotifyHandle ends it at the subscriber; unknown packages get 489', async (t) => {
  const bob = await startEngine(t, { phoneName: 'bob' });
  const alice = await startEngine(t, { phoneName: 'alice' });
  bob.engine.on('SipSubscriptionReceived', (n) => {
    const d = n.data;
    if (d.eventPackage === 'dialog') {
      d.acceptSubscription = true;
      d.pending = true;
    }
  });
  const target = `sip:bob@127.0.0.1:${bob.port}`;
  const sub = await alice.engine.startEventSubscription(target, 'dialog', 'application/dialog-info+xml', 300);
  t.is(sub.result, T.SipSuccess);
  const pending = await alice.waitFor(T.SipEventNotifyReceived);
  t.like(pending.data, { subscriptionState: 'pending' });
  const h = bob.of(T.SipSubscriptionReceived)[0]!.data.notifyHandle;
  t.is(await bob.engine.sendEventNotification(h, '<dialog-info/>', 3000, 'application/dialog-info+xml'), T.SipSuccess);
  t.like((await alice.waitForCount(T.SipEventNotifyReceived, 2))[1]!.data, { subscriptionState: 'active' });
  t.is(bob.engine.closeNotifyHandle(h), T.SipSuccess);
  t.like((await alice.waitFor(T.SipEventNotifyReceived, (n) => n.data.subscriptionState === 'terminated')).data, { reason: 'noresource' });
  t.is(bob.engine.closeNotifyHandle(h), T.SipInvalidHandle);
  await sleep(100);
  t.is(alice.engine.triggerSubscription(sub.handle), T.SipInvalidHandle, 'the subscriber forgot it');

  const refused = await alice.engine.startEventSubscription(target, 'conference', '', 60);
  t.is(refused.result, T.SipSuccess);
  t.like((await alice.waitFor(T.SipSubscriptionNotAccepted)).data, { handle: refused.handle, code: 489, eventPackage: 'conference' });
  t.is(alice.engine.triggerSubscription(refused.handle), T.SipInvalidHandle);
});

test('sendEventNotification times out when the subscriber stops answering', async (t) => {
  const bob = await startEngine(t, { phoneName: 'bob' });
  let handle = 0;
  bob.engine.on('SipSubscriptionReceived', (n) => {
    const d = n.data;
    d.acceptSubscription = true;
    handle = d.notifyHandle;
  });
  const peer = await udpPeer(t);
  peer.send(
    request('SUBSCRIBE', `sip:bob@127.0.0.1:${bob.port}`, peer.port, [
      `From: <sip:mute@127.0.0.1:${peer.port}>;tag=mute1`,
      `To: <sip:bob@127.0.0.1:${bob.port}>`,
      'Call-ID: mute-call-1',
      'CSeq: 1 SUBSCRIBE',
      `Contact: <sip:mute@127.0.0.1:${peer.port}>`,
      'Event: message-summary',
      'Expires: 60',
    ]),
    bob.port,
  );
  t.regex(await peer.waitFor(/^SIP\/2\.0 200/), /Expires: 60/);
  await peer.waitFor(/^NOTIFY /); // the first NOTIFY, left unanswered like every later one
  t.is(await bob.engine.sendEventNotification(handle, 'Messages-Waiting: yes', 300), T.SipEventNotifyResponseTimeOut);
  t.is(await bob.engine.sendEventNotification(handle, 'x', 0), T.SipBadParameter);
  t.is(await bob.engine.sendEventNotification(handle, 42 as unknown as string, 100), T.SipBadParameter);
  t.is(await bob.engine.sendEventNotification(9999, 'x', 100), T.SipInvalidHandle);
});

test('unsolicited NOTIFY: 481 by default, SipEventNotifyReceived once setReceivedUnsolicitedNotifyState(true)', async (t) => {
  const e = await startEngine(t, { phoneName: 'phone' });
  const peer = await udpPeer(t);
  const notify = (n: number): string =>
    request(
      'NOTIFY',
      `sip:phone@127.0.0.1:${e.port}`,
      peer.port,
      [
        `From: "Voice Mail" <sip:vm@127.0.0.1:${peer.port}>;tag=vm${n}`,
        `To: <sip:phone@127.0.0.1:${e.port}>`,
        `Call-ID: unsolicited-${n}`,
        `CSeq: ${n} NOTIFY`,
        'Event: message-summary',
        'Subscription-State: active',
        'Content-Type: application/simple-message-summary',
      ],
      'Messages-Waiting: yes\r\n',
    );
  peer.send(notify(1), e.port);
  t.regex(await peer.waitFor(/^SIP\/2\.0 \d+/), /^SIP\/2\.0 481/);
  t.is(e.of(T.SipEventNotifyReceived).length, 0);
  t.is(e.engine.setReceivedUnsolicitedNotifyState(true), T.SipSuccess);
  peer.send(notify(2), e.port);
  t.regex(await peer.waitFor(/^SIP\/2\.0 \d+/), /^SIP\/2\.0 200/);
  const got = await e.waitFor(T.SipEventNotifyReceived);
  t.like(got.data, { handle: -1, solicited: false, eventPackage: 'message-summary', from: `sip:vm@127.0.0.1:${peer.port}`, fromDisplayName: 'Voice Mail', contentType: 'application/simple-message-summary' });
  t.is(got.data.body.toString(), 'Messages-Waiting: yes\r\n');
  t.is(e.engine.setReceivedUnsolicitedNotifyState(false), T.SipSuccess);
  peer.send(notify(3), e.port);
  t.regex(await peer.waitFor(/^SIP\/2\.0 \d+/), /^SIP\/2\.0 481/);
  t.is(e.engine.setReceivedUnsolicitedNotifyState('yes' as unknown as boolean), T.SipBadParameter);
});

test('generic subscription procedures return codes, never throw', async (t) => {
  const e = await startEngine(t, { phoneName: 'x' });
  const bad = async (...args: Parameters<typeof e.engine.startEventSubscription>) => (await e.engine.startEventSubscription(...args)).result;
  t.is(await bad('sip:a@127.0.0.1', 'bad package!', '', 60), T.SipBadParameter);
  t.is(await bad('sip:a@127.0.0.1', 'refer', '', 60), T.SipBadParameter, 'refer belongs to transfers');
  t.is(await bad('sip:a@127.0.0.1', 'dialog', 'not a type', 60), T.SipBadParameter);
  t.is(await bad('sip:a@127.0.0.1', 'dialog', '', 0), T.SipBadParameter);
  t.is(await bad('garbage', 'dialog', '', 60), T.SipBadSipUri);
  t.is(await bad('sip:a@127.0.0.1', 'dialog', '', 60, true), T.SipProxyNotEnabled);
  t.is(e.engine.stopEventSubscription(77), T.SipInvalidHandle);
  t.is(e.engine.triggerSubscription(77), T.SipInvalidHandle);
  t.is(e.engine.closeNotifyHandle(77), T.SipInvalidHandle);
  await e.engine.stopSipTelephony();
  t.is(e.engine.setReceivedUnsolicitedNotifyState(true), T.SipMediaEngineNotInitialized);
  t.is((await e.engine.startEventSubscription('sip:a@127.0.0.1', 'dialog', '', 60)).result, T.SipMediaEngineNotInitialized);
});
