import { closeTestDbs, openTestDb } from '../../helpers/db';
import { afterEach, describe, expect, it } from 'vitest';
import { getApiKey, getSetting, putApiKey, putSetting } from '$lib/db/settings';

afterEach(closeTestDbs);

describe('settings', () => {
  it('returns the fallback for a missing key', async () => {
    const db = await openTestDb();
    await expect(getSetting(db, 'theme', 'system')).resolves.toBe('system');
  });

  it('stores and overwrites structured values', async () => {
    const db = await openTestDb();
    await putSetting(db, 'theme', 'dark');
    await putSetting(db, 'recent', { projects: ['a', 'b'], at: 5 });
    await putSetting(db, 'theme', 'light');
    await expect(getSetting(db, 'theme', 'system')).resolves.toBe('light');
    await expect(getSetting(db, 'recent', null)).resolves.toEqual({ projects: ['a', 'b'], at: 5 });
    expect(await db.settings.count()).toBe(2);
  });

  it('keeps a stored falsy value instead of the fallback', async () => {
    const db = await openTestDb();
    await putSetting(db, 'telemetry', false);
    await putSetting(db, 'count', 0);
    await expect(getSetting(db, 'telemetry', true)).resolves.toBe(false);
    await expect(getSetting(db, 'count', 9)).resolves.toBe(0);
  });
});

describe('API keys', () => {
  it('keeps one key per endpoint base URL', async () => {
    const db = await openTestDb();
    await putApiKey(db, 'http://localhost:11434/v1', 'sk-local');
    await putApiKey(db, 'https://api.example.com/v1', 'sk-remote');
    await expect(getApiKey(db, 'http://localhost:11434/v1')).resolves.toBe('sk-local');
    await expect(getApiKey(db, 'https://api.example.com/v1')).resolves.toBe('sk-remote');
    await expect(getApiKey(db, 'http://other:8080/v1')).resolves.toBe('');
  });

  it('treats a base URL with and without trailing slashes as the same endpoint', async () => {
    const db = await openTestDb();
    await putApiKey(db, 'http://localhost:11434/v1/', 'sk-one');
    await expect(getApiKey(db, 'http://localhost:11434/v1')).resolves.toBe('sk-one');
    await putApiKey(db, 'http://localhost:11434/v1//', 'sk-two');
    await expect(getApiKey(db, 'http://localhost:11434/v1/')).resolves.toBe('sk-two');
    expect(await db.settings.count()).toBe(1);
  });

  it('stores keys under secret: keys, apart from ordinary settings', async () => {
    const db = await openTestDb();
    await putApiKey(db, 'http://localhost:11434/v1', 'sk-local');
    const keys = (await db.settings.toArray()).map((row) => row.key);
    expect(keys).toEqual(['secret:apiKey:http://localhost:11434/v1']);
  });

  it('deletes the stored key when given an empty key', async () => {
    const db = await openTestDb();
    await putApiKey(db, 'http://localhost:11434/v1', 'sk-local');
    await putApiKey(db, 'http://localhost:11434/v1/', '');
    await expect(getApiKey(db, 'http://localhost:11434/v1')).resolves.toBe('');
    expect(await db.settings.count()).toBe(0);
  });
});
