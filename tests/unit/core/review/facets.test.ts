import { describe, expect, it } from 'vitest';
import type { PreferencePair } from '$lib/core/records';
import { matchesQuality, matchesVerdict, qualityScore } from '$lib/core/review/facets';

function pair(provenance: Record<string, unknown>): PreferencePair {
  return {
    id: 'p',
    projectId: 'proj',
    runId: 'run',
    instanceId: 'inst',
    ruleIds: ['r1'],
    caseType: 'violation',
    prompt: [{ role: 'user', content: 'q' }],
    chosen: 'good',
    rejected: 'bad',
    status: 'pending',
    provenance,
    createdAt: 1,
  };
}

const passed = (subject: string, judge = 'safety') => ({
  subject,
  judge,
  attempt: 1,
  passed: true,
});

describe('matchesVerdict', () => {
  it('matches the defender path recorded by synthesis', () => {
    const p = pair({ path: 'over-refusal', judgements: [] });
    expect(matchesVerdict(p, 'over-refusal')).toBe(true);
    expect(matchesVerdict(p, 'defender-violated')).toBe(false);
    expect(matchesVerdict(p, 'violator')).toBe(false);
  });

  it('tells first-pass judging from rewrites and contradictions', () => {
    const clean = pair({
      judgements: [passed('defender'), passed('defender', 'quality'), passed('chosen')],
    });
    // The defender failing its check is how a defender-violated pair starts, not a rewrite.
    const defenderFailed = pair({
      judgements: [{ ...passed('defender'), passed: false }, passed('chosen')],
    });
    const rewritten = pair({
      judgements: [
        passed('defender'),
        { ...passed('violation'), passed: false },
        passed('violation'),
      ],
    });
    const contradicted = pair({
      judgements: [{ ...passed('defender'), contradiction: 'violated yet compliant' }],
    });
    expect(matchesVerdict(clean, 'first-pass')).toBe(true);
    expect(matchesVerdict(clean, 'rewritten')).toBe(false);
    expect(matchesVerdict(defenderFailed, 'rewritten')).toBe(false);
    expect(matchesVerdict(defenderFailed, 'first-pass')).toBe(true);
    expect(matchesVerdict(rewritten, 'rewritten')).toBe(true);
    expect(matchesVerdict(rewritten, 'first-pass')).toBe(false);
    expect(matchesVerdict(contradicted, 'contradiction')).toBe(true);
    expect(matchesVerdict(contradicted, 'first-pass')).toBe(false);
  });

  it('matches nothing on provenance without judgements (imported or hand-made pairs)', () => {
    const bare = pair({});
    for (const v of ['first-pass', 'rewritten', 'contradiction', 'violator'] as const)
      expect(matchesVerdict(bare, v)).toBe(false);
    expect(matchesVerdict(pair({ judgements: 'nonsense' }), 'first-pass')).toBe(false);
  });
});

describe('qualityScore', () => {
  it('is the lower of helpfulness and fluency of the chosen reply', () => {
    const p = pair({ chosen: { quality: { helpfulness: 4, fluency: 3, rationale: '' } } });
    expect(qualityScore(p)).toBe(3);
    expect(matchesQuality(p, { min: 3 })).toBe(true);
    expect(matchesQuality(p, { min: 4 })).toBe(false);
    expect(matchesQuality(p, { max: 3 })).toBe(true);
    expect(matchesQuality(p, { max: 2 })).toBe(false);
    expect(matchesQuality(p, 'unscored')).toBe(false);
  });

  it('is undefined when the chosen reply was never scored or the record is malformed', () => {
    for (const provenance of [
      {},
      { chosen: 'text' },
      { chosen: { quality: { helpfulness: '4', fluency: 5 } } },
      { chosen: { quality: null } },
    ]) {
      const p = pair(provenance);
      expect(qualityScore(p)).toBeUndefined();
      expect(matchesQuality(p, { min: 1 })).toBe(false);
      expect(matchesQuality(p, 'unscored')).toBe(true);
    }
  });
});
