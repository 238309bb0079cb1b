/**
 * The local sound card as a source and sink of fixed-size frames (20 ms by default), for the
 * mixer's local audio device port and for call-progress tones on the local speaker. This module
 * is the device port itself (the rings, the read and write loops, tones, statistics); its parts
 * live beside it: loading the backend (`media/audioBackend`), silencing native output
 * (`media/audioSilence`) and probing ALSA and the device list (`media/alsaProbe`). The public
 * names of all four are exported from here.
 *
 * **Backend.** [naudiodon](https://github.com/Streampunk/naudiodon) (PortAudio; ALSA on Linux) is
 * an optional dependency and is loaded lazily, on the first {@link listAudioDevices} or
 * {@link openLocalAudio} that needs a device: importing this module touches nothing native, and an
 * engine started with both device ids {@link AUDIO_DEVICE_NOT_USED} (a server) never loads it.
 * Every entry point returns `{ ok: false, reason }` instead of throwing when the module is
 * missing, its native library cannot be loaded (`libasound.so.2`: Debian's `libasound2`), or a
 * device cannot be opened. Set `LINESCAPE_DISABLE_NATIVE=naudiodon` (or `all`) to treat it as
 * missing.
 *
 * This module loads naudiodon's native addon directly rather than through its `index.js`: that
 * wrapper installs a process-wide SIGSEGV handler writing `crash.log` into the working directory
 * and logs stream errors with `console.error`; the addon's own promise API (`read`, `write`,
 * `quit`) is all that is needed here.
 *
 * **Noise.** PortAudio probes every ALSA PCM it can find when it initialises (each listing and
 * each open), and on a machine without sound cards ALSA prints dozens of `ALSA lib …` lines on
 * stderr; naudiodon also `printf`s its version and the stream options on stdout. With `quiet`
 * (the default) the synchronous calls into PortAudio (listing, opening, starting) run with the
 * process's stdout and stderr pointed at `/dev/null` (libc's `dup2`, bound with koffi; Linux and
 * macOS). JavaScript never runs while the descriptors are redirected, so nothing the application
 * itself writes is lost. What cannot be silenced this way, because it is printed from
 * PortAudio's audio thread while JavaScript runs: naudiodon's one line on stdout when a stream
 * closes (`Finishing output - 640 bytes not available to fill the last buffer`, and
 * `Finishing input …` when a read was pending), and ALSA's messages about xruns on real
 * hardware.
 *
 * **Timing.** Frames move between the engine and the device through two preallocated rings, so
 * PortAudio's callback timing is decoupled from the engine's media clock:
 * - capture: one `read` of exactly one frame is kept in flight; each completed read is copied
 *   into the capture ring, from which {@link LocalAudio.readFrame} takes frames. An empty ring is
 *   an underrun (the frame is zeros); a full ring drops its oldest frame; a ring that stays
 *   deeper than needed for a second is trimmed by one frame, so latency does not creep up.
 * - playback: {@link LocalAudio.writeFrame} puts a frame into the playback ring (dropping the
 *   oldest when full); one `write` is kept in flight, taking the next ring frame, or a frame of
 *   silence when the ring is empty and the device is about to run dry. A playing tone
 *   ({@link LocalAudio.playTone}) is mixed into every frame sent.
 * A real device paces these loops itself (naudiodon's reads wait for data and its writes wait
 * for room). Devices that run faster than real time (the ALSA `file` plugin over `null`, used by
 * the tests, completes every read and write at once) are paced by a model of a real-time device
 * kept from `performance.now()`: capture reads run at most {@link LocalAudio.frameMs} × 2 ahead
 * of real time, and silence is only inserted when the model says the device would starve.
 *
 * **Caveats.** A waiting `read` or `write` occupies a thread of libuv's pool (4 threads unless
 * `UV_THREADPOOL_SIZE` says otherwise) while it waits on a real device, so an open duplex device
 * holds up to two of them; raise `UV_THREADPOOL_SIZE` when file-system and crypto work must not
 * queue behind them. Each read and write allocates a promise and naudiodon allocates a Buffer per
 * read; everything else on the per-frame path is preallocated. Playback keeps two to three frames
 * queued ahead of the device (40–60 ms at 20 ms frames) on top of PortAudio's own latency. An
 * open device keeps the process alive until {@link LocalAudio.close}. PortAudio 19.6 (bundled with
 * naudiodon) aborts the process when the ALSA configuration defines no `default` PCM; this module
 * refuses to initialise PortAudio when `ALSA_CONFIG_PATH` names no file that could define one.
 * @module
 */
