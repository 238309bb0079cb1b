/**
 * Received Opus packets of other than 20 ms (RFC 6716 §3.1-3.2, RFC 7587 §4.2: a packet holds
 * 1 to 48 frames of 2.5 to 60 ms, at most 120 ms in all) made into the 20 ms units of the jitter
 * buffer and the media pump:
 * - a packet of exactly 20 ms (one 20 ms frame, 2 × 10 ms, 4 × 5 ms, …) passes whole;
 * - a packet of 20 ms frames (code 1/2/3: 40, 60 … 120 ms) is split into one-frame packets
 *   (TOC code 0), each at its own timestamp;
 * - frames shorter than 20 ms (a stream of 10 ms packets, 3 × 10 ms, …) are gathered, across
 *   packets too, into code-3 packets of exactly 20 ms; a frame that never came is an empty frame
 *   in its place, which libopus conceals (RFC 6716 §4.4: a frame of no bytes is a lost frame);
 * - a packet of 40 or 60 ms frames (SILK cannot be split) goes whole into its first 20 ms slot
 *   and a two-byte continuation mark into each further slot; {@link OpusRxFramer.decode} decodes
 *   the whole packet on its turn, plays its first 20 ms and keeps the rest for the marks. A mark
 *   is no valid Opus packet (code 3 with no frames, [R5]), so it cannot be taken for one.
 * Every buffer is made with the framer: nothing is allocated per packet.
 * @module
 */
import type { AudioCodec } from './codecs.js';
import type { FrameSink } from './packetTime.js';
import { tsDiff } from './rtp.js';

/** Samples (48 kHz) of one 20 ms frame: the unit of the jitter buffer. */
const FRAME = 960;
/** Most frames in one packet (RFC 6716 §3.2.5: 120 ms of 2.5 ms frames). */
const MAX_FRAMES = 48;
/** Most samples one packet decodes to: 120 ms. */
const MAX_SAMPLES = 5760;
/** Largest packet we build: the jitter buffer takes 1280 bytes. */
const MAX_BUILT = 1280;
/** First byte of the continuation mark: config 0, code 3; its frame count byte is 0. */
const MARK_TOC = 0x03;
const MARK = Buffer.from([MARK_TOC, 0x00]);

const SILK_SAMPLES = [480, 960, 1920, 2880] as const; // 10/20/40/60 ms
const CELT_SAMPLES = [120, 240, 480, 960] as const; // 2.5/5/10/20 ms

/** Samples (48 kHz) of one frame of the TOC byte's configuration (RFC 6716 Table 2). */
export function opusFrameSamples(toc: number): number {
  const config = toc >> 3;
  if (config < 12) return SILK_SAMPLES[config & 3]!;
  if (config < 16) return (config & 1) === 0 ? 480 : 960; // hybrid: 10/20 ms
  return CELT_SAMPLES[config & 3]!;
}

/** The frames of one Opus packet, as {@link parseOpusPacket} finds them (reused arrays). */
export interface OpusFrames {
  /** Frame count. */
  count: number;
  /** Samples (48 kHz) per frame. */
  frameSamples: number;
  /** Offset of each frame in the buffer parsed. */
  readonly offsets: Int32Array;
  /** Bytes of each frame. */
  readonly lengths: Int32Array;
}

/** An {@link OpusFrames} with room for the most frames a packet can hold. */
export function createOpusFrames(): OpusFrames {
  return { count: 0, frameSamples: 0, offsets: new Int32Array(MAX_FRAMES), lengths: new Int32Array(MAX_FRAMES) };
}

/** Reads a frame length (RFC 6716 §3.2.1) at `p`: the length, and how many bytes it took in `used`. */
function frameLength(buf: Buffer, p: number, end: number, used: Int32Array): number {
  if (p >= end) return -1;
  const b0 = buf[p]!;
  if (b0 < 252) {
    used[0] = 1;
    return b0;
  }
  if (p + 1 >= end) return -1;
  used[0] = 2;
  return b0 + 4 * buf[p + 1]!;
}

const lenUsed = new Int32Array(1);

/**
 * Finds the frames of the packet `buf[offset, offset + length)` (RFC 6716 §3.2, checked against
 * its rules R1-R7). @returns the frame count, or -1 for a malformed packet (`into` then undefined).
 */
