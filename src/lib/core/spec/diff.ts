/**
 * What changed between two versions of a spec, section by section, so the app knows which rules,
 * instances and pairs a new version touches (METHOD.md §0).
 *
 * Matching, in order (each section is matched at most once):
 * 1. same anchor — the spec's own `{#id}` or the heading-path slug;
 * 2. same heading path (case and whitespace ignored) — catches a changed `{#id}`;
 * 3. text similarity — token-set Jaccard of title + body ≥ {@link DEFAULT_SIMILARITY_THRESHOLD}
 *    (0.4), best pairs first — catches a section renamed and moved at once (skipped above
 *    {@link MAX_SIMILARITY_PAIRS} candidate pairs). Measured on the corpus: two *different*
 *    sections of the 2025-12-18 release score median 0.11, at most 0.35; real renames between
 *    2025-04-11 and 2025-09-12 score 0.45–0.79 (`protect_privileged_messages` →
 *    `protect_privileged_information` 0.45, `be_kind` → `love_humanity` 0.79).
 *
 * A matched pair is *changed* when its body (own text, subsections excluded; runs of whitespace
 * count as one space) differs, or its title, authority or anchor differs. Changed pairs carry a
 * similarity (difflib-style ratio over word tokens: 2·common / (old + new)) and a compact
 * word-level diff (`diff`'s `diffWords`) for the UI.
 */
import { diffWords } from 'diff';
import type { Section } from '../records';

/** Minimum token Jaccard for matching sections by text alone (see module comment). */
export const DEFAULT_SIMILARITY_THRESHOLD = 0.4;

/**
 * Similarity matching compares every unmatched old section with every unmatched new one; above
 * this many pairs (e.g. two unrelated 500-section documents) it is skipped and the leftovers are
 * reported as removed and added, to keep the diff interactive.
 */
export const MAX_SIMILARITY_PAIRS = 250_000;

/** The section fields the diff reads. */
export type DiffableSection = Pick<
  Section,
  'anchor' | 'title' | 'headingPath' | 'level' | 'start' | 'bodyStart' | 'end' | 'authority'
>;

/** One version: its sections (document order) and the text their offsets point into. */
export interface DiffSide {
  sections: DiffableSection[];
  text: string;
}

export interface SectionRef {
  anchor: string;
  title: string;
  headingPath: string[];
  /** Index in its version's section list. */
  index: number;
}

export type SectionChangeKind = 'body' | 'title' | 'authority' | 'anchor';

export interface WordDiffPart {
  op: 'equal' | 'insert' | 'delete';
  text: string;
  /** For shortened `equal` parts: how many words were replaced by ` … `. */
  elidedWords?: number;
}

export interface ChangedSection {
  old: SectionRef;
  new: SectionRef;
  matchedBy: 'anchor' | 'heading-path' | 'similarity';
  changes: SectionChangeKind[];
  /** 0–1; 1 means the bodies are equal (up to whitespace). */
  similarity: number;
  /** Word-level diff of the bodies (empty when only title/authority/anchor changed). */
  wordDiff: WordDiffPart[];
}

export interface SpecDiff {
  /** In the new version only (new document order). */
  added: SectionRef[];
  /** In the old version only (old document order). */
  removed: SectionRef[];
  /** Matched and different (new document order). */
  changed: ChangedSection[];
  /** Matched and identical (up to whitespace). */
  unchanged: number;
}

export interface DiffOptions {
  /** Jaccard threshold for similarity matching; default {@link DEFAULT_SIMILARITY_THRESHOLD}. */
  similarityThreshold?: number;
  /** Words of unchanged context kept around each change in `wordDiff`; default 8; `Infinity` keeps all. */
  contextWords?: number;
  /** Time budget per section word diff in ms (the diff degrades to delete+insert); default 2000. */
  wordDiffTimeoutMs?: number;
}

const normalizeSpace = (s: string): string => s.replace(/\s+/g, ' ').trim();
const pathKey = (path: string[]): string =>
  path.map((p) => normalizeSpace(p).toLowerCase()).join('\u0000');

function bodyOf(side: DiffSide, s: DiffableSection): string {
  return normalizeSpace(side.text.slice(s.bodyStart, s.end));
}

function tokenSet(s: string): Set<string> {
  return new Set(s.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []);
}

/** Jaccard index |A∩B| / |A∪B| of two token sets (1 for two empty sets). */
export function jaccard(a: Set<string>, b: Set<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let common = 0;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  for (const t of small) if (large.has(t)) common++;
  return common / (a.size + b.size - common);
}

/** Shortens long unchanged runs to `contextWords` words on each side of a change. */
function compact(parts: WordDiffPart[], contextWords: number): WordDiffPart[] {
  if (!Number.isFinite(contextWords)) return parts;
  return parts.map((part, i) => {
    if (part.op !== 'equal') return part;
    const words = part.text.match(/\s*\S+\s*/g) ?? [part.text]; // each word with its surrounding spaces
    const keepHead = i > 0 ? contextWords : 0;
    const keepTail = i < parts.length - 1 ? contextWords : 0;
    if (words.length <= keepHead + keepTail + 1) return part;
    const head = words.slice(0, keepHead).join('');
    const tail = keepTail > 0 ? words.slice(-keepTail).join('') : '';
    return {
      op: 'equal',
      text: `${head}… ${tail}`,
      elidedWords: words.length - keepHead - keepTail,
    };
  });
}

