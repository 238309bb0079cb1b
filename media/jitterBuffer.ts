/**
 * Adaptive jitter buffer for one stream of fixed-duration frames (20 ms by default).
 *
 * Playout is timestamp-based: a packet's place is its RTP timestamp divided by the frame
 * size, so silence suppression (timestamp gaps with consecutive sequence numbers) keeps its
 * duration, and sequence-number wrap is irrelevant. Payloads are copied into one preallocated
 * buffer of `capacity` slots; `push` and `pop` allocate nothing. `push` is fastest when given
 * the datagram's own Buffer (as the socket delivers it): the whole datagram is copied with one
 * native `set`, and the frame's offset points past its header.
 *
 * Delay control: playout starts (and restarts after an underrun) once the buffered span
 * reaches the target delay. The buffer keeps ten one-second buckets of the spread of packet
 * delays (arrival time minus nominal frame time). A packet that comes after its playout time
 * raises the target at once to that spread plus one frame (fast attack); the delay then grows
 * by waiting (at most twice per frame, the caller conceals meanwhile) on the next missing
 * frames while the buffer is below target, as those are most likely late too. Plain loss with
 * no lateness never adds delay. Once a second the target steps down by one frame if the last
 * ten seconds' spread allows (slow decay), and when the buffer stays above target one frame
 * is dropped per half second. The target stays within [minDelayMs, maxDelayMs].
 * @module
 */
import { tsDiff } from './rtp.js';

/** Options of {@link JitterBuffer}. */
export interface JitterBufferOptions {
  /** RTP timestamp units per frame: 160 for 20 ms at 8 kHz, 960 for 20 ms at 48 kHz. */
  samplesPerFrame: number;
  /** Frame duration in ms. Default 20. */
  frameMs?: number;
  /** Number of frame slots. Default 50 (one second of 20 ms frames). */
  capacity?: number;
  /** Largest payload accepted, bytes (1275 is Opus' maximum; 160 suffices for G.711). Default 1280. */
  maxPayload?: number;
  /**
   * Payload bytes each slot holds at first (default: `maxPayload`). A larger datagram grows
   * every slot to `maxPayload` once, so a G.711 call does not carry Opus-sized slots (50 × 1.4 KB)
   * for a packet size it never sees.
   */
  initialPayload?: number;
  /** Delay the buffer starts with, ms. Default 60. */
  initialDelayMs?: number;
  /** Lowest target delay, ms. Default 40. */
  minDelayMs?: number;
  /** Highest target delay, ms. Default 400 (and at most capacity − 2 frames). */
  maxDelayMs?: number;
  /** Adapt the target delay to the network. Default true. */
  adaptive?: boolean;
}

/** What {@link JitterBuffer.push} did with a packet. */
export const JitterPushResult = {
  /** Stored for playout. */
  Stored: 0,
  /** Already buffered or already played: dropped. */
  Duplicate: 1,
  /** Its playout time has passed: dropped. */
  Late: 2,
  /** Too far ahead of playout to fit: dropped (a second such packet in sequence resyncs). */
  Overflow: 3,
  /** Payload larger than `maxPayload` (or negative length): dropped. */
  TooLarge: 4,
  /** Confirmed timestamp jump: the buffer restarted from this packet. */
  Resync: 5,
} as const;

/** One of the {@link JitterPushResult} codes. */
export type JitterPushResult = (typeof JitterPushResult)[keyof typeof JitterPushResult];

/**
 * What the tick should do now: play `frame`, conceal for `lost` (the expected frame is
 * missing but later ones exist), or nothing to play: `empty` (nothing buffered) or
 * `buffering` (waiting to reach the target delay). After playout has started, callers
 * conceal on `empty`/`buffering` too.
 */
export type JitterPopStatus = 'frame' | 'lost' | 'empty' | 'buffering';

/**
 * Result of {@link JitterBuffer.pop}. The same object is returned every time; for `frame`
 * the payload is `buffer[offset .. offset + length)`, valid until the next `push` or `pop`.
 */
export interface JitterPop {
  /** What to do this tick. */
  status: JitterPopStatus;
  /** The buffer's internal storage (shared; read, never keep). */
  buffer: Buffer;
  /** Payload start in `buffer` (`frame` only). */
  offset: number;
  /** Payload length (`frame` only; 0 otherwise). */
  length: number;
  /** Sequence number of the frame; for `lost`, the best guess (last played + 1). */
  seq: number;
  /** RTP timestamp of the frame, or of the missing frame for `lost`. */
  timestamp: number;
}

