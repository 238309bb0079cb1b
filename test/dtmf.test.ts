import test from 'ava';
import fc from 'fast-check';
import {
  DTMF_DIGITS,
  DTMF_RX_BEGIN,
  DTMF_RX_END,
  DtmfDetector,
  DtmfGenerator,
  DtmfReceiver,
  DtmfSender,
  buildDtmfBody,
  buildDtmfRelayBody,
  detectDtmfDigits,
  dtmfDigitChar,
  dtmfEventCode,
  dtmfFrequencies,
  isValidDtmfString,
  parseDtmfBody,
  parseDtmfInfoBody,
  parseDtmfRelayBody,
  readTelephoneEvent,
  writeTelephoneEvent,
} from '../media/dtmf.js';
import { createCodec } from '../media/codecs.js';
import { createResampler } from '../media/resample.js';
import { ToneGenerator, NA_TONES, fillSine, dbm0ToAmplitude } from '../media/tones.js';
import { goertzelPower } from './helpers/analysis.js';

// ---------------------------------------------------------------- digits

test('digit ↔ event code mapping (RFC 4733 §3.2)', (t) => {
  for (let e = 0; e < 16; e++) t.is(dtmfEventCode(DTMF_DIGITS[e]!), e);
  t.is(dtmfEventCode('*'), 10);
  t.is(dtmfEventCode('#'), 11);
  t.is(dtmfEventCode('d'), 15);
  t.is(dtmfEventCode('!'), 16);
  t.is(dtmfEventCode('E'), -1);
  t.is(dtmfEventCode('12'), -1);
  t.is(dtmfDigitChar(11), '#');
  t.is(dtmfDigitChar(16), '!');
  t.is(dtmfDigitChar(17), '');
  t.true(isValidDtmfString('123*#abcd!'));
  t.false(isValidDtmfString('12 3'));
  t.false(isValidDtmfString(''));
  t.deepEqual(dtmfFrequencies(5), [770, 1336]);
  t.deepEqual(dtmfFrequencies(0), [941, 1336]);
  t.deepEqual(dtmfFrequencies(11), [941, 1477]);
  t.deepEqual(dtmfFrequencies(15), [941, 1633]);
});

// ---------------------------------------------------------------- RFC 4733 payload

test('telephone-event payload layout', (t) => {
  const b = Buffer.alloc(6);
  t.is(writeTelephoneEvent(b, 2, 5, true, 10, 800), 4);
  t.deepEqual([...b.subarray(2)], [0x05, 0x8a, 0x03, 0x20]);
  t.deepEqual(readTelephoneEvent(b, 2), { event: 5, end: true, volume: 10, duration: 800 });
  writeTelephoneEvent(b, 0, 11, false, 63, 0xffff);
  t.deepEqual(readTelephoneEvent(b, 0, 4), { event: 11, end: false, volume: 63, duration: 0xffff });
  t.is(readTelephoneEvent(b, 3, 3), undefined);
});

interface Pkt {
  ts: number;
  marker: boolean;
  payload: Buffer;
  tick: number;
}

/** Drive a sender tick by tick (20 ms at 8 kHz) and collect its packets. */
function runSender(sender: DtmfSender, ticks: number, startTs = 1000): Pkt[] {
  const pkts: Pkt[] = [];
  const buf = Buffer.alloc(4);
  for (let k = 0; k < ticks; k++) {
    const ts = (startTs + k * 160) >>> 0;
    if (sender.next(ts, buf, 0) === 4) pkts.push({ ts: sender.timestamp, marker: sender.marker, payload: Buffer.from(buf), tick: k });
  }
  return pkts;
}

