/**
 * The media of one call: an RTP/RTCP socket pair, the codec, the jitter buffer, DTMF both ways
 * (RFC 4733 and in-band), tones, WAV playback, IVR streams, loopback, gains and statistics,
 * all driven by the engine's single `MediaClock`: in the engine, as a node of its `MediaPump`
 * (`media/mediaPump`), whose phases put the received frame into the conference bridge before
 * it mixes and take the mix after, in the same tick; on its own, as a plain clock listener.
 *
 * Per 20 ms tick the session, in its produce phase, pops the jitter buffer, decodes (or
 * conceals), feeds the in-band DTMF detector and the VU meter and puts the frame into its
 * mixer port; in its consume phase it writes the received frame to its sinks (IVR Rx streams,
 * the recorder), builds the outgoing frame from its sources, applies the tx gain with
 * saturation, writes it to its sinks of sent audio, encodes it into a preallocated packet and
 * sends it, or sends the RFC 4733 event packet instead while a digit is on the wire. RTCP (SR or
 * RR, plus SDES CNAME) goes out about every five seconds.
 *
 * Sources and sinks are the ports of the call's graph (`media/mediaPorts`): the WAV player, IVR
 * Tx streams, the tone generator, in-band DTMF, the conference's mix and loopback are
 * `MediaSource`s, IVR Rx streams and the recorder `MediaSink`s. Their order and mixing rule are
 * the tables {@link TX_SOURCE_ORDER}, {@link RX_SINK_ORDER} and {@link TX_SINK_ORDER}; opening or
 * closing a WAV file, a stream or a tone adds or removes a port, and a port that ended (a file
 * played out, a stream destroyed) leaves by itself.
 *
 * Allocation: the receive handler, the tick and the send path reuse typed arrays, one packet
 * Buffer and one header object; user callbacks are stored once, no closure or promise is made
 * per packet. Exceptions to that, all documented where they happen: Node's own per-datagram
 * Buffers, the Opus binding's per-call Buffers, the per-frame Buffers of Rx IVR streams (they
 * go to the application), raw RTP access (an object and copies per packet, only while enabled),
 * and RTCP, which runs every few seconds.
 *
 * This module knows nothing of SIP: {@link MediaParams} is the plain shape the line layer maps
 * the negotiated SDP onto.
 * @module
 */
import { randomBytes, randomInt } from 'node:crypto';
import { createCodec, isCodecName, type AudioCodec, type CodecName } from './codecs.js';
import { payloadUnitOf, RxReframer, TxPacketizer, type ReadyPacket } from './packetTime.js';
import { OpusRxFramer } from './opusFraming.js';
import { DtmfDetector, DtmfGenerator, DtmfReceiver, DtmfSender, DTMF_RX_BEGIN, dtmfDigitChar, isValidDtmfString } from './dtmf.js';
import { IvrRxStream, IvrTxStream, isIvrSampleRate, type IvrSampleRate } from './ivr.js';
import { JitterBuffer, type JitterBufferStats, type JitterPop } from './jitterBuffer.js';
import type { MediaClock, MediaClockListener } from './mediaClock.js';
import type { MediaNode, MediaPump } from './mediaPump.js';
import type { SendTiming } from './sendTiming.js';
import { G729Codec } from './g729.js';
import { OPUS_MAX_FRAME_SAMPLES, OpusCodec, effectiveOpusSettings, isValidOpusSettings, parseOpusFmtp, type OpusSettings } from './opus.js';
import { createResampler, type Resampler, type ResamplerOptions } from './resample.js';
import { parseRtcp, writeRtcpCompound, type RtcpByeInit, type RtcpCompoundInit, type RtcpReportBlock } from './rtcp.js';
import { createRtpHeader, parseRtp, RtpParseResult, RTP_HEADER_SIZE, writeRtpHeader, type RtpHeaderFields } from './rtp.js';
import { RtpSocket, type RtpPortAllocator } from './rtpSocket.js';
import { packetArrivalMs } from './udpEndpoint.js';
import { sameSrtpKeying, SrtpSession, type SrtpKeying, type SrtpSessionStats } from './srtp.js';
import {
  RtpReceiveStats,
  RtpSendStats,
  RtpSeqStatus,
  type RtpReceiveStatsSnapshot,
  type RtpSendStatsSnapshot,
} from './rtpStats.js';
import { newQualityInputs, qualityInputsOf, writeQualityInputs, type QualityStats } from './quality.js';
import { writeRtpCounters } from './rtpCounters.js';
import { ToneGenerator, type ToneSpec } from './tones.js';
import { ComfortNoiseGenerator } from './comfortNoise.js';
import { SilenceSuppressor, TX_CN, TX_VOICE } from './silenceSuppression.js';
import { clampGain, gainAndLevel, GAIN_UNITY, measureLevel, mixInto, type FrameLevel } from './gain.js';
import { SinkChain, slotIndex, SourceChain, type DuplexMediaSink, type MediaSink, type MediaSource, type PortSlot } from './mediaPorts.js';
import { loadWav, WavPlayer, type WavLoadResult } from './wavPlayer.js';

/** The telephone-event part of {@link MediaParams} (RFC 4733). */
export interface MediaTelephoneEvent {
  /** Payload type we send events with. */
  payloadType: number;
  /** Payload type the far end sends events with. */
  receivePayloadType: number;
  /** Event clock in Hz; equals the audio clock when the far end allowed it (RFC 4733 §2.1). */
  clockRate: number;
}

/**
 * What the signalling negotiated for this stream, as the media layer needs it. The line layer
 * fills it from the SDP offer/answer; the media layer never sees SDP itself.
 */
export interface MediaParams {
  /** Where to send RTP; `0.0.0.0` / `::` (RFC 2543 hold) means send nothing, RTCP included. */
  remoteAddress: string;
  /** Remote RTP port. */
  remotePort: number;
  /** Remote RTCP port; default RTP + 1, or the RTP port under rtcp-mux. */
  remoteRtcpPort?: number;
  /** Codec for both directions. */
  codec: CodecName;
  /** Payload type we send the codec with. */
  payloadType: number;
  /** Payload type the far end sends the codec with. */
  receivePayloadType: number;
  /** RFC 4733 events, when both sides accept them. */
  telephoneEvent?: MediaTelephoneEvent;
  /** We send media (false: on hold, or the far end does not want ours). */
  sending: boolean;
  /** We play what arrives (false: received RTP is counted and dropped). */
  receiving: boolean;
  /** RTCP shares the RTP port (RFC 5761). */
  rtcpMux: boolean;
  /**
   * Packetisation time to send with, ms (default 20). G.711, G.722 and G.729 send any multiple
   * of 10 ms up to 60, GSM multiples of 20 ms (media/packetTime.ts); other values, and Opus,
   * send 20 ms. Received packets of any whole number of units (Opus: of any duration up to 120
   * ms) are taken whatever this says.
   */
  ptime?: number;
  /**
   * Dynamic payload type of RFC 3389 comfort noise the far end declared at the codec's clock;
   * static 13 is always understood.
   */
  comfortNoisePayloadType?: number;
  /**
   * Payload type to send RFC 3389 CN with during silence, when both SDPs listed CN at the
   * codec's clock; without it silence suppression sends audio (or the codec's own DTX).
   */
  comfortNoiseSendPayloadType?: number;
  /** The far end takes G.729 Annex B SID frames (its fmtp has no `annexb=no`). Default true. */
  annexB?: boolean;
  /**
   * The far end's `a=fmtp` for the codec (`''` when it gave none). For Opus it caps what we
   * encode (RFC 7587 §6.1: `maxaveragebitrate`, `maxplaybackrate`, `useinbandfec`, `cbr`);
   * absent (a session configured without SDP): no caps.
   */
  remoteFmtp?: string;
  /** SRTP keys from SDES (RFC 4568); absent: plain RTP. */
  srtp?: SrtpKeying;
}

/** How a DTMF digit travelled. */
export type DtmfMethod = 'rfc4733' | 'inband';

/**
 * Result of {@link MediaSession.sendDtmf}: how the digits will be sent (`inband` also when
 * `rfc4733` was asked for but the far end did not negotiate telephone-event), or `invalid`
 * (a character that is not a DTMF digit, or a closed session; nothing is queued then).
 */
export type SendDtmfResult = DtmfMethod | 'invalid';

/**
 * One RTP packet seen through `MediaSession.setRawRtpAccess`. Buffers are the
 * application's to keep (received ones are the datagram's own, sent ones are copies).
 */
export interface RawRtpData {
  /** The line number the engine gave the session (`MediaSessionOptions.phoneLine`). */
  phoneLine?: number;
  /** True for a packet we are about to send, false for one we received. */
  transmittingPacket: boolean;
  /** RTP payload type. */
  payloadType: number;
  /** Marker bit. */
  marker: boolean;
  /** Sequence number. */
  sequence: number;
  /** RTP timestamp. */
  timestamp: number;
  /** SSRC. */
  ssrc: number;
  /** The payload. */
  payload: Buffer;
  /** The whole packet, header included. */
  packet: Buffer;
  /** Set to false to drop the packet: it is then neither sent nor processed. */
  processRtpPacket: boolean;
}

/** Receives raw RTP packets; see {@link MediaSession.setRawRtpAccess}. */
export type RawRtpCallback = (data: RawRtpData) => void;

/**
 * A mixer port as the session sees it (the conference bridge's `Port` has this shape): each tick
 * the session puts what the far end said and takes what the far end should hear besides the
 * session's own sources. Structural, so `media/` needs nothing from `mixer/`.
 */
export interface MediaFramePort {
  /** The port's native rate; frames flow only while it equals the codec's rate. */
  readonly rate: number;
  /** This tick's received audio (after rx gain), at `rate`. */
  putFrame(pcm: Int16Array): void;
  /** What to send on top of the session's own sources this tick, at `rate`. */
  getFrame(): Int16Array;
  /**
   * True when the mix behind the port is made on another thread (a media floor's rings to the
   * main thread's bridge): the session then need not run around this thread's mix, so the pump
   * keeps it in whatever phase group it has (see `MediaPump.setMixed`).
   */
  readonly mixedElsewhere?: boolean;
}

/**
 * The sources of what a session sends, in mixing order (the frame starts as silence; each
 * source adds with saturation, so the order is part of the result). Loopback is exclusive:
 * while on, the received audio is all that is sent and the other sources hold their place.
 * Several IVR Tx streams play in the order they were opened.
 */
export const TX_SOURCE_ORDER: readonly PortSlot[] = Object.freeze([
  { name: 'loopback', mix: 'exclusive' },
  { name: 'wav', mix: 'additive' },
  { name: 'ivr-tx', mix: 'additive' },
  { name: 'tone', mix: 'additive' },
  { name: 'dtmf', mix: 'additive' },
  { name: 'conference', mix: 'additive' },
] as const);

/** The sinks of the received frame (after the rx gain), in the order they are written. */
export const RX_SINK_ORDER: readonly PortSlot[] = Object.freeze([{ name: 'ivr-rx' }, { name: 'recorder' }] as const);

/** The sinks of the frame sent (after the tx gain), written after every sink of the received one. */
export const TX_SINK_ORDER: readonly PortSlot[] = Object.freeze([{ name: 'recorder' }] as const);

const SRC_LOOPBACK = slotIndex(TX_SOURCE_ORDER, 'loopback');
const SRC_WAV = slotIndex(TX_SOURCE_ORDER, 'wav');
const SRC_IVR_TX = slotIndex(TX_SOURCE_ORDER, 'ivr-tx');
const SRC_TONE = slotIndex(TX_SOURCE_ORDER, 'tone');
const SRC_DTMF = slotIndex(TX_SOURCE_ORDER, 'dtmf');
const SRC_CONFERENCE = slotIndex(TX_SOURCE_ORDER, 'conference');
const RX_IVR = slotIndex(RX_SINK_ORDER, 'ivr-rx');
const RX_RECORDER = slotIndex(RX_SINK_ORDER, 'recorder');
const TX_RECORDER = slotIndex(TX_SINK_ORDER, 'recorder');

/** What an absent sink chain lists (most calls never have a sink). */
const NO_SINKS: readonly MediaSink[] = Object.freeze([]);

