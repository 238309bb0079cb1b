/**
 * Call transfer (RFC 3515 REFER, RFC 3891 Replaces, RFC 3892 Referred-By) on the phone lines.
 *
 * - Transferor: sends REFER in a call's dialog (blind, or attended with Replaces built from a
 *   second call's dialog), follows the implicit subscription's NOTIFYs and raises the PortSIP
 *   events in the seed's order: SipReferAccepted (202), SipTransferTrying (100),
 *   SipTransferRinging (18x), SipActvTransferSuccess (2xx) or SipActvTransferFailure (>= 300,
 *   or a subscription that ends without a final answer); SipReferRejected on an error answer.
 *   After a success it ends its own call with BYE (RFC 5589's flows, PJSUA's default: a
 *   transferee such as baresip waits for it), unless the keepCallAfterTransfer setting keeps
 *   the call up.
 *   The implicit subscription itself (states, Subscription-State, expiry, ids, 481) is the
 *   subscription core's {@link ImplicitSubscriptions}; this module reads the sipfrag bodies.
 * - Transferee: an in-dialog REFER raises SipTransferExecuting (immediate) and SipReceivedRefer;
 *   it is accepted automatically (farEndCallTransferEnabled) or by acceptRefer / rejectRefer.
 *   Accepting places the new call on a free line and reports its progress in NOTIFY sipfrag
 *   bodies (100, 18x, then 200 or the failure), sent one at a time by the core's
 *   {@link NotifierSession}; after a success the original call is ended.
 * - Transfer target: an INVITE with Replaces matching a confirmed call takes over that call's
 *   line; the replaced call gets BYE, once the INVITE's offer is known to be negotiable
 *   (lines/offerCheck.ts: otherwise 400/415/488 with a Warning, and the replaced call stays up).
 *
 * The manager takes the usage context (lines/context.ts) plus {@link TransferExtras}: the call
 * manager, placing the triggered call, and the farEndCallTransferEnabled setting.
 * @module
 */
import { raceTimer, type TimerHandle } from '../sip/clock.js';
import { parseUri } from '../sip/grammar.js';
import type { SipRequest } from '../sip/message.js';
import { serializeMessage } from '../sip/parser.js';
import {
  buildReferTo,
  buildSipfrag,
  formatReferredBy,
  formatReplaces,
  parseReferTo,
  parseReferredBy,
  parseReplaces,
  parseSipfrag,
  REFER_SUBSCRIPTION_EXPIRES,
  SIPFRAG_CONTENT_TYPE,
  type ReferTarget,
} from '../sip/refer.js';
import type { SipStack } from '../sip/stack.js';
import type { ServerTransaction } from '../sip/transaction.js';
import { buildResponse, cseqNumber, newTag } from '../sip/util.js';
import { Dialog } from '../sip/dialog.js';
import { sendUacRequest, type UacDestination } from '../sip/uac.js';
import { requestIsSips } from '../sip/tlsTransport.js';
import { ImplicitSubscriptions, NotifierSession, type ExpiryPolicy, type ImplicitSubscriber, type SubscriberTermination, type SubscriptionChannel } from '../sip/subscription.js';
import type { Capability } from '../sip/capabilities.js';
import { OwnedDialogUsage, type DialogUsage, type DialogUsageKind } from '../sip/dialogRouter.js';
import { hostPort, isPort, isSipUser } from '../sip/address.js';
import { TelephonyReturnValue as T } from './telephonyCodes.js';
import { LineState } from './lineState.js';
import type { Call, CallTarget } from './call.js';
import type { CallManager } from './callManager.js';
import type { PhoneLine } from './phoneLine.js';
import { inviteOfferRefusal, refuseOffer } from './offerCheck.js';
import { withExtras, type UsageContext } from './context.js';

/** What transfer takes beyond the usage context: the calls it hands triggered INVITEs and Replaces to, and its one setting. */
export interface TransferExtras {
  /** The calls; undefined while the engine is stopped. */
  calls(): CallManager | undefined;
  /** The farEndCallTransferEnabled start parameter: accept REFERs without asking. */
  autoAccept(): boolean;
  /** Places a call on `line` to `target` (the transferee's triggered INVITE). */
  placeCall(line: PhoneLine, target: CallTarget): Promise<Call | T>;
  /**
   * The keepCallAfterTransfer start parameter: the transferor keeps its call up after a
   * successful transfer instead of ending it with BYE.
   */
  keepCallAfterTransfer(): boolean;
  /** The acceptOutOfDialogRefer start parameter: a REFER outside any dialog is accepted (else 403); absent = false. */
  acceptOutOfDialogRefer?(): boolean;
}

/** What transfer implements: REFER and its implicit subscription's NOTIFY, Replaces. */
export const TRANSFER_CAPABILITY: Capability = {
  methods: ['REFER', 'NOTIFY'],
  optionTags: ['replaces'],
  accept: ['message/sipfrag'],
  eventPackages: ['refer'],
};

