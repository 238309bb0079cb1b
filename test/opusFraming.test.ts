/**
 * Opus packets longer (or shorter) than 20 ms from a far end (issue 10 item 10; RFC 6716 §3.1-3.2,
 * RFC 7587): real libopus packets of 2 × 20, 3 × 20, one 40 ms and one 60 ms SILK frame, 4 × 10
 * (40 ms) and a stream of 10 ms packets go through media/opusFraming.ts into 20 ms units and
 * decode to the 1 kHz tone they carry, at their full duration; a lost long packet and a lost
 * 10 ms half are concealed in place; a media session fed 40 ms packets by a raw RTP peer, and an
 * engine line answering an Opus offer with a=ptime:40 and fed the same, hear 1 kHz.
 * @module
 */
import test, { type ExecutionContext } from 'ava';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { MediaFormatAudio, TelephonyReturnValue as T } from '../index.js';
import { createOpusCodec, opusLoadError, type NativeOpus, type NativeOpusCtor, type OpusCodec } from '../media/opus.js';
import { createOpusFrames, isOpusContinuation, OpusRxFramer, parseOpusPacket } from '../media/opusFraming.js';
import type { FrameSink } from '../media/packetTime.js';
import type { MediaSessionStats } from '../media/session.js';
import { dominantFrequency, rms } from './helpers/analysis.js';
import { HOST, openOpusReceiver, sleep } from './helpers/sessionPair.js';
import { inviteWithOffer, sipUdpClient } from './helpers/sipUdp.js';
import { startEngine } from './helpers/engine.js';
import { capture } from './helpers/audio.js';
import { until } from './helpers/observe.js';

const FRAME = 960;
// opus_defines.h / opus_private.h request numbers and values
const OPUS_SET_BITRATE = 4002;
const OPUS_SET_FORCE_MODE = 11002;
const MODE_SILK_ONLY = 1000;
const MODE_CELT_ONLY = 1002;
const OPUS_SET_INBAND_FEC = 4012;
const OPUS_SET_MAX_BANDWIDTH = 4004;
const OPUS_BANDWIDTH_WIDEBAND = 1103;

const OpusEncoder = (createRequire(import.meta.url)('@discordjs/opus') as { OpusEncoder: NativeOpusCtor }).OpusEncoder;

/** A libopus encoder forced into one mode. */
function encoder(mode: 'silk' | 'celt'): NativeOpus {
  const e = new OpusEncoder(48000, 1);
  e.applyEncoderCTL(OPUS_SET_FORCE_MODE, mode === 'silk' ? MODE_SILK_ONLY : MODE_CELT_ONLY);
  // SILK codes up to wideband: a wider band would be hybrid
  if (mode === 'silk') e.applyEncoderCTL(OPUS_SET_MAX_BANDWIDTH, OPUS_BANDWIDTH_WIDEBAND);
  e.applyEncoderCTL(OPUS_SET_BITRATE, mode === 'silk' ? 16000 : 48000);
  e.applyEncoderCTL(OPUS_SET_INBAND_FEC, 0);
  return e;
}

/** `samples` of a 1 kHz sine at 48 kHz from sample `from` on, as little-endian PCM16. */
function tone(from: number, samples: number): Buffer {
  const b = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) b.writeInt16LE(Math.round(10000 * Math.sin((2 * Math.PI * 1000 * (from + i)) / 48000)), i * 2);
  return b;
}

/** `count` packets of `ms` each of a continuous 1 kHz tone. */
function packetsOf(e: NativeOpus, ms: number, count: number): Buffer[] {
  const n = ms * 48;
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) out.push(e.encode(tone(i * n, n)));
  return out;
}

/** A code-3 VBR packet (RFC 6716 §3.2.5) of the frames of one-frame packets with the same TOC. */
function join(packets: Buffer[]): Buffer {
  const toc = packets[0]![0]! & 0xfc;
  const head = [toc | 3, 0x80 | packets.length];
  for (const p of packets.slice(0, -1)) {
    const l = p.length - 1;
    if (l < 252) head.push(l);
    else head.push(252 + (l & 3), (l - 252 - (l & 3)) >> 2);
  }
  return Buffer.concat([Buffer.from(head), ...packets.map((p) => p.subarray(1))]);
}

