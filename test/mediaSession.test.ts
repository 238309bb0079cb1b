/**
 * MediaSession end to end on 127.0.0.1 with a real media clock: audio checked by frequency for
 * PCMU, PCMA and Opus, DTMF both ways of sending, hold, loopback, gain saturation, raw RTP
 * access, keep-alives, hostile input, a lossy path and port exhaustion.
 */
import test, { type ExecutionContext } from 'ava';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { dominantFrequency, goertzelPower, rms } from './helpers/analysis.js';
import { createCodec, type CodecName } from '../media/codecs.js';
import { MediaClock } from '../media/mediaClock.js';
import { writeRtpHeader } from '../media/rtp.js';
import {
  isMediaSessionError,
  MediaSession,
  type DtmfMethod,
  type RawRtpData,
} from '../media/session.js';
import { fillSine } from '../media/tones.js';
import { allocator, Capture, HOST, near, open, pair, params, sleep, steppedPair } from './helpers/sessionPair.js';
import { until } from './helpers/observe.js';
import { UdpRelay } from './helpers/udpRelay.js';

for (const codec of ['PCMU', 'PCMA', 'opus'] as const) {
  test.serial(`${codec}: a 1 kHz tone from A arrives at B at 1 kHz`, async (t) => {
    const { a, b } = await pair(t, codec);
    const rate = codec === 'opus' ? 48000 : 8000;
    const cap = new Capture(b.openRx(rate));
    t.true(a.playTone([1000]));
    await sleep(300);
    const pcm = await cap.record(600);
    t.true(pcm.length >= (rate * 0.5), `got ${pcm.length} samples`);
    t.true(rms(pcm) > 1000, `level ${rms(pcm)}`);
    near(t, dominantFrequency(pcm, rate), 1000, codec);
    const st = b.stats();
    t.is(st.codec, codec);
    t.true(st.rx.received > 20);
    t.true(a.stats().tx.packets > 20);
  });
}

test.serial('distinct tones both directions at once', async (t) => {
  const { a, b } = await pair(t, 'PCMU');
  const capA = new Capture(a.openRx(16000));
  const capB = new Capture(b.openRx(8000));
  a.playTone([700]);
  b.playTone([1300]);
  await sleep(300);
  const m1 = capA.mark;
  const m2 = capB.mark;
  await sleep(600);
  near(t, dominantFrequency(capA.pcm(m1), 16000), 1300, 'A hears B');
  near(t, dominantFrequency(capB.pcm(m2), 8000), 700, 'B hears A');
});

test.serial('RFC 4733: all sixteen digits A→B, in order, once each', async (t) => {
  const got: [string, DtmfMethod][] = [];
  const { a } = await pair(t, 'PCMU', { b: { onDtmf: (d, m) => got.push([d, m]) } });
  t.is(a.sendDtmf('0123456789*#ABCD', 'rfc4733', 60), 'rfc4733');
  t.is(a.sendDtmf('12x', 'rfc4733'), 'invalid');
  t.true(await until(() => got.length >= 16, 8000));
  await sleep(200);
  t.is(got.map((g) => g[0]).join(''), '0123456789*#ABCD');
  t.true(got.every((g) => g[1] === 'rfc4733'));
  t.true(a.stats().tx.dtmfPackets > 16 * 3);
});

test.serial('RFC 4733 falls back to in-band when telephone-event was not negotiated', async (t) => {
  const got: string[] = [];
  // in-band digits are audio: stepped in lockstep with delivery, as the in-band tests below
  const { a, step } = await steppedPair(t, 'PCMA', {
    pa: { telephoneEvent: undefined },
    b: { dtmfDetect: true, onDtmf: (d, m) => got.push(`${d}:${m}`) },
  });
  await step(5);
  t.is(a.sendDtmf('59', 'rfc4733'), 'inband');
  await step(150, () => got.length >= 2);
  await step(15); // nothing more may follow
  t.deepEqual(got, ['5:inband', '9:inband']);
});

for (const codec of ['PCMU', 'opus'] as const) {
  test.serial(`${codec}: in-band digits A→B detected in order`, async (t) => {
    const got: [string, DtmfMethod][] = [];
    // stepped in lockstep with delivery: a stalled event loop on a real clock makes the
    // receiver conceal frames it could not have received yet, and 80 ms digits do not survive
    const { a, b, step } = await steppedPair(t, codec, { b: { dtmfDetect: true, onDtmf: (d, m) => got.push([d, m]) } });
    await step(10);
    t.is(a.sendDtmf('0123456789*#ABCD', 'inband', 80), 'inband');
    await step(500, () => got.length >= 16);
    await step(15); // nothing more may follow
    const st = b.stats();
    t.log(`${st.rx.packetsIn} packets in, jitter ${JSON.stringify(st.jitter)}, concealed ${st.concealedFrames}`);
    t.is(got.map((g) => g[0]).join(''), '0123456789*#ABCD');
    t.true(got.every((g) => g[1] === 'inband'), JSON.stringify(got));
  });
}

