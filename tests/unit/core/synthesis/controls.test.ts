import { describe, expect, it } from 'vitest';
import { sampleInstances } from '$lib/core/instances/sample';
import {
  CASE_TYPES,
  DEFAULT_PERSONAS,
  largestRemainder,
  normaliseControls,
  planTasks,
  type TaskDescriptor,
} from '$lib/core/synthesis/controls';
import { HARBOR_RULES } from '../instances/fixtures';

const instances = sampleInstances(HARBOR_RULES, { count: 3, seed: 11 }).instances.map((d) => ({
  id: `inst-${d.index}`,
  ruleIds: d.ruleIds,
}));

const countBy = <T>(tasks: readonly TaskDescriptor[], key: (t: TaskDescriptor) => T) => {
  const m = new Map<T, number>();
  for (const t of tasks) m.set(key(t), (m.get(key(t)) ?? 0) + 1);
  return m;
};

describe('planTasks', () => {
  it('probes every rule of every instance once per requested case type', () => {
    const { tasks, warnings } = planTasks(
      instances,
      { caseMix: { violation: 2, borderline: 0, benign: 1 } },
      5,
    );
    expect(warnings).toEqual([]);
    const expected = instances.reduce((n, i) => n + i.ruleIds.length * 2, 0);
    expect(tasks).toHaveLength(expected);
    for (const instance of instances)
      for (const ruleId of instance.ruleIds)
        for (const caseType of ['violation', 'benign'] as const)
          expect(
            tasks.filter(
              (t) => t.instanceId === instance.id && t.ruleId === ruleId && t.caseType === caseType,
            ),
          ).toHaveLength(1);
    expect(tasks.some((t) => t.caseType === 'borderline')).toBe(false);
    expect(new Set(tasks.map((t) => t.key)).size).toBe(tasks.length);
    expect(tasks.map((t) => t.order)).toEqual(tasks.map((_, i) => i));
  });

  it('is deterministic per seed; keys are stable across seeds while attributes change', () => {
    const a = planTasks(instances, {}, 1);
    expect(planTasks(instances, {}, 1)).toEqual(a);
    const b = planTasks(instances, {}, 2);
    const keys = (p: typeof a) => new Set(p.tasks.map((t) => t.key));
    expect(keys(b)).toEqual(keys(a));
    const byKey = new Map(a.tasks.map((t) => [t.key, t]));
    const changed = b.tasks.filter((t) => {
      const other = byKey.get(t.key);
      return other?.persona !== t.persona || other.order !== t.order || other.seed !== t.seed;
    });
    expect(changed.length).toBeGreaterThan(b.tasks.length / 2);
  });

  it('balances personas, difficulties and languages within each instance (±1)', () => {
    const { tasks } = planTasks(
      instances,
      { languages: ['English', 'German', 'Spanish'], difficulties: [1, 2, 3] },
      9,
    );
    for (const instance of instances) {
      const own = tasks.filter((t) => t.instanceId === instance.id);
      for (const key of [
        (t: TaskDescriptor) => t.persona,
        (t: TaskDescriptor) => String(t.difficulty),
        (t: TaskDescriptor) => t.language,
      ]) {
        const counts = [...countBy(own, key).values()];
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      }
      expect(new Set(own.map((t) => t.persona)).size).toBe(
        Math.min(own.length, DEFAULT_PERSONAS.length),
      );
    }
  });

  it('makes the requested share multi-turn with the configured length', () => {
    const { tasks } = planTasks(instances, { multiTurnShare: 0.25, multiTurnLength: 3 }, 4);
    for (const instance of instances) {
      const own = tasks.filter((t) => t.instanceId === instance.id);
      expect(own.filter((t) => t.turns === 3)).toHaveLength(Math.round(own.length * 0.25));
      expect(own.every((t) => t.turns === 1 || t.turns === 3)).toBe(true);
    }
  });

  it('spreads extra tasks by case-type weight to the least-probed rules', () => {
    const one = [instances[0] as { id: string; ruleIds: readonly string[] }];
    const rules = one[0]?.ruleIds.length ?? 0;
    const { tasks, warnings } = planTasks(
      one,
      { caseMix: { violation: 3, benign: 1 }, tasksPerInstance: rules * 2 + 8 },
      3,
    );
    expect(warnings).toEqual([]);
    expect(tasks).toHaveLength(rules * 2 + 8);
    const byCase = countBy(tasks, (t) => t.caseType);
    expect(byCase.get('violation')).toBe(rules + 6);
    expect(byCase.get('benign')).toBe(rules + 2);
    const perRule = [
      ...countBy(
        tasks.filter((t) => t.caseType === 'violation'),
        (t) => t.ruleId,
      ).values(),
    ];
    expect(Math.max(...perRule) - Math.min(...perRule)).toBeLessThanOrEqual(1);
    expect(tasks.filter((t) => t.key.endsWith('/violation/1'))).toHaveLength(6);
  });

  it('probes each rule N times with probesPerRule and warns when tasksPerInstance is below the quota', () => {
    const one = [instances[1] as { id: string; ruleIds: readonly string[] }];
    const { tasks, warnings } = planTasks(
      one,
      { caseMix: { borderline: 1 }, probesPerRule: 2, tasksPerInstance: 3 },
      3,
    );
    expect(tasks).toHaveLength((one[0]?.ruleIds.length ?? 0) * 2);
    expect(warnings[0]).toMatch(/3 tasks cannot probe each of its \d+ rules 2× per case type/);
  });

  it('interleaves instances in the queue', () => {
    const { tasks } = planTasks(instances, {}, 1);
    expect(tasks.slice(0, 3).map((t) => t.instanceId)).toEqual(['inst-0', 'inst-1', 'inst-2']);
  });

  it('normalises controls and reports what it changed', () => {
    const { controls, warnings } = normaliseControls({
      caseMix: { violation: 0 },
      personas: [' ', ''],
      difficulties: [],
      languages: [],
      multiTurnShare: 7,
      multiTurnLength: 9,
    });
    expect(Object.keys(controls.caseMix).sort()).toEqual([...CASE_TYPES].sort());
    expect(controls.personas).toEqual(DEFAULT_PERSONAS);
    expect(controls.difficulties).toEqual([1, 2, 3]);
    expect(controls.languages).toEqual(['English']);
    expect(controls.multiTurnShare).toBe(1);
    expect(controls.multiTurnLength).toBe(3);
    expect(warnings).toHaveLength(4);
    expect(planTasks([{ id: 'empty', ruleIds: [] }], {}, 1).warnings[0]).toMatch(
      /Instance empty has no rules/,
    );
  });
});

describe('largestRemainder', () => {
  it('splits totals exactly and proportionally', () => {
    expect(largestRemainder([2, 1, 1], 8)).toEqual([4, 2, 2]);
    expect(largestRemainder([1, 1, 1], 4)).toEqual([2, 1, 1]);
    expect(largestRemainder([3, 1], 8)).toEqual([6, 2]);
    expect(largestRemainder([0, 0], 5)).toEqual([0, 0]);
    expect(largestRemainder([1, 2, 3], 7).reduce((a, b) => a + b, 0)).toBe(7);
  });
});
