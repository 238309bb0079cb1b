/**
 * Public types of the engine facade: start parameters, notifications, enums and constants
 * shaped after LanScape's START_SIP_TELEPHONY_PARAMS and notification model.
 * @module
 */
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import type { UserNotifyCallback } from './notifications.js';
import type { TransportAddress } from '../sip/address.js';
import { SRTP_SUITES, type SrtpPolicy, type SrtpSuite } from '../sip/sdes.js';
import type { SessionTimerOptions } from '../lines/sessionTimer.js';
import type { TlsSettings } from '../sip/tlsTransport.js';
import type { OpusSettings } from '../media/opus.js';

// These public names are defined on the lowest floor that uses them (so no floor imports from one
// above it) and re-exported here, their public path.
export { CallDirection, LineState } from '../lines/lineState.js';
export { MediaFormatAudio } from '../media/audioFormat.js';
export type { TransportAddress } from '../sip/address.js';
export type { SessionRefresherPreference, SessionTimerOptions } from '../lines/sessionTimer.js';
export type { TlsSettings, TlsFailureReason } from '../sip/tlsTransport.js';

/** Audio device id meaning "the system's preferred device" (LanScape's SIP_USE_PREFERED_AUDIO_DEVICE). */
export const SIP_USE_PREFERED_AUDIO_DEVICE = -1;
/** Audio device id meaning "no local audio device" (servers; LanScape's SIP_AUDIO_DEVICE_NOT_USED). */
export const SIP_AUDIO_DEVICE_NOT_USED = -2;

/** How a notification is delivered (LanScape's notification classes). */
export enum NotifyType {
  /**
   * Delivered synchronously while the engine waits: the application may change fields of
   * `data` before returning (assign a line, reject a call, accept a registration ...).
   */
  ImmediateNotification = 0,
  /** About the engine as a whole (`phoneLine` is -1): registration, NAT, parse errors. */
  GlobalNotification = 1,
  /** About one phone line (`phoneLine` is its zero-based index). */
  PhoneLineNotification = 2,
}

/** LanScape's line modes. */
export enum LineMode {
  /** Each line behaves as a telephone: one call, rings, answered by the application. */
  PhoneLine = 0,
  /** Lines act as switch ports: calls are routed between lines by the application. */
  SwitchLine = 1,
}

/** How `holdLine` signals hold in SDP (setCallHoldType). */
export enum CallHoldType {
  /** RFC 3264: `a=sendonly` (or `a=inactive` when the far end holds us too). */
  Rfc3264 = 0,
  /** RFC 2543: connection address `c=0.0.0.0`, for old equipment. */
  Rfc2543 = 1,
  /** Both at once: `c=0.0.0.0` plus `a=sendonly`. */
  Both = 2,
}

/** How `sendDtmf` sends digits. */
export enum DtmfMethod {
  /** RTP telephone-event packets (RFC 4733), the default; in-band when the far end did not negotiate them. */
  Rfc4733 = 0,
  /** Dual tones mixed into the audio. */
  InBand = 1,
  /** SIP INFO requests with an `application/dtmf-relay` body. */
  SipInfo = 2,
}

/** Transport protocols the engine listens on and can send with (TLS: see the `tls` start parameter). */
export type SipTransportName = 'UDP' | 'TCP' | 'TLS';

/**
 * The most phone lines one engine takes (`numPhoneLinesRequested`): a line costs about 1.4 KiB
 * idle and one RTP port pair in a call; one process carries 1 000 G.711 calls on two cores
 * (README, "Benchmarks"), and the bound leaves room above that for larger machines.
 */
export const MAX_PHONE_LINES = 4096;

/**
 * Start parameters (LanScape's START_SIP_TELEPHONY_PARAMS in camelCase). Every member has a
 * default; see {@link DEFAULT_START_PARAMS}.
 */
