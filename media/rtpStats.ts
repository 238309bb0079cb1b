/**
 * Per-stream RTP statistics: the receive side follows RFC 3550 appendix A.1 (sequence
 * validation), A.3 (expected/lost/fraction) and A.8 (interarrival jitter) and fills RTCP
 * report blocks; the send side keeps what an SR needs. The per-packet update paths are plain
 * arithmetic on fields and one small typed array: they allocate nothing.
 * @module
 */
import { RtpParseResult, tsDiff } from './rtp.js';
import {
  dlsrFromDelayMs,
  ntpMiddle32,
  rtcpRoundTripMs,
  type RtcpReportBlock,
} from './rtcp.js';

const RTP_SEQ_MOD = 65536;

/** What {@link RtpReceiveStats.update} decided about a packet. */
export const RtpSeqStatus = {
  /** In order (possibly after a gap): play it. */
  Valid: 0,
  /** The source is still on probation (appendix A.1): not yet counted. */
  Probation: 1,
  /** Arrived after a later packet, first copy: play it if the jitter buffer still can. */
  Reordered: 2,
  /** Already received: drop it. */
  Duplicate: 3,
  /** A large jump; dropped unless the next packet confirms it (then `Resync`). */
  BadSeq: 4,
  /** The sender restarted its sequence; statistics start over from this packet. */
  Resync: 5,
} as const;

/** One of the {@link RtpSeqStatus} codes. */
export type RtpSeqStatus = (typeof RtpSeqStatus)[keyof typeof RtpSeqStatus];

/** Tuning of the appendix A.1 validator. */
export interface RtpReceiveStatsOptions {
  /** RTP clock rate of the payload (8000 for G.711, 48000 for Opus). */
  clockRate: number;
  /** Sequential packets needed before a source is valid (A.1 MIN_SEQUENTIAL). Default 2. */
  minSequential?: number;
  /** Largest forward jump still taken as loss, not restart (A.1 MAX_DROPOUT). Default 3000. */
  maxDropout?: number;
  /** Largest backward step still taken as reordering (A.1 MAX_MISORDER). Default 100. */
  maxMisorder?: number;
}

/** A plain copy of the receive statistics, for applications and logs. */
export interface RtpReceiveStatsSnapshot {
  /** SSRC being measured (0 before the first {@link RtpReceiveStats.onSsrcChange}). */
  ssrc: number;
  /** Every packet handed to `update`, whatever the verdict. */
  packetsIn: number;
  /** Packets counted by appendix A.1 (duplicates included, as section 6.4.1 defines). */
  received: number;
  /** Packets expected from the first validated to the highest sequence number. */
  expected: number;
  /** `expected - received`; may be negative with duplicates. */
  lost: number;
  /** `lost / expected` over the whole stream, 0..1. */
  lossRatio: number;
  /** Fraction lost computed for the last report block, 0..1. */
  lastFractionLost: number;
  /** Extended highest sequence number (cycles * 65536 + max seq). */
  extendedHighestSeq: number;
  /** Sequence-number wraps seen. */
  cycles: number;
  /** Interarrival jitter in timestamp units. */
  jitter: number;
  /** Interarrival jitter in milliseconds. */
  jitterMs: number;
  /** Copies of packets already received. */
  duplicates: number;
  /** Packets that arrived after a later one (late but not duplicate). */
  reordered: number;
  /** Packets dropped as a jump that the next packet did not confirm. */
  badSeq: number;
  /** Times the validator restarted on a confirmed jump. */
  resyncs: number;
  /** Packets seen while the source was on probation. */
  probation: number;
  /** Datagrams that failed to parse, all reasons. */
  malformed: number;
  /** Of those, the ones with a version other than 2. */
  badVersion: number;
  /** Packets with a payload type the session did not negotiate (counted by the caller). */
  unknownPayloadType: number;
  /** SSRC changes reported by the caller. */
  ssrcChanges: number;
  /** Bytes handed to `update`. */
  bytes: number;
}

/**
 * Receive statistics of one RTP stream (RFC 3550 appendix A). One instance per stream, fed
 * once per packet by the receive path; {@link RtpReceiveStats.fillReportBlock} builds the
 * RTCP report block every few seconds.
 */
export class RtpReceiveStats {
  /** SSRC being measured. */
  ssrc = 0;
  private ssrcKnown = false;

  private readonly clockRate: number;
  private readonly minSequential: number;
  private readonly maxDropout: number;
  private readonly maxMisorder: number;

  // appendix A.1 state
  private started = false;
  private probationLeft = 0;
  private maxSeq = 0;
  private cycles = 0;
  private baseSeq = 0;
  private badSeqNext = RTP_SEQ_MOD + 1;
  private received = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;

  // appendix A.8 state
  private jitterTs = 0;
  private haveTransit = false;
  private lastArrivalMs = 0;
  private lastTimestamp = 0;

