/**
 * Tolerant parsing against SIPp UACs (UDP, 127.0.0.1), issue 10 item 7:
 * - INVITEs whose Request-URI, To and From are tel: URIs (global with visual separators, local with
 *   phone-context) connect, ring the line whose registration name is the number's digits, and the
 *   engine's BYE goes to the SIP Contact with the tel: URIs kept;
 * - an INVITE full of header parameters and URI schemes the engine does not interpret connects,
 *   and the parameters it echoes (Via, From, To) come back unchanged.
 * Each scenario asserts the headers of what it receives itself (ereg with check_it), so a SIPp
 * exit code of 0 means they were there.
 */
import type { ExecutionContext } from 'ava';
import { TelephonyReturnValue as T } from '../index.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { runSippUac } from './helpers/peers.js';
import { freePorts } from './helpers/ports.js';

/** An engine with its own RTP ports that answers every call that rings. */
async function answeringEngine(t: ExecutionContext, lines = 2): Promise<EngineUnderTest> {
  const rtp = await freePorts(16, { even: true });
  const e = await startEngine(t, { numPhoneLinesRequested: lines, phoneName: 'desk', minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[rtp.length - 1]! + 1 });
  e.engine.on('SipOkToAnswerCall', (n) => {
    const rc = e.engine.goOffHook(n.phoneLine);
    if (rc !== T.SipSuccess) t.log(`goOffHook(${n.phoneLine}): ${T[rc]}`);
  });
  return e;
}

/** Runs one SIPp UAC scenario calling `service`; resolves with its exit code and summary. */
async function uac(e: EngineUnderTest, scenario: string, service: string): Promise<{ code: number | null; summary: string }> {
  return runSippUac(e.port, scenario, service);
}

peerTest('tel: Request-URI, To and From: the call connects on the line named by the number\'s digits; the BYE keeps the tel: URIs', ['sipp'], async (t) => {
  const pbx = await startEngine(t, { phoneName: 'pbx' });
  const desk = await answeringEngine(t, 3);
  t.is(await desk.engine.enableSipRegisterServer('100,15550101,1234', true, false, '127.0.0.1', pbx.port, 60, 60, 2000, false), T.SipSuccess);
  await desk.waitForCount(T.SipRegisterSuccess, 3);
  const calls: Array<[string, number, string]> = [
    ['+1-555-0101', 1, '+15550101'],
    ['1234;phone-context=example.com', 2, '1234'],
    ['(555)-0100;phone-context=+1', 0, '5550100'], // no line has these digits: the default routing
  ];
  for (const [i, [service, line, digits]] of calls.entries()) {
    const run = uac(desk, 'uac-call-tel-uri.xml', service);
    const assign = (await desk.waitForCount(T.SipIncomingCallAssignPhoneLine, i + 1))[i]!;
    t.is(assign.data.calledUser, digits, service);
    t.is(assign.data.phoneLine, line, service);
    const connected = (await desk.waitForCount(T.SipIncomingCallConnected, i + 1))[i]!;
    t.is(connected.phoneLine, line, service);
    t.is(await desk.engine.terminateCall(line, true, 5000), T.SipSuccess);
    const r = await run;
    t.is(r.code, 0, `${service}: ${r.summary}`);
    await desk.waitFor(T.SipCallComplete, (n) => n.phoneLine === line);
  }
});

peerTest('unknown header parameters and URI schemes in headers the engine does not interpret are carried: 200, and Via/From/To come back unchanged', ['sipp'], async (t) => {
  const e = await answeringEngine(t);
  const run = uac(e, 'uac-call-unknown-params.xml', 'desk');
  const connected = await e.waitFor(T.SipIncomingCallConnected);
  t.is(await e.engine.terminateCall(connected.phoneLine, true, 5000), T.SipSuccess);
  const r = await run;
  t.is(r.code, 0, r.summary);
  t.is(e.of(T.SipReceivedSipMessageParseError).length, 0);
});
