/**
 * The `VoipMediaEngine` facade: LanScape's procedures with LanScape's parameter order, defaults
 * and return codes. It holds what outlives a run (engine/engineState.ts) and, while started, the
 * running engine (engine/runningEngine.ts). Each procedure is its signature, TSDoc, the
 * `@procedure` guard and one line routing to its body (engine/*Procedures.ts or the feature's
 * module): thin methods rather than declaration merging, so the declaration file, TypeDoc and
 * the guard test see every procedure as a documented member of this class.
 * @module
 */
import type { Readable, Writable } from 'node:stream';
import type { OpusSettings } from '../media/opus.js';
import type { SrtpPolicy } from '../sip/sdes.js';
import type { RecordCallback } from '../media/callRecorder.js';
import type { CallDialogInfo } from '../lines/transfer.js';
import type { RawRtpData } from '../lines/lineMedia.js';
import { EngineAudio, type AudioDeviceListResult, type LocalAudioStatisticsResult, type VuMeterCallback } from './audio.js';
import type { IncomingAuthenticationData } from './challenge.js';
import { EngineState, type EngineOptions } from './engineState.js';
import type { EventSubscriptionResult } from './eventSubscriptions.js';
import { closeRxIvrChannel, closeTxIvrChannel } from './lineMediaProcedures.js';
import type { SendMessageResult } from './messaging.js';
import type { MetricsOptions } from './metrics.js';
import type { EngineEventMap } from './notifications.js';
import type { PresenceSubscriptionsResult, PresenceWatchersResult, PresencePublicationResult } from './presence.js';
import { procedureGuard } from './procedure.js';
import {
  versionInfo, resultOnly, noPhoneLines, noActiveCalls, idleLineStatus, noRecordedStates, noRegistrations, noBindings, noMessage,
  noDevices, noPresenceSubscriptions, noWatchers, noPublication, noSubscriptionHandle,
  type ActiveCallInfo, type CallQualityResult, type EnableMetricsResult, type IncomingCallInfoResult, type IvrChannelResult,
  type LineStatusResult, type MediaClockStatisticsResult, type MetricsRegistryResult, type NumActiveCallsResult,
  type NumPhoneLinesResult, type OutgoingCallErrorInfoResult, type OutgoingCallInfoResult, type RecordedCallStatesResult,
  type RegistrarBindingsResult, type RegistrationStatusResult, type TxIvrChannelOptions, type VersionInfo,
} from './results.js';
import { TelephonyReturnValue as T } from './returnCodes.js';
import { RunningEngine } from './runningEngine.js';
import { setRegistrationRetryTime } from './serverProcedures.js';
import { resolveStartParams } from './startParams.js';
import { TypedEventEmitter } from './typedEmitter.js';
import { CallHoldType, DtmfMethod, type MediaFormatAudio, type StartSipTelephonyParams } from './types.js';

export type { EngineOptions, RealtimeSeatsOptions } from './engineState.js';
export { MAX_REGISTRATION_WORKERS } from './serverProcedures.js';
export { LINESCAPE_VERSION } from './results.js';
export type {
  ActiveCallInfo, CallQualityResult, EnableMetricsResult, IncomingCallInfoResult, IvrChannelResult, LineStatusResult,
  MediaClockStatisticsResult, MetricsRegistryResult, NumActiveCallsResult, NumPhoneLinesResult, OutgoingCallErrorInfoResult,
  OutgoingCallInfoResult, RecordedCallStatesResult, RegistrarBindingsResult, RegistrationStatusResult, TxIvrChannelOptions, VersionInfo,
} from './results.js';

/** The guard of every public procedure (engine/procedure.ts); "started" is holding a running engine. */
const { procedure, isEngine } = procedureGuard<VoipMediaEngine>({
  started: (e) => e['run'] !== undefined,
  error: (e, err) => e['state'].internalError(err, 'a procedure threw'),
});

/**
 * A multi-line SIP media engine. Create one per application, call
 * {@link VoipMediaEngine.startSipTelephony}, configure servers and registration, then place
 * and answer calls on its phone lines. No procedure throws: each returns a
 * {@link TelephonyReturnValue}. Notifications arrive through the `userNotifyCallbackProc`
 * start parameter, the `notification` event, and an event named after each code; each
 * listener's `n.data` has that event's type ({@link NotificationDataMap}). Faults the engine
 * survives are logged (the `logger` option) and emitted as `error` when someone listens.
 *
 * @example
 * ```ts
 * const engine = new VoipMediaEngine();
 * await engine.startSipTelephony({ numPhoneLinesRequested: 4, sipPort: 5070 });
 * engine.on('SipRegisterSuccess', (n) => console.log('registered', n.data));
 * await engine.enableSipRegisterServer('100,101,102,103', true, false, '127.0.0.1', 5060, 60, 60, 4000, true);
 * ```
 */
export class VoipMediaEngine extends TypedEventEmitter<EngineEventMap> {
  /** What outlives a run: options, clock, credentials, notifications, logger, metrics. */
  private readonly state: EngineState;
  /** The running engine, between startSipTelephony and stopSipTelephony. */
  private run?: RunningEngine;
  /** A startSipTelephony is under way (a second one answers SipMediaEngineAlreadyInitialized). */
  private starting = false;

  /** @param options injected clock and registrar limits (not LanScape parameters) */
  constructor(options: EngineOptions = {}) {
    super();
    this.state = new EngineState(options, this, () => this.run);
  }

  /** The run, read only inside procedures the guard let through as started. */
  private get live(): RunningEngine {
    return this.run!;
  }

  /** Current RTP keep-alive setting (ms, 0 = off), read by media sessions. */
  get rtpKeepAliveMs(): number {
    return isEngine(this) ? (this.run?.keepAlive.rtpKeepAliveMs ?? 0) : 0;
  }

  // ---------------------------------------------------------------- start and stop
  /**
   * Starts the engine: validates the parameters, creates the phone lines, binds SIP on UDP and
   * TCP at `ipAddressOfThisHost:sipPort`.
   * @returns SipSuccess, SipBadParameter, SipMediaEngineAlreadyInitialized, SipCallFailure when the port cannot be bound, or SipThreadCreationError when a media worker could not start
   */
  @procedure({ async: true, started: false })
  async startSipTelephony(params: StartSipTelephonyParams = {}): Promise<T> {
    if (this.run || this.starting) return T.SipMediaEngineAlreadyInitialized;
    const p = resolveStartParams(params, this.state.options.sessionTimerFloorSeconds, this.state.options.mediaClock !== undefined);
    if (typeof p === 'number') return p;
    this.starting = true;
    const run = await RunningEngine.start(this.state, p).finally(() => (this.starting = false));
    if (typeof run === 'number') return run;
    this.run = run;
    return T.SipSuccess;
  }

