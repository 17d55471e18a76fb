import { describe, expect, it } from 'vitest';
import {
  costByRole,
  costOf,
  estimateVsActual,
  formatMoney,
  parsePrice,
  parseTokenPrice,
  type TokenPrice,
} from '$lib/core/cost';
import { renderInstancePrompt } from '$lib/core/instances/render';
import { readStartEstimate } from '$lib/core/stored';
import { AGENT_NAMES, AGENT_ROLE, estimateRun, type SynthesisInstance } from '$lib/core/synthesis';
import { longestThirteen } from './instances/fixtures';
import { descriptor } from './synthesis/helpers';

const gpt: TokenPrice = { inputPerMillion: 0.15, outputPerMillion: 0.6 };

describe('cost arithmetic', () => {
  it('prices prompt and completion tokens per million', () => {
    expect(costOf({ promptTokens: 1_000_000, completionTokens: 0 }, gpt)).toBeCloseTo(0.15, 10);
    expect(costOf({ promptTokens: 286_000, completionTokens: 40_000 }, gpt)).toBeCloseTo(
      0.0429 + 0.024,
      10,
    );
    expect(costOf({ promptTokens: 0, completionTokens: 0 }, gpt)).toBe(0);
  });

  it('sums roles at their own prices and lists the unpriced ones', () => {
    const summary = costByRole(
      {
        attacker: { promptTokens: 2_000_000, completionTokens: 1_000_000 },
        defender: { promptTokens: 1_000_000, completionTokens: 0 },
        safetyJudge: { promptTokens: 500, completionTokens: 100 },
        planner: { promptTokens: 0, completionTokens: 0 },
      },
      { attacker: gpt, defender: { inputPerMillion: 3, outputPerMillion: 15 } },
    );
    expect(summary.total).toBeCloseTo(2 * 0.15 + 0.6 + 3, 10);
    expect(summary.pricedRoles).toEqual(['attacker', 'defender']);
    // The planner used nothing: neither priced nor unpriced.
    expect(summary.unpricedRoles).toEqual(['safetyJudge']);
  });

  it('parses price fields: dollars, separators, empty; rejects the rest with the value given', () => {
    expect(parsePrice('', 'The input price')).toEqual({ ok: true, value: undefined });
    expect(parsePrice(' $0.15 ', 'x')).toEqual({ ok: true, value: 0.15 });
    expect(parsePrice('1,200', 'x')).toEqual({ ok: true, value: 1200 });
    expect(parsePrice('.5', 'x')).toEqual({ ok: true, value: 0.5 });
    expect(parsePrice('0', 'x')).toEqual({ ok: true, value: 0 });
    for (const bad of ['-1', 'free', '1e3', '20000', '1.2.3']) {
      const r = parsePrice(bad, 'The input price');
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error).toContain(`The input price must be`);
        expect(r.error).toContain(`"${bad}"`);
      }
    }
  });

  it('needs both prices or neither', () => {
    expect(parseTokenPrice('', '')).toEqual({ ok: true, value: undefined });
    expect(parseTokenPrice('0.15', '0.6')).toEqual({ ok: true, value: gpt });
    const half = parseTokenPrice('0.15', '');
    expect(half.ok).toBe(false);
    if (!half.ok) expect(half.error).toMatch(/Give both prices/);
    const bad = parseTokenPrice('0.15', 'x');
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error).toMatch(/^The output price/);
  });

  it('formats money for people', () => {
    expect(formatMoney(0)).toBe('$0');
    expect(formatMoney(0.0004)).toBe('< $0.001');
    expect(formatMoney(0.06693)).toBe('$0.0669');
    expect(formatMoney(0.5)).toBe('$0.5');
    expect(formatMoney(1234.567)).toBe('$1,234.57');
    expect(formatMoney(Number.NaN)).toBe('—');
  });
});

