/**
 * Multi-agent adversarial synthesis as a resumable run (METHOD.md §3): one task per planned
 * scenario (keyed by its stable descriptor key), one agent call per step, every step checkpointed
 * by the executor together with what it produced.
 *
 * ## Determinism
 * The same seed, instances and (scripted) engine give the same pairs whether a run goes through
 * uninterrupted or is stopped and resumed at any step, any number of times:
 * - each task's state is the loop's plain-JSON {@link LoopState}; seeds derive from it;
 * - a pair's id is `${run.id}:${task.key}`, written with `put` in the checkpoint's transaction,
 *   so re-running a step can never add a second pair;
 * - the experience pool lives on the run row and grows in the same transaction as the step that
 *   reported the entry; the planner sees the pool as last committed;
 * - the prompts a new attack is deduplicated against are those of pairs of EARLIER tasks in
 *   queue order (never "what happens to be stored now"), read from the database at the attack
 *   step, so an in-memory cache can never disagree with a reload;
 * - the run stores the resolved controls and loop options (not "defaults"), and a fingerprint of
 *   each instance: an instance re-sampled or a rule edited after planning ends that instance's
 *   remaining tasks with a reason instead of silently mixing two versions into one dataset.
 */
import { SpecAlignError } from '$lib/core/errors';
import { hashString } from '$lib/core/hash';
import { loopStateV1, readRecord, synthesisRunConfigSchema } from '$lib/core/stored';
import { labelInstanceRules } from '$lib/core/instances/render';
import type { TokenUsage } from '$lib/core/llm';
import type {
  CaseType,
  PreferencePair,
  Rule,
  Run,
  SpecExample,
  SpecInstance,
  Task,
} from '$lib/core/records';
import {
  addExperience,
  AGENT_ROLE,
  CASE_TYPES,
  DEFAULT_LOOP_OPTIONS,
  describeLoopState,
  emptyExperiencePool,
  estimateRun,
  examplesByRule,
  initialLoopState,
  nextStep,
  normaliseControls,
  planTasks,
  promptText,
  SynthesisStepError,
  type AgentName,
  type LoopContext,
  type LoopOptions,
  type LoopState,
  type LoopStep,
  type LoopStepResult,
  type RunEstimate,
  type ScenarioControls,
  type SynthesisInstance,
  type TaskDescriptor,
} from '$lib/core/synthesis';
import type { ObservedYield } from '$lib/core/synthesis/yield-calibration';
import type { SpecAlignDb } from '$lib/db/database';
import { guardStorage } from '$lib/db/errors';
import type { ChargedFailure, RunHandler, StepContext, StepOutcome } from './types';

// ---------------------------------------------------------------------------------------------
// Configuration

/** Limits of a run. */
export interface SynthesisBudgets {
  /** Keep only the first N planned tasks (queue order interleaves instances). */
  maxTasks?: number;
  /** Pause the run once it has used this many tokens (prompt + completion, failed attempts included). */
  maxTokens?: number;
}

/** What the UI asks for. */
export interface SynthesisRunInput {
  specVersionId: string;
  /** The stored instances to synthesise for, in the order the user chose. */
  instanceIds: readonly string[];
  /** Scenario controls; missing fields take core's defaults. */
  controls?: Partial<ScenarioControls>;
  /** Seed of every choice (an integer). */
  seed: number;
  budgets?: SynthesisBudgets;
  /** Loop tunables; missing fields take core's defaults. */
  loop?: Partial<LoopOptions>;
}

/**
 * The stored configuration of a synthesis run (`run.config`): everything resolved, so a run
 * resumed after an app update with new defaults still behaves as planned.
 */
export interface SynthesisRunConfig {
  /** Shape version (core/stored/runs.ts); configs stored without it are version 1. */
  v: 1;
  specVersionId: string;
  instanceIds: string[];
  controls: ScenarioControls;
  seed: number;
  budgets: SynthesisBudgets;
  loop: LoopOptions;
  /** Per instance id, a fingerprint of its prompt and rules when the run was planned. */
  instanceFingerprints: Record<string, string>;
}

