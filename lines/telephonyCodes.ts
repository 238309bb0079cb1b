/**
 * The TELEPHONY_RETURN_VALUE codes: every procedure result and every notification event of the
 * engine, named as in the LanScape VOIP Media Engine so applications port line by line, plus the
 * PortSIP transfer / presence / messaging events and a few LineScape additions.
 *
 * The enum lives on the `lines/` floor, the lowest floor that raises these codes (calls, transfer
 * and the call manager return and notify them), so that no floor imports from one above it. Only
 * the names and numbers live here; the facade's knowledge about them (the human texts, and
 * whether a code is an API result or a notification of which kind) stays in
 * `engine/returnCodes.ts`, which re-exports this enum under its public path.
 * @module
 */

/**
 * Procedure results and notification events.
 *
 * Numbering: `SipSuccess` is 0 and the others follow in declaration order. Applications store and
 * log these numbers, so the order is frozen: NEVER reorder, remove or insert members; append new
 * ones at the end only.
 *
 * Where LanScape's own headers spell a name differently from the EnableSipRegisterServer reference
 * page, the reference page wins (`SipRegisterIntervalError`, `SipRegisterTimeOut`). LanScape's
 * misspelling `SipTransfrerNotAllowed` is kept on purpose so ported code compiles.
 */
export enum TelephonyReturnValue {
  // ---- generic API results -------------------------------------------------------------------
  /** API return value: the procedure succeeded. */
  SipSuccess = 0,
  /** API return value: general failure, used when no more specific code applies. */
  SipCallFailure,
  /** API return value: a synchronous operation did not complete in the time allowed. */
  SipCallTimeOut,
  /** API return value: the phone line could not be accessed in its current state. */
  SipPhoneLineAccessError,
  /** API return value: a host name could not be resolved through DNS. */
  SipUnknownHost,
  /** API return value: a call is already in progress on the phone line. */
  SipCallAlreadyInProgress,
  /** API return value: the phone line number is out of range for this engine. */
  SipBadPhoneLine,
  /** API return value: an invalid handle (engine, IVR channel, subscription ...) was passed. */
  SipInvalidHandle,
  /** API return value: recorded call states must be read before more can be recorded. */
  SipCallStateHistoryMustBeRead,
  /** API return value: no call instance data exists for the call. */
  SipCallInstanceDataNoExist,
  /** API return value: the feature needed by the procedure has not been enabled. */
  SipNotEnabled,
  /** API return value: the phone line is busied out and cannot be used. */
  SipLineBusyOut,
  /** API return value: the phone line is already off hook. */
  SipAlreadyOffHook,
  /** API return value: the phone line is already on hook. */
  SipAlreadyOnHook,
  /** API return value and PHONE_LINE notification: an internal worker could not be created. */
  SipThreadCreationError,
  /** API return value: the requested audio bandwidth or format is not supported. */
  SipBandwidthError,
  /** API return value and PHONE_LINE notification: memory could not be allocated. */
  SipMemoryError,
  /** API return value: the event log server list or port list is malformed. */
  SipEventLogServerParameterError,
  /** API return value: the directory given does not exist. */
  SipDirectoryDoesNotExist,
  /** API return value: the RTP port range is invalid. */
  SipStartRtpPortError,
  /** API return value: the RTP port range overlaps the SIP port. */
  SipRtpAndSipPortOverlapError,
  /** API return value: the phone name is empty or not a valid SIP user name. */
  SipBadPhoneName,
  /** API return value: the display name is invalid. */
  SipBadDisplayName,
  /** API return value: a parameter is missing or invalid. */
  SipBadParameter,
  /** API return value: the number of phone lines requested is not allowed. */
  SipBadNumberOfPhoneLines,
  /** API return value: the audio output device could not be opened. */
  SipAudioOutFailure,
  /** API return value: the audio input device could not be opened. */
  SipAudioInFailure,
  /** API return value: the RTP receiver could not be signalled. */
  SipRtpReceiverEventError,
  /** API return value: the RTP receiver could not be started. */
  SipRtpReceiverThreadStartFailure,
  /** API return value: the playback mixer could not be started. */
  SipPlaybackMixerThreadStartError,
  /** API return value: the call worker did not signal that it started. */
  SipCallThreadStartEventFailure,
  /** API return value: the call worker could not be started. */
  SipCallThreadStartFailure,
  /** API return value: an internal event object could not be created. */
  SipEventError,
  /** API return value: the UDP transmit buffer size could not be set. */
  SipUdpTxBufferSizeError,
  /** API return value: the UDP receive buffer size could not be set. */
  SipUdpRxBufferSizeError,
  /** API return value: the SIP socket could not be opened. */
  SipSocketOpenError,
  /** API return value: the SIP socket could not be bound (port in use?). */
  SipSocketBindError,
  /** API return value: the engine instance is not valid. */
  SipInvalidInstance,
  /** API return value: the procedure may not be called now (e.g. from inside the event callback). */
  SipApiProcNotAllowed,
  /** API return value: the network layer could not be initialized. */
  SipNetworkInitializeError,
  /** API return value: the operation needs a proxy, but none is enabled. */
  SipProxyNotEnabled,
  /** PHONE_LINE notification: an RTP socket could not be opened for the call. */
  SipRtpSocketOpenError,
  /** PHONE_LINE notification: an RTP socket could not be bound for the call. */
  SipRtpSocketBindError,
  /** GLOBAL notification: SIP messages arrived faster than they could be processed. */
  SipSessionReceiveOverrun,
  /** GLOBAL notification: a received SIP message was larger than the receive buffer. */
  SipReceiveBufferTooSmall,
  /** PHONE_LINE notification: a received RTP packet was larger than the receive buffer. */
  SipRtpReceiveBufferTooSmall,
  /** PHONE_LINE notification: the media path of the call could not be started. */
  SipRtpFatalStartError,
  /** PHONE_LINE notification: a call worker did not stop in time. */
  SipCallThreadTerminateTimeout,