/** Figures of {@link JitterBuffer.stats}. */
export interface JitterBufferStats {
  /** Packets offered to `push`. */
  pushed: number;
  /** Frames played. */
  played: number;
  /** Frames reported `lost` (concealed by the caller), holds included. */
  lost: number;
  /** `lost` reports that waited for a missing frame to grow the delay. */
  holds: number;
  /** Packets that arrived after their playout time. */
  late: number;
  /** Duplicate packets. */
  duplicate: number;
  /** Packets too far ahead to fit. */
  overflow: number;
  /** Payloads larger than `maxPayload`. */
  tooLarge: number;
  /** Frames dropped to shrink the delay or by pass-through mode. */
  dropped: number;
  /** Times the buffer ran dry while playing. */
  underruns: number;
  /** Restarts on confirmed timestamp jumps. */
  resyncs: number;
  /** Buffered span now, ms. */
  currentDelayMs: number;
  /** Target delay now, ms. */
  targetDelayMs: number;
  /** Interarrival jitter estimate (RFC 3550 A.8 style), ms. */
  jitterMs: number;
  /** False in pass-through mode. */
  enabled: boolean;
  /**
   * RTP timestamp of the play point: the next frame due. Every frame before it has been played,
   * concealed or dropped; 0 before the first packet. It tells how far the stream has gone out of
   * the buffer, so a figure counted at the sender can be matched with the audio heard here.
   */
  playoutTimestamp: number;
}

const SLOT_EMPTY = 0;
const SLOT_FILLED = 1;
const SLOT_PLAYED = 2;

const MODE_IDLE = 0;
const MODE_BUFFERING = 1;
const MODE_PLAYING = 2;

const MAX_HOLDS = 2;
/** Slot bytes beyond `maxPayload`, so a datagram with a 12..128-byte header is copied whole. */
const SLOT_HEADROOM = 128;
const SHRINK_WINDOW_POPS = 25;
/** Pops per delay-history bucket (one second of 20 ms frames). */
const BUCKET_POPS = 50;
/** Buckets of delay history: the target decays only after this many quiet buckets. */
const BUCKETS = 10;

/** A jitter buffer for one RTP stream of fixed-size frames. */
export class JitterBuffer {
  /** Frame duration, ms. */
  readonly frameMs: number;
  /** Timestamp units per frame. */
  readonly samplesPerFrame: number;
  /** Number of slots. */
  readonly capacity: number;
  /** Largest payload accepted, bytes. */
  readonly maxPayload: number;

  private data: Buffer;
  private readonly slotState: Uint8Array;
  private readonly slotFrame: Float64Array;
  private readonly slotSeq: Uint16Array;
  private readonly slotTs: Uint32Array;
  private readonly slotLen: Uint32Array;
  private readonly slotOff: Uint32Array;
  /** Bytes per slot: the payload plus room for the RTP header in front of it (grows once, see `grow`). */
  private stride: number;
  private readonly out: JitterPop;
  /** Frame number the last `lost` pop stood for (for {@link JitterBuffer.peekAfterLost}). */
  private lostFrame = -Infinity;

  private readonly adaptive: boolean;
  /** The delay bounds it was made with, ms (what {@link JitterBuffer.renew} goes back to). */
  private readonly madeMinDelayMs: number;
  private readonly madeMaxDelayMs: number;
  /** Set by `startDelay` (the bounds need `capacity`). */
  private minFrames = 1;
  private maxFrames = 1;
  private targetFrames = 1;
  private enabled = true;

  private mode = MODE_IDLE;
  /** Frame number of the next frame to play and its RTP timestamp. */
  private nextFrame = 0;
  private nextTs = 0;
  private newestFrame = 0;
  private count = 0;
  private lastPlayedFrame = -Infinity;
  private lastPlayedSeq = 0;
  private waited = 0;
  private holdsOnFrame = 0;
  /** Frames of delay still to add (by waiting on missing frames) after the target grew. */
  private stretchBudget = 0;

  private resyncPending = false;
  private resyncSeq = 0;

