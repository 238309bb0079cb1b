import { speexEdgeResamplers } from '../mixer/edgeResamplers.js';
import { native, peerTest } from './helpers/env.js';
import test from 'ava';
import fc from 'fast-check';
import { ConferenceBridge, Port, type MixerRate } from '../mixer/index.js';
import { findGaps, goertzelPower } from './helpers/analysis.js';
import { fillSine } from '../media/tones.js';
import { MediaClock } from '../media/mediaClock.js';

/** A port with a tone source and a recorder of everything it hears. */
interface Party {
  readonly port: Port;
  freq: number;
  amp: number;
  phase: number;
  readonly frame: Int16Array;
  /** Everything the port put out, tick after tick. */
  heard: Int16Array;
  /** Ticks recorded in `heard`. */
  heardTicks: number;
}

function party(bridge: ConferenceBridge, name: string, rate: MixerRate, freq: number, groups: string[], amp = 8000, phase = 0): Party {
  const port = bridge.addPort({ name, rate, groups });
  return { port, freq, amp, phase, frame: new Int16Array(port.frameLen), heard: new Int16Array(0), heardTicks: 0 };
}

/**
 * Run `ticks` ticks: every party puts its tone (silence when amp is 0), the bridge mixes, every
 * party's output is appended to `heard`. `before(tick)` runs ahead of each tick.
 */
function run(bridge: ConferenceBridge, parties: Party[], ticks: number, before?: (tick: number) => void): void {
  for (const p of parties) {
    const grown = new Int16Array(p.heard.length + ticks * p.port.frameLen);
    grown.set(p.heard);
    p.heard = grown;
  }
  for (let t = 0; t < ticks; t++) {
    before?.(t);
    for (const p of parties) {
      p.phase = fillSine(p.frame, p.port.rate, p.freq, p.amp, p.phase);
      p.port.putFrame(p.frame);
    }
    bridge.tick();
    for (const p of parties) p.heard.set(p.port.getFrame(), p.heardTicks++ * p.port.frameLen);
  }
}

/** Level of `freq` in `pcm` (from `fromTick` on) in dB relative to full scale (0 dB: a ±32768 sine). */
function toneDb(p: Party, freq: number, fromTick: number, toTick?: number): number {
  const n = p.port.frameLen;
  const end = toTick === undefined ? p.heard.length : toTick * n;
  return 10 * Math.log10(goertzelPower(p.heard, p.port.rate, freq, fromTick * n, end) / (32768 * 32768 / 2));
}

/** Every party hears every other party's tone and not its own (≥ 30 dB below the weakest other). */
function checkConference(t: import('ava').ExecutionContext, parties: Party[], fromTick: number): void {
  for (const p of parties) {
    const others = parties.filter((q) => q !== p).map((q) => toneDb(p, q.freq, fromTick));
    const own = toneDb(p, p.freq, fromTick);
    const weakest = Math.min(...others);
    t.true(weakest > -20, `${p.port.name} hears every other party (weakest ${weakest.toFixed(1)} dBFS)`);
    t.true(own < weakest - 30, `${p.port.name} does not hear itself (own ${own.toFixed(1)}, weakest other ${weakest.toFixed(1)})`);
  }
}

test('3-party conference of 8 kHz lines: everyone hears the others, nobody hears themself', (t) => {
  const bridge = new ConferenceBridge();
  const parties = [400, 600, 800].map((f, i) => party(bridge, `line ${i}`, 8000, f, ['conf']));
  run(bridge, parties, 50);
  checkConference(t, parties, 5);
  // own voice cancels exactly: mix-minus is integer arithmetic
  t.true(toneDb(parties[0]!, 400, 5) < -100);
  t.is(bridge.stats().groups, 1);
  t.is(bridge.stats().ports, 3);
});

test('5-party conference at mixed 8 and 16 kHz: each hears the four others', (t) => {
  const bridge = new ConferenceBridge({ rate: 16000 });
  const rates: MixerRate[] = [8000, 16000, 8000, 16000, 8000];
  const parties = [400, 600, 800, 1000, 1200].map((f, i) => party(bridge, `p${i}`, rates[i]!, f, ['conf'], 6000));
  run(bridge, parties, 50);
  checkConference(t, parties, 5);
});

