/**
 * Statistics of the dashboard and the Generate screen, computed here so the UI thread never
 * loads a project's pairs (issue 10 §5), and the worker reads no pair row either: counts and
 * rule × case-type coverage come from index keys (`count()`, keys-only ranges over schema v2's
 * `[projectId+caseType]` and multiEntry `ruleIds`). The math stays in core. The UI calls these when a cheap live signal changes (state/worker-stats).
 * One exception: where rejected replies came from (issue 14 §4) lives only in provenance, so
 * the dashboard reads each pair once and keeps its origin (see `rejectedOrigins`, asked
 * for apart from the rest so the other numbers show without waiting for that read).
 */
import {
  acceptanceFromCounts,
  activeTimeMs,
  coverageMatrix,
  originShares,
  tokensPerAcceptedPair,
  type CoverageRow,
  type OriginShareRow,
  type PairFacts,
  type RejectedSource,
} from '$lib/core/evaluation/dashboard';
import { originOfPair } from '$lib/core/review/facets';
import { pairsByIds } from './pairs-service';
import type { CaseType, PairStatus, PreferencePair } from '$lib/core/records';
import {
  caseTypeOfTaskKey,
  emptyObservedYield,
  type ObservedYield,
} from '$lib/core/synthesis/yield-calibration';
import type { SpecAlignDb } from '$lib/db/database';

export interface DashboardStats {
  rows: (CoverageRow & { statement: string })[];
  max: number;
  pairs: number;
  acceptance: { accepted: number; rejected: number; rate?: number };
  tokensPerAccepted?: number;
  msPerPair?: number;
}

/** The project dashboard's numbers (ProjectDashboard.svelte). */
export async function projectDashboard(
  db: SpecAlignDb,
  projectId: string,
): Promise<DashboardStats> {
  const statusCount = (s: PairStatus) =>
    db.pairs.where('[projectId+status]').equals([projectId, s]).count();
  const [pairs, accepted, rejected, rules, runs] = await Promise.all([
    db.pairs.where('projectId').equals(projectId).count(),
    statusCount('accepted'),
    statusCount('rejected'),
    db.rules.where('[projectId+status]').equals([projectId, 'accepted']).toArray(),
    db.runs.where('[projectId+kind]').equals([projectId, 'synthesize']).toArray(),
  ]);
  const { rows, max } = coverageMatrix(
    await coverageFacts(
      db,
      projectId,
      rules.map((r) => r.id),
    ),
    rules.map((r) => r.id),
  );
  const statement = new Map(rules.map((r) => [r.id, r.statement]));
  const acceptance = acceptanceFromCounts(accepted, rejected);
  let workMs = 0;
  let runPairs = 0;
  for (const run of runs) {
    runPairs += await db.pairs.where('runId').equals(run.id).count();
    workMs += activeTimeMs(await finishedStamps(db, run.id), run.createdAt);
  }
  const tokens = tokensPerAcceptedPair(
    runs.map((r) => r.usage),
    acceptance.accepted,
  );
  return {
    rows: rows.map((r) => ({ ...r, statement: statement.get(r.ruleId) ?? r.ruleId })),
    max,
    pairs,
    acceptance,
    ...(tokens !== undefined ? { tokensPerAccepted: tokens } : {}),
    ...(runPairs > 0 && workMs > 0 ? { msPerPair: workMs / runPairs } : {}),
  };
}

const CASE_TYPES: readonly CaseType[] = ['violation', 'borderline', 'benign'];

/** Per project, each pair's target rule and rejected source, kept across dashboard refreshes. */
const originCache = new Map<string, Map<string, { ruleId: string; rejected: RejectedSource }>>();

/**
 * Rejected replies per rule family by source. The origin lives in each pair's provenance, which
 * no index holds, so pairs are read — in pages, and only those not seen before: a pair's
 * provenance never changes its origin, so the per-project cache is updated by the index's keys
 * (new ids read, deleted ids dropped). The first dashboard of a large project reads every pair
 * once; later ones only the new pairs.
 */
export async function rejectedOrigins(
  db: SpecAlignDb,
  projectId: string,
): Promise<OriginShareRow[]> {
  const ids = (await db.pairs.where('projectId').equals(projectId).primaryKeys()) as string[];
  let cache = originCache.get(projectId);
  if (!cache) originCache.set(projectId, (cache = new Map()));
  const present = new Set(ids);
  for (const id of cache.keys()) if (!present.has(id)) cache.delete(id);
  const missing = ids.filter((id) => !cache.has(id));
  for await (const pair of pairsByIds(db, missing)) {
    const origin = originOfPair(pair);
    cache.set(pair.id, {
      ruleId: pair.ruleIds[0] ?? '',
      rejected:
        origin.rejected === 'defender'
          ? 'elicited'
          : origin.rejected === 'violator'
            ? 'written'
            : origin.rejected === 'rewrite'
              ? 'rewritten'
              : 'unknown',
    });
  }
  if (!cache.size) return [];
  const family = new Map<string, string>();
  await db.rules
    .where('projectId')
    .equals(projectId)
    .each((r) => family.set(r.id, r.family));
  return originShares(
    [...cache.values()].map((f) => ({
      family: family.get(f.ruleId) || '(no family)',
      rejected: f.rejected,
    })),
  );
}

