/**
 * Media clock: manual mode for deterministic dispatch, listener add/remove during a tick,
 * error isolation, interval statistics, and short real runs with deliberately loose bounds
 * (CI timers are noisy; benchmarks, not tests, measure timing quality).
 */
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { MediaClock, type MediaClockListener } from '../media/mediaClock.js';

const MS = 1_000_000n;

function recorder(): MediaClockListener & { ticks: number[]; times: bigint[] } {
  const ticks: number[] = [];
  const times: bigint[] = [];
  return {
    ticks,
    times,
    onTick(tick, nowNs) {
      ticks.push(tick);
      times.push(nowNs);
    },
  };
}

test('manual clock dispatches numbered ticks with virtual time', (t) => {
  const clock = MediaClock.manual();
  t.true(clock.manual);
  const r = recorder();
  clock.add(r);
  clock.add(r); // added once only
  for (let i = 0; i < 5; i++) clock.tickOnce();
  t.deepEqual(r.ticks, [0, 1, 2, 3, 4]);
  t.deepEqual(r.times, [20n * MS, 40n * MS, 60n * MS, 80n * MS, 100n * MS]);
  t.is(clock.tick, 5);
  const s = clock.stats();
  t.is(s.ticks, 5);
  t.is(s.samples, 4);
  t.is(s.meanIntervalMs, 20);
  t.is(s.intervalJitterP99Ms, 0);
  t.is(s.listeners, 1);
});

test('interval jitter percentile from given times', (t) => {
  const clock = MediaClock.manual();
  for (const ms of [0n, 20n, 45n, 60n, 80n]) clock.tickOnce(ms * MS);
  const s = clock.stats();
  t.is(s.samples, 4);
  t.is(s.meanIntervalMs, 20);
  t.is(s.intervalJitterP99Ms, 5);
  t.is(s.intervalJitterMaxMs, 5);
});

test('a listener removed during a tick: the others still run, none twice', (t) => {
  const clock = MediaClock.manual();
  const calls: string[] = [];
  const c: MediaClockListener = { onTick: () => calls.push('c') };
  const b: MediaClockListener = {
    onTick: () => {
      calls.push('b');
      clock.remove(b); // itself
    },
  };
  const a: MediaClockListener = {
    onTick: () => {
      calls.push('a');
    },
  };
  const d: MediaClockListener = { onTick: () => calls.push('d') };
  clock.add(a);
  clock.add(b);
  clock.add(c);
  clock.add(d);
  clock.tickOnce();
  t.deepEqual(calls, ['a', 'b', 'c', 'd']);
  calls.length = 0;
  clock.tickOnce();
  t.deepEqual(calls, ['a', 'c', 'd']);
  // removing one not yet called this tick skips it
  calls.length = 0;
  const killer: MediaClockListener = { onTick: () => (calls.push('k'), clock.remove(d)) };
  clock.remove(a);
  clock.add(killer);
  clock.tickOnce(); // order: c, d, killer — d ran before killer, so nothing is skipped
  t.deepEqual(calls, ['c', 'd', 'k']);
  calls.length = 0;
  clock.tickOnce();
  t.deepEqual(calls, ['c', 'k']);
  const first: MediaClockListener = { onTick: () => (calls.push('f'), clock.remove(killer)) };
  clock.remove(c);
  clock.remove(killer);
  clock.add(first);
  clock.add(killer);
  calls.length = 0;
  clock.tickOnce(); // killer removed before its turn: not called
  t.deepEqual(calls, ['f']);
  t.false(clock.remove(killer));
});

test('a listener added during a tick is called from the next tick', (t) => {
  const clock = MediaClock.manual();
  const calls: string[] = [];
  const late: MediaClockListener = { onTick: (n) => calls.push(`late${n}`) };
  clock.add({
    onTick: (n) => {
      calls.push(`adder${n}`);
      clock.add(late);
    },
  });
  clock.tickOnce();
  clock.tickOnce();
  t.deepEqual(calls, ['adder0', 'adder1', 'late1']);
});

test('a throwing listener is counted and does not stop the others', (t) => {
  const errors: unknown[] = [];
  const clock = MediaClock.manual({ onError: (e) => errors.push(e) });
  const r = recorder();
  clock.add({
    onTick: () => {
      throw new Error('boom');
    },
  });
  clock.add(r);
  clock.tickOnce();
  clock.tickOnce();
  t.deepEqual(r.ticks, [0, 1]);
  t.is(errors.length, 2);
  t.is(clock.stats().listenerErrors, 2);
});

