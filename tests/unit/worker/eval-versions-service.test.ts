/**
 * Evaluate across versions in the database (issue 11 §5): two stored RCS runs, one judged on v1
 * and one on v2, compared on v2's rules by lineage, with v1's stale items counted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Rule, Run } from '$lib/core/records';
import type { SpecAlignDb } from '$lib/db/database';
import { createProject } from '$lib/db/projects';
import { compareEvaluationsOnVersion, EvalVersionsError } from '$lib/worker/eval-versions-service';
import { closeTestDbs, openTestDb } from '../../helpers/db';
import { makeRule } from '../core/evaluation/fixtures';

afterEach(closeTestDbs);

type Verdict = 'complied' | 'violated';

async function storeRun(
  db: SpecAlignDb,
  projectId: string,
  id: string,
  rules: Rule[],
  items: [string, Verdict][][],
) {
  await db.runs.put({
    id,
    projectId,
    kind: 'evaluate',
    status: 'done',
    config: {},
    createdAt: 1,
    updatedAt: 1,
    progress: { done: items.length, failed: 0, total: items.length },
    usage: { promptTokens: 0, completionTokens: 0 },
  } as unknown as Run);
  await db.evaluations.put({
    id: `${id}:eval`,
    projectId,
    runId: id,
    target: { kind: 'openai', baseUrl: 'http://x/v1', model: 'm' },
    createdAt: 1,
    results: {
      v: 2,
      mode: 'rcs',
      label: id,
      rules: Object.fromEntries(
        rules.map((r) => [r.id, { statement: r.statement, family: r.family, stage: r.stage }]),
      ),
      items: Object.fromEntries(
        items.map((checks, i) => [
          `q${i}`,
          {
            key: `q${i}`,
            instanceId: 'i',
            caseType: 'violation',
            overRefusal: false,
            judge: 'm',
            checks: checks.map(([ruleId, verdict]) => ({ ruleId, verdict })),
          },
        ]),
      ),
      summary: {},
    },
  } as never);
}

describe('compareEvaluationsOnVersion', () => {
  it('re-scores a v1 run and a v2 run on v2 rules, grouped kept / changed / new', async () => {
    const db = await openTestDb();
    const { id: pid } = await createProject(db, 'Eval');
    const v1 = ['a', 'b', 'c'].map((id) =>
      makeRule(id, { projectId: pid, specVersionId: 'v1', lineageId: id }),
    );
    const v2 = [
      makeRule('a2', {
        projectId: pid,
        specVersionId: 'v2',
        lineageId: 'a',
        statement: v1[0]!.statement,
      }),
      makeRule('b2', {
        projectId: pid,
        specVersionId: 'v2',
        lineageId: 'b',
        statement: 'Reworded B.',
      }),
      makeRule('d2', { projectId: pid, specVersionId: 'v2', lineageId: 'd2' }),
    ];
    await db.rules.bulkPut([...v1, ...v2]);
    await db.specVersions.put({
      id: 'v2',
      projectId: pid,
      versionNumber: 2,
      title: 't',
      sourceName: 's',
      sourceType: 'paste',
      format: 'markdown',
      text: '',
      contentHash: 'h',
      createdAt: 0,
    } as never);
    await storeRun(db, pid, 'old', v1, [
      [
        ['a', 'complied'],
        ['b', 'violated'],
      ],
      [['c', 'violated']],
      [['a', 'complied']],
    ]);
    await storeRun(db, pid, 'new', v2, [
      [
        ['a2', 'complied'],
        ['b2', 'complied'],
        ['d2', 'violated'],
      ],
    ]);
    const result = await compareEvaluationsOnVersion(db, pid, 'old', 'new', 'v2');
    expect(result.versionNumber).toBe(2);
    expect(result.a).toMatchObject({ staleItems: 2, items: 3, retiredLineages: 1 });
    expect(result.a.overall).toEqual({ passed: 2, total: 3, score: 2 / 3 });
    expect(result.b).toMatchObject({ staleItems: 0, items: 1, retiredLineages: 0 });
    expect(result.comparison.rows.map((r) => [r.ruleId, r.change, r.a?.score, r.b?.score])).toEqual(
      [
        ['a2', 'kept', 1, 1],
        ['b2', 'changed', 0, 1],
        ['d2', 'new', undefined, 0],
      ],
    );
    await expect(compareEvaluationsOnVersion(db, pid, 'old', 'gone', 'v2')).rejects.toThrow(
      EvalVersionsError,
    );
  });
});
