import test from 'ava';
import {
  SpeexEchoCanceller,
  SpeexPreprocessor,
  SpeexResampler,
  speexDspStatus,
  type SpeexResult,
} from '../ffi/speexdsp.js';
import {
  DISABLE_NATIVE_ENV,
  loadLibraryFiles,
  loadSpeexDsp,
  resetNativeLibraryCache,
  setNativeLibraryDisabled,
} from '../ffi/loader.js';
import type { Resampler } from '../media/resample.js';
import { dominantFrequency, goertzelPower, rms } from './helpers/analysis.js';
import { fillSine } from '../media/tones.js';
import { prng } from './helpers/prng.js';
import { native, peerTest } from './helpers/env.js';

/** Every DSP test needs the library; the missing-library tests below run in both worlds. */
const speex = [native('speexdsp')];
/** Whether libspeexdsp loads here, before any test disables it. */
const installed = loadSpeexDsp().ok;

// The resampler must be a drop-in for media/resample.ts: checked by the compiler here.
const asResampler = (r: SpeexResampler): Resampler => r;

/**
 * Speech-like far-end signal: coloured noise (a resonance around 500 Hz and a gentle low-pass,
 * like a voiced spectrum's slope) with a syllabic envelope between 0.25 and 1 at ~3.5 Hz.
 */
function speechLike(len: number, rate: number, rmsLevel: number, seed: number): Float64Array {
  const rnd = prng(seed);
  const x = new Float64Array(len);
  // two-pole resonator at 500 Hz plus one-pole low-pass
  const r = 0.9;
  const w = (2 * Math.PI * 500) / rate;
  const a1 = 2 * r * Math.cos(w);
  const a2 = -r * r;
  let y1 = 0;
  let y2 = 0;
  let lp = 0;
  for (let i = 0; i < len; i++) {
    const e = rnd();
    const y = e + a1 * y1 + a2 * y2;
    y2 = y1;
    y1 = y;
    lp = 0.6 * lp + 0.4 * (y + e * 3);
    const t = i / rate;
    const env = 0.25 + 0.75 * Math.abs(Math.sin(2 * Math.PI * 1.75 * t + 0.7 * Math.sin(2 * Math.PI * 0.3 * t)));
    x[i] = lp * env;
  }
  const k = rmsLevel / rms(x);
  for (let i = 0; i < len; i++) x[i]! *= k;
  return x;
}

/** A synthetic room: `delay` samples of flight time, then a decaying random tail, scaled by `gain`. */
function roomImpulseResponse(rate: number, delayMs: number, tailMs: number, gain: number, seed: number): Float64Array {
  const rnd = prng(seed);
  const delay = Math.round((delayMs * rate) / 1000);
  const tail = Math.round((tailMs * rate) / 1000);
  const h = new Float64Array(delay + tail);
  let energy = 0;
  for (let k = 0; k < tail; k++) {
    const v = rnd() * Math.exp(-k / (tail / 5)) * (k === 0 ? 4 : 1);
    h[delay + k] = v;
    energy += v * v;
  }
  const s = gain / Math.sqrt(energy);
  for (let k = 0; k < h.length; k++) h[k]! *= s;
  return h;
}

function convolve(x: Float64Array, h: Float64Array): Float64Array {
  const y = new Float64Array(x.length);
  const nz: number[] = [];
  for (let k = 0; k < h.length; k++) if (h[k] !== 0) nz.push(k);
  for (let i = 0; i < x.length; i++) {
    let acc = 0;
    for (const k of nz) if (i >= k) acc += h[k]! * x[i - k]!;
    y[i] = acc;
  }
  return y;
}

function toInt16(x: Float64Array): Int16Array {
  const out = new Int16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(x[i]!)));
  return out;
}

function mustCreate<T>(r: SpeexResult<T>): T {
  if (!r.ok) throw new Error(`${r.code}: ${r.reason}`);
  return r.value;
}

function power(x: ArrayLike<number>, start: number, end: number): number {
  let s = 0;
  for (let i = start; i < end; i++) s += x[i]! * x[i]!;
  return s / (end - start);
}

interface EchoRun {
  readonly capture: Int16Array;
  readonly out: Int16Array;
  readonly near: Float64Array;
}

