/**
 * libspeexdsp through koffi: acoustic echo cancellation ({@link SpeexEchoCanceller}), noise
 * suppression, automatic gain control and voice activity detection ({@link SpeexPreprocessor}),
 * and sample-rate conversion ({@link SpeexResampler}).
 *
 * Loading is lazy (see `ffi/loader.ts`): nothing native is touched until the first `create`.
 * Every `create` returns a {@link SpeexResult} and never throws; when the library is not
 * installed the failure's `code` is `'library-missing'`, which engine entry points report as
 * `TelephonyReturnValue.SipNativeLibraryMissing` (and `'invalid-argument'` / `'init-failed'` as
 * `TelephonyReturnValue.SipCallFailure`).
 *
 * The per-frame methods (`process`) pass caller-owned `Int16Array`s straight to C as `short *`
 * (koffi hands native code a pointer into the array's memory for the duration of the call) and
 * use length counters preallocated per object, so they allocate nothing per frame. Native state
 * is freed by `close()`; a `FinalizationRegistry` frees it too if an object is dropped unclosed,
 * but that is a safety net, not a substitute for `close()`.
 *
 * C prototypes are declared with `void *` for the opaque state handles: koffi 3 represents every
 * pointer as a BigInt that carries no C type, so a named opaque type would add no checking.
 * @module
 */
import { loadSpeexDsp, type NativeFunction, type NativeLibraryHandle, type NativeLoadFailure } from './loader.js';

// ---- request numbers from speex_echo.h and speex_preprocess.h -------------------------------------
const SPEEX_ECHO_SET_SAMPLING_RATE = 24;

const PP_SET_DENOISE = 0;
const PP_SET_AGC = 2;
const PP_SET_AGC_LEVEL = 6;
const PP_SET_PROB_START = 14;
const PP_SET_PROB_CONTINUE = 16;
const PP_SET_NOISE_SUPPRESS = 18;
const PP_SET_ECHO_SUPPRESS = 20;
const PP_SET_ECHO_SUPPRESS_ACTIVE = 22;
const PP_SET_ECHO_STATE = 24;
const PP_SET_AGC_INCREMENT = 26;
const PP_SET_AGC_DECREMENT = 28;
const PP_SET_AGC_MAX_GAIN = 30;
const PP_GET_AGC_GAIN = 35;
const PP_GET_PROB = 45;

/** Why a `create` failed. */
export type SpeexErrorCode =
  /** libspeexdsp (or koffi) could not be loaded: map to `TelephonyReturnValue.SipNativeLibraryMissing`. */
  | 'library-missing'
  /** An option was out of range (rate, frame size, quality…): a caller bug. */
  | 'invalid-argument'
  /** The library returned no state (out of memory) or an error code. */
  | 'init-failed';

/** A failed `create`: a code for the engine to map to a return value, and a sentence for logs. */
export interface SpeexFailure {
  /** Always false. */
  readonly ok: false;
  /** Machine-readable cause; `'library-missing'` maps to `TelephonyReturnValue.SipNativeLibraryMissing`. */
  readonly code: SpeexErrorCode;
  /** Human-readable detail (which files were tried, which option was wrong). */
  readonly reason: string;
}

/** A successful `create`. */
export interface SpeexSuccess<T> {
  /** Always true. */
  readonly ok: true;
  /** The new object; call its `close()` when done. */
  readonly value: T;
}

/** The result of a `create`: the object, or a {@link SpeexFailure}. Never thrown. */
export type SpeexResult<T> = SpeexSuccess<T> | SpeexFailure;

/** The libspeexdsp functions the wrappers call, bound once per process. */
interface SpeexDspApi {
  readonly echoInit: NativeFunction;
  readonly echoDestroy: NativeFunction;
  readonly echoCancellation: NativeFunction;
  readonly echoReset: NativeFunction;
  readonly echoCtl: NativeFunction;
  readonly ppInit: NativeFunction;
  readonly ppDestroy: NativeFunction;
  readonly ppRun: NativeFunction;
  readonly ppCtl: NativeFunction;
  readonly rsInit: NativeFunction;
  readonly rsDestroy: NativeFunction;
  readonly rsProcessInt: NativeFunction;
  readonly rsResetMem: NativeFunction;
  readonly rsInputLatency: NativeFunction;
  readonly rsStrerror: NativeFunction;
}

