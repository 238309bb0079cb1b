/**
 * What the main thread and a media worker (a "media floor", media/mediaFloor.ts) say to each
 * other, and the layout of the memory they share. Messages are small and structured: commands
 * go to the floor when the application or the call changes something, events come back when
 * something happens (a digit, a failure, a call's statistics at its stop); no message is
 * sent per packet or per tick, and what one task says goes as one posted batch
 * ({@link MessageBatch}). What the main thread reads often (the media time-out's packet
 * counter, VU levels, the RTP counters a metrics scrape sums) sits in a SharedArrayBuffer slot
 * per call, so reading it costs no message.
 * Conference audio crosses in per-call SharedArrayBuffer frame rings ({@link FrameRing}).
 * @module
 */
import { deserialize, serialize } from 'node:v8';
import type { MediaParams, MediaSessionStats } from './session.js';
import type { OpusSettings } from './opus.js';
import type { RecordingResult } from './callRecorder.js';
import { QUALITY_INPUT_FIELDS } from './quality.js';
import { RTP_COUNTER_FIELDS } from './rtpCounters.js';
import type { ThreadPriority, ThreadPriorityResult } from '../ffi/sched.js';

/** Int32 fields of one call's slot in the floor's shared counters. */
export const SLOT_PACKETS_IN = 0;
/** Received peak level of the last tick (VU meters). */
export const SLOT_RX_PEAK = 1;
/** Received RMS level of the last tick. */
export const SLOT_RX_RMS = 2;
/** Sent peak level of the last tick. */
export const SLOT_TX_PEAK = 3;
/** Sent RMS level of the last tick. */
export const SLOT_TX_RMS = 4;
/** Ticks whose levels were written (the main thread calls the tap once per new tick). */
export const SLOT_LEVEL_TICKS = 5;
/**
 * First of the call's RTP counters ({@link RTP_COUNTER_FIELDS} of them, media/rtpCounters.ts),
 * copied every 250 ms: what a metrics scrape sums of the calls in progress.
 */
export const SLOT_RTP = 6;
/**
 * First of the call's quality inputs ({@link QUALITY_INPUT_FIELDS} of them), written every tick:
 * the main thread judges a call's quality as it ends without waiting on the floor.
 */
export const SLOT_QUALITY = SLOT_RTP + RTP_COUNTER_FIELDS;
/** Int32 fields per slot: the counters above, then the quality inputs. */
export const SLOT_FIELDS = SLOT_QUALITY + QUALITY_INPUT_FIELDS;

/**
 * Where a raw RTP handler's verdict for one direction and payload type sits in a call's verdict
 * table (256 bytes, 1 = drop): the main thread records the handler's verdicts and the floor
 * applies them, so both index the table here.
 */
export function rawVerdictIndex(transmitting: boolean, payloadType: number): number {
  return (transmitting ? 128 : 0) + (payloadType & 0x7f);
}

/** What the floor needs at its start (`workerData`). */
export interface FloorInit {
  /** Which floor this is (0-based), for logs. */
  index: number;
  /** Address RTP binds to. */
  host: string;
  /** This floor's share of the RTP port range. */
  minPort: number;
  /** Last port of the share. */
  maxPort: number;
  /** Port choice within the share. */
  strategy: 'sequential' | 'random';
  /** The shared counters: {@link SLOT_FIELDS} Int32 per call slot (the floor's clock figures are in `clockBox`). */
  slots: SharedArrayBuffer;
  /** The main thread's commands that need not wake the floor ({@link CommandRing}). */
  commands: SharedArrayBuffer;
  /** The reply box of synchronous statistics reads ({@link STATS_BOX_BYTES}). */
  statsBox: SharedArrayBuffer;
  /** Where the floor publishes its clock figures and RTP port use (media/floorClockFigures.ts). */
  clockBox: SharedArrayBuffer;
  /** How far the floor raises its own thread's scheduling priority (`mediaThreadPriority`). */
  priority?: ThreadPriority;
  /**
   * Phase groups of the floor's clock and pump (the engine's `mediaPhaseGroups`; default 1):
   * its calls are spread over them and sent at their own offsets in the tick, as on the main thread.
   */
  phases?: number;
  /** The floor's RTP transport (`rtpTransport`). */
  transport?: 'dgram' | 'native';
}

