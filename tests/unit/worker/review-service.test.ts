import { closeTestDbs, openTestDb } from '../../helpers/db';
import { afterEach, describe, expect, it } from 'vitest';
import type { PairStatus, PreferencePair } from '$lib/core/records';
import type { SpecAlignDb } from '$lib/db/database';
import { setPairStatus } from '$lib/db/pairs';
import { countBulkDecision, ReviewDecisions } from '$lib/worker/review-service';

afterEach(closeTestDbs);

/** Four pairs: one per status, as a reviewer leaves them mid-review. */
async function seed(db: SpecAlignDb): Promise<string[]> {
  const statuses: PairStatus[] = ['pending', 'rejected', 'flagged', 'accepted'];
  const pairs = statuses.map(
    (status, i) =>
      ({
        id: `pair-${status}`,
        projectId: 'p',
        runId: 'r',
        instanceId: 'i',
        ruleIds: [],
        caseType: 'compliance',
        prompt: `prompt ${i}`,
        chosen: 'good',
        rejected: 'bad',
        status,
        createdAt: i,
        provenance: {},
      }) as unknown as PreferencePair,
  );
  await db.pairs.bulkAdd(pairs);
  return pairs.map((p) => p.id);
}

async function statuses(db: SpecAlignDb): Promise<Record<string, PairStatus>> {
  return Object.fromEntries((await db.pairs.toArray()).map((p) => [p.id, p.status]));
}

describe('bulk decisions', () => {
  it('change only pending pairs by default: a rejected or flagged pair keeps its decision', async () => {
    const db = await openTestDb();
    const ids = await seed(db);
    const decision = { ids, status: 'accepted' as const };
    expect(await countBulkDecision(db, decision)).toBe(1);
    const result = await new ReviewDecisions(db).decide(decision);
    expect(result.changed).toBe(1);
    expect(await statuses(db)).toEqual({
      'pair-pending': 'accepted',
      'pair-rejected': 'rejected',
      'pair-flagged': 'flagged',
      'pair-accepted': 'accepted',
    });
  });

  it('change decided pairs too when asked, counting only pairs whose status changes', async () => {
    const db = await openTestDb();
    const ids = await seed(db);
    const decision = { ids, status: 'accepted' as const, includeDecided: true };
    expect(await countBulkDecision(db, decision)).toBe(3);
    expect((await new ReviewDecisions(db).decide(decision)).changed).toBe(3);
    expect(Object.values(await statuses(db))).toEqual([
      'accepted',
      'accepted',
      'accepted',
      'accepted',
    ]);
  });

  it('ignore ids that no longer exist and report nothing to undo when nothing changes', async () => {
    const db = await openTestDb();
    await seed(db);
    const result = await new ReviewDecisions(db).decide({
      ids: ['gone', 'pair-accepted'],
      status: 'accepted',
    });
    expect(result).toEqual({ changed: 0 });
  });

  it('undo restores each pair’s previous status, but keeps a later hand decision', async () => {
    const db = await openTestDb();
    const ids = await seed(db);
    const before = await statuses(db);
    const decisions = new ReviewDecisions(db);
    const { batchId, changed } = await decisions.decide({
      ids,
      status: 'rejected',
      includeDecided: true,
    });
    expect(changed).toBe(3);
    // The reviewer flags one pair by hand after the bulk action: undo must not overwrite that.
    await setPairStatus(db, ['pair-accepted'], 'flagged');
    expect(await decisions.undo(batchId!)).toBe(2);
    expect(await statuses(db)).toEqual({ ...before, 'pair-accepted': 'flagged' });
    await expect(decisions.undo(batchId!)).rejects.toThrow(/can no longer be undone/);
  });
});
