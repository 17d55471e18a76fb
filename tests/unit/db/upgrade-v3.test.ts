/**
 * The real v2 → v3 upgrade (issue 11 §1, rule lineage): every rule starts its own lineage (its
 * id), and instances, pairs, synthesis tasks and RCS evaluation tasks get the lineage ids of the
 * rules they cite. Every other field of every row survives unchanged, and the new indexes answer
 * for rows written before they existed.
 */
import { closeTestDbs, openTestDb, uniqueDbName } from '../../helpers/db';
import { afterEach, describe, expect, it } from 'vitest';
import type { PreferencePair, Rule, SpecInstance, Task } from '$lib/core/records';
import type { SpecAlignDb } from '$lib/db/database';
import { SCHEMA_VERSIONS } from '$lib/db/schema';
import { buildProjectRows, seedProject, withoutLineages } from '../../helpers/project-rows';

afterEach(closeTestDbs);

const UP_TO_V2 = SCHEMA_VERSIONS.filter((v) => v.version <= 2);
const UP_TO_V3 = SCHEMA_VERSIONS.filter((v) => v.version <= 3);

async function dump(db: SpecAlignDb): Promise<Record<string, Record<string, unknown>[]>> {
  const out: Record<string, Record<string, unknown>[]> = {};
  for (const table of db.tables) out[table.name] = await table.orderBy(':id').toArray();
  return out;
}

/** v2 data as the app wrote it: a project, plus tasks citing rules the way runs store them. */
async function writeV2Data(name: string) {
  const v2 = await openTestDb(UP_TO_V2, name);
  const rows = await seedProject(v2, withoutLineages(buildProjectRows('Support bot')));
  const [privacy, honesty] = rows.rules as [Rule, Rule];
  const runId = rows.runs[0]!.id;
  const base = { runId, projectId: rows.project.id, status: 'done', attempts: 1, updatedAt: 1 };
  await v2.tasks.bulkAdd([
    {
      ...base,
      id: `${runId}:synth`,
      key: 'synth',
      order: 10,
      state: { version: 1, task: { ruleId: honesty.id, instanceId: rows.instances[0]!.id } },
    } as Task,
    {
      ...base,
      id: `${runId}:rcs`,
      key: 'rcs',
      order: 11,
      state: { v: 1, item: { ruleIds: [privacy.id, 'deleted-rule'] } },
    } as Task,
  ]);
  // A pair citing a rule deleted since: still gets a lineage (the rule's own id).
  await v2.pairs.add({ ...rows.pairs[0]!, id: 'orphan-pair', ruleIds: ['deleted-rule'] });
  const before = await dump(v2);
  v2.close();
  return { rows, before, privacy, honesty, runId };
}

describe('schema v2 → v3 (rule lineage)', () => {
  it('gives every rule its own lineage and every citing row its rules’ lineages, changing nothing else', async () => {
    const name = uniqueDbName('v3');
    const { rows, before, privacy, honesty, runId } = await writeV2Data(name);
    const db = await openTestDb(UP_TO_V3, name);
    expect(db.verno).toBe(3);
    const after = await dump(db);

    const without = (row: Record<string, unknown>, field: string) => {
      const { [field]: _dropped, ...rest } = row;
      return rest;
    };
    // Rules: lineageId = id, nothing else changed.
    expect(after.rules!.map((r) => [r.id, r.lineageId])).toEqual(
      before.rules!.map((r) => [r.id, r.id]),
    );
    expect(after.rules!.map((r) => without(r, 'lineageId'))).toEqual(before.rules);
    // Instances and pairs: lineageIds parallel to ruleIds.
    for (const table of ['instances', 'pairs'] as const) {
      for (const row of after[table]! as unknown as (SpecInstance | PreferencePair)[])
        expect(row.lineageIds, `${table} ${row.id}`).toEqual(row.ruleIds);
      expect(after[table]!.map((r) => without(r, 'lineageIds'))).toEqual(before[table]);
    }
    const tasks = new Map((after.tasks as unknown as Task[]).map((t) => [t.id, t]));
    expect(tasks.get(`${runId}:synth`)?.lineageIds).toEqual([honesty.id]);
    expect(tasks.get(`${runId}:rcs`)?.lineageIds).toEqual([privacy.id, 'deleted-rule']);
    // Tasks that cite no rule (an evaluation task without state) are left alone.
    const plain = rows.tasks.find((t) => t.state === undefined)!;
    expect(tasks.get(plain.id)).toEqual(before.tasks!.find((t) => t.id === plain.id));
    expect(after.tasks!.map((r) => without(r, 'lineageIds'))).toEqual(before.tasks);
    // Untouched tables.
    for (const table of ['projects', 'specVersions', 'sections', 'runs', 'evaluations'])
      expect(after[table], table).toEqual(before[table]);

    // The new indexes serve rows written at v2.
    expect(
      await db.rules
        .where('[projectId+lineageId]')
        .equals([rows.project.id, privacy.id])
        .primaryKeys(),
    ).toEqual([privacy.id]);
    expect(await db.pairs.where('lineageIds').equals('deleted-rule').primaryKeys()).toEqual([
      'orphan-pair',
    ]);
    expect(await db.pairs.where('lineageIds').equals(privacy.id).primaryKeys()).toEqual([
      rows.pairs[0]!.id,
    ]);
  });

  it('is deterministic: the same v2 data upgrades to the same rows', async () => {
    const rows = withoutLineages(buildProjectRows('Twice'));
    const upgraded: unknown[][] = [];
    for (const label of ['a', 'b']) {
      const name = uniqueDbName(`v3-${label}`);
      const v2 = await openTestDb(UP_TO_V2, name);
      await seedProject(v2, rows);
      v2.close();
      const db = await openTestDb(UP_TO_V3, name);
      upgraded.push(await db.rules.orderBy(':id').toArray());
    }
    expect(upgraded[0]).toEqual(upgraded[1]);
  });
});
