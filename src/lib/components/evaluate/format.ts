import type { Score } from '$lib/core/evaluation/rcs';

/** A score as a percentage with one decimal, e.g. "62.5%"; "—" without checks. */
export function percent(score: number | undefined): string {
  return score === undefined ? '—' : `${(score * 100).toFixed(1)}%`;
}

/** A score as a bar value in percent (one decimal), 0 without checks. */
export function barValue(s: Score | undefined): number {
  return s?.score === undefined ? 0 : Math.round(s.score * 1000) / 10;
}