/** Inputs of the estimate shown before a run starts. */
export interface SynthesisEstimateOptions {
  /** Generation speed, tokens/s; default {@link DEFAULT_TOKENS_PER_SECOND}. */
  tokensPerSecond?: number;
  /** Prompt processing speed, tokens/s; when absent, prefill time is not counted. */
  promptTokensPerSecond?: number;
  /** Context window the prompts are built for; default core's 4096. */
  contextWindow?: number;
  /** Yield of the project's finished runs, to calibrate the expected pairs. */
  observedYield?: ObservedYield;
}

/** A planned run, before anything is stored. */
export interface SynthesisPlan {
  config: SynthesisRunConfig;
  tasks: TaskDescriptor[];
  estimate: RunEstimate;
  /** What planning adjusted (controls, budgets, options). */
  warnings: string[];
}

/** Default generation speed for estimates: a small model on a laptop GPU. */
export const DEFAULT_TOKENS_PER_SECOND = 20;

/** The run configuration cannot be planned; the message says what to change. */
export class SynthesisConfigError extends SpecAlignError {}

/**
 * A step's agent gave no usable output (a {@link SynthesisStepError}), with the tokens it spent
 * split by role, so the executor charges the failed attempt to the right role.
 */
export class SynthesisAttemptError extends SpecAlignError implements ChargedFailure {
  readonly usage: TokenUsage;
  readonly usageByRole: ChargedFailure['usageByRole'];
  readonly durationMs: number;

  constructor(error: SynthesisStepError) {
    super(error.message, { cause: error });
    this.usage = error.usage;
    this.durationMs = error.durationMs;
    this.usageByRole = byRole(error.step, error.usage);
  }
}

/** The id of a synthesis task and of the pair it produces: one pair per task, by construction. */
export function synthesisItemId(runId: string, key: string): string {
  return `${runId}:${key}`;
}

/**
 * Plans a run without storing anything: validates the input, plans tasks with core's
 * `planTasks` over the stored instances, applies the task budget and estimates the cost.
 *
 * @throws SynthesisConfigError when the version, an instance or one of its rules is missing, or
 *   nothing can be planned.
 */
export async function planSynthesisRun(
  db: SpecAlignDb,
  projectId: string,
  input: SynthesisRunInput,
  options: SynthesisEstimateOptions = {},
): Promise<SynthesisPlan> {
  if (!Number.isSafeInteger(input.seed))
    throw new SynthesisConfigError('The seed must be a whole number.');
  const version = await db.specVersions.get(input.specVersionId);
  if (!version || version.projectId !== projectId)
    throw new SynthesisConfigError('That spec version no longer exists in this project.');
  const instanceIds = [...new Set(input.instanceIds)];
  if (!instanceIds.length)
    throw new SynthesisConfigError('Choose at least one instance to generate pairs for.');

  const loaded: Loaded[] = [];
  for (const id of instanceIds) {
    const record = await db.instances.get(id);
    if (!record || record.projectId !== projectId || record.specVersionId !== version.id)
      throw new SynthesisConfigError(
        `Instance ${id} is not an instance of this spec version; sample instances again.`,
      );
    const result = await loadInstance(db, record);
    if (typeof result === 'string') throw new SynthesisConfigError(result);
    loaded.push(result);
  }

  const { controls, warnings } = normaliseControls(input.controls);
  const loop = resolveLoopOptions(input.loop, warnings);
  const budgets = resolveBudgets(input.budgets, warnings);
  const plan = planTasks(
    loaded.map((l) => ({ id: l.record.id, ruleIds: l.record.ruleIds })),
    controls,
    input.seed,
  );
  warnings.push(...plan.warnings);
  let tasks = plan.tasks;
  if (budgets.maxTasks !== undefined && tasks.length > budgets.maxTasks) {
    warnings.push(
      `Task budget: keeping the first ${budgets.maxTasks} of ${tasks.length} planned tasks, so some rules are probed less than the controls ask.`,
    );
    tasks = tasks.slice(0, budgets.maxTasks);
  }
  if (!tasks.length)
    throw new SynthesisConfigError('Nothing to generate: the chosen instances have no rules.');

  const examples = await versionExamples(db, version.id);
  const rules = uniqueRules(loaded.flatMap((l) => l.instance.rules));
  const estimate = estimateRun({
    tasks,
    instances: new Map(loaded.map((l) => [l.record.id, l.instance])),
    examples: examplesByRule(rules, examples),
    tokensPerSecond: options.tokensPerSecond ?? DEFAULT_TOKENS_PER_SECOND,
    maxCandidateAttempts: loop.maxCandidateAttempts,
    ...(options.promptTokensPerSecond !== undefined
      ? { promptTokensPerSecond: options.promptTokensPerSecond }
      : {}),
    ...(options.contextWindow !== undefined ? { contextWindow: options.contextWindow } : {}),
    ...(options.observedYield ? { observedYield: options.observedYield } : {}),
  });
  const config: SynthesisRunConfig = {
    specVersionId: version.id,
    instanceIds,
    controls,
    seed: input.seed,
    budgets,
    loop,
    instanceFingerprints: Object.fromEntries(loaded.map((l) => [l.record.id, l.fingerprint])),
    v: 1,
  };
  return { config, tasks, estimate, warnings };
}

