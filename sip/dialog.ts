/**
 * Dialogs (RFC 3261 §12): the state two user agents share once a call is set up, and the
 * construction of requests inside it (route set, remote target, CSeq, tags).
 * @module
 */
import { parseNameAddr, parseUri, type SipUri } from './grammar.js';
import { SipHeaders, type SipRequest, type SipResponse } from './message.js';
import type { Endpoint, TransportProtocol } from './transport.js';
import { cseqNumber, ownCopy, tagOf } from './util.js';

/** Options of {@link Dialog.createRequest}. */
export interface InDialogRequestOptions {
  /** Body bytes or text. */
  body?: Buffer | string;
  /** Content-Type of the body. */
  contentType?: string;
  /** Extra headers appended in order. */
  headers?: Array<[string, string]>;
  /** Use this CSeq number instead of the next one (ACK and CANCEL reuse the INVITE's). */
  cseq?: number;
}

/** The name-addr of a From/To value without its tag parameter. */
function withoutTag(value: string): string {
  return value.replace(/;\s*tag\s*=\s*[^;,\s>]+/i, '');
}

/** The URI text inside a Contact / Route / Record-Route value. */
export function uriOf(value: string): string {
  const lt = value.indexOf('<');
  if (lt >= 0) return value.slice(lt + 1, value.indexOf('>', lt)).trim();
  const semi = value.indexOf(';');
  return (semi < 0 ? value : value.slice(0, semi)).trim();
}

/**
 * The Contact to use as a remote target: the first `sip:`/`sips:` one. A Contact list may mix in
 * `tel:`, `mailto:` or `http:` URIs (RFC 3261 §20.10 allows any absolute URI); they are carried,
 * not refused, but only a SIP URI can take our in-dialog requests. Else the first, as before.
 */
function sipContactOf(msg: SipRequest | SipResponse): string | undefined {
  const all = msg.headers.getAll('Contact');
  return all.find((c) => /^sips?:/i.test(uriOf(c))) ?? all[0];
}

/** The next hop of a request: where it is physically sent (RFC 3261 §8.1.2, RFC 3263 simplified). */
export function nextHopOf(uriText: string, defaultProtocol: TransportProtocol): Endpoint & { hostIsName: boolean } {
  const uri: SipUri = parseUri(uriText);
  const t = uri.params['transport']?.toUpperCase();
  // sips: is TLS whatever its transport parameter says (RFC 5630 §3.1.3); an unknown one, UDP.
  const protocol: TransportProtocol = uri.scheme === 'sips' ? 'TLS' : t ? (t === 'TCP' || t === 'TLS' ? t : 'UDP') : defaultProtocol;
  const maddr = uri.params['maddr'];
  const host = (maddr ?? uri.host).replace(/^\[|\]$/g, '');
  const port = uri.port ?? (protocol === 'TLS' ? 5061 : 5060);
  return { protocol, host, port, hostIsName: !/^[\d.]+$/.test(host) && !host.includes(':') };
}

/**
 * Requests built for a strict-routing first hop (RFC 2543 proxy): their Request-URI is that
 * proxy and their Route headers name the hops after it, so they are sent to the Request-URI.
 * A mark rather than a guess from `lr`, since the Route after a strict hop may well be loose.
 */
const strictlyRouted = new WeakSet<SipRequest>();

/**
 * Where an in-dialog or routed request is physically sent (RFC 3261 §8.1.2): the Request-URI
 * when it was built for a strict router (the URI's port and `maddr` included), otherwise its
 * first Route, otherwise its Request-URI.
 */
export function nextHopOfRequest(req: SipRequest, defaultProtocol: TransportProtocol): Endpoint & { hostIsName: boolean } {
  return nextHopOf(nextHopUriOfRequest(req), defaultProtocol);
}

