/**
 * Call quality from receive statistics: the ITU-T G.107 E-model in its simplified form (the
 * transmission-planning defaults of G.107 with only the impairments a VoIP endpoint can measure),
 * giving the R-factor and the conversational-quality MOS (MOS-CQE of P.800.1).
 *
 * R = Ro − Is − Id − Ie,eff + A, where Ro − Is = 93.2 with every G.107 default, A = 0:
 * - Id, delay impairment, from the one-way mouth-to-ear delay Ta in ms. We use the fit of Cole
 *   and Rosenbluth ("Voice over IP performance monitoring", ACM CCR 2001) to G.107 with its
 *   default echo values: Id = 0.024·Ta + 0.11·(Ta − 177.3)·H(Ta − 177.3). Ta is estimated as
 *   RTT/2 (network, from RTCP) + jitter-buffer target delay + packetization time.
 * - Ie,eff = Ie + (95 − Ie)·Ppl / (Ppl / BurstR + Bpl) (G.107 eq. 7-29) with Ppl the packet loss
 *   in percent and BurstR = 1 (random loss: the receive statistics do not tell bursts apart).
 * - MOS = 1 + 0.035·R + R·(R − 60)·(100 − R)·7·10⁻⁶ for 0 < R < 100 (G.107 eq. B-4).
 *
 * Codec values (see {@link codecImpairment}): G.711 Ie = 0, Bpl = 25.1, the G.113 Appendix I
 * figure for G.711 with packet-loss concealment, because the engine's jitter buffer conceals
 * lost frames (frame repeat with fade) instead of playing zeros; 4.3, the figure without
 * concealment, models silence insertion, which the engine does not do. For Opus ITU-T gives no
 * narrowband Ie or Bpl; we rate it on the same narrowband scale with Ie = 0 and Bpl = 25.1 (the
 * G.711-with-PLC values): Opus at the rates used here is at least as good as G.711 and brings its
 * own PLC, so this under- rather than over-states it, and the two codecs' figures stay comparable.
 * G.722 is rated like G.711; G.729 and GSM take their G.113 values (see `IMPAIRMENTS`).
 *
 * Pure functions: no state, no I/O, never throw (non-finite input is treated as 0).
 * @module
 */
import type { CodecName } from './codecs.js';

/** R with every G.107 default (Ro − Is; no delay, no codec, no loss). */
export const R_DEFAULT = 93.2;

/** Packetization time the media path uses, ms (one 20 ms frame per packet). */
export const PACKETIZATION_MS = 20;

/** Equipment impairment and packet-loss robustness of a codec (G.107 Ie and Bpl). */
export interface CodecImpairment {
  /** Equipment impairment factor Ie, error-free. */
  ie: number;
  /** Packet-loss robustness factor Bpl. */
  bpl: number;
}

/** The call-quality figure of one call, as `getCallQuality` and `SipCallComplete` report it. */
export interface CallQuality {
  /** Conversational MOS from R (1..4.5; 4.41 is the best narrowband G.711 can have). */
  mos: number;
  /** E-model transmission rating R (0..100). */
  rFactor: number;
  /** Packets lost on the network, percent of those expected (RFC 3550 A.3). */
  lossPercent: number;
  /** Packets that arrived too late for the jitter buffer, percent of those expected. */
  discardPercent: number;
  /** Interarrival jitter of the received stream (RFC 3550 A.8), ms. */
  jitterMs: number;
  /** Round-trip time from RTCP, ms; undefined until an RTCP report gave one (then counted as 0). */
  rttMs: number | undefined;
  /** Estimated one-way mouth-to-ear delay used for Id: RTT/2 + jitter buffer + packetization, ms. */
  oneWayDelayMs: number;
  /** Codec the figure was computed for. */
  codec: CodecName;
}

/** What {@link computeCallQuality} needs. */
export interface QualityInput {
  /** Codec of the received stream. */
  codec: CodecName;
  /** Packets expected (RFC 3550 A.3). */
  expected: number;
  /** Packets lost on the network (may be negative with duplicates: counted as 0). */
  lost: number;
  /** Packets the jitter buffer discarded as too late. */
  discarded: number;
  /** Interarrival jitter, ms. */
  jitterMs: number;
  /** Round-trip time from RTCP, ms, when known. */
  rttMs: number | undefined;
  /** Jitter buffer delay, ms. */
  jitterBufferMs: number;
  /** Packetization time, ms (default {@link PACKETIZATION_MS}). */
  packetizationMs?: number;
}

/**
 * Ie and Bpl per codec (see the module comment). G.722 and Opus are rated on the narrowband
 * scale like G.711 with concealment. G.729: G.113 Appendix I's G.729A + VAD (Ie 11, Bpl 19).
 * GSM 06.10 full rate: G.113's Ie 20; G.113 gives no Bpl for it, so it takes GSM-EFR's 10,
 * the least loss-robust of the published values, rather than flatter an old codec. G.726 at
 * 32 kbit/s: G.113 Appendix I's Ie 7, and for want of a published Bpl the same 10.
 */
