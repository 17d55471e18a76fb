/**
 * The one string hash of the app, and the seeded generator built on it.
 *
 * Everything deterministic hangs off these functions: instance and scenario sub-seeds, which
 * instance goes to the test split, which pair goes to SFT, eval-set ids, chunk keys. Not
 * cryptographic: they only have to be uniform and give the same answer in the worker, in Node
 * and in a CLI, forever. Changing any of them silently reshuffles every user's seeds, splits
 * and resumable chunk keys, so treat the algorithms as part of the file formats — the golden
 * values in tests/unit/core/hash.test.ts must never change.
 */

/** Raw 32-bit FNV-1a over the UTF-16 code units of `text` (no finaliser). */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** {@link fnv1a32} as 8 hex digits: a fast, stable content fingerprint (chunk keys). */
export function fnv1aHex(text: string): string {
  return fnv1a32(text).toString(16).padStart(8, '0');
}

/**
 * A 32-bit unsigned hash of a string: FNV-1a finished with MurmurHash3's `fmix32` avalanche, so
 * that short labels differing in one character land far apart.
 */
export function hashString(text: string): number {
  return fmix32(fnv1a32(text));
}

/** A uniform number in [0, 1) determined by `seed` and `key` alone. */
export function unitHash(seed: number | string, key: string): number {
  return hashString(`${String(seed)}\u0000${key}`) / 0x1_0000_0000;
}

/** A uniform number generator in [0, 1). */
export type RandomSource = () => number;

/**
 * The mulberry32 generator seeded with the low 32 bits of `seed`: a 32-bit state, one
 * multiply-xorshift round per draw; tiny, fast and identical in every JS engine.
 */
export function mulberry32(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}

/** MurmurHash3's finaliser: a cheap, well-mixed permutation of 32-bit values. */
export function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
