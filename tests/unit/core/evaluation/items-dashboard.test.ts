import { describe, expect, it } from 'vitest';
import {
  acceptanceRate,
  activeTimeMs,
  buildEvalItems,
  coverageMatrix,
  tokensPerAcceptedPair,
} from '$lib/core/evaluation';
import { createInstanceSplit } from '$lib/core/export/splits';
import { makeInstance, makePair } from './fixtures';

describe('buildEvalItems', () => {
  const instances = ['i1', 'i2', 'i3', 'i4'].map((id) => makeInstance(id, ['r1']));
  const pairs = instances.flatMap((inst) => [
    makePair({ instanceId: inst.id, query: `q ${inst.id} a` }),
    makePair({ instanceId: inst.id, query: `q ${inst.id} a` }), // same query: one item
    makePair({ instanceId: inst.id, query: `q ${inst.id} b`, status: 'pending' }),
  ]);

  it('keeps the queries of the test split (the export split), deduplicated, with stable keys', () => {
    const split = createInstanceSplit(
      instances.map((i) => i.id),
      { testFraction: 0.5, seed: 3 },
    );
    const testIds = instances.map((i) => i.id).filter((id) => split(id) === 'test');
    expect(testIds).toHaveLength(2);
    const items = buildEvalItems(pairs, instances, {
      source: 'test-split',
      testFraction: 0.5,
      seed: 3,
    });
    expect(items.map((i) => i.instanceId).sort()).toEqual(testIds.sort());
    expect(items).toHaveLength(2); // accepted only, deduplicated
    const again = buildEvalItems([...pairs].reverse(), instances, {
      source: 'test-split',
      testFraction: 0.5,
      seed: 3,
    });
    expect(again.map((i) => i.key)).toEqual(items.map((i) => i.key));
    expect(items[0]?.messages.at(-1)?.role).toBe('user');
  });

  it('uses every pair on request, with unreviewed pairs and a limit', () => {
    expect(buildEvalItems(pairs, instances, { source: 'all-pairs' })).toHaveLength(4);
    expect(
      buildEvalItems(pairs, instances, { source: 'all-pairs', includePending: true }),
    ).toHaveLength(8);
    expect(
      buildEvalItems(pairs, instances, { source: 'all-pairs', includePending: true, maxItems: 3 }),
    ).toHaveLength(3);
  });

  it('takes marked-eval pairs even from train instances, and skips pairs without an instance', () => {
    const marked = makePair({ instanceId: 'i1', query: 'marked', provenance: { split: 'eval' } });
    const orphan = makePair({ instanceId: 'gone', query: 'orphan' });
    const items = buildEvalItems([marked, orphan], instances, {
      source: 'test-split',
      testFraction: 0,
    });
    expect(items.map((i) => i.messages[0]?.content)).toEqual(['marked']);
  });
});

describe('dashboard', () => {
  it('builds a rules × case types matrix without rejected pairs', () => {
    const { rows, max } = coverageMatrix(
      [
        { ruleIds: ['a'], caseType: 'violation', status: 'accepted' },
        { ruleIds: ['a', 'b'], caseType: 'benign', status: 'pending' },
        { ruleIds: ['a'], caseType: 'violation', status: 'pending' },
        { ruleIds: ['b'], caseType: 'violation', status: 'rejected' },
      ],
      ['a', 'b', 'c'],
    );
    expect(
      rows.map((r) => [
        r.ruleId,
        r.counts.violation,
        r.counts.borderline,
        r.counts.benign,
        r.total,
      ]),
    ).toEqual([
      ['a', 2, 0, 1, 3],
      ['b', 0, 0, 1, 1],
      ['c', 0, 0, 0, 0],
    ]);
    expect(max).toBe(2);
  });

  it('computes acceptance, tokens per accepted pair and active time', () => {
    expect(acceptanceRate(['accepted', 'accepted', 'rejected', 'pending', 'flagged'])).toEqual({
      accepted: 2,
      rejected: 1,
      rate: 2 / 3,
    });
    expect(acceptanceRate(['pending']).rate).toBeUndefined();
    expect(
      tokensPerAcceptedPair(
        [
          { promptTokens: 300, completionTokens: 100 },
          { promptTokens: 100, completionTokens: 100 },
        ],
        3,
      ),
    ).toBe(200);
    expect(tokensPerAcceptedPair([], 0)).toBeUndefined();
    // A 1-hour pause between 2000 and 3_602_000 is idle, not work.
    expect(activeTimeMs([2000, 1000, 3_602_000, 3_603_000], 0)).toBe(3000);
  });
});
