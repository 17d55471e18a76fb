import { describe, expect, it } from 'vitest';
import {
  canonicalOrder,
  compareIds,
  DEFAULT_MAX_PER_FAMILY,
  sampleInstances,
  type InstanceDraft,
} from '$lib/core/instances/sample';
import { STAGE_ORDER } from '$lib/core/instances/stages';
import type { Rule } from '$lib/core/records';
import { HARBOR_RULES, RULES_BY_ID, rule, rulesOf } from './fixtures';

const poolStages = new Set(HARBOR_RULES.map((r) => r.stage));

/** Checks every constraint of METHOD.md §2 independently of the sampler's own bookkeeping. */
function expectConstraints(
  instance: InstanceDraft,
  pool: readonly Rule[],
  maxPerFamily = DEFAULT_MAX_PER_FAMILY,
) {
  const members = rulesOf(instance.ruleIds);
  expect(new Set(instance.ruleIds).size).toBe(instance.ruleIds.length);
  expect(members.every((m) => pool.includes(m))).toBe(true);
  const stages = new Set(members.map((m) => m.stage));
  expect(stages.size).toBe(Math.min(members.length, new Set(pool.map((r) => r.stage)).size));
  const positive = members.filter((m) => m.direction === 'positive').length;
  expect(Math.abs(positive - (members.length - positive))).toBeLessThanOrEqual(1);
  const families = new Map<string, number>();
  for (const m of members) families.set(m.family, (families.get(m.family) ?? 0) + 1);
  expect(Math.max(...families.values())).toBeLessThanOrEqual(maxPerFamily);
  // Domain coverage: at most one repeat of a domain per four rules on this varied pool.
  expect(new Set(members.map((m) => m.domain)).size).toBeGreaterThanOrEqual(
    Math.ceil(members.length * 0.75),
  );
}

