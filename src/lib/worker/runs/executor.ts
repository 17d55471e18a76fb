/**
 * Runs a run's task queue with up to K tasks in flight (`concurrency`, the engines' setting; 1
 * for in-browser engines), checkpointing after every step: the task's new state, the rows the
 * step produced and the run row (progress, usage, run-level state from `patchRun`) are written in
 * ONE transaction, so a reload, crash or closed tab loses at most the steps in flight and never
 * duplicates a result. Checkpoints are applied one at a time, each to the run as last committed.
 *
 * Which tasks run is decided by core's scheduler (`core/run-schedule.ts`): runs whose tasks share
 * state run in waves, so their results do not depend on K or on timing; see there.
 *
 * A task ends in one of three ways: `done`; failed at once when a step reports a final
 * `failure` (retrying cannot help); or failed after {@link MAX_TASK_ATTEMPTS} thrown attempts.
 * Tokens of failed attempts are charged when the error carries them.
 *
 * Pause and cancel abort every step in flight (their results are discarded, as after a closed
 * tab) and return once all have settled, so nothing is written after the stop is recorded.
 */
import type { AgentRole } from '$lib/core/engine-config';
import {
  AbortedError,
  EndpointsDownError,
  errorMessage,
  isAbortError,
  StorageFullError,
} from '$lib/core/errors';
import { addUsage, type TokenUsage } from '$lib/core/llm';
import type { Run, Task } from '$lib/core/records';
import { nextDecision, waveBounds, waveOf, type QueuedTask } from '$lib/core/run-schedule';
import type { SpecAlignDb } from '$lib/db/database';
import { storageShortfall, type StorageSample } from '$lib/core/storage-headroom';
import { guardStorage, isStorageWriteFailure, STORAGE_FULL_MESSAGE } from '$lib/db/errors';
import { withRunLockIfFree } from '$lib/db/run-lock';
import type { ChargedFailure, RunHandler, RunProgress, StepContext, StepOutcome } from './types';

/** Attempts per task before it is marked failed and the run moves on. */
export const MAX_TASK_ATTEMPTS = 3;
/** Appended to an EndpointsDownError's message on the paused run. */
export const ENDPOINTS_DOWN_PAUSE =
  'The run is paused and, while this tab stays open, resumes by itself when a replica answers again; you can also resume or cancel it yourself.';
/** Finished steps between two free-space checks (`checkStorage`). */
export const STORAGE_CHECK_STEPS = 5;

export interface ExecuteOptions {
  signal: AbortSignal;
  /**
   * The run's status as the caller last read it. If, once the lock is held, the stored status
   * differs and is not 'running' (interrupted), another tab paused, cancelled or finished the run
   * meanwhile: it is not executed again.
   */
  expectedStatus?: Run['status'];
  /** 'pause' leaves the run resumable; 'cancel' ends it. Read when the signal aborts. */
  stopMode?: () => 'pause' | 'cancel';
  onProgress?: (progress: RunProgress) => void;
  engineFor: StepContext['engineFor'];
  /** Loads an engine by config (tasks with their own models); see `StepContext`. */
  engineForConfig?: StepContext['engineForConfig'];
  now?: () => number;
  /**
   * Most tasks in flight at once (K); default 1. Results do not depend on it (see
   * core/run-schedule.ts); the engines queue requests beyond their own limits.
   */
  concurrency?: number;
  /**
   * Samples storage use and quota (`navigator.storage.estimate()`), checked before the run starts
   * and every {@link STORAGE_CHECK_STEPS} steps: the run pauses while enough space remains to
   * save the pause (see `storageShortfall`).
   */
  checkStorage?: () => Promise<StorageSample | undefined>;
}

/**
 * Executes every unfinished task of `runId` with `handler`. Holds a Web Lock per run where the
 * platform has one, so two tabs never execute the same run: throws `RunLockedError` if another
 * tab holds it.
 */
