import test from 'ava';
import { DBM0_PEAK, NA_TONES, ToneGenerator, dbfsToAmplitude, dbm0ToAmplitude, fillSine } from '../media/tones.js';
import { dominantFrequency, findGaps, goertzelPower, rms, toneLevelDb } from './helpers/analysis.js';

function render(gen: ToneGenerator, ms: number, frameMs = 20): Int16Array {
  const rate = gen.sampleRate;
  const frame = (rate * frameMs) / 1000;
  const total = (rate * ms) / 1000;
  const out = new Int16Array(total);
  for (let i = 0; i < total; i += frame) gen.generate(out.subarray(i, i + frame), Math.min(frame, total - i));
  return out;
}

test('level conversions', (t) => {
  t.true(Math.abs(DBM0_PEAK - 22657) < 1);
  t.true(Math.abs(dbm0ToAmplitude(-10) - 7165) < 1);
  t.is(Math.round(dbfsToAmplitude(0)), 32767);
  t.true(Math.abs(dbfsToAmplitude(-6) - 16422) < 1);
});

test('dial tone: 350 + 440 Hz at −13 dBm0 each, continuous', (t) => {
  const g = new ToneGenerator(8000);
  g.start(NA_TONES.dial);
  const pcm = render(g, 1000).subarray(80);
  const a = dbm0ToAmplitude(-13);
  for (const f of [350, 440]) {
    const p = goertzelPower(pcm, 8000, f);
    t.true(Math.abs(10 * Math.log10(p / ((a * a) / 2))) < 0.2, `${f} Hz`);
    t.true(Math.abs(toneLevelDb(pcm, 8000, f) + 3.01) < 0.2); // two equal tones share the power
  }
  t.true(toneLevelDb(pcm, 8000, 1000) < -40);
  t.is(findGaps(pcm, 8000).gaps.length, 0);
  t.true(g.playing);
});

test('ringback cadence: 440 + 480 Hz, 2 s on, 4 s off, repeating', (t) => {
  const g = new ToneGenerator(8000);
  g.start(NA_TONES.ringback);
  const pcm = render(g, 12000);
  const gaps = findGaps(pcm, 8000, 10);
  t.is(gaps.gaps.length, 2);
  for (const [i, start] of [2000, 8000].entries()) {
    t.true(Math.abs(gaps.gaps[i]!.startMs - start) <= 10, `gap ${i} at ${gaps.gaps[i]!.startMs}`);
    t.true(Math.abs(gaps.gaps[i]!.lengthMs - 4000) <= 10, `gap ${i} ${gaps.gaps[i]!.lengthMs} ms`);
  }
  const on = pcm.subarray(6000 * 8, 8000 * 8);
  t.true(toneLevelDb(on, 8000, 440) > -3.5 && toneLevelDb(on, 8000, 480) > -3.5);
});

test('busy cadence: 480 + 620 Hz, 0.5 s on, 0.5 s off at 48 kHz', (t) => {
  const g = new ToneGenerator(48000);
  g.start(NA_TONES.busy);
  const pcm = render(g, 3000);
  const gaps = findGaps(pcm, 48000, 10);
  t.is(gaps.gaps.length, 3);
  for (const gap of gaps.gaps) t.true(Math.abs(gap.lengthMs - 500) <= 10);
  t.deepEqual(
    gaps.gaps.map((x) => Math.round(x.startMs / 100) * 100),
    [500, 1500, 2500],
  );
  t.true(toneLevelDb(pcm.subarray(0, 24000), 48000, 620) > -3.5);
});

test('frames of any size give exactly the same signal (phase-continuous)', (t) => {
  const a = new ToneGenerator(16000);
  const b = new ToneGenerator(16000);
  const spec = { freqs: [1000, 1250, 333], levelDbm0: [-10, -12, -20], cadenceMs: [100, 50] };
  a.start(spec);
  b.start(spec);
  const whole = new Int16Array(16000);
  a.generate(whole);
  const pieces = new Int16Array(16000);
  for (let i = 0; i < 16000; i += 77) b.generate(pieces.subarray(i), Math.min(77, 16000 - i));
  t.deepEqual([...pieces], [...whole]);
});

test('no clicks: a continuous tone has no sample step larger than its slope', (t) => {
  const g = new ToneGenerator(8000);
  g.start({ freqs: [1000], levelDbm0: 0 });
  const pcm = render(g, 500, 20);
  const slope = (2 * Math.PI * 1000 * DBM0_PEAK) / 8000;
  let worst = 0;
  for (let i = 1; i < pcm.length; i++) worst = Math.max(worst, Math.abs(pcm[i]! - pcm[i - 1]!));
  t.true(worst <= slope + 1);
  t.true(Math.abs(dominantFrequency(pcm, 8000) - 1000) < 1);
});

test('a non-repeating cadence plays once and stops; stop ramps to silence', (t) => {
  const g = new ToneGenerator(8000);
  g.start({ freqs: [440], levelDbm0: -10, cadenceMs: [100, 100, 100, 100], repeat: false });
  const pcm = render(g, 600);
  t.false(g.playing);
  t.true(rms(pcm, 4000, 4800) === 0);
  t.is(findGaps(pcm, 8000).gaps.length, 2);
  // an odd count ends "on" and holds
  g.start({ freqs: [440], levelDbm0: -10, cadenceMs: [50, 50, 50], repeat: false });
  const held = render(g, 400);
  t.true(g.playing);
  t.true(rms(held, 2400, 3200) > 4000);
  g.stop();
  const after = render(g, 40);
  t.is(rms(after, 80), 0);
});

test('mix adds onto existing audio and clamps', (t) => {
  const g = new ToneGenerator(8000);
  g.start({ freqs: [500], levelDbm0: 3 });
  const f = new Int16Array(800).fill(20000);
  g.generate(f, 800, true);
  t.is(Math.max(...f), 32767);
  t.true(Math.min(...f) < 0);
  const idle = new ToneGenerator(8000);
  const keep = new Int16Array(10).fill(7);
  idle.generate(keep, 10, true);
  t.true(keep.every((v) => v === 7));
  idle.generate(keep);
  t.true(keep.every((v) => v === 0));
});

test('invalid tone specs throw', (t) => {
  const g = new ToneGenerator(8000);
  t.throws(() => g.start({ freqs: [1, 2, 3, 4, 5], levelDbm0: -10 }), { instanceOf: RangeError });
  t.throws(() => g.start({ freqs: [4000], levelDbm0: -10 }), { instanceOf: RangeError });
  g.start({ freqs: [400], levelDbm0: -10, cadenceMs: [0, 0] }); // degenerate cadence = continuous
  t.true(rms(render(g, 100), 40) > 1000);
});

test('fillSine returns the phase for the next call', (t) => {
  const whole = new Int16Array(320);
  fillSine(whole, 8000, 1234, 10000);
  const parts = new Int16Array(320);
  const p = fillSine(parts, 8000, 1234, 10000, 0, 100);
  fillSine(parts.subarray(100), 8000, 1234, 10000, p, 220);
  t.deepEqual([...parts], [...whole]);
});
