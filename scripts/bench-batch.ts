/**
 * Batch job files (issue 12 §5) at scale: an evaluation run of N held-out queries (IndexedDB in
 * Node, the scripted target and judge), exported and imported through both batch files, against
 * the same run executed live with the same scripted engines (whose calls take no time, so both
 * sides measure orchestration only). Run alone: `npx tsx scripts/bench-batch.ts`; `npm run
 * bench` includes its rows.
 */
import 'fake-indexeddb/auto';
import type { AgentRole, EngineConfig } from '../src/lib/core/engine-config';
import { renderInstancePrompt } from '../src/lib/core/instances/render';
import type { ChatMessage, ChatRequest } from '../src/lib/core/llm';
import { openDatabase } from '../src/lib/db/database';
import { createProject } from '../src/lib/db/projects';
import { exportBatchFile, importBatchFile } from '../src/lib/worker/runs/batch';
import { createEvaluationRun, evaluationHandler } from '../src/lib/worker/runs/evaluation';
import { executeRun } from '../src/lib/worker/runs/executor';
import { checklistReply, readChecklistPrompt } from '../tests/helpers/checklist-prompt';
import { ScriptedEngine } from '../tests/helpers/scripted-engine';
import { makeInstance, makePair, makeRule } from '../tests/unit/core/evaluation/fixtures';

export interface BatchRow {
  metric: string;
  value: string;
  note: string;
}

const CONFIG: EngineConfig = { kind: 'openai', baseUrl: 'http://x', model: 'served-model' };
const lastUser = (m: readonly ChatMessage[]) =>
  m.filter((x) => x.role === 'user').at(-1)?.content ?? '';
const targetReply = (m: readonly ChatMessage[]) =>
  JSON.stringify({ response: `Answer to ${lastUser(m)}` });
const judgeReply = (m: readonly ChatMessage[]) => {
  const { labels, focus } = readChecklistPrompt(lastUser(m));
  return checklistReply(
    labels,
    (label) => (focus.includes(label) ? { verdict: 'complied' } : { verdict: 'not-applicable' }),
    false,
  );
};

async function evaluation(items: number) {
  const db = openDatabase(`bench-batch-${crypto.randomUUID()}`);
  await db.open();
  const project = await createProject(db, 'Batch bench');
  const p = project.id;
  const rules = Array.from({ length: 8 }, (_, i) =>
    makeRule(`r${i + 1}`, { projectId: p, statement: `Rule number ${i + 1}.` }),
  );
  await db.rules.bulkAdd(rules);
  await db.instances.add({
    ...makeInstance(
      'i1',
      rules.map((r) => r.id),
      renderInstancePrompt(rules).text,
    ),
    projectId: p,
  });
  await db.pairs.bulkAdd(
    Array.from({ length: items }, (_, i) => ({
      ...makePair({
        query: `Question ${i} about rule ${(i % 8) + 1}?`,
        ruleIds: [`r${(i % 8) + 1}`],
      }),
      id: `bench-pair-${i}`,
      projectId: p,
    })),
  );
  const engines = {
    target: new ScriptedEngine((r: ChatRequest) => targetReply(r.messages), { id: 'scripted:t' }),
    judge: new ScriptedEngine((r: ChatRequest) => judgeReply(r.messages), { id: 'scripted:j' }),
  };
  const { run } = await createEvaluationRun(
    db,
    p,
    { source: 'all-pairs' },
    { engine: engines.target, config: CONFIG },
  );
  const engineFor = async (role: AgentRole) => (role === 'target' ? engines.target : engines.judge);
  const ctx = { db, handler: evaluationHandler(run), engineFor, configFor: async () => CONFIG };
  return { db, run, ctx, engineFor };
}

/** Answers every line of an input file as `vllm run-batch` would write it. */
function answer(input: string): string {
  return input
    .trimEnd()
    .split('\n')
    .map((text, i) => {
      const line = JSON.parse(text) as {
        custom_id: string;
        body: { messages: ChatMessage[] };
      };
      const system = line.body.messages[0]?.content ?? '';
      const content = system.includes('[agent: target]')
        ? targetReply(line.body.messages)
        : judgeReply(line.body.messages);
      return JSON.stringify({
        id: `b${i}`,
        custom_id: line.custom_id,
        response: {
          status_code: 200,
          request_id: `r${i}`,
          body: {
            choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 100, completion_tokens: 20 },
          },
        },
        error: null,
      });
    })
    .join('\n');
}

export async function benchBatch(items = 500): Promise<BatchRow[]> {
  const batch = await evaluation(items);
  let exportMs = 0;
  let importMs = 0;
  let bytes = 0;
  for (let file = 0; file < 2; file++) {
    let t0 = performance.now();
    const exported = await exportBatchFile(batch.ctx, batch.run.id);
    const input = await exported.file.text();
    exportMs += performance.now() - t0;
    bytes += exported.file.size;
    const output = answer(input);
    t0 = performance.now();
    const report = await importBatchFile(batch.ctx, batch.run.id, output);
    importMs += performance.now() - t0;
    if (report.applied !== items) throw new Error(`file ${file + 1}: ${report.applied} applied`);
  }
  const live = await evaluation(items);
  const t0 = performance.now();
  const done = await executeRun(live.db, live.run.id, evaluationHandler(live.run), {
    signal: new AbortController().signal,
    engineFor: live.engineFor,
  });
  const liveMs = performance.now() - t0;
  if (done.done !== items) throw new Error(`live run: ${done.done} done`);
  const per = (ms: number) => `${((ms / (2 * items)) * 1000).toFixed(0)} µs`;
  const note = `evaluation of ${items} queries: 2 files × ${items} requests (target, then judge); Node + fake-indexeddb, scripted engines`;
  return [
    { metric: 'Batch file export, per request', value: per(exportMs), note },
    {
      metric: 'Batch file import, per line (validate + apply step + checkpoint)',
      value: per(importMs),
      note,
    },
    { metric: 'Live run of the same steps, per step (engine time 0)', value: per(liveMs), note },
    {
      metric: 'Batch input file size, per request',
      value: `${(bytes / (2 * items) / 1024).toFixed(1)} KiB`,
      note: '8-rule instance; the judge’s checklist prompt dominates',
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const row of await benchBatch()) console.log(`${row.metric}: ${row.value} (${row.note})`);
}
