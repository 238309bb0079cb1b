/**
 * Silence suppression on send: the VAD and CN schedule on their own, CN in the SDP, the
 * procedure's checks, and engine-to-engine calls where the sender talks (a tone), goes quiet
 * (room noise at −50 dBov) and talks again: with PCMU the quiet part goes as RFC 3389 CN
 * packets and the receiver plays noise at the level sent; with G.729 it goes as Annex B SID
 * frames.
 * @module
 */
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MediaFormatAudio, TelephonyReturnValue as T, VoipMediaEngine, type RawRtpData } from '../index.js';
import { comfortNoiseRms } from '../media/comfortNoise.js';
import { MULAW_ENCODE } from '../media/g711.js';
import {
  CN_REFRESH_FRAMES,
  cnLevelOf,
  frameDbov,
  SilenceSuppressor,
  TX_CN,
  TX_NONE,
  TX_VOICE,
  VAD_HANGOVER_FRAMES,
} from '../media/silenceSuppression.js';
import { createOffer, defaultFormat, negotiateAnswer, negotiateOffer, type LocalMedia } from '../sip/sdp.js';
import { resolveStartParams } from '../engine/startParams.js';
import { dominantFrequency, rmsDbfs } from './helpers/analysis.js';
import { capture } from './helpers/audio.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { mediaStats } from './helpers/mediaTime.js';
import { until } from './helpers/observe.js';
import { native, peerTest } from './helpers/env.js';
import { runSipp, sippScenario } from './helpers/peers.js';
import { freePorts } from './helpers/ports.js';
import { seededRandom } from './helpers/prng.js';

const RATE = 8000;
/** Sine amplitude of the talk: about −12 dBov. */
const TONE_AMPLITUDE = 8000;
/** The room noise's level while the talker is quiet, dBov. */
const NOISE_DBOV = -50;

/** `seconds` of a 1 kHz tone, then of uniform noise at {@link NOISE_DBOV}, as PCM at 8 kHz. */
function talkThenQuiet(toneSeconds: number, quietSeconds: number, seed = 7, noiseDbov = NOISE_DBOV): Int16Array {
  const nTone = Math.round(toneSeconds * RATE);
  const pcm = new Int16Array(nTone + Math.round(quietSeconds * RATE));
  for (let i = 0; i < nTone; i++) pcm[i] = Math.round(TONE_AMPLITUDE * Math.sin((2 * Math.PI * 1000 * i) / RATE));
  // uniform noise on [-a, a] has RMS a/√3
  const a = comfortNoiseRms(-noiseDbov) * Math.sqrt(3);
  const rnd = seededRandom(seed);
  for (let i = nTone; i < pcm.length; i++) pcm[i] = Math.round((rnd() * 2 - 1) * a);
  return pcm;
}

test('the VAD: speech, its hangover, then one CN packet at the level of the room and nothing more', (t) => {
  const sup = new SilenceSuppressor();
  const pcm = talkThenQuiet(1, 3);
  const decisions: number[] = [];
  for (let i = 0; i + 160 <= pcm.length; i += 160) decisions.push(sup.decide(pcm.subarray(i, i + 160), 160));
  const talk = decisions.slice(0, 50);
  const quiet = decisions.slice(50);
  t.true(talk.every((d) => d === TX_VOICE), 'the tone is speech');
  t.true(quiet.slice(0, VAD_HANGOVER_FRAMES).every((d) => d === TX_VOICE), 'the hangover keeps the word ending');
  const firstSilent = quiet.findIndex((d) => d !== TX_VOICE);
  t.is(firstSilent, VAD_HANGOVER_FRAMES);
  t.is(quiet[firstSilent], TX_CN, 'a CN packet starts the silence');
  t.is(quiet.filter((d) => d === TX_CN).length, 1, 'a steady room needs no update within 5 s');
  t.true(quiet.slice(firstSilent + 1).every((d) => d === TX_NONE));
  t.log(`CN level ${sup.level} for room noise at ${NOISE_DBOV} dBov`);
  t.true(Math.abs(sup.level + NOISE_DBOV) <= 1);
  // a long silence is refreshed every 5 s
  const quietPcm = pcm.subarray(pcm.length - 160);
  let cn = 0;
  for (let i = 0; i < CN_REFRESH_FRAMES * 2; i++) if (sup.decide(quietPcm, 160) === TX_CN) cn++;
  t.is(cn, 2);
  t.is(cnLevelOf(frameDbov(new Int16Array(160), 160)), 127, 'digital silence is level 127');
  // a call that starts in digital silence still takes a quiet room as silence
  const fresh = new SilenceSuppressor();
  const zero = new Int16Array(160);
  for (let i = 0; i < 50; i++) fresh.decide(zero, 160);
  t.is(fresh.level, 127);
  const room = quietPcm;
  const after = Array.from({ length: 20 }, () => fresh.decide(room, 160));
  t.false(after.includes(TX_VOICE), 'the room after digital silence is no speech');
  t.is(after.filter((d) => d === TX_CN).length, 1, 'one CN: the level moved from 127 to the room');
  t.true(Math.abs(fresh.level + NOISE_DBOV) <= 1);
});

