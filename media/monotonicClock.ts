/**
 * The media threads' clock for per-packet timing: `performance.now()` milliseconds, read
 * without allocating. `performance.now()` is a native call whose result comes back as a fresh
 * heap number, about 16 bytes of garbage per RTP packet timed; where libc is bound through koffi (the
 * native UDP transport's functions, ffi/udp.ts), `clock_gettime(CLOCK_MONOTONIC)` into a buffer
 * made once gives the same clock (Node's hrtime is CLOCK_MONOTONIC) at a fixed offset.
 * @module
 */
import { nativeAddressNumber } from '../ffi/loader.js';
import { LINUX, libcUdp, type LibcUdp } from '../ffi/udp.js';

/**
 * timespec { tv_sec, tv_nsec }: two 64-bit words; both fit their low 32 bits here. Over an
 * ArrayBuffer of its own: libc keeps its address, and a small `Buffer.alloc` may live in V8's heap.
 */
const timespec = Buffer.from(new ArrayBuffer(16));
const words = new Uint32Array(timespec.buffer, timespec.byteOffset, 4);
/** `timespec`'s address, read when libc is first bound (libc is handed a number: ffi/udp.ts). */
let timespecAt = 0;
/** libc once probed (null: not yet), or false where it is not bound. */
let libc: LibcUdp | false | null = null;
/** performance.now() minus the monotonic clock, ms. */
let offset = 0;

function monotonicMs(c: LibcUdp): number {
  c.clockGettime(LINUX.CLOCK_MONOTONIC, timespecAt);
  return words[0]! * 1000 + words[2]! / 1e6;
}

function probe(): LibcUdp | false {
  const c = libcUdp();
  if (typeof c === 'string') return false;
  timespecAt = nativeAddressNumber(timespec);
  // the offset from the closest of a few bracketed readings
  let best = Infinity;
  for (let i = 0; i < 20; i++) {
    const before = performance.now();
    const mono = monotonicMs(c);
    const after = performance.now();
    if (after - before < best) {
      best = after - before;
      offset = (before + after) / 2 - mono;
    }
  }
  return c;
}

/** Now, in `performance.now()` milliseconds, allocating nothing where libc is bound. */
export function mediaNowMs(): number {
  const c = libc ?? (libc = probe());
  return c === false ? performance.now() : monotonicMs(c) + offset;
}
