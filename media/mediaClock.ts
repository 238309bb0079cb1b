/**
 * The engine's one media clock: a 20 ms tick that drives every line and the bridge, so a
 * thousand calls cost one timer. Each timeout is aimed at the next ideal tick time computed
 * from `process.hrtime.bigint()`, so timer slop never accumulates into drift; when the event
 * loop stalls, the missed ticks run back to back (up to a cap) and the rest are skipped and
 * counted.
 * @module
 */

/** Something driven by the media clock. */
export interface MediaClockListener {
  /**
   * Called once per tick. `tick` numbers the ideal 20 ms slot since `start()` (slots skipped
   * after a long stall are not called, so numbers can jump); `nowNs` is the hrtime reading
   * of this run, shared by catch-up ticks. Must not throw (errors are caught and counted).
   */
  onTick(tick: number, nowNs: bigint): void;
}

/** Options of {@link MediaClock}. */
export interface MediaClockOptions {
  /** Tick period in ms. Default 20. */
  periodMs?: number;
  /** Most missed ticks run back to back after a stall before the rest are skipped. Default 5. */
  maxCatchUpTicks?: number;
  /** Number of tick intervals kept for the jitter percentile. Default 3000 (one minute). */
  jitterWindow?: number;
  /** Unref the timer so the clock alone does not keep the process alive. Default true. */
  unref?: boolean;
  /** Told about a listener that threw; by default one process warning is emitted. */
  onError?: (error: unknown, listener: MediaClockListener) => void;
}

/** Figures of `MediaClock.stats()`. */
export interface MediaClockStats {
  /** True between `start()` and `stop()`. */
  running: boolean;
  /** Ticks dispatched. */
  ticks: number;
  /** Ticks that ran more than one period after their ideal time (catch-up ticks). */
  lateTicks: number;
  /** Ticks skipped because a stall exceeded the catch-up cap. */
  skippedTicks: number;
  /** Largest lateness of a dispatched tick behind its ideal time, ms. */
  maxLatenessMs: number;
  /** Mean interval between dispatched ticks over the window, ms (≈ period when healthy). */
  meanIntervalMs: number;
  /** 99th percentile of |interval − period| over the window, ms. */
  intervalJitterP99Ms: number;
  /** Largest |interval − period| over the window, ms. */
  intervalJitterMaxMs: number;
  /** Intervals in the window. */
  samples: number;
  /** Listeners registered. */
  listeners: number;
  /** Exceptions thrown by listeners. */
  listenerErrors: number;
}

const NS_PER_MS = 1_000_000;

/**
 * What the media floor needs of a clock: a tick source that calls its listeners once per
 * period. Injectable: the engine passes a {@link DriftCorrectedMediaClock} running on real time;
 * tests pass one made by {@link virtualMediaClock} (or `MediaClock.manual()`) and drive it tick
 * by tick, so media runs in virtual time with no timer at all.
 */
export interface MediaClock {
  /** Tick period in ms. */
  readonly periodMs: number;
  /** True between `start()` and `stop()`. */
  readonly running: boolean;
  /** Number of the next tick to be dispatched. */
  readonly tick: number;
  /** True for a clock driven by hand ({@link DriftCorrectedMediaClock.tickOnce}), not by a timer. */
  readonly manual: boolean;
  /** Registers a listener; one added during a tick is first called on the next tick. */
  add(listener: MediaClockListener): void;
  /** Unregisters a listener; safe from inside a tick. False when it was not registered. */
  remove(listener: MediaClockListener): boolean;
  /** Starts ticking (a no-op when running). */
  start(): void;
  /** Stops ticking; takes effect even from inside a tick. */
  stop(): void;
  /** Clock health figures (allocates: call every few seconds, not per tick). */
  stats(): MediaClockStats;
}

/**
 * The engine's media clock: a drift-corrected 20 ms timer (see the module notes). Create one
 * per engine with `new DriftCorrectedMediaClock()` (real time), or in virtual time with
 * {@link DriftCorrectedMediaClock.manual} (tests drive it with
 * {@link DriftCorrectedMediaClock.tickOnce}).
 */
export class DriftCorrectedMediaClock implements MediaClock {
  /** Tick period in ms. */
  readonly periodMs: number;
  private readonly periodNs: number;
  private readonly maxCatchUp: number;
  private readonly unrefTimer: boolean;
  private readonly onError: ((error: unknown, listener: MediaClockListener) => void) | undefined;
  private readonly isManual: boolean;

