/**
 * Evaluation as a resumable run (METHOD.md §5), kind `evaluate`: the worker's glue around core's
 * step machine (`core/evaluation/steps.ts`, `nextEvalStep`), in two modes:
 *
 * - **rcs**: one task per held-out query (keyed by the query's hash). The queries come from the
 *   project's pairs or from an imported eval set file (`eval-set-service.ts`); an imported query
 *   of an instance the project lacks is answered and judged under the system prompt the file
 *   stored, with rule labels read from that text.
 * - **calibration**: one task per reply of the spec's worked examples.
 *
 * This file plans and stores runs, resolves each step's instance prompt and rules from the
 * database, and merges a finished item into the run's one `evaluations` row, with the recomputed
 * summary, in the checkpoint's transaction: a reload never loses or double-counts an item.
 */
import type { AgentRole, EngineConfig } from '$lib/core/engine-config';
import { SpecAlignError } from '$lib/core/errors';
import {
  buildCalibrationItems,
  buildEvalItems,
  computeRcs,
  describeEvalState,
  labelRulesFromPrompt,
  nextEvalStep,
  summariseCalibration,
  type CalibrationResult,
  type CalibrationSummary,
  type CalibrationTaskState,
  type EvalItem,
  type EvalItemResult,
  type EvalItemOptions,
  type EvalPromptContext,
  type EvalSetSummary,
  type EvalStepResult,
  type RcsSummary,
  type RcsTaskState,
  type RuleMeta,
} from '$lib/core/evaluation';
import { labelInstanceRules } from '$lib/core/instances/render';
import type { ChatEngine, TokenUsage } from '$lib/core/llm';
import type { Evaluation, Rule, Run, Task } from '$lib/core/records';
import {
  calibrationTaskStateSchema,
  evaluationRunConfigSchema,
  rcsTaskStateSchema,
  readEvaluationResults,
  readRecord,
} from '$lib/core/stored';
import type { SpecAlignDb } from '$lib/db/database';
import { guardStorage } from '$lib/db/errors';
import { lookupLineages } from '$lib/db/lineage';
import { lineagesOf } from '$lib/core/rules/lineage';
import type { RunHandler, StepContext, StepOutcome } from './types';

/** The evaluation cannot be planned; the message says what to change. */
export class EvaluationConfigError extends SpecAlignError {}

/** What the Evaluate screen asks for (an RCS run on the project's pairs). */
export type EvaluationRequest = EvalItemOptions;

/**
 * An RCS run on an imported eval set file: the file's name and counts, for display. The items
 * themselves live only in the run's tasks.
 */
export interface ImportedEvalSetRequest extends EvalSetSummary {
  source: 'imported';
  fileName: string;
}

export interface RcsRunConfig {
  /** Shape version (core/stored/runs.ts); configs stored without it are version 1. */
  v: 1;
  mode: 'rcs';
  evaluationId: string;
  request: EvaluationRequest | ImportedEvalSetRequest;
  targetEngineId: string;
}
export interface CalibrationRunConfig {
  v: 1;
  mode: 'calibration';
  evaluationId: string;
  specVersionId: string;
  judgeEngineId: string;
}
export type EvaluationRunConfig = RcsRunConfig | CalibrationRunConfig;

/** `Evaluation.results` of an RCS run. */
export interface RcsResults {
  /**
   * Shape version (core/stored/evaluation.ts); results stored without it are version 1. Version
   * 2: each item checks every rule of its instance (a check may be `not-applicable`).
   */
  v: 1 | 2;
  mode: 'rcs';
  label: string;
  /** Rules as they were when the run was planned (the summary must not move if one is edited). */
  rules: Record<string, RuleMeta>;
  items: Record<string, EvalItemResult & { judge: string }>;
  summary: RcsSummary;
  /** Items that failed their schema when read (messages); they count nowhere. */
  corrupt?: string[];
}
/** `Evaluation.results` of a calibration run. */
export interface CalibrationResults {
  /** Version 2: each reply was judged in one checklist call (same item shape as version 1). */
  v: 1 | 2;
  mode: 'calibration';
  label: string;
  unmapped: number;
  items: Record<string, CalibrationResult & { title: string }>;
  summary: CalibrationSummary;
  corrupt?: string[];
}
export type EvaluationResults = RcsResults | CalibrationResults;

/** The evaluation row id of a run. */
export function evaluationIdOf(runId: string): string {
  return `${runId}:evaluation`;
}