/** The URI {@link nextHopOfRequest} reads the next hop from (for RFC 3263 location of a name). */
export function nextHopUriOfRequest(req: SipRequest): string {
  const route = strictlyRouted.has(req) ? undefined : req.headers.get('Route');
  return route ? uriOf(route) : req.uri;
}

/** A confirmed or early dialog, from the point of view of one side. */
export class Dialog {
  /** Next CSeq number for requests we send (the last one used). */
  localSeq: number;
  /** Highest CSeq seen from the far end (-1 before any). */
  remoteSeq: number;
  /** Method of the request that set {@link Dialog.remoteSeq} (undefined before one passed the guard). */
  remoteMethod?: string;
  /** Remote target: the far end's Contact URI, refreshed by target refresh requests. */
  remoteTarget: string;

  /**
   * @param callId Call-ID
   * @param localTag our tag
   * @param remoteTag the far end's tag
   * @param localUri our From/To name-addr (without tag)
   * @param remoteUri the far end's From/To name-addr (without tag)
   * @param localSeq CSeq of the last request we sent in it
   * @param remoteSeq CSeq of the last request received in it
   * @param remoteTarget the far end's Contact URI
   * @param routeSet Route values in the order they are sent
   * @param localContact our Contact URI
   */
  constructor(
    readonly callId: string,
    readonly localTag: string,
    public remoteTag: string,
    readonly localUri: string,
    readonly remoteUri: string,
    localSeq: number,
    remoteSeq: number,
    remoteTarget: string,
    readonly routeSet: string[],
    public localContact: string,
  ) {
    this.localSeq = localSeq;
    this.remoteSeq = remoteSeq;
    this.remoteTarget = remoteTarget;
  }

  /** Dialog id for lookups: Call-ID, local tag, remote tag. */
  get id(): string {
    return Dialog.key(this.callId, this.localTag, this.remoteTag);
  }

  /** Builds the lookup key of a dialog. */
  static key(callId: string, localTag: string, remoteTag: string): string {
    return `${callId}\u0000${localTag}\u0000${remoteTag}`;
  }

  /** Key of the dialog an incoming request belongs to (its To tag is ours). */
  static keyOfRequest(req: SipRequest): string | undefined {
    const local = tagOf(req.headers.get('To'));
    const remote = tagOf(req.headers.get('From'));
    const callId = req.headers.get('Call-ID');
    if (!local || !callId) return undefined;
    return Dialog.key(callId, local, remote ?? '');
  }

  /**
   * The dialog a UAC gets from a 1xx/2xx with a To tag to its INVITE (§12.1.2): route set = the
   * response's Record-Route reversed, remote target = its Contact.
   */
  static fromUacResponse(invite: SipRequest, res: SipResponse, localContact: string): Dialog {
    const contact = sipContactOf(res);
    // what comes from the response is copied: the dialog outlives it (see ownCopy)
    const target = contact ? ownCopy(uriOf(contact)) : invite.uri;
    const routes = res.headers.getAll('Record-Route').map(ownCopy).reverse();
    return new Dialog(
      invite.headers.get('Call-ID') ?? '',
      tagOf(invite.headers.get('From')) ?? '',
      ownCopy(tagOf(res.headers.get('To')) ?? ''),
      withoutTag(invite.headers.get('From') ?? ''),
      ownCopy(withoutTag(res.headers.get('To') ?? '')),
      cseqNumber(invite.headers.get('CSeq')),
      -1,
      target,
      routes,
      localContact,
    );
  }

  /**
   * The dialog a UAS creates when it answers a request (§12.1.1): route set = Record-Route in
   * order, remote target = the request's Contact.
   */
  static fromUasRequest(req: SipRequest, localTag: string, localContact: string): Dialog {
    const contact = sipContactOf(req);
    const d = new Dialog(
      req.headers.get('Call-ID') ?? '',
      localTag,
      tagOf(req.headers.get('From')) ?? '',
      withoutTag(req.headers.get('To') ?? ''),
      withoutTag(req.headers.get('From') ?? ''),
      0,
      cseqNumber(req.headers.get('CSeq')),
      contact ? uriOf(contact) : '',
      req.headers.getAll('Record-Route'),
      localContact,
    );
    d.remoteMethod = req.method;
    return d;
  }

