/**
 * The typed notification map: for every event the engine raises, the type of its `data`.
 *
 * `engine.on('SipIncomingCallStart', (n) => n.data.from)` and `switch (n.event)` over the
 * `notification` event both read their types from {@link NotificationDataMap}. The map is the
 * single place that states what each notification carries; the engine's own raise sites are
 * checked against it by the compiler (the floors below the engine raise codes through hosts
 * that cannot see this module, and their entries were written from those raise sites).
 * @module
 */
import type { TelephonyReturnValue } from './returnCodes.js';
import type { NotifyType, RegisterReceivedData, TransportAddress } from './types.js';
import type { TlsFailureReason } from '../sip/tlsTransport.js';
import type { CallQuality } from '../media/quality.js';
import type { AssignPhoneLineData } from '../lines/callManager.js';
import type { ReceivedReferData, TransferFailureData } from '../lines/transfer.js';
import type { IncomingAuthenticationData } from './challenge.js';
import type { ModifySipMessageData } from './sipHooks.js';
import type {
  RecvMessageData,
  RecvOutOfDialogMessageData,
  SendMessageFailureData,
  SendMessageSuccessData,
  SendOutOfDialogMessageFailureData,
  SendOutOfDialogMessageSuccessData,
} from './messaging.js';
import type { EventNotifyReceivedData, SubscriptionReceivedData, SubscriptionStatusData } from './eventSubscriptions.js';
import type { PresenceOfflineData, PresenceOnlineData, PresenceRecvSubscribeData } from './presence.js';
import type { OverloadRecoveredData, OverloadSheddingData } from './overload.js';
import type { AuthenticationBlockedData } from './securityLimits.js';

// ------------------------------------------------------------------ data of call events

/** Data naming the Request-URI of the outgoing INVITE (SipOutgoingCallInitializing, SipSendInvite). */
export interface RequestUriData {
  /** Request-URI of the INVITE. */
  requestUri: string;
}

/** A SIP status code alone (SipInviteOkReceived, SipReceivedByeAck, SipCallCanceled after a 487 ...). */
export interface StatusCodeData {
  /** The SIP status code. */
  statusCode: number;
}

/** A SIP status with its reason phrase (provisional answers, far end errors, aborted calls). */
export interface SipStatusData extends StatusCodeData {
  /** The reason phrase. */
  reasonPhrase: string;
}

/** Data of SipReceived302MovedTemporarily: the redirect and where it points. */
export interface MovedData extends StatusCodeData {
  /** The Contact header values of the 3xx, in order. */
  contacts: string[];
}

/** Data of SipIncomingCallStart. */
export interface IncomingCallStartData {
  /** The From header of the INVITE. */
  from: string;
  /** The To header. */
  to: string;
  /** The Request-URI. */
  requestUri: string;
}

/** Data of SipOkToAnswerCall. */
export interface OkToAnswerCallData {
  /** The From header of the ringing call. */
  from: string;
}

/** Data of SipCallComplete. */
export interface CallCompleteData {
  /** Name of the code that ended the call (`SipByeReceived`, `SipFarEndError`, `SipCallComplete` ...). */
  reason: string;
  /** The call's final quality estimate, when media ran. */
  quality?: CallQuality;
}

/** Data of SipMediaTimeout. */
export interface MediaTimeoutData {
  /** The media time-out in force (seconds without RTP or RTCP that ended the call). */
  seconds: number;
}

/** Data of SipMediaWorkerLost. */
export interface MediaWorkerLostData {
  /** The worker (0-based floor) that died. */
  worker: number;
  /** What happened to it (an error message or its exit code). */
  reason: string;
}

/** Data of SipEarlyMedia: the provisional answer whose SDP started (or moved) the early media. */
export interface EarlyMediaData {
  /** Its status (183, or 180 with SDP). */
  statusCode: number;
  /** Its reason phrase. */
  reasonPhrase: string;
  /** Where our RTP goes now. */
  remoteAddress: string;
  /** Its RTP port. */
  remotePort: number;
  /** The codec negotiated (`PCMU`, `opus` ...). */
  codec: string;
}

/** Data of SipSessionExpired. */
export interface SessionExpiredData {
  /** The session interval in force (seconds). */
  seconds: number;
  /** When our refresh failed: its status (408, 481), or 0 when it got no answer; absent when no refresh came from the far end. */
  refreshStatus?: number;
}

