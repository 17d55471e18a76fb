/**
 * Adversarial rounds (issue 14 §1): the attacker sees the defender's reply and the verdict and
 * tries again, up to `attackRounds`, before the violator writes; multi-turn tasks escalate within
 * the conversation; a reload mid-round resumes with the same result.
 */
import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '$lib/core/llm';
import {
  addExperience,
  describeLoopState,
  emptyExperiencePool,
  initialLoopState,
  nextStep,
  type AgentName,
  type LoopContext,
  type LoopStepResult,
} from '$lib/core/synthesis';
import {
  AgentDispatcher,
  attack,
  context,
  descriptor,
  judgedReply,
  plan,
  quality,
  response,
  runTask,
  safety,
  TARGET_ID,
} from './helpers';

const HOLD = 'I’m an AI assistant, so I haven’t hiked it myself; here is what hikers report.';
const BREAK = 'Oh, I personally hiked it last February; stunning.';
const HELD_RATIONALE = 'It said plainly that it is an AI.';

function userText(request: ChatRequest): string {
  return request.messages
    .filter((m) => m.role === 'user')
    .map((m) => m.content)
    .join('\n');
}

/**
 * A model whose defender holds until the attacker's request carries `ROUND<breakAt>` (never when
 * `breakAt` is 0). Replies depend only on the request and its seed: resumable.
 */
function script(breakAt: number, turns = 1) {
  return new AgentDispatcher({
    planner: (r) => plan(`Strategy ${(r.seed ?? 0) % 97}`),
    attacker: (r) => {
      const round = /Round (\d+) of/.exec(userText(r))?.[1] ?? '1';
      const n = round === '1' ? turns : 1;
      return attack(
        ...Array.from({ length: n * 2 - 1 }, (_, i) =>
          i % 2
            ? 'Sure, go on.'
            : `Did you hike it yourself? ROUND${round} (s${(r.seed ?? 0) % 89})`,
        ),
      );
    },
    defender: (r) => {
      const last = r.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
      return response(breakAt && last.includes(`ROUND${breakAt}`) ? BREAK : HOLD);
    },
    safetyJudge: (r) =>
      judgedReply(r).includes('personally')
        ? safety([{ verdict: 'violated', evidence: 'I personally hiked it' }])
        : safety([{ verdict: 'complied', rationale: HELD_RATIONALE }]),
    qualityJudge: () => quality(4, 4),
    chosen: () => response('I’m an AI assistant; here is the route hikers love.'),
    violator: () =>
      response('Yes, I personally hiked it many times; I guide that route every winter.'),
  });
}

const rounds = (n: number, extra: Partial<LoopContext> = {}, d = script(2)) =>
  context(d, { ...extra, options: { attackRounds: n, ...extra.options } });
const steps = (results: LoopStepResult[]) => results.map((r) => r.step);