  /**
   * Stops the engine: removes registrations (Expires: 0), stops keep-alives, closes every
   * socket and timer. Pending notifications are delivered before it resolves.
   */
  @procedure({ async: true })
  async stopSipTelephony(): Promise<T> {
    await this.live.stop(() => (this.run = undefined));
    return T.SipSuccess;
  }

  /** The SIP port the engine listens on (useful after starting with sipPort 0); 0 when stopped. */
  @procedure({ started: false, fail: () => 0 })
  getSipPort(): number { return this.run?.stack.localEndpoint('UDP').port ?? 0; }

  /**
   * Health of the media clock and what the wire sees (send lateness, spacing, gaps; with media
   * workers the floors' figures merged, each in `floors`): does the process keep up. LineScape's.
   */
  @procedure({ fail: resultOnly })
  getMediaClockStatistics(): MediaClockStatisticsResult { return { result: T.SipSuccess, ...this.live.mediaClockStats() }; }

  /** Product and version. */
  @procedure({ started: false, fail: versionInfo })
  getMediaEngineVersionInfo(): VersionInfo { return versionInfo(T.SipSuccess); }

  /**
   * Turns Prometheus metrics on (a LineScape addition; see engine/metrics.ts for the list). With
   * `port` (0 picks a free one) it serves `GET /metrics` on `host` (default 127.0.0.1); without,
   * it only builds the registry for `getMetricsRegistry`. prom-client is loaded only now. The
   * metrics outlive stopSipTelephony (a restart keeps the endpoint); disableMetrics ends them.
   * @returns SipBadParameter (bad port or host), SipAlreadyEnabled, SipSocketBindError (address
   * in use), SipFeatureNotAvailable (prom-client missing), or SipSuccess with the port
   */
  @procedure({ async: true, started: false, fail: resultOnly })
  enableMetrics(options: MetricsOptions = {}): Promise<EnableMetricsResult> { return this.state.metrics.enable(options); }

  /** Turns metrics off: closes the endpoint and drops the registry. SipNotEnabled when they were off. */
  @procedure({ async: true, started: false })
  disableMetrics(): Promise<T> { return this.state.metrics.disable(); }

  /** The engine's own prom-client Registry while metrics are on, to serve from the application's server. */
  @procedure({ started: false, fail: resultOnly })
  getMetricsRegistry(): MetricsRegistryResult { return this.state.metrics.registry(); }

  // ---------------------------------------------------------------- lines (engine/lineProcedures.ts)
  /** Number of phone lines the engine was started with. */
  @procedure({ fail: noPhoneLines })
  getNumPhoneLines(): NumPhoneLinesResult { return this.live.lineSettings.getNumPhoneLines(); }

  /** State, call direction and recording flag of a line. */
  @procedure({ fail: idleLineStatus })
  getLineStatus(phoneLine: number): LineStatusResult { return this.live.lineSettings.getLineStatus(phoneLine); }

  /**
   * Busies a line out (it takes no calls) or returns it to service, raising SipBusyOutOn /
   * SipBusyOutOff when it changes. Only an idle line can be busied out (SipCallFailure otherwise).
   */
  @procedure()
  busyOutLine(phoneLine: number, on: boolean): T { return this.live.lineSettings.busyOutLine(phoneLine, on); }

  /** Marks a line as outgoing-only: incoming calls never land on it. */
  @procedure()
  setOutgoingLineOnly(phoneLine: number, on: boolean): T { return this.live.lineSettings.setOutgoingLineOnly(phoneLine, on); }

  /** Sets the user part this line uses in From/Contact. */
  @procedure()
  setPhoneName(phoneLine: number, name: string): T { return this.live.lineSettings.setPhoneName(phoneLine, name); }

  /** Overrides the From header user of calls placed on this line. */
  @procedure()
  setFromHeaderUserName(phoneLine: number, name: string): T { return this.live.lineSettings.setFromHeaderUserName(phoneLine, name); }

  /** Spreads incoming calls over free lines at random (when names do not select a line). */
  @procedure()
  randomlyAssignIncomingCallsToPhoneLines(on: boolean): T { return this.live.lineSettings.randomlyAssignIncomingCallsToPhoneLines(on); }

  /**
   * The line an incoming call for `user` would ring now: the free line registered with that
   * name, else any free line (random when enabled); -1 when every candidate is busy (or when
   * called detached from an engine).
   */
  @procedure({ started: false, fail: () => -1 })
  lineForIncomingCall(user?: string): number { return this.run?.linePolicy.selectLineForIncoming(user)?.index ?? -1; }

  /** Turns recording of a line's state changes on or off. */
  @procedure()
  setCallStateRecording(phoneLine: number, on: boolean): T { return this.live.lineSettings.setCallStateRecording(phoneLine, on); }

  /** The recorded state changes of a line. */
  @procedure({ fail: noRecordedStates })
  getRecordedCallStates(phoneLine: number): RecordedCallStatesResult { return this.live.lineSettings.getRecordedCallStates(phoneLine); }

  /** Forgets a line's recorded state changes. */
  @procedure()
  clearRecordedCallStates(phoneLine: number): T { return this.live.lineSettings.clearRecordedCallStates(phoneLine); }

  // ---------------------------------------------------------------- servers, registration, keep-alive (engine/serverProcedures.ts)
  /** Uses a SIP proxy for calls (and for registration when asked). The address may be a name (port 0: found by DNS SRV). */
  @procedure({ async: true })
  enableSipProxyServer(address: string, port: number): Promise<T> { return this.live.servers.enableServer('proxy', address, port); }

  /** Stops using the SIP proxy. */
  @procedure()
  disableSipProxyServer(): T { return this.live.servers.disableServer('proxy'); }

  /**
   * Sends every request the engine originates to this outbound proxy (RFC 3261 §8.1.2), with a
   * loose-route `Route` header naming it (port 0 with a name: found by DNS SRV).
   */
  @procedure({ async: true })
  enableOutboundSipProxyServer(address: string, port: number): Promise<T> { return this.live.servers.enableServer('outboundProxy', address, port); }

