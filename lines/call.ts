/**
 * One call on one phone line: the INVITE dialog (both directions), SDP offer/answer, hold,
 * teardown, and the LanScape notification sequence of each step. Media is reached through the
 * {@link CallMedia} interface so this floor joins a SIP dialog to a media session without
 * knowing how the media is done. Where the session is lives in one {@link CallState}
 * (lines/callState.ts), changed only through `Call.enter`, which refuses a transition its table
 * does not allow. A call takes the usage context (lines/context.ts) plus {@link CallExtras}: the
 * call manager's dialog bookkeeping, the calls' client path, media opening and the engine's
 * call settings (hold style, ring time-out), in one object the call manager makes.
 * @module
 */
import { requestIsSips, SipsNeedsTlsError, TlsError } from '../sip/tlsTransport.js';
import type { Clock, TimerHandle } from '../sip/clock.js';
import { Dialog, nextHopOf, uriOf, type InDialogRequestOptions } from '../sip/dialog.js';
import { DialogRouter } from '../sip/dialogRouter.js';
import { SipHeaders, type SipRequest, type SipResponse } from '../sip/message.js';
import { serializeMessage } from '../sip/parser.js';
import {
  createOffer,
  negotiateAnswer,
  negotiateOffer,
  isSameRemoteVersion,
  type AudioFormatSpec,
  type HoldStyle,
  type LocalMedia,
  type MediaDirection,
  type NegotiatedMedia,
} from '../sip/sdp.js';
import type { ClientTransaction, ServerTransaction, InviteServerTransaction } from '../sip/transaction.js';
import type { Capability } from '../sip/capabilities.js';
import { sendUacRequest, type UacDestination, type UacOutcome, type UacServices } from '../sip/uac.js';
import type { Endpoint } from '../sip/transport.js';
import { cseqNumber, newCallId, newTag, tagOf, type ResponseOptions } from '../sip/util.js';
import { SESSION_BODY_TYPES, sessionBodyOf, type SessionBody } from '../sip/multipart.js';
import { formatWarning } from '../sip/headers.js';
import { makeCryptoOffer, redactSdesKeys, type LocalSrtp, type SrtpPolicy, type SrtpSuite } from '../sip/sdes.js';
import { supportedSrtpSuites } from '../media/srtp.js';
import { TelephonyReturnValue as T } from './telephonyCodes.js';
import { CallDirection, LineState } from './lineState.js';
import type { TransportAddress } from '../sip/address.js';
import type { PhoneLine } from './phoneLine.js';
import type { UsageContext } from './context.js';
import { callQualityFromStats, type CallQuality } from '../media/quality.js';
import type { MediaSessionStats } from '../media/session.js';
import { rtpCountersOf, type RtpCounters } from '../media/rtpCounters.js';
import { ForkedAnswers } from './forkedAnswers.js';
import { singleCodecReoffer } from './singleCodecReoffer.js';
import { CallState, isLegalCallTransition, type CallStateChange, type IllegalCallTransition } from './callState.js';
import { EarlyAnswers, earlyMediaData } from './earlyMedia.js';
import { SessionTimer, type SessionTimerHost, type SessionTimerSettings } from './sessionTimer.js';
import { CallUpdates, type HoldMethod, type LocalOffer, type UpdateHost, type UpdateOutcome, type UpdateRequestOptions } from './callUpdate.js';
import { ReliableProvisionalReceiver, ReliableProvisionalSender, TAG_100REL, uasDecision, type ReliableProvisionalPolicy, type ReliableSenderHost } from './reliableProvisional.js';

/** The media side of a call, as the call needs it. */
export interface CallMedia {
  /** Local RTP port to put in SDP. */
  readonly localPort: number;
  /** Applies negotiated media (again after every offer/answer). */
  configure(media: NegotiatedMedia): boolean;
  /** Starts sending/receiving on the media clock. */
  start(): void;
  /** Stops and frees the ports. */
  stop(): Promise<void>;
  /** Statistics snapshot (taken once more as the call ends, for its final quality figure). */
  stats?(): MediaSessionStats;
  /**
   * Media whose statistics live on another thread (a media floor): the quality figure as the
   * call ends without waiting on that thread, and the final statistics once it has stopped. Used
   * instead of `stats()` by the hang-up, which must not block signalling.
   */
  closing?(): { quality: CallQuality | undefined; counted: RtpCounters; stats: Promise<MediaSessionStats | undefined> };
  /** RTP and RTCP packets received so far (a counter; the media time-out watches it change). */
  mediaActivity?(): number;
}

/**
 * What a call takes beyond the usage context (lines/context.ts): its manager's bookkeeping, its
 * client path, the media, and the engine's call settings.
 */
export interface CallExtras {
  /** The client-request path of calls (the context's, made once by the call manager). */
  readonly uac: UacServices;
  /** Allocates media for a call on `line`. */
  openMedia(line: PhoneLine): Promise<CallMedia | undefined>;
  /** How hold is signalled in SDP. */
  holdStyle(): HoldStyle;
  /** How hold is sent: by re-INVITE (the default) or by UPDATE when the peer allows it (lines/callUpdate.ts). */
  holdMethod?(): HoldMethod;
  /** The `a=ptime` of the line's offers, ms (`setPacketTime`, else the packetTimeMs start parameter); absent = 20. */
  packetTimeMs?(line: PhoneLine): number;
  /** The line's SRTP policy (`setSrtpPolicy`, else the srtpPolicy start parameter); absent = none. */
  srtpPolicy?(line: PhoneLine): SrtpPolicy;
  /** The SRTP suites to offer and accept, in preference order; absent = all libsrtp2 has. */
  srtpSuites?(): readonly SrtpSuite[];
  /** Seconds an incoming call may ring. */
  answerTimeoutSeconds(): number;
  /** After a multi-codec answer to our INVITE, re-offer the chosen codec alone (lines/singleCodecReoffer.ts). */
  reofferSingleCodec?(): boolean;
  /** The `Retry-After` (seconds) of a 503 sent when the engine cannot take a call (engine/overload.ts). */
  retryAfterSeconds?(): number;
  /** Registers / unregisters the call for in-dialog request routing. */
  dialogChanged(call: Call, oldKey: string | undefined, newKey: string | undefined): void;
  /** The call is over; the line is free again. */
  ended(call: Call): void;
  /** The call is ending with these final figures (before SipCallComplete): for metrics. */
  callFinished?(call: Call): void;
  /**
   * Media on a floor: the call's last statistics arrived after `callFinished` counted the RTP
   * counters the floor had copied before (`counted`): metrics add what grew since.
   */
  callStatsFinal?(counted: RtpCounters | undefined, final: MediaSessionStats | undefined): void;
  /**
   * A call tried a state transition its table forbids (a bug: the transition is refused and the
   * call goes on). Without it the bug is reported as a process warning.
   */
  illegalTransition?(bug: IllegalCallTransition): void;
  /** The session-timer settings (lines/sessionTimer.ts); none or disabled: no session timer. */
  sessionTimer?(): SessionTimerSettings | undefined;
  /** The 100rel policy (RFC 3262, lines/reliableProvisional.ts); omitted: off. */
  reliableProvisional?(): ReliableProvisionalPolicy;
}

/** What a call reaches: the usage context and the call's extras in one object (`CallManager.services`). */
export type CallServices = UsageContext & CallExtras;

/** What calls implement: the INVITE session, its teardown, INFO (DTMF) and UPDATE (lines/callUpdate.ts) inside it. */
export const CALL_CAPABILITY: Capability = {
  methods: ['INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'INFO', 'UPDATE'],
  accept: [...SESSION_BODY_TYPES, 'application/dtmf-relay'],
};

/** What a refusal of an offer says besides its status: a Warning, and Accept for a 415. */
export interface Refusal {
  /** Warning code (RFC 3261 §20.43: 304, 305, 399) and its text. */
  warning?: { code: number; text: string };
  /** True to list the session body types we accept (a 415). */
  accept?: boolean;
  /** Other headers of the refusal (Min-SE of a 422). */
  headers?: Array<[string, string]>;
  /** Seconds for `Retry-After` (a 503, RFC 3261 §21.5.4). */
  retryAfter?: number;
}

/** The refusal of a body that holds no usable offer: 415 with Accept, or 400 for an unreadable multipart body. */
/** The suites a call may use: those enabled (in their order) that libsrtp2 runs here. */
function srtpSuitesOf(host: CallServices): SrtpSuite[] {
  const enabled = host.srtpSuites?.();
  const suites = supportedSrtpSuites().filter((s) => enabled === undefined || enabled.includes(s));
  if (enabled !== undefined) suites.sort((a, b) => enabled.indexOf(a) - enabled.indexOf(b));
  return suites;
}

function bodyRefusal(offer: Extract<SessionBody, { kind: 'unsupported' | 'malformed' }>): Refusal {
  return { warning: { code: 399, text: offer.detail }, accept: offer.kind === 'unsupported' };
}

/** Where an outgoing call goes. */
export interface CallTarget {
  /** Request-URI. */
  requestUri: string;
  /** To header value. */
  to: string;
  /** Where the INVITE is sent: an address, or the targets of an RFC 3263 resolution in order. */
  destination: UacDestination;
  /** Route headers for the initial request (the outbound proxy's is added by the client path). */
  routes?: string[];
  /** Extra headers of the INVITE (Replaces and Referred-By of a transfer). */
  headers?: Array<[string, string]>;
}

/** Details of an incoming call (getIncomingCallInfo). */
export interface IncomingCallInfo {
  /** From header value. */
  from: string;
  /** Display name of the caller, if any. */
  fromDisplayName: string;
  /** To header value. */
  to: string;
  /** Request-URI of the INVITE. */
  requestUri: string;
  /** Call-ID. */
  callId: string;
  /** Where the INVITE came from. */
  source: TransportAddress;
}

/** Details of an outgoing call (getOutgoingCallInfo). */
export interface OutgoingCallInfo {
  /** Request-URI dialled. */
  requestUri: string;
  /** To header value. */
  to: string;
  /** From header value. */
  from: string;
  /** Call-ID. */
  callId: string;
}

/** Why an outgoing call failed (getOutgoingCallErrorInfo, LanScape's SIP_OUTGOING_CALL_ERROR_INFO). */
export interface OutgoingCallErrorInfo {
  /** SIP status of the far end's error answer (408 for no answer at all). */
  responseCode: number;
  /** Its reason phrase. */
  responseReasonPhrase: string;
  /** The raw answer as received ('' when none), SDES keys redacted. */
  rawSipMessage: string;
}

const MAX_REDIRECTS = 3;

/**
 * How long to wait before sending a re-INVITE again after a 491 (RFC 3261 §14.1): a random
 * multiple of 10 ms, 2.1-4 s for the owner of the Call-ID (the side that placed the call),
 * 0-2 s for the other side.
 */
export function glareRetryDelayMs(ownsCallId: boolean, random: () => number = Math.random): number {
  const span = ownsCallId ? 190 : 200;
  return (ownsCallId ? 2100 : 0) + 10 * Math.min(span, Math.floor(random() * (span + 1)));
}

function displayNameOf(value: string): string {
  const m = /^\s*"((?:[^"\\]|\\.)*)"/.exec(value);
  if (m) return m[1]!.replace(/\\(.)/g, '$1');
  const lt = value.indexOf('<');
  return lt > 0 ? value.slice(0, lt).trim() : '';
}

