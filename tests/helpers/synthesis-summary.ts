/**
 * A run's outcome summarised from its task rows (tasks, pairs and drop reasons per case type and
 * rule): lets the synthesis tests check what a run did without the UI's worker statistics.
 */
import type { CaseType, Task } from '$lib/core/records';
import { CASE_TYPES } from '$lib/core/synthesis';
import { isLoopState } from '$lib/worker/runs/synthesis';

// ---------------------------------------------------------------------------------------------
// Live summary (for the UI, from Dexie rows)

/** Why tasks ended without a pair, grouped. */
export type FailureKind =
  | 'duplicate'
  | 'judge-contradiction'
  | 'no-acceptable-candidate'
  | 'prompt-too-long'
  | 'invalid-output'
  | 'instance-changed'
  | 'other';

/** Planned, produced and dropped counts of one slice of a run. */
export interface CoverageCount {
  planned: number;
  pairs: number;
  failed: number;
}

/** A synthesis run at a glance, computed from its task rows. */
export interface SynthesisSummary {
  total: CoverageCount;
  byRule: Record<string, CoverageCount>;
  byCaseType: Record<CaseType, CoverageCount>;
  failures: Record<FailureKind, number>;
}

/** The group of a failed task's error message. */
export function failureKind(error: string): FailureKind {
  if (error === 'duplicate prompt') return 'duplicate';
  if (error.startsWith('judge contradiction')) return 'judge-contradiction';
  if (error.startsWith('no acceptable')) return 'no-acceptable-candidate';
  if (error.startsWith('prompt too long')) return 'prompt-too-long';
  if (/^Step "[^"]+":/.test(error)) return 'invalid-output';
  if (/changed after this run|deleted after this run/.test(error)) return 'instance-changed';
  return 'other';
}

/**
 * Per-rule and per-case-type coverage and failure reasons of a synthesis run, from its task rows
 * (`db.tasks.where('runId').equals(runId)`): a `done` task produced exactly one pair (pair id =
 * task id), a `failed` one none. Reading tasks rather than pairs keeps the counts right when the
 * user deletes pairs during review.
 */
export function summariseSynthesisTasks(tasks: readonly Task[]): SynthesisSummary {
  const zero = (): CoverageCount => ({ planned: 0, pairs: 0, failed: 0 });
  const summary: SynthesisSummary = {
    total: zero(),
    byRule: {},
    byCaseType: Object.fromEntries(CASE_TYPES.map((c) => [c, zero()])) as Record<
      CaseType,
      CoverageCount
    >,
    failures: {
      duplicate: 0,
      'judge-contradiction': 0,
      'no-acceptable-candidate': 0,
      'prompt-too-long': 0,
      'invalid-output': 0,
      'instance-changed': 0,
      other: 0,
    },
  };
  for (const task of tasks) {
    if (!isLoopState(task.state)) continue;
    const { ruleId, caseType } = task.state.task;
    const slices = [
      summary.total,
      (summary.byRule[ruleId] ??= zero()),
      summary.byCaseType[caseType],
    ];
    for (const slice of slices) {
      slice.planned++;
      if (task.status === 'done') slice.pairs++;
      if (task.status === 'failed') slice.failed++;
    }
    if (task.status === 'failed') summary.failures[failureKind(task.error ?? '')]++;
  }
  return summary;
}
