import { closeTestDbs, openTestDb } from '../../../helpers/db';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvalidModelOutputError, StorageFullError } from '$lib/core/errors';
import { deleteProject } from '$lib/db/projects';
import { RunLockedError } from '$lib/db/run-lock';
import { executeRun, MAX_TASK_ATTEMPTS } from '$lib/worker/runs/executor';
import type { RunHandler } from '$lib/worker/runs/types';
import { engineFor, seedRun, writingHandler } from './executor-fixtures';

afterEach(closeTestDbs);

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

  it('pauses the run with a clear message when storage is full, keeping what was stored', async () => {
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
    expect(final.status).toBe('paused');
    expect(final.error).toMatch(/storage is full/);
    expect(handler.calls).toEqual(['chunk-0', 'chunk-1']);
    expect(await db.evaluations.count()).toBe(1);
    expect((await db.tasks.get('t1'))?.status).toBe('pending');
    const run = await db.runs.get('run-1');
    expect(run).toMatchObject({ status: 'paused', progress: { done: 1 } });
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

  it('leaves alone a run another tab paused or finished while this one waited for its lock', async () => {
    const db = await openTestDb();
    await seedRun(db, 2);
    // Read as 'running' (its tab went away); paused by the time the lock is held.
    await db.runs.update('run-1', { status: 'paused', updatedAt: 5 });
    const handler = writingHandler();
    const final = await executeRun(db, 'run-1', handler, {
      signal: new AbortController().signal,
      expectedStatus: 'running',
      engineFor,
    });
    expect(final).toMatchObject({ status: 'paused', done: 0 });
    expect(handler.calls).toEqual([]);
    expect(await db.runs.get('run-1')).toMatchObject({ status: 'paused', updatedAt: 5 });

    // Left 'running' while the caller read it paused: interrupted, so it is resumed.
    await db.runs.update('run-1', { status: 'running' });
    const resumed = await executeRun(db, 'run-1', handler, {
      signal: new AbortController().signal,
      expectedStatus: 'paused',
      engineFor,
    });
    expect(resumed).toMatchObject({ status: 'done', done: 2 });
    expect(handler.calls).toEqual(['chunk-0', 'chunk-1']);
  });

  it('ends a task at once on a final failure, still applying its write and run patch', async () => {
    const db = await openTestDb();
    await seedRun(db, 3);
    const handler = writingHandler({
      'chunk-1': () => ({
        done: true,
        step: 'attack',
        state: { note: 'kept for the record' },
        failure: 'duplicate prompt',
        usage: { promptTokens: 7, completionTokens: 3 },
        usageByRole: { attacker: { promptTokens: 7, completionTokens: 3 } },
        tables: ['evaluations'],
        write: async (d) => {
          await d.evaluations.add({
            id: 'audit-chunk-1',
            projectId: 'p',
            runId: 'run-1',
            target: { kind: 'openai', baseUrl: 'x', model: 'm' },
            createdAt: 0,
            results: {},
          });
        },
        patchRun: (run) => {
          run.experience = {
            entries: [
              {
                seq: 1,
                instanceId: 'i',
                ruleId: 'r',
                caseType: 'violation',
                taskKey: 'chunk-1',
                strategy: 's',
                angle: 'a',
                persona: 'p',
                success: false,
              },
            ],
            nextSeq: 2,
          };
        },
      }),
    });
    const final = await executeRun(db, 'run-1', handler, {
      signal: new AbortController().signal,
      engineFor,
    });
    // No retries: the task was asked once.
    expect(handler.calls).toEqual(['chunk-0', 'chunk-1', 'chunk-2']);
    expect(final).toMatchObject({ status: 'done', done: 2, failed: 1 });
    expect(final.usage).toEqual({ promptTokens: 27, completionTokens: 13 });
    expect(final.usageByRole).toEqual({ attacker: { promptTokens: 7, completionTokens: 3 } });
    expect(await db.tasks.get('t1')).toMatchObject({
      status: 'failed',
      error: 'duplicate prompt',
      attempts: 0,
      step: 'attack',
      state: { note: 'kept for the record' },
    });
    expect(await db.evaluations.get('audit-chunk-1')).toBeDefined();
    const run = await db.runs.get('run-1');
    expect(run?.experience?.nextSeq).toBe(2);
    expect(run?.usageByRole?.attacker).toEqual({ promptTokens: 7, completionTokens: 3 });
  });

  it('applies a run patch only when its checkpoint commits', async () => {
    const db = await openTestDb();
    await seedRun(db, 1);
    let calls = 0;
    const handler: RunHandler = {
      kind: 'synthesize',
      async step() {
        calls++;
        return {
          done: true,
          step: 'done',
          usage: { promptTokens: 100, completionTokens: 100 },
          tables: ['evaluations'],
          patchRun: (run) => {
            run.experience = { entries: [], nextSeq: 99 };
          },
          // A write that fails (not for lack of space): the attempt is retried.
          write: async () => {
            if (calls < 2) throw new Error('constraint failed');
          },
        };
      },
    };
    const final = await executeRun(db, 'run-1', handler, {
      signal: new AbortController().signal,
      engineFor,
    });
    expect(calls).toBe(2);
    expect(final).toMatchObject({ status: 'done', done: 1, failed: 0 });
    // The failed checkpoint's usage, progress and patch were not half-applied.
    expect(final.usage).toEqual({ promptTokens: 100, completionTokens: 100 });
    const run = await db.runs.get('run-1');
    expect(run?.progress).toEqual({ done: 1, failed: 0, total: 1 });
    expect(run?.experience?.nextSeq).toBe(99);
  });

  it('charges the tokens of failed attempts, per role when the error says which', async () => {
    const db = await openTestDb();
    await seedRun(db, 2);
    const handler = writingHandler({
      'chunk-0': () => {
        throw new InvalidModelOutputError(
          'not JSON',
          'oops',
          { promptTokens: 40, completionTokens: 4 },
          80,
        );
      },
      'chunk-1': () => {
        throw Object.assign(new Error('judge gave up'), {
          usage: { promptTokens: 10, completionTokens: 1 },
          usageByRole: { safetyJudge: { promptTokens: 10, completionTokens: 1 }, bogus: 3 },
        });
      },
    });
    const final = await executeRun(db, 'run-1', handler, {
      signal: new AbortController().signal,
      engineFor,
    });
    expect(final).toMatchObject({ status: 'done', done: 0, failed: 2 });
    expect(final.usage).toEqual({
      promptTokens: MAX_TASK_ATTEMPTS * 50,
      completionTokens: MAX_TASK_ATTEMPTS * 5,
    });
    expect(final.usageByRole).toEqual({
      safetyJudge: { promptTokens: MAX_TASK_ATTEMPTS * 10, completionTokens: MAX_TASK_ATTEMPTS },
    });
    expect((await db.runs.get('run-1'))?.usage).toEqual(final.usage);
  });

  it('pauses with the reason when the handler reports a spent limit, and resumes once it is lifted', async () => {
    const db = await openTestDb();
    await seedRun(db, 4);
    let budget = 30;
    const handler: RunHandler = {
      ...writingHandler(),
      limitReached: (run) =>
        run.usage.promptTokens + run.usage.completionTokens >= budget ? 'budget spent' : undefined,
    };
    const paused = await executeRun(db, 'run-1', handler, {
      signal: new AbortController().signal,
      engineFor,
    });
    // 15 tokens per task: the limit is reached after two tasks, checked before the third.
    expect(paused).toMatchObject({ status: 'paused', done: 2, error: 'budget spent' });
    expect(await db.runs.get('run-1')).toMatchObject({ status: 'paused', error: 'budget spent' });
    budget = 1000;
    const final = await executeRun(db, 'run-1', handler, {
      signal: new AbortController().signal,
      engineFor,
    });
    expect(final).toMatchObject({ status: 'done', done: 4 });
    expect((await db.runs.get('run-1'))?.error).toBeUndefined();
  });
});

