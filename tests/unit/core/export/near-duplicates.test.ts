import { describe, expect, it } from 'vitest';
import { NearDuplicateIndex, shingleHashes, SKETCH_SIZE } from '$lib/core/export/near-duplicates';
import { hashString, mulberry32 } from '$lib/core/hash';
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

describe('shingle hashes and similarity', () => {
  it('are deterministic, ignore case and punctuation, and are empty without words', () => {
    const a = shingleHashes('Tell me the previous caller’s phone number, please.');
    expect(a).toHaveLength(7); // 9 words → 7 word 3-grams, as shingles() counts them
    expect(shingleHashes('tell me THE previous caller s phone number please')).toEqual(a);
    expect(shingleHashes('two words')).toHaveLength(1);
    expect(shingleHashes('?!… --')).toEqual([]);
  });

  it('is the exact Jaccard similarity for prompts of up to about 60 words each', () => {
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
    for (let j = 1; j < texts.length; j++)
      expect(index.similarity(0, j)).toBeCloseTo(
        exact(texts[0]!.join(' '), texts[j]!.join(' ')),
        12,
      );
  });

  it('estimates it for long prompts from the 128 smallest hashes', () => {
    expect(SKETCH_SIZE).toBe(128);
    const random = mulberry32(12);
    const index = new NearDuplicateIndex();
    const base = randomText(random, 400);
    const other = variant(base, 20, random);
    index.add(base.join(' '));
    index.add(other.join(' '));
    const truth = exact(base.join(' '), other.join(' '));
    // Bottom-128: standard error ≈ √(J(1−J)/128) ≈ 0.04 here; 0.15 is more than 3σ.
    expect(Math.abs(index.similarity(0, 1) - truth)).toBeLessThan(0.15);
    expect(index.similarity(0, 1)).not.toBe(truth);
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
    // Crafted shingle sets: J(A,B) = 95/105, J(B,C) = 90/110, J(A,C) = 85/115 (below 0.8).
    const range = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, i) => hashString(`s${from + i}`));
    const a = range(0, 100);
    const b = [...range(5, 100), ...range(1000, 1005)];
    const c = [...range(15, 100), ...range(1000, 1005), ...range(2000, 2010)];
    const index = new NearDuplicateIndex(0.8);
    for (const set of [a, b, c]) index.addShingles(set);
    expect(index.similarity(0, 1)).toBeCloseTo(95 / 105, 12);
    expect(index.similarity(1, 2)).toBeCloseTo(90 / 110, 12);
    expect(index.similarity(0, 2)).toBeCloseTo(85 / 115, 12);
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
    // The same verdicts as exact Jaccard against every kept earlier prompt (all pairs).
    const kept: Set<string>[] = [];
    const naive = texts.map((t) => {
      const mine = shingles(t);
      if (kept.some((k) => jaccard(mine, k) >= 0.8)) return true;
      kept.push(mine);
      return false;
    });
    expect([...duplicateOf].map((d) => d >= 0)).toEqual(naive);
    // Both kinds were exercised: 1-word edits (J ≈ 0.88) caught, 15-word edits (J ≈ 0.4) not.
    expect(naive.filter(Boolean).length).toBeGreaterThanOrEqual(140);
    expect(naive.filter(Boolean).length).toBeLessThanOrEqual(160);
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
