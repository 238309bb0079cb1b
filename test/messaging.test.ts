/**
 * Instant messages (RFC 3428) with PortSIP's events, on loopback:
 * - out of dialog and in the dialog of a call between two engines, text and binary (every byte
 *   value, NUL included, compared byte for byte), over UDP and TCP;
 * - the receiver's refusals: 415 for a type it does not accept, 413 for a body over its limit
 *   (UDP with a small limit, TCP with the default 64 KiB), 400 for a body without Content-Type,
 *   481 for a MESSAGE in an unknown dialog — each a failure event with the code at the sender;
 * - nobody listening: 408 after Timer F; Kamailio (users alice/bob, 407 digest on MESSAGE)
 *   relaying between two registered engines, and answering 404 for a user not registered;
 * - bad arguments return codes, never throw.
 */
import test, { type ExecutionContext } from 'ava';
import { VoipMediaEngine, TelephonyReturnValue as T, DEFAULT_MAX_MESSAGE_BODY_SIZE } from '../index.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { startKamailio } from './helpers/peers.js';
import { freePort, freePorts } from './helpers/ports.js';
import { sipRequest, sipUdpClient } from './helpers/sipUdp.js';

/** Every byte value twice, so NUL, CR, LF and high bytes all travel. */
const BINARY = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from([0, 0, 13, 10, 13, 10, 0])]);

/** An engine with its own reserved RTP block (calls need media ports). */
async function engine(t: ExecutionContext, phoneName: string, extra: Parameters<typeof startEngine>[1] = {}): Promise<EngineUnderTest> {
  const rtp = await freePorts(8, { even: true });
  return startEngine(t, { phoneName, phoneDisplayName: phoneName.toUpperCase(), minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[rtp.length - 1]! + 1, ...extra });
}

/** Alice calls Bob on line 0; Bob answers. Resolves once both sides are connected. */
async function connectedPair(t: ExecutionContext): Promise<{ alice: EngineUnderTest; bob: EngineUnderTest; bobLine: number }> {
  const alice = await engine(t, 'alice');
  const bob = await engine(t, 'bob');
  bob.engine.on('SipOkToAnswerCall', (n) => bob.engine.goOffHook(n.phoneLine));
  t.is(await alice.engine.makeCall('bob', '127.0.0.1', bob.port, 0, true, 8000), T.SipSuccess);
  const connected = await bob.waitFor(T.SipIncomingCallConnected);
  return { alice, bob, bobLine: connected.phoneLine };
}


test('out-of-dialog text message between two engines: success at the sender, every PortSIP field at the receiver', async (t) => {
  const alice = await engine(t, 'alice');
  const bob = await engine(t, 'bob');
  const to = `sip:bob@127.0.0.1:${bob.port}`;
  const sent = alice.engine.sendOutOfDialogMessage(to, 'text', 'plain', 'héllo bob');
  t.is(sent.result, T.SipSuccess);
  t.true(sent.messageId > 0);
  const ok = await alice.waitFor(T.SipSendOutOfDialogMessageSuccess);
  t.is(ok.phoneLine, -1);
  t.deepEqual(ok.data, { messageId: sent.messageId, fromDisplayName: 'ALICE', from: `sip:alice@127.0.0.1:${alice.port}`, toDisplayName: '', to });
  const got = (await bob.waitFor(T.SipRecvOutOfDialogMessage)).data;
  t.like(got, { fromDisplayName: 'ALICE', from: `sip:alice@127.0.0.1:${alice.port}`, toDisplayName: '', to, mimeType: 'text', subMimeType: 'plain' });
  t.true(Buffer.isBuffer(got.messageData));
  t.is(got.messageData.toString('utf8'), 'héllo bob');
  // ids grow per message
  const second = alice.engine.sendOutOfDialogMessage(to, 'text', 'plain', 'again');
  t.is(second.messageId, sent.messageId + 1);
  await alice.waitForCount(T.SipSendOutOfDialogMessageSuccess, 2);
});

