/**
 * Sample-rate conversion between the engine's rates (8, 16 and 48 kHz) by integer factors, with a
 * Kaiser-windowed-sinc low-pass FIR run in polyphase form. One {@link Resampler} per stream: it
 * keeps the filter history across calls so consecutive 20 ms frames join without clicks, and it
 * preallocates its work buffers so `process` allocates nothing.
 * @module
 */

/** A stateful rate converter for one mono stream. */
export interface Resampler {
  /** Input rate in Hz. */
  readonly fromRate: number;
  /** Output rate in Hz. */
  readonly toRate: number;
  /**
   * Convert `inLen` samples of `input` into `out`.
   * @returns samples written: `inLen × to / from` for whole frames (a 960-sample 48 kHz frame
   *   gives 160 samples at 8 kHz).
   * @throws RangeError if `out` cannot hold the result (a sizing bug in the caller).
   */
  process(input: Int16Array, inLen: number, out: Int16Array): number;
  /** Forget the history (new stream), so the next call starts from silence. */
  reset(): void;
}

/** Options for {@link createResampler}. */
export interface ResamplerOptions {
  /**
   * FIR taps per polyphase branch (default 48). The full filter has `tapsPerPhase × factor`
   * taps at the high rate; more taps give a narrower transition band for more CPU.
   */
  readonly tapsPerPhase?: number;
  /** Passband edge as a fraction of the low rate's Nyquist frequency (default 0.9: 3.6 kHz at 8 kHz). */
  readonly cutoff?: number;
  /** Kaiser window β (default 7: about 70 dB stopband attenuation). */
  readonly beta?: number;
}

/**
 * Zeroth-order modified Bessel function of the first kind, by its power series (converges fast
 * for β ≤ 20): the Kaiser window's shape, shared by every windowed-sinc filter here.
 */
export function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 64; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/**
 * Design a linear-phase low-pass FIR: a sinc at cutoff `fc` (cycles per sample, 0 < fc < 0.5)
 * shaped by a Kaiser window, scaled to unity gain at DC so levels survive conversion.
 */
export function designLowpassFir(numTaps: number, fc: number, beta: number): Float64Array {
  const h = new Float64Array(numTaps);
  const mid = (numTaps - 1) / 2;
  const i0b = besselI0(beta);
  let sum = 0;
  for (let n = 0; n < numTaps; n++) {
    const t = n - mid;
    const sinc = t === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * t) / (Math.PI * t);
    const r = mid === 0 ? 0 : t / mid;
    const w = besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / i0b;
    h[n] = sinc * w;
    sum += h[n]!;
  }
  for (let n = 0; n < numTaps; n++) h[n]! /= sum;
  return h;
}

function clamp16(v: number): number {
  // round half away from zero keeps the conversion symmetric for negative samples
  const r = v < 0 ? -Math.round(-v) : Math.round(v);
  return r > 32767 ? 32767 : r < -32768 ? -32768 : r;
}

/** Same rate: a plain copy, so callers need no special case. */
class CopyResampler implements Resampler {
  constructor(
    readonly fromRate: number,
    readonly toRate: number,
  ) {}
  process(input: Int16Array, inLen: number, out: Int16Array): number {
    if (out.length < inLen) throw new RangeError('resampler output buffer too small');
    for (let i = 0; i < inLen; i++) out[i] = input[i]!;
    return inLen;
  }
  reset(): void {}
}

/**
 * Decimate by `factor`: filter at the input rate and keep every `factor`-th output, computing
 * only the kept ones. The symmetric (linear-phase) filter is folded to halve the multiplies.
 */
class DownResampler implements Resampler {
  private readonly h: Float64Array;
  private readonly taps: number;
  private hist: Float64Array;
  /** Index, relative to the start of the next input block, of the next sample to output at. */
  private next = 0;

  constructor(
    readonly fromRate: number,
    readonly toRate: number,
    private readonly factor: number,
    opts: ResamplerOptions,
  ) {
    const tpp = opts.tapsPerPhase ?? 48;
    this.taps = tpp * factor;
    // cutoff relative to the input rate: the low rate's Nyquist is 0.5 / factor
    this.h = designLowpassFir(this.taps, ((opts.cutoff ?? 0.9) * 0.5) / factor, opts.beta ?? 7);
    this.hist = new Float64Array(this.taps - 1 + 960);
  }