/** Data of SipReceivedOutOfDialogRefer. */
export interface OutOfDialogReferData {
  /** The refer's id (the same counter as SipReceivedRefer's). */
  referId: number;
  /** True when the engine accepted it (202) and placed the referred call; false when it answered 403 (not allowed) or 503 (no free line). */
  accepted: boolean;
  /** The refer target: the Refer-To URI without its headers. */
  to: string;
  /** The From header of the REFER. */
  from: string;
  /** The line the referred call was placed on; -1 when refused. */
  newPhoneLine: number;
}

/** How a received DTMF digit arrived. */
export type ReceivedDtmfMethod = 'rfc4733' | 'inband' | 'info';

/** Data of SipDtmfDigitEvent. */
export interface DtmfDigitData {
  /** `0`..`9`, `*`, `#`, `A`..`D`. */
  digit: string;
  /** RTP telephone-event, in-band tones, or SIP INFO. */
  method: ReceivedDtmfMethod;
}

/** Data of SipReceivedRtpMediaConflict: RTP arrived from an address other than the negotiated one. */
export interface RtpMediaConflictData {
  /** The unexpected source address. */
  address: string;
  /** Its port. */
  port: number;
}

// ------------------------------------------------------------------ data of engine-wide events

/** Data of SipWanIpAddressChange (NAT detection from `received`/`rport`). */
export interface WanIpAddressChangeData {
  /** Address advertised before. */
  previousAddress: string;
  /** Port advertised before. */
  previousPort: number;
  /** The public address now advertised in Contact. */
  wanIpAddress: string;
  /** The public port now advertised. */
  wanPort: number;
}

/** Data of SipReceivedSipMessageParseError. */
export interface SipMessageParseErrorData {
  /** What the parser objected to. */
  reason: string;
  /** Where the message came from. */
  source: TransportAddress;
  /** The start of the message (up to 2048 bytes), as Latin-1 text, SDES keys redacted. */
  message: string;
}

// ------------------------------------------------------------------ data of recordings

/** Data of SipCallRecordActive. */
export interface CallRecordActiveData {
  /** The file being written, or null when the recording only feeds the callback. */
  path: string | null;
  /** Sample rate of the recording. */
  sampleRate: 8000 | 16000 | 48000;
  /** True for headerless PCM, false for WAV. */
  raw: boolean;
}

/** Data of SipCallRecordComplete. */
export interface CallRecordCompleteData {
  /** The file written, or null when the recording only fed the callback. */
  path: string | null;
  /** Samples written. */
  samples: number;
  /** Sample rate of the file. */
  sampleRate: number;
  /** The first write error, if any (the recording stopped there). */
  error?: string;
}

/** Data of SipCallRecordFileWriteError. */
export interface CallRecordFileWriteErrorData {
  /** The file that could not be written. */
  path: string | null;
  /** What went wrong. */
  reason: string;
}

// ------------------------------------------------------------------ data of registrations

/** What every registration notification names: the registered name and its lines. */
export interface RegistrationData {
  /** The name (user part) being registered. */
  name: string;
  /** The phone lines that name belongs to ([] when names belong to the engine). */
  phoneLines: number[];
}

/** Data of SipRegisterSuccess. */
export interface RegisterSuccessData extends RegistrationData {
  /** Seconds the registrar granted. */
  expires: number;
  /** Our Contact as registered. */
  contact: string;
  /** The 2xx status. */
  statusCode: number;
}

/** Data of a registration (or unregistration) refused by the server. */
export interface RegisterFailureData extends RegistrationData {
  /** The SIP status; 0 when DNS found no server, 503 when the TLS connection failed. */
  statusCode: number;
  /** Its reason phrase, the DNS reason (`DNS: no records for …`) with status 0, or `TLS <reason>`. */
  reasonPhrase: string;
  /** Set when no request reached the server because its TLS connection failed: why. */
  tlsReason?: TlsFailureReason;
}

/** Data of SipTlsError. */
export interface TlsErrorData {
  /** The peer (its address; `serverName` is not repeated here). */
  peer: TransportAddress;
  /** Why the connection failed. */
  reason: TlsFailureReason;
  /** The TLS library's code or message (no key material). */
  detail: string;
  /** True for a connection we opened, false for a client of our listener. */
  outgoing: boolean;
}

/** Data of SipRegisterTimeOut and SipUnRegistrationTimeOut. */
export interface RegisterTimeOutData extends RegistrationData {
  /** The time the server had to answer (ms). */
  timeOutMs: number;
}

