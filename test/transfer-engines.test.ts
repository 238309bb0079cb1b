/**
 * Call transfer between engines on loopback (A talks to B, A transfers B to C), checking the
 * PortSIP events in the seed's order and the audio of the resulting call:
 * - blind transfer, C answers: A gets SipReferAccepted, SipTransferTrying, SipTransferRinging,
 *   SipActvTransferSuccess; B and C talk (tones checked by frequency); A's call ends;
 * - blind transfer, C refuses: SipActvTransferFailure with C's code; A and B stay connected;
 * - B refuses the REFER (rejectRefer): SipReferRejected with 603;
 * - B accepts by hand (farEndCallTransferEnabled false, acceptRefer);
 * - attended transfer: B's INVITE with Replaces takes over C's line; A's two calls end;
 * - the procedures' return codes on bad input;
 * - blind transfer through the Kamailio proxy (407 digest on the new INVITE).
 */
import test, { type ExecutionContext } from 'ava';
import { TelephonyReturnValue as T, VoipMediaEngine, LineState, type StartSipTelephonyParams } from '../index.js';
import { analyse, capture, sendTone, wait } from './helpers/audio.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { startKamailio } from './helpers/peers.js';
import { freePorts } from './helpers/ports.js';

/** The PortSIP transferor events, the order of which the seed fixes. */
const PORTSIP = [T.SipReferAccepted, T.SipReferRejected, T.SipTransferTrying, T.SipTransferRinging, T.SipActvTransferSuccess, T.SipActvTransferFailure];

const transferEvents = (e: EngineUnderTest, line: number): string[] =>
  e.seen.filter((n) => n.phoneLine === line && PORTSIP.includes(n.event)).map((n) => T[n.event]);

/** An engine with its own block of RTP ports. */
async function engine(t: ExecutionContext, phoneName: string, lines = 1, extra: StartSipTelephonyParams = {}): Promise<EngineUnderTest> {
  const rtp = await freePorts(8, { even: true });
  return startEngine(t, { phoneName, numPhoneLinesRequested: lines, minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[rtp.length - 1]! + 1, ...extra });
}

/** Answers every call that rings on `e`. */
function autoAnswer(e: EngineUnderTest): void {
  e.engine.on('SipOkToAnswerCall', (n) => e.engine.goOffHook(n.phoneLine));
}

/** A calls `user` at `callee` on line `line`; resolves once both ends are connected. */
async function connect(t: ExecutionContext, a: EngineUnderTest, callee: EngineUnderTest, user: string, line = 0): Promise<void> {
  const before = callee.of(T.SipIncomingCallConnected).length;
  t.is(await a.engine.makeCall(user, '127.0.0.1', callee.port, line, true, 5000), T.SipSuccess);
  await callee.waitForCount(T.SipIncomingCallConnected, before + 1);
}

/**
 * The blind-transfer setup: alice (1 line), bob (2 lines) and carol (1 line), bob and carol
 * answering whatever rings, and alice in a call with bob on line 0.
 */
async function aliceTalksToBob(t: ExecutionContext): Promise<{ a: EngineUnderTest; b: EngineUnderTest; c: EngineUnderTest }> {
  const a = await engine(t, 'alice');
  const b = await engine(t, 'bob', 2);
  const c = await engine(t, 'carol');
  autoAnswer(b);
  autoAnswer(c);
  await connect(t, a, b, 'bob');
  return { a, b, c };
}

/** Tones both ways between `x` line `xl` and `y` line `yl`, each heard at the other end. */
async function assertTalking(t: ExecutionContext, x: EngineUnderTest, xl: number, y: EngineUnderTest, yl: number): Promise<void> {
  const atX = capture(x.engine, xl);
  const atY = capture(y.engine, yl);
  sendTone(x.engine, xl, 700, 2);
  sendTone(y.engine, yl, 1100, 2);
  await wait(1500);
  const hx = analyse(atX.samples());
  const hy = analyse(atY.samples());
  atX.close();
  atY.close();
  t.true(Math.abs(hy.freq - 700) < 15 && hy.levelDb > -3, `far end hears ${hy.freq.toFixed(1)} Hz (${hy.levelDb.toFixed(1)} dB), wants 700`);
  t.true(Math.abs(hx.freq - 1100) < 20 && hx.levelDb > -3, `near end hears ${hx.freq.toFixed(1)} Hz (${hx.levelDb.toFixed(1)} dB), wants 1100`);
}

