import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createExportContext,
  createInstanceSplit,
  EmptyExportError,
  exportHfDataset,
  HF_PATHS,
  PAIR_FORMATS,
  type DatasetStats,
  type HfDatasetOptions,
  type HfExportProgress,
  type PairFormat,
} from '$lib/core/export';
import type { PreferencePair, Rule } from '$lib/core/records';
import {
  collectBytes,
  featureProblems,
  INSTANCES,
  knownPairs,
  pair,
  parseJsonl,
  RULES,
  splitCard,
  unzipText,
} from './fixtures';

const context = createExportContext(INSTANCES, RULES);
const MTIME = new Date(2026, 0, 2, 3, 4, 6);
const split = { testFraction: 0.4, seed: 1 };
const splitOf = createInstanceSplit(
  INSTANCES.map((i) => i.id),
  split,
);
const testInstances = new Set(INSTANCES.map((i) => i.id).filter((id) => splitOf(id) === 'test'));

async function archive(
  source: Iterable<PreferencePair> | (() => Iterable<PreferencePair>),
  options: Partial<HfDatasetOptions> = {},
): Promise<Record<string, string>> {
  return unzipText(
    await collectBytes(exportHfDataset(source, { context, mtime: MTIME, ...split, ...options })),
  );
}

type Meta = {
  license: string;
  pretty_name: string;
  language: string[];
  task_categories: string[];
  tags: string[];
  size_categories: string[];
  configs: { config_name: string; data_files: { split: string; path: string }[] }[];
  dataset_info: {
    config_name: string;
    features: Parameters<typeof featureProblems>[1];
    splits: { name: string; num_bytes: number; num_examples: number }[];
  }[];
};

