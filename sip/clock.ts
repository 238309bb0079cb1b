/**
 * Injectable time for the SIP stack. Transactions, registrations and keep-alives take a
 * {@link Clock} so tests can run Timer B/F (32 s) in virtual time in microseconds.
 * @module
 */

/** Handle of a timer scheduled on a {@link VirtualClock}. */
export interface VirtualTimerHandle {
  /** Sequence number of the timer. */
  readonly id: number;
}

/** Opaque handle of a scheduled timer. */
export type TimerHandle = VirtualTimerHandle | NodeJS.Timeout;

/** The source of time and timers used by every stateful part of the stack. */
export interface Clock {
  /** Milliseconds since an arbitrary origin (monotonic). */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds. */
  setTimer(ms: number, fn: () => void): TimerHandle;
  /** Cancels a timer; unknown or fired handles are ignored. */
  clearTimer(handle: TimerHandle | undefined): void;
}

/**
 * `work`'s value, or `onTimeout` when `ms` pass on `clock` first; the timer is cleared either
 * way. Bounded waits run on the injected clock, so virtual time drives them too.
 */
export async function raceTimer<R, F>(clock: Clock, ms: number, work: Promise<R>, onTimeout: F): Promise<R | F> {
  let timer: TimerHandle | undefined;
  try {
    return await Promise.race([work, new Promise<F>((r) => (timer = clock.setTimer(ms, () => r(onTimeout))))]);
  } finally {
    clock.clearTimer(timer);
  }
}

/** Wall-clock implementation on `setTimeout`, monotonic through `performance.now()`. */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimer: (ms, fn) => {
    const t = setTimeout(fn, ms);
    // Stack timers must never keep a process alive on their own: sockets do that.
    t.unref();
    return t;
  },
  clearTimer: (h) => {
    if (h !== undefined) clearTimeout(h as NodeJS.Timeout);
  },
};

interface VirtualTimer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A clock that only moves when told to. `advance(ms)` fires due timers in time order, including
 * timers scheduled by the fired callbacks, so a whole retransmission schedule runs in one call.
 */
export class VirtualClock implements Clock {
  private t = 0;
  private nextId = 1;
  private timers: VirtualTimer[] = [];

  /** Current virtual time in ms. */
  now(): number {
    return this.t;
  }

  /** Schedules `fn` at now + ms. */
  setTimer(ms: number, fn: () => void): TimerHandle {
    const timer = { id: this.nextId++, at: this.t + Math.max(0, ms), fn };
    this.timers.push(timer);
    return { id: timer.id };
  }

  /** Cancels a timer. */
  clearTimer(handle: TimerHandle | undefined): void {
    if (!handle || !('id' in handle)) return;
    const id = (handle as { id: number }).id;
    this.timers = this.timers.filter((x) => x.id !== id);
  }

  /** Number of pending timers (useful to prove nothing leaks). */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, earliest first. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: VirtualTimer | undefined;
      for (const x of this.timers) if (x.at <= end && (!next || x.at < next.at || (x.at === next.at && x.id < next.id))) next = x;
      if (!next) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}