/**
 * Bytes of a floor's reply box for a synchronous statistics read: an Int32 state (0 idle,
 * 1 answered), an Int32 length, then the statistics as JSON.
 */
export const STATS_BOX_BYTES = 64 * 1024;

/** Settings a call's media opens with (the line's). */
export interface FloorOpenOptions {
  /** Address for the CNAME. */
  localAddress: string;
  /** In-band DTMF detection. */
  dtmfDetect: boolean;
  /** Jitter buffer delay, ms. */
  jitterMs: number;
  /** Jitter buffer on. */
  jitterEnabled: boolean;
  /** RTCP CNAME. */
  cname: string;
  /** Line volumes. */
  volume: { rx: number; tx: number };
  /** Loopback on. */
  loopback: boolean;
  /** RTP keep-alive interval, ms (0 = off). */
  keepAliveMs: number;
  /** The line's Opus settings. */
  opus: OpusSettings;
  /** Silence suppression on. */
  suppression: boolean;
  /** The line, for raw RTP data. */
  phoneLine: number;
}

/** Setters forwarded as they are (each takes plain data and returns nothing the caller needs). */
export type FloorSetter = 'setVolume' | 'setLoopback' | 'setJitter' | 'setOpusSettings' | 'enableJitter' | 'setSilenceSuppression' | 'setKeepAlive' | 'setHeld' | 'stopWave';

/** Main thread to floor. `id` names a call's media (unique per engine run). */
export type ToFloor =
  | { t: 'open'; id: number; slot: number; o: FloorOpenOptions }
  | { t: 'configure'; id: number; p: MediaParams }
  | { t: 'start'; id: number }
  | { t: 'stop'; id: number }
  | { t: 'set'; id: number; m: FloorSetter; a: unknown[] }
  | { t: 'dtmf'; id: number; digits: string; method: 'rfc4733' | 'inband' }
  | { t: 'wav'; id: number; path: string; loop: boolean }
  | { t: 'levels'; id: number; on: boolean }
  | { t: 'raw'; id: number; on: boolean }
  | { t: 'rawVerdict'; id: number; transmitting: boolean; payloadType: number; drop: boolean }
  | { t: 'rec'; id: number; path: string | null; raw: boolean; rate: 8000 | 16000 | 48000; channels: 1 | 2; frames: boolean }
  | { t: 'recStop'; id: number }
  | { t: 'rxOpen'; id: number; ch: number; rate: 8000 | 16000 | 48000 }
  | { t: 'rxClose'; ch: number }
  | { t: 'txOpen'; id: number; ch: number; rate: 8000 | 16000 | 48000; onHold: boolean }
  | { t: 'txWrite'; ch: number; seq: number; data: Uint8Array }
  | { t: 'txEnd'; ch: number }
  | { t: 'frames'; id: number; ring: SharedArrayBuffer | null; rate: number }
  | { t: 'stats'; id: number }
  | { t: 'statsSync'; id: number; seq: number }
  | { t: 'shutdown' }
  | { t: 'crash' }
  | { t: 'spin'; ms: number };

/** Floor to main thread. */
export type FromFloor =
  | { t: 'ready' }
  | { t: 'opened'; id: number; localPort: number }
  | { t: 'openFailed'; id: number; error: string }
  | { t: 'stopped'; id: number }
  | { t: 'dtmf'; id: number; digit: string; method: 'rfc4733' | 'inband' }
  | { t: 'conflict'; id: number; address: string; port: number }
  | { t: 'handlerError'; id: number; message: string; count: number }
  | { t: 'wavFailed'; id: number; reason: string }
  | { t: 'wavEnd'; id: number; path: string }
  | { t: 'configureFailed'; id: number }
  | { t: 'recFrame'; id: number; rate: number; rx: Int16Array; tx: Int16Array; mixed: Int16Array }
  | { t: 'recError'; id: number; reason: string }
  | { t: 'recDone'; id: number; result: RecordingResult }
  | { t: 'rxData'; ch: number; data: Uint8Array }
  | { t: 'rxEnd'; ch: number }
  | { t: 'txAck'; ch: number; seq: number; error?: string }
  | { t: 'raw'; id: number; transmitting: boolean; packet: Uint8Array; payloadOffset: number }
  | { t: 'stats'; list: [number, MediaSessionStats][] }
  | { t: 'sched'; result: ThreadPriorityResult; step?: 'down' | 'up' };