export interface StartSipTelephonyParams {
  /** Number of phone lines, 1..{@link MAX_PHONE_LINES}. */
  numPhoneLinesRequested?: number;
  /** Phone line or switch line behaviour. */
  lineMode?: LineMode;
  /** IP address to bind SIP and RTP to and to advertise (until a WAN address is known). */
  ipAddressOfThisHost?: string;
  /** SIP port for UDP and TCP; 0 picks a free port (see `getSipPort()`). */
  sipPort?: number;
  /** User part used in From/Contact when no per-line name applies. */
  phoneName?: string;
  /** Display name in From headers. */
  phoneDisplayName?: string;
  /** Lowest local RTP port (even). */
  minLocalRtpPort?: number;
  /** Highest local RTP port. */
  maxLocalRtpPort?: number;
  /** Allocate RTP ports in order instead of at random within the range. */
  useSequentialRtpPorts?: boolean;
  /** Allow lines to be conferenced. */
  callConferenceEnabled?: boolean;
  /**
   * Mixing rate of the conference bridge and of the local audio device: 8000, 16000 (default:
   * wideband voice, and a G.711 line costs one 1:2 resampler pair) or 48000. An all-G.711
   * deployment saves the resampling with 8000. A LineScape addition.
   */
  conferenceSampleRate?: 8000 | 16000 | 48000;
  /**
   * Phase groups of the media clock: the lines are spread over this many groups, each sent at
   * its own offset inside the 20 ms tick, so a tick is not one burst of every send and a line's
   * send jitter does not grow with the number of lines (conferenced lines and the sound card
   * run in group 0, around the mix). 1 = every line in one burst per tick. Default 4, at most
   * 20. A LineScape addition.
   */
  mediaPhaseGroups?: number;
  /**
   * SIP received over UDP is handled in bounded batches that give way to a due media tick
   * (the rest waits for the next turn of the event loop), so a burst of signalling cannot
   * delay media. Default true; false handles every datagram as it is read. A LineScape addition.
   */
  signallingYieldsToMedia?: boolean;
  /** Accept REFER from the far end automatically. */
  farEndCallTransferEnabled?: boolean;
  /** Spread incoming calls over free lines at random instead of lowest first. */
  randomlyAssignIncomingCallsToPhoneLines?: boolean;
  /** Capture device id, {@link SIP_USE_PREFERED_AUDIO_DEVICE} or {@link SIP_AUDIO_DEVICE_NOT_USED}. */
  zeroBasedAudioInDeviceId?: number;
  /** Playback device id, {@link SIP_USE_PREFERED_AUDIO_DEVICE} or {@link SIP_AUDIO_DEVICE_NOT_USED}. */
  zeroBasedAudioOutDeviceId?: number;
  /** Enable integrated DTMF detection and generation. */
  dtmfEnabled?: boolean;
  /**
   * Silence suppression on send for every line from the start (each line can change it with
   * `setSilenceSuppression`). Default false. A LineScape addition.
   */
  silenceSuppression?: boolean;
  /** Allow phone line recording. */
  enablePhoneLineRecording?: boolean;
  /**
   * What a recording file of `startPhoneLineRecording` holds: `'mixed'` (default) one channel
   * of both directions summed; `'stereo'` two channels, left what the far end said (received),
   * right what the line sent (what the far end heard). The real-time callback is the same
   * either way. A LineScape addition.
   */
  recordingChannels?: 'mixed' | 'stereo';
  /** Log every SIP message sent and received as structured lines. */
  logSipMessages?: boolean;
  /** File to append SIP message logs to (default: standard error). */
  sipLogFile?: string;
  /** Seconds an incoming call may ring before it is dropped (LanScape default 60). */
  callAnswerTimeoutSeconds?: number;
  /**
   * Seconds a connected call may receive neither RTP nor RTCP before the engine ends it with BYE
   * and raises SipMediaTimeout (default 60; 0 = never). Calls on hold, either side's, are
   * excepted; RTCP alone keeps a call up. Changed during a run by `setMediaTimeout`. A LineScape
   * addition.
   */
  mediaTimeoutSeconds?: number;
  /**
   * Session timers (RFC 4028): `enabled` (default true: `Supported: timer`, Session-Expires in
   * our INVITEs and 2xx, `Require: timer` accepted), `intervalSeconds` (the Session-Expires we
   * ask for and the longest we grant, default 1800), `minSeSeconds` (our Min-SE, default 90,
   * at least 90; shorter offers get 422), `refresher` (`uac` default, `uas`, `local`,
   * `remote`). A call whose session expires, or whose refresh gets 408/481/no answer, is ended
   * with BYE and SipSessionExpired. A LineScape addition.
   */
  sessionTimer?: Partial<SessionTimerOptions>;
  /**
   * Incoming calls that may wait for the application's answer at once (ringing, or still
   * opening their media); one more is refused 503 with Retry-After. Default 0: as many as there
   * are lines. A LineScape addition (engine/overload.ts).
   */
  maxPendingIncomingCalls?: number;
  /** Seconds in the `Retry-After` of every 503 the engine sends when it sheds load (default 10, 1..86400). */
  overloadRetryAfterSeconds?: number;
  /**
   * Event-loop lag in ms at which new requests are refused 503 with Retry-After, until the lag
   * falls below half of it (default 500; 0 = not watched); also the age at which SIP waiting in
   * the UDP ingress (a backlog behind the request) sheds it. In-dialog requests always pass.
   */
  maxEventLoopLagMs?: number;
  /** Live SIP server transactions above which new requests are refused 503 (default 10000; 0 = no limit). */
  maxServerTransactions?: number;
  /**
   * Whether the registrar role binds only users who proved their password (default true): a
   * REGISTER without credentials is challenged 401 (the password comes from the application
   * through SipIncomingAuthentication), a wrong one gets 403. The application may still waive
   * it for one request by setting `requireAuthentication: false` in SipRegisterReceived; false
   * here waives it for every request (trusted labs only). engine/registrarRole.ts.
   */
  registrarRequireAuthentication?: boolean;
  /** Largest SIP message accepted over UDP or TCP in bytes (default 262144 = 256 KiB, 1024..16 MiB); larger ones get 513 or are dropped. */
  maxSipMessageBytes?: number;
  /** Headers beyond which a request gets 513 (default 256; 0 = no limit). */
  maxSipHeaders?: number;
  /**
   * Requests per second one source address may send on average (token bucket; default 2000;
   * 0 = no limit); over it, new requests get 503 with Retry-After (or are dropped, see
   * `rateLimitAction`). Distinct from the engine-wide overload shedding. engine/securityLimits.ts.
   */
  requestRatePerSource?: number;
  /** Requests one source address may send in a burst above its average rate (default 4000). */
  requestBurstPerSource?: number;
  /** What a source over its rate gets: `reject` (503 + Retry-After, default) or `drop` (silence). */
  rateLimitAction?: 'reject' | 'drop';
  /**
   * CIDRs (IPv4 and IPv6, e.g. `10.0.0.0/8`, `2001:db8::/32`, or a bare address) allowed to
   * send; a request from elsewhere gets 403. Default empty: every source is allowed.
   */
  allowedSourceNetworks?: string[];
  /** What `allowedSourceNetworks` restricts: `calls` (new INVITEs, default) or `all` requests. */
  allowedSourceScope?: 'calls' | 'all';
  /** Failed authentications from one source address within the window that block it (default 10; 0 = never). */
  authFailureLimit?: number;
  /** Failed authentications for one user name within the window that block that user from everywhere (default 10; 0 = never). */
  authFailureLimitPerUser?: number;
  /** The window in which failed authentications are counted, in seconds (default 60). */
  authFailureWindowSeconds?: number;
  /** How long a blocked source or user stays blocked, in seconds (default 300). */
  authBlockSeconds?: number;
  /** What a blocked source or user gets for requests that need authentication: `reject` (403, default) or `drop`. */
  authBlockAction?: 'reject' | 'drop';
  /** Value of the User-Agent / Server header. */
  userAgent?: string;
  /** RFC 3261 timer T1 in ms (default 500). */
  sipT1Ms?: number;
  /** RFC 3261 timer T2 in ms (default 4000). */
  sipT2Ms?: number;
  /** RFC 3261 timer T4 in ms (default 5000). */
  sipT4Ms?: number;
  /**
   * Transport used for requests the engine originates (default UDP; the engine always listens on
   * UDP and TCP, and on TLS at `tlsPort` when `tls` names a certificate and key). `'TLS'` sends
   * over TLS (port 5061 unless given) and registers a `transport=tls` Contact.
   */
  sipTransport?: SipTransportName;
  /**
   * DNS servers that find SIP servers (RFC 3263 NAPTR/SRV/A/AAAA), each an IP address with an
   * optional port (`'192.0.2.53'`, `'127.0.0.1:5353'`, `'[::1]:53'`); at most 8. Default (empty):
   * the system's resolver, with the hosts file as a fallback for addresses. A LineScape addition.
   */
  dnsServers?: string[];
  /** Port of the TLS listener (default 5061; 0 picks a free one, which peers then cannot be told: give a port when they dial in). A LineScape addition. */
  tlsPort?: number;
  /**
   * SIP over TLS (docs/security.md): `certificate` and `privateKey` (PEM text or file paths)
   * open the TLS listener; `ca` names the CAs trusted for peers' certificates instead of the
   * system's (give a self-signed test CA here); `verifyServer` (default true) checks a server's
   * certificate against the host name or address dialled; `clientCertificate`/`clientPrivateKey`
   * are presented when a server asks; `requireClientCertificate` makes the listener ask;
   * `crl` (PEM text or path) refuses revoked certificates, a server's or a client's;
   * `handshakeTimeoutMs` (default 10000). TLS is on when `sipTransport` is `'TLS'` or any member
   * is set. Keys are never logged. A LineScape addition.
   */
  tls?: TlsSettings;
  /** Notification callback. */
  userNotifyCallbackProc?: UserNotifyCallback;
  /**
   * Where diagnostics go (a pino logger): faults the engine survived, exceptions thrown by
   * notification handlers, media callback failures. Replaces the logger given to the
   * constructor until the engine stops; default: warnings and errors as JSON lines on standard
   * error. A LineScape addition.
   */
  logger?: Logger;
  /**
   * Keep the transferor's call up after a successful transfer (blind or attended). Default
   * false: once the success NOTIFY (sipfrag 2xx) arrives, the transferring line ends its call
   * with BYE, as RFC 5589's flows and PJSUA do (a transferee that ended the call first spares
   * the BYE). A LineScape addition.
   */
  keepCallAfterTransfer?: boolean;
  /**
   * After an answer to the engine's INVITE that lists several codecs, send one re-INVITE
   * offering only the codec in use (and telephone-event), so both sides send the same one
   * (pjsua's policy). Default false. A LineScape addition.
   */
  reofferSingleCodec?: boolean;
  /**
   * How `holdLine` signals hold and resume: `'reinvite'` (default) or `'update'`, an UPDATE with
   * the SDP offer (RFC 3311), used only when the far end's Allow lists UPDATE (else a re-INVITE).
   * A LineScape addition.
   */
  holdMethod?: 'reinvite' | 'update';
  /**
   * Reliable provisional responses (RFC 3262, PRACK), PJSIP's 100rel policy. `'supported'`
   * (default): `Supported: 100rel` is advertised, a caller naming 100rel gets reliable 18x
   * (retransmitted until its PRACK), and reliable 18x from a callee are PRACKed. `'required'`: the
   * same, and an INVITE without 100rel gets 421 Extension Required; our INVITEs carry
   * `Require: 100rel`. `'off'`: nothing reliable, and an INVITE with `Require: 100rel` gets 420.
   * A LineScape addition.
   */
  reliableProvisional?: 'off' | 'supported' | 'required';
  /**
   * Accept a REFER that arrives outside any dialog (RFC 3515 allows it): 202, then the referred
   * call is placed on a free line as for an in-dialog blind transfer, with NOTIFY sipfrag
   * progress in the REFER's dialog. Default false: 403. SipReceivedOutOfDialogRefer reports
   * each such REFER. A LineScape addition.
   */
  acceptOutOfDialogRefer?: boolean;
  /**
   * The packetisation time the engine asks for in its offers (`a=ptime`), ms: 10, 20, 30, 40
   * or 60; default 20; `setPacketTime` overrides it per line. What is sent follows the far end's
   * `a=ptime`/`a=maxptime` (an answer carries the offer's, else this); Opus always sends 20 ms,
   * GSM multiples of 20. A LineScape addition.
   */
  packetTimeMs?: number;
  /**
   * Media workers (`worker_threads`): N (1..64) starts N media floors, each owning the RTP/RTCP
   * sockets, jitter buffers, codecs, SRTP contexts and media clock of the calls given to it (new
   * calls go to the floor with the fewest), while signalling, the facade and notifications stay
   * on the main thread. A floor that dies ends its calls (SipMediaWorkerLost, then the call's
   * usual end) and is replaced. 0 runs every call's media on the main thread, as LanScape did.
   * Default: one per core the process may use, less one for signalling, at least 1
   * ({@link defaultMediaWorkers}); 0 when the engine was given its own media clock
   * (`EngineOptions.mediaClock`), which only the main thread can follow.
   * A LineScape addition: docs/architecture.md, "Media workers".
   */
  mediaWorkers?: number;
  /**
   * Scheduling priority of the media worker threads (with `mediaWorkers` > 0; the main thread is
   * never changed): `'realtime'` (default) runs each in SCHED_FIFO while it holds one of the
   * machine's real-time seats (one per core but one, shared by every LineScape process: see
   * `EngineOptions.realtimeSeats`), so real-time media never fills every core; a thread without a
   * seat, or refused real time, runs at `'high'`. `'high'` gives each a nice value of −10 and a
   * short scheduler slice; `'normal'` leaves them as started. Raising needs CAP_SYS_NICE or the
   * matching rlimit (RLIMIT_RTPRIO / RLIMIT_NICE): without it the threads stay as they are (with
   * the short slice, which needs no right) and the engine logs what it applied and why. A
   * real-time floor that keeps its core saturated for 2 s steps down to `'high'` until it has
   * been quiet for 30 s (it has more calls than the core carries, and would otherwise starve
   * signalling). Linux only. So a media tick gets a core at once while signalling or other
   * processes keep the cores busy. A LineScape addition: docs/operations.md, "Granting the media
   * threads their priority".
   */
  mediaThreadPriority?: 'normal' | 'high' | 'realtime';
  /**
   * How RTP and RTCP sockets are made and read: `'native'` (default) with libc through koffi,
   * every ready socket read once per media clock phase into one buffer (kernel receive
   * timestamps keep the jitter figures exact) and sends made at once from each socket's own
   * buffer, nothing allocated per packet; `'dgram'` with `node:dgram`, one JavaScript callback
   * and a fresh Buffer per datagram. The native transport runs on Linux x64/arm64 with an IPv4
   * address; elsewhere, or with `LINESCAPE_DISABLE_NATIVE=udp`, the engine uses dgram and logs why.
   * A LineScape addition: docs/architecture.md, "The native RTP transport".
   */
  rtpTransport?: 'dgram' | 'native';
  /**
   * SRTP with SDES keys (RFC 3711, RFC 4568) for every line, unless `setSrtpPolicy` says
   * otherwise for one: `none` (default; plain RTP), `optional` (best effort: RTP/AVP offers with
   * `a=crypto`, plain calls still work), `mandatory` (RTP/SAVP only; plain offers get 488). Needs
   * libsrtp2 (`libsrtp2-1`). See docs/security.md. A LineScape addition.
   */
  srtpPolicy?: SrtpPolicy;
  /**
   * The SRTP suites offered and accepted, in order of preference (our offers list them in this
   * order; an offer's own order decides which of them we answer). Default: all four,
   * `AES_CM_128_HMAC_SHA1_80`, `AES_CM_128_HMAC_SHA1_32`, `AEAD_AES_128_GCM`, `AEAD_AES_256_GCM`;
   * those the installed libsrtp2 lacks are left out at run time. A LineScape addition.
   */
  srtpSuites?: SrtpSuite[];
  /**
   * The libsrtp2 file to load (a path, or `system` for the system library), before the
   * package's own OpenSSL build (`npm run build:libsrtp2`) and the system `libsrtp2.so.1`;
   * default: the environment variable `LINESCAPE_LIBSRTP2`, else that order. One libsrtp2 serves
   * the whole process, so this only counts before its first SRTP call. See docs/security.md. A
   * LineScape addition.
   */
  srtpLibraryPath?: string;
  /**
   * Opus encoder settings every line starts with (bitrate, complexity, FEC, DTX, widest band,
   * expected loss); `setOpusSettings` changes them per line, also mid-call. Fields left out keep
   * the codec defaults (32 kbit/s, complexity 5, FEC on, DTX off, full band, 10 % loss). What is
   * sent is further capped by the far end's fmtp (RFC 7587). Default `{}`. A LineScape addition.
   */
  opusSettings?: OpusSettings;
}

