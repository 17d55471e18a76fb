/**
 * *Update data* in the database (issue 11 §3): after a spec update is confirmed, plan synthesis
 * only for the new and changed rules (core/rules/data-update.ts), with the previous version's
 * latest synthesis run's controls, seed and loop options, and show its estimate next to a full
 * rerun's with the same settings. Starting it stores the new version's instances and one run,
 * whose id is fixed per version: planning twice, or after a reload mid-planning, finds that run
 * instead of adding another (the run and its tasks are written in one transaction).
 */
import { SpecAlignError } from '$lib/core/errors';
import { materializeInstance, sampleInstances, type InstanceDraft } from '$lib/core/instances';
import type { Rule, RunStatus, SpecInstance } from '$lib/core/records';
import {
  dataUpdateRunId,
  planDataUpdate,
  planDataUpdateTasks,
  type DataUpdateInstanceKind,
  type DataUpdatePlan,
} from '$lib/core/rules/data-update';
import { lineageMap } from '$lib/core/rules/lineage';
import {
  estimateRun,
  examplesByRule,
  planTasks,
  type RunEstimate,
  type SynthesisInstance,
  type TaskDescriptor,
} from '$lib/core/synthesis';
import { waveWidthFor } from '$lib/core/run-schedule';
import type { SpecAlignDb } from '$lib/db/database';
import { guardStorage } from '$lib/db/errors';
import { configsForRun } from './runs/runner';
import {
  createSynthesisRun,
  DEFAULT_TOKENS_PER_SECOND,
  perModelEstimate,
  readConfig,
  versionExamples,
  type SynthesisEstimateOptions,
  type SynthesisRoles,
  type SynthesisRolesInput,
  type SynthesisRunConfig,
} from './runs/synthesis-plan';
import { estimateOptions, estimateSpeed } from './synthesis-service';

export { dataUpdateRunId };

/** *Update data* cannot be planned; the message says why and what to do. */
export class DataUpdateError extends SpecAlignError {}

/** The figures compared side by side. */
export interface EstimateFigures {
  tasks: number;
  promptTokens: number;
  completionTokens: number;
  timeMs: number;
  expectedPairs: number;
  /** USD, when a role has a price. */
  cost?: RunEstimate['cost'];
}

export interface DataUpdatePreview {
  fromVersionNumber: number;
  toVersionNumber: number;
  /** The previous version's run whose settings are reused. */
  sourceRunId: string;
  instances: Record<DataUpdateInstanceKind, number>;
  /** New or changed rules, and those of them not accepted (no tasks until accepted). */
  touchedRules: number;
  unacceptedRules: number;
  targetedRules: number;
  update: EstimateFigures;
  /** A full rerun: the same number of instances re-sampled from the new version, same controls. */
  full: EstimateFigures;
  warnings: string[];
  /** The *Update data* run, once planned. */
  run?: { id: string; status: RunStatus; total: number; done: number; failed: number };
}

interface Context {
  projectId: string;
  versionId: string;
  fromVersionId: string;
  fromVersionNumber: number;
  toVersionNumber: number;
  source: { id: string; config: SynthesisRunConfig };
  plan: DataUpdatePlan;
  newRules: Rule[];
  sizes: { minSize: number; maxSize: number };
  oldCount: number;
}

/** The previous version's latest synthesis run with a readable config, if any. */
async function sourceRun(db: SpecAlignDb, projectId: string, fromVersionId: string) {
  const runs = await db.runs.where('[projectId+kind]').equals([projectId, 'synthesize']).toArray();
  for (const run of runs.sort((a, b) => b.createdAt - a.createdAt)) {
    if ((run.config as { specVersionId?: string }).specVersionId !== fromVersionId) continue;
    try {
      return { id: run.id, config: readConfig(run.config, run.id) };
    } catch {
      continue; // an unreadable config says nothing about the settings; try an older run
    }
  }
  return undefined;
}

/**
 * The instances the data of `fromVersionId` was generated on: those of every synthesis run on it
 * (not only the latest, which may have covered a few rules). When one of them was itself an
 * *Update data* run — `fromVersionId` was updated from an earlier version — every instance that
 * update stored counts too: its run lists only the instances that got tasks, and the kept ones
 * carry their predecessors' pairs.
 */
