/**
 * What an engine keeps from one run to the next: the options it was constructed with, its time
 * source, fault reporting, the credentials added with addAuthorizationCredentials (and the digest clients that
 * answer challenges with them), notification delivery, the diagnostics logger, metrics, and the
 * few settings LanScape lets outlive stopSipTelephony (the registration retry time, the hold
 * type). Everything that exists only while started lives in the running engine
 * (engine/runningEngine.ts) instead, so that stopping is dropping one object.
 * @module
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { MediaClock } from '../media/mediaClock.js';
import { realClock, type Clock } from '../sip/clock.js';
import { CredentialStore, DigestClient } from '../sip/digest.js';
import { MetricsControl } from './metricsControl.js';
import { Notifier } from './notifier.js';
import { MediaYieldGate } from '../media/yieldGate.js';
import type { Notification } from './notifications.js';
import { defaultLogger, isLogger } from './logger.js';
import { TelephonyReturnValue as T } from './returnCodes.js';
import type { RunningEngine } from './runningEngine.js';
import { CallHoldType } from './types.js';
import { rtpCountersOf } from '../media/rtpCounters.js';

/** Options that are not LanScape start parameters: injected time for tests, registrar limits. */
export interface EngineOptions {
  /** Time source of SIP timers and the engine's own timers (tests pass a VirtualClock). */
  clock?: Clock;
  /**
   * Makes the media clock of a run: called once by each `startSipTelephony` (a clock belongs to
   * one run; the engine starts it, adds its media pump to it, and stops it at
   * `stopSipTelephony`). Every line's media and the conference bridge tick on it. Default: a
   * `DriftCorrectedMediaClock`, a 20 ms timer on real time. Tests pass a clock in virtual time
   * (`() => virtualMediaClock()`, exported by the package) and drive the media tick by tick
   * with its `tickOnce`, with no timer and no wall-clock waits.
   */
  mediaClock?: () => MediaClock;
  /**
   * The lowest session-timer interval and Min-SE accepted (s; default 90, RFC 4028's floor).
   * Only for tests that run session timers in seconds; never lower it against real peers.
   */
  sessionTimerFloorSeconds?: number;
  /** Registrar role: expiry when a REGISTER states none (s). */
  registrarDefaultExpires?: number;
  /** Registrar role: longest expiry granted (s). */
  registrarMaxExpires?: number;
  /** Registrar role: shorter expiries get 423 with this Min-Expires (s). 0 = no minimum. */
  registrarMinExpires?: number;
  /**
   * Where diagnostics go (a pino logger); the `logger` start parameter replaces it. Default:
   * warnings and errors as JSON lines on standard error.
   */
  logger?: Logger;
  /**
   * The machine's real-time seats: a media worker at `mediaThreadPriority: 'realtime'` runs in
   * SCHED_FIFO only while it holds one, and at `'high'` otherwise, so that real-time media
   * threads never fill every core (the main threads and V8's helpers keep one). Seats are files
   * in `dir`, shared by every LineScape process of the machine (default
   * `/dev/shm/linescape-realtime-seats`), `count` of them (default: one per core but one). A box
   * that runs other real-time work gives fewer; tests give a directory of their own.
   */
  realtimeSeats?: RealtimeSeatsOptions;
}

/** Where the machine's real-time seats live and how many there are (`EngineOptions.realtimeSeats`). */
export interface RealtimeSeatsOptions {
  /** The directory of seat files, shared by the processes that share the seats. */
  dir: string;
  /** Real-time media threads allowed at once (0: none). */
  count: number;
}

/**
 * A counter of handles given to the application (message, refer, subscription and watcher ids).
 * Kept across runs, so that an id from an earlier run never names something of a later one.
 */
export interface IdCounter {
  /** The next id to give. */
  next: number;
}

/** The engine's state that outlives a run. */
export class EngineState {
  /** Time source of SIP timers and of the registrar role. */
  readonly clock: Clock;
  /** Credentials answering digest challenges (addAuthorizationCredentials). */
  readonly credentials = new CredentialStore();
  /** Diagnostics; see {@link EngineOptions.logger}. Replaced by the `logger` start parameter for a run. */
  logger: Logger;
  /** How hold is signalled (setCallHoldType); like LanScape's, it is not reset by a restart. */
  holdType = CallHoldType.Rfc3264;
  /** Wait after a registration error before retrying (registrationErrorRetryTime, settable while stopped). */
  registrationRetryMs = 30_000;
  /** Handle counters of the services, continued from run to run. */
  readonly ids = { message: { next: 1 }, refer: { next: 1 }, subscription: { next: 1 }, watcher: { next: 1 } } satisfies Record<string, IdCounter>;
  /** One digest client per registered name: each keeps its own nonce and count. */
  private readonly digestClients = new Map<string, DigestClient>();

  /** Notification delivery: the application's callback, `notification` and the per-event events. */
  readonly notifier: Notifier;
  /** Where signalling batches give way to the media clock (`signallingYieldsToMedia`). */
  readonly yieldGate: MediaYieldGate;
  /** Prometheus metrics (engine/metricsControl.ts); they outlive stopSipTelephony. */
  readonly metrics: MetricsControl;

  /**
   * @param options what the engine was constructed with
   * @param emitter the engine, where notifications and `error` are emitted
   * @param run the running engine while started (the metrics read it at scrape time, so they follow a restart)
   */
  constructor(
    readonly options: EngineOptions,
    private readonly emitter: EventEmitter,
    run: () => RunningEngine | undefined,
  ) {
    this.clock = options.clock ?? realClock;
    this.logger = this.constructorLogger();
    this.notifier = new Notifier(emitter, undefined, (err, n) => this.handlerError(err, n));
    this.yieldGate = new MediaYieldGate();
    this.metrics = new MetricsControl({
      lineStates: () => (run()?.lines ?? []).map((l) => l.reportedState),
      registrationStates: () => (run()?.registration?.status() ?? []).map((r) => r.state),
      mediaClock: () => run()?.mediaClockStats(),
      activeRtp: () => (run()?.lines ?? []).flatMap((l) => (l.call && !l.call.isEnded && l.media ? [l.media.rtpCounters?.() ?? rtpCountersOf(l.media.stats())] : [])),
      overloaded: () => run()?.overload.counters().active ?? false,
    });
  }

  private handlerError(err: unknown, n: Notification): void {
    // Application bugs are reported with their stack, never allowed to unwind into the SIP stack.
    this.logger.error({ err, event: T[n.event], phoneLine: n.phoneLine }, `notification handler for ${T[n.event]} threw`);
  }

  /**
   * A fault the engine survived (it answered 500 and carries on): always logged, and emitted
   * as `error` for applications that listen. Emitting `error` with no listener would throw
   * into the SIP stack, which is why the listener count decides.
   */
  internalError(err: unknown, what: string): void {
    this.logger.error({ err }, what);
    if (this.emitter.listenerCount('error') === 0) return;
    const e = err instanceof Error ? err : new Error(String(err));
    try {
      this.emitter.emit('error', e);
    } catch (thrown) {
      this.logger.error({ err: thrown }, "an 'error' listener threw");
    }
  }

  /** The logger given at construction, else the default one. */
  constructorLogger(): Logger {
    return isLogger(this.options.logger) ? this.options.logger : defaultLogger();
  }

  /** The digest client answering challenges for `name` (created on first use). */
  digestClientFor(name: string): DigestClient {
    let c = this.digestClients.get(name);
    if (!c) this.digestClients.set(name, (c = new DigestClient(this.credentials)));
    return c;
  }
}
