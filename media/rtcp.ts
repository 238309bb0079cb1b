/**
 * RTCP (RFC 3550 section 6): writers for SR, RR, SDES CNAME and BYE into caller-owned buffers,
 * a compound builder, a parser that turns any compound packet (or any garbage) into plain
 * objects or an error result without throwing, and the NTP/LSR/DLSR arithmetic for the
 * round-trip time (section 6.4.1).
 *
 * RTCP goes out every few seconds per stream, so the parser may allocate; the writers still
 * take a caller buffer so a session can reuse one.
 * @module
 */

/** RTCP packet type: sender report. */
export const RTCP_SR = 200;
/** RTCP packet type: receiver report. */
export const RTCP_RR = 201;
/** RTCP packet type: source description. */
export const RTCP_SDES = 202;
/** RTCP packet type: goodbye. */
export const RTCP_BYE = 203;
/** RTCP packet type: application-defined. */
export const RTCP_APP = 204;

/** SDES item type of the canonical name (section 6.5.1). */
export const SDES_CNAME = 1;

/** Seconds between the NTP epoch (1900) and the Unix epoch (1970). */
export const NTP_UNIX_OFFSET_S = 2208988800;

const TWO_POW_32 = 4294967296;
/** Report count is a 5-bit field. */
const MAX_REPORTS = 31;
const REPORT_BLOCK_SIZE = 24;

/** One reception report block (section 6.4.1), as written into SR/RR and as parsed. */
export interface RtcpReportBlock {
  /** SSRC of the source this block reports on. */
  ssrc: number;
  /** Fraction lost since the previous report, as a fixed-point 0..255 (256 = 100 %). */
  fractionLost: number;
  /** Cumulative packets lost; signed 24 bits (duplicates can make it negative). */
  cumulativeLost: number;
  /** Extended highest sequence number received (cycles << 16 | max seq). */
  extendedHighestSeq: number;
  /** Interarrival jitter in timestamp units. */
  jitter: number;
  /** Middle 32 bits of the NTP timestamp of the last SR received from that source, or 0. */
  lsr: number;
  /** Delay since that SR in units of 1/65536 s, or 0. */
  dlsr: number;
}

/** Input of {@link writeSenderReport}. */
export interface RtcpSenderReportInit {
  /** SSRC of the sender. */
  ssrc: number;
  /** Wall-clock time of the report in Unix milliseconds; becomes the NTP timestamp. */
  wallClockMs: number;
  /** RTP timestamp corresponding to the same instant as `wallClockMs`. */
  rtpTimestamp: number;
  /** RTP data packets sent since the start of transmission. */
  packetCount: number;
  /** RTP payload octets sent since the start of transmission. */
  octetCount: number;
  /** Reception reports (at most 31 are written). */
  reports?: readonly RtcpReportBlock[];
}

/** A parsed sender report. */
export interface RtcpSenderReport {
  /** Discriminator. */
  type: 'sr';
  /** SSRC of the sender. */
  ssrc: number;
  /** NTP timestamp, whole seconds since 1900. */
  ntpSeconds: number;
  /** NTP timestamp, fraction of a second in units of 2^-32 s. */
  ntpFraction: number;
  /** The NTP timestamp converted to Unix milliseconds. */
  wallClockMs: number;
  /** RTP timestamp of the same instant. */
  rtpTimestamp: number;
  /** Sender's packet count. */
  packetCount: number;
  /** Sender's octet count. */
  octetCount: number;
  /** Reception report blocks. */
  reports: RtcpReportBlock[];
}

/** A parsed receiver report. */
export interface RtcpReceiverReport {
  /** Discriminator. */
  type: 'rr';
  /** SSRC of the packet's sender. */
  ssrc: number;
  /** Reception report blocks. */
  reports: RtcpReportBlock[];
}

/** One SDES item. */
export interface RtcpSdesItem {
  /** Item type (1 CNAME, 2 NAME, ... 8 PRIV). */
  type: number;
  /** Item text decoded as UTF-8. */
  value: string;
}