test('sender: start with marker, growing updates on one timestamp, three end packets, then a gap', (t) => {
  const s = new DtmfSender();
  s.enqueue('58');
  t.is(s.pending, 2);
  const pkts = runSender(s, 40);
  const first = pkts.filter((p) => p.payload[0] === 5);
  t.deepEqual(
    first.map((p) => [p.ts, p.marker, p.payload.readUInt16BE(2), (p.payload[1]! & 0x80) !== 0, p.payload[1]! & 0x3f]),
    [
      [1000, true, 160, false, 10],
      [1000, false, 320, false, 10],
      [1000, false, 480, false, 10],
      [1000, false, 640, false, 10],
      [1000, false, 800, true, 10],
      [1000, false, 800, true, 10],
      [1000, false, 800, true, 10],
    ],
  );
  const second = pkts.filter((p) => p.payload[0] === 8);
  t.is(second.length, 7);
  t.true(second[0]!.marker);
  // next digit starts no earlier than tone end (800) + 50 ms gap (400)
  t.true(second[0]!.ts - 1000 >= 1200, `second digit at +${second[0]!.ts - 1000}`);
  t.true(second[0]!.ts - 1000 <= 1280);
  t.true(s.idle);
  t.false(s.sending);
});

test('sender: custom timing, 48 kHz clock, and invalid digits', (t) => {
  const s = new DtmfSender({ clockRate: 48000, durationMs: 60, volume: 7, endPackets: 2 });
  s.enqueue('#');
  const buf = Buffer.alloc(4);
  const durs: number[] = [];
  for (let k = 0; k < 10; k++) if (s.next(k * 960, buf, 0)) durs.push(buf.readUInt16BE(2) | ((buf[1]! & 0x80) << 9));
  // 960, 1920, then 2880 with the E bit (0x10000 flag) twice
  t.deepEqual(durs, [960, 1920, 2880 | 0x10000, 2880 | 0x10000]);
  t.throws(() => s.enqueue('12x'), { instanceOf: RangeError });
  t.is(s.pending, 0);
});

test('sender: clear drops the queue but finishes the current event', (t) => {
  const s = new DtmfSender();
  s.enqueue('123');
  const buf = Buffer.alloc(4);
  s.next(0, buf, 0);
  s.clear();
  let ends = 0;
  for (let k = 1; k < 30; k++) if (s.next(k * 160, buf, 0) && buf[1]! & 0x80) ends++;
  t.is(ends, 3);
  t.true(s.idle);
});

function feed(rx: DtmfReceiver, pkts: readonly Pkt[]): { begins: number[]; ends: number[]; durations: number[] } {
  const begins: number[] = [];
  const ends: number[] = [];
  const durations: number[] = [];
  for (const p of pkts) {
    const r = rx.receive(p.payload, 0, p.payload.length, p.ts, p.marker);
    if (r & DTMF_RX_BEGIN) begins.push(rx.event);
    if (r & DTMF_RX_END) {
      ends.push(rx.event);
      durations.push(rx.duration);
    }
  }
  return { begins, ends, durations };
}

const ALL = DTMF_DIGITS + '!';
const ALL_CODES = [...ALL].map(dtmfEventCode);

test('sender → receiver round trip for all 17 events', (t) => {
  const s = new DtmfSender();
  s.enqueue(ALL);
  const pkts = runSender(s, 17 * 12);
  const r = feed(new DtmfReceiver(), pkts);
  t.deepEqual(r.begins, ALL_CODES);
  t.deepEqual(r.ends, ALL_CODES);
  t.true(r.durations.every((d) => d === 800));
});

test('receiver: duplicated end packets and duplicated updates are reported once', (t) => {
  const s = new DtmfSender();
  s.enqueue(ALL);
  const pkts = runSender(s, 17 * 12).flatMap((p) => [p, p]);
  const r = feed(new DtmfReceiver(), pkts);
  t.deepEqual(r.begins, ALL_CODES);
  t.deepEqual(r.ends, ALL_CODES);
});