export async function executeRun(
  db: SpecAlignDb,
  runId: string,
  handler: RunHandler,
  options: ExecuteOptions,
): Promise<RunProgress> {
  return withRunLockIfFree(runId, () => executeLocked(db, runId, handler, options));
}

/** Why the executor stops launching tasks before the queue is done. */
type Stop = { kind: 'fatal'; error: unknown } | { kind: 'pause'; message: string; abort: boolean };

async function executeLocked(
  db: SpecAlignDb,
  runId: string,
  handler: RunHandler,
  options: ExecuteOptions,
): Promise<RunProgress> {
  const now = options.now ?? Date.now;
  const stored = await db.runs.get(runId);
  if (!stored) throw new Error('That run no longer exists.');
  // The run as last committed. Each checkpoint builds a changed copy and adopts it only after its
  // transaction commits, so a failed write never leaves counters or run state half-applied.
  let run: Run = stored;
  const sessionStart = now();
  let sessionDone = 0;
  let sessionEngineMs = 0;
  let sessionTokens = 0;
  // Wall time with at least one step in flight, and the sum of every step's wall time: their
  // ratio is the mean overlap, which turns summed engine time into elapsed engine time.
  let busySteps = 0;
  let busySince = 0;
  let busyMs = 0;
  let stepWallMs = 0;
  let inFlight = 0;

  const progress = (
    status: RunProgress['status'],
    current?: string,
    error?: string,
  ): RunProgress => {
    const remaining = run.progress.total - run.progress.done - run.progress.failed;
    const elapsed = now() - sessionStart;
    const busy = busyMs + (busySteps ? now() - busySince : 0);
    const overlap = busy > 0 && stepWallMs > 0 ? Math.max(1, stepWallMs / busy) : 1;
    return {
      runId,
      status,
      done: run.progress.done,
      failed: run.progress.failed,
      total: run.progress.total,
      usage: { ...run.usage },
      ...(run.usageByRole ? { usageByRole: structuredClone(run.usageByRole) } : {}),
      tokensPerSecond: sessionEngineMs > 0 ? (sessionTokens * 1000 * overlap) / sessionEngineMs : 0,
      ...(sessionDone > 0 ? { etaMs: (elapsed / sessionDone) * remaining } : {}),
      ...(current ? { current } : {}),
      ...(status === 'running' && inFlight > 0 ? { inFlight } : {}),
      ...(error ? { error } : {}),
    };
  };
  // Checkpoints, wave closings and run saves one at a time: each builds on the run as committed.
  let tail: Promise<unknown> = Promise.resolve();
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const result = tail.then(work, work);
    tail = result.catch(() => undefined);
    return result;
  };
  const saveRun = (patch: Partial<Run>) =>
    serially(() => {
      Object.assign(run, patch, { updatedAt: now() });
      return guardStorage(() =>
        db.transaction('rw', db.runs, async () => {
          await assertRunExists(db, runId);
          await db.runs.put(run);
        }),
      );
    });

  // Another tab paused, cancelled or finished the run while this one waited for its lock.
  const { status: found } = stored;
  const expected = options.expectedStatus;
  if (expected && found !== expected && found !== 'running' && found !== 'queued') {
    return progress(found);
  }

  // Aborted by the caller (pause, cancel) or by the executor itself (a fatal error in one task,
  // low storage): every step in flight sees it.
  // Each task in flight gets its own controller, aborted from here: one shared signal would carry
  // an abort listener per request in flight.
  const inner = new AbortController();
  const taskControllers = new Set<AbortController>();
  const abortInner = () => {
    inner.abort();
    for (const controller of taskControllers) controller.abort();
  };
  if (options.signal.aborted) abortInner();
  else options.signal.addEventListener('abort', abortInner, { once: true });
  const context: StepContext = {
    db,
    signal: inner.signal,
    engineFor: options.engineFor,
    ...(options.engineForConfig ? { engineForConfig: options.engineForConfig } : {}),
    now,
  };
  let lastSample: StorageSample | undefined;
  let stepsSinceCheck = 0;
  /** The message to pause with when free space runs low. */
  const lowOnSpace = async (): Promise<string | undefined> => {
    if (!options.checkStorage) return undefined;
    stepsSinceCheck = 0;
    const sample = await options.checkStorage().catch(() => undefined);
    if (!sample) return undefined;
    const shortfall = storageShortfall(sample, lastSample);
    lastSample = sample;
    return shortfall;
  };
  const pause = async (message: string): Promise<RunProgress> => {
    await saveRun({ status: 'paused', error: message });
    const paused = progress('paused', undefined, message);
    options.onProgress?.(paused);
    return paused;
  };

  /** Charges a checkpointed step's outcome. */
  const checkpoint = (task: Task, outcome: StepOutcome) =>
    serially(async () => {
      run = await commitStep(db, run, task, outcome, now);
      sessionTokens += outcome.usage?.completionTokens ?? 0;
      sessionEngineMs += outcome.engineMs ?? 0;
    });

  /** Records a failed attempt; true when the task is out of attempts. */
  const recordAttempt = (task: Task, error: unknown) =>
    serially(async () => {
      // Tokens spent on a failed attempt (e.g. output that stayed invalid after repair) count.
      const spent = chargeOf(error);
      const next = charged(run, spent.usage, spent.usageByRole);
      const attempts = task.attempts + 1;
      const failed = attempts >= MAX_TASK_ATTEMPTS;
      if (failed) next.progress = { ...next.progress, failed: next.progress.failed + 1 };
      next.updatedAt = now();
      await guardStorage(() =>
        db.transaction('rw', [db.tasks, db.runs], async () => {
          await assertRunExists(db, runId);
          await db.tasks.put({
            ...task,
            attempts,
            status: failed ? 'failed' : task.status,
            error: errorMessage(error),
            updatedAt: now(),
          });
          await db.runs.put(next);
        }),
      );
      run = next;
      sessionTokens += spent.usage?.completionTokens ?? 0;
      sessionEngineMs += spent.durationMs ?? 0;
      return failed;
    });

  const queue: (QueuedTask & { id: string })[] = [];
  const width = handler.waveWidth;

  /** Applies a finished wave's contributions, in task order, and records it closed. */
  const closeWave = async (wave: number) => {
    const { start, end } = waveBounds(wave, width, queue.length);
    const ids = queue.slice(start, end).map((t) => t.id);
    const tasks = (await db.tasks.bulkGet(ids)).filter((t): t is Task => t !== undefined);
    const closing = (await handler.closeWave?.(tasks, context, run)) ?? {};
    await serially(async () => {
      const next: Run = {
        ...run,
        progress: { ...run.progress },
        schedule: { closedWaves: wave + 1 },
      };
      closing.patchRun?.(next);
      const failed = tasks
        .filter((t) => closing.fail?.[t.id] !== undefined && t.status === 'done')
        .map((t): Task => ({
          ...t,
          status: 'failed',
          error: closing.fail?.[t.id],
          updatedAt: now(),
        }));
      next.progress.done -= failed.length;
      next.progress.failed += failed.length;
      next.updatedAt = now();
      const tables = [db.tasks, db.runs, ...(closing.tables ?? []).map((t) => db.table(t))];
      await guardStorage(() =>
        db.transaction('rw', tables, async () => {
          await assertRunExists(db, runId);
          await closing.write?.(db);
          if (failed.length) await db.tasks.bulkPut(failed);
          await db.runs.put(next);
        }),
      );
      run = next;
    });
  };

  /** Runs one task's steps until it ends, the run stops, or a fatal error (thrown). */
  const runTask = async (entry: QueuedTask & { id: string }) => {
    const controller = new AbortController();
    taskControllers.add(controller);
    if (inner.signal.aborted) controller.abort();
    const taskContext: StepContext = { ...context, signal: controller.signal };
    try {
      await runSteps(entry, taskContext);
    } finally {
      taskControllers.delete(controller);
    }
  };
  const runSteps = async (entry: QueuedTask & { id: string }, taskContext: StepContext) => {
    for (;;) {
      if (inner.signal.aborted) return;
      const task = await db.tasks.get(entry.id);
      if (!task) throw new RunDeletedError();
      if (task.status === 'done' || task.status === 'failed') {
        entry.ended = true;
        return;
      }
      const label = handler.describe?.(task);
      options.onProgress?.(progress('running', label));
      const began = now();
      if (busySteps++ === 0) busySince = began;
      let ended: boolean;
      try {
        try {
          const outcome = await handler.step(task, taskContext);
          // Stopped meanwhile: the step's result is dropped, as if the tab had closed.
          if (inner.signal.aborted) return;
          await checkpoint(task, outcome);
          ended = outcome.done;
        } finally {
          const end = now();
          stepWallMs += end - began;
          if (--busySteps === 0) busyMs += end - busySince;
        }
      } catch (error) {
        if (error instanceof StorageFullError || isStorageWriteFailure(error)) throw error;
        // No replica answers: the run pauses; the task's attempt does not count.
        if (error instanceof EndpointsDownError) throw error;
        if (inner.signal.aborted) return;
        if (isAbortError(error)) throw error;
        if (error instanceof RunDeletedError) throw error;
        ended = await recordAttempt(task, error);
      }
      stepsSinceCheck++;
      if (ended) {
        entry.ended = true;
        sessionDone++;
        return;
      }
    }
  };

  const running = new Map<number, Promise<void>>();
  let stop: Stop | undefined;
  try {
    const low = await lowOnSpace();
    if (low) return await pause(low);
    const rows = await db.tasks
      .where('[runId+order]')
      .between([runId, -Infinity], [runId, Infinity])
      .toArray();
    for (const t of rows)
      queue.push({
        id: t.id,
        ended: t.status === 'done' || t.status === 'failed',
        inFlight: false,
        touched: t.status !== 'pending' || t.attempts > 0 || t.step !== undefined,
        ...(handler.isBarrier?.(t) ? { barrier: true } : {}),
      });
    rows.length = 0;
    // A run stored before waves applied each task's contributions at its checkpoint: every
    // wave before its first unfinished task counts as closed.
    const firstOpen = queue.findIndex((t) => !t.ended);
    const schedule = width
      ? (run.schedule ?? { closedWaves: waveOf(firstOpen < 0 ? queue.length : firstOpen, width) })
      : run.schedule;
    // A previous stop's reason (e.g. a spent budget) no longer applies once the run resumes.
    // Inside the try: on a disk that is still full this first write fails before any engine work.
    delete run.error;
    await saveRun({ status: 'running', ...(schedule ? { schedule } : {}) });
    options.onProgress?.(progress('running'));
    const concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
    for (;;) {
      if (stop || inner.signal.aborted) break;
      if (stepsSinceCheck >= STORAGE_CHECK_STEPS) {
        const message = await lowOnSpace();
        if (message) {
          stop = { kind: 'pause', message, abort: true };
          break;
        }
      }
      const decision = nextDecision({
        queue,
        concurrency,
        ...(width ? { waveWidth: width } : {}),
        closedWaves: run.schedule?.closedWaves ?? 0,
      });
      if (decision.kind === 'done') break;
      if (decision.kind === 'close') {
        await closeWave(decision.wave);
        continue;
      }
      if (decision.kind === 'start') {
        // With waves, budgets are checked as a wave opens (nothing is in flight then); without,
        // before each task starts.
        if (decision.opensWave || !width) {
          const limit = handler.limitReached?.(run);
          if (limit) {
            stop = { kind: 'pause', message: limit, abort: false };
            break;
          }
        }
        for (const position of decision.positions) {
          const entry = queue[position];
          if (!entry) continue;
          entry.inFlight = true;
          entry.touched = true;
          inFlight++;
          const work = runTask(entry)
            .catch((error: unknown) => {
              stop ??= { kind: 'fatal', error };
              abortInner();
            })
            .finally(() => {
              entry.inFlight = false;
              inFlight--;
              running.delete(position);
            });
          running.set(position, work);
        }
        continue;
      }
      if (!running.size) throw new Error('The run scheduler stalled with nothing in flight.');
      await Promise.race(running.values());
    }
    if (stop?.kind === 'pause' && stop.abort) abortInner();
    await Promise.all(running.values());
    if (stop?.kind === 'fatal') throw stop.error;
    if (options.signal.aborted) throw new AbortedError();
    if (stop?.kind === 'pause') return await pause(stop.message);
    await saveRun({ status: 'done' });
    const final = progress('done');
    options.onProgress?.(final);
    return final;
  } catch (error) {
    // Nothing may write after the stop is recorded: let every step in flight settle first.
    abortInner();
    await Promise.all(running.values());
    // Its project was deleted: there is nothing left to record the stop on, and nothing may be recreated.
    if (error instanceof RunDeletedError) {
      const gone = progress('cancelled', undefined, error.message);
      options.onProgress?.(gone);
      return gone;
    }
    // A refused write pauses: the run resumes where it stopped once space is freed. (Checked
    // first: a really full disk aborts Dexie's transaction with an error named AbortError.)
    const full =
      !options.signal.aborted &&
      (error instanceof StorageFullError || isStorageWriteFailure(error));
    // Every replica of an endpoint is down: pause like a full disk; the runner resumes it later.
    const down = !options.signal.aborted && error instanceof EndpointsDownError;
    const stopped = !full && !down && (isAbortError(error) || options.signal.aborted);
    const status =
      full || down || (stopped && options.stopMode?.() !== 'cancel')
        ? 'paused'
        : stopped
          ? 'cancelled'
          : 'failed';
    const message = full
      ? error instanceof StorageFullError
        ? error.message
        : STORAGE_FULL_MESSAGE
      : down
        ? `${error.message} ${ENDPOINTS_DOWN_PAUSE}`
        : stopped
          ? undefined
          : errorMessage(error);
    const unsaved = await recordStatus(db, runId, status, message, now);
    const final = progress(status, undefined, [message, unsaved].filter(Boolean).join(' '));
    if (down) final.resumeAt = error.retryAt;
    options.onProgress?.(final);
    return final;
  } finally {
    options.signal.removeEventListener('abort', abortInner);
  }
}

