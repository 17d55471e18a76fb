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
    // Crafted signatures (values differ in their high 16 bits, the part that is kept):
    // B differs from A in 10 of 120 values (0.92), C from B in 20 more (0.83), C from A in 30 (0.75).
    const a = Uint32Array.from({ length: MINHASH_PERMUTATIONS }, (_, i) => (i + 1) << 16);
    const b = a.map((v, i) => (i < 10 ? v + (1000 << 16) : v));
    const c = b.map((v, i) => (i >= 10 && i < 30 ? v + (2000 << 16) : v));
    const index = new NearDuplicateIndex(0.8);
    for (const sig of [a, b, c]) index.addSignature(sig);
    expect([index.similarity(0, 1), index.similarity(1, 2), index.similarity(0, 2)]).toEqual([
      110 / 120,
      100 / 120,
      90 / 120,
    ]);
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
    let close = 0;
    let caught = 0;
    let far = 0;
    for (let i = 0; i < 300; i++) {
      const truth = exact(texts[i]!, texts[300 + i]!);
      if (truth >= 0.85) {
        close++;
        if (duplicateOf[300 + i] === i) caught++;
      }
      if (truth <= 0.6) {
        far++;
        expect(duplicateOf[300 + i]).toBe(-1); // never a false positive this far below
      }
    }
    // Both kinds were exercised; at J ≈ 0.88 the estimate (σ ≈ 0.03) misses a few per cent.
    expect(close).toBeGreaterThanOrEqual(140);
    expect(far).toBeGreaterThanOrEqual(140);
    expect(caught / close).toBeGreaterThanOrEqual(0.93);
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
