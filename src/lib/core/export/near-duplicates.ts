/**
 * Near-duplicate prompts across a whole project (every run), at export time (METHOD.md §3: pairs
 * are deduplicated). Synthesis already drops a repeat within one run by exact Jaccard
 * (`core/synthesis/near-duplicate.ts`); two runs over the same instances still write the same
 * query twice, and at 100k pairs exact all-pairs Jaccard is 5·10⁹ comparisons. So:
 *
 * **Method: MinHash + locality-sensitive hashing, pure TS, deterministic.**
 * - Shingles: the same word 3-grams as the in-run check (lowercased letters and digits), so both
 *   checks agree on what "the same query" means. The text is the conversation turns only: the
 *   system prompt is the instance, and different instances asking the same thing still teach
 *   the same query twice.
 * - Signature (for finding candidates only): 120 min-hashes, each the minimum over the shingles
 *   of a seeded permutation of the shingle's hash, with fixed seeds (never the export seed:
 *   which pairs are duplicates must not change with the split). Only its 20 band keys are kept.
 * - Banding: 20 bands × 6 rows. Two prompts become candidates when one band agrees entirely:
 *   P = 1 − (1 − J⁶)²⁰, i.e. 0.998 at Jaccard 0.8, 0.27 at 0.5, 0.015 at 0.3. So nearly every
 *   pair at the threshold is compared, while template-like queries (J ≈ 0.3 is common for
 *   "Can you help me…" prompts) rarely are. 32 × 4 would catch as much at 0.8 but makes most
 *   J ≈ 0.3 pairs candidates; 16 × 8 misses 5 % at 0.8.
 * - Decision (verification): a candidate is a duplicate when the Jaccard similarity of the two
 *   shingle sets is ≥ threshold (default 0.8, as in synthesis), computed from each item's
 *   bottom-128 sketch (its 128 smallest shingle hashes). That is **exact** while two prompts have
 *   at most 128 distinct shingles together (two prompts of about 60 words: most attack
 *   queries), and an unbiased estimate with a standard error of ≈ 0.035 at J = 0.8 beyond. So
 *   the only misses below that size are LSH's (0.2 % at J = 0.8, fewer above), and there are no
 *   false positives (bench: 100 % of planted copies at J ≥ 0.85 caught over 100k prompts). A
 *   MinHash estimate from the 120 values (σ ≈ 0.037 at 0.8) would decide pairs near the
 *   threshold by chance; whole shingle sets would make memory grow with prompt length.
 * - Which one stays: the earliest (items are added in creation order); a later item is a
 *   duplicate when it matches an earlier item that was **kept**, so a chain A ≈ B ≈ C with A ≉ C
 *   keeps A and C.
 * Cost: O(n · shingles · 120) hashing plus one sort per band; memory per item: band keys 80 B,
 * sketch ≤ 512 B (4 B per shingle up to 128), and 160 B while resolving.
 * No npm package fits: `bloom-filters` has MinHash without LSH banding, `minhash` (0.0.x) is
 * unmaintained; neither verifies candidates exactly or decides which copy stays.
 */
import { fmix32, hashString } from '../hash';
import { NEAR_DUPLICATE_THRESHOLD } from '../synthesis/near-duplicate';

/** Min-hashes per signature (`BANDS × ROWS`). */
export const MINHASH_PERMUTATIONS = 120;
/** LSH bands. */
export const LSH_BANDS = 20;
/** Min-hashes per band. */
export const LSH_ROWS = 6;
/** The default Jaccard threshold, shared with the in-run check. */
export const CROSS_RUN_THRESHOLD = NEAR_DUPLICATE_THRESHOLD;

/** Shingle hashes kept per item for verification (bottom-k sketch). */
export const SKETCH_SIZE = 128;

/** Items one index can hold: item numbers are packed next to 32-bit band keys in a double. */
const MAX_ITEMS = 2 ** 21;

/** The fixed per-permutation seeds (a seeded generator would do; constants keep it obvious). */
const SEEDS: Uint32Array = (() => {
  const seeds = new Uint32Array(MINHASH_PERMUTATIONS);
  for (let i = 0; i < seeds.length; i++) seeds[i] = hashString(`minhash:${i}`);
  return seeds;
})();

/** Odd multipliers, one per permutation. */
const MULTIPLIERS: Uint32Array = (() => {
  const odds = new Uint32Array(MINHASH_PERMUTATIONS);
  for (let i = 0; i < odds.length; i++) odds[i] = hashString(`minhash-odd:${i}`) | 1;
  return odds;
})();

const WORD = /[\p{L}\p{N}]+/gu;

