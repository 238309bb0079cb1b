/**
 * The SIP stack dispatcher: glues a {@link SipTransport} to the {@link TransactionManager} and
 * gives the transaction user (the engine's lines, registrations and subscriptions) one small API:
 * send a request in a client transaction, get new requests with their server transaction, answer.
 *
 * What it does on the way in (RFC 3261 §18.2.1 + RFC 3581): stamps `received`/`rport` on the top
 * Via, absorbs retransmissions in their transactions, answers what the TU never needs to see
 * (stateless 400/505 for unparsable requests, 416, 483), and routes responses back per §18.2.2
 * (over the same TCP connection, else to received:rport).
 * @module
 */
import { SafeEmitter } from './safeEmitter.js';
import { realClock, type Clock } from './clock.js';
import { type SipMessage, type SipParseError, type SipRequest, type SipResponse } from './message.js';
import { formatVia, parseVia, type Via } from './grammar.js';
import { parseMessage, serializeMessage } from './parser.js';
import {
  InviteClientTransaction,
  inviteCompanion,
  InviteServerTransaction,
  TransactionManager,
  serverKey,
  type ClientTransaction,
  type ClientTransactionUser,
  type ServerTransaction,
  type TransactionTransport,
} from './transaction.js';
import { SipTransport, type Endpoint, type RemoteEndpoint, type SipTransportTlsOptions, type TransportProtocol } from './transport.js';
import {
  MAGIC_COOKIE,
  bareHost,
  branchOf,
  buildResponse,
  cseqMethod,
  cseqNumber,
  newBranch,
  newCallId,
  newTag,
  sanitizeReason,
  uriHost,
  type ResponseOptions,
} from './util.js';

export type {
  ClientTransaction,
  ClientTransactionUser,
  ServerTransaction,
  InviteClientTransaction,
  InviteServerTransaction,
} from './transaction.js';
export type { Endpoint, RemoteEndpoint, TransportProtocol } from './transport.js';
export type { ResponseOptions } from './util.js';

/** Options of {@link SipStack}. */
export interface SipStackOptions {
  /** A transport to use (the stack then does not close it on stop). Otherwise one is created. */
  transport?: SipTransport;
  /** Local IP for the created transport; default `127.0.0.1`. */
  host?: string;
  /** Local port for the created transport; 0 (default) picks one free for both UDP and TCP. */
  port?: number;
  /** Time source for every timer; default the real clock. */
  clock?: Clock;
  /** T1 in ms (default 500). */
  t1?: number;
  /** T2 in ms (default 4000). */
  t2?: number;
  /** T4 in ms (default 5000). */
  t4?: number;
  /** Written as User-Agent on requests and Server on responses built by {@link SipStack.createResponse}. */
  userAgent?: string;
  /** See {@link TransactionManagerOptions.trying100DelayMs} (default 200). */
  trying100DelayMs?: number;
  /** See {@link TransactionManagerOptions.retransmit2xxUntilAck} (default true). */
  retransmit2xxUntilAck?: boolean;
  /** Largest message the created transport accepts (its default otherwise); larger requests get 513. */
  maxMessageSize?: number;
  /** Handed to the transport it makes: received UDP is handled in batches that give way to media. */
  yieldGate?: { shouldYield(batchStartMs: number): boolean };
  /** TLS for the created transport (see `SipTransportOptions.tls`). */
  tls?: SipTransportTlsOptions;
}

/** How {@link SipStack.screenRequest} refuses a request: a stateless response, or silence. */
export type RequestRefusal = { drop: true } | { drop: false; status: number; reason: string; retryAfterSeconds?: number };

/** Events of {@link SipStack}. */
export interface SipStackEvents {
  /**
   * Bytes that did not parse (the engine raises SipReceivedSipMessageParseError). Requests among
   * them were already answered 400/505 when they had a usable Via.
   */
  parseError: [err: SipParseError, raw: Buffer, from: RemoteEndpoint];
  /** Socket failures and exceptions thrown by TU callbacks. */
  error: [err: Error];
  /** Every message received, before dispatch (for SIP logging). Emitted only when listened to. */
  received: [msg: SipMessage, from: RemoteEndpoint];
  /** Every message sent for the first time (not retransmissions). Emitted only when listened to. */
  sent: [msg: SipMessage, dest: RemoteEndpoint];
}