test.serial('hold: nothing arrives while A does not send; resume brings the tone back', async (t) => {
  const { a, b } = await pair(t, 'PCMU');
  const cap = new Capture(b.openRx(8000));
  a.playTone([1000]);
  await sleep(300);
  near(t, dominantFrequency(await cap.record(400), 8000), 1000, 'before hold');

  t.true(a.configure(params('PCMU', b.localPort, { sending: false })));
  await sleep(300); // let the jitter buffer and concealment run out
  const before = b.stats().rx.packetsIn;
  const held = await cap.record(500);
  t.is(b.stats().rx.packetsIn, before, 'no RTP during hold');
  t.true(held.length > 3000, 'the Rx stream keeps delivering frames (silence)');
  t.is(rms(held), 0);

  t.true(a.setHold(true));
  await sleep(300);
  const resumed = await cap.record(400);
  near(t, dominantFrequency(resumed, 8000), 1000, 'after resume');
});

test.serial('loopback on B echoes A\'s tone back to A', async (t) => {
  const { a, b } = await pair(t, 'PCMA');
  const cap = new Capture(a.openRx(8000));
  b.setLoopback(true);
  b.playTone([400]); // muted by loopback
  a.playTone([1000]);
  await sleep(500);
  const pcm = await cap.record(500);
  t.true(rms(pcm) > 1000);
  near(t, dominantFrequency(pcm, 8000), 1000, 'echo');
  b.setLoopback(false);
  await sleep(300);
  near(t, dominantFrequency(await cap.record(400), 8000), 400, 'loopback off');
});

test.serial('tx gain 200 % on a loud tone saturates without wrapping', async (t) => {
  const { a, b } = await pair(t, 'PCMU');
  const cap = new Capture(b.openRx(8000));
  a.setVolume(512, 1024);
  t.true(a.playTone([250], 0)); // 0 dBm0: peak ≈ 22 657, doubled ≈ 45 300
  await sleep(300);
  t.true(a.levels().txPeak >= 32767, "the sent frame reaches full scale");
  const pcm = await cap.record(500);
  let max = 0;
  let maxJump = 0;
  let nearFull = 0;
  for (let i = 0; i < pcm.length; i++) {
    const v = Math.abs(pcm[i]!);
    if (v > max) max = v;
    if (v >= 30000) nearFull++;
    if (i > 0) maxJump = Math.max(maxJump, Math.abs(pcm[i]! - pcm[i - 1]!));
  }
  t.is(max, 32124, 'µ-law full scale: the encoder saw 32767');
  t.true(nearFull > pcm.length * 0.3, 'clipped plateaus');
  // a 250 Hz clipped sine moves at most ~9 000 per sample at 8 kHz; a wrap would jump ~50 000
  t.true(maxJump < 20000, `largest step ${maxJump}`);
  near(t, dominantFrequency(pcm, 8000), 250, 'still 250 Hz');
});

test.serial('raw RTP access sees both directions, and processRtpPacket=false drops', async (t) => {
  const { a, b } = await pair(t, 'PCMU', { a: { phoneLine: 3 } });
  const cap = new Capture(b.openRx(8000));
  a.playTone([1000]);
  const seen: RawRtpData[] = [];
  a.setRawRtpAccess((d) => seen.push(d));
  await sleep(500);
  const tx = seen.filter((d) => d.transmittingPacket);
  const rx = seen.filter((d) => !d.transmittingPacket);
  t.true(tx.length > 10 && rx.length > 10, `tx ${tx.length} rx ${rx.length}`);
  t.is(tx[0]!.phoneLine, 3);
  t.is(tx[0]!.ssrc, a.ssrc);
  t.is(tx[0]!.packet.length, 12 + 160);
  t.is(tx[0]!.payload.length, 160);
  for (let i = 1; i < tx.length; i++) t.is(tx[i]!.sequence, (tx[i - 1]!.sequence + 1) & 0xffff);
  t.is(rx[0]!.ssrc, b.ssrc);
  near(t, dominantFrequency(await cap.record(300), 8000), 1000, 'audio flows with raw access on');

  // A drops everything it would send: B hears nothing
  a.setRawRtpAccess((d) => {
    if (d.transmittingPacket) d.processRtpPacket = false;
  });
  await sleep(300);
  const n0 = b.stats().rx.packetsIn;
  const silent = await cap.record(400);
  t.is(b.stats().rx.packetsIn, n0);
  t.is(rms(silent), 0);
  t.true(a.stats().tx.rawDropped > 10);

  // B drops what it receives: packets arrive but are not played
  a.setRawRtpAccess(undefined);
  b.setRawRtpAccess((d) => {
    if (!d.transmittingPacket) d.processRtpPacket = false;
  });
  await sleep(300);
  const dropped = await cap.record(400);
  t.is(rms(dropped), 0);
  t.true(b.stats().rx.rawDropped > 10);
  b.setRawRtpAccess(undefined);
  await sleep(300);
  near(t, dominantFrequency(await cap.record(300), 8000), 1000, 'back after raw access off');
});

