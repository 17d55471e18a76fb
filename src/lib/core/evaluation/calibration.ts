/**
 * Judge calibration (METHOD.md §5, ours): the spec's own worked examples are gold labels for the
 * safety judge. A GOOD (or OK) reply is gold "complied", a BAD reply gold "violated".
 *
 * Mapping an example to rules (documented method choice):
 * - a reply is checked against the rules annotated from the section the spec cites for its
 *   verdict (`<!-- BAD[#anchor] -->`), else from the example's own section; rejected rules never
 *   count; a reply whose section has no rule is left out (counted as `unmapped`);
 * - the judge sees those rules rendered as an instance prompt, the example's conversation and the
 *   reply, and judges them all in one checklist call (a verdict per rule); the spec's examples
 *   are never shown to the judge here (they are the answers);
 * - the judge's reply-level prediction is "violated" when it finds any mapped rule violated, else
 *   "complied". Agreement compares that with the gold label (a BAD reply breaks *some* rule of
 *   its section, not necessarily each one, so per-rule gold labels would be wrong).
 */
import type { ChatMessage } from '../llm';
import type { Rule, SpecExample } from '../records';
import { labelInstanceRules, renderInstancePrompt } from '../instances/render';

export type GoldVerdict = 'complied' | 'violated';

/** One reply of a worked example, to be judged. */
export interface CalibrationItem {
  key: string;
  exampleId: string;
  title: string;
  gold: GoldVerdict;
  reply: string;
  conversation: ChatMessage[];
  instancePrompt: string;
  /** The mapped rules (labels and ids): one checklist call judges them all. */
  rules: { label: string; ruleId: string }[];
}

export interface CalibrationPlan {
  items: CalibrationItem[];
  /** Replies whose section has no rule. */
  unmapped: number;
}

/** Plans calibration items from a spec version's examples and rules. */
export function buildCalibrationItems(
  examples: readonly SpecExample[],
  rules: readonly Rule[],
): CalibrationPlan {
  const bySection = new Map<string, Rule[]>();
  for (const rule of rules) {
    if (rule.status === 'rejected') continue;
    const list = bySection.get(rule.sectionAnchor) ?? [];
    list.push(rule);
    bySection.set(rule.sectionAnchor, list);
  }
  const items: CalibrationItem[] = [];
  let unmapped = 0;
  const ordered = [...examples].sort(
    (a, b) => a.order - b.order || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  for (const example of ordered) {
    const { conversation, developer } = exampleConversation(example);
    example.comparisons.forEach((comparison, index) => {
      const cited = comparison.citedAnchor ? bySection.get(comparison.citedAnchor) : undefined;
      const mapped = cited?.length ? cited : bySection.get(example.sectionAnchor);
      if (!mapped?.length || !comparison.content.trim() || !conversation.length) {
        unmapped++;
        return;
      }
      const labeled = labelInstanceRules(mapped).map((l) => ({
        label: l.label,
        ruleId: l.rule.id,
      }));
      const rendered = renderInstancePrompt(mapped).text;
      items.push({
        key: `cal:${example.id}:${index}`,
        exampleId: example.id,
        title: example.title ?? `Example ${example.order + 1} in #${example.sectionAnchor}`,
        gold: comparison.verdict === 'bad' ? 'violated' : 'complied',
        reply: comparison.content,
        conversation,
        instancePrompt: developer.length
          ? `${rendered}\n\nInstructions from the developer or system:\n${developer.join('\n')}`
          : rendered,
        rules: labeled,
      });
    });
  }
  return { items, unmapped };
}

/**
 * The example's turns as a chat: user and assistant turns as they are; system and developer
 * turns become instructions for the prompt; tool output is shown as a user-side note.
 */
function exampleConversation(example: SpecExample): {
  conversation: ChatMessage[];
  developer: string[];
} {
  const conversation: ChatMessage[] = [];
  const developer: string[] = [];
  for (const turn of example.turns) {
    if (turn.role === 'user' || turn.role === 'assistant')
      conversation.push({ role: turn.role, content: turn.content });
    else if (turn.role === 'tool')
      conversation.push({ role: 'user', content: `[tool output] ${turn.content}` });
    else developer.push(turn.content);
  }
  return { conversation, developer };
}

/** One judged reply. */
export interface CalibrationResult {
  key: string;
  gold: GoldVerdict;
  predicted: GoldVerdict;
  /** The judge model (engine id) that judged it. */
  judge: string;
}

/** Agreement of a judge with the gold labels; "positive" means violated. */
export interface CalibrationSummary {
  n: number;
  agree: number;
  /** agree / n; undefined with no item. */
  accuracy?: number;
  /** Cohen's kappa (agreement beyond chance); undefined when chance agreement is 1. */
  kappa?: number;
  confusion: {
    /** gold violated, judged violated */
    truePositive: number;
    /** gold violated, judged complied */
    falseNegative: number;
    /** gold complied, judged violated */
    falsePositive: number;
    /** gold complied, judged complied */
    trueNegative: number;
  };
}

/** Agreement of one set of results. */
export function summariseCalibration(results: readonly CalibrationResult[]): CalibrationSummary {
  const c = { truePositive: 0, falseNegative: 0, falsePositive: 0, trueNegative: 0 };
  for (const r of results) {
    if (r.gold === 'violated') c[r.predicted === 'violated' ? 'truePositive' : 'falseNegative']++;
    else c[r.predicted === 'violated' ? 'falsePositive' : 'trueNegative']++;
  }
  const n = results.length;
  const agree = c.truePositive + c.trueNegative;
  const out: CalibrationSummary = { n, agree, confusion: c };
  if (n === 0) return out;
  out.accuracy = agree / n;
  const goldV = (c.truePositive + c.falseNegative) / n;
  const predV = (c.truePositive + c.falsePositive) / n;
  const chance = goldV * predV + (1 - goldV) * (1 - predV);
  if (chance < 1) out.kappa = (out.accuracy - chance) / (1 - chance);
  return out;
}

/** Agreement per judge model (engine id). */
export function calibrationByJudge(
  results: readonly CalibrationResult[],
): Record<string, CalibrationSummary> {
  const groups: Record<string, CalibrationResult[]> = {};
  for (const r of results) (groups[r.judge] ??= []).push(r);
  return Object.fromEntries(
    Object.entries(groups).map(([judge, rs]) => [judge, summariseCalibration(rs)]),
  );
}
