/**
 * SIP over TLS on loopback with a throw-away PKI (test/helpers/tlsPki.ts): one connection
 * carrying requests and answers both ways (RFC 3261 §18, RFC 5923 alias), the TLS failure
 * reasons (unknown CA, host name mismatch, handshake time-out, a server that refuses our
 * certificate), clients that send garbage, stall or hang up mid-message, and engine to engine:
 * a call with audio both ways, a MESSAGE and a keep-alive over TLS.
 */
import test from 'ava';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { SipStack, VIA_PLACEHOLDER, type RemoteEndpoint } from '../sip/stack.js';
import { SipTransport } from '../sip/transport.js';
import { TlsError, classifyTlsError, readPem, requestIsSips, uriTransport, type TlsSettings } from '../sip/tlsTransport.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import { parseMessage } from '../sip/parser.js';
import { newTag } from '../sip/util.js';
import { peerTest } from './helpers/env.js';
import { testPki } from './helpers/tlsPki.js';
import { freePort } from './helpers/ports.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { analyse, capture, sendTone } from './helpers/audio.js';
import { until } from './helpers/observe.js';
import { captureLog, type LogRecord } from './helpers/log.js';
import { TelephonyReturnValue as T, VoipMediaEngine } from '../index.js';
import { resolveStartParams } from '../engine/startParams.js';

const HOST = '127.0.0.1';

function serverTls(extra: TlsSettings = {}): TlsSettings {
  const pki = testPki();
  return { certificate: pki.server.certFile, privateKey: pki.server.keyFile, ca: pki.ca.cert, ...extra };
}

async function tlsStack(t: { teardown(fn: () => unknown): void }, settings: TlsSettings | undefined = serverTls()): Promise<SipStack> {
  const stack = new SipStack({ host: HOST, port: 0, tls: settings && { ...settings, port: 0 } });
  await stack.start();
  t.teardown(() => stack.stop());
  return stack;
}

function options(to: string): SipRequest {
  const text =
    `OPTIONS ${to} SIP/2.0\r\n` +
    `Via: ${VIA_PLACEHOLDER}\r\n` +
    `From: <sip:alice@${HOST}>;tag=${newTag()}\r\n` +
    `To: <${to}>\r\n` +
    `Call-ID: ${newTag()}@tls-test\r\n` +
    'CSeq: 1 OPTIONS\r\n' +
    'Content-Length: 0\r\n\r\n';
  return parseMessage(Buffer.from(text)) as SipRequest;
}

/** Sends OPTIONS in a client transaction; resolves with the final answer or the transport error. */
function ask(stack: SipStack, dest: RemoteEndpoint): Promise<SipResponse | Error> {
  return new Promise((resolve) => {
    stack.sendRequest(options(`sip:bob@${dest.host}:${dest.port};transport=tls`), dest, {
      onFinal: (res) => resolve(res),
      onTimeout: () => resolve(new Error('timeout')),
      onTransportError: (err) => resolve(err),
    });
  });
}

/** An outcome for a message. */
const show = (r: SipResponse | Error): string => (r instanceof Error ? r.message : `${r.status} ${r.reason}`);

/** Answers every request 200. */
function answerAll(stack: SipStack, seen: Array<{ req: SipRequest; from: RemoteEndpoint }> = []): typeof seen {
  stack.onRequest = (req, tx, from) => {
    seen.push({ req, from });
    tx.respond(stack.createResponse(req, 200, 'OK', { toTag: newTag() }));
  };
  return seen;
}

test('the URI picks the transport: transport=tls and sips: mean TLS', (t) => {
  t.is(uriTransport({ scheme: 'sips', params: {} }, 'UDP'), 'TLS');
  t.is(uriTransport({ scheme: 'sip', params: { transport: 'tls' } }, 'UDP'), 'TLS');
  t.is(uriTransport({ scheme: 'sip', params: { transport: 'TCP' } }, 'TLS'), 'TCP');
  t.is(uriTransport({ scheme: 'sip', params: {} }, 'TLS'), 'TLS');
  t.is(classifyTlsError(Object.assign(new Error('x'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }), true), 'unknown-ca');
  t.is(classifyTlsError(Object.assign(new Error('x'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }), true), 'host-name-mismatch');
  t.is(classifyTlsError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), true), 'connection-failed');
});

