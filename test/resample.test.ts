import test from 'ava';
import { createResampler, designLowpassFir, type Resampler } from '../media/resample.js';
import { dominantFrequency, goertzelPower, rms } from './helpers/analysis.js';
import { fillSine } from '../media/tones.js';

const PAIRS: readonly (readonly [number, number])[] = [
  [48000, 8000],
  [8000, 48000],
  [16000, 8000],
  [8000, 16000],
  [48000, 16000],
  [16000, 48000],
];

/** Stream one second of a sine through `rs` in 20 ms frames; returns the output. */
function streamTone(rs: Resampler, from: number, to: number, freq: number, amp = 10000, seconds = 1): Int16Array {
  const inFrame = from / 50;
  const outFrame = to / 50;
  const frames = 50 * seconds;
  const input = new Int16Array(inFrame);
  const out = new Int16Array(outFrame * frames);
  const tmp = new Int16Array(outFrame);
  let phase = 0;
  for (let f = 0; f < frames; f++) {
    phase = fillSine(input, from, freq, amp, phase);
    const n = rs.process(input, inFrame, tmp);
    if (n !== outFrame) throw new Error(`frame ${f}: ${n} samples, expected ${outFrame}`);
    out.set(tmp, f * outFrame);
  }
  return out;
}

/** Level change in dB of a tone of amplitude `amp` after conversion, measured past the filter's start-up. */
function gainDb(out: Int16Array, to: number, amp: number): number {
  const steady = out.subarray(to / 10);
  return 20 * Math.log10(rms(steady) / (amp / Math.SQRT2));
}

for (const [from, to] of PAIRS) {
  test(`${from} → ${to}: a 1 kHz tone survives within 1 dB at the right frequency`, (t) => {
    const out = streamTone(createResampler(from, to), from, to, 1000);
    const g = gainDb(out, to, 10000);
    t.true(Math.abs(g) < 1, `${g.toFixed(2)} dB`);
    t.true(Math.abs(dominantFrequency(out.subarray(to / 10), to) - 1000) < 2);
  });

  test(`${from} → ${to}: streaming in 20 ms frames equals converting the whole buffer at once`, (t) => {
    const inLen = from; // one second
    const input = new Int16Array(inLen);
    // a chirp plus a step exercises every part of the filter
    for (let i = 0; i < inLen; i++) input[i] = Math.round(8000 * Math.sin((2 * Math.PI * (100 + 1500 * (i / inLen)) * i) / from) + (i > inLen / 2 ? 3000 : 0));
    const whole = new Int16Array(to);
    t.is(createResampler(from, to).process(input, inLen, whole), to);
    const rs = createResampler(from, to);
    const streamed = new Int16Array(to);
    const inFrame = from / 50;
    const outFrame = to / 50;
    const tmp = new Int16Array(outFrame);
    for (let f = 0; f < 50; f++) {
      rs.process(input.subarray(f * inFrame, (f + 1) * inFrame), inFrame, tmp);
      streamed.set(tmp, f * outFrame);
    }
    t.deepEqual([...streamed], [...whole]);
  });
}

test('48k → 8k: a 6 kHz tone (above the 4 kHz Nyquist) is attenuated by more than 30 dB', (t) => {
  const out = streamTone(createResampler(48000, 8000), 48000, 8000, 6000, 16000);
  const g = gainDb(out, 8000, 16000);
  t.true(g < -30, `${g.toFixed(1)} dB`);
  // and nothing aliased to 2 kHz
  t.true(goertzelPower(out, 8000, 2000) < 1);
});

test('48k → 8k: content just above 4 kHz is rejected, the 300-3400 Hz voice band is kept', (t) => {
  for (const f of [300, 2000, 3400]) {
    const g = gainDb(streamTone(createResampler(48000, 8000), 48000, 8000, f), 8000, 10000);
    t.true(g > -1, `${f} Hz: ${g.toFixed(2)} dB`);
  }
  for (const f of [4200, 5000, 12000, 20000]) {
    const g = gainDb(streamTone(createResampler(48000, 8000), 48000, 8000, f), 8000, 10000);
    t.true(g < -40, `${f} Hz: ${g.toFixed(1)} dB`);
  }
});

