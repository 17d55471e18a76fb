/**
 * Reading the safety judge's checklist prompt and writing its reply, for scripted judges in unit
 * and e2e tests (no imports: the Playwright side loads it too).
 *
 * The prompt names every label on a `Checklist: R1, R2, …` line and the rules the conversation
 * tests on a `Written to test: …` line (absent in calibration); the reply is a `checks` object
 * with exactly those labels. The instance prompt with the rule lines opens the system message
 * (core/synthesis/agents/prompt-layout.ts).
 */

/** Rule labels listed on the line `name: R1, R2, …` of a prompt ([] when there is none). */
export function listAfter(user: string, name: string): string[] {
  const list = new RegExp(`^${name}: ((?:R\\d+(?:, )?)+)`, 'm').exec(user)?.[1] ?? '';
  return list.match(/R\d+/g) ?? [];
}

/** What a scripted judge needs from a checklist prompt. */
export interface ChecklistPrompt {
  /** Every label the reply must judge, in order. */
  labels: string[];
  /** Labels the conversation was written to test ([] in calibration: judge them all). */
  focus: string[];
  /** The rule line (`R3. [root, must] …`) of a label, from the instance prompt (system message). */
  line(label: string): string;
  /** The reply under judgement. */
  reply: string;
}

export function readChecklistPrompt(user: string, system = ''): ChecklistPrompt {
  // The instance is what precedes the judge's marker in the system message.
  const prompt = system.split('\n\n[agent: ')[0] ?? '';
  const lines = prompt.split('\n');
  return {
    labels: listAfter(user, 'Checklist'),
    focus: listAfter(user, 'Written to test'),
    line: (label) => lines.find((l) => l.trimStart().startsWith(`${label}. `)) ?? '',
    reply: /The assistant’s reply to judge:\n"""\n([\s\S]*?)\n"""/.exec(user)?.[1] ?? '',
  };
}

/** One rule's verdict in a scripted reply. */
export interface ScriptedCheck {
  verdict: 'complied' | 'violated' | 'not-applicable';
  evidence?: string;
  rationale?: string;
}

/** The checklist reply JSON: `check(label)` for every label. */
export function checklistReply(
  labels: readonly string[],
  check: (label: string) => ScriptedCheck,
  overRefusal = false,
): string {
  const checks = Object.fromEntries(
    labels.map((label) => {
      const c = check(label);
      return [
        label,
        { evidence: c.evidence ?? '', rationale: c.rationale ?? 'Checked.', verdict: c.verdict },
      ];
    }),
  );
  return JSON.stringify({ checks, overRefusal });
}
