/**
 * Dialog and transaction correctness against SIPp scenarios (issue 10, item 11), one scenario
 * per fault a third-party UA showed:
 * - a strict-routing Record-Route with `maddr` and a port: ACK and BYE go to that URI's maddr
 *   and port (Request-URI = the route, the remote target last in Route);
 * - a 200 without SDP to an INVITE carrying an offer: ACK, then BYE (never CANCEL);
 * - an unusable SDP answer in a 183: the attempt ends with a clear reason (CANCEL, SipFarEndError);
 * - the ACK of a 488 sent with a new branch is matched: no 488 retransmissions;
 * - a BYE in an early dialog at the caller: 200 and the call ends (INVITE cancelled);
 * - a MESSAGE without a body: 200;
 * - OPTIONS: Supported does not advertise `norefersub`;
 * - stopSipTelephony resolves after a cancelled call that never got a final answer.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { TelephonyReturnValue as T } from '../index.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { runSipp, sippScenario, type SippHandle, startSippUas } from './helpers/peers.js';
import { freePort, freePorts } from './helpers/ports.js';

/** An engine with its own block of RTP ports, answering every call that rings. */
async function engine(t: ExecutionContext, phoneName = 'ivr'): Promise<EngineUnderTest> {
  const rtp = await freePorts(8, { even: true });
  const e = await startEngine(t, { numPhoneLinesRequested: 2, phoneName, minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[rtp.length - 1]! + 1 });
  e.engine.on('SipOkToAnswerCall', (n) => void e.engine.goOffHook(n.phoneLine));
  return e;
}

/** Starts a SIPp UAS with `scenario` on a free port and waits for it to bind. */
async function uas(t: ExecutionContext, scenario: string, extra: string[] = [], traceMessages = false): Promise<{ sipp: SippHandle; port: number }> {
  return startSippUas(t, scenario, { extra, traceMessages });
}

peerTest('strict routing: a Record-Route without lr, with maddr and a port, gets the ACK and the BYE at that port (Request-URI = the route)', ['sipp'], async (t) => {
  const e = await engine(t);
  const dead = await freePort();
  const { sipp, port } = await uas(t, 'uas-strict-route-maddr.xml', ['-key', 'dead_port', String(dead)]);
  t.is(await e.engine.makeCall('far', '127.0.0.1', port, 0, true, 10_000), T.SipSuccess);
  await e.waitFor(T.SipOutgoingCallConnected, (n) => n.phoneLine === 0);
  t.is(await e.engine.terminateCall(0, true, 5000), T.SipSuccess);
  await e.waitFor(T.SipReceivedByeAck, (n) => n.phoneLine === 0);
  const res = await sipp.wait();
  t.is(res.code, 0, res.summary);
});

peerTest('a 200 without SDP to an INVITE with an offer is ACKed and then ended with BYE, not CANCEL', ['sipp'], async (t) => {
  const e = await engine(t);
  const { sipp, port } = await uas(t, 'uas-200-no-sdp.xml');
  const rc = await e.engine.makeCall('far', '127.0.0.1', port, 0, true, 10_000);
  t.not(rc, T.SipSuccess, 'the call does not connect');
  const err = await e.waitFor(T.SipFarEndError, (n) => n.phoneLine === 0);
  t.like(err.data, { statusCode: 488, reasonPhrase: 'No SDP answer' });
  await e.waitFor(T.SipSendBye, (n) => n.phoneLine === 0);
  await e.waitFor(T.SipOnHook, (n) => n.phoneLine === 0);
  t.is(e.of(T.SipOutgoingCallConnected).length, 0);
  const res = await sipp.wait();
  t.is(res.code, 0, res.summary);
});

peerTest('an unusable SDP answer in a 183 ends the attempt (RFC 3261 §13.2.1): SipFarEndError with the reason, CANCEL, line on hook', ['sipp'], async (t) => {
  const e = await engine(t);
  const { sipp, port } = await uas(t, 'uas-183-bad-sdp.xml');
  const rc = await e.engine.makeCall('far', '127.0.0.1', port, 0, true, 10_000);
  t.is(rc, T.SipFarEndError);
  const err = await e.waitFor(T.SipFarEndError, (n) => n.phoneLine === 0);
  t.is(err.data.statusCode, 488);
  t.is(err.data.reasonPhrase, 'Unusable SDP answer in 183: answer does not start with our audio stream');
  t.log(`reason: ${String(err.data.reasonPhrase)}`);
  await e.waitFor(T.SipOnHook, (n) => n.phoneLine === 0);
  const info = e.engine.getOutgoingCallErrorInfo(0);
  t.like(info, { responseCode: 488, responseReasonPhrase: err.data.reasonPhrase });
  t.is(e.of(T.SipCallCanceled).length, 0, 'reported as a failure, not as a hang-up');
  const res = await sipp.wait();
  t.is(res.code, 0, res.summary);
});

