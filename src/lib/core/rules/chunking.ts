/**
 * Chunking sections to fit a model's context window (METHOD.md §0: "a 270 KB spec must work.
 * Chunk by section to fit the chosen model's context window, never cutting inside a sentence").
 *
 * Method choices:
 * - **Budget.** Text tokens per chunk = `(contextWindow − promptOverheadTokens − answerTokens)`
 *   less a safety margin (default 10 %: {@link estimateTokens} assumes ≈4 characters per token,
 *   which Markdown punctuation and XML examples beat), capped by `maxChunkTokens`. Every chunk is
 *   measured with {@link estimateTokens} on its exact text.
 * - **Whole sections first.** Consecutive sections that fit are packed into one chunk, in
 *   document order, while they are contiguous and until a level-1 (chapter) heading starts a new
 *   chunk, so one chunk never mixes chapters. Each section keeps its own heading line in the text.
 * - **Large sections are split**, preferring, in order: a block boundary (blank line, list item,
 *   heading, code block edge) that fills at least half the budget; a sentence boundary that does;
 *   a line boundary inside a fenced code block (code has no sentences) that does; then the latest
 *   block or sentence boundary; then the latest code-line boundary. Commentary blocks
 *   (`!!! meta`) are cut only at their edges. A single sentence longer than the whole budget is
 *   the only thing ever cut inside (at whitespace), and its chunks say so
 *   ({@link Chunk.cutsSentence}); no sentence of a real spec comes near that size.
 * - **Captions stay with their example:** no cut falls between a one-line paragraph (the Model
 *   Spec's `**Example**: …` title) and the code block right below it.
 * - **Chunks tile the sections.** Whitespace between units goes to the earlier chunk, so the
 *   chunks' texts, concatenated, are exactly the sections' texts.
 * - **Density cap.** With `maxNormativeSentences` set, a chunk also holds at most that many
 *   normative sentences (as {@link detectNormativeSentences} counts them over the whole text), so a
 *   dense passage (27 duties in 3 KB) is cut into several chunks whose expected rules fit one reply
 *   (`MAX_RULES_PER_REPLY`). The cap applies wherever the token budget does (packing and splitting),
 *   with the same cut preferences.
 * - **Keys** are `anchor[+n][@part/parts]:fnv1aHex(text)`: deterministic, stable across runs and
 *   across spec versions whose section text did not change, so a resumed or repeated annotation
 *   run skips chunks already done; any change of the text (or of the cut) changes the key.
 */
import { SpecAlignError } from '../errors';
import { fnv1aHex } from '../hash';
import { estimateTokens } from '../llm';
import type { Authority, Section } from '../records';
import { detectNormativeSentences } from './normative';
import { findNonProseSpans, splitSentences, type Span } from './sentences';

/** What chunking needs of a section (ingest's {@link Section} has all of it). */
export type ChunkableSection = Pick<
  Section,
  'anchor' | 'title' | 'headingPath' | 'level' | 'start' | 'end' | 'authority'
>;

/** A section's share of a chunk. */
export interface ChunkSection {
  anchor: string;
  title: string;
  headingPath: string[];
  /** The part of the section inside the chunk (absolute offsets). */
  start: number;
  end: number;
  authority?: Authority;
}

/** A piece of spec text sized for one annotation call. */
export interface Chunk {
  /** Deterministic key (see module comment); use it as the annotation task key. */
  key: string;
  /** Position in the chunk list, 0-based. */
  index: number;
  start: number;
  end: number;
  /** `text === specText.slice(start, end)`. */
  text: string;
  /** Anchors of the sections the chunk holds (whole or in part), in document order. */
  sectionAnchors: string[];
  /** Heading path of the chunk's first section: the context a model sees above the text. */
  headingPath: string[];
  sections: ChunkSection[];
  /** 1-based part number when one section is split over several chunks, else 1. */
  part: number;
  /** Number of parts the (first) section was split into, else 1. */
  parts: number;
  estimatedTokens: number;
  /** True only when a single sentence exceeded the budget and had to be cut at whitespace. */
  cutsSentence: boolean;
}

export interface ChunkOptions {
  /** The model's context window in tokens. */
  contextWindow: number;
  /** Tokens of the prompt around the chunk text (instructions, headings, hints). */
  promptOverheadTokens: number;
  /** Tokens reserved for the model's reply. */
  answerTokens: number;
  /** Upper bound on chunk text tokens, below what the window allows (smaller chunks, fewer rules each). */
  maxChunkTokens?: number;
  /** Share of the text budget kept free for tokenizer error; default 0.1. */
  safetyMargin?: number;
  /** Non-prose spans (absolute), never split by sentence rules; see {@link splitSentences}. */
  excludeSpans?: readonly Span[];
  /** Admonition kinds treated as non-prose; default `['meta']`. */
  excludeAdmonitions?: readonly string[];
  /**
   * Most normative sentences one chunk may hold (density cap, see the module comment); unset
   * means no cap. Must be at least 1.
   */
  maxNormativeSentences?: number;
}

