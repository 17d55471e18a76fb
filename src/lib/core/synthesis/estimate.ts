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
 *   written.
 * - **Adversarial rounds** (`attackRounds` = R): a round (attack, defend, safety judge) succeeds
 *   for the attacker with s = P(violates) + P(no violation) × P(needless refusal) (the latter
 *   0 for violation-seeking cases), independently per round — a prior; a real attacker that
 *   learns from the verdict may do better. Expected rounds = 1 + (1−s) + … + (1−s)^(R−1); the
 *   defender's verdict is final with success 1 − (1−s)^R, and only then the candidates are
 *   written (violator with probability (1−s)^R). Rounds after the first are sized with the real
 *   escalation prompt (the attacker shown its last request, the reply and the verdict) and, for
 *   multi-turn tasks, one more exchange in the conversation (rounds 3+ are sized like round 2:
 *   a slight underestimate for long multi-turn escalations). `elicitedShare` is the expected
 *   share of pairs whose rejected side the defender produced. Each candidate write costs 3 calls (writer, safety judge, quality judge); a candidate
 *   is rewritten with probability `candidateRejectRate`, up to `maxCandidateAttempts` writes,
 *   so the expected writes are 1 + p + p² + … (capped).
 * - **Time** = completion tokens ÷ `tokensPerSecond` (decode) + prompt tokens ÷
 *   `promptTokensPerSecond` (prefill, when given; leaving it out underestimates CPU engines,
 *   where prefill is slow). Both parts are reported, and which one dominates. That is engine
 *   time; the wall-clock estimate divides it by the tasks the run keeps in flight (`inFlight`:
 *   an endpoint's parallel requests, capped by the browser's connections, the wave width and the
 *   task count). It assumes the server serves that many requests at the measured speed, which a
 *   batching server (vLLM, llama-server --parallel) nearly does up to its capacity.
 * - **Money** = each agent's prompt and completion tokens at the price of its role's model
 *   (`prices`); roles without a price are listed as unpriced, never counted as free.
 * - **Several models** (`models`, with `modelOf`): when tasks assign agents to different models
 *   (on-policy defender, role rotation; role-rotation.ts), each agent's tokens of each task are
 *   charged to the model that serves it, time is the sum over models at each model's own rates,
 *   and money is each model's tokens at its own price (`perModel` gives the split).
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
  type AttackEscalation,
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
  /** Tasks the run keeps in flight (see `run-schedule.ts` `expectedInFlight`); default 1. */
  inFlight?: number;
  branchMix?: Partial<BranchMix>;
  lengths?: Partial<TypicalLengths>;
  maxCandidateAttempts?: number;
  /** Attack rounds per task (loop `attackRounds`); default the loop's default. */
  attackRounds?: number;
  /** Context window the prompts are built for; default 4096. */
  contextWindow?: number;
  /**
   * Pairs per task seen in the project's finished runs: calibrates `expectedPairs`
   * (yield-calibration.ts) when it holds any finished task.
   */
  observedYield?: ObservedYield;
  /** USD per million tokens of each role's model; absent roles are not priced. */
  prices?: Partial<Record<AgentRole, TokenPrice>>;
  /**
   * The models the run uses, by engine key, with their rates and prices. With `modelOf`, time
   * and money are computed per model (see the module comment) and `tokensPerSecond`,
   * `promptTokensPerSecond` and `prices` are not used.
   */
  models?: Readonly<Record<string, ModelRates>>;
  /** The engine key serving `agent` on `task` (a key of `models`). */
  modelOf?: (task: TaskDescriptor, agent: AgentName) => string;
}

/** One model's speed and price, for a multi-model estimate. */
export interface ModelRates {
  /** Short name for display (e.g. the model name). */
  label: string;
  /** Generation speed, tokens/s. */
  tokensPerSecond: number;
  /** Prompt processing speed, tokens/s; absent: prefill time not counted for this model. */
  promptTokensPerSecond?: number;
  price?: TokenPrice;
}

