import { closeTestDbs, openTestDb } from '../../helpers/db';
import { afterEach, describe, expect, it } from 'vitest';
import type { SpecAlignDb } from '$lib/db/database';
import { sampleAndStoreInstances } from '$lib/worker/instances-service';
import { HARBOR_RULES } from '../core/instances/fixtures';

afterEach(closeTestDbs);

async function seeded(): Promise<SpecAlignDb> {
  const db = await openTestDb();
  await db.rules.bulkAdd(HARBOR_RULES.map((r) => ({ ...r })));
  // One proposed (unreviewed) rule must never be sampled.
  await db.rules.add({ ...HARBOR_RULES[0]!, id: 'unreviewed', status: 'proposed' });
  return db;
}

const config = { count: 4, seed: 11, minSize: 8, maxSize: 13 };

describe('sampleAndStoreInstances', () => {
  it('stores seeded instances of accepted rules with their rendered prompts', async () => {
    const db = await seeded();
    const result = await sampleAndStoreInstances(db, 'p1', 'v1', config);
    expect(result.created).toBe(4);
    const stored = await db.instances.where('specVersionId').equals('v1').sortBy('index');
    expect(stored).toHaveLength(4);
    for (const i of stored) {
      expect(i.ruleIds.length).toBeGreaterThanOrEqual(8);
      expect(i.ruleIds.length).toBeLessThanOrEqual(13);
      expect(i.ruleIds).not.toContain('unreviewed');
      expect(i.systemPrompt).toContain('R1');
    }
    expect(result.maxPromptTokens).toBeGreaterThan(100);
  });

  it('gives the same instances for the same seed, and replaces unpinned ones on re-sampling', async () => {
    const db = await seeded();
    await sampleAndStoreInstances(db, 'p1', 'v1', config);
    const first = await db.instances.where('specVersionId').equals('v1').sortBy('index');
    await sampleAndStoreInstances(db, 'p1', 'v1', config);
    const again = await db.instances.where('specVersionId').equals('v1').sortBy('index');
    expect(again.map((i) => i.ruleIds)).toEqual(first.map((i) => i.ruleIds));

    const keep = first[1]!;
    await db.instances.update(keep.id, { pinned: true });
    const result = await sampleAndStoreInstances(db, 'p1', 'v1', { ...config, seed: 12 });
    expect(result.kept).toBe(1);
    const after = await db.instances.where('specVersionId').equals('v1').toArray();
    expect(after).toHaveLength(5);
    expect(after.find((i) => i.id === keep.id)?.ruleIds).toEqual(keep.ruleIds);
    expect(after.filter((i) => i.id.includes(':s11:'))).toHaveLength(1);
  });

  it('refuses with a clear message when no rule is accepted yet', async () => {
    const db = await openTestDb();
    await expect(sampleAndStoreInstances(db, 'p1', 'v1', config)).rejects.toThrow(
      /No accepted rules yet/,
    );
  });
});
