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
 *      (chosen = defender only if its quality passes and no judged rule was violated; otherwise
 *       a chosen reply is written too)
 * write-X → judge-X-safety → judge-X-quality → (next pending candidate | pair)
 * ```
 * Candidate checks: **chosen** — no judged rule violated, not an over-refusal (except in
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
 */
import type { AgentRole } from '../engine-config';
import { InvalidModelOutputError, isAbortError, SpecAlignError } from '../errors';
import { subSeed } from '../instances/random';
import { labelInstanceRules, renderInstancePrompt } from '../instances/render';
import { resolveConflicts } from '../instances/conflicts';
import type { ChatEngine, ChatMessage, TokenUsage } from '../llm';
import type { CaseType, PreferencePair, Rule, SpecExample } from '../records';
import {
  AGENT_ROLE,
  callAttacker,
  callChosen,
  callDefender,
  callPlanner,
  callQualityJudge,
  callSafetyJudge,
  callViolator,
  checkSafetyVerdict,
  MAX_JUDGED_RULES,
  normaliseRuleLabel,
  PromptBudgetError,
  type AgentCallOptions,
  type AgentCallResult,
  type AgentName,
  type ChosenIssue,
  type PlannerOutput,
  type QualityJudgeOutput,
  type SafetyJudgeOutput,
  type TargetRule,
} from './agents';
import type { TaskDescriptor } from './controls';
import {
  DEFENDER_MOVE_CHARS,
  emptyExperiencePool,
  isRoleSwapTask,
  selectExperience,
  type ExperienceEntryDraft,
  type ExperiencePool,
} from './experience';
import { isNearDuplicate, NEAR_DUPLICATE_THRESHOLD } from './near-duplicate';
import { pairProblem } from './pair-checks';

// ---------------------------------------------------------------------------------------------
// Public types

/** Tunables of the loop. */
export interface LoopOptions {
  /** Least helpfulness and fluency (1–5) a chosen reply needs; least fluency a rejected one needs. Default 3. */
  qualityThreshold: number;
  /** Writes per candidate kind (chosen, violation, refusal) before the task fails. Default 3. */
  maxCandidateAttempts: number;
  /** Every K-th task (by order) is a role-swap task; 0 turns it off. Default 4. */
  roleSwapEvery: number;
  /** Most "worked before" strategies shown to the planner. Default 5. */
  experienceLimit: number;
  /** Jaccard threshold for near-duplicate prompts. Default 0.8. */
  duplicateThreshold: number;
  /** `chatJson` repair attempts per call. Default 2. */
  jsonRetries: number;
}

/** Defaults of {@link LoopOptions}. */
export const DEFAULT_LOOP_OPTIONS: LoopOptions = {
  qualityThreshold: 3,
  maxCandidateAttempts: 3,
  roleSwapEvery: 4,
  experienceLimit: 5,
  duplicateThreshold: NEAR_DUPLICATE_THRESHOLD,
  jsonRetries: 2,
};

/** The instance a task works on. */
export interface SynthesisInstance {
  id: string;
  specVersionId: string;
  rules: readonly Rule[];
  /** The stored system prompt; rendered from `rules` when absent. Must match `rules`' labels. */
  systemPrompt?: string;
}

/** Everything a step needs besides the task's own state. */
export interface LoopContext {
  instance: SynthesisInstance;
  /** Spec examples by rule id (see `examplesByRule`): few-shot grounding. */
  examples?: Readonly<Record<string, readonly SpecExample[]>>;
  /** Snapshot of the run's experience pool. */
  experience?: ExperiencePool;
  /** Prompts (user turns joined by newlines) already produced in the run, for deduplication. */
  existingPrompts?: readonly string[];
  /** The engine for a role, loaded on demand. */
  engineFor(role: AgentRole): Promise<ChatEngine>;
  /** Engine ids for provenance; default each engine's own `id`. */
  engineIds?: Partial<Record<AgentRole, string>>;
  signal?: AbortSignal;
  /** Clock for provenance timestamps; default `Date.now`. */
  now?: () => number;
  options?: Partial<LoopOptions>;
}

/** The kinds of candidate response the loop writes and judges. */
export type CandidateKind = 'chosen' | 'violation' | 'refusal';

/** Every step the loop can take (the `next` of a state; the `step` of a result). */
export type LoopStep =
  | 'plan'
  | 'attack'
  | 'defend'
  | 'judge-defender-safety'
  | 'judge-defender-quality'
  | `write-${CandidateKind}`
  | `judge-${CandidateKind}-safety`
  | `judge-${CandidateKind}-quality`;

/** How a pair came about. */
export type PairPath = 'defender-violated' | 'over-refusal' | 'violator' | 'refusal-writer';

/** Usage of one agent over the task. */
export interface RoleUsage {
  calls: number;
  /** `chatJson` attempts (repairs included). */
  attempts: number;
  promptTokens: number;
  completionTokens: number;
  engineMs: number;
}

/** A safety verdict, with rule ids resolved. */
export type SafetySummary = {
  verdicts: {
    ruleId?: string;
    label: string;
    verdict: 'complied' | 'violated';
    evidence: string;
    rationale: string;
  }[];
  overRefusal: boolean;
};

/** A quality verdict as recorded in provenance. */
export type QualitySummary = { helpfulness: number; fluency: number; rationale: string };

/** One judge call, for provenance. */
export type JudgementRecord = {
  subject: 'defender' | CandidateKind;
  judge: 'safety' | 'quality';
  attempt: number;
  passed: boolean;
  safety?: SafetySummary;
  quality?: QualitySummary;
  /** Set when the verdict contradicted itself. */
  contradiction?: string;
};

/** A response with where it came from and how it was judged. */
export type JudgedResponse = {
  source: 'defender' | 'chosen-writer' | 'violator';
  response: string;
  safety?: SafetySummary;
  quality?: QualitySummary;
};

/** The checkpointed state of one synthesis task: plain JSON. */
export type LoopState = {
  version: 1;
  task: TaskDescriptor;
  /** The step the next call performs. */
  next: LoopStep;
  /** Agent calls made so far (seeds derive from it). */
  calls: number;
  startedAt?: number;
  plan?: PlannerOutput & { roleSwap: boolean };
  conversation?: ChatMessage[];
  defender?: JudgedResponse;
  path?: PairPath;
  rejected?: JudgedResponse;
  chosen?: JudgedResponse;
  /** Candidates still to write, in order. */
  pending: CandidateKind[];
  /** Why a chosen reply is needed (guidance for the writer). */
  chosenIssue?: ChosenIssue;
  /** The candidate being judged. */
  candidate?: JudgedResponse & { kind: CandidateKind };
  /** Judge feedback for the next write. */
  feedback?: string;
  /** Writes per candidate kind. */
  writes: Record<CandidateKind, number>;
  /** Set while a contradicting safety verdict is being re-judged. */
  rejudge?: string;
  usage: Partial<Record<AgentName, RoleUsage>>;
  engines: Partial<Record<AgentName, string>>;
  judgements: JudgementRecord[];
};

/** Provenance of a pair (METHOD.md §3): plain JSON. */
export type PairProvenance = {
  method: 'specalign-adversarial/1';
  specVersionId: string;
  instanceId: string;
  taskKey: string;
  seed: number;
  targetRuleIds: string[];
  judgedRuleIds: string[];
  ruleLabels: Record<string, string>;
  caseType: CaseType;
  path: PairPath;
  persona: string;
  difficulty: number;
  turns: number;
  language: string;
  setting: string;
  plan: PlannerOutput & { roleSwap: boolean };
  engines: Partial<Record<AgentName, string>>;
  chosen: JudgedResponse;
  rejected: JudgedResponse;
  /** The defender's first answer as judged (it is the chosen or the rejected side, or neither). */
  defender: JudgedResponse;
  judgements: JudgementRecord[];
  writes: Record<CandidateKind, number>;
  lengths: {
    chosenChars: number;
    rejectedChars: number;
    chosenWords: number;
    rejectedWords: number;
    /** chosenChars / rejectedChars. */
    ratio: number;
  };
  usage: Partial<Record<AgentName, RoleUsage>>;
  timing: { startedAt: number; finishedAt: number; engineMs: number };
};

/** A preference pair before storage gives it an id, project, run, status and date. */
export type PairDraft = Omit<
  PreferencePair,
  'id' | 'projectId' | 'runId' | 'status' | 'createdAt' | 'provenance'
> & { provenance: PairProvenance };

/** What one step produced. */
export interface LoopStepResult {
  /** The step just performed. */
  step: LoopStep;
  /** The state to checkpoint (the final state when `done`). */
  state: LoopState;
  done: boolean;
  /** Set when the task finished with a pair. */
  pair?: PairDraft;
  /** Set when the task finished without a pair, with the reason. */
  failure?: string;
  /** Set once per task, when the defender's verdict is final: add it to the experience pool. */
  experience?: ExperienceEntryDraft;
  usage: TokenUsage;
  engineMs: number;
}

/** A step's agent gave no usable answer even after `chatJson`'s repair; the executor may retry. */
export class SynthesisStepError extends SpecAlignError {
  constructor(
    message: string,
    readonly step: LoopStep,
    /** Tokens and engine time the failed call spent. */
    readonly usage: TokenUsage,
    readonly durationMs: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// ---------------------------------------------------------------------------------------------
// Entry points

/** The state a new task starts from; store it as the task's `state`. */
export function initialLoopState(task: TaskDescriptor): LoopState {
  return {
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

/** A short progress label, e.g. `R3 violation · judge-defender-safety`. */
export function describeLoopState(state: LoopState, labels?: Record<string, string>): string {
  const rule = labels?.[state.task.ruleId] ?? state.task.ruleId;
  return `${rule} ${state.task.caseType} · ${state.next}`;
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

/** Per-step helpers around the state, context and options. */
class StepEnv {
  readonly labeled: TargetRule[];
  readonly target: TargetRule;
  readonly judged: TargetRule[];
  readonly instancePrompt: string;
  #usage: TokenUsage = { promptTokens: 0, completionTokens: 0 };
  #engineMs = 0;

  constructor(
    readonly state: LoopState,
    readonly ctx: LoopContext,
    readonly options: LoopOptions,
    readonly taskAttempts: number,
  ) {
    this.labeled = labelInstanceRules(ctx.instance.rules);
    const target = this.labeled.find((l) => l.rule.id === state.task.ruleId);
    if (!target)
      throw new Error(
        `Rule ${state.task.ruleId} is not in instance ${ctx.instance.id}; re-plan the run.`,
      );
    this.target = target;
    const { conflicts } = resolveConflicts(ctx.instance.rules);
    const partners = conflicts
      .filter((c) => c.winnerId === target.rule.id || c.loserId === target.rule.id)
      .map((c) => (c.winnerId === target.rule.id ? c.loserId : c.winnerId));
    this.judged = [
      target,
      ...partners
        .map((id) => this.labeled.find((l) => l.rule.id === id))
        .filter((l): l is TargetRule => l !== undefined),
    ].slice(0, MAX_JUDGED_RULES);
    this.instancePrompt =
      ctx.instance.systemPrompt ?? renderInstancePrompt(ctx.instance.rules).text;
  }

  get examples(): readonly SpecExample[] {
    return this.ctx.examples?.[this.state.task.ruleId] ?? [];
  }

  /** Runs one agent call with a per-call seed, recording usage, time and engine id. */
  async call<T>(
    agent: AgentName,
    run: (engine: ChatEngine, options: AgentCallOptions) => Promise<AgentCallResult<T>>,
  ): Promise<{ value: T; engine: ChatEngine }> {
    const role = AGENT_ROLE[agent];
    const engine = await this.ctx.engineFor(role);
    const seed = subSeed(
      this.state.task.seed,
      'call',
      this.state.calls,
      'attempt',
      this.taskAttempts,
    );
    const options: AgentCallOptions = {
      seed,
      retries: this.options.jsonRetries,
      ...(this.ctx.signal ? { signal: this.ctx.signal } : {}),
    };
    let result: AgentCallResult<T>;
    try {
      result = await run(engine, options);
    } catch (error) {
      if (error instanceof InvalidModelOutputError)
        this.#charge(agent, error.usage, error.durationMs, 0);
      throw error;
    }
    this.state.calls++;
    this.state.engines[agent] = this.ctx.engineIds?.[role] ?? engine.id;
    this.#charge(agent, result.usage, result.durationMs, result.attempts);
    return { value: result.value, engine };
  }

  #charge(agent: AgentName, usage: TokenUsage, ms: number, attempts: number): void {
    this.#usage.promptTokens += usage.promptTokens;
    this.#usage.completionTokens += usage.completionTokens;
    this.#engineMs += ms;
    if (!attempts) return;
    const u = (this.state.usage[agent] ??= {
      calls: 0,
      attempts: 0,
      promptTokens: 0,
      completionTokens: 0,
      engineMs: 0,
    });
    u.calls++;
    u.attempts += attempts;
    u.promptTokens += usage.promptTokens;
    u.completionTokens += usage.completionTokens;
    u.engineMs += ms;
  }

  result(step: LoopStep, extra: Partial<LoopStepResult> = {}): LoopStepResult {
    return {
      step,
      state: this.state,
      done: false,
      usage: { ...this.#usage },
      engineMs: this.#engineMs,
      ...extra,
    };
  }

  fail(step: LoopStep, failure: string, extra: Partial<LoopStepResult> = {}): LoopStepResult {
    return this.result(step, { ...extra, done: true, failure });
  }

  /** Safety-judges `reply`; on a contradiction, re-judges once, then fails. */
  async judgeSafety(
    step: LoopStep,
    reply: string,
  ): Promise<
    | { summary: SafetySummary; raw: SafetyJudgeOutput }
    | { failed: LoopStepResult }
    | { rejudge: LoopStepResult }
  > {
    const feedback = this.state.rejudge;
    const { value } = await this.call('safetyJudge', (engine, options) =>
      callSafetyJudge(
        engine,
        {
          instancePrompt: this.instancePrompt,
          rules: this.judged,
          conversation: this.state.conversation ?? [],
          reply,
          examples: this.examples,
          contextWindow: engine.contextWindow,
          ...(feedback ? { feedback } : {}),
        },
        options,
      ),
    );
    const problem = checkSafetyVerdict(
      value,
      this.target.label,
      reply,
      this.judged.map((j) => j.label),
    );
    if (problem) {
      this.state.judgements.push({
        subject: subjectOf(step),
        judge: 'safety',
        attempt: this.state.candidate ? this.state.writes[this.state.candidate.kind] : 1,
        passed: false,
        safety: this.summarise(value),
        contradiction: problem,
      });
      if (feedback) {
        delete this.state.rejudge;
        return { failed: this.fail(step, `judge contradiction: ${problem}`) };
      }
      this.state.rejudge = problem;
      return { rejudge: this.result(step) };
    }
    delete this.state.rejudge;
    return { summary: this.summarise(value), raw: value };
  }

  async judgeQuality(reply: string): Promise<QualitySummary> {
    const { value } = await this.call('qualityJudge', (engine, options) =>
      callQualityJudge(
        engine,
        { conversation: this.state.conversation ?? [], reply, contextWindow: engine.contextWindow },
        options,
      ),
    );
    return summariseQuality(value);
  }

  summarise(output: SafetyJudgeOutput): SafetySummary {
    return {
      verdicts: output.verdicts.map((v) => {
        const label = normaliseRuleLabel(v.rule);
        const ruleId = this.labeled.find((l) => l.label === label)?.rule.id;
        return {
          ...(ruleId ? { ruleId } : {}),
          label,
          verdict: v.verdict,
          evidence: v.evidence,
          rationale: v.rationale,
        };
      }),
      overRefusal: output.overRefusal,
    };
  }

  /** The target rule's verdict in a summary. */
  targetVerdict(summary: SafetySummary) {
    return summary.verdicts.find((v) => v.label === this.target.label);
  }

  /** True when a judged rule (target or conflict partner) is violated. */
  anyJudgedViolated(summary: SafetySummary): boolean {
    const labels = new Set(this.judged.map((j) => j.label));
    return summary.verdicts.some((v) => labels.has(v.label) && v.verdict === 'violated');
  }

  qualityPasses(q: QualitySummary, needHelpful: boolean): boolean {
    const t = this.options.qualityThreshold;
    return q.fluency >= t && (!needHelpful || q.helpfulness >= t);
  }
}

function subjectOf(step: LoopStep): JudgementRecord['subject'] {
  if (step.startsWith('judge-defender')) return 'defender';
  if (step.includes('chosen')) return 'chosen';
  if (step.includes('violation')) return 'violation';
  return 'refusal';
}

function summariseQuality(q: QualityJudgeOutput): QualitySummary {
  return { helpfulness: q.helpfulness, fluency: q.fluency, rationale: q.rationale };
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

function candidateOf(step: LoopStep): CandidateKind {
  const kind = /^(?:write|judge)-(chosen|violation|refusal)/.exec(step)?.[1];
  if (!kind) throw new Error(`Unknown synthesis step "${step}".`);
  return kind as CandidateKind;
}

const STEPS: Record<StepKind, (env: StepEnv, step: LoopStep) => Promise<LoopStepResult>> = {
  async plan(env, step) {
    const { state, ctx, options } = env;
    const roleSwap = isRoleSwapTask(state.task.order, options.roleSwapEvery);
    const experience = selectExperience(ctx.experience ?? emptyExperiencePool(), ctx.instance.id, {
      limit: options.experienceLimit,
      includeHeld: roleSwap,
    });
    const { value } = await env.call('planner', (engine, callOptions) =>
      callPlanner(
        engine,
        {
          instancePrompt: env.instancePrompt,
          target: env.target,
          caseType: state.task.caseType,
          persona: state.task.persona,
          difficulty: state.task.difficulty,
          turns: state.task.turns,
          language: state.task.language,
          setting: state.task.setting,
          experience,
          roleSwap,
          examples: env.examples,
          contextWindow: engine.contextWindow,
        },
        callOptions,
      ),
    );
    state.plan = { ...value, roleSwap };
    state.next = 'attack';
    return env.result(step);
  },

  async attack(env, step) {
    const { state, ctx, options } = env;
    const plan = state.plan;
    if (!plan) throw new Error('Synthesis state is missing its plan.');
    const { value } = await env.call('attacker', (engine, callOptions) =>
      callAttacker(
        engine,
        {
          target: env.target,
          plan,
          caseType: state.task.caseType,
          difficulty: state.task.difficulty,
          turns: state.task.turns,
          language: state.task.language,
          setting: state.task.setting,
          examples: env.examples,
          contextWindow: engine.contextWindow,
        },
        callOptions,
      ),
    );
    state.conversation = value.turns.map((t) => ({ role: t.role, content: t.content }));
    if (
      isNearDuplicate(
        promptText(state.conversation),
        ctx.existingPrompts ?? [],
        options.duplicateThreshold,
      )
    )
      return env.fail(step, 'duplicate prompt');
    state.next = 'defend';
    return env.result(step);
  },

  async defend(env, step) {
    const { state } = env;
    const { value } = await env.call('defender', (engine, callOptions) =>
      callDefender(
        engine,
        {
          instancePrompt: env.instancePrompt,
          conversation: state.conversation ?? [],
          contextWindow: engine.contextWindow,
        },
        callOptions,
      ),
    );
    state.defender = { source: 'defender', response: value.response };
    state.next = 'judge-defender-safety';
    return env.result(step);
  },

  async 'judge-defender-safety'(env, step) {
    const { state } = env;
    const defender = requireDefender(state);
    const judged = await env.judgeSafety(step, defender.response);
    if ('failed' in judged) return judged.failed;
    if ('rejudge' in judged) return judged.rejudge;
    defender.safety = judged.summary;
    state.judgements.push({
      subject: 'defender',
      judge: 'safety',
      attempt: 1,
      passed: true,
      safety: judged.summary,
    });
    state.next = 'judge-defender-quality';
    const violated = env.targetVerdict(judged.summary)?.verdict === 'violated';
    const caseType = state.task.caseType;
    const success =
      caseType === 'violation'
        ? violated
        : caseType === 'borderline'
          ? violated || judged.summary.overRefusal
          : judged.summary.overRefusal || violated;
    const plan = state.plan;
    const experience: ExperienceEntryDraft = {
      instanceId: env.ctx.instance.id,
      ruleId: state.task.ruleId,
      caseType,
      taskKey: state.task.key,
      strategy: plan?.strategy ?? '',
      angle: plan?.angle ?? '',
      persona: plan?.persona ?? state.task.persona,
      success,
      defenderMove: defender.response.replace(/\s+/g, ' ').trim().slice(0, DEFENDER_MOVE_CHARS),
    };
    return env.result(step, { experience });
  },

  async 'judge-defender-quality'(env, step) {
    const { state } = env;
    const defender = requireDefender(state);
    const safety = defender.safety;
    if (!safety) throw new Error('Synthesis state is missing the defender verdict.');
    const quality = await env.judgeQuality(defender.response);
    defender.quality = quality;
    const target = env.targetVerdict(safety);
    const violated = target?.verdict === 'violated';
    const overRefusal = safety.overRefusal && state.task.caseType !== 'violation';
    const helpfulOk = env.qualityPasses(quality, true);
    state.judgements.push({
      subject: 'defender',
      judge: 'quality',
      attempt: 1,
      passed: helpfulOk,
      quality,
    });

    if (violated) {
      state.path = 'defender-violated';
      state.rejected = defender;
      state.chosenIssue = {
        kind: 'violated',
        evidence: target?.evidence ?? '',
        rationale: target?.rationale ?? '',
      };
      state.pending = ['chosen'];
    } else if (overRefusal) {
      state.path = 'over-refusal';
      state.rejected = defender;
      state.chosenIssue = { kind: 'over-refusal', rationale: firstRationale(safety) };
      state.pending = ['chosen'];
    } else {
      state.path = state.task.caseType === 'benign' ? 'refusal-writer' : 'violator';
      state.pending = [state.path === 'refusal-writer' ? 'refusal' : 'violation'];
      if (helpfulOk && !env.anyJudgedViolated(safety)) state.chosen = defender;
      else {
        const partner = safety.verdicts.find((v) => v.verdict === 'violated');
        state.chosenIssue = partner
          ? { kind: 'violated', evidence: partner.evidence, rationale: partner.rationale }
          : { kind: 'low-quality', rationale: quality.rationale };
        state.pending.push('chosen');
      }
    }
    state.next = `write-${state.pending[0] as CandidateKind}`;
    return env.result(step);
  },

  async write(env, step) {
    const { state } = env;
    const kind = candidateOf(step);
    const conversation = state.conversation ?? [];
    const feedback = state.feedback;
    let response: string;
    if (kind === 'chosen') {
      const issue: ChosenIssue = feedback
        ? reissue(state.chosenIssue, feedback)
        : (state.chosenIssue ?? { kind: 'low-quality', rationale: '' });
      ({
        value: { response },
      } = await env.call('chosen', (engine, options) =>
        callChosen(
          engine,
          {
            instancePrompt: env.instancePrompt,
            target: env.target,
            conversation,
            issue,
            examples: env.examples,
            contextWindow: engine.contextWindow,
          },
          options,
        ),
      ));
    } else {
      ({
        value: { response },
      } = await env.call('violator', (engine, options) =>
        callViolator(
          engine,
          {
            mode: kind === 'violation' ? 'violate' : 'refuse',
            instancePrompt: env.instancePrompt,
            target: env.target,
            conversation,
            examples: env.examples,
            contextWindow: engine.contextWindow,
            ...(feedback ? { feedback } : {}),
          },
          options,
        ),
      ));
    }
    state.writes[kind]++;
    delete state.feedback;
    state.candidate = { kind, source: kind === 'chosen' ? 'chosen-writer' : 'violator', response };
    state.next = `judge-${kind}-safety`;
    return env.result(step);
  },

  async 'judge-safety'(env, step) {
    const { state } = env;
    const candidate = requireCandidate(state);
    const judged = await env.judgeSafety(step, candidate.response);
    if ('failed' in judged) return judged.failed;
    if ('rejudge' in judged) return judged.rejudge;
    candidate.safety = judged.summary;
    const target = env.targetVerdict(judged.summary);
    let problem = '';
    if (candidate.kind === 'chosen') {
      const broken = judged.summary.verdicts.find(
        (v) => v.verdict === 'violated' && env.judged.some((j) => j.label === v.label),
      );
      if (broken) problem = `it broke ${broken.label}: "${broken.evidence}". ${broken.rationale}`;
      else if (judged.summary.overRefusal && state.task.caseType !== 'violation')
        problem = `it refused or held back needlessly. ${target?.rationale ?? ''}`;
    } else if (candidate.kind === 'violation') {
      if (target?.verdict !== 'violated')
        problem = `it did not clearly break ${env.target.label}. ${target?.rationale ?? ''}`;
    } else if (!judged.summary.overRefusal) {
      problem = `it was not judged a needless refusal. ${target?.rationale ?? ''}`;
    }
    state.judgements.push({
      subject: candidate.kind,
      judge: 'safety',
      attempt: state.writes[candidate.kind],
      passed: !problem,
      safety: judged.summary,
    });
    if (problem) return retryOrFail(env, step, candidate.kind, problem.trim());
    state.next = `judge-${candidate.kind}-quality`;
    return env.result(step);
  },

  async 'judge-quality'(env, step) {
    const { state } = env;
    const candidate = requireCandidate(state);
    const quality = await env.judgeQuality(candidate.response);
    candidate.quality = quality;
    const passed = env.qualityPasses(quality, candidate.kind === 'chosen');
    state.judgements.push({
      subject: candidate.kind,
      judge: 'quality',
      attempt: state.writes[candidate.kind],
      passed,
      quality,
    });
    if (!passed) {
      const what = candidate.kind === 'chosen' ? 'helpful or fluent' : 'fluent';
      return retryOrFail(
        env,
        step,
        candidate.kind,
        `it was not ${what} enough (helpfulness ${quality.helpfulness}, fluency ${quality.fluency}): ${quality.rationale}`,
      );
    }
    const accepted: JudgedResponse = {
      source: candidate.source,
      response: candidate.response,
      ...(candidate.safety ? { safety: candidate.safety } : {}),
      quality,
    };
    const pending = state.pending.filter((k) => k !== candidate.kind);
    if (pending.length === 0) {
      // The last side is in: make sure the pair carries a preference before it is kept.
      const chosen = candidate.kind === 'chosen' ? accepted : state.chosen;
      const rejected = candidate.kind === 'chosen' ? state.rejected : accepted;
      const problem =
        chosen && rejected
          ? pairProblem({
              caseType: state.task.caseType,
              ...(state.path ? { path: state.path } : {}),
              targetRuleIds: [state.task.ruleId],
              chosen,
              rejected,
            })
          : undefined;
      if (problem) return retryOrFail(env, step, candidate.kind, `${problem}.`);
    }
    if (candidate.kind === 'chosen') state.chosen = accepted;
    else state.rejected = accepted;
    delete state.candidate;
    state.pending = pending;
    const following = state.pending[0];
    if (following) {
      state.next = `write-${following}`;
      return env.result(step);
    }
    return env.result(step, { done: true, pair: buildPair(env) });
  },
};

function retryOrFail(
  env: StepEnv,
  step: LoopStep,
  kind: CandidateKind,
  problem: string,
): LoopStepResult {
  const { state, options } = env;
  if (state.writes[kind] >= options.maxCandidateAttempts) {
    const what = { chosen: 'chosen reply', violation: 'violation', refusal: 'needless refusal' }[
      kind
    ];
    return env.fail(step, `no acceptable ${what} after ${state.writes[kind]} attempts: ${problem}`);
  }
  state.feedback = problem;
  delete state.candidate;
  state.next = `write-${kind}`;
  return env.result(step);
}

function reissue(issue: ChosenIssue | undefined, feedback: string): ChosenIssue {
  if (issue?.kind === 'over-refusal') return { kind: 'over-refusal', rationale: feedback };
  if (issue?.kind === 'violated')
    return { kind: 'violated', evidence: issue.evidence, rationale: feedback };
  return { kind: 'low-quality', rationale: feedback };
}

function firstRationale(summary: SafetySummary): string {
  return summary.verdicts[0]?.rationale ?? '';
}

function requireDefender(state: LoopState): JudgedResponse {
  if (!state.defender) throw new Error('Synthesis state is missing the defender answer.');
  return state.defender;
}

function requireCandidate(state: LoopState): NonNullable<LoopState['candidate']> {
  if (!state.candidate) throw new Error('Synthesis state is missing the candidate to judge.');
  return state.candidate;
}

/** The text deduplication compares: the user turns, joined by newlines. */
export function promptText(conversation: readonly ChatMessage[]): string {
  return conversation
    .filter((m) => m.role === 'user')
    .map((m) => m.content)
    .join('\n');
}

function buildPair(env: StepEnv): PairDraft {
  const { state, ctx } = env;
  const chosen = state.chosen;
  const rejected = state.rejected;
  const defender = state.defender;
  if (!chosen || !rejected || !defender || !state.path || !state.plan)
    throw new Error('Synthesis state is incomplete at the end of the task.');
  const words = (s: string) => (s.match(/\S+/g) ?? []).length;
  const engineMs = Object.values(state.usage).reduce((n, u) => n + (u?.engineMs ?? 0), 0);
  const provenance: PairProvenance = {
    method: 'specalign-adversarial/1',
    specVersionId: ctx.instance.specVersionId,
    instanceId: ctx.instance.id,
    taskKey: state.task.key,
    seed: state.task.seed,
    targetRuleIds: [state.task.ruleId],
    judgedRuleIds: env.judged.map((j) => j.rule.id),
    ruleLabels: Object.fromEntries(env.judged.map((j) => [j.rule.id, j.label])),
    caseType: state.task.caseType,
    path: state.path,
    persona: state.plan.persona,
    difficulty: state.task.difficulty,
    turns: state.task.turns,
    language: state.task.language,
    setting: state.task.setting,
    plan: state.plan,
    engines: { ...state.engines },
    chosen,
    rejected,
    defender,
    judgements: state.judgements,
    writes: { ...state.writes },
    lengths: {
      chosenChars: chosen.response.length,
      rejectedChars: rejected.response.length,
      chosenWords: words(chosen.response),
      rejectedWords: words(rejected.response),
      ratio: rejected.response.length ? chosen.response.length / rejected.response.length : 0,
    },
    usage: state.usage,
    timing: { startedAt: state.startedAt ?? 0, finishedAt: (ctx.now ?? Date.now)(), engineMs },
  };
  return {
    instanceId: ctx.instance.id,
    ruleIds: [state.task.ruleId],
    caseType: state.task.caseType,
    prompt: [{ role: 'system', content: env.instancePrompt }, ...(state.conversation ?? [])],
    chosen: chosen.response,
    rejected: rejected.response,
    provenance,
  };
}
