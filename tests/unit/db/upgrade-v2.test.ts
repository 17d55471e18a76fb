/**
 * The real v1 → v2 upgrade: v2 only adds two pair indexes (`[projectId+caseType]` and the
 * multiEntry `*ruleIds`) for the dashboard's key-only coverage. Every row must survive unchanged
 * and the new indexes must answer for rows written before they existed.
 */
import { closeTestDbs, openTestDb, uniqueDbName } from '../../helpers/db';
import { afterEach, describe, expect, it } from 'vitest';
import type { SpecAlignDb } from '$lib/db/database';
import { SCHEMA_VERSIONS } from '$lib/db/schema';
import { buildProjectRows, seedProject } from '../../helpers/project-rows';

afterEach(closeTestDbs);

const V1_ONLY = SCHEMA_VERSIONS.filter((v) => v.version === 1);
const UP_TO_V2 = SCHEMA_VERSIONS.filter((v) => v.version <= 2);

async function dump(db: SpecAlignDb): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of db.tables) out[table.name] = await table.orderBy(':id').toArray();
  return out;
}

describe('schema v1 → v2 (pair indexes for coverage)', () => {
  it('keeps every row and serves the new indexes over pairs written at v1', async () => {
    const name = uniqueDbName('v2');
    const v1 = await openTestDb(V1_ONLY, name);
    const rows = await seedProject(v1, buildProjectRows('Support bot'));
    const before = await dump(v1);
    v1.close();

    const db = await openTestDb(UP_TO_V2, name);
    expect(db.verno).toBe(2);
    expect(await dump(db)).toEqual(before);

    const pair = rows.pairs[0]!;
    const byCase = await db.pairs
      .where('[projectId+caseType]')
      .equals([rows.project.id, pair.caseType])
      .primaryKeys();
    expect(byCase).toContain(pair.id);
    expect(byCase.length).toBe(rows.pairs.filter((p) => p.caseType === pair.caseType).length);
    for (const ruleId of pair.ruleIds) {
      const targeting = await db.pairs.where('ruleIds').equals(ruleId).primaryKeys();
      expect(targeting).toContain(pair.id);
      expect(targeting.length).toBe(rows.pairs.filter((p) => p.ruleIds.includes(ruleId)).length);
    }
  });
});
