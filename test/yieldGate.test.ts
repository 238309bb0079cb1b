/**
 * MediaYieldGate against a stand-in clock: the budget, the margin before a due phase, a late
 * phase, and clocks it must ignore (none, stopped, manual).
 * @module
 */
import test from 'ava';
import type { MediaClock } from '../media/mediaClock.js';
import { MediaYieldGate } from '../media/yieldGate.js';

/** The three members the gate reads, due `inMs` from now. */
function clockDueIn(inMs: number, over: { running?: boolean; manual?: boolean } = {}): MediaClock {
  return { running: over.running ?? true, manual: over.manual ?? false, nextDueMs: performance.now() + inMs } as unknown as MediaClock;
}

test('the budget ends a batch whatever the clock says', (t) => {
  const gate = new MediaYieldGate({ budgetMs: 3, marginMs: 1 });
  const now = performance.now();
  t.false(gate.shouldYield(now), 'no clock, a batch that just started');
  t.true(gate.shouldYield(now - 3), 'no clock, budget used');
  gate.setClock(clockDueIn(1000));
  t.false(gate.shouldYield(now));
  t.true(gate.shouldYield(now - 5));
});

test('a phase due within the margin ends a batch; phaseDue(0) only once it is late', (t) => {
  const gate = new MediaYieldGate({ budgetMs: 100, marginMs: 2 });
  gate.setClock(clockDueIn(1));
  t.true(gate.phaseDue(), 'due in 1 ms, margin 2');
  t.false(gate.phaseDue(0), 'not late yet');
  t.true(gate.shouldYield(performance.now()));
  gate.setClock(clockDueIn(-1));
  t.true(gate.phaseDue(0), 'late');
  gate.setClock(clockDueIn(50));
  t.false(gate.phaseDue());
  t.false(gate.shouldYield(performance.now()));
});

test('a stopped or manual clock, or none, is never due', (t) => {
  const gate = new MediaYieldGate({ budgetMs: 100, marginMs: 2 });
  t.false(gate.phaseDue(0));
  gate.setClock(clockDueIn(-10, { running: false }));
  t.false(gate.phaseDue(0));
  gate.setClock(clockDueIn(-10, { manual: true }));
  t.false(gate.phaseDue(0), "a manual clock's due time is virtual");
  gate.setClock(null);
  t.false(gate.shouldYield(performance.now()));
});