let bound: { lib: NativeLibraryHandle; api: SpeexDspApi } | undefined;

function bind(lib: NativeLibraryHandle): SpeexDspApi {
  return {
    echoInit: lib.func('void *speex_echo_state_init(int frame_size, int filter_length)'),
    echoDestroy: lib.func('void speex_echo_state_destroy(void *st)'),
    echoCancellation: lib.func('void speex_echo_cancellation(void *st, const int16_t *rec, const int16_t *play, int16_t *out)'),
    echoReset: lib.func('void speex_echo_state_reset(void *st)'),
    echoCtl: lib.func('int speex_echo_ctl(void *st, int request, void *ptr)'),
    ppInit: lib.func('void *speex_preprocess_state_init(int frame_size, int sampling_rate)'),
    ppDestroy: lib.func('void speex_preprocess_state_destroy(void *st)'),
    ppRun: lib.func('int speex_preprocess_run(void *st, int16_t *x)'),
    ppCtl: lib.func('int speex_preprocess_ctl(void *st, int request, void *ptr)'),
    rsInit: lib.func('void *speex_resampler_init(uint32_t nb_channels, uint32_t in_rate, uint32_t out_rate, int quality, int *err)'),
    rsDestroy: lib.func('void speex_resampler_destroy(void *st)'),
    rsProcessInt: lib.func(
      'int speex_resampler_process_int(void *st, uint32_t channel_index, const int16_t *in, uint32_t *in_len, int16_t *out, uint32_t *out_len)',
    ),
    rsResetMem: lib.func('int speex_resampler_reset_mem(void *st)'),
    rsInputLatency: lib.func('int speex_resampler_get_input_latency(void *st)'),
    rsStrerror: lib.func('const char *speex_resampler_strerror(int err)'),
  };
}

/** Load and bind libspeexdsp, or say why not. Never throws. */
function speexApi(): { ok: true; api: SpeexDspApi } | SpeexFailure {
  const loaded = loadSpeexDsp();
  if (!loaded.ok) return { ok: false, code: 'library-missing', reason: loaded.reason };
  if (bound === undefined || bound.lib !== loaded.lib) {
    try {
      bound = { lib: loaded.lib, api: bind(loaded.lib) };
    } catch (err) {
      // an old or stripped build without one of the symbols counts as missing
      return { ok: false, code: 'library-missing', reason: `libspeexdsp lacks a symbol: ${err instanceof Error ? err.message : String(err)}` };
    }
  }
  return { ok: true, api: bound.api };
}

/** libspeexdsp is loaded and every function the wrappers need is bound. */
export interface SpeexDspAvailable {
  /** Always true. */
  readonly ok: true;
}

/**
 * Whether libspeexdsp can be used on this machine (loads and binds it on first call). Never
 * throws; `reason` says which files were tried when it cannot.
 */
export function speexDspStatus(): SpeexDspAvailable | NativeLoadFailure {
  const r = speexApi();
  return r.ok ? { ok: true } : { ok: false, reason: r.reason };
}

function invalid(reason: string): SpeexFailure {
  return { ok: false, code: 'invalid-argument', reason };
}

function isRate(v: number): boolean {
  return Number.isInteger(v) && v >= 1000 && v <= 192000;
}

/** Native state freed by a finalizer when a wrapper is garbage-collected without `close()`. */
interface NativeHeld {
  readonly destroy: NativeFunction;
  readonly handle: bigint;
}

const finalizer = new FinalizationRegistry<NativeHeld>((held) => {
  held.destroy(held.handle);
});

// ---- echo canceller ---------------------------------------------------------------------------------

/** Default echo tail the canceller models, in ms (`filter_length` of speex_echo_state_init). */
export const SPEEX_DEFAULT_ECHO_TAIL_MS = 200;

/** Options for {@link SpeexEchoCanceller.create}. */
export interface SpeexEchoCancellerOptions {
  /** Sample rate of both signals in Hz (8000, 16000, 48000…). */
  readonly sampleRate: number;
  /** Samples per frame; default 20 ms (160 at 8 kHz, 320 at 16 kHz). Speex wants 10–20 ms. */
  readonly frameSize?: number;
  /**
   * Longest echo path to cancel, in ms (default {@link SPEEX_DEFAULT_ECHO_TAIL_MS}). It must
   * cover the acoustic delay plus the room's reverberation; longer tails converge more slowly and
   * cost more CPU.
   */
  readonly filterLengthMs?: number;
}