/** Which way a SIP message passes the message hook: `sent` (about to leave) or `received` (just arrived). */
export type MessageDirection = 'sent' | 'received';

/**
 * What a message hook decided. Returning nothing (or an empty object) lets the message pass as
 * it is.
 */
export interface MessageHookVerdict {
  /** Drop the message: a sent one never leaves, a received one is never dispatched. */
  drop?: boolean;
  /** Use this message instead. */
  message?: SipMessage;
  /** Sent messages only: send to this address instead (retransmissions follow it). */
  destination?: RemoteEndpoint;
}

/**
 * A hook seeing every message the stack sends for the first time (not retransmissions: they are
 * the same bytes) and every message it receives, before dispatch. Exceptions it throws are
 * reported as `error` events and the message passes unchanged.
 */
export type MessageHook = (direction: MessageDirection, msg: SipMessage, remote: RemoteEndpoint) => MessageHookVerdict | undefined | void;

/** Handler of new requests: answer through `tx`. */
export type RequestHandler = (req: SipRequest, tx: ServerTransaction, from: RemoteEndpoint) => void;

/**
 * A Via value the TU may put on a request to say "the stack writes the real one": any top Via
 * without a branch, or with a bare magic-cookie branch, is replaced by {@link SipStack.sendRequest}.
 */
export const VIA_PLACEHOLDER = 'SIP/2.0/UDP 0.0.0.0;branch=z9hG4bK';

const NOOP_USER: ClientTransactionUser = {
  onFinal: () => undefined,
  onTimeout: () => undefined,
  onTransportError: () => undefined,
};

const SUPPORTED_SCHEMES = new Set(['sip', 'sips', 'tel']);

/** The SIP stack: transport + transactions + dispatch. */
export class SipStack extends SafeEmitter<SipStackEvents> {
  /** The transport (UDP + TCP on one port). */
  readonly transport: SipTransport;
  /** The transaction layer. */
  readonly transactions: TransactionManager;
  /** Time source. */
  readonly clock: Clock;
  /** User-Agent / Server header value, if any. */
  userAgent: string | undefined;
  /** New requests (not retransmissions, not ACK). Default: answers 501. */
  onRequest: RequestHandler;
  /** ACKs the transaction layer did not absorb: ACKs of 2xx responses (new branch, §13.3.1.4). */
  onAck: (req: SipRequest, from: RemoteEndpoint) => void = () => undefined;
  /**
   * Responses matching no client transaction, e.g. 2xx retransmissions after the INVITE
   * transaction ended (or in Accepted without `onAdditional2xx`): the TU re-ACKs them.
   */
  onStrayResponse: (res: SipResponse, from: RemoteEndpoint) => void = () => undefined;
  /**
   * Bound on the server transaction table (0 = none): a request that would start something new
   * (no To tag; not ACK or CANCEL) while this many transactions live gets a stateless 503 with
   * `Retry-After` ({@link SipStack.transactionLimitRetryAfter}), so a flood cannot grow the table.
   */
  transactionLimit = 0;
  /** Seconds in the `Retry-After` of the 503 sent at {@link SipStack.transactionLimit}. */
  transactionLimitRetryAfter = 10;
  /** Told of each request refused at {@link SipStack.transactionLimit}. */
  onTransactionLimit: (req: SipRequest) => void = () => undefined;
  /**
   * The early screen of the TU (engine/securityLimits.ts): asked about every new request before
   * a transaction is made for it; a refusal is answered statelessly (or not at all), so a flood
   * cannot grow the transaction table. Retransmissions and the ACKs of 2xx are not asked.
   */
  screenRequest: (req: SipRequest, from: RemoteEndpoint) => RequestRefusal | undefined = () => undefined;
  /** Told of each message the transport refused as too large (a request among them got 513 when it could). */
  onOversize: (from: RemoteEndpoint) => void = () => undefined;

