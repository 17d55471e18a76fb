/**
 * What a reviewer filters pairs by beyond their stored columns: the judges' verdicts and the
 * chosen reply's quality score, read from synthesis provenance (`PairProvenance` in
 * synthesis/loop.ts). Provenance is free-form JSON (imported projects, older runs), so every
 * reader here tolerates missing or malformed fields: such a pair simply matches no verdict and
 * has no quality score.
 */
import type { PreferencePair } from '../records';

/** The verdict facets a pair can be filtered by. */
export const VERDICT_FILTERS = {
  'defender-violated': "Defender's reply violated the rule",
  'over-refusal': 'Defender refused needlessly',
  violator: 'Defender complied; a violation was written',
  'refusal-writer': 'Defender complied; a needless refusal was written',
  'first-pass': 'Every written reply passed its judges first time',
  rewritten: 'A candidate was rewritten after a failed verdict',
  contradiction: 'A judge contradicted itself and was asked again',
} as const;

export type VerdictFilter = keyof typeof VERDICT_FILTERS;

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function judgements(pair: PreferencePair): Record<string, unknown>[] {
  const list = pair.provenance.judgements;
  return Array.isArray(list) ? list.filter(isRecord) : [];
}

/** The defender is judged once and never rewritten: only a candidate's failed check means a rewrite. */
const candidateFailed = (j: Record<string, unknown>) =>
  j.subject !== 'defender' && j.passed === false;
const contradicted = (j: Record<string, unknown>) => typeof j.contradiction === 'string';

/** Whether the pair's judging history matches `verdict`. */
export function matchesVerdict(pair: PreferencePair, verdict: VerdictFilter): boolean {
  switch (verdict) {
    case 'defender-violated':
    case 'over-refusal':
    case 'violator':
    case 'refusal-writer':
      return pair.provenance.path === verdict;
    case 'first-pass': {
      const list = judgements(pair);
      return list.length > 0 && !list.some(candidateFailed) && !list.some(contradicted);
    }
    case 'rewritten':
      return judgements(pair).some(candidateFailed);
    case 'contradiction':
      return judgements(pair).some(contradicted);
  }
}

/**
 * The chosen reply's quality score, 1–5: the lower of the quality judge's helpfulness and
 * fluency (a reply is only as good as its weaker side). Undefined when it was never scored.
 */
export function qualityScore(pair: PreferencePair): number | undefined {
  const chosen = pair.provenance.chosen;
  const quality = isRecord(chosen) ? chosen.quality : undefined;
  if (!isRecord(quality)) return undefined;
  const { helpfulness, fluency } = quality;
  if (typeof helpfulness !== 'number' || typeof fluency !== 'number') return undefined;
  const score = Math.min(helpfulness, fluency);
  return Number.isFinite(score) ? score : undefined;
}

/** An inclusive range of quality scores; `unscored` selects pairs without a score instead. */
export type QualityFilter = { min?: number; max?: number } | 'unscored';

/** Whether the pair's quality score passes `filter`. */
export function matchesQuality(pair: PreferencePair, filter: QualityFilter): boolean {
  const score = qualityScore(pair);
  if (filter === 'unscored') return score === undefined;
  if (score === undefined) return false;
  return (
    (filter.min === undefined || score >= filter.min) &&
    (filter.max === undefined || score <= filter.max)
  );
}
