/**
 * Eval set files on the Evaluate step: read and validate one against the project (for the
 * summary shown before a run), and store an RCS run on exactly its queries. The file is read
 * again when the run is created, so the run is checked against the project as it is then; a
 * malformed file throws InvalidFileError before anything is written.
 */
import type { EngineConfig } from '$lib/core/engine-config';
import {
  checkEvalSetSize,
  parseEvalSet,
  type EvalSetContext,
  type ImportedEvalSet,
} from '$lib/core/evaluation';
import type { ChatEngine } from '$lib/core/llm';
import type { Run } from '$lib/core/records';
import type { SpecAlignDb } from '$lib/db/database';
import { ruleMetaOf, storeRcsRun } from './runs/evaluation';

async function projectContext(db: SpecAlignDb, projectId: string): Promise<EvalSetContext> {
  const [ruleIds, instances] = await Promise.all([
    db.rules.where('projectId').equals(projectId).primaryKeys(),
    db.instances.where('projectId').equals(projectId).toArray(),
  ]);
  return {
    ruleIds: new Set(ruleIds),
    instances: new Map(instances.map((i) => [i.id, new Set(i.ruleIds)])),
  };
}

/** The items of an eval set file, validated against the project. @throws InvalidFileError */
export async function readEvalSetFile(
  db: SpecAlignDb,
  projectId: string,
  file: Blob,
): Promise<ImportedEvalSet> {
  checkEvalSetSize(file.size);
  const text = await file.text();
  return parseEvalSet(text, await projectContext(db, projectId));
}

/**
 * Stores an RCS run on the queries of an eval set file (start it with `startRun`); its config
 * keeps the file's name and counts, the tasks keep the items. `target` is resolved only once the
 * file is valid, so a malformed file loads no model.
 * @throws InvalidFileError when the file is malformed; nothing is written then.
 */
export async function createImportedEvaluationRun(
  db: SpecAlignDb,
  projectId: string,
  file: Blob,
  fileName: string,
  target: () => Promise<{ engine: ChatEngine; config: EngineConfig }>,
): Promise<{ run: Run; items: number }> {
  const { items, summary } = await readEvalSetFile(db, projectId, file);
  const rules = await ruleMetaOf(db, items);
  return storeRcsRun(
    db,
    projectId,
    { items, rules, request: { source: 'imported', fileName, ...summary } },
    await target(),
  );
}
