/**
 * The dataset card (`README.md`) of an exported Hugging Face-style dataset folder: YAML front
 * matter in the Hub's conventions (`license`, `language`, `task_categories`, `tags`,
 * `size_categories`, `configs[].data_files`, `dataset_info[].features` / `.splits`) and a
 * Markdown body with the dataset's structure, splits and statistics.
 */
import { changelogLines, type ExportChangelog } from './changelog';
import { EVAL_FEATURES, formatFeatures, type Feature } from './features';
import { FORMAT_INFO, type PairFormat } from './formats';
import type { MixSummary } from './mix';
import type { TrainingStage } from './splits';
import type { CategoryCount, DatasetStats, SummaryStats } from './stats';
import { toYaml, type YamlValue } from './yaml';

/** What the user can say about the dataset. */
export interface DatasetCardInfo {
  /** Title of the card. Default: "<spec title> preference pairs", or "SpecAlign preference pairs". */
  prettyName?: string;
  /** A Hub license id (`apache-2.0`, `cc-by-4.0`, `mit`…). Default `other`: the spec's own terms apply. */
  license?: string;
  /** ISO 639-1 codes. Default `['en']`. */
  language?: string[];
  /** Extra tags, after the ones the format implies. */
  tags?: string[];
  /** A paragraph shown under the title. */
  description?: string;
  /** The spec the pairs were made from. */
  spec?: { title?: string; versionNumber?: number; contentHash?: string; specVersionId?: string };
  /** Shown as "Generated" (e.g. an ISO date). Left out when absent, so the card is reproducible. */
  generatedAt?: string;
  /**
   * Selected pairs a spec update marked stale (their rule changed or retired), and whether the
   * export included them (issue 11 §3). Left out of the card when there were none.
   */
  stalePairs?: { count: number; included: boolean };
  /**
   * Pairs of other spec versions (issue 11 §6): `carried` were made on an earlier version for
   * rules that carried over unchanged (exported, each row naming its origin); `leftOut` test
   * rules this version does not hold (not exported: a dataset is of one version).
   */
  versionMix?: { carried: number; leftOut: number };
  /** What changed since the project's previous export (issue 11 §4). */
  changelog?: ExportChangelog;
}

/** One data file of the card. */
export interface CardFile {
  split: string;
  path: string;
  numExamples: number;
  /** Bytes of the JSONL file (UTF-8). */
  numBytes: number;
}

/** Everything {@link renderDatasetCard} needs. */
export interface DatasetCardInput extends DatasetCardInfo {
  format: PairFormat;
  provenance: boolean;
  /** Whether prompts carry the instance as system text. */
  includeSystem: boolean;
  /** The data files of the default config (train, test). */
  files: CardFile[];
  /** The eval set file, when written. */
  evalFile?: CardFile;
  /** Other files in the folder (e.g. `rules.json`). */
  extraFiles?: string[];
  stats: DatasetStats;
  split: { testFraction: number; seed: number | string };
  /**
   * Instances actually written to each data split. With it the card states the held-out share
   * that is in the files, not the one asked for (an export of one instance has no test split).
   */
  splitInstances?: { train: number; test: number };
  /** Whether an eval set was asked for (default true), to say why none is in the folder. */
  evalRequested?: boolean;
  /** The training mix the export applied (SFT:DPO split, length balancing, near-duplicates). */
  mix?: MixSummary;
  /** The mix's other stage, written as a second config named after its stage. */
  companion?: { config: TrainingStage; format: PairFormat; files: CardFile[] };
}

/** The Hub's `size_categories` bucket for a row count. */
export function sizeCategory(rows: number): string {
  if (rows < 1_000) return 'n<1K';
  if (rows < 10_000) return '1K<n<10K';
  if (rows < 100_000) return '10K<n<100K';
  if (rows < 1_000_000) return '100K<n<1M';
  if (rows < 10_000_000) return '1M<n<10M';
  return '10M<n<100M';
}