  // duplicate detection: one bit per sequence number in a window behind maxSeq
  private readonly seen: Uint32Array;
  private readonly windowMask: number;

  // SR bookkeeping for LSR/DLSR
  private lastSrMiddle = 0;
  private lastSrArrivalMs = 0;

  private lastFraction = 0;

  /** Every packet handed to `update`. */
  packetsIn = 0;
  /** Duplicates dropped. */
  duplicates = 0;
  /** Late (reordered) first copies. */
  reordered = 0;
  /** Unconfirmed jumps dropped. */
  badSeq = 0;
  /** Confirmed restarts. */
  resyncs = 0;
  /** Packets seen during probation. */
  probation = 0;
  /** Parse failures. */
  malformed = 0;
  /** Parse failures with a bad version. */
  badVersion = 0;
  /** Packets with an unnegotiated payload type. */
  unknownPayloadType = 0;
  /** SSRC changes. */
  ssrcChanges = 0;
  /** Bytes received. */
  bytes = 0;

  /** Creates the statistics of one stream at `options.clockRate`. */
  constructor(options: RtpReceiveStatsOptions) {
    this.clockRate = options.clockRate;
    this.minSequential = Math.max(1, Math.floor(options.minSequential ?? 2));
    this.maxDropout = options.maxDropout ?? 3000;
    this.maxMisorder = options.maxMisorder ?? 100;
    let win = 128;
    while (win <= this.maxMisorder) win *= 2;
    this.seen = new Uint32Array(win / 32);
    this.windowMask = win - 1;
  }

  /**
   * The source changed SSRC (or is heard for the first time): sequence validation starts over
   * with probation. Cumulative counters are kept; only a change from a known SSRC counts.
   */
  onSsrcChange(ssrc: number): void {
    if (this.ssrcKnown && ssrc !== this.ssrc) this.ssrcChanges++;
    this.ssrc = ssrc >>> 0;
    this.ssrcKnown = true;
    this.started = false;
    this.haveTransit = false;
    this.jitterTs = 0;
    this.lastSrMiddle = 0;
    this.lastSrArrivalMs = 0;
  }

  /** Counts a datagram that failed `parseRtp`; pass its code to separate bad versions. */
  countMalformed(code?: RtpParseResult): void {
    this.malformed++;
    if (code === RtpParseResult.BadVersion) this.badVersion++;
  }

  /** Counts a packet whose payload type the session does not know. */
  countUnknownPayloadType(): void {
    this.unknownPayloadType++;
  }

  private initSeq(seq: number): void {
    this.baseSeq = seq;
    this.maxSeq = seq;
    this.badSeqNext = RTP_SEQ_MOD + 1;
    this.cycles = 0;
    this.received = 0;
    this.receivedPrior = 0;
    this.expectedPrior = 0;
    this.seen.fill(0);
    this.markSeen(seq);
  }

  private markSeen(seq: number): void {
    const bit = seq & this.windowMask;
    this.seen[bit >>> 5]! |= 1 << (bit & 31);
  }

  private wasSeen(seq: number): boolean {
    const bit = seq & this.windowMask;
    return (this.seen[bit >>> 5]! & (1 << (bit & 31))) !== 0;
  }

  /** Clears the window bits for the sequence numbers between the old and the new maximum. */
  private advanceWindow(from: number, steps: number): void {
    if (steps > this.windowMask) {
      this.seen.fill(0);
      return;
    }
    for (let i = 1; i <= steps; i++) {
      const bit = (from + i) & this.windowMask;
      this.seen[bit >>> 5]! &= ~(1 << (bit & 31));
    }
  }

