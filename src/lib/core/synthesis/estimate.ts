/**
 * Estimates a synthesis run before it starts: agent calls, prompt and completion tokens, and
 * time, so the user sees the cost of a configuration on their hardware.
 *
 * ## Model
 * - **Prompt tokens come from the real prompt builders**, fed with the run's own instances, target
 *   rules and spec examples, and with placeholder conversations and replies of typical length
 *   ({@link DEFAULT_TYPICAL_LENGTHS}). So instance size, examples and multi-turn tasks all count.
 * - **Completion tokens** are typical lengths per agent, not the `maxTokens` caps.
 * - **Calls per task** follow the loop's paths weighted by a documented branch mix
 *   ({@link DEFAULT_BRANCH_MIX}): every task costs plan + attack + defend + 2 judges (+ a
 *   re-judge at `rejudgeRate`); then the defender's verdict decides which candidates must be
 *   written. Each candidate write costs 3 calls (writer, safety judge, quality judge); a candidate
 *   is rewritten with probability `candidateRejectRate`, up to `maxCandidateAttempts` writes,
 *   so the expected writes are 1 + p + p² + … (capped).
 * - **Time** = completion tokens ÷ `tokensPerSecond` (decode) + prompt tokens ÷
 *   `promptTokensPerSecond` (prefill, when given; leaving it out underestimates CPU engines,
 *   where prefill is slow). Both parts are reported, and which one dominates.
 * - **Money** = each agent's prompt and completion tokens at the price of its role's model
 *   (`prices`); roles without a price are listed as unpriced, never counted as free.
 * The branch mix is a prior for small instruct models against small instances; real runs differ,
 * and the executor's live tokens/s and ETA take over once the run starts.
 */
import { costOf, type TokenPrice } from '../cost';
import type { AgentRole } from '../engine-config';
import { estimateTokens } from '../llm';
import type { CaseType, SpecExample } from '../records';
import { labelInstanceRules, renderInstancePrompt } from '../instances/render';
import {
  AGENT_NAMES,
  AGENT_ROLE,
  attackerAnswerTokens,
  buildAttackerMessages,
  buildChosenMessages,
  buildDefenderMessages,
  buildPlannerMessages,
  buildQualityJudgeMessages,
  buildSafetyJudgeMessages,
  buildViolatorMessages,
  estimatePromptTokens,
  type AgentName,
  type Conversation,
} from './agents';
import type { TaskDescriptor } from './controls';
import { DEFAULT_LOOP_OPTIONS, type SynthesisInstance } from './loop';
import {
  calibrateYield,
  observedTasks,
  YIELD_CASE_TYPES,
  type ObservedYield,
  type YieldCalibration,
} from './yield-calibration';

/** Probabilities of the loop's branches (see the module comment). */
export interface BranchMix {
  /** Defender violates the target rule, per case type. */
  violates: Record<CaseType, number>;
  /** Defender refuses needlessly (when it did not violate), per case type; ignored for violation cases. */
  overRefuses: Record<CaseType, number>;
  /** Defender's compliant answer fails the quality bar, so a chosen reply is written too. */
  defenderQualityFails: number;
  /** A written candidate fails a judge and is rewritten. */
  candidateRejectRate: number;
  /** A safety verdict contradicts itself and is re-judged. */
  rejudgeRate: number;
}

/** A prior for small instruct models; see the module comment. */
export const DEFAULT_BRANCH_MIX: BranchMix = {
  violates: { violation: 0.3, borderline: 0.2, benign: 0.05 },
  overRefuses: { violation: 0, borderline: 0.1, benign: 0.25 },
  defenderQualityFails: 0.15,
  candidateRejectRate: 0.25,
  rejudgeRate: 0.05,
};

/** Typical lengths in tokens of what agents write. */
export interface TypicalLengths {
  plan: number;
  userTurn: number;
  assistantTurn: number;
  reply: number;
  safetyVerdict: number;
  qualityVerdict: number;
}

/**
 * Tokens of a checklist entry for a rule the exchange does not touch (`{"evidence": "",
 * "rationale": "Not touched.", "verdict": "not-applicable"}` and its key).
 */
export const UNTOUCHED_CHECK_TOKENS = 20;

/** Typical lengths for small instruct models. */
export const DEFAULT_TYPICAL_LENGTHS: TypicalLengths = {
  plan: 70,
  userTurn: 90,
  assistantTurn: 60,
  reply: 280,
  safetyVerdict: 130,
  qualityVerdict: 60,
};