function decoder(t: ExecutionContext): OpusCodec {
  const c = createOpusCodec(111);
  if (c === undefined) throw new Error(`Opus unavailable: ${opusLoadError()}`);
  t.teardown(() => c.close());
  return c;
}

/** What a framer handed on: each unit's timestamp and a copy of its bytes. */
class Units implements FrameSink {
  readonly list: Array<{ ts: number; payload: Buffer }> = [];
  push(_seq: number, timestamp: number, payload: Buffer, offset: number, length: number): void {
    this.list.push({ ts: timestamp, payload: Buffer.from(payload.subarray(offset, offset + length)) });
  }
}

/**
 * Feeds `packets` (timestamps by their durations, `skip` left out) through a framer, then plays
 * the units in timestamp order one per 20 ms slot as the session does (a slot with no unit is
 * concealed). Returns the PCM, the units and each unit's decoded length.
 */
function playThrough(t: ExecutionContext, packets: Buffer[], skip = -1): { pcm: Int16Array; units: Units; lengths: number[] } {
  const framer = new OpusRxFramer();
  const units = new Units();
  const frames = createOpusFrames();
  let ts = 1000;
  packets.forEach((p, i) => {
    t.true(parseOpusPacket(p, 0, p.length, frames) > 0, `packet ${i} parses`);
    if (i !== skip) framer.feed(units, i, ts, p, 0, p.length, 0);
    ts += frames.count * frames.frameSamples;
  });
  const end = ts;
  const byTs = new Map(units.list.map((u) => [u.ts, u.payload]));
  const codec = decoder(t);
  const out = new Int16Array(5760);
  const pcm = new Int16Array(end - 1000);
  const lengths: number[] = [];
  for (let at = 1000; at + FRAME <= end; at += FRAME) {
    const u = byTs.get(at);
    const n = u === undefined ? codec.conceal(out) : framer.decode(codec, u, 0, u.length, at, out);
    lengths.push(n);
    pcm.set(out.subarray(0, Math.min(n, FRAME)), at - 1000);
  }
  return { pcm, units, lengths };
}

/** The PCM after the first 100 ms (the codec's start) is a 1 kHz tone. */
function isTone(t: ExecutionContext, pcm: Int16Array, what: string): void {
  const f = dominantFrequency(pcm, 48000, 4800);
  t.true(Math.abs(f - 1000) < 10, `${what}: ${f.toFixed(1)} Hz`);
  t.true(rms(pcm, 4800) > 3000, `${what}: rms ${rms(pcm, 4800).toFixed(0)}`);
}

const cases: Array<{ name: string; make: () => Buffer[]; frames: number; frameMs: number; packetMs: number }> = [
  { name: '2 × 20 ms (CELT)', make: () => packetsOf(encoder('celt'), 40, 15), frames: 2, frameMs: 20, packetMs: 40 },
  { name: '3 × 20 ms (CELT)', make: () => packetsOf(encoder('celt'), 60, 10), frames: 3, frameMs: 20, packetMs: 60 },
  { name: 'one 40 ms SILK frame', make: () => packetsOf(encoder('silk'), 40, 15), frames: 1, frameMs: 40, packetMs: 40 },
  { name: 'one 60 ms SILK frame', make: () => packetsOf(encoder('silk'), 60, 10), frames: 1, frameMs: 60, packetMs: 60 },
  {
    name: '4 × 10 ms (CELT, joined)',
    make: () => {
      const tens = packetsOf(encoder('celt'), 10, 60);
      const out: Buffer[] = [];
      for (let i = 0; i < tens.length; i += 4) out.push(join(tens.slice(i, i + 4)));
      return out;
    },
    frames: 4,
    frameMs: 10,
    packetMs: 40,
  },
  { name: '2 × 10 ms (CELT, joined: 20 ms, passes whole)', make: () => { const tens = packetsOf(encoder('celt'), 10, 60); const out: Buffer[] = []; for (let i = 0; i < tens.length; i += 2) out.push(join(tens.slice(i, i + 2))); return out; }, frames: 2, frameMs: 10, packetMs: 20 },
  { name: 'a stream of 10 ms packets (CELT)', make: () => packetsOf(encoder('celt'), 10, 60), frames: 1, frameMs: 10, packetMs: 10 },
  { name: 'a stream of 10 ms packets (SILK)', make: () => packetsOf(encoder('silk'), 10, 60), frames: 1, frameMs: 10, packetMs: 10 },
];

