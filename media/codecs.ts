/**
 * The audio codec contract every line uses, the static codec table used for SDP, and the
 * factory. A codec turns one 20 ms frame of 16-bit PCM into an RTP payload and back, writing
 * into caller-owned memory so the per-packet path allocates nothing (Opus has one documented
 * exception, see `OpusCodec` in `media/opus`).
 * @module
 */
import { G711Codec } from './g711.js';
import { G722Codec } from './g722.js';
import { createG729Codec, type G729Options } from './g729.js';
import { bcg729Available } from '../ffi/bcg729.js';
import { createGsmCodec } from './gsm.js';
import { gsmAvailable } from '../ffi/gsm.js';
import { createG726Codec } from './g726.js';
import { spandspG726Available } from '../ffi/spandsp.js';
import { createOpusCodec, opusLoadError, type OpusCodecOptions } from './opus.js';

/** The codecs LineScape can put on the wire. Names match the SDP rtpmap encoding names. */
export type CodecName = 'PCMU' | 'PCMA' | 'G722' | 'G729' | 'GSM' | 'opus' | 'G726-32';

/**
 * One codec instance per RTP stream direction pair: it owns the encoder and decoder state
 * (Opus is stateful; G.711 only keeps concealment history), so never share one between lines.
 */
export interface AudioCodec {
  /** Encoding name as in the SDP rtpmap. */
  readonly name: CodecName;
  /** RTP payload type this instance was created for (static 0/8, or the negotiated dynamic one). */
  readonly payloadType: number;
  /**
   * RTP timestamp clock in Hz: 8000 for G.711 and G.722 (RFC 3551 keeps G.722 at 8000 although
   * it codes 16 kHz audio), 48000 for Opus (RFC 7587 always uses 48 kHz).
   */
  readonly clockRate: number;
  /** Rate of the PCM this codec consumes and produces: 8000 for G.711, 16000 for G.722, 48000 for Opus. */
  readonly sampleRate: number;
  /** PCM channels; lines are mono even though the Opus rtpmap says `/2` (RFC 7587 §7). */
  readonly channels: 1;
  /** Samples per 20 ms frame at {@link AudioCodec.sampleRate}: 160 for G.711, 320 for G.722, 960 for Opus. */
  readonly samplesPerFrame: number;
  /**
   * Encode the first `samplesPerFrame` samples of `pcm` into `out` at `outOffset`.
   * @returns payload bytes written.
   * @throws RangeError when `pcm` is shorter than a frame or `out` has too little room: both are
   *   programming errors, never caused by network input.
   */
  encode(pcm: Int16Array, out: Buffer, outOffset: number): number;
  /**
   * Decode `length` payload bytes at `offset` into `out`. Never throws on bad payloads: a
   * payload that cannot be decoded is concealed instead and counted.
   * @returns samples written (at most `out.length`).
   */
  decode(payload: Buffer, offset: number, length: number, out: Int16Array): number;
  /**
   * Packet loss concealment: synthesize one frame in place of a packet that never came.
   * @returns samples written (`samplesPerFrame`, or fewer when `out` is shorter).
   */
  conceal(out: Int16Array): number;
  /**
   * Rebuild a lost frame from redundancy carried in the packet that followed it (Opus in-band
   * FEC), leaving that packet to be decoded normally on its own turn. Absent: the codec has none.
   * @returns samples written.
   */
  decodeFec?(payload: Buffer, offset: number, length: number, out: Int16Array): number;
  /** Forget all history (new call, SSRC change, re-INVITE to a new stream). */
  reset(): void;
  /**
   * True while the codec itself makes comfort noise for the far end's silence (G.729 Annex B
   * after a SID frame): the session then keeps calling {@link AudioCodec.conceal} through the
   * gap instead of fading to silence. Absent means never.
   */
  readonly comfortNoise?: boolean;
  /** Release native resources; the instance must not be used afterwards. */
  close(): void;
}