/**
 * Acoustic echo canceller for one line: speex's multidelay-block-frequency adaptive filter
 * (`speex_echo_state_init` / `speex_echo_cancellation`). Feed it, frame by frame and in lockstep,
 * what the microphone captured and what the loudspeaker played during the same 20 ms; it removes
 * the part of the capture that is the played signal's echo. It converges in a few seconds of
 * far-end speech and keeps tracking changes of the echo path.
 */
export class SpeexEchoCanceller {
  /** Sample rate in Hz. */
  readonly sampleRate: number;
  /** Samples per frame that {@link SpeexEchoCanceller.process} expects. */
  readonly frameSize: number;
  /** Length of the adaptive filter in samples (the echo tail it can model). */
  readonly filterLength: number;
  private handle: bigint | null;
  private readonly api: SpeexDspApi;
  /** Preprocessors linked to this state for residual echo suppression, unlinked on close. */
  private readonly linked = new Set<SpeexPreprocessor>();

  private constructor(api: SpeexDspApi, handle: bigint, sampleRate: number, frameSize: number, filterLength: number) {
    this.api = api;
    this.handle = handle;
    this.sampleRate = sampleRate;
    this.frameSize = frameSize;
    this.filterLength = filterLength;
    finalizer.register(this, { destroy: api.echoDestroy, handle }, this);
  }

  /**
   * Create an echo canceller. Never throws: returns a {@link SpeexFailure} with code
   * `'library-missing'` when libspeexdsp is not installed (engine: `SipNativeLibraryMissing`).
   */
  static create(options: SpeexEchoCancellerOptions): SpeexResult<SpeexEchoCanceller> {
    const rate = options.sampleRate;
    if (!isRate(rate)) return invalid(`invalid sample rate ${rate}`);
    const frameSize = options.frameSize ?? rate / 50;
    if (!Number.isInteger(frameSize) || frameSize < 16 || frameSize > rate / 10) return invalid(`invalid frame size ${frameSize}`);
    const tailMs = options.filterLengthMs ?? SPEEX_DEFAULT_ECHO_TAIL_MS;
    if (!(tailMs >= 10 && tailMs <= 2000)) return invalid(`invalid echo tail ${tailMs} ms`);
    const filterLength = Math.round((tailMs * rate) / 1000);
    const loaded = speexApi();
    if (!loaded.ok) return loaded;
    const api = loaded.api;
    const handle = api.echoInit(frameSize, filterLength) as bigint | null;
    if (handle === null || handle === 0n) return { ok: false, code: 'init-failed', reason: 'speex_echo_state_init returned NULL' };
    const arg = new Int32Array([rate]);
    api.echoCtl(handle, SPEEX_ECHO_SET_SAMPLING_RATE, arg);
    return { ok: true, value: new SpeexEchoCanceller(api, handle, rate, frameSize, filterLength) };
  }

  /** True once {@link SpeexEchoCanceller.close} has run. */
  get closed(): boolean {
    return this.handle === null;
  }

  /**
   * The native state pointer, for linking a preprocessor; null once closed.
   * @internal
   */
  get nativeHandle(): bigint | null {
    return this.handle;
  }

  /** @internal Called by {@link SpeexPreprocessor.linkEchoCanceller}. */
  attach(pp: SpeexPreprocessor): void {
    this.linked.add(pp);
  }

  /** @internal Called when a preprocessor unlinks or closes. */
  detach(pp: SpeexPreprocessor): void {
    this.linked.delete(pp);
  }

  /**
   * Cancel the echo of one frame: `out = captured − estimated echo of played`. `captured` is the
   * microphone frame, `played` the loudspeaker frame of the same instant; each holds at least
   * {@link SpeexEchoCanceller.frameSize} samples (only that many are used). `out` may not alias
   * the inputs. Allocates nothing. After {@link SpeexEchoCanceller.close}, copies `captured` to `out`.
   * @throws RangeError if a buffer is shorter than a frame (a sizing bug in the caller).
   */
  process(captured: Int16Array, played: Int16Array, out: Int16Array): void {
    const n = this.frameSize;
    if (captured.length < n || played.length < n || out.length < n) throw new RangeError('echo canceller buffers must hold one frame');
    const h = this.handle;
    if (h === null) {
      for (let i = 0; i < n; i++) out[i] = captured[i]!;
      return;
    }
    this.api.echoCancellation(h, captured, played, out);
  }

