/**
 * Packet times other than 20 ms (issue 10 item 10; RFC 4566 §6, RFC 3551 §4.5):
 * - the choice (sip/ptime.ts): the remote's ptime rounded to whole units of the codec, capped by
 *   maxptime and 60 ms; Opus 20 ms; a maxptime shorter than a unit leaves the codec out (488 with
 *   Warning 305 when no codec is left);
 * - packing and cutting (media/packetTime.ts): 20 ms frames into 10/30/40/60 ms packets with
 *   the right timestamps, and received packets back into 20 ms frames;
 * - a SIPp UAC offering ptime 10, 30 and 40: the 200 carries the same a=ptime (SIPp checks it), and
 *   the engine's RTP, read on a plain UDP socket, has that duration per packet (payload bytes and
 *   timestamp step);
 * - engine to engine with packetTimeMs 40: both send 40 ms packets and each hears the other's
 *   tone at its frequency.
 */
import test from 'ava';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TelephonyReturnValue as T, MediaFormatAudio } from '../index.js';
import { resolveStartParams } from '../engine/startParams.js';
import { choosePacketTime } from '../sip/ptime.js';
import { createOffer, negotiateOffer, type LocalMedia } from '../sip/sdp.js';
import { payloadUnitOf, RxReframer, TxPacketizer, type ReadyPacket } from '../media/packetTime.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { exchangeTones, sendTone } from './helpers/audio.js';
import { until } from './helpers/observe.js';
import { peerTest } from './helpers/env.js';
import { runSipp, sippScenario } from './helpers/peers.js';
import { freePorts } from './helpers/ports.js';

test('the packet time: whole units up to maxptime and 60 ms; Opus 20; too short a maxptime is none', (t) => {
  t.is(choosePacketTime('PCMU', 30, undefined), 30);
  t.is(choosePacketTime('PCMU', 40, 30), 30);
  t.is(choosePacketTime('PCMA', 10, undefined), 10);
  t.is(choosePacketTime('G722', 25, undefined), 20, 'rounded down to 10 ms units');
  t.is(choosePacketTime('PCMU', 120, undefined), 60, 'no more than 60 ms');
  t.is(choosePacketTime('GSM', 30, undefined), 20, 'GSM frames are 20 ms');
  t.is(choosePacketTime('GSM', 60, undefined), 60);
  t.is(choosePacketTime('GSM', 10, 10), undefined, 'a GSM packet does not fit in 10 ms');
  t.is(choosePacketTime('opus', 40, undefined), 20);
  t.is(choosePacketTime('opus', 10, 10), undefined);
});

const local = (codecs: LocalMedia['formats']): LocalMedia => ({
  address: '127.0.0.1',
  port: 40000,
  formats: codecs,
  telephoneEvent: true,
  direction: 'sendrecv',
  sessionId: '1',
  sessionVersion: 1,
});
const PCMU = { name: 'PCMU' as const, payloadType: 0, clockRate: 8000 };
const GSM = { name: 'GSM' as const, payloadType: 3, clockRate: 8000 };

test('an offer with ptime 40 is answered with ptime 40; maxptime shorter than every codec is 488 + 305', (t) => {
  const offer = createOffer({ ...local([PCMU, GSM]), ptime: 40 });
  const r = negotiateOffer(offer, local([PCMU]));
  if (!r.ok) return t.fail(r.detail);
  t.is(r.media.ptime, 40);
  t.regex(r.answer, /\r\na=ptime:40\r\n/);
  const tight = createOffer(local([GSM])).replace('a=ptime:20', 'a=ptime:10\r\na=maxptime:10');
  const refused = negotiateOffer(tight, local([GSM]));
  t.like(refused, { ok: false, status: 488, warning: 305 });
  if (!refused.ok) t.regex(refused.detail, /maxptime 10 ms/);
  const fallback = negotiateOffer(createOffer(local([GSM, PCMU])).replace('a=ptime:20', 'a=maxptime:10'), local([GSM, PCMU]));
  t.like(fallback, { ok: true, media: { ptime: 10, codec: { name: 'PCMU' } } }, 'the codec that fits is chosen');
});

