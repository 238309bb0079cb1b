/**
 * RTP receive/send statistics (RFC 3550 appendix A.1, A.3, A.8): probation, wrap, seeded
 * random loss, reordering, duplicates, restarts, jitter, and report-block fields.
 */
import test from 'ava';
import fc from 'fast-check';
import { RtpReceiveStats, RtpSendStats, RtpSeqStatus } from '../media/rtpStats.js';
import { RtpParseResult } from '../media/rtp.js';
import { dlsrFromDelayMs, unixMsToNtp, unixMsToNtpMiddle32, type RtcpReportBlock } from '../media/rtcp.js';
import { seededRandom } from './helpers/prng.js';

function blank(): RtcpReportBlock {
  return { ssrc: 0, fractionLost: 0, cumulativeLost: 0, extendedHighestSeq: 0, jitter: 0, lsr: 0, dlsr: 0 };
}

test('probation: a source is valid after MIN_SEQUENTIAL packets in a row', (t) => {
  const s = new RtpReceiveStats({ clockRate: 8000 });
  t.false(s.valid);
  t.is(s.update(100, 0, 0, 172), RtpSeqStatus.Probation);
  t.false(s.valid);
  t.is(s.update(101, 160, 20, 172), RtpSeqStatus.Valid);
  t.true(s.valid);
  t.is(s.receivedCount, 1);
  t.is(s.expected, 1);
  t.is(s.lost, 0);
  // a broken run restarts probation
  const p = new RtpReceiveStats({ clockRate: 8000, minSequential: 3 });
  t.is(p.update(10, 0, 0, 0), RtpSeqStatus.Probation);
  t.is(p.update(12, 0, 0, 0), RtpSeqStatus.Probation);
  t.is(p.update(13, 0, 0, 0), RtpSeqStatus.Probation);
  t.is(p.update(14, 0, 0, 0), RtpSeqStatus.Valid);
  t.is(p.snapshot().probation, 3);
  t.is(p.snapshot().packetsIn, 4);
});

test('sequence wrap at 65535 counts a cycle and no loss', (t) => {
  const s = new RtpReceiveStats({ clockRate: 8000 });
  let seq = 65530;
  for (let i = 0; i < 20; i++, seq = (seq + 1) & 0xffff) s.update(seq, i * 160, i * 20, 172);
  const snap = s.snapshot();
  t.is(snap.cycles, 1);
  t.is(snap.extendedHighestSeq, 65536 + 13);
  t.is(snap.expected, 19);
  t.is(snap.received, 19);
  t.is(snap.lost, 0);
  t.is(snap.reordered, 0);
  t.is(snap.jitter, 0);
});

test('30 % seeded random loss: lost count and fraction are exact', (t) => {
  for (const seed of [1, 7, 12345]) {
    const rand = seededRandom(seed);
    const s = new RtpReceiveStats({ clockRate: 8000 });
    const start = 60000; // wraps during the run
    const total = 10000;
    let delivered = 0;
    let lastDelivered = 0;
    for (let i = 0; i < total; i++) {
      // the first two always arrive so probation ends on packet 2 (base = start + 1)
      if (i >= 2 && rand() < 0.3) continue;
      s.update((start + i) & 0xffff, i * 160, i * 20, 172);
      delivered++;
      lastDelivered = i;
    }
    const expected = lastDelivered - 1 + 1; // from index 1 to lastDelivered
    const received = delivered - 1; // the first packet was on probation
    const lost = expected - received;
    t.is(s.expected, expected);
    t.is(s.receivedCount, received);
    t.is(s.lost, lost);
    const ratio = lost / expected;
    t.true(ratio > 0.27 && ratio < 0.33, String(ratio));
    const b = blank();
    t.true(s.fillReportBlock(b, lastDelivered * 20));
    t.is(b.fractionLost, Math.floor((lost * 256) / expected));
    t.is(b.cumulativeLost, lost);
    t.is(b.extendedHighestSeq, (start + lastDelivered) % 65536 + 65536);
    // a second interval with no traffic reports 0 fraction lost but the same cumulative loss
    t.true(s.fillReportBlock(b, lastDelivered * 20 + 5000));
    t.is(b.fractionLost, 0);
    t.is(b.cumulativeLost, lost);
  }
});

