/**
 * UPDATE (RFC 3311) for one call, both directions, in early and confirmed dialogs.
 *
 * As UAS: an UPDATE without a body is a refresh (200, target refreshed); one with an SDP offer
 * is answered through the call's own offer/answer path, the one re-INVITEs use (hold, resume,
 * codec or address changes apply the same way). Glare (§5.2): 491 when an offer of ours is
 * unanswered (our INVITE's, re-INVITE's, UPDATE's, or the offer in our 200 to an INVITE without
 * SDP); 500 with a random Retry-After of 0-10 s when the far end's offer is still unanswered
 * (an INVITE we are ringing for, whose answer only our 200 will carry).
 *
 * As UAC: {@link CallUpdates.send} sends an UPDATE with or without an offer through the calls'
 * client path (401/407 answered there) and reports the outcome; session refreshes use it, and
 * hold uses it instead of a re-INVITE when the `holdMethod` start option says `update` and the
 * peer's Allow lists UPDATE.
 *
 * The call keeps the session state; this module keeps only what is UPDATE's own (our offer in
 * flight, the peer's Allow) and reaches the call through {@link UpdateHost}.
 * @module
 */
import type { Dialog, InDialogRequestOptions } from '../sip/dialog.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import { sessionBodyOf, type SessionBody } from '../sip/multipart.js';
import type { ServerTransaction } from '../sip/transaction.js';
import type { UacOutcome } from '../sip/uac.js';
import type { ResponseOptions } from '../sip/util.js';

/** How a hold is signalled to the far end: a re-INVITE (the default) or an UPDATE (RFC 3311). */
export type HoldMethod = 'reinvite' | 'update';

/** What to send in {@link CallUpdates.send}. */
export interface UpdateRequestOptions {
  /** Carry an SDP offer (the current session, or the one `hold` asks for). */
  withSdp: boolean;
  /** With `withSdp`: the hold state to offer (omitted: the current one, an unchanged session version). */
  hold?: boolean;
  /** Extra headers (Session-Expires, Supported of a session refresh). */
  headers?: Array<[string, string]>;
}

/** How an UPDATE we sent ended. */
export type UpdateOutcome =
  | {
      /** A final response arrived (after any 401/407 retries). */
      kind: 'final';
      /** Its status. */
      status: number;
      /** The response. */
      response: SipResponse;
      /** With an offer and a 2xx: whether its SDP answer was usable and is now applied. */
      applied?: boolean;
    }
  | {
      /** No final response (timer F) or the request could not be sent. */
      kind: 'timeout' | 'failed';
    }
  | {
      /** Not sent: no dialog yet or any more, or another offer of ours is still unanswered. */
      kind: 'not-sent';
      /** Why. */
      reason: 'no-dialog' | 'offer-pending';
    };

/** An offer of ours, built by the call for an UPDATE. */
export interface LocalOffer {
  /** The SDP text. */
  sdp: string;
  /** Takes the 2xx's SDP answer: applies it (media, hold state, line state); false when unusable. */
  take(answer: string): boolean;
}

/** What UPDATE needs from its call (lines/call.ts builds it). */
export interface UpdateHost {
  /** Builds a response to `req` (the stack's `createResponse`). */
  createResponse(req: SipRequest, status: number, reason?: string, options?: ResponseOptions): SipResponse;
  /** The dialog requests go in: the confirmed one, else the early one; undefined when none (or ended). */
  dialog(): Dialog | undefined;
  /** Our Contact URI (a 2xx to UPDATE carries Contact, §5.2). */
  contactUri(): string;
  /** True while an offer we sent (INVITE, re-INVITE, or our 200 to an INVITE without SDP) waits for its answer. */
  localOfferPending(): boolean;
  /** True while an offer we received waits for our answer. */
  remoteOfferPending(): boolean;
  /**
   * Answers `sdp`, the offer of `req`, through the re-INVITE's path: `respond` gets the 200 with
   * our answer (applied just after) or the refusal (488 with a Warning).
   */
  answerOffer(req: SipRequest, sdp: string, respond: (res: SipResponse) => void): void;
  /** Waits out a glare (491) before our offer goes again (RFC 3261 §14.1's random delay). */
  glareWait(): Promise<void>;
  /** Refuses a body without a usable offer (415 with Accept, or 400 for a broken multipart body). */
  refuseBody(req: SipRequest, tx: ServerTransaction, body: Extract<SessionBody, { kind: 'unsupported' | 'malformed' }>): void;
  /** Builds an offer of the current session, or of the hold state `hold`. */
  offer(hold: boolean | undefined): LocalOffer;
  /** Sends `method` in `dialog` through the calls' client path. */
  send(method: string, options: InDialogRequestOptions, dialog: Dialog, done: (o: UacOutcome) => void): void;
  /** The random source of Retry-After (tests pin it; default Math.random). */
  readonly random?: () => number;
}

/** Seconds of the Retry-After of a 500 for an UPDATE crossing an unanswered offer: 0-10 (§5.2). */
export function updateRetryAfterSeconds(random: () => number = Math.random): number {
  return Math.min(10, Math.floor(random() * 11));
}

/** True when an Allow value lists `method` (case-insensitive, as method names are compared there). */
export function allowLists(allow: readonly string[], method: string): boolean {
  const m = method.toUpperCase();
  return allow.some((v) => v.split(',').some((x) => x.trim().toUpperCase() === m));
}

