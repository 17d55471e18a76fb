/**
 * Stale pairs and dataset versions in the export (issue 11 §3–4): stale pairs are left out unless
 * asked for and counted; every full export is recorded; the next card carries a changelog; a
 * delta export holds just the pairs added and retired since a chosen earlier export.
 */
import { closeTestDbs, openTestDb } from '../../helpers/db';
import { afterEach, describe, expect, it } from 'vitest';
import { strFromU8, unzipSync } from 'fflate';
import type { PreferencePair, StaleMark } from '$lib/core/records';
import type { SpecAlignDb } from '$lib/db/database';
import {
  countExportSelection,
  exportDataset,
  listExportRecords,
  listExportSummaries,
} from '$lib/worker/export-service';
import { findPairIds } from '$lib/worker/pairs-service';
import { buildProjectRows } from '../../helpers/project-rows';

afterEach(closeTestDbs);

const STALE: StaleMark = { reason: 'retired', specVersionId: 'sv-next', lineageIds: ['gone'] };

/** A project with accepted pairs p0…p{n-1} (query `q{i}`); the ones in `stale` are marked stale. */
async function seeded(n: number, stale: number[] = []) {
  const db = await openTestDb();
  const rows = buildProjectRows('Versions');
  const template = rows.pairs[0]!;
  const pairs: PreferencePair[] = Array.from({ length: n }, (_, i) => ({
    ...template,
    id: `p${i}`,
    prompt: [{ role: 'user', content: `q${i}` }],
    chosen: `good ${i}`,
    rejected: `bad ${i}`,
    status: 'accepted',
    createdAt: 1_000 + i,
    ...(stale.includes(i) ? { stale: STALE } : {}),
  }));
  await db.projects.add(rows.project);
  await db.specVersions.bulkAdd(rows.specVersions);
  await db.rules.bulkAdd(rows.rules);
  await db.instances.bulkAdd(rows.instances);
  await db.pairs.bulkAdd(pairs);
  return { db, projectId: rows.project.id, rows };
}

const jsonl = {
  kind: 'pairs',
  format: 'trl-standard',
  includePending: false,
  provenance: false,
  includeSystem: false,
} as const;
const hf = {
  ...jsonl,
  kind: 'hf',
  testFraction: 0,
  seed: 1,
  license: 'mit',
} as const;

const queries = async (blob: Blob) =>
  (await blob.text())
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { prompt: string }).prompt);

async function readme(db: SpecAlignDb, projectId: string, includeStale = false) {
  const result = await exportDataset(db, projectId, { ...hf, includeStale });
  const files = unzipSync(new Uint8Array(await result.blob.arrayBuffer()));
  return { result, card: strFromU8(files['README.md']!) };
}

describe('stale pairs', () => {
  it('are filtered in Review (stale / current) and counted for the Export screen', async () => {
    const { db, projectId } = await seeded(4, [1, 3]);
    expect(await findPairIds(db, projectId, { currency: 'stale' })).toEqual(['p1', 'p3']);
    expect(await findPairIds(db, projectId, { currency: 'current' })).toEqual(['p0', 'p2']);
    expect(await findPairIds(db, projectId, {})).toHaveLength(4);
    expect(await countExportSelection(db, projectId, ['accepted'])).toMatchObject({
      stale: 2,
      pairs: 4,
    });
  });

  it('are left out of exports by default, counted, and included on request', async () => {
    const { db, projectId } = await seeded(4, [1, 3]);
    const plain = await exportDataset(db, projectId, jsonl);
    expect(await queries(plain.blob)).toEqual(['q0', 'q2']);
    expect(plain.stale).toEqual({ count: 2, included: false });
    const all = await exportDataset(db, projectId, { ...jsonl, includeStale: true });
    expect(await queries(all.blob)).toEqual(['q0', 'q1', 'q2', 'q3']);
    expect(all.stale).toEqual({ count: 2, included: true });
  });

  it('are stated on the dataset card: excluded, or included', async () => {
    const { db, projectId } = await seeded(3, [2]);
    const left = await readme(db, projectId);
    expect(left.card).toContain(
      '1 pair marked stale (a spec update changed or retired a rule they test) was excluded.',
    );
    const kept = await readme(db, projectId, true);
    expect(kept.card).toContain('This dataset includes 1 pair marked stale');
  });
});

