/**
 * Overload control: the engine answers a request it cannot serve at once with 503 Service
 * Unavailable and `Retry-After` (RFC 3261 §21.5.4, §20.33), never by silence, and tells the
 * application when it starts shedding load and when it has recovered.
 *
 * What it watches, each a bound on something a burst could grow:
 * - the event loop's lag, measured by a timer on the engine's clock (a timer that fires late
 *   means the loop was busy): at `maxEventLoopLagMs` in {@link LAG_SAMPLES_TO_SHED} samples in
 *   a row (one stall, a long garbage collection, is not saturation) every new request is shed
 *   until the lag falls below half of it (hysteresis, so the decision does not flap);
 * - the SIP waiting in the UDP ingress (`sip/udpIngress.ts`): when signalling gives way to media
 *   the ingress queues datagrams and drains them between the timers, so a storm shows there as
 *   waiting, not as lag. While a backlog ({@link SIGNALLING_BACKLOG_MIN} datagrams or more) waits
 *   behind the request in hand and its oldest has waited `maxEventLoopLagMs` or more, that
 *   request is shed (cause `eventLoopLag`): signalling is that far behind now, and a cheap 503
 *   drains the backlog faster. Judged live at each request, not sampled: once the backlog is
 *   gone, the next request is taken (a few datagrams, a retransmission or two, are no backlog:
 *   their age tells how late the engine was, not how much work is left);
 * - the SIP server transaction table (`maxServerTransactions`): the stack itself answers 503
 *   statelessly at the limit (`SipStack.transactionLimit`, no transaction made) and reports it
 *   here through {@link OverloadGuard.noteShed};
 * - the notification queue still waiting for its turn of the event loop;
 * - for a new call: the incoming calls waiting for the application to answer
 *   (`maxPendingIncomingCalls`) and a free RTP port pair while a line is free.
 *
 * Only requests that start something are screened (an INVITE, MESSAGE, SUBSCRIBE, REGISTER,
 * OPTIONS … without a To tag). Requests inside dialogs, ACK and CANCEL always pass: they end or
 * keep up what the engine already carries, and shedding them would make the storm last longer
 * (the RFC 7339 idea of preferring the work already admitted). A call that finds every line busy
 * is not an overload: the call manager answers it 486 Busy Here as before.
 *
 * The guard keeps no queue of its own: its decision is made synchronously when the request
 * arrives, from counters the engine keeps anyway. It runs on the engine's {@link Clock}, so a
 * test drives it in virtual time.
 * @module
 */
import type { Clock, TimerHandle } from '../sip/clock.js';
import type { SipRequest } from '../sip/message.js';
import type { SipStack } from '../sip/stack.js';
import type { ServerTransaction } from '../sip/transaction.js';

/** Why a request was shed. */
export type ShedCause = 'eventLoopLag' | 'transactions' | 'notificationBacklog' | 'pendingCalls' | 'rtpPorts';

/** Every {@link ShedCause}, in the order the guard checks them. */
export const SHED_CAUSES: readonly ShedCause[] = ['eventLoopLag', 'transactions', 'notificationBacklog', 'pendingCalls', 'rtpPorts'];

/** The limits in force (start parameters; read at every decision). */
export interface OverloadLimits {
  /** Incoming calls that may wait for the application's answer at once; 0 = as many as there are lines. */
  readonly maxPendingIncomingCalls: number;
  /** The `Retry-After` of every 503 the guard sends, in seconds. */
  readonly retryAfterSeconds: number;
  /** Event-loop lag (ms) above which new requests are shed; 0 = not watched. */
  readonly maxEventLoopLagMs: number;
}

/** What the guard reads from the engine when a request arrives. */
export interface OverloadProbes {
  /** Incoming calls not yet answered (ringing, or still opening their media). */
  pendingIncomingCalls(): number;
  /** Notifications queued and not yet delivered. */
  notificationBacklog(): number;
  /**
   * Whether a line is free for the call but no RTP/RTCP port pair is. With every line busy it
   * is false: that call is the call manager's 486 Busy Here, not an overload.
   */
  rtpPortsExhausted(): boolean;
  /**
   * How long the oldest received SIP datagram still waiting (behind the one being handled) has
   * waited, ms (0 when none waits); judged against `maxEventLoopLagMs`. Absent: not watched.
   */
  signallingQueueAgeMs?(): number;
  /** How many received SIP datagrams are waiting (behind the one being handled). */
  signallingQueueLength?(): number;
}

/** Data of SipOverloadShedding: the engine began answering new requests with 503. */
export interface OverloadSheddingData {
  /** Why the first request of this episode was shed. */
  cause: ShedCause;
  /** The `Retry-After` sent, in seconds. */
  retryAfterSeconds: number;
  /** The event-loop lag last measured, in ms. */
  eventLoopLagMs: number;
  /** Age of the oldest SIP datagram waiting behind the first shed request, ms; absent when none waited. */
  signallingQueueAgeMs?: number;
}

