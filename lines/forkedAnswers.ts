/**
 * Forked 2xx answers to one outgoing INVITE (RFC 3261 §13.2.2.4). A forking proxy may let
 * several branches answer 200; each 2xx with its own To tag makes its own dialog. The first one
 * is the call (`Call.onAnswered`); every later one must still be acknowledged in ITS dialog (its
 * To tag, its Contact as Request-URI, its Record-Route as route set), since the UAS retransmits
 * its 2xx until it sees that ACK, and is then ended with a BYE because a line carries one call.
 *
 * The INVITE client transaction hands every 2xx after the first to the call
 * (`onAdditional2xx`, RFC 6026 Accepted state), which passes it here with the dialog it has.
 * A retransmission of the call's own 2xx is re-ACKed in the call's dialog; a retransmission of a
 * fork already ended is re-ACKed in that fork's dialog, without a second BYE.
 * @module
 */
import { Dialog } from '../sip/dialog.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import { cseqNumber, tagOf } from '../sip/util.js';

/** What the fork handling needs from its call. */
export interface ForkServices {
  /** Our Contact URI for the dialogs made by the forks' 2xx. */
  contactUri(): string;
  /** Sends an ACK of a 2xx to the next hop of `dialog` (no transaction: RFC 3261 §13.2.2.4). */
  ack(ack: SipRequest, dialog: Dialog): void;
  /** Ends a fork's dialog with BYE. */
  bye(dialog: Dialog): void;
  /** A fork other than the call's answered (once per fork), for notifications and logs. */
  forkEnded?(dialog: Dialog, res: SipResponse): void;
}

/** The later 2xx answers of one INVITE: each ACKed in its own dialog, each new fork ended. */
export class ForkedAnswers {
  /** The dialogs of the forks ended so far, by their remote (To) tag. */
  private readonly forks = new Map<string, Dialog>();

  /** @param services the call's ACK, BYE and Contact */
  constructor(private readonly services: ForkServices) {}

  /** Number of extra forks that answered and were ended (for tests and diagnostics). */
  get endedForks(): number {
    return this.forks.size;
  }

  /**
   * A 2xx to `invite` after the first one. `callDialog` is the call's dialog (the first 2xx's),
   * when it still has one: a 2xx of the same To tag is its retransmission and is re-ACKed there.
   * A response without a To tag counts as the empty tag, as a dialog made from it has.
   */
  onAdditional2xx(invite: SipRequest, res: SipResponse, callDialog: Dialog | undefined): void {
    const tag = tagOf(res.headers.get('To')) ?? '';
    const cseq = cseqNumber(res.headers.get('CSeq'));
    if (callDialog && callDialog.remoteTag === tag) {
      this.services.ack(callDialog.createRequest('ACK', { cseq }), callDialog);
      return;
    }
    const known = this.forks.get(tag);
    const dialog = known ?? Dialog.fromUacResponse(invite, res, this.services.contactUri());
    this.services.ack(dialog.createRequest('ACK', { cseq }), dialog);
    if (known) return;
    this.forks.set(tag, dialog);
    this.services.forkEnded?.(dialog, res);
    this.services.bye(dialog);
  }
}