test('SDP: CN is offered only when asked for (13 next to 8 kHz codecs, a dynamic one next to Opus) and answered only when both want it', (t) => {
  const local = (comfortNoise: boolean): LocalMedia => ({
    address: '127.0.0.1',
    port: 4000,
    formats: [defaultFormat('PCMU'), defaultFormat('opus')],
    telephoneEvent: true,
    direction: 'sendrecv',
    sessionId: '1',
    sessionVersion: 1,
    comfortNoise,
  });
  const off = createOffer(local(false));
  t.false(off.includes('CN/'));
  const on = createOffer(local(true));
  t.regex(on, /a=rtpmap:13 CN\/8000\r\n/);
  t.regex(on, /a=rtpmap:\d+ CN\/48000\r\n/);
  t.regex(on, /m=audio 4000 RTP\/AVP 0 111 101 100 13 \d+\r\n/);
  // the answerer: CN in the answer only with suppression on
  const answerOn = negotiateOffer(on, { ...local(true), formats: [defaultFormat('PCMU')] });
  t.true(answerOn.ok && answerOn.answer.includes('a=rtpmap:13 CN/8000') && answerOn.media.comfortNoiseAgreed === true);
  const answerOff = negotiateOffer(on, { ...local(false), formats: [defaultFormat('PCMU')] });
  t.true(answerOff.ok && !answerOff.answer.includes('CN/') && answerOff.media.comfortNoiseAgreed === undefined);
  t.true(answerOff.ok && answerOff.media.comfortNoisePayloadType === 13, 'their CN is still understood');
  // the offerer: agreed when the answer lists CN at the codec's clock
  if (!answerOn.ok || !answerOff.ok) return;
  const back = negotiateAnswer(answerOn.answer, local(true));
  t.true(back.ok && back.media.comfortNoiseAgreed === true && back.media.comfortNoisePayloadType === 13);
  const backOff = negotiateAnswer(answerOff.answer, local(true));
  t.true(backOff.ok && backOff.media.comfortNoiseAgreed === undefined);
});

test('setSilenceSuppression: checked like every line procedure; the start option is validated', async (t) => {
  const e = await startEngine(t, { numPhoneLinesRequested: 2 });
  t.is(e.engine.setSilenceSuppression(1, true), T.SipSuccess);
  t.is(e.engine.setSilenceSuppression(1, false), T.SipSuccess);
  t.is(e.engine.setSilenceSuppression(2, true), T.SipBadPhoneLine);
  t.is(e.engine.setSilenceSuppression(0, 1 as unknown as boolean), T.SipBadParameter);
  t.is(VoipMediaEngine.prototype.setSilenceSuppression.call(Object.create(null), 0, true), T.SipInvalidHandle);
  t.is(resolveStartParams({ silenceSuppression: 'yes' }), T.SipBadParameter);
  const ok = resolveStartParams({ silenceSuppression: true });
  t.true(typeof ok === 'object' && ok.silenceSuppression);
});