/** Static facts about a codec: what the SDP offer/answer and the RTP session need to know. */
export interface CodecInfo {
  /** Encoding name. */
  readonly name: CodecName;
  /** Static payload type (RFC 3551) or the dynamic one LineScape offers by default. */
  readonly defaultPayloadType: number;
  /** RTP clock rate in Hz. */
  readonly clockRate: number;
  /** PCM rate the codec consumes and produces. */
  readonly sampleRate: number;
  /** Channel count as written in the rtpmap (2 for Opus by RFC 7587, though we send mono). */
  readonly sdpChannels: number;
  /** Frame length in ms (LineScape always packetizes 20 ms). */
  readonly frameMs: number;
  /** Samples per frame at `sampleRate`. */
  readonly samplesPerFrame: number;
  /** RTP timestamp increment per frame. */
  readonly timestampIncrement: number;
  /** Largest payload one frame can produce, to size send buffers. */
  readonly maxPayloadBytes: number;
  /** The `a=rtpmap` value after the payload type, e.g. `opus/48000/2`. */
  readonly rtpmap: string;
  /** The `a=fmtp` value after the payload type, when the codec needs one. */
  readonly fmtp?: string;
}

/**
 * The codec table. Opus advertises `minptime=10;useinbandfec=1` as RFC 7587 §6.1 recommends for
 * interoperability with WebRTC peers; 111 is the dynamic payload type browsers conventionally use.
 */
export const CODEC_INFO: Readonly<Record<CodecName, CodecInfo>> = Object.freeze({
  PCMU: Object.freeze({
    name: 'PCMU',
    defaultPayloadType: 0,
    clockRate: 8000,
    sampleRate: 8000,
    sdpChannels: 1,
    frameMs: 20,
    samplesPerFrame: 160,
    timestampIncrement: 160,
    maxPayloadBytes: 160,
    rtpmap: 'PCMU/8000',
  }),
  PCMA: Object.freeze({
    name: 'PCMA',
    defaultPayloadType: 8,
    clockRate: 8000,
    sampleRate: 8000,
    sdpChannels: 1,
    frameMs: 20,
    samplesPerFrame: 160,
    timestampIncrement: 160,
    maxPayloadBytes: 160,
    rtpmap: 'PCMA/8000',
  }),
  G722: Object.freeze({
    name: 'G722',
    defaultPayloadType: 9,
    clockRate: 8000,
    sampleRate: 16000,
    sdpChannels: 1,
    frameMs: 20,
    samplesPerFrame: 320,
    timestampIncrement: 160,
    maxPayloadBytes: 160,
    rtpmap: 'G722/8000',
  }),
  G729: Object.freeze({
    name: 'G729',
    defaultPayloadType: 18,
    clockRate: 8000,
    sampleRate: 8000,
    sdpChannels: 1,
    frameMs: 20,
    samplesPerFrame: 160,
    timestampIncrement: 160,
    maxPayloadBytes: 20,
    rtpmap: 'G729/8000',
  }),
  GSM: Object.freeze({
    name: 'GSM',
    defaultPayloadType: 3,
    clockRate: 8000,
    sampleRate: 8000,
    sdpChannels: 1,
    frameMs: 20,
    samplesPerFrame: 160,
    timestampIncrement: 160,
    maxPayloadBytes: 33,
    rtpmap: 'GSM/8000',
  }),
  'G726-32': Object.freeze({
    name: 'G726-32',
    defaultPayloadType: 112,
    clockRate: 8000,
    sampleRate: 8000,
    sdpChannels: 1,
    frameMs: 20,
    samplesPerFrame: 160,
    timestampIncrement: 160,
    maxPayloadBytes: 80,
    rtpmap: 'G726-32/8000',
  }),
  opus: Object.freeze({
    name: 'opus',
    defaultPayloadType: 111,
    clockRate: 48000,
    sampleRate: 48000,
    sdpChannels: 2,
    frameMs: 20,
    samplesPerFrame: 960,
    timestampIncrement: 960,
    maxPayloadBytes: 1275,
    rtpmap: 'opus/48000/2',
    fmtp: 'minptime=10;useinbandfec=1',
  }),
});