test('a request is sips when its Request-URI or its first Route is (RFC 3261 §8.1.1.8)', (t) => {
  const req = (uri: string, route?: string): { uri: string; headers: { get(n: string): string | undefined } } => ({ uri, headers: { get: (n) => (n === 'Route' ? route : undefined) } });
  t.true(requestIsSips(req('sips:bob@example.com')));
  t.true(requestIsSips(req('SIPS:bob@example.com')));
  t.false(requestIsSips(req('sip:bob@example.com;transport=tls')));
  t.true(requestIsSips(req('sip:bob@example.com', '<sips:proxy.example.com;lr>, <sip:other.example.com;lr>')));
  t.true(requestIsSips(req('sip:bob@example.com', '"Edge" <sips:proxy.example.com;lr>')));
  t.false(requestIsSips(req('sip:bob@example.com', '<sip:proxy.example.com;lr>, <sips:other.example.com;lr>')));
});

test('start parameters: TLS settings are checked; a missing certificate file fails the start, a bad shape is SipBadParameter', async (t) => {
  t.is(resolveStartParams({ sipTransport: 'TLS' }) === T.SipBadParameter, false);
  t.is(resolveStartParams({ sipTransport: 'SCTP' }), T.SipBadParameter);
  t.is(resolveStartParams({ tls: { certificate: 'x.pem' } }), T.SipBadParameter, 'a certificate without its key');
  t.is(resolveStartParams({ tls: { verifyServer: 'yes' } }), T.SipBadParameter);
  t.is(resolveStartParams({ tls: { handshakeTimeoutMs: 5 } }), T.SipBadParameter);
  t.is(resolveStartParams({ tlsPort: 70000 }), T.SipBadParameter);
  t.throws(() => readPem('/nonexistent/key.pem', 'tls.privateKey'), { message: /tls.privateKey: cannot read \/nonexistent\/key.pem/ });
  const e = new VoipMediaEngine();
  const rc = await e.startSipTelephony({ sipPort: 0, tlsPort: 0, tls: { certificate: '/nonexistent/c.pem', privateKey: '/nonexistent/k.pem' } });
  t.is(rc, T.SipBadParameter);
  await e.stopSipTelephony();
});

peerTest('one TLS connection carries requests and answers both ways (RFC 3261 §18, RFC 5923 alias)', ['openssl'], async (t) => {
  const a = await tlsStack(t);
  const b = await tlsStack(t);
  const atB = answerAll(b);
  const atA = answerAll(a);
  t.true(a.transport.tlsPort > 0 && a.transport.tlsPort !== a.transport.localPort, 'TLS has a port of its own');
  const res = await ask(a, { protocol: 'TLS', host: HOST, port: b.transport.tlsPort });
  t.false(res instanceof Error, show(res));
  t.is((res as SipResponse).status, 200);
  const first = atB[0]!;
  t.is(first.from.protocol, 'TLS');
  const via = first.req.headers.get('Via') ?? '';
  t.regex(via, new RegExp(`^SIP/2.0/TLS 127\\.0\\.0\\.1:${a.transport.tlsPort};branch=z9hG4bK[^;]+;rport=\\d+;alias`), 'our Via names the TLS port and offers the connection');
  // B's own request to A's sent-by reuses the connection A opened (alias), not a new one.
  const back = await ask(b, { protocol: 'TLS', host: HOST, port: a.transport.tlsPort });
  t.is((back as SipResponse).status, 200);
  t.is(atA.length, 1);
  t.is(a.transport.connectionCount, 1, 'A holds one connection');
  t.is(b.transport.connectionCount, 1, 'B holds one connection');
  // A second request from A goes over the same connection.
  const again = await ask(a, { protocol: 'TLS', host: HOST, port: b.transport.tlsPort });
  t.is((again as SipResponse).status, 200);
  t.is(atB[1]!.from.connectionId, first.from.connectionId);
  t.is(a.transport.connectionCount, 1);
});