describe('dataset versions', () => {
  it('records each full export with its spec version, and the card carries a changelog', async () => {
    const { db, projectId, rows } = await seeded(3);
    const first = await readme(db, projectId);
    expect(first.result.fileName).toBe('versions-v2-dpo-standard-dataset.zip');
    expect(first.card).toContain('version 2');
    expect(first.card).toContain('First export of this project');

    // Since: p1 rejected (retired), p3 and p4 new, one rule reworded, one retired, one added.
    await db.pairs.update('p1', { status: 'rejected' });
    await db.pairs.bulkAdd(
      ['p3', 'p4'].map((id, i) => ({
        ...rows.pairs[0]!,
        id,
        prompt: [{ role: 'user' as const, content: id }],
        status: 'accepted' as const,
        createdAt: 2_000 + i,
      })),
    );
    const [privacy, honesty] = rows.rules;
    await db.rules.update(privacy!.id, { statement: 'Never reveal anyone’s personal data.' });
    await db.rules.update(honesty!.id, { status: 'rejected' });
    await db.rules.add({ ...honesty!, id: 'new-rule', lineageId: 'new-rule' });
    const second = await readme(db, projectId);
    expect(second.card).toContain(`Since the previous export, \`${first.result.fileName}\` of`);
    expect(second.card).toContain('- Rules: 1 added, 1 changed, 1 retired.');
    expect(second.card).toContain('- Pairs: 2 pairs added, 1 pair retired.');

    const history = await listExportRecords(db, projectId);
    expect(history.map((r) => [r.kind, r.specVersionNumber, r.pairIds])).toEqual([
      ['hf', 2, ['p0', 'p1', 'p2']],
      ['hf', 2, ['p0', 'p2', 'p3', 'p4']],
    ]);
    expect((await listExportSummaries(db, projectId)).map((s) => s.pairs)).toEqual([4, 3]);
  });

  it('does not record eval-set exports or failed exports', async () => {
    const { db, projectId } = await seeded(2);
    await exportDataset(db, projectId, {
      kind: 'eval',
      includePending: false,
      testFraction: 0.5,
      seed: 0,
    }).catch(() => undefined);
    await db.pairs.toCollection().modify({ status: 'pending' });
    await expect(exportDataset(db, projectId, jsonl)).rejects.toThrow(/Nothing to export/);
    expect(await listExportRecords(db, projectId)).toEqual([]);
  });

  it('a delta export holds the added pairs’ rows and the retired pair ids since a chosen export', async () => {
    const { db, projectId, rows } = await seeded(3);
    const base = await exportDataset(db, projectId, jsonl);
    expect(base.recordId).toBeDefined();
    await db.pairs.update('p0', { stale: STALE });
    await db.pairs.add({
      ...rows.pairs[0]!,
      id: 'p9',
      prompt: [{ role: 'user', content: 'q9' }],
      chosen: 'good 9',
      rejected: 'bad 9',
      status: 'accepted',
      createdAt: 9_000,
    });
    const delta = await exportDataset(db, projectId, {
      ...jsonl,
      kind: 'delta',
      fromExportId: base.recordId!,
    });
    expect(delta.fileName).toBe('versions-v2-dpo-standard-delta-since-v2.zip');
    expect(delta.delta).toEqual({ added: 1, retired: 1 });
    const files = unzipSync(new Uint8Array(await delta.blob.arrayBuffer()));
    expect(Object.keys(files).sort()).toEqual(['README.md', 'added.jsonl', 'retired.json']);
    expect(strFromU8(files['added.jsonl']!)).toBe(
      '{"prompt":"q9","chosen":"good 9","rejected":"bad 9"}\n',
    );
    expect(JSON.parse(strFromU8(files['retired.json']!))).toMatchObject({
      fromExport: base.recordId,
      retiredPairIds: ['p0'],
    });
    expect(strFromU8(files['README.md']!)).toContain('- Pairs: 1 pair added, 1 pair retired.');
    // A delta is not a dataset version: the history still holds only the base export.
    expect((await listExportRecords(db, projectId)).map((r) => r.id)).toEqual([base.recordId]);
  });

  it('a delta with nothing added still lists the retired pairs', async () => {
    const { db, projectId } = await seeded(2);
    const base = await exportDataset(db, projectId, jsonl);
    await db.pairs.update('p1', { status: 'rejected' });
    const delta = await exportDataset(db, projectId, {
      ...jsonl,
      kind: 'delta',
      fromExportId: base.recordId!,
    });
    const files = unzipSync(new Uint8Array(await delta.blob.arrayBuffer()));
    expect(files['added.jsonl']!.length).toBe(0);
    expect(JSON.parse(strFromU8(files['retired.json']!)).retiredPairIds).toEqual(['p1']);
  });

  it('a delta from an unknown export says so', async () => {
    const { db, projectId } = await seeded(1);
    await expect(
      exportDataset(db, projectId, { ...jsonl, kind: 'delta', fromExportId: 'nope' }),
    ).rejects.toThrow(/not recorded for this project/);
  });
});

