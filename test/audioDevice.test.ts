/**
 * media/audioDevice.ts against a sound card made of files (test/helpers/alsaFile.ts): ALSA's
 * `file` plugin plays into out.raw and captures from in.raw, so PortAudio (naudiodon) sees a
 * `default` device on a machine without audio hardware.
 *
 * The ALSA configuration is selected at the top of this file, before any test runs, because
 * PortAudio reads it when it first initialises (on the first listing or opening) and must not
 * see it change afterwards; ava runs each test file in its own process. Cases that need another
 * environment (no configuration at all) run in a child process. Tests are serial: they share the
 * one playback file.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAlsaFileDevice, runNodeScript } from './helpers/alsaFile.js';
import { audioBackend, peerTest } from './helpers/env.js';
import { dominantFrequency, toneLevelDb } from './helpers/analysis.js';
import {
  AUDIO_DEVICE_NOT_USED,
  LOCAL_TONES,
  PREFERRED_AUDIO_DEVICE,
  isAudioBackendLoaded,
  listAudioDevices,
  openLocalAudio,
  type LocalAudio,
} from '../media/audioDevice.js';

const RATE = 16000;
const FRAME = 320; // 20 ms at 16 kHz

/**
 * The capture file: 1 kHz whose amplitude drifts slowly, so that every 20 ms frame is different
 * and a captured frame can be located in the file exactly.
 */
function capturePcm(seconds: number): Int16Array {
  const n = seconds * RATE;
  const pcm = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / RATE;
    pcm[i] = Math.round((6000 + 2000 * Math.sin(2 * Math.PI * 0.37 * t)) * Math.sin(2 * Math.PI * 1000 * t));
  }
  return pcm;
}

const card = createAlsaFileDevice({ rate: RATE, inPcm: capturePcm(30) });
card.applyToProcess();
process.on('exit', () => card.cleanup());

// probed after the card is applied: listing the devices initialises PortAudio, which reads
// the ALSA configuration only then
const alsa = await audioBackend();
/** The tests share the one playback file, so they run serially. */
const deviceTest = (title: string, fn: (t: ExecutionContext) => Promise<void>): void => peerTest.serial(title, [alsa], fn);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Call `fn` every 20 ms, `count` times, like the engine's media clock. */
async function everyFrame(count: number, fn: (k: number) => void): Promise<void> {
  const start = performance.now();
  for (let k = 0; k < count; k++) {
    fn(k);
    const next = start + (k + 1) * 20;
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait);
  }
}

/** `count` frames of a continuous 440 Hz sine. */
function sineFrames(freq: number, count: number, amplitude = 7000): Int16Array[] {
  const frames: Int16Array[] = [];
  for (let k = 0; k < count; k++) {
    const f = new Int16Array(FRAME);
    for (let i = 0; i < FRAME; i++) f[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freq * (k * FRAME + i)) / RATE));
    frames.push(f);
  }
  return frames;
}

function sameFrame(a: Int16Array, b: Int16Array, bOff: number): boolean {
  for (let i = 0; i < FRAME; i++) if (a[i] !== b[bOff + i]) return false;
  return true;
}

function isSilent(pcm: Int16Array, off: number): boolean {
  for (let i = 0; i < FRAME; i++) if (pcm[off + i] !== 0) return false;
  return true;
}

async function open(t: ExecutionContext, inDeviceId: number, outDeviceId: number): Promise<LocalAudio> {
  const r = await openLocalAudio({ inDeviceId, outDeviceId, sampleRate: RATE, frameMs: 20 });
  if (!r.ok) throw new Error(`openLocalAudio failed: ${r.reason}`);
  t.teardown(() => r.audio.close());
  return r.audio;
}

deviceTest('lists the file-plugin card as the default device', async (t) => {
  const r = await listAudioDevices();
  if (!r.ok) return t.fail(r.reason);
  t.log(r.devices.map((d) => `${d.id}: ${d.name} in=${d.maxInputChannels} out=${d.maxOutputChannels} ${d.defaultSampleRate} Hz ${d.hostApi}`).join('\n'));
  const def = r.devices.find((d) => d.name === 'default');
  t.truthy(def, 'a device named default');
  t.true(def!.isDefaultInput && def!.isDefaultOutput);
  t.true(def!.maxInputChannels >= 1 && def!.maxOutputChannels >= 1);
  t.is(def!.hostApi, 'ALSA');
  t.true(def!.defaultSampleRate > 0);
  t.true(isAudioBackendLoaded());
});