test.serial('keep-alive packets (RFC 6263, PT 13) flow while on hold, and no audio does', async (t) => {
  const { a, b } = await pair(t, 'PCMU', { pa: { sending: false } });
  const pts: number[] = [];
  b.setRawRtpAccess((d) => {
    if (!d.transmittingPacket) pts.push(d.payloadType);
  });
  a.playTone([1000]);
  a.setKeepAlive(100);
  await sleep(1000);
  const ka = pts.filter((p) => p === 13).length;
  t.true(ka >= 6 && ka <= 14, `${ka} keep-alives in 1 s at 100 ms`);
  t.is(pts.filter((p) => p !== 13).length, 0, 'no audio packets');
  // the receiver takes them as RFC 3389 comfort noise at −127 dBov, i.e. silence (why RFC 6263 chose CN)
  t.true(b.stats().comfortNoise.packets >= 6);
  t.is(b.stats().comfortNoise.level, 127);
  t.true(a.stats().tx.keepAlives >= 6);
  t.is(a.stats().tx.packets, 0);
});

/** A plain socket that plays RTP at a session. */
async function rawSender(t: ExecutionContext): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.bind(0, HOST);
  await once(s, 'listening');
  t.teardown(() => new Promise<void>((r) => s.close(() => r())));
  return s;
}

test.serial('hostile input: malformed, unknown PT, SSRC change, sequence wrap — audio survives', async (t) => {
  const clock = new MediaClock();
  t.teardown(() => clock.stop());
  const alloc = await allocator();
  const b = await open(t, clock, alloc);
  const sock = await rawSender(t);
  t.true(b.configure(params('PCMU', sock.address().port)));
  clock.start();
  b.start();
  const cap = new Capture(b.openRx(8000));
  const send = (buf: Buffer): Promise<void> => new Promise((r) => sock.send(buf, b.localPort, HOST, () => r()));

  const garbage: Buffer[] = [];
  const v1 = Buffer.alloc(172);
  v1[0] = 0x40; // version 1
  garbage.push(v1, v1, v1);
  garbage.push(Buffer.from([0x80, 0x00, 0x01]), Buffer.alloc(0), Buffer.alloc(11, 0x80)); // too short
  const cc = Buffer.alloc(20);
  cc[0] = 0x8f; // 15 CSRCs announced, none there
  garbage.push(cc);
  const ext = Buffer.alloc(14);
  ext[0] = 0x90; // extension bit, no extension header
  garbage.push(ext);
  const pad = Buffer.alloc(20);
  pad[0] = 0xa0; // padding bit with a count of 0
  garbage.push(pad);
  const unknown = Buffer.alloc(172);
  writeRtpHeader(unknown, { marker: false, payloadType: 77, sequence: 1, timestamp: 0, ssrc: 0x99 });
  for (let i = 0; i < 5; i++) garbage.push(unknown);

  const codec = createCodec('PCMU')!;
  const pcm = new Int16Array(160);
  let phase = 0;
  let seq = 65480;
  let ts = 1000;
  let ssrc = 0x1111;
  const frame = (): Buffer => {
    const pkt = Buffer.alloc(172);
    writeRtpHeader(pkt, { marker: false, payloadType: 0, sequence: seq, timestamp: ts, ssrc });
    phase = fillSine(pcm, 8000, 1000, 8000, phase);
    codec.encode(pcm, pkt, 12);
    seq = (seq + 1) & 0xffff;
    ts = (ts + 160) >>> 0;
    return pkt;
  };
  let wrapCycles = 0;
  for (let i = 0; i < 90; i++) {
    if (i === 60) {
      wrapCycles = b.stats().rx.cycles;
      ssrc = 0x2222;
      seq = 7;
      ts = 500000;
    }
    await send(frame());
    if (i % 8 === 0) for (const g of garbage.splice(0, 3)) await send(g);
    await sleep(20);
  }
  for (const g of garbage) await send(g);
  await sleep(200);
  const st = b.stats();
  t.is(wrapCycles, 1, 'the sequence wrapped once under the first SSRC');
  t.is(st.rx.malformedByReason.badVersion, 3);
  t.is(st.rx.malformedByReason.tooShort, 3);
  t.is(st.rx.malformedByReason.badCsrc, 1);
  t.is(st.rx.malformedByReason.badExtension, 1);
  t.is(st.rx.malformedByReason.badPadding, 1);
  t.is(st.rx.malformed, 9);
  t.is(st.rx.unknownPayloadType, 5);
  t.is(st.rx.ssrcChanges, 1);
  t.is(st.handlerErrors, 0);
  const all = cap.pcm();
  near(t, dominantFrequency(all, 8000), 1000, 'audio through the garbage');
  // the tone is there in the last second too, i.e. after the SSRC change
  const tail = all.subarray(all.length - 4000);
  t.true(goertzelPower(tail, 8000, 1000) > 0.5 * rms(tail) ** 2);
});

