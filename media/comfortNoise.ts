/**
 * RFC 3389 comfort noise, receive side. A CN packet's first octet is the noise level in −dBov
 * (0..127); the spectral reflection coefficients that may follow are optional for a receiver
 * and ignored here: the noise is white, at the stated level. 0 dBov is taken as a full-scale
 * sine (the G.711 overload point), so level L gives an RMS of 32768/√2 · 10^(−L/20).
 *
 * Level changes ramp across one frame, and noise starts from silence, so the switch between
 * speech and noise neither clicks nor pumps. Generation allocates nothing.
 * @module
 */

/** Full-scale sine RMS, the 0 dBov reference. */
const FULL_SCALE_RMS = 32768 / Math.SQRT2;

/** The RMS amplitude of a CN level in −dBov (RFC 3389 §3). 127 is treated as silence. */
export function comfortNoiseRms(level: number): number {
  const l = level & 0x7f;
  return l >= 127 ? 0 : FULL_SCALE_RMS * 10 ** (-l / 20);
}

/** Noise for the peer's silence, at the level its CN packets state. */
export class ComfortNoiseGenerator {
  /** Whether the peer is in a CN period (set by a CN packet, ended by the caller on speech). */
  active = false;
  /** The last level received, in −dBov. */
  level = 127;
  /** CN packets received. */
  packets = 0;
  private target = 0;
  private current = 0;
  private seed: number;

  /** @param seed - PRNG seed (any non-zero 32-bit value). */
  constructor(seed = 0x2545f491) {
    this.seed = seed | 0 || 1;
  }

  /**
   * Take one CN payload: the level octet (a payload without one keeps the previous level, as
   * RFC 3389 §4 allows for repeated packets). Starts a CN period.
   */
  receive(payload: Uint8Array, offset: number, length: number): void {
    this.packets++;
    if (length >= 1 && offset >= 0 && offset < payload.length) {
      this.level = payload[offset]! & 0x7f;
      this.target = comfortNoiseRms(this.level);
    }
    if (!this.active) {
      this.active = true;
      this.current = 0; // ramp in from silence
    }
  }

  /** End the CN period (speech resumed). */
  stop(): void {
    this.active = false;
  }

  /**
   * Write `count` samples of noise into `out`, ramping the amplitude linearly from where the
   * last frame ended to the stated level.
   */
  generate(out: Int16Array, count: number): void {
    // uniform noise on [-1, 1) has RMS 1/√3
    const from = this.current * Math.sqrt(3);
    const to = this.target * Math.sqrt(3);
    const step = count > 0 ? (to - from) / count : 0;
    let s = this.seed;
    let a = from;
    for (let i = 0; i < count; i++) {
      // xorshift32
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      a += step;
      const v = Math.round((s / 2147483648) * a);
      out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
    this.seed = s;
    this.current = this.target;
  }

  /** Forget the CN period and level (new stream). */
  reset(): void {
    this.active = false;
    this.level = 127;
    this.target = 0;
    this.current = 0;
  }
}