/** Run `seconds` of far-end speech through a room into the canceller, 20 ms frames; near-end optional. */
function runEcho(rate: number, seconds: number, near?: Float64Array): EchoRun {
  const len = rate * seconds;
  const far = speechLike(len, rate, 3000, 7);
  const h = roomImpulseResponse(rate, 20, 60, 0.5, 11);
  const echo = convolve(far, h);
  const rnd = prng(99);
  const cap = new Float64Array(len);
  for (let i = 0; i < len; i++) cap[i] = echo[i]! + 6 * rnd() + (near !== undefined ? near[i]! : 0);
  const capture = toInt16(cap);
  const played = toInt16(far);
  const ec = mustCreate(SpeexEchoCanceller.create({ sampleRate: rate }));
  const n = ec.frameSize;
  const out = new Int16Array(len);
  const frameOut = new Int16Array(n);
  for (let f = 0; f + n <= len; f += n) {
    ec.process(capture.subarray(f, f + n), played.subarray(f, f + n), frameOut);
    out.set(frameOut, f);
  }
  ec.close();
  return { capture, out, near: near ?? new Float64Array(len) };
}

for (const rate of [8000, 16000]) {
  peerTest(`echo canceller at ${rate} Hz: ERLE ≥ 20 dB after 3 s of convergence`, speex, (t) => {
    const { capture, out } = runEcho(rate, 12);
    const start = rate * 3;
    const erle = 10 * Math.log10(power(capture, start, capture.length) / power(out, start, out.length));
    t.log(`ERLE ${erle.toFixed(1)} dB`);
    t.true(erle >= 20, `ERLE ${erle.toFixed(1)} dB`);
    // and per second, so a late divergence cannot hide in the average
    for (let s = 3; s < 12; s++) {
      const e = 10 * Math.log10(power(capture, s * rate, (s + 1) * rate) / power(out, s * rate, (s + 1) * rate));
      t.true(e >= 15, `second ${s}: ${e.toFixed(1)} dB`);
    }
  });
}

peerTest('echo canceller: near-end speech survives double talk', speex, (t) => {
  const rate = 8000;
  const len = rate * 12;
  const near = new Float64Array(len);
  // near end talks from 7 s to 10 s: two tones a speech formant apart
  for (let i = 7 * rate; i < 10 * rate; i++) near[i] = 2000 * Math.sin((2 * Math.PI * 440 * i) / rate) + 1200 * Math.sin((2 * Math.PI * 1330 * i) / rate);
  const { out } = runEcho(rate, 12, near);
  for (const [f, amp] of [[440, 2000], [1330, 1200]] as const) {
    // measure over the last two seconds of the double talk (the filter has seen it start)
    const p = goertzelPower(out, rate, f, 8 * rate, 10 * rate);
    const db = 10 * Math.log10(p / ((amp * amp) / 2));
    t.log(`${f} Hz near-end tone: ${db.toFixed(2)} dB`);
    t.true(db > -3, `${f} Hz attenuated by ${(-db).toFixed(1)} dB`);
  }
  // the echo is still cancelled after the double talk
  const erle = 10 * Math.log10(power(runEcho(rate, 12).capture, 10.5 * rate, 12 * rate) / power(out, 10.5 * rate, 12 * rate));
  t.true(erle >= 15, `ERLE after double talk ${erle.toFixed(1)} dB`);
});

peerTest('echo canceller: rejects short buffers, reset and close are safe, closed passes through', speex, (t) => {
  const ec = mustCreate(SpeexEchoCanceller.create({ sampleRate: 16000 }));
  t.is(ec.frameSize, 320);
  t.is(ec.filterLength, 3200); // 200 ms
  const a = new Int16Array(320).fill(100);
  t.throws(() => ec.process(a, new Int16Array(10), new Int16Array(320)), { instanceOf: RangeError });
  ec.reset();
  ec.close();
  ec.close();
  t.true(ec.closed);
  const out = new Int16Array(320);
  ec.process(a, a, out);
  t.is(out[5], 100);
  t.false(SpeexEchoCanceller.create({ sampleRate: 16000, frameSize: 7 }).ok);
});

// ---- preprocessor ------------------------------------------------------------------------------

function whiteNoise(len: number, amp: number, seed: number): Int16Array {
  const rnd = prng(seed);
  const x = new Int16Array(len);
  for (let i = 0; i < len; i++) x[i] = Math.round(amp * 2 * rnd());
  return x;
}

