/**
 * Phase-continuous sine and multi-tone generation into caller frames at any sample rate, with
 * data-driven on/off cadences: test tones and call-progress tones (dial, ringback, busy, reorder).
 * @module
 */
import type { MediaSource } from './mediaPorts.js';

/**
 * Peak amplitude (16-bit PCM) of a 0 dBm0 sine. µ-law's overload amplitude, 8159 in its 14-bit
 * domain (32636 in 16-bit terms), is +3.17 dBm0 (ITU-T G.711), so a 0 dBm0 sine peaks 3.17 dB
 * lower: about 22,657. dBm0 is the unit telephony levels (tones, DTMF) are specified in.
 */
export const DBM0_PEAK = 32636 / Math.pow(10, 3.17 / 20);

/** Peak amplitude of a sine at `db` dBm0 (−10 dBm0 ≈ 7,165). */
export function dbm0ToAmplitude(db: number): number {
  return DBM0_PEAK * Math.pow(10, db / 20);
}

/** Peak amplitude of a sine at `db` dBFS (0 dBFS = 32767 peak). */
export function dbfsToAmplitude(db: number): number {
  return 32767 * Math.pow(10, db / 20);
}

/** A tone: up to four frequencies summed, each at its own level, optionally switched on and off. */
export interface ToneSpec {
  /** Component frequencies in Hz. */
  readonly freqs: readonly number[];
  /** Level of each component in dBm0: one number for all, or one per frequency. */
  readonly levelDbm0: number | readonly number[];
  /**
   * Cadence in ms: on, off, on, off, …; omitted or empty means continuous. A trailing "on" with
   * no "off" after it stays on (with `repeat` false).
   */
  readonly cadenceMs?: readonly number[];
  /** Loop the cadence (default true); false plays it once and then goes silent. */
  readonly repeat?: boolean;
}

/**
 * North American precise call-progress tones (ANSI T1.401 / the "precise tone plan"): frequency
 * pairs and levels per component in dBm0.
 */
export const NA_TONES = Object.freeze({
  /** Dial tone: 350 + 440 Hz at −13 dBm0, continuous. */
  dial: Object.freeze({ freqs: [350, 440], levelDbm0: -13 }),
  /** Audible ringing: 440 + 480 Hz at −19 dBm0, 2 s on, 4 s off. */
  ringback: Object.freeze({ freqs: [440, 480], levelDbm0: -19, cadenceMs: [2000, 4000] }),
  /** Busy: 480 + 620 Hz at −24 dBm0, 0.5 s on, 0.5 s off. */
  busy: Object.freeze({ freqs: [480, 620], levelDbm0: -24, cadenceMs: [500, 500] }),
  /** Reorder (fast busy, all circuits busy): 480 + 620 Hz at −24 dBm0, 0.25 s on, 0.25 s off. */
  reorder: Object.freeze({ freqs: [480, 620], levelDbm0: -24, cadenceMs: [250, 250] }),
});

const MAX_TONES = 4;
const TWO_PI = 2 * Math.PI;

/**
 * Generates a {@link ToneSpec} into frames. Phase runs continuously from frame to frame (and
 * through off periods), so there is no discontinuity at frame edges; on/off transitions get a
 * 2 ms linear ramp so cadence switching does not click. `generate` allocates nothing.
 *
 * As a source of a call's graph (`media/mediaPorts`) it adds itself to the frame from
 * {@link ToneGenerator.start} until one frame after it stopped (that frame ramps down instead
 * of clicking), then reports {@link ToneGenerator.ended}.
 */
export class ToneGenerator implements MediaSource {
  private readonly phase = new Float64Array(MAX_TONES);
  private readonly step = new Float64Array(MAX_TONES);
  private readonly amp = new Float64Array(MAX_TONES);
  private count = 0;
  private cadence: Int32Array = new Int32Array(0); // segment lengths in samples
  private repeat = true;
  private seg = 0;
  private segLeft = 0;
  private gain = 0;
  private readonly ramp: number;
  private active = false;
  /** Frames still to read after the tone stopped: the ramp down. */
  private tail = 0;

  /** @param sampleRate - rate of the frames this generator fills. */
  constructor(readonly sampleRate: number) {
    this.ramp = 1 / Math.max(1, Math.round(sampleRate * 0.002));
  }

