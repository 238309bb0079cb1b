/**
 * libgsm (GSM 06.10 full rate, Debian `libgsm1`) through koffi. A {@link GsmChannel} holds an
 * encoder and a decoder state; each codes 160 samples at 8 kHz (20 ms) as one 33-octet frame
 * whose first nibble is the 0xD signature, the framing RFC 3551 §4.5.8 puts on the wire.
 *
 * Loading is lazy (see `ffi/loader.ts`): {@link createGsmChannel} returns a result object and
 * never throws. Per-frame calls hand caller-owned typed arrays to C and allocate nothing.
 * @module
 */
import { nativeBinder, type NativeFunction } from './loader.js';

/** Samples in one GSM frame (20 ms at 8 kHz). */
export const GSM_FRAME_SAMPLES = 160;
/** Octets of one GSM 06.10 frame. */
export const GSM_FRAME_OCTETS = 33;

interface GsmFunctions {
  create: NativeFunction;
  destroy: NativeFunction;
  encode: NativeFunction;
  decode: NativeFunction;
}

const bind = nativeBinder('gsm', 'libgsm lacks a GSM function', (lib): GsmFunctions => ({
  create: lib.func('void *gsm_create()'),
  destroy: lib.func('void gsm_destroy(void *g)'),
  encode: lib.func('void gsm_encode(void *g, const int16_t *source, _Out_ uint8_t *c)'),
  decode: lib.func('int gsm_decode(void *g, const uint8_t *c, _Out_ int16_t *target)'),
}));

/** Whether libgsm loads (and is not disabled): what decides if GSM is offered. */
export function gsmAvailable(): boolean {
  return typeof bind() !== 'string';
}

const finalizer = new FinalizationRegistry<() => void>((free) => free());

/** A GSM 06.10 encoder and decoder pair from libgsm. */
export class GsmChannel {
  private enc: unknown;
  private dec: unknown;
  private readonly token = {};

  /** @internal use {@link createGsmChannel}. */
  constructor(
    private readonly f: GsmFunctions,
    enc: unknown,
    dec: unknown,
  ) {
    this.enc = enc;
    this.dec = dec;
    finalizer.register(
      this,
      () => {
        f.destroy(enc);
        f.destroy(dec);
      },
      this.token,
    );
  }

  /** Encode the first 160 samples of `pcm` into the first 33 octets of `out`. @returns 33, or 0 once closed. */
  encode(pcm: Int16Array, out: Uint8Array): number {
    if (this.enc === null || pcm.length < GSM_FRAME_SAMPLES || out.length < GSM_FRAME_OCTETS) return 0;
    this.f.encode(this.enc, pcm, out);
    return GSM_FRAME_OCTETS;
  }

  /**
   * Decode the first 33 octets of `frame` into the first 160 samples of `out`.
   * @returns false when libgsm rejects the frame (no 0xD signature) or the channel is closed.
   */
  decode(frame: Uint8Array, out: Int16Array): boolean {
    if (this.dec === null || frame.length < GSM_FRAME_OCTETS || out.length < GSM_FRAME_SAMPLES) return false;
    return (this.f.decode(this.dec, frame, out) as number) === 0;
  }

  /** Free both states; later calls do nothing. Idempotent. */
  close(): void {
    if (this.enc === null) return;
    finalizer.unregister(this.token);
    this.f.destroy(this.enc);
    this.f.destroy(this.dec);
    this.enc = null;
    this.dec = null;
  }
}

/** The outcome of {@link createGsmChannel}. */
export type GsmResult = { readonly ok: true; readonly channel: GsmChannel } | { readonly ok: false; readonly reason: string };

/** A GSM channel. Never throws: a missing library or a failed create comes back as `{ ok: false, reason }`. */
export function createGsmChannel(): GsmResult {
  const f = bind();
  if (typeof f === 'string') return { ok: false, reason: f };
  const enc = f.create();
  const dec = f.create();
  if (!enc || !dec) {
    if (enc) f.destroy(enc);
    if (dec) f.destroy(dec);
    return { ok: false, reason: 'gsm_create returned NULL' };
  }
  return { ok: true, channel: new GsmChannel(f, enc, dec) };
}