test('mixed rates: 8, 16 and 48 kHz ports hear each other within their own bandwidth', (t) => {
  const bridge = new ConferenceBridge({ rate: 16000 });
  const narrow = party(bridge, 'g711', 8000, 1000, ['conf']);
  const wide = party(bridge, 'ivr16', 16000, 3000, ['conf']);
  const full = party(bridge, 'opus', 48000, 6000, ['conf']);
  run(bridge, [narrow, wide, full], 50);
  const F = 5;
  // the 48 kHz line hears the 3 kHz tone of the 16 kHz port and the 1 kHz of the 8 kHz one
  t.true(toneDb(full, 3000, F) > -15);
  t.true(toneDb(full, 1000, F) > -15);
  t.true(toneDb(full, 6000, F) < -100);
  t.true(toneDb(wide, 1000, F) > -15);
  t.true(toneDb(wide, 6000, F) > -15);
  t.true(toneDb(narrow, 3000, F) > -15);
  // 6 kHz is beyond the 8 kHz line's band: filtered out, not folded down to 2 kHz
  t.true(toneDb(narrow, 2000, F) < -70, `alias ${toneDb(narrow, 2000, F).toFixed(1)}`);
  // levels survive the edges within 1 dB (8000 amplitude is −12.3 dBFS)
  const expected = 20 * Math.log10(8000 / 32768);
  for (const [p, f] of [[full, 3000], [full, 1000], [wide, 6000], [narrow, 3000]] as const) {
    t.true(Math.abs(toneDb(p, f, F) - expected) < 1, `${p.port.name} ${f} Hz at ${toneDb(p, f, F).toFixed(2)} dBFS`);
  }
});

test('a 48 kHz bridge keeps the full band between 48 kHz ports', (t) => {
  const bridge = new ConferenceBridge({ rate: 48000 });
  const a = party(bridge, 'a', 48000, 12000, ['conf']);
  const b = party(bridge, 'b', 48000, 500, ['conf']);
  const c = party(bridge, 'c', 16000, 700, ['conf']);
  run(bridge, [a, b, c], 30);
  t.true(toneDb(b, 12000, 3) > -15);
  t.true(toneDb(c, 500, 3) > -15);
  t.true(toneDb(a, 700, 3) > -15);
  t.true(toneDb(a, 12000, 3) < -100);
});

test('two groups stay separate; a port in both hears both, and a shared member once', (t) => {
  const bridge = new ConferenceBridge({ rate: 16000 });
  // y hears five parties: 6000 each keeps the sum below full scale (no clipping products)
  const p1 = party(bridge, 'p1', 8000, 400, ['a'], 6000);
  const p2 = party(bridge, 'p2', 8000, 600, ['a'], 6000);
  const p3 = party(bridge, 'p3', 8000, 800, ['b'], 6000);
  const p4 = party(bridge, 'p4', 8000, 1200, ['b'], 6000);
  const x = party(bridge, 'x', 8000, 1000, ['a', 'b'], 6000);
  const y = party(bridge, 'y', 8000, 1400, ['a', 'b'], 6000);
  const all = [p1, p2, p3, p4, x, y];
  run(bridge, all, 50);
  const F = 5;
  // p1 hears its group only
  t.true(toneDb(p1, 600, F) > -15 && toneDb(p1, 1000, F) > -15 && toneDb(p1, 1400, F) > -15);
  t.true(toneDb(p1, 800, F) < -80 && toneDb(p1, 1200, F) < -80, `p1: ${toneDb(p1, 800, F)} ${toneDb(p1, 1200, F)}`);
  t.true(toneDb(p3, 400, F) < -80 && toneDb(p3, 600, F) < -80, `p3: ${toneDb(p3, 400, F)} ${toneDb(p3, 600, F)}`);
  // y is in both groups: hears all five others, x exactly as loud as a single-group member
  for (const f of [400, 600, 800, 1200, 1000]) t.true(toneDb(y, f, F) > -15, `y hears ${f}`);
  t.true(toneDb(y, 1400, F) < -80, `y does not hear itself ${toneDb(y, 1400, F)}`);
  const shared = toneDb(y, 1000, F) - toneDb(y, 400, F);
  t.true(Math.abs(shared) < 0.5, `x heard once by y (${shared.toFixed(2)} dB, not +6)`);
  const sharedX = toneDb(x, 1400, F) - toneDb(x, 800, F);
  t.true(Math.abs(sharedX) < 0.5, `y heard once by x (${sharedX.toFixed(2)} dB)`);
  t.true(toneDb(x, 1000, F) < -80);
  t.deepEqual(bridge.groupIds().sort(), ['a', 'b']);
  t.is(bridge.members('a').length, 4);
});

