/**
 * DTMF received as SIP INFO (application/dtmf-relay, application/dtmf): the INFO handler of the
 * INVITE session, registered with `CallManager.setInfoHandler`. Kept out of the facade
 * and out of `Call`: it only reads a body and reports a digit, whatever state the call is in.
 * @module
 */
import { parseDtmfInfoBody } from '../media/dtmf.js';
import type { SipStack } from '../sip/stack.js';
import type { InfoHandler } from './callManager.js';

/** Where an INFO DTMF digit goes: the line's SipDtmfDigitEvent. */
export type InfoDigitSink = (line: number, digit: string) => void;

/**
 * Makes the INFO handler: 415 for a body that is not DTMF, 400 for an unreadable one, else 200
 * and the digit to `onDigit`.
 * @param stack the running stack (answers are built with its createResponse)
 * @param onDigit receives each digit with the call's line
 */
export function infoDtmfHandler(stack: () => SipStack | undefined, onDigit: InfoDigitSink): InfoHandler {
  return (call, req, tx) => {
    const s = stack();
    if (!s) return;
    const type = (req.headers.get('Content-Type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/dtmf-relay' && type !== 'application/dtmf') {
      tx.respond(s.createResponse(req, 415, 'Unsupported Media Type'));
      return;
    }
    const info = parseDtmfInfoBody(type, req.body.toString('latin1'));
    if (!info) {
      tx.respond(s.createResponse(req, 400, 'Bad DTMF body'));
      return;
    }
    tx.respond(s.createResponse(req, 200, 'OK'));
    onDigit(call.line.index, info.digit);
  };
}
