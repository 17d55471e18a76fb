/**
 * Coverage of the deterministic normative sentences by rules (METHOD.md §1: the deterministic pass
 * "measures coverage"), for the review screen: which norms no rule speaks for yet.
 *
 * Method choices: a sentence is covered when at least one rule's *located* source span overlaps it
 * by at least one character; rejected rules do not count (a reviewer said no), proposed, accepted
 * and flagged-but-located ones do. Unlocated model rules cover nothing: their quote is not in the
 * spec. A rule written by hand (`origin: 'manual'`) without a quote covers the span it was attached
 * to (its section's body): the reviewer wrote it for that text, so its norms are not "missing". A
 * sentence
 * belongs to the section whose `[start, end)` holds its start; with nested ranges the innermost
 * (latest-starting) one wins, so it works both with ingest's tiling sections and with subtree ranges.
 */
import type { Rule, Section } from '../records';
import type { NormativeSentence } from './normative';

/** What coverage needs of a rule. */
export type CoverageRule = Pick<Rule, 'source' | 'status'> &
  Partial<Pick<Rule, 'id' | 'sectionAnchor' | 'origin'>>;

/** Whether a rule's source span counts for coverage (see the module comment). */
export function coversSpan(rule: CoverageRule): boolean {
  if (rule.status === 'rejected' || !(rule.source.end > rule.source.start)) return false;
  return rule.source.located || (rule.origin === 'manual' && !rule.source.quote.trim());
}
/** What coverage needs of a section. */
export type CoverageSection = Pick<Section, 'anchor' | 'title' | 'start' | 'end'>;

export interface SentenceCoverage {
  sentence: NormativeSentence;
  /** Anchor of the section holding the sentence ('' when none does). */
  sectionAnchor: string;
  /** Indices (into the rules given) of the rules whose source overlaps the sentence. */
  rules: number[];
}

export interface SectionCoverage {
  anchor: string;
  title: string;
  /** Normative sentences in the section. */
  sentences: number;
  covered: number;
  /** Counted rules (not rejected, located) whose source starts in the section. */
  rules: number;
  /** `covered / sentences`, or 1 when the section has no normative sentence. */
  ratio: number;
}

export interface CoverageReport {
  total: number;
  covered: number;
  /** `covered / total`, 1 when there is nothing to cover. */
  ratio: number;
  /** Every normative sentence, in document order, with the rules covering it. */
  sentences: SentenceCoverage[];
  uncovered: NormativeSentence[];
  /** Every section, in the order given. */
  sections: SectionCoverage[];
  /** Sections with at least one uncovered normative sentence, with those sentences. */
  uncoveredSections: { anchor: string; title: string; uncovered: NormativeSentence[] }[];
  /** Anchors of sections that have normative sentences but no counted rule at all. */
  sectionsWithoutRules: string[];
}

/** Measures which normative sentences have a rule; see the module comment. */
export function measureCoverage(
  normativeSentences: readonly NormativeSentence[],
  rules: readonly CoverageRule[],
  sections: readonly CoverageSection[],
): CoverageReport {
  const counted = rules
    .map((r, i) => ({ r, i }))
    .filter(({ r }) => coversSpan(r))
    .sort((a, b) => a.r.source.start - b.r.source.start || a.i - b.i);
  const byStart = [...sections].sort((a, b) => a.start - b.start || b.end - a.end);
  const sectionAt = (pos: number): CoverageSection | undefined => {
    // Latest-starting section holding pos: binary search the last start <= pos, then walk back.
    let lo = 0;
    let hi = byStart.length - 1;
    let idx = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((byStart[mid] as CoverageSection).start <= pos) {
        idx = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    for (let k = idx; k >= 0; k--) {
      const s = byStart[k] as CoverageSection;
      if (pos < s.end) return s;
    }
    return undefined;
  };

  const sentences: SentenceCoverage[] = [...normativeSentences]
    .sort((a, b) => a.start - b.start)
    .map((sentence) => {
      const covering: number[] = [];
      for (const { r, i } of counted) {
        if (r.source.start >= sentence.end) break;
        if (r.source.end > sentence.start) covering.push(i);
      }
      return {
        sentence,
        sectionAnchor: sectionAt(sentence.start)?.anchor ?? '',
        rules: covering.sort((a, b) => a - b),
      };
    });

  const perSection = new Map<
    string,
    { sentences: number; covered: number; rules: number; uncovered: NormativeSentence[] }
  >();
  const stats = (anchor: string) => {
    let s = perSection.get(anchor);
    if (!s) {
      s = { sentences: 0, covered: 0, rules: 0, uncovered: [] };
      perSection.set(anchor, s);
    }
    return s;
  };
  for (const s of sentences) {
    const st = stats(s.sectionAnchor);
    st.sentences++;
    if (s.rules.length) st.covered++;
    else st.uncovered.push(s.sentence);
  }
  for (const { r } of counted) {
    const anchor = sectionAt(r.source.start)?.anchor;
    if (anchor !== undefined) stats(anchor).rules++;
  }

  const sectionRows: SectionCoverage[] = sections.map((sec) => {
    const st = perSection.get(sec.anchor) ?? { sentences: 0, covered: 0, rules: 0, uncovered: [] };
    return {
      anchor: sec.anchor,
      title: sec.title,
      sentences: st.sentences,
      covered: st.covered,
      rules: st.rules,
      ratio: st.sentences ? st.covered / st.sentences : 1,
    };
  });
  const uncovered = sentences.filter((s) => s.rules.length === 0).map((s) => s.sentence);
  const covered = sentences.length - uncovered.length;
  return {
    total: sentences.length,
    covered,
    ratio: sentences.length ? covered / sentences.length : 1,
    sentences,
    uncovered,
    sections: sectionRows,
    uncoveredSections: sections
      .map((sec) => ({ sec, st: perSection.get(sec.anchor) }))
      .filter(({ st }) => st && st.uncovered.length > 0)
      .map(({ sec, st }) => ({
        anchor: sec.anchor,
        title: sec.title,
        uncovered: st?.uncovered ?? [],
      })),
    sectionsWithoutRules: sectionRows
      .filter((s) => s.sentences > 0 && s.rules === 0)
      .map((s) => s.anchor),
  };
}
