import { afterEach, describe, expect, it } from 'vitest';
import { closeTestDbs, openTestDb } from '../../helpers/db';
import {
  acceptanceRate,
  activeTimeMs,
  coverageMatrix,
  tokensPerAcceptedPair,
} from '$lib/core/evaluation/dashboard';
import type { CaseType, PairStatus, PreferencePair, Run, Task } from '$lib/core/records';
import type { SpecAlignDb } from '$lib/db/database';
import {
  FAILED_TASKS_SHOWN,
  observedYield,
  projectDashboard,
  rejectedOrigins,
  runStats,
} from '$lib/worker/stats-service';
import { buildProjectRows, seedProject } from '../../helpers/project-rows';
import { synthesisProvenance } from '../../helpers/provenance';

afterEach(closeTestDbs);

const CASES: CaseType[] = ['violation', 'borderline', 'benign'];
const STATUSES: PairStatus[] = ['pending', 'accepted', 'rejected', 'flagged', 'accepted'];
const REASONS = [
  'Step "attack": JSON cut off after 3 attempts',
  'duplicate prompt',
  'no acceptable chosen reply after 3 candidates',
];

/**
 * The fixture project plus two more synthesis runs (one done, one still running) with `n` tasks
 * each: task i is done (a pair) unless i % 4 === 3 (failed, one of REASONS); pairs target one or
 * two rules, cycle case types and review statuses; and a few imported pairs of no run.
 */
async function seeded(n: number) {
  const db = await openTestDb();
  const rows = await seedProject(db, buildProjectRows('Stats'));
  const projectId = rows.project.id;
  const ruleIds = rows.rules.map((r) => r.id);
  const instanceId = rows.instances[0]!.id;
  const t0 = 1_800_000_000_000;
  const runs: Run[] = ['done', 'running'].map((status, r) => ({
    ...rows.runs[0]!,
    id: `run-${r}`,
    status: status as Run['status'],
    createdAt: t0 + r * 10_000_000,
    updatedAt: t0 + r * 10_000_000,
    usage: { promptTokens: 1000 * (r + 1), completionTokens: 300 },
    progress: { done: 0, failed: 0, total: n },
  }));
  const tasks: Task[] = [];
  const pairs: PreferencePair[] = [];
  for (const run of runs)
    for (let i = 0; i < n; i++) {
      const caseType = CASES[i % 3]!;
      const ruleId = ruleIds[i % 2]!;
      const key = `${instanceId}/${ruleId}/${caseType}/${i}`;
      const failed = i % 4 === 3;
      // Gaps of 1 s, with one idle gap of an hour in the middle (a pause).
      const at = run.createdAt + (i + 1) * 1000 + (i > n / 2 ? 3_600_000 : 0);
      tasks.push({
        id: `${run.id}:${key}`,
        runId: run.id,
        projectId,
        key,
        order: n - i, // queue order differs from id order
        status: failed ? 'failed' : 'done',
        step: failed ? 'plan' : 'judge',
        attempts: 1,
        ...(failed ? { error: REASONS[i % REASONS.length] } : {}),
        updatedAt: at,
      });
      if (!failed)
        pairs.push({
          ...rows.pairs[0]!,
          id: `${run.id}:${key}`,
          runId: run.id,
          ruleIds: i % 5 === 0 ? [...ruleIds] : [ruleId],
          caseType,
          status: STATUSES[i % STATUSES.length]!,
          createdAt: at,
        });
    }
  for (let i = 0; i < 7; i++)
    pairs.push({
      ...rows.pairs[0]!,
      id: `imported-${i}`,
      runId: 'imported',
      caseType: CASES[i % 3]!,
      status: STATUSES[i % STATUSES.length]!,
    });
  await db.runs.bulkAdd(runs);
  await db.tasks.bulkAdd(tasks);
  await db.pairs.bulkAdd(pairs);
  return { db, projectId, runs };
}