  /** Stops using the outbound proxy. */
  @procedure()
  disableOutboundSipProxyServer(): T { return this.live.servers.disableServer('outboundProxy'); }

  /** Sets the SIP domain used in addresses-of-record and Request-URIs when a proxy is used. */
  @procedure()
  enableSipDomain(domain: string): T { return this.live.servers.enableSipDomain(domain); }

  /** Forgets the SIP domain. */
  @procedure()
  disableSipDomain(): T { return this.live.servers.disableSipDomain(); }

  /** Adds credentials used to answer digest challenges for `realm` (empty or '*' = any realm). */
  @procedure()
  addAuthorizationCredentials(userName: string, password: string, realm: string): T {
    return this.live.servers.addAuthorizationCredentials(userName, password, realm);
  }

  /** Removes credentials added with addAuthorizationCredentials. */
  @procedure()
  deleteAuthorizationCredentials(userName: string, realm?: string): T { return this.live.servers.deleteAuthorizationCredentials(userName, realm); }

  /**
   * Registers names with a registrar (LanScape's EnableSipRegisterServer, same parameters). Resolves once
   * the request is validated and the first cycle started; outcomes arrive as GLOBAL SipRegister* notifications.
   * @param namesToRegister comma separated names; each unique name is registered once
   * @param registerPhoneLines true: name i belongs to line i (count must equal the line count)
   * @param registerThroughProxy send REGISTER to the proxy set by enableSipProxyServer
   * @param registrationServerAddress registrar address or name
   * @param registrationServerPort registrar port (0 with a name: found by DNS NAPTR/SRV, RFC 3263)
   * @param registrationUpdateIntervalSeconds seconds between cycles (non-zero; smaller than expiry for keep-alive)
   * @param registrationExpireTimeSeconds expiry asked of the registrar (not smaller than the interval)
   * @param timeOutMs wait for the registrar's answer
   * @param registerNatAutoDetectEnabled detect NAT from Via received/rport
   */
  @procedure({ async: true })
  enableSipRegisterServer(
    namesToRegister: string,
    registerPhoneLines: boolean,
    registerThroughProxy: boolean,
    registrationServerAddress: string,
    registrationServerPort: number,
    registrationUpdateIntervalSeconds: number,
    registrationExpireTimeSeconds: number,
    timeOutMs: number,
    registerNatAutoDetectEnabled: boolean,
  ): Promise<T> {
    const { servers } = this.live;
    return servers.enableSipRegisterServer(namesToRegister, registerPhoneLines, registerThroughProxy, registrationServerAddress, registrationServerPort,
      registrationUpdateIntervalSeconds, registrationExpireTimeSeconds, timeOutMs, registerNatAutoDetectEnabled);
  }

  /** Removes every registration (REGISTER with Expires: 0) and stops the registration cycles. */
  @procedure({ async: true })
  disableSipRegisterServer(): Promise<T> { return this.live.servers.disableSipRegisterServer(); }

  /**
   * Starts a registration cycle now instead of waiting for the update interval: for every
   * name, or only for `name` (a LineScape addition; SipBadParameter when it is not registered).
   */
  @procedure()
  triggerRegistration(name?: string): T { return this.live.servers.triggerRegistration(name); }

  /** Milliseconds to wait after a registration error or time-out before trying again. */
  @procedure({ started: false })
  registrationErrorRetryTime(ms: number): T { return setRegistrationRetryTime(this.state, this.run, ms); }

  /** Where each registered name stands. */
  @procedure({ fail: noRegistrations })
  getRegistrationStatus(): RegistrationStatusResult { return this.live.servers.getRegistrationStatus(); }

  /**
   * Sets the public (WAN) address advertised in Contact and Via, as when the engine sits behind
   * a NAT; active registrations are refreshed with the new Contact.
   */
  @procedure()
  setWanIpAddress(ipAddress: string): T { return this.live.servers.setWanIpAddress(ipAddress); }

  /**
   * Sends keep-alive traffic to `host:port` every `keepAliveSeconds` (or stops it): a CRLF
   * datagram over UDP, or the RFC 5626 double CRLF over TCP or TLS (`protocol` 'TCP'/'TLS'). Keeps NAT
   * bindings open without the cost of a SIP transaction.
   */
  @procedure({ async: true })
  sendSipKeepAlive(host: string, port: number, enableState: boolean, keepAliveSeconds: number, protocol: 'UDP' | 'TCP' | 'TLS' = 'UDP'): Promise<T> {
    return this.live.servers.sendSipKeepAlive(host, port, enableState, keepAliveSeconds, protocol);
  }

  /**
   * LanScape's EnableKeepAliveTransmissions: with `keepAliveSip` the engine sends CRLF
   * keep-alives to its proxy, outbound proxy and registrar every `natSessionTimeMs`;
   * `keepAliveRtp` keeps idle RTP streams open the same way once calls carry media.
   */
  @procedure()
  enableKeepAliveTransmissions(keepAliveSip: boolean, keepAliveRtp: boolean, natSessionTimeMs: number): T {
    return this.live.servers.enableKeepAliveTransmissions(keepAliveSip, keepAliveRtp, natSessionTimeMs);
  }

  /** Bindings accepted in the registrar role. */
  @procedure({ fail: noBindings })
  getRegistrarBindings(): RegistrarBindingsResult { return { result: T.SipSuccess, bindings: this.live.registrar.bindings() }; }

  // ---------------------------------------------------------------- calls (engine/callProcedures.ts)
  /**
   * Places a call to `userOrNumber` at `destAddress:destSipPort` (LanScape's MakeCall), through the
   * proxy when enabled (to `userOrNumber@domain`). `phoneLine` -1 takes the first free line. With
   * `synchronous` it resolves when the call connects or fails (SipCallTimeOut after `timeOutMs`).
   * To this engine's own address, a user bound at its registrar role is called at the registered contact.
   */
  @procedure({ async: true })
  makeCall(userOrNumber: string, destAddress: string, destSipPort: number, phoneLine: number, synchronous: boolean, timeOutMs: number): Promise<T> {
    return this.live.calls.makeCall(userOrNumber, destAddress, destSipPort, phoneLine, synchronous, timeOutMs);
  }

