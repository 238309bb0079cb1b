import test from 'ava';
import { dominantFrequency, fft, findGaps, goertzelPower, rms, rmsDbfs, toneLevelDb } from './helpers/analysis.js';
import { fillSine } from '../media/tones.js';

test('rms and dBFS of known signals', (t) => {
  const sine = new Int16Array(8000);
  fillSine(sine, 8000, 1000, 10000);
  t.true(Math.abs(rms(sine) - 10000 / Math.SQRT2) < 2);
  t.is(rms(new Int16Array(100)), 0);
  t.is(rms(sine, 10, 10), 0);
  t.is(rmsDbfs(new Int16Array(10)), -Infinity);
  const square = new Int16Array(100).fill(16384);
  t.true(Math.abs(rmsDbfs(square) + 6.02) < 0.01);
  t.is(rms([3, -4, 0, 0], 0, 2), Math.sqrt(12.5));
});

test('goertzelPower measures a tone as A²/2 and ignores other frequencies', (t) => {
  const pcm = new Int16Array(8000);
  fillSine(pcm, 8000, 697, 6000);
  t.true(Math.abs(goertzelPower(pcm, 8000, 697) / 18e6 - 1) < 0.001);
  t.true(goertzelPower(pcm, 8000, 1209) < 18e6 * 1e-4);
  t.is(goertzelPower(pcm, 8000, 697, 5, 5), 0);
});

test('toneLevelDb: 0 dB for a pure tone, −3 dB for one of two equal tones, very low when absent', (t) => {
  const pcm = new Int16Array(48000);
  fillSine(pcm, 48000, 1000, 8000);
  t.true(Math.abs(toneLevelDb(pcm, 48000, 1000)) < 0.05);
  fillSine(pcm, 48000, 1500, 8000, 0, pcm.length, true);
  t.true(Math.abs(toneLevelDb(pcm, 48000, 1500) + 3.01) < 0.05);
  t.true(toneLevelDb(pcm, 48000, 3000) < -50);
  t.is(toneLevelDb(new Int16Array(10), 8000, 1000), -Infinity);
});

test('dominantFrequency finds tones within a few Hz at 8 and 48 kHz', (t) => {
  for (const [rate, f] of [
    [8000, 440],
    [8000, 1000],
    [8000, 3333],
    [48000, 1000],
    [48000, 12345],
    [16000, 697],
  ] as const) {
    const pcm = new Int16Array(rate / 2);
    fillSine(pcm, rate, f, 9000);
    fillSine(pcm, rate, f * 1.7, 2000, 0, pcm.length, true); // a weaker second tone must not win
    const got = dominantFrequency(pcm, rate);
    t.true(Math.abs(got - f) < 2, `${rate}/${f}: ${got}`);
  }
  t.is(dominantFrequency(new Int16Array(32), 8000), 0);
  t.is(dominantFrequency(new Int16Array(1000), 8000), 0);
});

test('fft of a cosine puts its energy in one bin pair', (t) => {
  const n = 64;
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  for (let i = 0; i < n; i++) re[i] = Math.cos((2 * Math.PI * 5 * i) / n);
  fft(re, im);
  t.true(Math.abs(re[5]! - 32) < 1e-9 && Math.abs(re[59]! - 32) < 1e-9);
  for (let k = 0; k < n; k++) if (k !== 5 && k !== 59) t.true(Math.hypot(re[k]!, im[k]!) < 1e-9);
  t.throws(() => fft(new Float64Array(6), new Float64Array(6)), { instanceOf: RangeError });
});

test('findGaps reports silent runs and the longest one', (t) => {
  const rate = 8000;
  const pcm = new Int16Array(rate * 2);
  fillSine(pcm, rate, 500, 5000); // full buffer of tone
  pcm.fill(0, 2400, 4000); // 300-500 ms
  pcm.fill(0, 8000, 12000); // 1000-1500 ms
  for (let i = 12000; i < 12800; i++) pcm[i] = i % 2 === 0 ? 20 : -20; // low noise still counts as silence
  const r = findGaps(pcm, rate, 10);
  t.deepEqual(r.gaps, [
    { startMs: 300, lengthMs: 200 },
    { startMs: 1000, lengthMs: 600 },
  ]);
  t.is(r.longestMs, 600);
  t.is(r.longestStartMs, 1000);
  const none = findGaps(new Int16Array(0), rate);
  t.deepEqual(none, { gaps: [], longestMs: 0, longestStartMs: -1 });
  const trailing = findGaps(new Int16Array(800), rate, 20);
  t.deepEqual(trailing.gaps, [{ startMs: 0, lengthMs: 100 }]);
});