/** Two engines in a call, A the caller, with the formats given on both lines. */
async function call(t: ExecutionContext, formats: MediaFormatAudio[]): Promise<[EngineUnderTest, EngineUnderTest]> {
  // A turns suppression on by procedure, B by start option
  const a = await startEngine(t, { phoneName: 'alice' });
  const b = await startEngine(t, { phoneName: 'bob', silenceSuppression: true });
  t.is(a.engine.setSilenceSuppression(0, true), T.SipSuccess);
  t.is(a.engine.setAudioMediaFormats(0, formats), T.SipSuccess);
  t.is(b.engine.setAudioMediaFormats(0, formats), T.SipSuccess);
  b.engine.on('SipOkToAnswerCall', (n) => b.engine.goOffHook(n.phoneLine));
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 0, true, 5000), T.SipSuccess);
  await b.waitFor(T.SipIncomingCallConnected);
  return [a, b];
}

/** Writes `pcm` into A's Tx IVR channel. */
function say(a: EngineUnderTest, pcm: Int16Array): void {
  const r = a.engine.openTxIvrChannel(0, { sampleRate: RATE });
  if (r.result !== T.SipSuccess || !r.channel) throw new Error(T[r.result]);
  r.channel.write(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
}

/** 20 ms blocks of `pcm`: their level in dBFS. */
function blockLevels(pcm: Int16Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 160 <= pcm.length; i += 160) out.push(rmsDbfs(pcm, i, i + 160));
  return out;
}

test('engine to engine, PCMU: talk, quiet, talk: the quiet goes as a few CN packets and plays as noise at the level sent', async (t) => {
  const [a, b] = await call(t, [MediaFormatAudio.ULaw8k]);
  const cap = capture(b.engine, 0);
  // the levels of the CN packets after the talk began: the call opens in digital silence, whose
  // CN (level 127) reaches the handler or not depending on who was first, the handler or A's tick
  const cnLevels: number[] = [];
  let talked = false;
  b.engine.enableRawRtpPacketAccess(0, true, (d: RawRtpData) => {
    if (d.transmittingPacket) return;
    if (d.payloadType === 0) talked = true;
    else if (d.payloadType === 13 && talked) cnLevels.push(d.payload[0]!);
  });
  const tone = talkThenQuiet(1, 0);
  const quiet = talkThenQuiet(0, 2.5);
  // before the IVR channel plays, the line sends digital silence: suppressed too
  const start = cap.samples().length;
  say(a, Int16Array.from([...tone, ...quiet, ...tone]));
  // 4.5 s of talk, quiet, talk, plus the jitter buffer's delay and a margin
  t.true(await until(() => cap.samples().length >= start + 5 * RATE, 30000));
  const heard = cap.samples().subarray(start);
  const levels = blockLevels(heard);
  const loud = levels.map((l, i) => (l > -25 ? i : -1)).filter((i) => i >= 0);
  // the two talk spurts: loud blocks before and after the longest run of quiet ones
  let bestStart = 0;
  let bestLen = 0;
  for (let i = 0, run = 0; i < levels.length; i++) {
    run = levels[i]! > -25 ? 0 : run + 1;
    if (run > bestLen && loud.some((j) => j < i - run) && loud.some((j) => j > i)) {
      bestLen = run;
      bestStart = i - run + 1;
    }
  }
  // judge the middle of the quiet (its edges hold the hangover and the ramps)
  const mid = heard.subarray((bestStart + 25) * 160, (bestStart + bestLen - 10) * 160);
  const midLevels = blockLevels(mid);
  t.log(levels.map((l) => (l > -25 ? "T" : l > -60 ? "n" : "_")).join(""), bestStart, bestLen);
  const expected = NOISE_DBOV - 3.01; // dBFS of noise at −50 dBov
  const sa = mediaStats(a.engine, 0)!;
  const sb = mediaStats(b.engine, 0)!;
  const quietSeconds = (bestLen * 160) / RATE;
  t.log(`A sent ${sa.tx.packets} packets, ${sa.tx.comfortNoisePackets} of them CN, ${sa.tx.suppressedFrames} frames suppressed; B got ${sb.rx.packetsIn} packets, ${sb.comfortNoise.packets} CN at levels ${cnLevels.join(', ')}`);
  t.log(`quiet ${quietSeconds.toFixed(2)} s: ${midLevels.length} blocks at ${Math.min(...midLevels).toFixed(1)}..${Math.max(...midLevels).toFixed(1)} dBFS (sent ${expected.toFixed(1)})`);
  t.true(sa.tx.comfortNoisePackets >= 1 && sb.comfortNoise.packets >= 1, 'CN packets sent and received');
  // the first CN of the quiet states the room; the last ones follow the IVR channel running dry
  t.true(Math.abs(cnLevels[0]! + NOISE_DBOV) <= 1, `the level sent is the room's (${cnLevels.join(', ')})`);
  // packets during the quiet: CN only, far fewer than 50 a second
  t.true(sa.tx.comfortNoisePackets / (sa.tx.suppressedFrames * 0.02) < 5, 'under 5 packets a second in silence');
  t.true(sb.rx.packetsIn < sa.tx.packets + sa.tx.suppressedFrames - 100, 'the receiver got far fewer packets than frames');
  t.true(midLevels.length >= 40, `${midLevels.length} blocks of the quiet heard`);
  t.true(midLevels.every((l) => Math.abs(l - expected) < 3), 'comfort noise at the level sent, not digital silence');
  const talk2 = heard.subarray((bestStart + bestLen + 5) * 160, (bestStart + bestLen + 35) * 160);
  t.true(Math.abs(dominantFrequency(talk2, RATE) - 1000) < 15, 'the tone after the silence');
});

