/**
 * Offset-preserving sentence splitting for Markdown-ish specification text: the shared ground
 * truth for the normative-sentence detector (normative.ts) and the chunker (chunking.ts), so that
 * "never cut inside a sentence" and "this sentence is normative" mean the same spans.
 *
 * Method choices (METHOD.md is silent on all of them):
 * - **Blocks first, sentences second.** Text is cut into blocks at blank lines, headings, list
 *   item markers, table rows and thematic breaks; sentences never cross a block. A single newline
 *   inside a block is whitespace (hard-wrapped plain text and PDF text keep their sentences).
 * - **Non-prose spans are holes.** Fenced code blocks (``` and ~~~, e.g. the Model Spec's `~~~xml`
 *   examples) are always skipped, `!!! meta` admonitions (commentary) by default, plus any span
 *   the caller passes. No sentence starts, ends or runs inside a hole, and a hole ends a block.
 * - **A sentence ends** after `.`, `!` or `?` (plus closing quotes, brackets, emphasis markers
 *   and footnote references such as `[^ab12]`) when whitespace follows and the next word does
 *   not start with a lowercase letter. Not after an abbreviation (`e.g.`, `i.e.`, `vs.`, `cf.`,
 *   `Dr.`, `U.S.`…; `No.`/`Fig.`/`p.` only before a number) or a single capital initial
 *   (`J. Smith`). Decimals (`3.5`) never split because no whitespace follows the dot. `etc.`
 *   followed by a capital does end a sentence: in specs it usually does.
 * - **List markers are not sentence text:** a list item's first sentence starts after `- `,
 *   `* `, `+ `, `1. ` or `1) `; headings are sentences without their `#`s and `{#id …}` block.
 */

/** A half-open character range `[start, end)`. */
export interface Span {
  start: number;
  end: number;
}

/** What kind of block a sentence belongs to. */
export type BlockKind = 'paragraph' | 'list-item' | 'heading' | 'table-row';

/** One block of prose: a paragraph, a list item (with its continuation lines), a heading or a table row. */
export interface TextBlock extends Span {
  kind: BlockKind;
  /** Offset of the block's first line (before any list marker or heading hashes). */
  lineStart: number;
  /** Indentation (columns) of a list item's marker; 0 for other blocks. */
  indent: number;
  /**
   * For list items: index (into the block list) of the lead-in the list hangs from: the paragraph
   * or parent item ending with `:` directly above the list. Undefined when there is none.
   */
  leadIn?: number;
}

/** One sentence, with absolute offsets (`text === source.slice(start, end)`). */
export interface Sentence extends Span {
  text: string;
  kind: BlockKind;
  /** Index of the block in {@link SentenceSplit.blocks}. */
  block: number;
  /** True for the first sentence of its block. */
  first: boolean;
}

/** The result of {@link splitSentences}. */
export interface SentenceSplit {
  /** Blocks in document order, absolute offsets. */
  blocks: TextBlock[];
  /** Sentences in document order, absolute offsets. */
  sentences: Sentence[];
  /** The holes that were skipped (fences, admonitions, caller spans), merged and sorted. */
  excluded: Span[];
}

export interface SplitOptions {
  /** Extra spans to skip, absolute offsets (e.g. ingest's example and commentary spans). */
  excludeSpans?: readonly Span[];
  /**
   * Admonition kinds (`!!! kind "Title"`) to skip. Default `['meta']`: Model Spec commentary is
   * context, never a rule (METHOD.md §0). Pass `[]` to keep all admonitions as prose.
   */
  excludeAdmonitions?: readonly string[];
}

const FENCE_OPEN = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const ADMONITION = /^ {0,3}(?:!!!|\?\?\?\+?)[ \t]+([\w-]+)(?:[ \t]+"[^"]*")?[ \t]*$/;
const HEADING = /^( {0,3})(#{1,6})(?:[ \t]+|$)/;
const HEADING_ATTRS = /[ \t]*\{[^{}]*\}[ \t]*$/;
const LIST_ITEM = /^([ \t]*)([-*+]|\d{1,9}[.)])([ \t]+|$)/;
const TABLE_ROW = /^[ \t]*\|/;
const THEMATIC_BREAK = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const BLOCKQUOTE = /^ {0,3}>[ \t]?/;