/** One SDES chunk: the items describing one source. */
export interface RtcpSdesChunk {
  /** SSRC or CSRC described. */
  ssrc: number;
  /** The items in wire order. */
  items: RtcpSdesItem[];
  /** The CNAME item's value, when present (the one item every compound must carry). */
  cname?: string;
}

/** A parsed source description packet. */
export interface RtcpSdes {
  /** Discriminator. */
  type: 'sdes';
  /** Chunks in wire order. */
  chunks: RtcpSdesChunk[];
}

/** A parsed goodbye packet. */
export interface RtcpBye {
  /** Discriminator. */
  type: 'bye';
  /** Sources that are leaving. */
  ssrcs: number[];
  /** Reason for leaving, when given. */
  reason?: string;
}

/** A parsed application-defined packet. */
export interface RtcpApp {
  /** Discriminator. */
  type: 'app';
  /** 5-bit subtype. */
  subtype: number;
  /** SSRC of the sender. */
  ssrc: number;
  /** Four ASCII characters naming the application. */
  name: string;
  /** Application data (a copy). */
  data: Buffer;
}

/** Any other RTCP packet type (feedback, XR, ...), kept raw. */
export interface RtcpOther {
  /** Discriminator. */
  type: 'other';
  /** The packet type octet. */
  packetType: number;
  /** The 5-bit count/format field. */
  count: number;
  /** Packet body after the 4-byte header, padding removed (a copy). */
  body: Buffer;
}

/** One packet of a compound RTCP packet. */
export type RtcpPacket = RtcpSenderReport | RtcpReceiverReport | RtcpSdes | RtcpBye | RtcpApp | RtcpOther;

/** Why {@link parseRtcp} rejected a datagram. */
export type RtcpParseError =
  | 'too-short'
  | 'bad-version'
  | 'bad-length'
  | 'bad-padding'
  | 'truncated-sr'
  | 'truncated-rr'
  | 'truncated-sdes'
  | 'truncated-bye'
  | 'truncated-app';

/** A datagram {@link parseRtcp} accepted. */
export interface RtcpParseOk {
  /** Discriminator. */
  ok: true;
  /** The packets of the compound, in wire order. */
  packets: RtcpPacket[];
}

/** A datagram {@link parseRtcp} rejected. */
export interface RtcpParseFailure {
  /** Discriminator. */
  ok: false;
  /** What was wrong. */
  error: RtcpParseError;
  /** Byte offset of the sub-packet where it went wrong. */
  offset: number;
}

/** Outcome of {@link parseRtcp}. */
export type RtcpParseResult = RtcpParseOk | RtcpParseFailure;

/* ------------------------------------------------------------------------------------------ */
/* NTP time                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/** A 64-bit NTP timestamp split into 32-bit halves. */
export interface NtpTime {
  /** Whole seconds since 1900-01-01. */
  seconds: number;
  /** Fraction of a second in units of 2^-32 s. */
  fraction: number;
}

/** Converts Unix milliseconds to an NTP timestamp (seconds wrap in 2036 as on the wire). */
export function unixMsToNtp(ms: number): NtpTime {
  return { seconds: ntpSeconds(ms), fraction: ntpFraction(ms) };
}

/** The whole-seconds half of the NTP form of Unix milliseconds `ms` (no object: an SR writes it in place). */
function ntpSeconds(ms: number): number {
  return (Math.floor(ms / 1000) + NTP_UNIX_OFFSET_S) >>> 0;
}

/** The fraction half of the NTP form of Unix milliseconds `ms`, in units of 2^-32 s. */
function ntpFraction(ms: number): number {
  const fracMs = ms - Math.floor(ms / 1000) * 1000;
  return Math.min(TWO_POW_32 - 1, Math.floor((fracMs / 1000) * TWO_POW_32)) >>> 0;
}

/** Converts an NTP timestamp back to Unix milliseconds. */
export function ntpToUnixMs(seconds: number, fraction: number): number {
  return (seconds - NTP_UNIX_OFFSET_S) * 1000 + (fraction / TWO_POW_32) * 1000;
}

