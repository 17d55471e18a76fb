/**
 * Statistics of the dashboard and the Generate screen, computed here so the UI thread never
 * loads a project's pairs (issue 10 §5): counts come from indexes (`count()`, keys-only ranges);
 * what no index answers (rule × case-type coverage) is one cursor pass in the worker. The math
 * stays in core. The UI calls these when a cheap live signal changes (state/worker-stats).
 */
import {
  acceptanceFromCounts,
  activeTimeMs,
  coverageMatrix,
  tokensPerAcceptedPair,
  type CoverageRow,
  type PairFacts,
} from '$lib/core/evaluation/dashboard';
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
  // Coverage needs each pair's rules and case type: no index holds them, so one pass here.
  const facts: PairFacts[] = [];
  await eachPair(db, await db.pairs.where('projectId').equals(projectId).primaryKeys(), (p) => {
    if (p.status !== 'rejected')
      facts.push({ ruleIds: p.ruleIds, caseType: p.caseType, status: p.status });
  });
  const { rows, max } = coverageMatrix(
    facts,
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

/** Pairs read per transaction in {@link eachPair}. */
const PAIR_CHUNK = 2000;

/**
 * Visits the pairs with these ids in chunks: batched gets are much faster than a cursor's
 * one-row steps, and each short read-only transaction lets a run's writes through in between
 * (one long scan held them back for its whole duration).
 */
async function eachPair(
  db: SpecAlignDb,
  ids: readonly string[],
  visit: (pair: PreferencePair) => void,
): Promise<void> {
  for (let i = 0; i < ids.length; i += PAIR_CHUNK) {
    const rows = await db.pairs.bulkGet(ids.slice(i, i + PAIR_CHUNK));
    for (const p of rows) if (p) visit(p);
  }
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
  const fresh: PairTally = {
    pairs: 0,
    caseCounts: { violation: 0, borderline: 0, benign: 0 },
    perRule: new Map(),
    lastCreatedAt: -Infinity,
    idsAtLast: new Set(),
  };
  await eachPair(db, await db.pairs.where('runId').equals(runId).primaryKeys(), (p) =>
    tallyPair(fresh, p),
  );
  return remember(runId, fresh);
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