test('binary bodies with NUL bytes arrive byte for byte, out of dialog over UDP and TCP', async (t) => {
  const alice = await engine(t, 'alice');
  const bob = await engine(t, 'bob');
  for (const suffix of ['', ';transport=tcp']) {
    const r = alice.engine.sendOutOfDialogMessage(`sip:bob@127.0.0.1:${bob.port}${suffix}`, 'application', 'octet-stream', BINARY);
    t.is(r.result, T.SipSuccess);
  }
  const got = await bob.waitForCount(T.SipRecvOutOfDialogMessage, 2);
  for (const n of got) {
    const d = n.data;
    t.is(d.mimeType, 'application');
    t.is(d.subMimeType, 'octet-stream');
    t.true(d.messageData.equals(BINARY), 'every byte survived');
  }
  await alice.waitForCount(T.SipSendOutOfDialogMessageSuccess, 2);
});

test('in-dialog messages both ways on a call: SipRecvMessage on the call line, text and binary, success events with the message id', async (t) => {
  const { alice, bob, bobLine } = await connectedPair(t);
  const a = alice.engine.sendMessage(0, 'text', 'plain', 'in the call');
  t.is(a.result, T.SipSuccess);
  const got = await bob.waitFor(T.SipRecvMessage);
  t.is(got.phoneLine, bobLine);
  t.deepEqual(got.data, { mimeType: 'text', subMimeType: 'plain', messageData: Buffer.from('in the call') });
  const ok = await alice.waitFor(T.SipSendMessageSuccess);
  t.is(ok.phoneLine, 0);
  t.deepEqual(ok.data, { messageId: a.messageId });

  const b = bob.engine.sendMessage(bobLine, 'application', 'x-blob', BINARY);
  t.is(b.result, T.SipSuccess);
  const back = (await alice.waitFor(T.SipRecvMessage)).data;
  t.true(back.messageData.equals(BINARY));
  t.is(back.subMimeType, 'x-blob');
  t.deepEqual((await bob.waitFor(T.SipSendMessageSuccess)).data, { messageId: b.messageId });
  // nothing leaked out of the dialog
  t.is(bob.of(T.SipRecvOutOfDialogMessage).length, 0);
  t.is(await alice.engine.terminateCall(0, true, 5000), T.SipSuccess);
  // after the call: no dialog to carry it
  t.is(alice.engine.sendMessage(0, 'text', 'plain', 'late').result, T.SipNoCallActive);
});

test('the receiver refuses: 415 for a type it does not accept (in and out of dialog), 413 for a body over its limit', async (t) => {
  const { alice, bob, bobLine } = await connectedPair(t);
  t.is(bob.engine.setAcceptedMessageMimeTypes(['text/plain', 'application/*']), T.SipSuccess);
  t.is(bob.engine.setMaxMessageBodySize(1000), T.SipSuccess);
  const to = `sip:bob@127.0.0.1:${bob.port}`;

  const img = alice.engine.sendOutOfDialogMessage(to, 'image', 'png', BINARY);
  const f415 = (await alice.waitFor(T.SipSendOutOfDialogMessageFailure, (n) => n.data.messageId === img.messageId)).data;
  t.is(f415.code, 415);
  t.is(f415.reason, 'Unsupported Media Type');
  t.is(f415.to, to);

  const inDialog = alice.engine.sendMessage(0, 'video', 'mp4', 'x');
  const d415 = (await alice.waitFor(T.SipSendMessageFailure)).data;
  t.deepEqual(d415, { messageId: inDialog.messageId, reason: 'Unsupported Media Type', code: 415 });

  const big = alice.engine.sendOutOfDialogMessage(to, 'text', 'plain', 'x'.repeat(1001));
  const f413 = (await alice.waitFor(T.SipSendOutOfDialogMessageFailure, (n) => n.data.messageId === big.messageId)).data;
  t.is(f413.code, 413);
  // just at the limit, of an accepted wildcard type: fine
  alice.engine.sendOutOfDialogMessage(to, 'application', 'json', Buffer.alloc(1000, 0x20));
  await alice.waitFor(T.SipSendOutOfDialogMessageSuccess);
  t.is(bob.of(T.SipRecvOutOfDialogMessage).length, 1);
  t.is(bob.of(T.SipRecvMessage).length, 0);
  // the call was not disturbed
  t.true(bob.engine.getActiveCallInfo(bobLine).connected ?? false);
  t.is(bob.engine.setAcceptedMessageMimeTypes(['not a type']), T.SipBadParameter);
  t.is(bob.engine.setMaxMessageBodySize(0), T.SipBadParameter);
});

