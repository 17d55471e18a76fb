/**
 * Remaining-time estimate from progress so far. Uses the average rate since `startedAt`, which is
 * steadier than an instantaneous rate for bursty work such as downloads or model calls.
 * Returns undefined until there is enough signal (some progress, at least one second).
 */
export function estimateRemainingMs(
  startedAt: number,
  fraction: number,
  now: number,
): number | undefined {
  const elapsed = now - startedAt;
  if (!(fraction > 0.001) || elapsed < 1000) return undefined;
  if (fraction >= 1) return 0;
  return (elapsed / fraction) * (1 - fraction);
}

/** "2 h 5 min", "3 min 20 s", "12 s". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** "1.2 GB", "350 MB", "12 KB" (decimal units, as download sizes are usually quoted). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  if (bytes < 1000) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = bytes / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}
