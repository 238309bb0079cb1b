/**
 * Opus (RFC 6716 / RFC 7587) through the native `@discordjs/opus` binding, 48 kHz mono, 20 ms
 * frames of 960 samples. The binding is loaded on first use with `createRequire`, so an engine
 * that only ever speaks G.711 never loads the native module, and a missing or broken binary
 * makes {@link createOpusCodec} return `undefined` instead of crashing at import time.
 * @module
 */
import { createRequire } from 'node:module';
import { endianness } from 'node:os';
import type { AudioCodec } from './codecs.js';
import { createOpusFfiDecoder, type OpusFfiDecoder } from '../ffi/opus.js';

/** The part of the `@discordjs/opus` `OpusEncoder` class we use (one object holds encoder and decoder). */
export interface NativeOpus {
  /** Encode little-endian PCM16; returns a new Buffer with the packet. */
  encode(pcm: Buffer): Buffer;
  /** Decode a packet; returns a new Buffer of little-endian PCM16. Throws on corrupt packets. */
  decode(packet: Buffer): Buffer;
  /** `opus_encoder_ctl(request, value)`. */
  applyEncoderCTL(ctl: number, value: number): void;
  /** `opus_decoder_ctl(request, value)`. */
  applyDecoderCTL(ctl: number, value: number): void;
  /** OPUS_SET_BITRATE. */
  setBitrate(bitrate: number): void;
}

/** The binding's `OpusEncoder` constructor: `(sampleRate, channels)`. */
export type NativeOpusCtor = new (rate: number, channels: number) => NativeOpus;

// CTL request numbers from opus_defines.h; the binding passes them straight to opus_*_ctl.
const OPUS_SET_APPLICATION = 4000;
const OPUS_SET_MAX_BANDWIDTH = 4004;
const OPUS_SET_VBR = 4006;
const OPUS_SET_COMPLEXITY = 4010;
const OPUS_SET_INBAND_FEC = 4012;
const OPUS_SET_PACKET_LOSS_PERC = 4014;
const OPUS_SET_DTX = 4016;
const OPUS_SET_SIGNAL = 4024;
const OPUS_RESET_STATE = 4028;
const OPUS_APPLICATION_VOIP = 2048;
const OPUS_SIGNAL_VOICE = 3001;

/** Audio bandwidths Opus can be limited to (`OPUS_SET_MAX_BANDWIDTH`): 4, 6, 8, 12 and 20 kHz. */
export type OpusBandwidth = 'narrowband' | 'mediumband' | 'wideband' | 'superwideband' | 'fullband';

/** OPUS_BANDWIDTH_* values (opus_defines.h) of each {@link OpusBandwidth}. */
const BANDWIDTH_CODES: Readonly<Record<OpusBandwidth, number>> = {
  narrowband: 1101,
  mediumband: 1102,
  wideband: 1103,
  superwideband: 1104,
  fullband: 1105,
};

/** Lowest and highest bitrate (bit/s) we accept: the range RFC 7587 §3.1.1 and libopus allow. */
export const OPUS_MIN_BITRATE = 6000;
/** See {@link OPUS_MIN_BITRATE}. */
export const OPUS_MAX_BITRATE = 510000;

/** Largest Opus packet for one frame (RFC 6716 §3.2.1), for sizing send buffers. */
export const OPUS_MAX_PACKET_BYTES = 1275;
/** Largest decoded packet the binding can return: 120 ms at 48 kHz. */
export const OPUS_MAX_FRAME_SAMPLES = 5760;

let nativeCtor: NativeOpusCtor | null | undefined;
let loadError: string | undefined;
const realLoader = (): NativeOpusCtor => {
  const req = createRequire(import.meta.url);
  const mod = req('@discordjs/opus') as { OpusEncoder?: NativeOpusCtor };
  if (typeof mod.OpusEncoder !== 'function') throw new Error('@discordjs/opus has no OpusEncoder export');
  return mod.OpusEncoder;
};
let loader: () => NativeOpusCtor = realLoader;

/**
 * Load the native binding once. @returns true when Opus is usable; otherwise
 * {@link opusLoadError} says why.
 */
export function loadOpus(): boolean {
  if (nativeCtor === undefined) {
    try {
      nativeCtor = loader();
    } catch (err) {
      nativeCtor = null;
      loadError = err instanceof Error ? err.message : String(err);
    }
  }
  return nativeCtor !== null;
}