async function sourceInstanceIds(
  db: SpecAlignDb,
  projectId: string,
  fromVersionId: string,
): Promise<string[]> {
  const runs = await db.runs.where('[projectId+kind]').equals([projectId, 'synthesize']).toArray();
  const ids = new Set<string>();
  let updated = false;
  for (const run of runs.sort((a, b) => a.createdAt - b.createdAt)) {
    if ((run.config as { specVersionId?: string }).specVersionId !== fromVersionId) continue;
    try {
      const config = readConfig(run.config, run.id);
      for (const id of config.instanceIds) ids.add(id);
      if (config.dataUpdate) updated = true;
    } catch {
      continue; // an unreadable config names no instances
    }
  }
  if (updated)
    for (const id of await db.instances.where('specVersionId').equals(fromVersionId).primaryKeys())
      ids.add(id as string);
  return [...ids];
}

async function context(db: SpecAlignDb, projectId: string, versionId: string): Promise<Context> {
  const version = await db.specVersions.get(versionId);
  if (!version || version.projectId !== projectId)
    throw new DataUpdateError('That spec version no longer exists in this project.');
  if (!version.update)
    throw new DataUpdateError(
      `v${version.versionNumber} has not been updated from an earlier version: confirm an update first.`,
    );
  const from = await db.specVersions.get(version.update.fromVersionId);
  if (!from) throw new DataUpdateError('The version this one was updated from no longer exists.');
  const source = await sourceRun(db, projectId, from.id);
  if (!source)
    throw new DataUpdateError(
      `No pairs were generated on v${from.versionNumber}: there is no data to update. Generate on v${version.versionNumber} instead.`,
    );
  const sourceIds = await sourceInstanceIds(db, projectId, from.id);
  const [stored, oldRules, newRules] = await Promise.all([
    db.instances.bulkGet(sourceIds),
    db.rules.where('specVersionId').equals(from.id).toArray(),
    db.rules.where('specVersionId').equals(version.id).toArray(),
  ]);
  const oldInstances = stored.filter((i): i is SpecInstance => i !== undefined);
  if (!oldInstances.length)
    throw new DataUpdateError(
      `The instances of v${from.versionNumber}'s last run were deleted: sample instances on v${version.versionNumber} and generate instead.`,
    );
  // The sizes the previous instances were sampled with are not stored: their range is used.
  const sizes = oldInstances.map((i) => i.ruleIds.length);
  const minSize = Math.min(...sizes);
  const maxSize = Math.max(...sizes);
  const plan = planDataUpdate({
    newVersionId: version.id,
    oldInstances,
    oldLineages: lineageMap(oldRules),
    newRules,
    changedLineageIds: version.update.changedLineageIds ?? [],
    seed: source.config.seed,
    minSize,
    maxSize,
  });
  if (oldInstances.length < sourceIds.length)
    plan.warnings.push(
      `${sourceIds.length - oldInstances.length} instance(s) of earlier runs were deleted since; they are left out.`,
    );
  return {
    projectId,
    versionId: version.id,
    fromVersionId: from.id,
    fromVersionNumber: from.versionNumber,
    toVersionNumber: version.versionNumber,
    source,
    plan,
    newRules,
    sizes: { minSize, maxSize },
    oldCount: oldInstances.length,
  };
}

/** Drafts as storable instances of the new version (rendered prompts), by id. */
function materialize(
  ctx: Context,
  drafts: readonly { id: string; draft: InstanceDraft }[],
  now: number,
): SpecInstance[] {
  const byId = new Map(ctx.newRules.map((r) => [r.id, r]));
  return drafts.map(
    ({ id, draft }) =>
      materializeInstance(draft, byId, {
        id,
        projectId: ctx.projectId,
        specVersionId: ctx.versionId,
        createdAt: now,
      }).instance,
  );
}