/** The task changed since it was read: its step was applied elsewhere (see {@link commitStep}). */
export class TaskMovedError extends Error {
  constructor() {
    super('This step of the task was applied already.');
    this.name = 'TaskMovedError';
  }
}

/**
 * Stores a step's outcome: the task's new state, the rows the step produced and the run row
 * (progress, usage, `patchRun`) in ONE transaction; returns the run as committed (`run` is not
 * changed). With `onlyIfUnchanged`, the task row must still be as `task` was read (same status,
 * step and time) or nothing is written and {@link TaskMovedError} is thrown: an answer imported
 * from a batch file is applied at most once.
 */
export async function commitStep(
  db: SpecAlignDb,
  run: Run,
  task: Task,
  outcome: StepOutcome,
  now: () => number,
  onlyIfUnchanged = false,
): Promise<Run> {
  const next = charged(run, outcome.usage, outcome.usageByRole);
  const failure = outcome.done ? outcome.failure : undefined;
  const shared =
    outcome.share !== undefined ? [...(task.shared ?? []), outcome.share] : task.shared;
  const updated: Task = {
    ...task,
    status: !outcome.done ? 'running' : failure !== undefined ? 'failed' : 'done',
    step: outcome.step,
    state: outcome.state,
    ...(failure !== undefined ? { error: failure } : {}),
    ...(shared ? { shared } : {}),
    updatedAt: now(),
  };
  if (outcome.done)
    next.progress =
      failure !== undefined
        ? { ...next.progress, failed: next.progress.failed + 1 }
        : { ...next.progress, done: next.progress.done + 1 };
  outcome.patchRun?.(next);
  next.updatedAt = now();
  const tables = [db.tasks, db.runs, ...(outcome.tables ?? []).map((t) => db.table(t))];
  await guardStorage(() =>
    db.transaction('rw', tables, async () => {
      await assertRunExists(db, run.id);
      if (onlyIfUnchanged) {
        const stored = await db.tasks.get(task.id);
        if (
          !stored ||
          stored.status !== task.status ||
          stored.step !== task.step ||
          stored.updatedAt !== task.updatedAt
        )
          throw new TaskMovedError();
      }
      await outcome.write?.(db);
      await db.tasks.put(updated);
      await db.runs.put(next);
    }),
  );
  return next;
}

