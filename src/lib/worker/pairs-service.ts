/**
 * Reading a project's pairs in pages, in the worker. A project can hold 100,000 pairs with long
 * texts and provenance, so nothing here loads them all at once: ids come from an index (keys
 * only), rows are fetched a page at a time with `bulkGet` and dropped before the next page.
 */
import { AbortedError } from '$lib/core/errors';
import type { CaseType, PairStatus, PreferencePair, RuleStage } from '$lib/core/records';
import {
  matchesDefender,
  matchesOrigin,
  matchesQuality,
  matchesVerdict,
  provenanceProblem,
  type DefenderFilter,
  type OriginFilter,
  type QualityFilter,
  type VerdictFilter,
} from '$lib/core/review/facets';
import { hasChosenMarkup } from '$lib/core/review/markup';
import type { SpecAlignDb } from '$lib/db/database';

/** Rows per `bulkGet`: large enough to amortise IndexedDB round trips, small enough to drop fast. */
export const PAIR_PAGE = 500;

/** What the Review screen filters by. Unset fields don't narrow. */
export interface ReviewFilter {
  statuses?: readonly PairStatus[];
  caseTypes?: readonly CaseType[];
  ruleId?: string;
  instanceId?: string;
  /** Pairs targeting a rule of this family (the rules' `family`). */
  family?: string;
  /** Pairs targeting a rule of this stage. */
  stage?: RuleStage;
  /** The judges' verdicts (see `VERDICT_FILTERS`). */
  verdict?: VerdictFilter;
  /** The chosen reply's quality score (see `qualityScore`). */
  quality?: QualityFilter;
  /** Where the pair's sides came from (see `ORIGIN_FILTERS`; issue 14 §4). */
  origin?: OriginFilter;
  /** Who defended: the evaluation target (on-policy) or another model. */
  defender?: DefenderFilter;
  /** Case-insensitive substring of the prompt, chosen or rejected text. */
  text?: string;
  /** Only pairs whose chosen reply carries markup (see core/review/markup.ts). */
  markup?: boolean;
  /**
   * `stale`: only pairs a spec update marked stale (their rule changed or retired); `current`:
   * only the others (issue 11 §3).
   */
  currency?: 'stale' | 'current';
  /**
   * Scans with the same key supersede each other: a newer call stops an older one at its next
   * page (it rejects with AbortedError), so typing a search over 100,000 pairs doesn't queue a
   * full scan per keystroke.
   */
  queryKey?: string;
}

/** The newest scan per `queryKey`. */
const latestQuery = new Map<string, number>();
let queryCounter = 0;

/**
 * The project's pair ids in creation order (the `[projectId+createdAt]` index), optionally only
 * those with one of `statuses` (intersected with the `[projectId+status]` index, keys only).
 */
export async function orderedPairIds(
  db: SpecAlignDb,
  projectId: string,
  statuses?: readonly PairStatus[],
): Promise<string[]> {
  const ids = (await db.pairs
    .where('[projectId+createdAt]')
    .between([projectId, -Infinity], [projectId, Infinity])
    .primaryKeys()) as string[];
  if (!statuses) return ids;
  // One `equals` per status, not `anyOf`: a keys-only range per status is the cheapest read, and
  // fake-indexeddb's `anyOf` cursor is quadratic when every row shares the key (the benchmarks).
  const allowed = new Set<string>();
  for (const status of new Set(statuses))
    for (const id of (await db.pairs
      .where('[projectId+status]')
      .equals([projectId, status])
      .primaryKeys()) as string[])
      allowed.add(id);
  return ids.filter((id) => allowed.has(id));
}

/** Streams the rows of `ids` in their order, one page in memory at a time. */
export async function* pairsByIds(
  db: SpecAlignDb,
  ids: readonly string[],
  pageSize = PAIR_PAGE,
): AsyncGenerator<PreferencePair, void, undefined> {
  for (let i = 0; i < ids.length; i += pageSize) {
    const page = await db.pairs.bulkGet(ids.slice(i, i + pageSize));
    for (const pair of page) if (pair) yield pair;
  }
}

