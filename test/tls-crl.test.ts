/**
 * Certificate revocation over SIP TLS: the `crl` setting (Node's secure context `crl`) with a CRL
 * made by `openssl ca` from the tests' own CA (test/helpers/tlsPki.ts `testCrl`). A revoked
 * server certificate is refused by the client, a revoked client certificate by the listener,
 * each with the reason `certificate-revoked` (the side whose certificate was refused sees
 * `certificate-rejected`); a CRL that covers no certificate of the chain refuses it too
 * (`crl-invalid`); certificates not on the CRL pass.
 */
import test from 'ava';
import { SipStack, VIA_PLACEHOLDER, type RemoteEndpoint } from '../sip/stack.js';
import { TlsError, classifyTlsError, type TlsSettings } from '../sip/tlsTransport.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import { parseMessage } from '../sip/parser.js';
import { newTag } from '../sip/util.js';
import { peerTest } from './helpers/env.js';
import { testCrl, testPki } from './helpers/tlsPki.js';
import { freePort } from './helpers/ports.js';
import { until } from './helpers/observe.js';
import { startEngine } from './helpers/engine.js';
import { TelephonyReturnValue as T } from '../index.js';
import { resolveStartParams } from '../engine/startParams.js';

const HOST = '127.0.0.1';

async function stack(t: { teardown(fn: () => unknown): void }, settings: TlsSettings, t1?: number): Promise<SipStack> {
  const s = new SipStack({ host: HOST, port: 0, t1, tls: { ...settings, port: 0 } });
  await s.start();
  t.teardown(() => s.stop());
  s.onRequest = (req, tx) => tx.respond(s.createResponse(req, 200, 'OK', { toTag: newTag() }));
  return s;
}

