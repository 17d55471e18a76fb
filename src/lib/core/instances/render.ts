/**
 * Renders a spec instance as the system prompt that the agents and, later, the trained model see
 * (METHOD.md §2).
 *
 * Method choices (the paper does not publish its template):
 * - Rules are numbered **R1…Rn in reading order**: grouped by stage in {@link STAGE_ORDER}, and by
 *   precedence ({@link resolveConflicts}) inside a stage. Labels are a pure function of the rule
 *   set ({@link labelInstanceRules}), so judges can answer "R3" and core maps it back to a rule id
 *   without storing a table.
 * - Each rule shows its authority level (when the spec declares one) and strength, then the
 *   statement, then `Applies when:` and `Except:` lines. Direction needs no tag: the statement
 *   says "do" or "do not".
 * - A **priority note** states the precedence order in one sentence, followed by the resolved
 *   potential conflicts of this instance ("R2 over R7"), so a small model does not have to infer
 *   which rule yields.
 * - **Budget**: an instance must leave room for a conversation and an answer in a 4k window.
 *   When the text exceeds `maxTokens`, a fixed ladder shortens it: cap conditions, then cap
 *   statements, then drop conditions; never drop a rule. What was shortened is reported.
 * - No dates, ids or randomness: the same rules always give byte-identical text.
 */
import { estimateTokens } from '../llm';
import type { Rule } from '../records';
import { resolveConflicts, type RuleConflict } from './conflicts';
import { STAGE_ORDER, STAGE_TITLES, stageRank } from './stages';

/** Default opening line of an instance prompt. */
export const DEFAULT_PREAMBLE =
  'You are a helpful AI assistant. Follow every rule below in each reply. Help as fully as the rules allow.';

/** Default token budget of an instance prompt: about a quarter of a 4k window. */
export const DEFAULT_INSTANCE_TOKENS = 1400;

/** The precedence sentence every instance carries. */
export const PRIORITY_NOTE =
  'If rules conflict, follow the one with higher authority (root > system > developer > user > guideline); then the earlier stage (understanding > deciding > actions > content > tone); then a "do not" rule over a "do" rule; then an exception over the general rule; then the more specific rule.';

/** A rule with its label in an instance. */
export interface LabeledRule {
  /** `R1`, `R2`, … */
  label: string;
  rule: Rule;
}

/** How to render an instance. */
export interface RenderOptions {
  /** First line(s) of the prompt; default {@link DEFAULT_PREAMBLE}. */
  preamble?: string;
  /** Include the priority note and the resolved conflicts; default true. */
  priorityNote?: boolean;
  /** Token budget; the text is shortened to fit (see the module comment). Default {@link DEFAULT_INSTANCE_TOKENS}. */
  maxTokens?: number;
}

/** The rendered instance. */
export interface RenderedInstance {
  /** The system prompt. */
  text: string;
  /** Rules with labels, in the order they appear. */
  labeled: LabeledRule[];
  /** Rule id → label. */
  labelOf: Record<string, string>;
  /** Potential conflicts with their resolution. */
  conflicts: RuleConflict[];
  /** {@link estimateTokens} of `text`. */
  tokens: number;
  /** 0 = full text; 1–3 = how far the budget ladder had to go. */
  compaction: number;
  /** E.g. "conditions shortened to fit 1400 tokens". */
  warnings: string[];
}

/** How far a rendering shortens rules (a rung of the budget ladder). */
export interface Compaction {
  statementChars: number;
  conditionChars: number;
  conditionsPerKind: number;
}

const LADDER: readonly Compaction[] = [
  { statementChars: Infinity, conditionChars: Infinity, conditionsPerKind: Infinity },
  { statementChars: Infinity, conditionChars: 120, conditionsPerKind: 2 },
  { statementChars: 200, conditionChars: 80, conditionsPerKind: 1 },
  { statementChars: 200, conditionChars: 0, conditionsPerKind: 0 },
];

const LADDER_NOTES = [
  '',
  'conditions shortened',
  'statements and conditions shortened',
  'conditions left out and statements shortened',
];

