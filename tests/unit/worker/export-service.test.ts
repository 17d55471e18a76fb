import { closeTestDbs, openTestDb } from '../../helpers/db';
import { afterEach, describe, expect, it } from 'vitest';
import { unzipSync, strFromU8 } from 'fflate';
import { AbortedError } from '$lib/core/errors';
import { DEFAULT_MIX, EmptyExportError, MixSettingsError } from '$lib/core/export';
import type { PairStatus, PreferencePair } from '$lib/core/records';
import type { SpecAlignDb } from '$lib/db/database';
import {
  countExportSelection,
  exportDataset,
  previewTrainingMix,
  type ExportStatus,
} from '$lib/worker/export-service';
import { findPairIds } from '$lib/worker/pairs-service';
import { buildProjectRows } from '../../helpers/project-rows';

afterEach(closeTestDbs);

/** A project with one instance, its rules, and pairs `q0…q{n-1}` (statuses cycle through `statuses`). */
async function seeded(
  n: number,
  statuses: PairStatus[] = ['accepted'],
): Promise<{ db: SpecAlignDb; projectId: string; pairs: PreferencePair[] }> {
  const db = await openTestDb();
  const rows = buildProjectRows('Export test');
  const template = rows.pairs[0]!;
  const pairs: PreferencePair[] = Array.from({ length: n }, (_, i) => ({
    ...template,
    id: `pair-${String(i).padStart(4, '0')}`,
    caseType: i % 2 === 0 ? 'violation' : 'benign',
    prompt: [
      { role: 'system', content: rows.instances[0]!.systemPrompt },
      { role: 'user', content: `q${i}` },
    ],
    chosen: `good ${i}`,
    rejected: `bad ${i}`,
    status: statuses[i % statuses.length]!,
    // Reverse insertion order: the export must follow createdAt, not the id or insertion order.
    createdAt: 1_000 + i,
  }));
  await db.projects.add(rows.project);
  await db.specVersions.bulkAdd(rows.specVersions);
  await db.rules.bulkAdd(rows.rules);
  await db.instances.bulkAdd(rows.instances);
  await db.pairs.bulkAdd([...pairs].reverse());
  return { db, projectId: rows.project.id, pairs };
}

const trlStandard = {
  kind: 'pairs',
  format: 'trl-standard',
  includePending: false,
  provenance: false,
  includeSystem: false,
} as const;

