/**
 * What the wire sees of the media clock: for every RTP audio packet the pump's nodes send,
 * how late it leaves behind the ideal time of its tick (or phase, see `media/mediaPump`), and
 * how far the spacing from the stream's previous packet strays from what the timestamps say it
 * should be (|interval − expected|, expected = 20 ms for back-to-back 20 ms packets, 40 ms for
 * 40 ms packets, and so on).
 *
 * Whole late ticks hide the damage a busy event loop does: a tick that starts 1 ms late but
 * sends its last packet 25 ms late is not "late". These figures are taken per send.
 *
 * Allocation-free on the hot path: fixed-bin histograms (0.05 ms bins up to 100 ms, one
 * overflow bin) in a ring of one-second buckets, allocated once; {@link SendTiming.stats}
 * merges the buckets of the window (it allocates; call it every few seconds).
 * @module
 */
import { mediaNowMs } from './monotonicClock.js';

/** Histogram bin width, ms. */
const BIN_MS = 0.05;
/** Bins up to 100 ms; the last bin holds everything beyond. */
const BINS = 2001;
/** One bucket covers this long, ms. */
const BUCKET_MS = 1000;
/** A spacing deviation above this counts as a gap (a 20 ms stream with more than 40 ms between two packets). */
const GAP_MS = 20;

/** Figures of {@link SendTiming.stats}, merged into `MediaClockStats`. */
export interface SendTimingStats {
  /** Length of the window the send figures cover, ms (the last few whole seconds). */
  sendWindowMs: number;
  /** RTP audio sends timed in the window. */
  sendSamples: number;
  /** 99th percentile of send lateness (send time − ideal time of its tick or phase) in the window, ms. */
  sendLatenessP99Ms: number;
  /** Largest send lateness in the window, ms. */
  sendLatenessMaxMs: number;
  /** Spacing samples (pairs of consecutive sends of one stream) in the window. */
  sendSpacingSamples: number;
  /** 99th percentile of |interval − expected interval| between consecutive sends of a stream, ms. */
  sendSpacingP99Ms: number;
  /** Largest |interval − expected interval| in the window, ms. */
  sendSpacingMaxMs: number;
  /** Spacing samples in the window that strayed more than 20 ms (a gap over 40 ms at 20 ms ptime). */
  sendGaps: number;
  /** Gaps since the recorder started (never reset by the window: a counter to alert on). */
  sendGapsTotal?: number;
}

/** Bins of the send histograms ({@link SendTimingWindow}): 0.05 ms each, the last one open-ended. */
export const SEND_HISTOGRAM_BINS = BINS;

/**
 * The raw figures of a window (histograms and counts), so the windows of several recorders (one
 * per media worker) can be summed into one before the percentiles are taken.
 */
export interface SendTimingWindow {
  /** Send lateness histogram (2 001 bins of 0.05 ms, the last one open-ended). */
  readonly lateness: Float64Array;
  /** Spacing deviation histogram (same bins). */
  readonly spacing: Float64Array;
  /** Largest lateness, ms. */
  latenessMax: number;
  /** Largest spacing deviation, ms. */
  spacingMax: number;
  /** Sends timed. */
  sends: number;
  /** Spacing samples. */
  spacings: number;
  /** Gaps (spacing deviation over 20 ms). */
  gaps: number;
}

/** An empty window (allocates two histograms: make one and reuse it). */
export function newSendTimingWindow(): SendTimingWindow {
  return { lateness: new Float64Array(BINS), spacing: new Float64Array(BINS), latenessMax: 0, spacingMax: 0, sends: 0, spacings: 0, gaps: 0 };
}

/** Empties `w`. */
export function clearSendTimingWindow(w: SendTimingWindow): void {
  w.lateness.fill(0);
  w.spacing.fill(0);
  w.latenessMax = 0;
  w.spacingMax = 0;
  w.sends = 0;
  w.spacings = 0;
  w.gaps = 0;
}

/** Figures of a window or of one of its one-second buckets (whose histograms are Uint32). */
export type SendTimingCounts = Omit<SendTimingWindow, 'lateness' | 'spacing'> & {
  /** Send lateness histogram. */
  readonly lateness: ArrayLike<number>;
  /** Spacing deviation histogram. */
  readonly spacing: ArrayLike<number>;
};

/** Adds the figures of `from` to `into` (histograms bin by bin, counts summed, maxima as max). */
export function addSendTimingWindow(into: SendTimingWindow, from: Readonly<SendTimingCounts>): void {
  for (let i = 0; i < BINS; i++) {
    into.lateness[i]! += from.lateness[i]!;
    into.spacing[i]! += from.spacing[i]!;
  }
  if (from.latenessMax > into.latenessMax) into.latenessMax = from.latenessMax;
  if (from.spacingMax > into.spacingMax) into.spacingMax = from.spacingMax;
  into.sends += from.sends;
  into.spacings += from.spacings;
  into.gaps += from.gaps;
}

/** The p99 and max figures of a window `windowMs` long. */
export function sendTimingStatsOf(w: SendTimingWindow, windowMs: number): SendTimingStats {
  return {
    sendWindowMs: windowMs,
    sendSamples: w.sends,
    sendLatenessP99Ms: Math.min(w.latenessMax, percentile(w.lateness, w.sends)),
    sendLatenessMaxMs: w.latenessMax,
    sendSpacingSamples: w.spacings,
    sendSpacingP99Ms: Math.min(w.spacingMax, percentile(w.spacing, w.spacings)),
    sendSpacingMaxMs: w.spacingMax,
    sendGaps: w.gaps,
  };
}

