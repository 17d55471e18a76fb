/**
 * On-policy defender and role rotation (issue 14 §2) through the worker: planning stores each
 * task's attacker/defender models, the handler resolves engines per task from them, pairs record
 * who played what, and runs planned before the option still resume.
 */
import { closeTestDbs } from '../../../helpers/db';
import { afterEach, describe, expect, it } from 'vitest';
import { engineKey, type AgentRole, type EngineConfig } from '$lib/core/engine-config';
import type { ChatEngine, ChatRequest } from '$lib/core/llm';
import {
  agentOfMessages,
  type AgentName,
  type LoopState,
  type PairProvenance,
} from '$lib/core/synthesis';
import { loopStateV1, readRecord, synthesisRunConfigSchema } from '$lib/core/stored';
import type { SpecAlignDb } from '$lib/db/database';
import { setProjectModels } from '$lib/db/projects';
import { putModelSpeed } from '$lib/db/settings';
import { executeRun } from '$lib/worker/runs/executor';
import { runConcurrency } from '$lib/worker/runs/runner';
import { synthesisHandler } from '$lib/worker/runs/synthesis';
import { createSynthesisRun, type SynthesisRunInput } from '$lib/worker/runs/synthesis-plan';
import {
  planSynthesis,
  reloadWarnings,
  resolveRoleRequest,
  startSynthesisRun,
  type SynthesisRequest,
} from '$lib/worker/synthesis-service';
import { ScriptedEngine } from '../../../helpers/scripted-engine';
import { synthesisWorld } from './synthesis-world';
import { attack, judgedReply, plan, quality, response, safety } from '../../core/synthesis/helpers';

afterEach(closeTestDbs);

