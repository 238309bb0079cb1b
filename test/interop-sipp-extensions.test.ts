/**
 * Extensions and bodies against SIPp UACs (UDP, 127.0.0.1), issue 10 item 6:
 * - multipart INVITEs (RFC 5621): multipart/mixed with SDP + text/plain and multipart/alternative
 *   with clutter (nested mixed, binary-ish parts, preamble, epilogue) connect in PCMU from the
 *   SDP part; a re-INVITE whose multipart body has no SDP gets 415 with Accept and the call stays up;
 *   an INVITE without an SDP part gets 415 with Accept;
 * - `Require: foo` gets 420 Bad Extension with `Unsupported: foo` (RFC 3261 §8.2.2.3);
 * - SDP refusals carry a Warning (RFC 3261 §20.43): 400 + 399 for a malformed SDP, 488 + 304
 *   for video only, 488 + 305 for SRTP only;
 * - an INVITE whose Contact mixes tel:, mailto: and sip: URIs connects, and the engine's BYE
 *   reaches the SIP one.
 * Each scenario asserts its response's headers itself (ereg with check_it), so a SIPp exit code
 * of 0 means the header was there.
 */
import type { ExecutionContext } from 'ava';
import { TelephonyReturnValue as T } from '../index.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { runSippUac } from './helpers/peers.js';
import { freePorts } from './helpers/ports.js';

const PHONE_NAME = 'ivr';

/** An engine with its own RTP ports that answers every call that rings. */
async function answeringEngine(t: ExecutionContext): Promise<EngineUnderTest> {
  const rtp = await freePorts(16, { even: true });
  const e = await startEngine(t, { numPhoneLinesRequested: 2, phoneName: PHONE_NAME, minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[rtp.length - 1]! + 1 });
  e.engine.on('SipOkToAnswerCall', (n) => {
    const rc = e.engine.goOffHook(n.phoneLine);
    if (rc !== T.SipSuccess) t.log(`goOffHook(${n.phoneLine}): ${T[rc]}`);
  });
  return e;
}

/** Runs one SIPp UAC scenario against the engine; resolves with its exit code and summary. */
async function uac(e: EngineUnderTest, scenario: string, extra: string[] = []): Promise<{ code: number | null; summary: string; mediaPort: number }> {
  return runSippUac(e.port, scenario, PHONE_NAME, { extra });
}

peerTest('multipart INVITEs (SDP + text, SDP + clutter) connect from the SDP part; a re-INVITE without SDP part gets 415 with Accept; an INVITE without one gets 415', ['sipp'], async (t) => {
  const e = await answeringEngine(t);
  for (const [i, scenario] of ['uac-call-multipart-text.xml', 'uac-call-multipart-clutter.xml'].entries()) {
    const r = await uac(e, scenario, ['-d', '800']);
    t.is(r.code, 0, `${scenario}: ${r.summary}`);
    const connected = await e.waitForCount(T.SipIncomingCallConnected, i + 1);
    t.is(connected.length, i + 1);
    await e.waitForCount(T.SipByeReceived, i + 1);
  }
  t.is(e.of(T.SipFarEndHoldOn).length, 0, 'the refused re-INVITE changed nothing');
  const refused = await uac(e, 'uac-call-multipart-nosdp.xml');
  t.is(refused.code, 0, refused.summary);
  const abort = await e.waitFor(T.SipIncomingCallAborted);
  t.is(Number(abort.data.statusCode), 415);
  t.is(e.of(T.SipIncomingCallConnected).length, 2);
});

peerTest('Require: foo gets 420 Bad Extension with Unsupported: foo before any line rings', ['sipp'], async (t) => {
  const e = await answeringEngine(t);
  const r = await uac(e, 'uac-call-require-foo.xml');
  t.is(r.code, 0, r.summary);
  t.is(e.of(T.SipIncomingCallStart).length, 0, 'no line saw the call');
  t.is(e.of(T.SipOkToAnswerCall).length, 0);
});

peerTest('SDP refusals carry a Warning: 400 + 399 malformed, 488 + 304 video only, 488 + 305 SRTP only', ['sipp'], async (t) => {
  const e = await answeringEngine(t);
  const expected: Array<[string, number]> = [
    ['uac-call-sdp-malformed-warning.xml', 400],
    ['uac-call-sdp-video-only.xml', 488],
    ['uac-call-sdp-srtp-only.xml', 488],
  ];
  for (const [i, [scenario, status]] of expected.entries()) {
    const r = await uac(e, scenario);
    t.is(r.code, 0, `${scenario}: ${r.summary}`);
    const aborts = await e.waitForCount(T.SipIncomingCallAborted, i + 1);
    t.is(Number(aborts[i]!.data.statusCode), status, scenario);
  }
  t.is(e.of(T.SipIncomingCallConnected).length, 0);
});

peerTest('an INVITE whose Contact lists tel:, mailto: and sip: URIs connects; the BYE of the engine goes to the SIP one', ['sipp'], async (t) => {
  const e = await answeringEngine(t);
  const run = uac(e, 'uac-call-tel-contact.xml');
  const connected = await e.waitFor(T.SipIncomingCallConnected);
  t.is(await e.engine.terminateCall(connected.phoneLine, true, 5000), T.SipSuccess);
  const r = await run;
  t.is(r.code, 0, r.summary);
  await e.waitFor(T.SipCallComplete, (n) => n.phoneLine === connected.phoneLine);
});