  private readonly ownsTransport: boolean;
  private messageHook: MessageHook | undefined;
  /**
   * What the hook decided for encoded messages that must not go where the transaction sends
   * them: `null` = dropped, an endpoint = redirected. Keyed by the wire bytes, which the
   * transaction reuses for retransmissions. Created with the first hook.
   */
  private wireFates: WeakMap<Buffer, RemoteEndpoint | null> | undefined;
  private publicAddr: { host: string; port: number | undefined } | undefined;
  private started = false;

  /** @param options transport or where to bind, clock and timer values */
  constructor(options: SipStackOptions = {}) {
    super();
    this.clock = options.clock ?? realClock;
    this.ownsTransport = options.transport === undefined;
    this.transport = options.transport ?? new SipTransport({ host: options.host, port: options.port, clock: this.clock, maxMessageSize: options.maxMessageSize, tls: options.tls, yieldGate: options.yieldGate });
    this.userAgent = options.userAgent;
    const txTransport: TransactionTransport = {
      encode: (msg, dest) => {
        if (this.messageHook) return this.encodeHooked(msg, dest);
        if (this.listenerCount('sent') > 0) this.safeEmit('sent', msg, dest);
        return serializeMessage(msg);
      },
      send: (data, dest, onError) => {
        const fate = this.wireFates?.get(data);
        if (fate === null) return;
        this.transport.send(data, fate ?? dest, onError);
      },
    };
    this.transactions = new TransactionManager({
      transport: txTransport,
      clock: this.clock,
      t1: options.t1,
      t2: options.t2,
      t4: options.t4,
      trying100DelayMs: options.trying100DelayMs,
      retransmit2xxUntilAck: options.retransmit2xxUntilAck,
    });
    this.transactions.onUserError = (err) => this.reportError(err);
    this.onRequest = (req, tx) => {
      tx.respond(this.createResponse(req, 501, undefined, { toTag: newTag() }));
    };
  }

  /** Binds the transport (if not yet) and starts dispatching. */
  async start(): Promise<void> {
    if (this.started) return;
    await this.transport.listen();
    this.transport.on('message', this.handleMessage);
    this.transport.on('parseError', this.handleParseError);
    this.transport.on('error', this.handleTransportError);
    this.transport.on('oversize', this.handleOversize);
    this.started = true;
  }

  /**
   * Ends every transaction silently (no callbacks, no timers left), stops dispatching and closes
   * the transport if the stack created it (such a stack cannot be started again: make a new one).
   */
  async stop(): Promise<void> {
    this.transactions.terminateAll();
    if (this.started) {
      this.transport.off('message', this.handleMessage);
      this.transport.off('parseError', this.handleParseError);
      this.transport.off('error', this.handleTransportError);
      this.transport.off('oversize', this.handleOversize);
      this.started = false;
    }
    if (this.ownsTransport) await this.transport.close();
  }

  // ---------------------------------------------------------------- message hook

  /**
   * Installs (or with `undefined` removes) a hook called for every message sent for the first
   * time and every message received, before dispatch: it may replace the message, drop it, or
   * send it elsewhere (see {@link MessageHookVerdict}). Without a hook the cost is one check per
   * message.
   */
  setMessageHook(hook: MessageHook | undefined): void {
    this.messageHook = hook;
    if (hook) this.wireFates ??= new WeakMap();
  }

  /** Runs the hook, never throwing; undefined means "drop". */
  private applyHook(direction: MessageDirection, msg: SipMessage, remote: RemoteEndpoint): { msg: SipMessage; remote: RemoteEndpoint } | undefined {
    const hook = this.messageHook;
    if (!hook) return { msg, remote };
    let verdict: MessageHookVerdict | undefined | void;
    try {
      verdict = hook(direction, msg, remote);
    } catch (err) {
      this.reportError(err);
      return { msg, remote };
    }
    if (!verdict) return { msg, remote };
    if (verdict.drop === true) return undefined;
    return {
      msg: verdict.message ?? msg,
      remote: direction === 'sent' && verdict.destination ? verdict.destination : remote,
    };
  }