test('heavily overlapping groups: each distinct member heard once (direct-sum plan)', (t) => {
  const bridge = new ConferenceBridge({ rate: 8000 });
  const q = [500, 700, 900].map((f, i) => party(bridge, `q${i}`, 8000, f, ['c', 'd', 'e']));
  const lone = party(bridge, 'lone', 8000, 1500, ['e']);
  const l = party(bridge, 'l', 8000, 300, ['c', 'd', 'e']);
  run(bridge, [...q, lone, l], 30);
  const ref = toneDb(l, 500, 3);
  t.true(ref > -15);
  for (const f of [700, 900, 1500]) t.true(Math.abs(toneDb(l, f, 3) - ref) < 0.3, `l hears ${f} once`);
  t.true(toneDb(l, 300, 3) < -100);
  t.true(Math.abs(toneDb(q[0]!, 300, 3) - toneDb(q[0]!, 700, 3)) < 0.3, 'q0 hears l once');
  t.true(toneDb(lone, 300, 3) > -15 && toneDb(lone, 1500, 3) < -100);
});

test('gains: tx 1024 doubles what a port hears, rx 256 halves what it contributes', (t) => {
  const bridge = new ConferenceBridge();
  const a = party(bridge, 'a', 8000, 400, ['conf']);
  const b = party(bridge, 'b', 8000, 600, ['conf']);
  const c = party(bridge, 'c', 8000, 800, ['conf']);
  b.port.setGains(512, 1024);
  c.port.rxGain = 256;
  run(bridge, [a, b, c], 40);
  const F = 3;
  const up = toneDb(b, 400, F) - toneDb(c, 400, F);
  t.true(Math.abs(up - 6.02) < 0.1, `tx 1024: +${up.toFixed(2)} dB`);
  const down = toneDb(a, 800, F) - toneDb(a, 600, F);
  t.true(Math.abs(down + 6.02) < 0.1, `rx 256: ${down.toFixed(2)} dB`);
  t.is(b.port.txGain, 1024);
  b.port.setGains(-5, 99999);
  t.is(b.port.rxGain, 0);
  t.is(b.port.txGain, 2048);
});

test('clipping saturates at ±32767 without sign flips', (t) => {
  const bridge = new ConferenceBridge({ rate: 16000 });
  const parties = [300, 500, 700, 900, 1100].map((f, i) => party(bridge, `loud${i}`, 16000, f, ['conf'], 32767));
  const listener = party(bridge, 'listener', 16000, 0, ['conf'], 0);
  const narrow = party(bridge, 'narrow', 8000, 0, ['conf'], 0);
  const all = [...parties, listener, narrow];
  // expected: the plain sum of the five loud frames, from tick 2 on (after the fade-in)
  const ticks = 20;
  const n = 320;
  const ideal = new Float64Array(ticks * n);
  for (const p of parties) {
    const tone = new Int16Array(ticks * n);
    fillSine(tone, 16000, p.freq, 32767);
    for (let i = 0; i < ideal.length; i++) ideal[i]! += tone[i]!;
  }
  run(bridge, all, ticks);
  let saturated = 0;
  let flips = 0;
  let mismatches = 0;
  for (let i = 2 * n; i < ticks * n; i++) {
    const v = listener.heard[i]!;
    const e = ideal[i]!;
    const clamped = e > 32767 ? 32767 : e < -32767 ? -32767 : e;
    if (v !== clamped) mismatches++;
    if (Math.abs(v) === 32767) saturated++;
    if (e !== 0 && v !== 0 && Math.sign(e) !== Math.sign(v)) flips++;
  }
  t.is(mismatches, 0, 'output is exactly the saturated sum');
  t.true(saturated > 1000, `${saturated} samples saturated`);
  t.is(flips, 0);
  t.is(Math.max(...listener.heard), 32767);
  t.is(Math.min(...listener.heard), -32767);
  // through the edge resampler the saturated mix stays in range and never wraps to the other sign
  const nh = narrow.heard.subarray(2 * 160);
  t.true(Math.max(...nh) >= 32000 && Math.min(...nh) <= -32000);
  // the 8 kHz listener lags the bridge by the two filters' group delay: compare signs where the
  // ideal sum is large and steady, allowing a few samples of delay
  let bad = 0;
  for (let i = 0; i < nh.length; i++) {
    const v = nh[i]!;
    if (Math.abs(v) < 30000) continue;
    // a wrap would show as a full-scale sample of one sign right next to one of the other
    const next = nh[i + 1] ?? v;
    if (Math.sign(next) !== Math.sign(v) && Math.abs(next) > 20000) bad++;
  }
  t.is(bad, 0);
});

