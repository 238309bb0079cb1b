/**
 * The running engine: everything that exists only between startSipTelephony and
 * stopSipTelephony, built in one place and torn down in one place. The SIP stack and the phone
 * lines, the media clock and its pump, the RTP port allocator, the audio floor-keeper, the call
 * manager, transfer, messaging, event subscriptions and presence, the challenge screen and the
 * SIP message hooks, the registrar role, the registration client, keep-alives and NAT, the line
 * policy, the dialog router and the capability table its modules fill, and the procedure groups
 * that hold the bodies of the facade's procedures (engine/*Procedures.ts).
 *
 * The services those share reach them through one usage context (lines/context.ts), built once
 * by {@link RunningEngine.newContext}; each service gets it plus only its own extras, written
 * where it is constructed below.
 *
 * Why one object: the facade used to hold a dozen optional fields that start filled and stop
 * emptied one by one, and every procedure re-checked the ones it used. Here they are all
 * `readonly` and present, so "started" is simply "the facade holds a RunningEngine", and the
 * order of construction (the router's modules before the usages that attach to it, the stack's
 * callbacks last) and of teardown ({@link RunningEngine.stop}) is written once. What outlives a
 * run (credentials, logger, metrics, a few settings) is in engine/engineState.ts.
 * @module
 */
import { raceTimer } from '../sip/clock.js';
import type { SipRequest, SipParseError } from '../sip/message.js';
import { SipStack } from '../sip/stack.js';
import { redactSdesKeys } from '../sip/sdes.js';
import type { ServerTransaction } from '../sip/transaction.js';
import type { Endpoint, TransportProtocol } from '../sip/transport.js';
import { DnsLocator, nodeDnsBackend, queryOfUri, type LocateQuery } from '../sip/dnsLocator.js';
import { answerChallenge, looseRoute, type OutboundProxy, type UacServices } from '../sip/uac.js';
import { requestIsSips, serverEndpoint } from '../sip/tlsTransport.js';
import { CapabilityRegistry } from '../sip/capabilities.js';
import { DialogRouter } from '../sip/dialogRouter.js';
import { PhoneLine } from '../lines/phoneLine.js';
import { CallManager } from '../lines/callManager.js';
import type { SipServer, UsageContext } from '../lines/context.js';
import { infoDtmfHandler } from '../lines/infoDtmf.js';
import { TransferManager, TRANSFER_CAPABILITY } from '../lines/transfer.js';
import { Call, CALL_CAPABILITY, type CallMedia, type CallTarget, type OutgoingCallErrorInfo } from '../lines/call.js';
import { openLineMedia, formatSpecs } from '../lines/lineMedia.js';
import { MediaTimeoutWatch } from '../lines/mediaTimeout.js';
import { SESSION_TIMER_CAPABILITY, type SessionTimerSettings } from '../lines/sessionTimer.js';
import { RELIABLE_PROVISIONAL_CAPABILITY } from '../lines/reliableProvisional.js';
import { CallState } from '../lines/callState.js';
import { CallDirection } from '../lines/lineState.js';
import { DriftCorrectedMediaClock, type MediaClock, type MediaClockStats } from '../media/mediaClock.js';
import { MediaPump } from '../media/mediaPump.js';
import { RtpPortAllocator } from '../media/rtpSocket.js';
import { RealtimeSeats } from '../media/realtimeSeats.js';
import { MediaFloors, type FloorLineMedia, type MediaFloorsOptions } from './mediaWorkers.js';
import { EngineAudio } from './audio.js';
import { setSrtpLibraryPath } from '../ffi/srtp.js';
import { isNativeLibraryDisabled } from '../ffi/loader.js';
import { reserveFileDescriptors } from '../ffi/fdTable.js';
import { CHALLENGED_METHODS, ChallengeAuthenticator } from './challenge.js';
import type { EngineState } from './engineState.js';
import { EventSubscriptions, SUBSCRIPTION_CAPABILITY } from './eventSubscriptions.js';
import { hostPort } from './hosts.js';
import { KeepAliveService } from './keepAlive.js';
import { LinePolicy } from './linePolicy.js';
import { OverloadGuard, refuseOverloaded, startsSomething } from './overload.js';
import { defaultLogger } from './logger.js';
import { Messaging, MESSAGING_CAPABILITY } from './messaging.js';
import { PresenceService } from './presence.js';
import { REGISTRAR_CAPABILITY } from './registrar.js';
import { RegistrarRole } from './registrarRole.js';
import { SecurityLimits } from './securityLimits.js';
import type { RegistrationClient, RegistrationExtras } from './registration.js';
import { TelephonyReturnValue as T } from './returnCodes.js';
import { SipMessageHooks } from './sipHooks.js';
import { attachSipLogger } from './sipLog.js';
import type { ResolvedParams } from './startParams.js';
import { CallHoldType } from './types.js';
import { CallProcedures } from './callProcedures.js';
import { LineProcedures } from './lineProcedures.js';
import { LineMediaProcedures } from './lineMediaProcedures.js';
import { LocalAudioProcedures } from './localAudioProcedures.js';
import { ServerProcedures } from './serverProcedures.js';

/** Transports the locator may choose: the stack always has UDP and TCP, and TLS when it is on. */
const LOCATABLE_TRANSPORTS: readonly TransportProtocol[] = ['UDP', 'TCP'];
const LOCATABLE_WITH_TLS: readonly TransportProtocol[] = ['UDP', 'TCP', 'TLS'];

