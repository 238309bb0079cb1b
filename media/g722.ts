/**
 * ITU-T G.722 (7 kHz audio in 64 kbit/s), mode 1: written from the recommendation's block
 * description. 16 kHz PCM is split by a 24-tap quadrature mirror filter into a lower and a higher
 * 8 kHz sub-band; the lower band is coded with 6-bit ADPCM, the higher with 2-bit ADPCM, and each
 * pair of input samples becomes one octet (higher-band bits on top, RFC 3551 §4.5.2).
 *
 * The arithmetic is the recommendation's fixed-point arithmetic (16-bit saturation, the same
 * shifts and tables), so our stream decodes on any conforming decoder and vice versa. All state
 * lives in preallocated typed arrays and number fields: encoding or decoding a frame allocates
 * nothing.
 *
 * RTP quirk (RFC 3551 §4.5.2): the SDP and RTP clock is 8000 Hz although the audio is 16 kHz, so
 * a 20 ms frame of 320 samples advances the timestamp by 160.
 * @module
 */
import type { AudioCodec } from './codecs.js';
import { FrameRepeatConcealer } from './g711.js';

/** The QMF coefficients h0..h11 (scaled by 2^13); the filter is symmetric, h(23-i) = h(i). */
const QMF_HALF = [3, -11, -11, 53, 12, -156, 32, 362, -210, -805, 951, 3876] as const;
/** All 24 coefficients, built once from the symmetric half. */
const QMF = new Int32Array(24);
for (let i = 0; i < 12; i++) {
  QMF[i] = QMF_HALF[i]!;
  QMF[23 - i] = QMF_HALF[i]!;
}
/** Even-indexed coefficients h(2i): they weight the newer sample of each pair. */
const QMF_EVEN = new Int32Array(12);
/** Odd-indexed coefficients h(2i+1): they weight the older sample of each pair. */
const QMF_ODD = new Int32Array(12);
for (let i = 0; i < 12; i++) {
  QMF_EVEN[i] = QMF[2 * i]!;
  QMF_ODD[i] = QMF[2 * i + 1]!;
}

/** Lower-band decision levels (×detl >> 12), table Q6 of the recommendation. */
const Q6 = Int32Array.from([
  0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940, 1023, 1121, 1219, 1339,
  1458, 1612, 1765, 1980, 2195, 2557, 2919,
]);
/** 6-bit codes for a negative difference in decision interval i. */
const ILN = Int32Array.from([
  0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 0,
]);
/** 6-bit codes for a positive difference in decision interval i. */
const ILP = Int32Array.from([
  0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33,
  32, 0,
]);
/** Inverse quantizer for the full 6-bit lower-band code (what the decoder outputs in mode 1). */
const QM6 = Int32Array.from([
  -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856,
  -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776, -2400, -2032, -1688, -1360, -1040, -728, 24808,
  21904, 19008, 16704, 14984, 13512, 12280, 11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008,
  3576, 3168, 2776, 2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
]);
/** Inverse quantizer for the 4-bit truncated code that drives prediction (both ends stay in step). */
const QM4 = Int32Array.from([0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584, 1200, 0]);
/** 4-bit code to log-scale-factor multiplier index. */
const RL42 = Int32Array.from([0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0]);
/** Lower-band log scale factor increments. */
const WL = Int32Array.from([-60, -30, 58, 172, 334, 538, 1198, 3042]);
/** Higher-band inverse quantizer for the 2-bit code. */
const QM2 = Int32Array.from([-7408, -1616, 7408, 1616]);
/** 2-bit code to higher-band multiplier index. */
const RH2 = Int32Array.from([2, 1, 2, 1]);
/** Higher-band log scale factor increments. */
const WH = Int32Array.from([0, -214, 798]);
/** Antilog table: 2048 · 2^(i/32), rounded. */
const ILB = Int32Array.from([
  2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834, 2896, 2960, 3025, 3091,
  3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
]);

function sat16(v: number): number {
  return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}

/**
 * One sub-band's ADPCM state: the adaptive predictor (two poles, six zeros) and the scale
 * factor. Encoder and decoder run the same updates from the same (truncated) codes, which is
 * what keeps them in step.
 */
