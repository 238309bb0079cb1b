/**
 * IVR streams: the application's PCM view of one call's audio, as Node streams.
 *
 * - {@link IvrRxStream} (a `Readable`) delivers what the far end says: one Buffer of 16-bit
 *   little-endian mono PCM per 20 ms tick, at the rate the application asked for.
 * - {@link IvrTxStream} (a `Writable`) takes what the application wants the far end to hear:
 *   writes of any size are collected in a ring of about two seconds, and the media session
 *   takes exactly one frame per tick from it.
 *
 * The media session owns both ends: it feeds Rx channels from its receive path and drains Tx
 * channels in its send path, converting between the codec's rate and each channel's rate with
 * one resampler per channel (so every channel keeps its own filter history).
 *
 * Allocation: the Rx side allocates one Buffer per frame, because a `Readable` hands ownership
 * of every pushed chunk to the consumer; that is acceptable for an application-facing stream
 * (the RTP hot path itself does not allocate). The Tx side copies writes into its preallocated
 * ring and allocates nothing per frame.
 * @module
 */
import { endianness } from 'node:os';
import { Readable, Writable } from 'node:stream';
import type { MediaSink, MediaSource } from './mediaPorts.js';
import { createResampler, type Resampler } from './resample.js';

/** The PCM rates an IVR channel can run at. */
export type IvrSampleRate = 8000 | 16000 | 48000;

/** True when `rate` is one of the {@link IvrSampleRate}s. */
export function isIvrSampleRate(rate: number): rate is IvrSampleRate {
  return rate === 8000 || rate === 16000 || rate === 48000;
}

const LITTLE_ENDIAN = endianness() === 'LE';
/** Frames per second at the engine's 20 ms tick. */
const FRAMES_PER_SECOND = 50;
/** Largest codec frame the session hands us: 20 ms at 48 kHz. */
const MAX_CODEC_FRAME = 960;

/** Options of {@link IvrRxStream}. */
export interface IvrRxStreamOptions {
  /** Rate of the PCM delivered to the application. */
  sampleRate: IvrSampleRate;
  /** Rate of the frames the session feeds in (the codec's rate). */
  sourceRate: number;
  /**
   * Frames the stream may hold for a slow consumer before new ones are dropped. Default 50
   * (one second): enough to ride out a busy event loop, small enough to bound memory.
   */
  bufferedFrames?: number;
}

/**
 * Received audio as a byte stream: one chunk of `sampleRate / 50` 16-bit LE mono samples per
 * 20 ms tick. Backpressure is handled by dropping: while the consumer is not reading and the
 * stream already holds `bufferedFrames` frames, each new frame is discarded and counted in
 * {@link IvrRxStream.drops}, so a consumer that never reads costs a bounded amount of memory.
 * Create it with the media session's `openRx`, which adds it to the call's graph as a sink of
 * the received audio (`media/mediaPorts`).
 */
export class IvrRxStream extends Readable implements MediaSink {
  /** Rate of the delivered PCM. */
  readonly sampleRate: IvrSampleRate;
  /** Samples per delivered frame (160, 320 or 960). */
  readonly frameSamples: number;
  /** Frames dropped because the consumer was not reading. */
  drops = 0;
  /** Frames delivered to the stream's buffer. */
  frames = 0;

  private resampler: Resampler;
  private readonly pcm: Int16Array;
  private readonly pcmBytes: Uint8Array;
  private wanting = false;
  private closedFlag = false;

  /** Prefer the media session's `openRx`, which wires the stream to the call. */
  constructor(options: IvrRxStreamOptions) {
    const frameSamples = options.sampleRate / FRAMES_PER_SECOND;
    const frames = Math.max(1, Math.floor(options.bufferedFrames ?? 50));
    super({ highWaterMark: frames * frameSamples * 2 });
    this.sampleRate = options.sampleRate;
    this.frameSamples = frameSamples;
    this.pcm = new Int16Array(frameSamples);
    this.pcmBytes = new Uint8Array(this.pcm.buffer, 0, frameSamples * 2);
    this.resampler = createResampler(options.sourceRate, options.sampleRate);
  }

  /** True once the channel was closed (by the application or the end of the call). */
  get channelClosed(): boolean {
    return this.closedFlag;
  }

  /** The consumer wants more: frames flow again. */
  override _read(): void {
    this.wanting = true;
  }

  /**
   * The session's codec changed rate: new resampler, fresh filter history.
   * @internal
   */
  setSourceRate(rate: number): void {
    if (rate === this.resampler.fromRate) return;
    this.resampler = createResampler(rate, this.sampleRate);
  }

