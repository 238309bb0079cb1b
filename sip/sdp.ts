/**
 * SDP offer/answer for one audio stream (RFC 3264 on RFC 4566 session descriptions), with
 * G.711 (PCMU/PCMA), G.722, G.729, GSM 06.10, Opus (RFC 7587) and RFC 4733 telephone-event.
 *
 * Everything here is a pure function of its arguments: the caller (a line or dialog) keeps the
 * state (session version, current direction) and hands in a {@link LocalMedia} each time. SDP
 * text is parsed and written with `sdp-transform`; since that parser accepts anything, the
 * structure it depends on is checked here first, and bad network input yields `{ ok: false }`
 * with a SIP status (400 for a malformed body, 488 when nothing can be agreed), never a throw.
 * @module
 */
import { choosePacketTime } from './ptime.js';
import { chooseOfferedCrypto, formatCrypto, parseCrypto, type LocalSrtp, type NegotiatedSrtp } from './sdes.js';
import sdpTransform from 'sdp-transform';
import { writeSdp } from './sdpWrite.js';
import type { MediaDescription, SessionDescription } from 'sdp-transform';

/** An RFC 3264 stream direction, as carried by the `a=sendrecv|sendonly|recvonly|inactive` attributes. */
export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** The audio codecs the media layer can encode and decode. */
export type AudioCodecName = 'PCMU' | 'PCMA' | 'G722' | 'G729' | 'GSM' | 'opus' | 'G726-32';

/** One audio format as it appears on an `m=` line plus its `a=rtpmap` / `a=fmtp`. */
export interface AudioFormatSpec {
  /** Encoding name as written in `a=rtpmap` (matched case-insensitively on input). */
  name: AudioCodecName;
  /** RTP payload type number (0–127). */
  payloadType: number;
  /** RTP clock rate in Hz; 48000 for Opus whatever the audio bandwidth (RFC 7587 §4.1). */
  clockRate: number;
  /** Channel count for `a=rtpmap`; Opus is always written as 2 (RFC 7587 §7), G.711 omits it. */
  channels?: number;
  /** The `a=fmtp` parameters; for a negotiated codec, the ones the remote declared. */
  fmtp?: string;
}

/**
 * The usual format description for a codec: PCMU 0/8000, PCMA 8/8000, G722 9/8000 (the RTP clock
 * RFC 3551 fixed for this 16 kHz codec), G729 18/8000, GSM 3/8000, G726-32 112/8000 (dynamic since
 * RFC 3551; RFC 3551 packing, not AAL2-G726-32), opus 111/48000/2 with
 * `minptime=10;useinbandfec=1` (in-band FEC costs little and saves audio on lossy links).
 * Returns a fresh object, so callers may change the payload type.
 */
export function defaultFormat(name: AudioCodecName): AudioFormatSpec {
  switch (name) {
    case 'PCMU':
      return { name: 'PCMU', payloadType: 0, clockRate: 8000 };
    case 'PCMA':
      return { name: 'PCMA', payloadType: 8, clockRate: 8000 };
    case 'G722':
      return { name: 'G722', payloadType: 9, clockRate: 8000 };
    case 'G729':
      // no fmtp: Annex B is allowed by default (RFC 4856), and we decode its SID frames
      return { name: 'G729', payloadType: 18, clockRate: 8000 };
    case 'GSM':
      return { name: 'GSM', payloadType: 3, clockRate: 8000 };
    case 'G726-32':
      return { name: 'G726-32', payloadType: 112, clockRate: 8000 };
    case 'opus':
      return { name: 'opus', payloadType: 111, clockRate: 48000, channels: 2, fmtp: 'minptime=10;useinbandfec=1' };
  }
}

/**
 * How we signal that we stop receiving (hold) in an offer whose direction is `sendonly` or
 * `inactive`. `rfc3264` writes the direction attribute (the recommended way); `rfc2543` writes
 * the connection address as `0.0.0.0` (`::` for IPv6) and no direction attribute, for gear that
 * predates RFC 3264; `both` writes the null address and the attribute.
 */
export type HoldStyle = 'rfc3264' | 'rfc2543' | 'both';

/** Our side of the audio stream: everything needed to write an offer or an answer. */
export interface LocalMedia {
  /** Address put in `c=` and `o=`: an IPv4 or IPv6 literal (IPv6 when it contains a colon). */
  address: string;
  /** Local RTP port; RTCP is expected on port + 1 (not written, since that is the default). */
  port: number;
  /** Formats we can use, most preferred first; this order is our offer's `m=` order. */
  formats: AudioFormatSpec[];
  /** Offer, and accept, RFC 4733 telephone-event for DTMF. */
  telephoneEvent: boolean;
  /** Direction we want; `sendonly`/`inactive` is how we put the other side on hold. */
  direction: MediaDirection;
  /** How hold is written in our offers (default `rfc3264`); answers always use the attribute. */
  holdStyle?: HoldStyle;
  /** Packetisation time we want to receive, in ms (default 20). */
  ptime?: number;
  /** Offer and accept RFC 5761 rtcp-mux (default false: RTCP on port + 1). */
  rtcpMux?: boolean;
  /**
   * Offer, and answer, RFC 3389 comfort noise (silence suppression on send): `CN/8000` as static
   * 13 next to 8 kHz codecs, a dynamic `CN/48000` next to Opus. Default false.
   */
  comfortNoise?: boolean;
  /** Our `o=` session id (decimal digits, RFC 4566 §5.2); constant for the dialog. */
  sessionId: string;
  /** Our `o=` version; the caller increments it for every new offer or answer it sends (RFC 3264 §8). */
  sessionVersion: number;
  /** `o=` user name (default `-`, RFC 4566 §5.2 when there is no user id). */
  username?: string;
  /** `s=` value (default `LineScape`). */
  sessionName?: string;
  /** SRTP with SDES keys (sip/sdes.ts): the policy and our keys; absent: plain RTP only. */
  srtp?: LocalSrtp;
}

