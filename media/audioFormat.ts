/**
 * The audio formats a phone line can offer and accept, as the public API names them (LanScape's
 * media formats). A media notion, so it lives on the `media/` floor below every floor that uses
 * it; `engine/types.ts` re-exports it under its public path, and `lines/lineMedia.ts` maps each
 * format to its SDP codec.
 * @module
 */

/** Audio media formats a line can offer and accept. */
export enum MediaFormatAudio {
  /** G.711 µ-law, 8 kHz, RTP payload type 0. */
  ULaw8k = 0,
  /** G.711 A-law, 8 kHz, RTP payload type 8. */
  ALaw8k = 1,
  /** Opus, 48 kHz RTP clock (RFC 7587), dynamic payload type. */
  Opus48k = 2,
  /** G.722 at 64 kbit/s: 16 kHz audio on an 8000 Hz RTP clock (RFC 3551), payload type 9. */
  G722 = 3,
  /** G.729 / G.729A (Annex B SID frames understood), 8 kHz, payload type 18; needs libbcg729. */
  G729 = 4,
  /** GSM 06.10 full rate, 8 kHz, payload type 3; needs libgsm. */
  Gsm = 5,
  /**
   * G.726 at 32 kbit/s, 8 kHz, dynamic payload type `G726-32/8000` with RFC 3551 packing;
   * needs libspandsp. Not in a line's default formats: add it with `setAudioMediaFormats`.
   */
  G726_32 = 6,
}
