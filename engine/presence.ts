/**
 * Presence (RFC 3856 SUBSCRIBE/NOTIFY, RFC 3863 PIDF, RFC 3903 PUBLISH) with the PortSIP
 * procedures and events: watching contacts (presenceSubscribe → SipPresenceOnline /
 * SipPresenceOffline), being watched (SipPresenceRecvSubscribe → presenceAcceptSubscribe /
 * presenceRejectSubscribe) and publishing the status (setPresenceStatus, presenceOffline) to
 * every accepted watcher and, when configured, to a presence server.
 * @module
 */
import { buildPidf, parsePidf } from '../sip/pidf.js';
import type { SipRequest } from '../sip/message.js';
import { raceTimer } from '../sip/clock.js';
import { requestIsSips } from '../sip/tlsTransport.js';
import {
  Publication,
  negotiateExpires,
  type EventHeader,
  type NotifierSession,
  type WatchedSubscription,
} from '../sip/subscription.js';
import type { ServerTransaction } from '../sip/transaction.js';
import type { Endpoint } from '../sip/transport.js';
import { partiesOf, type EventSubscriptions, type SubscriptionStatusData } from './eventSubscriptions.js';
import { hostPort, isPort } from './hosts.js';
import { TelephonyReturnValue as T } from './returnCodes.js';
import type { IdCounter } from './engineState.js';

/** Body type of presence documents. */
export const PIDF_CONTENT_TYPE = 'application/pidf+xml';

/** Data of the global SipPresenceRecvSubscribe notification (PortSIP's onPresenceRecvSubscribe). */
export interface PresenceRecvSubscribeData {
  /** Pass to presenceAcceptSubscribe / presenceRejectSubscribe. */
  subscribeId: number;
  /** The watcher's display name. */
  fromDisplayName: string;
  /** The watcher's URI. */
  from: string;
  /** The Subject header of the SUBSCRIBE ('' when none). */
  subject: string;
}

/** Data of the global SipPresenceOnline notification. */
export interface PresenceOnlineData {
  /** The contact's display name (from its NOTIFY). */
  fromDisplayName: string;
  /** The contact watched, as given to presenceSubscribe. */
  from: string;
  /** Its status text (the PIDF note; '' when none). */
  stateText: string;
}

/** Data of the global SipPresenceOffline notification. */
export interface PresenceOfflineData {
  /** The contact's display name. */
  fromDisplayName: string;
  /** The contact watched, as given to presenceSubscribe. */
  from: string;
}

/** One contact this engine watches (getPresenceSubscriptions). */
export interface PresenceSubscriptionInfo {
  /** The contact URI. */
  contact: string;
  /** `trying`, `pending` or `active`. */
  state: string;
  /** Seconds granted by the last answer. */
  grantedExpires: number;
  /** Refreshes that succeeded. */
  refreshCount: number;
}

/** Result of getPresenceSubscriptions. */
export interface PresenceSubscriptionsResult {
  /** SipSuccess or the error. */
  result: T;
  /** The contacts watched. */
  subscriptions: PresenceSubscriptionInfo[];
}

/** One watcher of this engine (getPresenceWatchers). */
export interface PresenceWatcherInfo {
  /** Its subscribeId. */
  subscribeId: number;
  /** The watcher's URI. */
  from: string;
  /** `pending` (not decided yet) or `active` (accepted). */
  state: string;
  /** Seconds before the subscription expires unless refreshed. */
  expiresIn: number;
}

/** Result of getPresenceWatchers. */
export interface PresenceWatchersResult {
  /** SipSuccess or the error. */
  result: T;
  /** The watchers. */
  watchers: PresenceWatcherInfo[];
}

/** Result of getPresencePublication. */
export interface PresencePublicationResult {
  /** SipSuccess, SipNotEnabled without a presence server, or SipMediaEngineNotInitialized. */
  result: T;
  /** The entity tag the server gave (empty before the first success). */
  etag: string;
  /** Seconds granted by the last 2xx. */
  grantedExpires: number;
  /** Refreshes that succeeded. */
  refreshCount: number;
  /** Status of the last PUBLISH answer (0 when none). */
  lastStatusCode: number;
}

interface Watcher {
  session: NotifierSession;
  from: string;
}

/** Default expiry of presence subscriptions we place (s). */
const DEFAULT_SUBSCRIBE_EXPIRES = 3600;

/** The engine's presence agent: watcher, presentity and publisher. */
export class PresenceService {
  private readonly watchers = new Map<number, Watcher>();
  private readonly watching = new Map<string, WatchedSubscription>();
  private status: { basic: 'open' | 'closed'; note: string } = { basic: 'open', note: '' };
  private server?: Endpoint;
  private publication?: Publication;
  private lastPublishStatus = 0;

