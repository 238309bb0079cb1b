/**
 * The media floors' clock figures in shared memory (media/floorClockFigures.ts), without threads:
 * two writers publish, the merger's p99 is exactly the p99 one recorder would give for every
 * send of both (histograms summed, not p99s averaged), counts add up, maxima are maxima, the
 * tick interval and slice p99 are the worst floor's; a floor that has not published is left out;
 * a reader keeps its last consistent copy while a publication is in progress; a replaced floor's
 * counts carry on from its predecessors'; each floor says how many calls sit in each of its phase
 * groups.
 */
import test from 'ava';
import { SendTiming } from '../media/sendTiming.js';
import type { MediaClockStats } from '../media/mediaClock.js';
import { FLOOR_CLOCK_BOX_BYTES, FloorClockMerger, FloorClockReader, FloorClockWriter } from '../media/floorClockFigures.js';

/** A stream of 20 ms sends whose intervals stray by `devs` (ms), into every recorder given. */
function feed(now: { t: number }, devs: readonly number[], ...recorders: SendTiming[]): void {
  const prev = recorders.map(() => -1);
  for (const d of devs) {
    now.t += 20 + d;
    recorders.forEach((r, i) => {
      r.idealMs = now.t - d / 2;
      prev[i] = r.onSend(prev[i]!, 20);
    });
  }
}

function clockStats(over: Partial<MediaClockStats>): MediaClockStats {
  return {
    running: true,
    ticks: 0,
    lateTicks: 0,
    skippedTicks: 0,
    maxLatenessMs: 0,
    meanIntervalMs: 20,
    intervalJitterP99Ms: 0,
    intervalJitterMaxMs: 0,
    samples: 0,
    listeners: 0,
    listenerErrors: 0,
    phases: 1,
    sliceP99Ms: 0,
    sliceMaxMs: 0,
    ...over,
  };
}

test('two floors merge into the figures of all their sends: p99 from the summed histograms', (t) => {
  const now = { t: 0 };
  const clockNow = (): number => now.t;
  const a = new SendTiming({ now: clockNow });
  const b = new SendTiming({ now: clockNow });
  const all = new SendTiming({ now: clockNow });
  // floor A: 300 steady sends; floor B: 100 sends, a tenth of them 8 ms off and one 30 ms gap
  feed(now, Array.from({ length: 300 }, (_, i) => (i % 50) / 100), a, all);
  feed(now, Array.from({ length: 100 }, (_, i) => (i === 50 ? 30 : i % 10 === 0 ? 8 : 0.2)), b, all);
  const boxes = [new SharedArrayBuffer(FLOOR_CLOCK_BOX_BYTES), new SharedArrayBuffer(FLOOR_CLOCK_BOX_BYTES), new SharedArrayBuffer(FLOOR_CLOCK_BOX_BYTES)];
  new FloorClockWriter(boxes[0]!).publish(clockStats({ ticks: 300, lateTicks: 1, samples: 299, meanIntervalMs: 20, intervalJitterP99Ms: 0.4, sliceP99Ms: 0.3, sliceMaxMs: 1 }), a, 7);
  new FloorClockWriter(boxes[1]!).publish(clockStats({ ticks: 100, lateTicks: 2, samples: 99, meanIntervalMs: 22, intervalJitterP99Ms: 3, sliceP99Ms: 0.2, sliceMaxMs: 4, maxLatenessMs: 9 }), b, 3);
  // the third floor has not published yet (just started)
  const readers = boxes.map((s) => new FloorClockReader(s));
  const main = clockStats({ ticks: 400 });
  const m = new FloorClockMerger().merge(main, readers);
  const want = all.stats();
  t.is(m.sendSamples, want.sendSamples);
  t.is(m.sendSpacingSamples, want.sendSpacingSamples);
  t.is(m.sendSpacingP99Ms, want.sendSpacingP99Ms, 'p99 of all sends, exactly');
  t.is(m.sendLatenessP99Ms, want.sendLatenessP99Ms);
  t.is(m.sendSpacingMaxMs, want.sendSpacingMaxMs);
  t.is(m.sendGaps, 1);
  t.is(m.sendGapsTotal, 1);
  // the merged p99 is not the worst floor's: B's own p99 is its 8 ms outliers
  t.true(m.floors![1]!.sendSpacingP99Ms! > m.sendSpacingP99Ms!, `B ${m.floors![1]!.sendSpacingP99Ms} vs all ${m.sendSpacingP99Ms}`);
  t.is(m.ticks, 400);
  t.is(m.lateTicks, 3);
  t.is(m.maxLatenessMs, 9);
  t.is(m.samples, 398);
  t.true(Math.abs(m.meanIntervalMs - (20 * 299 + 22 * 99) / 398) < 1e-9, 'mean interval weighted by samples');
  t.is(m.intervalJitterP99Ms, 3, 'worst floor');
  t.is(m.sliceP99Ms, 0.3, 'worst floor');
  t.is(m.sliceMaxMs, 4);
  t.deepEqual(m.floors!.map((f) => [f.floor, f.calls]), [[0, 7], [1, 3]], 'the silent floor is left out');
  t.is(m.mainThread, main);
});

