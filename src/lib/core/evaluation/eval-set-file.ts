/**
 * Reading an eval set file (METHOD.md §4–5) back as evaluation items: the JSONL the Export step
 * writes (`{"instance_id", "system", "messages", "rule_ids", "case_type"}` per line, see
 * `export/eval-set.ts`), validated line by line against the project it is imported into.
 *
 * Everything is checked before anything is returned: the first bad line throws
 * {@link InvalidFileError} with its line number and what to fix, so a malformed file can never
 * start a run. Unknown keys are ignored (forward compatible). Rows repeating an earlier query
 * (same instance, rules and messages) are skipped and counted, as the export itself dedupes.
 *
 * An instance id this project does not have (e.g. the instances were re-sampled since the export)
 * is fine as long as the row's `system` text is not empty: the item carries that text and is
 * answered and judged under it. Rule ids must be the project's: the judge needs each rule.
 */
import { z } from 'zod';
import { InvalidFileError } from '../errors';
import { describeIssue, describeTruncation } from '../validation-messages';
import type { CaseType } from '../records';
import { evalItemKey, type EvalItem } from './items';

/** The largest file read: its text is held in memory once, with one row object at a time. */
export const MAX_EVAL_SET_BYTES = 50 * 1024 * 1024;

/** What an eval set is validated against: the project it is imported into. */
export interface EvalSetContext {
  /** The project's rule ids. */
  ruleIds: ReadonlySet<string>;
  /** The project's instances: id → the rule ids it holds. */
  instances: ReadonlyMap<string, ReadonlySet<string>>;
}

/** What the Evaluate screen shows before a run starts (and the run's config keeps). */
export interface EvalSetSummary {
  items: number;
  /** Distinct rules tested. */
  rules: number;
  byCaseType: Record<CaseType, number>;
  /** Rows that repeated an earlier query and were skipped. */
  duplicates: number;
  /** Items whose instance is not in this project: they use the file's system prompt. */
  foreignItems: number;
}

export interface ImportedEvalSet {
  items: EvalItem[];
  summary: EvalSetSummary;
}

const CASE_TYPE_VALUES = ['violation', 'borderline', 'benign'] as const satisfies CaseType[];

const rowSchema = z.object({
  instance_id: z.string().min(1),
  system: z.string(),
  messages: z.array(z.object({ role: z.enum(['user', 'assistant']), content: z.string() })).min(1),
  rule_ids: z.array(z.string().min(1)).min(1),
  case_type: z.enum(CASE_TYPE_VALUES),
});
type RowField = keyof z.input<typeof rowSchema>;

/** One message per field, whatever zod found wrong inside it: the user fixes the field. */
const FIELD_PROBLEMS: Record<RowField, string> = {
  instance_id: 'instance_id must be a non-empty string',
  system: 'system must be a string (the instance’s system prompt, or "")',
  messages:
    'messages must be a non-empty array of {"role": "user" or "assistant", "content": text} turns',
  rule_ids: 'rule_ids must be a non-empty array of rule ids',
  case_type: `case_type must be one of ${CASE_TYPE_VALUES.join(', ')}`,
};

/** @throws InvalidFileError when a file of `bytes` is too large to import. */
export function checkEvalSetSize(bytes: number): void {
  if (bytes <= MAX_EVAL_SET_BYTES) return;
  const mb = (n: number) => (n / (1024 * 1024)).toFixed(1);
  throw new InvalidFileError(
    `The file is ${mb(bytes)} MB; eval sets up to ${mb(MAX_EVAL_SET_BYTES)} MB can be imported. Split it into smaller files.`,
  );
}

/**
 * The items of an eval set file, in file order, validated against `context`.
 * Items of this project's instances carry no `system` (the instance's own prompt is used).
 * @throws InvalidFileError naming the first bad line (see the module comment).
 */