peerTest('engine to engine, G.729 with Annex B: the quiet goes as SID frames and gaps, the talk as speech', [native('bcg729')], async (t) => {
  const [a, b] = await call(t, [MediaFormatAudio.G729]);
  const payloads: number[] = [];
  t.is(b.engine.enableRawRtpPacketAccess(0, true, (d: RawRtpData) => {
    if (!d.transmittingPacket && d.payloadType === 18) payloads.push(d.payload.length);
  }), T.SipSuccess);
  say(a, Int16Array.from([...talkThenQuiet(1, 2.5), ...talkThenQuiet(1, 0)]));
  const tx = () => mediaStats(a.engine, 0)!.tx;
  t.true(await until(() => tx().suppressedFrames >= 60 && payloads.filter((n) => n === 20).length >= 90, 30000));
  const sa = mediaStats(a.engine, 0)!;
  const sids = payloads.filter((n) => n % 10 === 2).length;
  t.log(`A: ${sa.tx.packets} packets, ${sa.tx.suppressedFrames} frames not sent, ${sa.tx.comfortNoisePackets} CN; B: ${payloads.length} G.729 payloads, ${sids} with a SID frame`);
  t.is(mediaStats(a.engine, 0)!.codec, 'G729');
  t.true(sids >= 1, 'SID frames in the quiet');
  t.is(sa.tx.comfortNoisePackets, 0, 'Annex B, not RFC 3389 CN');
});

/** 20 ms of a 1 kHz tone in PCMU, the phase running on from `from` samples. */
function pcmuTone(from: number): Buffer {
  const p = Buffer.alloc(160);
  for (let i = 0; i < 160; i++) p[i] = MULAW_ENCODE[Math.round(TONE_AMPLITUDE * Math.sin(((from + i) * 2 * Math.PI * 1000) / RATE)) & 0xffff]!;
  return p;
}

/**
 * A pcap file (libpcap format, Ethernet) of RTP from 127.0.0.1:`port` to 127.0.0.1:`port`: 1 s
 * of PCMU tone, 2 s of silence as CN packets (PT 13, `level`) every 200 ms, 1 s of tone again
 * (its first packet marked), paced 20 ms apart as a phone sends them.
 */
