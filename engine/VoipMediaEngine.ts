/**
 * The `VoipMediaEngine` facade: LanScape's procedures with LanScape's parameter order and
 * return codes, routing to the floors below (lines, SIP stack). Thin by design.
 * @module
 */
import type { Logger } from 'pino';
import type { Readable, Writable } from 'node:stream';
import { isIP } from 'node:net';
import { realClock, type Clock } from '../sip/clock.js';
import { CredentialStore, DigestClient } from '../sip/digest.js';
import type { SipRequest, SipParseError } from '../sip/message.js';
import { SipStack } from '../sip/stack.js';
import type { ServerTransaction } from '../sip/transaction.js';
import type { Endpoint } from '../sip/transport.js';
import { PhoneLine, type RecordedCallState } from '../lines/phoneLine.js';
import { CallManager, type CallManagerHost } from '../lines/callManager.js';
import { infoDtmfHandler } from '../lines/infoDtmf.js';
import { TransferManager, TRANSFER_CAPABILITY, type TransferHost, type CallDialogInfo } from '../lines/transfer.js';
import type { Call, CallMedia, IncomingCallInfo, OutgoingCallInfo, OutgoingCallErrorInfo } from '../lines/call.js';
import { Call as CallClass, CALL_CAPABILITY } from '../lines/call.js';
import { DriftCorrectedMediaClock, type MediaClock, type MediaClockStats } from '../media/mediaClock.js';
import { MediaPump } from '../media/mediaPump.js';
import { RtpPortAllocator } from '../media/rtpSocket.js';
import { isValidDtmfString, buildDtmfRelayBody } from '../media/dtmf.js';
import { isValidOpusSettings, type OpusSettings } from '../media/opus.js';
import { parseUri } from '../sip/grammar.js';
import { callQualityFromStats, type CallQuality } from '../media/quality.js';
import type { MetricsOptions } from './metrics.js';
import { MetricsControl } from './metricsControl.js';
import { LinePolicy } from './linePolicy.js';
import type { Registry } from 'prom-client';
import { openLineMedia, formatSpecs, isAudioFormat, type RawRtpData } from '../lines/lineMedia.js';
import { answerChallenge, looseRoute, type OutboundProxy, type UacServices } from '../sip/uac.js';
import { CapabilityRegistry } from '../sip/capabilities.js';
import { DialogRouter } from '../sip/dialogRouter.js';
import { EngineAudio, type AudioDeviceListResult, type LocalAudioStatisticsResult, type VuMeterCallback } from './audio.js';
import type { RecordCallback } from '../media/callRecorder.js';
import { hostPort, isPort, isSipUser, resolveHost } from './hosts.js';
import { Notifier } from './notifier.js';
import type { EngineEventMap, Notification } from './notifications.js';
import { TypedEventEmitter } from './typedEmitter.js';
import { defaultLogger, isLogger, isPowerOfTwo } from './logger.js';
import { attachSipLogger } from './sipLog.js';
import { Messaging, MESSAGING_CAPABILITY, type MessagingHost, type SendMessageResult } from './messaging.js';
import { ChallengeAuthenticator, type IncomingAuthenticationData } from './challenge.js';
import { SipMessageHooks } from './sipHooks.js';
import { REGISTRAR_CAPABILITY } from './registrar.js';
import { RegistrarRole } from './registrarRole.js';
import { RegistrationClient, type RegistrationStatus } from './registration.js';
import { TelephonyReturnValue as T } from './returnCodes.js';
import { procedureGuard } from './procedure.js';
import { KeepAliveService } from './keepAlive.js';
import { EventSubscriptions, SUBSCRIPTION_CAPABILITY, type EventSubscriptionResult } from './eventSubscriptions.js';
import { PresenceService, type PresenceSubscriptionsResult, type PresenceWatchersResult, type PresencePublicationResult } from './presence.js';
import {
  CallDirection,
  CallHoldType,
  DtmfMethod,
  MediaFormatAudio,
  DEFAULT_START_PARAMS,
  LineMode,
  LineState,
  SIP_AUDIO_DEVICE_NOT_USED,
  SIP_USE_PREFERED_AUDIO_DEVICE,
  type RegistrarBinding,
  type StartSipTelephonyParams,
} from './types.js';

/** Version of this engine (getMediaEngineVersionInfo). */
export const LINESCAPE_VERSION = '0.1.0';

/** Most unique names one engine registers at once (one registration worker each). */
export const MAX_REGISTRATION_WORKERS = 1024;


/** Start parameters after defaults, plus the test hooks. */
type ResolvedParams = Required<Omit<StartSipTelephonyParams, 'userNotifyCallbackProc' | 'sipLogFile' | 'logger'>> &
  Pick<StartSipTelephonyParams, 'userNotifyCallbackProc' | 'sipLogFile' | 'logger'>;

/** Options that are not LanScape start parameters: injected time for tests, registrar limits. */
export interface EngineOptions {
  /** Time source (tests pass a VirtualClock). */
  clock?: Clock;
  /** Registrar role: expiry when a REGISTER states none (s). */
  registrarDefaultExpires?: number;
  /** Registrar role: longest expiry granted (s). */
  registrarMaxExpires?: number;
  /** Registrar role: shorter expiries get 423 with this Min-Expires (s). 0 = no minimum. */
  registrarMinExpires?: number;
  /**
   * Where diagnostics go (a pino logger); the `logger` start parameter replaces it. Default:
   * warnings and errors as JSON lines on standard error.
   */
  logger?: Logger;
}

interface ServerAddress {
  host: string;
  port: number;
  /** What the application gave (a name or an address), kept for URIs. */
  given: string;
}

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

/**
 * The guard of every public procedure (engine/procedure.ts): SipInvalidHandle for a foreign
 * `this`, SipMediaEngineNotInitialized before start, and an exception inside reported on the
 * engine's 'error' event and answered with SipCallFailure.
 */
const { procedure, isEngine } = procedureGuard<VoipMediaEngine>({
  started: (e) => e['stack'] !== undefined,
  error: (e, err) => e['internalError'](err, 'a procedure threw'),
});

/** The failure of a procedure whose result object has only optional fields besides `result`. */
const resultOnly = (result: T): { result: T } => ({ result });