/** Descriptors beyond the RTP sockets the descriptor table is grown for: SIP sockets and connections, files, the runtime's own. */
const FD_HEADROOM = 256;

/** Calls with media a run holds at most: a line's old media may still be stopping while its next call opens. */
function mediaCallsCap(p: ResolvedParams): number {
  return p.numPhoneLinesRequested * 2 + 8;
}

/** TLS is on when it is the transport or any of its settings is given. */
function tlsIsOn(p: ResolvedParams): boolean {
  return p.sipTransport === 'TLS' || Object.keys(p.tls).length > 0;
}

/** One run of the engine, from a successful startSipTelephony to stopSipTelephony. */
export class RunningEngine {
  /** Local RTP ports for the calls' media. */
  readonly rtpAllocator: RtpPortAllocator;
  /** The services every usage shares (lines/context.ts), built once per run and handed to each. */
  readonly context: UsageContext;
  /** What every usage implements: the one source of Allow, Supported, Accept and Allow-Events (filled by the router's modules). */
  readonly capabilities = new CapabilityRegistry();
  /** The one router of incoming requests, behind the challenge screen: dialogs to their usages, the rest by method. */
  readonly router: DialogRouter;
  /** SIP and NAT keep-alives and the public address (engine/keepAlive.ts). */
  readonly keepAlive: KeepAliveService;
  /** Line selection, busy-out and the rules between lines (engine/linePolicy.ts). */
  readonly linePolicy: LinePolicy;
  /** Instant messages (engine/messaging.ts). */
  readonly messaging: Messaging;
  /** Challenges on incoming requests (engine/challenge.ts). */
  readonly challenge: ChallengeAuthenticator;
  /** SIP message hooks (engine/sipHooks.ts). */
  readonly sipHooks: SipMessageHooks;
  /** Transfers: REFER out and in, NOTIFY sipfrag, Replaces. */
  readonly transfers: TransferManager;
  /** Generic event subscriptions and the SUBSCRIBE/NOTIFY router (engine/eventSubscriptions.ts). */
  readonly subscriptions: EventSubscriptions;
  /** Presence agent (engine/presence.ts). */
  readonly presence: PresenceService;
  /** The registrar role: incoming REGISTER and the bindings (engine/registrarRole.ts). */
  readonly registrar: RegistrarRole;
  /** The calls on the lines. */
  readonly callManager: CallManager;
  /** Procedure bodies: calls (engine/callProcedures.ts). */
  readonly calls: CallProcedures;
  /** Procedure bodies: a line's settings and state (engine/lineProcedures.ts). */
  readonly lineSettings: LineProcedures;
  /** Procedure bodies: the media of a line's call (engine/lineMediaProcedures.ts). */
  readonly lineMedia: LineMediaProcedures;
  /** Procedure bodies: conference, recording, local audio and DSP (engine/localAudioProcedures.ts). */
  readonly localAudio: LocalAudioProcedures;
  /** Procedure bodies: servers, registration, keep-alive, NAT (engine/serverProcedures.ts). */
  readonly servers: ServerProcedures;

  /** The registration client while names are registered (enableSipRegisterServer). */
  registration?: RegistrationClient;
  /** The SIP proxy (enableSipProxyServer). */
  proxy?: SipServer;
  /** The outbound proxy (enableOutboundSipProxyServer). */
  outboundProxy?: SipServer;
  /** The SIP domain (enableSipDomain). */
  domain?: string;
  /** Seconds an incoming call may ring (setCallAnswerTimeout; from the start parameters). */
  callAnswerTimeoutSeconds: number;
  /** Seconds a connected call may go without RTP/RTCP, 0 = never (setMediaTimeout; from the start parameters). */
  mediaTimeoutSeconds: number;
  /** The one sweep that ends calls whose media went silent (lines/mediaTimeout.ts). */
  readonly mediaTimeout: MediaTimeoutWatch;
  /** The media workers (`mediaWorkers` > 0), else undefined: media on the main thread (engine/mediaWorkers.ts). */
  readonly mediaFloors?: MediaFloors;
  /** Sheds new requests with 503 + Retry-After when the engine cannot take them (engine/overload.ts). */
  readonly overload: OverloadGuard;
  /** The early screen: allowed networks, header count, per-source rate, authentication back-off (engine/securityLimits.ts). */
  readonly security: SecurityLimits;
  /** Last outgoing call failure per line, kept after the call ends (getOutgoingCallErrorInfo). */
  readonly lastErrors = new Map<number, OutgoingCallErrorInfo>();
  /** Finds SIP servers by DNS (RFC 3263), with this run's resolver and cache (sip/dnsLocator.ts). */
  readonly locator: DnsLocator;
  private stopped = false;
  private audioStopped = false;
  private readonly stopSipLog?: () => void;

  /**
   * Binds the SIP stack, starts the media clock and opens the audio devices, then builds the
   * run. On failure everything opened so far is closed again.
   * With media workers it resolves only once every floor is ready.
   * @returns the run, or SipCallFailure (the SIP port cannot be bound), SipThreadCreationError (a media worker did not start) or the audio device's code
   */
  static async start(state: EngineState, p: ResolvedParams): Promise<RunningEngine | T> {
    let stack: SipStack;
    try {
      stack = RunningEngine.newStack(state, p);
    } catch {
      return T.SipBadParameter; // a certificate or key file that cannot be read
    }
    try {
      await stack.start();
    } catch {
      await stack.stop().catch(() => undefined);
      return T.SipCallFailure;
    }
    return RunningEngine.afterStack(state, p, stack);
  }

