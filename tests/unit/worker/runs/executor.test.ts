import { closeTestDbs, openTestDb } from '../../../helpers/db';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StorageFullError } from '$lib/core/errors';
import type { Run, Task } from '$lib/core/records';
import type { SpecAlignDb } from '$lib/db/database';
import { executeRun, MAX_TASK_ATTEMPTS, RunLockedError } from '$lib/worker/runs/executor';
import type { RunHandler, StepOutcome } from '$lib/worker/runs/types';

afterEach(closeTestDbs);

async function seedRun(db: SpecAlignDb, taskCount: number): Promise<Run> {
  const run: Run = {
    id: 'run-1',
    projectId: 'p',
    kind: 'annotate',
    status: 'queued',
    config: {},
    createdAt: 0,
    updatedAt: 0,
    progress: { done: 0, failed: 0, total: taskCount },
    usage: { promptTokens: 0, completionTokens: 0 },
  };
  await db.runs.add(run);
  await db.tasks.bulkAdd(
    Array.from({ length: taskCount }, (_, i): Task => ({
      id: `t${i}`,
      runId: run.id,
      projectId: 'p',
      key: `chunk-${i}`,
      order: i,
      status: 'pending',
      attempts: 0,
      updatedAt: 0,
    })),
  );
  return run;
}

/** Each task writes one evaluation row named after it, as a stand-in for a real result. */
function writingHandler(
  overrides: Partial<Record<string, () => StepOutcome | Promise<StepOutcome>>> = {},
): RunHandler & { calls: string[] } {
  const calls: string[] = [];
  return {
    kind: 'annotate',
    calls,
    async step(task) {
      calls.push(task.key);
      const override = overrides[task.key];
      if (override) return override();
      return {
        done: true,
        step: 'annotated',
        usage: { promptTokens: 10, completionTokens: 5 },
        engineMs: 50,
        tables: ['evaluations'],
        write: async (db) => {
          await db.evaluations.add({
            id: `result-${task.key}`,
            projectId: 'p',
            runId: task.runId,
            target: { kind: 'openai', baseUrl: 'x', model: 'm' },
            createdAt: 0,
            results: {},
          });
        },
      };
    },
  };
}

const engineFor = async () => {
  throw new Error('not used');
};

