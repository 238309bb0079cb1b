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
}

/** Options of {@link SendTiming}. */
export interface SendTimingOptions {
  /** The time source, ms (default `performance.now`); tests pass virtual time. */
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

  /** A recorder with empty figures. */
  constructor(options: SendTimingOptions = {}) {
    this.now = options.now ?? (() => performance.now());
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
      if (dev > GAP_MS) b.gaps++;
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

  /**
   * The figures over the window: the buckets of the last whole seconds plus the running one
   * (allocates: call every few seconds, not per tick).
   */
  stats(): SendTimingStats {
    const now = this.now();
    // a quiet recorder rotates here, so an old window does not linger
    if (this.bucketEnd >= 0 && now >= this.bucketEnd) this.rotate(now);
    const late = new Float64Array(BINS);
    const spacing = new Float64Array(BINS);
    let lateMax = 0;
    let spacingMax = 0;
    let sends = 0;
    let spacings = 0;
    let gaps = 0;
    for (const b of this.buckets) {
      if (b.sends === 0) continue;
      for (let i = 0; i < BINS; i++) {
        late[i]! += b.lateness[i]!;
        spacing[i]! += b.spacing[i]!;
      }
      if (b.latenessMax > lateMax) lateMax = b.latenessMax;
      if (b.spacingMax > spacingMax) spacingMax = b.spacingMax;
      sends += b.sends;
      spacings += b.spacings;
      gaps += b.gaps;
    }
    return {
      sendWindowMs: (this.buckets.length - 1) * BUCKET_MS,
      sendSamples: sends,
      sendLatenessP99Ms: Math.min(lateMax, percentile(late, sends)),
      sendLatenessMaxMs: lateMax,
      sendSpacingSamples: spacings,
      sendSpacingP99Ms: Math.min(spacingMax, percentile(spacing, spacings)),
      sendSpacingMaxMs: spacingMax,
      sendGaps: gaps,
    };
  }
}

/** Upper edge of the bin holding the 99th percentile (0 without samples). */
function percentile(hist: Float64Array, n: number): number {
  if (n === 0) return 0;
  const rank = Math.ceil(n * 0.99);
  let seen = 0;
  for (let i = 0; i < BINS; i++) {
    seen += hist[i]!;
    if (seen >= rank) return (i + 1) * BIN_MS;
  }
  return BINS * BIN_MS;
}
