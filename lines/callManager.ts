/**
 * Routes SIP requests to the calls on the phone lines: new INVITEs to a line chosen by the
 * per-line registration names, in-dialog requests and ACKs by dialog id, CANCEL to the ringing
 * call it cancels. The dialog router (sip/dialogRouter.ts) hands them here: new INVITEs and
 * CANCELs through its method table, in-dialog requests through the usages attached per call.
 * It takes the usage context (lines/context.ts) plus {@link CallManagerExtras}: line selection,
 * the lines' formats, media opening, the engine's call settings and its observers of calls.
 * @module
 */
import { Dialog } from '../sip/dialog.js';
import { OwnedDialogUsage, type DialogUsage, type DialogUsageKind } from '../sip/dialogRouter.js';
import { parseNameAddr, parseUri, type SipUri } from '../sip/grammar.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import { telephoneNumberOf } from '../sip/telNumber.js';
import type { AudioFormatSpec } from '../sip/sdp.js';
import type { ServerTransaction } from '../sip/transaction.js';
import type { Endpoint } from '../sip/transport.js';
import { tagOf } from '../sip/util.js';
import { TelephonyReturnValue as T } from './telephonyCodes.js';
import { Call, type CallExtras, type CallServices } from './call.js';
import { withExtras, type UsageContext } from './context.js';
import { intervalTooSmall } from './sessionTimer.js';
import type { PhoneLine } from './phoneLine.js';
import { TAG_100REL, uasDecision } from './reliableProvisional.js';

/** Data of the immediate SipIncomingCallAssignPhoneLine notification. */
export interface AssignPhoneLineData {
  /** The line the engine chose (-1 when every line is busy); the application may change it. */
  phoneLine: number;
  /** Set to a SIP status (400..699) to refuse the call instead. 0 = take it. */
  rejectStatusCode: number;
  /** Reason phrase when refusing. */
  rejectReasonPhrase: string;
  /** The From header of the INVITE. */
  from: string;
  /** The To header. */
  to: string;
  /** The Request-URI. */
  requestUri: string;
  /** User the call is for (Request-URI user, else To user; a tel: URI's number without visual separators). */
  calledUser: string;
}

/** What the call manager takes beyond the usage context: what calls need that the context lacks, and line selection. */
export interface CallManagerExtras extends Omit<CallExtras, 'dialogChanged' | 'ended' | 'uac'> {
  /** The free line an incoming call for `user` should ring, if any. */
  selectLine(user: string | undefined): PhoneLine | undefined;
  /** Audio formats of a line as SDP specs. */
  formatsFor(line: PhoneLine): AudioFormatSpec[];
}

/** Handles an INFO received in a call's dialog (see lines/infoDtmf.ts). */
export type InfoHandler = (call: Call, req: SipRequest, tx: ServerTransaction) => void;

/** Makes the usage a module puts on every call's dialog beside the INVITE session (REFER, MESSAGE). */
export type CallDialogUsageFactory = (call: Call) => DialogUsage;

/**
 * The user an INVITE is for: the Request-URI user, else the To user (the seed's rule). A `tel:`
 * URI, or a `sip:` one with `user=phone`, gives its number without visual separators
 * (`tel:+1-555-0100` → `+15550100`), so a call to a number routes like a call to a user part.
 */
export function calledUserOf(req: SipRequest): string | undefined {
  try {
    const u = userOf(parseUri(req.uri));
    if (u) return u;
  } catch {
    // fall through to To
  }
  try {
    const to = req.headers.get('To');
    return to ? userOf(parseNameAddr(to).uri) : undefined;
  } catch {
    return undefined;
  }
}

/** A URI's number when it names one, else its user part, unescaped; undefined for none. */
function userOf(uri: SipUri): string | undefined {
  const number = telephoneNumberOf(uri);
  if (number !== undefined) return number;
  if (uri.scheme === 'tel' || !uri.user) return undefined; // a tel: URI that is no number
  return decodeURIComponent(uri.user);
}

/** Owns the calls of every line and routes SIP to them. */
export class CallManager {
  private readonly byDialog = new Map<string, Call>();
  private readonly usages = new Map<Call, DialogUsage[]>();
  private readonly companions: CallDialogUsageFactory[] = [];
  private infoHandler?: InfoHandler;
  private readonly callHost: CallServices;
  /** The INVITE session's usage, shared by every call's (one small object per call). */
  private readonly inviteKind: DialogUsageKind<Call> = {
    name: 'invite',
    methods: ['BYE', 'INVITE', 'INFO', 'OPTIONS', 'PRACK', 'UPDATE'],
    dialog: (call, req) => call.sequenceDialog(req),
    handle: (call, req, tx) => {
      if (req.method === 'INFO' && this.infoHandler) this.infoHandler(call, req, tx);
      else call.onInDialogRequest(req, tx);
    },
  };

