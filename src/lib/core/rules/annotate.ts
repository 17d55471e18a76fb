/**
 * Annotating one chunk (METHOD.md §1): the model proposes rules through schema-constrained JSON;
 * the deterministic pass then locates, checks and labels them.
 *
 * Method choices:
 * - **Provenance or a flag.** Each `sourceQuote` is located in the chunk (locate-quote.ts). Found:
 *   `source` is that span and `sectionAnchor` the section holding its start. Not found: the rule is
 *   kept with `status: 'flagged'`, `located: false`, `source.start/end` = the chunk's span (where
 *   it was looked for) and the chunk's first section — never passed off as located. A quote found
 *   only inside a code block or `!!! meta` commentary is flagged too (examples and commentary are
 *   never rules, METHOD.md §0), with its span kept so a reviewer sees it; an occurrence in prose
 *   after the block is preferred when there is one.
 * - **Priority**: the section's spec-declared authority (its index in AUTHORITY_LEVELS) when the
 *   section has one; else the model's proposed level; else `defaultPriority`
 *   ({@link UNRANKED_PRIORITY} unless the caller sets one: below every declared level).
 * - **Strength comes from the spec's words**: when the located quote overlaps a detected normative
 *   sentence whose markers all agree on strength, that strength wins over the model's (the spec
 *   literally says "should" or "must"). **Direction follows the statement**: the rule is tested
 *   as phrased, so when the statement's own markers are unambiguous they fix the model's label;
 *   otherwise the model's label stays, and a disagreement with the source sentence is reported as
 *   a finding for review rather than silently "corrected" (a source's "never reveal X" may be
 *   restated as the positive "keep X confidential").
 * - Within one reply, a second rule with the same normalised statement is dropped (finding).
 * - Invalid output after `chatJson`'s bounded repair rethrows `InvalidModelOutputError`: the
 *   caller records the failure for that chunk and moves on.
 */
import { chatJson } from '../json-call';
import type { ChatEngine, TokenUsage } from '../llm';
import { AUTHORITY_LEVELS, type Authority, type Rule, type RuleStrength } from '../records';
import type { Chunk } from './chunking';
import { QuoteLocator, type LocateOptions } from './locate-quote';
import { classifyNormative, detectNormativeSentences, type NormativeSentence } from './normative';
import { buildAnnotationPrompt } from './prompt';
import { annotationReplySchema, type ProposedRule } from './schema';
import { findNonProseSpans, mergeSpans, type Span } from './sentences';

/** A rule before storage gives it an id, a project and timestamps. */
export type RuleDraft = Omit<Rule, 'id' | 'projectId' | 'createdAt' | 'updatedAt'>;

/** Priority of rules whose section and model state no authority: after every declared level. */
export const UNRANKED_PRIORITY = AUTHORITY_LEVELS.length;

/** Default tokens reserved for an annotation reply. */
export const DEFAULT_ANSWER_TOKENS = 1024;

/** Something a reviewer should know about one proposed rule. */
export interface AnnotationFinding {
  /** Index into {@link ChunkAnnotation.rules}; -1 for a dropped rule. */
  rule: number;
  kind:
    | 'quote-not-located'
    | 'quote-in-example-or-commentary'
    | 'no-normative-sentence'
    | 'strength-from-spec'
    | 'direction-from-statement'
    | 'direction-differs-from-spec'
    | 'priority-from-model'
    | 'duplicate-in-reply';
  message: string;
}

/** What the caller knows about the spec around the chunk. */
export interface AnnotationContext {
  specVersionId: string;
  /**
   * Normative sentences (absolute offsets), e.g. detected once over the whole spec; those inside
   * the chunk are used. When omitted they are detected on the chunk text.
   */
  normative?: readonly NormativeSentence[];
  /** Non-prose spans (absolute): examples, commentary. Fences and `!!! meta` are found anyway. */
  excludeSpans?: readonly Span[];
  /** Title shown to the model. */
  specTitle?: string;
  /** Context window to size the prompt for; default the engine's. */
  contextWindow?: number;
  /** Tokens reserved for the reply (`maxTokens`); default {@link DEFAULT_ANSWER_TOKENS}. */
  answerTokens?: number;
  /** Priority when neither the section nor the model gives one; default {@link UNRANKED_PRIORITY}. */
  defaultPriority?: number;
  /** Extra attempts after invalid JSON (chatJson); default 2. */
  retries?: number;
  temperature?: number;
  seed?: number;
  /** Fuzzy quote threshold, see locate-quote.ts. */
  quoteThreshold?: LocateOptions['threshold'];
}

