/**
 * SRTP calls engine to engine on loopback: every suite carries tones both ways; the policies
 * (none / optional / mandatory, per engine and per line) give the right offers, answers and
 * refusals; a tampered packet is dropped and counted while the audio goes on; no key reaches the
 * SIP log.
 * @module
 */
import { TelephonyReturnValue as T, MediaFormatAudio, type SrtpPolicy } from '../index.js';
import { SRTP_SUITES, srtpSuiteSupported } from '../ffi/srtp.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { analyse, capture, sendTone } from './helpers/audio.js';
import { blocksWithoutTone, receiveTrouble } from './helpers/mediaTime.js';
import { until } from './helpers/observe.js';
import { captureLog } from './helpers/log.js';
import { UdpRelay } from './helpers/udpRelay.js';
import { native, peerTest } from './helpers/env.js';

const SRTP = [native('srtp2')];
const HOST = '127.0.0.1';

/** SRTP figures of a line's call statistics. */
interface SrtpFigures {
  suite: string;
  srtpAuthFailures: number;
  srtpReplays: number;
}

function srtpStats(e: EngineUnderTest, line: number): SrtpFigures | undefined {
  return (e.engine.getActiveCallInfo(line).statistics as { srtp?: SrtpFigures } | undefined)?.srtp;
}

/** Answers every call that rings on `e`. */
function autoAnswer(e: EngineUnderTest): void {
  e.engine.on('SipOkToAnswerCall', (n) => e.engine.goOffHook(n.phoneLine));
}

/** The SDPs of the INVITE `a` sends and of the final answer it receives, seen through the message hook (keys included). */
function watchSdp(a: EngineUnderTest): { offer?: string; answer?: string; answerStatus?: number; warning?: string } {
  const seen: { offer?: string; answer?: string; answerStatus?: number; warning?: string } = {};
  a.engine.enableSipMessageHook(true);
  a.engine.on('SipModifySipMessage', (n) => {
    const m = n.data.message;
    if (n.data.direction === 'sent' && m.startsWith('INVITE ')) seen.offer = m.slice(m.indexOf('\r\n\r\n') + 4);
    const status = /^SIP\/2\.0 (\d{3})/.exec(m);
    if (n.data.direction === 'received' && status && Number(status[1]) >= 200 && /CSeq: *\d+ INVITE/i.test(m)) {
      seen.answerStatus = Number(status[1]);
      seen.answer = m.slice(m.indexOf('\r\n\r\n') + 4);
      seen.warning = /\r\nWarning: *([^\r]*)/i.exec(m)?.[1];
    }
  });
  return seen;
}

/** Both sides hear the other's tone over the last 0.5 s (blocks spoiled by measured trouble excepted). */
async function tonesBothWays(t: Parameters<Parameters<typeof peerTest>[2]>[0], a: EngineUnderTest, b: EngineUnderTest, up: number, down: number): Promise<void> {
  const atB = capture(b.engine, 0);
  const atA = capture(a.engine, 0);
  const troubleB0 = receiveTrouble(b.engine, 0);
  const troubleA0 = receiveTrouble(a.engine, 0);
  sendTone(a.engine, 0, up, 3);
  sendTone(b.engine, 0, down, 3);
  t.true(await until(() => atA.samples().length >= 12000 && atB.samples().length >= 12000, 30000), '1.5 s heard each way');
  const window = 4000;
  const badB = blocksWithoutTone(atB.samples().subarray(-window), 8000, up);
  const badA = blocksWithoutTone(atA.samples().subarray(-window), 8000, down);
  const troubleB = receiveTrouble(b.engine, 0) - troubleB0;
  const troubleA = receiveTrouble(a.engine, 0) - troubleA0;
  t.true(badB <= 2 * troubleB, `callee: ${badB} blocks without ${up} Hz (heard ${analyse(atB.samples()).freq.toFixed(1)} Hz), ${troubleB} frames of trouble`);
  t.true(badA <= 2 * troubleA, `caller: ${badA} blocks without ${down} Hz (heard ${analyse(atA.samples()).freq.toFixed(1)} Hz), ${troubleA} frames of trouble`);
  atA.close();
  atB.close();
}