  /**
   * Takes one frame of `len` samples at the source rate, converts it and pushes it (or drops
   * it when the consumer is behind). Called by the session once per tick; never throws.
   * @internal
   */
  feed(frame: Int16Array, len: number): void {
    if (this.closedFlag) return;
    if (!this.wanting) {
      // not reading: drop, keeping the resampler's history moving so the audio stays continuous
      this.resampler.process(frame, len, this.pcm);
      this.drops++;
      return;
    }
    const n = this.resampler.process(frame, len, this.pcm);
    const bytes = n * 2;
    const chunk = Buffer.allocUnsafe(bytes); // the documented per-frame allocation
    if (LITTLE_ENDIAN) {
      if (n === this.frameSamples) chunk.set(this.pcmBytes);
      else for (let i = 0; i < bytes; i++) chunk[i] = this.pcmBytes[i]!;
    } else {
      for (let i = 0; i < n; i++) chunk.writeInt16LE(this.pcm[i]!, i * 2);
    }
    this.frames++;
    if (!this.push(chunk)) this.wanting = false;
  }

  /**
   * `MediaSink.write`: {@link IvrRxStream.feed} a frame at the session's rate.
   * @internal
   */
  write(frame: Int16Array, n: number, rate: number): void {
    if (rate === this.resampler.fromRate) this.feed(frame, n);
  }

  /**
   * `MediaPort.ended`: the application destroyed the stream.
   * @internal
   */
  get ended(): boolean {
    return this.destroyed;
  }

  /**
   * Ends the stream ('end' follows once the consumer has read what is buffered). Idempotent.
   * @internal
   */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.wanting = false;
    this.push(null);
  }
}

/** Options of {@link IvrTxStream}. */
export interface IvrTxStreamOptions {
  /** Rate of the PCM the application writes. */
  sampleRate: IvrSampleRate;
  /** Rate of the frames the session takes (the codec's rate). */
  targetRate: number;
  /** Ring size in ms. Default 2000. */
  bufferMs?: number;
}

/** The completion callback of a stream write. */
export type IvrWriteCallback = (error?: Error | null) => void;

/**
 * Audio for the far end as a byte stream of 16-bit LE mono PCM at `sampleRate`. Writes of any
 * size (odd byte counts included) are copied into a ring of about two seconds; when it is full
 * the write callback is held back until the session has played enough, which is ordinary
 * stream backpressure (`write()` returns false, `'drain'` follows). The session takes one
 * 20 ms frame per tick; when fewer samples are there, the rest of the frame is silence and
 * {@link IvrTxStream.underruns} counts it (only between the first write and `end()`). Ending
 * the stream (`end()`) lets the buffered audio play out; `'finish'` fires once it has.
 *
 * After the channel is closed (`closeTx` or the end of the call) the stream is destroyed, and
 * any further `write` reports an `'error'` event with a message saying so; the session is not
 * affected.
 */
export class IvrTxStream extends Writable implements MediaSource {
  /** Rate of the written PCM. */
  readonly sampleRate: IvrSampleRate;
  /** Samples taken from the ring per tick (160, 320 or 960). */
  readonly frameSamples: number;
  /** Ticks that found less than a frame buffered while the application was still writing. */
  underruns = 0;
  /** Frames taken from the ring. */
  frames = 0;
  /**
   * LanScape's two kinds of transmit data: false (the default) plays while the call is up and
   * pauses while we hold it; true plays only while we hold it (music or a message on hold).
   */
  onHold = false;
  /**
   * Whether the session's call is held by us (set by the session): the stream plays while it
   * equals {@link IvrTxStream.onHold}.
   * @internal
   */
  callHeld = false;

  private readonly ring: Int16Array;
  private head = 0;
  private count = 0;
  private readonly frame: Int16Array;
  private readonly converted = new Int16Array(MAX_CODEC_FRAME);
  private resampler: Resampler;
  /** A chunk that did not fit yet, where to continue in it, and its held-back callback. */
  private pendingChunk: Buffer | null = null;
  private pendingOffset = 0;
  private pendingCb: IvrWriteCallback | null = null;
  private finalCb: IvrWriteCallback | null = null;
  /** Low byte of a sample split across two writes, or -1. */
  private oddByte = -1;
  private wroteAny = false;
  private ending = false;
  private closedFlag = false;

  /** Prefer the media session's `openTx`, which wires the stream to the call. */
  constructor(options: IvrTxStreamOptions) {
    super({ decodeStrings: true });
    this.sampleRate = options.sampleRate;
    this.frameSamples = options.sampleRate / FRAMES_PER_SECOND;
    const ms = Math.max(40, options.bufferMs ?? 2000);
    this.ring = new Int16Array(Math.ceil((ms * options.sampleRate) / 1000));
    this.frame = new Int16Array(this.frameSamples);
    this.resampler = createResampler(options.sampleRate, options.targetRate);
  }

  /** True once the channel was closed (by the application or the end of the call). */
  get channelClosed(): boolean {
    return this.closedFlag;
  }

  /** Samples buffered and not yet played. */
  get bufferedSamples(): number {
    return this.count;
  }