/** The conference's mix for this call, as a source: the bridge port's output at the codec's rate. */
class ConferenceSource implements MediaSource {
  readonly ended = false;
  constructor(readonly port: MediaFramePort) {}
  read(out: Int16Array, n: number, rate: number): boolean {
    // frames flow only while the port runs at the codec's rate (the owner replaces it otherwise)
    if (this.port.rate !== rate) return false;
    mixInto(out, this.port.getFrame(), n);
    return true;
  }
}

/** Loopback as a source: this tick's received frame (the session's array, filled in produce). */
class LoopbackSource implements MediaSource {
  readonly ended = false;
  /** @param rx - the session's received frame (re-aimed when the session widens it for Opus) */
  constructor(public rx: Int16Array) {}
  read(out: Int16Array, n: number): boolean {
    mixInto(out, this.rx, n); // into silence: a copy
    return true;
  }
}

/** Options of {@link MediaSession.open}. */
export interface MediaSessionOptions {
  /** The engine's media clock; without a `pump` the session adds itself on {@link MediaSession.start}. */
  clock: MediaClock;
  /**
   * The engine's media pump: the session then takes part in its phases (receive and put before
   * the bridge mixes, take and send after), instead of listening to the clock on its own.
   */
  pump?: MediaPump;
  /** The engine's RTP port range; one even/odd pair is taken for the life of the session. */
  allocator: RtpPortAllocator;
  /**
   * Our address as the far end should see it; informational (the allocator decides what is
   * bound) and part of the default CNAME. Default: the allocator's host.
   */
  localAddress?: string;
  /** Look for in-band DTMF in the received audio. Default false. */
  dtmfDetect?: boolean;
  /** Initial jitter buffer delay, ms. Default 60. */
  jitterMs?: number;
  /** Jitter buffer on (false: play the newest frame at once). Default true. */
  jitterEnabled?: boolean;
  /** A digit arrived: once per RFC 4733 event, once per in-band press. */
  onDtmf?: (digit: string, method: DtmfMethod) => void;
  /**
   * RTP arrived from a source other than the one we latched onto (symmetric RTP: the first
   * source after configure). Called once per new source; see {@link MediaSession} for latching.
   */
  onMediaConflict?: (address: string, port: number) => void;
  /** Raw access from the start; see {@link MediaSession.setRawRtpAccess}. */
  onRtpPacket?: RawRtpCallback;
  /** A non-looping WAV file finished playing. */
  onWaveEnd?: (path: string) => void;
  /** RTCP CNAME. Default: a random 16-character identifier per session (RFC 7022). */
  cname?: string;
  /** Line number reported in {@link RawRtpData.phoneLine}. */
  phoneLine?: number;
  /**
   * Send to where the far end's RTP comes from (symmetric RTP, RFC 4961), with latching and
   * conflict detection. Default true; false always sends to the SDP address and accepts RTP
   * from anywhere.
   */
  symmetric?: boolean;
  /** Mean RTCP report interval, ms (randomized 0.5–1.5×, RFC 3550 §6.3). Default 5000. */
  rtcpIntervalMs?: number;
  /**
   * A socket handler or application callback threw (`count` so far). Called on the 1st, 2nd,
   * 4th, 8th ... failure only: a fault on the packet path must not turn into a call per packet.
   */
  onHandlerError?: (err: unknown, count: number) => void;
}

/** Why {@link MediaSession.open} failed. */
export interface MediaSessionError {
  /** Discriminator. */
  ok: false;
  /** `exhausted`: no free port pair; `bind-failed`: the host cannot be bound; `internal`: anything else. */
  error: 'exhausted' | 'bind-failed' | 'internal';
  /** Human-readable detail. */
  message: string;
}

/** True when {@link MediaSession.open} failed. */
export function isMediaSessionError(x: MediaSession | MediaSessionError): x is MediaSessionError {
  return !(x instanceof MediaSession);
}

/** Current audio levels, in 16-bit sample units (0–32768), of the last 20 ms frame. */
export interface MediaLevels {
  /** Peak of the received frame (after the rx gain). */
  rxPeak: number;
  /** RMS of the received frame. */
  rxRms: number;
  /** Peak of the sent frame (after the tx gain). */
  txPeak: number;
  /** RMS of the sent frame. */
  txRms: number;
}

/** Received datagrams that failed to parse, by reason. */
export interface MalformedRtpCounts {
  /** Shorter than the 12-byte header. */
  tooShort: number;
  /** Version other than 2. */
  badVersion: number;
  /** CSRC list past the end. */
  badCsrc: number;
  /** Header extension past the end. */
  badExtension: number;
  /** Impossible padding count. */
  badPadding: number;
}

/** Receive figures of {@link MediaSessionStats}. */
export interface MediaRxStats extends RtpReceiveStatsSnapshot {
  /** Parse failures by reason. */
  malformedByReason: MalformedRtpCounts;
  /** Packets dropped because the session was not receiving (or not yet configured/started). */
  ignored: number;
  /** Packets dropped because they came from a source other than the latched one. */
  conflictDrops: number;
  /** Packets dropped by the raw RTP callback. */
  rawDropped: number;
}

/** Send figures of {@link MediaSessionStats}. */
export interface MediaTxStats extends RtpSendStatsSnapshot {
  /** RFC 4733 packets among `packets`. */
  dtmfPackets: number;
  /** RFC 6263 keep-alive packets (not in `packets`). */
  keepAlives: number;
  /** RFC 3389 CN packets sent in our silences (in `packets`). */
  comfortNoisePackets: number;
  /** 20 ms frames not sent because we were silent (silence suppression, Opus DTX, G.729 Annex B). */
  suppressedFrames: number;
  /** Packets dropped by the raw RTP callback. */
  rawDropped: number;
  /** Ticks with no destination to send to. */
  noDestination: number;
}

/** Everything {@link MediaSession.stats} reports; a plain object, safe to serialize. */
export interface MediaSessionStats {
  /** Codec in use, or null before {@link MediaSession.configure}. */
  codec: CodecName | null;
  /** Receive side (RFC 3550 appendix A figures plus the session's own counters). */
  rx: MediaRxStats;
  /** Send side. */
  tx: MediaTxStats;
  /** Jitter buffer. */
  jitter: JitterBufferStats;
  /** Frames concealed (lost packets and playout gaps). */
  concealedFrames: number;
  /** Of those, lost frames rebuilt from the next packet's in-band FEC (Opus). */
  fecFrames: number;
  /** DTMF counters (digits, not packets). */
  dtmf: {
    /** RFC 4733 events received. */
    rfc4733Received: number;
    /** In-band digits detected. */
    inbandDetected: number;
    /** Digits queued for RFC 4733. */
    rfc4733Sent: number;
    /** Digits queued in-band. */
    inbandSent: number;
  };
  /** Round-trip time from RTCP, ms, once known. */
  rttMs: number | undefined;
  /** RTCP counters. */
  rtcp: {
    /** Compound packets sent. */
    sent: number;
    /** Datagrams received. */
    received: number;
    /** Received datagrams that failed to parse. */
    malformed: number;
    /** BYE packets received. */
    byeReceived: number;
  };
  /** Sources other than the latched one that were reported. */
  mediaConflicts: number;
  /** Times the session re-latched to a new source. */
  relatches: number;
  /** Rx IVR frames dropped because the application was not reading (all channels ever opened). */
  ivrRxDrops: number;
  /** Tx IVR underruns (all channels ever opened). */
  ivrTxUnderruns: number;
  /** The ptime last asked for (what is sent, when the codec can packetise it). */
  ptimeRequested: number;
  /** RFC 3389 comfort noise from the far end: packets, the last level (−dBov), and whether it plays now. */
  comfortNoise: { packets: number; level: number; active: boolean };
  /** SRTP suite and drop counters, when the session is encrypted. */
  srtp?: SrtpSessionStats;
  /** Exceptions caught in socket handlers and user callbacks. */
  handlerErrors: number;
  /** The last of them (kept so a count never stands alone), if any. */
  lastHandlerError?: unknown;
  /**
   * Media workers only: conference frames lost crossing between the call's worker and the bridge
   * on the main thread, each way (a side that fell behind: the other used silence; or a frame
   * overwritten unread, or dropped to take back the delay a stall left; see FrameRing). Absent
   * when the call's media runs on the main thread, where the bridge reads the call's frames
   * directly and loses none.
   */
  conferenceFramesLost?: ConferenceFramesLost;
  /**
   * Media workers only: true when the call's worker did not answer this read in time (10 ms, or
   * 250 ms right after a command to the call), so the figures are the last it sent (at most a
   * second old) and may not show the latest command yet. Absent when they were read now.
   */
  awaitingFloor?: true;
}

/** {@link MediaSessionStats.conferenceFramesLost}: frames lost each way across the thread boundary. */
export interface ConferenceFramesLost {
  /** The call's received audio on its way into the bridge: the bridge heard silence instead. */
  toBridge: number;
  /** The bridge's mix on its way to the call: the far end was sent silence instead. */
  fromBridge: number;
}

const STATE_IDLE = 0;
const STATE_RUNNING = 1;
const STATE_CLOSED = 2;
/** Given back with {@link MediaSession.release}: on the shelf, or dropped when it was full. */
const STATE_RELEASED = 3;

/** What a session's Opus settings are before {@link MediaSession.setOpusSettings} (replaced, never changed in place). */
const NO_OPUS_SETTINGS: OpusSettings = Object.freeze({});

/** The public fields {@link MediaSession.setup} gives each life of a session (read-only outside). */
interface SessionIdentity {
  localPort: number;
  localRtcpPort: number;
  localAddress: string;
  ssrc: number;
  cname: string;
}

/**
 * Sessions given back with {@link MediaSession.release} (this thread's), for
 * {@link MediaSession.open} to reuse. A media floor gives back every session it ends: a set-up
 * storm's short calls then leave no session behind for the collector (each had outlived two
 * young collections, ~7 KB promoted, and the floor's full collections were what delayed its
 * sends; docs/architecture.md, "Sessions reused on the floors").
 */
const shelf: MediaSession[] = [];

/** A session's jitter buffer, as it makes one for a new stream and for a codec whose frame differs. */
function newJitterBuffer(samplesPerFrame: number, delayMs: number, enabled: boolean): JitterBuffer {
  // slots start at 20 ms of G.711 and widen once if larger frames (Opus) arrive
  const jb = new JitterBuffer({ samplesPerFrame, initialDelayMs: delayMs, maxPayload: 1280, initialPayload: 160 });
  jb.setEnabled(enabled);
  return jb;
}
/** The reception reports of a report about no one. */
const NO_REPORT_BLOCKS: readonly RtcpReportBlock[] = [];
/** The BYE every session ends with. */
const SESSION_ENDED_BYE: RtcpByeInit = Object.freeze({ reason: 'session ended' });

/** Most sessions kept on a thread's shelf: each holds about 10 KB of heap and 27 KB of buffers. */
export const MEDIA_SESSION_SHELF_MAX = 256;

/**
 * Fields whose value a session's life makes or resets itself ({@link MediaSession.setup} and
 * `revive`): every other field holds a number, string, boolean, null or undefined, or a handler
 * bound to the session, and a revived session gets it back as its constructor left it.
 */
const REVIVED_FIELDS: ReadonlySet<string> = new Set([
  'clock', 'socket', 'pump', 'sendTiming', 'hdr', 'rxHeader', 'scratch', 'pkt', 'txPack', 'rxFramer', 'ready',
  'rtcpBuf', 'rxPcm', 'rxPcm20', 'txPcm', 'detectPcm', 'reportBlock', 'reportList', 'rtcpSender', 'rtcpInit', 'jitter', 'rxStats', 'txStats',
  'cn', 'opusSettings', 'fecPeek', 'malformed', 'detector', 'rxLevel', 'txLevel', 'tapLevels', 'conflictAddrs',
  'conflictPorts', 'dtmfGen', 'sources', 'liveQuality', 'qualityInputs',
  // counts on across lives: a wave still loading for the last call finds its token stale
  'wavToken',
]);