/** Data of SipRegisterIntervalError (423 Interval Too Brief). */
export interface RegisterIntervalErrorData extends RegisterFailureData {
  /** The server's Min-Expires, when it gave one. */
  minExpires: number | undefined;
  /** True when the engine retries with Min-Expires. */
  retrying: boolean;
}

/** Data of SipUnRegisterSuccess. */
export interface UnRegisterSuccessData extends RegistrationData {
  /** The 2xx status. */
  statusCode: number;
}

// ------------------------------------------------------------------ data of transfers

/** Data that carries nothing (PortSIP's `{}` events: SipReferAccepted, SipTransferTrying ...). */
export type EmptyData = Record<string, never>;

/** Data of the immediate SipOutgoingTransferInitializing, and of SipTransferingCall for a REFER we send. */
export interface OutgoingTransferData {
  /** The Refer-To value. */
  referTo: string;
  /** True for an attended transfer (Refer-To with Replaces). */
  attended: boolean;
}

/** Data of the immediate SipTransferExecuting (a REFER received). */
export interface TransferExecutingData {
  /** Id for acceptRefer / rejectRefer. */
  referId: number;
  /** The transfer target URI. */
  referTo: string;
  /** From header of the REFER. */
  from: string;
}

/** Data of SipTransferingCall when an accepted REFER places the new call. */
export interface TransferTargetCallData {
  /** The REFER being carried out. */
  referId: number;
  /** The transfer target URI. */
  referTo: string;
  /** The line the new call is placed on. */
  newPhoneLine: number;
}

/** Data of SipTransferingCall when an INVITE with Replaces takes over a call. */
export interface ReplacingCallData {
  /** Call-ID of the replaced call. */
  replacedCallId: string;
  /** From header of the replacing INVITE. */
  from: string;
}

/** Data of SipTransferingCall: which of the three transfer steps it reports. */
export type TransferingCallData = OutgoingTransferData | TransferTargetCallData | ReplacingCallData;

/** Data of the line notification SipWaveFileComplete: a WAV file played to its end. */
export interface WaveFileCompleteData {
  /** The path given to playWaveFile. */
  path: string;
}

/** Data of the line notification SipBadAudioDataType: a WAV file failed after its header was accepted. */
export interface WaveFailureData {
  /** The path given to playWaveFile. */
  path: string;
  /** What went wrong (the file vanished, its data did not match its header ...). */
  reason: string;
}

// ------------------------------------------------------------------ the map

/**
 * The data type of every notification the engine raises, by event name (a
 * {@link TelephonyReturnValue} member name). `undefined` means the event carries no data.
 * Immediate notifications (whose `data` the handler may change) are marked in their comment.
 */