/**
 * One direction of a call's conference audio across the thread boundary: a single-producer,
 * single-consumer ring of 20 ms frames in a SharedArrayBuffer. The writer copies a frame in and
 * advances its counter; the reader copies the oldest frame out, or finds none (then it uses
 * silence). Nothing is allocated per frame. Two rings (up and down) share one buffer.
 *
 * The two sides tick on different threads' clocks, and the main thread's (the bridge's) can
 * stall behind signalling for tens of milliseconds and then catch up. So the reader keeps a
 * cushion that follows what the stalls need, like a jitter buffer: after running dry it waits
 * for {@link FrameRing.cushion} frames, each dry spell adds one (up to
 * {@link FrameRing.MAX_CUSHION}), and ten quiet seconds take one away again. When more is
 * buffered than the cushion for half a second (a catch-up burst left it there), one frame is
 * dropped, so the delay a stall added does not stay. The ring holds 320 ms: a writer a whole
 * ring ahead overwrites the oldest frame.
 */
export class FrameRing {
  /** Frames a ring holds: 16 x 20 ms, more than a stalled thread's catch-up ever needs. */
  static readonly FRAMES = 16;
  /** Samples per frame slot (20 ms at 48 kHz). */
  static readonly FRAME = 960;
  /** The reader's cushion at the start and its floor: one frame to read, one to spare. */
  static readonly MIN_CUSHION = 2;
  /** The largest cushion a run of dry spells can build (160 ms). */
  static readonly MAX_CUSHION = 8;
  /** Reads with more than the cushion buffered before one frame is dropped (0.5 s). */
  static readonly DRAIN_READS = 25;
  /** Reads without a dry spell before the cushion shrinks by one frame (10 s). */
  static readonly SHRINK_READS = 500;
  /** Header of one direction: write count, read count, reads that found no frame, frames overwritten or dropped. */
  private static readonly HEADER = 16;
  /** Bytes of the buffer holding both directions of one call. */
  static readonly BYTES = 2 * (FrameRing.HEADER + FrameRing.FRAMES * FrameRing.FRAME * 2);

  private readonly ctl: Int32Array;
  private readonly data: Int16Array;
  /** The reader ran dry (or has not started): it waits for its cushion (reader side only). */
  private dry = true;
  /** The reader has had a frame: from then on a read that finds none is a lost frame. */
  private started = false;
  /** Frames the reader waits for after running dry (reader side only). */
  private target = FrameRing.MIN_CUSHION;
  /** Consecutive reads that left more than the cushion buffered. */
  private over = 0;
  /** Reads since the last dry spell. */
  private calm = 0;

  /** The `which`-th (0 = up: call to bridge, 1 = down: bridge to call) ring of `sab`. */
  constructor(sab: SharedArrayBuffer, which: 0 | 1) {
    const half = FrameRing.BYTES / 2;
    this.ctl = new Int32Array(sab, which * half, 4);
    this.data = new Int16Array(sab, which * half + FrameRing.HEADER, FrameRing.FRAMES * FrameRing.FRAME);
  }

  /** Writes a frame of `n` samples; when the reader is a whole ring behind, the oldest is overwritten. */
  write(frame: Int16Array, n: number): void {
    const w = Atomics.load(this.ctl, 0);
    const off = (w % FrameRing.FRAMES) * FrameRing.FRAME;
    const m = Math.min(n, FrameRing.FRAME);
    for (let i = 0; i < m; i++) this.data[off + i] = frame[i]!;
    Atomics.store(this.ctl, 0, w + 1);
    // a reader left behind skips ahead, so latency stays bounded by the ring
    const r = Atomics.load(this.ctl, 1);
    if (w + 1 - r > FrameRing.FRAMES && Atomics.compareExchange(this.ctl, 1, r, w + 1 - FrameRing.FRAMES) === r) Atomics.add(this.ctl, 3, 1);
  }

  /**
   * Frames this direction lost since it began: reads after the first frame that found none (the
   * writer's thread fell behind; the reader used silence), frames overwritten unread (the
   * reader's thread fell behind a whole ring) and frames dropped to take back the delay of a
   * catch-up. Either side may read it.
   */
  get lostFrames(): number {
    return Atomics.load(this.ctl, 2) + Atomics.load(this.ctl, 3);
  }

