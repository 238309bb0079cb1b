/**
 * RFC 3389 comfort noise on receive: the generator's level and ramp, and a media session fed by
 * a raw RTP peer on a real socket that talks (a PCMU tone), goes silent sending CN packets
 * (static payload type 13, or a dynamic one the SDP declared), then talks again. During the
 * silence the line must play noise at the stated level: not silence, not clicks.
 * @module
 */
import test, { type ExecutionContext } from 'ava';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { ComfortNoiseGenerator, comfortNoiseRms } from '../media/comfortNoise.js';
import { MULAW_ENCODE } from '../media/g711.js';
import { MediaClock } from '../media/mediaClock.js';
import { dominantFrequency, rms, rmsDbfs } from './helpers/analysis.js';
import { allocator, Capture, HOST, open, params, sleep } from './helpers/sessionPair.js';
import { defaultFormat, negotiateOffer, type LocalMedia } from '../sip/sdp.js';

test('CN level in −dBov: 0 dBov is a full-scale sine, each dB down is a dB down, 127 is silence', (t) => {
  t.is(Math.round(comfortNoiseRms(0)), Math.round(32768 / Math.SQRT2));
  t.true(Math.abs(20 * Math.log10(comfortNoiseRms(40) / comfortNoiseRms(20)) + 20) < 1e-9);
  t.is(comfortNoiseRms(127), 0);
  t.is(comfortNoiseRms(0x80 | 40), comfortNoiseRms(40)); // the top bit is reserved (RFC 3389 §3)
});

test('the generator ramps in from silence, then holds the stated level', (t) => {
  const g = new ComfortNoiseGenerator();
  g.receive(Uint8Array.of(40), 0, 1);
  t.true(g.active);
  const first = new Int16Array(160);
  g.generate(first, 160);
  t.true(rms(first, 0, 16) < rms(first, 144, 160) + 1, 'the first frame fades in');
  const steady = new Int16Array(8000);
  for (let i = 0; i < 50; i++) g.generate(steady.subarray(i * 160), 160);
  const level = rmsDbfs(steady);
  t.log(`level 40 → ${level.toFixed(2)} dBFS (expected ${(-40 - 3.01).toFixed(2)})`);
  t.true(Math.abs(level - (-40 - 3.01)) < 0.5);
  g.receive(new Uint8Array(0), 0, 0); // no level octet: keep the last one
  t.is(g.level, 40);
  g.receive(Uint8Array.of(127), 0, 1);
  g.generate(first, 160);
  g.generate(first, 160);
  t.true(first.every((v) => v === 0), 'level 127 is silence');
});

/** A raw RTP peer on a real socket: sends PCMU tone packets or CN packets to `port`. */
async function rawPeer(t: ExecutionContext, port: number) {
  const sock = createSocket('udp4');
  sock.bind(0, HOST);
  await once(sock, 'listening');
  t.teardown(() => sock.close());
  let seq = 1000;
  let ts = 5000;
  let phase = 0;
  const packet = (pt: number, payload: Uint8Array): Buffer => {
    const b = Buffer.alloc(12 + payload.length);
    b[0] = 0x80;
    b[1] = pt;
    b.writeUInt16BE(seq++ & 0xffff, 2);
    b.writeUInt32BE(ts >>> 0, 4);
    b.writeUInt32BE(0x5eed, 8);
    b.set(payload, 12);
    return b;
  };
  const tonePayload = (): Uint8Array => {
    const p = new Uint8Array(160);
    for (let i = 0; i < 160; i++) p[i] = MULAW_ENCODE[Math.round(8000 * Math.sin(phase++ * ((2 * Math.PI * 1000) / 8000))) & 0xffff]!;
    return p;
  };
  return {
    port: sock.address().port,
    /** Talk: one tone packet per 20 ms for `ms`. */
    async talk(ms: number): Promise<void> {
      for (let sent = 0; sent < ms; sent += 20) {
        sock.send(packet(0, tonePayload()), port, HOST);
        ts += 160;
        await sleep(20);
      }
    },
    /** Be silent for `ms`: a CN packet at the start and every 200 ms, the clock running on. */
    async silence(ms: number, pt: number, level: number): Promise<void> {
      for (let elapsed = 0; elapsed < ms; elapsed += 20) {
        if (elapsed % 200 === 0) sock.send(packet(pt, Uint8Array.of(level)), port, HOST);
        ts += 160;
        phase += 160;
        await sleep(20);
      }
    },
  };
}