export function parseOpusPacket(buf: Buffer, offset: number, length: number, into: OpusFrames): number {
  if (length < 1) return -1;
  const end = offset + length;
  const toc = buf[offset]!;
  const fs = opusFrameSamples(toc);
  into.frameSamples = fs;
  let p = offset + 1;
  const offs = into.offsets;
  const lens = into.lengths;
  switch (toc & 3) {
    case 0:
      if (end - p > 1275) return -1;
      offs[0] = p;
      lens[0] = end - p;
      return (into.count = 1);
    case 1: {
      const n = end - p;
      if ((n & 1) !== 0 || n / 2 > 1275) return -1;
      offs[0] = p;
      lens[0] = n / 2;
      offs[1] = p + n / 2;
      lens[1] = n / 2;
      return (into.count = 2);
    }
    case 2: {
      const l0 = frameLength(buf, p, end, lenUsed);
      if (l0 < 0) return -1;
      p += lenUsed[0]!;
      const l1 = end - p - l0;
      if (l1 < 0 || l1 > 1275) return -1;
      offs[0] = p;
      lens[0] = l0;
      offs[1] = p + l0;
      lens[1] = l1;
      return (into.count = 2);
    }
    default: {
      if (p >= end) return -1;
      const ch = buf[p++]!;
      const m = ch & 0x3f;
      if (m === 0 || m * fs > MAX_SAMPLES) return -1;
      let padding = 0;
      if ((ch & 0x40) !== 0) {
        for (;;) {
          if (p >= end) return -1;
          const b = buf[p++]!;
          padding += b === 255 ? 254 : b;
          if (b !== 255) break;
        }
      }
      let left = end - p - padding;
      if (left < 0) return -1;
      if ((ch & 0x80) !== 0) {
        // VBR: lengths of all frames but the last, then the frames
        for (let i = 0; i < m - 1; i++) {
          const l = frameLength(buf, p, end, lenUsed);
          if (l < 0) return -1;
          p += lenUsed[0]!;
          left -= lenUsed[0]! + l;
          if (left < 0) return -1;
          lens[i] = l;
        }
        if (left > 1275) return -1;
        lens[m - 1] = left;
      } else {
        if (left % m !== 0 || left / m > 1275) return -1;
        for (let i = 0; i < m; i++) lens[i] = left / m;
      }
      for (let i = 0; i < m; i++) {
        offs[i] = p;
        p += lens[i]!;
      }
      return (into.count = m);
    }
  }
}

/**
 * Copies `len` bytes of `src` from `from` to `dst` at `at`. A loop, as `Buffer#copy` of a
 * sub-range makes a view object per call (Node 20) and frames are short.
 */
function copyBytes(src: Buffer, from: number, len: number, dst: Buffer, at: number): void {
  for (let i = 0; i < len; i++) dst[at + i] = src[from + i]!;
}

/** Whether `buf[offset, offset + length)` is the continuation mark {@link OpusRxFramer} puts in a slot. */
export function isOpusContinuation(buf: Buffer, offset: number, length: number): boolean {
  return length === 2 && buf[offset] === MARK_TOC && buf[offset + 1] === 0;
}

/** Makes received Opus packets into 20 ms jitter-buffer frames and decodes them (see the module notes). */
export class OpusRxFramer {
  private readonly frames = createOpusFrames();
  /** A packet built here (a split frame, a gathered group), handed to the sink which copies it. */
  private readonly built = Buffer.alloc(MAX_BUILT);
  /** Frames shorter than 20 ms waiting for the rest of their 20 ms. */
  private readonly groupData = Buffer.alloc(MAX_BUILT);
  private readonly groupLens = new Int32Array(8);
  private groupBytes = 0;
  /** Next slot to fill in the group (0: no group pending). */
  private groupNext = 0;
  private groupSlots = 0;
  private groupFs = 0;
  private groupToc = 0;
  private groupTs = 0;
  private groupSeq = 0;
  /** Decoded audio of a long frame beyond its first 20 ms, for the continuation marks. */
  private readonly carry = new Int16Array(MAX_SAMPLES - FRAME);
  private carryLen = 0;
  private carryTs = 0;
  /** Packets whose frames were split, gathered or carried (for tests and stats). */
  reframed = 0;

  /** Forgets a pending group and the carried audio (new stream, new codec). */
  reset(): void {
    this.groupNext = 0;
    this.groupBytes = 0;
    this.carryLen = 0;
  }

