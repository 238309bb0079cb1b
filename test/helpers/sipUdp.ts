/**
 * A hand-driven SIP client on a real UDP socket (127.0.0.1), for tests that must send exactly
 * the bytes a peer tool cannot: a MESSAGE without Content-Type, a replayed Authorization, an
 * unparsable datagram.
 * @module
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import type { ExecutionContext } from 'ava';
import { parseMessage } from '../../sip/parser.js';
import type { SipResponse } from '../../sip/message.js';
import { freePort } from './ports.js';

/** A UDP socket speaking SIP to one engine port. */
export interface SipUdpClient {
  /** Our local port (for Via and Contact). */
  port: number;
  /** Sends `text` and resolves with the first response carrying the same Call-ID and CSeq. */
  request(text: string | Buffer, timeoutMs?: number): Promise<SipResponse>;
  /** Sends raw bytes, expecting nothing. */
  send(data: string | Buffer): void;
}

/** Fields of {@link sipRequest}. */
export interface SipRequestFields {
  /** Method, e.g. MESSAGE. */
  method: string;
  /** Request-URI user (the host is 127.0.0.1:enginePort). */
  user?: string;
  /** Engine port for the Request-URI. */
  enginePort: number;
  /** Our port (Via). */
  localPort: number;
  /** Via branch suffix: a new one per transaction. */
  branch: string;
  /** Call-ID. */
  callId: string;
  /** CSeq number. */
  cseq: number;
  /** Tag of the To header (in-dialog requests). */
  toTag?: string;
  /** Extra header lines, each without CRLF. */
  headers?: string[];
  /** Body bytes. */
  body?: Buffer | string;
}

/** Builds a request as text + body bytes (Content-Length always right). */
export function sipRequest(f: SipRequestFields): Buffer {
  const body = f.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(f.body) ? f.body : Buffer.from(f.body);
  const uri = `sip:${f.user ?? 'engine'}@127.0.0.1:${f.enginePort}`;
  const head =
    `${f.method} ${uri} SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP 127.0.0.1:${f.localPort};branch=z9hG4bK${f.branch};rport\r\n` +
    `Max-Forwards: 70\r\n` +
    `From: "Tester" <sip:tester@127.0.0.1:${f.localPort}>;tag=tt${f.callId.length}\r\n` +
    `To: <${uri}>${f.toTag ? `;tag=${f.toTag}` : ''}\r\n` +
    `Call-ID: ${f.callId}\r\n` +
    `CSeq: ${f.cseq} ${f.method}\r\n` +
    (f.headers ?? []).map((h) => `${h}\r\n`).join('') +
    `Content-Length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** Opens a client on a reserved port towards `enginePort` (bound to `host`, another loopback address for a second source); closed in teardown. */
export async function sipUdpClient(t: ExecutionContext, enginePort: number, host = '127.0.0.1'): Promise<SipUdpClient> {
  const sock: Socket = createSocket('udp4');
  sock.bind(await freePort(), host);
  await once(sock, 'listening');
  t.teardown(() => sock.close());
  return {
    port: sock.address().port,
    send: (data) => sock.send(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, enginePort, '127.0.0.1'),
    request: (text, timeoutMs = 5000) => {
      const s = typeof text === 'string' ? text : text.toString('latin1');
      const callId = /\r\nCall-ID: ([^\r]*)/.exec(s)?.[1];
      const cseq = /\r\nCSeq: ([^\r]*)/.exec(s)?.[1];
      const reply = new Promise<SipResponse>((resolve, reject) => {
        const timer = setTimeout(() => {
          sock.off('message', on);
          reject(new Error(`no answer to ${s.split('\r\n')[0]}`));
        }, timeoutMs);
        const on = (buf: Buffer): void => {
          try {
            const m = parseMessage(buf);
            // Provisional answers are skipped: the final one decides.
            if (m.type !== 'response' || m.status < 200) return;
            if (m.headers.get('Call-ID') !== callId || m.headers.get('CSeq') !== cseq) return;
            clearTimeout(timer);
            sock.off('message', on);
            resolve(m);
          } catch {
            /* not SIP: keep waiting */
          }
        };
        sock.on('message', on);
      });
      sock.send(typeof text === 'string' ? Buffer.from(text, 'latin1') : text, enginePort, '127.0.0.1');
      return reply;
    },
  };
}

/**
 * Sends an initial INVITE to `user` at the engine carrying an SDP offer on 127.0.0.1 whose media
 * section is `media` (the `m=` line and its attributes, CRLF-separated, without the session
 * lines), and resolves with the final answer.
 *
 * @param client - the client to send from
 * @param enginePort - the engine's SIP port
 * @param user - Request-URI user
 * @param media - e.g. `'m=audio 6000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n'`
 * @param id - unique per test: makes the branch and the Call-ID
 */
export function inviteWithOffer(client: SipUdpClient, enginePort: number, user: string, media: string, id: string): Promise<SipResponse> {
  const sdp = `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n${media}`;
  return client.request(
    sipRequest({
      method: 'INVITE',
      user,
      enginePort,
      localPort: client.port,
      branch: id,
      callId: `${id}@test`,
      cseq: 1,
      headers: [`Contact: <sip:tester@127.0.0.1:${client.port}>`, 'Content-Type: application/sdp'],
      body: sdp,
    }),
  );
}