function wordDiffOf(
  oldBody: string,
  newBody: string,
  options: Required<DiffOptions>,
): { parts: WordDiffPart[]; similarity: number } {
  const changes = diffWords(oldBody, newBody, { timeout: options.wordDiffTimeoutMs });
  if (!changes) {
    // Too slow to diff finely: report a replacement, and fall back to token overlap for the score.
    return {
      parts: [
        { op: 'delete', text: oldBody },
        { op: 'insert', text: newBody },
      ],
      similarity: jaccard(tokenSet(oldBody), tokenSet(newBody)),
    };
  }
  let common = 0;
  let total = 0;
  const parts: WordDiffPart[] = changes.map((c) => {
    const tokens = c.value.match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu)?.length ?? 0;
    if (!c.added && !c.removed) common += tokens;
    total += c.added || c.removed ? tokens : 2 * tokens;
    return { op: c.added ? 'insert' : c.removed ? 'delete' : 'equal', text: c.value };
  });
  return {
    parts: compact(parts, options.contextWords),
    similarity: total === 0 ? 1 : (2 * common) / total,
  };
}

function ref(s: DiffableSection, index: number): SectionRef {
  return { anchor: s.anchor, title: s.title, headingPath: s.headingPath, index };
}

/**
 * Compares two versions of a spec section by section. See the module comment for how sections
 * are matched and what counts as a change.
 */
export function diffSpecVersions(
  oldSide: DiffSide,
  newSide: DiffSide,
  options: DiffOptions = {},
): SpecDiff {
  const opts: Required<DiffOptions> = {
    similarityThreshold: options.similarityThreshold ?? DEFAULT_SIMILARITY_THRESHOLD,
    contextWords: options.contextWords ?? 8,
    wordDiffTimeoutMs: options.wordDiffTimeoutMs ?? 2000,
  };
  const oldS = oldSide.sections;
  const newS = newSide.sections;
  const oldMatch = new Int32Array(oldS.length).fill(-1);
  const newMatch = new Int32Array(newS.length).fill(-1);
  const how = new Map<number, ChangedSection['matchedBy']>(); // keyed by new index

  const link = (o: number, n: number, by: ChangedSection['matchedBy']): void => {
    oldMatch[o] = n;
    newMatch[n] = o;
    how.set(n, by);
  };

  // 1. Anchors.
  const oldByAnchor = new Map(oldS.map((s, i) => [s.anchor, i]));
  newS.forEach((s, n) => {
    const o = oldByAnchor.get(s.anchor);
    if (o !== undefined && oldMatch[o] === -1) link(o, n, 'anchor');
  });

  // 2. Heading paths (first unmatched occurrence, in order).
  const oldByPath = new Map<string, number[]>();
  oldS.forEach((s, o) => {
    if (oldMatch[o] !== -1) return;
    const key = pathKey(s.headingPath);
    oldByPath.set(key, [...(oldByPath.get(key) ?? []), o]);
  });
  newS.forEach((s, n) => {
    if (newMatch[n] !== -1) return;
    const o = oldByPath.get(pathKey(s.headingPath))?.shift();
    if (o !== undefined) link(o, n, 'heading-path');
  });

  // 3. Text similarity, best pairs first.
  const oldLeft = oldS.map((_, o) => o).filter((o) => oldMatch[o] === -1);
  const newLeft = newS.map((_, n) => n).filter((n) => newMatch[n] === -1);
  if (
    oldLeft.length > 0 &&
    newLeft.length > 0 &&
    oldLeft.length * newLeft.length <= MAX_SIMILARITY_PAIRS
  ) {
    const tokens = (side: DiffSide, s: DiffableSection): Set<string> =>
      tokenSet(`${s.title} ${side.text.slice(s.bodyStart, s.end)}`);
    const oldTokens = new Map(oldLeft.map((o) => [o, tokens(oldSide, oldS[o] as DiffableSection)]));
    const newTokens = new Map(newLeft.map((n) => [n, tokens(newSide, newS[n] as DiffableSection)]));
    const candidates: { o: number; n: number; score: number }[] = [];
    for (const o of oldLeft) {
      for (const n of newLeft) {
        const score = jaccard(oldTokens.get(o) as Set<string>, newTokens.get(n) as Set<string>);
        if (score >= opts.similarityThreshold) candidates.push({ o, n, score });
      }
    }
    candidates.sort((a, b) => b.score - a.score || a.n - b.n || a.o - b.o);
    for (const { o, n } of candidates)
      if (oldMatch[o] === -1 && newMatch[n] === -1) link(o, n, 'similarity');
  }

  const changed: ChangedSection[] = [];
  let unchanged = 0;
  newS.forEach((ns, n) => {
    const o = newMatch[n] as number;
    if (o === -1) return;
    const os = oldS[o] as DiffableSection;
    const oldBody = bodyOf(oldSide, os);
    const newBody = bodyOf(newSide, ns);
    const changes: SectionChangeKind[] = [];
    if (oldBody !== newBody) changes.push('body');
    if (normalizeSpace(os.title) !== normalizeSpace(ns.title)) changes.push('title');
    if (os.authority !== ns.authority) changes.push('authority');
    if (os.anchor !== ns.anchor) changes.push('anchor');
    if (changes.length === 0) {
      unchanged++;
      return;
    }
    const { parts, similarity } =
      oldBody === newBody ? { parts: [], similarity: 1 } : wordDiffOf(oldBody, newBody, opts);
    changed.push({
      old: ref(os, o),
      new: ref(ns, n),
      matchedBy: how.get(n) ?? 'anchor',
      changes,
      similarity,
      wordDiff: parts,
    });
  });

  return {
    added: newS.flatMap((s, n) => (newMatch[n] === -1 ? [ref(s, n)] : [])),
    removed: oldS.flatMap((s, o) => (oldMatch[o] === -1 ? [ref(s, o)] : [])),
    changed,
    unchanged,
  };
}
