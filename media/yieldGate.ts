/**
 * Signalling gives way to media. Without media workers the SIP transport, the transaction layer
 * and the application's notification handlers share the event loop with the media clock, and a
 * burst of them (a call set-up storm: hundreds of datagrams and handlers ready in one turn) ran
 * to the end before the clock's timer got its turn, so every line's packets left tens of ms late.
 *
 * A {@link MediaYieldGate} tells such a batch when to stop and let the event loop go round (the
 * rest continues from `setImmediate`, after the timers): when the batch has run for its budget,
 * or when the media clock's next phase is due (within a margin). It knows the clock only through
 * `nextDueMs`; the SIP layer knows it only as a {@link YieldGate}.
 * @module
 */
import type { MediaClock } from './mediaClock.js';

/** What a batch of signalling work asks between items (structural: `sip/` and `engine/` use it). */
export interface YieldGate {
  /** True when a batch started at `batchStartMs` (`performance.now()`) must stop for now. */
  shouldYield(batchStartMs: number): boolean;
}

/** Options of {@link MediaYieldGate}. */
export interface MediaYieldGateOptions {
  /** Longest run of one batch, ms (default 3). */
  budgetMs?: number;
  /** Stop this long before the media clock's next phase is due, ms (default 0.5). */
  marginMs?: number;
  /** The time, ms on `performance.now()`'s scale (default that; tests give a virtual clock). */
  now?: () => number;
}

/** The engine's gate: a time budget, and the media clock's next due phase. */
export class MediaYieldGate implements YieldGate {
  private clock: MediaClock | null = null;
  private readonly budgetMs: number;
  private readonly marginMs: number;
  private readonly now: () => number;

  /** A gate with no clock yet (only the budget applies until {@link MediaYieldGate.setClock}). */
  constructor(options: MediaYieldGateOptions = {}) {
    this.budgetMs = options.budgetMs ?? 3;
    this.marginMs = options.marginMs ?? 0.5;
    this.now = options.now ?? (() => performance.now());
  }

  /** The media clock to give way to (null: none). */
  setClock(clock: MediaClock | null): void {
    this.clock = clock;
  }

  /** True when the batch has used its budget or a media phase is (nearly) due. */
  shouldYield(batchStartMs: number): boolean {
    const now = this.now();
    return now - batchStartMs >= this.budgetMs || this.phaseDue(this.marginMs, now);
  }

  /**
   * True when the clock's next phase is due within `marginMs` (the gate's margin by default; 0:
   * due already, i.e. late). False without a running real clock.
   */
  phaseDue(marginMs = this.marginMs, now = this.now()): boolean {
    const c = this.clock;
    // a manual clock's due time is virtual: nothing real to give way to
    if (c === null || !c.running || c.manual) return false;
    const due = c.nextDueMs;
    return due !== undefined && now >= due - marginMs;
  }
}
