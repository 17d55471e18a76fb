/**
 * Which pairs an export contains. By default only pairs a person accepted: pending pairs are
 * unreviewed model output, and rejected or flagged ones are known-bad. The predicate is a plain
 * function so the worker can apply it to Dexie pages (after narrowing with the
 * `[projectId+status]` index) and core can apply it again to whatever it is handed.
 */
import type { CaseType, PairStatus, PreferencePair } from '../records';
import { trainingStageOf, type TrainingStage, type TrainingStageOptions } from './splits';

/** What to export. Every field narrows the selection; unset fields don't. */
export interface PairSelection extends TrainingStageOptions {
  /** Statuses to include. Default `['accepted']` (plus `'pending'` with {@link includePending}). */
  statuses?: readonly PairStatus[];
  /** Adds unreviewed pairs to the default selection. Ignored when `statuses` is given. */
  includePending?: boolean;
  projectId?: string;
  runIds?: readonly string[];
  instanceIds?: readonly string[];
  /** Keeps pairs that test at least one of these rules. */
  ruleIds?: readonly string[];
  caseTypes?: readonly CaseType[];
  /** Keeps only the pairs of one stage of the SFT:DPO division (see `trainingStageOf`). */
  trainingStage?: TrainingStage;
  /**
   * Keeps pairs a spec update marked stale (`pair.stale`). Default false: a stale pair tests a
   * rule the current spec reworded or retired, so it would train the old spec (issue 11 §3).
   */
  includeStale?: boolean;
}

/** A selection or a ready-made predicate. */
export type PairFilter = PairSelection | ((pair: PreferencePair) => boolean);

/** The statuses a selection admits. */
export function selectedStatuses(selection: PairSelection = {}): readonly PairStatus[] {
  if (selection.statuses) return selection.statuses;
  return selection.includePending ? ['accepted', 'pending'] : ['accepted'];
}

/**
 * Builds the export predicate for a selection: status accepted only by default, optionally
 * pending too; stale pairs left out unless asked for; optional project, run, instance, rule, case
 * type and SFT:DPO stage filters.
 */
export function filterPairs(selection: PairSelection = {}): (pair: PreferencePair) => boolean {
  const statuses = new Set(selectedStatuses(selection));
  const runs = selection.runIds && new Set(selection.runIds);
  const instances = selection.instanceIds && new Set(selection.instanceIds);
  const rules = selection.ruleIds && new Set(selection.ruleIds);
  const caseTypes = selection.caseTypes && new Set(selection.caseTypes);
  const stage = selection.trainingStage;
  return (pair) =>
    statuses.has(pair.status) &&
    (selection.includeStale === true || !pair.stale) &&
    (selection.projectId === undefined || pair.projectId === selection.projectId) &&
    (!runs || runs.has(pair.runId)) &&
    (!instances || instances.has(pair.instanceId)) &&
    (!rules || pair.ruleIds.some((id) => rules.has(id))) &&
    (!caseTypes || caseTypes.has(pair.caseType)) &&
    (stage === undefined || trainingStageOf(pair.id, selection) === stage);
}

/** Turns a {@link PairFilter} into a predicate (a selection goes through {@link filterPairs}). */
export function toPredicate(filter: PairFilter = {}): (pair: PreferencePair) => boolean {
  return typeof filter === 'function' ? filter : filterPairs(filter);
}

/** Pairs from a sync or async source. */
export type PairSource = AsyncIterable<PreferencePair> | Iterable<PreferencePair>;

/** Streams the pairs of `source` that pass `filter`, one at a time (nothing is collected). */
export async function* selectPairs(
  source: PairSource,
  filter: PairFilter = {},
): AsyncGenerator<PreferencePair, void, undefined> {
  const keep = toPredicate(filter);
  for await (const pair of source) if (keep(pair)) yield pair;
}
