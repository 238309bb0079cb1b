/**
 * A SIP network in a box for unit tests of the floors above `sip/`: the real `SipStack` and
 * transaction layer over a transport without sockets ({@link FakeSipTransport}), on a
 * `VirtualClock`, and a scripted far end ({@link FarEnd}) that reads what the stack sent and
 * answers it. Retransmissions, Timer H/L and 491 back-offs run in virtual time; nothing waits on
 * the wall clock.
 */
import { SipTransport, type RemoteEndpoint } from '../../sip/transport.js';
import type { VirtualClock } from '../../sip/clock.js';
import type { SipMessage, SipRequest, SipResponse } from '../../sip/message.js';
import { parseMessage, serializeMessage } from '../../sip/parser.js';
import { buildResponse, newBranch, newTag, tagOf } from '../../sip/util.js';
import { createOffer, defaultFormat, type MediaDirection } from '../../sip/sdp.js';

/** One message the stack sent, as the far end would read it off the wire. */
export interface Wire {
  /** The message, parsed from the bytes sent (a copy: later changes by the stack do not show). */
  msg: SipMessage;
  /** Where it went. */
  dest: RemoteEndpoint;
  /** Virtual time it left. */
  at: number;
}

/** The stack's own address in these tests. */
export const LOCAL: RemoteEndpoint = { protocol: 'UDP', host: '127.0.0.1', port: 5060 };

/** A transport that never opens a socket: it records sends and delivers what the test injects. */
export class FakeSipTransport extends SipTransport {
  /** Everything sent, in order (retransmissions included). */
  readonly sent: Wire[] = [];

  /** @param vclock the clock that stamps sends */
  constructor(private readonly vclock: VirtualClock) {
    super({ host: LOCAL.host, port: LOCAL.port, clock: vclock });
  }

  /** Nothing to bind. */
  override listen(): Promise<void> {
    return Promise.resolve();
  }

  /** The port the stack writes in its Vias. */
  override get localPort(): number {
    return LOCAL.port;
  }

  /** Records the message as bytes would carry it. */
  override send(msg: SipMessage | Buffer, dest: RemoteEndpoint): void {
    const data = Buffer.isBuffer(msg) ? msg : serializeMessage(msg);
    this.sent.push({ msg: parseMessage(data), dest, at: this.vclock.now() });
  }

  /** Nothing to close. */
  override close(): Promise<void> {
    return Promise.resolve();
  }

  /** Hands a message to the stack as if it arrived from `from`. */
  inject(msg: SipMessage, from: RemoteEndpoint): void {
    // through bytes, so the stack gets its own copy as from a socket
    this.emit('message', parseMessage(serializeMessage(msg)), from);
  }
}

/** An SDP body the far end offers or answers with: PCMU and telephone-event. */
export function farEndSdp(port: number, direction: MediaDirection = 'sendrecv', version = 1): string {
  return createOffer({
    address: '127.0.0.2',
    port,
    formats: [defaultFormat('PCMU')],
    telephoneEvent: true,
    direction,
    sessionId: '4242',
    sessionVersion: version,
    username: 'peer',
  });
}

/** What the far end adds to a request or response. */
export interface FarEndExtras {
  /** Extra headers. */
  headers?: Array<[string, string]>;
  /** An SDP body. */
  sdp?: string;
  /** Another body (with `contentType`), e.g. a multipart one; `sdp` wins when both are given. */
  body?: string;
  /** The Content-Type of `body`. */
  contentType?: string;
}

/** The far end of the tests: reads the stack's messages, answers them, sends its own. */
export class FarEnd {
  /** Its address. */
  readonly addr: RemoteEndpoint;
  /** Its Contact. */
  readonly contact: string;
  private cseq = 100;

  /**
   * @param wire the stack's transport
   * @param port its port on 127.0.0.2
   */
  constructor(readonly wire: FakeSipTransport, port = 5070) {
    this.addr = { protocol: 'UDP', host: '127.0.0.2', port };
    this.contact = `<sip:peer@127.0.0.2:${port}>`;
  }

  /** Requests the stack sent, optionally of one method. */
  requests(method?: string): SipRequest[] {
    return this.wire.sent.flatMap((w) => (w.msg.type === 'request' && (!method || w.msg.method === method) ? [w.msg] : []));
  }

  /** Responses the stack sent, optionally with one status. */
  responses(status?: number): SipResponse[] {
    return this.wire.sent.flatMap((w) => (w.msg.type === 'response' && (status === undefined || w.msg.status === status) ? [w.msg] : []));
  }

  /** The virtual times at which messages matching `filter` were sent. */
  times(filter: (m: SipMessage) => boolean): number[] {
    return this.wire.sent.filter((w) => filter(w.msg)).map((w) => w.at);
  }

  /** The last request of a method the stack sent (fails the test when none). */
  last(method: string): SipRequest {
    const r = this.requests(method).at(-1);
    if (!r) throw new Error(`no ${method} was sent`);
    return r;
  }