  /**
   * Like `Writable.write`, except on a closed channel: then the chunk is refused with an
   * `'error'` event (and the callback) carrying a message that says the channel is closed,
   * instead of Node's silent rejection of writes to a destroyed stream.
   */
  override write(
    chunk: unknown,
    encodingOrCb?: BufferEncoding | IvrWriteCallback,
    cb?: IvrWriteCallback,
  ): boolean {
    if (this.closedFlag) {
      const callback = typeof encodingOrCb === 'function' ? encodingOrCb : cb;
      const err = new Error(
        `IVR Tx channel (${this.sampleRate} Hz) is closed: the call ended or closeTx() was called; write refused`,
      );
      process.nextTick(() => {
        if (callback) callback(err);
        this.emit('error', err);
      });
      return false;
    }
    if (typeof encodingOrCb === 'function') return super.write(chunk, encodingOrCb);
    if (encodingOrCb === undefined) return super.write(chunk, cb);
    return super.write(chunk, encodingOrCb, cb);
  }

  /** Copies what fits; holds the callback when the ring is full (backpressure). */
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: IvrWriteCallback): void {
    if (this.closedFlag) {
      callback();
      return;
    }
    if (chunk.length > 0) this.wroteAny = true;
    const used = this.copyIn(chunk, 0);
    if (used === chunk.length) callback();
    else {
      this.pendingChunk = chunk;
      this.pendingOffset = used;
      this.pendingCb = callback;
    }
  }

  /** The application ended the stream: play out what is buffered, then finish. */
  override _final(callback: IvrWriteCallback): void {
    this.ending = true;
    if (this.count === 0 || this.closedFlag) callback();
    else this.finalCb = callback;
  }

  /** Copies bytes of `chunk` from `offset` into the ring; returns the new offset. */
  private copyIn(chunk: Buffer, offset: number): number {
    const ring = this.ring;
    const cap = ring.length;
    let off = offset;
    const end = chunk.length;
    if (this.oddByte >= 0 && off < end && this.count < cap) {
      const v = this.oddByte | (chunk[off]! << 8);
      ring[(this.head + this.count) % cap] = v; // Int16Array stores wrap to signed
      this.count++;
      this.oddByte = -1;
      off++;
    }
    while (off + 1 < end && this.count < cap) {
      ring[(this.head + this.count) % cap] = chunk[off]! | (chunk[off + 1]! << 8);
      this.count++;
      off += 2;
    }
    if (off + 1 === end && this.count < cap && this.oddByte < 0) {
      // a sample split across writes: keep its low byte for the next write
      this.oddByte = chunk[off]!;
      off++;
    }
    return off;
  }

  /**
   * The session's codec changed rate: new resampler, fresh filter history.
   * @internal
   */
  setTargetRate(rate: number): void {
    if (rate === this.resampler.toRate) return;
    this.resampler = createResampler(this.sampleRate, rate);
  }

  /**
   * `MediaSource.read`: {@link IvrTxStream.mixInto} while the call's hold state is the one this
   * stream plays in (see {@link IvrTxStream.onHold}), at the session's rate.
   * @internal
   */
  read(out: Int16Array, n: number, rate: number): boolean {
    if (this.onHold !== this.callHeld || rate !== this.resampler.toRate) return false;
    return this.mixInto(out, n);
  }

  /**
   * `MediaPort.ended`: the application destroyed the stream, or the session closed it.
   * @internal
   */
  get ended(): boolean {
    return this.destroyed;
  }

  /**
   * Takes one 20 ms frame from the ring, converts it to the session's rate and adds it into
   * `out[0, len)` with 16-bit saturation. Returns true when the frame held any written audio.
   * Called by the session once per tick; never throws.
   * @internal
   */
  mixInto(out: Int16Array, len: number): boolean {
    if (this.closedFlag) return false;
    const n = this.frameSamples;
    const ring = this.ring;
    const cap = ring.length;
    const take = this.count < n ? this.count : n;
    const f = this.frame;
    for (let i = 0; i < take; i++) f[i] = ring[(this.head + i) % cap]!;
    if (take < n) {
      f.fill(0, take, n);
      if (this.wroteAny && !this.ending) this.underruns++;
    }
    this.head = (this.head + take) % cap;
    this.count -= take;
    this.frames++;
    this.refill();
    const m = this.resampler.process(f, n, this.converted);
    const c = this.converted;
    const k = m < len ? m : len;
    for (let i = 0; i < k; i++) {
      const v = out[i]! + c[i]!;
      out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
    return take > 0;
  }

  /** Moves a held-back chunk into the freed space and releases its callback when it is in. */
  private refill(): void {
    const chunk = this.pendingChunk;
    if (chunk !== null) {
      this.pendingOffset = this.copyIn(chunk, this.pendingOffset);
      if (this.pendingOffset >= chunk.length) {
        const cb = this.pendingCb;
        this.pendingChunk = null;
        this.pendingCb = null;
        if (cb) cb();
      }
    }
    if (this.finalCb !== null && this.count === 0 && this.pendingChunk === null) {
      const cb = this.finalCb;
      this.finalCb = null;
      cb();
    }
  }

  /**
   * Closes the channel: buffered audio is discarded, a held-back write completes, the stream is
   * destroyed ('close' follows) and later writes get an error event. Idempotent.
   * @internal
   */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.count = 0;
    const cb = this.pendingCb;
    this.pendingChunk = null;
    this.pendingCb = null;
    const fin = this.finalCb;
    this.finalCb = null;
    if (cb) cb();
    if (fin) fin();
    this.destroy();
  }
}