  // ---- engine life cycle ---------------------------------------------------------------------
  /** API return value: the engine has not been started with startSipTelephony. */
  SipMediaEngineNotInitialized,
  /** API return value: the engine is already started. */
  SipMediaEngineAlreadyInitialized,
  /** API return value: the engine failed to initialize. */
  SipInitializeError,

  // ---- phone line states and errors ----------------------------------------------------------
  /** PHONE_LINE notification: the phone line has been initialized and is ready. */
  SipLineInitialized,
  /** GLOBAL notification: a call arrived but every phone line is in use. */
  SipLineCapacityReached,
  /** API return value and PHONE_LINE notification: the outgoing call could not be started. */
  SipCallStartFailed,
  /** PHONE_LINE notification: the INVITE could not be transmitted. */
  SipInviteSendFailed,
  /** PHONE_LINE notification: the ACK for the INVITE could not be transmitted. */
  SipInviteAckSendFailed,
  /** PHONE_LINE notification: the call was canceled before it was answered. */
  SipCallCanceled,
  /** API return value and PHONE_LINE notification: the far end is busy (486/600). */
  SipFarEndIsBusy,
  /** API return value and PHONE_LINE notification: the far end answered with an error response. */
  SipFarEndError,
  /** PHONE_LINE notification: the far end did not answer in time. */
  SipAnswerTimeout,
  /** API return value: there is no active call on the phone line. */
  SipNoCallActive,
  /** API return value: the call is not on hold. */
  SipCallNotOnHold,
  /** API return value: the operation is not allowed while the line is conferenced. */
  SipConferenceActive,
  /** API return value: the SIP domain is invalid. */
  SipDomainError,
  /** API return value: the user name is invalid. */
  SipBadUserName,
  /** API return value: the call may not be transferred now (LanScape's spelling kept). */
  SipTransfrerNotAllowed,
  /** API return value: a proxy is configured but no SIP domain was set with enableSipDomain. */
  SipDomainNameNotDefined,

