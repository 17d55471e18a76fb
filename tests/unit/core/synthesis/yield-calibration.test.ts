import { describe, expect, it } from 'vitest';
import {
  calibrateYield,
  caseTypeOfTaskKey,
  emptyObservedYield,
  estimateRun,
  type BranchMix,
  type ObservedYield,
  type SynthesisInstance,
} from '$lib/core/synthesis';
import { rulesOf } from '../instances/fixtures';
import { descriptor } from './helpers';

const prior = { violation: 0.98, borderline: 0.98, benign: 0.98 };

function observed(tasks: number, pairs: number, runs = 1): ObservedYield {
  return {
    tasks: { violation: tasks, borderline: 0, benign: 0 },
    pairs: { violation: pairs, borderline: 0, benign: 0 },
    runs,
  };
}

describe('calibrateYield', () => {
  it('shrinks the observed pairs per task towards the prior by the prior weight', () => {
    // (22 + 10 × 0.98) / (100 + 10) = 31.8 / 110
    const y = calibrateYield(prior, observed(100, 22), 10);
    expect(y.violation).toBeCloseTo(31.8 / 110, 10);
    // Case types never observed keep their prior.
    expect(y.borderline).toBe(0.98);
    expect(y.benign).toBe(0.98);
  });

  it('does not let one tiny run dominate, while many tasks do', () => {
    const tiny = calibrateYield(prior, observed(2, 0), 10).violation;
    const many = calibrateYield(prior, observed(10_000, 2_200), 10).violation;
    expect(tiny).toBeGreaterThan(0.8); // 9.8 / 12
    expect(many).toBeCloseTo(0.22, 2);
  });

  it('with weight 0 is the observed rate, and caps inconsistent counts at one pair per task', () => {
    expect(calibrateYield(prior, observed(50, 10), 0).violation).toBe(0.2);
    expect(calibrateYield(prior, observed(5, 9), 0).violation).toBe(1);
    expect(calibrateYield(prior, observed(0, 0), 0).violation).toBe(0.98);
  });
});

describe('caseTypeOfTaskKey', () => {
  it('reads the case type from a task key or a task id (runId:key)', () => {
    expect(caseTypeOfTaskKey('inst/rule/borderline/3')).toBe('borderline');
    expect(caseTypeOfTaskKey('run-1:inst/rule/benign/0')).toBe('benign');
    expect(caseTypeOfTaskKey('chunk-4')).toBeUndefined();
    expect(caseTypeOfTaskKey('a/b/nonsense/1')).toBeUndefined();
  });
});

describe('estimateRun with an observed yield', () => {
  const rules = rulesOf(['r22', 'r21', 'r39']);
  const instances = new Map<string, SynthesisInstance>([
    ['small', { id: 'small', specVersionId: 'v1', rules }],
  ]);
  const none: BranchMix = {
    violates: { violation: 0, borderline: 0, benign: 0 },
    overRefuses: { violation: 0, borderline: 0, benign: 0 },
    defenderQualityFails: 0,
    candidateRejectRate: 0,
    rejudgeRate: 0,
  };
  const tasks = Array.from({ length: 100 }, (_, i) =>
    descriptor({
      instanceId: 'small',
      ruleId: rules[0]!.id,
      key: `small/${rules[0]!.id}/violation/${i}`,
      order: i,
    }),
  );

  it('keeps the model when nothing was observed, and says nothing about calibration', () => {
    const e = estimateRun({
      tasks,
      instances,
      tokensPerSecond: 10,
      branchMix: none,
      observedYield: emptyObservedYield(),
    });
    expect(e.expectedPairs).toBe(100);
    expect(e.calibration).toBeUndefined();
  });

  it('calibrates expected pairs from finished runs (100-task runs made ~22 pairs)', () => {
    const e = estimateRun({
      tasks,
      instances,
      tokensPerSecond: 10,
      branchMix: none,
      observedYield: observed(200, 44, 2),
    });
    // (44 + 10 × 1) / (200 + 10) per task, 100 tasks.
    expect(e.expectedPairs).toBeCloseTo((100 * 54) / 210, 2);
    expect(e.calibration).toMatchObject({ tasks: 200, runs: 2 });
    expect(e.assumptions[0]).toMatch(/calibrated from 200 finished tasks of 2 runs/);
  });
});