test('hold (mute + deaf) removes a port from the mix both ways; resume restores it', (t) => {
  const bridge = new ConferenceBridge();
  const a = party(bridge, 'a', 8000, 400, ['conf']);
  const b = party(bridge, 'b', 8000, 600, ['conf']);
  const c = party(bridge, 'c', 48000, 800, ['conf']);
  const all = [a, b, c];
  run(bridge, all, 30);
  b.port.held = true;
  t.true(b.port.muted && b.port.deaf && b.port.held);
  run(bridge, all, 30);
  b.port.held = false;
  run(bridge, all, 30);
  // on hold (ticks 33..60): a and c do not hear b, b hears nothing at all
  t.true(toneDb(a, 600, 33, 60) < -100);
  t.true(toneDb(c, 600, 33, 60) < -100);
  t.true(toneDb(a, 800, 33, 60) > -15, 'a still hears c');
  const held = b.heard.subarray(33 * 160, 60 * 160);
  t.true(held.every((v) => v === 0), 'b hears digital silence on hold');
  // resumed (ticks 63..90)
  t.true(toneDb(a, 600, 63, 90) > -15);
  t.true(toneDb(b, 400, 63, 90) > -15 && toneDb(b, 800, 63, 90) > -15);
  t.true(toneDb(b, 600, 63, 90) < -100);
  // mute alone: b is not heard but still hears
  b.port.muted = true;
  run(bridge, all, 20);
  t.true(toneDb(a, 600, 93, 110) < -100);
  t.true(toneDb(b, 400, 93, 110) > -15);
});

/** Largest |second difference| of `pcm[from, to)`: a click shows as a spike far above a tone's. */
function maxSecondDiff(pcm: Int16Array, from: number, to: number): number {
  let m = 0;
  for (let i = from + 2; i < to; i++) m = Math.max(m, Math.abs(pcm[i]! - 2 * pcm[i - 1]! + pcm[i - 2]!));
  return m;
}

test('join and leave mid-conference: no gap and no click for the remaining parties', (t) => {
  const bridge = new ConferenceBridge();
  const a = party(bridge, 'a', 8000, 400, ['conf']);
  const b = party(bridge, 'b', 8000, 600, ['conf']);
  const parties = [a, b];
  let c: Party | undefined;
  run(bridge, parties, 150, (tick) => {
    if (tick === 30) {
      // joins at the peak of its waveform: an abrupt start would be a full-scale step
      c = party(bridge, 'c', 8000, 825, ['conf'], 8000, Math.PI / 2);
      parties.push(c);
      c.heard = new Int16Array((150 - 30) * 160);
    }
    if (tick === 60) c!.port.leave('conf');
    if (tick === 80) c!.port.join('conf');
    if (tick === 100) b.port.setGroups(['conf', 'side']);
    if (tick === 120) bridge.removePort(c!.port);
  });
  t.false(c!.port.isAttached);
  t.is(bridge.stats().ports, 2);
  // a hears b throughout, c while present: never a gap longer than one frame
  const gaps = findGaps(a.heard.subarray(5 * 160), 8000, 10);
  t.true(gaps.longestMs <= 20, `longest gap ${gaps.longestMs} ms`);
  t.is(gaps.longestMs, 0);
  t.true(findGaps(b.heard.subarray(5 * 160), 8000, 10).longestMs <= 20);
  // a heard c while c was in (ticks 33..58, 83..118) and not between (63..79)
  t.true(toneDb(a, 825, 33, 58) > -15);
  t.true(toneDb(a, 825, 63, 79) < -80, `gap: ${toneDb(a, 825, 63, 79)}`);
  t.true(toneDb(a, 825, 83, 98) > -15);
  // c heard both while in (its recording starts at tick 30), nothing once removed
  t.true(toneDb(c!, 400, 3, 28) > -15 && toneDb(c!, 600, 3, 28) > -15);
  t.true(c!.port.getFrame().every((v) => v === 0));
  // no click: every transition stays as smooth as the steady three-party signal
  const steady = maxSecondDiff(a.heard, 40 * 160, 55 * 160);
  const clicks = [30, 60, 80, 100, 120]
    .map((at) => ({ at, around: maxSecondDiff(a.heard, (at - 1) * 160, (at + 4) * 160) }))
    .filter(({ around }) => around > steady * 1.1);
  t.deepEqual(clicks, [], `steady ${steady}`);
});

