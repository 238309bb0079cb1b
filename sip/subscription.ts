/**
 * SIP-specific event notification (RFC 6665): the subscriber and notifier halves of a
 * subscription dialog, a router that hands incoming SUBSCRIBE and NOTIFY requests to them, and
 * a PUBLISH client (RFC 3903). Event packages (presence, ...) and what the bodies mean belong
 * to the layers above; this file knows dialogs, expiry, refresh, Subscription-State and digest
 * retries only.
 *
 * Subscriber: SUBSCRIBE creates the dialog with its 2xx or with the first NOTIFY (whichever
 * comes first), the granted Expires schedules a refresh before expiry ({@link refreshDelayMs}),
 * Subscription-State `terminated` ends it, `Expires: 0` unsubscribes. Notifier: answers 200/202
 * with the negotiated Expires, sends NOTIFYs one at a time (in CSeq order), ends the
 * subscription with `terminated;reason=timeout` when it is not refreshed.
 *
 * Implicit subscriptions (RFC 3515 §2.4.4, RFC 6665 §4.1.1): a REFER creates a subscription in
 * the dialog it is sent in, without a SUBSCRIBE; its `id` is the REFER's CSeq.
 * {@link ImplicitSubscriber} and {@link ImplicitSubscriptions} are its subscriber side (the
 * transferor), {@link NotifierSession} with `implicit` its notifier side (the transferee). They
 * reach their dialog through a {@link SubscriptionChannel}: the usage that owns the dialog (a
 * call) sends and answers for them.
 * @module
 */
import { raceTimer, type Clock, type TimerHandle } from './clock.js';
import { Dialog, uriOf } from './dialog.js';
import { DialogRouter, type DialogUsage } from './dialogRouter.js';
import type { InDialogRequestOptions } from './dialog.js';
import { SipHeaders, type SipRequest, type SipResponse } from './message.js';
import type { ServerTransaction } from './transaction.js';
import type { Endpoint, TransportProtocol } from './transport.js';
import { firstHostOf, sendUacRequest, type UacDestination, type UacOutcome, type UacServices } from './uac.js';
import { newCallId, newTag, tagOf, cseqNumber, type ResponseOptions } from './util.js';
import { notifyBodyOf, withNotifyPart } from './notifyBody.js';
import { formatEventHeader, parseEventHeader, parseSubscriptionState, type EventHeader, type SubscriptionStateHeader } from './headers.js';

// One parser each for Event and Subscription-State (headers.ts), re-exported for the packages.
export { formatEventHeader, parseEventHeader, parseSubscriptionState, type EventHeader, type SubscriptionStateHeader } from './headers.js';

/** What subscriptions need from the transaction user below and beside them. */
export interface SubscriptionHost {
  /** Time source for refresh and expiry timers. */
  readonly clock: Clock;
  /** The client-request path (401/407 answers, outbound proxy, route set); challenges are answered as `authUser`. */
  readonly uac: UacServices;
  /** Whose credentials answer challenges to the subscription requests. */
  authUser(): string;
  /** Builds a response (the stack's createResponse). */
  createResponse(req: SipRequest, status: number, reason?: string, options?: ResponseOptions): SipResponse;
  /** Resolves a host name of a next hop; undefined when it cannot be. */
  resolve(host: string): Promise<string | undefined>;
  /** Transport for next hops whose URI names none. */
  transport(): TransportProtocol;
}

/**
 * The worst case of a non-INVITE transaction over UDP (timer F, 64 × T1), in seconds: a refresh
 * starts this long before expiry, and a subscriber that cannot refresh waits this long past
 * expiry for the notifier's final NOTIFY.
 */
export const TRANSACTION_MARGIN_S = 32;

/**
 * When to refresh a subscription granted for `expires` seconds: at 90 % of it, but at least
 * 32 s (a UDP transaction's worst case) before expiry, and never before half of it.
 */
export function refreshDelayMs(expires: number): number {
  const s = Math.max(expires * 0.5, Math.min(expires * 0.9, expires - TRANSACTION_MARGIN_S));
  return Math.max(500, Math.round(s * 1000));
}

/** Expiry limits a notifier applies (RFC 6665 §4.2.1.1). */
export interface ExpiryPolicy {
  /** When SUBSCRIBE states none. */
  defaultExpires: number;
  /** Longest granted; longer requests are shortened. */
  maxExpires: number;
  /** Shorter non-zero requests get 423 with this Min-Expires. 0: no minimum. */
  minExpires: number;
}

/** The expiry to grant to a SUBSCRIBE, or the 423 to answer. */
export function negotiateExpires(req: SipRequest, policy: ExpiryPolicy): { expires: number } | { status: 423 | 400; minExpires?: number } {
  const h = req.headers.get('Expires');
  if (h === undefined) return { expires: policy.defaultExpires };
  if (!/^\s*\d{1,10}\s*$/.test(h)) return { status: 400 };
  const asked = Number(h);
  if (asked === 0) return { expires: 0 };
  if (policy.minExpires > 0 && asked < policy.minExpires) return { status: 423, minExpires: policy.minExpires };
  return { expires: Math.min(asked, policy.maxExpires) };
}

/** How a client transaction ended: a final response, or no answer. */
type TxOutcome = { res: SipResponse; req: SipRequest; auth?: 'no-credentials' | 'rejected' } | { error: 'timeout' | 'transport'; req: SipRequest };

/**
 * Sends `build()` through the client path (which re-sends a fresh `build()` with credentials
 * on 401/407); `done` gets the last outcome. `destination` undefined: an in-dialog request,
 * routed by its dialog.
 */
function transact(
  host: SubscriptionHost,
  build: () => SipRequest,
  destination: UacDestination | undefined,
  done: (o: TxOutcome) => void,
  onSend?: (req: SipRequest) => void,
): void {
  // A dialog-opening request (onSend given) has its Contact follow the transport it goes over.
  const opens = onSend !== undefined ? { contactFollowsTransport: true, onSend } : {};
  sendUacRequest(host.uac, { build, destination, authUser: host.authUser(), ...opens }, (o) => {
    if (o.kind === 'final') done(o.authFailure ? { res: o.res, req: o.req, auth: o.authFailure } : { res: o.res, req: o.req });
    else done({ error: o.kind, req: o.req });
  });
}

/**
 * How a subscription reaches its dialog: the clock, the answer builder, and the client path for
 * requests inside the dialog. The core builds one for the dialogs it creates (SUBSCRIBE); the
 * usage owning a dialog (a call) gives one for the implicit subscriptions living on it.
 */
export interface SubscriptionChannel {
  /** Time source of the expiry timers. */
  readonly clock: Clock;
  /** Builds a response (the stack's createResponse). */
  createResponse(req: SipRequest, status: number, reason?: string, options?: ResponseOptions): SipResponse;
  /**
   * Sends `method` in the dialog through the client path (401/407 answered with a new CSeq);
   * `onSend` sees each request just before it goes (first send and retries). False, and no
   * `done`, when the dialog is gone.
   */
  send(method: string, options: InDialogRequestOptions, done: (o: UacOutcome) => void, onSend?: (req: SipRequest) => void): boolean;
}