test('blind transfer, C answers: A gets Accepted, Trying, Ringing, Success in order; B and C talk; A-B ends', async (t) => {
  const { a, b, c } = await aliceTalksToBob(t);
  t.is(a.engine.transferLine('carol', '127.0.0.1', c.port, 0), T.SipSuccess);
  t.is(a.engine.transferLine('carol', '127.0.0.1', c.port, 0), T.SipTransfrerNotAllowed, 'one transfer at a time on a line');
  await a.waitFor(T.SipActvTransferSuccess);
  t.deepEqual(transferEvents(a, 0), ['SipReferAccepted', 'SipTransferTrying', 'SipTransferRinging', 'SipActvTransferSuccess']);
  t.is(a.of(T.SipOutgoingTransferInitializing).length, 1);
  // the transferee
  const refer = b.of(T.SipReceivedRefer)[0]!;
  t.is(refer.phoneLine, 0);
  const d = refer.data;
  t.is(d.to, `sip:carol@127.0.0.1:${c.port}`);
  t.regex(d.from, /sip:alice@127\.0\.0\.1/);
  t.regex(d.referSipMessage, /^REFER sip:bob@127\.0\.0\.1:\d+ SIP\/2\.0\r\n/);
  t.regex(d.referSipMessage, /\r\nReferred-By: <sip:alice@127\.0\.0\.1:\d+>\r\n/);
  const executing = b.of(T.SipTransferExecuting)[0]!;
  t.is(executing.notifyType, 0, 'SipTransferExecuting is immediate');
  t.true(b.seen.indexOf(executing) < b.seen.indexOf(refer));
  await b.waitFor(T.SipOutgoingCallConnected, (n) => n.phoneLine === 1);
  await c.waitFor(T.SipIncomingCallConnected);
  t.regex(c.engine.getIncomingCallInfo(0).from!, /sip:bob@/);
  // after the success the transferee ends the original call
  await a.waitFor(T.SipByeReceived, (n) => n.phoneLine === 0);
  await b.waitFor(T.SipOnHook, (n) => n.phoneLine === 0);
  t.is(a.engine.getLineStatus(0).state, LineState.OnHook);
  await assertTalking(t, b, 1, c, 0);
  t.is(await b.engine.terminateCall(1, true, 5000), T.SipSuccess);
  await c.waitFor(T.SipOnHook);
});

test('blind transfer, C refuses with 486: A gets SipActvTransferFailure {code 486}; A and B stay connected', async (t) => {
  const a = await engine(t, 'alice');
  const b = await engine(t, 'bob', 2);
  const c = await engine(t, 'carol');
  autoAnswer(b);
  c.engine.on('SipOkToAnswerCall', (n) => c.engine.abortIncomingCall(n.phoneLine, 486, 'Busy Here'));
  await connect(t, a, b, 'bob');
  t.is(a.engine.transferLine('carol', '127.0.0.1', c.port, 0), T.SipSuccess);
  const failure = await a.waitFor(T.SipActvTransferFailure);
  t.deepEqual(failure.data, { reason: 'Busy Here', code: 486 });
  t.deepEqual(transferEvents(a, 0), ['SipReferAccepted', 'SipTransferTrying', 'SipTransferRinging', 'SipActvTransferFailure']);
  await b.waitFor(T.SipOnHook, (n) => n.phoneLine === 1);
  await wait(300);
  t.is(a.engine.getLineStatus(0).state, LineState.InCall, 'the transferor keeps its call');
  t.is(b.engine.getLineStatus(0).state, LineState.InCall);
  t.is(a.of(T.SipByeReceived).length + b.of(T.SipByeReceived).length, 0);
  await assertTalking(t, a, 0, b, 0);
  // a second attempt is allowed once the first one is over
  c.engine.removeAllListeners('SipOkToAnswerCall');
  autoAnswer(c);
  t.is(a.engine.transferLine('carol', '127.0.0.1', c.port, 0), T.SipSuccess);
  await a.waitFor(T.SipActvTransferSuccess);
});