/** A session's other fields as the first session made on this thread had them when constructed. */
interface PristineFields {
  readonly keys: string[];
  readonly values: unknown[];
}
let pristine: PristineFields | undefined;

/**
 * Takes a new session's fields for `revive` to put back. Throws when a field outside
 * {@link REVIVED_FIELDS} holds an object: revive would hand the next call this one's.
 */
function takePristine(session: MediaSession): PristineFields {
  const keys: string[] = [];
  const values: unknown[] = [];
  for (const [k, v] of Object.entries(session)) {
    if (REVIVED_FIELDS.has(k) || typeof v === 'function') continue;
    if (typeof v === 'object' && v !== null) throw new Error(`MediaSession.${k} holds an object that a revived session would keep`);
    keys.push(k);
    values.push(v);
  }
  return { keys, values };
}

/** Ticks of concealment after the stream dried up before falling silent. */
const MAX_CONCEAL_TICKS = 5;
/**
 * The in-band DTMF detector's decimator (wideband codecs to 8 kHz): 8 taps per branch keep
 * 697–1633 Hz flat (−0.04 dB) and the bands that fold onto them 75–83 dB down, at a fifth of the
 * default filter's cost (7.2 against 36.7 µs per 48 kHz frame): the detector needs no hi-fi
 * passband up to 3.6 kHz, and it runs on every received frame of every call.
 */
const DETECT_RESAMPLER: ResamplerOptions = Object.freeze({ tapsPerPhase: 8 });
/** A latched source silent this long may be replaced by a new one, ms. */
const RELATCH_SILENCE_MS = 1000;
/** Sources remembered so each conflict is reported once. */
const CONFLICT_MEMORY = 8;
/** Payload type of the RFC 6263 keep-alive: Comfort Noise (RFC 3389), never negotiated here. */
const KEEPALIVE_PT = 13;
/** RFC 3551 static payload type of comfort noise (RFC 3389) at 8000 Hz. */
const CN_STATIC_PT = 13;
const PACKET_BYTES = RTP_HEADER_SIZE + 1500;
/** An RTCP compound we write. */
const RTCP_BYTES = 1500;
/** Where the 16-bit frames start in a session's scratch store (even: Int16Array views need it). */
const RX_PCM_AT = PACKET_BYTES + RTCP_BYTES;
/** Where the 32-bit arrays start in it (a multiple of 4). */
const COUNTS_AT = RX_PCM_AT + (960 + 960 + 160) * 2;
/** A session's scratch store: packet, RTCP compound, received, sent and detector frames, malformed counts, conflict ports. */
const SCRATCH_BYTES = COUNTS_AT + (6 + CONFLICT_MEMORY) * 4;

function isNullAddress(a: string): boolean {
  return a === '0.0.0.0' || a === '::' || a === '' || a === '0:0:0:0:0:0:0:0';
}

/**
 * The media of one call. Open with {@link MediaSession.open}, apply the negotiation with
 * {@link MediaSession.configure}, then {@link MediaSession.start}; {@link MediaSession.stop}
 * ends it.
 *
 * Symmetric RTP: after each configure that changes the remote address, the session latches onto
 * the first source RTP of a negotiated payload type arrives from, and sends there. RTP from any other source is dropped and
 * reported once per source through `onMediaConflict`; when the latched source has been silent
 * for more than one second, the next packet from another source moves the latch there (a phone
 * that changed its address or NAT binding).
 *
 * Hold: with `sending` false no audio goes out; RTCP continues (RR). With a keep-alive interval
 * ({@link MediaSession.setKeepAlive}) an RFC 6263 §4.6 keep-alive is sent instead: an RTP packet
 * with payload type 13 (Comfort Noise, never negotiated by this engine, so the far end discards
 * it) and one payload byte 127 (the quietest noise level, −127 dBov, should a peer play it).
 * Keep-alives use the session's SSRC and sequence numbers.
 */
export class MediaSession implements MediaNode {
  /** Local RTP port. */
  readonly localPort!: number;
  /** Local RTCP port (RTP + 1; unused under rtcp-mux). */
  readonly localRtcpPort!: number;
  /** Our address as given in the options. */
  readonly localAddress!: string;
  /** Our SSRC, kept for the life of the session (re-INVITEs included). */
  readonly ssrc!: number;
  /** Our RTCP CNAME. */
  readonly cname!: string;

  private clock!: MediaClock;
  private socket!: RtpSocket;
  private phoneLine: number | undefined;
  private symmetric = true;
  private rtcpIntervalTicks = 250;
  private onDtmfCb: ((digit: string, method: DtmfMethod) => void) | undefined;
  private onConflictCb: ((address: string, port: number) => void) | undefined;
  private onWaveEndCb: ((path: string) => void) | undefined;
  private rawCb: RawRtpCallback | undefined;

  private state = STATE_IDLE;
  private stopPromise: Promise<void> | null = null;
  /** The stop's socket close has resolved: {@link MediaSession.release} may shelve the session. */
  private socketClosed = false;
  private params: MediaParams | null = null;
  private codec: AudioCodec | null = null;
  private sendPt = 0;
  private recvPt = -1;
  private tePt = -1;
  private teRecvPt = -1;
  private teClock = 0;
  private remoteNull = true;
  private ptimeRequested = 20;

  // timing and sequence state of our stream
  private txSeq = 0;
  private txTs = 0;
  private tsIncrement = 160;
  /** The pump's send-timing recorder (null: not timed), the last audio send's time and timestamp. */
  private sendTiming: SendTiming | null = null;
  private lastSendMs = -1;
  private lastSendTs = 0;
  private periodMs = 20;
  private needMarker = true;
  private readonly hdr: RtpHeaderFields = { marker: false, payloadType: 0, sequence: 0, timestamp: 0, ssrc: 0 };

  // memory reused every tick / packet
  private readonly rxHeader = createRtpHeader();
  /** One backing store for the scratch arrays below: one native allocation per session, not seven. */
  private readonly scratch = new ArrayBuffer(SCRATCH_BYTES);
  private readonly pkt = Buffer.from(this.scratch, 0, PACKET_BYTES);
  /** Packs frames into packets of the negotiated ptime, and cuts received ones into frames. */
  private readonly txPack = new TxPacketizer();
  private readonly rxFramer = new RxReframer();
  /** Opus packets of other than 20 ms into 20 ms units (media/opusFraming.ts); set while Opus is in use. */
  private rxOpus: OpusRxFramer | null = null;
  private opusFramer: OpusRxFramer | undefined;
  private readonly ready: ReadyPacket = { length: 0, timestamp: 0 };
  /** An encoded frame set aside while the pending units go out. */
  private txFrame?: Buffer;
  private readonly rtcpBuf = Buffer.from(this.scratch, PACKET_BYTES, RTCP_BYTES);
  /** The received frame: 20 ms at 48 kHz, widened to Opus' longest frame when Opus is chosen. */
  private readonly rxPcm20 = new Int16Array(this.scratch, RX_PCM_AT, 960);
  private rxPcm = this.rxPcm20;
  private readonly txPcm = new Int16Array(this.scratch, RX_PCM_AT + 960 * 2, 960);
  private readonly detectPcm = new Int16Array(this.scratch, RX_PCM_AT + 960 * 4, 160);
  private readonly reportBlock: RtcpReportBlock = {
    ssrc: 0,
    fractionLost: 0,
    cumulativeLost: 0,
    extendedHighestSeq: 0,
    jitter: 0,
    lsr: 0,
    dlsr: 0,
  };
  private readonly reportList: RtcpReportBlock[] = [this.reportBlock];
  /** What each RTCP report is written from, refilled per report (every field is set each time). */
  private readonly rtcpSender: NonNullable<RtcpCompoundInit['sender']> = { wallClockMs: 0, rtpTimestamp: 0, packetCount: 0, octetCount: 0 };
  private readonly rtcpInit: RtcpCompoundInit = { ssrc: 0, cname: '', sender: undefined, reports: NO_REPORT_BLOCKS, bye: undefined };

  // receive side
  private jitter!: JitterBuffer;
  private jitterMs = 60;
  private jitterEnabled = true;
  private rxStats!: RtpReceiveStats;
  private rxSsrc = 0;
  private rxSsrcKnown = false;
  private rxPlaying = false;
  private rxConcealRun = 0;
  /** RFC 3389 noise during the far end's silence. */
  private readonly cn = new ComfortNoiseGenerator();
  private cnRecvPt = CN_STATIC_PT;
  /** RTP timestamp of the last CN packet received. */
  private cnTs = 0;
  private concealed = 0;
  private fecFrames = 0;
  /** Opus settings for the codecs this session creates ({@link MediaSession.setOpusSettings}). */
  private opusSettings: OpusSettings = NO_OPUS_SETTINGS;
  /** Where {@link JitterBuffer.peekAfterLost} puts the packet after a lost one (reused). */
  private readonly fecPeek: JitterPop = { status: 'empty', buffer: Buffer.alloc(0), offset: 0, length: 0, seq: 0, timestamp: 0 };
  private readonly malformed = new Uint32Array(this.scratch, COUNTS_AT, 6);
  private rxIgnored = 0;
  private rxRawDropped = 0;
  private dtmfReceiver: DtmfReceiver | null = null;
  private detector: DtmfDetector | null = null;
  private detectResampler: Resampler | null = null;
  private rxGain = GAIN_UNITY;
  private readonly rxLevel: FrameLevel = { peak: 0, rms: 0 };
  /**
   * Samples of the received frame whose level `rxLevel` does not hold yet (0: up to date). With
   * unity gain and no level tap, nothing needs the level during the tick, so the tick leaves it
   * to {@link MediaSession.levels}, which measures the frame, still in `rxPcm`, when asked.
   */
  private rxLevelDue = 0;
  /** Sinks of the received frame: IVR Rx streams, the recorder's rx half (made by the first one added). */
  private rxSinks: SinkChain | null = null;
  private ivrRxDropsClosed = 0;

  // symmetric RTP
  private latchAddress = '';
  private latchPort = 0;
  private latchLastMs = 0;
  private readonly conflictAddrs: string[] = [];
  private readonly conflictPorts = new Int32Array(this.scratch, COUNTS_AT + 6 * 4, CONFLICT_MEMORY);
  private conflictNext = 0;
  private conflicts = 0;
  private conflictDrops = 0;
  private relatches = 0;

  // send side
  private txStats!: RtpSendStats;
  private dtmfSender: DtmfSender | null = null;
  private dtmfGen!: DtmfGenerator;
  /** Made by the first tone: most calls play none (a generator is four objects and three arrays). */
  private tone: ToneGenerator | null = null;
  /** The RTP clock rate the jitter buffer and RTP statistics were made for. */
  private madeClockRate = 8000;
  /** The sample rate the DTMF and tone generators were made for. */
  private madeSampleRate = 8000;
  private toneSpec: ToneSpec | null = null;
  private wav: WavPlayer | null = null;
  private wavToken = 0;
  /** Sources of the frame sent, in {@link TX_SOURCE_ORDER}. */
  private readonly sources: SourceChain;
  /** Sinks of the frame sent: the recorder's tx half (made by the first one added). */
  private txSinks: SinkChain | null = null;
  private ivrTxUnderrunsClosed = 0;
  /** Made the first time loopback is switched on (most calls never use it). */
  private loopbackSource: LoopbackSource | null = null;
  private framePort: MediaFramePort | null = null;
  private conferenceSource: ConferenceSource | null = null;
  private held = false;
  private recorder: DuplexMediaSink | null = null;
  private levelTap: ((levels: MediaLevels) => void) | null = null;
  private readonly tapLevels: MediaLevels = { rxPeak: 0, rxRms: 0, txPeak: 0, txRms: 0 };
  private txGain = GAIN_UNITY;
  private readonly txLevel: FrameLevel = { peak: 0, rms: 0 };
  /** As `rxLevelDue`, for the frame sent (still in `txPcm`). */
  private txLevelDue = 0;
  private dtmfPackets = 0;
  private keepAlives = 0;
  private txRawDropped = 0;
  private noDestination = 0;
  private keepAliveTicks = 0;
  private keepAliveCount = 0;
  /** Silence suppression asked for ({@link MediaSession.setSilenceSuppression}). */
  private suppression = false;
  /** The VAD sending CN (made when first needed); null while audio or the codec's DTX goes out. */
  private suppressor: SilenceSuppressor | null = null;
  private useVad = false;
  /** The codec's own DTX runs (Opus DTX, G.729 Annex B): its empty frames are not sent. */
  private codecDtx = false;
  private cnSendPt = -1;
  private cnSent = 0;
  private suppressedFrames = 0;