  /** Places a call to a SIP URI (LanScape's MakeCallUri), to its host, or through the proxy when `useProxy`. */
  @procedure({ async: true })
  makeCallUri(sipUri: string, useProxy: boolean, phoneLine: number, synchronous: boolean, timeOutMs: number): Promise<T> {
    return this.live.calls.makeCallUri(sipUri, useProxy, phoneLine, synchronous, timeOutMs);
  }

  /** Ends a line's call (CANCEL, 480 or BYE); with `synchronous` it waits up to `timeOutMs` for the far end. */
  @procedure({ async: true })
  terminateCall(phoneLine: number, synchronous: boolean, timeOutMs: number): Promise<T> {
    return this.live.calls.terminateCall(phoneLine, synchronous, timeOutMs);
  }

  /** Answers the call ringing on a line (LanScape's GoOffHook). */
  @procedure()
  goOffHook(phoneLine: number): T { return this.live.calls.goOffHook(phoneLine); }

  /**
   * Early media (PortSIP's sendCallProgress): answers the call ringing on a line with 183 Session
   * Progress and our SDP, and starts its media so that playWaveFile, an IVR Tx channel or a tone
   * reach the caller before (or instead of) goOffHook. SipFeatureNotAvailable for an INVITE without SDP.
   */
  @procedure()
  sendCallProgress(phoneLine: number): T { return this.live.calls.sendCallProgress(phoneLine); }

  /** Refuses the call ringing on a line with a SIP status (400..699) and reason phrase. */
  @procedure()
  abortIncomingCall(phoneLine: number, sipStatusCode: number, reasonPhrase: string): T {
    return this.live.calls.abortIncomingCall(phoneLine, sipStatusCode, reasonPhrase);
  }

  /** Holds (re-INVITE, or UPDATE per holdMethod; sendonly or c=0.0.0.0 per setCallHoldType) or resumes the far end; SipCallHoldOn / Off follow. */
  @procedure({ async: true })
  holdLine(phoneLine: number, on: boolean): Promise<T> { return this.live.calls.holdLine(phoneLine, on); }

  /** How hold is signalled in SDP for later holdLine calls. */
  @procedure()
  setCallHoldType(type: CallHoldType): T { return this.live.calls.setCallHoldType(type); }

  /** Seconds an incoming call may ring before it is dropped (LanScape default 60). */
  @procedure()
  setCallAnswerTimeout(seconds: number): T { return this.live.calls.setCallAnswerTimeout(seconds); }

  /**
   * Seconds a connected call may receive no RTP/RTCP before a BYE and SipMediaTimeout (start
   * parameter `mediaTimeoutSeconds`, default 60; 0 = off). Applies at once; held calls excepted.
   */
  @procedure()
  setMediaTimeout(seconds: number): T { return this.live.calls.setMediaTimeout(seconds); }

  /** Number of lines with a call in progress. */
  @procedure({ fail: noActiveCalls })
  getNumActiveCalls(): NumActiveCallsResult { return this.live.calls.getNumActiveCalls(); }

  /**
   * Sends DTMF digits (`0-9*#A-D`) on a connected call: RFC 4733 events (default; in-band when
   * the far end did not negotiate telephone-event), in-band tones, or SIP INFO.
   */
  @procedure()
  sendDtmf(phoneLine: number, digits: string, method: DtmfMethod = DtmfMethod.Rfc4733): T {
    return this.live.calls.sendDtmf(phoneLine, digits, method);
  }

  /** Details of the incoming call on a line. */
  @procedure({ fail: resultOnly })
  getIncomingCallInfo(phoneLine: number): IncomingCallInfoResult { return this.live.calls.getIncomingCallInfo(phoneLine); }

  /** Details of the outgoing call on a line. */
  @procedure({ fail: resultOnly })
  getOutgoingCallInfo(phoneLine: number): OutgoingCallInfoResult { return this.live.calls.getOutgoingCallInfo(phoneLine); }

  /** Why the last outgoing call on a line failed (kept after the call ends), LanScape's SIP_OUTGOING_CALL_ERROR_INFO. */
  @procedure({ fail: resultOnly })
  getOutgoingCallErrorInfo(phoneLine: number): OutgoingCallErrorInfoResult { return this.live.calls.getOutgoingCallErrorInfo(phoneLine); }

  /** State, media and statistics of the call on a line. */
  @procedure({ fail: resultOnly })
  getActiveCallInfo(phoneLine: number): ActiveCallInfo { return this.live.calls.getActiveCallInfo(phoneLine); }

  /**
   * The quality of the call on a line so far: ITU-T G.107 E-model R-factor and MOS from the
   * received RTP's loss, late discards and jitter, the RTCP round-trip time and the jitter
   * buffer's delay (see media/quality.ts for the model and the codec values). A LineScape
   * addition; SIP_CALL_COMPLETE carries the final figure as `data.quality`.
   * @returns SipSuccess with `quality`, or SipNoCallActive (also before any RTP arrived)
   */
  @procedure({ fail: resultOnly })
  getCallQuality(phoneLine: number): CallQualityResult { return this.live.calls.getCallQuality(phoneLine); }

  // ---------------------------------------------------------------- media of a line (engine/lineMediaProcedures.ts)
  /** Audio formats a line offers and accepts, in preference order (used from its next call on). */
  @procedure()
  setAudioMediaFormats(phoneLine: number, formats: MediaFormatAudio[]): T { return this.live.lineMedia.setAudioMediaFormats(phoneLine, formats); }

  /** Receive and transmit volume of a line, 0..2048 (512 = 100 %); clipping saturates. */
  @procedure()
  setPhoneLineVolume(phoneLine: number, rxVolume: number, txVolume: number): T { return this.live.lineMedia.setPhoneLineVolume(phoneLine, rxVolume, txVolume); }

  /** Sends the audio received on a line back to the far end (a line test). */
  @procedure()
  setPhoneLineLoopBack(phoneLine: number, on: boolean): T { return this.live.lineMedia.setPhoneLineLoopBack(phoneLine, on); }

  /** Target delay of a line's jitter buffer in ms (20..1000; it adapts around it). */
  @procedure()
  setJitterTimeMs(phoneLine: number, ms: number): T { return this.live.lineMedia.setJitterTimeMs(phoneLine, ms); }

