/**
 * Rule labels (R1, R2, …) read back from an instance prompt that is only known as text — the
 * `system` of an imported eval set row whose instance is not in this project.
 *
 * Why: the safety judge sees the whole prompt and is asked about "R3"; if R3 in the prompt were
 * a different rule from the one judged, a small judge would mix them up. So each rule takes the
 * label of the prompt line that states it (`R3. [root, must] statement`, tags optional; a
 * statement shortened with "…" to fit the budget matches by its beginning). A rule the prompt
 * does not state gets a label after the prompt's highest, so it never collides with another rule.
 */
import type { Rule } from '../records';

const RULE_LINE = /^[ \t]*R(\d+)\.[ \t]+(?:\[[^\]\n]*\][ \t]*)?(.+)$/gm;

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Whether a prompt line's text states `statement` (in full, or shortened with "…"). */
function states(text: string, statement: string): boolean {
  if (text === statement) return true;
  const shortened = text.endsWith('…') ? text.slice(0, -1).trimEnd() : '';
  return shortened !== '' && statement.startsWith(shortened);
}

/** Rule id → label for `rules`, as `prompt` numbers them (see the module comment). */
export function labelRulesFromPrompt(prompt: string, rules: readonly Rule[]): Map<string, string> {
  const lines = [...prompt.matchAll(RULE_LINE)].map((m) => ({
    number: Number(m[1]),
    text: oneLine(m[2] ?? ''),
  }));
  const labels = new Map<string, string>();
  const taken = new Set<number>();
  for (const rule of rules) {
    const statement = oneLine(rule.statement);
    const line = lines.find(({ number, text }) => !taken.has(number) && states(text, statement));
    if (!line) continue;
    taken.add(line.number);
    labels.set(rule.id, `R${line.number}`);
  }
  let next = Math.max(0, ...lines.map((l) => l.number));
  for (const rule of rules) if (!labels.has(rule.id)) labels.set(rule.id, `R${++next}`);
  return labels;
}