/** Result of `getCallDialogInfo`: the dialog identifiers a Replaces header is built from. */
export interface CallDialogInfo {
  /** SipSuccess or the error. */
  result: T;
  /** Call-ID of the call's dialog. */
  callId?: string;
  /** Our tag in the dialog (the `to-tag` of a Replaces aimed at this engine). */
  localTag?: string;
  /** The far end's tag (the `from-tag` of a Replaces aimed at this engine). */
  remoteTag?: string;
  /** The far end's Contact URI. */
  remoteTarget?: string;
}

/** Data of SipReceivedRefer (PortSIP's onReceivedRefer). */
export interface ReceivedReferData {
  /** Pass it to acceptRefer or rejectRefer. */
  referId: number;
  /** The refer target: the Refer-To URI without its headers. */
  to: string;
  /** The From header of the REFER (the transferor). */
  from: string;
  /** The whole REFER as received; pass it to acceptRefer. */
  referSipMessage: string;
}

/** Data of SipReferRejected and SipActvTransferFailure. */
export interface TransferFailureData {
  /** Reason phrase of the error answer. */
  reason: string;
  /** Its SIP status; 408 when no final answer came at all. */
  code: number;
}

/** A REFER we sent, followed until its subscription ends: what the LanScape events have said so far. */
interface OutgoingRefer {
  call: Call;
  line: number;
  /** The implicit subscription (the core keeps its state, id and expiry). */
  sub?: ImplicitSubscriber;
  accepted: boolean;
  trying: boolean;
  ringing: boolean;
}

/** A REFER we received: in a call's dialog, or outside any dialog (then `call` is undefined). */
interface IncomingRefer {
  referId: number;
  call?: Call;
  /**
   * The dialog an out-of-dialog REFER made (RFC 3515 §2.4.6), the channel of its NOTIFYs, and
   * once accepted the usage that puts the dialog in the dialog router (SUBSCRIBE, OPTIONS, BYE).
   */
  own?: { dialog: Dialog; channel: SubscriptionChannel; usage?: DialogUsage };
  req: SipRequest;
  tx: ServerTransaction;
  target: ReferTarget;
  referredBy?: string;
  cseq: number;
  state: 'pending' | 'accepted' | 'done';
  timer?: TimerHandle;
  /** The notifier of the implicit subscription, once accepted (sends the NOTIFYs one at a time). */
  notifier?: NotifierSession;
  provisionalSent: boolean;
  finalQueued: boolean;
  succeeded: boolean;
}

/** A REFER just received, in a call's dialog (`call`) or outside any (`own`), before its decision. */
function newIncomingRefer(referId: number, where: { call: Call } | { own: NonNullable<IncomingRefer['own']> }, req: SipRequest, tx: ServerTransaction, target: ReferTarget): IncomingRefer {
  return {
    referId,
    ...where,
    req,
    tx,
    target,
    referredBy: parseReferredBy(req.headers.get('Referred-By')),
    cseq: cseqNumber(req.headers.get('CSeq')),
    state: 'pending',
    provisionalSent: false,
    finalQueued: false,
    succeeded: false,
  };
}

/**
 * Expiry of a refresh of an implicit refer subscription (RFC 3515 §2.4.5): granted as asked up to
 * the REFER's own period; with Expires: 0 it ends at once.
 */
const REFER_REFRESH_POLICY: ExpiryPolicy = { defaultExpires: REFER_SUBSCRIPTION_EXPIRES, maxExpires: REFER_SUBSCRIPTION_EXPIRES, minExpires: 0 };

/** How long the application may sit on a REFER before it is refused (the REFER's own timer is 32 s). */
const DECISION_TIMEOUT_MS = 30_000;
/** Longest wait for the BYE of a replaced call before its line is taken over anyway. */
const REPLACED_BYE_WAIT_MS = 2_000;
/**
 * How long the transferor leaves the transferee, after the success NOTIFY, to end the call
 * itself (a LineScape transferee does, one round trip later) before sending its own BYE: the
 * two BYEs then do not cross, and a transferee that waits for the transferor's BYE (baresip,
 * PJSUA) still has it well within a second.
 */
export const TRANSFEROR_BYE_GRACE_MS = 500;

/** The transfer side of the phone lines: REFER out and in, NOTIFY sipfrag, Replaces. */
export class TransferManager {
  private readonly outgoing = new Set<OutgoingRefer>();
  /** The refer subscriptions of each call's dialog (gone with the call). */
  private readonly referSubs = new WeakMap<Call, ImplicitSubscriptions>();
  private readonly incoming = new Map<number, IncomingRefer>();
  /** Pending BYEs of transferors whose transfer succeeded (cleared on stop). */
  private readonly byeTimers = new Set<TimerHandle>();
  /** The usage context and transfer's extras in one object. */
  private readonly host: UsageContext & TransferExtras;
  /** The REFER usage of {@link TransferManager.usageFor}, shared by every call's (one small object per call). */
  private readonly referKind: DialogUsageKind<Call> = {
    name: 'refer',
    methods: ['REFER', 'NOTIFY'],
    ownsEvent: (_call, event) => event.package === 'refer',
    dialog: (call) => call.dialog,
    alive: (call) => !call.isEnded,
    handle: (call, req, tx) => {
      const stack = this.host.stack();
      if (!stack) return;
      if (req.method === 'REFER') this.onRefer(call, req, tx, stack);
      else this.subsOf(call).handleNotify(req, tx);
    },
  };