  /**
   * @param ctx the usage context
   * @param own what the call manager takes beyond it
   */
  constructor(
    private readonly ctx: UsageContext,
    private readonly own: CallManagerExtras,
  ) {
    const router = ctx.router;
    const extras: CallExtras = {
      uac: ctx.uacFor('call:'),
      openMedia: (line) => own.openMedia(line),
      holdStyle: () => own.holdStyle(),
      holdMethod: own.holdMethod && (() => own.holdMethod?.() ?? 'reinvite'),
      packetTimeMs: (line) => line.packetTimeMs ?? own.packetTimeMs?.(line) ?? 20,
      srtpPolicy: (line) => line.srtpPolicy ?? own.srtpPolicy?.(line) ?? 'none',
      srtpSuites: own.srtpSuites && (() => own.srtpSuites?.() ?? []),
      answerTimeoutSeconds: () => own.answerTimeoutSeconds(),
      reofferSingleCodec: () => own.reofferSingleCodec?.() === true,
      retryAfterSeconds: own.retryAfterSeconds && (() => own.retryAfterSeconds?.() ?? 10),
      callFinished: own.callFinished && ((call) => own.callFinished?.(call)),
      callStatsFinal: own.callStatsFinal && ((counted, final) => own.callStatsFinal?.(counted, final)),
      illegalTransition: own.illegalTransition && ((bug) => own.illegalTransition?.(bug)),
      sessionTimer: () => own.sessionTimer?.(),
      reliableProvisional: () => own.reliableProvisional?.() ?? 'off',
      dialogChanged: (call, oldKey, newKey) => {
        if (oldKey && this.byDialog.get(oldKey) === call) {
          this.byDialog.delete(oldKey);
          for (const u of this.usages.get(call) ?? []) router.detach(oldKey, u);
        }
        if (newKey) {
          this.byDialog.set(newKey, call);
          for (const u of this.usagesOf(call)) router.attach(newKey, u);
        } else {
          this.usages.delete(call);
        }
      },
      ended: (call) => {
        if (call.line.call === call) call.line.call = undefined;
      },
    };
    this.callHost = withExtras(ctx, extras);
  }

  /** Services calls use: the usage context and the calls' extras (dialog bookkeeping among them). */
  get services(): CallServices {
    return this.callHost;
  }

  /** Number of calls routed by dialog (for tests and statistics). */
  get dialogCount(): number {
    return this.byDialog.size;
  }

  /** The call a request belongs to by its dialog id, if any. */
  callForRequest(req: SipRequest): Call | undefined {
    const key = Dialog.keyOfRequest(req);
    if (!key) return undefined;
    // As the dialog router: a dialog made by a 2xx without a To tag has an empty remote tag.
    return this.byDialog.get(key) ?? this.byDialog.get(Dialog.key(req.headers.get('Call-ID') ?? '', tagOf(req.headers.get('To')) ?? '', ''));
  }

  /**
   * Lets a module live on every call's dialog beside the INVITE session (transfer's REFER and
   * refer NOTIFYs, in-dialog MESSAGE): `factory` makes its usage for each call.
   */
  extendDialogs(factory: CallDialogUsageFactory): void {
    this.companions.push(factory);
  }

  /** Sets the INVITE session's INFO handler (INFO DTMF, lines/infoDtmf.ts). */
  setInfoHandler(handler: InfoHandler): void {
    this.infoHandler = handler;
  }

  /** The usages of a call's dialog: its INVITE session first, then the modules' (made once per call). */
  private usagesOf(call: Call): DialogUsage[] {
    let list = this.usages.get(call);
    if (!list) {
      // concat makes an array of exact size (a push would leave room for 19, per call)
      list = ([new OwnedDialogUsage(this.inviteKind, call)] as DialogUsage[]).concat(this.companions.map((f) => f(call)));
      this.usages.set(call, list);
    }
    return list;
  }

  /** A CANCEL (the method table's handler): cancels the ringing call whose INVITE it names, else 481. */
  onCancel(req: SipRequest, tx: ServerTransaction): void {
    const stack = this.ctx.runStack;
    const inviteTx = stack.findInviteServerTransaction(req);
    const call = inviteTx ? this.ctx.lines().find((l) => l.call?.serverTransaction === inviteTx)?.call : undefined;
    // The 200 carries the tag of the INVITE's responses (RFC 3261 9.2).
    tx.respond(stack.createResponse(req, call ? 200 : 481, undefined, { toTag: call ? call.tag : true }));
    call?.onCancel();
  }

