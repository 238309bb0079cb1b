/**
 * G.726 at 32 kbit/s as a line codec, through libspandsp (`ffi/spandsp`): 8 kHz, four bits a
 * sample, so 80 octets per 20 ms frame, on a dynamic payload type named `G726-32/8000`
 * (RFC 3551 §4.5.4). The code words are packed as RFC 3551 says, first one in the low nibble
 * ("little-endian"); the big-endian packing of ITU-T I.366.2 is another SDP name,
 * `AAL2-G726-32` (RFC 3551 §4.5.4's note), not offered here. Lost packets are concealed by
 * repeating the last good frame with a fade, as for G.711; an ADPCM decoder fed nothing keeps
 * its predictor, which re-converges within a few ms of the next packet.
 * @module
 */
import type { AudioCodec } from './codecs.js';
import { NativeFrameCodec } from './nativeFrameCodec.js';
import { createSpandspG726, type SpandspG726 } from '../ffi/spandsp.js';

/** Octets of one 20 ms frame at 32 kbit/s. */
const FRAME_OCTETS = 80;

/** A fresh libspandsp coder pair, or `undefined` when the library fails. */
function freshG726(): SpandspG726 | undefined {
  const made = createSpandspG726();
  return made.ok ? made.coder : undefined;
}

/**
 * G.726-32 at 8 kHz: 160 samples ↔ 80 octets per 20 ms. Holds native state: `close()` frees it.
 * Per-packet work goes through scratch arrays of this object, so it allocates nothing.
 */
export class G726Codec extends NativeFrameCodec<SpandspG726> implements AudioCodec {
  /** Encoding name as in the rtpmap. */
  readonly name = 'G726-32' as const;

  /**
   * @param coder - the libspandsp coder pair (see {@link createG726Codec})
   * @param payloadType - the negotiated dynamic RTP payload type
   */
  constructor(
    coder: SpandspG726,
    readonly payloadType: number,
  ) {
    super(coder, FRAME_OCTETS, freshG726);
  }

  /** Encode one 160-sample frame to 80 octets; see {@link AudioCodec.encode}. */
  encode(pcm: Int16Array, out: Buffer, outOffset: number): number {
    if (outOffset < 0 || out.length - outOffset < FRAME_OCTETS) throw new RangeError('G.726 encode: output buffer too small');
    const n = this.coder.encode(this.takePcm(pcm, 'G.726'), this.samplesPerFrame, this.frame);
    for (let i = 0; i < n; i++) out[outOffset + i] = this.frame[i]!;
    return n;
  }

  /**
   * Decode a payload of any whole number of octets up to one frame (two samples each). Never
   * throws: an empty payload is concealed, and so is every payload once the codec is closed.
   */
  decode(payload: Buffer, offset: number, length: number, out: Int16Array): number {
    const avail = offset < 0 ? 0 : Math.min(length, payload.length - offset, FRAME_OCTETS, out.length >> 1);
    if (avail <= 0) return this.conceal(out);
    const frame = this.frame;
    for (let i = 0; i < avail; i++) frame[i] = payload[offset + i]!;
    const n = this.coder.decode(frame, avail, this.pcm);
    if (n <= 0) return this.conceal(out); // a closed coder
    return this.decoded(n, out);
  }
}

/** A G.726-32 codec, or `undefined` when libspandsp cannot be loaded (the caller reports that). */
export function createG726Codec(payloadType: number): G726Codec | undefined {
  const coder = freshG726();
  return coder === undefined ? undefined : new G726Codec(coder, payloadType);
}
