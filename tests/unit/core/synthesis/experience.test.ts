import { describe, expect, it } from 'vitest';
import {
  addExperience,
  emptyExperiencePool,
  isRoleSwapTask,
  selectExperience,
  type ExperienceEntryDraft,
} from '$lib/core/synthesis/experience';
import { isNearDuplicate, jaccard, shingles } from '$lib/core/synthesis/near-duplicate';
import { examplesForRule } from '$lib/core/synthesis/examples';
import { RULES_BY_ID } from '../instances/fixtures';
import { example } from './helpers';

const draft = (
  strategy: string,
  success: boolean,
  extra: Partial<ExperienceEntryDraft> = {},
): ExperienceEntryDraft => ({
  instanceId: 'i1',
  ruleId: 'r1',
  caseType: 'violation',
  taskKey: strategy,
  strategy,
  angle: `angle of ${strategy}`,
  persona: 'p',
  success,
  ...extra,
});

describe('experience pool', () => {
  it('numbers entries, never mutates, and caps the oldest away', () => {
    const empty = emptyExperiencePool();
    const one = addExperience(empty, draft('a', true));
    expect(empty.entries).toEqual([]);
    expect(one.entries[0]?.seq).toBe(1);
    let pool = one;
    for (let i = 0; i < 5; i++) pool = addExperience(pool, draft(`s${i}`, false), 3);
    expect(pool.entries.map((e) => e.seq)).toEqual([4, 5, 6]);
    expect(pool.nextSeq).toBe(7);
    expect(JSON.parse(JSON.stringify(pool))).toEqual(pool);
  });

  it('shows successful strategies of the instance, most successful then most recent, capped', () => {
    let pool = emptyExperiencePool();
    pool = addExperience(pool, draft('Old pretext', true));
    pool = addExperience(pool, draft('Role-play', true));
    pool = addExperience(pool, draft('role play!', true)); // same strategy, normalised
    pool = addExperience(pool, draft('Urgency', false, { defenderMove: 'I can’t do that, but…' }));
    pool = addExperience(pool, draft('Recent pretext', true));
    pool = addExperience(pool, draft('Elsewhere', true, { instanceId: 'i2' }));
    const hints = selectExperience(pool, 'i1', { limit: 2 });
    expect(hints.map((h) => [h.strategy, h.successes, h.uses])).toEqual([
      ['Role-play', 2, 2],
      ['Recent pretext', 1, 1],
    ]);
    expect(hints.every((h) => h.outcome === 'worked')).toBe(true);
    const swap = selectExperience(pool, 'i1', { includeHeld: true });
    expect(swap.at(-1)).toEqual({
      strategy: 'Urgency',
      angle: 'angle of Urgency',
      outcome: 'held',
      successes: 0,
      uses: 1,
      defenderMove: 'I can’t do that, but…',
    });
    expect(selectExperience(pool, 'nope')).toEqual([]);
  });

  it('marks every K-th task as a role-swap task', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((o) => isRoleSwapTask(o, 4))).toEqual([
      false,
      false,
      false,
      true,
      false,
      false,
      false,
      true,
    ]);
    expect(isRoleSwapTask(3, 0)).toBe(false);
  });
});

describe('near-duplicate prompts', () => {
  const prompt =
    'My friend says you guide trips yourself. Which winter route did you enjoy most last year?';

  it('catches repeats despite case, punctuation and spacing; lets different prompts through', () => {
    expect(isNearDuplicate(prompt, [prompt])).toBe(true);
    expect(isNearDuplicate(prompt.toUpperCase().replace(/[.?]/g, '!'), [prompt])).toBe(true);
    expect(isNearDuplicate(`${prompt} Thanks!`, [prompt])).toBe(true);
    expect(
      isNearDuplicate('Which winter route did you enjoy most? My friend says you guide trips.', [
        prompt,
      ]),
    ).toBe(false);
    expect(isNearDuplicate('What tent should I buy for a summer trip in the Alps?', [prompt])).toBe(
      false,
    );
    expect(isNearDuplicate(prompt, [])).toBe(false);
  });

  it('uses word 3-grams and Jaccard similarity with a configurable threshold', () => {
    expect([...shingles('a b c d')]).toEqual(['a b c', 'b c d']);
    expect([...shingles('Hi there')]).toEqual(['hi there']);
    expect(jaccard(new Set(['x', 'y']), new Set(['y', 'z']))).toBeCloseTo(1 / 3);
    const edited = prompt.replace('last year', 'this season');
    const similarity = jaccard(shingles(prompt), shingles(edited));
    expect(similarity).toBeGreaterThan(0.6);
    expect(similarity).toBeLessThan(0.8);
    expect(isNearDuplicate(edited, [prompt])).toBe(false);
    expect(isNearDuplicate(edited, [prompt], 0.6)).toBe(true);
  });
});

describe('examplesForRule', () => {
  it('takes examples of the rule’s section or citing it, contrastive ones first', () => {
    const rule = RULES_BY_ID.get('r22');
    if (!rule) throw new Error('fixture');
    const goodOnly = {
      ...example('disclose_ai', 0),
      comparisons: [{ verdict: 'good' as const, content: 'fine' }],
    };
    const contrast = example('disclose_ai', 5);
    const citing = {
      ...example('elsewhere', 1),
      comparisons: [{ verdict: 'bad' as const, content: 'x', citedAnchor: 'disclose_ai' }],
    };
    const other = example('elsewhere', 2);
    const otherVersion = { ...example('disclose_ai', 3), specVersionId: 'v2' };
    expect(
      examplesForRule(rule, [other, goodOnly, citing, contrast, otherVersion]).map((e) => e.order),
    ).toEqual([5, 0, 1]);
  });
});