/**
 * Plans a run ({@link planSynthesisRun}) and stores it, queued, with one task per planned
 * scenario (id and pair id `${run.id}:${key}`, state `initialLoopState(descriptor)`), in one
 * transaction. Start it with the runner (`handlerFor` → {@link synthesisHandler}).
 */
export async function createSynthesisRun(
  db: SpecAlignDb,
  projectId: string,
  input: SynthesisRunInput,
  options: SynthesisEstimateOptions = {},
): Promise<{ run: Run; tasks: Task[]; estimate: RunEstimate; warnings: string[] }> {
  const {
    config,
    tasks: descriptors,
    estimate,
    warnings,
  } = await planSynthesisRun(db, projectId, input, options);
  const now = Date.now();
  const run: Run = {
    id: crypto.randomUUID(),
    projectId,
    kind: 'synthesize',
    status: 'queued',
    config,
    createdAt: now,
    updatedAt: now,
    progress: { done: 0, failed: 0, total: descriptors.length },
    usage: { promptTokens: 0, completionTokens: 0 },
    usageByRole: {},
    experience: emptyExperiencePool(),
  };
  const tasks = descriptors.map((d): Task => ({
    id: synthesisItemId(run.id, d.key),
    runId: run.id,
    projectId,
    key: d.key,
    order: d.order,
    status: 'pending',
    attempts: 0,
    state: initialLoopState(d),
    updatedAt: now,
  }));
  await guardStorage(() =>
    db.transaction('rw', [db.runs, db.tasks], async () => {
      await db.runs.add(run);
      await db.tasks.bulkAdd(tasks);
    }),
  );
  return { run, tasks, estimate, warnings };
}

// ---------------------------------------------------------------------------------------------
// The handler

/**
 * The run handler: builds each step's loop context from checkpointed data only (see the module
 * comment), runs one `nextStep`, and turns its result into a checkpoint: the pair (on success),
 * the experience entry (patched onto the run row), a final failure (duplicate prompt, judge
 * contradiction, exhausted candidates; no retries), or a thrown {@link SynthesisAttemptError}
 * (invalid output after repair; the executor retries with a new seed).
 */