  /** The frames the reader now waits for after running dry (reader side). */
  get cushion(): number {
    return this.target;
  }

  /**
   * Copies the oldest unread frame into `out`; false (and `out` untouched) when there is none,
   * or when the reader, having run dry, still waits for its cushion (see the class notes).
   */
  read(out: Int16Array, n: number): boolean {
    let r = Atomics.load(this.ctl, 1);
    const available = Atomics.load(this.ctl, 0) - r;
    if (available <= 0 || (this.dry && available < this.target)) {
      if (this.started) {
        // a new dry spell: the next wait is one frame longer
        if (!this.dry && this.target < FrameRing.MAX_CUSHION) this.target++;
        Atomics.add(this.ctl, 2, 1);
      }
      this.dry = true;
      this.calm = 0;
      this.over = 0;
      return false;
    }
    this.dry = false;
    this.started = true;
    if (available - 1 > this.target) {
      if (++this.over >= FrameRing.DRAIN_READS && Atomics.compareExchange(this.ctl, 1, r, r + 1) === r) {
        // the delay of a catch-up burst: drop the oldest frame
        r++;
        this.over = 0;
        Atomics.add(this.ctl, 3, 1);
      }
    } else {
      this.over = 0;
    }
    if (++this.calm >= FrameRing.SHRINK_READS) {
      this.calm = 0;
      if (this.target > FrameRing.MIN_CUSHION) this.target--;
    }
    const off = (r % FrameRing.FRAMES) * FrameRing.FRAME;
    const m = Math.min(n, FrameRing.FRAME);
    for (let i = 0; i < m; i++) out[i] = this.data[off + i]!;
    Atomics.compareExchange(this.ctl, 1, r, r + 1);
    return true;
  }
}

/**
 * Messages to one thread, gathered over a task and posted as one array when it ends (a
 * microtask). Each `postMessage` wakes the receiving thread, and that wake (an eventfd write
 * and the futex behind it) cost as much as the message's own clone: a call's set-up and
 * hang-up send several commands in one task (open, configure, start; stop), and a floor's
 * answers come in bursts too. One post per task keeps the order and pays the wake once.
 */
export class MessageBatch<M> {
  private list: M[] = [];
  private transfer: ArrayBuffer[] = [];
  private queued = false;
  private readonly flushSoon = (): void => {
    this.queued = false;
    this.flush();
  };

  /** @param post sends one batch (the receiver handles its messages in order) */
  constructor(private readonly post: (batch: M[], transfer: ArrayBuffer[]) => void) {}

  /** Queues `m` (and the buffers it hands over) for the end of this task. */
  push(m: M, transfer?: readonly ArrayBuffer[]): void {
    this.list.push(m);
    if (transfer !== undefined) for (const b of transfer) this.transfer.push(b);
    if (!this.queued) {
      this.queued = true;
      queueMicrotask(this.flushSoon);
    }
  }

  /** Nothing is waiting to be posted. */
  empty(): boolean {
    return this.list.length === 0;
  }

  /** Posts what is queued now: before a synchronous wait on the receiver, or a close. */
  flush(): void {
    if (this.list.length === 0) return;
    const list = this.list;
    const transfer = this.transfer;
    this.list = [];
    this.transfer = [];
    this.post(list, transfer);
  }
}

/**
 * Commands the main thread leaves for a floor to pick up, without waking it. On this kind of
 * machine a `postMessage` to a thread asleep between its ticks cost the sender 20-40 µs (the
 * wake: an eventfd write and the scheduler behind it) against 2.5 µs to a busy one; a call's
 * set-up and hang-up send four or five commands, each in a task of its own, and at 1 000 calls
 * per second those wakes were a fifth of the main thread's time (bench:calls f). The floor
 * wakes every phase anyway, so most commands wait for it here: configure, start, stop and the
 * setters take effect at the floor's next phase (at most 20 ms / `mediaPhaseGroups` later).
 * An open waits too (its answer, the RTP port, comes back by message). What the main thread
 * waits on synchronously (a statistics read), a shutdown, and what hands memory over (IVR
 * writes, frame rings) still go by message.
 *
 * A single-producer, single-consumer byte ring in a SharedArrayBuffer: records of
 * `[length, after, kind, body]`, 4-byte aligned; a record that does not fit before the end
 * leaves a marker (-1) and starts again at 0. The body is the message as JSON (UTF-8) when the
 * writer says it is plain data, else v8-serialized as `postMessage` would clone it: `v8.serialize`
 * goes through a JavaScript serializer object and cost 3-6 µs per command on each side, JSON
 * 0.5-2 µs, and a call's set-up and hang-up send four or five commands. `after` is the number of message batches
 * the main thread had posted when it wrote the record: the floor takes a record only once it
 * has handled that many batches, and drains the ring before each batch it handles, so the two
 * ways keep the main thread's order.
 */