peerTest('TLS failures carry their reason: unknown CA, host name mismatch, handshake time-out; verifyServer false lets an unknown CA through', ['openssl'], async (t) => {
  const pki = testPki();
  const errors: Array<{ reason: string; outgoing: boolean }> = [];
  // the default handshake time-out for the real servers (a loaded machine can take a while to
  // finish a handshake); a short one only where nothing will ever answer
  const client = await tlsStack(t, { ca: pki.ca.cert });
  const impatient = await tlsStack(t, { ca: pki.ca.cert, handshakeTimeoutMs: 500 });
  for (const c of [client, impatient]) c.transport.on('tlsError', (err, _peer, outgoing) => errors.push({ reason: err.reason, outgoing }));
  const untrusted = await tlsStack(t, serverTls({ certificate: pki.untrusted.cert, privateKey: pki.untrusted.key }));
  const wrongName = await tlsStack(t, serverTls({ certificate: pki.wrongName.cert, privateKey: pki.wrongName.key }));
  answerAll(untrusted);
  answerAll(wrongName);

  const r1 = await ask(client, { protocol: 'TLS', host: HOST, port: untrusted.transport.tlsPort });
  t.true(r1 instanceof TlsError && r1.reason === 'unknown-ca', show(r1));
  const r2 = await ask(client, { protocol: 'TLS', host: HOST, port: wrongName.transport.tlsPort });
  t.true(r2 instanceof TlsError && r2.reason === 'host-name-mismatch', show(r2));
  // the name dialled is what is checked: wrong.example matches that certificate
  const r3 = await ask(client, { protocol: 'TLS', host: HOST, port: wrongName.transport.tlsPort, serverName: 'wrong.example' });
  t.is((r3 as SipResponse).status, 200, show(r3));

  // a TCP server that accepts and never says a word
  const silent = net.createServer(() => undefined);
  silent.listen(0, HOST);
  await once(silent, 'listening');
  const held: net.Socket[] = [];
  silent.on('connection', (s) => held.push(s));
  t.teardown(() => {
    for (const s of held) s.destroy();
    silent.close();
  });
  const r4 = await ask(impatient, { protocol: 'TLS', host: HOST, port: (silent.address() as net.AddressInfo).port });
  t.true(r4 instanceof TlsError && r4.reason === 'handshake-timeout', show(r4));
  t.deepEqual(errors.map((e) => e.reason), ['unknown-ca', 'host-name-mismatch', 'handshake-timeout']);
  t.true(errors.every((e) => e.outgoing));

  const lax = await tlsStack(t, { verifyServer: false });
  const r5 = await ask(lax, { protocol: 'TLS', host: HOST, port: untrusted.transport.tlsPort });
  t.is((r5 as SipResponse).status, 200, show(r5));
});

peerTest('a listener that requires client certificates takes ours and refuses a client without one', ['openssl'], async (t) => {
  const pki = testPki();
  const server = await tlsStack(t, serverTls({ requireClientCertificate: true }));
  const serverErrors: string[] = [];
  server.transport.on('tlsError', (err) => serverErrors.push(err.reason));
  answerAll(server);
  const withCert = await tlsStack(t, { ca: pki.ca.cert, clientCertificate: pki.client.cert, clientPrivateKey: pki.client.key });
  const ok = await ask(withCert, { protocol: 'TLS', host: HOST, port: server.transport.tlsPort });
  t.is((ok as SipResponse).status, 200, show(ok));
  // TLS 1.3 refuses the certificate after the client's side of the handshake is done, so the
  // request is written and then lost with the connection: a short T1 ends its wait.
  const without = new SipStack({ host: HOST, port: 0, t1: 50, tls: { ca: pki.ca.cert } });
  await without.start();
  t.teardown(() => without.stop());
  const clientErrors: string[] = [];
  without.transport.on('tlsError', (err) => clientErrors.push(err.reason));
  const refused = await ask(without, { protocol: 'TLS', host: HOST, port: server.transport.tlsPort });
  t.true(refused instanceof Error, 'no answer without a client certificate');
  await until(() => serverErrors.length > 0 && clientErrors.length > 0, 5000);
  t.deepEqual(clientErrors, ['certificate-rejected']);
});

