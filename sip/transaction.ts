/**
 * SIP transactions: the four state machines of RFC 3261 §17 with the RFC 6026 corrections
 * (the INVITE "Accepted" state on both sides), and the {@link TransactionManager} that matches
 * messages to them (§17.1.3, §17.2.3) with one Map lookup per message.
 *
 * Every timer goes through the injected {@link Clock}; a terminated transaction holds no timer, so
 * `VirtualClock.pending === 0` proves a clean shutdown.
 *
 * 2xx responses to INVITE: RFC 3261 makes their retransmission the UAS core's job (§13.3.1.4).
 * Here the INVITE server transaction does it when {@link TransactionManagerOptions.retransmit2xxUntilAck}
 * is on (the default): while in Accepted it resends the last 2xx at T1, 2T1 ... capped at T2 until
 * an ACK with the same Call-ID and CSeq number arrives (whatever its branch) or Timer L (64*T1)
 * fires; in the latter case {@link ServerTransaction.onAckTimeout} tells the TU to end the dialog.
 *
 * Memory: a finished transaction waits up to 64*T1 (32 s) in Completed, Accepted or Confirmed, and
 * a call keeps its INVITE transactions for its whole life. So each transaction lets go of what its
 * remaining states cannot use: the encoded bytes once nothing can be retransmitted, and a
 * non-INVITE transaction its parsed request once its final answer is out (only the bytes of that
 * answer are resent). Responses are kept as bytes only, never as parsed objects. Timer callbacks
 * are made when a timer is armed rather than once per transaction, so a finished transaction that
 * a call still holds carries none. Timers L and J, which nearly every transaction waits out, share
 * one timer ({@link TransactionManager}'s linger queue) instead of one each; the answer a lingering
 * non-INVITE transaction may still resend is kept as a string in V8's heap, not as a slice that
 * pins an 8 KiB Buffer pool slab: at 2 000 calls/s, 64 000 finished calls wait out those 32 s.
 * @module
 */
import { realClock, type Clock, type TimerHandle } from './clock.js';
import { SipHeaders, type SipMessage, type SipRequest, type SipResponse } from './message.js';
import type { Via } from './grammar.js';
import type { RemoteEndpoint } from './transport.js';
import { MAGIC_COOKIE, EMPTY, branchOf, buildResponse, cseqMethod, cseqNumber, ownCopy, tagOf } from './util.js';

/** RFC 3261 timer base values in ms. */
export interface TimerSettings {
  /** RTT estimate; default 500. */
  t1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses; default 4000. */
  t2: number;
  /** Maximum time a message stays in the network; default 5000. */
  t4: number;
}

/** What a transaction needs from below: encode once, send many times. */
export interface TransactionTransport {
  /**
   * Serializes a message about to be sent for the first time to `dest`; the transaction keeps the
   * bytes for retransmissions (so this is also the place to log "sent" once per message).
   */
  encode(msg: SipMessage, dest: RemoteEndpoint): Buffer;
  /** Sends bytes; `onError` reports a transport failure (asynchronously). */
  send(data: Buffer, dest: RemoteEndpoint, onError?: (err: Error) => void): void;
}

/** The transaction user (TU) of a client transaction: how results come back. */
export interface ClientTransactionUser {
  /** A 1xx response. */
  onProvisional?(res: SipResponse): void;
  /** The first final response (called once). */
  onFinal(res: SipResponse): void;
  /** Timer B / F (or the post-CANCEL guard) fired without a final response. */
  onTimeout(): void;
  /** The transport could not send the request (TCP connect failure, ...). */
  onTransportError(err: Error): void;
  /**
   * INVITE only: further 2xx received in the RFC 6026 Accepted state (retransmissions, or 2xx from
   * other forks). Each needs an ACK from the TU. When absent, they go to the stack's stray-response
   * handler instead.
   */
  onAdditional2xx?(res: SipResponse): void;
}

/** States of client transactions (`calling` is INVITE only, `trying` non-INVITE only). */
export type ClientTransactionState = 'calling' | 'trying' | 'proceeding' | 'completed' | 'accepted' | 'terminated';

/** States of server transactions (`trying` non-INVITE only; `confirmed`, `accepted` INVITE only). */
export type ServerTransactionState = 'trying' | 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

/** Options of {@link TransactionManager}. */
export interface TransactionManagerOptions {
  /** Where bytes go. */
  transport: TransactionTransport;
  /** Time source; default the real clock. */
  clock?: Clock;
  /** T1 in ms (default 500). */
  t1?: number;
  /** T2 in ms (default 4000). */
  t2?: number;
  /** T4 in ms (default 5000). */
  t4?: number;
  /**
   * INVITE server: send `100 Trying` this many ms after the INVITE if the TU has not responded
   * (RFC 3261 §17.2.1 says 200). 0 sends it at once; a negative value never.
   */
  trying100DelayMs?: number;
  /** INVITE server: retransmit 2xx until the ACK arrives (default true); see the module notes. */
  retransmit2xxUntilAck?: boolean;
}

/** Key of a client transaction (§17.1.3): the branch we generated plus the CSeq method. */
export function clientKey(branch: string, method: string): string {
  return `${branch} ${method}`;
}

/**
 * Key of a server transaction (§17.2.3): branch + sent-by + method, with ACK folded into INVITE so
 * the ACK of a non-2xx final finds its transaction. Requests whose branch lacks the magic cookie
 * (RFC 2543 peers) get a key from Call-ID, CSeq number, From tag and sent-by instead, which is
 * the part of the §17.2.3 fallback that matters for a UA.
 */