describe('executeRun after its project was deleted', () => {
  it('recreates nothing when the project vanishes while a step is in flight', async () => {
    const db = await openTestDb();
    await seedRun(db, 3);
    const handler = writingHandler({
      'chunk-1': async () => {
        // The user deletes the project while this step waits on the model.
        await deleteProject(db, 'p');
        return {
          done: true,
          step: 'annotated',
          tables: ['evaluations'],
          write: async (d) => {
            await d.evaluations.add({
              id: 'late-result',
              projectId: 'p',
              runId: 'run-1',
              target: { kind: 'openai', baseUrl: 'x', model: 'm' },
              createdAt: 0,
              results: {},
            });
          },
        };
      },
    });
    const final = await executeRun(db, 'run-1', handler, {
      signal: new AbortController().signal,
      engineFor,
    });
    expect(final.status).toBe('cancelled');
    expect(handler.calls).toEqual(['chunk-0', 'chunk-1']);
    expect(await db.runs.count()).toBe(0);
    expect(await db.tasks.count()).toBe(0);
    expect(await db.evaluations.count()).toBe(0);
  });

  it('recreates nothing when a failing step’s retry bookkeeping runs after the deletion', async () => {
    const db = await openTestDb();
    await seedRun(db, 2);
    const handler = writingHandler({
      'chunk-0': async () => {
        await deleteProject(db, 'p');
        throw new Error('model output was not JSON');
      },
    });
    const final = await executeRun(db, 'run-1', handler, {
      signal: new AbortController().signal,
      engineFor,
    });
    expect(final.status).toBe('cancelled');
    expect(await db.runs.count()).toBe(0);
    expect(await db.tasks.count()).toBe(0);
  });
});
