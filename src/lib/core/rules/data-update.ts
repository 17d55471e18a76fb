/**
 * *Update data* (issue 11 §3): after a spec update is confirmed, plan synthesis only for what the
 * update touched — the new version's rules whose lineage is new or changed — in the instances of
 * the previous version's synthesis, carried to the new version. Pure: the worker reads the rows,
 * this module decides, the worker stores.
 *
 * Method (ours; the paper has no versions):
 * - Each instance of the previous run is mapped to the new version by lineage. An instance whose
 *   lineages all carried over unchanged is **kept**: the same rules (their new-version rows), no
 *   tasks — its accepted pairs stay as they are.
 * - An instance citing a changed or retired lineage (or a rule the new version no longer
 *   accepts) is **repaired**: changed rules are replaced by their new wording; each freed slot
 *   (retired or no longer accepted) takes the touched rule waiting to be placed that fits best
 *   by the sampler's own score (core/instances/sample.ts `instanceFitScore`: stage, direction,
 *   domain, family cap, usage; a rule restoring a stage the instance lost scores highest, so
 *   it keeps its coverage); a slot nothing fits stays empty unless the instance would fall below the smallest
 *   size, when the best-fitting accepted rule fills it (a context rule: no tasks of its own).
 * - Touched rules still in no instance (new rules, and changed rules no instance held) go into
 *   **new** instances sampled with the same sampler (`sampleInstances`), each pinning up to half
 *   the smallest size of them, so every new instance still has context rules around them.
 * - Tasks: the tasks a run with the previous run's controls and seed would plan over these
 *   instances (core/synthesis `planTasks`: keys, seeds, personas… as in a full run), kept only
 *   for the touched rules of each repaired or new instance. So a touched rule gets exactly the
 *   probes it would get in a full run, and nothing else is redone.
 * - New instances' ids and seeds derive from the previous run's seed and the new version
 *   (`${versionId}:u${seed}:${index}`): planning twice gives the same instances and task keys.
 */
import type { Rule, SpecInstance } from '../records';
import {
  canonicalOrder,
  compareIds,
  DEFAULT_MAX_PER_FAMILY,
  DEFAULT_MAX_SIZE,
  DEFAULT_MIN_SIZE,
  describeCoverage,
  instanceFitScore,
  sampleInstances,
  type InstanceDraft,
} from '../instances/sample';
import { subSeed } from '../instances/random';
import { planTasks, type ScenarioControls, type TaskDescriptor } from '../synthesis/controls';
import { lineageOf } from './lineage';

/** The id of a version's *Update data* run: one per version, so it is planned once. */
export function dataUpdateRunId(specVersionId: string): string {
  return `${specVersionId}:update-data`;
}

/** What became of an instance of the previous version. */
export type DataUpdateInstanceKind = 'kept' | 'repaired' | 'new';

/** One instance of the new version, as *Update data* plans it. */
export interface DataUpdateInstance {
  kind: DataUpdateInstanceKind;
  /** The new version's instance id (deterministic). */
  id: string;
  /** The previous version's instance it continues (kept and repaired). */
  fromInstanceId?: string;
  /** The instance as a draft of the new version's rules (canonical order). */
  draft: InstanceDraft;
  /** Rules of this instance that get tasks: new or changed lineages (sorted by id). */
  targetRuleIds: string[];
  /** Lineages that left the instance (retired or no longer accepted). */
  removedLineageIds: string[];
  /** Rules that came in for them, or to fill the instance. */
  addedRuleIds: string[];
}

export interface DataUpdateInput {
  /** The new version's id: new instances' ids derive from it. */
  newVersionId: string;
  /** The instances the previous version's synthesis used, in the run's order. */
  oldInstances: readonly Pick<SpecInstance, 'id' | 'ruleIds' | 'lineageIds'>[];
  /** Rule id → lineage id of the previous version's rules (for instances without `lineageIds`). */
  oldLineages: ReadonlyMap<string, string>;
  /** The new version's rules; only accepted ones are placed. */
  newRules: readonly Rule[];
  /** The update's changed lineages (reworded rules). */
  changedLineageIds: readonly string[];
  /** The previous run's seed: the same seed scheme as the original run. */
  seed: number;
  minSize?: number;
  maxSize?: number;
  maxPerFamily?: number;
}

