/**
 * G.729 through libbcg729 (media/g729, ffi/bcg729): our 20 ms packets against the library's own
 * frame-by-frame reference decode of the same stream, tone and speech-like round trips, Annex B
 * (SID frames, silence gaps, comfort noise), bad payloads, a disabled library, and the SDP.
 * @module
 */
import test from 'ava';
import fc from 'fast-check';
import { CODEC_INFO, createCodec, isCodecAvailable } from '../media/codecs.js';
import { createG729Codec } from '../media/g729.js';
import { createBcg729Channel } from '../ffi/bcg729.js';
import { setNativeLibraryDisabled } from '../ffi/loader.js';
import { dominantFrequency, rmsDbfs } from './helpers/analysis.js';
import { annexBRefused, createOffer, defaultFormat, negotiateOffer, type LocalMedia } from '../sip/sdp.js';
import { formatSpecs } from '../lines/lineMedia.js';
import { MediaFormatAudio } from '../index.js';
import { native, peerTest } from './helpers/env.js';
import { seededRandom } from './helpers/prng.js';
import { sine as sineAt, snrDb as snrAt, speechLike8k as speechLike } from './helpers/signals.js';

const sine = (freq: number, seconds: number, amplitude?: number) => sineAt(freq, seconds, 8000, amplitude);
const snrDb = (input: Int16Array, decoded: Int16Array) => snrAt(input, decoded).snr;

const RATE = 8000;
const BCG = [native('bcg729')];

/** Encode `pcm` in 20 ms packets with a fresh G729Codec; returns the payloads. */
function packets(pcm: Int16Array, annexB = false): Buffer[] {
  const codec = createG729Codec(18, { annexB })!;
  const out: Buffer[] = [];
  const pkt = Buffer.alloc(64);
  const frame = new Int16Array(160);
  for (let off = 0; off + 160 <= pcm.length; off += 160) {
    frame.set(pcm.subarray(off, off + 160));
    const n = codec.encode(frame, pkt, 0);
    out.push(Buffer.from(pkt.subarray(0, n)));
  }
  codec.close();
  return out;
}

/** Decode payloads with a fresh G729Codec; an empty payload is a packet never sent (DTX). */
function decodeAll(payloads: Buffer[]): { pcm: Int16Array; sid: number } {
  const codec = createG729Codec()!;
  const pcm = new Int16Array(payloads.length * 160);
  const frame = new Int16Array(160);
  payloads.forEach((p, k) => {
    const n = p.length === 0 ? codec.conceal(frame) : codec.decode(p, 0, p.length, frame);
    if (n !== 160) throw new Error(`packet ${k}: ${n} samples`);
    pcm.set(frame, k * 160);
  });
  const sid = codec.sidFrames;
  codec.close();
  return { pcm, sid };
}

peerTest('G.729: our 20 ms packets are two 10-octet frames, and decode exactly as libbcg729 decodes them frame by frame', BCG, (t) => {
  const input = speechLike(1);
  const payloads = packets(input);
  t.true(payloads.every((p) => p.length === 20), 'every packet is 20 octets');
  const ours = decodeAll(payloads).pcm;
  // the reference: the library's own decoder fed the 10-octet frames one at a time
  const made = createBcg729Channel();
  if (!made.ok) {
    t.fail(made.reason);
    return;
  }
  const ref = new Int16Array(ours.length);
  const frame = new Int16Array(80);
  let k = 0;
  for (const p of payloads) {
    for (let f = 0; f < 2; f++, k++) {
      made.channel.decode(new Uint8Array(p.subarray(f * 10, f * 10 + 10)), 10, frame);
      ref.set(frame, k * 80);
    }
  }
  made.channel.close();
  const first = ours.findIndex((v, i) => v !== ref[i]);
  t.is(first, -1, `differs from the reference decode at sample ${first}`);
});

peerTest('G.729 round trip of a 1 kHz tone: frequency within 1 %, SNR above 8 dB', BCG, (t) => {
  const input = sine(1000, 1);
  const { pcm } = decodeAll(packets(input));
  const f = dominantFrequency(pcm, RATE, 1600);
  const snr = snrDb(input, pcm);
  t.log(`1 kHz through G.729: dominant ${f.toFixed(1)} Hz, SNR ${snr.toFixed(1)} dB`);
  t.true(Math.abs(f - 1000) <= 10, `dominant ${f}`);
  t.true(snr > 8, `SNR ${snr.toFixed(1)} dB`);
});

peerTest('G.729 round trip of a speech-like signal: same dominant frequency, SNR above 5 dB', BCG, (t) => {
  const input = speechLike(2);
  const { pcm } = decodeAll(packets(input));
  const fin = dominantFrequency(input, RATE, 1600);
  const fout = dominantFrequency(pcm, RATE, 1600);
  const snr = snrDb(input, pcm);
  t.log(`speech-like through G.729: dominant ${fin.toFixed(1)} Hz in, ${fout.toFixed(1)} Hz out, SNR ${snr.toFixed(1)} dB (CELP keeps the spectrum, not the waveform)`);
  t.true(Math.abs(fout - fin) <= fin * 0.01, `dominant ${fout} vs ${fin}`);
  t.true(snr > 5, `SNR ${snr.toFixed(1)} dB`);
});