/** The telephone-event format agreed for DTMF. */
export interface NegotiatedTelephoneEvent {
  /** Payload type to put on the RTP packets we send. */
  payloadType: number;
  /** Payload type the remote uses towards us (the number in the SDP we sent). */
  receivePayloadType: number;
  /** Event clock rate; matches the codec's whenever the remote allowed it (RFC 4733 §2.1). */
  clockRate: number;
}

/** The outcome of one offer/answer exchange: what the media layer needs to run the stream. */
export interface NegotiatedMedia {
  /** Where to send RTP (`0.0.0.0`/`::` when the remote holds us RFC 2543-style). */
  remoteAddress: string;
  /** Remote RTP port. */
  remotePort: number;
  /** Remote RTCP address: from `a=rtcp` when it names one, else {@link remoteAddress}. */
  remoteRtcpAddress: string;
  /** Remote RTCP port: the RTP port under rtcp-mux, else `a=rtcp`, else RTP port + 1. */
  remoteRtcpPort: number;
  /** The codec, with the payload type we send it with and the remote's `a=fmtp` for it. */
  codec: AudioFormatSpec;
  /** Payload type of the codec in the SDP we sent, i.e. the one the remote sends us. */
  receivePayloadType: number;
  /** Telephone-event, when both sides accept it. */
  telephoneEvent?: NegotiatedTelephoneEvent;
  /**
   * Payload type of RFC 3389 comfort noise (`CN/<codec clock>`) the remote listed, which it may
   * send during its silence.
   */
  comfortNoisePayloadType?: number;
  /** Both SDPs list CN at the codec's clock: we may send CN packets with `comfortNoisePayloadType`. */
  comfortNoiseAgreed?: boolean;
  /**
   * The remote's direction with RFC 2543 hold folded in: a null `c=` address removes `recv`
   * (RFC 3264 §8.4: neither RTP nor RTCP is sent to it).
   */
  remoteDirection: MediaDirection;
  /** The direction in the SDP we sent (our answer, or our offer). */
  localDirection: MediaDirection;
  /** Whether we should send RTP: we may send and the remote wants to receive. */
  sending: boolean;
  /** Whether we should expect RTP: we want to receive and the remote will send. */
  receiving: boolean;
  /**
   * The far end put us on hold: it no longer wants our media (`sendonly`, `inactive` or a null
   * address) although we still offered to send it.
   */
  remoteHold: boolean;
  /**
   * Packetisation time to send with, in ms: the remote's `a=ptime` (else our own `ptime`, else
   * 20; capped by `a=maxptime`) rounded to what the codec allows (sip/ptime.ts: 10 ms units up to 60 ms, GSM 20 ms
   * units, Opus 20 ms). The answer we write asks for the same.
   */
  ptime: number;
  /** RTP and RTCP share the RTP port (both sides asked for rtcp-mux). */
  rtcpMux: boolean;
  /**
   * The remote `o=` version, kept as the decimal text: it may exceed 2^53, and an exact
   * comparison is what recognises an unchanged re-offer ({@link isSameRemoteVersion}).
   */
  sessionVersion: string;
  /** The remote `o=` session id, as text. */
  sessionId: string;
  /** SRTP suite and keys both ends agreed on (SDES); absent: plain RTP. */
  srtp?: NegotiatedSrtp;
}

/** Why an SDP could not be used, as the SIP response to send for it. */
export interface SdpFailure {
  /** Discriminant. */
  ok: false;
  /** 400 for a malformed SDP, 488 when it is well formed but nothing can be agreed. */
  status: 400 | 488;
  /** SIP reason phrase: `Bad SDP` or `Not Acceptable Here`. */
  reason: string;
  /** What exactly was wrong, for logs and notifications. */
  detail: string;
  /**
   * The Warning code a refusal carries (RFC 3261 §20.43): 304 no usable media type (no audio
   * stream), 305 an audio stream we cannot serve (codec, transport, address family), 302 the
   * stream's transport profile (RTP/AVP vs RTP/SAVP, SRTP keys) does not meet our SRTP policy,
   * 399 a malformed SDP.
   */
  warning: 302 | 304 | 305 | 399;
}

/** A usable offer: the answer to send back and the media it sets up. */
export interface OfferAccepted {
  /** Discriminant. */
  ok: true;
  /** Our answer SDP (CRLF line ends), one `m=` line per offered one. */
  answer: string;
  /** The agreed stream. */
  media: NegotiatedMedia;
}

/** A usable answer to our offer. */
export interface AnswerAccepted {
  /** Discriminant. */
  ok: true;
  /** The agreed stream. */
  media: NegotiatedMedia;
}

/** Result of {@link negotiateOffer}: the answer to send and the agreed media, or a failure. */
export type OfferNegotiation = OfferAccepted | SdpFailure;

/** Result of {@link negotiateAnswer}: the agreed media, or a failure. */
export type AnswerNegotiation = AnswerAccepted | SdpFailure;

// ---------------------------------------------------------------------------------------------
// Directions

function hasSend(d: MediaDirection): boolean {
  return d === 'sendrecv' || d === 'sendonly';
}

function hasRecv(d: MediaDirection): boolean {
  return d === 'sendrecv' || d === 'recvonly';
}

function directionOf(send: boolean, recv: boolean): MediaDirection {
  if (send) return recv ? 'sendrecv' : 'sendonly';
  return recv ? 'recvonly' : 'inactive';
}

/** The other side's view of a direction: what they send, we receive. */
function reverse(d: MediaDirection): MediaDirection {
  return directionOf(hasRecv(d), hasSend(d));
}

function intersect(a: MediaDirection, b: MediaDirection): MediaDirection {
  return directionOf(hasSend(a) && hasSend(b), hasRecv(a) && hasRecv(b));
}

