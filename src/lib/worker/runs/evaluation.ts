/**
 * Evaluation as a resumable run (METHOD.md §5), kind `evaluate`, in two modes:
 *
 * - **rcs**: one task per held-out query (keyed by the query's hash). Step 1: the target model
 *   answers with the instance prompt. Then one safety-judge call per rule of the query (a
 *   self-contradicting verdict is re-judged once with feedback, then the item fails). The item's
 *   result is merged into the run's one `evaluations` row, with the recomputed summary, in the
 *   checkpoint's transaction: a reload never loses or double-counts an item. The queries come
 *   from the project's pairs or from an imported eval set file (`eval-set-service.ts`); an
 *   imported query of an instance the project lacks is answered and judged under the system
 *   prompt the file stored, with rule labels read from that text.
 * - **calibration**: one task per reply of the spec's worked examples; one judge call per rule
 *   group; the reply-level verdict is compared with the spec's GOOD/BAD label.
 *
 * Every step makes exactly one engine call. The target (or judge) engine id is fixed when the
 * run is planned; a step whose role now resolves to another model ends its item with a reason
 * instead of mixing two models into one score.
 */
import type { AgentRole, EngineConfig } from '$lib/core/engine-config';
import { SpecAlignError } from '$lib/core/errors';
import {
  buildCalibrationItems,
  buildEvalItems,
  callTarget,
  computeRcs,
  labelRulesFromPrompt,
  summariseCalibration,
  type CalibrationItem,
  type CalibrationResult,
  type CalibrationSummary,
  type EvalItem,
  type EvalItemResult,
  type EvalItemOptions,
  type EvalSetSummary,
  type RcsSummary,
  type RuleCheck,
  type RuleMeta,
} from '$lib/core/evaluation';
import { hashString } from '$lib/core/hash';
import { labelInstanceRules } from '$lib/core/instances/render';
import type { ChatEngine, TokenUsage } from '$lib/core/llm';
import type { Evaluation, Rule, Run, Task } from '$lib/core/records';
import {
  callSafetyJudge,
  checkSafetyVerdict,
  normaliseRuleLabel,
  verdictFor,
} from '$lib/core/synthesis/agents/safety-judge';
import type { SpecAlignDb } from '$lib/db/database';
import { guardStorage } from '$lib/db/errors';
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
  mode: 'rcs';
  evaluationId: string;
  request: EvaluationRequest | ImportedEvalSetRequest;
  targetEngineId: string;
}
export interface CalibrationRunConfig {
  mode: 'calibration';
  evaluationId: string;
  specVersionId: string;
  judgeEngineId: string;
}
export type EvaluationRunConfig = RcsRunConfig | CalibrationRunConfig;

/** `Evaluation.results` of an RCS run. */
export interface RcsResults {
  mode: 'rcs';
  label: string;
  /** Rules as they were when the run was planned (the summary must not move if one is edited). */
  rules: Record<string, RuleMeta>;
  items: Record<string, EvalItemResult & { judge: string }>;
  summary: RcsSummary;
}
/** `Evaluation.results` of a calibration run. */
export interface CalibrationResults {
  mode: 'calibration';
  label: string;
  unmapped: number;
  items: Record<string, CalibrationResult & { title: string }>;
  summary: CalibrationSummary;
}
export type EvaluationResults = RcsResults | CalibrationResults;

interface RcsTaskState {
  item: EvalItem;
  reply?: string;
  checks: RuleCheck[];
  overRefusal: boolean;
  /** Set after a self-contradicting verdict: the feedback for the one re-judge. */
  feedback?: string;
  judge?: string;
}
interface CalibrationTaskState {
  item: CalibrationItem;
  group: number;
  violated: boolean;
  feedback?: string;
  judge?: string;
}

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