  /**
   * Accounts one parsed packet: sequence `seq`, RTP `timestamp`, arrival time in ms (any
   * monotonic origin), `bytes` on the wire. Returns what the validator decided; the caller
   * drops `Probation`, `Duplicate` and `BadSeq` packets.
   */
  update(seq: number, timestamp: number, arrivalMs: number, bytes: number): RtpSeqStatus {
    this.packetsIn++;
    this.bytes += bytes;
    seq &= 0xffff;
    if (!this.started) {
      // a source heard for the first time (A.1): on probation until MIN_SEQUENTIAL in a row
      this.started = true;
      this.initSeq(seq);
      this.maxSeq = (seq - 1) & 0xffff;
      this.probationLeft = this.minSequential;
    }
    let status: RtpSeqStatus = RtpSeqStatus.Valid;
    const udelta = (seq - this.maxSeq) & 0xffff;
    if (this.probationLeft > 0) {
      if (seq === ((this.maxSeq + 1) & 0xffff)) {
        this.probationLeft--;
        this.maxSeq = seq;
        if (this.probationLeft === 0) {
          this.initSeq(seq);
          this.received++;
          this.jitterSample(timestamp, arrivalMs);
          return RtpSeqStatus.Valid;
        }
      } else {
        this.probationLeft = this.minSequential - 1;
        this.maxSeq = seq;
      }
      this.probation++;
      return RtpSeqStatus.Probation;
    } else if (udelta < this.maxDropout) {
      if (udelta === 0) {
        this.duplicates++;
        this.received++; // section 6.4.1 counts duplicates as received
        return RtpSeqStatus.Duplicate;
      }
      // in order, with a permissible gap
      if (seq < this.maxSeq) this.cycles += RTP_SEQ_MOD;
      this.advanceWindow(this.maxSeq, udelta);
      this.maxSeq = seq;
      this.markSeen(seq);
    } else if (udelta <= RTP_SEQ_MOD - this.maxMisorder) {
      // a very large jump
      if (seq === this.badSeqNext) {
        // two sequential packets: the other side restarted without telling us
        this.initSeq(seq);
        this.resyncs++;
        this.haveTransit = false;
        status = RtpSeqStatus.Resync;
      } else {
        this.badSeqNext = (seq + 1) & 0xffff;
        this.badSeq++;
        return RtpSeqStatus.BadSeq;
      }
    } else {
      // behind the maximum by less than MAX_MISORDER: duplicate or reordered
      if (this.wasSeen(seq)) {
        this.duplicates++;
        this.received++;
        return RtpSeqStatus.Duplicate;
      }
      this.markSeen(seq);
      this.reordered++;
      status = RtpSeqStatus.Reordered;
    }
    this.received++;
    this.jitterSample(timestamp, arrivalMs);
    return status;
  }

  /** Appendix A.8, computed from differences so 32-bit timestamp wrap does no harm. */
  private jitterSample(timestamp: number, arrivalMs: number): void {
    if (this.haveTransit) {
      const arrivalUnits = ((arrivalMs - this.lastArrivalMs) * this.clockRate) / 1000;
      let d = arrivalUnits - tsDiff(timestamp, this.lastTimestamp);
      if (d < 0) d = -d;
      this.jitterTs += (d - this.jitterTs) / 16;
    }
    this.haveTransit = true;
    this.lastArrivalMs = arrivalMs;
    this.lastTimestamp = timestamp >>> 0;
  }

  /** Records an SR from this source (for LSR/DLSR in our next report). */
  onSenderReport(ntpSeconds: number, ntpFraction: number, arrivalMs: number): void {
    this.lastSrMiddle = ntpMiddle32(ntpSeconds, ntpFraction);
    this.lastSrArrivalMs = arrivalMs;
  }

  /** True once the source passed probation, i.e. a report block about it makes sense. */
  get valid(): boolean {
    return this.started && this.probationLeft === 0;
  }

  /** Extended highest sequence number received. */
  get extendedHighestSeq(): number {
    return this.cycles + this.maxSeq;
  }

  /** Interarrival jitter, ms (RFC 3550 §6.4.1, the `jitterMs` of a snapshot). */
  get jitterMs(): number {
    return (this.jitterTs * 1000) / this.clockRate;
  }

  /** Packets expected so far (appendix A.3). */
  get expected(): number {
    return this.valid ? this.cycles + this.maxSeq - this.baseSeq + 1 : 0;
  }

  /** Cumulative lost (appendix A.3), unclamped. */
  get lost(): number {
    return this.valid ? this.expected - this.received : 0;
  }

  /** Packets counted as received by appendix A.1. */
  get receivedCount(): number {
    return this.received;
  }

  /** Interarrival jitter in timestamp units. */
  get jitter(): number {
    return this.jitterTs;
  }

  /**
   * Fills `out` with a report block about this source as of `nowMs` (same clock as the
   * `arrivalMs` given to `update`/`onSenderReport`), and starts a new fraction-lost interval.
   * Returns false, leaving `out` untouched, while the source is not valid yet.
   */
  fillReportBlock(out: RtcpReportBlock, nowMs: number): boolean {
    if (!this.valid) return false;
    const expected = this.expected;
    const expectedInterval = expected - this.expectedPrior;
    this.expectedPrior = expected;
    const receivedInterval = this.received - this.receivedPrior;
    this.receivedPrior = this.received;
    const lostInterval = expectedInterval - receivedInterval;
    const fraction = expectedInterval === 0 || lostInterval <= 0 ? 0 : Math.floor((lostInterval * 256) / expectedInterval);
    this.lastFraction = Math.min(255, fraction);
    let lost = expected - this.received;
    if (lost > 0x7fffff) lost = 0x7fffff;
    else if (lost < -0x800000) lost = -0x800000;
    out.ssrc = this.ssrc;
    out.fractionLost = this.lastFraction;
    out.cumulativeLost = lost;
    out.extendedHighestSeq = this.extendedHighestSeq >>> 0;
    out.jitter = Math.floor(this.jitterTs);
    out.lsr = this.lastSrMiddle;
    out.dlsr = this.lastSrMiddle === 0 ? 0 : dlsrFromDelayMs(nowMs - this.lastSrArrivalMs);
    return true;
  }