function matchesText(pair: PreferencePair, needle: string): boolean {
  if (pair.chosen.toLowerCase().includes(needle)) return true;
  if (pair.rejected.toLowerCase().includes(needle)) return true;
  return pair.prompt.some((m) => m.content.toLowerCase().includes(needle));
}

/** The ids of the project's rules of `family` and `stage` (whichever are set). */
async function ruleIdsOf(
  db: SpecAlignDb,
  projectId: string,
  family: string | undefined,
  stage: RuleStage | undefined,
): Promise<Set<string>> {
  const rules = await db.rules.where('projectId').equals(projectId).toArray();
  return new Set(
    rules
      .filter((r) => (!family || r.family === family) && (!stage || r.stage === stage))
      .map((r) => r.id),
  );
}

/** The pairs a filter keeps, and how many it could not judge. */
export interface PairSearch {
  ids: string[];
  /**
   * Pairs a verdict or quality filter left out because their stored judging record (provenance)
   * is unreadable: corrupt, or written by an incompatible version.
   */
  unreadable: number;
}

/** The ids of the project's pairs that pass `filter`, in creation order (see {@link findPairs}). */
export async function findPairIds(
  db: SpecAlignDb,
  projectId: string,
  filter: ReviewFilter = {},
): Promise<string[]> {
  return (await findPairs(db, projectId, filter)).ids;
}

/**
 * The project's pairs that pass `filter`, in creation order. Status alone is answered from
 * indexes; the other fields need the rows, which are scanned page by page.
 */
export async function findPairs(
  db: SpecAlignDb,
  projectId: string,
  filter: ReviewFilter = {},
): Promise<PairSearch> {
  const query = ++queryCounter;
  const key = filter.queryKey;
  if (key !== undefined) latestQuery.set(key, query);
  const superseded = () => key !== undefined && latestQuery.get(key) !== query;

  const statuses = filter.statuses?.length ? filter.statuses : undefined;
  let ids = await orderedPairIds(db, projectId, statuses);
  if (filter.instanceId) {
    const inInstance = new Set(
      (await db.pairs.where('instanceId').equals(filter.instanceId).primaryKeys()) as string[],
    );
    ids = ids.filter((id) => inInstance.has(id));
  }
  const caseTypes = filter.caseTypes?.length ? new Set(filter.caseTypes) : undefined;
  const needle = filter.text?.trim().toLowerCase() ?? '';
  const { ruleId, verdict, quality, origin, defender, markup, currency } = filter;
  const ruleSet =
    filter.family || filter.stage
      ? await ruleIdsOf(db, projectId, filter.family, filter.stage)
      : undefined;
  if (
    !caseTypes &&
    !needle &&
    !ruleId &&
    !ruleSet &&
    !verdict &&
    !quality &&
    !origin &&
    !defender &&
    !markup &&
    !currency
  )
    return { ids, unreadable: 0 };
  const kept: string[] = [];
  let seen = 0;
  let unreadable = 0;
  for await (const pair of pairsByIds(db, ids)) {
    if (++seen % PAIR_PAGE === 0 && superseded())
      throw new AbortedError('Superseded by a newer filter.');
    if (caseTypes && !caseTypes.has(pair.caseType)) continue;
    if (currency && (currency === 'stale') !== (pair.stale !== undefined)) continue;
    if (ruleId && !pair.ruleIds.includes(ruleId)) continue;
    if (ruleSet && !pair.ruleIds.some((id) => ruleSet.has(id))) continue;
    // An unreadable record's origin is `unknown`: the `unknown` origin filter keeps it.
    const needsRecord = verdict || quality || defender || (origin && origin !== 'unknown');
    if (needsRecord && provenanceProblem(pair) !== undefined) {
      unreadable++;
      continue;
    }
    if (verdict && !matchesVerdict(pair, verdict)) continue;
    if (origin && !matchesOrigin(pair, origin)) continue;
    if (defender && !matchesDefender(pair, defender)) continue;
    if (quality && !matchesQuality(pair, quality)) continue;
    if (needle && !matchesText(pair, needle)) continue;
    if (markup && !hasChosenMarkup(pair)) continue;
    kept.push(pair.id);
  }
  if (superseded()) throw new AbortedError('Superseded by a newer filter.');
  return { ids: kept, unreadable };
}
