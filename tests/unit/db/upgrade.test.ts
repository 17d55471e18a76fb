/**
 * The upgrade pattern, rehearsed before we need it: open real v1 data, apply a v2 that adds an
 * index and back-fills a field, and prove nothing is lost. Copy this file's shape for every
 * real new version in src/lib/db/schema.ts.
 */
import { closeTestDbs, openTestDb, uniqueDbName } from '../../helpers/db';
import { afterEach, describe, expect, it } from 'vitest';
import type { Rule } from '$lib/core/records';
import { isNewerThanApp, openDatabase, type SpecAlignDb } from '$lib/db/database';
import { PROJECT_TABLES, SCHEMA_VERSIONS, type SchemaVersion } from '$lib/db/schema';
import { buildProjectRows, seedProject } from '../../helpers/project-rows';

afterEach(closeTestDbs);

/** The rules table as the latest version declares it (the rehearsal only adds to it). */
const LATEST_RULES = SCHEMA_VERSIONS.findLast((v) => v.stores.rules)!.stores.rules!;
/** The rehearsal's version: one past the app's latest, so it stays a rehearsal as versions land. */
const NEXT = SCHEMA_VERSIONS.at(-1)!.version + 1;

/** A plausible v2: rules gain a `family` index; rows from before families get 'general'. */
const upgradeCalls: number[] = [];
const V2: SchemaVersion = {
  version: NEXT,
  stores: { rules: `${LATEST_RULES}, family` },
  upgrade: async (tx) => {
    upgradeCalls.push(NEXT);
    await tx
      .table('rules')
      .toCollection()
      .modify((r: Partial<Rule>) => {
        r.family ||= 'general';
      });
  },
};
const WITH_V2 = [...SCHEMA_VERSIONS, V2];

/** Every row of every table, keyed by table, sorted by primary key. */
async function dump(db: SpecAlignDb): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of db.tables) out[table.name] = await table.orderBy(':id').toArray();
  return out;
}

/** Writes v1 data as an older app would have: two projects, one rule predating families. */
async function writeV1Data(name: string) {
  const db = await openTestDb(SCHEMA_VERSIONS, name);
  const a = await seedProject(db, buildProjectRows('Support bot'));
  const b = await seedProject(db, buildProjectRows('Tutor bot'));
  // A rule written before `family` was filled in (empty, and one missing outright).
  await db.rules.update(a.rules[0]!.id, { family: '' });
  await db.rules
    .where('id')
    .equals(b.rules[0]!.id)
    .modify((r: Partial<Rule>) => {
      delete r.family;
    });
  await db.settings.put({ key: 'theme', value: 'dark' });
  const before = await dump(db);
  db.close();
  return { before, a, b };
}

describe('upgrading v1 to a v2 that adds an index', () => {
  it('keeps every record of every table, changing only what the upgrade changes', async () => {
    const name = uniqueDbName('upgrade');
    const { before, a, b } = await writeV1Data(name);
    upgradeCalls.length = 0;
    const db = await openTestDb(WITH_V2, name);
    expect(db.verno).toBe(NEXT);
    expect(upgradeCalls).toEqual([NEXT]);
    const after = await dump(db);
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    for (const table of [...PROJECT_TABLES, 'projects', 'settings']) {
      if (table === 'rules') continue;
      expect(after[table], table).toEqual(before[table]);
    }
    // Rules: same rows, only the legacy family filled in.
    const expectedRules = (before.rules as Rule[]).map((r) =>
      r.id === a.rules[0]!.id || r.id === b.rules[0]!.id ? { ...r, family: 'general' } : r,
    );
    expect(after.rules).toEqual(expectedRules);
    expect(after.rules).toHaveLength(4);
  });

  it('serves queries on the new index, including the back-filled rows', async () => {
    const name = uniqueDbName('upgrade');
    const { a, b } = await writeV1Data(name);
    const db = await openTestDb(WITH_V2, name);
    expect(db.rules.schema.idxByName.family).toBeDefined();
    const general = await db.rules.where('family').equals('general').primaryKeys();
    expect(general.sort()).toEqual([a.rules[0]!.id, b.rules[0]!.id].sort());
    const honesty = await db.rules.where('family').equals('honesty').toArray();
    expect(honesty.map((r) => r.projectId).sort()).toEqual([a.project.id, b.project.id].sort());
    // The v1 indexes still work after the upgrade.
    expect(await db.rules.where('projectId').equals(a.project.id).count()).toBe(2);
    expect(
      await db.rules.where('[projectId+status]').equals([b.project.id, 'accepted']).count(),
    ).toBe(2);
  });

  it('runs the upgrade once: reopening at v2 does not run it again', async () => {
    const name = uniqueDbName('upgrade');
    await writeV1Data(name);
    upgradeCalls.length = 0;
    const first = await openTestDb(WITH_V2, name);
    first.close();
    await openTestDb(WITH_V2, name);
    expect(upgradeCalls).toEqual([NEXT]);
  });

  it('creates a fresh database directly at v2 without running upgrades', async () => {
    upgradeCalls.length = 0;
    const db = await openTestDb(WITH_V2);
    expect(db.verno).toBe(NEXT);
    expect(upgradeCalls).toEqual([]);
    expect(db.rules.schema.idxByName.family).toBeDefined();
  });
});

describe('an older app opening a database a newer app has upgraded', () => {
  /**
   * Happens when a user has the new app in one tab and a stale cached copy in another, or after
   * a rollback. Dexie 4 does NOT fail with VersionError here: on IndexedDB's VersionError it
   * retries without a version and opens the database at its installed (newer) version, with
   * the older app's code reading and writing rows it does not fully understand.
   *
   * What we can detect: `db.backendDB().version` (native, Dexie stores version × 10) is above the
   * app's latest declared version × 10. The app should then stop writing and tell the user:
   * "This project data was saved by a newer version of SpecAlign Studio. Reload the page to
   * use the newer version; this tab will not change your data."
   */
  it('opens without an error, so the app must check the installed version itself', async () => {
    const name = uniqueDbName('downgrade');
    const newer = await openTestDb(WITH_V2, name);
    const rows = await seedProject(newer, buildProjectRows());
    newer.close();

    const older = openDatabase(name, SCHEMA_VERSIONS);
    await expect(older.open()).resolves.toBe(older);
    try {
      const appLatest = SCHEMA_VERSIONS.at(-1)!.version;
      expect(older.verno).toBe(appLatest);
      expect(older.backendDB().version).toBe(NEXT * 10);
      // The detectable signal: installed version newer than anything this app declares.
      expect(older.backendDB().version / 10).toBeGreaterThan(appLatest);
      expect(await isNewerThanApp(older)).toBe(true);
      // And the older app can still read the data.
      expect(await older.projects.get(rows.project.id)).toEqual(rows.project);
    } finally {
      older.close();
    }
  });

  it("isNewerThanApp is false for a database at the app's own version", async () => {
    const db = await openTestDb();
    expect(await isNewerThanApp(db)).toBe(false);
  });

  it('rejects with VersionError only when asked for an explicit lower native version', async () => {
    // What IndexedDB itself does, for reference: the error Dexie swallows above.
    const name = uniqueDbName('downgrade');
    const newer = await openTestDb(WITH_V2, name);
    newer.close();
    const error = await new Promise<DOMException | null>((resolve) => {
      const request = indexedDB.open(name, 10);
      request.onsuccess = () => {
        request.result.close();
        resolve(null);
      };
      request.onerror = () => resolve(request.error);
    });
    expect(error?.name).toBe('VersionError');
  });
});
