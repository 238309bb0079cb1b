/**
 * The `VoipMediaEngine` facade: LanScape's procedures with LanScape's parameter order and
 * return codes, routing to the floors below (lines, SIP stack). Thin by design.
 * @module
 */
import type { Logger } from 'pino';
import type { Readable, Writable } from 'node:stream';
import { isIP } from 'node:net';
import { realClock, type Clock, type TimerHandle } from '../sip/clock.js';
import { CredentialStore, DigestClient } from '../sip/digest.js';
import type { SipRequest, SipResponse, SipParseError } from '../sip/message.js';
import { SipStack } from '../sip/stack.js';
import type { ServerTransaction } from '../sip/transaction.js';
import type { Endpoint } from '../sip/transport.js';
import { PhoneLine, type RecordedCallState } from '../lines/phoneLine.js';
import { CallManager, type CallManagerHost } from '../lines/callManager.js';
import { TransferManager, type TransferHost, type CallDialogInfo } from '../lines/transfer.js';
import type { Call, CallMedia, IncomingCallInfo, OutgoingCallInfo, OutgoingCallErrorInfo } from '../lines/call.js';
import { Call as CallClass } from '../lines/call.js';
import { MediaClock, type MediaClockStats } from '../media/mediaClock.js';
import { RtpPortAllocator } from '../media/rtpSocket.js';
import { isValidDtmfString, buildDtmfRelayBody, parseDtmfInfoBody } from '../media/dtmf.js';
import { isValidOpusSettings, type OpusSettings } from '../media/opus.js';
import { parseUri } from '../sip/grammar.js';
import { callQualityFromStats, type CallQuality } from '../media/quality.js';
import { EngineMetrics, type MetricsOptions } from './metrics.js';
import type { Registry } from 'prom-client';
import { openLineMedia, formatSpecs, isAudioFormat, type RawRtpData } from '../lines/lineMedia.js';
import { answerChallenge } from './auth.js';
import { EngineAudio, type AudioDeviceListResult, type LocalAudioStatisticsResult, type VuMeterCallback } from './audio.js';
import type { RecordCallback } from '../media/callRecorder.js';
import { hostPort, isPort, isSipUser, resolveHost } from './hosts.js';
import { Notifier } from './notifier.js';
import type { EngineEventMap, Notification, NotificationDataMap } from './notifications.js';
import { TypedEventEmitter } from './typedEmitter.js';
import { defaultLogger, isLogger, isPowerOfTwo } from './logger.js';
import { attachSipLogger } from './sipLog.js';
import { Messaging, type MessagingHost, type SendMessageResult } from './messaging.js';
import { ChallengeAuthenticator, type IncomingAuthenticationData } from './challenge.js';
import { SipMessageHooks, type ModifySipMessageData } from './sipHooks.js';
import { Registrar } from './registrar.js';
import { RegistrationClient, type RegistrationStatus, type RegisterTxUser } from './registration.js';
import { TelephonyReturnValue as T } from './returnCodes.js';
import { EventSubscriptions, type EventSubscriptionResult } from './eventSubscriptions.js';
import { PresenceService, type PresenceSubscriptionsResult, type PresenceWatchersResult, type PresencePublicationResult } from './presence.js';
import {
  CallDirection,
  CallHoldType,
  LineMode,
  DtmfMethod,
  MediaFormatAudio,
  DEFAULT_START_PARAMS,
  LineState,
  SIP_AUDIO_DEVICE_NOT_USED,
  SIP_USE_PREFERED_AUDIO_DEVICE,
  type RegisterReceivedData,
  type RegistrarBinding,
  type StartSipTelephonyParams,
} from './types.js';

/** Version of this engine (getMediaEngineVersionInfo). */
export const LINESCAPE_VERSION = '0.1.0';

/** Most unique names one engine registers at once (one registration worker each). */
export const MAX_REGISTRATION_WORKERS = 1024;

