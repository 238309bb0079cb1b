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

test('real clock: about a second of ticks, drift-free mean interval (loose bounds)', async (t) => {
  const clock = new MediaClock();
  const r = recorder();
  clock.add(r);
  clock.start();
  t.true(clock.running);
  await sleep(1000);
  clock.stop();
  t.false(clock.running);
  const n = r.ticks.length;
  t.true(n >= 30 && n <= 70, `ticks ${n}`);
  const s = clock.stats();
  // mean over the whole run from hrtime: timer slop does not accumulate
  const meanMs = Number(r.times[n - 1]! - r.times[0]!) / 1e6 / (n - 1);
  t.true(meanMs > 15 && meanMs < 30, `mean interval ${meanMs} ms`);
  t.true(s.meanIntervalMs > 15 && s.meanIntervalMs < 30, `stats mean ${s.meanIntervalMs}`);
  t.true(s.intervalJitterP99Ms >= 0);
  // stopped means stopped
  const before = r.ticks.length;
  await sleep(100);
  t.is(r.ticks.length, before);
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
  await sleep(150);
  t.is(calls, 1);
  t.false(clock.running);
});