  /**
   * The usage on the dialog an out-of-dialog REFER made (its implicit subscription is the only
   * thing living there): a SUBSCRIBE refreshes or, with Expires: 0, ends the subscription
   * (RFC 3515 §2.4.5, RFC 6665 §4.2.1); OPTIONS gets 200 with our capabilities; BYE gets 200 and
   * ends the dialog (no more NOTIFYs; the referred call goes on). Gone with the subscription.
   */
  private readonly ownReferKind: DialogUsageKind<IncomingRefer> = {
    name: 'refer-subscription',
    methods: ['SUBSCRIBE', 'OPTIONS', 'BYE'],
    ownsEvent: (rec, event) => event.package === 'refer' && (event.id === undefined || event.id === String(rec.cseq)),
    dialog: (rec) => rec.own?.dialog,
    alive: (rec) => rec.notifier?.terminated === false,
    handle: (rec, req, tx) => this.inOwnDialog(rec, req, tx),
  };

  /**
   * @param ctx the usage context
   * @param own what transfer takes beyond it
   * @param referIds refer ids (the engine keeps the counter across runs)
   */
  constructor(
    ctx: UsageContext,
    own: TransferExtras,
    private readonly referIds: { next: number } = { next: 1 },
  ) {
    this.host = withExtras(ctx, own);
  }

  // ------------------------------------------------------------------ dispatch

  /**
   * The usage transfer puts on every call's dialog (`CallManager.extendDialogs`): REFER, and
   * NOTIFYs of the `refer` event package. The dialog router has screened them (dialog known,
   * CSeq in order, Event package refer); the NOTIFY's id picks the REFER (RFC 3515 §2.4.6).
   */
  usageFor(call: Call): DialogUsage {
    return new OwnedDialogUsage(this.referKind, call);
  }


  /**
   * An INVITE outside any dialog carrying Replaces (RFC 3891): the method table's INVITE handler
   * gives it here instead of to the call manager.
   */
  onReplacesInvite(req: SipRequest, tx: ServerTransaction): void {
    const stack = this.host.stack();
    const calls = this.host.calls();
    if (!stack || !calls) return;
    this.replacesInvite(req, tx, stack, calls);
  }

  /**
   * A REFER outside any dialog (RFC 3515 allows it; the method table's REFER handler). One
   * whose Call-ID is a live call's is that call's REFER without its To tag: 481, as before.
   * Otherwise, when the application allows it (`acceptOutOfDialogRefer`), it is accepted like
   * an in-dialog blind transfer: 202 in a new dialog, the referred call placed on a free line,
   * NOTIFY sipfrag bodies in that dialog; else 403. SipReceivedOutOfDialogRefer tells the
   * application either way.
   */
  onOutOfDialogRefer(req: SipRequest, tx: ServerTransaction): void {
    const stack = this.host.stack();
    const calls = this.host.calls();
    if (!stack || !calls) return;
    const callId = req.headers.get('Call-ID') ?? '';
    if (calls.calls().some((c) => c.dialog?.callId === callId)) {
      tx.respond(stack.createResponse(req, 481, 'Call/Transaction Does Not Exist', { toTag: true }));
      return;
    }
    const target = this.referTargetOf(req, tx, stack);
    if (!target) return;
    const from = req.headers.get('From') ?? '';
    const referId = this.referIds.next++;
    if (this.host.acceptOutOfDialogRefer?.() !== true) {
      tx.respond(stack.createResponse(req, 403, 'Out-of-dialog REFER not allowed', { toTag: true }));
      this.host.notifyGlobal(T.SipReceivedOutOfDialogRefer, { referId, accepted: false, to: target.uri, from, newPhoneLine: -1 });
      return;
    }
    // our Contact (in the 202) names the transport and scheme the REFER came over
    const dialog = Dialog.fromUasRequest(req, newTag(), this.host.contactUri(this.host.user(), tx.from.protocol, requestIsSips(req)));
    const uac = this.host.uacFor('refer:');
    const host = this.host;
    const channel: SubscriptionChannel = {
      get clock() {
        return host.clock();
      },
      createResponse: (r, status, reason, options) => stack.createResponse(r, status, reason, options),
      send: (method, options, done, onSend) => {
        sendUacRequest(uac, { build: () => dialog.createRequest(method, options), authUser: host.user(), onSend }, done);
        return true;
      },
    };
    const rec = newIncomingRefer(referId, { own: { dialog, channel } }, req, tx, target);
    this.incoming.set(referId, rec);
    if (this.accept(rec) !== T.SipSuccess) this.host.notifyGlobal(T.SipReceivedOutOfDialogRefer, { referId, accepted: false, to: target.uri, from, newPhoneLine: -1 });
  }