  // ---- hook states ---------------------------------------------------------------------------
  /** PHONE_LINE notification: the phone line went off hook. */
  SipOffHook,
  /** PHONE_LINE notification: the phone line went on hook (idle). */
  SipOnHook,

  // ---- outgoing calls ------------------------------------------------------------------------
  /** API return value: the SIP URI is malformed. */
  SipBadSipUri,
  /** API return value: the outgoing call is in a state that does not allow the operation. */
  SipOutgoingCallStateError,
  /** IMMEDIATE notification: an outgoing call is being set up; call data may be attached. */
  SipOutgoingCallInitializing,
  /** IMMEDIATE notification: an outgoing transfer is being set up; call data may be attached. */
  SipOutgoingTransferInitializing,
  /** PHONE_LINE notification: an outgoing call has started. */
  SipOutgoingCallStart,
  /** PHONE_LINE notification: dial tone on the phone line. */
  SipDialTone,
  /** PHONE_LINE notification: the call is being dialed. */
  SipDialing,
  /** PHONE_LINE notification: the INVITE is being sent. */
  SipSendInvite,
  /** PHONE_LINE notification: local ring-back for the outgoing call started. */
  SipStartOutgoingRing,
  /** PHONE_LINE notification: a provisional (1xx) response was received. */
  SipReceivedProvisionalResponse,
  /** PHONE_LINE notification: 100 Trying was received. */
  SipReceived100Trying,
  /** PHONE_LINE notification: 180 Ringing was received. */
  SipReceived180Ringing,
  /** PHONE_LINE notification: 181 Call Is Being Forwarded was received. */
  SipReceived181CallBeingForwarded,
  /** PHONE_LINE notification: 182 Queued was received. */
  SipReceived182Queued,
  /** PHONE_LINE notification: 183 Session Progress was received. */
  SipReceived183SessionProgress,
  /** PHONE_LINE notification: an unknown 1xx response was received. */
  SipReceivedUnsupportedProvisionalResponse,
  /** PHONE_LINE notification: waiting for the final answer to the INVITE. */
  SipWaitForInviteOk,
  /** PHONE_LINE notification: 200 OK for the INVITE was received. */
  SipInviteOkReceived,
  /** PHONE_LINE notification: the ACK for the 200 OK is being sent. */
  SipSendInviteAck,
  /** PHONE_LINE notification: the outgoing call is connected. */
  SipOutgoingCallConnected,

  // ---- incoming calls ------------------------------------------------------------------------
  /** PHONE_LINE notification: an incoming call started on the phone line. */
  SipIncomingCallStart,
  /** IMMEDIATE notification: choose the phone line for an incoming call, or reject it. */
  SipIncomingCallAssignPhoneLine,
  /** IMMEDIATE notification: an incoming INVITE arrived; the application may reject it. */
  SipIncomingCallInitialized,
  /** IMMEDIATE notification: the far end asked this line to transfer (REFER) the call. */
  SipTransferExecuting,
  /** PHONE_LINE notification: the incoming call is ringing. */
  SipStartIncomingRing,
  /** PHONE_LINE notification: 100 Trying is being sent. */
  SipSendTrying,
  /** PHONE_LINE notification: 180 Ringing is being sent. */
  SipSendRinging,
  /** PHONE_LINE notification: 183 Session Progress is being sent. */
  SipSendSessionProgress,
  /** PHONE_LINE notification: the incoming call may now be answered with goOffHook. */
  SipOkToAnswerCall,
  /** PHONE_LINE notification: 200 OK is being sent for the incoming call. */
  SipSend200Ok,
  /** PHONE_LINE notification: the ACK for our 200 OK never arrived. */
  SipInviteAckNotReceived,
  /** PHONE_LINE notification: the ACK for our 200 OK arrived. */
  SipReceivedInviteAck,
  /** PHONE_LINE notification: the incoming call is being answered. */
  SipAnsweringCall,
  /** PHONE_LINE notification: the incoming call is connected. */
  SipIncomingCallConnected,
  /** PHONE_LINE notification: the incoming call was aborted before it connected. */
  SipIncomingCallAborted,