deviceTest('captures the capture file frame by frame, in order, paced in real time', async (t) => {
  const audio = await open(t, PREFERRED_AUDIO_DEVICE, AUDIO_DEVICE_NOT_USED);
  t.true(audio.capturing);
  t.false(audio.playing);
  t.is(audio.frameSamples, FRAME);
  const frames: Int16Array[] = [];
  const buf = new Int16Array(FRAME);
  const started = performance.now();
  await everyFrame(60, () => {
    if (audio.readFrame(buf)) frames.push(buf.slice());
  });
  const elapsed = performance.now() - started;
  const s = audio.stats();
  t.log(JSON.stringify(s.capture), `elapsed ${elapsed.toFixed(0)} ms`);
  t.true(frames.length >= 50, `got ${frames.length} frames`);
  // paced: the device runs far faster than real time, yet no more than real time plus the read-ahead was taken
  t.true(s.capture.framesCaptured <= elapsed / 20 + 4, `captured ${s.capture.framesCaptured} in ${elapsed.toFixed(0)} ms`);
  t.is(s.capture.framesRead, frames.length);
  t.false(s.playback.open);
  t.is(s.playback.deviceId, AUDIO_DEVICE_NOT_USED);

  // every frame is a whole frame of in.raw, in order; gaps only where a drop was counted
  let off = 0;
  let skipped = 0;
  for (const f of frames) {
    let found = -1;
    for (let o = off; o + FRAME <= card.inPcm.length && o <= off + 20 * FRAME; o += FRAME) {
      if (sameFrame(f, card.inPcm, o)) {
        found = o;
        break;
      }
    }
    t.not(found, -1, 'each captured frame is a frame of the capture file, after the previous one');
    if (found < 0) return;
    skipped += (found - off) / FRAME;
    off = found + FRAME;
  }
  t.is(skipped, s.capture.overflows + s.capture.trimmed + s.capture.deviceErrors, 'frames missing = frames counted as dropped');

  const all = new Int16Array(frames.length * FRAME);
  frames.forEach((f, i) => all.set(f, i * FRAME));
  const freq = dominantFrequency(all, RATE);
  t.true(Math.abs(freq - 1000) < 5, `dominant ${freq.toFixed(1)} Hz`);
  for (const f of frames.slice(0, 10)) t.true(Math.abs(dominantFrequency(f, RATE) - 1000) < 40);
});

deviceTest('plays frames into the playback file, in order, with silence only where counted', async (t) => {
  const audio = await open(t, AUDIO_DEVICE_NOT_USED, PREFERRED_AUDIO_DEVICE);
  t.false(audio.capturing);
  t.true(audio.playing);
  const frames = sineFrames(440, 50);
  const buf = new Int16Array(FRAME);
  t.false(audio.readFrame(buf), 'no capture: readFrame gives nothing');
  await everyFrame(50, (k) => audio.writeFrame(frames[k]!));
  await sleep(100);
  const s = audio.stats();
  await audio.close();
  t.log(JSON.stringify(s.playback));
  t.false(s.capture.open);
  t.is(s.capture.underruns, 0, 'an unused direction counts no underruns');
  t.is(s.playback.framesWritten, 50);

  const out = card.readOut();
  t.true(out.length >= 50 * FRAME, `out.raw holds ${out.length} samples`);
  t.is(out.length % FRAME, 0, 'the file grows in whole frames');
  // split into frames: each is silence or the next written frame (or a later one after a counted drop)
  let next = 0;
  let silent = 0;
  let dropped = 0;
  for (let o = 0; o + FRAME <= out.length; o += FRAME) {
    if (isSilent(out, o)) {
      silent++;
      continue;
    }
    let k = next;
    while (k < frames.length && !sameFrame(frames[k]!, out, o)) k++;
    t.true(k < frames.length, `frame at ${o} is one of the written frames, in order`);
    if (k >= frames.length) return;
    dropped += k - next;
    next = k + 1;
  }
  t.is(dropped + (frames.length - next), s.playback.overflows + s.playback.trimmed, 'frames missing = frames counted as dropped');
  t.true(silent >= s.playback.silenceFrames, 'silence frames in the file include every inserted one');
  const freq = dominantFrequency(out, RATE);
  t.true(Math.abs(freq - 440) < 3, `dominant ${freq.toFixed(1)} Hz`);
});

