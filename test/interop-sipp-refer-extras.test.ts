/**
 * Transfer cases left from issue 10 item 10, against SIPp (UDP, 127.0.0.1):
 * - a REFER outside any dialog (RFC 3515): with `acceptOutOfDialogRefer` the engine answers 202
 *   in a new dialog, places the referred call on a free line (to another engine, which answers)
 *   and reports it in NOTIFY sipfrag bodies that SIPp checks; by default it answers 403 and places
 *   nothing; SipReceivedOutOfDialogRefer tells the application both times;
 * - at a transfer target, an INVITE with Replaces whose SDP cannot be negotiated gets 488 with a
 *   Warning 305 before anything happens to the replaced call, which stays up and is ended
 *   normally afterwards.
 */
import test, { type ExecutionContext } from 'ava';
import { resolveStartParams } from '../engine/startParams.js';
import { TelephonyReturnValue as T, LineState, type StartSipTelephonyParams } from '../index.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { runSipp, sippScenario } from './helpers/peers.js';
import { freePorts } from './helpers/ports.js';

/** An engine with its own block of RTP ports that answers every call. */
async function answering(t: ExecutionContext, phoneName: string, lines = 1, extra: StartSipTelephonyParams = {}): Promise<EngineUnderTest> {
  const rtp = await freePorts(8, { even: true });
  const e = await startEngine(t, { phoneName, numPhoneLinesRequested: lines, minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[rtp.length - 1]! + 1, ...extra });
  e.engine.on('SipOkToAnswerCall', (n) => e.engine.goOffHook(n.phoneLine));
  return e;
}

/** Runs a SIPp UAC scenario against `e` (user `bob`) with extra arguments. */
async function sippUac(e: EngineUnderTest, scenario: string, extra: string[] = []) {
  const [sipPort] = await freePorts(1);
  const [mediaPort] = await freePorts(2, { even: true });
  return runSipp(
    [`127.0.0.1:${e.port}`, '-sf', sippScenario(scenario), '-s', 'bob', ...extra, '-p', String(sipPort), '-mp', String(mediaPort), '-m', '1', '-timeout', '20s', '-timeout_error'],
    { timeoutMs: 30_000, traceMessages: true },
  );
}

peerTest('an out-of-dialog REFER, when allowed: 202, the referred call placed on a free line, NOTIFY 100/18x/200 checked by SIPp', ['sipp'], async (t) => {
  const b = await answering(t, 'bob', 2, { acceptOutOfDialogRefer: true });
  const c = await answering(t, 'carol');
  const res = await sippUac(b, 'uac-refer-out-of-dialog.xml', ['-key', 'refer_to', `<sip:carol@127.0.0.1:${c.port}>`]);
  t.is(res.code, 0, res.summary);
  const n = await b.waitFor(T.SipReceivedOutOfDialogRefer);
  t.is(n.phoneLine, -1);
  t.like(n.data, { accepted: true, to: `sip:carol@127.0.0.1:${c.port}`, newPhoneLine: 0 });
  t.regex(n.data.from, /sip:sipp@127\.0\.0\.1/);
  await b.waitFor(T.SipOutgoingCallConnected, (x) => x.phoneLine === 0);
  await c.waitFor(T.SipIncomingCallConnected);
  t.is(b.engine.getLineStatus(0).state, LineState.InCall);
});

peerTest('an out-of-dialog REFER, by default: 403, no call placed, the application told', ['sipp'], async (t) => {
  const b = await answering(t, 'bob', 2);
  const c = await answering(t, 'carol');
  const res = await sippUac(b, 'uac-refer-out-of-dialog-refused.xml', ['-key', 'refer_to', `<sip:carol@127.0.0.1:${c.port}>`]);
  t.is(res.code, 0, res.summary);
  const n = await b.waitFor(T.SipReceivedOutOfDialogRefer);
  t.like(n.data, { accepted: false, to: `sip:carol@127.0.0.1:${c.port}`, newPhoneLine: -1 });
  t.is(b.of(T.SipOutgoingCallConnected).length, 0, 'no call was placed');
  t.deepEqual([0, 1].map((l) => b.engine.getLineStatus(l).state), [LineState.OnHook, LineState.OnHook]);
  t.is(c.of(T.SipIncomingCallStart).length, 0);
});

