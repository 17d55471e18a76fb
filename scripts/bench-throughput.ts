/**
 * Throughput at K tasks in flight (issue 12): one synthesis run, planned once per K from the same
 * seed, against the fake OpenAI server in batching mode (a GPU server that runs up to `capacity`
 * completions at once, each slower by `slope` per other completion in its batch), through the
 * real endpoint engine and the real executor on fake-indexeddb. Reports pairs per minute per K,
 * the ratio to K = 1 (next to the server's own limit, K / (1 + slope·(K − 1))), whether the
 * pairs are identical across K, and orchestration overhead: wall time the engine was idle, as a
 * share of the time it was busy.
 *
 *   npx tsx scripts/bench-throughput.ts          # prints its rows only
 *   BENCH_TASKS=64 BENCH_BASE_MS=100 npx tsx scripts/bench-throughput.ts
 *
 * `npm run bench` runs it as one of its rows.
 */
import 'fake-indexeddb/auto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { limitConcurrency, type ChatEngine, type ChatRequest } from '../src/lib/core/llm';
import { BATCH_WAVE_WIDTH } from '../src/lib/core/run-schedule';
import { openDatabase } from '../src/lib/db/database';
import { createProject } from '../src/lib/db/projects';
import { createOpenAiEngine } from '../src/lib/engines/openai-engine';
import { materializeInstance, sampleInstances } from '../src/lib/core/instances';
import { executeRun } from '../src/lib/worker/runs/executor';
import { synthesisHandler } from '../src/lib/worker/runs/synthesis';
import { createSynthesisRun } from '../src/lib/worker/runs/synthesis-plan';
import { importSpecVersion } from '../src/lib/worker/spec-store';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { BatchingOptions } from '../tests/fixtures/fake-openai-server';
import { HARBOR_RULES } from '../tests/unit/core/instances/fixtures';

export interface BenchRow {
  metric: string;
  value: string;
  note: string;
}

const root = path.resolve(import.meta.dirname, '..');
const KS = [1, 2, 4, 8, 16, 32];

interface Measurement {
  k: number;
  wallMs: number;
  busyMs: number;
  /** Sum of every request's duration: over wall time, the mean requests in flight. */
  requestMs: number;
  calls: number;
  pairs: number;
  /** The pairs' content by task key, for comparison across K. */
  content: string;
  usage: string;
}

/** Wraps an engine to record the union of the intervals during which a request was in flight. */
function busyMeter(engine: ChatEngine) {
  let active = 0;
  let since = 0;
  const meter = { busyMs: 0, calls: 0, requestMs: 0 };
  const wrapped: ChatEngine = {
    id: engine.id,
    contextWindow: engine.contextWindow,
    ...(engine.maxConcurrency !== undefined ? { maxConcurrency: engine.maxConcurrency } : {}),
    chat: async (request: ChatRequest) => {
      const started = performance.now();
      if (active++ === 0) since = started;
      meter.calls++;
      try {
        return await engine.chat(request);
      } finally {
        const end = performance.now();
        meter.requestMs += end - started;
        if (--active === 0) meter.busyMs += end - since;
      }
    },
  };
  return { wrapped, meter };
}

