/**
 * Per-line Opus settings: what they do to the encoded stream (bitrate → packet size), in-band FEC
 * both ways (a lost packet rebuilt from the next one's FEC data beats plain concealment, at the
 * codec and in a media session fed by a raw RTP peer on a real socket), the `a=fmtp` the line
 * offers, and the engine procedure's answers to bad input.
 * @module
 */
import test, { type ExecutionContext } from 'ava';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { TelephonyReturnValue as T, MediaFormatAudio } from '../index.js';
import { VoipMediaEngine } from '../engine/VoipMediaEngine.js';
import { createOpusCodec, effectiveOpusSettings, isValidOpusSettings, OPUS_DEFAULT_SETTINGS, opusFmtp, OpusCodec, opusLoadError, parseOpusFmtp, type OpusCodecOptions } from '../media/opus.js';
import { setNativeLibraryDisabled } from '../ffi/loader.js';
import { formatSpecs } from '../lines/lineMedia.js';
import { native, peerTest } from './helpers/env.js';
import { HOST, openOpusReceiver, sleep } from './helpers/sessionPair.js';
import { inviteWithOffer, sipUdpClient } from './helpers/sipUdp.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { analyse, capture, sendTone } from './helpers/audio.js';
import { blocksWithoutTone, mediaStats, receiveTrouble } from './helpers/mediaTime.js';
import { until } from './helpers/observe.js';

const FRAME = 960;
const LIBOPUS = [native('opus')];

function codec(t: ExecutionContext, options?: OpusCodecOptions): OpusCodec {
  const c = createOpusCodec(111, options);
  if (c === undefined) throw new Error(`Opus unavailable: ${opusLoadError()}`);
  t.teardown(() => c.close());
  return c;
}

/**
 * A voice-like test signal at 48 kHz: a harmonic series whose pitch glides between 110 and 230 Hz
 * under two moving formants, plus a little noise from a fixed-seed generator. Its pitch changes
 * from frame to frame, so concealment (which extends the last frame) cannot guess a lost frame.
 */
function voice(frames: number): Int16Array {
  const out = new Int16Array(frames * FRAME);
  let seed = 12345;
  let phase = 0;
  for (let i = 0; i < out.length; i++) {
    const time = i / 48000;
    const f0 = 170 + 60 * Math.sin(2 * Math.PI * 1.7 * time);
    phase += (2 * Math.PI * f0) / 48000;
    const f1 = 600 + 250 * Math.sin(2 * Math.PI * 0.9 * time);
    const f2 = 1800 + 500 * Math.sin(2 * Math.PI * 1.3 * time);
    let v = 0;
    for (let h = 1; f0 * h < 7000; h++) {
      const fh = f0 * h;
      v += (1 / (1 + ((fh - f1) / 200) ** 2) + 0.5 / (1 + ((fh - f2) / 250) ** 2)) * Math.sin(h * phase);
    }
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    out[i] = Math.round(4000 * v + ((seed / 0x7fffffff) * 2 - 1) * 100);
  }
  return out;
}

/**
 * Whether a one-frame SILK or hybrid mono packet carries LBRR (FEC) data. The SILK layer opens
 * with its VAD flag and then its LBRR flag, each an equiprobable range-coded bit, which makes
 * them the top two bits of the octet after the TOC (RFC 6716 §4.2.3-4.2.4). The encoder leaves
 * LBRR out of frames its voice activity detector does not call speech.
 */
function carriesFec(p: Buffer): boolean {
  const config = p[0]! >> 3;
  return config < 16 && (p[0]! & 3) === 0 && p.length > 1 && (p[1]! & 0x40) !== 0;
}

function encodeAll(c: OpusCodec, pcm: Int16Array): Buffer[] {
  const out = Buffer.alloc(1275);
  const packets: Buffer[] = [];
  for (let f = 0; f * FRAME < pcm.length; f++) {
    const n = c.encode(pcm.subarray(f * FRAME, (f + 1) * FRAME), out, 0);
    packets.push(Buffer.from(out.subarray(0, n)));
  }
  return packets;
}

