/**
 * sips: and TLS where the engine's default transport is not TLS (RFC 3261 §8.1.1.8, §26.2;
 * RFC 5630): a REGISTER that goes over TLS carries a TLS Contact (`sips:` for a `sips:`
 * registrar) so the registrar reaches the engine back over TLS; a `sips:` request that arrives
 * over UDP or TCP is answered 416, never served as secure; a `sips:` request never leaves over
 * anything but TLS, and makeCallUri/enableSipRegisterServer say so with
 * SipSecureTransportRequired when they cannot keep it on TLS.
 */
import test from 'ava';
import { createServer as tlsServer } from 'node:tls';
import { SipStack, VIA_PLACEHOLDER } from '../sip/stack.js';
import { SipsNeedsTlsError, uriTransport, type TlsSettings } from '../sip/tlsTransport.js';
import { nextHopOf } from '../sip/dialog.js';
import { parseMessage } from '../sip/parser.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import type { Endpoint } from '../sip/transport.js';
import { sendUacRequest, type UacOutcome } from '../sip/uac.js';
import { newTag } from '../sip/util.js';
import { VirtualClock } from '../sip/clock.js';
import { RegistrationClient } from '../engine/registration.js';
import { TelephonyReturnValue as T } from '../index.js';
import { fakeContext } from './helpers/fakeContext.js';
import { fakeUac, settle } from './helpers/fakeSip.js';
import { peerTest } from './helpers/env.js';
import { testPki } from './helpers/tlsPki.js';
import { freePort } from './helpers/ports.js';
import { startEngine } from './helpers/engine.js';
import { until } from './helpers/observe.js';
import { runSipp, sippScenario } from './helpers/peers.js';

const HOST = '127.0.0.1';

function serverTls(): TlsSettings {
  const pki = testPki();
  return { certificate: pki.server.certFile, privateKey: pki.server.keyFile, ca: pki.ca.cert };
}

function request(method: string, uri: string): SipRequest {
  const text =
    `${method} ${uri} SIP/2.0\r\n` +
    `Via: ${VIA_PLACEHOLDER}\r\n` +
    `From: <sip:alice@${HOST}>;tag=${newTag()}\r\n` +
    `To: <${uri}>\r\n` +
    `Call-ID: ${newTag()}@sips-test\r\n` +
    `CSeq: 1 ${method}\r\n` +
    'Content-Length: 0\r\n\r\n';
  return parseMessage(Buffer.from(text)) as SipRequest;
}

// ------------------------------------------------------------------ which transport a URI takes

test('sips: is TLS whatever its transport parameter says (RFC 5630 §3.1.3: sips:…;transport=tcp is TLS over TCP)', (t) => {
  t.is(uriTransport({ scheme: 'sips', params: { transport: 'tcp' } }, 'UDP'), 'TLS');
  t.is(uriTransport({ scheme: 'sips', params: { transport: 'udp' } }, 'UDP'), 'TLS');
  t.is(nextHopOf('sips:bob@127.0.0.1:5071;transport=tcp', 'UDP').protocol, 'TLS');
  t.is(nextHopOf('sips:bob@127.0.0.1;transport=udp', 'UDP').port, 5061);
  t.is(nextHopOf('sip:bob@127.0.0.1;transport=tcp', 'UDP').protocol, 'TCP');
});

// ------------------------------------------------------------------ the client path never downgrades

function recordingServices(): { sent: Array<{ req: SipRequest; dest: Endpoint }>; services: Parameters<typeof sendUacRequest>[0] } {
  const sent: Array<{ req: SipRequest; dest: Endpoint }> = [];
  return {
    sent,
    services: {
      send: (req, dest) => {
        sent.push({ req, dest });
        return {} as ReturnType<Parameters<typeof sendUacRequest>[0]['send']>;
      },
      answerChallenge: () => 'no-credentials',
      outboundProxy: () => undefined,
      resolve: () => Promise.resolve(undefined),
      transport: () => 'UDP',
    },
  };
}