  // ---- call control states -------------------------------------------------------------------
  /** PHONE_LINE notification: the phone line is in a call. */
  SipInCall,
  /** PHONE_LINE notification: the call is on hold. */
  SipCallHold,
  /** PHONE_LINE notification: the phone line is busied out. */
  SipBusyOut,
  /** PHONE_LINE notification: the phone line is in the conference. */
  SipInConference,
  /** API return value and PHONE_LINE notification: the far end put the call on hold. */
  SipFarEndHoldOn,
  /** PHONE_LINE notification: the far end took the call off hold. */
  SipFarEndHoldOff,
  /** PHONE_LINE notification: the call is being transferred. */
  SipTransferingCall,

  // ---- state transitions ---------------------------------------------------------------------
  /** PHONE_LINE notification: local hold switched on. */
  SipCallHoldOn,
  /** PHONE_LINE notification: local hold switched off. */
  SipCallHoldOff,
  /** PHONE_LINE notification: the line is being busied out. */
  SipBusyOutOn,
  /** PHONE_LINE notification: the line is back in service. */
  SipBusyOutOff,
  /** PHONE_LINE notification: the line joined the conference. */
  SipInConferenceOn,
  /** PHONE_LINE notification: the line left the conference. */
  SipInConferenceOff,

  // ---- BYE transactions ----------------------------------------------------------------------
  /** PHONE_LINE notification: the far end hung up (BYE received). */
  SipByeReceived,
  /** PHONE_LINE notification: the 200 OK for a received BYE is being sent. */
  SipSendByeAck,
  /** PHONE_LINE notification: a BYE is being sent. */
  SipSendBye,
  /** PHONE_LINE notification: the far end acknowledged our BYE. */
  SipReceivedByeAck,
  /** PHONE_LINE notification: the far end answered our BYE with an error. */
  SipReceivedByeErrorAck,
  /** PHONE_LINE notification: our BYE was never answered. */
  SipByeAckNotReceived,
  /**
   * PHONE_LINE notification: the call is over and the line is free. `data.reason` names why;
   * `data.quality` (a CallQuality: MOS, R-factor, loss, jitter, RTT) is the call's final figure
   * when it received RTP.
   */
  SipCallComplete,

  // ---- IVR and audio out ---------------------------------------------------------------------
  /** API return value: the IVR channel is invalid. */
  SipIvrBadChannel,
  /** API return value: an IVR channel is already open on the line. */
  SipIvrAlreadyOpened,
  /** API return value: the IVR transmit queue is full. */
  SipIvrTransmitterFull,
  /** API return value: the audio output channel is already open. */
  SipAudioOutAlreadyOpened,
  /** API return value: the audio output line is invalid. */
  SipBadAudioOutLine,
  /** API return value: no audio output type was given. */
  SipNoAudioOutType,
  /** API return value: the audio output queue is full. */
  SipAudioOutputFull,
  /**
   * API return value, and PHONE_LINE notification when a WAV file accepted by `playWaveFile`
   * cannot be played after all (`data: { path, reason }`).
   */
  SipBadAudioDataType,

  // ---- engine status (global) ----------------------------------------------------------------
  /** GLOBAL notification: the engine is started and ready. */
  SipCallEngineReady,
  /** GLOBAL notification: the engine has stopped. */
  SipCallEngineTerminated,

  // ---- registration ----------------------------------------------------------------------------
  /** IMMEDIATE notification: a REGISTER was received; set `acceptRegistration` to accept it. */
  SipRegisterReceived,
  /** GLOBAL notification: a registration cycle started. */
  SipRegisterTrying,
  /** GLOBAL notification: the registrar accepted the registration. */
  SipRegisterSuccess,
  /** API return value and GLOBAL notification: the registration interval is 0 or refused (423). */
  SipRegisterIntervalError,
  /** API return value and GLOBAL notification: the registrar did not answer in time. */
  SipRegisterTimeOut,
  /** API return value and GLOBAL notification: the registrar rejected the credentials. */
  SipRegisterErrorBadCredentials,
  /** API return value: the number of per-line names does not match the number of lines. */
  SipRegisterBadNameList,
  /** API return value and GLOBAL notification: the registrar answered with another error. */
  SipRegisterError,