  // counters
  private rfc4733Rx = 0;
  private inbandRx = 0;
  private rfc4733Tx = 0;
  private inbandTx = 0;
  private rtcpSent = 0;
  private rtcpIn = 0;
  private rtcpMalformed = 0;
  private byeReceived = 0;
  /** RTP from an accepted source plus RTCP, counted for {@link MediaSession.mediaPacketsIn}. */
  private mediaIn = 0;
  private rtcpCountdown = 0;
  private handlerErrors = 0;
  private lastHandlerError: unknown = undefined;
  private onHandlerErrorCb: ((err: unknown, count: number) => void) | undefined;

  /** On the clock without a pump: both phases back to back (made by the first `start`). */
  private listener: MediaClockListener | null = null;
  private pump: MediaPump | null = null;
  /** The produce phase ran this tick (consume then has a received frame). */
  private produced = false;
  /** What {@link writeQualityInputs} reads, and the inputs it fills (both made once). */
  private readonly liveQuality = new LiveQualityStats(() => this.rxStats, () => this.jitter, () => this.txStats);
  private readonly qualityInputs = newQualityInputs();

  private constructor(options: MediaSessionOptions, socket: RtpSocket) {
    this.sources = new SourceChain(TX_SOURCE_ORDER, this.portEnded);
    this.setup(options, socket);
    pristine ??= takePristine(this);
  }

  /**
   * What a session takes from its options and socket: for a new session, and again for each life
   * a released one is given by {@link MediaSession.open}.
   */
  private setup(options: MediaSessionOptions, socket: RtpSocket): void {
    const id = this as SessionIdentity;
    this.clock = options.clock;
    this.socket = socket;
    id.localPort = socket.rtpPort;
    id.localRtcpPort = socket.rtcpPort;
    id.localAddress = options.localAddress ?? socket.host;
    this.phoneLine = options.phoneLine;
    this.symmetric = options.symmetric ?? true;
    this.onDtmfCb = options.onDtmf;
    this.onConflictCb = options.onMediaConflict;
    this.onWaveEndCb = options.onWaveEnd;
    this.onHandlerErrorCb = options.onHandlerError;
    this.rawCb = options.onRtpPacket;
    id.ssrc = randomInt(1, 0xffffffff) >>> 0;
    id.cname = options.cname ?? randomBytes(12).toString('base64url');
    this.txSeq = randomInt(0, 0x10000);
    this.txTs = randomInt(0, 0xffffffff) >>> 0;
    this.hdr.ssrc = this.ssrc;
    this.rtcpIntervalTicks = Math.max(1, Math.round((options.rtcpIntervalMs ?? 5000) / 20));
    this.rtcpCountdown = this.nextRtcpTicks();
    this.jitterMs = options.jitterMs ?? 60;
    this.jitterEnabled = options.jitterEnabled ?? true;
    // a released session's buffer serves again when it has the G.711 frame this starts with
    const jb = this.jitter as JitterBuffer | undefined;
    if (jb !== undefined && jb.samplesPerFrame === 160) {
      jb.renew(this.jitterMs);
      jb.setEnabled(this.jitterEnabled);
    } else this.jitter = this.makeJitter(160);
    this.rxStats = new RtpReceiveStats({ clockRate: 8000 });
    this.txStats = new RtpSendStats(8000);
    // a released session's detector serves again, cleared
    if (options.dtmfDetect !== true) this.detector = null;
    else if (this.detector === null) this.detector = new DtmfDetector();
    else this.detector.reset();
    this.dtmfGen = new DtmfGenerator({ sampleRate: 8000 });
    this.pump = options.pump ?? null;
    this.sendTiming = this.pump?.timing ?? null;
    this.periodMs = this.clock.periodMs;
    socket.onRtp = this.onRtp;
    socket.onRtcp = this.onRtcp;
  }

  /**
   * Allocates a port pair and creates the session (not started, not configured). Never
   * rejects: exhaustion and bind failures come back as a {@link MediaSessionError}.
   */
  static async open(options: MediaSessionOptions): Promise<MediaSession | MediaSessionError> {
    try {
      const r = await RtpSocket.open(options.allocator, { rtcpMux: false, symmetric: false });
      if (!r.ok) return { ok: false, error: r.error, message: r.message };
      const reused = shelf.pop();
      if (reused === undefined) return new MediaSession(options, r.socket);
      reused.revive(options, r.socket);
      return reused;
    } catch (err) {
      return { ok: false, error: 'internal', message: err instanceof Error ? err.message : String(err) };
    }
  }

  /**
   * A released session made a new one: its fields as a new session's, its buffers and
   * generators emptied, then what the options and socket give ({@link MediaSession.setup}).
   */
  private revive(options: MediaSessionOptions, socket: RtpSocket): void {
    const p = pristine!;
    const fields = this as unknown as Record<string, unknown>;
    for (let i = 0; i < p.keys.length; i++) fields[p.keys[i]!] = p.values[i];
    this.malformed.fill(0);
    this.conflictPorts.fill(0);
    this.conflictAddrs.length = 0;
    this.rxPcm = this.rxPcm20;
    this.rxPcm20.fill(0);
    this.txPcm.fill(0);
    this.txPack.configure(undefined, 20, 8000);
    this.rxFramer.configure(undefined, 8000);
    this.cn.reset();
    this.opusSettings = NO_OPUS_SETTINGS;
    this.rxLevel.peak = this.rxLevel.rms = 0;
    this.txLevel.peak = this.txLevel.rms = 0;
    const t = this.tapLevels;
    t.rxPeak = t.rxRms = t.txPeak = t.txRms = 0;
    this.hdr.marker = false;
    this.setup(options, socket);
  }

  /**
   * Gives the session to this thread's shelf once {@link MediaSession.stop} has resolved and its
   * last statistics are read: the next {@link MediaSession.open} reuses it instead of making one.
   * Nothing may use the session afterwards (a media floor releases each call it ends). A no-op
   * before the stop has resolved, and after the first release.
   */
  release(): void {
    if (this.state !== STATE_CLOSED || !this.socketClosed) return;
    this.state = STATE_RELEASED;
    if (shelf.length < MEDIA_SESSION_SHELF_MAX) shelf.push(this);
  }

  private makeJitter(samplesPerFrame: number): JitterBuffer {
    return newJitterBuffer(samplesPerFrame, this.jitterMs, this.jitterEnabled);
  }

  private nextRtcpTicks(): number {
    // RFC 3550 §6.3.1: randomize to 0.5–1.5 of the interval so reports of many sessions spread out
    return Math.max(1, Math.round(this.rtcpIntervalTicks * (0.5 + Math.random())));
  }

  /** True between {@link MediaSession.start} and {@link MediaSession.stop}. */
  get running(): boolean {
    return this.state === STATE_RUNNING;
  }

  /** True once {@link MediaSession.stop} was called. */
  get closed(): boolean {
    return this.state >= STATE_CLOSED;
  }

  /** The parameters of the last successful {@link MediaSession.configure} (a copy), or null. */
  get mediaParams(): MediaParams | null {
    return this.params === null ? null : { ...this.params };
  }

  /**
   * Applies negotiated parameters; call again for re-INVITEs (hold, resume, new address, new
   * codec). SSRC, sequence numbers and timestamps carry on; a codec change brings a fresh codec
   * and jitter buffer, and re-aims tones, WAV playback, DTMF and IVR channels at the new rate.
   * Returns false (changing nothing) for invalid parameters, a codec that cannot be created
   * (Opus without its native module) or a closed session.
   */
  configure(p: MediaParams): boolean {
    if (this.state >= STATE_CLOSED) return false;
    if (!isCodecName(p.codec)) return false;
    if (!validPt(p.payloadType) || !validPt(p.receivePayloadType)) return false;
    if (!(Number.isInteger(p.remotePort) && p.remotePort >= 0 && p.remotePort <= 65535)) return false;
    const te = p.telephoneEvent;
    if (te !== undefined && (!validPt(te.payloadType) || !validPt(te.receivePayloadType) || !(te.clockRate > 0))) return false;
    if (!this.applySrtp(p.srtp)) return false;
    const prev = this.params;
    if (this.codec === null || this.codec.name !== p.codec) {
      const c = createCodec(p.codec, p.payloadType, { opus: this.opusSettings });
      if (c === undefined) return false;
      const old = this.codec;
      this.codec = c;
      if (old !== null) old.close();
      this.codecChanged(old);
    } else if (prev !== null && prev.receivePayloadType !== p.receivePayloadType) {
      this.jitter.reset();
    }
    this.sendPt = p.payloadType;
    this.recvPt = p.receivePayloadType;
    if (te !== undefined) {
      if (this.dtmfSender === null || this.teClock !== te.clockRate) {
        this.dtmfSender = new DtmfSender({ clockRate: te.clockRate });
        this.dtmfReceiver = new DtmfReceiver(te.clockRate);
        this.teClock = te.clockRate;
      }
      this.tePt = te.payloadType;
      this.teRecvPt = te.receivePayloadType;
    } else {
      this.dtmfSender = null;
      this.dtmfReceiver = null;
      this.tePt = -1;
      this.teRecvPt = -1;
      this.teClock = 0;
    }
    const rtcpPort = p.remoteRtcpPort ?? (p.rtcpMux ? p.remotePort : p.remotePort + 1);
    const prevRtcp = prev === null ? -1 : (prev.remoteRtcpPort ?? (prev.rtcpMux ? prev.remotePort : prev.remotePort + 1));
    this.socket.setRtcpMux(p.rtcpMux);
    if (
      prev === null ||
      prev.remoteAddress !== p.remoteAddress ||
      prev.remotePort !== p.remotePort ||
      prevRtcp !== rtcpPort ||
      prev.rtcpMux !== p.rtcpMux
    ) {
      this.socket.setRemote(p.remoteAddress, p.remotePort, rtcpPort);
      this.latchPort = 0;
      this.latchAddress = '';
      this.conflictAddrs.length = 0;
      this.conflictNext = 0;
    }
    this.remoteNull = isNullAddress(p.remoteAddress) || p.remotePort === 0;
    if (p.sending && (prev === null || !prev.sending)) this.needMarker = true;
    this.ptimeRequested = p.ptime ?? 20;
    this.txPack.configure(payloadUnitOf(this.codec.name), this.ptimeRequested, this.codec.clockRate);
    const cnPt = p.comfortNoisePayloadType;
    this.cnRecvPt = cnPt !== undefined && validPt(cnPt) ? cnPt : CN_STATIC_PT;
    const cnSend = p.comfortNoiseSendPayloadType;
    this.cnSendPt = cnSend !== undefined && validPt(cnSend) ? cnSend : -1;
    this.params = { ...p, ...(te !== undefined ? { telephoneEvent: { ...te } } : {}) };
    this.applyOpusSettings();
    this.applySuppression();
    return true;
  }

  /**
   * Silence suppression on send (`media/silenceSuppression`), from the next frame: with Opus its
   * DTX, with G.729 Annex B (unless the far end said `annexb=no`), otherwise the VAD and RFC 3389
   * CN packets when the negotiation agreed CN; with none of these the audio keeps flowing (CN
   * unagreed must not be sent), and the next offer/answer of the call agrees it.
   */
  setSilenceSuppression(on: boolean): void {
    this.suppression = on;
    this.applySuppression();
  }

  /** Picks how silence is suppressed for the codec and negotiation in force. */
  private applySuppression(): void {
    const c = this.codec;
    const p = this.params;
    if (c === null || p === null) return;
    const on = this.suppression;
    let dtx = false;
    if (c instanceof OpusCodec) {
      dtx = on || this.opusSettings.dtx === true;
      c.applySettings({ dtx });
    } else if (c instanceof G729Codec) {
      dtx = on && p.annexB !== false && c.setAnnexB(true);
      if (!dtx) c.setAnnexB(false);
    }
    this.codecDtx = dtx;
    this.useVad = on && !dtx && this.cnSendPt >= 0;
    if (this.useVad) (this.suppressor ??= new SilenceSuppressor()).reset();
  }

