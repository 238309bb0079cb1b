/**
 * The engine's one media clock: a 20 ms tick that drives every line and the bridge, so a
 * thousand calls cost one timer. Each timeout is aimed at the next ideal tick time computed
 * from `performance.now()` (a double: no BigInt per wake-up), so timer slop never accumulates
 * into drift; when the event loop stalls, the missed ticks run back to back (up to a cap) and
 * the rest are skipped and counted.
 *
 * A tick can be cut into `phases` equal parts: phase 0 is the tick itself (`onTick`), phase k
 * runs k·period/phases later (`onPhase`), each from its own timer wake-up, so the media pump can
 * spread its lines over the period instead of sending them all in one burst (see
 * `media/mediaPump`). A manual clock runs all phases of a tick back to back.
 *
 * Besides whole ticks the clock keeps what the wire sees ({@link SendTiming}: per-send
 * lateness and packet spacing, fed by the pump's nodes) and how long each phase held the event
 * loop.
 * @module
 */
import { pollNativeUdp } from './nativeUdp.js';
import { SendTiming, type SendTimingStats } from './sendTiming.js';

/** Something driven by the media clock. */
export interface MediaClockListener {
  /**
   * Called once per tick. `tick` numbers the ideal 20 ms slot since `start()` (slots skipped
   * after a long stall are not called, so numbers can jump); `nowNs` is the hrtime reading
   * of this run, shared by catch-up ticks. Must not throw (errors are caught and counted).
   */
  onTick(tick: number, nowNs: bigint): void;
  /**
   * Called for phases 1 … phases−1 of tick `tick`, each `phase`·period/phases after the
   * tick's ideal time (clocks with one phase never call it). Must not throw.
   */
  onPhase?(tick: number, phase: number): void;
}

/** Options of {@link MediaClock}. */
export interface MediaClockOptions {
  /** Tick period in ms. Default 20. */
  periodMs?: number;
  /** Most missed ticks run back to back after a stall before the rest are skipped. Default 5. */
  maxCatchUpTicks?: number;
  /** Number of tick intervals kept for the jitter percentile. Default 3000 (one minute). */
  jitterWindow?: number;
  /**
   * Phases per tick: each tick's listeners may spread their work over this many equal parts of
   * the period (`onPhase`). Default 1 (the whole tick at once); at most one phase per ms.
   */
  phases?: number;
  /** Window of the send figures in whole seconds (default 5). */
  sendWindowSeconds?: number;
  /**
   * Time source of the send figures, ms (default: `performance.now()` for real clocks, the
   * ideal time of the running phase for manual ones). Tests pass virtual time with stalls in it.
   */
  sendTimingNow?: () => number;
  /** Unref the timer so the clock alone does not keep the process alive. Default true. */
  unref?: boolean;
  /** Told about a listener that threw; by default one process warning is emitted. */
  onError?: (error: unknown, listener: MediaClockListener) => void;
}

/** Figures of `MediaClock.stats()`. */
export interface MediaClockStats extends Partial<SendTimingStats> {
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
  /** 99th percentile of |interval − period| over the window, ms (with media workers: the worst floor's). */
  intervalJitterP99Ms: number;
  /** Largest |interval − period| over the window, ms. */
  intervalJitterMaxMs: number;
  /** Intervals in the window. */
  samples: number;
  /** Listeners registered. */
  listeners: number;
  /** Exceptions thrown by listeners. */
  listenerErrors: number;
  /** Phases per tick (1: every listener's work in one burst per tick). */
  phases?: number;
  /**
   * 99th percentile of how long one phase's dispatch held the event loop, over the window, ms.
   * With media workers: the worst floor's p99 (the floors keep raw samples, not histograms).
   */
  sliceP99Ms?: number;
  /** Longest time one phase's dispatch held the event loop, over the window, ms. */
  sliceMaxMs?: number;
  /**
   * With media workers (`mediaWorkers` > 0): each floor's own figures, by worker index, as the
   * floor last published them (every 250 ms). The top-level figures are these merged: counts
   * summed, send p99 from the floors' histograms added together, maxima as max, the tick
   * interval and slice p99 as the worst floor's. The counts since the start (ticks, late and
   * skipped ticks, listener errors, `sendGapsTotal`) of a floor replaced after a crash go on from
   * what its predecessors counted, so they never go back. Absent without workers.
   */
  floors?: MediaFloorClockStats[];
  /**
   * With media workers: the main thread's own clock. It sends no RTP (its send figures stay 0);
   * it runs the conference bridge, whose members' frames it exchanges with the floors.
   */
  mainThread?: MediaClockStats;
}