test('B refuses the REFER with rejectRefer: A gets SipReferRejected {603}; the call stays up', async (t) => {
  const a = await engine(t, 'alice');
  const b = await engine(t, 'bob', 2, { farEndCallTransferEnabled: false });
  const c = await engine(t, 'carol');
  autoAnswer(b);
  const answers: T[] = [];
  b.engine.on('SipReceivedRefer', (n) => {
    const d = n.data;
    answers.push(b.engine.rejectRefer(d.referId), b.engine.rejectRefer(d.referId), b.engine.acceptRefer(d.referId, d.referSipMessage));
  });
  await connect(t, a, b, 'bob');
  t.is(a.engine.transferLine('carol', '127.0.0.1', c.port, 0), T.SipSuccess);
  const rejected = await a.waitFor(T.SipReferRejected);
  t.deepEqual(rejected.data, { reason: 'Declined', code: 603 });
  t.deepEqual(transferEvents(a, 0), ['SipReferRejected']);
  t.deepEqual(answers, [T.SipSuccess, T.SipInvalidHandle, T.SipInvalidHandle], 'a REFER is answered once');
  t.is(c.of(T.SipIncomingCallStart).length, 0, 'C was never called');
  t.is(a.engine.getLineStatus(0).state, LineState.InCall);
  t.is(b.engine.getLineStatus(0).state, LineState.InCall);
});

test('farEndCallTransferEnabled false: the application accepts with acceptRefer(referId, referSipMessage)', async (t) => {
  const a = await engine(t, 'alice');
  const b = await engine(t, 'bob', 2, { farEndCallTransferEnabled: false });
  const c = await engine(t, 'carol');
  autoAnswer(b);
  autoAnswer(c);
  const answers: T[] = [];
  b.engine.on('SipReceivedRefer', (n) => {
    const d = n.data;
    answers.push(
      b.engine.acceptRefer(d.referId + 1000, d.referSipMessage),
      b.engine.acceptRefer('1' as unknown as number, d.referSipMessage),
      b.engine.acceptRefer(d.referId, undefined as unknown as string),
      b.engine.acceptRefer(d.referId, d.referSipMessage),
    );
  });
  await connect(t, a, b, 'bob');
  t.is(a.engine.transferLine('carol', '127.0.0.1', c.port, 0), T.SipSuccess);
  await a.waitFor(T.SipActvTransferSuccess);
  t.deepEqual(answers, [T.SipInvalidHandle, T.SipBadParameter, T.SipBadParameter, T.SipSuccess]);
  t.deepEqual(transferEvents(a, 0), ['SipReferAccepted', 'SipTransferTrying', 'SipTransferRinging', 'SipActvTransferSuccess']);
  const moving = await b.waitFor(T.SipTransferingCall, (n) => n.phoneLine === 0);
  t.like(moving.data, { newPhoneLine: 1 });
  await c.waitFor(T.SipIncomingCallConnected);
  await a.waitFor(T.SipOnHook, (n) => n.phoneLine === 0);
  await assertTalking(t, b, 1, c, 0);
});

