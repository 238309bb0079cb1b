/**
 * The start parameters of one run: LanScape's START_SIP_TELEPHONY_PARAMS after defaults, and
 * the checks startSipTelephony makes before anything is bound. Kept apart from the running
 * engine so that validation has no side effects and can be read (and tested) on its own.
 * @module
 */
import { isIP } from 'node:net';
import { isSipUser } from './hosts.js';
import { isLogger } from './logger.js';
import { TelephonyReturnValue as T } from './returnCodes.js';
import { DEFAULT_START_PARAMS, LineMode, MAX_PHONE_LINES, SIP_AUDIO_DEVICE_NOT_USED, type SessionTimerOptions, type StartSipTelephonyParams } from './types.js';
import { RFC_MIN_SE_SECONDS } from '../lines/sessionTimer.js';
import { RELIABLE_PROVISIONAL_POLICIES } from '../lines/reliableProvisional.js';
import { OFFERED_PACKET_TIMES_MS } from '../sip/ptime.js';
import { validSecurityConfig } from './securityLimits.js';
import { MAX_MEDIA_WORKERS } from './mediaWorkers.js';
import { THREAD_PRIORITIES } from '../ffi/sched.js';
import { isSrtpPolicy, SRTP_SUITES } from '../sip/sdes.js';
import { isValidOpusSettings } from '../media/opus.js';

/** Start parameters after defaults, plus the test hooks. */
export type ResolvedParams = Required<Omit<StartSipTelephonyParams, 'userNotifyCallbackProc' | 'sipLogFile' | 'logger' | 'sessionTimer'>> &
  Pick<StartSipTelephonyParams, 'userNotifyCallbackProc' | 'sipLogFile' | 'logger'> & {
    /** Session timers, every member filled in. */
    sessionTimer: SessionTimerOptions;
  };

/**
 * The parameters with defaults filled in (an `undefined` member takes the default, also inside
 * `sessionTimer`), or SipBadParameter.
 * @param sessionTimerFloorSeconds the lowest Min-SE allowed (RFC 4028's 90 unless a test lowers it)
 * @param ownMediaClock the engine was given its own media clock: `mediaWorkers` defaults to 0,
 *   since only the main thread's media follows that clock
 */
export function resolveStartParams(params: unknown, sessionTimerFloorSeconds = RFC_MIN_SE_SECONDS, ownMediaClock = false): ResolvedParams | T {
  if (params === null || typeof params !== 'object') return T.SipBadParameter;
  const given = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined)) as Partial<StartSipTelephonyParams>;
  const st: unknown = given.sessionTimer === undefined ? {} : given.sessionTimer;
  if (st === null || typeof st !== 'object') return T.SipBadParameter;
  const stGiven = Object.fromEntries(Object.entries(st).filter(([, v]) => v !== undefined)) as Partial<SessionTimerOptions>;
  const defaults = ownMediaClock ? { ...DEFAULT_START_PARAMS, mediaWorkers: 0 } : DEFAULT_START_PARAMS;
  const p = { ...defaults, ...given, sessionTimer: { ...DEFAULT_START_PARAMS.sessionTimer, ...stGiven } } as ResolvedParams;
  const bad = validateStartParams(p);
  if (bad !== T.SipSuccess) return bad;
  return validSessionTimer(p.sessionTimer, sessionTimerFloorSeconds) ? p : T.SipBadParameter;
}

/** RFC 4028's limits on the session-timer options: Min-SE at least the floor (90 s), an interval not below it. */
function validSessionTimer(st: SessionTimerOptions, floorSeconds: number): boolean {
  const int = (n: unknown, lo: number) => typeof n === 'number' && Number.isInteger(n) && n >= lo && n <= 4_294_967;
  return (
    typeof st.enabled === 'boolean' &&
    int(st.minSeSeconds, Math.max(1, floorSeconds)) &&
    int(st.intervalSeconds, st.minSeSeconds) &&
    ['uac', 'uas', 'local', 'remote'].includes(st.refresher)
  );
}

