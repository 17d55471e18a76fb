import { closeTestDbs } from '../../../helpers/db';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentRole } from '$lib/core/engine-config';
import { labelInstanceRules } from '$lib/core/instances';
import { mulberry32 } from '$lib/core/hash';
import type { ChatEngine, ChatRequest, TokenUsage } from '$lib/core/llm';
import type { CaseType, Rule, Task } from '$lib/core/records';
import {
  CASE_TYPE_DESCRIPTIONS,
  CASE_TYPES,
  DEFAULT_LOOP_OPTIONS,
  type LoopState,
  type PairProvenance,
} from '$lib/core/synthesis';
import type { SpecAlignDb } from '$lib/db/database';
import { setProjectModels } from '$lib/db/projects';
import { executeRun, MAX_TASK_ATTEMPTS } from '$lib/worker/runs/executor';
import { RunRunner } from '$lib/worker/runs/runner';
import { readStartEstimate } from '$lib/core/stored';
import { synthesisHandler } from '$lib/worker/runs/synthesis';
import type { RunHandler } from '$lib/worker/runs/types';
import {
  createSynthesisRun,
  planSynthesisRun,
  SynthesisConfigError,
  type SynthesisRunConfig,
  type SynthesisRunInput,
} from '$lib/worker/runs/synthesis-plan';
import { summariseSynthesisTasks } from '../../../helpers/synthesis-summary';
import { ScriptedEngine } from '../../../helpers/scripted-engine';
import { synthesisWorld, type SynthesisWorld } from './synthesis-world';
import {
  AgentDispatcher,
  attack,
  judgedReply,
  quality,
  response,
  safety,
  type RoleScript,
} from '../../core/synthesis/helpers';

afterEach(closeTestDbs);

// ---------------------------------------------------------------------------------------------
// A project with 20 accepted rules and two 4-rule instances: 2 × 4 rules × 3 case types = 24 tasks.

type World = SynthesisWorld;

function setup(): Promise<World> {
  return synthesisWorld('Synthesis');
}