test('packing: 20 ms frames become 10, 30, 40 ms packets with their first unit\'s timestamp; cutting gives 20 ms frames back', (t) => {
  const unit = payloadUnitOf('PCMU')!;
  const frame = (k: number) => Buffer.alloc(160, k);
  const out = Buffer.alloc(600);
  const r: ReadyPacket = { length: 0, timestamp: 0 };
  for (const [ptime, expected] of [
    [10, [[80, 1000], [80, 1080], [80, 1160], [80, 1240], [80, 1320], [80, 1400]]],
    [30, [[240, 1000], [240, 1240]]],
    [40, [[320, 1000]]],
  ] as const) {
    const p = new TxPacketizer();
    p.configure(unit, ptime, 8000);
    const sent: Array<[number, number]> = [];
    for (let i = 0; i < 3; i++) {
      t.true(p.add(frame(i), 0, 160, 1000 + 160 * i));
      while (p.next(out, 0, r)) sent.push([r.length, r.timestamp]);
    }
    t.deepEqual(sent, expected.map((x) => [...x]), `ptime ${ptime}`);
  }
  const gap = new TxPacketizer();
  gap.configure(unit, 40, 8000);
  t.true(gap.add(frame(1), 0, 160, 0));
  t.false(gap.add(frame(2), 0, 160, 480), 'a frame after a gap does not join');
  t.true(gap.flush(out, 0, r));
  t.deepEqual([r.length, r.timestamp], [160, 0]);

  const frames: Array<[number, number, number]> = [];
  const sink = { push: (_s: number, ts: number, b: Buffer, o: number, l: number) => frames.push([ts, l, b[o]!]) };
  const cut = new RxReframer();
  cut.configure(unit, 8000);
  const packet = (ts: number, len: number, fill: number) => cut.feed(sink, 1, ts, Buffer.alloc(len, fill), 0, len, 0);
  packet(0, 240, 1); // 30 ms: one frame, a half waits
  packet(240, 240, 2); // the half joins the first unit of this one, then one more frame
  packet(480, 80, 3); // 10 ms halves
  packet(560, 80, 4);
  packet(640, 320, 5); // 40 ms
  t.deepEqual(frames, [[0, 160, 1], [160, 160, 1], [320, 160, 2], [480, 160, 3], [640, 160, 5], [800, 160, 5]]);
});

test('packetTimeMs must be 10, 20, 30, 40 or 60', (t) => {
  for (const bad of [0, 25, 80, '40']) t.is(resolveStartParams({ packetTimeMs: bad as number }), T.SipBadParameter, String(bad));
  for (const ok of [10, 20, 30, 40, 60]) t.not(typeof resolveStartParams({ packetTimeMs: ok }), 'number');
});

/** Collects RTP packets arriving on `socket`: payload length and timestamp, in arrival order. */
function rtpOf(socket: Socket): Array<{ length: number; timestamp: number; pt: number; seq: number }> {
  const seen: Array<{ length: number; timestamp: number; pt: number; seq: number }> = [];
  socket.on('message', (m) => {
    if (m.length < 12 || m[0]! >> 6 !== 2) return;
    seen.push({ length: m.length - 12 - (m[0]! & 0x0f) * 4, timestamp: m.readUInt32BE(4), pt: m[1]! & 0x7f, seq: m.readUInt16BE(2) });
  });
  return seen;
}

