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
 * - tasks run in waves of `config.waveWidth` (core/run-schedule.ts), so the results do not depend
 *   on how many tasks are in flight: the experience pool lives on the run row and changes only
 *   when a wave closes (each step's entry waits on its task row until then), so a planner sees
 *   the pool of the waves before its own; the prompts a new attack is deduplicated against are
 *   those of pairs of EARLIER WAVES (never "what happens to be stored now"), read from the
 *   database at the attack step, and the pairs of one wave are deduplicated against each other,
 *   in task order, when it closes (core/synthesis/wave.ts);
 * - the run stores the resolved controls and loop options (not "defaults"), and a fingerprint of
 *   each instance: an instance re-sampled or a rule edited after planning ends that instance's
 *   remaining tasks with a reason instead of silently mixing two versions into one dataset.
 */
import { SpecAlignError } from '$lib/core/errors';
import { loopStateV1, readRecord } from '$lib/core/stored';
import { labelInstanceRules } from '$lib/core/instances/render';
import type { AgentRole } from '$lib/core/engine-config';
import type { ChatEngine, TokenUsage } from '$lib/core/llm';
import type { PreferencePair, Run, SpecExample, Task } from '$lib/core/records';
import {
  AGENT_ROLE,
  describeLoopState,
  emptyExperiencePool,
  examplesByRule,
  closeSynthesisWave,
  nextStep,
  promptText,
  ROTATED_AGENTS,
  type TaskRoles,
  SynthesisStepError,
  type AgentName,
  type ExperienceEntryDraft,
  type LoopContext,
  type LoopState,
  type LoopStep,
  type LoopStepResult,
} from '$lib/core/synthesis';
import type { SpecAlignDb } from '$lib/db/database';
import { lineageMap, lineagesOf } from '$lib/core/rules/lineage';
import type { ChargedFailure, RunHandler, StepContext, StepOutcome } from './types';

import {
  loadInstance,
  readConfig,
  synthesisItemId,
  versionExamples,
  type Loaded,
} from './synthesis-plan';

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

  // Runs planned before waves ran one task at a time: width 1 keeps their semantics. (An optional
  // field of the loose v1 config, so not in its pinned schema: checked here.)
  const width = config.waveWidth;
  const waveWidth =
    typeof width === 'number' && Number.isSafeInteger(width) && width > 0 ? width : 1;

  /** Prompts of this run's pairs from tasks of waves before `task`'s, in queue order. */
  async function earlierPrompts(db: SpecAlignDb, task: Task): Promise<string[]> {
    queue ??= new Map(
      (
        (await db.tasks
          .where('[runId+order]')
          .between([run.id, -Infinity], [run.id, Infinity])
          .primaryKeys()) as string[]
      ).map((id, i) => [id, i]),
    );
    const found = queue.get(task.id) ?? task.order;
    const position = Math.floor(found / waveWidth) * waveWidth;
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

  /** Why a task's assigned model cannot be resolved (a config that lost it), else undefined. */
  function missingModel(roles: TaskRoles): string | undefined {
    for (const agent of ROTATED_AGENTS) {
      const key = roles[agent];
      if (key !== undefined && !config.roles?.models[key])
        return `This task's ${agent} model (${key}) is not in the run's stored configuration; start a new run.`;
    }
    return undefined;
  }

  /**
   * The engine of one agent of a task with planned models: the attacker and the defender (not
   * the chosen writer, which runs on the defender's role) on the models the task names; every
   * other agent on its role's project model.
   */
  function engineForTask(
    roles: TaskRoles,
    role: AgentRole,
    agent: AgentName | undefined,
    context: StepContext,
  ): Promise<ChatEngine> {
    const key = agent === 'attacker' || agent === 'defender' ? roles[agent] : undefined;
    const model = key === undefined ? undefined : config.roles?.models[key];
    if (!model) return context.engineFor(role);
    if (!context.engineForConfig)
      throw new Error('This run assigns models per task, but no engine loader by model was given.');
    return context.engineForConfig(model);
  }

  return {
    kind: 'synthesize',
    waveWidth,

    async closeWave(tasks, { db }, current) {
      const first = tasks[0];
      if (!first) return {};
      const pairs = await db.pairs.bulkGet(tasks.map((t) => synthesisItemId(run.id, t.key)));
      const closed = closeSynthesisWave(
        current.experience ?? emptyExperiencePool(),
        tasks.map((t, i) => {
          const pair = t.status === 'done' ? pairs[i] : undefined;
          return {
            id: t.id,
            ...(pair ? { prompt: promptText(pair.prompt) } : {}),
            entries: (t.shared ?? []) as ExperienceEntryDraft[],
          };
        }),
        await earlierPrompts(db, first),
        config.loop.duplicateThreshold,
      );
      const dropped = closed.duplicates.map((id) => {
        const task = tasks.find((t) => t.id === id);
        return synthesisItemId(run.id, task?.key ?? '');
      });
      return {
        patchRun: (r) => {
          r.experience = closed.pool;
        },
        fail: Object.fromEntries(closed.duplicates.map((id) => [id, 'duplicate prompt'])),
        ...(dropped.length
          ? {
              tables: ['pairs'],
              write: async (d: SpecAlignDb) => {
                await d.pairs.bulkDelete(dropped);
              },
            }
          : {}),
      };
    },

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

      // Tasks planned with their own attacker/defender models (on-policy defender, rotation).
      const planned = state.roles;
      const missing = planned && missingModel(planned);
      if (missing) return { done: true, step: state.next, state, failure: missing };
      const ctx: LoopContext = {
        instance: loaded.instance,
        examples: loaded.examples,
        engineFor: planned
          ? (role, agent) => engineForTask(planned, role, agent, context)
          : context.engineFor,
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
      // Held on the task row until its wave closes (see closeWave).
      if (result.experience) outcome.share = result.experience;
      const draft = result.pair;
      if (draft) {
        const lineage = lineageMap(loaded.instance.rules);
        const pair: PreferencePair = {
          ...draft,
          lineageIds: lineagesOf(draft.ruleIds, lineage),
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

/** Usage of a step, charged to the engine role of its agent; undefined when nothing was spent. */
function byRole(step: LoopStep, usage: TokenUsage): ChargedFailure['usageByRole'] {
  if (!usage.promptTokens && !usage.completionTokens) return undefined;
  return { [AGENT_ROLE[agentOfStep(step)]]: { ...usage } };
}

/** A task state the loop can resume (also read by the tests' run summary). */
export function isLoopState(value: unknown): value is LoopState {
  return (
    !!value &&
    typeof value === 'object' &&
    (value as { version?: unknown }).version === 1 &&
    typeof (value as { task?: { instanceId?: unknown } }).task?.instanceId === 'string'
  );
}