/** Abbreviations (lowercase, without the final dot) after which a dot never ends a sentence. */
const ABBREVIATIONS = new Set([
  'e.g',
  'i.e',
  'vs',
  'cf',
  'viz',
  'al',
  'approx',
  'mr',
  'mrs',
  'ms',
  'dr',
  'prof',
  'st',
  'jr',
  'sr',
  'inc',
  'ltd',
  'corp',
  'u.s',
  'u.k',
  'e.u',
  'u.n',
  'a.m',
  'p.m',
  'ph.d',
  'esp',
  'incl',
  'resp',
  'dept',
  'ca',
]);
/** Abbreviations that only count as such before a number (`No. 5`, `Fig. 2`, `p. 12`). */
const NUMBER_ABBREVIATIONS = new Set([
  'no',
  'nos',
  'fig',
  'figs',
  'sec',
  'vol',
  'pp',
  'p',
  'art',
  'ch',
  'para',
  'eq',
]);

/** Characters that may follow a terminator and still belong to the sentence. */
const CLOSERS = new Set(['"', "'", '\u201d', '\u2019', ')', ']', '*', '_', '`', '\u00bb']);

const isSpace = (c: number): boolean =>
  c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 0xa0;

/**
 * Spans that are never prose: fenced code blocks (always) and admonitions of the given kinds
 * (with their indented content). Offsets are absolute: `base` is added to positions in `text`.
 * An unclosed fence runs to the end of `text`, as in CommonMark.
 */
export function findNonProseSpans(
  text: string,
  base = 0,
  admonitionKinds: readonly string[] = ['meta'],
): Span[] {
  const spans: Span[] = [];
  const kinds = new Set(admonitionKinds.map((k) => k.toLowerCase()));
  const lines = lineStarts(text);
  let i = 0;
  while (i < lines.length) {
    const start = lines[i] as number;
    const line = lineAt(text, lines, i);
    const open = FENCE_OPEN.exec(line);
    const run = open?.[1];
    if (open && run && !(run[0] === '`' && (open[2] ?? '').includes('`'))) {
      const close = new RegExp(`^ {0,3}${run[0] === '`' ? '`' : '~'}{${run.length},}[ \\t]*$`);
      let j = i + 1;
      while (j < lines.length && !close.test(lineAt(text, lines, j))) j++;
      const end = j < lines.length ? lineEndWithNewline(text, lines, j) : text.length;
      spans.push({ start: base + start, end: base + end });
      i = j + 1;
      continue;
    }
    const adm = ADMONITION.exec(line);
    if (adm) {
      let last = i;
      let j = i + 1;
      while (j < lines.length) {
        const t = lineAt(text, lines, j);
        if (t.trim() === '') j++;
        else if (/^(?: {4}|\t)/.test(t)) last = j++;
        else break;
      }
      if (kinds.has((adm[1] ?? '').toLowerCase())) {
        spans.push({ start: base + start, end: base + lineEndWithNewline(text, lines, last) });
        i = last + 1;
        continue;
      }
    }
    i++;
  }
  return spans;
}

/** Sorts and merges spans (touching spans merge too). */
export function mergeSpans(spans: readonly Span[]): Span[] {
  const sorted = spans.filter((s) => s.end > s.start).sort((a, b) => a.start - b.start);
  const merged: Span[] = [];
  for (const s of sorted) {
    const last = merged.at(-1);
    if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else merged.push({ start: s.start, end: s.end });
  }
  return merged;
}

/**
 * Splits `text` (e.g. one section's text) into blocks and sentences.
 *
 * @param text the text to split; offsets in the result are `base + position in text`.
 * @param base absolute offset of `text[0]` in the full spec text.
 */
export function splitSentences(text: string, base = 0, options: SplitOptions = {}): SentenceSplit {
  const holes = mergeSpans([
    ...findNonProseSpans(text, 0, options.excludeAdmonitions ?? ['meta']),
    ...(options.excludeSpans ?? []).map((s) => ({
      start: Math.max(0, s.start - base),
      end: Math.min(text.length, s.end - base),
    })),
  ]);
  // Blocks never span a hole, and each prose run between holes starts with no open list, so a
  // list after a code block never hangs from a lead-in above it.
  const local: TextBlock[] = [];
  let pos = 0;
  for (const hole of [...holes, { start: text.length, end: text.length }]) {
    if (hole.start > pos) scanBlocks(text, pos, hole.start, local);
    pos = Math.max(pos, hole.end);
  }
  const out: TextBlock[] = local.map((b) => ({
    ...b,
    start: base + b.start,
    end: base + b.end,
    lineStart: base + b.lineStart,
  }));
  const sentences: Sentence[] = [];
  out.forEach((block, bi) => {
    let first = true;
    for (const s of sentenceSpans(text, local[bi] as TextBlock)) {
      sentences.push({
        start: base + s.start,
        end: base + s.end,
        text: text.slice(s.start, s.end),
        kind: block.kind,
        block: bi,
        first,
      });
      first = false;
    }
  });
  return {
    blocks: out,
    sentences,
    excluded: holes.map((h) => ({ start: base + h.start, end: base + h.end })),
  };
}