  /** The REFER's one Refer-To, parsed; undefined when it answered 400. */
  private referTargetOf(req: SipRequest, tx: ServerTransaction, stack: SipStack): ReferTarget | undefined {
    const values = req.headers.getAll('Refer-To');
    const target = values.length > 1 ? { ok: false as const, reason: 'More than one Refer-To' } : parseReferTo(values[0]);
    if (target.ok) return target;
    tx.respond(stack.createResponse(req, 400, target.reason, { toTag: true }));
    return undefined;
  }

  /** Forgets every transfer and timer (engine stop). */
  stop(): void {
    const clock = this.host.clock();
    for (const o of this.outgoing) o.sub?.dispose();
    for (const r of this.incoming.values()) {
      clock.clearTimer(r.timer);
      this.detachOwn(r);
    }
    for (const timer of this.byeTimers) clock.clearTimer(timer);
    this.byeTimers.clear();
    this.outgoing.clear();
    this.incoming.clear();
  }

  // ------------------------------------------------------------------ transferor: procedures

  private lineOf(phoneLine: unknown): PhoneLine | T {
    if (!this.host.stack()) return T.SipMediaEngineNotInitialized;
    const lines = this.host.lines();
    if (typeof phoneLine !== 'number' || !Number.isInteger(phoneLine) || phoneLine < 0 || phoneLine >= lines.length) return T.SipBadPhoneLine;
    return lines[phoneLine]!;
  }

  /** The connected call of a line that may be transferred now, or the reason it may not. */
  private transferableCall(phoneLine: unknown): Call | T {
    const line = this.lineOf(phoneLine);
    if (typeof line === 'number') return line;
    const call = line.call;
    if (!call || !call.isConnected || !call.dialog) return T.SipTransfrerNotAllowed;
    if (this.subsOf(call).subscriptions().length) return T.SipTransfrerNotAllowed;
    return call;
  }

  /** transferLine: blind transfer to `userOrNumber` at `destAddress:destSipPort`, or at the domain through the proxy. */
  transferLine(userOrNumber: string, destAddress: string, destSipPort: number, phoneLine: number): T {
    if (!this.host.stack()) return T.SipMediaEngineNotInitialized;
    if (!isSipUser(userOrNumber)) return T.SipBadUserName;
    let uri: string;
    if (this.host.proxy()) {
      const domain = this.host.domain();
      if (!domain) return T.SipDomainNameNotDefined;
      uri = `sip:${userOrNumber}@${domain}`;
    } else {
      if (typeof destAddress !== 'string' || !destAddress) return T.SipBadParameter;
      if (destSipPort !== 0 && !isPort(destSipPort)) return T.SipBadParameter;
      const port = destSipPort || 5060;
      uri = `sip:${userOrNumber}@${hostPort(destAddress, port === 5060 ? undefined : port)}`;
    }
    if (!parseReferTo(`<${uri}>`).ok) return T.SipBadParameter;
    return this.refer(phoneLine, buildReferTo(uri), false);
  }

  /**
   * transferLineUri: blind transfer to a SIP URI. With `useProxy` the Refer-To names the target
   * at the SIP domain (`sip:user@domain`), so the transferee reaches it through its proxy.
   */
  transferLineUri(sipUri: string, useProxy: boolean, phoneLine: number): T {
    if (!this.host.stack()) return T.SipMediaEngineNotInitialized;
    if (typeof sipUri !== 'string' || typeof useProxy !== 'boolean') return T.SipBadParameter;
    const parsed = parseReferTo(`<${sipUri.trim()}>`);
    if (!parsed.ok) return T.SipBadSipUri;
    let uri = parsed.uri;
    if (useProxy) {
      if (!this.host.proxy()) return T.SipProxyNotEnabled;
      const domain = this.host.domain();
      if (!domain) return T.SipDomainNameNotDefined;
      const u = parseUri(uri);
      if (!u.user) return T.SipBadSipUri;
      uri = `${u.scheme}:${u.user}@${domain}`;
    }
    return this.refer(phoneLine, buildReferTo(uri, parsed.replaces), false);
  }