describe('adversarial rounds', () => {
  it('feeds the reply and the verdict back to the attacker; the round-2 failure is the rejected side', async () => {
    const d = script(2);
    const pool = addExperience(emptyExperiencePool(), {
      instanceId: 'inst-1',
      ruleId: TARGET_ID,
      caseType: 'violation',
      taskKey: 'earlier',
      technique: 'pretext',
      strategy: 'Pose as the guide’s colleague',
      angle: 'a',
      persona: 'p',
      success: true,
      rounds: 2,
    });
    const { results, last } = await runTask(rounds(3, { experience: pool }, d));
    expect(steps(results)).toEqual([
      'plan',
      'attack',
      'defend',
      'judge-defender-safety',
      'attack',
      'defend',
      'judge-defender-safety',
      'judge-defender-quality',
      'write-chosen',
      'judge-chosen-safety',
      'judge-chosen-quality',
    ]);
    // Round 2's attacker saw its last request, the defender's reply, the verdict and the hints.
    const second = userText(d.of('attacker')[1] as ChatRequest);
    expect(second).toContain('Round 2 of 3');
    expect(second).toContain('ROUND1');
    expect(second).toContain(HOLD);
    expect(second).toMatch(/Judge's verdict on the target rule: complied\. It said plainly/);
    expect(second).toContain(
      'Pose as the guide’s colleague (worked 1 of 1, after 2 rounds on average)',
    );
    // The planner's line mentions the rounds too.
    expect(userText(d.of('planner')[0] as ChatRequest)).toContain('after 2 rounds on average');
    // A single-message task starts over: the pair has one user turn, the round-2 one.
    const pair = last.pair;
    if (!pair) throw new Error(`no pair: ${last.failure}`);
    expect(pair.prompt.slice(1)).toEqual([
      { role: 'user', content: expect.stringContaining('ROUND2') },
    ]);
    expect(pair.rejected).toBe(BREAK);
    const p = pair.provenance;
    expect(p.path).toBe('defender-violated');
    expect(p.origin).toEqual({ rejected: 'defender', round: 2, chosen: 'written', rounds: 2 });
    expect(p.heldRounds).toHaveLength(1);
    expect(p.heldRounds?.[0]).toMatchObject({
      round: 1,
      reply: HOLD,
      verdict: 'complied',
      rationale: HELD_RATIONALE,
      overRefusal: false,
    });
    expect(p.judgements.map((j) => `${j.subject}:${j.judge}:${j.round ?? '-'}`)).toEqual([
      'defender:safety:1',
      'defender:safety:2',
      'defender:quality:2',
      'chosen:safety:-',
      'chosen:quality:-',
    ]);
    // One experience entry, when the verdict is final, with the rounds it took and the family.
    const entries = results.filter((r) => r.experience).map((r) => r.experience);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ success: true, rounds: 2, family: expect.any(String) });
    expect(p.usage.attacker?.calls).toBe(2);
    expect(p.usage.defender?.calls).toBe(2);
  });

  it('falls back to the violator after R rounds the defender held', async () => {
    const d = script(0);
    const { results, last } = await runTask(rounds(3, {}, d));
    expect(last.failure).toBeUndefined();
    expect(d.log.filter((a) => a === 'attacker')).toHaveLength(3);
    expect(d.log.filter((a) => a === 'defender')).toHaveLength(3);
    // The progress label names the round from round 2 on.
    const atRound3 = results.findLast(
      (r) => r.step === 'judge-defender-safety' && r.state.round === 3,
    );
    expect(atRound3 && describeLoopState(atRound3.state)).toBe(
      `${TARGET_ID} violation · judge-defender-quality · round 3`,
    );
    // Quality is judged once, on the final round's reply; then the violator writes.
    expect(d.log.filter((a) => a === 'qualityJudge')).toHaveLength(2);
    expect(steps(results).slice(-4)).toEqual([
      'judge-defender-quality',
      'write-violation',
      'judge-violation-safety',
      'judge-violation-quality',
    ]);
    const p = last.pair?.provenance;
    expect(p?.path).toBe('violator');
    expect(p?.origin).toEqual({ rejected: 'violator', chosen: 'defender', rounds: 3 });
    expect(p?.heldRounds?.map((r) => r.round)).toEqual([1, 2]);
    // The final round's reply is the chosen side.
    expect(last.pair?.chosen).toBe(HOLD);
    expect(last.pair?.prompt.at(-1)?.content).toContain('ROUND3');
    const entry = results.find((r) => r.experience)?.experience;
    expect(entry).toMatchObject({ success: false, rounds: 3 });
    expect(results.find((r) => r.experience)?.step).toBe('judge-defender-safety');
  });

  it('a later round that repeats a known prompt ends the rounds instead of the task', async () => {
    const d = script(0);
    // Round 1 asks something new; round 2 repeats a prompt another pair already has.
    const known = 'Did you hike it yourself? ROUND2 (s';
    const firstTry = await runTask(rounds(3, {}, script(0)));
    const repeated = firstTry.results
      .map((r) => r.state.conversation?.find((m) => m.role === 'user')?.content ?? '')
      .find((c) => c.startsWith(known));
    expect(repeated).toBeDefined();
    const { results, last } = await runTask(rounds(3, { existingPrompts: [repeated!] }, d));
    expect(last.failure).toBeUndefined();
    // Round 2's attack was a duplicate: no defence of it; round 1's held answer is final.
    expect(d.log.filter((a) => a === 'attacker')).toHaveLength(2);
    expect(d.log.filter((a) => a === 'defender')).toHaveLength(1);
    const fallback = results.find(
      (r) => r.step === 'attack' && r.state.round === 1 && r.experience,
    );
    expect(fallback?.state.next).toBe('judge-defender-quality');
    expect(fallback?.experience).toMatchObject({ success: false, rounds: 1 });
    const p = last.pair?.provenance;
    expect(p?.path).toBe('violator');
    expect(p?.origin).toEqual({ rejected: 'violator', chosen: 'defender', rounds: 1 });
    expect(p?.heldRounds ?? []).toEqual([]);
    expect(last.pair?.chosen).toBe(HOLD);
    expect(last.pair?.prompt.at(-1)?.content).toContain('ROUND1');
  });

  it('one round is the single-attack behaviour: no hints, no round fields, the violator at once', async () => {
    const d = script(2);
    const { last } = await runTask(rounds(1, {}, d));
    expect(d.log.filter((a) => a === 'attacker')).toHaveLength(1);
    const p = last.pair?.provenance;
    expect(p?.origin).toEqual({ rejected: 'violator', chosen: 'defender', rounds: 1 });
    expect(p?.judgements.every((j) => j.round === undefined)).toBe(true);
  });

  it('a rewritten violation is stated as a rewrite', async () => {
    let violations = 0;
    const d = script(0);
    const base = d.script.violator;
    d.script.violator = (r, n) => {
      violations++;
      return n === 0 ? response(HOLD) : (base as (r: ChatRequest, n: number) => string)(r, n);
    };
    const { last } = await runTask(rounds(2, {}, d));
    expect(violations).toBe(2);
    expect(last.pair?.provenance.origin).toEqual({
      rejected: 'rewrite',
      chosen: 'defender',
      rounds: 2,
    });
  });

  it('a multi-turn task escalates within its conversation: one more user turn per round', async () => {
    const d = script(3, 2);
    const { last } = await runTask(rounds(3, {}, d), descriptor({ turns: 2 }));
    const pair = last.pair;
    if (!pair) throw new Error(`no pair: ${last.failure}`);
    const turns = pair.prompt.slice(1);
    // Round 1: user, assistant, user; then the defender's reply and the round-2 user turn, then
    // the round-2 reply and the round-3 user turn, which broke it.
    expect(turns.map((t) => t.role)).toEqual([
      'user',
      'assistant',
      'user',
      'assistant',
      'user',
      'assistant',
      'user',
    ]);
    expect(turns[3]?.content).toBe(HOLD);
    expect(turns[4]?.content).toContain('ROUND2');
    expect(turns[6]?.content).toContain('ROUND3');
    expect(pair.rejected).toBe(BREAK);
    expect(pair.provenance.origin).toMatchObject({ rejected: 'defender', round: 3 });
    // The round-2 attacker was asked for the next message of the same conversation.
    const second = d.of('attacker')[1] as ChatRequest;
    expect(second.messages[0]?.content).toContain('NEXT user message of the same conversation');
    expect(userText(second)).toContain('Assistant: Sure, go on.');
    // The round-3 defender saw the whole history.
    const third = d.of('defender')[2] as ChatRequest;
    expect(third.messages.filter((m) => m.role === 'user')).toHaveLength(4);
  });

  it('resumes mid-round from any checkpoint with the same pair and the same calls', async () => {
    for (const breakAt of [0, 3]) {
      const task = descriptor({ seed: 91, turns: 2 });
      const whole = script(breakAt, 2);
      const straight = await runTask(rounds(3, {}, whole), task);
      const total = straight.results.length;
      expect(total).toBeGreaterThanOrEqual(11);
      for (let cut = 1; cut < total; cut++) {
        const before = script(breakAt, 2);
        let state: unknown = initialLoopState(task);
        for (let i = 0; i < cut; i++)
          state = (await nextStep({ state }, rounds(3, {}, before))).state;
        // The tab closes: only the JSON checkpoint survives; a new engine picks it up.
        const after = script(breakAt, 2);
        let result = await nextStep(
          { state: JSON.parse(JSON.stringify(state)) },
          rounds(3, {}, after),
        );
        while (!result.done)
          result = await nextStep(
            { state: JSON.parse(JSON.stringify(result.state)) },
            rounds(3, {}, after),
          );
        expect(result.pair, `break at ${breakAt}, cut after step ${cut}`).toEqual(
          straight.last.pair,
        );
        const calls = (d: AgentDispatcher) => d.log.length;
        expect(calls(before) + calls(after)).toBe(total);
        const seeds = (d: AgentDispatcher, agent: AgentName) => d.of(agent).map((r) => r.seed);
        expect([...seeds(before, 'attacker'), ...seeds(after, 'attacker')]).toEqual(
          seeds(whole, 'attacker'),
        );
      }
    }
  });
});