peerTest('preprocessor: denoise lowers white noise by at least 6 dB', speex, (t) => {
  const rate = 8000;
  const pp = mustCreate(SpeexPreprocessor.create({ sampleRate: rate, denoise: true, noiseSuppressDb: -25 }));
  const noise = whiteNoise(rate * 5, 2000, 3);
  const copy = noise.slice();
  for (let f = 0; f < noise.length; f += 160) pp.process(copy.subarray(f, f + 160));
  const start = rate * 2;
  const db = 10 * Math.log10(power(noise, start, noise.length) / power(copy, start, copy.length));
  t.log(`noise reduced by ${db.toFixed(1)} dB`);
  t.true(db >= 6, `${db.toFixed(1)} dB`);
  pp.close();
});

peerTest('preprocessor: VAD is false on silence and noise, true on speech-like tones within a few frames', speex, (t) => {
  const rate = 8000;
  const pp = mustCreate(SpeexPreprocessor.create({ sampleRate: rate, denoise: true, noiseDiscrimination: true }));
  const frame = new Int16Array(160);
  // digital silence: below the noise threshold
  for (let f = 0; f < 25; f++) t.false(pp.process(frame.fill(0)), `silence frame ${f}`);
  // noise only: false once speex's noise estimate has settled (it needs about two seconds)
  const noise = whiteNoise(rate * 6, 1500, 5);
  const decisions: boolean[] = [];
  for (let f = 0; f < noise.length; f += 160) {
    frame.set(noise.subarray(f, f + 160));
    decisions.push(pp.process(frame));
  }
  const tail = decisions.slice(150); // the last 3 s
  t.is(tail.filter((d) => d).length, 0, `noise judged voice in ${tail.filter((d) => d).length} of ${tail.length} frames`);
  // a loud voiced sound (harmonics of 180 Hz, syllabic envelope) over the same noise
  const rnd = prng(8);
  let firstVoice = -1;
  let voiced = 0;
  const frames = 100;
  for (let f = 0; f < frames; f++) {
    for (let i = 0; i < 160; i++) {
      const n = f * 160 + i;
      const tt = n / rate;
      const env = 0.5 + 0.5 * Math.abs(Math.sin(2 * Math.PI * 2 * tt));
      let v = 0;
      for (let k = 1; k <= 6; k++) v += (6000 / k) * Math.sin(2 * Math.PI * 180 * k * tt + k);
      frame[i] = Math.round(env * v + 3000 * rnd());
    }
    if (pp.process(frame)) {
      voiced++;
      if (firstVoice < 0) firstVoice = f;
    }
  }
  t.log(`voice from frame ${firstVoice}, ${voiced}/${frames} frames voiced`);
  t.true(firstVoice >= 0 && firstVoice <= 3, `first voice frame ${firstVoice}`);
  t.true(voiced >= frames * 0.9);
  pp.close();
});

peerTest('preprocessor: silence decay holds the voice decision after speech stops', speex, (t) => {
  const rate = 8000;
  const pp = mustCreate(SpeexPreprocessor.create({ sampleRate: rate, noiseDiscrimination: true, silenceDecayMs: 200 }));
  const frame = new Int16Array(160);
  let phase = 0;
  for (let f = 0; f < 20; f++) phase = fillSine(frame, rate, 300, 12000, phase);
  t.true(pp.process(frame));
  // digital silence: held for 200 ms = 10 frames, then noise
  const after: boolean[] = [];
  for (let f = 0; f < 15; f++) after.push(pp.process(frame.fill(0)));
  t.deepEqual(after, [...Array<boolean>(10).fill(true), ...Array<boolean>(5).fill(false)]);
  pp.setNoiseDiscrimination(false);
  t.true(pp.process(frame.fill(0)));
  pp.close();
});

peerTest('preprocessor: AGC raises a quiet signal', speex, (t) => {
  const rate = 8000;
  const pp = mustCreate(SpeexPreprocessor.create({ sampleRate: rate, denoise: false, agc: true, agcLevel: 8000 }));
  const input = toInt16(speechLike(rate * 10, rate, 200, 21)); // about −44 dBFS
  const out = input.slice();
  for (let f = 0; f < out.length; f += 160) pp.process(out.subarray(f, f + 160));
  const start = rate * 6;
  const gain = 10 * Math.log10(power(out, start, out.length) / power(input, start, input.length));
  t.log(`AGC gain ${gain.toFixed(1)} dB (speex reports ${pp.agcGainDb().toFixed(1)} dB)`);
  t.true(gain >= 10, `${gain.toFixed(1)} dB`);
  pp.close();
});