/** The channel of a dialog the core made itself: its requests go through the host's client path. */
function hostChannel(host: SubscriptionHost, dialog: () => Dialog | undefined, decorate?: (req: SipRequest) => void): SubscriptionChannel {
  return {
    get clock() {
      return host.clock;
    },
    createResponse: (req, status, reason, options) => host.createResponse(req, status, reason, options),
    send: (method, options, done, onSend) => {
      const d = dialog();
      if (!d) return false;
      const build = (): SipRequest => {
        const req = d.createRequest(method, options);
        decorate?.(req);
        return req;
      };
      sendUacRequest(host.uac, { build, authUser: host.authUser(), onSend }, done);
      return true;
    },
  };
}

/**
 * What a subscriber does with a NOTIFY its subscription takes (RFC 6665 §4.1.3): reads
 * Subscription-State (400 without one), asks the package (`onNotify`: 200, or the status it
 * returns; 500 when it throws) and answers. Returns the state when the NOTIFY was taken (2xx),
 * undefined when it was refused: then the subscription's state does not change.
 */
function takeNotify(
  channel: SubscriptionChannel,
  req: SipRequest,
  tx: ServerTransaction,
  events: SubscriberEvents,
  accept?: readonly string[],
): SubscriptionStateHeader | undefined {
  const respond = (status: number, reason?: string): void => {
    tx.respond(channel.createResponse(req, status, reason));
  };
  const state = parseSubscriptionState(req.headers.get('Subscription-State'));
  if (!state) {
    respond(400, 'Missing Subscription-State');
    return undefined;
  }
  // A multipart body: the package gets the part it understands (sip/notifyBody.ts), 415 when none.
  const body = notifyBodyOf(req.headers.get('Content-Type'), req.body, accept);
  if (body.kind === 'none') {
    tx.respond(channel.createResponse(req, 415, 'Unsupported Media Type', { headers: [['Accept', (accept ?? []).join(', ')]] }));
    return undefined;
  }
  let status = 200;
  try {
    const s = events.onNotify?.(body.kind === 'part' ? withNotifyPart(req, body) : req, state);
    if (typeof s === 'number' && Number.isInteger(s) && s >= 200 && s < 700) status = s;
  } catch {
    status = 500;
  }
  respond(status);
  return status < 300 ? state : undefined;
}

/**
 * The end of a subscription whose creating request got no final answer: RFC 3261 §8.1.3.1 treats
 * a time-out as 408 and a transport failure as 503.
 */
function noAnswer(kind: 'timeout' | 'transport', initial: boolean): SubscriberTermination {
  return kind === 'timeout'
    ? { cause: 'no-answer', code: 408, reason: 'Request Timeout', initial }
    : { cause: 'no-answer', code: 503, reason: 'Service Unavailable', initial };
}

/** The URI inside a Contact value (between angle brackets, else up to the parameters). */
function contactUri(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const lt = value.indexOf('<');
  const uri = lt >= 0 ? value.slice(lt + 1, value.indexOf('>', lt)) : value.split(';')[0]!;
  return uri.trim() || undefined;
}

// ------------------------------------------------------------------------------- subscriber

/** Options of a {@link SubscriberSession}. */
export interface SubscriberOptions {
  /** The event package and id subscribed to. */
  event: EventHeader;
  /** Request-URI of the initial SUBSCRIBE (the resource). */
  requestUri: string;
  /** Our From name-addr, without tag. */
  from: string;
  /** To name-addr (the resource), without tag. */
  to: string;
  /** Where the initial SUBSCRIBE goes (the resource's host, a proxy, an outbound proxy; RFC 3263 targets in order). */
  destination: UacDestination;
  /** Route headers for the initial SUBSCRIBE (an outbound proxy), in order. */
  routes?: string[];
  /** Our Contact URI. */
  localContact: string;
  /** Expiry asked for (s). */
  expires: number;
  /** Accept header values (body types we understand). */
  accept?: string[];
  /** Extra headers of every SUBSCRIBE (Subject, ...). */
  headers?: Array<[string, string]>;
}

/** Why a subscriber session ended. */
export interface SubscriberTermination {
  /**
   * `rejected`: a non-2xx to SUBSCRIBE; `no-answer`: transaction time-out or network error;
   * `auth`: challenged and no (right) credentials; `notified`: the notifier sent
   * `terminated`; `unsubscribed`: we unsubscribed; `expired`: no refresh succeeded in time.
   */
  cause: 'rejected' | 'no-answer' | 'auth' | 'notified' | 'unsubscribed' | 'expired';
  /**
   * SIP status of the response that ended it, when one did; for `no-answer` the status RFC 3261
   * treats it as (408 time-out, 503 transport failure).
   */
  code?: number;
  /** Its reason phrase, or the Subscription-State reason. */
  reason?: string;
  /** The Subscription-State retry-after, when given. */
  retryAfter?: number;
  /** True when it ended at the initial SUBSCRIBE (never accepted). */
  initial: boolean;
}

/** Callbacks of a {@link SubscriberSession}. */
export interface SubscriberEvents {
  /** A 2xx to the initial SUBSCRIBE (`refresh` false) or to a refresh (`refresh` true). */
  onAccepted?(expires: number, refresh: boolean): void;
  /**
   * A NOTIFY in the subscription. Returns the status to answer (200 by default; 400 when its
   * body is unreadable: the state then does not change).
   */
  onNotify?(req: SipRequest, state: SubscriptionStateHeader): number | void;
  /** The subscription is over (called once). */
  onTerminated?(info: SubscriberTermination): void;
  /** A 401/407 could not be answered (before onTerminated with cause `auth`). */
  onAuthFailure?(res: SipResponse, verdict: 'no-credentials' | 'rejected'): void;
}

/** States of a subscriber session. */
export type SubscriberState = 'init' | 'trying' | 'pending' | 'active' | 'terminated';

/** The subscriber side of one subscription (RFC 6665 §4.1). */
export class SubscriberSession {
  /** Current state. */
  state: SubscriberState = 'init';
  /** Call-ID of the dialog. */
  readonly callId: string;
  /** Our From tag. */
  readonly localTag = newTag();
  /** The dialog, once a 2xx or a NOTIFY created it. */
  dialog?: Dialog;
  /** Seconds granted by the last 2xx or NOTIFY. */
  grantedExpires = 0;
  /** Successful refreshes so far. */
  refreshCount = 0;
  private cseq = 0;
  /** The Contact our initial SUBSCRIBE went with (it names the transport it took); the dialog's. */
  private sentContact?: string;
  private expiresAsked: number;
  private refreshTimer?: TimerHandle;
  private expiryTimer?: TimerHandle;
  private unsubscribing = false;
  private unsubscribeGuard?: TimerHandle;
  private ended?: Promise<void>;
  private resolveEnded?: () => void;
  private intervalRounds = 0;
  private everActive = false;
  private readonly channel: SubscriptionChannel;
  /** Set by the router: removes the session from its tables. */
  onGone?: (s: SubscriberSession) => void;

  /**
   * @param host SIP services
   * @param options what to subscribe to
   * @param events callbacks
   */
  constructor(private readonly host: SubscriptionHost, readonly options: SubscriberOptions, private readonly events: SubscriberEvents = {}) {
    this.callId = newCallId(firstHostOf(options.destination));
    this.expiresAsked = options.expires;
    this.channel = hostChannel(host, () => this.dialog);
  }

  /** Key the router finds this session by: Call-ID and our tag (the NOTIFY's To tag). */
  get key(): string {
    return `${this.callId}\u0000${this.localTag}`;
  }

  /** True once over. */
  get terminated(): boolean {
    return this.state === 'terminated';
  }

  /** Sends the initial SUBSCRIBE. */
  start(): void {
    if (this.state !== 'init') return;
    this.state = 'trying';
    this.sendInitial();
  }

