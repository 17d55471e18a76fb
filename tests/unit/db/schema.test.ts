import { closeTestDbs, openTestDb } from '../../helpers/db';
import { afterEach, describe, expect, it } from 'vitest';
import { PROJECT_TABLES, SCHEMA_VERSIONS, TABLES } from '$lib/db/schema';

afterEach(closeTestDbs);

/**
 * The stores every user's browser has once the latest version is applied. Written out by hand
 * ON PURPOSE: if this test fails you changed the persisted schema. Do not just update this
 * literal. Instead, leave the published versions alone, append a new entry to SCHEMA_VERSIONS
 * (with an upgrade function if rows must change), add an upgrade test in tests/unit/db/ that
 * opens real v(N-1) data and upgrades it, and only then update this snapshot.
 */
const LATEST_STORES: Record<string, string> = {
  projects: 'id, updatedAt',
  specVersions: 'id, projectId, [projectId+versionNumber], contentHash',
  sections: 'id, specVersionId, projectId, [specVersionId+order]',
  specExamples: 'id, specVersionId, projectId, [specVersionId+sectionAnchor]',
  rules:
    'id, projectId, specVersionId, runId, [projectId+status], [specVersionId+sectionAnchor], [projectId+lineageId]',
  instances: 'id, projectId, specVersionId',
  runs: 'id, projectId, [projectId+kind], status',
  tasks: 'id, runId, projectId, [runId+status], [runId+order], [runId+key]',
  pairs:
    'id, projectId, runId, instanceId, [projectId+status], [projectId+createdAt], [projectId+caseType], *ruleIds, *lineageIds',
  evaluations: 'id, projectId, runId',
  settings: 'key',
  exports: 'id, projectId, [projectId+createdAt]',
};
const LATEST_VERSION = 4;

/** Applies every version's stores in order, as Dexie does (`null` deletes a table). */
function cumulativeStores(): Record<string, string> {
  const stores: Record<string, string> = {};
  for (const v of SCHEMA_VERSIONS) {
    for (const [table, spec] of Object.entries(v.stores)) {
      if (spec === null) delete stores[table];
      else stores[table] = spec;
    }
  }
  return stores;
}

const CHANGED_SCHEMA =
  'The IndexedDB schema changed. Never edit a published version: add a new SCHEMA_VERSIONS entry ' +
  '(with an upgrade function if rows must change) and an upgrade test in tests/unit/db/, then ' +
  'update LATEST_STORES in tests/unit/db/schema.test.ts.';

describe('IndexedDB schema', () => {
  it('has exactly the planned latest stores', () => {
    expect(cumulativeStores(), CHANGED_SCHEMA).toEqual(LATEST_STORES);
    expect(SCHEMA_VERSIONS.at(-1)?.version, CHANGED_SCHEMA).toBe(LATEST_VERSION);
  });

  it('has strictly increasing whole version numbers starting at 1', () => {
    const versions = SCHEMA_VERSIONS.map((v) => v.version);
    expect(versions[0]).toBe(1);
    for (const [i, v] of versions.entries()) {
      expect(Number.isInteger(v), `version ${v} must be a whole number`).toBe(true);
      if (i > 0)
        expect(v, `version ${v} must be greater than ${versions[i - 1]}`).toBeGreaterThan(
          versions[i - 1]!,
        );
    }
  });

  it('lists every table in TABLES, and every table of TABLES is in the schema', () => {
    expect(Object.keys(cumulativeStores()).sort()).toEqual(Object.values(TABLES).sort());
    for (const [key, name] of Object.entries(TABLES)) expect(name).toBe(key);
  });

  it('indexes projectId in every project table', () => {
    const stores = cumulativeStores();
    for (const table of PROJECT_TABLES) {
      const indexes = stores[table]?.split(',').map((s) => s.trim()) ?? [];
      expect(indexes, `${table} needs a projectId index for export and delete`).toContain(
        'projectId',
      );
    }
  });

  it('lists as project tables every table except projects and settings', () => {
    expect([...PROJECT_TABLES].sort()).toEqual(
      Object.values(TABLES)
        .filter((t) => t !== 'projects' && t !== 'settings')
        .sort(),
    );
  });

  it('opens in IndexedDB with the declared primary keys and indexes', async () => {
    const db = await openTestDb();
    expect(db.verno).toBe(LATEST_VERSION);
    expect(db.tables.map((t) => t.name).sort()).toEqual(Object.keys(LATEST_STORES).sort());
    for (const table of db.tables) {
      const [primary, ...indexes] = LATEST_STORES[table.name]!.split(',').map((s) => s.trim());
      expect(table.schema.primKey.name).toBe(primary);
      // Dexie names a multiEntry index without its `*`.
      const declared = indexes.map((i) => i.replace(/^\*/, '')).sort();
      expect(table.schema.indexes.map((i) => i.name).sort()).toEqual(declared);
    }
    for (const table of PROJECT_TABLES) {
      expect(db.table(table).schema.idxByName.projectId, `${table}.projectId`).toBeDefined();
    }
  });
});
