/**
 * In-dialog requests answer challenges like every request (sip/uac.ts): a raw UDP peer on
 * 127.0.0.1 answers the engine's INVITE, then challenges its REFER and its BYE with 401 once
 * each; the engine retries both with credentials from addAuthorizationCredentials, which the
 * peer checks with a real digest computation, and both succeed.
 */
import test from 'ava';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { TelephonyReturnValue as T } from '../index.js';
import { parseMessage, serializeMessage } from '../sip/parser.js';
import type { SipRequest } from '../sip/message.js';
import { buildResponse } from '../sip/util.js';
import { parseAuthHeader } from '../sip/grammar.js';
import { createChallenge, formatDigestHeader, verifyDigest } from '../sip/digest.js';
import { startEngine } from './helpers/engine.js';
import { freePort } from './helpers/ports.js';

const REALM = 'peer.test';

test('a 401 to an in-dialog REFER and to a BYE is answered with credentials and the request succeeds', async (t) => {
  const e = await startEngine(t, { phoneName: 'alice' });
  t.is(e.engine.addAuthorizationCredentials('alice', 'secret', REALM), T.SipSuccess);

  const sock = createSocket('udp4');
  sock.bind(await freePort(), '127.0.0.1');
  await once(sock, 'listening');
  t.teardown(() => sock.close());
  const port = sock.address().port;
  const received: SipRequest[] = [];
  /** Methods whose first request is challenged; each challenge only once. */
  const challenged = new Set<string>();
  /** Branches of the requests whose digest checked out (a retransmission is the same request). */
  const verified = new Set<string>();
  const reply = (req: SipRequest, status: number, headers: Array<[string, string]> = [], body?: string): void => {
    const res = buildResponse(req, status, undefined, { toTag: 'peer1', headers, ...(body ? { body: Buffer.from(body) } : {}) });
    sock.send(serializeMessage(res), e.port, '127.0.0.1');
  };
  sock.on('message', (buf) => {
    const m = parseMessage(buf);
    if (m.type !== 'request') return;
    received.push(m);
    switch (m.method) {
      case 'INVITE': {
        const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';
        reply(m, 200, [['Contact', `<sip:bob@127.0.0.1:${port}>`], ['Content-Type', 'application/sdp']], sdp);
        return;
      }
      case 'ACK':
        return;
      case 'REFER':
      case 'BYE': {
        const auth = m.headers.get('Authorization');
        if (!auth && !challenged.has(m.method)) {
          challenged.add(m.method);
          reply(m, 401, [['WWW-Authenticate', formatDigestHeader(createChallenge(REALM), true)]]);
          return;
        }
        if (!auth || !verifyDigest(parseAuthHeader(auth), m.method, 'secret', REALM)) {
          reply(m, 403);
          return;
        }
        verified.add(/branch=([^;,\s]+)/.exec(m.headers.get('Via') ?? '')?.[1] ?? '');
        reply(m, m.method === 'REFER' ? 202 : 200);
        return;
      }
      default:
        reply(m, 200);
    }
  });

  t.is(await e.engine.makeCall('bob', '127.0.0.1', port, 0, false, 5000), T.SipSuccess);
  await e.waitFor(T.SipOutgoingCallConnected);

  t.is(e.engine.transferLine('carol', '127.0.0.1', port, 0), T.SipSuccess);
  await e.waitFor(T.SipReferAccepted);
  // requests, not datagrams: on a loaded machine a UDP retransmission can cross our answer
  const requests = (method: string): SipRequest[] => {
    const seen = new Set<string>();
    return received.filter((r) => {
      const branch = /branch=([^;,\s]+)/.exec(r.headers.get('Via') ?? '')?.[1] ?? '';
      if (r.method !== method || seen.has(branch)) return false;
      seen.add(branch);
      return true;
    });
  };
  const refers = requests('REFER');
  t.is(refers.length, 2, 'the challenged REFER and its retry');
  t.false(refers[0]!.headers.has('Authorization'));
  t.true(refers[1]!.headers.has('Authorization'));
  t.is(refers[1]!.headers.get('Call-ID'), refers[0]!.headers.get('Call-ID'), 'the retry stays in the dialog');
  t.true(Number.parseInt(refers[1]!.headers.get('CSeq')!, 10) > Number.parseInt(refers[0]!.headers.get('CSeq')!, 10), 'with a new CSeq');

  t.is(await e.engine.terminateCall(0, true, 5000), T.SipSuccess);
  const byes = requests('BYE');
  t.is(byes.length, 2, 'the challenged BYE and its retry');
  t.true(byes[1]!.headers.has('Authorization'));
  t.is(verified.size, 2, 'both retries carried valid digests');
  t.is(e.of(T.SipActvTransferFailure).length, 0);
});
