/**
 * GSM 06.10 full rate as a line codec, through libgsm (`ffi/gsm`): 8 kHz, one 33-octet frame
 * per 20 ms packet, static payload type 3 (RFC 3551 §4.5.8). Lost packets are concealed by
 * repeating the last good frame with a fade, as for G.711 (libgsm has no concealment of its own).
 * @module
 */
import type { AudioCodec } from './codecs.js';
import { FrameRepeatConcealer } from './g711.js';
import { createGsmChannel, GSM_FRAME_OCTETS, GSM_FRAME_SAMPLES, type GsmChannel } from '../ffi/gsm.js';

/**
 * GSM 06.10 at 8 kHz: 160 samples ↔ 33 octets per 20 ms. Holds native state: `close()` frees
 * it. Per-packet work goes through scratch arrays of this object, so it allocates nothing.
 */
export class GsmCodec implements AudioCodec {
  /** Encoding name as in the rtpmap. */
  readonly name = 'GSM' as const;
  /** RTP clock: 8000 Hz. */
  readonly clockRate = 8000;
  /** PCM rate: 8000 Hz. */
  readonly sampleRate = 8000;
  /** Mono. */
  readonly channels = 1 as const;
  /** 160 samples = 20 ms = one GSM frame. */
  readonly samplesPerFrame = GSM_FRAME_SAMPLES;
  /** Frames concealed so far (lost, or rejected by the decoder). */
  concealedFrames = 0;
  /** Frames libgsm refused (wrong length or no 0xD signature). */
  badFrames = 0;
  private channel: GsmChannel;
  private readonly pcm = new Int16Array(GSM_FRAME_SAMPLES);
  private readonly frame = new Uint8Array(GSM_FRAME_OCTETS);
  private readonly plc = new FrameRepeatConcealer(GSM_FRAME_SAMPLES);

  /**
   * @param channel - the libgsm channel (see {@link createGsmCodec})
   * @param payloadType - RTP payload type, static 3 by default.
   */
  constructor(
    channel: GsmChannel,
    readonly payloadType: number = 3,
  ) {
    this.channel = channel;
  }

  /** Encode one 160-sample frame to 33 octets; see {@link AudioCodec.encode}. */
  encode(pcm: Int16Array, out: Buffer, outOffset: number): number {
    if (pcm.length < GSM_FRAME_SAMPLES) throw new RangeError(`GSM encode needs ${GSM_FRAME_SAMPLES} samples, got ${pcm.length}`);
    if (outOffset < 0 || out.length - outOffset < GSM_FRAME_OCTETS) throw new RangeError('GSM encode: output buffer too small');
    const scratch = this.pcm;
    for (let i = 0; i < GSM_FRAME_SAMPLES; i++) scratch[i] = pcm[i]!;
    if (this.channel.encode(scratch, this.frame) !== GSM_FRAME_OCTETS) return 0;
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
    if (!this.channel.decode(frame, this.pcm)) {
      this.badFrames++;
      return this.conceal(out);
    }
    const n = Math.min(GSM_FRAME_SAMPLES, out.length);
    for (let i = 0; i < n; i++) out[i] = this.pcm[i]!;
    this.plc.remember(out, 0, n);
    return n;
  }

  /** Frame-repeat concealment of one lost frame. */
  conceal(out: Int16Array): number {
    this.concealedFrames++;
    return this.plc.conceal(out);
  }

  /** New stream: fresh libgsm states (it has no reset call) and no concealment history. */
  reset(): void {
    this.plc.reset();
    const fresh = createGsmChannel();
    if (!fresh.ok) return; // keep the old state rather than lose the codec
    this.channel.close();
    this.channel = fresh.channel;
  }

  /** Frees the native states. */
  close(): void {
    this.channel.close();
    this.plc.reset();
  }
}

/** A GSM codec, or `undefined` when libgsm cannot be loaded (the caller reports that). */
export function createGsmCodec(payloadType = 3): GsmCodec | undefined {
  const made = createGsmChannel();
  return made.ok ? new GsmCodec(made.channel, payloadType) : undefined;
}