  /** Re-aims everything rate-dependent at the new codec. */
  private codecChanged(old: AudioCodec | null): void {
    const c = this.codec!;
    const rate = c.sampleRate;
    const spf = (c.clockRate * 20) / 1000;
    this.tsIncrement = spf;
    this.rxFramer.configure(payloadUnitOf(c.name), c.clockRate);
    this.rxOpus = c.name === 'opus' ? (this.opusFramer ??= new OpusRxFramer()) : null;
    if (this.rxOpus !== null && this.rxPcm.length < OPUS_MAX_FRAME_SAMPLES) {
      // a long Opus frame (up to 120 ms) is decoded whole; other codecs never need more than 20 ms
      this.rxPcm = new Int16Array(OPUS_MAX_FRAME_SAMPLES);
      if (this.loopbackSource !== null) this.loopbackSource.rx = this.rxPcm;
    }
    this.rxOpus?.reset();
    // the constructor's jitter buffer, statistics and generators are made for 8 kHz: the first
    // configure of an 8 kHz codec keeps them (a storm of calls makes ~16 KB less garbage each)
    if (this.madeClockRate !== c.clockRate) {
      this.madeClockRate = c.clockRate;
      this.jitter = this.makeJitter(spf);
      this.rxStats = carryRx(this.rxStats, new RtpReceiveStats({ clockRate: c.clockRate }));
      const tx = new RtpSendStats(c.clockRate);
      tx.packets = this.txStats.packets;
      tx.octets = this.txStats.octets;
      this.txStats = tx;
      this.rxSsrcKnown = false;
    } else {
      this.jitter.reset();
    }
    this.rxPlaying = false;
    this.rxConcealRun = 0;
    this.needMarker = true;
    if (old === null || old.sampleRate !== rate) {
      this.detectResampler = this.detector !== null ? createResampler(rate, 8000, DETECT_RESAMPLER) : null;
      this.detector?.reset();
      if (this.madeSampleRate !== rate) {
        this.madeSampleRate = rate;
        // generators are made for one rate: the new ones replace the old ports
        this.sources.remove(this.dtmfGen);
        this.dtmfGen = new DtmfGenerator({ sampleRate: rate });
        if (this.tone !== null) {
          this.sources.remove(this.tone);
          this.tone = new ToneGenerator(rate);
        }
        if (this.toneSpec !== null) this.startTone(this.toneSpec);
      }
      for (const s of this.rxSinks?.list() ?? NO_SINKS) if (s instanceof IvrRxStream) s.setSourceRate(rate);
      for (const s of this.sources.list()) if (s instanceof IvrTxStream) s.setTargetRate(rate);
      if (this.wav !== null) this.retargetWav(this.wav, this.wavToken);
    }
  }

  /** Starts ticking on the engine clock. Idempotent; false once stopped. */
  start(): boolean {
    if (this.state >= STATE_CLOSED) return false;
    if (this.state === STATE_RUNNING) return true;
    this.state = STATE_RUNNING;
    this.needMarker = true;
    if (this.pump !== null) this.pump.add(this);
    else {
      // without a pump (a session on its own) both phases run back to back on the clock
      this.listener ??= {
        onTick: () => {
          this.produce();
          this.consume();
        },
      };
      this.clock.add(this.listener);
    }
    return true;
  }

  /**
   * Ends the session: leaves the clock, sends an RTCP BYE, ends the IVR streams, closes the
   * sockets and gives the ports back. Idempotent: every call returns the same promise.
   */
  stop(): Promise<void> {
    if (this.stopPromise !== null) return this.stopPromise;
    const wasConfigured = this.params !== null;
    this.state = STATE_CLOSED;
    if (this.pump !== null) this.pump.remove(this);
    else if (this.listener !== null) this.clock.remove(this.listener);
    if (wasConfigured) this.sendRtcpReport(true);
    this.wav = null;
    this.wavToken++;
    this.recorder = null;
    for (const s of this.rxSinks?.list() ?? NO_SINKS) if (s instanceof IvrRxStream) this.closedRx(s);
    for (const s of this.sources.list()) if (s instanceof IvrTxStream) this.closedTx(s);
    this.rxSinks?.clear();
    this.txSinks?.clear();
    this.sources.clear();
    const codec = this.codec;
    this.stopPromise = new Promise<void>((resolve) => {
      // one event-loop turn first: dgram resolves the address on nextTick, so the BYE must be
      // handed to the kernel before the socket closes
      setImmediate(() => {
        if (codec !== null) codec.close();
        const closed = (): void => {
          this.socketClosed = true;
          resolve();
        };
        this.socket.close().then(closed, closed);
      });
    });
    return this.stopPromise;
  }