/** The dashboard as ProjectDashboard.svelte computed it before: every pair loaded, scanned. */
async function fullScanDashboard(db: SpecAlignDb, id: string) {
  const [pairs, rules, runs] = await Promise.all([
    db.pairs.where('projectId').equals(id).toArray(),
    db.rules.where('[projectId+status]').equals([id, 'accepted']).toArray(),
    db.runs.where('[projectId+kind]').equals([id, 'synthesize']).toArray(),
  ]);
  const { rows, max } = coverageMatrix(
    pairs,
    rules.map((r) => r.id),
  );
  const statement = new Map(rules.map((r) => [r.id, r.statement]));
  const acceptance = acceptanceRate(pairs.map((p) => p.status));
  let workMs = 0;
  for (const run of runs) {
    const stamps: number[] = [];
    await db.tasks
      .where('runId')
      .equals(run.id)
      .each((t) => {
        if (t.status === 'done' || t.status === 'failed') stamps.push(t.updatedAt);
      });
    workMs += activeTimeMs(stamps, run.createdAt);
  }
  const runPairs = pairs.filter((p) => runs.some((r) => r.id === p.runId)).length;
  const tokens = tokensPerAcceptedPair(
    runs.map((r) => r.usage),
    acceptance.accepted,
  );
  return {
    rows: rows.map((r) => ({ ...r, statement: statement.get(r.ruleId) ?? r.ruleId })),
    max,
    pairs: pairs.length,
    acceptance,
    ...(tokens !== undefined ? { tokensPerAccepted: tokens } : {}),
    ...(runPairs > 0 && workMs > 0 ? { msPerPair: workMs / runPairs } : {}),
  };
}

describe('projectDashboard', () => {
  it('equals the old full-scan computation on seeded data', async () => {
    const { db, projectId } = await seeded(240);
    const expected = await fullScanDashboard(db, projectId);
    const got = await projectDashboard(db, projectId);
    expect(got).toEqual(expected);
    // Every pair is counted once by where its rejected side came from.
    const origins = await rejectedOrigins(db, projectId);
    expect(origins.reduce((n, o) => n + o.total, 0)).toBe(got.pairs);
    // The seeding exercised what matters: rejected pairs, idle gaps, pairs of no run.
    expect(got.acceptance.rejected).toBeGreaterThan(0);
    expect(got.msPerPair).toBeDefined();
    expect(got.pairs).toBe(1 + 2 * 180 + 7);
  });

  it('is empty, not failing, for a project without pairs', async () => {
    const db = await openTestDb();
    const got = await projectDashboard(db, 'nothing');
    expect(got).toEqual({
      rows: [],
      max: 0,
      pairs: 0,
      acceptance: { accepted: 0, rejected: 0 },
    });
    expect(await rejectedOrigins(db, 'nothing')).toEqual([]);
  });

  it('shows per rule family how many rejected replies were elicited vs written (issue 14 §4)', async () => {
    const db = await openTestDb();
    const rows = await seedProject(db, buildProjectRows('Origins'));
    const projectId = rows.project.id;
    const [privacy, honesty] = rows.rules;
    const v3 = (rejected: 'defender' | 'violator' | 'rewrite', round?: number) =>
      synthesisProvenance({
        v: 3,
        origin: { rejected, ...(round ? { round } : {}), chosen: 'written', rounds: round ?? 3 },
        heldRounds: [],
      });
    const pair = (id: string, ruleId: string, provenance: unknown): PreferencePair => ({
      ...rows.pairs[0]!,
      id,
      ruleIds: [ruleId],
      provenance: provenance as Record<string, unknown>,
    });
    await db.pairs.clear();
    await db.pairs.bulkAdd([
      pair('a', privacy!.id, v3('defender', 1)),
      pair('b', privacy!.id, v3('defender', 2)),
      pair('c', privacy!.id, v3('violator')),
      pair('d', honesty!.id, v3('rewrite')),
      pair('e', honesty!.id, synthesisProvenance({ v: 2, path: 'defender-violated' })),
      pair('f', honesty!.id, { note: 'imported by hand' }),
    ]);
    expect(await rejectedOrigins(db, projectId)).toEqual([
      {
        family: honesty!.family,
        counts: { elicited: 1, written: 0, rewritten: 1, unknown: 1 },
        total: 3,
        elicitedShare: 0.5,
      },
      {
        family: privacy!.family,
        counts: { elicited: 2, written: 1, rewritten: 0, unknown: 0 },
        total: 3,
        elicitedShare: 2 / 3,
      },
    ]);
    // Later refreshes follow added and deleted pairs.
    await db.pairs.delete('b');
    await db.pairs.add(pair('g', privacy!.id, v3('violator')));
    expect((await rejectedOrigins(db, projectId))[1]).toMatchObject({
      counts: { elicited: 1, written: 2, rewritten: 0, unknown: 0 },
      elicitedShare: 1 / 3,
    });
  });
});