/** One call. Created by the engine for `makeCall` or an incoming INVITE. */
export class Call {
  /** Direction. */
  readonly direction: CallDirection;
  /** The dialog once established (early or confirmed). */
  dialog?: Dialog;
  /** Media of the call. */
  media?: CallMedia;
  /** Negotiated media after the last offer/answer. */
  negotiated?: NegotiatedMedia;
  /** Incoming call details. */
  incomingInfo?: IncomingCallInfo;
  /** Outgoing call details. */
  outgoingInfo?: OutgoingCallInfo;
  /** Why the outgoing call failed. */
  errorInfo?: OutgoingCallErrorInfo;
  /**
   * When the call connected (ms since epoch, a wall-clock moment for display), 0 before. Also the
   * call's memory of having been connected once it is Terminating or Terminated (whenSettled,
   * isConnected while the BYE is out).
   */
  connectedAt = 0;
  /** The engine clock's reading when the call connected (durations come from the clock). */
  private connectedClockMs?: number;

  /** How long the call has been connected, measured on the engine's clock; 0 before it connects. */
  get durationMs(): number {
    return this.connectedClockMs === undefined ? 0 : this.host.clock().now() - this.connectedClockMs;
  }
  /** The RTP counters as the call ended (set by `finish`, for metrics). */
  finalCounters?: RtpCounters;
  /** The call's final quality figure (set by `finish` when RTP was received). */
  finalQuality?: CallQuality;
  /** The far end holds us. */
  farEndHold = false;
  /** We hold the far end. */
  localHold = false;
  /** Observer of every state transition (tests, and the line policy when it wants to follow the session). */
  onStateChange?: (change: CallStateChange) => void;

  private st = CallState.Initial;
  private inviteTx?: ClientTransaction;
  private serverTx?: ServerTransaction;
  private invite?: SipRequest;
  private localMedia?: LocalMedia;
  private answerTimer?: TimerHandle;
  private redirects = 0;
  /** Our re-INVITE in flight (hold/resume), if any. */
  private reinviteTx?: ClientTransaction;
  /** The retry timer after a 491 to our re-INVITE (RFC 3261 §14.1): our re-INVITE is still pending. */
  private glareTimer?: TimerHandle;
  private waiters: Array<(rc: T) => void> = [];
  private byeDone?: () => void;
  private pendingHold?: { on: boolean; resolve: (rc: T) => void };
  private sessionVersion = 1;
  private readonly sessionId = String(Math.floor(Math.random() * 1e9));
  /** The offer we sent in a 200 to an INVITE without SDP (late offer), awaiting the ACK's answer. */
  private lateOffer = false;
  private localTag = newTag();
  /**
   * The router key our outgoing INVITE's early dialogs live under (Call-ID and our tag) until
   * a 2xx makes the dialog: a BYE in an early dialog (RFC 3261 §15) then finds the call.
   */
  private earlyKey?: string;
  /** The INVITE transaction whose CANCEL was sent (one CANCEL per INVITE). */
  private cancelledTx?: ClientTransaction;
  /** The attempt was ended by us because a provisional's SDP answer was unusable (§13.2.1). */
  private earlyAnswerFailed = false;
  /** The early SDP answers of our INVITE, per early dialog (lines/earlyMedia.ts); made by the first 18x or 2xx to it. */
  private earlyAnswers?: EarlyAnswers;
  /** The 2xx answers of other forks of our INVITE, each ACKed and ended (made at the first). */
  private forks?: ForkedAnswers;
  /** Where the last INVITE went (the retry after 422 goes there too). */
  private inviteDestination?: UacDestination;
  /**
   * Our Contact in this call's dialog: the one our INVITE went with, or the one for the transport
   * (and scheme) an incoming INVITE came over; unset until then (the engine's default).
   */
  private localContact?: string;
  /** The session timer (RFC 4028, lines/sessionTimer.ts), when enabled. */
  readonly sessionTimer?: SessionTimer;
  /** UPDATE in this call's dialog, both directions (lines/callUpdate.ts). */
  readonly updates: CallUpdates;
  /** The caller's early dialog, made by a provisional with a To tag: an UPDATE may go in it. */
  private earlyDialog?: Dialog;
  /** An UPDATE changed the session in the early dialog: the 2xx's SDP (the 18x's answer again) is not applied. */
  private earlyUpdated = false;
  /** Our reliable 18x (RFC 3262), when the INVITE and the policy call for them (lines/reliableProvisional.ts). */
  private prackUas?: ReliableProvisionalSender;
  /** The reliable 18x we receive: RSeq per early dialog, and the early dialogs our PRACKs go in (made by the first 18x). */
  private prackReceiver?: ReliableProvisionalReceiver;
  /** Our SDES side ({@link srtpLocal}): unset until first asked, null for plain RTP. */
  private srtpState?: LocalSrtp | null;
  /** The INVITE's offer/answer completed in a reliable 18x or its PRACK: a 2xx needs no SDP then. */
  private reliablyNegotiated = false;
  /** Our offer went in a reliable 18x (an INVITE without SDP): its answer comes in the PRACK (§5). */
  private offerInProvisional = false;

  private constructor(
    private readonly host: CallServices,
    readonly line: PhoneLine,
    direction: CallDirection,
    private readonly formats: AudioFormatSpec[],
    private readonly userName: string,
  ) {
    this.direction = direction;
    const st = host.sessionTimer?.();
    // One small object serves the call's session timer and UPDATE (see CallSide), instead of
    // a host of closures for each.
    const side = new Call.Side(this);
    if (st?.enabled) this.sessionTimer = new SessionTimer(st, side);
    this.updates = new CallUpdates(side);
    if (this.sessionTimer) {
      this.updates.onReceived = (_req, res) => {
        if (res.status >= 200 && res.status < 300) this.addSessionTimerAnswer(res);
      };
    }
  }

  /** The early answers of our INVITE: only a caller's call, once its INVITE is answered, needs them. */
  private get early(): EarlyAnswers {
    return (this.earlyAnswers ??= new EarlyAnswers());
  }

  /** The reliable 18x we receive: only a caller's call, once an 18x arrives, needs it. */
  private get prackUac(): ReliableProvisionalReceiver {
    return (this.prackReceiver ??= new ReliableProvisionalReceiver());
  }

  /** Where the INVITE session is. */
  get state(): CallState {
    return this.st;
  }

  /**
   * The dialog whose remote CSeq the router's one sequence guard checks for `req` (RFC 3261
   * §12.2.2): the call's dialog, else, for a caller, the early dialog the request's From tag
   * names (one per fork, made by its 18x), so an UPDATE in an early dialog is screened too.
   */
  sequenceDialog(req?: SipRequest): Dialog | undefined {
    if (this.dialog || !req) return this.dialog;
    return this.prackReceiver?.dialogOf(tagOf(req.headers.get('From')) ?? '');
  }

  /** True once the call reached its end (and the line was given back). */
  get isEnded(): boolean {
    return this.st === CallState.Terminated;
  }

  /** True while the call is connected (Confirmed, and still while our BYE of a connected call is out). */
  get isConnected(): boolean {
    return this.wasConnected && this.st !== CallState.Terminated;
  }

  /** The call reached Confirmed at some point (it may have ended since). */
  private get wasConnected(): boolean {
    return this.connectedAt !== 0;
  }

  /**
   * The one place the state changes. A transition the table (lines/callState.ts) does not allow
   * is a bug in this file: it is refused (false) and reported, and the engine goes on.
   */
  private enter(to: CallState): boolean {
    const from = this.st;
    if (!isLegalCallTransition(from, to)) {
      const bug: IllegalCallTransition = { from, to, line: this.line.index };
      if (this.host.illegalTransition) this.host.illegalTransition(bug);
      else process.emitWarning(`illegal call state transition ${from} -> ${to} on line ${bug.line}`, 'LineScapeBug');
      return false;
    }
    this.st = to;
    this.onStateChange?.({ from, to });
    return true;
  }

  /** Resolves when the call connects (SipSuccess) or fails (the failure event). */
  whenSettled(): Promise<T> {
    if (this.wasConnected) return Promise.resolve(T.SipSuccess);
    if (this.isEnded) return Promise.resolve(this.errorInfo ? T.SipFarEndError : T.SipCallFailure);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private settle(rc: T): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn(rc);
  }

  private notify(event: T, data?: object): void {
    // A call that gave its line back speaks no more on it: the line may hold a new call by now
    // (an INVITE with Replaces takes it before the replaced call's BYE is answered).
    if (this.isEnded && this.line.call !== this) return;
    this.host.notify(this.line.index, event, data);
  }

  /**
   * Our SDES side for the whole call, made on first use: the line's policy and one fresh key per
   * suite libsrtp2 has here. Kept for the call, so re-offers keep our keys (RFC 4568 §7.1.4 allows
   * either; keeping them keeps libsrtp's replay state and never reuses a key with a reset index).
   * Undefined for policy none, and for optional when libsrtp2 is missing (plain RTP then).
   */
  private get srtpLocal(): LocalSrtp | undefined {
    if (this.srtpState === undefined) {
      const policy = this.host.srtpPolicy?.(this.line) ?? 'none';
      const suites = policy === 'none' ? [] : srtpSuitesOf(this.host);
      this.srtpState = policy === 'none' || (policy === 'optional' && suites.length === 0) ? null : { policy, crypto: makeCryptoOffer(suites) };
    }
    return this.srtpState ?? undefined;
  }

  private buildLocalMedia(direction: MediaDirection): LocalMedia {
    const srtp = this.srtpLocal;
    return {
      // an encrypted call stays encrypted: re-offers and answers refuse a downgrade to plain RTP
      ...(srtp !== undefined ? { srtp: this.negotiated?.srtp !== undefined ? { ...srtp, required: true } : srtp } : {}),
      address: this.host.advertisedAddress().host,
      port: this.media?.localPort ?? 9,
      formats: this.formats,
      telephoneEvent: true,
      comfortNoise: this.line.silenceSuppression,
      direction,
      holdStyle: this.host.holdStyle(),
      ptime: this.host.packetTimeMs?.(this.line),
      sessionId: this.sessionId,
      sessionVersion: this.sessionVersion++,
      username: this.userName,
    };
  }