class Band {
  /** Signal estimate s (pole + zero prediction). */
  s = 0;
  /** Zero-section part of the estimate, sz. */
  sz = 0;
  /** Pole coefficients a1, a2. */
  a1 = 0;
  a2 = 0;
  /** Reconstructed signal history r(n-1), r(n-2). */
  r1 = 0;
  r2 = 0;
  /** Partially reconstructed signal history p(n-1), p(n-2). */
  p1 = 0;
  p2 = 0;
  // Zero coefficients b1..b6 and the quantized difference history d(n-1)..d(n-6), as plain
  // fields: the update below is the codec's hot spot, and unrolled field arithmetic runs about
  // twice as fast in V8 as loops over small typed arrays.
  b1 = 0;
  b2 = 0;
  b3 = 0;
  b4 = 0;
  b5 = 0;
  b6 = 0;
  d1 = 0;
  d2 = 0;
  d3 = 0;
  d4 = 0;
  d5 = 0;
  d6 = 0;
  /** Log scale factor. */
  nb = 0;
  /** Scale factor (quantizer step). */
  det: number;

  constructor(readonly initialDet: number) {
    this.det = initialDet;
  }

  reset(): void {
    this.s = this.sz = this.a1 = this.a2 = this.r1 = this.r2 = this.p1 = this.p2 = this.nb = 0;
    this.b1 = this.b2 = this.b3 = this.b4 = this.b5 = this.b6 = 0;
    this.d1 = this.d2 = this.d3 = this.d4 = this.d5 = this.d6 = 0;
    this.det = this.initialDet;
  }

  /** LOGSCL/SCALEL (lower band) or LOGSCH/SCALEH (higher band): adapt the step size. */
  adaptScale(increment: number, maxNb: number, shiftBase: number): void {
    let nb = ((this.nb * 32512) >> 15) + increment;
    if (nb < 0) nb = 0;
    else if (nb > maxNb) nb = maxNb;
    this.nb = nb;
    const m = ILB[(nb >> 6) & 31]!;
    const sh = shiftBase - (nb >> 11);
    this.det = (sh < 0 ? m << -sh : m >> sh) << 2;
  }

  /**
   * Block 4: reconstruct, adapt the pole and zero predictor with the quantized difference `dq`,
   * and compute the next estimate `s`.
   */
  update(dq: number): void {
    const r0 = sat16(this.s + dq);
    const p0 = sat16(this.sz + dq);
    const neg0 = p0 < 0;
    const neg1 = this.p1 < 0;
    const neg2 = this.p2 < 0;

    // UPPOL2: second pole
    let wd = sat16(this.a1 << 2);
    wd = neg0 === neg1 ? -wd : wd;
    if (wd > 32767) wd = 32767;
    let a2 = (wd >> 7) + (neg0 === neg2 ? 128 : -128) + ((this.a2 * 32512) >> 15);
    if (a2 > 12288) a2 = 12288;
    else if (a2 < -12288) a2 = -12288;

    // UPPOL1: first pole, kept inside the stability triangle
    let a1 = sat16((neg0 === neg1 ? 192 : -192) + ((this.a1 * 32640) >> 15));
    const lim = sat16(15360 - a2);
    if (a1 > lim) a1 = lim;
    else if (a1 < -lim) a1 = -lim;

    // UPZERO and DELAYL: sign-sign update of the six zeros, then shift the difference history
    const step = dq === 0 ? 0 : 128;
    const negD = dq < 0;
    const b1 = sat16((this.d1 < 0 === negD ? step : -step) + ((this.b1 * 32640) >> 15));
    const b2 = sat16((this.d2 < 0 === negD ? step : -step) + ((this.b2 * 32640) >> 15));
    const b3 = sat16((this.d3 < 0 === negD ? step : -step) + ((this.b3 * 32640) >> 15));
    const b4 = sat16((this.d4 < 0 === negD ? step : -step) + ((this.b4 * 32640) >> 15));
    const b5 = sat16((this.d5 < 0 === negD ? step : -step) + ((this.b5 * 32640) >> 15));
    const b6 = sat16((this.d6 < 0 === negD ? step : -step) + ((this.b6 * 32640) >> 15));
    this.b1 = b1;
    this.b2 = b2;
    this.b3 = b3;
    this.b4 = b4;
    this.b5 = b5;
    this.b6 = b6;
    const d6 = this.d5;
    const d5 = this.d4;
    const d4 = this.d3;
    const d3 = this.d2;
    const d2 = this.d1;
    this.d6 = d6;
    this.d5 = d5;
    this.d4 = d4;
    this.d3 = d3;
    this.d2 = d2;
    this.d1 = dq;

    this.r2 = this.r1;
    this.r1 = r0;
    this.p2 = this.p1;
    this.p1 = p0;
    this.a1 = a1;
    this.a2 = a2;

    // FILTEP, FILTEZ, PREDIC
    const sp = sat16(((a1 * sat16(r0 + r0)) >> 15) + ((a2 * sat16(this.r2 + this.r2)) >> 15));
    const sz =
      ((b6 * sat16(d6 + d6)) >> 15) +
      ((b5 * sat16(d5 + d5)) >> 15) +
      ((b4 * sat16(d4 + d4)) >> 15) +
      ((b3 * sat16(d3 + d3)) >> 15) +
      ((b2 * sat16(d2 + d2)) >> 15) +
      ((b1 * sat16(dq + dq)) >> 15);
    this.sz = sat16(sz);
    this.s = sat16(sp + this.sz);
  }
}

