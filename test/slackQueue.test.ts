/**
 * SlackQueue (media/slackQueue.ts): a media floor's commands run in its clock's slack. In virtual
 * time, with a fake host: a run stops at its budget or before a due tick, goes on after the
 * tick, keeps the arrival order across its stops, always gets its minimum slice (a floor that
 * runs behind still gets its commands through), and a synchronous read does not wait out the
 * budget.
 */
import test from 'ava';
import { SlackQueue, type SlackQueueHost } from '../media/slackQueue.js';

interface Item {
  name: string;
  /** Virtual ms the item takes. */
  cost: number;
  urgent?: boolean;
}

/** A fake floor: virtual time, a tick every `periodMs` from `dueMs`, and the later() calls held for the test to run. */
class FakeFloor implements SlackQueueHost {
  t = 0;
  dueMs = 20;
  readonly periodMs = 20;
  readonly budgetMs = 2;
  readonly marginMs = 1;
  readonly pending: Array<() => void> = [];
  readonly ran: string[] = [];
  readonly queue: SlackQueue<Item>;

  constructor(minSliceMs?: number) {
    this.queue = new SlackQueue<Item>(this, {
      run: (item) => {
        this.ran.push(item.name);
        this.t += item.cost;
      },
      urgent: (item) => item.urgent === true,
      ...(minSliceMs !== undefined ? { minSliceMs } : {}),
    });
  }

  now(): number {
    return this.t;
  }

  shouldYield(batchStartMs: number): boolean {
    return this.t - batchStartMs >= this.budgetMs || this.tickPending();
  }

  tickPending(): boolean {
    return this.t >= this.dueMs - this.marginMs;
  }

  tickLate(): boolean {
    return this.t >= this.dueMs;
  }

  later(fn: () => void): void {
    this.pending.push(fn);
  }

  /** Runs what later() held (one event-loop turn's check phase). */
  turn(): number {
    const fns = this.pending.splice(0);
    for (const fn of fns) fn();
    return fns.length;
  }

  /** The clock's tick: it runs (taking `cost` ms) and tells the queue. */
  tick(cost = 4): void {
    this.t = Math.max(this.t, this.dueMs) + cost;
    this.dueMs += this.periodMs;
    this.queue.afterTick();
  }
}

const items = (prefix: string, n: number, cost: number): Item[] => Array.from({ length: n }, (_, i) => ({ name: `${prefix}${i}`, cost }));

test('a burst of commands runs in budgeted runs, in arrival order, none before it is queued', (t) => {
  const f = new FakeFloor();
  for (const it of items('c', 10, 0.5)) f.queue.push(it);
  t.is(f.ran.length, 0, 'pushing only queues: the message handler returns at once');
  t.is(f.pending.length, 1, 'one run is scheduled for the whole burst');
  f.turn();
  t.deepEqual(f.ran, ['c0', 'c1', 'c2', 'c3'], 'the first run stops at its 2 ms budget');
  t.is(f.queue.length, 6);
  while (f.turn() > 0);
  t.deepEqual(f.ran, items('c', 10, 0).map((i) => i.name), 'every command ran, in the order sent');
  t.is(f.queue.length, 0);
});

test('a run gives way to a due tick and goes on after it, without polling in between', (t) => {
  const f = new FakeFloor();
  f.t = 18;
  for (const it of items('c', 6, 0.5)) f.queue.push(it);
  f.turn();
  // at 19 the tick due at 20 is within the margin and can still come on time: no minimum slice
  t.deepEqual(f.ran, ['c0', 'c1'], 'stopped at the margin before the tick due at 20');
  t.is(f.pending.length, 0, 'it waits for the tick instead of spinning until it');
  f.tick();
  t.is(f.pending.length, 1, 'the tick resumes the queue');
  while (f.turn() > 0);
  t.deepEqual(f.ran, ['c0', 'c1', 'c2', 'c3', 'c4', 'c5']);
  t.true(f.t <= 24 + 2, 'the rest ran right after the tick');
});

test('a floor that runs behind still gets its minimum slice of commands per run', (t) => {
  const f = new FakeFloor(1);
  // the clock is late: a tick is always pending
  f.t = 100;
  for (const it of items('c', 8, 0.4)) f.queue.push(it);
  f.turn();
  t.deepEqual(f.ran, ['c0', 'c1', 'c2'], '1 ms of commands before the gate is asked');
  t.is(f.pending.length, 0);
  f.tick();
  f.turn();
  t.is(f.ran.length, 6, 'each tick lets another slice through');
  f.tick();
  f.turn();
  t.is(f.ran.length, 8);
});

test('a synchronous read behind a burst is not held to the budget, only to a due tick', (t) => {
  const f = new FakeFloor();
  for (const it of items('c', 10, 0.5)) f.queue.push(it);
  f.queue.push({ name: 'read', cost: 0.1, urgent: true });
  f.queue.push({ name: 'after', cost: 0.5 });
  f.turn();
  t.deepEqual(f.ran.slice(-2), ['c9', 'read'], 'the commands sent before the read ran first, and the read in the same run');
  t.is(f.ran.length, 11, 'once the read was answered the budget applied again: the next command waits for the next run');

  const g = new FakeFloor();
  g.t = 14;
  for (const it of items('c', 20, 0.5)) g.queue.push(it);
  g.queue.push({ name: 'read', cost: 0.1, urgent: true });
  g.turn();
  t.is(g.ran.length, 10, 'a tick due at 20 stops even an urgent run at its margin');
  t.is(g.pending.length, 1, 'with a reader waiting the queue does not wait for afterTick: it is polled');
  g.tick();
  while (g.turn() > 0);
  t.is(g.ran.at(-1), 'read');
});
