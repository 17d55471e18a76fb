/**
 * The eval set (METHOD.md §4–5): held-out queries per instance with the rules they test, for the
 * Rule Compliance Score. A row is a query, not an answer: the target model writes its own reply
 * and the judges check it against `rule_ids` under the instance's `system` prompt.
 *
 * Which pairs supply queries: those of instances in the **test split** (the same instance split
 * as the dataset export, so train never sees them) and pairs **marked eval** by synthesis
 * (`provenance.split === 'eval'` or `provenance.eval === true`). Marked pairs are held out of
 * every training file. Several pairs can share one query: a query is written once per instance and
 * set of rules.
 */
import type { ChatMessage } from '../llm';
import type { CaseType, PreferencePair } from '../records';
import { promptParts } from './conversation';
import type { ExportContext } from './formats';
import { hashString } from '../hash';

/** One line of the eval set: `{"instance_id", "system", "messages", "rule_ids", "case_type"}`. */
export interface EvalRow {
  instance_id: string;
  /** The instance's system prompt (`""` when unknown). */
  system: string;
  /** The query: the conversation turns, ending with the user turn to answer. */
  messages: ChatMessage[];
  rule_ids: string[];
  case_type: CaseType;
}

/** Whether synthesis marked the pair as an evaluation query (held out of training files). */
export function isMarkedEval(pair: PreferencePair): boolean {
  const p = pair.provenance;
  return p.split === 'eval' || p.eval === true;
}

/** The eval row of a pair. */
export function evalRow(pair: PreferencePair, context: ExportContext): EvalRow {
  const parts = promptParts(pair, context.instances.get(pair.instanceId));
  return {
    instance_id: pair.instanceId,
    system: parts.system ?? '',
    messages: parts.turns,
    rule_ids: [...pair.ruleIds],
    case_type: pair.caseType,
  };
}

/**
 * Remembers which (instance, query) rows were written, as two independent 32-bit hashes per row
 * (about 16 bytes per held-out query; a false duplicate needs both hashes to collide).
 */
export class EvalDeduper {
  readonly #seen = new Set<string>();

  /** True the first time a row's instance, rules and messages are seen. */
  firstTime(row: EvalRow): boolean {
    const rules = [...row.rule_ids].sort().join('\u0001');
    const text = `${row.instance_id}\u0000${rules}\u0000${JSON.stringify(row.messages)}`;
    const key = `${hashString(text).toString(36)}.${hashString(`~${text}`).toString(36)}`;
    if (this.#seen.has(key)) return false;
    this.#seen.add(key);
    return true;
  }
}
