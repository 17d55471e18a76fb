/**
 * Spec instances in the database (METHOD.md §2): sampling from the accepted rules of a version,
 * rendered prompts stored with each instance. Re-sampling replaces the unpinned instances and
 * keeps the pinned ones, so a user can hold on to instances they like.
 */
import { materializeInstance, sampleInstances, type SampleConfig } from '$lib/core/instances';
import type { SpecInstance } from '$lib/core/records';
import type { SpecAlignDb } from '$lib/db/database';
import { guardStorage } from '$lib/db/errors';

export interface SampleInstancesResult {
  created: number;
  kept: number;
  warnings: string[];
  /** Accepted rules that ended up in no instance. */
  unusedRules: number;
  /** Largest rendered system prompt, in estimated tokens. */
  maxPromptTokens: number;
}

export async function sampleAndStoreInstances(
  db: SpecAlignDb,
  projectId: string,
  specVersionId: string,
  config: SampleConfig,
): Promise<SampleInstancesResult> {
  const rules = (await db.rules.where('specVersionId').equals(specVersionId).toArray()).filter(
    (r) => r.status === 'accepted',
  );
  if (rules.length === 0) {
    throw new Error(
      'No accepted rules yet: accept rules on the Rules step, then sample instances.',
    );
  }
  const existing = await db.instances.where('specVersionId').equals(specVersionId).toArray();
  const pinned = existing.filter((i) => i.pinned);
  const sample = sampleInstances(rules, config);
  const byId = new Map(rules.map((r) => [r.id, r]));
  const now = Date.now();
  const warnings = [...sample.warnings];
  let maxPromptTokens = 0;
  const created: SpecInstance[] = sample.instances.map((draft) => {
    const { instance, rendered } = materializeInstance(draft, byId, {
      id: `${specVersionId}:s${config.seed}:${draft.index}`,
      projectId,
      specVersionId,
      createdAt: now,
    });
    maxPromptTokens = Math.max(maxPromptTokens, rendered.tokens);
    warnings.push(...draft.warnings.map((w) => `Instance ${draft.index + 1}: ${w}`));
    warnings.push(...rendered.warnings.map((w) => `Instance ${draft.index + 1}: ${w}`));
    // Index after the pinned ones, so numbering stays readable.
    return { ...instance, index: pinned.length + draft.index };
  });
  const pinnedIds = new Set(pinned.map((i) => i.id));
  await guardStorage(() =>
    db.transaction('rw', db.instances, async () => {
      await db.instances.bulkDelete(existing.filter((i) => !i.pinned).map((i) => i.id));
      await db.instances.bulkPut(created.filter((i) => !pinnedIds.has(i.id)));
    }),
  );
  return {
    created: created.length,
    kept: pinned.length,
    warnings,
    unusedRules: sample.unusedRuleIds.length,
    maxPromptTokens,
  };
}