  // ---- SUBSCRIBE / NOTIFY --------------------------------------------------------------------
  /** API return value: the subscription already exists. */
  SipSubscriptionAlreadyExists,
  /** API return value: the NOTIFY was not answered in time. */
  SipEventNotifyResponseTimeOut,
  /** API return value: the NOTIFY was rejected by the far end. */
  SipEventNotifyNotAccepted,
  /** IMMEDIATE notification: the subscription could not allocate memory. */
  SipSubscriptionMemoryError,
  /** IMMEDIATE notification: a SUBSCRIBE is being sent. */
  SipSubscriptionTrying,
  /** IMMEDIATE notification: the SUBSCRIBE was not answered in time. */
  SipSubscriptionTimeOut,
  /** IMMEDIATE notification: the SUBSCRIBE was rejected. */
  SipSubscriptionNotAccepted,
  /** IMMEDIATE notification: the SUBSCRIBE was challenged and could not be authenticated. */
  SipSubscriptionRequiresAuthentication,
  /** IMMEDIATE notification: the SUBSCRIBE was accepted. */
  SipSubscriptionSuccess,
  /** IMMEDIATE notification: a far end subscribed to one of our events. */
  SipSubscriptionReceived,
  /** IMMEDIATE notification: a NOTIFY arrived (subscribed or unsolicited). */
  SipEventNotifyReceived,

  // ---- NAT / WAN address -----------------------------------------------------------------------
  /** GLOBAL notification: the public (WAN) address changed, e.g. learnt from received/rport. */
  SipWanIpAddressChange,
  /** GLOBAL notification: the WAN address configuration is invalid. */
  SipWanIpAddressConfigError,
  /** GLOBAL notification: router port translation failed. */
  SipPortTranslationError,

  // ---- network errors --------------------------------------------------------------------------
  /** API return value and GLOBAL notification: a REGISTER could not be sent. */
  SipRegisterNetworkError,
  /** API return value and PHONE_LINE notification: a call message could not be sent. */
  SipCallNetworkError,
  /** IMMEDIATE notification: a SUBSCRIBE could not be sent. */
  SipSubscriptionNetworkError,
  /** API return value: a NOTIFY could not be sent. */
  SipNotifyNetworkError,
  /** API return value and GLOBAL notification: a datagram was only partly sent. */
  SipNetworkTransmitNotAllBytesSent,
  /** API return value and GLOBAL notification: the socket would block. */
  SipNetworkTransmitWouldBlock,
  /** API return value and GLOBAL notification: the socket failed fatally while sending. */
  SipNetworkTransmitFatalError,

  // ---- authentication --------------------------------------------------------------------------
  /** IMMEDIATE notification: decide whether to challenge an incoming request, or verify its answer. */
  SipIncomingAuthentication,
  /** API return value and GLOBAL notification: registration failed authentication. */
  SipRegisterAuthorizationError,
  /** PHONE_LINE notification: the call was challenged (digest) and no credentials matched. */
  SipOutgoingCallDigestAuthenticationRequired,
  /** PHONE_LINE notification: the call was challenged with Basic, which SIP forbids. */
  SipOutgoingCallBasicAuthenticationRequired,
  /** PHONE_LINE notification: the call was challenged with an unsupported scheme or algorithm. */
  SipOutgoingCallUnsupportedAuthentication,
  /** PHONE_LINE notification: the challenge answer could not be computed. */
  SipComputeAuthenticationCredentialsFailed,

  // ---- SIP message inspection ----------------------------------------------------------------
  /** IMMEDIATE notification: a SIP message is about to be sent or processed and may be rewritten or dropped. */
  SipModifySipMessage,
  /** IMMEDIATE notification: a received SIP message could not be parsed and was dropped. */
  SipReceivedSipMessageParseError,