  /** A plain-object copy of every figure (allocates; call it from applications, not per packet). */
  snapshot(): RtpReceiveStatsSnapshot {
    const expected = this.expected;
    const lost = this.lost;
    return {
      ssrc: this.ssrc,
      packetsIn: this.packetsIn,
      received: this.received,
      expected,
      lost,
      lossRatio: expected > 0 ? Math.max(0, lost) / expected : 0,
      lastFractionLost: this.lastFraction / 256,
      extendedHighestSeq: this.extendedHighestSeq,
      cycles: this.cycles / RTP_SEQ_MOD,
      jitter: this.jitterTs,
      jitterMs: this.jitterMs,
      duplicates: this.duplicates,
      reordered: this.reordered,
      badSeq: this.badSeq,
      resyncs: this.resyncs,
      probation: this.probation,
      malformed: this.malformed,
      badVersion: this.badVersion,
      unknownPayloadType: this.unknownPayloadType,
      ssrcChanges: this.ssrcChanges,
      bytes: this.bytes,
    };
  }
}

/** A plain copy of the send statistics. */
export interface RtpSendStatsSnapshot {
  /** RTP packets sent. */
  packets: number;
  /** Payload octets sent (headers and padding excluded, as the SR defines). */
  octets: number;
  /** RTP timestamp of the last packet sent. */
  lastRtpTimestamp: number;
  /** Wall-clock time (Unix ms) of the last packet sent. */
  lastWallClockMs: number;
  /** Round-trip time from the last report block about our stream, ms. */
  roundTripMs: number | undefined;
  /** Fraction lost the peer reported last, 0..1. */
  remoteFractionLost: number;
  /** Cumulative lost the peer reported last. */
  remoteCumulativeLost: number;
  /** Jitter the peer reported last, in ms. */
  remoteJitterMs: number;
}

/** Send-side figures of one RTP stream: what an SR carries, and what the peer reports back. */
export class RtpSendStats {
  /** RTP packets sent. */
  packets = 0;
  /** Payload octets sent. */
  octets = 0;
  /** RTP timestamp of the last packet sent. */
  lastRtpTimestamp = 0;
  /** Wall-clock time (Unix ms) of the last packet sent. */
  lastWallClockMs = 0;
  /** Last round-trip time, ms. */
  roundTripMs: number | undefined = undefined;
  private remoteFraction = 0;
  private remoteLost = 0;
  private remoteJitter = 0;
  private readonly clockRate: number;

  /** Creates the statistics of one outgoing stream at `clockRate` Hz. */
  constructor(clockRate: number) {
    this.clockRate = clockRate;
  }

  /** Accounts one packet sent with `payloadBytes` of payload at `wallClockMs` (Unix ms). */
  onSent(payloadBytes: number, rtpTimestamp: number, wallClockMs: number): void {
    this.packets++;
    this.octets += payloadBytes;
    this.lastRtpTimestamp = rtpTimestamp >>> 0;
    this.lastWallClockMs = wallClockMs;
  }

  /**
   * RTP timestamp matching wall-clock `wallClockMs`, extrapolated from the last packet sent:
   * the SR must pair its NTP time with the RTP time of the same instant (section 6.4.1).
   */
  rtpTimestampAt(wallClockMs: number): number {
    if (this.packets === 0) return this.lastRtpTimestamp;
    const delta = Math.round(((wallClockMs - this.lastWallClockMs) * this.clockRate) / 1000);
    return (this.lastRtpTimestamp + delta) >>> 0;
  }

  /** Takes a report block the peer sent about our stream, arriving at `arrivalWallClockMs`. */
  onReportBlock(block: RtcpReportBlock, arrivalWallClockMs: number): void {
    this.remoteFraction = block.fractionLost / 256;
    this.remoteLost = block.cumulativeLost;
    this.remoteJitter = (block.jitter * 1000) / this.clockRate;
    const rtt = rtcpRoundTripMs(arrivalWallClockMs, block.lsr, block.dlsr);
    if (rtt !== undefined) this.roundTripMs = rtt;
  }

  /** A plain-object copy of every figure. */
  snapshot(): RtpSendStatsSnapshot {
    return {
      packets: this.packets,
      octets: this.octets,
      lastRtpTimestamp: this.lastRtpTimestamp,
      lastWallClockMs: this.lastWallClockMs,
      roundTripMs: this.roundTripMs,
      remoteFractionLost: this.remoteFraction,
      remoteCumulativeLost: this.remoteLost,
      remoteJitterMs: this.remoteJitter,
    };
  }
}