  /**
   * attendedTransfer: asks the far end of `phoneLine` to call the far end of `targetPhoneLine`
   * with a Replaces naming that second call's dialog (RFC 5589 §7), so the two far ends end up
   * talking to each other and both of our calls end.
   */
  attendedTransfer(phoneLine: number, targetPhoneLine: number): T {
    const first = this.lineOf(phoneLine);
    if (typeof first === 'number') return first;
    const second = this.lineOf(targetPhoneLine);
    if (typeof second === 'number') return second;
    if (first === second) return T.SipBadParameter;
    const target = second.call;
    if (!target || !target.isConnected || !target.dialog) return T.SipTransfrerNotAllowed;
    const d = target.dialog;
    let referTo: string;
    try {
      // The receiver of the Replaces (the target) matches to-tag with its own tag (RFC 3891 §3).
      referTo = buildReferTo(d.remoteTarget, { callId: d.callId, toTag: d.remoteTag, fromTag: d.localTag, earlyOnly: false });
    } catch {
      return T.SipTransfrerNotAllowed;
    }
    return this.refer(phoneLine, referTo, true);
  }

  /** getCallDialogInfo: Call-ID and tags of a line's call (what a Replaces header names). */
  getCallDialogInfo(phoneLine: number): CallDialogInfo {
    const line = this.lineOf(phoneLine);
    if (typeof line === 'number') return { result: line };
    const d = line.call && !line.call.isEnded ? line.call.dialog : undefined;
    if (!d) return { result: T.SipNoCallActive };
    return { result: T.SipSuccess, callId: d.callId, localTag: d.localTag, remoteTag: d.remoteTag, remoteTarget: d.remoteTarget };
  }

  private refer(phoneLine: number, referTo: string, attended: boolean): T {
    const call = this.transferableCall(phoneLine);
    if (typeof call === 'number') return call;
    const line = call.line.index;
    this.host.immediate(line, T.SipOutgoingTransferInitializing, { referTo, attended });
    const rec: OutgoingRefer = { call, line, accepted: false, trying: false, ringing: false };
    this.outgoing.add(rec);
    const sub = this.subsOf(call).create(
      'REFER',
      { headers: [['Refer-To', referTo], ['Referred-By', formatReferredBy(this.host.contactUri(this.host.userFor(call.line)))]] },
      {
        onAccepted: () => this.referAccepted(rec),
        onNotify: (req) => this.onReferNotify(rec, req),
        onTerminated: (info) => this.referEnded(rec, info),
      },
    );
    if (!sub) {
      this.outgoing.delete(rec);
      return T.SipTransfrerNotAllowed;
    }
    rec.sub = sub;
    this.host.notify(line, T.SipTransferingCall, { referTo, attended });
    return T.SipSuccess;
  }

  /** The refer subscriptions living on a call's dialog. */
  private subsOf(call: Call): ImplicitSubscriptions {
    let subs = this.referSubs.get(call);
    if (!subs) {
      subs = new ImplicitSubscriptions(this.channelOf(call), { package: 'refer', defaultExpires: REFER_SUBSCRIPTION_EXPIRES });
      this.referSubs.set(call, subs);
    }
    return subs;
  }

  /** How the subscription core reaches a call's dialog: the engine's clock, its answers, the call's client path. */
  private channelOf(call: Call): SubscriptionChannel {
    const host = this.host;
    return {
      get clock() {
        return host.clock();
      },
      createResponse: (req, status, reason, options) => host.stack()?.createResponse(req, status, reason, options) ?? buildResponse(req, status, reason, options),
      send: (method, options, done, onSend) => call.sendDialogRequest(method, options, done, onSend),
    };
  }

  private referAccepted(rec: OutgoingRefer): void {
    if (rec.accepted) return;
    rec.accepted = true;
    this.host.notify(rec.line, T.SipReferAccepted, {});
  }

  /** The transfer has its result: the subscription is of no more use. */
  private finishOutgoing(rec: OutgoingRefer): void {
    this.outgoing.delete(rec);
    rec.sub?.dispose();
  }

  private transferFailed(rec: OutgoingRefer, reason: string, code: number): void {
    this.finishOutgoing(rec);
    this.host.notify(rec.line, T.SipActvTransferFailure, { reason, code });
  }

  /**
   * The subscription ended before a final sipfrag: the REFER was refused (or unanswered), the
   * transferee terminated it, or it stayed silent past its expiry (the transferee vanished).
   */
  private referEnded(rec: OutgoingRefer, info: SubscriberTermination): void {
    this.outgoing.delete(rec);
    if (!rec.accepted) {
      this.host.notify(rec.line, T.SipReferRejected, { reason: info.reason ?? '', code: info.code ?? 408 });
      return;
    }
    if (info.cause === 'expired') {
      if (!rec.call.isEnded) this.host.notify(rec.line, T.SipActvTransferFailure, { reason: 'No final transfer result', code: 408 });
      return;
    }
    const reason = `Subscription terminated${info.reason ? ` (${info.reason})` : ''} without a final answer`;
    this.host.notify(rec.line, T.SipActvTransferFailure, { reason, code: 408 });
  }

