/**
 * The bridge's edge resamplers from libspeexdsp (through `ffi/`), when it is installed.
 * `bench/resamplers.ts` measured speex at quality 5 four to six times faster than the
 * TypeScript polyphase FIR of `media/resample`, with a flatter passband (0.005 dB ripple
 * against 0.7 dB), so the engine prefers it and falls back to the TypeScript filter without it.
 * @module
 */
import { SpeexResampler, speexDspStatus, SPEEX_DEFAULT_RESAMPLER_QUALITY } from '../ffi/speexdsp.js';
import type { EdgeResamplerFactory, MixerRate } from './port.js';
import type { Resampler } from '../media/resample.js';

/** Speex's filter length at the lower rate for each quality 0..10 (its `quality_map`). */
const SPEEX_BASE_TAPS = [8, 16, 32, 48, 64, 80, 96, 128, 160, 192, 256];

/**
 * A factory of libspeexdsp edge resamplers at `quality` (0..10, default 5), or null when the
 * library is missing or disabled (`LINESCAPE_DISABLE_NATIVE=speexdsp`).
 */
export function speexEdgeResamplers(quality: number = SPEEX_DEFAULT_RESAMPLER_QUALITY): EdgeResamplerFactory | null {
  if (!speexDspStatus().ok) return null;
  const q = Math.max(0, Math.min(10, Math.round(quality)));
  // the filter spans this many samples at the lower rate, 8 kHz at worst
  const historyMs = SPEEX_BASE_TAPS[q]! / 8;
  return {
    historyMs,
    create(from: MixerRate, to: MixerRate): Resampler {
      const r = SpeexResampler.create(from, to, q);
      if (!r.ok) throw new RangeError(`speex resampler ${from} -> ${to}: ${r.reason}`);
      return r.value;
    },
  };
}
