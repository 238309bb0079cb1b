/**
 * Seeded pseudo-random numbers for tests: reproducible jitter, loss and noise.
 * @module
 */

/** Deterministic 32-bit PRNG (mulberry32): uniform in [0, 1), the same sequence for the same `seed`. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Seeded PRNG (mulberry32, {@link seededRandom} shifted down by one half): uniform in
 * [-0.5, 0.5), the same sequence for the same `seed`.
 */
export function prng(seed: number): () => number {
  const next = seededRandom(seed);
  return () => next() - 0.5;
}
