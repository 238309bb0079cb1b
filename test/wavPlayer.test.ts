/**
 * WAV playback: files generated with wavefile into a temp dir in every accepted shape (rates,
 * stereo, 8-bit, 24-bit, float), played through a session to a peer and checked by frequency;
 * the rate converter's alias rejection; and the clear results for files that cannot be played.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import wavefilePkg from 'wavefile';
import { dominantFrequency, goertzelPower, rms } from './helpers/analysis.js';
import type { CodecName } from '../media/codecs.js';
import type { MediaSessionOptions } from '../media/session.js';
import { convertSampleRate, loadWav, WavPlayer } from '../media/wavPlayer.js';
import { Capture, near, NO_TELEPHONE_EVENT, pair as sessionPair, sleep } from './helpers/sessionPair.js';

const { WaveFile } = wavefilePkg;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'linescape-wav-'));
test.after.always(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Writes a WAV of a `freq` Hz sine and returns its path. */
function makeWav(
  name: string,
  rate: number,
  freq: number,
  opts: { bitDepth?: string; channels?: number; ms?: number; amplitude?: number } = {},
): string {
  const bitDepth = opts.bitDepth ?? '16';
  const channels = opts.channels ?? 1;
  const n = Math.round((rate * (opts.ms ?? 1500)) / 1000);
  const amp = opts.amplitude ?? 0.3; // of full scale
  const chans: number[][] = [];
  for (let c = 0; c < channels; c++) {
    const s: number[] = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const x = amp * Math.sin((2 * Math.PI * freq * i) / rate);
      if (bitDepth === '32f' || bitDepth === '64') s[i] = x;
      else if (bitDepth === '8') s[i] = Math.round(128 + x * 127);
      else if (bitDepth === '24') s[i] = Math.round(x * 8388607);
      else s[i] = Math.round(x * 32767);
    }
    chans.push(s);
  }
  const w = new WaveFile();
  w.fromScratch(channels, rate, bitDepth, channels === 1 ? chans[0]! : chans);
  const file = path.join(dir, name);
  fs.writeFileSync(file, w.toBuffer());
  return file;
}

/** Two sessions without telephone-event; `aOpts` for the playing side. */
const pair = (t: ExecutionContext, codec: CodecName, aOpts: Partial<MediaSessionOptions> = {}) =>
  sessionPair(t, codec, { a: aOpts, pa: NO_TELEPHONE_EVENT, pb: NO_TELEPHONE_EVENT });

const cases: { name: string; rate: number; freq: number; bitDepth?: string; channels?: number; codec: CodecName }[] = [
  { name: '8k16.wav', rate: 8000, freq: 700, codec: 'PCMU' },
  { name: '16k16.wav', rate: 16000, freq: 900, codec: 'PCMU' },
  { name: '48k16.wav', rate: 48000, freq: 1100, codec: 'PCMA' },
  { name: '44k16.wav', rate: 44100, freq: 1000, codec: 'PCMU' },
  { name: '44k16-opus.wav', rate: 44100, freq: 1500, codec: 'opus' },
  { name: '16k-opus.wav', rate: 16000, freq: 600, codec: 'opus' },
  { name: 'stereo.wav', rate: 16000, freq: 800, channels: 2, codec: 'PCMU' },
  { name: '8bit.wav', rate: 8000, freq: 500, bitDepth: '8', codec: 'PCMU' },
  { name: '24bit.wav', rate: 48000, freq: 1300, bitDepth: '24', codec: 'PCMU' },
  { name: 'float.wav', rate: 44100, freq: 1200, bitDepth: '32f', codec: 'PCMA' },
  { name: 'float64.wav', rate: 8000, freq: 400, bitDepth: '64', codec: 'PCMU' },
];

for (const c of cases) {
  test.serial(`${c.name}: ${c.rate} Hz ${c.bitDepth ?? '16'}-bit ${c.channels ?? 1} ch over ${c.codec} arrives at ${c.freq} Hz`, async (t) => {
    const file = makeWav(c.name, c.rate, c.freq, { ...(c.bitDepth ? { bitDepth: c.bitDepth } : {}), ...(c.channels ? { channels: c.channels } : {}) });
    const { a, b } = await pair(t, c.codec);
    const rate = c.codec === 'opus' ? 48000 : 8000;
    const cap = new Capture(b.openRx(rate));
    t.is(await a.playWave(file, false), 'ok');
    await sleep(1000);
    const pcm = cap.pcm(10);
    // 0.3 of full scale in the file: well above noise after any codec
    t.true(rms(pcm) > 3000, `level ${rms(pcm)}`);
    near(t, dominantFrequency(pcm, rate), c.freq, c.name);
  });
}