  private encodeHooked(msg: SipMessage, dest: RemoteEndpoint): Buffer {
    const out = this.applyHook('sent', msg, dest);
    if (!out) {
      // A fresh empty buffer per dropped message, so its fate cannot leak to another one.
      const none = Buffer.alloc(0);
      this.wireFates!.set(none, null);
      return none;
    }
    let wire: Buffer;
    try {
      wire = serializeMessage(out.msg);
    } catch (err) {
      this.reportError(err);
      out.msg = msg;
      out.remote = dest;
      wire = serializeMessage(msg);
    }
    if (this.listenerCount('sent') > 0) this.safeEmit('sent', out.msg, out.remote);
    if (out.remote !== dest) this.wireFates!.set(wire, out.remote);
    return wire;
  }

  /** Sends outside any transaction (ACKs of 2xx, stateless answers), through the hook and the `sent` event. */
  private sendDirect(msg: SipMessage, dest: RemoteEndpoint, onError?: (err: Error) => void): void {
    const out = this.applyHook('sent', msg, dest);
    if (!out) return;
    if (this.listenerCount('sent') > 0) this.safeEmit('sent', out.msg, out.remote);
    this.transport.send(out.msg, out.remote, onError);
  }

  // ---------------------------------------------------------------- addresses

  /** Where this stack listens for `protocol` (the bound address, not the public one). */
  localEndpoint(protocol: TransportProtocol): Endpoint {
    return { protocol, host: this.transport.localHost, port: this.transport.portFor(protocol) };
  }

  /** Host written in new Vias (and suitable for Contact): the public address when set. */
  get viaHost(): string {
    return this.publicAddr?.host ?? this.transport.localHost;
  }

  /** Port written in new Vias: the public port when set, else the bound port. */
  get viaPort(): number {
    return this.publicAddr?.port ?? this.transport.localPort;
  }

  /** The public (NAT) address set by {@link setPublicAddress}, if any. */
  get publicAddress(): { host: string; port: number | undefined } | undefined {
    return this.publicAddr ? { ...this.publicAddr } : undefined;
  }

  /**
   * Sets the address the outside world sees (learned from `received`/`rport`, or configured):
   * used in the sent-by of every later Via. `undefined` goes back to the bound address.
   */
  setPublicAddress(host: string | undefined, port?: number): void {
    this.publicAddr = host === undefined ? undefined : { host, port };
  }

  // ---------------------------------------------------------------- sending

  /**
   * Sends `req` in a new client transaction. Completes the request in place: top Via (added, or
   * replacing a {@link VIA_PLACEHOLDER}) `SIP/2.0/<proto> <viaHost>:<viaPort>;branch=...;rport`,
   * Max-Forwards 70 and User-Agent when absent. Content-Length is written by the serializer.
   * A REGISTER over TCP pins its connection (see {@link SipTransport.pinConnection}).
   * Throws only on programming errors (no branch possible, duplicate branch).
   */
  sendRequest(req: SipRequest, dest: Endpoint, user: ClientTransactionUser): ClientTransaction {
    this.prepareRequest(req, dest.protocol);
    const tx = this.transactions.createClient(req, dest, user);
    // A registration over a stream makes its connection the way back in: never idle it out.
    if (dest.protocol !== 'UDP' && req.method === 'REGISTER') this.transport.pinConnection(dest);
    return tx;
  }

  /**
   * Sends the ACK of a 2xx (§13.2.2.4): outside any transaction, with a new branch unless the ACK
   * already has one (re-sending the same ACK for a retransmitted 2xx keeps it identical).
   */
  sendAck(ack: SipRequest, dest: RemoteEndpoint, onError?: (err: Error) => void): void {
    this.prepareRequest(ack, dest.protocol);
    this.sendDirect(ack, dest, onError);
  }

  /**
   * Cancels an INVITE (§9.1): builds the CANCEL from the INVITE (same Request-URI, top Via and
   * branch, Call-ID, From, To, CSeq number, Route) and sends it as a non-INVITE transaction to the
   * same destination. Before any provisional response the CANCEL is held until one arrives, and
   * dropped silently if the INVITE ends first. 64*T1 after the CANCEL the INVITE transaction gives
   * up (onTimeout) if still unanswered.
   */
  sendCancel(inviteTx: ClientTransaction, user: ClientTransactionUser = NOOP_USER): ClientTransaction {
    if (!(inviteTx instanceof InviteClientTransaction)) throw new Error('sendCancel needs an INVITE client transaction');
    const cancel = inviteCompanion(inviteTx.request, 'CANCEL', undefined, ['user-agent']);
    return this.transactions.createCancel(inviteTx, cancel, user);
  }