  private localDirection(): MediaDirection {
    return this.localHold ? 'sendonly' : 'sendrecv';
  }

  // ------------------------------------------------------------------ outgoing

  /**
   * Places a call: opens media, sends the INVITE with an SDP offer. Returns the call, or a code
   * when media cannot be opened.
   */
  static async outgoing(
    host: CallServices,
    line: PhoneLine,
    target: CallTarget,
    formats: AudioFormatSpec[],
    fromUser: string,
    displayName: string,
  ): Promise<Call | T> {
    // every format the line allows needs a native library that is missing here
    if (formats.length === 0) return T.SipNativeLibraryMissing;
    // mandatory SRTP without libsrtp2 (or without one suite it can run) cannot place a call
    if (host.srtpPolicy?.(line) === 'mandatory' && srtpSuitesOf(host).length === 0) return T.SipNativeLibraryMissing;
    const call = new Call(host, line, CallDirection.Outgoing, formats, fromUser);
    line.call = call;
    line.callDirection = CallDirection.Outgoing;
    line.setState(LineState.Dialing);
    call.notify(T.SipOffHook);
    call.notify(T.SipOutgoingCallInitializing, { requestUri: target.requestUri });
    const media = await host.openMedia(line);
    if (!media) {
      call.finish(T.SipRtpSocketBindError);
      return T.SipRtpSocketBindError;
    }
    call.media = media;
    if (call.isEnded) {
      void media.stop();
      return T.SipCallFailure;
    }
    const fromAor = `sip:${fromUser}@${host.advertisedAddress().host}`;
    const from = `${displayName ? `"${displayName.replace(/(["\\])/g, '\\$1')}" ` : ''}<${fromAor}>`;
    const callId = newCallId(host.advertisedAddress().host);
    call.outgoingInfo = { requestUri: target.requestUri, to: target.to, from: `${from};tag=${call.localTag}`, callId };
    call.localMedia = call.buildLocalMedia('sendrecv');
    const headers = new SipHeaders();
    for (const r of target.routes ?? []) headers.append('Route', r);
    headers.append('From', `${from};tag=${call.localTag}`);
    headers.append('To', target.to);
    headers.append('Call-ID', callId);
    headers.append('CSeq', '1 INVITE');
    headers.append('Max-Forwards', '70');
    headers.append('Contact', `<${host.contactUri(fromUser)}>`);
    host.capabilities.addHeaders(headers, ['Allow', 'Supported']);
    for (const [n, v] of call.sessionTimer?.requestHeaders() ?? []) headers.append(n, v);
    if (host.reliableProvisional?.() === 'required') headers.append('Require', TAG_100REL);
    for (const [n, v] of target.headers ?? []) headers.append(n, v);
    headers.append('User-Agent', host.userAgent());
    headers.append('Content-Type', 'application/sdp');
    const invite: SipRequest = {
      type: 'request',
      method: 'INVITE',
      uri: target.requestUri,
      version: 'SIP/2.0',
      headers,
      body: Buffer.from(createOffer(call.localMedia)),
    };
    call.sendInvite(invite, target.destination);
    return call;
  }

  /** Our Contact URI in this call (see {@link localContact}). */
  private contactUri(): string {
    return this.localContact ?? this.host.contactUri(this.userName);
  }

  private sendInvite(invite: SipRequest, dest: UacDestination): void {
    this.inviteDestination = dest;
    // The first build is the INVITE itself; each 401/407 retry is the next CSeq of it.
    let next: SipRequest | undefined;
    sendUacRequest(this.host.uac, {
      build: () => (next = next ? this.nextInvite(next) : invite),
      destination: dest,
      authUser: this.userName,
      contactFollowsTransport: true,
      abandoned: () => this.st === CallState.Terminated || this.st === CallState.Cancelling,
      onSend: (req) => {
        this.invite = req;
        // the Contact names the transport this attempt takes (a sips: target gets a sips: one)
        const contact = req.headers.get('Contact');
        if (contact) this.localContact = uriOf(contact);
        if (!this.earlyKey && !this.dialog && !this.isEnded) {
          this.earlyKey = DialogRouter.earlyKey(req.headers.get('Call-ID') ?? '', this.localTag);
          this.host.dialogChanged(this, undefined, this.earlyKey);
        }
        // Hung up before the first INVITE could leave: it still goes, and is cancelled at once.
        if (this.isEnded) return;
        this.enter(CallState.Calling);
        this.notify(T.SipSendInvite, { requestUri: req.uri });
      },
      onTransaction: (tx) => {
        this.inviteTx = tx;
        if (this.isEnded) {
          // The stack holds the CANCEL until a provisional arrives; a 200 is ACKed and hung up (onInviteFinal).
          this.cancelInvite(tx);
          return;
        }
        this.notify(T.SipStartOutgoingRing);
      },
      onProvisional: (res) => this.onProvisional(res),
      onAdditional2xx: (res) => this.reAck(res),
    }, (o) => {
      if (o.kind === 'final') this.onInviteFinal(o.req, o.res, o.authFailure !== undefined);
      else if (o.kind === 'timeout') this.onInviteFailed(408, 'Request Timeout', '');
      // A TLS failure names its reason (unknown-ca, host-name-mismatch ...) in the phrase.
      else this.onInviteFailed(503, o.error instanceof TlsError ? `TLS ${o.error.reason}` : o.error instanceof SipsNeedsTlsError ? 'SIPS Requires TLS' : 'Service Unavailable', '');
    });
  }

  private onProvisional(res: SipResponse): void {
    if (this.isEnded) return;
    // RFC 3262 §4: a reliable 18x is PRACKed (again when retransmitted) and processed once.
    const rel = (this.host.reliableProvisional?.() ?? 'off') === 'off' ? { kind: 'unreliable' as const } : this.prackUac.classify(res);
    if (rel.kind === 'out-of-order') return;
    if (rel.kind === 'repeat') {
      this.sendPrack(res, rel.rack);
      return;
    }
    if (this.st === CallState.Calling) this.enter(CallState.Proceeding);
    this.progress?.(res.status, res.reason);
    const map: Record<number, T> = {
      100: T.SipReceived100Trying,
      180: T.SipReceived180Ringing,
      181: T.SipReceived181CallBeingForwarded,
      182: T.SipReceived182Queued,
      183: T.SipReceived183SessionProgress,
    };
    this.notify(map[res.status] ?? T.SipReceivedProvisionalResponse, { statusCode: res.status, reasonPhrase: res.reason });
    // An 18x with a To tag makes an early dialog (RFC 3261 §12.1.2): PRACKs and UPDATEs go in it.
    // (One per To tag, shared by both, so their CSeqs follow each other.)
    const toTag = tagOf(res.headers.get('To'));
    if (res.status > 100 && toTag && this.invite && !this.dialog) {
      const invite = this.invite;
      this.earlyDialog = this.prackUac.dialogFor(res, () => Dialog.fromUacResponse(invite, res, this.contactUri()));
      this.updates.noteAllow(res);
    }
    const sdp = res.body.length && (res.headers.get('Content-Type') ?? '').includes('sdp') ? res.body.toString('latin1') : undefined;
    if (rel.kind === 'new' && sdp !== undefined && this.localMedia && !this.negotiated && this.invite && !this.invite.body.length) {
      // An offer in a reliable 18x to our INVITE without SDP: the answer goes in the PRACK (§5).
      const r = negotiateOffer(sdp, this.localMedia);
      this.sendPrack(res, rel.rack, r.ok ? r.answer : undefined);
      if (r.ok) {
        this.reliablyNegotiated = true;
        this.applyMedia(r.media);
      } else this.onUnusableEarlyAnswer(res, r.status, r.detail);
      return;
    }
    if (rel.kind === 'new') this.sendPrack(res, rel.rack);
    // Early media (lines/earlyMedia.ts): an SDP answer in an 18x starts media before the answer.
    if (this.st !== CallState.Proceeding || !this.localMedia) return;
    const e = this.early.onProvisional(res, this.localMedia);
    if (e.kind === 'unusable') {
      if (!this.early.active) this.onUnusableEarlyAnswer(res, e.status, e.detail);
    } else if (e.kind !== 'none') {
      this.applyMedia(e.media);
      this.line.startEarlyMedia();
      this.notify(T.SipEarlyMedia, earlyMediaData(res, e.media));
    }
  }

  /**
   * PRACKs a reliable 18x in its early dialog (RFC 3262 §7.1: RAck names its RSeq and the
   * INVITE's CSeq), with our SDP answer when it carried an offer.
   */
  private sendPrack(res: SipResponse, rack: string, answer?: string): void {
    const invite = this.invite;
    if (!invite || this.isEnded) return;
    const dialog = this.prackUac.dialogFor(res, () => Dialog.fromUacResponse(invite, res, this.contactUri()));
    const headers: Array<[string, string]> = [['RAck', rack]];
    const options: InDialogRequestOptions = answer === undefined ? { headers } : { headers, body: answer, contentType: 'application/sdp' };
    // a PRACK refused or unanswered changes nothing: the INVITE transaction decides the call
    this.sendInDialog('PRACK', options, () => undefined, dialog);
  }

  /**
   * An 18x whose SDP answer we cannot use (no common codec, wrong media, bad attributes): by
   * RFC 3261 §13.2.1 it is the answer to our offer, so the attempt cannot succeed. It ends here
   * with SipFarEndError naming the reason, and the INVITE is cancelled (a 200 crossing the
   * CANCEL is ACKed and hung up).
   */
  private onUnusableEarlyAnswer(res: SipResponse, status: number, detail: string): void {
    if (this.st !== CallState.Proceeding || !this.inviteTx) return;
    const why = `Unusable SDP answer in ${res.status}: ${detail}`;
    this.errorInfo = { responseCode: status, responseReasonPhrase: why, rawSipMessage: redactSdesKeys(serializeMessage(res).toString('latin1')) };
    this.earlyAnswerFailed = true;
    this.notify(T.SipFarEndError, { statusCode: status, reasonPhrase: why });
    this.line.setState(LineState.Disconnecting);
    this.enter(CallState.Cancelling);
    this.cancelInvite(this.inviteTx);
  }

  /**
   * A 2xx after the first: our own again (our ACK was lost) is re-ACKed; another fork's is ACKed
   * in its own dialog and ended with BYE (RFC 3261 §13.2.2.4, lines/forkedAnswers.ts).
   */
  reAck(res: SipResponse): void {
    if (!this.invite || this.direction !== CallDirection.Outgoing) return;
    this.forks ??= new ForkedAnswers({
      contactUri: () => this.contactUri(),
      ack: (ack, d) => void this.sendAck(ack, d),
      bye: (d) => this.sendInDialog('BYE', {}, () => undefined, d),
    });
    this.forks.onAdditional2xx(this.invite, res, this.dialog);
  }

  private onInviteFinal(invite: SipRequest, res: SipResponse, authFailed: boolean): void {
    if (this.isEnded) {
      if (res.status >= 200 && res.status < 300) {
        // Answered after we gave up (CANCEL crossed the 200): confirm, then hang up (§9.1).
        const d = Dialog.fromUacResponse(invite, res, this.contactUri());
        void this.sendAck(d.createRequest('ACK', { cseq: d.localSeq }), d);
        this.sendInDialog('BYE', {}, () => undefined, d);
      }
      return;
    }
    const cancelling = this.st === CallState.Cancelling;
    if (res.status >= 200 && res.status < 300) {
      if (cancelling) this.onAnsweredAfterCancel(invite, res);
      else this.onAnswered(invite, res);
      return;
    }
    if (res.status === 422 && !cancelling && this.sessionTimer?.onRefreshResponse(res) === 'retry') {
      // Session Interval Too Small (RFC 4028 §7.3): the INVITE again with the far end's Min-SE
      const next = this.nextInvite(invite);
      for (const [n, v] of this.sessionTimer.requestHeaders()) next.headers.set(n, v);
      this.enter(CallState.Redirecting);
      this.sendInvite(next, this.inviteDestination!);
      return;
    }
    // The client path already answered every challenge it could: this one is final.
    if (authFailed && !cancelling) this.notify(T.SipOutgoingCallDigestAuthenticationRequired, { statusCode: res.status });
    if (res.status >= 300 && res.status < 400) {
      const contacts = res.headers.getAll('Contact');
      this.notify(T.SipReceived302MovedTemporarily, { statusCode: res.status, contacts });
      const first = contacts[0];
      // We hung up while it rang: a redirect that crossed our CANCEL is not followed.
      if (first && !cancelling && this.redirects++ < MAX_REDIRECTS) {
        const uri = first.includes('<') ? first.slice(first.indexOf('<') + 1, first.indexOf('>')) : first.split(';')[0]!.trim();
        this.enter(CallState.Redirecting);
        void this.redirect(invite, uri);
        return;
      }
    }
    if (cancelling && this.earlyAnswerFailed) {
      // The attempt already failed (unusable early answer, reported then): whatever ends the INVITE.
      this.finish(T.SipFarEndError);
      return;
    }
    if (cancelling && res.status === 487) {
      this.notify(T.SipCallCanceled, { statusCode: 487 });
      this.finish(T.SipCallCanceled);
      return;
    }
    this.onInviteFailed(res.status, res.reason, serializeMessage(res).toString('latin1'));
  }

  private async redirect(invite: SipRequest, uri: string): Promise<void> {
    let hop;
    try {
      hop = nextHopOf(uri, this.host.transport());
    } catch {
      this.onInviteFailed(400, 'Bad redirect Contact', '');
      return;
    }
    const ip = hop.hostIsName ? await this.host.resolve(hop.host) : hop.host;
    // hung up while the name was resolved
    if (this.st !== CallState.Redirecting) return;
    if (!ip) {
      this.onInviteFailed(404, 'Redirect target not found', '');
      return;
    }
    const next = this.nextInvite(invite);
    next.uri = uri;
    next.headers.delete('Route');
    next.headers.delete('Authorization');
    next.headers.delete('Proxy-Authorization');
    this.sendInvite(next, { protocol: hop.protocol, host: ip, port: hop.port });
  }

  /** The INVITE again with the next CSeq (same Call-ID and From tag), for auth and redirects. */
  private nextInvite(invite: SipRequest): SipRequest {
    const headers = invite.headers.clone();
    headers.delete('Via');
    const n = Number.parseInt(invite.headers.get('CSeq') ?? '1', 10) + 1;
    headers.set('CSeq', `${n} INVITE`);
    return { ...invite, headers, body: Buffer.from(invite.body) };
  }

  private onInviteFailed(code: number, reason: string, raw: string): void {
    if (this.isEnded) return;
    this.errorInfo = { responseCode: code, responseReasonPhrase: reason, rawSipMessage: redactSdesKeys(raw) };
    const event = code === 486 || code === 600 ? T.SipFarEndIsBusy : T.SipFarEndError;
    this.notify(event, { statusCode: code, reasonPhrase: reason });
    this.finish(event);
  }

  private onAnswered(invite: SipRequest, res: SipResponse): void {
    this.notify(T.SipInviteOkReceived, { statusCode: res.status });
    const dialog = Dialog.fromUacResponse(invite, res, this.contactUri());
    this.setDialog(dialog);
    const ack = dialog.createRequest('ACK', { cseq: dialog.localSeq });
    this.updates.noteAllow(res);
    // PRACKs and UPDATEs sent in this 2xx's early dialog (one per To tag, kept by prackUac) used
    // CSeqs past the INVITE's: the confirmed dialog goes on from them.
    this.earlyDialog = undefined;
    this.prackReceiver?.adoptSequence(dialog);
    // The 2xx's answer, or its dialog's early one (a 200 without SDP after a 183 with it).
    // After an UPDATE changed the early session, the 2xx repeats the 18x's answer (§13.2.1): no news.
    // An offer of theirs in a reliable 18x was answered in our PRACK (RFC 3262 §5): that is the session.
    const r = (this.earlyUpdated && this.negotiated) || this.reliablyNegotiated ? undefined : this.early.onFinal(res, this.localMedia!);
    if (r?.kind === 'apply') this.applyMedia(r.media);
    const failure = r?.kind === 'fail' ? r : undefined;
    const reoffer = r?.kind === 'apply' && res.body.length
      ? singleCodecReoffer(this.host.reofferSingleCodec?.() === true, res.body.toString('latin1'), this.formats, r.media.receivePayloadType)
      : undefined;
    void this.sendAck(ack);
    this.notify(T.SipSendInviteAck);
    if (failure) {
      // The far end answered with media we cannot use: confirm the dialog, then end it.
      this.errorInfo = { responseCode: failure.status, responseReasonPhrase: failure.reason, rawSipMessage: redactSdesKeys(serializeMessage(res).toString('latin1')) };
      this.notify(T.SipFarEndError, { statusCode: failure.status, reasonPhrase: failure.reason });
      // The 2xx confirmed the dialog: only a BYE ends it now (a CANCEL would come too late).
      this.line.setState(LineState.Disconnecting);
      void this.bye();
      return;
    }
    this.connect(T.SipOutgoingCallConnected);
    this.sessionTimer?.onRefreshResponse(res);
    if (reoffer && this.st === CallState.Confirmed && !this.localHold) this.sendReInvite(false, false, reoffer);
  }

  /**
   * The far end answered 200 to an INVITE we were cancelling: the 200 crossed our CANCEL
   * (RFC 3261 §9.1, §15). The dialog exists now: ACK it, then end it with a BYE; no media starts
   * and the call never connects.
   */
  private onAnsweredAfterCancel(invite: SipRequest, res: SipResponse): void {
    this.notify(T.SipInviteOkReceived, { statusCode: res.status });
    const dialog = Dialog.fromUacResponse(invite, res, this.contactUri());
    this.setDialog(dialog);
    void this.sendAck(dialog.createRequest('ACK', { cseq: dialog.localSeq }));
    this.notify(T.SipSendInviteAck);
    void this.bye();
  }

  private connect(event: T): void {
    if (!this.enter(CallState.Confirmed)) return;
    this.connectedAt = Date.now();
    this.connectedClockMs = this.host.clock().now();
    this.line.setState(this.localHold ? LineState.OnHold : LineState.InCall);
    this.notify(event);
    this.notify(T.SipInCall);
    this.settle(T.SipSuccess);
  }

  private applyMedia(media: NegotiatedMedia): void {
    const first = !this.negotiated;
    const wasHeld = this.farEndHold;
    this.negotiated = media;
    this.media?.configure(media);
    if (first) this.media?.start();
    this.farEndHold = media.remoteHold;
    if (!first || wasHeld !== this.farEndHold) {
      if (this.farEndHold && !wasHeld) this.notify(T.SipFarEndHoldOn);
      if (!this.farEndHold && wasHeld) this.notify(T.SipFarEndHoldOff);
    }
  }

  private setDialog(d: Dialog): void {
    const old = this.dialog?.id ?? this.earlyKey;
    this.earlyKey = undefined;
    this.dialog = d;
    this.host.dialogChanged(this, old, d.id);
  }

  /** Sends an ACK of a 2xx to its next hop (no transaction, no challenge: RFC 3261 §22.1). */
  private async sendAck(ack: SipRequest, dialog = this.dialog): Promise<void> {
    if (!dialog) return;
    let hop;
    try {
      hop = dialog.nextHop(ack, this.host.transport());
    } catch {
      return;
    }
    const ip = hop.hostIsName ? await this.host.resolve(hop.host) : hop.host;
    if (!ip) return;
    this.host.runStack.sendAck(ack, { protocol: hop.protocol, host: ip, port: hop.port });
  }

  /**
   * Sends a request in `dialog` through the client path (next hop from the route set, 401/407
   * answered with a new CSeq); `done` gets the outcome.
   */
  private sendInDialog(
    method: string,
    options: InDialogRequestOptions,
    done: (o: UacOutcome) => void,
    dialog: Dialog,
    onSend?: (req: SipRequest) => void,
    onTransaction?: (tx: ClientTransaction) => void,
  ): void {
    sendUacRequest(this.host.uac, { build: () => dialog.createRequest(method, options), authUser: this.userName, onSend, onTransaction }, done);
  }

  // ------------------------------------------------------------------ incoming

  /**
   * Takes an incoming INVITE onto `line`: negotiates the offer (488 when nothing fits), opens
   * media, rings (180) and raises SipOkToAnswerCall.
   */
  static async incoming(
    host: CallServices,
    line: PhoneLine,
    req: SipRequest,
    tx: ServerTransaction,
    from: Endpoint,
    formats: AudioFormatSpec[],
    userName: string,
  ): Promise<Call> {
    const call = new Call(host, line, CallDirection.Incoming, formats, userName);
    line.call = call;
    line.callDirection = CallDirection.Incoming;
    line.setState(LineState.Ringing);
    call.invite = req;
    call.serverTx = tx;
    const fromValue = req.headers.get('From') ?? '';
    call.incomingInfo = {
      from: fromValue,
      fromDisplayName: displayNameOf(fromValue),
      to: req.headers.get('To') ?? '',
      requestUri: req.uri,
      callId: req.headers.get('Call-ID') ?? '',
      source: { protocol: from.protocol, host: from.host, port: from.port },
    };
    (tx as InviteServerTransaction).onAckTimeout = () => call.onAckTimeout();
    call.updates.noteAllow(req);
    call.notify(T.SipIncomingCallStart, { from: fromValue, to: call.incomingInfo.to, requestUri: req.uri });
    call.notify(T.SipIncomingCallInitialized);
    // Our Contact names the transport the INVITE came over (TLS from a UDP-default engine too),
    // and is a sips: URI for a sips: Request-URI (RFC 3261 §8.1.1.8).
    call.localContact = host.contactUri(userName, from.protocol, requestIsSips(req));
    const dialog = Dialog.fromUasRequest(req, call.localTag, call.localContact);
    call.setDialog(dialog);
    const media = await host.openMedia(line);
    if (call.isEnded) {
      void media?.stop();
      return call;
    }
    if (!media) {
      // no RTP port (or the run is stopping): the far end may try again later
      call.reject(503, 'Service Unavailable', false, { retryAfter: host.retryAfterSeconds?.() ?? 10 });
      return call;
    }
    call.media = media;
    call.localMedia = call.buildLocalMedia('sendrecv');
    // RFC 5621: the offer may be one part of a multipart body; a body without one is a 415
    const offer = sessionBodyOf(req.headers.get('Content-Type'), req.body);
    if (offer.kind === 'unsupported' || offer.kind === 'malformed') {
      call.reject(offer.kind === 'malformed' ? 400 : 415, undefined, false, bodyRefusal(offer));
      return call;
    }
    if (offer.kind === 'sdp') {
      const r = negotiateOffer(offer.sdp, call.localMedia);
      if (!r.ok) {
        call.reject(r.status, r.reason, false, { warning: { code: r.warning, text: r.detail } });
        return call;
      }
      call.pendingAnswer = { sdp: r.answer, media: r.media };
    } else {
      call.lateOffer = true;
    }
    const tooSmall = call.sessionTimer?.onRefreshRequest(req);
    if (tooSmall) {
      call.reject(tooSmall.status, 'Session Interval Too Small', false, { headers: [['Min-SE', String(tooSmall.minSe)]] });
      return call;
    }
    const reliable = uasDecision(host.reliableProvisional?.() ?? 'off', req) === 'reliable';
    if (reliable) {
      call.prackUas = new ReliableProvisionalSender(new Call.PrackSide(call, tx), cseqNumber(req.headers.get('CSeq')));
    }
    if (reliable && call.lateOffer) {
      // RFC 3262 §5: an INVITE without an offer gets ours in the first reliable 18x; the PRACK answers it.
      call.offerInProvisional = true;
      call.sendProvisional(180, 'Ringing', { sdp: createOffer(call.localMedia) });
    } else call.sendProvisional(180, 'Ringing');
    call.enter(CallState.Ringing);
    call.notify(T.SipSendRinging);
    call.notify(T.SipStartIncomingRing);
    call.notify(T.SipOkToAnswerCall, { from: fromValue });
    call.answerTimer = host.clock().setTimer(host.answerTimeoutSeconds() * 1000, () => {
      if (call.st !== CallState.Ringing) return;
      call.notify(T.SipAnswerTimeout);
      call.reject(480, 'Temporarily Unavailable', true);
    });
    return call;
  }

  /** The answer kept for the 200 (no `sdp` when it was agreed in a reliable 18x and its PRACK). */
  private pendingAnswer?: { sdp?: string; media: NegotiatedMedia };

  /**
   * Early media at the callee (sendCallProgress): answers the ringing call with 183 Session
   * Progress carrying our SDP answer and starts the media, so a WAV, a tone or an IVR stream
   * reaches the caller before (or instead of) the answer. `answer` then sends the same SDP in the
   * 200; a refusal ends it. Called again, the 183 goes again. An INVITE without an offer cannot
   * have early media here (our offer in an unreliable 18x could not be answered): refused.
   */
  sendProgress(): T {
    if (this.isEnded) return T.SipNoCallActive;
    if (this.direction !== CallDirection.Incoming) return T.SipCallAlreadyInProgress;
    if (this.st === CallState.Initial) return T.SipCallAlreadyInProgress;
    if (this.st !== CallState.Ringing) return T.SipAlreadyOffHook;
    const p = this.pendingAnswer;
    if (this.lateOffer || !p) return T.SipFeatureNotAvailable;
    this.sendProvisional(183, 'Session Progress', p.sdp === undefined ? undefined : { sdp: p.sdp });
    if (!this.negotiated) {
      this.applyMedia(p.media);
      this.line.startEarlyMedia();
    }
    this.notify(T.SipSendSessionProgress);
    return T.SipSuccess;
  }

  private respond(status: number, reason?: string, body?: { sdp: string }, refusal?: Refusal): void {
    const res = this.buildResponse(status, reason, body, refusal);
    if (!res) return;
    // a final answer ends the reliable 18x's retransmissions (RFC 3262 §3)
    if (status >= 200) this.prackUas?.finalSent();
    this.serverTx!.respond(res);
  }

  /**
   * Sends a provisional answer (180 Ringing, 183 Session Progress) to the INVITE: reliably
   * (Require 100rel, RSeq, retransmitted until PRACK) when the caller and the 100rel policy agree
   * (lines/reliableProvisional.ts), else plainly. Every 18x of a call goes through here.
   */
  sendProvisional(status: number, reason: string, body?: { sdp: string }): void {
    const res = this.buildResponse(status, reason, body);
    if (!res) return;
    if (!this.prackUas) {
      this.serverTx!.respond(res);
      return;
    }
    // an answer to the INVITE's offer in a reliable 18x completes the offer/answer
    if (body && !this.lateOffer) this.reliablyNegotiated = true;
    this.prackUas.send(res, body !== undefined);
  }

  private buildResponse(status: number, reason?: string, body?: { sdp: string }, refusal?: Refusal): SipResponse | undefined {
    const tx = this.serverTx;
    if (!tx || !this.invite) return undefined;
    const res = this.host.runStack.createResponse(this.invite, status, reason, { toTag: this.localTag });
    this.addRefusal(res, refusal);
    if (status > 100 && status < 300) res.headers.append('Contact', `<${this.contactUri()}>`);
    if (status >= 200 && status < 300) {
      this.host.capabilities.addHeaders(res.headers, ['Allow', 'Supported']);
      // our 2xx agrees the session interval and starts its timer
      for (const [n, v] of this.sessionTimer?.answerHeaders() ?? []) res.headers.append(n, v);
    }
    if (body) {
      res.headers.append('Content-Type', 'application/sdp');
      res.body = Buffer.from(body.sdp);
    }
    return res;
  }

  /**
   * Writes a refusal's extra headers: a Warning (RFC 3261 §20.43, our host as the agent) saying
   * what was wrong with the offer, and Accept on a 415 (RFC 3261 §21.4.13).
   */
  private addRefusal(res: SipResponse, refusal: Refusal | undefined): void {
    if (refusal?.warning) res.headers.append('Warning', formatWarning(refusal.warning.code, this.host.advertisedAddress().host, refusal.warning.text));
    if (refusal?.accept) res.headers.append('Accept', SESSION_BODY_TYPES.join(', '));
    for (const [n, v] of refusal?.headers ?? []) res.headers.append(n, v);
    if (refusal?.retryAfter !== undefined) res.headers.set('Retry-After', refusal.retryAfter);
  }

  /** Answers a ringing incoming call (goOffHook). */
  answer(): T {
    if (this.isEnded) return T.SipNoCallActive;
    // Still opening its media: not offered to the application yet (SipOkToAnswerCall comes with Ringing).
    if (this.direction === CallDirection.Incoming && this.st === CallState.Initial) return T.SipCallAlreadyInProgress;
    if (this.direction !== CallDirection.Incoming || this.st !== CallState.Ringing) return T.SipAlreadyOffHook;
    this.enter(CallState.Connecting);
    this.host.clock().clearTimer(this.answerTimer);
    this.notify(T.SipAnsweringCall);
    // RFC 3262 §3: no 2xx while a reliable 18x carrying SDP waits for its PRACK
    if (this.prackUas) this.prackUas.whenClear(() => this.send200());
    else this.send200();
    return T.SipSuccess;
  }

  private send200(): void {
    if (this.st !== CallState.Connecting) return;
    if (this.offerInProvisional && !this.pendingAnswer) {
      // our offer in the reliable 18x was never answered in a PRACK
      this.refuseConnecting(488, 'No SDP answer in PRACK');
      return;
    }
    if (this.lateOffer) {
      this.localMedia = this.buildLocalMedia('sendrecv');
      this.respond(200, 'OK', { sdp: createOffer(this.localMedia) });
    } else {
      const p = this.pendingAnswer!;
      this.respond(200, 'OK', p.sdp === undefined ? undefined : { sdp: p.sdp });
      // after early media (sendProgress) the session already runs on this answer
      if (!this.negotiated) this.applyMedia(p.media);
    }
    this.notify(T.SipSend200Ok);
  }

  /**
   * Ends an incoming call whose final answer is still ours to give (ringing, or answered with
   * its 200 held back for a PRACK) with `status`.
   */
  private refuseConnecting(status: number, reason: string): void {
    if (this.st !== CallState.Ringing && this.st !== CallState.Connecting) return;
    if (this.serverTx?.hasFinalResponse) return;
    this.respond(status, reason);
    this.notify(T.SipIncomingCallAborted, { statusCode: status, reasonPhrase: reason });
    this.finish(T.SipIncomingCallAborted);
  }

  /**
   * Our offer went in a reliable 18x (an INVITE without SDP) and no PRACK has answered it yet:
   * an offer of theirs meets glare (491) and ours waits (RFC 3262 §5, RFC 3311 §5.2).
   */
  private get provisionalOfferPending(): boolean {
    return this.offerInProvisional && this.lateOffer && (this.st === CallState.Ringing || this.st === CallState.Connecting);
  }

  /** Answered (Connecting) with the 200 held back until a PRACK (RFC 3262 §3). */
  private get holding200(): boolean {
    return this.st === CallState.Connecting && this.direction === CallDirection.Incoming && this.serverTx?.hasFinalResponse === false;
  }

  /** No PRACK came for a reliable 18x within 64*T1: the INVITE fails with a 5xx (RFC 3262 §3). */
  private onNoPrack(): void {
    this.refuseConnecting(504, 'No PRACK');
  }

  /**
   * A PRACK (RFC 3262 §3): 200 when its RAck names a reliable 18x of ours (the retransmissions
   * stop, a held 200 may go), 481 otherwise. Its SDP is the answer to the offer of our 18x, or a
   * new offer once the INVITE's offer/answer is complete (answered in the 200).
   */
  private onPrack(req: SipRequest, tx: ServerTransaction): void {
    const stack = this.host.runStack;
    const verdict = this.prackUas?.onPrack(req.headers.get('RAck')) ?? 'unknown';
    if (verdict === 'unknown' || this.isEnded) {
      tx.respond(stack.createResponse(req, 481, 'Call/Transaction Does Not Exist'));
      return;
    }
    const body = sessionBodyOf(req.headers.get('Content-Type'), req.body);
    tx.respond(verdict === 'acknowledged' && body.kind === 'sdp' ? this.prackSdp(req, body.sdp) : stack.createResponse(req, 200, 'OK'));
    // the 200 of an answered call may go now (after the PRACK's own 200)
    this.prackUas?.releaseHeld();
  }

  /**
   * The answer to a PRACK carrying SDP: the answer to our offer in the reliable 18x (kept for the
   * 200, which then carries no SDP), or a new offer once the INVITE's offer/answer is complete.
   */
  private prackSdp(req: SipRequest, sdp: string): SipResponse {
    const stack = this.host.runStack;
    if (this.offerInProvisional && !this.pendingAnswer && this.localMedia) {
      const r = negotiateAnswer(sdp, this.localMedia);
      // unusable: the held 200 becomes a 488 (send200)
      if (r.ok) this.pendingAnswer = { media: r.media };
      this.lateOffer = false;
      return stack.createResponse(req, 200, 'OK');
    }
    if (!this.reliablyNegotiated || this.updates.offerPending) {
      // the INVITE's offer is still unanswered: no new offer before that (RFC 3261 §13.2.1);
      // or our UPDATE's offer is out: glare, as for an UPDATE (RFC 3311 §5.2)
      return stack.createResponse(req, 491, 'Request Pending');
    }
    const local = this.buildLocalMedia(this.localDirection());
    const r = negotiateOffer(sdp, local);
    if (!r.ok) {
      const refused = stack.createResponse(req, r.status, r.reason);
      this.addRefusal(refused, { warning: { code: r.warning, text: r.detail } });
      return refused;
    }
    this.localMedia = local;
    const res = stack.createResponse(req, 200, 'OK');
    res.headers.append('Content-Type', 'application/sdp');
    res.body = Buffer.from(r.answer);
    // the 200 of the INVITE then carries no SDP: this answer is the latest
    this.pendingAnswer = { media: r.media };
    if (this.negotiated) this.applyMedia(r.media);
    return res;
  }

  /** The ACK for our 2xx arrived. */
  onAck(ack: SipRequest): void {
    if (this.st !== CallState.Connecting) return;
    if (this.lateOffer) {
      this.lateOffer = false;
      const r = ack.body.length ? negotiateAnswer(ack.body.toString('latin1'), this.localMedia!) : undefined;
      if (!r || !r.ok) {
        this.notify(T.SipReceivedInviteAck);
        this.notify(T.SipFarEndError, { statusCode: 488, reasonPhrase: r ? r.reason : 'No SDP answer in ACK' });
        void this.hangUp();
        return;
      }
      this.applyMedia(r.media);
    }
    this.notify(T.SipReceivedInviteAck);
    this.connect(T.SipIncomingCallConnected);
  }

  private onAckTimeout(): void {
    if (this.st !== CallState.Connecting) return;
    this.notify(T.SipInviteAckNotReceived);
    void this.hangUp();
  }

  /**
   * Refuses a ringing call with a SIP status (abortIncomingCall, 486 when lines are busy, 488 when
   * media does not match). `timeout` marks the answer time-out.
   */
  reject(status: number, reason?: string, timeout = false, refusal?: Refusal): void {
    if (this.st === CallState.Connecting && !this.holding200) {
      // our 200 is out already: only a BYE ends the call now
      void this.hangUp();
      return;
    }
    if (this.st !== CallState.Initial && this.st !== CallState.Ringing && !this.holding200) return;
    this.respond(status, reason, undefined, refusal);
    if (!timeout) this.notify(T.SipIncomingCallAborted, { statusCode: status, reasonPhrase: reason ?? '' });
    this.finish(timeout ? T.SipAnswerTimeout : T.SipIncomingCallAborted);
  }

  /** The far end cancelled the ringing call (CANCEL). */
  onCancel(): void {
    // RFC 3261 9.2: once our final response (the 200 of goOffHook) went out, a CANCEL has no
    // effect on the call; it still gets its own 200 from the call manager.
    if (this.st !== CallState.Initial && this.st !== CallState.Ringing && !this.holding200) return;
    this.respond(487, 'Request Terminated');
    this.notify(T.SipCallCanceled);
    this.finish(T.SipCallCanceled);
  }

  // ------------------------------------------------------------------ in-dialog requests

  /**
   * A request inside the dialog (BYE, re-INVITE, INFO, OPTIONS), past the dialog router's screen
   * (sip/dialogRouter.ts: unknown dialog, CSeq order).
   */
  onInDialogRequest(req: SipRequest, tx: ServerTransaction): void {
    const stack = this.host.runStack;
    switch (req.method) {
      case 'BYE':
        tx.respond(stack.createResponse(req, 200, 'OK'));
        this.notify(T.SipByeReceived);
        // A BYE in an early dialog (RFC 3261 §15): the callee gave up; our INVITE is still
        // pending, so it is cancelled too (its 487, or a crossing 200, is absorbed as ended).
        if (!this.dialog && this.inviteTx && (this.st === CallState.Calling || this.st === CallState.Proceeding)) this.cancelInvite(this.inviteTx);
        this.finish(T.SipByeReceived);
        return;
      case 'INVITE':
        this.onReInvite(req, tx);
        return;
      case 'UPDATE':
        // an UPDATE refreshes the session too (RFC 4028); its 2xx gets Session-Expires (updates.onReceived)
        if (this.st === CallState.Confirmed && this.refusedIntervalTooSmall(req, tx)) return;
        this.updates.onRequest(req, tx);
        return;
      case 'PRACK':
        this.onPrack(req, tx);
        return;
      case 'INFO':
        // INFO bodies are read by the INFO handler the call manager is given (lines/infoDtmf.ts).
        tx.respond(stack.createResponse(req, 415, 'Unsupported Media Type'));
        return;
      case 'OPTIONS': {
        const res = stack.createResponse(req, 200, 'OK');
        this.host.capabilities.addHeaders(res.headers, ['Allow', 'Accept', 'Supported']);
        tx.respond(res);
        return;
      }
      default:
        tx.respond(stack.createResponse(req, 501, 'Not Implemented'));
    }
  }

  /** Observer of the provisional answers to our INVITE (a transfer reports them in NOTIFYs). */
  progress?: (status: number, reason: string) => void;

  /**
   * Sends a request with extra headers in the call's dialog (REFER, NOTIFY of a transfer),
   * answering challenges like every request; `done` gets the outcome and `onSend` each request
   * as it leaves (a retry has a new CSeq). False when the call has no dialog any more.
   */
  sendDialogRequest(method: string, options: InDialogRequestOptions, done: (o: UacOutcome) => void, onSend?: (req: SipRequest) => void): boolean {
    if (!this.dialog || this.isEnded) return false;
    this.sendInDialog(method, options, done, this.dialog, onSend);
    return true;
  }


  private onReInvite(req: SipRequest, tx: ServerTransaction): void {
    const stack = this.host.runStack;
    // RFC 3261 §14.2: our own re-INVITE is in progress (glare); before the ACK there is no session to modify.
    if (this.reinviteTx || this.updates.offerPending || this.st !== CallState.Confirmed) {
      tx.respond(stack.createResponse(req, 491, 'Request Pending'));
      return;
    }
    // a re-INVITE refreshes the session (RFC 4028): a too short interval is refused first
    if (this.refusedIntervalTooSmall(req, tx)) return;
    this.dialog!.refreshTarget(req);
    this.updates.noteAllow(req);
    const offer = sessionBodyOf(req.headers.get('Content-Type'), req.body);
    if (offer.kind === 'unsupported' || offer.kind === 'malformed') {
      const res = stack.createResponse(req, offer.kind === 'malformed' ? 400 : 415);
      this.addRefusal(res, bodyRefusal(offer));
      tx.respond(res);
      return;
    }
    if (offer.kind === 'none') {
      // Late offer in a re-INVITE: offer in the 200, answer in the ACK.
      const local = this.buildLocalMedia(this.localDirection());
      const res = stack.createResponse(req, 200, 'OK');
      res.headers.append('Contact', `<${this.contactUri()}>`);
      res.headers.append('Content-Type', 'application/sdp');
      res.body = Buffer.from(createOffer(local));
      this.addSessionTimerAnswer(res);
      this.localMedia = local;
      this.reinviteOfferPending = true;
      tx.respond(res);
      return;
    }
    this.answerOffer(req, offer.sdp, (res) => {
      if (res.status === 200) this.addSessionTimerAnswer(res);
      tx.respond(res);
    });
  }

  /** A request that would refresh the session with a Session-Expires below our Min-SE gets 422 (RFC 4028 §9). */
  private refusedIntervalTooSmall(req: SipRequest, tx: ServerTransaction): boolean {
    const tooSmall = this.sessionTimer?.onRefreshRequest(req);
    if (!tooSmall) return false;
    const res = this.host.runStack.createResponse(req, tooSmall.status, 'Session Interval Too Small');
    this.addRefusal(res, { headers: [['Min-SE', String(tooSmall.minSe)]] });
    tx.respond(res);
    return true;
  }

  /**
   * Answers the SDP offer of an in-dialog request, a re-INVITE's or an UPDATE's (one path for
   * both): `respond` gets the refusal (with a Warning) or the 200 with our answer, which is then
   * applied (hold, resume, codec or address change).
   */
  private answerOffer(req: SipRequest, sdp: string, respond: (res: SipResponse) => void): void {
    const stack = this.host.runStack;
    const local = this.buildLocalMedia(this.localDirection());
    if (this.negotiated && isSameRemoteVersion(this.negotiated, sdp)) {
      // Session refresh with an unchanged offer: answer with what we have.
      local.sessionVersion = this.sessionVersion - 1;
    }
    const r = negotiateOffer(sdp, local);
    if (!r.ok) {
      const res = stack.createResponse(req, r.status, r.reason);
      this.addRefusal(res, { warning: { code: r.warning, text: r.detail } });
      respond(res);
      return;
    }
    this.localMedia = local;
    const res = stack.createResponse(req, 200, 'OK');
    res.headers.append('Contact', `<${this.contactUri()}>`);
    res.headers.append('Content-Type', 'application/sdp');
    res.body = Buffer.from(r.answer);
    respond(res);
    this.applyMedia(r.media);
    if (this.st === CallState.Confirmed) this.line.setState(this.localHold ? LineState.OnHold : LineState.InCall);
    else {
      // An UPDATE in the early dialog (RFC 3311 §5.1): the callee's 200 carries this session,
      // unless the INVITE's offer/answer ended in a reliable 18x and its PRACK (no SDP in the 200).
      const p = this.pendingAnswer;
      if (p) this.pendingAnswer = { sdp: p.sdp === undefined ? undefined : r.answer, media: r.media };
      if (this.direction === CallDirection.Outgoing) this.earlyUpdated = true;
    }
  }

  /** Takes the SDP answer to an offer of ours (re-INVITE or UPDATE) made for hold state `hold`; false when unusable. */
  private takeAnswer(sdp: string, local: LocalMedia, hold: boolean): boolean {
    const r = negotiateAnswer(sdp, local);
    if (!r.ok) return false;
    const changed = this.localHold !== hold;
    this.localMedia = local;
    this.localHold = hold;
    this.applyMedia(r.media);
    if (this.st === CallState.Confirmed) this.line.setState(hold ? LineState.OnHold : LineState.InCall);
    if (changed) this.notify(hold ? T.SipCallHoldOn : T.SipCallHoldOff);
    return true;
  }

  /** An offer for an UPDATE: the hold state `hold` asks for, else the current session unchanged (a refresh). */
  private updateOffer(hold: boolean | undefined): LocalOffer {
    const on = hold ?? this.localHold;
    const previous = this.localMedia?.sessionVersion;
    const local = this.buildLocalMedia(on ? 'sendonly' : 'sendrecv');
    // RFC 4028 §7.4 / RFC 3264 §8: a refresh that changes nothing keeps the session version.
    if (hold === undefined && previous !== undefined) local.sessionVersion = previous;
    return { sdp: createOffer(local), take: (answer) => this.takeAnswer(answer, local, on) };
  }

  /**
   * Sends an UPDATE in the call's dialog, confirmed or early (RFC 3311), with or without an SDP
   * offer; the session timers refresh with it. Resolves with the outcome, never rejects.
   */
  sendUpdate(options: UpdateRequestOptions): Promise<UpdateOutcome> {
    return this.updates.send(options);
  }

  private reinviteOfferPending = false;

  /** Session-Expires (and Supported) on our 2xx to a request that refreshed the session. */
  private addSessionTimerAnswer(res: SipResponse): void {
    if (!this.sessionTimer) return;
    this.host.capabilities.addHeaders(res.headers, ['Supported']);
    for (const [n, v] of this.sessionTimer.answerHeaders()) res.headers.append(n, v);
  }

  /** ACK of a re-INVITE we answered (carries the answer when we made a late offer). */
  onReInviteAck(ack: SipRequest): void {
    if (!this.reinviteOfferPending) return;
    this.reinviteOfferPending = false;
    if (!ack.body.length || !this.localMedia) return;
    const r = negotiateAnswer(ack.body.toString('latin1'), this.localMedia);
    if (r.ok) this.applyMedia(r.media);
  }

  /** True when `ack` is for a 2xx of this call (initial INVITE or a re-INVITE). */
  handleAck(ack: SipRequest): void {
    if (!this.wasConnected) this.onAck(ack);
    else this.onReInviteAck(ack);
  }

  // ------------------------------------------------------------------ hold

  /** Puts the far end on hold (re-INVITE sendonly) or resumes it. Resolves when answered. */
  hold(on: boolean): Promise<T> {
    if (this.st !== CallState.Confirmed || !this.dialog) return Promise.resolve(T.SipNoCallActive);
    if (this.localHold === on) return Promise.resolve(on ? T.SipCallHoldOn : T.SipCallNotOnHold);
    // one re-INVITE of ours at a time, including while it waits out a glare (491)
    if (this.reinviteTx || this.glareTimer !== undefined || this.pendingHold) return Promise.resolve(T.SipCallAlreadyInProgress);
    return new Promise((resolve) => {
      this.pendingHold = { on, resolve };
      if (this.host.holdMethod?.() === 'update' && this.updates.peerAllowsUpdate) void this.holdByUpdate(on);
      else this.sendReInvite(on);
    });
  }

  /** Hold or resume by UPDATE (the `holdMethod` start option, when the peer's Allow lists UPDATE). */
  private async holdByUpdate(on: boolean): Promise<void> {
    const outcome = await this.updates.hold(on);
    const p = this.pendingHold;
    this.pendingHold = undefined;
    if (this.isEnded) return;
    p?.resolve(outcome === 'done' ? T.SipSuccess : T.SipCallFailure);
    if (outcome === 'ended') void this.hangUp();
  }

  /**
   * Sends a re-INVITE: a hold or resume (`pendingHold` waits for it); with `refresh` a session
   * refresh (RFC 4028), which offers the session as it stands, same SDP version (RFC 6337 §5.2.5);
   * with `formats` the single-codec re-offer. The last two raise no hold events. Each carries
   * Session-Expires, and its answer re-arms the session timer.
   */
  private sendReInvite(hold: boolean, refresh = false, formats?: AudioFormatSpec[]): void {
    const local = refresh && this.localMedia ? this.localMedia : { ...this.buildLocalMedia(hold ? 'sendonly' : 'sendrecv'), ...(formats ? { formats } : {}) };
    const offer = createOffer(local);
    const done = (rc: T): void => {
      this.reinviteTx = undefined;
      const p = this.pendingHold;
      this.pendingHold = undefined;
      p?.resolve(rc);
    };
    const onFinal = (res: SipResponse): void => {
      if (this.isEnded) return done(T.SipNoCallActive);
      if (res.status >= 200 && res.status < 300) {
        this.dialog!.refreshTarget(res);
        const ack = this.dialog!.createRequest('ACK', { cseq: Number.parseInt(res.headers.get('CSeq') ?? '0', 10) });
        void this.sendAck(ack);
        this.sessionTimer?.onRefreshResponse(res);
        return done(this.takeAnswer(res.body.toString('latin1'), local, hold) ? T.SipSuccess : T.SipCallFailure);
      }
      if (res.status === 422 && this.sessionTimer?.onRefreshResponse(res) === 'retry') {
        // Session Interval Too Small: the same re-INVITE again with the far end's Min-SE
        this.reinviteTx = undefined;
        this.sendReInvite(hold, refresh, formats);
        return;
      }
      if (refresh) return this.refreshFailed(res.status, done);
      if (res.status === 491) {
        // Glare (RFC 3261 §14.1): try again after a random time in 10 ms units: 2.1-4 s when we
        // own the Call-ID (we placed the call), 0-2 s when the far end does, so one side goes first.
        this.reinviteTx = undefined;
        this.glareTimer = this.host.clock().setTimer(glareRetryDelayMs(this.direction === CallDirection.Outgoing), () => {
          this.glareTimer = undefined;
          if (this.st === CallState.Confirmed && this.pendingHold) this.sendReInvite(hold);
        });
        return;
      }
      if (res.status === 481 || res.status === 408) {
        done(T.SipCallFailure);
        void this.hangUp();
        return;
      }
      done(T.SipCallFailure);
    };
    this.sendInDialog(
      'INVITE',
      { body: offer, contentType: 'application/sdp', headers: this.sessionTimer?.requestHeaders(true) },
      (o) => (o.kind === 'final' ? onFinal(o.res) : refresh ? this.refreshFailed(0, done) : done(T.SipCallFailure)),
      this.dialog!,
      undefined,
      (tx) => {
        this.reinviteTx = tx;
      },
    );
  }

  // ------------------------------------------------------------------ session timer (RFC 4028)

  /**
   * The one place a session refresh is sent (the session timer calls it at half the interval
   * when we refresh): an UPDATE without a body when the far end's Allow lists UPDATE (RFC 4028
   * §7.4 prefers it: no offer/answer), else a re-INVITE with the current SDP.
   */
  private sendSessionRefresh(): void {
    if (this.st !== CallState.Confirmed || !this.dialog) return;
    // Our hold/resume re-INVITE under way carries Session-Expires: it is the refresh. Should it
    // fail, the session still ends at its expiry.
    if (this.reinviteTx || this.glareTimer !== undefined) {
      this.sessionTimer?.refreshRejected();
      return;
    }
    if (this.updates.peerAllowsUpdate) void this.refreshByUpdate();
    else this.sendReInvite(this.localHold, true);
  }

  /** A session refresh by UPDATE without a body; a 422 is retried once with the far end's Min-SE. */
  private async refreshByUpdate(): Promise<void> {
    const o = await this.sendUpdate({ withSdp: false, headers: this.sessionTimer?.requestHeaders(true) });
    if (this.isEnded) return;
    const noop = (): void => undefined;
    if (o.kind === 'not-sent') return this.sendReInvite(this.localHold, true);
    if (o.kind !== 'final') return this.refreshFailed(0, noop);
    if (o.status === 422 && this.sessionTimer?.onRefreshResponse(o.response) === 'retry') return this.refreshByUpdate();
    if (o.status >= 200 && o.status < 300) this.sessionTimer?.onRefreshResponse(o.response);
    else this.refreshFailed(o.status, noop);
  }

  /**
   * The answer to our refresh: 408, 481 or none ends the call (RFC 4028 §10: the session is
   * gone); any other refusal leaves it to expire unless a refresh succeeds first.
   */
  private refreshFailed(status: number, done: (rc: T) => void): void {
    done(T.SipCallFailure);
    if (status === 0 || status === 408 || status === 481) this.sessionEnded(this.sessionTimer?.terms?.seconds ?? 0, status);
    else this.sessionTimer?.refreshRejected();
  }

  /**
   * The session expired (no refresh in time) or our refresh failed (`refreshStatus` 408, 481, 0
   * for no answer): SipSessionExpired, then BYE; SipCallComplete names SipSessionExpired.
   */
  private sessionEnded(seconds: number, refreshStatus?: number): void {
    if (this.st !== CallState.Confirmed) return;
    this.notify(T.SipSessionExpired, refreshStatus === undefined ? { seconds } : { seconds, refreshStatus });
    this.line.setState(LineState.Disconnecting);
    void this.bye(T.SipSessionExpired);
  }

  // ------------------------------------------------------------------ teardown

  /**
   * Ends the call from our side: CANCEL while an outgoing call rings, 480 for a ringing
   * incoming one, BYE once connected (or once our 200 is out). Resolves when the far end
   * confirmed (or gave no answer); a second hang-up while the first is under way waits for it.
   */
  async hangUp(): Promise<T> {
    switch (this.st) {
      case CallState.Terminated:
        return T.SipNoCallActive;
      case CallState.Cancelling:
      case CallState.Terminating:
        return this.whenEnded();
      default:
        break;
    }
    this.line.setState(LineState.Disconnecting);
    switch (this.st) {
      case CallState.Initial:
        if (this.direction === CallDirection.Incoming) break;
        // nothing sent yet
        this.finish(T.SipCallComplete);
        return T.SipSuccess;
      case CallState.Redirecting:
        // no INVITE out while the next target is resolved
        this.finish(T.SipCallComplete);
        return T.SipSuccess;
      case CallState.Calling:
        // Nothing answered yet: the stack sends the CANCEL if a provisional ever comes (and a
        // late 200 is ACKed and hung up, onInviteFinal), but the line is free now.
        if (this.inviteTx) this.cancelInvite(this.inviteTx);
        this.finish(T.SipCallComplete);
        return T.SipSuccess;
      case CallState.Proceeding:
        this.enter(CallState.Cancelling);
        this.cancelInvite(this.inviteTx!);
        // The INVITE transaction ends with 487 (or the 200 that crossed the CANCEL).
        return this.whenEnded();
      case CallState.Connecting:
        // answered, but the 200 still waits for a PRACK (RFC 3262 §3): refuse instead
        if (this.holding200) {
          this.refuseConnecting(480, 'Temporarily Unavailable');
          return T.SipSuccess;
        }
        return this.bye();
      case CallState.Confirmed:
        return this.bye();
      default:
        break;
    }
    // Initial (incoming) or Ringing: refuse the call
    this.reject(480, 'Temporarily Unavailable');
    return T.SipSuccess;
  }

  /**
   * Sends the CANCEL of an INVITE transaction once: a second CANCEL of the same INVITE (hang-up,
   * stop, an early BYE or a failed early answer crossing) would be a second client transaction
   * on its branch, which the stack refuses by throwing; nothing here may throw into a hang-up.
   */
  private cancelInvite(tx: ClientTransaction): void {
    if (this.cancelledTx === tx) return;
    this.cancelledTx = tx;
    try {
      this.host.runStack.sendCancel(tx);
    } catch {
      // the stack already holds a CANCEL for this INVITE, or it is stopping: nothing left to send
    }
  }

  /** Resolves (SipSuccess) when the call has ended. */
  private whenEnded(): Promise<T> {
    return new Promise((resolve) => this.waiters.push(() => resolve(T.SipSuccess)));
  }

  /**
   * No RTP or RTCP arrived for `seconds` (lines/mediaTimeout.ts): raises SipMediaTimeout and
   * hangs up with BYE; SipCallComplete then names SipMediaTimeout as its reason.
   */
  mediaTimedOut(seconds: number): void {
    if (this.st !== CallState.Confirmed) return;
    this.notify(T.SipMediaTimeout, { seconds });
    this.line.setState(LineState.Disconnecting);
    void this.bye(T.SipMediaTimeout);
  }

  /** Sends the BYE (Terminating) and ends the call (with `reason`) when it is answered or times out. */
  private async bye(reason: T = T.SipCallComplete): Promise<T> {
    const dialog = this.dialog;
    if (!dialog || !this.enter(CallState.Terminating)) {
      this.finish(reason);
      return T.SipSuccess;
    }
    this.notify(T.SipSendBye);
    await new Promise<void>((resolve) => {
      this.byeDone = resolve;
      this.sendInDialog('BYE', {}, (o) => {
        if (o.kind === 'final') this.notify(o.res.status < 300 ? T.SipReceivedByeAck : T.SipReceivedByeErrorAck, { statusCode: o.res.status });
        else if (o.kind === 'timeout') this.notify(T.SipByeAckNotReceived);
        resolve();
      }, dialog);
    });
    this.finish(reason);
    return T.SipSuccess;
  }

  /** Frees everything; raises SipCallComplete and SipOnHook. Idempotent. */
  finish(reason: T): void {
    if (this.isEnded) return;
    this.enter(CallState.Terminated);
    this.prackUas?.stop();
    this.host.clock().clearTimer(this.answerTimer);
    this.host.clock().clearTimer(this.glareTimer);
    this.glareTimer = undefined;
    this.sessionTimer?.stop();
    // the INVITE's server transaction lingers (Timer L, 32 s) after the call: it must not keep
    // the ended call alive that long (at 1 000 calls/s that was 32 000 calls in the old space)
    if (this.serverTx) this.serverTx.onAckTimeout = undefined;
    const media = this.media;
    this.media = undefined;
    const closing = media?.closing?.();
    if (closing !== undefined) {
      // media on a floor: the quality now; the RTP counters it last copied now (what a metrics
      // scrape could have read: they stay monotonic), and what grew since when the floor has
      // stopped the session
      this.finalQuality = closing.quality;
      const counted = closing.counted;
      this.finalCounters = counted;
      void closing.stats.then((s) => this.host.callStatsFinal?.(counted, s));
    } else {
      // the last figures must be read before stop() frees the session
      const stats = media?.stats?.();
      this.finalCounters = stats && rtpCountersOf(stats);
      this.finalQuality = stats ? callQualityFromStats(stats) : undefined;
    }
    this.host.callFinished?.(this);
    void media?.stop();
    if (this.dialog) this.host.dialogChanged(this, this.dialog.id, undefined);
    else if (this.earlyKey) this.host.dialogChanged(this, this.earlyKey, undefined);
    this.earlyKey = undefined;
    this.byeDone?.();
    this.line.setState(LineState.OnHook);
    this.notify(T.SipCallComplete, this.finalQuality ? { reason: T[reason], quality: this.finalQuality } : { reason: T[reason] });
    this.notify(T.SipOnHook);
    this.settle(this.wasConnected ? T.SipSuccess : reason === T.SipCallComplete ? T.SipCallCanceled : reason);
    this.host.ended(this);
    const p = this.pendingHold;
    this.pendingHold = undefined;
    p?.resolve(T.SipNoCallActive);
  }

  /** Sends an in-dialog request (INFO for DTMF); resolves with the final status (0 on timeout). */
  sendRequestInDialog(method: string, body: string, contentType: string): Promise<number> {
    if (!this.dialog || this.st !== CallState.Confirmed) return Promise.resolve(0);
    const dialog = this.dialog;
    return new Promise((resolve) => {
      this.sendInDialog(method, { body, contentType }, (o) => resolve(o.kind === 'final' ? o.res.status : 0), dialog);
    });
  }

  /** The INVITE server transaction of an incoming call, for matching CANCEL. */
  get serverTransaction(): ServerTransaction | undefined {
    return this.serverTx;
  }

  /** Tag we use in the dialog (for matching CANCEL and early requests). */
  get tag(): string {
    return this.localTag;
  }

  /** The far end's tag, once known. */
  get remoteTag(): string | undefined {
    return this.dialog?.remoteTag ?? tagOf(this.invite?.headers.get('From'));
  }

  /**
   * The call's side of its session timer (lines/sessionTimer.ts) and of UPDATE
   * (lines/callUpdate.ts): methods on a prototype over one reference to the call, so a call
   * pays one small object for both hosts rather than a dozen closures. Nested in `Call` to
   * reach its private state.
   */
  private static readonly Side = class CallSide implements UpdateHost, SessionTimerHost {
    constructor(private readonly call: Call) {}

    clock(): Clock {
      return this.call.host.clock();
    }

    sendRefresh(): void {
      this.call.sendSessionRefresh();
    }

    expired(seconds: number): void {
      this.call.sessionEnded(seconds);
    }

    createResponse(req: SipRequest, status: number, reason?: string, options?: ResponseOptions): SipResponse {
      return this.call.host.runStack.createResponse(req, status, reason, options);
    }

    dialog(): Dialog | undefined {
      const call = this.call;
      return call.isEnded ? undefined : (call.dialog ?? call.earlyDialog);
    }

    contactUri(): string {
      return this.call.contactUri();
    }

    localOfferPending(): boolean {
      const call = this.call;
      return (
        call.reinviteTx !== undefined ||
        call.reinviteOfferPending ||
        // the offer we owe (INVITE without SDP) or made in our 200, until the ACK answers it
        (call.lateOffer && (call.st === CallState.Ringing || call.st === CallState.Connecting)) ||
        // our offer in a reliable 18x, until the PRACK answers it (RFC 3262 §5)
        call.provisionalOfferPending ||
        // our INVITE's offer, until an 18x or the 2xx answers it
        (call.direction === CallDirection.Outgoing && !call.negotiated && (call.st === CallState.Calling || call.st === CallState.Proceeding))
      );
    }

    remoteOfferPending(): boolean {
      // the INVITE's offer, whose answer only our 200 will carry: not when the INVITE had none
      // (our offer went in a reliable 18x) or a reliable 18x carried the answer (RFC 3262 §5)
      const call = this.call;
      return call.st === CallState.Ringing && !call.lateOffer && !call.offerInProvisional && !call.reliablyNegotiated && !call.negotiated;
    }

    answerOffer(req: SipRequest, sdp: string, respond: (res: SipResponse) => void): void {
      this.call.answerOffer(req, sdp, respond);
    }

    refuseBody(req: SipRequest, tx: ServerTransaction, body: Extract<SessionBody, { kind: 'unsupported' | 'malformed' }>): void {
      const res = this.call.host.runStack.createResponse(req, body.kind === 'malformed' ? 400 : 415);
      this.call.addRefusal(res, bodyRefusal(body));
      tx.respond(res);
    }

    offer(hold: boolean | undefined): LocalOffer {
      return this.call.updateOffer(hold);
    }

    send(method: string, options: InDialogRequestOptions, dialog: Dialog, done: (o: UacOutcome) => void): void {
      this.call.sendInDialog(method, options, done, dialog);
    }

    glareWait(): Promise<void> {
      const call = this.call;
      return new Promise((resolve) => call.host.clock().setTimer(glareRetryDelayMs(call.direction === CallDirection.Outgoing), resolve));
    }
  };

  /** The called call's side of its reliable 18x (lines/reliableProvisional.ts), as {@link Call.Side} is of UPDATE. */
  private static readonly PrackSide = class PrackSide implements ReliableSenderHost {
    constructor(
      private readonly call: Call,
      private readonly tx: ServerTransaction,
    ) {}

    clock(): Clock {
      return this.call.host.clock();
    }

    t1Ms(): number {
      return this.call.host.runStack.transactions.timers.t1;
    }

    send(res: SipResponse): void {
      this.tx.respond(res);
    }

    gaveUp(): void {
      this.call.onNoPrack();
    }
  };
}
