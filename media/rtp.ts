/**
 * RTP fixed header (RFC 3550 section 5.1): parse into a caller-owned object, write into a
 * caller-owned buffer, demultiplex RTP from RTCP on one port (RFC 5761 section 4) and do
 * wrap-aware sequence/timestamp arithmetic.
 *
 * Everything here runs once per packet, so nothing allocates: the parser reports offsets
 * into the caller's buffer instead of slicing it.
 * @module
 */

/** Size of the fixed RTP header without CSRCs or extension. */
export const RTP_HEADER_SIZE = 12;

/** The only RTP version on the wire (RFC 3550 section 5.1). */
export const RTP_VERSION = 2;

/**
 * A parsed RTP header. Mutable on purpose: one instance per receive path is filled again for
 * every packet, so parsing allocates nothing.
 */
export interface RtpHeader {
  /** Version field; always 2 after a successful parse. */
  version: number;
  /** P bit: the packet ended with padding (already removed from `payloadLength`). */
  padding: boolean;
  /** X bit: a header extension follows the CSRC list (skipped by `payloadOffset`). */
  extension: boolean;
  /** CC field: number of CSRC identifiers after the fixed header. */
  csrcCount: number;
  /** M bit: profile-defined; for audio, the first packet of a talkspurt. */
  marker: boolean;
  /** PT field, 0..127. */
  payloadType: number;
  /** Sequence number, 0..65535. */
  sequence: number;
  /** RTP timestamp as an unsigned 32-bit number. */
  timestamp: number;
  /** Synchronization source as an unsigned 32-bit number. */
  ssrc: number;
  /** Bytes of header: fixed part, CSRCs and extension. */
  headerLength: number;
  /** Where the payload starts in the buffer that was parsed. */
  payloadOffset: number;
  /** Payload bytes, padding excluded. */
  payloadLength: number;
}

/**
 * Outcome codes of {@link parseRtp}: numbers rather than exceptions, because bad packets from
 * the network are routine and must only be counted.
 */
export const RtpParseResult = {
  /** The header is valid and `out` is filled. */
  Ok: 0,
  /** Fewer than 12 bytes. */
  TooShort: 1,
  /** The version field is not 2. */
  BadVersion: 2,
  /** The CSRC list runs past the end of the packet. */
  BadCsrc: 3,
  /** The header extension runs past the end of the packet. */
  BadExtension: 4,
  /** The padding count is zero or larger than what follows the header. */
  BadPadding: 5,
} as const;

/** One of the {@link RtpParseResult} codes. */
export type RtpParseResult = (typeof RtpParseResult)[keyof typeof RtpParseResult];

/** Creates a zeroed {@link RtpHeader} to be reused across {@link parseRtp} calls. */
export function createRtpHeader(): RtpHeader {
  return {
    version: 0,
    padding: false,
    extension: false,
    csrcCount: 0,
    marker: false,
    payloadType: 0,
    sequence: 0,
    timestamp: 0,
    ssrc: 0,
    headerLength: 0,
    payloadOffset: 0,
    payloadLength: 0,
  };
}

/**
 * Parses the RTP header at the start of `buf[0..len)` into `out` without allocating.
 * Never throws: anything malformed yields a non-zero code, and `out` may then hold partial data.
 * A `len` past the end of `buf` is clamped to the buffer.
 */
