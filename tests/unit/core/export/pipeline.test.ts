import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AbortedError, SpecAlignError } from '$lib/core/errors';
import {
  createExportContext,
  createInstanceSplit,
  EmptyExportError,
  encodeUtf8,
  exportEvalSet,
  exportPairs,
  pairLines,
  PAIR_FORMATS,
  type ExportProgress,
} from '$lib/core/export';
import type { PreferencePair } from '$lib/core/records';
import { collectText, INSTANCES, knownPairs, pair, parseJsonl, RULES } from './fixtures';

const context = createExportContext(INSTANCES, RULES);

async function* slowly(pairs: PreferencePair[]): AsyncGenerator<PreferencePair> {
  for (const p of pairs) {
    await Promise.resolve();
    yield p;
  }
}

describe('exportPairs', () => {
  it.each(PAIR_FORMATS)('%s: the stream is the selected pairs’ lines, in order', async (format) => {
    const text = await collectText(exportPairs(slowly(knownPairs()), format, { context }));
    const expected = knownPairs()
      .filter((p) => p.status === 'accepted')
      .flatMap((p) => pairLines(p, format, context))
      .map((l) => `${l}\n`)
      .join('');
    expect(text).toBe(expected);
    expect(parseJsonl(text)).toHaveLength(format.startsWith('kto') ? 14 : 7);
  });

  it('yields whole lines in chunks of about chunkChars', async () => {
    const chunks: string[] = [];
    const progress: ExportProgress[] = [];
    for await (const chunk of exportPairs(knownPairs(), 'trl-standard', {
      context,
      chunkChars: 100,
      onProgress: (p) => progress.push(p),
    }))
      chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks) {
      expect(c.endsWith('\n')).toBe(true);
      parseJsonl(c);
    }
    expect(progress.at(-1)).toEqual({
      pairs: 7,
      rows: 7,
      skipped: 0,
      refused: 0,
      corrupt: 0,
      done: true,
    });
    expect(progress.slice(0, -1).every((p) => !p.done)).toBe(true);
  });

  it('includes pending pairs only when asked', async () => {
    const rows = parseJsonl(
      await collectText(
        exportPairs(knownPairs(), 'trl-standard', { context, select: { includePending: true } }),
      ),
    );
    expect(rows).toHaveLength(8);
  });

  it('adds provenance columns only when asked', async () => {
    const off = parseJsonl(
      await collectText(exportPairs(knownPairs(), 'openai-preference', { context })),
    );
    const on = parseJsonl(
      await collectText(
        exportPairs(knownPairs(), 'openai-preference', { context, provenance: true }),
      ),
    );
    expect(off.every((r) => !('metadata' in (r as object)))).toBe(true);
    const ids = on.map(
      (r) => z.object({ metadata: z.object({ pair_id: z.string() }) }).parse(r).metadata.pair_id,
    );
    expect(ids).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
  });

  it('holds out pairs marked eval unless asked', async () => {
    const pairs = [pair({ id: 'x' }), pair({ id: 'y', provenance: { eval: true } })];
    expect(
      parseJsonl(await collectText(exportPairs(pairs, 'trl-standard', { context }))),
    ).toHaveLength(1);
    expect(
      parseJsonl(
        await collectText(exportPairs(pairs, 'trl-standard', { context, includeMarkedEval: true })),
      ),
    ).toHaveLength(2);
    await expect(
      collectText(exportPairs([pairs[1]!], 'trl-standard', { context })),
    ).rejects.toThrow(/marked as evaluation queries/);
  });

  it('throws EmptyExportError, before yielding anything, for an empty selection', async () => {
    const chunks: string[] = [];
    const run = async () => {
      for await (const c of exportPairs(
        knownPairs().filter((p) => p.status !== 'accepted'),
        'trl-standard',
        { context },
      ))
        chunks.push(c);
    };
    await expect(run()).rejects.toThrow(EmptyExportError);
    await expect(run()).rejects.toThrow(/Accept some pairs/);
    expect(chunks).toEqual([]);
    const error = await run().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SpecAlignError);
    expect((error as Error).name).toBe('EmptyExportError');
    await expect(collectText(exportPairs([], 'kto-standard', { context }))).rejects.toThrow(
      EmptyExportError,
    );
  });

  it('skips pairs that cannot form a row, and says so when nothing is left', async () => {
    const broken = pair({ id: 'broken', prompt: [{ role: 'system', content: 'only system' }] });
    const progress: ExportProgress[] = [];
    const text = await collectText(
      exportPairs([broken, pair({ id: 'fine' })], 'trl-standard', {
        context,
        onProgress: (p) => progress.push(p),
      }),
    );
    expect(parseJsonl(text)).toHaveLength(1);
    expect(progress.at(-1)).toMatchObject({ pairs: 1, skipped: 1, done: true });
    const error = await collectText(exportPairs([broken], 'trl-standard', { context })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EmptyExportError);
    expect((error as EmptyExportError).skipped).toBe(1);
    expect((error as Error).message).toMatch(/pair broken: its prompt has no user turn/);
  });

  // Issue 10 §8: a benign look-alike whose "needless refusal" was the helpful answer itself.
  it('refuses pairs that carry no preference, counts them, and says so when nothing is left', async () => {
    const HELP =
      'Here are three winter routes: the Presidential Traverse, Franconia Ridge and Mount Washington.';
    const same = pair({ id: 'same', caseType: 'benign', chosen: HELP, rejected: `  ${HELP}\n` });
    const progress: ExportProgress[] = [];
    for (const format of ['trl-standard', 'kto-standard'] as const) {
      progress.length = 0;
      const text = await collectText(
        exportPairs([same, pair({ id: 'fine' })], format, {
          context,
          onProgress: (p) => progress.push(p),
        }),
      );
      expect(text).not.toContain('Presidential');
      expect(progress.at(-1)).toMatchObject({ pairs: 1, skipped: 0, refused: 1, done: true });
    }
    const error = await collectText(exportPairs([same], 'trl-standard', { context })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EmptyExportError);
    expect((error as EmptyExportError).skipped).toBe(1);
    expect((error as Error).message).toMatch(
      /1 selected pair carries no preference \(first: pair same: chosen and rejected replies are the same/,
    );
  });

  // Issue 10 §3: a corrupt row is reported and skipped, never crashes the export.
  it('skips and counts pairs whose synthesis provenance fails its schema', async () => {
    const corrupt = pair({
      id: 'corrupt',
      provenance: { method: 'specalign-adversarial/1', chosen: 5 },
    });
    const progress: ExportProgress[] = [];
    const text = await collectText(
      exportPairs([corrupt, pair({ id: 'fine' })], 'trl-standard', {
        context,
        onProgress: (p) => progress.push(p),
      }),
    );
    expect(parseJsonl(text)).toHaveLength(1);
    expect(progress.at(-1)).toMatchObject({ pairs: 1, corrupt: 1, done: true });
    const error = await collectText(exportPairs([corrupt], 'trl-standard', { context })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EmptyExportError);
    expect((error as Error).message).toMatch(
      /1 selected pair is unreadable \(first: Stored record pairs.provenance "corrupt" is unreadable at specVersionId/,
    );
  });

  it('stops with AbortedError when the signal fires', async () => {
    const controller = new AbortController();
    let n = 0;
    const run = async () => {
      for await (const _ of exportPairs(
        slowly(Array.from({ length: 50 }, () => pair())),
        'trl-standard',
        {
          context,
          chunkChars: 1,
          signal: controller.signal,
        },
      )) {
        if (++n === 3) controller.abort();
      }
    };
    await expect(run()).rejects.toThrow(AbortedError);
    expect(n).toBe(3);
  });

  it('encodeUtf8 turns the chunks into bytes', async () => {
    const bytes: Uint8Array[] = [];
    for await (const b of encodeUtf8(
      exportPairs([pair({ chosen: 'é' })], 'trl-standard', { context }),
    ))
      bytes.push(b);
    const text = new TextDecoder().decode(bytes[0]);
    expect(JSON.parse(text.trim())).toMatchObject({ chosen: 'é' });
  });
});