test.serial('a 30 % loss + reorder + duplicate path: audio still at 1 kHz, stats count it', async (t) => {
  const clock = new MediaClock();
  t.teardown(() => clock.stop());
  const alloc = await allocator();
  const a = await open(t, clock, alloc);
  const b = await open(t, clock, alloc);
  const relay = await UdpRelay.create({
    target: { host: HOST, port: b.localPort },
    seed: 7,
    toTarget: { loss: 0.3, duplicate: 0.15, reorder: 0.15, reorderDelayMs: 30 },
  });
  t.teardown(() => relay.close());
  t.true(a.configure(params('PCMU', relay.port)));
  // B stays silent: its packets would reach A directly and A, symmetric, would latch past the relay
  t.true(b.configure(params('PCMU', a.localPort, { sending: false })));
  clock.start();
  a.start();
  b.start();
  const cap = new Capture(b.openRx(8000));
  a.playTone([1000]);
  await sleep(2500);
  const st = b.stats();
  near(t, dominantFrequency(cap.pcm(10), 8000), 1000, 'through the lossy relay');
  t.true(st.rx.lost > 10, `lost ${st.rx.lost}`);
  t.true(st.rx.duplicates > 3, `duplicates ${st.rx.duplicates}`);
  t.true(st.rx.reordered > 0, `reordered ${st.rx.reordered}`);
  t.true(st.concealedFrames > 10, `concealed ${st.concealedFrames}`);
  t.true(relay.stats.toTarget.dropped > 10);
  t.is(st.handlerErrors, 0);
});

test.serial('a second source is reported once, dropped, and taken over after 1 s of silence', async (t) => {
  const conflicts: string[] = [];
  const { a, b } = await pair(t, 'PCMU', { b: { onMediaConflict: (addr, port) => conflicts.push(`${addr}:${port}`) } });
  const cap = new Capture(b.openRx(8000));
  a.playTone([1000]);
  await sleep(300);
  const sock = await rawSender(t);
  const codec = createCodec('PCMU')!;
  const pcm = new Int16Array(160);
  let phase = 0;
  let seq = 100;
  const intruder = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      const pkt = Buffer.alloc(172);
      writeRtpHeader(pkt, { marker: false, payloadType: 0, sequence: seq, timestamp: seq * 160, ssrc: 0xbad });
      seq++;
      phase = fillSine(pcm, 8000, 500, 8000, phase);
      codec.encode(pcm, pkt, 12);
      sock.send(pkt, b.localPort, HOST);
      await sleep(20);
    }
  };
  const m = cap.mark;
  await intruder(20);
  t.deepEqual(conflicts, [`${HOST}:${sock.address().port}`]);
  t.true(b.stats().rx.conflictDrops >= 15);
  near(t, dominantFrequency(cap.pcm(m), 8000), 1000, 'still A');

  t.true(a.setHold(false));
  await sleep(1100);
  await intruder(40);
  t.is(b.stats().relatches, 1);
  near(t, dominantFrequency(cap.pcm(cap.mark - 25), 8000), 500, 'now the new source');
});

