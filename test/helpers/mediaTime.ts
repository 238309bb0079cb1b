/**
 * Media time of a line, as a test reference that holds on a loaded machine. The media clock
 * runs one tick per 20 ms slot, but after a stall it runs only a few catch-up ticks and skips
 * the rest, so wall time overstates how much media a line handled. A line that sends sends one
 * RTP packet per tick, so its packet count is the number of ticks that ran: tests wait on it,
 * and compare tick-driven figures (recorded seconds, VU callbacks) against it.
 * @module
 */
import type { Readable } from 'node:stream';
import { TelephonyReturnValue as T, type VoipMediaEngine } from '../../index.js';
import type { IvrSampleRate } from '../../media/ivr.js';
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
 * {@link sentPackets} as of every command sent to the line so far, or undefined when the line's
 * media worker did not answer in time (its figures may predate the last command).
 */
export function sentPacketsNow(engine: VoipMediaEngine, line: number): number | undefined {
  const s = mediaStats(engine, line);
  return s === undefined || s.awaitingFloor === true ? undefined : s.tx.packets;
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

/** The names of a line's media-path figures, in {@link pathFigures}' order. */
export const PATH_FIGURES = ['concealed', 'lost', 'holds', 'underruns', 'dropped', 'late', 'resyncs', 'overflow', 'ivrTxUnderruns', 'txPackets', 'rxPackets', 'mediaConflicts', 'conflictDrops', 'relatches'];

/** A line's receive and send figures, in {@link PATH_FIGURES}' order (zeros without media): what a failure message shows of its path. */
export function pathFigures(engine: VoipMediaEngine, line: number): number[] {
  const s = mediaStats(engine, line);
  if (s === undefined) return PATH_FIGURES.map(() => 0);
  const j = s.jitter;
  return [s.concealedFrames, j.lost, j.holds, j.underruns, j.dropped, j.late, j.resyncs, j.overflow, s.ivrTxUnderruns, s.tx.packets, s.rx.packetsIn, s.mediaConflicts, s.rx.conflictDrops, s.relatches];
}

/** The {@link pathFigures} that changed between two snapshots, as `name delta` words ('none' when none did). */
export function pathChanges(before: number[], after: number[]): string {
  return (
    PATH_FIGURES.map((name, n) => [name, after[n]! - before[n]!] as const)
      .filter(([, d]) => d !== 0)
      .map(([name, d]) => `${name} ${d}`)
      .join(' ') || 'none'
  );
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

/**
 * Waits until `listener` has played (or concealed, or dropped) every frame that `sender` had sent
 * on `senderLine` when this was called: the RTP timestamp of the sender's last packet then is
 * behind the listener's play point. Audio the listener plays from then on left the sender
 * afterwards, so figures counted at the sender from this call on cover all of it, however much
 * a loaded machine stretched the path in between (jitter buffers that grew, packets still in a
 * socket). Gives up after `limitMs` of wall time; resolves true when the point was passed.
 */
export async function playedPastSender(sender: VoipMediaEngine, senderLine: number, listener: VoipMediaEngine, listenerLine: number, limitMs = 30000): Promise<boolean> {
  const sent = mediaStats(sender, senderLine);
  if (sent === undefined || sent.tx.packets === 0) return true;
  const ts = sent.tx.lastRtpTimestamp;
  const end = Date.now() + limitMs;
  for (;;) {
    const s = mediaStats(listener, listenerLine);
    // (a play point exists once a packet came)
    if (s !== undefined && s.jitter.pushed > 0 && ((s.jitter.playoutTimestamp - ts) | 0) > 0) return true;
    if (Date.now() >= end) return false;
    await sleep(10);
  }
}

/**
 * Captures `ms` of media from an Rx IVR channel at `rate`: resolves once that many samples came,
 * however long that takes in wall time (a loaded machine delivers less media than wall time),
 * or with what came when `limitMs` of wall time has passed. The channel is paused, not closed.
 */
export function captureMedia(channel: Readable, ms: number, rate: number, limitMs = 30000): Promise<Int16Array> {
  const want = Math.round((ms * rate) / 1000);
  const chunks: Buffer[] = [];
  let bytes = 0;
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      channel.off('data', onData);
      channel.pause();
      const all = Buffer.concat(chunks);
      const pcm = new Int16Array(Math.min(want, all.length >> 1));
      for (let i = 0; i < pcm.length; i++) pcm[i] = all.readInt16LE(i * 2);
      resolve(pcm);
    };
    const onData = (b: Buffer): void => {
      chunks.push(b);
      bytes += b.length;
      if (bytes >= want * 2) done();
    };
    const timer = setTimeout(done, limitMs);
    channel.on('data', onData);
  });
}

/**
 * Every receive-side event of a line that changes the timeline of what it plays, in frames or
 * events: concealed frames, frames its jitter buffer dropped, underruns (each one rebuffers,
 * inserting frames), packets too far ahead to fit, and restarts. A tone captured across any of
 * them is shifted in phase at that point, so a whole-capture Goertzel level cancels partly.
 */
export function receiveDisturbance(engine: VoipMediaEngine, line: number): number {
  const s = mediaStats(engine, line);
  if (s === undefined) return 0;
  const j = s.jitter;
  return s.concealedFrames + j.dropped + j.underruns + j.overflow + j.resyncs;
}

/**
 * Captures `ms` of media of `line` through an Rx IVR channel at `rate` (`first`, an unread one
 * opened at that rate, then fresh ones; each is closed after its capture), until a capture
 * comes whose receive path was undisturbed throughout ({@link receiveDisturbance} unchanged), at
 * most `attempts` captures; returns the last one either way, with the disturbance each capture
 * saw (the last figure belongs to the returned capture). A loaded machine can starve a jitter
 * buffer, and the receiver then rightly conceals and rebuffers; a test of what a call carries
 * judges a capture the receiver did not have to repair.
 */
export async function undisturbedCapture(
  engine: VoipMediaEngine,
  line: number,
  ms: number,
  rate: IvrSampleRate = 8000,
  first?: Readable,
  attempts = 6,
): Promise<{ pcm: Int16Array; disturbances: number[] }> {
  const disturbances: number[] = [];
  let channel = first;
  for (;;) {
    if (channel === undefined) {
      const r = engine.openRxIvrChannel(line, { sampleRate: rate });
      if (r.result !== T.SipSuccess || !r.channel) throw new Error(`openRxIvrChannel(${line}): ${T[r.result]}`);
      channel = r.channel;
    }
    // an unread channel drops its frames instead of buffering them: the capture starts now
    const before = receiveDisturbance(engine, line);
    let pcm: Int16Array;
    try {
      pcm = await captureMedia(channel, ms, rate);
    } finally {
      engine.closeRxIvrChannel(channel);
      channel = undefined;
    }
    const d = receiveDisturbance(engine, line) - before;
    disturbances.push(d);
    if (d === 0 || disturbances.length >= attempts) return { pcm, disturbances };
  }
}