/**
 * The default of `mediaWorkers`: one media floor per core the process may use
 * (`os.availableParallelism()`), less one left to signalling, and at least one. So a 2-core box
 * gets one floor, whose media no signalling burst can delay, and a 16-core box 15.
 */
export function defaultMediaWorkers(): number {
  return Math.min(64, Math.max(1, availableParallelism() - 1));
}

/** Defaults for every start parameter. */
export const DEFAULT_START_PARAMS: Readonly<Required<Omit<StartSipTelephonyParams, 'userNotifyCallbackProc' | 'sipLogFile' | 'logger'>>> = {
  numPhoneLinesRequested: 1,
  lineMode: LineMode.PhoneLine,
  ipAddressOfThisHost: '127.0.0.1',
  sipPort: 5060,
  phoneName: 'linescape',
  phoneDisplayName: '',
  minLocalRtpPort: 20000,
  maxLocalRtpPort: 29999,
  useSequentialRtpPorts: false,
  callConferenceEnabled: true,
  conferenceSampleRate: 16000,
  mediaPhaseGroups: 4,
  signallingYieldsToMedia: true,
  farEndCallTransferEnabled: true,
  randomlyAssignIncomingCallsToPhoneLines: false,
  zeroBasedAudioInDeviceId: SIP_AUDIO_DEVICE_NOT_USED,
  zeroBasedAudioOutDeviceId: SIP_AUDIO_DEVICE_NOT_USED,
  dtmfEnabled: true,
  silenceSuppression: false,
  enablePhoneLineRecording: true,
  recordingChannels: 'mixed',
  logSipMessages: false,
  callAnswerTimeoutSeconds: 60,
  mediaTimeoutSeconds: 60,
  sessionTimer: { enabled: true, intervalSeconds: 1800, minSeSeconds: 90, refresher: 'uac' },
  maxPendingIncomingCalls: 0,
  overloadRetryAfterSeconds: 10,
  maxEventLoopLagMs: 500,
  maxServerTransactions: 10_000,
  registrarRequireAuthentication: true,
  maxSipMessageBytes: 262_144,
  maxSipHeaders: 256,
  requestRatePerSource: 2000,
  requestBurstPerSource: 4000,
  rateLimitAction: 'reject',
  allowedSourceNetworks: [],
  allowedSourceScope: 'calls',
  authFailureLimit: 10,
  authFailureLimitPerUser: 10,
  authFailureWindowSeconds: 60,
  authBlockSeconds: 300,
  authBlockAction: 'reject',
  userAgent: 'LineScape',
  sipT1Ms: 500,
  sipT2Ms: 4000,
  sipT4Ms: 5000,
  sipTransport: 'UDP',
  dnsServers: [],
  tlsPort: 5061,
  tls: {},
  keepCallAfterTransfer: false,
  reofferSingleCodec: false,
  holdMethod: 'reinvite',
  reliableProvisional: 'supported',
  acceptOutOfDialogRefer: false,
  packetTimeMs: 20,
  mediaWorkers: defaultMediaWorkers(),
  mediaThreadPriority: 'realtime',
  rtpTransport: 'native',
  srtpPolicy: 'none',
  srtpSuites: [...SRTP_SUITES],
  srtpLibraryPath: '',
  opusSettings: {},
};

