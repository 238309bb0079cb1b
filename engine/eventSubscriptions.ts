/**
 * LanScape's generic event subscriptions (RFC 6665) behind the engine: subscribing to any event
 * package of a far end (startEventSubscription, stopEventSubscription, triggerSubscription),
 * serving subscriptions of far ends through notify handles (SipSubscriptionReceived,
 * sendEventNotification, closeNotifyHandle), and unsolicited NOTIFYs. It also owns the
 * subscription router every package shares: presence plugs in as a package handler.
 *
 * It takes the usage context (lines/context.ts) plus the engine's notifier, so that the
 * notifications it raises are checked against the typed map (engine/notifications.ts).
 * @module
 */
import { raceTimer } from '../sip/clock.js';
import { parseNameAddr, parseUri } from '../sip/grammar.js';
import type { SipRequest } from '../sip/message.js';
import { requestIsSips } from '../sip/tlsTransport.js';
import {
  SubscriptionRouter,
  negotiateExpires,
  parseSubscriptionState,
  type EventHeader,
  type ExpiryPolicy,
  type NotifierSession,
  type SubscriptionHost,
  type WatchedSubscription,
} from '../sip/subscription.js';
import type { ServerTransaction } from '../sip/transaction.js';
import type { Capability } from '../sip/capabilities.js';
import type { UacDestination } from '../sip/uac.js';
import { hostPort } from './hosts.js';
import type { Notifier } from './notifier.js';
import type { UsageContext } from '../lines/context.js';
import { TelephonyReturnValue as T } from './returnCodes.js';
import type { IdCounter } from './engineState.js';

/** What event subscriptions implement: SUBSCRIBE and NOTIFY of any package, presence served. */
export const SUBSCRIPTION_CAPABILITY: Capability = {
  methods: ['SUBSCRIBE', 'NOTIFY'],
  accept: ['application/pidf+xml'],
  eventPackages: ['presence'],
};

/** Where a request for a SIP URI goes: Request-URI, To, next hop, Route headers. */
export interface ResolvedTarget {
  /** Request-URI. */
  requestUri: string;
  /** To header value. */
  to: string;
  /** Next hop. */
  destination: UacDestination;
  /** Route headers (an outbound proxy). */
  routes: string[];
}

/** A package served by another module (presence): it takes the new SUBSCRIBEs of its package. */
export interface EventPackageHandler {
  /** A new SUBSCRIBE for the package. */
  newSubscribe(req: SipRequest, tx: ServerTransaction, event: EventHeader): void;
  /** Shutdown hook, run before the router ends every subscription. */
  stop?(): Promise<void>;
}

/** Result of `startEventSubscription`. */
export interface EventSubscriptionResult {
  /** SipSuccess or the error. */
  result: T;
  /** Handle for stopEventSubscription / triggerSubscription (0 on error). */
  handle: number;
}

/** Data of the immediate SipSubscriptionReceived notification: the application decides here. */
export interface SubscriptionReceivedData {
  /** Handle to notify through (sendEventNotification, closeNotifyHandle) once accepted. */
  notifyHandle: number;
  /** Event package asked for (`dialog`, `message-summary`, ...). */
  eventPackage: string;
  /** Event id parameter ('' when none). */
  eventId: string;
  /** Subscriber's URI (From). */
  from: string;
  /** Subscriber's display name. */
  fromDisplayName: string;
  /** The resource subscribed to (To URI). */
  to: string;
  /** Request-URI of the SUBSCRIBE. */
  requestUri: string;
  /** Seconds granted (0 = a one-time fetch). */
  expires: number;
  /** Body types the subscriber accepts (Accept header), in order. */
  accept: string[];
  /** Set true to accept. Left false, the SUBSCRIBE gets `rejectStatusCode`. */
  acceptSubscription: boolean;
  /** Status for a refusal (400..699); default 489 Bad Event (an unknown package). */
  rejectStatusCode: number;
  /** Accept as pending (202, NOTIFY pending) instead of active (200, NOTIFY active). */
  pending: boolean;
  /** Body of the first NOTIFY (the current state), if the application has one now. */
  initialNotifyBody?: string | Buffer;
  /** Its Content-Type; default the first Accept type, else text/plain. */
  initialNotifyContentType?: string;
}

