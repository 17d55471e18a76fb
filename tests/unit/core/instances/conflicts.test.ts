import { describe, expect, it } from 'vitest';
import {
  contentWords,
  isExceptionOf,
  resolveConflicts,
  specificity,
} from '$lib/core/instances/conflicts';
import type { Rule } from '$lib/core/records';
import { rule, rulesOf } from './fixtures';

const base = {
  stage: 'style' as const,
  domain: 'formatting',
  family: 'length',
  level: 'user' as const,
};

describe('resolveConflicts', () => {
  it('same family, opposite directions, same authority and stage: the prohibition wins', () => {
    const { conflicts } = resolveConflicts(rulesOf(['r21', 'r22']));
    expect(conflicts).toEqual([
      expect.objectContaining({
        winnerId: 'r22',
        loserId: 'r21',
        kind: 'opposite-direction',
        reason: 'direction',
      }),
    ]);
  });

  it('authority comes first: a higher-level positive rule beats a lower-level prohibition', () => {
    const high = rule({
      id: 'a',
      statement: 'Give the safety facts.',
      direction: 'positive',
      stage: 'content',
      domain: 'safety',
      family: 'facts',
      level: 'root',
    });
    const low = rule({
      id: 'b',
      statement: 'Do not add warnings.',
      direction: 'negative',
      stage: 'interpretation',
      domain: 'safety',
      family: 'facts',
      level: 'user',
    });
    const { conflicts, ordered } = resolveConflicts([low, high]);
    expect(conflicts).toEqual([
      expect.objectContaining({
        winnerId: 'a',
        loserId: 'b',
        reason: 'authority',
        note: 'higher authority (root over user)',
      }),
    ]);
    expect(ordered.map((r) => r.id)).toEqual(['a', 'b']);
  });

  it('then stage: the earlier stage wins at equal authority', () => {
    const { conflicts } = resolveConflicts(rulesOf(['r19', 'r18']));
    expect(conflicts).toEqual([
      expect.objectContaining({ winnerId: 'r18', loserId: 'r19', reason: 'stage' }),
    ]);
  });

  it('detects an exception from the general rule’s own exceptions, and the exception wins at equal rank', () => {
    const general = rule({
      ...base,
      id: 'g',
      statement: 'Keep answers under about 150 words.',
      direction: 'positive',
      exceptions: ['the customer asks for more detail'],
    });
    const exception = rule({
      ...base,
      id: 'e',
      family: 'detail',
      domain: 'depth',
      statement: 'Give full detail when the customer asks for more detail.',
      direction: 'positive',
    });
    expect(isExceptionOf(exception, general)).toBe(true);
    expect(isExceptionOf(general, exception)).toBe(false);
    const { conflicts } = resolveConflicts([general, exception]);
    expect(conflicts).toEqual([
      expect.objectContaining({
        winnerId: 'e',
        loserId: 'g',
        kind: 'exception',
        reason: 'exception',
      }),
    ]);
  });

  it('direction is ranked before exception (paper order)', () => {
    const general = rule({
      ...base,
      id: 'g',
      statement: 'Do not use bullet lists.',
      direction: 'negative',
      exceptions: ['the customer asks for a checklist'],
    });
    const exception = rule({
      ...base,
      id: 'e',
      statement: 'Use a checklist when the customer asks for a checklist.',
      direction: 'positive',
    });
    expect(resolveConflicts([exception, general]).conflicts).toEqual([
      expect.objectContaining({
        winnerId: 'g',
        loserId: 'e',
        kind: 'exception',
        reason: 'direction',
      }),
    ]);
  });

  it('then specificity, then a flagged tie broken by id', () => {
    // Two rules that are exceptions of each other: only specificity can separate them.
    const a = rule({
      ...base,
      id: 'a',
      statement: 'Answer tersely for expert customers.',
      direction: 'positive',
      appliesWhen: ['the customer is an expert'],
      exceptions: ['a beginner asks about basics'],
    });
    const b = rule({
      ...base,
      id: 'b',
      statement: 'Explain basics when a beginner asks.',
      direction: 'positive',
      exceptions: ['answer tersely for an expert'],
    });
    expect(isExceptionOf(a, b) && isExceptionOf(b, a)).toBe(true);
    expect(specificity(a)).toBeGreaterThan(specificity(b));
    expect(resolveConflicts([b, a]).conflicts).toEqual([
      expect.objectContaining({
        winnerId: 'a',
        loserId: 'b',
        kind: 'exception',
        reason: 'specificity',
      }),
    ]);
    const c: Rule = { ...a, id: 'c', appliesWhen: [] };
    const d: Rule = { ...b, id: 'd' };
    expect(specificity(c)).toBe(specificity(d));
    expect(resolveConflicts([d, c]).conflicts).toEqual([
      expect.objectContaining({ winnerId: 'c', loserId: 'd', reason: 'tie' }),
    ]);
  });

  it('ignores same-direction rules of one family and opposite rules of unrelated families', () => {
    expect(resolveConflicts(rulesOf(['r29', 'r30', 'r31'])).conflicts).toEqual([]);
    expect(resolveConflicts(rulesOf(['r12', 'r40'])).conflicts).toEqual([]);
  });

  it('orders rules by authority, stage, direction, exception, specificity, id', () => {
    const ids = resolveConflicts(
      rulesOf(['r39', 'r26', 'r38', 'r1', 'r18', 'r22', 'r21']),
    ).ordered.map((r) => r.id);
    expect(ids).toEqual(['r1', 'r22', 'r21', 'r18', 'r26', 'r39', 'r38']);
  });
});

describe('contentWords', () => {
  it('drops stopwords and short words and strips plural s', () => {
    expect(contentWords('The customer asks for more details')).toEqual(['customer', 'detail']);
  });
});
