/**
 * Reliable provisional responses (RFC 3262, issue 10 item 2) against SIPp and between engines:
 * - SIPp UAS, reliable 183 with SDP: the engine PRACKs it (RAck), PRACKs its retransmission again
 *   but reports the 183 once, ignores an out-of-order RSeq, and connects on a 200 without SDP
 *   (the answer came in the reliable 183);
 * - SIPp UAS, reliable 180 without SDP: PRACK without body, the 200's SDP is the answer;
 * - SIPp UAC with Supported: 100rel and no SDP: the engine's 180 is reliable, carries the offer,
 *   is retransmitted until the PRACK, whose SDP is the answer; the 200 waits for that PRACK;
 * - `Require: 100rel` to an engine whose policy is off: 420 with Unsupported: 100rel;
 * - policy required and an INVITE without 100rel: 421 with Require: 100rel;
 * - engine to engine: supported calling required (reliable 180, PRACK, connected), off calling
 *   required (421), required calling off (420).
 * Each scenario asserts its headers itself (ereg with check_it), so a SIPp exit code of 0 means
 * they were there.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { TelephonyReturnValue as T, type ModifySipMessageData, type StartSipTelephonyParams } from '../index.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { type SippHandle, runSippUac, startSippUas } from './helpers/peers.js';
import { freePorts } from './helpers/ports.js';

const PHONE_NAME = 'ivr';

/** An engine with its own RTP ports that answers every call as soon as it rings. */
async function engine(t: ExecutionContext, extra: StartSipTelephonyParams = {}, phoneName = PHONE_NAME): Promise<EngineUnderTest> {
  const rtp = await freePorts(8, { even: true });
  const e = await startEngine(t, { numPhoneLinesRequested: 2, phoneName, minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[rtp.length - 1]! + 1, ...extra });
  e.engine.on('SipOkToAnswerCall', (n) => void e.engine.goOffHook(n.phoneLine));
  return e;
}

/** Starts a SIPp UAS with `scenario` on a free port and waits for it to bind. */
async function uas(t: ExecutionContext, scenario: string): Promise<{ sipp: SippHandle; port: number }> {
  return startSippUas(t, scenario);
}

/** Runs one SIPp UAC scenario against the engine. */
async function uac(e: EngineUnderTest, scenario: string): Promise<{ code: number | null; summary: string; log: string }> {
  const r = await runSippUac(e.port, scenario, PHONE_NAME);
  return { code: r.code, summary: r.summary, log: await readFile(path.join(r.logDir, 'messages.log'), 'latin1') };
}

/** The SIP messages an engine sends and receives, from its message hook. */
function messages(e: EngineUnderTest): ModifySipMessageData[] {
  const seen: ModifySipMessageData[] = [];
  e.engine.on('SipModifySipMessage', (n) => seen.push(n.data));
  e.engine.enableSipMessageHook(true);
  return seen;
}

peerTest('a reliable 183 with SDP is PRACKed (again when retransmitted, processed once); an out-of-order RSeq is ignored; a 200 without SDP connects', ['sipp'], async (t) => {
  const e = await engine(t);
  const { sipp, port } = await uas(t, 'uas-183-100rel-sdp.xml');
  t.is(await e.engine.makeCall('far', '127.0.0.1', port, 0, true, 15_000), T.SipSuccess);
  await e.waitFor(T.SipOutgoingCallConnected, (n) => n.phoneLine === 0);
  t.is(e.of(T.SipReceived183SessionProgress).length, 1, 'the retransmitted 183 is reported once');
  t.is(e.of(T.SipReceived180Ringing).length, 0, 'the out-of-order 180 is not processed');
  t.is(e.of(T.SipFarEndError).length, 0);
  t.is(await e.engine.terminateCall(0, true, 5000), T.SipSuccess);
  const res = await sipp.wait();
  t.is(res.code, 0, res.summary);
});

peerTest('a reliable 180 without SDP is PRACKed without a body; the 200 carries the answer', ['sipp'], async (t) => {
  const e = await engine(t);
  const { sipp, port } = await uas(t, 'uas-180-100rel.xml');
  t.is(await e.engine.makeCall('far', '127.0.0.1', port, 0, true, 15_000), T.SipSuccess);
  await e.waitFor(T.SipOutgoingCallConnected, (n) => n.phoneLine === 0);
  t.is(e.of(T.SipReceived180Ringing).length, 1);
  t.is(await e.engine.terminateCall(0, true, 5000), T.SipSuccess);
  const res = await sipp.wait();
  t.is(res.code, 0, res.summary);
});

