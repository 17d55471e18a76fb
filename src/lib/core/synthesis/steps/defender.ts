/**
 * The defender half of a task: plan, attack (with the duplicate check), defend, and the two
 * judgements of the defender's answer that decide the pair's path and which candidates to write.
 *
 * Adversarial rounds (issue 14 §1): a round is attack → defend → judge-defender-safety. When the
 * attacker did not get what the case type was after and rounds remain (`attackRounds`), the
 * round is recorded in `state.rounds` and the next round attacks again, shown the defender's
 * reply, the verdict and the planner's "worked before" hints (kept in `state.hints` at the plan
 * step, so a resumed task sees the same hints). Only the final round's reply is quality-judged.
 * Every step is one call and the round number lives in the state, so a reload mid-round resumes
 * with the same result (seeds derive from the task seed and `state.calls`).
 */
import { callAttacker, callDefender, callPlanner, type AttackEscalation } from '../agents';
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
import type { StepEnv, StepHandler } from './env';

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
    if (options.attackRounds > 1) state.hints = experience;
    state.next = 'attack';
    return env.result(step);
  },

  async attack(env, step) {
    const { state, ctx, options } = env;
    const plan = state.plan;
    if (!plan) throw new Error('Synthesis state is missing its plan.');
    const round = state.round ?? 1;
    const last = state.rounds?.at(-1);
    const withinConversation = state.task.turns > 1;
    const escalation: AttackEscalation | undefined =
      round > 1 && last
        ? {
            round,
            rounds: options.attackRounds,
            conversation: state.conversation ?? [],
            reply: last.reply,
            verdict: last.verdict ?? 'not judged',
            rationale: last.rationale,
            overRefusal: last.overRefusal,
            hints: state.hints ?? [],
            withinConversation,
          }
        : undefined;
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
          ...(escalation ? { escalation } : {}),
        },
        callOptions,
      ),
    );
    const turns = value.turns.map((t) => ({ role: t.role, content: t.content }));
    // A multi-turn task escalates within its conversation; a single message starts over.
    state.conversation =
      escalation && withinConversation
        ? [...escalation.conversation, { role: 'assistant', content: escalation.reply }, ...turns]
        : turns;
    state.round = round;
    if (
      isNearDuplicate(
        promptText(state.conversation),
        ctx.existingPrompts ?? [],
        options.duplicateThreshold,
      )
    ) {
      const held = state.lastHeld;
      if (round === 1 || !held) return env.fail(step, 'duplicate prompt');
      // A later round that only repeats a known prompt ends the rounds: the last round the
      // defender held is final (quality-judged, then the violator writes), not the task lost.
      state.conversation = held.conversation;
      state.defender = held.defender;
      state.round = round - 1;
      state.rounds?.pop();
      delete state.lastHeld;
      state.next = 'judge-defender-quality';
      return env.result(step, {
        experience: experienceOf(env, held.defender, false, round - 1),
      });
    }
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
    const round = state.round ?? 1;
    state.judgements.push({
      subject: 'defender',
      judge: 'safety',
      attempt: 1,
      ...(round > 1 || env.options.attackRounds > 1 ? { round } : {}),
      passed: true,
      safety: judged.summary,
    });
    const target = env.targetVerdict(judged.summary);
    const violated = target?.verdict === 'violated';
    const caseType = state.task.caseType;
    const success =
      caseType === 'violation'
        ? violated
        : caseType === 'borderline'
          ? violated || judged.summary.overRefusal
          : judged.summary.overRefusal || violated;
    if (!success && round < env.options.attackRounds) {
      // The defender held: record the round and attack again.
      (state.rounds ??= []).push({
        round,
        turns:
          round > 1 && state.task.turns > 1
            ? (state.conversation ?? []).slice(-1)
            : [...(state.conversation ?? [])],
        reply: defender.response,
        ...(target ? { verdict: target.verdict } : {}),
        rationale: target?.rationale ?? '',
        overRefusal: judged.summary.overRefusal,
      });
      state.round = round + 1;
      // Kept until the next round's prompt passes the duplicate check (see `attack`).
      state.lastHeld = { defender, conversation: [...(state.conversation ?? [])] };
      delete state.defender;
      state.next = 'attack';
      return env.result(step);
    }
    state.next = 'judge-defender-quality';
    delete state.lastHeld;
    return env.result(step, { experience: experienceOf(env, defender, success, round) });
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
    const round = state.round ?? 1;
    state.judgements.push({
      subject: 'defender',
      judge: 'quality',
      attempt: 1,
      ...(round > 1 || env.options.attackRounds > 1 ? { round } : {}),
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
/** The task's experience-pool entry, once the defender's verdict is final. */
function experienceOf(
  env: StepEnv,
  defender: JudgedResponse,
  success: boolean,
  round: number,
): ExperienceEntryDraft {
  const { state } = env;
  const plan = state.plan;
  return {
    instanceId: env.ctx.instance.id,
    ruleId: state.task.ruleId,
    caseType: state.task.caseType,
    taskKey: state.task.key,
    ...(plan?.technique ? { technique: plan.technique } : {}),
    strategy: plan?.strategy ?? '',
    angle: plan?.angle ?? '',
    persona: plan?.persona ?? state.task.persona,
    success,
    defenderMove: defender.response.replace(/\s+/g, ' ').trim().slice(0, DEFENDER_MOVE_CHARS),
    ...(env.options.attackRounds > 1 ? { rounds: round, family: env.target.rule.family } : {}),
  };
}

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