test('a sips: request is never sent over UDP or TCP: the next TLS target takes it, else a SipsNeedsTlsError and nothing sent', async (t) => {
  const udp: Endpoint = { protocol: 'UDP', host: HOST, port: 5060 };
  const tcp: Endpoint = { protocol: 'TCP', host: HOST, port: 5060 };
  const tls: Endpoint = { protocol: 'TLS', host: HOST, port: 5061 };
  {
    const r = recordingServices();
    const outcome = await new Promise<UacOutcome>((resolve) => sendUacRequest(r.services, { build: () => request('MESSAGE', 'sips:bob@example.com'), destination: [udp, tcp], authUser: 'alice' }, resolve));
    t.is(r.sent.length, 0, 'nothing left over UDP or TCP');
    t.is(outcome.kind, 'transport');
    t.true(outcome.kind === 'transport' && outcome.error instanceof SipsNeedsTlsError);
  }
  {
    const r = recordingServices();
    sendUacRequest(r.services, { build: () => request('MESSAGE', 'sips:bob@example.com'), destination: [udp, tls], authUser: 'alice' }, () => undefined);
    await settle();
    t.deepEqual(r.sent.map((s) => s.dest.protocol), ['TLS']);
  }
  {
    // a sip: request goes wherever it is sent
    const r = recordingServices();
    sendUacRequest(r.services, { build: () => request('MESSAGE', 'sip:bob@example.com'), destination: [udp], authUser: 'alice' }, () => undefined);
    await settle();
    t.deepEqual(r.sent.map((s) => s.dest.protocol), ['UDP']);
  }
});

// ------------------------------------------------------------------ REGISTER follows its transport

function registration(destination: Endpoint, targets: readonly Endpoint[], requestUri: string) {
  const clock = new VirtualClock();
  const uac = fakeUac(clock);
  const raised: Array<{ event: T; data: Record<string, unknown> }> = [];
  const ctx = fakeContext({
    clock,
    uac: uac.services,
    runStack: { transport: { on: () => undefined, off: () => undefined } } as unknown as SipStack,
    // what the engine's contactUri gives for each transport (its TLS listener on 5071)
    contactUri: (name, protocol, sips) =>
      protocol === 'TLS' ? (sips ? `sips:${name}@127.0.0.1:5071` : `sip:${name}@127.0.0.1:5071;transport=tls`) : `sip:${name}@127.0.0.1:5070${protocol === 'TCP' ? ';transport=tcp' : ''}`,
    advertisedAddress: () => ({ host: '127.0.0.1', port: 5070, protocol: 'UDP' }),
    notifyGlobal: (event, data) => raised.push({ event, data: data as Record<string, unknown> }),
  });
  const client = new RegistrationClient(
    ctx,
    { publicAddressDetected: () => undefined },
    { names: ['alice'], linesByName: new Map(), destination, targets: () => Promise.resolve(targets), requestUri, aorDomain: 'pbx.example.com', updateIntervalSeconds: 3600, expireSeconds: 3600, timeOutMs: 4000, natAutoDetect: false },
    10_000,
  );
  return { clock, uac, client, raised };
}

test('a REGISTER sent over TLS from a UDP-default engine carries the TLS Contact (sips: for a sips: registrar), also when DNS picked TLS', async (t) => {
  const tls: Endpoint = { protocol: 'TLS', host: HOST, port: 5061, serverName: 'pbx.example.com' };
  const udp: Endpoint = { protocol: 'UDP', host: HOST, port: 5060 };
  {
    const h = registration(tls, [tls], 'sips:pbx.example.com');
    h.client.start();
    await settle();
    const sent = h.uac.last('REGISTER');
    t.is(sent.dest.protocol, 'TLS');
    t.deepEqual(sent.req.headers.getAll('Contact'), ['<sips:alice@127.0.0.1:5071>']);
    sent.reply(200, { headers: [['Contact', '<sips:alice@127.0.0.1:5071>;expires=600']] });
    await settle();
    t.like(h.raised.find((r) => r.event === T.SipRegisterSuccess)?.data, { contact: 'sips:alice@127.0.0.1:5071', expires: 600 });
    h.client.dispose();
  }
  {
    // the registrar given as a name whose NAPTR/SRV names TLS first: the UDP default is not what it gets
    const h = registration(udp, [tls, udp], 'sip:pbx.example.com');
    h.client.start();
    await settle();
    t.deepEqual(h.uac.last('REGISTER').req.headers.getAll('Contact'), ['<sip:alice@127.0.0.1:5071;transport=tls>']);
    // TLS fails: the UDP target gets the REGISTER with the UDP Contact
    h.uac.last('REGISTER').user.onTransportError(new Error('connection refused'));
    await settle();
    t.is(h.uac.last('REGISTER').dest.protocol, 'UDP');
    t.deepEqual(h.uac.last('REGISTER').req.headers.getAll('Contact'), ['<sip:alice@127.0.0.1:5070>']);
    h.client.dispose();
  }
});

// ------------------------------------------------------------------ the UAS side: sips: only over TLS