function cnPcap(level: number, port = 6000): Buffer {
  const packets: { us: number; rtp: Buffer }[] = [];
  let seq = 100;
  let ts = 1000;
  const rtp = (pt: number, marker: boolean, payload: Buffer): Buffer => {
    const b = Buffer.alloc(12 + payload.length);
    b[0] = 0x80;
    b[1] = (marker ? 0x80 : 0) | pt;
    b.writeUInt16BE(seq++ & 0xffff, 2);
    b.writeUInt32BE(ts >>> 0, 4);
    b.writeUInt32BE(0xc0ffee, 8);
    payload.copy(b, 12);
    return b;
  };
  for (let f = 0; f < 200; f++) {
    const us = f * 20_000;
    if (f < 50 || f >= 150) packets.push({ us, rtp: rtp(0, f === 0 || f === 150, pcmuTone(f * 160)) });
    else if ((f - 50) % 10 === 0) packets.push({ us, rtp: rtp(13, false, Buffer.of(level)) });
    ts += 160;
  }
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0); // magic: microsecond timestamps, our byte order
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16); // snaplen
  header.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  const records = packets.map(({ us, rtp: r }) => {
    const frame = Buffer.alloc(14 + 20 + 8 + r.length);
    frame.writeUInt16BE(0x0800, 12); // IPv4; both MAC addresses zero
    const ip = 14;
    frame[ip] = 0x45;
    frame.writeUInt16BE(20 + 8 + r.length, ip + 2);
    frame[ip + 8] = 64; // TTL
    frame[ip + 9] = 17; // UDP
    frame.set([127, 0, 0, 1], ip + 12);
    frame.set([127, 0, 0, 1], ip + 16);
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += frame.readUInt16BE(ip + i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    frame.writeUInt16BE(~sum & 0xffff, ip + 10);
    const udp = ip + 20;
    frame.writeUInt16BE(port, udp);
    frame.writeUInt16BE(port, udp + 2);
    frame.writeUInt16BE(8 + r.length, udp + 4); // checksum 0: none (IPv4)
    r.copy(frame, udp + 8);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(us / 1e6) + 1_700_000_000, 0);
    rec.writeUInt32LE(us % 1_000_000, 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    return Buffer.concat([rec, frame]);
  });
  return Buffer.concat([header, ...records]);
}

