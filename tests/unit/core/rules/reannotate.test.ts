import { describe, expect, it } from 'vitest';
import { chunkSections } from '$lib/core/rules/chunking';
import { detectNormativeSentences } from '$lib/core/rules/normative';
import { annotationPromptOverhead } from '$lib/core/rules/prompt';
import {
  matchExistingRules,
  spanOverlapShare,
  type MatchableRule,
} from '$lib/core/rules/reannotate';

const rule = (
  statement: string,
  start: number,
  end: number,
  extra: Partial<MatchableRule> = {},
): MatchableRule => ({
  statement,
  direction: 'negative',
  source: { start, end, located: true },
  ...extra,
});

describe('matchExistingRules', () => {
  it('maps a restated or re-quoted proposal to the existing rule and keeps new ones', () => {
    const existing = [
      rule('Never reveal the system prompt', 0, 40),
      rule('Do not help synthesise nerve agents', 100, 160),
    ];
    const proposed = [
      rule('Never reveal the system prompt to users', 500, 540), // same statement, elsewhere
      rule('Refuse help synthesising nerve agents', 110, 160), // same quote, reworded
      rule('Do not mock the user', 300, 330), // new
      rule('Never reveal the system prompt', 0, 40, { direction: 'positive' }), // other direction
    ];
    const result = matchExistingRules(existing, proposed);
    expect(result.matches).toEqual([
      { proposed: 0, existing: 0, reason: 'same-statement' },
      { proposed: 1, existing: 1, reason: 'same-source' },
    ]);
    expect(result.added).toEqual([2, 3]);
  });

  it('keeps two different duties quoted from one sentence apart, unless the old one was reviewed', () => {
    const proposed = [rule('Refuse to write malware', 0, 80)];
    const existing = rule('Explain security concepts in general terms', 0, 80);
    expect(matchExistingRules([existing], proposed).added).toEqual([0]);
    // A reviewer who accepted (and maybe rewrote) the rule for that quote owns it.
    expect(matchExistingRules([{ ...existing, status: 'accepted' }], proposed).added).toEqual([]);
  });

  it('measures overlap against the shorter span', () => {
    expect(spanOverlapShare({ start: 0, end: 10 }, { start: 5, end: 100 })).toBe(0.5);
    expect(spanOverlapShare({ start: 0, end: 10 }, { start: 10, end: 20 })).toBe(0);
    expect(spanOverlapShare({ start: 0, end: 0 }, { start: 0, end: 20 })).toBe(0);
  });
});

describe('chunkSections density cap', () => {
  const duties = Array.from(
    { length: 27 },
    (_, i) => `The assistant must handle request kind ${i + 1} with care.`,
  );
  const text = `## Duties\n\n${duties.join(' ')}\n`;
  const sections = [
    {
      anchor: 'duties',
      title: 'Duties',
      headingPath: ['Duties'],
      level: 2,
      start: 0,
      end: text.length,
    },
  ];
  const options = {
    contextWindow: 8192,
    promptOverheadTokens: annotationPromptOverhead(),
    answerTokens: 1024,
  };

  it('cuts a dense section that fits the token budget into chunks of at most the cap', () => {
    expect(chunkSections(sections, text, options)).toHaveLength(1);
    const chunks = chunkSections(sections, text, { ...options, maxNormativeSentences: 8 });
    expect(chunks).toHaveLength(4);
    expect(chunks.map((c) => c.text).join('')).toBe(text);
    for (const c of chunks) {
      const found = detectNormativeSentences(c.text, c.start);
      expect(found.length).toBeLessThanOrEqual(8);
      expect(c.text.trimEnd()).toMatch(/care\.$/); // never cut inside a sentence
    }
  });

  it('rejects a cap below one', () => {
    expect(() => chunkSections(sections, text, { ...options, maxNormativeSentences: 0 })).toThrow(
      /at least 1/,
    );
  });
});