describe('one spec version per dataset', () => {
  it('rules.json holds only the accepted rules of the version the card names', async () => {
    const { db, projectId, rows } = await seeded(2);
    const [v1] = rows.specVersions;
    // An accepted rule left on v1 (e.g. from before an update): not part of a v2 dataset.
    await db.rules.add({ ...rows.rules[0]!, id: 'old-rule', specVersionId: v1!.id });
    const result = await exportDataset(db, projectId, hf);
    const files = unzipSync(new Uint8Array(await result.blob.arrayBuffer()));
    const ids = (
      JSON.parse(strFromU8(files['rules.json']!)) as { rules: { id: string }[] }
    ).rules.map((r) => r.id);
    expect(ids.sort()).toEqual(rows.rules.map((r) => r.id).sort());
    expect(strFromU8(files['README.md']!)).toContain('version 2');
  });
});

describe('one spec version per dataset (issue 11 §6)', () => {
  it('keeps earlier pairs of carried-over rules with their origin, leaves out pairs of rules the version lacks', async () => {
    const { db, projectId, rows } = await seeded(4);
    const [v1, v2] = rows.specVersions;
    const kept = rows.rules[0]!; // v2's rule; its lineage carried over from v1
    // p0/p1 were made on v1 for the carried lineage, p2 on v1 for a rule v2 does not hold, p3 on v2.
    await db.instances.add({ ...rows.instances[0]!, id: 'old-inst', specVersionId: v1!.id });
    await db.pairs.bulkPut(
      (await db.pairs.bulkGet(['p0', 'p1', 'p2'])).map((p, i) => ({
        ...p!,
        instanceId: 'old-inst',
        ...(i < 2
          ? { ruleIds: ['v1-rule'], lineageIds: [kept.lineageId!] }
          : { ruleIds: ['v1-gone'], lineageIds: ['v1-gone'] }),
      })),
    );
    const result = await exportDataset(db, projectId, { ...jsonl, provenance: true });
    const lines = (await result.blob.text())
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            prompt: string;
            metadata: { spec_version_id: string; dataset_spec_version_id: string };
          },
      );
    expect(lines.map((l) => l.prompt)).toEqual(['q0', 'q1', 'q3']);
    expect(lines.map((l) => l.metadata.spec_version_id)).toEqual([v1!.id, v1!.id, v2!.id]);
    expect(new Set(lines.map((l) => l.metadata.dataset_spec_version_id))).toEqual(
      new Set([v2!.id]),
    );
    expect(result.versions).toEqual({ carried: 2, leftOut: 1 });
    // The Export screen counts the left-out pair before any export.
    expect(await countExportSelection(db, projectId, ['accepted'])).toMatchObject({
      pairs: 4,
      otherVersion: { current: 1, stale: 0 },
    });

    const { card } = await readme(db, projectId);
    expect(card).toContain(
      '2 pairs were made on an earlier spec version for rules that carried over',
    );
    expect(card).toContain(
      '1 pair made on another spec version for rules this version does not hold was left out',
    );
  });

  it('a project with one version exports every selected pair as before', async () => {
    const { db, projectId, rows } = await seeded(2);
    await db.specVersions.delete(rows.specVersions[0]!.id);
    const result = await exportDataset(db, projectId, jsonl);
    expect(await queries(result.blob)).toEqual(['q0', 'q1']);
    expect(result.versions).toEqual({ carried: 0, leftOut: 0 });
  });
});