export function synthesisHandler(run: Run): RunHandler {
  const config = readConfig(run.config, run.id);
  // Per-session caches. Each holds only data that cannot change under a running run (a stored
  // instance checked against its fingerprint, the version's examples, the queue order) or is
  // re-validated against the database before use (pair prompts).
  const instances = new Map<string, Loaded | string>();
  const labels = new Map<string, Record<string, string>>();
  const prompts = new Map<string, string>();
  let examples: SpecExample[] | undefined;
  let queue: Map<string, number> | undefined;

  async function instanceFor(db: SpecAlignDb, id: string): Promise<Loaded | string> {
    const cached = instances.get(id);
    if (cached !== undefined) return cached;
    const record = await db.instances.get(id);
    let result = record
      ? await loadInstance(db, record)
      : `Instance ${id} was deleted after this run was planned (were instances sampled again?). Its tasks cannot continue; start a new run.`;
    if (typeof result !== 'string') {
      const expected = config.instanceFingerprints[id];
      if (record?.specVersionId !== config.specVersionId || expected !== result.fingerprint)
        result = `Instance ${(record?.index ?? 0) + 1} changed after this run was planned (sampled again, or one of its rules edited). Its remaining tasks cannot continue without mixing two versions; start a new run.`;
      else {
        examples ??= await versionExamples(db, config.specVersionId);
        result.examples = examplesByRule(result.instance.rules, examples);
        labels.set(
          id,
          Object.fromEntries(
            labelInstanceRules(result.instance.rules).map((l) => [l.rule.id, l.label]),
          ),
        );
      }
    }
    instances.set(id, result);
    return result;
  }

  /** Prompts of this run's pairs from tasks before `task` in queue order, in that order. */
  async function earlierPrompts(db: SpecAlignDb, task: Task): Promise<string[]> {
    queue ??= new Map(
      (
        (await db.tasks
          .where('[runId+order]')
          .between([run.id, -Infinity], [run.id, Infinity])
          .primaryKeys()) as string[]
      ).map((id, i) => [id, i]),
    );
    const position = queue.get(task.id) ?? task.order;
    const ids = (await db.pairs.where('runId').equals(run.id).primaryKeys()) as string[];
    const present = new Set(ids);
    for (const id of prompts.keys()) if (!present.has(id)) prompts.delete(id);
    const missing = ids.filter((id) => !prompts.has(id));
    if (missing.length)
      for (const pair of await db.pairs.bulkGet(missing))
        if (pair) prompts.set(pair.id, promptText(pair.prompt));
    const order = queue;
    return ids
      .filter((id) => (order.get(id) ?? Infinity) < position)
      .sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0))
      .flatMap((id) => prompts.get(id) ?? []);
  }

  return {
    kind: 'synthesize',

    describe(task) {
      const state = task.state;
      if (!isLoopState(state)) return task.key;
      return describeLoopState(state, labels.get(state.task.instanceId));
    },

    limitReached(current) {
      const max = readConfig(current.config, current.id).budgets.maxTokens;
      if (max === undefined) return undefined;
      const used = current.usage.promptTokens + current.usage.completionTokens;
      return used >= max
        ? `The token budget is spent (${used} of ${max} tokens). Raise the budget to continue, or cancel the run.`
        : undefined;
    },

    async step(task, context: StepContext): Promise<StepOutcome> {
      const { db } = context;
      const now = context.now ?? Date.now;
      const read = readRecord(loopStateV1, task.state, { table: 'tasks.state', id: task.id });
      // A corrupt checkpoint cannot be retried into shape: fail this task, the run goes on.
      if (!read.ok)
        return { done: true, step: task.step ?? 'corrupt', failure: read.error.message };
      const state = read.value as unknown as LoopState;
      const loaded = await instanceFor(db, state.task.instanceId);
      // Retrying cannot bring an instance back: end the task now, without a model call.
      if (typeof loaded === 'string')
        return { done: true, step: state.next, state, failure: loaded };

      const ctx: LoopContext = {
        instance: loaded.instance,
        examples: loaded.examples,
        engineFor: context.engineFor,
        signal: context.signal,
        now,
        options: config.loop,
      };
      // Only the step that reads them pays for them.
      if (state.next === 'plan')
        ctx.experience = (await db.runs.get(run.id))?.experience ?? emptyExperiencePool();
      if (state.next === 'attack') ctx.existingPrompts = await earlierPrompts(db, task);

      let result: LoopStepResult;
      try {
        result = await nextStep(
          {
            ...(task.step !== undefined ? { step: task.step } : {}),
            state,
            attempts: task.attempts,
          },
          ctx,
        );
      } catch (error) {
        if (error instanceof SynthesisStepError) throw new SynthesisAttemptError(error);
        throw error;
      }

      const outcome: StepOutcome = {
        done: result.done,
        step: result.step,
        state: result.state,
        usage: result.usage,
        engineMs: result.engineMs,
      };
      const roles = byRole(result.step, result.usage);
      if (roles) outcome.usageByRole = roles;
      if (result.failure !== undefined) outcome.failure = result.failure;
      const entry = result.experience;
      if (entry)
        outcome.patchRun = (r) => {
          r.experience = addExperience(r.experience ?? emptyExperiencePool(), entry);
        };
      const draft = result.pair;
      if (draft) {
        const pair: PreferencePair = {
          ...draft,
          id: synthesisItemId(run.id, task.key),
          projectId: run.projectId,
          runId: run.id,
          status: 'pending',
          createdAt: now(),
        };
        outcome.tables = ['pairs'];
        outcome.write = async (d) => {
          await d.pairs.put(pair);
        };
      }
      return outcome;
    },
  };
}