  /** Updates the remote target from a target refresh (re-INVITE or its 2xx). */
  refreshTarget(msg: SipRequest | SipResponse): void {
    const c = sipContactOf(msg);
    if (!c) return;
    try {
      const na = parseNameAddr(c);
      if (na.uri.host) this.remoteTarget = ownCopy(uriOf(c));
    } catch {
      // an unreadable Contact keeps the old target
    }
  }

  /**
   * Checks the CSeq of a request received in the dialog (§12.2.2): lower than the last one
   * means out of order (answer 500). So does the last one's number and method again: the
   * transaction layer absorbs retransmissions, so a request that gets here naming a transaction
   * already handled is a stale copy (a late retransmission, a peer reusing its CSeq). The same
   * number with another method is let through, as §12.2.2 only refuses lower ones. Records it
   * when accepted.
   */
  acceptRemoteCSeq(req: SipRequest): boolean {
    const n = cseqNumber(req.headers.get('CSeq'));
    if (req.method === 'ACK' || req.method === 'CANCEL') return true;
    if (this.remoteSeq >= 0 && (n < this.remoteSeq || (n === this.remoteSeq && req.method === this.remoteMethod))) return false;
    this.remoteSeq = n;
    this.remoteMethod = req.method;
    return true;
  }

  /**
   * A request inside the dialog (§12.2.1.1): Request-URI and Route from the route set (loose
   * or strict routing), From/To with tags, Call-ID, the next CSeq, Contact, Max-Forwards.
   * The stack adds Via.
   */
  createRequest(method: string, options: InDialogRequestOptions = {}): SipRequest {
    const headers = new SipHeaders();
    let uri = this.remoteTarget;
    const routes = this.routeSet.slice();
    let strict = false;
    if (routes.length) {
      let loose: boolean;
      try {
        loose = parseUri(uriOf(routes[0]!)).params['lr'] !== undefined;
      } catch {
        loose = true;
      }
      if (!loose) {
        // Strict routing (RFC 2543 proxies): the first route becomes the Request-URI.
        uri = uriOf(routes.shift()!);
        routes.push(`<${this.remoteTarget}>`);
        strict = true;
      }
    }
    for (const r of routes) headers.append('Route', r);
    headers.append('From', `${this.localUri};tag=${this.localTag}`);
    headers.append('To', this.remoteTag ? `${this.remoteUri};tag=${this.remoteTag}` : this.remoteUri);
    headers.append('Call-ID', this.callId);
    const seq = options.cseq ?? ++this.localSeq;
    headers.append('CSeq', `${seq} ${method}`);
    headers.append('Max-Forwards', '70');
    if (method !== 'ACK' && method !== 'CANCEL' && method !== 'BYE') headers.append('Contact', `<${this.localContact}>`);
    for (const [n, v] of options.headers ?? []) headers.append(n, v);
    let body: Buffer = Buffer.alloc(0);
    if (options.body !== undefined) {
      body = typeof options.body === 'string' ? Buffer.from(options.body) : options.body;
      if (options.contentType) headers.append('Content-Type', options.contentType);
    }
    const req: SipRequest = { type: 'request', method, uri, version: 'SIP/2.0', headers, body };
    if (strict) strictlyRouted.add(req);
    return req;
  }

  /**
   * Where a request built by {@link createRequest} is sent: the Request-URI when the first hop
   * is a strict router, else its first Route, else the Request-URI.
   */
  nextHop(req: SipRequest, defaultProtocol: TransportProtocol): Endpoint & { hostIsName: boolean } {
    return nextHopOfRequest(req, defaultProtocol);
  }
}
