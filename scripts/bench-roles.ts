/**
 * On-policy defender and role rotation (issue 14 §2), measured on synthesis runs of the
 * deterministic agent society over the example spec, through the worker's planning and handler
 * with one scripted engine per model (engine id = the model's engine key, as in the app). Counts,
 * except the assignment cost. Run alone: `npx tsx scripts/bench-roles.ts`; `npm run bench`
 * includes its rows.
 *
 * - Which model answered each agent call, read from the engines (not from what the run stored),
 *   and which defender produced each pair's rejected side, read from its provenance.
 * - The per-model estimate against what each model's engine generated in the run.
 * - The assignment cost: `assignTaskRoles` over 100,000 task orders (planning calls it once per
 *   task; the run never does).
 */
import 'fake-indexeddb/auto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { engineKey, type AgentRole, type EngineConfig } from '../src/lib/core/engine-config';
import type { ChatEngine } from '../src/lib/core/llm';
import { agentOfMessages, assignTaskRoles, DEFAULT_CONTROLS } from '../src/lib/core/synthesis';
import { readPairProvenance } from '../src/lib/core/stored/pair-provenance';
import { openDatabase } from '../src/lib/db/database';
import { createProject, setProjectModels } from '../src/lib/db/projects';
import { sampleAndStoreInstances } from '../src/lib/worker/instances-service';
import { executeRun } from '../src/lib/worker/runs/executor';
import { synthesisHandler } from '../src/lib/worker/runs/synthesis';
import { importSpecVersion } from '../src/lib/worker/spec-store';
import {
  planSynthesis,
  startSynthesisRun,
  type SynthesisRequest,
} from '../src/lib/worker/synthesis-service';
import { societyScript } from '../tests/fixtures/synthesis-society';
import { ScriptedEngine } from '../tests/helpers/scripted-engine';
import { HARBOR_RULES } from '../tests/unit/core/instances/fixtures';

export interface RolesRow {
  metric: string;
  value: string;
  note: string;
}

const TASKS = 24;
const endpoint = (model: string): EngineConfig => ({
  kind: 'openai',
  baseUrl: 'http://127.0.0.1:9/v1',
  model,
});
const SOCIETY = endpoint('society');
const TARGET = endpoint('target');

/** A run of the society with `options`, one scripted engine per model. */
async function runWith(options: Pick<SynthesisRequest, 'defenderIsTarget' | 'rotate'>) {
  const root = path.resolve(import.meta.dirname, '..');
  const db = openDatabase(`bench-roles-${Date.now()}-${Math.random()}`);
  const project = await createProject(db, 'bench');
  const models = { defaultModel: SOCIETY, roleModels: { target: TARGET } };
  await setProjectModels(db, project.id, models);
  const text = await readFile(path.join(root, 'public/example-spec.md'), 'utf8');
  const { specVersionId } = await importSpecVersion(db, project.id, {
    name: 'example-spec.md',
    text,
  });
  await db.rules.bulkAdd(HARBOR_RULES.map((r) => ({ ...r, projectId: project.id, specVersionId })));
  await sampleAndStoreInstances(db, project.id, specVersionId, { count: 3, seed: 1 });
  const instances = await db.instances.toArray();
  const request: SynthesisRequest = {
    specVersionId,
    instanceIds: instances.map((i) => i.id),
    controls: DEFAULT_CONTROLS,
    seed: 3,
    maxTasks: TASKS,
    ...options,
  };
  const plan = await planSynthesis(db, project.id, request);
  const { runId } = await startSynthesisRun(db, project.id, request);
  const engines = new Map<string, ScriptedEngine>();
  const calls = new Map<string, number>();
  const engineForConfig = async (config: EngineConfig): Promise<ChatEngine> => {
    const key = engineKey(config);
    let engine = engines.get(key);
    if (!engine) {
      engine = new ScriptedEngine(
        (r) => {
          const tag = `${config.model}:${agentOfMessages(r.messages)}`;
          calls.set(tag, (calls.get(tag) ?? 0) + 1);
          return (
            societyScript({
              messages: r.messages,
              response_format: { type: 'json_schema' },
            } as never) ?? '{}'
          );
        },
        { id: key },
      );
      engines.set(key, engine);
    }
    return engine;
  };
  const run = await db.runs.get(runId);
  if (!run) throw new Error('run vanished');
  await executeRun(db, runId, synthesisHandler(run), {
    signal: new AbortController().signal,
    engineFor: (role: AgentRole) =>
      engineForConfig(
        (models.roleModels as Partial<Record<AgentRole, EngineConfig>>)[role] ??
          models.defaultModel,
      ),
    engineForConfig,
  });
  const pairs = (await db.pairs.where('runId').equals(runId).toArray()).flatMap((p) => {
    const read = readPairProvenance(p.provenance, p.id);
    return read.ok && read.value ? [read.value] : [];
  });
  db.close();
  return { plan, engines, calls, pairs };
}

