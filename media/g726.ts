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
import { FrameRepeatConcealer } from './g711.js';
import { createSpandspG726, type SpandspG726 } from '../ffi/spandsp.js';

/** Samples in one 20 ms frame at 8 kHz. */
const FRAME_SAMPLES = 160;
/** Octets of one 20 ms frame at 32 kbit/s. */
const FRAME_OCTETS = 80;

/**
 * G.726-32 at 8 kHz: 160 samples ↔ 80 octets per 20 ms. Holds native state: `close()` frees it.
 * Per-packet work goes through scratch arrays of this object, so it allocates nothing.
 */
export class G726Codec implements AudioCodec {
  /** Encoding name as in the rtpmap. */
  readonly name = 'G726-32' as const;
  /** RTP clock: 8000 Hz. */
  readonly clockRate = 8000;
  /** PCM rate: 8000 Hz. */
  readonly sampleRate = 8000;
  /** Mono. */
  readonly channels = 1 as const;
  /** 160 samples = 20 ms. */
  readonly samplesPerFrame = FRAME_SAMPLES;
  /** Frames concealed so far (lost, or too short to decode). */
  concealedFrames = 0;
  private coder: SpandspG726;
  private readonly pcm = new Int16Array(FRAME_SAMPLES);
  private readonly frame = new Uint8Array(FRAME_OCTETS);
  private readonly plc = new FrameRepeatConcealer(FRAME_SAMPLES);

  /**
   * @param coder - the libspandsp coder pair (see {@link createG726Codec})
   * @param payloadType - the negotiated dynamic RTP payload type
   */
  constructor(
    coder: SpandspG726,
    readonly payloadType: number,
  ) {
    this.coder = coder;
  }

  /** Encode one 160-sample frame to 80 octets; see {@link AudioCodec.encode}. */
  encode(pcm: Int16Array, out: Buffer, outOffset: number): number {
    if (pcm.length < FRAME_SAMPLES) throw new RangeError(`G.726 encode needs ${FRAME_SAMPLES} samples, got ${pcm.length}`);
    if (outOffset < 0 || out.length - outOffset < FRAME_OCTETS) throw new RangeError('G.726 encode: output buffer too small');
    // koffi hands C a typed array from its start: a view into a larger one would be read from 0
    const scratch = this.pcm;
    for (let i = 0; i < FRAME_SAMPLES; i++) scratch[i] = pcm[i]!;
    const n = this.coder.encode(scratch, FRAME_SAMPLES, this.frame);
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
    for (let i = 0; i < n; i++) out[i] = this.pcm[i]!;
    this.plc.remember(out, 0, n);
    return n;
  }

  /** Frame-repeat concealment of one lost frame. */
  conceal(out: Int16Array): number {
    this.concealedFrames++;
    return this.plc.conceal(out);
  }

  /** New stream: fresh ADPCM states (libspandsp has no reset call) and no concealment history. */
  reset(): void {
    this.plc.reset();
    const fresh = createSpandspG726();
    if (!fresh.ok) return; // keep the old state rather than lose the codec
    this.coder.close();
    this.coder = fresh.coder;
  }

  /** Frees the native states. */
  close(): void {
    this.coder.close();
    this.plc.reset();
  }
}

/** A G.726-32 codec, or `undefined` when libspandsp cannot be loaded (the caller reports that). */
export function createG726Codec(payloadType: number): G726Codec | undefined {
  const made = createSpandspG726();
  return made.ok ? new G726Codec(made.coder, payloadType) : undefined;
}
