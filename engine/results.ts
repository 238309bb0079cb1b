/**
 * The result objects of the facade's query procedures (`{ result, ...fields }`, LanScape's
 * output parameters), and the failure values the procedure guard answers in their shape. They
 * are part of the public surface: the package entry re-exports them through the facade module.
 * @module
 */
import type { Registry } from 'prom-client';
import type { RecordedCallState } from '../lines/phoneLine.js';
import type { IncomingCallInfo, OutgoingCallInfo, OutgoingCallErrorInfo } from '../lines/call.js';
import type { MediaClockStats } from '../media/mediaClock.js';
import type { CallQuality } from '../media/quality.js';
import type { AudioDeviceListResult } from './audio.js';
import type { EventSubscriptionResult } from './eventSubscriptions.js';
import type { PresencePublicationResult, PresenceSubscriptionsResult, PresenceWatchersResult } from './presence.js';
import type { RegistrationStatus } from './registration.js';
import { TelephonyReturnValue as T } from './returnCodes.js';
import { CallDirection, LineState, type RegistrarBinding } from './types.js';

/** Version of this engine (getMediaEngineVersionInfo). */
export const LINESCAPE_VERSION = '0.1.0';

/** Result of `getLineStatus`. */
export interface LineStatusResult {
  /** SipSuccess or the error. */
  result: T;
  /** The line state. */
  state: LineState;
  /** Direction of the call on the line. */
  callDirection: CallDirection;
  /** Whether a recording is running. */
  callRecordingActive: boolean;
}

/** Result of `getNumPhoneLines`. */
export interface NumPhoneLinesResult {
  /** SipSuccess or the error. */
  result: T;
  /** Lines the engine was started with. */
  numPhoneLines: number;
}

/** Result of `getNumActiveCalls`. */
export interface NumActiveCallsResult {
  /** SipSuccess or the error. */
  result: T;
  /** Lines with a call in progress. */
  numActiveCalls: number;
}

/** Result of `getRecordedCallStates`. */
export interface RecordedCallStatesResult {
  /** SipSuccess or the error. */
  result: T;
  /** State changes in order. */
  states: RecordedCallState[];
}

/** Result of `getRegistrationStatus`. */
export interface RegistrationStatusResult {
  /** SipSuccess or the error. */
  result: T;
  /** One entry per registered name. */
  registrations: RegistrationStatus[];
}

/** Result of `getRegistrarBindings`. */
export interface RegistrarBindingsResult {
  /** SipSuccess or the error. */
  result: T;
  /** Live bindings. */
  bindings: RegistrarBinding[];
}

/** Result of `getIncomingCallInfo`: the details when `result` is SipSuccess. */
export interface IncomingCallInfoResult extends Partial<IncomingCallInfo> {
  /** SipSuccess or the error. */
  result: T;
}

/** Result of `getOutgoingCallInfo`: the details when `result` is SipSuccess. */
export interface OutgoingCallInfoResult extends Partial<OutgoingCallInfo> {
  /** SipSuccess or the error. */
  result: T;
}

/** Result of `getOutgoingCallErrorInfo`: the details when `result` is SipSuccess. */
export interface OutgoingCallErrorInfoResult extends Partial<OutgoingCallErrorInfo> {
  /** SipSuccess or the error. */
  result: T;
}

/** Result of `getActiveCallInfo`. */
export interface ActiveCallInfo {
  /** SipSuccess or the error. */
  result: T;
  /** Who placed the call. */
  callDirection?: CallDirection;
  /** Whether it is connected. */
  connected?: boolean;
  /** Milliseconds since it connected. */
  durationMs?: number;
  /** Codec in use (`PCMU`, `PCMA`, `opus`). */
  codec?: string;
  /** RTP payload type sent. */
  payloadType?: number;
  /** Where our RTP goes. */
  remoteRtpAddress?: string;
  /** Far RTP port. */
  remoteRtpPort?: number;
  /** Our RTP port. */
  localRtpPort?: number;
  /** We hold the far end. */
  localHold?: boolean;
  /** The far end holds us. */
  farEndHold?: boolean;
  /** Call-ID of the dialog. */
  callId?: string;
  /** RTP/RTCP and jitter buffer statistics. */
  statistics?: object;
  /** Call quality so far (E-model MOS and R, loss, jitter, RTT); absent until RTP was received. */
  quality?: CallQuality;
  /** The media is SRTP (negotiated with SDES); false for plain RTP. */
  encrypted?: boolean;
  /** The SRTP crypto suite, e.g. `AES_CM_128_HMAC_SHA1_80`, when {@link encrypted}. */
  srtpSuite?: string;
}