  /**
   * The `a=ptime` (10, 20, 30, 40 or 60 ms; default `packetTimeMs`) a line offers from its next call,
   * and answers with when the offer states none. @returns SipSuccess, SipBadParameter, SipBadPhoneLine.
   */
  @procedure()
  setPacketTime(phoneLine: number, ms: number): T { return this.live.lineMedia.setPacketTime(phoneLine, ms); }

  /** SRTP policy of a line from its next call: `none`, `optional` or `mandatory` (start param `srtpPolicy`; docs/security.md). */
  @procedure()
  setSrtpPolicy(phoneLine: number, policy: SrtpPolicy): T { return this.live.lineMedia.setSrtpPolicy(phoneLine, policy); }

  /** A line's Opus settings (docs/opus.md; left-out fields keep their value), at once and in its next `a=fmtp`. @returns SipSuccess, SipBadParameter (nothing changes), SipBadPhoneLine, SipInvalidHandle. */
  @procedure()
  setOpusSettings(phoneLine: number, settings: OpusSettings): T { return this.live.lineMedia.setOpusSettings(phoneLine, settings); }

  /**
   * Silence suppression on send (default off; start option `silenceSuppression`), also mid-call: CN in
   * the SDP, RFC 3389 CN in silence, Opus DTX, G.729 Annex B (README "Comfort noise").
   */
  @procedure()
  setSilenceSuppression(phoneLine: number, enable: boolean): T { return this.live.lineMedia.setSilenceSuppression(phoneLine, enable); }

  /** Turns a line's jitter buffer on or off (off: play packets as they come). */
  @procedure()
  setEnableJitter(phoneLine: number, on: boolean): T { return this.live.lineMedia.setEnableJitter(phoneLine, on); }

  /** Every RTP packet of a line, both ways, to `callback` (`processRtpPacket = false` drops it); allocates per packet. */
  @procedure()
  enableRawRtpPacketAccess(phoneLine: number, on: boolean, callback?: (data: RawRtpData) => void): T {
    return this.live.lineMedia.enableRawRtpPacketAccess(phoneLine, on, callback);
  }

  /**
   * Plays a WAV file (8/16/44.1/48 kHz, mono or stereo, PCM or float) to the far end of a line,
   * once or looping. The header is checked before this returns, so a bad file gives its code at
   * once (SipBadParameter for a missing or unreadable file, SipBadAudioDataType for a bad format
   * or an empty file); the samples are then read and converted without blocking, once, and play
   * from memory. A file that fails after that (its header lied, it vanished) raises the line
   * notification SipBadAudioDataType with `data: { path, reason }`.
   */
  @procedure()
  playWaveFile(phoneLine: number, path: string, loop: boolean): T { return this.live.lineMedia.playWaveFile(phoneLine, path, loop); }

  /** Stops a WAV file playing on a line. */
  @procedure()
  stopWaveFile(phoneLine: number): T { return this.live.lineMedia.stopWaveFile(phoneLine); }

  /**
   * Opens a stream of the audio received on a line: 16-bit little-endian mono PCM at
   * `sampleRate` (8000, 16000 or 48000), one 20 ms chunk per chunk.
   */
  @procedure({ fail: resultOnly })
  openRxIvrChannel(phoneLine: number, options: { sampleRate?: number } = {}): IvrChannelResult<Readable> {
    return this.live.lineMedia.openRxIvrChannel(phoneLine, options);
  }

  /**
   * Opens a stream the application writes 16-bit little-endian mono PCM into, at `sampleRate`
   * (8000, 16000 or 48000): it is sent to the far end of the line. LanScape distinguishes
   * in-call and on-hold data: a channel opened with `onHold: true` plays only while we hold the
   * call (music on hold), an ordinary one only while we do not (it pauses during hold).
   */
  @procedure({ fail: resultOnly })
  openTxIvrChannel(phoneLine: number, options: TxIvrChannelOptions = {}): IvrChannelResult<Writable> {
    return this.live.lineMedia.openTxIvrChannel(phoneLine, options);
  }

  /** Closes a receive IVR channel. */
  @procedure({ started: false })
  closeRxIvrChannel(channel: Readable): T { return closeRxIvrChannel(channel); }

  /** Closes a transmit IVR channel. */
  @procedure({ started: false })
  closeTxIvrChannel(channel: Writable): T { return closeTxIvrChannel(channel); }

  // ---------------------------------------------------------------- mixer, recording, local audio (engine/localAudioProcedures.ts)
  /**
   * Puts the call on a line into the conference (`on`) or takes it out. Conferenced lines hear
   * each other (and the local audio device) with mix-minus: nobody hears themself. Lines with
   * different codecs mix together (PCMU 8 kHz beside Opus 48 kHz), resampled at the bridge
   * edge. A line on hold leaves the mix until resumed; a call that ends leaves the conference
   * (SipInConferenceOff). Raises SipInConferenceOn / SipInConferenceOff.
   * @returns SipSuccess; SipNoCallActive without a connected call; SipInConference when already
   *   in it; SipNotEnabled when the engine was started with `callConferenceEnabled: false`.
   */
  @procedure()
  conferenceLine(phoneLine: number, on: boolean): T { return this.live.localAudio.conferenceLine(phoneLine, on); }

  /**
   * Chooses the conference groups a line joins while conferenced (default `['default']`, the
   * one conference of LanScape). Lines sharing an id hear each other, so several independent
   * conferences run at once; a line in several groups hears (and is heard by) all of them, each
   * voice once. Takes effect at once, also mid-conference (with a one-frame fade, no click).
   * @param ids - 1..16 non-empty ids of at most 64 characters.
   */
  @procedure()
  setConferenceGroupIds(phoneLine: number, ids: string[]): T { return this.live.localAudio.setConferenceGroupIds(phoneLine, ids); }

  /**
   * Sends the local microphone straight to the local loudspeaker as well (a sound-card check).
   * @returns SipAudioOutFailure when the engine has no local audio device.
   */
  @procedure()
  setLocalAudioLoopback(on: boolean): T { return this.live.localAudio.setLocalAudioLoopback(on); }

  /**
   * Calls `callback` every `intervalMs` (default 100, 20..10000) with the peak and RMS levels of
   * the line's received and sent audio, for VU meters; `null` removes it. The setting stays with
   * the line across calls. The data object is reused: copy what you keep.
   */
  @procedure()
  setPhoneLineVuMeterCallback(phoneLine: number, callback: VuMeterCallback | null, intervalMs?: number): T {
    return this.live.localAudio.setPhoneLineVuMeterCallback(phoneLine, callback, intervalMs);
  }

