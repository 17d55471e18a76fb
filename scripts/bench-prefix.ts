/**
 * Shared-prefix share of prompt tokens per agent (issue 12 §4, issue 13 §2), on a synthesis run
 * of the deterministic agent society over 8–13-rule instances of the example spec (the same
 * project, seed and 16 tasks as the pipeline and judge rows). Counts, not times. Run alone:
 * `npx tsx scripts/bench-prefix.ts`; `npm run bench` includes its rows.
 *
 * Every engine request is recorded with the task that made it (the run's step handler is wrapped
 * to hand each step an engine that tags its requests), then `prefixShare` (core) gives, per
 * agent, the share of prompt tokens that is a prefix shared with any earlier call of the task
 * (what vLLM's automatic prefix caching reuses) and with the previous call (a single KV cache:
 * llama.cpp `cache_prompt`, wllama).
 *
 * **Before** is the same script run at the commit before the cache-friendly layout
 * ({@link BEFORE_COMMIT}, with this script and prefix-share.ts copied in): its numbers are kept
 * below, since the old prompts cannot be rebuilt from the new code.
 */
import 'fake-indexeddb/auto';
import { societyEngine, societyProject } from './bench-society';
import type { ChatEngine, ChatRequest } from '../src/lib/core/llm';
import { agentOfMessages } from '../src/lib/core/synthesis/agents/common';
import {
  prefixShare,
  shareOf,
  type PromptCall,
  type PrefixShareReport,
  type PrefixShareRow,
} from '../src/lib/core/synthesis/prefix-share';
import { executeRun } from '../src/lib/worker/runs/executor';
import { synthesisHandler } from '../src/lib/worker/runs/synthesis';
import { createSynthesisRun } from '../src/lib/worker/runs/synthesis-plan';

/** The commit before the layout; the "before" shares below were measured there. */
export const BEFORE_COMMIT = '7a0fcde';
/** Shares (any earlier call, previous call) per agent at {@link BEFORE_COMMIT}. */
export const BEFORE: Record<string, [number, number]> = {
  planner: [0, 0],
  attacker: [0.017, 0.017],
  defender: [0.007, 0.007],
  safetyJudge: [0.479, 0.004],
  qualityJudge: [0.434, 0.029],
  violator: [0.007, 0.007],
  chosen: [0.689, 0.005],
  total: [0.266, 0.007],
};
/** Estimated prompt tokens of the same run at {@link BEFORE_COMMIT}. */
export const BEFORE_PROMPT_TOKENS = 87_961;

export interface PrefixRow {
  metric: string;
  value: string;
  note: string;
}

/**
 * Runs the society and returns every task's calls, in order. Record ids come from a counter
 * instead of `crypto.randomUUID` while it runs: the run's task order follows ids, so random ids
 * would give another run (another first few tasks) in every process.
 */
export async function recordSocietyCalls(): Promise<PromptCall[][]> {
  const randomUUID = crypto.randomUUID.bind(crypto);
  let counter = 0;
  crypto.randomUUID = () =>
    `00000000-0000-4000-8000-${(++counter).toString(16).padStart(12, '0')}` as ReturnType<
      typeof crypto.randomUUID
    >;
  try {
    return await recordCalls();
  } finally {
    crypto.randomUUID = randomUUID;
  }
}

async function recordCalls(): Promise<PromptCall[][]> {
  const { db, projectId, specVersionId, instances } = await societyProject(`bench-prefix`);
  const { run } = await createSynthesisRun(db, projectId, {
    specVersionId,
    instanceIds: instances.map((i) => i.id),
    seed: 3,
    budgets: { maxTasks: 16 },
  });
  const engine = societyEngine();
  const byTask = new Map<string, PromptCall[]>();
  const tagged = (taskId: string): ChatEngine => ({
    id: engine.id,
    contextWindow: engine.contextWindow,
    chat(request: ChatRequest) {
      const calls = byTask.get(taskId) ?? [];
      byTask.set(taskId, calls);
      calls.push({
        agent: agentOfMessages(request.messages) ?? 'other',
        messages: structuredClone(request.messages),
      });
      return engine.chat(request);
    },
  });
  const handler = synthesisHandler(run);
  const recording: typeof handler = Object.create(handler) as typeof handler;
  recording.step = (task, context) =>
    handler.step(task, { ...context, engineFor: async () => tagged(task.id) });
  await executeRun(db, run.id, recording, {
    signal: new AbortController().signal,
    engineFor: async () => engine,
  });
  db.close();
  return [...byTask.values()];
}

const pct = (x: number) => `${Math.round(x * 100)} %`;
const unshared = (tokens: number, share: number) =>
  Math.round(tokens * (1 - share)).toLocaleString('en');

function cell(row: PrefixShareRow, before?: [number, number]): string {
  const now = `${pct(shareOf(row, 'anyEarlier'))} / ${pct(shareOf(row, 'previous'))}`;
  return before ? `${now} (before ${pct(before[0])} / ${pct(before[1])})` : now;
}

/** The rows for BENCHMARKS.md. */
export function prefixRows(report: PrefixShareReport): PrefixRow[] {
  const agents = Object.entries(report.byAgent);
  return [
    {
      metric:
        'Shared-prefix share of prompt tokens, synthesis run: any earlier call of the task / previous call',
      value: cell(report.total, BEFORE.total),
      note: `${report.total.calls} calls, ${report.total.promptTokens.toLocaleString('en')} estimated prompt tokens (before ${BEFORE_PROMPT_TOKENS.toLocaleString('en')}) of the scripted society (16 tasks, 8–13-rule instances, record ids from a counter so every process records the same run); tokens outside any shared prefix ${unshared(report.total.promptTokens, shareOf(report.total, 'anyEarlier'))} (before ${unshared(BEFORE_PROMPT_TOKENS, BEFORE.total?.[0] ?? 0)}); any earlier = what vLLM automatic prefix caching can reuse, previous = a single KV cache (llama.cpp cache_prompt, wllama); before = measured at ${BEFORE_COMMIT}, the commit before the layout`,
    },
    {
      metric: 'Shared-prefix share per agent: any earlier / previous call',
      value: agents.map(([agent, row]) => `${agent} ${cell(row, BEFORE[agent])}`).join('; '),
      note: 'the first call of a task (the planner) shares nothing by definition; the attacker and the quality judge do not read the instance, so their prompts open with their own fixed instructions and share little with the call before them; the defender and chosen writer already began with the instance prompt before',
    },
  ];
}

export async function benchPrefix(): Promise<PrefixRow[]> {
  return prefixRows(prefixShare(await recordSocietyCalls()));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const report = prefixShare(await recordSocietyCalls());
  console.log(
    JSON.stringify(
      Object.fromEntries(
        [...Object.entries(report.byAgent), ['total', report.total] as const].map(([a, r]) => [
          a,
          [+shareOf(r, 'anyEarlier').toFixed(3), +shareOf(r, 'previous').toFixed(3)],
        ]),
      ),
    ),
  );
  for (const row of prefixRows(report))
    console.log(`| ${row.metric} | ${row.value} | ${row.note} |`);
}
