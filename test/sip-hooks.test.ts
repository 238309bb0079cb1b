/**
 * SIP message hooks (enableSipMessageHook + the immediate SipModifySipMessage) on loopback:
 * off by default; a rewritten outgoing header and body arrive at the far end; a dropped
 * received message is never processed (the sender times out); a redirected sent message
 * reaches the other engine; a rewrite that does not parse leaves the original; a throwing
 * handler changes nothing; an unparsable datagram raises SipReceivedSipMessageParseError and
 * the engine keeps serving.
 */
import test from 'ava';
import { TelephonyReturnValue as T, NotifyType, type ModifySipMessageData, type Notification, VoipMediaEngine } from '../index.js';
import { startEngine, sleep } from './helpers/engine.js';
import { captureLog } from './helpers/log.js';
import { freePort } from './helpers/ports.js';
import { sipRequest, sipUdpClient } from './helpers/sipUdp.js';

const hookData = (n: Notification<'SipModifySipMessage'>): ModifySipMessageData => n.data;

test('off by default: no SipModifySipMessage; on: every message both ways, with where it goes or comes from', async (t) => {
  const alice = await startEngine(t, { phoneName: 'alice' });
  const bob = await startEngine(t, { phoneName: 'bob' });
  alice.engine.sendOutOfDialogMessage(`sip:bob@127.0.0.1:${bob.port}`, 'text', 'plain', 'one');
  await alice.waitFor(T.SipSendOutOfDialogMessageSuccess);
  t.is(alice.of(T.SipModifySipMessage).length, 0);
  t.is(alice.engine.enableSipMessageHook(true), T.SipSuccess);
  alice.engine.sendOutOfDialogMessage(`sip:bob@127.0.0.1:${bob.port}`, 'text', 'plain', 'two');
  await alice.waitForCount(T.SipSendOutOfDialogMessageSuccess, 2);
  const seen = alice.of(T.SipModifySipMessage);
  t.is(seen.length, 2);
  t.is(seen[0]!.notifyType, NotifyType.ImmediateNotification);
  const [sent, received] = seen.map(hookData);
  t.like(sent, { direction: 'sent', drop: false, destination: { protocol: 'UDP', host: '127.0.0.1', port: bob.port } });
  t.regex(sent!.message, /^MESSAGE sip:bob@127\.0\.0\.1:\d+ SIP\/2\.0\r\n/);
  t.true(sent!.message.endsWith('\r\n\r\ntwo'));
  t.like(received, { direction: 'received', source: { protocol: 'UDP', host: '127.0.0.1', port: bob.port } });
  t.regex(received!.message, /^SIP\/2\.0 200 OK\r\n/);
  t.is(alice.engine.enableSipMessageHook(false), T.SipSuccess);
  alice.engine.sendOutOfDialogMessage(`sip:bob@127.0.0.1:${bob.port}`, 'text', 'plain', 'three');
  await alice.waitForCount(T.SipSendOutOfDialogMessageSuccess, 3);
  t.is(alice.of(T.SipModifySipMessage).length, 2);
  t.is(new VoipMediaEngine().enableSipMessageHook(true), T.SipMediaEngineNotInitialized);
  t.is(alice.engine.enableSipMessageHook(1 as unknown as boolean), T.SipBadParameter);
});

test('rewriting an outgoing message: an added header and a longer body arrive at the far end (Content-Length recomputed)', async (t) => {
  const alice = await startEngine(t, { phoneName: 'alice' });
  const bob = await startEngine(t, { phoneName: 'bob' });
  alice.engine.on('SipModifySipMessage', (n) => {
    const d = hookData(n);
    if (d.direction !== 'sent' || !d.message.startsWith('MESSAGE ')) return;
    const cut = d.message.indexOf('\r\n');
    d.message = `${d.message.slice(0, cut)}\r\nX-Rewritten: by-the-app${d.message.slice(cut)} (edited, with \u0000 NUL)`;
  });
  let arrived = '';
  bob.engine.on('SipModifySipMessage', (n) => {
    const d = hookData(n);
    if (d.direction === 'received' && d.message.startsWith('MESSAGE ')) arrived = d.message;
  });
  t.is(alice.engine.enableSipMessageHook(true), T.SipSuccess);
  t.is(bob.engine.enableSipMessageHook(true), T.SipSuccess);
  alice.engine.sendOutOfDialogMessage(`sip:bob@127.0.0.1:${bob.port}`, 'text', 'plain', 'original');
  const got = (await bob.waitFor(T.SipRecvOutOfDialogMessage)).data;
  t.true(got.messageData.equals(Buffer.from('original (edited, with \u0000 NUL)', 'latin1')));
  t.regex(arrived, /\r\nX-Rewritten: by-the-app\r\n/);
  t.regex(arrived, new RegExp(`\\r\\nContent-Length: ${got.messageData.length}\\r\\n`));
  await alice.waitFor(T.SipSendOutOfDialogMessageSuccess);
});