export function serverKey(req: SipRequest, via: Via): string {
  const method = req.method === 'ACK' ? 'INVITE' : req.method;
  const sentBy = via.port === undefined ? via.host.toLowerCase() : `${via.host.toLowerCase()}:${via.port}`;
  const branch = via.params['branch'];
  if (branch && branch.startsWith(MAGIC_COOKIE)) return `${branch} ${sentBy} ${method}`;
  const h = req.headers;
  return `2543 ${h.get('Call-ID') ?? ''} ${cseqNumber(h.get('CSeq'))} ${tagOf(h.get('From')) ?? ''} ${sentBy} ${method}`;
}

function ack2xxKey(callId: string | undefined, cseq: number): string {
  return `${callId ?? ''} ${cseq}`;
}

/**
 * Key of the ACK of a non-2xx final answer by dialog identifiers (Call-ID, CSeq number, From tag,
 * To tag): some UAs send that ACK with a new branch, which the §17.2.3 key cannot match.
 */
function ackNon2xxKey(callId: string | undefined, cseq: number, fromTag: string | undefined, toTag: string | undefined): string {
  return `${callId ?? ''} ${cseq} ${fromTag ?? ''} ${toTag ?? ''}`;
}

/**
 * A request that travels with an INVITE and copies its identity (§9.1 CANCEL, §17.1.1.3 ACK for
 * a non-2xx): same Request-URI, top Via (so the same branch), From, To (or `to` when given),
 * Call-ID, Route set and Max-Forwards, the CSeq number with `method`, no body. `extra` names more
 * headers to copy (lower-case).
 */
export function inviteCompanion(invite: SipRequest, method: 'ACK' | 'CANCEL', to?: string, extra: readonly string[] = []): SipRequest {
  const headers = new SipHeaders();
  const out = headers.entries;
  let viaDone = false;
  for (const e of invite.headers.entries) {
    switch (e.key) {
      case 'via':
        if (!viaDone) out.push({ ...e });
        viaDone = true;
        break;
      case 'max-forwards':
      case 'from':
      case 'call-id':
      case 'route':
        out.push({ ...e });
        break;
      case 'to':
        out.push({ name: e.name, key: e.key, value: to ?? e.value });
        break;
      case 'cseq':
        out.push({ name: e.name, key: e.key, value: `${cseqNumber(e.value)} ${method}` });
        break;
      default:
        if (extra.includes(e.key)) out.push({ ...e });
        break;
    }
  }
  return { type: 'request', method, uri: invite.uri, version: invite.version, headers, body: EMPTY };
}

/**
 * The ACK a client INVITE transaction sends for a non-2xx final response (§17.1.1.3): the
 * INVITE's identity with the To of the response.
 */
export function buildNon2xxAck(invite: SipRequest, res: SipResponse): SipRequest {
  return inviteCompanion(invite, 'ACK', res.headers.get('To'));
}

// ==================================================================== client transactions

/** Common part of the two client transactions. */
export abstract class ClientTransaction {
  /**
   * The request as sent (with our top Via). An INVITE transaction keeps it (a CANCEL copies it);
   * a non-INVITE one lets go of it once Completed.
   */
  abstract readonly request: SipRequest | undefined;
  /** CSeq method of the request (INVITE, REGISTER, CANCEL ...). */
  readonly method: string;
  /** Where it was sent. */
  readonly dest: RemoteEndpoint;
  /** The branch of our top Via. */
  readonly branch: string;
  /** Map key (branch + method). */
  readonly key: string;
  /** True over TCP/TLS: no retransmissions, zero-length wait timers. */
  readonly reliable: boolean;
  /** Current state. */
  state: ClientTransactionState;
  protected readonly user: ClientTransactionUser;
  protected readonly mgr: TransactionManager;
  /** The encoded request while it may still be (re)sent. */
  protected wire: Buffer | undefined;

  /** @internal created by {@link TransactionManager.createClient}. */
  constructor(mgr: TransactionManager, request: SipRequest, dest: RemoteEndpoint, user: ClientTransactionUser, branch: string, initial: ClientTransactionState) {
    this.mgr = mgr;
    this.method = request.method;
    this.dest = dest;
    this.user = user;
    this.branch = branch;
    this.key = clientKey(branch, request.method);
    this.reliable = dest.protocol !== 'UDP';
    this.state = initial;
  }

  /** True once terminated (no more callbacks, no timers). */
  get terminated(): boolean {
    return this.state === 'terminated';
  }

  /** @internal sends the request for the first time and arms the timers. */
  abstract start(): void;

  /** @internal a response matched this transaction; false means "not absorbed, treat as stray". */
  abstract receiveResponse(res: SipResponse): boolean;

  /** Abandons the transaction silently: no more callbacks, timers cleared (engine shutdown). */
  terminate(): void {
    this.end();
  }

  protected sendWire(): void {
    const req = this.request;
    if (!this.wire && !req) return;
    this.wire ??= this.mgr.transport.encode(req!, this.dest);
    this.mgr.transport.send(this.wire, this.dest, this.onSendError);
  }

  /** One function per transaction (not per send) for transport failures. */
  protected readonly onSendError = (err: Error): void => {
    if (this.state === 'terminated') return;
    const wasWaiting = this.state === 'calling' || this.state === 'trying' || this.state === 'proceeding';
    this.end();
    if (wasWaiting) this.mgr.callUser(() => this.user.onTransportError(err));
  };

  protected abstract clearTimers(): void;

  /** Moves to Terminated, clears every timer and leaves the manager's table. */
  protected end(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.clearTimers();
    this.wire = undefined;
    this.mgr.removeClient(this);
  }
}