test('receiver: lost start packets and lost end packets', (t) => {
  const s = new DtmfSender();
  s.enqueue(ALL);
  const pkts = runSender(s, 17 * 12);
  // drop every start packet: each digit is still reported once, at its first update
  const noStart = feed(
    new DtmfReceiver(),
    pkts.filter((p) => !p.marker),
  );
  t.deepEqual(noStart.begins, ALL_CODES);
  t.deepEqual(noStart.ends, ALL_CODES);
  // keep only the last of the three end packets
  const lastEndOnly = pkts.filter((p, i) => !((p.payload[1]! & 0x80) !== 0 && pkts[i + 1] !== undefined && (pkts[i + 1]!.payload[1]! & 0x80) !== 0 && pkts[i + 1]!.ts === p.ts));
  const r2 = feed(new DtmfReceiver(), lastEndOnly);
  t.deepEqual(r2.begins, ALL_CODES);
  t.deepEqual(r2.ends, ALL_CODES);
  // lose every end packet: the digits themselves are still all reported once
  const r3 = feed(
    new DtmfReceiver(),
    pkts.filter((p) => (p.payload[1]! & 0x80) === 0),
  );
  t.deepEqual(r3.begins, ALL_CODES);
  t.deepEqual(r3.ends, []);
  // only end packets survive: start is lost, the digit is reported with its end
  const onlyEnds = pkts.filter((p) => (p.payload[1]! & 0x80) !== 0);
  const rx = new DtmfReceiver();
  const flags = onlyEnds.map((p) => rx.receive(p.payload, 0, 4, p.ts));
  t.is(flags.filter((f) => f === (DTMF_RX_BEGIN | DTMF_RX_END)).length, 17);
  t.is(flags.filter((f) => f === 0).length, 34);
});

test('receiver: the same digit pressed twice with all end packets lost stays two digits', (t) => {
  const s = new DtmfSender();
  s.enqueue('55');
  const pkts = runSender(s, 30).filter((p) => (p.payload[1]! & 0x80) === 0);
  t.deepEqual(feed(new DtmfReceiver(), pkts).begins, [5, 5]);
});

test('receiver: late packets of an earlier event are ignored', (t) => {
  const s = new DtmfSender();
  s.enqueue('12');
  const pkts = runSender(s, 30);
  const firstUpdate = pkts[1]!;
  const reordered = [...pkts.slice(0, 9), firstUpdate, ...pkts.slice(9)];
  const r = feed(new DtmfReceiver(), reordered);
  t.deepEqual(r.begins, [1, 2]);
  t.deepEqual(r.ends, [1, 2]);
});

test('receiver: malformed payloads are counted, not thrown', (t) => {
  const rx = new DtmfReceiver();
  t.is(rx.receive(Buffer.from([1, 2]), 0, 2, 0), 0);
  t.is(rx.receive(Buffer.alloc(4), 2, 4, 0), 0);
  t.is(rx.malformed, 2);
});

test('long event: sender segments past the 16-bit duration, receiver reports one digit with the full duration', (t) => {
  const s = new DtmfSender();
  s.enqueue('0', 10_000); // 80 000 samples at 8 kHz > 0xFFFF
  const pkts = runSender(s, 520, 0xfffff000); // also crosses the 32-bit timestamp wrap
  const stamps = [...new Set(pkts.map((p) => p.ts))];
  t.is(stamps.length, 2);
  t.is((stamps[1]! - stamps[0]!) >>> 0, 0xffff);
  t.is(pkts.filter((p) => p.marker).length, 1);
  t.true(pkts.every((p) => p.payload.readUInt16BE(2) <= 0xffff));
  const r = feed(new DtmfReceiver(), pkts);
  t.deepEqual(r.begins, [0]);
  t.deepEqual(r.ends, [0]);
  t.deepEqual(r.durations, [80000]);
});

