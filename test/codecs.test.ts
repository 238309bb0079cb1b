import test from 'ava';
import fc from 'fast-check';
import alawmulaw from 'alawmulaw';
import {
  CODEC_INFO,
  createCodec,
  findCodecByRtpmap,
  isCodecName,
  telephoneEventInfo,
  type AudioCodec,
} from '../media/codecs.js';
import {
  ALAW_DECODE,
  ALAW_ENCODE,
  FrameRepeatConcealer,
  G711Codec,
  MULAW_DECODE,
  MULAW_ENCODE,
  g711DecodeInto,
  g711EncodeInto,
} from '../media/g711.js';
import { OPUS_MAX_FRAME_SAMPLES, OpusCodec, opusLoadError, setOpusLoaderForTests } from '../media/opus.js';
import { dominantFrequency, rms, toneLevelDb } from './helpers/analysis.js';
import { fillSine } from '../media/tones.js';

// ---------------------------------------------------------------- G.711 tables

test('µ-law tables equal alawmulaw for every 16-bit input and every code', (t) => {
  for (let s = -32768; s <= 32767; s++) {
    if (MULAW_ENCODE[s & 0xffff] !== (alawmulaw.mulaw.encodeSample(s) & 0xff)) {
      t.fail(`encode ${s}`);
      return;
    }
  }
  for (let c = 0; c < 256; c++) t.true(MULAW_DECODE[c] === alawmulaw.mulaw.decodeSample(c), `decode ${c}`); // -0 decodes to 0
});

test('A-law tables equal alawmulaw for every 16-bit input and every code', (t) => {
  for (let s = -32768; s <= 32767; s++) {
    if (ALAW_ENCODE[s & 0xffff] !== (alawmulaw.alaw.encodeSample(s) & 0xff)) {
      t.fail(`encode ${s}`);
      return;
    }
  }
  for (let c = 0; c < 256; c++) t.true(ALAW_DECODE[c] === alawmulaw.alaw.decodeSample(c), `decode ${c}`);
});

test('codec frame encode equals the alawmulaw array API', (t) => {
  const pcm = new Int16Array(160);
  for (let i = 0; i < 160; i++) pcm[i] = Math.round(30000 * Math.sin(i * 0.37) * Math.cos(i * 0.05));
  for (const [name, ref] of [
    ['PCMU', alawmulaw.mulaw],
    ['PCMA', alawmulaw.alaw],
  ] as const) {
    const codec = createCodec(name)!;
    const out = Buffer.alloc(200);
    t.is(codec.encode(pcm, out, 20), 160);
    t.deepEqual([...out.subarray(20, 180)], [...ref.encode(pcm)]);
    const dec = new Int16Array(160);
    t.is(codec.decode(out, 20, 160, dec), 160);
    t.deepEqual([...dec], [...ref.decode(new Uint8Array(out.subarray(20, 180)))]);
  }
});

/** Largest quantization error G.711 allows for sample `x` decoded from `code` (half a step of its segment, plus µ-law clipping). */
function muBound(x: number, code: number): number {
  const exponent = (~code >> 4) & 7;
  const half = 4 << exponent; // step is 8·2^e in 16-bit units
  return Math.abs(x) > 32124 ? Math.abs(x) - 32124 + half : half;
}
function aBound(code: number): number {
  const seg = ((code ^ 0x55) >> 4) & 7;
  return seg === 0 ? 8 : 8 << (seg - 1); // step 16 in segments 0 and 1, doubling after
}

test('G.711 round trip error stays within half a quantization step over the full 16-bit range', (t) => {
  let worstMu = 0;
  let worstA = 0;
  for (let x = -32768; x <= 32767; x++) {
    const mc = MULAW_ENCODE[x & 0xffff]!;
    const me = Math.abs(MULAW_DECODE[mc]! - x);
    if (me > muBound(x, mc)) t.fail(`µ-law ${x}: error ${me}`);
    const ac = ALAW_ENCODE[x & 0xffff]!;
    const ae = Math.abs(ALAW_DECODE[ac]! - x);
    if (ae > aBound(ac)) t.fail(`A-law ${x}: error ${ae}`);
    // relative error of a logarithmic quantizer is bounded away from the smallest segment
    if (Math.abs(x) >= 256 && Math.abs(x) <= 32000) {
      worstMu = Math.max(worstMu, me / Math.abs(x));
      worstA = Math.max(worstA, ae / Math.abs(x));
    }
  }
  t.true(worstMu < 0.05, `µ-law relative error ${worstMu}`);
  t.true(worstA < 0.05, `A-law relative error ${worstA}`);
});