/** INVITE client transaction (§17.1.1 + RFC 6026 Accepted state). */
export class InviteClientTransaction extends ClientTransaction {
  /** The INVITE as sent (with our top Via); kept for the CANCEL and the ACK of a non-2xx. */
  readonly request: SipRequest;
  private timerA: TimerHandle | undefined;
  private timerB: TimerHandle | undefined;
  private timerD: TimerHandle | undefined;
  private timerM: TimerHandle | undefined;
  private cancelGuard: TimerHandle | undefined;
  private intervalA = 0;
  private ackWire: Buffer | undefined;
  /** A CANCEL waiting for the first provisional response (§9.1). */
  private pendingCancel: ClientTransaction | undefined;

  /** @internal */
  constructor(mgr: TransactionManager, request: SipRequest, dest: RemoteEndpoint, user: ClientTransactionUser, branch: string) {
    super(mgr, request, dest, user, branch, 'calling');
    this.request = request;
  }

  /** @internal */
  start(): void {
    const { clock, timers } = this.mgr;
    this.sendWire();
    if (this.state !== 'calling') return;
    if (!this.reliable) {
      this.intervalA = timers.t1;
      this.timerA = clock.setTimer(this.intervalA, () => this.fireA());
    }
    this.timerB = clock.setTimer(64 * timers.t1, () => this.fireB());
  }

  private fireA(): void {
    this.timerA = undefined;
    if (this.state !== 'calling') return;
    this.sendWire();
    this.intervalA *= 2;
    this.timerA = this.mgr.clock.setTimer(this.intervalA, () => this.fireA());
  }

  private fireB(): void {
    this.timerB = undefined;
    if (this.state !== 'calling') return;
    this.dropPendingCancel();
    this.end();
    this.mgr.callUser(() => this.user.onTimeout());
  }

  private fireD(): void {
    this.timerD = undefined;
    this.end();
  }

  private fireM(): void {
    this.timerM = undefined;
    this.end();
  }

  private fireCancelGuard(): void {
    this.cancelGuard = undefined;
    if (this.state !== 'calling' && this.state !== 'proceeding') return;
    // §9.1: no final response 64*T1 after CANCEL: consider the INVITE cancelled.
    this.dropPendingCancel();
    this.end();
    this.mgr.callUser(() => this.user.onTimeout());
  }

  /**
   * @internal Called when a CANCEL is created for this INVITE: holds it until the first
   * provisional response when none has arrived yet (§9.1), and arms the 64*T1 guard after which
   * the INVITE is given up even if the server never answers it.
   * Returns true when the CANCEL may be sent now.
   */
  attachCancel(cancel: ClientTransaction): boolean {
    if (this.state === 'calling' || this.state === 'proceeding') {
      if (this.cancelGuard === undefined) this.cancelGuard = this.mgr.clock.setTimer(64 * this.mgr.timers.t1, () => this.fireCancelGuard());
    }
    if (this.state === 'calling') {
      this.pendingCancel?.terminate();
      this.pendingCancel = cancel;
      return false;
    }
    return true;
  }

  private dropPendingCancel(): void {
    const c = this.pendingCancel;
    this.pendingCancel = undefined;
    c?.terminate();
  }

  /** @internal */
  receiveResponse(res: SipResponse): boolean {
    const status = res.status;
    switch (this.state) {
      case 'calling':
      case 'proceeding':
        if (status < 200) {
          if (this.state === 'calling') {
            this.state = 'proceeding';
            this.mgr.clock.clearTimer(this.timerA);
            this.mgr.clock.clearTimer(this.timerB);
            this.timerA = this.timerB = undefined;
            // Timer A is the only resender of the INVITE
            this.wire = undefined;
            const c = this.pendingCancel;
            this.pendingCancel = undefined;
            if (c && !c.terminated) c.start();
          }
          if (this.user.onProvisional) this.mgr.callUser(() => this.user.onProvisional!(res));
          return true;
        }
        this.clearTimers();
        this.wire = undefined;
        this.dropPendingCancel();
        if (status < 300) {
          // RFC 6026: stay to absorb/forward 2xx retransmissions; the TU ACKs them itself.
          this.state = 'accepted';
          this.armM();
        } else {
          this.state = 'completed';
          this.sendAck(res);
          if (this.reliable) this.end();
          else this.armD();
        }
        this.mgr.callUser(() => this.user.onFinal(res));
        return true;
      case 'completed':
        // A retransmitted final: the server did not get our ACK.
        if (status >= 300 && this.ackWire) this.mgr.transport.send(this.ackWire, this.dest);
        return true;
      case 'accepted':
        if (status >= 200 && status < 300) {
          if (!this.user.onAdditional2xx) return false;
          this.mgr.callUser(() => this.user.onAdditional2xx!(res));
        }
        return true;
      default:
        return false;
    }
  }

  // Timers armed while a response is handled are set here: a callback made in receiveResponse
  // would share its scope, and so keep the response alive as long as the timer.
  private armM(): void {
    this.timerM = this.mgr.clock.setTimer(64 * this.mgr.timers.t1, () => this.fireM());
  }

  private armD(): void {
    this.timerD = this.mgr.clock.setTimer(Math.max(32_000, 64 * this.mgr.timers.t1), () => this.fireD());
  }

  private sendAck(res: SipResponse): void {
    this.ackWire = this.mgr.transport.encode(buildNon2xxAck(this.request, res), this.dest);
    this.mgr.transport.send(this.ackWire, this.dest);
  }

