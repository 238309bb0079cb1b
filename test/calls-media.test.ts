/**
 * Media features of a line during a real engine-to-engine call: garbage aimed at the RTP port,
 * raw RTP access, loopback, volume, WAV playback, statistics.
 */
import test from 'ava';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import wavefilePkg from 'wavefile';
import { TelephonyReturnValue as T, type RawRtpData } from '../index.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { analyse, capture, sendTone, soundAfterOnset, soundOnset, wait } from './helpers/audio.js';
import { mediaStats, mediaWait } from './helpers/mediaTime.js';
import { until } from './helpers/observe.js';
import { kernelUdpDrops } from './helpers/udpDrops.js';

const { WaveFile } = wavefilePkg;

async function connected(t: Parameters<typeof startEngine>[0]): Promise<[EngineUnderTest, EngineUnderTest]> {
  const a = await startEngine(t, { phoneName: 'alice' });
  const b = await startEngine(t, { phoneName: 'bob' });
  b.engine.on('SipOkToAnswerCall', (n) => b.engine.goOffHook(n.phoneLine));
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 0, true, 5000), T.SipSuccess);
  await b.waitFor(T.SipIncomingCallConnected);
  return [a, b];
}

test('garbage on a call\'s RTP port is counted and the audio carries on', async (t) => {
  const [a, b] = await connected(t);
  const rtpPort = b.engine.getActiveCallInfo(0).localRtpPort!;
  const cap = capture(b.engine, 0);
  sendTone(a.engine, 0, 1000, 3);
  // the call's own media is latched before any foreign packet comes (under load A's first
  // packet can come after the first burst, and then the stray source would latch first)
  t.true(await until(() => (mediaStats(b.engine, 0)?.rx.packetsIn ?? 0) > 0), 'A\'s media reaches B');
  const sock = createSocket('udp4');
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  t.teardown(() => sock.close());
  const header = (v: number, pt: number, seq: number, ssrc: number): Buffer => {
    const h = Buffer.alloc(12 + 160, 0xff);
    h[0] = v << 6;
    h[1] = pt;
    h.writeUInt16BE(seq & 0xffff, 2);
    h.writeUInt32BE(seq * 160, 4);
    h.writeUInt32BE(ssrc, 8);
    return h;
  };
  const rx = () => mediaStats(b.engine, 0)!.rx;
  const relatchesBefore = mediaStats(b.engine, 0)!.relatches;
  const dropsBefore = kernelUdpDrops(rtpPort);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  for (let i = 0; i < 50; i++) {
    sock.send(header(1, 0, i, 0x1234), rtpPort, '127.0.0.1'); // wrong version
    sock.send(Buffer.from([0x80, 0x00, 0x01]), rtpPort, '127.0.0.1'); // truncated
    sock.send(header(2, 77, i, 0x1234), rtpPort, '127.0.0.1'); // unknown payload type
    const csrc = header(2, 0, i, 0x1234);
    csrc[0] = 0x8f; // 15 CSRCs claimed in a short packet
    sock.send(csrc.subarray(0, 20), rtpPort, '127.0.0.1');
    sock.send(header(2, 0, 1000 + i, 0x5678), rtpPort, '127.0.0.1'); // valid PCMU from a second source
    if (i % 10 === 0) await wait(10);
  }
  // every datagram that reached the socket is counted once: wait for all 250, less what the
  // kernel dropped before the socket saw it (a starved process reads its queue late)
  const counted = (): number => {
    const r = rx();
    const m = r.malformedByReason;
    return m.badVersion + m.tooShort + m.badCsrc + r.unknownPayloadType + r.conflictDrops;
  };
  const lost = (): number => kernelUdpDrops(rtpPort) - dropsBefore;
  await until(() => counted() + lost() >= 250);
  loop.disable();
  await mediaWait(a.engine, 0, 1000); // a second of A's media after the burst
  const heard = analyse(cap.samples());
  t.true(Math.abs(heard.freq - 1000) < 20, `still hears the call (${heard.freq} Hz, ${heard.samples} samples, ${JSON.stringify(b.engine.getActiveCallInfo(0).statistics)})`);
  const stats = mediaStats(b.engine, 0)!;
  const m = stats.rx.malformedByReason;
  const kernelLost = lost();
  t.log(`kernel drops ${kernelLost}, longest event-loop stall ${(loop.max / 1e6).toFixed(0)} ms`);
  // the kernel's drops on the socket may also have been A's own packets: a range, exact when none
  t.true(counted() <= 250 && counted() + kernelLost >= 250, `each datagram counted once: ${JSON.stringify(stats.rx)}, kernel drops ${kernelLost}`);
  t.true(m.badVersion >= 50 - kernelLost && m.tooShort >= 50 - kernelLost && m.badCsrc >= 50 - kernelLost, `malformed packets counted by reason: ${JSON.stringify(m)}`);
  // packets from a second source are a conflict: reported once, and dropped (valid PCMU and the
  // unknown payload types alike) while the call's own source talks. The source moves only
  // after a second of silence from the latched one, i.e. only if this process stalled that long.
  const relatched = stats.relatches - relatchesBefore;
  t.true(relatched === 0 || loop.max / 1e6 >= 1000, `re-latched ${relatched} times without a one-second stall`);
  if (relatched === 0) {
    t.is(stats.rx.unknownPayloadType, 0, 'a payload type from the foreign source is a conflict before anything else');
    t.true(stats.rx.conflictDrops >= 100 - kernelLost, `foreign packets dropped: ${stats.rx.conflictDrops}, kernel drops ${kernelLost}`);
  }
  const conflict = await b.waitFor(T.SipReceivedRtpMediaConflict);
  t.like(conflict.data, { address: '127.0.0.1', port: sock.address().port });
  t.is(b.of(T.SipCallComplete).length, 0, 'the call survived');
});