describe('exportDataset', () => {
  it('streams the accepted pairs of a seeded project as exact TRL DPO JSONL lines', async () => {
    const { db, projectId } = await seeded(4, ['accepted', 'pending', 'accepted', 'rejected']);
    const progress: ExportStatus[] = [];
    const result = await exportDataset(db, projectId, trlStandard, {
      onProgress: (s) => progress.push(s),
    });
    // The file names the spec version it reflects (the project's latest, v2).
    expect(result.fileName).toBe('export-test-v2-dpo-standard.jsonl');
    expect(await result.blob.text()).toBe(
      '{"prompt":"q0","chosen":"good 0","rejected":"bad 0"}\n' +
        '{"prompt":"q2","chosen":"good 2","rejected":"bad 2"}\n',
    );
    // Only the two accepted rows were read: the status index narrowed the source.
    expect(result.pairsRead).toBe(2);
    expect(progress.at(-1)).toEqual({ fraction: 1, detail: '2 pairs read' });
  });

  it('includes pending pairs, the system prompt and provenance when asked', async () => {
    const { db, projectId } = await seeded(2, ['accepted', 'pending']);
    const result = await exportDataset(db, projectId, {
      ...trlStandard,
      includePending: true,
      includeSystem: true,
      provenance: true,
    });
    const rows = (await result.blob.text())
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { prompt: string; metadata: { pair_id: string } });
    expect(rows.map((r) => r.metadata.pair_id)).toEqual(['pair-0000', 'pair-0001']);
    expect(rows[0]!.prompt).toMatch(/^System: You are a support assistant.*\n\nUser: q0$/s);
  });

  it('throws EmptyExportError and writes nothing for an empty selection', async () => {
    const { db, projectId } = await seeded(3, ['pending']);
    await expect(exportDataset(db, projectId, trlStandard)).rejects.toThrow(EmptyExportError);
    await expect(exportDataset(db, projectId, trlStandard)).rejects.toThrow(/Nothing to export/);
  });

  it('writes an HF dataset zip with data, rules and a card', async () => {
    const { db, projectId } = await seeded(6);
    const result = await exportDataset(db, projectId, {
      kind: 'hf',
      format: 'trl-conversational',
      includePending: false,
      provenance: false,
      includeSystem: true,
      testFraction: 0,
      seed: 1,
      license: 'cc-by-4.0',
    });
    const files = unzipSync(new Uint8Array(await result.blob.arrayBuffer()));
    expect(Object.keys(files).sort()).toEqual(['README.md', 'data/train.jsonl', 'rules.json']);
    const train = strFromU8(files['data/train.jsonl']!).trimEnd().split('\n');
    expect(train).toHaveLength(6);
    expect(JSON.parse(train[0]!).chosen).toEqual([{ role: 'assistant', content: 'good 0' }]);
    expect(strFromU8(files['README.md']!)).toContain('license: cc-by-4.0');
    expect(JSON.parse(strFromU8(files['rules.json']!)).rules).toHaveLength(2);
  });

  describe('with a training mix', () => {
    /** 12 pairs; the last repeats the first one's query in another run, the 6th has a long chosen reply. */
    async function mixed() {
      const seeded12 = await seeded(12);
      const { db, pairs } = seeded12;
      await db.pairs.update(pairs[11]!.id, { runId: 'run-2', prompt: pairs[0]!.prompt });
      await db.pairs.update(pairs[5]!.id, { chosen: 'a very long chosen reply indeed' });
      return seeded12;
    }
    const settings = {
      ...DEFAULT_MIX,
      balance: { minRatio: 0.5, maxRatio: 2, mode: 'apply' as const },
    };

    it('previews what the mix removes and how it splits, before any export', async () => {
      const { db, projectId } = await mixed();
      const preview = await previewTrainingMix(db, projectId, { includePending: false }, settings);
      expect(preview).toMatchObject({
        considered: 12,
        lengthOutside: 1,
        lengthRemoved: 1,
        duplicates: 1,
        crossRunDuplicates: 1,
        kept: 10,
        sft: 3, // round(2.5)
        dpo: 7,
      });
      const reported = await previewTrainingMix(
        db,
        projectId,
        { includePending: false },
        { ...settings, balance: { ...settings.balance, mode: 'report' } },
      );
      expect(reported).toMatchObject({ lengthOutside: 1, lengthRemoved: 0, kept: 11 });
      await expect(
        previewTrainingMix(
          db,
          projectId,
          { includePending: false },
          { ...settings, parts: { sft: 0, dpo: 0 } },
        ),
      ).rejects.toThrow(MixSettingsError);
    });

    it('exports the DPO share as JSONL and both shares in the dataset zip', async () => {
      const { db, projectId } = await mixed();
      const jsonl = await exportDataset(db, projectId, { ...trlStandard, mix: settings });
      expect(jsonl.mix).toMatchObject({ kept: 10, dpo: 7 });
      const prompts = (await jsonl.blob.text())
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as { prompt: string }).prompt);
      expect(prompts).toHaveLength(7);
      expect(prompts).not.toContain('q5');
      const zip = await exportDataset(db, projectId, {
        kind: 'hf',
        format: 'trl-conversational',
        includePending: false,
        provenance: false,
        includeSystem: true,
        testFraction: 0,
        seed: 0,
        license: 'mit',
        mix: settings,
      });
      const files = unzipSync(new Uint8Array(await zip.blob.arrayBuffer()));
      expect(Object.keys(files).sort()).toEqual([
        'README.md',
        'data/train.jsonl',
        'rules.json',
        'sft/train.jsonl',
      ]);
      expect(strFromU8(files['sft/train.jsonl']!).trimEnd().split('\n')).toHaveLength(3);
      expect(strFromU8(files['README.md']!)).toContain('## Training mix');
    });
  });

  it('refuses pairs whose chosen and rejected replies are the same, and reports the count', async () => {
    const { db, projectId } = await seeded(3);
    await db.pairs.update('pair-0001', { chosen: 'Same reply.', rejected: ' same reply ' });
    const result = await exportDataset(db, projectId, trlStandard);
    expect(await result.blob.text()).not.toContain('q1');
    expect(result).toMatchObject({ pairsRead: 3, refused: 1, skipped: 0 });
    const zip = await exportDataset(db, projectId, {
      kind: 'hf',
      format: 'kto-standard',
      includePending: false,
      provenance: false,
      includeSystem: false,
      testFraction: 0,
      seed: 1,
      license: '',
    });
    expect(zip.refused).toBe(1);
  });

  it('stops with AbortedError when cancelled', async () => {
    const { db, projectId } = await seeded(3);
    const controller = new AbortController();
    controller.abort();
    await expect(
      exportDataset(db, projectId, trlStandard, { signal: controller.signal }),
    ).rejects.toThrow(AbortedError);
  });
});

describe('chosen replies with markup', () => {
  it('are counted for the summary, found by the Review filter, and left out on request', async () => {
    const { db, projectId, pairs } = await seeded(4, ['accepted', 'accepted', 'pending']);
    await db.pairs.update(pairs[1]!.id, { chosen: 'Sure <img src=x onerror="alert(1)">' });
    await db.pairs.update(pairs[2]!.id, { chosen: '![x](https://t.example/p.png?d=secret)' });
    expect(await countExportSelection(db, projectId, ['accepted'])).toEqual({
      pairs: 3,
      markup: 1,
      stale: 0,
      otherVersion: { current: 0, stale: 0 },
    });
    expect(await countExportSelection(db, projectId, ['accepted', 'pending'])).toEqual({
      pairs: 4,
      markup: 2,
      stale: 0,
      otherVersion: { current: 0, stale: 0 },
    });
    expect(await findPairIds(db, projectId, { markup: true })).toEqual([
      pairs[1]!.id,
      pairs[2]!.id,
    ]);

    const all = await exportDataset(db, projectId, trlStandard);
    expect(await all.blob.text()).toContain('onerror');
    const clean = await exportDataset(db, projectId, { ...trlStandard, excludeMarkup: true });
    const text = await clean.blob.text();
    expect(text).not.toContain('onerror');
    expect(text.trim().split('\n')).toHaveLength(2);
  });
});
