/**
 * Loading the sound-card backend: naudiodon's native addon (PortAudio), loaded lazily and
 * once, straight from its `.node` file rather than through its `index.js` (which installs a
 * process-wide SIGSEGV handler and logs with `console.error`), plus the lifecycle of its
 * streams (a bounded stop, and no re-entry into PortAudio while a stop is pending). Never
 * throws: a missing or broken backend is a `{ ok: false, reason }`. See `media/audioDevice`
 * for the whole picture.
 * @module
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { DISABLE_NATIVE_ENV } from '../ffi/loader.js';
import type { AudioDeviceInfo } from './alsaProbe.js';

/** What the addon's `read` resolves to. */
export interface NativeReadResult {
  buf?: Buffer;
  finished?: boolean;
  err?: string;
}

/** One naudiodon stream (the object `create` returns). */
export interface NativeAudioIO {
  start(): void;
  read(bytes: number): Promise<NativeReadResult>;
  write(chunk: Buffer): Promise<string | undefined>;
  quit(mode: 'WAIT' | 'ABORT'): Promise<void>;
}

/** naudiodon's per-direction stream options. */
export interface NativeStreamOptions {
  deviceId: number;
  sampleRate: number;
  channelCount: number;
  sampleFormat: number;
  maxQueue: number;
  framesPerBuffer: number;
  closeOnError: boolean;
}

/** A device record from the addon's `getDevices`. */
export interface NativeDeviceInfo {
  id: number;
  name: string;
  maxInputChannels: number;
  maxOutputChannels: number;
  defaultSampleRate: number;
  hostAPIName: string;
}

/** The addon's `getHostAPIs` answer. */
export interface NativeHostApis {
  defaultHostAPI: number;
  HostAPIs: ReadonlyArray<{ name: string; defaultInput: number; defaultOutput: number }>;
}

/** The addon's exports. */
export interface NaudiodonBinding {
  getDevices(): NativeDeviceInfo[];
  getHostAPIs(): NativeHostApis;
  create(options: { inOptions?: NativeStreamOptions; outOptions?: NativeStreamOptions }): NativeAudioIO;
}

/** The outcome of loading the addon: its binding, or why not. */
export type BackendResult = { readonly ok: true; readonly binding: NaudiodonBinding } | { readonly ok: false; readonly reason: string };


/** naudiodon's `SampleFormat16Bit`. */
export const SAMPLE_FORMAT_INT16 = 16;
/** Frames naudiodon may queue between PortAudio's callback and our reads. */
export const CAPTURE_NATIVE_QUEUE = 8;
/** Frames naudiodon may queue between our writes and PortAudio's callback. */
export const PLAYBACK_NATIVE_QUEUE = 4;
/** Capture reads may run this many frames ahead of real time on devices that do not pace. */
export const CAPTURE_LEAD_FRAMES = 2;
/** Playback frames are dropped while the device is modelled to hold more than this many. */
export const PLAYBACK_MAX_AHEAD_FRAMES = 5;
/** Consecutive frames a ring must stay above its target before one frame is trimmed. */
export const TRIM_AFTER_FRAMES = 50;
/** How long `LocalAudio.close` waits for PortAudio to stop a stream. */
export const CLOSE_TIMEOUT_MS = 2000;


let backend: BackendResult | undefined;

/** The message of a thrown value. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Whether `LINESCAPE_DISABLE_NATIVE` names naudiodon (or `all`); read on every call. */
export function backendDisabled(): boolean {
  const env = process.env[DISABLE_NATIVE_ENV];
  if (env === undefined || env === '') return false;
  return env.split(',').some((p) => {
    const v = p.trim().toLowerCase();
    return v === 'naudiodon' || v === 'all';
  });
}

/** Load naudiodon's native addon once; the outcome is cached. Never throws. */
export function loadBackend(): BackendResult {
  if (backendDisabled()) return { ok: false, reason: `naudiodon is disabled (${DISABLE_NATIVE_ENV})` };
  if (backend !== undefined) return backend;
  const req = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = path.dirname(req.resolve('naudiodon/package.json'));
  } catch (err) {
    backend = { ok: false, reason: `naudiodon is not installed (an optional dependency: npm install naudiodon): ${errorText(err)}` };
    return backend;
  }
  const candidates = ['build/Release/naudiodon.node', 'build/Debug/naudiodon.node'].map((f) => path.join(dir, f));
  const file = candidates.find((f) => fs.existsSync(f));
  if (file === undefined) {
    backend = { ok: false, reason: `naudiodon's native addon was not built (looked for ${candidates.join(', ')}; run npm rebuild naudiodon)` };
    return backend;
  }
  try {
    const binding = req(file) as Partial<NaudiodonBinding>;
    if (typeof binding.create !== 'function' || typeof binding.getDevices !== 'function' || typeof binding.getHostAPIs !== 'function') {
      throw new Error('the addon lacks create/getDevices/getHostAPIs');
    }
    backend = { ok: true, binding: binding as NaudiodonBinding };
  } catch (err) {
    const msg = errorText(err);
    const hint = /libasound/.test(msg) ? ' (install ALSA\'s library: apt-get install -y libasound2)' : '';
    backend = { ok: false, reason: `naudiodon failed to load${hint}: ${msg}` };
  }
  return backend;
}

/** True once naudiodon's native addon has been loaded into this process. */
export function isAudioBackendLoaded(): boolean {
  return backend !== undefined && backend.ok;
}



/** An opened naudiodon stream and the device it is on. */
export interface OpenStream {
  readonly io: NativeAudioIO;
  readonly device: AudioDeviceInfo;
}


/**
 * Stop a stream: `quit('ABORT')` (PortAudio stops at once, buffered output is dropped), bounded
 * by {@link CLOSE_TIMEOUT_MS}. Tracked in {@link pendingCloses} until done.
 *
 * Quits run one after another. naudiodon runs each on a thread of libuv's pool, where it closes
 * its stream and calls `Pa_Terminate`, and PortAudio is not thread-safe: two quits at once (a
 * capture and a playback stream closed together) let one `Pa_Terminate` walk the list of open
 * streams while the other thread closes one of them, a SIGSEGV inside `Pa_CloseStream` (seen
 * in CI, with the native stack). A quit that does not finish within the bound no longer holds
 * the next one back, so a stuck device cannot stop the others from closing.
 */
export function stopStream(io: NativeAudioIO): Promise<void> {
  const run = quitChain.then(() => quitBounded(io));
  quitChain = run;
  pendingCloses.add(run);
  void run.then(() => pendingCloses.delete(run));
  return run;
}

/** The last quit handed to PortAudio (or waiting for its turn); never rejects. */
let quitChain: Promise<void> = Promise.resolve();

/** `io.quit('ABORT')`, settled when it finishes, fails or has run {@link CLOSE_TIMEOUT_MS}. */
function quitBounded(io: NativeAudioIO): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
    timer.unref();
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    let p: Promise<void>;
    try {
      p = io.quit('ABORT');
    } catch {
      p = Promise.resolve();
    }
    p.then(done, done);
  });
}


/** Closes still stopping PortAudio streams; PortAudio is not re-entered until they finish. */
const pendingCloses = new Set<Promise<void>>();

/** Wait until every stream being stopped has stopped. */
export async function settlePendingCloses(): Promise<void> {
  while (pendingCloses.size > 0) await Promise.all([...pendingCloses]);
}
