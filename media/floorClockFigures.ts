/**
 * A media floor's clock figures in shared memory (`mediaWorkers`): each floor (media/mediaFloor.ts)
 * publishes its clock's statistics and the raw histograms of its send timing every 250 ms into a
 * SharedArrayBuffer of its own; the main thread reads them synchronously when the application
 * asks `getMediaClockStatistics()` or Prometheus scrapes, with no message and no wait on a busy
 * floor. The floors' send histograms are summed before the percentiles are taken, so the merged
 * p99 is the p99 of every packet the engine sent, not an average of per-floor p99s.
 *
 * A sequence lock guards each publication: the writer makes the sequence odd, writes, and makes it
 * even again; a reader that sees it odd or changed reads again (a publication takes microseconds),
 * and after a few tries keeps the copy it read last. The box also carries the floor's RTP port
 * use, updated as calls open and stop, for the overload guard. A floor replaced after a crash
 * counts from 0 in a new box: the merger carries on, per floor index, what the floors before it
 * counted, so no count it reports ever goes back.
 * @module
 */
import type { MediaClockStats, MediaFloorClockStats } from './mediaClock.js';
import {
  SEND_HISTOGRAM_BINS,
  addSendTimingWindow,
  clearSendTimingWindow,
  newSendTimingWindow,
  sendTimingStatsOf,
  type SendTiming,
  type SendTimingWindow,
} from './sendTiming.js';

/** Int32 header: sequence, RTP pairs in use, two spare. */
const I_SEQ = 0;
const I_RTP_IN_USE = 1;
const HEADER_BYTES = 16;

/** Float64 fields after the header, in this order. */
const F = {
  ticks: 0,
  lateTicks: 1,
  skippedTicks: 2,
  maxLatenessMs: 3,
  meanIntervalMs: 4,
  intervalJitterP99Ms: 5,
  intervalJitterMaxMs: 6,
  samples: 7,
  listeners: 8,
  listenerErrors: 9,
  phases: 10,
  sliceP99Ms: 11,
  sliceMaxMs: 12,
  sendWindowMs: 13,
  running: 14,
  calls: 15,
  publishedAt: 16,
  latenessMax: 17,
  spacingMax: 18,
  sends: 19,
  spacings: 20,
  gaps: 21,
  gapsTotal: 22,
  /** First of {@link MAX_GROUPS}: calls per phase group of the floor's pump. */
  groups: 24,
} as const;
/** Most phase groups a clock has (one per ms of the 20 ms period; `mediaPhaseGroups` ≤ 20). */
const MAX_GROUPS = 20;
const FIELDS = F.groups + MAX_GROUPS;
const BINS = SEND_HISTOGRAM_BINS;

/** Bytes of one floor's box. */
export const FLOOR_CLOCK_BOX_BYTES = HEADER_BYTES + (FIELDS + 2 * BINS) * 8;

/** Wall-clock ms, comparable across threads (each thread's `performance` has its own origin). */
function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Views of one box. */
class Views {
  readonly head: Int32Array;
  readonly f: Float64Array;
  readonly lateness: Float64Array;
  readonly spacing: Float64Array;

  constructor(sab: SharedArrayBuffer) {
    this.head = new Int32Array(sab, 0, HEADER_BYTES / 4);
    this.f = new Float64Array(sab, HEADER_BYTES, FIELDS);
    this.lateness = new Float64Array(sab, HEADER_BYTES + FIELDS * 8, BINS);
    this.spacing = new Float64Array(sab, HEADER_BYTES + (FIELDS + BINS) * 8, BINS);
  }
}

/** The floor's side: publishes its clock's figures. */
export class FloorClockWriter {
  private readonly v: Views;
  private readonly window = newSendTimingWindow();

  /** Writes into `sab` ({@link FLOOR_CLOCK_BOX_BYTES}). */
  constructor(sab: SharedArrayBuffer) {
    this.v = new Views(sab);
  }

  /** RTP port pairs the floor's allocator holds now (written at once, outside the sequence lock). */
  portsInUse(n: number): void {
    Atomics.store(this.v.head, I_RTP_IN_USE, n);
  }