peerTest('the ACK of a 488 with a different branch is matched by dialog identifiers: the 488 is not retransmitted', ['sipp'], async (t) => {
  const e = await engine(t);
  const [sipPort] = await freePorts(1);
  const [mediaPort] = await freePorts(2, { even: true });
  // -nr: SIPp sends its INVITE once. Otherwise an engine that a loaded machine keeps from reading
  // for T1 (500 ms) gets the INVITE twice and rightly answers the copy with the 488 again
  // (RFC 3261 §17.2.1): a second 488 that is no retransmission of the engine's own
  const res = await runSipp(
    [`127.0.0.1:${e.port}`, '-sf', sippScenario('uac-ack-new-branch.xml'), '-s', 'ivr', '-p', String(sipPort), '-mp', String(mediaPort), '-m', '1', '-nr', '-timeout', '20s', '-timeout_error'],
    { timeoutMs: 30_000, traceMessages: true },
  );
  t.is(res.code, 0, res.summary);
  const log = await readFile(path.join(res.logDir, 'messages.log'), 'latin1');
  const received488 = log.match(/message received \[\d+\] bytes :\s*SIP\/2\.0 488/g)?.length ?? 0;
  t.is(received488, 1, 'one 488, no retransmission');
  await e.waitFor(T.SipIncomingCallAborted);
});

peerTest('a BYE in an early dialog at the caller gets 200 and ends the call (its INVITE is cancelled)', ['sipp'], async (t) => {
  const e = await engine(t);
  const { sipp, port } = await uas(t, 'uas-early-bye.xml', [], true);
  t.is(await e.engine.makeCall('far', '127.0.0.1', port, 0, false, 0), T.SipSuccess);
  await e.waitFor(T.SipReceived180Ringing, (n) => n.phoneLine === 0);
  await e.waitFor(T.SipByeReceived, (n) => n.phoneLine === 0);
  await e.waitFor(T.SipOnHook, (n) => n.phoneLine === 0);
  const res = await sipp.wait();
  t.is(res.code, 0, res.summary);
  t.is(e.of(T.SipOutgoingCallConnected).length, 0);
});

peerTest('a MESSAGE without a body (no Content-Type) is accepted with 200 and delivered empty', ['sipp'], async (t) => {
  const e = await engine(t, 'bob');
  const res = await runSipp([`127.0.0.1:${e.port}`, '-sf', sippScenario('uac-message-no-body.xml'), '-s', 'bob', '-p', String(await freePort()), '-m', '1', '-timeout', '15s', '-timeout_error']);
  t.is(res.code, 0, res.summary);
  const got = await e.waitFor(T.SipRecvOutOfDialogMessage);
  t.is(got.data.messageData.length, 0);
  t.like(got.data, { mimeType: '', subMimeType: '' });
});

peerTest('OPTIONS: Supported names what is implemented (replaces) and not norefersub (RFC 4488 is not implemented)', ['sipp'], async (t) => {
  const e = await engine(t);
  const res = await runSipp([`127.0.0.1:${e.port}`, '-sf', sippScenario('uac-options-supported.xml'), '-s', 'ivr', '-p', String(await freePort()), '-m', '1', '-timeout', '15s', '-timeout_error']);
  t.is(res.code, 0, res.summary);
});

peerTest('stopSipTelephony resolves after a call was cancelled and never got a final answer', ['sipp'], async (t) => {
  const e = await engine(t);
  const { sipp, port } = await uas(t, 'uas-ring-no-final.xml');
  t.is(await e.engine.makeCall('far', '127.0.0.1', port, 0, false, 0), T.SipSuccess);
  await e.waitFor(T.SipReceived180Ringing, (n) => n.phoneLine === 0);
  // terminateCall waits for the 487 that never comes; the stop must not wait for it forever
  const hangUp = e.engine.terminateCall(0, false, 0);
  t.is(await hangUp, T.SipSuccess);
  const res = await sipp.wait();
  t.is(res.code, 0, res.summary);
  t.is(await e.engine.stopSipTelephony(), T.SipSuccess);
});

peerTest('stopSipTelephony resolves after a call was hung up before any answer (its CANCEL held back, the INVITE never answered)', ['sipp'], async (t) => {
  const e = await engine(t);
  const { sipp, port } = await uas(t, 'uas-silent.xml');
  t.is(await e.engine.makeCall('far', '127.0.0.1', port, 0, false, 0), T.SipSuccess);
  await e.waitFor(T.SipSendInvite, (n) => n.phoneLine === 0);
  t.is(await e.engine.terminateCall(0, true, 5000), T.SipSuccess);
  t.is(await e.engine.terminateCall(0, true, 5000), T.SipNoCallActive, 'a second hang-up finds nothing');
  t.is(await e.engine.stopSipTelephony(), T.SipSuccess);
  const res = await sipp.wait();
  t.is(res.code, 0, res.summary);
});