for (const suite of SRTP_SUITES) {
  peerTest(`engine to engine with ${suite}: mandatory both sides, tones both ways, call info says encrypted`, SRTP, async (t) => {
    if (!srtpSuiteSupported(suite)) {
      t.pass(`${suite} is not in this libsrtp2 build`);
      return;
    }
    const a = await startEngine(t, { phoneName: 'alice', srtpPolicy: 'mandatory', srtpSuites: [suite] });
    const b = await startEngine(t, { phoneName: 'bob', srtpPolicy: 'mandatory', srtpSuites: [suite] });
    a.engine.setAudioMediaFormats(0, [MediaFormatAudio.ULaw8k]);
    autoAnswer(b);
    const sdp = watchSdp(a);
    t.is(await a.engine.makeCall('bob', HOST, b.port, 0, true, 10000), T.SipSuccess);
    await b.waitFor(T.SipIncomingCallConnected);
    t.regex(sdp.offer ?? '', /m=audio \d+ RTP\/SAVP /);
    t.regex(sdp.offer ?? '', new RegExp(`a=crypto:1 ${suite} inline:`));
    t.regex(sdp.answer ?? '', /m=audio \d+ RTP\/SAVP /);
    t.regex(sdp.answer ?? '', new RegExp(`a=crypto:1 ${suite} inline:`));
    for (const e of [a, b]) t.like(e.engine.getActiveCallInfo(0), { result: T.SipSuccess, encrypted: true, srtpSuite: suite });
    await tonesBothWays(t, a, b, 700, 1100);
    for (const e of [a, b]) t.like(srtpStats(e, 0), { suite, srtpAuthFailures: 0, srtpReplays: 0 });
    t.is(await a.engine.terminateCall(0, true, 5000), T.SipSuccess);
  });
}

/** One row of the policy matrix: what the caller offers, what the callee answers, and the outcome. */
interface PolicyCase {
  caller: SrtpPolicy;
  callee: SrtpPolicy;
  /** The offer's profile and whether it has a=crypto. */
  offer: { profile: 'RTP/AVP' | 'RTP/SAVP'; crypto: boolean };
  /** The final status the caller receives, and (for 200) whether the call is encrypted. */
  status: number;
  encrypted?: boolean;
}

const POLICY_CASES: PolicyCase[] = [
  { caller: 'optional', callee: 'optional', offer: { profile: 'RTP/AVP', crypto: true }, status: 200, encrypted: true },
  { caller: 'optional', callee: 'mandatory', offer: { profile: 'RTP/AVP', crypto: true }, status: 200, encrypted: true },
  { caller: 'mandatory', callee: 'optional', offer: { profile: 'RTP/SAVP', crypto: true }, status: 200, encrypted: true },
  { caller: 'optional', callee: 'none', offer: { profile: 'RTP/AVP', crypto: true }, status: 200, encrypted: false },
  { caller: 'none', callee: 'optional', offer: { profile: 'RTP/AVP', crypto: false }, status: 200, encrypted: false },
  { caller: 'none', callee: 'mandatory', offer: { profile: 'RTP/AVP', crypto: false }, status: 488 },
  { caller: 'mandatory', callee: 'none', offer: { profile: 'RTP/SAVP', crypto: true }, status: 488 },
];

