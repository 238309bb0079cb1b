/**
 * What the facade knows about the TELEPHONY_RETURN_VALUE codes: the human text of each
 * (`getTelephonyStatusString`) and how it is used (an API result, or a notification of which
 * kind, which picks the NotifyType). The enum itself lives in `lines/telephonyCodes.ts`, the
 * lowest floor that raises the codes; it is re-exported here so this stays its public path.
 * @module
 */
import { TelephonyReturnValue } from '../lines/telephonyCodes.js';

export { TelephonyReturnValue } from '../lines/telephonyCodes.js';

/** How a code is used: returned by procedures, or delivered as a notification of a given kind. */
export type TelephonyCodeUsage = 'api' | 'global' | 'line' | 'immediate';

type Meta = readonly [usage: readonly TelephonyCodeUsage[], text: string];

const A = ['api'] as const;
const G = ['global'] as const;
const L = ['line'] as const;
const I = ['immediate'] as const;
const AG = ['api', 'global'] as const;
const AL = ['api', 'line'] as const;

const T = TelephonyReturnValue;

// A full Record (not Partial) so the compiler refuses a member without text.
const META: Readonly<Record<TelephonyReturnValue, Meta>> = {
  [T.SipSuccess]: [A, 'The operation completed successfully.'],
  [T.SipCallFailure]: [A, 'The operation failed.'],
  [T.SipCallTimeOut]: [A, 'The operation timed out.'],
  [T.SipPhoneLineAccessError]: [A, 'The phone line cannot be accessed in its current state.'],
  [T.SipUnknownHost]: [A, 'The host name could not be resolved.'],
  [T.SipCallAlreadyInProgress]: [A, 'A call is already in progress on the phone line.'],
  [T.SipBadPhoneLine]: [A, 'The phone line number is out of range.'],
  [T.SipInvalidHandle]: [A, 'An invalid handle was given.'],
  [T.SipCallStateHistoryMustBeRead]: [A, 'Recorded call states must be read first.'],
  [T.SipCallInstanceDataNoExist]: [A, 'No call instance data exists for the call.'],
  [T.SipNotEnabled]: [A, 'The required feature is not enabled.'],
  [T.SipLineBusyOut]: [A, 'The phone line is busied out.'],
  [T.SipAlreadyOffHook]: [A, 'The phone line is already off hook.'],
  [T.SipAlreadyOnHook]: [A, 'The phone line is already on hook.'],
  [T.SipThreadCreationError]: [AL, 'An internal worker could not be created.'],
  [T.SipBandwidthError]: [A, 'The audio bandwidth or format is not supported.'],
  [T.SipMemoryError]: [AL, 'Memory could not be allocated.'],
  [T.SipEventLogServerParameterError]: [A, 'The event log server list is malformed.'],
  [T.SipDirectoryDoesNotExist]: [A, 'The directory does not exist.'],
  [T.SipStartRtpPortError]: [A, 'The RTP port range is invalid.'],
  [T.SipRtpAndSipPortOverlapError]: [A, 'The RTP port range overlaps the SIP port.'],
  [T.SipBadPhoneName]: [A, 'The phone name is invalid.'],
  [T.SipBadDisplayName]: [A, 'The display name is invalid.'],
  [T.SipBadParameter]: [A, 'A parameter is missing or invalid.'],
  [T.SipBadNumberOfPhoneLines]: [A, 'The number of phone lines is not allowed.'],
  [T.SipAudioOutFailure]: [A, 'The audio output device could not be opened.'],
  [T.SipAudioInFailure]: [A, 'The audio input device could not be opened.'],
  [T.SipRtpReceiverEventError]: [A, 'The RTP receiver could not be signalled.'],
  [T.SipRtpReceiverThreadStartFailure]: [A, 'The RTP receiver could not be started.'],
  [T.SipPlaybackMixerThreadStartError]: [A, 'The playback mixer could not be started.'],
  [T.SipCallThreadStartEventFailure]: [A, 'The call worker did not report its start.'],
  [T.SipCallThreadStartFailure]: [A, 'The call worker could not be started.'],
  [T.SipEventError]: [A, 'An internal event could not be created.'],
  [T.SipUdpTxBufferSizeError]: [A, 'The UDP send buffer size could not be set.'],
  [T.SipUdpRxBufferSizeError]: [A, 'The UDP receive buffer size could not be set.'],
  [T.SipSocketOpenError]: [A, 'The SIP socket could not be opened.'],
  [T.SipSocketBindError]: [A, 'The SIP socket could not be bound to its address and port.'],
  [T.SipInvalidInstance]: [A, 'The engine instance is not valid.'],
  [T.SipApiProcNotAllowed]: [A, 'The procedure is not allowed at this time.'],
  [T.SipNetworkInitializeError]: [A, 'The network could not be initialized.'],
  [T.SipProxyNotEnabled]: [A, 'A proxy server is required but not enabled.'],
  [T.SipRtpSocketOpenError]: [L, 'An RTP socket could not be opened.'],
  [T.SipRtpSocketBindError]: [L, 'An RTP socket could not be bound.'],
  [T.SipSessionReceiveOverrun]: [G, 'Incoming SIP messages overran the receive queue.'],
  [T.SipReceiveBufferTooSmall]: [G, 'A received SIP message was too large.'],
  [T.SipRtpReceiveBufferTooSmall]: [L, 'A received RTP packet was too large.'],
  [T.SipRtpFatalStartError]: [L, 'The call media could not be started.'],
  [T.SipCallThreadTerminateTimeout]: [L, 'A call worker did not stop in time.'],
  [T.SipMediaEngineNotInitialized]: [A, 'The media engine is not started.'],
  [T.SipMediaEngineAlreadyInitialized]: [A, 'The media engine is already started.'],
  [T.SipInitializeError]: [A, 'The media engine failed to initialize.'],
  [T.SipLineInitialized]: [L, 'The phone line is initialized.'],
  [T.SipLineCapacityReached]: [G, 'All phone lines are in use.'],
  [T.SipCallStartFailed]: [AL, 'The outgoing call could not be started.'],
  [T.SipInviteSendFailed]: [L, 'The INVITE could not be sent.'],
  [T.SipInviteAckSendFailed]: [L, 'The ACK could not be sent.'],
  [T.SipCallCanceled]: [L, 'The call was canceled.'],
  [T.SipFarEndIsBusy]: [AL, 'The far end is busy.'],
  [T.SipFarEndError]: [AL, 'The far end returned an error.'],
  [T.SipAnswerTimeout]: [L, 'The far end did not answer in time.'],
  [T.SipNoCallActive]: [A, 'No call is active on the phone line.'],
  [T.SipCallNotOnHold]: [A, 'The call is not on hold.'],
  [T.SipConferenceActive]: [A, 'Not allowed while the line is in the conference.'],
  [T.SipDomainError]: [A, 'The SIP domain is invalid.'],
  [T.SipBadUserName]: [A, 'The user name is invalid.'],
  [T.SipTransfrerNotAllowed]: [A, 'The call cannot be transferred now.'],
  [T.SipDomainNameNotDefined]: [A, 'No SIP domain has been defined.'],
  [T.SipOffHook]: [L, 'The phone line is off hook.'],
  [T.SipOnHook]: [L, 'The phone line is on hook.'],
  [T.SipBadSipUri]: [A, 'The SIP URI is malformed.'],
  [T.SipOutgoingCallStateError]: [A, 'The outgoing call state does not allow this operation.'],
  [T.SipOutgoingCallInitializing]: [I, 'An outgoing call is initializing.'],
  [T.SipOutgoingTransferInitializing]: [I, 'An outgoing transfer is initializing.'],
  [T.SipOutgoingCallStart]: [L, 'An outgoing call started.'],
  [T.SipDialTone]: [L, 'Dial tone.'],
  [T.SipDialing]: [L, 'Dialing.'],
  [T.SipSendInvite]: [L, 'Sending INVITE.'],
  [T.SipStartOutgoingRing]: [L, 'Outgoing ring-back started.'],
  [T.SipReceivedProvisionalResponse]: [L, 'A provisional response was received.'],
  [T.SipReceived100Trying]: [L, 'Received 100 Trying.'],
  [T.SipReceived180Ringing]: [L, 'Received 180 Ringing.'],
  [T.SipReceived181CallBeingForwarded]: [L, 'Received 181 Call Is Being Forwarded.'],
  [T.SipReceived182Queued]: [L, 'Received 182 Queued.'],
  [T.SipReceived183SessionProgress]: [L, 'Received 183 Session Progress.'],
  [T.SipReceivedUnsupportedProvisionalResponse]: [L, 'An unsupported provisional response was received.'],
  [T.SipWaitForInviteOk]: [L, 'Waiting for the final answer to the INVITE.'],
  [T.SipInviteOkReceived]: [L, 'Received 200 OK for the INVITE.'],
  [T.SipSendInviteAck]: [L, 'Sending ACK.'],
  [T.SipOutgoingCallConnected]: [L, 'The outgoing call is connected.'],
  [T.SipIncomingCallStart]: [L, 'An incoming call started.'],
  [T.SipIncomingCallAssignPhoneLine]: [I, 'Choose a phone line for the incoming call.'],
  [T.SipIncomingCallInitialized]: [I, 'An incoming call is initializing.'],
  [T.SipTransferExecuting]: [I, 'The far end requested a transfer of this call.'],
  [T.SipStartIncomingRing]: [L, 'The incoming call is ringing.'],
  [T.SipSendTrying]: [L, 'Sending 100 Trying.'],
  [T.SipSendRinging]: [L, 'Sending 180 Ringing.'],
  [T.SipSendSessionProgress]: [L, 'Sending 183 Session Progress.'],
  [T.SipOkToAnswerCall]: [L, 'The incoming call can be answered.'],
  [T.SipSend200Ok]: [L, 'Sending 200 OK.'],
  [T.SipInviteAckNotReceived]: [L, 'The ACK for the answered call was not received.'],
  [T.SipReceivedInviteAck]: [L, 'Received the ACK for the answered call.'],
  [T.SipAnsweringCall]: [L, 'Answering the incoming call.'],
  [T.SipIncomingCallConnected]: [L, 'The incoming call is connected.'],
  [T.SipIncomingCallAborted]: [L, 'The incoming call was aborted.'],
  [T.SipInCall]: [L, 'The phone line is in a call.'],
  [T.SipCallHold]: [L, 'The call is on hold.'],
  [T.SipBusyOut]: [L, 'The phone line is busied out.'],
  [T.SipInConference]: [L, 'The phone line is in the conference.'],
  [T.SipFarEndHoldOn]: [AL, 'The far end put the call on hold.'],
  [T.SipFarEndHoldOff]: [L, 'The far end took the call off hold.'],
  [T.SipTransferingCall]: [L, 'The call is being transferred.'],
  [T.SipCallHoldOn]: [L, 'Call hold switched on.'],
  [T.SipCallHoldOff]: [L, 'Call hold switched off.'],
  [T.SipBusyOutOn]: [L, 'Busy-out switched on.'],
  [T.SipBusyOutOff]: [L, 'Busy-out switched off.'],
  [T.SipInConferenceOn]: [L, 'The phone line joined the conference.'],
  [T.SipInConferenceOff]: [L, 'The phone line left the conference.'],
  [T.SipByeReceived]: [L, 'The far end hung up.'],
  [T.SipSendByeAck]: [L, 'Acknowledging the received BYE.'],
  [T.SipSendBye]: [L, 'Sending BYE.'],
  [T.SipReceivedByeAck]: [L, 'The BYE was acknowledged.'],
  [T.SipReceivedByeErrorAck]: [L, 'The BYE was answered with an error.'],
  [T.SipByeAckNotReceived]: [L, 'The BYE was not acknowledged.'],
  [T.SipCallComplete]: [L, 'The call is complete.'],
  [T.SipIvrBadChannel]: [A, 'The IVR channel is invalid.'],
  [T.SipIvrAlreadyOpened]: [A, 'The IVR channel is already open.'],
  [T.SipIvrTransmitterFull]: [A, 'The IVR transmit queue is full.'],
  [T.SipAudioOutAlreadyOpened]: [A, 'The audio output is already open.'],
  [T.SipBadAudioOutLine]: [A, 'The audio output line is invalid.'],
  [T.SipNoAudioOutType]: [A, 'No audio output type was given.'],
  [T.SipAudioOutputFull]: [A, 'The audio output queue is full.'],
  [T.SipBadAudioDataType]: [AL, 'The audio data type is not supported.'],
  [T.SipCallEngineReady]: [G, 'The media engine is ready.'],
  [T.SipCallEngineTerminated]: [G, 'The media engine has stopped.'],
  [T.SipRegisterReceived]: [I, 'A REGISTER request was received.'],
  [T.SipRegisterTrying]: [G, 'Registering with the registrar.'],
  [T.SipRegisterSuccess]: [G, 'Registration succeeded.'],
  [T.SipRegisterIntervalError]: [AG, 'The registration interval is invalid or was refused.'],
  [T.SipRegisterTimeOut]: [AG, 'The registrar did not respond.'],
  [T.SipRegisterErrorBadCredentials]: [AG, 'The registrar rejected the credentials.'],
  [T.SipRegisterBadNameList]: [A, 'The number of registration names does not match the number of phone lines.'],
  [T.SipRegisterError]: [AG, 'The registrar returned an error.'],
  [T.SipSubscriptionAlreadyExists]: [A, 'The subscription already exists.'],
  [T.SipEventNotifyResponseTimeOut]: [A, 'The NOTIFY was not answered in time.'],
  [T.SipEventNotifyNotAccepted]: [A, 'The NOTIFY was not accepted.'],
  [T.SipSubscriptionMemoryError]: [I, 'The subscription ran out of memory.'],
  [T.SipSubscriptionTrying]: [I, 'Subscribing.'],
  [T.SipSubscriptionTimeOut]: [I, 'The subscription was not answered in time.'],
  [T.SipSubscriptionNotAccepted]: [I, 'The subscription was not accepted.'],
  [T.SipSubscriptionRequiresAuthentication]: [I, 'The subscription requires authentication.'],
  [T.SipSubscriptionSuccess]: [I, 'The subscription succeeded.'],
  [T.SipSubscriptionReceived]: [I, 'A subscription request was received.'],
  [T.SipEventNotifyReceived]: [I, 'An event notification was received.'],
  [T.SipWanIpAddressChange]: [G, 'The WAN IP address changed.'],
  [T.SipWanIpAddressConfigError]: [G, 'The WAN IP address configuration is invalid.'],
  [T.SipPortTranslationError]: [G, 'Port translation failed.'],
  [T.SipRegisterNetworkError]: [AG, 'A network error occurred while registering.'],
  [T.SipCallNetworkError]: [AL, 'A network error occurred on the call.'],
  [T.SipSubscriptionNetworkError]: [I, 'A network error occurred while subscribing.'],
  [T.SipNotifyNetworkError]: [A, 'A network error occurred while sending NOTIFY.'],
  [T.SipNetworkTransmitNotAllBytesSent]: [AG, 'Not all bytes were sent.'],
  [T.SipNetworkTransmitWouldBlock]: [AG, 'The network send would block.'],
  [T.SipNetworkTransmitFatalError]: [AG, 'A fatal network send error occurred.'],
  [T.SipIncomingAuthentication]: [I, 'An incoming request needs an authentication decision.'],
  [T.SipRegisterAuthorizationError]: [AG, 'Registration failed: not authorized.'],
  [T.SipOutgoingCallDigestAuthenticationRequired]: [L, 'The call requires digest credentials that are not configured.'],
  [T.SipOutgoingCallBasicAuthenticationRequired]: [L, 'The call was challenged with unsupported Basic authentication.'],
  [T.SipOutgoingCallUnsupportedAuthentication]: [L, 'The call was challenged with an unsupported authentication scheme.'],
  [T.SipComputeAuthenticationCredentialsFailed]: [L, 'The authentication response could not be computed.'],
  [T.SipModifySipMessage]: [I, 'A SIP message may be inspected or modified.'],
  [T.SipReceivedSipMessageParseError]: [I, 'A received SIP message could not be parsed.'],
  [T.SipCallRecordNotEnabled]: [A, 'Call recording is not enabled.'],
  [T.SipCallRecordAlreadyStarted]: [A, 'Call recording is already started.'],
  [T.SipCallRecordAlreadyStopped]: [A, 'Call recording is already stopped.'],
  [T.SipCallRecordFilenameNotCreated]: [AL, 'The recording file name could not be created.'],
  [T.SipCallRecordSampleFileNotCreated]: [AL, 'The recording file could not be created.'],
  [T.SipCallRecordFileWriteError]: [L, 'Writing the recording file failed.'],
  [T.SipCallRecordActive]: [L, 'Call recording is active.'],
  [T.SipCallRecordComplete]: [L, 'Call recording is complete.'],
  [T.SipReceivedRtpMediaConflict]: [L, 'Conflicting RTP media was received.'],
  [T.SipUndefined]: [[], 'Undefined status (not used).'],
  [T.SipReceived302MovedTemporarily]: [L, 'Received 302 Moved Temporarily.'],
  [T.SipDtmfDigitEvent]: [I, 'A DTMF digit was received.'],
  [T.SipPhoneLineIncomingDtmfEventOverflow]: [I, 'Incoming DTMF digits were lost (queue overflow).'],
  [T.SipInvalidDtmfToneDuration]: [A, 'The DTMF tone duration is invalid.'],
  [T.SipInvalidDtmfTone]: [A, 'The DTMF tone is invalid.'],
  [T.SipUnRegisterTrying]: [G, 'Unregistering from the registrar.'],
  [T.SipUnRegisterSuccess]: [G, 'Unregistration succeeded.'],
  [T.SipUnRegistrationTimeOut]: [G, 'The registrar did not respond to the unregistration.'],
  [T.SipUnRegisterAuthorizationError]: [G, 'Unregistration failed: not authorized.'],
  [T.SipUnRegisterErrorBadCredentials]: [G, 'The registrar rejected the credentials on unregistration.'],
  [T.SipUnRegisterNetworkError]: [G, 'A network error occurred while unregistering.'],
  [T.SipUnRegisterError]: [G, 'The registrar returned an error to the unregistration.'],
  [T.SipRouterPortTranslationError]: [L, 'Router port translation failed for the call.'],
  [T.SipReceivedRefer]: [L, 'A REFER request was received.'],
  [T.SipReferAccepted]: [L, 'The REFER was accepted.'],
  [T.SipReferRejected]: [L, 'The REFER was rejected.'],
  [T.SipTransferTrying]: [L, 'The transfer is being tried.'],
  [T.SipTransferRinging]: [L, 'The transfer target is ringing.'],
  [T.SipActvTransferSuccess]: [L, 'The transfer succeeded.'],
  [T.SipActvTransferFailure]: [L, 'The transfer failed.'],
  [T.SipPresenceRecvSubscribe]: [G, 'A presence subscription was received.'],
  [T.SipPresenceOnline]: [G, 'A contact is online.'],
  [T.SipPresenceOffline]: [G, 'A contact is offline.'],
  [T.SipRecvMessage]: [L, 'An in-dialog MESSAGE was received.'],
  [T.SipRecvOutOfDialogMessage]: [G, 'An out-of-dialog MESSAGE was received.'],
  [T.SipSendMessageSuccess]: [L, 'The MESSAGE was delivered.'],
  [T.SipSendMessageFailure]: [L, 'The MESSAGE could not be delivered.'],
  [T.SipSendOutOfDialogMessageSuccess]: [G, 'The out-of-dialog MESSAGE was delivered.'],
  [T.SipSendOutOfDialogMessageFailure]: [G, 'The out-of-dialog MESSAGE could not be delivered.'],
  [T.SipNativeLibraryMissing]: [A, 'A required native library is not installed.'],
  [T.SipFeatureNotAvailable]: [A, 'The feature is not available.'],
  [T.SipNotRegistered]: [A, 'Not registered with a registrar.'],
  [T.SipAlreadyEnabled]: [A, 'The feature is already enabled.'],
  [T.SipMediaTimeout]: [L, 'No media was received for the media time-out; the call is ended.'],
  [T.SipEarlyMedia]: [L, 'Early media from the far end started before the answer.'],
  [T.SipSessionExpired]: [L, 'The session timer expired without a refresh (or the refresh failed); the call is ended.'],
  [T.SipOverloadShedding]: [G, 'The engine is overloaded and refuses new requests with 503.'],
  [T.SipOverloadRecovered]: [G, 'The engine takes new requests again after an overload.'],
  [T.SipReceivedOutOfDialogRefer]: [G, 'A REFER arrived outside any dialog.'],
  [T.SipAuthenticationBlocked]: [G, 'A source or user failed authentication too often and is blocked for a while.'],
  [T.SipTlsError]: [G, 'A TLS connection failed (certificate, host name or handshake).'],
  [T.SipSecureTransportRequired]: [A, 'A sips: target or registrar needs TLS, which the engine or the proxy on the way does not offer.'],
  [T.SipWaveFileComplete]: [L, 'The WAV file played to its end.'],
  [T.SipMediaWorkerLost]: [L, 'The media worker carrying the call died; the call is ended.'],
};

