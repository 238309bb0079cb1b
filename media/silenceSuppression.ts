/**
 * Silence suppression on send (RFC 3389 §4, RFC 3551 §4.1): an energy VAD decides, per 20 ms
 * frame, whether the talker speaks; in silence the session sends one comfort-noise (CN) packet
 * carrying the noise level instead of audio, then only updates.
 *
 * The VAD is an energy detector in TypeScript rather than the speex preprocessor's: that one
 * needs libspeexdsp, native state per call and a rate of its own, and it alters the audio it
 * looks at; an energy rule with an adaptive noise floor and a hangover works at every codec
 * rate, costs a loop over the frame and allocates nothing.
 *
 * - A frame's energy E (dBov, 0 dBov = a full-scale sine, as in `media/comfortNoise.ts`) is
 *   speech when E is {@link VAD_MARGIN_DB} over the noise floor and above {@link VAD_FLOOR_DBOV}.
 * - The noise floor (never below {@link VAD_FLOOR_DBOV}) follows quieter frames at once and
 *   creeps up 0.05 dB per frame otherwise,
 *   so a room that gets louder is learnt within seconds while speech barely moves it.
 * - Speech holds for {@link VAD_HANGOVER_FRAMES} frames (200 ms) after its last loud frame, so
 *   word endings and short pauses are not clipped.
 *
 * CN packets (one octet, the level; no spectral parameters, which RFC 3389 makes optional): one
 * when silence starts, another when the noise level moves by {@link CN_LEVEL_STEP_DB} dB or
 * more (at most one per {@link CN_MIN_GAP_FRAMES} frames), and a refresh after
 * {@link CN_REFRESH_FRAMES} frames (5 s) without one, PJSIP's maximum silence period
 * (`PJMEDIA_CODEC_MAX_SILENCE_PERIOD`), so NAT bindings and media time-outs see a packet.
 * @module
 */

/** 0 dBov: the mean square of a full-scale sine, (32768/√2)². */
const FULL_SCALE_MS = (32768 * 32768) / 2;
/** Frames quieter than this (dBov) are silence whatever the noise floor. */
export const VAD_FLOOR_DBOV = -60;
/** How far over the noise floor (dB) a frame must be to count as speech. */
export const VAD_MARGIN_DB = 12;
/** Frames that stay speech after the last loud one (200 ms of 20 ms frames). */
export const VAD_HANGOVER_FRAMES = 10;
/** Noise-floor rise per frame while frames are louder than it, dB. */
const FLOOR_RISE_DB = 0.05;
/** A level change (dB) that sends a new CN packet during silence. */
export const CN_LEVEL_STEP_DB = 3;
/** Fewest frames between CN packets (200 ms). */
export const CN_MIN_GAP_FRAMES = 10;
/** Most frames between CN packets during silence (5 s). */
export const CN_REFRESH_FRAMES = 250;

/** {@link SilenceSuppressor.decide}: send the frame as audio. */
export const TX_VOICE = 0;
/** {@link SilenceSuppressor.decide}: silence; send a CN packet with {@link SilenceSuppressor.level}. */
export const TX_CN = 1;
/** {@link SilenceSuppressor.decide}: silence; send nothing. */
export const TX_NONE = 2;

/** Energy of `n` samples in dBov (−127 for digital silence). */
export function frameDbov(pcm: Int16Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = pcm[i]!;
    sum += v * v;
  }
  if (n <= 0 || sum === 0) return -127;
  const db = 10 * Math.log10(sum / n / FULL_SCALE_MS);
  return db < -127 ? -127 : db;
}

/** The RFC 3389 level octet (noise level in −dBov, 0..127) for an energy in dBov. */
export function cnLevelOf(dbov: number): number {
  const l = Math.round(-dbov);
  return l < 0 ? 0 : l > 127 ? 127 : l;
}

/** The VAD and the CN schedule of one sending stream. Allocates nothing per frame. */
export class SilenceSuppressor {
  /** The CN level (−dBov) to send with a {@link TX_CN} decision. */
  level = 127;
  /** The noise floor the VAD compares with, dBov. */
  noiseFloor = VAD_FLOOR_DBOV;
  private hangover = 0;
  private silent = false;
  /** Smoothed energy of the silent frames, dBov. */
  private noise = -127;
  private sinceCn = 0;

  /** True while the stream is in a silence period (CN sent, audio held back). */
  get inSilence(): boolean {
    return this.silent;
  }

  /** Whether the frame is speech (the VAD alone, hangover included). */
  private voice(e: number): boolean {
    const f = this.noiseFloor;
    // never below the absolute floor: after digital silence a quiet room must still be silence
    if (e < f) this.noiseFloor = e < VAD_FLOOR_DBOV ? VAD_FLOOR_DBOV : e;
    else this.noiseFloor = f + FLOOR_RISE_DB;
    if (e > VAD_FLOOR_DBOV && e > this.noiseFloor + VAD_MARGIN_DB) {
      this.hangover = VAD_HANGOVER_FRAMES;
      return true;
    }
    // the quiet frames say how loud the room is: that is what the CN packets state
    this.noise = this.noise <= -127 ? e : 0.8 * this.noise + 0.2 * e;
    if (this.hangover > 0) {
      this.hangover--;
      return true;
    }
    return false;
  }

  /** Decides what to send for this frame: {@link TX_VOICE}, {@link TX_CN} or {@link TX_NONE}. */
  decide(pcm: Int16Array, n: number): number {
    if (this.voice(frameDbov(pcm, n))) {
      this.silent = false;
      return TX_VOICE;
    }
    const level = cnLevelOf(this.noise);
    this.sinceCn++;
    if (!this.silent) {
      this.silent = true;
    } else if (
      this.sinceCn < CN_REFRESH_FRAMES &&
      !(this.sinceCn >= CN_MIN_GAP_FRAMES && Math.abs(level - this.level) >= CN_LEVEL_STEP_DB)
    ) {
      return TX_NONE;
    }
    this.level = level;
    this.sinceCn = 0;
    return TX_CN;
  }

  /** Back to speech with a fresh noise estimate (a new stream or codec). */
  reset(): void {
    this.hangover = 0;
    this.silent = false;
    this.noise = -127;
    this.sinceCn = 0;
    this.level = 127;
    this.noiseFloor = VAD_FLOOR_DBOV;
  }
}