for (const c of POLICY_CASES) {
  peerTest(`policy ${c.caller} calling ${c.callee}: ${c.offer.profile}${c.offer.crypto ? ' with a=crypto' : ''} offered, ${c.status}${c.encrypted === undefined ? '' : c.encrypted ? ' SRTP' : ' plain RTP'}`, SRTP, async (t) => {
    const a = await startEngine(t, { phoneName: 'alice', srtpPolicy: c.caller });
    // the callee's policy is set per line, over an engine default that says otherwise
    const b = await startEngine(t, { phoneName: 'bob', srtpPolicy: c.callee === 'none' ? 'mandatory' : 'none' });
    t.is(b.engine.setSrtpPolicy(0, c.callee), T.SipSuccess);
    autoAnswer(b);
    const sdp = watchSdp(a);
    const rc = await a.engine.makeCall('bob', HOST, b.port, 0, true, 10000);
    t.regex(sdp.offer ?? '', new RegExp(`m=audio \\d+ ${c.offer.profile.replace('/', '\\/')} `));
    t.is(/a=crypto:/.test(sdp.offer ?? ''), c.offer.crypto);
    if (c.status === 200) {
      t.is(rc, T.SipSuccess);
      await b.waitFor(T.SipIncomingCallConnected);
      t.is(sdp.answerStatus, 200);
      t.is(/a=crypto:/.test(sdp.answer ?? ''), c.encrypted === true);
      t.like(a.engine.getActiveCallInfo(0), { encrypted: c.encrypted });
      t.like(b.engine.getActiveCallInfo(0), { encrypted: c.encrypted });
      t.is(await a.engine.terminateCall(0, true, 5000), T.SipSuccess);
    } else {
      await a.waitFor(T.SipFarEndError);
      t.is(sdp.answerStatus, c.status);
      // a callee without SRTP says 305 unsupported transport RTP/SAVP; one requiring it 302
      t.regex(sdp.warning ?? '', c.callee === 'none' ? /^305 .*unsupported transport RTP\/SAVP/ : /^302 .*SRTP required/);
      t.is(a.engine.getOutgoingCallErrorInfo(0).responseCode, c.status);
    }
  });
}

peerTest('setSrtpPolicy refuses unknown policies and lines', SRTP, async (t) => {
  const a = await startEngine(t, { phoneName: 'alice' });
  t.is(a.engine.setSrtpPolicy(0, 'always' as SrtpPolicy), T.SipBadParameter);
  t.is(a.engine.setSrtpPolicy(7, 'optional'), T.SipBadPhoneLine);
  const bad = new (a.engine.constructor as new () => typeof a.engine)();
  t.is(await bad.startSipTelephony({ ipAddressOfThisHost: HOST, sipPort: 0, srtpPolicy: 'sometimes' as SrtpPolicy }), T.SipBadParameter);
  t.is(await bad.startSipTelephony({ ipAddressOfThisHost: HOST, sipPort: 0, srtpSuites: [] }), T.SipBadParameter);
});

