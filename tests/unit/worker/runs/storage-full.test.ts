/**
 * A disk that fills up mid-run and refuses every write from then on, including the one that
 * would record the failure: the run still reports the failure, its stored state stays
 * consistent, and it remains resumable without hammering the full disk.
 */
import { closeTestDbs, openTestDb } from '../../../helpers/db';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Task } from '$lib/core/records';
import type { SpecAlignDb } from '$lib/db/database';
import { executeRun } from '$lib/worker/runs/executor';
import type { RunHandler } from '$lib/worker/runs/types';
import { engineFor, seedRun, writingHandler } from './executor-fixtures';

afterEach(async () => {
  vi.restoreAllMocks();
  await closeTestDbs();
});

/**
 * IndexedDB writes fail with the browser's QuotaExceededError while `full` is set, or for the
 * next `refuseNext` writes; `refused` counts the writes refused.
 */
function fillableDisk() {
  const disk = { full: false, refuseNext: 0, refused: 0 };
  const proto = IDBObjectStore.prototype;
  const refuse = () => {
    if (!disk.full && disk.refuseNext === 0) return;
    if (disk.refuseNext > 0) disk.refuseNext--;
    disk.refused++;
    throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
  };
  const { put, add, delete: remove } = proto;
  vi.spyOn(proto, 'put').mockImplementation(function (this: IDBObjectStore, value, key) {
    refuse();
    return put.call(this, value, key);
  });
  vi.spyOn(proto, 'add').mockImplementation(function (this: IDBObjectStore, value, key) {
    refuse();
    return add.call(this, value, key);
  });
  vi.spyOn(proto, 'delete').mockImplementation(function (this: IDBObjectStore, query) {
    refuse();
    return remove.call(this, query);
  });
  return disk;
}

/** `writingHandler`, with `onStep` called before each step (e.g. to fill the disk). */
function handlerWith(onStep: (task: Task) => void): RunHandler & { calls: string[] } {
  const base = writingHandler();
  return {
    ...base,
    step(task, context) {
      onStep(task);
      return base.step(task, context);
    },
  };
}

const run = (db: SpecAlignDb, handler: RunHandler) =>
  executeRun(db, 'run-1', handler, { signal: new AbortController().signal, engineFor });

describe('a full disk', () => {
  it('that refuses even the failure record: reports it, keeps the run resumable and consistent, and does not retry in a loop', async () => {
    const db = await openTestDb();
    await seedRun(db, 3);
    const disk = fillableDisk();
    // The disk fills up while chunk-1 is first in flight: its checkpoint is the first refused write.
    let fills = 1;
    const handler = handlerWith((task) => {
      if (task.key === 'chunk-1' && fills-- > 0) disk.full = true;
    });

    const failed = await run(db, handler);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/storage is full/);
    expect(failed.error).toMatch(/could not be marked failed/);
    expect(handler.calls).toEqual(['chunk-0', 'chunk-1']);
    // The checkpoint and both attempts to record the failure were refused.
    expect(disk.refused).toBe(3);

    // Stored: chunk-0 and its result, nothing of chunk-1, and a row that still reads 'running'
    // (so the next visit resumes it) with counters that agree with the tasks.
    disk.full = false;
    expect(await db.runs.get('run-1')).toMatchObject({ status: 'running', progress: { done: 1 } });
    expect((await db.tasks.toArray()).map((t) => t.status)).toEqual(['done', 'pending', 'pending']);
    expect(await db.evaluations.count()).toBe(1);

    // The next visit resumes it on a disk that is still full: it stops at its first write,
    // before any engine work, and says why.
    disk.full = true;
    disk.refused = 0;
    const again = await run(db, handler);
    expect(again.status).toBe('failed');
    expect(again.error).toMatch(/storage is full/);
    expect(handler.calls).toEqual(['chunk-0', 'chunk-1']);
    expect(disk.refused).toBe(3);

    // Space is back: the run finishes, each task's result stored once.
    disk.full = false;
    const done = await run(db, handler);
    expect(done).toMatchObject({ status: 'done', done: 3, failed: 0 });
    expect(done.error).toBeUndefined();
    expect(handler.calls).toEqual(['chunk-0', 'chunk-1', 'chunk-1', 'chunk-2']);
    expect(await db.evaluations.count()).toBe(3);
    expect(await db.runs.get('run-1')).toMatchObject({ status: 'done', progress: { done: 3 } });
  });

  it('records the failure without its message when only that is too much for the disk', async () => {
    const db = await openTestDb();
    await seedRun(db, 2);
    const disk = fillableDisk();
    // The checkpoint and the first, full record of the failure are refused; the bare status fits.
    const handler = handlerWith((task) => {
      if (task.key === 'chunk-1') disk.refuseNext = 2;
    });
    const failed = await run(db, handler);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/storage is full/);
    expect(failed.error).not.toMatch(/could not be marked/);
    expect(disk.refused).toBe(2);
    const stored = await db.runs.get('run-1');
    expect(stored).toMatchObject({ status: 'failed', progress: { done: 1 } });
    expect(stored?.error).toBeUndefined();
  });

  it('that refuses to record a pause: says so, and the run stays resumable', async () => {
    const db = await openTestDb();
    await seedRun(db, 2);
    const disk = fillableDisk();
    const controller = new AbortController();
    const handler = handlerWith((task) => {
      if (task.key !== 'chunk-1') return;
      disk.full = true;
      controller.abort(); // the user pauses while chunk-1 is in flight
    });
    const paused = await executeRun(db, 'run-1', handler, { signal: controller.signal, engineFor });
    expect(paused.status).toBe('paused');
    expect(paused.error).toMatch(/could not be marked paused \(storage is full\)/);
    disk.full = false;
    expect(await db.runs.get('run-1')).toMatchObject({ status: 'running', progress: { done: 1 } });
  });
});