  /** The run's SIP stack; TLS when asked for (reads the PEM files: throws on a bad one). */
  private static newStack(state: EngineState, p: ResolvedParams): SipStack {
    const tlsOn = tlsIsOn(p);
    return new SipStack({
      host: p.ipAddressOfThisHost,
      port: p.sipPort,
      clock: state.clock,
      t1: p.sipT1Ms,
      t2: p.sipT2Ms,
      t4: p.sipT4Ms,
      userAgent: p.userAgent,
      maxMessageSize: p.maxSipMessageBytes,
      tls: tlsOn ? { ...p.tls, port: p.tlsPort } : undefined,
      yieldGate: p.signallingYieldsToMedia ? state.yieldGate : undefined,
    });
  }

  private static async afterStack(state: EngineState, p: ResolvedParams, stack: SipStack): Promise<RunningEngine | T> {
    // The start parameter wins for this run; a restart without one goes back to the constructor's.
    state.logger = p.logger ?? state.constructorLogger();
    // libsrtp2 is one per process: a path given after it was loaded cannot take effect
    if (p.srtpLibraryPath !== '' && !setSrtpLibraryPath(p.srtpLibraryPath)) state.logger.warn({ srtpLibraryPath: p.srtpLibraryPath }, 'srtpLibraryPath ignored: another libsrtp2 is in use');
    state.notifier.setCallback(p.userNotifyCallbackProc);
    const lines = Array.from({ length: p.numPhoneLinesRequested }, (_, i) => new PhoneLine(i));
    for (const l of lines) {
      l.silenceSuppression = p.silenceSuppression;
      l.opusSettings = { ...p.opusSettings };
    }
    let mediaClock: MediaClock;
    try {
      mediaClock = state.options.mediaClock?.() ?? new DriftCorrectedMediaClock({ phases: p.mediaPhaseGroups });
    } catch (err) {
      // the application's factory failed: close the socket, then let the procedure guard report it
      await stack.stop().catch(() => undefined);
      throw err;
    }
    const mediaPump = MediaPump.attach(mediaClock);
    mediaClock.start();
    // signalling (SIP datagrams, notification handlers) gives way to this clock's due phases
    state.yieldGate.setClock(mediaClock);
    state.notifier.setYieldGate(p.signallingYieldsToMedia ? state.yieldGate : null);
    // the media floors are ready before the run exists: no call can reach a floor still
    // loading, and the start's CPU burst is over before the overload guard samples the loop
    const owner: { run?: RunningEngine } = {};
    const seats = state.options.realtimeSeats;
    const floors = p.mediaWorkers > 0 ? await RunningEngine.startMediaFloors(p, mediaPump, state.logger, seats === undefined ? RealtimeSeats.machine() : new RealtimeSeats(seats.dir, seats.count), (media, worker, reason) => owner.run?.mediaLost(media, worker, reason)) : undefined;
    const audio = floors === null ? T.SipThreadCreationError : await EngineAudio.start({ clock: state.clock, notifyLine: (line, event, data) => state.notifier.lineUnchecked(line, event, data) }, p, lines, mediaPump);
    if (typeof audio === 'number') {
      await floors?.stop();
      mediaPump.detach();
      mediaClock.stop();
      await stack.stop().catch(() => undefined);
      return audio;
    }
    owner.run = new RunningEngine(state, p, stack, lines, mediaClock, mediaPump, audio, floors ?? undefined);
    return owner.run;
  }