/** Why the Opus binding failed to load, or `undefined` if it loaded (or was never tried). */
export function opusLoadError(): string | undefined {
  return loadError;
}

/**
 * Replace the binding loader, for tests of the "native module missing" path. Resets the cached
 * load result; call without an argument to restore the real loader.
 * @internal
 */
export function setOpusLoaderForTests(fn?: () => NativeOpusCtor): void {
  loader = fn ?? realLoader;
  nativeCtor = undefined;
  loadError = undefined;
}

/** Encoder settings; the defaults suit narrow- to wide-band speech on lossy networks. */
export interface OpusCodecOptions {
  /** Target bitrate in bit/s (default 32000: transparent wideband speech). */
  readonly bitrate?: number;
  /** Encoder complexity 0-10 (default 5: half the CPU of 10 for a barely audible difference on speech). */
  readonly complexity?: number;
  /** Put in-band FEC into our packets for the peer (default true, matching `useinbandfec=1`). */
  readonly fec?: boolean;
  /** Expected loss in percent, which tunes how much FEC the encoder spends (default 10). */
  readonly packetLossPercent?: number;
  /** Decode with our own libopus decoder when it loads (default true; false keeps the binding's, without FEC decoding). */
  readonly ffiDecoder?: boolean;
  /** Discontinuous transmission during silence (default false: a steady packet stream keeps NAT bindings and jitter buffers simple). */
  readonly dtx?: boolean;
  /** Widest audio band the encoder codes (default `fullband`: no limit). */
  readonly maxBandwidth?: OpusBandwidth;
  /** Constant bitrate (default false: VBR; a far end's `cbr=1` asks for it). */
  readonly cbr?: boolean;
}

/**
 * Per-line Opus settings (`setOpusSettings`); a field left out keeps its current value. They go
 * to the encoder and into our `a=fmtp` (RFC 7587 §6.1).
 */
export interface OpusSettings {
  /** Target bitrate in bit/s, 6000..510000 (`maxaveragebitrate`). */
  bitrate?: number;
  /** Encoder complexity, integer 0..10. */
  complexity?: number;
  /** In-band FEC in our packets (`useinbandfec`); received FEC is always used when libopus loads. */
  fec?: boolean;
  /** Discontinuous transmission in silence (`usedtx`). */
  dtx?: boolean;
  /** Widest coded audio band. */
  maxBandwidth?: OpusBandwidth;
  /** Expected packet loss in percent, integer 0..100: how much of the bitrate the encoder gives to FEC. */
  packetLossPercent?: number;
}

/**
 * Whether `s` is a valid {@link OpusSettings}: an object whose present fields have the right type
 * and range (and nothing else). Never throws.
 */
export function isValidOpusSettings(s: unknown): s is OpusSettings {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) return false;
  const o = s as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (v === undefined) continue;
    switch (k) {
      case 'bitrate':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < OPUS_MIN_BITRATE || v > OPUS_MAX_BITRATE) return false;
        break;
      case 'complexity':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 10) return false;
        break;
      case 'packetLossPercent':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 100) return false;
        break;
      case 'fec':
      case 'dtx':
        if (typeof v !== 'boolean') return false;
        break;
      case 'maxBandwidth':
        if (typeof v !== 'string' || !Object.prototype.hasOwnProperty.call(BANDWIDTH_CODES, v)) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/**
 * Our `a=fmtp` for Opus under these settings (RFC 7587 §6.1): `minptime=10`, `useinbandfec=1`
 * when we send FEC (default on), `usedtx=1` with DTX, `maxaveragebitrate` when a bitrate is set.
 * These tell the peer what we send and would like to receive.
 */
export function opusFmtp(s: OpusCodecOptions | undefined): string {
  let f = 'minptime=10';
  if (s?.fec !== false) f += ';useinbandfec=1';
  if (s?.dtx === true) f += ';usedtx=1';
  if (s?.bitrate !== undefined) f += `;maxaveragebitrate=${s.bitrate}`;
  return f;
}

/** Bandwidths from narrowest to widest, for taking the narrower of two. */
const BANDWIDTH_ORDER: readonly OpusBandwidth[] = ['narrowband', 'mediumband', 'wideband', 'superwideband', 'fullband'];