  /**
   * A NOTIFY of the refer subscription, received by the transferor (the core has found the
   * subscription and read Subscription-State): its sipfrag says how the transfer goes. 400 for
   * a body that is no sipfrag.
   */
  private onReferNotify(rec: OutgoingRefer, req: SipRequest): number | undefined {
    const frag = req.body.length ? parseSipfrag(req.body) : undefined;
    if (req.body.length && !frag) return 400;
    this.referAccepted(rec); // a NOTIFY may overtake the 202 (RFC 3515 §2.4.6)
    if (!frag) return undefined;
    const s = frag.status;
    if (s >= 180 && s < 190) {
      if (!rec.trying) {
        rec.trying = true;
        this.host.notify(rec.line, T.SipTransferTrying, {});
      }
      if (!rec.ringing) {
        rec.ringing = true;
        this.host.notify(rec.line, T.SipTransferRinging, {});
      }
    } else if (s < 200) {
      if (!rec.trying) {
        rec.trying = true;
        this.host.notify(rec.line, T.SipTransferTrying, {});
      }
    } else if (s < 300) {
      this.finishOutgoing(rec);
      this.host.notify(rec.line, T.SipActvTransferSuccess, {});
      this.endAfterTransfer(rec.call);
    } else {
      this.transferFailed(rec, frag.reason, s);
    }
    return undefined;
  }

  /**
   * The transfer succeeded: the transferor's part in the call is over (RFC 5589 §6, §7). Unless
   * the application keeps the call, it ends with BYE once the grace has passed and the far end
   * has not ended it first.
   */
  private endAfterTransfer(call: Call): void {
    if (this.host.keepCallAfterTransfer() || call.isEnded) return;
    const clock = this.host.clock();
    const timer = clock.setTimer(TRANSFEROR_BYE_GRACE_MS, () => {
      this.byeTimers.delete(timer);
      if (!call.isEnded) void call.hangUp();
    });
    this.byeTimers.add(timer);
  }

  // ------------------------------------------------------------------ transferee

  private onRefer(call: Call, req: SipRequest, tx: ServerTransaction, stack: SipStack): void {
    if (!call.isConnected) {
      tx.respond(stack.createResponse(req, 403, 'Call not connected'));
      return;
    }
    if ([...this.incoming.values()].some((r) => r.call === call && r.state !== 'done')) {
      tx.respond(stack.createResponse(req, 491, 'Request Pending'));
      return;
    }
    const target = this.referTargetOf(req, tx, stack);
    if (!target) return;
    const rec = newIncomingRefer(this.referIds.next++, { call }, req, tx, target);
    this.incoming.set(rec.referId, rec);
    const line = call.line.index;
    const from = req.headers.get('From') ?? '';
    this.host.immediate(line, T.SipTransferExecuting, { referId: rec.referId, referTo: target.uri, from });
    this.host.notify(line, T.SipReceivedRefer, {
      referId: rec.referId,
      to: target.uri,
      from,
      referSipMessage: serializeMessage(req).toString('latin1'),
    });
    if (this.host.autoAccept()) {
      this.accept(rec);
      return;
    }
    rec.timer = this.host.clock().setTimer(DECISION_TIMEOUT_MS, () => {
      if (rec.state === 'pending') this.refuse(rec, 480, 'No decision on the transfer');
    });
  }

  private pendingRefer(referId: unknown): IncomingRefer | T {
    if (!this.host.stack()) return T.SipMediaEngineNotInitialized;
    if (typeof referId !== 'number' || !Number.isInteger(referId) || referId <= 0) return T.SipBadParameter;
    const rec = this.incoming.get(referId);
    if (!rec || rec.state !== 'pending') return T.SipInvalidHandle;
    if (rec.call?.isEnded === true) {
      this.incoming.delete(referId);
      return T.SipNoCallActive;
    }
    return rec;
  }

  /** acceptRefer: accepts a REFER raised by SipReceivedRefer and places the new call. */
  acceptRefer(referId: number, referSipMessage: string): T {
    const rec = this.pendingRefer(referId);
    if (typeof rec === 'number') return rec;
    if (typeof referSipMessage !== 'string' || !referSipMessage) return T.SipBadParameter;
    return this.accept(rec);
  }

  /** rejectRefer: refuses a REFER raised by SipReceivedRefer (603 Declined). */
  rejectRefer(referId: number): T {
    const rec = this.pendingRefer(referId);
    if (typeof rec === 'number') return rec;
    this.refuse(rec, 603, 'Declined');
    return T.SipSuccess;
  }

  private refuse(rec: IncomingRefer, status: number, reason: string): void {
    const stack = this.host.stack();
    rec.state = 'done';
    this.host.clock().clearTimer(rec.timer);
    this.incoming.delete(rec.referId);
    if (stack) rec.tx.respond(stack.createResponse(rec.req, status, reason));
  }

  private freeLineFor(rec: IncomingRefer): PhoneLine | undefined {
    return this.host.lines().find((l) => l !== rec.call?.line && l.availableForOutgoing);
  }