  private constructor(
    /** What outlives the run. */
    readonly state: EngineState,
    /** The start parameters after defaults. */
    readonly params: ResolvedParams,
    /** The SIP stack. */
    readonly stack: SipStack,
    /** The phone lines. */
    readonly lines: PhoneLine[],
    /** The engine's single media clock. */
    readonly mediaClock: MediaClock,
    /** The one pump on the media clock: every line's media and the bridge run in its phases. */
    readonly mediaPump: MediaPump,
    /** The audio floor-keeper: bridge, local device, tones, recording. */
    readonly audio: EngineAudio,
    floors: MediaFloors | undefined,
  ) {
    const notifier = state.notifier;
    this.locator = new DnsLocator({
      backend: nodeDnsBackend(params.dnsServers),
      now: () => state.clock.now(),
      transports: () => (tlsIsOn(params) ? LOCATABLE_WITH_TLS : LOCATABLE_TRANSPORTS),
      preferred: () => params.sipTransport,
    });
    this.callAnswerTimeoutSeconds = params.callAnswerTimeoutSeconds;
    this.mediaTimeoutSeconds = params.mediaTimeoutSeconds;
    this.rtpAllocator = new RtpPortAllocator({
      host: params.ipAddressOfThisHost,
      minPort: params.minLocalRtpPort,
      maxPort: params.maxLocalRtpPort,
      strategy: params.useSequentialRtpPorts ? 'sequential' : 'random',
      transport: params.rtpTransport,
    });
    // the allocator fell back to dgram (it says why): the operator hears it once, unless
    // LINESCAPE_DISABLE_NATIVE switched the transport off, which was asked for
    if (params.rtpTransport === 'native' && this.rtpAllocator.transportNote !== '' && !isNativeLibraryDisabled('udp')) {
      state.logger.info({ rtpTransport: 'native', reason: this.rtpAllocator.transportNote }, 'rtpTransport native unavailable: RTP uses node:dgram');
    }
    // grown now, before any call: a floor binding sockets mid-storm would wait for each growth (ffi/fdTable.ts)
    const fds = reserveFileDescriptors(this.rtpAllocator.descriptorsFor(mediaCallsCap(params)) + FD_HEADROOM);
    if (!fds.ok) state.logger.debug({ reason: fds.reason }, 'descriptor table not grown ahead');
    if (floors !== undefined) this.mediaFloors = floors;
    // The router first: its modules register their capabilities in this order (Allow lists it).
    this.router = this.newRouter();
    const ctx = this.newContext();
    this.context = ctx;
    this.keepAlive = new KeepAliveService(ctx, {
      natTargets: () => [this.outboundProxy, this.proxy, this.registration?.config.destination].filter((d) => d !== undefined),
      applyRtpKeepAlive: (ms) => {
        for (const l of this.lines) l.media?.setKeepAlive(ms);
      },
      reRegister: () => this.registration?.trigger(),
    });
    this.linePolicy = new LinePolicy(ctx, () => params);
    this.linePolicy.randomAssign = params.randomlyAssignIncomingCallsToPhoneLines;
    this.messaging = new Messaging(ctx, state.ids.message);
    this.security = this.newSecurityLimits();
    this.challenge = new ChallengeAuthenticator(
      () => this.domain ?? params.ipAddressOfThisHost,
      (d) => notifier.immediate(-1, T.SipIncomingAuthentication, d),
      (host, user) => this.security.authFailed(host, user),
    );
    this.sipHooks = new SipMessageHooks(
      (d) => notifier.immediate(-1, T.SipModifySipMessage, d),
      (message) => state.logger.warn(message),
    );
    this.transfers = new TransferManager(
      ctx,
      {
        calls: () => (this.stopped ? undefined : this.callManager),
        autoAccept: () => params.farEndCallTransferEnabled,
        keepCallAfterTransfer: () => params.keepCallAfterTransfer,
        acceptOutOfDialogRefer: () => params.acceptOutOfDialogRefer,
        placeCall: (line, target) => (this.stopped ? Promise.resolve(T.SipMediaEngineNotInitialized) : this.outgoingCall(line, target)),
      },
      state.ids.refer,
    );
    this.subscriptions = new EventSubscriptions(ctx, notifier, state.ids.subscription);
    this.presence = new PresenceService(this.subscriptions, state.ids.watcher);
    this.registrar = new RegistrarRole(state.clock, state.options, ctx, {
      required: () => params.registrarRequireAuthentication,
      authenticated: (req) => this.challenge.isAuthenticated(req),
      hasCredentials: (req) => this.challenge.hasCredentials(req),
      check: (req, tx, from) => this.challenge.check(this.stack, req, tx, from),
      challenge: (req, tx) => this.challenge.challengeRequest(this.stack, req, tx),
    });
    let sessionTimerSettings: SessionTimerSettings | undefined;
    this.callManager = new CallManager(ctx, {
      openMedia: (line) => this.openMedia(line),
      holdStyle: () => (state.holdType === CallHoldType.Rfc2543 ? 'rfc2543' : state.holdType === CallHoldType.Both ? 'both' : 'rfc3264'),
      holdMethod: () => params.holdMethod,
      answerTimeoutSeconds: () => this.callAnswerTimeoutSeconds,
      reofferSingleCodec: () => params.reofferSingleCodec,
      retryAfterSeconds: () => params.overloadRetryAfterSeconds,
      packetTimeMs: () => params.packetTimeMs,
      srtpPolicy: () => params.srtpPolicy,
      srtpSuites: () => params.srtpSuites,
      selectLine: (user) => this.linePolicy.selectLineForIncoming(user),
      formatsFor: (line) => formatSpecs(line.formats, line.opusSettings),
      callFinished: (call) => state.metrics.onCallFinished(call.finalCounters, call.finalQuality),
      callStatsFinal: (counted, final) => state.metrics.onCallStatsFinal(counted, final),
      // a bug in the call's state machine: the call refused the turn and goes on; say so loudly
      illegalTransition: (bug) => state.logger.error(bug, `illegal call state transition ${bug.from} -> ${bug.to} on line ${bug.line}`),
      // asked twice per incoming INVITE: made once (the start parameters and the floor are fixed for the run)
      sessionTimer: () => (sessionTimerSettings ??= Object.freeze({ ...params.sessionTimer, floorSeconds: state.options.sessionTimerFloorSeconds })),
      reliableProvisional: () => params.reliableProvisional,
    });
    // Transfer and messaging live on every call's dialog beside the INVITE session.
    this.callManager.extendDialogs((call) => this.transfers.usageFor(call));
    this.callManager.extendDialogs((call) => this.messaging.usageFor(call));
    this.callManager.setInfoHandler(infoDtmfHandler(() => this.liveStack(), (line, digit) => notifier.line(line, T.SipDtmfDigitEvent, { digit, method: 'info' })));
    this.mediaTimeout = new MediaTimeoutWatch({
      clock: () => state.clock,
      calls: () => this.lines.map((l) => l.call),
      timeoutSeconds: () => this.mediaTimeoutSeconds,
    });
    this.mediaTimeout.start();
    this.overload = this.newOverloadGuard();
    this.overload.start();
    // the transaction table's bound is the stack's: it answers 503 there without making a transaction
    stack.transactionLimit = params.maxServerTransactions;
    stack.transactionLimitRetryAfter = params.overloadRetryAfterSeconds;
    stack.onTransactionLimit = () => this.overload.noteShed('transactions');
    // before any transaction: who may send, how much, and whether a blocked source asks for auth
    stack.screenRequest = (req, from) =>
      this.security.screen(req, from, req.method === 'REGISTER' || (this.challenge.enabled && CHALLENGED_METHODS.includes(req.method)), () => this.router.knows(req));
    stack.onOversize = () => this.security.note('messageTooLarge');
    this.calls = new CallProcedures(this);
    this.lineSettings = new LineProcedures(this);
    this.lineMedia = new LineMediaProcedures(this);
    this.localAudio = new LocalAudioProcedures(this);
    this.servers = new ServerProcedures(this);
    // The stack's callbacks last: from here requests reach a complete engine.
    stack.onRequest = (req, tx, from) => this.onRequest(req, tx, from);
    stack.onAck = (req) => this.callManager.onAck(req);
    stack.onStrayResponse = (res) => this.callManager.onStrayResponse(res);
    stack.on('parseError', (err: SipParseError, raw: Buffer, from: Endpoint) => this.onParseError(err, raw, from));
    stack.transport.on('tlsError', (err, peer, outgoing) =>
      notifier.global(T.SipTlsError, { peer: { protocol: 'TLS', host: peer.host, port: peer.port }, reason: err.reason, detail: err.detail, outgoing }));
    if (params.logSipMessages) this.stopSipLog = attachSipLogger(stack, params.sipLogFile, state.logger === defaultLogger() ? undefined : state.logger);
    state.metrics.setStack(stack);
  }