export function parseEvalSet(text: string, context: EvalSetContext): ImportedEvalSet {
  const items: EvalItem[] = [];
  const seen = new Set<string>();
  const byCaseType: Record<CaseType, number> = { violation: 0, borderline: 0, benign: 0 };
  const rules = new Set<string>();
  let duplicates = 0;
  let foreignItems = 0;
  const body = text.replace(/^\uFEFF/, '');
  for (const [n, line, start] of linesOf(body)) {
    if (!line.trim()) continue;
    const item = parseLine(line, n, context, () => cutShort(body, line, start));
    if (seen.has(item.key)) {
      duplicates++;
      continue;
    }
    seen.add(item.key);
    items.push(item);
    byCaseType[item.caseType]++;
    for (const id of item.ruleIds) rules.add(id);
    if (item.system !== undefined) foreignItems++;
  }
  if (!items.length) throw new InvalidFileError('The file is empty.');
  return {
    items,
    summary: { items: items.length, rules: rules.size, byCaseType, duplicates, foreignItems },
  };
}

/** The lines of `text` with their 1-based numbers and start offsets, one at a time. */
function* linesOf(text: string): Generator<[number, string, number]> {
  let n = 0;
  for (let start = 0; start <= text.length;) {
    const end = text.indexOf('\n', start);
    const stop = end === -1 ? text.length : end;
    yield [++n, text.slice(start, text[stop - 1] === '\r' ? stop - 1 : stop), start];
    start = stop + 1;
  }
}

/** For a last line that stops mid-row: where the file ends, in bytes; else undefined. */
function cutShort(text: string, line: string, start: number): string | undefined {
  if (start + line.length < text.trimEnd().length) return undefined;
  if (!describeTruncation(line)) return undefined;
  const bytes = new TextEncoder().encode(text).byteLength;
  return `the file ends early (truncated at byte ${bytes.toLocaleString('en-US')})`;
}

function parseLine(
  line: string,
  n: number,
  context: EvalSetContext,
  truncation: () => string | undefined,
): EvalItem {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    const truncated = truncation();
    throw new InvalidFileError(
      truncated
        ? `Line ${n} is cut short: ${truncated}. Export the eval set again, or use the complete copy.`
        : `Line ${n} is not valid JSON.`,
    );
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new InvalidFileError(
      `Line ${n} is not an eval set row: expected a JSON object with instance_id, system, messages, rule_ids and case_type.`,
    );
  const parsed = rowSchema.safeParse(data);
  if (!parsed.success) {
    const fields = new Set(parsed.error.issues.map((issue) => issue.path[0] as RowField));
    const problems = (Object.keys(FIELD_PROBLEMS) as RowField[])
      .filter((field) => fields.has(field))
      .map((field) => FIELD_PROBLEMS[field]);
    // A field's own message says what it must be; inside a field, also say where it broke.
    const first = parsed.error.issues[0];
    const where = first && first.path.length > 1 ? ` (${describeIssue(first, data)})` : '';
    throw new InvalidFileError(`Line ${n}: ${problems.join('; ')}${where}.`);
  }
  const row = parsed.data;
  if (row.messages.at(-1)?.role !== 'user')
    throw new InvalidFileError(
      `Line ${n}: the last of messages must be a user turn (the query the model answers).`,
    );
  const repeated = row.rule_ids.find((id, i) => row.rule_ids.indexOf(id) !== i);
  if (repeated !== undefined)
    throw new InvalidFileError(`Line ${n}: rule_ids lists ${repeated} twice.`);
  const unknown = row.rule_ids.filter((id) => !context.ruleIds.has(id));
  if (unknown.length)
    throw new InvalidFileError(
      `Line ${n} refers to rules not in this project: ${unknown.join(', ')} (the eval set was exported from another project?)`,
    );
  const instanceRules = context.instances.get(row.instance_id);
  if (instanceRules) {
    const outside = row.rule_ids.filter((id) => !instanceRules.has(id));
    if (outside.length)
      throw new InvalidFileError(
        `Line ${n}: instance ${row.instance_id} does not hold the rules ${outside.join(', ')}.`,
      );
  } else if (!row.system.trim()) {
    throw new InvalidFileError(
      `Line ${n}: instance ${row.instance_id} is not in this project and system is empty, so there is no prompt to evaluate the query under.`,
    );
  }
  return {
    key: evalItemKey(row.instance_id, row.rule_ids, row.messages),
    instanceId: row.instance_id,
    ruleIds: row.rule_ids,
    caseType: row.case_type,
    messages: row.messages,
    ...(instanceRules ? {} : { system: row.system }),
  };
}
