/**
 * Media thread priority (issue 12, item 0): ffi/sched.ts raises only the calling thread, falls
 * back a step (and says why) when refused; the `mediaThreadPriority` start parameter is checked;
 * bench:calls part e's pcap reader (bench/pcap.ts) reads what tcpdump writes.
 */
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { MEDIA_THREAD_SLICE_US, raiseThreadPriority, resetThreadPriority, THREAD_PRIORITIES, type ThreadPriorityResult } from '../ffi/sched.js';
import { resolveStartParams } from '../engine/startParams.js';
import { TelephonyReturnValue as T } from '../engine/returnCodes.js';
import { readPcapRtp, spacingByWindow } from '../bench/pcap.js';
import { RealtimeGuard, threadCpuMs } from '../media/realtimeGuard.js';
import type { MediaFloors } from '../engine/mediaWorkers.js';
import { startEngine } from './helpers/engine.js';
import { until } from './helpers/observe.js';

const base = { ipAddressOfThisHost: '127.0.0.1', numPhoneLinesRequested: 1, phoneName: 'prio' };

test('mediaThreadPriority: the three values are accepted, anything else is SipBadParameter', (t) => {
  for (const p of THREAD_PRIORITIES) t.not(typeof resolveStartParams({ ...base, mediaThreadPriority: p }), 'number');
  t.is(resolveStartParams({ ...base, mediaThreadPriority: 'max' }), T.SipBadParameter);
  t.is(resolveStartParams({ ...base, mediaThreadPriority: 1 }), T.SipBadParameter);
  const d = resolveStartParams(base);
  t.true(typeof d === 'object' && d.mediaThreadPriority === 'realtime');
});

test("raiseThreadPriority('normal') changes nothing", (t) => {
  const r = raiseThreadPriority('normal');
  t.is(r.applied, 'normal');
  t.is(r.reason, '');
});