/** A snapshot of the rules `items` test (what the summary groups by). */
export async function ruleMetaOf(
  db: SpecAlignDb,
  items: readonly EvalItem[],
): Promise<Record<string, RuleMeta>> {
  const found = await db.rules.bulkGet([...new Set(items.flatMap((i) => i.ruleIds))]);
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
  const tasks: Task[] = states.map(({ key, state }, order) => ({
    id: `${run.id}:${order}`,
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
    mode: 'rcs',
    evaluationId: evaluationIdOf(id),
    request,
    targetEngineId: target.engine.id,
  };
  const run = newRun(projectId, config, items.length, now);
  const from = request.source === 'imported' ? ` · ${request.fileName}` : '';
  const results: RcsResults = {
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
      state: { item, checks: [], overRefusal: false } satisfies RcsTaskState,
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
    mode: 'calibration',
    evaluationId: evaluationIdOf(id),
    specVersionId,
    judgeEngineId: judge.engine.id,
  };
  const run = newRun(projectId, config, plan.items.length, now);
  const results: CalibrationResults = {
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
      state: { item, group: 0, violated: false } satisfies CalibrationTaskState,
    })),
  );
  return { run, items: plan.items.length, unmapped: plan.unmapped };
}

/** A small positive integer seed derived from the item key (stable across resumes). */
function seedOf(key: string, salt: string): number {
  return hashString(`${salt}\u0000${key}`) % 2_147_483_647;
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
  const config = run.config as EvaluationRunConfig;
  return config.mode === 'calibration' ? calibrationHandler(config) : rcsHandler(config);
}

/** The prompt an item is answered and judged under, and its rules with their labels. */
interface PromptContext {
  prompt: string;
  labels: Map<string, string>;
  rules: Map<string, Rule>;
}

function rcsHandler(config: RcsRunConfig): RunHandler {
  // Instance prompts and labels, read once per session (instances do not change under a run).
  const instances = new Map<string, PromptContext>();
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
    } satisfies PromptContext;
  }

  return {
    kind: 'evaluate',
    describe(task) {
      const state = task.state as RcsTaskState | undefined;
      const last = state?.item.messages.at(-1)?.content ?? task.key;
      const phase =
        state?.reply === undefined
          ? 'answering'
          : `judging rule ${state.checks.length + 1} of ${state.item.ruleIds.length}`;
      return `${phase}: ${last.slice(0, 80)}`;
    },
    async step(task, { db, signal, engineFor }: StepContext): Promise<StepOutcome> {
      const state = structuredClone(task.state as RcsTaskState);
      const { item } = state;
      const inst =
        item.system === undefined
          ? await instance(db, item.instanceId)
          : await imported(db, item.system, item.ruleIds);
      if (!inst)
        return { done: true, step: 'missing', failure: 'The instance of this query was deleted.' };
      if (state.reply === undefined) {
        const engine = await engineFor('target');
        if (engine.id !== config.targetEngineId)
          return {
            done: true,
            step: 'target-changed',
            failure: `The evaluation target changed to ${engine.id} after this run started; start a new evaluation.`,
          };
        const result = await callTarget(
          engine,
          {
            instancePrompt: inst.prompt,
            conversation: item.messages,
            contextWindow: engine.contextWindow,
          },
          { signal, seed: seedOf(item.key, 'target') },
        );
        state.reply = result.value.response;
        return {
          done: false,
          step: 'answered',
          state,
          usage: result.usage,
          usageByRole: byRole('target', result.usage),
          engineMs: result.durationMs,
        };
      }
      const ruleId = item.ruleIds[state.checks.length];
      const rule = ruleId ? inst.rules.get(ruleId) : undefined;
      const label = ruleId ? inst.labels.get(ruleId) : undefined;
      if (!ruleId || !rule || !label)
        return {
          done: true,
          step: 'missing',
          failure:
            item.system === undefined
              ? 'A rule of this query is no longer in its instance.'
              : 'A rule of this query was deleted from the project.',
        };
      const engine = await engineFor('safetyJudge');
      const result = await callSafetyJudge(
        engine,
        {
          instancePrompt: inst.prompt,
          rules: [{ label, rule }],
          conversation: item.messages,
          reply: state.reply,
          contextWindow: engine.contextWindow,
          ...(state.feedback ? { feedback: state.feedback } : {}),
        },
        { signal, seed: seedOf(`${item.key}:${ruleId}`, state.feedback ? 'rejudge' : 'judge') },
      );
      const charged = {
        usage: result.usage,
        usageByRole: byRole('safetyJudge', result.usage),
        engineMs: result.durationMs,
      };
      const problem = checkSafetyVerdict(result.value, label, state.reply);
      if (problem) {
        if (state.feedback)
          return {
            done: true,
            step: 'inconsistent',
            failure: `The judge contradicted itself twice on ${label}: ${problem}`,
            ...charged,
          };
        state.feedback = problem;
        return { done: false, step: 'rejudge', state, ...charged };
      }
      delete state.feedback;
      const verdict = verdictFor(result.value, normaliseRuleLabel(label));
      state.checks.push({ ruleId, verdict: verdict?.verdict ?? 'complied' });
      state.overRefusal ||= result.value.overRefusal;
      state.judge = result.engineId;
      if (state.checks.length < item.ruleIds.length)
        return { done: false, step: `judged ${label}`, state, ...charged };
      const done: EvalItemResult & { judge: string } = {
        key: item.key,
        instanceId: item.instanceId,
        caseType: item.caseType,
        checks: state.checks,
        overRefusal: state.overRefusal,
        judge: result.engineId,
      };
      return {
        done: true,
        step: 'judged',
        state,
        ...charged,
        tables: ['evaluations'],
        write: writeItem(config.evaluationId, (results) => {
          if (results.mode !== 'rcs') return;
          results.items[item.key] = done;
          results.summary = computeRcs(Object.values(results.items), results.rules);
        }),
      };
    },
  };
}