peerTest('an INVITE with Replaces and an unusable SDP gets 488 + Warning 305 and the replaced call stays up', ['sipp'], async (t) => {
  const b = await answering(t, 'bob', 1);
  const call = sippUac(b, 'uac-call-await-bye.xml');
  const connected = await b.waitFor(T.SipIncomingCallConnected);
  const info = b.engine.getCallDialogInfo(connected.phoneLine);
  t.is(info.result, T.SipSuccess);
  const replacer = await sippUac(b, 'uac-replaces-bad-sdp.xml', ['-key', 'callid', info.callId!, '-key', 'totag', info.localTag!, '-key', 'fromtag', info.remoteTag!]);
  t.is(replacer.code, 0, replacer.summary);
  t.is(b.engine.getLineStatus(connected.phoneLine).state, LineState.InCall, 'the replaced call is still up');
  t.is(b.of(T.SipTransferingCall).length, 0);
  t.is(b.of(T.SipCallComplete).length, 0);
  t.is(await b.engine.terminateCall(connected.phoneLine, true, 5000), T.SipSuccess);
  const r = await call;
  t.is(r.code, 0, r.summary);
});

test('acceptOutOfDialogRefer must be a boolean: anything else is SipBadParameter', (t) => {
  t.is(resolveStartParams({ acceptOutOfDialogRefer: 'yes' }), T.SipBadParameter);
  const ok = resolveStartParams({});
  t.false(typeof ok === 'number' ? true : ok.acceptOutOfDialogRefer, 'default false');
});

peerTest('the dialog of an accepted out-of-dialog REFER is routed: OPTIONS 200, SUBSCRIBE refresh 200 + NOTIFY, Expires 0 ends it, then 481', ['sipp'], async (t) => {
  const b = await answering(t, 'bob', 2, { acceptOutOfDialogRefer: true });
  // carol rings and does not answer, so the referred call stays in progress while SIPp probes the dialog
  const rtp = await freePorts(8, { even: true });
  const c = await startEngine(t, { phoneName: 'carol', numPhoneLinesRequested: 1, minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[rtp.length - 1]! + 1 });
  const res = await sippUac(b, 'uac-refer-out-of-dialog-subscribe.xml', ['-key', 'refer_to', `<sip:carol@127.0.0.1:${c.port}>`]);
  t.is(res.code, 0, res.summary);
  const n = await b.waitFor(T.SipReceivedOutOfDialogRefer);
  t.like(n.data, { accepted: true, newPhoneLine: 0 });
  await c.waitFor(T.SipIncomingCallStart);
  t.is(await b.engine.terminateCall(0, true, 5000), T.SipSuccess);
});

peerTest('a BYE in the dialog of an accepted out-of-dialog REFER gets 200 and ends that dialog (481 after); the referred call goes on', ['sipp'], async (t) => {
  const b = await answering(t, 'bob', 2, { acceptOutOfDialogRefer: true });
  const rtp = await freePorts(8, { even: true });
  const c = await startEngine(t, { phoneName: 'carol', numPhoneLinesRequested: 1, minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[rtp.length - 1]! + 1 });
  const res = await sippUac(b, 'uac-refer-out-of-dialog-bye.xml', ['-key', 'refer_to', `<sip:carol@127.0.0.1:${c.port}>`]);
  t.is(res.code, 0, res.summary);
  await c.waitFor(T.SipIncomingCallStart);
  t.not(b.engine.getLineStatus(0).state, LineState.OnHook, 'the referred call is still ringing');
  t.is(await b.engine.terminateCall(0, true, 5000), T.SipSuccess);
});