/**
 * 32-bit hashes of a text's shingles: the words of `shingles()` in core/synthesis (lowercased
 * runs of letters and digits), three at a time, or one shingle of all words when there are fewer
 * than three. Each word is hashed once and a 3-gram's hash is chained from its words' hashes,
 * so no shingle string is built (4× faster than hashing joined strings). Repeats are harmless:
 * a minimum does not care.
 */
export function shingleHashes(text: string): number[] {
  const words = text.toLowerCase().match(WORD);
  if (!words) return [];
  if (words.length < 3) return [hashString(words.join(' '))];
  const wordHashes = words.map(hashString);
  const out: number[] = [];
  for (let i = 0; i + 2 < wordHashes.length; i++)
    out.push(
      fmix32(
        fmix32(fmix32((wordHashes[i] as number) ^ 0x9e3779b9) ^ (wordHashes[i + 1] as number)) ^
          (wordHashes[i + 2] as number),
      ),
    );
  return out;
}

/**
 * The MinHash signature of a set of shingle hashes (see {@link shingleHashes}).
 *
 * Permutation p of a shingle hash h is `(h ⊕ seedₚ) × oddₚ`, then xor-shifted: a bijection of
 * 32-bit values, so min-hashes of well-mixed inputs (`h` is already avalanched) stay uniform,
 * at 4 operations instead of a full finaliser per permutation.
 */
export function minHashSignature(hashes: readonly number[]): Uint32Array {
  const sig = new Uint32Array(MINHASH_PERMUTATIONS).fill(0xffffffff);
  const seeds = SEEDS;
  const odds = MULTIPLIERS;
  for (const h of hashes) {
    for (let p = 0; p < MINHASH_PERMUTATIONS; p++) {
      let v = Math.imul(h ^ (seeds[p] as number), odds[p] as number);
      v = (v ^ (v >>> 15)) >>> 0;
      if (v < (sig[p] as number)) sig[p] = v;
    }
  }
  return sig;
}

/** The `SKETCH_SIZE` smallest distinct shingle hashes, ascending (all of them for short texts). */
export function bottomSketch(hashes: readonly number[]): Uint32Array {
  const sorted = Uint32Array.from(hashes).sort();
  const out = new Uint32Array(Math.min(SKETCH_SIZE, sorted.length));
  let n = 0;
  for (let i = 0; i < sorted.length && n < out.length; i++)
    if (i === 0 || sorted[i] !== sorted[i - 1]) out[n++] = sorted[i] as number;
  return out.subarray(0, n);
}

/** What {@link NearDuplicateIndex.resolve} found. */
export interface DuplicateResult {
  /** Per item: the number of the earlier kept item it repeats, or -1 when it is kept. */
  duplicateOf: Int32Array;
  /** Items marked as duplicates. */
  duplicates: number;
  /** Candidate comparisons made (for the benchmark: the naive method makes n(n−1)/2). */
  comparisons: number;
}

/**
 * Collects texts (in the order that decides which copy stays), then finds near-duplicates with
 * MinHash + LSH (see the module comment).
 */
export class NearDuplicateIndex {
  readonly threshold: number;
  #count = 0;
  #capacity: number;
  /** One 32-bit key per band per item. */
  #bands: Uint32Array;
  /** 1 when the item has shingles (a text with words). */
  #present: Uint8Array;
  /** Bottom-k sketches of all items, back to back; item i is `#sketches[#start[i] .. #start[i+1])`. */
  #sketches: Uint32Array;
  #start: Uint32Array;

  constructor(threshold = CROSS_RUN_THRESHOLD, capacity = 1024) {
    if (!(threshold > 0 && threshold <= 1))
      throw new RangeError(
        `The near-duplicate threshold must be above 0 and at most 1 (got ${threshold}).`,
      );
    this.threshold = threshold;
    this.#capacity = Math.max(1, capacity);
    this.#bands = new Uint32Array(this.#capacity * LSH_BANDS);
    this.#present = new Uint8Array(this.#capacity);
    this.#start = new Uint32Array(this.#capacity + 1);
    this.#sketches = new Uint32Array(this.#capacity * 64);
  }

  /** Items added so far. */
  get size(): number {
    return this.#count;
  }

  /** Adds a text; returns its item number (0, 1, 2… in the order added). */
  add(text: string): number {
    return this.addShingles(shingleHashes(text));
  }

