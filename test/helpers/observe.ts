/**
 * Small helpers for looking at an engine from a test: a notification's data as a plain record,
 * and polling a condition until it holds.
 * @module
 */
import { sleep } from './engine.js';

/** A notification's data, read as a plain record. */
export type NotificationData = Record<string, unknown>;

/** The `data` of a notification as a plain record (empty when it has none). */
export const data = (n: { data?: object }): NotificationData => (n.data ?? {}) as NotificationData;

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