/** Tags implied by a format. */
export function formatTags(format: PairFormat): string[] {
  const base = ['specalign', 'synthetic', 'alignment'];
  if (format.startsWith('sft')) return ['sft', ...base];
  if (format.startsWith('kto')) return ['kto', 'preference', 'trl', ...base];
  if (format === 'openai-preference') return ['dpo', 'preference', ...base];
  return ['dpo', 'preference', 'trl', ...base];
}

function featureYaml(feature: Feature): YamlValue {
  if ('dtype' in feature) return { name: feature.name, dtype: feature.dtype };
  if ('sequence' in feature) return { name: feature.name, sequence: feature.sequence };
  if ('list' in feature) return { name: feature.name, list: feature.list.map(featureYaml) };
  return { name: feature.name, struct: feature.struct.map(featureYaml) };
}

function splitInfo(file: CardFile): YamlValue {
  return { name: file.split, num_bytes: file.numBytes, num_examples: file.numExamples };
}

/** The front matter as a plain object (exported for tests and for tools that edit cards). */
export function cardMetadata(input: DatasetCardInput): { [key: string]: YamlValue } {
  const rows = [...input.files, ...(input.companion?.files ?? [])].reduce(
    (n, f) => n + f.numExamples,
    0,
  );
  const tags = [...new Set([...formatTags(input.format), ...(input.tags ?? [])])];
  const configs: YamlValue[] = [
    {
      config_name: 'default',
      data_files: input.files.map((f) => ({ split: f.split, path: f.path })),
    },
  ];
  const info: YamlValue[] = [
    {
      config_name: 'default',
      features: formatFeatures(input.format, { provenance: input.provenance }).map(featureYaml),
      splits: input.files.map(splitInfo),
    },
  ];
  if (input.companion) {
    const c = input.companion;
    configs.push({
      config_name: c.config,
      data_files: c.files.map((f) => ({ split: f.split, path: f.path })),
    });
    info.push({
      config_name: c.config,
      features: formatFeatures(c.format, { provenance: input.provenance }).map(featureYaml),
      splits: c.files.map(splitInfo),
    });
  }
  if (input.evalFile) {
    configs.push({
      config_name: 'eval',
      data_files: [{ split: input.evalFile.split, path: input.evalFile.path }],
    });
    info.push({
      config_name: 'eval',
      features: EVAL_FEATURES.map(featureYaml),
      splits: [splitInfo(input.evalFile)],
    });
  }
  return {
    license: input.license ?? 'other',
    pretty_name: prettyName(input),
    language: input.language ?? ['en'],
    task_categories: ['text-generation'],
    tags,
    size_categories: [sizeCategory(rows)],
    configs,
    dataset_info: info,
  };
}

function prettyName(input: DatasetCardInput): string {
  const name = input.prettyName
    ? input.prettyName
    : input.spec?.title
      ? `${input.spec.title} preference pairs`
      : 'SpecAlign preference pairs';
  return name.replace(/\s+/g, ' ').trim();
}

/** A Markdown table cell: one line, pipes escaped, long text cut. */
function cell(text: string, max = 160): string {
  const one = text.replace(/\s+/g, ' ').trim();
  const cut = one.length > max ? `${one.slice(0, max - 1)}…` : one;
  return cut.replace(/\\/g, '\\\\').replace(/\|/g, '\\|');
}

function pct(count: number, total: number): string {
  return total > 0 ? `${((100 * count) / total).toFixed(1)} %` : '–';
}

function countTable(title: string, rows: CategoryCount[], total: number, max = 200): string[] {
  const lines = [`| ${title} | Pairs | Share |`, '| --- | ---: | ---: |'];
  for (const row of rows.slice(0, max)) {
    const name = row.label
      ? `${cell(row.label)} (\`${cell(row.key, 80)}\`)`
      : `\`${cell(row.key, 80)}\``;
    lines.push(`| ${name} | ${row.count} | ${pct(row.count, total)} |`);
  }
  if (rows.length > max) lines.push(`| … ${rows.length - max} more | | |`);
  return lines;
}

function num(value: number, digits: number): string {
  return Number.isInteger(value) && digits <= 1 ? String(value) : value.toFixed(digits);
}

function lengthRow(name: string, s: SummaryStats, digits = 1): string {
  const median = `${num(s.median, digits)}${s.medianExact ? '' : ' ≈'}`;
  return `| ${name} | ${num(s.min, digits)} | ${num(s.mean, digits)} | ${median} | ${num(s.max, digits)} |`;
}