test('long event: an RFC 2833 sender that wraps the duration field on one timestamp', (t) => {
  const rx = new DtmfReceiver();
  const b = Buffer.alloc(4);
  const flags: number[] = [];
  let dur = 0;
  for (let k = 0; k < 500; k++) {
    dur += 160;
    writeTelephoneEvent(b, 0, 9, false, 10, dur & 0xffff);
    flags.push(rx.receive(b, 0, 4, 5000, k === 0));
  }
  writeTelephoneEvent(b, 0, 9, true, 10, (dur + 160) & 0xffff);
  flags.push(rx.receive(b, 0, 4, 5000));
  t.is(flags.filter((f) => f & DTMF_RX_BEGIN).length, 1);
  t.is(flags[flags.length - 1], DTMF_RX_END);
  t.is(rx.duration, dur + 160);
});

// ---------------------------------------------------------------- in-band

function generate(digits: string, rate = 8000, opts: { durationMs?: number; gapMs?: number; levelDbm0?: number } = {}): Int16Array {
  const g = new DtmfGenerator({ sampleRate: rate, ...opts });
  g.enqueue(digits);
  const frame = (rate * 20) / 1000;
  const chunks: Int16Array[] = [];
  while (g.busy) {
    const f = new Int16Array(frame);
    g.generate(f, frame);
    chunks.push(f);
  }
  // trailing silence so the last digit is complete
  const out = new Int16Array((chunks.length + 5) * frame);
  chunks.forEach((c, i) => out.set(c, i * frame));
  return out;
}

const SIXTEEN = DTMF_DIGITS;

test('generator → detector: all 16 digits at 8 kHz', (t) => {
  t.is(detectDtmfDigits(generate(SIXTEEN)), SIXTEEN);
});

test('generator: levels and frequencies of a digit', (t) => {
  const pcm = generate('5', 8000, { durationMs: 200 }).subarray(0, 1600);
  const a = dbm0ToAmplitude(-10);
  t.true(Math.abs(goertzelPower(pcm, 8000, 770) - (a * a) / 2) / ((a * a) / 2) < 0.02);
  t.true(Math.abs(goertzelPower(pcm, 8000, 1336) - (a * a) / 2) / ((a * a) / 2) < 0.02);
  t.true(goertzelPower(pcm, 8000, 697) < (a * a) / 2 / 100);
});

test('generator: phase continuity regardless of frame size', (t) => {
  const g1 = new DtmfGenerator();
  const g2 = new DtmfGenerator();
  g1.enqueue('19#');
  g2.enqueue('19#');
  const whole = new Int16Array(4000);
  g1.generate(whole);
  const pieces = new Int16Array(4000);
  for (let i = 0; i < 4000; i += 37) g2.generate(pieces.subarray(i, Math.min(4000, i + 37)), Math.min(37, 4000 - i));
  t.deepEqual([...pieces], [...whole]);
  t.throws(() => g1.enqueue('x'), { instanceOf: RangeError });
});

test('generator: mix adds to existing audio and flash is silent', (t) => {
  const g = new DtmfGenerator();
  g.enqueue('!');
  const f = new Int16Array(160).fill(100);
  g.generate(f, 160, true);
  t.true(f.every((v) => v === 100));
  g.generate(f, 160);
  t.true(f.every((v) => v === 0));
  g.clear();
  t.false(g.busy);
});

test('detector: all 16 digits after G.711 µ-law and A-law', (t) => {
  const pcm = generate(SIXTEEN);
  for (const name of ['PCMU', 'PCMA'] as const) {
    const codec = createCodec(name)!;
    const pkt = Buffer.alloc(160);
    const dec = new Int16Array(pcm.length);
    const frame = new Int16Array(160);
    for (let i = 0; i < pcm.length; i += 160) {
      codec.encode(pcm.subarray(i, i + 160), pkt, 0);
      codec.decode(pkt, 0, 160, frame);
      dec.set(frame, i);
    }
    t.is(detectDtmfDigits(dec), SIXTEEN, name);
  }
});

