/**
 * G.729 / G.729A with Annex B as a line codec, through libbcg729 (`ffi/bcg729`). RFC 3551 §4.5.6
 * framing: a 20 ms packet carries two 10 ms speech frames of 10 octets; with Annex B a packet may
 * end in one 2-octet SID frame, which starts comfort noise, and nothing at all is sent while the
 * talker is silent.
 *
 * We decode every G.729 form (G.729, G.729A and Annex B SID frames all come out of the one
 * decoder). Our encoder runs without VAD unless {@link G729Options.annexB} asks for it, so a far
 * end that wrote `annexb=no` is never sent a SID frame.
 * @module
 */
import type { AudioCodec } from './codecs.js';
import {
  Bcg729Channel,
  createBcg729Channel,
  G729_FRAME_SAMPLES,
  G729_SID_OCTETS,
  G729_SPEECH_OCTETS,
} from '../ffi/bcg729.js';

/** G.729 encoder settings. */
export interface G729Options {
  /** Annex B on transmit: VAD, SID frames and silence gaps (default false: a steady stream). */
  readonly annexB?: boolean;
}

/** Samples per 20 ms packet. */
const FRAME = 160;

/**
 * G.729 at 8 kHz: 160 samples ↔ 20 octets (two frames) per 20 ms packet. Holds native state:
 * `close()` frees it. Per-packet work copies through scratch arrays of this object, so it
 * allocates nothing.
 */
export class G729Codec implements AudioCodec {
  /** Encoding name as in the rtpmap. */
  readonly name = 'G729' as const;
  /** RTP clock: 8000 Hz. */
  readonly clockRate = 8000;
  /** PCM rate: 8000 Hz. */
  readonly sampleRate = 8000;
  /** Mono. */
  readonly channels = 1 as const;
  /** 160 samples = 20 ms = two G.729 frames. */
  readonly samplesPerFrame = FRAME;
  /** Frames concealed so far. */
  concealedFrames = 0;
  /** SID frames received (Annex B comfort-noise updates). */
  sidFrames = 0;
  /** Payloads whose length is no G.729 framing (not 10·n or 10·n + 2 octets). */
  malformedPayloads = 0;
  private channel: Bcg729Channel;
  private readonly pcm80 = new Int16Array(G729_FRAME_SAMPLES);
  private readonly bits = new Uint8Array(G729_SPEECH_OCTETS);
  private readonly bits2 = new Uint8Array(G729_SPEECH_OCTETS);
  private vad: boolean;
  private inCn = false;

  /** True after a SID frame until the next speech frame: the gap is comfort noise. */
  get comfortNoise(): boolean {
    return this.inCn;
  }

  /**
   * @param channel - the libbcg729 channel (see {@link createG729Codec})
   * @param payloadType - RTP payload type, static 18 by default.
   * @param options - encoder settings.
   */
  constructor(
    channel: Bcg729Channel,
    readonly payloadType: number = 18,
    options: G729Options = {},
  ) {
    this.channel = channel;
    this.vad = options.annexB === true;
  }

  /**
   * Encode 160 samples as two frames. Without VAD that is always 20 octets. With VAD a SID frame
   * may only come last (RFC 3551), so a SID followed by speech in one packet keeps the SID and
   * drops that 10 ms of onset, and a packet of two silent frames is empty (nothing is sent).
   */
  encode(pcm: Int16Array, out: Buffer, outOffset: number): number {
    if (pcm.length < FRAME) throw new RangeError(`G.729 encode needs ${FRAME} samples, got ${pcm.length}`);
    if (outOffset < 0 || out.length - outOffset < 2 * G729_SPEECH_OCTETS) throw new RangeError('G.729 encode: output buffer too small');
    const ch = this.channel;
    const scratch = this.pcm80;
    for (let i = 0; i < G729_FRAME_SAMPLES; i++) scratch[i] = pcm[i]!;
    const n1 = ch.encode(scratch, this.bits);
    for (let i = 0; i < G729_FRAME_SAMPLES; i++) scratch[i] = pcm[G729_FRAME_SAMPLES + i]!;
    const n2 = ch.encode(scratch, this.bits2);
    if (!this.vad || (n1 === G729_SPEECH_OCTETS && n2 === G729_SPEECH_OCTETS)) {
      out.set(this.bits, outOffset);
      out.set(this.bits2, outOffset + G729_SPEECH_OCTETS);
      return 2 * G729_SPEECH_OCTETS;
    }
    let len: number;
    if (n1 === G729_SPEECH_OCTETS) {
      out.set(this.bits, outOffset);
      len = G729_SPEECH_OCTETS;
      if (n2 === G729_SID_OCTETS) {
        out[outOffset + len] = this.bits2[0]!;
        out[outOffset + len + 1] = this.bits2[1]!;
        len += G729_SID_OCTETS;
      }
      return len;
    }
    const sid = n1 === G729_SID_OCTETS ? this.bits : n2 === G729_SID_OCTETS ? this.bits2 : null;
    if (sid === null) return 0;
    out[outOffset] = sid[0]!;
    out[outOffset + 1] = sid[1]!;
    return G729_SID_OCTETS;
  }