describe('estimateRun: money', () => {
  const rules = longestThirteen();
  const instance: SynthesisInstance = {
    id: 'big',
    specVersionId: 'v1',
    rules,
    systemPrompt: renderInstancePrompt(rules).text,
  };
  const input = {
    tasks: [descriptor({ instanceId: 'big' }), descriptor({ instanceId: 'big', key: 'k2' })],
    instances: new Map([['big', instance]]),
    tokensPerSecond: 20,
  };

  it('prices each agent at its role’s model and adds up to the tokens at one price', () => {
    const every = Object.fromEntries(AGENT_NAMES.map((a) => [AGENT_ROLE[a], gpt]));
    const e = estimateRun({ ...input, prices: every });
    expect(e.cost?.unpricedRoles).toEqual([]);
    expect(e.cost?.total).toBeCloseTo(
      costOf({ promptTokens: e.promptTokens, completionTokens: e.completionTokens }, gpt),
      10,
    );
    expect(e.cost?.total).toBeGreaterThan(0);
  });

  it('lists roles without a price and leaves them out of the total', () => {
    const e = estimateRun({ ...input, prices: { defender: gpt } });
    // The defender role runs the defender and the chosen-answer writer.
    const d = e.perAgent.defender;
    const c = e.perAgent.chosen;
    expect(e.cost?.total).toBeCloseTo(
      costOf(
        {
          promptTokens: d.promptTokens + c.promptTokens,
          completionTokens: d.completionTokens + c.completionTokens,
        },
        gpt,
      ),
      10,
    );
    expect(e.cost?.unpricedRoles).toEqual(
      expect.arrayContaining(['planner', 'attacker', 'safetyJudge', 'qualityJudge']),
    );
    expect(e.cost?.unpricedRoles).not.toContain('defender');
  });

  it('has no money figure when nothing is priced', () => {
    expect(estimateRun(input).cost).toBeUndefined();
    expect(estimateRun({ ...input, prices: {} }).cost).toBeUndefined();
  });
});

describe('the estimate stored with a run', () => {
  const v1 = {
    v: 1,
    specVersionId: 's',
    instanceIds: ['i'],
    controls: {},
    seed: 1,
    budgets: {},
    loop: {
      qualityThreshold: 3,
      maxCandidateAttempts: 3,
      roleSwapEvery: 5,
      experienceLimit: 8,
      duplicateThreshold: 0.9,
      jsonRetries: 1,
    },
    instanceFingerprints: {},
  };
  const estimate = {
    tasks: 2,
    calls: 16,
    promptTokens: 1000,
    completionTokens: 200,
    timeMs: 10_000,
    expectedPairs: 1.5,
    tokensPerSecond: 20,
    prices: { defender: gpt },
    cost: { total: 0.01, unpricedRoles: ['planner'] },
  };

  it('reads from version 2 configs; version 1 (and unversioned) configs have none', () => {
    expect(readStartEstimate({ ...v1, v: 2, estimate })).toEqual(estimate);
    expect(readStartEstimate(v1)).toBeUndefined();
    const { v: _v, ...unversioned } = v1;
    expect(readStartEstimate(unversioned)).toBeUndefined();
    // A version 2 config without its estimate is not a valid version 2 config.
    expect(readStartEstimate({ ...v1, v: 2 })).toBeUndefined();
  });
});

describe('estimateVsActual', () => {
  const estimate = {
    expectedPairs: 12.5,
    promptTokens: 100_000,
    completionTokens: 20_000,
    prices: { defender: gpt, attacker: { inputPerMillion: 1, outputPerMillion: 2 } },
    cost: { total: 0.05 },
  };

  it('compares pairs, tokens and money, pricing roles at the prices stored with the estimate', () => {
    const { rows, unpricedRoles } = estimateVsActual(estimate, {
      pairs: 10,
      usage: { promptTokens: 120_000, completionTokens: 18_000 },
      usageByRole: {
        defender: { promptTokens: 100_000, completionTokens: 10_000 },
        attacker: { promptTokens: 10_000, completionTokens: 5_000 },
        planner: { promptTokens: 10_000, completionTokens: 3_000 },
      },
    });
    expect(rows.map((r) => [r.metric, r.estimate])).toEqual([
      ['pairs', 12.5],
      ['promptTokens', 100_000],
      ['completionTokens', 20_000],
      ['cost', 0.05],
    ]);
    expect(rows.map((r) => r.actual).slice(0, 3)).toEqual([10, 120_000, 18_000]);
    expect(rows[3]?.actual).toBeCloseTo(0.015 + 0.006 + 0.01 + 0.01, 10);
    expect(unpricedRoles).toEqual(['planner']);
  });

  it('has no money row when the estimate had no price', () => {
    const { rows } = estimateVsActual(
      { ...estimate, cost: undefined },
      { pairs: 1, usage: { promptTokens: 1, completionTokens: 1 } },
    );
    expect(rows.map((r) => r.metric)).toEqual(['pairs', 'promptTokens', 'completionTokens']);
  });
});