peerTest('a caller with Supported: 100rel and no SDP gets a reliable 180 with the offer, retransmitted until its PRACK, whose SDP answers it; the 200 waits for the PRACK', ['sipp'], async (t) => {
  const e = await engine(t);
  const r = await uac(e, 'uac-call-100rel-late-offer.xml');
  t.is(r.code, 0, r.summary);
  const ringing = r.log.match(/message received \[\d+\] bytes :\s*SIP\/2\.0 180 /g)?.length ?? 0;
  t.true(ringing >= 2, `the reliable 180 was retransmitted until the PRACK (${ringing} received)`);
  const rseqs = new Set(r.log.match(/\r?\nRSeq: *\d+/g)?.map((h) => h.trim()));
  t.is(rseqs.size, 1, 'every copy has the same RSeq');
  await e.waitFor(T.SipIncomingCallConnected);
  await e.waitFor(T.SipByeReceived);
  t.is(e.of(T.SipFarEndError).length, 0);
});

peerTest('Require: 100rel to an engine whose policy is off gets 420 with Unsupported: 100rel', ['sipp'], async (t) => {
  const e = await engine(t, { reliableProvisional: 'off' });
  const r = await uac(e, 'uac-call-require-100rel.xml');
  t.is(r.code, 0, r.summary);
  t.is(e.of(T.SipIncomingCallStart).length, 0, 'no line saw the call');
});

peerTest('policy required: an INVITE without 100rel gets 421 Extension Required with Require: 100rel', ['sipp'], async (t) => {
  const e = await engine(t, { reliableProvisional: 'required' });
  const r = await uac(e, 'uac-call-no-100rel.xml');
  t.is(r.code, 0, r.summary);
  t.is(e.of(T.SipIncomingCallStart).length, 0, 'no line saw the call');
});

test('engine to engine: supported calls required (reliable 180, PRACK, connected); off calls required (421); required calls off (420)', async (t) => {
  const callee = await engine(t, { reliableProvisional: 'required' }, 'bob');
  const caller = await engine(t, {}, 'alice');
  const seen = messages(caller);
  t.is(await caller.engine.makeCall('bob', '127.0.0.1', callee.port, 0, true, 10_000), T.SipSuccess);
  await callee.waitFor(T.SipIncomingCallConnected);
  const ringing = seen.find((m) => m.direction === 'received' && m.message.startsWith('SIP/2.0 180'));
  t.regex(ringing?.message ?? '', /\r\nRequire: 100rel\r\n/);
  t.regex(ringing?.message ?? '', /\r\nRSeq: \d+\r\n/);
  const prack = seen.find((m) => m.direction === 'sent' && m.message.startsWith('PRACK '));
  t.regex(prack?.message ?? '', /\r\nRAck: \d+ 1 INVITE\r\n/);
  t.is(await caller.engine.terminateCall(0, true, 5000), T.SipSuccess);
  await callee.waitFor(T.SipByeReceived);
  // the callee answered at once (its 180 had no SDP, so its 200 did not wait): the PRACK's 200 came before the BYE's
  t.true(seen.some((m) => m.direction === 'received' && m.message.startsWith('SIP/2.0 200 OK') && /\r\nCSeq: 2 PRACK\r\n/.test(m.message)), 'the PRACK got 200');

  const plain = await engine(t, { reliableProvisional: 'off' }, 'carol');
  t.not(await plain.engine.makeCall('bob', '127.0.0.1', callee.port, 0, true, 10_000), T.SipSuccess);
  const refused = await plain.waitFor(T.SipFarEndError, (n) => n.phoneLine === 0);
  t.is(refused.data.statusCode, 421);

  const strict = await engine(t, { reliableProvisional: 'required' }, 'dave');
  t.not(await strict.engine.makeCall('carol', '127.0.0.1', plain.port, 0, true, 10_000), T.SipSuccess);
  const bad = await strict.waitFor(T.SipFarEndError, (n) => n.phoneLine === 0);
  t.is(bad.data.statusCode, 420);
  t.is(plain.of(T.SipIncomingCallStart).length, 0);
});

test('reliableProvisional start option: a value other than off, supported, required is SipBadParameter', async (t) => {
  const { VoipMediaEngine } = await import('../index.js');
  const e = new VoipMediaEngine();
  t.is(await e.startSipTelephony({ ipAddressOfThisHost: '127.0.0.1', sipPort: 0, reliableProvisional: 'always' as never }), T.SipBadParameter);
});
