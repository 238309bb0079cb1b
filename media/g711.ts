/**
 * G.711 µ-law (PCMU) and A-law (PCMA). `alawmulaw` is the reference implementation, but its
 * array API allocates a new typed array per call, so we run it once per possible input at module
 * load to build lookup tables: encoding is then one indexed read per sample and decoding another,
 * with no allocation on the packet path.
 * @module
 */
import alawmulaw from 'alawmulaw';
import type { AudioCodec } from './codecs.js';

function buildEncodeTable(encodeSample: (s: number) => number): Uint8Array {
  const t = new Uint8Array(65536);
  for (let i = 0; i < 65536; i++) {
    // index is the sample's 16-bit two's-complement pattern, so negative samples map to 0x8000+
    t[i] = encodeSample((i << 16) >> 16) & 0xff;
  }
  return t;
}

function buildDecodeTable(decodeSample: (c: number) => number): Int16Array {
  const t = new Int16Array(256);
  for (let c = 0; c < 256; c++) t[c] = decodeSample(c);
  return t;
}

/** µ-law encode table: `MULAW_ENCODE[sample & 0xffff]` is the code byte. */
export const MULAW_ENCODE: Uint8Array = buildEncodeTable(alawmulaw.mulaw.encodeSample);
/** µ-law decode table: `MULAW_DECODE[code]` is the 16-bit sample. */
export const MULAW_DECODE: Int16Array = buildDecodeTable(alawmulaw.mulaw.decodeSample);
/** A-law encode table: `ALAW_ENCODE[sample & 0xffff]` is the code byte. */
export const ALAW_ENCODE: Uint8Array = buildEncodeTable(alawmulaw.alaw.encodeSample);
/** A-law decode table: `ALAW_DECODE[code]` is the 16-bit sample. */
export const ALAW_DECODE: Int16Array = buildDecodeTable(alawmulaw.alaw.decodeSample);

/**
 * Encode `count` samples of `pcm` from `start` with a G.711 encode table into `out` at `outOffset`.
 * A loop over a table: no allocation, no bounds surprises (the caller sizes `out`). Eight samples
 * per turn: V8 then checks the three arrays once per eight samples instead of once per sample
 * (a frame took 230–300 ns instead of 460–500 in a loop timing one frame).
 */
export function g711EncodeInto(
  table: Uint8Array,
  pcm: Int16Array,
  start: number,
  count: number,
  out: Uint8Array,
  outOffset: number,
): void {
  let i = 0;
  for (; i + 8 <= count; i += 8) {
    const s = start + i;
    const o = outOffset + i;
    out[o] = table[pcm[s]! & 0xffff]!;
    out[o + 1] = table[pcm[s + 1]! & 0xffff]!;
    out[o + 2] = table[pcm[s + 2]! & 0xffff]!;
    out[o + 3] = table[pcm[s + 3]! & 0xffff]!;
    out[o + 4] = table[pcm[s + 4]! & 0xffff]!;
    out[o + 5] = table[pcm[s + 5]! & 0xffff]!;
    out[o + 6] = table[pcm[s + 6]! & 0xffff]!;
    out[o + 7] = table[pcm[s + 7]! & 0xffff]!;
  }
  for (; i < count; i++) out[outOffset + i] = table[pcm[start + i]! & 0xffff]!;
}

/**
 * Decode `count` code bytes of `payload` from `offset` with a G.711 decode table into `out` at
 * `outStart`; eight per turn, as {@link g711EncodeInto}.
 */
export function g711DecodeInto(
  table: Int16Array,
  payload: Uint8Array,
  offset: number,
  count: number,
  out: Int16Array,
  outStart: number,
): void {
  let i = 0;
  for (; i + 8 <= count; i += 8) {
    const p = offset + i;
    const o = outStart + i;
    out[o] = table[payload[p]!]!;
    out[o + 1] = table[payload[p + 1]!]!;
    out[o + 2] = table[payload[p + 2]!]!;
    out[o + 3] = table[payload[p + 3]!]!;
    out[o + 4] = table[payload[p + 4]!]!;
    out[o + 5] = table[payload[p + 5]!]!;
    out[o + 6] = table[payload[p + 6]!]!;
    out[o + 7] = table[payload[p + 7]!]!;
  }
  for (; i < count; i++) out[outStart + i] = table[payload[offset + i]!]!;
}

/**
 * Frame-repeat packet loss concealment: replay the last good frame with a gain that ramps down
 * linearly over `fadeFrames` lost frames, then silence. Cheap and clearly better than dropping
 * to silence for a single lost packet; ITU-T G.711 Appendix I (pitch-period waveform
 * substitution with overlap-add) is the better algorithm, left for later.
 */
export class FrameRepeatConcealer {
  private readonly last: Int16Array;
  private have = false;
  private lost = 0;
  /** The array the last whole frame was remembered from, and a view of that frame in it. */
  private srcArray: Int16Array | null = null;
  private srcView: Int16Array | null = null;
  private srcFrom = 0;

