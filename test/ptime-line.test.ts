/**
 * Per-line packet time (issue 15): `setPacketTime(line, ms)` sets the `a=ptime` a line offers,
 * and the one its answers ask for when the offer states none (an offer's own a=ptime still wins:
 * it is what the offerer wants to receive).
 * - the SDP rule: an offer without a=ptime is answered with our ptime (capped by its maxptime);
 *   an answer without a=ptime leaves us sending with our offer's;
 * - the procedure's codes;
 * - engine to engine, line 0 of the caller at 40 ms, the callee at the default: raw RTP shows
 *   40 ms packets both ways and each side hears the other's tone;
 * - a SIPp UAC offering PCMU without a=ptime to a line set to 30 ms gets a=ptime:30 back.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TelephonyReturnValue as T, MediaFormatAudio } from '../index.js';
import { createOffer, negotiateAnswer, negotiateOffer, type LocalMedia } from '../sip/sdp.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { exchangeTones } from './helpers/audio.js';
import { peerTest } from './helpers/env.js';
import { runSipp, sippScenario } from './helpers/peers.js';
import { freePorts } from './helpers/ports.js';

const PCMU = { name: 'PCMU' as const, payloadType: 0, clockRate: 8000 };
const local = (ptime?: number): LocalMedia => ({
  address: '127.0.0.1',
  port: 40000,
  formats: [PCMU],
  telephoneEvent: true,
  direction: 'sendrecv',
  sessionId: '1',
  sessionVersion: 1,
  ...(ptime === undefined ? {} : { ptime }),
});

test('an offer without a=ptime is answered with our ptime, within its maxptime; its own a=ptime wins', (t) => {
  const bare = createOffer(local()).replace('a=ptime:20\r\n', '');
  t.notRegex(bare, /a=ptime/);
  const r = negotiateOffer(bare, local(30));
  if (!r.ok) return t.fail(r.detail);
  t.is(r.media.ptime, 30);
  t.regex(r.answer, /\r\na=ptime:30\r\n/);
  const capped = negotiateOffer(bare.replace('a=sendrecv', 'a=maxptime:20\r\na=sendrecv'), local(40));
  t.like(capped, { ok: true, media: { ptime: 20 } }, 'the offer\'s maxptime caps our wish');
  t.like(negotiateOffer(createOffer(local(20)), local(40)), { ok: true, media: { ptime: 20 } }, 'the offerer asked for 20');
  t.like(negotiateOffer(bare, local()), { ok: true, media: { ptime: 20 } }, 'no wish either side: 20');
});

test('an answer without a=ptime leaves us sending with our offer\'s ptime', (t) => {
  const offer = local(40);
  const answer = createOffer({ ...local(), port: 40002 }).replace('a=ptime:20\r\n', '');
  t.like(negotiateAnswer(answer, offer), { ok: true, media: { ptime: 40 } });
  t.like(negotiateAnswer(createOffer({ ...local(), port: 40002 }), offer), { ok: true, media: { ptime: 20 } }, 'the answer\'s wish wins');
});

test('setPacketTime: 10, 20, 30, 40 or 60 on a known line', async (t) => {
  const e = await startEngine(t, { phoneName: 'ptime-codes' });
  for (const ok of [10, 20, 30, 40, 60]) t.is(e.engine.setPacketTime(0, ok), T.SipSuccess, String(ok));
  for (const bad of [0, 25, 80, 20.5, '40', undefined]) t.is(e.engine.setPacketTime(0, bad as number), T.SipBadParameter, String(bad));
  t.is(e.engine.setPacketTime(99, 20), T.SipBadPhoneLine);
  t.is(e.engine.setPacketTime(-1, 20), T.SipBadPhoneLine);
});

/** An engine on PCMU only answering every call. */
async function pcmuEngine(t: Parameters<typeof startEngine>[0], name: string): Promise<EngineUnderTest> {
  const rtp = await freePorts(8, { even: true });
  const e = await startEngine(t, { phoneName: name, minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[rtp.length - 1]! + 1 });
  e.engine.setAudioMediaFormats(0, [MediaFormatAudio.ULaw8k]);
  e.engine.on('SipOkToAnswerCall', (n) => e.engine.goOffHook(n.phoneLine));
  return e;
}

test('engine to engine, the caller\'s line 0 at 40 ms: 40 ms packets both ways, and each side hears the other', async (t) => {
  const a = await pcmuEngine(t, 'alice');
  const b = await pcmuEngine(t, 'bob');
  t.is(a.engine.setPacketTime(0, 40), T.SipSuccess);
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 0, true, 10000), T.SipSuccess);
  await b.waitFor(T.SipIncomingCallConnected);
  await a.waitFor(T.SipOutgoingCallConnected);
  const { heardAtA, heardAtB, received, rawAccess, captured } = await exchangeTones(a.engine, b.engine, 0, 700, 1300);
  t.deepEqual(rawAccess, [T.SipSuccess, T.SipSuccess]);
  t.true(captured);
  t.true(Math.abs(heardAtB.freq - 700) < 15 && heardAtB.levelDb > -20, `B hears ${heardAtB.freq.toFixed(1)} Hz at ${heardAtB.levelDb.toFixed(1)} dB`);
  t.true(Math.abs(heardAtA.freq - 1300) < 15 && heardAtA.levelDb > -20, `A hears ${heardAtA.freq.toFixed(1)} Hz at ${heardAtA.levelDb.toFixed(1)} dB`);
  // 40 ms of PCMU is 320 bytes: B sends with the ptime A asked for, A with the one B's answer repeats
  t.true(received.a.length > 10 && received.a.every((n) => n === 320), `A received ${received.a.slice(0, 20).join(',')}`);
  t.true(received.b.length > 10 && received.b.every((n) => n === 320), `B received ${received.b.slice(0, 20).join(',')}`);
});

peerTest('SIPp offers PCMU without a=ptime to a line set to 30 ms: the answer carries a=ptime:30', ['sipp'], async (t) => {
  const rtp = await freePorts(8, { even: true });
  const e = await startEngine(t, { phoneName: 'desk30', minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[rtp.length - 1]! + 1 });
  t.is(e.engine.setPacketTime(0, 30), T.SipSuccess);
  e.engine.on('SipOkToAnswerCall', (n) => e.engine.goOffHook(n.phoneLine));
  const [rtpPort] = await freePorts(2, { even: true });
  const [sipPort] = await freePorts(1);
  // a copy of the ptime scenario whose offer states no a=ptime and whose check wants 30
  const dir = mkdtempSync(path.join(tmpdir(), 'linescape-ptime-line-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const scenario = path.join(dir, 'uac-call-ptime.xml');
  const text = readFileSync(sippScenario('uac-call-ptime.xml'), 'latin1');
  t.true(text.includes('a=ptime:[0-9]+\\r') && text.includes('      a=ptime:[ptime]\n'));
  writeFileSync(scenario, text.replace('      a=ptime:[ptime]\n', '').replace('a=ptime:[0-9]+\\r', 'a=ptime:30\\r'), 'latin1');
  const run = runSipp(
    [`127.0.0.1:${e.port}`, '-sf', scenario, '-s', 'desk30', '-key', 'rtp_port', String(rtpPort), '-p', String(sipPort), '-m', '1', '-timeout', '30s', '-timeout_error'],
    { timeoutMs: 40_000, traceMessages: true },
  );
  const connected = await e.waitFor(T.SipIncomingCallConnected);
  t.is(await e.engine.terminateCall(connected.phoneLine, true, 5000), T.SipSuccess);
  const r = await run;
  t.is(r.code, 0, r.summary);
});