/** Signal-to-error ratio (dB) of `got` against `ref`. */
function snrDb(ref: Int16Array, got: Int16Array): number {
  let s = 0;
  let e = 0;
  for (let i = 0; i < ref.length; i++) {
    s += ref[i]! * ref[i]!;
    e += (ref[i]! - got[i]!) ** 2;
  }
  return 10 * Math.log10(s / Math.max(e, 1));
}

test('the bitrate setting changes the encoded size, at once and mid-stream', (t) => {
  const pcm = voice(50);
  const c = codec(t, { bitrate: 12000 });
  const mean = (p: Buffer[]): number => p.slice(10).reduce((s, b) => s + b.length, 0) / (p.length - 10);
  const low = mean(encodeAll(c, pcm));
  t.true(c.applySettings({ bitrate: 64000 }));
  const high = mean(encodeAll(c, pcm));
  t.log(`mean payload ${low.toFixed(1)} octets at 12 kbit/s, ${high.toFixed(1)} at 64 kbit/s (20 ms frames)`);
  // 12 kbit/s is 30 octets per 20 ms and 64 kbit/s is 160: each within a quarter of its target
  t.true(Math.abs(low - 30) < 7.5, `${low} octets at 12 kbit/s`);
  t.true(Math.abs(high - 160) < 40, `${high} octets at 64 kbit/s`);
  t.false(c.applySettings({ bitrate: 5000 }), 'below 6 kbit/s is refused');
  t.false(c.applySettings({ complexity: 11 }));
  t.false(c.applySettings({ maxBandwidth: 'ultraband' as never }));
});

peerTest('a lost packet rebuilt from the next packet\'s in-band FEC beats plain concealment', LIBOPUS, (t) => {
  const pcm = voice(100);
  const sender = codec(t, { fec: true, packetLossPercent: 20 });
  const packets = encodeAll(sender, pcm);
  const full = codec(t);
  const withFec = codec(t);
  const plain = codec(t, { ffiDecoder: false });
  t.true(withFec.canDecodeFec);
  t.false(plain.canDecodeFec);
  const frame = new Int16Array(FRAME);
  const ref = new Int16Array(FRAME);
  const plcFrame = new Int16Array(FRAME);
  const fec: number[] = [];
  const plc: number[] = [];
  let withoutLbrr = 0;
  // lose one packet in every seven, each decoder facing the same loss
  for (let i = 0; i < packets.length - 1; i++) {
    const p = packets[i]!;
    full.decode(p, 0, p.length, ref);
    if (i % 7 === 3) {
      const next = packets[i + 1]!;
      withFec.decodeFec(next, 0, next.length, frame);
      plain.conceal(plcFrame);
      if (carriesFec(next)) {
        fec.push(snrDb(ref, frame));
        plc.push(snrDb(ref, plcFrame));
      } else {
        withoutLbrr++; // no FEC data to use: libopus conceals instead
      }
    } else {
      withFec.decode(p, 0, p.length, frame);
      plain.decode(p, 0, p.length, plcFrame);
    }
  }
  const mean = (v: number[]): number => v.reduce((x, y) => x + y, 0) / v.length;
  t.log(`lost frames against the loss-free decode: FEC ${fec.map((v) => v.toFixed(1)).join(', ')} dB (mean ${mean(fec).toFixed(1)})`);
  t.log(`the same frames concealed: ${plc.map((v) => v.toFixed(1)).join(', ')} dB (mean ${mean(plc).toFixed(1)}); ${withoutLbrr} losses before a packet without FEC data`);
  t.true(fec.length >= 10, `${fec.length} losses followed by a packet with FEC data`);
  t.is(withFec.fecFrames, fec.length + withoutLbrr);
  for (let k = 0; k < fec.length; k++) t.true(fec[k]! > plc[k]!, `loss ${k}: FEC ${fec[k]} dB, concealment ${plc[k]} dB`);
  t.true(mean(fec) > mean(plc) + 10, 'FEC rebuilds the lost frames far closer than concealment guesses them');
});