  private buildInitial(): SipRequest {
    const o = this.options;
    const h = new SipHeaders();
    for (const r of o.routes ?? []) h.append('Route', r);
    h.append('From', `${o.from};tag=${this.localTag}`);
    h.append('To', o.to);
    h.append('Call-ID', this.callId);
    h.append('CSeq', `${++this.cseq} SUBSCRIBE`);
    h.append('Max-Forwards', '70');
    h.append('Contact', `<${o.localContact}>`);
    this.commonHeaders(h, this.expiresAsked);
    return { type: 'request', method: 'SUBSCRIBE', uri: o.requestUri, version: 'SIP/2.0', headers: h, body: Buffer.alloc(0) };
  }

  private commonHeaders(h: SipHeaders, expires: number): void {
    h.append('Event', formatEventHeader(this.options.event));
    h.append('Expires', String(expires));
    if (this.options.accept?.length) h.append('Accept', this.options.accept.join(', '));
    h.append('Allow-Events', this.options.event.package);
    for (const [n, v] of this.options.headers ?? []) h.append(n, v);
  }

  private sendInitial(): void {
    transact(this.host, () => this.buildInitial(), this.options.destination, (o) => this.onInitialOutcome(o), (req) => {
      const contact = req.headers.get('Contact');
      if (contact) this.sentContact = uriOf(contact);
    });
  }

  private onInitialOutcome(o: TxOutcome): void {
    if (this.terminated) return;
    if ('error' in o) {
      if (!this.dialog) this.terminate(noAnswer(o.error, true));
      return;
    }
    const res = o.res;
    if (res.status >= 200 && res.status < 300) {
      if (!this.dialog) {
        this.dialog = Dialog.fromUacResponse(o.req, res, this.sentContact ?? this.options.localContact);
        this.dialog.localSeq = this.cseq;
      }
      this.accepted(res, false);
      return;
    }
    if (res.status === 423 && this.intervalRounds++ < 3) {
      const min = Number(res.headers.get('Min-Expires'));
      if (Number.isInteger(min) && min > this.expiresAsked) {
        this.expiresAsked = min;
        this.sendInitial();
        return;
      }
    }
    if (this.dialog) return; // a NOTIFY already made the subscription; keep it
    if (o.auth) {
      this.events.onAuthFailure?.(res, o.auth);
      this.terminate({ cause: 'auth', code: res.status, reason: res.reason, initial: true });
      return;
    }
    this.terminate({ cause: 'rejected', code: res.status, reason: res.reason, initial: true });
  }

  private accepted(res: SipResponse, refresh: boolean): void {
    const e = res.headers.get('Expires');
    const granted = e !== undefined && /^\s*\d+\s*$/.test(e) ? Number(e) : this.expiresAsked;
    if (this.unsubscribing) {
      if (!refresh) this.sendUnsubscribe();
      return;
    }
    if (granted === 0) {
      this.terminate({ cause: 'expired', initial: !refresh });
      return;
    }
    if (this.state === 'trying') this.state = 'pending';
    if (refresh) this.refreshCount++;
    this.schedule(granted);
    this.events.onAccepted?.(granted, refresh);
  }

  /** (Re)arms the refresh and expiry timers for `expires` seconds from now. */
  private schedule(expires: number): void {
    this.grantedExpires = expires;
    const clock = this.host.clock;
    clock.clearTimer(this.refreshTimer);
    clock.clearTimer(this.expiryTimer);
    this.refreshTimer = clock.setTimer(refreshDelayMs(expires), () => this.refresh());
    this.expiryTimer = clock.setTimer(expires * 1000, () => this.terminate({ cause: 'expired', initial: false }));
  }

  /** Sends a refresh SUBSCRIBE now (also what the refresh timer does). False when not possible. */
  refresh(): boolean {
    if (this.terminated || this.unsubscribing || !this.dialog) return false;
    const dialog = this.dialog;
    const build = (): SipRequest => {
      const req = dialog.createRequest('SUBSCRIBE');
      this.commonHeaders(req.headers, this.expiresAsked);
      return req;
    };
    transact(this.host, build, undefined, (o) => {
      if (this.terminated || this.unsubscribing) return;
      if ('error' in o) {
        this.terminate(noAnswer(o.error, false));
        return;
      }
      if (o.res.status >= 200 && o.res.status < 300) {
        this.accepted(o.res, true);
        return;
      }
      if (o.auth) this.events.onAuthFailure?.(o.res, o.auth);
      // RFC 6665 §4.1.2.2: a failed refresh leaves the subscription until it expires, except
      // 481 (it is gone); keep it simple and predictable: any failure ends it.
      this.terminate({ cause: o.auth ? 'auth' : 'rejected', code: o.res.status, reason: o.res.reason, initial: false });
    });
    return true;
  }

  /**
   * Unsubscribes (SUBSCRIBE with Expires: 0) and resolves when the notifier's final NOTIFY
   * arrived, or after `guardMs` without it.
   */
  unsubscribe(guardMs = 4000): Promise<void> {
    if (this.terminated) return Promise.resolve();
    this.ended ??= new Promise<void>((r) => (this.resolveEnded = r));
    if (this.unsubscribing) return this.ended;
    this.unsubscribing = true;
    this.host.clock.clearTimer(this.refreshTimer);
    this.unsubscribeGuard = this.host.clock.setTimer(guardMs, () => this.terminate({ cause: 'unsubscribed', initial: false }));
    if (this.dialog) this.sendUnsubscribe();
    // else: the 2xx (or a NOTIFY) makes the dialog and the unsubscribe follows it
    return this.ended;
  }

  private sendUnsubscribe(): void {
    const dialog = this.dialog;
    if (!dialog) return;
    const build = (): SipRequest => {
      const req = dialog.createRequest('SUBSCRIBE');
      this.commonHeaders(req.headers, 0);
      return req;
    };
    transact(this.host, build, undefined, (o) => {
      // Without a 2xx no final NOTIFY will come.
      if ('error' in o || o.res.status >= 300) this.terminate({ cause: 'unsubscribed', initial: false });
    });
  }

  /** The dialog of a NOTIFY with a readable Subscription-State: made by it when the 2xx has not come yet. */
  private notifiedDialog(req: SipRequest): void {
    if (this.dialog) {
      this.dialog.refreshTarget(req);
      return;
    }
    // RFC 6665 §4.1.2.4: the NOTIFY can beat the 2xx; it creates the dialog.
    const from = req.headers.get('From') ?? '';
    this.dialog = new Dialog(
      this.callId,
      this.localTag,
      tagOf(from) ?? '',
      this.options.from,
      from.replace(/;\s*tag\s*=\s*[^;,\s>]+/i, ''),
      this.cseq,
      cseqNumber(req.headers.get('CSeq')),
      contactUri(req.headers.get('Contact')) ?? this.options.requestUri,
      req.headers.getAll('Record-Route'),
      this.sentContact ?? this.options.localContact,
    );
    if (this.state === 'trying') this.state = 'pending';
    if (this.unsubscribing) this.sendUnsubscribe();
  }

