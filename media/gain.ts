/**
 * Gain and level arithmetic of the whole media graph, in one place: the gain scale (LanScape's
 * `setPhoneLineVolume`: 0..2048, 512 = 100 %), its clamp, scaling a frame with saturation, and
 * the peak/RMS meter. The media session (its rx and tx gains, VU and recording taps) and the
 * bridge's ports (their rx and tx gains, level taps) both use these, so a gain means the same
 * thing on a line and in a conference.
 *
 * Everything here works in place on caller-owned arrays and allocates nothing.
 * @module
 */

/** Gain value meaning 100 % (LanScape's `setPhoneLineVolume` scale: 0..2048, 512 = unity). */
export const GAIN_UNITY = 512;

/** Largest gain accepted: 2048 = 400 % (+12 dB). */
export const GAIN_MAX = 2048;

/** Peak and RMS of one frame, in 16-bit sample units (full scale 32767). */
export interface FrameLevel {
  /** Largest absolute sample. */
  peak: number;
  /** Root mean square. */
  rms: number;
}

/** A gain brought onto the scale: rounded to an integer, clamped to 0..2048; not finite → unity. */
export function clampGain(g: number): number {
  if (!Number.isFinite(g)) return GAIN_UNITY;
  const r = Math.round(g);
  return r < 0 ? 0 : r > GAIN_MAX ? GAIN_MAX : r;
}

/** `v` saturated to a 16-bit sample (a typed-array store would wrap 40000 to −25536). */
export function saturate16(v: number): number {
  return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}

/**
 * Scale the first `n` samples of `pcm` by `gain` (fixed point, {@link GAIN_UNITY} = 1, with
 * saturation; unity leaves them untouched) and measure the result into `level`, in one pass.
 */
export function gainAndLevel(pcm: Int16Array, n: number, gain: number, level: FrameLevel): void {
  let peak = 0;
  let sum = 0;
  const scale = gain !== GAIN_UNITY;
  for (let i = 0; i < n; i++) {
    let v = pcm[i]!;
    if (scale) {
      v = (v * gain) >> 9;
      v = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
      pcm[i] = v;
    }
    const a = v < 0 ? -v : v;
    if (a > peak) peak = a;
    sum += v * v;
  }
  level.peak = peak;
  level.rms = n > 0 ? Math.sqrt(sum / n) : 0;
}

/** Peak and RMS of the first `n` samples of `pcm` into `level`. */
export function measureLevel(pcm: Int16Array, n: number, level: FrameLevel): void {
  gainAndLevel(pcm, n, GAIN_UNITY, level);
}

/** `dst[i] = saturate(dst[i] + src[i])` for the first `n` samples: mixing two frames. */
export function mixInto(dst: Int16Array, src: Int16Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = dst[i]! + src[i]!;
    dst[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
}
