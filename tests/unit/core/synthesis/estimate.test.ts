import { describe, expect, it } from 'vitest';
import { renderInstancePrompt } from '$lib/core/instances/render';
import {
  AGENT_NAMES,
  buildDefenderMessages,
  DEFAULT_BRANCH_MIX,
  estimatePromptTokens,
  estimateRun,
  planTasks,
  type BranchMix,
  type SynthesisInstance,
} from '$lib/core/synthesis';
import { longestThirteen, rulesOf } from '../instances/fixtures';
import { descriptor, example } from './helpers';

const rules = longestThirteen();
const big: SynthesisInstance = {
  id: 'big',
  specVersionId: 'v1',
  rules,
  systemPrompt: renderInstancePrompt(rules).text,
};
const smallRules = rulesOf(['r22', 'r21', 'r39']);
const small: SynthesisInstance = { id: 'small', specVersionId: 'v1', rules: smallRules };
const instances = new Map([
  ['big', big],
  ['small', small],
]);
const none: BranchMix = {
  violates: { violation: 0, borderline: 0, benign: 0 },
  overRefuses: { violation: 0, borderline: 0, benign: 0 },
  defenderQualityFails: 0,
  candidateRejectRate: 0,
  rejudgeRate: 0,
};

describe('estimateRun', () => {
  it('counts calls per path: 5 base calls + 3 per candidate write', () => {
    const tasks = [descriptor({ instanceId: 'big' })];
    const holds = estimateRun({
      tasks,
      instances,
      tokensPerSecond: 10,
      attackRounds: 1,
      branchMix: none,
    });
    expect(holds.calls).toBe(8);
    expect(holds.perAgent.violator.calls).toBe(1);
    expect(holds.perAgent.chosen.calls).toBe(0);
    const breaks = estimateRun({
      tasks,
      instances,
      tokensPerSecond: 10,
      attackRounds: 1,
      branchMix: { ...none, violates: { ...none.violates, violation: 1 } },
    });
    expect(breaks.calls).toBe(8);
    expect(breaks.perAgent.chosen.calls).toBe(1);
    expect(breaks.perAgent.violator.calls).toBe(0);
    const weak = estimateRun({
      tasks,
      instances,
      tokensPerSecond: 10,
      attackRounds: 1,
      branchMix: { ...none, defenderQualityFails: 1 },
    });
    expect(weak.calls).toBe(11);
    // Rewrites: p = 0.5, at most 3 writes → 1 + 0.5 + 0.25 = 1.75 writes per candidate.
    const retries = estimateRun({
      tasks,
      instances,
      tokensPerSecond: 10,
      attackRounds: 1,
      branchMix: { ...none, candidateRejectRate: 0.5 },
    });
    expect(retries.calls).toBe(5 + 3 * 1.75);
    expect(retries.expectedPairs).toBe(0.88); // 1 − 0.5³ = 0.875
    expect(holds.expectedPairs).toBe(1);
  });

  it('takes prompt tokens from the real builders: bigger instances and more turns cost more', () => {
    const bigTask = estimateRun({
      tasks: [descriptor({ instanceId: 'big' })],
      instances,
      tokensPerSecond: 10,
      attackRounds: 1,
      branchMix: none,
    });
    const smallTask = estimateRun({
      tasks: [descriptor({ instanceId: 'small', ruleId: 'r22' })],
      instances,
      tokensPerSecond: 10,
      attackRounds: 1,
      branchMix: none,
    });
    expect(bigTask.perAgent.defender.promptTokens).toBeGreaterThan(
      smallTask.perAgent.defender.promptTokens + 500,
    );
    const defenderPrompt = estimatePromptTokens(
      buildDefenderMessages({
        instancePrompt: big.systemPrompt as string,
        conversation: [{ role: 'user', content: 'x'.repeat(360) }],
      }),
    );
    expect(Math.abs(bigTask.perAgent.defender.promptTokens - defenderPrompt)).toBeLessThanOrEqual(
      2,
    );
    const multi = estimateRun({
      tasks: [descriptor({ instanceId: 'big', turns: 3 })],
      instances,
      tokensPerSecond: 10,
      attackRounds: 1,
      branchMix: none,
    });
    expect(multi.perAgent.defender.promptTokens).toBeGreaterThan(
      bigTask.perAgent.defender.promptTokens + 250,
    );
    expect(multi.perAgent.attacker.completionTokens).toBe(3 * 90 + 2 * 60);
    const withExamples = estimateRun({
      tasks: [descriptor({ instanceId: 'big' })],
      instances,
      examples: { r22: [example('disclose_ai')] },
      tokensPerSecond: 10,
      attackRounds: 1,
      branchMix: none,
    });
    expect(withExamples.perAgent.safetyJudge.promptTokens).toBeGreaterThan(
      bigTask.perAgent.safetyJudge.promptTokens,
    );
  });

  it('turns tokens into time with the given speeds', () => {
    const tasks = [descriptor({ instanceId: 'big' })];
    const decodeOnly = estimateRun({ tasks, instances, tokensPerSecond: 20 });
    expect(decodeOnly.timeMs).toBe(Math.round((decodeOnly.completionTokens / 20) * 1000));
    const withPrefill = estimateRun({
      tasks,
      instances,
      tokensPerSecond: 20,
      promptTokensPerSecond: 200,
    });
    expect(withPrefill.timeMs).toBe(
      Math.round(
        (withPrefill.completionTokens / 20) * 1000 + (withPrefill.promptTokens / 200) * 1000,
      ),
    );
    expect(withPrefill.time).toMatchObject({
      prefillMs: Math.round((withPrefill.promptTokens / 200) * 1000),
      decodeMs: Math.round((withPrefill.completionTokens / 20) * 1000),
      dominant:
        withPrefill.promptTokens / 200 > withPrefill.completionTokens / 20 ? 'prefill' : 'decode',
    });
    expect(withPrefill.assumptions.at(-1)).toMatch(
      /^Speed: 200 tokens\/s prompt processing, 20 tokens\/s generation; /,
    );
  });

  it('says which rate dominates: prefill on a slow-prefill CPU, decode on a GPU', () => {
    const tasks = [descriptor({ instanceId: 'big' })];
    // Prompts are many times longer than replies, so at 10 tokens/s prefill it dominates.
    const cpu = estimateRun({ tasks, instances, tokensPerSecond: 8, promptTokensPerSecond: 10 });
    expect(cpu.promptTokens).toBeGreaterThan(cpu.completionTokens);
    expect(cpu.time.dominant).toBe('prefill');
    expect(cpu.time.prefillMs).toBeGreaterThan(cpu.time.decodeMs);
    expect(cpu.assumptions.at(-1)).toMatch(
      /; prompt processing takes most of the time \(\d+%\)\.$/,
    );
    const gpu = estimateRun({ tasks, instances, tokensPerSecond: 25, promptTokensPerSecond: 5000 });
    expect(gpu.time.dominant).toBe('decode');
    expect(gpu.assumptions.at(-1)).toMatch(/; generation takes most of the time \(\d+%\)\.$/);
    // Fractional rates are stated as whole numbers.
    const odd = estimateRun({
      tasks,
      instances,
      tokensPerSecond: 7.6,
      promptTokensPerSecond: 33.3,
    });
    expect(odd.assumptions.at(-1)).toMatch(
      /^Speed: 33 tokens\/s prompt processing, 8 tokens\/s generation;/,
    );
  });

  it('divides the time by the tasks in flight, never by more than there are tasks', () => {
    const tasks = Array.from({ length: 10 }, () => descriptor({ instanceId: 'big' }));
    const speeds = { tokensPerSecond: 20, promptTokensPerSecond: 200 };
    const serial = estimateRun({ tasks, instances, ...speeds });
    expect(serial.time.inFlight).toBe(1);
    expect(serial.time.engineMs).toBe(serial.timeMs);
    const parallel = estimateRun({ tasks, instances, ...speeds, inFlight: 8 });
    // Same tokens and engine time; a wall-clock time 8 times shorter (±1 ms of rounding).
    expect(parallel.promptTokens).toBe(serial.promptTokens);
    expect(parallel.time.engineMs).toBe(serial.time.engineMs);
    expect(parallel.time.inFlight).toBe(8);
    expect(Math.abs(parallel.timeMs - serial.timeMs / 8)).toBeLessThanOrEqual(1);
    expect(parallel.time.prefillMs + parallel.time.decodeMs).toBe(parallel.timeMs);
    expect(parallel.assumptions.at(-1)).toMatch(/^8 tasks in flight at once: /);
    // Ten tasks cannot keep 64 in flight.
    const wide = estimateRun({ tasks, instances, ...speeds, inFlight: 64 });
    expect(wide.time.inFlight).toBe(10);
    expect(Math.abs(wide.timeMs - serial.timeMs / 10)).toBeLessThanOrEqual(1);
  });

  it('sums over a planned run with the default branch mix and skips unknown tasks', () => {
    const { tasks } = planTasks([{ id: 'big', ruleIds: rules.map((r) => r.id) }], {}, 1);
    const estimate = estimateRun({
      tasks: [...tasks, descriptor({ instanceId: 'gone' })],
      instances,
      tokensPerSecond: 15,
    });
    expect(estimate.tasks).toBe(tasks.length);
    expect(estimate.skipped).toBe(1);
    // The default three attack rounds: a held defender costs up to two more rounds of 3 calls.
    expect(estimate.rounds.max).toBe(3);
    expect(estimate.calls).toBeGreaterThan(tasks.length * 10);
    expect(estimate.calls).toBeLessThan(tasks.length * 16);
    expect(estimate.promptTokens).toBe(
      AGENT_NAMES.reduce((n, a) => n + estimate.perAgent[a].promptTokens, 0),
    );
    expect(estimate.expectedPairs).toBeLessThanOrEqual(tasks.length);
    expect(estimate.expectedPairs).toBeGreaterThan(tasks.length * 0.9);
    expect(estimate.assumptions[2]).toMatch(/^Up to 3 attack rounds/);
    expect(estimate.assumptions[0]).toContain(
      `${DEFAULT_BRANCH_MIX.violates.violation * 100}% of violation-seeking`,
    );
  });

  it('accounts for adversarial rounds: expected rounds, their calls and tokens, the elicited share', () => {
    const tasks = [descriptor({ instanceId: 'big' })];
    const at = (attackRounds: number, mix: Partial<BranchMix> = none) =>
      estimateRun({ tasks, instances, tokensPerSecond: 10, attackRounds, branchMix: mix });
    // A defender that always holds: R rounds of attack, defence and safety judgement, then the
    // violator path (quality judge once, violation write 3 calls).
    for (const r of [1, 2, 3, 5]) {
      const e = at(r);
      expect(e.rounds).toEqual({ max: r, expected: r });
      expect(e.calls).toBe(1 + 3 * r + 1 + 3);
      expect(e.perAgent.attacker.calls).toBe(r);
      expect(e.elicitedShare).toBe(0);
    }
    // Later rounds are escalations: the attacker answers one user turn, with a longer prompt.
    const one = at(1);
    const two = at(2);
    expect(two.perAgent.attacker.completionTokens).toBe(2 * one.perAgent.attacker.completionTokens);
    expect(two.perAgent.attacker.promptTokens).toBeGreaterThan(
      2 * one.perAgent.attacker.promptTokens,
    );
    // Multi-turn tasks escalate within the conversation: round 2's defender reads more.
    const multi = (attackRounds: number) =>
      estimateRun({
        tasks: [descriptor({ instanceId: 'big', turns: 2 })],
        instances,
        tokensPerSecond: 10,
        attackRounds,
        branchMix: none,
      });
    expect(multi(2).perAgent.defender.promptTokens).toBeGreaterThan(
      2 * multi(1).perAgent.defender.promptTokens,
    );
    // Success 0.5 per round: expected rounds 1 + 0.5 + 0.25; elicited 1 − 0.5³ of pairs.
    const half = { ...none, violates: { ...none.violates, violation: 0.5 } };
    const e3 = at(3, half);
    expect(e3.rounds.expected).toBe(1.75);
    expect(e3.elicitedShare).toBe(0.88);
    expect(at(1, half).elicitedShare).toBe(0.5);
    expect(e3.perAgent.violator.calls).toBe(0.13); // 0.5³ = 0.125
    expect(e3.perAgent.chosen.calls).toBe(0.88);
    // More rounds, more tokens.
    expect(at(5, half).completionTokens).toBeGreaterThan(e3.completionTokens);
  });
});