peerTest('without FEC in the stream the FEC path still yields a frame (concealed by libopus)', LIBOPUS, (t) => {
  const pcm = voice(20);
  const packets = encodeAll(codec(t, { fec: false }), pcm);
  const rx = codec(t);
  const frame = new Int16Array(FRAME);
  for (let i = 0; i < 5; i++) rx.decode(packets[i]!, 0, packets[i]!.length, frame);
  t.is(rx.decodeFec(packets[6]!, 0, packets[6]!.length, frame), FRAME);
  t.is(rx.decodeFec(packets[6]!, 0, 0, frame), FRAME, 'an empty payload conceals');
});

/** A raw RTP peer that sends `packets` as PT 111 every 20 ms, leaving out packet `drop`. */
async function opusPeer(t: ExecutionContext, port: number, packets: Buffer[], drop: number): Promise<void> {
  const sock = createSocket('udp4');
  sock.bind(0, HOST);
  await once(sock, 'listening');
  t.teardown(() => sock.close());
  for (let i = 0; i < packets.length; i++) {
    if (i === drop) continue;
    const p = packets[i]!;
    const b = Buffer.alloc(12 + p.length);
    b[0] = 0x80;
    b[1] = 111;
    b.writeUInt16BE((4000 + i) & 0xffff, 2);
    b.writeUInt32BE((96000 + i * FRAME) >>> 0, 4);
    b.writeUInt32BE(0xfec, 8);
    b.set(p, 12);
    sock.send(b, port, HOST);
    // the packet after the lost one goes out at once with it, so it is buffered when the gap plays
    if (i !== drop - 1) await sleep(20);
  }
}

peerTest('a media session fed one lost Opus packet plays it from the next packet\'s FEC', LIBOPUS, async (t) => {
  const packets = encodeAll(codec(t, { fec: true, packetLossPercent: 20 }), voice(40));
  const { s, cap } = await openOpusReceiver(t);
  await opusPeer(t, s.localPort, packets, 20);
  await sleep(300); // the buffered tail plays out
  const st = s.stats();
  t.log(`jitter lost ${st.jitter.lost}, concealed ${st.concealedFrames}, from FEC ${st.fecFrames}, played ${st.jitter.played}`);
  t.true(cap.pcm(0).length > 0);
  // the dropped packet is missing with its successor already buffered: rebuilt from FEC. On a
  // loaded machine a packet may also come too late to play, which is a loss of its own.
  t.true(st.jitter.lost >= 1 && st.jitter.lost - 1 <= st.jitter.late, `${st.jitter.lost} lost, ${st.jitter.late} late`);
  t.true(st.fecFrames >= 1 && st.fecFrames <= st.jitter.lost, `${st.fecFrames} frames from FEC`);
});

test('settings validation: types, ranges and unknown fields', (t) => {
  t.true(isValidOpusSettings({}));
  t.true(isValidOpusSettings({ bitrate: 6000, complexity: 0, fec: false, dtx: true, maxBandwidth: 'narrowband' }));
  t.true(isValidOpusSettings({ bitrate: 510000, complexity: 10, maxBandwidth: 'fullband' }));
  for (const bad of [null, undefined, 3, 'x', [], { bitrate: 5999 }, { bitrate: 510001 }, { bitrate: 32000.5 }, { bitrate: '32000' },
    { complexity: -1 }, { complexity: 11 }, { complexity: 2.5 }, { fec: 1 }, { dtx: 'yes' }, { maxBandwidth: 'wide' }, { bitrat: 32000 }]) {
    t.false(isValidOpusSettings(bad), JSON.stringify(bad));
  }
});