  /** Adds an item by its shingle hashes (none: a text without words, never a duplicate). */
  addShingles(hashes: readonly number[]): number {
    if (this.#count >= MAX_ITEMS)
      throw new RangeError(`One near-duplicate pass holds at most ${MAX_ITEMS} items.`);
    if (this.#count === this.#capacity) this.#grow();
    const item = this.#count++;
    const begin = this.#start[item] as number;
    if (hashes.length === 0) {
      this.#start[item + 1] = begin;
      return item;
    }
    this.#present[item] = 1;
    const sketch = bottomSketch(hashes);
    if (begin + sketch.length > this.#sketches.length) {
      const bigger = new Uint32Array(Math.max(2 * this.#sketches.length, begin + sketch.length));
      bigger.set(this.#sketches);
      this.#sketches = bigger;
    }
    this.#sketches.set(sketch, begin);
    this.#start[item + 1] = begin + sketch.length;
    const sig = minHashSignature(hashes);
    for (let b = 0; b < LSH_BANDS; b++) {
      let h = 0x811c9dc5 ^ b;
      for (let r = 0; r < LSH_ROWS; r++) h = fmix32(h ^ (sig[b * LSH_ROWS + r] as number));
      this.#bands[item * LSH_BANDS + b] = h;
    }
    return item;
  }

  #grow(): void {
    const capacity = Math.min(MAX_ITEMS, this.#capacity * 2);
    const bands = new Uint32Array(capacity * LSH_BANDS);
    bands.set(this.#bands);
    const present = new Uint8Array(capacity);
    present.set(this.#present);
    const start = new Uint32Array(capacity + 1);
    start.set(this.#start);
    this.#bands = bands;
    this.#present = present;
    this.#start = start;
    this.#capacity = capacity;
  }

  /**
   * Jaccard similarity of two items from their bottom-k sketches: of the k smallest hashes of
   * the union, the share in both. Exact when the two texts have at most k shingles together
   * distinct (the sketches are then the whole sets); an unbiased estimate beyond.
   */
  similarity(a: number, b: number): number {
    const sk = this.#sketches;
    let i = this.#start[a] as number;
    let j = this.#start[b] as number;
    const endA = this.#start[a + 1] as number;
    const endB = this.#start[b + 1] as number;
    let seen = 0;
    let common = 0;
    while (seen < SKETCH_SIZE && (i < endA || j < endB)) {
      const x = i < endA ? (sk[i] as number) : Infinity;
      const y = j < endB ? (sk[j] as number) : Infinity;
      if (x === y) {
        common++;
        i++;
        j++;
      } else if (x < y) i++;
      else j++;
      seen++;
    }
    return seen === 0 ? 1 : common / seen;
  }

  /**
   * Decides every item: kept, or a duplicate of an earlier kept item. Per band, items are sorted
   * by band key (a stable group id per item); then, in item order, each item is compared with
   * the kept items of its groups, each at most once, until one is similar enough.
   */
  resolve(): DuplicateResult {
    const n = this.#count;
    const duplicateOf = new Int32Array(n).fill(-1);
    // groupOf[b * n + i]: item i's group in band b (-1: no signature).
    const groupOf = new Int32Array(n * LSH_BANDS);
    const keys = new Float64Array(n);
    let groupsTotal = 0;
    for (let b = 0; b < LSH_BANDS; b++) {
      let m = 0;
      for (let i = 0; i < n; i++)
        if (this.#present[i])
          keys[m++] = (this.#bands[i * LSH_BANDS + b] as number) * MAX_ITEMS + i;
      const sorted = keys.subarray(0, m).sort();
      let group = -1;
      let lastKey = -1;
      for (let p = 0; p < m; p++) {
        const packed = sorted[p] as number;
        const key = Math.floor(packed / MAX_ITEMS);
        if (key !== lastKey) {
          group++;
          lastKey = key;
        }
        groupOf[b * n + (packed - key * MAX_ITEMS)] = groupsTotal + group;
      }
      for (let i = 0; i < n; i++) if (!this.#present[i]) groupOf[b * n + i] = -1;
      groupsTotal += group + 1;
    }
    // Kept items per group as linked lists: head[g] is the latest kept item of group g and
    // next[b * n + i] the kept item before i in i's group of band b.
    const head = new Int32Array(groupsTotal).fill(-1);
    const next = new Int32Array(n * LSH_BANDS).fill(-1);
    const checkedBy = new Int32Array(n).fill(-1);
    let comparisons = 0;
    let duplicates = 0;
    for (let i = 0; i < n; i++) {
      if (!this.#present[i]) continue;
      let match = -1;
      for (let b = 0; b < LSH_BANDS && match < 0; b++) {
        for (let j = head[groupOf[b * n + i] as number] as number; j >= 0;) {
          if (checkedBy[j] !== i) {
            checkedBy[j] = i;
            comparisons++;
            if (this.similarity(i, j) >= this.threshold) {
              match = j;
              break;
            }
          }
          j = next[b * n + j] as number;
        }
      }
      if (match >= 0) {
        duplicateOf[i] = match;
        duplicates++;
        continue;
      }
      for (let b = 0; b < LSH_BANDS; b++) {
        const g = groupOf[b * n + i] as number;
        next[b * n + i] = head[g] as number;
        head[g] = i;
      }
    }
    return { duplicateOf, duplicates, comparisons };
  }
}
