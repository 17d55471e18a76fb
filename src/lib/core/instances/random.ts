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

/** A uniform number generator in [0, 1). */
export type RandomSource = () => number;

/** The mulberry32 generator seeded with the low 32 bits of `seed`. */
export function mulberry32(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit unsigned hash of a string (FNV-1a with a murmur3 finaliser). */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/** A seed for one labelled decision: the same `seed` and `parts` always give the same number. */
export function subSeed(seed: number, ...parts: readonly (string | number)[]): number {
  return hashString(`${seed >>> 0}\u0000${parts.map(String).join('\u0000')}`);
}

function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
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
