/**
 * One spec version per dataset (issue 11 §6): an export reflects one version, the project's
 * latest. A pair made on that version belongs to it. A pair made on an earlier version belongs to
 * it only when every rule it tests carried over (its lineage is held by the export version): an
 * update keeps an unchanged rule's accepted pairs as they are, with their origin version. A pair
 * citing a lineage the export version does not hold — e.g. v2 was imported and annotated afresh
 * instead of updated from v1, so none of v1's rules are v2's — would mix versions: the export
 * leaves it out and says how many (pairs a confirmed update retired are *stale* instead, see
 * core/rules/stale.ts). A pair whose origin is unknown (an old import without instance or
 * provenance) cannot be judged and is kept, as before.
 */
import type { PreferencePair, SpecInstance } from '../records';

/** How a pair relates to the export's version. */
export type VersionFit = 'same' | 'carried' | 'other' | 'unknown';

/** The version a pair was made on: its instance's, else its provenance's; undefined if unknown. */
export function pairOriginVersion(
  pair: Pick<PreferencePair, 'instanceId' | 'provenance'>,
  instances: ReadonlyMap<string, Pick<SpecInstance, 'specVersionId'>>,
): string | undefined {
  const fromInstance = instances.get(pair.instanceId)?.specVersionId;
  if (fromInstance) return fromInstance;
  const recorded = pair.provenance.specVersionId;
  return typeof recorded === 'string' ? recorded : undefined;
}

/**
 * The fit of each pair to the export version `versionId`, whose rules hold `lineages`. A pair
 * without `lineageIds` (written before lineages) cites its rule ids, each its own lineage.
 */
export function versionFit(
  versionId: string,
  lineages: ReadonlySet<string>,
  instances: ReadonlyMap<string, Pick<SpecInstance, 'specVersionId'>>,
): (
  pair: Pick<PreferencePair, 'instanceId' | 'provenance' | 'ruleIds' | 'lineageIds'>,
) => VersionFit {
  return (pair) => {
    const origin = pairOriginVersion(pair, instances);
    if (origin === undefined) return 'unknown';
    if (origin === versionId) return 'same';
    const cited = pair.lineageIds?.length ? pair.lineageIds : pair.ruleIds;
    return cited.every((l) => lineages.has(l)) ? 'carried' : 'other';
  };
}
