/**
 * Project lifecycle writes that must keep invariants across the pipeline: a project is deleted
 * only once none of its runs executes any more, so no step in flight writes into a deleted project.
 */
import type { SpecAlignDb } from '$lib/db/database';
import { deleteProject } from '$lib/db/projects';

/** What deleting needs from the run control (the worker's RunRunner). */
export interface ProjectRunStopper {
  stopProjectRuns(projectId: string): Promise<void>;
}

/** Cancels the project's runs, waits for them to stop, then deletes the project and its rows. */
export async function deleteProjectAfterRuns(
  db: SpecAlignDb,
  runs: ProjectRunStopper,
  projectId: string,
): Promise<void> {
  await runs.stopProjectRuns(projectId);
  await deleteProject(db, projectId);
}
