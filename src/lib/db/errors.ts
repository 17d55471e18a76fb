import { StorageFullError } from '$lib/core/errors';

/** The one message a user sees for any write the browser's storage refused. */
export const STORAGE_FULL_MESSAGE =
  'The browser refused to store more data: storage is full. Free space by deleting cached models or old projects (Models and Projects screens), or other files on this disk, then try again. Nothing already saved was lost.';

interface ErrorLike {
  name?: string;
  message?: string;
  inner?: unknown;
  cause?: unknown;
  failures?: unknown;
}

/** The error and what it wraps (Dexie's `inner`, `cause`, a BulkError's `failures`), bounded. */
function* chain(error: unknown): Generator<ErrorLike> {
  const queue: unknown[] = [error];
  for (let seen = 0; queue.length && seen < 12; seen++) {
    const e = queue.shift();
    if (!e || typeof e !== 'object') continue;
    const like = e as ErrorLike;
    yield like;
    queue.push(like.inner, like.cause);
    if (Array.isArray(like.failures)) queue.push(...like.failures.slice(0, 3));
  }
}

/** True for IndexedDB/Dexie quota errors, however they are wrapped. */
export function isQuotaError(error: unknown): boolean {
  for (const e of chain(error)) {
    if (e.name === 'QuotaExceededError' || /quota/i.test(e.message ?? '')) return true;
  }
  return false;
}

/**
 * True when the browser's storage refused a write: a quota error, or what a really full disk
 * gives instead: Chromium aborts the transaction ("AbortError: The transaction was aborted",
 * inside a BulkError "n of m operations failed") or reports an `UnknownError` from its backing
 * store. A user's cancel is our own AbortedError and never reaches a database call.
 */
export function isStorageWriteFailure(error: unknown): boolean {
  if (isQuotaError(error)) return true;
  const links = [...chain(error)];
  // A transaction aborted by our own bad write (a duplicate key, an invalid key) is a bug, not a full disk.
  if (links.some((e) => e.name === 'ConstraintError' || e.name === 'DataError')) return false;
  for (const e of links) {
    if (e.name === 'UnknownError') return true;
    if (e.name === 'AbortError' && /transaction/i.test(e.message ?? '')) return true;
    if (e.name === 'BulkError' && /transaction was aborted/i.test(e.message ?? '')) return true;
  }
  return false;
}

/** Runs a write and turns a refused write into a message the user can act on. */
export async function guardStorage<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isStorageWriteFailure(error)) {
      throw new StorageFullError(STORAGE_FULL_MESSAGE, { cause: error });
    }
    throw error;
  }
}
