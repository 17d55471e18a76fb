/**
 * The world the synthesis run tests plan in: the example spec, 20 Harbor rules and two 4-rule
 * instances with fixed ids, so two worlds plan the same task keys and seeds.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { materializeInstance, sampleInstances } from '$lib/core/instances';
import type { Rule, SpecInstance } from '$lib/core/records';
import type { SpecAlignDb } from '$lib/db/database';
import { createProject } from '$lib/db/projects';
import { importSpecVersion } from '$lib/worker/spec-store';
import { openTestDb } from '../../../helpers/db';
import { HARBOR_RULES } from '../../core/instances/fixtures';

export interface SynthesisWorld {
  db: SpecAlignDb;
  projectId: string;
  specVersionId: string;
  rules: Rule[];
  instances: SpecInstance[];
}

const exampleSpec = path.resolve(process.cwd(), 'public/example-spec.md');

/** A new test database holding the world; `prepare` runs on the new project first. */
export async function synthesisWorld(
  name: string,
  prepare?: (db: SpecAlignDb, projectId: string) => Promise<unknown>,
): Promise<SynthesisWorld> {
  const db = await openTestDb();
  const project = await createProject(db, name);
  await prepare?.(db, project.id);
  const { specVersionId } = await importSpecVersion(db, project.id, {
    name: 'example-spec.md',
    text: await readFile(exampleSpec, 'utf8'),
  });
  const rules = HARBOR_RULES.slice(0, 20).map((r) => ({
    ...r,
    projectId: project.id,
    specVersionId,
  }));
  await db.rules.bulkAdd(rules);
  const sample = sampleInstances(rules, { count: 2, seed: 11, minSize: 4, maxSize: 4 });
  const byId = new Map(rules.map((r) => [r.id, r]));
  const instances = sample.instances.map(
    (draft) =>
      materializeInstance(draft, byId, {
        id: `inst-${draft.index}`,
        projectId: project.id,
        specVersionId,
        createdAt: 0,
      }).instance,
  );
  await db.instances.bulkAdd(instances);
  return { db, projectId: project.id, specVersionId, rules, instances };
}
