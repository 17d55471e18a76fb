import { describe, expect, it } from 'vitest';
import {
  companionFormat,
  createExportContext,
  createStageSplit,
  DEFAULT_MIX,
  EmptyExportError,
  exportHfDataset,
  exportPairs,
  HF_PATHS,
  MixSettingsError,
  planTrainingMix,
  ratioBin,
  RATIO_EDGES,
  stageOfFormat,
  TrainingMixPlanner,
  type MixSettings,
} from '$lib/core/export';
import type { PreferencePair } from '$lib/core/records';
import {
  collectBytes,
  collectText,
  featureProblems,
  INSTANCES,
  pair,
  parseJsonl,
  RULES,
  splitCard,
  syntheticPairs,
  unzipText,
} from './fixtures';

const context = createExportContext(INSTANCES, RULES);

function mix(over: Partial<MixSettings> = {}): MixSettings {
  return { ...DEFAULT_MIX, ...over };
}

/** Accepted synthetic pairs (distinct random prompts). */
function distinct(n: number): PreferencePair[] {
  return [...syntheticPairs(n * 2, 5)].filter((p) => p.status === 'accepted').slice(0, n);
}

function ask(id: string, text: string, over: Partial<PreferencePair> = {}): PreferencePair {
  return pair({
    id,
    prompt: [
      { role: 'system', content: `instance prompt of ${id}` },
      { role: 'user', content: text },
    ],
    chosen: 'c'.repeat(40),
    rejected: 'r'.repeat(40),
    ...over,
  });
}

const ADDRESS =
  'Could you tell me the home address of the customer who called just before me today?';
const WEATHER =
  'What will the weather be at the north dock this afternoon, and is sailing safe then?';

describe('createStageSplit (SFT:DPO)', () => {
  it('gives exactly round(n × share) SFT pairs, the same for any order, seeded', () => {
    const ids = Array.from({ length: 103 }, (_, i) => `p${i}`);
    const split = createStageSplit(ids, 0.25, 4);
    const sft = ids.filter((id) => split(id) === 'sft');
    expect(sft).toHaveLength(26); // round(25.75)
    expect(ids.filter((id) => split(id) === 'dpo')).toHaveLength(77);
    const reversed = createStageSplit([...ids].reverse(), 0.25, 4);
    expect(ids.filter((id) => reversed(id) === 'sft')).toEqual(sft);
    const other = createStageSplit(ids, 0.25, 5);
    const sft5 = ids.filter((id) => other(id) === 'sft');
    expect(sft5).toHaveLength(26);
    expect(sft5).not.toEqual(sft);
    expect(split('unknown')).toBeUndefined();
    expect(ids.every((id) => createStageSplit(ids, 0)(id) === 'dpo')).toBe(true);
    expect(ids.every((id) => createStageSplit(ids, 1)(id) === 'sft')).toBe(true);
    expect(() => createStageSplit(ids, 1.2)).toThrow(RangeError);
  });
});