test('G.711 encode and decode eight at a time equal a table read per sample, at any start, length and offset', (t) => {
  fc.assert(
    fc.property(
      fc.constantFrom('mu', 'a'),
      fc.array(fc.integer({ min: -32768, max: 32767 }), { minLength: 0, maxLength: 200 }),
      fc.nat(16),
      fc.nat(16),
      (law, samples, start, outOffset) => {
        const enc = law === 'mu' ? MULAW_ENCODE : ALAW_ENCODE;
        const dec = law === 'mu' ? MULAW_DECODE : ALAW_DECODE;
        const pcm = Int16Array.from(samples);
        const count = Math.max(0, pcm.length - start);
        const out = new Uint8Array(count + outOffset + 4).fill(0xaa);
        g711EncodeInto(enc, pcm, start, count, out, outOffset);
        const want = new Uint8Array(out.length).fill(0xaa);
        for (let i = 0; i < count; i++) want[outOffset + i] = enc[pcm[start + i]! & 0xffff]!;
        if (!Buffer.from(out).equals(Buffer.from(want))) return false;
        // decode what was encoded, written at an offset, nothing outside [outOffset, outOffset + count) touched
        const back = new Int16Array(count + outOffset + 4).fill(-7);
        g711DecodeInto(dec, out, outOffset, count, back, outOffset);
        for (let i = 0; i < back.length; i++) {
          const expect = i >= outOffset && i < outOffset + count ? dec[out[i]!]! : -7;
          if (back[i] !== expect) return false;
        }
        return true;
      },
    ),
  );
  t.pass();
});

test('G.711 codec metadata and buffer checks', (t) => {
  const u = createCodec('PCMU')!;
  t.is(u.name, 'PCMU');
  t.is(u.payloadType, 0);
  t.is(u.clockRate, 8000);
  t.is(u.samplesPerFrame, 160);
  t.is(createCodec('PCMA')!.payloadType, 8);
  t.is(createCodec('PCMA', 96)!.payloadType, 96);
  t.throws(() => u.encode(new Int16Array(100), Buffer.alloc(200), 0), { instanceOf: RangeError });
  t.throws(() => u.encode(new Int16Array(160), Buffer.alloc(200), 100), { instanceOf: RangeError });
});

test('G.711 concealment repeats the last frame, fades, then goes silent', (t) => {
  const codec = new G711Codec('PCMU');
  const pcm = new Int16Array(160);
  fillSine(pcm, 8000, 500, 8000);
  const pkt = Buffer.alloc(160);
  codec.encode(pcm, pkt, 0);
  const good = new Int16Array(160);
  codec.decode(pkt, 0, 160, good);
  const out = new Int16Array(160);
  t.is(codec.conceal(out), 160);
  t.is(out[0], good[0]); // starts at full gain
  t.true(rms(out) > 0.7 * rms(good) && rms(out) < rms(good));
  const levels = [rms(out)];
  for (let k = 1; k < 6; k++) {
    codec.conceal(out);
    levels.push(rms(out));
  }
  for (let k = 1; k < levels.length; k++) t.true(levels[k]! < levels[k - 1]! || levels[k] === 0);
  t.is(levels[5], 0);
  t.is(codec.concealedFrames, 6);
  // an empty payload is concealment too, never an exception
  t.is(codec.decode(Buffer.alloc(0), 0, 0, out), 160);
  // a good frame ends the loss run
  codec.decode(pkt, 0, 160, out);
  codec.conceal(out);
  t.is(out[0], good[0]);
  codec.reset();
  codec.conceal(out);
  t.is(rms(out), 0);
});

test('FrameRepeatConcealer keeps the newest samples of short frames', (t) => {
  const plc = new FrameRepeatConcealer(4, 2);
  plc.remember(Int16Array.from([1, 2]), 0, 2);
  plc.remember(Int16Array.from([3, 4]), 0, 2);
  const out = new Int16Array(4);
  plc.conceal(out);
  // replays [1, 2, 3, 4] with gain 1, 0.875, 0.75, 0.625 (first of two fade frames)
  t.deepEqual([...out], [1, 2, 2, 3]);
  t.is(plc.lostFrames, 1);
});

// ---------------------------------------------------------------- table and factory

test('codec table carries the SDP facts (RFC 3551, RFC 7587)', (t) => {
  t.is(CODEC_INFO.PCMU.rtpmap, 'PCMU/8000');
  t.is(CODEC_INFO.PCMA.defaultPayloadType, 8);
  t.is(CODEC_INFO.opus.rtpmap, 'opus/48000/2');
  t.is(CODEC_INFO.opus.fmtp, 'minptime=10;useinbandfec=1');
  t.is(CODEC_INFO.opus.samplesPerFrame, 960);
  t.is(findCodecByRtpmap('OPUS/48000/2')?.name, 'opus');
  t.is(findCodecByRtpmap('pcmu/8000')?.name, 'PCMU');
  t.is(findCodecByRtpmap('PCMU/16000'), undefined);
  t.is(findCodecByRtpmap('G723/8000'), undefined);
  t.true(isCodecName('PCMA'));
  t.false(isCodecName('pcma'));
  t.is(telephoneEventInfo().rtpmap, 'telephone-event/8000');
  t.is(telephoneEventInfo(48000).rtpmap, 'telephone-event/48000');
  t.is(telephoneEventInfo().fmtp, '0-16');
});

