import type { SpecAlignDb } from '$lib/db/database';

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