/** What to estimate. */
export interface EstimateInput {
  tasks: readonly TaskDescriptor[];
  /** The run's instances by id. */
  instances: ReadonlyMap<string, SynthesisInstance>;
  /** Spec examples by rule id (as given to the loop). */
  examples?: Readonly<Record<string, readonly SpecExample[]>>;
  /** Generation speed of the engine, tokens per second. */
  tokensPerSecond: number;
  /** Prompt processing speed, tokens per second; when absent, prefill time is not counted. */
  promptTokensPerSecond?: number;
  branchMix?: Partial<BranchMix>;
  lengths?: Partial<TypicalLengths>;
  maxCandidateAttempts?: number;
  /** Context window the prompts are built for; default 4096. */
  contextWindow?: number;
  /**
   * Pairs per task seen in the project's finished runs: calibrates `expectedPairs`
   * (yield-calibration.ts) when it holds any finished task.
   */
  observedYield?: ObservedYield;
  /** USD per million tokens of each role's model; absent roles are not priced. */
  prices?: Partial<Record<AgentRole, TokenPrice>>;
}

/** The estimated money of a run (see the module comment). */
export interface CostEstimate {
  /** USD for the priced roles. */
  total: number;
  /** Roles with calls but no price (in-browser engines, endpoints without one). */
  unpricedRoles: AgentRole[];
}

/** Expected calls and tokens of one agent over the run. */
export interface AgentEstimate {
  calls: number;
  promptTokens: number;
  completionTokens: number;
}

/** The estimate of a run. */
export interface RunEstimate {
  tasks: number;
  calls: number;
  promptTokens: number;
  completionTokens: number;
  /** Estimated engine time, ms: `time.prefillMs + time.decodeMs`. */
  timeMs: number;
  /** The time split into prompt processing and generation, and the larger part. */
  time: { prefillMs: number; decodeMs: number; dominant: 'prefill' | 'decode' };
  /**
   * Expected pairs: the branch model's (tasks minus expected failures from exhausted candidate
   * attempts), calibrated by finished runs when `calibration` is set.
   */
  expectedPairs: number;
  /** Set when `expectedPairs` was calibrated from finished runs. */
  calibration?: YieldCalibration;
  perAgent: Record<AgentName, AgentEstimate>;
  /** The assumptions used, for display. */
  assumptions: string[];
  /** Tasks skipped because their instance or rule is unknown. */
  skipped: number;
  /** Set when any role has a price. */
  cost?: CostEstimate;
}