/** The agent a loop step calls: every step makes exactly one agent call. */
export function agentOfStep(step: LoopStep): AgentName {
  if (step === 'plan') return 'planner';
  if (step === 'attack') return 'attacker';
  if (step === 'defend') return 'defender';
  if (step.endsWith('-safety')) return 'safetyJudge';
  if (step.endsWith('-quality')) return 'qualityJudge';
  return step === 'write-chosen' ? 'chosen' : 'violator';
}

// ---------------------------------------------------------------------------------------------
// Live summary (for the UI, from Dexie rows)

/** Why tasks ended without a pair, grouped. */
export type FailureKind =
  | 'duplicate'
  | 'judge-contradiction'
  | 'no-acceptable-candidate'
  | 'prompt-too-long'
  | 'invalid-output'
  | 'instance-changed'
  | 'other';

/** Planned, produced and dropped counts of one slice of a run. */
export interface CoverageCount {
  planned: number;
  pairs: number;
  failed: number;
}

/** A synthesis run at a glance, computed from its task rows. */
export interface SynthesisSummary {
  total: CoverageCount;
  byRule: Record<string, CoverageCount>;
  byCaseType: Record<CaseType, CoverageCount>;
  failures: Record<FailureKind, number>;
}

/** The group of a failed task's error message. */
export function failureKind(error: string): FailureKind {
  if (error === 'duplicate prompt') return 'duplicate';
  if (error.startsWith('judge contradiction')) return 'judge-contradiction';
  if (error.startsWith('no acceptable')) return 'no-acceptable-candidate';
  if (error.startsWith('prompt too long')) return 'prompt-too-long';
  if (/^Step "[^"]+":/.test(error)) return 'invalid-output';
  if (/changed after this run|deleted after this run/.test(error)) return 'instance-changed';
  return 'other';
}

/**
 * Per-rule and per-case-type coverage and failure reasons of a synthesis run, from its task rows
 * (`db.tasks.where('runId').equals(runId)`): a `done` task produced exactly one pair (pair id =
 * task id), a `failed` one none. Reading tasks rather than pairs keeps the counts right when the
 * user deletes pairs during review.
 */
export function summariseSynthesisTasks(tasks: readonly Task[]): SynthesisSummary {
  const zero = (): CoverageCount => ({ planned: 0, pairs: 0, failed: 0 });
  const summary: SynthesisSummary = {
    total: zero(),
    byRule: {},
    byCaseType: Object.fromEntries(CASE_TYPES.map((c) => [c, zero()])) as Record<
      CaseType,
      CoverageCount
    >,
    failures: {
      duplicate: 0,
      'judge-contradiction': 0,
      'no-acceptable-candidate': 0,
      'prompt-too-long': 0,
      'invalid-output': 0,
      'instance-changed': 0,
      other: 0,
    },
  };
  for (const task of tasks) {
    if (!isLoopState(task.state)) continue;
    const { ruleId, caseType } = task.state.task;
    const slices = [
      summary.total,
      (summary.byRule[ruleId] ??= zero()),
      summary.byCaseType[caseType],
    ];
    for (const slice of slices) {
      slice.planned++;
      if (task.status === 'done') slice.pairs++;
      if (task.status === 'failed') slice.failed++;
    }
    if (task.status === 'failed') summary.failures[failureKind(task.error ?? '')]++;
  }
  return summary;
}

// ---------------------------------------------------------------------------------------------
// Internals

interface Loaded {
  record: SpecInstance;
  instance: SynthesisInstance;
  fingerprint: string;
  examples?: Record<string, SpecExample[]>;
}

