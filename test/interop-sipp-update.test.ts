/**
 * UPDATE (RFC 3311, issue 10 item 3) against SIPp scenarios and between two engines:
 * - SIPp UAC, confirmed dialog: UPDATE a=sendonly → 200 a=recvonly and the line is held by the
 *   far end; UPDATE without a body → 200; UPDATE a=sendrecv → resumed (uac-update-confirmed.xml);
 * - SIPp UAC, early dialog at the engine as callee: UPDATE without a body → 200; with an offer
 *   while the INVITE's offer is unanswered → 500 with Retry-After (uac-update-early.xml);
 * - glare: our hold re-INVITE is out when the far end's UPDATE offer arrives → 491 (uac-update-glare.xml);
 * - SIPp UAS, early dialog at the engine as caller: an offer before the INVITE's is answered →
 *   491; after the 183's answer → 200 a=recvonly, still held once the 200 connects (uas-update-early.xml);
 * - SIPp UAS whose Allow lists UPDATE: holdLine with `holdMethod: 'update'` sends UPDATEs (uas-update-hold.xml);
 * - engine to engine: hold and resume by UPDATE, audio stops while held and comes back.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { TelephonyReturnValue as T, LineState, type StartSipTelephonyParams } from '../index.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { runSipp, type SippHandle, runSippUac, startSippUas } from './helpers/peers.js';
import { freePorts } from './helpers/ports.js';
import { analyse, capture, sendTone, soundAfterOnset } from './helpers/audio.js';
import { mediaStats } from './helpers/mediaTime.js';
import { until } from './helpers/observe.js';

const PHONE_NAME = 'ivr';

/** An engine with its own RTP ports; answers every call that rings unless `answer` is false. */
async function engine(t: ExecutionContext, answer = true, params: StartSipTelephonyParams = {}): Promise<EngineUnderTest> {
  const rtp = await freePorts(8, { even: true });
  const e = await startEngine(t, { numPhoneLinesRequested: 2, phoneName: PHONE_NAME, minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[rtp.length - 1]! + 1, ...params });
  if (answer) e.engine.on('SipOkToAnswerCall', (n) => void e.engine.goOffHook(n.phoneLine));
  return e;
}

/** Starts a SIPp UAC scenario against the engine (not awaited: the test drives the engine meanwhile). */
async function uac(e: EngineUnderTest, scenario: string): Promise<ReturnType<typeof runSipp>> {
  return runSippUac(e.port, scenario, PHONE_NAME);
}

/** Starts a SIPp UAS with `scenario` on a free port and waits for it to bind. */
async function uas(t: ExecutionContext, scenario: string): Promise<{ sipp: SippHandle; port: number }> {
  return startSippUas(t, scenario);
}

peerTest('a confirmed dialog: UPDATE a=sendonly holds the line (200 a=recvonly), UPDATE without SDP gets 200, UPDATE a=sendrecv resumes', ['sipp'], async (t) => {
  const e = await engine(t);
  const run = uac(e, 'uac-update-confirmed.xml');
  const connected = await e.waitFor(T.SipIncomingCallConnected);
  const held = await e.waitFor(T.SipFarEndHoldOn, (n) => n.phoneLine === connected.phoneLine);
  await e.waitFor(T.SipFarEndHoldOff, (n) => n.phoneLine === connected.phoneLine);
  const r = await run;
  t.is(r.code, 0, r.summary);
  await e.waitFor(T.SipByeReceived, (n) => n.phoneLine === connected.phoneLine);
  const order = e.seen.filter((n) => n.phoneLine === held.phoneLine).map((n) => T[n.event]).filter((n) => /FarEndHold/.test(n));
  t.deepEqual(order, ['SipFarEndHoldOn', 'SipFarEndHoldOff']);
});

peerTest('an early dialog at the engine as callee: UPDATE without SDP gets 200; with an offer while the INVITE offer is unanswered, 500 with Retry-After', ['sipp'], async (t) => {
  const e = await engine(t, false);
  const r = await uac(e, 'uac-update-early.xml');
  t.is(r.code, 0, r.summary);
  await e.waitFor(T.SipCallCanceled);
  t.is(e.of(T.SipIncomingCallConnected).length, 0);
  t.is(e.of(T.SipFarEndHoldOn).length, 0, 'the refused offer changed nothing');
});

peerTest('glare: an UPDATE offer arriving while our hold re-INVITE is unanswered gets 491; the re-INVITE then completes', ['sipp'], async (t) => {
  const e = await engine(t);
  const run = uac(e, 'uac-update-glare.xml');
  const connected = await e.waitFor(T.SipIncomingCallConnected);
  t.is(await e.engine.holdLine(connected.phoneLine, true), T.SipSuccess);
  const r = await run;
  t.is(r.code, 0, r.summary);
  t.is(e.of(T.SipFarEndHoldOn).length, 0, 'the refused UPDATE changed nothing');
  await e.waitFor(T.SipByeReceived, (n) => n.phoneLine === connected.phoneLine);
});

peerTest('an early dialog at the engine as caller: an offer before the INVITE is answered gets 491; after the 183 answer, UPDATE a=sendonly holds and the 2xx keeps it', ['sipp'], async (t) => {
  const e = await engine(t);
  const { sipp, port } = await uas(t, 'uas-update-early.xml');
  t.is(await e.engine.makeCall('far', '127.0.0.1', port, 0, true, 10_000), T.SipSuccess);
  await e.waitFor(T.SipOutgoingCallConnected, (n) => n.phoneLine === 0);
  t.is(e.of(T.SipFarEndHoldOn).length, 1, 'held in the early dialog');
  t.true(e.engine.getActiveCallInfo(0).farEndHold, 'the 200 repeating the 183 answer did not undo the UPDATE');
  t.is(await e.engine.terminateCall(0, true, 5000), T.SipSuccess);
  const res = await sipp.wait();
  t.is(res.code, 0, res.summary);
});

