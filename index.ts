/**
 * LineScape: a multi-line SIP media engine for Node.js, shaped after the LanScape VOIP Media
 * Engine. Start with {@link VoipMediaEngine}.
 * @module linescape
 */
export { VoipMediaEngine, LINESCAPE_VERSION, MAX_REGISTRATION_WORKERS } from './engine/VoipMediaEngine.js';
export type {
  EngineOptions,
  RealtimeSeatsOptions,
  LineStatusResult,
  VersionInfo,
  NumPhoneLinesResult,
  NumActiveCallsResult,
  RecordedCallStatesResult,
  RegistrationStatusResult,
  RegistrarBindingsResult,
  ActiveCallInfo,
  IvrChannelResult,
  IncomingCallInfoResult,
  OutgoingCallInfoResult,
  OutgoingCallErrorInfoResult,
  MediaClockStatisticsResult,
  TxIvrChannelOptions,
  CallQualityResult,
  EnableMetricsResult,
  MetricsRegistryResult,
} from './engine/VoipMediaEngine.js';
export type { MetricsOptions } from './engine/metrics.js';
export type { CallQuality, CodecImpairment, QualityInput } from './media/quality.js';
export type { CodecName } from './media/codecs.js';
export type { OpusSettings, OpusBandwidth } from './media/opus.js';
export type { SrtpPolicy, SrtpSuite } from './sip/sdes.js';
export { srtpStatus, describeSrtpLibrary, SRTP_LIBRARY_ENV } from './ffi/srtp.js';
export type { SrtpAvailable, SrtpFailure, SrtpErrorCode, SrtpLibraryInfo, SrtpLibrarySource, SrtpCryptoBackend } from './ffi/srtp.js';
export { computeCallQuality, mosFromR, rFactor, codecImpairment, PACKETIZATION_MS, R_DEFAULT } from './media/quality.js';
export type { IncomingCallInfo, OutgoingCallInfo, OutgoingCallErrorInfo } from './lines/call.js';
export type { AssignPhoneLineData } from './lines/callManager.js';
export type { OverloadSheddingData, OverloadRecoveredData, ShedCause } from './engine/overload.js';
export type { AuthenticationBlockedData, RefusalReason } from './engine/securityLimits.js';
export type { CallDialogInfo, ReceivedReferData, TransferFailureData } from './lines/transfer.js';
export type { RawRtpData } from './media/session.js';
export type { MediaClock, MediaClockListener, MediaClockOptions, MediaClockStats, MediaFloorClockStats } from './media/mediaClock.js';
export { DriftCorrectedMediaClock, virtualMediaClock } from './media/mediaClock.js';
export { SendTiming, type SendTimingOptions, type SendTimingStats, type SendTimingWindow } from './media/sendTiming.js';
export { TelephonyReturnValue, getTelephonyStatusString } from './engine/returnCodes.js';
export {
  NotifyType,
  LineMode,
  CallDirection,
  MediaFormatAudio,
  LineState,
  CallHoldType,
  DtmfMethod,
  SIP_USE_PREFERED_AUDIO_DEVICE,
  SIP_AUDIO_DEVICE_NOT_USED,
  DEFAULT_START_PARAMS,
  MAX_PHONE_LINES,
  defaultMediaWorkers,
} from './engine/types.js';
export type {
  StartSipTelephonyParams,
  SipTransportName,
  RegisterReceivedData,
  RegistrarBinding,
  TransportAddress,
  ContactExpiry,
  SessionTimerOptions,
  SessionRefresherPreference,
  TlsSettings,
  TlsFailureReason,
} from './engine/types.js';
export type {
  Notification,
  NotificationOf,
  NotificationName,
  NotificationEvent,
  NotificationNameOf,
  NotificationData,
  NotificationDataOf,
  NotificationDataMap,
  UserNotifyCallback,
  EngineEventMap,
  RequestUriData,
  StatusCodeData,
  SipStatusData,
  MovedData,
  IncomingCallStartData,
  OkToAnswerCallData,
  CallCompleteData,
  MediaTimeoutData,
  MediaWorkerLostData,
  EarlyMediaData,
  SessionExpiredData,
  OutOfDialogReferData,
  ReceivedDtmfMethod,
  DtmfDigitData,
  RtpMediaConflictData,
  WanIpAddressChangeData,
  SipMessageParseErrorData,
  CallRecordActiveData,
  CallRecordCompleteData,
  CallRecordFileWriteErrorData,
  RegistrationData,
  RegisterSuccessData,
  RegisterFailureData,
  TlsErrorData,
  RegisterTimeOutData,
  RegisterIntervalErrorData,
  UnRegisterSuccessData,
  EmptyData,
  OutgoingTransferData,
  TransferExecutingData,
  TransferTargetCallData,
  ReplacingCallData,
  TransferingCallData,
  WaveFailureData,
  WaveFileCompleteData,
} from './engine/notifications.js';
export { TypedEventEmitter } from './engine/typedEmitter.js';
export type { EventArgsMap, EventListener } from './engine/typedEmitter.js';
export type { RegistrationStatus, RegistrationState } from './engine/registration.js';
export type { RecordedCallState } from './lines/phoneLine.js';
export type { VuMeterData, VuMeterCallback, AudioDeviceListResult, LocalAudioStatisticsResult } from './engine/audio.js';
export type { RecordFrame, RecordCallback } from './media/callRecorder.js';
export type { AudioDeviceInfo, LocalAudioStats, LocalAudioCaptureStats, LocalAudioPlaybackStats } from './media/audioDevice.js';
export type { LocalAudioPortStats } from './mixer/localAudioPort.js';
export { DEFAULT_MAX_MESSAGE_BODY_SIZE, MAX_OUTGOING_MESSAGE_BODY_SIZE } from './engine/messaging.js';
export type {
  SendMessageResult,
  RecvMessageData,
  RecvOutOfDialogMessageData,
  SendMessageSuccessData,
  SendMessageFailureData,
  SendOutOfDialogMessageSuccessData,
  SendOutOfDialogMessageFailureData,
} from './engine/messaging.js';
export { CHALLENGED_METHODS, DEFAULT_AUTH_CREDENTIAL_EXPIRE_SECONDS } from './engine/challenge.js';
export type { IncomingAuthenticationData } from './engine/challenge.js';
export type { ModifySipMessageData } from './engine/sipHooks.js';
export type { MessageDirection } from './sip/stack.js';
export type {
  EventSubscriptionResult,
  SubscriptionReceivedData,
  EventNotifyReceivedData,
  SubscriptionStatusData,
} from './engine/eventSubscriptions.js';
export type {
  PresenceRecvSubscribeData,
  PresenceOnlineData,
  PresenceOfflineData,
  PresenceSubscriptionInfo,
  PresenceSubscriptionsResult,
  PresenceWatcherInfo,
  PresenceWatchersResult,
  PresencePublicationResult,
} from './engine/presence.js';
export { VirtualClock, realClock } from './sip/clock.js';
export type { Clock, TimerHandle, VirtualTimerHandle } from './sip/clock.js';
