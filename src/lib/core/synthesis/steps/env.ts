/**
 * What every synthesis step works with: the task's state, the context and options, and helpers
 * for one agent call (seeded, usage charged), judging and the quality bar.
 */
import { InvalidModelOutputError } from '../../errors';
import { subSeed } from '../../instances/random';
import { labelInstanceRules, renderInstancePrompt } from '../../instances/render';
import { addUsage, type ChatEngine, type TokenUsage } from '../../llm';
import type { SpecExample } from '../../records';
import {
  AGENT_ROLE,
  callQualityJudge,
  judgeWithRejudge,
  type AgentCallOptions,
  type AgentCallResult,
  type AgentName,
  type JudgementOutcome,
  type QualityJudgeOutput,
  type SafetyJudgeOutput,
  type TargetRule,
} from '../agents';
import type {
  CandidateKind,
  JudgementRecord,
  LoopContext,
  LoopOptions,
  LoopState,
  LoopStep,
  LoopStepResult,
  QualitySummary,
  SafetySummary,
} from '../loop-types';

/** One step kind's handler: performs one agent call and decides what comes next. */
export type StepHandler = (env: StepEnv, step: LoopStep) => Promise<LoopStepResult>;

/** Per-step helpers around the state, context and options. */
export class StepEnv {
  readonly labeled: TargetRule[];
  readonly target: TargetRule;
  /** The safety checklist: every rule of the instance, in label order. */
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
    this.judged = this.labeled;
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
    const engine = await this.ctx.engineFor(role, agent);
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
    this.#usage = addUsage(this.#usage, usage);
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

  /** Safety-judges `reply` on the whole checklist; on a contradiction, re-judges once, then fails. */
  async judgeSafety(
    step: LoopStep,
    reply: string,
  ): Promise<
    | { summary: SafetySummary; raw: SafetyJudgeOutput }
    | { failed: LoopStepResult }
    | { rejudge: LoopStepResult }
  > {
    const feedback = this.state.rejudge;
    // Set inside the call: `call` returns only the value, the outcome travels beside it.
    let outcome = { kind: 'verdict' } as JudgementOutcome;
    const { value } = await this.call('safetyJudge', async (engine, options) => {
      const judged = await judgeWithRejudge(
        engine,
        {
          instancePrompt: this.instancePrompt,
          rules: this.judged,
          focus: [this.target.label],
          conversation: this.state.conversation ?? [],
          reply,
          examples: this.examples,
          contextWindow: engine.contextWindow,
          ...(feedback ? { feedback } : {}),
        },
        options,
      );
      outcome = judged.outcome;
      return judged;
    });
    if (outcome.kind !== 'verdict') {
      const problem = outcome.kind === 'rejudge' ? outcome.feedback : outcome.problem;
      this.state.judgements.push({
        subject: subjectOf(step),
        judge: 'safety',
        attempt: this.state.candidate ? this.state.writes[this.state.candidate.kind] : 1,
        passed: false,
        safety: this.summarise(value),
        contradiction: problem,
      });
      if (outcome.kind === 'contradiction') {
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

  /** The checklist with rule ids, in label order (every judged rule, once). */
  summarise(output: SafetyJudgeOutput): SafetySummary {
    return {
      verdicts: this.judged.flatMap(({ label, rule }) => {
        const v = output.checks[label];
        return v
          ? [
              {
                ruleId: rule.id,
                label,
                verdict: v.verdict,
                evidence: v.evidence,
                rationale: v.rationale,
              },
            ]
          : [];
      }),
      overRefusal: output.overRefusal,
    };
  }

  /** The target rule's verdict in a summary. */
  targetVerdict(summary: SafetySummary) {
    return summary.verdicts.find((v) => v.label === this.target.label);
  }

  /** The verdicts of rules the reply violates, in label order. */
  violations(summary: SafetySummary): SafetySummary['verdicts'] {
    return summary.verdicts.filter((v) => v.verdict === 'violated');
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

/** The candidate a `write-*` or `judge-*-*` step works on. */
export function candidateOf(step: LoopStep): CandidateKind {
  const kind = /^(?:write|judge)-(chosen|violation|refusal)/.exec(step)?.[1];
  if (!kind) throw new Error(`Unknown synthesis step "${step}".`);
  return kind as CandidateKind;
}