  /**
   * Stops the run, in this order: every call ends (BYE / CANCEL / 480, the far ends get up to
   * 2 s to answer), the audio devices close, subscriptions end, registrations are removed
   * (Expires: 0), keep-alive and registrar state go, the media clock stops, transfers forget
   * their timers; then `detach` lets the facade drop this run (procedures answer
   * SipMediaEngineNotInitialized from then on), the stack closes its sockets, and pending
   * notifications are delivered.
   */
  async stop(detach: () => void): Promise<void> {
    this.mediaTimeout.stop();
    this.overload.stop();
    const calls = this.callManager.calls();
    // A hang-up that fails must not keep stop from resolving (stopSipTelephony always resolves).
    // at most 2 s on the engine's clock for the far ends to answer the BYEs
    await raceTimer(this.state.clock, 2000, Promise.all(calls.map((c) => c.hangUp().catch(() => T.SipCallFailure))), undefined);
    for (const c of calls) c.finish(T.SipCallComplete);
    await this.audio.stop();
    this.audioStopped = true;
    await this.subscriptions.stop();
    const reg = this.registration;
    if (reg) {
      this.registration = undefined;
      await reg.stop().catch(() => T.SipCallFailure);
      reg.dispose();
    }
    this.keepAlive.reset();
    this.registrar.clear();
    this.security.clear();
    this.mediaPump.detach();
    this.mediaClock.stop();
    await this.mediaFloors?.stop();
    // the calls' sockets are closed or parked by now: the parked ones close with the engine
    this.rtpAllocator.close();
    this.transfers.stop();
    this.stopped = true;
    detach();
    this.state.metrics.setStack(undefined);
    await this.stack.stop().catch(() => undefined);
    this.stopSipLog?.();
    this.state.notifier.flush();
  }

  /**
   * The media clock's figures as getMediaClockStatistics and the metrics report them: with media
   * workers the floors' clocks merged (they send the RTP), the main thread's in `mainThread`.
   */
  mediaClockStats(): MediaClockStats {
    const main = this.mediaClock.stats();
    return this.mediaFloors?.clockStats(main) ?? main;
  }

  /** Whether the run has stopped (an `await` inside a procedure may outlive it). */
  get isStopped(): boolean {
    return this.stopped;
  }

  /** Whether stop has closed the audio floor-keeper (its procedures answer SipMediaEngineNotInitialized from then on). */
  get audioClosed(): boolean {
    return this.audioStopped;
  }

  /** The stack while the run lasts; undefined once stopped (what the services' hosts read). */
  private liveStack(): SipStack | undefined {
    return this.stopped ? undefined : this.stack;
  }

  // ---------------------------------------------------------------- what the procedure groups share

  /** The line a procedure names, or the code saying why there is none. */
  line(phoneLine: unknown): PhoneLine | T {
    if (this.stopped) return T.SipMediaEngineNotInitialized;
    if (typeof phoneLine !== 'number' || !Number.isInteger(phoneLine) || phoneLine < 0 || phoneLine >= this.lines.length) return T.SipBadPhoneLine;
    return this.lines[phoneLine]!;
  }