/**
 * Records how a run stopped; returns what to tell the user if that could not be stored. On a full
 * disk this write can fail too: it is retried once without the message (the row's larger part).
 * If the retry fails as well the row still reads 'running', so the run counts as interrupted and
 * is resumed once when its screen next opens; with the disk still full that resume stops at its
 * first write, before any engine work, so nothing loops.
 */
async function recordStatus(
  db: SpecAlignDb,
  runId: string,
  status: Run['status'],
  message: string | undefined,
  now: () => number,
): Promise<string | undefined> {
  try {
    await db.runs.update(runId, { status, error: message, updatedAt: now() });
    return undefined;
  } catch {
    try {
      await db.runs.update(runId, { status, updatedAt: now() });
      return undefined;
    } catch (error) {
      const cause = isStorageWriteFailure(error) ? 'storage is full' : errorMessage(error);
      return `The run could not be marked ${status} (${cause}), so it still counts as running: it resumes by itself when its screen next opens.`;
    }
  }
}

/** A copy of `run` with `usage` (and its split by role) added; nested objects are copied. */
function charged(
  run: Run,
  usage: TokenUsage | undefined,
  byRole: Partial<Record<AgentRole, TokenUsage>> | undefined,
): Run {
  const next: Run = { ...run, progress: { ...run.progress }, usage: { ...run.usage } };
  if (usage) next.usage = addUsage(next.usage, usage);
  const roles = Object.entries(byRole ?? {}) as [AgentRole, TokenUsage][];
  if (roles.length) {
    const merged = { ...run.usageByRole };
    for (const [role, u] of roles)
      merged[role] = addUsage(merged[role] ?? { promptTokens: 0, completionTokens: 0 }, u);
    next.usageByRole = merged;
  }
  return next;
}