test.serial('non-looping playback ends (onWaveEnd, then silence); looping keeps going', async (t) => {
  const ended: string[] = [];
  const short = makeWav('short.wav', 8000, 1000, { ms: 300 });
  const { a, b } = await pair(t, 'PCMU', { onWaveEnd: (p) => ended.push(p) });
  const cap = new Capture(b.openRx(8000));
  t.is(await a.playWave(short, false), 'ok');
  await sleep(900);
  t.deepEqual(ended, [short]);
  const m = cap.chunks.length;
  await sleep(300);
  t.is(rms(cap.pcm(m)), 0, 'silent after the end');

  t.is(await a.playWave(short, true), 'ok');
  await sleep(1000);
  const m2 = cap.chunks.length;
  await sleep(500);
  near(t, dominantFrequency(cap.pcm(m2), 8000), 1000, 'still looping after 3 passes');
  t.deepEqual(ended, [short], 'a loop never ends by itself');
  t.true(a.stopWave());
  t.false(a.stopWave());
  await sleep(300);
  const m3 = cap.chunks.length;
  await sleep(300);
  t.is(rms(cap.pcm(m3)), 0, 'silent after stopWave');
});

test.serial('files that cannot be played give clear results and never throw', async (t) => {
  const { a } = await pair(t, 'PCMU');
  t.is(await a.playWave(path.join(dir, 'does-not-exist.wav'), false), 'not-found');
  t.is(await a.playWave(dir, false), 'not-found', 'a directory');

  const empty = new WaveFile();
  empty.fromScratch(1, 8000, '16', []);
  const emptyFile = path.join(dir, 'empty.wav');
  fs.writeFileSync(emptyFile, empty.toBuffer());
  t.is(await a.playWave(emptyFile, true), 'empty');
  const zero = path.join(dir, 'zero.wav');
  fs.writeFileSync(zero, '');
  t.is(await a.playWave(zero, false), 'empty');

  const text = path.join(dir, 'readme.wav');
  fs.writeFileSync(text, 'This is not a WAV file, just some text with a .wav name.\n');
  t.is(await a.playWave(text, false), 'bad-format');
  const riffJunk = path.join(dir, 'junk.wav');
  fs.writeFileSync(riffJunk, Buffer.concat([Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt '), Buffer.alloc(8, 0xff)]));
  t.is(await a.playWave(riffJunk, false), 'bad-format', 'truncated header');
  t.is(await a.playWave(makeWav('12k.wav', 12000, 500), false), 'bad-format', 'unsupported rate');
  t.is(await a.playWave(makeWav('4ch.wav', 8000, 500, { channels: 4 }), false), 'bad-format', 'four channels');
  t.is(a.stats().handlerErrors, 0);
});

test('44.1 kHz → 8 kHz conversion keeps the pass band and rejects aliases', async (t) => {
  const n = 44100;
  const tone = (f: number): Int16Array => {
    const s = new Int16Array(n);
    for (let i = 0; i < n; i++) s[i] = Math.round(16000 * Math.sin((2 * Math.PI * f * i) / 44100));
    return s;
  };
  const pass = await convertSampleRate(tone(3000), 44100, 8000);
  t.is(pass.length, 8000);
  const mid = pass.subarray(1000, 7000);
  const passDb = 10 * Math.log10(goertzelPower(mid, 8000, 3000) / (16000 * 16000 / 2));
  t.true(Math.abs(passDb) < 0.5, `3 kHz passes at ${passDb.toFixed(2)} dB`);
  // 6 kHz would fold to 2 kHz; it must be gone
  const stop = await convertSampleRate(tone(6000), 44100, 8000);
  const level = rms(stop.subarray(1000, 7000));
  const stopDb = 20 * Math.log10(level / (16000 / Math.SQRT2));
  t.true(stopDb < -50, `6 kHz leaks at ${stopDb.toFixed(1)} dB`);
  const up = await convertSampleRate(tone(1000), 44100, 48000);
  t.is(up.length, 48000);
  t.true(Math.abs(dominantFrequency(up, 48000) - 1000) < 2);
});

test('WavPlayer mixes with saturation and follows a rate change', async (t) => {
  const r = await loadWav(makeWav('loud.wav', 8000, 1000, { amplitude: 0.9 }));
  if (r.result !== 'ok') throw new Error(r.detail);
  t.is(r.audio.channels, 1);
  const p = await WavPlayer.create(r.audio, 8000, false);
  const out = new Int16Array(160).fill(20000);
  t.true(p.mixInto(out, 160));
  t.true(out.every((v) => v >= -32768 && v <= 32767));
  t.is(Math.max(...out), 32767, 'saturated, not wrapped');
  await p.setRate(48000);
  t.is(p.sampleRate, 48000);
  t.true(Math.abs(p.positionMs - 20) < 0.5);
  const big = new Int16Array(960 * 20);
  for (let i = 0; i < 20; i++) {
    const f = new Int16Array(960);
    p.mixInto(f, 960);
    big.set(f, i * 960);
  }
  t.true(Math.abs(dominantFrequency(big, 48000) - 1000) < 20);
});
