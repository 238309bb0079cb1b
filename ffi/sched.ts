/**
 * Scheduling priority of the calling thread (Linux, through libc with koffi): what the media
 * workers use so that a media thread's 20 ms tick gets a core at once when it wakes up, even
 * while signalling, other processes or a SIP load generator keep every core busy
 * (docs/architecture.md, "Media workers"; docs/operations.md, "Granting the media threads
 * their priority").
 *
 * Linux keeps both the nice value and the scheduling policy per thread (a thread id from
 * `gettid()` names one thread to `setpriority(PRIO_PROCESS, tid, nice)` and to
 * `sched_setscheduler(tid, …)`), so raising a worker thread changes neither the main thread
 * nor the process's other threads. Raising needs CAP_SYS_NICE or a matching rlimit
 * (RLIMIT_NICE for a negative nice, RLIMIT_RTPRIO for SCHED_FIFO); without it the call fails
 * with EPERM and {@link raiseThreadPriority} falls back a step, saying why. Every entry point
 * returns a result and never throws; elsewhere than Linux nothing is changed.
 * @module
 */
import fs from 'node:fs';
import { libcBinder, type NativeFunction } from './loader.js';
import { processSoftLimit } from './processLimits.js';

/** How far to raise a media thread: as it is, a lower nice value, or real-time (SCHED_FIFO). */
export type ThreadPriority = 'normal' | 'high' | 'realtime';

/** The priorities {@link raiseThreadPriority} accepts, lowest first. */
export const THREAD_PRIORITIES: readonly ThreadPriority[] = ['normal', 'high', 'realtime'];

/** Nice value of `'high'`: the weight of a nice −10 thread is 9.3× a nice 0 one's under CFS/EEVDF. */
export const HIGH_PRIORITY_NICE = -10;

/**
 * SCHED_FIFO priority of `'realtime'` (1..99): low in the range, above every normal thread,
 * below the kernel's own real-time threads (e.g. threaded interrupts at 50) and anything an
 * operator ranks higher. PJSIP and FreeSWITCH (`-rp`) likewise run their media threads in a
 * real-time class when allowed.
 */
export const REALTIME_FIFO_PRIORITY = 10;

/**
 * The EEVDF slice a raised media thread asks for, µs. Linux's fair scheduler (EEVDF since 6.6)
 * gives each task a slice, by default 0.7 ms × (1 + log2 of the CPUs): a task asking for a
 * shorter one gets an earlier deadline and, since 6.12, preempts the running task when it wakes
 * instead of waiting for that task's slice to end. A media thread that wakes every 5 ms and works
 * for well under a millisecond is that case. It needs no privilege (unlike a lower nice value);
 * kernels before 6.12 accept the value and keep their own slice.
 */
export const MEDIA_THREAD_SLICE_US = 300;

/** What {@link raiseThreadPriority} did. */
export interface ThreadPriorityResult {
  /** What was asked. */
  requested: ThreadPriority;
  /** What the thread has now (a step lower than asked when the system refused). */
  applied: ThreadPriority;
  /** The thread's id (0 where unknown). */
  tid: number;
  /** Its nice value now (NaN where unknown). */
  nice: number;
  /** Its policy now: `SCHED_OTHER`, `SCHED_FIFO`, … (`unknown` where unknown). */
  policy: string;
  /**
   * The thread's scheduler slice now, µs (SCHED_OTHER; {@link MEDIA_THREAD_SLICE_US} once
   * raised where the kernel takes it; NaN where unknown or under SCHED_FIFO).
   */
  sliceUs: number;
  /** Why less than asked was applied (empty when it is what was asked). */
  reason: string;
}

const SCHED_OTHER = 0;
const SCHED_FIFO = 1;
const PRIO_PROCESS = 0;
const POLICY_NAMES = ['SCHED_OTHER', 'SCHED_FIFO', 'SCHED_RR', 'SCHED_BATCH', 'SCHED_ISO', 'SCHED_IDLE', 'SCHED_DEADLINE'];

interface Libc {
  /** `syscall(2)`: sched_setattr/sched_getattr have no glibc wrapper before 2.41. */
  syscall: NativeFunction;
  gettid: NativeFunction;
  setpriority: NativeFunction;
  getpriority: NativeFunction;
  setscheduler: NativeFunction;
  getscheduler: NativeFunction;
}

const bindLibc = libcBinder('libc lacks a scheduling function', (lib): Libc => ({
  // glibc >= 2.30 has gettid(); the thread's kernel id, what setpriority/sched_* take
  syscall: lib.func('long syscall(long number, ...)'),
  gettid: lib.func('int gettid(void)'),
  setpriority: lib.func('int setpriority(int which, unsigned int who, int prio)'),
  getpriority: lib.func('int getpriority(int which, unsigned int who)'),
  // struct sched_param is one int (sched_priority)
  setscheduler: lib.func('int sched_setscheduler(int pid, int policy, const int *param)'),
  getscheduler: lib.func('int sched_getscheduler(int pid)'),
}));

/** libc's functions, or why they are unavailable (loaded once). */
function loadLibc(): Libc | string {
  if (process.platform !== 'linux') return `thread priorities are set on Linux only (this is ${process.platform})`;
  return bindLibc();
}

/** The rlimits and capability that decide whether raising is allowed, for the reason text. */
function permissionText(): string {
  try {
    const soft = (name: string): string => processSoftLimit(name) ?? '?';
    const capEff = /^CapEff:\s*([0-9a-f]+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1];
    // CAP_SYS_NICE is capability 23
    const sysNice = capEff !== undefined && (BigInt(`0x${capEff}`) & (1n << 23n)) !== 0n;
    return `CAP_SYS_NICE ${sysNice ? 'held' : 'not held'}, RLIMIT_NICE ${soft('Max nice priority')}, RLIMIT_RTPRIO ${soft('Max realtime priority')}`;
  } catch {
    return 'permissions unknown';
  }
}

