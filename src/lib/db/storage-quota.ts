import type { StorageSample } from '$lib/core/storage-headroom';

/** Persistent storage and usage, for the storage indicator. Browser-only (navigator.storage). */
export interface StorageReport {
  persisted: boolean;
  usageBytes: number;
  quotaBytes: number;
}

/** Asks the browser not to evict our data under pressure; returns whether it agreed. */
export async function requestPersistence(): Promise<boolean> {
  if (!navigator.storage?.persist) return false;
  if (await navigator.storage.persisted()) return true;
  return navigator.storage.persist();
}

export async function readStorageReport(): Promise<StorageReport> {
  const estimate = (await navigator.storage?.estimate?.()) ?? {};
  const persisted = (await navigator.storage?.persisted?.()) ?? false;
  return { persisted, usageBytes: estimate.usage ?? 0, quotaBytes: estimate.quota ?? 0 };
}

/** Usage and quota for a run's free-space check; undefined where the browser cannot say. */
export async function sampleStorage(): Promise<StorageSample | undefined> {
  if (typeof navigator === 'undefined' || !navigator.storage?.estimate) return undefined;
  const { usage, quota } = await navigator.storage.estimate();
  return { usageBytes: usage ?? 0, quotaBytes: quota ?? 0 };
}