  protected clearTimers(): void {
    const c = this.mgr.clock;
    c.clearTimer(this.timerA);
    c.clearTimer(this.timerB);
    c.clearTimer(this.timerD);
    c.clearTimer(this.timerM);
    c.clearTimer(this.cancelGuard);
    this.timerA = this.timerB = this.timerD = this.timerM = this.cancelGuard = undefined;
  }

  /** Abandons the INVITE transaction and any CANCEL held for it. */
  override terminate(): void {
    this.dropPendingCancel();
    super.terminate();
  }

  protected override end(): void {
    super.end();
    this.ackWire = undefined;
  }
}

/** Non-INVITE client transaction (§17.1.2). */
export class NonInviteClientTransaction extends ClientTransaction {
  private req: SipRequest | undefined;
  private timerE: TimerHandle | undefined;
  private timerF: TimerHandle | undefined;
  private timerK: TimerHandle | undefined;
  private intervalE = 0;
  private started = false;

  /** @internal */
  constructor(mgr: TransactionManager, request: SipRequest, dest: RemoteEndpoint, user: ClientTransactionUser, branch: string) {
    super(mgr, request, dest, user, branch, 'trying');
    this.req = request;
  }

  /** The request as sent; undefined once Completed (nothing resends it then). */
  get request(): SipRequest | undefined {
    return this.req;
  }

  /** @internal */
  start(): void {
    if (this.started || this.state !== 'trying') return;
    this.started = true;
    const { clock, timers } = this.mgr;
    this.sendWire();
    if (this.state !== 'trying') return;
    if (!this.reliable) {
      this.intervalE = timers.t1;
      this.timerE = clock.setTimer(this.intervalE, () => this.fireE());
    }
    this.timerF = clock.setTimer(64 * timers.t1, () => this.fireF());
  }

  private fireE(): void {
    this.timerE = undefined;
    if (this.state === 'trying') this.intervalE = Math.min(2 * this.intervalE, this.mgr.timers.t2);
    else if (this.state === 'proceeding') this.intervalE = this.mgr.timers.t2;
    else return;
    this.sendWire();
    this.timerE = this.mgr.clock.setTimer(this.intervalE, () => this.fireE());
  }

  private fireF(): void {
    this.timerF = undefined;
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    this.end();
    this.mgr.callUser(() => this.user.onTimeout());
  }

  private fireK(): void {
    this.timerK = undefined;
    this.end();
  }

  /** @internal */
  receiveResponse(res: SipResponse): boolean {
    if (this.state === 'completed') return true;
    if (this.state !== 'trying' && this.state !== 'proceeding') return false;
    if (res.status < 200) {
      this.state = 'proceeding';
      if (this.user.onProvisional) this.mgr.callUser(() => this.user.onProvisional!(res));
      return true;
    }
    this.clearTimers();
    this.state = 'completed';
    // Completed only absorbs retransmitted finals: the request is not needed any more
    this.req = undefined;
    this.wire = undefined;
    if (this.reliable) this.end();
    else this.armK();
    this.mgr.callUser(() => this.user.onFinal(res));
    return true;
  }

  // Set outside receiveResponse, whose scope (shared by callbacks made there) holds the response.
  private armK(): void {
    this.timerK = this.mgr.clock.setTimer(this.mgr.timers.t4, () => this.fireK());
  }

  protected clearTimers(): void {
    const c = this.mgr.clock;
    c.clearTimer(this.timerE);
    c.clearTimer(this.timerF);
    c.clearTimer(this.timerK);
    this.timerE = this.timerF = this.timerK = undefined;
  }
}

// ==================================================================== server transactions

/** Common part of the two server transactions. */
export abstract class ServerTransaction {
  /**
   * The request that created the transaction (top Via carries received/rport). An INVITE
   * transaction keeps it; a non-INVITE one lets go of it once its final response is sent.
   */
  abstract readonly request: SipRequest | undefined;
  /** Method of the request. */
  readonly method: string;
  /** Where the request came from (with the TCP connection id when it came over TCP). */
  readonly from: RemoteEndpoint;
  /** Where responses go (§18.2.2 / RFC 3581). */
  readonly responseDest: RemoteEndpoint;
  /** Map key. */
  readonly key: string;
  /** True over TCP/TLS. */
  readonly reliable: boolean;
  /** Current state. */
  state: ServerTransactionState;
  /** Status code of the last response sent; 0 before the first. */
  lastStatus = 0;
  /**
   * No ACK came: Timer H fired for a non-2xx final, or (with 2xx retransmission on) Timer L fired
   * before the 2xx was acknowledged, after which §13.3.1.4 says the TU should send BYE.
   */
  onAckTimeout: (() => void) | undefined;
  /** A response could not be sent; the transaction is terminated. */
  onTransportError: ((err: Error) => void) | undefined;
  /** The transaction reached Terminated (any cause). */
  onTerminated: (() => void) | undefined;
  protected readonly mgr: TransactionManager;
  /** The last response, encoded, while a retransmitted request may still need it again. */
  protected wire: Buffer | undefined;
  /**
   * The final response's bytes (latin1: one character per byte) while a non-INVITE transaction
   * waits out Timer J, in place of {@link ServerTransaction.wire}.
   */
  protected wireText: string | undefined;
  /** @internal when Timer J or L fires (the clock's ms), while in the manager's linger queue; else NaN. */
  lingerAt = Number.NaN;

  /** @internal created by {@link TransactionManager.createServer}. */
  constructor(mgr: TransactionManager, request: SipRequest, key: string, from: RemoteEndpoint, responseDest: RemoteEndpoint, initial: ServerTransactionState) {
    this.mgr = mgr;
    this.method = request.method;
    this.key = key;
    this.from = from;
    this.responseDest = responseDest;
    this.reliable = responseDest.protocol !== 'UDP';
    this.state = initial;
  }