test('a body over the default 64 KiB limit, sent over TCP, is answered 413', async (t) => {
  const alice = await engine(t, 'alice');
  const bob = await engine(t, 'bob');
  const body = Buffer.alloc(DEFAULT_MAX_MESSAGE_BODY_SIZE + 1, 0x41);
  const r = alice.engine.sendOutOfDialogMessage(`sip:bob@127.0.0.1:${bob.port};transport=tcp`, 'text', 'plain', body);
  t.is(r.result, T.SipSuccess);
  const f = (await alice.waitFor(T.SipSendOutOfDialogMessageFailure)).data;
  t.is(f.code, 413);
  t.is(bob.of(T.SipRecvOutOfDialogMessage).length, 0);
});

test('raw MESSAGEs: no Content-Type → 400, bad Content-Type → 400, unknown dialog → 481, a good one → 200 and the event', async (t) => {
  const bob = await engine(t, 'bob');
  const c = await sipUdpClient(t, bob.port);
  const base = { method: 'MESSAGE', enginePort: bob.port, localPort: c.port, cseq: 1 };
  const noType = await c.request(sipRequest({ ...base, branch: 'm1', callId: 'm1', body: 'hi' }));
  t.is(noType.status, 400);
  t.is(noType.reason, 'Missing Content-Type');
  const badType = await c.request(sipRequest({ ...base, branch: 'm2', callId: 'm2', headers: ['Content-Type: text'], body: 'hi' }));
  t.is(badType.status, 400);
  const stray = await c.request(sipRequest({ ...base, branch: 'm3', callId: 'm3', toTag: 'nosuchdialog', headers: ['Content-Type: text/plain'], body: 'hi' }));
  t.is(stray.status, 481);
  const good = await c.request(sipRequest({ ...base, branch: 'm4', callId: 'm4', headers: ['Content-Type: text/plain; charset=utf-8'], body: Buffer.from([0x61, 0, 0x62]) }));
  t.is(good.status, 200);
  t.is(good.body.length, 0, 'a 200 to MESSAGE has no body');
  const got = (await bob.waitFor(T.SipRecvOutOfDialogMessage)).data;
  t.true(got.messageData.equals(Buffer.from([0x61, 0, 0x62])));
  t.like(got, { fromDisplayName: 'Tester', from: `sip:tester@127.0.0.1:${c.port}`, mimeType: 'text', subMimeType: 'plain' });
  t.is(bob.of(T.SipRecvOutOfDialogMessage).length, 1, 'refused messages raise nothing');
});

test('nobody listening: the failure event carries 408 after Timer F', async (t) => {
  // T1 = 50 ms makes Timer F (64 T1) 3.2 s instead of 32 s.
  const alice = await engine(t, 'alice', { sipT1Ms: 50, sipT2Ms: 400 });
  const dead = await freePort();
  const r = alice.engine.sendOutOfDialogMessage(`sip:nobody@127.0.0.1:${dead}`, 'text', 'plain', 'anyone?');
  t.is(r.result, T.SipSuccess);
  const f = (await alice.waitFor(T.SipSendOutOfDialogMessageFailure)).data;
  t.like(f, { messageId: r.messageId, code: 408, reason: 'Request Timeout', to: `sip:nobody@127.0.0.1:${dead}` });
});

