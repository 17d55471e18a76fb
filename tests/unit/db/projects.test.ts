import { closeTestDbs, openTestDb } from '../../helpers/db';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { EngineConfig } from '$lib/core/engine-config';
import {
  cleanProjectName,
  createProject,
  deleteProject,
  listProjects,
  renameProject,
  setProjectModels,
} from '$lib/db/projects';
import { PROJECT_TABLES } from '$lib/db/schema';
import { buildProjectRows, readProjectRows, seedProject } from '../../helpers/project-rows';

afterEach(async () => {
  vi.useRealTimers();
  await closeTestDbs();
});

describe('cleanProjectName', () => {
  it('trims and collapses whitespace', () => {
    expect(cleanProjectName('  Support \t bot\n policy  ')).toBe('Support bot policy');
  });

  it('rejects an empty or blank name', () => {
    expect(() => cleanProjectName('')).toThrow('A project needs a name.');
    expect(() => cleanProjectName(' \n\t ')).toThrow('A project needs a name.');
  });

  it('allows 120 characters and rejects 121, counted after cleaning', () => {
    expect(cleanProjectName('x'.repeat(120))).toHaveLength(120);
    expect(cleanProjectName(`  ${'x'.repeat(120)}  `)).toHaveLength(120);
    expect(() => cleanProjectName('x'.repeat(121))).toThrow(
      'A project name can be at most 120 characters.',
    );
  });
});

describe('createProject', () => {
  it('stores a project with a fresh id, the cleaned name and timestamps', async () => {
    const db = await openTestDb();
    const project = await createProject(db, '  My   spec ', 1_700_000_000_000);
    expect(project).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: 'My spec',
      createdAt: 1_700_000_000_000,
      updatedAt: 1_700_000_000_000,
    });
    await expect(db.projects.get(project.id)).resolves.toEqual(project);
  });

  it('gives two projects with the same name different ids', async () => {
    const db = await openTestDb();
    const a = await createProject(db, 'Same');
    const b = await createProject(db, 'Same');
    expect(a.id).not.toBe(b.id);
    expect(await db.projects.count()).toBe(2);
  });

  it('stores nothing when the name is unusable', async () => {
    const db = await openTestDb();
    await expect(createProject(db, '   ')).rejects.toThrow('A project needs a name.');
    await expect(createProject(db, 'y'.repeat(121))).rejects.toThrow(/at most 120/);
    expect(await db.projects.count()).toBe(0);
  });
});

describe('renameProject', () => {
  it('renames with a cleaned name and bumps updatedAt', async () => {
    const db = await openTestDb();
    const project = await createProject(db, 'Old', 1_000);
    await renameProject(db, project.id, '  New   name ');
    const stored = await db.projects.get(project.id);
    expect(stored?.name).toBe('New name');
    expect(stored?.createdAt).toBe(1_000);
    expect(stored?.updatedAt).toBeGreaterThan(1_000);
  });

  it('accepts renaming to the same name', async () => {
    const db = await openTestDb();
    const project = await createProject(db, 'Same');
    await expect(renameProject(db, project.id, 'Same')).resolves.toBeUndefined();
  });

  it('says so when the project no longer exists, and creates nothing', async () => {
    const db = await openTestDb();
    await expect(renameProject(db, 'missing-id', 'Name')).rejects.toThrow(
      'That project no longer exists.',
    );
    expect(await db.projects.count()).toBe(0);
  });

  it('rejects an unusable name and keeps the old one', async () => {
    const db = await openTestDb();
    const project = await createProject(db, 'Keep me');
    await expect(renameProject(db, project.id, '')).rejects.toThrow('A project needs a name.');
    expect((await db.projects.get(project.id))?.name).toBe('Keep me');
  });
});