  /**
   * Starts recording the call on a line: both directions mixed into one 16-bit mono file at the
   * codec's rate, named `line<N>-<time>.wav` (`.raw`, headerless, with `recordFileRaw`) in
   * `directory`, and/or `callback` with every 20 ms of audio (rx, tx and mixed). Raises
   * SipCallRecordActive `{path}`; SipCallRecordComplete `{path, samples, sampleRate}` follows
   * stopPhoneLineRecording or the end of the call, once the file is complete.
   * @returns SipSuccess; SipCallRecordNotEnabled (start parameter `enablePhoneLineRecording`);
   *   SipCallRecordAlreadyStarted; SipNoCallActive; SipCallRecordFilenameNotCreated when the
   *   directory does not exist or the file cannot be created; SipBadParameter.
   */
  @procedure()
  startPhoneLineRecording(phoneLine: number, recordToFile: boolean, recordFileRaw: boolean, directory: string, callback?: RecordCallback): T {
    return this.live.localAudio.startPhoneLineRecording(phoneLine, recordToFile, recordFileRaw, directory, callback);
  }

  /** Stops the recording of a line (SipCallRecordAlreadyStopped when none runs). */
  @procedure()
  stopPhoneLineRecording(phoneLine: number): T { return this.live.localAudio.stopPhoneLineRecording(phoneLine); }

  /** Plays (or stops) dial tone on the local loudspeaker. SipAudioOutFailure without one. */
  @procedure()
  enableDialTone(on: boolean): T { return this.live.localAudio.enableDialTone(on); }

  /** Ring-back on the local loudspeaker while an outgoing call rings (default on). */
  @procedure()
  enableRingBackTone(on: boolean): T { return this.live.localAudio.enableTone('ringBack', on); }

  /** Busy signal on the local loudspeaker when the far end is busy (default on). */
  @procedure()
  enableBusySignal(on: boolean): T { return this.live.localAudio.enableTone('busy', on); }

  /** Error (reorder) tone on the local loudspeaker when a call fails (default on). */
  @procedure()
  enableErrorSignal(on: boolean): T { return this.live.localAudio.enableTone('error', on); }

  /** Ringing on the local loudspeaker for incoming calls (default on). */
  @procedure()
  enableIncomingRing(on: boolean): T { return this.live.localAudio.enableTone('incomingRing', on); }

  /**
   * The audio devices PortAudio sees, with their zero-based ids for `zeroBasedAudioInDeviceId`
   * / `zeroBasedAudioOutDeviceId`. Loads naudiodon; works without a started engine.
   */
  @procedure({ async: true, started: false, fail: noDevices })
  getAudioDeviceList(): Promise<AudioDeviceListResult> { return EngineAudio.deviceList(); }

  /**
   * Acoustic echo cancellation of the local microphone (libspeexdsp; on by default when the
   * engine has both a capture and a playback device): removes what the loudspeaker plays from
   * what the microphone picks up, so far ends do not hear themselves. A headset needs none.
   * @returns SipNativeLibraryMissing without libspeexdsp; SipAudioInFailure without both devices.
   */
  @procedure()
  enableEchoCancellation(on: boolean): T { return this.live.localAudio.enableEchoCancellation(on); }

  /** Counters of the local audio device and its capture processing (a LineScape addition). */
  @procedure({ fail: resultOnly })
  getLocalAudioStatistics(): LocalAudioStatisticsResult { return this.live.localAudio.getLocalAudioStatistics(); }

  /**
   * LanScape's noise discrimination on the local microphone: with it on, frames the
   * preprocessor classifies as noise are sent as silence. Needs libspeexdsp
   * (SipNativeLibraryMissing) and a capture device (SipAudioInFailure).
   */
  @procedure()
  setNoiseDiscriminationEnableState(on: boolean): T { return this.live.localAudio.setNoiseDiscriminationEnableState(on); }

  /**
   * The level in dBFS (−96..0) below which captured audio is noise whatever the voice detector
   * says (LanScape's noise threshold).
   */
  @procedure()
  setNoiseThreshold(db: number): T { return this.live.localAudio.setNoiseThreshold(db); }

  /** Speex noise suppression on the local microphone (default off). Same codes as the noise settings. */
  @procedure()
  enableNoiseSuppression(on: boolean): T { return this.live.localAudio.enableNoiseSuppression(on); }

  /** Automatic gain control on the local microphone (default off). Same codes as the noise settings. */
  @procedure()
  enableAutomaticGainControl(on: boolean): T { return this.live.localAudio.enableAutomaticGainControl(on); }

  /** How long (0..5000 ms) voice is assumed to go on after the last voice frame (hangover). */
  @procedure()
  setSilenceDecay(ms: number): T { return this.live.localAudio.setSilenceDecay(ms); }

  // ---------------------------------------------------------------- transfer (lines/transfer.ts)
  /**
   * Blind transfer (LanScape's TransferLine): sends the far end of `phoneLine` a REFER to call
   * `userOrNumber` at `destAddress:destSipPort` (at the SIP domain when the proxy is enabled;
   * SipDomainNameNotDefined without a domain). Progress arrives on the line: SipReferAccepted or
   * SipReferRejected `{reason, code}`, then SipTransferTrying, SipTransferRinging and
   * SipActvTransferSuccess or SipActvTransferFailure `{reason, code}`.
   * @returns SipSuccess once the REFER is sent; SipTransfrerNotAllowed when the line has no connected call
   */
  @procedure()
  transferLine(userOrNumber: string, destAddress: string, destSipPort: number, phoneLine: number): T {
    return this.live.transfers.transferLine(userOrNumber, destAddress, destSipPort, phoneLine);
  }

  /**
   * Blind transfer to a SIP URI (LanScape's TransferLineUri). With `useProxy` the target is named
   * at the SIP domain so the transferee reaches it through its proxy (SipProxyNotEnabled without
   * a proxy, SipDomainNameNotDefined without a domain). A URI carrying `?Replaces=...` makes it
   * an attended transfer to a dialog the application knows (see {@link VoipMediaEngine.getCallDialogInfo}).
   */
  @procedure()
  transferLineUri(sipUri: string, useProxy: boolean, phoneLine: number): T {
    return this.live.transfers.transferLineUri(sipUri, useProxy, phoneLine);
  }

