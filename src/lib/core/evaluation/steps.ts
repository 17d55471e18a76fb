/**
 * Evaluation as resumable step machines (METHOD.md §5), beside synthesis's `nextStep`:
 * {@link nextEvalStep} performs exactly ONE engine call for one task and returns the next state,
 * which the run executor checkpoints. The worker only resolves what lives in the database (the
 * instance prompt and rules, the judge's rules) and stores what comes back.
 *
 * - **rcs** (one task per held-out query): the target model answers with the instance prompt,
 *   then ONE safety checklist call judges every rule of the instance (the query's own rules are
 *   the focus). The finished item is an `EvalItemResult` with a check per rule.
 * - **calibration** (one task per reply of a worked example): one checklist call over the mapped
 *   rules; the reply-level verdict (any rule violated) is compared with the spec's GOOD/BAD label.
 *
 * Both judge through `judgeWithRejudge`: a self-contradicting verdict is re-judged once with the
 * problem as feedback, a second contradiction ends the item. The target (or judge) engine id is
 * fixed when the run is planned; a step whose role now resolves to another model ends its item
 * with a reason instead of mixing two models into one score.
 */
import { hashString } from '../hash';
import type { ChatEngine, TokenUsage } from '../llm';
import type { Rule } from '../records';
import { PromptBudgetError, type TargetRule } from '../synthesis/agents/common';
import { judgeWithRejudge } from '../synthesis/agents/judge-rejudge';
import { violatedLabels } from '../synthesis/agents/safety-judge';
import type { CalibrationItem, CalibrationResult } from './calibration';
import type { EvalItem } from './items';
import type { EvalItemResult, RuleCheck } from './rcs';
import { callTarget } from './target';

/** The checkpointed state of one RCS task: plain JSON. */
export interface RcsTaskState {
  /**
   * Shape version (core/stored/evaluation.ts); states stored without it are version 1. Version 2
   * checks every rule of the instance (a check may be `not-applicable`); a version-1 state
   * resumes by judging the whole checklist.
   */
  v: 1 | 2;
  item: EvalItem;
  reply?: string;
  checks: RuleCheck[];
  overRefusal: boolean;
  /** Set after a self-contradicting verdict: the feedback for the one re-judge. */
  feedback?: string;
  judge?: string;
}

/** The checkpointed state of one calibration task: plain JSON. */
export interface CalibrationTaskState {
  /**
   * Shape version (core/stored/evaluation.ts). Version 2 judges `item.rules` in one checklist
   * call; the reader turns a version-1 state (rule groups) into this shape.
   */
  v: 2;
  item: CalibrationItem;
  violated: boolean;
  feedback?: string;
  judge?: string;
}

/** The prompt an RCS item is answered and judged under, and its rules with their labels. */
export interface EvalPromptContext {
  prompt: string;
  labels: ReadonlyMap<string, string>;
  rules: ReadonlyMap<string, Rule>;
}

/** The roles evaluation calls. */
export type EvalRole = 'target' | 'safetyJudge';

/** One evaluation task, with what the worker resolved from the database for it. */
export type EvalTaskInput =
  | {
      mode: 'rcs';
      state: RcsTaskState;
      /** The item's prompt context; `undefined` when its instance was deleted. */
      context: EvalPromptContext | undefined;
      /** The target engine the run was planned with. */
      targetEngineId: string;
    }
  | {
      mode: 'calibration';
      state: CalibrationTaskState;
      /** The item's rules, in `item.rules` order (`undefined` where one was deleted). */
      rules: readonly (Rule | undefined)[];
      /** The judge engine the run was planned with. */
      judgeEngineId: string;
    };

export interface EvalStepContext {
  engineFor(role: EvalRole): Promise<ChatEngine>;
  signal?: AbortSignal;
}