/** The instance with its rules in the stored order (its prompt's labels depend on them). */
async function loadInstance(db: SpecAlignDb, record: SpecInstance): Promise<Loaded | string> {
  const found = await db.rules.bulkGet(record.ruleIds);
  const rules = found.filter((r): r is Rule => r !== undefined);
  if (rules.length !== record.ruleIds.length)
    return `A rule of instance ${record.index + 1} was deleted after this run was planned (or before it); sample instances again and start a new run.`;
  return {
    record,
    instance: {
      id: record.id,
      specVersionId: record.specVersionId,
      rules,
      systemPrompt: record.systemPrompt,
    },
    fingerprint: fingerprint(record, rules),
  };
}

/**
 * What the loop reads of an instance, hashed: its prompt and every rule field that reaches a
 * prompt or a decision. Review fields (status, notes, timestamps) are left out: accepting or
 * flagging a rule mid-run changes nothing the agents see.
 */
function fingerprint(record: SpecInstance, rules: readonly Rule[]): string {
  const content = rules.map((r) => [
    r.id,
    r.statement,
    r.direction,
    r.stage,
    r.domain,
    r.family,
    r.priority,
    r.authority ?? null,
    r.strength,
    r.exceptions,
    r.appliesWhen,
    r.sectionAnchor,
  ]);
  return hashString(JSON.stringify([record.systemPrompt, content]))
    .toString(16)
    .padStart(8, '0');
}

async function versionExamples(db: SpecAlignDb, specVersionId: string): Promise<SpecExample[]> {
  return db.specExamples.where('specVersionId').equals(specVersionId).toArray();
}

function uniqueRules(rules: readonly Rule[]): Rule[] {
  return [...new Map(rules.map((r) => [r.id, r])).values()];
}

/** Usage of a step, charged to the engine role of its agent; undefined when nothing was spent. */
function byRole(step: LoopStep, usage: TokenUsage): ChargedFailure['usageByRole'] {
  if (!usage.promptTokens && !usage.completionTokens) return undefined;
  return { [AGENT_ROLE[agentOfStep(step)]]: { ...usage } };
}

function isLoopState(value: unknown): value is LoopState {
  return (
    !!value &&
    typeof value === 'object' &&
    (value as { version?: unknown }).version === 1 &&
    typeof (value as { task?: { instanceId?: unknown } }).task?.instanceId === 'string'
  );
}

/** The run's typed config; a corrupt one fails the run with a message naming the field. */
function readConfig(value: unknown, runId: string): SynthesisRunConfig {
  const read = readRecord(synthesisRunConfigSchema, value, { table: 'runs.config', id: runId });
  if (!read.ok) throw read.error;
  // The schema pins the fields the handler reads; nested controls and budgets are loose objects.
  return read.value as unknown as SynthesisRunConfig;
}

/** Loop options with defaults filled in and out-of-range values clamped (with a warning). */
function resolveLoopOptions(
  partial: Partial<LoopOptions> | undefined,
  warnings: string[],
): LoopOptions {
  const merged = { ...DEFAULT_LOOP_OPTIONS, ...partial };
  const clamp = (name: keyof LoopOptions, min: number, max: number, integer: boolean): number => {
    const raw = merged[name];
    let value = Number.isFinite(raw) ? raw : DEFAULT_LOOP_OPTIONS[name];
    if (integer) value = Math.floor(value);
    value = Math.min(max, Math.max(min, value));
    if (value !== raw) warnings.push(`Loop option ${name}: using ${value} instead of ${raw}.`);
    return value;
  };
  return {
    qualityThreshold: clamp('qualityThreshold', 1, 5, false),
    maxCandidateAttempts: clamp('maxCandidateAttempts', 1, 10, true),
    roleSwapEvery: clamp('roleSwapEvery', 0, 1000, true),
    experienceLimit: clamp('experienceLimit', 0, 50, true),
    duplicateThreshold: clamp('duplicateThreshold', 0.05, 1, false),
    jsonRetries: clamp('jsonRetries', 0, 5, true),
  };
}

function resolveBudgets(
  budgets: SynthesisBudgets | undefined,
  warnings: string[],
): SynthesisBudgets {
  const out: SynthesisBudgets = {};
  for (const name of ['maxTasks', 'maxTokens'] as const) {
    const value = budgets?.[name];
    if (value === undefined) continue;
    if (!Number.isFinite(value) || value < 1) {
      warnings.push(`Budget ${name} must be at least 1; ignoring ${value}.`);
      continue;
    }
    out[name] = Math.floor(value);
  }
  return out;
}
