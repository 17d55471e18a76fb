import { describe, expect, it } from 'vitest';
import type { PreferencePair } from '$lib/core/records';
import {
  matchesQuality,
  matchesVerdict,
  provenanceProblem,
  qualityScore,
} from '$lib/core/review/facets';
import { synthesisProvenance } from '../../../helpers/provenance';

/** A pair whose synthesis provenance has `over` (the rest complete, so it reads as valid). */
function pair(over: Parameters<typeof synthesisProvenance>[0]): PreferencePair {
  return rawPair(synthesisProvenance(over));
}

function rawPair(provenance: Record<string, unknown>): PreferencePair {
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

const passed = (
  subject: 'defender' | 'chosen' | 'violation' | 'refusal',
  judge: 'safety' | 'quality' = 'safety',
) => ({ subject, judge, attempt: 1, passed: true });

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
    expect(
      matchesVerdict(rawPair({ path: 'violator', judgements: [passed('chosen')] }), 'violator'),
    ).toBe(false);
  });

  // Issue 10 §3: a corrupt row is reported and skipped, never crashes the Review screen.
  it('skips and reports a pair whose synthesis provenance is corrupt', () => {
    const corrupt = rawPair({ ...synthesisProvenance(), judgements: 'nonsense' });
    for (const v of ['first-pass', 'rewritten', 'contradiction', 'defender-violated'] as const)
      expect(matchesVerdict(corrupt, v)).toBe(false);
    expect(qualityScore(corrupt)).toBeUndefined();
    expect(provenanceProblem(corrupt)).toMatch(/pairs\.provenance "p" is unreadable at judgements/);
    expect(provenanceProblem(pair({}))).toBeUndefined();
    expect(provenanceProblem(rawPair({ attacker: 'webllm:x' }))).toBeUndefined();
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
    const full = synthesisProvenance();
    for (const provenance of [
      {},
      full,
      { ...full, chosen: 'text' },
      { ...full, chosen: { ...full.chosen, quality: { helpfulness: '4', fluency: 5 } } },
      { ...full, chosen: { ...full.chosen, quality: null } },
    ]) {
      const p = rawPair(provenance);
      expect(qualityScore(p)).toBeUndefined();
      expect(matchesQuality(p, { min: 1 })).toBe(false);
      expect(matchesQuality(p, 'unscored')).toBe(true);
    }
  });
});