/** Starts bench-batching-server.ts in a child process; resolves with its URL and a stop function. */
async function startServer(batching: BatchingOptions) {
  const child = spawn('npx', ['tsx', path.join(root, 'scripts/bench-batching-server.ts')], {
    env: {
      ...process.env,
      BENCH_BASE_MS: String(batching.baseMs),
      BENCH_SLOPE: String(batching.slope),
      BENCH_CAPACITY: String(batching.capacity),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the bench server exited (${code})`)));
  });
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function measure(
  k: number,
  tasks: number,
  server: { url: string },
  specText: string,
): Promise<Measurement> {
  const db = openDatabase(`bench-throughput-${k}-${Date.now()}`);
  try {
    const project = await createProject(db, 'bench');
    const { specVersionId } = await importSpecVersion(db, project.id, {
      name: 'example-spec.md',
      text: specText,
    });
    // Fixed rule and instance ids (task seeds derive from them), so every K plans the same run.
    const rules = HARBOR_RULES.map((r) => ({ ...r, projectId: project.id, specVersionId }));
    await db.rules.bulkAdd(rules);
    const byId = new Map(rules.map((r) => [r.id, r]));
    const instances = sampleInstances(rules, { count: 3, seed: 1 }).instances.map(
      (draft) =>
        materializeInstance(draft, byId, {
          id: `inst-${draft.index}`,
          projectId: project.id,
          specVersionId,
          createdAt: 0,
        }).instance,
    );
    await db.instances.bulkAdd(instances);
    const instanceIds = instances.map((i) => i.id);
    const { run } = await createSynthesisRun(db, project.id, {
      specVersionId,
      instanceIds,
      seed: 3,
      budgets: { maxTasks: tasks },
      // One attack round, as when these rows were first measured: bench-rounds.ts measures rounds.
      loop: { attackRounds: 1 },
      waveWidth: BATCH_WAVE_WIDTH,
    });
    const raw = await createOpenAiEngine({
      kind: 'openai',
      baseUrl: server.url,
      model: 'fake-model',
      concurrency: k,
    });
    // As the worker's model registry does: at most the endpoint's setting in flight.
    const { wrapped, meter } = busyMeter(limitConcurrency(raw, raw.maxConcurrency ?? 1));
    const t0 = performance.now();
    const final = await executeRun(db, run.id, synthesisHandler(run), {
      signal: new AbortController().signal,
      engineFor: async () => wrapped,
      concurrency: k,
    });
    const wallMs = performance.now() - t0;
    if (final.status !== 'done') throw new Error(`K=${k}: the run ended ${final.status}`);
    // Instance ids are random per database: compare by task order instead of key.
    const orderOf = new Map(
      (await db.tasks.where('runId').equals(run.id).toArray()).map((t) => [t.key, t.order]),
    );
    const pairs = await db.pairs.where('runId').equals(run.id).toArray();
    const content = JSON.stringify(
      pairs
        .map(
          (p) =>
            [orderOf.get(p.id.slice(run.id.length + 1)), p.prompt, p.chosen, p.rejected] as const,
        )
        .sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0)),
    );
    const stored = await db.runs.get(run.id);
    const pool = stored?.experience?.entries.map((e) => [
      orderOf.get(e.taskKey),
      e.seq,
      e.strategy,
      e.success,
    ]);
    const usage = JSON.stringify([stored?.usage, pool]);
    return {
      k,
      wallMs,
      busyMs: meter.busyMs,
      requestMs: meter.requestMs,
      calls: meter.calls,
      pairs: pairs.length,
      content,
      usage,
    };
  } finally {
    db.close();
  }
}

/** The throughput rows of the benchmark table. */
export async function benchThroughput(): Promise<BenchRow[]> {
  const tasks = Number(process.env.BENCH_TASKS ?? 128);
  const batching: BatchingOptions = {
    baseMs: Number(process.env.BENCH_BASE_MS ?? 200),
    slope: Number(process.env.BENCH_SLOPE ?? 0.005),
    capacity: Number(process.env.BENCH_CAPACITY ?? 32),
  };
  const specText = await readFile(path.join(root, 'public/example-spec.md'), 'utf8');
  const results: Measurement[] = [];
  const server = await startServer(batching);
  try {
    for (const k of KS) {
      results.push(await measure(k, tasks, server, specText));
      const m = results.at(-1) as Measurement;
      console.error(
        `K=${k}: ${m.pairs} pairs, ${m.calls} calls in ${(m.wallMs / 1000).toFixed(1)} s (engine busy ${(m.busyMs / 1000).toFixed(1)} s, ${(m.requestMs / m.wallMs).toFixed(1)} requests in flight on average)`,
      );
    }
  } finally {
    await server.close();
  }
  const base = results[0] as Measurement;
  const perMinute = (m: Measurement) => (m.pairs * 60_000) / m.wallMs;
  const identical = results.every((m) => m.content === base.content && m.usage === base.usage);
  for (const m of results)
    if (m.content !== base.content || m.usage !== base.usage)
      console.error(
        `K=${m.k} differs: pairs ${m.content === base.content ? 'same' : 'differ'}, usage/pool ${m.usage === base.usage ? 'same' : 'differ'}`,
      );
  const serverLimit = (k: number) => k / (1 + batching.slope * (k - 1));
  const rows: BenchRow[] = [
    {
      metric: 'Synthesis throughput at K tasks in flight (pairs/min; × K = 1)',
      value: results
        .map(
          (m) =>
            `K=${m.k}: ${perMinute(m).toFixed(0)} (${(perMinute(m) / perMinute(base)).toFixed(2)}×)`,
        )
        .join(', '),
      note: `${tasks} tasks, ${base.pairs} pairs, ${base.calls} calls per run; fake batching server: ${batching.baseMs} ms per completion, +${(batching.slope * 100).toFixed(1)}% per other request in the batch, capacity ${batching.capacity} (its own limit at K: ${KS.map((k) => serverLimit(k).toFixed(1)).join(' / ')}×); waves of ${BATCH_WAVE_WIDTH}; target ≥ 0.8 × K up to capacity`,
    },
    {
      metric: 'Same pairs at every K',
      value: identical ? 'identical' : 'DIFFERENT',
      note: `pairs (prompt, chosen, rejected by task key), usage totals and experience pool of the K = ${KS.join(', ')} runs compared with K = 1`,
    },
    {
      metric: 'Orchestration overhead at K tasks in flight (engine idle / engine busy)',
      value: results
        .map((m) => `K=${m.k}: ${(((m.wallMs - m.busyMs) / m.busyMs) * 100).toFixed(1)}%`)
        .join(', '),
      note: 'wall time with no request in flight (scheduling, checkpoints in fake-indexeddb, wave closes) over time with at least one; target ≤ 3%',
    },
  ];
  if (!identical) process.exitCode = 1;
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await benchThroughput();
  console.log(
    [
      '| metric | value | note |',
      '| --- | --- | --- |',
      ...rows.map((r) => `| ${r.metric} | ${r.value} | ${r.note} |`),
    ].join('\n'),
  );
}
