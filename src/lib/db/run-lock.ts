/**
 * The Web Lock that guards one stored run across tabs: a tab's worker holds it while it executes
 * the run, and a tab's UI takes it briefly to learn, authoritatively, whether the run was left
 * interrupted. Where the platform has no Web Locks (Node tests) work runs unguarded.
 */

/** The lock's name. Changing it lets an old tab and a new one execute the same run at once. */
export function runLockName(runId: string): string {
  return `specalign-run:${runId}`;
}

export class RunLockedError extends Error {
  constructor() {
    super('This run is already running in another tab. Close that tab or wait for it to finish.');
    this.name = 'RunLockedError';
  }
}

/** True for a {@link RunLockedError}, also after comlink turned it into a plain Error. */
export function isRunLockedError(error: unknown): boolean {
  return error instanceof Error && error.name === 'RunLockedError';
}

function lockManager(): LockManager | undefined {
  return (globalThis.navigator as Navigator | undefined)?.locks;
}

/** Runs `work` holding the run's lock, or throws {@link RunLockedError} at once if it is taken. */
export async function withRunLockIfFree<T>(runId: string, work: () => Promise<T>): Promise<T> {
  const locks = lockManager();
  if (!locks) return work();
  return locks.request(runLockName(runId), { ifAvailable: true }, async (lock) => {
    if (!lock) throw new RunLockedError();
    return work();
  });
}

export interface WaitOptions {
  /** Ends the wait (rejecting with an AbortError) if the lock was not granted yet. */
  signal?: AbortSignal;
  /** Called once if the lock is taken, before waiting for it. */
  onWait?: () => void;
}

/**
 * Runs `work` holding the run's lock, waiting as long as another tab holds it. The wait is an
 * event, not a poll: the browser grants the lock when its holder releases it, which includes the
 * holder's tab closing.
 */
export async function withRunLock<T>(
  runId: string,
  options: WaitOptions,
  work: () => Promise<T>,
): Promise<T> {
  const locks = lockManager();
  if (!locks) return work();
  const name = runLockName(runId);
  const free = await locks.request(name, { ifAvailable: true }, async (lock) =>
    lock ? { value: await work() } : undefined,
  );
  if (free) return free.value;
  options.onWait?.();
  options.signal?.throwIfAborted();
  return locks.request(name, options.signal ? { signal: options.signal } : {}, () => work());
}