/** The held-out items an RCS run would score, and the rules they test. */
export async function planEvaluation(
  db: SpecAlignDb,
  projectId: string,
  request: EvaluationRequest,
): Promise<{ items: EvalItem[]; rules: Record<string, RuleMeta> }> {
  const [pairs, instances] = await Promise.all([
    db.pairs.where('projectId').equals(projectId).toArray(),
    db.instances.where('projectId').equals(projectId).toArray(),
  ]);
  const items = buildEvalItems(pairs, instances, request);
  return { items, rules: await ruleMetaOf(db, items) };
}

/**
 * A snapshot of the rules `items` are judged on (what the summary groups by): each item's own
 * rules and, for items of this project's instances, every rule of the instance (the checklist).
 */
export async function ruleMetaOf(
  db: SpecAlignDb,
  items: readonly EvalItem[],
): Promise<Record<string, RuleMeta>> {
  const own = items.filter((i) => i.system === undefined).map((i) => i.instanceId);
  const instances = await db.instances.bulkGet([...new Set(own)]);
  const ids = new Set([
    ...items.flatMap((i) => i.ruleIds),
    ...instances.flatMap((inst) => inst?.ruleIds ?? []),
  ]);
  const found = await db.rules.bulkGet([...ids]);
  const rules: Record<string, RuleMeta> = {};
  for (const r of found)
    if (r) rules[r.id] = { statement: r.statement, family: r.family, stage: r.stage };
  return rules;
}

async function storeRun(
  db: SpecAlignDb,
  run: Run,
  evaluation: Evaluation,
  states: { key: string; state: unknown }[],
): Promise<void> {
  const cited = (state: unknown) => (state as { item?: { ruleIds?: string[] } }).item?.ruleIds;
  const lineage = await lookupLineages(
    db,
    states.flatMap(({ state }) => cited(state) ?? []),
  );
  const tasks: Task[] = states.map(({ key, state }, order) => ({
    id: `${run.id}:${order}`,
    ...(cited(state) ? { lineageIds: lineagesOf(cited(state) ?? [], lineage) } : {}),
    runId: run.id,
    projectId: run.projectId,
    key,
    order,
    status: 'pending',
    attempts: 0,
    updatedAt: run.createdAt,
    state,
  }));
  await guardStorage(() =>
    db.transaction('rw', [db.runs, db.tasks, db.evaluations], async () => {
      await db.runs.add(run);
      await db.tasks.bulkAdd(tasks);
      await db.evaluations.add(evaluation);
    }),
  );
}

function newRun(projectId: string, config: EvaluationRunConfig, total: number, now: number): Run {
  return {
    id: config.evaluationId.replace(/:evaluation$/, ''),
    projectId,
    kind: 'evaluate',
    status: 'queued',
    config,
    createdAt: now,
    updatedAt: now,
    progress: { done: 0, failed: 0, total },
    usage: { promptTokens: 0, completionTokens: 0 },
  };
}

/**
 * Stores an RCS run: one task per held-out item, and its evaluation row (empty results).
 * @throws EvaluationConfigError when no item is held out.
 */
export async function createEvaluationRun(
  db: SpecAlignDb,
  projectId: string,
  request: EvaluationRequest,
  target: { engine: ChatEngine; config: EngineConfig },
): Promise<{ run: Run; items: number }> {
  const { items, rules } = await planEvaluation(db, projectId, request);
  if (!items.length)
    throw new EvaluationConfigError(
      request.source === 'test-split'
        ? 'No held-out queries: no pair belongs to a test-split instance or is marked for evaluation. Raise the test fraction, sample more instances, or evaluate on all pairs.'
        : 'No pairs to evaluate on yet: generate pairs on the Generate step (or include unreviewed pairs).',
    );
  return storeRcsRun(db, projectId, { items, rules, request }, target);
}

/**
 * Stores an RCS run of `plan.items` (one task each, holding the item) and its evaluation row.
 * Shared by runs on the project's pairs and on an imported eval set.
 */
export async function storeRcsRun(
  db: SpecAlignDb,
  projectId: string,
  plan: {
    items: readonly EvalItem[];
    rules: Record<string, RuleMeta>;
    request: RcsRunConfig['request'];
  },
  target: { engine: ChatEngine; config: EngineConfig },
): Promise<{ run: Run; items: number }> {
  const { items, rules, request } = plan;
  const id = crypto.randomUUID();
  const now = Date.now();
  const config: RcsRunConfig = {
    v: 1,
    mode: 'rcs',
    evaluationId: evaluationIdOf(id),
    request,
    targetEngineId: target.engine.id,
  };
  const run = newRun(projectId, config, items.length, now);
  const from = request.source === 'imported' ? ` · ${request.fileName}` : '';
  const results: RcsResults = {
    v: 2,
    mode: 'rcs',
    label: `${target.config.model}${from} · ${new Date(now).toLocaleString()}`,
    rules,
    items: {},
    summary: computeRcs([], rules),
  };
  await storeRun(
    db,
    run,
    {
      id: config.evaluationId,
      projectId,
      runId: id,
      target: target.config,
      createdAt: now,
      results: { ...results },
    },
    items.map((item) => ({
      key: item.key,
      state: { v: 2, item, checks: [], overRefusal: false } satisfies RcsTaskState,
    })),
  );
  return { run, items: items.length };
}