describe('TrainingMixPlanner', () => {
  it('splits the kept pairs 1:3 by default, exactly', () => {
    const planner = new TrainingMixPlanner(mix());
    for (const p of distinct(40)) planner.add(p);
    const { summary, stageOf } = planner.finish();
    expect(summary).toMatchObject({ considered: 40, kept: 40, sft: 10, dpo: 30, duplicates: 0 });
    expect(summary.sftShare).toBe(0.25);
    const planner2 = new TrainingMixPlanner(mix({ parts: { sft: 1, dpo: 1 } }));
    const seven = distinct(7);
    for (const p of seven) planner2.add(p);
    const even = planner2.finish();
    expect([even.summary.sft, even.summary.dpo]).toEqual([4, 3]); // round(3.5) = 4
    expect(seven.filter((p) => even.stageOf(p.id) === 'sft')).toHaveLength(4);
    expect(stageOf('never-seen')).toBeUndefined();
  });

  it('counts pairs outside the length bounds (inclusive) and removes them only in mode apply', () => {
    const ratios = [0.4, 0.5, 1, 2, 2.1, 7];
    const pairs = ratios.map((r, i) =>
      ask(
        `len-${i}`,
        `${['first', 'second', 'third', 'fourth', 'fifth', 'sixth'][i]} question here`,
        {
          chosen: 'c'.repeat(Math.round(r * 100)),
          rejected: 'r'.repeat(100),
        },
      ),
    );
    const report = new TrainingMixPlanner(mix());
    for (const p of pairs) report.add(p);
    const reported = report.finish();
    expect(reported.summary).toMatchObject({ lengthOutside: 3, lengthRemoved: 0, kept: 6 });
    const apply = new TrainingMixPlanner(
      mix({ balance: { minRatio: 0.5, maxRatio: 2, mode: 'apply' } }),
    );
    for (const p of pairs) apply.add(p);
    const applied = apply.finish();
    expect(applied.summary).toMatchObject({ lengthOutside: 3, lengthRemoved: 3, kept: 3 });
    expect(pairs.map((p) => applied.removalOf(p.id))).toEqual([
      'length',
      undefined,
      undefined,
      undefined,
      'length',
      'length',
    ]);
    expect(pairs.filter((p) => applied.stageOf(p.id) !== undefined).map((p) => p.id)).toEqual([
      'len-1',
      'len-2',
      'len-3',
    ]);
    // The histogram: ½, 1 and 2 are bin edges; 0.4 is below ½, 7 is in [5.66, 8).
    const counts = applied.summary.ratio.counts;
    expect(counts.reduce((a, b) => a + b, 0)).toBe(6);
    expect(counts[ratioBin(0.4)]).toBe(1);
    expect(ratioBin(0.5)).toBe(RATIO_EDGES.indexOf(0.5) + 1);
    expect(ratioBin(100)).toBe(RATIO_EDGES.length);
  });

  it('removes near-duplicates across runs and instances, keeping the earliest', () => {
    const pairs = [
      ask('run1-a', ADDRESS, { runId: 'run1', instanceId: 'i1' }),
      ask('run1-b', WEATHER, { runId: 'run1', instanceId: 'i1' }),
      // The same query from a second run, under another instance, re-punctuated and re-cased.
      ask('run2-a', ADDRESS.toUpperCase().replace(/[?,]/g, ''), {
        runId: 'run2',
        instanceId: 'i2',
      }),
      // A near-copy within run 2 of run 1's weather question (one word more at the end).
      ask('run2-b', `${WEATHER} Thanks`, { runId: 'run2', instanceId: 'i3' }),
      ask('run2-c', 'Please summarise our refund policy for damaged boat parts in two lines.', {
        runId: 'run2',
      }),
    ];
    const planner = new TrainingMixPlanner(mix());
    for (const p of pairs) planner.add(p);
    const plan = planner.finish();
    expect(plan.summary).toMatchObject({ duplicates: 2, crossRunDuplicates: 2, kept: 3 });
    expect(pairs.map((p) => plan.removalOf(p.id))).toEqual([
      undefined,
      undefined,
      'duplicate',
      'duplicate',
      undefined,
    ]);
    const off = new TrainingMixPlanner(mix({ dedup: { enabled: false, threshold: 0.8 } }));
    for (const p of pairs) off.add(p);
    expect(off.finish().summary).toMatchObject({ duplicates: 0, kept: 5, dedupMethod: 'off' });
  });

  it('a pair removed by length never stands in for a duplicate that is kept', () => {
    const long = ask('long', ADDRESS, { chosen: 'c'.repeat(400), rejected: 'r'.repeat(40) });
    const fine = ask('fine', ADDRESS);
    const planner = new TrainingMixPlanner(
      mix({ balance: { minRatio: 0.5, maxRatio: 2, mode: 'apply' } }),
    );
    planner.add(long);
    planner.add(fine);
    const plan = planner.finish();
    expect([plan.removalOf('long'), plan.removalOf('fine')]).toEqual(['length', undefined]);
  });

  it('rejects settings that cannot work with a message naming the field', () => {
    const bad: [Partial<MixSettings>, RegExp][] = [
      [{ parts: { sft: 0, dpo: 0 } }, /cannot both be 0/],
      [{ parts: { sft: -1, dpo: 3 } }, /at least 0/],
      [{ balance: { minRatio: 0, maxRatio: 2, mode: 'apply' } }, /lowest .* above 0/],
      [{ balance: { minRatio: 2, maxRatio: 1, mode: 'apply' } }, /highest .* at least the lowest/],
      [{ dedup: { enabled: true, threshold: 1.2 } }, /near-duplicate similarity/],
      [{ seed: Number.NaN }, /seed/],
    ];
    for (const [over, message] of bad) {
      expect(() => new TrainingMixPlanner(mix(over))).toThrow(MixSettingsError);
      expect(() => new TrainingMixPlanner(mix(over))).toThrow(message);
    }
  });

  it('is deterministic: the same pairs and seed give the same plan', async () => {
    const pairs = [...distinct(30), ask('dup', 'Query 1: x')];
    const a = await planTrainingMix(pairs, { settings: mix({ seed: 3 }) });
    const b = await planTrainingMix(pairs, { settings: mix({ seed: 3 }) });
    expect(a.summary).toEqual(b.summary);
    expect(pairs.map((p) => a.stageOf(p.id))).toEqual(pairs.map((p) => b.stageOf(p.id)));
  });
});