export interface NotificationDataMap {
  // ---- outgoing calls
  /** Line: an outgoing call left the idle state. */
  SipOffHook: undefined;
  /** Line: an outgoing call is being set up. */
  SipOutgoingCallInitializing: RequestUriData;
  /** Line: the INVITE went out. */
  SipSendInvite: RequestUriData;
  /** Line: the far end rings (local ringback starts). */
  SipStartOutgoingRing: undefined;
  /** Line: 100 Trying. */
  SipReceived100Trying: SipStatusData;
  /** Line: 180 Ringing. */
  SipReceived180Ringing: SipStatusData;
  /** Line: 181 Call Is Being Forwarded. */
  SipReceived181CallBeingForwarded: SipStatusData;
  /** Line: 182 Queued. */
  SipReceived182Queued: SipStatusData;
  /** Line: 183 Session Progress. */
  SipReceived183SessionProgress: SipStatusData;
  /** Line: any other provisional answer. */
  SipReceivedProvisionalResponse: SipStatusData;
  /** Line: 401/407 with no usable credentials. */
  SipOutgoingCallDigestAuthenticationRequired: StatusCodeData;
  /** Line: a 3xx redirect. */
  SipReceived302MovedTemporarily: MovedData;
  /** Line: the call was cancelled (`statusCode` 487 for our CANCEL; no data for the far end's). */
  SipCallCanceled: StatusCodeData | undefined;
  /** Line: 486 or 600. */
  SipFarEndIsBusy: SipStatusData;
  /** Line: another final error, or an answer whose media cannot be used. */
  SipFarEndError: SipStatusData;
  /** Line: 2xx to our INVITE. */
  SipInviteOkReceived: StatusCodeData;
  /** Line: the ACK for a 2xx went out. */
  SipSendInviteAck: undefined;
  /** Line: our outgoing call is connected. */
  SipOutgoingCallConnected: undefined;
  /** Line: a call is up. */
  SipInCall: undefined;
  /** Line: the far end put the call on hold. */
  SipFarEndHoldOn: undefined;
  /** Line: the far end took the call off hold. */
  SipFarEndHoldOff: undefined;
  // ---- incoming calls
  /** Immediate: which line takes a new incoming call (the handler may move or refuse it). */
  SipIncomingCallAssignPhoneLine: AssignPhoneLineData;
  /** Line: an INVITE arrived for this line. */
  SipIncomingCallStart: IncomingCallStartData;
  /** Line: the incoming call is set up. */
  SipIncomingCallInitialized: undefined;
  /** Line: 180 Ringing went out. */
  SipSendRinging: undefined;
  /** Line: the line rings. */
  SipStartIncomingRing: undefined;
  /** Line: the application may answer (goOffHook). */
  SipOkToAnswerCall: OkToAnswerCallData;
  /** Line: nobody answered in time (480 sent). */
  SipAnswerTimeout: undefined;
  /** Line: goOffHook is answering. */
  SipAnsweringCall: undefined;
  /** Line: 200 OK went out. */
  SipSend200Ok: undefined;
  /** Line: the ACK for our 200 arrived. */
  SipReceivedInviteAck: undefined;
  /** Line: no ACK came for our 200. */
  SipInviteAckNotReceived: undefined;
  /** Line: an incoming call is connected. */
  SipIncomingCallConnected: undefined;
  /** Line: an incoming call was refused (abortIncomingCall, busy, media). */
  SipIncomingCallAborted: SipStatusData;
  // ---- in call and teardown
  /** Line: we put the call on hold. */
  SipCallHoldOn: undefined;
  /** Line: we took the call off hold. */
  SipCallHoldOff: undefined;
  /** Line: the far end hung up. */
  SipByeReceived: undefined;
  /** Line: our BYE went out. */
  SipSendBye: undefined;
  /** Line: 2xx to our BYE. */
  SipReceivedByeAck: StatusCodeData;
  /** Line: an error answer to our BYE. */
  SipReceivedByeErrorAck: StatusCodeData;
  /** Line: no answer to our BYE. */
  SipByeAckNotReceived: undefined;
  /** Line: the call ended. */
  SipCallComplete: CallCompleteData;
  /** Line: the line is idle again. */
  SipOnHook: undefined;
  /** Line: a DTMF digit was received. */
  SipDtmfDigitEvent: DtmfDigitData;
  /** Line: RTP arrived from an unexpected address. */
  SipReceivedRtpMediaConflict: RtpMediaConflictData;
  /** Line: the line joined a conference. */
  SipInConferenceOn: undefined;
  /** Line: the line left the conference. */
  SipInConferenceOff: undefined;
  // ---- recording
  /** Line: a recording started. */
  SipCallRecordActive: CallRecordActiveData;
  /** Line: a recording finished. */
  SipCallRecordComplete: CallRecordCompleteData;
  /** Line: a recording could not be written. */
  SipCallRecordFileWriteError: CallRecordFileWriteErrorData;
  // ---- registration (global)
  /** Global: a REGISTER went out. */
  SipRegisterTrying: RegistrationData;
  /** Global: the registrar accepted. */
  SipRegisterSuccess: RegisterSuccessData;
  /** Global: the registrar did not answer. */
  SipRegisterTimeOut: RegisterTimeOutData;
  /** Global: credentials missing or refused. */
  SipRegisterAuthorizationError: RegisterFailureData;
  /** Global: 423 Interval Too Brief. */
  SipRegisterIntervalError: RegisterIntervalErrorData;
  /** Global: another error answer. */
  SipRegisterError: RegisterFailureData;
  /** Global: a REGISTER with Expires 0 went out. */
  SipUnRegisterTrying: RegistrationData;
  /** Global: the binding was removed. */
  SipUnRegisterSuccess: UnRegisterSuccessData;
  /** Global: the registrar did not answer the unregistration. */
  SipUnRegistrationTimeOut: RegisterTimeOutData;
  /** Global: the unregistration was refused for credentials. */
  SipUnRegisterAuthorizationError: RegisterFailureData;
  /** Global: the unregistration was refused. */
  SipUnRegisterError: RegisterFailureData;
  /** Global: NAT detected, the Contact now carries the public address. */
  SipWanIpAddressChange: WanIpAddressChangeData;
  /** Immediate: an incoming REGISTER (registrar role); the handler may refuse it. */
  SipRegisterReceived: RegisterReceivedData;
  // ---- SIP messages
  /** Global: a received message could not be parsed. */
  SipReceivedSipMessageParseError: SipMessageParseErrorData;
  /** Immediate: a SIP message about to be sent or just received; the handler may rewrite or drop it. */
  SipModifySipMessage: ModifySipMessageData;
  /** Immediate: a request needs challenge authentication; the handler verifies it. */
  SipIncomingAuthentication: IncomingAuthenticationData;
  // ---- transfer
  /** Immediate: we are about to send a REFER. */
  SipOutgoingTransferInitializing: OutgoingTransferData;
  /** Line: a transfer step: our REFER sent, the new call placed, or a call replaced. */
  SipTransferingCall: TransferingCallData;
  /** Immediate: a REFER arrived. */
  SipTransferExecuting: TransferExecutingData;
  /** Line: a REFER arrived (acceptRefer / rejectRefer). */
  SipReceivedRefer: ReceivedReferData;
  /** Line: the far end accepted our REFER. */
  SipReferAccepted: EmptyData;
  /** Line: the far end refused our REFER. */
  SipReferRejected: TransferFailureData;
  /** Line: the transfer target is being called. */
  SipTransferTrying: EmptyData;
  /** Line: the transfer target rings. */
  SipTransferRinging: EmptyData;
  /** Line: the transfer succeeded. */
  SipActvTransferSuccess: EmptyData;
  /** Line: the transfer failed. */
  SipActvTransferFailure: TransferFailureData;
  // ---- messages
  /** Line: MESSAGE delivered. */
  SipSendMessageSuccess: SendMessageSuccessData;
  /** Line: MESSAGE refused or unanswered. */
  SipSendMessageFailure: SendMessageFailureData;
  /** Global: out-of-dialog MESSAGE delivered. */
  SipSendOutOfDialogMessageSuccess: SendOutOfDialogMessageSuccessData;
  /** Global: out-of-dialog MESSAGE refused or unanswered. */
  SipSendOutOfDialogMessageFailure: SendOutOfDialogMessageFailureData;
  /** Line: a MESSAGE arrived in a call. */
  SipRecvMessage: RecvMessageData;
  /** Global: a MESSAGE arrived outside calls. */
  SipRecvOutOfDialogMessage: RecvOutOfDialogMessageData;
  // ---- subscriptions and presence
  /** Immediate: a SUBSCRIBE of ours went out. */
  SipSubscriptionTrying: SubscriptionStatusData;
  /** Immediate: our subscription was accepted or refreshed. */
  SipSubscriptionSuccess: SubscriptionStatusData;
  /** Immediate: our subscription was refused. */
  SipSubscriptionNotAccepted: SubscriptionStatusData;
  /** Immediate: our SUBSCRIBE went unanswered. */
  SipSubscriptionTimeOut: SubscriptionStatusData;
  /** Immediate: our SUBSCRIBE was challenged and we have no credentials. */
  SipSubscriptionRequiresAuthentication: SubscriptionStatusData;
  /** Immediate: a NOTIFY arrived. */
  SipEventNotifyReceived: EventNotifyReceivedData;
  /** Immediate: a SUBSCRIBE arrived; the handler accepts or refuses it. */
  SipSubscriptionReceived: SubscriptionReceivedData;
  /** Global: a watcher asks for our presence (presenceAcceptSubscribe / presenceRejectSubscribe). */
  SipPresenceRecvSubscribe: PresenceRecvSubscribeData;
  /** Global: a watched contact is online. */
  SipPresenceOnline: PresenceOnlineData;
  /** Global: a watched contact is offline. */
  SipPresenceOffline: PresenceOfflineData;