/** Options of {@link SendTiming}. */
export interface SendTimingOptions {
  /** The time source, ms (default `performance.now()` time, read without allocating: media/monotonicClock.ts); tests pass virtual time. */
  now?: () => number;
  /** Window of the figures in whole seconds (default 5). */
  windowSeconds?: number;
}

class Bucket {
  readonly lateness = new Uint32Array(BINS);
  readonly spacing = new Uint32Array(BINS);
  latenessMax = 0;
  spacingMax = 0;
  sends = 0;
  spacings = 0;
  gaps = 0;

  clear(): void {
    this.lateness.fill(0);
    this.spacing.fill(0);
    this.latenessMax = 0;
    this.spacingMax = 0;
    this.sends = 0;
    this.spacings = 0;
    this.gaps = 0;
  }
}

function bin(ms: number): number {
  const b = Math.floor(ms / BIN_MS);
  return b < 0 ? 0 : b >= BINS ? BINS - 1 : b;
}

/**
 * Send-timing recorder shared by the nodes of one media pump. The pump sets
 * {@link SendTiming.idealMs} before each phase; each sender calls {@link SendTiming.onSend}.
 */
export class SendTiming {
  /** Ideal time (in {@link SendTiming.now}'s scale) of the tick or phase now running. */
  idealMs = 0;
  /** The time source, ms. */
  readonly now: () => number;
  private readonly buckets: Bucket[];
  private current: Bucket;
  private pos = 0;
  private bucketEnd = -1;
  private gapsTotal = 0;

  /** A recorder with empty figures. */
  constructor(options: SendTimingOptions = {}) {
    this.now = options.now ?? mediaNowMs;
    const n = Math.max(1, Math.floor(options.windowSeconds ?? 5)) + 1;
    this.buckets = Array.from({ length: n }, () => new Bucket());
    this.current = this.buckets[0]!;
  }

  /**
   * One RTP packet leaves now. `prevMs` is the stream's previous send time (from an earlier
   * call; negative: none), `expectedMs` the interval its timestamps call for (negative: do not
   * judge the spacing, e.g. after a timestamp jump). Returns the send time, for the stream to keep.
   */
  onSend(prevMs: number, expectedMs: number): number {
    const now = this.now();
    if (now >= this.bucketEnd) this.rotate(now);
    const b = this.current;
    const late = now - this.idealMs;
    b.lateness[bin(late)]!++;
    if (late > b.latenessMax) b.latenessMax = late;
    b.sends++;
    if (prevMs >= 0 && expectedMs >= 0) {
      const dev = Math.abs(now - prevMs - expectedMs);
      b.spacing[bin(dev)]!++;
      if (dev > b.spacingMax) b.spacingMax = dev;
      b.spacings++;
      if (dev > GAP_MS) {
        b.gaps++;
        this.gapsTotal++;
      }
    }
    return now;
  }

  private rotate(now: number): void {
    // whole seconds passed since the bucket started: clear every bucket skipped over
    let steps = this.bucketEnd < 0 ? 1 : Math.floor((now - this.bucketEnd) / BUCKET_MS) + 1;
    if (steps > this.buckets.length) steps = this.buckets.length;
    for (let i = 0; i < steps; i++) {
      this.pos = (this.pos + 1) % this.buckets.length;
      this.buckets[this.pos]!.clear();
    }
    this.current = this.buckets[this.pos]!;
    this.bucketEnd = this.bucketEnd < 0 ? now + BUCKET_MS : this.bucketEnd + Math.floor((now - this.bucketEnd) / BUCKET_MS + 1) * BUCKET_MS;
  }

  /** Forget every figure (the window starts again). */
  reset(): void {
    for (const b of this.buckets) b.clear();
    this.bucketEnd = -1;
  }

  /** Length of the window the figures cover, ms. */
  get windowMs(): number {
    return (this.buckets.length - 1) * BUCKET_MS;
  }

  /** Gaps since the recorder was made ({@link SendTiming.reset} leaves it: a counter, for alerts on its increase). */
  get totalGaps(): number {
    return this.gapsTotal;
  }

  /**
   * Fills `w` with the raw figures of the window: the buckets of the last whole seconds plus
   * the running one (no allocation; about 4 000 additions per bucket).
   */
  windowInto(w: SendTimingWindow): void {
    const now = this.now();
    // a quiet recorder rotates here, so an old window does not linger
    if (this.bucketEnd >= 0 && now >= this.bucketEnd) this.rotate(now);
    clearSendTimingWindow(w);
    for (const b of this.buckets) if (b.sends > 0) addSendTimingWindow(w, b);
  }

  /**
   * The figures over the window: the buckets of the last whole seconds plus the running one
   * (allocates: call every few seconds, not per tick).
   */
  stats(): SendTimingStats {
    const w = newSendTimingWindow();
    this.windowInto(w);
    return { ...sendTimingStatsOf(w, this.windowMs), sendGapsTotal: this.gapsTotal };
  }
}

/** Upper edge of the bin holding the 99th percentile (0 without samples). */
function percentile(hist: ArrayLike<number>, n: number): number {
  if (n === 0) return 0;
  const rank = Math.ceil(n * 0.99);
  let seen = 0;
  for (let i = 0; i < BINS; i++) {
    seen += hist[i]!;
    if (seen >= rank) return (i + 1) * BIN_MS;
  }
  return BINS * BIN_MS;
}