for (const c of cases) {
  test(`${c.name}: 20 ms units that decode to the 1 kHz tone, at full length`, (t) => {
    const packets = c.make();
    const frames = createOpusFrames();
    for (const p of packets) {
      t.is(parseOpusPacket(p, 0, p.length, frames), c.frames);
      t.is(frames.frameSamples, c.frameMs * 48);
    }
    const { pcm, units, lengths } = playThrough(t, packets);
    const totalMs = packets.length * c.packetMs;
    t.is(units.list.length, totalMs / 20, 'one unit per 20 ms');
    t.true(
      units.list.every((u, i) => u.ts === 1000 + i * FRAME),
      'units at 20 ms steps',
    );
    if (c.frameMs > 20) t.is(units.list.filter((u) => isOpusContinuation(u.payload, 0, u.payload.length)).length, (packets.length * (c.frameMs - 20)) / 20, 'a mark in each further 20 ms of a long frame');
    t.true(lengths.every((n) => n === FRAME), `decoded lengths ${lengths.join(',')}`);
    t.is(pcm.length, totalMs * 48);
    isTone(t, pcm, c.name);
  });
}

test('a lost 40 ms packet is concealed in both its slots; a mark whose packet never came conceals too', (t) => {
  const packets = packetsOf(encoder('silk'), 40, 15);
  const { pcm, lengths } = playThrough(t, packets, 7);
  t.true(lengths.every((n) => n === FRAME));
  isTone(t, pcm.subarray(0, 14 * FRAME), 'before the loss');
  isTone(t, pcm.subarray(18 * FRAME), 'after the loss');
  // a mark on its own: the codec conceals
  const framer = new OpusRxFramer();
  const codec = decoder(t);
  const out = new Int16Array(5760);
  const mark = Buffer.from([0x03, 0x00]);
  t.is(framer.decode(codec, mark, 0, 2, 5000, out), FRAME);
  t.is(codec.concealedFrames, 1);
});

test('10 ms packets: a missing half leaves an empty frame in its 20 ms unit, and the grid goes on', (t) => {
  const packets = packetsOf(encoder('celt'), 10, 60);
  const { pcm, units, lengths } = playThrough(t, packets, 21);
  t.true(lengths.every((n) => n === FRAME), `decoded lengths ${lengths.join(',')}`);
  t.is(units.list.length, 30);
  // the unit holding the lost half has two frames, the second of them empty
  const u = units.list[10]!;
  const frames = createOpusFrames();
  t.is(parseOpusPacket(u.payload, 0, u.payload.length, frames), 2);
  t.is(frames.lengths[1], 0);
  isTone(t, pcm.subarray(0, 10 * FRAME), 'before the loss');
  isTone(t, pcm.subarray(12 * FRAME), 'after the loss');
});

test('malformed packets are rejected by the parser and pass to the decoder as they are', (t) => {
  const frames = createOpusFrames();
  const bad = [Buffer.alloc(0), Buffer.from([0x01, 1, 2, 3]), Buffer.from([0x03, 0x00]), Buffer.from([0x03, 0x41, 255]), Buffer.from([0x02, 253])];
  for (const b of bad) t.is(parseOpusPacket(b, 0, b.length, frames), -1, b.toString('hex'));
  const framer = new OpusRxFramer();
  const units = new Units();
  framer.feed(units, 1, 0, bad[1]!, 0, 4, 0);
  t.is(units.list.length, 1);
  t.deepEqual(units.list[0]!.payload, bad[1]);
  t.is(framer.reframed, 0);
});