import { performance } from 'node:perf_hooks';
import { NA_TONES, ToneGenerator, type ToneSpec } from './tones.js';
import {
  CAPTURE_LEAD_FRAMES,
  CAPTURE_NATIVE_QUEUE,
  PLAYBACK_MAX_AHEAD_FRAMES,
  PLAYBACK_NATIVE_QUEUE,
  SAMPLE_FORMAT_INT16,
  TRIM_AFTER_FRAMES,
  errorText,
  loadBackend,
  settlePendingCloses,
  stopStream,
  type NativeAudioIO,
  type NativeReadResult,
  type NativeStreamOptions,
  type OpenStream,
} from './audioBackend.js';
import { silenced } from './audioSilence.js';
import {
  AUDIO_DEVICE_NOT_USED,
  PREFERRED_AUDIO_DEVICE,
  alsaConfigHazard,
  queryDevices,
  resolveDevice,
  validDeviceId,
  type AudioBackendOptions,
  type AudioDeviceInfo,
} from './alsaProbe.js';

// the public surface of the sound card stays here; its parts live in the modules above
export { isAudioBackendLoaded } from './audioBackend.js';
export { AUDIO_DEVICE_NOT_USED, PREFERRED_AUDIO_DEVICE, listAudioDevices } from './alsaProbe.js';
export type { AudioBackendOptions, AudioDeviceInfo, AudioDeviceListResult } from './alsaProbe.js';

/** Sample rates a `LocalAudio` can run at. */
export type LocalAudioSampleRate = 8000 | 16000 | 48000;

/** Options of `openLocalAudio`. */
export interface LocalAudioOptions extends AudioBackendOptions {
  /**
   * Capture device: a zero-based id from `listAudioDevices`, `PREFERRED_AUDIO_DEVICE`
   * (the default) or `AUDIO_DEVICE_NOT_USED`.
   */
  readonly inDeviceId?: number;
  /**
   * Playback device: a zero-based id from `listAudioDevices`, `PREFERRED_AUDIO_DEVICE`
   * (the default) or `AUDIO_DEVICE_NOT_USED`.
   */
  readonly outDeviceId?: number;
  /** Sample rate of the frames and of the device streams (default 16000). */
  readonly sampleRate?: LocalAudioSampleRate;
  /** Frame length in ms, a whole number from 5 to 100 (default 20). */
  readonly frameMs?: number;
  /**
   * Capacity of each ring in frames, from 3 to 50 (default 10: 200 ms at 20 ms frames). Beyond
   * it the oldest frame is dropped.
   */
  readonly bufferFrames?: number;
}

/** What `openLocalAudio` opened, or why it could not. */
export type LocalAudioOpenResult =
  | {
      /** The device (or the idle stand-in when both directions are unused) is open. */
      readonly ok: true;
      /** The opened device. */
      readonly audio: LocalAudio;
    }
  | {
      /** Nothing was opened. */
      readonly ok: false;
      /** Why, in words: bad options, missing backend, unknown device, open failure. */
      readonly reason: string;
    };

/** Counters of the capture direction of a `LocalAudio`. */
export interface LocalAudioCaptureStats {
  /** True while a capture stream is open. */
  readonly open: boolean;
  /** Device id in use, or `AUDIO_DEVICE_NOT_USED`. */
  readonly deviceId: number;
  /** Device name, or `''`. */
  readonly deviceName: string;
  /** Frames received from the device. */
  readonly framesCaptured: number;
  /** Frames handed out by `LocalAudio.readFrame`. */
  readonly framesRead: number;
  /** `LocalAudio.readFrame` calls that found the ring empty (and returned zeros). */
  readonly underruns: number;
  /** Frames dropped because the ring was full when the device delivered. */
  readonly overflows: number;
  /** Frames dropped to bring a persistently deep ring back to its target latency. */
  readonly trimmed: number;
  /** Device status errors reported by PortAudio (input overflow, …); each costs one frame. */
  readonly deviceErrors: number;
  /** Frames waiting in the ring now. */
  readonly buffered: number;
}