  /** True once terminated. */
  get terminated(): boolean {
    return this.state === 'terminated';
  }

  /** True once a final response has been sent. */
  get hasFinalResponse(): boolean {
    return this.lastStatus >= 200;
  }

  /**
   * Sends a response through the transaction. Returns false (and sends nothing) when the state
   * does not allow it: after the final response of a non-INVITE, a non-2xx after a 2xx, or once
   * terminated.
   */
  abstract respond(res: SipResponse): boolean;

  /** Convenience: builds the response with {@link buildResponse} and sends it. */
  reply(status: number, reason?: string, toTag?: string | true): boolean {
    const req = this.request;
    // no request left: the final response is out, and respond would refuse another
    return req !== undefined && this.respond(buildResponse(req, status, reason, { toTag }));
  }

  /** @internal a retransmission (or ACK) matched; false means the TU must see it (ACK of 2xx). */
  abstract receiveRequest(req: SipRequest): boolean;

  /** Abandons the transaction silently (engine shutdown). */
  terminate(): void {
    this.end(false);
  }

  protected send(res: SipResponse): void {
    this.lastStatus = res.status;
    this.wire = this.mgr.transport.encode(res, this.responseDest);
    this.mgr.transport.send(this.wire, this.responseDest, (err) => this.sendFailed(err));
  }

  protected resend(): void {
    const wire = this.wire ?? (this.wireText !== undefined ? Buffer.from(this.wireText, 'latin1') : undefined);
    if (wire) this.mgr.transport.send(wire, this.responseDest, (err) => this.sendFailed(err));
  }

  /** Timer J or L fired (through the manager's linger queue). */
  protected abstract lingerExpired(): void;

  /** @internal the linger queue's entry for this transaction came due. */
  lingerDue(): void {
    this.lingerAt = Number.NaN;
    this.lingerExpired();
  }

  private sendFailed(err: Error): void {
    if (this.state === 'terminated') return;
    this.end(true);
    const cb = this.onTransportError;
    if (cb) this.mgr.callUser(() => cb(err));
  }

  protected abstract clearTimers(): void;

  protected end(notify: boolean): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.clearTimers();
    if (this.lingerAt === this.lingerAt) this.mgr.unlinger(this);
    this.wire = undefined;
    this.wireText = undefined;
    this.mgr.removeServer(this);
    const cb = this.onTerminated;
    if (notify && cb) this.mgr.callUser(cb);
  }
}

/** INVITE server transaction (§17.2.1 + RFC 6026 Accepted state). */
export class InviteServerTransaction extends ServerTransaction {
  private req: SipRequest | undefined;
  private timer100: TimerHandle | undefined;
  private timerG: TimerHandle | undefined;
  private timerH: TimerHandle | undefined;
  private timerI: TimerHandle | undefined;
  private timer2xx: TimerHandle | undefined;
  private intervalG = 0;
  private acked = false;
  /** @internal key in the manager's 2xx-ACK table while retransmitting. */
  ack2xxKey: string | undefined;
  /** @internal key in the manager's non-2xx-ACK table while Completed. */
  ackNon2xxKey: string | undefined;

  /** @internal */
  constructor(mgr: TransactionManager, request: SipRequest, key: string, from: RemoteEndpoint, responseDest: RemoteEndpoint) {
    super(mgr, request, key, from, responseDest, 'proceeding');
    this.req = request;
  }

  /** @internal arms (or sends) the automatic 100 Trying. */
  start(): void {
    const delay = this.mgr.trying100DelayMs;
    if (delay === 0) this.send(buildResponse(this.req!, 100));
    else if (delay > 0) this.timer100 = this.mgr.clock.setTimer(delay, () => this.fire100());
  }

  /**
   * The INVITE (top Via carries received/rport) until its final response is acknowledged; then
   * undefined: the transaction lingers 32 s (Timer L) or T4 (Timer I) only to absorb
   * retransmissions, and at 1 000 calls/s holding every INVITE that long filled the old space.
   */
  get request(): SipRequest | undefined {
    return this.req;
  }

  /** True once an ACK for our 2xx (or non-2xx) final response arrived. */
  get ackReceived(): boolean {
    return this.acked;
  }

  private fire100(): void {
    this.timer100 = undefined;
    if (this.state === 'proceeding' && this.lastStatus === 0 && this.req) this.send(buildResponse(this.req, 100));
  }

  /** Sends a response; see {@link ServerTransaction.respond}. */
  respond(res: SipResponse): boolean {
    const status = res.status;
    const clock = this.mgr.clock;
    if (this.state === 'proceeding') {
      clock.clearTimer(this.timer100);
      this.timer100 = undefined;
      this.send(res);
      if (this.state !== 'proceeding' || status < 200) return true;
      const t1 = this.mgr.timers.t1;
      if (status < 300) {
        this.state = 'accepted';
        // Timer L
        this.mgr.linger(this);
        if (this.mgr.retransmit2xxUntilAck) {
          this.intervalG = t1;
          this.timer2xx = clock.setTimer(t1, () => this.fire2xx());
          this.mgr.register2xx(this);
        }
      } else {
        this.state = 'completed';
        if (!this.reliable) {
          this.intervalG = t1;
          this.timerG = clock.setTimer(t1, () => this.fireG());
        }
        this.timerH = clock.setTimer(64 * t1, () => this.fireH());
        this.mgr.registerNon2xx(this, tagOf(res.headers.get('To')));
      }
      return true;
    }
    if (this.state === 'accepted' && status >= 200 && status < 300) {
      // The TU may resend or re-issue its 2xx; RFC 6026 lets it through in Accepted.
      this.send(res);
      return true;
    }
    return false;
  }

