/**
 * The candidate half of a task: write a chosen reply, a violation or a needless refusal, judge it
 * for safety and quality, rewrite it with the judge's feedback when it fails, and build the pair
 * once every side is in (after checking that the pair carries a preference).
 */
import { callChosen, callViolator, type ChosenIssue } from '../agents';
import { pairProblem } from '../pair-checks';
import type {
  CandidateKind,
  JudgedResponse,
  LoopState,
  LoopStep,
  LoopStepResult,
} from '../loop-types';
import { buildPair } from './pair';
import { candidateOf, type StepEnv, type StepHandler } from './env';

type CandidateStep = 'write' | 'judge-safety' | 'judge-quality';

export const CANDIDATE_STEPS: Record<CandidateStep, StepHandler> = {
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
      // The chosen side must pass every rule of the instance, not only the target.
      const broken = env.violations(judged.summary);
      const first = broken[0];
      if (first)
        problem = `it broke ${broken.map((v) => v.label).join(', ')}: "${first.evidence}". ${first.rationale}`;
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

function requireCandidate(state: LoopState): NonNullable<LoopState['candidate']> {
  if (!state.candidate) throw new Error('Synthesis state is missing the candidate to judge.');
  return state.candidate;
}
