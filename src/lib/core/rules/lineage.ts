/**
 * Rule lineage (issue 11 §1): the identity of "the same rule" across spec versions. A rule
 * annotated for the first time starts its own lineage, whose id is the rule's own id (so a
 * project file's id remapping keeps lineages consistent, and the schema upgrade is
 * deterministic); a rule carried to the next version, or re-annotated and matched to its old
 * self, keeps the old rule's lineage id. Rows that cite rules (instances, synthesis and
 * evaluation tasks, pairs) cite their lineages in a parallel array.
 */
import type { Rule } from '../records';

/** A rule's lineage id; a rule written before lineages existed is its own lineage. */
export function lineageOf(rule: Pick<Rule, 'id' | 'lineageId'>): string {
  return rule.lineageId ?? rule.id;
}

/**
 * The lineage ids of `ruleIds`, in order, through `lineageById` (rule id → lineage id). A rule
 * that is not there any more (deleted after a pair cited it) is its own lineage, as it was
 * when it was written.
 */
export function lineagesOf(
  ruleIds: readonly string[],
  lineageById: ReadonlyMap<string, string>,
): string[] {
  return ruleIds.map((id) => lineageById.get(id) ?? id);
}

/** rule id → lineage id over `rules`. */
export function lineageMap(rules: Iterable<Pick<Rule, 'id' | 'lineageId'>>): Map<string, string> {
  const map = new Map<string, string>();
  for (const r of rules) map.set(r.id, lineageOf(r));
  return map;
}