peerTest('a sips: request that arrives over UDP or TCP is answered 416, over TLS it is served (RFC 3261 §26.2.2, RFC 5630)', ['openssl'], async (t) => {
  const server = new SipStack({ host: HOST, port: 0, tls: { ...serverTls(), port: 0 } });
  await server.start();
  t.teardown(() => server.stop());
  const served: string[] = [];
  server.onRequest = (req, tx, from) => {
    served.push(`${req.method} ${from.protocol}`);
    tx.respond(server.createResponse(req, 200, 'OK', { toTag: newTag() }));
  };
  const client = new SipStack({ host: HOST, port: 0, tls: { ca: testPki().ca.cert } });
  await client.start();
  t.teardown(() => client.stop());
  const ask = (uri: string, dest: Endpoint) =>
    new Promise<SipResponse | Error>((resolve) =>
      client.sendRequest(request('OPTIONS', uri), dest, { onFinal: resolve, onTimeout: () => resolve(new Error('timeout')), onTransportError: resolve }),
    );
  const port = server.transport.localPort;
  const tlsPort = server.transport.tlsPort;
  const show = (r: SipResponse | Error) => (r instanceof Error ? r.message : `${r.status} ${r.reason}`);
  t.is(show(await ask(`sips:bob@${HOST}:${port}`, { protocol: 'UDP', host: HOST, port })), '416 SIPS Requires TLS');
  t.is(show(await ask(`sips:bob@${HOST}:${port}`, { protocol: 'TCP', host: HOST, port })), '416 SIPS Requires TLS');
  t.is(show(await ask(`sips:bob@${HOST}:${tlsPort}`, { protocol: 'TLS', host: HOST, port: tlsPort })), '200 OK');
  t.is(show(await ask(`sip:bob@${HOST}:${port}`, { protocol: 'UDP', host: HOST, port })), '200 OK');
  t.deepEqual(served, ['OPTIONS TLS', 'OPTIONS UDP'], 'the TU saw neither sips: request of a plain transport');
});

for (const [name, extra] of [['UDP', []], ['TCP', ['-t', 't1']]] as const) {
  peerTest(`SIPp over ${name}: an INVITE, a MESSAGE and a REGISTER to sips: URIs are each answered 416 and reach no usage`, ['sipp'], async (t) => {
    const e = await startEngine(t, { phoneName: 'bob' });
    const res = await runSipp([`${HOST}:${e.port}`, '-sf', sippScenario('uac-sips-over-plain.xml'), '-s', 'bob', '-p', String(await freePort()), '-m', '1', '-timeout', '15s', '-timeout_error', ...extra]);
    t.is(res.code, 0, res.summary);
    t.is(e.of(T.SipRegisterReceived).length, 0);
    t.is(e.of(T.SipRecvOutOfDialogMessage).length, 0);
    t.is(e.of(T.SipOkToAnswerCall).length, 0);
    t.is(e.engine.getNumActiveCalls().numActiveCalls, 0);
  });
}

// ------------------------------------------------------------------ engines

peerTest('a UDP-default engine registers with a sips: registrar over TLS with a sips: Contact, and the registrar\'s call to it comes back over TLS', ['openssl'], async (t) => {
  const pbxTls = await freePort();
  const pbx = await startEngine(t, { phoneName: 'pbx', tlsPort: pbxTls, tls: serverTls() });
  const alice = await startEngine(t, { phoneName: 'alice', tls: { ca: testPki().ca.cert } }); // sipTransport stays UDP, no listener
  t.is(await alice.engine.enableSipRegisterServer('alice', false, false, `sips:${HOST}:${pbxTls}`, 0, 60, 120, 5000, false), T.SipSuccess);
  const reg = await pbx.waitFor(T.SipRegisterReceived);
  t.is(reg.data.source.protocol, 'TLS');
  // no TLS listener: the port its TLS Via names, which the registrar maps to its connection (RFC 5923 alias)
  t.deepEqual(reg.data.contacts.map((c) => c.uri), [`sips:alice@${HOST}:${alice.port}`]);
  const ok = await alice.waitFor(T.SipRegisterSuccess);
  t.is(ok.data.contact, `sips:alice@${HOST}:${alice.port}`);
  // the registrar dials the Contact it holds: over TLS, down the connection alice opened
  alice.engine.on('SipOkToAnswerCall', (n) => alice.engine.goOffHook(n.phoneLine));
  t.is(await pbx.engine.makeCallUri(reg.data.contacts[0]!.uri, false, 0, true, 10_000), T.SipSuccess);
  await alice.waitFor(T.SipIncomingCallConnected);
  t.is(await pbx.engine.terminateCall(0, true, 5000), T.SipSuccess);
  t.is(await alice.engine.disableSipRegisterServer(), T.SipSuccess);
});