  /**
   * Start (or switch to) a tone. Phases carry on from the previous tone; the cadence restarts at
   * its first "on" segment.
   * @throws RangeError for more than four frequencies or a frequency at or above Nyquist.
   */
  start(spec: ToneSpec): void {
    if (spec.freqs.length > MAX_TONES) throw new RangeError(`at most ${MAX_TONES} frequencies`);
    for (let i = 0; i < spec.freqs.length; i++) {
      const f = spec.freqs[i]!;
      if (!(f >= 0 && f < this.sampleRate / 2)) throw new RangeError(`frequency ${f} Hz out of range at ${this.sampleRate} Hz`);
      const lv = typeof spec.levelDbm0 === 'number' ? spec.levelDbm0 : (spec.levelDbm0[i] ?? -Infinity);
      this.step[i] = (TWO_PI * f) / this.sampleRate;
      this.amp[i] = dbm0ToAmplitude(lv);
    }
    this.count = spec.freqs.length;
    const c = spec.cadenceMs ?? [];
    this.cadence = new Int32Array(c.length);
    let total = 0;
    for (let i = 0; i < c.length; i++) {
      this.cadence[i] = Math.max(0, Math.round((c[i]! * this.sampleRate) / 1000));
      total += this.cadence[i]!;
    }
    // an all-zero cadence would spin forever looking for the next segment: treat it as continuous
    if (total === 0) this.cadence = new Int32Array(0);
    this.repeat = spec.repeat ?? true;
    this.seg = 0;
    this.segLeft = this.cadence.length > 0 ? this.cadence[0]! : Infinity;
    this.active = true;
    this.tail = 1;
  }

  /** Stop: the next frames ramp down to silence. */
  stop(): void {
    this.active = false;
  }

  /** True from {@link ToneGenerator.start} until {@link ToneGenerator.stop} or the end of a non-repeating cadence. */
  get playing(): boolean {
    return this.active;
  }

  /**
   * `MediaSource.read`: adds the tone into `out[0, n)` while it plays and for one frame after
   * (the ramp down); nothing at a rate other than the generator's.
   */
  read(out: Int16Array, n: number, rate: number): boolean {
    if (rate !== this.sampleRate) return false;
    if (!this.active) {
      if (this.tail === 0) return false;
      this.tail--;
    }
    this.generate(out, n, true);
    return true;
  }

  /** `MediaPort.ended`: stopped (or a one-shot cadence finished) and ramped down. */
  get ended(): boolean {
    return !this.active && this.tail === 0;
  }

  /**
   * Fill `out[0, len)` with the tone (or add it to what is there when `mix` is true), clamping to
   * 16 bits. Writes silence (or leaves `out` untouched when mixing) while stopped.
   * @returns `len`.
   */
  generate(out: Int16Array, len: number = out.length, mix = false): number {
    const n = this.count;
    const ph = this.phase;
    const st = this.step;
    const amp = this.amp;
    const ramp = this.ramp;
    for (let i = 0; i < len; i++) {
      // cadence bookkeeping per sample keeps on/off edges sample-exact at any frame size
      let on = this.active;
      if (on && this.cadence.length > 0) {
        while (this.segLeft <= 0) {
          this.seg++;
          if (this.seg >= this.cadence.length) {
            if (!this.repeat) {
              // a cadence with an odd count ends "on" and holds; otherwise it has finished
              if ((this.cadence.length & 1) === 1) {
                this.seg = this.cadence.length - 1;
                this.segLeft = Infinity;
                break;
              }
              this.active = false;
              break;
            }
            this.seg = 0;
          }
          this.segLeft = this.cadence[this.seg]!;
        }
        on = this.active && (this.seg & 1) === 0;
        this.segLeft--;
      }
      const target = on ? 1 : 0;
      let g = this.gain;
      if (g < target) g = Math.min(target, g + ramp);
      else if (g > target) g = Math.max(target, g - ramp);
      this.gain = g;
      let v = 0;
      for (let k = 0; k < n; k++) {
        if (g > 0) v += amp[k]! * Math.sin(ph[k]!);
        let p = ph[k]! + st[k]!;
        if (p >= TWO_PI) p -= TWO_PI;
        ph[k] = p;
      }
      v *= g;
      if (mix) v += out[i]!;
      out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v);
    }
    return len;
  }
}

/**
 * One-shot helper: write a sine of `freq` Hz and peak `amplitude` into `out[0, len)` starting at
 * `phase` radians, adding to existing content when `mix` is true.
 * @returns the phase to pass next time for a continuous tone.
 */
export function fillSine(
  out: Int16Array,
  rate: number,
  freq: number,
  amplitude: number,
  phase = 0,
  len: number = out.length,
  mix = false,
): number {
  const step = (TWO_PI * freq) / rate;
  let p = phase;
  for (let i = 0; i < len; i++) {
    let v = amplitude * Math.sin(p);
    if (mix) v += out[i]!;
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v);
    p += step;
    if (p >= TWO_PI) p -= TWO_PI;
  }
  return p;
}
