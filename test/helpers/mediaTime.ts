/**
 * Media time of a line, as a test reference that holds on a loaded machine. The media clock
 * runs one tick per 20 ms slot, but after a stall it runs only a few catch-up ticks and skips
 * the rest, so wall time overstates how much media a line handled. A line that sends sends one
 * RTP packet per tick, so its packet count is the number of ticks that ran: tests wait on it,
 * and compare tick-driven figures (recorded seconds, VU callbacks) against it.
 * @module
 */
import type { VoipMediaEngine } from '../../index.js';
import type { MediaSessionStats } from '../../media/session.js';
import { toneLevelDb } from './analysis.js';
import { sleep } from './engine.js';

/** The media statistics of the call on `line` (undefined without media). */
export function mediaStats(engine: VoipMediaEngine, line: number): MediaSessionStats | undefined {
  return engine.getActiveCallInfo(line).statistics as MediaSessionStats | undefined;
}

/** RTP packets the line has sent so far: the ticks its media ran while sending. */
export function sentPackets(engine: VoipMediaEngine, line: number): number {
  return mediaStats(engine, line)?.tx.packets ?? 0;
}

/**
 * Waits until `line` has run `ms` of media time (its sent-packet count grew by ms / 20), however
 * long that takes in wall time; gives up after `limitMs` of wall time (a line that stopped
 * sending). Resolves with the number of ticks that ran.
 */
export async function mediaWait(engine: VoipMediaEngine, line: number, ms: number, limitMs = 30000): Promise<number> {
  const from = sentPackets(engine, line);
  const want = Math.round(ms / 20);
  const end = Date.now() + limitMs;
  while (sentPackets(engine, line) - from < want && Date.now() < end) await sleep(10);
  return sentPackets(engine, line) - from;
}

/**
 * Receive-side trouble of a line so far, in frames: frames it concealed (lost or late packets,
 * playout gaps) and frames its jitter buffer dropped to shrink its delay. Media tests compare
 * damaged 20 ms blocks of what a line heard against the growth of this figure.
 */
export function receiveTrouble(engine: VoipMediaEngine, line: number): number {
  const s = mediaStats(engine, line);
  return s === undefined ? 0 : s.concealedFrames + s.jitter.dropped;
}

/**
 * Number of `blockMs` blocks of `pcm` in which the tone at `freq` is not the content: its
 * Goertzel level is below `minDb` of the block's total power (silence counts as damaged).
 */
export function blocksWithoutTone(pcm: Int16Array, rate: number, freq: number, blockMs = 20, minDb = -6): number {
  const n = Math.round((rate * blockMs) / 1000);
  let bad = 0;
  for (let start = 0; start + n <= pcm.length; start += n) {
    if (!(toneLevelDb(pcm, rate, freq, start, start + n) >= minDb)) bad++;
  }
  return bad;
}