  /** Forget the learned echo path (for a new call or a changed audio device). */
  reset(): void {
    if (this.handle !== null) this.api.echoReset(this.handle);
  }

  /** Free the native state; unlinks any preprocessor using it. Idempotent. */
  close(): void {
    const h = this.handle;
    if (h === null) return;
    for (const pp of [...this.linked]) pp.linkEchoCanceller(null);
    this.handle = null;
    finalizer.unregister(this);
    this.api.echoDestroy(h);
  }
}

// ---- preprocessor -----------------------------------------------------------------------------------

/** Options for {@link SpeexPreprocessor.create}. Omitted settings keep the defaults listed. */
export interface SpeexPreprocessorOptions {
  /** Sample rate in Hz. */
  readonly sampleRate: number;
  /** Samples per frame; default 20 ms. Must equal the echo canceller's when linking one. */
  readonly frameSize?: number;
  /** Noise suppression on (default true). */
  readonly denoise?: boolean;
  /** Largest attenuation of noise in dB, negative (default −15, speex's default). */
  readonly noiseSuppressDb?: number;
  /** Automatic gain control on (default false). */
  readonly agc?: boolean;
  /** AGC target level, as an RMS-like sample magnitude 1…32768 (default 8000, about −12 dBFS). */
  readonly agcLevel?: number;
  /** Largest gain the AGC may apply, in dB (default 30). */
  readonly agcMaxGainDb?: number;
  /** Fastest gain increase in dB per second (default 12). */
  readonly agcIncrementDbPerSec?: number;
  /** Noise discrimination (voice activity decisions from `process`) on (default false). */
  readonly noiseDiscrimination?: boolean;
  /** See {@link SpeexPreprocessor.setNoiseThreshold} (default −60 dBFS). */
  readonly noiseThresholdDb?: number;
  /** See {@link SpeexPreprocessor.setSilenceDecay} (default 0 ms). */
  readonly silenceDecayMs?: number;
  /** See {@link SpeexPreprocessor.setVadProbabilities} (default 80 / 60 %). */
  readonly vadProbStart?: number;
  /** See {@link SpeexPreprocessor.setVadProbabilities}. */
  readonly vadProbContinue?: number;
  /** Echo canceller whose residual echo to suppress (see {@link SpeexPreprocessor.linkEchoCanceller}). */
  readonly echoCanceller?: SpeexEchoCanceller;
}

/**
 * Speex's preprocessor for one captured stream: noise suppression (a spectral-domain MMSE
 * estimator), automatic gain control, residual echo suppression after a linked
 * {@link SpeexEchoCanceller}, and a voice activity decision.
 *
 * Noise discrimination, with LanScape's three settings mapped onto speexdsp:
 * - {@link SpeexPreprocessor.setNoiseDiscrimination}: whether `process` decides voice vs noise
 *   at all (off: every frame counts as voice). The decision follows speex's own VAD rule on the
 *   speech probability it estimates for each frame (`SPEEX_PREPROCESS_GET_PROB`): voice starts
 *   when the probability reaches PROB_START and continues while it stays at or above
 *   PROB_CONTINUE (see {@link SpeexPreprocessor.setVadProbabilities}). The rule runs here rather
 *   than through `SPEEX_PREPROCESS_SET_VAD`, which prints a warning to stderr on every call in
 *   current libspeexdsp releases; the result is the same.
 * - {@link SpeexPreprocessor.setNoiseThreshold}: an absolute floor in dBFS. A frame whose input
 *   level is below it is noise whatever the probability says, so digital silence and faint hiss
 *   never count as voice (speex's probability is relative to its noise estimate and tells a quiet
 *   line nothing).
 * - {@link SpeexPreprocessor.setSilenceDecay}: a hangover. After the last voice frame the
 *   decision stays "voice" this long, so word endings and short pauses are not clipped.
 *
 * Speex's noise estimate needs about a second of input to settle; until then the probability is
 * high and the decision tends to "voice".
 */