/** What the far end's Opus `a=fmtp` asks of what we send (RFC 7587 §6.1), as {@link parseOpusFmtp} reads it. */
export interface OpusPeerFmtp {
  /** `maxaveragebitrate`: the most it wants to receive, bit/s (clamped to 6000..510000). */
  maxAverageBitrate?: number;
  /** `maxplaybackrate` as the widest band worth coding for it. */
  maxBandwidth?: OpusBandwidth;
  /** `useinbandfec=1`: its decoder uses in-band FEC (absent means 0: FEC would be wasted bits). */
  useInbandFec: boolean;
  /** `cbr=1`: it prefers a constant bitrate. */
  cbr: boolean;
}

/**
 * Reads the far end's Opus `a=fmtp` (RFC 7587 §6.1; names case-insensitive, unknown ones and
 * malformed values ignored). `undefined` (no fmtp) is all defaults: no FEC wanted, no limits.
 */
export function parseOpusFmtp(fmtp: string | undefined): OpusPeerFmtp {
  const out: OpusPeerFmtp = { useInbandFec: false, cbr: false };
  if (fmtp === undefined) return out;
  for (const part of fmtp.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    if (!/^\d{1,7}$/.test(value)) continue;
    const n = Number(value);
    if (name === 'maxaveragebitrate') out.maxAverageBitrate = Math.min(OPUS_MAX_BITRATE, Math.max(OPUS_MIN_BITRATE, n));
    else if (name === 'useinbandfec') out.useInbandFec = n === 1;
    else if (name === 'cbr') out.cbr = n === 1;
    else if (name === 'maxplaybackrate' && n > 0) {
      // the band that covers its playback rate (Nyquist: 8 kHz audio plays at 16 kHz)
      out.maxBandwidth = n <= 8000 ? 'narrowband' : n <= 12000 ? 'mediumband' : n <= 16000 ? 'wideband' : n <= 24000 ? 'superwideband' : 'fullband';
    }
  }
  return out;
}

/** The encoder's defaults: the settings a line has before `setOpusSettings` or the start option says otherwise. */
export const OPUS_DEFAULT_SETTINGS: Readonly<Required<OpusSettings>> = Object.freeze({
  bitrate: 32000,
  complexity: 5,
  fec: true,
  dtx: false,
  maxBandwidth: 'fullband',
  packetLossPercent: 10,
});

/**
 * The encoder settings in force for our settings `own` (fields left out: {@link OPUS_DEFAULT_SETTINGS})
 * towards a far end whose fmtp says `peer`: our bitrate capped at its `maxaveragebitrate`, our
 * band at its `maxplaybackrate`, FEC only when we want it and it said `useinbandfec=1`. DTX is
 * ours alone (a steady stream keeps NATs open; the peer's `usedtx` is a preference).
 */
export function effectiveOpusSettings(own: OpusSettings, peer: OpusPeerFmtp | undefined): Required<OpusSettings> {
  const s: Required<OpusSettings> = { ...OPUS_DEFAULT_SETTINGS };
  for (const [k, v] of Object.entries(own)) if (v !== undefined) (s as Record<string, unknown>)[k] = v;
  if (peer === undefined) return s;
  if (peer.maxAverageBitrate !== undefined && s.bitrate > peer.maxAverageBitrate) s.bitrate = peer.maxAverageBitrate;
  const cap = peer.maxBandwidth;
  if (cap !== undefined && BANDWIDTH_ORDER.indexOf(cap) < BANDWIDTH_ORDER.indexOf(s.maxBandwidth)) s.maxBandwidth = cap;
  if (!peer.useInbandFec) s.fec = false;
  return s;
}