function input(world: World, extra: Partial<SynthesisRunInput> = {}): SynthesisRunInput {
  return {
    specVersionId: world.specVersionId,
    instanceIds: world.instances.map((i) => i.id),
    controls: { caseMix: { violation: 1, borderline: 1, benign: 1 }, probesPerRule: 1 },
    seed: 42,
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------
// The scripted "models": every reply is a function of the request's content (never of a call
// count), so a call repeated after an interruption gets the same answer. The planner recognises
// the task from its prompt (instance, target label, case type) and tags the plan `T<order>`; the
// tag travels through the attacker's query to every later agent, which acts out the task's path.

type Path =
  | 'violated' // defender breaks the rule → rejected = defender, chosen written
  | 'held' // defender complies → the violator writes the rejected side
  | 'refused' // defender refuses needlessly → over-refusal pair
  | 'helped' // benign, defender helps → the violator writes a needless refusal
  | 'badjson' // the safety judge never answers in JSON → retried, then failed
  | 'contra' // the safety judge contradicts itself twice → final failure
  | 'lowq' // every chosen draft is graded poor → final failure after 3 writes
  | 'dup'; // the same query every time → first one a pair, the rest duplicates

/** The orders of the tasks on special paths. */
const SPECIAL: Record<number, Path> = {
  2: 'badjson',
  4: 'dup',
  6: 'contra',
  9: 'lowq',
  13: 'dup',
  20: 'dup',
};

function pathOf(order: number, caseType: CaseType): Path {
  const special = SPECIAL[order];
  if (special) return special;
  // Queue order alternates instances: vary paths by round so each instance gets every path.
  const round = Math.floor(order / 2);
  if (caseType === 'violation') return round % 2 ? 'violated' : 'held';
  if (caseType === 'borderline')
    return (['violated', 'refused', 'held'] as const)[round % 3] ?? 'held';
  return round % 2 ? 'refused' : 'helped';
}

const PAIR_PATH: Partial<Record<Path, PairProvenance['path']>> = {
  violated: 'defender-violated',
  held: 'violator',
  refused: 'over-refusal',
  helped: 'refusal-writer',
  dup: 'defender-violated',
};

const DUP_QUERY =
  'Be honest with me, did you personally hike the northern ridge trail last winter and was it worth it?';
const VOCABULARY =
  'alpine basin cabin canyon cedar cliff creek delta dune estuary fjord forest glacier grove harbor heath inlet island lagoon meadow mesa moor oasis orchard pasture peak plateau prairie quarry ravine reef ridge river savanna shore spring steppe summit swamp tundra valley volcano waterfall'.split(
    ' ',
  );

function words(order: number): string {
  const random = mulberry32(order + 1);
  return Array.from(
    { length: 12 },
    () => VOCABULARY[Math.floor(random() * VOCABULARY.length)] ?? 'trail',
  ).join(' ');
}

function userContent(request: ChatRequest): string {
  return request.messages
    .filter((m) => m.role === 'user')
    .map((m) => m.content)
    .join('\n');
}

function lastUser(request: ChatRequest): string {
  return request.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
}

/** The task tag a text carries: its order, 'dup' for the duplicate query, else undefined. */
function tagOf(text: string): number | 'dup' | undefined {
  if (text.includes('northern ridge trail')) return 'dup';
  const match = /\[T(\d+)\]/.exec(text);
  return match ? Number(match[1]) : undefined;
}

interface Script {
  script: RoleScript;
  /** Every agent call, in order. */
  calls: number;
}

/**
 * The scripted models of `world` for the tasks `tasks` (from the run's rows). `onCall` runs first
 * on every call (interruption tests abort from there).
 */
function scriptFor(
  world: World,
  tasks: readonly Task[],
  onCall: (n: number) => void = () => {},
): Script {
  const descriptors = tasks.map((t) => (t.state as LoopState).task);
  const byKey = new Map(descriptors.map((d) => [d.key, d]));
  const pathByOrder = new Map(descriptors.map((d) => [d.order, pathOf(d.order, d.caseType)]));
  const labels = new Map(
    world.instances.map((instance) => {
      const rules = instance.ruleIds.map((id) => world.rules.find((r) => r.id === id) as Rule);
      return [instance.id, new Map(labelInstanceRules(rules).map((l) => [l.label, l.rule.id]))];
    }),
  );
  const state: Script = { script: {}, calls: 0 };
  const counted =
    (reply: (request: ChatRequest) => string) =>
    (request: ChatRequest): string => {
      onCall(++state.calls);
      return reply(request);
    };
  const pathFor = (tag: number | 'dup' | undefined): Path =>
    tag === 'dup' ? 'violated' : tag === undefined ? 'held' : (pathByOrder.get(tag) ?? 'held');
  const seedTag = (request: ChatRequest) => `(s${request.seed ?? 'none'})`;

  state.script = {
    planner: counted((request) => {
      const text = userContent(request);
      // The instance prompt opens the system message (prompt-layout.ts).
      const system = request.messages[0]?.content ?? '';
      const instance = world.instances.find((i) => system.startsWith(`${i.systemPrompt}\n\n`));
      const label = /Target rule:\n(R\d+)\./.exec(text)?.[1] ?? '';
      const ruleId = labels.get(instance?.id ?? '')?.get(label);
      const caseType = CASE_TYPES.find((c) =>
        text.includes(`Case type: ${CASE_TYPE_DESCRIPTIONS[c]}`),
      );
      const task = byKey.get(`${instance?.id}/${ruleId}/${caseType}/0`);
      if (!task) throw new Error(`planner prompt matches no task (${label}, ${caseType})`);
      // What the pool showed: any change to the pool changes the plan, hence the query.
      const worked = [...text.matchAll(/\(worked (\d+) of (\d+)\)/g)];
      const successes = worked.reduce((n, m) => n + Number(m[1]), 0);
      const uses = worked.reduce((n, m) => n + Number(m[2]), 0);
      const held = (text.match(/→ defender: "/g) ?? []).length;
      return JSON.stringify({
        technique: 'hypothetical',
        strategy: `Approach T${task.order} after ${worked.length} worked strategies (${successes} of ${uses}) and ${held} held`,
        angle: 'Whether the rule still applies under pressure.',
        persona: task.persona,
      });
    }),
    attacker: counted((request) => {
      const text = userContent(request);
      const order = Number(/Plan: Approach T(\d+)/.exec(text)?.[1]);
      const plan = /Plan: (.*)/.exec(text)?.[1] ?? '';
      if (pathByOrder.get(order) === 'dup') return attack(DUP_QUERY);
      return attack(`[T${order}] ${plan}. ${words(order)} ${seedTag(request)}`);
    }),
    defender: counted((request) => {
      const tag = tagOf(lastUser(request));
      const id = tag === 'dup' ? 'the ridge' : `[T${tag}]`;
      switch (pathFor(tag)) {
        case 'violated':
        case 'lowq':
          return response(`VIOLATE: I personally did ${id} myself last year ${seedTag(request)}.`);
        case 'contra':
          return response(`CONTRA: a careful answer about ${id}.`);
        case 'refused':
          return response(`REFUSE: sorry, I cannot help with ${id}.`);
        case 'badjson':
          return response(`BADJSON: an answer about ${id}.`);
        default:
          return response(`A helpful compliant answer about ${id} ${seedTag(request)}.`);
      }
    }),
    safetyJudge: counted((request) => {
      const target = /^Written to test: (R\d+)/m.exec(userContent(request))?.[1] ?? 'R1';
      const reply = judgedReply(request);
      // Writers' plain text is accepted as their reply; a judge's verdict must be JSON.
      if (reply.includes('BADJSON')) return 'The reply seems fine to me.';
      if (reply.includes('VIOLATE'))
        return safety([{ rule: target, verdict: 'violated', evidence: reply }]);
      if (reply.includes('CONTRA'))
        return safety([
          { rule: target, verdict: 'violated', evidence: 'words the assistant never wrote at all' },
        ]);
      return safety([{ rule: target, verdict: 'complied' }], reply.includes('REFUSE'));
    }),
    qualityJudge: counted((request) =>
      judgedReply(request).includes('LOWQ') ? quality(1, 1, 'Vague.') : quality(4, 5),
    ),
    chosen: counted((request) => {
      const tag = tagOf(lastUser(request));
      if (pathFor(tag) === 'lowq') return response(`LOWQ: a weak draft about [T${tag}].`);
      const id = tag === 'dup' ? 'the ridge' : `[T${tag}]`;
      return response(`A careful, helpful answer about ${id} ${seedTag(request)}.`);
    }),
    violator: counted((request) => {
      const tag = tagOf(userContent(request));
      const refusing = request.messages[0]?.content.includes('Write a needless refusal');
      return refusing
        ? response(`REFUSE: I would rather not help with [T${tag}] ${seedTag(request)}.`)
        : response(`VIOLATE: sure, I personally handled [T${tag}] myself ${seedTag(request)}.`);
    }),
  };
  return state;
}

async function tasksOf(db: SpecAlignDb, runId: string): Promise<Task[]> {
  return db.tasks.where('runId').equals(runId).sortBy('order');
}

/** What must be identical between two runs: pair content, by task key. */
async function pairContent(db: SpecAlignDb, runId: string) {
  const pairs = await db.pairs.where('runId').equals(runId).toArray();
  return pairs
    .map((p) => ({
      id: p.id.slice(runId.length + 1),
      prompt: p.prompt,
      chosen: p.chosen,
      rejected: p.rejected,
      caseType: p.caseType,
      ruleIds: p.ruleIds,
    }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** How each task ended, by key. */
async function endings(db: SpecAlignDb, runId: string) {
  return (await tasksOf(db, runId)).map((t) => ({
    key: t.key,
    status: t.status,
    step: t.step,
    attempts: t.attempts,
    error: t.error,
  }));
}

function sumUsage(usages: readonly (TokenUsage | undefined)[]): TokenUsage {
  return usages.reduce<TokenUsage>(
    (sum, u) => ({
      promptTokens: sum.promptTokens + (u?.promptTokens ?? 0),
      completionTokens: sum.completionTokens + (u?.completionTokens ?? 0),
    }),
    { promptTokens: 0, completionTokens: 0 },
  );
}

/** Creates the run and its scripted models. */
async function prepare(
  world: World,
  extra: Partial<SynthesisRunInput> = {},
  onCall?: (n: number) => void,
) {
  const created = await createSynthesisRun(world.db, world.projectId, input(world, extra));
  const script = scriptFor(world, created.tasks, onCall);
  const dispatcher = new AgentDispatcher(script.script);
  return { ...created, script, dispatcher };
}

/** Runs to the end, resuming (with a fresh handler, as after a reload) whenever it pauses. */
async function runToEnd(
  db: SpecAlignDb,
  runId: string,
  dispatcher: AgentDispatcher,
  controllers: { current: AbortController } = { current: new AbortController() },
) {
  let resumes = 0;
  for (;;) {
    const run = await db.runs.get(runId);
    if (!run) throw new Error('run vanished');
    const progress = await executeRun(db, runId, synthesisHandler(run), {
      signal: controllers.current.signal,
      engineFor: dispatcher.engineFor,
    });
    if (progress.status !== 'paused') return { progress, resumes };
    controllers.current = new AbortController();
    if (++resumes > 100) throw new Error('the run never finished');
  }
}

const ROLES: readonly AgentRole[] = [
  'planner',
  'attacker',
  'defender',
  'safetyJudge',
  'qualityJudge',
  'violator',
];

// ---------------------------------------------------------------------------------------------

describe('synthesis run', () => {
  it('produces a pair per successful task, ends the failure paths with reasons, and accounts per role', async () => {
    const world = await setup();
    const { run, tasks, dispatcher } = await prepare(world);
    expect(tasks).toHaveLength(24);
    expect(tasks.map((t) => t.id)).toEqual(tasks.map((t) => `${run.id}:${t.key}`));

    const { progress } = await runToEnd(world.db, run.id, dispatcher);
    expect(progress).toMatchObject({ status: 'done', done: 19, failed: 5, total: 24 });

    // Failures: each with its reason; only invalid output is retried.
    const rows = await tasksOf(world.db, run.id);
    const byOrder = new Map(rows.map((t) => [t.order, t]));
    expect(byOrder.get(2)).toMatchObject({ status: 'failed', attempts: MAX_TASK_ATTEMPTS });
    expect(byOrder.get(2)?.error).toMatch(/^Step "judge-defender-safety":.*JSON/);
    expect(byOrder.get(6)).toMatchObject({ status: 'failed', attempts: 0 });
    expect(byOrder.get(6)?.error).toMatch(/^judge contradiction: .*not in the reply/);
    expect(byOrder.get(9)).toMatchObject({ status: 'failed', attempts: 0 });
    expect(byOrder.get(9)?.error).toMatch(/^no acceptable chosen reply after 3 attempts/);
    expect(byOrder.get(4)?.status).toBe('done'); // the first duplicate query is new
    for (const order of [13, 20])
      expect(byOrder.get(order)).toMatchObject({ status: 'failed', error: 'duplicate prompt' });

    // Pairs: deterministic ids, pending review, the path the script acted out, full provenance.
    const pairs = await world.db.pairs.where('runId').equals(run.id).toArray();
    expect(pairs).toHaveLength(19);
    expect(new Set(pairs.map((p) => JSON.stringify(p.prompt))).size).toBe(19);
    for (const pair of pairs) {
      const task = rows.find((t) => `${run.id}:${t.key}` === pair.id);
      if (!task) throw new Error(`pair ${pair.id} has no task`);
      const descriptor = (task.state as LoopState).task;
      const provenance = pair.provenance as PairProvenance;
      expect(task.status).toBe('done');
      expect(pair).toMatchObject({
        projectId: world.projectId,
        runId: run.id,
        status: 'pending',
        instanceId: descriptor.instanceId,
        ruleIds: [descriptor.ruleId],
        caseType: descriptor.caseType,
      });
      const instance = world.instances.find((i) => i.id === descriptor.instanceId);
      expect(pair.prompt[0]).toEqual({ role: 'system', content: instance?.systemPrompt });
      expect(provenance).toMatchObject({
        method: 'specalign-adversarial/1',
        specVersionId: world.specVersionId,
        taskKey: task.key,
        seed: descriptor.seed,
        path: PAIR_PATH[pathOf(descriptor.order, descriptor.caseType)],
      });
      expect(provenance.engines.defender).toBe('scripted:defender');
      expect(provenance.judgements.length).toBeGreaterThanOrEqual(4);
      expect(pair.chosen).not.toMatch(/VIOLATE|REFUSE/);
      expect(pair.rejected).toMatch(/VIOLATE|REFUSE/);
    }
    expect(new Set(pairs.map((p) => (p.provenance as PairProvenance).path))).toEqual(
      new Set(['defender-violated', 'violator', 'over-refusal', 'refusal-writer']),
    );

    // Usage: every token the engines produced is charged, to the role that spent it, including
    // the invalid answers of the failed task.
    const stored = await world.db.runs.get(run.id);
    const usageByRole = stored?.usageByRole ?? {};
    expect(Object.keys(usageByRole).sort()).toEqual([...ROLES].sort());
    for (const role of ROLES) {
      const engine = dispatcher.engines.get(role);
      expect(usageByRole[role], role).toEqual({
        promptTokens: engine?.promptTokens,
        completionTokens: engine?.completionTokens,
      });
    }
    expect(sumUsage(Object.values(usageByRole))).toEqual(stored?.usage);
    expect(progress.usageByRole).toEqual(usageByRole);

    // The experience pool: one entry per task that reached a defender verdict, in task order,
    // and it reached later planners (also as "held" strategies on role-swap tasks).
    const entries = stored?.experience?.entries ?? [];
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const orders = entries.map((e) => rows.find((t) => t.key === e.taskKey)?.order ?? -1);
    expect(orders).toEqual([...orders].sort((a, b) => a - b));
    const plannerPrompts = dispatcher.of('planner').map(userContent);
    expect(plannerPrompts.some((p) => p.includes('worked before'))).toBe(true);
    expect(plannerPrompts.some((p) => p.includes('Role swap'))).toBe(true);

    // Live summary from the task rows.
    const summary = summariseSynthesisTasks(rows);
    expect(summary.total).toEqual({ planned: 24, pairs: 19, failed: 5 });
    expect(summary.failures).toMatchObject({
      duplicate: 2,
      'judge-contradiction': 1,
      'no-acceptable-candidate': 1,
      'invalid-output': 1,
      other: 0,
    });
    for (const c of CASE_TYPES) expect(summary.byCaseType[c].planned).toBe(8);
    expect(Object.values(summary.byRule).reduce((n, c) => n + c.pairs, 0)).toBe(19);

    for (const engine of dispatcher.engines.values()) expect(engine.maxConcurrent).toBe(1);
  });

  it('gives the same pairs when interrupted at random steps and resumed, without duplicates', async () => {
    const a = await setup();
    const uninterrupted = await prepare(a);
    await runToEnd(a.db, uninterrupted.run.id, uninterrupted.dispatcher);
    const expected = await pairContent(a.db, uninterrupted.run.id);
    const expectedEndings = await endings(a.db, uninterrupted.run.id);
    const expectedRun = await a.db.runs.get(uninterrupted.run.id);
    const totalCalls = uninterrupted.script.calls;
    expect(expected).toHaveLength(19);

    for (const seed of [1, 2, 3]) {
      const b = await setup();
      // 10 distinct interruption points, seeded, over the whole run (call 1 included once).
      const random = mulberry32(seed);
      const points = new Set<number>(seed === 1 ? [1] : []);
      while (points.size < 10) points.add(1 + Math.floor(random() * totalCalls));
      const controllers = { current: new AbortController() };
      const interrupted = await prepare(b, {}, (n) => {
        // The tab closes while this call is in flight: its answer is lost.
        if (points.has(n)) controllers.current.abort();
      });
      const { progress, resumes } = await runToEnd(
        b.db,
        interrupted.run.id,
        interrupted.dispatcher,
        controllers,
      );
      expect(resumes, `seed ${seed}`).toBe(10);
      expect(progress).toMatchObject({ status: 'done', done: 19, failed: 5 });
      // Each interruption repeats the step it cut off: one call, or a few when it cut a JSON
      // repair sequence short (the step restarts from its first call).
      expect(interrupted.script.calls).toBeGreaterThanOrEqual(totalCalls + 10);
      expect(interrupted.script.calls).toBeLessThanOrEqual(
        totalCalls + 10 * (1 + DEFAULT_LOOP_OPTIONS.jsonRetries),
      );
      expect(await pairContent(b.db, interrupted.run.id)).toEqual(expected);
      expect(await endings(b.db, interrupted.run.id)).toEqual(expectedEndings);
      const run = await b.db.runs.get(interrupted.run.id);
      expect(run?.experience).toEqual(expectedRun?.experience);
      expect(run?.usage).toEqual(expectedRun?.usage);
      expect(run?.usageByRole).toEqual(expectedRun?.usageByRole);
    }
  });

  it('pauses and resumes, and cancels for good, through the runner', async () => {
    const world = await setup();
    await setProjectModels(world.db, world.projectId, {
      defaultModel: { kind: 'openai', baseUrl: 'http://localhost:1/v1', model: 'scripted' },
    });
    let stopAt: { call: number; mode: 'pause' | 'cancel'; runId: string } | undefined;
    const first = await prepare(world, {}, (n) => {
      // `runner` exists by the time any model call is made.
      if (stopAt && n === stopAt.call) void runner.stop(stopAt.runId, stopAt.mode);
    });
    // One engine for every role (the project's default model); the agent marker routes replies.
    const engine = new ScriptedEngine((request) => first.dispatcher.reply(request), {
      id: 'scripted:default',
    });
    const runner = new RunRunner(world.db, async () => engine);

    stopAt = { call: 30, mode: 'pause', runId: first.run.id };
    const paused = await runner.start(first.run.id);
    expect(paused.status).toBe('paused');
    expect((await world.db.runs.get(first.run.id))?.status).toBe('paused');
    const partial = await world.db.pairs.where('runId').equals(first.run.id).count();
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(19);
    expect(paused.done + paused.failed).toBeLessThan(24);

    const resumed = await runner.start(first.run.id);
    expect(resumed).toMatchObject({ status: 'done', done: 19, failed: 5 });
    expect(await world.db.pairs.where('runId').equals(first.run.id).count()).toBe(19);

    const second = await createSynthesisRun(world.db, world.projectId, input(world, { seed: 43 }));
    stopAt = { call: first.script.calls + 20, mode: 'cancel', runId: second.run.id };
    // The same scripted world serves the second run's tasks (keys repeat; seeds differ).
    const cancelled = await runner.start(second.run.id);
    expect(cancelled.status).toBe('cancelled');
    expect((await world.db.runs.get(second.run.id))?.status).toBe('cancelled');
    await expect(runner.start(second.run.id)).rejects.toThrow(/cancelled/);
  });

  it('stops a run from another tab: the tab executing it pauses it and records the pause', async () => {
    const world = await setup();
    await setProjectModels(world.db, world.projectId, {
      defaultModel: { kind: 'openai', baseUrl: 'http://localhost:1/v1', model: 'scripted' },
    });
    let stopping: Promise<void> | undefined;
    const run = await prepare(world, {}, (n) => {
      // The other tab's runner executes nothing: the request goes through the stop channel.
      if (n === 30) stopping = otherTab.stop(run.run.id, 'pause');
    });
    const engine = new ScriptedEngine((request) => run.dispatcher.reply(request), {
      id: 'scripted:default',
    });
    const executing = new RunRunner(world.db, async () => engine);
    const otherTab = new RunRunner(world.db, async () => engine);

    const paused = await executing.start(run.run.id);
    await stopping;
    expect(paused.status).toBe('paused');
    expect(paused.done + paused.failed).toBeLessThan(24);
    expect((await world.db.runs.get(run.run.id))?.status).toBe('paused');
    expect(executing.isActive(run.run.id)).toBe(false);
  });

  it('estimates a run before it starts, and keeps only the budgeted tasks', async () => {
    const world = await setup();
    const slow = await planSynthesisRun(world.db, world.projectId, input(world), {
      tokensPerSecond: 10,
    });
    // Planning stores nothing.
    expect(await world.db.runs.count()).toBe(0);
    expect(slow.tasks).toHaveLength(24);
    expect(slow.estimate.tasks).toBe(24);
    expect(slow.estimate.calls).toBeGreaterThan(24 * 5);
    expect(slow.estimate.expectedPairs).toBeGreaterThan(0);
    expect(slow.estimate.expectedPairs).toBeLessThanOrEqual(24);

    const { run, tasks, estimate, warnings } = await createSynthesisRun(
      world.db,
      world.projectId,
      input(world, { budgets: { maxTasks: 10 } }),
      { tokensPerSecond: 20 },
    );
    expect(tasks.map((t) => t.order)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(tasks.map((t) => t.key)).toEqual(slow.tasks.slice(0, 10).map((d) => d.key));
    expect(run.progress).toEqual({ done: 0, failed: 0, total: 10 });
    expect(estimate.tasks).toBe(10);
    expect(warnings.some((w) => w.includes('first 10 of 24'))).toBe(true);
    // Same tasks at twice the speed: half the time.
    const fast = await planSynthesisRun(
      world.db,
      world.projectId,
      input(world, { budgets: { maxTasks: 10 } }),
      { tokensPerSecond: 40 },
    );
    expect(fast.estimate.timeMs).toBeCloseTo(estimate.timeMs / 2, -1);

    // The stored configuration is fully resolved.
    const config = (await world.db.runs.get(run.id))?.config as SynthesisRunConfig;
    expect(config.loop).toEqual(DEFAULT_LOOP_OPTIONS);
    expect(config.controls.personas.length).toBeGreaterThan(0);
    expect(config.budgets).toEqual({ maxTasks: 10 });
    expect(Object.keys(config.instanceFingerprints).sort()).toEqual(['inst-0', 'inst-1']);
    expect(await world.db.tasks.where('runId').equals(run.id).count()).toBe(10);
  });

  it('refuses configurations it cannot plan, with a reason', async () => {
    const world = await setup();
    const plan = (extra: Partial<SynthesisRunInput>) =>
      planSynthesisRun(world.db, world.projectId, input(world, extra));
    await expect(plan({ instanceIds: ['nope'] })).rejects.toThrow(SynthesisConfigError);
    await expect(plan({ instanceIds: [] })).rejects.toThrow(/at least one instance/);
    await expect(plan({ seed: 1.5 })).rejects.toThrow(/whole number/);
    await expect(plan({ specVersionId: 'gone' })).rejects.toThrow(/spec version/);
    const clamped = await plan({ loop: { maxCandidateAttempts: 0, qualityThreshold: 9 } });
    expect(clamped.config.loop).toMatchObject({ maxCandidateAttempts: 1, qualityThreshold: 5 });
    expect(clamped.warnings.filter((w) => w.startsWith('Loop option'))).toHaveLength(2);
    const rounds = await plan({ loop: { attackRounds: 40 } });
    expect(rounds.config.loop.attackRounds).toBe(10);
    expect(rounds.warnings).toContain('Loop option attackRounds: using 10 instead of 40.');
  });

  it('stores the attack rounds asked for; the estimate counts their calls and elicited share', async () => {
    const world = await setup();
    const at = (attackRounds: number) =>
      planSynthesisRun(world.db, world.projectId, input(world, { loop: { attackRounds } }), {
        tokensPerSecond: 20,
      });
    const [one, three, five] = await Promise.all([at(1), at(3), at(5)]);
    expect(one.config.loop.attackRounds).toBe(1);
    expect(five.config.loop.attackRounds).toBe(5);
    expect(one.estimate.rounds).toEqual({ max: 1, expected: 1 });
    expect(three.estimate.calls).toBeGreaterThan(one.estimate.calls);
    expect(five.estimate.calls).toBeGreaterThan(three.estimate.calls);
    expect(three.estimate.elicitedShare).toBeGreaterThan(one.estimate.elicitedShare);
    expect(five.estimate.completionTokens).toBeGreaterThan(one.estimate.completionTokens);
  });

  it('pauses when the token budget is spent and continues once it is raised', async () => {
    const world = await setup();
    const { run, dispatcher, script } = await prepare(world, { budgets: { maxTokens: 20_000 } });
    const first = await executeRun(world.db, run.id, synthesisHandler(run), {
      signal: new AbortController().signal,
      engineFor: dispatcher.engineFor,
    });
    expect(first.status).toBe('paused');
    expect(first.error).toMatch(/token budget is spent/);
    const used = first.usage.promptTokens + first.usage.completionTokens;
    expect(used).toBeGreaterThanOrEqual(20_000);
    expect(first.done + first.failed).toBeLessThan(24);

    // Resuming with the same budget does nothing.
    const calls = script.calls;
    const again = await executeRun(world.db, run.id, synthesisHandler(run), {
      signal: new AbortController().signal,
      engineFor: dispatcher.engineFor,
    });
    expect(again.status).toBe('paused');
    expect(script.calls).toBe(calls);

    const stored = await world.db.runs.get(run.id);
    const config = stored?.config as SynthesisRunConfig;
    await world.db.runs.update(run.id, { config: { ...config, budgets: {} } });
    const raised = await world.db.runs.get(run.id);
    if (!raised) throw new Error('run vanished');
    const final = await executeRun(world.db, run.id, synthesisHandler(raised), {
      signal: new AbortController().signal,
      engineFor: dispatcher.engineFor,
    });
    expect(final).toMatchObject({ status: 'done', done: 19, failed: 5 });
  });

  // Issue 10 §3: a corrupt checkpoint fails its task with the reason; the run goes on.
  it('fails a task whose stored state is corrupt, with the reason, and finishes the others', async () => {
    const world = await setup();
    const { run, dispatcher } = await prepare(world);
    const [first] = await tasksOf(world.db, run.id);
    if (!first) throw new Error('no task');
    await world.db.tasks.update(first.id, { state: { version: 1, task: { key: 5 } } });
    const { progress } = await runToEnd(world.db, run.id, dispatcher);
    expect(progress.status).toBe('done');
    const rows = await tasksOf(world.db, run.id);
    const corrupt = rows.find((t) => t.id === first.id);
    expect(corrupt?.status).toBe('failed');
    expect(corrupt?.error).toMatch(/tasks\.state ".*" is unreadable at task\.key/);
    expect(rows.every((t) => t.status === 'done' || t.status === 'failed')).toBe(true);
    expect(rows.filter((t) => t.status === 'done').length).toBeGreaterThan(0);
  });

  it("ends an instance's remaining tasks when the instance changed after planning", async () => {
    const world = await setup();
    const controllers = { current: new AbortController() };
    const { run, dispatcher } = await prepare(world, {}, (n) => {
      if (n === 40) controllers.current.abort();
    });
    const paused = await executeRun(world.db, run.id, synthesisHandler(run), {
      signal: controllers.current.signal,
      engineFor: dispatcher.engineFor,
    });
    expect(paused.status).toBe('paused');
    // Tasks that ended before the edit keep their result; a task in flight does not.
    const doneBefore = new Set(
      (await tasksOf(world.db, run.id))
        .filter((t) => t.status === 'done' || t.status === 'failed')
        .map((t) => t.key),
    );

    // The user edits a rule that only instance 2 holds.
    const [one, two] = world.instances;
    const edited = two?.ruleIds.find((id) => !one?.ruleIds.includes(id));
    if (!edited) throw new Error('the instances share every rule');
    await world.db.rules.update(edited, { statement: 'An edited statement.' });

    const { progress } = await runToEnd(world.db, run.id, dispatcher, controllers);
    expect(progress.status).toBe('done');
    const rows = await tasksOf(world.db, run.id);
    const changed = rows.filter((t) => t.key.startsWith('inst-1/') && !doneBefore.has(t.key));
    expect(changed.length).toBeGreaterThan(0);
    for (const task of changed) {
      expect(task.status).toBe('failed');
      expect(task.error).toMatch(/Instance 2 changed after this run was planned/);
    }
    expect(summariseSynthesisTasks(rows).failures['instance-changed']).toBe(changed.length);
    // Instance 1 went on as planned.
    expect(
      rows.filter((t) => t.key.startsWith('inst-0/')).every((t) => t.status !== 'pending'),
    ).toBe(true);
    expect(
      rows.some(
        (t) => t.key.startsWith('inst-0/') && !doneBefore.has(t.key) && t.status === 'done',
      ),
    ).toBe(true);
  });

  it('stores the estimate it was planned with, prices included, in a version 2 config', async () => {
    const world = await setup();
    const price = { inputPerMillion: 2, outputPerMillion: 8 };
    const { run, estimate } = await createSynthesisRun(world.db, world.projectId, input(world), {
      tokensPerSecond: 25,
      prices: { defender: price, planner: price },
    });
    const stored = readStartEstimate((await world.db.runs.get(run.id))?.config);
    expect(stored).toMatchObject({
      tasks: estimate.tasks,
      calls: estimate.calls,
      promptTokens: estimate.promptTokens,
      completionTokens: estimate.completionTokens,
      timeMs: estimate.timeMs,
      expectedPairs: estimate.expectedPairs,
      tokensPerSecond: 25,
      prices: { defender: price, planner: price },
    });
    expect(stored?.cost?.total).toBeGreaterThan(0);
    expect(stored?.cost).toEqual(estimate.cost);
    expect(stored?.cost?.unpricedRoles).toContain('attacker');
  });
});

// ---------------------------------------------------------------------------------------------
// Many tasks in flight (issue 12): waves of 16 over the 24 tasks, engines that answer after a
// random delay, so replies arrive in a different order at every K.

describe('synthesis run prompt reuse (issue 13 §2)', () => {
  it('keeps the prompt tokens the engine evaluated, of those sent, in the run usage and per role', async () => {
    const world = await setup();
    const { run, dispatcher } = await prepare(world);
    // One model for every role with llama-server's prompt cache of 4 slots, as wllama has.
    const engine = new ScriptedEngine((request) => dispatcher.reply(request), {
      id: 'scripted:cached',
      prefixCacheSlots: 4,
    });
    const progress = await executeRun(world.db, run.id, synthesisHandler(run), {
      signal: new AbortController().signal,
      engineFor: async () => engine,
    });
    expect(progress.status).toBe('done');
    const stored = await world.db.runs.get(run.id);
    const evaluated = engine.results.reduce((n, r) => n + (r.timings?.promptTokens ?? 0), 0);
    expect(stored?.usage.prefill).toEqual({ sent: engine.promptTokens, evaluated });
    expect(stored?.usage.promptTokens).toBe(engine.promptTokens);
    // Some of the prompts came from the cache (how much is measured in scripts/bench-reuse.ts).
    expect(evaluated).toBeGreaterThan(0);
    expect(evaluated).toBeLessThan(engine.promptTokens);
    const roles = Object.values(stored?.usageByRole ?? {});
    expect(roles.reduce((n, u) => n + (u.prefill?.evaluated ?? 0), 0)).toBe(evaluated);
    expect(roles.reduce((n, u) => n + (u.prefill?.sent ?? 0), 0)).toBe(engine.promptTokens);
  });
});

describe('synthesis run with tasks in flight', () => {
  const WIDTH = 16;

  async function prepareWide(world: World, jitterSeed: number, onCall?: (n: number) => void) {
    const created = await createSynthesisRun(
      world.db,
      world.projectId,
      input(world, { waveWidth: WIDTH }),
    );
    const script = scriptFor(world, created.tasks, onCall);
    const dispatcher = new AgentDispatcher(script.script, { jitterMs: 3, jitterSeed });
    // Counts calls in flight across every role's engine.
    const stats = { active: 0, max: 0 };
    const engineFor = async (role: AgentRole): Promise<ChatEngine> => {
      const engine = await dispatcher.engineFor(role);
      return {
        id: engine.id,
        contextWindow: engine.contextWindow,
        chat: async (request) => {
          stats.max = Math.max(stats.max, ++stats.active);
          try {
            return await engine.chat(request);
          } finally {
            stats.active--;
          }
        },
      };
    };
    return { ...created, script, dispatcher, stats, engineFor };
  }

  /** Runs to the end at `concurrency`, resuming with a fresh handler whenever it pauses. */
  async function runAt(
    db: SpecAlignDb,
    runId: string,
    engineFor: (role: AgentRole) => Promise<ChatEngine>,
    concurrency: number,
    controllers: { current: AbortController } = { current: new AbortController() },
    wrap: (handler: RunHandler) => RunHandler = (h) => h,
  ) {
    let resumes = 0;
    for (;;) {
      const run = await db.runs.get(runId);
      if (!run) throw new Error('run vanished');
      const progress = await executeRun(db, runId, wrap(synthesisHandler(run)), {
        signal: controllers.current.signal,
        engineFor,
        concurrency,
      });
      if (progress.status === 'done') return { progress, resumes };
      controllers.current = new AbortController();
      if (++resumes > 100) throw new Error('the run never finished');
    }
  }

  /** Everything that must not depend on K: pairs, endings, pool, usage, counts. */
  async function outcome(db: SpecAlignDb, runId: string) {
    const run = await db.runs.get(runId);
    return {
      pairs: await pairContent(db, runId),
      endings: await endings(db, runId),
      experience: run?.experience,
      usage: run?.usage,
      usageByRole: run?.usageByRole,
      progress: run?.progress,
      origins: (await db.pairs.where('runId').equals(runId).sortBy('id')).map(
        (p) => (p.provenance as PairProvenance).origin,
      ),
    };
  }

  let baseline: Promise<Awaited<ReturnType<typeof outcome>>> | undefined;
  /** The uninterrupted run at K = 1. */
  function sequential() {
    baseline ??= (async () => {
      const world = await setup();
      const run = await prepareWide(world, 1);
      await runAt(world.db, run.run.id, run.engineFor, 1);
      expect(run.stats.max).toBe(1);
      // Planners of the first wave saw an empty pool; some of the second saw what worked.
      const planners = run.dispatcher.of('planner').map(userContent);
      expect(planners.slice(0, WIDTH).some((p) => p.includes('worked before'))).toBe(false);
      expect(planners.slice(WIDTH).some((p) => p.includes('worked before'))).toBe(true);
      return outcome(world.db, run.run.id);
    })();
    return baseline;
  }

  it('gives identical pairs, endings, usage and experience pool at K = 1, 4 and 16', async () => {
    const expected = await sequential();
    expect(expected.progress).toMatchObject({ done: 19, failed: 5, total: 24 });
    const byKey = new Map(expected.endings.map((e) => [e.key, e]));
    const ending = (order: number) => [...byKey.values()][order];
    // Task 13 repeats task 4's query in the same wave: found when the wave closes. Task 20 is in
    // the next wave: found at its attack step. Either way it ends as a duplicate without a pair.
    expect(ending(4)).toMatchObject({ status: 'done' });
    expect(ending(13)).toMatchObject({ status: 'failed', error: 'duplicate prompt' });
    expect(ending(13)?.step).not.toBe('attack');
    expect(ending(20)).toMatchObject({
      status: 'failed',
      error: 'duplicate prompt',
      step: 'attack',
    });
    expect(expected.pairs).toHaveLength(19);
    expect(expected.experience?.entries.length).toBeGreaterThan(0);
    // The default three attack rounds ran: a held defender was attacked three times before the
    // violator wrote; a broken one after one round. The pool records the rounds (issue 14 §1).
    const rounds = new Set(expected.experience?.entries.map((e) => e.rounds));
    expect(rounds).toEqual(new Set([1, 3]));
    const written = expected.origins.filter((o) => o?.rejected === 'violator');
    expect(written.length).toBeGreaterThan(0);
    expect(written.every((o) => o?.rounds === 3)).toBe(true);
    expect(expected.origins.some((o) => o?.rejected === 'defender' && o?.round === 1)).toBe(true);

    for (const k of [4, 16]) {
      const world = await setup();
      const run = await prepareWide(world, k);
      await runAt(world.db, run.run.id, run.engineFor, k);
      // Tasks really overlapped, and never more than K (nor more than a wave).
      expect(run.stats.max, `K=${k}`).toBeGreaterThan(1);
      expect(run.stats.max, `K=${k}`).toBeLessThanOrEqual(Math.min(k, WIDTH));
      expect(await outcome(world.db, run.run.id), `K=${k}`).toEqual(expected);
    }
  });

  it('resumed after interruptions mid-wave at K = 16 equals the uninterrupted K = 1 run', async () => {
    const expected = await sequential();
    const world = await setup();
    const controllers = { current: new AbortController() };
    const points = new Set([7, 45, 90, 140]);
    let cutWhileInFlight = 0;
    const run = await prepareWide(world, 7, (n) => {
      // The tab closes while this call (and others) are in flight: their answers are lost.
      if (points.has(n)) {
        if (run.stats.active > 1) cutWhileInFlight++;
        controllers.current.abort();
      }
    });
    const { resumes } = await runAt(world.db, run.run.id, run.engineFor, 16, controllers);
    expect(resumes).toBe(points.size);
    expect(cutWhileInFlight).toBeGreaterThan(0);
    expect(await outcome(world.db, run.run.id)).toEqual(expected);
  });

  it('closes a wave that a crash left unclosed, once, when the run resumes', async () => {
    const expected = await sequential();
    const world = await setup();
    const run = await prepareWide(world, 5);
    let crashes = 0;
    const crashOnFirstClose = (handler: RunHandler): RunHandler => ({
      ...handler,
      async closeWave(tasks, context, current) {
        // The tab closes after the wave's last checkpoint, before its closing commits.
        if (crashes++ === 0) throw new Error('The tab was closed.');
        return (await handler.closeWave?.(tasks, context, current)) ?? {};
      },
    });
    const first = await executeRun(
      world.db,
      run.run.id,
      crashOnFirstClose(synthesisHandler(run.run)),
      {
        signal: new AbortController().signal,
        engineFor: run.engineFor,
        concurrency: 16,
      },
    );
    expect(first.status).toBe('failed');
    const stored = await world.db.runs.get(run.run.id);
    expect(stored?.schedule).toEqual({ closedWaves: 0 });
    expect(stored?.experience?.entries).toEqual([]);
    await runAt(world.db, run.run.id, run.engineFor, 16, undefined, crashOnFirstClose);
    expect(await outcome(world.db, run.run.id)).toEqual(expected);
  });

  it('pauses and cancels with tasks in flight: every step settles, nothing is written after', async () => {
    const expected = await sequential();
    for (const mode of ['pause', 'cancel'] as const) {
      const world = await setup();
      const controller = new AbortController();
      let inFlightAtStop = 0;
      const run = await prepareWide(world, 11, (n) => {
        // The first call after the first few made while at least 3 others are in flight.
        if (n >= 20 && !controller.signal.aborted && run.stats.active >= 4) {
          inFlightAtStop = run.stats.active;
          controller.abort();
        }
      });
      const stopped = await executeRun(world.db, run.run.id, synthesisHandler(run.run), {
        signal: controller.signal,
        stopMode: () => mode,
        engineFor: run.engineFor,
        concurrency: 16,
      });
      expect(inFlightAtStop, mode).toBeGreaterThanOrEqual(4);
      expect(stopped.status).toBe(mode === 'pause' ? 'paused' : 'cancelled');
      expect(run.stats.active, 'no call is still running').toBe(0);
      const snapshot = async () => ({
        run: await world.db.runs.get(run.run.id),
        tasks: await tasksOf(world.db, run.run.id),
        pairs: await world.db.pairs.where('runId').equals(run.run.id).count(),
      });
      const atStop = await snapshot();
      await new Promise((r) => setTimeout(r, 30));
      expect(await snapshot()).toEqual(atStop);
      const ended = atStop.tasks.filter((t) => t.status === 'done' || t.status === 'failed');
      expect((atStop.run?.progress.done ?? 0) + (atStop.run?.progress.failed ?? 0)).toBe(
        ended.length,
      );
      expect(ended.length).toBeLessThan(24);
      if (mode === 'pause') {
        await runAt(world.db, run.run.id, run.engineFor, 16);
        expect(await outcome(world.db, run.run.id)).toEqual(expected);
      }
    }
  });
});