test('detector: all 16 digits generated at 48 kHz and resampled to 8 kHz', (t) => {
  const pcm48 = generate(SIXTEEN, 48000);
  const rs = createResampler(48000, 8000);
  const det = new DtmfDetector();
  const out = new Int16Array(160);
  let digits = '';
  for (let i = 0; i + 960 <= pcm48.length; i += 960) {
    const n = rs.process(pcm48.subarray(i, i + 960), 960, out);
    if (det.process(out, n) > 0) for (let d = det.takeDigit(); d >= 0; d = det.takeDigit()) digits += dtmfDigitChar(d);
  }
  t.is(digits, SIXTEEN);
});

test('detector: all 16 digits through Opus at 48 kHz, then 48k → 8k', (t) => {
  const codec = createCodec('opus');
  if (codec === undefined) return t.pass('Opus unavailable');
  const pcm48 = generate(SIXTEEN, 48000);
  const rs = createResampler(48000, 8000);
  const det = new DtmfDetector();
  const pkt = Buffer.alloc(1500);
  const dec = new Int16Array(5760);
  const out = new Int16Array(160);
  let digits = '';
  for (let i = 0; i + 960 <= pcm48.length; i += 960) {
    const n = codec.encode(pcm48.subarray(i, i + 960), pkt, 0);
    codec.decode(pkt, 0, n, dec);
    det.process(out, rs.process(dec, 960, out));
    for (let d = det.takeDigit(); d >= 0; d = det.takeDigit()) digits += dtmfDigitChar(d);
  }
  codec.close();
  t.is(digits, SIXTEEN);
});

/** `digits` generated after `lead` samples of silence, so tones start at every alignment to the detector's windows. */
function shifted(digits: string, lead: number, opts: { durationMs?: number; gapMs?: number }): Int16Array {
  const pcm = generate(digits, 8000, opts);
  const out = new Int16Array(lead + pcm.length);
  out.set(pcm, lead);
  return out;
}

test('detector: 40 ms digits with 40 ms pauses are all detected at every alignment', (t) => {
  for (let lead = 0; lead < 102; lead++) {
    const got = detectDtmfDigits(shifted(SIXTEEN, lead, { durationMs: 40, gapMs: 40 }));
    if (got !== SIXTEEN) t.fail(`lead ${lead}: ${got}`);
  }
  t.is(detectDtmfDigits(generate('1111222233334444', 8000, { durationMs: 40, gapMs: 40 })), '1111222233334444');
  t.is(detectDtmfDigits(generate('55', 8000, { gapMs: 50 })), '55');
});

test('detector: tones of 23 ms or less are never digits; a long press is one digit', (t) => {
  for (let lead = 0; lead < 102; lead++) {
    const got = detectDtmfDigits(shifted(SIXTEEN, lead, { durationMs: 23, gapMs: 60 }));
    if (got !== '') t.fail(`lead ${lead}: ${got}`);
  }
  t.is(detectDtmfDigits(generate('7', 8000, { durationMs: 2000 })), '7');
});

test('detector: a 10 ms drop-out inside a tone does not split it', (t) => {
  for (let lead = 0; lead < 102; lead++) {
    const pcm = shifted('5', lead, { durationMs: 200 });
    pcm.fill(0, lead + 800, lead + 880);
    const got = detectDtmfDigits(pcm);
    if (got !== '5') t.fail(`lead ${lead}: ${got}`);
  }
  t.pass();
});

test('detector: levels from −25 to 0 dBm0 are detected, −40 dBm0 is not', (t) => {
  for (const lv of [-25, -15, -5, 0]) t.is(detectDtmfDigits(generate('159#', 8000, { levelDbm0: lv })), '159#', `${lv} dBm0`);
  t.is(detectDtmfDigits(generate('159#', 8000, { levelDbm0: -40 })), '');
});