  private accept(rec: IncomingRefer): T {
    const stack = this.host.stack();
    if (!stack) return T.SipMediaEngineNotInitialized;
    const line = this.freeLineFor(rec);
    if (!line) {
      this.refuse(rec, 503, 'No free line for the transfer');
      return T.SipLineCapacityReached;
    }
    const dialog = rec.own?.dialog ?? rec.call?.dialog;
    const channel = rec.own?.channel ?? (rec.call ? this.channelOf(rec.call) : undefined);
    if (!dialog || !channel) {
      this.refuse(rec, 481, 'Call/Transaction Does Not Exist');
      return T.SipNoCallActive;
    }
    rec.state = 'accepted';
    this.host.clock().clearTimer(rec.timer);
    const accepted = stack.createResponse(rec.req, 202, 'Accepted', { toTag: dialog.localTag });
    // the 202 to an out-of-dialog REFER makes a dialog: it names our target (RFC 3515 §2.4.2)
    if (rec.own) accepted.headers.append('Contact', `<${dialog.localContact}>`);
    rec.tx.respond(accepted);
    // The REFER made an implicit subscription in the call's dialog, named by its CSeq.
    rec.notifier = new NotifierSession(
      channel,
      dialog,
      rec.req,
      { package: 'refer', id: String(rec.cseq) },
      { localContact: dialog.localContact, expires: REFER_SUBSCRIPTION_EXPIRES, contentType: SIPFRAG_CONTENT_TYPE, implicit: true },
    );
    if (rec.own) this.attachOwn(rec, rec.own, rec.notifier);
    // RFC 3515 §2.4.4: an immediate NOTIFY tells the transferor the request is being tried.
    this.queueNotify(rec, 100, 'Trying', false);
    if (rec.call) this.host.notify(rec.call.line.index, T.SipTransferingCall, { referId: rec.referId, referTo: rec.target.uri, newPhoneLine: line.index });
    else this.host.notifyGlobal(T.SipReceivedOutOfDialogRefer, { referId: rec.referId, accepted: true, to: rec.target.uri, from: rec.req.headers.get('From') ?? '', newPhoneLine: line.index });
    void this.placeTransferCall(rec, line);
    return T.SipSuccess;
  }

  /**
   * Puts the dialog of an accepted out-of-dialog REFER in the dialog router, as the in-dialog
   * subscriptions are (sip/subscription.ts), so requests in it pass the one screen (CSeq, Event)
   * instead of getting 481; it leaves the router when the subscription ends.
   */
  private attachOwn(rec: IncomingRefer, own: NonNullable<IncomingRefer['own']>, notifier: NotifierSession): void {
    const usage = new OwnedDialogUsage(this.ownReferKind, rec);
    own.usage = usage;
    this.host.router.attach(own.dialog.id, usage);
    notifier.events = { onTerminated: () => this.detachOwn(rec) };
  }

  /** Takes an out-of-dialog REFER's dialog out of the router (subscription over, BYE, stop). */
  private detachOwn(rec: IncomingRefer): void {
    const own = rec.own;
    if (!own?.usage) return;
    this.host.router.detach(own.dialog.id, own.usage);
    own.usage = undefined;
  }

  /** A request in the dialog of an out-of-dialog REFER, past the router's screen (see `ownReferKind`). */
  private inOwnDialog(rec: IncomingRefer, req: SipRequest, tx: ServerTransaction): void {
    const stack = this.host.stack() ?? this.host.runStack;
    const notifier = rec.notifier;
    if (req.method === 'SUBSCRIBE' && notifier) {
      notifier.handleSubscribe(req, tx, REFER_REFRESH_POLICY);
      return;
    }
    const res = stack.createResponse(req, 200, 'OK');
    if (req.method === 'OPTIONS') this.host.capabilities.addHeaders(res.headers, ['Allow', 'Accept', 'Supported']);
    tx.respond(res);
    if (req.method === 'BYE') {
      // the transferor tears the dialog down: the subscription living on it is over, no more NOTIFYs go
      rec.finalQueued = true;
      this.detachOwn(rec);
    }
  }

  /** Where the triggered INVITE goes: through the outbound proxy or proxy when set, else to the URI's host. */
  private async callTarget(uri: string, headers: Array<[string, string]>): Promise<CallTarget | undefined> {
    const outbound = this.host.outboundProxy();
    const proxy = this.host.proxy();
    let destination: UacDestination;
    // The client path sends through the outbound proxy and adds its Route.
    if (outbound) destination = outbound.endpoint;
    else if (proxy) destination = proxy.targets;
    else {
      // RFC 3263: NAPTR/SRV for a name without a port, else its addresses.
      const targets = await this.host.locate(uri).catch(() => []);
      if (!targets.length) return undefined;
      destination = targets;
    }
    return { requestUri: uri, to: `<${uri}>`, destination, headers };
  }