/** Counters of the playback direction of a `LocalAudio`. */
export interface LocalAudioPlaybackStats {
  /** True while a playback stream is open. */
  readonly open: boolean;
  /** Device id in use, or `AUDIO_DEVICE_NOT_USED`. */
  readonly deviceId: number;
  /** Device name, or `''`. */
  readonly deviceName: string;
  /** Frames accepted by `LocalAudio.writeFrame`. */
  readonly framesWritten: number;
  /** Frames sent to the device, silence included. */
  readonly framesPlayed: number;
  /** Frames of silence (plus any tone) sent because the ring was empty. */
  readonly silenceFrames: number;
  /** Frames dropped because the ring was full when `LocalAudio.writeFrame` was called. */
  readonly overflows: number;
  /** Frames dropped to bring a persistently deep ring back to its target latency. */
  readonly trimmed: number;
  /** Device status errors reported by PortAudio (output underflow, …). */
  readonly deviceErrors: number;
  /** Frames waiting in the ring now. */
  readonly buffered: number;
}

/** A snapshot of a `LocalAudio`'s counters. */
export interface LocalAudioStats {
  /** The capture direction. */
  readonly capture: LocalAudioCaptureStats;
  /** The playback direction. */
  readonly playback: LocalAudioPlaybackStats;
  /** The last error a device reported (status text or a failed read/write), or `''`. */
  readonly lastError: string;
}

/**
 * Call-progress and alerting tones for the local device, as data for `LocalAudio.playTone`:
 * the North American network tones of `media/tones.ts` plus a local ringer.
 */
export const LOCAL_TONES = Object.freeze({
  /** Dial tone: 350 + 440 Hz, continuous. */
  dial: NA_TONES.dial,
  /** Ring-back (the far end is ringing): 440 + 480 Hz, 2 s on, 4 s off. */
  ringback: NA_TONES.ringback,
  /** Busy: 480 + 620 Hz, 0.5 s on, 0.5 s off. */
  busy: NA_TONES.busy,
  /** Error (the call failed; the reorder or fast-busy tone): 480 + 620 Hz, 0.25 s on, 0.25 s off. */
  error: NA_TONES.reorder,
  /**
   * Incoming call on the local speaker: a double ring (0.4 s on, 0.2 s off, 0.4 s on, 2 s off)
   * of 660 + 990 Hz at −10 dBm0, distinct from ring-back and away from the DTMF frequencies.
   */
  incomingRing: Object.freeze({ freqs: [660, 990], levelDbm0: -10, cadenceMs: [400, 200, 400, 2000] }),
});

/** Names of the {@link LOCAL_TONES}. */
export type LocalToneName = keyof typeof LOCAL_TONES;

/**
 * The local sound card as a frame source and sink; from {@link openLocalAudio}. All frames are
 * mono 16-bit PCM of {@link LocalAudio.frameSamples} samples.
 */
export interface LocalAudio {
  /** Sample rate of the frames in Hz. */
  readonly sampleRate: LocalAudioSampleRate;
  /** Frame length in ms. */
  readonly frameMs: number;
  /** Samples per frame (`sampleRate × frameMs / 1000`). */
  readonly frameSamples: number;
  /** True while a capture stream is open (not {@link AUDIO_DEVICE_NOT_USED}, not closed). */
  readonly capturing: boolean;
  /** True while a playback stream is open. */
  readonly playing: boolean;
  /**
   * Take one captured frame into `out[0, frameSamples)`. Allocates nothing.
   * @returns true with a frame; false with zeros when the ring is empty (counted as an underrun
   *   while capturing), when capture is not used, or after {@link LocalAudio.close}.
   * @throws RangeError when `out` is shorter than a frame.
   */
  readFrame(out: Int16Array): boolean;
  /**
   * Queue `pcm[0, frameSamples)` for playback; when the ring is full its oldest frame is dropped
   * (counted). Ignored when playback is not used or after {@link LocalAudio.close}. Allocates
   * nothing beyond naudiodon's per-write promise.
   * @throws RangeError when `pcm` is shorter than a frame.
   */
  writeFrame(pcm: Int16Array): void;
  /**
   * Start mixing a tone into the playback, by name ({@link LOCAL_TONES}) or as any
   * {@link ToneSpec}; replaces a tone already playing. The tone plays while the ring is empty
   * too, so dial tone needs no frames from the engine.
   * @returns false when playback is not open.
   * @throws RangeError for a spec the tone generator rejects (more than four frequencies, or one
   *   at or above half the sample rate).
   */
  playTone(tone: ToneSpec | LocalToneName): boolean;
  /** Stop the tone (it ramps down within a frame). */
  stopTone(): void;
  /** True from {@link LocalAudio.playTone} until {@link LocalAudio.stopTone} or the end of a one-shot cadence. */
  readonly tonePlaying: boolean;
  /** A snapshot of the counters. */
  stats(): LocalAudioStats;
  /**
   * Stop and close the device streams. Idempotent: every call returns the same promise. Resolves
   * after at most about two seconds even if PortAudio does not answer.
   */
  close(): Promise<void>;
}