  private fireG(): void {
    this.timerG = undefined;
    if (this.state !== 'completed') return;
    this.resend();
    this.intervalG = Math.min(2 * this.intervalG, this.mgr.timers.t2);
    this.timerG = this.mgr.clock.setTimer(this.intervalG, () => this.fireG());
  }

  private fire2xx(): void {
    this.timer2xx = undefined;
    if (this.state !== 'accepted' || this.acked) return;
    this.resend();
    this.intervalG = Math.min(2 * this.intervalG, this.mgr.timers.t2);
    this.timer2xx = this.mgr.clock.setTimer(this.intervalG, () => this.fire2xx());
  }

  private fireH(): void {
    this.timerH = undefined;
    if (this.state !== 'completed') return;
    this.end(true);
    const cb = this.onAckTimeout;
    if (cb) this.mgr.callUser(cb);
  }

  private fireI(): void {
    this.timerI = undefined;
    this.end(true);
  }

  /** Timer L fired. */
  protected lingerExpired(): void {
    const unacked = this.ack2xxKey !== undefined && !this.acked;
    this.end(true);
    const cb = this.onAckTimeout;
    if (unacked && cb) this.mgr.callUser(cb);
  }

  /** @internal the ACK for our 2xx arrived (matched by Call-ID + CSeq): stop retransmitting. */
  ack2xxReceived(): void {
    this.acked = true;
    this.mgr.clock.clearTimer(this.timer2xx);
    this.timer2xx = undefined;
    // acknowledged: nothing resends this 2xx (a re-issued one is encoded anew)
    this.wire = undefined;
    this.req = undefined;
    this.mgr.unregister2xx(this);
  }

  /** @internal */
  receiveRequest(req: SipRequest): boolean {
    if (req.method === 'ACK') {
      switch (this.state) {
        case 'completed': {
          this.acked = true;
          const clock = this.mgr.clock;
          clock.clearTimer(this.timerG);
          clock.clearTimer(this.timerH);
          this.timerG = this.timerH = undefined;
          this.mgr.unregisterNon2xx(this);
          this.state = 'confirmed';
          // Confirmed absorbs everything: the final is not resent any more
          this.wire = undefined;
          this.req = undefined;
          if (this.reliable) this.end(true);
          else this.timerI = clock.setTimer(this.mgr.timers.t4, () => this.fireI());
          return true;
        }
        case 'accepted':
          // Same branch as the INVITE (RFC 2543 style peer): still the ACK of our 2xx, the TU's.
          this.ack2xxReceived();
          return false;
        default:
          return true;
      }
    }
    // A retransmitted INVITE: repeat the last provisional or final; absorbed in Accepted (RFC 6026).
    if (this.state === 'proceeding' || this.state === 'completed') this.resend();
    return true;
  }

  protected clearTimers(): void {
    const c = this.mgr.clock;
    c.clearTimer(this.timer100);
    c.clearTimer(this.timerG);
    c.clearTimer(this.timerH);
    c.clearTimer(this.timerI);
    c.clearTimer(this.timer2xx);
    this.timer100 = this.timerG = this.timerH = this.timerI = this.timer2xx = undefined;
    if (this.ack2xxKey !== undefined) this.mgr.unregister2xx(this);
    if (this.ackNon2xxKey !== undefined) this.mgr.unregisterNon2xx(this);
  }
}

/** Non-INVITE server transaction (§17.2.2). */
export class NonInviteServerTransaction extends ServerTransaction {
  private req: SipRequest | undefined;

  /** @internal */
  constructor(mgr: TransactionManager, request: SipRequest, key: string, from: RemoteEndpoint, responseDest: RemoteEndpoint) {
    super(mgr, request, key, from, responseDest, 'trying');
    this.req = request;
  }

  /** The request; undefined once the final response is sent (Completed resends only its bytes). */
  get request(): SipRequest | undefined {
    return this.req;
  }

  /** Sends a response; see {@link ServerTransaction.respond}. */
  respond(res: SipResponse): boolean {
    if (this.state !== 'trying' && this.state !== 'proceeding') return false;
    this.send(res);
    if (res.status < 200) {
      this.state = 'proceeding';
      return true;
    }
    this.state = 'completed';
    // Timer J holds only what a retransmitted request needs: the final's bytes and its destination
    this.req = undefined;
    if (this.reliable) {
      this.end(true);
      return true;
    }
    if (this.wire !== undefined) {
      this.wireText = this.wire.toString('latin1');
      this.wire = undefined;
    }
    this.mgr.linger(this);
    return true;
  }

  /** Timer J fired. */
  protected lingerExpired(): void {
    this.end(true);
  }

  /** @internal */
  receiveRequest(_req: SipRequest): boolean {
    // Trying: the TU is still working, the retransmission is simply absorbed.
    if (this.state === 'proceeding' || this.state === 'completed') this.resend();
    return true;
  }

  protected clearTimers(): void {
    // Timer J is the manager's linger queue: end() leaves it
  }
}

// ==================================================================== manager

/** Result of {@link TransactionManager.dispatchRequest}. */
export type DispatchResult =
  /** A retransmission or the ACK of a non-2xx: handled inside a transaction. */
  | 'absorbed'
  /** An ACK the TU must see (ACK of a 2xx, matched or not). */
  | 'ack'
  /** A new request: create a server transaction. */
  | 'new';

/**
 * Owns every live transaction and matches incoming messages to them: one Map lookup for a
 * response (branch + method) or a request (branch + sent-by + method).
 */
