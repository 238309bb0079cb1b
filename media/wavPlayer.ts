/**
 * WAV file playback for a call: load a file once (with `wavefile`), turn it into mono 16-bit
 * PCM at the codec's rate, then hand out one 20 ms frame per tick.
 *
 * Accepted files: RIFF/RIFX WAVE with integer PCM of 8, 16, 24 or 32 bits or IEEE float of 32
 * or 64 bits, one or two channels (stereo is averaged to mono), at 8000, 11025, 16000, 22050,
 * 32000, 44100 or 48000 Hz. Rate conversion: integer ratios (8 ↔ 16 ↔ 48 kHz) use the engine's
 * polyphase resampler (`createResampler`); other ratios (44.1 kHz and its family) use a
 * windowed-sinc polyphase converter defined here, with one exact phase per output position
 * of the reduced ratio (160 phases for 44.1 → 8 kHz), a Kaiser window and a pass band up to
 * 90 % of the lower Nyquist frequency: about 70 dB of alias rejection, far beyond what G.711
 * can carry. Conversion happens once at load, in slices that yield to the event loop so a long
 * prompt never stalls the media clock.
 *
 * Nothing here throws at the caller: a file that cannot be used yields a result code.
 * @module
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import wavefilePkg from 'wavefile';
import type { MediaSource } from './mediaPorts.js';
import { besselI0, createResampler } from './resample.js';

const { WaveFile } = wavefilePkg;

/** Outcome of loading or playing a WAV file. */
export type WavLoadResult = 'ok' | 'not-found' | 'bad-format' | 'empty';

/** File sample rates accepted. */
export const WAV_SAMPLE_RATES: readonly number[] = Object.freeze([8000, 11025, 16000, 22050, 32000, 44100, 48000]);

/** Largest file read, bytes (about 22 minutes of 48 kHz stereo 16-bit); larger is `bad-format`. */
export const WAV_MAX_BYTES = 256 * 1024 * 1024;

/** A decoded file: mono 16-bit PCM at the file's own rate. */
export interface WavAudio {
  /** Where it came from. */
  readonly path: string;
  /** The file's rate. */
  readonly sampleRate: number;
  /** Channels in the file (before the downmix). */
  readonly channels: number;
  /** Mono samples. */
  readonly samples: Int16Array;
}

/** A file {@link loadWav} could decode. */
export interface WavLoadOk {
  /** Discriminator. */
  readonly result: 'ok';
  /** The decoded audio. */
  readonly audio: WavAudio;
}

/** A file {@link loadWav} could not use. */
export interface WavLoadFailure {
  /** Why, as a result code. */
  readonly result: Exclude<WavLoadResult, 'ok'>;
  /** Why, for logs: the path and the underlying message. */
  readonly detail: string;
}

/** What {@link loadWav} returns. */
export type WavLoad = WavLoadOk | WavLoadFailure;

/** The parts of wavefile's `fmt` chunk we read. */
interface WavFmt {
  audioFormat: number;
  numChannels: number;
  sampleRate: number;
  bitsPerSample: number;
}

/**
 * Reads and decodes a WAV file. `not-found` when it cannot be read (missing, a directory, no
 * permission); `bad-format` when it is not a WAV file we can play; `empty` when it holds no
 * samples (or is a zero-byte file). Never rejects.
 */
export async function loadWav(path: string): Promise<WavLoad> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    return { result: 'not-found', detail: `${path}: ${(err as Error).message}` };
  }
  return decodeWav(path, bytes);
}

/** Bytes {@link probeWav} reads: the RIFF header and the chunks that usually precede the samples. */
const PROBE_BYTES = 4096;

/**
 * A quick synchronous look at a WAV file's header, so a caller that must answer at once (the
 * engine's `playWaveFile` returns its code before the file is read) can refuse a missing file,
 * an empty one or one that is no WAV we play. It reads at most 4 KiB, whatever the file's size:
 * the samples themselves are read and decoded later by {@link loadWav}, off the media clock's
 * path. `ok` means "worth loading", not "will play": a file whose header lies fails then.
 * Never throws.
 */