/**
 * Open the local sound card for 16-bit mono frames. Device ids follow LanScape:
 * {@link PREFERRED_AUDIO_DEVICE} (-1) is PortAudio's default device, {@link AUDIO_DEVICE_NOT_USED}
 * (-2) leaves that direction closed, anything else is a zero-based id from
 * {@link listAudioDevices}. With both directions unused nothing native is loaded and the result
 * is an idle {@link LocalAudio}. Capture and playback are separate PortAudio streams (they may be
 * different devices, and a stalled direction cannot stall the other).
 * @returns `{ ok: false, reason }` for bad options, a missing backend, an unknown device id or a
 *   device that fails to open; never throws.
 */
export async function openLocalAudio(options: LocalAudioOptions = {}): Promise<LocalAudioOpenResult> {
  const inId = options.inDeviceId ?? PREFERRED_AUDIO_DEVICE;
  const outId = options.outDeviceId ?? PREFERRED_AUDIO_DEVICE;
  const sampleRate = options.sampleRate ?? 16000;
  const frameMs = options.frameMs ?? 20;
  const bufferFrames = options.bufferFrames ?? 10;
  const quiet = options.quiet ?? true;
  if (!validDeviceId(inId)) return { ok: false, reason: `bad capture device id ${String(inId)}` };
  if (!validDeviceId(outId)) return { ok: false, reason: `bad playback device id ${String(outId)}` };
  if (sampleRate !== 8000 && sampleRate !== 16000 && sampleRate !== 48000) {
    return { ok: false, reason: `unsupported sample rate ${String(sampleRate)} (8000, 16000 or 48000)` };
  }
  if (!Number.isInteger(frameMs) || frameMs < 5 || frameMs > 100) return { ok: false, reason: `bad frame length ${String(frameMs)} ms (5..100)` };
  if (!Number.isInteger(bufferFrames) || bufferFrames < 3 || bufferFrames > 50) {
    return { ok: false, reason: `bad ring size ${String(bufferFrames)} frames (3..50)` };
  }
  const config = { sampleRate, frameMs, bufferFrames };
  if (inId === AUDIO_DEVICE_NOT_USED && outId === AUDIO_DEVICE_NOT_USED) {
    return { ok: true, audio: new LocalAudioImpl(config, null, null) };
  }

  const hazard = alsaConfigHazard();
  if (hazard !== undefined) return { ok: false, reason: hazard };
  const lib = loadBackend();
  if (!lib.ok) return lib;
  await settlePendingCloses();
  let devices: AudioDeviceInfo[];
  try {
    devices = queryDevices(lib.binding, quiet);
  } catch (err) {
    return { ok: false, reason: `PortAudio could not list devices: ${errorText(err)}` };
  }
  let inDev: AudioDeviceInfo | null = null;
  let outDev: AudioDeviceInfo | null = null;
  if (inId !== AUDIO_DEVICE_NOT_USED) {
    const r = resolveDevice(inId, devices, true);
    if (!r.ok) return r;
    inDev = r.device;
  }
  if (outId !== AUDIO_DEVICE_NOT_USED) {
    const r = resolveDevice(outId, devices, false);
    if (!r.ok) return r;
    outDev = r.device;
  }

  const frameSamples = (sampleRate * frameMs) / 1000;
  const streamOptions = (device: AudioDeviceInfo, maxQueue: number): NativeStreamOptions => ({
    deviceId: device.id,
    sampleRate,
    channelCount: 1,
    sampleFormat: SAMPLE_FORMAT_INT16,
    maxQueue,
    framesPerBuffer: frameSamples,
    // status flags come back as `err` results, counted here, instead of naudiodon printing them
    closeOnError: true,
  });
  const open = (device: AudioDeviceInfo, input: boolean): { ok: true; stream: OpenStream } | { ok: false; reason: string } => {
    const what = `${input ? 'capture' : 'playback'} device ${device.id} (${device.name}) at ${sampleRate} Hz`;
    let io: NativeAudioIO;
    try {
      io = silenced(quiet, () =>
        lib.binding.create(
          input ? { inOptions: streamOptions(device, CAPTURE_NATIVE_QUEUE) } : { outOptions: streamOptions(device, PLAYBACK_NATIVE_QUEUE) },
        ),
      );
    } catch (err) {
      return { ok: false, reason: `cannot open ${what}: ${errorText(err)}` };
    }
    try {
      silenced(quiet, () => io.start());
    } catch (err) {
      void stopStream(io);
      return { ok: false, reason: `cannot start ${what}: ${errorText(err)}` };
    }
    return { ok: true, stream: { io, device } };
  };

  let capture: OpenStream | null = null;
  if (inDev !== null) {
    const r = open(inDev, true);
    if (!r.ok) return r;
    capture = r.stream;
  }
  let playback: OpenStream | null = null;
  if (outDev !== null) {
    const r = open(outDev, false);
    if (!r.ok) {
      if (capture !== null) await stopStream(capture.io);
      return r;
    }
    playback = r.stream;
  }
  return { ok: true, audio: new LocalAudioImpl(config, capture, playback) };
}