export class SpeexPreprocessor {
  /** Sample rate in Hz. */
  readonly sampleRate: number;
  /** Samples per frame that {@link SpeexPreprocessor.process} expects. */
  readonly frameSize: number;
  private handle: bigint | null;
  private readonly api: SpeexDspApi;
  /** Scratch for ctl arguments (never touched per frame except `probBuf`). */
  private readonly intArg = new Int32Array(1);
  private readonly floatArg = new Float32Array(1);
  private readonly probBuf = new Int32Array(1);
  private echo: SpeexEchoCanceller | null = null;
  private discriminate = false;
  private probStart = 80;
  private probContinue = 60;
  private wasSpeech = false;
  /** Sum of squares per frame below which a frame is noise (from the dBFS threshold). */
  private energyFloor = 0;
  private noiseThresholdDb = -60;
  private decayFrames = 0;
  private hangover = 0;

  private constructor(api: SpeexDspApi, handle: bigint, sampleRate: number, frameSize: number) {
    this.api = api;
    this.handle = handle;
    this.sampleRate = sampleRate;
    this.frameSize = frameSize;
    this.setNoiseThreshold(-60);
    finalizer.register(this, { destroy: api.ppDestroy, handle }, this);
  }

  /**
   * Create a preprocessor. Never throws: returns a {@link SpeexFailure} with code
   * `'library-missing'` when libspeexdsp is not installed (engine: `SipNativeLibraryMissing`).
   */
  static create(options: SpeexPreprocessorOptions): SpeexResult<SpeexPreprocessor> {
    const rate = options.sampleRate;
    if (!isRate(rate)) return invalid(`invalid sample rate ${rate}`);
    const frameSize = options.frameSize ?? rate / 50;
    if (!Number.isInteger(frameSize) || frameSize < 16 || frameSize > rate / 10) return invalid(`invalid frame size ${frameSize}`);
    const ec = options.echoCanceller;
    if (ec !== undefined && (ec.closed || ec.frameSize !== frameSize)) {
      return invalid('the echo canceller is closed or uses another frame size');
    }
    const loaded = speexApi();
    if (!loaded.ok) return loaded;
    const handle = loaded.api.ppInit(frameSize, rate) as bigint | null;
    if (handle === null || handle === 0n) return { ok: false, code: 'init-failed', reason: 'speex_preprocess_state_init returned NULL' };
    const pp = new SpeexPreprocessor(loaded.api, handle, rate, frameSize);
    pp.setDenoise(options.denoise ?? true);
    if (options.noiseSuppressDb !== undefined) pp.setNoiseSuppression(options.noiseSuppressDb);
    if (options.agcLevel !== undefined) pp.setAgcLevel(options.agcLevel);
    if (options.agcMaxGainDb !== undefined) pp.setAgcMaxGain(options.agcMaxGainDb);
    if (options.agcIncrementDbPerSec !== undefined) pp.setAgcIncrement(options.agcIncrementDbPerSec);
    pp.setAgc(options.agc ?? false);
    pp.setVadProbabilities(options.vadProbStart ?? 80, options.vadProbContinue ?? 60);
    if (options.noiseThresholdDb !== undefined) pp.setNoiseThreshold(options.noiseThresholdDb);
    pp.setSilenceDecay(options.silenceDecayMs ?? 0);
    pp.setNoiseDiscrimination(options.noiseDiscrimination ?? false);
    if (ec !== undefined) pp.linkEchoCanceller(ec);
    return { ok: true, value: pp };
  }

  /** True once {@link SpeexPreprocessor.close} has run. */
  get closed(): boolean {
    return this.handle === null;
  }

  private ctlInt(request: number, value: number): void {
    if (this.handle === null) return;
    this.intArg[0] = value;
    this.api.ppCtl(this.handle, request, this.intArg);
  }