peerTest('preprocessor: links to an echo canceller and is unlinked when it closes', speex, (t) => {
  const ec = mustCreate(SpeexEchoCanceller.create({ sampleRate: 8000 }));
  const pp = mustCreate(SpeexPreprocessor.create({ sampleRate: 8000, echoCanceller: ec }));
  const other = mustCreate(SpeexEchoCanceller.create({ sampleRate: 16000 }));
  t.false(pp.linkEchoCanceller(other), 'frame size mismatch refused');
  const cap = whiteNoise(160, 1000, 1);
  const play = whiteNoise(160, 1000, 2);
  const out = new Int16Array(160);
  for (let i = 0; i < 50; i++) {
    ec.process(cap, play, out);
    pp.process(out);
  }
  ec.close(); // must unlink: the preprocessor keeps running without touching freed memory
  for (let i = 0; i < 5; i++) pp.process(out);
  pp.close();
  other.close();
  t.true(pp.closed);
  t.true(pp.process(out));
});

// ---- resampler -------------------------------------------------------------------------------

function streamTone(rs: Resampler, freq: number, amp: number, seconds: number): Int16Array {
  const inFrame = rs.fromRate / 50;
  const outFrame = rs.toRate / 50;
  const input = new Int16Array(inFrame);
  const out = new Int16Array(outFrame * 50 * seconds);
  const tmp = new Int16Array(outFrame);
  let phase = 0;
  for (let f = 0; f < 50 * seconds; f++) {
    phase = fillSine(input, rs.fromRate, freq, amp, phase);
    const n = rs.process(input, inFrame, tmp);
    if (n !== outFrame) throw new Error(`frame ${f}: ${n} samples, expected ${outFrame}`);
    out.set(tmp, f * outFrame);
  }
  return out;
}

peerTest('resampler: 8k → 48k → 8k keeps a 1 kHz tone within 1 dB and on frequency', speex, (t) => {
  const up = asResampler(mustCreate(SpeexResampler.create(8000, 48000)));
  const down = asResampler(mustCreate(SpeexResampler.create(48000, 8000)));
  const amp = 10000;
  const mid = streamTone(up, 1000, amp, 2);
  const back = new Int16Array(mid.length / 6);
  const tmp = new Int16Array(160);
  for (let f = 0; f < mid.length / 960; f++) {
    t.is(down.process(mid.subarray(f * 960, f * 960 + 960), 960, tmp), 160);
    back.set(tmp, f * 160);
  }
  for (const [sig, rate] of [[mid, 48000], [back, 8000]] as const) {
    const steady = sig.subarray(rate / 5);
    const g = 20 * Math.log10(rms(steady) / (amp / Math.SQRT2));
    t.true(Math.abs(g) < 1, `${rate}: ${g.toFixed(2)} dB`);
    t.true(Math.abs(dominantFrequency(steady, rate) - 1000) < 2);
  }
});

peerTest('resampler: a 6 kHz tone at 48 kHz is attenuated by ≥ 30 dB going to 8 kHz', speex, (t) => {
  for (const q of [3, 5, 8]) {
    const down = mustCreate(SpeexResampler.create(48000, 8000, q));
    const out = streamTone(down, 6000, 10000, 1);
    const att = 20 * Math.log10(rms(out.subarray(1600)) / (10000 / Math.SQRT2));
    t.log(`quality ${q}: ${att.toFixed(1)} dB`);
    t.true(att <= -30, `quality ${q}: ${att.toFixed(1)} dB`);
    down.close();
  }
});

