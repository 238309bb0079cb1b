/**
 * Packetisation times (RFC 4566 §6 `a=ptime`, `a=maxptime`; RFC 3551 §4.5): which durations the
 * engine can put in one RTP packet for each codec, and the one it sends with for a remote's
 * wish. Sample-based codecs (G.711, G.722) and G.729 divide into 10 ms units, GSM into its
 * 20 ms frames, so their packets hold any whole number of units up to
 * {@link MAX_PACKET_TIME_MS}; Opus is sent as one 20 ms frame per packet (RFC 7587 leaves ptime
 * a wish) and taken in packets of any length up to 120 ms (media/opusFraming.ts). The media
 * floor packs and unpacks the units (media/packetTime.ts).
 * @module
 */

/** The longest packet the engine sends, in ms (RFC 3551 §4.5's G.711 example stops at 60 too). */
export const MAX_PACKET_TIME_MS = 60;

/** The packet times the engine offers (`packetTimeMs`, `setPacketTime`), ms. */
export const OFFERED_PACKET_TIMES_MS: readonly number[] = [10, 20, 30, 40, 60];

/** The packetisation unit and the longest packet of a codec, in ms. */
export function packetUnitOf(codecName: string): { unitMs: number; maxMs: number } {
  switch (codecName.toLowerCase()) {
    case 'opus':
      return { unitMs: 20, maxMs: 20 };
    case 'gsm':
      return { unitMs: 20, maxMs: MAX_PACKET_TIME_MS };
    default:
      return { unitMs: 10, maxMs: MAX_PACKET_TIME_MS };
  }
}

/**
 * The packet time to send `codecName` with: the remote's `ptime` (already no more than its
 * `maxptime`) rounded down to whole units and to what we can send, at least one unit; undefined
 * when the remote's `maxptime` is shorter than one unit (the codec cannot be sent within it).
 *
 * @param codecName - the codec's encoding name
 * @param wanted - the remote's ptime in ms (20 when it gave none)
 * @param maxptime - the remote's maxptime in ms, when given
 * @returns the packet time in ms, or undefined
 */
export function choosePacketTime(codecName: string, wanted: number, maxptime: number | undefined): number | undefined {
  const { unitMs, maxMs } = packetUnitOf(codecName);
  if (maxptime !== undefined && maxptime < unitMs) return undefined;
  const cap = Math.min(wanted, maxptime ?? maxMs, maxMs);
  return Math.max(unitMs, Math.floor(cap / unitMs) * unitMs);
}