/** Data of the immediate SipEventNotifyReceived notification. */
export interface EventNotifyReceivedData {
  /** Handle of the subscription it belongs to; -1 for an unsolicited NOTIFY. */
  handle: number;
  /** False for a NOTIFY outside any subscription. */
  solicited: boolean;
  /** Event package. */
  eventPackage: string;
  /** Subscription-State value (`active`, `pending`, `terminated`; '' when absent). */
  subscriptionState: string;
  /** Its reason parameter, when terminated. */
  reason?: string;
  /** Sender URI. */
  from: string;
  /** Sender display name. */
  fromDisplayName: string;
  /** Content-Type ('' when no body). */
  contentType: string;
  /** The body, text or binary. */
  body: Buffer;
  /** Status the engine answers (200); the application may set another (e.g. 400, 415). */
  responseStatusCode: number;
}

/** Data of the SipSubscription* notifications about a subscription the engine placed. */
export interface SubscriptionStatusData {
  /** Handle from startEventSubscription (0 for presence subscriptions). */
  handle: number;
  /** Event package. */
  eventPackage: string;
  /** The resource subscribed to. */
  targetUri: string;
  /** Seconds granted (SipSubscriptionSuccess). */
  expires?: number;
  /** True when a refresh succeeded (SipSubscriptionSuccess). */
  refresh?: boolean;
  /** SIP status that caused the event, if any. */
  code?: number;
  /** Reason phrase or Subscription-State reason, if any. */
  reason?: string;
}

/** The `name-addr` parts of a From/To header: URI and display name. */
export function partiesOf(value: string | undefined): { uri: string; displayName: string } {
  if (!value) return { uri: '', displayName: '' };
  try {
    const na = parseNameAddr(value);
    const lt = value.indexOf('<');
    const uri = lt >= 0 ? value.slice(lt + 1, value.indexOf('>', lt)).trim() : value.split(';')[0]!.trim();
    return { uri, displayName: na.displayName ?? '' };
  } catch {
    return { uri: value, displayName: '' };
  }
}

/** Positive integer check for sizes and times given by applications. */
function isPositiveInt(n: unknown, max = 0x7fffffff): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= max;
}