test('raw RTP access sees both directions and can drop packets', async (t) => {
  const [a, b] = await connected(t);
  const seen: RawRtpData[] = [];
  t.is(a.engine.enableRawRtpPacketAccess(0, true, (d) => seen.push(d)), T.SipSuccess);
  // a few packets each way, however long a loaded machine takes to send them
  await until(() => seen.filter((d) => d.transmittingPacket).length > 5 && seen.filter((d) => !d.transmittingPacket).length > 5, 10000);
  const tx = seen.filter((d) => d.transmittingPacket);
  const rx = seen.filter((d) => !d.transmittingPacket);
  t.true(tx.length > 5 && rx.length > 5, `${tx.length} sent, ${rx.length} received`);
  t.is(tx[0]!.payloadType, 0);
  t.is(tx[0]!.phoneLine, 0);
  t.is(tx[0]!.payload.length, 160);
  t.is(tx[0]!.packet.length, 172);
  // dropping everything A sends: B hears nothing of A's tone
  t.is(a.engine.enableRawRtpPacketAccess(0, true, (d) => {
    if (d.transmittingPacket) d.processRtpPacket = false;
  }), T.SipSuccess);
  const cap = capture(b.engine, 0);
  sendTone(a.engine, 0, 1000, 1);
  await until(() => cap.samples().length >= 5600, 10000); // 0.7 s of B's media time
  const heard = analyse(cap.samples());
  t.false(Math.abs(heard.freq - 1000) < 30 && heard.levelDb > -10, 'dropped packets never arrive');
  t.is(a.engine.enableRawRtpPacketAccess(0, false), T.SipSuccess);
});

