/**
 * A seeded noise source for signal tests.
 * @module
 */
import { seededRandom } from '../../sip/util.js';

/**
 * Seeded PRNG (mulberry32, {@link seededRandom} shifted down by one half): uniform in
 * [-0.5, 0.5), the same sequence for the same `seed`.
 */
export function prng(seed: number): () => number {
  const next = seededRandom(seed);
  return () => next() - 0.5;
}