peerTest('SIPp plays a pcap of a phone with CN (PT 13, level 40) into a line: the tone, noise at −40 dBov without clicks, the tone again', ['sipp'], async (t) => {
  const level = 40;
  const dir = mkdtempSync(path.join(tmpdir(), 'linescape-cn-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'cn-tone.pcap'), cnPcap(level));
  const e = await startEngine(t, { phoneName: 'desk', silenceSuppression: true });
  t.is(e.engine.setAudioMediaFormats(0, [MediaFormatAudio.ULaw8k]), T.SipSuccess);
  e.engine.on('SipOkToAnswerCall', (n) => e.engine.goOffHook(n.phoneLine));
  const cnLevels: number[] = [];
  // when the quiet began and ended on the wire: SIPp paces the pcap itself, and on a loaded
  // machine its packets come late or bunched, so the quiet's length is judged against these
  let cnArrival: number | undefined;
  let toneBackArrival: number | undefined;
  let cap: ReturnType<typeof capture> | undefined;
  e.engine.on('SipIncomingCallConnected', (n) => {
    cap = capture(e.engine, n.phoneLine);
    e.engine.enableRawRtpPacketAccess(n.phoneLine, true, (d: RawRtpData) => {
      if (d.transmittingPacket) return;
      if (d.payloadType === 13) {
        cnLevels.push(d.payload[0]!);
        cnArrival ??= performance.now();
      } else if (cnArrival !== undefined) toneBackArrival ??= performance.now();
    });
  });
  const [sipPort] = await freePorts(1);
  const [mediaPort] = await freePorts(2, { even: true });
  const r = await runSipp(
    [`127.0.0.1:${e.port}`, '-sf', sippScenario('uac-call-pcap-cn.xml'), '-s', 'desk', '-p', String(sipPort), '-mp', String(mediaPort), '-m', '1', '-timeout', '30s', '-timeout_error'],
    { cwd: dir, timeoutMs: 40_000, traceMessages: true },
  );
  t.is(r.code, 0, r.summary);
  t.truthy(cap, 'the call connected');
  const heard = cap!.samples();
  const levels = blockLevels(heard);
  // the noise: the longest run of quiet blocks with the tone before and after it
  let bestStart = 0;
  let bestLen = 0;
  let seenLoud = false;
  for (let i = 0, run = 0; i < levels.length; i++) {
    if (levels[i]! > -25) {
      if (seenLoud && run > bestLen) {
        bestLen = run;
        bestStart = i - run;
      }
      seenLoud = true;
      run = 0;
    } else run++;
  }
  t.log(levels.map((l) => (l > -25 ? 'T' : l > -60 ? 'n' : '_')).join(''));
  const expected = -level - 3.01;
  const noise = heard.subarray((bestStart + 2) * 160, (bestStart + bestLen - 2) * 160);
  const mid = blockLevels(noise);
  const peak = noise.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const target = comfortNoiseRms(level);
  t.log(`CN received at ${cnLevels.join(', ')}; quiet ${bestLen} blocks at ${Math.min(...mid).toFixed(1)}..${Math.max(...mid).toFixed(1)} dBFS (stated ${expected.toFixed(1)}); peak ${peak} = ${(peak / target).toFixed(2)}× the RMS`);
  t.true(cnLevels.length >= 8 && cnLevels.every((l) => l === level), 'the CN packets came through');
  // 2 s were sent; the run heard matches the quiet's span on the wire within the jitter
  // buffer's own adaptation (a few frames), and it is never a short spurious gap
  const wireBlocks = (toneBackArrival! - cnArrival!) / 20;
  t.log(`quiet on the wire ${wireBlocks.toFixed(1)} blocks, heard ${bestLen}`);
  t.true(bestLen >= 50 && Math.abs(bestLen - wireBlocks) <= 12, `the quiet heard (${bestLen} blocks) spans the quiet sent (${wireBlocks.toFixed(1)} blocks on the wire)`);
  t.true(mid.every((l) => Math.abs(l - expected) < 3), 'noise at the stated level all through, never digital silence');
  t.true(peak <= 2 * target, 'no clicks: no sample beyond twice the RMS');
  const before = heard.subarray((bestStart - 30) * 160, (bestStart - 5) * 160);
  const after = heard.subarray((bestStart + bestLen + 5) * 160, (bestStart + bestLen + 30) * 160);
  t.true(Math.abs(dominantFrequency(before, RATE) - 1000) < 15 && Math.abs(dominantFrequency(after, RATE) - 1000) < 15, 'the tone before and after');
});

test('engine to engine, Opus: suppression turns DTX on, the quiet (−60 dBov) goes as a packet every few hundred ms, the tone comes back', async (t) => {
  const [a, b] = await call(t, [MediaFormatAudio.Opus48k]);
  const cap = capture(b.engine, 0);
  const start = cap.samples().length;
  // libopus's own detector decides: room noise at −50 dBov is still signal to it, at −60 it is not
  say(a, Int16Array.from([...talkThenQuiet(1, 2.5, 7, -60), ...talkThenQuiet(1, 0)]));
  t.true(await until(() => cap.samples().length >= start + 5 * RATE, 30000));
  const sa = mediaStats(a.engine, 0)!;
  t.log(`A: ${sa.tx.packets} Opus packets, ${sa.tx.suppressedFrames} DTX frames not sent, ${sa.tx.comfortNoisePackets} CN`);
  t.is(sa.codec, 'opus');
  t.true(sa.tx.suppressedFrames >= 80, 'the quiet is not sent frame by frame');
  t.is(sa.tx.comfortNoisePackets, 0, 'Opus DTX, not RFC 3389 CN');
  const heard = cap.samples().subarray(start);
  const levels = blockLevels(heard);
  const lastLoud = levels.reduce((m, l, i) => (l > -25 ? i : m), -1);
  const talk2 = heard.subarray((lastLoud - 30) * 160, (lastLoud - 5) * 160);
  t.true(lastLoud > 150 && Math.abs(dominantFrequency(talk2, RATE) - 1000) < 15, 'the tone after the silence');
});