/** The context window leaves too little room for spec text. */
export class ChunkBudgetError extends SpecAlignError {}

/** Fewest text tokens a chunk may be given; below this annotation is pointless. */
export const MIN_CHUNK_TOKENS = 128;

/** Text tokens available per chunk for these options. @throws ChunkBudgetError when below {@link MIN_CHUNK_TOKENS}. */
export function chunkBudget(options: ChunkOptions): number {
  const room = options.contextWindow - options.promptOverheadTokens - options.answerTokens;
  let budget = Math.floor(room * (1 - (options.safetyMargin ?? 0.1)));
  if (options.maxChunkTokens !== undefined) budget = Math.min(budget, options.maxChunkTokens);
  if (!(budget >= MIN_CHUNK_TOKENS)) {
    throw new ChunkBudgetError(
      `A context window of ${options.contextWindow} tokens leaves ${Math.max(0, budget)} tokens for specification text ` +
        `after ${options.promptOverheadTokens} prompt tokens and ${options.answerTokens} answer tokens; at least ` +
        `${MIN_CHUNK_TOKENS} are needed. Choose a model with a larger context window or reserve fewer answer tokens.`,
    );
  }
  return budget;
}

interface Piece {
  start: number;
  end: number;
  sections: ChunkableSection[];
  part: number;
  parts: number;
  cutsSentence: boolean;
}

/**
 * Cuts `sections` of `text` into chunks that fit the budget (see the module comment).
 *
 * @param sections in document order, non-overlapping (ingest's sections tile the text); empty
 *   sections are skipped and a section overlapping its predecessor is clipped to start after it.
 * @param text the full spec text the sections' offsets point into.
 * @throws ChunkBudgetError when the options leave too little room for text.
 */
export function chunkSections(
  sections: readonly ChunkableSection[],
  text: string,
  options: ChunkOptions,
): Chunk[] {
  const budget = chunkBudget(options);
  const dense = densityCheck(text, options);
  const fits = (start: number, end: number) =>
    estimateTokens(text.slice(start, end)) <= budget && dense(start, end);
  const pieces: Piece[] = [];
  let group: Piece | undefined;
  let lastEnd = 0;

  const flush = () => {
    if (group) pieces.push(group);
    group = undefined;
  };

  for (const original of sections) {
    const start = Math.max(original.start, lastEnd);
    const end = Math.min(original.end, text.length);
    if (end <= start) continue;
    lastEnd = end;
    const section = start === original.start ? original : { ...original, start };
    if (!fits(start, end)) {
      flush();
      pieces.push(...splitSection(section, start, end, text, budget, options, dense));
      continue;
    }
    if (group && group.end === start && section.level > 1 && fits(group.start, end)) {
      group.end = end;
      group.sections.push(section);
    } else {
      flush();
      group = { start, end, sections: [section], part: 1, parts: 1, cutsSentence: false };
    }
  }
  flush();

  return pieces.map((p, index) => {
    const chunkText = text.slice(p.start, p.end);
    const first = p.sections[0] as ChunkableSection;
    const anchorPart =
      p.sections.length > 1 ? `${first.anchor}+${p.sections.length - 1}` : first.anchor;
    const partPart = p.parts > 1 ? `@${p.part}/${p.parts}` : '';
    return {
      key: `${anchorPart}${partPart}:${fnv1aHex(chunkText)}`,
      index,
      start: p.start,
      end: p.end,
      text: chunkText,
      sectionAnchors: p.sections.map((s) => s.anchor),
      headingPath: [...first.headingPath],
      sections: p.sections.map((s) => ({
        anchor: s.anchor,
        title: s.title,
        headingPath: [...s.headingPath],
        start: Math.max(s.start, p.start),
        end: Math.min(s.end, p.end),
        ...(s.authority ? { authority: s.authority } : {}),
      })),
      part: p.part,
      parts: p.parts,
      estimatedTokens: estimateTokens(chunkText),
      cutsSentence: p.cutsSentence,
    };
  });
}