  /**
   * Keys the socket's SRTP from `keying` (kept when unchanged: a re-INVITE that re-states the same
   * keys must not reset libsrtp's replay windows). False when the contexts cannot be made.
   */
  private applySrtp(keying: SrtpKeying | undefined): boolean {
    const current = this.socket.srtpSession;
    if (sameSrtpKeying(current?.keying, keying)) return true;
    if (keying === undefined) {
      this.socket.setSrtp(null)?.close();
      return true;
    }
    // the peer re-keyed: only the receive side changes (our send context keeps its rollover counter)
    if (current !== null && current.sameSendSide(keying)) return current.rekeyReceive(keying);
    const made = SrtpSession.create(keying);
    if (!made.ok) return false;
    if (current !== null) made.value.inherit(current);
    this.socket.setSrtp(made.value)?.close();
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // Receive path
  // ------------------------------------------------------------------------------------------

  /** One closure for the life of the session: the socket calls it per datagram. */
  private readonly onRtp = (buf: Buffer, len: number, address: string, port: number): void => {
    try {
      this.receiveRtp(buf, len, address, port);
    } catch (err) {
      this.handlerFailed(err);
    }
  };

  private receiveRtp(buf: Buffer, len: number, address: string, port: number): void {
    const h = this.rxHeader;
    const code = parseRtp(buf, len, h);
    if (code !== RtpParseResult.Ok) {
      this.rxStats.countMalformed(code);
      this.malformed[code]!++;
      return;
    }
    const codec = this.codec;
    if (this.state !== STATE_RUNNING || codec === null) {
      this.rxIgnored++;
      return;
    }
    const now = packetArrivalMs();
    const pt = h.payloadType;
    const isAudio = pt === this.recvPt;
    const isCn = !isAudio && (pt === CN_STATIC_PT || pt === this.cnRecvPt);
    const known = isAudio || isCn || (this.teRecvPt >= 0 && pt === this.teRecvPt);
    if (this.symmetric && !this.acceptSource(address, port, now, known)) return;
    this.mediaIn++;
    if (this.rawCb !== undefined && !this.rawReceived(buf, len, h.payloadOffset, h.payloadLength)) {
      this.rxRawDropped++;
      return;
    }
    if (!known) {
      this.rxStats.countUnknownPayloadType();
      return;
    }
    if (!this.params!.receiving) {
      this.rxIgnored++;
      return;
    }
    if (!this.rxSsrcKnown || h.ssrc !== this.rxSsrc) {
      if (this.rxSsrcKnown) {
        // a new stream: old frames and event state belong to the previous one
        this.jitter.reset();
        this.cn.reset();
        this.dtmfReceiver?.reset();
        this.rxOpus?.reset();
        this.rxPlaying = false;
      }
      this.rxStats.onSsrcChange(h.ssrc);
      this.rxSsrc = h.ssrc;
      this.rxSsrcKnown = true;
    }
    const st = this.rxStats.update(h.sequence, h.timestamp, now, len);
    if (st === RtpSeqStatus.Duplicate || st === RtpSeqStatus.BadSeq) return;
    if (isAudio) {
      // packets of other than 20 ms are cut into (or joined to) the jitter buffer's frames
      if (this.rxOpus !== null) this.rxOpus.feed(this.jitter, h.sequence, h.timestamp, buf, h.payloadOffset, h.payloadLength, now);
      else this.rxFramer.feed(this.jitter, h.sequence, h.timestamp, buf, h.payloadOffset, h.payloadLength, now);
      return;
    }
    if (isCn) {
      this.cn.receive(buf, h.payloadOffset, h.payloadLength);
      this.cnTs = h.timestamp;
      return;
    }
    const rx = this.dtmfReceiver;
    if (rx === null) return;
    const flags = rx.receive(buf, h.payloadOffset, h.payloadLength, h.timestamp, h.marker);
    if ((flags & DTMF_RX_BEGIN) !== 0) {
      const digit = dtmfDigitChar(rx.event);
      if (digit !== '') {
        this.rfc4733Rx++;
        this.emitDtmf(digit, 'rfc4733');
      }
    }
  }

  /**
   * Symmetric RTP latching; false drops the packet. Only a packet of a negotiated payload type
   * (`known`) may establish or move the latch, so a stray datagram cannot steer our media;
   * anything from the latched source (keep-alives included) counts as a sign of life.
   */
  private acceptSource(address: string, port: number, now: number, known: boolean): boolean {
    if (port === this.latchPort && address === this.latchAddress) {
      this.latchLastMs = now;
      return true;
    }
    // Media from the address and port the SDP negotiated always wins: a stray source that
    // happened to speak first cannot keep the far end's own media out.
    const p = this.params;
    if (known && p !== null && port === p.remotePort && address === p.remoteAddress) {
      if (this.latchPort !== 0) this.relatches++;
      this.latch(address, port, now);
      return true;
    }
    if (this.latchPort === 0) {
      if (known) this.latch(address, port, now);
      return true;
    }
    if (!this.conflictKnown(address, port)) {
      this.rememberConflict(address, port);
      this.conflicts++;
      if (this.onConflictCb !== undefined) {
        try {
          this.onConflictCb(address, port);
        } catch (err) {
          this.handlerFailed(err);
        }
      }
    }
    if (known && now - this.latchLastMs > RELATCH_SILENCE_MS) {
      this.relatches++;
      this.latch(address, port, now);
      return true;
    }
    this.conflictDrops++;
    return false;
  }

  private latch(address: string, port: number, now: number): void {
    this.latchAddress = address;
    this.latchPort = port;
    this.latchLastMs = now;
    const p = this.params;
    if (p === null) return;
    if (address === p.remoteAddress && port === p.remotePort) {
      this.socket.setRemote(address, port, p.remoteRtcpPort ?? (p.rtcpMux ? port : port + 1));
    } else {
      // a source the SDP did not name (NAT): its RTCP is expected next to it
      this.socket.setRemote(address, port, p.rtcpMux ? port : port + 1);
    }
  }

  private conflictKnown(address: string, port: number): boolean {
    const a = this.conflictAddrs;
    for (let i = 0; i < a.length; i++) if (this.conflictPorts[i] === port && a[i] === address) return true;
    return false;
  }

  private rememberConflict(address: string, port: number): void {
    const i = this.conflictNext;
    this.conflictAddrs[i] = address;
    this.conflictPorts[i] = port;
    this.conflictNext = (i + 1) % CONFLICT_MEMORY;
  }

  /** Offers a received packet to the raw callback; false when it said to drop it. */
  private rawReceived(buf: Buffer, len: number, payloadOffset: number, payloadLength: number): boolean {
    const h = this.rxHeader;
    // allocation per packet is accepted while raw access is on (documented); a copy under the
    // native transport, which reads the next datagram into the same buffer
    const packet = this.socket.transport === 'native' ? Buffer.from(buf.subarray(0, len)) : len === buf.length ? buf : buf.subarray(0, len);
    const d: RawRtpData = {
      transmittingPacket: false,
      payloadType: h.payloadType,
      marker: h.marker,
      sequence: h.sequence,
      timestamp: h.timestamp,
      ssrc: h.ssrc,
      payload: packet.subarray(payloadOffset, payloadOffset + payloadLength),
      packet,
      processRtpPacket: true,
    };
    if (this.phoneLine !== undefined) d.phoneLine = this.phoneLine;
    try {
      this.rawCb!(d);
    } catch (err) {
      this.handlerFailed(err);
    }
    return d.processRtpPacket !== false;
  }

  private readonly onRtcp = (buf: Buffer, len: number): void => {
    try {
      this.receiveRtcp(buf, len);
    } catch (err) {
      this.handlerFailed(err);
    }
  };

  /** RTCP arrives every few seconds: parsing into objects is fine here. */
  private receiveRtcp(buf: Buffer, len: number): void {
    this.rtcpIn++;
    this.mediaIn++;
    const r = parseRtcp(buf, len);
    if (!r.ok) {
      this.rtcpMalformed++;
      return;
    }
    // when it arrived (the native transport reads sockets up to a phase later)
    const mono = packetArrivalMs();
    const wall = Date.now() - (performance.now() - mono);
    for (const p of r.packets) {
      if (p.type === 'sr') {
        if (this.rxSsrcKnown && p.ssrc === this.rxSsrc) this.rxStats.onSenderReport(p.ntpSeconds, p.ntpFraction, mono);
        for (const b of p.reports) if (b.ssrc === this.ssrc) this.txStats.onReportBlock(b, wall);
      } else if (p.type === 'rr') {
        for (const b of p.reports) if (b.ssrc === this.ssrc) this.txStats.onReportBlock(b, wall);
      } else if (p.type === 'bye') {
        this.byeReceived++;
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // The tick
  // ------------------------------------------------------------------------------------------

  /**
   * Phase 1 of the pump (`MediaNode.produce`): the frame due now leaves the jitter buffer,
   * decoded (or concealed), and goes into the mixer port, so the bridge mixes it this tick. The
   * session is its own pump node (no object of closures per call); only the pump calls this.
   */
  produce(): void {
    if (this.state !== STATE_RUNNING) return;
    const codec = this.codec;
    if (codec === null) return;
    this.receiveTick(codec, codec.samplesPerFrame);
    this.produced = true;
  }

  /**
   * Phase 3 of the pump (`MediaNode.consume`): the received frame goes to the sinks of received
   * audio, the sources (this tick's conference mix among them) make the frame sent, which goes
   * to the sinks of sent audio, is encoded and sent. Only the pump calls this.
   */
  consume(): void {
    if (this.state !== STATE_RUNNING) return;
    const codec = this.codec;
    if (codec === null) return;
    const spf = codec.samplesPerFrame;
    // a codec that arrived between the phases has no received frame yet: silence this tick
    if (!this.produced) this.rxPcm.fill(0, 0, spf);
    this.produced = false;
    if (this.rxSinks !== null) this.rxSinks.write(this.rxPcm, spf, codec.sampleRate);
    this.sendTick(codec, spf);
    if (--this.rtcpCountdown <= 0) {
      this.rtcpCountdown = this.nextRtcpTicks();
      this.sendRtcpReport(false);
    }
  }

  private receiveTick(codec: AudioCodec, spf: number): void {
    const rx = this.rxPcm;
    const pop = this.jitter.pop();
    if (pop.status === 'frame') {
      const o = this.rxOpus;
      const n = o !== null ? o.decode(codec, pop.buffer, pop.offset, pop.length, pop.timestamp, rx) : codec.decode(pop.buffer, pop.offset, pop.length, rx);
      if (n < spf) rx.fill(0, n, spf);
      this.rxPlaying = true;
      this.rxConcealRun = 0;
      // speech ends the noise only when it is newer than the CN packet: the talkspurt's last
      // frames, still in the jitter buffer when the CN packet came, play before it
      if (((pop.timestamp - this.cnTs) | 0) >= 0) this.cn.stop();
    } else if (this.cn.active) {
      // the far end is silent and said how loud its room is (RFC 3389)
      this.cn.generate(rx, spf);
    } else if (codec.comfortNoise === true) {
      // the codec's own comfort noise (G.729 Annex B after a SID frame) runs on through the gap
      const n = codec.conceal(rx);
      if (n < spf) rx.fill(0, n, spf);
    } else if (pop.status === 'lost' && codec.decodeFec !== undefined && this.jitter.peekAfterLost(this.fecPeek)) {
      // one packet lost and the next one is here: its in-band FEC carries the lost frame
      const p = this.fecPeek;
      const n = codec.decodeFec(p.buffer, p.offset, p.length, rx);
      if (n < spf) rx.fill(0, n, spf);
      this.concealed++;
      this.fecFrames++;
      this.rxConcealRun = 0;
    } else if (pop.status === 'lost' || (this.rxPlaying && this.rxConcealRun < MAX_CONCEAL_TICKS)) {
      const n = codec.conceal(rx);
      if (n < spf) rx.fill(0, n, spf);
      this.concealed++;
      this.rxConcealRun++;
    } else {
      rx.fill(0, 0, spf);
      this.rxPlaying = false;
    }
    const det = this.detector;
    if (det !== null) {
      let found: number;
      if (codec.sampleRate === 8000) found = det.process(rx, spf);
      else found = det.process(this.detectPcm, this.detectResampler!.process(rx, spf, this.detectPcm));
      if (found > 0) {
        for (let ev = det.takeDigit(); ev >= 0; ev = det.takeDigit()) {
          this.inbandRx++;
          this.emitDtmf(dtmfDigitChar(ev), 'inband');
        }
      }
    }
    if (this.rxGain !== GAIN_UNITY || this.levelTap !== null) {
      gainAndLevel(rx, spf, this.rxGain, this.rxLevel);
      this.rxLevelDue = 0;
    } else {
      this.rxLevelDue = spf;
    }
    const fp = this.framePort;
    if (fp !== null && fp.rate === codec.sampleRate) fp.putFrame(rx);
  }

  private sendTick(codec: AudioCodec, spf: number): void {
    const tx = this.txPcm;
    // the conference's mix is one of the sources: the pump mixed it after our produce phase
    this.sources.read(tx, spf, codec.sampleRate);
    if (this.txGain !== GAIN_UNITY || this.levelTap !== null) {
      gainAndLevel(tx, spf, this.txGain, this.txLevel);
      this.txLevelDue = 0;
    } else {
      this.txLevelDue = spf;
    }
    if (this.txSinks !== null) this.txSinks.write(tx, spf, codec.sampleRate);
    if (this.levelTap !== null) {
      const lv = this.tapLevels;
      lv.rxPeak = this.rxLevel.peak;
      lv.rxRms = this.rxLevel.rms;
      lv.txPeak = this.txLevel.peak;
      lv.txRms = this.txLevel.rms;
      try {
        this.levelTap(lv);
      } catch (err) {
        this.handlerFailed(err);
      }
    }

    const ts = this.txTs;
    // the clock runs on during hold and DTMF so the far end sees the real elapsed time
    this.txTs = (ts + this.tsIncrement) >>> 0;
    const p = this.params!;
    if (!p.sending || this.remoteNull) {
      this.txPack.drop();
      this.needMarker = true;
      if (this.keepAliveTicks > 0 && !this.remoteNull && ++this.keepAliveCount >= this.keepAliveTicks) {
        this.keepAliveCount = 0;
        this.pkt[RTP_HEADER_SIZE] = 127;
        if (this.sendPacket(KEEPALIVE_PT, false, ts, 1)) this.keepAlives++;
      }
      return;
    }
    const ds = this.dtmfSender;
    if (ds !== null && !ds.idle) {
      this.flushPacked(); // the audio before the event goes first, in a short packet
      const n = ds.next(ts, this.pkt, RTP_HEADER_SIZE);
      if (n > 0) {
        if (this.sendPacket(this.tePt, ds.marker, ds.timestamp, n)) {
          this.dtmfPackets++;
          this.txStats.onSent(n, ds.timestamp, Date.now());
        }
        return;
      }
    }
    if (this.useVad && this.silentTick(ts, spf)) return;
    const len = codec.encode(tx, this.pkt, RTP_HEADER_SIZE);
    // the codec's DTX: nothing (G.729 Annex B), or an Opus DTX frame of 1-2 octets not worth sending
    if (len <= 0 || (this.codecDtx && len <= 2 && codec.name === 'opus')) {
      this.suppressedFrames++;
      this.needMarker = true; // the next audio starts a talkspurt (RFC 3551 §4.1)
      return;
    }
    const pk = this.txPack;
    if (pk.active) {
      // a frame that does not follow the pending units, or is no whole number of them (a
      // G.729 SID), sends what is pending first and then goes alone
      if (!pk.add(this.pkt, RTP_HEADER_SIZE, len, ts)) {
        if (pk.pending) {
          const frame = (this.txFrame ??= Buffer.alloc(PACKET_BYTES));
          this.pkt.copy(frame, 0, RTP_HEADER_SIZE, RTP_HEADER_SIZE + len);
          this.flushPacked();
          frame.copy(this.pkt, RTP_HEADER_SIZE, 0, len);
        }
        if (!pk.add(this.pkt, RTP_HEADER_SIZE, len, ts)) {
          this.sendAudio(len, ts);
          return;
        }
      }
      const r = this.ready;
      while (pk.next(this.pkt, RTP_HEADER_SIZE, r)) this.sendAudio(r.length, r.timestamp);
      return;
    }
    this.sendAudio(len, ts);
  }

  /**
   * Silence suppression by VAD for this tick's frame: true when it is silence, in which case a CN
   * packet (one octet, the level) may go instead and the next audio packet is marked.
   */
  private silentTick(ts: number, spf: number): boolean {
    const sup = this.suppressor!;
    const d = sup.decide(this.txPcm, spf);
    if (d === TX_VOICE) return false;
    this.flushPacked(); // the talkspurt's last units go before the noise
    this.suppressedFrames++;
    this.needMarker = true;
    if (d === TX_CN) {
      this.pkt[RTP_HEADER_SIZE] = sup.level;
      if (this.sendPacket(this.cnSendPt, false, ts, 1)) {
        this.cnSent++;
        this.txStats.onSent(1, ts, Date.now());
      }
    }
    return true;
  }

  /** Sends the audio payload in `pkt` (marked after a gap) and counts it. */
  private sendAudio(len: number, ts: number): void {
    if (this.sendPacket(this.sendPt, this.needMarker, ts, len)) {
      this.needMarker = false;
      this.txStats.onSent(len, ts, Date.now());
      const tm = this.sendTiming;
      if (tm !== null) {
        // the spacing the timestamps call for: 20 ms after a 20 ms packet, more after a DTX gap;
        // a jump of over a second (a new timestamp base) is not judged
        const ticks = ((ts - this.lastSendTs) >>> 0) / this.tsIncrement;
        const expected = ticks <= 50 ? ticks * this.periodMs : -1;
        this.lastSendMs = tm.onSend(this.lastSendMs, expected);
        this.lastSendTs = ts;
      }
    }
  }

  /** Sends the units waiting for the rest of their packet, as a short packet. */
  private flushPacked(): void {
    const r = this.ready;
    if (this.txPack.flush(this.pkt, RTP_HEADER_SIZE, r)) this.sendAudio(r.length, r.timestamp);
  }

  /** Writes the header in front of the payload already in `pkt` and sends; false if not sent. */
  private sendPacket(pt: number, marker: boolean, ts: number, payloadLen: number): boolean {
    const h = this.hdr;
    h.marker = marker;
    h.payloadType = pt;
    h.sequence = this.txSeq;
    h.timestamp = ts;
    writeRtpHeader(this.pkt, h, 0);
    const total = RTP_HEADER_SIZE + payloadLen;
    if (this.rawCb !== undefined) {
      // allocation per packet is accepted while raw access is on (documented)
      const packet = Buffer.from(this.pkt.subarray(0, total));
      const d: RawRtpData = {
        transmittingPacket: true,
        payloadType: pt,
        marker,
        sequence: h.sequence,
        timestamp: ts >>> 0,
        ssrc: this.ssrc,
        payload: packet.subarray(RTP_HEADER_SIZE),
        packet,
        processRtpPacket: true,
      };
      if (this.phoneLine !== undefined) d.phoneLine = this.phoneLine;
      try {
        this.rawCb(d);
      } catch (err) {
        this.handlerFailed(err);
      }
      if (d.processRtpPacket === false) {
        // the number is used up, as for a packet lost on the network
        this.txSeq = (this.txSeq + 1) & 0xffff;
        this.txRawDropped++;
        return false;
      }
    }
    if (!this.socket.sendRtp(this.pkt, total)) {
      this.noDestination++;
      return false;
    }
    this.txSeq = (this.txSeq + 1) & 0xffff;
    return true;
  }

  private sendRtcpReport(bye: boolean): void {
    const p = this.params;
    if (p === null || this.remoteNull) return;
    const hasBlock = this.rxSsrcKnown && this.rxStats.fillReportBlock(this.reportBlock, performance.now());
    const wall = Date.now();
    // one init object per session, refilled: a report allocates nothing
    const c = this.rtcpInit;
    c.ssrc = this.ssrc;
    c.cname = this.cname;
    if (this.txStats.packets > 0 && p.sending) {
      const sr = this.rtcpSender;
      sr.wallClockMs = wall;
      sr.rtpTimestamp = this.txStats.rtpTimestampAt(wall);
      sr.packetCount = this.txStats.packets;
      sr.octetCount = this.txStats.octets;
      c.sender = sr;
    } else c.sender = undefined;
    c.reports = hasBlock ? this.reportList : NO_REPORT_BLOCKS;
    c.bye = bye ? SESSION_ENDED_BYE : undefined;
    const len = writeRtcpCompound(this.rtcpBuf, 0, c);
    if (len > 0 && this.socket.sendRtcp(this.rtcpBuf, len)) this.rtcpSent++;
  }

  /** Counts a caught exception and keeps it; reports it on counts that are powers of two. */
  private handlerFailed(err: unknown): void {
    const n = ++this.handlerErrors;
    this.lastHandlerError = err;
    if (this.onHandlerErrorCb === undefined || (n & (n - 1)) !== 0) return;
    try {
      this.onHandlerErrorCb(err, n);
    } catch {
      // the reporter itself failed: the count and the kept error still tell
    }
  }

  private emitDtmf(digit: string, method: DtmfMethod): void {
    if (this.onDtmfCb === undefined) return;
    try {
      this.onDtmfCb(digit, method);
    } catch (err) {
      this.handlerFailed(err);
    }
  }

  /**
   * A source, or a sink of received audio, left the graph because it ended (see
   * `MediaPort.ended`). One handler for both chains: one closure per session, not two.
   */
  private readonly portEnded = (p: MediaSource | MediaSink): void => {
    if (p instanceof WavPlayer) this.wavEnded(p);
    else if (p instanceof IvrTxStream) this.closedTx(p);
    else if (p instanceof IvrRxStream) this.closedRx(p);
  };

  /** The sinks of the received frame, made now if none was added yet. */
  private rxSinkChain(): SinkChain {
    return (this.rxSinks ??= new SinkChain(RX_SINK_ORDER, this.portEnded));
  }

  private wavEnded(wav: WavPlayer): void {
    if (this.wav !== wav) return;
    this.wav = null;
    if (this.onWaveEndCb !== undefined) {
      try {
        this.onWaveEndCb(wav.audio.path);
      } catch (err) {
        this.handlerFailed(err);
      }
    }
  }

  /** Installs `player` as the WAV source (null: none), replacing the one playing. */
  private setWav(player: WavPlayer | null): void {
    if (this.wav !== null) this.sources.remove(this.wav);
    this.wav = player;
    if (player !== null) this.sources.add(player, SRC_WAV);
  }

  // ------------------------------------------------------------------------------------------
  // Sources and sinks
  // ------------------------------------------------------------------------------------------

  /**
   * Plays a continuous tone of up to four frequencies (each at `levelDbm0`, default −10 dBm0)
   * mixed into what is sent. False for more than four frequencies, a frequency at or above half
   * the codec's rate (4 kHz for G.711) or a closed session.
   */
  playTone(freqs: number[], levelDbm0 = -10): boolean {
    if (this.state >= STATE_CLOSED || freqs.length === 0) return false;
    const spec: ToneSpec = { freqs: [...freqs], levelDbm0 };
    if (!this.startTone(spec)) return false;
    this.toneSpec = spec;
    return true;
  }

  private startTone(spec: ToneSpec): boolean {
    try {
      const tone = (this.tone ??= new ToneGenerator(this.madeSampleRate));
      tone.start(spec);
      this.sources.add(tone, SRC_TONE);
      return true;
    } catch {
      return false;
    }
  }

  /** Stops the tone (it ramps down over 2 ms, then its port leaves the graph by itself). */
  stopTone(): void {
    this.toneSpec = null;
    this.tone?.stop();
  }

  /**
   * Plays a WAV file (see `media/wavPlayer` for the formats), replacing any file playing now,
   * mixed into what is sent; `loop` starts it again at its end. Resolves with `ok` once it
   * plays, or with why it cannot: `not-found`, `bad-format`, `empty`. Never rejects.
   */
  async playWave(path: string, loop = false): Promise<WavLoadResult> {
    const token = ++this.wavToken;
    const r = await loadWav(path);
    if (r.result !== 'ok') return r.result;
    let player: WavPlayer;
    try {
      player = await WavPlayer.create(r.audio, this.codec?.sampleRate ?? 8000, loop);
    } catch {
      return 'bad-format';
    }
    if (token !== this.wavToken || this.state >= STATE_CLOSED) return 'ok'; // superseded or stopped
    this.retargetWav(player, token);
    return 'ok';
  }

  /** Installs `player` once it runs at the codec's current rate (converting if it changed). */
  private retargetWav(player: WavPlayer, token: number): void {
    const rate = this.codec?.sampleRate ?? 8000;
    if (player.sampleRate === rate) {
      this.setWav(player);
      return;
    }
    this.setWav(null);
    player.setRate(rate).then(
      () => {
        if (token === this.wavToken && this.state < STATE_CLOSED) this.retargetWav(player, token);
      },
      () => undefined,
    );
  }

  /** Stops WAV playback (also one still loading). Returns true when a file was playing. */
  stopWave(): boolean {
    this.wavToken++;
    const had = this.wav !== null;
    this.setWav(null);
    return had;
  }

  /**
   * Sends DTMF digits (`0-9 * # A-D`, `!` for flash), each `durationMs` long (clamped to
   * 40–5000 ms) with 50 ms pauses. `rfc4733` sends telephone-event packets instead of audio
   * while each digit lasts; when the far end did not negotiate telephone-event the digits go
   * in-band instead, and the result says so.
   */
  sendDtmf(digits: string, method: DtmfMethod, durationMs = 100): SendDtmfResult {
    if (this.state >= STATE_CLOSED || !isValidDtmfString(digits)) return 'invalid';
    const d = Number.isFinite(durationMs) ? Math.min(5000, Math.max(40, durationMs)) : 100;
    if (method === 'rfc4733' && this.dtmfSender !== null) {
      this.dtmfSender.enqueue(digits, d);
      this.rfc4733Tx += digits.length;
      return 'rfc4733';
    }
    this.dtmfGen.enqueue(digits, d);
    this.sources.add(this.dtmfGen, SRC_DTMF);
    this.inbandTx += digits.length;
    return 'inband';
  }

  /**
   * Opens a stream of the received audio at `sampleRate`: one Buffer of 16-bit LE mono PCM per
   * 20 ms tick (see {@link IvrRxStream} for backpressure). Several may be open at once.
   * @throws RangeError for a rate other than 8000, 16000 or 48000 (a programming error).
   */
  openRx(sampleRate: IvrSampleRate): IvrRxStream {
    if (!isIvrSampleRate(sampleRate)) throw new RangeError(`IVR rate must be 8000, 16000 or 48000, not ${String(sampleRate)}`);
    const s = new IvrRxStream({ sampleRate, sourceRate: this.codec?.sampleRate ?? 8000 });
    if (this.state >= STATE_CLOSED) s.close();
    else this.rxSinkChain().add(s, RX_IVR);
    return s;
  }

  /**
   * Opens a stream of audio for the far end at `sampleRate`, mixed into what is sent (see
   * {@link IvrTxStream} for buffering and backpressure). Several may be open at once.
   * @throws RangeError for a rate other than 8000, 16000 or 48000 (a programming error).
   */
  openTx(sampleRate: IvrSampleRate, onHold = false): IvrTxStream {
    if (!isIvrSampleRate(sampleRate)) throw new RangeError(`IVR rate must be 8000, 16000 or 48000, not ${String(sampleRate)}`);
    const s = new IvrTxStream({ sampleRate, targetRate: this.codec?.sampleRate ?? 8000 });
    s.onHold = onHold;
    s.callHeld = this.held;
    if (this.state >= STATE_CLOSED) s.close();
    else this.sources.add(s, SRC_IVR_TX);
    return s;
  }

  /** Closes an Rx stream of this session (it ends); false when it is not one of ours. */
  closeRx(stream: IvrRxStream): boolean {
    if (this.rxSinks?.remove(stream) !== true) return false;
    this.closedRx(stream);
    return true;
  }

  /** Closes a Tx stream of this session (later writes get an error event); false when not ours. */
  closeTx(stream: IvrTxStream): boolean {
    if (!this.sources.remove(stream)) return false;
    this.closedTx(stream);
    return true;
  }

  /** An Rx stream out of the graph: keep its count, end it. */
  private closedRx(ch: IvrRxStream): void {
    this.ivrRxDropsClosed += ch.drops;
    ch.close();
  }

  /** A Tx stream out of the graph: keep its count, end it. */
  private closedTx(ch: IvrTxStream): void {
    this.ivrTxUnderrunsClosed += ch.underruns;
    ch.close();
  }

  /**
   * Connects the session to a mixer port (null disconnects): received audio is put into it and
   * its output is added to what is sent. Frames flow only while the port's rate equals the
   * codec's, so after a codec change the owner replaces the port.
   */
  setFramePort(port: MediaFramePort | null): void {
    if (this.conferenceSource !== null) this.sources.remove(this.conferenceSource);
    this.framePort = port;
    // a line in the mix puts before and takes after the bridge's mix: the pump's phase group 0
    // (not for a mix on another thread: its clock has no relation to this one's phases)
    this.pump?.setMixed(this, port !== null && port.mixedElsewhere !== true);
    this.conferenceSource = port === null ? null : new ConferenceSource(port);
    if (this.conferenceSource !== null) this.sources.add(this.conferenceSource, SRC_CONFERENCE);
  }

  /** The codec's sample rate (0 before the first configure). */
  get sampleRate(): number {
    return this.codec?.sampleRate ?? 0;
  }

  /**
   * Tells the session the call is held by us: Tx IVR channels opened for hold play and the
   * others pause (see `IvrTxStream.onHold`).
   */
  setHeld(on: boolean): void {
    this.held = on;
    for (const s of this.sources.list()) if (s instanceof IvrTxStream) s.callHeld = on;
  }

  /**
   * Attaches a recorder (null detaches it): each tick its `rx` half gets the received frame
   * (after the rx gain), then its `tx` half the frame sent (after the tx gain). One at a time; a
   * recorder whose halves report `ended` leaves by itself.
   */
  setRecorder(recorder: DuplexMediaSink | null): void {
    const old = this.recorder;
    if (old !== null) {
      this.rxSinks?.remove(old.rx);
      this.txSinks?.remove(old.tx);
    }
    this.recorder = this.state >= STATE_CLOSED ? null : recorder;
    if (this.recorder !== null) {
      this.rxSinkChain().add(this.recorder.rx, RX_RECORDER);
      (this.txSinks ??= new SinkChain(TX_SINK_ORDER)).add(this.recorder.tx, TX_RECORDER);
    }
  }

  /**
   * Sets (or with null removes) a per-tick level tap, for VU meters. The object passed is reused
   * every tick.
   */
  setLevelTap(tap: ((levels: MediaLevels) => void) | null): void {
    this.levelTap = tap;
  }

  /** Loopback: while on, the received audio is what gets sent back (other sources are muted). */
  setLoopback(on: boolean): void {
    if (on) this.sources.add((this.loopbackSource ??= new LoopbackSource(this.rxPcm)), SRC_LOOPBACK);
    else if (this.loopbackSource !== null) this.sources.remove(this.loopbackSource);
  }

  /**
   * Gains as fixed-point multipliers, 0–2048 with 512 = 100 % (so 1024 doubles the level).
   * `rx` applies to what we receive (VU, IVR, loopback), `tx` to what we send; both saturate.
   */
  setVolume(rx: number, tx: number): void {
    this.rxGain = clampGain(rx);
    this.txGain = clampGain(tx);
  }

  /**
   * Opus encoder settings for this session (fields left out keep their value): applied to the
   * running Opus codec at once and to any Opus codec a later negotiation creates.
   * @returns false for invalid settings (nothing changed).
   */
  setOpusSettings(s: OpusSettings): boolean {
    if (!isValidOpusSettings(s)) return false;
    const merged: OpusSettings = { ...this.opusSettings };
    for (const [k, v] of Object.entries(s)) if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
    this.opusSettings = merged;
    this.applyOpusSettings();
    this.applySuppression(); // suppression keeps Opus DTX on whatever the settings say
    return true;
  }

  /** Our Opus settings within what the far end's fmtp asks (see {@link effectiveOpusSettings}) to the running encoder. */
  private applyOpusSettings(): void {
    const c = this.codec;
    if (!(c instanceof OpusCodec)) return;
    const fmtp = this.params?.remoteFmtp;
    const peer = fmtp === undefined ? undefined : parseOpusFmtp(fmtp);
    c.applySettings({ ...effectiveOpusSettings(this.opusSettings, peer), cbr: peer?.cbr === true });
  }

  /** Sets the jitter buffer's target delay, ms. */
  setJitter(ms: number): void {
    if (!(ms >= 0)) return;
    this.jitterMs = ms;
    this.jitter.setJitterTimeMs(ms);
  }

  /** Turns the jitter buffer on or off (off: each tick plays the newest frame that arrived). */
  enableJitter(on: boolean): void {
    this.jitterEnabled = on;
    this.jitter.setEnabled(on);
  }

  /**
   * Convenience for hold and resume without a full {@link MediaSession.configure}: sets
   * whether we send media. Note the argument is the new *sending* state:
   * `setHold(false)` stops sending (hold), `setHold(true)` resumes. False before configure.
   */
  setHold(sending: boolean): boolean {
    const p = this.params;
    if (p === null || this.state >= STATE_CLOSED) return false;
    if (sending && !p.sending) this.needMarker = true;
    p.sending = sending;
    return true;
  }

  /**
   * RTP keep-alive while not sending (RFC 6263, see the class notes): one packet every `ms`
   * (rounded to 20 ms ticks); 0 turns it off.
   */
  setKeepAlive(ms: number): void {
    this.keepAliveTicks = ms > 0 ? Math.max(1, Math.round(ms / 20)) : 0;
    this.keepAliveCount = 0;
  }

  /**
   * Raw RTP access: while set, `cb` sees every RTP packet of the session, sent and received
   * (after parsing and source latching), and may drop it by setting `processRtpPacket` to false.
   * This allocates an object and Buffer views (plus a copy for sent packets) per packet, which
   * is why it is off by default. `undefined` turns it off.
   */
  setRawRtpAccess(cb: RawRtpCallback | undefined): void {
    this.rawCb = cb;
  }

  /** Audio levels of the last frame each way. */
  levels(): MediaLevels {
    // the last frames are still in the arrays until the next tick: measured now, the same figures
    if (this.rxLevelDue > 0) {
      measureLevel(this.rxPcm, this.rxLevelDue, this.rxLevel);
      this.rxLevelDue = 0;
    }
    if (this.txLevelDue > 0) {
      measureLevel(this.txPcm, this.txLevelDue, this.txLevel);
      this.txLevelDue = 0;
    }
    return { rxPeak: this.rxLevel.peak, rxRms: this.rxLevel.rms, txPeak: this.txLevel.peak, txRms: this.txLevel.rms };
  }

  /**
   * RTP packets accepted from the far end (a well-formed header, from the latched source when
   * symmetric) plus RTCP packets received, since the session opened: a sign of life that the
   * media time-out (lines/mediaTimeout.ts) reads once a second without allocating.
   */
  get mediaPacketsIn(): number {
    return this.mediaIn;
  }

  /**
   * Writes what this call's quality figure needs into `out` at `base` (media/quality.ts
   * `writeQualityInputs`), allocation-free: a media floor does it every tick. The inputs come
   * from the live counters through the same mapping as the figure of {@link stats}.
   */
  writeQualityInputs(out: Int32Array, base: number): void {
    writeQualityInputs(out, base, qualityInputsOf(this.liveQuality, this.qualityInputs));
  }

  /**
   * Writes the RTP counters the metrics sum (media/rtpCounters.ts) into `out` at `base`, the
   * same figures {@link stats} gives, allocation-free: a media floor copies them to the call's
   * slot every 250 ms for a metrics scrape on the main thread.
   */
  writeRtpCounters(out: Int32Array, base: number): void {
    const srtp = this.socket.srtpSession;
    writeRtpCounters(out, base, this.rxStats.receivedCount, this.txStats.packets, this.rxStats.lost, this.concealed, srtp?.authFailureCount ?? 0, srtp?.replayCount ?? 0);
  }

  /**
   * What {@link stats} reports for a session just opened with these jitter settings, before it
   * is configured or has seen a packet: every counter 0, no codec. A media floor's call shows
   * it on the main thread until the floor's first figures arrive (a floor's open answer carries
   * only the port: cloning the figures across cost 10 µs per call). Held equal to a real
   * session's by test/mediaSession-reuse.test.ts.
   */
  static openingStats(jitterMs = 60, jitterEnabled = true): MediaSessionStats {
    const jb = newJitterBuffer(160, jitterMs, jitterEnabled);
    const rx = new RtpReceiveStats({ clockRate: 8000 }).snapshot() as MediaRxStats;
    rx.malformedByReason = { tooShort: 0, badVersion: 0, badCsrc: 0, badExtension: 0, badPadding: 0 };
    rx.ignored = 0;
    rx.conflictDrops = 0;
    rx.rawDropped = 0;
    const tx = new RtpSendStats(8000).snapshot() as MediaTxStats;
    tx.dtmfPackets = 0;
    tx.keepAlives = 0;
    tx.comfortNoisePackets = 0;
    tx.suppressedFrames = 0;
    tx.rawDropped = 0;
    tx.noDestination = 0;
    const cn = new ComfortNoiseGenerator();
    return {
      codec: null,
      rx,
      tx,
      jitter: jb.stats(),
      concealedFrames: 0,
      fecFrames: 0,
      dtmf: { rfc4733Received: 0, inbandDetected: 0, rfc4733Sent: 0, inbandSent: 0 },
      rttMs: tx.roundTripMs,
      rtcp: { sent: 0, received: 0, malformed: 0, byeReceived: 0 },
      mediaConflicts: 0,
      relatches: 0,
      ivrRxDrops: 0,
      ivrTxUnderruns: 0,
      ptimeRequested: 20,
      comfortNoise: { packets: cn.packets, level: cn.level, active: cn.active },
      handlerErrors: 0,
    };
  }

  /** All counters as a plain object (allocates: for applications, not per tick). */
  stats(): MediaSessionStats {
    const m = this.malformed;
    let ivrRxDrops = this.ivrRxDropsClosed;
    for (const s of this.rxSinks?.list() ?? NO_SINKS) if (s instanceof IvrRxStream) ivrRxDrops += s.drops;
    let ivrTxUnderruns = this.ivrTxUnderrunsClosed;
    for (const s of this.sources.list()) if (s instanceof IvrTxStream) ivrTxUnderruns += s.underruns;
    // the snapshots are fresh objects: the session's own counters are added to them in place, and
    // optional figures assigned after the literal (object spreads here made each read ~8 µs and
    // several KB of garbage, on a floor that reads every call's figures once a second)
    const rx = this.rxStats.snapshot() as MediaRxStats;
    rx.malformedByReason = {
      tooShort: m[RtpParseResult.TooShort]!,
      badVersion: m[RtpParseResult.BadVersion]!,
      badCsrc: m[RtpParseResult.BadCsrc]!,
      badExtension: m[RtpParseResult.BadExtension]!,
      badPadding: m[RtpParseResult.BadPadding]!,
    };
    rx.ignored = this.rxIgnored;
    rx.conflictDrops = this.conflictDrops;
    rx.rawDropped = this.rxRawDropped;
    const tx = this.txStats.snapshot() as MediaTxStats;
    tx.dtmfPackets = this.dtmfPackets;
    tx.keepAlives = this.keepAlives;
    tx.comfortNoisePackets = this.cnSent;
    tx.suppressedFrames = this.suppressedFrames;
    tx.rawDropped = this.txRawDropped;
    tx.noDestination = this.noDestination;
    const out: MediaSessionStats = {
      codec: this.codec?.name ?? null,
      rx,
      tx,
      jitter: this.jitter.stats(),
      concealedFrames: this.concealed,
      fecFrames: this.fecFrames,
      dtmf: {
        rfc4733Received: this.rfc4733Rx,
        inbandDetected: this.inbandRx,
        rfc4733Sent: this.rfc4733Tx,
        inbandSent: this.inbandTx,
      },
      rttMs: tx.roundTripMs,
      rtcp: { sent: this.rtcpSent, received: this.rtcpIn, malformed: this.rtcpMalformed, byeReceived: this.byeReceived },
      mediaConflicts: this.conflicts,
      relatches: this.relatches,
      ivrRxDrops,
      ivrTxUnderruns,
      ptimeRequested: this.ptimeRequested,
      comfortNoise: { packets: this.cn.packets, level: this.cn.level, active: this.cn.active },
      handlerErrors: this.handlerErrors,
    };
    if (this.socket.srtpSession !== null) out.srtp = this.socket.srtpSession.stats();
    if (this.handlerErrors > 0) out.lastHandlerError = this.lastHandlerError;
    return out;
  }
}

/**
 * A session's counters as the quality figure reads them (media/quality.ts `QualityStats`, the
 * shape of its statistics), live: getters over whichever receive statistics, jitter buffer and
 * send statistics the session holds now (a codec change replaces them), so reading it allocates
 * nothing. Classes rather than object literals of getters: V8 inlines these prototype getters,
 * and a floor reads them for every call on every tick (a literal's getters cost 3-4 times as much).
 */
class LiveQualityStats implements QualityStats {
  readonly jitter: LiveJitterQuality;

  constructor(
    private readonly rxNow: () => RtpReceiveStats,
    jitterNow: () => JitterBuffer,
    private readonly txNow: () => RtpSendStats,
  ) {
    this.jitter = new LiveJitterQuality(jitterNow);
  }

  get rx(): RtpReceiveStats {
    return this.rxNow();
  }

  get rttMs(): number | undefined {
    return this.txNow().roundTripMs;
  }
}

/** The jitter buffer's part of {@link LiveQualityStats}, under the names of its statistics. */
class LiveJitterQuality {
  constructor(private readonly now: () => JitterBuffer) {}

  get late(): number {
    return this.now().lateFrames;
  }

  get enabled(): boolean {
    return this.now().isEnabled;
  }

  get targetDelayMs(): number {
    return this.now().targetDelayMs;
  }
}

function validPt(pt: number): boolean {
  return Number.isInteger(pt) && pt >= 0 && pt <= 127;
}

/** Moves the cumulative counters of a receive-stats object into its replacement (codec clock change). */
function carryRx(from: RtpReceiveStats, to: RtpReceiveStats): RtpReceiveStats {
  to.packetsIn = from.packetsIn;
  to.duplicates = from.duplicates;
  to.reordered = from.reordered;
  to.badSeq = from.badSeq;
  to.resyncs = from.resyncs;
  to.probation = from.probation;
  to.malformed = from.malformed;
  to.badVersion = from.badVersion;
  to.unknownPayloadType = from.unknownPayloadType;
  to.ssrcChanges = from.ssrcChanges;
  to.bytes = from.bytes;
  return to;
}
