/** The pair a finished task produces, with its full provenance (METHOD.md §3). */
import type { ChatMessage } from '../../llm';
import type { LoopState, PairDraft, PairOrigin, PairProvenance } from '../loop-types';
import type { StepEnv } from './env';

/** The text deduplication compares: the user turns, joined by newlines. */
export function promptText(conversation: readonly ChatMessage[]): string {
  return conversation
    .filter((m) => m.role === 'user')
    .map((m) => m.content)
    .join('\n');
}

export function buildPair(env: StepEnv): PairDraft {
  const { state, ctx } = env;
  const chosen = state.chosen;
  const rejected = state.rejected;
  const defender = state.defender;
  if (!chosen || !rejected || !defender || !state.path || !state.plan)
    throw new Error('Synthesis state is incomplete at the end of the task.');
  const words = (s: string) => (s.match(/\S+/g) ?? []).length;
  const engineMs = Object.values(state.usage).reduce((n, u) => n + (u?.engineMs ?? 0), 0);
  const provenance: PairProvenance = {
    v: 3,
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
    origin: originOf(state),
    heldRounds: state.rounds ?? [],
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
    ...(state.roles ? { roleAssignment: { ...state.roles } } : {}),
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

/**
 * Where the finished task's sides came from (the definitions are on {@link PairOrigin}): the
 * rejected side is the defender's reply of the final round on the elicited paths, else the
 * violator's, a `rewrite` when it took more than one write.
 */
export function originOf(state: LoopState): PairOrigin {
  const round = state.round ?? 1;
  const elicited = state.path === 'defender-violated' || state.path === 'over-refusal';
  const kind = state.path === 'refusal-writer' ? 'refusal' : 'violation';
  return {
    rejected: elicited ? 'defender' : state.writes[kind] > 1 ? 'rewrite' : 'violator',
    ...(elicited ? { round } : {}),
    chosen: state.chosen?.source === 'defender' ? 'defender' : 'written',
    rounds: round,
  };
}