/** Lower-band step adaptation: log factor up to 18432, shift base 8. */
function adaptLow(band: Band, code4: number): void {
  band.adaptScale(WL[RL42[code4]!]!, 18432, 8);
}

/** Higher-band step adaptation: log factor up to 22528, shift base 10. */
function adaptHigh(band: Band, code2: number): void {
  band.adaptScale(WH[RH2[code2]!]!, 22528, 10);
}

/**
 * G.722 encoder state (64 kbit/s): the transmit QMF history and both sub-band ADPCM states.
 * Feed it 16 kHz 16-bit PCM in pairs; it writes one octet per pair.
 */
export class G722Encoder {
  private readonly low = new Band(32);
  private readonly high = new Band(8);
  // QMF delay lines, each doubled so a window is always contiguous: [pos, pos + 12)
  private readonly newer = new Int32Array(24);
  private readonly older = new Int32Array(24);
  private pos = 0;

  /**
   * Encode `count` samples (an even number; an odd last sample is ignored) of `pcm` from
   * `start` into `out` from `outOffset`. @returns octets written (`count >> 1`).
   */
  encode(pcm: Int16Array, start: number, count: number, out: Uint8Array, outOffset: number): number {
    const pairs = count >> 1;
    const newer = this.newer;
    const older = this.older;
    const low = this.low;
    const high = this.high;
    for (let n = 0; n < pairs; n++) {
      // transmit QMF: x(j-1) is the older sample of the pair, x(j) the newer one
      let pos = this.pos - 1;
      if (pos < 0) pos = 11;
      this.pos = pos;
      const xOld = pcm[start + 2 * n]!;
      const xNew = pcm[start + 2 * n + 1]!;
      newer[pos] = xNew;
      newer[pos + 12] = xNew;
      older[pos] = xOld;
      older[pos + 12] = xOld;
      let xa = 0;
      let xb = 0;
      for (let i = 0; i < 12; i++) {
        xa += QMF_EVEN[i]! * newer[pos + i]!;
        xb += QMF_ODD[i]! * older[pos + i]!;
      }
      const xl = (xa + xb) >> 14;
      const xh = (xa - xb) >> 14;

      // lower band: 6-bit quantizer against the adaptive step
      const el = sat16(xl - low.s);
      const wl = el >= 0 ? el : -(el + 1);
      const detl = low.det;
      let i = 1;
      while (i < 30 && wl >= (Q6[i]! * detl) >> 12) i++;
      const il = el < 0 ? ILN[i]! : ILP[i]!;
      const il4 = il >> 2;
      const dl = (detl * QM4[il4]!) >> 15;
      adaptLow(low, il4);
      low.update(dl);

      // higher band: 2-bit quantizer
      const eh = sat16(xh - high.s);
      const wh = eh >= 0 ? eh : -(eh + 1);
      const deth = high.det;
      const large = wh >= (564 * deth) >> 12;
      const ih = eh < 0 ? (large ? 0 : 1) : large ? 2 : 3;
      const dh = (deth * QM2[ih]!) >> 15;
      adaptHigh(high, ih);
      high.update(dh);

      out[outOffset + n] = (ih << 6) | il;
    }
    return pairs;
  }

  /** Back to the initial state (new stream). */
  reset(): void {
    this.low.reset();
    this.high.reset();
    this.newer.fill(0);
    this.older.fill(0);
    this.pos = 0;
  }
}

/** G.722 decoder state (64 kbit/s): both sub-band ADPCM states and the receive QMF history. */
export class G722Decoder {
  private readonly low = new Band(32);
  private readonly high = new Band(8);
  // receive QMF delay lines of xd = rl - rh and xs = rl + rh, doubled like the encoder's
  private readonly xd = new Int32Array(24);
  private readonly xs = new Int32Array(24);
  private pos = 0;