describe('runStats', () => {
  it('counts the run’s pairs like the old Generate screen did, and lists failures in full', async () => {
    const { db, runs } = await seeded(240);
    const run = runs[1]!;
    const pairs = await db.pairs.where('runId').equals(run.id).toArray();
    const caseCounts = { violation: 0, borderline: 0, benign: 0 };
    const perRule: Record<string, number> = {};
    for (const p of pairs) {
      caseCounts[p.caseType]++;
      for (const r of p.ruleIds) perRule[r] = (perRule[r] ?? 0) + 1;
    }
    const got = await runStats(db, run.id);
    expect(got.pairs).toBe(pairs.length);
    expect(got.caseCounts).toEqual(caseCounts);
    expect(Object.fromEntries(got.perRule.map((r) => [r.ruleId, r.pairs]))).toEqual(perRule);
    expect(got.perRule.map((r) => r.pairs)).toEqual(Object.values(perRule).sort((a, b) => b - a));
    // 60 failed tasks, 20 per reason, each reason kept whole (not cut at its first phrase).
    expect(got.failedTotal).toBe(60);
    expect(got.failureGroups).toEqual(
      [...REASONS].sort((a, b) => a.localeCompare(b)).map((reason) => ({ reason, count: 20 })),
    );
    expect(got.failedTasks).toHaveLength(60);
    expect(got.failedTasks.map((t) => t.order)).toEqual(
      got.failedTasks.map((t) => t.order).sort((a, b) => a - b),
    );
    const first = got.failedTasks.at(-1)!; // order n − 3: task i = 3
    expect(first).toMatchObject({
      caseType: 'violation',
      step: 'plan',
      reason: 'Step "attack": JSON cut off after 3 attempts',
    });
    expect(first.ruleId).toBeDefined();
  });

  it('stays equal to a full count as a run writes pairs, and after a pair is deleted', async () => {
    const { db, runs } = await seeded(60);
    const run = runs[1]!;
    const full = async () => {
      const counts = { violation: 0, borderline: 0, benign: 0 };
      const pairs = await db.pairs.where('runId').equals(run.id).toArray();
      for (const p of pairs) counts[p.caseType]++;
      return { pairs: pairs.length, counts };
    };
    await runStats(db, run.id); // primes the tally
    const template = (await db.pairs.where('runId').equals(run.id).first())!;
    const last = Math.max(
      ...(await db.pairs.where('runId').equals(run.id).toArray()).map((p) => p.createdAt),
    );
    // New pairs, two sharing the newest timestamp already counted.
    await db.pairs.bulkAdd(
      [last, last, last + 5, last + 5].map((createdAt, i) => ({
        ...template,
        id: `new-${i}`,
        caseType: CASES[i % 3]!,
        createdAt,
      })),
    );
    let got = await runStats(db, run.id);
    let want = await full();
    expect({ pairs: got.pairs, counts: got.caseCounts }).toEqual(want);
    await db.pairs.delete(template.id);
    got = await runStats(db, run.id);
    want = await full();
    expect({ pairs: got.pairs, counts: got.caseCounts }).toEqual(want);
    // A pair with an older timestamp than the tally's newest is found by the recount.
    await db.pairs.add({ ...template, id: 'late', caseType: 'borderline', createdAt: 0 });
    got = await runStats(db, run.id);
    want = await full();
    expect({ pairs: got.pairs, counts: got.caseCounts }).toEqual(want);
  });

  it('caps the listed failed tasks but counts them all', async () => {
    const { db, runs } = await seeded(4 * (FAILED_TASKS_SHOWN + 10));
    const got = await runStats(db, runs[0]!.id);
    expect(got.failedTotal).toBe(FAILED_TASKS_SHOWN + 10);
    expect(got.failedTasks).toHaveLength(FAILED_TASKS_SHOWN);
    expect(got.failureGroups.reduce((n, g) => n + g.count, 0)).toBe(FAILED_TASKS_SHOWN + 10);
  });
});

describe('observedYield', () => {
  it('counts finished tasks and pairs per case type of finished runs only, from task ids', async () => {
    const { db, projectId } = await seeded(24);
    const got = await observedYield(db, projectId);
    // Only run-0 is done (the fixture's own run has no case-typed keys; run-1 still runs).
    expect(got.runs).toBe(1);
    expect(got.tasks).toEqual({ violation: 8, borderline: 8, benign: 8 });
    // Failed: i % 4 === 3 → i = 3, 7, 11, 15, 19, 23 → cases 0,1,2,0,1,2 → 2 each.
    expect(got.pairs).toEqual({ violation: 6, borderline: 6, benign: 6 });
  });
});