/** Data of SipOverloadRecovered: the engine takes new requests again. */
export interface OverloadRecoveredData {
  /** Requests shed during the episode, by cause (causes with none are absent). */
  shed: Partial<Record<ShedCause, number>>;
  /** Requests shed during the episode, in all. */
  total: number;
  /** Length of the episode, from the first shed request to the recovery, in ms. */
  durationMs: number;
}

/** What the guard reports to the engine. */
export interface OverloadEvents {
  /** The first request of an episode was shed. */
  shedding(data: OverloadSheddingData): void;
  /** An episode ended. */
  recovered(data: OverloadRecoveredData): void;
  /** One request was shed (for the metrics' counters). */
  shed(cause: ShedCause): void;
}

/** A decision to shed: why, and what to put in `Retry-After`. */
export interface ShedVerdict {
  /** Why. */
  readonly cause: ShedCause;
  /** Seconds for `Retry-After`. */
  readonly retryAfterSeconds: number;
}

/** How often the lag timer runs (ms). */
export const LAG_SAMPLE_MS = 100;

/** Samples in a row at or above `maxEventLoopLagMs` that start the shedding for lag. */
export const LAG_SAMPLES_TO_SHED = 2;

/** An episode ends once this long (ms) has passed without a shed request and without lag. */
export const RECOVERY_QUIET_MS = 2000;

/**
 * Notifications queued in one turn of the event loop beyond which new requests are shed: the
 * queue is emptied every turn, so only a burst handled in a single turn can fill it.
 */
export const NOTIFICATION_BACKLOG_LIMIT = 10_000;

/**
 * Datagrams that must wait in the UDP ingress, behind the request in hand, before their age can
 * shed it: fewer are handled in a few ms, so shedding would relieve nothing. libuv reads up to
 * 32 datagrams per socket readiness.
 */
export const SIGNALLING_BACKLOG_MIN = 32;

/** Counters of a run (also between episodes). */
export interface OverloadCounters {
  /** Requests shed since the run started, by cause. */
  readonly shed: Readonly<Record<ShedCause, number>>;
  /** Episodes since the run started. */
  readonly episodes: number;
  /** The event-loop lag last measured, in ms. */
  readonly eventLoopLagMs: number;
  /** Whether an episode is in progress. */
  readonly active: boolean;
  /** Age of the oldest SIP datagram waiting in the UDP ingress when last looked at (a request screened, or a lag sample), in ms. */
  readonly signallingQueueAgeMs: number;
}

/** Decides which new requests the engine sheds, and reports the episodes. */
export class OverloadGuard {
  private lagTimer?: TimerHandle;
  private quietTimer?: TimerHandle;
  private lagDue = 0;
  private lag = 0;
  private queueAge = 0;
  private lagging = false;
  private lateSamples = 0;
  private episode?: { start: number; lastShed: number; shed: Partial<Record<ShedCause, number>>; total: number };
  private readonly totals: Record<ShedCause, number> = { eventLoopLag: 0, transactions: 0, notificationBacklog: 0, pendingCalls: 0, rtpPorts: 0 };
  private episodes = 0;

  /**
   * @param clock the engine's clock (the lag timer and the recovery check run on it)
   * @param limits the limits in force
   * @param probes what the engine reports at each decision
   * @param events where episodes and sheds are reported
   */
  constructor(
    private readonly clock: Clock,
    private readonly limits: () => OverloadLimits,
    private readonly probes: OverloadProbes,
    private readonly events: OverloadEvents,
  ) {}

  /** Starts the lag timer. */
  start(): void {
    if (this.lagTimer !== undefined) return;
    this.armLag();
  }

  /** Stops every timer (the run ends); no notification follows. */
  stop(): void {
    this.clock.clearTimer(this.lagTimer);
    this.clock.clearTimer(this.quietTimer);
    this.lagTimer = undefined;
    this.quietTimer = undefined;
  }

  /** The run's counters. */
  counters(): OverloadCounters {
    return { shed: { ...this.totals }, episodes: this.episodes, eventLoopLagMs: this.lag, active: this.episode !== undefined, signallingQueueAgeMs: this.queueAge };
  }

  /**
   * Screens a request that would start something new (the caller passes only those). Returns
   * the verdict when it must be shed — the shed is counted, and the first of an episode is
   * reported — or `undefined` when the engine can take it.
   *
   * @param newCall the request is an INVITE for a new call (the call limits apply too)
   */
  screen(newCall: boolean): ShedVerdict | undefined {
    const cause = this.cause(newCall);
    if (cause === undefined) return undefined;
    this.count(cause);
    return { cause, retryAfterSeconds: this.limits().retryAfterSeconds };
  }