export class TransactionManager {
  /** The layer below. */
  readonly transport: TransactionTransport;
  /** Time source for every timer. */
  readonly clock: Clock;
  /** T1/T2/T4. */
  readonly timers: TimerSettings;
  /** See {@link TransactionManagerOptions.trying100DelayMs}. */
  readonly trying100DelayMs: number;
  /** See {@link TransactionManagerOptions.retransmit2xxUntilAck}. */
  readonly retransmit2xxUntilAck: boolean;
  /** Called with exceptions thrown by TU callbacks, which must not break the state machines. */
  onUserError: (err: unknown) => void = () => undefined;
  private readonly clients = new Map<string, ClientTransaction>();
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly acks2xx = new Map<string, InviteServerTransaction>();
  private readonly acksNon2xx = new Map<string, InviteServerTransaction>();
  /**
   * Server transactions waiting out Timer L or J, both 64*T1 long, so in the order they began:
   * a queue (from `lingerHead`) served by one timer armed for its head. A transaction that ends
   * early stays in the queue with its `lingerAt` cleared and is skipped when it comes due.
   */
  private lingerQueue: Array<ServerTransaction | null> = [];
  private lingerHead = 0;
  /** Transactions in the queue still waiting (not ended early). */
  private lingering = 0;
  private lingerTimer: TimerHandle | undefined;
  private servingLinger = false;

  /** @param options transport, clock and timer values */
  constructor(options: TransactionManagerOptions) {
    this.transport = options.transport;
    this.clock = options.clock ?? realClock;
    this.timers = { t1: options.t1 ?? 500, t2: options.t2 ?? 4000, t4: options.t4 ?? 5000 };
    this.trying100DelayMs = options.trying100DelayMs ?? 200;
    this.retransmit2xxUntilAck = options.retransmit2xxUntilAck ?? true;
  }

  /** Live client transactions. */
  get clientCount(): number {
    return this.clients.size;
  }

  /** Live server transactions. */
  get serverCount(): number {
    return this.servers.size;
  }

  /**
   * Creates and starts a client transaction for `req`, whose top Via must already carry the branch
   * (the stack adds it). Throws when a live transaction already uses that branch and method.
   */
  createClient(req: SipRequest, dest: RemoteEndpoint, user: ClientTransactionUser): ClientTransaction {
    const tx = this.newClient(req, dest, user);
    tx.start();
    return tx;
  }

  /**
   * Creates the CANCEL transaction for `invite` (the CANCEL request is built by the caller) and
   * sends it at once, or after the first provisional response if none came yet (§9.1). A CANCEL
   * held back is dropped silently if the INVITE ends first.
   */
  createCancel(invite: InviteClientTransaction, cancel: SipRequest, user: ClientTransactionUser): ClientTransaction {
    const tx = this.newClient(cancel, invite.dest, user);
    if (invite.attachCancel(tx)) tx.start();
    return tx;
  }

  private newClient(req: SipRequest, dest: RemoteEndpoint, user: ClientTransactionUser): ClientTransaction {
    const branch = branchOf(req.headers.get('Via'));
    if (!branch) throw new Error('request has no Via branch');
    const key = clientKey(branch, req.method);
    if (this.clients.has(key)) throw new Error(`a client transaction with branch ${branch} ${req.method} exists`);
    const tx = req.method === 'INVITE'
      ? new InviteClientTransaction(this, req, dest, user, branch)
      : new NonInviteClientTransaction(this, req, dest, user, branch);
    this.clients.set(key, tx);
    return tx;
  }

  /** Routes a response to its client transaction; false when none absorbed it (a stray). */
  receiveResponse(res: SipResponse): boolean {
    const branch = branchOf(res.headers.get('Via'));
    if (!branch) return false;
    const tx = this.clients.get(clientKey(branch, cseqMethod(res.headers.get('CSeq'))));
    return tx ? tx.receiveResponse(res) : false;
  }

  /**
   * Routes a request to its server transaction by `key` (see {@link serverKey}). An ACK matching
   * no transaction by branch is tried against the INVITE transactions whose non-2xx final waits
   * for its ACK, by dialog identifiers (some UAs give that ACK a new branch; left unmatched, the
   * final would be resent until Timer H). Otherwise it stops the retransmission of the 2xx it
   * acknowledges (matched by Call-ID and CSeq number, as its branch is new) and is reported as `'ack'`.
   */
  dispatchRequest(req: SipRequest, key: string): DispatchResult {
    const tx = this.servers.get(key);
    if (tx) return tx.receiveRequest(req) ? 'absorbed' : 'ack';
    if (req.method !== 'ACK') return 'new';
    if (this.acksNon2xx.size > 0) {
      const h = req.headers;
      const inv = this.acksNon2xx.get(ackNon2xxKey(h.get('Call-ID'), cseqNumber(h.get('CSeq')), tagOf(h.get('From')), tagOf(h.get('To'))));
      if (inv) return inv.receiveRequest(req) ? 'absorbed' : 'ack';
    }
    if (this.acks2xx.size > 0) {
      const inv = this.acks2xx.get(ack2xxKey(req.headers.get('Call-ID'), cseqNumber(req.headers.get('CSeq'))));
      inv?.ack2xxReceived();
    }
    return 'ack';
  }

  /**
   * Creates a server transaction for a new request (never for ACK). INVITE transactions arm their
   * automatic 100 Trying here.
   */
  createServer(req: SipRequest, lookupKey: string, from: RemoteEndpoint, responseDest: RemoteEndpoint): ServerTransaction {
    // the branch in the key is a slice of the request's text: stored, it would keep all of it
    const key = ownCopy(lookupKey);
    const tx = req.method === 'INVITE'
      ? new InviteServerTransaction(this, req, key, from, responseDest)
      : new NonInviteServerTransaction(this, req, key, from, responseDest);
    this.servers.get(key)?.terminate();
    this.servers.set(key, tx);
    if (tx instanceof InviteServerTransaction) tx.start();
    return tx;
  }