/** Methods the engine answers today; the Allow header is built from this list. */
const ALLOWED_METHODS = ['INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'INFO', 'REGISTER', 'MESSAGE', 'SUBSCRIBE', 'NOTIFY', 'REFER'];

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
  private proxy?: ServerAddress;
  private outboundProxy?: ServerAddress;
  private domain?: string;
  private registration?: RegistrationClient;
  private registrar: Registrar;
  private registrationRetryMs = 30_000;
  private publicHost?: string;
  private publicPort?: number;
  private readonly keepAlives = new Map<string, { timer?: TimerHandle; dest: Endpoint; seconds: number }>();
  private natKeepAlive?: { sip: boolean; rtp: boolean; natSessionTimeMs: number; timer?: TimerHandle };
  private randomAssign = false;
  private callAnswerTimeoutSeconds = 60;
  private starting = false;
  private stopSipLog?: () => void;
  /** Prometheus metrics, while enabled; `metricsBusy` guards an enable or disable in progress. */
  private metrics?: EngineMetrics;
  private metricsBusy = false;
  private mediaClock?: MediaClock;
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

  private newRegistrar(): Registrar {
    return new Registrar(
      this.clock,
      this.options.registrarDefaultExpires ?? 3600,
      this.options.registrarMaxExpires ?? 7200,
      this.options.registrarMinExpires ?? 0,
    );
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
  async startSipTelephony(params: StartSipTelephonyParams = {}): Promise<T> {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
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
      this.randomAssign = p.randomlyAssignIncomingCallsToPhoneLines;
      this.callAnswerTimeoutSeconds = p.callAnswerTimeoutSeconds;
      this.publicHost = undefined;
      this.publicPort = undefined;
      this.mediaClock = new MediaClock({});
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
        this.mediaClock,
      );
      if (typeof audio === 'number') {
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
  async stopSipTelephony(): Promise<T> {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
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
    for (const key of [...this.keepAlives.keys()]) this.stopKeepAlive(key);
    if (this.natKeepAlive) this.clock.clearTimer(this.natKeepAlive.timer);
    this.natKeepAlive = undefined;
    this.registrar.clear();
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
  getSipPort(): number {
    return this.stack?.localEndpoint('UDP').port ?? 0;
  }

  /**
   * Health of the engine's single media clock (ticks, late and skipped ticks, interval jitter
   * p99): what says whether the process keeps up with the calls it carries. A LineScape addition.
   */
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
  async enableMetrics(options: MetricsOptions = {}): Promise<EnableMetricsResult> {
    if (!(this instanceof VoipMediaEngine)) return { result: T.SipInvalidHandle };
    if (options === null || typeof options !== 'object') return { result: T.SipBadParameter };
    const { port, host } = options;
    if (port !== undefined && (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)) {
      return { result: T.SipBadParameter };
    }
    if (host !== undefined && (typeof host !== 'string' || !isIP(host))) return { result: T.SipBadParameter };
    if (this.metrics || this.metricsBusy) return { result: T.SipAlreadyEnabled };
    this.metricsBusy = true;
    try {
      const m = await EngineMetrics.create(this.metricsSource(), { port, host });
      if (typeof m === 'number') return { result: m };
      this.metrics = m;
      m.setStack(this.stack);
      return port === undefined ? { result: T.SipSuccess } : { result: T.SipSuccess, port: m.port };
    } finally {
      this.metricsBusy = false;
    }
  }

  /** Turns metrics off: closes the endpoint and drops the registry. SipNotEnabled when they were off. */
  async disableMetrics(): Promise<T> {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    const m = this.metrics;
    if (!m || this.metricsBusy) return T.SipNotEnabled;
    this.metrics = undefined;
    await m.close();
    return T.SipSuccess;
  }

  /** The engine's own prom-client Registry while metrics are on, to serve from the application's server. */
  getMetricsRegistry(): MetricsRegistryResult {
    if (!(this instanceof VoipMediaEngine)) return { result: T.SipInvalidHandle };
    return this.metrics ? { result: T.SipSuccess, registry: this.metrics.registry } : { result: T.SipNotEnabled };
  }

  /** What the metrics read at scrape time; closures, so a restart of the engine is followed. */
  private metricsSource() {
    return {
      lineStates: () => this.lines.map((l) => l.state),
      registrationStates: () => (this.registration?.status() ?? []).map((r) => r.state),
      mediaClock: () => this.mediaClock?.stats(),
      activeMedia: () => this.lines.flatMap((l) => (l.call && !l.call.isEnded && l.media ? [l.media.stats()] : [])),
    };
  }

  /** Product and version. */
  getMediaEngineVersionInfo(): VersionInfo {
    const [major, minor] = LINESCAPE_VERSION.split('.').map(Number);
    return { result: T.SipSuccess, product: 'LineScape', version: LINESCAPE_VERSION, major: major!, minor: minor! };
  }

  // ---------------------------------------------------------------- lines

  /**
   * The line a procedure names. Static and checking `self`, so that every line procedure called
   * detached from its engine (a foreign `this`) answers SipInvalidHandle instead of throwing.
   */
  private static line(self: unknown, phoneLine: unknown): PhoneLine | T {
    if (!(self instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    if (!self.stack) return T.SipMediaEngineNotInitialized;
    if (typeof phoneLine !== 'number' || !Number.isInteger(phoneLine) || phoneLine < 0 || phoneLine >= self.lines.length) {
      return T.SipBadPhoneLine;
    }
    return self.lines[phoneLine]!;
  }

  /** Number of phone lines the engine was started with. */
  getNumPhoneLines(): NumPhoneLinesResult {
    if (!this.stack) return { result: T.SipMediaEngineNotInitialized, numPhoneLines: 0 };
    return { result: T.SipSuccess, numPhoneLines: this.lines.length };
  }

  /** State, call direction and recording flag of a line. */
  getLineStatus(phoneLine: number): LineStatusResult {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return { result: l, state: LineState.OnHook, callDirection: CallDirection.None, callRecordingActive: false };
    return { result: T.SipSuccess, state: l.state, callDirection: l.callDirection, callRecordingActive: l.callRecordingActive };
  }

  /** Number of lines with a call in progress. */
  getNumActiveCalls(): NumActiveCallsResult {
    if (!this.stack) return { result: T.SipMediaEngineNotInitialized, numActiveCalls: 0 };
    const n = this.lines.filter((l) => l.state !== LineState.OnHook && l.state !== LineState.BusyOut).length;
    return { result: T.SipSuccess, numActiveCalls: n };
  }

  /** Busies a line out (it takes no calls) or returns it to service. Only an idle line can be busied out. */
  busyOutLine(phoneLine: number, on: boolean): T {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (typeof on !== 'boolean') return T.SipBadParameter;
    if (on) {
      if (l.state === LineState.BusyOut) return T.SipSuccess;
      if (l.state !== LineState.OnHook) return T.SipCallFailure;
      l.setState(LineState.BusyOut);
    } else if (l.state === LineState.BusyOut) {
      l.setState(LineState.OnHook);
    }
    return T.SipSuccess;
  }

  /** Marks a line as outgoing-only: incoming calls never land on it. */
  setOutgoingLineOnly(phoneLine: number, on: boolean): T {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (typeof on !== 'boolean') return T.SipBadParameter;
    l.outgoingOnly = on;
    return T.SipSuccess;
  }

  /** Sets the user part this line uses in From/Contact. */
  setPhoneName(phoneLine: number, name: string): T {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (!isSipUser(name)) return T.SipBadParameter;
    l.phoneName = name;
    return T.SipSuccess;
  }

  /** Overrides the From header user of calls placed on this line. */
  setFromHeaderUserName(phoneLine: number, name: string): T {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (!isSipUser(name)) return T.SipBadParameter;
    l.fromUserName = name;
    return T.SipSuccess;
  }

  /** Spreads incoming calls over free lines at random (when names do not select a line). */
  randomlyAssignIncomingCallsToPhoneLines(on: boolean): T {
    if (!this.stack) return T.SipMediaEngineNotInitialized;
    if (typeof on !== 'boolean') return T.SipBadParameter;
    this.randomAssign = on;
    return T.SipSuccess;
  }

  /** Seconds an incoming call may ring before it is dropped (LanScape default 60). */
  setCallAnswerTimeout(seconds: number): T {
    if (!this.stack) return T.SipMediaEngineNotInitialized;
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds <= 0 || seconds > 4_294_967) return T.SipBadParameter;
    this.callAnswerTimeoutSeconds = seconds;
    return T.SipSuccess;
  }

  /** Turns recording of a line's state changes on or off. */
  setCallStateRecording(phoneLine: number, on: boolean): T {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (typeof on !== 'boolean') return T.SipBadParameter;
    l.recordCallStates = on;
    return T.SipSuccess;
  }

  /** The recorded state changes of a line. */
  getRecordedCallStates(phoneLine: number): RecordedCallStatesResult {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return { result: l, states: [] };
    return { result: T.SipSuccess, states: l.recordedStates() };
  }

  /** Forgets a line's recorded state changes. */
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
  lineForIncomingCall(user?: string): number {
    if (!(this instanceof VoipMediaEngine)) return -1;
    return this.selectLineForIncoming(user)?.index ?? -1;
  }

  private selectLineForIncoming(user: string | undefined): PhoneLine | undefined {
    const named = user ? this.lines.filter((l) => l.registrationName === user) : [];
    const pool = named.length ? named : this.lines;
    const free = pool.filter((l) => l.availableForIncoming);
    if (!free.length) return undefined;
    if (this.randomAssign) return free[Math.floor(Math.random() * free.length)];
    return free[0];
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
  async enableSipProxyServer(address: string, port: number): Promise<T> {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    return this.enableServer('proxy', address, port);
  }

  /** Stops using the SIP proxy. */
  disableSipProxyServer(): T {
    if (!this.stack) return T.SipMediaEngineNotInitialized;
    this.proxy = undefined;
    return T.SipSuccess;
  }

  /**
   * Sends every request the engine originates to this outbound proxy (RFC 3261 §8.1.2), with a
   * loose-route `Route` header naming it.
   */
  async enableOutboundSipProxyServer(address: string, port: number): Promise<T> {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    return this.enableServer('outboundProxy', address, port);
  }

  /** Stops using the outbound proxy. */
  disableOutboundSipProxyServer(): T {
    if (!this.stack) return T.SipMediaEngineNotInitialized;
    this.outboundProxy = undefined;
    return T.SipSuccess;
  }

  /** Sets the SIP domain used in addresses-of-record and Request-URIs when a proxy is used. */
  enableSipDomain(domain: string): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    if (!this.stack) return T.SipMediaEngineNotInitialized;
    if (typeof domain !== 'string' || !/^[A-Za-z0-9.\-[\]:]{1,255}$/.test(domain)) return T.SipBadParameter;
    this.domain = domain;
    return T.SipSuccess;
  }

  /** Forgets the SIP domain. */
  disableSipDomain(): T {
    if (!this.stack) return T.SipMediaEngineNotInitialized;
    this.domain = undefined;
    return T.SipSuccess;
  }

  /** Adds credentials used to answer digest challenges for `realm` (empty or '*' = any realm). */
  addAuthorizationCredentials(userName: string, password: string, realm: string): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    if (!this.stack) return T.SipMediaEngineNotInitialized;
    if (typeof userName !== 'string' || !userName || typeof password !== 'string' || (realm !== undefined && typeof realm !== 'string')) {
      return T.SipBadParameter;
    }
    return this.credentials.add(userName, password, realm ?? '') ? T.SipSuccess : T.SipBadParameter;
  }

  /** Removes credentials added with addAuthorizationCredentials. */
  deleteAuthorizationCredentials(userName: string, realm?: string): T {
    if (!this.stack) return T.SipMediaEngineNotInitialized;
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
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    if (!this.stack) return T.SipMediaEngineNotInitialized;
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
        sendRequest: (req, dest, user) => this.sendRequest(req, dest, user),
        contactUri: (name) => this.contactUri(name),
        advertisedAddress: () => this.advertisedAddress(),
        displayName: () => this.params?.phoneDisplayName ?? '',
        userAgent: () => this.params?.userAgent ?? 'LineScape',
        answerChallenge: (name, req, challenge, challenged) => answerChallenge(this.digestClientFor(name), req, challenge, challenged, name),
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
  async disableSipRegisterServer(): Promise<T> {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    if (!this.stack) return T.SipMediaEngineNotInitialized;
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
  triggerRegistration(name?: string): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    if (!this.stack) return T.SipMediaEngineNotInitialized;
    if (!this.registration) return T.SipCallFailure;
    if (name !== undefined && typeof name !== 'string') return T.SipBadParameter;
    return this.registration.trigger(name) ? T.SipSuccess : T.SipBadParameter;
  }

  /** Milliseconds to wait after a registration error or time-out before trying again. */
  registrationErrorRetryTime(ms: number): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    if (!isUint(ms) || ms < 100) return T.SipBadParameter;
    this.registrationRetryMs = ms;
    this.registration?.setRetryTime(ms);
    return T.SipSuccess;
  }

  /** Where each registered name stands. */
  getRegistrationStatus(): RegistrationStatusResult {
    if (!this.stack) return { result: T.SipMediaEngineNotInitialized, registrations: [] };
    return { result: T.SipSuccess, registrations: this.registration?.status() ?? [] };
  }

  /**
   * Sets the public (WAN) address advertised in Contact and Via, as when the engine sits behind
   * a NAT; active registrations are refreshed with the new Contact.
   */
  setWanIpAddress(ipAddress: string): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    if (!this.stack) return T.SipMediaEngineNotInitialized;
    if (typeof ipAddress !== 'string' || !isIP(ipAddress)) return T.SipBadParameter;
    this.setPublicAddress(ipAddress, this.publicPort ?? this.stack.localEndpoint('UDP').port);
    this.registration?.trigger();
    return T.SipSuccess;
  }

  private digestClientFor(name: string): DigestClient {
    let c = this.digestClients.get(name);
    if (!c) this.digestClients.set(name, (c = new DigestClient(this.credentials)));
    return c;
  }

  private setPublicAddress(host: string, port: number): void {
    this.publicHost = host;
    this.publicPort = port;
    this.stack?.setPublicAddress(host, port);
  }

  private publicAddressDetected(host: string, port: number): void {
    const before = this.advertisedAddress();
    this.setPublicAddress(host, port);
    this.notifier.global(T.SipWanIpAddressChange, {
      previousAddress: before.host,
      previousPort: before.port,
      wanIpAddress: host,
      wanPort: port,
    });
    this.registration?.trigger();
  }

  private advertisedAddress(): { host: string; port: number; protocol: string } {
    const local = this.stack!.localEndpoint(this.params!.sipTransport);
    return { host: this.publicHost ?? local.host, port: this.publicPort ?? local.port, protocol: this.params!.sipTransport };
  }

  private contactUri(user: string): string {
    const a = this.advertisedAddress();
    return `sip:${user}@${hostPort(a.host, a.port)}${a.protocol === 'UDP' ? '' : `;transport=${a.protocol.toLowerCase()}`}`;
  }

  /** Sends a request the engine originates, through the outbound proxy when one is set. */
  private sendRequest(req: SipRequest, dest: Endpoint, user: RegisterTxUser): void {
    if (!this.stack) return;
    if (this.outboundProxy && !req.headers.has('Route')) {
      req.headers.append('Route', `<sip:${hostPort(this.outboundProxy.given, this.outboundProxy.port)};lr>`);
    }
    this.stack.sendRequest(req, dest, user);
  }

  // ---------------------------------------------------------------- keep-alive

  /**
   * Sends keep-alive traffic to `host:port` every `keepAliveSeconds` (or stops it): a CRLF
   * datagram over UDP, or the RFC 5626 double CRLF over TCP when `protocol` is 'TCP'. Keeps NAT
   * bindings open without the cost of a SIP transaction.
   */
  async sendSipKeepAlive(host: string, port: number, enableState: boolean, keepAliveSeconds: number, protocol: 'UDP' | 'TCP' = 'UDP'): Promise<T> {
    if (!this.stack) return T.SipMediaEngineNotInitialized;
    if (typeof host !== 'string' || !host || !isPort(port) || typeof enableState !== 'boolean') return T.SipBadParameter;
    if (protocol !== 'UDP' && protocol !== 'TCP') return T.SipBadParameter;
    const ip = await resolveHost(host);
    if (!ip) return T.SipUnknownHost;
    const key = `${protocol}:${ip}:${port}`;
    this.stopKeepAlive(key);
    if (!enableState) return T.SipSuccess;
    if (!isUint(keepAliveSeconds) || keepAliveSeconds === 0) return T.SipBadParameter;
    if (!this.stack) return T.SipMediaEngineNotInitialized;
    const entry = { dest: { protocol, host: ip, port } as Endpoint, seconds: keepAliveSeconds, timer: undefined as TimerHandle | undefined };
    this.keepAlives.set(key, entry);
    const tick = (): void => {
      if (this.keepAlives.get(key) !== entry || !this.stack) return;
      this.stack.sendKeepAlive(entry.dest);
      entry.timer = this.clock.setTimer(entry.seconds * 1000, tick);
    };
    tick();
    return T.SipSuccess;
  }

  private stopKeepAlive(key: string): void {
    const e = this.keepAlives.get(key);
    if (!e) return;
    this.clock.clearTimer(e.timer);
    this.keepAlives.delete(key);
  }

  /**
   * LanScape's EnableKeepAliveTransmissions: with `keepAliveSip` the engine sends CRLF
   * keep-alives to its proxy, outbound proxy and registrar every `natSessionTimeMs`;
   * `keepAliveRtp` keeps idle RTP streams open the same way once calls carry media.
   */
  enableKeepAliveTransmissions(keepAliveSip: boolean, keepAliveRtp: boolean, natSessionTimeMs: number): T {
    if (!this.stack) return T.SipMediaEngineNotInitialized;
    if (typeof keepAliveSip !== 'boolean' || typeof keepAliveRtp !== 'boolean') return T.SipBadParameter;
    if ((keepAliveSip || keepAliveRtp) && (!isUint(natSessionTimeMs) || natSessionTimeMs < 100)) return T.SipBadParameter;
    if (this.natKeepAlive) this.clock.clearTimer(this.natKeepAlive.timer);
    this.natKeepAlive = keepAliveSip || keepAliveRtp ? { sip: keepAliveSip, rtp: keepAliveRtp, natSessionTimeMs } : undefined;
    this.refreshNatKeepAlive();
    // Calls already up get the RTP half at once; new calls read rtpKeepAliveMs when they start.
    for (const l of this.lines) l.media?.setKeepAlive(this.rtpKeepAliveMs);
    return T.SipSuccess;
  }

  /** Current RTP keep-alive setting, read by media sessions. */
  get rtpKeepAliveMs(): number {
    return this.natKeepAlive?.rtp ? this.natKeepAlive.natSessionTimeMs : 0;
  }

  private natKeepAliveTargets(): Endpoint[] {
    const proto = this.params?.sipTransport ?? 'UDP';
    const out: Endpoint[] = [];
    const add = (host: string, port: number): void => {
      if (!out.some((e) => e.host === host && e.port === port)) out.push({ protocol: proto, host, port });
    };
    if (this.outboundProxy) add(this.outboundProxy.host, this.outboundProxy.port);
    if (this.proxy) add(this.proxy.host, this.proxy.port);
    const d = this.registration?.config.destination;
    if (d) add(d.host, d.port);
    return out;
  }

  private refreshNatKeepAlive(): void {
    const ka = this.natKeepAlive;
    if (!ka) return;
    this.clock.clearTimer(ka.timer);
    ka.timer = undefined;
    if (!ka.sip) return;
    const tick = (): void => {
      if (this.natKeepAlive !== ka || !this.stack) return;
      for (const dest of this.natKeepAliveTargets()) this.stack.sendKeepAlive(dest);
      ka.timer = this.clock.setTimer(ka.natSessionTimeMs, tick);
    };
    ka.timer = this.clock.setTimer(ka.natSessionTimeMs, tick);
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
      answerChallenge: (user, req, challenge, challenged) => answerChallenge(this.digestClientFor(`call:${user}`), req, challenge, challenged, user) === 'retry',
      holdStyle: () => (this.holdType === CallHoldType.Rfc2543 ? 'rfc2543' : this.holdType === CallHoldType.Both ? 'both' : 'rfc3264'),
      answerTimeoutSeconds: () => this.callAnswerTimeoutSeconds,
      transport: () => this.params?.sipTransport ?? 'UDP',
      resolve: (host) => resolveHost(host),
      outboundProxy: () =>
        this.outboundProxy ? { protocol: this.params!.sipTransport, host: this.outboundProxy.host, port: this.outboundProxy.port } : undefined,
      userAgent: () => this.params?.userAgent ?? 'LineScape',
      lines: () => this.lines,
      selectLine: (user) => this.selectLineForIncoming(user),
      immediate: (line, event, data) => this.notifier.immediateUnchecked(line, event, data),
      formatsFor: (line) => formatSpecs(line.formats, line.opusSettings),
      userFor: (line) => this.userForLine(line),
      callStarted: (call) => this.wireCall(call),
      callFinished: (call) => this.metrics?.onCallFinished(call.finalStats, call.finalQuality),
    };
  }

  private userForLine(line: PhoneLine): string {
    return line.phoneName ?? line.registrationName ?? this.params?.phoneName ?? 'linescape';
  }

  private async openMedia(line: PhoneLine): Promise<CallMedia | undefined> {
    if (!this.mediaClock || !this.rtpAllocator || !this.params) return undefined;
    const media = await openLineMedia({
      clock: this.mediaClock,
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

  private wireCall(call: Call): void {
    call.onInfo = (req, tx) => {
      const type = (req.headers.get('Content-Type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/dtmf-relay' && type !== 'application/dtmf') {
        tx.respond(this.stack!.createResponse(req, 415, 'Unsupported Media Type'));
        return;
      }
      const info = parseDtmfInfoBody(type, req.body.toString('latin1'));
      if (!info) {
        tx.respond(this.stack!.createResponse(req, 400, 'Bad DTMF body'));
        return;
      }
      tx.respond(this.stack!.createResponse(req, 200, 'OK'));
      this.notifier.line(call.line.index, T.SipDtmfDigitEvent, { digit: info.digit, method: 'info' });
    };
  }

  private freeLine(phoneLine: number): PhoneLine | T {
    if (phoneLine === -1) {
      const l = this.lines.find((x) => x.availableForOutgoing);
      return l ?? T.SipLineCapacityReached;
    }
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (l.state === LineState.BusyOut) return T.SipLineBusyOut;
    if (!l.availableForOutgoing) return T.SipCallAlreadyInProgress;
    return l;
  }

  private async placeCall(line: PhoneLine, requestUri: string, to: string, dest: Endpoint, synchronous: boolean, timeOutMs: number): Promise<T> {
    const routes = this.outboundProxy ? [`<sip:${hostPort(this.outboundProxy.given, this.outboundProxy.port)};lr>`] : [];
    const destination: Endpoint = this.outboundProxy
      ? { protocol: this.params!.sipTransport, host: this.outboundProxy.host, port: this.outboundProxy.port }
      : dest;
    this.lastErrors.delete(line.index);
    const fromUser = line.fromUserName ?? this.userForLine(line);
    const call = await CallClass.outgoing(
      this.calls!.services,
      line,
      { requestUri, to, destination, routes },
      formatSpecs(line.formats, line.opusSettings),
      fromUser,
      this.params?.phoneDisplayName ?? '',
    );
    if (typeof call === 'number') return call;
    this.wireCall(call);
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
  async makeCall(userOrNumber: string, destAddress: string, destSipPort: number, phoneLine: number, synchronous: boolean, timeOutMs: number): Promise<T> {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    if (!this.stack) return T.SipMediaEngineNotInitialized;
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
  async makeCallUri(sipUri: string, useProxy: boolean, phoneLine: number, synchronous: boolean, timeOutMs: number): Promise<T> {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    if (!this.stack) return T.SipMediaEngineNotInitialized;
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
  async terminateCall(phoneLine: number, synchronous: boolean, timeOutMs: number): Promise<T> {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
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
  goOffHook(phoneLine: number): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    const call = VoipMediaEngine.lineCall(this, phoneLine);
    if (typeof call === 'number') return call;
    const rc = call.answer();
    if (rc === T.SipSuccess) this.holdOtherLines(call.line);
    return rc;
  }

  /**
   * LanScape's inter-line logic in LineMode.PhoneLine: the operator at the local audio device
   * talks on one line at a time, so taking a line off hook holds the connected call on every
   * other line. LineMode.SwitchLine, and engines without a local audio device (servers), keep
   * every line independent.
   */
  private holdOtherLines(active: PhoneLine): void {
    const p = this.params;
    if (!p || p.lineMode !== LineMode.PhoneLine) return;
    if (p.zeroBasedAudioInDeviceId === SIP_AUDIO_DEVICE_NOT_USED && p.zeroBasedAudioOutDeviceId === SIP_AUDIO_DEVICE_NOT_USED) return;
    for (const l of this.lines) {
      // conferenced lines stay in the conference: the operator hears them there
      if (l !== active && !l.conferenced && l.call?.isConnected && !l.call.localHold) void l.call.hold(true);
    }
  }

  /** Refuses the call ringing on a line with a SIP status (400..699) and reason phrase. */
  abortIncomingCall(phoneLine: number, sipStatusCode: number, reasonPhrase: string): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
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
  async holdLine(phoneLine: number, on: boolean): Promise<T> {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    const call = VoipMediaEngine.lineCall(this, phoneLine);
    if (typeof call === 'number') return call;
    if (typeof on !== 'boolean') return T.SipBadParameter;
    const rc = await call.hold(on);
    return rc === T.SipCallHoldOn || rc === T.SipCallNotOnHold ? T.SipSuccess : rc;
  }

  /** How hold is signalled in SDP for later holdLine calls. */
  setCallHoldType(type: CallHoldType): T {
    if (!this.stack) return T.SipMediaEngineNotInitialized;
    if (type !== CallHoldType.Rfc3264 && type !== CallHoldType.Rfc2543 && type !== CallHoldType.Both) return T.SipBadParameter;
    this.holdType = type;
    return T.SipSuccess;
  }

  /**
   * Sends DTMF digits (`0-9*#A-D`) on a connected call: RFC 4733 events (default; in-band when
   * the far end did not negotiate telephone-event), in-band tones, or SIP INFO.
   */
  sendDtmf(phoneLine: number, digits: string, method: DtmfMethod = DtmfMethod.Rfc4733): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
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
  setAudioMediaFormats(phoneLine: number, formats: MediaFormatAudio[]): T {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (!Array.isArray(formats) || formats.length === 0) return T.SipBadParameter;
    if (formats.some((f) => !isAudioFormat(f)) || new Set(formats).size !== formats.length) return T.SipBadParameter;
    l.formats = formats.slice();
    return T.SipSuccess;
  }

  /** Receive and transmit volume of a line, 0..2048 (512 = 100 %); clipping saturates. */
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
  getIncomingCallInfo(phoneLine: number): IncomingCallInfoResult {
    const call = VoipMediaEngine.lineCall(this, phoneLine);
    if (typeof call === 'number') return { result: call };
    if (!call.incomingInfo) return { result: T.SipNoCallActive };
    return { result: T.SipSuccess, ...call.incomingInfo, source: { ...call.incomingInfo.source } };
  }

  /** Details of the outgoing call on a line. */
  getOutgoingCallInfo(phoneLine: number): OutgoingCallInfoResult {
    const call = VoipMediaEngine.lineCall(this, phoneLine);
    if (typeof call === 'number') return { result: call };
    if (!call.outgoingInfo) return { result: T.SipNoCallActive };
    return { result: T.SipSuccess, ...call.outgoingInfo };
  }

  /** Why the last outgoing call on a line failed (kept after the call ends), LanScape's SIP_OUTGOING_CALL_ERROR_INFO. */
  getOutgoingCallErrorInfo(phoneLine: number): OutgoingCallErrorInfoResult {
    const l = VoipMediaEngine.line(this, phoneLine);
    if (!(l instanceof PhoneLine)) return { result: l };
    const info = l.call?.errorInfo ?? this.lastErrors.get(phoneLine);
    if (!info) return { result: T.SipNoCallActive };
    return { result: T.SipSuccess, ...info };
  }

  /** State, media and statistics of the call on a line. */
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
  getCallQuality(phoneLine: number): CallQualityResult {
    const call = VoipMediaEngine.lineCall(this, phoneLine);
    if (typeof call === 'number') return { result: call };
    const stats = call.line.media?.stats();
    const quality = stats ? callQualityFromStats(stats) : undefined;
    return quality ? { result: T.SipSuccess, quality } : { result: T.SipNoCallActive };
  }

  /**
   * Plays a WAV file (8/16/44.1/48 kHz, mono or stereo, PCM or float) to the far end of a line,
   * once or looping. The file is read before this returns, so a bad file gives its code at once
   * (SipBadParameter for a missing or unreadable file, SipBadAudioDataType for a bad format or
   * an empty file).
   */
  playWaveFile(phoneLine: number, path: string, loop: boolean): T {
    const call = VoipMediaEngine.lineCall(this, phoneLine);
    if (typeof call === 'number') return call;
    if (typeof path !== 'string' || !path || typeof loop !== 'boolean') return T.SipBadParameter;
    const media = call.line.media;
    if (!media) return T.SipNoCallActive;
    const r = media.playWaveSync(path, loop);
    return r === 'ok' ? T.SipSuccess : r === 'not-found' ? T.SipBadParameter : T.SipBadAudioDataType;
  }

  /** Stops a WAV file playing on a line. */
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
  closeRxIvrChannel(channel: Readable): T {
    if (!channel || typeof (channel as Readable).destroy !== 'function') return T.SipIvrBadChannel;
    channel.destroy();
    return T.SipSuccess;
  }

  /** Closes a transmit IVR channel. */
  closeTxIvrChannel(channel: Writable): T {
    if (!channel || typeof (channel as Writable).end !== 'function') return T.SipIvrBadChannel;
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
  setConferenceGroupIds(phoneLine: number, ids: string[]): T {
    const l = VoipMediaEngine.audioLine(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    return this.audio!.setConferenceGroupIds(l, ids);
  }

  /**
   * Sends the local microphone straight to the local loudspeaker as well (a sound-card check).
   * @returns SipAudioOutFailure when the engine has no local audio device.
   */
  setLocalAudioLoopback(on: boolean): T {
    return VoipMediaEngine.audioSwitch(this, on, (a, v) => a.setLocalAudioLoopback(v));
  }

  /**
   * Calls `callback` every `intervalMs` (default 100, 20..10000) with the peak and RMS levels of
   * the line's received and sent audio, for VU meters; `null` removes it. The setting stays with
   * the line across calls. The data object is reused: copy what you keep.
   */
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
  startPhoneLineRecording(phoneLine: number, recordToFile: boolean, recordFileRaw: boolean, directory: string, callback?: RecordCallback): T {
    const l = VoipMediaEngine.audioLine(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    return this.audio!.startRecording(l, recordToFile, recordFileRaw, directory, callback);
  }

  /** Stops the recording of a line (SipCallRecordAlreadyStopped when none runs). */
  stopPhoneLineRecording(phoneLine: number): T {
    const l = VoipMediaEngine.audioLine(this, phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    return this.audio!.stopRecording(l);
  }

  /** Plays (or stops) dial tone on the local loudspeaker. SipAudioOutFailure without one. */
  enableDialTone(on: boolean): T {
    return VoipMediaEngine.audioSwitch(this, on, (a, v) => a.enableDialTone(v));
  }

  /**
   * The shape of every on/off audio procedure: a foreign `this` (SipInvalidHandle), a stopped
   * engine, a non-boolean, then the audio keeper. Static, so a detached call still gets a code.
   */
  private static audioSwitch(self: unknown, on: unknown, apply: (audio: EngineAudio, on: boolean) => T): T {
    if (!(self instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    if (!self.audio) return T.SipMediaEngineNotInitialized;
    if (typeof on !== 'boolean') return T.SipBadParameter;
    return apply(self.audio, on);
  }


  /** Ring-back on the local loudspeaker while an outgoing call rings (default on). */
  enableRingBackTone(on: boolean): T {
    return VoipMediaEngine.audioSwitch(this, on, (a, v) => a.setToneEnabled('ringBack', v));
  }

  /** Busy signal on the local loudspeaker when the far end is busy (default on). */
  enableBusySignal(on: boolean): T {
    return VoipMediaEngine.audioSwitch(this, on, (a, v) => a.setToneEnabled('busy', v));
  }

  /** Error (reorder) tone on the local loudspeaker when a call fails (default on). */
  enableErrorSignal(on: boolean): T {
    return VoipMediaEngine.audioSwitch(this, on, (a, v) => a.setToneEnabled('error', v));
  }

  /** Ringing on the local loudspeaker for incoming calls (default on). */
  enableIncomingRing(on: boolean): T {
    return VoipMediaEngine.audioSwitch(this, on, (a, v) => a.setToneEnabled('incomingRing', v));
  }

  /**
   * The audio devices PortAudio sees, with their zero-based ids for `zeroBasedAudioInDeviceId`
   * / `zeroBasedAudioOutDeviceId`. Loads naudiodon; works without a started engine.
   */
  async getAudioDeviceList(): Promise<AudioDeviceListResult> {
    return EngineAudio.deviceList();
  }

  /**
   * Acoustic echo cancellation of the local microphone (libspeexdsp; on by default when the
   * engine has both a capture and a playback device): removes what the loudspeaker plays from
   * what the microphone picks up, so far ends do not hear themselves. A headset needs none.
   * @returns SipNativeLibraryMissing without libspeexdsp; SipAudioInFailure without both devices.
   */
  enableEchoCancellation(on: boolean): T {
    return VoipMediaEngine.audioSwitch(this, on, (a, v) => a.echoCancellation(v));
  }

  /** Counters of the local audio device and its capture processing (a LineScape addition). */
  getLocalAudioStatistics(): LocalAudioStatisticsResult {
    if (!(this instanceof VoipMediaEngine)) return { result: T.SipInvalidHandle };
    if (!this.audio) return { result: T.SipMediaEngineNotInitialized };
    return this.audio.localStats();
  }

  /**
   * LanScape's noise discrimination on the local microphone: with it on, frames the
   * preprocessor classifies as noise are sent as silence. Needs libspeexdsp
   * (SipNativeLibraryMissing) and a capture device (SipAudioInFailure).
   */
  setNoiseDiscriminationEnableState(on: boolean): T {
    return VoipMediaEngine.audioSwitch(this, on, (a, v) => a.noise((_pp, port) => port.setNoiseDiscrimination(v)));
  }

  /**
   * The level in dBFS (−96..0) below which captured audio is noise whatever the voice detector
   * says (LanScape's noise threshold).
   */
  setNoiseThreshold(db: number): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    if (!this.audio) return T.SipMediaEngineNotInitialized;
    if (typeof db !== 'number' || !Number.isFinite(db) || db < -96 || db > 0) return T.SipBadParameter;
    return this.audio.noise((pp) => pp.setNoiseThreshold(db));
  }

  /** Speex noise suppression on the local microphone (default off). Same codes as the noise settings. */
  enableNoiseSuppression(on: boolean): T {
    return VoipMediaEngine.audioSwitch(this, on, (a, v) => a.noise((pp) => pp.setDenoise(v)));
  }

  /** Automatic gain control on the local microphone (default off). Same codes as the noise settings. */
  enableAutomaticGainControl(on: boolean): T {
    return VoipMediaEngine.audioSwitch(this, on, (a, v) => a.noise((pp) => pp.setAgc(v)));
  }

  /** How long (0..5000 ms) voice is assumed to go on after the last voice frame (hangover). */
  setSilenceDecay(ms: number): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
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
  transferLine(userOrNumber: string, destAddress: string, destSipPort: number, phoneLine: number): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    return this.transfers.transferLine(userOrNumber, destAddress, destSipPort, phoneLine);
  }

  /**
   * Blind transfer to a SIP URI (LanScape's TransferLineUri). With `useProxy` the target is named
   * at the SIP domain so the transferee reaches it through its proxy (SipProxyNotEnabled without
   * a proxy, SipDomainNameNotDefined without a domain). A URI carrying `?Replaces=...` makes it
   * an attended transfer to a dialog the application knows (see {@link VoipMediaEngine.getCallDialogInfo}).
   */
  transferLineUri(sipUri: string, useProxy: boolean, phoneLine: number): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    return this.transfers.transferLineUri(sipUri, useProxy, phoneLine);
  }

  /**
   * Attended transfer: asks the far end of `phoneLine` to call the far end of `targetPhoneLine`
   * with a Replaces header naming that call, so they talk to each other and both our calls
   * end. Same events as {@link VoipMediaEngine.transferLine}.
   */
  attendedTransfer(phoneLine: number, targetPhoneLine: number): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    return this.transfers.attendedTransfer(phoneLine, targetPhoneLine);
  }

  /**
   * Accepts a REFER announced by SipReceivedRefer (when farEndCallTransferEnabled is false): 202,
   * then the new call on a free line, its progress reported to the transferor in NOTIFYs; after
   * a success the original call ends.
   * @returns SipSuccess; SipInvalidHandle for an unknown or already answered referId; SipLineCapacityReached when no line is free (the REFER gets 503)
   */
  acceptRefer(referId: number, referSipMessage: string): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    return this.transfers.acceptRefer(referId, referSipMessage);
  }

  /** Refuses a REFER announced by SipReceivedRefer with 603 Declined; the call stays as it is. */
  rejectRefer(referId: number): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    return this.transfers.rejectRefer(referId);
  }

  /** Call-ID and tags of a line's call: what a Replaces header naming it holds (a LineScape addition). */
  getCallDialogInfo(phoneLine: number): CallDialogInfo {
    if (!(this instanceof VoipMediaEngine)) return { result: T.SipInvalidHandle };
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
      outboundProxy: () => this.outboundProxy,
      domain: () => this.domain,
      transport: () => this.params?.sipTransport ?? 'UDP',
      resolve: (host) => resolveHost(host),
      localUri: (line) => this.contactUri(this.userForLine(line)),
      placeCall: async (line, target) => {
        if (!this.calls) return T.SipMediaEngineNotInitialized;
        const call = await CallClass.outgoing(this.calls.services, line, target, formatSpecs(line.formats, line.opusSettings), line.fromUserName ?? this.userForLine(line), this.params?.phoneDisplayName ?? '');
        if (typeof call !== 'number') this.wireCall(call);
        return call;
      },
    };
  }

  // ---------------------------------------------------------------- registrar role and incoming requests

  /** Bindings accepted in the registrar role. */
  getRegistrarBindings(): RegistrarBindingsResult {
    if (!this.stack) return { result: T.SipMediaEngineNotInitialized, bindings: [] };
    return { result: T.SipSuccess, bindings: this.registrar.list() };
  }

  private allowHeaders(res: SipResponse): void {
    res.headers.append('Allow', ALLOWED_METHODS.join(', '));
  }

  private onRequest(req: SipRequest, tx: ServerTransaction, from: Endpoint): void {
    const stack = this.stack;
    if (!stack) return;
    try {
      if (this.challenge.onRequest(stack, req, tx, from)) return;
      if (this.transfers.onRequest(req, tx)) return;
      if (this.messaging.onRequest(req, tx)) return;
      if (this.calls?.onRequest(req, tx, from)) return;
      if (this.subscriptions.onRequest(req, tx)) return;
      switch (req.method) {
        case 'REGISTER':
          this.onRegister(req, tx, from);
          return;
        case 'OPTIONS': {
          const res = stack.createResponse(req, 200, 'OK', { toTag: true });
          this.allowHeaders(res);
          res.headers.append('Accept', 'application/sdp, text/plain, message/sipfrag, application/pidf+xml');
          res.headers.append('Accept-Encoding', 'identity');
          res.headers.append('Accept-Language', 'en');
          res.headers.append('Supported', 'replaces, norefersub');
          tx.respond(res);
          return;
        }
        case 'ACK':
          return;
        case 'CANCEL':
        case 'BYE':
          tx.respond(stack.createResponse(req, 481, undefined, { toTag: true }));
          return;
        default: {
          const res = stack.createResponse(req, 501, undefined, { toTag: true });
          this.allowHeaders(res);
          tx.respond(res);
        }
      }
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

  private onRegister(req: SipRequest, tx: ServerTransaction, from: Endpoint): void {
    const stack = this.stack!;
    const parsed = this.registrar.parse(req);
    if ('status' in parsed) {
      tx.respond(stack.createResponse(req, parsed.status, parsed.reason, { toTag: true }));
      return;
    }
    const data: RegisterReceivedData = {
      aor: parsed.aor,
      user: parsed.user,
      contacts: parsed.contacts.map((c) => ({ ...c })),
      removeAll: parsed.removeAll,
      source: { protocol: from.protocol, host: from.host, port: from.port },
      acceptRegistration: true,
      rejectStatusCode: 403,
    };
    this.notifier.immediate(-1, T.SipRegisterReceived, data);
    if (data.acceptRegistration !== true) {
      const code = Number.isInteger(data.rejectStatusCode) && data.rejectStatusCode >= 400 && data.rejectStatusCode < 700 ? data.rejectStatusCode : 403;
      tx.respond(stack.createResponse(req, code, undefined, { toTag: true }));
      return;
    }
    const decision = this.registrar.apply(req, parsed, data.source);
    const res = stack.createResponse(req, decision.status, 'reason' in decision ? decision.reason : undefined, { toTag: true });
    if ('contacts' in decision) {
      for (const c of decision.contacts) res.headers.append('Contact', `<${c.uri}>;expires=${c.expires}`);
      res.headers.append('Date', new Date().toUTCString());
    } else if (decision.headers) {
      for (const [n, v] of decision.headers) res.headers.append(n, v);
    }
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
      callForRequest: (req) => this.calls?.callForRequest(req),
      identity: () => {
        const a = this.advertisedAddress();
        return { user: this.params?.phoneName ?? 'linescape', displayName: this.params?.phoneDisplayName ?? '', host: this.domain ?? hostPort(a.host, a.port) };
      },
      proxy: () => (this.proxy ? { protocol: this.params!.sipTransport, host: this.proxy.host, port: this.proxy.port } : undefined),
      outboundProxy: () =>
        this.outboundProxy
          ? {
              endpoint: { protocol: this.params!.sipTransport, host: this.outboundProxy.host, port: this.outboundProxy.port },
              route: `<sip:${hostPort(this.outboundProxy.given, this.outboundProxy.port)};lr>`,
            }
          : undefined,
      transport: () => this.params?.sipTransport ?? 'UDP',
      resolve: (host) => resolveHost(host),
      answerChallenge: (user, req, challenge, challenged) => answerChallenge(this.digestClientFor(`msg:${user}`), req, challenge, challenged, user) === 'retry',
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
  sendMessage(phoneLine: number, mimeType: string, subMimeType: string, body: string | Buffer): SendMessageResult {
    if (!(this instanceof VoipMediaEngine)) return { result: T.SipInvalidHandle, messageId: 0 };
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
  sendOutOfDialogMessage(to: string, mimeType: string, subMimeType: string, body: string | Buffer): SendMessageResult {
    if (!(this instanceof VoipMediaEngine)) return { result: T.SipInvalidHandle, messageId: 0 };
    return this.messaging.sendOutOfDialogMessage(to, mimeType, subMimeType, body);
  }

  /**
   * Largest body accepted in an incoming MESSAGE (default 64 KiB); larger ones are answered
   * 413 Request Entity Too Large. A LineScape addition.
   */
  setMaxMessageBodySize(bytes: number): T {
    if (!this.stack) return T.SipMediaEngineNotInitialized;
    return this.messaging.setMaxBodySize(bytes);
  }

  /**
   * Content types accepted in incoming MESSAGEs, e.g. `['text/plain', 'application/*']`; any
   * other type is refused with 415 Unsupported Media Type (with an Accept header listing these).
   * An empty list, or `'*'`, accepts every type (the default). A LineScape addition: this is how
   * an application refuses a type, because the receive events are not immediate.
   */
  setAcceptedMessageMimeTypes(mimeTypes: string[]): T {
    if (!this.stack) return T.SipMediaEngineNotInitialized;
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
  setChallengeAuthenticationState(on: boolean, realm?: string): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    if (!this.stack) return T.SipMediaEngineNotInitialized;
    return this.challenge.setState(on, realm);
  }

  /**
   * Checks, from a SipIncomingAuthentication handler, the digest of the request behind `data`
   * against `password` (constant-time). On success it sets `data.authorizationGranted`.
   *
   * @returns SipSuccess (granted), SipCallFailure (wrong credentials), SipInvalidHandle (`data` is not from a pending notification)
   */
  verifyChallengeResponse(data: IncomingAuthenticationData, password: string): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    return this.challenge.verify(data, password);
  }

  /** How long a challenge nonce stays valid, in seconds (default 300); older answers get `stale=true`. */
  setAuthCredentialExpireTime(seconds: number): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    if (!this.stack) return T.SipMediaEngineNotInitialized;
    return this.challenge.setExpireTime(seconds);
  }

  /**
   * Turns the immediate SipModifySipMessage notification on or off (off by default: turning it
   * on costs serializing every message). While on, every message sent for the first time and
   * every message received, before the engine acts on it, is raised with
   * {@link ModifySipMessageData}: the handler may rewrite `message`, set `drop`, or change the
   * `destination` of a sent one. A handler that throws leaves the message unchanged.
   */
  enableSipMessageHook(on: boolean): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    if (!this.stack) return T.SipMediaEngineNotInitialized;
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
    outboundProxy: () =>
      this.outboundProxy
        ? { destination: { protocol: this.params!.sipTransport, host: this.outboundProxy.host, port: this.outboundProxy.port }, route: `<sip:${hostPort(this.outboundProxy.given, this.outboundProxy.port)};lr>` }
        : undefined,
    answerChallenge: (user, req, challenge, challenged) => answerChallenge(this.digestClientFor(`sub:${user}`), req, challenge, challenged, user),
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
  presenceSubscribe(contact: string, subject: string, expireSeconds?: number): Promise<T> {
    if (!(this instanceof VoipMediaEngine)) return Promise.resolve(T.SipInvalidHandle);
    return this.presence.presenceSubscribe(contact, subject, expireSeconds);
  }

  /** Stops watching a contact (SUBSCRIBE Expires: 0). SipInvalidHandle when not watched. */
  presenceUnsubscribe(contact: string): Promise<T> {
    if (!(this instanceof VoipMediaEngine)) return Promise.resolve(T.SipInvalidHandle);
    return this.presence.presenceUnsubscribe(contact);
  }

  /** Authorizes the watcher of a SipPresenceRecvSubscribe: it gets the current status now and every change later. */
  presenceAcceptSubscribe(subscribeId: number): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    return this.presence.presenceAcceptSubscribe(subscribeId);
  }

  /** Refuses the watcher of a SipPresenceRecvSubscribe (NOTIFY terminated;reason=rejected). */
  presenceRejectSubscribe(subscribeId: number): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    return this.presence.presenceRejectSubscribe(subscribeId);
  }

  /** Online with a status text: NOTIFY (PIDF open + note) to every accepted watcher, PUBLISH to the presence server. */
  setPresenceStatus(text: string): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    return this.presence.setPresenceStatus(text);
  }

  /** Offline: NOTIFY (PIDF closed) to every accepted watcher, PUBLISH to the presence server. */
  presenceOffline(): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    return this.presence.presenceOffline();
  }

  /**
   * Publishes the presence status with PUBLISH (RFC 3903) to a presence server from now on,
   * refreshed before it expires; digest challenges are answered with addAuthorizationCredentials.
   */
  setPresenceServer(address: string, port: number, expireSeconds?: number): Promise<T> {
    if (!(this instanceof VoipMediaEngine)) return Promise.resolve(T.SipInvalidHandle);
    return this.presence.setPresenceServer(address, port, expireSeconds);
  }

  /** Removes the published status (PUBLISH Expires: 0) and stops publishing. */
  disablePresenceServer(): Promise<T> {
    if (!(this instanceof VoipMediaEngine)) return Promise.resolve(T.SipInvalidHandle);
    return this.presence.disablePresenceServer();
  }

  /** Contacts this engine watches. */
  getPresenceSubscriptions(): PresenceSubscriptionsResult {
    if (!(this instanceof VoipMediaEngine)) return { result: T.SipInvalidHandle, subscriptions: [] };
    return this.presence.getPresenceSubscriptions();
  }

  /** Watchers of this engine. */
  getPresenceWatchers(): PresenceWatchersResult {
    if (!(this instanceof VoipMediaEngine)) return { result: T.SipInvalidHandle, watchers: [] };
    return this.presence.getPresenceWatchers();
  }

  /** State of the PUBLISH to the presence server. */
  getPresencePublication(): PresencePublicationResult {
    if (!(this instanceof VoipMediaEngine)) return { result: T.SipInvalidHandle, etag: '', grantedExpires: 0, refreshCount: 0, lastStatusCode: 0 };
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
  startEventSubscription(targetUri: string, eventPackage: string, acceptType: string, expireSeconds: number, useProxy?: boolean): Promise<EventSubscriptionResult> {
    if (!(this instanceof VoipMediaEngine)) return Promise.resolve({ result: T.SipInvalidHandle, handle: 0 });
    return this.subscriptions.startEventSubscription(targetUri, eventPackage, acceptType, expireSeconds, useProxy);
  }

  /** LanScape's StopEventSubscription: unsubscribes (Expires: 0) and frees the handle. */
  stopEventSubscription(handle: number): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    return this.subscriptions.stopEventSubscription(handle);
  }

  /** LanScape's TriggerSubscription: refreshes a subscription now. */
  triggerSubscription(handle: number): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    return this.subscriptions.triggerSubscription(handle);
  }

  /**
   * LanScape's SendEventNotification: NOTIFY `body` to the subscriber of `notifyHandle`
   * (from SipSubscriptionReceived). SipSuccess on 2xx, SipEventNotifyNotAccepted on an error
   * answer, SipEventNotifyResponseTimeOut when unanswered within `timeoutMs`.
   */
  sendEventNotification(notifyHandle: number, body: string | Buffer, timeoutMs: number, contentType?: string): Promise<T> {
    if (!(this instanceof VoipMediaEngine)) return Promise.resolve(T.SipInvalidHandle);
    return this.subscriptions.sendEventNotification(notifyHandle, body, timeoutMs, contentType);
  }

  /** LanScape's CloseNotifyHandle: ends the subscription (NOTIFY terminated;reason=noresource). */
  closeNotifyHandle(notifyHandle: number): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
    return this.subscriptions.closeNotifyHandle(notifyHandle);
  }

  /** LanScape's SetReceivedUnsolicitedNotifyState: raise NOTIFYs outside any subscription as SipEventNotifyReceived (off: 481). */
  setReceivedUnsolicitedNotifyState(on: boolean): T {
    if (!(this instanceof VoipMediaEngine)) return T.SipInvalidHandle;
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
  if (typeof p.lineMode !== 'number' || (p.lineMode !== 0 && p.lineMode !== 1)) return T.SipBadParameter;
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
