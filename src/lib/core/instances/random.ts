/**
 * Seeded randomness for everything the method samples (METHOD.md §2: "every choice is seeded and
 * reproducible"). No `Math.random` anywhere in instantiation or synthesis.
 *
 * Method choices (the paper names no generator):
 * - **mulberry32**: a 32-bit state, one multiply-xorshift round per draw. Tiny, fast, good enough
 *   for sampling (not for cryptography), and identical in every JS engine.
 * - **Sub-seeds by hashing a path** (`subSeed(seed, 'instance', 3)`): every decision gets its own
 *   stream, derived from the run seed plus a label, instead of drawing from one shared stream.
 *   Adding a draw in one place then never shifts the choices made elsewhere, and a resumed task
 *   re-derives exactly the seed it would have had, without checkpointing generator state.
 * - Strings hash with **FNV-1a (32-bit)** followed by a murmur3 finaliser, so that short labels
 *   that differ in one character still give unrelated seeds.
 */

import { hashString, mulberry32, type RandomSource } from '../hash';

/** A seed for one labelled decision: the same `seed` and `parts` always give the same number. */
export function subSeed(seed: number, ...parts: readonly (string | number)[]): number {
  return hashString(`${seed >>> 0}\u0000${parts.map(String).join('\u0000')}`);
}

/** A seeded generator with the draws sampling needs. */
export class Rng {
  readonly #next: RandomSource;

  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }

  /** A uniform number in [0, 1). */
  next(): number {
    return this.#next();
  }

  /** A uniform integer in [0, n). `n` must be a positive integer. */
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }

  /** A uniform integer in [min, max] (both inclusive). */
  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  /** One element, uniformly; undefined for an empty list. */
  pick<T>(items: readonly T[]): T | undefined {
    return items.length ? items[this.int(items.length)] : undefined;
  }

  /** A shuffled copy (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }

  /** An index drawn with probability proportional to `weights` (non-positive weights never win). */
  weighted(weights: readonly number[]): number {
    const total = weights.reduce((sum, w) => sum + Math.max(0, w), 0);
    if (total <= 0) return -1;
    let r = this.#next() * total;
    for (const [i, w] of weights.entries()) {
      if (w <= 0) continue;
      r -= w;
      if (r < 0) return i;
    }
    return weights.findLastIndex((w) => w > 0);
  }
}