/** getMediaEngineVersionInfo's answer, with `result` as given. */
function versionInfo(result: T): VersionInfo {
  const [major = 0, minor = 0] = LINESCAPE_VERSION.split('.').map(Number);
  return { result, product: 'LineScape', version: LINESCAPE_VERSION, major, minor };
}

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
  private params?: ResolvedParams;
  private clock: Clock;
  private stack?: SipStack;
  private lines: PhoneLine[] = [];
  private readonly notifier: Notifier;
  /** Diagnostics; see {@link EngineOptions.logger}. */
  private logger: Logger;
  private readonly credentials = new CredentialStore();
  /** One digest client per registered name: each keeps its own nonce and count. */
  private readonly digestClients = new Map<string, DigestClient>();
  /** What every usage implements: the one source of Allow, Supported, Accept and Allow-Events (filled by the router's modules). */
  private readonly capabilities = new CapabilityRegistry();
  /** The one router of incoming requests, behind the challenge screen: dialogs to their usages, the rest by method. */
  private readonly router = this.newRouter();
  private proxy?: ServerAddress;
  private outboundProxy?: ServerAddress;
  private domain?: string;
  private registration?: RegistrationClient;
  /** The registrar role: incoming REGISTER and the bindings (engine/registrarRole.ts). */
  private registrar: RegistrarRole;
  private registrationRetryMs = 30_000;
  /** SIP and NAT keep-alives and the public address (engine/keepAlive.ts). */
  private readonly keepAlive = new KeepAliveService({
    clock: () => this.clock,
    stack: () => this.stack,
    transport: () => this.params?.sipTransport ?? 'UDP',
    natTargets: () => [this.outboundProxy, this.proxy, this.registration?.config.destination].filter((d) => d !== undefined),
    applyRtpKeepAlive: (ms) => {
      for (const l of this.lines) l.media?.setKeepAlive(ms);
    },
    notifyGlobal: (event, data) => this.notifier.globalUnchecked(event, data),
    reRegister: () => this.registration?.trigger(),
  });
  /** Line selection, busy-out and the rules between lines (engine/linePolicy.ts). */
  private readonly linePolicy = new LinePolicy({
    lines: () => this.lines,
    params: () => this.params,
    notifyLine: (line, event) => this.notifier.lineUnchecked(line, event),
  });
  private callAnswerTimeoutSeconds = 60;
  private starting = false;
  private stopSipLog?: () => void;
  /** Prometheus metrics (engine/metricsControl.ts); they read the engine through closures, so a restart is followed. */
  private readonly metrics = new MetricsControl({
    lineStates: () => this.lines.map((l) => l.reportedState),
    registrationStates: () => (this.registration?.status() ?? []).map((r) => r.state),
    mediaClock: () => this.mediaClock?.stats(),
    activeMedia: () => this.lines.flatMap((l) => (l.call && !l.call.isEnded && l.media ? [l.media.stats()] : [])),
  });
  private mediaClock?: MediaClock;
  /** The one pump on the media clock: every line's media and the bridge run in its phases. */
  private mediaPump?: MediaPump;
  private rtpAllocator?: RtpPortAllocator;
  private calls?: CallManager;
  private audio?: EngineAudio;
  private holdType = CallHoldType.Rfc3264;
  /** Last outgoing call failure per line, kept after the call ends (getOutgoingCallErrorInfo). */
  private readonly lastErrors = new Map<number, OutgoingCallErrorInfo>();
  /** Instant messages, challenges on incoming requests, SIP message hooks (issue 5). */
  private readonly messaging = new Messaging(this.messagingHost());
  private readonly challenge = new ChallengeAuthenticator(
    () => this.domain ?? this.params?.ipAddressOfThisHost ?? '127.0.0.1',
    (d) => this.notifier.immediate(-1, T.SipIncomingAuthentication, d),
  );
  private readonly sipHooks = new SipMessageHooks(
    (d) => this.notifier.immediate(-1, T.SipModifySipMessage, d),
    (message) => this.logger.warn(message),
  );
  /** Transfers: REFER out and in, NOTIFY sipfrag, Replaces. */
  private readonly transfers = new TransferManager(this.transferHost());

  /** @param options injected clock and registrar limits (not LanScape parameters) */
  constructor(private readonly options: EngineOptions = {}) {
    super();
    this.clock = options.clock ?? realClock;
    this.logger = isLogger(options.logger) ? options.logger : defaultLogger();
    this.notifier = new Notifier(this, undefined, (err, n) => this.handlerError(err, n));
    this.registrar = this.newRegistrar();
  }

  private newRegistrar(): RegistrarRole {
    return new RegistrarRole(this.clock, this.options, {
      stack: () => this.stack,
      immediate: (event, data) => this.notifier.immediateUnchecked(-1, event, data),
    });
  }

  private handlerError(err: unknown, n: Notification): void {
    // Application bugs are reported with their stack, never allowed to unwind into the SIP stack.
    this.logger.error({ err, event: T[n.event], phoneLine: n.phoneLine }, `notification handler for ${T[n.event]} threw`);
  }

  /**
   * A fault the engine survived (it answered 500 and carries on): always logged, and emitted
   * as `error` for applications that listen. Emitting `error` with no listener would throw
   * into the SIP stack, which is why the listener count decides.
   */
  private internalError(err: unknown, what: string): void {
    this.logger.error({ err }, what);
    if (this.listenerCount('error') === 0) return;
    const e = err instanceof Error ? err : new Error(String(err));
    try {
      this.emit('error', e);
    } catch (thrown) {
      this.logger.error({ err: thrown }, "an 'error' listener threw");
    }
  }

  // ---------------------------------------------------------------- start and stop

  /**
   * Starts the engine: validates the parameters, creates the phone lines, binds SIP on UDP and
   * TCP at `ipAddressOfThisHost:sipPort`.
   * @returns SipSuccess, SipBadParameter, SipMediaEngineAlreadyInitialized, or SipCallFailure when the port cannot be bound
   */
  @procedure({ async: true, started: false })
  async startSipTelephony(params: StartSipTelephonyParams = {}): Promise<T> {
    if (this.stack || this.starting) return T.SipMediaEngineAlreadyInitialized;
    if (params === null || typeof params !== 'object') return T.SipBadParameter;
    const p = { ...DEFAULT_START_PARAMS, ...stripUndefined(params) } as ResolvedParams;
    const bad = validateStartParams(p);
    if (bad !== T.SipSuccess) return bad;
    this.starting = true;
    try {
      const stack = new SipStack({
        host: p.ipAddressOfThisHost,
        port: p.sipPort,
        clock: this.clock,
        t1: p.sipT1Ms,
        t2: p.sipT2Ms,
        t4: p.sipT4Ms,
        userAgent: p.userAgent,
      });
      try {
        await stack.start();
      } catch {
        await stack.stop().catch(() => undefined);
        return T.SipCallFailure;
      }
      this.params = p;
      this.stack = stack;
      // The start parameter wins for this run; a restart without one goes back to the constructor's.
      this.logger = p.logger ?? (isLogger(this.options.logger) ? this.options.logger : defaultLogger());
      this.notifier.setCallback(p.userNotifyCallbackProc);
      this.lines = Array.from({ length: p.numPhoneLinesRequested }, (_, i) => new PhoneLine(i));
      this.linePolicy.randomAssign = p.randomlyAssignIncomingCallsToPhoneLines;
      this.callAnswerTimeoutSeconds = p.callAnswerTimeoutSeconds;
      this.keepAlive.reset();
      this.mediaClock = new DriftCorrectedMediaClock({});
      this.mediaPump = MediaPump.attach(this.mediaClock);
      this.mediaClock.start();
      this.rtpAllocator = new RtpPortAllocator({
        host: p.ipAddressOfThisHost,
        minPort: p.minLocalRtpPort,
        maxPort: p.maxLocalRtpPort,
        strategy: p.useSequentialRtpPorts ? 'sequential' : 'random',
      });
      const audio = await EngineAudio.start(
        { notifyLine: (line, event, data) => this.notifier.lineUnchecked(line, event, data) },
        p,
        this.lines,
        this.mediaPump,
      );
      if (typeof audio === 'number') {
        this.mediaPump.detach();
        this.mediaPump = undefined;
        this.mediaClock.stop();
        this.mediaClock = undefined;
        this.rtpAllocator = undefined;
        this.stack = undefined;
        this.params = undefined;
        this.lines = [];
        await stack.stop().catch(() => undefined);
        return audio;
      }
      this.audio = audio;
      this.calls = new CallManager(this.callManagerHost());
      // Transfer and messaging live on every call's dialog beside the INVITE session.
      this.calls.extendDialogs((call) => this.transfers.usageFor(call));
      this.calls.extendDialogs((call) => this.messaging.usageFor(call));
      this.calls.setInfoHandler(infoDtmfHandler(() => this.stack, (line, digit) => this.notifier.line(line, T.SipDtmfDigitEvent, { digit, method: 'info' })));
      stack.onRequest = (req, tx, from) => this.onRequest(req, tx, from);
      stack.onAck = (req) => this.calls?.onAck(req);
      stack.onStrayResponse = (res) => this.calls?.onStrayResponse(res);
      stack.on('parseError', (err: SipParseError, raw: Buffer, from: Endpoint) => this.onParseError(err, raw, from));
      if (p.logSipMessages) this.stopSipLog = attachSipLogger(stack, p.sipLogFile, this.logger === defaultLogger() ? undefined : this.logger);
      this.metrics?.setStack(stack);
      return T.SipSuccess;
    } finally {
      this.starting = false;
    }
  }

  /**
   * Stops the engine: removes registrations (Expires: 0), stops keep-alives, closes every
   * socket and timer. Pending notifications are delivered before it resolves.
   */
  @procedure({ async: true })
  async stopSipTelephony(): Promise<T> {
    const stack = this.stack;
    if (!stack) return T.SipMediaEngineNotInitialized;
    // End every call first (BYE / CANCEL / 480), giving the far ends a moment to answer.
    const calls = this.calls?.calls() ?? [];
    await Promise.race([Promise.all(calls.map((c) => c.hangUp())), new Promise((r) => setTimeout(r, 2000))]);
    for (const c of calls) c.finish(T.SipCallComplete);
    await this.audio?.stop();
    this.audio = undefined;
    await this.subscriptions.stop();
    if (this.registration) {
      const reg = this.registration;
      this.registration = undefined;
      await reg.stop().catch(() => T.SipCallFailure);
      reg.dispose();
    }
    this.keepAlive.reset();
    this.registrar.clear();
    this.mediaPump?.detach();
    this.mediaPump = undefined;
    this.mediaClock?.stop();
    this.mediaClock = undefined;
    this.rtpAllocator = undefined;
    this.transfers.stop();
    this.calls = undefined;
    this.lastErrors.clear();
    this.resetMessaging();
    this.stack = undefined;
    this.metrics?.setStack(undefined);
    this.params = undefined;
    this.lines = [];
    this.proxy = this.outboundProxy = this.domain = undefined;
    await stack.stop().catch(() => undefined);
    this.stopSipLog?.();
    this.stopSipLog = undefined;
    this.notifier.flush();
    return T.SipSuccess;
  }

  /** The SIP port the engine listens on (useful after starting with sipPort 0); 0 when stopped. */
  @procedure({ started: false, fail: () => 0 })
  getSipPort(): number {
    return this.stack?.localEndpoint('UDP').port ?? 0;
  }

  /**
   * Health of the engine's single media clock (ticks, late and skipped ticks, interval jitter
   * p99): what says whether the process keeps up with the calls it carries. A LineScape addition.
   */
  @procedure({ fail: resultOnly })
  getMediaClockStatistics(): MediaClockStatisticsResult {
    if (!this.mediaClock) return { result: T.SipMediaEngineNotInitialized };
    return { result: T.SipSuccess, ...this.mediaClock.stats() };
  }

  // ---------------------------------------------------------------- metrics

  /**
   * Turns Prometheus metrics on (a LineScape addition; see engine/metrics.ts for the list). With
   * `port` (0 picks a free one) it serves `GET /metrics` on `host` (default 127.0.0.1); without,
   * it only builds the registry for `getMetricsRegistry`. prom-client is loaded only now. The
   * metrics outlive stopSipTelephony (a restart keeps the endpoint); disableMetrics ends them.
   * @returns SipBadParameter (bad port or host), SipAlreadyEnabled, SipSocketBindError (address
   * in use), SipFeatureNotAvailable (prom-client missing), or SipSuccess with the port
   */
  @procedure({ async: true, started: false, fail: resultOnly })
  async enableMetrics(options: MetricsOptions = {}): Promise<EnableMetricsResult> {
    if (options === null || typeof options !== 'object') return { result: T.SipBadParameter };
    const { port, host } = options;
    if (port !== undefined && (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)) {
      return { result: T.SipBadParameter };
    }
    if (host !== undefined && (typeof host !== 'string' || !isIP(host))) return { result: T.SipBadParameter };
    return this.metrics.enable(port, host);
  }

  /** Turns metrics off: closes the endpoint and drops the registry. SipNotEnabled when they were off. */
  @procedure({ async: true, started: false })
  async disableMetrics(): Promise<T> {
    return this.metrics.disable();
  }

  /** The engine's own prom-client Registry while metrics are on, to serve from the application's server. */
  @procedure({ started: false, fail: resultOnly })
  getMetricsRegistry(): MetricsRegistryResult {
    const registry = this.metrics.registry();
    return registry ? { result: T.SipSuccess, registry } : { result: T.SipNotEnabled };
  }

  /** Product and version. */
  @procedure({ started: false, fail: versionInfo })
  getMediaEngineVersionInfo(): VersionInfo {
    return versionInfo(T.SipSuccess);
  }

  // ---------------------------------------------------------------- lines

  /**
   * The line a procedure names. Static and checking `self`, so that every line procedure called
   * detached from its engine (a foreign `this`) answers SipInvalidHandle instead of throwing.
   */
  private static line(self: unknown, phoneLine: unknown): PhoneLine | T {
    if (!isEngine(self)) return T.SipInvalidHandle;
    if (!self.stack) return T.SipMediaEngineNotInitialized;
    if (typeof phoneLine !== 'number' || !Number.isInteger(phoneLine) || phoneLine < 0 || phoneLine >= self.lines.length) {
      return T.SipBadPhoneLine;
    }
    return self.lines[phoneLine]!;
  }

  /** Number of phone lines the engine was started with. */
  @procedure({ fail: (result: T) => ({ result, numPhoneLines: 0 }) })
  getNumPhoneLines(): NumPhoneLinesResult {
    return { result: T.SipSuccess, numPhoneLines: this.lines.length };
  }

  /** State, call direction and recording flag of a line. */
  @procedure({ fail: (result: T) => ({ result, state: LineState.OnHook, callDirection: CallDirection.None, callRecordingActive: false }) })
  getLineStatus(phoneLine: number): LineStatusResult {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return { result: l, state: LineState.OnHook, callDirection: CallDirection.None, callRecordingActive: false };
    return { result: T.SipSuccess, state: l.reportedState, callDirection: l.callDirection, callRecordingActive: l.callRecordingActive };
  }

  /** Number of lines with a call in progress. */
  @procedure({ fail: (result: T) => ({ result, numActiveCalls: 0 }) })
  getNumActiveCalls(): NumActiveCallsResult {
    const n = this.lines.filter((l) => l.state !== LineState.OnHook && l.state !== LineState.BusyOut).length;
    return { result: T.SipSuccess, numActiveCalls: n };
  }

  /**
   * Busies a line out (it takes no calls) or returns it to service, raising SipBusyOutOn /
   * SipBusyOutOff when it changes. Only an idle line can be busied out (SipCallFailure otherwise).
   */
  @procedure()
  busyOutLine(phoneLine: number, on: boolean): T {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (typeof on !== 'boolean') return T.SipBadParameter;
    return this.linePolicy.busyOut(l, on);
  }

  /** Marks a line as outgoing-only: incoming calls never land on it. */
  @procedure()
  setOutgoingLineOnly(phoneLine: number, on: boolean): T {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (typeof on !== 'boolean') return T.SipBadParameter;
    l.outgoingOnly = on;
    return T.SipSuccess;
  }

  /** Sets the user part this line uses in From/Contact. */
  @procedure()
  setPhoneName(phoneLine: number, name: string): T {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (!isSipUser(name)) return T.SipBadParameter;
    l.phoneName = name;
    return T.SipSuccess;
  }

  /** Overrides the From header user of calls placed on this line. */
  @procedure()
  setFromHeaderUserName(phoneLine: number, name: string): T {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (!isSipUser(name)) return T.SipBadParameter;
    l.fromUserName = name;
    return T.SipSuccess;
  }

  /** Spreads incoming calls over free lines at random (when names do not select a line). */
  @procedure()
  randomlyAssignIncomingCallsToPhoneLines(on: boolean): T {
    if (typeof on !== 'boolean') return T.SipBadParameter;
    this.linePolicy.randomAssign = on;
    return T.SipSuccess;
  }

  /** Seconds an incoming call may ring before it is dropped (LanScape default 60). */
  @procedure()
  setCallAnswerTimeout(seconds: number): T {
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds <= 0 || seconds > 4_294_967) return T.SipBadParameter;
    this.callAnswerTimeoutSeconds = seconds;
    return T.SipSuccess;
  }

  /** Turns recording of a line's state changes on or off. */
  @procedure()
  setCallStateRecording(phoneLine: number, on: boolean): T {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (typeof on !== 'boolean') return T.SipBadParameter;
    l.recordCallStates = on;
    return T.SipSuccess;
  }

  /** The recorded state changes of a line. */
  @procedure({ fail: (result: T) => ({ result, states: [] as RecordedCallState[] }) })
  getRecordedCallStates(phoneLine: number): RecordedCallStatesResult {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return { result: l, states: [] };
    return { result: T.SipSuccess, states: l.recordedStates() };
  }

  /** Forgets a line's recorded state changes. */
  @procedure()
  clearRecordedCallStates(phoneLine: number): T {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    l.clearRecordedStates();
    return T.SipSuccess;
  }

  /**
   * The line an incoming call for `user` would ring now: the free line registered with that
   * name, else any free line (random when enabled); -1 when every candidate is busy (or when
   * called detached from an engine).
   */
  @procedure({ started: false, fail: () => -1 })
  lineForIncomingCall(user?: string): number {
    return this.selectLineForIncoming(user)?.index ?? -1;
  }

  private selectLineForIncoming(user: string | undefined): PhoneLine | undefined {
    return this.linePolicy.selectLineForIncoming(user);
  }

  // ---------------------------------------------------------------- servers

  private async server(address: string, port: number): Promise<ServerAddress | T> {
    if (!this.stack) return T.SipMediaEngineNotInitialized;
    if (typeof address !== 'string' || !address || !isPort(port)) return T.SipBadParameter;
    const host = await resolveHost(address);
    if (!host) return T.SipUnknownHost;
    return { host, port, given: address };
  }

  private async enableServer(which: 'proxy' | 'outboundProxy', address: string, port: number): Promise<T> {
    const s = await this.server(address, port);
    if (typeof s === 'number') return s;
    this[which] = s;
    this.refreshNatKeepAlive();
    return T.SipSuccess;
  }

  /** Uses a SIP proxy for calls (and for registration when asked). The address may be a name. */
  @procedure({ async: true })
  async enableSipProxyServer(address: string, port: number): Promise<T> {
    return this.enableServer('proxy', address, port);
  }

  /** Stops using the SIP proxy. */
  @procedure()
  disableSipProxyServer(): T {
    this.proxy = undefined;
    return T.SipSuccess;
  }

  /**
   * Sends every request the engine originates to this outbound proxy (RFC 3261 §8.1.2), with a
   * loose-route `Route` header naming it.
   */
  @procedure({ async: true })
  async enableOutboundSipProxyServer(address: string, port: number): Promise<T> {
    return this.enableServer('outboundProxy', address, port);
  }

  /** Stops using the outbound proxy. */
  @procedure()
  disableOutboundSipProxyServer(): T {
    this.outboundProxy = undefined;
    return T.SipSuccess;
  }

  /** Sets the SIP domain used in addresses-of-record and Request-URIs when a proxy is used. */
  @procedure()
  enableSipDomain(domain: string): T {
    if (typeof domain !== 'string' || !/^[A-Za-z0-9.\-[\]:]{1,255}$/.test(domain)) return T.SipBadParameter;
    this.domain = domain;
    return T.SipSuccess;
  }

  /** Forgets the SIP domain. */
  @procedure()
  disableSipDomain(): T {
    this.domain = undefined;
    return T.SipSuccess;
  }

  /** Adds credentials used to answer digest challenges for `realm` (empty or '*' = any realm). */
  @procedure()
  addAuthorizationCredentials(userName: string, password: string, realm: string): T {
    if (typeof userName !== 'string' || !userName || typeof password !== 'string' || (realm !== undefined && typeof realm !== 'string')) {
      return T.SipBadParameter;
    }
    return this.credentials.add(userName, password, realm ?? '') ? T.SipSuccess : T.SipBadParameter;
  }

  /** Removes credentials added with addAuthorizationCredentials. */
  @procedure()
  deleteAuthorizationCredentials(userName: string, realm?: string): T {
    if (typeof userName !== 'string' || !userName) return T.SipBadParameter;
    return this.credentials.delete(userName, realm) ? T.SipSuccess : T.SipBadParameter;
  }

  /**
   * Registers names with a registrar (LanScape's EnableSipRegisterServer, same parameters).
   * Resolves once the request is validated and the first cycle started; outcomes arrive as
   * GLOBAL notifications (SipRegisterTrying, SipRegisterSuccess, SipRegisterTimeOut,
   * SipRegisterAuthorizationError, SipRegisterIntervalError, SipRegisterError).
   *
   * @param namesToRegister comma separated names; each unique name is registered once
   * @param registerPhoneLines true: name i belongs to line i (count must equal the line count)
   * @param registerThroughProxy send REGISTER to the proxy set by enableSipProxyServer
   * @param registrationServerAddress registrar address or name
   * @param registrationServerPort registrar port
   * @param registrationUpdateIntervalSeconds seconds between cycles (non-zero; smaller than expiry for keep-alive)
   * @param registrationExpireTimeSeconds expiry asked of the registrar (not smaller than the interval)
   * @param timeOutMs wait for the registrar's answer
   * @param registerNatAutoDetectEnabled detect NAT from Via received/rport
   */
  @procedure({ async: true })
  async enableSipRegisterServer(
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
    if (typeof namesToRegister !== 'string') return T.SipBadParameter;
    const names = namesToRegister.split(',').map((s) => s.trim());
    if (!names.length || names.some((n) => !isSipUser(n))) return T.SipRegisterBadNameList;
    if (registerPhoneLines && names.length !== this.lines.length) return T.SipRegisterBadNameList;
    if (!isUint(registrationUpdateIntervalSeconds) || !isUint(registrationExpireTimeSeconds) || !isUint(timeOutMs)) return T.SipBadParameter;
    if (registrationUpdateIntervalSeconds === 0) return T.SipRegisterIntervalError;
    if (registrationExpireTimeSeconds === 0 || registrationExpireTimeSeconds < registrationUpdateIntervalSeconds) return T.SipRegisterIntervalError;
    if (timeOutMs === 0) return T.SipBadParameter;
    if (registerThroughProxy && !this.proxy) return T.SipProxyNotEnabled;
    if (registerThroughProxy && !this.domain) return T.SipDomainNameNotDefined;
    if (typeof registrationServerAddress !== 'string' || !registrationServerAddress || !isPort(registrationServerPort)) return T.SipBadParameter;
    const registrarHost = await resolveHost(registrationServerAddress);
    if (!registrarHost) return T.SipUnknownHost;
    if (!this.stack) return T.SipMediaEngineNotInitialized; // stopped while resolving

    const unique = [...new Set(names)];
    // Each unique name holds a registration worker (timers, a dialog); past the limit the
    // engine cannot create more, LanScape's SipThreadCreationError.
    if (unique.length > MAX_REGISTRATION_WORKERS) return T.SipThreadCreationError;
    const linesByName = new Map<string, number[]>();
    for (const l of this.lines) l.registrationName = undefined;
    if (registerPhoneLines) {
      names.forEach((n, i) => {
        linesByName.set(n, [...(linesByName.get(n) ?? []), i]);
        this.lines[i]!.registrationName = n;
      });
    }
    const domain = this.domain ?? registrationServerAddress;
    const viaProxy = registerThroughProxy ? this.proxy! : undefined;
    const destination: Endpoint = this.outboundProxy
      ? { protocol: this.params!.sipTransport, host: this.outboundProxy.host, port: this.outboundProxy.port }
      : viaProxy
        ? { protocol: this.params!.sipTransport, host: viaProxy.host, port: viaProxy.port }
        : { protocol: this.params!.sipTransport, host: registrarHost, port: registrationServerPort };
    const requestUri = this.domain ? `sip:${this.domain}` : `sip:${hostPort(registrationServerAddress, registrationServerPort === 5060 ? undefined : registrationServerPort)}`;

    if (this.registration) {
      const old = this.registration;
      this.registration = undefined;
      old.dispose();
    }
    this.registration = new RegistrationClient(
      {
        clock: this.clock,
        uac: this.uacFor(''),
        capabilities: this.capabilities,
        contactUri: (name) => this.contactUri(name),
        advertisedAddress: () => this.advertisedAddress(),
        displayName: () => this.params?.phoneDisplayName ?? '',
        userAgent: () => this.params?.userAgent ?? 'LineScape',
        notify: (event, data) => this.notifier.globalUnchecked(event, data),
        publicAddressDetected: (host, port) => this.publicAddressDetected(host, port),
      },
      {
        names: unique,
        linesByName,
        destination,
        requestUri,
        aorDomain: domain,
        updateIntervalSeconds: registrationUpdateIntervalSeconds,
        expireSeconds: registrationExpireTimeSeconds,
        timeOutMs,
        natAutoDetect: registerNatAutoDetectEnabled === true,
      },
      this.registrationRetryMs,
    );
    this.registration.start();
    this.refreshNatKeepAlive();
    return T.SipSuccess;
  }

  /** Removes every registration (REGISTER with Expires: 0) and stops the registration cycles. */
  @procedure({ async: true })
  async disableSipRegisterServer(): Promise<T> {
    const reg = this.registration;
    if (!reg) return T.SipSuccess;
    this.registration = undefined;
    for (const l of this.lines) l.registrationName = undefined;
    const rc = await reg.stop();
    reg.dispose();
    this.refreshNatKeepAlive();
    return rc;
  }

  /**
   * Starts a registration cycle now instead of waiting for the update interval: for every
   * name, or only for `name` (a LineScape addition; SipBadParameter when it is not registered).
   */
  @procedure()
  triggerRegistration(name?: string): T {
    if (!this.registration) return T.SipCallFailure;
    if (name !== undefined && typeof name !== 'string') return T.SipBadParameter;
    return this.registration.trigger(name) ? T.SipSuccess : T.SipBadParameter;
  }

  /** Milliseconds to wait after a registration error or time-out before trying again. */
  @procedure({ started: false })
  registrationErrorRetryTime(ms: number): T {
    if (!isUint(ms) || ms < 100) return T.SipBadParameter;
    this.registrationRetryMs = ms;
    this.registration?.setRetryTime(ms);
    return T.SipSuccess;
  }

  /** Where each registered name stands. */
  @procedure({ fail: (result: T) => ({ result, registrations: [] as RegistrationStatus[] }) })
  getRegistrationStatus(): RegistrationStatusResult {
    return { result: T.SipSuccess, registrations: this.registration?.status() ?? [] };
  }

  /**
   * Sets the public (WAN) address advertised in Contact and Via, as when the engine sits behind
   * a NAT; active registrations are refreshed with the new Contact.
   */
  @procedure()
  setWanIpAddress(ipAddress: string): T {
    if (!this.stack) return T.SipMediaEngineNotInitialized; // narrows the type (the guard checked it)
    if (typeof ipAddress !== 'string' || !isIP(ipAddress)) return T.SipBadParameter;
    this.keepAlive.setWanIpAddress(this.stack, ipAddress);
    return T.SipSuccess;
  }

  private digestClientFor(name: string): DigestClient {
    let c = this.digestClients.get(name);
    if (!c) this.digestClients.set(name, (c = new DigestClient(this.credentials)));
    return c;
  }

  private publicAddressDetected(host: string, port: number): void {
    this.keepAlive.publicAddressDetected(host, port);
  }

  private advertisedAddress(): { host: string; port: number; protocol: string } {
    return this.keepAlive.advertisedAddress(this.stack!);
  }

  private contactUri(user: string): string {
    const a = this.advertisedAddress();
    return `sip:${user}@${hostPort(a.host, a.port)}${a.protocol === 'UDP' ? '' : `;transport=${a.protocol.toLowerCase()}`}`;
  }

  /** The outbound proxy in its one shape: where to send, and the Route naming it (built only here). */
  private outboundProxyRoute(): OutboundProxy | undefined {
    const ob = this.outboundProxy;
    if (!ob) return undefined;
    return { endpoint: { protocol: this.params?.sipTransport ?? 'UDP', host: ob.host, port: ob.port }, route: looseRoute(ob.given, ob.port) };
  }

  /**
   * The client-request path for one usage: sends on the running stack, answers challenges with
   * one digest client per `keyPrefix` + user name, follows the outbound proxy.
   */
  private uacFor(keyPrefix: string): UacServices {
    return {
      send: (req, dest, user) => this.stack?.sendRequest(req, dest, user),
      answerChallenge: (user, retry, challenge, challenged) => answerChallenge(this.digestClientFor(`${keyPrefix}${user}`), retry, challenge, challenged, user),
      outboundProxy: () => this.outboundProxyRoute(),
      resolve: (host) => resolveHost(host),
      transport: () => this.params?.sipTransport ?? 'UDP',
    };
  }

  // ---------------------------------------------------------------- keep-alive

  /**
   * Sends keep-alive traffic to `host:port` every `keepAliveSeconds` (or stops it): a CRLF
   * datagram over UDP, or the RFC 5626 double CRLF over TCP when `protocol` is 'TCP'. Keeps NAT
   * bindings open without the cost of a SIP transaction.
   */
  @procedure({ async: true })
  async sendSipKeepAlive(host: string, port: number, enableState: boolean, keepAliveSeconds: number, protocol: 'UDP' | 'TCP' = 'UDP'): Promise<T> {
    if (typeof host !== 'string' || !host || !isPort(port) || typeof enableState !== 'boolean') return T.SipBadParameter;
    if (protocol !== 'UDP' && protocol !== 'TCP') return T.SipBadParameter;
    if (enableState && (!isUint(keepAliveSeconds) || keepAliveSeconds === 0)) return T.SipBadParameter;
    const ip = await resolveHost(host);
    if (!ip) return T.SipUnknownHost;
    if (!this.stack) return T.SipMediaEngineNotInitialized; // stopped while resolving
    this.keepAlive.sendSipKeepAlive(protocol, ip, port, enableState ? keepAliveSeconds : undefined);
    return T.SipSuccess;
  }

  /**
   * LanScape's EnableKeepAliveTransmissions: with `keepAliveSip` the engine sends CRLF
   * keep-alives to its proxy, outbound proxy and registrar every `natSessionTimeMs`;
   * `keepAliveRtp` keeps idle RTP streams open the same way once calls carry media.
   */
  @procedure()
  enableKeepAliveTransmissions(keepAliveSip: boolean, keepAliveRtp: boolean, natSessionTimeMs: number): T {
    if (typeof keepAliveSip !== 'boolean' || typeof keepAliveRtp !== 'boolean') return T.SipBadParameter;
    if ((keepAliveSip || keepAliveRtp) && (!isUint(natSessionTimeMs) || natSessionTimeMs < 100)) return T.SipBadParameter;
    this.keepAlive.enableKeepAliveTransmissions(keepAliveSip, keepAliveRtp, natSessionTimeMs);
    return T.SipSuccess;
  }

  /** Current RTP keep-alive setting (ms, 0 = off), read by media sessions. */
  get rtpKeepAliveMs(): number {
    return isEngine(this) ? this.keepAlive.rtpKeepAliveMs : 0;
  }

  private refreshNatKeepAlive(): void {
    this.keepAlive.refreshNatKeepAlive();
  }

  // ---------------------------------------------------------------- calls

  private callManagerHost(): CallManagerHost {
    const engine = this;
    return {
      get stack() {
        return engine.stack!;
      },
      get clock() {
        return engine.clock;
      },
      notify: (line, event, data) => {
        if (event === T.SipFarEndError || event === T.SipFarEndIsBusy) {
          const call = this.lines[line]?.call;
          if (call?.errorInfo) this.lastErrors.set(line, { ...call.errorInfo });
        }
        this.metrics?.onLineEvent(event, data);
        this.notifier.lineUnchecked(line, event, data);
        this.audio?.onLineEvent(event);
      },
      openMedia: (line) => this.openMedia(line),
      mediaAddress: () => this.advertisedAddress().host,
      contactUri: (user) => this.contactUri(user),
      uac: this.uacFor('call:'),
      capabilities: this.capabilities,
      holdStyle: () => (this.holdType === CallHoldType.Rfc2543 ? 'rfc2543' : this.holdType === CallHoldType.Both ? 'both' : 'rfc3264'),
      answerTimeoutSeconds: () => this.callAnswerTimeoutSeconds,
      transport: () => this.params?.sipTransport ?? 'UDP',
      resolve: (host) => resolveHost(host),
      userAgent: () => this.params?.userAgent ?? 'LineScape',
      lines: () => this.lines,
      selectLine: (user) => this.selectLineForIncoming(user),
      immediate: (line, event, data) => this.notifier.immediateUnchecked(line, event, data),
      formatsFor: (line) => formatSpecs(line.formats, line.opusSettings),
      userFor: (line) => this.userForLine(line),
      router: this.router,
      callFinished: (call) => this.metrics?.onCallFinished(call.finalStats, call.finalQuality),
    };
  }

  private userForLine(line: PhoneLine): string {
    return line.phoneName ?? line.registrationName ?? this.params?.phoneName ?? 'linescape';
  }

  private async openMedia(line: PhoneLine): Promise<CallMedia | undefined> {
    if (!this.mediaClock || !this.mediaPump || !this.rtpAllocator || !this.params) return undefined;
    const media = await openLineMedia({
      clock: this.mediaClock,
      pump: this.mediaPump,
      allocator: this.rtpAllocator,
      localAddress: this.params.ipAddressOfThisHost,
      line,
      dtmfDetect: this.params.dtmfEnabled,
      rtpKeepAliveMs: this.rtpKeepAliveMs,
      onDtmf: (digit, method) => this.notifier.line(line.index, T.SipDtmfDigitEvent, { digit, method }),
      onMediaConflict: (address, port) => this.notifier.line(line.index, T.SipReceivedRtpMediaConflict, { address, port }),
      onHandlerError: (err, count) => this.logger.error({ err, phoneLine: line.index, count }, 'media handler threw'),
    });
    if (!media) return undefined;
    line.media = media;
    return media;
  }

  private freeLine(phoneLine: number): PhoneLine | T {
    const l = phoneLine === -1 ? -1 : VoipMediaEngine.line(this, phoneLine);
    return l === -1 || l instanceof PhoneLine ? this.linePolicy.lineForOutgoing(l) : l;
  }

  private async placeCall(line: PhoneLine, requestUri: string, to: string, dest: Endpoint, synchronous: boolean, timeOutMs: number): Promise<T> {
    this.lastErrors.delete(line.index);
    const fromUser = line.fromUserName ?? this.userForLine(line);
    const call = await CallClass.outgoing(
      this.calls!.services,
      line,
      // the client path sends through the outbound proxy, when one is set, and adds its Route
      { requestUri, to, destination: dest },
      formatSpecs(line.formats, line.opusSettings),
      fromUser,
      this.params?.phoneDisplayName ?? '',
    );
    if (typeof call === 'number') return call;
    this.holdOtherLines(line);
    if (!synchronous) return T.SipSuccess;
    let timer: NodeJS.Timeout | undefined;
    const rc = await Promise.race([
      call.whenSettled(),
      new Promise<T>((r) => {
        timer = setTimeout(() => r(T.SipCallTimeOut), timeOutMs);
      }),
    ]);
    clearTimeout(timer);
    if (rc === T.SipCallTimeOut) void call.hangUp();
    return rc;
  }

  /**
   * Places a call to `userOrNumber` at `destAddress:destSipPort` (LanScape's MakeCall). With the
   * proxy enabled the call goes through it to `userOrNumber@domain` (SipDomainNameNotDefined
   * without a domain). `phoneLine` -1 takes the first free line. With `synchronous` the Promise
   * resolves when the call connects (SipSuccess) or fails (SipFarEndIsBusy, SipFarEndError,
   * SipCallTimeOut after `timeOutMs`); otherwise once the INVITE is on its way.
   */
  @procedure({ async: true })
  async makeCall(userOrNumber: string, destAddress: string, destSipPort: number, phoneLine: number, synchronous: boolean, timeOutMs: number): Promise<T> {
    if (!isSipUser(userOrNumber)) return T.SipBadUserName;
    if (typeof synchronous !== 'boolean' || (synchronous && (!isUint(timeOutMs) || timeOutMs === 0))) return T.SipBadParameter;
    if (destSipPort !== 0 && !isPort(destSipPort)) return T.SipBadParameter;
    const line = this.freeLine(phoneLine);
    if (!(line instanceof PhoneLine)) return line;
    let requestUri: string;
    let dest: Endpoint;
    if (this.proxy) {
      if (!this.domain) return T.SipDomainNameNotDefined;
      requestUri = `sip:${userOrNumber}@${this.domain}`;
      dest = { protocol: this.params!.sipTransport, host: this.proxy.host, port: this.proxy.port };
    } else {
      if (typeof destAddress !== 'string' || !destAddress) return T.SipBadParameter;
      const ip = await resolveHost(destAddress);
      if (!ip) return T.SipUnknownHost;
      const port = destSipPort || 5060;
      requestUri = `sip:${userOrNumber}@${hostPort(destAddress, port === 5060 ? undefined : port)}`;
      dest = { protocol: this.params!.sipTransport, host: ip, port };
    }
    if (!this.stack || !line.availableForOutgoing) return T.SipCallAlreadyInProgress;
    return this.placeCall(line, requestUri, `<${requestUri}>`, dest, synchronous, timeOutMs);
  }

  /**
   * Places a call to a SIP URI (LanScape's MakeCallUri), directly to the URI's host or through
   * the proxy when `useProxy` (SipProxyNotEnabled without one).
   */
  @procedure({ async: true })
  async makeCallUri(sipUri: string, useProxy: boolean, phoneLine: number, synchronous: boolean, timeOutMs: number): Promise<T> {
    if (typeof sipUri !== 'string' || typeof useProxy !== 'boolean') return T.SipBadParameter;
    if (typeof synchronous !== 'boolean' || (synchronous && (!isUint(timeOutMs) || timeOutMs === 0))) return T.SipBadParameter;
    let uri;
    try {
      uri = parseUri(sipUri.trim());
    } catch {
      return T.SipBadSipUri;
    }
    if ((uri.scheme !== 'sip' && uri.scheme !== 'sips') || !uri.host) return T.SipBadSipUri;
    if (useProxy && !this.proxy) return T.SipProxyNotEnabled;
    const line = this.freeLine(phoneLine);
    if (!(line instanceof PhoneLine)) return line;
    let dest: Endpoint;
    if (useProxy) {
      dest = { protocol: this.params!.sipTransport, host: this.proxy!.host, port: this.proxy!.port };
    } else {
      const ip = await resolveHost(uri.host);
      if (!ip) return T.SipUnknownHost;
      const t = uri.params['transport']?.toUpperCase();
      dest = { protocol: t === 'TCP' ? 'TCP' : t === 'UDP' ? 'UDP' : this.params!.sipTransport, host: ip, port: uri.port ?? 5060 };
    }
    if (!this.stack || !line.availableForOutgoing) return T.SipCallAlreadyInProgress;
    return this.placeCall(line, sipUri.trim(), `<${sipUri.trim()}>`, dest, synchronous, timeOutMs);
  }

  /** The live call on a line (static for the same reason as `line`). */
  private static lineCall(self: unknown, phoneLine: number): Call | T {
    const l = VoipMediaEngine.line(self, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    return l.call && !l.call.isEnded ? l.call : T.SipNoCallActive;
  }

  /**
   * Ends the call on a line: CANCEL while it rings out, 480 for an unanswered incoming call,
   * BYE once connected. With `synchronous` it waits (up to `timeOutMs`) for the far end.
   */
  @procedure({ async: true })
  async terminateCall(phoneLine: number, synchronous: boolean, timeOutMs: number): Promise<T> {
    const call = VoipMediaEngine.lineCall(this, phoneLine);
    if (typeof call === 'number') return call;
    if (typeof synchronous !== 'boolean' || (synchronous && (!isUint(timeOutMs) || timeOutMs === 0))) return T.SipBadParameter;
    const done = call.hangUp();
    if (!synchronous) return T.SipSuccess;
    let timer: NodeJS.Timeout | undefined;
    const rc = await Promise.race([done, new Promise<T>((r) => (timer = setTimeout(() => r(T.SipCallTimeOut), timeOutMs)))]);
    clearTimeout(timer);
    if (rc === T.SipCallTimeOut) call.finish(T.SipCallComplete);
    return rc === T.SipCallTimeOut ? T.SipCallTimeOut : T.SipSuccess;
  }

  /** Answers the call ringing on a line (LanScape's GoOffHook). */
  @procedure()
  goOffHook(phoneLine: number): T {
    const call = VoipMediaEngine.lineCall(this, phoneLine);
    if (typeof call === 'number') return call;
    const rc = call.answer();
    if (rc === T.SipSuccess) this.holdOtherLines(call.line);
    return rc;
  }

  /** LanScape's inter-line rule: taking a line off hook holds the others (engine/linePolicy.ts). */
  private holdOtherLines(active: PhoneLine): void {
    this.linePolicy.holdOtherLines(active);
  }


  /** Refuses the call ringing on a line with a SIP status (400..699) and reason phrase. */
  @procedure()
  abortIncomingCall(phoneLine: number, sipStatusCode: number, reasonPhrase: string): T {
    const call = VoipMediaEngine.lineCall(this, phoneLine);
    if (typeof call === 'number') return call;
    if (!Number.isInteger(sipStatusCode) || sipStatusCode < 400 || sipStatusCode > 699) return T.SipBadParameter;
    if (reasonPhrase !== undefined && (typeof reasonPhrase !== 'string' || /[\r\n]/.test(reasonPhrase))) return T.SipBadParameter;
    if (call.direction !== CallDirection.Incoming || call.isConnected) return T.SipCallAlreadyInProgress;
    call.reject(sipStatusCode, reasonPhrase || undefined);
    return T.SipSuccess;
  }

  /**
   * Puts the far end on hold (re-INVITE with sendonly, or c=0.0.0.0 per setCallHoldType) or
   * resumes it. Resolves when the far end answered; SipCallHoldOn / SipCallHoldOff follow.
   */
  @procedure({ async: true })
  async holdLine(phoneLine: number, on: boolean): Promise<T> {
    const call = VoipMediaEngine.lineCall(this, phoneLine);
    if (typeof call === 'number') return call;
    if (typeof on !== 'boolean') return T.SipBadParameter;
    const rc = await call.hold(on);
    return rc === T.SipCallHoldOn || rc === T.SipCallNotOnHold ? T.SipSuccess : rc;
  }

  /** How hold is signalled in SDP for later holdLine calls. */
  @procedure()
  setCallHoldType(type: CallHoldType): T {
    if (type !== CallHoldType.Rfc3264 && type !== CallHoldType.Rfc2543 && type !== CallHoldType.Both) return T.SipBadParameter;
    this.holdType = type;
    return T.SipSuccess;
  }

  /**
   * Sends DTMF digits (`0-9*#A-D`) on a connected call: RFC 4733 events (default; in-band when
   * the far end did not negotiate telephone-event), in-band tones, or SIP INFO.
   */
  @procedure()
  sendDtmf(phoneLine: number, digits: string, method: DtmfMethod = DtmfMethod.Rfc4733): T {
    const call = VoipMediaEngine.lineCall(this, phoneLine);
    if (typeof call === 'number') return call;
    if (typeof digits !== 'string' || !digits || !isValidDtmfString(digits)) return T.SipInvalidDtmfTone;
    if (!call.isConnected) return T.SipNoCallActive;
    if (method === DtmfMethod.SipInfo) {
      void (async () => {
        for (const d of digits) await call.sendRequestInDialog('INFO', buildDtmfRelayBody(d, 100), 'application/dtmf-relay');
      })();
      return T.SipSuccess;
    }
    if (method !== DtmfMethod.Rfc4733 && method !== DtmfMethod.InBand) return T.SipBadParameter;
    const media = call.line.media;
    if (!media) return T.SipNoCallActive;
    return media.sendDtmf(digits, method === DtmfMethod.Rfc4733 ? 'rfc4733' : 'inband') ? T.SipSuccess : T.SipInvalidDtmfTone;
  }

  /** Audio formats a line offers and accepts, in preference order (used from its next call on). */
  @procedure()
  setAudioMediaFormats(phoneLine: number, formats: MediaFormatAudio[]): T {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (!Array.isArray(formats) || formats.length === 0) return T.SipBadParameter;
    if (formats.some((f) => !isAudioFormat(f)) || new Set(formats).size !== formats.length) return T.SipBadParameter;
    l.formats = formats.slice();
    return T.SipSuccess;
  }

  /** Receive and transmit volume of a line, 0..2048 (512 = 100 %); clipping saturates. */
  @procedure()
  setPhoneLineVolume(phoneLine: number, rxVolume: number, txVolume: number): T {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    const ok = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 2048;
    if (!ok(rxVolume) || !ok(txVolume)) return T.SipBadParameter;
    l.volume = { rx: rxVolume, tx: txVolume };
    l.media?.setVolume(rxVolume, txVolume);
    return T.SipSuccess;
  }

  /** Sends the audio received on a line back to the far end (a line test). */
  @procedure()
  setPhoneLineLoopBack(phoneLine: number, on: boolean): T {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (typeof on !== 'boolean') return T.SipBadParameter;
    // loopback would send a conferenced far end its own voice instead of the conference
    if (on && l.conferenced) return T.SipConferenceActive;
    l.loopback = on;
    l.media?.setLoopback(on);
    return T.SipSuccess;
  }

  /** Target delay of a line's jitter buffer in ms (20..1000; it adapts around it). */
  @procedure()
  setJitterTimeMs(phoneLine: number, ms: number): T {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 20 || ms > 1000) return T.SipBadParameter;
    l.jitter = { ...l.jitter, ms };
    l.media?.setJitter(ms);
    return T.SipSuccess;
  }

  /**
   * Opus settings of a line: `bitrate` (6000..510000 bit/s), `complexity` (0..10), `fec` (in-band
   * FEC in what we send), `dtx` (discontinuous transmission in silence) and `maxBandwidth`
   * (`narrowband` .. `fullband`); fields left out keep their value. They apply at once to a call
   * in progress and go into the Opus `a=fmtp` of the line's next offers and answers
   * (`useinbandfec`, `usedtx`, `maxaveragebitrate`, RFC 7587 §6.1). Received in-band FEC is used
   * whenever libopus loads, whatever these say.
   * @returns SipSuccess; SipBadParameter for an unknown field or a value out of range (nothing
   *   changes); SipBadPhoneLine for an unknown line; SipInvalidHandle for a detached `this`.
   */
  @procedure()
  setOpusSettings(phoneLine: number, settings: OpusSettings): T {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (!isValidOpusSettings(settings)) return T.SipBadParameter;
    const merged: OpusSettings = { ...l.opusSettings };
    for (const [k, v] of Object.entries(settings)) if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
    l.opusSettings = merged;
    l.media?.setOpusSettings(merged);
    return T.SipSuccess;
  }

  /** Turns a line's jitter buffer on or off (off: play packets as they come). */
  @procedure()
  setEnableJitter(phoneLine: number, on: boolean): T {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (typeof on !== 'boolean') return T.SipBadParameter;
    l.jitter = { ...l.jitter, enabled: on };
    l.media?.enableJitter(on);
    return T.SipSuccess;
  }

  /**
   * Gives every RTP packet of a line, both directions, to `callback`; setting
   * `processRtpPacket = false` in it drops the packet. Costs an allocation per packet while on.
   */
  @procedure()
  enableRawRtpPacketAccess(phoneLine: number, on: boolean, callback?: (data: RawRtpData) => void): T {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (typeof on !== 'boolean' || (on && typeof callback !== 'function')) return T.SipBadParameter;
    let failures = 0;
    l.rawRtpCallback = on ? (d: RawRtpData) => {
      try {
        // The same object goes to the application: its processRtpPacket = false must count.
        d.phoneLine = l.index;
        callback!(d);
      } catch (err) {
        // Per packet: logging every failure would flood the log, so 1st, 2nd, 4th, 8th ...
        if (isPowerOfTwo(++failures)) this.logger.error({ err, phoneLine: l.index, failures }, 'raw RTP callback threw');
      }
    } : undefined;
    l.media?.setRawRtpAccess(l.rawRtpCallback);
    return T.SipSuccess;
  }

  /** Details of the incoming call on a line. */
  @procedure({ fail: resultOnly })
  getIncomingCallInfo(phoneLine: number): IncomingCallInfoResult {
    const call = VoipMediaEngine.lineCall(this, phoneLine);
    if (typeof call === 'number') return { result: call };
    if (!call.incomingInfo) return { result: T.SipNoCallActive };
    return { result: T.SipSuccess, ...call.incomingInfo, source: { ...call.incomingInfo.source } };
  }

  /** Details of the outgoing call on a line. */
  @procedure({ fail: resultOnly })
  getOutgoingCallInfo(phoneLine: number): OutgoingCallInfoResult {
    const call = VoipMediaEngine.lineCall(this, phoneLine);
    if (typeof call === 'number') return { result: call };
    if (!call.outgoingInfo) return { result: T.SipNoCallActive };
    return { result: T.SipSuccess, ...call.outgoingInfo };
  }

  /** Why the last outgoing call on a line failed (kept after the call ends), LanScape's SIP_OUTGOING_CALL_ERROR_INFO. */
  @procedure({ fail: resultOnly })
  getOutgoingCallErrorInfo(phoneLine: number): OutgoingCallErrorInfoResult {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return { result: l };
    const info = l.call?.errorInfo ?? this.lastErrors.get(phoneLine);
    if (!info) return { result: T.SipNoCallActive };
    return { result: T.SipSuccess, ...info };
  }

  /** State, media and statistics of the call on a line. */
  @procedure({ fail: resultOnly })
  getActiveCallInfo(phoneLine: number): ActiveCallInfo {
    const call = VoipMediaEngine.lineCall(this, phoneLine);
    if (typeof call === 'number') return { result: call };
    const n = call.negotiated;
    const statistics = call.line.media?.stats();
    return {
      result: T.SipSuccess,
      callDirection: call.direction,
      connected: call.isConnected,
      durationMs: call.connectedAt ? Date.now() - call.connectedAt : 0,
      codec: n?.codec.name,
      payloadType: n?.codec.payloadType,
      remoteRtpAddress: n?.remoteAddress,
      remoteRtpPort: n?.remotePort,
      localRtpPort: call.media?.localPort,
      localHold: call.localHold,
      farEndHold: call.farEndHold,
      callId: call.dialog?.callId ?? call.outgoingInfo?.callId ?? call.incomingInfo?.callId,
      statistics,
      quality: statistics ? callQualityFromStats(statistics) : undefined,
    };
  }

  /**
   * The quality of the call on a line so far: ITU-T G.107 E-model R-factor and MOS from the
   * received RTP's loss, late discards and jitter, the RTCP round-trip time and the jitter
   * buffer's delay (see media/quality.ts for the model and the codec values). A LineScape
   * addition; SIP_CALL_COMPLETE carries the final figure as `data.quality`.
   * @returns SipSuccess with `quality`, or SipNoCallActive (also before any RTP arrived)
   */
  @procedure({ fail: resultOnly })
  getCallQuality(phoneLine: number): CallQualityResult {
    const call = VoipMediaEngine.lineCall(this, phoneLine);
    if (typeof call === 'number') return { result: call };
    const stats = call.line.media?.stats();
    const quality = stats ? callQualityFromStats(stats) : undefined;
    return quality ? { result: T.SipSuccess, quality } : { result: T.SipNoCallActive };
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
  playWaveFile(phoneLine: number, path: string, loop: boolean): T {
    const call = VoipMediaEngine.lineCall(this, phoneLine);
    if (typeof call === 'number') return call;
    if (typeof path !== 'string' || !path || typeof loop !== 'boolean') return T.SipBadParameter;
    const media = call.line.media;
    if (!media) return T.SipNoCallActive;
    const r = media.playWave(path, loop, (reason) => this.notifier.line(phoneLine, T.SipBadAudioDataType, { path, reason }));
    return r === 'ok' ? T.SipSuccess : r === 'not-found' ? T.SipBadParameter : T.SipBadAudioDataType;
  }

  /** Stops a WAV file playing on a line. */
  @procedure()
  stopWaveFile(phoneLine: number): T {
    const call = VoipMediaEngine.lineCall(this, phoneLine);
    if (typeof call === 'number') return call;
    call.line.media?.stopWave();
    return T.SipSuccess;
  }

  /**
   * Opens a stream of the audio received on a line: 16-bit little-endian mono PCM at
   * `sampleRate` (8000, 16000 or 48000), one 20 ms chunk per chunk.
   */
  @procedure({ fail: resultOnly })
  openRxIvrChannel(phoneLine: number, options: { sampleRate?: number } = {}): IvrChannelResult<Readable> {
    const call = VoipMediaEngine.lineCall(this, phoneLine);
    if (typeof call === 'number') return { result: call };
    const rate = options?.sampleRate ?? 8000;
    if (rate !== 8000 && rate !== 16000 && rate !== 48000) return { result: T.SipBadParameter };
    const media = call.line.media;
    if (!media) return { result: T.SipNoCallActive };
    return { result: T.SipSuccess, channel: media.openRx(rate) };
  }

  /**
   * Opens a stream the application writes 16-bit little-endian mono PCM into, at `sampleRate`
   * (8000, 16000 or 48000): it is sent to the far end of the line. LanScape distinguishes
   * in-call and on-hold data: a channel opened with `onHold: true` plays only while we hold the
   * call (music on hold), an ordinary one only while we do not (it pauses during hold).
   */
  @procedure({ fail: resultOnly })
  openTxIvrChannel(phoneLine: number, options: TxIvrChannelOptions = {}): IvrChannelResult<Writable> {
    const call = VoipMediaEngine.lineCall(this, phoneLine);
    if (typeof call === 'number') return { result: call };
    const rate = options?.sampleRate ?? 8000;
    if (rate !== 8000 && rate !== 16000 && rate !== 48000) return { result: T.SipBadParameter };
    const media = call.line.media;
    if (!media) return { result: T.SipNoCallActive };
    if (options?.onHold !== undefined && typeof options.onHold !== 'boolean') return { result: T.SipBadParameter };
    return { result: T.SipSuccess, channel: media.openTx(rate, options?.onHold === true) };
  }

  /** Closes a receive IVR channel. */
  @procedure({ started: false })
  closeRxIvrChannel(channel: Readable): T {
    if (!channel || typeof (channel).destroy !== 'function') return T.SipIvrBadChannel;
    channel.destroy();
    return T.SipSuccess;
  }

  /** Closes a transmit IVR channel. */
  @procedure({ started: false })
  closeTxIvrChannel(channel: Writable): T {
    if (!channel || typeof (channel).end !== 'function') return T.SipIvrBadChannel;
    channel.end();
    return T.SipSuccess;
  }

  // ---------------------------------------------------------------- mixer, local audio, recording

  /** A line for the mixer and recording procedures; static, so a detached call still gets a code. */
  private static audioLine(self: unknown, phoneLine: number): PhoneLine | T {
    const l = VoipMediaEngine.line(self, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    return (self as VoipMediaEngine).audio ? l : T.SipMediaEngineNotInitialized;
  }

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
  conferenceLine(phoneLine: number, on: boolean): T {
    const l = VoipMediaEngine.audioLine(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (typeof on !== 'boolean') return T.SipBadParameter;
    return this.audio!.conferenceLine(l, on);
  }

  /**
   * Chooses the conference groups a line joins while conferenced (default `['default']`, the
   * one conference of LanScape). Lines sharing an id hear each other, so several independent
   * conferences run at once; a line in several groups hears (and is heard by) all of them, each
   * voice once. Takes effect at once, also mid-conference (with a one-frame fade, no click).
   * @param ids - 1..16 non-empty ids of at most 64 characters.
   */
  @procedure()
  setConferenceGroupIds(phoneLine: number, ids: string[]): T {
    const l = VoipMediaEngine.audioLine(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    return this.audio!.setConferenceGroupIds(l, ids);
  }

  /**
   * Sends the local microphone straight to the local loudspeaker as well (a sound-card check).
   * @returns SipAudioOutFailure when the engine has no local audio device.
   */
  @procedure()
  setLocalAudioLoopback(on: boolean): T {
    return VoipMediaEngine.audioSwitch(this, on, (a, v) => a.setLocalAudioLoopback(v));
  }

  /**
   * Calls `callback` every `intervalMs` (default 100, 20..10000) with the peak and RMS levels of
   * the line's received and sent audio, for VU meters; `null` removes it. The setting stays with
   * the line across calls. The data object is reused: copy what you keep.
   */
  @procedure()
  setPhoneLineVuMeterCallback(phoneLine: number, callback: VuMeterCallback | null, intervalMs?: number): T {
    const l = VoipMediaEngine.audioLine(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    return this.audio!.setVuMeterCallback(l, callback, intervalMs);
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
    const l = VoipMediaEngine.audioLine(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    return this.audio!.startRecording(l, recordToFile, recordFileRaw, directory, callback);
  }

  /** Stops the recording of a line (SipCallRecordAlreadyStopped when none runs). */
  @procedure()
  stopPhoneLineRecording(phoneLine: number): T {
    const l = VoipMediaEngine.audioLine(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    return this.audio!.stopRecording(l);
  }

  /** Plays (or stops) dial tone on the local loudspeaker. SipAudioOutFailure without one. */
  @procedure()
  enableDialTone(on: boolean): T {
    return VoipMediaEngine.audioSwitch(this, on, (a, v) => a.enableDialTone(v));
  }

  /**
   * The shape of every on/off audio procedure: a foreign `this` (SipInvalidHandle), a stopped
   * engine, a non-boolean, then the audio keeper. Static, so a detached call still gets a code.
   */
  private static audioSwitch(self: unknown, on: unknown, apply: (audio: EngineAudio, on: boolean) => T): T {
    if (!isEngine(self)) return T.SipInvalidHandle;
    if (!self.audio) return T.SipMediaEngineNotInitialized;
    if (typeof on !== 'boolean') return T.SipBadParameter;
    return apply(self.audio, on);
  }


  /** Ring-back on the local loudspeaker while an outgoing call rings (default on). */
  @procedure()
  enableRingBackTone(on: boolean): T {
    return VoipMediaEngine.audioSwitch(this, on, (a, v) => a.setToneEnabled('ringBack', v));
  }

  /** Busy signal on the local loudspeaker when the far end is busy (default on). */
  @procedure()
  enableBusySignal(on: boolean): T {
    return VoipMediaEngine.audioSwitch(this, on, (a, v) => a.setToneEnabled('busy', v));
  }

  /** Error (reorder) tone on the local loudspeaker when a call fails (default on). */
  @procedure()
  enableErrorSignal(on: boolean): T {
    return VoipMediaEngine.audioSwitch(this, on, (a, v) => a.setToneEnabled('error', v));
  }

  /** Ringing on the local loudspeaker for incoming calls (default on). */
  @procedure()
  enableIncomingRing(on: boolean): T {
    return VoipMediaEngine.audioSwitch(this, on, (a, v) => a.setToneEnabled('incomingRing', v));
  }

  /**
   * The audio devices PortAudio sees, with their zero-based ids for `zeroBasedAudioInDeviceId`
   * / `zeroBasedAudioOutDeviceId`. Loads naudiodon; works without a started engine.
   */
  @procedure({ async: true, started: false, fail: (result: T) => ({ result, devices: [] as AudioDeviceListResult['devices'] }) })
  async getAudioDeviceList(): Promise<AudioDeviceListResult> {
    return EngineAudio.deviceList();
  }

  /**
   * Acoustic echo cancellation of the local microphone (libspeexdsp; on by default when the
   * engine has both a capture and a playback device): removes what the loudspeaker plays from
   * what the microphone picks up, so far ends do not hear themselves. A headset needs none.
   * @returns SipNativeLibraryMissing without libspeexdsp; SipAudioInFailure without both devices.
   */
  @procedure()
  enableEchoCancellation(on: boolean): T {
    return VoipMediaEngine.audioSwitch(this, on, (a, v) => a.echoCancellation(v));
  }

  /** Counters of the local audio device and its capture processing (a LineScape addition). */
  @procedure({ fail: resultOnly })
  getLocalAudioStatistics(): LocalAudioStatisticsResult {
    if (!this.audio) return { result: T.SipMediaEngineNotInitialized };
    return this.audio.localStats();
  }

  /**
   * LanScape's noise discrimination on the local microphone: with it on, frames the
   * preprocessor classifies as noise are sent as silence. Needs libspeexdsp
   * (SipNativeLibraryMissing) and a capture device (SipAudioInFailure).
   */
  @procedure()
  setNoiseDiscriminationEnableState(on: boolean): T {
    return VoipMediaEngine.audioSwitch(this, on, (a, v) => a.noise((_pp, port) => port.setNoiseDiscrimination(v)));
  }

  /**
   * The level in dBFS (−96..0) below which captured audio is noise whatever the voice detector
   * says (LanScape's noise threshold).
   */
  @procedure()
  setNoiseThreshold(db: number): T {
    if (!this.audio) return T.SipMediaEngineNotInitialized;
    if (typeof db !== 'number' || !Number.isFinite(db) || db < -96 || db > 0) return T.SipBadParameter;
    return this.audio.noise((pp) => pp.setNoiseThreshold(db));
  }

  /** Speex noise suppression on the local microphone (default off). Same codes as the noise settings. */
  @procedure()
  enableNoiseSuppression(on: boolean): T {
    return VoipMediaEngine.audioSwitch(this, on, (a, v) => a.noise((pp) => pp.setDenoise(v)));
  }

  /** Automatic gain control on the local microphone (default off). Same codes as the noise settings. */
  @procedure()
  enableAutomaticGainControl(on: boolean): T {
    return VoipMediaEngine.audioSwitch(this, on, (a, v) => a.noise((pp) => pp.setAgc(v)));
  }

  /** How long (0..5000 ms) voice is assumed to go on after the last voice frame (hangover). */
  @procedure()
  setSilenceDecay(ms: number): T {
    if (!this.audio) return T.SipMediaEngineNotInitialized;
    if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > 5000) return T.SipBadParameter;
    return this.audio.noise((pp) => pp.setSilenceDecay(ms));
  }

  // ---- transfer (issue 5) ----

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
    return this.transfers.transferLine(userOrNumber, destAddress, destSipPort, phoneLine);
  }

  /**
   * Blind transfer to a SIP URI (LanScape's TransferLineUri). With `useProxy` the target is named
   * at the SIP domain so the transferee reaches it through its proxy (SipProxyNotEnabled without
   * a proxy, SipDomainNameNotDefined without a domain). A URI carrying `?Replaces=...` makes it
   * an attended transfer to a dialog the application knows (see {@link VoipMediaEngine.getCallDialogInfo}).
   */
  @procedure()
  transferLineUri(sipUri: string, useProxy: boolean, phoneLine: number): T {
    return this.transfers.transferLineUri(sipUri, useProxy, phoneLine);
  }

  /**
   * Attended transfer: asks the far end of `phoneLine` to call the far end of `targetPhoneLine`
   * with a Replaces header naming that call, so they talk to each other and both our calls
   * end. Same events as {@link VoipMediaEngine.transferLine}.
   */
  @procedure()
  attendedTransfer(phoneLine: number, targetPhoneLine: number): T {
    return this.transfers.attendedTransfer(phoneLine, targetPhoneLine);
  }

  /**
   * Accepts a REFER announced by SipReceivedRefer (when farEndCallTransferEnabled is false): 202,
   * then the new call on a free line, its progress reported to the transferor in NOTIFYs; after
   * a success the original call ends.
   * @returns SipSuccess; SipInvalidHandle for an unknown or already answered referId; SipLineCapacityReached when no line is free (the REFER gets 503)
   */
  @procedure()
  acceptRefer(referId: number, referSipMessage: string): T {
    return this.transfers.acceptRefer(referId, referSipMessage);
  }

  /** Refuses a REFER announced by SipReceivedRefer with 603 Declined; the call stays as it is. */
  @procedure()
  rejectRefer(referId: number): T {
    return this.transfers.rejectRefer(referId);
  }

  /** Call-ID and tags of a line's call: what a Replaces header naming it holds (a LineScape addition). */
  @procedure({ fail: resultOnly })
  getCallDialogInfo(phoneLine: number): CallDialogInfo {
    return this.transfers.getCallDialogInfo(phoneLine);
  }

  private transferHost(): TransferHost {
    return {
      stack: () => this.stack,
      calls: () => this.calls,
      lines: () => this.lines,
      clock: () => this.clock,
      notify: (line, event, data) => this.notifier.lineUnchecked(line, event, data),
      immediate: (line, event, data) => this.notifier.immediateUnchecked(line, event, data),
      autoAccept: () => this.params?.farEndCallTransferEnabled ?? true,
      proxy: () => this.proxy,
      outboundProxy: () => this.outboundProxyRoute(),
      domain: () => this.domain,
      transport: () => this.params?.sipTransport ?? 'UDP',
      resolve: (host) => resolveHost(host),
      localUri: (line) => this.contactUri(this.userForLine(line)),
      placeCall: async (line, target) => {
        if (!this.calls) return T.SipMediaEngineNotInitialized;
        return CallClass.outgoing(this.calls.services, line, target, formatSpecs(line.formats, line.opusSettings), line.fromUserName ?? this.userForLine(line), this.params?.phoneDisplayName ?? '');
      },
    };
  }

  // ---------------------------------------------------------------- registrar role and incoming requests

  /** Bindings accepted in the registrar role. */
  @procedure({ fail: (result: T) => ({ result, bindings: [] as RegistrarBinding[] }) })
  getRegistrarBindings(): RegistrarBindingsResult {
    return { result: T.SipSuccess, bindings: this.registrar.bindings() };
  }

  /**
   * Builds the router: each module registers its capabilities and its out-of-dialog handlers
   * (one per method); the dialogs' usages attach themselves as dialogs come and go.
   */
  private newRouter(): DialogRouter {
    const router = new DialogRouter({
      createResponse: (req, status, reason, options) => this.stack!.createResponse(req, status, reason, options),
      capabilities: this.capabilities,
    });
    return router
      .module('calls', CALL_CAPABILITY, {
        // An INVITE naming a call to replace is transfer's (RFC 3891 §3); any other is a new call.
        INVITE: (req, tx, from) => (req.headers.has('Replaces') ? this.transfers.onReplacesInvite(req, tx) : this.calls?.onNewInvite(req, tx, from)),
        CANCEL: (req, tx) => this.calls?.onCancel(req, tx),
        OPTIONS: (req, tx) => this.onOptions(req, tx),
      })
      .module('transfer', TRANSFER_CAPABILITY)
      .module('messaging', MESSAGING_CAPABILITY, { MESSAGE: (req, tx) => this.messaging.onOutOfDialog(req, tx) })
      .module('subscriptions', SUBSCRIPTION_CAPABILITY, {
        SUBSCRIBE: (req, tx) => this.subscriptions.onSubscribe(req, tx),
        NOTIFY: (req, tx) => this.subscriptions.onUnknownNotify(req, tx),
      })
      .module('registrar', REGISTRAR_CAPABILITY, { REGISTER: (req, tx, from) => this.registrar.handleRegister(req, tx, from) })
      .onUnknownDialog('NOTIFY', (req, tx) => this.subscriptions.onUnknownNotify(req, tx));
  }

  private onRequest(req: SipRequest, tx: ServerTransaction, from: Endpoint): void {
    const stack = this.stack;
    if (!stack) return;
    try {
      // The challenge screen stands in front of the router (engine/challenge.ts).
      if (this.challenge.onRequest(stack, req, tx, from)) return;
      this.router.route(req, tx, from);
    } catch (err) {
      // Whatever went wrong with this request, the engine keeps serving the others.
      try {
        tx.respond(stack.createResponse(req, 500, 'Server Internal Error', { toTag: true }));
      } catch {
        /* nothing more to do */
      }
      this.internalError(err, `request ${req.method} failed`);
    }
  }

  /** OPTIONS outside a dialog: what this engine implements. */
  private onOptions(req: SipRequest, tx: ServerTransaction): void {
    const res = this.stack!.createResponse(req, 200, 'OK', { toTag: true });
    this.capabilities.addHeaders(res.headers, ['Allow', 'Accept']);
    res.headers.append('Accept-Encoding', 'identity');
    res.headers.append('Accept-Language', 'en');
    this.capabilities.addHeaders(res.headers, ['Supported', 'Allow-Events']);
    tx.respond(res);
  }

  private onParseError(err: SipParseError, raw: Buffer, from: Endpoint): void {
    this.notifier.global(T.SipReceivedSipMessageParseError, {
      reason: err.reason,
      source: { protocol: from.protocol, host: from.host, port: from.port },
      message: raw.subarray(0, 2048).toString('latin1'),
    });
  }

  // ---- messaging (issue 5) ----

  private messagingHost(): MessagingHost {
    return {
      stack: () => this.stack,
      lineCall: (phoneLine) => VoipMediaEngine.lineCall(this, phoneLine),
      identity: () => {
        const a = this.advertisedAddress();
        return { user: this.params?.phoneName ?? 'linescape', displayName: this.params?.phoneDisplayName ?? '', host: this.domain ?? hostPort(a.host, a.port) };
      },
      proxy: () => (this.proxy ? { protocol: this.params!.sipTransport, host: this.proxy.host, port: this.proxy.port } : undefined),
      transport: () => this.params?.sipTransport ?? 'UDP',
      resolve: (host) => resolveHost(host),
      uac: this.uacFor('msg:'),
      line: (phoneLine, event, data) => this.notifier.lineUnchecked(phoneLine, event, data),
      global: (event, data) => this.notifier.globalUnchecked(event, data),
    };
  }

  private resetMessaging(): void {
    this.messaging.reset();
    this.challenge.reset();
    this.sipHooks.reset();
  }

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
   *
   * @example
   * ```ts
   * const { result, messageId } = engine.sendMessage(0, 'text', 'plain', 'hello');
   * engine.on('SipSendMessageSuccess', (n) => console.log('delivered', n.data));
   * ```
   */
  @procedure({ fail: (result: T) => ({ result, messageId: 0 }) })
  sendMessage(phoneLine: number, mimeType: string, subMimeType: string, body: string | Buffer): SendMessageResult {
    return this.messaging.sendMessage(phoneLine, mimeType, subMimeType, body);
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
  @procedure({ fail: (result: T) => ({ result, messageId: 0 }) })
  sendOutOfDialogMessage(to: string, mimeType: string, subMimeType: string, body: string | Buffer): SendMessageResult {
    return this.messaging.sendOutOfDialogMessage(to, mimeType, subMimeType, body);
  }

  /**
   * Largest body accepted in an incoming MESSAGE (default 64 KiB); larger ones are answered
   * 413 Request Entity Too Large. A LineScape addition.
   */
  @procedure()
  setMaxMessageBodySize(bytes: number): T {
    return this.messaging.setMaxBodySize(bytes);
  }

  /**
   * Content types accepted in incoming MESSAGEs, e.g. `['text/plain', 'application/*']`; any
   * other type is refused with 415 Unsupported Media Type (with an Accept header listing these).
   * An empty list, or `'*'`, accepts every type (the default). A LineScape addition: this is how
   * an application refuses a type, because the receive events are not immediate.
   */
  @procedure()
  setAcceptedMessageMimeTypes(mimeTypes: string[]): T {
    return this.messaging.setAcceptedMimeTypes(mimeTypes);
  }

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
  setChallengeAuthenticationState(on: boolean, realm?: string): T {
    return this.challenge.setState(on, realm);
  }

  /**
   * Checks, from a SipIncomingAuthentication handler, the digest of the request behind `data`
   * against `password` (constant-time). On success it sets `data.authorizationGranted`.
   *
   * @returns SipSuccess (granted), SipCallFailure (wrong credentials), SipInvalidHandle (`data` is not from a pending notification)
   */
  @procedure()
  verifyChallengeResponse(data: IncomingAuthenticationData, password: string): T {
    return this.challenge.verify(data, password);
  }

  /** How long a challenge nonce stays valid, in seconds (default 300); older answers get `stale=true`. */
  @procedure()
  setAuthCredentialExpireTime(seconds: number): T {
    return this.challenge.setExpireTime(seconds);
  }

  /**
   * Turns the immediate SipModifySipMessage notification on or off (off by default: turning it
   * on costs serializing every message). While on, every message sent for the first time and
   * every message received, before the engine acts on it, is raised with
   * {@link ModifySipMessageData}: the handler may rewrite `message`, set `drop`, or change the
   * `destination` of a sent one. A handler that throws leaves the message unchanged.
   */
  @procedure()
  enableSipMessageHook(on: boolean): T {
    if (!this.stack) return T.SipMediaEngineNotInitialized; // narrows the type (the guard checked it)
    if (typeof on !== 'boolean') return T.SipBadParameter;
    return this.sipHooks.enable(this.stack, on);
  }

  // ---- presence (issue 5) ----

  /** Generic event subscriptions and the SUBSCRIBE/NOTIFY router (engine/eventSubscriptions.ts). */
  private readonly subscriptions = new EventSubscriptions({
    clock: () => this.clock,
    stack: () => this.stack,
    notifier: () => this.notifier,
    user: () => this.params?.phoneName ?? 'linescape',
    displayName: () => this.params?.phoneDisplayName ?? '',
    contactUri: (user) => this.contactUri(user),
    advertisedHost: () => this.advertisedAddress().host,
    transport: () => this.params?.sipTransport ?? 'UDP',
    proxy: () => (this.proxy ? { protocol: this.params!.sipTransport, host: this.proxy.host, port: this.proxy.port } : undefined),
    domain: () => this.domain,
    uac: this.uacFor('sub:'),
    capabilities: this.capabilities,
    router: this.router,
  });

  /** Presence agent (engine/presence.ts). */
  private readonly presence = new PresenceService(this.subscriptions);

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
    return this.presence.presenceSubscribe(contact, subject, expireSeconds);
  }

  /** Stops watching a contact (SUBSCRIBE Expires: 0). SipInvalidHandle when not watched. */
  @procedure({ async: true })
  presenceUnsubscribe(contact: string): Promise<T> {
    return this.presence.presenceUnsubscribe(contact);
  }

  /** Authorizes the watcher of a SipPresenceRecvSubscribe: it gets the current status now and every change later. */
  @procedure()
  presenceAcceptSubscribe(subscribeId: number): T {
    return this.presence.presenceAcceptSubscribe(subscribeId);
  }

  /** Refuses the watcher of a SipPresenceRecvSubscribe (NOTIFY terminated;reason=rejected). */
  @procedure()
  presenceRejectSubscribe(subscribeId: number): T {
    return this.presence.presenceRejectSubscribe(subscribeId);
  }

  /** Online with a status text: NOTIFY (PIDF open + note) to every accepted watcher, PUBLISH to the presence server. */
  @procedure()
  setPresenceStatus(text: string): T {
    return this.presence.setPresenceStatus(text);
  }

  /** Offline: NOTIFY (PIDF closed) to every accepted watcher, PUBLISH to the presence server. */
  @procedure()
  presenceOffline(): T {
    return this.presence.presenceOffline();
  }

  /**
   * Publishes the presence status with PUBLISH (RFC 3903) to a presence server from now on,
   * refreshed before it expires; digest challenges are answered with addAuthorizationCredentials.
   */
  @procedure({ async: true })
  setPresenceServer(address: string, port: number, expireSeconds?: number): Promise<T> {
    return this.presence.setPresenceServer(address, port, expireSeconds);
  }

  /** Removes the published status (PUBLISH Expires: 0) and stops publishing. */
  @procedure({ async: true })
  disablePresenceServer(): Promise<T> {
    return this.presence.disablePresenceServer();
  }

  /** Contacts this engine watches. */
  @procedure({ fail: (result: T) => ({ result, subscriptions: [] as PresenceSubscriptionsResult['subscriptions'] }) })
  getPresenceSubscriptions(): PresenceSubscriptionsResult {
    return this.presence.getPresenceSubscriptions();
  }

  /** Watchers of this engine. */
  @procedure({ fail: (result: T) => ({ result, watchers: [] as PresenceWatchersResult['watchers'] }) })
  getPresenceWatchers(): PresenceWatchersResult {
    return this.presence.getPresenceWatchers();
  }

  /** State of the PUBLISH to the presence server. */
  @procedure({ fail: (result: T) => ({ result, etag: '', grantedExpires: 0, refreshCount: 0, lastStatusCode: 0 }) })
  getPresencePublication(): PresencePublicationResult {
    return this.presence.getPresencePublication();
  }

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
  @procedure({ async: true, fail: (result: T) => ({ result, handle: 0 }) })
  startEventSubscription(targetUri: string, eventPackage: string, acceptType: string, expireSeconds: number, useProxy?: boolean): Promise<EventSubscriptionResult> {
    return this.subscriptions.startEventSubscription(targetUri, eventPackage, acceptType, expireSeconds, useProxy);
  }

  /** LanScape's StopEventSubscription: unsubscribes (Expires: 0) and frees the handle. */
  @procedure()
  stopEventSubscription(handle: number): T {
    return this.subscriptions.stopEventSubscription(handle);
  }

  /** LanScape's TriggerSubscription: refreshes a subscription now. */
  @procedure()
  triggerSubscription(handle: number): T {
    return this.subscriptions.triggerSubscription(handle);
  }

  /**
   * LanScape's SendEventNotification: NOTIFY `body` to the subscriber of `notifyHandle`
   * (from SipSubscriptionReceived). SipSuccess on 2xx, SipEventNotifyNotAccepted on an error
   * answer, SipEventNotifyResponseTimeOut when unanswered within `timeoutMs`.
   */
  @procedure({ async: true })
  sendEventNotification(notifyHandle: number, body: string | Buffer, timeoutMs: number, contentType?: string): Promise<T> {
    return this.subscriptions.sendEventNotification(notifyHandle, body, timeoutMs, contentType);
  }

  /** LanScape's CloseNotifyHandle: ends the subscription (NOTIFY terminated;reason=noresource). */
  @procedure()
  closeNotifyHandle(notifyHandle: number): T {
    return this.subscriptions.closeNotifyHandle(notifyHandle);
  }

  /** LanScape's SetReceivedUnsolicitedNotifyState: raise NOTIFYs outside any subscription as SipEventNotifyReceived (off: 481). */
  @procedure()
  setReceivedUnsolicitedNotifyState(on: boolean): T {
    return this.subscriptions.setReceivedUnsolicitedNotifyState(on);
  }
}

function stripUndefined<O extends object>(o: O): Partial<O> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<O>;
}

function isUint(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

function validateStartParams(p: ResolvedParams): T {
  const int = (n: unknown, lo: number, hi: number) => typeof n === 'number' && Number.isInteger(n) && n >= lo && n <= hi;
  if (!int(p.numPhoneLinesRequested, 1, 1024)) return T.SipBadParameter;
  if (typeof p.ipAddressOfThisHost !== 'string' || !isIP(p.ipAddressOfThisHost)) return T.SipBadParameter;
  if (!int(p.sipPort, 0, 65535)) return T.SipBadParameter;
  if (!int(p.minLocalRtpPort, 1024, 65534) || !int(p.maxLocalRtpPort, 1025, 65535) || p.maxLocalRtpPort <= p.minLocalRtpPort) {
    return T.SipBadParameter;
  }
  if (!isSipUser(p.phoneName)) return T.SipBadParameter;
  if (typeof p.phoneDisplayName !== 'string' || p.phoneDisplayName.length > 128) return T.SipBadParameter;
  for (const id of [p.zeroBasedAudioInDeviceId, p.zeroBasedAudioOutDeviceId]) {
    if (!int(id, SIP_AUDIO_DEVICE_NOT_USED, 1023)) return T.SipBadParameter;
    void SIP_USE_PREFERED_AUDIO_DEVICE;
  }
  if (!int(p.callAnswerTimeoutSeconds, 1, 4_294_967)) return T.SipBadParameter;
  if (!int(p.sipT1Ms, 1, 60_000) || !int(p.sipT2Ms, p.sipT1Ms, 600_000) || !int(p.sipT4Ms, 0, 600_000)) return T.SipBadParameter;
  if (p.sipTransport !== 'UDP' && p.sipTransport !== 'TCP') return T.SipBadParameter;
  if (p.conferenceSampleRate !== 8000 && p.conferenceSampleRate !== 16000 && p.conferenceSampleRate !== 48000) return T.SipBadParameter;
  if (p.userNotifyCallbackProc !== undefined && typeof p.userNotifyCallbackProc !== 'function') return T.SipBadParameter;
  if (p.sipLogFile !== undefined && (typeof p.sipLogFile !== 'string' || !p.sipLogFile)) return T.SipBadParameter;
  if (p.logger !== undefined && !isLogger(p.logger)) return T.SipBadParameter;
  if (typeof p.lineMode !== 'number' || (p.lineMode !== LineMode.PhoneLine && p.lineMode !== LineMode.SwitchLine)) return T.SipBadParameter;
  for (const b of [
    p.useSequentialRtpPorts,
    p.callConferenceEnabled,
    p.farEndCallTransferEnabled,
    p.randomlyAssignIncomingCallsToPhoneLines,
    p.dtmfEnabled,
    p.enablePhoneLineRecording,
    p.logSipMessages,
  ]) {
    if (typeof b !== 'boolean') return T.SipBadParameter;
  }
  return T.SipSuccess;
}
