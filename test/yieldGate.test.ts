/**
 * MediaYieldGate against a stand-in clock: the budget, the margin before a due phase, a late
 * phase, and clocks it must ignore (none, stopped, manual). On a virtual time: a loaded machine
 * can hold the test between two lines for longer than any budget here.
 * @module
 */
import test from 'ava';
import type { MediaClock } from '../media/mediaClock.js';
import { MediaYieldGate } from '../media/yieldGate.js';

/** The gates' virtual time, ms. */
const NOW = 5000;
const now = (): number => NOW;

/** The three members the gate reads, due `inMs` from now. */
function clockDueIn(inMs: number, over: { running?: boolean; manual?: boolean } = {}): MediaClock {
  return { running: over.running ?? true, manual: over.manual ?? false, nextDueMs: NOW + inMs } as unknown as MediaClock;
}

test('the budget ends a batch whatever the clock says', (t) => {
  const gate = new MediaYieldGate({ budgetMs: 3, marginMs: 1, now });
  t.false(gate.shouldYield(NOW), 'no clock, a batch that just started');
  t.false(gate.shouldYield(NOW - 2.9), 'no clock, budget almost used');
  t.true(gate.shouldYield(NOW - 3), 'no clock, budget used');
  gate.setClock(clockDueIn(1000));
  t.false(gate.shouldYield(NOW));
  t.true(gate.shouldYield(NOW - 5));
});

test('a phase due within the margin ends a batch; phaseDue(0) only once it is late', (t) => {
  const gate = new MediaYieldGate({ budgetMs: 100, marginMs: 2, now });
  gate.setClock(clockDueIn(1));
  t.true(gate.phaseDue(), 'due in 1 ms, margin 2');
  t.false(gate.phaseDue(0), 'not late yet');
  t.true(gate.shouldYield(NOW));
  gate.setClock(clockDueIn(-1));
  t.true(gate.phaseDue(0), 'late');
  gate.setClock(clockDueIn(50));
  t.false(gate.phaseDue());
  t.false(gate.shouldYield(NOW));
});

test('a stopped or manual clock, or none, is never due', (t) => {
  const gate = new MediaYieldGate({ budgetMs: 100, marginMs: 2, now });
  t.false(gate.phaseDue(0));
  gate.setClock(clockDueIn(-10, { running: false }));
  t.false(gate.phaseDue(0));
  gate.setClock(clockDueIn(-10, { manual: true }));
  t.false(gate.phaseDue(0), "a manual clock's due time is virtual");
  gate.setClock(null);
  t.false(gate.shouldYield(NOW));
});
