/**
 * Runs a run's task queue, one engine request at a time, checkpointing after every step: the
 * task's new state and the rows the step produced are written in ONE transaction, so a reload,
 * crash or closed tab loses at most the step in flight and never duplicates a result.
 */
import { AbortedError, errorMessage, isAbortError, StorageFullError } from '$lib/core/errors';
import type { Run, Task } from '$lib/core/records';
import type { SpecAlignDb } from '$lib/db/database';
import { guardStorage } from '$lib/db/errors';
import type { RunHandler, RunProgress, StepContext } from './types';

/** Attempts per task before it is marked failed and the run moves on. */
export const MAX_TASK_ATTEMPTS = 3;

export class RunLockedError extends Error {
  constructor() {
    super('This run is already running in another tab. Close that tab or wait for it to finish.');
    this.name = 'RunLockedError';
  }
}

export interface ExecuteOptions {
  signal: AbortSignal;
  /** 'pause' leaves the run resumable; 'cancel' ends it. Read when the signal aborts. */
  stopMode?: () => 'pause' | 'cancel';
  onProgress?: (progress: RunProgress) => void;
  engineFor: StepContext['engineFor'];
  now?: () => number;
}

/**
 * Executes every unfinished task of `runId` with `handler`. Holds a Web Lock per run where the
 * platform has one, so two tabs never execute the same run.
 */
export async function executeRun(
  db: SpecAlignDb,
  runId: string,
  handler: RunHandler,
  options: ExecuteOptions,
): Promise<RunProgress> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (!locks) return executeLocked(db, runId, handler, options);
  return locks.request(`specalign-run:${runId}`, { ifAvailable: true }, async (lock) => {
    if (!lock) throw new RunLockedError();
    return executeLocked(db, runId, handler, options);
  });
}

async function executeLocked(
  db: SpecAlignDb,
  runId: string,
  handler: RunHandler,
  options: ExecuteOptions,
): Promise<RunProgress> {
  const now = options.now ?? Date.now;
  const run = await db.runs.get(runId);
  if (!run) throw new Error('That run no longer exists.');
  const sessionStart = now();
  let sessionDone = 0;
  let sessionEngineMs = 0;
  let sessionTokens = 0;

  const progress = (
    status: RunProgress['status'],
    current?: string,
    error?: string,
  ): RunProgress => {
    const remaining = run.progress.total - run.progress.done - run.progress.failed;
    const elapsed = now() - sessionStart;
    return {
      runId,
      status,
      done: run.progress.done,
      failed: run.progress.failed,
      total: run.progress.total,
      usage: { ...run.usage },
      tokensPerSecond: sessionEngineMs > 0 ? (sessionTokens * 1000) / sessionEngineMs : 0,
      ...(sessionDone > 0 ? { etaMs: (elapsed / sessionDone) * remaining } : {}),
      ...(current ? { current } : {}),
      ...(error ? { error } : {}),
    };
  };
  const saveRun = (patch: Partial<Run>) => {
    Object.assign(run, patch, { updatedAt: now() });
    return guardStorage(() => db.runs.put(run)).then(() => undefined);
  };

  await saveRun({ status: 'running' });
  delete run.error;
  options.onProgress?.(progress('running'));

  const context: StepContext = { db, signal: options.signal, engineFor: options.engineFor };
  try {
    for (;;) {
      const task = await nextTask(db, runId);
      if (!task) break;
      if (options.signal.aborted) throw new AbortedError();
      const label = handler.describe?.(task);
      options.onProgress?.(progress('running', label));
      let finished = false;
      try {
        const outcome = await handler.step(task, context);
        if (options.signal.aborted) throw new AbortedError();
        const usage = outcome.usage ?? { promptTokens: 0, completionTokens: 0 };
        run.usage = {
          promptTokens: run.usage.promptTokens + usage.promptTokens,
          completionTokens: run.usage.completionTokens + usage.completionTokens,
        };
        sessionTokens += usage.completionTokens;
        sessionEngineMs += outcome.engineMs ?? 0;
        finished = outcome.done;
        const updated: Task = {
          ...task,
          status: outcome.done ? 'done' : 'running',
          step: outcome.step,
          state: outcome.state,
          updatedAt: now(),
        };
        if (outcome.done) run.progress = { ...run.progress, done: run.progress.done + 1 };
        run.updatedAt = now();
        const tables = [db.tasks, db.runs, ...(outcome.tables ?? []).map((t) => db.table(t))];
        await guardStorage(() =>
          db.transaction('rw', tables, async () => {
            await outcome.write?.(db);
            await db.tasks.put(updated);
            await db.runs.put(run);
          }),
        );
      } catch (error) {
        if (isAbortError(error) || options.signal.aborted) throw error;
        if (error instanceof StorageFullError) throw error;
        const attempts = task.attempts + 1;
        const failed = attempts >= MAX_TASK_ATTEMPTS;
        if (failed) run.progress = { ...run.progress, failed: run.progress.failed + 1 };
        await guardStorage(() =>
          db.transaction('rw', [db.tasks, db.runs], async () => {
            await db.tasks.put({
              ...task,
              attempts,
              status: failed ? 'failed' : task.status,
              error: errorMessage(error),
              updatedAt: now(),
            });
            await db.runs.put(run);
          }),
        );
      }
      if (finished) sessionDone++;
    }
    await saveRun({ status: 'done' });
    const final = progress('done');
    options.onProgress?.(final);
    return final;
  } catch (error) {
    if (isAbortError(error) || options.signal.aborted) {
      const mode = options.stopMode?.() ?? 'pause';
      await saveRun({ status: mode === 'cancel' ? 'cancelled' : 'paused' });
      const stopped = progress(mode === 'cancel' ? 'cancelled' : 'paused');
      options.onProgress?.(stopped);
      return stopped;
    }
    const message = errorMessage(error);
    // A full disk must not be followed by more writes that could fail halfway: just record it.
    await db.runs
      .update(runId, { status: 'failed', error: message, updatedAt: now() })
      .catch(() => undefined);
    const failed = progress('failed', undefined, message);
    options.onProgress?.(failed);
    return failed;
  }
}

/** The first unfinished task in queue order; tasks left 'running' by a crash resume from their step. */
async function nextTask(db: SpecAlignDb, runId: string): Promise<Task | undefined> {
  return db.tasks
    .where('[runId+order]')
    .between([runId, -Infinity], [runId, Infinity])
    .filter((t) => t.status === 'pending' || t.status === 'running')
    .first();
}
