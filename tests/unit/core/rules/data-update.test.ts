import { describe, expect, it } from 'vitest';
import { sampleInstances } from '$lib/core/instances/sample';
import type { Rule } from '$lib/core/records';
import { planDataUpdate, planDataUpdateTasks } from '$lib/core/rules/data-update';
import { lineageOf } from '$lib/core/rules/lineage';
import { planTasks } from '$lib/core/synthesis/controls';
import { HARBOR_RULES, rule } from '../instances/fixtures';

const SEED = 7;
const CONTROLS = { probesPerRule: 1 };
const oldSample = sampleInstances(HARBOR_RULES, { count: 6, seed: SEED });
const oldInstances = oldSample.instances.map((d) => ({
  id: `v1:s${SEED}:${d.index}`,
  ruleIds: d.ruleIds,
  lineageIds: d.ruleIds,
}));
const oldLineages = new Map(HARBOR_RULES.map((r) => [r.id, lineageOf(r)]));

/** v2: every v1 rule carried (own id, same lineage), minus `retired`, with `changed` reworded. */
function versionTwo(changed: string[], retired: string[], added: Rule[] = []): Rule[] {
  const carried = HARBOR_RULES.filter((r) => !retired.includes(r.id)).map((r) => ({
    ...r,
    id: `v2:${r.id}`,
    lineageId: r.id,
    specVersionId: 'v2',
    statement: changed.includes(r.id) ? `${r.statement} (reworded)` : r.statement,
  }));
  return [...carried, ...added];
}

const inAll = (id: string) => oldInstances.filter((i) => i.ruleIds.includes(id)).length;
// A changed rule held by some instance, and a retired one held by a different instance.
const changedId = HARBOR_RULES.map((r) => r.id).find((id) => inAll(id) === 1)!;
const retiredId = HARBOR_RULES.map((r) => r.id).find(
  (id) =>
    id !== changedId &&
    inAll(id) === 1 &&
    !oldInstances.some((i) => i.ruleIds.includes(id) && i.ruleIds.includes(changedId)),
)!;
const retired = HARBOR_RULES.find((r) => r.id === retiredId)!;
const newRules = [
  rule({
    id: 'n1',
    specVersionId: 'v2',
    statement: 'Name the harbour master when a docking permit is refused.',
    direction: retired.direction,
    stage: retired.stage,
    domain: 'permits',
    family: 'refusals-named',
  }),
  rule({
    id: 'n2',
    specVersionId: 'v2',
    statement: 'Do not quote tide tables older than a day.',
    direction: 'negative',
    stage: 'content',
    domain: 'tides',
    family: 'tide-freshness',
  }),
  rule({
    id: 'n3',
    specVersionId: 'v2',
    statement: 'Offer the port radio channel for emergencies.',
    direction: 'positive',
    stage: 'content',
    domain: 'safety',
    family: 'radio',
  }),
  rule({
    id: 'n4',
    specVersionId: 'v2',
    statement: 'Proposed only: not accepted.',
    direction: 'positive',
    stage: 'style',
    domain: 'tone',
    family: 'tone',
    status: 'proposed',
  }),
];

function plan(rules: readonly Rule[], changed: string[]) {
  return planDataUpdate({
    newVersionId: 'v2',
    oldInstances,
    oldLineages,
    newRules: rules,
    changedLineageIds: changed,
    seed: SEED,
  });
}

