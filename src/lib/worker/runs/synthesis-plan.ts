/**
 * Planning a synthesis run (METHOD.md §3): controls, loop options and budgets resolved, the task
 * queue with its estimate, the run stored; and the instance loading that the handler
 * (`./synthesis`) shares, so a run checks its instances exactly as it planned them.
 */
import type { TokenPrice } from '$lib/core/cost';
import { engineKey, type AgentRole, type EngineConfig } from '$lib/core/engine-config';
import { SpecAlignError } from '$lib/core/errors';
import { hashString } from '$lib/core/hash';
import { readRecord, synthesisRunConfigSchema } from '$lib/core/stored';
import type { Rule, Run, SpecExample, SpecInstance, Task } from '$lib/core/records';
import {
  DEFAULT_LOOP_OPTIONS,
  MAX_ATTACK_ROUNDS,
  emptyExperiencePool,
  estimateRun,
  examplesByRule,
  AGENT_ROLE,
  assignTaskRoles,
  initialLoopState,
  normaliseControls,
  rotationModels,
  type EstimateInput,
  type ModelRates,
  type RolePlanOptions,
  planTasks,
  type LoopOptions,
  type RunEstimate,
  type ScenarioControls,
  type SynthesisInstance,
  type TaskDescriptor,
} from '$lib/core/synthesis';
import type { ObservedYield } from '$lib/core/synthesis/yield-calibration';
import type { SpecAlignDb } from '$lib/db/database';
import { guardStorage } from '$lib/db/errors';
import { lookupLineages } from '$lib/db/lineage';
import { lineagesOf } from '$lib/core/rules/lineage';

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
  /**
   * Tasks per wave (core/run-schedule.ts, `waveWidthFor`); default 1. Never derived from the
   * engines' concurrency: results depend on it, and must not on K.
   */
  waveWidth?: number;
  /**
   * Per instance id, the only rules to plan tasks for (*Update data*, issue 11 §3: the new and
   * changed rules); the tasks kept are those a full run would plan for them (same keys and seeds).
   */
  targetRuleIds?: Readonly<Record<string, readonly string[]>>;
  /** The run's id; default a random one (*Update data* uses one per version, so it is planned once). */
  runId?: string;
  /** Set by *Update data*: the version it updates from and the run whose settings it reuses. */
  dataUpdate?: DataUpdateOrigin;
  /** Who attacks and defends (core/synthesis/role-rotation.ts); absent: the project's models. */
  roles?: SynthesisRolesInput;
}

/** Where an *Update data* run came from (stored in its config). */
export interface DataUpdateOrigin {
  fromVersionId: string;
  sourceRunId: string;
}

/** The role options of a run, with the engine configs resolved by the caller. */
export interface SynthesisRolesInput {
  /** The evaluation target: set to make it the defender of every task (on-policy defender). */
  defenderTarget?: EngineConfig;
  /** Models to rotate attacker and defender among (two or more; fewer is ignored with a note). */
  rotate?: readonly EngineConfig[];
}

/**
 * The role options as stored in the run config (`roles`, optional in version 2): engine keys,
 * and the configs they name, so the run resumes on the models it was planned with.
 */
export interface SynthesisRoles {
  defenderTarget?: string;
  rotate: string[];
  models: Record<string, EngineConfig>;
}

/**
 * The stored configuration of a synthesis run (`run.config`): everything resolved, so a run
 * resumed after an app update with new defaults still behaves as planned.
 */
export interface SynthesisRunConfig {
  /**
   * Shape version (core/stored/runs.ts); configs stored without it are version 1. Version 2 adds
   * `estimate`.
   */
  v: 1 | 2;
  /** The estimate shown when the run was planned, to compare with what it used (version 2). */
  estimate?: StartEstimate;
  specVersionId: string;
  instanceIds: string[];
  controls: ScenarioControls;
  seed: number;
  budgets: SynthesisBudgets;
  loop: LoopOptions;
  /** Per instance id, a fingerprint of its prompt and rules when the run was planned. */
  instanceFingerprints: Record<string, string>;
  /** Tasks per wave; absent on runs planned before waves (they run with 1). */
  waveWidth?: number;
  /** Set on *Update data* runs (issue 11 §3); their tasks cover only `targetRuleIds`. */
  dataUpdate?: DataUpdateOrigin & { targetRuleIds: Record<string, string[]> };
  /**
   * On-policy defender and role rotation (optional; absent: every agent on its role's model, as
   * runs planned before these options). Each task stores its own assignment (`LoopState.roles`).
   */
  roles?: SynthesisRoles;
}

