import { describe, expect, it } from 'vitest';
import {
  createInstanceSplit,
  filterPairs,
  hashString,
  PAPER_SFT_FRACTION,
  selectPairs,
  trainingStageOf,
  unitHash,
} from '$lib/core/export';
import { knownPairs, pair } from './fixtures';

describe('filterPairs', () => {
  const pairs = knownPairs();
  const ids = (keep: (p: (typeof pairs)[number]) => boolean) => pairs.filter(keep).map((p) => p.id);

  it('keeps accepted pairs only by default', () => {
    expect(ids(filterPairs())).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
  });

  it('adds pending pairs on request, never rejected or flagged', () => {
    expect(ids(filterPairs({ includePending: true }))).toEqual([
      'a',
      'b',
      'c',
      'd',
      'e',
      'f',
      'g',
      'h',
    ]);
  });

  it('explicit statuses win over includePending', () => {
    expect(ids(filterPairs({ statuses: ['flagged'], includePending: true }))).toEqual(['j']);
  });

  it('narrows by run, instance, rule, case type and project', () => {
    expect(ids(filterPairs({ instanceIds: ['i1', 'i5'] }))).toEqual(['a', 'b', 'f', 'g']);
    expect(ids(filterPairs({ ruleIds: ['r2'] }))).toEqual(['b', 'c', 'e']);
    expect(ids(filterPairs({ caseTypes: ['borderline', 'benign'] }))).toEqual(['c', 'e', 'g']);
    expect(ids(filterPairs({ runIds: ['other'] }))).toEqual([]);
    expect(ids(filterPairs({ projectId: 'p2' }))).toEqual([]);
    expect(ids(filterPairs({ projectId: 'p1', caseTypes: ['benign'] }))).toEqual(['e']);
  });

  it('selectPairs streams the same selection', async () => {
    const out: string[] = [];
    for await (const p of selectPairs(pairs, { ruleIds: ['r3'] })) out.push(p.id);
    expect(out).toEqual(['e', 'g']);
  });
});

describe('SFT:DPO division (paper 1:3)', () => {
  const ids = Array.from({ length: 20_000 }, (_, k) => `pair-${k}-${(k * 7919) % 10007}`);

  it('sends about a quarter of the pairs to SFT', () => {
    const sft = ids.filter((id) => trainingStageOf(id) === 'sft').length;
    expect(PAPER_SFT_FRACTION).toBe(0.25);
    // 2σ for n = 20,000 at p = 0.25 is ±0.61 percentage points.
    expect(sft / ids.length).toBeGreaterThan(0.24);
    expect(sft / ids.length).toBeLessThan(0.26);
  });

  it('is deterministic, seedable, and partitions the pairs', () => {
    const a = ids.map((id) => trainingStageOf(id));
    expect(ids.map((id) => trainingStageOf(id))).toEqual(a);
    const seeded = ids.map((id) => trainingStageOf(id, { seed: 99 }));
    expect(seeded).not.toEqual(a);
    const sft = filterPairs({ trainingStage: 'sft', statuses: ['accepted'] });
    const dpo = filterPairs({ trainingStage: 'dpo', statuses: ['accepted'] });
    for (const id of ids.slice(0, 500)) {
      const p = pair({ id });
      expect(sft(p) !== dpo(p)).toBe(true);
    }
  });

  it('honours other fractions and rejects impossible ones', () => {
    const half = ids.filter((id) => trainingStageOf(id, { sftFraction: 0.5 }) === 'sft').length;
    expect(half / ids.length).toBeCloseTo(0.5, 1);
    expect(ids.every((id) => trainingStageOf(id, { sftFraction: 0 }) === 'dpo')).toBe(true);
    expect(() => trainingStageOf('x', { sftFraction: 1.5 })).toThrow(RangeError);
  });
});

describe('instance split', () => {
  const instances = Array.from({ length: 50 }, (_, k) => `inst-${k}`);

  it('holds out exactly round(fraction × n) instances, deterministically', () => {
    const split = createInstanceSplit(instances, { testFraction: 0.2, seed: 3 });
    const test = instances.filter((id) => split(id) === 'test');
    expect(test).toHaveLength(10);
    const again = createInstanceSplit([...instances].reverse(), { testFraction: 0.2, seed: 3 });
    expect(instances.filter((id) => again(id) === 'test')).toEqual(test);
    const other = createInstanceSplit(instances, { testFraction: 0.2, seed: 4 });
    expect(instances.filter((id) => other(id) === 'test')).not.toEqual(test);
  });

  it('keeps at least one instance on each side when it can', () => {
    const two = createInstanceSplit(['a', 'b'], { testFraction: 0.01 });
    expect(['a', 'b'].map(two).sort()).toEqual(['test', 'train']);
    const most = createInstanceSplit(['a', 'b', 'c'], { testFraction: 0.99 });
    expect(['a', 'b', 'c'].filter((id) => most(id) === 'train')).toHaveLength(1);
    const one = createInstanceSplit(['a'], { testFraction: 0.5 });
    expect(one('a')).toBe('train');
    const none = createInstanceSplit(instances, { testFraction: 0 });
    expect(instances.every((id) => none(id) === 'train')).toBe(true);
  });

  it('splits unknown instances by hash, still all-or-nothing per instance', () => {
    const split = createInstanceSplit([], { testFraction: 0.5 });
    const unknown = Array.from({ length: 2000 }, (_, k) => `unknown-${k}`);
    const test = unknown.filter((id) => split(id) === 'test').length;
    expect(test / unknown.length).toBeGreaterThan(0.45);
    expect(test / unknown.length).toBeLessThan(0.55);
    expect(unknown.map(split)).toEqual(unknown.map(split));
  });

  it('rejects a test fraction of 1 or more, or below 0', () => {
    expect(() => createInstanceSplit(instances, { testFraction: 1 })).toThrow(RangeError);
    expect(() => createInstanceSplit(instances, { testFraction: -0.1 })).toThrow(RangeError);
  });
});

describe('hash', () => {
  it('matches FNV-1a + fmix32 over UTF-16 code units (values from an independent Python run)', () => {
    // Pinned: if these change, every user's exported splits change.
    expect([hashString('a'), hashString('pair-1'), hashString('instance:i1')]).toEqual([
      444641715, 1214722458, 3336378674,
    ]);
    expect(unitHash(0, 'x')).toBeGreaterThanOrEqual(0);
    expect(unitHash(0, 'x')).toBeLessThan(1);
  });
});