function options(to: string): SipRequest {
  const text =
    `OPTIONS ${to} SIP/2.0\r\nVia: ${VIA_PLACEHOLDER}\r\nFrom: <sip:alice@${HOST}>;tag=${newTag()}\r\nTo: <${to}>\r\n` +
    `Call-ID: ${newTag()}@crl-test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
  return parseMessage(Buffer.from(text)) as SipRequest;
}

/** OPTIONS over TLS to `server`: `200 OK`, or the TLS reason of the failure. */
function ask(client: SipStack, server: SipStack): Promise<string> {
  const dest: RemoteEndpoint = { protocol: 'TLS', host: HOST, port: server.transport.tlsPort };
  return new Promise((resolve) => {
    client.sendRequest(options(`sip:bob@${HOST}:${dest.port};transport=tls`), dest, {
      onFinal: (res: SipResponse) => resolve(`${res.status} ${res.reason}`),
      onTimeout: () => resolve('timeout'),
      onTransportError: (err) => resolve(err instanceof TlsError ? err.reason : err.message),
    });
  });
}

/** The reasons of the `tlsError` events of a stack's transport, as they come. */
function tlsErrors(s: SipStack): string[] {
  const seen: string[] = [];
  s.transport.on('tlsError', (err) => seen.push(err.reason));
  return seen;
}

test('OpenSSL\'s revocation codes have their reasons', (t) => {
  t.is(classifyTlsError(Object.assign(new Error('certificate revoked'), { code: 'CERT_REVOKED' }), true), 'certificate-revoked');
  t.is(classifyTlsError(Object.assign(new Error('unable to get certificate CRL'), { code: 'UNABLE_TO_GET_CRL' }), true), 'crl-invalid');
  t.is(classifyTlsError(Object.assign(new Error('CRL has expired'), { code: 'CRL_HAS_EXPIRED' }), true), 'crl-invalid');
  t.is(classifyTlsError(Object.assign(new Error('ssl3_read_bytes:sslv3 alert certificate revoked'), { code: 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED' }), true), 'certificate-rejected');
});

test('start parameters: tls.crl is a non-empty string; a CRL file that cannot be read fails the start', async (t) => {
  t.is(resolveStartParams({ tls: { crl: '' } }), T.SipBadParameter);
  t.is(typeof resolveStartParams({ tls: { crl: '/etc/linescape/ca.crl' } }), 'object');
  const { VoipMediaEngine } = await import('../index.js');
  const engine = new VoipMediaEngine();
  t.is(await engine.startSipTelephony({ ipAddressOfThisHost: HOST, sipPort: 0, tls: { crl: '/nonexistent/linescape.crl' } }), T.SipBadParameter);
});

peerTest('a client with the CA\'s CRL refuses a revoked server certificate (certificate-revoked) and takes one not revoked', ['openssl'], async (t) => {
  const pki = testPki();
  const crl = testCrl();
  const good = await stack(t, { certificate: pki.server.certFile, privateKey: pki.server.keyFile });
  const revoked = await stack(t, { certificate: crl.revokedServer.certFile, privateKey: crl.revokedServer.keyFile });
  const client = await stack(t, { ca: pki.ca.cert, crl: crl.crlFile });
  const clientErrors = tlsErrors(client);
  t.is(await ask(client, revoked), 'certificate-revoked');
  t.deepEqual(clientErrors, ['certificate-revoked'], 'the tlsError event names the reason');
  t.is(await ask(client, good), '200 OK');
  // without the CRL the revoked certificate is not known to be revoked: the reason the option exists
  const unaware = await stack(t, { ca: pki.ca.cert });
  t.is(await ask(unaware, revoked), '200 OK');
});

peerTest('a listener with the CA\'s CRL refuses a revoked client certificate, and takes one not revoked', ['openssl'], async (t) => {
  const pki = testPki();
  const crl = testCrl();
  const server = await stack(t, { certificate: pki.server.certFile, privateKey: pki.server.keyFile, ca: pki.ca.cert, crl: crl.crlFile, requireClientCertificate: true });
  const serverErrors = tlsErrors(server);
  // Node verifies the client's certificate once the TLS 1.3 handshake is done and closes the
  // connection without an alert, so the request is written and then lost with the connection:
  // a short T1 ends its wait. The listener names the reason.
  const revokedClient = await stack(t, { ca: pki.ca.cert, clientCertificate: crl.revokedClient.certFile, clientPrivateKey: crl.revokedClient.keyFile }, 50);
  t.not(await ask(revokedClient, server), '200 OK');
  await until(() => serverErrors.length > 0, 5000);
  t.deepEqual(serverErrors, ['certificate-revoked'], 'the listener says why');
  const goodClient = await stack(t, { ca: pki.ca.cert, clientCertificate: pki.client.certFile, clientPrivateKey: pki.client.keyFile });
  t.is(await ask(goodClient, server), '200 OK');
});

peerTest('a CRL that covers no certificate of the server\'s chain refuses it: crl-invalid', ['openssl'], async (t) => {
  const pki = testPki();
  const crl = testCrl();
  const server = await stack(t, { certificate: pki.server.certFile, privateKey: pki.server.keyFile });
  const client = await stack(t, { ca: pki.ca.cert, crl: crl.otherCrlFile });
  t.is(await ask(client, server), 'crl-invalid');
});

peerTest('engine to engine: a call to a server whose certificate was revoked fails with SipTlsError certificate-revoked and a 503 naming it', ['openssl'], async (t) => {
  const pki = testPki();
  const crl = testCrl();
  const tlsPort = await freePort();
  await startEngine(t, { phoneName: 'revoked', sipTransport: 'TLS', tlsPort, tls: { certificate: crl.revokedServer.certFile, privateKey: crl.revokedServer.keyFile } });
  const alice = await startEngine(t, { phoneName: 'alice', sipTransport: 'TLS', tlsPort: 0, tls: { ca: pki.ca.cert, crl: crl.crlFile } });
  t.is(await alice.engine.makeCall('revoked', HOST, tlsPort, 0, false, 0), T.SipSuccess);
  const err = await alice.waitFor(T.SipTlsError);
  t.like(err.data, { reason: 'certificate-revoked', outgoing: true, detail: 'CERT_REVOKED' });
  const failed = await alice.waitFor(T.SipFarEndError);
  t.like(failed.data, { statusCode: 503, reasonPhrase: 'TLS certificate-revoked' });
});
