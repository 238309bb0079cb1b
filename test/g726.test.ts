/**
 * G.726 at 32 kbit/s through libspandsp (media/g726, ffi/spandsp; issue 15): the codec table and
 * SDP name (`G726-32/8000`, dynamic), RFC 3551 packing (first code word in the low nibble, the
 * AAL2 packing swaps the nibbles), tone and speech-like round trips, 10 ms packets, bad
 * payloads, a disabled library, and an engine-to-engine call at 30 ms packets (120 octets).
 * @module
 */
import test from 'ava';
import fc from 'fast-check';
import { CODEC_INFO, createCodec, findCodecByRtpmap, isCodecAvailable } from '../media/codecs.js';
import { createG726Codec } from '../media/g726.js';
import { createSpandspG726 } from '../ffi/spandsp.js';
import { setNativeLibraryDisabled } from '../ffi/loader.js';
import { payloadUnitOf } from '../media/packetTime.js';
import { dominantFrequency } from './helpers/analysis.js';
import { createOffer, defaultFormat, negotiateOffer } from '../sip/sdp.js';
import { formatSpecs } from '../lines/lineMedia.js';
import { MediaFormatAudio, TelephonyReturnValue as T } from '../index.js';
import { startEngine } from './helpers/engine.js';
import { exchangeTones } from './helpers/audio.js';
import { freePorts } from './helpers/ports.js';
import { native, peerTest } from './helpers/env.js';
import { codecRoundTrip, sine, snrDb, speechLike8k } from './helpers/signals.js';

const SPANDSP = [native('spandsp')];

/** Round trip through two codecs (as two lines would), returning payloads and decoded audio. */
function roundTrip(pcm: Int16Array): { payloads: Buffer[]; out: Int16Array } {
  return codecRoundTrip(createG726Codec(112)!, createG726Codec(112)!, pcm);
}

test('G.726-32 codec table and SDP: dynamic G726-32/8000, 80 octets per 20 ms, 40 per 10 ms unit', (t) => {
  t.like(CODEC_INFO['G726-32'], { clockRate: 8000, sampleRate: 8000, samplesPerFrame: 160, timestampIncrement: 160, maxPayloadBytes: 80, rtpmap: 'G726-32/8000' });
  t.true(CODEC_INFO['G726-32'].defaultPayloadType >= 96);
  t.is(findCodecByRtpmap('g726-32/8000')?.name, 'G726-32');
  t.is(findCodecByRtpmap('AAL2-G726-32/8000'), undefined, 'the AAL2 packing is another codec');
  t.deepEqual(defaultFormat('G726-32'), { name: 'G726-32', payloadType: 112, clockRate: 8000 });
  t.deepEqual(payloadUnitOf('G726-32'), { ms: 10, bytes: 40 });
  const local = { address: '127.0.0.1', port: 40000, telephoneEvent: true, direction: 'sendrecv' as const, sessionId: '1', sessionVersion: 1 };
  const offer = createOffer({ ...local, formats: [{ name: 'G726-32', payloadType: 97, clockRate: 8000 }] });
  t.regex(offer, /\r\na=rtpmap:97 G726-32\/8000\r\n/);
  const r = negotiateOffer(offer, { ...local, formats: [defaultFormat('PCMU'), defaultFormat('G726-32')] });
  t.like(r, { ok: true, media: { codec: { name: 'G726-32', payloadType: 97 } } }, 'the offerer\'s dynamic number is kept');
});

peerTest('G.726-32 packs RFC 3551 style: the first code word in the low nibble, AAL2 the other way', SPANDSP, (t) => {
  const input = speechLike8k(0.2);
  const { payloads } = roundTrip(input);
  t.true(payloads.length > 0 && payloads.every((p) => p.length === 80), 'two samples per octet');
  const aal2 = createSpandspG726('aal2');
  if (!aal2.ok) return t.fail(aal2.reason);
  t.teardown(() => aal2.coder.close());
  const frame = new Int16Array(160);
  const bits = new Uint8Array(80);
  for (let k = 0; k < payloads.length; k++) {
    frame.set(input.subarray(k * 160, k * 160 + 160));
    t.is(aal2.coder.encode(frame, 160, bits), 80);
    const swapped = Buffer.from(bits.map((b) => ((b & 0x0f) << 4) | (b >> 4)));
    if (!swapped.equals(payloads[k]!)) return t.fail(`frame ${k}: not the AAL2 stream with its nibbles swapped`);
  }
  t.pass();
});

peerTest('G.726-32 round trip of a 1 kHz tone: frequency within 1 %, SNR above 20 dB', SPANDSP, (t) => {
  const input = sine(1000, 1, 8000);
  const { out } = roundTrip(input);
  const f = dominantFrequency(out, 8000, 1600);
  const { snr } = snrDb(input, out);
  t.log(`1 kHz through G.726-32: dominant ${f.toFixed(1)} Hz, SNR ${snr.toFixed(1)} dB`);
  t.true(Math.abs(f - 1000) <= 10, `dominant ${f}`);
  t.true(snr > 20, `SNR ${snr.toFixed(1)} dB`);
});