  /**
   * Hands `sink` the packet's 20 ms units (see the module notes). A malformed packet goes as it
   * is: the decoder counts it and conceals.
   */
  feed(sink: FrameSink, seq: number, ts: number, buf: Buffer, offset: number, length: number, arrivalMs: number): void {
    const f = this.frames;
    const count = parseOpusPacket(buf, offset, length, f);
    const fs = f.frameSamples;
    if (count < 0 || count * fs === FRAME) {
      this.flushGroup(sink, arrivalMs);
      sink.push(seq, ts, buf, offset, length, arrivalMs);
      return;
    }
    this.reframed++;
    const toc = buf[offset]! & 0xfc;
    if (fs === FRAME) {
      this.flushGroup(sink, arrivalMs);
      const out = this.built;
      out[0] = toc; // code 0: one frame
      for (let i = 0; i < count; i++) {
        const len = f.lengths[i]!;
        copyBytes(buf, f.offsets[i]!, len, out, 1);
        sink.push(seq, (ts + i * FRAME) >>> 0, out, 0, 1 + len, arrivalMs);
      }
      return;
    }
    if (fs > FRAME) {
      // 40/60 ms frames: the packet in its first slot, marks in the others
      this.flushGroup(sink, arrivalMs);
      sink.push(seq, ts, buf, offset, length, arrivalMs);
      const slots = (count * fs) / FRAME;
      for (let j = 1; j < slots; j++) sink.push(seq, (ts + j * FRAME) >>> 0, MARK, 0, 2, arrivalMs);
      return;
    }
    for (let i = 0; i < count; i++) {
      this.addShort(sink, seq, (ts + i * fs) >>> 0, toc, fs, buf, f.offsets[i]!, f.lengths[i]!, arrivalMs);
    }
  }

  /** Puts one frame shorter than 20 ms into the pending group, starting or ending groups as needed. */
  private addShort(sink: FrameSink, seq: number, ts: number, toc: number, fs: number, buf: Buffer, off: number, len: number, arrivalMs: number): void {
    if (this.groupNext > 0) {
      const d = tsDiff(ts, this.groupTs);
      const slot = d / fs;
      // a frame of another mode, off the group's grid, or not after its last frame starts anew
      if (toc !== this.groupToc || fs !== this.groupFs || !Number.isInteger(slot) || slot < this.groupNext || slot >= this.groupSlots || this.groupBytes + len > MAX_BUILT - 24) {
        this.flushGroup(sink, arrivalMs);
      } else {
        while (this.groupNext < slot) this.groupLens[this.groupNext++] = 0;
      }
    }
    if (this.groupNext === 0) {
      this.groupTs = ts;
      this.groupToc = toc;
      this.groupFs = fs;
      this.groupSlots = FRAME / fs;
      this.groupBytes = 0;
    }
    this.groupSeq = seq;
    copyBytes(buf, off, len, this.groupData, this.groupBytes);
    this.groupBytes += len;
    this.groupLens[this.groupNext++] = len;
    if (this.groupNext === this.groupSlots) this.flushGroup(sink, arrivalMs);
  }

  /** Sends the pending group as one code-3 VBR packet of 20 ms, empty frames in the slots not filled. */
  private flushGroup(sink: FrameSink, arrivalMs: number): void {
    if (this.groupNext === 0) return;
    const m = this.groupSlots;
    while (this.groupNext < m) this.groupLens[this.groupNext++] = 0;
    const out = this.built;
    out[0] = this.groupToc | 3;
    out[1] = 0x80 | m; // VBR, no padding
    let p = 2;
    for (let i = 0; i < m - 1; i++) {
      const l = this.groupLens[i]!;
      if (l < 252) {
        out[p++] = l;
      } else {
        const b0 = 252 + (l & 3);
        out[p++] = b0;
        out[p++] = (l - b0) >> 2;
      }
    }
    copyBytes(this.groupData, 0, this.groupBytes, out, p);
    p += this.groupBytes;
    this.groupNext = 0;
    this.groupBytes = 0;
    sink.push(this.groupSeq, this.groupTs, out, 0, p, arrivalMs);
  }

  /**
   * Decodes one jitter-buffer unit into `out` (room for 120 ms, 5760 samples: a long
   * frame decodes whole): a packet is decoded and its first 20 ms played, the rest kept; a
   * continuation mark plays the kept audio of its timestamp, or is concealed when that packet
   * was never decoded (lost, late, dropped).
   * @returns samples written (20 ms, or fewer when a packet decodes to less)
   */
  decode(codec: AudioCodec, buf: Buffer, offset: number, length: number, timestamp: number, out: Int16Array): number {
    if (isOpusContinuation(buf, offset, length)) {
      const at = tsDiff(timestamp, this.carryTs);
      if (at < 0 || at % FRAME !== 0 || at + FRAME > this.carryLen) return codec.conceal(out);
      const c = this.carry;
      for (let i = 0; i < FRAME; i++) out[i] = c[at + i]!;
      return FRAME;
    }
    const n = codec.decode(buf, offset, length, out);
    if (n <= FRAME) return n;
    const c = this.carry;
    for (let i = FRAME; i < n; i++) c[i - FRAME] = out[i]!;
    this.carryLen = n - FRAME;
    this.carryTs = (timestamp + FRAME) >>> 0;
    return FRAME;
  }
}