export function probeWav(path: string): WavLoadResult {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return 'not-found';
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return 'not-found';
    if (st.size === 0) return 'empty';
    if (st.size > WAV_MAX_BYTES) return 'bad-format';
    const head = Buffer.alloc(Math.min(PROBE_BYTES, st.size));
    const n = readSync(fd, head, 0, head.length, 0);
    return probeHeader(head.subarray(0, n));
  } catch {
    return 'not-found';
  } finally {
    closeSync(fd);
  }
}

/** The header checks of {@link probeWav} on the first bytes of a file. */
function probeHeader(b: Buffer): WavLoadResult {
  if (b.length < 12) return 'bad-format';
  const riff = b.toString('latin1', 0, 4);
  if ((riff !== 'RIFF' && riff !== 'RIFX') || b.toString('latin1', 8, 12) !== 'WAVE') return 'bad-format';
  const le = riff === 'RIFF';
  const u16 = (o: number): number => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  let pos = 12;
  while (pos + 8 <= b.length) {
    const id = b.toString('latin1', pos, pos + 4);
    const size = u32(pos + 4);
    const body = pos + 8;
    if (id === 'fmt ') {
      if (body + 16 > b.length) return 'ok'; // cut by the probe: the loader decides
      const format = u16(body);
      const channels = u16(body + 2);
      const rate = u32(body + 4);
      const bits = u16(body + 14);
      if (format !== 1 && format !== 3 && format !== 0xfffe) return 'bad-format';
      if (channels !== 1 && channels !== 2) return 'bad-format';
      if (!WAV_SAMPLE_RATES.includes(rate)) return 'bad-format';
      if (bits !== 8 && bits !== 16 && bits !== 24 && bits !== 32 && bits !== 64) return 'bad-format';
    } else if (id === 'data') {
      return size === 0 ? 'empty' : 'ok';
    }
    pos = body + size + (size & 1); // chunks are padded to even sizes
  }
  return 'ok';
}

/** Decodes WAV bytes already in memory; see {@link loadWav}. Never throws. */
export function decodeWav(path: string, bytes: Uint8Array): WavLoad {
  if (bytes.length > WAV_MAX_BYTES) return { result: 'bad-format', detail: `${path}: larger than ${WAV_MAX_BYTES} bytes` };
  if (bytes.length === 0) return { result: 'empty', detail: `${path}: zero-length file` };
  let wav: InstanceType<typeof WaveFile>;
  try {
    wav = new WaveFile(bytes);
  } catch (err) {
    return { result: 'bad-format', detail: `${path}: ${(err as Error).message}` };
  }
  const fmt = wav.fmt as WavFmt;
  const bits = fmt.bitsPerSample;
  // WAVE_FORMAT_EXTENSIBLE (0xFFFE) carries PCM or float in its sub-format; wavefile reports bitDepth for it
  const bitDepth = (wav as unknown as { bitDepth: string }).bitDepth;
  const isFloat = bitDepth === '32f' || bitDepth === '64';
  const isInt = bitDepth === '8' || bitDepth === '16' || bitDepth === '24' || bitDepth === '32';
  if ((fmt.audioFormat !== 1 && fmt.audioFormat !== 3 && fmt.audioFormat !== 0xfffe) || !(isFloat || isInt)) {
    return { result: 'bad-format', detail: `${path}: unsupported encoding (format ${fmt.audioFormat}, ${bits} bits)` };
  }
  if (fmt.numChannels !== 1 && fmt.numChannels !== 2) {
    return { result: 'bad-format', detail: `${path}: ${fmt.numChannels} channels (mono or stereo only)` };
  }
  if (!WAV_SAMPLE_RATES.includes(fmt.sampleRate)) {
    return { result: 'bad-format', detail: `${path}: unsupported sample rate ${fmt.sampleRate} Hz` };
  }
  let interleaved: Float64Array;
  try {
    interleaved = wav.getSamples(true);
  } catch (err) {
    return { result: 'bad-format', detail: `${path}: ${(err as Error).message}` };
  }
  const ch = fmt.numChannels;
  const frames = Math.floor(interleaved.length / ch);
  if (frames === 0) return { result: 'empty', detail: `${path}: no samples` };
  // scale every format to the 16-bit range
  let scale = 1;
  let offset = 0;
  if (isFloat) scale = 32767;
  else if (bitDepth === '8') {
    offset = -128; // 8-bit WAV is unsigned
    scale = 256;
  } else if (bitDepth === '24') scale = 1 / 256;
  else if (bitDepth === '32') scale = 1 / 65536;
  const samples = new Int16Array(frames);
  for (let i = 0; i < frames; i++) {
    let v = 0;
    for (let c = 0; c < ch; c++) v += interleaved[i * ch + c]!;
    v = ((v / ch + offset) * scale);
    const r = Math.round(v);
    samples[i] = r > 32767 ? 32767 : r < -32768 ? -32768 : r;
  }
  return { result: 'ok', audio: { path, sampleRate: fmt.sampleRate, channels: ch, samples } };
}

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}