peerTest('G.729 Annex B: speech, then quiet room noise sent as SID frames and gaps, decodes to speech then comfort noise', BCG, (t) => {
  const rnd = seededRandom(11);
  const speech = sine(700, 1, 9000);
  const quiet = Int16Array.from({ length: 2 * RATE }, () => Math.round((rnd() - 0.5) * 120)); // about -55 dBFS
  const input = new Int16Array(speech.length + quiet.length);
  input.set(speech);
  input.set(quiet, speech.length);
  const payloads = packets(input, true);
  const sizes = new Map<number, number>();
  for (const p of payloads) sizes.set(p.length, (sizes.get(p.length) ?? 0) + 1);
  t.log(`packet sizes (octets: count): ${[...sizes].map(([s, c]) => `${s}: ${c}`).join(', ')}`);
  t.true((sizes.get(20) ?? 0) >= 40, 'the tone goes out as speech frames');
  t.true([...sizes.keys()].some((s) => s === 2 || s === 12), 'silence starts with a SID frame');
  t.true((sizes.get(0) ?? 0) > 30, 'and most silent packets are not sent at all');
  t.true([...sizes.keys()].every((s) => s === 0 || s === 2 || s === 10 || s === 12 || s === 20), 'only RFC 3551 framings');

  const { pcm, sid } = decodeAll(payloads);
  t.true(sid >= 1, 'the decoder saw the SID frames');
  const f = dominantFrequency(pcm, RATE, 1600, 7200);
  t.true(Math.abs(f - 700) <= 7, `speech part ${f} Hz`);
  const noise = rmsDbfs(pcm, 8000 + 4000, pcm.length);
  const inNoise = rmsDbfs(input, 8000 + 4000, input.length);
  t.log(`room noise in: ${inNoise.toFixed(1)} dBFS; comfort noise out: ${noise.toFixed(1)} dBFS`);
  t.true(noise > -90, 'comfort noise, not digital silence');
  t.true(Math.abs(noise - inNoise) < 12, 'at about the room noise level');
});

peerTest('G.729 bad payloads never throw: odd lengths decode their whole frames, none is concealed', BCG, (t) => {
  const codec = createCodec('G729')!;
  t.teardown(() => codec.close());
  const out = new Int16Array(160);
  t.is(codec.decode(Buffer.alloc(0), 0, 0, out), 160);
  t.is(codec.decode(Buffer.alloc(7), 0, 7, out), 160); // nothing whole: concealed
  t.is(codec.decode(Buffer.alloc(25), 0, 25, out), 160); // two frames, 5 stray octets
  t.is(codec.decode(Buffer.alloc(10), 0, 10, out), 80); // one 10 ms frame
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), fc.integer({ min: -5, max: 100 }), (bytes, offset) => {
      const n = codec.decode(Buffer.from(bytes), offset, bytes.length, out);
      return n > 0 && n <= 160;
    }),
    { numRuns: 300 },
  );
  t.throws(() => codec.encode(new Int16Array(100), Buffer.alloc(40), 0), { instanceOf: RangeError });
  codec.reset();
  codec.close();
  codec.close(); // idempotent
  t.is(codec.decode(Buffer.alloc(20), 0, 20, out), 160, 'a closed codec still answers');
});

peerTest.serial('a disabled libbcg729 removes G.729: no codec, not offered, the rest of the line\'s formats stay', BCG, (t) => {
  t.true(isCodecAvailable('G729'));
  setNativeLibraryDisabled('bcg729', true);
  t.teardown(() => setNativeLibraryDisabled('bcg729', false));
  t.false(isCodecAvailable('G729'));
  t.is(createCodec('G729'), undefined);
  t.deepEqual(
    formatSpecs([MediaFormatAudio.G729, MediaFormatAudio.ULaw8k]).map((f) => f.name),
    ['PCMU'],
  );
  t.deepEqual(formatSpecs([MediaFormatAudio.G729]), []);
  setNativeLibraryDisabled('bcg729', false);
  t.true(isCodecAvailable('G729'));
});

function local(formats = [defaultFormat('G729'), defaultFormat('PCMU')]): LocalMedia {
  return { address: '127.0.0.1', port: 4000, formats, telephoneEvent: true, direction: 'sendrecv', sessionId: '1', sessionVersion: 1 };
}

test('SDP: G.729 is 18 G729/8000; annexb=no in an offer is echoed in the answer', (t) => {
  t.like(CODEC_INFO.G729, { defaultPayloadType: 18, clockRate: 8000, sampleRate: 8000, samplesPerFrame: 160, timestampIncrement: 160, rtpmap: 'G729/8000' });
  const offer = createOffer(local());
  t.regex(offer, /m=audio 4000 RTP\/AVP 18 0 101/);
  t.regex(offer, /a=rtpmap:18 G729\/8000/);
  t.notRegex(offer, /annexb/); // we take SID frames
  const remote = (fmtp: string) =>
    `v=0\r\no=- 5 5 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n${fmtp}`;
  const no = negotiateOffer(remote('a=fmtp:18 annexb=no\r\n'), local());
  t.true(no.ok);
  if (no.ok) {
    t.regex(no.answer, /a=fmtp:18 annexb=no/);
    t.like(no.media.codec, { name: 'G729', payloadType: 18, fmtp: 'annexb=no' });
  }
  const yes = negotiateOffer(remote(''), local());
  t.true(yes.ok);
  if (yes.ok) t.notRegex(yes.answer, /annexb/);
  t.true(annexBRefused('annexb=no'));
  t.true(annexBRefused('foo=1; AnnexB = NO'));
  t.false(annexBRefused('annexb=yes'));
  t.false(annexBRefused(undefined));
});
