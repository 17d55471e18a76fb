/**
 * The annotation prompt (METHOD.md §1): instructions sized for small instruct models, then one
 * chunk of spec text with its heading path, plus the deterministic detector's normative sentences
 * as hints.
 *
 * Method choices:
 * - **Short, imperative instructions** (~450 tokens) with every enum defined in one line each, and
 *   a one-line JSON skeleton, so engines without constrained decoding still see the shape.
 * - **Hints are references, not copies**: each normative sentence is listed by its first
 *   {@link HINT_WORDS} words with the detector's strength and direction, which points the model at
 *   the norms without doubling the chunk's tokens. Hints beyond the hint budget are dropped
 *   (their count is stated) — never the spec text.
 * - **Fixed overhead**: {@link annotationPromptOverhead} is an upper bound on everything but the
 *   chunk text (header capped at {@link HEADER_TOKENS}, hints at the hint budget), so chunking can
 *   size chunks before any prompt exists, and {@link buildAnnotationPrompt} checks the result.
 */
import { estimateTokens, type ChatMessage } from '../llm';
import { ChunkBudgetError, type Chunk } from './chunking';
import type { NormativeSentence } from './normative';
import { MAX_RULES_PER_REPLY } from './schema';

/** Words of each hinted sentence shown to the model. */
export const HINT_WORDS = 12;
/** Default token budget for the hint list. */
export const DEFAULT_HINT_TOKENS = 320;
/** Cap on the header (document title, heading path, part, authority) in tokens. */
export const HEADER_TOKENS = 80;
/** Chat-template tokens per message (role markers, separators), added to every estimate. */
export const MESSAGE_OVERHEAD_TOKENS = 8;

export interface AnnotationPromptOptions {
  /** Context window of the model that will answer. */
  contextWindow: number;
  /** Tokens reserved for the answer (the request's `maxTokens`). */
  answerTokens: number;
  /** Normative sentences detected inside the chunk, shown as hints. */
  hints?: readonly NormativeSentence[];
  /** Title of the specification, shown above the heading path. */
  specTitle?: string;
  /** Most rules the model may return; default {@link MAX_RULES_PER_REPLY}. */
  maxRules?: number;
  /** Token budget for hints; default {@link DEFAULT_HINT_TOKENS}. */
  hintTokens?: number;
}

/** The system message: what a rule is, the fields, and the reply format. */
export function annotationSystemPrompt(maxRules = MAX_RULES_PER_REPLY): string {
  return [
    'You extract rules for an AI assistant from a policy document.',
    'A rule is ONE atomic, testable instruction: a single behaviour a reviewer could check in one reply. Split a sentence that gives several instructions into several rules. Skip background, motivation and definitions that instruct nothing.',
    'Fields of each rule:',
    '- sourceQuote: copy the exact words of the text that state the rule (one sentence or part of one). Copy; do not paraphrase or join sentences.',
    '- statement: the rule as a short instruction, in the text’s own terms.',
    '- direction: "positive" if it says what to do, "negative" if it says what not to do.',
    '- strength: "must", "should" or "may", as the text says (never/must not = must; should not/avoid = should; may/is allowed to = may).',
    '- stage: "interpretation" (understanding the request and whose instructions count), "decision" (whether to help, refuse or ask), "content" (what the answer says), "style" (tone, format, length), "action" (tool use, side effects, autonomous steps).',
    '- domain: topic in 1-3 words, e.g. "privacy", "self-harm", "formatting".',
    '- family: a short label shared by closely related rules.',
    '- priority: the authority level if the text states one (root, system, developer, user, guideline), else "unspecified".',
    '- appliesWhen / exceptions: conditions stated in the text under which the rule applies / does not apply; [] if none.',
    'Example turns (<user>, <assistant> inside ~~~ blocks) and "!!! meta" commentary are illustrations, not rules: quote rules only from the normal text.',
    `Reply with JSON only, at most ${maxRules} rules, most important first: {"rules":[{"sourceQuote":"…","statement":"…","direction":"negative","strength":"must","stage":"content","domain":"…","family":"…","priority":"unspecified","appliesWhen":[],"exceptions":[]}]}. If the text states no rule, reply {"rules":[]}.`,
  ].join('\n');
}

/** Token estimate of a message list: {@link estimateTokens} of each content plus per-message overhead. */
export function estimatePromptTokens(messages: readonly ChatMessage[]): number {
  return messages.reduce((n, m) => n + estimateTokens(m.content) + MESSAGE_OVERHEAD_TOKENS, 0);
}