describe('executeRun', () => {
  it('runs every task once, checkpoints results with the task, and reports progress', async () => {
    const db = await openTestDb();
    await seedRun(db, 3);
    const handler = writingHandler();
    const progress = vi.fn();
    const final = await executeRun(db, 'run-1', handler, {
      signal: new AbortController().signal,
      engineFor,
      onProgress: progress,
    });
    expect(final).toMatchObject({ status: 'done', done: 3, failed: 0, total: 3 });
    expect(final.usage).toEqual({ promptTokens: 30, completionTokens: 15 });
    expect(final.tokensPerSecond).toBeCloseTo(100);
    expect(handler.calls).toEqual(['chunk-0', 'chunk-1', 'chunk-2']);
    expect(await db.evaluations.count()).toBe(3);
    expect(
      (await db.tasks.toArray()).every((t) => t.status === 'done' && t.step === 'annotated'),
    ).toBe(true);
    expect((await db.runs.get('run-1'))?.status).toBe('done');
    expect(progress.mock.calls.at(-1)?.[0]).toMatchObject({ status: 'done' });
  });

  it('pauses on abort and resumes without redoing or duplicating finished tasks', async () => {
    const db = await openTestDb();
    await seedRun(db, 4);
    const controller = new AbortController();
    const handler = writingHandler({
      'chunk-2': () => {
        controller.abort(); // the user pauses while chunk-2 is in flight
        return { done: true, step: 'annotated' };
      },
    });
    const paused = await executeRun(db, 'run-1', handler, { signal: controller.signal, engineFor });
    expect(paused).toMatchObject({ status: 'paused', done: 2 });
    expect(await db.evaluations.count()).toBe(2);
    expect((await db.tasks.get('t2'))?.status).toBe('pending');

    const resumed = writingHandler();
    const final = await executeRun(db, 'run-1', resumed, {
      signal: new AbortController().signal,
      engineFor,
    });
    expect(resumed.calls).toEqual(['chunk-2', 'chunk-3']);
    expect(final).toMatchObject({ status: 'done', done: 4 });
    expect(await db.evaluations.count()).toBe(4);
  });

  it('marks cancel distinctly from pause', async () => {
    const db = await openTestDb();
    await seedRun(db, 2);
    const controller = new AbortController();
    controller.abort();
    const final = await executeRun(db, 'run-1', writingHandler(), {
      signal: controller.signal,
      stopMode: () => 'cancel',
      engineFor,
    });
    expect(final.status).toBe('cancelled');
    expect((await db.runs.get('run-1'))?.status).toBe('cancelled');
  });

  it('retries a failing task a bounded number of times, then marks it failed and goes on', async () => {
    const db = await openTestDb();
    await seedRun(db, 2);
    const handler = writingHandler({
      'chunk-0': () => {
        throw new Error('model output was not JSON');
      },
    });
    const final = await executeRun(db, 'run-1', handler, {
      signal: new AbortController().signal,
      engineFor,
    });
    expect(handler.calls.filter((k) => k === 'chunk-0')).toHaveLength(MAX_TASK_ATTEMPTS);
    expect(final).toMatchObject({ status: 'done', done: 1, failed: 1 });
    const failed = await db.tasks.get('t0');
    expect(failed).toMatchObject({
      status: 'failed',
      attempts: MAX_TASK_ATTEMPTS,
      error: 'model output was not JSON',
    });
  });

  it('continues a multi-step task from its last checkpointed step', async () => {
    const db = await openTestDb();
    await seedRun(db, 1);
    const steps: string[] = [];
    const handler: RunHandler = {
      kind: 'synthesize',
      async step(task) {
        const next = task.step === undefined ? 'plan' : task.step === 'plan' ? 'attack' : 'judge';
        steps.push(`${next}:${JSON.stringify(task.state ?? null)}`);
        return { done: next === 'judge', step: next, state: { after: next } };
      },
    };
    await executeRun(db, 'run-1', handler, { signal: new AbortController().signal, engineFor });
    expect(steps).toEqual(['plan:null', 'attack:{"after":"plan"}', 'judge:{"after":"attack"}']);
  });

  it('stops the run with a clear message when storage is full, keeping what was stored', async () => {
    const db = await openTestDb();
    await seedRun(db, 3);
    const handler = writingHandler({
      'chunk-1': () => ({
        done: true,
        step: 'annotated',
        tables: ['evaluations'],
        write: async () => {
          throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        },
      }),
    });
    const final = await executeRun(db, 'run-1', handler, {
      signal: new AbortController().signal,
      engineFor,
    });
    expect(final.status).toBe('failed');
    expect(final.error).toMatch(/storage is full/);
    expect(handler.calls).toEqual(['chunk-0', 'chunk-1']);
    expect(await db.evaluations.count()).toBe(1);
    expect((await db.tasks.get('t1'))?.status).toBe('pending');
    const run = await db.runs.get('run-1');
    expect(run).toMatchObject({ status: 'failed', progress: { done: 1 } });
    expect(new StorageFullError('x')).toBeInstanceOf(Error);
  });

  it('refuses to run a run another tab holds (Web Locks)', async () => {
    const db = await openTestDb();
    await seedRun(db, 1);
    const locks = {
      request: (_name: string, _opts: unknown, cb: (lock: unknown) => unknown) => cb(null),
    };
    vi.stubGlobal('navigator', { locks });
    try {
      await expect(
        executeRun(db, 'run-1', writingHandler(), {
          signal: new AbortController().signal,
          engineFor,
        }),
      ).rejects.toBeInstanceOf(RunLockedError);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