  // ---- line policy and media files
  /** Line: busyOutLine(line, true) took the line out of service for incoming calls. */
  SipBusyOutOn: undefined;
  /** Line: busyOutLine(line, false) put the line back in service. */
  SipBusyOutOff: undefined;
  /** Line: a WAV file given to playWaveFile failed after its header was accepted. */
  SipBadAudioDataType: WaveFailureData;
  /** Line: a non-looping WAV file given to playWaveFile played to its end (not when stopped or replaced). */
  SipWaveFileComplete: WaveFileCompleteData;

  // ---- media time-out
  /** Line: no RTP or RTCP arrived for the media time-out; a BYE follows (SipCallComplete's reason is `SipMediaTimeout`). */
  SipMediaTimeout: MediaTimeoutData;
  /** Line: the media worker of the call died; the engine ends the call. */
  SipMediaWorkerLost: MediaWorkerLostData;

  // ---- early media
  /** Line: the far end's early media started (an 18x with a usable SDP answer) or moved to another fork. */
  SipEarlyMedia: EarlyMediaData;
  /** Line: we answered a ringing call with 183 Session Progress and our SDP (sendCallProgress); media runs. */
  SipSendSessionProgress: undefined;
  // ---- session timers
  /** Line: the session timer ended the call (no refresh in time, or our refresh failed); a BYE follows (SipCallComplete's reason is `SipSessionExpired`). */
  SipSessionExpired: SessionExpiredData;
  // ---- overload (engine/overload.ts)
  /** Global: the engine began refusing new requests with 503 and Retry-After; `cause` says why. */
  SipOverloadShedding: OverloadSheddingData;
  /** Global: the engine takes new requests again; the data counts what the episode shed. */
  SipOverloadRecovered: OverloadRecoveredData;
  // ---- out-of-dialog REFER
  /** Global: a REFER arrived outside any dialog; accepted (the referred call placed on a line) or refused 403/503. */
  SipReceivedOutOfDialogRefer: OutOfDialogReferData;
  // ---- limits and access control (engine/securityLimits.ts)
  /** Global: a source address or user name failed authentication too often and is blocked for `blockedSeconds`. */
  SipAuthenticationBlocked: AuthenticationBlockedData;
  // ---- TLS (sip/tlsTransport.ts)
  /** Global: a TLS handshake failed (ours or a client's); `reason` says why. */
  SipTlsError: TlsErrorData;
}