peerTest('resampler: streaming frame by frame has no clicks and matches one-shot conversion', speex, (t) => {
  const from = 8000;
  const to = 48000;
  const input = new Int16Array(from);
  for (let i = 0; i < from; i++) input[i] = Math.round(8000 * Math.sin((2 * Math.PI * (100 + 1500 * (i / from)) * i) / from));
  const whole = new Int16Array(to);
  t.is(mustCreate(SpeexResampler.create(from, to)).process(input, from, whole), to);
  const rs = mustCreate(SpeexResampler.create(from, to));
  const streamed = new Int16Array(to);
  const tmp = new Int16Array(960);
  for (let f = 0; f < 50; f++) {
    t.is(rs.process(input.subarray(f * 160, f * 160 + 160), 160, tmp), 960);
    streamed.set(tmp, f * 960);
  }
  let maxDiff = 0;
  for (let i = 0; i < to; i++) maxDiff = Math.max(maxDiff, Math.abs(whole[i]! - streamed[i]!));
  t.true(maxDiff <= 1, `max difference ${maxDiff}`);
  // no clicks: the largest sample step of a smooth chirp stays near its slope
  let maxStep = 0;
  for (let i = 1; i < to; i++) maxStep = Math.max(maxStep, Math.abs(streamed[i]! - streamed[i - 1]!));
  // the chirp's instantaneous frequency rises to 100 + 3000 Hz; its steepest step at that frequency
  const slope = (2 * Math.PI * 3100 * 8000) / to;
  t.true(maxStep < slope * 1.1, `max step ${maxStep} vs slope ${slope.toFixed(0)}`);
  t.throws(() => rs.process(input, 160, new Int16Array(100)), { instanceOf: RangeError });
  rs.reset();
  rs.close();
  t.is(rs.process(input, 160, tmp), 960); // closed: silence, no crash
  t.is(tmp[100], 0);
});

peerTest('resampler: non-integer ratios work (44.1 kHz → 8 kHz)', speex, (t) => {
  const rs = mustCreate(SpeexResampler.create(44100, 8000));
  const input = new Int16Array(441);
  const out = new Int16Array(100);
  let total = 0;
  let phase = 0;
  for (let f = 0; f < 100; f++) {
    phase = fillSine(input, 44100, 1000, 8000, phase);
    total += rs.process(input, 441, out);
  }
  t.true(Math.abs(total - 8000) <= 2, `${total} samples for one second`);
  rs.close();
});

// ---- missing library ------------------------------------------------------------------------------

test.serial('missing library: every factory reports library-missing and nothing throws', (t) => {
  setNativeLibraryDisabled('speexdsp', true);
  try {
    const l = loadSpeexDsp();
    t.false(l.ok);
    t.false(speexDspStatus().ok);
    for (const r of [
      SpeexEchoCanceller.create({ sampleRate: 8000 }),
      SpeexPreprocessor.create({ sampleRate: 8000 }),
      SpeexResampler.create(48000, 8000),
    ]) {
      t.false(r.ok);
      if (!r.ok) {
        t.is(r.code, 'library-missing');
        t.regex(r.reason, /speexdsp/);
      }
    }
  } finally {
    setNativeLibraryDisabled('speexdsp', false);
  }
  // re-enabled, it is back to what this machine has
  t.is(loadSpeexDsp().ok, installed);
});

test.serial('missing library: the environment variable disables it too', (t) => {
  const prev = process.env[DISABLE_NATIVE_ENV];
  process.env[DISABLE_NATIVE_ENV] = 'srtp2, speexdsp';
  try {
    const r = SpeexResampler.create(8000, 16000);
    t.false(r.ok);
    t.is(r.ok ? '' : r.code, 'library-missing');
  } finally {
    if (prev === undefined) delete process.env[DISABLE_NATIVE_ENV];
    else process.env[DISABLE_NATIVE_ENV] = prev;
  }
  resetNativeLibraryCache();
  t.is(speexDspStatus().ok, installed);
});

test('a library that is not installed gives a clear result naming every file tried', (t) => {
  const r = loadLibraryFiles(['liblinescape-absent.so.9', 'liblinescape-absent.so'], 'absent');
  t.false(r.ok);
  if (!r.ok) {
    t.regex(r.reason, /native library absent not found/);
    t.regex(r.reason, /liblinescape-absent\.so\.9: .*; liblinescape-absent\.so: /);
  }
  t.false(loadLibraryFiles([]).ok);
});

test('invalid arguments are reported, not thrown', (t) => {
  const bad = [SpeexResampler.create(8000, 48000, 11), SpeexResampler.create(0, 8000), SpeexPreprocessor.create({ sampleRate: 12.5 })];
  for (const r of bad) {
    t.false(r.ok);
    t.is(r.ok ? '' : r.code, 'invalid-argument');
  }
});