  /**
   * Process one frame in place: denoise, suppress residual echo, apply AGC, as configured.
   * `frame` holds at least {@link SpeexPreprocessor.frameSize} samples (only that many are used).
   * Call it on the echo canceller's output when one is linked. Allocates nothing.
   * @returns the voice activity decision: true for voice, false for noise or silence; always
   *   true while noise discrimination is off or after {@link SpeexPreprocessor.close} (which
   *   leaves the frame untouched).
   * @throws RangeError if `frame` is shorter than a frame.
   */
  process(frame: Int16Array): boolean {
    const n = this.frameSize;
    if (frame.length < n) throw new RangeError('preprocessor frame too short');
    const h = this.handle;
    if (h === null) return true;
    if (!this.discriminate) {
      this.api.ppRun(h, frame);
      return true;
    }
    let energy = 0;
    for (let i = 0; i < n; i++) {
      const v = frame[i]!;
      energy += v * v;
    }
    this.api.ppRun(h, frame);
    this.api.ppCtl(h, PP_GET_PROB, this.probBuf);
    const prob = this.probBuf[0]!;
    const voice = energy >= this.energyFloor && (prob >= this.probStart || (this.wasSpeech && prob >= this.probContinue));
    this.wasSpeech = voice;
    if (voice) {
      this.hangover = this.decayFrames;
      return true;
    }
    if (this.hangover > 0) {
      this.hangover--;
      return true;
    }
    return false;
  }

  /** Speex's speech probability for the last processed frame, 0–100 (0 once closed). */
  speechProbability(): number {
    if (this.handle === null) return 0;
    this.api.ppCtl(this.handle, PP_GET_PROB, this.intArg);
    return this.intArg[0]!;
  }

  /**
   * The gain the AGC currently applies, in whole dB (0 once closed). speex_preprocess.h calls
   * `SPEEX_PREPROCESS_GET_AGC_GAIN` a percentage, but the library returns decibels.
   */
  agcGainDb(): number {
    if (this.handle === null) return 0;
    this.api.ppCtl(this.handle, PP_GET_AGC_GAIN, this.intArg);
    return this.intArg[0]!;
  }

  /** Noise suppression on or off (`SPEEX_PREPROCESS_SET_DENOISE`). */
  setDenoise(on: boolean): void {
    this.ctlInt(PP_SET_DENOISE, on ? 1 : 0);
  }

  /**
   * Largest attenuation applied to noise, in dB (`SPEEX_PREPROCESS_SET_NOISE_SUPPRESS`); a
   * positive number is taken as its negative. −15 is speex's default, −30 is aggressive.
   */
  setNoiseSuppression(db: number): void {
    this.ctlInt(PP_SET_NOISE_SUPPRESS, -Math.round(Math.abs(db)));
  }

  /** Automatic gain control on or off (`SPEEX_PREPROCESS_SET_AGC`). */
  setAgc(on: boolean): void {
    this.ctlInt(PP_SET_AGC, on ? 1 : 0);
  }

  /** AGC target level, 1…32768 (`SPEEX_PREPROCESS_SET_AGC_LEVEL`; default 8000). */
  setAgcLevel(level: number): void {
    if (this.handle === null) return;
    this.floatArg[0] = Math.min(32768, Math.max(1, level));
    this.api.ppCtl(this.handle, PP_SET_AGC_LEVEL, this.floatArg);
  }

  /** Largest AGC gain in dB (`SPEEX_PREPROCESS_SET_AGC_MAX_GAIN`; default 30). */
  setAgcMaxGain(db: number): void {
    this.ctlInt(PP_SET_AGC_MAX_GAIN, Math.max(0, Math.round(db)));
  }

  /** Fastest AGC gain increase in dB per second (`SPEEX_PREPROCESS_SET_AGC_INCREMENT`; default 12). */
  setAgcIncrement(dbPerSec: number): void {
    this.ctlInt(PP_SET_AGC_INCREMENT, Math.max(0, Math.round(dbPerSec)));
  }

  /** Fastest AGC gain decrease in dB per second, negative (`SPEEX_PREPROCESS_SET_AGC_DECREMENT`; default −40). */
  setAgcDecrement(dbPerSec: number): void {
    this.ctlInt(PP_SET_AGC_DECREMENT, -Math.round(Math.abs(dbPerSec)));
  }

  /**
   * LanScape "noise discrimination" on or off: whether {@link SpeexPreprocessor.process} returns
   * voice activity decisions (on) or always true (off). Independent of noise suppression.
   */
  setNoiseDiscrimination(on: boolean): void {
    this.discriminate = on;
    this.wasSpeech = false;
    this.hangover = 0;
  }

