/**
 * Finding a model's `sourceQuote` in the text it was given, so every rule points at a character
 * span of the spec (METHOD.md §0: provenance is never lost).
 *
 * Method (the paper is silent; these are our choices):
 * 1. **Exact**: the trimmed quote as a substring.
 * 2. **Normalised**: both sides canonicalised — lowercase; curly quotes → straight; every dash
 *    (`–`, `—`, `---`) → one `-`; `…` → `...`; `*` and `` ` `` (Markdown emphasis and code marks,
 *    which models drop) removed; whitespace runs → one space — then substring search. Offsets map
 *    back through a per-character table, so the span is in the original text.
 * 3. **Fuzzy (token level)**: words (`[\p{L}\p{N}]+` of the canonical text) of the quote are
 *    aligned to the text with a fitting alignment (the whole quote against any stretch of the text;
 *    match +2, substitution/insertion/deletion −1). The span found is accepted when its token Dice
 *    similarity `2·matches / (quoteWords + spanWords)` is at least `threshold` (default
 *    {@link DEFAULT_QUOTE_THRESHOLD} = 0.8: about one word in five may differ, be added or be
 *    missing — small models drop link syntax, footnote marks and the odd word; below that the
 *    "quote" is a paraphrase and should not claim a source span). Quotes under
 *    {@link MIN_FUZZY_WORDS} words are never matched fuzzily: too little evidence.
 * 4. **Elisions**: a quote with `...`/`…`/`[...]` is located fragment by fragment, in order (each
 *    occurrence of the first fragment is tried until the others follow it); the span runs from the
 *    first fragment's start to the last's end; the score is the worst fragment's.
 *
 * The first occurrence wins when a quote occurs more than once. Cost is O(quote words × text
 * words) per quote: search inside the chunk (a few thousand words), not the whole spec.
 */

/** Default minimum token similarity for a fuzzy match. */
export const DEFAULT_QUOTE_THRESHOLD = 0.8;
/** Fewest words a quote needs before it may match fuzzily. */
export const MIN_FUZZY_WORDS = 4;

export interface LocateOptions {
  /** Minimum token Dice similarity for a fuzzy match, 0–1; default {@link DEFAULT_QUOTE_THRESHOLD}. */
  threshold?: number;
  /** Absolute offset of the searched text in the spec, added to the result. */
  base?: number;
}

export type QuoteMethod = 'exact' | 'normalized' | 'fuzzy' | 'fragments';

export type QuoteLocation =
  | { located: true; start: number; end: number; score: number; method: QuoteMethod }
  | { located: false; /** Best similarity seen, 0–1. */ score: number };

interface Canonical {
  text: string;
  /** Original index of each canonical character. */
  map: number[];
}

interface Token {
  value: string;
  /** Canonical offsets. */
  start: number;
  end: number;
}

const SINGLE_QUOTES = /[\u2018\u2019\u201a\u201b\u2032\u02bc]/;
const DOUBLE_QUOTES = /[\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb]/;
const DASHES = /[\u2010\u2011\u2012\u2013\u2014\u2015\u2212]/;
const WORD = /[\p{L}\p{N}]+/gu;
const ELLIPSIS = /\s*(?:\[\s*(?:\.\.\.|…)\s*\]|\.\.\.|…)\s*/;

function canonicalize(source: string): Canonical {
  const out: string[] = [];
  const map: number[] = [];
  let last = ' ';
  const push = (s: string, index: number) => {
    for (const ch of s) {
      out.push(ch);
      map.push(index);
      last = ch;
    }
  };
  for (let i = 0; i < source.length; i++) {
    const ch = source[i] as string;
    if (ch === '*' || ch === '`') continue;
    if (/\s/.test(ch)) {
      if (last !== ' ') push(' ', i);
      continue;
    }
    let c = ch;
    if (SINGLE_QUOTES.test(c)) c = "'";
    else if (DOUBLE_QUOTES.test(c)) c = '"';
    else if (DASHES.test(c)) c = '-';
    else if (c === '\u2026') c = '...';
    else c = c.toLowerCase();
    if (c === '-' && last === '-') continue;
    push(c, i);
  }
  // Trim a trailing space (a leading one never appears: `last` starts as a space).
  if (out.at(-1) === ' ') {
    out.pop();
    map.pop();
  }
  return { text: out.join(''), map };
}