  /**
   * @param subs the engine's subscription module (router, SIP services, notifications)
   * @param ids watcher ids (the engine's counter, continued across runs)
   */
  constructor(
    private readonly subs: EventSubscriptions,
    private readonly ids: IdCounter = { next: 1 },
  ) {
    subs.registerPackage('presence', {
      newSubscribe: (req, tx, event) => this.onSubscribe(req, tx, event),
      stop: () => this.stop(),
    });
  }

  private get started(): boolean {
    return this.subs.ctx.stack() !== undefined;
  }

  private pidf(): string {
    return buildPidf({ entity: this.subs.localAor(), basic: this.status.basic, note: this.status.note, contact: this.subs.ctx.contactUri(this.subs.ctx.user()) });
  }

  // ------------------------------------------------------------------ watcher side

  /**
   * Watches `contact` (a SIP URI): SUBSCRIBE Event: presence through the proxy when one is
   * enabled, else straight to the URI's host. Resolves once the SUBSCRIBE is on its way;
   * SipPresenceOnline / SipPresenceOffline follow each NOTIFY. A subscription the presentity
   * ends with `terminated;reason=timeout` (or `deactivated`, or `probation`/`giveup` once
   * retry-after has passed) is made again (RFC 6665 §4.1.3); the contact stays watched.
   */
  async presenceSubscribe(contact: string, subject: string, expireSeconds = DEFAULT_SUBSCRIBE_EXPIRES): Promise<T> {
    if (!this.started) return T.SipMediaEngineNotInitialized;
    if (typeof contact !== 'string' || (subject !== undefined && typeof subject !== 'string')) return T.SipBadParameter;
    if (subject && (/[\r\n]/.test(subject) || subject.length > 256)) return T.SipBadParameter;
    if (!Number.isInteger(expireSeconds) || expireSeconds < 1 || expireSeconds > 86400) return T.SipBadParameter;
    const key = contact.trim();
    if (this.watching.has(key)) return T.SipSubscriptionAlreadyExists;
    const target = await this.subs.resolveTarget(key, this.subs.ctx.proxy() !== undefined);
    if (typeof target === 'number') return target;
    if (!this.started) return T.SipMediaEngineNotInitialized;
    if (this.watching.has(key)) return T.SipSubscriptionAlreadyExists;
    const notifier = this.subs.notifier;
    const base = (): SubscriptionStatusData => ({ handle: 0, eventPackage: 'presence', targetUri: key });
    let displayName = '';
    let online = false;
    notifier.immediate(-1, T.SipSubscriptionTrying, base());
    const session = this.subs.router.watch(
      {
        event: { package: 'presence' },
        requestUri: target.requestUri,
        from: this.subs.localFrom(),
        to: target.to,
        destination: target.destination,
        routes: target.routes,
        localContact: this.subs.ctx.contactUri(this.subs.ctx.user()),
        expires: expireSeconds,
        accept: [PIDF_CONTENT_TYPE],
        headers: subject ? [['Subject', subject]] : [],
      },
      {
        onAccepted: (expires, refresh) => notifier.immediate(-1, T.SipSubscriptionSuccess, { ...base(), expires, refresh }),
        onNotify: (req, state) => {
          displayName = partiesOf(req.headers.get('From')).displayName;
          // Pending: no document yet. Terminated: onTerminated says what it means.
          if (req.body.length === 0 || state.state === 'terminated') return 200;
          const type = (req.headers.get('Content-Type') ?? PIDF_CONTENT_TYPE).split(';')[0]!.trim().toLowerCase();
          if (type !== PIDF_CONTENT_TYPE && type !== 'application/xml') return 415;
          const parsed = parsePidf(req.body);
          if (!parsed.ok) return parsed.error === 'too-large' ? 413 : 400;
          online = parsed.pidf.basic === 'open';
          if (online) notifier.global(T.SipPresenceOnline, { fromDisplayName: displayName, from: key, stateText: parsed.pidf.note } satisfies PresenceOnlineData);
          else notifier.global(T.SipPresenceOffline, { fromDisplayName: displayName, from: key } satisfies PresenceOfflineData);
          return 200;
        },
        onAuthFailure: (res) => notifier.immediate(-1, T.SipSubscriptionRequiresAuthentication, { ...base(), code: res.status, reason: res.reason }),
        onTerminated: (info) => {
          if (this.watching.get(key) === session) this.watching.delete(key);
          if (info.cause === 'rejected') notifier.immediate(-1, T.SipSubscriptionNotAccepted, { ...base(), code: info.code ?? 0, reason: info.reason ?? '' });
          else if (info.cause === 'no-answer') notifier.immediate(-1, T.SipSubscriptionTimeOut, base());
          // The contact can no longer be watched: it is offline as far as we can tell.
          if (online && info.cause !== 'unsubscribed') notifier.global(T.SipPresenceOffline, { fromDisplayName: displayName, from: key } satisfies PresenceOfflineData);
        },
      },
    );
    if (!session.terminated) this.watching.set(key, session);
    return T.SipSuccess;
  }