  /**
   * Handles a NOTIFY routed to this session by the dialog router, which has screened it (session
   * alive, Event ours, CSeq in order once the dialog exists).
   */
  handleNotify(req: SipRequest, tx: ServerTransaction): void {
    if (parseSubscriptionState(req.headers.get('Subscription-State'))) this.notifiedDialog(req);
    const state = takeNotify(this.channel, req, tx, this.events, this.options.accept);
    if (!state || this.terminated) return;
    if (state.state === 'terminated') {
      this.terminate({
        cause: this.unsubscribing ? 'unsubscribed' : state.reason === 'rejected' ? 'rejected' : 'notified',
        reason: state.reason,
        retryAfter: state.retryAfter,
        initial: !this.everActive,
      });
      return;
    }
    if (state.state === 'active' || state.state === 'pending') this.state = state.state;
    if (state.state === 'active') this.everActive = true;
    // A notifier may shorten the subscription: never refresh later than it allows.
    if (!this.unsubscribing && state.expires !== undefined && state.expires > 0 && (this.grantedExpires === 0 || state.expires < this.grantedExpires)) {
      this.schedule(state.expires);
    }
  }

  /** Ends the session at once, without signalling (used at shutdown after unsubscribe). */
  terminate(info: SubscriberTermination): void {
    if (this.terminated) return;
    this.state = 'terminated';
    const clock = this.host.clock;
    clock.clearTimer(this.refreshTimer);
    clock.clearTimer(this.expiryTimer);
    clock.clearTimer(this.unsubscribeGuard);
    this.onGone?.(this);
    try {
      this.events.onTerminated?.(info);
    } finally {
      this.resolveEnded?.();
    }
  }
}

// ------------------------------------------------------------------------------- resubscription

/** Wait before subscribing again after `probation` or `giveup` without a retry-after (s). */
export const RESUBSCRIBE_DEFAULT_WAIT_S = 60;
/** Automatic resubscriptions in a row, each ended within {@link RESUBSCRIBE_SETTLED_MS}, before a watch gives up. */
export const MAX_QUICK_RESUBSCRIBES = 5;
/** A subscription that lasted this long counts as settled: the quick-resubscribe count starts again. */
export const RESUBSCRIBE_SETTLED_MS = 30_000;

/**
 * Whether, and after how many ms, a subscriber subscribes again once the notifier ended its
 * subscription (RFC 6665 §4.1.3): `deactivated` and `timeout` at once (after retry-after when
 * given), `probation` and `giveup` after retry-after (or {@link RESUBSCRIBE_DEFAULT_WAIT_S});
 * never after `rejected`, `noresource`, `invariant`, no reason or an unknown one, and never
 * when the subscription ended another way (refused, unanswered, unsubscribed, expired).
 */
export function resubscribeDelayMs(info: SubscriberTermination): number | undefined {
  if (info.cause !== 'notified') return undefined;
  switch (info.reason) {
    case 'deactivated':
    case 'timeout':
      return (info.retryAfter ?? 0) * 1000;
    case 'probation':
    case 'giveup':
      return (info.retryAfter ?? RESUBSCRIBE_DEFAULT_WAIT_S) * 1000;
    default:
      return undefined;
  }
}

/** Callbacks of a {@link WatchedSubscription}: a subscriber's, plus the news of a resubscription. */
export interface WatchEvents extends SubscriberEvents {
  /**
   * The notifier ended the subscription with a reason that asks for a new one (`info`): a new
   * SUBSCRIBE goes out after `delayMs`. onTerminated is not called then; the watch goes on.
   */
  onResubscribing?(info: SubscriberTermination, delayMs: number): void;
}

/**
 * A subscription kept up across the notifier's `terminated;reason=timeout|deactivated|probation|giveup`
 * (RFC 6665 §4.1.3): each ends the current {@link SubscriberSession} and, after the delay
 * {@link resubscribeDelayMs} says, a new one is made with the same options (a new dialog). Its
 * owner sees one subscription: onTerminated once, when no new one follows. A notifier that ends
 * every new subscription at once is given up on after {@link MAX_QUICK_RESUBSCRIBES} tries.
 */
export class WatchedSubscription {
  /** The session now (the last one made). */
  current: SubscriberSession;
  private timer?: TimerHandle;
  private done = false;
  private stopping = false;
  private quick = 0;
  private startedAt: number;
  private readonly inner: SubscriberEvents;

  /**
   * @param clock time source of the waits
   * @param open makes and starts a session with the given callbacks (the router's subscribe)
   * @param events the owner's callbacks
   */
  constructor(
    private readonly clock: Clock,
    private readonly open: (events: SubscriberEvents) => SubscriberSession,
    private readonly events: WatchEvents,
  ) {
    this.inner = {
      onAccepted: (expires, refresh) => events.onAccepted?.(expires, refresh),
      onNotify: (req, state) => events.onNotify?.(req, state),
      onAuthFailure: (res, verdict) => events.onAuthFailure?.(res, verdict),
      onTerminated: (info) => this.ended(info),
    };
    this.startedAt = clock.now();
    this.current = open(this.inner);
  }

  /** State of the current session; `trying` while waiting to subscribe again. */
  get state(): SubscriberState {
    if (this.done) return 'terminated';
    return this.timer ? 'trying' : this.current.state;
  }

  /** Seconds granted to the current session. */
  get grantedExpires(): number {
    return this.current.grantedExpires;
  }

  /** Successful refreshes of the current session. */
  get refreshCount(): number {
    return this.current.refreshCount;
  }

  /** True once over for good. */
  get terminated(): boolean {
    return this.done;
  }

  /** True while waiting to subscribe again. */
  get waiting(): boolean {
    return this.timer !== undefined;
  }

  private ended(info: SubscriberTermination): void {
    if (this.done) return;
    const delay = this.stopping ? undefined : resubscribeDelayMs(info);
    if (this.clock.now() - this.startedAt >= RESUBSCRIBE_SETTLED_MS) this.quick = 0;
    if (delay === undefined || this.quick >= MAX_QUICK_RESUBSCRIBES) {
      this.finish(info);
      return;
    }
    this.quick++;
    this.timer = this.clock.setTimer(delay, () => this.resubscribe());
    this.events.onResubscribing?.(info, delay);
  }

  private resubscribe(): void {
    this.timer = undefined;
    if (this.done) return;
    this.startedAt = this.clock.now();
    this.current = this.open(this.inner);
  }

  private finish(info: SubscriberTermination): void {
    this.done = true;
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.events.onTerminated?.(info);
  }

  /** Refreshes now; while waiting, subscribes again now. False when not possible. */
  refresh(): boolean {
    if (this.done) return false;
    if (this.timer) {
      this.clock.clearTimer(this.timer);
      this.resubscribe();
      return true;
    }
    return this.current.refresh();
  }

  /** Unsubscribes (the current session's Expires: 0, or no more waiting); no new subscription follows. */
  unsubscribe(guardMs?: number): Promise<void> {
    if (this.done) return Promise.resolve();
    if (this.timer) {
      this.finish({ cause: 'unsubscribed', initial: false });
      return Promise.resolve();
    }
    this.stopping = true;
    return this.current.unsubscribe(guardMs);
  }
}

// ------------------------------------------------------------------------------- implicit subscriber

/** What kind of implicit subscription a request creates. */
export interface ImplicitSubscriptionOptions {
  /** Its event package (`refer`). */
  package: string;
  /**
   * Seconds it is taken to last until a NOTIFY states otherwise (a REFER's 2xx grants none:
   * RFC 3515 leaves the duration to the notifier).
   */
  defaultExpires: number;
  /**
   * Body types the subscriber understands: the part of a multipart NOTIFY it takes
   * (sip/notifyBody.ts). Omitted: `message/sipfrag` for `refer` (RFC 3515 §2.4.5), else any.
   */
  accept?: readonly string[];
}

