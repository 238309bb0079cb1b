/**
 * Output silencing: PortAudio probes every ALSA PCM it can find when it initialises, and on a
 * machine without sound cards ALSA prints dozens of `ALSA lib …` lines on stderr; naudiodon
 * also `printf`s on stdout. {@link silenced} runs a synchronous call into native code with the
 * process's stdout and stderr pointed at `/dev/null` (libc's `dup2`, bound with koffi; Linux
 * and macOS). No JavaScript runs while the descriptors are redirected, so nothing the
 * application itself writes is lost.
 * @module
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';


interface Libc {
  dup: (fd: number) => number;
  dup2: (fd: number, fd2: number) => number;
  close: (fd: number) => number;
  fflush: (stream: null) => number;
}

let libc: Libc | null | undefined;

/** libc's descriptor functions through koffi, loaded once; null where unavailable. */
function getLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  const names = process.platform === 'linux' ? ['libc.so.6', 'libc.so'] : process.platform === 'darwin' ? ['libSystem.B.dylib'] : [];
  if (names.length === 0) return libc;
  try {
    const req = createRequire(import.meta.url);
    type Fn = (...args: unknown[]) => unknown;
    type Lib = { func(proto: string): Fn };
    const mod = req('koffi') as { load?: (p: string) => Lib; default?: { load: (p: string) => Lib } };
    const load = mod.load ?? mod.default?.load;
    if (load === undefined) return libc;
    for (const name of names) {
      try {
        const lib = load(name);
        const dup = lib.func('int dup(int fd)');
        const dup2 = lib.func('int dup2(int fd, int fd2)');
        const close = lib.func('int close(int fd)');
        const fflush = lib.func('int fflush(void *stream)');
        libc = {
          dup: (fd) => dup(fd) as number,
          dup2: (a, b) => dup2(a, b) as number,
          close: (fd) => close(fd) as number,
          fflush: (s) => fflush(s) as number,
        };
        break;
      } catch {
        // try the next name
      }
    }
  } catch {
    libc = null;
  }
  return libc;
}

/**
 * Run `fn` (synchronous) with file descriptors 1 and 2 pointed at `/dev/null`, flushing C stdio
 * before and after, so that what native code prints meanwhile is dropped. No JavaScript runs
 * while the descriptors are redirected. Falls back to plain `fn()` when libc cannot be bound or
 * `enabled` is false.
 */
export function silenced<T>(enabled: boolean, fn: () => T): T {
  const c = enabled ? getLibc() : null;
  if (c === null) return fn();
  let devnull = -1;
  let out = -1;
  let err = -1;
  try {
    devnull = fs.openSync('/dev/null', 'w');
    c.fflush(null);
    out = c.dup(1);
    err = c.dup(2);
  } catch {
    // fall through with whatever was obtained
  }
  if (devnull < 0 || out < 0 || err < 0) {
    if (out >= 0) c.close(out);
    if (err >= 0) c.close(err);
    if (devnull >= 0) fs.closeSync(devnull);
    return fn();
  }
  c.dup2(devnull, 1);
  c.dup2(devnull, 2);
  try {
    return fn();
  } finally {
    c.fflush(null);
    c.dup2(out, 1);
    c.dup2(err, 2);
    c.close(out);
    c.close(err);
    fs.closeSync(devnull);
  }
}