describe('setProjectModels', () => {
  const local: EngineConfig = { kind: 'webllm', model: 'Qwen2.5-0.5B-Instruct-q4f16_1-MLC' };
  const judge: EngineConfig = {
    kind: 'openai',
    baseUrl: 'http://localhost:11434/v1',
    model: 'llama3.2',
  };

  it('stores the default model and role overrides, bumping updatedAt', async () => {
    const db = await openTestDb();
    const project = await createProject(db, 'Models', 1_000);
    await setProjectModels(db, project.id, {
      defaultModel: local,
      roleModels: { safetyJudge: judge },
    });
    const stored = await db.projects.get(project.id);
    expect(stored?.defaultModel).toEqual(local);
    expect(stored?.roleModels).toEqual({ safetyJudge: judge });
    expect(stored?.name).toBe('Models');
    expect(stored?.updatedAt).toBeGreaterThan(1_000);
  });

  it('changes only the fields given', async () => {
    const db = await openTestDb();
    const project = await createProject(db, 'Models');
    await setProjectModels(db, project.id, {
      defaultModel: local,
      roleModels: { safetyJudge: judge },
    });
    await setProjectModels(db, project.id, { roleModels: {} });
    const stored = await db.projects.get(project.id);
    expect(stored?.defaultModel).toEqual(local);
    expect(stored?.roleModels).toEqual({});
  });
});

describe('listProjects', () => {
  it('lists the most recently updated project first', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const db = await openTestDb();
    vi.setSystemTime(1_000);
    const a = await createProject(db, 'A');
    vi.setSystemTime(2_000);
    const b = await createProject(db, 'B');
    vi.setSystemTime(3_000);
    const c = await createProject(db, 'C');
    expect((await listProjects(db)).map((p) => p.name)).toEqual(['C', 'B', 'A']);
    vi.setSystemTime(4_000);
    await renameProject(db, a.id, 'A renamed');
    vi.setSystemTime(5_000);
    await setProjectModels(db, b.id, { defaultModel: { kind: 'webllm', model: 'm' } });
    expect((await listProjects(db)).map((p) => p.id)).toEqual([b.id, a.id, c.id]);
  });

  it('is empty for a new database', async () => {
    const db = await openTestDb();
    await expect(listProjects(db)).resolves.toEqual([]);
  });
});

describe('deleteProject', () => {
  it('deletes the project and every row of it in every project table', async () => {
    const db = await openTestDb();
    const doomed = await seedProject(db, buildProjectRows('Doomed'));
    const before = await readProjectRows(db, doomed.project.id);
    for (const table of PROJECT_TABLES) expect(before[table].length, table).toBeGreaterThan(0);

    await deleteProject(db, doomed.project.id);

    expect(await db.projects.get(doomed.project.id)).toBeUndefined();
    const after = await readProjectRows(db, doomed.project.id);
    for (const table of PROJECT_TABLES) expect(after[table], table).toEqual([]);
    for (const table of PROJECT_TABLES) expect(await db.table(table).count(), table).toBe(0);
  });

  it('leaves other projects and settings untouched', async () => {
    const db = await openTestDb();
    const doomed = await seedProject(db, buildProjectRows('Doomed'));
    const kept = await seedProject(db, buildProjectRows('Kept'));
    await db.settings.put({ key: 'theme', value: 'dark' });
    const keptBefore = await readProjectRows(db, kept.project.id);

    await deleteProject(db, doomed.project.id);

    await expect(db.projects.toArray()).resolves.toEqual([kept.project]);
    await expect(readProjectRows(db, kept.project.id)).resolves.toEqual(keptBefore);
    await expect(db.settings.get('theme')).resolves.toEqual({ key: 'theme', value: 'dark' });
  });

  it('does nothing for an unknown id', async () => {
    const db = await openTestDb();
    const kept = await seedProject(db);
    await expect(deleteProject(db, 'missing-id')).resolves.toBeUndefined();
    expect(await db.projects.count()).toBe(1);
    expect((await readProjectRows(db, kept.project.id)).rules).toHaveLength(2);
  });
});