  /** An ACK outside transactions: for a 2xx of one of our calls. */
  onAck(req: SipRequest): void {
    this.callForRequest(req)?.handleAck(req);
  }

  /** A 2xx retransmission whose transaction is gone: ACK it again if it is one of our calls. */
  onStrayResponse(res: SipResponse): void {
    if (res.status < 200 || res.status >= 300 || !(res.headers.get('CSeq') ?? '').endsWith('INVITE')) return;
    // The local tag of a call we placed is the From tag.
    const callId = res.headers.get('Call-ID') ?? '';
    const fromTag = /;\s*tag=([^;>\s]+)/.exec(res.headers.get('From') ?? '')?.[1] ?? '';
    const toTag = /;\s*tag=([^;>\s]+)/.exec(res.headers.get('To') ?? '')?.[1] ?? '';
    const call = this.byDialog.get(Dialog.key(callId, fromTag, toTag));
    call?.reAck(res);
  }

  /** An INVITE outside any dialog (the method table's handler, unless it carries Replaces): a new incoming call. */
  onNewInvite(req: SipRequest, tx: ServerTransaction, from: Endpoint): void {
    void this.assignNewInvite(req, tx, from);
  }

  private async assignNewInvite(req: SipRequest, tx: ServerTransaction, from: Endpoint): Promise<void> {
    const stack = this.ctx.runStack;
    // A session interval below our Min-SE is refused before a line is chosen (RFC 4028 §9)
    const settings = this.own.sessionTimer?.();
    const tooSmall = settings && intervalTooSmall(req, settings);
    if (tooSmall) {
      const res = stack.createResponse(req, tooSmall.status, 'Session Interval Too Small', { toTag: true });
      res.headers.append('Min-SE', String(tooSmall.minSe));
      tx.respond(res);
      return;
    }
    if (uasDecision(this.callHost.reliableProvisional?.() ?? 'off', req) === 'refuse') {
      // 100rel policy 'required' and a caller without it: 421 before any line sees the call (RFC 3262 §3)
      const res = stack.createResponse(req, 421, 'Extension Required', { toTag: true });
      res.headers.append('Require', TAG_100REL);
      tx.respond(res);
      return;
    }
    const user = calledUserOf(req);
    const chosen = this.own.selectLine(user);
    const data = this.ctx.immediate<AssignPhoneLineData>(-1, T.SipIncomingCallAssignPhoneLine, {
      phoneLine: chosen ? chosen.index : -1,
      rejectStatusCode: 0,
      rejectReasonPhrase: '',
      from: req.headers.get('From') ?? '',
      to: req.headers.get('To') ?? '',
      requestUri: req.uri,
      calledUser: user ?? '',
    });
    const code = Number(data.rejectStatusCode);
    if (Number.isInteger(code) && code >= 400 && code < 700) {
      const res = stack.createResponse(req, code, data.rejectReasonPhrase || undefined, { toTag: true });
      // RFC 3261 §21.5.4: a 503 says when to come back
      if (code === 503 && this.own.retryAfterSeconds) res.headers.set('Retry-After', this.own.retryAfterSeconds());
      tx.respond(res);
      return;
    }
    const line = this.ctx.lines()[data.phoneLine];
    if (!line || !line.availableForIncoming) {
      tx.respond(stack.createResponse(req, 486, 'Busy Here', { toTag: true }));
      return;
    }
    await Call.incoming(this.callHost, line, req, tx, from, this.own.formatsFor(line), this.ctx.userFor(line));
  }

  /** The audio formats a call on `line` would negotiate (the line's own). */
  formatsOf(line: PhoneLine): AudioFormatSpec[] {
    return this.own.formatsFor(line);
  }

  /** The call whose dialog has this Call-ID and tags (Replaces matching, RFC 3891 §3), if any. */
  callForDialog(callId: string, localTag: string, remoteTag: string): Call | undefined {
    return this.byDialog.get(Dialog.key(callId, localTag, remoteTag));
  }

  /**
   * Takes an incoming INVITE onto a given line, bypassing line selection (an INVITE with
   * Replaces takes over the line of the call it replaces). Resolves with the ringing call.
   */
  async takeIncomingOnLine(line: PhoneLine, req: SipRequest, tx: ServerTransaction, from: Endpoint): Promise<Call> {
    return Call.incoming(this.callHost, line, req, tx, from, this.own.formatsFor(line), this.ctx.userFor(line));
  }

  /** Every call in progress. */
  calls(): Call[] {
    return this.ctx.lines().flatMap((l) => (l.call ? [l.call] : []));
  }
}