interface LocalAudioConfig {
  readonly sampleRate: LocalAudioSampleRate;
  readonly frameMs: number;
  readonly bufferFrames: number;
}

/** The {@link LocalAudio} implementation: two frame rings and the loops that feed them. */
class LocalAudioImpl implements LocalAudio {
  readonly sampleRate: LocalAudioSampleRate;
  readonly frameMs: number;
  readonly frameSamples: number;
  private readonly frameBytes: number;
  private readonly cap: number;
  private readonly ticker: NodeJS.Timeout | null;
  private closing = false;
  private closePromise: Promise<void> | null = null;
  private lastError = '';

  // capture ring
  private readonly capStream: OpenStream | null;
  private capIo: NativeAudioIO | null;
  private readonly capRing: Int16Array;
  private readonly capRingBytes: Buffer;
  private capHead = 0;
  private capCount = 0;
  private capInFlight = false;
  private capDue: number;
  private capHighRun = 0;
  private capFrames = 0;
  private capRead = 0;
  private capUnderruns = 0;
  private capOverflows = 0;
  private capTrimmed = 0;
  private capErrors = 0;

  // playback ring
  private readonly playStream: OpenStream | null;
  private playIo: NativeAudioIO | null;
  private readonly playRing: Int16Array;
  private readonly playBuf: Buffer;
  private readonly playPcm: Int16Array;
  private playHead = 0;
  private playCount = 0;
  private playInFlight = false;
  private playDue: number;
  private playHighRun = 0;
  private playWritten = 0;
  private playPlayed = 0;
  private playSilence = 0;
  private playOverflows = 0;
  private playTrimmed = 0;
  private playErrors = 0;
  private readonly tone: ToneGenerator;
  private toneUsed = false;

  constructor(config: LocalAudioConfig, capture: OpenStream | null, playback: OpenStream | null) {
    this.sampleRate = config.sampleRate;
    this.frameMs = config.frameMs;
    this.frameSamples = (config.sampleRate * config.frameMs) / 1000;
    this.frameBytes = this.frameSamples * 2;
    this.cap = config.bufferFrames;
    this.capStream = capture;
    this.capIo = capture?.io ?? null;
    this.playStream = playback;
    this.playIo = playback?.io ?? null;
    const capFrames = capture !== null ? this.cap : 0;
    const playFrames = playback !== null ? this.cap : 0;
    this.capRing = new Int16Array(capFrames * this.frameSamples);
    this.capRingBytes = Buffer.from(this.capRing.buffer, this.capRing.byteOffset, this.capRing.byteLength);
    this.playRing = new Int16Array(playFrames * this.frameSamples);
    const out = new ArrayBuffer(this.frameBytes);
    this.playBuf = Buffer.from(out);
    this.playPcm = new Int16Array(out);
    this.tone = new ToneGenerator(this.sampleRate);
    const now = performance.now();
    this.capDue = now;
    this.playDue = now;
    if (this.capIo !== null || this.playIo !== null) {
      this.ticker = setInterval(this.tick, Math.max(2, Math.floor(this.frameMs / 2)));
      this.ticker.unref();
      this.pumpCapture();
      this.pumpPlayback();
    } else {
      this.ticker = null;
    }
  }

