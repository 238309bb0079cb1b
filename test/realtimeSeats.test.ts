/**
 * Real-time seats (media/realtimeSeats.ts): at most `count` SCHED_FIFO media threads on the
 * machine, across processes; a seat whose process has gone is taken over; an engine's floors
 * beyond the seats run at 'high' and say why, and give their seats back when the engine stops.
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RealtimeSeats } from '../media/realtimeSeats.js';
import type { MediaFloors } from '../engine/mediaWorkers.js';
import { startEngine } from './helpers/engine.js';
import { until } from './helpers/observe.js';

function seatDir(t: { teardown(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seats-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('seats: count of them, then a reason; a released seat is taken again; release twice is harmless', (t) => {
  const dir = path.join(seatDir(t), 'nested');
  const seats = new RealtimeSeats(dir, 2);
  const a = seats.take();
  const b = seats.take();
  t.deepEqual([a.seat?.index, b.seat?.index], [0, 1]);
  // the directory is everybody's, as /tmp is
  t.is(fs.statSync(dir).mode & 0o7777, 0o1777);
  t.is(fs.readFileSync(path.join(dir, 'seat-0'), 'utf8'), `${process.pid}\n`);
  const c = seats.take();
  t.is(c.seat, undefined);
  t.regex(c.reason ?? '', /all 2 real-time seats of this machine are taken/);
  a.seat!.release();
  a.seat!.release();
  t.false(fs.existsSync(path.join(dir, 'seat-0')));
  t.is(seats.take().seat?.index, 0);
  t.true(fs.existsSync(path.join(dir, 'seat-1')), "the other seat's release did not touch it");
});

test('seats: none on a machine of one core', (t) => {
  const r = new RealtimeSeats(seatDir(t), 0).take();
  t.is(r.seat, undefined);
  t.regex(r.reason ?? '', /one core/);
});

test('seats: a directory that cannot hold them gives a reason, not an exception', (t) => {
  const dir = seatDir(t);
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, '');
  // a path under a file: neither made nor written
  const r = new RealtimeSeats(path.join(file, 'seats'), 2).take();
  t.is(r.seat, undefined);
  t.regex(r.reason ?? '', /no real-time seat: .*a-file\/seats/);
  // a seat path that is a directory: the exclusive create fails with something else than EEXIST
  fs.mkdirSync(path.join(dir, 'seats', 'seat-0'), { recursive: true });
  const r2 = new RealtimeSeats(path.join(dir, 'seats'), 1).take();
  t.is(r2.seat, undefined);
  t.regex(r2.reason ?? '', /seat-0/);
});

test('seats: a seat left by a process that has gone is taken over; a live owner keeps its seat', (t) => {
  const dir = seatDir(t);
  // a process id that no longer runs: a child that has exited
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  fs.writeFileSync(path.join(dir, 'seat-0'), `${gone.stdout}\n`);
  // and garbage in a seat counts as gone too
  fs.writeFileSync(path.join(dir, 'seat-1'), 'not a pid');
  const seats = new RealtimeSeats(dir, 3);
  t.is(seats.take().seat?.index, 0);
  t.is(seats.take().seat?.index, 1);
  t.is(fs.readFileSync(path.join(dir, 'seat-0'), 'utf8'), `${process.pid}\n`);
  // pid 1 is alive (and not ours to signal: EPERM also counts as alive)
  fs.writeFileSync(path.join(dir, 'seat-2'), '1\n');
  t.regex(seats.take().reason ?? '', /all 3/);
});

test('seats are shared between processes: a child holds the only seat until it is killed', async (t) => {
  const dir = seatDir(t);
  const mod = new URL('../media/realtimeSeats.js', import.meta.url).href;
  const src = `import(${JSON.stringify(mod)}).then((m) => { const r = new m.RealtimeSeats(${JSON.stringify(dir)}, 1).take(); console.log(r.seat ? 'seat' : r.reason); setInterval(() => {}, 1000); })`;
  const child = spawn(process.execPath, ['-e', src], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  const said = await new Promise<string>((r) => child.stdout.once('data', (d: Buffer) => r(d.toString().trim())));
  t.is(said, 'seat');
  const seats = new RealtimeSeats(dir, 1);
  t.regex(seats.take().reason ?? '', /all 1 real-time seats/);
  // killed, it cannot give the seat back: the next taker finds its owner gone
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  t.is(seats.take().seat?.index, 0);
});

test('an engine whose floors outnumber the seats: one real-time floor, the other at high saying why; seats back at the stop', async (t) => {
  const dir = seatDir(t);
  const e = await startEngine(t, { phoneName: 'seats', mediaWorkers: 2, mediaThreadPriority: 'realtime' }, { realtimeSeats: { dir, count: 1 } });
  const floors = (e.engine as unknown as { run?: { mediaFloors?: MediaFloors } }).run?.mediaFloors;
  t.truthy(floors);
  t.true(await until(() => floors!.threadPriorities().every((p) => p !== undefined), 5000));
  const [p0, p1] = floors!.threadPriorities() as [NonNullable<ReturnType<MediaFloors['threadPriorities']>[number]>, NonNullable<ReturnType<MediaFloors['threadPriorities']>[number]>];
  t.is(p0.requested, 'realtime');
  t.is(p1.requested, 'realtime');
  // the first floor took the seat; the second found none and runs at high
  t.not(p1.applied, 'realtime');
  t.regex(p1.reason, /all 1 real-time seats of this machine are taken/);
  if (p0.applied === 'realtime') {
    t.is(p0.policy, 'SCHED_FIFO');
    t.deepEqual(fs.readdirSync(dir), ['seat-0']);
  } else {
    // refused real time here: the floor gave its seat back at once
    t.regex(p0.reason, /SCHED_FIFO refused/);
    t.deepEqual(fs.readdirSync(dir), []);
  }
  await e.engine.stopSipTelephony();
  t.deepEqual(fs.readdirSync(dir), []);
});