peerTest('clients sending garbage, stalling in the handshake or hanging up mid-message leave the listener serving', ['openssl'], async (t) => {
  const pki = testPki();
  // long enough for a well-behaved client's handshake on a loaded machine, short enough to see the staller dropped
  const server = await tlsStack(t, serverTls({ handshakeTimeoutMs: 3000 }));
  const seen = answerAll(server);
  const failures: string[] = [];
  server.transport.on('tlsError', (err, _peer, outgoing) => failures.push(`${err.reason}:${String(outgoing)}`));
  const transportErrors: Error[] = [];
  server.on('error', (err) => transportErrors.push(err));
  const port = server.transport.tlsPort;

  // garbage instead of a ClientHello
  const garbage = net.connect({ host: HOST, port });
  await once(garbage, 'connect');
  garbage.write('OPTIONS sip:x SIP/2.0\r\n\r\n\x00\xff\xfe garbage');
  garbage.on('error', () => undefined);
  // a client that connects and never starts its handshake
  const staller = net.connect({ host: HOST, port });
  staller.on('error', () => undefined);
  await once(staller, 'connect');
  // a client that sends half a SIP message over TLS and hangs up
  const half = tls.connect({ host: HOST, port, ca: pki.ca.cert });
  await once(half, 'secureConnect');
  half.write('OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:1;branch=z9hG4bKhalf\r\nContent-Len');
  half.destroy();
  t.teardown(() => {
    garbage.destroy();
    staller.destroy();
  });
  await until(() => failures.length >= 2, 20_000);
  t.true(failures.includes('handshake-failed:false'), failures.join(','));
  t.true(failures.includes('handshake-timeout:false'), failures.join(','));

  // a well-behaved client is served all along
  const client = await tlsStack(t, { ca: pki.ca.cert });
  const res = await ask(client, { protocol: 'TLS', host: HOST, port });
  t.is((res as SipResponse).status, 200, show(res));
  t.is(seen.length, 1, 'only the complete request reached the TU');
  t.deepEqual(transportErrors, []);
});

peerTest('the TLS listener closes with the transport, even with a handshake pending', ['openssl'], async (t) => {
  const tr = new SipTransport({ host: HOST, port: 0, tls: { ...serverTls(), port: 0 } });
  await tr.listen();
  const staller = net.connect({ host: HOST, port: tr.tlsPort });
  staller.on('error', () => undefined);
  await once(staller, 'connect');
  await tr.close();
  await once(staller, 'close');
  t.pass();
});

peerTest('RFC 5626 keep-alive over a TLS flow: CRLFCRLF ping, CRLF pong', ['openssl'], async (t) => {
  const a = await tlsStack(t);
  const b = await tlsStack(t);
  let pongs = 0;
  a.transport.on('pong', (conn) => {
    if (conn.protocol === 'TLS') pongs++;
  });
  t.true(a.sendKeepAlive({ protocol: 'TLS', host: HOST, port: b.transport.tlsPort }));
  await until(() => pongs === 1, 5000);
  t.true(a.sendKeepAlive({ protocol: 'TLS', host: HOST, port: b.transport.tlsPort }));
  await until(() => pongs === 2, 5000);
  t.is(a.transport.connectionCount, 1, 'both pings went over one flow');
});

peerTest('the engine sends its SIP keep-alive over TLS (sendSipKeepAlive protocol TLS)', ['openssl'], async (t) => {
  const pki = testPki();
  let received = '';
  const server = tls.createServer({ cert: pki.server.cert, key: pki.server.key }, (s) => {
    s.on('data', (d: Buffer) => {
      received += d.toString('latin1');
      s.write('\r\n');
    });
    s.on('error', () => undefined);
  });
  server.listen(0, HOST);
  await once(server, 'listening');
  t.teardown(() => server.close());
  const e = await startEngine(t, { sipTransport: 'TLS', tlsPort: 0, tls: { ca: pki.ca.cert } });
  t.is(await e.engine.sendSipKeepAlive('127.0.0.1', (server.address() as net.AddressInfo).port, true, 1, 'TLS'), T.SipSuccess);
  await until(() => received.length >= 8, 10_000);
  t.true(/^(\r\n\r\n)+$/.test(received), JSON.stringify(received));
  t.deepEqual(e.of(T.SipTlsError), []);
});