/**
 * The subscriber side of an implicit subscription (RFC 3515 §2.4.4, RFC 6665 §4.1): a request
 * other than SUBSCRIBE (a REFER) sent in an existing dialog creates it; its `id` is that
 * request's CSeq (of the last send: a challenged request's retry has a new one). States and
 * NOTIFY handling are those of {@link SubscriberSession}: `trying` until the 2xx or the first
 * NOTIFY, then `pending`/`active` as NOTIFYs say, `terminated` by a NOTIFY, a refusal, no
 * answer, or silence past expiry. It is not refreshed: after the granted expiry it waits
 * {@link TRANSACTION_MARGIN_S} more for the notifier's final NOTIFY before it ends as `expired`.
 */
export class ImplicitSubscriber {
  /** Current state. */
  state: SubscriberState = 'init';
  /** The `id` of its Event: the CSeq of the request that created it, once sent. */
  id?: string;
  /** Seconds granted by the last 2xx or NOTIFY. */
  grantedExpires = 0;
  private expiryTimer?: TimerHandle;
  private everActive = false;
  /** Set by the dialog's {@link ImplicitSubscriptions}: removes it from the dialog's set. */
  onGone?: (s: ImplicitSubscriber) => void;

  /**
   * @param channel the dialog's clock, answers and client path
   * @param options package and default expiry
   * @param events callbacks (as a {@link SubscriberSession}'s; `onAccepted` for a 2xx to the
   *   creating request)
   */
  constructor(
    private readonly channel: SubscriptionChannel,
    readonly options: ImplicitSubscriptionOptions,
    private readonly events: SubscriberEvents = {},
  ) {}

  /** True once over. */
  get terminated(): boolean {
    return this.state === 'terminated';
  }

  /** True when a NOTIFY's Event names this subscription (package, and id when it has one). */
  owns(event: EventHeader): boolean {
    return event.package === this.options.package && (event.id === undefined || event.id === this.id);
  }

  /**
   * Sends the request that creates the subscription (`method`, e.g. REFER, with `request`'s
   * headers and body) in the dialog. False when the dialog is gone (nothing sent, no callback).
   */
  start(method: string, request: InDialogRequestOptions): boolean {
    if (this.state !== 'init') return false;
    this.state = 'trying';
    const sent = this.channel.send(method, request, (o) => this.onOutcome(o), (req) => {
      this.id = String(cseqNumber(req.headers.get('CSeq')));
    });
    if (!sent) this.end();
    return sent;
  }

  private onOutcome(o: UacOutcome): void {
    if (this.terminated) return;
    if (o.kind !== 'final') {
      // A NOTIFY already made the subscription: it stands on its own expiry.
      if (this.state === 'trying') this.terminate(noAnswer(o.kind, true));
      return;
    }
    const res = o.res;
    if (res.status >= 200 && res.status < 300) {
      const e = res.headers.get('Expires');
      const granted = e !== undefined && /^\s*\d+\s*$/.test(e) && Number(e) > 0 ? Number(e) : this.options.defaultExpires;
      if (this.state === 'trying') {
        this.state = 'pending';
        this.schedule(granted);
      }
      this.events.onAccepted?.(granted, false);
      return;
    }
    if (this.state !== 'trying') return; // a NOTIFY already made the subscription; keep it
    if (o.authFailure) {
      this.events.onAuthFailure?.(res, o.authFailure);
      this.terminate({ cause: 'auth', code: res.status, reason: res.reason, initial: true });
      return;
    }
    this.terminate({ cause: 'rejected', code: res.status, reason: res.reason, initial: true });
  }

  /** (Re)arms the expiry timer: `expires` seconds and the transaction margin from now. */
  private schedule(expires: number): void {
    this.grantedExpires = expires;
    const clock = this.channel.clock;
    clock.clearTimer(this.expiryTimer);
    this.expiryTimer = clock.setTimer((expires + TRANSACTION_MARGIN_S) * 1000, () => this.terminate({ cause: 'expired', initial: false }));
  }

  /**
   * Handles a NOTIFY of this subscription (found by {@link ImplicitSubscriptions.handleNotify}):
   * answered through {@link SubscriberEvents.onNotify}, then the state follows its
   * Subscription-State, and its expires (or the default) re-arms the expiry.
   */
  handleNotify(req: SipRequest, tx: ServerTransaction): void {
    const accept = this.options.accept ?? (this.options.package === 'refer' ? ['message/sipfrag'] : undefined);
    const state = takeNotify(this.channel, req, tx, this.events, accept);
    // Refused, or the package ended the subscription while handling it (a final result).
    if (!state || this.terminated) return;
    if (state.state === 'terminated') {
      this.terminate({
        cause: state.reason === 'rejected' ? 'rejected' : 'notified',
        reason: state.reason,
        retryAfter: state.retryAfter,
        initial: !this.everActive,
      });
      return;
    }
    if (state.state === 'active' || state.state === 'pending') this.state = state.state;
    else if (this.state === 'trying') this.state = 'pending';
    if (state.state === 'active') this.everActive = true;
    this.schedule(state.expires !== undefined && state.expires > 0 ? state.expires : this.options.defaultExpires);
  }

  /** Ends the subscription (onTerminated is called once, with `info`); nothing is sent. */
  terminate(info: SubscriberTermination): void {
    if (this.terminated) return;
    this.end();
    this.events.onTerminated?.(info);
  }

  /** Ends the subscription without callbacks: its owner is done with it (a final result, shutdown). */
  dispose(): void {
    if (!this.terminated) this.end();
  }

  private end(): void {
    this.state = 'terminated';
    this.channel.clock.clearTimer(this.expiryTimer);
    const gone = this.onGone;
    this.onGone = undefined;
    gone?.(this);
  }
}

/**
 * The implicit subscriptions living on one dialog: each REFER sent in it creates one, told apart
 * by the NOTIFYs' Event id (RFC 3515 §2.4.6). A NOTIFY naming none of them gets 481.
 */
export class ImplicitSubscriptions {
  private readonly live: ImplicitSubscriber[] = [];

  /**
   * @param channel the dialog's clock, answers and client path
   * @param options package and default expiry of its subscriptions
   */
  constructor(
    private readonly channel: SubscriptionChannel,
    readonly options: ImplicitSubscriptionOptions,
  ) {}

  /**
   * Sends `method` (e.g. REFER) in the dialog and follows the subscription it creates.
   * Undefined when the dialog is gone (nothing sent).
   */
  create(method: string, request: InDialogRequestOptions, events: SubscriberEvents): ImplicitSubscriber | undefined {
    const s = new ImplicitSubscriber(this.channel, this.options, events);
    this.live.push(s);
    s.onGone = (x) => {
      const i = this.live.indexOf(x);
      if (i >= 0) this.live.splice(i, 1);
    };
    return s.start(method, request) ? s : undefined;
  }

  /** The subscriptions not over yet, oldest first. */
  subscriptions(): readonly ImplicitSubscriber[] {
    return this.live;
  }

  /**
   * The subscription a NOTIFY's Event names: by id; without an id only when the dialog holds a
   * single one (RFC 3515 §2.4.6: the id may be left out for the only REFER).
   */
  find(event: EventHeader): ImplicitSubscriber | undefined {
    if (event.package !== this.options.package) return undefined;
    if (event.id === undefined) return this.live.length === 1 ? this.live[0] : undefined;
    return this.live.find((s) => s.id === event.id);
  }