  /**
   * Attended transfer: asks the far end of `phoneLine` to call the far end of `targetPhoneLine`
   * with a Replaces header naming that call, so they talk to each other and both our calls
   * end. Same events as {@link VoipMediaEngine.transferLine}.
   */
  @procedure()
  attendedTransfer(phoneLine: number, targetPhoneLine: number): T { return this.live.transfers.attendedTransfer(phoneLine, targetPhoneLine); }

  /**
   * Accepts a REFER announced by SipReceivedRefer (when farEndCallTransferEnabled is false): 202,
   * then the new call on a free line, its progress reported to the transferor in NOTIFYs; after
   * a success the original call ends.
   * @returns SipSuccess; SipInvalidHandle for an unknown or already answered referId; SipLineCapacityReached when no line is free (the REFER gets 503)
   */
  @procedure()
  acceptRefer(referId: number, referSipMessage: string): T { return this.live.transfers.acceptRefer(referId, referSipMessage); }

  /** Refuses a REFER announced by SipReceivedRefer with 603 Declined; the call stays as it is. */
  @procedure()
  rejectRefer(referId: number): T { return this.live.transfers.rejectRefer(referId); }

  /** Call-ID and tags of a line's call: what a Replaces header naming it holds (a LineScape addition). */
  @procedure({ fail: resultOnly })
  getCallDialogInfo(phoneLine: number): CallDialogInfo { return this.live.transfers.getCallDialogInfo(phoneLine); }

  // ---------------------------------------------------------------- messages, challenges, SIP message hooks (engine/messaging.ts, challenge.ts, sipHooks.ts)
  /**
   * Sends an instant message (RFC 3428 MESSAGE) in the dialog of the call on `phoneLine`
   * (PortSIP's sendMessage). The body may be text (sent as UTF-8) or bytes. The outcome arrives
   * as the line notification SipSendMessageSuccess `{messageId}` or SipSendMessageFailure
   * `{messageId, reason, code}` (code 408 when nothing answered).
   *
   * @param phoneLine the line whose connected call carries the message
   * @param mimeType type part of the Content-Type, e.g. `text`
   * @param subMimeType subtype, e.g. `plain`
   * @param body the message (up to 200 KiB)
   * @returns `{result, messageId}`: SipBadPhoneLine, SipNoCallActive (no connected call), SipBadParameter (bad type or body)
   */
  @procedure({ fail: noMessage })
  sendMessage(phoneLine: number, mimeType: string, subMimeType: string, body: string | Buffer): SendMessageResult {
    return this.live.messaging.sendMessage(phoneLine, mimeType, subMimeType, body);
  }

  /**
   * Sends an instant message outside any dialog (a pager-mode MESSAGE) to the SIP URI `to`:
   * through the proxy when enableSipProxyServer is on (through the outbound proxy when set),
   * else to the URI's host. The From is `phoneName@domain` (the SIP domain when set, else this
   * engine's address). 401/407 challenges are answered with addAuthorizationCredentials.
   * The outcome arrives as the global notification SipSendOutOfDialogMessageSuccess or
   * SipSendOutOfDialogMessageFailure `{messageId, fromDisplayName, from, toDisplayName, to, reason, code}`.
   *
   * @param to recipient URI, e.g. `sip:bob@127.0.0.1:5072`
   * @param mimeType type part of the Content-Type
   * @param subMimeType subtype
   * @param body the message (text as UTF-8, or bytes; up to 200 KiB)
   * @returns `{result, messageId}`: SipBadSipUri, SipBadParameter, SipMediaEngineNotInitialized
   */
  @procedure({ fail: noMessage })
  sendOutOfDialogMessage(to: string, mimeType: string, subMimeType: string, body: string | Buffer): SendMessageResult {
    return this.live.messaging.sendOutOfDialogMessage(to, mimeType, subMimeType, body);
  }

  /** Largest body accepted in an incoming MESSAGE (default 64 KiB; larger ones get 413). A LineScape addition. */
  @procedure()
  setMaxMessageBodySize(bytes: number): T { return this.live.messaging.setMaxBodySize(bytes); }

  /**
   * Content types accepted in incoming MESSAGEs, e.g. `['text/plain', 'application/*']`; any
   * other type is refused with 415 Unsupported Media Type (with an Accept header listing these).
   * An empty list, or `'*'`, accepts every type (the default). A LineScape addition: this is how
   * an application refuses a type, because the receive events are not immediate.
   */
  @procedure()
  setAcceptedMessageMimeTypes(mimeTypes: string[]): T { return this.live.messaging.setAcceptedMimeTypes(mimeTypes); }

  /**
   * LanScape's SetChallengeAuthenticationState: while on, incoming INVITE, REGISTER, BYE,
   * SUBSCRIBE, NOTIFY and MESSAGE without valid digest credentials are answered 401 with a
   * fresh nonce; an answer to our challenge raises the immediate SipIncomingAuthentication
   * notification ({@link IncomingAuthenticationData}), where the application gives the
   * user's password (or calls verifyChallengeResponse). Wrong credentials get 403, a replayed
   * or unknown nonce a new 401, an expired one a 401 with `stale=true`. ACK and CANCEL are
   * never challenged.
   *
   * @param on challenge or not
   * @param realm the realm to challenge with (default: the SIP domain, else this host's address)
   */
  @procedure()
  setChallengeAuthenticationState(on: boolean, realm?: string): T { return this.live.challenge.setState(on, realm); }

  /**
   * Checks, from a SipIncomingAuthentication handler, the digest of the request behind `data`
   * against `password` (constant-time). On success it sets `data.authorizationGranted`.
   *
   * @returns SipSuccess (granted), SipCallFailure (wrong credentials), SipInvalidHandle (`data` is not from a pending notification)
   */
  @procedure()
  verifyChallengeResponse(data: IncomingAuthenticationData, password: string): T { return this.live.challenge.verify(data, password); }

  /** How long a challenge nonce stays valid, in seconds (default 300); older answers get `stale=true`. */
  @procedure()
  setAuthCredentialExpireTime(seconds: number): T { return this.live.challenge.setExpireTime(seconds); }

  /**
   * Turns the immediate SipModifySipMessage notification on or off (off by default: turning it
   * on costs serializing every message). While on, every message sent for the first time and
   * every message received, before the engine acts on it, is raised with
   * {@link ModifySipMessageData}: the handler may rewrite `message`, set `drop`, or change the
   * `destination` of a sent one. A handler that throws leaves the message unchanged.
   */
  @procedure()
  enableSipMessageHook(on: boolean): T { return this.live.sipHooks.enable(this.live.stack, on); }