for (const ptime of [10, 30, 40]) {
  peerTest(`SIPp offers ptime ${ptime}: the answer carries it and the engine's RTP packets last ${ptime} ms`, ['sipp'], async (t) => {
    const rtp = await freePorts(8, { even: true });
    const e = await startEngine(t, { phoneName: 'desk', minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[rtp.length - 1]! + 1 });
    e.engine.on('SipOkToAnswerCall', (n) => e.engine.goOffHook(n.phoneLine));
    const [rtpPort] = await freePorts(2, { even: true });
    const socket = createSocket('udp4');
    t.teardown(() => socket.close());
    await new Promise<void>((resolve) => socket.bind(rtpPort, '127.0.0.1', resolve));
    const packets = rtpOf(socket);
    const [sipPort] = await freePorts(1);
    // the scenario checks the answer's a=ptime: SIPp does not expand keys in a regexp, so the
    // expected value is written into a copy
    const dir = mkdtempSync(path.join(tmpdir(), 'linescape-ptime-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const scenario = path.join(dir, 'uac-call-ptime.xml');
    const text = readFileSync(sippScenario('uac-call-ptime.xml'), 'latin1');
    t.true(text.includes('a=ptime:[0-9]+\\r'));
    writeFileSync(scenario, text.replace('a=ptime:[0-9]+\\r', `a=ptime:${ptime}\\r`), 'latin1');
    const run = runSipp(
      [`127.0.0.1:${e.port}`, '-sf', scenario, '-s', 'desk', '-key', 'ptime', String(ptime), '-key', 'rtp_port', String(rtpPort), '-p', String(sipPort), '-m', '1', '-timeout', '30s', '-timeout_error'],
      { timeoutMs: 40_000, traceMessages: true },
    );
    const connected = await e.waitFor(T.SipIncomingCallConnected);
    sendTone(e.engine, connected.phoneLine, 700, 2);
    t.true(await until(() => packets.filter((p) => p.pt === 0).length >= 12, 20_000), `${packets.length} packets`);
    t.is(await e.engine.terminateCall(connected.phoneLine, true, 5000), T.SipSuccess);
    const r = await run;
    t.is(r.code, 0, r.summary);
    const audio = packets.filter((p) => p.pt === 0);
    const bytes = 8 * ptime;
    // every packet but a short last one (the hang-up) holds ptime of PCMU
    t.true(audio.slice(0, -1).every((p) => p.length === bytes), `payloads ${audio.map((p) => p.length).join(',')}`);
    const steps = audio.slice(1, -1).map((p, i) => (p.timestamp - audio[i]!.timestamp) >>> 0);
    t.true(steps.every((s) => s === bytes), `timestamp steps ${steps.join(',')}; seq ${audio.map((p) => p.seq).join(',')}`);
  });
}

/** An engine whose offers ask for 40 ms packets, answering every call. */
async function ptime40(t: Parameters<typeof startEngine>[0], name: string): Promise<EngineUnderTest> {
  const rtp = await freePorts(8, { even: true });
  const e = await startEngine(t, { phoneName: name, packetTimeMs: 40, minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[rtp.length - 1]! + 1 });
  e.engine.setAudioMediaFormats(0, [MediaFormatAudio.ULaw8k]);
  e.engine.on('SipOkToAnswerCall', (n) => e.engine.goOffHook(n.phoneLine));
  return e;
}

test('engine to engine with packetTimeMs 40: 40 ms packets both ways, and each side hears the other\'s tone', async (t) => {
  const a = await ptime40(t, 'alice');
  const b = await ptime40(t, 'bob');
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 0, true, 10000), T.SipSuccess);
  await b.waitFor(T.SipIncomingCallConnected);
  await a.waitFor(T.SipOutgoingCallConnected);
  // what each side receives, seen by raw RTP access: 40 ms of PCMU per packet
  const { heardAtA, heardAtB, received, rawAccess, captured } = await exchangeTones(a.engine, b.engine, 0, 600, 1100);
  t.deepEqual(rawAccess, [T.SipSuccess, T.SipSuccess]);
  t.true(captured);
  t.true(Math.abs(heardAtB.freq - 600) < 15 && heardAtB.levelDb > -20, `B hears ${heardAtB.freq.toFixed(1)} Hz at ${heardAtB.levelDb.toFixed(1)} dB`);
  t.true(Math.abs(heardAtA.freq - 1100) < 15 && heardAtA.levelDb > -20, `A hears ${heardAtA.freq.toFixed(1)} Hz at ${heardAtA.levelDb.toFixed(1)} dB`);
  for (const e of [a, b]) t.is(e.engine.getActiveCallInfo(0).codec, 'PCMU');
  t.true(received.a.length > 10 && received.a.every((n) => n === 320), `A received ${received.a.slice(0, 20).join(',')}`);
  t.true(received.b.length > 10 && received.b.every((n) => n === 320), `B received ${received.b.slice(0, 20).join(',')}`);
});