/**
 * Upper bound on the prompt tokens besides the chunk text: pass it to `chunkSections` as
 * `promptOverheadTokens`.
 */
export function annotationPromptOverhead(
  options: Pick<AnnotationPromptOptions, 'maxRules' | 'hintTokens'> = {},
): number {
  const skeleton: ChatMessage[] = [
    { role: 'system', content: annotationSystemPrompt(options.maxRules) },
    { role: 'user', content: userMessage('', '', '') },
  ];
  // +2: the newlines after the header and the hints, which the skeleton leaves out.
  return (
    estimatePromptTokens(skeleton) + HEADER_TOKENS + (options.hintTokens ?? DEFAULT_HINT_TOKENS) + 2
  );
}

/**
 * Builds the messages for annotating one chunk.
 *
 * @throws ChunkBudgetError when the chunk plus prompt plus answer do not fit the context window
 *   (chunks from `chunkSections` with {@link annotationPromptOverhead} always fit).
 */
export function buildAnnotationPrompt(
  chunk: Chunk,
  options: AnnotationPromptOptions,
): ChatMessage[] {
  const header = capTokens(headerLines(chunk, options.specTitle).join('\n'), HEADER_TOKENS);
  const hints = hintLines(chunk, options.hints ?? [], options.hintTokens ?? DEFAULT_HINT_TOKENS);
  const messages: ChatMessage[] = [
    { role: 'system', content: annotationSystemPrompt(options.maxRules) },
    { role: 'user', content: userMessage(header, hints, chunk.text) },
  ];
  const total = estimatePromptTokens(messages) + options.answerTokens;
  if (total > options.contextWindow) {
    throw new ChunkBudgetError(
      `The annotation prompt for "${chunk.headingPath.join(' > ') || chunk.key}" needs about ${total} tokens ` +
        `(answer included) but the model's context window is ${options.contextWindow}. ` +
        'Re-chunk the specification for this model.',
    );
  }
  return messages;
}

function userMessage(header: string, hints: string, text: string): string {
  return [
    header,
    hints,
    'Text:',
    '"""',
    text,
    '"""',
    'Extract the rules stated in the text above. Reply with JSON only.',
  ]
    .filter((line) => line !== '')
    .join('\n');
}

function headerLines(chunk: Chunk, specTitle: string | undefined): string[] {
  const lines: string[] = [];
  if (specTitle) lines.push(`Document: ${specTitle}`);
  const part = chunk.parts > 1 ? ` (part ${chunk.part} of ${chunk.parts})` : '';
  if (chunk.headingPath.length) lines.push(`Section: ${chunk.headingPath.join(' > ')}${part}`);
  const others = chunk.sections.slice(1).map((s) => s.title);
  if (others.length) lines.push(`Also in this text: ${others.join('; ')}`);
  const levels = [...new Set(chunk.sections.map((s) => s.authority).filter(Boolean))];
  if (levels.length === 1 && chunk.sections.every((s) => s.authority))
    lines.push(`Authority level: ${levels[0]}`);
  return lines;
}

function hintLines(chunk: Chunk, hints: readonly NormativeSentence[], budget: number): string {
  const inside = hints.filter((h) => h.start >= chunk.start && h.end <= chunk.end);
  if (!inside.length) return '';
  const title = 'Sentences that look like rules (first words only; check them in the text):';
  const lines: string[] = [];
  // Room for the title and for the "(N more not listed)" line, so the budget is a true bound.
  let used = estimateTokens(title) + 8 + MESSAGE_OVERHEAD_TOKENS;
  for (const [i, h] of inside.entries()) {
    const words = h.text.replace(/\s+/g, ' ').trim().split(' ');
    const opening = words.slice(0, HINT_WORDS).join(' ') + (words.length > HINT_WORDS ? ' …' : '');
    const line = `${i + 1}. [${h.strength}, ${h.direction}] "${opening}"`;
    const cost = estimateTokens(line) + 1;
    if (used + cost > budget) {
      lines.push(`(${inside.length - i} more not listed)`);
      break;
    }
    lines.push(line);
    used += cost;
  }
  return [title, ...lines].join('\n');
}

function capTokens(text: string, tokens: number): string {
  if (estimateTokens(text) <= tokens) return text;
  let end = text.length;
  while (end > 0 && estimateTokens(text.slice(0, end) + '…') > tokens) end--;
  return text.slice(0, end) + '…';
}
