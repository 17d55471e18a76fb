/**
 * Multi-agent adversarial synthesis of one task (METHOD.md §3) as a resumable state machine.
 *
 * `nextStep(task, ctx)` performs exactly ONE agent call (one `chatJson`, with its bounded
 * repair) and returns the next state, which the run executor checkpoints. The state is plain JSON:
 * a task resumes from it after a reload with the same result an uninterrupted run would give
 * (seeds are derived from the task seed and the call count, never from generator state).
 *
 * ## Flow
 * ```
 * plan → attack (→ duplicate? fail) → defend → judge-defender-safety → judge-defender-quality
 *   ├─ target rule violated            → rejected = defender; write chosen
 *   ├─ needless refusal (not a
 *   │  violation-seeking case)         → rejected = defender; write chosen (helpful)
 *   └─ complied and helpful
 *        ├─ violation / borderline     → write violation (violator) ; chosen = defender
 *        └─ benign look-alike          → write refusal (violator, refusal mode); chosen = defender
 *      (chosen = defender only if its quality passes and it breaks no rule of the instance; otherwise
 *       a chosen reply is written too)
 * write-X → judge-X-safety → judge-X-quality → (next pending candidate | pair)
 * ```
 * **Adversarial rounds** (issue 14 §1, `attackRounds`, default 3): after judge-defender-safety, a
 * defender that held (the attacker did not get what the case type was after) is attacked again —
 * attack → defend → judge-defender-safety — with its reply, the verdict and the "worked before"
 * hints shown to the attacker; multi-turn tasks append one user turn to the same conversation,
 * single-message tasks start over. Only when the rounds are spent does the flow above go on to
 * judge-defender-quality and the violator. The state records the round (`round`, `rounds`), the
 * experience entry is made once, with the rounds it took, and the pair's provenance states the
 * origin of each side (`origin`, see `PairOrigin`).
 * Every safety judgement is one checklist call over every rule of the instance (a verdict per
 * label: complied, violated or not-applicable; see agents/safety-judge.ts).
 * Candidate checks: **chosen** — no rule of the instance violated, not an over-refusal (except in
 * violation-seeking cases, where refusing can be right), helpfulness and fluency ≥ threshold;
 * **violation** — target rule judged violated, fluency ≥ threshold; **refusal** — judged an
 * over-refusal, fluency ≥ threshold. A failed check rewrites the candidate with the judge's
 * rationale as feedback, at most `maxCandidateAttempts` writes per kind; then the task fails.
 *
 * ## Failures
 * - A safety verdict that contradicts itself (see `checkSafetyVerdict`) is re-judged once with
 *   the problem stated; a second contradiction ends the task: `failure: 'judge contradiction: …'`.
 * - A near-duplicate attacker prompt ends the task: `failure: 'duplicate prompt'`.
 * - Exhausted candidate attempts, or a prompt that cannot fit the window, end the task with a
 *   `failure` reason. These results have `done: true`: retrying would not help.
 * - Invalid model output after `chatJson`'s repair throws {@link SynthesisStepError} (with the
 *   usage spent): the executor counts the attempt and retries the same step from the same state;
 *   the retry samples with a different seed (the task's attempt count is part of it).
 * - Aborts rethrow `AbortedError`.
 *
 * ## Method choices where the paper is silent
 * - Borderline cases with a needless refusal yield over-refusal pairs, like benign look-alikes:
 *   a borderline request is one the rule arguably allows.
 * - The attacker "succeeded" (experience pool) when the defender violated the rule (violation,
 *   borderline) or refused needlessly (benign, borderline). Every task that reaches a defender
 *   verdict reports one experience entry; the caller adds it to the pool.
 * - Pairs record the chosen/rejected length ratio (characters) in provenance; filtering by it is
 *   left to export, where the whole dataset's balance is visible.
 *
 * ## Files
 * This file holds the entry points and the step table. The types are in `loop-types.ts`; the
 * steps, by kind, in `steps/defender.ts` (plan → judge-defender-quality) and
 * `steps/candidate.ts` (write/judge a candidate, then the pair); `steps/env.ts` holds the
 * per-step helpers (seeded agent calls, judging) and `steps/pair.ts` builds the pair.
 */