/** Result of `getCallQuality`. */
export interface CallQualityResult {
  /** SipSuccess, or the error (SipNoCallActive also while no RTP has been received yet). */
  result: T;
  /** The call's quality figure so far, on success. */
  quality?: CallQuality;
}

/** Result of `enableMetrics`. */
export interface EnableMetricsResult {
  /** SipSuccess or the error. */
  result: T;
  /** Port the /metrics endpoint listens on (when a port was asked for). */
  port?: number;
}

/** Result of `getMetricsRegistry`. */
export interface MetricsRegistryResult {
  /** SipSuccess, or SipNotEnabled while metrics are off. */
  result: T;
  /** The engine's prom-client Registry, to mount in the application's own server. */
  registry?: Registry;
}

/** Result of `openRxIvrChannel` / `openTxIvrChannel`. */
export interface IvrChannelResult<S> {
  /** SipSuccess or the error. */
  result: T;
  /** The stream, on success. */
  channel?: S;
}

/** Options of `openTxIvrChannel`. */
export interface TxIvrChannelOptions {
  /** Rate of the PCM written: 8000 (default), 16000 or 48000. */
  sampleRate?: number;
  /** Play only while we hold the call (music on hold); default false: only while we do not. */
  onHold?: boolean;
}

/** Result of `getMediaClockStatistics`: the clock's figures when `result` is SipSuccess. */
export interface MediaClockStatisticsResult extends Partial<MediaClockStats> {
  /** SipSuccess or SipMediaEngineNotInitialized. */
  result: T;
}

/** Result of `getMediaEngineVersionInfo`. */
export interface VersionInfo {
  /** SipSuccess. */
  result: T;
  /** Product name. */
  product: string;
  /** Semantic version. */
  version: string;
  /** Major version number. */
  major: number;
  /** Minor version number. */
  minor: number;
}


/** getMediaEngineVersionInfo's answer, with `result` as given. */
export function versionInfo(result: T): VersionInfo {
  const [major = 0, minor = 0] = LINESCAPE_VERSION.split('.').map(Number);
  return { result, product: 'LineScape', version: LINESCAPE_VERSION, major, minor };
}

// The guard's failure values, one per result shape (engine/procedure.ts `fail`).

/** The failure of a procedure whose result object has only optional fields besides `result`. */
export const resultOnly = (result: T): { result: T } => ({ result });
/** getNumPhoneLines' failure. */
export const noPhoneLines = (result: T): NumPhoneLinesResult => ({ result, numPhoneLines: 0 });
/** getNumActiveCalls' failure. */
export const noActiveCalls = (result: T): NumActiveCallsResult => ({ result, numActiveCalls: 0 });
/** getLineStatus' failure: an idle line. */
export const idleLineStatus = (result: T): LineStatusResult => ({ result, state: LineState.OnHook, callDirection: CallDirection.None, callRecordingActive: false });
/** getRecordedCallStates' failure. */
export const noRecordedStates = (result: T): RecordedCallStatesResult => ({ result, states: [] });
/** getRegistrationStatus' failure. */
export const noRegistrations = (result: T): RegistrationStatusResult => ({ result, registrations: [] });
/** getRegistrarBindings' failure. */
export const noBindings = (result: T): RegistrarBindingsResult => ({ result, bindings: [] });
/** sendMessage's and sendOutOfDialogMessage's failure. */
export const noMessage = (result: T): { result: T; messageId: number } => ({ result, messageId: 0 });
/** getAudioDeviceList's failure. */
export const noDevices = (result: T): AudioDeviceListResult => ({ result, devices: [] });
/** getPresenceSubscriptions' failure. */
export const noPresenceSubscriptions = (result: T): PresenceSubscriptionsResult => ({ result, subscriptions: [] });
/** getPresenceWatchers' failure. */
export const noWatchers = (result: T): PresenceWatchersResult => ({ result, watchers: [] });
/** getPresencePublication's failure. */
export const noPublication = (result: T): PresencePublicationResult => ({ result, etag: '', grantedExpires: 0, refreshCount: 0, lastStatusCode: 0 });
/** startEventSubscription's failure. */
export const noSubscriptionHandle = (result: T): EventSubscriptionResult => ({ result, handle: 0 });