test('detector: twist limits', (t) => {
  const mk = (rowDb: number, colDb: number) => {
    const pcm = new Int16Array(8000);
    const [fr, fcol] = dtmfFrequencies(5);
    fillSine(pcm, 8000, fr, dbm0ToAmplitude(rowDb), 0, 1600);
    fillSine(pcm, 8000, fcol, dbm0ToAmplitude(colDb), 0, 1600, true);
    return detectDtmfDigits(pcm);
  };
  t.is(mk(-10, -16), '5'); // 6 dB normal twist: accepted
  t.is(mk(-10, -22), ''); // 12 dB normal twist: rejected
  t.is(mk(-13, -10), '5'); // 3 dB reverse twist: accepted
  t.is(mk(-18, -10), ''); // 8 dB reverse twist: rejected
});

/** Deterministic white noise (xorshift32) so the test is repeatable. */
function noise(n: number, amp: number, seed = 12345): Int16Array {
  const out = new Int16Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = Math.round(((x >>> 0) / 0xffffffff - 0.5) * 2 * amp);
  }
  return out;
}

test('detector: no false digits on a 1 kHz tone, white noise, or call-progress tones', (t) => {
  const sine = new Int16Array(16000);
  fillSine(sine, 8000, 1000, 12000);
  t.is(detectDtmfDigits(sine), '');
  for (const amp of [500, 4000, 20000]) t.is(detectDtmfDigits(noise(80000, amp, amp)), '', `noise ${amp}`);
  for (const spec of [NA_TONES.ringback, NA_TONES.dial, NA_TONES.busy]) {
    const g = new ToneGenerator(8000);
    g.start({ ...spec, levelDbm0: -5 });
    const pcm = new Int16Array(48000);
    g.generate(pcm);
    t.is(detectDtmfDigits(pcm), '', spec.freqs.join('+'));
  }
});

test('detector: digits survive moderate noise (20 dB SNR)', (t) => {
  const pcm = generate(SIXTEEN);
  const n = noise(pcm.length, 1400, 99);
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.max(-32768, Math.min(32767, pcm[i]! + n[i]!));
  t.is(detectDtmfDigits(pcm), SIXTEEN);
});

test('detector: skipping quiet windows changes nothing: the same digits, returns and held digit after every chunk (property)', (t) => {
  // segments near the edges the gate and the detector judge: tones around the minimum level,
  // cut to a few ms, beside silence, noise and single tones
  const segment = fc.oneof(
    fc.record({ kind: fc.constant('silence' as const), ms: fc.integer({ min: 1, max: 120 }) }),
    fc.record({ kind: fc.constant('noise' as const), ms: fc.integer({ min: 1, max: 120 }), amp: fc.integer({ min: 1, max: 3000 }), seed: fc.integer({ min: 1, max: 1 << 30 }) }),
    fc.record({ kind: fc.constant('digit' as const), ms: fc.integer({ min: 3, max: 150 }), digit: fc.integer({ min: 0, max: 15 }), level: fc.integer({ min: -45, max: 0 }) }),
    fc.record({ kind: fc.constant('sine' as const), ms: fc.integer({ min: 3, max: 150 }), freq: fc.integer({ min: 300, max: 2000 }), level: fc.integer({ min: -45, max: 0 }) }),
  );
  type Segment = { kind: string; ms: number; amp?: number; seed?: number; digit?: number; level?: number; freq?: number };
  const render = (segs: Segment[]): Int16Array => {
    const out = new Int16Array(segs.reduce((n, g) => n + g.ms * 8, 0));
    let at = 0;
    for (const g of segs) {
      const n = g.ms * 8;
      const pcm = out.subarray(at, at + n);
      at += n;
      if (g.kind === 'noise') pcm.set(noise(n, g.amp!, g.seed));
      else if (g.kind === 'sine') fillSine(pcm, 8000, g.freq!, dbm0ToAmplitude(g.level!));
      else if (g.kind === 'digit') {
        const [lo, hi] = dtmfFrequencies(g.digit!);
        const high = new Int16Array(n);
        fillSine(pcm, 8000, lo, dbm0ToAmplitude(g.level!));
        fillSine(high, 8000, hi, dbm0ToAmplitude(g.level!));
        for (let i = 0; i < n; i++) pcm[i] = Math.max(-32768, Math.min(32767, pcm[i]! + high[i]!));
      }
    }
    return out;
  };
  fc.assert(
    fc.property(fc.array(segment, { minLength: 1, maxLength: 24 }), fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 8 }), (segs, chunks) => {
      const pcm = render(segs);
      const gated = new DtmfDetector();
      const full = new DtmfDetector({ skipQuiet: false });
      let a = '';
      let b = '';
      for (let i = 0, c = 0; i < pcm.length; c++) {
        const n = Math.min(chunks[c % chunks.length]!, pcm.length - i);
        const part = pcm.subarray(i, i + n);
        if (gated.process(part, n) !== full.process(part, n)) return false;
        if (gated.current !== full.current) return false;
        for (let d = gated.takeDigit(); d >= 0; d = gated.takeDigit()) a += dtmfDigitChar(d);
        for (let d = full.takeDigit(); d >= 0; d = full.takeDigit()) b += dtmfDigitChar(d);
        i += n;
      }
      return a === b;
    }),
    { numRuns: 400 },
  );
  t.pass();
});

