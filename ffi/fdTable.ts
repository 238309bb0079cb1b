/**
 * The process's file-descriptor table, grown once ahead of need (Linux, libc through koffi).
 *
 * Linux doubles a process's descriptor table when a new descriptor does not fit, and in a process
 * with more than one thread (every Node process) each growth waits for an RCU grace period with
 * the opening thread blocked: 5–20 ms measured here. A media floor binding RTP sockets during a
 * set-up storm crossed 512 and 1 024 descriptors that way, and every call on the floor lost that
 * long from its packet timing (bench:calls e). Growing the table once when the engine starts, to
 * what its RTP range can hold open, pays that wait before any call exists.
 * @module
 */
import fs from 'node:fs';
import { libcBinder } from './loader.js';
import { openFilesLimit } from './processLimits.js';

/** `fcntl` command: duplicate to the lowest free descriptor at or above the argument. */
const F_DUPFD = 0;

/** What {@link reserveFileDescriptors} did. */
export type FdReservation =
  /** The table now holds at least `descriptors` entries (descriptors 0 … descriptors − 1). */
  | { ok: true; descriptors: number }
  /** Nothing was done, and why (not Linux, libc unavailable, the call refused). */
  | { ok: false; reason: string };

/** libc's `fcntl`, or why it is unavailable (bound once). */
const bindFcntl = libcBinder('libc lacks fcntl', (lib) => lib.func('int fcntl(int fd, int cmd, ...)'));

/**
 * Grows the descriptor table to hold `count` descriptors (at most the soft open-files limit), by
 * duplicating a descriptor to number `count − 1` and closing it again: the table never shrinks.
 * Costs one growth wait when the table is smaller, nothing otherwise. Never throws.
 */
export function reserveFileDescriptors(count: number): FdReservation {
  if (process.platform !== 'linux') return { ok: false, reason: `the descriptor table is grown ahead on Linux only (this is ${process.platform})` };
  const f = bindFcntl();
  if (typeof f === 'string') return { ok: false, reason: f };
  const limit = openFilesLimit();
  const top = Math.min(Math.floor(count), limit === null ? Number.MAX_SAFE_INTEGER : limit) - 1;
  if (!(top > 0)) return { ok: false, reason: `nothing to reserve (${count} descriptors asked, limit ${limit ?? 'unknown'})` };
  let fd = -1;
  let high = -1;
  try {
    fd = fs.openSync('/dev/null', 'r');
    high = f(fd, F_DUPFD, 'int', top) as number;
    return high >= 0 ? { ok: true, descriptors: top + 1 } : { ok: false, reason: `fcntl(F_DUPFD, ${top}) failed` };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  } finally {
    if (high >= 0) fs.closeSync(high);
    if (fd >= 0) fs.closeSync(fd);
  }
}