  /**
   * Builds a response to `req` (see {@link buildResponse}): all Vias, From, To (tagged with
   * `toTag` when it has none), Call-ID, CSeq, plus Server when a user agent is configured.
   */
  createResponse(req: SipRequest, status: number, reason?: string, options: ResponseOptions = {}): SipResponse {
    const res = buildResponse(req, status, reason, options);
    if (this.userAgent && !res.headers.has('Server')) res.headers.append('Server', this.userAgent);
    return res;
  }

  /** The INVITE server transaction a CANCEL refers to (same branch and sent-by), so the TU can answer it 487. */
  findInviteServerTransaction(cancel: SipRequest): InviteServerTransaction | undefined {
    const top = cancel.headers.get('Via');
    if (top === undefined) return undefined;
    let via: Via;
    try {
      via = parseVia(top);
    } catch {
      return undefined;
    }
    const tx = this.transactions.findServer(serverKey({ ...cancel, method: 'INVITE' }, via));
    return tx instanceof InviteServerTransaction ? tx : undefined;
  }

  /** RFC 5626 keep-alive towards `dest` (see {@link SipTransport.sendKeepAlive}). */
  sendKeepAlive(dest: RemoteEndpoint): boolean {
    return this.transport.sendKeepAlive(dest);
  }

  private prepareRequest(req: SipRequest, protocol: TransportProtocol): void {
    const h = req.headers;
    let viaEntry: { value: string } | undefined;
    for (const e of h.entries) {
      if (e.key === 'via') {
        viaEntry = e;
        break;
      }
    }
    if (viaEntry === undefined || isPlaceholderVia(viaEntry.value)) {
      // TLS has a listener of its own; its connections may be reused both ways (RFC 5923 alias).
      const tls = protocol === 'TLS';
      const port = tls ? this.transport.portFor('TLS') : this.viaPort;
      const value = `SIP/2.0/${protocol} ${uriHost(this.viaHost)}:${port};branch=${newBranch()};rport${tls ? ';alias' : ''}`;
      if (viaEntry) viaEntry.value = value;
      else h.prepend('Via', value);
    }
    if (!h.has('Max-Forwards')) h.append('Max-Forwards', '70');
    if (this.userAgent && !h.has('User-Agent')) h.append('User-Agent', this.userAgent);
  }

  // ---------------------------------------------------------------- receiving

  private readonly handleMessage = (wireMsg: SipMessage, from: RemoteEndpoint): void => {
    try {
      if (this.listenerCount('received') > 0) this.safeEmit('received', wireMsg, from);
      let msg = wireMsg;
      if (this.messageHook) {
        const out = this.applyHook('received', wireMsg, from);
        if (!out) return;
        msg = out.msg;
      }
      if (msg.type === 'response') {
        if (!this.transactions.receiveResponse(msg)) this.onStrayResponse(msg, from);
      } else {
        this.handleRequest(msg, from);
      }
    } catch (err) {
      this.reportError(err);
    }
  };

  private handleRequest(req: SipRequest, from: RemoteEndpoint): void {
    const top = req.headers.get('Via');
    if (top === undefined) return; // nowhere to send an answer
    let via: Via;
    try {
      via = parseVia(top);
    } catch {
      return;
    }
    stampVia(req, via, from);
    if (from.connectionId !== undefined && 'alias' in via.params) honourAlias(this.transport, via, from);
    const dest = responseDestination(via, from);
    const isAck = req.method === 'ACK';
    if (req.version !== 'SIP/2.0') {
      if (!isAck) this.sendDirect(buildResponse(req, 505, undefined, { toTag: newTag() }), dest);
      return;
    }
    const key = serverKey(req, via);
    const result = this.transactions.dispatchRequest(req, key);
    if (result === 'absorbed') return;
    if (result === 'ack') {
      this.onAck(req, from);
      return;
    }
    if (this.refusedAtTransactionLimit(req, dest)) return;
    const refusal = this.screenRequest(req, from);
    if (refusal) {
      if (!refusal.drop) {
        const res = this.createResponse(req, refusal.status, refusal.reason, { toTag: newTag() });
        if (refusal.retryAfterSeconds !== undefined) res.headers.set('Retry-After', refusal.retryAfterSeconds);
        this.sendDirect(res, dest);
      }
      return;
    }
    const problem = validateRequest(req, from.protocol);
    const tx = this.transactions.createServer(req, key, from, dest);
    if (problem) {
      tx.respond(this.createResponse(req, problem[0], problem[1], { toTag: newTag() }));
      return;
    }
    try {
      this.onRequest(req, tx, from);
    } catch (err) {
      this.reportError(err);
      // The TU broke before answering: a 500 beats leaving the peer retransmitting for 32 s.
      if (!tx.hasFinalResponse && !tx.terminated) tx.respond(this.createResponse(req, 500, undefined, { toTag: newTag() }));
    }
  }

