/**
 * Recording of a call to disk while it runs: one 16-bit mono file of both directions mixed
 * (what the far end said plus what it heard), or a stereo one with each direction on its own
 * channel (left received, right sent), as WAV or as headerless PCM. The recorder is a
 * sink of both directions of the call's graph (`media/mediaPorts` `DuplexMediaSink`): each
 * media-clock tick the session writes the received frame to {@link CallRecorder.rx}, then the
 * frame sent to {@link CallRecorder.tx}; they are summed into a preallocated chunk and
 * written a second at a time with asynchronous writes, so the tick never waits on the disk and
 * allocates nothing. The WAV header (made by `wavefile`) is written first with zero sizes and
 * patched when the recording stops, so a crash leaves a file whose samples are all there.
 * @module
 */
import fs from 'node:fs';
import wavefilePkg from 'wavefile';
import type { DuplexMediaSink, MediaSink } from './mediaPorts.js';
import { createResampler, type Resampler } from './resample.js';

const { WaveFile } = wavefilePkg;

/** The frames of one tick, for the real-time record callback. */
export interface RecordFrame {
  /** Zero-based phone line. */
  readonly phoneLine: number;
  /** Sample rate of the three arrays in Hz. */
  readonly sampleRate: number;
  /** Valid samples in each array. */
  readonly samples: number;
  /** What the far end said (after the line's rx volume). */
  readonly rx: Int16Array;
  /** What the far end heard (after the tx volume). */
  readonly tx: Int16Array;
  /** Both summed with saturation: what the file gets. */
  readonly mixed: Int16Array;
}

/**
 * Real-time record callback: called every 20 ms with the tick's frames. The arrays are reused
 * every tick (copy what you keep); a throw is caught and ignored.
 */
export type RecordCallback = (frame: RecordFrame) => void;

/** Outcome of {@link CallRecorder.stop}. */
export interface RecordingResult {
  /** The file written, or null when recording only fed the callback. */
  readonly path: string | null;
  /** Samples written (per channel). */
  readonly samples: number;
  /** Sample rate of the file. */
  readonly sampleRate: number;
  /** The first write error, if any (the recording stopped there). */
  readonly error?: string;
}

/** Options of {@link CallRecorder.open}. */
export interface CallRecorderOptions {
  /** Zero-based line, passed to the callback. */
  readonly phoneLine: number;
  /** The file to write, or null to feed only the callback. */
  readonly path: string | null;
  /** Headerless PCM instead of WAV. */
  readonly raw: boolean;
  /** Rate of the file: the codec's at the start (later frames at another rate are converted). */
  readonly sampleRate: 8000 | 16000 | 48000;
  /** 1 (default): both directions summed; 2: left what the far end said, right what it heard. */
  readonly channels?: 1 | 2;
  /** Real-time callback. */
  readonly callback?: RecordCallback;
  /** Called once when a write fails (the recording stops writing). */
  readonly onError?: (reason: string) => void;
}

const HEADER_BYTES = 44;
/** Spare chunks kept for writes in flight; a slow disk beyond that allocates one more. */
const POOL = 3;

/** One recording; from {@link CallRecorder.open}. */
export class CallRecorder implements DuplexMediaSink {
  /** The received half: keeps this tick's received frame until the sent one arrives. */
  readonly rx: MediaSink;
  /** The sent half: records this tick's pair. */
  readonly tx: MediaSink;
  private fd: number | null;
  private chunk: Buffer;
  private fill = 0;
  private readonly pool: Buffer[] = [];
  private inFlight = 0;
  private drained: (() => void) | null = null;
  private error: string | undefined;
  private written = 0;
  private position: number;
  private stopping: Promise<RecordingResult> | null = null;
  private readonly mixed: Int16Array;
  private readonly conv: Int16Array;
  /** This tick's received frame, copied by the rx half (the session reuses its array). */
  private readonly rxFrame = new Int16Array(960);
  private resampler: Resampler | null = null;
  /** Stereo only: the sent direction's resampler (each direction keeps its own filter state). */
  private txResampler: Resampler | null = null;
  private readonly channels: 1 | 2;
  /** Stereo only: the sent frame after a rate change. */
  private readonly txConv: Int16Array;
  private readonly frame: { phoneLine: number; sampleRate: number; samples: number; rx: Int16Array; tx: Int16Array; mixed: Int16Array };

