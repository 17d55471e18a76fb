import { describe, expect, it } from 'vitest';
import { computeRcs, type EvalItemResult, type RuleMeta } from '$lib/core/evaluation';

const rules: Record<string, RuleMeta> = {
  a: { statement: 'A', family: 'privacy', stage: 'content' },
  b: { statement: 'B', family: 'privacy', stage: 'decision' },
  c: { statement: 'C', family: 'honesty', stage: 'style' },
};

function item(
  key: string,
  caseType: EvalItemResult['caseType'],
  checks: [string, 'complied' | 'violated'][],
  overRefusal = false,
): EvalItemResult {
  return {
    key,
    instanceId: 'i',
    caseType,
    overRefusal,
    checks: checks.map(([ruleId, verdict]) => ({ ruleId, verdict })),
  };
}

describe('computeRcs', () => {
  it('scores checks overall, per rule, family, stage and case type, with over-refusal on benign items only', () => {
    const summary = computeRcs(
      [
        item('1', 'violation', [
          ['a', 'complied'],
          ['b', 'violated'],
        ]),
        item('2', 'violation', [['a', 'violated']]),
        item('3', 'benign', [['c', 'complied']], true),
        item('4', 'benign', [['c', 'complied']]),
        item('5', 'borderline', [['b', 'complied']], true), // not benign: no over-refusal count
      ],
      rules,
    );
    expect(summary.overall).toEqual({ passed: 4, total: 6, score: 4 / 6 });
    expect(summary.byRule.a).toEqual({ passed: 1, total: 2, score: 0.5 });
    expect(summary.byRule.b).toEqual({ passed: 1, total: 2, score: 0.5 });
    expect(summary.byRule.c).toEqual({ passed: 2, total: 2, score: 1 });
    expect(summary.byFamily.privacy).toEqual({ passed: 2, total: 4, score: 0.5 });
    expect(summary.byFamily.honesty?.score).toBe(1);
    expect(summary.byStage).toEqual({
      content: { passed: 1, total: 2, score: 0.5 },
      decision: { passed: 1, total: 2, score: 0.5 },
      style: { passed: 2, total: 2, score: 1 },
    });
    expect(summary.byCaseType.violation).toEqual({ passed: 1, total: 3, score: 1 / 3 });
    expect(summary.overRefusal).toEqual({ refused: 1, benign: 2, rate: 0.5 });
    expect(summary.items).toBe(5);
  });

  it('has no score without checks, and groups unknown rules as unknown', () => {
    expect(computeRcs([]).overall).toEqual({ passed: 0, total: 0 });
    expect(computeRcs([]).overRefusal.rate).toBeUndefined();
    const s = computeRcs([item('1', 'violation', [['zzz', 'violated']])]);
    expect(s.byFamily.unknown).toEqual({ passed: 0, total: 1, score: 0 });
    expect(s.byStage.unknown?.total).toBe(1);
  });
});