export interface DataUpdatePlan {
  instances: DataUpdateInstance[];
  counts: Record<DataUpdateInstanceKind, number>;
  /** New-version rules whose lineage is new or changed (accepted or not), sorted. */
  touchedRuleIds: string[];
  /** Touched rules that are not accepted: they get no tasks until a reviewer accepts them. */
  unacceptedTouchedRuleIds: string[];
  /** Rules of new or changed lineage that get tasks somewhere. */
  targetedRuleIds: string[];
  warnings: string[];
}

/**
 * Plans the instances of *Update data*; see the module comment. Deterministic in its inputs;
 * the order of `newRules` does not matter.
 */
export function planDataUpdate(input: DataUpdateInput): DataUpdatePlan {
  const minSize = Math.max(1, Math.floor(input.minSize ?? DEFAULT_MIN_SIZE));
  const maxSize = Math.max(minSize, Math.floor(input.maxSize ?? DEFAULT_MAX_SIZE));
  const maxPerFamily = Math.max(1, Math.floor(input.maxPerFamily ?? DEFAULT_MAX_PER_FAMILY));
  const warnings: string[] = [];
  const rules = [...input.newRules].sort((a, b) => compareIds(a.id, b.id));
  const oldLineageSet = new Set(input.oldLineages.values());
  const changed = new Set(input.changedLineageIds);
  const accepted = rules.filter((r) => r.status === 'accepted');
  const acceptedByLineage = new Map<string, Rule>();
  for (const r of accepted)
    if (!acceptedByLineage.has(lineageOf(r))) acceptedByLineage.set(lineageOf(r), r);
  const isTouched = (r: Rule) => changed.has(lineageOf(r)) || !oldLineageSet.has(lineageOf(r));
  const touched = rules.filter(isTouched);
  const touchedIds = new Set(touched.map((r) => r.id));
  const unaccepted = touched.filter((r) => r.status !== 'accepted').map((r) => r.id);
  if (unaccepted.length)
    warnings.push(
      `${unaccepted.length} new or changed rule(s) are not accepted yet: they get no tasks until you accept them on the Rules step.`,
    );

  const usage = new Map<string, number>();
  const use = (id: string) => usage.set(id, (usage.get(id) ?? 0) + 1);
  const placedTouched = new Set<string>();
  const instances: DataUpdateInstance[] = [];

  // Kept and changed rules of the previous instances, by lineage.
  const mapped = input.oldInstances.map((old) => {
    const lineages =
      old.lineageIds && old.lineageIds.length === old.ruleIds.length
        ? old.lineageIds
        : old.ruleIds.map((id) => input.oldLineages.get(id) ?? id);
    const members: Rule[] = [];
    const removed: string[] = [];
    let touchedHere = false;
    for (const lineage of lineages) {
      const rule = acceptedByLineage.get(lineage);
      if (!rule || members.some((m) => m.id === rule.id)) {
        removed.push(lineage);
        touchedHere = true;
        continue;
      }
      members.push(rule);
      if (changed.has(lineage)) {
        touchedHere = true;
        placedTouched.add(rule.id);
      }
    }
    for (const m of members) use(m.id);
    return { old, members, removed, touchedHere };
  });

  // Retired slots take waiting touched rules (changed rules no instance held, new rules).
  const waiting = () => accepted.filter((r) => touchedIds.has(r.id) && !placedTouched.has(r.id));
  for (const [index, m] of mapped.entries()) {
    const added: string[] = [];
    if (m.touchedHere) {
      for (let slot = 0; slot < m.removed.length; slot++) {
        const pick = bestFit(waiting(), m.members, usage, maxPerFamily);
        if (pick) {
          m.members.push(pick);
          placedTouched.add(pick.id);
        } else if (m.members.length < minSize) {
          const inside = new Set(m.members.map((r) => r.id));
          const filler = bestFit(
            accepted.filter((r) => !inside.has(r.id) && !touchedIds.has(r.id)),
            m.members,
            usage,
            maxPerFamily,
          );
          if (!filler) continue;
          m.members.push(filler);
        } else continue;
        use(m.members[m.members.length - 1]!.id);
        added.push(m.members[m.members.length - 1]!.id);
      }
      if (m.members.length < minSize)
        warnings.push(
          `Instance ${index + 1} holds ${m.members.length} rules after the update, fewer than ${minSize}: the new version has too few accepted rules to fill it.`,
        );
    }
    const ruleIds = canonicalOrder(m.members);
    const targetRuleIds = m.touchedHere
      ? ruleIds.filter((id) => touchedIds.has(id)).sort(compareIds)
      : [];
    instances.push({
      kind: m.touchedHere ? 'repaired' : 'kept',
      id: `${input.newVersionId}:u${input.seed}:${index}`,
      fromInstanceId: m.old.id,
      draft: draftOf(index, input.seed, ruleIds, m.members, ruleIds.length),
      targetRuleIds,
      removedLineageIds: [...m.removed],
      addedRuleIds: added.sort(compareIds),
    });
  }

  // Touched rules still in no instance: new instances around them, sampled as usual.
  const left = waiting();
  const perInstance = Math.max(1, Math.floor(minSize / 2));
  for (let g = 0; g * perInstance < left.length; g++) {
    const group = left.slice(g * perInstance, (g + 1) * perInstance).map((r) => r.id);
    const index = instances.length;
    const sample = sampleInstances(accepted, {
      count: 1,
      seed: subSeed(input.seed, 'update-data', input.newVersionId, g),
      minSize,
      maxSize,
      maxPerFamily,
      pinnedRuleIds: group,
    });
    const draft = sample.instances[0];
    if (!draft) continue;
    const byId = new Map(accepted.map((r) => [r.id, r]));
    const members = draft.ruleIds.map((id) => byId.get(id)!);
    for (const id of group) placedTouched.add(id);
    instances.push({
      kind: 'new',
      id: `${input.newVersionId}:u${input.seed}:${index}`,
      draft: draftOf(index, input.seed, draft.ruleIds, members, draft.targetSize, draft.warnings),
      targetRuleIds: [...group].sort(compareIds),
      removedLineageIds: [],
      addedRuleIds: [...draft.ruleIds].sort(compareIds),
    });
  }

  const counts: Record<DataUpdateInstanceKind, number> = { kept: 0, repaired: 0, new: 0 };
  for (const i of instances) counts[i.kind]++;
  return {
    instances,
    counts,
    touchedRuleIds: touched.map((r) => r.id),
    unacceptedTouchedRuleIds: unaccepted,
    targetedRuleIds: [...new Set(instances.flatMap((i) => i.targetRuleIds))].sort(compareIds),
    warnings,
  };
}

