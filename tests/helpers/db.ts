/**
 * IndexedDB in Node for db tests. Import this module FIRST in a test file (before anything that
 * imports Dexie): it installs fake-indexeddb's globals, which Dexie picks up.
 */
import 'fake-indexeddb/auto';
import Dexie from 'dexie';
import { openDatabase, type SpecAlignDb } from '$lib/db/database';
import { SCHEMA_VERSIONS, type SchemaVersion } from '$lib/db/schema';

/** A database name no other test uses, so tests never see each other's rows. */
export function uniqueDbName(label = 'test'): string {
  return `specalign-${label}-${crypto.randomUUID()}`;
}

/**
 * Opens a fresh, uniquely named database with `versions` (default: the app's) and registers it
 * for {@link closeTestDbs}.
 */
export async function openTestDb(
  versions: readonly SchemaVersion[] = SCHEMA_VERSIONS,
  name = uniqueDbName(),
): Promise<SpecAlignDb> {
  const db = openDatabase(name, versions);
  await db.open();
  opened.push(db);
  return db;
}

const opened: SpecAlignDb[] = [];

/** Closes and deletes every database opened by {@link openTestDb}; call from `afterEach`. */
export async function closeTestDbs(): Promise<void> {
  const dbs = opened.splice(0);
  for (const db of dbs) db.close();
  for (const name of new Set(dbs.map((db) => db.name))) await Dexie.delete(name);
}