describe('exportHfDataset', () => {
  it('writes data/train.jsonl, data/test.jsonl, eval/eval.jsonl and README.md', async () => {
    const files = await archive(knownPairs());
    expect(Object.keys(files).sort()).toEqual([
      'README.md',
      'data/test.jsonl',
      'data/train.jsonl',
      'eval/eval.jsonl',
    ]);
  });

  it('splits by instance: no instance in both splits, all accepted pairs present', async () => {
    const files = await archive(knownPairs(), { provenance: true });
    const instancesOf = (file: string) =>
      new Set(
        parseJsonl(files[file]!).map(
          (r) => (r as { metadata: { instance_id: string } }).metadata.instance_id,
        ),
      );
    const train = instancesOf(HF_PATHS.train);
    const test = instancesOf(HF_PATHS.test);
    expect([...train].filter((id) => test.has(id))).toEqual([]);
    expect(test).toEqual(testInstances);
    const rows =
      parseJsonl(files[HF_PATHS.train]!).length + parseJsonl(files[HF_PATHS.test]!).length;
    expect(rows).toBe(7);
  });

  it('front matter parses, follows the Hub conventions, and lists the files', async () => {
    const files = await archive(knownPairs(), {
      card: { license: 'cc-by-4.0', language: ['en', 'de'], tags: ['harbor'] },
    });
    const { meta: raw, body } = splitCard(files['README.md']!);
    const meta = raw as Meta;
    expect(files['README.md']).toMatch(/^---\nlicense: cc-by-4\.0\n/);
    expect(meta.license).toBe('cc-by-4.0');
    expect(meta.language).toEqual(['en', 'de']);
    expect(meta.task_categories).toEqual(['text-generation']);
    expect(meta.tags).toEqual(
      expect.arrayContaining(['dpo', 'preference', 'trl', 'synthetic', 'harbor']),
    );
    expect(meta.size_categories).toEqual(['n<1K']);
    expect(meta.configs).toEqual([
      {
        config_name: 'default',
        data_files: [
          { split: 'train', path: 'data/train.jsonl' },
          { split: 'test', path: 'data/test.jsonl' },
        ],
      },
      { config_name: 'eval', data_files: [{ split: 'test', path: 'eval/eval.jsonl' }] },
    ]);
    // Every data file the configs name exists, and split sizes match the files.
    for (const config of meta.configs)
      for (const f of config.data_files) expect(files[f.path]).toBeDefined();
    const info = meta.dataset_info.find((d) => d.config_name === 'default')!;
    for (const s of info.splits) {
      const file = files[`data/${s.name}.jsonl`]!;
      expect(s.num_examples).toBe(parseJsonl(file).length);
      expect(s.num_bytes).toBe(new TextEncoder().encode(file).length);
    }
    expect(body).toMatch(/^# SpecAlign preference pairs/m);
  });

  it.each(PAIR_FORMATS)(
    '%s: dataset_info.features match every JSONL row (provenance on and off)',
    async (format) => {
      for (const provenance of [false, true]) {
        const files = await archive(knownPairs(), { format: format as PairFormat, provenance });
        const meta = splitCard(files['README.md']!).meta as Meta;
        const info = meta.dataset_info.find((d) => d.config_name === 'default')!;
        expect(info.features.map((f) => f.name).includes('metadata')).toBe(provenance);
        for (const file of [HF_PATHS.train, HF_PATHS.test])
          for (const row of parseJsonl(files[file]!))
            expect(featureProblems(row, info.features)).toEqual([]);
        const evalInfo = meta.dataset_info.find((d) => d.config_name === 'eval')!;
        for (const row of parseJsonl(files[HF_PATHS.eval]!))
          expect(featureProblems(row, evalInfo.features)).toEqual([]);
      }
    },
  );

  it('the feature check can fail: a wrong column is reported', async () => {
    const files = await archive(knownPairs());
    const info = (splitCard(files['README.md']!).meta as Meta).dataset_info[0]!;
    const row = parseJsonl(files[HF_PATHS.train]!)[0] as Record<string, unknown>;
    expect(featureProblems({ ...row, extra: 1 }, info.features)).not.toEqual([]);
    expect(featureProblems({ ...row, chosen: 'a string' }, info.features)).not.toEqual([]);
  });

  it('the card reports the known statistics', async () => {
    let stats: DatasetStats | undefined;
    const files = await archive(knownPairs(), { onStats: (s) => (stats = s) });
    const body = splitCard(files['README.md']!).body;
    expect(stats?.pairs).toBe(7);
    expect(body).toContain('7 pairs from 5 spec instances.');
    expect(body).toMatch(/\| `violation` \| 4 \| 57\.1 % \|/);
    expect(body).toMatch(/\| `borderline` \| 2 \| 28\.6 % \|/);
    expect(body).toMatch(/\| `benign` \| 1 \| 14\.3 % \|/);
    expect(body).toMatch(/\| `content` \| 4 \|/);
    expect(body).toMatch(/\| `decision` \| 3 \|/);
    expect(body).toMatch(/\| `style` \| 2 \|/);
    expect(body).toMatch(/\| `positive` \| 4 \|/);
    expect(body).toMatch(/\| `negative` \| 4 \|/);
    expect(body).toMatch(/Rule r1: the assistant must not do r1\. \(`r1`\) \| 4 \|/);
    expect(body).toMatch(/\| `rX` \| 1 \|/);
    expect(body).toMatch(/\| chosen \| 10 \| 40 \| 40 \| 70 \|/);
    expect(body).toMatch(/\| rejected \| 5 \| 34\.3 \| 20 \| 140 \|/);
    expect(body).toMatch(/\| prompt \| 8 \| 10\.3 \| 8 \| 24 \|/);
    expect(body).toMatch(
      /\| chosen \/ rejected \(per pair\) \| 0\.500 \| 1\.929 \| 2\.000 \| 3\.000 \|/,
    );
    expect(body).toContain('1 accepted rule(s) of the spec have no pair');
  });

  it('eval rows come from test-split instances only (and marked pairs), never from train', async () => {
    const files = await archive(knownPairs());
    const evalRows = parseJsonl(files[HF_PATHS.eval]!) as { instance_id: string }[];
    expect(evalRows.length).toBeGreaterThan(0);
    for (const r of evalRows) expect(testInstances.has(r.instance_id)).toBe(true);
  });

  it('a pair marked eval goes to the eval set only', async () => {
    const trainInstance = INSTANCES.map((i) => i.id).find((id) => !testInstances.has(id))!;
    const marked = pair({ id: 'marked', instanceId: trainInstance, provenance: { eval: true } });
    const files = await archive([...knownPairs(), marked], { provenance: true });
    const ids = [HF_PATHS.train, HF_PATHS.test].flatMap((f) =>
      parseJsonl(files[f]!).map((r) => (r as { metadata: { pair_id: string } }).metadata.pair_id),
    );
    expect(ids).not.toContain('marked');
    const body = splitCard(files['README.md']!).body;
    expect(body).toContain('7 pairs from 5 spec instances.'); // statistics describe train + test
    expect(
      parseJsonl(files[HF_PATHS.eval]!).some(
        (r) => (r as { instance_id: string }).instance_id === trainInstance,
      ),
    ).toBe(true);
  });

  it('a source factory gives the same archive as a single pass, reading once per file', async () => {
    let reads = 0;
    const factory = () => {
      reads++;
      return knownPairs();
    };
    const progress: HfExportProgress[] = [];
    const a = await collectBytes(
      exportHfDataset(factory, {
        context,
        mtime: MTIME,
        ...split,
        onProgress: (p) => progress.push(p),
      }),
    );
    const b = await collectBytes(
      exportHfDataset(knownPairs(), { context, mtime: MTIME, ...split }),
    );
    expect(reads).toBe(3);
    expect(unzipText(a)).toEqual(unzipText(b));
    // The factory writes entries strictly in file order (nothing waits in memory).
    expect(Object.keys(unzipText(a))).toEqual([
      HF_PATHS.train,
      HF_PATHS.test,
      HF_PATHS.eval,
      'README.md',
    ]);
    expect(progress.at(-1)).toMatchObject({
      done: true,
      passes: 3,
      rows: 7 + parseJsonl(unzipText(a)[HF_PATHS.eval]!).length,
    });
  });

  it('is byte-identical for the same input and mtime', async () => {
    const a = await collectBytes(
      exportHfDataset(knownPairs(), { context, mtime: MTIME, ...split }),
    );
    const b = await collectBytes(
      exportHfDataset(knownPairs().reverse().reverse(), { context, mtime: MTIME, ...split }),
    );
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  it('leaves out empty splits and the eval set when nothing is held out', async () => {
    const files = await archive(knownPairs(), { testFraction: 0 });
    expect(Object.keys(files).sort()).toEqual(['README.md', 'data/train.jsonl']);
    const meta = splitCard(files['README.md']!).meta as Meta;
    expect(meta.configs).toEqual([
      { config_name: 'default', data_files: [{ split: 'train', path: 'data/train.jsonl' }] },
    ]);
    const noEval = await archive(knownPairs(), { includeEval: false });
    expect(Object.keys(noEval).sort()).toEqual([
      'README.md',
      'data/test.jsonl',
      'data/train.jsonl',
    ]);
  });

  it('writes rules.json through the given serializer', async () => {
    const seen: (readonly Rule[])[] = [];
    const files = await archive(knownPairs(), {
      rulesFile: {
        serialize: (rules) => (seen.push(rules), JSON.stringify({ ids: rules.map((r) => r.id) })),
      },
    });
    expect(JSON.parse(files['rules.json']!)).toEqual({ ids: ['r1', 'r2', 'r3', 'r4', 'r5'] });
    expect(splitCard(files['README.md']!).body).toContain('`rules.json`');
  });

  it('throws EmptyExportError before writing a byte for an empty selection', async () => {
    const chunks: Uint8Array[] = [];
    const run = async () => {
      for await (const c of exportHfDataset(
        knownPairs().filter((p) => p.status !== 'accepted'),
        { context },
      ))
        chunks.push(c);
    };
    await expect(run()).rejects.toThrow(EmptyExportError);
    expect(chunks).toEqual([]);
    await expect(collectBytes(exportHfDataset(() => [], { context }))).rejects.toThrow(
      EmptyExportError,
    );
  });
});

const RULES_FILE = path.resolve(process.cwd(), 'src/lib/core/rules/rules-file.ts');

describe.runIf(existsSync(RULES_FILE))('rules.json with the real rules-file serializer', () => {
  it('round-trips through parseRulesFile', async () => {
    type RulesModule = {
      serializeRulesFile: (rules: readonly Rule[]) => string;
      parseRulesFile: (text: string) => { rules: { id: string }[] };
    };
    const mod = (await import(/* @vite-ignore */ RULES_FILE)) as RulesModule;
    const files = await archive(knownPairs(), { rulesFile: { serialize: mod.serializeRulesFile } });
    expect(mod.parseRulesFile(files['rules.json']!).rules.map((r) => r.id)).toEqual(
      RULES.map((r) => r.id),
    );
  });
});

describe('the dataset card describes what the zip holds', () => {
  const bodyOf = (files: Record<string, string>) => splitCard(files['README.md']!).body;

  it('a one-instance export claims no test split and no eval set, and says why', async () => {
    const one = knownPairs().filter((p) => p.instanceId === INSTANCES[0]!.id);
    expect(one.length).toBeGreaterThan(0);
    const files = await archive(one, { testFraction: 0.1 });
    expect(Object.keys(files).some((f) => f.startsWith('data/test') || f.startsWith('eval/'))).toBe(
      false,
    );
    const body = bodyOf(files);
    expect(body).not.toMatch(/% of the instances are held out/);
    expect(body).toContain('There is **no test split**');
    expect(body).toMatch(/1 spec instance, and a split is by instance/);
    expect(body).toContain('No eval set is included');
  });

  it('states the held-out share actually written', async () => {
    const files = await archive(knownPairs());
    const rows = (f: string) => parseJsonl(files[f]!).length;
    expect(rows('data/test.jsonl')).toBeGreaterThan(0);
    const total = new Set(knownPairs().map((p) => p.instanceId)).size;
    const test = new Set(
      knownPairs()
        .filter((p) => testInstances.has(p.instanceId))
        .map((p) => p.instanceId),
    ).size;
    expect(bodyOf(files)).toContain(`${test} of ${total} instances`);
    expect(bodyOf(files)).not.toContain('No eval set');
  });

  it('says an eval set was not asked for', async () => {
    expect(bodyOf(await archive(knownPairs(), { includeEval: false }))).toContain(
      'the export was made without one',
    );
  });
});