test('fraction lost is computed per interval', (t) => {
  const s = new RtpReceiveStats({ clockRate: 8000 });
  let seq = 0;
  const b = blank();
  for (let i = 0; i < 101; i++) s.update(seq++, 0, 0, 0); // expected 100, none lost
  s.fillReportBlock(b, 0);
  t.is(b.fractionLost, 0);
  for (let i = 0; i < 100; i++) {
    if (i % 4 !== 0) s.update(seq, 0, 0, 0); // lose 1 in 4 (the last one arrives)
    seq++;
  }
  s.update(seq, 0, 0, 0);
  s.fillReportBlock(b, 0);
  t.is(b.fractionLost, Math.floor((25 * 256) / 101));
  t.is(s.snapshot().lastFractionLost, b.fractionLost / 256);
});

test('reordered and duplicate packets are counted', (t) => {
  const s = new RtpReceiveStats({ clockRate: 8000 });
  const seqs = [1, 2, 3, 5, 4, 4, 6, 6, 3];
  const got = seqs.map((q) => s.update(q, q * 160, q * 20, 100));
  t.deepEqual(got, [
    RtpSeqStatus.Probation,
    RtpSeqStatus.Valid,
    RtpSeqStatus.Valid,
    RtpSeqStatus.Valid,
    RtpSeqStatus.Reordered,
    RtpSeqStatus.Duplicate,
    RtpSeqStatus.Valid,
    RtpSeqStatus.Duplicate,
    RtpSeqStatus.Duplicate,
  ]);
  const snap = s.snapshot();
  t.is(snap.reordered, 1);
  t.is(snap.duplicates, 3);
  t.is(snap.expected, 5);
  // section 6.4.1: duplicates count as received, so the loss goes negative
  t.is(snap.received, 8);
  t.is(snap.lost, -3);
  t.is(snap.bytes, 900);
});

test('duplicates are recognised across the wrap', (t) => {
  const s = new RtpReceiveStats({ clockRate: 8000 });
  for (const q of [65533, 65534, 65535, 0, 1]) s.update(q, 0, 0, 0);
  t.is(s.update(65535, 0, 0, 0), RtpSeqStatus.Duplicate);
  t.is(s.update(1, 0, 0, 0), RtpSeqStatus.Duplicate);
  s.update(3, 0, 0, 0);
  t.is(s.update(2, 0, 0, 0), RtpSeqStatus.Reordered);
  t.is(s.update(2, 0, 0, 0), RtpSeqStatus.Duplicate);
});

test('a big jump is dropped unless confirmed, then statistics restart', (t) => {
  const s = new RtpReceiveStats({ clockRate: 8000 });
  for (let q = 0; q < 10; q++) s.update(q, 0, 0, 0);
  t.is(s.update(20000, 0, 0, 0), RtpSeqStatus.BadSeq);
  t.is(s.update(10, 0, 0, 0), RtpSeqStatus.Valid); // the stray was alone
  t.is(s.update(30000, 0, 0, 0), RtpSeqStatus.BadSeq);
  t.is(s.update(30001, 0, 0, 0), RtpSeqStatus.Resync);
  t.is(s.update(30002, 0, 0, 0), RtpSeqStatus.Valid);
  const snap = s.snapshot();
  t.is(snap.badSeq, 2);
  t.is(snap.resyncs, 1);
  t.is(snap.expected, 2);
  t.is(snap.received, 2);
});

test('jitter: a perfectly paced stream stays at 0, a jittery one does not (and wrap is harmless)', (t) => {
  const paced = new RtpReceiveStats({ clockRate: 8000 });
  const base = 0xffffff00; // the timestamp wraps after 2 packets
  for (let i = 0; i < 500; i++) paced.update(i, (base + i * 160) >>> 0, 1000 + i * 20, 172);
  t.true(paced.jitter < 1e-9, String(paced.jitter));

  const rand = seededRandom(99);
  const jittery = new RtpReceiveStats({ clockRate: 8000 });
  for (let i = 0; i < 2000; i++) jittery.update(i, (base + i * 160) >>> 0, 1000 + i * 20 + rand() * 30, 172);
  const snap = jittery.snapshot();
  // uniform 0..30 ms delay: mean |D| is 10 ms = 80 timestamp units
  t.true(snap.jitter > 40 && snap.jitter < 120, String(snap.jitter));
  t.true(Math.abs(snap.jitterMs - snap.jitter / 8) < 1e-9);
});

test('48 kHz jitter is in 48 kHz units', (t) => {
  const s = new RtpReceiveStats({ clockRate: 48000 });
  // every other packet arrives 10 ms late: |D| alternates +-10 ms = 480 units
  for (let i = 0; i < 1000; i++) s.update(i, i * 960, i * 20 + (i % 2) * 10, 100);
  t.true(Math.abs(s.jitter - 480) < 5, String(s.jitter));
});

