/**
 * *Update from vN* (issue 11 §2): carrying a spec version's rules to the next version at the cost
 * of the change. Pure: given the section diff, both versions' sections, the new text, the old
 * rules and the rules a re-annotation of the touched sections proposed, it says what becomes of
 * every rule. Nothing is written here; the worker stores the plan's rules when the reviewer
 * confirms.
 *
 * Method (the paper is silent on versions; these are our choices):
 * - **Unchanged section** (matched by the diff, same anchor, body equal up to whitespace): its
 *   rules carry over as they are — statement, edits, status, notes — with the quote located
 *   again in the new text (offsets move when text above changes). A quote that cannot be found
 *   any more (never for an unchanged body, but a hand-edited quote might) is flagged, not lost.
 * - **Removed section**: its rules retire, unless a re-annotated proposal matches them (text that
 *   moved into a new section is the same rule).
 * - **Changed and added sections** are re-annotated (only those: {@link sectionsToReannotate}).
 *   Each proposal is matched one-to-one, best score first, to an old rule of a changed or removed
 *   section with the same direction:
 *   - *same statement*: normalised statements equal, or content-word Jaccard
 *     ({@link statementSimilarity}) ≥ {@link SAME_STATEMENT_SIMILARITY} (0.9), or *same unchanged
 *     quote*: the old quote is found verbatim in the new section and the proposal quotes the same
 *     place (see below) → **kept**: the old rule carries over as it is (a reviewer's rewording
 *     stands: the text it came from did not change), its source the located quote;
 *   - *close*: Jaccard ≥ {@link CLOSE_STATEMENT_SIMILARITY} (0.5), or the old quote is still
 *     located in the new text and the proposal quotes the same place (spans overlap ≥ 0.5 of the
 *     shorter) with Jaccard ≥ {@link SAME_QUOTE_SIMILARITY} (0.3; waived when the old rule was
 *     reviewed, as in re-annotation: the reviewer decided what the quote means) → **changed**: the
 *     new wording with the old rule's lineage and decision (status);
 *   - unmatched proposals are **new** (own lineage, status proposed).
 *   The thresholds follow core/rules/reannotate.ts (0.3 floor, 0.5 overlap) and dedupe (0.7 means
 *   "duplicate"); "changed" asks less (0.5) because a reworded duty keeps about half its content
 *   words, while two different duties rarely share that much: of the 1,013 pairs of distinct
 *   normative sentences within one section of the 2025-12-18 release, 3 score ≥ 0.5 (4 ≥ 0.3).
 * - An old rule of a changed section that no proposal matched, whose quote is still found
 *   verbatim (exact or normalised) in that section's new text, is **kept**: its text is still
 *   there and a reviewer's decision on it stands. Otherwise it **retires**.
 * - Sections whose re-annotation failed (`failedAnchors`) are treated as unchanged for their old
 *   rules: nothing retires because a model call failed.
 * - Versions that share almost nothing (fewer than {@link MIN_RELATED_SHARE} of sections matched)
 *   are *unrelated*: the plan says so, and the app offers a fresh start instead.
 */
import type { Rule, Section } from '../records';
import type { SpecDiff } from '../spec/diff';
import { normaliseStatement } from './annotate';
import { statementSimilarity } from './dedupe';
import { lineageOf } from './lineage';
import { QuoteLocator } from './locate-quote';
import { spanOverlapShare } from './reannotate';

export const SAME_STATEMENT_SIMILARITY = 0.9;
export const CLOSE_STATEMENT_SIMILARITY = 0.5;
export const SAME_QUOTE_SIMILARITY = 0.3;
export const SAME_QUOTE_OVERLAP = 0.5;
/** Below this share of matched sections two versions are not versions of one spec. */
export const MIN_RELATED_SHARE = 0.2;

export type PlanSection = Pick<Section, 'anchor' | 'start' | 'end'>;

export interface UpdatePlanInput {
  diff: SpecDiff;
  /** Both versions' sections, in document order (the diff's `index` points into them). */
  oldSections: readonly PlanSection[];
  newSections: readonly PlanSection[];
  newText: string;
  newVersionId: string;
  /** The update run: ids of carried-over rules derive from it, so confirming twice adds nothing. */
  runId: string;
  oldRules: readonly Rule[];
  /** Rules proposed for the re-annotated sections of the new version (final ids, own lineage). */
  proposals: readonly Rule[];
  /** New-version anchors whose re-annotation failed. */
  failedAnchors?: readonly string[];
  now: number;
}

export type UpdateKind = 'kept' | 'changed' | 'new' | 'retired';
export type UpdateReason =
  | 'unchanged-section'
  | 'not-reannotated'
  | 'same-statement'
  | 'quote-unchanged'
  | 'close-statement'
  | 'same-quote'
  | 'new'
  | 'section-removed'
  | 'no-match';