import { InvalidModelOutputError, isAbortError } from '../errors';
import { PromptBudgetError } from './agents';
import type { TaskDescriptor } from './controls';
import type { TaskRoles } from './role-rotation';
import {
  DEFAULT_LOOP_OPTIONS,
  SynthesisStepError,
  type LoopContext,
  type LoopState,
  type LoopStep,
  type LoopStepResult,
} from './loop-types';
import { CANDIDATE_STEPS } from './steps/candidate';
import { DEFENDER_STEPS } from './steps/defender';
import { StepEnv, type StepHandler } from './steps/env';

export * from './loop-types';
export { promptText } from './steps/pair';

// ---------------------------------------------------------------------------------------------
// Entry points

/**
 * The state a new task starts from; store it as the task's `state`. `roles`: the models planned
 * for its attacker and defender (role-rotation.ts), when the run assigns any.
 */
export function initialLoopState(task: TaskDescriptor, roles?: TaskRoles): LoopState {
  return {
    ...(roles ? { roles: { ...roles } } : {}),
    version: 1,
    task: { ...task },
    next: 'plan',
    calls: 0,
    pending: [],
    writes: { chosen: 0, violation: 0, refusal: 0 },
    usage: {},
    engines: {},
    judgements: [],
  };
}

/**
 * A short progress label, e.g. `R3 violation · judge-defender-safety`, with the attack round from
 * round 2 on (`R3 violation · attack · round 2`).
 */
export function describeLoopState(state: LoopState, labels?: Record<string, string>): string {
  const rule = labels?.[state.task.ruleId] ?? state.task.ruleId;
  const round = state.round ?? 1;
  return `${rule} ${state.task.caseType} · ${state.next}${round > 1 ? ` · round ${round}` : ''}`;
}

/**
 * Performs the task's next step: one agent call, then the decision it leads to. See the module
 * comment for the flow and failure semantics. `task.state` (from {@link initialLoopState} or the
 * last result) decides what runs; `task.step` is informational; `task.attempts` (the executor's
 * failed attempts at this step) varies the sampling seed of a retry.
 *
 * @throws SynthesisStepError when the agent's output is invalid after repair (retryable).
 * @throws AbortedError when `ctx.signal` aborts.
 */
export async function nextStep(
  task: { step?: string; state?: unknown; attempts?: number },
  ctx: LoopContext,
): Promise<LoopStepResult> {
  const state = readState(task.state);
  const options = { ...DEFAULT_LOOP_OPTIONS, ...ctx.options };
  const now = ctx.now ?? Date.now;
  if (state.startedAt === undefined) state.startedAt = now();
  const env = new StepEnv(state, ctx, options, task.attempts ?? 0);
  const step = state.next;
  try {
    return await STEPS[kindOf(step)](env, step);
  } catch (error) {
    if (isAbortError(error)) throw error;
    if (error instanceof PromptBudgetError)
      return env.fail(step, `prompt too long: ${error.message}`);
    if (error instanceof InvalidModelOutputError)
      throw new SynthesisStepError(
        `${stepLabel(step)}: ${error.message}`,
        step,
        error.usage,
        error.durationMs,
        { cause: error },
      );
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Internals

function readState(value: unknown): LoopState {
  if (!value || typeof value !== 'object' || (value as { version?: unknown }).version !== 1)
    throw new Error(
      'This synthesis task has no valid state. Create tasks with initialLoopState(descriptor).',
    );
  // A deep copy: the caller's checkpoint is never mutated.
  return structuredClone(value) as LoopState;
}

function stepLabel(step: LoopStep): string {
  return `Step "${step}"`;
}

type StepKind =
  | 'plan'
  | 'attack'
  | 'defend'
  | 'judge-defender-safety'
  | 'judge-defender-quality'
  | 'write'
  | 'judge-safety'
  | 'judge-quality';

function kindOf(step: LoopStep): StepKind {
  if (step.startsWith('write-')) return 'write';
  if (step === 'judge-defender-safety' || step === 'judge-defender-quality') return step;
  if (step.startsWith('judge-') && step.endsWith('-safety')) return 'judge-safety';
  if (step.startsWith('judge-') && step.endsWith('-quality')) return 'judge-quality';
  return step as StepKind;
}

const STEPS: Record<StepKind, StepHandler> = { ...DEFENDER_STEPS, ...CANDIDATE_STEPS };