peerTest("holdMethod 'update': a peer whose Allow lists UPDATE is held and resumed by UPDATE", ['sipp'], async (t) => {
  const e = await engine(t, true, { holdMethod: 'update' });
  const { sipp, port } = await uas(t, 'uas-update-hold.xml');
  t.is(await e.engine.makeCall('far', '127.0.0.1', port, 0, true, 10_000), T.SipSuccess);
  t.is(await e.engine.holdLine(0, true), T.SipSuccess);
  t.is(e.engine.getLineStatus(0).state, LineState.OnHold);
  t.true(e.engine.getActiveCallInfo(0).localHold);
  t.is(await e.engine.holdLine(0, false), T.SipSuccess);
  t.is(e.engine.getLineStatus(0).state, LineState.InCall);
  t.is(await e.engine.terminateCall(0, true, 5000), T.SipSuccess);
  const res = await sipp.wait();
  t.is(res.code, 0, res.summary);
  t.is(e.of(T.SipCallHoldOn).length, 1);
  t.is(e.of(T.SipCallHoldOff).length, 1);
});

test("engine to engine, holdMethod 'update': hold and resume by UPDATE; audio stops while held and comes back", async (t) => {
  // B's SIP log proves the method: it receives UPDATEs and no re-INVITE
  const log = path.join(mkdtempSync(path.join(tmpdir(), 'linescape-update-')), 'sip.log');
  const a = await startEngine(t, { phoneName: 'alice', holdMethod: 'update' });
  const b = await startEngine(t, { phoneName: 'bob', logSipMessages: true, sipLogFile: log });
  b.engine.on('SipOkToAnswerCall', (n) => void b.engine.goOffHook(n.phoneLine));
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 0, true, 5000), T.SipSuccess);
  await b.waitFor(T.SipIncomingCallConnected);
  t.is(await a.engine.holdLine(0, true), T.SipSuccess);
  await b.waitFor(T.SipFarEndHoldOn);
  t.is(a.engine.getLineStatus(0).state, LineState.OnHold);
  t.true(b.engine.getActiveCallInfo(0).farEndHold);
  // A holds B (A sendonly): what B sends no longer reaches A; what A's jitter buffer held is skipped
  const buffered = mediaStats(a.engine, 0)?.jitter.currentDelayMs ?? 0;
  const cap = capture(a.engine, 0);
  sendTone(b.engine, 0, 900, 1);
  const skip = Math.round(((buffered + 40) * 8000) / 1000);
  await until(() => cap.samples().length >= skip + 4800, 30000);
  const held = analyse(cap.samples().subarray(skip));
  t.true(held.levelDb < -10 || Math.abs(held.freq - 900) > 50, `nothing of B's tone while held (${held.freq} Hz, ${held.levelDb} dB)`);
  cap.close();
  t.is(await a.engine.holdLine(0, false), T.SipSuccess);
  await b.waitFor(T.SipFarEndHoldOff);
  t.is(a.engine.getLineStatus(0).state, LineState.InCall);
  const cap2 = capture(a.engine, 0);
  sendTone(b.engine, 0, 900, 1);
  // judged from where B's tone begins at A: the path there is stretched on a loaded machine
  const back = await soundAfterOnset(cap2, 500);
  const resumed = analyse(back.pcm);
  t.true(Math.abs(resumed.freq - 900) < 20, `audio again after resume (${resumed.freq} Hz, ${resumed.levelDb} dB; sound from sample ${back.onset} of ${back.captured})`);
  cap2.close();
  // requests by CSeq: a loaded machine may retransmit one, which B logs again
  const cseqs = (method: string): string[] => [
    ...new Set(
      readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, string>)
        .filter((l) => l['dir'] === 'recv' && l['firstLine']!.startsWith(`${method} `))
        .map((l) => /^CSeq:\s*(.+)$/im.exec(l['sip'] ?? '')?.[1]?.trim() ?? '?'),
    ),
  ];
  t.is(cseqs('UPDATE').length, 2, 'hold and resume were UPDATEs');
  t.deepEqual(cseqs('INVITE'), ['1 INVITE'], 'no re-INVITE');
});

peerTest('an early dialog at the engine as callee (reliable 180, PRACKed): an UPDATE reusing the last CSeq or going below it gets 500', ['sipp'], async (t) => {
  const e = await engine(t, false);
  const r = await uac(e, 'uac-update-early-cseq.xml');
  t.is(r.code, 0, r.summary);
  await e.waitFor(T.SipCallCanceled);
  t.is(e.of(T.SipIncomingCallConnected).length, 0);
});

peerTest('an early dialog at the engine as caller: an UPDATE reusing the last CSeq or going below it gets 500', ['sipp'], async (t) => {
  const e = await engine(t);
  const { sipp, port } = await uas(t, 'uas-update-early-cseq.xml');
  t.is(await e.engine.makeCall('far', '127.0.0.1', port, 0, false, 10_000), T.SipSuccess);
  const res = await sipp.wait();
  await e.waitFor(T.SipFarEndIsBusy, (n) => n.phoneLine === 0);
  t.is(res.code, 0, res.summary);
});

peerTest('an offer in our reliable 180 (INVITE without SDP): an UPDATE offer before the PRACK answers it gets 491; after the PRACK, an UPDATE offer is answered', ['sipp'], async (t) => {
  const e = await engine(t, false);
  const r = await uac(e, 'uac-update-prack-offer.xml');
  t.is(r.code, 0, r.summary);
  await e.waitFor(T.SipCallCanceled);
  t.is(e.of(T.SipIncomingCallConnected).length, 0);
});