  private constructor(
    private readonly opts: CallRecorderOptions,
    fd: number | null,
  ) {
    this.fd = fd;
    this.position = fd !== null && !opts.raw ? HEADER_BYTES : 0;
    this.channels = opts.channels ?? 1;
    const chunkBytes = opts.sampleRate * 2 * this.channels; // one second
    this.chunk = Buffer.allocUnsafe(chunkBytes);
    for (let i = 0; i < POOL; i++) this.pool.push(Buffer.allocUnsafe(chunkBytes));
    this.mixed = new Int16Array(960);
    this.conv = new Int16Array(960);
    this.txConv = new Int16Array(this.channels === 2 ? 960 : 0);
    this.frame = { phoneLine: opts.phoneLine, sampleRate: 0, samples: 0, rx: this.mixed, tx: this.mixed, mixed: this.mixed };
    // both halves end with the recording, so the session's graph drops them by itself
    const ended = (): boolean => this.stopping !== null;
    const rxFrame = this.rxFrame;
    this.rx = {
      get ended() {
        return ended();
      },
      write: (frame: Int16Array, n: number): void => {
        // a loop, not set(subarray): a view would be an allocation per tick
        for (let i = 0; i < n; i++) rxFrame[i] = frame[i]!;
      },
    };
    this.tx = {
      get ended() {
        return ended();
      },
      write: (frame: Int16Array, n: number, rate: number): void => this.tap(rxFrame, frame, n, rate),
    };
  }

  /**
   * Create the file (and its WAV header) synchronously, so a bad directory is reported at once.
   * @returns the recorder, or the reason the file could not be created.
   */
  static open(opts: CallRecorderOptions): CallRecorder | { error: string } {
    let fd: number | null = null;
    if (opts.path !== null) {
      try {
        fd = fs.openSync(opts.path, 'w');
        if (!opts.raw) fs.writeSync(fd, wavHeader(opts.sampleRate, opts.channels ?? 1));
      } catch (err) {
        if (fd !== null) fs.closeSync(fd);
        return { error: (err as Error).message };
      }
    }
    return new CallRecorder(opts, fd);
  }