/** A contact being registered, with the expiry it asks for. */
export interface ContactExpiry {
  /** Contact URI as text. */
  uri: string;
  /** Seconds. */
  expires: number;
}

/** Data of the immediate `SipRegisterReceived` notification (registrar role). */
export interface RegisterReceivedData {
  /** Address-of-record (`sip:user@domain`). */
  aor: string;
  /** User part of the To URI. */
  user: string;
  /** Contacts being registered (URIs as text) with their requested expiry in seconds. */
  contacts: ContactExpiry[];
  /** True when the request removes every binding (`Contact: *`, Expires 0). */
  removeAll: boolean;
  /** Where the REGISTER came from. */
  source: TransportAddress;
  /** The application sets this to false to refuse the registration. Default true. */
  acceptRegistration: boolean;
  /** SIP status used when refusing (default 403). */
  rejectStatusCode: number;
  /** True when the REGISTER carried a digest the engine verified: the user proved the password. */
  authenticated: boolean;
  /**
   * For a REGISTER not authenticated: true (the default, from the start parameter
   * `registrarRequireAuthentication`) challenges it with 401 instead of binding; the application
   * sets it to false to bind this one request without a password.
   */
  requireAuthentication: boolean;
}

/** A binding held by the engine in its registrar role. */
export interface RegistrarBinding {
  /** Address-of-record user. */
  user: string;
  /** Contact URI as registered. */
  contact: string;
  /** Seconds left before it expires. */
  expiresIn: number;
  /** Where the REGISTER came from (used to reach the UA behind NAT). */
  source: TransportAddress;
}