// ------------------------------------------------------------------ engine to engine

async function tlsEngine(t: Parameters<typeof startEngine>[0], name: string, lines = 1): Promise<EngineUnderTest & { tlsPort: number }> {
  const tlsPort = await freePort();
  const e = await startEngine(t, { phoneName: name, numPhoneLinesRequested: lines, sipTransport: 'TLS', tlsPort, tls: serverTls() });
  return Object.assign(e, { tlsPort });
}

peerTest('engine to engine over TLS: a call with audio both ways that strangers at the TLS port do not disturb, a MESSAGE, a keep-alive', ['openssl'], async (t) => {
  const alice = await tlsEngine(t, 'alice');
  const bob = await tlsEngine(t, 'bob');
  bob.engine.on('SipOkToAnswerCall', (n) => bob.engine.goOffHook(n.phoneLine));
  const t0 = performance.now();
  const rc = await alice.engine.makeCall('bob', '127.0.0.1', bob.tlsPort, 0, true, 10_000);
  t.is(rc, T.SipSuccess);
  await bob.waitFor(T.SipIncomingCallConnected);
  t.log(`call set up over TLS (handshake included) in ${(performance.now() - t0).toFixed(0)} ms`);
  const toBob = capture(bob.engine, 0);
  const toAlice = capture(alice.engine, 0);
  sendTone(alice.engine, 0, 700, 4);
  sendTone(bob.engine, 0, 1100, 4);
  await until(() => toBob.samples().length >= 12_000 && toAlice.samples().length >= 12_000, 30_000);
  const heardByBob = analyse(toBob.samples());
  const heardByAlice = analyse(toAlice.samples());
  t.true(Math.abs(heardByBob.freq - 700) < 15, `bob hears ${heardByBob.freq} Hz`);
  t.true(Math.abs(heardByAlice.freq - 1100) < 20, `alice hears ${heardByAlice.freq} Hz`);

  // strangers at bob's TLS port: garbage, a stalled handshake, half a message then gone
  const pki = testPki();
  const garbage = net.connect({ host: HOST, port: bob.tlsPort });
  garbage.on('error', () => undefined);
  await once(garbage, 'connect');
  garbage.write('\x16\x03\x01\x00\x05hello garbage');
  const staller = net.connect({ host: HOST, port: bob.tlsPort });
  staller.on('error', () => undefined);
  const half = tls.connect({ host: HOST, port: bob.tlsPort, ca: pki.ca.cert });
  half.on('error', () => undefined);
  await once(half, 'secureConnect');
  half.end('INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:9;branch=z9hG4bKx\r\nContent-Length: 100\r\n\r\nv=0');
  t.teardown(() => {
    garbage.destroy();
    staller.destroy();
  });
  await bob.waitFor(T.SipTlsError, (n) => n.data.reason === 'handshake-failed' && !n.data.outgoing);
  // the call goes on: more of alice's tone reaches bob after the strangers came
  const heardBefore = toBob.samples().length;
  await until(() => toBob.samples().length >= heardBefore + 4000, 15_000);
  t.true(Math.abs(analyse(toBob.samples()).freq - 700) < 15, 'bob still hears alice');
  t.is(bob.engine.getActiveCallInfo(0).result, T.SipSuccess);

  const sent = alice.engine.sendOutOfDialogMessage(`sip:bob@127.0.0.1:${bob.tlsPort};transport=tls`, 'text', 'plain', 'over TLS');
  t.is(sent.result, T.SipSuccess);
  const got = await bob.waitFor(T.SipRecvOutOfDialogMessage);
  t.is(got.data.messageData.toString('utf8'), 'over TLS');
  await alice.waitFor(T.SipSendOutOfDialogMessageSuccess);
  // RFC 5626 CRLFCRLF ping over the TLS flow
  t.is(await alice.engine.sendSipKeepAlive('127.0.0.1', bob.tlsPort, true, 30, 'TLS'), T.SipSuccess);
  t.is(await bob.engine.terminateCall(0, true, 5000), T.SipSuccess);
  await alice.waitFor(T.SipCallComplete);
  t.deepEqual(alice.of(T.SipTlsError), []);
});

