/**
 * A sound card made of files, for testing `media/audioDevice.ts` on machines without audio
 * hardware: an ALSA configuration whose `default` PCM plays into a raw file and captures from
 * another one, through ALSA's `file` plugin over the `null` PCM. naudiodon's bundled PortAudio
 * then lists a `default` device (plus the two halves, `linescape_out` and `linescape_in`).
 *
 * The configuration (written to `<dir>/asound.conf`, and copied to `<dir>/.asoundrc`):
 * ```
 * pcm.!default { type asym playback.pcm "linescape_out" capture.pcm "linescape_in" }
 * pcm.linescape_out {
 *   type plug
 *   slave { pcm { type file slave.pcm { type null } file "<dir>/out.raw" format "raw" }
 *           rate 16000 format S16_LE channels 1 }
 * }
 * pcm.linescape_in {
 *   type plug
 *   slave { pcm { type file slave.pcm { type null } file "/dev/null" infile "<dir>/in.raw" format "raw" }
 *           rate 16000 format S16_LE channels 1 }
 * }
 * ```
 * Facts found while setting it up (alsa-lib 1.2.8, PortAudio 19.6 in naudiodon 2.3.6):
 * - `type plug` around each file PCM converts whatever PortAudio asks for to the file's rate and
 *   format, so the raw files are always S16_LE mono at the configured rate.
 * - Capture needs both `infile` (read) and `file` (where the plugin copies what was read; pointed
 *   at `/dev/null` so no file grows).
 * - The `null` PCM does not pace: reads and writes complete at once, far faster than real time,
 *   so the code under test must pace itself. Playback lands in `out.raw` exactly as written.
 *   Opening and device probing do not truncate `out.raw`; opening a playback stream does.
 * - With `ALSA_CONFIG_PATH` naming only this file (what {@link AlsaFileDevice.env} sets), the
 *   system's `alsa.conf` is not read: PortAudio probes only these three PCMs and ALSA prints
 *   nothing. `slave.pcm` must then be written inline (`{ type null }`): the named PCM `"null"`
 *   is defined by the system configuration. `HOME=<dir>` (which makes ALSA read `<dir>/.asoundrc`
 *   on top of the system configuration) works too but lists more devices and prints dozens of
 *   `ALSA lib …` lines about missing cards.
 * - PortAudio 19.6 aborts the process (an assertion in `BuildDeviceList`) when the configuration
 *   defines no `default` PCM (an empty or missing `ALSA_CONFIG_PATH` file); always keep
 *   `pcm.!default`.
 *
 * When to set the environment: ALSA reads its configuration when PortAudio initialises, and
 * `media/audioDevice.ts` initialises PortAudio only on the first listing or opening, so setting
 * the variables at the top of a test file (before any test runs) is enough. ava runs each test
 * file in its own process (`workerThreads: false` in package.json), so this does not leak into
 * other test files. Do not switch configurations inside one process: PortAudio re-reads ALSA's
 * configuration on every initialisation and can abort on a change; a test that needs another
 * configuration (or none) runs its code in a child process with {@link runNodeScript}.
 * @module
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Options of {@link createAlsaFileDevice}. */
export interface AlsaFileDeviceOptions {
  /** Sample rate of both raw files (default 16000). */
  readonly rate?: number;
  /** Frequency of the sine written to the capture file, in Hz (default 1000). */
  readonly inFreq?: number;
  /** Peak amplitude of that sine (default 8000). */
  readonly inAmplitude?: number;
  /** Length of the capture file in seconds (default 20). */
  readonly inSeconds?: number;
  /** Use these samples as the capture file instead of a sine. */
  readonly inPcm?: Int16Array;
}

/** A temporary directory holding an ALSA file-plugin sound card; from {@link createAlsaFileDevice}. */
export interface AlsaFileDevice {
  /** The temporary directory. */
  readonly dir: string;
  /** The ALSA configuration file (`<dir>/asound.conf`). */
  readonly configPath: string;
  /** The raw capture source, S16_LE mono at {@link AlsaFileDevice.rate}. */
  readonly inFile: string;
  /** The raw playback sink, S16_LE mono at {@link AlsaFileDevice.rate}. */
  readonly outFile: string;
  /** Sample rate of both files. */
  readonly rate: number;
  /** The samples written to {@link AlsaFileDevice.inFile}. */
  readonly inPcm: Int16Array;
  /** Environment variables selecting this card: `ALSA_CONFIG_PATH` (and `HOME`, for tools that read `~/.asoundrc`). */
  readonly env: Readonly<Record<string, string>>;
  /** Set `ALSA_CONFIG_PATH` in this process; call before anything initialises PortAudio. */
  applyToProcess(): void;
  /** What has been played so far: the samples in {@link AlsaFileDevice.outFile} (empty if none). */
  readOut(): Int16Array;
  /** Remove the directory. */
  cleanup(): void;
}