  /** Answers a request the stack sent. */
  respond(req: SipRequest, status: number, toTag: string | undefined, extras: FarEndExtras = {}): SipResponse {
    const headers: Array<[string, string]> = [...(extras.headers ?? [])];
    if (status > 100 && status < 300 && req.method === 'INVITE') headers.push(['Contact', this.contact]);
    if (extras.sdp !== undefined) headers.push(['Content-Type', 'application/sdp']);
    const res = buildResponse(req, status, undefined, {
      toTag: status > 100 ? toTag : undefined,
      headers,
      body: extras.sdp !== undefined ? Buffer.from(extras.sdp) : undefined,
    });
    this.wire.inject(res, this.addr);
    return res;
  }

  /** Sends a request to the stack (its Via, Max-Forwards and Contact added). */
  send(method: string, uri: string, h: { from: string; to: string; callId: string; cseq?: number; branch?: string }, extras: FarEndExtras = {}): SipRequest {
    const cseq = h.cseq ?? ++this.cseq;
    const lines = [
      `${method} ${uri} SIP/2.0`,
      `Via: SIP/2.0/UDP ${this.addr.host}:${this.addr.port};branch=${h.branch ?? newBranch()};rport`,
      'Max-Forwards: 70',
      `From: ${h.from}`,
      `To: ${h.to}`,
      `Call-ID: ${h.callId}`,
      `CSeq: ${cseq} ${method}`,
      `Contact: ${this.contact}`,
      ...(extras.headers ?? []).map(([n, v]) => `${n}: ${v}`),
    ];
    if (extras.sdp !== undefined) lines.push('Content-Type: application/sdp');
    else if (extras.body !== undefined && extras.contentType !== undefined) lines.push(`Content-Type: ${extras.contentType}`);
    const body = extras.sdp ?? extras.body ?? '';
    const text = `${lines.join('\r\n')}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const req = parseMessage(Buffer.from(text, 'latin1')) as SipRequest;
    this.wire.inject(req, this.addr);
    return req;
  }
}

/** A call the far end places to the stack, and the requests it sends in that call's dialog. */
export class FarEndCall {
  /** Call-ID. */
  readonly callId = `far-${newTag()}@127.0.0.2`;
  /** The far end's tag. */
  readonly tag = newTag();
  /** Our tag, once the stack answered with one. */
  localTag: string | undefined;
  /** The INVITE. */
  invite: SipRequest | undefined;
  private cseq = 1;

  /**
   * @param peer the far end
   * @param user whom it calls
   */
  constructor(readonly peer: FarEnd, readonly user = 'bob') {}

  private get from(): string {
    return `<sip:alice@127.0.0.2>;tag=${this.tag}`;
  }

  private get to(): string {
    return `<sip:${this.user}@127.0.0.1>${this.localTag ? `;tag=${this.localTag}` : ''}`;
  }

  /** Sends the INVITE (with an SDP offer unless `sdp` is null: a late offer). */
  start(sdp: string | null = farEndSdp(30000)): SipRequest {
    this.invite = this.peer.send('INVITE', `sip:${this.user}@127.0.0.1:5060`, { from: this.from, to: this.to, callId: this.callId, cseq: this.cseq }, sdp === null ? {} : { sdp });
    return this.invite;
  }

  /** The responses the stack sent to our INVITE; learns our tag from them. */
  inviteResponses(): SipResponse[] {
    const list = this.peer.responses().filter((r) => r.headers.get('Call-ID') === this.callId && (r.headers.get('CSeq') ?? '').endsWith(' INVITE'));
    const tagged = list.find((r) => tagOf(r.headers.get('To')));
    if (tagged) this.localTag = tagOf(tagged.headers.get('To'));
    return list;
  }

  /** CANCELs the INVITE (same branch, RFC 3261 §9.1). */
  cancel(): SipRequest {
    const invite = this.invite!;
    const branch = /branch=([^;]+)/.exec(invite.headers.get('Via') ?? '')?.[1];
    return this.peer.send('CANCEL', invite.uri, { from: this.from, to: `<sip:${this.user}@127.0.0.1>`, callId: this.callId, cseq: 1, branch });
  }

  /** ACKs our 2xx (a new transaction, §13.2.2.4), with an SDP answer when given. */
  ack(sdp?: string): SipRequest {
    this.inviteResponses();
    return this.peer.send('ACK', 'sip:bob@127.0.0.1:5060', { from: this.from, to: this.to, callId: this.callId, cseq: this.cseq }, sdp === undefined ? {} : { sdp });
  }

  /** Sends a request in the dialog with the next CSeq. */
  request(method: string, extras: FarEndExtras = {}): SipRequest {
    this.inviteResponses();
    this.cseq += 1;
    return this.peer.send(method, 'sip:bob@127.0.0.1:5060', { from: this.from, to: this.to, callId: this.callId, cseq: this.cseq }, extras);
  }

  /** The stack's responses to a request of this call (by CSeq). */
  answersTo(req: SipRequest): SipResponse[] {
    const cseq = req.headers.get('CSeq');
    return this.peer.responses().filter((r) => r.headers.get('Call-ID') === this.callId && r.headers.get('CSeq') === cseq);
  }
}

/** Lets every pending promise and I/O callback run (the virtual clock does not move). */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