/** Middle 32 bits of an NTP timestamp: the "compact" form used for LSR (section 6.4.1). */
export function ntpMiddle32(seconds: number, fraction: number): number {
  return (((seconds & 0xffff) << 16) | (fraction >>> 16)) >>> 0;
}

/** Middle 32 bits of the NTP form of Unix milliseconds `ms`. */
export function unixMsToNtpMiddle32(ms: number): number {
  const n = unixMsToNtp(ms);
  return ntpMiddle32(n.seconds, n.fraction);
}

/** DLSR for a report sent `delayMs` after the last SR arrived: units of 1/65536 s. */
export function dlsrFromDelayMs(delayMs: number): number {
  if (!(delayMs > 0)) return 0;
  return Math.min(0xffffffff, Math.round((delayMs * 65536) / 1000)) >>> 0;
}

/**
 * Round-trip time in ms from a report block that came back to us (section 6.4.1):
 * arrival (as compact NTP) minus LSR minus DLSR. `undefined` when the peer has not yet
 * received an SR (LSR 0) or the result is clearly negative (clock garbage).
 */
export function rtcpRoundTripMs(arrivalWallClockMs: number, lsr: number, dlsr: number): number | undefined {
  if (lsr === 0) return undefined;
  const a = unixMsToNtpMiddle32(arrivalWallClockMs);
  const units = (a - lsr - dlsr) | 0; // signed 32-bit, 1/65536 s
  const ms = (units * 1000) / 65536;
  if (ms < -1) return undefined;
  return ms < 0 ? 0 : ms;
}

/* ------------------------------------------------------------------------------------------ */
/* Writers                                                                                     */
/* ------------------------------------------------------------------------------------------ */

function put32(buf: Buffer, off: number, v: number): void {
  v = v >>> 0;
  buf[off] = v >>> 24;
  buf[off + 1] = (v >>> 16) & 0xff;
  buf[off + 2] = (v >>> 8) & 0xff;
  buf[off + 3] = v & 0xff;
}