/**
 * The ALSA configuration text for a file-plugin card: `default` plays into `outFile` and
 * captures from `inFile`, both raw S16_LE mono at `rate`.
 */
export function alsaFileConfig(opts: { readonly rate: number; readonly inFile: string; readonly outFile: string }): string {
  const q = (s: string): string => JSON.stringify(s);
  return [
    '# LineScape test sound card: playback into a raw file, capture from a raw file',
    'pcm.!default {',
    '  type asym',
    '  playback.pcm "linescape_out"',
    '  capture.pcm "linescape_in"',
    '}',
    'pcm.linescape_out {',
    '  type plug',
    '  slave {',
    `    pcm { type file slave.pcm { type null } file ${q(opts.outFile)} format "raw" }`,
    `    rate ${opts.rate}`,
    '    format S16_LE',
    '    channels 1',
    '  }',
    '}',
    'pcm.linescape_in {',
    '  type plug',
    '  slave {',
    `    pcm { type file slave.pcm { type null } file "/dev/null" infile ${q(opts.inFile)} format "raw" }`,
    `    rate ${opts.rate}`,
    '    format S16_LE',
    '    channels 1',
    '  }',
    '}',
    '',
  ].join('\n');
}

/** `seconds` of a sine at `freq` Hz and peak `amplitude`, at `rate`. */
export function sinePcm(freq: number, seconds: number, rate: number, amplitude = 8000): Int16Array {
  const n = Math.round(seconds * rate);
  const pcm = new Int16Array(n);
  for (let i = 0; i < n; i++) pcm[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freq * i) / rate));
  return pcm;
}

/**
 * Create a temporary directory with a file-plugin sound card: the configuration, the capture
 * file (a sine unless `inPcm` is given) and, once something plays, the playback file.
 */
export function createAlsaFileDevice(opts: AlsaFileDeviceOptions = {}): AlsaFileDevice {
  const rate = opts.rate ?? 16000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'linescape-alsa-'));
  const inFile = path.join(dir, 'in.raw');
  const outFile = path.join(dir, 'out.raw');
  const configPath = path.join(dir, 'asound.conf');
  const inPcm = opts.inPcm ?? sinePcm(opts.inFreq ?? 1000, opts.inSeconds ?? 20, rate, opts.inAmplitude ?? 8000);
  fs.writeFileSync(inFile, Buffer.from(inPcm.buffer, inPcm.byteOffset, inPcm.byteLength));
  const text = alsaFileConfig({ rate, inFile, outFile });
  fs.writeFileSync(configPath, text);
  fs.writeFileSync(path.join(dir, '.asoundrc'), text);
  const env = { ALSA_CONFIG_PATH: configPath, HOME: dir };
  return {
    dir,
    configPath,
    inFile,
    outFile,
    rate,
    inPcm,
    env,
    applyToProcess(): void {
      process.env.ALSA_CONFIG_PATH = configPath;
    },
    readOut(): Int16Array {
      let buf: Buffer;
      try {
        buf = fs.readFileSync(outFile);
      } catch {
        return new Int16Array(0);
      }
      const out = new Int16Array(buf.length >> 1);
      for (let i = 0; i < out.length; i++) out[i] = buf.readInt16LE(2 * i);
      return out;
    },
    cleanup(): void {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What a child process did; from {@link runNodeScript}. */
export interface NodeScriptResult {
  /** Exit code, or null when killed by a signal. */
  readonly code: number | null;
  /** The signal that ended it, if any (`SIGABRT` when PortAudio asserts). */
  readonly signal: NodeJS.Signals | null;
  /** Everything it printed on stdout. */
  readonly stdout: string;
  /** Everything it printed on stderr. */
  readonly stderr: string;
}

/**
 * Run an ES module script in a fresh `node` with `env` merged over this process's environment
 * (a value of `undefined` removes the variable), so its audio backend initialises under that
 * environment. Killed after `timeoutMs`.
 */
export function runNodeScript(
  source: string,
  env: Readonly<Record<string, string | undefined>>,
  timeoutMs = 30000,
): Promise<NodeScriptResult> {
  const merged: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', source], { env: merged, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