  /**
   * Decode every 10-octet speech frame and a trailing 2-octet SID frame (as many as fit in
   * `out`). A packet that fills less than 20 ms after a SID is topped up with comfort noise, so
   * the far end's silence sounds like its room, not like a drop-out. Never throws: a payload of
   * no G.729 length decodes its whole frames and counts as malformed; one with none is concealed.
   */
  decode(payload: Buffer, offset: number, length: number, out: Int16Array): number {
    const avail = offset < 0 ? 0 : Math.min(length, payload.length - offset);
    const rest = avail % G729_SPEECH_OCTETS;
    if (avail > 0 && rest !== 0 && rest !== G729_SID_OCTETS) this.malformedPayloads++;
    const speech = Math.floor(avail / G729_SPEECH_OCTETS);
    const hasSid = rest === G729_SID_OCTETS;
    const ch = this.channel;
    const scratch = this.pcm80;
    const bits = this.bits;
    let o = 0;
    for (let f = 0; f < speech && o + G729_FRAME_SAMPLES <= out.length; f++) {
      const at = offset + f * G729_SPEECH_OCTETS;
      for (let i = 0; i < G729_SPEECH_OCTETS; i++) bits[i] = payload[at + i]!;
      ch.decode(bits, G729_SPEECH_OCTETS, scratch);
      for (let i = 0; i < G729_FRAME_SAMPLES; i++) out[o + i] = scratch[i]!;
      o += G729_FRAME_SAMPLES;
      this.inCn = false;
    }
    if (hasSid && o + G729_FRAME_SAMPLES <= out.length) {
      const at = offset + speech * G729_SPEECH_OCTETS;
      bits[0] = payload[at]!;
      bits[1] = payload[at + 1]!;
      ch.decode(bits, G729_SID_OCTETS, scratch);
      for (let i = 0; i < G729_FRAME_SAMPLES; i++) out[o + i] = scratch[i]!;
      o += G729_FRAME_SAMPLES;
      this.sidFrames++;
      this.inCn = true;
      // comfort noise for the rest of the packet's 20 ms
      while (o + G729_FRAME_SAMPLES <= Math.min(FRAME, out.length)) {
        ch.decode(null, 0, scratch);
        for (let i = 0; i < G729_FRAME_SAMPLES; i++) out[o + i] = scratch[i]!;
        o += G729_FRAME_SAMPLES;
      }
    }
    if (o === 0) return this.conceal(out);
    return o;
  }

  /**
   * One lost 20 ms packet: two erased frames. libbcg729 conceals them from the last speech
   * parameters, or carries on the comfort noise when the last frame was a SID.
   */
  conceal(out: Int16Array): number {
    this.concealedFrames++;
    const ch = this.channel;
    const scratch = this.pcm80;
    let o = 0;
    while (o + G729_FRAME_SAMPLES <= Math.min(FRAME, out.length)) {
      ch.decode(null, 0, scratch);
      for (let i = 0; i < G729_FRAME_SAMPLES; i++) out[o + i] = scratch[i]!;
      o += G729_FRAME_SAMPLES;
    }
    return o;
  }

  /**
   * Annex B on transmit on or off from the next frame (silence suppression on a call in
   * progress): libbcg729 fixes VAD when a channel is made, so a change makes a fresh one (the
   * decoder restarts too, as after a lost packet). False when libbcg729 cannot make it.
   */
  setAnnexB(on: boolean): boolean {
    if (on === this.vad) return true;
    const fresh = createBcg729Channel(on);
    if (!fresh.ok) return false;
    this.vad = on;
    this.inCn = false;
    this.channel.close();
    this.channel = fresh.channel;
    return true;
  }

  /** New stream: fresh encoder and decoder contexts (libbcg729 has no reset call). */
  reset(): void {
    this.inCn = false;
    const fresh = createBcg729Channel(this.vad);
    if (!fresh.ok) return; // keep the old state rather than lose the codec
    this.channel.close();
    this.channel = fresh.channel;
  }

  /** Frees the native contexts. */
  close(): void {
    this.channel.close();
  }
}

/**
 * A G.729 codec, or `undefined` when libbcg729 cannot be loaded (the caller reports that instead
 * of crashing).
 */
export function createG729Codec(payloadType = 18, options: G729Options = {}): G729Codec | undefined {
  const made = createBcg729Channel(options.annexB === true);
  return made.ok ? new G729Codec(made.channel, payloadType, options) : undefined;
}