async function figures(
  db: SpecAlignDb,
  ctx: Context,
  tasks: readonly TaskDescriptor[],
  instances: readonly SpecInstance[],
  options: SynthesisEstimateOptions,
): Promise<EstimateFigures> {
  const byId = new Map(ctx.newRules.map((r) => [r.id, r]));
  const synthesis = new Map<string, SynthesisInstance>(
    instances.map((i) => [
      i.id,
      {
        id: i.id,
        specVersionId: i.specVersionId,
        rules: i.ruleIds.map((id) => byId.get(id)!),
        systemPrompt: i.systemPrompt,
      },
    ]),
  );
  const rules = [
    ...new Map([...synthesis.values()].flatMap((i) => i.rules.map((r) => [r.id, r]))).values(),
  ];
  const estimate = estimateRun({
    tasks,
    instances: synthesis,
    examples: examplesByRule(rules, await versionExamples(db, ctx.versionId)),
    tokensPerSecond: options.tokensPerSecond ?? DEFAULT_TOKENS_PER_SECOND,
    // The source run's loop (its attack rounds too: the update run reuses them) and roles.
    maxCandidateAttempts: ctx.source.config.loop.maxCandidateAttempts,
    attackRounds: ctx.source.config.loop.attackRounds,
    ...(options.promptTokensPerSecond !== undefined
      ? { promptTokensPerSecond: options.promptTokensPerSecond }
      : {}),
    ...(options.inFlight !== undefined ? { inFlight: options.inFlight } : {}),
    ...(options.observedYield ? { observedYield: options.observedYield } : {}),
    ...(options.prices ? { prices: options.prices } : {}),
    ...perModelEstimate(options.models, ctx.source.config.roles),
  });
  return {
    tasks: estimate.tasks,
    promptTokens: estimate.promptTokens,
    completionTokens: estimate.completionTokens,
    timeMs: estimate.timeMs,
    expectedPairs: estimate.expectedPairs,
    ...(estimate.cost ? { cost: estimate.cost } : {}),
  };
}

/** The plan's instances that get tasks, and the target rules of each. */
function targets(plan: DataUpdatePlan): Record<string, string[]> {
  return Object.fromEntries(
    plan.instances.filter((i) => i.targetRuleIds.length).map((i) => [i.id, i.targetRuleIds]),
  );
}

/**
 * What *Update data* would plan for `versionId`, with its estimate next to a full rerun's; the
 * run's progress once it was started. Writes nothing.
 *
 * @throws DataUpdateError when the version was not updated or its predecessor has no run.
 */
export async function previewDataUpdate(
  db: SpecAlignDb,
  projectId: string,
  versionId: string,
  speed: { tokensPerSecond?: number; promptTokensPerSecond?: number } = {},
): Promise<DataUpdatePreview> {
  const ctx = await context(db, projectId, versionId);
  const { plan, source } = ctx;
  const roles = rolesOf(source.config.roles);
  const options = await estimateOptions(
    db,
    projectId,
    await estimateSpeed(db, projectId, speed),
    speed,
    roles ? { roles } : {},
  );
  const now = Date.now();
  const instances = materialize(ctx, plan.instances, now);
  const { tasks, warnings } = planDataUpdateTasks(
    plan.instances,
    source.config.controls,
    source.config.seed,
  );
  // A full rerun with the same settings: as many instances, re-sampled from the new version's
  // accepted rules with the same seed and sizes, every rule probed.
  const sample = sampleInstances(
    ctx.newRules.filter((r) => r.status === 'accepted'),
    { count: ctx.oldCount, seed: source.config.seed, ...ctx.sizes },
  );
  const fullInstances = materialize(
    ctx,
    sample.instances.map((draft) => ({ id: `full:${draft.index}`, draft })),
    now,
  );
  const fullTasks = planTasks(fullInstances, source.config.controls, source.config.seed).tasks;
  const run = await db.runs.get(dataUpdateRunId(versionId));
  return {
    fromVersionNumber: ctx.fromVersionNumber,
    toVersionNumber: ctx.toVersionNumber,
    sourceRunId: source.id,
    instances: plan.counts,
    touchedRules: plan.touchedRuleIds.length,
    unacceptedRules: plan.unacceptedTouchedRuleIds.length,
    targetedRules: plan.targetedRuleIds.length,
    update: await figures(db, ctx, tasks, instances, options),
    full: await figures(db, ctx, fullTasks, fullInstances, options),
    warnings: [...plan.warnings, ...warnings],
    ...(run
      ? {
          run: {
            id: run.id,
            status: run.status,
            total: run.progress.total,
            done: run.progress.done,
            failed: run.progress.failed,
          },
        }
      : {}),
  };
}

/**
 * Stores the new version's instances and the *Update data* run (queued; start it with the
 * runner). Idempotent: when the run exists it is returned as it is.
 *
 * @throws DataUpdateError when nothing needs new data (no accepted new or changed rule).
 */