/** Output samples converted per slice before yielding to the event loop. */
const SLICE = 8000;

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Converts a whole mono buffer from `from` Hz to `to` Hz. Integer ratios go through the engine
 * resampler, the others through a rational windowed-sinc polyphase filter (see the module
 * notes). With `yieldEvery` the work is cut into slices separated by event-loop turns.
 */
export async function convertSampleRate(input: Int16Array, from: number, to: number, yieldEvery = true): Promise<Int16Array> {
  if (from === to) return input;
  if (from % to === 0 || to % from === 0) {
    const rs = createResampler(from, to);
    const outLen = Math.floor((input.length * to) / from);
    const out = new Int16Array(outLen + 16);
    // slices of whole low-rate samples keep the polyphase bookkeeping exact
    const step = from > to ? (from / to) * 960 : 960;
    const tmp = new Int16Array(Math.ceil((step * to) / from) + 16);
    let o = 0;
    for (let i = 0; i < input.length; i += step) {
      const n = Math.min(step, input.length - i);
      const got = rs.process(input.subarray(i, i + n), n, tmp);
      for (let k = 0; k < got && o < out.length; k++) out[o++] = tmp[k]!;
      if (yieldEvery && i % (step * 50) === 0 && i > 0) await yieldToLoop();
    }
    return out.subarray(0, Math.min(o, outLen));
  }
  return sincConvert(input, from, to, yieldEvery);
}

/**
 * Rational polyphase conversion by L/M (the reduced `to/from`): output j sits at input position
 * j·M/L, whose fractional part is exactly one of L phases, each with its own precomputed taps.
 */
async function sincConvert(input: Int16Array, from: number, to: number, yieldEvery: boolean): Promise<Int16Array> {
  const g = gcd(from, to);
  const L = to / g;
  const M = from / g;
  // cutoff in cycles per input sample: 90 % of the lower Nyquist frequency
  const fc = (0.5 * 0.9 * Math.min(from, to)) / from;
  const zeroCrossings = 16;
  const half = Math.ceil(zeroCrossings / (2 * fc));
  const taps = 2 * half;
  const beta = 7;
  const i0b = besselI0(beta);
  const table = new Float64Array(L * taps);
  for (let p = 0; p < L; p++) {
    const frac = p / L;
    let sum = 0;
    for (let k = 0; k < taps; k++) {
      // tap k weighs input sample i0 - half + 1 + k; u = its distance from the output position
      const u = k - half + 1 - frac;
      const x = 2 * fc * u;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const r = u / half;
      const w = r * r >= 1 ? 0 : besselI0(beta * Math.sqrt(1 - r * r)) / i0b;
      const h = sinc * w;
      table[p * taps + k] = h;
      sum += h;
    }
    if (sum !== 0) for (let k = 0; k < taps; k++) table[p * taps + k]! /= sum; // unity gain at DC
  }
  const outLen = Math.floor((input.length * L) / M);
  const out = new Int16Array(outLen);
  const n = input.length;
  for (let j = 0; j < outLen; j++) {
    const pos = j * M;
    const i0 = Math.floor(pos / L);
    const p = pos - i0 * L;
    const base = p * taps;
    const first = i0 - half + 1;
    let acc = 0;
    if (first >= 0 && first + taps <= n) {
      for (let k = 0; k < taps; k++) acc += table[base + k]! * input[first + k]!;
    } else {
      for (let k = 0; k < taps; k++) {
        const idx = first + k;
        if (idx >= 0 && idx < n) acc += table[base + k]! * input[idx]!;
      }
    }
    const r = Math.round(acc);
    out[j] = r > 32767 ? 32767 : r < -32768 ? -32768 : r;
    if (yieldEvery && j > 0 && j % SLICE === 0) await yieldToLoop();
  }
  return out;
}