const endpoint = (model: string, extra: Partial<EngineConfig> = {}): EngineConfig =>
  ({ kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1', model, ...extra }) as EngineConfig;
const BIG = endpoint('big');
const SMALL = endpoint('small');
const OTHER = endpoint('other');

async function setup(models: {
  defaultModel: EngineConfig;
  roleModels?: Partial<Record<AgentRole, EngineConfig>>;
}) {
  const { db, projectId, specVersionId, instances } = await synthesisWorld('Roles', (db, id) =>
    setProjectModels(db, id, models),
  );
  const request: SynthesisRequest = {
    specVersionId,
    instanceIds: instances.map((i) => i.id),
    controls: {
      caseMix: { violation: 1, borderline: 1, benign: 1 },
      probesPerRule: 1,
      personas: ['a student'],
      difficulties: [2],
      multiTurnShare: 0,
      multiTurnLength: 2,
      languages: ['English'],
    },
    seed: 7,
  };
  return { db, projectId, request };
}

const userText = (r: ChatRequest) =>
  r.messages
    .filter((m) => m.role === 'user')
    .map((m) => m.content)
    .join('\n');

/** One reply per agent, a function of the request only (so resumes and any K give the same). */
function reply(request: ChatRequest): string {
  const agent = agentOfMessages(request.messages);
  switch (agent) {
    case 'planner':
      return plan(`Probe the rule, variant ${request.seed}.`);
    case 'attacker':
      return attack(
        `Question ${request.seed} about harbor tours ${(request.seed ?? 0) % 97} please`,
      );
    case 'defender':
      return response('A helpful compliant answer.');
    case 'chosen':
      return response('A careful, helpful answer.');
    case 'violator':
      return request.messages[0]?.content.includes('Write a needless refusal')
        ? response('REFUSE: I would rather not help with that.')
        : response('VIOLATE: sure, I personally did it myself.');
    case 'safetyJudge': {
      const target = /^Written to test: (R\d+)/m.exec(userText(request))?.[1] ?? 'R1';
      const judged = judgedReply(request);
      if (judged.includes('VIOLATE'))
        return safety([{ rule: target, verdict: 'violated', evidence: judged }]);
      return safety([{ rule: target, verdict: 'complied' }], judged.includes('REFUSE'));
    }
    case 'qualityJudge':
      return quality(4, 5);
    default:
      throw new Error(`no reply for ${agent}`);
  }
}

/** Engines by model: every request is logged with the agent it was for and the model it reached. */
function engines(project: {
  defaultModel: EngineConfig;
  roleModels?: Partial<Record<AgentRole, EngineConfig>>;
}) {
  const log: { model: string; agent: AgentName | undefined; seed: number | undefined }[] = [];
  const byKey = new Map<string, ChatEngine>();
  const engineForConfig = async (config: EngineConfig): Promise<ChatEngine> => {
    const key = engineKey(config);
    let engine = byKey.get(key);
    if (!engine) {
      engine = new ScriptedEngine(
        (request) => {
          log.push({
            model: config.model,
            agent: agentOfMessages(request.messages),
            seed: request.seed,
          });
          return reply(request);
        },
        { id: key, clock: () => 0 },
      );
      byKey.set(key, engine);
    }
    return engine;
  };
  const engineFor = (role: AgentRole) =>
    engineForConfig(project.roleModels?.[role] ?? project.defaultModel);
  return { log, engineFor, engineForConfig };
}

async function runToEnd(
  db: SpecAlignDb,
  runId: string,
  e: ReturnType<typeof engines>,
  concurrency = 1,
  stopAfterSteps?: number,
) {
  for (let resumes = 0; resumes < 200; resumes++) {
    const run = await db.runs.get(runId);
    if (!run) throw new Error('run vanished');
    const controller = new AbortController();
    let steps = 0;
    const handler = synthesisHandler(run);
    const wrapped = {
      ...handler,
      step: async (...args: Parameters<typeof handler.step>) => {
        const out = await handler.step(...args);
        if (stopAfterSteps && ++steps >= stopAfterSteps) controller.abort();
        return out;
      },
    };
    const progress = await executeRun(db, runId, wrapped, {
      signal: controller.signal,
      engineFor: e.engineFor,
      engineForConfig: e.engineForConfig,
      concurrency,
    });
    if (progress.status === 'done') return progress;
  }
  throw new Error('the run never finished');
}

async function pairsOf(db: SpecAlignDb, runId: string) {
  const pairs = await db.pairs.where('runId').equals(runId).toArray();
  return pairs
    .map((p) => ({
      key: (p.provenance as PairProvenance).taskKey,
      chosen: p.chosen,
      rejected: p.rejected,
      engines: (p.provenance as PairProvenance).engines,
      roleAssignment: (p.provenance as PairProvenance).roleAssignment,
    }))
    .sort((a, b) => (a.key < b.key ? -1 : 1));
}

describe('on-policy defender', () => {
  it('sends every defender call to the evaluation target, and records it per pair', async () => {
    const models = { defaultModel: BIG, roleModels: { target: SMALL } };
    const world = await setup(models);
    const { runId, tasks } = await startSynthesisRun(world.db, world.projectId, {
      ...world.request,
      defenderIsTarget: true,
    });
    expect(tasks).toBe(24);
    const stored = await world.db.tasks.where('runId').equals(runId).toArray();
    expect(stored.every((t) => (t.state as LoopState).roles?.defender === engineKey(SMALL))).toBe(
      true,
    );

    const e = engines(models);
    const progress = await runToEnd(world.db, runId, e);
    expect(progress).toMatchObject({ status: 'done', total: 24 });
    const defenderCalls = e.log.filter((l) => l.agent === 'defender');
    expect(defenderCalls.length).toBeGreaterThanOrEqual(24);
    expect(new Set(defenderCalls.map((l) => l.model))).toEqual(new Set(['small']));
    // Every other agent, the chosen writer included, stays on the project's models.
    expect(new Set(e.log.filter((l) => l.agent !== 'defender').map((l) => l.model))).toEqual(
      new Set(['big']),
    );
    const pairs = await pairsOf(world.db, runId);
    expect(pairs.length).toBeGreaterThan(0);
    for (const pair of pairs) {
      expect(pair.engines.defender).toBe(engineKey(SMALL));
      expect(pair.engines.attacker).toBe(engineKey(BIG));
      expect(pair.engines.safetyJudge).toBe(engineKey(BIG));
      expect(pair.roleAssignment).toEqual({ defender: engineKey(SMALL), defenderIsTarget: true });
    }
  });

  it('is refused with what to set when the project has no evaluation target of its own', async () => {
    const world = await setup({ defaultModel: BIG });
    await expect(
      planSynthesis(world.db, world.projectId, { ...world.request, defenderIsTarget: true }),
    ).rejects.toThrow(/Evaluation target/);
    expect(() => resolveRoleRequest({ rotate: ['openai:gone@x'] }, undefined)).toThrow(
      /no longer configured/,
    );
    expect(resolveRoleRequest({}, undefined)).toBeUndefined();
  });

  it('warns before the run when in-browser models would reload at every switch', async () => {
    const a: EngineConfig = { kind: 'webllm', model: 'Qwen2.5-1.5B-Instruct-q4f32_1-MLC' };
    const b: EngineConfig = { kind: 'webllm', model: 'Qwen2.5-0.5B-Instruct-q4f32_1-MLC' };
    const world = await setup({ defaultModel: a, roleModels: { target: b } });
    const plain = await planSynthesis(world.db, world.projectId, world.request);
    expect(plain.warnings.join('\n')).not.toMatch(/reloads a model/);
    const onPolicy = await planSynthesis(world.db, world.projectId, {
      ...world.request,
      defenderIsTarget: true,
    });
    expect(onPolicy.warnings.join('\n')).toMatch(/one of them at a time: the run reloads a model/);
    // Endpoints serve any number of models at once: no warning.
    expect(
      reloadWarnings({ id: 'p', name: 'p', createdAt: 0, updatedAt: 0, defaultModel: BIG }, {
        ...world.request,
        roles: { defenderTarget: SMALL },
      } as never),
    ).toEqual([]);
  });

  it('estimates each model at its own price', async () => {
    const priced = endpoint('small', {
      price: { inputPerMillion: 1, outputPerMillion: 2 },
    } as never);
    const world = await setup({ defaultModel: BIG, roleModels: { target: priced } });
    const plain = await planSynthesis(world.db, world.projectId, world.request);
    // Without the option no synthesis role runs on the priced target.
    expect(plain.estimate.cost?.total).toBe(0);
    expect(plain.estimate.perModel).toBeUndefined();
    const onPolicy = await planSynthesis(world.db, world.projectId, {
      ...world.request,
      defenderIsTarget: true,
    });
    const perModel = onPolicy.estimate.perModel ?? [];
    expect(perModel.map((m) => m.label).sort()).toEqual(['big', 'small']);
    const small = perModel.find((m) => m.label === 'small');
    // The defender answers on the target once per attack round (at least once per task), priced.
    expect(small?.calls).toBeGreaterThanOrEqual(24);
    expect(small?.calls).toBeCloseTo(onPolicy.estimate.perAgent.defender.calls, 1);
    // (Within the rounding of the token figures shown: expected rounds make them fractional.)
    expect(small?.cost).toBeCloseTo(
      ((small?.promptTokens ?? 0) * 1 + (small?.completionTokens ?? 0) * 2) / 1e6,
      5,
    );
    expect(onPolicy.estimate.cost?.total).toBeCloseTo(small?.cost ?? -1, 10);
    // The other roles run on the unpriced model; the chosen writer (defender role) too.
    expect(onPolicy.estimate.cost?.unpricedRoles).toEqual(
      expect.arrayContaining(['attacker', 'defender']),
    );
    // Engine time is the sum over models, each at its own rates (rounded per model).
    const summed = perModel.reduce((n, m) => n + m.timeMs, 0);
    expect(Math.abs(onPolicy.estimate.time.engineMs - summed)).toBeLessThanOrEqual(perModel.length);
    expect(onPolicy.estimate.tasks).toBe(plain.estimate.tasks);
    expect(onPolicy.estimate.calls).toBe(plain.estimate.calls);
  });
});

describe('estimate per model', () => {
  it("times each model at this device's measured rates when roles use different models", async () => {
    const world = await setup({ defaultModel: BIG, roleModels: { attacker: SMALL } });
    const measured = (config: EngineConfig, decode: number) =>
      putModelSpeed(world.db, {
        v: 1,
        engineKey: engineKey(config),
        backend: 'remote',
        backendLabel: 'Endpoint',
        prefillTokensPerSecond: 1_000,
        decodeTokensPerSecond: decode,
        method: 'wall-clock',
        measuredAt: 0,
      });
    await measured(BIG, 10);
    await measured(SMALL, 100);
    const { estimate } = await planSynthesis(world.db, world.projectId, world.request);
    const rows = new Map((estimate.perModel ?? []).map((m) => [m.label, m]));
    const small = rows.get('small');
    const big = rows.get('big');
    // The attacker alone runs on the small model: one call per attack round.
    expect(small?.calls).toBeGreaterThanOrEqual(24);
    expect(small?.calls).toBeCloseTo(estimate.perAgent.attacker.calls, 1);
    // Each at its own rates (within the rounding of the token figures shown).
    const timed = (m: typeof small, decode: number) =>
      ((m?.completionTokens ?? 0) / decode + (m?.promptTokens ?? 0) / 1_000) * 1000;
    expect(Math.abs((small?.timeMs ?? 0) - timed(small, 100))).toBeLessThanOrEqual(10);
    expect(Math.abs((big?.timeMs ?? 0) - timed(big, 10))).toBeLessThanOrEqual(60);
    expect(big?.timeMs).toBeGreaterThan(10 * (small?.timeMs ?? Infinity));
    // One model for every role: one figure, as before (no split).
    const single = await setup({ defaultModel: BIG });
    expect(
      (await planSynthesis(single.db, single.projectId, single.request)).estimate.perModel,
    ).toBeUndefined();
  });
});

describe('role rotation', () => {
  const models = { defaultModel: BIG, roleModels: { attacker: SMALL, target: OTHER } };

  async function rotated(waveWidth: number) {
    const world = await setup(models);
    const input: SynthesisRunInput = {
      specVersionId: world.request.specVersionId,
      instanceIds: world.request.instanceIds,
      controls: world.request.controls,
      seed: world.request.seed,
      waveWidth,
      roles: { rotate: [BIG, SMALL] },
    };
    const created = await createSynthesisRun(world.db, world.projectId, input);
    return { world, created };
  }

  it('alternates attacker and defender between two models by task order', async () => {
    const { world, created } = await rotated(1);
    const byOrder = created.tasks
      .map((t) => [t.order, (t.state as LoopState).roles] as const)
      .sort((a, b) => a[0] - b[0]);
    for (const [order, roles] of byOrder) {
      const [a, d] = order % 2 === 0 ? [BIG, SMALL] : [SMALL, BIG];
      expect(roles).toEqual({
        attacker: engineKey(a),
        defender: engineKey(d),
        defenderIsTarget: false,
        slot: order % 2,
      });
    }
    const e = engines(models);
    await runToEnd(world.db, created.run.id, e);
    const pairs = await pairsOf(world.db, created.run.id);
    expect(pairs.length).toBeGreaterThan(0);
    for (const pair of pairs) {
      expect(pair.engines.attacker).toBe(pair.roleAssignment?.attacker);
      expect(pair.engines.defender).toBe(pair.roleAssignment?.defender);
      expect(pair.engines.attacker).not.toBe(pair.engines.defender);
    }
    // Both models defended, both attacked.
    expect(new Set(pairs.map((p) => p.engines.defender)).size).toBe(2);
    // The run's engines include the rotated ones when deciding how many tasks fly at once.
    const run = await world.db.runs.get(created.run.id);
    expect(run && (await runConcurrency(world.db, run))).toBe(8);
  });

  it('gives the same pairs at K = 1, at K = 4 in waves of 4, and when stopped and resumed', async () => {
    const base = await rotated(4);
    await runToEnd(base.world.db, base.created.run.id, engines(models), 1);
    const expected = await pairsOf(base.world.db, base.created.run.id);
    expect(expected.length).toBeGreaterThan(10);

    const wide = await rotated(4);
    await runToEnd(wide.world.db, wide.created.run.id, engines(models), 4);
    expect(await pairsOf(wide.world.db, wide.created.run.id)).toEqual(expected);

    const resumed = await rotated(4);
    await runToEnd(resumed.world.db, resumed.created.run.id, engines(models), 4, 7);
    expect(await pairsOf(resumed.world.db, resumed.created.run.id)).toEqual(expected);
  });

  it('ends a task whose assigned model the stored config lost, with a reason', async () => {
    const { world, created } = await rotated(1);
    const run = await world.db.runs.get(created.run.id);
    const config = run?.config as { roles: { models: Record<string, unknown> } };
    delete config.roles.models[engineKey(SMALL)];
    await world.db.runs.update(created.run.id, { config });
    const progress = await runToEnd(world.db, created.run.id, engines(models));
    expect(progress.failed).toBe(24);
    const task = await world.db.tasks.where('runId').equals(created.run.id).first();
    expect(task?.error).toMatch(/not in the run's stored configuration/);
  });
});

describe('stored shapes with and without role options', () => {
  it('reads configs and task states from before the option, and resumes such a run unchanged', async () => {
    const models = { defaultModel: BIG, roleModels: { target: SMALL } };
    const world = await setup(models);
    const { runId } = await startSynthesisRun(world.db, world.projectId, world.request);
    const run = await world.db.runs.get(runId);
    expect((run?.config as { roles?: unknown }).roles).toBeUndefined();
    // A version-1 config (no `v`, no estimate) as stored before versions, and old task states.
    const { v: _v, estimate: _e, ...v1 } = run?.config as Record<string, unknown>;
    expect(synthesisRunConfigSchema.safeParse(v1).success).toBe(true);
    await world.db.runs.update(runId, { config: v1 });
    const tasks = await world.db.tasks.where('runId').equals(runId).toArray();
    expect(tasks.every((t) => !('roles' in (t.state as object)))).toBe(true);
    expect(tasks.every((t) => readRecord(loopStateV1, t.state, { table: 't', id: t.id }).ok)).toBe(
      true,
    );

    const e = engines(models);
    const progress = await runToEnd(world.db, runId, e);
    expect(progress.status).toBe('done');
    // Without the option every agent used the project's models: the target never answered.
    expect(e.log.some((l) => l.model === 'small')).toBe(false);
    const pairs = await pairsOf(world.db, runId);
    expect(pairs.every((p) => p.roleAssignment === undefined)).toBe(true);
  });

  it('rejects a malformed assignment instead of guessing', () => {
    const state = { roles: { defender: 'x', defenderIsTarget: 'yes' } };
    const base = {
      version: 1,
      task: {
        key: 'k',
        order: 0,
        seed: 1,
        instanceId: 'i',
        ruleId: 'r',
        caseType: 'benign',
        persona: 'p',
        difficulty: 1,
        turns: 1,
        language: 'English',
        setting: '',
      },
      next: 'plan',
      calls: 0,
      pending: [],
      writes: { chosen: 0, violation: 0, refusal: 0 },
      usage: {},
      engines: {},
      judgements: [],
    };
    expect(loopStateV1.safeParse(base).success).toBe(true);
    expect(loopStateV1.safeParse({ ...base, ...state }).success).toBe(false);
    expect(
      loopStateV1.safeParse({ ...base, roles: { defender: 'x', defenderIsTarget: true } }).success,
    ).toBe(true);
  });
});