export async function startDataUpdate(
  db: SpecAlignDb,
  projectId: string,
  versionId: string,
  speed: { tokensPerSecond?: number; promptTokensPerSecond?: number } = {},
): Promise<{ runId: string; tasks: number; created: boolean }> {
  const runId = dataUpdateRunId(versionId);
  const existing = await db.runs.get(runId);
  if (existing) return { runId, tasks: existing.progress.total, created: false };
  const ctx = await context(db, projectId, versionId);
  const goal = targets(ctx.plan);
  if (!Object.keys(goal).length)
    throw new DataUpdateError(
      ctx.plan.unacceptedTouchedRuleIds.length
        ? `The new and changed rules of v${ctx.toVersionNumber} are not accepted yet: accept them on the Rules step, then update the data.`
        : `The update changed no rule that data depends on: v${ctx.fromVersionNumber}'s pairs still hold.`,
    );
  const instances = materialize(ctx, ctx.plan.instances, Date.now());
  // The instances first (same ids and content every time: a second write changes nothing), then
  // the run with its tasks in one transaction. A reload between the two just writes them again.
  await guardStorage(() =>
    db.transaction('rw', db.instances, async () => {
      const present = new Set(
        (await db.instances.bulkGet(instances.map((i) => i.id)))
          .filter((i) => i !== undefined)
          .map((i) => i.id),
      );
      await db.instances.bulkAdd(instances.filter((i) => !present.has(i.id)));
    }),
  );
  const roles = rolesOf(ctx.source.config.roles);
  const waveWidth = waveWidthFor([
    ...(await configsForRun(db, projectId, 'synthesize')),
    ...(roles?.defenderTarget ? [roles.defenderTarget] : []),
    ...(roles?.rotate ?? []),
  ]);
  const created = await createSynthesisRun(
    db,
    projectId,
    {
      runId,
      specVersionId: versionId,
      instanceIds: Object.keys(goal),
      targetRuleIds: goal,
      controls: ctx.source.config.controls,
      seed: ctx.source.config.seed,
      loop: ctx.source.config.loop,
      waveWidth,
      dataUpdate: { fromVersionId: ctx.fromVersionId, sourceRunId: ctx.source.id },
      ...(roles ? { roles } : {}),
    },
    await estimateOptions(
      db,
      projectId,
      await estimateSpeed(db, projectId, speed),
      speed,
      roles ? { roles } : {},
    ),
  ).catch(async (error: unknown) => {
    // Another tab planned the same run meanwhile: its run (and tasks) stand, nothing doubles.
    const raced = await db.runs.get(runId);
    if (raced) return undefined;
    throw error;
  });
  if (!created) {
    const raced = (await db.runs.get(runId))!;
    return { runId, tasks: raced.progress.total, created: false };
  }
  return { runId, tasks: created.tasks.length, created: true };
}

/**
 * The source run's role options (on-policy defender, rotation) as planning input, so *Update
 * data* plays the same models in the same parts as the run it extends.
 */
function rolesOf(stored: SynthesisRoles | undefined): SynthesisRolesInput | undefined {
  if (!stored) return undefined;
  const target = stored.defenderTarget ? stored.models[stored.defenderTarget] : undefined;
  const rotate = stored.rotate.flatMap((key) => (stored.models[key] ? [stored.models[key]] : []));
  return target || rotate.length
    ? { ...(target ? { defenderTarget: target } : {}), ...(rotate.length ? { rotate } : {}) }
    : undefined;
}

/**
 * Makes a cancelled or failed *Update data* run resumable again: its id is one per version, so it
 * cannot be planned anew. It goes back to paused with its tasks as they are (finished ones stay
 * finished); start it with the runner. Returns the run's id.
 *
 * @throws DataUpdateError when the version has no *Update data* run.
 */
export async function reopenDataUpdate(
  db: SpecAlignDb,
  projectId: string,
  versionId: string,
): Promise<string> {
  const runId = dataUpdateRunId(versionId);
  await guardStorage(() =>
    db.transaction('rw', db.runs, async () => {
      const run = await db.runs.get(runId);
      if (!run || run.projectId !== projectId)
        throw new DataUpdateError('This version has no Update data run to finish.');
      if (run.status === 'cancelled' || run.status === 'failed')
        await db.runs.update(runId, { status: 'paused', error: undefined, updatedAt: Date.now() });
    }),
  );
  return runId;
}