  /** Stops watching `contact` (SUBSCRIBE Expires: 0); resolves when the notifier confirmed. */
  async presenceUnsubscribe(contact: string): Promise<T> {
    if (!this.started) return T.SipMediaEngineNotInitialized;
    if (typeof contact !== 'string') return T.SipBadParameter;
    const session = this.watching.get(contact.trim());
    if (!session) return T.SipInvalidHandle;
    this.watching.delete(contact.trim());
    await session.unsubscribe();
    return T.SipSuccess;
  }

  /** The contacts watched and where each subscription stands. */
  getPresenceSubscriptions(): PresenceSubscriptionsResult {
    if (!this.started) return { result: T.SipMediaEngineNotInitialized, subscriptions: [] };
    return {
      result: T.SipSuccess,
      subscriptions: [...this.watching.entries()].map(([contact, s]) => ({ contact, state: s.state, grantedExpires: s.grantedExpires, refreshCount: s.refreshCount })),
    };
  }

  // ------------------------------------------------------------------ presentity side

  private onSubscribe(req: SipRequest, tx: ServerTransaction, event: EventHeader): void {
    const sip = this.subs.sip;
    const n = negotiateExpires(req, this.subs.policy);
    if ('status' in n) {
      tx.respond(sip.createResponse(req, n.status, undefined, { toTag: true, headers: n.minExpires ? [['Min-Expires', String(n.minExpires)]] : [] }));
      return;
    }
    const accept = req.headers.getAll('Accept').map((a) => a.split(';')[0]!.trim().toLowerCase());
    if (accept.length && !accept.includes(PIDF_CONTENT_TYPE) && !accept.includes('*/*') && !accept.includes('application/*')) {
      tx.respond(sip.createResponse(req, 406, 'Not Acceptable', { toTag: true, headers: [['Accept', PIDF_CONTENT_TYPE]] }));
      return;
    }
    const session = this.subs.router.acceptSubscribe(req, event, {
      // our Contact names the transport (and scheme) the SUBSCRIBE came over
      localContact: this.subs.ctx.contactUri(this.subs.ctx.user(), tx.from.protocol, requestIsSips(req)),
      displayName: this.subs.ctx.displayName(),
      expires: n.expires,
      contentType: PIDF_CONTENT_TYPE,
    });
    // RFC 6665 §4.2.1: 202 and a pending NOTIFY now; the application authorizes later.
    session.answer(tx, req, 202);
    if (n.expires === 0) {
      void session.notify({ state: 'terminated', reason: 'timeout', body: null });
      return;
    }
    const id = this.ids.next++;
    const from = partiesOf(req.headers.get('From'));
    this.watchers.set(id, { session, from: from.uri });
    session.events.onTerminated = () => {
      if (this.watchers.get(id)?.session === session) this.watchers.delete(id);
    };
    void session.notify({ state: 'pending', body: null });
    this.subs.notifier.global(T.SipPresenceRecvSubscribe, {
      subscribeId: id,
      fromDisplayName: from.displayName,
      from: from.uri,
      subject: req.headers.get('Subject') ?? '',
    } satisfies PresenceRecvSubscribeData);
  }

  /** Authorizes a watcher: its subscription turns active and it receives the current status. */
  presenceAcceptSubscribe(subscribeId: number): T {
    if (!this.started) return T.SipMediaEngineNotInitialized;
    const w = this.watchers.get(subscribeId);
    if (!w || w.session.terminated) return T.SipInvalidHandle;
    void w.session.notify({ state: 'active', body: this.pidf(), contentType: PIDF_CONTENT_TYPE });
    return T.SipSuccess;
  }

  /** Refuses a watcher: NOTIFY Subscription-State: terminated;reason=rejected. */
  presenceRejectSubscribe(subscribeId: number): T {
    if (!this.started) return T.SipMediaEngineNotInitialized;
    const w = this.watchers.get(subscribeId);
    if (!w || w.session.terminated) return T.SipInvalidHandle;
    this.watchers.delete(subscribeId);
    void w.session.terminate('rejected');
    return T.SipSuccess;
  }