  /** Why a new request must be shed now, if it must (first matching cause of {@link SHED_CAUSES}). */
  private cause(newCall: boolean): ShedCause | undefined {
    const l = this.limits();
    if (l.maxEventLoopLagMs > 0 && (this.lagging || this.queueBehind(l.maxEventLoopLagMs))) return 'eventLoopLag';
    if (this.probes.notificationBacklog() >= NOTIFICATION_BACKLOG_LIMIT) return 'notificationBacklog';
    if (!newCall) return undefined;
    if (l.maxPendingIncomingCalls > 0 && this.probes.pendingIncomingCalls() >= l.maxPendingIncomingCalls) return 'pendingCalls';
    if (this.probes.rtpPortsExhausted()) return 'rtpPorts';
    return undefined;
  }

  /** Whether a backlog of SIP waits behind the request in hand and its oldest has waited `maxMs` or more (read live). */
  private queueBehind(maxMs: number): boolean {
    const p = this.probes;
    if (p.signallingQueueAgeMs === undefined || p.signallingQueueLength === undefined || p.signallingQueueLength() < SIGNALLING_BACKLOG_MIN) return false;
    this.queueAge = Math.max(0, Math.round(p.signallingQueueAgeMs()));
    return this.queueAge >= maxMs;
  }

  /** A request was shed elsewhere (the stack's transaction limit): counted and reported like the guard's own. */
  noteShed(cause: ShedCause): void {
    this.count(cause);
  }

  private count(cause: ShedCause): void {
    this.totals[cause]++;
    const now = this.clock.now();
    let ep = this.episode;
    if (!ep) {
      ep = { start: now, lastShed: now, shed: {}, total: 0 };
      this.episode = ep;
      this.episodes++;
      this.events.shedding({
        cause,
        retryAfterSeconds: this.limits().retryAfterSeconds,
        eventLoopLagMs: this.lag,
        ...(this.queueAge > 0 ? { signallingQueueAgeMs: this.queueAge } : {}),
      });
      this.armQuiet();
    }
    ep.lastShed = now;
    ep.shed[cause] = (ep.shed[cause] ?? 0) + 1;
    ep.total++;
    this.events.shed(cause);
  }

  /** Checks once a second whether the episode is over. */
  private armQuiet(): void {
    this.quietTimer = this.clock.setTimer(RECOVERY_QUIET_MS / 2, () => {
      this.quietTimer = undefined;
      const ep = this.episode;
      if (!ep) return;
      const now = this.clock.now();
      if (now - ep.lastShed >= RECOVERY_QUIET_MS && !this.lagging) {
        this.episode = undefined;
        this.events.recovered({ shed: ep.shed, total: ep.total, durationMs: now - ep.start });
        return;
      }
      this.armQuiet();
    });
  }

  /**
   * The lag timer: how late it fires is how long the event loop was busy with other work.
   * Lagging starts at the limit (sustained) and ends below half of it. The signalling queue's
   * age is noted at the same sample, for the counters.
   */
  private armLag(): void {
    this.lagDue = this.clock.now() + LAG_SAMPLE_MS;
    this.lagTimer = this.clock.setTimer(LAG_SAMPLE_MS, () => {
      this.queueAge = Math.max(0, Math.round(this.probes.signallingQueueAgeMs?.() ?? 0));
      this.noteLag(Math.max(0, Math.round(this.clock.now() - this.lagDue)));
      this.armLag();
    });
  }

  private noteLag(ms: number): void {
    this.lag = ms;
    const max = this.limits().maxEventLoopLagMs;
    if (max > 0 && ms >= max) {
      this.lateSamples++;
      if (this.lateSamples >= LAG_SAMPLES_TO_SHED) this.lagging = true;
      return;
    }
    this.lateSamples = 0;
    if (max <= 0 || ms < max / 2) this.lagging = false;
  }
}

/**
 * Whether a request is one the guard screens: it starts something new (no To tag) and is not an
 * ACK or CANCEL, which belong to a transaction already admitted.
 */
export function startsSomething(req: SipRequest): boolean {
  if (req.method === 'ACK' || req.method === 'CANCEL') return false;
  return !/;\s*tag\s*=/i.test(req.headers.get('To') ?? '');
}

/** Answers a shed request: 503 Service Unavailable with `Retry-After` (RFC 3261 §21.5.4). */
export function refuseOverloaded(stack: SipStack, req: SipRequest, tx: ServerTransaction, verdict: ShedVerdict): void {
  const res = stack.createResponse(req, 503, 'Service Unavailable', { toTag: true });
  res.headers.set('Retry-After', String(verdict.retryAfterSeconds));
  tx.respond(res);
}