/** The rules in prompt order with their labels R1…Rn. */
export function labelInstanceRules(rules: readonly Rule[]): LabeledRule[] {
  const { ordered } = resolveConflicts(rules);
  const precedence = new Map(ordered.map((r, i) => [r.id, i]));
  return [...ordered]
    .sort(
      (a, b) =>
        stageRank(a.stage) - stageRank(b.stage) ||
        (precedence.get(a.id) ?? 0) - (precedence.get(b.id) ?? 0),
    )
    .map((rule, i) => ({ label: `R${i + 1}`, rule }));
}

/** Renders `rules` as an instance system prompt; see the module comment. */
export function renderInstancePrompt(
  rules: readonly Rule[],
  options: RenderOptions = {},
): RenderedInstance {
  const labeled = labelInstanceRules(rules);
  const labelOf = Object.fromEntries(labeled.map((l) => [l.rule.id, l.label]));
  const { conflicts } = resolveConflicts(rules);
  const budget = options.maxTokens ?? DEFAULT_INSTANCE_TOKENS;
  let text = '';
  let level = 0;
  for (; level < LADDER.length; level++) {
    text = compose(labeled, labelOf, conflicts, options, LADDER[level] as Compaction);
    if (estimateTokens(text) <= budget) break;
  }
  const warnings: string[] = [];
  if (level >= LADDER.length) {
    level = LADDER.length - 1;
    warnings.push(
      `The instance needs about ${estimateTokens(text)} tokens, over its budget of ${budget}, even shortened. Use fewer or shorter rules.`,
    );
  } else if (level > 0) {
    warnings.push(`${capitalise(LADDER_NOTES[level] as string)} to fit ${budget} tokens.`);
  }
  return {
    text,
    labeled,
    labelOf,
    conflicts,
    tokens: estimateTokens(text),
    compaction: level,
    warnings,
  };
}

/** One rule as a line (plus condition lines), as it appears in an instance prompt. */
export function renderRuleLine(
  label: string,
  rule: Rule,
  compaction: Compaction = LADDER[0] as Compaction,
): string {
  const tags = [rule.authority, rule.strength].filter(Boolean).join(', ');
  const lines = [`${label}. [${tags}] ${cut(oneLine(rule.statement), compaction.statementChars)}`];
  const conditions = (list: readonly string[]) =>
    list
      .slice(0, compaction.conditionsPerKind)
      .map((c) => cut(oneLine(c), compaction.conditionChars))
      .filter(Boolean)
      .join('; ');
  const when = compaction.conditionChars > 0 ? conditions(rule.appliesWhen) : '';
  const except = compaction.conditionChars > 0 ? conditions(rule.exceptions) : '';
  if (when) lines.push(`   Applies when: ${when}`);
  if (except) lines.push(`   Except: ${except}`);
  return lines.join('\n');
}

function compose(
  labeled: readonly LabeledRule[],
  labelOf: Record<string, string>,
  conflicts: readonly RuleConflict[],
  options: RenderOptions,
  compaction: Compaction,
): string {
  const parts: string[] = [oneLine(options.preamble ?? DEFAULT_PREAMBLE), '', 'Rules:'];
  for (const stage of STAGE_ORDER) {
    const group = labeled.filter((l) => l.rule.stage === stage);
    if (!group.length) continue;
    parts.push(`${STAGE_TITLES[stage]}:`);
    for (const { label, rule } of group) parts.push(renderRuleLine(label, rule, compaction));
  }
  if (options.priorityNote ?? true) {
    parts.push('', `Priority: ${PRIORITY_NOTE}`);
    if (conflicts.length)
      parts.push(
        `Where these rules pull apart: ${conflicts
          .map((c) => `${labelOf[c.winnerId]} over ${labelOf[c.loserId]}`)
          .join('; ')}.`,
      );
  }
  return parts.join('\n');
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function cut(text: string, chars: number): string {
  if (text.length <= chars) return text;
  const slice = text.slice(0, Math.max(0, chars - 1));
  const space = slice.lastIndexOf(' ');
  return `${(space > chars * 0.6 ? slice.slice(0, space) : slice).trimEnd()}…`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
