/**
 * Re-annotation merge (issue 10 §8: "Annotate again piles up duplicates"): when a spec version
 * already has rules, a new annotation run's proposals are matched against them, so annotating
 * again adds only what is new and never a copy of a rule a reviewer already accepted, edited or
 * rejected.
 *
 * Method choices:
 * - **Same source**: both quotes located, same direction, and the spans overlap by at least
 *   `spanOverlap` (default 0.5) of the shorter span, with statements at least `sameSourceSimilarity`
 *   (default 0.3) alike. The floor keeps two different duties quoted from one sentence apart
 *   ("do X, and never Y" has two readings, with different directions or content words). The
 *   floor is waived when the existing rule was reviewed (accepted or rejected): the reviewer has
 *   decided what that quote means, and may have rewritten the statement past recognition.
 * - **Same statement**: same direction and token Jaccard ≥ `threshold` (default 0.7, as in
 *   {@link dedupeRules}), wherever the quotes are.
 * - The existing rule always wins: its status, edits, family and id stay; the proposal is dropped.
 *   Rejected rules match too, so a rejected proposal does not come back as new.
 * - Deterministic: each proposal takes the best-scoring match (span matches before statement
 *   matches, then higher similarity, then the earlier existing rule).
 */
import type { RuleDirection, RuleStatus } from '../records';
import { statementSimilarity } from './dedupe';

export interface MatchableRule {
  statement: string;
  direction: RuleDirection;
  source: { start: number; end: number; located: boolean };
  status?: RuleStatus;
}

export interface ReannotateOptions {
  /** Statement similarity at or above which two rules are the same wherever quoted; default 0.7. */
  threshold?: number;
  /** Share of the shorter quote span two located quotes must overlap; default 0.5. */
  spanOverlap?: number;
  /** Least statement similarity for a same-source match; default 0.3. */
  sameSourceSimilarity?: number;
}

export interface ReannotateMatch {
  /** Index into the proposals. */
  proposed: number;
  /** Index into the existing rules. */
  existing: number;
  reason: 'same-source' | 'same-statement';
}

export interface ReannotateResult {
  /** Proposals that match an existing rule: drop them. */
  matches: ReannotateMatch[];
  /** Indices of proposals that are new, in input order. */
  added: number[];
}

/** Share of the shorter span covered by the overlap of two spans (0 when either is empty). */
export function spanOverlapShare(
  a: { start: number; end: number },
  b: { start: number; end: number },
): number {
  const shorter = Math.min(a.end - a.start, b.end - b.start);
  if (shorter <= 0) return 0;
  const overlap = Math.min(a.end, b.end) - Math.max(a.start, b.start);
  return Math.max(0, overlap) / shorter;
}

/** Matches `proposed` rules against `existing` ones (see the module comment). Inputs are not modified. */
export function matchExistingRules(
  existing: readonly MatchableRule[],
  proposed: readonly MatchableRule[],
  options: ReannotateOptions = {},
): ReannotateResult {
  const threshold = options.threshold ?? 0.7;
  const overlapMin = options.spanOverlap ?? 0.5;
  const sourceSimMin = options.sameSourceSimilarity ?? 0.3;
  const matches: ReannotateMatch[] = [];
  const added: number[] = [];
  proposed.forEach((p, pi) => {
    let best: { existing: number; rank: number; sim: number } | undefined;
    existing.forEach((e, ei) => {
      if (e.direction !== p.direction) return;
      const sim = statementSimilarity(p.statement, e.statement);
      const sameSource =
        p.source.located &&
        e.source.located &&
        spanOverlapShare(p.source, e.source) >= overlapMin &&
        (sim >= sourceSimMin || e.status === 'accepted' || e.status === 'rejected');
      const rank = sameSource ? 0 : sim >= threshold ? 1 : -1;
      if (rank < 0) return;
      if (!best || rank < best.rank || (rank === best.rank && sim > best.sim))
        best = { existing: ei, rank, sim };
    });
    if (best)
      matches.push({
        proposed: pi,
        existing: best.existing,
        reason: best.rank === 0 ? 'same-source' : 'same-statement',
      });
    else added.push(pi);
  });
  return { matches, added };
}