/**
 * Each non-rejected pair's case type and the given rules it targets, from index keys alone
 * (schema v2's `[projectId+caseType]` and multiEntry `ruleIds`): no pair row is read, so a
 * 100k-pair project costs a few key ranges instead of a pass over every prompt and reply.
 * Only the rules asked for are looked up; coverage counts nothing else.
 */
async function coverageFacts(
  db: SpecAlignDb,
  projectId: string,
  ruleIds: readonly string[],
): Promise<PairFacts[]> {
  const rejected = new Set(
    await db.pairs.where('[projectId+status]').equals([projectId, 'rejected']).primaryKeys(),
  );
  const facts = new Map<string, { ruleIds: string[]; caseType: CaseType; status: PairStatus }>();
  for (const caseType of CASE_TYPES) {
    const ids = await db.pairs
      .where('[projectId+caseType]')
      .equals([projectId, caseType])
      .primaryKeys();
    // The status only has to say "not rejected" to coverageMatrix.
    for (const id of ids)
      if (!rejected.has(id)) facts.set(id, { ruleIds: [], caseType, status: 'pending' });
  }
  for (const ruleId of ruleIds) {
    for (const id of await db.pairs.where('ruleIds').equals(ruleId).primaryKeys())
      facts.get(id)?.ruleIds.push(ruleId);
  }
  return [...facts.values()];
}

/** Checkpoint times of a run's finished tasks (done or failed). */
async function finishedStamps(db: SpecAlignDb, runId: string): Promise<number[]> {
  const stamps: number[] = [];
  for (const status of ['done', 'failed'] as const)
    await db.tasks
      .where('[runId+status]')
      .equals([runId, status])
      .each((t) => stamps.push(t.updatedAt));
  return stamps;
}

/** A dropped task of a run, with its full stored reason. */
export interface FailedTask {
  id: string;
  order: number;
  ruleId?: string;
  caseType?: CaseType;
  /** The last step the task completed before it failed. */
  step?: string;
  reason: string;
}

export interface RunStats {
  pairs: number;
  caseCounts: Record<CaseType, number>;
  /** Pairs per rule id, most first. */
  perRule: { ruleId: string; pairs: number }[];
  /** Failed tasks by full reason → count, most first. */
  failureGroups: { reason: string; count: number }[];
  /** The first {@link FAILED_TASKS_SHOWN} failed tasks in queue order. */
  failedTasks: FailedTask[];
  failedTotal: number;
}

/** A 100k-task run may drop thousands: the list is capped, the groups count them all. */
export const FAILED_TASKS_SHOWN = 200;

/** What {@link runStats} keeps of a run's pairs between calls. */
interface PairTally {
  pairs: number;
  caseCounts: Record<CaseType, number>;
  perRule: Map<string, number>;
  /** Newest `createdAt` counted, and the ids counted at exactly that time. */
  lastCreatedAt: number;
  idsAtLast: Set<string>;
}

/**
 * Per-run pair tallies, so a screen watching a run that writes pairs reads only the new ones
 * (by `[projectId+createdAt]`) instead of every pair of the run on each change.
 */
const tallies = new Map<string, PairTally>();
const MAX_TALLIES = 8;

function tallyPair(t: PairTally, p: PreferencePair): void {
  t.pairs++;
  t.caseCounts[p.caseType]++;
  for (const r of p.ruleIds) t.perRule.set(r, (t.perRule.get(r) ?? 0) + 1);
  if (p.createdAt > t.lastCreatedAt) {
    t.lastCreatedAt = p.createdAt;
    t.idsAtLast = new Set([p.id]);
  } else if (p.createdAt === t.lastCreatedAt) t.idsAtLast.add(p.id);
}

/**
 * The run's pair tally: the cached one plus pairs created since, checked against the index count
 * (a pair deleted, or written with an older timestamp, makes it recount from scratch). Blind
 * spot: a deletion and an old-timestamped insertion between two calls cancel out; run pairs are
 * written with the current time, so this needs a clock step back during review.
 */
async function pairTally(db: SpecAlignDb, runId: string): Promise<PairTally> {
  const total = await db.pairs.where('runId').equals(runId).count();
  const cached = tallies.get(runId);
  const projectId = cached ? (await db.runs.get(runId))?.projectId : undefined;
  if (cached && projectId && total >= cached.pairs) {
    const next: PairTally = {
      ...cached,
      caseCounts: { ...cached.caseCounts },
      perRule: new Map(cached.perRule),
      idsAtLast: new Set(cached.idsAtLast),
    };
    await db.pairs
      .where('[projectId+createdAt]')
      .between([projectId, cached.lastCreatedAt], [projectId, Infinity], true, true)
      .each((p) => {
        if (p.runId === runId && !cached.idsAtLast.has(p.id)) tallyPair(next, p);
      });
    if (next.pairs === total) return remember(runId, next);
  }
  return remember(runId, await freshTally(db, runId));
}

