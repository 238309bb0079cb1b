/**
 * Small helpers for looking at an engine from a test: polling a condition until it holds.
 * (Notification data needs no helper: `n.data` has each event's own type.)
 * @module
 */
import { sleep } from './engine.js';

/**
 * Polls `cond` every 50 ms until it holds; resolves true then, or with its last value once
 * `timeoutMs` has passed.
 */
export async function until(cond: () => boolean, timeoutMs = 10000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(50);
  }
  return cond();
}