  // adaptation
  private jitterEst = 0;
  private haveArrival = false;
  private lastArrivalMs = 0;
  private lastArrivalTs = 0;
  private pops = 0;
  private minLevel = Infinity;
  private shrinkPops = 0;
  /** Per-second min/max of (arrival − nominal time) of packets: the delay spread seen. */
  private readonly bucketMin: Float64Array;
  private readonly bucketMax: Float64Array;
  private bucket = 0;
  private bucketPops = 0;

  // counters
  private cPushed = 0;
  private cPlayed = 0;
  private cLost = 0;
  private cHolds = 0;
  private cLate = 0;
  private cDuplicate = 0;
  private cOverflow = 0;
  private cTooLarge = 0;
  private cDropped = 0;
  private cUnderruns = 0;
  private cResyncs = 0;

  /** Preallocates `capacity × (initialPayload + 128)` bytes of storage. */
  constructor(options: JitterBufferOptions) {
    this.samplesPerFrame = options.samplesPerFrame;
    if (!(this.samplesPerFrame > 0)) throw new RangeError('samplesPerFrame must be > 0');
    this.frameMs = options.frameMs ?? 20;
    this.capacity = Math.max(4, Math.floor(options.capacity ?? 50));
    this.maxPayload = Math.max(1, Math.floor(options.maxPayload ?? 1280));
    const initial = Math.min(this.maxPayload, Math.max(1, Math.floor(options.initialPayload ?? this.maxPayload)));
    this.stride = initial + SLOT_HEADROOM;
    this.adaptive = options.adaptive ?? true;
    // one backing store for every array: each of its own cost a native allocation and a
    // sweeper entry per buffer, the better part of a session's set-up (a call makes one or two)
    const c = this.capacity;
    const store = new ArrayBuffer(c * 8 + 2 * BUCKETS * 8 + c * 12 + c * 2 + c + c * this.stride);
    let at = 0;
    const take = (bytes: number): number => ((at += bytes), at - bytes);
    this.slotFrame = new Float64Array(store, take(c * 8), c);
    this.bucketMin = new Float64Array(store, take(BUCKETS * 8), BUCKETS).fill(Infinity);
    this.bucketMax = new Float64Array(store, take(BUCKETS * 8), BUCKETS).fill(-Infinity);
    this.slotTs = new Uint32Array(store, take(c * 4), c);
    this.slotLen = new Uint32Array(store, take(c * 4), c);
    this.slotOff = new Uint32Array(store, take(c * 4), c);
    this.slotSeq = new Uint16Array(store, take(c * 2), c);
    this.slotState = new Uint8Array(store, take(c), c);
    this.data = Buffer.from(store, take(c * this.stride), c * this.stride);
    this.out = { status: 'empty', buffer: this.data, offset: 0, length: 0, seq: 0, timestamp: 0 };
    this.madeMinDelayMs = options.minDelayMs ?? 40;
    this.madeMaxDelayMs = options.maxDelayMs ?? 400;
    this.startDelay(options.initialDelayMs ?? 60);
  }

  /** The delay bounds it was made with, and the target `initialDelayMs` within them. */
  private startDelay(initialDelayMs: number): void {
    this.minFrames = 1;
    this.maxFrames = this.capacity - 2;
    this.targetFrames = 1;
    this.setDelayBounds(this.madeMinDelayMs, this.madeMaxDelayMs);
    this.targetFrames = this.clampFrames(this.msToFrames(initialDelayMs));
  }

  /**
   * Makes the buffer as it was made, for a new stream, starting at `initialDelayMs`: a reused
   * media session renews its buffer instead of allocating one per call. Its storage stays (wide
   * slots stay wide).
   */
  renew(initialDelayMs: number): void {
    this.reset();
    this.slotFrame.fill(0);
    this.slotTs.fill(0);
    this.slotLen.fill(0);
    this.slotOff.fill(0);
    this.slotSeq.fill(0);
    const out = this.out;
    out.status = 'empty';
    out.offset = out.length = out.seq = out.timestamp = 0;
    this.lostFrame = -Infinity;
    this.enabled = true;
    this.nextFrame = this.nextTs = this.newestFrame = 0;
    this.lastPlayedSeq = 0;
    this.resyncSeq = 0;
    this.jitterEst = 0;
    this.lastArrivalMs = this.lastArrivalTs = 0;
    this.pops = 0;
    this.bucket = this.bucketPops = 0;
    this.cPushed = this.cPlayed = this.cLost = this.cHolds = this.cLate = this.cDuplicate = 0;
    this.cOverflow = this.cTooLarge = this.cDropped = this.cUnderruns = this.cResyncs = 0;
    this.startDelay(initialDelayMs);
  }