  /** Handles a NOTIFY the dialog router gave the dialog's usage: to its subscription, else 481. */
  handleNotify(req: SipRequest, tx: ServerTransaction): void {
    const event = parseEventHeader(req.headers.get('Event'));
    const s = event && this.find(event);
    if (!s) {
      tx.respond(this.channel.createResponse(req, 481, 'Subscription Does Not Exist'));
      return;
    }
    s.handleNotify(req, tx);
  }

  /** Ends every subscription without callbacks (shutdown). */
  disposeAll(): void {
    for (const s of [...this.live]) s.dispose();
  }
}

// ------------------------------------------------------------------------------- notifier

/** Options of a {@link NotifierSession}. */
export interface NotifierOptions {
  /** Our Contact URI. */
  localContact: string;
  /** Seconds granted. */
  expires: number;
  /** Body type of NOTIFYs when a notify call names none. */
  contentType?: string;
  /** Display name put on the From of our NOTIFYs (the SUBSCRIBE's To may carry none). */
  displayName?: string;
  /**
   * An implicit subscription (made by a REFER, RFC 3515 §2.4.4): it lives as long as the action
   * it reports on, so no expiry timer runs and each NOTIFY grants `expires` again.
   */
  implicit?: boolean;
}

/** Outcome of one NOTIFY: the far end's status, or no answer. */
export type NotifyOutcome = { code: number; reason: string } | { error: 'timeout' | 'transport' | 'terminated' };

/** What one NOTIFY carries. */
export interface NotifyContent {
  /** Subscription-State to send; default: the session's (`pending` until activated). */
  state?: 'active' | 'pending' | 'terminated';
  /** Reason of `terminated`. */
  reason?: string;
  /** Body; undefined repeats the last body, `null` sends none. */
  body?: Buffer | string | null;
  /** Its Content-Type; default the session's. */
  contentType?: string;
}

/** Callbacks of a {@link NotifierSession}. */
export interface NotifierEvents {
  /** The subscriber refreshed (or, with 0, removed) the subscription. */
  onRefresh?(expires: number): void;
  /** The subscription is over: `reason` as sent in the final NOTIFY, or why it could not be. */
  onTerminated?(reason: string): void;
}

/** The notifier side of one subscription (RFC 6665 §4.2). */
export class NotifierSession {
  /** The dialog (created from the SUBSCRIBE). */
  readonly dialog: Dialog;
  /** The subscribed event. */
  readonly event: EventHeader;
  /** State sent in NOTIFYs. */
  state: 'pending' | 'active' | 'terminated' = 'pending';
  /** Last body notified (repeated on refresh). */
  lastBody: Buffer | null = null;
  /** Its Content-Type. */
  lastContentType: string;
  /** The SUBSCRIBE that created the subscription. */
  readonly request: SipRequest;
  private expiresAt = 0;
  private expiryTimer?: TimerHandle;
  private queue: Promise<unknown> = Promise.resolve();
  private closing = false;
  /** Set by the router: removes the session from its tables. */
  onGone?: (n: NotifierSession) => void;
  /** Callbacks; the layer above sets them after creation. */
  events: NotifierEvents = {};

  /**
   * @param channel the dialog's clock, answers and client path
   * @param dialog the dialog the NOTIFYs go in: made from the SUBSCRIBE, or the dialog a REFER
   *   came in (implicit)
   * @param req the request that created the subscription (SUBSCRIBE or REFER)
   * @param event its Event (for a REFER: `refer` with the REFER's CSeq as id)
   * @param options contact, expiry, default body type
   */
  constructor(
    private readonly channel: SubscriptionChannel,
    dialog: Dialog,
    req: SipRequest,
    event: EventHeader,
    readonly options: NotifierOptions,
  ) {
    this.request = req;
    this.event = event;
    this.dialog = dialog;
    this.lastContentType = options.contentType ?? 'text/plain';
    this.arm(options.expires);
  }

  /**
   * The notifier of a new SUBSCRIBE: its dialog is made from the request, its NOTIFYs go
   * through the host's client path.
   * @param host SIP services
   * @param req the initial SUBSCRIBE
   * @param event its Event header
   * @param options contact, expiry, default body type
   */
  static fromSubscribe(host: SubscriptionHost, req: SipRequest, event: EventHeader, options: NotifierOptions): NotifierSession {
    const dialog = Dialog.fromUasRequest(req, newTag(), options.localContact);
    const dn = options.displayName;
    const decorate = (r: SipRequest): void => {
      const from = r.headers.get('From') ?? '';
      if (dn && from.startsWith('<')) r.headers.set('From', `"${dn.replace(/(["\\])/g, '\\$1')}" ${from}`);
    };
    return new NotifierSession(hostChannel(host, () => dialog, decorate), dialog, req, event, options);
  }

  /** Dialog key (what the router finds refreshes by). */
  get key(): string {
    return this.dialog.id;
  }

  /** True once over (or once the final NOTIFY is queued). */
  get terminated(): boolean {
    return this.state === 'terminated' || this.closing;
  }

  /** Seconds left before expiry (an implicit subscription: the period each NOTIFY grants). */
  get remainingSeconds(): number {
    if (this.options.implicit) return this.options.expires;
    return Math.max(0, Math.ceil((this.expiresAt - this.channel.clock.now()) / 1000));
  }

  private arm(expires: number): void {
    if (this.options.implicit) return;
    const clock = this.channel.clock;
    clock.clearTimer(this.expiryTimer);
    this.expiresAt = clock.now() + expires * 1000;
    if (expires > 0) this.expiryTimer = clock.setTimer(expires * 1000, () => void this.terminate('timeout'));
  }

  /** Answers the SUBSCRIBE that created the session (200, or 202 while the decision is pending). */
  answer(tx: ServerTransaction, req: SipRequest, status: 200 | 202): void {
    tx.respond(
      this.channel.createResponse(req, status, undefined, {
        toTag: this.dialog.localTag,
        headers: [
          ['Contact', `<${this.options.localContact}>`],
          ['Expires', String(this.remainingSeconds)],
        ],
      }),
    );
  }

  /**
   * Sends a NOTIFY (queued behind the previous one, so they arrive in CSeq order). The state and
   * body change at once, so a later call sees them even before this NOTIFY went out. A 481 or
   * no answer ends the subscription (the subscriber is gone).
   */
  notify(content: NotifyContent = {}): Promise<NotifyOutcome> {
    if (this.terminated) return Promise.resolve({ error: 'terminated' });
    if (content.state === 'terminated') this.closing = true;
    else if (content.state) this.state = content.state;
    if (content.body !== undefined) this.lastBody = content.body === null ? null : Buffer.from(content.body);
    if (content.contentType) this.lastContentType = content.contentType;
    const snapshot = {
      final: content.state === 'terminated',
      reason: content.reason ?? 'noresource',
      state: this.state,
      // A final NOTIFY carries state only when asked to: a rejected watcher learns nothing.
      body: content.state === 'terminated' && content.body === undefined ? null : this.lastBody,
      contentType: this.lastContentType,
    };
    const run = (): Promise<NotifyOutcome> => this.sendNotify(snapshot);
    const p = this.queue.then(run, run);
    this.queue = p;
    return p;
  }