test('taps: levels per tick and a recording tap with both directions', (t) => {
  const bridge = new ConferenceBridge();
  const a = party(bridge, 'a', 8000, 400, ['conf'], 10000);
  const b = party(bridge, 'b', 8000, 600, ['conf'], 5000);
  let calls = 0;
  let lastOutPeak = 0;
  a.port.onLevels = (lv) => {
    calls++;
    lastOutPeak = lv.outPeak;
  };
  const recIn: number[] = [];
  const recOut: number[] = [];
  let mixedOk = true;
  a.port.setRecordTap((input, output, mixed) => {
    recIn.push(input[40]!);
    recOut.push(output[40]!);
    for (let i = 0; i < mixed.length; i++) if (mixed[i] !== Math.max(-32768, Math.min(32767, input[i]! + output[i]!))) mixedOk = false;
  });
  run(bridge, [a, b], 10);
  t.is(calls, 10);
  const lv = a.port.levels();
  t.true(Math.abs(lv.inPeak - 10000) < 10);
  t.true(Math.abs(lv.inRms - 10000 / Math.SQRT2) < 20);
  t.true(Math.abs(lv.outPeak - 5000) < 150, `out peak ${lv.outPeak}`);
  t.is(lastOutPeak, lv.outPeak);
  t.is(recIn.length, 10);
  t.is(recOut[9], a.heard[9 * 160 + 40]);
  t.true(mixedOk);
  a.port.setRecordTap(null);
  a.port.setMetering(false);
  run(bridge, [a, b], 2);
  t.is(recIn.length, 10);
  t.is(a.port.levels().inPeak, 0);
});

test('a port without frames contributes silence and counts underruns; the bridge runs on a MediaClock', (t) => {
  const clock = MediaClock.manual();
  const bridge = new ConferenceBridge({ rate: 8000, frameMs: 20, costSampleEvery: 1 });
  clock.add(bridge);
  const a = bridge.addPort({ name: 'a', rate: 8000, groups: ['conf'] });
  const b = bridge.addPort({ name: 'b', rate: 8000, groups: ['conf'] });
  const tone = new Int16Array(160);
  fillSine(tone, 8000, 1000, 9000);
  for (let i = 0; i < 5; i++) {
    a.putFrame(tone);
    clock.tickOnce();
  }
  t.true(b.getFrame().some((v) => v !== 0));
  t.true(a.getFrame().every((v) => v === 0));
  t.is(b.underruns, 5);
  t.is(a.underruns, 0);
  a.putFrame(tone);
  a.putFrame(tone);
  t.is(a.overruns, 1);
  // short frames are padded, long ones cut
  a.putFrame(new Int16Array(10).fill(100));
  clock.tickOnce();
  a.putFrame(new Int16Array(500).fill(100));
  clock.tickOnce();
  const copy = new Int16Array(160);
  t.is(b.readFrame(copy), 160);
  t.is(copy[159], 100);
  const s = bridge.stats();
  t.is(s.ticks, 7);
  t.is(s.timedTicks, 7);
  t.true(s.meanTickUs > 0 && s.cpuPercent > 0);
  t.is(s.underruns, 7);
  t.throws(() => new ConferenceBridge({ rate: 44100 as MixerRate }), { instanceOf: RangeError });
  t.throws(() => bridge.addPort({ name: 'x', rate: 11025 as MixerRate }), { instanceOf: RangeError });
});

