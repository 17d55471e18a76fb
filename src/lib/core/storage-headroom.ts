/**
 * How much free storage a run keeps in reserve. A run pauses while enough space remains to write
 * the pause and keep the database healthy: a write that hits a really full disk aborts its
 * transaction, and a browser that finds its store damaged may delete the origin's data.
 */
import { formatBytes } from './progress';

/** Never run with less than this free: room for the pause, a snapshot and the browser's own bookkeeping. */
export const MIN_HEADROOM_BYTES = 50_000_000;
/** Keep room for this many more of the latest interval's writes. */
export const HEADROOM_INTERVALS = 5;

export interface StorageSample {
  usageBytes: number;
  /** 0 when the browser does not say (then no check is possible). */
  quotaBytes: number;
}

/** Free space a run needs, given how much the last interval between checks wrote. */
export function requiredHeadroom(recentWriteBytes: number): number {
  return Math.max(MIN_HEADROOM_BYTES, HEADROOM_INTERVALS * Math.max(0, recentWriteBytes));
}

/**
 * Why the run must pause, or undefined when there is room. `previous` is the sample of the last
 * check (its usage growth is the recent write rate).
 */
export function storageShortfall(
  sample: StorageSample,
  previous?: StorageSample,
): string | undefined {
  if (!(sample.quotaBytes > 0)) return undefined;
  const free = Math.max(0, sample.quotaBytes - sample.usageBytes);
  const needed = requiredHeadroom(previous ? sample.usageBytes - previous.usageBytes : 0);
  if (free >= needed) return undefined;
  return (
    `Paused: storage is almost full. This app may use only ${formatBytes(free)} more on this disk, ` +
    `and a run keeps at least ${formatBytes(needed)} free so it can always save its progress. ` +
    `Free ${formatBytes(needed - free)} or more: delete cached models (Models screen) or old projects, ` +
    `or files elsewhere on this disk, then resume. Nothing saved was lost.`
  );
}