export interface AnnotateOptions {
  signal?: AbortSignal;
}

/** The result of annotating one chunk. */
export interface ChunkAnnotation {
  chunkKey: string;
  rules: RuleDraft[];
  findings: AnnotationFinding[];
  /** Tokens over every attempt, failed ones included. */
  usage: TokenUsage;
  attempts: number;
  engineId: string;
}

/**
 * Asks `engine` for the rules in `chunk` and turns the reply into located, checked rule drafts.
 *
 * @throws InvalidModelOutputError when the reply is still invalid after the bounded repair.
 * @throws ChunkBudgetError when the chunk does not fit the context window with the answer budget.
 */
export async function annotateChunk(
  engine: ChatEngine,
  chunk: Chunk,
  ctx: AnnotationContext,
  options: AnnotateOptions = {},
): Promise<ChunkAnnotation> {
  const excluded = mergeSpans(ctx.excludeSpans ?? []);
  const normative = (
    ctx.normative ?? detectNormativeSentences(chunk.text, chunk.start, { excludeSpans: excluded })
  ).filter((s) => s.start < chunk.end && s.end > chunk.start);
  const answerTokens = ctx.answerTokens ?? DEFAULT_ANSWER_TOKENS;
  const messages = buildAnnotationPrompt(chunk, {
    contextWindow: ctx.contextWindow ?? engine.contextWindow,
    answerTokens,
    hints: normative,
    ...(ctx.specTitle ? { specTitle: ctx.specTitle } : {}),
  });
  const reply = await chatJson(
    engine,
    {
      messages,
      maxTokens: answerTokens,
      temperature: ctx.temperature ?? 0,
      ...(ctx.seed !== undefined ? { seed: ctx.seed } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    },
    annotationReplySchema,
    ctx.retries !== undefined ? { retries: ctx.retries } : {},
  );

  // The caller's holes plus the chunk's own fences and `!!! meta` blocks.
  const nonProse = mergeSpans([...excluded, ...findNonProseSpans(chunk.text, chunk.start)]);
  const locator = new QuoteLocator(chunk.text, {
    base: chunk.start,
    ...(ctx.quoteThreshold !== undefined ? { threshold: ctx.quoteThreshold } : {}),
  });
  const rules: RuleDraft[] = [];
  const findings: AnnotationFinding[] = [];
  const seen = new Set<string>();
  for (const proposed of reply.value.rules) {
    const key = normaliseStatement(proposed.statement);
    if (seen.has(key)) {
      findings.push({
        rule: -1,
        kind: 'duplicate-in-reply',
        message: `Dropped a repeated rule: "${proposed.statement}".`,
      });
      continue;
    }
    seen.add(key);
    const index = rules.length;
    const note = (kind: AnnotationFinding['kind'], message: string) =>
      findings.push({ rule: index, kind, message });
    rules.push(toDraft(proposed, chunk, ctx, locator, normative, nonProse, note));
  }
  return {
    chunkKey: chunk.key,
    rules,
    findings,
    usage: reply.usage,
    attempts: reply.attempts,
    engineId: engine.id,
  };
}

function toDraft(
  proposed: ProposedRule,
  chunk: Chunk,
  ctx: AnnotationContext,
  locator: QuoteLocator,
  normative: readonly NormativeSentence[],
  nonProse: readonly Span[],
  note: (kind: AnnotationFinding['kind'], message: string) => void,
): RuleDraft {
  const inHole = (span: Span) => nonProse.find((h) => span.start >= h.start && span.end <= h.end);
  let where = locator.locate(proposed.sourceQuote);
  // A sentence may be repeated inside an example before its prose occurrence: prefer the prose.
  for (let hole = where.located ? inHole(where) : undefined; hole;) {
    const again = locator.locate(proposed.sourceQuote, hole.end);
    if (!again.located) break;
    where = again;
    hole = inHole(again);
  }
  let status: RuleDraft['status'] = 'proposed';
  let source: RuleDraft['source'];
  if (where.located) {
    source = { quote: proposed.sourceQuote, start: where.start, end: where.end, located: true };
    if (inHole(where)) {
      status = 'flagged';
      note(
        'quote-in-example-or-commentary',
        'The quote comes from an example or commentary block, which states no rule.',
      );
    }
  } else {
    status = 'flagged';
    source = { quote: proposed.sourceQuote, start: chunk.start, end: chunk.end, located: false };
    note(
      'quote-not-located',
      `The quote was not found in the text (best similarity ${where.score.toFixed(2)}).`,
    );
  }

  const section =
    (where.located
      ? chunk.sections.find((s) => where.start >= s.start && where.start < s.end)
      : undefined) ?? chunk.sections[0];

  let authority: Authority | undefined = section?.authority;
  let priority: number;
  if (authority) {
    priority = AUTHORITY_LEVELS.indexOf(authority);
  } else if (proposed.priority && proposed.priority !== 'unspecified') {
    authority = proposed.priority;
    priority = AUTHORITY_LEVELS.indexOf(authority);
    note(
      'priority-from-model',
      `The section declares no authority; the model proposed "${authority}".`,
    );
  } else {
    priority = ctx.defaultPriority ?? UNRANKED_PRIORITY;
  }

  let strength = proposed.strength;
  let direction = proposed.direction;
  const sentence = where.located ? bestOverlap(normative, where) : undefined;
  if (where.located && !sentence && status === 'proposed') {
    note('no-normative-sentence', 'The quote overlaps no sentence with a normative marker.');
  }
  const specStrength = sentence ? agreedStrength(sentence) : undefined;
  if (specStrength && specStrength !== strength) {
    note(
      'strength-from-spec',
      `The text says "${sentence?.marker}": strength ${specStrength}, not ${strength}.`,
    );
    strength = specStrength;
  }
  const own = classifyNormative(proposed.statement);
  if (own && !own.mixed && own.direction !== direction) {
    note(
      'direction-from-statement',
      `The statement says "${own.marker}", so its direction is ${own.direction}, not ${direction}.`,
    );
    direction = own.direction;
  } else if (!own && sentence && !sentence.mixed && sentence.direction !== direction) {
    note(
      'direction-differs-from-spec',
      `The source sentence reads ${sentence.direction} ("${sentence.marker}") but the rule is labelled ${direction}.`,
    );
  }

  return {
    specVersionId: ctx.specVersionId,
    sectionAnchor: section?.anchor ?? chunk.sectionAnchors[0] ?? '',
    statement: proposed.statement,
    direction,
    stage: proposed.stage,
    domain: proposed.domain.toLowerCase(),
    family: proposed.family.toLowerCase(),
    priority,
    ...(authority ? { authority } : {}),
    strength,
    exceptions: cleanList(proposed.exceptions),
    appliesWhen: cleanList(proposed.appliesWhen),
    source,
    status,
    origin: 'model',
  };
}

/** The detected sentence overlapping `span` the most (ties: the earlier one). */
function bestOverlap(
  sentences: readonly NormativeSentence[],
  span: Span,
): NormativeSentence | undefined {
  let best: NormativeSentence | undefined;
  let bestLength = 0;
  for (const s of sentences) {
    const overlap = Math.min(s.end, span.end) - Math.max(s.start, span.start);
    if (overlap > bestLength) {
      best = s;
      bestLength = overlap;
    }
  }
  return best;
}

/** The strength all of a sentence's markers agree on (inherited lead-ins count as agreeing). */
function agreedStrength(sentence: NormativeSentence): RuleStrength | undefined {
  if (sentence.markers.length === 0) return sentence.strength;
  const first = sentence.markers[0]?.strength;
  return sentence.markers.every((m) => m.strength === first) ? first : undefined;
}

function cleanList(items: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    const t = item.trim();
    const k = t.toLowerCase();
    if (t && !seen.has(k)) {
      seen.add(k);
      out.push(t);
    }
  }
  return out;
}

/** Lowercase words of a statement, for spotting repeats within one reply. */
export function normaliseStatement(statement: string): string {
  return (
    statement
      .toLowerCase()
      .replace(/[\u2018\u2019]/g, "'")
      .match(/[\p{L}\p{N}']+/gu) ?? []
  ).join(' ');
}