  /**
   * LanScape "noise threshold": frames whose input RMS level is below `db` dBFS (0 dBFS = full
   * scale, so typically −45 … −65) are always judged noise. `-Infinity` disables the floor.
   */
  setNoiseThreshold(db: number): void {
    this.noiseThresholdDb = db;
    const rms = 32768 * Math.pow(10, db / 20);
    this.energyFloor = rms * rms * this.frameSize;
  }

  /** The current noise threshold in dBFS. */
  get noiseThreshold(): number {
    return this.noiseThresholdDb;
  }

  /**
   * LanScape "silence decay": how long, in ms, the decision stays "voice" after the last frame
   * judged voice (rounded up to whole frames; 0 disables the hangover).
   */
  setSilenceDecay(ms: number): void {
    const frameMs = (1000 * this.frameSize) / this.sampleRate;
    this.decayFrames = ms > 0 ? Math.ceil(ms / frameMs) : 0;
    if (this.hangover > this.decayFrames) this.hangover = this.decayFrames;
  }

  /**
   * Speech probabilities (percent) of the voice decision: voice starts when speex's probability
   * reaches `start` and continues while it is at least `cont` (speex's PROB_START and
   * PROB_CONTINUE; also set in the native state). Defaults 80 / 60: speex's own 35 / 20 sit
   * inside the range its estimate wanders through on steady noise.
   */
  setVadProbabilities(start: number, cont: number): void {
    this.probStart = Math.min(100, Math.max(0, Math.round(start)));
    this.probContinue = Math.min(this.probStart, Math.max(0, Math.round(cont)));
    this.ctlInt(PP_SET_PROB_START, this.probStart);
    this.ctlInt(PP_SET_PROB_CONTINUE, this.probContinue);
  }

  /**
   * Residual echo suppression limits in dB, negative (`SPEEX_PREPROCESS_SET_ECHO_SUPPRESS`,
   * default −40, and `…_ECHO_SUPPRESS_ACTIVE` while the near end talks, default −15). Only
   * effective with a linked echo canceller.
   */
  setEchoSuppression(db: number, activeDb: number): void {
    this.ctlInt(PP_SET_ECHO_SUPPRESS, -Math.round(Math.abs(db)));
    this.ctlInt(PP_SET_ECHO_SUPPRESS_ACTIVE, -Math.round(Math.abs(activeDb)));
  }

  /**
   * Link an echo canceller (`SPEEX_PREPROCESS_SET_ECHO_STATE`) so its residual echo estimate
   * drives extra suppression, or unlink with null. The canceller must use the same frame size,
   * and each frame must go through the canceller before this preprocessor. Closing the canceller
   * unlinks it automatically, so the native side never sees a freed state.
   * @returns false if the canceller is closed or its frame size differs (nothing changes).
   */
  linkEchoCanceller(ec: SpeexEchoCanceller | null): boolean {
    if (ec !== null && (ec.closed || ec.frameSize !== this.frameSize)) return false;
    if (this.echo !== null) this.echo.detach(this);
    this.echo = ec;
    if (this.handle !== null) this.api.ppCtl(this.handle, PP_SET_ECHO_STATE, ec === null ? null : ec.nativeHandle);
    if (ec !== null) ec.attach(this);
    return true;
  }

  /** Free the native state (unlinking any echo canceller first). Idempotent. */
  close(): void {
    const h = this.handle;
    if (h === null) return;
    this.linkEchoCanceller(null);
    this.handle = null;
    finalizer.unregister(this);
    this.api.ppDestroy(h);
  }
}

// ---- resampler --------------------------------------------------------------------------------------

/** Resampling quality used when none is given: speex's "desktop" setting, see `bench/resamplers.ts`. */
export const SPEEX_DEFAULT_RESAMPLER_QUALITY = 5;

/**
 * Sample-rate converter for one mono stream through `speex_resampler_process_int`. It has the
 * same shape as the `Resampler` interface of `media/resample.ts` (`fromRate`, `toRate`,
 * `process`, `reset`), so it can stand in for the TypeScript one, and it also converts between
 * rates that are not integer multiples (44100 → 8000). Output is delayed by the filter's latency
 * ({@link SpeexResampler.inputLatency} input samples); whole 20 ms frames at 8/16/48 kHz always
 * yield whole output frames.
 */