  /** The watchers of this engine and their state. */
  getPresenceWatchers(): PresenceWatchersResult {
    if (!this.started) return { result: T.SipMediaEngineNotInitialized, watchers: [] };
    return {
      result: T.SipSuccess,
      watchers: [...this.watchers.entries()].map(([subscribeId, w]) => ({ subscribeId, from: w.from, state: w.session.state, expiresIn: w.session.remainingSeconds })),
    };
  }

  /**
   * Sets the status (online, with `text` as the PIDF note): every accepted watcher gets a
   * NOTIFY, and the presence server (setPresenceServer) a PUBLISH.
   */
  setPresenceStatus(text: string): T {
    if (!this.started) return T.SipMediaEngineNotInitialized;
    if (typeof text !== 'string' || text.length > 1024) return T.SipBadParameter;
    this.status = { basic: 'open', note: text };
    this.spread();
    return T.SipSuccess;
  }

  /** Goes offline: watchers and the presence server get a PIDF with basic `closed`. */
  presenceOffline(): T {
    if (!this.started) return T.SipMediaEngineNotInitialized;
    this.status = { basic: 'closed', note: '' };
    this.spread();
    return T.SipSuccess;
  }

  private spread(): void {
    const body = this.pidf();
    for (const w of this.watchers.values()) {
      if (w.session.state === 'active') void w.session.notify({ body, contentType: PIDF_CONTENT_TYPE });
    }
    if (this.publication) {
      void this.publication.publish(body, PIDF_CONTENT_TYPE).then((r) => {
        this.lastPublishStatus = r.code;
      });
    }
  }

  // ------------------------------------------------------------------ publication

  /**
   * Publishes the status with PUBLISH (RFC 3903) to a presence server at `address:port` from
   * now on, starting with the current status. The Request-URI is our address-of-record
   * (`sip:phoneName@domain`, the domain from enableSipDomain, else the server address).
   */
  async setPresenceServer(address: string, port: number, expireSeconds = 3600): Promise<T> {
    if (!this.started) return T.SipMediaEngineNotInitialized;
    if (typeof address !== 'string' || !address || !isPort(port)) return T.SipBadParameter;
    if (!Number.isInteger(expireSeconds) || expireSeconds < 1 || expireSeconds > 86400) return T.SipBadParameter;
    const ip = await this.subs.ctx.resolve(address); // the run's DNS servers and cache
    if (!ip) return T.SipUnknownHost;
    if (!this.started) return T.SipMediaEngineNotInitialized;
    await this.disablePresenceServer();
    this.server = { protocol: this.subs.ctx.transport(), host: ip, port };
    const aor = `sip:${this.subs.ctx.user()}@${this.subs.ctx.domain() ?? hostPort(address, port === 5060 ? undefined : port)}`;
    this.publication = new Publication(this.subs.sip, {
      event: 'presence',
      aor,
      from: this.subs.localFrom().replace(/<[^>]*>/, `<${aor}>`),
      // the client path sends through the outbound proxy, when one is set, and adds its Route
      destination: this.server,
      expires: expireSeconds,
    });
    this.spread();
    return T.SipSuccess;
  }

  /** Removes the published status from the presence server (Expires: 0) and stops publishing. */
  async disablePresenceServer(): Promise<T> {
    if (!this.started) return T.SipMediaEngineNotInitialized;
    const p = this.publication;
    this.publication = undefined;
    this.server = undefined;
    if (p) {
      await p.remove();
      p.dispose();
    }
    return T.SipSuccess;
  }

  /** Where the publication stands (SipNotEnabled without a presence server). */
  getPresencePublication(): PresencePublicationResult {
    const none = { etag: '', grantedExpires: 0, refreshCount: 0, lastStatusCode: this.lastPublishStatus };
    if (!this.started) return { result: T.SipMediaEngineNotInitialized, ...none };
    const p = this.publication;
    if (!p) return { result: T.SipNotEnabled, ...none };
    return { result: T.SipSuccess, etag: p.etag ?? '', grantedExpires: p.grantedExpires, refreshCount: p.refreshCount, lastStatusCode: this.lastPublishStatus };
  }

  /** Shutdown: removes the publication; the router then ends every subscription. */
  private async stop(): Promise<void> {
    const p = this.publication;
    this.publication = undefined;
    this.server = undefined;
    if (p) {
      // The wait for the PUBLISH removal is bounded on the engine's clock, like every SIP timer.
      await raceTimer(this.subs.ctx.clock(), 1500, p.remove(), undefined);
      p.dispose();
    }
    this.watchers.clear();
    this.watching.clear();
    this.status = { basic: 'open', note: '' };
    this.lastPublishStatus = 0;
  }
}
