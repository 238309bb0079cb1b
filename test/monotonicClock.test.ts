/**
 * The media threads' allocation-free clock (media/monotonicClock.ts): the same time base as
 * `performance.now()` (what the media clock's ideal tick times are in), never going back, and
 * the same with the native libraries switched off (then it is `performance.now()` itself).
 */
import test from 'ava';
import { mediaNowMs } from '../media/monotonicClock.js';

test('mediaNowMs reads performance.now() time: bracketed by two performance.now() reads, and never going back', (t) => {
  // a base other than performance.now()'s would be off by the process's age or the machine's
  // uptime (seconds at least); 1 ms leaves room for the offset's estimate on a loaded machine
  for (let i = 0; i < 1000; i++) {
    const before = performance.now();
    const now = mediaNowMs();
    const after = performance.now();
    if (now < before - 1 || now > after + 1) return t.fail(`read ${i}: ${now} outside [${before}, ${after}]`);
  }
  let last = mediaNowMs();
  for (let i = 0; i < 100_000; i++) {
    const now = mediaNowMs();
    if (now < last) return t.fail(`went back from ${last} to ${now}`);
    last = now;
  }
  t.pass();
});
