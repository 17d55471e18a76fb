/**
 * What a reviewer filters pairs by beyond their stored columns: the judges' verdicts and the
 * chosen reply's quality score, read from synthesis provenance through its one reader
 * (`readPairProvenance`, core/stored). Foreign provenance (imported, hand-made) and corrupt
 * provenance both read as "none": such a pair matches no verdict and has no quality score, and
 * a corrupt one is reported by {@link provenanceProblem}.
 */
import type { PreferencePair } from '../records';
import { pairOrigin, readPairProvenance } from '../stored/pair-provenance';
import type { JudgementRecord, PairOrigin, PairProvenance } from '../synthesis/loop-types';

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

// Parsed once per row object: a filter pass over 100k pairs asks several facets of each.
const parsed = new WeakMap<PreferencePair, ReturnType<typeof readPairProvenance>>();

function read(pair: PreferencePair): ReturnType<typeof readPairProvenance> {
  let result = parsed.get(pair);
  if (!result) {
    result = readPairProvenance(pair.provenance, pair.id);
    parsed.set(pair, result);
  }
  return result;
}

/** The pair's synthesis provenance, or `undefined` when it has none or it is corrupt. */
export function synthesisProvenance(pair: PreferencePair): PairProvenance | undefined {
  const result = read(pair);
  return result.ok ? result.value : undefined;
}

/** Why the pair's stored provenance is unreadable, or `undefined` when it is fine (or foreign). */
export function provenanceProblem(pair: PreferencePair): string | undefined {
  const result = read(pair);
  return result.ok ? undefined : result.error.message;
}

function judgements(pair: PreferencePair): JudgementRecord[] {
  return synthesisProvenance(pair)?.judgements ?? [];
}

/** The defender is judged once and never rewritten: only a candidate's failed check means a rewrite. */
const candidateFailed = (j: JudgementRecord) => j.subject !== 'defender' && !j.passed;
const contradicted = (j: JudgementRecord) => j.contradiction !== undefined;

/** Whether the pair's judging history matches `verdict`. */
export function matchesVerdict(pair: PreferencePair, verdict: VerdictFilter): boolean {
  switch (verdict) {
    case 'defender-violated':
    case 'over-refusal':
    case 'violator':
    case 'refusal-writer':
      return synthesisProvenance(pair)?.path === verdict;
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
  const quality = synthesisProvenance(pair)?.chosen.quality;
  if (!quality) return undefined;
  const { helpfulness, fluency } = quality;
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

/**
 * The origin facets a pair can be filtered by (issue 14 §4; definitions on `PairOrigin`). A pair
 * without synthesis provenance (imported, hand-made, or corrupt) has origin `unknown`.
 */
export const ORIGIN_FILTERS = {
  elicited: 'Rejected: the defender’s own failure (any round)',
  'elicited-first-round': 'Rejected: the defender’s failure in round 1',
  'elicited-later-round': 'Rejected: the defender’s failure after round 1',
  written: 'Rejected: written by the violator (first write or rewritten)',
  violator: 'Rejected: written by the violator, first write',
  rewrite: 'Rejected: written by the violator after rewrites',
  'chosen-defender': 'Chosen: the defender’s reply',
  'chosen-written': 'Chosen: written with the instance',
  unknown: 'Origin unknown (no readable synthesis record)',
} as const;

export type OriginFilter = keyof typeof ORIGIN_FILTERS;

const UNKNOWN_ORIGIN: PairOrigin = { rejected: 'unknown', chosen: 'unknown', rounds: 1 };

/** Where the pair's sides came from; `unknown` sides without readable synthesis provenance. */
export function originOfPair(pair: PreferencePair): PairOrigin {
  const provenance = synthesisProvenance(pair);
  return provenance ? pairOrigin(provenance) : UNKNOWN_ORIGIN;
}

/** Whether the pair's origin matches `filter`. */
export function matchesOrigin(pair: PreferencePair, filter: OriginFilter): boolean {
  const origin = originOfPair(pair);
  switch (filter) {
    case 'elicited':
      return origin.rejected === 'defender';
    case 'elicited-first-round':
      return origin.rejected === 'defender' && (origin.round ?? 1) === 1;
    case 'elicited-later-round':
      return origin.rejected === 'defender' && (origin.round ?? 1) > 1;
    case 'written':
      return origin.rejected === 'violator' || origin.rejected === 'rewrite';
    case 'violator':
    case 'rewrite':
      return origin.rejected === filter;
    case 'chosen-defender':
      return origin.chosen === 'defender';
    case 'chosen-written':
      return origin.chosen === 'written';
    case 'unknown':
      return origin.rejected === 'unknown' || origin.chosen === 'unknown';
  }
}

/**
 * Who defended (issue 14 §2): the evaluation target (the run's on-policy defender option), or
 * another model. Pairs without a readable synthesis record match neither.
 */
export const DEFENDER_FILTERS = {
  target: 'The evaluation target (on-policy)',
  other: 'Another model',
} as const;

export type DefenderFilter = keyof typeof DEFENDER_FILTERS;

/** Whether the pair's defender matches `filter`. */
export function matchesDefender(pair: PreferencePair, filter: DefenderFilter): boolean {
  const provenance = synthesisProvenance(pair);
  if (!provenance) return false;
  const isTarget = provenance.roleAssignment?.defenderIsTarget === true;
  return filter === 'target' ? isTarget : !isTarget;
}

/** The origin in words, for the pair view: e.g. "Rejected: the defender’s own reply in round 2. Chosen: written with the instance." */
export function describeOrigin(origin: PairOrigin): string {
  const rejected = {
    defender: `the defender’s own reply${origin.round ? ` in round ${origin.round}` : ''} (elicited)`,
    violator: 'written by the violator after the defender held',
    rewrite: 'written by the violator after the defender held, rewritten on the judge’s feedback',
    unknown: 'unknown',
  }[origin.rejected];
  const chosen = {
    defender: 'the defender’s reply',
    written: 'written with the instance given explicitly',
    unknown: 'unknown',
  }[origin.chosen];
  const rounds = origin.rounds > 1 ? ` Attack rounds: ${origin.rounds}.` : '';
  return `Rejected: ${rejected}. Chosen: ${chosen}.${rounds}`;
}
