/**
 * A run whose every endpoint replica is down pauses with the engine's message (the task's
 * attempt does not count), and the runner resumes it when a replica may be probed again.
 */
import { closeTestDbs, openTestDb } from '../../../helpers/db';
import { afterEach, describe, expect, it } from 'vitest';
import { EndpointsDownError } from '$lib/core/errors';
import type { ChatEngine } from '$lib/core/llm';
import { ENDPOINTS_DOWN_PAUSE, executeRun } from '$lib/worker/runs/executor';
import { RunRunner } from '$lib/worker/runs/runner';
import type { RunProgress, StepOutcome } from '$lib/worker/runs/types';
import { engineFor, seedRun, writingHandler } from './executor-fixtures';

afterEach(closeTestDbs);

const DOWN = 'All 2 replicas of this endpoint are set aside after failing 3 times in a row.';
const downUntil = (retryAt: number) => (): StepOutcome => {
  throw new EndpointsDownError(DOWN, retryAt);
};
const noEngine = (): Promise<ChatEngine> => Promise.reject(new Error('not used'));

describe('every replica down', () => {
  it('pauses the run with the message and the time to try again; the attempt does not count', async () => {
    const db = await openTestDb();
    await seedRun(db, 3);
    const handler = writingHandler({ 'chunk-1': downUntil(1234) });
    const final = await executeRun(db, 'run-1', handler, {
      signal: new AbortController().signal,
      engineFor,
    });
    expect(final).toMatchObject({ status: 'paused', done: 1, failed: 0, resumeAt: 1234 });
    expect(final.error).toBe(`${DOWN} ${ENDPOINTS_DOWN_PAUSE}`);
    expect(handler.calls).toEqual(['chunk-0', 'chunk-1']);
    expect(await db.tasks.get('t1')).toMatchObject({ status: 'pending', attempts: 0 });
    expect(await db.runs.get('run-1')).toMatchObject({
      status: 'paused',
      error: `${DOWN} ${ENDPOINTS_DOWN_PAUSE}`,
    });
  });

  it('is resumed by the runner when a replica may be probed again, and finishes', async () => {
    const db = await openTestDb();
    await seedRun(db, 3);
    let downs = 0;
    const handler = writingHandler({
      'chunk-1': () => {
        // Down twice (the first probe fails too), then back.
        if (downs++ < 2) return downUntil(Date.now() + 5)();
        return { done: true, step: 'annotated' };
      },
    });
    const seen: RunProgress['status'][] = [];
    const runner = new RunRunner(db, noEngine, () => handler);
    const final = await runner.start('run-1', (p) => seen.push(p.status));
    expect(final).toMatchObject({ status: 'done', done: 3, failed: 0 });
    expect(seen.filter((s) => s === 'paused')).toHaveLength(2);
    expect(handler.calls).toEqual(['chunk-0', 'chunk-1', 'chunk-1', 'chunk-1', 'chunk-2']);
    const run = await db.runs.get('run-1');
    expect(run?.status).toBe('done');
    expect(run?.error).toBeUndefined();
  });

  it('stays paused, or is cancelled, when the user stops it while it waits', async () => {
    for (const mode of ['pause', 'cancel'] as const) {
      const db = await openTestDb();
      await seedRun(db, 2);
      const runner = new RunRunner(db, noEngine, () =>
        writingHandler({ 'chunk-0': downUntil(Date.now() + 60_000) }),
      );
      const finished = runner.start('run-1', (p) => {
        if (p.status === 'paused') void runner.stop('run-1', mode);
      });
      const final = await finished;
      const expected = mode === 'pause' ? 'paused' : 'cancelled';
      expect(final.status).toBe(expected);
      expect((await db.runs.get('run-1'))?.status).toBe(expected);
      expect(runner.isActive('run-1')).toBe(false);
    }
  });
});