test('counters maintained for the caller', (t) => {
  const s = new RtpReceiveStats({ clockRate: 8000 });
  s.countMalformed(RtpParseResult.BadVersion);
  s.countMalformed(RtpParseResult.TooShort);
  s.countMalformed();
  s.countUnknownPayloadType();
  s.onSsrcChange(5); // first SSRC: not a change
  s.onSsrcChange(5);
  s.onSsrcChange(6);
  const snap = s.snapshot();
  t.is(snap.malformed, 3);
  t.is(snap.badVersion, 1);
  t.is(snap.unknownPayloadType, 1);
  t.is(snap.ssrcChanges, 1);
  t.is(snap.ssrc, 6);
});

test('an SSRC change restarts validation with probation', (t) => {
  const s = new RtpReceiveStats({ clockRate: 8000 });
  s.onSsrcChange(1);
  for (let q = 0; q < 10; q++) s.update(q, 0, 0, 0);
  s.onSsrcChange(2);
  t.false(s.valid);
  t.is(s.update(5000, 0, 0, 0), RtpSeqStatus.Probation);
  t.is(s.update(5001, 0, 0, 0), RtpSeqStatus.Valid);
  t.is(s.expected, 1);
  const b = blank();
  t.true(s.fillReportBlock(b, 0));
  t.is(b.ssrc, 2);
});

test('report block carries LSR and DLSR of the last SR', (t) => {
  const s = new RtpReceiveStats({ clockRate: 8000 });
  const b = blank();
  t.false(s.fillReportBlock(b, 0), 'no report before the source is valid');
  s.update(1, 0, 0, 0);
  s.update(2, 160, 20, 0);
  s.fillReportBlock(b, 100);
  t.is(b.lsr, 0);
  t.is(b.dlsr, 0);
  const wall = Date.UTC(2024, 1, 2, 3, 4, 5, 678);
  const ntp = unixMsToNtp(wall);
  s.onSenderReport(ntp.seconds, ntp.fraction, 1000);
  s.fillReportBlock(b, 1500);
  t.is(b.lsr, unixMsToNtpMiddle32(wall));
  t.is(b.dlsr, dlsrFromDelayMs(500));
  t.is(b.dlsr, 32768);
});

test('send statistics: counts, extrapolated RTP time and feedback with RTT', (t) => {
  const s = new RtpSendStats(8000);
  t.is(s.rtpTimestampAt(5), 0);
  const t0 = 1_700_000_000_000;
  for (let i = 0; i < 50; i++) s.onSent(160, (0xfffff000 + i * 160) >>> 0, t0 + i * 20);
  t.is(s.packets, 50);
  t.is(s.octets, 8000);
  t.is(s.rtpTimestampAt(t0 + 49 * 20 + 1000), (0xfffff000 + 49 * 160 + 8000) >>> 0);
  const lsr = unixMsToNtpMiddle32(t0);
  s.onReportBlock(
    { ssrc: 1, fractionLost: 64, cumulativeLost: 12, extendedHighestSeq: 50, jitter: 80, lsr, dlsr: dlsrFromDelayMs(100) },
    t0 + 150,
  );
  const snap = s.snapshot();
  t.is(snap.remoteFractionLost, 0.25);
  t.is(snap.remoteCumulativeLost, 12);
  t.is(snap.remoteJitterMs, 10);
  t.truthy(snap.roundTripMs !== undefined && Math.abs(snap.roundTripMs - 50) < 0.1, String(snap.roundTripMs));
});

test('property: any sequence never throws and the verdicts add up', (t) => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 65535 }), { maxLength: 500 }), fc.integer({ min: 1, max: 3 }), (seqs, minSequential) => {
      const s = new RtpReceiveStats({ clockRate: 8000, minSequential });
      const counts = [0, 0, 0, 0, 0, 0];
      seqs.forEach((q, i) => counts[s.update(q, q * 160, i * 20, 1)]!++);
      const snap = s.snapshot();
      return (
        snap.packetsIn === seqs.length &&
        counts[RtpSeqStatus.Probation] === snap.probation &&
        counts[RtpSeqStatus.Reordered] === snap.reordered &&
        counts[RtpSeqStatus.Duplicate] === snap.duplicates &&
        counts[RtpSeqStatus.BadSeq] === snap.badSeq &&
        counts[RtpSeqStatus.Resync] === snap.resyncs &&
        Number.isFinite(snap.jitter) &&
        snap.expected >= 0
      );
    }),
  );
  t.pass();
});