const IMPAIRMENTS: Readonly<Record<CodecName, CodecImpairment>> = Object.freeze({
  PCMU: Object.freeze({ ie: 0, bpl: 25.1 }),
  PCMA: Object.freeze({ ie: 0, bpl: 25.1 }),
  G722: Object.freeze({ ie: 0, bpl: 25.1 }),
  opus: Object.freeze({ ie: 0, bpl: 25.1 }),
  G729: Object.freeze({ ie: 11, bpl: 19 }),
  GSM: Object.freeze({ ie: 20, bpl: 10 }),
  'G726-32': Object.freeze({ ie: 7, bpl: 10 }),
});

/** Ie and Bpl of a codec (see the module comment for where they come from). */
export function codecImpairment(codec: CodecName): CodecImpairment {
  return IMPAIRMENTS[codec] ?? IMPAIRMENTS.PCMU;
}

function finite(x: number, fallback = 0): number {
  return typeof x === 'number' && Number.isFinite(x) ? x : fallback;
}

/** Delay impairment Id for a one-way delay in ms (Cole–Rosenbluth fit of G.107). */
export function delayImpairment(oneWayMs: number): number {
  const d = Math.max(0, finite(oneWayMs));
  return 0.024 * d + (d > 177.3 ? 0.11 * (d - 177.3) : 0);
}

/** Effective equipment impairment Ie,eff (G.107 eq. 7-29) at `lossPercent` (0..100), BurstR 1 by default. */
export function effectiveEquipmentImpairment(c: CodecImpairment, lossPercent: number, burstR = 1): number {
  const p = Math.min(100, Math.max(0, finite(lossPercent)));
  const b = finite(burstR, 1) > 0 ? finite(burstR, 1) : 1;
  if (p === 0) return c.ie;
  return c.ie + ((95 - c.ie) * p) / (p / b + c.bpl);
}

/** MOS from R (G.107 Annex B, eq. B-4): 1 below R = 0, 4.5 above R = 100. */
export function mosFromR(r: number): number {
  const x = finite(r);
  if (x <= 0) return 1;
  if (x >= 100) return 4.5;
  // the G.107 cubic dips just below 1 for 0 < R < 6.5; MOS is never below 1 (P.800.1), and
  // clamping keeps it from rising as R falls in that range
  return Math.max(1, 1 + 0.035 * x + x * (x - 60) * (100 - x) * 7e-6);
}

