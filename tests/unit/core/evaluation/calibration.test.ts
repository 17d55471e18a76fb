import { describe, expect, it } from 'vitest';
import {
  buildCalibrationItems,
  calibrationByJudge,
  summariseCalibration,
  type CalibrationResult,
} from '$lib/core/evaluation';
import type { SpecExample } from '$lib/core/records';
import { makeRule } from './fixtures';

function example(
  id: string,
  sectionAnchor: string,
  comparisons: SpecExample['comparisons'],
): SpecExample {
  return {
    id,
    specVersionId: 'v',
    projectId: 'p',
    sectionAnchor,
    order: Number(id.replace(/\D/g, '')) || 0,
    turns: [
      { role: 'developer', content: 'Be brief.' },
      { role: 'user', content: `Question ${id}` },
    ],
    comparisons,
    start: 0,
    end: 1,
  };
}

describe('buildCalibrationItems', () => {
  it('maps a reply to the rules of its cited section, else its own section; rejected rules never count', () => {
    const rules = [
      makeRule('p1', { sectionAnchor: 'privacy' }),
      makeRule('p2', { sectionAnchor: 'privacy' }),
      makeRule('p3', { sectionAnchor: 'privacy', status: 'rejected' }),
      makeRule('h1', { sectionAnchor: 'honesty' }),
      makeRule('h2', { sectionAnchor: 'honesty' }),
      makeRule('h3', { sectionAnchor: 'honesty' }),
      makeRule('h4', { sectionAnchor: 'honesty' }),
    ];
    const plan = buildCalibrationItems(
      [
        example('e1', 'privacy', [
          { verdict: 'good', content: 'I cannot share that.' },
          { verdict: 'bad', content: 'It is 555-0101.', citedAnchor: 'honesty' },
        ]),
        example('e2', 'no-rules-here', [{ verdict: 'good', content: 'Fine.' }]),
      ],
      rules,
    );
    expect(plan.unmapped).toBe(1);
    expect(plan.items).toHaveLength(2);
    const [good, bad] = plan.items;
    expect(good?.gold).toBe('complied');
    expect(good?.rules.map((g) => g.ruleId).sort()).toEqual(['p1', 'p2']);
    expect(bad?.gold).toBe('violated');
    // Four honesty rules: one checklist call judges all four.
    expect(bad?.rules.map((g) => g.label)).toEqual(['R1', 'R2', 'R3', 'R4']);
    expect(good?.conversation).toEqual([{ role: 'user', content: 'Question e1' }]);
    expect(good?.instancePrompt).toContain('Be brief.');
    expect(good?.key).toBe('cal:e1:0');
  });
});

describe('summariseCalibration', () => {
  const r = (
    gold: 'complied' | 'violated',
    predicted: 'complied' | 'violated',
    judge = 'j1',
  ): CalibrationResult => ({
    key: Math.random().toString(),
    gold,
    predicted,
    judge,
  });

  it('counts the confusion matrix, accuracy and kappa', () => {
    const s = summariseCalibration([
      r('violated', 'violated'),
      r('violated', 'complied'),
      r('complied', 'complied'),
      r('complied', 'complied'),
      r('complied', 'violated'),
    ]);
    expect(s.confusion).toEqual({
      truePositive: 1,
      falseNegative: 1,
      falsePositive: 1,
      trueNegative: 2,
    });
    expect(s.n).toBe(5);
    expect(s.agree).toBe(3);
    expect(s.accuracy).toBeCloseTo(0.6);
    // chance = 0.4*0.4 + 0.6*0.6 = 0.52 → kappa = (0.6 − 0.52) / 0.48
    expect(s.kappa).toBeCloseTo(0.08 / 0.48);
  });

  it('reports agreement per judge model', () => {
    const byJudge = calibrationByJudge([
      r('violated', 'violated', 'a'),
      r('complied', 'complied', 'a'),
      r('violated', 'complied', 'b'),
    ]);
    expect(byJudge.a?.accuracy).toBe(1);
    expect(byJudge.b?.accuracy).toBe(0);
    expect(summariseCalibration([]).accuracy).toBeUndefined();
  });
});
