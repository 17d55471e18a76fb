/**
 * Safety-judge coverage, before and after the checklist judge (issue 14 §3), measured on a
 * synthesis run of the deterministic agent society over 8–13-rule instances of the example spec.
 * Counts, not times: nothing here depends on the machine. Run alone:
 * `npx tsx scripts/bench-judge.ts`; `npm run bench` includes its rows.
 *
 * - **After** is read from what the run stored: each pair's provenance lists the rules every
 *   safety judgement covered (`judgedRuleIds`) and the judge calls it made (`usage.safetyJudge`).
 * - **Before** is the old code's arithmetic on the same pairs: the judge covered the target rule
 *   plus its conflict partners, at most `MAX_JUDGED_RULES` = 3 (core/synthesis/steps/env.ts at
 *   the base commit), in the same one call per judged reply. RCS judged each rule of a query in a
 *   call of its own, and only those rules; calibration judged a reply's rules in groups of 3.
 */
import 'fake-indexeddb/auto';
import { societyEngine, societyProject } from './bench-society';
import { buildEvalItems } from '../src/lib/core/evaluation/items';
import { resolveConflicts } from '../src/lib/core/instances/conflicts';
import type { Rule } from '../src/lib/core/records';
import { readPairProvenance } from '../src/lib/core/stored/pair-provenance';
import { executeRun } from '../src/lib/worker/runs/executor';
import { synthesisHandler } from '../src/lib/worker/runs/synthesis';
import { createSynthesisRun } from '../src/lib/worker/runs/synthesis-plan';

/** The old judge's cap on rules per judgement. */
const OLD_MAX_JUDGED_RULES = 3;
/**
 * Measured once with the same run at the commit before the checklist (the old judge's answers
 * cannot be recomputed from the new run): generated tokens per accepted pair, and the safety
 * judge's completion tokens per call.
 */
const BEFORE_COMMIT = 'fb7ff74';
const BEFORE_TOKENS_PER_PAIR = 228;
const BEFORE_JUDGE_TOKENS_PER_CALL = 33;

export interface JudgeRow {
  metric: string;
  value: string;
  note: string;
}

/** Rules the old judge covered for `target` in `rules`: the target and its conflict partners, ≤ 3. */
function oldJudged(rules: readonly Rule[], target: string): number {
  const partners = new Set(
    resolveConflicts(rules)
      .conflicts.filter((c) => c.winnerId === target || c.loserId === target)
      .map((c) => (c.winnerId === target ? c.loserId : c.winnerId)),
  );
  return Math.min(OLD_MAX_JUDGED_RULES, 1 + partners.size);
}

const fmt = (x: number) => x.toFixed(2);

export async function benchJudge(): Promise<JudgeRow[]> {
  const { db, projectId, specVersionId, instances } = await societyProject(`bench-judge`);
  const { run } = await createSynthesisRun(db, projectId, {
    specVersionId,
    instanceIds: instances.map((i) => i.id),
    seed: 3,
    budgets: { maxTasks: 16 },
    // One attack round, as when these rows were first measured: bench-rounds.ts measures rounds.
    loop: { attackRounds: 1 },
  });
  const engine = societyEngine();
  await executeRun(db, run.id, synthesisHandler(run), {
    signal: new AbortController().signal,
    engineFor: async () => engine,
  });
  const pairs = await db.pairs.where('runId').equals(run.id).toArray();
  const rulesOf = new Map<string, Rule[]>();
  for (const inst of instances)
    rulesOf.set(
      inst.id,
      (await db.rules.bulkGet(inst.ruleIds)).filter((r): r is Rule => !!r),
    );

  let covered = 0;
  let coveredBefore = 0;
  let judgeCalls = 0;
  let judgeCompletion = 0;
  for (const pair of pairs) {
    const read = readPairProvenance(pair.provenance, pair.id);
    const provenance = read.ok ? read.value : undefined;
    const rules = rulesOf.get(pair.instanceId) ?? [];
    if (!provenance || !rules.length) continue;
    covered += provenance.judgedRuleIds.length / rules.length;
    coveredBefore += oldJudged(rules, provenance.targetRuleIds[0] ?? '') / rules.length;
    judgeCalls += provenance.usage.safetyJudge?.calls ?? 0;
    judgeCompletion += provenance.usage.safetyJudge?.completionTokens ?? 0;
  }
  const n = Math.max(1, pairs.length);

  // RCS on the same pairs (every pair a query): checks and judge calls per item.
  const items = buildEvalItems(pairs, instances, { source: 'all-pairs', includePending: true });
  let rcsRules = 0;
  let rcsOwn = 0;
  for (const item of items) {
    rcsRules += rulesOf.get(item.instanceId)?.length ?? 0;
    rcsOwn += item.ruleIds.length;
  }
  const m = Math.max(1, items.length);
  const meanRules = rcsRules / m;
  db.close();
  return [
    {
      metric: 'Safety judge: rules judged per pair ÷ rules of the instance (checklist)',
      value: `${fmt(covered / n)} (before ${fmt(coveredBefore / n)})`,
      note: `${pairs.length} pairs of the scripted society on 8–13-rule instances; before = target + conflict partners, at most ${OLD_MAX_JUDGED_RULES} (MAX_JUDGED_RULES); after = one checklist call over every rule`,
    },
    {
      metric: 'Safety judge calls per accepted pair',
      value: `${fmt(judgeCalls / n)} (before ${fmt(judgeCalls / n)})`,
      note: `one call per judged reply before and after: the checklist covers every rule in the same call; its answer is longer (${Math.round(judgeCompletion / Math.max(1, judgeCalls))} completion tokens per call here; the prompt reserves 100 + 55 per rule)`,
    },
    {
      metric: 'Generated tokens per accepted pair, checklist judge',
      value: `${Math.round(engine.completionTokens / n)} (before ${BEFORE_TOKENS_PER_PAIR})`,
      note: `same society, instances, seed and 16 tasks as the pipeline row; before = measured at ${BEFORE_COMMIT}; the difference is the checklist's answer: a short entry for every rule the exchange does not touch (safety judge ${Math.round(judgeCompletion / Math.max(1, judgeCalls))} completion tokens per call, was ${BEFORE_JUDGE_TOKENS_PER_CALL})`,
    },
    {
      metric: 'RCS: rules checked / judge calls per held-out query',
      value: `${fmt(meanRules)} / 1 (before ${fmt(rcsOwn / m)} / ${fmt(rcsOwn / m)})`,
      note: `${items.length} queries; before, one call per rule of the query and only those rules; calibration likewise goes from ⌈rules ÷ 3⌉ calls per reply to 1`,
    },
  ];
}

// Run alone: the rows as BENCHMARKS.md shows them.
if (process.argv[1]?.endsWith('bench-judge.ts'))
  for (const row of await benchJudge())
    console.log(`| ${row.metric} | ${row.value} | ${row.note} |`);
