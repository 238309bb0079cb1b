/**
 * Whether an INVITE's offer can be answered, checked before anything is changed for it: at a
 * transfer target an INVITE with Replaces ends the replaced call only once its SDP is known to
 * be negotiable (RFC 3891 §3 leaves the replaced dialog alone when the INVITE fails). The same
 * rules as a ringing call's (`Call.incoming`): a body without an SDP offer is 415 with Accept,
 * an unreadable multipart body 400, an SDP that cannot be agreed 400 or 488 with a Warning; no
 * body at all is a late offer, answered later.
 * @module
 */
import { formatWarning } from '../sip/headers.js';
import type { SipRequest } from '../sip/message.js';
import { SESSION_BODY_TYPES, sessionBodyOf } from '../sip/multipart.js';
import { negotiateOffer, type AudioFormatSpec } from '../sip/sdp.js';
import type { SipStack } from '../sip/stack.js';
import type { ServerTransaction } from '../sip/transaction.js';

/** Why an offer cannot be answered: the final response that says so. */
export interface OfferRefusal {
  /** 400, 415 or 488. */
  status: number;
  /** Its reason phrase. */
  reason: string;
  /** The Warning (RFC 3261 §20.43) code and text: what was wrong. */
  warning: { code: number; text: string };
  /** True when the response lists the body types we accept (a 415). */
  accept: boolean;
}

/**
 * Negotiates the INVITE's offer against `formats` without opening media, and says why it
 * cannot be answered; undefined when it can (or when the INVITE has no body: a late offer).
 *
 * @param req - the INVITE
 * @param formats - the formats of the line that would answer it
 * @param address - our media address (written in the throw-away answer)
 * @returns the refusal, or undefined
 */
export function inviteOfferRefusal(req: SipRequest, formats: AudioFormatSpec[], address: string): OfferRefusal | undefined {
  const offer = sessionBodyOf(req.headers.get('Content-Type'), req.body);
  if (offer.kind === 'malformed') return { status: 400, reason: 'Bad Request', warning: { code: 399, text: offer.detail }, accept: false };
  if (offer.kind === 'unsupported') return { status: 415, reason: 'Unsupported Media Type', warning: { code: 399, text: offer.detail }, accept: true };
  if (offer.kind !== 'sdp') return undefined;
  const r = negotiateOffer(offer.sdp, { address, port: 9, formats, telephoneEvent: true, direction: 'sendrecv', sessionId: '0', sessionVersion: 0 });
  return r.ok ? undefined : { status: r.status, reason: r.reason, warning: { code: r.warning, text: r.detail }, accept: false };
}

/**
 * Sends the refusal as the INVITE's final response, with a To tag, the Warning (our host as
 * the agent) and, for a 415, Accept.
 *
 * @param stack - the running stack
 * @param req - the INVITE
 * @param tx - its server transaction
 * @param refusal - what {@link inviteOfferRefusal} found
 * @param agent - our host, the Warning's agent
 */
export function refuseOffer(stack: SipStack, req: SipRequest, tx: ServerTransaction, refusal: OfferRefusal, agent: string): void {
  const res = stack.createResponse(req, refusal.status, refusal.reason, { toTag: true });
  res.headers.append('Warning', formatWarning(refusal.warning.code, agent, refusal.warning.text));
  if (refusal.accept) res.headers.append('Accept', SESSION_BODY_TYPES.join(', '));
  tx.respond(res);
}
