/**
 * Transfer against SIPp (UDP, 127.0.0.1):
 * - SIPp calls an engine line and REFERs it to another engine (blind), then with a Refer-To
 *   carrying Replaces (attended, taking over a third engine's call); SIPp checks the engine's
 *   NOTIFY sipfrag bodies (100 Trying, 18x, 200 OK; Event refer;id=2; Subscription-State
 *   active, then terminated;reason=noresource) and receives the BYE that ends its call;
 * - a SIPp UAS refuses the REFER the engine sends: SipReferRejected {code 603};
 * - a SIPp UAS accepts the engine's REFER and ends the subscription with a malformed
 *   `terminated;reason=reason=noresource` NOTIFY carrying the 200: the engine takes it, reports
 *   the success and ends its call with BYE (SIPp waits for it, as RFC 5589's transferees do);
 * - bad transfer requests (no Refer-To, malformed Refer-To, malformed Replaces: 400; NOTIFY for
 *   an unknown refer subscription, REFER outside a dialog: 481) while another line carries a
 *   call whose audio keeps flowing.
 */
import type { ExecutionContext } from 'ava';
import { TelephonyReturnValue as T, LineState } from '../index.js';
import { buildReferTo } from '../sip/refer.js';
import { analyse, capture, sendTone, wait } from './helpers/audio.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { runSipp, sippScenario, startSipp, waitForUdpPort } from './helpers/peers.js';
import { freePort, freePorts } from './helpers/ports.js';

/** An engine with its own block of RTP ports that answers every call. */
async function answering(t: ExecutionContext, phoneName: string, lines = 1): Promise<EngineUnderTest> {
  const rtp = await freePorts(8, { even: true });
  const e = await startEngine(t, { phoneName, numPhoneLinesRequested: lines, minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[rtp.length - 1]! + 1 });
  e.engine.on('SipOkToAnswerCall', (n) => e.engine.goOffHook(n.phoneLine));
  return e;
}

/** Runs a SIPp UAC scenario against `e` (user `bob`) with extra `-key` pairs. */
async function sippUac(e: EngineUnderTest, scenario: string, keys: Record<string, string> = {}) {
  const [sipPort] = await freePorts(1);
  const [mediaPort] = await freePorts(2, { even: true });
  const keyArgs = Object.entries(keys).flatMap(([k, v]) => ['-key', k, v]);
  return runSipp(
    [`127.0.0.1:${e.port}`, '-sf', sippScenario(scenario), '-s', 'bob', ...keyArgs, '-p', String(sipPort), '-mp', String(mediaPort), '-m', '1', '-timeout', '20s', '-timeout_error'],
    { timeoutMs: 30_000, traceMessages: true },
  );
}

peerTest('SIPp REFERs an engine line to another engine (blind): NOTIFY sipfrag 100, 180, 200 checked by SIPp; the transferee hangs up on SIPp', ['sipp'], async (t) => {
  const b = await answering(t, 'bob', 2);
  const c = await answering(t, 'carol');
  const res = await sippUac(b, 'uac-refer.xml', { refer_to: `<sip:carol@127.0.0.1:${c.port}>` });
  t.is(res.code, 0, res.summary);
  const refer = (await b.waitFor(T.SipReceivedRefer)).data;
  t.is(refer.to, `sip:carol@127.0.0.1:${c.port}`);
  t.regex(refer.from, /sip:sipp@127\.0\.0\.1/);
  await b.waitFor(T.SipOutgoingCallConnected, (n) => n.phoneLine === 1);
  await c.waitFor(T.SipIncomingCallConnected);
  await b.waitFor(T.SipOnHook, (n) => n.phoneLine === 0);
  t.is(b.engine.getLineStatus(1).state, LineState.InCall);
});

peerTest('SIPp REFERs with Replaces (attended): the engine\'s INVITE takes over the target engine\'s call; SIPp checks the NOTIFYs', ['sipp'], async (t) => {
  const b = await answering(t, 'bob', 2);
  const c = await answering(t, 'carol', 1);
  const d = await answering(t, 'dave', 1);
  t.is(await d.engine.makeCall('carol', '127.0.0.1', c.port, 0, true, 5000), T.SipSuccess);
  await c.waitFor(T.SipIncomingCallConnected);
  // the dialog at C, from C's side: to-tag is C's own tag, from-tag D's
  const info = c.engine.getCallDialogInfo(0);
  t.is(info.result, T.SipSuccess);
  const referTo = buildReferTo(`sip:carol@127.0.0.1:${c.port}`, { callId: info.callId!, toTag: info.localTag!, fromTag: info.remoteTag!, earlyOnly: false });
  t.regex(referTo, /\?Replaces=[^;=@]+>$/, 'the Replaces is escaped inside the URI');
  const res = await sippUac(b, 'uac-refer.xml', { refer_to: referTo });
  t.is(res.code, 0, res.summary);
  await d.waitFor(T.SipByeReceived, (n) => n.phoneLine === 0);
  await c.waitForCount(T.SipIncomingCallConnected, 2);
  t.regex(c.engine.getIncomingCallInfo(0).from!, /sip:bob@/);
  await b.waitFor(T.SipOutgoingCallConnected, (n) => n.phoneLine === 1);
  await b.waitFor(T.SipOnHook, (n) => n.phoneLine === 0);
  t.is(d.engine.getLineStatus(0).state, LineState.OnHook);
});