/** R = 93.2 − Id − Ie,eff, clamped to 0..100. */
export function rFactor(codec: CodecName, lossPercent: number, oneWayDelayMs: number): number {
  const r = R_DEFAULT - delayImpairment(oneWayDelayMs) - effectiveEquipmentImpairment(codecImpairment(codec), lossPercent);
  return Math.min(100, Math.max(0, r));
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** The quality figure of a call from its receive figures (loss and late discards both count as lost speech). */
export function computeCallQuality(q: QualityInput): CallQuality {
  const expected = Math.max(0, finite(q.expected));
  const lost = Math.max(0, finite(q.lost));
  const discarded = Math.max(0, finite(q.discarded));
  const lossPercent = expected > 0 ? Math.min(100, (100 * lost) / expected) : 0;
  const discardPercent = expected > 0 ? Math.min(100 - lossPercent, (100 * discarded) / expected) : 0;
  const rtt = q.rttMs === undefined || !Number.isFinite(q.rttMs) || q.rttMs < 0 ? undefined : q.rttMs;
  const oneWay = (rtt ?? 0) / 2 + Math.max(0, finite(q.jitterBufferMs)) + Math.max(0, finite(q.packetizationMs ?? PACKETIZATION_MS));
  const r = rFactor(q.codec, lossPercent + discardPercent, oneWay);
  return {
    mos: round(mosFromR(r), 2),
    rFactor: round(r, 1),
    lossPercent: round(lossPercent, 2),
    discardPercent: round(discardPercent, 2),
    jitterMs: round(Math.max(0, finite(q.jitterMs)), 2),
    rttMs: rtt === undefined ? undefined : round(rtt, 1),
    oneWayDelayMs: round(oneWay, 1),
    codec: q.codec,
  };
}

/**
 * What the quality figure reads of a call's statistics: its receive figures, its jitter
 * buffer's and the round trip. A session's statistics (`MediaSessionStats`) have this shape, and
 * a live session gives a view of its counters in it that allocates nothing (media/session.ts),
 * so the figure a media floor publishes every tick reads the same fields, through
 * {@link qualityInputsOf}, as the one judged from the statistics.
 */
export interface QualityStats {
  /** Receive figures (RFC 3550 A.3, A.8). */
  readonly rx: { readonly expected: number; readonly lost: number; readonly jitterMs: number };
  /** The jitter buffer's late frames, whether it buffers, and its target delay. */
  readonly jitter: { readonly late: number; readonly enabled: boolean; readonly targetDelayMs: number };
  /** Round-trip time from RTCP, ms, once known. */
  readonly rttMs: number | undefined;
}

/**
 * A call's quality inputs: {@link QualityInput} less the codec (known apart) and the
 * packetization (the default). One shape for the figure judged from statistics, from a live
 * session, and from a media floor's shared counters ({@link writeQualityInputs}).
 */
export type CallQualityInputs = Omit<QualityInput, 'codec' | 'packetizationMs'>;

/** Inputs of a call that has received nothing (to be filled by {@link qualityInputsOf} or {@link readQualityInputs}). */
export function newQualityInputs(): CallQualityInputs {
  return { expected: 0, lost: 0, discarded: 0, jitterMs: 0, rttMs: undefined, jitterBufferMs: 0 };
}

/**
 * The quality inputs of statistics, into `out` (allocation-free): the one place the statistics
 * map to the figure's inputs. Late discards count as lost speech; the jitter buffer's delay
 * counts only while it buffers (in pass-through it adds none).
 */
export function qualityInputsOf(s: QualityStats, out: CallQualityInputs): CallQualityInputs {
  const rx = s.rx;
  const jb = s.jitter;
  out.expected = rx.expected;
  out.lost = rx.lost;
  out.discarded = jb.late;
  out.jitterMs = rx.jitterMs;
  out.rttMs = s.rttMs;
  out.jitterBufferMs = jb.enabled ? jb.targetDelayMs : 0;
  return out;
}

/**
 * The quality figure of `q` for `codec`; undefined while nothing has been received (no codec,
 * or no packet past RFC 3550 probation): there is nothing to judge yet.
 */
export function callQualityOf(codec: CodecName | null, q: Readonly<CallQualityInputs>): CallQuality | undefined {
  if (!codec || q.expected <= 0) return undefined;
  return computeCallQuality({ ...q, codec });
}

/** The quality figure from a media session's statistics (see {@link callQualityOf}). */
export function callQualityFromStats(s: QualityStats & { readonly codec: CodecName | null }): CallQuality | undefined {
  return callQualityOf(s.codec, qualityInputsOf(s, newQualityInputs()));
}

/** Int32 fields of a call's quality inputs as a media floor publishes them (see {@link writeQualityInputs}). */
export const QUALITY_INPUT_FIELDS = 6;
const Q_EXPECTED = 0;
const Q_LOST = 1;
const Q_DISCARDED = 2;
const Q_JITTER_US = 3;
/** Round trip in µs, −1 while unknown. */
const Q_RTT_US = 4;
/** Jitter-buffer delay in ms, 0 in pass-through. */
const Q_BUFFER_MS = 5;

/**
 * Writes a call's quality inputs into shared counters at `base` ({@link QUALITY_INPUT_FIELDS}
 * Int32), allocation-free: a media floor does it every tick so that the main thread can judge a
 * call's quality as it ends without waiting on the floor (engine/mediaWorkers.ts). Jitter and
 * round trip are kept to the µs, the buffer's delay to the ms: finer than the figure shows.
 */
export function writeQualityInputs(out: Int32Array, base: number, q: Readonly<CallQualityInputs>): void {
  out[base + Q_EXPECTED] = q.expected;
  out[base + Q_LOST] = q.lost;
  out[base + Q_DISCARDED] = q.discarded;
  out[base + Q_JITTER_US] = Math.round(q.jitterMs * 1000);
  out[base + Q_RTT_US] = q.rttMs === undefined ? -1 : Math.round(q.rttMs * 1000);
  out[base + Q_BUFFER_MS] = Math.round(q.jitterBufferMs);
}

/** Reads the inputs {@link writeQualityInputs} wrote at `base` into `out`. */
export function readQualityInputs(a: Int32Array, base: number, out: CallQualityInputs): CallQualityInputs {
  const rtt = a[base + Q_RTT_US] ?? -1;
  out.expected = a[base + Q_EXPECTED] ?? 0;
  out.lost = a[base + Q_LOST] ?? 0;
  out.discarded = a[base + Q_DISCARDED] ?? 0;
  out.jitterMs = (a[base + Q_JITTER_US] ?? 0) / 1000;
  out.rttMs = rtt < 0 ? undefined : rtt / 1000;
  out.jitterBufferMs = a[base + Q_BUFFER_MS] ?? 0;
  return out;
}

/**
 * The quality figure from inputs written by {@link writeQualityInputs}: the same figure as
 * {@link callQualityFromStats} of the same moment; undefined while nothing has been received.
 */
export function callQualityFromInputs(codec: CodecName | null, a: Int32Array, base: number): CallQuality | undefined {
  return callQualityOf(codec, readQualityInputs(a, base, newQualityInputs()));
}
