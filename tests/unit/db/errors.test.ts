import { describe, expect, it } from 'vitest';
import { StorageFullError } from '$lib/core/errors';
import { guardStorage, isQuotaError, isStorageWriteFailure } from '$lib/db/errors';

const quota = () => new DOMException('The quota has been exceeded.', 'QuotaExceededError');

describe('isQuotaError', () => {
  it('recognises the browser DOMException', () => {
    expect(isQuotaError(quota())).toBe(true);
  });

  it('recognises a quota error wrapped by Dexie in `inner`', () => {
    // Dexie reports a failed transaction as AbortError with the real cause in `inner`.
    const wrapped = {
      name: 'AbortError',
      message: 'Transaction aborted',
      inner: { name: 'QuotaExceededError' },
    };
    expect(isQuotaError(wrapped)).toBe(true);
  });

  it('recognises a quota error several levels deep, via inner or cause', () => {
    const deep = new Error('bulkAdd failed', {
      cause: { name: 'AbortError', inner: { name: 'Error', cause: quota() } },
    });
    expect(isQuotaError(deep)).toBe(true);
  });

  it('recognises engines that only say "quota" in the message', () => {
    expect(
      isQuotaError(new Error('Encountered full disk while opening backing store (Quota).')),
    ).toBe(true);
  });

  it('rejects other errors and non-errors', () => {
    expect(isQuotaError(new DOMException('Key already exists', 'ConstraintError'))).toBe(false);
    expect(isQuotaError({ name: 'AbortError', inner: { name: 'ConstraintError' } })).toBe(false);
    expect(isQuotaError(new Error('network down'))).toBe(false);
    expect(isQuotaError(undefined)).toBe(false);
    expect(isQuotaError(null)).toBe(false);
    expect(isQuotaError('QuotaExceededError')).toBe(false);
  });

  it('terminates on a cyclic error chain', () => {
    const a: { name: string; inner?: unknown } = { name: 'AbortError' };
    a.inner = { name: 'Error', inner: a };
    expect(isQuotaError(a)).toBe(false);
  });
});

describe('guardStorage', () => {
  it('returns the value of a successful write', async () => {
    await expect(guardStorage(async () => 42)).resolves.toBe(42);
  });

  it('turns a quota failure into StorageFullError with an actionable message and the cause', async () => {
    const original = { name: 'AbortError', inner: quota() };
    const error = await guardStorage(() => Promise.reject(original)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageFullError);
    const full = error as StorageFullError;
    expect(full.name).toBe('StorageFullError');
    expect(full.message).toMatch(/storage is full/);
    expect(full.message).toMatch(/deleting cached models or old projects/);
    expect(full.cause).toBe(original);
  });

  it('passes every other error through unchanged', async () => {
    const constraint = new DOMException(
      'Key already exists in the object store.',
      'ConstraintError',
    );
    await expect(guardStorage(() => Promise.reject(constraint))).rejects.toBe(constraint);
    const plain = new Error('boom');
    await expect(guardStorage(() => Promise.reject(plain))).rejects.toBe(plain);
  });

  it('also guards a write that throws synchronously', async () => {
    const error = await guardStorage(() => {
      throw quota();
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageFullError);
  });
});

describe('isStorageWriteFailure (what a really full disk gives)', () => {
  it('recognises an aborted transaction, a BulkError of aborted requests and UnknownError', () => {
    expect(
      isStorageWriteFailure({
        name: 'AbortError',
        message: 'The transaction was aborted, so the request cannot be fulfilled.',
      }),
    ).toBe(true);
    expect(
      isStorageWriteFailure({
        name: 'BulkError',
        message:
          'tasks.bulkAdd(): 3 of 24 operations failed. Errors: AbortError: The transaction was aborted, so the request cannot be fulfilled.',
        failures: [{ name: 'AbortError', message: 'The transaction was aborted' }],
      }),
    ).toBe(true);
    expect(
      isStorageWriteFailure(new DOMException('Internal error committing', 'UnknownError')),
    ).toBe(true);
  });

  it('is not fooled by our own bad writes or a user abort', () => {
    expect(
      isStorageWriteFailure({
        name: 'AbortError',
        message: 'Transaction aborted',
        inner: { name: 'ConstraintError' },
      }),
    ).toBe(false);
    expect(isStorageWriteFailure(new DOMException('The user aborted.', 'AbortError'))).toBe(false);
    expect(isStorageWriteFailure(new Error('network down'))).toBe(false);
  });

  it('is mapped by guardStorage to the one human message', async () => {
    const raw = { name: 'AbortError', message: 'The transaction was aborted.' };
    const error = await guardStorage(() => Promise.reject(raw)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageFullError);
    expect((error as Error).message).not.toMatch(/AbortError|transaction/);
  });
});