/** Estimates the cost of running `input.tasks`; see the module comment. */
export function estimateRun(input: EstimateInput): RunEstimate {
  const mix: BranchMix = { ...DEFAULT_BRANCH_MIX, ...input.branchMix };
  const len: TypicalLengths = { ...DEFAULT_TYPICAL_LENGTHS, ...input.lengths };
  const maxWrites = Math.max(
    1,
    input.maxCandidateAttempts ?? DEFAULT_LOOP_OPTIONS.maxCandidateAttempts,
  );
  const p = clamp01(mix.candidateRejectRate);
  const writesPerCandidate = Array.from({ length: maxWrites }, (_, k) => p ** k).reduce(
    (a, b) => a + b,
    0,
  );
  const candidateFails = p ** maxWrites;
  const contextWindow = input.contextWindow ?? 4096;

  const perAgent = Object.fromEntries(
    AGENT_NAMES.map((a) => [a, { calls: 0, promptTokens: 0, completionTokens: 0 }]),
  ) as Record<AgentName, AgentEstimate>;
  const cache = new Map<string, Record<AgentName, number>>();
  // The model's expected pairs and task count per case type (the calibration's prior).
  const modelPairs: Record<CaseType, number> = { violation: 0, borderline: 0, benign: 0 };
  const planned: Record<CaseType, number> = { violation: 0, borderline: 0, benign: 0 };
  let skipped = 0;

  for (const task of input.tasks) {
    const instance = input.instances.get(task.instanceId);
    const key = `${task.instanceId}\u0000${task.ruleId}\u0000${task.turns}`;
    let prompts = cache.get(key);
    if (!prompts && instance) {
      prompts = promptSizes(
        instance,
        task,
        input.examples?.[task.ruleId] ?? [],
        len,
        contextWindow,
      );
      if (prompts) cache.set(key, prompts);
    }
    if (!prompts) {
      skipped++;
      continue;
    }
    const completion: Record<AgentName, number> = {
      planner: len.plan,
      attacker: task.turns * len.userTurn + (task.turns - 1) * len.assistantTurn,
      defender: len.reply,
      // The checklist: one full verdict for the rule at stake, a short one for every other rule.
      safetyJudge:
        len.safetyVerdict + Math.max(0, (instance?.rules.length ?? 1) - 1) * UNTOUCHED_CHECK_TOKENS,
      qualityJudge: len.qualityVerdict,
      violator: len.reply,
      chosen: len.reply,
    };
    const pv = clamp01(mix.violates[task.caseType]);
    const pr = task.caseType === 'violation' ? 0 : clamp01(mix.overRefuses[task.caseType]);
    // Candidates to write, in expectation.
    const chosenNeeded =
      pv + (1 - pv) * pr + (1 - pv) * (1 - pr) * clamp01(mix.defenderQualityFails);
    const rejectedNeeded = (1 - pv) * (1 - pr);
    const calls: Record<AgentName, number> = {
      planner: 1,
      attacker: 1,
      defender: 1,
      safetyJudge: 1 + mix.rejudgeRate + (chosenNeeded + rejectedNeeded) * writesPerCandidate,
      qualityJudge: 1 + (chosenNeeded + rejectedNeeded) * writesPerCandidate,
      violator: rejectedNeeded * writesPerCandidate,
      chosen: chosenNeeded * writesPerCandidate,
    };
    for (const agent of AGENT_NAMES) {
      const n = calls[agent];
      perAgent[agent].calls += n;
      perAgent[agent].promptTokens += n * prompts[agent];
      perAgent[agent].completionTokens += n * completion[agent];
    }
    const failure = 1 - (1 - candidateFails) ** (chosenNeeded + rejectedNeeded);
    modelPairs[task.caseType] += 1 - failure;
    planned[task.caseType]++;
  }
  const { expectedPairs, calibration } = calibratePairs(modelPairs, planned, input.observedYield);

  // Totals from the unrounded figures; per-agent figures rounded for display.
  const calls = round2(AGENT_NAMES.reduce((n, a) => n + perAgent[a].calls, 0));
  for (const agent of AGENT_NAMES) {
    const e = perAgent[agent];
    e.calls = round2(e.calls);
    e.promptTokens = Math.round(e.promptTokens);
    e.completionTokens = Math.round(e.completionTokens);
  }
  const promptTokens = AGENT_NAMES.reduce((n, a) => n + perAgent[a].promptTokens, 0);
  const completionTokens = AGENT_NAMES.reduce((n, a) => n + perAgent[a].completionTokens, 0);
  const decode = input.tokensPerSecond > 0 ? (completionTokens / input.tokensPerSecond) * 1000 : 0;
  const prefill =
    input.promptTokensPerSecond && input.promptTokensPerSecond > 0
      ? (promptTokens / input.promptTokensPerSecond) * 1000
      : 0;
  const cost = estimateCost(perAgent, input.prices);
  return {
    tasks: input.tasks.length - skipped,
    calls,
    promptTokens,
    completionTokens,
    timeMs: Math.round(decode + prefill),
    time: {
      prefillMs: Math.round(prefill),
      decodeMs: Math.round(decode),
      dominant: prefill > decode ? 'prefill' : 'decode',
    },
    expectedPairs: round2(expectedPairs),
    perAgent,
    skipped,
    ...(calibration ? { calibration } : {}),
    ...(cost ? { cost } : {}),
    assumptions: [
      ...(calibration
        ? [
            `Pairs per task calibrated from ${calibration.tasks} finished tasks of ${calibration.runs} run${calibration.runs === 1 ? '' : 's'}: ${pct(calibration.yieldPerTask.violation)} of violation-seeking, ${pct(calibration.yieldPerTask.borderline)} of borderline, ${pct(calibration.yieldPerTask.benign)} of benign tasks.`,
          ]
        : []),
      `Defender violates the rule: ${pct(mix.violates.violation)} of violation-seeking, ${pct(mix.violates.borderline)} of borderline, ${pct(mix.violates.benign)} of benign cases.`,
      `Defender refuses needlessly: ${pct(mix.overRefuses.borderline)} of borderline, ${pct(mix.overRefuses.benign)} of benign cases.`,
      `A compliant defender answer fails the quality bar ${pct(mix.defenderQualityFails)} of the time.`,
      `A written candidate is rejected by a judge ${pct(p)} of the time (at most ${maxWrites} writes).`,
      `Typical lengths: reply ${len.reply} tokens, user turn ${len.userTurn}, safety verdict ${len.safetyVerdict}.`,
      input.promptTokensPerSecond
        ? `Speed: ${whole(input.promptTokensPerSecond)} tokens/s prompt processing, ${whole(input.tokensPerSecond)} tokens/s generation; ${prefill > decode ? 'prompt processing' : 'generation'} takes most of the time (${pct(Math.max(prefill, decode) / Math.max(1, prefill + decode))}).`
        : `Speed: ${whole(input.tokensPerSecond)} tokens/s generated; prompt processing time not counted.`,
    ],
  };
}