/**
 * A run's tally from index keys alone (no pair row read): its pair ids, intersected with the
 * project's case-type ranges and each rule's multiEntry range. The incremental reads start after
 * the project's newest pair, so every pair created at that instant is marked as counted.
 */
async function freshTally(db: SpecAlignDb, runId: string): Promise<PairTally> {
  const tally: PairTally = {
    pairs: 0,
    caseCounts: { violation: 0, borderline: 0, benign: 0 },
    perRule: new Map(),
    lastCreatedAt: -Infinity,
    idsAtLast: new Set(),
  };
  const projectId = (await db.runs.get(runId))?.projectId;
  if (!projectId) return tally;
  const ids = new Set(await db.pairs.where('runId').equals(runId).primaryKeys());
  tally.pairs = ids.size;
  if (ids.size === 0) return tally;
  for (const caseType of CASE_TYPES) {
    const keys = await db.pairs
      .where('[projectId+caseType]')
      .equals([projectId, caseType])
      .primaryKeys();
    for (const id of keys) if (ids.has(id)) tally.caseCounts[caseType]++;
  }
  for (const ruleId of await db.rules.where('projectId').equals(projectId).primaryKeys()) {
    let n = 0;
    for (const id of await db.pairs.where('ruleIds').equals(ruleId).primaryKeys())
      if (ids.has(id)) n++;
    if (n > 0) tally.perRule.set(ruleId, n);
  }
  const newest = await db.pairs
    .where('[projectId+createdAt]')
    .between([projectId, -Infinity], [projectId, Infinity])
    .last();
  if (newest) {
    tally.lastCreatedAt = newest.createdAt;
    tally.idsAtLast = new Set(
      await db.pairs
        .where('[projectId+createdAt]')
        .equals([projectId, newest.createdAt])
        .primaryKeys(),
    );
  }
  return tally;
}

function remember(runId: string, tally: PairTally): PairTally {
  tallies.delete(runId);
  tallies.set(runId, tally);
  // Least recently used first in a Map's order.
  for (const key of tallies.keys()) {
    if (tallies.size <= MAX_TALLIES) break;
    tallies.delete(key);
  }
  return tally;
}

/** The Generate screen's numbers of one run. */
export async function runStats(db: SpecAlignDb, runId: string): Promise<RunStats> {
  const { pairs, caseCounts, perRule } = await pairTally(db, runId);
  const groups = new Map<string, number>();
  const failed: FailedTask[] = [];
  await db.tasks
    .where('[runId+status]')
    .equals([runId, 'failed'])
    .each((t) => {
      const reason = t.error?.trim() || 'no reason was recorded';
      groups.set(reason, (groups.get(reason) ?? 0) + 1);
      const caseType = caseTypeOfTaskKey(t.key);
      const ruleId = caseType ? t.key.split('/').at(-3) : undefined;
      failed.push({
        id: t.id,
        order: t.order,
        ...(ruleId ? { ruleId } : {}),
        ...(caseType ? { caseType } : {}),
        ...(t.step ? { step: t.step } : {}),
        reason,
      });
    });
  failed.sort((a, b) => a.order - b.order);
  return {
    pairs,
    caseCounts,
    perRule: [...perRule]
      .map(([ruleId, n]) => ({ ruleId, pairs: n }))
      .sort((a, b) => b.pairs - a.pairs),
    failureGroups: [...groups]
      .map(([reason, count]) => ({ reason, count }))
      .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
    failedTasks: failed.slice(0, FAILED_TASKS_SHOWN),
    failedTotal: failed.length,
  };
}

/**
 * Finished tasks and their pairs per case type over the project's finished synthesis runs, for
 * the estimate's calibration. Keys-only: a synthesis task id is `${runId}:${key}` and its key
 * names the case type, so no task row (with its checkpoint state) is read.
 */
export async function observedYield(db: SpecAlignDb, projectId: string): Promise<ObservedYield> {
  const out = emptyObservedYield();
  const runs = await db.runs.where('[projectId+kind]').equals([projectId, 'synthesize']).toArray();
  for (const run of runs) {
    if (run.status !== 'done') continue;
    let counted = false;
    for (const status of ['done', 'failed'] as const) {
      const ids = await db.tasks.where('[runId+status]').equals([run.id, status]).primaryKeys();
      for (const id of ids) {
        const c = caseTypeOfTaskKey(String(id));
        if (!c) continue;
        out.tasks[c]++;
        if (status === 'done') out.pairs[c]++;
        counted = true;
      }
    }
    if (counted) out.runs++;
  }
  return out;
}