peerTest('a registrar given as sip:…;transport=tls gets a transport=tls Contact from a UDP-default engine with a TLS listener', ['openssl'], async (t) => {
  const pbxTls = await freePort();
  const pbx = await startEngine(t, { phoneName: 'pbx', tlsPort: pbxTls, tls: serverTls() });
  const aliceTls = await freePort();
  const alice = await startEngine(t, { phoneName: 'alice', tlsPort: aliceTls, tls: serverTls() });
  t.is(await alice.engine.enableSipRegisterServer('alice', false, false, `sip:${HOST}:${pbxTls};transport=tls`, 0, 60, 120, 5000, false), T.SipSuccess);
  const reg = await pbx.waitFor(T.SipRegisterReceived);
  t.is(reg.data.source.protocol, 'TLS');
  t.deepEqual(reg.data.contacts.map((c) => c.uri), [`sip:alice@${HOST}:${aliceTls};transport=tls`]);
  await alice.waitFor(T.SipRegisterSuccess);
});

peerTest('sips: targets the engine cannot keep on TLS: SipSecureTransportRequired from makeCallUri and enableSipRegisterServer, nothing sent', ['openssl'], async (t) => {
  const plain = await startEngine(t, { phoneName: 'plain' }); // no TLS at all
  t.is(await plain.engine.makeCallUri(`sips:bob@${HOST}:5061`, false, 0, false, 0), T.SipSecureTransportRequired);
  t.is(await plain.engine.enableSipRegisterServer('plain', false, false, `sips:${HOST}`, 0, 60, 120, 5000, false), T.SipSecureTransportRequired);
  t.is(await plain.engine.enableSipRegisterServer('plain', false, false, `sip:${HOST};transport=tls`, 0, 60, 120, 5000, false), T.SipSecureTransportRequired);
  // with TLS, but through a proxy reached over UDP
  const viaProxy = await startEngine(t, { phoneName: 'alice', tls: { ca: testPki().ca.cert } });
  const proxyPort = await freePort();
  t.is(await viaProxy.engine.enableSipProxyServer(HOST, proxyPort), T.SipSuccess);
  t.is(viaProxy.engine.enableSipDomain('example.com'), T.SipSuccess);
  t.is(await viaProxy.engine.makeCallUri('sips:bob@example.com', true, 0, false, 0), T.SipSecureTransportRequired);
  t.is(await viaProxy.engine.enableSipRegisterServer('alice', false, true, `sips:${HOST}:5061`, 0, 60, 120, 5000, false), T.SipSecureTransportRequired);
  t.is(viaProxy.engine.getNumActiveCalls().numActiveCalls, 0);
  // a bad registrar URI is a bad parameter
  t.is(await viaProxy.engine.enableSipRegisterServer('alice', false, false, 'sips:bob@', 0, 60, 120, 5000, false), T.SipBadParameter);
  t.is(await viaProxy.engine.enableSipRegisterServer('alice', false, false, `sips:someone@${HOST}`, 0, 60, 120, 5000, false), T.SipBadParameter);
});

peerTest('NAT keep-alives of a UDP-default engine registered with a sips: registrar go as CRLFCRLF over its TLS flow', ['openssl'], async (t) => {
  // A bare TLS registrar: answers each REGISTER 200 and counts the pings on the connection.
  const pki = testPki();
  let pings = 0;
  let registers = 0;
  const server = tlsServer({ cert: pki.server.cert, key: pki.server.key }, (socket) => {
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      for (;;) {
        if (buffered.startsWith('\r\n\r\n')) {
          pings++;
          socket.write('\r\n');
          buffered = buffered.slice(4);
          continue;
        }
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4); // REGISTERs carry no body
        if (!head.startsWith('REGISTER ')) continue;
        registers++;
        const keep = head.split('\r\n').filter((l) => /^(via|from|to|call-id|cseq|contact):/i.test(l));
        socket.write(`SIP/2.0 200 OK\r\n${keep.map((l) => (/^to:/i.test(l) ? `${l};tag=reg` : l)).join('\r\n')}\r\nExpires: 120\r\nContent-Length: 0\r\n\r\n`);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  const alice = await startEngine(t, { phoneName: 'alice', tls: { ca: pki.ca.cert } });
  t.is(await alice.engine.enableSipRegisterServer('alice', false, false, `sips:${HOST}:${port}`, 0, 60, 120, 5000, false), T.SipSuccess);
  await alice.waitFor(T.SipRegisterSuccess);
  t.is(alice.engine.enableKeepAliveTransmissions(true, false, 200), T.SipSuccess);
  await until(() => pings >= 2, 10_000);
  t.true(pings >= 2, `${pings} pings over the TLS flow`);
  t.is(registers, 1, 'no re-registration: the flow stayed up');
});
