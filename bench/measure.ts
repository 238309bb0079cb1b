/**
 * Throughput measurement shared by the frame benchmarks.
 * @module
 */

/** Frames per second of `fn` (one frame per call) over about `durationMs`, after a warm-up. */
export function framesPerSecond(fn: () => void, durationMs: number): number {
  const warm = Date.now() + Math.min(300, durationMs / 4);
  while (Date.now() < warm) for (let i = 0; i < 50; i++) fn();
  let n = 0;
  const start = process.hrtime.bigint();
  const limit = BigInt(Math.round(durationMs * 1e6));
  let elapsed = 0n;
  while (elapsed < limit) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
    elapsed = process.hrtime.bigint() - start;
  }
  return Math.round(n / (Number(elapsed) / 1e9));
}
