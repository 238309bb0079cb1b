/**
 * Work that runs in the media clock's slack. A media floor (media/mediaFloor.ts) receives its
 * commands as they come: in a call set-up storm, hundreds of opens, configures, starts and stops
 * a second, and Node hands a worker every queued message in one turn of its event loop, so a
 * batch of them (with the floor's periodic statistics) ran to its end before the clock's due
 * tick. A {@link SlackQueue} holds such work in arrival order and runs it between ticks: a run
 * stops when it has used its budget or when the next tick is (nearly) due (the {@link YieldGate}
 * the main thread's signalling uses, media/yieldGate.ts), and continues after the tick.
 *
 * One FIFO queue keeps every call's commands in the order they were sent (a call's start after
 * its configure). Two things keep work from starving behind the ticks: once the tick is late
 * anyway, a run does at least `minSliceMs` of work before it gives way (a floor that runs behind
 * still gets its commands through), and while an urgent item (one the sender waits for synchronously, a statistics read)
 * is queued, the budget does not apply: only a due tick interrupts the run.
 * @module
 */
import type { YieldGate } from './yieldGate.js';

/** What a {@link SlackQueue} needs of its thread (the floor: real time; tests: a fake). */
export interface SlackQueueHost extends YieldGate {
  /** Current time, ms (the scale `shouldYield` takes). */
  now(): number;
  /**
   * True when the clock's next tick is due now or within the gate's margin: the queue then
   * waits for {@link SlackQueue.afterTick} instead of polling until the tick has run.
   */
  tickPending(): boolean;
  /** True when the clock's next tick is already past due (the floor runs behind). */
  tickLate(): boolean;
  /** Runs `fn` soon, after pending I/O (the floor: `setImmediate`). */
  later(fn: () => void): void;
}

/** Options of {@link SlackQueue}. */
export interface SlackQueueOptions<T> {
  /** Runs one item (it must not throw, or the run stops there and the error propagates). */
  run: (item: T) => void;
  /** True for an item whose sender waits for it synchronously (default: none). */
  urgent?: (item: T) => boolean;
  /** Work each run does before it gives way to a tick that is already late, ms (default 1). */
  minSliceMs?: number;
}

/** Queued items are compacted away once this many have run and they are half the array. */
const COMPACT_AT = 1024;

/** A FIFO queue of work run in the clock's slack (see the module comment). */
export class SlackQueue<T> {
  private items: T[] = [];
  private head = 0;
  private scheduled = false;
  private waitingForTick = false;
  private urgentQueued = 0;
  private readonly runItem: (item: T) => void;
  private readonly isUrgent: (item: T) => boolean;
  private readonly minSliceMs: number;
  /** One closure for the life of the queue: every scheduled run reuses it. */
  private readonly drainNow = (): void => this.drain();

  /** A queue on `host`. */
  constructor(
    private readonly host: SlackQueueHost,
    options: SlackQueueOptions<T>,
  ) {
    this.runItem = options.run;
    this.isUrgent = options.urgent ?? (() => false);
    this.minSliceMs = options.minSliceMs ?? 1;
  }

  /** Items waiting. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Queues an item and makes sure a run comes. */
  push(item: T): void {
    this.items.push(item);
    if (this.isUrgent(item)) {
      this.urgentQueued++;
      // a synchronous reader waits: do not sit out a tick that is not due yet
      this.waitingForTick = false;
    }
    this.schedule();
  }

  /** The clock's tick has run: a run that gave way to it continues (a tick listener calls this). */
  afterTick(): void {
    if (!this.waitingForTick) return;
    this.waitingForTick = false;
    this.schedule();
  }

  /** Runs queued items until the queue is empty or the gate says stop (then a later run goes on). */
  drain(): void {
    this.scheduled = false;
    const h = this.host;
    const start = h.now();
    while (this.head < this.items.length) {
      const now = h.now();
      // a tick that can still come on time goes first; one already late lets the minimum slice
      // run first (else a floor that runs behind would starve its commands); with a synchronous
      // reader waiting, only a due tick stops the run
      if ((now - start >= this.minSliceMs || !h.tickLate()) && h.shouldYield(this.urgentQueued > 0 ? now : start)) {
        if (h.tickPending() && this.urgentQueued === 0) this.waitingForTick = true;
        else this.schedule();
        this.compact();
        return;
      }
      const item = this.items[this.head]!;
      // the slot is released first: a run that throws does not run the item again
      this.items[this.head++] = undefined as T;
      if (this.isUrgent(item)) this.urgentQueued--;
      this.runItem(item);
    }
    this.compact();
  }

  private schedule(): void {
    if (this.scheduled || this.waitingForTick) return;
    this.scheduled = true;
    this.host.later(this.drainNow);
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head >= COMPACT_AT && this.head * 2 >= this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
  }
}