function describeFeature(feature: Feature): string {
  if ('dtype' in feature) return feature.dtype;
  if ('sequence' in feature) return `list of ${feature.sequence}`;
  if ('list' in feature) return `list of {${feature.list.map((f) => f.name).join(', ')}}`;
  return `{${feature.struct.map((f) => f.name).join(', ')}}`;
}

/**
 * What the Splits section says about the held-out share: computed from the files written, so the
 * card never claims a test split the folder does not hold.
 */
function splitParagraphs(input: DatasetCardInput): string[] {
  const seed = `seed \`${String(input.split.seed)}\``;
  const asked = `${Math.round(input.split.testFraction * 100)} %`;
  const byInstance =
    'Pairs are split **by instance**: all pairs of a spec instance are in the same split, so no system prompt of the test split was seen in training; the split is a hash of the instance id, so exporting again gives the same split.';
  const testRows = input.files.find((f) => f.split === 'test')?.numExamples ?? 0;
  const counts = input.splitInstances;
  if (testRows === 0) {
    const total = counts ? counts.train + counts.test : input.stats.instances;
    const why =
      input.split.testFraction === 0
        ? 'the export was asked to hold out no instances'
        : total < 2
          ? `the data comes from ${total} spec instance${total === 1 ? '' : 's'}, and a split is by instance: holding it out would leave nothing to train on (${asked} was asked for)`
          : `none of the instances chosen for it (${asked}, ${seed}) has an exportable pair`;
    return [
      `There is **no test split**: ${why}. All ${total} instance${total === 1 ? '' : 's'} are in train.`,
      '',
    ];
  }
  if (!counts) return [`${byInstance} About ${asked} of the instances are held out (${seed}).`, ''];
  const total = counts.train + counts.test;
  const share = total > 0 ? `${((100 * counts.test) / total).toFixed(1)} %` : '–';
  return [
    `${byInstance} ${counts.test} of ${total} instances (${share}) are in the test split (${asked} asked for, ${seed}).`,
    '',
  ];
}

function ratio(value: number): string {
  return String(Number(value.toFixed(3)));
}

/** The "Training mix" section: the settings the export used and what each step removed. */
function mixParagraphs(mix: MixSummary, input: DatasetCardInput): string[] {
  const s = mix.settings;
  const stage = FORMAT_INFO[input.format].usesRejected ? 'dpo' : 'sft';
  const where = (of: TrainingStage) => (of === stage ? 'the default config' : `config \`${of}\``);
  const b = s.balance;
  const lines = [
    '## Training mix',
    '',
    `Of ${mix.considered} selected pairs, ${mix.kept} are in this dataset after length balancing and near-duplicate removal.`,
    '',
    '| Setting | Value | Pairs |',
    '| --- | --- | ---: |',
    `| SFT:DPO split | ${s.parts.sft}:${s.parts.dpo} (SFT share ${(mix.sftShare * 100).toFixed(1)} %, exact, seed \`${s.seed}\`) | ${mix.sft} SFT (${where('sft')}), ${mix.dpo} DPO (${where('dpo')}) |`,
    `| Length balancing (chosen/rejected characters per pair) | bounds ${ratio(b.minRatio)}–${ratio(b.maxRatio)}, mode \`${b.mode}\` | ${mix.lengthOutside} outside the bounds, ${mix.lengthRemoved} removed |`,
    `| Near-duplicate removal | ${s.dedup.enabled ? `${cell(mix.dedupMethod, 400)}; threshold ${s.dedup.threshold}` : 'off'} | ${mix.duplicates} removed (${mix.crossRunDuplicates} duplicating a pair of another run) |`,
  ];
  lines.push(
    '',
    'The SFT share is written with the SFT format (prompt + chosen reply), the DPO share with the preference format; a pair is in one of them, never both. Splits are by instance in both.',
  );
  return lines;
}

