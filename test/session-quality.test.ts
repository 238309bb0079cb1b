/**
 * A live session's quality inputs (what a media floor writes every tick into a call's shared
 * slot) are those of its statistics of the same moment: one mapping (media/quality.ts
 * `qualityInputsOf`) reads the live counters and the statistics alike, across a codec change
 * (which replaces the session's counters) and with the jitter buffer in pass-through. The RTP
 * counters a floor copies for the metrics (media/rtpCounters.ts) are those of its statistics too.
 */
import test, { type ExecutionContext } from 'ava';
import { newQualityInputs, QUALITY_INPUT_FIELDS, qualityInputsOf, readQualityInputs, type CallQualityInputs } from '../media/quality.js';
import type { MediaSession } from '../media/session.js';
import { readRtpCounters, RTP_COUNTER_FIELDS, rtpCountersOf } from '../media/rtpCounters.js';
import { pair, params } from './helpers/sessionPair.js';
import { until } from './helpers/observe.js';

/** The session's written inputs and those of its statistics, read in one go (no tick between). */
function both(s: MediaSession): { written: CallQualityInputs; ofStats: CallQualityInputs } {
  const slot = new Int32Array(QUALITY_INPUT_FIELDS);
  s.writeQualityInputs(slot, 0);
  const ofStats = qualityInputsOf(s.stats(), newQualityInputs());
  return { written: readQualityInputs(slot, 0, newQualityInputs()), ofStats };
}

/** Equal inputs; jitter and round trip as the slot keeps them, to the µs. The RTP counters too. */
function same(t: ExecutionContext, s: MediaSession, what: string): CallQualityInputs {
  const counters = new Int32Array(RTP_COUNTER_FIELDS + 2).fill(7);
  s.writeRtpCounters(counters, 1);
  t.deepEqual(readRtpCounters(counters, 1), rtpCountersOf(s.stats()), `${what}: RTP counters`);
  t.deepEqual([counters[0], counters[RTP_COUNTER_FIELDS + 1]], [7, 7], `${what}: the counters stay in their fields`);
  const { written, ofStats } = both(s);
  t.deepEqual(
    [written.expected, written.lost, written.discarded, written.jitterBufferMs, written.rttMs === undefined],
    [ofStats.expected, ofStats.lost, ofStats.discarded, ofStats.jitterBufferMs, ofStats.rttMs === undefined],
    what,
  );
  t.true(Math.abs(written.jitterMs - ofStats.jitterMs) <= 0.0005, `${what}: jitter ${written.jitterMs} vs ${ofStats.jitterMs}`);
  t.true(Math.abs((written.rttMs ?? 0) - (ofStats.rttMs ?? 0)) <= 0.0005, `${what}: rtt ${written.rttMs} vs ${ofStats.rttMs}`);
  return written;
}

test.serial('a live session writes the quality inputs its statistics give', async (t) => {
  const { a, b } = await pair(t, 'PCMU', { a: { rtcpIntervalMs: 200 }, b: { rtcpIntervalMs: 200 } });
  const fresh = same(t, b, 'before anything arrived');
  t.is(fresh.expected, 0);
  a.playTone([1000]);
  b.playTone([700]);
  t.true(await until(() => b.stats().rttMs !== undefined && b.stats().rx.expected > 50, 10000), 'RTP and a round trip');
  const live = same(t, b, 'buffering, with a round trip');
  t.true(live.expected > 50 && live.jitterBufferMs > 0 && live.rttMs !== undefined);
  b.enableJitter(false);
  t.is(same(t, b, 'pass-through').jitterBufferMs, 0);
  // a codec change replaces the session's receive statistics and jitter buffer: the live view follows
  t.true(b.configure(params('PCMA', a.localPort)));
  t.true(a.configure(params('PCMA', b.localPort)));
  const before = b.stats().rx.expected;
  t.true(await until(() => b.stats().rx.expected > before + 20, 10000), 'RTP after the change');
  same(t, b, 'after a codec change');
});