function get32(buf: Buffer, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

function putHeader(buf: Buffer, off: number, count: number, pt: number, totalBytes: number): void {
  buf[off] = 0x80 | (count & 0x1f);
  buf[off + 1] = pt;
  const words = totalBytes / 4 - 1;
  buf[off + 2] = (words >>> 8) & 0xff;
  buf[off + 3] = words & 0xff;
}

function putReportBlock(buf: Buffer, off: number, r: RtcpReportBlock): void {
  put32(buf, off, r.ssrc);
  let lost = Math.trunc(r.cumulativeLost);
  if (lost > 0x7fffff) lost = 0x7fffff;
  else if (lost < -0x800000) lost = -0x800000;
  put32(buf, off + 4, (((r.fractionLost & 0xff) << 24) | (lost & 0xffffff)) >>> 0);
  put32(buf, off + 8, r.extendedHighestSeq);
  put32(buf, off + 12, Math.max(0, Math.floor(r.jitter)));
  put32(buf, off + 16, r.lsr);
  put32(buf, off + 20, r.dlsr);
}

/**
 * Writes an SR at `buf[offset]`. Returns the bytes written, or -1 when `buf` lacks room
 * (nothing is thrown: the caller decides whether to grow or skip).
 */
export function writeSenderReport(buf: Buffer, offset: number, sr: RtcpSenderReportInit): number {
  return putSenderReport(buf, offset, sr.ssrc, sr, sr.reports ?? NO_REPORTS);
}

const NO_REPORTS: readonly RtcpReportBlock[] = [];

/** An SR of `ssrc` with `sr`'s figures and `reports`, allocating nothing (the NTP time is computed in place). */
function putSenderReport(
  buf: Buffer,
  offset: number,
  ssrc: number,
  sr: Omit<RtcpSenderReportInit, 'ssrc' | 'reports'>,
  reports: readonly RtcpReportBlock[],
): number {
  const rc = Math.min(reports.length, MAX_REPORTS);
  const size = 28 + rc * REPORT_BLOCK_SIZE;
  if (offset < 0 || offset + size > buf.length) return -1;
  putHeader(buf, offset, rc, RTCP_SR, size);
  put32(buf, offset + 4, ssrc);
  put32(buf, offset + 8, ntpSeconds(sr.wallClockMs));
  put32(buf, offset + 12, ntpFraction(sr.wallClockMs));
  put32(buf, offset + 16, sr.rtpTimestamp);
  put32(buf, offset + 20, sr.packetCount);
  put32(buf, offset + 24, sr.octetCount);
  for (let i = 0; i < rc; i++) putReportBlock(buf, offset + 28 + i * REPORT_BLOCK_SIZE, reports[i]!);
  return size;
}

/** Writes an RR at `buf[offset]`; returns the bytes written or -1 when out of room. */
export function writeReceiverReport(
  buf: Buffer,
  offset: number,
  ssrc: number,
  reports: readonly RtcpReportBlock[] = [],
): number {
  const rc = Math.min(reports.length, MAX_REPORTS);
  const size = 8 + rc * REPORT_BLOCK_SIZE;
  if (offset < 0 || offset + size > buf.length) return -1;
  putHeader(buf, offset, rc, RTCP_RR, size);
  put32(buf, offset + 4, ssrc);
  for (let i = 0; i < rc; i++) putReportBlock(buf, offset + 8 + i * REPORT_BLOCK_SIZE, reports[i]!);
  return size;
}

/**
 * Writes an SDES packet with one chunk carrying a CNAME item (UTF-8, at most 255 bytes;
 * longer names are cut at a character boundary). Returns bytes written or -1.
 */
export function writeSdesCname(buf: Buffer, offset: number, ssrc: number, cname: string): number {
  // a CNAME is ASCII as a rule (user@host): written byte by byte, no call into C++
  let written = asciiLength(cname);
  if (written >= 0 && written <= 255 && sdesFits(buf, offset, written)) {
    for (let i = 0; i < written; i++) buf[offset + 10 + i] = cname.charCodeAt(i);
  } else {
    const textMax = Math.min(255, Buffer.byteLength(cname, 'utf8'));
    if (!sdesFits(buf, offset, textMax)) return -1;
    written = buf.write(cname, offset + 10, textMax, 'utf8');
  }
  put32(buf, offset + 4, ssrc);
  buf[offset + 8] = SDES_CNAME;
  buf[offset + 9] = written;
  const end = offset + 10 + written;
  // item list ends with a null octet, then zeros to the 32-bit boundary
  const size = (end - offset + 1 + 3) & ~3;
  for (let i = end; i < offset + size; i++) buf[i] = 0;
  putHeader(buf, offset, 1, RTCP_SDES, size);
  return size;
}

/** Whether an SDES CNAME chunk with `text` bytes of name fits in `buf` at `offset`. */
function sdesFits(buf: Buffer, offset: number, text: number): boolean {
  // header 4 + ssrc 4 + type 1 + len 1 + text + at least one null octet, padded to 4
  return offset >= 0 && offset + ((4 + 4 + 2 + text + 1 + 3) & ~3) <= buf.length;
}

/** `s.length` when every character of `s` is ASCII (one UTF-8 byte each), else -1. */
function asciiLength(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 127) return -1;
  return s.length;
}

/**
 * Writes a BYE for `ssrcs` (one SSRC, or a list of at most 31) with an optional reason (UTF-8,
 * at most 255 bytes). Returns bytes written or -1.
 */
export function writeBye(buf: Buffer, offset: number, ssrcs: number | readonly number[], reason?: string): number {
  const one = typeof ssrcs === 'number';
  const sc = one ? 1 : Math.min(ssrcs.length, MAX_REPORTS);
  const reasonMax = reason === undefined ? 0 : Math.min(255, Buffer.byteLength(reason, 'utf8'));
  const worst = 4 + sc * 4 + (reason === undefined ? 0 : (1 + reasonMax + 3) & ~3);
  if (offset < 0 || offset + worst > buf.length) return -1;
  if (one) put32(buf, offset + 4, ssrcs);
  else for (let i = 0; i < sc; i++) put32(buf, offset + 4 + i * 4, ssrcs[i]!);
  let size = 4 + sc * 4;
  if (reason !== undefined) {
    const at = offset + size;
    const n = buf.write(reason, at + 1, reasonMax, 'utf8');
    buf[at] = n;
    const padded = (1 + n + 3) & ~3;
    buf.fill(0, at + 1 + n, at + padded);
    size += padded;
  }
  putHeader(buf, offset, sc, RTCP_BYE, size);
  return size;
}