/** Appends the blocks of `text[from, to)` (no holes inside) to `blocks`, with local offsets. */
function scanBlocks(text: string, from: number, to: number, blocks: TextBlock[]): void {
  let current: TextBlock | undefined;
  /** Open list levels, innermost last, each with the lead-in its items hang from. */
  let listStack: { indent: number; leadIn: number | undefined }[] = [];
  let lastClosed: number | undefined;

  const close = () => {
    if (current) {
      current.end = trimEnd(text, current.start, current.end);
      if (current.end > current.start) {
        blocks.push(current);
        lastClosed = blocks.length - 1;
      }
      current = undefined;
    }
  };

  let lineStart = from;
  while (lineStart < to) {
    const nl = text.indexOf('\n', lineStart);
    const lineEnd = nl === -1 || nl >= to ? to : nl;
    const line = text.slice(lineStart, lineEnd);
    const next = lineEnd + 1;

    if (line.trim() === '') {
      close();
      lineStart = next;
      continue;
    }
    if (THEMATIC_BREAK.test(line) || ADMONITION.test(line)) {
      close();
      listStack = [];
      lastClosed = undefined;
      lineStart = next;
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      close();
      listStack = [];
      const contentStart = lineStart + (heading[0]?.length ?? 0);
      const attrs = HEADING_ATTRS.exec(line);
      let contentEnd = attrs ? lineStart + attrs.index : lineEnd;
      contentEnd = stripClosingHashes(text, contentStart, contentEnd);
      current = {
        kind: 'heading',
        start: skipSpace(text, contentStart, contentEnd),
        end: contentEnd,
        lineStart,
        indent: 0,
      };
      close();
      lastClosed = undefined;
      lineStart = next;
      continue;
    }
    if (TABLE_ROW.test(line)) {
      close();
      listStack = [];
      current = {
        kind: 'table-row',
        start: skipSpace(text, lineStart, lineEnd),
        end: lineEnd,
        lineStart,
        indent: 0,
      };
      close();
      lastClosed = undefined;
      lineStart = next;
      continue;
    }
    const item = LIST_ITEM.exec(line);
    if (item) {
      const indent = columns(item[1] ?? '');
      const previous = current ?? (lastClosed !== undefined ? blocks[lastClosed] : undefined);
      close();
      const previousIndex = lastClosed;
      // Find this item's list level: drop deeper levels, open a new level when indented further.
      while (listStack.length && (listStack.at(-1) as { indent: number }).indent > indent)
        listStack.pop();
      const top = listStack.at(-1);
      if (!top || top.indent < indent) {
        let leadIn: number | undefined;
        if (previous && previousIndex !== undefined && endsWithColon(text, previous)) {
          // A paragraph (or a shallower item) ending with ':' directly above opens this list.
          if (previous.kind === 'paragraph' || (previous.kind === 'list-item' && top))
            leadIn = previousIndex;
        }
        if (leadIn === undefined && top) leadIn = top.leadIn;
        listStack.push({ indent, leadIn });
      }
      const level = listStack.at(-1) as { leadIn: number | undefined };
      const contentStart = lineStart + (item[0]?.length ?? 0);
      current = {
        kind: 'list-item',
        start: contentStart,
        end: lineEnd,
        lineStart,
        indent,
        ...(level.leadIn !== undefined ? { leadIn: level.leadIn } : {}),
      };
      lineStart = next;
      continue;
    }
    // A continuation line (also a lazy one under a list item), or a new paragraph.
    if (current) {
      current.end = lineEnd;
    } else {
      close();
      // An unindented paragraph ends the list; an indented one is a list item's later paragraph.
      if (!/^(?: {2,}|\t)/.test(line)) listStack = [];
      const quote = BLOCKQUOTE.exec(line);
      const contentStart = lineStart + (quote ? quote[0].length : 0);
      current = {
        kind: 'paragraph',
        start: skipSpace(text, contentStart, lineEnd),
        end: lineEnd,
        lineStart,
        indent: 0,
      };
    }
    lineStart = next;
  }
  close();
}

