/**
 * "Judge, re-judge once on a contradiction": the one rule synthesis, RCS evaluation and judge
 * calibration share for safety verdicts.
 *
 * A checklist that contradicts itself (see `checkSafetyVerdict`: a "violated" without evidence
 * quoted from the reply) is not trusted. The caller checkpoints the
 * problem and calls again with it as `feedback`; a second contradiction ends the item. Every
 * call here is exactly one engine call, so a resumable run can checkpoint between the two.
 */
import type { ChatEngine } from '../../llm';
import type { AgentCallOptions, AgentCallResult } from './common';
import {
  callSafetyJudge,
  checkSafetyVerdict,
  type SafetyJudgeInput,
  type SafetyJudgeOutput,
} from './safety-judge';

/** What to do with one safety-judge answer. */
export type JudgementOutcome =
  /** The verdict is consistent: use it. */
  | { kind: 'verdict' }
  /** It contradicted itself on the first try: call again with `feedback` (and checkpoint it). */
  | { kind: 'rejudge'; feedback: string }
  /** It contradicted itself on the re-judge too: end the item with `problem`. */
  | { kind: 'contradiction'; problem: string };

/** A safety-judge call's result with the decision it leads to. */
export interface SafetyJudgement extends AgentCallResult<SafetyJudgeOutput> {
  outcome: JudgementOutcome;
}

/**
 * One checklist call and its consistency check. `input.feedback` marks the call as the
 * re-judge: a contradiction then ends the item instead of asking for another try.
 *
 * @throws InvalidModelOutputError after the bounded repair, like `callSafetyJudge`.
 */
export async function judgeWithRejudge(
  engine: ChatEngine,
  input: SafetyJudgeInput,
  options: AgentCallOptions = {},
): Promise<SafetyJudgement> {
  const result = await callSafetyJudge(engine, input, options);
  const problem = checkSafetyVerdict(result.value, input.reply);
  const outcome: JudgementOutcome = !problem
    ? { kind: 'verdict' }
    : input.feedback
      ? { kind: 'contradiction', problem }
      : { kind: 'rejudge', feedback: problem };
  return { ...result, outcome };
}