  private sendNotify(n: { final: boolean; reason: string; state: string; body: Buffer | null; contentType: string }): Promise<NotifyOutcome> {
    if (this.state === 'terminated') return Promise.resolve({ error: 'terminated' });
    const stateValue = n.final ? `terminated;reason=${n.reason}` : `${n.state};expires=${this.remainingSeconds}`;
    if (n.final) this.end(n.reason);
    const body = n.body;
    const options = body && body.length ? { body, contentType: n.contentType } : {};
    const headers: Array<[string, string]> = [
      ['Event', formatEventHeader(this.event)],
      ['Subscription-State', stateValue],
    ];
    return new Promise<NotifyOutcome>((resolve) => {
      const sent = this.channel.send('NOTIFY', { ...options, headers }, (o) => {
        if (o.kind !== 'final') {
          this.end('giveup');
          resolve({ error: o.kind });
          return;
        }
        // RFC 6665 §4.2.2: a 481 (or a time-out, 408) means the subscriber is gone.
        if (o.res.status === 481 || o.res.status === 408) this.end('giveup');
        resolve({ code: o.res.status, reason: o.res.reason });
      });
      if (!sent) {
        this.end('giveup');
        resolve({ error: 'transport' });
      }
    });
  }

  /**
   * Handles a SUBSCRIBE inside the dialog, screened by the dialog router: a refresh, or with
   * Expires: 0 the end.
   */
  handleSubscribe(req: SipRequest, tx: ServerTransaction, policy: ExpiryPolicy): void {
    const respond = (status: number, reason?: string, headers?: Array<[string, string]>): void => {
      tx.respond(this.channel.createResponse(req, status, reason, headers ? { headers } : {}));
    };
    const n = negotiateExpires(req, policy);
    if ('status' in n) {
      respond(n.status, undefined, n.minExpires ? [['Min-Expires', String(n.minExpires)]] : undefined);
      return;
    }
    this.dialog.refreshTarget(req);
    this.arm(n.expires);
    respond(200, undefined, [
      ['Contact', `<${this.options.localContact}>`],
      ['Expires', String(n.expires)],
    ]);
    this.events.onRefresh?.(n.expires);
    if (n.expires === 0) void this.terminate('timeout');
    else void this.notify({});
  }

  /** Ends the subscription with a final NOTIFY (`terminated;reason=...`). */
  terminate(reason = 'noresource'): Promise<NotifyOutcome> {
    if (this.terminated) return Promise.resolve({ error: 'terminated' });
    return this.notify({ state: 'terminated', reason });
  }

  private end(reason: string): void {
    if (this.state === 'terminated' && !this.onGone) return;
    this.state = 'terminated';
    this.channel.clock.clearTimer(this.expiryTimer);
    const gone = this.onGone;
    this.onGone = undefined;
    gone?.(this);
    this.events.onTerminated?.(reason);
  }
}

// ------------------------------------------------------------------------------- router

/** What the router asks of the layer above for requests no session owns. */
export interface SubscriptionRouterHandlers {
  /** A SUBSCRIBE outside any dialog (a new subscription) with a readable Event header. */
  newSubscribe(req: SipRequest, tx: ServerTransaction, event: EventHeader): void;
  /** A NOTIFY matching no subscription: answer it (481 unless unsolicited NOTIFYs are wanted). */
  unsolicitedNotify(req: SipRequest, tx: ServerTransaction, event: EventHeader): void;
}

/** Event packages this router leaves to others: REFER subscriptions live on calls' dialogs ({@link ImplicitSubscriptions}). */
const FOREIGN_PACKAGES = new Set(['refer']);

/** Where sessions put their dialogs: the dialog router (sip/dialogRouter.ts). */
export type SubscriptionDialogs = Pick<DialogRouter, 'attach' | 'detach'>;

/** True when `event` names the same package and id as `mine` (RFC 6665 §8.2.1). */
function sameEvent(event: EventHeader, mine: EventHeader): boolean {
  return event.package === mine.package && (event.id ?? '') === (mine.id ?? '');
}

/**
 * Keeps the subscription sessions and puts each on its dialog in the dialog router, which
 * routes their in-dialog NOTIFYs and SUBSCRIBEs; takes the SUBSCRIBEs and NOTIFYs that belong to
 * no dialog.
 */
export class SubscriptionRouter {
  private readonly subscribers = new Map<string, SubscriberSession>();
  private readonly notifiers = new Map<string, NotifierSession>();
  private readonly watches = new Set<WatchedSubscription>();

  /**
   * @param host SIP services
   * @param handlers new subscriptions and unsolicited NOTIFYs
   * @param policy expiry limits for refreshes
   * @param dialogs the dialog router the sessions' dialogs are attached to
   */
  constructor(
    private readonly host: SubscriptionHost,
    private readonly handlers: SubscriptionRouterHandlers,
    readonly policy: ExpiryPolicy,
    private readonly dialogs: SubscriptionDialogs,
  ) {}

  /** Creates, registers and starts a subscriber session. */
  subscribe(options: SubscriberOptions, events: SubscriberEvents): SubscriberSession {
    const s = new SubscriberSession(this.host, options, events);
    // The far end's tag is not known before its first NOTIFY: the session is found by Call-ID and our tag.
    const key = DialogRouter.earlyKey(s.callId, s.localTag);
    const usage: DialogUsage = {
      name: 'subscription',
      methods: ['NOTIFY'],
      ownsEvent: (e) => sameEvent(e, options.event),
      dialog: () => s.dialog,
      alive: () => !s.terminated,
      handle: (req, tx) => s.handleNotify(req, tx),
    };
    this.subscribers.set(s.key, s);
    this.dialogs.attach(key, usage);
    s.onGone = (x) => {
      if (this.subscribers.get(x.key) === x) this.subscribers.delete(x.key);
      this.dialogs.detach(key, usage);
    };
    s.start();
    return s;
  }

  /**
   * Creates a {@link WatchedSubscription}: a subscriber session that is made again when the
   * notifier ends it asking for a new one (RFC 6665 §4.1.3). Engine stop ends waiting ones.
   */
  watch(options: SubscriberOptions, events: WatchEvents): WatchedSubscription {
    // The first session may end inside the constructor (before `w` is set): then it is never added.
    let w: WatchedSubscription | undefined = undefined;
    const made = new WatchedSubscription(this.host.clock, (inner) => this.subscribe(options, inner), {
      ...events,
      onTerminated: (info) => {
        if (w) this.watches.delete(w);
        events.onTerminated?.(info);
      },
    });
    w = made;
    if (!made.terminated) this.watches.add(made);
    return made;
  }

  /**
   * Creates and registers the notifier session of a new SUBSCRIBE (the caller answers it with
   * {@link NotifierSession.answer} and sends the first NOTIFY).
   */
  acceptSubscribe(req: SipRequest, event: EventHeader, options: NotifierOptions): NotifierSession {
    const n = NotifierSession.fromSubscribe(this.host, req, event, options);
    const key = n.key;
    const usage: DialogUsage = {
      name: 'subscription',
      methods: ['SUBSCRIBE'],
      ownsEvent: (e) => sameEvent(e, event),
      dialog: () => n.dialog,
      alive: () => !n.terminated,
      handle: (r, tx) => n.handleSubscribe(r, tx, this.policy),
    };
    this.notifiers.set(key, n);
    this.dialogs.attach(key, usage);
    n.onGone = (x) => {
      if (this.notifiers.get(x.key) === x) this.notifiers.delete(x.key);
      this.dialogs.detach(key, usage);
    };
    return n;
  }

  /** Live subscriber sessions. */
  subscriberSessions(): SubscriberSession[] {
    return [...this.subscribers.values()];
  }

  /** Live notifier sessions. */
  notifierSessions(): NotifierSession[] {
    return [...this.notifiers.values()];
  }