  get capturing(): boolean {
    return this.capIo !== null && !this.closing;
  }

  get playing(): boolean {
    return this.playIo !== null && !this.closing;
  }

  get tonePlaying(): boolean {
    return this.tone.playing;
  }

  private readonly tick = (): void => {
    this.pumpCapture();
    this.pumpPlayback();
  };

  // --- capture -------------------------------------------------------------------------------

  private pumpCapture(): void {
    const io = this.capIo;
    if (io === null || this.capInFlight || this.closing) return;
    if (performance.now() < this.capDue - CAPTURE_LEAD_FRAMES * this.frameMs) return;
    this.capInFlight = true;
    let p: Promise<NativeReadResult>;
    try {
      p = io.read(this.frameBytes);
    } catch (err) {
      this.onCaptureFailed(err);
      return;
    }
    p.then(this.onCaptureRead, this.onCaptureFailed);
  }

  private readonly onCaptureRead = (r: NativeReadResult): void => {
    this.capInFlight = false;
    if (this.closing) return;
    if (r.err !== undefined && r.err !== '') {
      this.capErrors++;
      this.lastError = `capture: ${r.err.trim()}`;
    } else if (r.finished === true) {
      this.lastError = 'capture: the device stream ended';
      this.capIo = null;
      return;
    } else if (r.buf !== undefined && r.buf.length === this.frameBytes) {
      this.pushCaptured(r.buf);
    }
    const now = performance.now();
    // the next frame is due one frame after this one, or after now when the device is late
    this.capDue = (this.capDue > now ? this.capDue : now) + this.frameMs;
    this.pumpCapture();
  };

  private readonly onCaptureFailed = (err: unknown): void => {
    this.capInFlight = false;
    if (this.closing) return;
    this.lastError = `capture: ${errorText(err)}`;
    this.capIo = null;
  };

  private pushCaptured(buf: Buffer): void {
    if (this.capCount === this.cap) {
      this.capHead = this.capHead + 1 === this.cap ? 0 : this.capHead + 1;
      this.capCount--;
      this.capOverflows++;
    }
    let slot = this.capHead + this.capCount;
    if (slot >= this.cap) slot -= this.cap;
    buf.copy(this.capRingBytes, slot * this.frameBytes, 0, this.frameBytes);
    this.capCount++;
    this.capFrames++;
  }

  readFrame(out: Int16Array): boolean {
    const n = this.frameSamples;
    if (out.length < n) throw new RangeError(`readFrame needs ${n} samples, got ${out.length}`);
    if (this.capCount === 0 || this.closing) {
      out.fill(0, 0, n);
      if (this.capIo !== null && !this.closing) this.capUnderruns++;
      return false;
    }
    const ring = this.capRing;
    const off = this.capHead * n;
    for (let i = 0; i < n; i++) out[i] = ring[off + i]!;
    this.capHead = this.capHead + 1 === this.cap ? 0 : this.capHead + 1;
    this.capCount--;
    this.capRead++;
    // latency control: a ring that stays deeper than the read-ahead needs loses one frame
    if (this.capCount > CAPTURE_LEAD_FRAMES + 1) {
      if (++this.capHighRun >= TRIM_AFTER_FRAMES) {
        this.capHead = this.capHead + 1 === this.cap ? 0 : this.capHead + 1;
        this.capCount--;
        this.capTrimmed++;
        this.capHighRun = 0;
      }
    } else {
      this.capHighRun = 0;
    }
    this.pumpCapture();
    return true;
  }

  // --- playback ------------------------------------------------------------------------------

  writeFrame(pcm: Int16Array): void {
    const n = this.frameSamples;
    if (pcm.length < n) throw new RangeError(`writeFrame needs ${n} samples, got ${pcm.length}`);
    if (this.playIo === null || this.closing) return;
    if (this.playCount === this.cap) {
      this.playHead = this.playHead + 1 === this.cap ? 0 : this.playHead + 1;
      this.playCount--;
      this.playOverflows++;
    }
    let slot = this.playHead + this.playCount;
    if (slot >= this.cap) slot -= this.cap;
    const ring = this.playRing;
    const off = slot * n;
    for (let i = 0; i < n; i++) ring[off + i] = pcm[i]!;
    this.playCount++;
    this.playWritten++;
    this.pumpPlayback();
  }