test('8k → 48k: the image of a 1 kHz tone (at 7 and 9 kHz) is attenuated by more than 30 dB', (t) => {
  const out = streamTone(createResampler(8000, 48000), 8000, 48000, 1000).subarray(4800);
  const tone = goertzelPower(out, 48000, 1000);
  for (const img of [7000, 9000, 15000, 17000]) {
    const db = 10 * Math.log10(goertzelPower(out, 48000, img) / tone);
    t.true(db < -30, `${img} Hz image at ${db.toFixed(1)} dB`);
  }
});

test('16k → 8k: a 5 kHz tone is attenuated by more than 30 dB', (t) => {
  const g = gainDb(streamTone(createResampler(16000, 8000), 16000, 8000, 5000), 8000, 10000);
  t.true(g < -30, `${g.toFixed(1)} dB`);
});

test('no step at frame edges: sample-to-sample change never exceeds the sine slope', (t) => {
  for (const [from, to] of PAIRS) {
    const amp = 12000;
    const out = streamTone(createResampler(from, to), from, to, 1000, amp).subarray(to / 10);
    const maxSlope = (2 * Math.PI * 1000 * amp) / to;
    let worst = 0;
    for (let i = 1; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i]! - out[i - 1]!));
    t.true(worst <= maxSlope * 1.02 + 2, `${from}→${to}: step ${worst} vs slope ${maxSlope.toFixed(0)}`);
  }
});

test('reset returns to the initial state; same-rate is a copy', (t) => {
  const rs = createResampler(48000, 8000);
  const a = streamTone(rs, 48000, 8000, 700);
  rs.reset();
  const b = streamTone(rs, 48000, 8000, 700);
  t.deepEqual([...a], [...b]);
  const same = createResampler(8000, 8000);
  const out = new Int16Array(3);
  t.is(same.process(Int16Array.from([1, -2, 3]), 3, out), 3);
  t.deepEqual([...out], [1, -2, 3]);
  t.is(same.fromRate, 8000);
});

test('full-scale input clamps instead of wrapping', (t) => {
  const rs = createResampler(8000, 48000);
  const input = new Int16Array(160);
  for (let i = 0; i < 160; i++) input[i] = i % 2 === 0 ? 32767 : -32768; // filter overshoot would wrap
  const out = new Int16Array(960);
  rs.process(input, 160, out);
  const sq = new Int16Array(160).fill(32767);
  rs.process(sq, 160, out);
  t.true(out.every((v) => v >= -32768 && v <= 32767));
  t.true(out.subarray(480).every((v) => v > 30000)); // a held full-scale level stays full scale
});

test('invalid rates and undersized outputs throw RangeError', (t) => {
  t.throws(() => createResampler(44100, 8000), { instanceOf: RangeError });
  t.throws(() => createResampler(8000, 0), { instanceOf: RangeError });
  t.throws(() => createResampler(8000, 12000), { instanceOf: RangeError });
  t.throws(() => createResampler(48000, 8000).process(new Int16Array(960), 960, new Int16Array(100)), { instanceOf: RangeError });
  t.throws(() => createResampler(8000, 48000).process(new Int16Array(160), 160, new Int16Array(500)), { instanceOf: RangeError });
});

test('odd input lengths keep the decimation phase across calls', (t) => {
  const input = new Int16Array(9600);
  fillSine(input, 48000, 1000, 9000);
  const whole = new Int16Array(1600);
  createResampler(48000, 8000).process(input, 9600, whole);
  const rs = createResampler(48000, 8000);
  const parts: number[] = [];
  const tmp = new Int16Array(200);
  for (let i = 0; i < 9600; ) {
    const n = Math.min(7 + (i % 113), 9600 - i);
    const m = rs.process(input.subarray(i, i + n), n, tmp);
    parts.push(...tmp.subarray(0, m));
    i += n;
  }
  t.deepEqual(parts, [...whole]);
});

test('designLowpassFir: unity DC gain and symmetric taps', (t) => {
  const h = designLowpassFir(96, 0.075, 7);
  let sum = 0;
  for (const v of h) sum += v;
  t.true(Math.abs(sum - 1) < 1e-12);
  for (let i = 0; i < 48; i++) t.true(Math.abs(h[i]! - h[95 - i]!) < 1e-15);
});