  /**
   * Records one tick's frames (what {@link CallRecorder.tx} does with the received frame kept
   * by {@link CallRecorder.rx}). Allocates nothing (except a rate change's resampler).
   */
  readonly tap = (rx: Int16Array, tx: Int16Array, samples: number, sampleRate: number): void => {
    if (this.stopping !== null) return;
    const m = this.mixed;
    for (let i = 0; i < samples; i++) {
      const v = rx[i]! + tx[i]!;
      m[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
    const cb = this.opts.callback;
    if (cb !== undefined) {
      const f = this.frame;
      f.sampleRate = sampleRate;
      f.samples = samples;
      f.rx = rx;
      f.tx = tx;
      try {
        cb(f);
      } catch {
        /* the application's problem; the recording goes on */
      }
    }
    if (this.fd === null || this.error !== undefined) return;
    if (this.channels === 2) {
      this.appendStereo(rx, tx, samples, sampleRate);
      return;
    }
    let src = m;
    let n = samples;
    if (sampleRate !== this.opts.sampleRate) {
      // a re-INVITE changed the codec: the file keeps its rate
      const r = this.resampler;
      if (r === null || r.fromRate !== sampleRate) this.resampler = createResampler(sampleRate, this.opts.sampleRate);
      n = this.resampler!.process(m, samples, this.conv);
      src = this.conv;
    }
    this.append(src, n);
  };

  /** Stereo: the two directions interleaved, each converted on its own when the rate changed. */
  private appendStereo(rx: Int16Array, tx: Int16Array, samples: number, sampleRate: number): void {
    let left = rx;
    let right = tx;
    let n = samples;
    if (sampleRate !== this.opts.sampleRate) {
      if (this.resampler === null || this.resampler.fromRate !== sampleRate) {
        this.resampler = createResampler(sampleRate, this.opts.sampleRate);
        this.txResampler = createResampler(sampleRate, this.opts.sampleRate);
      }
      n = this.resampler.process(rx, samples, this.conv);
      this.txResampler!.process(tx, samples, this.txConv);
      left = this.conv;
      right = this.txConv;
    }
    let c = this.chunk;
    for (let i = 0; i < n; i++) {
      if (this.fill + 4 > c.length) {
        this.flush();
        c = this.chunk;
      }
      c.writeInt16LE(left[i]!, this.fill);
      c.writeInt16LE(right[i]!, this.fill + 2);
      this.fill += 4;
    }
  }

  private append(src: Int16Array, n: number): void {
    let c = this.chunk;
    for (let i = 0; i < n; i++) {
      if (this.fill + 2 > c.length) {
        this.flush();
        c = this.chunk;
      }
      c.writeInt16LE(src[i]!, this.fill);
      this.fill += 2;
    }
  }

  /** Hand the current chunk to the disk and continue in a spare one. */
  private flush(): void {
    const fd = this.fd;
    if (fd === null || this.fill === 0) return;
    const full = this.chunk;
    const len = this.fill;
    const at = this.position;
    this.position += len;
    this.chunk = this.pool.pop() ?? Buffer.allocUnsafe(full.length);
    this.fill = 0;
    this.inFlight++;
    fs.write(fd, full, 0, len, at, (err) => {
      this.inFlight--;
      if (this.pool.length < POOL) this.pool.push(full);
      if (err) this.fail(err.message);
      else this.written += len / 2;
      if (this.inFlight === 0 && this.drained !== null) this.drained();
    });
  }

  private fail(reason: string): void {
    if (this.error !== undefined) return;
    this.error = reason;
    try {
      this.opts.onError?.(reason);
    } catch {
      /* ignore */
    }
  }

  /** Stop: write what is buffered, patch the WAV sizes, close the file. Idempotent. */
  stop(): Promise<RecordingResult> {
    if (this.stopping !== null) return this.stopping;
    this.stopping = (async () => {
      if (this.error === undefined) this.flush();
      if (this.inFlight > 0) await new Promise<void>((r) => (this.drained = r));
      const fd = this.fd;
      this.fd = null;
      if (fd !== null) {
        try {
          if (!this.opts.raw && this.error === undefined) {
            const bytes = this.written * 2;
            const b = Buffer.alloc(4);
            b.writeUInt32LE(36 + bytes, 0);
            fs.writeSync(fd, b, 0, 4, 4);
            b.writeUInt32LE(bytes, 0);
            fs.writeSync(fd, b, 0, 4, 40);
          }
        } catch (err) {
          this.fail((err as Error).message);
        }
        try {
          fs.closeSync(fd);
        } catch {
          /* already gone */
        }
      }
      return {
        path: this.opts.path,
        samples: this.written / this.channels,
        sampleRate: this.opts.sampleRate,
        ...(this.error !== undefined ? { error: this.error } : {}),
      };
    })();
    return this.stopping;
  }
}

/** A 44-byte PCM WAV header with zero data size, from wavefile so the layout is the library's. */
function wavHeader(rate: number, channels: 1 | 2): Buffer {
  const w = new WaveFile();
  w.fromScratch(channels, rate, '16', channels === 2 ? [new Int16Array(0), new Int16Array(0)] : new Int16Array(0));
  const b = Buffer.from(w.toBuffer());
  if (b.length !== HEADER_BYTES) throw new Error(`unexpected WAV header length ${b.length}`);
  return b;
}
