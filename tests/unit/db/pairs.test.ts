import { closeTestDbs, openTestDb } from '../../helpers/db';
import { afterEach, describe, expect, it } from 'vitest';
import { editPairText, setPairStatus } from '$lib/db/pairs';
import { buildProjectRows } from '../../helpers/project-rows';

afterEach(closeTestDbs);

describe('pair review writes', () => {
  it('sets the status of many pairs and ignores missing ids', async () => {
    const db = await openTestDb();
    const template = buildProjectRows().pairs[0]!;
    const ids = Array.from({ length: 2500 }, (_, i) => `p${i}`);
    await db.pairs.bulkAdd(ids.map((id) => ({ ...template, id, status: 'pending' as const })));
    await setPairStatus(db, [...ids, 'missing'], 'rejected');
    const all = await db.pairs.toArray();
    expect(all.every((p) => p.status === 'rejected')).toBe(true);
    expect(await db.pairs.count()).toBe(2500);
  });

  it('edits a text and keeps the model original once', async () => {
    const db = await openTestDb();
    const pair = buildProjectRows().pairs[0]!;
    await db.pairs.add(pair);
    await editPairText(db, pair.id, 'chosen', 'First edit.');
    await editPairText(db, pair.id, 'chosen', 'Second edit.');
    const stored = await db.pairs.get(pair.id);
    expect(stored?.chosen).toBe('Second edit.');
    expect(stored?.rejected).toBe(pair.rejected);
    expect(stored?.provenance.review).toMatchObject({ original: { chosen: pair.chosen } });
    expect(stored?.provenance.attacker).toBe('webllm:Qwen');
  });
});