function isDirection(v: unknown): v is MediaDirection {
  return v === 'sendrecv' || v === 'sendonly' || v === 'recvonly' || v === 'inactive';
}

// ---------------------------------------------------------------------------------------------
// Addresses

function isIpv6(address: string): boolean {
  return address.includes(':');
}

function isIpv4Literal(address: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(address);
}

/** The "send nothing here" addresses: RFC 2543 hold used 0.0.0.0, its IPv6 twin is `::`. */
function isNullAddress(address: string): boolean {
  return address === '0.0.0.0' || (isIpv6(address) && /^[0:]+$/.test(address));
}

/**
 * True when both are IP literals of different families: a socket bound for one cannot reach the
 * other. Host names (allowed in `c=`) are left to the resolver.
 */
function familiesDiffer(local: string, remote: string): boolean {
  const l = isIpv6(local) ? 6 : isIpv4Literal(local) ? 4 : 0;
  const r = isIpv6(remote) ? 6 : isIpv4Literal(remote) ? 4 : 0;
  return l !== 0 && r !== 0 && l !== r;
}

// ---------------------------------------------------------------------------------------------
// Structural validation (sdp-transform accepts anything, so check what we rely on)

const BAD = 'Bad SDP';
const NOT_ACCEPTABLE = 'Not Acceptable Here';

function fail(status: 400 | 488, detail: string, warning: 302 | 304 | 305 = 305): SdpFailure {
  return { ok: false, status, reason: status === 400 ? BAD : NOT_ACCEPTABLE, detail, warning: status === 400 ? 399 : warning };
}

interface ParsedSdp {
  session: SessionDescription;
  /** `o=` fields as written (sdp-transform turns small ids into numbers and keeps big ones as text). */
  originUser: string;
  sessionId: string;
  sessionVersion: string;
}

const LINE_RE = /^[a-z]=/;
const ORIGIN_RE = /^o=(\S+) (\d+) (\d+) IN IP[46] (\S+)$/;
const CONNECTION_RE = /^c=IN IP[46] \S+$/;
const MEDIA_RE = /^m=\w+ \d+ [\w/]+ \S.*$/; // the shapes sdp-transform's m= grammar reads

/**
 * Checks the RFC 4566 §5 skeleton (v=0 first, o= and s= before the media, well-formed c= and
 * m= lines, a connection address for every live stream) and parses with sdp-transform.
 */
function parseSdp(text: unknown): ParsedSdp | SdpFailure {
  if (typeof text !== 'string' || text.trim() === '') return fail(400, 'empty SDP body');
  // RFC 4566 wants CRLF; bare LF is common enough to accept. Trailing blanks break sdp-transform's regexes.
  const lines = text.split(/\r\n|\r|\n/).map((l) => l.trimEnd()).filter((l) => l !== '');
  if (lines[0] !== 'v=0') return fail(400, 'SDP must start with v=0');
  let origin: RegExpExecArray | null = null;
  let sawName = false;
  let sessionConnection = false;
  let mediaCount = 0;
  let mediaConnection = true; // the current m= block has (or does not need) a connection
  let mediaPort = 0;
  const needsConnection = (): boolean => mediaCount > 0 && mediaPort !== 0 && !sessionConnection && !mediaConnection;
  for (const [i, line] of lines.entries()) {
    if (i === 0) continue; // v= was checked above
    if (!LINE_RE.test(line)) return fail(400, `malformed SDP line ${i + 1}`);
    switch (line[0]) {
      case 'v':
        return fail(400, 'repeated v= line');
      case 'o':
        if (origin || mediaCount > 0) return fail(400, 'misplaced o= line');
        origin = ORIGIN_RE.exec(line);
        if (!origin) return fail(400, 'malformed o= line');
        break;
      case 's':
        if (mediaCount > 0) return fail(400, 'misplaced s= line');
        sawName = true;
        break;
      case 'c':
        if (!CONNECTION_RE.test(line)) return fail(400, 'malformed c= line');
        if (mediaCount === 0) sessionConnection = true;
        else mediaConnection = true;
        break;
      case 'm': {
        if (needsConnection()) return fail(400, `no connection address for m= line ${mediaCount}`);
        if (!MEDIA_RE.test(line)) return fail(400, 'malformed m= line');
        mediaPort = Number(line.split(' ')[1]);
        if (mediaPort > 65535) return fail(400, 'm= port out of range');
        mediaCount++;
        mediaConnection = false;
        break;
      }
    }
  }
  if (!origin) return fail(400, 'missing o= line');
  if (!sawName) return fail(400, 'missing s= line');
  if (mediaCount === 0) return fail(400, 'no m= line');
  if (needsConnection()) return fail(400, `no connection address for m= line ${mediaCount}`);
  let session: SessionDescription;
  try {
    session = sdpTransform.parse(lines.join('\r\n') + '\r\n');
  } catch {
    return fail(400, 'unparseable SDP');
  }
  if (!Array.isArray(session.media) || session.media.length !== mediaCount) return fail(400, 'unparseable m= line');
  const [, originUser = '', sessionId = '', sessionVersion = ''] = origin;
  return { session, originUser, sessionId, sessionVersion };
}

function isFailure(v: ParsedSdp | SdpFailure): v is SdpFailure {
  return (v as SdpFailure).ok === false;
}

// sdp-transform turns numeric-looking fields into numbers and leaves the rest as text, so every
// field read from the network goes through one of these.
function text(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
}

