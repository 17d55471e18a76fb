/**
 * Schema v3's upgrade (issue 11 §1: rule lineage). Every existing rule starts its own lineage,
 * its id being the rule's id (deterministic: upgrading the same data twice gives the same ids);
 * instances, pairs and the tasks that cite rules (synthesis tasks, RCS evaluation tasks) get the
 * lineage ids of their rules in a parallel `lineageIds` array. Nothing else changes.
 */
import type { Transaction } from 'dexie';
import { lineagesOf } from '$lib/core/rules/lineage';

interface LegacyRule {
  id: string;
  lineageId?: string;
}
interface CitingRow {
  ruleIds?: unknown;
  lineageIds?: string[];
}
interface LegacyTask {
  state?: {
    task?: { ruleId?: unknown };
    item?: { ruleIds?: unknown };
  };
  lineageIds?: string[];
}

const strings = (v: unknown): string[] | undefined =>
  Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;

/** The rule ids a task cites: a synthesis task's one rule, an RCS task's item rules. */
function taskRuleIds(task: LegacyTask): string[] | undefined {
  const ruleId = task.state?.task?.ruleId;
  if (typeof ruleId === 'string') return [ruleId];
  return strings(task.state?.item?.ruleIds);
}

export async function upgradeToLineage(tx: Transaction): Promise<void> {
  const lineage = new Map<string, string>();
  await tx
    .table('rules')
    .toCollection()
    .modify((r: LegacyRule) => {
      r.lineageId ??= r.id;
      lineage.set(r.id, r.lineageId);
    });
  const cite = (row: CitingRow) => {
    const ids = strings(row.ruleIds);
    if (ids && !row.lineageIds) row.lineageIds = lineagesOf(ids, lineage);
  };
  await tx.table('instances').toCollection().modify(cite);
  await tx.table('pairs').toCollection().modify(cite);
  await tx
    .table('tasks')
    .toCollection()
    .modify((t: LegacyTask) => {
      const ids = taskRuleIds(t);
      if (ids && !t.lineageIds) t.lineageIds = lineagesOf(ids, lineage);
    });
}
