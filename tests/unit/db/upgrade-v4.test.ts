/**
 * The real v3 → v4 upgrade (issue 11 §4, dataset versions): a new `exports` table for the record
 * of past exports. Every row of every v3 table survives unchanged, the new table starts empty,
 * and its index serves the project's history in order.
 */
import { closeTestDbs, openTestDb, uniqueDbName } from '../../helpers/db';
import { afterEach, describe, expect, it } from 'vitest';
import type { SpecAlignDb } from '$lib/db/database';
import { SCHEMA_VERSIONS } from '$lib/db/schema';
import { listExportRecords } from '$lib/worker/export-service';
import { buildProjectRows, seedProject } from '../../helpers/project-rows';

afterEach(closeTestDbs);

const UP_TO_V3 = SCHEMA_VERSIONS.filter((v) => v.version <= 3);

async function dump(db: SpecAlignDb): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of db.tables) out[table.name] = await table.orderBy(':id').toArray();
  return out;
}

describe('schema v3 → v4 (export records)', () => {
  it('keeps every v3 row and adds an empty, indexed exports table', async () => {
    const name = uniqueDbName('v4');
    const v3 = await openTestDb(UP_TO_V3, name);
    const rows = await seedProject(v3, buildProjectRows('Support bot'));
    await v3.settings.put({ key: 'theme', value: 'dark' });
    expect(v3.tables.map((t) => t.name)).not.toContain('exports');
    const before = await dump(v3);
    v3.close();

    const db = await openTestDb(SCHEMA_VERSIONS, name);
    expect(db.verno).toBe(4);
    const after = await dump(db);
    expect(after.exports).toEqual([]);
    const { exports: _new, ...rest } = after;
    expect(rest).toEqual(before);

    // The history reads back through the stored shape, oldest first.
    const [record] = rows.exports;
    await db.exports.bulkAdd([
      { ...record!, id: 'later', createdAt: record!.createdAt + 1 },
      record!,
      // A row an incompatible version wrote: skipped, not a crash.
      { ...record!, id: 'foreign', v: 9 } as never,
    ]);
    const history = await listExportRecords(db, rows.project.id);
    expect(history.map((r) => r.id)).toEqual([record!.id, 'later']);
    expect(history[0]).toEqual(record);
  });
});