// ---------------------------------------------------------------- Opus

function opus(t: { fail(m: string): void }): AudioCodec {
  const c = createCodec('opus');
  if (c === undefined) t.fail(`Opus unavailable: ${opusLoadError()}`);
  return c!;
}

test('Opus carries a 1 kHz tone: dominant frequency after decode is 1 kHz', (t) => {
  const codec = opus(t);
  t.is(codec.clockRate, 48000);
  t.is(codec.sampleRate, 48000);
  t.is(codec.samplesPerFrame, 960);
  const frame = new Int16Array(960);
  const pkt = Buffer.alloc(1500);
  const dec = new Int16Array(OPUS_MAX_FRAME_SAMPLES);
  const all = new Int16Array(960 * 50);
  let phase = 0;
  for (let f = 0; f < 50; f++) {
    phase = fillSine(frame, 48000, 1000, 10000, phase);
    const n = codec.encode(frame, pkt, 12);
    t.true(n > 0 && n < 400, `packet ${n} bytes`);
    t.is(codec.decode(pkt, 12, n, dec), 960);
    all.set(dec.subarray(0, 960), f * 960);
  }
  const tail = all.subarray(960 * 10);
  t.true(Math.abs(dominantFrequency(tail, 48000) - 1000) < 3, `${dominantFrequency(tail, 48000)} Hz`);
  t.true(toneLevelDb(tail, 48000, 1000) > -1);
  t.true(Math.abs(rms(tail) - 10000 / Math.SQRT2) < 1000, `rms ${rms(tail)}`);
  codec.close();
});

test('Opus corrupt payloads never throw: they are counted and concealed', (t) => {
  const codec = opus(t) as OpusCodec;
  const dec = new Int16Array(OPUS_MAX_FRAME_SAMPLES);
  t.is(codec.decode(Buffer.from([0xff, 0xff, 0xff, 1, 2, 3]), 0, 6, dec), 960);
  t.is(codec.decodeErrors, 1);
  t.is(rms(dec.subarray(0, 960)), 0); // nothing decoded yet: concealment is silence
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 1500 }), (bytes) => {
      const b = Buffer.from(bytes);
      const n = codec.decode(b, 0, b.length, dec);
      return n > 0 && n <= OPUS_MAX_FRAME_SAMPLES;
    }),
    { numRuns: 300 },
  );
  // offsets and lengths past the end are concealment, not exceptions
  const before = codec.concealedFrames;
  t.is(codec.decode(Buffer.alloc(10), 20, 5, dec), 960);
  t.is(codec.decode(Buffer.alloc(10), -1, 5, dec), 960);
  t.is(codec.concealedFrames, before + 2);
  codec.close();
});

test('Opus concealment continues the signal for one 20 ms frame at a time', (t) => {
  const codec = opus(t);
  const frame = new Int16Array(960);
  const pkt = Buffer.alloc(1500);
  const dec = new Int16Array(OPUS_MAX_FRAME_SAMPLES);
  let phase = 0;
  for (let f = 0; f < 20; f++) {
    phase = fillSine(frame, 48000, 600, 8000, phase);
    const n = codec.encode(frame, pkt, 0);
    codec.decode(pkt, 0, n, dec);
  }
  t.is(codec.conceal(dec), 960);
  t.true(rms(dec.subarray(0, 960)) > 1000, `concealed rms ${rms(dec.subarray(0, 960))}`);
  t.true(Math.abs(dominantFrequency(dec.subarray(0, 960), 48000) - 600) < 60);
  codec.reset();
  codec.close();
  t.is(codec.encode(frame, pkt, 0), 0); // closed: inert, not crashing
  t.is(codec.decode(pkt, 0, 10, dec), 960);
});

test('Opus encode checks buffer room', (t) => {
  const codec = opus(t);
  t.throws(() => codec.encode(new Int16Array(480), Buffer.alloc(1500), 0), { instanceOf: RangeError });
  t.throws(() => codec.encode(new Int16Array(960), Buffer.alloc(2), 0), { instanceOf: RangeError });
  codec.close();
});

test.serial('a missing Opus binding makes createCodec return undefined, not throw', (t) => {
  setOpusLoaderForTests(() => {
    throw new Error('Cannot find module @discordjs/opus');
  });
  try {
    t.is(createCodec('opus'), undefined);
    t.regex(opusLoadError() ?? '', /Cannot find module/);
    t.truthy(createCodec('PCMU'));
  } finally {
    setOpusLoaderForTests();
  }
  t.truthy(createCodec('opus'));
});