  /**
   * Publishes `s` (the clock's `stats()`), the raw window of its send timing and the number of
   * calls in each phase group of the floor's pump (`groups`, index = phase; absent: every call
   * counts in group 0).
   */
  publish(s: MediaClockStats, timing: SendTiming, calls: number, groups?: ArrayLike<number>): void {
    const w = this.window;
    timing.windowInto(w);
    const { head, f } = this.v;
    Atomics.add(head, I_SEQ, 1);
    f[F.ticks] = s.ticks;
    f[F.lateTicks] = s.lateTicks;
    f[F.skippedTicks] = s.skippedTicks;
    f[F.maxLatenessMs] = s.maxLatenessMs;
    f[F.meanIntervalMs] = s.meanIntervalMs;
    f[F.intervalJitterP99Ms] = s.intervalJitterP99Ms;
    f[F.intervalJitterMaxMs] = s.intervalJitterMaxMs;
    f[F.samples] = s.samples;
    f[F.listeners] = s.listeners;
    f[F.listenerErrors] = s.listenerErrors;
    f[F.phases] = s.phases ?? 1;
    f[F.sliceP99Ms] = s.sliceP99Ms ?? 0;
    f[F.sliceMaxMs] = s.sliceMaxMs ?? 0;
    f[F.sendWindowMs] = timing.windowMs;
    f[F.running] = s.running ? 1 : 0;
    f[F.calls] = calls;
    f[F.publishedAt] = wallMs();
    f[F.latenessMax] = w.latenessMax;
    f[F.spacingMax] = w.spacingMax;
    f[F.sends] = w.sends;
    f[F.spacings] = w.spacings;
    f[F.gaps] = w.gaps;
    f[F.gapsTotal] = timing.totalGaps;
    for (let g = 0; g < MAX_GROUPS; g++) f[F.groups + g] = groups === undefined ? (g === 0 ? calls : 0) : (groups[g] ?? 0);
    this.v.lateness.set(w.lateness);
    this.v.spacing.set(w.spacing);
    Atomics.add(head, I_SEQ, 1);
  }
}

/** One floor's figures as read: the fields and the send window. */
interface FloorCopy {
  readonly f: Float64Array;
  readonly window: SendTimingWindow;
  /** False until a consistent publication was read. */
  valid: boolean;
}

/** The main thread's side: reads a floor's box. */
export class FloorClockReader {
  private readonly v: Views;
  /** The last consistent copy, and the one being read into (swapped on success). */
  private good: FloorCopy = FloorClockReader.newCopy();
  private scratch: FloorCopy = FloorClockReader.newCopy();

  /** Reads `sab` (the box given to the floor). */
  constructor(sab: SharedArrayBuffer) {
    this.v = new Views(sab);
  }

  private static newCopy(): FloorCopy {
    return { f: new Float64Array(FIELDS), window: newSendTimingWindow(), valid: false };
  }

  /** RTP port pairs the floor's allocator holds (as of its last open or stop). */
  get rtpInUse(): number {
    return Atomics.load(this.v.head, I_RTP_IN_USE);
  }

  /** The latest consistent publication (the previous one when the floor kept writing; undefined before the first). */
  read(): FloorCopy | undefined {
    const { head, f, lateness, spacing } = this.v;
    const c = this.scratch;
    for (let tries = 0; tries < 8; tries++) {
      const seq = Atomics.load(head, I_SEQ);
      if (seq === 0) break;
      if ((seq & 1) !== 0) continue;
      c.f.set(f);
      c.window.lateness.set(lateness);
      c.window.spacing.set(spacing);
      if (Atomics.load(head, I_SEQ) !== seq) continue;
      const w = c.window;
      w.latenessMax = c.f[F.latenessMax]!;
      w.spacingMax = c.f[F.spacingMax]!;
      w.sends = c.f[F.sends]!;
      w.spacings = c.f[F.spacings]!;
      w.gaps = c.f[F.gaps]!;
      c.valid = true;
      this.scratch = this.good;
      this.good = c;
      break;
    }
    return this.good.valid ? this.good : undefined;
  }
}

/**
 * The figures of a floor that count from its start (all others describe its recent window or
 * its live state): a replacement floor starts them again from 0, so the main side carries on
 * what its index counted before (see {@link FloorClockMerger.retire}).
 */
interface FloorCounts {
  ticks: number;
  lateTicks: number;
  skippedTicks: number;
  listenerErrors: number;
  sendGapsTotal: number;
}

function noCounts(): FloorCounts {
  return { ticks: 0, lateTicks: 0, skippedTicks: 0, listenerErrors: 0, sendGapsTotal: 0 };
}

const NO_COUNTS: Readonly<FloorCounts> = Object.freeze(noCounts());

/** The counts a copy holds. */
function countsOf(f: Float64Array): FloorCounts {
  return { ticks: f[F.ticks]!, lateTicks: f[F.lateTicks]!, skippedTicks: f[F.skippedTicks]!, listenerErrors: f[F.listenerErrors]!, sendGapsTotal: f[F.gapsTotal]! };
}

function addCounts(to: FloorCounts, from: FloorCounts): void {
  to.ticks += from.ticks;
  to.lateTicks += from.lateTicks;
  to.skippedTicks += from.skippedTicks;
  to.listenerErrors += from.listenerErrors;
  to.sendGapsTotal += from.sendGapsTotal;
}