export class SpeexResampler {
  /** Input rate in Hz. */
  readonly fromRate: number;
  /** Output rate in Hz. */
  readonly toRate: number;
  /** Speex quality 0 (fastest) … 10 (best). */
  readonly quality: number;
  private handle: bigint | null;
  private readonly api: SpeexDspApi;
  private readonly process_: NativeFunction;
  private readonly inLen = new Uint32Array(1);
  private readonly outLen = new Uint32Array(1);

  private constructor(api: SpeexDspApi, handle: bigint, fromRate: number, toRate: number, quality: number) {
    this.api = api;
    this.process_ = api.rsProcessInt;
    this.handle = handle;
    this.fromRate = fromRate;
    this.toRate = toRate;
    this.quality = quality;
    finalizer.register(this, { destroy: api.rsDestroy, handle }, this);
  }

  /**
   * Create a resampler. Never throws: returns a {@link SpeexFailure} with code
   * `'library-missing'` when libspeexdsp is not installed (engine: `SipNativeLibraryMissing`;
   * fall back to `createResampler` from `media/resample.ts`).
   * @param quality - 0…10, default {@link SPEEX_DEFAULT_RESAMPLER_QUALITY}.
   */
  static create(fromRate: number, toRate: number, quality: number = SPEEX_DEFAULT_RESAMPLER_QUALITY): SpeexResult<SpeexResampler> {
    if (!isRate(fromRate) || !isRate(toRate)) return invalid(`invalid sample rates ${fromRate} -> ${toRate}`);
    if (!Number.isInteger(quality) || quality < 0 || quality > 10) return invalid(`invalid resampler quality ${quality}`);
    const loaded = speexApi();
    if (!loaded.ok) return loaded;
    const api = loaded.api;
    const err = new Int32Array(1);
    const handle = api.rsInit(1, fromRate, toRate, quality, err) as bigint | null;
    if (handle === null || handle === 0n || err[0] !== 0) {
      if (handle !== null && handle !== 0n) api.rsDestroy(handle);
      return { ok: false, code: 'init-failed', reason: `speex_resampler_init: ${String(api.rsStrerror(err[0]))}` };
    }
    return { ok: true, value: new SpeexResampler(api, handle, fromRate, toRate, quality) };
  }

  /** True once {@link SpeexResampler.close} has run. */
  get closed(): boolean {
    return this.handle === null;
  }

  /** The filter's delay in input samples (0 once closed). */
  get inputLatency(): number {
    return this.handle === null ? 0 : (this.api.rsInputLatency(this.handle) as number);
  }

  /**
   * Convert `inLen` samples of `input` into `out`. Allocates nothing. After
   * {@link SpeexResampler.close}, writes silence of the expected length.
   * @returns samples written: `inLen × toRate / fromRate` for whole 20 ms frames at 8/16/48 kHz.
   * @throws RangeError if `inLen` exceeds `input` or `out` cannot hold the result (a sizing bug).
   */
  process(input: Int16Array, inLen: number, out: Int16Array): number {
    if (inLen > input.length || inLen < 0) throw new RangeError('resampler input length exceeds the input buffer');
    const need = Math.ceil((inLen * this.toRate) / this.fromRate);
    if (out.length < need) throw new RangeError('resampler output buffer too small');
    if (inLen === 0) return 0;
    const h = this.handle;
    if (h === null) {
      out.fill(0, 0, need);
      return need;
    }
    this.inLen[0] = inLen;
    this.outLen[0] = out.length;
    this.process_(h, 0, input, this.inLen, out, this.outLen);
    if (this.inLen[0] !== inLen) throw new RangeError('resampler output buffer too small');
    return this.outLen[0];
  }

  /** Forget the history (new stream), so the next call starts from silence. */
  reset(): void {
    if (this.handle !== null) this.api.rsResetMem(this.handle);
  }

  /** Free the native state. Idempotent. */
  close(): void {
    const h = this.handle;
    if (h === null) return;
    this.handle = null;
    finalizer.unregister(this);
    this.api.rsDestroy(h);
  }
}
