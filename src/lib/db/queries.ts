/**
 * The reads the UI runs inside `liveQuery` — pure reads, never writes. The worker is the
 * database's single writer (see `worker/api.ts`); the UI changes nothing here.
 */
import type {
  Evaluation,
  PairStatus,
  PreferencePair,
  Project,
  Rule,
  Run,
  Section,
  SpecExample,
  SpecInstance,
  SpecVersion,
  Task,
} from '$lib/core/records';
import type { SpecAlignDb } from './database';

/** Most recently changed first. */
export function listProjects(db: SpecAlignDb): Promise<Project[]> {
  return db.projects.orderBy('updatedAt').reverse().toArray();
}

export function getProject(db: SpecAlignDb, id: string): Promise<Project | undefined> {
  return db.projects.get(id);
}

/** The project's spec versions, oldest first. */
export function specVersionsOf(db: SpecAlignDb, projectId: string): Promise<SpecVersion[]> {
  return db.specVersions
    .where('[projectId+versionNumber]')
    .between([projectId, 0], [projectId, Infinity])
    .toArray();
}

export function latestSpecVersion(
  db: SpecAlignDb,
  projectId: string,
): Promise<SpecVersion | undefined> {
  return db.specVersions
    .where('[projectId+versionNumber]')
    .between([projectId, 0], [projectId, Infinity])
    .last();
}

/** A version's sections in document order. */
export function sectionsOf(db: SpecAlignDb, specVersionId: string): Promise<Section[]> {
  return db.sections
    .where('[specVersionId+order]')
    .between([specVersionId, -Infinity], [specVersionId, Infinity])
    .toArray();
}

export function examplesOfSection(
  db: SpecAlignDb,
  specVersionId: string,
  anchor: string,
): Promise<SpecExample[]> {
  return db.specExamples
    .where('[specVersionId+sectionAnchor]')
    .equals([specVersionId, anchor])
    .sortBy('order');
}

export function rulesOfVersion(db: SpecAlignDb, specVersionId: string): Promise<Rule[]> {
  return db.rules.where('specVersionId').equals(specVersionId).toArray();
}

export function rulesOfSection(
  db: SpecAlignDb,
  specVersionId: string,
  anchor: string,
): Promise<Rule[]> {
  return db.rules.where('[specVersionId+sectionAnchor]').equals([specVersionId, anchor]).toArray();
}

/** Rules per section anchor of a version, rejected ones not counted. */
export async function ruleCountsBySection(
  db: SpecAlignDb,
  specVersionId: string,
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  await db.rules
    .where('specVersionId')
    .equals(specVersionId)
    .each((r) => {
      if (r.status !== 'rejected') counts[r.sectionAnchor] = (counts[r.sectionAnchor] ?? 0) + 1;
    });
  return counts;
}

export async function rulesByIdOfProject(
  db: SpecAlignDb,
  projectId: string,
): Promise<Map<string, Rule>> {
  const rules = await db.rules.where('projectId').equals(projectId).toArray();
  return new Map(rules.map((r) => [r.id, r]));
}

/** The project's instances in creation order. */
export async function instancesOfProject(
  db: SpecAlignDb,
  projectId: string,
): Promise<SpecInstance[]> {
  return (await db.instances.where('projectId').equals(projectId).toArray()).sort(
    (a, b) => a.createdAt - b.createdAt || a.index - b.index,
  );
}

/** A version's instances in sampling order. */
export async function instancesOfVersion(
  db: SpecAlignDb,
  specVersionId: string,
): Promise<SpecInstance[]> {
  return (await db.instances.where('specVersionId').equals(specVersionId).toArray()).sort(
    (a, b) => a.index - b.index,
  );
}

/** The project's runs of one kind, newest first. */
export async function runsOfKind(
  db: SpecAlignDb,
  projectId: string,
  kind: Run['kind'],
): Promise<Run[]> {
  return (await db.runs.where('[projectId+kind]').equals([projectId, kind]).toArray()).sort(
    (a, b) => b.createdAt - a.createdAt,
  );
}

export async function runStatus(
  db: SpecAlignDb,
  runId: string,
): Promise<Run['status'] | undefined> {
  return (await db.runs.get(runId))?.status;
}

export function failedTasksOf(db: SpecAlignDb, runId: string): Promise<Task[]> {
  return db.tasks.where('[runId+status]').equals([runId, 'failed']).toArray();
}

export function evaluationsOf(db: SpecAlignDb, projectId: string): Promise<Evaluation[]> {
  return db.evaluations.where('projectId').equals(projectId).toArray();
}

export function getPair(db: SpecAlignDb, id: string): Promise<PreferencePair | undefined> {
  return db.pairs.get(id);
}

/** The rows of these pair ids that still exist, by id. */
export async function pairsById(
  db: SpecAlignDb,
  ids: readonly string[],
): Promise<Map<string, PreferencePair>> {
  return new Map((await db.pairs.bulkGet([...ids])).flatMap((p) => (p ? [[p.id, p]] : [])));
}

export function countPairs(db: SpecAlignDb, projectId: string): Promise<number> {
  return db.pairs
    .where('[projectId+createdAt]')
    .between([projectId, -Infinity], [projectId, Infinity])
    .count();
}

export function countPairsWithStatus(
  db: SpecAlignDb,
  projectId: string,
  status: PairStatus,
): Promise<number> {
  return db.pairs.where('[projectId+status]').equals([projectId, status]).count();
}

/** Counts that tell which workflow steps are ready; read live so every screen stays current. */
export interface ProjectSummary {
  specVersions: number;
  rules: number;
  acceptedRules: number;
  instances: number;
  runs: number;
  pairs: number;
  evaluations: number;
  hasModel: boolean;
}

export async function readProjectSummary(
  db: SpecAlignDb,
  projectId: string,
): Promise<ProjectSummary> {
  const [project, specVersions, rules, acceptedRules, instances, runs, pairs, evaluations] =
    await Promise.all([
      db.projects.get(projectId),
      db.specVersions.where('projectId').equals(projectId).count(),
      db.rules.where('projectId').equals(projectId).count(),
      db.rules.where('[projectId+status]').equals([projectId, 'accepted']).count(),
      db.instances.where('projectId').equals(projectId).count(),
      db.runs.where('projectId').equals(projectId).count(),
      db.pairs.where('projectId').equals(projectId).count(),
      db.evaluations.where('projectId').equals(projectId).count(),
    ]);
  return {
    specVersions,
    rules,
    acceptedRules,
    instances,
    runs,
    pairs,
    evaluations,
    hasModel: Boolean(project?.defaultModel),
  };
}

/** The API key saved for an endpoint in this browser, or ''. */
export { getApiKey } from './settings';