peerTest('a SIPp UAS refuses the engine\'s REFER with 603: SipReferRejected {reason, code}; the call goes on', ['sipp'], async (t) => {
  const a = await answering(t, 'alice');
  const port = await freePort();
  const [mediaPort] = await freePorts(2, { even: true });
  const uas = startSipp(['-sf', sippScenario('uas-refer-reject.xml'), '-p', String(port), '-mp', String(mediaPort), '-m', '1', '-timeout', '20s', '-timeout_error'], { timeoutMs: 30_000 });
  t.teardown(() => uas.kill());
  t.true(await waitForUdpPort(port), 'SIPp UAS bound its port');
  t.is(await a.engine.makeCall('service', '127.0.0.1', port, 0, true, 5000), T.SipSuccess);
  t.is(a.engine.transferLine('carol', '127.0.0.1', 5072, 0), T.SipSuccess);
  const rejected = await a.waitFor(T.SipReferRejected);
  t.deepEqual(rejected.data, { reason: 'Declined', code: 603 });
  t.is(a.of(T.SipReferAccepted).length, 0);
  t.is(a.engine.getLineStatus(0).state, LineState.InCall);
  t.is(await a.engine.terminateCall(0, true, 5000), T.SipSuccess);
  const res = await uas.wait();
  t.is(res.code, 0, res.summary);
});

peerTest('a SIPp transferee sends `terminated;reason=reason=noresource` with the 200 sipfrag: the engine takes it, then ends its call with BYE', ['sipp'], async (t) => {
  const a = await answering(t, 'alice');
  const port = await freePort();
  const [mediaPort] = await freePorts(2, { even: true });
  const uas = startSipp(['-sf', sippScenario('uas-refer-malformed-notify.xml'), '-p', String(port), '-mp', String(mediaPort), '-m', '1', '-timeout', '20s', '-timeout_error'], { timeoutMs: 30_000 });
  t.teardown(() => uas.kill());
  t.true(await waitForUdpPort(port), 'SIPp UAS bound its port');
  t.is(await a.engine.makeCall('service', '127.0.0.1', port, 0, true, 5000), T.SipSuccess);
  t.is(a.engine.transferLine('carol', '127.0.0.1', 5072, 0), T.SipSuccess);
  const success = await a.waitFor(T.SipActvTransferSuccess);
  const onHook = await a.waitFor(T.SipOnHook, (n) => n.phoneLine === 0);
  t.true(a.seen.indexOf(success) < a.seen.indexOf(onHook), 'on hook after the success NOTIFY');
  t.deepEqual(
    a.seen.filter((n) => n.phoneLine === 0 && [T.SipReferAccepted, T.SipTransferTrying, T.SipActvTransferSuccess, T.SipByeReceived].includes(n.event)).map((n) => T[n.event]),
    ['SipReferAccepted', 'SipTransferTrying', 'SipActvTransferSuccess'],
    'no BYE from SIPp: the engine sent it',
  );
  const res = await uas.wait();
  t.is(res.code, 0, res.summary);
});

peerTest('bad transfer requests get 400 / 481 and the other line\'s call keeps its audio', ['sipp'], async (t) => {
  const b = await answering(t, 'bob', 2);
  const other = await answering(t, 'erin');
  // line 0 of B carries a call from another engine, with a tone
  t.is(await other.engine.makeCall('bob', '127.0.0.1', b.port, 0, true, 5000), T.SipSuccess);
  await b.waitFor(T.SipIncomingCallConnected, (n) => n.phoneLine === 0);
  const res = await sippUac(b, 'uac-refer-bad.xml');
  t.is(res.code, 0, res.summary);
  await b.waitFor(T.SipOnHook, (n) => n.phoneLine === 1);
  t.is(b.of(T.SipReceivedRefer).length, 0, 'no bad REFER reached the application');
  t.is(b.engine.getLineStatus(0).state, LineState.InCall);
  const heard = capture(b.engine, 0);
  sendTone(other.engine, 0, 900, 2);
  await wait(1200);
  const a = analyse(heard.samples());
  heard.close();
  t.true(Math.abs(a.freq - 900) < 15 && a.levelDb > -3, `line 0 still hears the other call (${a.freq.toFixed(1)} Hz)`);
  // and the engine still transfers normally afterwards
  const c = await answering(t, 'carol');
  t.is(other.engine.transferLine('carol', '127.0.0.1', c.port, 0), T.SipSuccess);
  await other.waitFor(T.SipActvTransferSuccess);
});