const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * Opus at 48 kHz mono, 20 ms frames.
 *
 * Allocation: the binding returns a freshly allocated Buffer from every `encode` and `decode`
 * call. That is the one per-packet allocation we cannot avoid without our own native code;
 * everything else (input staging, payload views, output copy) reuses memory owned by this object.
 *
 * Decoding: when libopus itself loads through koffi (`ffi/opus.ts`), packets are decoded by a
 * decoder of our own, because the binding always calls `opus_decode` with `decode_fec = 0`; only
 * then can {@link OpusCodec.decodeFec} rebuild a lost frame from the next packet's in-band FEC.
 * Without libopus the binding decodes, and for loss we feed it a one-byte packet that carries
 * only a TOC byte for a 20 ms frame in the last packet's mode: libopus treats a frame of zero
 * bytes as lost and runs its own PLC for exactly one frame (an empty Buffer would instead
 * conceal the binding's maximum of 120 ms). Before any packet has arrived, concealment is silence.
 */
export class OpusCodec implements AudioCodec {
  /** Always `opus`. */
  readonly name = 'opus' as const;
  /** RTP clock: 48 kHz by RFC 7587 regardless of the coded bandwidth. */
  readonly clockRate = 48000;
  /** PCM rate we hand the binding and receive from it. */
  readonly sampleRate = 48000;
  /** Mono. */
  readonly channels = 1 as const;
  /** 960 samples = 20 ms. */
  readonly samplesPerFrame = 960;
  /** Payloads the decoder rejected (each was concealed instead). */
  decodeErrors = 0;
  /** Frames concealed (lost packets plus rejected payloads). */
  concealedFrames = 0;
  /** Lost frames decoded from the next packet's in-band FEC data ({@link OpusCodec.decodeFec}). */
  fecFrames = 0;

  private native: NativeOpus | null;
  /** PCM staging for encode on a big-endian host (the binding takes little-endian PCM). */
  private readonly encBuf: Buffer;
  /** Buffer view over the last encoded source array's first frame, and which memory it covers. */
  private pcmView: Buffer | null = null;
  private viewOf: ArrayBufferLike | null = null;
  private viewAt = -1;
  /** Payload staging for decode plus one cached Buffer view per payload length. */
  private readonly decBacking: Buffer;
  private readonly decViews: (Buffer | undefined)[] = [];
  private readonly plcPacket: Buffer;
  private lastToc = -1;
  /** Our own libopus decoder (FEC-capable), or null when libopus does not load here. */
  private ffiDec: OpusFfiDecoder | null;

  /**
   * Prefer {@link createOpusCodec}, which loads the binding and returns `undefined` when it is unavailable.
   * @param ctor - the binding's constructor.
   * @param payloadType - negotiated RTP payload type.
   * @param options - encoder settings.
   */
  constructor(
    ctor: NativeOpusCtor,
    readonly payloadType: number,
    options: OpusCodecOptions = {},
  ) {
    this.native = new ctor(48000, 1);
    this.encBuf = Buffer.allocUnsafeSlow(this.samplesPerFrame * 2);
    this.decBacking = Buffer.allocUnsafeSlow(OPUS_MAX_PACKET_BYTES * 3);
    this.plcPacket = Buffer.alloc(1);
    const dec = options.ffiDecoder === false ? undefined : createOpusFfiDecoder();
    this.ffiDec = dec !== undefined && dec.ok ? dec.decoder : null;
    const n = this.native;
    n.applyEncoderCTL(OPUS_SET_APPLICATION, OPUS_APPLICATION_VOIP);
    n.applyEncoderCTL(OPUS_SET_SIGNAL, OPUS_SIGNAL_VOICE);
    const d = OPUS_DEFAULT_SETTINGS;
    this.applySettings({
      bitrate: options.bitrate ?? d.bitrate,
      complexity: options.complexity ?? d.complexity,
      fec: options.fec ?? d.fec,
      dtx: options.dtx ?? d.dtx,
      maxBandwidth: options.maxBandwidth ?? d.maxBandwidth,
      packetLossPercent: options.packetLossPercent ?? d.packetLossPercent,
      cbr: options.cbr ?? false,
    });
  }

  /** Whether lost frames can be rebuilt from in-band FEC (libopus loaded through koffi). */
  get canDecodeFec(): boolean {
    return this.ffiDec !== null;
  }

  /**
   * Change encoder settings on the fly (fields left out stay as they are), plus `cbr` (constant
   * bitrate, which a far end's `cbr=1` asks for). Takes effect from the next frame. Only ever
   * called on a change (settings, negotiation), never per frame.
   * @returns false for invalid settings (nothing changed) or a closed codec. Never throws.
   */
  applySettings(s: OpusSettings & { cbr?: boolean }): boolean {
    const n = this.native;
    const { cbr, ...rest } = s;
    if (n === null || !isValidOpusSettings(rest) || (cbr !== undefined && typeof cbr !== 'boolean')) return false;
    try {
      if (cbr !== undefined) n.applyEncoderCTL(OPUS_SET_VBR, cbr ? 0 : 1);
      if (s.packetLossPercent !== undefined) n.applyEncoderCTL(OPUS_SET_PACKET_LOSS_PERC, s.packetLossPercent);
      if (s.bitrate !== undefined) n.setBitrate(s.bitrate);
      if (s.complexity !== undefined) n.applyEncoderCTL(OPUS_SET_COMPLEXITY, s.complexity);
      if (s.fec !== undefined) n.applyEncoderCTL(OPUS_SET_INBAND_FEC, s.fec ? 1 : 0);
      if (s.dtx !== undefined) n.applyEncoderCTL(OPUS_SET_DTX, s.dtx ? 1 : 0);
      if (s.maxBandwidth !== undefined) n.applyEncoderCTL(OPUS_SET_MAX_BANDWIDTH, BANDWIDTH_CODES[s.maxBandwidth]);
      return true;
    } catch {
      return false;
    }
  }

  /** Encode 960 samples; see {@link AudioCodec.encode}. Returns 0 after {@link OpusCodec.close}. */
  encode(pcm: Int16Array, out: Buffer, outOffset: number): number {
    const native = this.native;
    if (native === null) return 0;
    const n = this.samplesPerFrame;
    if (pcm.length < n) throw new RangeError(`Opus encode needs ${n} samples, got ${pcm.length}`);
    let input: Buffer;
    if (LITTLE_ENDIAN) {
      // the binding reads the caller's samples in place through a Buffer view over them; the
      // view is made once per source array (a session always passes the same one)
      if (pcm.buffer !== this.viewOf || pcm.byteOffset !== this.viewAt) {
        this.viewOf = pcm.buffer;
        this.viewAt = pcm.byteOffset;
        this.pcmView = Buffer.from(pcm.buffer, pcm.byteOffset, n * 2);
      }
      input = this.pcmView!;
    } else {
      for (let i = 0; i < n; i++) this.encBuf.writeInt16LE(pcm[i]!, i * 2);
      input = this.encBuf;
    }
    const packet = native.encode(input); // the unavoidable allocation
    const len = packet.length;
    if (outOffset < 0 || out.length - outOffset < len) throw new RangeError('Opus encode: output buffer too small');
    out.set(packet, outOffset); // whole-array set: no view object, unlike a Buffer#copy of a range
    return len;
  }

  /**
   * Decode one packet; see {@link AudioCodec.decode}. Corrupt payloads are caught, counted in
   * {@link OpusCodec.decodeErrors} and concealed. A packet longer than 20 ms yields more than
   * 960 samples: size `out` for {@link OPUS_MAX_FRAME_SAMPLES} when the peer may send those.
   */
  decode(payload: Buffer, offset: number, length: number, out: Int16Array): number {
    const native = this.native;
    if (native === null) return this.silence(out);
    const len = Math.min(length, payload.length - offset);
    if (offset < 0 || len <= 0 || len > this.decBacking.length) {
      if (len > 0) this.decodeErrors++;
      return this.conceal(out);
    }
    stage(payload, offset, len, this.decBacking);
    let view = this.decViews[len];
    if (view === undefined) {
      // one view per distinct length, created once: steady state allocates nothing here
      view = this.decBacking.subarray(0, len);
      this.decViews[len] = view;
    }
    const ffi = this.ffiDec;
    if (ffi !== null) {
      const got = ffi.decode(view, out, Math.min(out.length, OPUS_MAX_FRAME_SAMPLES), false);
      if (got < 0) {
        this.decodeErrors++;
        return this.conceal(out);
      }
      this.lastToc = this.decBacking[0]!;
      return got;
    }
    let pcm: Buffer;
    try {
      pcm = native.decode(view);
    } catch {
      this.decodeErrors++;
      return this.conceal(out);
    }
    this.lastToc = this.decBacking[0]!;
    return copyPcm(pcm, out);
  }

  /**
   * Rebuild a lost 20 ms frame from the in-band FEC data of the packet that followed it
   * (`payload`, not consumed: decode it normally on its own turn). Without FEC data in that
   * packet libopus conceals instead; without libopus this is {@link OpusCodec.conceal}.
   * @returns samples written.
   */
  decodeFec(payload: Buffer, offset: number, length: number, out: Int16Array): number {
    const ffi = this.ffiDec;
    const len = Math.min(length, payload.length - offset);
    if (ffi === null || this.native === null || this.lastToc < 0 || offset < 0 || len <= 0 || len > this.decBacking.length) return this.conceal(out);
    stage(payload, offset, len, this.decBacking);
    let view = this.decViews[len];
    if (view === undefined) {
      view = this.decBacking.subarray(0, len);
      this.decViews[len] = view;
    }
    const frame = Math.min(this.samplesPerFrame, out.length);
    const got = ffi.decode(view, out, frame, true);
    if (got < 0) return this.conceal(out);
    this.fecFrames++;
    return got;
  }

  /** Run libopus PLC for one 20 ms frame (see the class notes). */
  conceal(out: Int16Array): number {
    this.concealedFrames++;
    const native = this.native;
    if (native === null || this.lastToc < 0) return this.silence(out);
    const ffi = this.ffiDec;
    if (ffi !== null) {
      const got = ffi.decode(null, out, Math.min(this.samplesPerFrame, out.length), false);
      return got < 0 ? this.silence(out) : got;
    }
    this.plcPacket[0] = plcToc(this.lastToc);
    try {
      return copyPcm(native.decode(this.plcPacket), out);
    } catch {
      return this.silence(out);
    }
  }

  private silence(out: Int16Array): number {
    const n = Math.min(this.samplesPerFrame, out.length);
    out.fill(0, 0, n);
    return n;
  }

  /** Reset encoder and decoder state (OPUS_RESET_STATE) and forget the concealment mode. */
  reset(): void {
    const native = this.native;
    if (native === null) return;
    native.applyEncoderCTL(OPUS_RESET_STATE, 0);
    native.applyDecoderCTL(OPUS_RESET_STATE, 0);
    if (this.ffiDec !== null) {
      // libopus has no reset through our binding's surface: a fresh decoder is the same thing
      this.ffiDec.close();
      const dec = createOpusFfiDecoder();
      this.ffiDec = dec.ok ? dec.decoder : null;
    }
    this.lastToc = -1;
  }

  /**
   * Drop the native object. The binding has no explicit destroy; its encoder and decoder are
   * freed when the garbage collector finalizes the wrapper, so dropping the reference is all we can do.
   */
  close(): void {
    this.native = null;
    this.ffiDec?.close();
    this.ffiDec = null;
  }
}

/**
 * A TOC byte (RFC 6716 §3.1) for one 20 ms frame in the same mode and bandwidth as `toc`, frame
 * count code 0: the decoder conceals exactly 20 ms when the frame that follows is empty.
 */
function plcToc(toc: number): number {
  const config = toc >> 3;
  let c20: number;
  if (config < 12) c20 = (config & ~3) | 1; // SILK-only: 10/20/40/60 ms per bandwidth
  else if (config < 16) c20 = (config & ~1) | 1; // hybrid: 10/20 ms per bandwidth
  else c20 = (config & ~3) | 3; // CELT-only: 2.5/5/10/20 ms per bandwidth
  return (c20 << 3) | (toc & 0x04);
}

/**
 * Copies `len` bytes of `src` from `from` to the start of `dst`. A loop: `Buffer#copy` of a
 * sub-range makes a view object per call (Node 20), and payloads are short.
 */
function stage(src: Buffer, from: number, len: number, dst: Buffer): void {
  for (let i = 0; i < len; i++) dst[i] = src[from + i]!;
}

/** Copy little-endian PCM16 bytes into an Int16Array; typed-array stores wrap to 16 bits. */
function copyPcm(pcm: Buffer, out: Int16Array): number {
  const n = Math.min(pcm.length >> 1, out.length);
  for (let i = 0, b = 0; i < n; i++, b += 2) out[i] = pcm[b]! | (pcm[b + 1]! << 8);
  return n;
}

/**
 * Create an Opus codec, loading the native binding on first use.
 * @returns `undefined` when the binding cannot be loaded or the encoder cannot be created;
 *   {@link opusLoadError} has the reason.
 */
export function createOpusCodec(payloadType = 111, options?: OpusCodecOptions): OpusCodec | undefined {
  if (!loadOpus()) return undefined;
  try {
    return new OpusCodec(nativeCtor!, payloadType, options);
  } catch (err) {
    loadError = err instanceof Error ? err.message : String(err);
    return undefined;
  }
}
