import { afterEach, describe, expect, it, vi } from 'vitest';
import { isAbortError } from '$lib/core/errors';
import {
  isRunLockedError,
  RunLockedError,
  runLockName,
  withRunLock,
  withRunLockIfFree,
} from '$lib/db/run-lock';

/** Exclusive Web Locks as the spec has them: a held lock passes to the oldest waiter on release. */
class FakeLocks {
  #held = new Set<string>();
  #waiters = new Map<string, (() => void)[]>();

  async request<T>(
    name: string,
    options: LockOptions,
    callback: (lock: Lock | null) => Promise<T> | T,
  ): Promise<T> {
    if (this.#held.has(name)) {
      if (options.ifAvailable) return callback(null);
      await new Promise<void>((resolve, reject) => {
        const queue = this.#waiters.get(name) ?? [];
        this.#waiters.set(name, queue);
        const grant = () => {
          options.signal?.removeEventListener('abort', abort);
          resolve();
        };
        const abort = () => {
          queue.splice(queue.indexOf(grant), 1);
          reject(options.signal?.reason);
        };
        options.signal?.addEventListener('abort', abort, { once: true });
        queue.push(grant);
      });
    }
    this.#held.add(name);
    try {
      return await callback({ name, mode: 'exclusive' });
    } finally {
      const next = this.#waiters.get(name)?.shift();
      if (next) next();
      else this.#held.delete(name);
    }
  }

  /** Holds `name` until the returned function is called; that resolves once it is released. */
  hold(name: string): () => Promise<void> {
    let release!: () => void;
    const held = this.request(name, {}, () => new Promise<void>((r) => (release = r)));
    return () => {
      release();
      return held;
    };
  }
}

function stubLocks(): FakeLocks {
  const locks = new FakeLocks();
  vi.stubGlobal('navigator', { locks });
  return locks;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('run locks', () => {
  it('run work at once when nobody holds the run, and refuse at once if asked not to wait', async () => {
    const locks = stubLocks();
    expect(await withRunLockIfFree('r', async () => 'ran')).toBe('ran');
    const onWait = vi.fn();
    expect(await withRunLock('r', { onWait }, async () => 'ran')).toBe('ran');
    expect(onWait).not.toHaveBeenCalled();

    const release = locks.hold(runLockName('r'));
    const refused = withRunLockIfFree('r', async () => 'ran');
    await expect(refused).rejects.toBeInstanceOf(RunLockedError);
    expect(isRunLockedError(await refused.catch((e: unknown) => e))).toBe(true);
    // comlink rethrows a worker's error as a plain Error with the same name.
    expect(isRunLockedError(Object.assign(new Error('x'), { name: 'RunLockedError' }))).toBe(true);
    await release();
  });

  it('wait for the tab that holds the run, saying so, and run once it lets go', async () => {
    const locks = stubLocks();
    const release = locks.hold(runLockName('r'));
    const events: string[] = [];
    let waiting!: () => void;
    const said = new Promise<void>((resolve) => (waiting = resolve));
    const waited = withRunLock(
      'r',
      {
        signal: new AbortController().signal,
        onWait: () => {
          events.push('waiting');
          waiting();
        },
      },
      async () => {
        events.push('ran');
        return 'ran';
      },
    );
    await said;
    expect(events).toEqual(['waiting']);
    await release();
    expect(await waited).toBe('ran');
    expect(events).toEqual(['waiting', 'ran']);
  });

  it('end a wait when it is aborted, without running its work', async () => {
    const locks = stubLocks();
    const release = locks.hold(runLockName('r'));
    const controller = new AbortController();
    const work = vi.fn(async () => 'ran');
    let waiting!: () => void;
    const said = new Promise<void>((resolve) => (waiting = resolve));
    const waited = withRunLock('r', { signal: controller.signal, onWait: waiting }, work);
    await said;
    controller.abort();
    expect(isAbortError(await waited.catch((e: unknown) => e))).toBe(true);
    await release();
    // The lock is free again: the aborted wait did not take it, and its work never ran.
    expect(await withRunLockIfFree('r', async () => 'free')).toBe('free');
    expect(work).not.toHaveBeenCalled();
  });
});
