/**
 * The defender half of a task: plan, attack (with the duplicate check), defend, and the two
 * judgements of the defender's answer that decide the pair's path and which candidates to write.
 */
import { callAttacker, callDefender, callPlanner } from '../agents';
import {
  DEFENDER_MOVE_CHARS,
  emptyExperiencePool,
  isRoleSwapTask,
  selectExperience,
  type ExperienceEntryDraft,
} from '../experience';
import { isNearDuplicate } from '../near-duplicate';
import type { CandidateKind, JudgedResponse, LoopState, SafetySummary } from '../loop-types';
import { promptText } from './pair';
import type { StepHandler } from './env';

type DefenderStep =
  'plan' | 'attack' | 'defend' | 'judge-defender-safety' | 'judge-defender-quality';

export const DEFENDER_STEPS: Record<DefenderStep, StepHandler> = {
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
      ...(plan?.technique ? { technique: plan.technique } : {}),
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
      // The defender is the chosen side only when it passes every rule of the checklist.
      const broken = env.violations(safety);
      if (helpfulOk && !broken.length) state.chosen = defender;
      else {
        const other = broken[0];
        state.chosenIssue = other
          ? { kind: 'violated', evidence: other.evidence, rationale: other.rationale }
          : { kind: 'low-quality', rationale: quality.rationale };
        state.pending.push('chosen');
      }
    }
    state.next = `write-${state.pending[0] as CandidateKind}`;
    return env.result(step);
  },
};

/** The rationale that explains a needless refusal: the first rule the exchange touches. */
function firstRationale(summary: SafetySummary): string {
  return (
    summary.verdicts.find((v) => v.verdict !== 'not-applicable')?.rationale ??
    summary.verdicts[0]?.rationale ??
    ''
  );
}

function requireDefender(state: LoopState): JudgedResponse {
  if (!state.defender) throw new Error('Synthesis state is missing the defender answer.');
  return state.defender;
}
