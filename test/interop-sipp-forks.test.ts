/**
 * Dialog correctness against SIPp scenarios, the rest of issue 10 item 11:
 * - forked 2xx answers: each fork's 2xx is ACKed in its own dialog (To tag, Contact as
 *   Request-URI, route set), the first is the call, a later one gets ACK then BYE (RFC 3261
 *   §13.2.2.4);
 * - a 200 without a To tag: the peer's later in-dialog requests (with or without a From tag)
 *   still reach the call instead of 481;
 * - reofferSingleCodec: an answer listing two codecs is followed by a re-INVITE offering one.
 */
import type { ExecutionContext } from 'ava';
import { LineState, TelephonyReturnValue as T, type StartSipTelephonyParams } from '../index.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { type SippHandle, startSippUas } from './helpers/peers.js';
import { freePorts } from './helpers/ports.js';

/** An engine with its own block of RTP ports and SIP message hooks on (to see what it receives). */
async function engine(t: ExecutionContext, params: StartSipTelephonyParams = {}): Promise<EngineUnderTest> {
  const rtp = await freePorts(8, { even: true });
  const e = await startEngine(t, { numPhoneLinesRequested: 2, phoneName: 'ivr', minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[rtp.length - 1]! + 1, ...params });
  t.is(e.engine.enableSipMessageHook(true), T.SipSuccess);
  return e;
}

/** Starts a SIPp UAS with `scenario` on a free port and waits for it to bind. */
async function uas(t: ExecutionContext, scenario: string): Promise<{ sipp: SippHandle; port: number }> {
  return startSippUas(t, scenario, { traceMessages: false });
}

/** Resolves when the engine received a message whose text matches `re`. */
function received(e: EngineUnderTest, re: RegExp): Promise<unknown> {
  return e.waitFor(T.SipModifySipMessage, (n) => {
    return n.data.direction === 'received' && re.test(n.data.message);
  });
}

peerTest('forked 2xx: the second fork is ACKed in its own dialog and ended with BYE; the first stays the call (RFC 3261 §13.2.2.4)', ['sipp'], async (t) => {
  const e = await engine(t);
  const { sipp, port } = await uas(t, 'uas-forked-2xx.xml');
  t.is(await e.engine.makeCall('far', '127.0.0.1', port, 0, true, 10_000), T.SipSuccess);
  await e.waitFor(T.SipOutgoingCallConnected, (n) => n.phoneLine === 0);
  // SIPp's 200 to the BYE of the second fork: that fork is over, the call goes on.
  await received(e, /^SIP\/2\.0 200 OK\r\n[\s\S]*tag=\d+fork2[\s\S]*CSeq: \d+ BYE/);
  t.is(e.of(T.SipOutgoingCallConnected).length, 1, 'one call');
  t.is(e.of(T.SipOnHook).length, 0, 'the line still carries the first fork');
  t.is(e.engine.getLineStatus(0).state, LineState.InCall);
  t.is(await e.engine.terminateCall(0, true, 5000), T.SipSuccess);
  await e.waitFor(T.SipReceivedByeAck, (n) => n.phoneLine === 0);
  const res = await sipp.wait();
  t.is(res.code, 0, res.summary);
});

peerTest('a 200 without a To tag: the peer\'s re-INVITE (no From tag) and BYE (a From tag after all) reach the call, not 481', ['sipp'], async (t) => {
  const e = await engine(t);
  const { sipp, port } = await uas(t, 'uas-200-no-to-tag.xml');
  t.is(await e.engine.makeCall('far', '127.0.0.1', port, 0, true, 10_000), T.SipSuccess);
  await e.waitFor(T.SipOutgoingCallConnected, (n) => n.phoneLine === 0);
  await e.waitFor(T.SipFarEndHoldOn, (n) => n.phoneLine === 0);
  await e.waitFor(T.SipOnHook, (n) => n.phoneLine === 0);
  const res = await sipp.wait();
  t.is(res.code, 0, res.summary);
});

peerTest('reofferSingleCodec: an answer with PCMU and PCMA is followed by one re-INVITE offering PCMU alone (and telephone-event)', ['sipp'], async (t) => {
  const e = await engine(t, { reofferSingleCodec: true });
  const { sipp, port } = await uas(t, 'uas-answer-two-codecs.xml');
  t.is(await e.engine.makeCall('far', '127.0.0.1', port, 0, true, 10_000), T.SipSuccess);
  const sent = await e.waitFor(T.SipModifySipMessage, (n) => n.data.direction === 'sent' && /^INVITE [\s\S]*\r\nCSeq: 2 INVITE\r\n/.test(n.data.message));
  const sdp = sent.data.message.slice(sent.data.message.indexOf('\r\n\r\n') + 4);
  const payloads = /^m=audio \d+ RTP\/AVP ([\d ]+)\r$/m.exec(sdp)?.[1]?.split(' ') ?? [];
  t.is(payloads[0], '0', 'PCMU, the codec in use');
  const others = payloads.slice(1).map((pt) => new RegExp(`^a=rtpmap:${pt} ([^/]+)`, 'm').exec(sdp)?.[1]);
  t.deepEqual(others.filter((name) => name !== 'telephone-event'), [], 'no other codec');
  // The re-INVITE's answer is in: ACK sent, then hang up.
  await e.waitFor(T.SipModifySipMessage, (n) => n.data.direction === 'sent' && /^ACK [\s\S]*\r\nCSeq: 2 ACK\r\n/.test(n.data.message));
  t.is(e.of(T.SipCallHoldOn).length + e.of(T.SipCallHoldOff).length, 0, 'no hold events for the re-offer');
  t.is(await e.engine.terminateCall(0, true, 5000), T.SipSuccess);
  const res = await sipp.wait();
  t.is(res.code, 0, res.summary);
});
