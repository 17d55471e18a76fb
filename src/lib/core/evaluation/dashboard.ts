/**
 * The project dashboard's numbers (issue 5 §4), pure so they are tested in Node:
 * a coverage matrix (rules × case types, pair counts), the acceptance rate of reviewed pairs,
 * tokens per accepted pair and generation time per pair.
 */
import type { TokenUsage } from '../llm';
import type { CaseType, PairStatus } from '../records';

export const DASHBOARD_CASE_TYPES: readonly CaseType[] = ['violation', 'borderline', 'benign'];

/** What the dashboard reads of a pair. */
export interface PairFacts {
  ruleIds: readonly string[];
  caseType: CaseType;
  status: PairStatus;
}

export interface CoverageRow {
  ruleId: string;
  counts: Record<CaseType, number>;
  total: number;
}

/**
 * Pair counts per rule and case type, one row per rule in `ruleIds` order (rules without a pair
 * included: a zero is the point of a coverage map). Rejected pairs do not count.
 */
export function coverageMatrix(
  pairs: Iterable<PairFacts>,
  ruleIds: readonly string[],
): { rows: CoverageRow[]; max: number } {
  const rows = new Map<string, CoverageRow>(
    ruleIds.map((id) => [
      id,
      { ruleId: id, counts: { violation: 0, borderline: 0, benign: 0 }, total: 0 },
    ]),
  );
  for (const pair of pairs) {
    if (pair.status === 'rejected') continue;
    for (const id of pair.ruleIds) {
      const row = rows.get(id);
      if (!row) continue;
      row.counts[pair.caseType]++;
      row.total++;
    }
  }
  const list = [...rows.values()];
  const max = Math.max(0, ...list.flatMap((r) => DASHBOARD_CASE_TYPES.map((c) => r.counts[c])));
  return { rows: list, max };
}

/** Accepted over reviewed (accepted + rejected); undefined before any review. */
export function acceptanceRate(statuses: Iterable<PairStatus>): {
  accepted: number;
  rejected: number;
  rate?: number;
} {
  let accepted = 0;
  let rejected = 0;
  for (const s of statuses) {
    if (s === 'accepted') accepted++;
    else if (s === 'rejected') rejected++;
  }
  return acceptanceFromCounts(accepted, rejected);
}

/** {@link acceptanceRate} from counts (e.g. index counts), so no pair needs loading. */
export function acceptanceFromCounts(
  accepted: number,
  rejected: number,
): { accepted: number; rejected: number; rate?: number } {
  const reviewed = accepted + rejected;
  return reviewed ? { accepted, rejected, rate: accepted / reviewed } : { accepted, rejected };
}

/** All tokens (prompt + completion) of the runs, over the accepted pairs; undefined with none. */
export function tokensPerAcceptedPair(
  usages: Iterable<TokenUsage>,
  accepted: number,
): number | undefined {
  let tokens = 0;
  for (const u of usages) tokens += u.promptTokens + u.completionTokens;
  return accepted > 0 ? tokens / accepted : undefined;
}

/** Gaps longer than this between task checkpoints are idle time (paused, tab closed). */
export const IDLE_GAP_MS = 5 * 60_000;

/**
 * Working time of a run from its task checkpoint timestamps: the sum of the gaps between
 * consecutive checkpoints, skipping gaps over `idleGapMs` (a paused or closed run), so pauses do
 * not inflate the time per pair. `startedAt` (the run's creation) counts as the first timestamp.
 */
export function activeTimeMs(
  timestamps: Iterable<number>,
  startedAt?: number,
  idleGapMs = IDLE_GAP_MS,
): number {
  const sorted = [...timestamps].sort((a, b) => a - b);
  if (startedAt !== undefined) sorted.unshift(startedAt);
  let total = 0;
  for (let i = 1; i < sorted.length; i++) {
    const gap = (sorted[i] as number) - (sorted[i - 1] as number);
    if (gap > 0 && gap <= idleGapMs) total += gap;
  }
  return total;
}

/** Where a pair's rejected side came from, as the dashboard groups it (issue 14 §4). */
export type RejectedSource = 'elicited' | 'written' | 'rewritten' | 'unknown';

/** One pair's family and the source of its rejected side. */
export interface OriginFact {
  family: string;
  rejected: RejectedSource;
}

/** Per rule family: rejected replies by source, and the elicited share of those whose source is known. */
export interface OriginShareRow {
  family: string;
  counts: Record<RejectedSource, number>;
  total: number;
  /** elicited ÷ (elicited + written + rewritten); undefined when no source is known. */
  elicitedShare?: number;
}

export const REJECTED_SOURCES: readonly RejectedSource[] = [
  'elicited',
  'written',
  'rewritten',
  'unknown',
];

/**
 * Rejected replies per rule family by source: `elicited` (the defender's own failure, any round),
 * `written` (the violator's, first write), `rewritten` (the violator's after rewrites), `unknown`.
 * Rows sorted by family name; the elicited share leaves unknown sources out.
 */
export function originShares(facts: Iterable<OriginFact>): OriginShareRow[] {
  const rows = new Map<string, OriginShareRow>();
  for (const fact of facts) {
    let row = rows.get(fact.family);
    if (!row) {
      row = {
        family: fact.family,
        counts: { elicited: 0, written: 0, rewritten: 0, unknown: 0 },
        total: 0,
      };
      rows.set(fact.family, row);
    }
    row.counts[fact.rejected]++;
    row.total++;
  }
  return [...rows.values()]
    .sort((a, b) => (a.family < b.family ? -1 : a.family > b.family ? 1 : 0))
    .map((row) => {
      const known = row.total - row.counts.unknown;
      return known > 0 ? { ...row, elicitedShare: row.counts.elicited / known } : row;
    });
}