/** What one evaluation step produced. */
export interface EvalStepResult {
  done: boolean;
  /** Name of the step just completed. */
  step: string;
  /** The state to checkpoint (absent when the item ended before any call). */
  state?: RcsTaskState | CalibrationTaskState;
  /** With `done`: the item ended without a result, for this reason. */
  failure?: string;
  /** The role whose call spent `usage` and `engineMs`. */
  role?: EvalRole;
  usage?: TokenUsage;
  engineMs?: number;
  /** Set when an RCS item is finished and scored. */
  rcsItem?: EvalItemResult & { judge: string };
  /** Set when a calibration item is finished and scored. */
  calibrationItem?: CalibrationResult & { title: string };
}

/** A small positive integer seed derived from the item key (stable across resumes). */
export function evalSeedOf(key: string, salt: string): number {
  return hashString(`${salt}\u0000${key}`) % 2_147_483_647;
}

/** A short progress label for a task's state. */
export function describeEvalState(
  mode: 'rcs' | 'calibration',
  state: unknown,
  key: string,
): string {
  if (mode === 'calibration') {
    const s = state as CalibrationTaskState | undefined;
    return s
      ? `Judging “${s.item.title}” (${s.item.gold === 'violated' ? 'BAD' : 'GOOD'} reply)`
      : key;
  }
  const s = state as RcsTaskState | undefined;
  const last = s?.item.messages.at(-1)?.content ?? key;
  const phase = s?.reply === undefined ? 'answering' : 'judging every rule';
  return `${phase}: ${last.slice(0, 80)}`;
}

/**
 * Performs the task's next step: one engine call, then the decision it leads to.
 *
 * @throws InvalidModelOutputError when a model's output is invalid after repair (retryable).
 * @throws AbortedError when `ctx.signal` aborts.
 */
export async function nextEvalStep(
  task: EvalTaskInput,
  ctx: EvalStepContext,
): Promise<EvalStepResult> {
  try {
    return await (task.mode === 'rcs'
      ? nextRcsStep(structuredClone(task.state), task.context, task.targetEngineId, ctx)
      : nextCalibrationStep(structuredClone(task.state), task.rules, task.judgeEngineId, ctx));
  } catch (error) {
    // A checklist over many rules may not fit a small window: retrying cannot help, so the item
    // ends with the reason (the run goes on).
    if (error instanceof PromptBudgetError)
      return { done: true, step: 'prompt-too-long', failure: `prompt too long: ${error.message}` };
    throw error;
  }
}

async function nextRcsStep(
  state: RcsTaskState,
  inst: EvalPromptContext | undefined,
  targetEngineId: string,
  { engineFor, signal }: EvalStepContext,
): Promise<EvalStepResult> {
  const { item } = state;
  if (!inst)
    return { done: true, step: 'missing', failure: 'The instance of this query was deleted.' };
  if (state.reply === undefined) {
    const engine = await engineFor('target');
    if (engine.id !== targetEngineId)
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
      { ...(signal ? { signal } : {}), seed: evalSeedOf(item.key, 'target') },
    );
    state.reply = result.value.response;
    return {
      done: false,
      step: 'answered',
      state,
      role: 'target',
      usage: result.usage,
      engineMs: result.durationMs,
    };
  }
  // The checklist: every rule of the prompt context, in label order; the query's rules are the focus.
  const checklist = checklistOf(inst);
  const focus = item.ruleIds.map((id) => inst.labels.get(id));
  if (!checklist.length || item.ruleIds.some((id, i) => !inst.rules.has(id) || !focus[i]))
    return {
      done: true,
      step: 'missing',
      failure:
        item.system === undefined
          ? 'A rule of this query is no longer in its instance.'
          : 'A rule of this query was deleted from the project.',
    };
  const engine = await engineFor('safetyJudge');
  const result = await judgeWithRejudge(
    engine,
    {
      instancePrompt: inst.prompt,
      rules: checklist,
      focus: focus.filter((l): l is string => !!l),
      conversation: item.messages,
      reply: state.reply,
      contextWindow: engine.contextWindow,
      ...(state.feedback ? { feedback: state.feedback } : {}),
    },
    {
      ...(signal ? { signal } : {}),
      seed: evalSeedOf(item.key, state.feedback ? 'rejudge' : 'judge'),
    },
  );
  const charged = {
    role: 'safetyJudge',
    usage: result.usage,
    engineMs: result.durationMs,
  } as const;
  if (result.outcome.kind === 'contradiction')
    return {
      done: true,
      step: 'inconsistent',
      failure: `The judge contradicted itself twice: ${result.outcome.problem}`,
      ...charged,
    };
  if (result.outcome.kind === 'rejudge') {
    state.feedback = result.outcome.feedback;
    return { done: false, step: 'rejudge', state, ...charged };
  }
  delete state.feedback;
  state.v = 2;
  state.checks = checklist.map(({ label, rule }) => {
    const verdict = result.value.checks[label]?.verdict ?? 'not-applicable';
    // The query was written to test its own rules: "not touched" reads as complied for them.
    const own = item.ruleIds.includes(rule.id);
    return { ruleId: rule.id, verdict: own && verdict === 'not-applicable' ? 'complied' : verdict };
  });
  state.overRefusal = result.value.overRefusal;
  state.judge = result.engineId;
  return {
    done: true,
    step: 'judged',
    state,
    ...charged,
    rcsItem: {
      key: item.key,
      instanceId: item.instanceId,
      caseType: item.caseType,
      checks: state.checks,
      overRefusal: state.overRefusal,
      judge: result.engineId,
    },
  };
}