test('the Opus a=fmtp states the settings (RFC 7587 §6.1)', (t) => {
  t.is(opusFmtp({}), 'minptime=10;useinbandfec=1');
  t.is(opusFmtp({ fec: false }), 'minptime=10');
  t.is(opusFmtp({ fec: true, dtx: true, bitrate: 24000 }), 'minptime=10;useinbandfec=1;usedtx=1;maxaveragebitrate=24000');
  const specs = formatSpecs([MediaFormatAudio.ULaw8k, MediaFormatAudio.Opus48k], { dtx: true, bitrate: 20000 });
  t.is(specs.find((f) => f.name === 'opus')?.fmtp, 'minptime=10;useinbandfec=1;usedtx=1;maxaveragebitrate=20000');
  t.is(specs.find((f) => f.name === 'PCMU')?.fmtp, undefined);
});

test('setOpusSettings: bad values, bad lines and a detached this get codes, never a throw', async (t) => {
  const a = await startEngine(t, { numPhoneLinesRequested: 2, phoneName: 'alice' });
  const e = a.engine;
  t.is(e.setOpusSettings(0, { bitrate: 24000, complexity: 8, fec: true, dtx: false, maxBandwidth: 'wideband' }), T.SipSuccess);
  t.is(e.setOpusSettings(1, {}), T.SipSuccess);
  t.is(e.setOpusSettings(0, { bitrate: 1 }), T.SipBadParameter);
  t.is(e.setOpusSettings(0, { complexity: 99 }), T.SipBadParameter);
  t.is(e.setOpusSettings(0, { maxBandwidth: 'huge' as never }), T.SipBadParameter);
  t.is(e.setOpusSettings(0, { colour: 'red' } as never), T.SipBadParameter);
  t.is(e.setOpusSettings(0, null as never), T.SipBadParameter);
  t.is(e.setOpusSettings(2, {}), T.SipBadPhoneLine);
  t.is(e.setOpusSettings(-1, {}), T.SipBadPhoneLine);
  t.is(e.setOpusSettings('0' as never, {}), T.SipBadPhoneLine);
  const detached = e.setOpusSettings;
  t.is(detached.call(undefined, 0, {}), T.SipInvalidHandle);
  t.is(detached.call({}, 0, {}), T.SipInvalidHandle);
  t.is(VoipMediaEngine.prototype.setOpusSettings.call(Object.create(null), 0, {}), T.SipInvalidHandle);
});

test('a line\'s Opus settings go into its SDP answer and a bad call leaves them as they were', async (t) => {
  const b = await startEngine(t, { numPhoneLinesRequested: 1, phoneName: 'bob' });
  t.is(b.engine.setAudioMediaFormats(0, [MediaFormatAudio.Opus48k, MediaFormatAudio.ULaw8k]), T.SipSuccess);
  t.is(b.engine.setOpusSettings(0, { bitrate: 20000, dtx: true }), T.SipSuccess);
  t.is(b.engine.setOpusSettings(0, { bitrate: 20000, complexity: 12 }), T.SipBadParameter, 'refused as a whole');
  b.engine.on('SipOkToAnswerCall', (n) => b.engine.goOffHook(n.phoneLine));
  const client = await sipUdpClient(t, b.port);
  const res = await inviteWithOffer(client, b.port, 'bob', 'm=audio 6000 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\na=fmtp:96 useinbandfec=1\r\n', 'opus-fmtp');
  t.is(res.status, 200);
  const body = res.body.toString('latin1');
  t.log(body.split('\r\n').filter((l) => l.startsWith('a=fmtp')).join(' | '));
  t.regex(body, /\r\na=fmtp:96 minptime=10;useinbandfec=1;usedtx=1;maxaveragebitrate=20000\r\n/);
});

