/**
 * G.722 (media/g722): round trips of a 1 kHz tone, a high-band tone and a speech-like signal
 * judged by frequency and SNR, bit-exactness against libspandsp's coder in both directions,
 * the 8000 Hz RTP clock quirk in the codec table and SDP, and bad payloads.
 * @module
 */
import test from 'ava';
import fc from 'fast-check';
import { CODEC_INFO, createCodec, findCodecByRtpmap } from '../media/codecs.js';
import { G722Codec, G722Decoder, G722Encoder } from '../media/g722.js';
import { dominantFrequency } from './helpers/analysis.js';
import { createSpandspG722 } from '../ffi/spandsp.js';
import { createOffer, defaultFormat, negotiateOffer, type LocalMedia } from '../sip/sdp.js';
import { native, peerTest } from './helpers/env.js';
import { seededRandom } from './helpers/prng.js';

const RATE = 16000;

/** A sine at `freq` of `seconds` at 16 kHz. */
function sine(freq: number, seconds: number, amplitude = 10000): Int16Array {
  const pcm = new Int16Array(Math.round(seconds * RATE));
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freq * i) / RATE));
  return pcm;
}

/**
 * A speech-like signal: a glottal pulse train whose pitch glides between 110 and 190 Hz, shaped
 * by three formant resonators that move between vowel positions, under a 4 Hz syllable envelope,
 * with a little breath noise. It has speech's harmonic structure and spectral tilt, so an ADPCM
 * coder sees the same kind of input as from a real talker.
 */
function speechLike(seconds: number): Int16Array {
  const n = Math.round(seconds * RATE);
  const out = new Int16Array(n);
  const rnd = seededRandom(7);
  const formants = [
    [700, 1200, 2600],
    [300, 2300, 3000],
    [500, 900, 2400],
  ];
  const state = formants[0]!.map(() => [0, 0]);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / RATE;
    const f0 = 150 + 40 * Math.sin(2 * Math.PI * 0.7 * t);
    phase += f0 / RATE;
    let x = 0;
    if (phase >= 1) {
      phase -= 1;
      x = 1;
    }
    x += 0.02 * (rnd() - 0.5);
    const vowel = Math.floor(t * 4) % formants.length;
    let y = x;
    let acc = 0;
    for (let k = 0; k < 3; k++) {
      const fk = formants[vowel]![k]!;
      const r = 0.97;
      const a1 = 2 * r * Math.cos((2 * Math.PI * fk) / RATE);
      const a2 = -r * r;
      const s = state[k]!;
      const v = y + a1 * s[0]! + a2 * s[1]!;
      s[1] = s[0]!;
      s[0] = v;
      acc += v / (k + 1);
      y = x;
    }
    const env = 0.25 + 0.75 * Math.abs(Math.sin(Math.PI * 4 * t));
    out[i] = Math.max(-32768, Math.min(32767, Math.round(900 * acc * env)));
  }
  return out;
}

/** Encode and decode `pcm` through a G722Codec frame by frame, as a line does. */
function roundTrip(pcm: Int16Array): Int16Array {
  const codec = new G722Codec();
  const out = new Int16Array(pcm.length);
  const pkt = Buffer.alloc(200);
  const frame = new Int16Array(320);
  const dec = new Int16Array(320);
  for (let off = 0; off + 320 <= pcm.length; off += 320) {
    frame.set(pcm.subarray(off, off + 320));
    const len = codec.encode(frame, pkt, 12);
    if (len !== 160) throw new Error(`encode gave ${len} octets`);
    if (codec.decode(pkt, 12, len, dec) !== 320) throw new Error('decode gave a short frame');
    out.set(dec, off);
  }
  return out;
}

/** SNR in dB of `decoded` against `input`, at the delay (0..64 samples) that fits best. */
function snrDb(input: Int16Array, decoded: Int16Array): { snr: number; delay: number } {
  const from = 1600; // skip the first 100 ms while the ADPCM steps adapt
  let best = -Infinity;
  let delay = 0;
  for (let d = 0; d <= 64; d++) {
    let c = 0;
    for (let i = from; i < input.length - 64; i++) c += input[i]! * decoded[i + d]!;
    if (c > best) {
      best = c;
      delay = d;
    }
  }
  let sig = 0;
  let err = 0;
  for (let i = from; i < input.length - 64; i++) {
    sig += input[i]! ** 2;
    err += (input[i]! - decoded[i + delay]!) ** 2;
  }
  return { snr: 10 * Math.log10(sig / err), delay };
}

