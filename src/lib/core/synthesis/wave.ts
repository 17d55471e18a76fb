/**
 * Closing a wave of a synthesis run (see core/run-schedule.ts for waves): what a wave's tasks
 * contributed to the state every task shares, applied in task order once all of them ended.
 *
 * - **Experience pool**: each task's entries (reported by its steps and held on its row) are
 *   added in task order, so the pool is the same whichever task finished first.
 * - **Near-duplicates**: a task's attack step compared its prompt with the pairs of EARLIER
 *   WAVES only (the pairs of its own wave may or may not exist yet, depending on timing). Its own
 *   wave's pairs are compared here, in task order: a pair that nearly repeats a pair of an
 *   earlier wave or of an earlier task of the same wave is dropped and its task fails as
 *   `duplicate prompt`, with no experience entry, as a duplicate found at the attack step would.
 *   (Method choice: the tokens such a task spent after its attack are the price of results that
 *   do not depend on timing; with varied attack prompts, duplicates are rare.)
 */
import { addExperience, type ExperienceEntryDraft, type ExperiencePool } from './experience';
import { isNearDuplicate } from './near-duplicate';

/** One task of the closing wave, in queue order. */
export interface WaveTask {
  id: string;
  /** Its pair's prompt text (`promptText`), when it ended with a pair. */
  prompt?: string;
  /** Experience entries its steps reported. */
  entries: readonly ExperienceEntryDraft[];
}

export interface ClosedWave {
  pool: ExperiencePool;
  /** Ids of tasks whose pair repeats an earlier one: drop the pair, fail the task. */
  duplicates: string[];
}

/** Applies a wave's contributions to `pool`, given the prompts of earlier waves' pairs. */
export function closeSynthesisWave(
  pool: ExperiencePool,
  tasks: readonly WaveTask[],
  earlierPrompts: readonly string[],
  duplicateThreshold: number,
): ClosedWave {
  const prompts = [...earlierPrompts];
  const duplicates: string[] = [];
  let next = pool;
  for (const task of tasks) {
    if (task.prompt !== undefined) {
      if (isNearDuplicate(task.prompt, prompts, duplicateThreshold)) {
        duplicates.push(task.id);
        continue;
      }
      prompts.push(task.prompt);
    }
    for (const entry of task.entries) next = addExperience(next, entry);
  }
  return { pool: next, duplicates };
}
