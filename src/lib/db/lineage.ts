/** Reading rule lineages (issue 11 §1) for rows that cite rules. */
import { lineageMap, lineagesOf } from '$lib/core/rules/lineage';
import type { SpecAlignDb } from './database';

/** rule id → lineage id for `ruleIds` (a rule that no longer exists is its own lineage). */
export async function lookupLineages(
  db: SpecAlignDb,
  ruleIds: Iterable<string>,
): Promise<Map<string, string>> {
  const ids = [...new Set(ruleIds)];
  const found = await db.rules.bulkGet(ids);
  return lineageMap(found.filter((r) => r !== undefined));
}

/** The lineage ids of `ruleIds`, in order. */
export async function lineageIdsOf(db: SpecAlignDb, ruleIds: readonly string[]): Promise<string[]> {
  return lineagesOf(ruleIds, await lookupLineages(db, ruleIds));
}