  /** At {@link SipStack.transactionLimit}: answers a new request 503 statelessly (no transaction) and says so. */
  private refusedAtTransactionLimit(req: SipRequest, dest: RemoteEndpoint): boolean {
    if (this.transactionLimit <= 0 || this.transactions.serverCount < this.transactionLimit) return false;
    if (req.method === 'CANCEL' || /;\s*tag\s*=/i.test(req.headers.get('To') ?? '')) return false;
    const res = this.createResponse(req, 503, 'Service Unavailable', { toTag: newTag() });
    res.headers.set('Retry-After', this.transactionLimitRetryAfter);
    this.sendDirect(res, dest);
    this.onTransactionLimit(req);
    return true;
  }

  private readonly handleParseError = (err: SipParseError, raw: Buffer, from: RemoteEndpoint): void => {
    try {
      this.safeEmit('parseError', err, raw, from);
      const p = err.partial;
      if (!p || p.type !== 'request' || p.method === 'ACK') return;
      const top = p.headers.get('Via');
      if (top === undefined) return;
      let via: Via;
      try {
        via = parseVia(top);
      } catch {
        return;
      }
      stampVia(p, via, from);
      const badVersion = typeof p.version === 'string' && /^SIP\/\d+\.\d+$/i.test(p.version) && p.version.toUpperCase() !== 'SIP/2.0';
      const res = badVersion
        ? buildResponse(p, 505, undefined, { toTag: newTag() })
        : buildResponse(p, 400, sanitizeReason(err.reason), { toTag: newTag() });
      completeStatelessResponse(res, p);
      this.sendDirect(res, responseDestination(via, from));
    } catch (e) {
      this.reportError(e);
    }
  };

  /**
   * A message over the size limit: only its head is parsed, to answer a request 513 Message Too
   * Large statelessly (RFC 3261 §21.5.14) where it has a Via; the rest is never read.
   */
  private readonly handleOversize = (raw: Buffer, from: RemoteEndpoint): void => {
    try {
      this.onOversize(from);
      const end = raw.indexOf('\r\n\r\n');
      if (end < 0) return;
      let head: SipMessage | undefined;
      try {
        head = parseMessage(raw.subarray(0, end + 4));
      } catch (err) {
        head = (err as SipParseError).partial;
      }
      if (!head || head.type !== 'request' || head.method === 'ACK') return;
      const top = head.headers.get('Via');
      if (top === undefined) return;
      const via = parseVia(top);
      stampVia(head, via, from);
      const res = buildResponse(head, 513, 'Message Too Large', { toTag: newTag() });
      completeStatelessResponse(res, head);
      this.sendDirect(res, responseDestination(via, from));
    } catch (e) {
      this.reportError(e);
    }
  };

  private readonly handleTransportError = (err: Error): void => {
    this.reportError(err);
  };


}

/**
 * A stateless answer to a broken request still has to be a well-formed response, or strict peers
 * drop it unread: headers the request lacked are filled with neutral values (the peer matches the
 * answer by Via branch and CSeq method, which are kept).
 */