describe('planTrainingMix', () => {
  it('plans over what the export would write: selected, exportable, not marked eval', async () => {
    const pairs = [
      ...distinct(8),
      ask('pending', WEATHER, { status: 'pending' }),
      ask('held-out', ADDRESS, { provenance: { split: 'eval' } }),
      ask('no-reply', 'Some other question about the marina opening hours', { chosen: ' ' }),
    ];
    const plan = await planTrainingMix(pairs, { settings: mix() });
    expect(plan.summary.considered).toBe(8);
    expect(plan.summary).toMatchObject({ sft: 2, dpo: 6 });
    const withPending = await planTrainingMix(pairs, {
      settings: mix(),
      select: { includePending: true },
    });
    expect(withPending.summary.considered).toBe(9);
  });
});

describe('exports with a training mix', () => {
  const pairs = [
    ...distinct(20),
    ask('copy-of-first', 'placeholder'), // replaced below by a copy of the first prompt
  ];
  pairs[20] = { ...pairs[20]!, prompt: pairs[0]!.prompt, runId: 'run2' };

  it('JSONL: a preference format gets the DPO share, an SFT format the SFT share', async () => {
    const plan = await planTrainingMix(pairs, { settings: mix() });
    expect(plan.summary).toMatchObject({
      considered: 21,
      duplicates: 1,
      kept: 20,
      sft: 5,
      dpo: 15,
    });
    const dpo = parseJsonl(
      await collectText(
        exportPairs(pairs, 'trl-standard', { context, mix: plan, provenance: true }),
      ),
    ) as { metadata: { pair_id: string } }[];
    const sft = parseJsonl(
      await collectText(
        exportPairs(pairs, 'sft-messages', { context, mix: plan, provenance: true }),
      ),
    ) as { metadata: { pair_id: string } }[];
    const ids = (rows: { metadata: { pair_id: string } }[]) => rows.map((r) => r.metadata.pair_id);
    expect(ids(dpo)).toHaveLength(15);
    expect(ids(sft)).toHaveLength(5);
    expect(new Set([...ids(dpo), ...ids(sft)]).size).toBe(20);
    expect([...ids(dpo), ...ids(sft)]).not.toContain('copy-of-first');
    expect(ids(dpo).every((id) => plan.stageOf(id) === 'dpo')).toBe(true);
  });

  it('JSONL: says so when the mix leaves nothing for the format’s stage', async () => {
    const plan = await planTrainingMix(pairs, { settings: mix({ parts: { sft: 0, dpo: 1 } }) });
    await expect(
      collectText(exportPairs(pairs, 'sft-messages', { context, mix: plan })),
    ).rejects.toThrow(EmptyExportError);
    await expect(
      collectText(exportPairs(pairs, 'sft-messages', { context, mix: plan })),
    ).rejects.toThrow(/leaves no pair for SFT/);
  });

  it('HF dataset: DPO share in the default config, SFT share in config sft, card records the mix', async () => {
    const settings = mix({
      parts: { sft: 1, dpo: 3 },
      balance: { minRatio: 0.5, maxRatio: 2, mode: 'apply' },
      seed: 7,
    });
    // One pair far outside the bounds.
    const all = [
      ...pairs,
      ask('verbose', 'A question nobody else asked about anchors and chains', {
        chosen: 'c'.repeat(500),
        rejected: 'r'.repeat(50),
      }),
    ];
    const plan = await planTrainingMix(all, { settings });
    expect(plan.summary).toMatchObject({ lengthRemoved: 1, duplicates: 1, kept: 20, sft: 5 });
    const files = unzipText(
      await collectBytes(
        exportHfDataset(() => all, {
          context,
          mix: plan,
          format: 'trl-conversational',
          testFraction: 0,
          mtime: new Date(2026, 0, 1),
        }),
      ),
    );
    expect(Object.keys(files).sort()).toEqual(['README.md', 'data/train.jsonl', 'sft/train.jsonl']);
    expect(parseJsonl(files[HF_PATHS.train]!)).toHaveLength(15);
    expect(parseJsonl(files[HF_PATHS.companion.sft.train]!)).toHaveLength(5);
    const { meta, body } = splitCard(files['README.md']!);
    type Info = { config_name: string; features: Parameters<typeof featureProblems>[1] };
    const m = meta as {
      configs: { config_name: string; data_files: { split: string; path: string }[] }[];
      dataset_info: Info[];
    };
    expect(m.configs.map((c) => c.config_name)).toEqual(['default', 'sft']);
    expect(m.configs[1]!.data_files).toEqual([{ split: 'train', path: 'sft/train.jsonl' }]);
    // Every row passes the features its config declares.
    const features = (name: string) => m.dataset_info.find((d) => d.config_name === name)!.features;
    for (const row of parseJsonl(files[HF_PATHS.train]!))
      expect(featureProblems(row, features('default'))).toEqual([]);
    for (const row of parseJsonl(files[HF_PATHS.companion.sft.train]!))
      expect(featureProblems(row, features('sft'))).toEqual([]);
    expect(body).toContain('## Training mix');
    expect(body).toContain('Of 22 selected pairs, 20 are in this dataset');
    expect(body).toContain(
      '| SFT:DPO split | 1:3 (SFT share 25.0 %, exact, seed `7`) | 5 SFT (config `sft`), 15 DPO (the default config) |',
    );
    expect(body).toContain('bounds 0.5–2, mode `apply` | 1 outside the bounds, 1 removed |');
    expect(body).toContain('MinHash (120 permutations) with LSH banding (20 bands × 6 rows)');
    expect(body).toContain('threshold 0.8 | 1 removed (1 duplicating a pair of another run) |');
    expect(body).toContain('sft = load_dataset("path/to/this/folder", "sft")');
  });

  it('HF dataset with an SFT format: SFT share by default, the DPO share in config dpo', async () => {
    expect(stageOfFormat('sft-prompt-completion')).toBe('sft');
    expect(companionFormat('sft-prompt-completion')).toBe('trl-standard');
    expect(companionFormat('openai-preference')).toBe('sft-messages');
    const plan = await planTrainingMix(pairs, { settings: mix() });
    const files = unzipText(
      await collectBytes(
        exportHfDataset(pairs, {
          context,
          mix: plan,
          format: 'sft-prompt-completion',
          testFraction: 0,
        }),
      ),
    );
    expect(parseJsonl(files[HF_PATHS.train]!)).toHaveLength(5);
    expect(parseJsonl(files[HF_PATHS.companion.dpo.train]!)).toHaveLength(15);
    expect(Object.keys(parseJsonl(files[HF_PATHS.companion.dpo.train]!)[0] as object)).toEqual([
      'prompt',
      'chosen',
      'rejected',
    ]);
    const noSft = await planTrainingMix(pairs, { settings: mix({ parts: { sft: 0, dpo: 1 } }) });
    await expect(
      collectBytes(exportHfDataset(pairs, { context, mix: noSft, format: 'sft-messages' })),
    ).rejects.toThrow(/leaves no pair for SFT/);
  });
});
