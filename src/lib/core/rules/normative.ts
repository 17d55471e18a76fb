/**
 * Deterministic normative-sentence detection (METHOD.md §1: "a deterministic pass seeds, checks
 * and measures coverage"). No model: a sentence is normative when it contains a deontic marker
 * (`must`, `should not`, `never`, `avoid`, `is prohibited`…), or when it is the first sentence of
 * a list item under a normative lead-in ("The assistant should not generate the following:").
 *
 * Method choices (the paper does not describe its detector):
 * - **Markers, most specific first.** Compound markers (`should not`, `must never`, `should
 *   always`, `must avoid`, `under no circumstances`…) are matched before their parts, and a part
 *   inside an accepted compound is not matched again, so `should not` never also counts as
 *   `should`. Up to two adverbs may sit between a modal and its negation (`should generally not`).
 * - **Strength**: `must`/`shall`/`never`/`always`/`do not`/`is required to`/`is prohibited`/`it
 *   is not acceptable` → `must`; `should`/`ought to`/`avoid`/`refrain from`/`is expected to` →
 *   `should`; explicit permissions (`is allowed to`, `it is acceptable to`, `may choose to`,
 *   `the assistant may <verb>`) → `may`. `may only` restricts, so it is `must`.
 * - **Ambiguous words are narrowed, not dropped.** `may not` is a prohibition only after an agent
 *   subject (`the assistant may not`; "it may not make sense" is not one) and not before a
 *   possibility verb ("the user may not be aware"); `do not`/`don't` and bare `always` only as
 *   imperatives — at the start of a clause, after a conjunction (`and don't`), after a
 *   clause-initial `you`, or (for `always`) after an agent subject ("the assistant always…");
 *   "users can always…" and "if you don't know…" are descriptions. A bare `may` counts only after
 *   `assistant`/`model` and not before `be`/`have`/`sometimes`/`encounter`/`face`…, which read
 *   as possibility. `can`, `cannot`, `does not`, `need to` and `have to` are not markers: in specs
 *   they mostly describe ability or fact. `is/are prohibited` counts; the noun phrase
 *   "prohibited content" does not. Questions ("how should the assistant respond?") are never
 *   normative.
 * - **One label per sentence.** The primary marker is the strongest (`must` > `should` > `may`);
 *   among equals a negative one wins (normative prose says "do X, but never Y" far more than the
 *   reverse), then the earliest. {@link NormativeSentence.mixed} is set when the sentence's markers
 *   disagree on direction; annotate.ts then trusts neither reading.
 * - **Lead-ins.** A list item's first sentence with no marker of its own inherits the lead-in's
 *   strength and direction (marker `lead-in: <marker>`); later sentences of the item, which
 *   usually elaborate, do not.
 * - **Headings are not normative sentences** by default: a heading restates its section's body and
 *   carries `{#id …}` syntax. `includeHeadings: true` changes that.
 * - Curly apostrophes count as straight ones (`don’t`, `shouldn’t`).
 */
import type { RuleDirection, RuleStrength } from '../records';
import {
  splitSentences,
  type BlockKind,
  type Sentence,
  type Span,
  type SplitOptions,
} from './sentences';

export { findNonProseSpans, mergeSpans, splitSentences } from './sentences';
export type {
  BlockKind,
  Sentence,
  SentenceSplit,
  Span,
  SplitOptions,
  TextBlock,
} from './sentences';

/** One deontic marker found in a sentence, absolute offsets. */
export interface NormativeMarker extends Span {
  /** The marker as written, lowercased with single spaces, e.g. `should not`. */
  marker: string;
  strength: RuleStrength;
  direction: RuleDirection;
}

/** A sentence that states (or, under a lead-in, inherits) a norm. */
export interface NormativeSentence extends Span {
  text: string;
  strength: RuleStrength;
  direction: RuleDirection;
  /** The primary marker, e.g. `must not`; `lead-in: should not` for inherited list items. */
  marker: string;
  /** Every marker in the sentence (empty for a purely inherited list item). */
  markers: NormativeMarker[];
  /** True when the sentence's markers disagree on direction ("should X, but never Y"). */
  mixed: boolean;
  kind: BlockKind;
  /** For inherited list items: the lead-in sentence's span. */
  leadIn?: Span;
}

/** Strength and direction of a piece of text, see {@link classifyNormative}. */
export interface NormativeClass {
  strength: RuleStrength;
  direction: RuleDirection;
  marker: string;
  markers: NormativeMarker[];
  mixed: boolean;
}