test('G.722 codec table and SDP: 16 kHz audio on the 8000 Hz RTP clock, static payload type 9', (t) => {
  const info = CODEC_INFO.G722;
  t.like(info, { defaultPayloadType: 9, clockRate: 8000, sampleRate: 16000, samplesPerFrame: 320, timestampIncrement: 160, maxPayloadBytes: 160, rtpmap: 'G722/8000' });
  t.is(findCodecByRtpmap('g722/8000')?.name, 'G722');
  t.is(findCodecByRtpmap('G722/16000'), undefined); // the clock is 8000 whatever the audio rate
  const codec = createCodec('G722')!;
  t.like(codec, { name: 'G722', payloadType: 9, clockRate: 8000, sampleRate: 16000, samplesPerFrame: 320 });
  t.deepEqual(defaultFormat('G722'), { name: 'G722', payloadType: 9, clockRate: 8000 });
});

test('G.722 round trip of a 1 kHz tone: frequency within 1 %, SNR above 40 dB', (t) => {
  const input = sine(1000, 1);
  const output = roundTrip(input);
  const f = dominantFrequency(output, RATE, 3200);
  const { snr, delay } = snrDb(input, output);
  t.log(`1 kHz: decoded dominant ${f.toFixed(1)} Hz, SNR ${snr.toFixed(1)} dB at a delay of ${delay} samples`);
  t.true(Math.abs(f - 1000) <= 10, `dominant ${f}`);
  t.true(snr > 40, `SNR ${snr.toFixed(1)} dB`);
});

test('G.722 round trip of a 6 kHz tone (the higher sub-band): frequency within 1 %, SNR above 20 dB', (t) => {
  const input = sine(6000, 1, 6000);
  const output = roundTrip(input);
  const f = dominantFrequency(output, RATE, 3200);
  const { snr } = snrDb(input, output);
  t.log(`6 kHz: decoded dominant ${f.toFixed(1)} Hz, SNR ${snr.toFixed(1)} dB`);
  t.true(Math.abs(f - 6000) <= 60, `dominant ${f}`);
  t.true(snr > 20, `SNR ${snr.toFixed(1)} dB`);
});

test('G.722 round trip of a speech-like signal: same dominant frequency, SNR above 20 dB', (t) => {
  const input = speechLike(2);
  const output = roundTrip(input);
  const fin = dominantFrequency(input, RATE, 3200);
  const fout = dominantFrequency(output, RATE, 3200 + 22);
  const { snr, delay } = snrDb(input, output);
  t.log(`speech-like: dominant ${fin.toFixed(1)} Hz in, ${fout.toFixed(1)} Hz out, SNR ${snr.toFixed(1)} dB at a delay of ${delay} samples`);
  t.is(delay, 22); // the two 24-tap QMFs: 23 samples of group delay, less the pair offset
  t.true(Math.abs(fout - fin) <= fin * 0.01, `dominant ${fout} vs ${fin}`);
  t.true(snr > 20, `SNR ${snr.toFixed(1)} dB`);
});