describe('planDataUpdate', () => {
  const rules = versionTwo([changedId], [retiredId], newRules);
  const result = plan(rules, [changedId]);

  it('keeps instances whose rules are all unchanged, with no tasks', () => {
    const kept = result.instances.filter((i) => i.kind === 'kept');
    const touchedOld = new Set(
      oldInstances
        .filter((i) => i.ruleIds.includes(changedId) || i.ruleIds.includes(retiredId))
        .map((i) => i.id),
    );
    expect(kept.map((i) => i.fromInstanceId)).toEqual(
      oldInstances.filter((i) => !touchedOld.has(i.id)).map((i) => i.id),
    );
    for (const k of kept) {
      const old = oldInstances.find((i) => i.id === k.fromInstanceId)!;
      expect([...k.draft.ruleIds].sort()).toEqual(old.ruleIds.map((id) => `v2:${id}`).sort());
      expect(k.targetRuleIds).toEqual([]);
    }
    expect(result.counts.kept).toBe(4);
  });

  it('repairs instances of changed and retired rules: changed reworded, retired slot refilled by a new rule', () => {
    const withChanged = result.instances.find((i) =>
      oldInstances.find((o) => o.id === i.fromInstanceId)?.ruleIds.includes(changedId),
    )!;
    expect(withChanged.kind).toBe('repaired');
    expect(withChanged.draft.ruleIds).toContain(`v2:${changedId}`);
    expect(withChanged.targetRuleIds).toContain(`v2:${changedId}`);
    expect(
      withChanged.targetRuleIds.every((id) => !id.startsWith('v2:') || id === `v2:${changedId}`),
    ).toBe(true);

    const withRetired = result.instances.find((i) =>
      oldInstances.find((o) => o.id === i.fromInstanceId)?.ruleIds.includes(retiredId),
    )!;
    const old = oldInstances.find((o) => o.id === withRetired.fromInstanceId)!;
    expect(withRetired.kind).toBe('repaired');
    expect(withRetired.removedLineageIds).toEqual([retiredId]);
    expect(withRetired.draft.ruleIds).toHaveLength(old.ruleIds.length);
    // n1 has the retired rule's stage and direction: it restores the instance's coverage.
    expect(withRetired.addedRuleIds).toEqual(['n1']);
    expect(withRetired.targetRuleIds).toEqual(['n1']);
    expect(withRetired.draft.coverage.stages).toContain(retired.stage);
  });

  it('places every accepted new or changed rule once in new instances around context rules', () => {
    const fresh = result.instances.filter((i) => i.kind === 'new');
    expect(fresh).toHaveLength(1);
    expect(fresh[0]!.targetRuleIds).toEqual(['n2', 'n3']);
    expect(fresh[0]!.draft.ruleIds.length).toBeGreaterThanOrEqual(8);
    expect(result.targetedRuleIds).toEqual(['n1', 'n2', 'n3', `v2:${changedId}`].sort());
    expect(result.unacceptedTouchedRuleIds).toEqual(['n4']);
    expect(result.warnings.join(' ')).toMatch(/1 new or changed rule\(s\) are not accepted/);
  });

  it('is deterministic and does not depend on the order of the rules', () => {
    expect(plan([...rules].reverse(), [changedId])).toEqual(result);
    expect(new Set(result.instances.map((i) => i.id)).size).toBe(result.instances.length);
  });

  it('plans tasks only for touched rules, exactly as a full run plans them for those rules', () => {
    const { tasks } = planDataUpdateTasks(result.instances, CONTROLS, SEED);
    const full = planTasks(
      result.instances.map((i) => ({ id: i.id, ruleIds: i.draft.ruleIds })),
      CONTROLS,
      SEED,
    ).tasks;
    const targets = new Set(
      result.instances.flatMap((i) => i.targetRuleIds.map((r) => `${i.id}/${r}`)),
    );
    const expected = full.filter((t) => targets.has(`${t.instanceId}/${t.ruleId}`));
    expect(tasks.map((t) => [t.key, t.seed, t.persona, t.caseType])).toEqual(
      expected.map((t) => [t.key, t.seed, t.persona, t.caseType]),
    );
    expect(tasks.map((t) => t.order)).toEqual(tasks.map((_, i) => i));
    expect(new Set(tasks.map((t) => t.ruleId))).toEqual(new Set(result.targetedRuleIds));
    expect(tasks.length).toBeGreaterThan(0);
    expect(tasks.length).toBeLessThan(full.length / 4);
  });

  it('plans nothing when the update touched no rule', () => {
    const none = plan(versionTwo([], []), []);
    expect(none.counts).toEqual({ kept: 6, repaired: 0, new: 0 });
    expect(planDataUpdateTasks(none.instances, CONTROLS, SEED).tasks).toEqual([]);
  });

  it('repairs an instance whose rule a reviewer rejected after the update, filling it from the pool', () => {
    const rejectedId = oldInstances[0]!.ruleIds[0]!;
    const rules = versionTwo([], []).map((r) =>
      r.lineageId === rejectedId ? { ...r, status: 'rejected' as const } : r,
    );
    const result = plan(rules, []);
    const first = result.instances[0]!;
    expect(first.kind).toBe('repaired');
    expect(first.removedLineageIds).toEqual([rejectedId]);
    // Nothing new to place: the slot stays empty while the instance keeps the smallest size.
    expect(first.draft.ruleIds.length).toBe(Math.max(8, oldInstances[0]!.ruleIds.length - 1));
    expect(first.targetRuleIds).toEqual([]);
  });
});