deviceTest('a tone plays on its own, paced in real time, and mixes into the playback', async (t) => {
  const audio = await open(t, AUDIO_DEVICE_NOT_USED, PREFERRED_AUDIO_DEVICE);
  const started = performance.now();
  t.true(audio.playTone('dial'));
  t.true(audio.tonePlaying);
  await sleep(600);
  audio.stopTone();
  t.false(audio.tonePlaying);
  const elapsed = performance.now() - started;
  const s = audio.stats();
  await audio.close();
  t.log(JSON.stringify(s.playback), `elapsed ${elapsed.toFixed(0)} ms`);
  // the file device would take thousands of frames a second: the model keeps it to real time
  t.true(s.playback.framesPlayed <= elapsed / 20 + 4, `played ${s.playback.framesPlayed} frames in ${elapsed.toFixed(0)} ms`);
  t.true(s.playback.framesPlayed >= 20);
  const out = card.readOut();
  const body = out.subarray(2 * FRAME, Math.min(out.length, 25 * FRAME));
  t.true(toneLevelDb(body, RATE, 350) > -5, 'dial tone has 350 Hz');
  t.true(toneLevelDb(body, RATE, 440) > -5, 'dial tone has 440 Hz');
  t.true(toneLevelDb(body, RATE, 1000) < -30);
});

deviceTest('capture and playback at once on the default device', async (t) => {
  const audio = await open(t, PREFERRED_AUDIO_DEVICE, PREFERRED_AUDIO_DEVICE);
  const frames = sineFrames(440, 40);
  const got: Int16Array[] = [];
  const buf = new Int16Array(FRAME);
  await everyFrame(40, (k) => {
    audio.writeFrame(frames[k]!);
    if (audio.readFrame(buf)) got.push(buf.slice());
  });
  await sleep(60);
  const s = audio.stats();
  await audio.close();
  t.true(got.length >= 30, `captured ${got.length}`);
  const cap = new Int16Array(got.length * FRAME);
  got.forEach((f, i) => cap.set(f, i * FRAME));
  t.true(Math.abs(dominantFrequency(cap, RATE) - 1000) < 5);
  const out = card.readOut();
  t.true(Math.abs(dominantFrequency(out, RATE) - 440) < 3);
  t.true(s.capture.open && s.playback.open);
  t.is(s.playback.framesWritten, 40);
});

deviceTest('close is idempotent and stops both directions', async (t) => {
  const audio = await open(t, PREFERRED_AUDIO_DEVICE, PREFERRED_AUDIO_DEVICE);
  await sleep(60);
  const p1 = audio.close();
  const p2 = audio.close();
  t.is(p1, p2);
  await p1;
  t.false(audio.capturing);
  t.false(audio.playing);
  const buf = new Int16Array(FRAME).fill(5);
  t.false(audio.readFrame(buf));
  t.is(buf[0], 0);
  audio.writeFrame(buf);
  t.false(audio.playTone('busy'));
  const s = audio.stats();
  t.false(s.capture.open);
  t.false(s.playback.open);
  t.is(s.playback.framesWritten, 0);
  // the device can be opened again at once
  const again = await openLocalAudio({ sampleRate: RATE });
  t.true(again.ok);
  if (again.ok) await again.audio.close();
});

deviceTest('bad device ids and options give a clear failure', async (t) => {
  const cases: Array<[Parameters<typeof openLocalAudio>[0], RegExp]> = [
    [{ inDeviceId: 99, outDeviceId: AUDIO_DEVICE_NOT_USED }, /no capture device with id 99/],
    [{ inDeviceId: AUDIO_DEVICE_NOT_USED, outDeviceId: 42 }, /no playback device with id 42/],
    [{ inDeviceId: -3 }, /bad capture device id -3/],
    [{ outDeviceId: 1.5 }, /bad playback device id 1.5/],
    [{ sampleRate: 44100 as 16000 }, /unsupported sample rate 44100/],
    [{ frameMs: 0 }, /bad frame length/],
    [{ bufferFrames: 1 }, /bad ring size/],
  ];
  for (const [opts, re] of cases) {
    const r = await openLocalAudio(opts);
    t.false(r.ok);
    if (!r.ok) t.regex(r.reason, re);
  }
  const prev = process.env.LINESCAPE_DISABLE_NATIVE;
  process.env.LINESCAPE_DISABLE_NATIVE = 'naudiodon';
  try {
    const l = await listAudioDevices();
    t.false(l.ok);
    if (!l.ok) t.regex(l.reason, /disabled/);
    const o = await openLocalAudio({});
    t.false(o.ok);
  } finally {
    if (prev === undefined) delete process.env.LINESCAPE_DISABLE_NATIVE;
    else process.env.LINESCAPE_DISABLE_NATIVE = prev;
  }
});