export interface UpdateEntry {
  kind: UpdateKind;
  reason: UpdateReason;
  /** The rule of the old version (all but `new`). */
  old?: Rule;
  /** The rule as the new version will hold it (all but `retired`). */
  rule?: Rule;
  /** Statement similarity of a matched pair. */
  similarity?: number;
}

export interface SpecUpdatePlan {
  entries: UpdateEntry[];
  counts: Record<UpdateKind, number>;
  sections: { unchanged: number; changed: number; added: number; removed: number };
  /** New-version anchors re-annotated (changed and added sections). */
  reannotated: string[];
  /** Share of sections the diff matched, of the larger version. */
  matchedShare: number;
  related: boolean;
}

/** The new version's sections to re-annotate: changed and added ones, in new document order. */
export function sectionsToReannotate(diff: SpecDiff): string[] {
  return [...diff.changed.map((c) => c.new), ...diff.added]
    .sort((a, b) => a.index - b.index)
    .map((s) => s.anchor);
}

/** Share of sections the diff matched (changed or unchanged) of the larger version. */
export function matchedShare(diff: SpecDiff): number {
  const matched = diff.unchanged + diff.changed.length;
  const larger = Math.max(matched + diff.removed.length, matched + diff.added.length);
  return larger === 0 ? 1 : matched / larger;
}

interface Located {
  start: number;
  end: number;
  located: boolean;
  /** Found exactly or after normalisation (not fuzzily). */
  verbatim: boolean;
}