/** SDP facts for RFC 4733 telephone-event, which rides next to the audio codec. */
export interface TelephoneEventInfo {
  /** Dynamic payload type LineScape offers by default. */
  readonly defaultPayloadType: number;
  /** RTP clock rate; it must equal the audio codec's clock (RFC 4733 §2.1). */
  readonly clockRate: number;
  /** The `a=rtpmap` value after the payload type. */
  readonly rtpmap: string;
  /** The `a=fmtp` value: the DTMF events 0-15 plus flash (16). */
  readonly fmtp: string;
}

/**
 * telephone-event info for a given audio clock: `telephone-event/8000` next to G.711,
 * `telephone-event/48000` next to Opus, because events share the audio stream's timestamp clock.
 */
export function telephoneEventInfo(clockRate = 8000): TelephoneEventInfo {
  return {
    defaultPayloadType: clockRate === 8000 ? 101 : 110,
    clockRate,
    rtpmap: `telephone-event/${clockRate}`,
    fmtp: '0-16',
  };
}

/** Options for {@link createCodec}. */
export interface CodecOptions {
  /** Opus encoder settings. */
  readonly opus?: OpusCodecOptions;
  /** G.729 encoder settings (Annex B on transmit). */
  readonly g729?: G729Options;
}

/** True when `name` is one of the {@link CodecName}s (exact spelling). */
export function isCodecName(name: string): name is CodecName {
  return name === 'PCMU' || name === 'PCMA' || name === 'G722' || name === 'G729' || name === 'GSM' || name === 'opus' || name === 'G726-32';
}

/**
 * Whether a codec can be created on this machine: the ones in TypeScript always, G.729 when
 * libbcg729 loads, GSM when libgsm loads (about 10 ms, once), G.726-32 when libspandsp does, Opus unless its binding already
 * failed to load: loading it takes ~90 ms of blocked event loop, too long to spend on a call
 * that may never use Opus, so it stays lazy. Lines leave the others out of their SDP, so a
 * missing library narrows the offer instead of failing calls.
 */
export function isCodecAvailable(name: CodecName): boolean {
  switch (name) {
    case 'G729':
      return bcg729Available();
    case 'GSM':
      return gsmAvailable();
    case 'G726-32':
      return spandspG726Available();
    case 'opus':
      return opusLoadError() === undefined;
    default:
      return isCodecName(name);
  }
}

/**
 * Find a codec by the encoding name and clock of an SDP rtpmap (`PCMU/8000`, `OPUS/48000/2`);
 * encoding names are case-insensitive in SDP (RFC 4855 §3).
 */
export function findCodecByRtpmap(rtpmap: string): CodecInfo | undefined {
  const parts = rtpmap.trim().split('/');
  const enc = (parts[0] ?? '').toLowerCase();
  const rate = Number(parts[1]);
  for (const info of Object.values(CODEC_INFO)) {
    if (info.name.toLowerCase() === enc && info.clockRate === rate) return info;
  }
  return undefined;
}

/**
 * Create a codec instance. Returns `undefined` only when the codec's native library cannot be
 * loaded (Opus without a working `@discordjs/opus` binary, G.729 without libbcg729, GSM without libgsm,
 * G.726-32 without libspandsp); the caller maps that to a return
 * code instead of crashing the engine.
 * @param payloadType - negotiated payload type; defaults to the table's.
 */
export function createCodec(name: CodecName, payloadType?: number, options?: CodecOptions): AudioCodec | undefined {
  const pt = payloadType ?? CODEC_INFO[name].defaultPayloadType;
  switch (name) {
    case 'PCMU':
      return new G711Codec('PCMU', pt);
    case 'PCMA':
      return new G711Codec('PCMA', pt);
    case 'G722':
      return new G722Codec(pt);
    case 'G729':
      return createG729Codec(pt, options?.g729);
    case 'GSM':
      return createGsmCodec(pt);
    case 'G726-32':
      return createG726Codec(pt);
    case 'opus':
      return createOpusCodec(pt, options?.opus);
    default:
      return undefined;
  }
}