/** An unsigned 32-bit integer (LanScape's DWORD parameters). */
export function isUint(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

function validateStartParams(p: ResolvedParams): T {
  const int = (n: unknown, lo: number, hi: number) => typeof n === 'number' && Number.isInteger(n) && n >= lo && n <= hi;
  if (!int(p.numPhoneLinesRequested, 1, MAX_PHONE_LINES)) return T.SipBadParameter;
  if (typeof p.ipAddressOfThisHost !== 'string' || !isIP(p.ipAddressOfThisHost)) return T.SipBadParameter;
  if (!int(p.sipPort, 0, 65535)) return T.SipBadParameter;
  if (!int(p.minLocalRtpPort, 1024, 65534) || !int(p.maxLocalRtpPort, 1025, 65535) || p.maxLocalRtpPort <= p.minLocalRtpPort) {
    return T.SipBadParameter;
  }
  if (!isSipUser(p.phoneName)) return T.SipBadParameter;
  if (typeof p.phoneDisplayName !== 'string' || p.phoneDisplayName.length > 128) return T.SipBadParameter;
  // SIP_AUDIO_DEVICE_NOT_USED (-2) and SIP_USE_PREFERED_AUDIO_DEVICE (-1) are the two negative ids allowed
  for (const id of [p.zeroBasedAudioInDeviceId, p.zeroBasedAudioOutDeviceId]) {
    if (!int(id, SIP_AUDIO_DEVICE_NOT_USED, 1023)) return T.SipBadParameter;
  }
  if (!int(p.callAnswerTimeoutSeconds, 1, 4_294_967)) return T.SipBadParameter;
  if (!int(p.mediaTimeoutSeconds, 0, 4_294_967)) return T.SipBadParameter;
  if (!int(p.maxPendingIncomingCalls, 0, 65_535) || !int(p.overloadRetryAfterSeconds, 1, 86_400)) return T.SipBadParameter;
  if (!int(p.maxEventLoopLagMs, 0, 60_000) || !int(p.maxServerTransactions, 0, 10_000_000)) return T.SipBadParameter;
  if (!validSecurityConfig({ ...p, retryAfterSeconds: p.overloadRetryAfterSeconds })) return T.SipBadParameter;
  if (!int(p.sipT1Ms, 1, 60_000) || !int(p.sipT2Ms, p.sipT1Ms, 600_000) || !int(p.sipT4Ms, 0, 600_000)) return T.SipBadParameter;
  if (!OFFERED_PACKET_TIMES_MS.includes(p.packetTimeMs)) return T.SipBadParameter;
  if (!int(p.mediaWorkers, 0, MAX_MEDIA_WORKERS)) return T.SipBadParameter;
  if (!THREAD_PRIORITIES.includes(p.mediaThreadPriority)) return T.SipBadParameter;
  if (p.rtpTransport !== 'dgram' && p.rtpTransport !== 'native') return T.SipBadParameter;
  if (!isSrtpPolicy(p.srtpPolicy)) return T.SipBadParameter;
  if (!isValidOpusSettings(p.opusSettings)) return T.SipBadParameter;
  if (!Array.isArray(p.srtpSuites) || p.srtpSuites.length === 0 || new Set(p.srtpSuites).size !== p.srtpSuites.length) return T.SipBadParameter;
  if (!p.srtpSuites.every((s) => SRTP_SUITES.includes(s))) return T.SipBadParameter;
  if (typeof p.srtpLibraryPath !== 'string' || p.srtpLibraryPath.length > 4096 || p.srtpLibraryPath.includes('\0')) return T.SipBadParameter;
  if (p.sipTransport !== 'UDP' && p.sipTransport !== 'TCP' && p.sipTransport !== 'TLS') return T.SipBadParameter;
  if (!int(p.tlsPort, 0, 65535) || !validTlsSettings(p.tls)) return T.SipBadParameter;
  if (!Array.isArray(p.dnsServers) || p.dnsServers.length > 8 || !p.dnsServers.every(isDnsServer)) return T.SipBadParameter;
  if (!int(p.mediaPhaseGroups, 1, 20)) return T.SipBadParameter;
  if (p.conferenceSampleRate !== 8000 && p.conferenceSampleRate !== 16000 && p.conferenceSampleRate !== 48000) return T.SipBadParameter;
  if (p.userNotifyCallbackProc !== undefined && typeof p.userNotifyCallbackProc !== 'function') return T.SipBadParameter;
  if (p.sipLogFile !== undefined && (typeof p.sipLogFile !== 'string' || !p.sipLogFile)) return T.SipBadParameter;
  if (p.logger !== undefined && !isLogger(p.logger)) return T.SipBadParameter;
  if (p.holdMethod !== 'reinvite' && p.holdMethod !== 'update') return T.SipBadParameter;
  if (p.recordingChannels !== 'mixed' && p.recordingChannels !== 'stereo') return T.SipBadParameter;
  if (!RELIABLE_PROVISIONAL_POLICIES.includes(p.reliableProvisional)) return T.SipBadParameter;
  if (typeof p.lineMode !== 'number' || (p.lineMode !== LineMode.PhoneLine && p.lineMode !== LineMode.SwitchLine)) return T.SipBadParameter;
  for (const b of [
    p.useSequentialRtpPorts,
    p.callConferenceEnabled,
    p.farEndCallTransferEnabled,
    p.randomlyAssignIncomingCallsToPhoneLines,
    p.dtmfEnabled,
    p.silenceSuppression,
    p.signallingYieldsToMedia,
    p.enablePhoneLineRecording,
    p.logSipMessages,
    p.keepCallAfterTransfer,
    p.reofferSingleCodec,
    p.acceptOutOfDialogRefer,
  ]) {
    if (typeof b !== 'boolean') return T.SipBadParameter;
  }
  return T.SipSuccess;
}

/** A DNS server address: an IP, optionally with a port (IPv6 in brackets when it has one). */
function isDnsServer(s: unknown): boolean {
  if (typeof s !== 'string') return false;
  const m = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(s) ?? /^([\d.]+)(?::(\d{1,5}))?$/.exec(s);
  if (!m) return isIP(s) === 6;
  const port = m[2] === undefined ? 53 : Number(m[2]);
  return isIP(m[1]!) !== 0 && port > 0 && port < 65536;
}

/** The shape of the `tls` start parameter (the PEM files are read when the engine starts). */
function validTlsSettings(tls: unknown): boolean {
  if (tls === null || typeof tls !== 'object') return false;
  const t = tls as Record<string, unknown>;
  for (const k of ['certificate', 'privateKey', 'ca', 'crl', 'clientCertificate', 'clientPrivateKey']) {
    if (t[k] !== undefined && (typeof t[k] !== 'string' || t[k] === '')) return false;
  }
  for (const k of ['verifyServer', 'requireClientCertificate']) if (t[k] !== undefined && typeof t[k] !== 'boolean') return false;
  const ms = t['handshakeTimeoutMs'];
  if (ms !== undefined && !(typeof ms === 'number' && Number.isInteger(ms) && ms >= 100 && ms <= 600_000)) return false;
  // A key without its certificate (or the reverse) is a mistake, not half a listener.
  return (t['certificate'] === undefined) === (t['privateKey'] === undefined) && (t['clientCertificate'] === undefined) === (t['clientPrivateKey'] === undefined);
}