peerTest('engine to engine: a call to a server with an untrusted certificate fails with the TLS reason', ['openssl'], async (t) => {
  const pki = testPki();
  const alice = await tlsEngine(t, 'alice');
  const tlsPort = await freePort();
  await startEngine(t, { phoneName: 'mallory', sipTransport: 'TLS', tlsPort, tls: { certificate: pki.untrusted.cert, privateKey: pki.untrusted.key } });
  const rc = await alice.engine.makeCall('mallory', '127.0.0.1', tlsPort, 0, true, 10_000);
  t.not(rc, T.SipSuccess);
  const err = await alice.waitFor(T.SipTlsError);
  t.is(err.data.reason, 'unknown-ca');
  t.is(err.data.outgoing, true);
  const failed = await alice.waitFor(T.SipFarEndError);
  t.is(failed.data.reasonPhrase, 'TLS unknown-ca');
  t.is(alice.engine.getOutgoingCallErrorInfo(0).responseReasonPhrase, 'TLS unknown-ca');
});

/** The SIP messages an engine logged (logSipMessages through a captured logger). */
function sipLog(records: LogRecord[], dir: 'recv' | 'send', firstLine: RegExp): Array<{ proto: string; sip: string }> {
  return records
    .filter((r) => r['component'] === 'linescape-sip' && r['dir'] === dir && firstLine.test(String(r['firstLine'])))
    .map((r) => ({ proto: String(r['proto']), sip: String(r['sip']) }));
}

/** The Contact header of a logged message. */
const contactOf = (sip: string): string => /\r\nContact: ([^\r]*)/i.exec(sip)?.[1] ?? '';

peerTest('a UDP-default engine dialling sips: advertises a sips: Contact: the callee\'s re-INVITE and BYE come back over TLS, audio works', ['openssl'], async (t) => {
  const pki = testPki();
  const aliceLog = captureLog('info');
  // sipTransport stays UDP, and alice has no TLS listener: the far end reaches her over her connection
  const alice = await startEngine(t, { phoneName: 'alice', tls: { ca: pki.ca.cert }, logSipMessages: true }, { logger: aliceLog.logger });
  const bob = await tlsEngine(t, 'bob');
  bob.engine.on('SipOkToAnswerCall', (n) => bob.engine.goOffHook(n.phoneLine));
  t.is(await alice.engine.makeCallUri(`sips:bob@127.0.0.1:${bob.tlsPort}`, false, 0, true, 10_000), T.SipSuccess);
  await bob.waitFor(T.SipIncomingCallConnected);
  const invite = sipLog(aliceLog.records, 'send', /^INVITE sips:/)[0]!;
  t.is(invite.proto, 'TLS');
  t.is(contactOf(invite.sip), `<sips:alice@127.0.0.1:${alice.port}>`, 'RFC 3261 §8.1.1.8: a sips: Request-URI, a sips: Contact');
  t.regex(invite.sip, /\r\nVia: SIP\/2\.0\/TLS /);

  const toBob = capture(bob.engine, 0);
  const toAlice = capture(alice.engine, 0);
  sendTone(alice.engine, 0, 700, 3);
  sendTone(bob.engine, 0, 1100, 3);
  await until(() => toBob.samples().length >= 8000 && toAlice.samples().length >= 8000, 30_000);
  t.true(Math.abs(analyse(toBob.samples()).freq - 700) < 15, 'bob hears alice');
  t.true(Math.abs(analyse(toAlice.samples()).freq - 1100) < 20, 'alice hears bob');

  // the callee's in-dialog requests go to alice's Contact: over TLS, on the connection she opened
  t.is(await bob.engine.holdLine(0, true), T.SipSuccess);
  await alice.waitFor(T.SipFarEndHoldOn);
  t.deepEqual(sipLog(aliceLog.records, 'recv', /^INVITE /).map((m) => m.proto), ['TLS'], 'the hold re-INVITE came over TLS');
  t.is(await bob.engine.terminateCall(0, true, 5000), T.SipSuccess);
  await alice.waitFor(T.SipCallComplete);
  t.deepEqual(sipLog(aliceLog.records, 'recv', /^BYE /).map((m) => m.proto), ['TLS'], 'the BYE came over TLS');
  t.deepEqual(sipLog(aliceLog.records, 'recv', /./).filter((m) => m.proto !== 'TLS'), [], 'nothing of the call came over UDP');
  t.deepEqual(alice.of(T.SipTlsError), []);
});