function calibrationHandler(config: CalibrationRunConfig): RunHandler {
  return {
    kind: 'evaluate',
    describe(task) {
      const state = task.state as CalibrationTaskState | undefined;
      return state
        ? `Judging “${state.item.title}” (${state.item.gold === 'violated' ? 'BAD' : 'GOOD'} reply)`
        : task.key;
    },
    async step(task, { db, signal, engineFor }: StepContext): Promise<StepOutcome> {
      const state = structuredClone(task.state as CalibrationTaskState);
      const { item } = state;
      const group = item.groups[state.group] ?? [];
      const rules = (await db.rules.bulkGet(group.map((g) => g.ruleId))).filter(
        (r): r is Rule => !!r,
      );
      if (rules.length !== group.length)
        return {
          done: true,
          step: 'missing',
          failure: 'A rule of this example was deleted after the run was planned.',
        };
      const engine = await engineFor('safetyJudge');
      if (engine.id !== config.judgeEngineId)
        return {
          done: true,
          step: 'judge-changed',
          failure: `The safety judge changed to ${engine.id} after this run started; start a new calibration.`,
        };
      const targets = group.map((g, i) => ({ label: g.label, rule: rules[i] as Rule }));
      const labels = targets.map((t) => t.label);
      const result = await callSafetyJudge(
        engine,
        {
          instancePrompt: item.instancePrompt,
          rules: targets,
          conversation: item.conversation,
          reply: item.reply,
          contextWindow: engine.contextWindow,
          ...(state.feedback ? { feedback: state.feedback } : {}),
        },
        {
          signal,
          seed: seedOf(`${item.key}:${state.group}`, state.feedback ? 'rejudge' : 'judge'),
        },
      );
      const charged = {
        usage: result.usage,
        usageByRole: byRole('safetyJudge', result.usage),
        engineMs: result.durationMs,
      };
      const problem = checkSafetyVerdict(result.value, labels[0] ?? 'R1', item.reply, labels);
      if (problem) {
        if (state.feedback)
          return {
            done: true,
            step: 'inconsistent',
            failure: `The judge contradicted itself twice: ${problem}`,
            ...charged,
          };
        state.feedback = problem;
        return { done: false, step: 'rejudge', state, ...charged };
      }
      delete state.feedback;
      state.violated ||= labels.some((l) => verdictFor(result.value, l)?.verdict === 'violated');
      state.judge = result.engineId;
      state.group++;
      if (state.group < item.groups.length)
        return { done: false, step: `group ${state.group}`, state, ...charged };
      const judged: CalibrationResult & { title: string } = {
        key: item.key,
        gold: item.gold,
        predicted: state.violated ? 'violated' : 'complied',
        judge: result.engineId,
        title: item.title,
      };
      return {
        done: true,
        step: 'judged',
        state,
        ...charged,
        tables: ['evaluations'],
        write: writeItem(config.evaluationId, (results) => {
          if (results.mode !== 'calibration') return;
          results.items[item.key] = judged;
          results.summary = summariseCalibration(Object.values(results.items));
        }),
      };
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
  const results = row.results as unknown as EvaluationResults;
  return results.mode === 'rcs'
    ? { ...results, summary: computeRcs(Object.values(results.items), results.rules) }
    : { ...results, summary: summariseCalibration(Object.values(results.items)) };
}
