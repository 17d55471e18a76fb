import { closeTestDbs, openTestDb } from '../../helpers/db';
import { afterEach, describe, expect, it } from 'vitest';
import type { Rule, Run } from '$lib/core/records';
import { readProjectSummary, ruleCountsBySection, runsOfKind } from '$lib/db/queries';

afterEach(closeTestDbs);

const run = (id: string, kind: Run['kind'], createdAt: number): Run => ({
  id,
  projectId: 'p',
  kind,
  status: 'done',
  config: {},
  createdAt,
  updatedAt: createdAt,
  progress: { done: 0, failed: 0, total: 0 },
  usage: { promptTokens: 0, completionTokens: 0 },
});

describe('queries', () => {
  it('runsOfKind: the project’s runs of that kind, newest first', async () => {
    const db = await openTestDb();
    await db.runs.bulkAdd([
      run('a', 'evaluate', 1),
      run('b', 'annotate', 2),
      run('c', 'evaluate', 3),
    ]);
    expect((await runsOfKind(db, 'p', 'evaluate')).map((r) => r.id)).toEqual(['c', 'a']);
  });

  it('ruleCountsBySection: rules per section, rejected ones not counted', async () => {
    const db = await openTestDb();
    const rule = (id: string, sectionAnchor: string, status: Rule['status']) =>
      ({ id, projectId: 'p', specVersionId: 'v', sectionAnchor, status }) as unknown as Rule;
    await db.rules.bulkAdd([
      rule('1', 'a', 'accepted'),
      rule('2', 'a', 'proposed'),
      rule('3', 'b', 'rejected'),
    ]);
    expect(await ruleCountsBySection(db, 'v')).toEqual({ a: 2 });
  });

  it('readProjectSummary: counts of an empty project', async () => {
    const db = await openTestDb();
    expect(await readProjectSummary(db, 'nope')).toMatchObject({ pairs: 0, hasModel: false });
  });
});