peerTest('a UDP-default engine with a TLS listener answers a TLS call with a TLS Contact: the caller\'s BYE comes over TLS', ['openssl'], async (t) => {
  const carolLog = captureLog('info');
  const carolTls = await freePort();
  const carol = await startEngine(t, { phoneName: 'carol', tlsPort: carolTls, tls: serverTls(), logSipMessages: true }, { logger: carolLog.logger });
  carol.engine.on('SipOkToAnswerCall', (n) => carol.engine.goOffHook(n.phoneLine));
  const bob = await tlsEngine(t, 'bob');
  t.is(await bob.engine.makeCall('carol', '127.0.0.1', carolTls, 0, true, 10_000), T.SipSuccess);
  await carol.waitFor(T.SipIncomingCallConnected);
  const ok = sipLog(carolLog.records, 'send', /^SIP\/2\.0 200 /).find((m) => /\r\nCSeq: \d+ INVITE/i.test(m.sip))!;
  t.is(ok.proto, 'TLS');
  t.is(contactOf(ok.sip), `<sip:carol@127.0.0.1:${carolTls};transport=tls>`, 'the 200 names the transport the INVITE came over');
  t.is(await bob.engine.terminateCall(0, true, 5000), T.SipSuccess);
  await carol.waitFor(T.SipCallComplete);
  t.deepEqual(sipLog(carolLog.records, 'recv', /^BYE /).map((m) => m.proto), ['TLS']);
  t.deepEqual([...carol.of(T.SipTlsError), ...bob.of(T.SipTlsError)], []);
});

peerTest('presence over TLS: a UDP-default engine subscribes to sips: and the NOTIFYs (status, offline, the final one) come back over TLS', ['openssl'], async (t) => {
  const pki = testPki();
  const aliceLog = captureLog('info');
  const alice = await startEngine(t, { phoneName: 'alice', phoneDisplayName: 'Alice', tls: { ca: pki.ca.cert }, logSipMessages: true }, { logger: aliceLog.logger });
  const bob = await tlsEngine(t, 'bob');
  const bobUri = `sips:bob@127.0.0.1:${bob.tlsPort}`;
  t.is(await alice.engine.presenceSubscribe(bobUri, 'over TLS'), T.SipSuccess);
  const recv = await bob.waitFor(T.SipPresenceRecvSubscribe);
  t.like(recv.data, { subject: 'over TLS' });
  await alice.waitFor(T.SipSubscriptionSuccess);
  const subscribe = sipLog(aliceLog.records, 'send', /^SUBSCRIBE sips:/)[0]!;
  t.is(subscribe.proto, 'TLS');
  t.is(contactOf(subscribe.sip), `<sips:alice@127.0.0.1:${alice.port}>`);
  t.is(bob.engine.presenceAcceptSubscribe(recv.data.subscribeId), T.SipSuccess);
  t.is(bob.engine.setPresenceStatus('Encrypted'), T.SipSuccess);
  await alice.waitFor(T.SipPresenceOnline, (n) => n.data.stateText === 'Encrypted');
  t.is(bob.engine.presenceOffline(), T.SipSuccess);
  await alice.waitFor(T.SipPresenceOffline);
  t.is(await alice.engine.presenceUnsubscribe(bobUri), T.SipSuccess);
  t.true(await until(() => bob.engine.getPresenceWatchers().watchers.length === 0), 'the notifier forgot the watcher');
  // pending, active (Encrypted), offline, and the terminated NOTIFY after the unsubscribe
  const notifies = sipLog(aliceLog.records, 'recv', /^NOTIFY /);
  t.true(notifies.length >= 4, `${notifies.length} NOTIFYs`);
  t.deepEqual(notifies.filter((m) => m.proto !== 'TLS'), [], 'every NOTIFY came over TLS');
  t.deepEqual(sipLog(aliceLog.records, 'send', /^SUBSCRIBE /).map((m) => m.proto), ['TLS', 'TLS'], 'the unsubscribe too');
  t.deepEqual([...alice.of(T.SipTlsError), ...bob.of(T.SipTlsError)], []);
});