/** Sends `packets` as RTP PT 111 from a fresh socket to `port`, one every `ms`, timestamps by duration. */
async function sendRtp(t: ExecutionContext, port: number, packets: Buffer[], ms: number): Promise<void> {
  const sock = createSocket('udp4');
  sock.bind(0, HOST);
  await once(sock, 'listening');
  t.teardown(() => sock.close());
  for (let i = 0; i < packets.length; i++) {
    const p = packets[i]!;
    const b = Buffer.alloc(12 + p.length);
    b[0] = 0x80;
    b[1] = 111;
    b.writeUInt16BE((7000 + i) & 0xffff, 2);
    b.writeUInt32BE((48000 + i * ms * 48) >>> 0, 4);
    b.writeUInt32BE(0x40404040, 8);
    b.set(p, 12);
    sock.send(b, port, HOST);
    await sleep(ms);
  }
}

for (const mode of ['silk', 'celt'] as const) {
  test(`a media session fed 40 ms Opus packets (${mode === 'silk' ? 'one 40 ms SILK frame' : '2 × 20 ms CELT'}) by a raw RTP peer hears 1 kHz`, async (t) => {
    const { s, cap } = await openOpusReceiver(t);
    await sendRtp(t, s.localPort, packetsOf(encoder(mode), 40, 50), 40);
    await sleep(300);
    const pcm = cap.pcm(0);
    const st = s.stats();
    t.log(`played ${st.jitter.played}, lost ${st.jitter.lost}, late ${st.jitter.late}, concealed ${st.concealedFrames}`);
    // the silence after the stream and the start do not move the peak: the whole capture is judged
    const f = dominantFrequency(pcm, 48000);
    t.true(Math.abs(f - 1000) < 10, `${f.toFixed(1)} Hz`);
    // each packet's second 20 ms is played too: more frames than packets (one each, before)
    t.true(st.jitter.played > st.rx.packetsIn, `${st.jitter.played} frames played from ${st.rx.packetsIn} packets`);
  });
}

test('an engine line answering an Opus offer with a=ptime:40, fed 40 ms packets, hears 1 kHz', async (t) => {
  const b = await startEngine(t, { numPhoneLinesRequested: 1, phoneName: 'bob' });
  t.is(b.engine.setAudioMediaFormats(0, [MediaFormatAudio.Opus48k]), T.SipSuccess);
  b.engine.on('SipOkToAnswerCall', (n) => b.engine.goOffHook(n.phoneLine));
  const client = await sipUdpClient(t, b.port);
  const res = await inviteWithOffer(client, b.port, 'bob', 'm=audio 6000 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\na=ptime:40\r\na=maxptime:120\r\n', 'opus-ptime40');
  t.is(res.status, 200);
  const port = Number(/m=audio (\d+) /.exec(res.body.toString('latin1'))?.[1]);
  t.true(port > 0);
  const heard = capture(b.engine, 0, 48000);
  t.teardown(() => heard.close());
  await sendRtp(t, port, packetsOf(encoder('silk'), 40, 50), 40);
  t.true(await until(() => heard.samples().length >= 48000, 10000));
  const pcm = heard.samples();
  const f = dominantFrequency(pcm, 48000);
  t.true(Math.abs(f - 1000) < 10, `the line hears ${f.toFixed(1)} Hz`);
  t.is(b.engine.getActiveCallInfo(0).codec, 'opus');
  const st = b.engine.getActiveCallInfo(0).statistics as MediaSessionStats;
  t.log(`played ${st.jitter.played} frames from ${st.rx.packetsIn} packets, lost ${st.jitter.lost}, late ${st.jitter.late}`);
  t.true(st.jitter.played > st.rx.packetsIn, 'more 20 ms frames played than packets received');
});