function completeStatelessResponse(res: SipResponse, req: SipRequest): void {
  const h = res.headers;
  if (!h.has('From')) h.append('From', `<sip:anonymous@anonymous.invalid>;tag=${newTag()}`);
  if (!h.has('To')) h.append('To', `<sip:anonymous@anonymous.invalid>;tag=${newTag()}`);
  if (!h.has('Call-ID')) h.append('Call-ID', newCallId());
  if (!Number.isInteger(cseqNumber(h.get('CSeq'))) || cseqMethod(h.get('CSeq')) === '') {
    h.set('CSeq', `0 ${/^[A-Za-z0-9.!%*_+`'~-]+$/.test(req.method) ? req.method : 'UNKNOWN'}`);
  }
}

/** True for a Via the TU left for the stack to fill (no branch, or the bare magic cookie). */
function isPlaceholderVia(value: string): boolean {
  const b = branchOf(value);
  return b === undefined || b === MAGIC_COOKIE;
}

/**
 * §18.2.1 + RFC 3581: `received` when the sent-by host is not the source address or rport was
 * asked for; `rport` filled with the source port when asked for. Rewrites the top Via in place.
 */
function stampVia(req: SipRequest, via: Via, from: RemoteEndpoint): void {
  const params = via.params;
  const wantsRport = 'rport' in params;
  if (!wantsRport && bareHost(via.host) === from.host) return;
  params['received'] = from.host;
  if (wantsRport) params['rport'] = String(from.port);
  const value = formatVia(via);
  for (const e of req.headers.entries) {
    if (e.key === 'via') {
      e.value = value;
      return;
    }
  }
}

/**
 * RFC 5923: the peer offers the connection its request came on for our requests to its sent-by.
 * Only for a sent-by on the connection's own address, so a peer can alias no one but itself.
 */
function honourAlias(transport: SipTransport, via: Via, from: RemoteEndpoint): void {
  if (bareHost(via.host) !== from.host || via.transport !== from.protocol) return;
  transport.aliasConnection(from, from.host, via.port ?? (from.protocol === 'TLS' ? 5061 : 5060));
}

/**
 * Where responses to a request go (§18.2.2, RFC 3581 §4): back over the TCP connection it came on
 * (falling back to received:sent-by-port if that connection is gone), or over UDP to
 * received:rport, received:sent-by-port, sent-by. `received` is always the source address here,
 * so a forged Via cannot aim our answers at a third party.
 */
function responseDestination(via: Via, from: RemoteEndpoint): RemoteEndpoint {
  const received = via.params['received'] ?? bareHost(via.host);
  if (from.protocol !== 'UDP') {
    return { protocol: from.protocol, host: received, port: via.port ?? (from.protocol === 'TLS' ? 5061 : 5060), connectionId: from.connectionId };
  }
  const rport = via.params['rport'];
  const port = rport ? Number(rport) : NaN;
  return { protocol: 'UDP', host: received, port: Number.isInteger(port) && port > 0 && port < 65536 ? port : via.port ?? 5060 };
}

/** §8.2 checks a UAS makes before its TU sees a request: [status, reason] of the rejection, if any. */
function validateRequest(req: SipRequest, over: TransportProtocol): [number, string] | undefined {
  const h = req.headers;
  for (const name of ['From', 'To', 'Call-ID', 'CSeq'] as const) if (!h.has(name)) return [400, `Missing ${name}`];
  const cseq = h.get('CSeq');
  if (cseqMethod(cseq) !== req.method || !Number.isInteger(cseqNumber(cseq))) return [400, 'Bad CSeq'];
  const colon = req.uri.indexOf(':');
  const scheme = colon > 0 ? req.uri.slice(0, colon).toLowerCase() : '';
  if (!SUPPORTED_SCHEMES.has(scheme)) return [416, 'Unsupported URI Scheme'];
  // A sips: request whose last hop was not TLS cannot be served as the secure request it claims
  // to be (RFC 3261 §26.2.2, RFC 5630 §3.1.3): the scheme is not supported over this transport,
  // and a 416 is one of the two answers RFC 5630 §5.1.1 forbids a UAC to downgrade after.
  if (scheme === 'sips' && over !== 'TLS') return [416, 'SIPS Requires TLS'];
  const mf = h.get('Max-Forwards');
  if (mf !== undefined && Number(mf.trim()) === 0 && req.method !== 'OPTIONS') return [483, 'Too Many Hops'];
  return undefined;
}
