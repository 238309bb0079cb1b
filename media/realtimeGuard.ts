/**
 * The safety valve of a real-time media thread. A floor in SCHED_FIFO (`mediaThreadPriority:
 * 'realtime'`, what a dedicated media server asks for) runs before every normal thread of the
 * box: that is what keeps its ticks on time while a set-up storm, SIPp or other processes keep
 * the cores busy. The same rank lets a floor that has more calls than its core can carry take
 * that core from signalling and everything else (the kernel's real-time throttling leaves them
 * only 5 %), and by then the rank no longer buys timing: the floor runs behind anyway. So a
 * floor reads its own CPU time once a second and, after {@link RealtimeGuardOptions.rounds}
 * seconds in a row at or over {@link RealtimeGuardOptions.busyLimit} of a core, steps down to
 * `'high'` (nice −10); once it has stayed under {@link RealtimeGuardOptions.quietLimit} for
 * {@link RealtimeGuardOptions.quietRounds} seconds it is raised again. The engine logs each step
 * (a step down as the warning `media worker thread stepped down: its core is saturated`) and
 * `MediaFloors.threadPriorities()` shows the floor's rank now.
 * @module
 */
import fs from 'node:fs';

/** Thresholds of a {@link RealtimeGuard}. */
export interface RealtimeGuardOptions {
  /** Share of one core (0..1) at or over which a round counts as saturated (default 0.9). */
  busyLimit?: number;
  /** Saturated rounds in a row that step the thread down (default 2). */
  rounds?: number;
  /** Share of one core under which a round counts as quiet (default 0.5). */
  quietLimit?: number;
  /** Quiet rounds in a row after which a stepped-down thread is raised again (default 30). */
  quietRounds?: number;
}

/** What a {@link RealtimeGuard} reading asks for: step down, raise again, or nothing. */
export type RealtimeGuardVerdict = 'down' | 'up' | null;

/** Hysteresis over a thread's busy share, one reading per round (see the module comment). */
export class RealtimeGuard {
  /** Default of {@link RealtimeGuardOptions.busyLimit}. */
  static readonly BUSY_LIMIT = 0.9;
  /** Default of {@link RealtimeGuardOptions.rounds}. */
  static readonly ROUNDS = 2;
  /** Default of {@link RealtimeGuardOptions.quietLimit}. */
  static readonly QUIET_LIMIT = 0.5;
  /** Default of {@link RealtimeGuardOptions.quietRounds}. */
  static readonly QUIET_ROUNDS = 30;

  private readonly busyLimit: number;
  private readonly rounds: number;
  private readonly quietLimit: number;
  private readonly quietRounds: number;
  private lastCpuMs = NaN;
  private lastAtMs = NaN;
  private run = 0;
  private stepped = false;
  private share = NaN;

  /** A guard with the given thresholds (defaults: 90 % for 2 rounds down, under 50 % for 30 up). */
  constructor(options: RealtimeGuardOptions = {}) {
    this.busyLimit = options.busyLimit ?? RealtimeGuard.BUSY_LIMIT;
    this.rounds = options.rounds ?? RealtimeGuard.ROUNDS;
    this.quietLimit = options.quietLimit ?? RealtimeGuard.QUIET_LIMIT;
    this.quietRounds = options.quietRounds ?? RealtimeGuard.QUIET_ROUNDS;
  }

  /** True while the thread is stepped down. */
  get steppedDown(): boolean {
    return this.stepped;
  }

  /** The busy share of the last round (0..1; NaN before two readings). */
  get lastShare(): number {
    return this.share;
  }

  /** Rounds in a row the current verdict has been building. */
  get streak(): number {
    return this.run;
  }

  /**
   * One reading: the thread's CPU time so far and the wall time now, both ms. The first reading
   * only sets the base; an unreadable one (NaN) or a round of no length changes nothing.
   */
  observe(cpuMs: number, nowMs: number): RealtimeGuardVerdict {
    if (!Number.isFinite(cpuMs) || !Number.isFinite(nowMs)) return null;
    const elapsed = nowMs - this.lastAtMs;
    const used = cpuMs - this.lastCpuMs;
    this.lastCpuMs = cpuMs;
    this.lastAtMs = nowMs;
    if (!(elapsed > 0) || !(used >= 0)) return null;
    this.share = used / elapsed;
    if (!this.stepped) {
      this.run = this.share >= this.busyLimit ? this.run + 1 : 0;
      if (this.run < this.rounds) return null;
      this.stepped = true;
      this.run = 0;
      return 'down';
    }
    this.run = this.share < this.quietLimit ? this.run + 1 : 0;
    if (this.run < this.quietRounds) return null;
    this.stepped = false;
    this.run = 0;
    return 'up';
  }
}

/** CPU time the calling thread has used, ms (`/proc/thread-self/schedstat`); NaN where unreadable. */
export function threadCpuMs(): number {
  try {
    const text = fs.readFileSync('/proc/thread-self/schedstat', 'latin1');
    const ns = Number(text.slice(0, text.indexOf(' ')));
    return Number.isFinite(ns) ? ns / 1e6 : NaN;
  } catch {
    return NaN;
  }
}