  // ---- call recording ------------------------------------------------------------------------
  /** API return value: phone line recording was not enabled at start. */
  SipCallRecordNotEnabled,
  /** API return value: recording is already running on the line. */
  SipCallRecordAlreadyStarted,
  /** API return value: recording is already stopped on the line. */
  SipCallRecordAlreadyStopped,
  /** API return value and PHONE_LINE notification: the recording file name could not be created. */
  SipCallRecordFilenameNotCreated,
  /** API return value and PHONE_LINE notification: the recording file could not be created. */
  SipCallRecordSampleFileNotCreated,
  /** PHONE_LINE notification: writing the recording file failed. */
  SipCallRecordFileWriteError,
  /** PHONE_LINE notification: recording started. */
  SipCallRecordActive,
  /** PHONE_LINE notification: recording finished; data carries the file path. */
  SipCallRecordComplete,

  // ---- RTP media -----------------------------------------------------------------------------
  /** PHONE_LINE notification: RTP arrived from an unexpected source or SSRC. */
  SipReceivedRtpMediaConflict,

  /** Not used; a placeholder kept for LanScape compatibility. */
  SipUndefined,
  /** PHONE_LINE notification: the call was redirected (302 Moved Temporarily). */
  SipReceived302MovedTemporarily,

  // ---- LanScape 6.0 additions ----------------------------------------------------------------
  /** IMMEDIATE notification: a DTMF digit was detected (RFC 4733, in-band or SIP INFO). */
  SipDtmfDigitEvent,
  /** IMMEDIATE notification: incoming DTMF digits were lost because the queue overflowed. */
  SipPhoneLineIncomingDtmfEventOverflow,
  /** API return value: the DTMF tone duration is out of range. */
  SipInvalidDtmfToneDuration,
  /** API return value: the DTMF tone is not a valid digit. */
  SipInvalidDtmfTone,
  /** GLOBAL notification: an unregister (Expires: 0) cycle started. */
  SipUnRegisterTrying,
  /** GLOBAL notification: the registrar accepted the unregister. */
  SipUnRegisterSuccess,
  /** GLOBAL notification: the registrar did not answer the unregister in time. */
  SipUnRegistrationTimeOut,
  /** GLOBAL notification: the unregister failed authentication. */
  SipUnRegisterAuthorizationError,
  /** GLOBAL notification: the registrar rejected the credentials on unregister. */
  SipUnRegisterErrorBadCredentials,
  /** GLOBAL notification: the unregister could not be sent. */
  SipUnRegisterNetworkError,
  /** GLOBAL notification: the registrar answered the unregister with another error. */
  SipUnRegisterError,
  /** PHONE_LINE notification: router port translation failed for the call. */
  SipRouterPortTranslationError,

  // ---- PortSIP transfer events ---------------------------------------------------------------
  /** PHONE_LINE notification: a REFER arrived; answer with acceptRefer or rejectRefer. */
  SipReceivedRefer,
  /** PHONE_LINE notification: the far end accepted our REFER. */
  SipReferAccepted,
  /** PHONE_LINE notification: the far end rejected our REFER. */
  SipReferRejected,
  /** PHONE_LINE notification: the transferred call is being tried (NOTIFY 100). */
  SipTransferTrying,
  /** PHONE_LINE notification: the transferred call is ringing (NOTIFY 180). */
  SipTransferRinging,
  /** PHONE_LINE notification: the transfer target answered (NOTIFY 200). */
  SipActvTransferSuccess,
  /** PHONE_LINE notification: the transfer target failed or rejected the call. */
  SipActvTransferFailure,

  // ---- PortSIP presence and messaging events -------------------------------------------------
  /** GLOBAL notification: a contact subscribed to our presence. */
  SipPresenceRecvSubscribe,
  /** GLOBAL notification: a contact is online or changed its status. */
  SipPresenceOnline,
  /** GLOBAL notification: a contact went offline. */
  SipPresenceOffline,
  /** PHONE_LINE notification: an in-dialog MESSAGE arrived. */
  SipRecvMessage,
  /** GLOBAL notification: an out-of-dialog MESSAGE arrived. */
  SipRecvOutOfDialogMessage,
  /** PHONE_LINE notification: our in-dialog MESSAGE was accepted. */
  SipSendMessageSuccess,
  /** PHONE_LINE notification: our in-dialog MESSAGE failed. */
  SipSendMessageFailure,
  /** GLOBAL notification: our out-of-dialog MESSAGE was accepted. */
  SipSendOutOfDialogMessageSuccess,
  /** GLOBAL notification: our out-of-dialog MESSAGE failed. */
  SipSendOutOfDialogMessageFailure,

