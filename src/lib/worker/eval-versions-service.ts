/**
 * Evaluate across versions in the database (issue 11 §5): two finished RCS runs re-scored on one
 * spec version's rules (core/evaluation/across-versions.ts) and compared per rule and per group
 * (kept, changed, new). Reads only; no model is called.
 */
import { SpecAlignError } from '$lib/core/errors';
import {
  compareOnVersion,
  rescoreOnVersion,
  type RescoredRun,
  type VersionComparison,
} from '$lib/core/evaluation/across-versions';
import type { RcsSummary } from '$lib/core/evaluation/rcs';
import { lineageMap } from '$lib/core/rules/lineage';
import type { SpecAlignDb } from '$lib/db/database';
import { summariseEvaluation } from './runs/evaluation';

/** A comparison that cannot be made; the message says why. */
export class EvalVersionsError extends SpecAlignError {}

/** One run re-scored on the version: what the screen shows of it. */
export interface RescoredSummary {
  runId: string;
  overall: RcsSummary['overall'];
  /** Items citing a changed or retired lineage (kept and marked, see the core module). */
  staleItems: number;
  items: number;
  /** Lineages the version does not hold: their checks dropped out. */
  retiredLineages: number;
}

export interface VersionedComparison {
  versionNumber: number;
  a: RescoredSummary;
  b: RescoredSummary;
  comparison: VersionComparison;
}

async function rescore(
  db: SpecAlignDb,
  projectId: string,
  runId: string,
  versionId: string,
): Promise<RescoredRun> {
  const run = await db.runs.get(runId);
  if (run?.projectId !== projectId || run.kind !== 'evaluate')
    throw new EvalVersionsError('That evaluation run no longer exists in this project.');
  const results = await summariseEvaluation(db, runId);
  if (results?.mode !== 'rcs')
    throw new EvalVersionsError('That run has no compliance results (yet) to re-score.');
  const ruleIds = Object.keys(results.rules);
  const [own, target] = await Promise.all([
    db.rules.bulkGet(ruleIds),
    db.rules.where('specVersionId').equals(versionId).toArray(),
  ]);
  return rescoreOnVersion({
    items: Object.values(results.items),
    rules: results.rules,
    lineageOf: lineageMap(own.filter((r) => r !== undefined)),
    target: target.map((r) => ({
      id: r.id,
      lineageId: r.lineageId ?? r.id,
      statement: r.statement,
      family: r.family,
      stage: r.stage,
      status: r.status,
    })),
  });
}

const summaryOf = (runId: string, r: RescoredRun): RescoredSummary => ({
  runId,
  overall: r.summary.overall,
  staleItems: r.staleItems.length,
  items: r.summary.items,
  retiredLineages: r.retiredLineages.length,
});

/** Runs A and B re-scored on `specVersionId`'s rules, compared per rule and per group. */
export async function compareEvaluationsOnVersion(
  db: SpecAlignDb,
  projectId: string,
  runA: string,
  runB: string,
  specVersionId: string,
): Promise<VersionedComparison> {
  const version = await db.specVersions.get(specVersionId);
  if (version?.projectId !== projectId)
    throw new EvalVersionsError('That spec version no longer exists in this project.');
  const [a, b] = await Promise.all([
    rescore(db, projectId, runA, specVersionId),
    rescore(db, projectId, runB, specVersionId),
  ]);
  return {
    versionNumber: version.versionNumber,
    a: summaryOf(runA, a),
    b: summaryOf(runB, b),
    comparison: compareOnVersion(a, b),
  };
}