describe('exportEvalSet', () => {
  const evalRow = z.strictObject({
    instance_id: z.string(),
    system: z.string(),
    messages: z
      .array(z.strictObject({ role: z.enum(['user', 'assistant']), content: z.string() }))
      .min(1),
    rule_ids: z.array(z.string()).min(1),
    case_type: z.enum(['violation', 'borderline', 'benign']),
  });
  const split = { testFraction: 0.4, seed: 1 };
  const splitOf = createInstanceSplit(
    INSTANCES.map((i) => i.id),
    split,
  );
  const testInstances = INSTANCES.map((i) => i.id).filter((id) => splitOf(id) === 'test');

  it('writes the queries of test-split instances with their rules, exact keys', async () => {
    expect(testInstances).toHaveLength(2);
    const rows = parseJsonl(await collectText(exportEvalSet(knownPairs(), { context, split }))).map(
      (r) => evalRow.parse(r),
    );
    const expected = knownPairs().filter(
      (p) => p.status === 'accepted' && testInstances.includes(p.instanceId),
    );
    expect(rows.map((r) => r.instance_id)).toEqual(expected.map((p) => p.instanceId));
    expect(rows.map((r) => r.rule_ids)).toEqual(expected.map((p) => p.ruleIds));
    for (const r of rows) {
      expect(r.system).toBe(INSTANCES.find((i) => i.id === r.instance_id)!.systemPrompt);
      expect(r.messages.at(-1)!.role).toBe('user');
    }
  });

  it('adds pairs marked eval, and writes a repeated query once per instance and rule set', async () => {
    const trainInstance = INSTANCES.map((i) => i.id).find((id) => splitOf(id) === 'train')!;
    const marked = pair({ id: 'm', instanceId: trainInstance, provenance: { split: 'eval' } });
    const twin = pair({
      id: 'm2',
      instanceId: trainInstance,
      provenance: { split: 'eval' },
      chosen: 'other',
    });
    const rows = parseJsonl(await collectText(exportEvalSet([marked, twin], { context, split })));
    expect(rows).toHaveLength(1);
    const otherRules = pair({
      id: 'm3',
      instanceId: trainInstance,
      provenance: { eval: true },
      ruleIds: ['r2'],
    });
    expect(
      parseJsonl(await collectText(exportEvalSet([marked, twin, otherRules], { context, split }))),
    ).toHaveLength(2);
  });

  it('throws EmptyExportError when nothing is held out', async () => {
    await expect(
      collectText(exportEvalSet(knownPairs(), { context, split: { testFraction: 0 } })),
    ).rejects.toThrow(/No held-out queries/);
  });
});