peerTest('G.722 is bit-exact with libspandsp: same octets from the same PCM, same PCM from our octets', [native('spandsp')], (t) => {
  const made = createSpandspG722();
  if (!made.ok) {
    t.fail(made.reason);
    return;
  }
  const ref = made.coder;
  t.teardown(() => ref.close());
  // speech, a high tone near full scale and noise: every quantizer interval and both bands
  const rnd = seededRandom(3);
  const speech = speechLike(1);
  const loud = sine(5200, 0.5, 30000);
  const noise = Int16Array.from({ length: 8000 }, () => Math.round((rnd() - 0.5) * 40000));
  const pcm = new Int16Array(speech.length + loud.length + noise.length);
  pcm.set(speech, 0);
  pcm.set(loud, speech.length);
  pcm.set(noise, speech.length + loud.length);

  const ours = new Uint8Array(pcm.length / 2);
  new G722Encoder().encode(pcm, 0, pcm.length, ours, 0);
  const theirs = new Uint8Array(pcm.length / 2);
  t.is(ref.encode(pcm, pcm.length, theirs), theirs.length);
  const firstOctet = ours.findIndex((v, i) => v !== theirs[i]);
  t.is(firstOctet, -1, `encoders differ from octet ${firstOctet}`);

  const ourPcm = new Int16Array(pcm.length);
  t.is(new G722Decoder().decode(ours, 0, ours.length, ourPcm, 0), pcm.length);
  const refPcm = new Int16Array(pcm.length);
  t.is(ref.decode(ours, ours.length, refPcm), pcm.length);
  // libspandsp 0.0.6 lets a QMF overshoot past full scale wrap around (32768 comes out as
  // -32768 and worse); we saturate, as the recommendation's limiter does. Those samples are the
  // only ones allowed to differ.
  let wrapped = 0;
  for (let i = 0; i < pcm.length; i++) {
    const a = ourPcm[i]!;
    const b = refPcm[i]!;
    if (a === b) continue;
    const railed = (a === 32767 && b < 0) || (a === -32768 && b > 0);
    if (!railed) {
      t.fail(`decoders differ at sample ${i}: ours ${a}, libspandsp ${b}`);
      return;
    }
    wrapped++;
  }
  t.log(`decoders agree on ${pcm.length - wrapped} of ${pcm.length} samples; ${wrapped} overshoots saturated by us, wrapped by libspandsp`);
  t.true(wrapped < 10);
});

test('G.722 bad payloads never throw: empty is concealed, odd and random octets decode', (t) => {
  const codec = new G722Codec(9);
  const out = new Int16Array(320);
  t.is(codec.decode(Buffer.alloc(0), 0, 0, out), 320);
  t.is(codec.concealedFrames, 1);
  t.is(codec.decode(Buffer.alloc(10), 20, 5, out), 320); // offset past the end: concealed
  t.is(codec.decode(Buffer.from([1, 2, 3]), 0, 3, out), 6);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.integer({ min: 0, max: 500 }), (bytes, offset) => {
      const buf = Buffer.from(bytes);
      const n = codec.decode(buf, offset, bytes.length, out);
      return n >= 0 && n <= 320;
    }),
  );
  t.throws(() => codec.encode(new Int16Array(100), Buffer.alloc(200), 0), { instanceOf: RangeError });
  t.throws(() => codec.encode(new Int16Array(320), Buffer.alloc(100), 0), { instanceOf: RangeError });
  codec.reset();
  t.is(codec.conceal(out), 320);
  t.true(out.every((v) => v === 0)); // after reset there is nothing to repeat
});

function local(formats = [defaultFormat('G722'), defaultFormat('PCMU')]): LocalMedia {
  return { address: '127.0.0.1', port: 4000, formats, telephoneEvent: true, direction: 'sendrecv', sessionId: '1', sessionVersion: 1 };
}

test('SDP: G.722 is offered as 9 G722/8000 with telephone-event/8000, and accepted by number or by rtpmap', (t) => {
  const offer = createOffer(local());
  t.regex(offer, /m=audio 4000 RTP\/AVP 9 0 101/);
  t.regex(offer, /a=rtpmap:9 G722\/8000/);
  t.regex(offer, /a=rtpmap:101 telephone-event\/8000/);
  const remote = (m: string, extra = '') =>
    `v=0\r\no=- 5 5 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP ${m}\r\n${extra}`;
  // static 9 without rtpmap, behind an unsupported codec
  const a = negotiateOffer(remote('18 9 101', 'a=rtpmap:101 telephone-event/8000\r\n'), local());
  t.true(a.ok);
  if (a.ok) {
    t.like(a.media.codec, { name: 'G722', payloadType: 9, clockRate: 8000 });
    t.like(a.media.telephoneEvent, { payloadType: 101, clockRate: 8000 });
    t.regex(a.answer, /a=rtpmap:9 G722\/8000/);
  }
  // a G722/16000 rtpmap is someone else's mistake: not our codec
  const b = negotiateOffer(remote('98', 'a=rtpmap:98 G722/16000\r\n'), local());
  t.like(b, { ok: false, status: 488 });
});
