/**
 * GSM 06.10 full rate as a line codec, through libgsm (`ffi/gsm`): 8 kHz, one 33-octet frame
 * per 20 ms packet, static payload type 3 (RFC 3551 §4.5.8). Lost packets are concealed by
 * repeating the last good frame with a fade, as for G.711 (libgsm has no concealment of its own).
 * @module
 */
import type { AudioCodec } from './codecs.js';
import { NativeFrameCodec } from './nativeFrameCodec.js';
import { createGsmChannel, GSM_FRAME_OCTETS, type GsmChannel } from '../ffi/gsm.js';

/** A fresh libgsm channel, or `undefined` when the library fails. */
function freshGsm(): GsmChannel | undefined {
  const made = createGsmChannel();
  return made.ok ? made.channel : undefined;
}

/**
 * GSM 06.10 at 8 kHz: 160 samples ↔ 33 octets per 20 ms. Holds native state: `close()` frees
 * it. Per-packet work goes through scratch arrays of this object, so it allocates nothing.
 */
export class GsmCodec extends NativeFrameCodec<GsmChannel> implements AudioCodec {
  /** Encoding name as in the rtpmap. */
  readonly name = 'GSM' as const;
  /** Frames libgsm refused (wrong length or no 0xD signature). */
  badFrames = 0;

  /**
   * @param channel - the libgsm channel (see {@link createGsmCodec})
   * @param payloadType - RTP payload type, static 3 by default.
   */
  constructor(
    channel: GsmChannel,
    readonly payloadType: number = 3,
  ) {
    super(channel, GSM_FRAME_OCTETS, freshGsm);
  }

  /** Encode one 160-sample frame to 33 octets; see {@link AudioCodec.encode}. */
  encode(pcm: Int16Array, out: Buffer, outOffset: number): number {
    if (outOffset < 0 || out.length - outOffset < GSM_FRAME_OCTETS) throw new RangeError('GSM encode: output buffer too small');
    if (this.coder.encode(this.takePcm(pcm, 'GSM'), this.frame) !== GSM_FRAME_OCTETS) return 0;
    out.set(this.frame, outOffset);
    return GSM_FRAME_OCTETS;
  }

  /**
   * Decode one 33-octet frame (a longer payload's first frame). Never throws: anything libgsm
   * cannot decode is counted and concealed.
   */
  decode(payload: Buffer, offset: number, length: number, out: Int16Array): number {
    const avail = offset < 0 ? 0 : Math.min(length, payload.length - offset);
    if (avail < GSM_FRAME_OCTETS) {
      if (avail > 0) this.badFrames++;
      return this.conceal(out);
    }
    const frame = this.frame;
    for (let i = 0; i < GSM_FRAME_OCTETS; i++) frame[i] = payload[offset + i]!;
    if (!this.coder.decode(frame, this.pcm)) {
      this.badFrames++;
      return this.conceal(out);
    }
    return this.decoded(this.pcm.length, out);
  }
}

/** A GSM codec, or `undefined` when libgsm cannot be loaded (the caller reports that). */
export function createGsmCodec(payloadType = 3): GsmCodec | undefined {
  const channel = freshGsm();
  return channel === undefined ? undefined : new GsmCodec(channel, payloadType);
}