  /** The server transaction stored under `key`, if live. */
  findServer(key: string): ServerTransaction | undefined {
    return this.servers.get(key);
  }

  /** The client transaction for a branch and method, if live. */
  findClient(branch: string, method: string): ClientTransaction | undefined {
    return this.clients.get(clientKey(branch, method));
  }

  /** Abandons every transaction silently (stack shutdown): no callbacks, no timers left. */
  terminateAll(): void {
    for (const tx of [...this.clients.values()]) tx.terminate();
    for (const tx of [...this.servers.values()]) tx.terminate();
    this.acks2xx.clear();
    this.acksNon2xx.clear();
    this.clearLinger();
  }

  /** Server transactions waiting out Timer L or J. */
  get lingeringCount(): number {
    return this.lingering;
  }

  /** @internal starts `tx`'s Timer L or J (64*T1): it joins the linger queue. */
  linger(tx: ServerTransaction): void {
    tx.lingerAt = this.clock.now() + 64 * this.timers.t1;
    this.lingerQueue.push(tx);
    this.lingering++;
    // while the queue is served, the timer is armed when that ends
    if (this.lingerTimer === undefined && !this.servingLinger) this.armLinger();
  }

  /** @internal `tx` ended before its Timer L or J: it is skipped when it comes due. */
  unlinger(tx: ServerTransaction): void {
    tx.lingerAt = Number.NaN;
    if (--this.lingering === 0 && !this.servingLinger) this.clearLinger();
  }

  /**
   * Empties the queue and stops its timer. Only once nothing in it still waits: every waiting
   * transaction is in `servers` and counted in `lingering`, and ends (unlinger) before it leaves.
   */
  private clearLinger(): void {
    this.clock.clearTimer(this.lingerTimer);
    this.lingerTimer = undefined;
    this.lingerQueue = [];
    this.lingerHead = 0;
    this.lingering = 0;
  }

  /** Arms the one linger timer (none is armed) for the first transaction still waiting. */
  private armLinger(): void {
    const q = this.lingerQueue;
    while (this.lingerHead < q.length) {
      const tx = q[this.lingerHead]!;
      if (tx.lingerAt === tx.lingerAt) {
        this.lingerTimer = this.clock.setTimer(Math.max(0, tx.lingerAt - this.clock.now()), this.lingerFired);
        return;
      }
      q[this.lingerHead++] = null;
    }
  }

  private readonly lingerFired = (): void => {
    this.lingerTimer = undefined;
    const now = this.clock.now();
    this.servingLinger = true;
    try {
      // the queue is read anew each round: a callback may end transactions (or all of them)
      while (this.lingerHead < this.lingerQueue.length) {
        const q = this.lingerQueue;
        const tx = q[this.lingerHead]!;
        if (tx.lingerAt === tx.lingerAt) {
          if (tx.lingerAt > now) break;
          this.lingering--;
          q[this.lingerHead++] = null;
          tx.lingerDue();
        } else q[this.lingerHead++] = null;
      }
    } finally {
      this.servingLinger = false;
    }
    // drop the served part of the array now and then, not on every pop
    const q = this.lingerQueue;
    if (this.lingerHead > 1024 && this.lingerHead * 2 > q.length) {
      this.lingerQueue = q.slice(this.lingerHead);
      this.lingerHead = 0;
    }
    if (this.lingering > 0) this.armLinger();
    else this.clearLinger();
  };

  /** @internal */
  removeClient(tx: ClientTransaction): void {
    if (this.clients.get(tx.key) === tx) this.clients.delete(tx.key);
  }

  /** @internal */
  removeServer(tx: ServerTransaction): void {
    if (this.servers.get(tx.key) === tx) this.servers.delete(tx.key);
  }

  /** @internal called as the 2xx goes out (the INVITE is still held then). */
  register2xx(tx: InviteServerTransaction): void {
    const h = tx.request!.headers;
    const key = ack2xxKey(h.get('Call-ID'), cseqNumber(h.get('CSeq')));
    tx.ack2xxKey = key;
    this.acks2xx.set(key, tx);
  }

  /** @internal `toTag`: the To tag of the non-2xx final the transaction sent. */
  registerNon2xx(tx: InviteServerTransaction, toTag: string | undefined): void {
    const h = tx.request!.headers;
    const key = ackNon2xxKey(h.get('Call-ID'), cseqNumber(h.get('CSeq')), tagOf(h.get('From')), toTag);
    tx.ackNon2xxKey = key;
    this.acksNon2xx.set(key, tx);
  }

  /** @internal */
  unregisterNon2xx(tx: InviteServerTransaction): void {
    const key = tx.ackNon2xxKey;
    if (key === undefined) return;
    tx.ackNon2xxKey = undefined;
    if (this.acksNon2xx.get(key) === tx) this.acksNon2xx.delete(key);
  }

  /** @internal */
  unregister2xx(tx: InviteServerTransaction): void {
    const key = tx.ack2xxKey;
    if (key === undefined) return;
    tx.ack2xxKey = undefined;
    if (this.acks2xx.get(key) === tx) this.acks2xx.delete(key);
  }

  /** @internal runs a TU callback so that its exception cannot corrupt a state machine. */
  callUser(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      try {
        this.onUserError(err);
      } catch {
        /* nothing sensible left to do */
      }
    }
  }
}