/** The usage a thrown value carries (see {@link ChargedFailure}); fields that are not valid are ignored. */
function chargeOf(error: unknown): ChargedFailure {
  if (!error || typeof error !== 'object') return {};
  const { usage, usageByRole, durationMs } = error as Record<string, unknown>;
  const out: ChargedFailure = {};
  if (isUsage(usage)) out.usage = usage;
  if (usageByRole && typeof usageByRole === 'object') {
    const roles = Object.entries(usageByRole).filter(([, u]) => isUsage(u));
    if (roles.length)
      out.usageByRole = Object.fromEntries(roles) as Partial<Record<AgentRole, TokenUsage>>;
  }
  if (typeof durationMs === 'number' && Number.isFinite(durationMs)) out.durationMs = durationMs;
  return out;
}

function isUsage(value: unknown): value is TokenUsage {
  if (!value || typeof value !== 'object') return false;
  const { promptTokens, completionTokens } = value as Record<string, unknown>;
  return (
    typeof promptTokens === 'number' &&
    Number.isFinite(promptTokens) &&
    typeof completionTokens === 'number' &&
    Number.isFinite(completionTokens)
  );
}

/** The run row vanished mid-run: its project was deleted while a step was in flight. */
export class RunDeletedError extends Error {
  constructor() {
    super('This run was deleted with its project; its last step was discarded.');
    this.name = 'RunDeletedError';
  }
}

/**
 * Called first inside every checkpoint transaction: a step that finishes after its project was
 * deleted must not write its rows (they would be orphans, or recreate the run row with `put`).
 */
async function assertRunExists(db: SpecAlignDb, runId: string): Promise<void> {
  if ((await db.runs.get(runId)) === undefined) throw new RunDeletedError();
}