export interface DetectOptions extends SplitOptions {
  /** Treat heading text as sentences too. Default false (see the module comment). */
  includeHeadings?: boolean;
}

interface MarkerPattern {
  re: RegExp;
  strength: RuleStrength;
  direction: RuleDirection;
  /** Extra check on the match (e.g. the preceding word); false rejects it. */
  accept?: (text: string, index: number, match: RegExpExecArray) => boolean;
  /** Strength from the match (for `nor should|must|may`). */
  strengthOf?: (match: RegExpExecArray) => RuleStrength;
}

/** Adverbs allowed between a modal and what it governs: "should generally not", "must also never". */
const ADV =
  String.raw`(?:\s+(?:also|still|generally|typically|usually|normally|therefore|thus|then|ever|simply|otherwise|absolutely|really|certainly|definitely|instead|just|obviously|clearly|strictly|further|similarly|likewise))` +
  '{0,2}';
const NEG_VERB = String.raw`\s+(?:not|never|avoid|avoids|avoiding|refrain|abstain)\b`;
const AGENT = String.raw`(?:assistant|model|models|chatbot|agent|ai|you|developers?|users?|operators?)`;
/** Verbs after `may`/`may not` that state a possibility, not a permission ("may not be aware"). */
const EPISTEMIC = String.raw`(?:be|been|have|has|know|want|need|realize|realise|understand|misunderstand|see|notice|encounter|find|seem|appear|receive|get|struggle|fail|lack|believe|think|end|come|face|interact|incur|include|contain|occur|vary|differ|hallucinate|make\s+mistakes|always)`;
/** Words after which `do not` / `always` still read as an instruction: "and don't", "then always". */
const IMPERATIVE_AFTER = new Set([
  '',
  'and',
  'or',
  'but',
  'then',
  'please',
  'also',
  'just',
  'so',
  'thus',
  'therefore',
  'instead',
  'simply',
]);
/** Subjects after which `always` states the norm: "the assistant always cites". */
const AGENT_WORDS = new Set([
  'assistant',
  'model',
  'models',
  'chatbot',
  'agent',
  'ai',
  'it',
  'you',
]);

/**
 * The word right before `index`, lowercased; '' at the start of the text or after clause
 * punctuation (`,` `;` `:` `(` a dash or a quote), where an imperative can begin.
 */