/**
 * Stores a judge-calibration run over a spec version's worked examples.
 * @throws EvaluationConfigError when no example maps to a rule.
 */
export async function createCalibrationRun(
  db: SpecAlignDb,
  projectId: string,
  specVersionId: string,
  judge: { engine: ChatEngine; config: EngineConfig },
): Promise<{ run: Run; items: number; unmapped: number }> {
  const [examples, rules] = await Promise.all([
    db.specExamples.where('specVersionId').equals(specVersionId).toArray(),
    db.rules.where('specVersionId').equals(specVersionId).toArray(),
  ]);
  const plan = buildCalibrationItems(examples, rules);
  if (!plan.items.length)
    throw new EvaluationConfigError(
      examples.length
        ? 'No worked example maps to a rule: annotate the sections that hold the examples first.'
        : 'This spec version has no worked examples with GOOD/BAD replies to calibrate the judge on.',
    );
  const id = crypto.randomUUID();
  const now = Date.now();
  const config: CalibrationRunConfig = {
    v: 1,
    mode: 'calibration',
    evaluationId: evaluationIdOf(id),
    specVersionId,
    judgeEngineId: judge.engine.id,
  };
  const run = newRun(projectId, config, plan.items.length, now);
  const results: CalibrationResults = {
    v: 2,
    mode: 'calibration',
    label: `${judge.config.model} · ${new Date(now).toLocaleString()}`,
    unmapped: plan.unmapped,
    items: {},
    summary: summariseCalibration([]),
  };
  await storeRun(
    db,
    run,
    {
      id: config.evaluationId,
      projectId,
      runId: id,
      target: judge.config,
      createdAt: now,
      results: { ...results },
    },
    plan.items.map((item) => ({
      key: item.key,
      state: { v: 2, item, violated: false } satisfies CalibrationTaskState,
    })),
  );
  return { run, items: plan.items.length, unmapped: plan.unmapped };
}

function byRole(role: AgentRole, usage: TokenUsage): StepOutcome['usageByRole'] {
  return { [role]: usage };
}

/** Merges one item into the run's evaluation row (inside the checkpoint's transaction). */
function writeItem(evaluationId: string, apply: (results: EvaluationResults) => void) {
  return async (db: SpecAlignDb) => {
    const row = await db.evaluations.get(evaluationId);
    if (!row) return;
    const results = structuredClone(row.results) as unknown as EvaluationResults;
    apply(results);
    await db.evaluations.put({ ...row, results: results as unknown as Record<string, unknown> });
  };
}

export function evaluationHandler(run: Run): RunHandler {
  const read = readRecord(evaluationRunConfigSchema, run.config, {
    table: 'runs.config',
    id: run.id,
  });
  // A corrupt config fails the run with a message naming the field.
  if (!read.ok) throw read.error;
  const config = read.value as EvaluationRunConfig;
  return config.mode === 'calibration' ? calibrationHandler(config) : rcsHandler(config);
}

/**
 * Items finish in any order when several are in flight: kept sorted by key, so the row and the
 * summary's sums do not depend on timing.
 */
function byKey<T>(items: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(items).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The evaluation row's update for a finished item (applied in the checkpoint's transaction). */
function recordItem(config: EvaluationRunConfig, result: EvalStepResult): Partial<StepOutcome> {
  const { rcsItem, calibrationItem } = result;
  if (rcsItem)
    return {
      tables: ['evaluations'],
      write: writeItem(config.evaluationId, (results) => {
        if (results.mode !== 'rcs') return;
        results.items = byKey({ ...results.items, [rcsItem.key]: rcsItem });
        results.summary = computeRcs(Object.values(results.items), results.rules);
      }),
    };
  if (calibrationItem)
    return {
      tables: ['evaluations'],
      write: writeItem(config.evaluationId, (results) => {
        if (results.mode !== 'calibration') return;
        results.items = byKey({ ...results.items, [calibrationItem.key]: calibrationItem });
        results.summary = summariseCalibration(Object.values(results.items));
      }),
    };
  return {};
}