/** Splits one over-budget section into pieces (see the module comment for the preference order). */
function splitSection(
  section: ChunkableSection,
  start: number,
  end: number,
  text: string,
  budget: number,
  options: ChunkOptions,
  dense: (start: number, end: number) => boolean,
): Piece[] {
  const split = splitSentences(text.slice(start, end), start, {
    ...(options.excludeSpans ? { excludeSpans: options.excludeSpans } : {}),
    ...(options.excludeAdmonitions ? { excludeAdmonitions: options.excludeAdmonitions } : {}),
  });
  const blockCuts = new Set<number>();
  for (const b of split.blocks) blockCuts.add(b.lineStart);
  for (const h of split.excluded) {
    blockCuts.add(h.end);
    // Keep a one-line caption ("**Example**: tooth fairy") with the code block below it.
    const before = split.blocks.findLast((b) => b.end <= h.start);
    const caption =
      before &&
      before.kind === 'paragraph' &&
      !text.slice(before.lineStart, before.end).includes('\n') &&
      before.end - before.lineStart <= 200 &&
      text.slice(before.end, h.start).trim() === '';
    if (!caption) blockCuts.add(h.start);
  }
  const sentenceCuts = new Set<number>(blockCuts);
  for (const s of split.sentences) sentenceCuts.add(s.start);
  // Line starts inside fenced code only: code has no sentences, commentary prose does.
  const codeCuts = new Set<number>();
  for (const h of findNonProseSpans(text.slice(start, end), start, [])) {
    for (
      let i = text.indexOf('\n', h.start);
      i !== -1 && i + 1 < h.end;
      i = text.indexOf('\n', i + 1)
    )
      codeCuts.add(i + 1);
  }
  const sorted = (set: Set<number>) =>
    [...set].filter((c) => c > start && c < end).sort((a, b) => a - b);
  const levels = [
    sorted(blockCuts),
    sorted(sentenceCuts),
    sorted(new Set([...sentenceCuts, ...codeCuts])),
  ];
  const fits = (from: number, to: number) =>
    estimateTokens(text.slice(from, to)) <= budget && dense(from, to);

  /** Latest cut in `cuts` after `pos` such that [pos, cut) fits; undefined when none. */
  const latestFitting = (cuts: readonly number[], pos: number): number | undefined => {
    let lo = 0;
    let hi = cuts.length - 1;
    let best: number | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = cuts[mid] as number;
      if (c <= pos) lo = mid + 1;
      else if (fits(pos, c)) {
        best = c;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best;
  };

  const spans: { start: number; end: number; cutsSentence: boolean }[] = [];
  let pos = start;
  while (!fits(pos, end)) {
    const half = pos + (maxFittingLength(text, pos, end, budget) >> 1);
    let cut: number | undefined;
    let cutsSentence = false;
    for (const cuts of levels) {
      const c = latestFitting(cuts, pos);
      if (c !== undefined && c >= half) {
        cut = c;
        break;
      }
    }
    cut ??= latestFitting(levels[1] as number[], pos) ?? latestFitting(levels[2] as number[], pos);
    if (cut === undefined) {
      // Last resort: one sentence larger than the whole budget; cut it at whitespace.
      const limit = pos + maxFittingLength(text, pos, end, budget);
      const space = text.lastIndexOf(' ', limit - 1);
      cut = space > pos ? space + 1 : limit;
      cutsSentence = true;
    }
    spans.push({ start: pos, end: cut, cutsSentence });
    pos = cut;
  }
  spans.push({ start: pos, end, cutsSentence: false });
  return spans.map((s, i) => ({
    start: s.start,
    end: s.end,
    sections: [section],
    part: i + 1,
    parts: spans.length,
    cutsSentence: s.cutsSentence || (spans[i - 1]?.cutsSentence ?? false),
  }));
}

/**
 * `(start, end) => the range holds no more normative sentences than the cap` (always true without a
 * cap). A sentence counts for the range holding its start, so monotone in the range: the binary
 * searches above stay valid.
 */
function densityCheck(
  text: string,
  options: ChunkOptions,
): (start: number, end: number) => boolean {
  const cap = options.maxNormativeSentences;
  if (cap === undefined) return () => true;
  if (!(cap >= 1)) throw new RangeError('maxNormativeSentences must be at least 1.');
  const starts = detectNormativeSentences(text, 0, {
    ...(options.excludeSpans ? { excludeSpans: options.excludeSpans } : {}),
    ...(options.excludeAdmonitions ? { excludeAdmonitions: options.excludeAdmonitions } : {}),
  }).map((s) => s.start);
  /** Index of the first start ≥ pos. */
  const lowerBound = (pos: number) => {
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((starts[mid] as number) < pos) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return (start, end) => lowerBound(end) - lowerBound(start) <= cap;
}

/** Longest prefix length of `text[pos, end)` that fits the budget (binary search on the estimate). */
function maxFittingLength(text: string, pos: number, end: number, budget: number): number {
  let lo = 0;
  let hi = end - pos;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (estimateTokens(text.slice(pos, pos + mid)) <= budget) lo = mid;
    else hi = mid - 1;
  }
  return Math.max(1, lo);
}