function tokenize(canonical: string): Token[] {
  const tokens: Token[] = [];
  WORD.lastIndex = 0;
  for (let m = WORD.exec(canonical); m; m = WORD.exec(canonical))
    tokens.push({ value: m[0], start: m.index, end: m.index + m[0].length });
  return tokens;
}

/**
 * A quote locator for one text: canonicalises and tokenises the text once, then locates any
 * number of quotes in it (annotate.ts locates every rule of a chunk with one locator).
 */
export class QuoteLocator {
  readonly #text: string;
  readonly #base: number;
  readonly #threshold: number;
  readonly #canon: Canonical;
  readonly #tokens: Token[];

  constructor(text: string, options: LocateOptions = {}) {
    this.#text = text;
    this.#base = options.base ?? 0;
    this.#threshold = options.threshold ?? DEFAULT_QUOTE_THRESHOLD;
    this.#canon = canonicalize(text);
    this.#tokens = tokenize(this.#canon.text);
  }

  /**
   * Locates `quote`; offsets are absolute (`base` added).
   *
   * @param from absolute offset: only matches starting at or after it count (e.g. to look past
   *   an occurrence inside an example block).
   */
  locate(quote: string, from = this.#base): QuoteLocation {
    const result = this.#locateLocal(quote, Math.max(0, from - this.#base));
    return result.located
      ? { ...result, start: result.start + this.#base, end: result.end + this.#base }
      : result;
  }

  /** Local offsets; only matches starting at or after `from` (an original offset). */
  #locateLocal(quote: string, from: number): QuoteLocation {
    const trimmed = quote.trim();
    if (!trimmed) return { located: false, score: 0 };
    const parts = trimmed.split(ELLIPSIS).filter((p) => p.trim() !== '');
    if (parts.length > 1 && !this.#text.includes(trimmed, from))
      return this.#locateFragments(parts, from);

    // The earliest occurrence wins; it is "exact" when the original text matches byte for byte.
    const exact = this.#text.indexOf(trimmed, from);
    const q = canonicalize(trimmed);
    if (!q.text) return { located: false, score: 0 };
    const canonFrom = this.#canonIndexAtOrAfter(from);
    const normalized = this.#canon.text.indexOf(q.text, canonFrom);
    const span =
      normalized >= 0 ? this.#toOriginal(normalized, normalized + q.text.length) : undefined;
    if (exact >= 0 && (!span || exact <= span.start))
      return {
        located: true,
        start: exact,
        end: exact + trimmed.length,
        score: 1,
        method: 'exact',
      };
    if (span) return { located: true, ...span, score: 1, method: 'normalized' };
    return this.#fuzzy(q.text, canonFrom);
  }

  #locateFragments(parts: string[], from: number): QuoteLocation {
    // Try each occurrence of the first fragment until the rest follow it in order.
    let worst = 0;
    for (let at = from; at <= this.#text.length;) {
      const head = this.#locateLocal(parts[0] as string, at);
      if (!head.located) return { located: false, score: Math.max(worst, head.score) };
      let end = head.end;
      let score = head.score;
      let ok = true;
      for (const part of parts.slice(1)) {
        const next = this.#locateLocal(part, end);
        if (!next.located) {
          worst = Math.max(worst, Math.min(score, next.score));
          ok = false;
          break;
        }
        end = next.end;
        score = Math.min(score, next.score);
      }
      if (ok) return { located: true, start: head.start, end, score, method: 'fragments' };
      at = head.start + 1;
    }
    return { located: false, score: worst };
  }