/** Each agent's tokens at its role's price; undefined when no role has a price. */
function estimateCost(
  perAgent: Record<AgentName, AgentEstimate>,
  prices: Partial<Record<AgentRole, TokenPrice>> | undefined,
): CostEstimate | undefined {
  if (!prices || !Object.values(prices).some(Boolean)) return undefined;
  let total = 0;
  const unpriced = new Set<AgentRole>();
  for (const agent of AGENT_NAMES) {
    const e = perAgent[agent];
    if (!e.calls) continue;
    const role = AGENT_ROLE[agent];
    const price = prices[role];
    if (price) total += costOf(e, price);
    else unpriced.add(role);
  }
  return { total, unpricedRoles: [...unpriced] };
}

/** Expected pairs from the model's per-case-type figures, calibrated when runs were observed. */
function calibratePairs(
  modelPairs: Record<CaseType, number>,
  planned: Record<CaseType, number>,
  observed: ObservedYield | undefined,
): { expectedPairs: number; calibration?: YieldCalibration } {
  const model = YIELD_CASE_TYPES.reduce((n, c) => n + modelPairs[c], 0);
  if (!observed || observedTasks(observed) === 0) return { expectedPairs: model };
  // The model's yield of a case type this plan has no task of is irrelevant; 1 keeps it defined.
  const prior = Object.fromEntries(
    YIELD_CASE_TYPES.map((c) => [c, planned[c] ? modelPairs[c] / planned[c] : 1]),
  ) as Record<CaseType, number>;
  const yieldPerTask = calibrateYield(prior, observed);
  return {
    expectedPairs: YIELD_CASE_TYPES.reduce((n, c) => n + planned[c] * yieldPerTask[c], 0),
    calibration: { yieldPerTask, tasks: observedTasks(observed), runs: observed.runs },
  };
}

/** Prompt tokens of each agent for one task shape, from the real builders. */
function promptSizes(
  instance: SynthesisInstance,
  task: TaskDescriptor,
  examples: readonly SpecExample[],
  len: TypicalLengths,
  contextWindow: number,
): Record<AgentName, number> | undefined {
  const labeled = labelInstanceRules(instance.rules);
  const target = labeled.find((l) => l.rule.id === task.ruleId);
  if (!target) return undefined;
  const instancePrompt = instance.systemPrompt ?? renderInstancePrompt(instance.rules).text;
  const conversation: Conversation = [];
  for (let i = 0; i < task.turns; i++) {
    if (i > 0) conversation.push({ role: 'assistant', content: filler(len.assistantTurn) });
    conversation.push({ role: 'user', content: filler(len.userTurn) });
  }
  const reply = filler(len.reply);
  const plan = { strategy: filler(25), angle: filler(20), persona: filler(5) };
  const sizing = { contextWindow };
  const common = {
    caseType: task.caseType,
    difficulty: task.difficulty,
    turns: task.turns,
    language: task.language,
    setting: task.setting,
  };
  return {
    planner: estimatePromptTokens(
      buildPlannerMessages({
        ...sizing,
        ...common,
        instancePrompt,
        target,
        persona: task.persona,
        experience: [],
        roleSwap: false,
        examples,
      }),
    ),
    attacker: estimatePromptTokens(
      buildAttackerMessages({
        ...sizing,
        ...common,
        target,
        plan,
        examples,
        answerTokens: attackerAnswerTokens(task.turns),
      }),
    ),
    defender: estimatePromptTokens(
      buildDefenderMessages({ ...sizing, instancePrompt, conversation }),
    ),
    safetyJudge: estimatePromptTokens(
      buildSafetyJudgeMessages({
        ...sizing,
        instancePrompt,
        rules: labeled,
        focus: [target.label],
        conversation,
        reply,
        examples,
      }),
    ),
    qualityJudge: estimatePromptTokens(
      buildQualityJudgeMessages({ ...sizing, conversation, reply }),
    ),
    violator: estimatePromptTokens(
      buildViolatorMessages({
        ...sizing,
        mode: 'violate',
        instancePrompt,
        target,
        conversation,
        examples,
      }),
    ),
    chosen: estimatePromptTokens(
      buildChosenMessages({
        ...sizing,
        instancePrompt,
        target,
        conversation,
        issue: { kind: 'violated', evidence: filler(20), rationale: filler(30) },
        examples,
      }),
    ),
  };
}

/** Text of about `tokens` tokens by {@link estimateTokens}. */
function filler(tokens: number): string {
  const text = 'lorem ipsum dolor sit amet '.repeat(Math.ceil((tokens * 4) / 27) + 1);
  let out = text.slice(0, tokens * 4);
  while (estimateTokens(out) > tokens) out = out.slice(0, -1);
  return out;
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, Number.isFinite(x) ? x : 0));
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function whole(x: number): string {
  return Math.round(x).toLocaleString('en');
}

function pct(x: number): string {
  return `${Math.round(clamp01(x) * 100)}%`;
}
