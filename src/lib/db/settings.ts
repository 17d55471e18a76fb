import { modelSpeedKey, storedModelSpeedSchema, type StoredModelSpeed } from '$lib/core/speed';
import { readRecord } from '$lib/core/stored';
import type { SpecAlignDb } from './database';
import { guardStorage } from './errors';

/**
 * Browser-wide settings. Secrets (endpoint API keys) live here under `secret:` keys: this table
 * is never exported with a project, so a key stays in this browser.
 */
export async function getSetting<T>(db: SpecAlignDb, key: string, fallback: T): Promise<T> {
  const row = await db.settings.get(key);
  return row === undefined ? fallback : (row.value as T);
}

export async function putSetting(db: SpecAlignDb, key: string, value: unknown): Promise<void> {
  await guardStorage(() => db.settings.put({ key, value }));
}

const secretKey = (baseUrl: string) => `secret:apiKey:${baseUrl.replace(/\/+$/, '')}`;

export function getApiKey(db: SpecAlignDb, baseUrl: string): Promise<string> {
  return getSetting(db, secretKey(baseUrl), '');
}

export async function putApiKey(db: SpecAlignDb, baseUrl: string, apiKey: string): Promise<void> {
  if (apiKey) await putSetting(db, secretKey(baseUrl), apiKey);
  else await db.settings.delete(secretKey(baseUrl));
}

/** This device's measured speed of a model (by engine key); undefined when untested or unreadable. */
export async function getModelSpeed(
  db: SpecAlignDb,
  engineKey: string,
): Promise<StoredModelSpeed | undefined> {
  const key = modelSpeedKey(engineKey);
  const read = readRecord(storedModelSpeedSchema, await getSetting<unknown>(db, key, undefined), {
    table: 'settings',
    id: key,
  });
  return read.ok ? read.value : undefined;
}

/** Keeps the latest "Test this model" speed of a model, replacing the previous one. */
export async function putModelSpeed(db: SpecAlignDb, speed: StoredModelSpeed): Promise<void> {
  await putSetting(db, modelSpeedKey(speed.engineKey), storedModelSpeedSchema.parse(speed));
}
