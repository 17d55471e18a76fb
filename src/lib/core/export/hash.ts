/**
 * Stable, platform-independent hashing for deterministic export decisions (which instance goes
 * to the test split, which pair goes to SFT). Not cryptographic: it only has to be uniform and
 * give the same answer in the worker, in Node and in a CLI, forever — changing it reshuffles
 * every user's splits, so treat the algorithm as part of the file formats.
 */

/**
 * 32-bit FNV-1a over the UTF-16 code units of `text`, finished with MurmurHash3's `fmix32`
 * avalanche so that ids differing in one character land far apart.
 */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A uniform number in [0, 1) determined by `seed` and `key` alone. */
export function unitHash(seed: number | string, key: string): number {
  return hashString(`${String(seed)}\u0000${key}`) / 0x1_0000_0000;
}

/**
 * A small seeded PRNG (mulberry32): uniform in [0, 1). Used for reservoir sampling, where the
 * statistics must be reproducible for the same data.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}