const pct = (a: number, b: number) => `${Math.round((100 * a) / Math.max(1, b))} %`;

export async function benchRoles(): Promise<RolesRow[]> {
  const targetKey = engineKey(TARGET);
  const elicited = (path: string) => path === 'defender-violated' || path === 'over-refusal';

  const off = await runWith({});
  const on = await runWith({ defenderIsTarget: true });
  const defenderCalls = (r: typeof on, model: string) => r.calls.get(`${model}:defender`) ?? 0;
  const onElicited = on.pairs.filter((p) => elicited(p.path));
  const fromTarget = onElicited.filter((p) => p.engines.defender === targetKey).length;
  const offFromTarget = off.pairs.filter(
    (p) => elicited(p.path) && p.engines.defender === targetKey,
  ).length;

  const rotated = await runWith({ rotate: [engineKey(SOCIETY), targetKey] });
  const per = (model: string, agent: string) => rotated.calls.get(`${model}:${agent}`) ?? 0;

  // The per-model estimate against what each model's engine generated in the on-policy run.
  const estimated = new Map(
    (on.plan.estimate.perModel ?? []).map((m) => [m.label, m.completionTokens]),
  );
  const actual = (model: string) => on.engines.get(engineKey(endpoint(model)))?.completionTokens;
  const ratio = (model: string) =>
    ((actual(model) ?? 0) / Math.max(1, estimated.get(model) ?? 0)).toFixed(2);

  const orders = 100_000;
  const t0 = performance.now();
  for (let i = 0; i < orders; i++)
    assignTaskRoles(i, { defenderTarget: 't', rotate: ['a', 'b', 'c', 't'] });
  const assignMs = performance.now() - t0;

  return [
    {
      metric: 'On-policy defender: defender calls on the evaluation target',
      value: `${defenderCalls(on, 'target')} of ${defenderCalls(on, 'target') + defenderCalls(on, 'society')} (without the option ${defenderCalls(off, 'target')} of ${defenderCalls(off, 'target') + defenderCalls(off, 'society')})`,
      note: `${TASKS} tasks of the scripted society; every other agent, the chosen writer included, stays on the default model`,
    },
    {
      metric: 'On-policy defender: elicited rejected sides that are the target’s own replies',
      value: `${fromTarget} of ${onElicited.length} (${pct(fromTarget, onElicited.length)}; without the option ${offFromTarget})`,
      note: `elicited = the defender violated or refused needlessly; ${on.pairs.length} pairs; the rest (${pct(on.pairs.length - onElicited.length, on.pairs.length)}) were written by the violator. The society’s defender answers the same whatever the model, so this shows where rejected sides come from, not how often a smaller target fails`,
    },
    {
      metric: 'Role rotation between 2 models: attacks / defences per model',
      value: `society ${per('society', 'attacker')} / ${per('society', 'defender')}, target ${per('target', 'attacker')} / ${per('target', 'defender')}`,
      note: `${TASKS} tasks; A attacks B, then B attacks A by task order (decided at planning, stored per task); a defender answers once per task`,
    },
    {
      metric: 'Per-model estimate: generated tokens, run ÷ estimate',
      value: `target ${ratio('target')}, society ${ratio('society')}`,
      note: `on-policy run of ${TASKS} tasks: target ${actual('target')} generated vs ${estimated.get('target')} estimated; society ${actual('society')} vs ${estimated.get('society')} (the scripted society writes shorter replies than the estimate's typical lengths)`,
    },
    {
      metric: 'Role assignment at planning',
      value: `${((assignMs * 1000) / orders).toFixed(2)} µs per task`,
      note: `${orders.toLocaleString('en')} task orders, target as defender and 3 rotating attackers`,
    },
  ];
}

// Run alone: the rows as BENCHMARKS.md shows them.
if (process.argv[1]?.endsWith('bench-roles.ts'))
  for (const row of await benchRoles())
    console.log(`| ${row.metric} | ${row.value} | ${row.note} |`);