peerTest('engine to engine over TLS: a blind transfer (REFER, NOTIFY and the new INVITE all over TLS) connects B and C', ['openssl'], async (t) => {
  const a = await tlsEngine(t, 'alice');
  const b = await tlsEngine(t, 'bob', 2); // the transferee places the new call on its second line
  const c = await tlsEngine(t, 'carol');
  for (const e of [b, c]) e.engine.on('SipOkToAnswerCall', (n) => e.engine.goOffHook(n.phoneLine));
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.tlsPort, 0, true, 10_000), T.SipSuccess);
  await b.waitFor(T.SipIncomingCallConnected);
  t.is(a.engine.transferLine('carol', '127.0.0.1', c.tlsPort, 0), T.SipSuccess);
  await a.waitFor(T.SipActvTransferSuccess);
  await c.waitFor(T.SipIncomingCallConnected);
  const bLine = (await b.waitFor(T.SipOutgoingCallConnected)).phoneLine;
  const atC = capture(c.engine, 0);
  sendTone(b.engine, bLine, 900, 2);
  await until(() => atC.samples().length >= 8000, 20_000);
  t.true(Math.abs(analyse(atC.samples()).freq - 900) < 15, 'carol hears bob');
  t.deepEqual([...a.of(T.SipTlsError), ...b.of(T.SipTlsError), ...c.of(T.SipTlsError)], []);
});

peerTest('the listener speaks TLS 1.3 and 1.2, and refuses 1.1', ['openssl'], async (t) => {
  const pki = testPki();
  const server = await tlsStack(t);
  const port = server.transport.tlsPort;
  const version = async (v: tls.SecureVersion): Promise<string> => {
    const s = tls.connect({ host: HOST, port, ca: pki.ca.cert, minVersion: v, maxVersion: v });
    try {
      await once(s, 'secureConnect');
      return s.getProtocol() ?? '?';
    } catch (err) {
      return `refused (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
    } finally {
      s.destroy();
    }
  };
  t.is(await version('TLSv1.3'), 'TLSv1.3');
  t.is(await version('TLSv1.2'), 'TLSv1.2');
  t.regex(await version('TLSv1.1'), /^refused/);
});

peerTest('a sips: URI is dialled over TLS even when the engine sends over UDP by default', ['openssl'], async (t) => {
  const pki = testPki();
  const alice = await startEngine(t, { phoneName: 'alice', tls: { ca: pki.ca.cert } }); // sipTransport stays UDP
  const bob = await tlsEngine(t, 'bob');
  bob.engine.on('SipOkToAnswerCall', (n) => bob.engine.goOffHook(n.phoneLine));
  // bob's tlsPort has nothing but the TLS listener behind it: the call connecting proves TLS
  t.is(await alice.engine.makeCallUri(`sips:bob@127.0.0.1:${bob.tlsPort}`, false, 0, true, 10_000), T.SipSuccess);
  await bob.waitFor(T.SipIncomingCallConnected);
  t.is(await alice.engine.terminateCall(0, true, 5000), T.SipSuccess);
  await bob.waitFor(T.SipCallComplete);
  t.deepEqual(alice.of(T.SipTlsError), []);
});