/** The name of an event the engine raises as a notification (`'SipRegisterSuccess'` ...). */
export type NotificationName = keyof NotificationDataMap;

/** The codes the engine raises as notifications (`TelephonyReturnValue.SipRegisterSuccess` ...). */
export type NotificationEvent = (typeof TelephonyReturnValue)[NotificationName];

/** The name of the notification event `E` (a code or a union of codes). */
export type NotificationNameOf<E extends TelephonyReturnValue> = {
  [K in NotificationName]: (typeof TelephonyReturnValue)[K] extends E ? K : never;
}[NotificationName];

/** The data type of the notification named `K`. */
export type NotificationData<K extends NotificationName> = NotificationDataMap[K];

/** The data type of the notification event `E` (a code). */
export type NotificationDataOf<E extends NotificationEvent> = NotificationDataMap[NotificationNameOf<E>];

/**
 * A notification delivered to the application. Without a type argument it is the union of
 * every notification, discriminated by `event`: `switch (n.event) { case T.SipRegisterSuccess: … }`
 * narrows `n.data` to that event's type. `Notification<'SipOkToAnswerCall'>` is one of them.
 */
export type Notification<K extends NotificationName = NotificationName> = K extends NotificationName
  ? {
      /** Delivery class. */
      notifyType: NotifyType;
      /** Zero-based phone line, or -1 for global notifications. */
      phoneLine: number;
      /** The event, a {@link TelephonyReturnValue}. */
      event: (typeof TelephonyReturnValue)[K];
      /**
       * Event specific data (see {@link NotificationDataMap}); for immediate notifications the
       * application may modify it.
       */
      data: NotificationDataMap[K];
    }
  : never;

/** The notification of event `E` (a code): `NotificationOf<T.SipRegisterSuccess>`. */
export type NotificationOf<E extends TelephonyReturnValue> = Notification<NotificationNameOf<E>>;

/** Signature of the application's notification callback (LanScape's SIPCALLBACKPROC). */
export type UserNotifyCallback = (notification: Notification) => void;

/**
 * The events a {@link VoipMediaEngine} emits, with their listener arguments: `notification`
 * (every notification), one event per notification name, and `error` (an internal fault the
 * engine survived; also written to the logger).
 */
export type EngineEventMap = {
  [K in NotificationName]: [notification: Notification<K>];
} & {
  /** Every notification, in delivery order. */
  notification: [notification: Notification];
  /** An internal fault the engine survived (a request it could not handle ...). */
  error: [error: Error];
};
