/**
 * The scripted agent society the synthesis benches share: a project with the example spec, the
 * Harbor rules and three sampled instances in a fresh fake-indexeddb database, and the engine
 * that plays every agent deterministically (tests/fixtures/synthesis-society.ts).
 */
import 'fake-indexeddb/auto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { SpecInstance } from '../src/lib/core/records';
import { openDatabase, type SpecAlignDb } from '../src/lib/db/database';
import { createProject } from '../src/lib/db/projects';
import { sampleAndStoreInstances } from '../src/lib/worker/instances-service';
import { importSpecVersion } from '../src/lib/worker/spec-store';
import { societyScript } from '../tests/fixtures/synthesis-society';
import { ScriptedEngine } from '../tests/helpers/scripted-engine';
import { HARBOR_RULES } from '../tests/unit/core/instances/fixtures';

export interface SocietyProject {
  db: SpecAlignDb;
  projectId: string;
  specVersionId: string;
  instances: SpecInstance[];
}

/** A fresh database named after `name` holding the society's project, ready to plan a run. */
export async function societyProject(name: string): Promise<SocietyProject> {
  const root = path.resolve(import.meta.dirname, '..');
  const db = openDatabase(`${name}-${Date.now()}`);
  const project = await createProject(db, 'bench');
  const text = await readFile(path.join(root, 'public/example-spec.md'), 'utf8');
  const { specVersionId } = await importSpecVersion(db, project.id, {
    name: 'example-spec.md',
    text,
  });
  await db.rules.bulkAdd(HARBOR_RULES.map((r) => ({ ...r, projectId: project.id, specVersionId })));
  await sampleAndStoreInstances(db, project.id, specVersionId, { count: 3, seed: 1 });
  return { db, projectId: project.id, specVersionId, instances: await db.instances.toArray() };
}

/** The engine that plays every agent of the society. */
export function societyEngine(): ScriptedEngine {
  return new ScriptedEngine(
    (request) =>
      societyScript({
        messages: request.messages,
        response_format: { type: 'json_schema' },
      } as never) ?? '{}',
  );
}