  process(input: Int16Array, inLen: number, out: Int16Array): number {
    const N = this.taps;
    const keep = N - 1;
    if (this.hist.length < keep + inLen) {
      // grows once to the largest block seen; 20 ms frames at 48 kHz never trigger this
      const bigger = new Float64Array(keep + inLen);
      bigger.set(this.hist.subarray(0, keep));
      this.hist = bigger;
    }
    const buf = this.hist;
    const need = this.next < inLen ? Math.ceil((inLen - this.next) / this.factor) : 0;
    if (out.length < need) throw new RangeError('resampler output buffer too small');
    for (let i = 0; i < inLen; i++) buf[keep + i] = input[i]!;
    const h = this.h;
    const half = N >> 1;
    const odd = N & 1;
    let o = 0;
    let t = this.next;
    for (; t < inLen; t += this.factor) {
      // output at input position t uses buf[keep + t - (N-1) .. keep + t] = buf[t .. t + N - 1]
      // two accumulators break the add dependency chain: ~1.5x faster in V8
      let acc0 = 0;
      let acc1 = 0;
      const lo = t;
      const hi = t + N - 1;
      let k = 0;
      for (; k + 1 < half; k += 2) {
        acc0 += h[k]! * (buf[lo + k]! + buf[hi - k]!);
        acc1 += h[k + 1]! * (buf[lo + k + 1]! + buf[hi - k - 1]!);
      }
      if (k < half) acc0 += h[k]! * (buf[lo + k]! + buf[hi - k]!);
      if (odd) acc0 += h[half]! * buf[lo + half]!;
      out[o++] = clamp16(acc0 + acc1);
    }
    this.next = t - inLen;
    buf.copyWithin(0, inLen, inLen + keep);
    return o;
  }

  reset(): void {
    this.hist.fill(0);
    this.next = 0;
  }
}

/**
 * Interpolate by `factor`: conceptually insert `factor - 1` zeros between samples and low-pass;
 * in polyphase form each input sample produces `factor` outputs, each from one branch of
 * `tapsPerPhase` coefficients, so the zeros are never multiplied.
 */
class UpResampler implements Resampler {
  /** Branch p's coefficients at [p*K, p*K + K): branch[p][q] = h[p + q*factor] * factor. */
  private readonly branches: Float64Array;
  private readonly K: number;
  private hist: Float64Array;

  constructor(
    readonly fromRate: number,
    readonly toRate: number,
    private readonly factor: number,
    opts: ResamplerOptions,
  ) {
    const K = opts.tapsPerPhase ?? 48;
    this.K = K;
    const h = designLowpassFir(K * factor, ((opts.cutoff ?? 0.9) * 0.5) / factor, opts.beta ?? 7);
    this.branches = new Float64Array(K * factor);
    for (let p = 0; p < factor; p++) {
      for (let q = 0; q < K; q++) this.branches[p * K + q] = h[p + q * factor]! * factor;
    }
    this.hist = new Float64Array(K - 1 + 160);
  }

  process(input: Int16Array, inLen: number, out: Int16Array): number {
    const K = this.K;
    const L = this.factor;
    const keep = K - 1;
    if (out.length < inLen * L) throw new RangeError('resampler output buffer too small');
    if (this.hist.length < keep + inLen) {
      const bigger = new Float64Array(keep + inLen);
      bigger.set(this.hist.subarray(0, keep));
      this.hist = bigger;
    }
    const buf = this.hist;
    for (let i = 0; i < inLen; i++) buf[keep + i] = input[i]!;
    const b = this.branches;
    let o = 0;
    for (let j = 0; j < inLen; j++) {
      const cur = keep + j; // x[j]; x[j - q] = buf[cur - q]
      for (let p = 0; p < L; p++) {
        const base = p * K;
        let acc0 = 0;
        let acc1 = 0;
        let q = 0;
        for (; q + 1 < K; q += 2) {
          acc0 += b[base + q]! * buf[cur - q]!;
          acc1 += b[base + q + 1]! * buf[cur - q - 1]!;
        }
        if (q < K) acc0 += b[base + q]! * buf[cur - q]!;
        out[o++] = clamp16(acc0 + acc1);
      }
    }
    buf.copyWithin(0, inLen, inLen + keep);
    return o;
  }

  reset(): void {
    this.hist.fill(0);
  }
}

/**
 * Create a resampler from `fromRate` to `toRate`. One rate must be an integer multiple of the
 * other (8000 ↔ 16000 ↔ 48000 are 1:2, 1:3 and 1:6). Output is delayed by the filter's group
 * delay, `(tapsPerPhase × factor − 1) / 2` samples at the high rate (about 1 ms with the defaults).
 * @throws RangeError for rates that are not integer multiples.
 */
export function createResampler(fromRate: number, toRate: number, options: ResamplerOptions = {}): Resampler {
  if (!(fromRate > 0 && toRate > 0) || !Number.isInteger(fromRate) || !Number.isInteger(toRate)) {
    throw new RangeError(`invalid sample rates ${fromRate} -> ${toRate}`);
  }
  if (fromRate === toRate) return new CopyResampler(fromRate, toRate);
  if (fromRate > toRate) {
    const f = fromRate / toRate;
    if (!Number.isInteger(f)) throw new RangeError(`unsupported ratio ${fromRate} -> ${toRate}`);
    return new DownResampler(fromRate, toRate, f, options);
  }
  const f = toRate / fromRate;
  if (!Number.isInteger(f)) throw new RangeError(`unsupported ratio ${fromRate} -> ${toRate}`);
  return new UpResampler(fromRate, toRate, f, options);
}