/** Plans the update; see the module comment. Inputs are not modified. */
export function planSpecUpdate(input: UpdatePlanInput): SpecUpdatePlan {
  const { diff, newText } = input;
  const failed = new Set(input.failedAnchors ?? []);
  const newByAnchor = new Map(input.newSections.map((s) => [s.anchor, s]));
  const oldByAnchor = new Map(input.oldSections.map((s) => [s.anchor, s]));
  const changedOld = new Map(diff.changed.map((c) => [c.old.anchor, c.new.anchor]));
  const removedOld = new Set(diff.removed.map((s) => s.anchor));

  const locators = new Map<string, QuoteLocator>();
  /** Locates a quote in one new section (or the whole text) with absolute offsets. */
  const locate = (quote: string, anchor: string | undefined): Located | undefined => {
    const section = anchor === undefined ? undefined : newByAnchor.get(anchor);
    const key = section?.anchor ?? '\u0000all';
    let locator = locators.get(key);
    if (!locator) {
      locator = section
        ? new QuoteLocator(newText.slice(section.start, section.end), { base: section.start })
        : new QuoteLocator(newText);
      locators.set(key, locator);
    }
    if (!quote.trim()) return undefined;
    const found = locator.locate(quote);
    return found.located
      ? {
          start: found.start,
          end: found.end,
          located: true,
          verbatim: found.method === 'exact' || found.method === 'normalized',
        }
      : undefined;
  };

  const entries: UpdateEntry[] = [];
  const carry = (
    old: Rule,
    newAnchor: string,
    reason: UpdateReason,
    source?: Rule['source'],
  ): Rule => {
    const rule: Rule = {
      ...old,
      id: `${input.runId}:kept:${old.id}`,
      lineageId: lineageOf(old),
      previousRuleId: old.id,
      specVersionId: input.newVersionId,
      sectionAnchor: newAnchor,
      updatedAt: input.now,
    };
    if (source) {
      rule.source = source;
    } else {
      const found = locate(old.source.quote, newAnchor);
      if (found) {
        rule.source = {
          quote: old.source.quote,
          start: found.start,
          end: found.end,
          located: true,
        };
      } else {
        rule.source = spanInSection(
          old,
          oldByAnchor.get(old.sectionAnchor),
          newByAnchor.get(newAnchor),
        );
        if (old.source.quote.trim()) {
          // Provenance must not silently point at other text (issue 11 §6).
          rule.status = 'flagged';
          rule.notes = [
            ...(old.notes ?? []),
            'Its quote was not found in the new version’s text: check the source.',
          ];
        }
      }
    }
    entries.push({ kind: 'kept', reason, old, rule });
    return rule;
  };

  // 1. Old rules by what happened to their section.
  const candidates: { old: Rule; newAnchor?: string; quote?: Located }[] = [];
  for (const old of input.oldRules) {
    const anchor = old.sectionAnchor;
    const changedTo = changedOld.get(anchor);
    if (changedTo !== undefined) {
      if (failed.has(changedTo)) carry(old, changedTo, 'not-reannotated');
      else
        candidates.push({ old, newAnchor: changedTo, quote: locate(old.source.quote, changedTo) });
    } else if (removedOld.has(anchor)) {
      candidates.push({ old });
    } else if (oldByAnchor.has(anchor) && newByAnchor.has(anchor)) {
      carry(old, anchor, 'unchanged-section');
    } else {
      // A section the old version does not list (a hand-made anchor): follow its quote.
      const found = locate(old.source.quote, undefined);
      const home = found?.verbatim ? containing(input.newSections, found.start) : undefined;
      if (found && home) candidates.push({ old, newAnchor: home.anchor, quote: found });
      else candidates.push({ old });
    }
  }

  // 2. Proposals against the candidates, one-to-one, best first.
  const scored: { p: number; c: number; rank: number; sim: number }[] = [];
  input.proposals.forEach((p, pi) => {
    candidates.forEach(({ old, quote }, ci) => {
      if (old.direction !== p.direction) return;
      const sim =
        normaliseStatement(old.statement) === normaliseStatement(p.statement)
          ? 1
          : statementSimilarity(old.statement, p.statement);
      const reviewed = old.status === 'accepted' || old.status === 'rejected';
      const sameQuote =
        quote !== undefined &&
        p.source.located &&
        spanOverlapShare(quote, p.source) >= SAME_QUOTE_OVERLAP &&
        (sim >= SAME_QUOTE_SIMILARITY || reviewed);
      // 0, 1: the same rule (kept); 2, 3: the same rule reworded (changed); -1: no match.
      const rank =
        sim >= SAME_STATEMENT_SIMILARITY
          ? 0
          : sameQuote && quote.verbatim
            ? 1
            : sim >= CLOSE_STATEMENT_SIMILARITY
              ? 2
              : sameQuote
                ? 3
                : -1;
      if (rank >= 0) scored.push({ p: pi, c: ci, rank, sim });
    });
  });
  scored.sort((a, b) => a.rank - b.rank || b.sim - a.sim || a.c - b.c || a.p - b.p);
  const takenP = new Set<number>();
  const takenC = new Set<number>();
  for (const m of scored) {
    if (takenP.has(m.p) || takenC.has(m.c)) continue;
    takenP.add(m.p);
    takenC.add(m.c);
    const proposal = input.proposals[m.p] as Rule;
    const { old, quote } = candidates[m.c] as (typeof candidates)[number];
    if (m.rank <= 1) {
      carry(
        old,
        proposal.sectionAnchor,
        m.rank === 0 ? 'same-statement' : 'quote-unchanged',
        quoteSource(old, quote) ?? proposal.source,
      );
    } else {
      const rule: Rule = {
        ...proposal,
        lineageId: lineageOf(old),
        previousRuleId: old.id,
        status: old.status,
        notes: [...(proposal.notes ?? []), `Reworded in this version; it was: “${old.statement}”`],
        updatedAt: input.now,
      };
      entries.push({
        kind: 'changed',
        reason: m.rank === 2 ? 'close-statement' : 'same-quote',
        old,
        rule,
        similarity: m.sim,
      });
    }
  }

  // 3. What nothing matched.
  candidates.forEach(({ old, newAnchor, quote }, ci) => {
    if (takenC.has(ci)) return;
    if (newAnchor !== undefined && quote?.verbatim)
      carry(old, newAnchor, 'quote-unchanged', quoteSource(old, quote));
    else
      entries.push({
        kind: 'retired',
        reason: removedOld.has(old.sectionAnchor) ? 'section-removed' : 'no-match',
        old,
      });
  });
  input.proposals.forEach((p, pi) => {
    if (!takenP.has(pi))
      entries.push({ kind: 'new', reason: 'new', rule: { ...p, lineageId: lineageOf(p) } });
  });

  const counts: Record<UpdateKind, number> = { kept: 0, changed: 0, new: 0, retired: 0 };
  for (const e of entries) counts[e.kind]++;
  const share = matchedShare(diff);
  return {
    entries,
    counts,
    sections: {
      unchanged: diff.unchanged,
      changed: diff.changed.length,
      added: diff.added.length,
      removed: diff.removed.length,
    },
    reannotated: sectionsToReannotate(diff),
    matchedShare: share,
    related: share >= MIN_RELATED_SHARE,
  };
}

function quoteSource(old: Rule, quote: Located | undefined): Rule['source'] | undefined {
  return quote
    ? { quote: old.source.quote, start: quote.start, end: quote.end, located: true }
    : undefined;
}

function containing(sections: readonly PlanSection[], offset: number): PlanSection | undefined {
  return sections.find((s) => s.start <= offset && offset < s.end);
}

/**
 * A span without a quote (a hand-written rule covers its section) moved to the same place in
 * the section's new position, clipped to it.
 */
function spanInSection(
  old: Rule,
  from: PlanSection | undefined,
  to: PlanSection | undefined,
): Rule['source'] {
  if (!from || !to) return { ...old.source, located: false };
  const shift = (at: number) => Math.min(to.end, Math.max(to.start, at - from.start + to.start));
  return {
    ...old.source,
    start: shift(old.source.start),
    end: shift(old.source.end),
    located: false,
  };
}
