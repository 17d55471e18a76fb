/**
 * Adversarial rounds (issue 14 §1, §4), measured on synthesis runs of the deterministic agent
 * society (tests/fixtures/synthesis-society.ts) over 8–13-rule instances of the example spec, at
 * R = 1, 2, 3 and 5 attack rounds: the share of pairs whose rejected side the defender produced
 * (elicited, read from each pair's stated origin), and generated tokens per accepted pair (the
 * engine's completion tokens ÷ pairs). Counts, not times: nothing here depends on the machine.
 * Run alone: `npx tsx scripts/bench-rounds.ts`; `npm run bench` includes its rows.
 *
 * The society's defender breaks about one request in three, decided by a hash of the
 * conversation's user turns; a new attack (a fresh message, or one more user turn in a multi-turn
 * task) is a new draw, so the elicited share approaches 1 − (2/3)^R — the bench checks the
 * loop's plumbing at each R, the society does not learn from the verdict as a model may.
 */
import 'fake-indexeddb/auto';
import { societyEngine, societyProject } from './bench-society';
import { pairOrigin, readPairProvenance } from '../src/lib/core/stored/pair-provenance';
import { executeRun } from '../src/lib/worker/runs/executor';
import { synthesisHandler } from '../src/lib/worker/runs/synthesis';
import { createSynthesisRun } from '../src/lib/worker/runs/synthesis-plan';

export interface RoundsRow {
  metric: string;
  value: string;
  note: string;
}

/** Attack rounds measured. */
export const ROUNDS = [1, 2, 3, 5] as const;
const TASKS = 96;

export interface RoundsResult {
  rounds: number;
  tasks: number;
  pairs: number;
  elicited: number;
  /** Elicited pairs whose rejected side came from a round after the first. */
  laterRound: number;
  completionTokens: number;
  estimatedElicitedShare: number;
  estimatedCompletionTokens: number;
}

export async function measureRounds(rounds: number): Promise<RoundsResult> {
  const { db, projectId, specVersionId, instances } = await societyProject(
    `bench-rounds-${rounds}`,
  );
  const { run, estimate } = await createSynthesisRun(db, projectId, {
    specVersionId,
    instanceIds: instances.map((i) => i.id),
    seed: 3,
    budgets: { maxTasks: TASKS },
    // A quarter of the tasks multi-turn: they escalate within the conversation.
    controls: { multiTurnShare: 0.25 },
    loop: { attackRounds: rounds },
  });
  const engine = societyEngine();
  await executeRun(db, run.id, synthesisHandler(run), {
    signal: new AbortController().signal,
    engineFor: async () => engine,
  });
  const pairs = await db.pairs.where('runId').equals(run.id).toArray();
  let elicited = 0;
  let laterRound = 0;
  for (const pair of pairs) {
    const read = readPairProvenance(pair.provenance, pair.id);
    if (!read.ok || !read.value) throw new Error(`pair ${pair.id} has no readable provenance`);
    const origin = pairOrigin(read.value);
    if (origin.rejected === 'defender') {
      elicited++;
      if ((origin.round ?? 1) > 1) laterRound++;
    }
  }
  db.close();
  return {
    rounds,
    tasks: estimate.tasks,
    pairs: pairs.length,
    elicited,
    laterRound,
    completionTokens: engine.completionTokens,
    estimatedElicitedShare: estimate.elicitedShare,
    estimatedCompletionTokens: estimate.completionTokens,
  };
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

export async function benchRounds(): Promise<RoundsRow[]> {
  const results: RoundsResult[] = [];
  for (const r of ROUNDS) results.push(await measureRounds(r));
  const first = results[0];
  const perPair = (x: RoundsResult) => Math.round(x.completionTokens / Math.max(1, x.pairs));
  return [
    {
      metric: 'Adversarial rounds: pairs whose rejected side the defender produced (elicited)',
      value: results
        .map((x) => `R=${x.rounds}: ${pct(x.elicited / Math.max(1, x.pairs))}`)
        .join(', '),
      note: `${TASKS} tasks of the scripted society per R (a quarter multi-turn, escalating within the conversation), same instances and seed; pairs ${results.map((x) => x.pairs).join(' / ')}; elicited after round 1: ${results.map((x) => x.laterRound).join(' / ')}; the society's defender breaks ~1 request in 3 by a hash, so the share approaches 1 − (2/3)^R; the estimate's prior (small models) says ${results.map((x) => pct(x.estimatedElicitedShare)).join(' / ')}`,
    },
    {
      metric: 'Adversarial rounds: generated tokens per accepted pair',
      value: results.map((x) => `R=${x.rounds}: ${perPair(x)}`).join(', '),
      note: `same runs; R=1 is the single-attack behaviour; each extra round is an attack, a defence and a checklist judgement, and an elicited pair saves the violator's write and its two judgements${first ? ` (total generated ${results.map((x) => Math.round(x.completionTokens / 1000)).join(' / ')}k tokens; the estimate said ${results.map((x) => Math.round(x.estimatedCompletionTokens / 1000)).join(' / ')}k)` : ''}`,
    },
  ];
}

// Run alone: the rows as BENCHMARKS.md shows them.
if (process.argv[1]?.endsWith('bench-rounds.ts'))
  for (const row of await benchRounds())
    console.log(`| ${row.metric} | ${row.value} | ${row.note} |`);