test('attended transfer: attendedTransfer(0, 1) makes B replace C\'s call with A; B and C talk; A\'s two calls end', async (t) => {
  const a = await engine(t, 'alice', 2);
  const b = await engine(t, 'bob', 2);
  const c = await engine(t, 'carol', 1);
  autoAnswer(b);
  autoAnswer(c);
  await connect(t, a, b, 'bob', 0);
  await connect(t, a, c, 'carol', 1);
  const dialog = a.engine.getCallDialogInfo(1);
  t.is(dialog.result, T.SipSuccess);
  t.is(a.engine.attendedTransfer(0, 1), T.SipSuccess);
  await a.waitFor(T.SipActvTransferSuccess, (n) => n.phoneLine === 0);
  t.deepEqual(transferEvents(a, 0), ['SipReferAccepted', 'SipTransferTrying', 'SipTransferRinging', 'SipActvTransferSuccess']);
  const refer = b.of(T.SipReceivedRefer)[0]!.data;
  t.regex(refer.referSipMessage, /\r\nRefer-To: <sip:carol@127\.0\.0\.1:\d+\?Replaces=[^>]*%3Bto-tag%3D[^>]*%3Bfrom-tag%3D[^>]*>\r\n/);
  t.true(refer.referSipMessage.includes(`Replaces=${dialog.callId!.replace('@', '%40')}%3B`), 'the Replaces names the A-C call');
  // C's single line is taken over: its old call ends with a BYE to A, the new one connects
  await a.waitFor(T.SipByeReceived, (n) => n.phoneLine === 1);
  await a.waitFor(T.SipByeReceived, (n) => n.phoneLine === 0);
  await a.waitForCount(T.SipOnHook, 2);
  await c.waitForCount(T.SipIncomingCallConnected, 2);
  await b.waitFor(T.SipOutgoingCallConnected, (n) => n.phoneLine === 1);
  t.truthy(c.of(T.SipTransferingCall).find((n) => n.phoneLine === 0), 'C was told its call is being replaced');
  t.regex(c.engine.getIncomingCallInfo(0).from!, /sip:bob@/);
  t.not(c.engine.getCallDialogInfo(0).callId, dialog.callId);
  t.is(a.engine.getNumActiveCalls().numActiveCalls, 0);
  await assertTalking(t, b, 1, c, 0);
});

test('a Replaces that matches no call at the target: the target answers 481, A gets SipActvTransferFailure {code 481}', async (t) => {
  const { a, b, c } = await aliceTalksToBob(t);
  const uri = `sip:carol@127.0.0.1:${c.port}?Replaces=no-such-call%40127.0.0.1%3Bto-tag%3Dx1%3Bfrom-tag%3Dy2`;
  t.is(a.engine.transferLineUri(uri, false, 0), T.SipSuccess);
  const failure = await a.waitFor(T.SipActvTransferFailure);
  t.like(failure.data, { code: 481 });
  t.deepEqual(transferEvents(a, 0), ['SipReferAccepted', 'SipTransferTrying', 'SipActvTransferFailure']);
  t.is(c.of(T.SipIncomingCallStart).length, 0, 'nothing rang at the target');
  t.regex((b.of(T.SipReceivedRefer)[0]!.data).referSipMessage, /Replaces=no-such-call%40127\.0\.0\.1%3Bto-tag%3Dx1%3Bfrom-tag%3Dy2>/);
  t.is(a.engine.getLineStatus(0).state, LineState.InCall, 'the transferor keeps its call');
});

test('transfer procedures return codes for bad input and never throw', async (t) => {
  const idle = new VoipMediaEngine();
  t.is(idle.transferLine('carol', '127.0.0.1', 5060, 0), T.SipMediaEngineNotInitialized);
  t.is(idle.transferLineUri('sip:carol@127.0.0.1', false, 0), T.SipMediaEngineNotInitialized);
  t.is(idle.attendedTransfer(0, 1), T.SipMediaEngineNotInitialized);
  t.is(idle.acceptRefer(1, 'x'), T.SipMediaEngineNotInitialized);
  t.is(idle.rejectRefer(1), T.SipMediaEngineNotInitialized);
  const a = await engine(t, 'alice', 2);
  const e = a.engine;
  t.is(e.transferLine('carol', '127.0.0.1', 5060, 0), T.SipTransfrerNotAllowed, 'no call on the line');
  t.is(e.transferLine('bad user', '127.0.0.1', 5060, 0), T.SipBadUserName);
  t.is(e.transferLine('carol', '', 5060, 0), T.SipBadParameter);
  t.is(e.transferLine('carol', '127.0.0.1', 70000, 0), T.SipBadParameter);
  t.is(e.transferLine('carol', 'bad host', 5060, 0), T.SipBadParameter);
  t.is(e.transferLine('carol', '127.0.0.1', 5060, 7), T.SipBadPhoneLine);
  t.is(e.transferLine('carol', '127.0.0.1', 5060, -1), T.SipBadPhoneLine);
  t.is(e.transferLineUri('not a uri', false, 0), T.SipBadSipUri);
  t.is(e.transferLineUri('tel:+15551234', false, 0), T.SipBadSipUri);
  t.is(e.transferLineUri(42 as unknown as string, false, 0), T.SipBadParameter);
  t.is(e.transferLineUri('sip:carol@127.0.0.1', 'yes' as unknown as boolean, 0), T.SipBadParameter);
  t.is(e.transferLineUri('sip:carol@127.0.0.1', true, 0), T.SipProxyNotEnabled);
  t.is(e.transferLineUri('sip:carol@127.0.0.1', false, 0), T.SipTransfrerNotAllowed);
  t.is(e.attendedTransfer(0, 0), T.SipBadParameter);
  t.is(e.attendedTransfer(0, 9), T.SipBadPhoneLine);
  t.is(e.attendedTransfer(0, 1), T.SipTransfrerNotAllowed);
  t.is(e.acceptRefer(99, 'REFER ...'), T.SipInvalidHandle);
  t.is(e.acceptRefer(-1, 'REFER ...'), T.SipBadParameter);
  t.is(e.rejectRefer(1.5), T.SipBadParameter);
  t.is(e.getCallDialogInfo(0).result, T.SipNoCallActive);
  t.is(e.getCallDialogInfo(5).result, T.SipBadPhoneLine);
  t.is(await e.enableSipProxyServer('127.0.0.1', 5060), T.SipSuccess);
  t.is(e.transferLine('carol', '127.0.0.1', 5060, 0), T.SipDomainNameNotDefined, 'through the proxy the target is user@domain');
  t.is(e.transferLineUri('sip:carol@127.0.0.1', true, 0), T.SipDomainNameNotDefined);
});