/** A core step result as the executor's outcome. */
function toOutcome(config: EvaluationRunConfig, result: EvalStepResult): StepOutcome {
  return {
    done: result.done,
    step: result.step,
    ...(result.state ? { state: result.state } : {}),
    ...(result.failure !== undefined ? { failure: result.failure } : {}),
    ...(result.usage ? { usage: result.usage } : {}),
    ...(result.usage && result.role ? { usageByRole: byRole(result.role, result.usage) } : {}),
    ...(result.engineMs !== undefined ? { engineMs: result.engineMs } : {}),
    ...recordItem(config, result),
  };
}

function rcsHandler(config: RcsRunConfig): RunHandler {
  // Instance prompts and labels, read once per session (instances do not change under a run).
  const instances = new Map<string, EvalPromptContext>();
  async function instance(db: SpecAlignDb, id: string) {
    const cached = instances.get(id);
    if (cached) return cached;
    const record = await db.instances.get(id);
    if (!record) return undefined;
    const rules = (await db.rules.bulkGet(record.ruleIds)).filter((r): r is Rule => !!r);
    const labels = new Map(labelInstanceRules(rules).map((l) => [l.rule.id, l.label]));
    const value = {
      prompt: record.systemPrompt,
      labels,
      rules: new Map(rules.map((r) => [r.id, r])),
    };
    instances.set(id, value);
    return value;
  }
  /** An imported item of an instance this project lacks: its own system text, the project's rules. */
  async function imported(db: SpecAlignDb, system: string, ruleIds: string[]) {
    const rules = (await db.rules.bulkGet(ruleIds)).filter((r): r is Rule => !!r);
    return {
      prompt: system,
      labels: labelRulesFromPrompt(system, rules),
      rules: new Map(rules.map((r) => [r.id, r])),
    } satisfies EvalPromptContext;
  }

  return {
    kind: 'evaluate',
    describe: (task) =>
      rcsTaskStateSchema.safeParse(task.state).success
        ? describeEvalState('rcs', task.state, task.key)
        : task.key,
    async step(task, { db, signal, engineFor }: StepContext): Promise<StepOutcome> {
      const read = readRecord(rcsTaskStateSchema, task.state, {
        table: 'tasks.state',
        id: task.id,
      });
      // A corrupt checkpoint cannot be retried into shape: fail this item, the run goes on.
      if (!read.ok)
        return { done: true, step: task.step ?? 'corrupt', failure: read.error.message };
      const state = read.value as RcsTaskState;
      const { item } = state;
      const context =
        item.system === undefined
          ? await instance(db, item.instanceId)
          : await imported(db, item.system, item.ruleIds);
      const result = await nextEvalStep(
        { mode: 'rcs', state, context, targetEngineId: config.targetEngineId },
        { engineFor, signal },
      );
      return toOutcome(config, result);
    },
  };
}

function calibrationHandler(config: CalibrationRunConfig): RunHandler {
  return {
    kind: 'evaluate',
    describe: (task) =>
      calibrationTaskStateSchema.safeParse(task.state).success
        ? describeEvalState('calibration', task.state, task.key)
        : task.key,
    async step(task, { db, signal, engineFor }: StepContext): Promise<StepOutcome> {
      const read = readRecord(calibrationTaskStateSchema, task.state, {
        table: 'tasks.state',
        id: task.id,
      });
      if (!read.ok)
        return { done: true, step: task.step ?? 'corrupt', failure: read.error.message };
      const state = read.value as CalibrationTaskState;
      const rules = await db.rules.bulkGet(state.item.rules.map((r) => r.ruleId));
      const result = await nextEvalStep(
        { mode: 'calibration', state, rules, judgeEngineId: config.judgeEngineId },
        { engineFor, signal },
      );
      return toOutcome(config, result);
    },
  };
}

/** A run's results with the summary recomputed from its items (e.g. after an app update). */
export async function summariseEvaluation(
  db: SpecAlignDb,
  runId: string,
): Promise<EvaluationResults | undefined> {
  // By run id, not by the derived row id: an imported project gets fresh ids for both.
  const row = await db.evaluations.where('runId').equals(runId).first();
  if (!row) return undefined;
  // Items are checked one by one: a corrupt item is listed in `corrupt` and counts nowhere.
  const read = readEvaluationResults(row.results, { table: 'evaluations.results', id: row.id });
  if (!read.ok) throw read.error;
  const results = read.value as unknown as EvaluationResults & { corrupt: string[] };
  return results.mode === 'rcs'
    ? { ...results, summary: computeRcs(Object.values(results.items), results.rules) }
    : { ...results, summary: summariseCalibration(Object.values(results.items)) };
}
