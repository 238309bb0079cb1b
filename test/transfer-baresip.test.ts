/**
 * Transfer as a real softphone expects it: an engine (alice) in a call with baresip (bob)
 * transfers it blind to a second engine (carol). baresip follows the REFER, calls carol and
 * reports the 200 in its NOTIFY; then, like PJSUA and the flows of RFC 5589, it waits for the
 * transferor's BYE. alice's line must end its call after the success NOTIFY (BYE seen by
 * baresip) and be back on hook; with keepCallAfterTransfer it keeps the call up. Judged by
 * event order, never by time.
 */
import type { ExecutionContext } from 'ava';
import { TelephonyReturnValue as T, LineState, type StartSipTelephonyParams } from '../index.js';
import { startBaresip, type BaresipEvent, type BaresipHandle } from './helpers/baresip.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { wait } from './helpers/audio.js';
import { TRANSFEROR_BYE_GRACE_MS } from '../lines/transfer.js';
import { freePorts } from './helpers/ports.js';

/** An engine with its own block of RTP ports. */
async function engine(t: ExecutionContext, phoneName: string, extra: StartSipTelephonyParams = {}): Promise<EngineUnderTest> {
  const rtp = await freePorts(8, { even: true });
  return startEngine(t, { phoneName, numPhoneLinesRequested: 1, minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[rtp.length - 1]! + 1, ...extra });
}

/** alice calls baresip (bob, auto-answer); carol answers whatever rings. */
async function setUp(t: ExecutionContext, aliceParams: StartSipTelephonyParams = {}): Promise<{ a: EngineUnderTest; c: EngineUnderTest; bob: BaresipHandle }> {
  const bob = await startBaresip({ user: 'bob', codecs: 'PCMU', answerMode: 'auto' });
  t.teardown(() => bob.stop());
  const a = await engine(t, 'alice', aliceParams);
  const c = await engine(t, 'carol');
  c.engine.on('SipOkToAnswerCall', (n) => c.engine.goOffHook(n.phoneLine));
  t.is(await a.engine.makeCall(bob.user, '127.0.0.1', bob.port, 0, true, 15_000), T.SipSuccess);
  await a.waitFor(T.SipOutgoingCallConnected, (n) => n.phoneLine === 0);
  await bob.waitEvent('CALL_ESTABLISHED', 15);
  return { a, c, bob };
}

/** baresip's events about its call with alice (the transferred call). */
const withAlice = (e: BaresipEvent): boolean => typeof e.peeruri === 'string' && e.peeruri.includes('alice');

peerTest('an engine transfers a baresip call to another engine: after the success NOTIFY it sends BYE and its line goes on hook', ['baresip', 'sox'], async (t) => {
  const { a, c, bob } = await setUp(t);
  t.is(a.engine.transferLine('carol', '127.0.0.1', c.port, 0), T.SipSuccess);
  const success = await a.waitFor(T.SipActvTransferSuccess, (n) => n.phoneLine === 0);
  await c.waitFor(T.SipIncomingCallConnected);
  t.regex(c.engine.getIncomingCallInfo(0).from ?? '', /sip:bob@/, 'baresip called carol');
  const onHook = await a.waitFor(T.SipOnHook, (n) => n.phoneLine === 0);
  t.true(a.seen.indexOf(success) < a.seen.indexOf(onHook), 'on hook after the success NOTIFY');
  t.is(a.of(T.SipByeReceived).length, 0, 'alice ended the call herself: baresip waits for the transferor');
  t.is(a.engine.getLineStatus(0).state, LineState.OnHook);
  const closed = await bob.waitEvent('CALL_CLOSED', 15, withAlice);
  t.truthy(closed, 'baresip saw the BYE ending its call with alice');
  t.is(c.engine.getLineStatus(0).state, LineState.InCall, 'bob and carol still talk');
  t.is(await c.engine.terminateCall(0, true, 5000), T.SipSuccess);
  await bob.waitEvent('CALL_CLOSED', 15, (e) => !withAlice(e));
});

peerTest('keepCallAfterTransfer: the transferor keeps its call with baresip up after the success NOTIFY', ['baresip', 'sox'], async (t) => {
  const { a, c, bob } = await setUp(t, { keepCallAfterTransfer: true });
  t.is(a.engine.transferLine('carol', '127.0.0.1', c.port, 0), T.SipSuccess);
  await a.waitFor(T.SipActvTransferSuccess, (n) => n.phoneLine === 0);
  await c.waitFor(T.SipIncomingCallConnected);
  t.is(await c.engine.terminateCall(0, true, 5000), T.SipSuccess);
  await bob.waitEvent('CALL_CLOSED', 15, (e) => !withAlice(e));
  // Well past the transferor's grace (TRANSFEROR_BYE_GRACE_MS), as the failure test of transfer-engines waits before it looks.
  await wait(3 * TRANSFEROR_BYE_GRACE_MS);
  t.is(a.engine.getLineStatus(0).state, LineState.InCall, 'the call stays up');
  t.false(bob.events.some((e) => e.type === 'CALL_CLOSED' && withAlice(e)));
  t.is(await a.engine.terminateCall(0, true, 5000), T.SipSuccess);
  await bob.waitEvent('CALL_CLOSED', 15, withAlice);
});