/** Token check for event package names and MIME types. */
const TOKEN_RE = /^[A-Za-z0-9!%*_+`'~.-]{1,64}$/;

/** Subscriptions we placed, by handle. */
interface OutgoingEntry {
  session: WatchedSubscription;
  eventPackage: string;
  targetUri: string;
}

/** Generic event subscriptions, and the router every package shares. */
export class EventSubscriptions {
  /** The router (presence registers through {@link registerPackage}). */
  readonly router: SubscriptionRouter;
  /** The SIP services the sessions use. */
  readonly sip: SubscriptionHost;
  private readonly packages = new Map<string, EventPackageHandler>();
  private readonly outgoing = new Map<number, OutgoingEntry>();
  private readonly notifyHandles = new Map<number, NotifierSession>();
  private unsolicitedNotifyAccepted = false;
  /** Expiry limits for subscriptions served by the engine. */
  readonly policy: ExpiryPolicy = { defaultExpires: 3600, maxExpires: 7200, minExpires: 0 };

  /**
   * @param ctx the usage context
   * @param notifier notification delivery with the engine's typed map (these modules are the engine's)
   * @param ids subscription and notify handles (the engine's counter, continued across runs)
   */
  constructor(
    readonly ctx: UsageContext,
    readonly notifier: Notifier,
    private readonly ids: IdCounter = { next: 1 },
  ) {
    const sip: SubscriptionHost = {
      get clock() {
        return ctx.clock();
      },
      uac: ctx.uacFor('sub:'),
      authUser: () => ctx.user(),
      createResponse: (req, status, reason, options) => {
        const stack = ctx.stack();
        if (!stack) throw new Error('engine stopped');
        return stack.createResponse(req, status, reason, options);
      },
      resolve: (h) => ctx.resolve(h),
      transport: () => ctx.transport(),
    };
    this.sip = sip;
    this.router = new SubscriptionRouter(sip, {
      newSubscribe: (req, tx, event) => this.onNewSubscribe(req, tx, event),
      unsolicitedNotify: (req, tx, event) => this.onUnsolicitedNotify(req, tx, event),
    }, this.policy, ctx.router);
  }

  /** Lets a module serve an event package (new SUBSCRIBEs for it go to `handler`). */
  registerPackage(eventPackage: string, handler: EventPackageHandler): void {
    this.packages.set(eventPackage.toLowerCase(), handler);
    this.ctx.capabilities.register(`package:${eventPackage.toLowerCase()}`, { eventPackages: [eventPackage] });
  }

  /** A SUBSCRIBE outside any dialog (the method table's handler). */
  onSubscribe(req: SipRequest, tx: ServerTransaction): void {
    this.router.onSubscribe(req, tx);
  }

  /** A NOTIFY of no known subscription (the method table's and the unknown-dialog handler). */
  onUnknownNotify(req: SipRequest, tx: ServerTransaction): void {
    this.router.onUnknownNotify(req, tx);
  }

  /** Ends every subscription (both directions) and forgets the handles; run before the stack stops. */
  async stop(): Promise<void> {
    for (const p of this.packages.values()) await p.stop?.().catch(() => undefined);
    await this.router.stopAll();
    this.outgoing.clear();
    this.notifyHandles.clear();
    this.unsolicitedNotifyAccepted = false;
  }

  /** Our From name-addr (without tag): `"Display" <sip:user@domain>`. */
  localFrom(): string {
    const dn = this.ctx.displayName();
    return `${dn ? `"${dn.replace(/(["\\])/g, '\\$1')}" ` : ''}<${this.localAor()}>`;
  }

  /** Our address-of-record: `sip:user@domain`, the domain being the SIP domain or our address. */
  localAor(): string {
    return `sip:${this.ctx.user()}@${this.ctx.domain() ?? hostPort(this.ctx.advertisedAddress().host)}`;
  }

  /**
   * Where a request for `uri` goes: through the proxy when `useProxy` (SipProxyNotEnabled
   * without one), else to the URI's host; an outbound proxy always comes first.
   */
  async resolveTarget(uri: string, useProxy: boolean): Promise<ResolvedTarget | T> {
    if (typeof uri !== 'string' || !uri.trim()) return T.SipBadParameter;
    const text = uri.trim();
    let parsed;
    try {
      parsed = parseUri(text);
    } catch {
      return T.SipBadSipUri;
    }
    if ((parsed.scheme !== 'sip' && parsed.scheme !== 'sips') || !parsed.host) return T.SipBadSipUri;
    let destination: UacDestination;
    if (useProxy) {
      const p = this.ctx.proxy();
      if (!p) return T.SipProxyNotEnabled;
      destination = p.targets;
    } else {
      // RFC 3263: NAPTR/SRV for a name without a port, else its addresses.
      const targets = await this.ctx.locate(text).catch(() => []);
      if (!targets.length) return T.SipUnknownHost;
      destination = targets;
    }
    // The client path sends through the outbound proxy, when one is set, and adds its Route.
    return { requestUri: text, to: `<${text}>`, destination, routes: [] };
  }

  // ------------------------------------------------------------------ subscriber side

  /**
   * LanScape's StartEventSubscription: subscribes to `eventPackage` at `targetUri`. Progress
   * arrives as immediate notifications (SipSubscriptionTrying, SipSubscriptionSuccess,
   * SipSubscriptionNotAccepted, SipSubscriptionTimeOut, SipSubscriptionRequiresAuthentication)
   * and each NOTIFY as SipEventNotifyReceived. When the notifier ends the subscription with
   * `terminated;reason=timeout` or `deactivated` the engine subscribes again at once, and after
   * `probation` or `giveup` once retry-after has passed (RFC 6665 §4.1.3), keeping the handle;
   * SipSubscriptionTrying with that reason announces it.
   */
  async startEventSubscription(
    targetUri: string,
    eventPackage: string,
    acceptType: string,
    expireSeconds: number,
    useProxy = false,
  ): Promise<EventSubscriptionResult> {
    if (!this.ctx.stack()) return { result: T.SipMediaEngineNotInitialized, handle: 0 };
    if (typeof eventPackage !== 'string' || !TOKEN_RE.test(eventPackage) || eventPackage.toLowerCase() === 'refer') return { result: T.SipBadParameter, handle: 0 };
    if (typeof acceptType !== 'string' || (acceptType !== '' && !/^[\w.+-]+\/[\w.+-]+$/.test(acceptType))) return { result: T.SipBadParameter, handle: 0 };
    if (!isPositiveInt(expireSeconds, 86400 * 7) || typeof useProxy !== 'boolean') return { result: T.SipBadParameter, handle: 0 };
    const target = await this.resolveTarget(targetUri, useProxy);
    if (typeof target === 'number') return { result: target, handle: 0 };
    if (!this.ctx.stack()) return { result: T.SipMediaEngineNotInitialized, handle: 0 };
    const pkg = eventPackage.toLowerCase();
    const handle = this.ids.next++;
    const base = (): SubscriptionStatusData => ({ handle, eventPackage: pkg, targetUri: target.requestUri });
    const notifier = this.notifier;
    notifier.immediate(-1, T.SipSubscriptionTrying, base());
    const session = this.router.watch(
      {
        event: { package: pkg },
        requestUri: target.requestUri,
        from: this.localFrom(),
        to: target.to,
        destination: target.destination,
        routes: target.routes,
        localContact: this.ctx.contactUri(this.ctx.user()),
        expires: expireSeconds,
        accept: acceptType ? [acceptType] : undefined,
      },
      {
        onAccepted: (expires, refresh) => notifier.immediate(-1, T.SipSubscriptionSuccess, { ...base(), expires, refresh }),
        onNotify: (req, state) => {
          const who = partiesOf(req.headers.get('From'));
          const data = notifier.immediate(-1, T.SipEventNotifyReceived, {
            handle,
            solicited: true,
            eventPackage: pkg,
            subscriptionState: state.state,
            ...(state.reason ? { reason: state.reason } : {}),
            from: who.uri,
            fromDisplayName: who.displayName,
            contentType: req.body.length ? req.headers.get('Content-Type') ?? '' : '',
            body: Buffer.from(req.body),
            responseStatusCode: 200,
          });
          return data.responseStatusCode;
        },
        onAuthFailure: (res) => notifier.immediate(-1, T.SipSubscriptionRequiresAuthentication, { ...base(), code: res.status, reason: res.reason }),
        onResubscribing: (info) => notifier.immediate(-1, T.SipSubscriptionTrying, { ...base(), ...(info.reason ? { reason: info.reason } : {}) }),
        onTerminated: (info) => {
          this.outgoing.delete(handle);
          if (info.cause === 'rejected') notifier.immediate(-1, T.SipSubscriptionNotAccepted, { ...base(), code: info.code, reason: info.reason });
          else if (info.cause === 'no-answer') notifier.immediate(-1, T.SipSubscriptionTimeOut, base());
        },
      },
    );
    if (!session.terminated) this.outgoing.set(handle, { session, eventPackage: pkg, targetUri: target.requestUri });
    return { result: T.SipSuccess, handle };
  }

  /** LanScape's StopEventSubscription: unsubscribes (Expires: 0) and frees the handle. */
  stopEventSubscription(handle: number): T {
    if (!this.ctx.stack()) return T.SipMediaEngineNotInitialized;
    const e = this.outgoing.get(handle);
    if (!e) return T.SipInvalidHandle;
    this.outgoing.delete(handle);
    void e.session.unsubscribe();
    return T.SipSuccess;
  }

  /** LanScape's TriggerSubscription: refreshes the subscription now. */
  triggerSubscription(handle: number): T {
    if (!this.ctx.stack()) return T.SipMediaEngineNotInitialized;
    const e = this.outgoing.get(handle);
    if (!e) return T.SipInvalidHandle;
    return e.session.refresh() ? T.SipSuccess : T.SipSubscriptionTrying;
  }

  // ------------------------------------------------------------------ notifier side

  private onNewSubscribe(req: SipRequest, tx: ServerTransaction, event: EventHeader): void {
    const handler = this.packages.get(event.package);
    if (handler) {
      handler.newSubscribe(req, tx, event);
      return;
    }
    const stack = this.ctx.stack()!;
    const n = negotiateExpires(req, this.policy);
    if ('status' in n) {
      tx.respond(stack.createResponse(req, n.status, undefined, { toTag: true, headers: n.minExpires ? [['Min-Expires', String(n.minExpires)]] : [] }));
      return;
    }
    const from = partiesOf(req.headers.get('From'));
    const accept = req.headers.getAll('Accept').map((a) => a.trim()).filter(Boolean);
    const handle = this.ids.next++;
    const data = this.notifier.immediate(-1, T.SipSubscriptionReceived, {
      notifyHandle: handle,
      eventPackage: event.package,
      eventId: event.id ?? '',
      from: from.uri,
      fromDisplayName: from.displayName,
      to: partiesOf(req.headers.get('To')).uri,
      requestUri: req.uri,
      expires: n.expires,
      accept,
      acceptSubscription: false,
      rejectStatusCode: 489,
      pending: false,
    });
    if (data.acceptSubscription !== true) {
      const code = Number.isInteger(data.rejectStatusCode) && data.rejectStatusCode >= 400 && data.rejectStatusCode < 700 ? data.rejectStatusCode : 489;
      const res = stack.createResponse(req, code, undefined, { toTag: true });
      if (code === 489) this.ctx.capabilities.addHeaders(res.headers, ['Allow-Events']);
      tx.respond(res);
      return;
    }
    const contentType = typeof data.initialNotifyContentType === 'string' && data.initialNotifyContentType ? data.initialNotifyContentType : accept[0] ?? 'text/plain';
    const session = this.router.acceptSubscribe(req, event, { localContact: this.ctx.contactUri(this.ctx.user(), tx.from.protocol, requestIsSips(req)), displayName: this.ctx.displayName(), expires: n.expires, contentType });
    const pending = data.pending === true;
    session.answer(tx, req, pending ? 202 : 200);
    const body = typeof data.initialNotifyBody === 'string' || Buffer.isBuffer(data.initialNotifyBody) ? data.initialNotifyBody : null;
    if (n.expires === 0) {
      void session.notify({ state: 'terminated', reason: 'timeout', body });
      return;
    }
    session.events.onTerminated = () => {
      if (this.notifyHandles.get(handle) === session) this.notifyHandles.delete(handle);
    };
    this.notifyHandles.set(handle, session);
    void session.notify({ state: pending ? 'pending' : 'active', body });
  }

  /**
   * LanScape's SendEventNotification: sends a NOTIFY (state active) with `body` to the
   * subscriber behind `notifyHandle` and resolves with SipSuccess on a 2xx,
   * SipEventNotifyNotAccepted on an error answer, SipEventNotifyResponseTimeOut when no answer
   * came within `timeoutMs`.
   */
  async sendEventNotification(notifyHandle: number, body: string | Buffer, timeoutMs: number, contentType?: string): Promise<T> {
    if (!this.ctx.stack()) return T.SipMediaEngineNotInitialized;
    const session = this.notifyHandles.get(notifyHandle);
    if (!session || session.terminated) return T.SipInvalidHandle;
    if ((typeof body !== 'string' && !Buffer.isBuffer(body)) || !isPositiveInt(timeoutMs, 600_000)) return T.SipBadParameter;
    if (contentType !== undefined && (typeof contentType !== 'string' || !/^[\w.+-]+\/[\w.+-]+$/.test(contentType))) return T.SipBadParameter;
    const outcome = await raceTimer(this.ctx.clock(), timeoutMs, session.notify({ state: 'active', body, contentType }), 'timeout' as const);
    if (outcome === 'timeout') return T.SipEventNotifyResponseTimeOut;
    if ('error' in outcome) return outcome.error === 'timeout' ? T.SipEventNotifyResponseTimeOut : outcome.error === 'terminated' ? T.SipInvalidHandle : T.SipNotifyNetworkError;
    return outcome.code >= 200 && outcome.code < 300 ? T.SipSuccess : T.SipEventNotifyNotAccepted;
  }

  /** LanScape's CloseNotifyHandle: ends the subscription (NOTIFY terminated;reason=noresource). */
  closeNotifyHandle(notifyHandle: number): T {
    if (!this.ctx.stack()) return T.SipMediaEngineNotInitialized;
    const session = this.notifyHandles.get(notifyHandle);
    if (!session) return T.SipInvalidHandle;
    this.notifyHandles.delete(notifyHandle);
    void session.terminate('noresource');
    return T.SipSuccess;
  }

  // ------------------------------------------------------------------ unsolicited NOTIFY

  /** LanScape's SetReceivedUnsolicitedNotifyState: accept NOTIFYs outside any subscription (else 481). */
  setReceivedUnsolicitedNotifyState(on: boolean): T {
    if (!this.ctx.stack()) return T.SipMediaEngineNotInitialized;
    if (typeof on !== 'boolean') return T.SipBadParameter;
    this.unsolicitedNotifyAccepted = on;
    return T.SipSuccess;
  }

  private onUnsolicitedNotify(req: SipRequest, tx: ServerTransaction, event: EventHeader): void {
    const stack = this.ctx.stack()!;
    if (!this.unsolicitedNotifyAccepted) {
      tx.respond(stack.createResponse(req, 481, 'Subscription Does Not Exist', { toTag: true }));
      return;
    }
    const who = partiesOf(req.headers.get('From'));
    const state = parseSubscriptionState(req.headers.get('Subscription-State'));
    const data = this.notifier.immediate(-1, T.SipEventNotifyReceived, {
      handle: -1,
      solicited: false,
      eventPackage: event.package,
      subscriptionState: state?.state ?? '',
      ...(state?.reason ? { reason: state.reason } : {}),
      from: who.uri,
      fromDisplayName: who.displayName,
      contentType: req.body.length ? req.headers.get('Content-Type') ?? '' : '',
      body: Buffer.from(req.body),
      responseStatusCode: 200,
    });
    const code = Number.isInteger(data.responseStatusCode) && data.responseStatusCode >= 200 && data.responseStatusCode < 700 ? data.responseStatusCode : 200;
    tx.respond(stack.createResponse(req, code, undefined, { toTag: true }));
  }
}