/** What goes into one compound RTCP packet from {@link writeRtcpCompound}. */
export interface RtcpCompoundInit {
  /** Our SSRC. */
  ssrc: number;
  /** Our CNAME (every compound carries SDES CNAME, section 6.1). */
  cname: string;
  /** Present when we sent RTP since the last report: the compound starts with an SR. */
  sender?: Omit<RtcpSenderReportInit, 'ssrc' | 'reports'>;
  /** Reception reports about the sources we hear. */
  reports?: readonly RtcpReportBlock[];
  /** Present when leaving the session: a BYE ends the compound. */
  bye?: RtcpByeInit;
}

/** The BYE of {@link RtcpCompoundInit}. */
export interface RtcpByeInit {
  /** Why we leave (UTF-8, at most 255 bytes). */
  reason?: string;
}

/**
 * Writes SR-or-RR + SDES CNAME (+ BYE) as one compound packet at `buf[offset]`
 * (section 6.1 ordering). Returns the total length, or -1 when `buf` lacks room.
 */
export function writeRtcpCompound(buf: Buffer, offset: number, c: RtcpCompoundInit): number {
  let off = offset;
  const reports = c.reports ?? NO_REPORTS;
  const first = c.sender ? putSenderReport(buf, off, c.ssrc, c.sender, reports) : writeReceiverReport(buf, off, c.ssrc, reports);
  if (first < 0) return -1;
  off += first;
  const sdes = writeSdesCname(buf, off, c.ssrc, c.cname);
  if (sdes < 0) return -1;
  off += sdes;
  if (c.bye) {
    const bye = writeBye(buf, off, c.ssrc, c.bye.reason);
    if (bye < 0) return -1;
    off += bye;
  }
  return off - offset;
}

/* ------------------------------------------------------------------------------------------ */
/* Parser                                                                                      */
/* ------------------------------------------------------------------------------------------ */

function readReportBlocks(buf: Buffer, off: number, count: number): RtcpReportBlock[] {
  const out: RtcpReportBlock[] = [];
  for (let i = 0; i < count; i++, off += REPORT_BLOCK_SIZE) {
    const w = get32(buf, off + 4);
    out.push({
      ssrc: get32(buf, off),
      fractionLost: w >>> 24,
      cumulativeLost: (w << 8) >> 8, // sign-extend 24 bits
      extendedHighestSeq: get32(buf, off + 8),
      jitter: get32(buf, off + 12),
      lsr: get32(buf, off + 16),
      dlsr: get32(buf, off + 20),
    });
  }
  return out;
}

/** Parses SDES chunks in `buf[start..end)`; returns null on any overrun. */
function readSdes(buf: Buffer, pktStart: number, start: number, end: number, count: number): RtcpSdesChunk[] | null {
  const chunks: RtcpSdesChunk[] = [];
  let off = start;
  for (let c = 0; c < count; c++) {
    if (off + 4 > end) return null;
    const chunk: RtcpSdesChunk = { ssrc: get32(buf, off), items: [] };
    off += 4;
    for (;;) {
      if (off >= end) return null;
      const type = buf[off]!;
      if (type === 0) {
        off++;
        // skip the remaining null octets up to the next 32-bit boundary of the packet
        const rel = (off - pktStart + 3) & ~3;
        off = pktStart + rel;
        if (off > end) return null;
        break;
      }
      if (off + 2 > end) return null;
      const len = buf[off + 1]!;
      if (off + 2 + len > end) return null;
      const value = buf.toString('utf8', off + 2, off + 2 + len);
      chunk.items.push({ type, value });
      if (type === SDES_CNAME && chunk.cname === undefined) chunk.cname = value;
      off += 2 + len;
    }
    chunks.push(chunk);
  }
  return chunks;
}