test('dropping a received message: it is never processed and the sender times out with 408', async (t) => {
  const alice = await startEngine(t, { phoneName: 'alice', sipT1Ms: 50, sipT2Ms: 400 });
  const bob = await startEngine(t, { phoneName: 'bob' });
  bob.engine.on('SipModifySipMessage', (n) => {
    const d = hookData(n);
    if (d.direction === 'received' && d.message.startsWith('MESSAGE ')) d.drop = true;
  });
  t.is(bob.engine.enableSipMessageHook(true), T.SipSuccess);
  alice.engine.sendOutOfDialogMessage(`sip:bob@127.0.0.1:${bob.port}`, 'text', 'plain', 'you will not see this');
  const f = await alice.waitFor(T.SipSendOutOfDialogMessageFailure);
  t.like(f.data, { code: 408 });
  t.is(bob.of(T.SipRecvOutOfDialogMessage).length, 0);
  t.true(bob.of(T.SipModifySipMessage).filter((n) => hookData(n).direction === 'received').length > 1, 'every retransmission was seen and dropped');
  t.is(bob.of(T.SipModifySipMessage).filter((n) => hookData(n).direction === 'sent').length, 0, 'bob never answered');
});

test('dropping a sent message: it never leaves (retransmissions neither) and the request times out', async (t) => {
  const alice = await startEngine(t, { phoneName: 'alice', sipT1Ms: 50, sipT2Ms: 400 });
  const bob = await startEngine(t, { phoneName: 'bob' });
  alice.engine.on('SipModifySipMessage', (n) => {
    const d = hookData(n);
    if (d.direction === 'sent') d.drop = true;
  });
  t.is(alice.engine.enableSipMessageHook(true), T.SipSuccess);
  alice.engine.sendOutOfDialogMessage(`sip:bob@127.0.0.1:${bob.port}`, 'text', 'plain', 'never sent');
  t.like((await alice.waitFor(T.SipSendOutOfDialogMessageFailure)).data, { code: 408 });
  t.is(bob.of(T.SipRecvOutOfDialogMessage).length, 0);
});

test('redirecting a sent message: aimed at a dead port, it reaches carol instead, and the answer comes back', async (t) => {
  const alice = await startEngine(t, { phoneName: 'alice' });
  const carol = await startEngine(t, { phoneName: 'carol' });
  const dead = await freePort();
  alice.engine.on('SipModifySipMessage', (n) => {
    const d = hookData(n);
    if (d.direction === 'sent' && d.destination?.port === dead) d.destination.port = carol.port;
  });
  t.is(alice.engine.enableSipMessageHook(true), T.SipSuccess);
  const r = alice.engine.sendOutOfDialogMessage(`sip:bob@127.0.0.1:${dead}`, 'text', 'plain', 'for bob, via carol');
  const ok = await alice.waitFor(T.SipSendOutOfDialogMessageSuccess);
  t.like(ok.data, { messageId: r.messageId });
  const got = (await carol.waitFor(T.SipRecvOutOfDialogMessage)).data;
  t.is(got.to, `sip:bob@127.0.0.1:${dead}`);
  t.is(got.messageData.toString(), 'for bob, via carol');
});

test('a rewrite that does not parse, a bad destination and a throwing handler all leave the message as it was', async (t) => {
  // What the engine had to ignore, and the throwing handler, are reported to its logger.
  const log = captureLog();
  const alice = await startEngine(t, { phoneName: 'alice', logger: log.logger });
  const bob = await startEngine(t, { phoneName: 'bob' });
  let mode: 'garbage' | 'destination' | 'throw' = 'garbage';
  alice.engine.on('SipModifySipMessage', (n) => {
    const d = hookData(n);
    if (d.direction !== 'sent') return;
    if (mode === 'garbage') d.message = 'this is not SIP';
    else if (mode === 'destination') d.destination = { protocol: 'UDP', host: 'example.org', port: 5060 };
    else throw new Error('application bug');
  });
  t.is(alice.engine.enableSipMessageHook(true), T.SipSuccess);
  for (const [i, m] of (['garbage', 'destination', 'throw'] as const).entries()) {
    mode = m;
    alice.engine.sendOutOfDialogMessage(`sip:bob@127.0.0.1:${bob.port}`, 'text', 'plain', `message ${i}`);
    await alice.waitForCount(T.SipSendOutOfDialogMessageSuccess, i + 1);
  }
  const bodies = (await bob.waitForCount(T.SipRecvOutOfDialogMessage, 3)).map((n) => n.data.messageData.toString());
  t.deepEqual(bodies, ['message 0', 'message 1', 'message 2']);
  await sleep(50);
  const warnings = log.records.map((r) => r.msg);
  t.true(warnings.some((w) => /does not parse/.test(w)));
  t.true(warnings.some((w) => /invalid destination/.test(w)));
  t.true(warnings.some((w) => /SipModifySipMessage threw/.test(w)));
});

test('an unparsable datagram raises SipReceivedSipMessageParseError (with the hook on too) and the engine keeps serving', async (t) => {
  const bob = await startEngine(t, { phoneName: 'bob' });
  t.is(bob.engine.enableSipMessageHook(true), T.SipSuccess);
  const c = await sipUdpClient(t, bob.port);
  c.send('NOT SIP AT ALL\r\n\r\n');
  const n = await bob.waitFor(T.SipReceivedSipMessageParseError);
  t.like(n.data, { source: { protocol: 'UDP', host: '127.0.0.1', port: c.port } });
  t.truthy(n.data.reason);
  t.regex(n.data.message, /^NOT SIP AT ALL/);
  const ok = await c.request(sipRequest({ method: 'OPTIONS', enginePort: bob.port, localPort: c.port, branch: 'after', callId: 'after', cseq: 1 }));
  t.is(ok.status, 200);
});
