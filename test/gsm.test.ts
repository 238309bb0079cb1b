/**
 * GSM 06.10 through libgsm (media/gsm, ffi/gsm): RFC 3551 framing, our packets against libgsm's
 * own encode and decode of the same audio, tone and speech-like round trips, bad frames, and a
 * disabled library.
 * @module
 */
import test from 'ava';
import fc from 'fast-check';
import { CODEC_INFO, createCodec, isCodecAvailable } from '../media/codecs.js';
import { createGsmCodec } from '../media/gsm.js';
import { createGsmChannel } from '../ffi/gsm.js';
import { setNativeLibraryDisabled } from '../ffi/loader.js';
import { dominantFrequency } from './helpers/analysis.js';
import { defaultFormat } from '../sip/sdp.js';
import { formatSpecs } from '../lines/lineMedia.js';
import { MediaFormatAudio } from '../index.js';
import { native, peerTest } from './helpers/env.js';
import { codecRoundTrip, sine, snrDb, speechLike8k } from './helpers/signals.js';

const GSM = [native('gsm')];

/** Round trip through two codecs (as two lines would), returning payloads and decoded audio. */
function roundTrip(pcm: Int16Array): { payloads: Buffer[]; out: Int16Array } {
  return codecRoundTrip(createGsmCodec()!, createGsmCodec()!, pcm);
}

test('GSM codec table and SDP: 3 GSM/8000, 33 octets per 20 ms', (t) => {
  t.like(CODEC_INFO.GSM, { defaultPayloadType: 3, clockRate: 8000, sampleRate: 8000, samplesPerFrame: 160, timestampIncrement: 160, maxPayloadBytes: 33, rtpmap: 'GSM/8000' });
  t.deepEqual(defaultFormat('GSM'), { name: 'GSM', payloadType: 3, clockRate: 8000 });
});

peerTest('GSM: every packet is one 33-octet frame with the 0xD signature, identical to libgsm\'s own encoding and decoding', GSM, (t) => {
  const input = speechLike8k(1);
  const { payloads, out } = roundTrip(input);
  t.true(payloads.every((p) => p.length === 33 && p[0]! >> 4 === 0xd), 'RFC 3551 §4.5.8 framing');
  const made = createGsmChannel();
  if (!made.ok) {
    t.fail(made.reason);
    return;
  }
  const ch = made.channel;
  t.teardown(() => ch.close());
  const frame = new Int16Array(160);
  const bits = new Uint8Array(33);
  const dec = new Int16Array(160);
  for (let k = 0; k < payloads.length; k++) {
    frame.set(input.subarray(k * 160, k * 160 + 160));
    ch.encode(frame, bits);
    if (!Buffer.from(bits).equals(payloads[k]!)) {
      t.fail(`frame ${k} differs from libgsm's encoding`);
      return;
    }
    t.true(ch.decode(bits, dec) || t.fail(`libgsm refused frame ${k}`) === undefined);
    if (dec.some((v, i) => v !== out[k * 160 + i])) {
      t.fail(`frame ${k} decodes differently from libgsm's reference decode`);
      return;
    }
  }
});

peerTest('GSM round trip of a 1 kHz tone: frequency within 1 %, SNR above 25 dB', GSM, (t) => {
  const input = sine(1000, 1, 8000);
  const { out } = roundTrip(input);
  const f = dominantFrequency(out, 8000, 1600);
  const { snr } = snrDb(input, out);
  t.log(`1 kHz through GSM: dominant ${f.toFixed(1)} Hz, SNR ${snr.toFixed(1)} dB`);
  t.true(Math.abs(f - 1000) <= 10, `dominant ${f}`);
  t.true(snr > 25, `SNR ${snr.toFixed(1)} dB`);
});

peerTest('GSM round trip of a speech-like signal: same dominant frequency, SNR above 12 dB', GSM, (t) => {
  const input = speechLike8k(2);
  const { out } = roundTrip(input);
  const fin = dominantFrequency(input, 8000, 1600);
  const fout = dominantFrequency(out, 8000, 1600);
  const { snr } = snrDb(input, out);
  t.log(`speech-like through GSM: dominant ${fin.toFixed(1)} Hz in, ${fout.toFixed(1)} Hz out, SNR ${snr.toFixed(1)} dB`);
  t.true(Math.abs(fout - fin) <= fin * 0.01, `dominant ${fout} vs ${fin}`);
  t.true(snr > 12, `SNR ${snr.toFixed(1)} dB`);
});

peerTest('GSM bad payloads never throw: short or unsigned frames are counted and concealed', GSM, (t) => {
  const codec = createGsmCodec()!;
  t.teardown(() => codec.close());
  const out = new Int16Array(160);
  t.is(codec.decode(Buffer.alloc(0), 0, 0, out), 160);
  t.is(codec.decode(Buffer.alloc(20), 0, 20, out), 160);
  t.is(codec.decode(Buffer.alloc(33, 0xff), 0, 33, out), 160); // no 0xD signature
  t.is(codec.badFrames, 2);
  t.is(codec.concealedFrames, 3);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), fc.integer({ min: -5, max: 100 }), (bytes, offset) => {
      const n = codec.decode(Buffer.from(bytes), offset, bytes.length, out);
      return n === 160;
    }),
    { numRuns: 300 },
  );
  t.throws(() => codec.encode(new Int16Array(100), Buffer.alloc(40), 0), { instanceOf: RangeError });
  codec.reset();
  codec.close();
  codec.close();
  t.is(codec.decode(Buffer.alloc(33, 0xd0), 0, 33, out), 160, 'a closed codec still answers');
});

peerTest.serial('a disabled libgsm removes GSM from offers; the line keeps its other formats', GSM, (t) => {
  t.true(isCodecAvailable('GSM'));
  setNativeLibraryDisabled('gsm', true);
  t.teardown(() => setNativeLibraryDisabled('gsm', false));
  t.false(isCodecAvailable('GSM'));
  t.is(createCodec('GSM'), undefined);
  t.deepEqual(
    formatSpecs([MediaFormatAudio.Gsm, MediaFormatAudio.ALaw8k]).map((f) => f.name),
    ['PCMA'],
  );
});