/** Sentence spans (local offsets) inside one block. */
function sentenceSpans(text: string, block: TextBlock): Span[] {
  if (block.kind === 'heading' || block.kind === 'table-row') {
    return block.end > block.start ? [{ start: block.start, end: block.end }] : [];
  }
  const spans: Span[] = [];
  let start = skipSpace(text, block.start, block.end);
  for (let i = start; i < block.end; i++) {
    const c = text.charCodeAt(i);
    // . ! ? and the ellipsis character
    if (c !== 46 && c !== 33 && c !== 63 && c !== 0x2026) continue;
    let j = i + 1;
    while (j < block.end && text.charCodeAt(j) === c) j++; // "?!", "..."
    j = skipClosers(text, j, block.end);
    if (j >= block.end) break;
    if (!isSpace(text.charCodeAt(j))) continue;
    const nextWord = skipSpace(text, j, block.end);
    if (nextWord >= block.end) break;
    if (c === 46 && isAbbreviation(text, i, nextWord)) continue;
    if (startsLowercase(text, nextWord)) continue;
    spans.push({ start, end: j });
    start = nextWord;
    i = nextWord - 1;
  }
  const end = trimEnd(text, start, block.end);
  if (end > start) spans.push({ start, end });
  return spans;
}

function skipClosers(text: string, j: number, end: number): number {
  for (;;) {
    if (j >= end) return j;
    const ch = text[j] as string;
    if (CLOSERS.has(ch)) {
      j++;
      continue;
    }
    // A footnote reference right after the terminator: "… instructions.[^ab12] Next"
    if (ch === '[' && text[j + 1] === '^') {
      const close = text.indexOf(']', j);
      if (close > j && close < end && close - j < 40) {
        j = close + 1;
        continue;
      }
    }
    return j;
  }
}

function isAbbreviation(text: string, dot: number, nextWord: number): boolean {
  let k = dot;
  while (k > 0) {
    const ch = text[k - 1] as string;
    if (/[\p{L}.]/u.test(ch)) k--;
    else break;
  }
  const word = text.slice(k, dot);
  if (!word) return false;
  const lower = word.toLowerCase();
  if (ABBREVIATIONS.has(lower)) return true;
  if (NUMBER_ABBREVIATIONS.has(lower) && /\d/.test(text[nextWord] ?? '')) return true;
  // A single capital initial: "J. Smith".
  if (word.length === 1 && /\p{Lu}/u.test(word)) return true;
  return false;
}

function startsLowercase(text: string, pos: number): boolean {
  const ch = text[pos] ?? '';
  return /\p{Ll}/u.test(ch);
}

function endsWithColon(text: string, block: TextBlock): boolean {
  let end = block.end;
  // Ignore trailing emphasis and spaces: "**must not:**"
  while (end > block.start && /[\s*_]/.test(text[end - 1] as string)) end--;
  return text[end - 1] === ':';
}

function skipSpace(text: string, from: number, to: number): number {
  let i = from;
  while (i < to && isSpace(text.charCodeAt(i))) i++;
  return i;
}

function trimEnd(text: string, from: number, to: number): number {
  let i = to;
  while (i > from && isSpace(text.charCodeAt(i - 1))) i--;
  return i;
}

function stripClosingHashes(text: string, from: number, to: number): number {
  const line = text.slice(from, to);
  const m = /(?:^|[ \t]+)#+[ \t]*$/.exec(line);
  return m ? from + m.index : to;
}

function columns(indent: string): number {
  let n = 0;
  for (const ch of indent) n += ch === '\t' ? 4 - (n % 4) : 1;
  return n;
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

function lineAt(text: string, starts: readonly number[], i: number): string {
  const start = starts[i] as number;
  const next = starts[i + 1];
  return text.slice(start, next === undefined ? text.length : next - 1);
}

function lineEndWithNewline(text: string, starts: readonly number[], i: number): number {
  const next = starts[i + 1];
  return next === undefined ? text.length : next;
}