  /** The live call on a line, or the code saying why there is none. */
  lineCall(phoneLine: unknown): Call | T {
    const l = this.line(phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    return l.call && !l.call.isEnded ? l.call : T.SipNoCallActive;
  }

  /** The user a line answers and calls as. */
  userForLine(line: PhoneLine): string {
    return line.phoneName ?? line.registrationName ?? this.params.phoneName;
  }

  /** The address advertised in Contact and Via: the public one when known, else the local one. */
  advertisedAddress(): { host: string; port: number; protocol: string } {
    return this.keepAlive.advertisedAddress(this.stack);
  }

  /**
   * The targets of a SIP URI, or of a host with its port (none: NAPTR/SRV), in the order to try
   * them (RFC 3263); rejects with a DnsLocateError saying which name yielded nothing.
   */
  locate(q: LocateQuery | string): Promise<readonly Endpoint[]> {
    try {
      return this.locator.locate(typeof q === 'string' ? queryOfUri(q) : q);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /**
   * Our Contact URI for `user`: over `protocol` when given (the transport a dialog's request
   * actually used), else `sipTransport`; `sips` asks for a `sips:` URI (RFC 3261 §8.1.1.8).
   */
  contactUri(user: string, protocol?: TransportProtocol, sips = false): string {
    const a = this.advertisedAddress();
    // Another transport than the default: its own listening port (TLS has one), on the
    // advertised host; the port is the one our Via names, so an aliased connection matches it.
    const stack = this.liveStack();
    const port = protocol === undefined || protocol === a.protocol || !stack ? a.port : stack.localEndpoint(protocol).port;
    const p = protocol ?? a.protocol;
    if (sips && p === 'TLS') return `sips:${user}@${hostPort(a.host, port)}`;
    return `sip:${user}@${hostPort(a.host, port)}${p === 'UDP' ? '' : `;transport=${p.toLowerCase()}`}`;
  }

  /**
   * Rewrites the Contact of an outgoing request to name the transport it is about to go over,
   * when that Contact is one of ours for its user (see {@link contactUri}; a retry or failover
   * may carry the one of an earlier attempt); others are left.
   */
  private contactForTransport(req: SipRequest, protocol: TransportProtocol): void {
    const value = req.headers.get('Contact');
    const user = value && /^<sips?:([^@;>]+)@/i.exec(value)?.[1];
    if (!user) return;
    const ours = [this.contactUri(user), this.contactUri(user, 'TLS', true), ...(['UDP', 'TCP', 'TLS'] as const).map((p) => this.contactUri(user, p))];
    if (!ours.some((c) => value === `<${c}>`)) return;
    const wanted = `<${this.contactUri(user, protocol, requestIsSips(req))}>`;
    if (wanted !== value) req.headers.set('Contact', wanted);
  }

  /** Where requests sent through the SIP proxy go, when one is enabled. */
  proxyEndpoint(): Endpoint | undefined {
    return this.proxy ? serverEndpoint(this.params.sipTransport, this.proxy) : undefined;
  }

  /** The outbound proxy in its one shape: where to send, and the Route naming it (built only here). */
  outboundProxyRoute(): OutboundProxy | undefined {
    const ob = this.outboundProxy;
    if (!ob) return undefined;
    return { endpoint: serverEndpoint(this.params.sipTransport, ob), route: looseRoute(ob.given, ob.givenPort), targets: ob.targets };
  }

  /**
   * The client-request path for one usage: sends on the running stack, answers challenges with
   * one digest client per `keyPrefix` + user name, follows the outbound proxy.
   */
  uacFor(keyPrefix: string): UacServices {
    return {
      send: (req, dest, user) => this.liveStack()?.sendRequest(req, dest, user),
      answerChallenge: (user, retry, challenge, challenged) =>
        answerChallenge(this.state.digestClientFor(`${keyPrefix}${user}`), retry, challenge, challenged, user),
      outboundProxy: () => this.outboundProxyRoute(),
      resolve: (host) => this.locator.resolveHost(host),
      locate: (uri) => this.locate(uri),
      transport: () => this.params.sipTransport,
      contactFor: (req, protocol) => this.contactForTransport(req, protocol),
    };
  }

  /** Places a call on `line` to `target` with the line's formats and caller identity. */
  outgoingCall(line: PhoneLine, target: CallTarget): Promise<Call | T> {
    const fromUser = line.fromUserName ?? this.userForLine(line);
    return Call.outgoing(this.callManager.services, line, target, formatSpecs(line.formats, line.opusSettings), fromUser, this.params.phoneDisplayName);
  }

  /** What the registration client takes beyond the context (enableSipRegisterServer builds one client per call). */
  registrationExtras(): RegistrationExtras {
    return { publicAddressDetected: (host, port) => this.keepAlive.publicAddressDetected(host, port) };
  }

  // ---------------------------------------------------------------- the usage context

  /**
   * The one context of the run's usages: every member reads the run's current state when called
   * (proxy, domain and the public address change during a run; the stack reads as gone once
   * stopped).
   */
  private newContext(): UsageContext {
    const { state, params } = this;
    const { notifier } = state;
    return {
      stack: () => this.liveStack(),
      runStack: this.stack,
      clock: () => state.clock,
      capabilities: this.capabilities,
      router: this.router,
      uacFor: (keyPrefix) => this.uacFor(keyPrefix),
      transport: () => params.sipTransport,
      resolve: (host) => this.locator.resolveHost(host),
      locate: (uri) => this.locate(uri),
      userAgent: () => params.userAgent,
      user: () => params.phoneName,
      displayName: () => params.phoneDisplayName,
      userFor: (line) => this.userForLine(line),
      contactUri: (user, protocol, sips) => this.contactUri(user, protocol, sips),
      advertisedAddress: () => this.advertisedAddress(),
      domain: () => this.domain,
      proxy: () => this.proxy,
      outboundProxy: () => this.outboundProxyRoute(),
      lines: () => this.lines,
      lineCall: (phoneLine) => this.lineCall(phoneLine),
      notify: (line, event, data) => {
        // The engine's observers of line events: a call's last error, metrics, signal tones.
        if (event === T.SipFarEndError || event === T.SipFarEndIsBusy) {
          const call = this.lines[line]?.call;
          if (call?.errorInfo) this.lastErrors.set(line, { ...call.errorInfo });
        }
        state.metrics.onLineEvent(event, data);
        notifier.lineUnchecked(line, event, data);
        this.audio.onLineEvent(event);
      },
      notifyGlobal: (event, data) => notifier.globalUnchecked(event, data),
      immediate: (line, event, data) => notifier.immediateUnchecked(line, event, data),
    };
  }

  /**
   * Starts the run's media floors and waits until each is ready; null when one could not start
   * (the start then fails with SipThreadCreationError).
   */
  private static async startMediaFloors(p: ResolvedParams, pump: MediaPump, logger: EngineState['logger'], seats: RealtimeSeats, onLost: MediaFloorsOptions['onLost']): Promise<MediaFloors | null> {
    const floors = await MediaFloors.start({
      count: p.mediaWorkers,
      host: p.ipAddressOfThisHost,
      minPort: p.minLocalRtpPort,
      maxPort: p.maxLocalRtpPort,
      strategy: p.useSequentialRtpPorts ? 'sequential' : 'random',
      maxCalls: mediaCallsCap(p),
      pump,
      priority: p.mediaThreadPriority,
      seats,
      transport: p.rtpTransport,
      // each floor's clock is cut into the same phases as the main thread's
      phases: p.mediaPhaseGroups,
      onPriority: (worker, r, step) => {
        // what the floor's thread got, and why less than asked (ffi/sched.ts)
        const fields = { worker, requested: r.requested, applied: r.applied, tid: r.tid, nice: r.nice, policy: r.policy, sliceUs: r.sliceUs, ...(r.reason !== '' ? { reason: r.reason } : {}) };
        // a saturated floor is worth a warning (it has more calls than its core carries); real
        // time (the default) is refused wherever the engine lacks the right, and a floor beyond
        // the machine's real-time seats runs at 'high' by design, so those are only information
        const lower = r.applied !== r.requested;
        if (step === 'down') logger.warn(fields, 'media worker thread stepped down: its core is saturated');
        else logger.info(fields, lower ? 'media worker thread priority lower than asked' : 'media worker thread priority');
      },
      onLost,
    });
    return floors ?? null;
  }

  /** A floor died under a call's media: the line is told and the call ended. */
  private mediaLost(media: FloorLineMedia, worker: number, reason: string): void {
    const line = this.lines.find((l) => l.media === media);
    if (line === undefined) return;
    this.state.logger.error({ phoneLine: line.index, worker, reason }, 'media worker lost');
    this.state.notifier.line(line.index, T.SipMediaWorkerLost, { worker, reason });
    line.media = undefined;
    void line.call?.hangUp().catch(() => T.SipCallFailure);
  }

  private async openMedia(line: PhoneLine): Promise<CallMedia | undefined> {
    if (this.stopped) return undefined;
    const { notifier } = this.state;
    const media = await openLineMedia({
      floors: this.mediaFloors,
      clock: this.mediaClock,
      pump: this.mediaPump,
      allocator: this.rtpAllocator,
      localAddress: this.params.ipAddressOfThisHost,
      line,
      dtmfDetect: this.params.dtmfEnabled,
      rtpKeepAliveMs: this.keepAlive.rtpKeepAliveMs,
      onDtmf: (digit, method) => notifier.line(line.index, T.SipDtmfDigitEvent, { digit, method }),
      onMediaConflict: (address, port) => notifier.line(line.index, T.SipReceivedRtpMediaConflict, { address, port }),
      onWaveEnd: (path) => notifier.line(line.index, T.SipWaveFileComplete, { path }),
      onHandlerError: (err, count) => this.state.logger.error({ err, phoneLine: line.index, count }, 'media handler threw'),
    });
    if (!media) return undefined;
    line.media = media;
    return media;
  }

  // ---------------------------------------------------------------- incoming requests

  /**
   * Builds the router: each module registers its capabilities and its out-of-dialog handlers
   * (one per method); the dialogs' usages attach themselves as dialogs come and go.
   */
  private newRouter(): DialogRouter {
    const router = new DialogRouter({
      createResponse: (req, status, reason, options) => this.stack.createResponse(req, status, reason, options),
      capabilities: this.capabilities,
    });
    return router
      .module('calls', CALL_CAPABILITY, {
        // An INVITE naming a call to replace is transfer's (RFC 3891 §3); any other is a new call.
        INVITE: (req, tx, from) => (req.headers.has('Replaces') ? this.transfers.onReplacesInvite(req, tx) : this.callManager.onNewInvite(req, tx, from)),
        CANCEL: (req, tx) => this.callManager.onCancel(req, tx),
        OPTIONS: (req, tx) => this.onOptions(req, tx),
      })
      .module('transfer', TRANSFER_CAPABILITY, { REFER: (req, tx) => this.transfers.onOutOfDialogRefer(req, tx) })
      // Supported: timer only when session timers are on (off, Require: timer gets 420)
      .module('session-timer', this.params.sessionTimer.enabled ? SESSION_TIMER_CAPABILITY : {})
      .module('messaging', MESSAGING_CAPABILITY, { MESSAGE: (req, tx) => this.messaging.onOutOfDialog(req, tx) })
      .module('subscriptions', SUBSCRIPTION_CAPABILITY, {
        SUBSCRIBE: (req, tx) => this.subscriptions.onSubscribe(req, tx),
        NOTIFY: (req, tx) => this.subscriptions.onUnknownNotify(req, tx),
      })
      .module('registrar', REGISTRAR_CAPABILITY, { REGISTER: (req, tx, from) => this.registrar.handleRegister(req, tx, from) })
      // PRACK and 100rel only when the policy is on: the router's Require check then refuses 100rel with 420
      .module('100rel', this.params.reliableProvisional === 'off' ? {} : RELIABLE_PROVISIONAL_CAPABILITY)
      .onUnknownDialog('NOTIFY', (req, tx) => this.subscriptions.onUnknownNotify(req, tx));
  }

  private onRequest(req: SipRequest, tx: ServerTransaction, from: Endpoint): void {
    if (this.stopped) return;
    try {
      // Overload first: a shed request costs one 503 and nothing else (engine/overload.ts).
      const shed = startsSomething(req) ? this.overload.screen(req.method === 'INVITE') : undefined;
      if (shed) return refuseOverloaded(this.stack, req, tx, shed);
      // The challenge screen stands in front of the router (engine/challenge.ts).
      if (this.challenge.onRequest(this.stack, req, tx, from)) return;
      this.router.route(req, tx, from);
    } catch (err) {
      // Whatever went wrong with this request, the engine keeps serving the others.
      try {
        tx.respond(this.stack.createResponse(req, 500, 'Server Internal Error', { toTag: true }));
      } catch {
        /* nothing more to do */
      }
      this.state.internalError(err, `request ${req.method} failed`);
    }
  }

  /** The overload guard on the run's limits and counters, reporting through notifications and metrics. */
  private newOverloadGuard(): OverloadGuard {
    const { state, params: p } = this;
    const pending = (): number =>
      this.lines.filter((l) => l.call?.direction === CallDirection.Incoming && (l.call.state === CallState.Initial || l.call.state === CallState.Ringing)).length;
    const limits = {
      maxPendingIncomingCalls: p.maxPendingIncomingCalls,
      retryAfterSeconds: p.overloadRetryAfterSeconds,
      maxEventLoopLagMs: p.maxEventLoopLagMs,
    };
    return new OverloadGuard(
      state.clock,
      () => limits,
      {
        pendingIncomingCalls: pending,
        notificationBacklog: () => state.notifier.backlog,
        // with media workers the range is shared out between the floors: their free pairs count
        rtpPortsExhausted: () =>
          (this.mediaFloors ? this.mediaFloors.freeRtpPairs() === 0 : this.rtpAllocator.inUse >= this.rtpAllocator.pairs) && this.lines.some((l) => l.availableForIncoming),
        signallingQueueAgeMs: () => this.stack.transport.ingressQueueAgeMs(),
        signallingQueueLength: () => this.stack.transport.ingressQueueLength(),
      },
      {
        shedding: (d) => {
          state.logger.warn(d, 'overload: shedding new requests with 503');
          state.notifier.global(T.SipOverloadShedding, d);
        },
        recovered: (d) => {
          state.logger.info(d, 'overload: recovered');
          state.notifier.global(T.SipOverloadRecovered, d);
        },
        shed: (cause) => state.metrics.onShed(cause),
      },
    );
  }

  /** The early screen on the run's limits, reporting blocks as notifications and refusals to the metrics. */
  private newSecurityLimits(): SecurityLimits {
    const { state, params: p } = this;
    return new SecurityLimits(state.clock, { ...p, retryAfterSeconds: p.overloadRetryAfterSeconds }, {
      blocked: (d) => {
        // who and how often, never what they tried
        state.logger.warn(d, 'authentication: blocked after repeated failures');
        state.notifier.global(T.SipAuthenticationBlocked, d);
      },
      refused: (reason) => state.metrics.onRefused(reason),
    });
  }

  /** OPTIONS outside a dialog: what this engine implements. */
  private onOptions(req: SipRequest, tx: ServerTransaction): void {
    const res = this.stack.createResponse(req, 200, 'OK', { toTag: true });
    this.capabilities.addHeaders(res.headers, ['Allow', 'Accept']);
    res.headers.append('Accept-Encoding', 'identity');
    res.headers.append('Accept-Language', 'en');
    this.capabilities.addHeaders(res.headers, ['Supported', 'Allow-Events']);
    tx.respond(res);
  }

  private onParseError(err: SipParseError, raw: Buffer, from: Endpoint): void {
    this.state.notifier.global(T.SipReceivedSipMessageParseError, {
      reason: err.reason,
      source: { protocol: from.protocol, host: from.host, port: from.port },
      message: redactSdesKeys(raw.subarray(0, 2048).toString('latin1')),
    });
  }
}