/** What one model does over the run, in a multi-model estimate. */
export interface ModelEstimate {
  model: string;
  label: string;
  calls: number;
  promptTokens: number;
  completionTokens: number;
  /** Engine time on this model, ms. */
  timeMs: number;
  /** The rates it was timed at, tokens/s (prompt processing absent: not counted). */
  tokensPerSecond: number;
  promptTokensPerSecond?: number;
  /** USD; absent when the model has no price. */
  cost?: number;
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
  /** Estimated wall-clock time, ms: `time.prefillMs + time.decodeMs`. */
  timeMs: number;
  /**
   * The wall-clock time split into prompt processing and generation, and the larger part;
   * `engineMs` is the engine time summed over all calls, `inFlight` the tasks run at once.
   */
  time: {
    prefillMs: number;
    decodeMs: number;
    dominant: 'prefill' | 'decode';
    engineMs: number;
    inFlight: number;
  };
  /**
   * Expected pairs: the branch model's (tasks minus expected failures from exhausted candidate
   * attempts), calibrated by finished runs when `calibration` is set.
   */
  expectedPairs: number;
  /** Set when `expectedPairs` was calibrated from finished runs. */
  calibration?: YieldCalibration;
  /** Attack rounds per task the estimate assumed, and the expected rounds run per task. */
  rounds: { max: number; expected: number };
  /**
   * Expected share (0–1) of pairs whose rejected side the defender produced (elicited), by the
   * branch model (not calibrated).
   */
  elicitedShare: number;
  perAgent: Record<AgentName, AgentEstimate>;
  /** The assumptions used, for display. */
  assumptions: string[];
  /** Tasks skipped because their instance or rule is unknown. */
  skipped: number;
  /** Set when any role has a price. */
  cost?: CostEstimate;
  /** Set for a multi-model estimate (`models`): each model's share, in key order. */
  perModel?: ModelEstimate[];
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
  const maxRounds = Math.max(
    1,
    Math.floor(input.attackRounds ?? DEFAULT_LOOP_OPTIONS.attackRounds) || 1,
  );
  let totalRounds = 0;
  let elicitedPairs = 0;
  let modelPairsTotal = 0;

  const perAgent = Object.fromEntries(
    AGENT_NAMES.map((a) => [a, { calls: 0, promptTokens: 0, completionTokens: 0 }]),
  ) as Record<AgentName, AgentEstimate>;
  const cache = new Map<string, Record<AgentName, number>>();
  // The model's expected pairs and task count per case type (the calibration's prior).
  const modelPairs: Record<CaseType, number> = { violation: 0, borderline: 0, benign: 0 };
  const planned: Record<CaseType, number> = { violation: 0, borderline: 0, benign: 0 };
  let skipped = 0;
  const multi = Boolean(input.models && input.modelOf);
  const perModelRaw: Record<string, AgentEstimate> = {};
  const agentModels: Partial<Record<AgentRole, Set<string>>> = {};

