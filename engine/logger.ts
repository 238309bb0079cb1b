/**
 * The engine's diagnostics logger: an injected pino logger (`logger` option), else one default
 * that writes warnings and errors as JSON lines to standard error. A library should be quiet
 * while all is well, and never quiet about a fault: the default level is `warn`, so only
 * problems (a handler that threw, a request the engine could not handle) are written.
 * @module
 */
import { pino, type Logger } from 'pino';

let fallback: Logger | undefined;

/**
 * The logger used when the application gives none, created on first use (an engine that never
 * has anything to report opens nothing). Synchronous writes: these lines are rare, and one
 * written just before a crash must not be lost in a buffer.
 */
export function defaultLogger(): Logger {
  fallback ??= pino({ level: 'warn', base: { component: 'linescape' } }, pino.destination({ dest: 2, sync: true }));
  return fallback;
}

/** True when `x` looks like a pino logger (the methods the engine calls). */
export function isLogger(x: unknown): x is Logger {
  if (x === null || typeof x !== 'object') return false;
  const l = x as Record<string, unknown>;
  return ['error', 'warn', 'info', 'debug', 'child'].every((m) => typeof l[m] === 'function');
}

/**
 * True for 1, 2, 4, 8 ...: a fault that repeats per packet or per tick is logged on those
 * counts only, so the log shows it started and that it goes on, without one line per packet.
 */
export function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}
