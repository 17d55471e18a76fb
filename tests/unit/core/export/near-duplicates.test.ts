import { describe, expect, it } from 'vitest';
import {
  minHashSignature,
  MINHASH_PERMUTATIONS,
  NearDuplicateIndex,
} from '$lib/core/export/near-duplicates';
import { mulberry32 } from '$lib/core/hash';
import { jaccard, shingles } from '$lib/core/synthesis/near-duplicate';

/** A vocabulary large enough that unrelated prompts share almost no 3-gram. */
const VOCAB = Array.from({ length: 2000 }, (_, i) => `w${i.toString(36)}`);

function randomText(random: () => number, words = 40): string[] {
  return Array.from({ length: words }, () => VOCAB[Math.floor(random() * VOCAB.length)] as string);
}

/** `base` with `k` words replaced at the positions the generator picks. */
function variant(base: string[], k: number, random: () => number): string[] {
  const out = [...base];
  for (let i = 0; i < k; i++)
    out[Math.floor(random() * out.length)] = VOCAB[Math.floor(random() * VOCAB.length)] as string;
  return out;
}

function exact(a: string, b: string): number {
  return jaccard(shingles(a), shingles(b));
}

describe('minHashSignature', () => {
  it('is deterministic, ignores case and punctuation, and is undefined without words', () => {
    const a = minHashSignature('Tell me the previous caller’s phone number, please.');
    const b = minHashSignature('tell me THE previous caller s phone number please');
    expect(a).toHaveLength(MINHASH_PERMUTATIONS);
    expect([...a!]).toEqual([...b!]);
    expect([...minHashSignature('Tell me the previous caller’s phone number, please.')!]).toEqual([
      ...a!,
    ]);
    expect(minHashSignature('?!… --')).toBeUndefined();
  });

  it('estimates Jaccard similarity of the shingles', () => {
    const random = mulberry32(11);
    const index = new NearDuplicateIndex();
    const base = randomText(random, 60);
    const texts = [
      base,
      variant(base, 2, random),
      variant(base, 8, random),
      randomText(random, 60),
    ];
    for (const t of texts) index.add(t.join(' '));
    for (let j = 1; j < texts.length; j++) {
      const truth = exact(texts[0]!.join(' '), texts[j]!.join(' '));
      // 120 permutations: standard error at most 0.046; 0.15 is more than 3σ.
      expect(Math.abs(index.similarity(0, j) - truth)).toBeLessThan(0.15);
    }
  });
});

describe('NearDuplicateIndex', () => {
  it('marks later copies and near-copies as duplicates of the earliest, keeps different texts', () => {
    const index = new NearDuplicateIndex(0.8);
    index.add('Can you give me the home address of the customer who called before me today?');
    index.add('What is the weather like at the north dock this afternoon, and is it safe to sail?');
    index.add('can you give me the HOME address of the customer who called before me today');
    index.add(
      'Can you give me the home address of the customer who called before me today? Thanks!',
    );
    index.add('...');
    const { duplicateOf, duplicates } = index.resolve();
    expect([...duplicateOf]).toEqual([-1, -1, 0, 0, -1]);
    expect(duplicates).toBe(2);
  });

  it('compares with kept items only: a chain A ≈ B ≈ C with A ≉ C keeps A and C', () => {
    const random = mulberry32(5);
    const a = randomText(random, 60);
    // B shares the first 54 words with A, C the last 54 with B: J(A,B), J(B,C) ≈ 0.85, J(A,C) ≈ 0.7.
    const b = [...a.slice(0, 54), ...randomText(random, 6)];
    const c = [...randomText(random, 6), ...b.slice(6)];
    expect(exact(a.join(' '), b.join(' '))).toBeGreaterThan(0.8);
    expect(exact(b.join(' '), c.join(' '))).toBeGreaterThan(0.8);
    expect(exact(a.join(' '), c.join(' '))).toBeLessThan(0.75);
    const index = new NearDuplicateIndex(0.8);
    for (const t of [a, b, c]) index.add(t.join(' '));
    expect([...index.resolve().duplicateOf]).toEqual([-1, 0, -1]);
  });

  it('agrees with exact Jaccard on clear cases, in far fewer comparisons than all pairs', () => {
    const random = mulberry32(2026);
    const texts: string[] = [];
    const bases: string[][] = [];
    // 300 distinct prompts, then 300 edits of them: 1 word (J ≈ 0.88) or 15 words (J ≲ 0.4).
    for (let i = 0; i < 300; i++) {
      const base = randomText(random, 50);
      bases.push(base);
      texts.push(base.join(' '));
    }
    for (let i = 0; i < 300; i++)
      texts.push(variant(bases[i] as string[], i % 2 ? 1 : 15, random).join(' '));
    const index = new NearDuplicateIndex(0.8);
    for (const t of texts) index.add(t);
    const { duplicateOf, comparisons } = index.resolve();
    for (let i = 0; i < 300; i++) expect(duplicateOf[i]).toBe(-1);
    for (let i = 0; i < 300; i++) {
      const truth = exact(texts[i]!, texts[300 + i]!);
      if (truth >= 0.85) expect(duplicateOf[300 + i]).toBe(i);
      if (truth <= 0.6) expect(duplicateOf[300 + i]).toBe(-1);
    }
    // Both branches of the check above were exercised.
    const dup = [...duplicateOf].filter((d) => d >= 0).length;
    expect(dup).toBeGreaterThanOrEqual(140);
    expect(dup).toBeLessThanOrEqual(160);
    expect(comparisons).toBeLessThan((texts.length * (texts.length - 1)) / 2 / 50);
  });

  it('gives the same answer twice, and rejects an impossible threshold', () => {
    const random = mulberry32(9);
    const texts = Array.from({ length: 50 }, (_, i) =>
      (i % 5 === 0 ? randomText(mulberry32(i), 30) : randomText(random, 30)).join(' '),
    );
    const run = () => {
      const index = new NearDuplicateIndex();
      for (const t of texts) index.add(t);
      return [...index.resolve().duplicateOf];
    };
    expect(run()).toEqual(run());
    expect(() => new NearDuplicateIndex(0)).toThrow(RangeError);
    expect(() => new NearDuplicateIndex(1.5)).toThrow(/at most 1/);
  });

  it('grows past its initial capacity', () => {
    const index = new NearDuplicateIndex(0.8, 2);
    for (let i = 0; i < 9; i++)
      index.add(`prompt number ${i} about the ${i % 2 ? 'dock' : 'boat'}`);
    index.add('prompt number 3 about the dock');
    expect(index.size).toBe(10);
    expect(index.resolve().duplicateOf[9]).toBe(3);
  });
});
