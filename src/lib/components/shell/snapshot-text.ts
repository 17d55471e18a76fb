import type { SnapshotInfo } from '$lib/worker/snapshots/snapshot-store';

/** "saved 12/7/2026, 20:15:03 · 12 rules · 2 runs (1 interrupted) · 48 pairs" */
export function snapshotSummary(snapshot: SnapshotInfo): string {
  const { rules, runs, interruptedRuns, pairs } = snapshot.counts;
  return `saved ${new Date(snapshot.savedAt).toLocaleString()} · ${rules} rules · ${runs} runs (${interruptedRuns} interrupted) · ${pairs} pairs`;
}
