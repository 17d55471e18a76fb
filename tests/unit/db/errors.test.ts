import { describe, expect, it } from 'vitest';
import { StorageFullError } from '$lib/core/errors';
import { guardStorage, isQuotaError } from '$lib/db/errors';

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