for (const [title, pt, level, declared] of [
  ['static payload type 13', 13, 40, undefined],
  ['a dynamic CN payload type from the SDP', 105, 30, 105],
] as const) {
  test(`a peer's CN packets (${title}) play as noise at the stated level during its silence, then its speech returns`, async (t) => {
    const clock = new MediaClock();
    t.teardown(() => clock.stop());
    const alloc = await allocator(2);
    const s = await open(t, clock, alloc);
    const peer = await rawPeer(t, s.localPort);
    t.true(s.configure(params('PCMU', peer.port, { telephoneEvent: undefined, ...(declared !== undefined ? { comfortNoisePayloadType: declared } : {}) })));
    clock.start();
    s.start();
    const cap = new Capture(s.openRx(8000));

    await peer.talk(800);
    const silence = peer.silence(1800, pt, level);
    await sleep(400); // the buffered speech plays out and the noise ramps in
    const mark = cap.mark;
    await sleep(1000);
    const noise = cap.pcm(mark);
    await silence;
    await peer.talk(800);
    const speech = await cap.record(300);

    const expected = -level - 3.01;
    const blocks: number[] = [];
    for (let i = 0; i + 160 <= noise.length; i += 160) blocks.push(rmsDbfs(noise, i, i + 160));
    const peak = noise.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const target = comfortNoiseRms(level);
    t.log(`${blocks.length} noise blocks: ${Math.min(...blocks).toFixed(1)}..${Math.max(...blocks).toFixed(1)} dBFS (stated ${expected.toFixed(1)}); peak ${peak} = ${(peak / target).toFixed(2)}× the RMS`);
    t.true(blocks.length >= 30, `${noise.length} samples of silence captured`);
    t.true(blocks.every((b) => Math.abs(b - expected) < 3), 'every 20 ms of the silence is noise at the stated level (no drop-outs, no bursts)');
    t.true(peak <= 2 * target, 'no clicks: no sample beyond twice the RMS');
    const stats = s.stats();
    t.true(stats.comfortNoise.packets >= 5);
    t.is(stats.comfortNoise.level, level);
    t.true(Math.abs(dominantFrequency(speech, 8000) - 1000) < 10, 'the tone is back after the silence');
  });
}

test('SDP: the CN payload type at the chosen codec\'s clock is passed on (static 13 with G.711, a dynamic one with Opus)', (t) => {
  const local: LocalMedia = {
    address: '127.0.0.1',
    port: 4000,
    formats: [defaultFormat('PCMU'), defaultFormat('opus')],
    telephoneEvent: false,
    direction: 'sendrecv',
    sessionId: '1',
    sessionVersion: 1,
  };
  const offer = (m: string, attrs: string) => `v=0\r\no=- 5 5 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP ${m}\r\n${attrs}`;
  const g711 = negotiateOffer(offer('0 13', ''), local);
  t.true(g711.ok && g711.media.comfortNoisePayloadType === 13);
  const opus = negotiateOffer(offer('111 13 98', 'a=rtpmap:111 opus/48000/2\r\na=rtpmap:98 CN/48000\r\n'), local);
  t.true(opus.ok && opus.media.codec.name === 'opus' && opus.media.comfortNoisePayloadType === 98);
  const none = negotiateOffer(offer('0', ''), local);
  t.true(none.ok && none.media.comfortNoisePayloadType === undefined);
});