/** One media worker's clock figures (see {@link MediaClockStats.floors}). */
export interface MediaFloorClockStats extends MediaClockStats {
  /** The worker's index (0-based). */
  floor: number;
  /** Calls whose media the floor carries. */
  calls: number;
  /** Age of the figures when read, ms (the floor publishes every 250 ms). */
  ageMs: number;
  /**
   * Calls in each phase group of the floor, index = phase (`phases` entries): group k sends
   * k·20/`phases` ms into the tick. Calls in a conference count where they run, like the others.
   */
  phaseGroupCalls: number[];
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
  /** Phases per tick (see {@link MediaClockListener.onPhase}); absent means 1. */
  readonly phases?: number;
  /**
   * Ideal time of the tick or phase being dispatched, ms, in the scale of
   * `sendTiming.now` (real clocks: `performance.now()`; manual ones: virtual time).
   */
  readonly idealMs?: number;
  /** Ideal time of the next phase to dispatch, ms (same scale); signalling yields before it. */
  readonly nextDueMs?: number;
  /** The recorder of what the wire sees, fed by the pump's nodes and reported by `stats()`. */
  readonly sendTiming?: SendTiming;
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
  /** Phases per tick (see {@link MediaClockListener.onPhase}). */
  readonly phases: number;
  /** The recorder of what the wire sees (fed by the pump's nodes, reported by `stats()`). */
  readonly sendTiming: SendTiming;
  private readonly phaseMs: number;
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
  /** `performance.now()` at `start()` (real clocks): the scale of `idealMs` and the send figures. */
  private originMs = 0;
  /** hrtime at `start()`: the scale of the tick schedule and of `nowNs` (as before phases). */
  private originNs = 0n;
  /** Ideal time of the next phase to dispatch, ms after `originMs`. */
  private nextDue = 0;
  /** Phase of the next dispatch (0: a new tick). */
  private nextPhase = 0;
  private tickNo = 0;
  private virtualNs = 0n;
  private ideal = 0;

  private ticks = 0;
  private lateTicks = 0;
  private skippedTicks = 0;
  private maxLatenessMs = 0;
  private listenerErrors = 0;
  private warned = false;

  private lastRunMs = -1;
  private readonly intervals: Float64Array;
  private intervalCount = 0;
  private intervalPos = 0;
  private readonly slices: Float64Array;
  private sliceCount = 0;
  private slicePos = 0;

  /** Creates a real-time clock (not started). */
  constructor(options: MediaClockOptions = {}) {
    this.periodMs = options.periodMs ?? 20;
    this.phases = Math.max(1, Math.min(Math.floor(this.periodMs), Math.floor(options.phases ?? 1)));
    this.phaseMs = this.periodMs / this.phases;
    this.maxCatchUp = Math.max(1, Math.floor(options.maxCatchUpTicks ?? 5));
    this.unrefTimer = options.unref ?? true;
    this.onError = options.onError;
    const window = Math.max(16, Math.floor(options.jitterWindow ?? 3000));
    this.intervals = new Float64Array(window);
    this.slices = new Float64Array(window * this.phases);
    this.isManual = DriftCorrectedMediaClock.creatingManual;
    DriftCorrectedMediaClock.creatingManual = false;
    const manualNow = (): number => this.ideal;
    const now = options.sendTimingNow ?? (this.isManual ? manualNow : undefined);
    this.sendTiming = new SendTiming({
      ...(now !== undefined ? { now } : {}),
      ...(options.sendWindowSeconds !== undefined ? { windowSeconds: options.sendWindowSeconds } : {}),
    });
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

  /** Ideal time of the tick or phase being dispatched (manual clocks: virtual ms). */
  get idealMs(): number {
    return this.ideal;
  }

  /** Ideal time of the next phase to dispatch, in `performance.now()` ms (manual clocks: virtual ms). */
  get nextDueMs(): number {
    return this.isManual ? this.ideal + this.phaseMs : this.originMs + this.nextDue;
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
    this.lastRunMs = -1;
    if (this.isManual) return;
    this.originMs = performance.now();
    this.originNs = process.hrtime.bigint();
    this.nextDue = this.periodMs;
    this.nextPhase = 0;
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
   * Dispatches one tick now, all its phases back to back. For manual clocks `nowNs` is the
   * virtual time (default: the previous virtual time plus one period); a real clock uses the
   * current time.
   */
  tickOnce(nowNs?: bigint): void {
    let now: bigint;
    if (this.isManual) {
      now = nowNs ?? this.virtualNs + BigInt(Math.round(this.periodMs * NS_PER_MS));
      this.virtualNs = now;
      this.ideal = Number(now) / NS_PER_MS;
      this.recordInterval(this.ideal);
    } else {
      now = nowNs ?? process.hrtime.bigint();
      this.ideal = performance.now();
      this.recordInterval(Number(now - this.originNs) / NS_PER_MS);
    }
    const base = this.ideal;
    const tick = this.dispatch(now);
    for (let ph = 1; ph < this.phases && this.runningFlag; ph++) {
      this.ideal = base + ph * this.phaseMs;
      this.dispatchPhase(tick, ph);
    }
    this.ideal = base;
  }

  private schedule(nowRel: number): void {
    const waitMs = Math.max(0, Math.floor(this.nextDue - nowRel));
    const t = setTimeout(this.onTimer, waitMs);
    if (this.unrefTimer) t.unref();
    this.timer = t;
  }

  /** One closure for the life of the clock: timers are re-armed with it, never a new one. */
  private readonly onTimer = (): void => {
    this.timer = undefined;
    if (!this.runningFlag) return;
    // the native RTP transport's sockets are read here, once per phase (a no-op without them)
    pollNativeUdp();
    // libuv's millisecond loop time can wake us up to ~1 ms early: treat that as on time
    const tolerance = Math.min(1, this.phaseMs / 2);
    // one reading per run: catch-up ticks share it (and their nowNs); a phase that falls due
    // while this run works waits for the next wake-up, which lets I/O in between
    const nowBig = process.hrtime.bigint();
    const now = Number(nowBig - this.originNs) / NS_PER_MS;
    let ran = 0;
    // a started tick always runs all its due phases (its later groups must not lose the tick)
    while (this.runningFlag && now + tolerance >= this.nextDue && (ran < this.maxCatchUp || this.nextPhase !== 0)) {
      this.ideal = this.originMs + this.nextDue;
      if (this.nextPhase === 0) {
        const lateness = now - this.nextDue;
        if (lateness > this.maxLatenessMs) this.maxLatenessMs = lateness;
        if (lateness > this.periodMs) this.lateTicks++;
        this.recordInterval(now);
        this.dispatch(nowBig);
        ran++;
      } else {
        this.dispatchPhase(this.tickNo - 1, this.nextPhase);
      }
      if (++this.nextPhase === this.phases) this.nextPhase = 0;
      this.nextDue += this.phaseMs;
    }
    if (this.runningFlag && this.nextPhase === 0 && now + tolerance >= this.nextDue) {
      // still behind after the cap: skip to the present instead of bursting forever (with the
      // same tolerance as above, or a slot due within it would be neither run nor skipped)
      const missed = Math.floor((now + tolerance - this.nextDue) / this.periodMs) + 1;
      this.skippedTicks += missed;
      this.tickNo += missed;
      this.nextDue += missed * this.periodMs;
    }
    if (this.runningFlag) this.schedule(Number(process.hrtime.bigint() - this.originNs) / NS_PER_MS);
  };

  private recordInterval(nowRelMs: number): void {
    if (this.lastRunMs >= 0) {
      this.intervals[this.intervalPos] = nowRelMs - this.lastRunMs;
      this.intervalPos = (this.intervalPos + 1) % this.intervals.length;
      if (this.intervalCount < this.intervals.length) this.intervalCount++;
    }
    this.lastRunMs = nowRelMs;
  }

  private recordSlice(startMs: number): void {
    // manual clocks run in virtual time: their slices are real work, but not a stall of anything
    this.slices[this.slicePos] = performance.now() - startMs;
    this.slicePos = (this.slicePos + 1) % this.slices.length;
    if (this.sliceCount < this.slices.length) this.sliceCount++;
  }

  private dispatch(nowNs: bigint): number {
    const start = performance.now();
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
        this.failed(err, l);
      }
    }
    this.dispatching = false;
    this.recordSlice(start);
    return tick;
  }