/** A run's estimate as stored with it: the figures, the speed and the prices it assumed. */
export interface StartEstimate {
  tasks: number;
  calls: number;
  promptTokens: number;
  completionTokens: number;
  timeMs: number;
  expectedPairs: number;
  tokensPerSecond: number;
  prices: Partial<Record<AgentRole, TokenPrice>>;
  cost?: RunEstimate['cost'];
}

/** Inputs of the estimate shown before a run starts. */
export interface SynthesisEstimateOptions {
  /** Generation speed, tokens/s; default {@link DEFAULT_TOKENS_PER_SECOND}. */
  tokensPerSecond?: number;
  /** Prompt processing speed, tokens/s; when absent, prefill time is not counted. */
  promptTokensPerSecond?: number;
  /** Tasks the run will keep in flight (`expectedInFlight`); default 1. */
  inFlight?: number;
  /** Context window the prompts are built for; default core's 4096. */
  contextWindow?: number;
  /** Yield of the project's finished runs, to calibrate the expected pairs. */
  observedYield?: ObservedYield;
  /** USD per million tokens of each role's model, for the money estimate. */
  prices?: Partial<Record<AgentRole, TokenPrice>>;
  /**
   * Per-model estimate (issue 14 §2): the engine key of each role's project model, and every
   * model's rates and price. When set, a run whose tasks assign models (on-policy defender,
   * rotation) is estimated per model; without roles it is the same figures split by model.
   */
  models?: { byRole: Partial<Record<AgentRole, string>>; rates: Record<string, ModelRates> };
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
  const targets = input.targetRuleIds;
  if (targets)
    tasks = tasks
      .filter((t) => targets[t.instanceId]?.includes(t.ruleId))
      .map((t, order) => ({ ...t, order }));
  if (budgets.maxTasks !== undefined && tasks.length > budgets.maxTasks) {
    warnings.push(
      `Task budget: keeping the first ${budgets.maxTasks} of ${tasks.length} planned tasks, so some rules are probed less than the controls ask.`,
    );
    tasks = tasks.slice(0, budgets.maxTasks);
  }
  if (!tasks.length)
    throw new SynthesisConfigError('Nothing to generate: the chosen instances have no rules.');

  const roles = resolveRoles(input.roles, warnings);

  const examples = await versionExamples(db, version.id);
  const rules = uniqueRules(loaded.flatMap((l) => l.instance.rules));
  const models = options.models;
  const estimate = estimateRun({
    tasks,
    instances: new Map(loaded.map((l) => [l.record.id, l.instance])),
    examples: examplesByRule(rules, examples),
    tokensPerSecond: options.tokensPerSecond ?? DEFAULT_TOKENS_PER_SECOND,
    maxCandidateAttempts: loop.maxCandidateAttempts,
    attackRounds: loop.attackRounds,
    ...(options.promptTokensPerSecond !== undefined
      ? { promptTokensPerSecond: options.promptTokensPerSecond }
      : {}),
    ...(options.contextWindow !== undefined ? { contextWindow: options.contextWindow } : {}),
    ...(options.inFlight !== undefined ? { inFlight: options.inFlight } : {}),
    ...(options.observedYield ? { observedYield: options.observedYield } : {}),
    ...(options.prices ? { prices: options.prices } : {}),
    ...perModelEstimate(models, roles),
  });
  const tokensPerSecond = options.tokensPerSecond ?? DEFAULT_TOKENS_PER_SECOND;
  const config: SynthesisRunConfig = {
    specVersionId: version.id,
    instanceIds,
    controls,
    seed: input.seed,
    budgets,
    loop,
    instanceFingerprints: Object.fromEntries(loaded.map((l) => [l.record.id, l.fingerprint])),
    waveWidth: Math.max(1, Math.floor(input.waveWidth ?? 1)),
    ...(input.dataUpdate && targets
      ? {
          dataUpdate: {
            ...input.dataUpdate,
            targetRuleIds: Object.fromEntries(
              Object.entries(targets).map(([id, rules]) => [id, [...rules]]),
            ),
          },
        }
      : {}),
    ...(roles ? { roles } : {}),
    v: 2,
    estimate: {
      tasks: estimate.tasks,
      calls: estimate.calls,
      promptTokens: estimate.promptTokens,
      completionTokens: estimate.completionTokens,
      timeMs: estimate.timeMs,
      expectedPairs: estimate.expectedPairs,
      tokensPerSecond,
      prices: options.prices ?? {},
      ...(estimate.cost ? { cost: estimate.cost } : {}),
    },
  };
  return { config, tasks, estimate, warnings };
}

