import type { EngineConfig } from '$lib/core/engine-config';
import type { Project } from '$lib/core/records';
import type { SpecAlignDb } from './database';
import { guardStorage } from './errors';
import { PROJECT_TABLES } from './schema';

const MAX_NAME = 120;

/** Trims and checks a project name; throws a user-facing error when unusable. */
export function cleanProjectName(name: string): string {
  const clean = name.replace(/\s+/g, ' ').trim();
  if (!clean) throw new Error('A project needs a name.');
  if (clean.length > MAX_NAME)
    throw new Error(`A project name can be at most ${MAX_NAME} characters.`);
  return clean;
}

export async function createProject(
  db: SpecAlignDb,
  name: string,
  now = Date.now(),
): Promise<Project> {
  const project: Project = {
    id: crypto.randomUUID(),
    name: cleanProjectName(name),
    createdAt: now,
    updatedAt: now,
  };
  await guardStorage(() => db.projects.add(project));
  return project;
}

export async function renameProject(db: SpecAlignDb, id: string, name: string): Promise<void> {
  const clean = cleanProjectName(name);
  const changed = await guardStorage(() =>
    db.projects.update(id, { name: clean, updatedAt: Date.now() }),
  );
  if (!changed) throw new Error('That project no longer exists.');
}

export async function setProjectModels(
  db: SpecAlignDb,
  id: string,
  models: { defaultModel?: EngineConfig; roleModels?: Project['roleModels'] },
): Promise<void> {
  await guardStorage(() => db.projects.update(id, { ...models, updatedAt: Date.now() }));
}

/** Deletes a project and every row that belongs to it, atomically. */
export async function deleteProject(db: SpecAlignDb, id: string): Promise<void> {
  const tables = [db.projects, ...PROJECT_TABLES.map((t) => db[t])];
  await db.transaction('rw', tables, async () => {
    for (const t of PROJECT_TABLES) await db[t].where('projectId').equals(id).delete();
    await db.projects.delete(id);
  });
}

export { listProjects } from './queries';
