/**
 * The schema of one annotation reply (METHOD.md §1): one zod definition gives the TypeScript type,
 * the JSON Schema the engine's constrained decoder receives (through `chatJson`) and the
 * validation of what comes back.
 *
 * Sized for small models: few fields, one-line descriptions, enums instead of free text where the
 * method has a closed set, a cap on the number of rules per reply and on every string (so a
 * decoder cannot ramble until `max_tokens` cuts the JSON). Parsing is lenient where leniency is
 * safe: enum values are trimmed and lowercased (`"Negative"` passes), over-long strings are cut to
 * their cap rather than rejected (a truncated quote still locates by its prefix), and
 * `exceptions`/`appliesWhen` default to `[]` when a model omits them. The JSON Schema still
 * lists every field as required, so constrained decoders always produce them.
 */
import { z } from 'zod';
import { AUTHORITY_LEVELS, RULE_STAGES } from '../records';

/** Most rules one reply may hold: about what a 1k-token answer fits (~100 tokens a rule). */
export const MAX_RULES_PER_REPLY = 12;

/** String caps, in characters. */
export const ANNOTATION_LIMITS = {
  statement: 300,
  domain: 40,
  family: 60,
  condition: 200,
  conditions: 4,
  sourceQuote: 400,
} as const;

export const RULE_DIRECTIONS = ['positive', 'negative'] as const;
export { RULE_STAGES };
export const RULE_STRENGTHS = ['must', 'should', 'may'] as const;
/** Authority levels a model may propose, plus `unspecified` when the text states none. */
export const PROPOSED_PRIORITIES = [...AUTHORITY_LEVELS, 'unspecified'] as const;

const normaliseWord = (value: unknown): unknown =>
  typeof value === 'string' ? value.trim().toLowerCase() : value;

const word = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.preprocess(normaliseWord, z.enum(values));

/** A trimmed string of at least `min` characters, cut (not rejected) at `max`. */
const text = (min: number, max: number) =>
  z.preprocess(
    (value) => (typeof value === 'string' ? value.trim().slice(0, max) : value),
    z.string().min(min).max(max),
  );

const conditions = z
  .array(text(1, ANNOTATION_LIMITS.condition))
  .max(ANNOTATION_LIMITS.conditions)
  .default([]);

/**
 * One rule as a model proposes it. The quote comes first: constrained decoders emit properties in
 * schema order, and copying the source before summarising it keeps small models grounded in the
 * text (and their statements closer to the spec's own terms).
 */
export const proposedRuleSchema = z.object({
  sourceQuote: text(8, ANNOTATION_LIMITS.sourceQuote).describe(
    'Exact words copied from the text that state the rule.',
  ),
  statement: text(8, ANNOTATION_LIMITS.statement).describe(
    'One atomic, testable instruction, in the text’s own words.',
  ),
  direction: word(RULE_DIRECTIONS).describe('positive: do X. negative: do not do X.'),
  strength: word(RULE_STRENGTHS).describe('must, should or may, as the text says.'),
  stage: word(RULE_STAGES).describe('Where in answering the rule applies.'),
  domain: text(1, ANNOTATION_LIMITS.domain).describe('Topic area, 1-3 words.'),
  family: text(1, ANNOTATION_LIMITS.family).describe('Short label for closely related rules.'),
  priority: word(PROPOSED_PRIORITIES)
    .optional()
    .describe('Authority level if the text states one, else unspecified.'),
  appliesWhen: conditions.describe('When the rule applies, if stated.'),
  exceptions: conditions.describe('When the rule does not apply, if stated.'),
});

/** One annotation reply: the rules a model found in one chunk. */
export const annotationReplySchema = z.object({
  rules: z.array(proposedRuleSchema).max(MAX_RULES_PER_REPLY),
});

export type ProposedRule = z.output<typeof proposedRuleSchema>;
export type AnnotationReply = z.output<typeof annotationReplySchema>;