/** Runs `body` (with `m` = ffi/sched.js) in a worker thread of its own and resolves with what it returns. */
function inWorker<R>(body: string): Promise<R> {
  const src = `
    const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(new URL('../ffi/sched.js', import.meta.url).href)}).then((m) => {
      parentPort.postMessage((() => {${body}
      })());
    });`;
  return new Promise<R>((resolve, reject) => {
    const w = new Worker(src, { eval: true });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

test('a worker raising itself leaves the main thread as it was; a refusal says why', async (t) => {
  if (process.platform !== 'linux') return t.pass('Linux only');
  const before = raiseThreadPriority('normal');
  const got = await inWorker<{ high: ThreadPriorityResult; rt: ThreadPriorityResult }>(`
      const high = m.raiseThreadPriority('high');
      const rt = m.raiseThreadPriority('realtime');
      m.resetThreadPriority();
      return { high, rt };`);
  for (const r of [got.high, got.rt]) {
    t.not(r.tid, before.tid, 'the worker has its own thread id');
    // either what was asked (or one step down), or nothing with the reason
    if (r.applied === 'normal') t.regex(r.reason, /refused|Linux|libc/);
  }
  if (got.high.applied === 'high') t.is(got.high.nice, -10);
  if (got.rt.applied === 'realtime') t.is(got.rt.policy, 'SCHED_FIFO');
  if (got.rt.applied === 'high') t.regex(got.rt.reason, /SCHED_FIFO refused/);
  const after = raiseThreadPriority('normal');
  t.is(after.nice, before.nice, "the main thread's nice value is untouched");
  t.is(after.policy, before.policy);
  t.is(resetThreadPriority().applied, 'normal');
});

/** Whether this kernel keeps a fair thread's own slice (EEVDF custom slices: Linux 6.12 and later). */
function kernelKeepsSlices(): boolean {
  const m = /^(\d+)\.(\d+)/.exec(os.release());
  return process.platform === 'linux' && m !== null && (Number(m[1]) > 6 || (Number(m[1]) === 6 && Number(m[2]) >= 12));
}

test('a raised media thread asks for a short scheduler slice; the main thread keeps its own; reset gives the default back', async (t) => {
  if (process.platform !== 'linux') return t.pass('Linux only');
  const before = raiseThreadPriority('normal');
  const got = await inWorker<{ fresh: ThreadPriorityResult; high: ThreadPriorityResult; reset: ThreadPriorityResult; slice: number }>(`
      const fresh = m.raiseThreadPriority('normal');
      const high = m.raiseThreadPriority('high');
      const reset = m.resetThreadPriority();
      return { fresh, high, reset, slice: m.MEDIA_THREAD_SLICE_US };`);
  t.is(got.slice, MEDIA_THREAD_SLICE_US);
  if (!kernelKeepsSlices()) return t.pass(`kernel ${os.release()} keeps its own slices (custom slices since 6.12)`);
  t.true(got.fresh.sliceUs > MEDIA_THREAD_SLICE_US, `a thread starts with the kernel's slice (${got.fresh.sliceUs} µs)`);
  t.is(got.high.sliceUs, MEDIA_THREAD_SLICE_US, 'raised: the short slice');
  t.is(got.reset.sliceUs, got.fresh.sliceUs, 'reset: the default slice again');
  t.is(raiseThreadPriority('normal').sliceUs, before.sliceUs, "the main thread's slice is untouched");
});

test('RealtimeGuard: steps down after two saturated rounds in a row, up again after thirty quiet ones', (t) => {
  const g = new RealtimeGuard();
  // cpu ms used per 1 000 ms round, in virtual time
  let cpu = 0;
  let now = 0;
  const round = (used: number): ReturnType<RealtimeGuard['observe']> => g.observe((cpu += used), (now += 1000));
  t.is(g.observe(cpu, now), null, 'the first reading only sets the base');
  t.is(round(950), null);
  t.is(round(400), null, 'one saturated round is not enough');
  t.is(round(950), null);
  t.is(round(920), 'down', 'two in a row at 90 % or more');
  t.true(g.steppedDown);
  t.true(Math.abs(g.lastShare - 0.92) < 1e-9);
  // stepped down: busy rounds do nothing, quiet ones count, and a busy one starts the count over
  t.is(round(990), null);
  for (let i = 0; i < 29; i++) t.is(round(100), null);
  t.is(round(600), null, 'not quiet: the count starts over');
  for (let i = 0; i < 29; i++) t.is(round(100), null);
  t.is(round(100), 'up', 'thirty quiet rounds in a row');
  t.false(g.steppedDown);
  // unreadable readings and rounds of no length change nothing
  t.is(g.observe(NaN, now + 1000), null);
  t.is(g.observe(cpu, now), null);
  t.is(g.streak, 0);
  // custom thresholds
  const quick = new RealtimeGuard({ busyLimit: 0.5, rounds: 1, quietLimit: 0.2, quietRounds: 1 });
  quick.observe(0, 0);
  t.is(quick.observe(600, 1000), 'down');
  t.is(quick.observe(700, 2000), 'up');
});

test('threadCpuMs reads the calling thread\'s CPU time: it grows while the thread works, never faster than the wall clock', (t) => {
  if (process.platform !== 'linux') return t.pass('Linux only');
  // schedstat is brought up to date only at scheduler events (a tick, a switch), so one reading can leave out
  // up to a tick of CPU already spent. Start at an update: wait for the reading to move, and take the wall clock
  // from before the read that came before it, so the CPU counted from here on was all spent after wall0.
  let wall0 = performance.now();
  let a = threadCpuMs();
  t.true(Number.isFinite(a));
  for (const give = wall0 + 20000; ;) {
    const w = performance.now();
    const v = threadCpuMs();
    if (v !== a || w > give) { a = v; break; }
    wall0 = w;
  }
  // busy until the thread has been given 20 ms of CPU, however loaded the machine
  let b = a;
  while (b - a < 20 && performance.now() - wall0 < 20000) b = threadCpuMs();
  const wall = performance.now() - wall0;
  t.true(b - a >= 20, `the thread's CPU time grew by ${b - a} ms`);
  t.true(b - a <= wall + 0.01, `CPU ${b - a} ms within the ${wall} ms that passed`);
});

test.serial('a real-time floor that keeps its core saturated steps down to high, says why, and goes on ticking', async (t) => {
  // a seat of its own: another test process may hold the machine's
  const seats = fs.mkdtempSync(path.join(os.tmpdir(), 'seats-'));
  t.teardown(() => fs.rmSync(seats, { recursive: true, force: true }));
  const e = await startEngine(t, { phoneName: 'guard', mediaWorkers: 1, mediaThreadPriority: 'realtime' }, { realtimeSeats: { dir: seats, count: 1 } });
  const floors = (e.engine as unknown as { run?: { mediaFloors?: MediaFloors } }).run?.mediaFloors;
  t.truthy(floors);
  t.true(await until(() => floors!.threadPriorities()[0] !== undefined, 5000));
  const start = floors!.threadPriorities()[0]!;
  t.is(start.requested, 'realtime');
  if (start.applied !== 'realtime') return t.pass(`real time refused here (${start.reason}): nothing to step down from`);
  const ticks = (): number => e.engine.getMediaClockStatistics().ticks ?? 0;
  t.true(floors!.spinFloor(0, 6000));
  t.true(await until(() => floors!.threadPriorities()[0]!.applied !== 'realtime', 10000), 'stepped down while saturated');
  const down = floors!.threadPriorities()[0]!;
  t.is(down.applied, 'high');
  t.is(down.policy, 'SCHED_OTHER');
  t.regex(down.reason, /stepped down from SCHED_FIFO: the thread kept \d+ % of a core busy for 2 s/);
  const before = ticks();
  t.true(await until(() => ticks() > before + 10, 5000), 'the floor ticks on');
});

/** A classic pcap file (Ethernet link) holding RTP packets `[srcPort, dstPort, seq, seconds, fraction]`. */
function pcapOf(nano: boolean, packets: Array<[number, number, number, number, number]>): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(nano ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(262144, 16);
  head.writeUInt32LE(1, 20);
  const recs = packets.map(([src, dst, seq, sec, frac]) => {
    const pkt = Buffer.alloc(14 + 20 + 8 + 12);
    pkt.writeUInt16BE(0x0800, 12);
    pkt[14] = 0x45;
    pkt[14 + 9] = 17;
    pkt.writeUInt16BE(src, 34);
    pkt.writeUInt16BE(dst, 36);
    pkt[42] = 0x80;
    pkt[43] = 0;
    pkt.writeUInt16BE(seq, 44);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(sec, 0);
    rec.writeUInt32LE(frac, 4);
    rec.writeUInt32LE(pkt.length, 8);
    rec.writeUInt32LE(pkt.length, 12);
    return Buffer.concat([rec, pkt]);
  });
  return Buffer.concat([head, ...recs]);
}

test('pcap reader: nanosecond and microsecond files, spacing per stream and window, gaps and losses', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcap-'));
  try {
    const ns = path.join(dir, 'ns.pcap');
    // stream A: 20 ms, 21.5 ms, then a 45 ms gap; stream B: one lost packet (40 ms, seq +2)
    fs.writeFileSync(ns, pcapOf(true, [
      [4000, 5000, 1, 100, 0],
      [4002, 5002, 7, 100, 5_000_000],
      [4000, 5000, 2, 100, 20_000_000],
      [4000, 5000, 3, 100, 41_500_000],
      [4002, 5002, 9, 100, 45_000_000],
      [4000, 5000, 4, 100, 86_500_000],
    ]));
    const pk = readPcapRtp(ns);
    t.is(pk.length, 6);
    t.is(pk[2]!.ms, 100_020);
    const [w] = spacingByWindow(pk, [[100_000, 101_000]]);
    t.is(w!.samples, 4);
    t.is(w!.streams, 2);
    t.is(w!.seqGaps, 1);
    t.is(w!.gaps40, 1);
    t.true(Math.abs(w!.max - 25) < 1e-6);
    // split windows: the interval belongs to the window of its later packet
    const [x, y] = spacingByWindow(pk, [[100_000, 100_030], [100_030, 101_000]]);
    t.is(x!.samples, 1);
    t.is(y!.samples, 3);
    const us = path.join(dir, 'us.pcap');
    fs.writeFileSync(us, pcapOf(false, [[4000, 5000, 1, 7, 999_000], [4000, 5000, 2, 8, 19_000]]));
    const pu = readPcapRtp(us);
    t.true(Math.abs(pu[1]!.ms - pu[0]!.ms - 20) < 1e-6);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
