/**
 * libbcg729 (Belledonne's G.729 / G.729A with Annex B) through koffi. One {@link Bcg729Channel}
 * holds an encoder and a decoder context; both work on 10 ms frames of 80 samples at 8 kHz: a
 * speech frame is 10 octets, an Annex B SID (silence description) frame 2, an untransmitted
 * frame 0.
 *
 * Loading is lazy (see `ffi/loader.ts`): {@link createBcg729Channel} returns a result object and
 * never throws. Per-frame calls pass caller-owned typed arrays to C and reuse one length cell, so
 * they allocate nothing. Native state is freed by `close()`, and by a finalizer as a safety net.
 * @module
 */
import { nativeBinder, type NativeFunction } from './loader.js';

/** Samples in one G.729 frame (10 ms at 8 kHz). */
export const G729_FRAME_SAMPLES = 80;
/** Octets of a G.729 speech frame. */
export const G729_SPEECH_OCTETS = 10;
/** Octets of a G.729 Annex B SID frame. */
export const G729_SID_OCTETS = 2;

interface Bcg729Functions {
  initEncoder: NativeFunction;
  closeEncoder: NativeFunction;
  encode: NativeFunction;
  initDecoder: NativeFunction;
  closeDecoder: NativeFunction;
  decode: NativeFunction;
}

const bind = nativeBinder('bcg729', 'libbcg729 lacks a G.729 function', (lib): Bcg729Functions => ({
  initEncoder: lib.func('void *initBcg729EncoderChannel(uint8_t enableVAD)'),
  closeEncoder: lib.func('void closeBcg729EncoderChannel(void *ctx)'),
  encode: lib.func('void bcg729Encoder(void *ctx, const int16_t *inputFrame, _Out_ uint8_t *bitStream, _Out_ uint8_t *bitStreamLength)'),
  initDecoder: lib.func('void *initBcg729DecoderChannel()'),
  closeDecoder: lib.func('void closeBcg729DecoderChannel(void *ctx)'),
  decode: lib.func(
    'void bcg729Decoder(void *ctx, const uint8_t *bitStream, uint8_t bitStreamLength, uint8_t frameErasureFlag, uint8_t SIDFrameFlag, uint8_t rfc3389PayloadFlag, _Out_ int16_t *signal)',
  ),
}));

/** Whether libbcg729 loads (and is not disabled): what decides if G.729 is offered. */
export function bcg729Available(): boolean {
  return typeof bind() !== 'string';
}

const finalizer = new FinalizationRegistry<() => void>((free) => free());

/** A G.729 encoder and decoder pair from libbcg729. */
export class Bcg729Channel {
  private enc: unknown;
  private dec: unknown;
  private readonly lenCell = new Uint8Array(1);
  private readonly token = {};

  /** @internal use {@link createBcg729Channel}. */
  constructor(
    private readonly f: Bcg729Functions,
    enc: unknown,
    dec: unknown,
  ) {
    this.enc = enc;
    this.dec = dec;
    finalizer.register(this, () => {
      f.closeEncoder(enc);
      f.closeDecoder(dec);
    }, this.token);
  }

  /**
   * Encode the first 80 samples of `pcm` into `out` (room for 10 octets). Whole arrays go to C,
   * so callers pass scratch arrays rather than allocating views.
   * @returns octets written: 10 (speech), or with VAD on 2 (SID) or 0 (nothing to send); 0 once closed.
   */
  encode(pcm: Int16Array, out: Uint8Array): number {
    if (this.enc === null || pcm.length < G729_FRAME_SAMPLES || out.length < G729_SPEECH_OCTETS) return 0;
    this.f.encode(this.enc, pcm, out, this.lenCell);
    return this.lenCell[0]!;
  }

  /**
   * Decode one frame into the first 80 samples of `out`: a speech frame (`length` 10), a SID
   * frame (`length` 2: comfort noise from here on), or with `bits` null an erased frame, which
   * libbcg729 conceals after speech and fills with comfort noise after a SID.
   */
  decode(bits: Uint8Array | null, length: number, out: Int16Array): void {
    if (this.dec === null || out.length < G729_FRAME_SAMPLES) return;
    if (bits === null || (length !== G729_SPEECH_OCTETS && length !== G729_SID_OCTETS) || bits.length < length) {
      this.f.decode(this.dec, null, 0, 1, 0, 0, out);
      return;
    }
    this.f.decode(this.dec, bits, length, 0, length === G729_SID_OCTETS ? 1 : 0, 0, out);
  }

  /** Free the native contexts; later calls do nothing. Idempotent. */
  close(): void {
    if (this.enc === null) return;
    finalizer.unregister(this.token);
    this.f.closeEncoder(this.enc);
    this.f.closeDecoder(this.dec);
    this.enc = null;
    this.dec = null;
  }
}

/** The outcome of {@link createBcg729Channel}. */
export type Bcg729Result = { readonly ok: true; readonly channel: Bcg729Channel } | { readonly ok: false; readonly reason: string };

/**
 * A G.729 channel. Never throws: a missing library or a failed init comes back as
 * `{ ok: false, reason }`.
 * @param vad - run Annex B voice activity detection in the encoder (SID frames and silence gaps).
 */
export function createBcg729Channel(vad = false): Bcg729Result {
  const f = bind();
  if (typeof f === 'string') return { ok: false, reason: f };
  const enc = f.initEncoder(vad ? 1 : 0);
  const dec = f.initDecoder();
  if (!enc || !dec) {
    if (enc) f.closeEncoder(enc);
    if (dec) f.closeDecoder(dec);
    return { ok: false, reason: 'initBcg729EncoderChannel/initBcg729DecoderChannel returned NULL' };
  }
  return { ok: true, channel: new Bcg729Channel(f, enc, dec) };
}