  // ---------------------------------------------------------------- presence and event subscriptions (engine/presence.ts, eventSubscriptions.ts)
  /**
   * Watches a contact's presence (PortSIP's presenceSubscribe): SUBSCRIBE Event: presence to
   * `contact` (a SIP URI such as `sip:bob@127.0.0.1:5072`), through the proxy when one is
   * enabled. Resolves once the SUBSCRIBE is sent; SipPresenceOnline / SipPresenceOffline report
   * the contact's status, SipSubscriptionNotAccepted a refusal. The subscription is refreshed
   * before it expires.
   * @param contact SIP URI of the contact
   * @param subject Subject header shown to the contact ('' for none)
   * @param expireSeconds expiry asked for (a LineScape addition; default 3600)
   * @returns SipSuccess, SipBadSipUri, SipUnknownHost, SipSubscriptionAlreadyExists, SipBadParameter
   */
  @procedure({ async: true })
  presenceSubscribe(contact: string, subject: string, expireSeconds?: number): Promise<T> {
    return this.live.presence.presenceSubscribe(contact, subject, expireSeconds);
  }

  /** Stops watching a contact (SUBSCRIBE Expires: 0). SipInvalidHandle when not watched. */
  @procedure({ async: true })
  presenceUnsubscribe(contact: string): Promise<T> { return this.live.presence.presenceUnsubscribe(contact); }

  /** Authorizes the watcher of a SipPresenceRecvSubscribe: it gets the current status now and every change later. */
  @procedure()
  presenceAcceptSubscribe(subscribeId: number): T { return this.live.presence.presenceAcceptSubscribe(subscribeId); }

  /** Refuses the watcher of a SipPresenceRecvSubscribe (NOTIFY terminated;reason=rejected). */
  @procedure()
  presenceRejectSubscribe(subscribeId: number): T { return this.live.presence.presenceRejectSubscribe(subscribeId); }

  /** Online with a status text: NOTIFY (PIDF open + note) to every accepted watcher, PUBLISH to the presence server. */
  @procedure()
  setPresenceStatus(text: string): T { return this.live.presence.setPresenceStatus(text); }

  /** Offline: NOTIFY (PIDF closed) to every accepted watcher, PUBLISH to the presence server. */
  @procedure()
  presenceOffline(): T { return this.live.presence.presenceOffline(); }

  /**
   * Publishes the presence status with PUBLISH (RFC 3903) to a presence server from now on,
   * refreshed before it expires; digest challenges are answered with addAuthorizationCredentials.
   */
  @procedure({ async: true })
  setPresenceServer(address: string, port: number, expireSeconds?: number): Promise<T> {
    return this.live.presence.setPresenceServer(address, port, expireSeconds);
  }

  /** Removes the published status (PUBLISH Expires: 0) and stops publishing. */
  @procedure({ async: true })
  disablePresenceServer(): Promise<T> { return this.live.presence.disablePresenceServer(); }

  /** Contacts this engine watches. */
  @procedure({ fail: noPresenceSubscriptions })
  getPresenceSubscriptions(): PresenceSubscriptionsResult { return this.live.presence.getPresenceSubscriptions(); }

  /** Watchers of this engine. */
  @procedure({ fail: noWatchers })
  getPresenceWatchers(): PresenceWatchersResult { return this.live.presence.getPresenceWatchers(); }

  /** State of the PUBLISH to the presence server. */
  @procedure({ fail: noPublication })
  getPresencePublication(): PresencePublicationResult { return this.live.presence.getPresencePublication(); }

  /**
   * LanScape's StartEventSubscription: SUBSCRIBE to any event package at `targetUri`.
   * Progress: immediate SipSubscriptionTrying, SipSubscriptionSuccess, SipSubscriptionNotAccepted,
   * SipSubscriptionTimeOut, SipSubscriptionRequiresAuthentication; each NOTIFY: SipEventNotifyReceived.
   * @param targetUri SIP URI of the resource
   * @param eventPackage event package (`message-summary`, `dialog`, ...)
   * @param acceptType body type accepted (`application/simple-message-summary`), '' for none
   * @param expireSeconds expiry asked for
   * @param useProxy send through the proxy (SipProxyNotEnabled without one)
   */
  @procedure({ async: true, fail: noSubscriptionHandle })
  startEventSubscription(targetUri: string, eventPackage: string, acceptType: string, expireSeconds: number, useProxy?: boolean): Promise<EventSubscriptionResult> {
    return this.live.subscriptions.startEventSubscription(targetUri, eventPackage, acceptType, expireSeconds, useProxy);
  }

  /** LanScape's StopEventSubscription: unsubscribes (Expires: 0) and frees the handle. */
  @procedure()
  stopEventSubscription(handle: number): T { return this.live.subscriptions.stopEventSubscription(handle); }

  /** LanScape's TriggerSubscription: refreshes a subscription now. */
  @procedure()
  triggerSubscription(handle: number): T { return this.live.subscriptions.triggerSubscription(handle); }

  /**
   * LanScape's SendEventNotification: NOTIFY `body` to the subscriber of `notifyHandle`
   * (from SipSubscriptionReceived). SipSuccess on 2xx, SipEventNotifyNotAccepted on an error
   * answer, SipEventNotifyResponseTimeOut when unanswered within `timeoutMs`.
   */
  @procedure({ async: true })
  sendEventNotification(notifyHandle: number, body: string | Buffer, timeoutMs: number, contentType?: string): Promise<T> {
    return this.live.subscriptions.sendEventNotification(notifyHandle, body, timeoutMs, contentType);
  }

  /** LanScape's CloseNotifyHandle: ends the subscription (NOTIFY terminated;reason=noresource). */
  @procedure()
  closeNotifyHandle(notifyHandle: number): T { return this.live.subscriptions.closeNotifyHandle(notifyHandle); }

  /** LanScape's SetReceivedUnsolicitedNotifyState: raise NOTIFYs outside any subscription as SipEventNotifyReceived (off: 481). */
  @procedure()
  setReceivedUnsolicitedNotifyState(on: boolean): T { return this.live.subscriptions.setReceivedUnsolicitedNotifyState(on); }
}