export function parseRtp(buf: Buffer, len: number, out: RtpHeader): RtpParseResult {
  const n = len < buf.length ? len : buf.length;
  if (!(n >= RTP_HEADER_SIZE)) return RtpParseResult.TooShort;
  const b0 = buf[0]!;
  const version = b0 >>> 6;
  out.version = version;
  if (version !== RTP_VERSION) return RtpParseResult.BadVersion;
  const b1 = buf[1]!;
  const padding = (b0 & 0x20) !== 0;
  const extension = (b0 & 0x10) !== 0;
  const cc = b0 & 0x0f;
  out.padding = padding;
  out.extension = extension;
  out.csrcCount = cc;
  out.marker = (b1 & 0x80) !== 0;
  out.payloadType = b1 & 0x7f;
  out.sequence = (buf[2]! << 8) | buf[3]!;
  out.timestamp = ((buf[4]! << 24) | (buf[5]! << 16) | (buf[6]! << 8) | buf[7]!) >>> 0;
  out.ssrc = ((buf[8]! << 24) | (buf[9]! << 16) | (buf[10]! << 8) | buf[11]!) >>> 0;
  let off = RTP_HEADER_SIZE + cc * 4;
  if (off > n) return RtpParseResult.BadCsrc;
  if (extension) {
    // 16-bit profile id, 16-bit length in 32-bit words, then the words (section 5.3.1)
    if (off + 4 > n) return RtpParseResult.BadExtension;
    const words = (buf[off + 2]! << 8) | buf[off + 3]!;
    off += 4 + words * 4;
    if (off > n) return RtpParseResult.BadExtension;
  }
  let end = n;
  if (padding) {
    // the last octet counts the padding octets, itself included, so 0 is not a valid count
    const pad = buf[n - 1]!;
    if (pad === 0 || pad > n - off) return RtpParseResult.BadPadding;
    end = n - pad;
  }
  out.headerLength = off;
  out.payloadOffset = off;
  out.payloadLength = end - off;
  return RtpParseResult.Ok;
}

/** The fields a sender sets per packet; version 2, no padding, extension or CSRCs. */
export interface RtpHeaderFields {
  /** M bit (first packet of a talkspurt for audio). */
  marker: boolean;
  /** Payload type 0..127. */
  payloadType: number;
  /** Sequence number; reduced modulo 2^16. */
  sequence: number;
  /** RTP timestamp; reduced modulo 2^32. */
  timestamp: number;
  /** SSRC; reduced modulo 2^32. */
  ssrc: number;
}

/**
 * Writes a 12-byte RTP header at `buf[offset]` and returns 12, the payload offset to use.
 * The caller owns and reuses `buf`; the caller guarantees 12 bytes of room.
 */
export function writeRtpHeader(buf: Buffer, h: RtpHeaderFields, offset = 0): 12 {
  const ts = h.timestamp >>> 0;
  const ssrc = h.ssrc >>> 0;
  const seq = h.sequence & 0xffff;
  buf[offset] = 0x80;
  buf[offset + 1] = (h.marker ? 0x80 : 0) | (h.payloadType & 0x7f);
  buf[offset + 2] = seq >>> 8;
  buf[offset + 3] = seq & 0xff;
  buf[offset + 4] = ts >>> 24;
  buf[offset + 5] = (ts >>> 16) & 0xff;
  buf[offset + 6] = (ts >>> 8) & 0xff;
  buf[offset + 7] = ts & 0xff;
  buf[offset + 8] = ssrc >>> 24;
  buf[offset + 9] = (ssrc >>> 16) & 0xff;
  buf[offset + 10] = (ssrc >>> 8) & 0xff;
  buf[offset + 11] = ssrc & 0xff;
  return RTP_HEADER_SIZE;
}

/**
 * True when a datagram on an rtcp-mux port is RTCP: version 2 and the second octet's low
 * seven bits in 64..95 (RTCP packet types 192..223 seen through the RTP M/PT split,
 * RFC 5761 section 4). RTP payload types in that range are therefore never used with mux.
 */
export function isRtcp(buf: Buffer, len: number = buf.length): boolean {
  if (len < 2 || buf.length < 2) return false;
  if (buf[0]! >>> 6 !== RTP_VERSION) return false;
  const pt = buf[1]! & 0x7f;
  return pt >= 64 && pt <= 95;
}

/**
 * Signed distance `a - b` between two 16-bit sequence numbers, in -32768..32767, so that
 * 0 follows 65535 (`seqDiff(0, 65535) === 1`).
 */
export function seqDiff(a: number, b: number): number {
  return ((a - b) << 16) >> 16;
}

/** `seq + n` modulo 2^16. */
export function seqAdd(seq: number, n: number): number {
  return (seq + n) & 0xffff;
}

/**
 * Signed distance `a - b` between two 32-bit RTP timestamps, in -2^31..2^31-1, so that
 * timestamps that wrapped still compare correctly.
 */
export function tsDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** `ts + n` modulo 2^32, as an unsigned number. */
export function tsAdd(ts: number, n: number): number {
  return (ts + n) >>> 0;
}
