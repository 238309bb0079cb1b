/**
 * Early media at the caller: which SDP answer the media of an outgoing call runs on before and
 * at the answer. Kept apart from lines/call.ts, which asks it at each 18x and at the 2xx and
 * does what it says (start, re-target or keep the session, or fail the attempt).
 *
 * The rules (RFC 3261 §13.2.1, RFC 3264, RFC 3960's gateway model as PJSIP applies it):
 * - The first SDP answer in a dialog is *the* answer. An 18x carrying one starts media at once,
 *   so ringback tones and announcements from the far end are heard (and reach IVR channels, raw
 *   RTP and recording) before the call is answered. A later 18x or the 2xx of the same dialog
 *   repeating it changes nothing.
 * - A 2xx without SDP after an early answer in its dialog connects on that answer.
 * - A 2xx whose SDP differs from its dialog's early answer re-targets the session (a re-answer,
 *   as PJSIP and most gateways tolerate); one that is unusable leaves the early answer in force.
 * - Forking: each early dialog has its own answer; the media follows the latest early dialog
 *   that sent one, and the 2xx's dialog decides in the end (its own early answer, or its SDP).
 *
 * Pure bookkeeping over the SDP negotiator (sip/sdp.ts): no timers, no I/O.
 * @module
 */
import { isSameRemoteVersion, negotiateAnswer, type LocalMedia, type NegotiatedMedia } from '../sip/sdp.js';
import type { SipResponse } from '../sip/message.js';
import { sessionBodyOf } from '../sip/multipart.js';
import { tagOf } from '../sip/util.js';

/** What an 18x did to the early media. */
export type EarlyAnswerOutcome =
  /** No SDP, or an answer already known (a repeat in its dialog, or the dialog the media runs on). */
  | { kind: 'none' }
  /** The first usable early answer: configure and start the session on it. */
  | { kind: 'start'; media: NegotiatedMedia }
  /** Another early dialog (a fork) answered, or answered again: the running session moves to it. */
  | { kind: 'retarget'; media: NegotiatedMedia }
  /** The SDP cannot be used (no common codec, wrong media): `status` and `detail` say why. */
  | { kind: 'unusable'; status: number; detail: string };

/** What the 2xx decides about the session. */
export type FinalAnswerOutcome =
  /** The session already runs on this dialog's answer: keep it. */
  | { kind: 'keep' }
  /** Apply this answer (the 2xx's own, or its dialog's early one); the session starts if it did not run. */
  | { kind: 'apply'; media: NegotiatedMedia }
  /** No usable answer for this dialog: the call cannot connect. */
  | { kind: 'fail'; status: number; reason: string };

/**
 * The SDP of a response, if any: an `application/sdp` body or the SDP part of a multipart one.
 * `raw` also returns any other non-empty body as text, so the negotiator names what is wrong
 * with it (a 2xx must carry an answer when no early one exists).
 */
function answerSdpOf(res: SipResponse, raw: boolean): string | undefined {
  const body = sessionBodyOf(res.headers.get('Content-Type'), res.body);
  if (body.kind === 'sdp') return body.sdp;
  return raw && res.body.length ? res.body.toString('latin1') : undefined;
}

/** The early SDP answers an outgoing INVITE received, one per early dialog (To tag). */
export class EarlyAnswers {
  /** The usable early answers by To tag (made by the first; most calls have none). */
  private byTag?: Map<string, NegotiatedMedia>;
  /** The early dialog whose answer the session runs on now. */
  private current?: string;

  /** True once an early answer started media. */
  get active(): boolean {
    return this.current !== undefined;
  }

  /**
   * A provisional answer to our INVITE.
   * @param res the 18x
   * @param offer our offer
   */
  onProvisional(res: SipResponse, offer: LocalMedia): EarlyAnswerOutcome {
    const sdp = answerSdpOf(res, false);
    if (sdp === undefined) return { kind: 'none' };
    const tag = tagOf(res.headers.get('To')) ?? '';
    const known = this.byTag?.get(tag);
    if (known !== undefined) {
      if (this.current === tag) return { kind: 'none' };
      this.current = tag;
      return { kind: 'retarget', media: known };
    }
    const r = negotiateAnswer(sdp, offer);
    if (!r.ok) return { kind: 'unusable', status: r.status, detail: r.detail };
    (this.byTag ??= new Map()).set(tag, r.media);
    const first = this.current === undefined;
    this.current = tag;
    return first ? { kind: 'start', media: r.media } : { kind: 'retarget', media: r.media };
  }

  /**
   * The 2xx to our INVITE.
   * @param res the 2xx
   * @param offer our offer
   */
  onFinal(res: SipResponse, offer: LocalMedia): FinalAnswerOutcome {
    const tag = tagOf(res.headers.get('To')) ?? '';
    const early = this.byTag?.get(tag);
    const fromEarly = (media: NegotiatedMedia): FinalAnswerOutcome => (this.current === tag ? { kind: 'keep' } : { kind: 'apply', media });
    const sdp = answerSdpOf(res, true);
    if (sdp === undefined) return early ? fromEarly(early) : { kind: 'fail', status: 488, reason: 'No SDP answer' };
    if (early && isSameRemoteVersion(early, sdp)) return fromEarly(early);
    const r = negotiateAnswer(sdp, offer);
    if (r.ok) return { kind: 'apply', media: r.media };
    // The early answer stays the answer of its dialog (§13.2.1): a broken repeat does not undo it.
    return early ? fromEarly(early) : { kind: 'fail', status: r.status, reason: r.reason };
  }
}

/** The data of the SipEarlyMedia notification (engine/notifications.ts `EarlyMediaData`). */
export function earlyMediaData(res: SipResponse, media: NegotiatedMedia): { statusCode: number; reasonPhrase: string; remoteAddress: string; remotePort: number; codec: string } {
  return { statusCode: res.status, reasonPhrase: res.reason, remoteAddress: media.remoteAddress, remotePort: media.remotePort, codec: media.codec.name };
}
