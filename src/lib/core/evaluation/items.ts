/**
 * The evaluation items (METHOD.md §5): held-out queries, each with its instance and the rules it
 * tests. They come from the project's pairs exactly as the exported eval set does (same instance
 * split, same marked-eval rule, same per-instance-and-rules dedupe), so the Evaluate screen scores
 * the queries a user would download from Export — or from every pair when the user asks for that
 * (e.g. a project with one instance, which always stays in train).
 */
import type { ChatMessage } from '../llm';
import type { CaseType, PreferencePair, SpecInstance } from '../records';
import { EvalDeduper, evalRow, isMarkedEval } from '../export/eval-set';
import { createExportContext } from '../export/formats';
import { filterPairs } from '../export/select';
import { hashString } from '../hash';
import { createInstanceSplit, DEFAULT_TEST_FRACTION } from '../export/splits';

/** Where the queries come from. */
export type EvalSource = 'test-split' | 'all-pairs';

export interface EvalItemOptions {
  source: EvalSource;
  /** The instance split; the same values as on Export give the same held-out instances. */
  testFraction?: number;
  seed?: number;
  /** Also use unreviewed pairs (default: accepted pairs only, like Export). */
  includePending?: boolean;
  /** Keep at most this many items (in order). */
  maxItems?: number;
}

/** One held-out query to answer and judge. */
export interface EvalItem {
  /** Deterministic: a hash of instance, rules and conversation (the task key). */
  key: string;
  instanceId: string;
  ruleIds: string[];
  caseType: CaseType;
  /** The conversation, ending with the user turn to answer (no system message). */
  messages: ChatMessage[];
  /**
   * The instance prompt from an imported eval set whose instance is not in this project;
   * absent when the project's own instance supplies the prompt.
   */
  system?: string;
}

/**
 * The items of `pairs` under `options`, in pair order (ids break ties), deduplicated.
 * Pairs whose instance no longer exists are skipped: the query needs the instance's prompt.
 */
export function buildEvalItems(
  pairs: readonly PreferencePair[],
  instances: readonly SpecInstance[],
  options: EvalItemOptions,
): EvalItem[] {
  const context = createExportContext(instances);
  const splitOf = createInstanceSplit(context.instances.keys(), {
    testFraction: options.testFraction ?? DEFAULT_TEST_FRACTION,
    seed: options.seed ?? 0,
  });
  const selected = filterPairs({ includePending: options.includePending ?? false });
  const deduper = new EvalDeduper();
  const items: EvalItem[] = [];
  const ordered = [...pairs].sort(
    (a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  for (const pair of ordered) {
    if (!selected(pair) || !context.instances.has(pair.instanceId)) continue;
    if (options.source === 'test-split') {
      if (splitOf(pair.instanceId) !== 'test' && !isMarkedEval(pair)) continue;
    }
    const row = evalRow(pair, context);
    if (!row.messages.length || !deduper.firstTime(row)) continue;
    items.push({
      key: evalItemKey(row.instance_id, row.rule_ids, row.messages),
      instanceId: row.instance_id,
      ruleIds: row.rule_ids,
      caseType: row.case_type,
      messages: row.messages,
    });
    if (options.maxItems !== undefined && items.length >= options.maxItems) break;
  }
  return items;
}

/** A stable key for a query: two 32-bit hashes of instance, sorted rules and messages. */
export function evalItemKey(
  instanceId: string,
  ruleIds: readonly string[],
  messages: readonly ChatMessage[],
): string {
  const text = `${instanceId}\u0000${[...ruleIds].sort().join('\u0001')}\u0000${JSON.stringify(messages)}`;
  return `q:${hashString(text).toString(36)}.${hashString(`~${text}`).toString(36)}`;
}