/** Exact model of a settled bridge whose ports all run at the bridge rate. */
function expectedOutput(port: Port, all: Port[], frames: Map<Port, Int16Array>): Int16Array {
  const out = new Int16Array(port.frameLen);
  if (!port.isAttached || port.deaf || port.groups.length === 0) return out;
  const mine = new Set(port.groups);
  const mix = new Float64Array(port.frameLen);
  for (const q of all) {
    if (q === port || !q.isAttached || q.muted || !q.groups.some((g) => mine.has(g))) continue;
    const f = frames.get(q)!;
    const g = q.rxGain / 512;
    // a scaled contribution saturates to 16 bits
    for (let i = 0; i < mix.length; i++) mix[i]! += g === 1 ? f[i]! : Math.max(-32768, Math.min(32767, Math.trunc(f[i]! * g)));
  }
  const g = port.txGain / 512;
  for (let i = 0; i < out.length; i++) {
    const v = mix[i]! * g;
    out[i] = v > 32767 ? 32767 : v < -32767 ? -32767 : v;
  }
  return out;
}

const GROUPS = ['a', 'b', 'c'];
const opArb = fc.oneof(
  fc.record({ op: fc.constant('groups' as const), port: fc.nat(5), ids: fc.subarray(GROUPS) }),
  fc.record({ op: fc.constant('join' as const), port: fc.nat(5), id: fc.constantFrom(...GROUPS) }),
  fc.record({ op: fc.constant('leave' as const), port: fc.nat(5), id: fc.constantFrom(...GROUPS) }),
  fc.record({ op: fc.constant('mute' as const), port: fc.nat(5), on: fc.boolean() }),
  fc.record({ op: fc.constant('deaf' as const), port: fc.nat(5), on: fc.boolean() }),
  fc.record({ op: fc.constant('gains' as const), port: fc.nat(5), rx: fc.integer({ min: 0, max: 2048 }), tx: fc.integer({ min: 0, max: 2048 }) }),
  fc.record({ op: fc.constant('remove' as const), port: fc.nat(5) }),
  fc.record({ op: fc.constant('add' as const), ids: fc.subarray(GROUPS) }),
  fc.record({ op: fc.constant('tick' as const), seed: fc.integer() }),
);
type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

function applyOp(bridge: ConferenceBridge, ports: Port[], op: Op, rate: () => MixerRate): void {
  const p = 'port' in op ? ports[op.port % Math.max(1, ports.length)] : undefined;
  switch (op.op) {
    case 'groups':
      p?.setGroups(op.ids);
      break;
    case 'join':
      p?.join(op.id);
      break;
    case 'leave':
      p?.leave(op.id);
      break;
    case 'mute':
      if (p) p.muted = op.on;
      break;
    case 'deaf':
      if (p) p.deaf = op.on;
      break;
    case 'gains':
      p?.setGains(op.rx, op.tx);
      break;
    case 'remove':
      if (p) bridge.removePort(p);
      break;
    case 'add':
      ports.push(bridge.addPort({ name: `p${ports.length}`, rate: rate(), groups: op.ids }));
      break;
    case 'tick':
      break;
  }
}

function randomFrame(len: number, seed: number): Int16Array {
  const f = new Int16Array(len);
  let s = seed | 0 || 1;
  for (let i = 0; i < len; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    f[i] = s >> 16;
  }
  return f;
}

