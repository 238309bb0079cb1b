/**
 * Signal measurements for tests and diagnostics: level, power at a frequency (Goertzel), the
 * dominant frequency (FFT), and silent gaps. These allocate freely; they are for checking audio,
 * not for the per-packet path.
 * @module
 */

/** Any array of samples: Int16Array frames, Float32/64Array analysis buffers or plain arrays. */
export type Samples = ArrayLike<number>;

/** Root-mean-square of `pcm[start, end)` in sample units (a full-scale 16-bit sine gives ~23170). */
export function rms(pcm: Samples, start = 0, end = pcm.length): number {
  const n = end - start;
  if (n <= 0) return 0;
  let sum = 0;
  for (let i = start; i < end; i++) {
    const v = pcm[i]!;
    sum += v * v;
  }
  return Math.sqrt(sum / n);
}

/** RMS level in dB relative to a full-scale square wave (32768); −∞ for digital silence. */
export function rmsDbfs(pcm: Samples, start = 0, end = pcm.length): number {
  return 20 * Math.log10(rms(pcm, start, end) / 32768);
}

/**
 * Power of the component at `freq` over `pcm[start, end)` by the Goertzel recurrence, scaled as a
 * mean square: a sine of amplitude A exactly at `freq` gives A²/2, the same units as `rms²`, so
 * the two can be compared directly.
 */
export function goertzelPower(pcm: Samples, rate: number, freq: number, start = 0, end = pcm.length): number {
  const n = end - start;
  if (n <= 0) return 0;
  const w = (2 * Math.PI * freq) / rate;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = start; i < end; i++) {
    const s0 = pcm[i]! + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const mag2 = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return (2 * mag2) / (n * n);
}

/**
 * Level of the component at `freq` relative to the total power of the signal, in dB: about 0 for
 * a pure tone at `freq`, strongly negative when the frequency is absent; −∞ for silence.
 */
export function toneLevelDb(pcm: Samples, rate: number, freq: number, start = 0, end = pcm.length): number {
  const total = rms(pcm, start, end);
  if (total === 0) return -Infinity;
  return 10 * Math.log10(goertzelPower(pcm, rate, freq, start, end) / (total * total));
}

/**
 * In-place iterative radix-2 FFT of `re` + i·`im` (length a power of two). Kept local so the
 * analysis helpers have no dependency.
 */
export function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  if (n !== im.length || (n & (n - 1)) !== 0) throw new RangeError('fft length must be a power of two');
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      let t = re[i]!;
      re[i] = re[j]!;
      re[j] = t;
      t = im[i]!;
      im[i] = im[j]!;
      im[j] = t;
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (-2 * Math.PI) / len;
    const wr = Math.cos(ang);
    const wi = Math.sin(ang);
    const halfLen = len >> 1;
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < halfLen; k++) {
        const a = i + k;
        const b = a + halfLen;
        const xr = re[b]! * cr - im[b]! * ci;
        const xi = re[b]! * ci + im[b]! * cr;
        re[b] = re[a]! - xr;
        im[b] = im[a]! - xi;
        re[a]! += xr;
        im[a]! += xi;
        const ncr = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = ncr;
      }
    }
  }
}

/**
 * The strongest frequency in `pcm[start, end)` in Hz: Hann-windowed FFT over the largest
 * power-of-two span (at most 65536 samples), refined between bins by fitting a parabola to the
 * log magnitudes of the peak and its neighbours. DC is ignored. Returns 0 for silence or
 * fewer than 64 samples.
 */
export function dominantFrequency(pcm: Samples, rate: number, start = 0, end = pcm.length): number {
  const avail = end - start;
  if (avail < 64) return 0;
  let n = 64;
  while (n * 2 <= avail && n < 65536) n *= 2;
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  for (let i = 0; i < n; i++) re[i] = pcm[start + i]! * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1)));
  fft(re, im);
  let best = -1;
  let bestMag = 0;
  const mag = new Float64Array(n / 2);
  for (let k = 1; k < n / 2; k++) {
    mag[k] = re[k]! * re[k]! + im[k]! * im[k]!;
    if (mag[k]! > bestMag) {
      bestMag = mag[k]!;
      best = k;
    }
  }
  if (best < 0) return 0;
  let delta = 0;
  if (best > 1 && best < n / 2 - 1) {
    const a = Math.log(mag[best - 1]! + 1e-12);
    const b = Math.log(mag[best]! + 1e-12);
    const c = Math.log(mag[best + 1]! + 1e-12);
    const den = a - 2 * b + c;
    if (den !== 0) delta = (0.5 * (a - c)) / den;
  }
  return ((best + delta) * rate) / n;
}

/** One run of near-silence. */
export interface Gap {
  /** Start time in ms from the beginning of the buffer. */
  readonly startMs: number;
  /** Length in ms. */
  readonly lengthMs: number;
}

/** What {@link findGaps} found. */
export interface GapReport {
  /** Every run of silent frames, in order. */
  readonly gaps: readonly Gap[];
  /** Length of the longest gap in ms (0 when there is none). */
  readonly longestMs: number;
  /** Where the longest gap starts, in ms (−1 when there is none). */
  readonly longestStartMs: number;
}

/**
 * Find runs of near-silence: split `pcm` into frames of `frameMs`, call a frame silent when its
 * RMS is below `thresholdDbfs` (default −50 dBFS, well under any speech or test tone but above
 * G.711 idle noise), and merge consecutive silent frames. Tests use it to prove a tone stopped,
 * a cadence has its off periods, or a stream has no dropouts. A trailing partial frame is ignored.
 */
export function findGaps(pcm: Samples, rate: number, frameMs = 10, thresholdDbfs = -50): GapReport {
  const frame = Math.max(1, Math.round((rate * frameMs) / 1000));
  const limit = 32768 * Math.pow(10, thresholdDbfs / 20);
  const gaps: Gap[] = [];
  let runStart = -1;
  const frames = Math.floor(pcm.length / frame);
  const toMs = (f: number) => (f * frame * 1000) / rate;
  for (let f = 0; f <= frames; f++) {
    const silent = f < frames && rms(pcm, f * frame, (f + 1) * frame) < limit;
    if (silent && runStart < 0) runStart = f;
    else if (!silent && runStart >= 0) {
      gaps.push({ startMs: toMs(runStart), lengthMs: toMs(f - runStart) });
      runStart = -1;
    }
  }
  let longestMs = 0;
  let longestStartMs = -1;
  for (const g of gaps) {
    if (g.lengthMs > longestMs) {
      longestMs = g.lengthMs;
      longestStartMs = g.startMs;
    }
  }
  return { gaps, longestMs, longestStartMs };
}
