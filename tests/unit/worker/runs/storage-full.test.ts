/**
 * A disk that fills up mid-run and refuses every write from then on, including the one that
 * would record the failure: the run still reports the failure, its stored state stays
 * consistent, and it remains resumable without hammering the full disk.
 */
import { closeTestDbs, openTestDb } from '../../../helpers/db';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Task } from '$lib/core/records';
import type { SpecAlignDb } from '$lib/db/database';
import { executeRun, STORAGE_CHECK_STEPS } from '$lib/worker/runs/executor';
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

/**
 * What a really full disk does in Chromium: the write is accepted, then the backing store fails
 * and the transaction aborts ("AbortError: The transaction was aborted…", no QuotaExceededError).
 */
function abortingDisk() {
  const disk = { full: false, aborted: 0 };
  const proto = IDBObjectStore.prototype;
  const { put, add } = proto;
  const abortAfter = (store: IDBObjectStore, request: IDBRequest) => {
    if (disk.full) {
      disk.aborted++;
      store.transaction.abort();
    }
    return request;
  };
  vi.spyOn(proto, 'put').mockImplementation(function (this: IDBObjectStore, value, key) {
    return abortAfter(this, put.call(this, value, key));
  });
  vi.spyOn(proto, 'add').mockImplementation(function (this: IDBObjectStore, value, key) {
    return abortAfter(this, add.call(this, value, key));
  });
  return disk;
}

describe('a really full disk (aborted transactions) and the free-space check', () => {
  it('pauses with the human message, never a raw Dexie error, and resumes to the full result', async () => {
    const db = await openTestDb();
    await seedRun(db, 3);
    const disk = abortingDisk();
    let fills = 1;
    const handler = handlerWith((task) => {
      if (task.key === 'chunk-1' && fills-- > 0) disk.full = true;
    });
    const paused = await run(db, handler);
    expect(disk.aborted).toBeGreaterThan(0);
    expect(paused.status).toBe('paused');
    expect(paused.error).toMatch(/storage is full/);
    expect(paused.error).not.toMatch(/AbortError|transaction|operations failed/i);
    disk.full = false;
    expect(await db.evaluations.count()).toBe(1);
    const done = await run(db, handler);
    expect(done).toMatchObject({ status: 'done', done: 3, failed: 0 });
    expect(await db.evaluations.count()).toBe(3);
  });

  it('pauses before any engine work when free space is already below the headroom', async () => {
    const db = await openTestDb();
    await seedRun(db, 2);
    const handler = writingHandler();
    const checkStorage = async () => ({ usageBytes: 990_000_000, quotaBytes: 1_000_000_000 });
    const paused = await executeRun(db, 'run-1', handler, {
      signal: new AbortController().signal,
      engineFor,
      checkStorage,
    });
    expect(paused.status).toBe('paused');
    expect(paused.error).toMatch(/storage is almost full.*delete cached models/s);
    expect(handler.calls).toEqual([]);
    expect(await db.runs.get('run-1')).toMatchObject({ status: 'paused' });
  });

  it('checks again every few steps and pauses mid-run, leaving the rest resumable', async () => {
    const db = await openTestDb();
    await seedRun(db, STORAGE_CHECK_STEPS * 3);
    const handler = writingHandler();
    let usage = 0;
    // Plenty of room at first; after the first interval the disk is nearly full.
    const checkStorage = async () => {
      const sample = { usageBytes: usage, quotaBytes: 1_000_000_000 };
      usage = 980_000_000;
      return sample;
    };
    const options = { signal: new AbortController().signal, engineFor, checkStorage };
    const paused = await executeRun(db, 'run-1', handler, options);
    expect(paused).toMatchObject({ status: 'paused', done: STORAGE_CHECK_STEPS });
    expect(paused.error).toMatch(/Free [\d.]+ [MG]B or more/);
    usage = 0;
    const done = await executeRun(db, 'run-1', handler, {
      ...options,
      checkStorage: async () => ({ usageBytes: 0, quotaBytes: 1_000_000_000 }),
    });
    expect(done).toMatchObject({ status: 'done', done: STORAGE_CHECK_STEPS * 3 });
    expect(await db.evaluations.count()).toBe(STORAGE_CHECK_STEPS * 3);
  });
});

describe('a full disk', () => {
  it('that refuses even the pause record: pauses, reports it, keeps the run resumable and consistent, and does not retry in a loop', async () => {
    const db = await openTestDb();
    await seedRun(db, 3);
    const disk = fillableDisk();
    // The disk fills up while chunk-1 is first in flight: its checkpoint is the first refused write.
    let fills = 1;
    const handler = handlerWith((task) => {
      if (task.key === 'chunk-1' && fills-- > 0) disk.full = true;
    });

    const paused = await run(db, handler);
    expect(paused.status).toBe('paused');
    expect(paused.error).toMatch(/storage is full/);
    expect(paused.error).toMatch(/could not be marked paused/);
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
    expect(again.status).toBe('paused');
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

  it('records the pause without its message when only that is too much for the disk', async () => {
    const db = await openTestDb();
    await seedRun(db, 2);
    const disk = fillableDisk();
    // The checkpoint and the first, full record of the failure are refused; the bare status fits.
    const handler = handlerWith((task) => {
      if (task.key === 'chunk-1') disk.refuseNext = 2;
    });
    const paused = await run(db, handler);
    expect(paused.status).toBe('paused');
    expect(paused.error).toMatch(/storage is full/);
    expect(paused.error).not.toMatch(/could not be marked/);
    expect(disk.refused).toBe(2);
    const stored = await db.runs.get('run-1');
    expect(stored).toMatchObject({ status: 'paused', progress: { done: 1 } });
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
