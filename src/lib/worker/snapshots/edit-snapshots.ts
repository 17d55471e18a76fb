/**
 * Which project a user's edit changed, so that the snapshot service saves it once edits settle
 * (SnapshotService.noteEdit). Project calls carry the project id first; calls addressed by record
 * (rules, instances, pairs, a bulk decision) are resolved from the record BEFORE the call, since
 * a split or merge deletes the rule it names.
 */
import type { SpecAlignDb } from '$lib/db/database';
import type { WorkerApi } from '../api';

type Resolver<K extends keyof WorkerApi> = WorkerApi[K] extends (...args: infer A) => unknown
  ? (...args: A) => Promise<string | undefined>
  : never;
export type EditResolvers = { [K in keyof WorkerApi]?: Resolver<K> };

/** How each editing call of the worker API names its project. */
export function editResolvers(
  db: SpecAlignDb,
  firstPairOfBatch: (batchId: string) => string | undefined,
): EditResolvers {
  const project = (projectId: string) => Promise.resolve(projectId);
  const rule = async (id: string | undefined) =>
    id === undefined ? undefined : (await db.rules.get(id))?.projectId;
  const pair = async (id: string | undefined) =>
    id === undefined ? undefined : (await db.pairs.get(id))?.projectId;
  return {
    importSpec: project,
    importRules: project,
    sampleInstances: project,
    createAnnotationRun: project,
    createSpecUpdateRun: project,
    confirmSpecUpdate: project,
    startDataUpdate: project,
    createSynthesisRun: project,
    createEvaluationRun: project,
    renameProject: project,
    setProjectModels: project,
    setRuleStatus: (ids) => rule(ids[0]),
    updateRule: (id) => rule(id),
    addRule: (anchor) => Promise.resolve(anchor.projectId),
    splitRule: (id) => rule(id),
    mergeRules: (ids) => rule(ids[0]),
    setInstancePinned: async (id) => (await db.instances.get(id))?.projectId,
    setPairStatus: (ids) => pair(ids[0]),
    editPairText: (id) => pair(id),
    decidePairs: (decision) => pair(decision.ids[0]),
    undoBulkDecision: (batchId) => pair(firstPairOfBatch(batchId)),
  };
}

/** Wraps each call of `api` that has a resolver: after it succeeds, its project is noted. */
export function noteEditsOf(
  api: WorkerApi,
  resolvers: EditResolvers,
  noteEdit: (projectId: string) => void,
): void {
  const calls = api as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const [name, resolve] of Object.entries(resolvers)) {
    const call = calls[name];
    if (!call || !resolve) continue;
    const projectOf = resolve as (...args: unknown[]) => Promise<string | undefined>;
    calls[name] = async (...args: unknown[]) => {
      // A lookup that fails only costs this snapshot, never the edit.
      const projectId = await projectOf(...args).catch(() => undefined);
      const result = await call.apply(api, args);
      if (projectId !== undefined) noteEdit(projectId);
      return result;
    };
  }
}
