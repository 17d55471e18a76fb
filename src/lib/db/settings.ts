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