test('loopback echoes the far end; volume saturates instead of wrapping; WAV playback', async (t) => {
  const [a, b] = await connected(t);
  t.is(b.engine.setPhoneLineLoopBack(0, true), T.SipSuccess);
  const capA = capture(a.engine, 0);
  sendTone(a.engine, 0, 600, 2);
  // judged from where the tone begins (the round trip through B is stretched on a loaded machine)
  const echoed = analyse((await soundAfterOnset(capA, 500)).pcm);
  t.true(Math.abs(echoed.freq - 600) < 15, `A hears its own tone back (${echoed.freq} Hz)`);
  capA.close();
  t.is(b.engine.setPhoneLineLoopBack(0, false), T.SipSuccess);

  // 4x gain on a loud tone clips: samples stay within range and keep their sign pattern
  t.is(a.engine.setPhoneLineVolume(0, 512, 2048), T.SipSuccess);
  const capB = capture(b.engine, 0);
  sendTone(a.engine, 0, 500, 2);
  const loud = (await soundAfterOnset(capB, 500)).pcm;
  const s = loud.subarray(-2000);
  let max = 0;
  for (const v of s) max = Math.max(max, Math.abs(v));
  t.true(max > 28000, `clipped near full scale (${max})`);
  t.true(Math.abs(analyse(loud).freq - 500) < 15, 'still a 500 Hz tone, no wrap-around noise');
  capB.close();
  a.engine.setPhoneLineVolume(0, 512, 512);
  // that tone ends (2 s) and B hears silence before the WAV starts: the onset the WAV part judges
  // from is the WAV's own (the tone still playing, about as loud, had made it a coin toss when the
  // floor was slow to start the WAV)
  const quiet = capture(b.engine, 0);
  t.true(await until(() => {
    const q = quiet.samples();
    return q.length >= 1600 && soundOnset(q.subarray(-1600)) < 0;
  }, 10000), 'the tone ends');
  quiet.close();

  const dir = mkdtempSync(path.join(tmpdir(), 'linescape-wav-'));
  const file = path.join(dir, 'prompt16k.wav');
  const rate = 16000;
  const samples = new Int16Array(rate * 2);
  for (let i = 0; i < samples.length; i++) samples[i] = Math.round(9000 * Math.sin((2 * Math.PI * 1200 * i) / rate));
  const wav = new WaveFile();
  wav.fromScratch(1, rate, '16', samples);
  writeFileSync(file, wav.toBuffer());
  const capW = capture(b.engine, 0);
  t.is(a.engine.playWaveFile(0, file, true), T.SipSuccess);
  const played = analyse((await soundAfterOnset(capW, 500)).pcm);
  t.true(Math.abs(played.freq - 1200) < 20, `the 16 kHz WAV is heard at 1200 Hz (${played.freq} Hz)`);
  t.is(a.engine.stopWaveFile(0), T.SipSuccess);
  writeFileSync(path.join(dir, 'empty.wav'), '');
  writeFileSync(path.join(dir, 'text.wav'), 'this is no RIFF file');
  t.is(a.engine.playWaveFile(0, path.join(dir, 'missing.wav'), false), T.SipBadParameter);
  t.is(a.engine.playWaveFile(0, path.join(dir, 'empty.wav'), false), T.SipBadAudioDataType);
  t.is(a.engine.playWaveFile(0, path.join(dir, 'text.wav'), false), T.SipBadAudioDataType);
});

test('enableKeepAliveTransmissions: a held call that sends no audio keeps its RTP path open', async (t) => {
  const [a, b] = await connected(t);
  t.is(await a.engine.holdLine(0, true), T.SipSuccess); // B may no longer send audio to A
  await b.waitFor(T.SipFarEndHoldOn);
  // With media workers the hold reaches B's floor as a message, so B's statistics are read after
  // it (a read after a command waits until the floor took it): from then on B sends no audio.
  // What B sent before, A reads before its handler starts: a command to A's floor and a read
  // after it come after the packets A's floor had received. Without workers both are at once.
  mediaStats(b.engine, 0);
  t.is(a.engine.enableRawRtpPacketAccess(0, false), T.SipSuccess);
  mediaStats(a.engine, 0);
  const fromB: RawRtpData[] = [];
  a.engine.enableRawRtpPacketAccess(0, true, (d) => {
    if (!d.transmittingPacket) fromB.push(d);
  });
  await wait(300);
  t.is(fromB.length, 0, 'no audio from B while held');
  t.is(b.engine.enableKeepAliveTransmissions(false, true, 200), T.SipSuccess);
  await until(() => fromB.length >= 2, 10000); // one every 200 ms, however loaded the machine
  t.true(fromB.length >= 2, `keep-alives arrive (${fromB.length})`);
  t.true(fromB.every((d) => d.payloadType === 13), 'comfort-noise keep-alive packets (RFC 6263)');
});