/** sched_setattr / sched_getattr numbers per architecture (the generic table for arm64). */
const SCHED_ATTR_SYSCALLS: Readonly<Record<string, { set: number; get: number }>> = {
  x64: { set: 314, get: 315 },
  arm64: { set: 274, get: 275 },
};

/** `struct sched_attr` as the kernel first defined it (SCHED_ATTR_SIZE_VER0), bytes. */
const SCHED_ATTR_SIZE = 48;

/**
 * Asks for a `sliceUs` slice for thread `tid`, keeping SCHED_OTHER and its nice value
 * (`struct sched_attr`: size, policy, flags, nice, priority, runtime = the slice in ns, …).
 * False where the architecture's call is unknown or the kernel refuses.
 */
function setSlice(c: Libc, tid: number, nice: number, sliceUs: number): boolean {
  const nr = SCHED_ATTR_SYSCALLS[process.arch];
  if (nr === undefined || !Number.isFinite(nice)) return false;
  const attr = Buffer.alloc(SCHED_ATTR_SIZE);
  attr.writeUInt32LE(SCHED_ATTR_SIZE, 0);
  attr.writeUInt32LE(SCHED_OTHER, 4);
  attr.writeInt32LE(nice, 16);
  attr.writeBigUInt64LE(BigInt(Math.round(sliceUs * 1000)), 24);
  return Number(c.syscall(nr.set, 'int', tid, 'void *', attr, 'unsigned int', 0)) === 0;
}

/** Thread `tid`'s slice, µs, under SCHED_OTHER; NaN where unknown. */
function sliceOf(c: Libc, tid: number): number {
  const nr = SCHED_ATTR_SYSCALLS[process.arch];
  if (nr === undefined) return NaN;
  const attr = Buffer.alloc(SCHED_ATTR_SIZE);
  if (Number(c.syscall(nr.get, 'int', tid, 'void *', attr, 'unsigned int', SCHED_ATTR_SIZE, 'unsigned int', 0)) !== 0) return NaN;
  if (attr.readUInt32LE(4) !== SCHED_OTHER) return NaN;
  return Number(attr.readBigUInt64LE(24)) / 1000;
}

/** The calling thread's kernel id, or 0 where it cannot be had. */
export function currentThreadId(): number {
  const c = loadLibc();
  return typeof c === 'string' ? 0 : Number(c.gettid());
}

/**
 * Raises the calling thread to `requested` (see {@link ThreadPriority}): `'realtime'` tries
 * SCHED_FIFO at {@link REALTIME_FIFO_PRIORITY}, then falls back to `'high'`; `'high'` sets nice
 * {@link HIGH_PRIORITY_NICE} (under SCHED_OTHER); `'normal'` changes nothing. Never throws; the
 * result says what the thread has now and, when less than asked, why.
 */
export function raiseThreadPriority(requested: ThreadPriority): ThreadPriorityResult {
  const c = loadLibc();
  if (typeof c === 'string') return { requested, applied: 'normal', tid: 0, nice: NaN, policy: 'unknown', sliceUs: NaN, reason: requested === 'normal' ? '' : c };
  const tid = Number(c.gettid());
  const reasons: string[] = [];
  let applied: ThreadPriority = 'normal';
  if (requested === 'realtime') {
    if (Number(c.setscheduler(tid, SCHED_FIFO, Int32Array.of(REALTIME_FIFO_PRIORITY))) === 0) applied = 'realtime';
    else reasons.push(`SCHED_FIFO refused (${permissionText()})`);
  }
  if (requested !== 'normal' && applied === 'normal') {
    if (Number(c.setpriority(PRIO_PROCESS, tid, HIGH_PRIORITY_NICE)) === 0) applied = 'high';
    else reasons.push(`nice ${HIGH_PRIORITY_NICE} refused (${permissionText()})`);
  }
  // a short slice also where the nice value was refused: it needs no privilege
  if (requested !== 'normal' && applied !== 'realtime') setSlice(c, tid, Number(c.getpriority(PRIO_PROCESS, tid)), MEDIA_THREAD_SLICE_US);
  return { requested, applied, tid, ...threadScheduling(c, tid), reason: reasons.join('; ') };
}

/** Puts the calling thread back to SCHED_OTHER at nice 0 where it was raised (tests; a floor's end needs nothing). */
export function resetThreadPriority(): ThreadPriorityResult {
  const c = loadLibc();
  if (typeof c === 'string') return { requested: 'normal', applied: 'normal', tid: 0, nice: NaN, policy: 'unknown', sliceUs: NaN, reason: c };
  const tid = Number(c.gettid());
  c.setscheduler(tid, SCHED_OTHER, Int32Array.of(0));
  c.setpriority(PRIO_PROCESS, tid, 0);
  // runtime 0 gives the thread the kernel's default slice back
  setSlice(c, tid, 0, 0);
  return { requested: 'normal', applied: 'normal', tid, ...threadScheduling(c, tid), reason: '' };
}

/** A thread's nice value, policy name and slice. */
function threadScheduling(c: Libc, tid: number): { nice: number; policy: string; sliceUs: number } {
  const policy = Number(c.getscheduler(tid));
  return { nice: Number(c.getpriority(PRIO_PROCESS, tid)), policy: POLICY_NAMES[policy] ?? `policy ${policy}`, sliceUs: sliceOf(c, tid) };
}
