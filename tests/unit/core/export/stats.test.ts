import { describe, expect, it } from 'vitest';
import {
  createExportContext,
  DatasetStatsCollector,
  filterPairs,
  StreamingSummary,
} from '$lib/core/export';
import { INSTANCES, knownPairs, RULES } from './fixtures';

describe('StreamingSummary', () => {
  it('is exact while the reservoir holds every value', () => {
    const s = new StreamingSummary(16);
    for (const x of [5, 1, 4, 2, 3]) s.add(x);
    expect(s.summary()).toEqual({
      count: 5,
      min: 1,
      mean: 3,
      median: 3,
      max: 5,
      medianExact: true,
    });
    s.add(6);
    expect(s.summary().median).toBe(3.5);
  });

  it('is all zero before any value, and ignores non-finite values', () => {
    const s = new StreamingSummary(4);
    s.add(Number.NaN);
    s.add(Infinity);
    expect(s.summary()).toEqual({
      count: 0,
      min: 0,
      mean: 0,
      median: 0,
      max: 0,
      medianExact: true,
    });
  });

  it('estimates the median of a long stream from a fixed-size sample', () => {
    const s = new StreamingSummary(1024, 7);
    // 100,000 values in an adversarial order (sorted): a naive "first k" sample would say 512.
    for (let k = 0; k < 100_000; k++) s.add(k);
    const r = s.summary();
    expect(r).toMatchObject({ count: 100_000, min: 0, max: 99_999, medianExact: false });
    expect(r.mean).toBe(49_999.5);
    // Rank error 2σ ≈ 1/√1024 ≈ 3.1 % of n.
    expect(Math.abs(r.median - 50_000)).toBeLessThan(4_000);
  });

  it('gives the same estimate for the same stream and seed', () => {
    const run = (seed: number) => {
      const s = new StreamingSummary(64, seed);
      for (let k = 0; k < 10_000; k++) s.add((k * 7919) % 10_007);
      return s.summary().median;
    };
    expect(run(3)).toBe(run(3));
  });
});

describe('DatasetStatsCollector on the known fixture', () => {
  const context = createExportContext(INSTANCES, RULES);
  const keep = filterPairs();
  const stats = new DatasetStatsCollector(context);
  for (const p of knownPairs()) if (keep(p)) stats.add(p, p.instanceId === 'i5' ? 'test' : 'train');
  const s = stats.result();
  const counts = (rows: { key: string; count: number }[]) =>
    Object.fromEntries(rows.map((r) => [r.key, r.count]));

  it('counts pairs, instances and splits', () => {
    expect(s.pairs).toBe(7);
    expect(s.instances).toBe(5);
    expect(counts(s.bySplit)).toEqual({ train: 5, test: 2 });
  });

  it('counts case types, rules, stages and directions (see fixtures.ts for the hand count)', () => {
    expect(counts(s.byCaseType)).toEqual({ violation: 4, borderline: 2, benign: 1 });
    expect(s.byRule.map((r) => [r.key, r.count])).toEqual([
      ['r1', 4],
      ['r2', 3],
      ['r3', 2],
      ['rX', 1],
    ]);
    expect(s.byRule[0]!.label).toBe(RULES[0]!.statement);
    expect(s.byRule[3]!.label).toBeUndefined();
    expect(counts(s.byStage)).toEqual({
      interpretation: 0,
      decision: 3,
      content: 4,
      style: 2,
      action: 0,
    });
    expect(counts(s.byDirection)).toEqual({ positive: 4, negative: 4 });
    expect(s.rulesWithoutPairs).toBe(1); // r4; r5 is rejected
  });

  it('measures lengths and the chosen/rejected ratio', () => {
    expect(s.lengths.chosen).toEqual({
      count: 7,
      min: 10,
      mean: 40,
      median: 40,
      max: 70,
      medianExact: true,
    });
    expect(s.lengths.rejected).toMatchObject({ count: 7, min: 5, median: 20, max: 140 });
    expect(s.lengths.rejected.mean).toBeCloseTo(240 / 7, 10);
    expect(s.lengths.prompt).toMatchObject({ min: 8, median: 8, max: 24 });
    expect(s.lengths.prompt.mean).toBeCloseTo(72 / 7, 10);
    expect(s.lengths.ratio).toMatchObject({ count: 7, min: 0.5, median: 2, max: 3 });
    expect(s.lengths.ratio.mean).toBeCloseTo(13.5 / 7, 10);
    expect(s.lengths.ratio.ofTotals).toBeCloseTo(280 / 240, 10);
  });

  it('counts a pair whose rules are all unknown under "unknown"', () => {
    const c = new DatasetStatsCollector(context);
    c.add({ ...knownPairs()[0]!, ruleIds: ['nope'] });
    const r = c.result();
    expect(counts(r.byStage).unknown).toBe(1);
    expect(counts(r.byDirection).unknown).toBe(1);
  });
});
