/**
 * Stale data after a spec update (issue 11 §3, the marking part): pairs, instances and
 * evaluation items that cite a lineage the update reworded or retired no longer reflect the
 * current spec. They are kept and readable, and marked; rows citing only kept lineages are not
 * (an unchanged rule's accepted pairs stay as they are).
 */
import type { StaleMark } from '../records';
import type { SpecUpdatePlan } from './update-plan';

export interface UpdateLineages {
  changed: string[];
  retired: string[];
}

/** The lineages an update plan rewords (changed) and ends (retired), sorted. */
export function updateLineages(plan: SpecUpdatePlan): UpdateLineages {
  const of = (kind: 'changed' | 'retired') =>
    [
      ...new Set(
        plan.entries.flatMap((e) =>
          e.kind === kind && e.old ? [e.old.lineageId ?? e.old.id] : [],
        ),
      ),
    ].sort();
  return { changed: of('changed'), retired: of('retired') };
}

/**
 * The mark for a row citing `lineageIds`, or undefined when none changed or retired. Retired
 * wins over changed: a rule that is gone makes the row wrong, not just dated.
 */
export function staleMarkFor(
  lineageIds: readonly string[] | undefined,
  lineages: UpdateLineages,
  specVersionId: string,
): StaleMark | undefined {
  if (!lineageIds?.length) return undefined;
  const retired = new Set(lineages.retired);
  const changed = new Set(lineages.changed);
  const hitRetired = lineageIds.filter((l) => retired.has(l));
  const hitChanged = lineageIds.filter((l) => changed.has(l));
  if (hitRetired.length)
    return { reason: 'retired', specVersionId, lineageIds: [...hitRetired, ...hitChanged] };
  if (hitChanged.length) return { reason: 'changed', specVersionId, lineageIds: hitChanged };
  return undefined;
}
