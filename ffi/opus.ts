/**
 * A libopus decoder (Debian `libopus0`) through koffi, used beside the `@discordjs/opus` binding
 * because that binding always calls `opus_decode` with `decode_fec = 0`: only a decoder of our
 * own can recover a lost frame from the in-band FEC (LBRR) data of the packet after it
 * (RFC 6716 §2.1.7). Encoding stays with the binding.
 *
 * Loading is lazy (see `ffi/loader.ts`): {@link createOpusFfiDecoder} returns a result object and
 * never throws. Per-frame calls hand caller-owned memory to C and allocate nothing.
 * @module
 */
import { nativeBinder, type NativeFunction } from './loader.js';

interface OpusFunctions {
  create: NativeFunction;
  destroy: NativeFunction;
  decode: NativeFunction;
}

const bind = nativeBinder('opus', 'libopus lacks an Opus decoder function', (lib): OpusFunctions => ({
  create: lib.func('void *opus_decoder_create(int32_t fs, int channels, _Out_ int *error)'),
  destroy: lib.func('void opus_decoder_destroy(void *st)'),
  decode: lib.func('int opus_decode(void *st, const uint8_t *data, int32_t len, _Out_ int16_t *pcm, int frame_size, int decode_fec)'),
}));

/** Whether libopus loads (and is not disabled): what decides if received FEC can be used. */
export function opusFfiAvailable(): boolean {
  return typeof bind() !== 'string';
}

const finalizer = new FinalizationRegistry<() => void>((free) => free());

/** A 48 kHz mono libopus decoder. */
export class OpusFfiDecoder {
  private st: unknown;
  private readonly token = {};

  /** @internal use {@link createOpusFfiDecoder}. */
  constructor(
    private readonly f: OpusFunctions,
    st: unknown,
  ) {
    this.st = st;
    finalizer.register(this, () => f.destroy(st), this.token);
  }

  /**
   * `opus_decode`: `data` (a Buffer view of exactly the payload) into `pcm`, at most `frameSize`
   * samples. With `fec` true the frame decoded is the one before `data`, from its FEC data (or
   * concealed when it has none). `data` null runs packet loss concealment for `frameSize` samples.
   * @returns samples decoded, or a negative libopus error code (also after {@link OpusFfiDecoder.close}).
   */
  decode(data: Buffer | null, pcm: Int16Array, frameSize: number, fec: boolean): number {
    if (this.st === null) return -1;
    return this.f.decode(this.st, data, data === null ? 0 : data.length, pcm, frameSize, fec ? 1 : 0) as number;
  }

  /** Free the decoder now (idempotent). */
  close(): void {
    if (this.st === null) return;
    finalizer.unregister(this.token);
    this.f.destroy(this.st);
    this.st = null;
  }
}

/** The outcome of {@link createOpusFfiDecoder}: the decoder, or why there is none. */
export type OpusFfiDecoderResult = { ok: true; decoder: OpusFfiDecoder } | { ok: false; reason: string };

/** Create a 48 kHz mono libopus decoder; never throws. */
export function createOpusFfiDecoder(): OpusFfiDecoderResult {
  const f = bind();
  if (typeof f === 'string') return { ok: false, reason: f };
  try {
    const err = [0];
    const st = f.create(48000, 1, err);
    if (st === null || err[0] !== 0) return { ok: false, reason: `opus_decoder_create failed (error ${err[0]})` };
    return { ok: true, decoder: new OpusFfiDecoder(f, st) };
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
}