  // ---- LineScape additions ---------------------------------------------------------------------
  /** API return value: a native library needed by the feature (codec, audio device) is not installed. */
  SipNativeLibraryMissing,
  /** API return value: the feature is not available in this build or configuration. */
  SipFeatureNotAvailable,
  /** API return value: the operation needs an active registration, and there is none. */
  SipNotRegistered,
  /** API return value: the feature (e.g. metrics) is already enabled; disable it first. */
  SipAlreadyEnabled,
  /**
   * PHONE_LINE notification: no RTP or RTCP arrived on the connected call for the media time-out
   * (`mediaTimeoutSeconds`, `setMediaTimeout`); the engine hangs up with BYE, and the call's
   * SipCallComplete names this code as its reason.
   */
  SipMediaTimeout,
  /**
   * PHONE_LINE notification: the far end's early media started on an outgoing call (an 18x
   * carried a usable SDP answer, so its ringback or announcement is heard before the answer), or
   * moved to another early dialog of a forked call. Like PortSIP's `existsEarlyMedia` flag.
   */
  SipEarlyMedia,
  /**
   * PHONE_LINE notification: the session timer (RFC 4028, the `sessionTimer` start parameter)
   * ended the connected call: no refresh came before the session expired, or our refresh got
   * 408, 481 or no answer. The engine hangs up with BYE, and the call's SipCallComplete names
   * this code as its reason.
   */
  SipSessionExpired,
  /**
   * GLOBAL notification: the engine began refusing new requests with 503 and Retry-After
   * (event-loop lag, a full transaction table or notification queue, too many calls waiting
   * for an answer, no free RTP port); the data says why. A LineScape addition.
   */
  SipOverloadShedding,
  /** GLOBAL notification: the engine takes new requests again after shedding load; the data counts what was shed. */
  SipOverloadRecovered,
  /**
   * GLOBAL notification: a REFER arrived outside any dialog; `accepted` says whether the engine
   * took it (`acceptOutOfDialogRefer`, a free line) and placed the referred call on `newPhoneLine`.
   */
  SipReceivedOutOfDialogRefer,
  /**
   * GLOBAL notification: a source address or user name failed authentication too often in the
   * window and is blocked for a back-off period (engine/securityLimits.ts).
   */
  SipAuthenticationBlocked,
  /**
   * GLOBAL notification: a TLS connection failed in its handshake, ours to a server or a
   * client's to our listener; `reason` says why (unknown CA, host name mismatch, handshake
   * time-out ...). The request that needed the connection fails on its own path too.
   */
  SipTlsError,
  /**
   * API return value: a `sips:` target or registrar (RFC 5630) needs TLS on the hop the engine
   * sends it over, and the engine has no TLS (no `tls` settings, `sipTransport` not TLS) or the
   * proxy it would go through is not reached over TLS. Nothing was sent.
   */
  SipSecureTransportRequired,
  /**
   * PHONE_LINE notification: a WAV file given to `playWaveFile` without `loop` played to its
   * end (data: its path). Not raised when `stopWaveFile`, another `playWaveFile` or the call's
   * end cut it short, so an application can chain prompts on it. A LineScape addition.
   */
  SipWaveFileComplete,
  /**
   * PHONE_LINE notification: the media worker (`mediaWorkers`) carrying this call's media died
   * (crashed or was terminated); the call cannot go on and the engine ends it (BYE, CANCEL or a
   * refusal, as for a hang-up), and a fresh worker takes new calls. A LineScape addition.
   */
  SipMediaWorkerLost,
}