  private pumpPlayback(): void {
    const io = this.playIo;
    if (io === null || this.playInFlight || this.closing) return;
    const now = performance.now();
    const n = this.frameSamples;
    const out = this.playPcm;
    if (this.playCount > 0) {
      // latency control, device side: after silence was inserted for late frames the device
      // holds more than it needs; drop a frame instead of adding to it
      if (this.playDue - now > this.frameMs * PLAYBACK_MAX_AHEAD_FRAMES) {
        this.playHead = this.playHead + 1 === this.cap ? 0 : this.playHead + 1;
        this.playCount--;
        this.playTrimmed++;
        if (this.playCount === 0) return;
      }
      // latency control, ring side: a ring that stays more than two frames deep loses a frame
      if (this.playCount > 2) {
        if (++this.playHighRun >= TRIM_AFTER_FRAMES) {
          this.playHead = this.playHead + 1 === this.cap ? 0 : this.playHead + 1;
          this.playCount--;
          this.playTrimmed++;
          this.playHighRun = 0;
        }
      } else {
        this.playHighRun = 0;
      }
      const ring = this.playRing;
      const off = this.playHead * n;
      for (let i = 0; i < n; i++) out[i] = ring[off + i]!;
      this.playHead = this.playHead + 1 === this.cap ? 0 : this.playHead + 1;
      this.playCount--;
    } else if (this.playDue - now <= this.frameMs) {
      // the device has at most one frame left: keep it fed with silence
      out.fill(0);
      this.playSilence++;
    } else {
      return;
    }
    if (this.toneUsed) this.tone.generate(out, n, true);
    this.playDue = (this.playDue > now ? this.playDue : now) + this.frameMs;
    this.playInFlight = true;
    this.playPlayed++;
    let p: Promise<string | undefined>;
    try {
      // naudiodon copies the buffer before write() returns, so playBuf is reused at once
      p = io.write(this.playBuf);
    } catch (err) {
      this.onPlaybackFailed(err);
      return;
    }
    p.then(this.onPlaybackWritten, this.onPlaybackFailed);
  }

  private readonly onPlaybackWritten = (err: string | undefined): void => {
    this.playInFlight = false;
    if (this.closing) return;
    if (typeof err === 'string' && err !== '') {
      this.playErrors++;
      this.lastError = `playback: ${err.trim()}`;
    }
    this.pumpPlayback();
  };

  private readonly onPlaybackFailed = (err: unknown): void => {
    this.playInFlight = false;
    if (this.closing) return;
    this.lastError = `playback: ${errorText(err)}`;
    this.playIo = null;
  };

  playTone(tone: ToneSpec | LocalToneName): boolean {
    if (this.playIo === null || this.closing) return false;
    const spec = typeof tone === 'string' ? LOCAL_TONES[tone] : tone;
    this.tone.start(spec);
    this.toneUsed = true;
    this.pumpPlayback();
    return true;
  }

  stopTone(): void {
    this.tone.stop();
  }

  // --- common --------------------------------------------------------------------------------

  stats(): LocalAudioStats {
    const c = this.capStream;
    const p = this.playStream;
    return {
      capture: {
        open: this.capturing,
        deviceId: c?.device.id ?? AUDIO_DEVICE_NOT_USED,
        deviceName: c?.device.name ?? '',
        framesCaptured: this.capFrames,
        framesRead: this.capRead,
        underruns: this.capUnderruns,
        overflows: this.capOverflows,
        trimmed: this.capTrimmed,
        deviceErrors: this.capErrors,
        buffered: this.capCount,
      },
      playback: {
        open: this.playing,
        deviceId: p?.device.id ?? AUDIO_DEVICE_NOT_USED,
        deviceName: p?.device.name ?? '',
        framesWritten: this.playWritten,
        framesPlayed: this.playPlayed,
        silenceFrames: this.playSilence,
        overflows: this.playOverflows,
        trimmed: this.playTrimmed,
        deviceErrors: this.playErrors,
        buffered: this.playCount,
      },
      lastError: this.lastError,
    };
  }

  close(): Promise<void> {
    if (this.closePromise !== null) return this.closePromise;
    this.closing = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    this.tone.stop();
    const stops: Promise<void>[] = [];
    if (this.capStream !== null) stops.push(stopStream(this.capStream.io));
    if (this.playStream !== null) stops.push(stopStream(this.playStream.io));
    this.capCount = 0;
    this.playCount = 0;
    this.closePromise = Promise.all(stops).then(() => undefined);
    return this.closePromise;
  }
}