  /**
   * Decode `length` octets of `data` from `offset` into `out` from `outStart`: two samples per
   * octet, as many as fit. @returns samples written.
   */
  decode(data: Uint8Array, offset: number, length: number, out: Int16Array, outStart: number): number {
    const octets = Math.min(length, (out.length - outStart) >> 1);
    const low = this.low;
    const high = this.high;
    const xd = this.xd;
    const xs = this.xs;
    let o = outStart;
    for (let n = 0; n < octets; n++) {
      const code = data[offset + n]!;
      const il = code & 0x3f;
      const ih = code >> 6;

      // lower band: output from the full 6-bit code, prediction from the 4-bit one
      const detl = low.det;
      let rl = low.s + ((detl * QM6[il]!) >> 15);
      if (rl > 16383) rl = 16383;
      else if (rl < -16384) rl = -16384;
      const il4 = il >> 2;
      const dl = (detl * QM4[il4]!) >> 15;
      adaptLow(low, il4);
      low.update(dl);

      // higher band
      const dh = (high.det * QM2[ih]!) >> 15;
      let rh = high.s + dh;
      if (rh > 16383) rh = 16383;
      else if (rh < -16384) rh = -16384;
      adaptHigh(high, ih);
      high.update(dh);

      // receive QMF: the first output sample from xd with h(2i), the second from xs with h(2i+1)
      let pos = this.pos - 1;
      if (pos < 0) pos = 11;
      this.pos = pos;
      const d = rl - rh;
      const s = rl + rh;
      xd[pos] = d;
      xd[pos + 12] = d;
      xs[pos] = s;
      xs[pos + 12] = s;
      let y1 = 0;
      let y2 = 0;
      for (let i = 0; i < 12; i++) {
        y1 += QMF_EVEN[i]! * xd[pos + i]!;
        y2 += QMF_ODD[i]! * xs[pos + i]!;
      }
      out[o++] = sat16(y1 >> 11);
      out[o++] = sat16(y2 >> 11);
    }
    return o - outStart;
  }

  /** Back to the initial state (new stream). */
  reset(): void {
    this.low.reset();
    this.high.reset();
    this.xd.fill(0);
    this.xs.fill(0);
    this.pos = 0;
  }
}

/** Samples per 20 ms frame at 16 kHz. */
const FRAME = 320;

/**
 * G.722 as a line codec: 16 kHz PCM, 8000 Hz RTP clock, 320 samples ↔ 160 octets per 20 ms
 * frame, frame-repeat concealment for lost packets (the ADPCM state is left as it was: the next
 * good packet re-adapts it within a few milliseconds).
 */
export class G722Codec implements AudioCodec {
  /** Encoding name as in the rtpmap. */
  readonly name = 'G722' as const;
  /** RTP clock: 8000 Hz by RFC 3551's historical error, though the audio is 16 kHz. */
  readonly clockRate = 8000;
  /** PCM rate: 16 kHz, the conference bridge's default, so it mixes without resampling. */
  readonly sampleRate = 16000;
  /** Mono. */
  readonly channels = 1 as const;
  /** 320 samples = 20 ms. */
  readonly samplesPerFrame = FRAME;
  /** Frames concealed so far. */
  concealedFrames = 0;
  private readonly enc = new G722Encoder();
  private readonly dec = new G722Decoder();
  private readonly plc = new FrameRepeatConcealer(FRAME);

  /** @param payloadType - RTP payload type, static 9 by default. */
  constructor(readonly payloadType: number = 9) {}

  /** Encode one 320-sample frame to 160 octets; see {@link AudioCodec.encode}. */
  encode(pcm: Int16Array, out: Buffer, outOffset: number): number {
    if (pcm.length < FRAME) throw new RangeError(`G.722 encode needs ${FRAME} samples, got ${pcm.length}`);
    if (outOffset < 0 || out.length - outOffset < FRAME / 2) throw new RangeError('G.722 encode: output buffer too small');
    return this.enc.encode(pcm, 0, FRAME, out, outOffset);
  }

  /** Two samples per octet; an empty payload is concealed. See {@link AudioCodec.decode}. */
  decode(payload: Buffer, offset: number, length: number, out: Int16Array): number {
    const avail = Math.min(length, payload.length - offset);
    if (offset < 0 || avail <= 0) {
      this.concealedFrames++;
      return this.plc.conceal(out);
    }
    const n = this.dec.decode(payload, offset, avail, out, 0);
    this.plc.remember(out, 0, n);
    return n;
  }

  /** Frame-repeat concealment of one lost frame. */
  conceal(out: Int16Array): number {
    this.concealedFrames++;
    return this.plc.conceal(out);
  }

  /** New stream: both coder states and the concealment history start over. */
  reset(): void {
    this.enc.reset();
    this.dec.reset();
    this.plc.reset();
  }

  /** Nothing native to release. */
  close(): void {
    this.plc.reset();
  }
}
