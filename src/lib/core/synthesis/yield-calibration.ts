/**
 * Calibrates the estimate's pairs per task from the project's finished runs. The branch-mix
 * model (estimate.ts) predicts nearly one pair per task, but small models drop many tasks
 * (duplicates, invalid JSON, no acceptable candidate): real 100-task runs made 19–26 pairs. So
 * the observed yield per case type replaces the prior, shrunk towards it by a prior weight
 * (pseudo-tasks) so that one tiny run does not dominate:
 *
 *   yield(c) = (pairs(c) + w · prior(c)) / (tasks(c) + w)
 */
import type { CaseType } from '../records';

export const YIELD_CASE_TYPES: readonly CaseType[] = ['violation', 'borderline', 'benign'];

/** Pseudo-tasks the prior counts for, per case type. */
export const YIELD_PRIOR_WEIGHT = 10;

/** Finished tasks and the pairs they made, per case type, over some finished runs. */
export interface ObservedYield {
  /** Finished tasks (done + failed) per case type. */
  tasks: Record<CaseType, number>;
  /** Pairs made (done tasks) per case type. */
  pairs: Record<CaseType, number>;
  /** How many runs these came from. */
  runs: number;
}

/** What a calibrated estimate says about itself (shown in the UI). */
export interface YieldCalibration {
  /** Expected pairs per task, per case type, after calibration. */
  yieldPerTask: Record<CaseType, number>;
  /** Finished tasks the calibration learned from. */
  tasks: number;
  runs: number;
}

export function emptyObservedYield(): ObservedYield {
  return {
    tasks: { violation: 0, borderline: 0, benign: 0 },
    pairs: { violation: 0, borderline: 0, benign: 0 },
    runs: 0,
  };
}

/**
 * The calibrated pairs per task of each case type: the observation shrunk towards `prior` with
 * `weight` pseudo-tasks. Without observations of a case type its prior stands. Observed pairs
 * above tasks (inconsistent input) are capped, so a yield never exceeds 1.
 */
export function calibrateYield(
  prior: Record<CaseType, number>,
  observed: ObservedYield,
  weight = YIELD_PRIOR_WEIGHT,
): Record<CaseType, number> {
  const w = Math.max(0, weight);
  const out = { ...prior };
  for (const c of YIELD_CASE_TYPES) {
    const tasks = Math.max(0, observed.tasks[c]);
    const pairs = Math.min(tasks, Math.max(0, observed.pairs[c]));
    if (tasks > 0) out[c] = (pairs + w * prior[c]) / (tasks + w);
  }
  return out;
}

/** Total finished tasks of an observation. */
export function observedTasks(observed: ObservedYield): number {
  return YIELD_CASE_TYPES.reduce((n, c) => n + Math.max(0, observed.tasks[c]), 0);
}

/**
 * The case type of a synthesis task from its key (`${instanceId}/${ruleId}/${caseType}/${n}`,
 * see controls.ts), so counts can come from keys-only index ranges; undefined if malformed.
 */
export function caseTypeOfTaskKey(key: string): CaseType | undefined {
  const parts = key.split('/');
  const c = parts[parts.length - 2];
  return (YIELD_CASE_TYPES as readonly string[]).includes(c ?? '') ? (c as CaseType) : undefined;
}