  private msToFrames(ms: number): number {
    return Math.max(1, Math.ceil(ms / this.frameMs - 1e-9));
  }

  private clampFrames(f: number): number {
    return f < this.minFrames ? this.minFrames : f > this.maxFrames ? this.maxFrames : f;
  }

  /** Sets the bounds the adaptive target stays within, ms. */
  setDelayBounds(minDelayMs: number, maxDelayMs: number): void {
    const hardMax = this.capacity - 2;
    this.minFrames = Math.min(hardMax, this.msToFrames(minDelayMs));
    this.maxFrames = Math.max(this.minFrames, Math.min(hardMax, Math.floor(maxDelayMs / this.frameMs)));
    this.targetFrames = this.clampFrames(this.targetFrames);
  }

  /** Sets the target (and restart) delay in ms, as LanScape's `setJitterTimeMs`. */
  setJitterTimeMs(ms: number): void {
    const before = this.targetFrames;
    this.targetFrames = this.clampFrames(this.msToFrames(ms));
    if (this.targetFrames > before) this.stretchBudget += this.targetFrames - before;
  }

  /** Target delay now, ms. */
  get targetDelayMs(): number {
    return this.targetFrames * this.frameMs;
  }

  /**
   * `false` turns the buffer into a pass-through: each pop plays the newest frame that
   * arrived, with no waiting and no reordering (LanScape's `setEnableJitter(false)`).
   */
  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
  }

  /** Frames that arrived too late to play (the `late` of {@link stats}, without its allocation). */
  get lateFrames(): number {
    return this.cLate;
  }

  /** False in pass-through mode. */
  get isEnabled(): boolean {
    return this.enabled;
  }

  /** Forgets every buffered frame (SSRC change, big jump); counters and target are kept. */
  reset(): void {
    this.slotState.fill(SLOT_EMPTY);
    this.mode = MODE_IDLE;
    this.count = 0;
    this.lastPlayedFrame = -Infinity;
    this.waited = 0;
    this.holdsOnFrame = 0;
    this.stretchBudget = 0;
    this.resyncPending = false;
    this.haveArrival = false;
    this.bucketMin.fill(Infinity);
    this.bucketMax.fill(-Infinity);
    this.minLevel = Infinity;
    this.shrinkPops = 0;
  }

  /**
   * Widens every slot to `maxPayload` (+ headroom), keeping what is buffered: once per stream at
   * most, when a payload larger than the initial slot arrives (a codec switch, a longer ptime).
   */
  private widenSlots(): void {
    const oldStride = this.stride;
    const stride = this.maxPayload + SLOT_HEADROOM;
    if (stride <= oldStride) return;
    const data = Buffer.alloc(this.capacity * stride);
    for (let s = 0; s < this.capacity; s++) {
      const from = s * oldStride;
      data.set(this.data.subarray(from, from + oldStride), s * stride);
      this.slotOff[s] = this.slotOff[s]! - from + s * stride;
    }
    this.data = data;
    this.stride = stride;
    this.out.buffer = data;
  }

  private slotOf(frame: number): number {
    const r = frame % this.capacity;
    return r < 0 ? r + this.capacity : r;
  }

  /** Frames from the play point to the newest buffered frame (0 when nothing is buffered). */
  private level(): number {
    return this.count > 0 ? this.newestFrame - this.nextFrame + 1 : 0;
  }

  private store(frame: number, seq: number, timestamp: number, payload: Buffer, off: number, len: number, arrivalMs: number): void {
    this.noteDelay(frame, arrivalMs);
    const s = this.slotOf(frame);
    if (len > this.stride - SLOT_HEADROOM) this.widenSlots();
    const base = s * this.stride;
    if (payload.length <= this.stride) {
      // the usual case, a datagram Buffer from the socket: copy all of it, header included.
      // A whole-buffer TypedArray#set allocates nothing, while Buffer#copy of a sub-range
      // creates a view object per call (Node 20).
      this.data.set(payload, base);
      this.slotOff[s] = base + off;
    } else {
      // a larger caller buffer: copy the payload byte by byte (slower, still allocation-free)
      const d = this.data;
      for (let k = 0; k < len; k++) d[base + k] = payload[off + k]!;
      this.slotOff[s] = base;
    }
    this.slotState[s] = SLOT_FILLED;
    this.slotFrame[s] = frame;
    this.slotSeq[s] = seq;
    this.slotTs[s] = timestamp;
    this.slotLen[s] = len;
    if (this.count === 0 || frame > this.newestFrame) this.newestFrame = frame;
    this.count++;
    this.resyncPending = false;
  }

  private anchor(frame: number, timestamp: number): void {
    this.nextFrame = frame;
    this.nextTs = timestamp >>> 0;
  }

  private noteArrival(timestamp: number, arrivalMs: number): void {
    const dTs = tsDiff(timestamp, this.lastArrivalTs);
    if (this.haveArrival && dTs < this.capacity * this.samplesPerFrame && dTs > -this.capacity * this.samplesPerFrame) {
      let d = arrivalMs - this.lastArrivalMs - (dTs * this.frameMs) / this.samplesPerFrame;
      if (d < 0) d = -d;
      this.jitterEst += (d - this.jitterEst) / 16;
    }
    this.haveArrival = true;
    this.lastArrivalMs = arrivalMs;
    this.lastArrivalTs = timestamp >>> 0;
  }

  /** Records the relative delay of a packet of frame number `frame` for the spread. */
  private noteDelay(frame: number, arrivalMs: number): void {
    const rel = arrivalMs - frame * this.frameMs;
    const b = this.bucket;
    if (rel < this.bucketMin[b]!) this.bucketMin[b] = rel;
    if (rel > this.bucketMax[b]!) this.bucketMax[b] = rel;
  }

  /**
   * Frames of delay that would have played every packet of the last ten seconds on time:
   * the spread of their relative delays, plus one frame for the tick phase.
   */
  private desiredFrames(): number {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < BUCKETS; i++) {
      if (this.bucketMin[i]! < lo) lo = this.bucketMin[i]!;
      if (this.bucketMax[i]! > hi) hi = this.bucketMax[i]!;
    }
    const spread = hi > lo ? hi - lo : 0;
    return this.clampFrames(Math.ceil(spread / this.frameMs - 1e-9) + 1);
  }

  /** A packet came after its playout time: raise the target to the spread seen (fast attack). */
  private grow(): void {
    if (!this.adaptive) return;
    const want = this.desiredFrames();
    if (want > this.targetFrames) {
      this.stretchBudget += want - this.targetFrames;
      this.targetFrames = want;
    } else if (this.stretchBudget === 0) {
      // the target is right but the buffer sits below it: let it refill by one frame
      this.stretchBudget = 1;
    }
  }

  /**
   * Offers one packet (payload `payload[payloadOffset .. +payloadLength)`, copied in) that
   * arrived at `arrivalMs` (any monotonic ms clock). Never throws.
   */
  push(
    seq: number,
    timestamp: number,
    payload: Buffer,
    payloadOffset: number,
    payloadLength: number,
    arrivalMs: number,
  ): JitterPushResult {
    this.cPushed++;
    seq &= 0xffff;
    timestamp = timestamp >>> 0;
    if (!(payloadLength >= 0 && payloadLength <= this.maxPayload) || payloadOffset < 0 || payloadOffset + payloadLength > payload.length) {
      this.cTooLarge++;
      return JitterPushResult.TooLarge;
    }
    this.noteArrival(timestamp, arrivalMs);
    if (this.mode === MODE_IDLE) {
      this.anchor(0, timestamp);
      this.mode = MODE_BUFFERING;
      this.waited = 0;
      this.store(0, seq, timestamp, payload, payloadOffset, payloadLength, arrivalMs);
      return JitterPushResult.Stored;
    }
    const frame = this.nextFrame + Math.round(tsDiff(timestamp, this.nextTs) / this.samplesPerFrame);
    const ahead = frame - this.nextFrame;
    const cap = this.capacity;
    if (this.mode === MODE_BUFFERING && frame > this.lastPlayedFrame) {
      // before (re)starting playout the play point may move to the earliest frame we hold
      if (this.count === 0) {
        this.anchor(frame, timestamp);
        this.store(frame, seq, timestamp, payload, payloadOffset, payloadLength, arrivalMs);
        return JitterPushResult.Stored;
      }
      if (ahead < 0 && this.newestFrame - frame < cap) {
        this.anchor(frame, timestamp);
        this.store(frame, seq, timestamp, payload, payloadOffset, payloadLength, arrivalMs);
        return JitterPushResult.Stored;
      }
    }
    if (ahead >= 0 && ahead < cap) {
      const s = this.slotOf(frame);
      if (this.slotState[s] === SLOT_FILLED && this.slotFrame[s] === frame) {
        this.cDuplicate++;
        return JitterPushResult.Duplicate;
      }
      this.store(frame, seq, timestamp, payload, payloadOffset, payloadLength, arrivalMs);
      return JitterPushResult.Stored;
    }
    if (ahead < 0 && ahead >= -cap) {
      const s = this.slotOf(frame);
      if (this.slotState[s] !== SLOT_EMPTY && this.slotFrame[s] === frame) {
        this.cDuplicate++;
        return JitterPushResult.Duplicate;
      }
      this.cLate++;
      this.noteDelay(frame, arrivalMs);
      this.grow();
      return JitterPushResult.Late;
    }
    // out of the window either way: a stream restart if the next packet continues from here
    if (this.resyncPending && seq === ((this.resyncSeq + 1) & 0xffff)) {
      this.reset();
      this.cResyncs++;
      this.anchor(0, timestamp);
      this.mode = MODE_BUFFERING;
      this.store(0, seq, timestamp, payload, payloadOffset, payloadLength, arrivalMs);
      return JitterPushResult.Resync;
    }
    this.resyncPending = true;
    this.resyncSeq = seq;
    if (ahead >= cap) {
      this.cOverflow++;
      return JitterPushResult.Overflow;
    }
    this.cLate++;
    return JitterPushResult.Late;
  }

  private emit(status: JitterPopStatus): JitterPop {
    const o = this.out;
    o.status = status;
    o.offset = 0;
    o.length = 0;
    return o;
  }

  /** Plays the frame in slot `s` (which holds `nextFrame`) and advances. */
  private playSlot(s: number): JitterPop {
    const o = this.out;
    o.status = 'frame';
    o.offset = this.slotOff[s]!;
    o.length = this.slotLen[s]!;
    o.seq = this.slotSeq[s]!;
    o.timestamp = this.slotTs[s]!;
    this.slotState[s] = SLOT_PLAYED;
    this.count--;
    this.lastPlayedFrame = this.nextFrame;
    this.lastPlayedSeq = o.seq;
    this.nextFrame++;
    this.nextTs = (this.nextTs + this.samplesPerFrame) >>> 0;
    this.holdsOnFrame = 0;
    this.cPlayed++;
    return o;
  }

  /** Skips the frame at the play point (played-as-dropped or missing) without output. */
  private skip(): void {
    const s = this.slotOf(this.nextFrame);
    if (this.slotState[s] === SLOT_FILLED && this.slotFrame[s] === this.nextFrame) {
      this.slotState[s] = SLOT_PLAYED;
      this.count--;
      this.lastPlayedSeq = this.slotSeq[s]!;
      this.cDropped++;
    }
    this.lastPlayedFrame = this.nextFrame;
    this.nextFrame++;
    this.nextTs = (this.nextTs + this.samplesPerFrame) >>> 0;
    this.holdsOnFrame = 0;
  }

  private filled(frame: number): number {
    const s = this.slotOf(frame);
    return this.slotState[s] === SLOT_FILLED && this.slotFrame[s] === frame ? s : -1;
  }

  /** Pass-through: the newest frame, everything older dropped. */
  private popPassThrough(): JitterPop {
    if (this.count === 0) {
      // nothing new: let the next packet re-anchor wherever its timestamp lands (silence gaps)
      this.mode = MODE_BUFFERING;
      return this.emit('empty');
    }
    while (this.nextFrame < this.newestFrame) this.skip();
    this.mode = MODE_PLAYING;
    const s = this.filled(this.nextFrame);
    return s >= 0 ? this.playSlot(s) : this.emit('empty');
  }

  /**
   * Once a second: start a new history bucket, and step the target down by one frame when the
   * spread of the last ten seconds needs less (slow decay).
   */
  private rotateBuckets(): void {
    if (++this.bucketPops < BUCKET_POPS) return;
    this.bucketPops = 0;
    if (this.adaptive && this.mode === MODE_PLAYING && this.enabled && this.targetFrames > this.desiredFrames()) {
      this.targetFrames--;
      if (this.stretchBudget > 0) this.stretchBudget--;
    }
    this.bucket = (this.bucket + 1) % BUCKETS;
    this.bucketMin[this.bucket] = Infinity;
    this.bucketMax[this.bucket] = -Infinity;
  }

  /** Called once per tick: what to play now. Never throws, never allocates. */
  pop(): JitterPop {
    this.pops++;
    this.rotateBuckets();
    if (this.mode === MODE_IDLE) return this.emit('empty');
    if (!this.enabled) return this.popPassThrough();
    if (this.mode === MODE_BUFFERING) {
      if (this.count === 0) {
        this.waited = 0;
        return this.emit('empty');
      }
      this.waited++;
      if (this.level() < this.targetFrames && this.waited < this.targetFrames) return this.emit('buffering');
      this.mode = MODE_PLAYING;
      this.minLevel = Infinity;
      this.shrinkPops = 0;
    }
    const level = this.level();
    if (level < this.minLevel) this.minLevel = level;
    if (++this.shrinkPops >= SHRINK_WINDOW_POPS) {
      const excess = this.adaptive && this.minLevel > this.targetFrames + 1;
      this.shrinkPops = 0;
      this.minLevel = Infinity;
      // drop one frame, only where the next one is there to follow it seamlessly
      if (excess && this.filled(this.nextFrame) >= 0 && this.filled(this.nextFrame + 1) >= 0) this.skip();
    }
    const s = this.filled(this.nextFrame);
    if (s >= 0) return this.playSlot(s);
    if (this.count > 0) {
      const o = this.out;
      o.timestamp = this.nextTs;
      o.seq = (this.lastPlayedSeq + 1) & 0xffff;
      this.cLost++;
      this.lostFrame = this.nextFrame;
      if (this.stretchBudget > 0 && level < this.targetFrames && this.holdsOnFrame < MAX_HOLDS) {
        // the target grew because packets came late: wait for this one, the caller conceals
        // now and the whole delay grows by one frame
        this.holdsOnFrame++;
        this.stretchBudget--;
        this.cHolds++;
        return this.emit('lost');
      }
      this.lastPlayedSeq = o.seq;
      this.skip();
      return this.emit('lost');
    }
    // ran dry: rebuffer; the next packet re-anchors the play point
    this.cUnderruns++;
    this.mode = MODE_BUFFERING;
    this.waited = 0;
    this.stretchBudget = 0; // rebuffering refills to the target anyway
    return this.emit('empty');
  }

  /**
   * After a `lost` pop: the payload of the frame right after the lost one, if it is already
   * buffered, written into `into` (status `frame`, offset and length into the shared storage)
   * without consuming it. Opus decodes the lost frame from that packet's in-band FEC (RFC 6716
   * §2.1.7). Returns false (leaving `into` alone) when the next frame has not arrived.
   */
  peekAfterLost(into: JitterPop): boolean {
    const s = this.filled(this.lostFrame + 1);
    if (s < 0) return false;
    into.status = 'frame';
    into.buffer = this.data;
    into.offset = this.slotOff[s]!;
    into.length = this.slotLen[s]!;
    into.seq = this.slotSeq[s]!;
    into.timestamp = this.slotTs[s]!;
    return true;
  }

  /** Counters and the current delay (allocates a small object). */
  stats(): JitterBufferStats {
    return {
      pushed: this.cPushed,
      played: this.cPlayed,
      lost: this.cLost,
      holds: this.cHolds,
      late: this.cLate,
      duplicate: this.cDuplicate,
      overflow: this.cOverflow,
      tooLarge: this.cTooLarge,
      dropped: this.cDropped,
      underruns: this.cUnderruns,
      resyncs: this.cResyncs,
      currentDelayMs: this.level() * this.frameMs,
      targetDelayMs: this.targetFrames * this.frameMs,
      jitterMs: this.jitterEst,
      enabled: this.enabled,
      playoutTimestamp: this.nextTs,
    };
  }
}
