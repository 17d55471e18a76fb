import Dexie, { type EntityTable } from 'dexie';
import type {
  Evaluation,
  PreferencePair,
  Project,
  Rule,
  Run,
  Section,
  Setting,
  SpecExample,
  SpecInstance,
  SpecVersion,
  Task,
} from '$lib/core/records';
import type { ExportRecord } from '$lib/core/stored/export-record';
import { DB_NAME, SCHEMA_VERSIONS, type SchemaVersion } from './schema';

export type SpecAlignDb = Dexie & {
  projects: EntityTable<Project, 'id'>;
  specVersions: EntityTable<SpecVersion, 'id'>;
  sections: EntityTable<Section, 'id'>;
  specExamples: EntityTable<SpecExample, 'id'>;
  rules: EntityTable<Rule, 'id'>;
  instances: EntityTable<SpecInstance, 'id'>;
  runs: EntityTable<Run, 'id'>;
  tasks: EntityTable<Task, 'id'>;
  pairs: EntityTable<PreferencePair, 'id'>;
  evaluations: EntityTable<Evaluation, 'id'>;
  settings: EntityTable<Setting, 'key'>;
  exports: EntityTable<ExportRecord, 'id'>;
};

/**
 * Opens the database with every schema version applied in order. `versions` is injectable so
 * tests can open a database at an older version and then upgrade it.
 */
export function openDatabase(
  name = DB_NAME,
  versions: readonly SchemaVersion[] = SCHEMA_VERSIONS,
): SpecAlignDb {
  const db = new Dexie(name) as SpecAlignDb;
  for (const v of versions) {
    const declared = db.version(v.version).stores(v.stores);
    if (v.upgrade) declared.upgrade(v.upgrade);
  }
  return db;
}

let shared: SpecAlignDb | undefined;

/** The app's one database connection per JS context (page or worker). */
export function getDb(): SpecAlignDb {
  shared ??= openDatabase();
  return shared;
}

/** The newest schema version this build of the app knows. */
export const LATEST_SCHEMA_VERSION = SCHEMA_VERSIONS[SCHEMA_VERSIONS.length - 1]?.version ?? 1;

/**
 * Dexie silently opens a database that a newer app version upgraded. Writing to it from older
 * code could corrupt data the newer schema expects, so the app checks and stops instead.
 * Dexie stores IndexedDB's native version as ours × 10.
 */
export async function isNewerThanApp(db: SpecAlignDb): Promise<boolean> {
  await db.open();
  return db.backendDB().version / 10 > LATEST_SCHEMA_VERSION;
}