export class CommandRing {
  /** Bytes of records a ring holds: a few thousand commands, far more than a phase brings. */
  static readonly BYTES = 256 * 1024;
  /** Bytes of a record's header: length, `after`, kind. */
  private static readonly HEADER = 12;
  /** [0] = bytes written, [1] = bytes read (both wrap as int32; their difference is what is unread). */
  private readonly head: Int32Array;
  private readonly words: Int32Array;
  private readonly bytes: Buffer;
  private readonly mask = CommandRing.BYTES - 1;

  /** @param sab from {@link CommandRing.create}, shared by the two threads */
  constructor(readonly sab: SharedArrayBuffer) {
    this.head = new Int32Array(sab, 0, 2);
    this.words = new Int32Array(sab, 8, CommandRing.BYTES / 4);
    this.bytes = Buffer.from(sab, 8, CommandRing.BYTES);
  }

  /** The shared memory of a new, empty ring. */
  static create(): SharedArrayBuffer {
    return new SharedArrayBuffer(8 + CommandRing.BYTES);
  }

  /**
   * Writer: leaves `m`; false when it does not fit. `json`: `m` is plain data (strings, finite
   * numbers, booleans, null, arrays and objects of them; keys whose value is undefined may be
   * left out), so it travels as JSON; otherwise as `postMessage` would clone it.
   */
  write(m: unknown, after: number, json = false): boolean {
    const text = json ? JSON.stringify(m) : '';
    const body = json ? null : serialize(m);
    const len = body === null ? Buffer.byteLength(text, 'utf8') : body.length;
    const need = CommandRing.HEADER + ((len + 3) & ~3);
    const w = Atomics.load(this.head, 0);
    const free = CommandRing.BYTES - ((w - Atomics.load(this.head, 1)) | 0);
    let at = w & this.mask;
    const tail = CommandRing.BYTES - at;
    // a record that would cross the end starts at 0; the tail it skips counts as used
    const skip = need > tail ? tail : 0;
    if (skip + need > free) return false;
    if (skip > 0) {
      this.words[at >> 2] = -1;
      at = 0;
    }
    const i = at >> 2;
    this.words[i] = len;
    this.words[i + 1] = after;
    this.words[i + 2] = body === null ? KIND_JSON : KIND_V8;
    if (body === null) this.bytes.write(text, at + CommandRing.HEADER, len, 'utf8');
    else this.bytes.set(body, at + CommandRing.HEADER);
    // the record's bytes before the count that shows them (a sequentially consistent store)
    Atomics.store(this.head, 0, (w + skip + need) | 0);
    return true;
  }

  /**
   * Reader: hands over each record whose `after` is at most `handled`, in order, and stops at the
   * first that must wait for a later batch.
   */
  read(handled: number, take: (m: unknown) => void): void {
    const w = Atomics.load(this.head, 0);
    let r = Atomics.load(this.head, 1);
    while (r !== w) {
      let at = r & this.mask;
      if (this.words[at >> 2] === -1) {
        r = (r + CommandRing.BYTES - at) | 0;
        at = 0;
      }
      const i = at >> 2;
      const len = this.words[i]!;
      if (this.words[i + 1]! > handled) break;
      const start = at + CommandRing.HEADER;
      // both decode from a copy (the string, the Buffer): the writer may reuse the bytes once the count moves
      const m: unknown = this.words[i + 2] === KIND_JSON ? JSON.parse(this.bytes.toString('utf8', start, start + len)) : deserialize(Buffer.from(this.bytes.subarray(start, start + len)));
      r = (r + CommandRing.HEADER + ((len + 3) & ~3)) | 0;
      take(m);
    }
    Atomics.store(this.head, 1, r);
  }
}

/** A ring record's body as `v8.serialize` wrote it. */
const KIND_V8 = 0;
/** A ring record's body as UTF-8 JSON. */
const KIND_JSON = 1;