test('bad arguments return codes and never throw', async (t) => {
  const alice = await engine(t, 'alice');
  const e = alice.engine;
  t.is(e.sendMessage(7, 'text', 'plain', 'x').result, T.SipBadPhoneLine);
  t.is(e.sendMessage(-1, 'text', 'plain', 'x').result, T.SipBadPhoneLine);
  t.is(e.sendMessage(0, 'text', 'plain', 'x').result, T.SipNoCallActive);
  t.is(e.sendOutOfDialogMessage('not a uri', 'text', 'plain', 'x').result, T.SipBadSipUri);
  t.is(e.sendOutOfDialogMessage('mailto:bob@example.org', 'text', 'plain', 'x').result, T.SipBadSipUri);
  t.is(e.sendOutOfDialogMessage('sip:bob@127.0.0.1', 'te xt', 'plain', 'x').result, T.SipBadParameter);
  t.is(e.sendOutOfDialogMessage('sip:bob@127.0.0.1', 'text', '', 'x').result, T.SipBadParameter);
  t.is(e.sendOutOfDialogMessage('sip:bob@127.0.0.1', 'text', 'plain', 42 as unknown as string).result, T.SipBadParameter);
  t.is(e.sendOutOfDialogMessage(undefined as unknown as string, 'text', 'plain', 'x').result, T.SipBadParameter);
  t.is(e.sendOutOfDialogMessage('sip:bob@127.0.0.1', 'text', 'plain', Buffer.alloc(300 * 1024)).result, T.SipBadParameter);
  const stopped = new VoipMediaEngine();
  t.is(stopped.sendOutOfDialogMessage('sip:bob@127.0.0.1', 'text', 'plain', 'x').result, T.SipMediaEngineNotInitialized);
  t.is(stopped.sendMessage(0, 'text', 'plain', 'x').result, T.SipMediaEngineNotInitialized);
  t.is(stopped.setMaxMessageBodySize(10), T.SipMediaEngineNotInitialized);
  t.is(alice.seen.filter((n) => n.event === T.SipSendOutOfDialogMessageFailure).length, 0, 'refused calls send nothing');
});

peerTest('through Kamailio with digest auth: alice (407 answered) reaches registered bob; an unregistered user gives a 404 failure', ['kamailio'], async (t) => {
  const kam = await startKamailio();
  t.teardown(() => kam.stop());
  const alice = await engine(t, 'alice');
  const bob = await engine(t, 'bob');
  for (const [e, user] of [[alice, 'alice'], [bob, 'bob']] as const) {
    t.is(e.engine.addAuthorizationCredentials(user, `secret-${user}`, '127.0.0.1'), T.SipSuccess);
    t.is(await e.engine.enableSipRegisterServer(user, false, false, '127.0.0.1', kam.port, 60, 60, 4000, false), T.SipSuccess);
    await e.waitFor(T.SipRegisterSuccess);
  }
  t.is(await alice.engine.enableSipProxyServer('127.0.0.1', kam.port), T.SipSuccess);
  t.is(alice.engine.enableSipDomain('127.0.0.1'), T.SipSuccess);

  const r = alice.engine.sendOutOfDialogMessage('sip:bob@127.0.0.1', 'application', 'octet-stream', BINARY);
  t.is(r.result, T.SipSuccess);
  const ok = await alice.waitFor(T.SipSendOutOfDialogMessageSuccess);
  t.like(ok.data, { messageId: r.messageId, from: 'sip:alice@127.0.0.1', to: 'sip:bob@127.0.0.1' });
  const got = (await bob.waitFor(T.SipRecvOutOfDialogMessage)).data;
  t.true(got.messageData.equals(BINARY), 'binary body intact through the proxy');
  t.is(got.from, 'sip:alice@127.0.0.1');

  const lost = alice.engine.sendOutOfDialogMessage('sip:carol@127.0.0.1', 'text', 'plain', 'are you there?');
  const f = (await alice.waitFor(T.SipSendOutOfDialogMessageFailure)).data;
  t.like(f, { messageId: lost.messageId, code: 404, to: 'sip:carol@127.0.0.1' });
});

peerTest('through Kamailio with a wrong password: the failure event carries 403', ['kamailio'], async (t) => {
  const kam = await startKamailio();
  t.teardown(() => kam.stop());
  const alice = await engine(t, 'alice');
  t.is(alice.engine.addAuthorizationCredentials('alice', 'wrong', '127.0.0.1'), T.SipSuccess);
  t.is(await alice.engine.enableSipProxyServer('127.0.0.1', kam.port), T.SipSuccess);
  t.is(alice.engine.enableSipDomain('127.0.0.1'), T.SipSuccess);
  alice.engine.sendOutOfDialogMessage('sip:bob@127.0.0.1', 'text', 'plain', 'hi');
  const f = (await alice.waitFor(T.SipSendOutOfDialogMessageFailure)).data;
  t.is(f.code, 403);
});