test('property: random membership and frames match an exact mix-minus model at the bridge rate', (t) => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 40 }), fc.integer(), (ops, seed) => {
      const bridge = new ConferenceBridge({ rate: 16000, frameMs: 10 });
      const ports: Port[] = [];
      for (let i = 0; i < 4; i++) ports.push(bridge.addPort({ name: `p${i}`, rate: 16000, groups: [GROUPS[i % 3]!] }));
      let k = seed;
      const tickAll = () => {
        for (const p of ports) p.putFrame(randomFrame(p.frameLen, ++k));
        bridge.tick();
      };
      for (const op of ops) {
        applyOp(bridge, ports, op, () => 16000);
        if (op.op === 'tick') tickAll();
      }
      // let fades and switches settle, then check one tick against the model
      for (let i = 0; i < 3; i++) tickAll();
      const frames = new Map<Port, Int16Array>();
      for (const p of ports) {
        const f = randomFrame(p.frameLen, ++k);
        frames.set(p, f);
        p.putFrame(f);
      }
      bridge.tick();
      for (const p of ports) {
        const want = expectedOutput(p, ports, frames);
        const got = p.getFrame();
        for (let i = 0; i < want.length; i++) {
          if (got[i] !== want[i]) throw new Error(`${p.name}[${i}]: got ${got[i]}, want ${want[i]} (groups ${p.groups.join(',')})`);
        }
      }
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('property: random rates, membership changes and frames never throw and keep frame sizes', (t) => {
  const rates: MixerRate[] = [8000, 16000, 48000];
  fc.assert(
    fc.property(
      fc.constantFrom<MixerRate>(8000, 16000, 48000),
      fc.array(fc.tuple(opArb, fc.nat(2), fc.integer({ min: 0, max: 1200 })), { maxLength: 60 }),
      (bridgeRate, steps) => {
        const bridge = new ConferenceBridge({ rate: bridgeRate });
        const ports: Port[] = [];
        let r = 0;
        for (const [op, rateIx, len] of steps) {
          applyOp(bridge, ports, op, () => rates[(rateIx + r++) % 3]!);
          for (const p of ports) p.putFrame(randomFrame(op.op === 'tick' ? len : p.frameLen, len + r));
          bridge.tick();
          for (const p of ports) {
            const out = p.getFrame();
            if (out.length !== p.frameLen) throw new Error('frame size changed');
            if (!p.isAttached && out.some((v) => v !== 0)) throw new Error('removed port not silent');
          }
        }
      },
    ),
    { numRuns: 150 },
  );
  t.pass();
});

for (const edges of ['typescript', 'speex'] as const) {
  peerTest(`property: shared outputs for listeners who only listen are sample-exact with per-listener mixing (${edges} edge resamplers)`, edges === 'speex' ? [native('speexdsp')] : [], (t) => {
  const factory = edges === 'speex' ? speexEdgeResamplers() : null;
  if (edges === 'speex' && factory === null) return t.fail('libspeexdsp loads but gives no edge resamplers');
  const extra = factory ? { resamplerFactory: factory } : {};
  const rates: MixerRate[] = [8000, 16000, 48000];
  fc.assert(
    fc.property(
      fc.constantFrom<MixerRate>(8000, 16000),
      fc.array(fc.tuple(opArb, fc.array(fc.nat(3), { minLength: 8, maxLength: 8 })), { minLength: 5, maxLength: 60 }),
      (bridgeRate, steps) => {
        const bridges = [new ConferenceBridge({ rate: bridgeRate, ...extra }), new ConferenceBridge({ rate: bridgeRate, shareOutputs: false, ...extra })];
        const ports: Port[][] = [[], []];
        for (let i = 0; i < 4; i++) {
          for (let b = 0; b < 2; b++) ports[b]!.push(bridges[b]!.addPort({ name: `p${i}`, rate: rates[i % 3]!, groups: ['a'] }));
        }
        let step = 0;
        for (const [op, talk] of steps) {
          step++;
          for (let b = 0; b < 2; b++) {
            let r = 0;
            applyOp(bridges[b]!, ports[b]!, op, () => rates[(step + r++) % 3]!);
          }
          // each port talks (a tone or noise) or keeps quiet this tick, the same in both bridges
          for (let b = 0; b < 2; b++) {
            ports[b]!.forEach((p, i) => {
              const mode = talk[i % talk.length]!;
              const f = new Int16Array(p.frameLen);
              if (mode === 1) fillSine(f, p.rate, 300 + 100 * i, 9000, step);
              else if (mode === 2) f.set(randomFrame(p.frameLen, step * 31 + i));
              if (mode !== 3) p.putFrame(f);
            });
            bridges[b]!.tick();
          }
          for (let i = 0; i < ports[0]!.length; i++) {
            const x = ports[0]![i]!.getFrame();
            const y = ports[1]![i]!.getFrame();
            for (let k = 0; k < x.length; k++) {
              if (x[k] !== y[k]) throw new Error(`step ${step}, port ${i} (${ports[0]![i]!.rate} Hz) sample ${k}: ${x[k]} vs ${y[k]}`);
            }
          }
        }
      },
    ),
    { numRuns: 150 },
  );
  t.pass();
});
}