/**
 * The per-model part of an estimate's input: each task's attacker and defender as `roles` assign
 * them (by task order, as the run will), every other agent on its role's model.
 */
export function perModelEstimate(
  models: SynthesisEstimateOptions['models'],
  roles: RolePlanOptions | undefined,
): Pick<EstimateInput, 'models' | 'modelOf'> {
  if (!models) return {};
  return {
    models: models.rates,
    modelOf: (task, agent) => {
      const assigned = roles ? assignTaskRoles(task.order, roles) : undefined;
      const own = agent === 'attacker' || agent === 'defender' ? assigned?.[agent] : undefined;
      return own ?? models.byRole[AGENT_ROLE[agent]] ?? 'unknown';
    },
  };
}

/** The run's role options as stored, or undefined when they assign nothing (with a note why). */
function resolveRoles(
  input: SynthesisRolesInput | undefined,
  warnings: string[],
): SynthesisRoles | undefined {
  if (!input) return undefined;
  const models: Record<string, EngineConfig> = {};
  const keyOf = (config: EngineConfig) => {
    const key = engineKey(config);
    models[key] ??= config;
    return key;
  };
  const options: RolePlanOptions = {
    ...(input.defenderTarget ? { defenderTarget: keyOf(input.defenderTarget) } : {}),
    rotate: (input.rotate ?? []).map(keyOf),
  };
  const rotate = rotationModels(options);
  if (rotate.length === 1) {
    warnings.push(
      'Role rotation needs at least two models: with one, attacker and defender keep their own models.',
    );
    rotate.length = 0;
  }
  if (options.defenderTarget === undefined && rotate.length === 0) return undefined;
  // Keep only the configs a task can name.
  const used = new Set([...rotate, ...(options.defenderTarget ? [options.defenderTarget] : [])]);
  for (const key of Object.keys(models)) if (!used.has(key)) delete models[key];
  return {
    ...(options.defenderTarget !== undefined ? { defenderTarget: options.defenderTarget } : {}),
    rotate,
    models,
  };
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
    id: input.runId ?? crypto.randomUUID(),
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
    schedule: { closedWaves: 0 },
  };
  const lineage = await lookupLineages(
    db,
    descriptors.map((d) => d.ruleId),
  );
  const tasks = descriptors.map((d): Task => ({
    id: synthesisItemId(run.id, d.key),
    lineageIds: lineagesOf([d.ruleId], lineage),
    runId: run.id,
    projectId,
    key: d.key,
    order: d.order,
    status: 'pending',
    attempts: 0,
    state: initialLoopState(d, config.roles && assignTaskRoles(d.order, config.roles)),
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
// Instances and config

export interface Loaded {
  record: SpecInstance;
  instance: SynthesisInstance;
  fingerprint: string;
  examples?: Record<string, SpecExample[]>;
}

/** The instance with its rules in the stored order (its prompt's labels depend on them). */
export async function loadInstance(
  db: SpecAlignDb,
  record: SpecInstance,
): Promise<Loaded | string> {
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
export function fingerprint(record: SpecInstance, rules: readonly Rule[]): string {
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

export async function versionExamples(
  db: SpecAlignDb,
  specVersionId: string,
): Promise<SpecExample[]> {
  return db.specExamples.where('specVersionId').equals(specVersionId).toArray();
}

function uniqueRules(rules: readonly Rule[]): Rule[] {
  return [...new Map(rules.map((r) => [r.id, r])).values()];
}

/** The run's typed config; a corrupt one fails the run with a message naming the field. */
export function readConfig(value: unknown, runId: string): SynthesisRunConfig {
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
    attackRounds: clamp('attackRounds', 1, MAX_ATTACK_ROUNDS, true),
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