test.serial('without libopus the binding decodes and a loss is concealed: FEC is a bonus, never a need', (t) => {
  setNativeLibraryDisabled('opus', true);
  t.teardown(() => setNativeLibraryDisabled('opus', false));
  const packets = encodeAll(codec(t), voice(10));
  const rx = codec(t);
  t.false(rx.canDecodeFec);
  const frame = new Int16Array(FRAME);
  for (let i = 0; i < 5; i++) t.is(rx.decode(packets[i]!, 0, packets[i]!.length, frame), FRAME);
  t.is(rx.decodeFec(packets[6]!, 0, packets[6]!.length, frame), FRAME);
  t.is(rx.fecFrames, 0);
  t.is(rx.concealedFrames, 1);
});

test('packet loss percentage is a setting (0..100), validated like the rest', (t) => {
  t.true(isValidOpusSettings({ packetLossPercent: 0 }));
  t.true(isValidOpusSettings({ packetLossPercent: 100, fec: true }));
  for (const bad of [-1, 101, 2.5, '10']) t.false(isValidOpusSettings({ packetLossPercent: bad }), String(bad));
  const c = codec(t);
  t.true(c.applySettings({ packetLossPercent: 30 }));
  t.false(c.applySettings({ packetLossPercent: 120 }));
});

test('the far end\'s Opus fmtp is read (RFC 7587 §6.1) and caps what we encode', (t) => {
  t.deepEqual(parseOpusFmtp(undefined), { useInbandFec: false, cbr: false });
  t.deepEqual(parseOpusFmtp(''), { useInbandFec: false, cbr: false });
  t.deepEqual(parseOpusFmtp('minptime=10; USEINBANDFEC=1;maxaveragebitrate=20000;maxplaybackrate=16000;cbr=1'), {
    useInbandFec: true,
    cbr: true,
    maxAverageBitrate: 20000,
    maxBandwidth: 'wideband',
  });
  t.deepEqual(parseOpusFmtp('maxaveragebitrate=1000;maxplaybackrate=8000;useinbandfec=0;bogus;x=y'), { useInbandFec: false, cbr: false, maxAverageBitrate: 6000, maxBandwidth: 'narrowband' });
  t.is(parseOpusFmtp('maxaveragebitrate=abc').maxAverageBitrate, undefined, 'a malformed value is ignored');
  t.is(parseOpusFmtp('maxplaybackrate=24000').maxBandwidth, 'superwideband');
  t.is(parseOpusFmtp('maxplaybackrate=48000').maxBandwidth, 'fullband');
  // no fmtp at all: our settings, FEC off (useinbandfec absent means 0: the peer would not use it)
  t.deepEqual(effectiveOpusSettings({}, undefined), { ...OPUS_DEFAULT_SETTINGS });
  t.is(effectiveOpusSettings({}, parseOpusFmtp('')).fec, false);
  const e = effectiveOpusSettings({ bitrate: 64000, maxBandwidth: 'superwideband', dtx: true }, parseOpusFmtp('useinbandfec=1;maxaveragebitrate=24000;maxplaybackrate=16000;usedtx=0'));
  t.deepEqual(e, { bitrate: 24000, complexity: 5, fec: true, dtx: true, maxBandwidth: 'wideband', packetLossPercent: 10 });
  // the peer's caps never raise ours
  const low = effectiveOpusSettings({ bitrate: 12000, maxBandwidth: 'narrowband', fec: false }, parseOpusFmtp('useinbandfec=1;maxaveragebitrate=64000'));
  t.is(low.bitrate, 12000);
  t.is(low.maxBandwidth, 'narrowband');
  t.false(low.fec);
});

test('the opusSettings start option: validated, every line starts with it, and it is in the offer', async (t) => {
  const bad = new VoipMediaEngine();
  t.teardown(() => bad.stopSipTelephony());
  t.is(await bad.startSipTelephony({ ipAddressOfThisHost: HOST, sipPort: 0, opusSettings: { bitrate: 1 } }), T.SipBadParameter);
  t.is(await bad.startSipTelephony({ ipAddressOfThisHost: HOST, sipPort: 0, opusSettings: 'x' as never }), T.SipBadParameter);
  const b = await startEngine(t, { numPhoneLinesRequested: 1, phoneName: 'bob', opusSettings: { bitrate: 24000, dtx: true } });
  t.is(b.engine.setAudioMediaFormats(0, [MediaFormatAudio.Opus48k]), T.SipSuccess);
  b.engine.on('SipOkToAnswerCall', (n) => b.engine.goOffHook(n.phoneLine));
  const client = await sipUdpClient(t, b.port);
  const res = await inviteWithOffer(client, b.port, 'bob', 'm=audio 6000 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\n', 'opus-start');
  t.is(res.status, 200);
  t.regex(res.body.toString('latin1'), /\r\na=fmtp:96 minptime=10;useinbandfec=1;usedtx=1;maxaveragebitrate=24000\r\n/);
});