/**
 * Plays one loaded file into 20 ms frames at a fixed rate. Create it with
 * {@link WavPlayer.create}; as a source of a session's graph (`media/mediaPorts`) it is read
 * once per tick, and {@link WavPlayer.ended} takes it out once a non-looping file has played.
 */
export class WavPlayer implements MediaSource {
  /** The file. */
  readonly audio: WavAudio;
  /** Start again at the end. */
  readonly loop: boolean;
  /** Frames played. */
  frames = 0;
  private pcm: Int16Array;
  private rate: number;
  private pos = 0;
  private done = false;

  private constructor(audio: WavAudio, pcm: Int16Array, rate: number, loop: boolean) {
    this.audio = audio;
    this.pcm = pcm;
    this.rate = rate;
    this.loop = loop;
  }

  /** Prepares `audio` for playback at `rate` (the codec's PCM rate); converts as needed. */
  static async create(audio: WavAudio, rate: number, loop: boolean): Promise<WavPlayer> {
    const pcm = await convertSampleRate(audio.samples, audio.sampleRate, rate);
    return new WavPlayer(audio, pcm, rate, loop);
  }

  /** Rate of the frames produced. */
  get sampleRate(): number {
    return this.rate;
  }

  /** True once a non-looping file has played to its end. */
  get finished(): boolean {
    return this.done;
  }

  /** Position in ms from the start of the file. */
  get positionMs(): number {
    return (this.pos * 1000) / this.rate;
  }

  /** Length of the file in ms. */
  get durationMs(): number {
    return (this.audio.samples.length * 1000) / this.audio.sampleRate;
  }

  /**
   * Re-targets playback to a new rate (the codec changed), keeping the position. Converts the
   * whole file again (in slices); until the promise resolves the frames are still at the old
   * rate, so the caller should not mix meanwhile.
   */
  async setRate(rate: number): Promise<void> {
    if (rate === this.rate) return;
    const pcm = await convertSampleRate(this.audio.samples, this.audio.sampleRate, rate);
    this.pos = Math.min(pcm.length, Math.round((this.pos * rate) / this.rate));
    this.pcm = pcm;
    this.rate = rate;
  }

  /**
   * Adds the next `len` samples into `out` with 16-bit saturation. Returns false (adding
   * nothing more) once a non-looping file has ended. Allocates nothing.
   */
  mixInto(out: Int16Array, len: number): boolean {
    if (this.done) return false;
    const src = this.pcm;
    const n = src.length;
    if (n === 0) {
      this.done = true;
      return false;
    }
    let i = 0;
    while (i < len) {
      if (this.pos >= n) {
        if (!this.loop) {
          this.done = true;
          break;
        }
        this.pos = 0;
      }
      const take = Math.min(len - i, n - this.pos);
      let p = this.pos;
      for (let k = 0; k < take; k++) {
        const v = out[i + k]! + src[p++]!;
        out[i + k] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
      }
      this.pos = p;
      i += take;
    }
    this.frames++;
    if (!this.loop && this.pos >= n) this.done = true;
    return true;
  }

  /**
   * `MediaSource.read`: {@link WavPlayer.mixInto} when `rate` is the player's rate; at another
   * rate nothing (the owner converts with {@link WavPlayer.setRate} first).
   */
  read(out: Int16Array, n: number, rate: number): boolean {
    return rate === this.rate && this.mixInto(out, n);
  }

  /** `MediaPort.ended`: a non-looping file has played to its end. */
  get ended(): boolean {
    return this.done;
  }

  /** Back to the start. */
  rewind(): void {
    this.pos = 0;
    this.done = false;
  }
}
