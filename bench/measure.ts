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

/**
 * Frames per CPU second of two workloads measured in alternation (slices of `slice` frames, CPU
 * time of this process), so both see the same machine state on a shared, loaded host and
 * other processes' load does not count against either.
 */
export function pairedFramesPerCpuSecond(a: () => void, b: () => void, durationMs: number, slice = 40): [number, number] {
  for (let i = 0; i < 200; i++) {
    a();
    b();
  }
  let ua = 0;
  let ub = 0;
  let na = 0;
  let nb = 0;
  const end = Date.now() + durationMs;
  while (Date.now() < end) {
    let c0 = process.cpuUsage();
    for (let i = 0; i < slice; i++) a();
    let c1 = process.cpuUsage(c0);
    ua += c1.user + c1.system;
    na += slice;
    c0 = process.cpuUsage();
    for (let i = 0; i < slice; i++) b();
    c1 = process.cpuUsage(c0);
    ub += c1.user + c1.system;
    nb += slice;
  }
  return [Math.round(na / (ua / 1e6)), Math.round(nb / (ub / 1e6))];
}

/** Right-aligned table printing. */
export function table(head: string[], rows: string[][]): void {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(w[i]!)).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}