  private readonly listeners: MediaClockListener[] = [];
  private dispatching = false;
  private cursor = 0;
  private end = 0;

  private runningFlag = false;
  private timer: NodeJS.Timeout | undefined;
  private originNs = 0n;
  /** Ideal time of the next tick, ns after `originNs`. */
  private nextDueNs = 0;
  private tickNo = 0;
  private virtualNs = 0n;

  private ticks = 0;
  private lateTicks = 0;
  private skippedTicks = 0;
  private maxLatenessNs = 0;
  private listenerErrors = 0;
  private warned = false;

  private lastRunNs = -1;
  private readonly intervals: Float64Array;
  private intervalCount = 0;
  private intervalPos = 0;

  /** Creates a real-time clock (not started). */
  constructor(options: MediaClockOptions = {}) {
    this.periodMs = options.periodMs ?? 20;
    this.periodNs = Math.round(this.periodMs * NS_PER_MS);
    this.maxCatchUp = Math.max(1, Math.floor(options.maxCatchUpTicks ?? 5));
    this.unrefTimer = options.unref ?? true;
    this.onError = options.onError;
    this.intervals = new Float64Array(Math.max(16, Math.floor(options.jitterWindow ?? 3000)));
    this.isManual = DriftCorrectedMediaClock.creatingManual;
    DriftCorrectedMediaClock.creatingManual = false;
  }

  /** Set by {@link DriftCorrectedMediaClock.manual} just around its constructor call. */
  private static creatingManual = false;

  /**
   * A clock in virtual time that never starts a timer: tests advance it with
   * {@link DriftCorrectedMediaClock.tickOnce}, one tick per call.
   */
  static manual(options: Omit<MediaClockOptions, 'unref'> = {}): DriftCorrectedMediaClock {
    DriftCorrectedMediaClock.creatingManual = true;
    return new DriftCorrectedMediaClock(options);
  }

  /** True for clocks made by {@link DriftCorrectedMediaClock.manual}. */
  get manual(): boolean {
    return this.isManual;
  }

  /** True between `start()` and `stop()`. */
  get running(): boolean {
    return this.runningFlag;
  }

  /** Number of the next tick to be dispatched. */
  get tick(): number {
    return this.tickNo;
  }

  /** Registers a listener; one added during a tick is first called on the next tick. */
  add(listener: MediaClockListener): void {
    if (this.listeners.indexOf(listener) < 0) this.listeners.push(listener);
  }

  /** Unregisters a listener; safe from inside a tick (the others still run this tick). */
  remove(listener: MediaClockListener): boolean {
    const i = this.listeners.indexOf(listener);
    if (i < 0) return false;
    this.listeners.splice(i, 1);
    if (this.dispatching && i < this.end) {
      // entries after i shifted down by one: keep the cursor on the next one to call
      this.end--;
      if (i <= this.cursor) this.cursor--;
    }
    return true;
  }

  /** Starts ticking (a no-op when running; manual clocks only mark themselves running). */
  start(): void {
    if (this.runningFlag) return;
    this.runningFlag = true;
    this.lastRunNs = -1;
    if (this.isManual) return;
    this.originNs = process.hrtime.bigint();
    this.nextDueNs = this.periodNs;
    this.schedule(0);
  }