  /**
   * @param frameSize - samples per frame.
   * @param fadeFrames - lost frames until the replay has faded to silence (5 × 20 ms = 100 ms).
   */
  constructor(
    readonly frameSize: number,
    readonly fadeFrames = 5,
  ) {
    this.last = new Int16Array(frameSize);
  }

  /**
   * Keep the tail of a good decoded frame as the replay source and end any loss run.
   * Called after every successful decode; copies at most `frameSize` samples.
   */
  remember(pcm: Int16Array, start: number, count: number): void {
    const n = this.frameSize;
    if (count >= n) {
      const from = start + count - n;
      // a decoder remembers from the same place of the same array every frame: the view is made
      // once and the copy is one native block copy instead of a loop
      let view = this.srcView;
      if (view === null || this.srcArray !== pcm || this.srcFrom !== from) {
        view = this.srcView = pcm.subarray(from, from + n);
        this.srcArray = pcm;
        this.srcFrom = from;
      }
      this.last.set(view);
    } else {
      // shorter frame (e.g. a 10 ms packet): slide history so the newest samples sit at the end
      this.last.copyWithin(0, count);
      for (let i = 0; i < count; i++) this.last[n - count + i] = pcm[start + i]!;
    }
    this.have = true;
    this.lost = 0;
  }

  /** Write one concealment frame into `out`. @returns samples written. */
  conceal(out: Int16Array): number {
    const n = Math.min(this.frameSize, out.length);
    const k = this.lost++;
    if (!this.have || k >= this.fadeFrames) {
      out.fill(0, 0, n);
      return n;
    }
    const g0 = 1 - k / this.fadeFrames;
    const dg = -1 / (this.fadeFrames * this.frameSize);
    const src = this.last;
    for (let i = 0; i < n; i++) out[i] = Math.round(src[i]! * (g0 + dg * i));
    return n;
  }

  /** Consecutive frames concealed since the last good one. */
  get lostFrames(): number {
    return this.lost;
  }

  /** Forget the replay source. */
  reset(): void {
    this.last.fill(0);
    this.have = false;
    this.lost = 0;
  }
}

/**
 * PCMU / PCMA codec: table lookups, 160 samples per 20 ms frame, frame-repeat concealment.
 * Stateless apart from the concealment history, so `reset` only clears that.
 */
export class G711Codec implements AudioCodec {
  /** RTP clock (8 kHz). */
  readonly clockRate = 8000;
  /** PCM rate (8 kHz). */
  readonly sampleRate = 8000;
  /** Mono. */
  readonly channels = 1 as const;
  /** 160 samples = 20 ms. */
  readonly samplesPerFrame = 160;
  /** Frames concealed so far (loss statistics for RTCP/QoS reporting). */
  concealedFrames = 0;
  private readonly enc: Uint8Array;
  private readonly dec: Int16Array;
  private readonly plc = new FrameRepeatConcealer(160);

  /**
   * @param name - `PCMU` (µ-law) or `PCMA` (A-law).
   * @param payloadType - RTP payload type, 0 and 8 by default.
   */
  constructor(
    readonly name: 'PCMU' | 'PCMA',
    readonly payloadType: number = name === 'PCMU' ? 0 : 8,
  ) {
    this.enc = name === 'PCMU' ? MULAW_ENCODE : ALAW_ENCODE;
    this.dec = name === 'PCMU' ? MULAW_DECODE : ALAW_DECODE;
  }

  /** Encode one 160-sample frame to 160 code bytes; see {@link AudioCodec.encode}. */
  encode(pcm: Int16Array, out: Buffer, outOffset: number): number {
    const n = this.samplesPerFrame;
    if (pcm.length < n) throw new RangeError(`G.711 encode needs ${n} samples, got ${pcm.length}`);
    if (outOffset < 0 || out.length - outOffset < n) throw new RangeError('G.711 encode: output buffer too small');
    g711EncodeInto(this.enc, pcm, 0, n, out, outOffset);
    return n;
  }

  /** One code byte per sample; an empty payload is concealed. See {@link AudioCodec.decode}. */
  decode(payload: Buffer, offset: number, length: number, out: Int16Array): number {
    const avail = Math.min(length, payload.length - offset);
    if (offset < 0 || avail <= 0) {
      this.concealedFrames++;
      return this.plc.conceal(out);
    }
    const n = Math.min(avail, out.length);
    g711DecodeInto(this.dec, payload, offset, n, out, 0);
    this.plc.remember(out, 0, n);
    return n;
  }

  /** Frame-repeat concealment of one lost frame; see {@link FrameRepeatConcealer}. */
  conceal(out: Int16Array): number {
    this.concealedFrames++;
    return this.plc.conceal(out);
  }

  /** Clear concealment history (the G.711 coder itself has no state). */
  reset(): void {
    this.plc.reset();
  }

  /** Nothing native to release. */
  close(): void {
    this.plc.reset();
  }
}
