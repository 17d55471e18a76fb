import { StorageFullError } from '$lib/core/errors';

/** True for IndexedDB/Dexie quota errors, however they are wrapped. */
export function isQuotaError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    const { name, message, inner, cause } = e as {
      name?: string;
      message?: string;
      inner?: unknown;
      cause?: unknown;
    };
    if (name === 'QuotaExceededError' || /quota/i.test(message ?? '')) return true;
    e = inner ?? cause;
  }
  return false;
}

/** Runs a write and turns a quota failure into a message the user can act on. */
export async function guardStorage<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isQuotaError(error)) {
      throw new StorageFullError(
        'The browser refused to store more data: storage is full. Free space by deleting cached models or old projects (Models and Projects screens), then try again. Nothing already saved was lost.',
        { cause: error },
      );
    }
    throw error;
  }
}