  for (const task of input.tasks) {
    const instance = input.instances.get(task.instanceId);
    const key = `${task.instanceId}\u0000${task.ruleId}\u0000${task.turns}`;
    let prompts = cache.get(key);
    let later = cache.get(`${key}\u0000later`);
    if (!prompts && instance) {
      const examples = input.examples?.[task.ruleId] ?? [];
      prompts = promptSizes(instance, task, examples, len, contextWindow, false);
      later = promptSizes(instance, task, examples, len, contextWindow, true);
      if (prompts && later) {
        cache.set(key, prompts);
        cache.set(`${key}\u0000later`, later);
      }
    }
    if (!prompts || !later) {
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
    // A round succeeds for the attacker with `success`; the defender holds every round with `heldAll`.
    const success = pv + (1 - pv) * pr;
    const heldAll = (1 - success) ** maxRounds;
    const rounds = Array.from({ length: maxRounds }, (_, k) => (1 - success) ** k).reduce(
      (a, b) => a + b,
      0,
    );
    // Candidates to write, in expectation.
    const chosenNeeded = 1 - heldAll + heldAll * clamp01(mix.defenderQualityFails);
    const rejectedNeeded = heldAll;
    const writes = (chosenNeeded + rejectedNeeded) * writesPerCandidate;
    const calls: Record<AgentName, number> = {
      planner: 1,
      attacker: rounds,
      defender: rounds,
      safetyJudge: rounds * (1 + mix.rejudgeRate) + writes,
      qualityJudge: 1 + writes,
      violator: rejectedNeeded * writesPerCandidate,
      chosen: chosenNeeded * writesPerCandidate,
    };
    // Calls of rounds after the first: sized (and, for the attacker, answered) as escalations.
    const extra = rounds - 1;
    const laterCalls: Partial<Record<AgentName, number>> = {
      attacker: extra,
      defender: extra,
      safetyJudge: extra * (1 + mix.rejudgeRate),
    };
    const laterCompletion: Partial<Record<AgentName, number>> = { attacker: len.userTurn };
    for (const agent of AGENT_NAMES) {
      const n = calls[agent];
      const m = laterCalls[agent] ?? 0;
      perAgent[agent].calls += n;
      const promptTok = (n - m) * prompts[agent] + m * later[agent];
      const completionTok =
        (n - m) * completion[agent] + m * (laterCompletion[agent] ?? completion[agent]);
      perAgent[agent].promptTokens += promptTok;
      perAgent[agent].completionTokens += completionTok;
      if (multi && input.modelOf) {
        const model = input.modelOf(task, agent);
        const e = (perModelRaw[model] ??= { calls: 0, promptTokens: 0, completionTokens: 0 });
        e.calls += n;
        e.promptTokens += promptTok;
        e.completionTokens += completionTok;
        (agentModels[AGENT_ROLE[agent]] ??= new Set()).add(model);
      }
    }
    const failure = 1 - (1 - candidateFails) ** (chosenNeeded + rejectedNeeded);
    modelPairs[task.caseType] += 1 - failure;
    planned[task.caseType]++;
    totalRounds += rounds;
    // An elicited pair needs only its chosen side written; a written one needs both (or one).
    const elicitedOk = (1 - heldAll) * (1 - candidateFails);
    elicitedPairs += elicitedOk;
    modelPairsTotal += 1 - failure;
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
  let decode = input.tokensPerSecond > 0 ? (completionTokens / input.tokensPerSecond) * 1000 : 0;
  let prefill =
    input.promptTokensPerSecond && input.promptTokensPerSecond > 0
      ? (promptTokens / input.promptTokensPerSecond) * 1000
      : 0;
  let cost = estimateCost(perAgent, input.prices);
  let perModel: ModelEstimate[] | undefined;
  if (multi && input.models) {
    const split = splitByModel(perModelRaw, input.models, agentModels);
    ({ decode, prefill, perModel } = split);
    cost = split.cost;
  }
  // No more tasks in flight than there are tasks.
  const inFlight = Math.max(
    1,
    Math.min(Math.floor(input.inFlight ?? 1), input.tasks.length - skipped),
  );
  return {
    tasks: input.tasks.length - skipped,
    calls,
    promptTokens,
    completionTokens,
    timeMs: Math.round(decode / inFlight) + Math.round(prefill / inFlight),
    time: {
      prefillMs: Math.round(prefill / inFlight),
      decodeMs: Math.round(decode / inFlight),
      dominant: prefill > decode ? 'prefill' : 'decode',
      engineMs: Math.round(decode + prefill),
      inFlight,
    },
    expectedPairs: round2(expectedPairs),
    rounds: {
      max: maxRounds,
      expected: round2(totalRounds / Math.max(1, input.tasks.length - skipped)),
    },
    elicitedShare: modelPairsTotal > 0 ? round2(elicitedPairs / modelPairsTotal) : 0,
    perAgent,
    skipped,
    ...(calibration ? { calibration } : {}),
    ...(cost ? { cost } : {}),
    ...(perModel ? { perModel } : {}),
    assumptions: [
      ...(calibration
        ? [
            `Pairs per task calibrated from ${calibration.tasks} finished tasks of ${calibration.runs} run${calibration.runs === 1 ? '' : 's'}: ${pct(calibration.yieldPerTask.violation)} of violation-seeking, ${pct(calibration.yieldPerTask.borderline)} of borderline, ${pct(calibration.yieldPerTask.benign)} of benign tasks.`,
          ]
        : []),
      `Defender violates the rule: ${pct(mix.violates.violation)} of violation-seeking, ${pct(mix.violates.borderline)} of borderline, ${pct(mix.violates.benign)} of benign cases.`,
      `Defender refuses needlessly: ${pct(mix.overRefuses.borderline)} of borderline, ${pct(mix.overRefuses.benign)} of benign cases.`,
      maxRounds > 1
        ? `Up to ${maxRounds} attack rounds: a defender that held is attacked again (${round2(totalRounds / Math.max(1, input.tasks.length - skipped))} rounds per task expected); about ${pct(modelPairsTotal > 0 ? elicitedPairs / modelPairsTotal : 0)} of pairs get a rejected reply the defender produced.`
        : `One attack round: when the defender holds, the violator writes the rejected reply (about ${pct(modelPairsTotal > 0 ? elicitedPairs / modelPairsTotal : 0)} of pairs get one the defender produced).`,
      `A compliant defender answer fails the quality bar ${pct(mix.defenderQualityFails)} of the time.`,
      `A written candidate is rejected by a judge ${pct(p)} of the time (at most ${maxWrites} writes).`,
      `Typical lengths: reply ${len.reply} tokens, user turn ${len.userTurn}, safety verdict ${len.safetyVerdict}.`,
      perModel
        ? `Speed and price per model: ${perModel.map((m) => `${m.label}: ${whole(input.models?.[m.model]?.promptTokensPerSecond ?? 0)} tokens/s prompt processing, ${whole(input.models?.[m.model]?.tokensPerSecond ?? 0)} tokens/s generation`).join('; ')}.`
        : input.promptTokensPerSecond
          ? `Speed: ${whole(input.promptTokensPerSecond)} tokens/s prompt processing, ${whole(input.tokensPerSecond)} tokens/s generation; ${prefill > decode ? 'prompt processing' : 'generation'} takes most of the time (${pct(Math.max(prefill, decode) / Math.max(1, prefill + decode))}).`
          : `Speed: ${whole(input.tokensPerSecond)} tokens/s generated; prompt processing time not counted.`,
      ...(inFlight > 1
        ? [
            `${inFlight} tasks in flight at once: the time is the engine time divided by ${inFlight}, assuming the server keeps that speed for every request (batching servers nearly do, up to their capacity).`,
          ]
        : []),
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

/** Time and money of a multi-model estimate, each model at its own rates and price. */
function splitByModel(
  raw: Record<string, AgentEstimate>,
  models: Readonly<Record<string, ModelRates>>,
  agentModels: Partial<Record<AgentRole, Set<string>>>,
): { decode: number; prefill: number; perModel: ModelEstimate[]; cost?: CostEstimate } {
  let decode = 0;
  let prefill = 0;
  let total = 0;
  let anyPrice = false;
  const perModel: ModelEstimate[] = [];
  for (const key of Object.keys(raw).sort()) {
    const e = raw[key] as AgentEstimate;
    const rates = models[key];
    const d =
      rates && rates.tokensPerSecond > 0 ? (e.completionTokens / rates.tokensPerSecond) * 1000 : 0;
    const p =
      rates?.promptTokensPerSecond && rates.promptTokensPerSecond > 0
        ? (e.promptTokens / rates.promptTokensPerSecond) * 1000
        : 0;
    decode += d;
    prefill += p;
    const money = rates?.price ? costOf(e, rates.price) : undefined;
    if (money !== undefined) {
      anyPrice = true;
      total += money;
    }
    perModel.push({
      model: key,
      label: rates?.label ?? key,
      calls: round2(e.calls),
      promptTokens: Math.round(e.promptTokens),
      completionTokens: Math.round(e.completionTokens),
      timeMs: Math.round(d + p),
      tokensPerSecond: rates?.tokensPerSecond ?? 0,
      ...(rates?.promptTokensPerSecond !== undefined
        ? { promptTokensPerSecond: rates.promptTokensPerSecond }
        : {}),
      ...(money !== undefined ? { cost: money } : {}),
    });
  }
  const unpriced = (Object.keys(agentModels) as AgentRole[]).filter((role) =>
    [...(agentModels[role] ?? [])].some((m) => !models[m]?.price),
  );
  return {
    decode,
    prefill,
    perModel,
    ...(anyPrice ? { cost: { total, unpricedRoles: unpriced } } : {}),
  };
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
  /** Size a later attack round: an escalating attacker, and one more exchange in multi-turn tasks. */
  laterRound: boolean,
): Record<AgentName, number> | undefined {
  const labeled = labelInstanceRules(instance.rules);
  const target = labeled.find((l) => l.rule.id === task.ruleId);
  if (!target) return undefined;
  const instancePrompt = instance.systemPrompt ?? renderInstancePrompt(instance.rules).text;
  const firstRound: Conversation = [];
  for (let i = 0; i < task.turns; i++) {
    if (i > 0) firstRound.push({ role: 'assistant', content: filler(len.assistantTurn) });
    firstRound.push({ role: 'user', content: filler(len.userTurn) });
  }
  const reply = filler(len.reply);
  const withinConversation = task.turns > 1;
  const conversation: Conversation =
    laterRound && withinConversation
      ? [
          ...firstRound,
          { role: 'assistant', content: reply },
          { role: 'user', content: filler(len.userTurn) },
        ]
      : firstRound;
  const escalation: AttackEscalation | undefined = laterRound
    ? {
        round: 2,
        rounds: 2,
        conversation: firstRound,
        reply,
        verdict: 'complied',
        rationale: filler(30),
        overRefusal: false,
        hints: [],
        withinConversation,
      }
    : undefined;
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
        answerTokens: attackerAnswerTokens(escalation ? 1 : task.turns),
        ...(escalation ? { escalation } : {}),
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