test('detector: result does not depend on how the stream is framed', (t) => {
  const pcm = generate('0#A7');
  const det = new DtmfDetector();
  let digits = '';
  for (let i = 0; i < pcm.length; i += 33) {
    det.process(pcm.subarray(i, Math.min(pcm.length, i + 33)), Math.min(33, pcm.length - i));
    for (let d = det.takeDigit(); d >= 0; d = det.takeDigit()) digits += dtmfDigitChar(d);
  }
  t.is(digits, '0#A7');
  t.is(det.takeDigit(), -1);
  det.reset();
  t.is(det.current, -1);
});

// ---------------------------------------------------------------- SIP INFO bodies

test('application/dtmf-relay build and parse', (t) => {
  t.is(buildDtmfRelayBody('5'), 'Signal=5\r\nDuration=160\r\n');
  t.is(buildDtmfRelayBody('#', 250), 'Signal=#\r\nDuration=250\r\n');
  t.is(buildDtmfRelayBody('a'), 'Signal=A\r\nDuration=160\r\n');
  t.throws(() => buildDtmfRelayBody('x'), { instanceOf: RangeError });
  t.deepEqual(parseDtmfRelayBody('Signal=5\r\nDuration=160\r\n'), { digit: '5', event: 5, durationMs: 160 });
  t.deepEqual(parseDtmfRelayBody('signal= *\nduration = 100\n'), { digit: '*', event: 10, durationMs: 100 });
  t.deepEqual(parseDtmfRelayBody('Signal=11\r\n'), { digit: '#', event: 11 });
  t.deepEqual(parseDtmfRelayBody('Signal=hf\r\nDuration=500'), { digit: '!', event: 16, durationMs: 500 });
  t.is(parseDtmfRelayBody('Duration=160\r\n'), undefined);
  t.is(parseDtmfRelayBody('Signal=Z\r\n'), undefined);
  t.is(parseDtmfRelayBody(''), undefined);
});

test('application/dtmf build and parse, and dispatch by content type', (t) => {
  t.is(buildDtmfBody('9'), '9');
  t.deepEqual(parseDtmfBody(' 9\r\n'), { digit: '9', event: 9 });
  t.deepEqual(parseDtmfBody('10'), { digit: '*', event: 10 });
  t.is(parseDtmfBody('99'), undefined);
  t.deepEqual(parseDtmfInfoBody('Application/DTMF-Relay; charset=utf-8', 'Signal=D\r\nDuration=80\r\n'), {
    digit: 'D',
    event: 15,
    durationMs: 80,
  });
  t.deepEqual(parseDtmfInfoBody('application/dtmf', '#'), { digit: '#', event: 11 });
  t.is(parseDtmfInfoBody('application/sdp', 'Signal=5'), undefined);
});