/**
 * How each code is used (LanScape's "API return value", GLOBAL_NOTIFICATION, PHONE_LINE_NOTIFICATION,
 * IMMEDIATE_NOTIFICATION). Codes used both ways list both; `SipUndefined` lists none.
 */
export const TELEPHONY_CODE_USAGE: Readonly<Record<TelephonyReturnValue, readonly TelephonyCodeUsage[]>> =
  Object.freeze(
    Object.fromEntries(Object.entries(META).map(([k, [usage]]) => [k, usage])) as Record<
      TelephonyReturnValue,
      readonly TelephonyCodeUsage[]
    >,
  );

/**
 * The notification kind of each code that is delivered as a notification, so the engine picks
 * the right NotifyType without repeating the table. Pure API results are absent.
 */
export const NOTIFICATION_KIND: Readonly<Partial<Record<TelephonyReturnValue, 'global' | 'line' | 'immediate'>>> =
  Object.freeze(
    Object.fromEntries(
      Object.entries(META).flatMap(([k, [usage]]) => {
        const kind = usage.find((u) => u !== 'api');
        return kind ? [[k, kind]] : [];
      }),
    ) as Partial<Record<TelephonyReturnValue, 'global' | 'line' | 'immediate'>>,
  );

/**
 * Human text for a code. Accepts any number (codes may arrive from logs or old versions) and
 * never throws: unknown values give `Unknown telephony status (N)`.
 */
export function getTelephonyStatusString(code: TelephonyReturnValue | number): string {
  if (typeof code === 'number' && Object.prototype.hasOwnProperty.call(META, code)) {
    return META[code as TelephonyReturnValue][1];
  }
  let shown: string;
  try {
    shown = String(code);
  } catch {
    shown = '?';
  }
  return `Unknown telephony status (${shown})`;
}