peerTest('blind transfer through Kamailio: REFER and NOTIFYs follow the Record-Route, the new INVITE answers the 407', ['kamailio'], async (t) => {
  const kam = await startKamailio({ args: ['-A', 'WITH_DEBUG'] });
  t.teardown(() => kam.stop());
  const user = async (name: string, lines: number): Promise<EngineUnderTest> => {
    const e = await engine(t, name, lines);
    t.is(e.engine.addAuthorizationCredentials(name, `secret-${name}`, '127.0.0.1'), T.SipSuccess);
    t.is(await e.engine.enableSipProxyServer('127.0.0.1', kam.port), T.SipSuccess);
    t.is(e.engine.enableSipDomain('127.0.0.1'), T.SipSuccess);
    t.is(await e.engine.enableSipRegisterServer(name, false, false, '127.0.0.1', kam.port, 60, 60, 4000, false), T.SipSuccess);
    await e.waitFor(T.SipRegisterSuccess);
    return e;
  };
  const a = await user('alice', 1);
  const b = await user('bob', 2);
  const c = await user('carol', 1);
  autoAnswer(b);
  // carol rings before she answers: Kamailio runs two UDP children, and a 180 and a 200 sent
  // back to back can cross in them, which leaves the transferee nothing to report as ringing
  c.engine.on('SipOkToAnswerCall', (n) => void setTimeout(() => c.engine.goOffHook(n.phoneLine), 300));
  t.is(await a.engine.makeCallUri('sip:bob@127.0.0.1', true, 0, true, 10_000), T.SipSuccess);
  await b.waitFor(T.SipIncomingCallConnected);
  t.is(a.engine.transferLineUri('sip:carol@127.0.0.1', true, 0), T.SipSuccess);
  await a.waitFor(T.SipActvTransferSuccess);
  t.deepEqual(transferEvents(a, 0), ['SipReferAccepted', 'SipTransferTrying', 'SipTransferRinging', 'SipActvTransferSuccess']);
  await c.waitFor(T.SipIncomingCallConnected);
  await b.waitFor(T.SipOutgoingCallConnected, (n) => n.phoneLine === 1);
  t.is(b.of(T.SipSendInvite).length, 2, 'the transferee sent the INVITE again with Proxy-Authorization after the 407');
  await a.waitFor(T.SipOnHook, (n) => n.phoneLine === 0);
  const log = kam.log();
  t.regex(log, /REQ REFER sip:bob@/, 'the REFER went through the proxy');
  t.regex(log, /REQ NOTIFY sip:alice@/, 'so did the NOTIFYs');
  t.regex(log, /REQ INVITE sip:carol@127\.0\.0\.1 /, 'the transferee called carol at the domain, through the proxy');
  await assertTalking(t, b, 1, c, 0);
});
