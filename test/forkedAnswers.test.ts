/**
 * lines/forkedAnswers.ts with fake ACK/BYE senders: the call's own 2xx again is re-ACKed in the
 * call's dialog; each other fork's 2xx is ACKed in its own dialog (To tag, Contact, route set)
 * and ended with one BYE, its retransmissions ACKed again without a second BYE.
 */
import test from 'ava';
import { Dialog } from '../sip/dialog.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import { parseMessage } from '../sip/parser.js';
import { ForkedAnswers } from '../lines/forkedAnswers.js';

const INVITE = parseMessage(
  Buffer.from(
    'INVITE sip:far@127.0.0.1:5099 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKinv\r\nMax-Forwards: 70\r\n' +
      'From: <sip:ivr@127.0.0.1:5060>;tag=ours\r\nTo: <sip:far@127.0.0.1:5099>\r\nCall-ID: fork-1\r\nCSeq: 7 INVITE\r\n' +
      'Contact: <sip:ivr@127.0.0.1:5060>\r\nContent-Length: 0\r\n\r\n',
    'latin1',
  ),
) as SipRequest;

function ok(tag: string | undefined, contact: string, recordRoute?: string): SipResponse {
  return parseMessage(
    Buffer.from(
      'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKinv\r\n' +
        `From: <sip:ivr@127.0.0.1:5060>;tag=ours\r\nTo: <sip:far@127.0.0.1:5099>${tag ? `;tag=${tag}` : ''}\r\nCall-ID: fork-1\r\nCSeq: 7 INVITE\r\n` +
        (recordRoute ? `Record-Route: ${recordRoute}\r\n` : '') +
        `Contact: <${contact}>\r\nContent-Length: 0\r\n\r\n`,
      'latin1',
    ),
  ) as SipResponse;
}

function forks(): { f: ForkedAnswers; acks: Array<{ ack: SipRequest; dialog: Dialog }>; byes: Dialog[] } {
  const acks: Array<{ ack: SipRequest; dialog: Dialog }> = [];
  const byes: Dialog[] = [];
  const f = new ForkedAnswers({ contactUri: () => 'sip:ivr@127.0.0.1:5060', ack: (ack, dialog) => acks.push({ ack, dialog }), bye: (d) => byes.push(d) });
  return { f, acks, byes };
}

test("the call's own 2xx again: ACKed in the call's dialog, no BYE", (t) => {
  const { f, acks, byes } = forks();
  const first = ok('one', 'sip:fork1@127.0.0.1:5099');
  const call = Dialog.fromUacResponse(INVITE, first, 'sip:ivr@127.0.0.1:5060');
  f.onAdditional2xx(INVITE, first, call);
  t.is(acks.length, 1);
  t.is(acks[0]!.dialog, call);
  t.is(acks[0]!.ack.headers.get('CSeq'), '7 ACK');
  t.is(byes.length, 0);
  t.is(f.endedForks, 0);
});

test("another fork: ACK in its own dialog (To tag, Contact, route set), one BYE; its retransmission ACKed again only", (t) => {
  const { f, acks, byes } = forks();
  const call = Dialog.fromUacResponse(INVITE, ok('one', 'sip:fork1@127.0.0.1:5099'), 'sip:ivr@127.0.0.1:5060');
  const second = ok('two', 'sip:fork2@127.0.0.1:5099', '<sip:127.0.0.1:5098;lr>');
  f.onAdditional2xx(INVITE, second, call);
  t.is(acks.length, 1);
  const { ack, dialog } = acks[0]!;
  t.not(dialog, call);
  t.is(ack.uri, 'sip:fork2@127.0.0.1:5099');
  t.regex(ack.headers.get('To') ?? '', /;tag=two$/);
  t.is(ack.headers.get('Route'), '<sip:127.0.0.1:5098;lr>');
  t.is(ack.headers.get('CSeq'), '7 ACK');
  t.deepEqual(byes, [dialog]);
  f.onAdditional2xx(INVITE, second, call);
  t.is(acks.length, 2);
  t.is(acks[1]!.dialog, dialog);
  t.is(byes.length, 1, 'one BYE per fork');
  t.is(f.endedForks, 1);
});

test('a 2xx without a To tag is the empty tag: the call made from one is re-ACKed, not ended', (t) => {
  const { f, byes, acks } = forks();
  const untagged = ok(undefined, 'sip:far@127.0.0.1:5099');
  const call = Dialog.fromUacResponse(INVITE, untagged, 'sip:ivr@127.0.0.1:5060');
  f.onAdditional2xx(INVITE, untagged, call);
  t.is(acks[0]!.dialog, call);
  t.is(byes.length, 0);
});
