import { describe, expect, it } from 'vitest';
import {
  compareOnVersion,
  rescoreOnVersion,
  type VersionRule,
} from '$lib/core/evaluation/across-versions';
import type { EvalItemResult, RuleMeta } from '$lib/core/evaluation/rcs';

const meta = (statement: string): RuleMeta => ({ statement, family: 'f', stage: 'content' });
/** v1: a (kept), b (reworded in v2), c (retired in v2). v2 adds d. */
const V1_RULES = { a: meta('Keep A.'), b: meta('Do B.'), c: meta('Never C.') };
const v2 = (over: Partial<VersionRule> & Pick<VersionRule, 'id' | 'lineageId' | 'statement'>) =>
  ({ family: 'f', stage: 'content', status: 'accepted', ...over }) as VersionRule;
const V2: VersionRule[] = [
  v2({ id: 'a2', lineageId: 'a', statement: 'Keep A.' }),
  v2({ id: 'b2', lineageId: 'b', statement: 'Do B, and say why.' }),
  v2({ id: 'd2', lineageId: 'd2', statement: 'New D.' }),
  v2({ id: 'x2', lineageId: 'x', statement: 'Rejected X.', status: 'rejected' }),
];
const lineages = new Map([
  ['a', 'a'],
  ['b', 'b'],
  ['c', 'c'],
]);

const item = (key: string, checks: [string, 'complied' | 'violated' | 'not-applicable'][]) =>
  ({
    key,
    instanceId: 'i',
    caseType: 'violation',
    overRefusal: false,
    checks: checks.map(([ruleId, verdict]) => ({ ruleId, verdict })),
  }) as EvalItemResult;

const RUN_V1 = [
  item('q1', [
    ['a', 'complied'],
    ['b', 'violated'],
  ]),
  item('q2', [
    ['a', 'violated'],
    ['c', 'complied'],
  ]),
  item('q3', [
    ['a', 'complied'],
    ['b', 'not-applicable'],
  ]),
];

describe('rescoreOnVersion', () => {
  const rescored = rescoreOnVersion({
    items: RUN_V1,
    rules: V1_RULES,
    lineageOf: lineages,
    target: V2,
  });

  it('carries kept checks, marks changed ones, drops retired ones and lists new rules', () => {
    expect(rescored.change).toEqual({ a2: 'kept', b2: 'changed', d2: 'new' });
    expect(rescored.summary.byRule).toEqual({
      a2: { passed: 2, total: 3, score: 2 / 3 },
      b2: { passed: 0, total: 1, score: 0 },
    });
    expect(rescored.summary.overall).toEqual({ passed: 2, total: 4, score: 0.5 });
    expect(rescored.retiredLineages).toEqual(['c']);
    expect(rescored.checks).toEqual({ kept: 3, changed: 1, new: 0 });
    expect(Object.keys(rescored.rules).sort()).toEqual(['a2', 'b2', 'd2']);
  });

  it('marks stale the items citing a changed or retired lineage, only those', () => {
    // q3 cites b (changed) though b was not applicable there: its check still judged old wording.
    expect(rescored.staleItems).toEqual(['q1', 'q2', 'q3']);
    const clean = rescoreOnVersion({
      items: [item('q4', [['a', 'complied']])],
      rules: V1_RULES,
      lineageOf: lineages,
      target: V2,
    });
    expect(clean.staleItems).toEqual([]);
  });

  it('on its own version every rule is kept and the score is the run’s own', () => {
    const own = rescoreOnVersion({
      items: RUN_V1,
      rules: V1_RULES,
      lineageOf: lineages,
      target: Object.entries(V1_RULES).map(([id, m]) =>
        v2({ id, lineageId: id, statement: m.statement }),
      ),
    });
    expect(own.change).toEqual({ a: 'kept', b: 'kept', c: 'kept' });
    expect(own.staleItems).toEqual([]);
    expect(own.summary.overall).toEqual({ passed: 3, total: 5, score: 0.6 });
  });
});

describe('compareOnVersion', () => {
  it('puts both runs on the same rules, per rule and per group (kept, changed, new)', () => {
    const a = rescoreOnVersion({ items: RUN_V1, rules: V1_RULES, lineageOf: lineages, target: V2 });
    const b = rescoreOnVersion({
      items: [
        item('r1', [
          ['a2', 'complied'],
          ['b2', 'complied'],
          ['d2', 'violated'],
        ]),
        item('r2', [
          ['a2', 'complied'],
          ['d2', 'complied'],
        ]),
      ],
      rules: { a2: meta('Keep A.'), b2: meta('Do B, and say why.'), d2: meta('New D.') },
      lineageOf: new Map([
        ['a2', 'a'],
        ['b2', 'b'],
        ['d2', 'd2'],
      ]),
      target: V2,
    });
    expect(b.staleItems).toEqual([]);
    const cmp = compareOnVersion(a, b);
    expect(cmp.rows.map((r) => [r.ruleId, r.change, r.a?.score, r.b?.score])).toEqual([
      ['a2', 'kept', 2 / 3, 1],
      ['b2', 'changed', 0, 1],
      ['d2', 'new', undefined, 0.5],
    ]);
    expect(cmp.groups.kept).toEqual({
      rules: 1,
      a: { passed: 2, total: 3, score: 2 / 3 },
      b: { passed: 2, total: 2, score: 1 },
    });
    expect(cmp.groups.new.a).toEqual({ passed: 0, total: 0 });
    expect(cmp.groups.new.b.score).toBe(0.5);
  });
});