  /** Stops ticking; takes effect even from inside a tick. */
  stop(): void {
    this.runningFlag = false;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /**
   * Dispatches one tick now. For manual clocks `nowNs` is the virtual time (default: the
   * previous virtual time plus one period); a real clock uses the current hrtime.
   */
  tickOnce(nowNs?: bigint): void {
    let now: bigint;
    if (this.isManual) {
      now = nowNs ?? this.virtualNs + BigInt(this.periodNs);
      this.virtualNs = now;
    } else {
      now = nowNs ?? process.hrtime.bigint();
    }
    this.recordInterval(Number(now - this.originNs));
    this.dispatch(now);
  }

  private schedule(nowRelNs: number): void {
    const waitMs = Math.max(0, Math.floor((this.nextDueNs - nowRelNs) / NS_PER_MS));
    const t = setTimeout(this.onTimer, waitMs);
    if (this.unrefTimer) t.unref();
    this.timer = t;
  }

  /** One closure for the life of the clock: timers are re-armed with it, never a new one. */
  private readonly onTimer = (): void => {
    this.timer = undefined;
    if (!this.runningFlag) return;
    const nowBig = process.hrtime.bigint();
    const now = Number(nowBig - this.originNs);
    // libuv's millisecond loop time can wake us up to ~1 ms early: treat that as on time
    const tolerance = NS_PER_MS;
    if (now + tolerance >= this.nextDueNs) {
      let ran = 0;
      while (this.runningFlag && now + tolerance >= this.nextDueNs && ran < this.maxCatchUp) {
        const lateness = now - this.nextDueNs;
        if (lateness > this.maxLatenessNs) this.maxLatenessNs = lateness;
        if (lateness > this.periodNs) this.lateTicks++;
        this.recordInterval(now);
        this.dispatch(nowBig);
        this.nextDueNs += this.periodNs;
        ran++;
      }
      if (now + tolerance >= this.nextDueNs) {
        // still behind after the cap: skip to the present instead of bursting forever (with the
        // same tolerance as above, or a slot due within it would be neither run nor skipped)
        const missed = Math.floor((now + tolerance - this.nextDueNs) / this.periodNs) + 1;
        this.skippedTicks += missed;
        this.tickNo += missed;
        this.nextDueNs += missed * this.periodNs;
      }
    }
    if (this.runningFlag) this.schedule(Number(process.hrtime.bigint() - this.originNs));
  };

  private recordInterval(nowRelNs: number): void {
    if (this.lastRunNs >= 0) {
      const interval = nowRelNs - this.lastRunNs;
      this.intervals[this.intervalPos] = interval;
      this.intervalPos = (this.intervalPos + 1) % this.intervals.length;
      if (this.intervalCount < this.intervals.length) this.intervalCount++;
    }
    this.lastRunNs = nowRelNs;
  }

  private dispatch(nowNs: bigint): void {
    const tick = this.tickNo++;
    this.ticks++;
    const ls = this.listeners;
    this.dispatching = true;
    this.end = ls.length;
    for (this.cursor = 0; this.cursor < this.end; this.cursor++) {
      const l = ls[this.cursor]!;
      try {
        l.onTick(tick, nowNs);
      } catch (err) {
        this.listenerErrors++;
        if (this.onError) this.onError(err, l);
        else if (!this.warned) {
          this.warned = true;
          process.emitWarning(`MediaClock listener threw: ${String(err)}`, 'MediaClockWarning');
        }
      }
    }
    this.dispatching = false;
  }

  /** Clock health figures (allocates: call every few seconds, not per tick). */
  stats(): MediaClockStats {
    const n = this.intervalCount;
    let sum = 0;
    const dev = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = this.intervals[i]!;
      sum += v;
      dev[i] = Math.abs(v - this.periodNs);
    }
    dev.sort();
    const p99 = n === 0 ? 0 : dev[Math.min(n - 1, Math.ceil(n * 0.99) - 1)]!;
    return {
      running: this.runningFlag,
      ticks: this.ticks,
      lateTicks: this.lateTicks,
      skippedTicks: this.skippedTicks,
      maxLatenessMs: this.maxLatenessNs / NS_PER_MS,
      meanIntervalMs: n === 0 ? 0 : sum / n / NS_PER_MS,
      intervalJitterP99Ms: p99 / NS_PER_MS,
      intervalJitterMaxMs: n === 0 ? 0 : dev[n - 1]! / NS_PER_MS,
      samples: n,
      listeners: this.listeners.length,
      listenerErrors: this.listenerErrors,
    };
  }
}

/**
 * A media clock in virtual time, for tests and simulations: no timer, each
 * {@link DriftCorrectedMediaClock.tickOnce} dispatches one tick and advances time by one period.
 */
export function virtualMediaClock(options: Omit<MediaClockOptions, 'unref'> = {}): DriftCorrectedMediaClock {
  return DriftCorrectedMediaClock.manual(options);
}

/**
 * The default clock class under its historical name: `new MediaClock()` is a
 * {@link DriftCorrectedMediaClock} on real time, `MediaClock.manual()` one in virtual time.
 * Code that receives a clock should type it as the {@link MediaClock} interface.
 */
export const MediaClock = DriftCorrectedMediaClock;