test.serial('codec change by re-configure keeps SSRC and sequence continuity', async (t) => {
  const { a, b } = await pair(t, 'PCMU');
  const seen: RawRtpData[] = [];
  b.setRawRtpAccess((d) => {
    if (!d.transmittingPacket) seen.push(d);
  });
  a.playTone([1000]);
  // PCMU packets have arrived before the switch (not: some time has passed)
  t.true(await until(() => seen.length >= 5, 10000), `${seen.length} PCMU packets before the switch`);
  t.true(a.configure(params('opus', b.localPort)));
  t.true(b.configure(params('opus', a.localPort)));
  const cap = new Capture(b.openRx(48000));
  // 300 ms of Opus media received, then 500 ms of what B hears (media time, not wall time)
  t.true(await until(() => seen.filter((d) => d.payloadType === 111).length >= 15, 10000), 'Opus packets arrive');
  const mark = cap.mark;
  t.true(await until(() => cap.pcm(mark).length >= 24000, 10000), 'B delivers 0.5 s of audio');
  near(t, dominantFrequency(cap.pcm(mark), 48000), 1000, 'after the switch to Opus');
  const opusAt = seen.findIndex((d) => d.payloadType === 111);
  t.true(opusAt > 0);
  t.true(seen.every((d) => d.ssrc === a.ssrc));
  const before = seen[opusAt - 1]!;
  const after = seen[opusAt]!;
  t.is(after.sequence, (before.sequence + 1) & 0xffff);
  t.true(after.marker, 'marker on the first packet of the new codec');
});

test.serial('RTCP: reports flow both ways and give a round-trip time', async (t) => {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const { a, b } = await pair(t, 'PCMU', { a: { rtcpIntervalMs: 200 }, b: { rtcpIntervalMs: 200 } });
  a.playTone([1000]);
  t.true(await until(() => a.stats().rttMs !== undefined && b.stats().rtcp.received > 1, 10000));
  loop.disable();
  const sa = a.stats();
  t.true(sa.rtcp.sent > 1);
  // On loopback the round trip is the time both reports waited to be read: within 100 ms,
  // plus twice the longest event-loop stall measured meanwhile (both sessions share this process)
  const stallMs = loop.max / 1e6;
  t.true(sa.rttMs! >= 0 && sa.rttMs! < 100 + 2 * stallMs, `rtt ${sa.rttMs} ms, longest stall ${stallMs.toFixed(0)} ms`);
  t.is(sa.rtcp.malformed, 0);
  await b.stop();
  t.true(await until(() => a.stats().rtcp.byeReceived === 1, 10000), 'BYE on stop');
});

test.serial('stop is idempotent, releases the ports; exhaustion is an error object', async (t) => {
  const clock = MediaClock.manual();
  const alloc = await allocator(1);
  const s1 = await MediaSession.open({ clock, allocator: alloc });
  t.false(isMediaSessionError(s1));
  const s2 = await MediaSession.open({ clock, allocator: alloc });
  t.true(isMediaSessionError(s2));
  if (isMediaSessionError(s2)) {
    t.is(s2.ok, false);
    t.is(s2.error, 'exhausted');
    t.regex(s2.message, /no free RTP port pair/);
  }
  const s = s1 as MediaSession;
  s.start();
  t.is(clock.stats().listeners, 1);
  const p1 = s.stop();
  t.is(s.stop(), p1);
  await p1;
  t.is(clock.stats().listeners, 0);
  t.false(s.configure(params('PCMU', 4000)));
  t.is(s.sendDtmf('1', 'inband'), 'invalid');
  const s3 = await MediaSession.open({ clock, allocator: alloc });
  t.false(isMediaSessionError(s3), 'the pair was released');
  if (!isMediaSessionError(s3)) await s3.stop();
});

test.serial('invalid parameters are refused without side effects', async (t) => {
  const clock = MediaClock.manual();
  const alloc = await allocator(1);
  const s = await open(t, clock, alloc);
  t.false(s.configure({ ...params('PCMU', 4000), codec: 'G723' as CodecName }));
  t.false(s.configure(params('PCMU', 70000)));
  t.false(s.configure(params('PCMU', 4000, { payloadType: 200 })));
  t.is(s.mediaParams, null);
  t.true(s.configure(params('PCMU', 4000, { ptime: 30 })));
  t.is(s.stats().ptimeRequested, 30);
  t.false(s.playTone([5000]), 'above Nyquist at 8 kHz');
  t.true(s.playTone([350, 440], -13));
  t.throws(() => s.openRx(22050 as 8000), { instanceOf: RangeError });
});