test('real clock: about a second of ticks, every slot accounted, never early, never behind', async (t) => {
  const clock = new MediaClock();
  const r = recorder();
  clock.add(r);
  const before = process.hrtime.bigint();
  clock.start();
  const after = process.hrtime.bigint();
  t.true(clock.running);
  await sleep(1000);
  clock.stop();
  t.false(clock.running);
  const n = r.ticks.length;
  const s = clock.stats();
  t.true(n >= 2, `ticks ${n}`);
  // Tick k is due k + 1 periods after the clock's origin, which lies between \`before\` and
  // \`after\`. Judged against the slot numbers, not against how busy the machine was: a drifting
  // clock (timer slop added up) falls behind its slots, an early one runs ahead of them.
  const P = 20n * MS;
  const tol = MS; // a timer may wake up to 1 ms early and counts as on time
  const early: string[] = [];
  const behind: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = BigInt(r.ticks[i]!);
    if (r.times[i]! - before < (k + 1n) * P - tol) early.push(`tick ${k} at ${Number(r.times[i]! - before) / 1e6} ms`);
    // the last tick of a run (catch-up ticks share its time): after it, the next slot due is
    // the next tick dispatched (skipped slots are numbered too), and it was not due yet
    const last = i === n - 1 || r.times[i + 1] !== r.times[i];
    if (last && i < n - 1) {
      const next = BigInt(r.ticks[i + 1]!);
      if (r.times[i]! - after >= (next + 1n) * P - tol) behind.push(`tick ${next} due before the run at ${Number(r.times[i]! - after) / 1e6} ms`);
    }
  }
  t.deepEqual(early, [], 'no tick before its slot');
  t.deepEqual(behind, [], 'no slot left behind after a run');
  // every slot up to the clock's next tick is dispatched or counted as skipped, each once, in
  // order (slots skipped by the last run come after the last tick recorded)
  t.true(r.ticks.every((k, i) => i === 0 || k > r.ticks[i - 1]!), 'tick numbers increase');
  t.is(r.ticks[0], 0);
  t.is(n + s.skippedTicks, clock.tick, `${n} dispatched + ${s.skippedTicks} skipped: ${r.ticks.join(',')}`);
  t.true(r.ticks[n - 1]! < clock.tick);
  t.is(s.ticks, n);
  // the statistics' mean interval is the recorder's own measure of the run
  const meanMs = Number(r.times[n - 1]! - r.times[0]!) / 1e6 / (n - 1);
  t.log(`${n} ticks, ${s.skippedTicks} skipped, mean interval ${meanMs.toFixed(2)} ms, late ticks ${s.lateTicks}`);
  t.true(Math.abs(s.meanIntervalMs - meanMs) < 1e-6, `stats mean ${s.meanIntervalMs}, measured ${meanMs}`);
  t.true(s.intervalJitterP99Ms >= 0);
  // stopped means stopped
  const stopped = r.ticks.length;
  await sleep(100);
  t.is(r.ticks.length, stopped);
});

test('real clock: a stalled event loop is caught up to the cap and the rest skipped', async (t) => {
  const clock = new MediaClock({ maxCatchUpTicks: 5 });
  const r = recorder();
  clock.add(r);
  clock.start();
  await sleep(60);
  const end = Date.now() + 300;
  while (Date.now() < end) {
    // block the loop for 300 ms: 15 ticks are due at once afterwards
  }
  await sleep(60);
  clock.stop();
  const s = clock.stats();
  t.true(s.lateTicks >= 1, JSON.stringify(s));
  t.true(s.skippedTicks >= 1, JSON.stringify(s));
  t.true(s.maxLatenessMs >= 100, JSON.stringify(s));
  // tick numbers jump over the skipped slots
  const gaps = r.ticks.slice(1).filter((tick, i) => tick - r.ticks[i]! > 1);
  t.true(gaps.length >= 1);
});

test('stop from inside a tick stops the clock', async (t) => {
  const clock = new MediaClock();
  let calls = 0;
  clock.add({
    onTick: () => {
      calls++;
      clock.stop();
    },
  });
  clock.start();
  // the first tick comes when the machine lets it (not within a fixed time); none after it
  for (let waited = 0; calls === 0 && waited < 10000; waited += 10) await sleep(10);
  await sleep(100);
  t.is(calls, 1);
  t.false(clock.running);
});