/** UPDATE in one call's dialog: what it received and what it sends. */
export class CallUpdates {
  /** Our UPDATE carrying an offer is out (an incoming offer meets glare, 491). */
  private offerOut = false;
  /** The peer's Allow values, from its INVITE, 18x or 2xx (the last that had one). */
  private peerAllow: string[] = [];
  /**
   * Observer of the UPDATEs received in the dialog, before their 200, 491 or 500 leaves (not a
   * 415/400 for an unusable body, nor a 481): the session timers add their headers there.
   */
  onReceived?: (req: SipRequest, res: SipResponse) => void;

  /** @param host the call's side of UPDATE */
  constructor(private readonly host: UpdateHost) {}

  /** True while our UPDATE with an offer waits for its answer. */
  get offerPending(): boolean {
    return this.offerOut;
  }

  /** Remembers the peer's Allow from a message of its (INVITE, 18x, 2xx, re-INVITE, UPDATE) that has one. */
  noteAllow(msg: SipRequest | SipResponse): void {
    const allow = msg.headers.getAll('Allow');
    if (allow.length) this.peerAllow = allow;
  }

  /** True when the peer said it takes UPDATE (its Allow lists it). */
  get peerAllowsUpdate(): boolean {
    return allowLists(this.peerAllow, 'UPDATE');
  }

  /** An UPDATE received in the call's dialog (early or confirmed), past the router's screen. */
  onRequest(req: SipRequest, tx: ServerTransaction): void {
    const host = this.host;
    const dialog = host.dialog();
    if (!dialog) {
      tx.respond(host.createResponse(req, 481, 'Call/Transaction Does Not Exist'));
      return;
    }
    const body = sessionBodyOf(req.headers.get('Content-Type'), req.body);
    if (body.kind === 'unsupported' || body.kind === 'malformed') {
      host.refuseBody(req, tx, body);
      return;
    }
    if (body.kind === 'sdp') {
      // RFC 3311 §5.2: one offer at a time in each direction.
      if (this.offerOut || host.localOfferPending()) {
        tx.respond(this.finish(req, host.createResponse(req, 491, 'Request Pending')));
        return;
      }
      if (host.remoteOfferPending()) {
        const res = host.createResponse(req, 500, 'Server Internal Error');
        res.headers.append('Retry-After', String(updateRetryAfterSeconds(host.random)));
        tx.respond(this.finish(req, res));
        return;
      }
    }
    // UPDATE is a target refresh request (§5.2): its Contact becomes the remote target.
    dialog.refreshTarget(req);
    this.noteAllow(req);
    if (body.kind === 'sdp') {
      host.answerOffer(req, body.sdp, (res) => tx.respond(this.finish(req, res)));
      return;
    }
    const res = host.createResponse(req, 200, 'OK');
    res.headers.append('Contact', `<${host.contactUri()}>`);
    tx.respond(this.finish(req, res));
  }

  /** Lets the observer see (and add to) the response to an UPDATE before it leaves. */
  private finish(req: SipRequest, res: SipResponse): SipResponse {
    this.onReceived?.(req, res);
    return res;
  }

  /**
   * Sends an UPDATE in the call's dialog (confirmed, or early once a provisional made one), with
   * or without an SDP offer. Resolves with the outcome; never rejects.
   */
  send(options: UpdateRequestOptions): Promise<UpdateOutcome> {
    const host = this.host;
    const dialog = host.dialog();
    if (!dialog) return Promise.resolve({ kind: 'not-sent', reason: 'no-dialog' });
    if (options.withSdp && (this.offerOut || host.localOfferPending() || host.remoteOfferPending())) {
      return Promise.resolve({ kind: 'not-sent', reason: 'offer-pending' });
    }
    const offer = options.withSdp ? host.offer(options.hold) : undefined;
    const request: InDialogRequestOptions = { headers: options.headers };
    if (offer) {
      request.body = offer.sdp;
      request.contentType = 'application/sdp';
      this.offerOut = true;
    }
    return new Promise((resolve) => {
      host.send('UPDATE', request, dialog, (o) => {
        if (offer) this.offerOut = false;
        if (o.kind !== 'final') {
          resolve({ kind: o.kind === 'timeout' ? 'timeout' : 'failed' });
          return;
        }
        const res = o.res;
        if (res.status < 200 || res.status >= 300) {
          resolve({ kind: 'final', status: res.status, response: res });
          return;
        }
        dialog.refreshTarget(res);
        this.noteAllow(res);
        const answer = offer && sessionBodyOf(res.headers.get('Content-Type'), res.body);
        const applied = offer ? answer?.kind === 'sdp' && offer.take(answer.sdp) : undefined;
        resolve({ kind: 'final', status: res.status, response: res, applied });
      });
    });
  }

  /**
   * Holds or resumes the far end by UPDATE with an offer (sendonly, or sendrecv again); a 491
   * is waited out and tried again, twice at most. `ended` when the dialog is gone (481, 408 or
   * no answer: the call should end), `failed` for any other refusal or an unusable answer.
   */
  async hold(on: boolean): Promise<'done' | 'failed' | 'ended'> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const o = await this.send({ withSdp: true, hold: on });
      if (o.kind === 'final' && o.status === 491) {
        await this.host.glareWait();
        continue;
      }
      if (o.kind === 'final') {
        if (o.status >= 200 && o.status < 300) return o.applied ? 'done' : 'failed';
        return o.status === 481 || o.status === 408 ? 'ended' : 'failed';
      }
      return o.kind === 'timeout' ? 'ended' : 'failed';
    }
    return 'failed';
  }
}
