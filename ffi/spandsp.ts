/**
 * libspandsp's G.722 and G.726 coders through koffi. LineScape codes G.722 in TypeScript
 * (`media/g722`); the G.722 binding is the independent reference the tests compare our stream
 * against bit for bit, and the raw library call the codec benchmark puts beside ours. G.726 at
 * 32 kbit/s is coded by libspandsp itself (`media/g726`).
 *
 * Loading is lazy (see `ffi/loader.ts`); {@link createSpandspG722} returns a result object and
 * never throws. The per-call methods pass caller-owned typed arrays straight to C, so they
 * allocate nothing.
 * @module
 */
import { nativeBinder, type NativeFunction } from './loader.js';

interface G722Functions {
  encodeInit: NativeFunction;
  encode: NativeFunction;
  encodeFree: NativeFunction;
  decodeInit: NativeFunction;
  decode: NativeFunction;
  decodeFree: NativeFunction;
}

const bind = nativeBinder('spandsp', 'libspandsp has no usable G.722 functions', (lib): G722Functions => ({
  encodeInit: lib.func('void *g722_encode_init(void *s, int rate, int options)'),
  encode: lib.func('int g722_encode(void *s, _Out_ uint8_t *g722_data, const int16_t *amp, int len)'),
  encodeFree: lib.func('int g722_encode_free(void *s)'),
  decodeInit: lib.func('void *g722_decode_init(void *s, int rate, int options)'),
  decode: lib.func('int g722_decode(void *s, _Out_ int16_t *amp, const uint8_t *g722_data, int len)'),
  decodeFree: lib.func('int g722_decode_free(void *s)'),
}));

/** A libspandsp G.722 encoder and decoder pair at 64 kbit/s. */
export interface SpandspG722 {
  /** Encode `count` samples of `pcm` (16 kHz) into `out`; @returns octets written. */
  encode(pcm: Int16Array, count: number, out: Uint8Array): number;
  /** Decode `count` octets of `data` into `out` (16 kHz); @returns samples written. */
  decode(data: Uint8Array, count: number, out: Int16Array): number;
  /** Free both native states; later calls return 0. */
  close(): void;
}

/** The outcome of {@link createSpandspG722}. */
export type SpandspG722Result = { readonly ok: true; readonly coder: SpandspG722 } | { readonly ok: false; readonly reason: string };

/**
 * A G.722 64 kbit/s coder pair from libspandsp. Never throws: a missing library or a failed init
 * comes back as `{ ok: false, reason }`.
 */
export function createSpandspG722(): SpandspG722Result {
  const f = bind();
  if (typeof f === 'string') return { ok: false, reason: f };
  const enc = f.encodeInit(null, 64000, 0);
  const dec = f.decodeInit(null, 64000, 0);
  if (!enc || !dec) {
    if (enc) f.encodeFree(enc);
    if (dec) f.decodeFree(dec);
    return { ok: false, reason: 'g722_encode_init/g722_decode_init returned NULL' };
  }
  let open = true;
  return {
    ok: true,
    coder: {
      encode: (pcm, count, out) => (open ? (f.encode(enc, out, pcm, Math.min(count, pcm.length, out.length * 2)) as number) : 0),
      decode: (data, count, out) => (open ? (f.decode(dec, out, data, Math.min(count, data.length, out.length >> 1)) as number) : 0),
      close: () => {
        if (!open) return;
        open = false;
        f.encodeFree(enc);
        f.decodeFree(dec);
      },
    },
  };
}

interface G726Functions {
  init: NativeFunction;
  encode: NativeFunction;
  decode: NativeFunction;
  free: NativeFunction;
}

const bindG726 = nativeBinder('spandsp', 'libspandsp has no usable G.726 functions', (lib): G726Functions => ({
  init: lib.func('void *g726_init(void *s, int bit_rate, int ext_coding, int packing)'),
  encode: lib.func('int g726_encode(void *s, _Out_ uint8_t *g726_data, const int16_t *amp, int len)'),
  decode: lib.func('int g726_decode(void *s, _Out_ int16_t *amp, const uint8_t *g726_data, int g726_bytes)'),
  free: lib.func('int g726_free(void *s)'),
}));

/**
 * How 4-bit G.726-32 code words share an octet: `rfc3551` puts the first in the low nibble
 * (RFC 3551 §4.5.4, SDP name `G726-32`), `aal2` in the high one (ITU-T I.366.2, SDP name
 * `AAL2-G726-32`). libspandsp calls them G726_PACKING_RIGHT (2) and G726_PACKING_LEFT (1).
 */
export type G726Packing = 'rfc3551' | 'aal2';

/** Whether libspandsp's G.726 loads (and is not disabled): what decides if G.726-32 is offered. */
export function spandspG726Available(): boolean {
  return typeof bindG726() !== 'string';
}

const g726Finalizer = new FinalizationRegistry<() => void>((free) => free());

/** A libspandsp G.726 32 kbit/s encoder and decoder pair on 16-bit linear PCM at 8 kHz. */
export class SpandspG726 {
  private enc: unknown;
  private dec: unknown;
  private readonly token = {};

  /** @internal use {@link createSpandspG726}. */
  constructor(
    private readonly f: G726Functions,
    enc: unknown,
    dec: unknown,
  ) {
    this.enc = enc;
    this.dec = dec;
    g726Finalizer.register(
      this,
      () => {
        f.free(enc);
        f.free(dec);
      },
      this.token,
    );
  }

  /** Encode `count` samples of `pcm` into `out` (two samples per octet). @returns octets written; 0 once closed. */
  encode(pcm: Int16Array, count: number, out: Uint8Array): number {
    if (this.enc === null) return 0;
    return this.f.encode(this.enc, out, pcm, Math.min(count, pcm.length, out.length * 2)) as number;
  }

  /** Decode `count` octets of `data` into `out` (two samples per octet). @returns samples written; 0 once closed. */
  decode(data: Uint8Array, count: number, out: Int16Array): number {
    if (this.dec === null) return 0;
    return this.f.decode(this.dec, out, data, Math.min(count, data.length, out.length >> 1)) as number;
  }

  /** Free both states; later calls return 0. Idempotent. */
  close(): void {
    if (this.enc === null) return;
    g726Finalizer.unregister(this.token);
    this.f.free(this.enc);
    this.f.free(this.dec);
    this.enc = null;
    this.dec = null;
  }
}

/** The outcome of {@link createSpandspG726}. */
export type SpandspG726Result = { readonly ok: true; readonly coder: SpandspG726 } | { readonly ok: false; readonly reason: string };

/**
 * A G.726 32 kbit/s coder pair from libspandsp with `packing` (RFC 3551 by default). Never
 * throws: a missing library or a failed init comes back as `{ ok: false, reason }`.
 */
export function createSpandspG726(packing: G726Packing = 'rfc3551'): SpandspG726Result {
  const f = bindG726();
  if (typeof f === 'string') return { ok: false, reason: f };
  // G726_ENCODING_LINEAR (0): 16-bit PCM in and out; packing 2 = right (RFC 3551), 1 = left (AAL2)
  const mode = packing === 'aal2' ? 1 : 2;
  const enc = f.init(null, 32000, 0, mode);
  const dec = f.init(null, 32000, 0, mode);
  if (!enc || !dec) {
    if (enc) f.free(enc);
    if (dec) f.free(dec);
    return { ok: false, reason: 'g726_init returned NULL' };
  }
  return { ok: true, coder: new SpandspG726(f, enc, dec) };
}