  /** A SUBSCRIBE outside any dialog (the method table's handler): a new subscription, 400/489 without a readable Event. */
  onSubscribe(req: SipRequest, tx: ServerTransaction): void {
    const event = this.eventOf(req, tx);
    if (event) this.handlers.newSubscribe(req, tx, event);
  }

  /**
   * A NOTIFY belonging to no subscription, in or out of a dialog (the dialog router's handler
   * for unknown dialogs): unsolicited, unless it is of the `refer` package, which only
   * transfers in a call's dialog follow (481).
   */
  onUnknownNotify(req: SipRequest, tx: ServerTransaction): void {
    const event = this.eventOf(req, tx);
    if (!event) return;
    if (FOREIGN_PACKAGES.has(event.package)) tx.respond(this.host.createResponse(req, 481, 'Subscription Does Not Exist', { toTag: true }));
    else this.handlers.unsolicitedNotify(req, tx, event);
  }

  /** The request's Event, or undefined after answering 400 (none) or 489 (unreadable). */
  private eventOf(req: SipRequest, tx: ServerTransaction): EventHeader | undefined {
    const value = req.headers.get('Event');
    const event = parseEventHeader(value);
    if (!event) {
      const toTag = tagOf(req.headers.get('To'));
      tx.respond(this.host.createResponse(req, value === undefined ? 400 : 489, value === undefined ? 'Missing Event Header' : 'Bad Event', { toTag: toTag ? undefined : true }));
    }
    return event;
  }

  /**
   * Shutdown: unsubscribes every subscriber and ends every notifier session (NOTIFY
   * terminated;reason=noresource), waiting at most `guardMs` for the far ends.
   */
  async stopAll(guardMs = 1500): Promise<void> {
    const work: Promise<unknown>[] = [];
    // Watches waiting to subscribe again end here; the others end with their sessions below.
    for (const w of this.watches) if (w.waiting) void w.unsubscribe();
    this.watches.clear();
    for (const s of this.subscriberSessions()) work.push(s.unsubscribe(guardMs));
    for (const n of this.notifierSessions()) work.push(n.terminate('noresource'));
    await raceTimer(this.host.clock, guardMs, Promise.all(work), undefined);
    for (const s of this.subscriberSessions()) s.terminate({ cause: 'unsubscribed', initial: false });
  }
}

// ------------------------------------------------------------------------------- PUBLISH

/** Options of a {@link Publication}. */
export interface PublicationOptions {
  /** Event package published (`presence`). */
  event: string;
  /** Request-URI and To: the presentity's address-of-record. */
  aor: string;
  /** From name-addr without tag (normally the same AOR with a display name). */
  from: string;
  /** Where PUBLISH goes (the presence server or a proxy). */
  destination: Endpoint;
  /** Route headers, in order. */
  routes?: string[];
  /** Expiry asked for (s). */
  expires: number;
}

/** Outcome of a PUBLISH, for the layer above. */
export interface PublishResult {
  /** Final status (0 when none came). */
  code: number;
  /** Reason phrase or `timeout` / `transport`. */
  reason: string;
  /** True when credentials were missing or refused. */
  authFailed?: boolean;
}

/**
 * An RFC 3903 event state publication: initial PUBLISH with a body, refreshes with
 * SIP-If-Match and no body before the entity tag expires, modifications with SIP-If-Match and
 * the new body, removal with Expires: 0. A 412 (the server forgot the entity tag) publishes
 * the whole state again.
 */
export class Publication {
  /** Entity tag from the last 2xx. */
  etag?: string;
  /** Seconds granted by the last 2xx. */
  grantedExpires = 0;
  /** Refreshes that succeeded. */
  refreshCount = 0;
  private readonly callId: string;
  private readonly fromTag = newTag();
  private cseq = 0;
  private body?: Buffer;
  private contentType = 'application/pidf+xml';
  private refreshTimer?: TimerHandle;
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;

  /**
   * @param host SIP services
   * @param options where and what
   */
  constructor(private readonly host: SubscriptionHost, readonly options: PublicationOptions) {
    this.callId = newCallId(firstHostOf(options.destination));
  }

  /** Publishes new state (initial, or a modification of the current entity tag). */
  publish(body: Buffer | string, contentType: string): Promise<PublishResult> {
    this.body = Buffer.from(body);
    this.contentType = contentType;
    return this.enqueue(() => this.send('modify'));
  }

  /** Removes the published state (Expires: 0) and stops refreshing. */
  remove(): Promise<PublishResult> {
    this.stopped = true;
    this.host.clock.clearTimer(this.refreshTimer);
    if (!this.etag) return Promise.resolve({ code: 0, reason: 'nothing published' });
    return this.enqueue(() => this.send('remove'));
  }

  /** Stops timers without signalling. */
  dispose(): void {
    this.stopped = true;
    this.host.clock.clearTimer(this.refreshTimer);
  }

  private enqueue(run: () => Promise<PublishResult>): Promise<PublishResult> {
    const p = this.queue.then(run, run);
    this.queue = p;
    return p;
  }

  private build(kind: 'modify' | 'refresh' | 'remove'): SipRequest {
    const o = this.options;
    const h = new SipHeaders();
    for (const r of o.routes ?? []) h.append('Route', r);
    h.append('From', `${o.from};tag=${this.fromTag}`);
    h.append('To', `<${o.aor}>`);
    h.append('Call-ID', this.callId);
    h.append('CSeq', `${++this.cseq} PUBLISH`);
    h.append('Max-Forwards', '70');
    h.append('Event', o.event);
    h.append('Expires', String(kind === 'remove' ? 0 : o.expires));
    if (this.etag) h.append('SIP-If-Match', this.etag);
    let body: Buffer = Buffer.alloc(0);
    if (kind === 'modify' && this.body) {
      body = this.body;
      h.append('Content-Type', this.contentType);
    }
    return { type: 'request', method: 'PUBLISH', uri: o.aor, version: 'SIP/2.0', headers: h, body };
  }

  private send(kind: 'modify' | 'refresh' | 'remove', again = true): Promise<PublishResult> {
    return new Promise<PublishResult>((resolve) => {
      transact(this.host, () => this.build(kind), this.options.destination, (o) => {
        if ('error' in o) {
          resolve({ code: 0, reason: o.error });
          return;
        }
        const res = o.res;
        if (res.status >= 200 && res.status < 300) {
          if (kind === 'remove') {
            this.etag = undefined;
          } else {
            this.etag = res.headers.get('SIP-ETag') ?? this.etag;
            const e = Number(res.headers.get('Expires'));
            this.grantedExpires = Number.isInteger(e) && e > 0 ? e : this.options.expires;
            if (kind === 'refresh') this.refreshCount++;
            this.scheduleRefresh();
          }
          resolve({ code: res.status, reason: res.reason });
          return;
        }
        if (res.status === 412 && again && kind !== 'remove') {
          // The server lost our entity: publish the full state again.
          this.etag = undefined;
          void this.send('modify', false).then(resolve);
          return;
        }
        resolve({ code: res.status, reason: res.reason, authFailed: o.auth !== undefined });
      });
    });
  }

  private scheduleRefresh(): void {
    this.host.clock.clearTimer(this.refreshTimer);
    if (this.stopped) return;
    this.refreshTimer = this.host.clock.setTimer(refreshDelayMs(this.grantedExpires), () => {
      if (!this.stopped && this.etag) void this.enqueue(() => this.send('refresh'));
    });
  }
}