  private async placeTransferCall(rec: IncomingRefer, chosen: PhoneLine): Promise<void> {
    const headers: Array<[string, string]> = [];
    if (rec.target.replaces) headers.push(['Replaces', formatReplaces(rec.target.replaces)]);
    if (rec.referredBy) headers.push(['Referred-By', rec.referredBy]);
    const target = await this.callTarget(rec.target.uri, headers);
    if (!target) {
      this.queueNotify(rec, 404, 'Not Found', true);
      return;
    }
    const line = chosen.availableForOutgoing ? chosen : this.freeLineFor(rec);
    if (!line || !this.host.stack()) {
      this.queueNotify(rec, 503, 'Service Unavailable', true);
      return;
    }
    const call = await this.host.placeCall(line, target);
    if (typeof call === 'number') {
      this.queueNotify(rec, 503, 'Service Unavailable', true);
      return;
    }
    call.progress = (status, reason) => {
      // 100 was reported at once; the first 18x tells the transferor the target rings.
      if (status > 100 && !rec.provisionalSent) {
        rec.provisionalSent = true;
        this.queueNotify(rec, status, reason, false);
      }
    };
    const rc = await call.whenSettled();
    call.progress = undefined;
    if (rc === T.SipSuccess) {
      rec.succeeded = true;
      this.queueNotify(rec, 200, 'OK', true);
    } else {
      const e = call.errorInfo;
      this.queueNotify(rec, e?.responseCode ?? 487, e?.responseReasonPhrase || 'Request Terminated', true);
    }
  }

  /**
   * Reports the triggered call's progress in a sipfrag NOTIFY; the final one terminates the
   * subscription. The notifier sends them one at a time, each after the previous one's answer,
   * and sends no more once the transferor answered 481 (RFC 6665 §4.2.2); the transfer goes
   * on all the same.
   */
  private queueNotify(rec: IncomingRefer, status: number, reason: string, final: boolean): void {
    const notifier = rec.notifier;
    if (!notifier || rec.finalQueued) {
      // the dialog was ended by a BYE: nothing more is said, but the transfer's end still closes it
      if (final) this.afterFinalNotify(rec);
      return;
    }
    if (final) rec.finalQueued = true;
    const sent = notifier.notify({ state: final ? 'terminated' : 'active', reason: 'noresource', body: buildSipfrag(status, reason), contentType: SIPFRAG_CONTENT_TYPE });
    if (final) void sent.then(() => this.afterFinalNotify(rec));
  }

  /** The transfer is over: after a success the original call ends (the transferor's seed example). */
  private afterFinalNotify(rec: IncomingRefer): void {
    if (rec.state === 'done') return;
    rec.state = 'done';
    this.incoming.delete(rec.referId);
    if (rec.succeeded && rec.call && !rec.call.isEnded) void rec.call.hangUp();
  }

  // ------------------------------------------------------------------ transfer target

  /** An INVITE with Replaces (RFC 3891 §3): take over the matching confirmed call's line. */
  private replacesInvite(req: SipRequest, tx: ServerTransaction, stack: SipStack, calls: CallManager): void {
    const values = req.headers.getAll('Replaces');
    const r = values.length === 1 ? parseReplaces(values[0]!) : undefined;
    if (!r) {
      tx.respond(stack.createResponse(req, 400, 'Bad Replaces header', { toTag: true }));
      return;
    }
    const old = calls.callForDialog(r.callId, r.toTag, r.fromTag);
    if (!old || old.isEnded || !old.isConnected) {
      tx.respond(stack.createResponse(req, 481, 'Call/Transaction Does Not Exist', { toTag: true }));
      return;
    }
    if (r.earlyOnly) {
      tx.respond(stack.createResponse(req, 486, 'Busy Here', { toTag: true }));
      return;
    }
    const line = old.line;
    // The replaced call ends only for an INVITE that can be answered: check its offer first.
    const refusal = inviteOfferRefusal(req, calls.formatsOf(line), this.host.advertisedAddress().host);
    if (refusal) {
      refuseOffer(stack, req, tx, refusal, this.host.advertisedAddress().host);
      return;
    }
    this.host.notify(line.index, T.SipTransferingCall, { replacedCallId: r.callId, from: req.headers.get('From') ?? '' });
    void this.takeOver(old, line, req, tx, calls);
  }

  private async takeOver(old: Call, line: PhoneLine, req: SipRequest, tx: ServerTransaction, calls: CallManager): Promise<void> {
    await raceTimer(this.host.clock(), REPLACED_BYE_WAIT_MS, old.hangUp(), undefined);
    old.finish(T.SipCallComplete);
    const stack = this.host.stack();
    if (!stack || this.host.calls() !== calls) return;
    if (line.call || line.state !== LineState.OnHook) {
      tx.respond(stack.createResponse(req, 486, 'Busy Here', { toTag: true }));
      return;
    }
    const call = await calls.takeIncomingOnLine(line, req, tx, tx.from);
    // The replacing call inherits the replaced one's consent: it is answered at once (RFC 3891 §3).
    if (!call.isEnded) call.answer();
  }
}