/** The full `README.md`: front matter, then the Markdown body. */
export function renderDatasetCard(input: DatasetCardInput): string {
  const info = FORMAT_INFO[input.format];
  const s = input.stats;
  const title = prettyName(input);
  const body: string[] = [`# ${title}`, ''];
  body.push(
    input.description ??
      'Preference pairs generated from a model specification with SpecAlign Studio: each pair is a user query that probes the spec, a reply that follows it (chosen) and one that violates it or refuses needlessly (rejected).',
    '',
  );
  if (input.spec) {
    const parts = [
      input.spec.title && `**${cell(input.spec.title)}**`,
      input.spec.versionNumber !== undefined && `version ${input.spec.versionNumber}`,
      input.spec.contentHash && `SHA-256 \`${input.spec.contentHash}\``,
    ].filter(Boolean);
    if (parts.length) body.push(`Source spec: ${parts.join(', ')}.`, '');
  }
  if (input.stalePairs && input.stalePairs.count > 0) {
    const { count, included } = input.stalePairs;
    const pairs = `${count} pair${count === 1 ? '' : 's'}`;
    body.push(
      included
        ? `This dataset includes ${pairs} marked stale: a spec update changed or retired a rule they test.`
        : `${pairs} marked stale (a spec update changed or retired a rule they test) ${count === 1 ? 'was' : 'were'} excluded.`,
      '',
    );
  }
  if (input.versionMix && (input.versionMix.carried > 0 || input.versionMix.leftOut > 0)) {
    const { carried, leftOut } = input.versionMix;
    const n = (k: number) => `${k} pair${k === 1 ? '' : 's'}`;
    if (carried > 0)
      body.push(
        `${n(carried)} ${carried === 1 ? 'was' : 'were'} made on an earlier spec version for rules that carried over unchanged; each row's \`metadata.spec_version_id\` names the version it was made on, \`metadata.dataset_spec_version_id\` this dataset's.`,
        '',
      );
    if (leftOut > 0)
      body.push(
        `${n(leftOut)} made on another spec version for rules this version does not hold ${leftOut === 1 ? 'was' : 'were'} left out: a dataset is of one spec version. Update this version from the earlier one to carry its rules and pairs over.`,
        '',
      );
  }
  if (input.changelog) {
    body.push(...changelogLines(input.changelog));
  }
  if (input.generatedAt) body.push(`Generated: ${input.generatedAt}.`, '');

  body.push('## Dataset structure', '');
  body.push(`Format: **${info.label}** — ${info.description}`, '');
  body.push('| Column | Type |', '| --- | --- |');
  for (const f of formatFeatures(input.format, { provenance: input.provenance }))
    body.push(`| \`${f.name}\` | ${describeFeature(f)} |`);
  body.push('');
  body.push(
    input.includeSystem
      ? "Each prompt starts with the spec instance (a sampled subset of the spec's rules) as its system message."
      : 'Prompts carry no system message: the spec instance each pair was written against is left out.',
  );
  if (!info.conversational) {
    body.push(
      'Prompts are strings: a single user turn is its bare text; longer conversations are written as a `User: …` / `Assistant: …` transcript.',
    );
  }
  if (info.rowsPerPair === 2) {
    body.push(
      'Each pair gives two rows: the chosen reply (`label: true`) and the rejected one (`label: false`).',
    );
  }
  if (input.provenance) {
    body.push(
      '`metadata` records where each row came from: pair, run, spec version, instance, rules, case type, the models per role, the judges’ verdicts (JSON text) and the origin of each side (rejected: `defender` in round `rejected_round`, `violator`, or `rewrite` when the violator’s reply needed rewrites; chosen: `defender` or `written`).',
    );
  }
  body.push('');

  body.push('## Splits', '');
  body.push('| Split | File | Rows |', '| --- | --- | ---: |');
  for (const f of input.files) body.push(`| ${f.split} | \`${f.path}\` | ${f.numExamples} |`);
  if (input.evalFile)
    body.push(
      `| eval (config \`eval\`) | \`${input.evalFile.path}\` | ${input.evalFile.numExamples} |`,
    );
  body.push('');
  body.push(...splitParagraphs(input));
  if (input.evalFile) {
    body.push(
      'The `eval` config holds the held-out queries (test-split instances and pairs marked for evaluation) with the rules each one tests, for measuring rule compliance: `{instance_id, system, messages, rule_ids, case_type}`.',
      '',
    );
  } else {
    body.push(
      input.evalRequested === false
        ? 'No eval set is included: the export was made without one.'
        : 'No eval set is included: no pair was held out (no test-split instance and no pair marked for evaluation), so there are no unseen queries to evaluate on.',
      '',
    );
  }
  if (input.companion) {
    const c = input.companion;
    body.push(
      `| Config \`${c.config}\` (${FORMAT_INFO[c.format].label}) | File | Rows |`,
      '| --- | --- | ---: |',
    );
    for (const f of c.files) body.push(`| ${f.split} | \`${f.path}\` | ${f.numExamples} |`);
    body.push('');
  }
  if (input.extraFiles?.length) {
    body.push(`Also in this folder: ${input.extraFiles.map((f) => `\`${f}\``).join(', ')}.`, '');
  }

  if (input.mix) body.push(...mixParagraphs(input.mix, input), '');

  body.push('## Statistics', '');
  body.push(`${s.pairs} pairs from ${s.instances} spec instances.`, '');
  body.push(...countTable('Case type', s.byCaseType, s.pairs), '');
  body.push(...countTable('Rule stage', s.byStage, s.pairs), '');
  body.push(...countTable('Rule direction', s.byDirection, s.pairs), '');
  body.push(
    'A pair that tests several rules counts once for each rule, and once for each distinct stage and direction among them, so those columns can add up to more than the number of pairs.',
    '',
  );
  body.push(...countTable('Rule', s.byRule, s.pairs), '');
  if (s.rulesWithoutPairs > 0)
    body.push(
      `${s.rulesWithoutPairs} accepted rule(s) of the spec have no pair in this dataset.`,
      '',
    );
  body.push(
    'Lengths in characters (prompt: the conversation turns, without the system prompt):',
    '',
  );
  body.push('| Measure | Min | Mean | Median | Max |', '| --- | ---: | ---: | ---: | ---: |');
  body.push(lengthRow('prompt', s.lengths.prompt));
  body.push(lengthRow('chosen', s.lengths.chosen));
  body.push(lengthRow('rejected', s.lengths.rejected));
  body.push(lengthRow('chosen / rejected (per pair)', s.lengths.ratio, 3));
  body.push('');
  body.push(
    `Total chosen characters / total rejected characters: ${s.lengths.ratio.ofTotals.toFixed(3)}.`,
  );
  const estimated = [s.lengths.prompt, s.lengths.chosen, s.lengths.rejected, s.lengths.ratio].some(
    (x) => !x.medianExact,
  );
  if (estimated) {
    body.push(
      `Medians marked ≈ are estimated from a uniform sample of ${s.reservoirSize} values (rank error about ±${(100 / Math.sqrt(s.reservoirSize)).toFixed(1)} %).`,
    );
  }
  body.push('');

  body.push('## Usage', '', '```python', 'from datasets import load_dataset', '');
  body.push('ds = load_dataset("path/to/this/folder")  # train / test');
  if (input.companion)
    body.push(
      `${input.companion.config} = load_dataset("path/to/this/folder", "${input.companion.config}")`,
    );
  if (input.evalFile) body.push('evals = load_dataset("path/to/this/folder", "eval")');
  body.push('```', '');

  body.push('## How it was made', '');
  body.push(
    'The method follows SpecAlign (arXiv 2606.16276): the spec is annotated into atomic rules (statement, direction, stage, domain, priority); small spec instances of 8–13 rules are sampled and rendered as system prompts; an attacker writes queries that probe a rule, a defender answers, and safety and quality judges decide which reply is chosen and which is rejected. Benign look-alike queries give over-refusal pairs (chosen: a helpful answer; rejected: a needless refusal).',
    '',
  );
  body.push('## Limitations', '');
  body.push(
    'The data is synthetic and was written and judged by language models, often small ones; review a sample before training. Pairs only cover the rules listed above, and the rules are an interpretation of the spec, not the spec itself.',
    '',
  );
  return `---\n${toYaml(cardMetadata(input))}---\n\n${body.join('\n')}`;
}