  #fuzzy(canonQuote: string, canonFrom: number): QuoteLocation {
    const q = tokenize(canonQuote).map((t) => t.value);
    const firstToken = this.#tokens.findIndex((t) => t.start >= canonFrom);
    const text = firstToken < 0 ? [] : this.#tokens.slice(firstToken);
    const n = q.length;
    const m = text.length;
    if (n < MIN_FUZZY_WORDS || m === 0) return { located: false, score: 0 };

    // Fitting alignment, two rolling rows: score, start token of the path, matches on the path.
    let prevScore = new Int32Array(m + 1);
    let prevStart = Int32Array.from({ length: m + 1 }, (_, j) => j);
    let prevMatch = new Int32Array(m + 1);
    let curScore = new Int32Array(m + 1);
    let curStart = new Int32Array(m + 1);
    let curMatch = new Int32Array(m + 1);
    for (let i = 1; i <= n; i++) {
      const qi = q[i - 1];
      curScore[0] = (prevScore[0] as number) - 1;
      curStart[0] = 0;
      curMatch[0] = 0;
      for (let j = 1; j <= m; j++) {
        const same = (text[j - 1] as Token).value === qi;
        let best = (prevScore[j - 1] as number) + (same ? 2 : -1);
        let start = prevStart[j - 1] as number;
        let match = (prevMatch[j - 1] as number) + (same ? 1 : 0);
        const up = (prevScore[j] as number) - 1; // quote word missing from the text
        if (up > best) {
          best = up;
          start = prevStart[j] as number;
          match = prevMatch[j] as number;
        }
        const left = (curScore[j - 1] as number) - 1; // extra word in the text
        if (left > best) {
          best = left;
          start = curStart[j - 1] as number;
          match = curMatch[j - 1] as number;
        }
        curScore[j] = best;
        curStart[j] = start;
        curMatch[j] = match;
      }
      [prevScore, curScore] = [curScore, prevScore];
      [prevStart, curStart] = [curStart, prevStart];
      [prevMatch, curMatch] = [curMatch, prevMatch];
    }
    let bestJ = -1;
    let bestScore = -Infinity;
    for (let j = 1; j <= m; j++) {
      if ((prevScore[j] as number) > bestScore) {
        bestScore = prevScore[j] as number;
        bestJ = j;
      }
    }
    const startTok = prevStart[bestJ] as number;
    const matches = prevMatch[bestJ] as number;
    const spanWords = bestJ - startTok;
    const score = spanWords > 0 ? (2 * matches) / (n + spanWords) : 0;
    if (spanWords <= 0 || score < this.#threshold) return { located: false, score };
    const first = text[startTok] as Token;
    const last = text[bestJ - 1] as Token;
    let canonEnd = last.end;
    // Keep the quote's closing punctuation when the text has it too ("…the user.").
    const tail = /[^\p{L}\p{N}]+$/u.exec(canonQuote)?.[0] ?? '';
    for (const ch of tail) {
      if (this.#canon.text[canonEnd] === ch) canonEnd++;
      else break;
    }
    return { located: true, ...this.#toOriginal(first.start, canonEnd), score, method: 'fuzzy' };
  }

  #canonIndexAtOrAfter(original: number): number {
    if (original <= 0) return 0;
    const map = this.#canon.map;
    let lo = 0;
    let hi = map.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((map[mid] as number) < original) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #toOriginal(canonStart: number, canonEnd: number): { start: number; end: number } {
    const map = this.#canon.map;
    return { start: map[canonStart] as number, end: (map[canonEnd - 1] as number) + 1 };
  }
}

/**
 * Locates `quote` in `text` (see the module comment for the method).
 *
 * @returns `{ located: true, start, end }` with `start`/`end` offsets into `text` plus `base`, or
 *   `{ located: false }` with the best similarity seen.
 */
export function locateQuote(
  quote: string,
  text: string,
  options: LocateOptions = {},
): QuoteLocation {
  return new QuoteLocator(text, options).locate(quote);
}
