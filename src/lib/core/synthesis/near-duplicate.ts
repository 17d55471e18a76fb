/**
 * Near-duplicate prompts (METHOD.md §3: pairs are deduplicated).
 *
 * Method choice: exact **Jaccard similarity of word 3-gram shingles** (threshold 0.8), computed
 * directly rather than estimated with MinHash. A run holds at most a few thousand prompts of a
 * few hundred words, so exact sets are cheap and give no false positives from hashing; MinHash
 * would only pay off at corpus scale. Text is lowercased and reduced to letters and digits first,
 * so punctuation and spacing changes do not hide a repeat. Prompts shorter than three words
 * compare by their word sets.
 */

/** Default similarity at or above which two prompts count as near-duplicates. */
export const NEAR_DUPLICATE_THRESHOLD = 0.8;

/** The word n-gram shingles of a text (n = 3; fewer words give one shingle of all of them). */
export function shingles(text: string, n = 3): Set<string> {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const out = new Set<string>();
  if (words.length < n) {
    if (words.length) out.add(words.join(' '));
    return out;
  }
  for (let i = 0; i + n <= words.length; i++) out.add(words.slice(i, i + n).join(' '));
  return out;
}

/** Jaccard similarity of two sets (1 for two empty sets). */
export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (!a.size && !b.size) return 1;
  let common = 0;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  for (const item of small) if (large.has(item)) common++;
  return common / (a.size + b.size - common);
}

/** True when `prompt` is at least `threshold` similar to one of `existing`. */
export function isNearDuplicate(
  prompt: string,
  existing: Iterable<string>,
  threshold = NEAR_DUPLICATE_THRESHOLD,
): boolean {
  const mine = shingles(prompt);
  for (const other of existing) if (jaccard(mine, shingles(other)) >= threshold) return true;
  return false;
}
