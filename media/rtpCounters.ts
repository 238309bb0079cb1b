/**
 * A call's RTP counters as the metrics sum them (engine/metrics.ts), and their place in a media
 * floor's shared slot: a floor copies them there every 250 ms, so a metrics scrape reads the
 * calls in progress without a message per call, and the floor never builds statistics objects
 * for it (it used to push every call's whole statistics once a second: at 1 300 calls on a floor
 * that doubled its send spacing p99 and cost it a few points of a core).
 * @module
 */
import type { MediaSessionStats } from './session.js';

/** The RTP counters of one call (or of many, summed). */
export interface RtpCounters {
  /** RTP packets received (RFC 3550 A.1 count). */
  received: number;
  /** RTP packets sent. */
  sent: number;
  /** Packets lost on the network (RFC 3550 A.3), never below 0. */
  lost: number;
  /** Audio frames concealed by the jitter buffer. */
  concealed: number;
  /** Received SRTP/SRTCP packets dropped for failed authentication. */
  srtpAuthFailures: number;
  /** Received SRTP/SRTCP packets dropped as replays. */
  srtpReplays: number;
}

/** Int32 fields of {@link RtpCounters} in a floor's call slot, in this order. */
export const RTP_COUNTER_FIELDS = 6;
const C_RECEIVED = 0;
const C_SENT = 1;
const C_LOST = 2;
const C_CONCEALED = 3;
const C_AUTH = 4;
const C_REPLAYS = 5;

/** Every counter 0. */
export function zeroRtpCounters(): RtpCounters {
  return { received: 0, sent: 0, lost: 0, concealed: 0, srtpAuthFailures: 0, srtpReplays: 0 };
}

/** The counters of a call's statistics. */
export function rtpCountersOf(s: MediaSessionStats): RtpCounters {
  return {
    received: s.rx.received,
    sent: s.tx.packets,
    lost: Math.max(0, s.rx.lost),
    concealed: s.concealedFrames,
    srtpAuthFailures: s.srtp?.srtpAuthFailures ?? 0,
    srtpReplays: s.srtp?.srtpReplays ?? 0,
  };
}

/** Adds `c` to `into`. */
export function addRtpCounters(into: RtpCounters, c: Readonly<RtpCounters>): void {
  into.received += c.received;
  into.sent += c.sent;
  into.lost += c.lost;
  into.concealed += c.concealed;
  into.srtpAuthFailures += c.srtpAuthFailures;
  into.srtpReplays += c.srtpReplays;
}

/**
 * Writes the counters into `out` at `base` ({@link RTP_COUNTER_FIELDS} Int32), allocation-free.
 * Int32 holds 497 days of a call's 50 packets/s.
 */
export function writeRtpCounters(out: Int32Array, base: number, received: number, sent: number, lost: number, concealed: number, srtpAuthFailures: number, srtpReplays: number): void {
  out[base + C_RECEIVED] = received;
  out[base + C_SENT] = sent;
  out[base + C_LOST] = Math.max(0, lost);
  out[base + C_CONCEALED] = concealed;
  out[base + C_AUTH] = srtpAuthFailures;
  out[base + C_REPLAYS] = srtpReplays;
}

/** Reads what {@link writeRtpCounters} wrote at `base`. */
export function readRtpCounters(from: Int32Array, base: number): RtpCounters {
  return {
    received: from[base + C_RECEIVED]!,
    sent: from[base + C_SENT]!,
    lost: from[base + C_LOST]!,
    concealed: from[base + C_CONCEALED]!,
    srtpAuthFailures: from[base + C_AUTH]!,
    srtpReplays: from[base + C_REPLAYS]!,
  };
}