describe('sampleInstances on a realistic 41-rule pool', () => {
  it('meets stage, direction, family and domain constraints and uses every rule, for many seeds', () => {
    for (let seed = 1; seed <= 25; seed++) {
      const result = sampleInstances(HARBOR_RULES, { count: 6, seed });
      expect(result.instances).toHaveLength(6);
      for (const instance of result.instances) {
        expect(instance.ruleIds.length).toBeGreaterThanOrEqual(8);
        expect(instance.ruleIds.length).toBeLessThanOrEqual(13);
        expect(instance.ruleIds.length).toBe(instance.targetSize);
        expectConstraints(instance, HARBOR_RULES);
        expect(instance.warnings).toEqual([]);
      }
      expect(result.unusedRuleIds).toEqual([]);
      expect(result.warnings).toEqual([]);
      expect(Object.values(result.ruleUsage).every((n) => n >= 1)).toBe(true);
      const slots = result.instances.reduce((n, i) => n + i.ruleIds.length, 0);
      expect(Object.values(result.ruleUsage).reduce((a, b) => a + b, 0)).toBe(slots);
    }
  });

  it('is reproducible: same seed, same instances; another seed, other instances', () => {
    const a = sampleInstances(HARBOR_RULES, { count: 5, seed: 99 });
    const b = sampleInstances(HARBOR_RULES, { count: 5, seed: 99 });
    const c = sampleInstances(HARBOR_RULES, { count: 5, seed: 100 });
    expect(b).toEqual(a);
    expect(c.instances.map((i) => i.ruleIds)).not.toEqual(a.instances.map((i) => i.ruleIds));
    // The input order of the pool does not matter.
    const reversed = sampleInstances([...HARBOR_RULES].reverse(), { count: 5, seed: 99 });
    expect(reversed).toEqual(a);
  });

  it('lists rules in canonical order (stage, priority, id)', () => {
    const { instances } = sampleInstances(HARBOR_RULES, { count: 3, seed: 4 });
    for (const instance of instances) {
      expect(instance.ruleIds).toEqual(canonicalOrder(rulesOf(instance.ruleIds)));
      const ranks = rulesOf(instance.ruleIds).map((r) => STAGE_ORDER.indexOf(r.stage));
      expect(ranks).toEqual([...ranks].sort((x, y) => x - y));
    }
  });

  it('puts pinned rules in every instance and excluded rules in none', () => {
    const result = sampleInstances(HARBOR_RULES, {
      count: 8,
      seed: 3,
      pinnedRuleIds: ['r39', 'r1'],
      excludedRuleIds: ['r17', 'r22'],
    });
    const pool = HARBOR_RULES.filter((r) => r.id !== 'r17' && r.id !== 'r22');
    for (const instance of result.instances) {
      expect(instance.ruleIds).toContain('r1');
      expect(instance.ruleIds).toContain('r39');
      expect(instance.ruleIds).not.toContain('r17');
      expect(instance.ruleIds).not.toContain('r22');
      expectConstraints(instance, pool);
    }
    expect(result.ruleUsage.r1).toBe(8);
    expect(result.ruleUsage).not.toHaveProperty('r17');
    expect(result.unusedRuleIds).toEqual([]);
  });

  it('warns (never throws) about contradictory or unknown pins and rejected rules', () => {
    const rejected = rule({
      id: 'x1',
      statement: 'A rejected rule.',
      direction: 'positive',
      stage: 'content',
      domain: 'd',
      family: 'f',
      status: 'rejected',
    });
    const result = sampleInstances([...HARBOR_RULES, rejected], {
      count: 2,
      seed: 1,
      pinnedRuleIds: ['r5', 'nope', 'x1'],
      excludedRuleIds: ['r5'],
    });
    expect(result.warnings.join('\n')).toMatch(/r5 is both pinned and excluded/);
    expect(result.warnings.join('\n')).toMatch(/Pinned rule nope is not an accepted rule/);
    expect(result.warnings.join('\n')).toMatch(/1 rejected rule/);
    expect(result.instances.flatMap((i) => i.ruleIds)).not.toContain('x1');
    expect(result.instances.flatMap((i) => i.ruleIds)).not.toContain('r5');
  });

  it('reports rules left unused when the instances have too few slots', () => {
    const result = sampleInstances(HARBOR_RULES, { count: 2, seed: 1 });
    const slots = result.instances.reduce((n, i) => n + i.ruleIds.length, 0);
    expect(result.unusedRuleIds.length).toBe(41 - slots);
    expect(result.warnings.join('\n')).toMatch(/are in no instance: 2 instance\(s\) hold/);
  });

  it('honours a custom size range and family cap', () => {
    const result = sampleInstances(HARBOR_RULES, {
      count: 10,
      seed: 8,
      minSize: 4,
      maxSize: 5,
      maxPerFamily: 1,
    });
    for (const instance of result.instances) {
      expect(instance.ruleIds.length).toBeGreaterThanOrEqual(4);
      expect(instance.ruleIds.length).toBeLessThanOrEqual(5);
      expectConstraints(instance, HARBOR_RULES, 1);
    }
    const sizes = new Set(result.instances.map((i) => i.ruleIds.length));
    expect(sizes).toEqual(new Set([4, 5]));
  });

  it('gets as close to balance as a lopsided pool allows, and says so', () => {
    // 10 negative rules and 2 positive ones: an 8-rule instance is at best 2 vs 6.
    const lopsided = HARBOR_RULES.filter((r) => r.direction === 'negative').slice(0, 10);
    const positives = HARBOR_RULES.filter((r) => r.direction === 'positive').slice(0, 2);
    const result = sampleInstances([...lopsided, ...positives], {
      count: 1,
      seed: 2,
      maxSize: 8,
      maxPerFamily: 5,
    });
    const [instance] = result.instances as [InstanceDraft];
    expect(instance.coverage.positive).toBe(2);
    expect(instance.coverage.negative).toBe(6);
    expect(instance.warnings.join('\n')).toMatch(/the pool allows no closer balance/);
  });

  it('relaxes the family cap only when the pool leaves no choice, and reports it', () => {
    const oneFamily = Array.from({ length: 9 }, (_, i) =>
      rule({
        id: `f${i}`,
        statement: `Rule ${i} of a single family.`,
        direction: i % 2 ? 'positive' : 'negative',
        stage: STAGE_ORDER[i % 5] as Rule['stage'],
        domain: `d${i}`,
        family: 'only family',
      }),
    );
    const result = sampleInstances(oneFamily, { count: 1, seed: 1 });
    const [instance] = result.instances as [InstanceDraft];
    expect(instance.ruleIds.length).toBeGreaterThanOrEqual(8);
    expect(instance.warnings.join('\n')).toMatch(/A family holds \d+ rules \(cap 2\)/);
  });

  it('covers all five stages even when a stage has a single rule', () => {
    const withoutInterpretation = HARBOR_RULES.filter(
      (r) => r.stage !== 'interpretation' || r.id === 'r41',
    );
    for (let seed = 1; seed <= 10; seed++) {
      const { instances } = sampleInstances(withoutInterpretation, { count: 4, seed });
      for (const instance of instances) expect(instance.ruleIds).toContain('r41');
    }
    expect(poolStages.size).toBe(5);
  });

  it('warns about a pool smaller than the minimum size', () => {
    const result = sampleInstances(rulesOf(['r1', 'r2', 'r3']), { count: 1, seed: 1 });
    expect(result.warnings.join('\n')).toMatch(/Only 3 rules are available/);
    expect(result.instances[0]?.ruleIds).toHaveLength(3);
    expect(result.instances[0]?.warnings.join('\n')).toMatch(/fewer than the minimum of 8/);
  });
});

describe('compareIds', () => {
  it('orders digit runs by value, independent of locale', () => {
    expect(['r10', 'r2', 'r1', 'a', 'r2b'].sort(compareIds)).toEqual([
      'a',
      'r1',
      'r2',
      'r2b',
      'r10',
    ]);
    expect(compareIds('x', 'x')).toBe(0);
    expect(RULES_BY_ID.size).toBe(41);
  });
});