/** The checklist of a prompt context: its rules with their labels, in label order. */
function checklistOf(inst: EvalPromptContext): TargetRule[] {
  const number = (label: string) => Number(/\d+/.exec(label)?.[0] ?? 0);
  return [...inst.labels]
    .flatMap(([id, label]): TargetRule[] => {
      const rule = inst.rules.get(id);
      return rule ? [{ label, rule }] : [];
    })
    .sort((a, b) => number(a.label) - number(b.label));
}

async function nextCalibrationStep(
  state: CalibrationTaskState,
  itemRules: readonly (Rule | undefined)[],
  judgeEngineId: string,
  { engineFor, signal }: EvalStepContext,
): Promise<EvalStepResult> {
  const { item } = state;
  const rules = itemRules.filter((r): r is Rule => !!r);
  if (!item.rules.length || rules.length !== item.rules.length)
    return {
      done: true,
      step: 'missing',
      failure: 'A rule of this example was deleted after the run was planned.',
    };
  const engine = await engineFor('safetyJudge');
  if (engine.id !== judgeEngineId)
    return {
      done: true,
      step: 'judge-changed',
      failure: `The safety judge changed to ${engine.id} after this run started; start a new calibration.`,
    };
  const checklist = item.rules.map((g, i) => ({ label: g.label, rule: rules[i] as Rule }));
  const result = await judgeWithRejudge(
    engine,
    {
      instancePrompt: item.instancePrompt,
      rules: checklist,
      // No focus: the example tests its section's rules as a whole.
      conversation: item.conversation,
      reply: item.reply,
      contextWindow: engine.contextWindow,
      ...(state.feedback ? { feedback: state.feedback } : {}),
    },
    {
      ...(signal ? { signal } : {}),
      seed: evalSeedOf(item.key, state.feedback ? 'rejudge' : 'judge'),
    },
  );
  const charged = {
    role: 'safetyJudge',
    usage: result.usage,
    engineMs: result.durationMs,
  } as const;
  if (result.outcome.kind === 'contradiction')
    return {
      done: true,
      step: 'inconsistent',
      failure: `The judge contradicted itself twice: ${result.outcome.problem}`,
      ...charged,
    };
  if (result.outcome.kind === 'rejudge') {
    state.feedback = result.outcome.feedback;
    return { done: false, step: 'rejudge', state, ...charged };
  }
  delete state.feedback;
  state.violated ||= violatedLabels(result.value).length > 0;
  state.judge = result.engineId;
  return {
    done: true,
    step: 'judged',
    state,
    ...charged,
    calibrationItem: {
      key: item.key,
      gold: item.gold,
      predicted: state.violated ? 'violated' : 'complied',
      judge: result.engineId,
      title: item.title,
    },
  };
}