/** The best-fitting rule of `pool` for an instance holding `members`, or undefined. */
function bestFit(
  pool: readonly Rule[],
  members: readonly Rule[],
  usage: ReadonlyMap<string, number>,
  maxPerFamily: number,
): Rule | undefined {
  let best: Rule | undefined;
  let bestScore = -Infinity;
  for (const r of pool) {
    const score = instanceFitScore(r, members, usage.get(r.id) ?? 0, maxPerFamily);
    if (score === undefined) continue;
    // Ties (equal score) go to the lower id: the pool is in id order and `>` keeps the first.
    if (score > bestScore) {
      best = r;
      bestScore = score;
    }
  }
  return best;
}

function draftOf(
  index: number,
  seed: number,
  ruleIds: string[],
  members: readonly Rule[],
  targetSize: number,
  warnings: string[] = [],
): InstanceDraft {
  return {
    index,
    seed,
    ruleIds,
    targetSize,
    coverage: describeCoverage(members),
    warnings: [...warnings],
  };
}

/** The tasks *Update data* plans, and those a full run over the same instances would. */
export interface DataUpdateTasks {
  /** Only the touched rules' tasks of repaired and new instances, renumbered in queue order. */
  tasks: TaskDescriptor[];
  warnings: string[];
}

/**
 * The tasks of *Update data*: `planTasks` over every planned instance with the previous run's
 * controls and seed, kept only for each instance's target rules. Keys and seeds are those a full
 * run would give the same instance and rule, so they never depend on what else was touched.
 */
export function planDataUpdateTasks(
  instances: readonly Pick<DataUpdateInstance, 'id' | 'draft' | 'targetRuleIds'>[],
  controls: Partial<ScenarioControls>,
  seed: number,
): DataUpdateTasks {
  const targets = new Map(instances.map((i) => [i.id, new Set(i.targetRuleIds)]));
  const plan = planTasks(
    instances
      .filter((i) => i.targetRuleIds.length > 0)
      .map((i) => ({ id: i.id, ruleIds: i.draft.ruleIds })),
    controls,
    seed,
  );
  const tasks = plan.tasks
    .filter((t) => targets.get(t.instanceId)?.has(t.ruleId))
    .map((t, order) => ({ ...t, order }));
  return { tasks, warnings: plan.warnings };
}