test('a reader keeps its last consistent copy while the floor is writing', (t) => {
  const sab = new SharedArrayBuffer(FLOOR_CLOCK_BOX_BYTES);
  const reader = new FloorClockReader(sab);
  t.is(reader.read(), undefined, 'nothing published');
  const st = new SendTiming({ now: () => 0 });
  new FloorClockWriter(sab).publish(clockStats({ ticks: 5 }), st, 1);
  t.is(reader.read()?.f[0], 5);
  // a publication caught half-way: the sequence is odd
  const seq = new Int32Array(sab, 0, 1);
  Atomics.add(seq, 0, 1);
  new Float64Array(sab, 16, 1)[0] = 99;
  t.is(reader.read()?.f[0], 5, 'the previous figures, not a torn copy');
  Atomics.add(seq, 0, 1);
  t.is(reader.read()?.f[0], 99);
});

test('the port use a floor writes is read at once', (t) => {
  const sab = new SharedArrayBuffer(FLOOR_CLOCK_BOX_BYTES);
  const w = new FloorClockWriter(sab);
  const r = new FloorClockReader(sab);
  t.is(r.rtpInUse, 0);
  w.portsInUse(3);
  t.is(r.rtpInUse, 3);
});

test('a replaced floor\'s counts carry on: merged and per-floor counts never go back, windows start afresh', (t) => {
  const now = { t: 0 };
  const old = new SendTiming({ now: () => now.t });
  feed(now, [0, 30, 0, 30, 0], old);
  const other = new SendTiming({ now: () => now.t });
  const boxes = [new SharedArrayBuffer(FLOOR_CLOCK_BOX_BYTES), new SharedArrayBuffer(FLOOR_CLOCK_BOX_BYTES)];
  new FloorClockWriter(boxes[0]!).publish(clockStats({ ticks: 300, lateTicks: 2, skippedTicks: 1, listenerErrors: 1, maxLatenessMs: 50 }), old, 4);
  new FloorClockWriter(boxes[1]!).publish(clockStats({ ticks: 100, lateTicks: 1 }), other, 2);
  const readers = boxes.map((s) => new FloorClockReader(s));
  const merger = new FloorClockMerger();
  const main = clockStats({});
  const before = merger.merge(main, readers);
  t.is(before.ticks, 400);
  t.is(before.sendGapsTotal, 2);
  // floor 0 dies; its replacement has not published yet: its predecessor's counts still count
  merger.retire(0, readers[0]!);
  const fresh = new SharedArrayBuffer(FLOOR_CLOCK_BOX_BYTES);
  readers[0] = new FloorClockReader(fresh);
  const between = merger.merge(main, readers);
  t.deepEqual(between.floors!.map((f) => f.floor), [1], 'the replacement is not listed before it publishes');
  t.deepEqual(
    [between.ticks, between.lateTicks, between.skippedTicks, between.listenerErrors, between.sendGapsTotal],
    [400, 3, 1, 1, 2],
    'the merged counts stand while the replacement starts',
  );
  // the replacement publishes its own counts, from 0
  const replacement = new SendTiming({ now: () => now.t });
  feed(now, [0, 30, 0], replacement);
  new FloorClockWriter(fresh).publish(clockStats({ ticks: 10, lateTicks: 1, maxLatenessMs: 3 }), replacement, 1);
  const after = merger.merge(main, readers);
  t.deepEqual([after.ticks, after.lateTicks, after.skippedTicks, after.listenerErrors, after.sendGapsTotal], [410, 4, 1, 1, 3]);
  const f0 = after.floors![0]!;
  t.is(f0.floor, 0);
  t.deepEqual([f0.ticks, f0.lateTicks, f0.skippedTicks, f0.listenerErrors, f0.sendGapsTotal], [310, 3, 1, 1, 3], 'the index counts what its floors counted');
  t.is(after.ticks, after.floors!.reduce((a, f) => a + f.ticks, 0), 'the merged count is the floors\' sum');
  // what describes the live floor is the replacement's alone
  t.is(f0.calls, 1);
  t.is(f0.maxLatenessMs, 3);
  t.is(f0.sendGaps, 1, 'the window holds the replacement\'s sends only');
  // a second replacement carries both predecessors
  merger.retire(0, readers[0]);
  readers[0] = new FloorClockReader(new SharedArrayBuffer(FLOOR_CLOCK_BOX_BYTES));
  t.is(merger.merge(main, readers).ticks, 410);
  // a reader that never published carries nothing
  merger.retire(0, readers[0]);
  t.is(merger.merge(main, readers).ticks, 410);
});

test('a floor publishes its calls per phase group (one entry per phase; without the groups, all in group 0)', (t) => {
  const boxes = [new SharedArrayBuffer(FLOOR_CLOCK_BOX_BYTES), new SharedArrayBuffer(FLOOR_CLOCK_BOX_BYTES)];
  const st = new SendTiming({ now: () => 0 });
  new FloorClockWriter(boxes[0]!).publish(clockStats({ phases: 4 }), st, 7, [2, 2, 2, 1]);
  new FloorClockWriter(boxes[1]!).publish(clockStats({ phases: 1 }), st, 3);
  const m = new FloorClockMerger().merge(clockStats({}), boxes.map((s) => new FloorClockReader(s)));
  t.deepEqual(m.floors![0]!.phaseGroupCalls, [2, 2, 2, 1]);
  t.is(m.floors![0]!.phases, 4);
  t.deepEqual(m.floors![1]!.phaseGroupCalls, [3]);
  t.is(m.phases, 4, 'merged: the most phases of any floor');
});