const wordBefore = (text: string, index: number): string => {
  const m = /([\p{L}']+)([^\p{L}']*)$/u.exec(text.slice(Math.max(0, index - 40), index));
  if (!m || /[,;:(\u2014\u2013"]|--/.test(m[2] ?? '')) return '';
  return (m[1] ?? '').toLowerCase();
};

/** `do not`/`don't` as an imperative: clause-initial, after a conjunction, or after a clause-initial `you`. */
function imperativeDoNot(text: string, index: number): boolean {
  const before = wordBefore(text, index);
  if (IMPERATIVE_AFTER.has(before)) return true;
  if (before !== 'you') return false;
  const youAt = text.toLowerCase().lastIndexOf('you', index);
  return IMPERATIVE_AFTER.has(wordBefore(text, youAt));
}

/** Marker patterns, most specific first; the order is part of the method (see module comment). */
const PATTERNS: readonly MarkerPattern[] = [
  // Negative compounds.
  {
    re: new RegExp(String.raw`\b(?:must|shall)${ADV}${NEG_VERB}`, 'gi'),
    strength: 'must',
    direction: 'negative',
  },
  { re: /\b(?:mustn't|shan't)/gi, strength: 'must', direction: 'negative' },
  {
    re: new RegExp(String.raw`\bshould${ADV}${NEG_VERB}`, 'gi'),
    strength: 'should',
    direction: 'negative',
  },
  { re: /\bshouldn't/gi, strength: 'should', direction: 'negative' },
  { re: /\bought(?:\s+not|n't)\b/gi, strength: 'should', direction: 'negative' },
  {
    // Absorbs the inverted modal: "in no circumstances should it…"
    re: /\b(?:under|in)\s+no\s+circumstances?(?:\s*,?\s+(?:should|must|shall|may|can|will|is|are)\b)?/gi,
    strength: 'must',
    direction: 'negative',
  },
  {
    re: /\bnor\s+(should|must|may|shall)\b/gi,
    strength: 'should',
    direction: 'negative',
    strengthOf: (m) => modalStrength(m[1] ?? 'should'),
  },
  {
    re: /\b(?:is|are|be)(?:\s+(?:strictly|always|also|absolutely|explicitly|generally))?\s+(?:prohibited|forbidden)\b/gi,
    strength: 'must',
    direction: 'negative',
  },
  { re: /\bprohibited\s+from\b/gi, strength: 'must', direction: 'negative' },
  {
    re: /\b(?:is|are|be)\s+not\s+(?:allowed|permitted)\b/gi,
    strength: 'must',
    direction: 'negative',
  },
  {
    re: /\b(?:it\s+is|it's|is|are)\s+(?:not|never)\s+(?:acceptable|ok|okay|permissible)\b/gi,
    strength: 'must',
    direction: 'negative',
  },
  { re: /\bunacceptable\b/gi, strength: 'must', direction: 'negative' },
  {
    re: /\b(?:it\s+is|it's|is|are)\s+(?:not|never)\s+appropriate\b/gi,
    strength: 'should',
    direction: 'negative',
  },
  {
    re: new RegExp(
      String.raw`\b${AGENT}\s+(?:may|can)\s+(?:not|never)\b(?!\s+${EPISTEMIC}\b)`,
      'gi',
    ),
    strength: 'must',
    direction: 'negative',
  },
  {
    re: /\bit(?:\s+is|'s)\s+(?:important|essential|critical|crucial|imperative|vital)\s+not\s+to\b/gi,
    strength: 'should',
    direction: 'negative',
  },
  // Positive compounds.
  {
    re: new RegExp(String.raw`\b(?:must|shall)${ADV}\s+always\b`, 'gi'),
    strength: 'must',
    direction: 'positive',
  },
  {
    re: new RegExp(String.raw`\bshould${ADV}\s+always\b`, 'gi'),
    strength: 'should',
    direction: 'positive',
  },
  { re: /\bmay\s+only\b/gi, strength: 'must', direction: 'positive' },
  {
    re: /\b(?<!not\s)(?:is|are|be)\s+(?:required|obligated)\s+to\b/gi,
    strength: 'must',
    direction: 'positive',
  },
  {
    re: /\bit(?:\s+is|'s)\s+(?:essential|critical|crucial|imperative|vital)\s+(?:to|that)\b/gi,
    strength: 'must',
    direction: 'positive',
  },
  {
    re: /\bit(?:\s+is|'s)\s+important\s+(?:to|that)\b/gi,
    strength: 'should',
    direction: 'positive',
  },
  {
    re: /\b(?:is|are)\s+(?:expected|encouraged)\s+to\b/gi,
    strength: 'should',
    direction: 'positive',
  },
  // Permissions.
  {
    re: /\b(?<!not\s)(?:is|are)\s+(?:allowed|permitted|free|welcome)\s+to\b/gi,
    strength: 'may',
    direction: 'positive',
  },
  {
    re: /\b(?:it\s+is|it's)\s+(?:acceptable|fine|ok|okay|permissible)\s+(?:to|for|if)\b/gi,
    strength: 'may',
    direction: 'positive',
  },
  { re: /\b(?:may|can)\s+(?:choose|decide|opt)\s+to\b/gi, strength: 'may', direction: 'positive' },
  {
    re: new RegExp(
      String.raw`\b(?:assistant|model)\s+may\s+(?!(?:not|never|sometimes|also|still|${EPISTEMIC})\b)(?=[a-z])`,
      'gi',
    ),
    strength: 'may',
    direction: 'positive',
  },
  // Single words.
  { re: /\b(?:must|shall)\b/gi, strength: 'must', direction: 'positive' },
  { re: /\bshould\b/gi, strength: 'should', direction: 'positive' },
  { re: /\bought\s+to\b/gi, strength: 'should', direction: 'positive' },
  { re: /\bnever\b/gi, strength: 'must', direction: 'negative' },
  {
    re: /\b(?:do\s+not|don't)\b/gi,
    strength: 'must',
    direction: 'negative',
    accept: imperativeDoNot,
  },
  {
    re: /\balways\b/gi,
    strength: 'must',
    direction: 'positive',
    accept: (text, index) => {
      const before = wordBefore(text, index);
      return IMPERATIVE_AFTER.has(before) || AGENT_WORDS.has(before);
    },
  },
  { re: /\b(?:avoid|avoids|avoiding)\b/gi, strength: 'should', direction: 'negative' },
  { re: /\brefrains?\s+from\b/gi, strength: 'should', direction: 'negative' },
  { re: /^[\s*_"'(]*(?:ensure|make\s+sure)\b/gi, strength: 'should', direction: 'positive' },
];

const STRENGTH_RANK: Record<RuleStrength, number> = { must: 0, should: 1, may: 2 };

function modalStrength(modal: string): RuleStrength {
  const m = modal.toLowerCase();
  if (m === 'must' || m === 'shall') return 'must';
  if (m === 'may') return 'may';
  return 'should';
}

/**
 * Finds the deontic markers in `text` and labels it; undefined when there are none.
 *
 * @param base absolute offset of `text[0]`, added to marker offsets.
 */
export function classifyNormative(text: string, base = 0): NormativeClass | undefined {
  // Same length as `text`, so offsets carry over.
  const t = text.replace(/[\u2018\u2019\u02bc]/g, "'");
  const taken: Span[] = [];
  const markers: NormativeMarker[] = [];
  for (const p of PATTERNS) {
    p.re.lastIndex = 0;
    for (let m = p.re.exec(t); m; m = p.re.exec(t)) {
      if (m[0].length === 0) {
        p.re.lastIndex++;
        continue;
      }
      const start = m.index + (m[0].length - m[0].trimStart().length);
      const end = m.index + m[0].trimEnd().length;
      if (taken.some((s) => start < s.end && s.start < end)) continue;
      if (p.accept && !p.accept(t, start, m)) continue;
      taken.push({ start, end });
      markers.push({
        start: base + start,
        end: base + end,
        marker: t.slice(start, end).toLowerCase().replace(/\s+/g, ' '),
        strength: p.strengthOf ? p.strengthOf(m) : p.strength,
        direction: p.direction,
      });
    }
  }
  if (markers.length === 0) return undefined;
  markers.sort((a, b) => a.start - b.start);
  const primary = [...markers].sort(
    (a, b) =>
      STRENGTH_RANK[a.strength] - STRENGTH_RANK[b.strength] ||
      (a.direction === b.direction ? 0 : a.direction === 'negative' ? -1 : 1) ||
      a.start - b.start,
  )[0] as NormativeMarker;
  return {
    strength: primary.strength,
    direction: primary.direction,
    marker: primary.marker,
    markers,
    mixed: markers.some((m) => m.direction !== primary.direction),
  };
}

/**
 * Detects the normative sentences of `text` (typically one section's text), in document order.
 *
 * @param text the text to scan; pass a section's text and its `base` offset to get offsets into
 *   the full spec text (`spec.slice(s.start, s.end) === s.text`).
 * @param base absolute offset of `text[0]`.
 * @param options holes to skip (`excludeSpans`, absolute offsets; fenced code is always skipped and
 *   `!!! meta` commentary by default) and whether headings count.
 */
export function detectNormativeSentences(
  text: string,
  base = 0,
  options: DetectOptions = {},
): NormativeSentence[] {
  const split = splitSentences(text, base, options);
  return normativeFromSentences(split.sentences, split.blocks, options);
}

/**
 * Classifies already-split sentences (see {@link splitSentences}); lets a caller split once and
 * both chunk and detect.
 */
export function normativeFromSentences(
  sentences: readonly Sentence[],
  blocks: readonly { leadIn?: number }[],
  options: Pick<DetectOptions, 'includeHeadings'> = {},
): NormativeSentence[] {
  const found: NormativeSentence[] = [];
  /** Classification of the last sentence of each block, for lead-ins. */
  const lastOfBlock = new Map<number, { span: Span; cls: NormativeClass | undefined }>();
  for (const s of sentences) {
    if (s.kind === 'heading' && !options.includeHeadings) continue;
    // Questions ask, they do not require: "how should the assistant respond?"
    const cls = isQuestion(s.text) ? undefined : classifyNormative(s.text, s.start);
    lastOfBlock.set(s.block, { span: { start: s.start, end: s.end }, cls });
    const base = { start: s.start, end: s.end, text: s.text, kind: s.kind };
    if (cls) {
      found.push({ ...base, ...cls });
      continue;
    }
    if (isQuestion(s.text)) continue;
    const leadInBlock = s.kind === 'list-item' && s.first ? blocks[s.block]?.leadIn : undefined;
    const lead = leadInBlock !== undefined ? lastOfBlock.get(leadInBlock) : undefined;
    if (lead?.cls) {
      found.push({
        ...base,
        strength: lead.cls.strength,
        direction: lead.cls.direction,
        marker: `lead-in: ${lead.cls.marker}`,
        markers: [],
        mixed: lead.cls.mixed,
        leadIn: lead.span,
      });
    }
  }
  return found;
}

function isQuestion(text: string): boolean {
  return /\?[\s"'\u201d\u2019)\]*_]*$/.test(text);
}