// The speech-like signal is a pulse train through two resonators: each pulse outruns the ADPCM
// step adaptation for a few samples, so its waveform SNR (8.5 dB measured) is far below a tone's.
peerTest('G.726-32 round trip of a speech-like signal: same dominant frequency, SNR above 6 dB', SPANDSP, (t) => {
  const input = speechLike8k(2);
  const { out } = roundTrip(input);
  const fin = dominantFrequency(input, 8000, 1600);
  const fout = dominantFrequency(out, 8000, 1600);
  const { snr } = snrDb(input, out);
  t.log(`speech-like through G.726-32: dominant ${fin.toFixed(1)} Hz in, ${fout.toFixed(1)} Hz out, SNR ${snr.toFixed(1)} dB`);
  t.true(Math.abs(fout - fin) <= fin * 0.01, `dominant ${fout} vs ${fin}`);
  t.true(snr > 6, `SNR ${snr.toFixed(1)} dB`);
});

peerTest('G.726-32 bad payloads never throw: empty ones are concealed, short ones decode what they hold', SPANDSP, (t) => {
  const codec = createG726Codec(112)!;
  t.teardown(() => codec.close());
  const out = new Int16Array(160);
  t.is(codec.decode(Buffer.alloc(0), 0, 0, out), 160);
  t.is(codec.decode(Buffer.alloc(40), 0, 40, out), 80, 'a 10 ms half');
  t.is(codec.decode(Buffer.alloc(80), 90, 80, out), 160, 'offset past the end: concealed');
  t.is(codec.concealedFrames, 2);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: -5, max: 100 }), (bytes, offset) => {
      const n = codec.decode(Buffer.from(bytes), offset, bytes.length, out);
      return n > 0 && n <= 160;
    }),
    { numRuns: 300 },
  );
  t.throws(() => codec.encode(new Int16Array(100), Buffer.alloc(80), 0), { instanceOf: RangeError });
  t.throws(() => codec.encode(new Int16Array(160), Buffer.alloc(40), 0), { instanceOf: RangeError });
  codec.reset();
  codec.close();
  codec.close();
  t.is(codec.decode(Buffer.alloc(80), 0, 80, out), 160, 'a closed codec still answers');
});

peerTest.serial('a disabled libspandsp removes G.726-32 from offers; the line keeps its other formats', SPANDSP, (t) => {
  t.true(isCodecAvailable('G726-32'));
  t.deepEqual(formatSpecs([MediaFormatAudio.G726_32, MediaFormatAudio.ALaw8k]).map((f) => f.name), ['G726-32', 'PCMA']);
  setNativeLibraryDisabled('spandsp', true);
  t.teardown(() => setNativeLibraryDisabled('spandsp', false));
  t.false(isCodecAvailable('G726-32'));
  t.is(createCodec('G726-32'), undefined);
  t.deepEqual(formatSpecs([MediaFormatAudio.G726_32, MediaFormatAudio.ALaw8k]).map((f) => f.name), ['PCMA']);
});

peerTest('engine to engine on G.726-32 with the caller\'s line at 30 ms: 120-octet packets both ways, tones heard', SPANDSP, async (t) => {
  const engines = [];
  for (const name of ['g726a', 'g726b']) {
    const rtp = await freePorts(8, { even: true });
    const e = await startEngine(t, { phoneName: name, minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[rtp.length - 1]! + 1 });
    t.is(e.engine.setAudioMediaFormats(0, [MediaFormatAudio.G726_32]), T.SipSuccess);
    e.engine.on('SipOkToAnswerCall', (n) => e.engine.goOffHook(n.phoneLine));
    engines.push(e);
  }
  const [a, b] = engines as [(typeof engines)[0], (typeof engines)[0]];
  t.is(a.engine.setPacketTime(0, 30), T.SipSuccess);
  t.is(await a.engine.makeCall('g726b', '127.0.0.1', b.port, 0, true, 10000), T.SipSuccess);
  await b.waitFor(T.SipIncomingCallConnected);
  await a.waitFor(T.SipOutgoingCallConnected);
  for (const e of [a, b]) t.is(e.engine.getActiveCallInfo(0).codec, 'G726-32');
  const { heardAtA, heardAtB, received, rawAccess, captured } = await exchangeTones(a.engine, b.engine, 112, 600, 1100);
  t.deepEqual(rawAccess, [T.SipSuccess, T.SipSuccess]);
  t.true(captured);
  t.true(Math.abs(heardAtB.freq - 600) < 6 && heardAtB.levelDb > -20, `B hears ${heardAtB.freq.toFixed(1)} Hz at ${heardAtB.levelDb.toFixed(1)} dB`);
  t.true(Math.abs(heardAtA.freq - 1100) < 11 && heardAtA.levelDb > -20, `A hears ${heardAtA.freq.toFixed(1)} Hz at ${heardAtA.levelDb.toFixed(1)} dB`);
  // 30 ms of 4-bit samples: 240 samples, 120 octets
  t.true(received.a.length > 10 && received.a.every((n) => n === 120), `A received ${received.a.slice(0, 20).join(',')}`);
  t.true(received.b.length > 10 && received.b.every((n) => n === 120), `B received ${received.b.slice(0, 20).join(',')}`);
});