test.serial('both directions unused: an idle device, nothing opened', async (t) => {
  const r = await openLocalAudio({ inDeviceId: AUDIO_DEVICE_NOT_USED, outDeviceId: AUDIO_DEVICE_NOT_USED });
  if (!r.ok) return t.fail(r.reason);
  const a = r.audio;
  t.false(a.capturing);
  t.false(a.playing);
  const buf = new Int16Array(FRAME);
  t.false(a.readFrame(buf));
  a.writeFrame(buf);
  t.false(a.playTone('dial'));
  t.throws(() => a.readFrame(new Int16Array(10)), { instanceOf: RangeError });
  t.throws(() => a.writeFrame(new Int16Array(10)), { instanceOf: RangeError });
  const s = a.stats();
  t.is(s.capture.deviceId, AUDIO_DEVICE_NOT_USED);
  t.is(s.capture.underruns, 0);
  await a.close();
});

test.serial('local tones are tone specs the generator accepts at every rate', (t) => {
  for (const [name, spec] of Object.entries(LOCAL_TONES)) {
    for (const f of spec.freqs) t.true(f > 0 && f < 4000, `${name} ${f} Hz below Nyquist at 8 kHz`);
  }
  t.is(LOCAL_TONES.error.cadenceMs?.[0], 250);
});

/** A child process importing the compiled module under another environment. */
const childScript = `
const m = await import(${JSON.stringify(new URL('../media/audioDevice.js', import.meta.url).href)});
const none = await m.openLocalAudio({ inDeviceId: -2, outDeviceId: -2 });
const loadedAfterNone = m.isAudioBackendLoaded();
if (none.ok) await none.audio.close();
const list = await m.listAudioDevices();
const open = await m.openLocalAudio({});
if (open.ok) await open.audio.close();
console.log('RESULT ' + JSON.stringify({ none: none.ok, loadedAfterNone, list, open: { ok: open.ok, reason: open.ok ? '' : open.reason } }));
`;

interface ChildResult {
  none: boolean;
  loadedAfterNone: boolean;
  list: { ok: boolean; devices?: unknown[]; reason?: string };
  open: { ok: boolean; reason: string };
}

function parseChild(t: ExecutionContext, stdout: string): ChildResult | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  t.truthy(line, `child printed a result: ${stdout}`);
  return line === undefined ? undefined : (JSON.parse(line.slice(7)) as ChildResult);
}

deviceTest('without any ALSA configuration: no crash, no devices, a clear failure, and quiet', async (t) => {
  const emptyHome = fs.mkdtempSync(path.join(os.tmpdir(), 'linescape-nohome-'));
  t.teardown(() => fs.rmSync(emptyHome, { recursive: true, force: true }));
  const r = await runNodeScript(childScript, { HOME: emptyHome, ALSA_CONFIG_PATH: undefined });
  t.log(`exit ${r.code} ${r.signal ?? ''}; stderr ${r.stderr.length} chars`);
  t.is(r.signal, null);
  t.is(r.code, 0);
  const res = parseChild(t, r.stdout);
  if (res === undefined) return;
  t.true(res.none);
  t.false(res.loadedAfterNone, 'both directions unused: naudiodon is not even loaded');
  t.true(!res.list.ok || (res.list.devices ?? []).length === 0, 'no devices (or a failure result)');
  t.false(res.open.ok);
  t.regex(res.open.reason, /no default capture device|PortAudio|naudiodon/);
  // quiet: neither ALSA's probing messages nor naudiodon's printf reached the console
  t.notRegex(r.stderr, /ALSA lib/);
  t.is(r.stdout.trim().split('\n').length, 1, `stdout: ${r.stdout}`);
});

deviceTest('an ALSA_CONFIG_PATH without a default PCM is refused instead of aborting', async (t) => {
  const r = await runNodeScript(childScript, { ALSA_CONFIG_PATH: '/nonexistent/asound.conf' });
  t.is(r.signal, null, r.stderr);
  t.is(r.code, 0);
  const res = parseChild(t, r.stdout);
  if (res === undefined) return;
  t.false(res.list.ok);
  t.regex(res.list.reason ?? '', /defines no "default" PCM/);
  t.false(res.open.ok);
});