/** One floor's figures from a copy, with the counts `n` (the copy's plus what its index carries). */
function floorStats(index: number, c: FloorCopy, now: number, n: FloorCounts): MediaFloorClockStats {
  const f = c.f;
  return {
    floor: index,
    calls: f[F.calls]!,
    ageMs: Math.max(0, now - f[F.publishedAt]!),
    running: f[F.running] === 1,
    ticks: n.ticks,
    lateTicks: n.lateTicks,
    skippedTicks: n.skippedTicks,
    maxLatenessMs: f[F.maxLatenessMs]!,
    meanIntervalMs: f[F.meanIntervalMs]!,
    intervalJitterP99Ms: f[F.intervalJitterP99Ms]!,
    intervalJitterMaxMs: f[F.intervalJitterMaxMs]!,
    samples: f[F.samples]!,
    listeners: f[F.listeners]!,
    listenerErrors: n.listenerErrors,
    phases: f[F.phases]!,
    sliceP99Ms: f[F.sliceP99Ms]!,
    sliceMaxMs: f[F.sliceMaxMs]!,
    ...sendTimingStatsOf(c.window, f[F.sendWindowMs]!),
    sendGapsTotal: n.sendGapsTotal,
    phaseGroupCalls: Array.from(f.subarray(F.groups, F.groups + Math.min(MAX_GROUPS, Math.max(1, f[F.phases]!)))),
  };
}

/**
 * The engine's clock figures with media workers: what the wire sees, merged from the floors'
 * publications (see {@link MediaClockStats.floors} for how each figure merges), with each floor's
 * own figures in `floors` and the main thread's clock in `mainThread`. A floor that has not
 * published yet is left out of `floors` and of the merge, but for the counts its index carries
 * from the floors it replaced.
 */
export class FloorClockMerger {
  private readonly merged = newSendTimingWindow();
  /** Per floor index: the counts of the floors it had before its current one (absent: none). */
  private readonly carried: (FloorCounts | undefined)[] = [];

  /**
   * Floor `index`'s floor is gone and a fresh one (counting from 0) takes its place: what its
   * reader last read joins the counts the index carries, so that the merged counts, each floor's
   * and the Prometheus counters made of them never go back. Call it before the new floor's
   * reader is merged; the last publication is at most 250 ms old, so what the old floor counted
   * after it is lost, but nothing already reported is taken back.
   */
  retire(index: number, reader: FloorClockReader): void {
    const c = reader.read();
    if (c === undefined) return;
    addCounts((this.carried[index] ??= noCounts()), countsOf(c.f));
  }

  /**
   * @param main the main thread's clock figures
   * @param readers each floor's reader, by floor index
   */
  merge(main: MediaClockStats, readers: readonly FloorClockReader[]): MediaClockStats {
    const now = wallMs();
    const w = this.merged;
    clearSendTimingWindow(w);
    const floors: MediaFloorClockStats[] = [];
    const counts = noCounts();
    let windowMs = 0;
    let intervalSum = 0;
    const r = {
      running: false,
      maxLatenessMs: 0,
      meanIntervalMs: 0,
      intervalJitterP99Ms: 0,
      intervalJitterMaxMs: 0,
      samples: 0,
      listeners: 0,
      phases: 1,
      sliceP99Ms: 0,
      sliceMaxMs: 0,
    };
    readers.forEach((reader, i) => {
      const carried = this.carried[i] ?? NO_COUNTS;
      const c = reader.read();
      if (c === undefined) {
        // a replacement that has not published yet: its predecessors' counts still count
        addCounts(counts, carried);
        return;
      }
      const n = countsOf(c.f);
      addCounts(n, carried);
      addCounts(counts, n);
      const s = floorStats(i, c, now, n);
      floors.push(s);
      addSendTimingWindow(w, c.window);
      windowMs = Math.max(windowMs, s.sendWindowMs ?? 0);
      r.running ||= s.running;
      r.maxLatenessMs = Math.max(r.maxLatenessMs, s.maxLatenessMs);
      intervalSum += s.meanIntervalMs * s.samples;
      r.samples += s.samples;
      r.intervalJitterP99Ms = Math.max(r.intervalJitterP99Ms, s.intervalJitterP99Ms);
      r.intervalJitterMaxMs = Math.max(r.intervalJitterMaxMs, s.intervalJitterMaxMs);
      r.listeners += s.listeners;
      r.phases = Math.max(r.phases, s.phases ?? 1);
      r.sliceP99Ms = Math.max(r.sliceP99Ms, s.sliceP99Ms ?? 0);
      r.sliceMaxMs = Math.max(r.sliceMaxMs, s.sliceMaxMs ?? 0);
    });
    r.meanIntervalMs = r.samples === 0 ? 0 : intervalSum / r.samples;
    return {
      ...r,
      ticks: counts.ticks,
      lateTicks: counts.lateTicks,
      skippedTicks: counts.skippedTicks,
      listenerErrors: counts.listenerErrors,
      ...sendTimingStatsOf(w, windowMs || (main.sendWindowMs ?? 0)),
      sendGapsTotal: counts.sendGapsTotal,
      floors,
      mainThread: main,
    };
  }
}
