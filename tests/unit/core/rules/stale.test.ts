import { describe, expect, it } from 'vitest';
import { staleMarkFor, updateLineages } from '$lib/core/rules/stale';
import type { SpecUpdatePlan, UpdateEntry } from '$lib/core/rules/update-plan';
import type { Rule } from '$lib/core/records';

const rule = (id: string, lineageId?: string) =>
  ({ id, ...(lineageId ? { lineageId } : {}) }) as Rule;
const entry = (kind: UpdateEntry['kind'], old?: Rule): UpdateEntry => ({
  kind,
  reason: 'no-match',
  ...(old ? { old } : {}),
});

describe('stale marking', () => {
  const plan = {
    entries: [
      entry('kept', rule('k', 'L-kept')),
      entry('changed', rule('c', 'L-changed')),
      entry('retired', rule('r', 'L-retired')),
      entry('retired', rule('legacy')), // a rule from before lineages: its own lineage
      entry('new'),
    ],
  } as SpecUpdatePlan;
  const lineages = updateLineages(plan);

  it('collects the changed and retired lineages of a plan', () => {
    expect(lineages).toEqual({ changed: ['L-changed'], retired: ['L-retired', 'legacy'] });
  });

  it('marks rows citing a changed or retired lineage, retired first', () => {
    expect(staleMarkFor(['L-kept'], lineages, 'v2')).toBeUndefined();
    expect(staleMarkFor(undefined, lineages, 'v2')).toBeUndefined();
    expect(staleMarkFor(['L-kept', 'L-changed'], lineages, 'v2')).toEqual({
      reason: 'changed',
      specVersionId: 'v2',
      lineageIds: ['L-changed'],
    });
    expect(staleMarkFor(['L-changed', 'legacy'], lineages, 'v2')).toEqual({
      reason: 'retired',
      specVersionId: 'v2',
      lineageIds: ['legacy', 'L-changed'],
    });
  });
});