  private dispatchPhase(tick: number, phase: number): void {
    const start = performance.now();
    const ls = this.listeners;
    this.dispatching = true;
    this.end = ls.length;
    for (this.cursor = 0; this.cursor < this.end; this.cursor++) {
      const l = ls[this.cursor]!;
      if (l.onPhase === undefined) continue;
      try {
        l.onPhase(tick, phase);
      } catch (err) {
        this.failed(err, l);
      }
    }
    this.dispatching = false;
    this.recordSlice(start);
  }

  private failed(err: unknown, l: MediaClockListener): void {
    this.listenerErrors++;
    if (this.onError) this.onError(err, l);
    else if (!this.warned) {
      this.warned = true;
      process.emitWarning(`MediaClock listener threw: ${String(err)}`, 'MediaClockWarning');
    }
  }

  /** Clock health figures (allocates: call every few seconds, not per tick). */
  stats(): MediaClockStats {
    const n = this.intervalCount;
    let sum = 0;
    const dev = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = this.intervals[i]!;
      sum += v;
      dev[i] = Math.abs(v - this.periodMs);
    }
    dev.sort();
    const slices = this.slices.slice(0, this.sliceCount).sort();
    const sn = slices.length;
    return {
      running: this.runningFlag,
      ticks: this.ticks,
      lateTicks: this.lateTicks,
      skippedTicks: this.skippedTicks,
      maxLatenessMs: this.maxLatenessMs,
      meanIntervalMs: n === 0 ? 0 : sum / n,
      intervalJitterP99Ms: n === 0 ? 0 : dev[Math.min(n - 1, Math.ceil(n * 0.99) - 1)]!,
      intervalJitterMaxMs: n === 0 ? 0 : dev[n - 1]!,
      samples: n,
      listeners: this.listeners.length,
      listenerErrors: this.listenerErrors,
      phases: this.phases,
      sliceP99Ms: sn === 0 ? 0 : slices[Math.min(sn - 1, Math.ceil(sn * 0.99) - 1)]!,
      sliceMaxMs: sn === 0 ? 0 : slices[sn - 1]!,
      ...this.sendTiming.stats(),
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