/**
 * Parses a compound RTCP datagram `buf[0..len)`. Every sub-packet must be version 2, the
 * lengths must add up exactly to `len`, and only the last may be padded (section 6.4 and
 * appendix A.2). Reduced-size RTCP (RFC 5506) is accepted: the first packet need not be
 * SR/RR. Never throws; any malformation yields `{ ok: false }` with the offending offset.
 */
export function parseRtcp(buf: Buffer, len: number = buf.length): RtcpParseResult {
  const n = len < buf.length ? len : buf.length;
  if (!(n >= 4)) return { ok: false, error: 'too-short', offset: 0 };
  const packets: RtcpPacket[] = [];
  let off = 0;
  while (off < n) {
    if (off + 4 > n) return { ok: false, error: 'bad-length', offset: off };
    const b0 = buf[off]!;
    if (b0 >>> 6 !== 2) return { ok: false, error: 'bad-version', offset: off };
    const padded = (b0 & 0x20) !== 0;
    const count = b0 & 0x1f;
    const pt = buf[off + 1]!;
    const size = (((buf[off + 2]! << 8) | buf[off + 3]!) + 1) * 4;
    const pktEnd = off + size;
    if (pktEnd > n) return { ok: false, error: 'bad-length', offset: off };
    let end = pktEnd;
    if (padded) {
      if (pktEnd !== n) return { ok: false, error: 'bad-padding', offset: off };
      const pad = buf[pktEnd - 1]!;
      if (pad === 0 || pad > size - 4) return { ok: false, error: 'bad-padding', offset: off };
      end = pktEnd - pad;
    }
    const body = off + 4;
    switch (pt) {
      case RTCP_SR: {
        if (body + 24 + count * REPORT_BLOCK_SIZE > end) return { ok: false, error: 'truncated-sr', offset: off };
        const ntpSeconds = get32(buf, body + 4);
        const ntpFraction = get32(buf, body + 8);
        packets.push({
          type: 'sr',
          ssrc: get32(buf, body),
          ntpSeconds,
          ntpFraction,
          wallClockMs: ntpToUnixMs(ntpSeconds, ntpFraction),
          rtpTimestamp: get32(buf, body + 12),
          packetCount: get32(buf, body + 16),
          octetCount: get32(buf, body + 20),
          reports: readReportBlocks(buf, body + 24, count),
        });
        break;
      }
      case RTCP_RR: {
        if (body + 4 + count * REPORT_BLOCK_SIZE > end) return { ok: false, error: 'truncated-rr', offset: off };
        packets.push({ type: 'rr', ssrc: get32(buf, body), reports: readReportBlocks(buf, body + 4, count) });
        break;
      }
      case RTCP_SDES: {
        const chunks = readSdes(buf, off, body, end, count);
        if (chunks === null) return { ok: false, error: 'truncated-sdes', offset: off };
        packets.push({ type: 'sdes', chunks });
        break;
      }
      case RTCP_BYE: {
        if (body + count * 4 > end) return { ok: false, error: 'truncated-bye', offset: off };
        const ssrcs: number[] = [];
        for (let i = 0; i < count; i++) ssrcs.push(get32(buf, body + i * 4));
        const bye: RtcpBye = { type: 'bye', ssrcs };
        const r = body + count * 4;
        if (r < end) {
          const rlen = buf[r]!;
          if (r + 1 + rlen > end) return { ok: false, error: 'truncated-bye', offset: off };
          bye.reason = buf.toString('utf8', r + 1, r + 1 + rlen);
        }
        packets.push(bye);
        break;
      }
      case RTCP_APP: {
        if (body + 8 > end) return { ok: false, error: 'truncated-app', offset: off };
        packets.push({
          type: 'app',
          subtype: count,
          ssrc: get32(buf, body),
          name: buf.toString('latin1', body + 4, body + 8),
          data: Buffer.from(buf.subarray(body + 8, end)),
        });
        break;
      }
      default:
        packets.push({ type: 'other', packetType: pt, count, body: Buffer.from(buf.subarray(body, end)) });
    }
    off = pktEnd;
  }
  return { ok: true, packets };
}
