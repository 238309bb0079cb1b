/**
 * libspandsp's G.722 coder through koffi. LineScape codes G.722 in TypeScript (`media/g722`);
 * this binding is the independent reference the tests compare our stream against bit for bit,
 * and the raw library call the codec benchmark puts beside ours.
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