peerTest('a tampered SRTP packet is dropped and counted while the audio goes on; keys never reach the SIP log', SRTP, async (t) => {
  const log = captureLog('info');
  const a = await startEngine(t, { phoneName: 'alice', srtpPolicy: 'mandatory', logSipMessages: true, logger: log.logger });
  const b = await startEngine(t, { phoneName: 'bob', srtpPolicy: 'mandatory' });
  a.engine.setAudioMediaFormats(0, [MediaFormatAudio.ULaw8k]);
  autoAnswer(b);
  // Alice's RTP to Bob crosses a relay that flips a byte of one packet in 20
  const relay = await UdpRelay.create({ target: { host: HOST, port: 9 }, seed: 7, toTarget: { corrupt: 0.05 } });
  t.teardown(() => relay.close());
  await relay.prepareUpstream();
  const keys: string[] = [];
  a.engine.enableSipMessageHook(true);
  a.engine.on('SipModifySipMessage', (n) => {
    const d = n.data;
    for (const k of d.message.matchAll(/inline:([A-Za-z0-9+/=]+)/g)) keys.push(k[1]!);
    const m = /\r\nm=audio (\d+) /.exec(d.message);
    if (!m) return;
    const port = Number(m[1]);
    let relayPort: number | undefined;
    if (d.direction === 'sent' && d.message.startsWith('INVITE ')) relayPort = relay.claimUpstream({ host: HOST, port });
    else if (d.direction === 'received' && d.message.startsWith('SIP/2.0 200') && /CSeq: *\d+ INVITE/i.test(d.message)) {
      relay.setTarget({ host: HOST, port });
      relayPort = relay.port;
    }
    if (relayPort !== undefined) d.message = d.message.replace(m[0], `\r\nm=audio ${relayPort} `);
  });
  t.is(await a.engine.makeCall('bob', HOST, b.port, 0, true, 10000), T.SipSuccess);
  await b.waitFor(T.SipIncomingCallConnected);
  const atB = capture(b.engine, 0);
  sendTone(a.engine, 0, 900, 30);
  t.true(await until(() => relay.stats.toTarget.corrupted >= 5 && atB.samples().length >= 16000, 60000), 'five packets tampered with');
  const stats = srtpStats(b, 0);
  t.truthy(stats);
  t.true((stats?.srtpAuthFailures ?? 0) >= 1, `auth failures counted (${stats?.srtpAuthFailures})`);
  t.true((stats?.srtpAuthFailures ?? 0) <= relay.stats.toTarget.corrupted);
  // the tone still dominates what Bob heard over the last second
  const heard = analyse(atB.samples(), 8000, 1);
  t.true(Math.abs(heard.freq - 900) < 18, `Bob hears ${heard.freq.toFixed(1)} Hz`);
  atB.close();
  t.is(await a.engine.terminateCall(0, true, 5000), T.SipSuccess);
  // the log has every SIP message, and no key: the offer's four and Bob's answer
  t.true(keys.length >= 5, `keys seen through the hook: ${keys.length}`);
  const sipLines = log.records.filter((r) => typeof r.sip === 'string').map((r) => r.sip as string);
  t.true(sipLines.some((s) => s.includes('a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:<redacted>')), 'crypto lines logged redacted');
  const whole = JSON.stringify(log.records);
  for (const k of keys) t.false(whole.includes(k), 'no key in the log');
});

peerTest('hold and resume by re-INVITE keep the SRTP keys; the audio comes back with no SRTP drops', SRTP, async (t) => {
  const a = await startEngine(t, { phoneName: 'alice', srtpPolicy: 'optional' });
  const b = await startEngine(t, { phoneName: 'bob', srtpPolicy: 'optional' });
  a.engine.setAudioMediaFormats(0, [MediaFormatAudio.ULaw8k]);
  autoAnswer(b);
  const offers: string[] = [];
  a.engine.enableSipMessageHook(true);
  a.engine.on('SipModifySipMessage', (n) => {
    const m = n.data.message;
    if (n.data.direction === 'sent' && m.startsWith('INVITE ')) offers.push(m.slice(m.indexOf('\r\n\r\n') + 4));
  });
  t.is(await a.engine.makeCall('bob', HOST, b.port, 0, true, 10000), T.SipSuccess);
  await b.waitFor(T.SipIncomingCallConnected);
  t.is(await a.engine.holdLine(0, true), T.SipSuccess);
  await a.waitFor(T.SipCallHoldOn);
  t.is(await a.engine.holdLine(0, false), T.SipSuccess);
  await a.waitFor(T.SipCallHoldOff);
  t.is(offers.length, 3, 'INVITE, hold and resume re-INVITEs');
  const keys = offers.map((o) => [...o.matchAll(/a=crypto:(\d+ \S+ inline:\S+)/g)].map((m) => m[1]).join('\n'));
  t.is(keys[1], keys[0], 'the hold re-offer repeats our keys');
  t.is(keys[2], keys[0], 'the resume re-offer repeats our keys');
  for (const e of [a, b]) t.like(e.engine.getActiveCallInfo(0), { encrypted: true, srtpSuite: 'AES_CM_128_HMAC_SHA1_80' });
  await tonesBothWays(t, a, b, 650, 1250);
  for (const e of [a, b]) t.like(srtpStats(e, 0), { srtpAuthFailures: 0, srtpReplays: 0 });
  t.is(await a.engine.terminateCall(0, true, 5000), T.SipSuccess);
});