function int(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

function positive(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

// ---------------------------------------------------------------------------------------------
// Formats

/** One payload type of a remote `m=` line, described by its rtpmap or the static table. */
interface RemoteFormat {
  payloadType: number;
  /** Lower-case encoding name; '' when unknown. */
  name: string;
  clockRate: number;
  channels?: number;
  fmtp?: string;
}

/** RFC 3551 §6 static audio payload types (those worth naming in logs; we use only 0 and 8). */
const STATIC_FORMATS: Record<number, [string, number]> = {
  0: ['pcmu', 8000],
  3: ['gsm', 8000],
  4: ['g723', 8000],
  8: ['pcma', 8000],
  9: ['g722', 8000],
  13: ['cn', 8000],
  18: ['g729', 8000],
};

function remoteFormats(m: MediaDescription): RemoteFormat[] {
  const out: RemoteFormat[] = [];
  const rtp = Array.isArray(m.rtp) ? m.rtp : [];
  const fmtp = Array.isArray(m.fmtp) ? m.fmtp : [];
  for (const token of text(m.payloads).split(/\s+/)) {
    const pt = int(token);
    if (pt === undefined || pt > 127) continue; // not an RTP payload type
    const map = rtp.find((r) => int(r.payload) === pt);
    const fp = fmtp.find((f) => int(f.payload) === pt);
    const params = fp ? text(fp.config) : undefined;
    const fixed = STATIC_FORMATS[pt];
    if (map && text(map.codec) !== '') {
      const rate = int(map.rate) ?? (fixed && fixed[0] === text(map.codec).toLowerCase() ? fixed[1] : undefined);
      if (rate === undefined) continue; // an rtpmap without a clock rate describes nothing usable
      out.push({ payloadType: pt, name: text(map.codec).toLowerCase(), clockRate: rate, channels: int(map.encoding), fmtp: params });
    } else if (fixed) {
      out.push({ payloadType: pt, name: fixed[0], clockRate: fixed[1], fmtp: params });
    } else {
      out.push({ payloadType: pt, name: '', clockRate: 0, fmtp: params });
    }
  }
  return out;
}

/** Same codec: name and clock rate, and channels when the remote states them (Opus must say 2). */
function sameFormat(remote: RemoteFormat, local: AudioFormatSpec): boolean {
  if (remote.name !== local.name.toLowerCase() || remote.clockRate !== local.clockRate) return false;
  if (remote.channels === undefined) return true;
  return remote.channels === (local.channels ?? 1);
}

/** Our format as the remote wrote it: its payload type number and its own `a=fmtp`. */
function withRemoteNumbering(local: AudioFormatSpec, remote: RemoteFormat): AudioFormatSpec {
  const out: AudioFormatSpec = { ...local, payloadType: remote.payloadType };
  delete out.fmtp;
  if (remote.fmtp !== undefined) out.fmtp = remote.fmtp;
  return out;
}

const TELEPHONE_EVENT = 'telephone-event';

/**
 * True when a G.729 `a=fmtp` says `annexb=no`: that side neither sends nor wants SID frames.
 * Absent means yes (RFC 4856 §2.1.9).
 */
export function annexBRefused(fmtp: string | undefined): boolean {
  return fmtp !== undefined && /(^|;)\s*annexb\s*=\s*no\s*(;|$)/i.test(fmtp);
}

/**
 * The telephone-event entries of our offer: 8000 Hz always, plus 48000 Hz when Opus is offered
 * (RFC 4733 §2.1: the event clock should match the codec's). 101 and 100 by custom, moved to a
 * free dynamic number if a codec already uses them.
 */
function offeredTelephoneEvents(local: LocalMedia): { payloadType: number; clockRate: number }[] {
  if (!local.telephoneEvent) return [];
  const used = new Set(local.formats.map((f) => f.payloadType));
  const pick = (preferred: number): number => {
    let pt = preferred;
    for (let candidate = 96; used.has(pt) && candidate <= 127; candidate++) pt = candidate;
    used.add(pt);
    return pt;
  };
  const out = [{ payloadType: pick(101), clockRate: 8000 }];
  if (local.formats.some((f) => f.name === 'opus')) out.push({ payloadType: pick(100), clockRate: 48000 });
  return out;
}

/**
 * The CN entries of our offer when {@link LocalMedia.comfortNoise} is on: static 13 when an
 * 8 kHz-clock codec is offered, a free dynamic number for `CN/48000` when Opus is.
 */
function offeredComfortNoise(local: LocalMedia, events: readonly { payloadType: number }[]): { payloadType: number; clockRate: number }[] {
  if (local.comfortNoise !== true) return [];
  const out: { payloadType: number; clockRate: number }[] = [];
  if (local.formats.some((f) => f.clockRate === 8000)) out.push({ payloadType: 13, clockRate: 8000 });
  if (local.formats.some((f) => f.clockRate === 48000)) {
    const used = new Set([...local.formats.map((f) => f.payloadType), ...events.map((e) => e.payloadType)]);
    let pt = 98;
    while (used.has(pt) && pt < 127) pt++;
    if (!used.has(pt)) out.push({ payloadType: pt, clockRate: 48000 });
  }
  return out;
}

/** Prefer the event clock equal to the codec's; otherwise any event format at all. */
function chooseTelephoneEvent<T extends { clockRate: number }>(candidates: T[], codecRate: number): T | undefined {
  return candidates.find((c) => c.clockRate === codecRate) ?? candidates[0];
}

// ---------------------------------------------------------------------------------------------
// Shared reading of the remote stream

function mediaAddress(session: SessionDescription, m: MediaDescription): string {
  const c = m.connection ?? session.connection;
  return text(c?.ip).split('/')[0] ?? ''; // drop a multicast TTL / address count
}

function mediaDirection(session: SessionDescription, m: MediaDirection | undefined): MediaDirection {
  // A media-level attribute overrides the session-level one (RFC 4566 §6); absent means sendrecv.
  if (isDirection(m)) return m;
  if (isDirection(session.direction)) return session.direction;
  return 'sendrecv';
}

function remoteMaxptime(session: SessionDescription, m: MediaDescription): number | undefined {
  // a=ptime and a=maxptime are media-level, but some stacks put them before the first m=.
  const loose = session as unknown as { maxptime?: unknown };
  return positive(m.maxptime) ?? positive(loose.maxptime);
}

/**
 * The remote's packet time, capped by its maxptime; `fallback` (our own wish, else 20) when it
 * states none: with no `a=ptime` the peer has no preference, so ours is as good as any.
 */
function remotePtime(session: SessionDescription, m: MediaDescription, fallback = 20): number {
  const loose = session as unknown as { ptime?: unknown };
  let ptime = positive(m.ptime) ?? positive(loose.ptime);
  const max = remoteMaxptime(session, m);
  if (ptime !== undefined && ptime > 200) ptime = undefined; // nonsense: fall back to the default
  let result = ptime ?? fallback;
  if (max !== undefined && max < result) result = max;
  return result;
}

interface RemoteStream {
  address: string;
  port: number;
  rtcpAddress: string;
  rtcpPort: number;
  direction: MediaDirection;
  ptime: number;
  maxptime: number | undefined;
  rtcpMux: boolean;
}

function readStream(session: SessionDescription, m: MediaDescription, muxAllowed: boolean, ownPtime?: number): RemoteStream {
  const address = mediaAddress(session, m);
  const port = int(m.port) ?? 0;
  let direction = mediaDirection(session, m.direction);
  if (isNullAddress(address)) direction = intersect(direction, 'sendonly');
  const rtcpMux = muxAllowed && m.rtcpMux === 'rtcp-mux';
  const rtcpPort = int(m.rtcp?.port);
  const rtcpAddress = text(m.rtcp?.address);
  return {
    address,
    port,
    rtcpAddress: !rtcpMux && rtcpAddress !== '' ? rtcpAddress : address,
    rtcpPort: rtcpMux ? port : rtcpPort !== undefined && rtcpPort > 0 && rtcpPort <= 65535 ? rtcpPort : port + 1,
    direction,
    ptime: remotePtime(session, m, ownPtime),
    maxptime: remoteMaxptime(session, m),
    rtcpMux,
  };
}

// ---------------------------------------------------------------------------------------------
// Writing

function ipVersion(address: string): number {
  return isIpv6(address) ? 6 : 4;
}

function rtpmapOf(f: AudioFormatSpec): MediaDescription['rtp'][number] {
  const entry: MediaDescription['rtp'][number] = { payload: f.payloadType, codec: f.name, rate: f.clockRate };
  const channels = f.name === 'opus' ? 2 : f.channels;
  if (channels !== undefined && channels !== 1) entry.encoding = channels;
  return entry;
}

/** The session-level part both our offers and answers share. */
function sessionSkeleton(local: LocalMedia, connectionAddress: string, timing: SessionDescription['timing']): SessionDescription {
  return {
    version: 0,
    origin: {
      username: local.username ?? '-',
      sessionId: local.sessionId,
      sessionVersion: local.sessionVersion,
      netType: 'IN',
      ipVer: ipVersion(local.address),
      address: local.address,
    },
    name: local.sessionName ?? 'LineScape',
    connection: { version: ipVersion(connectionAddress), ip: connectionAddress },
    timing,
    media: [],
  };
}

function audioMedia(
  local: LocalMedia,
  formats: AudioFormatSpec[],
  events: { payloadType: number; clockRate: number }[],
  direction: MediaDirection | undefined,
  rtcpMux: boolean,
  cn: readonly { payloadType: number; clockRate: number }[] = [],
  security: { protocol: string; crypto: readonly string[] } = { protocol: 'RTP/AVP', crypto: [] },
): MediaDescription {
  const m: MediaDescription = {
    type: 'audio',
    port: local.port,
    protocol: security.protocol,
    payloads: [...formats.map((f) => f.payloadType), ...events.map((e) => e.payloadType), ...cn.map((c) => c.payloadType)].join(' '),
    rtp: [
      ...formats.map(rtpmapOf),
      ...events.map((e) => ({ payload: e.payloadType, codec: TELEPHONE_EVENT, rate: e.clockRate })),
      ...cn.map((c) => ({ payload: c.payloadType, codec: 'CN', rate: c.clockRate })),
    ],
    fmtp: [
      ...formats.filter((f) => f.fmtp).map((f) => ({ payload: f.payloadType, config: f.fmtp as string })),
      ...events.map((e) => ({ payload: e.payloadType, config: '0-16' })), // DTMF 0-9 * # A-D and flash
    ],
    ptime: local.ptime ?? 20,
  };
  if (direction) m.direction = direction;
  if (rtcpMux) m.rtcpMux = 'rtcp-mux';
  // written as invalid (raw) attributes: sdp-transform's crypto grammar drops session parameters
  if (security.crypto.length > 0) m.invalid = security.crypto.map((value) => ({ value: `crypto:${value}` }));
  return m;
}

/** Our offer's transport profile and crypto lines for `local` (RFC 4568 §7.1.1). */
function offerSecurity(local: LocalMedia): { protocol: string; crypto: string[] } {
  const srtp = local.srtp;
  if (srtp === undefined || srtp.crypto.length === 0) return { protocol: srtp?.policy === 'mandatory' ? 'RTP/SAVP' : 'RTP/AVP', crypto: [] };
  return { protocol: srtp.policy === 'mandatory' ? 'RTP/SAVP' : 'RTP/AVP', crypto: srtp.crypto.map(formatCrypto) };
}

/**
 * The `a=crypto` values (what follows `a=crypto:`) of each `m=` section of `text`, read from the
 * raw lines: sdp-transform keeps only one session parameter per line, and a dropped
 * `UNENCRYPTED_SRTP` must not go unnoticed.
 */
function cryptoValues(text: string): string[][] {
  const out: string[][] = [];
  let current: string[] | undefined;
  for (const raw of text.split(/\r\n|\r|\n/)) {
    const line = raw.trim();
    if (line.startsWith('m=')) {
      current = [];
      out.push(current);
    } else if (current !== undefined && /^a=crypto:/i.test(line)) {
      current.push(line.slice(9));
    }
  }
  return out;
}

/**
 * Our offer for one audio stream. Every format gets an `a=rtpmap` (even static 0 and 8: many
 * stacks expect it), telephone-event is offered at 8000 Hz and, with Opus, also at 48000 Hz.
 * Hold is written according to {@link LocalMedia.holdStyle}. Throws a RangeError when
 * `formats` is empty: that is a programming error, not network input.
 */
export function createOffer(local: LocalMedia): string {
  if (local.formats.length === 0) throw new RangeError('createOffer: no audio formats to offer');
  const holding = local.direction === 'sendonly' || local.direction === 'inactive';
  const style = local.holdStyle ?? 'rfc3264';
  const nullAddress = holding && style !== 'rfc3264';
  const connection = nullAddress ? (isIpv6(local.address) ? '::' : '0.0.0.0') : local.address;
  const sdp = sessionSkeleton(local, connection, { start: 0, stop: 0 });
  const writeDirection = !(holding && style === 'rfc2543');
  const events = offeredTelephoneEvents(local);
  sdp.media.push(
    audioMedia(
      local,
      local.formats,
      events,
      writeDirection ? local.direction : undefined,
      local.rtcpMux === true,
      offeredComfortNoise(local, events),
      offerSecurity(local),
    ),
  );
  return writeSdp(sdp);
}

// ---------------------------------------------------------------------------------------------
// Answerer

/**
 * The answerer's side of RFC 3264 §6: picks the first live `m=audio` RTP/AVP stream we can serve
 * and writes the answer, rejecting every other `m=` line with port 0 (one answer line per
 * offered line, in order).
 *
 * Codec choice: the offerer's most preferred format that we support, i.e. the first payload
 * type on its `m=` line that matches one of ours (by rtpmap name and rate, or by static type
 * 0/8 without rtpmap). §6.1 lets the answerer apply its own preference, but following the
 * offer's order makes both ends pick the same codec and is what interoperates best. The answer
 * lists only that codec (plus telephone-event), with the offerer's payload type numbers.
 *
 * Direction: the reverse of the offer's, intersected with ours; an offer with `c=0.0.0.0`
 * (RFC 2543 hold) counts as not wanting to receive.
 *
 * SRTP ({@link LocalMedia.srtp}): without it only `RTP/AVP` is served and any `a=crypto` is
 * ignored (plain answer). With policy `optional`, `RTP/SAVP` is served with a usable crypto line
 * and `RTP/AVP` is answered with SRTP when it carries a usable crypto line, plain otherwise. With
 * `mandatory`, a stream without a usable crypto line is refused (488, Warning 302). The crypto
 * line is the offer's first usable one (sip/sdes.ts), answered with its tag and our own key.
 */
export function negotiateOffer(offerSdp: string, local: LocalMedia): OfferNegotiation {
  const parsed = parseSdp(offerSdp);
  if (isFailure(parsed)) return parsed;
  const { session } = parsed;
  const cryptoByMedia = local.srtp !== undefined ? cryptoValues(offerSdp) : [];
  let chosen: { index: number; format: RemoteFormat; local: AudioFormatSpec; srtp?: NegotiatedSrtp; protocol: string } | undefined;
  let why = 'no audio stream offered';
  let code: 302 | 304 | 305 = 304;
  for (const [i, m] of session.media.entries()) {
    if (chosen) break;
    if (m.type !== 'audio') continue;
    if (int(m.port) === 0) {
      why = 'audio stream disabled (port 0)';
      continue;
    }
    code = 305;
    const protocol = text(m.protocol).toUpperCase();
    if (protocol !== 'RTP/AVP' && !(protocol === 'RTP/SAVP' && local.srtp !== undefined)) {
      // kept as 305 (what this answer always said, and what peers' tests expect for RTP/SAVP)
      why = `unsupported transport ${text(m.protocol)}`;
      continue;
    }
    let srtp: NegotiatedSrtp | undefined;
    if (local.srtp !== undefined) {
      const values = cryptoByMedia[i] ?? [];
      const choice = chooseOfferedCrypto(values, local.srtp.crypto.map((c) => c.suite));
      const ours = choice.ok ? local.srtp.crypto.find((c) => c.suite === choice.crypto.suite) : undefined;
      if (choice.ok && ours !== undefined) {
        srtp = {
          suite: choice.crypto.suite,
          tag: choice.crypto.tag,
          localKey: ours.key,
          remoteKey: choice.crypto.key,
          ...(choice.crypto.mki !== undefined ? { remoteMki: choice.crypto.mki } : {}),
          ...(choice.crypto.lifetime !== undefined ? { remoteLifetime: choice.crypto.lifetime } : {}),
        };
      } else if (protocol === 'RTP/SAVP' || local.srtp.policy === 'mandatory' || local.srtp.required === true) {
        // RTP/SAVP without a usable key cannot be answered; mandatory refuses plain RTP
        code = 302;
        why = values.length === 0 ? `SRTP required: ${protocol} offer without a=crypto` : `SRTP required: ${choice.ok ? 'no key for the suite' : choice.detail}`;
        continue;
      }
    }
    if (familiesDiffer(local.address, mediaAddress(session, m)) && !isNullAddress(mediaAddress(session, m))) {
      why = 'remote address family differs from ours';
      continue;
    }
    let tooShort: string | undefined;
    for (const f of remoteFormats(m)) {
      const ours = local.formats.find((l) => sameFormat(f, l));
      if (!ours) continue;
      // a codec we cannot packetise within the remote's maxptime is no common codec
      const maxptime = remoteMaxptime(session, m);
      if (choosePacketTime(ours.name, remotePtime(session, m), maxptime) === undefined) {
        tooShort = `maxptime ${maxptime ?? ''} ms is shorter than a ${ours.name} packet`;
        continue;
      }
      chosen = { index: i, format: f, local: ours, protocol, ...(srtp !== undefined ? { srtp } : {}) };
      break;
    }
    if (!chosen) why = tooShort ?? 'no common audio codec';
  }
  if (!chosen) return fail(488, why, code);

  const m = session.media[chosen.index] as MediaDescription; // the loop above found it there
  const remote = readStream(session, m, local.rtcpMux === true, local.ptime);
  const answerDirection = intersect(reverse(remote.direction), local.direction);
  const codec = withRemoteNumbering(chosen.local, chosen.format);
  // the loop above only chose a codec it can packetise: we send, and ask for, the same ptime
  const ptime = choosePacketTime(codec.name, remote.ptime, remote.maxptime) ?? 20;
  const events = local.telephoneEvent
    ? remoteFormats(m).filter((f) => f.name === TELEPHONE_EVENT && f.clockRate > 0)
    : [];
  const event = chooseTelephoneEvent(events, codec.clockRate);
  const cn = remoteFormats(m).find((f) => f.name === 'cn' && f.clockRate === codec.clockRate);

  // t= must equal the offer's (RFC 3264 §6); a missing or odd one becomes the usual 0 0.
  const timing = { start: int(session.timing?.start) ?? 0, stop: int(session.timing?.stop) ?? 0 };
  const answer = sessionSkeleton(local, local.address, timing);
  for (const [i, offered] of session.media.entries()) {
    if (i === chosen.index) {
      const ourFormat: AudioFormatSpec = { ...chosen.local, payloadType: chosen.format.payloadType };
      // G.729 without Annex B both ways when the offerer says so (RFC 4856 §2.1.9)
      if (ourFormat.name === 'G729' && annexBRefused(chosen.format.fmtp)) ourFormat.fmtp = 'annexb=no';
      const ourEvents = event ? [{ payloadType: event.payloadType, clockRate: event.clockRate }] : [];
      // CN answered only when we suppress silence too: its number is the offerer's (RFC 3264 §6.1)
      const ourCn = cn && local.comfortNoise === true ? [{ payloadType: cn.payloadType, clockRate: cn.clockRate }] : [];
      const security = {
        // the answer mirrors the offer's profile (RFC 3264 §6)
        protocol: chosen.protocol,
        crypto: chosen.srtp !== undefined ? [formatCrypto({ tag: chosen.srtp.tag, suite: chosen.srtp.suite, key: chosen.srtp.localKey })] : [],
      };
      answer.media.push(audioMedia({ ...local, ptime }, [ourFormat], ourEvents, answerDirection, remote.rtcpMux, ourCn, security));
    } else {
      // Rejected: port 0, formats kept only because SDP requires at least one (RFC 3264 §6).
      const payloads = text(offered.payloads).trim();
      answer.media.push({
        type: text(offered.type) || 'audio',
        port: 0,
        protocol: text(offered.protocol) || 'RTP/AVP',
        payloads: payloads === '' ? '0' : payloads,
        rtp: [],
        fmtp: [],
      });
    }
  }

  const media: NegotiatedMedia = {
    remoteAddress: remote.address,
    remotePort: remote.port,
    remoteRtcpAddress: remote.rtcpAddress,
    remoteRtcpPort: remote.rtcpPort,
    codec,
    receivePayloadType: codec.payloadType,
    remoteDirection: remote.direction,
    localDirection: answerDirection,
    sending: hasSend(answerDirection),
    receiving: hasRecv(answerDirection),
    remoteHold: !hasRecv(remote.direction),
    ptime,
    rtcpMux: remote.rtcpMux,
    sessionVersion: parsed.sessionVersion,
    sessionId: parsed.sessionId,
  };
  if (event) media.telephoneEvent = { payloadType: event.payloadType, receivePayloadType: event.payloadType, clockRate: event.clockRate };
  if (cn) media.comfortNoisePayloadType = cn.payloadType;
  if (cn && local.comfortNoise === true) media.comfortNoiseAgreed = true;
  if (chosen.srtp !== undefined) media.srtp = chosen.srtp;
  return { ok: true, answer: writeSdp(answer), media };
}

// ---------------------------------------------------------------------------------------------
// Offerer

/**
 * The offerer's side: checks the answer to our {@link createOffer} (called with the same
 * `offer`). The answer's first `m=` line answers our only stream; port 0 means it was
 * rejected. The first format on that line that we offered wins, matched by rtpmap name and
 * rate (RFC 3264 §6.1 only says the answerer SHOULD keep our numbers, so a renumbered codec is
 * accepted and sent with the answer's number), or by payload type when it has no rtpmap.
 */
export function negotiateAnswer(answerSdp: string, offer: LocalMedia): AnswerNegotiation {
  const parsed = parseSdp(answerSdp);
  if (isFailure(parsed)) return parsed;
  const { session } = parsed;
  const m = session.media[0];
  if (!m || m.type !== 'audio') return fail(488, 'answer does not start with our audio stream');
  if (int(m.port) === 0) return fail(488, 'audio stream rejected (port 0)');
  const protocol = text(m.protocol).toUpperCase();
  if (protocol !== 'RTP/AVP' && !(protocol === 'RTP/SAVP' && offer.srtp !== undefined && offer.srtp.crypto.length > 0)) {
    return fail(488, `answer uses transport ${text(m.protocol)}`);
  }
  const srtp = answeredSrtp(offer, cryptoValues(answerSdp)[0] ?? []);
  if (typeof srtp === 'string') return fail(488, srtp, 302);

  const formats = remoteFormats(m);
  let codec: AudioFormatSpec | undefined;
  let receivePayloadType = 0;
  for (const f of formats) {
    const ours =
      f.name === ''
        ? offer.formats.find((l) => l.payloadType === f.payloadType)
        : offer.formats.find((l) => sameFormat(f, l));
    if (ours) {
      codec = withRemoteNumbering(ours, f);
      receivePayloadType = ours.payloadType;
      break;
    }
  }
  if (!codec) return fail(488, 'answer selects no format we offered');

  const offeredEvents = offeredTelephoneEvents(offer);
  const events: NegotiatedTelephoneEvent[] = [];
  for (const f of formats) {
    if (f.name !== TELEPHONE_EVENT) continue;
    const ours = offeredEvents.find((e) => e.clockRate === f.clockRate);
    if (ours) events.push({ payloadType: f.payloadType, receivePayloadType: ours.payloadType, clockRate: f.clockRate });
  }
  const event = chooseTelephoneEvent(events, codec.clockRate);
  const cn = formats.find((f) => f.name === 'cn' && f.clockRate === codec.clockRate);

  const remote = readStream(session, m, offer.rtcpMux === true, offer.ptime);
  const media: NegotiatedMedia = {
    remoteAddress: remote.address,
    remotePort: remote.port,
    remoteRtcpAddress: remote.rtcpAddress,
    remoteRtcpPort: remote.rtcpPort,
    codec,
    receivePayloadType,
    remoteDirection: remote.direction,
    localDirection: offer.direction,
    sending: hasSend(offer.direction) && hasRecv(remote.direction),
    receiving: hasRecv(offer.direction) && hasSend(remote.direction),
    // An answer without recv only holds us if we offered to send; otherwise it merely mirrors our own hold.
    remoteHold: hasSend(offer.direction) && !hasRecv(remote.direction),
    // an answer's ptime is a wish too: the nearest we can send (at least one unit)
    ptime: choosePacketTime(codec.name, remote.ptime, undefined) ?? 20,
    rtcpMux: remote.rtcpMux,
    sessionVersion: parsed.sessionVersion,
    sessionId: parsed.sessionId,
  };
  if (event) media.telephoneEvent = event;
  if (cn) media.comfortNoisePayloadType = cn.payloadType;
  if (cn && offeredComfortNoise(offer, offeredTelephoneEvents(offer)).some((c) => c.clockRate === cn.clockRate)) media.comfortNoiseAgreed = true;
  if (srtp !== undefined) media.srtp = srtp;
  return { ok: true, media };
}

/**
 * The SRTP an answer agrees to, from its crypto lines (RFC 4568 §7.1.3: one line, with the tag
 * and suite of one we offered, and the answerer's key); undefined for a plain answer our policy
 * allows; a string saying why the answer is unusable otherwise.
 */
function answeredSrtp(offer: LocalMedia, values: readonly string[]): NegotiatedSrtp | undefined | string {
  const srtp = offer.srtp;
  if (srtp === undefined) return undefined; // we offered plain RTP: any crypto in the answer is ignored
  if (values.length === 0) return srtp.policy === 'mandatory' || srtp.required === true ? 'SRTP required: the answer has no a=crypto' : undefined;
  const reasons: string[] = [];
  for (const v of values) {
    const p = parseCrypto(v);
    if (!p.ok) {
      reasons.push(p.detail);
      continue;
    }
    const ours = srtp.crypto.find((c) => c.tag === p.crypto.tag);
    if (ours === undefined || ours.suite !== p.crypto.suite) {
      reasons.push(`tag ${p.crypto.tag} ${p.crypto.suite} was not offered`);
      continue;
    }
    return {
      suite: ours.suite,
      tag: ours.tag,
      localKey: ours.key,
      remoteKey: p.crypto.key,
      ...(p.crypto.mki !== undefined ? { remoteMki: p.crypto.mki } : {}),
      ...(p.crypto.lifetime !== undefined ? { remoteLifetime: p.crypto.lifetime } : {}),
    };
  }
  // the answerer accepted SRTP but with nothing we can use: sending plain would not be understood
  return `unusable a=crypto in the answer (${reasons.join('; ')})`;
}

// ---------------------------------------------------------------------------------------------
// Helpers for dialogs and logs

/**
 * True when `sdp` carries the same `o=` session id and version as the SDP that produced
 * `prev`: RFC 3264 §8 says such an offer is unchanged (a session refresh), so the media need
 * not be touched. Any unreadable SDP is "not the same".
 */
export function isSameRemoteVersion(prev: NegotiatedMedia, sdp: string): boolean {
  if (typeof sdp !== 'string') return false;
  for (const raw of sdp.split(/\r\n|\r|\n/)) {
    const origin = ORIGIN_RE.exec(raw.trimEnd());
    if (origin) return origin[2] === prev.sessionId && origin[3] === prev.sessionVersion;
    if (raw.startsWith('m=')) break;
  }
  return false;
}

/**
 * A one-line summary of an SDP for logs, e.g.
 * `o=- 42 v3; audio 192.0.2.1:4000 RTP/AVP [0 pcmu/8000, 101 telephone-event/8000] sendrecv`.
 * Never throws; unusable input is summarised by the parse failure.
 */
export function describeSdp(sdp: string): string {
  try {
    const parsed = parseSdp(sdp);
    if (isFailure(parsed)) return `invalid SDP (${parsed.detail})`;
    const { session } = parsed;
    const streams = session.media.map((m) => {
      const port = int(m.port) ?? 0;
      const head = `${text(m.type)} ${mediaAddress(session, m)}:${port} ${text(m.protocol)}`;
      if (port === 0) return `${head} rejected`;
      const formats = remoteFormats(m).map((f) => `${f.payloadType}${f.name ? ` ${f.name}/${f.clockRate}` : ''}`);
      return `${head} [${formats.join(', ')}] ${mediaDirection(session, m.direction)}`;
    });
    return `o=${parsed.originUser} ${parsed.sessionId} v${parsed.sessionVersion}; ${streams.join('; ')}`;
  } catch {
    return 'invalid SDP';
  }
}