/** Mean payload octets per packet `e` sent on line 0 while `fn` waits. */
async function octetsPerPacket(e: EngineUnderTest, ms: number): Promise<number> {
  const s0 = mediaStats(e.engine, 0)!.tx;
  const o0 = s0.octets;
  const p0 = s0.packets;
  const p1 = p0 + Math.round(ms / 20);
  await until(() => (mediaStats(e.engine, 0)?.tx.packets ?? 0) >= p1, 30000);
  const s1 = mediaStats(e.engine, 0)!.tx;
  return (s1.octets - o0) / Math.max(1, s1.packets - p0);
}

test('engine to engine Opus: settings changed mid-call change the stream, the tone is still heard, the far end\'s fmtp caps the bitrate', async (t) => {
  const a = await startEngine(t, { numPhoneLinesRequested: 1, phoneName: 'alice', opusSettings: { bitrate: 12000 } });
  const b = await startEngine(t, { numPhoneLinesRequested: 1, phoneName: 'bob' });
  for (const e of [a, b]) t.is(e.engine.setAudioMediaFormats(0, [MediaFormatAudio.Opus48k]), T.SipSuccess);
  b.engine.on('SipOkToAnswerCall', (n) => b.engine.goOffHook(n.phoneLine));
  t.is(await a.engine.makeCall('bob', HOST, b.port, 0, true, 10000), T.SipSuccess);
  await b.waitForCount(T.SipIncomingCallConnected, 1);
  t.is(a.engine.getActiveCallInfo(0).codec, 'opus');
  const heard = capture(b.engine, 0);
  sendTone(a.engine, 0, 700, 6);
  const low = await octetsPerPacket(a, 600);
  t.is(a.engine.setOpusSettings(0, { bitrate: 64000, complexity: 2, packetLossPercent: 5 }), T.SipSuccess);
  await until(() => heard.samples().length >= 8000 * 1.2, 30000);
  const high = await octetsPerPacket(a, 600);
  t.log(`alice sends ${low.toFixed(1)} octets per packet at 12 kbit/s, ${high.toFixed(1)} after setOpusSettings 64 kbit/s`);
  t.true(high > low * 2, `${low} → ${high} octets per packet`);
  const n0 = heard.samples().length;
  await until(() => heard.samples().length >= n0 + 4000, 30000);
  const tail = heard.samples().subarray(-4000);
  t.true(blocksWithoutTone(tail, 8000, 700) <= 2 * receiveTrouble(b.engine, 0) + 2, 'the tone is still heard after the change');
  t.true(Math.abs(analyse(tail).freq - 700) < 15, `heard ${analyse(tail).freq} Hz`);
  // bob encodes at his default 32 kbit/s, but alice's fmtp said maxaveragebitrate=12000 (her
  // start option): bob's packets keep within her cap
  sendTone(b.engine, 0, 700, 3);
  const bobs = await octetsPerPacket(b, 600);
  t.log(`bob (32 kbit/s of his own, capped by alice's maxaveragebitrate=12000) sends ${bobs.toFixed(1)} octets per packet`);
  // the same tone alice sent at her own 12 kbit/s: about the same size (at 32 kbit/s it is ~3×)
  t.true(bobs < low * 1.5, `${bobs} octets per packet within alice's cap (${low} at 12 kbit/s)`);
});
