/**
 * A Hugging Face-style dataset folder, streamed as a .zip (METHOD.md §4):
 *
 * ```
 * data/train.jsonl   rows of the chosen format, instances of the train split
 * data/test.jsonl    rows of the test split (no instance in both; see `createInstanceSplit`)
 * eval/eval.jsonl    held-out queries with their rules (config `eval`; see `eval-set.ts`)
 * rules.json         the rules, when a serializer is given
 * README.md          dataset card: front matter + statistics (written last, once they are known)
 * sft/train.jsonl    with a training mix: the other stage's share (config `sft`, or `dpo` when
 * sft/test.jsonl     the chosen format is an SFT one), in the same style's format
 * ```
 *
 * Rows go into the archive as they come (`fflate.Zip` + `ZipDeflate`, data descriptors, no
 * seeking back). A zip is sequential: while one entry is open, bytes of the entries after it
 * wait in memory. So:
 * - give a **source factory** (`() => pairs`) and the export reads the source once per file
 *   (train, then test, then eval): nothing waits, and memory stays constant (measured: about
 *   3–4 MB above baseline for 100k pairs, most of it one entry's DEFLATE state);
 * - give a plain iterable and it is read once; three entries are open at once (about 2.2 MB of
 *   DEFLATE state each) and the test and eval entries' *compressed* bytes wait until train is
 *   finished (about test fraction × compressed size, plus the eval set).
 * Statistics (of train + test) are gathered during the first read. fflate writes no ZIP64: keep archives under 4 GiB.
 */
import { Zip, ZipDeflate } from 'fflate';
import type { PreferencePair, Rule } from '../records';
import { renderDatasetCard, type CardFile, type DatasetCardInfo } from './dataset-card';
import { EmptyExportError } from './errors';
import { EvalDeduper, evalRow, isMarkedEval } from './eval-set';
import {
  FORMAT_INFO,
  pairLines,
  type ExportContext,
  type PairFormat,
  type RowOptions,
} from './formats';
import {
  emptyExportError,
  exportablePairs,
  LineChunker,
  throwIfAborted,
  type StreamCounters,
} from './pipeline';
import { companionFormat, stageOfFormat, type TrainingMix } from './mix';
import type { PairFilter, PairSource } from './select';
import {
  createInstanceSplit,
  DEFAULT_TEST_FRACTION,
  type DatasetSplit,
  type TrainingStage,
} from './splits';
import { DatasetStatsCollector, type DatasetStats } from './stats';

/** Turns rules into the rules file's text; pass `serializeRulesFile` from `core/rules/rules-file`. */
export type RulesSerializer = (rules: readonly Rule[]) => string;

/** Paths inside the archive. */
export const HF_PATHS = {
  train: 'data/train.jsonl',
  test: 'data/test.jsonl',
  eval: 'eval/eval.jsonl',
  rules: 'rules.json',
  card: 'README.md',
  /** The other stage's files of a training mix, by stage. */
  companion: {
    sft: { train: 'sft/train.jsonl', test: 'sft/test.jsonl' },
    dpo: { train: 'dpo/train.jsonl', test: 'dpo/test.jsonl' },
  },
} as const;

/**
 * Progress of a dataset export. With a source factory the source is read `passes` (3) times;
 * a UI bar can show `(pass + read / total) / passes`, `total` being the count of pairs the
 * source yields per read.
 */
export interface HfExportProgress {
  /** The file(s) being written in this read. */
  file: string;
  /** 0-based read number. */
  pass: number;
  passes: number;
  /** Pairs read from the source in this read (selected or not). */
  read: number;
  /** Rows written so far, all files together. */
  rows: number;
  /** Selected pairs that could not become rows. */
  skipped: number;
  /** Selected pairs refused because they carry no preference (see `pairProblem`). */
  refused: number;
  /** Selected pairs skipped because their stored provenance is corrupt. */
  corrupt: number;
  done: boolean;
}

/** Options of {@link exportHfDataset}. */
export interface HfDatasetOptions extends RowOptions {
  context: ExportContext;
  /** Row format of train/test. Default `trl-conversational`. */
  format?: PairFormat;
  /** Which pairs. Default: accepted only. */
  select?: PairFilter;
  /** Share of instances in test, [0, 1). Default 0.1. */
  testFraction?: number;
  /** Seed of the instance split. Default 0. */
  seed?: number | string;
  /** Write `eval/eval.jsonl` and its config. Default true (skipped when nothing is held out). */
  includeEval?: boolean;
  /** Write `rules.json` with this serializer (rules: `rules` or every rule of the context). */
  rulesFile?: { serialize: RulesSerializer; rules?: readonly Rule[] };
  /**
   * What the card says about the dataset. A function is called once the pairs are read, so the
   * card can state what the reads found (stale pairs left out, the changelog).
   */
  card?: DatasetCardInfo | (() => DatasetCardInfo);
  /** DEFLATE level 0–9. Default 6. */
  level?: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
  /**
   * Modification time stored for every entry. Default: now. Fix it for byte-identical archives.
   * ZIP (DOS) times cover 1980–2099 in local time; values outside are clamped to that range.
   */
  mtime?: Date | number;
  /** Approximate characters per DEFLATE push. Default 65,536. */
  chunkChars?: number;
  signal?: AbortSignal;
  /** Called every 1,000 pairs read, after each read and once at the end (`done: true`). */
  onProgress?: (progress: HfExportProgress) => void;
  /** Receives the statistics once the first read is over (the worker can show them). */
  onStats?: (stats: DatasetStats) => void;
  /**
   * The training mix (`planTrainingMix` over the same source and selection). The default config
   * then holds the kept pairs of the format's stage; the other stage's kept pairs go to a second
   * config (`sft/…` or `dpo/…`, see {@link companionFormat}); removed pairs are in neither. The
   * eval set is not affected. The card records the mix.
   */
  mix?: TrainingMix;
}

/** Files of the default config, of the mix's other stage (`c…`), and the eval set. */
type Target = DatasetSplit | 'ctrain' | 'ctest' | 'eval';

const ZIP_MIN = new Date(1980, 0, 1, 0, 0, 0).getTime();
const ZIP_MAX = new Date(2099, 11, 31, 23, 59, 58).getTime();

/** The entry time, clamped to what a ZIP (DOS) timestamp can hold. */
function zipTime(mtime: Date | number | undefined): number {
  const t = mtime === undefined ? Date.now() : new Date(mtime).getTime();
  return Math.min(ZIP_MAX, Math.max(ZIP_MIN, Number.isFinite(t) ? t : Date.now()));
}

/** One archive entry being written. */
class Entry {
  readonly file: ZipDeflate;
  readonly chunker: LineChunker;
  rows = 0;
  bytes = 0;
  constructor(
    readonly path: string,
    zip: Zip,
    options: HfDatasetOptions,
    readonly encoder: TextEncoder,
  ) {
    this.file = new ZipDeflate(path, { level: options.level ?? 6 });
    this.file.mtime = zipTime(options.mtime);
    zip.add(this.file);
    this.chunker = new LineChunker(options.chunkChars);
  }
  line(text: string): void {
    this.rows++;
    const chunk = this.chunker.push(text);
    if (chunk !== undefined) this.#push(chunk, false);
  }
  close(): void {
    this.#push(this.chunker.flush(), true);
  }
  #push(text: string, final: boolean): void {
    const bytes = this.encoder.encode(text);
    this.bytes += bytes.length;
    this.file.push(bytes, final);
  }
}

/** Adds one whole file to the archive. */
function addWhole(
  zip: Zip,
  path: string,
  text: string,
  options: HfDatasetOptions,
  encoder: TextEncoder,
): void {
  const file = new ZipDeflate(path, { level: options.level ?? 6 });
  file.mtime = zipTime(options.mtime);
  zip.add(file);
  file.push(encoder.encode(text), true);
}

/**
 * Streams a Hugging Face-style dataset folder as .zip bytes (see the module comment).
 *
 * @param source the pairs, or a function returning a fresh read of them (preferred: constant memory).
 * @throws EmptyExportError before yielding anything when no pair can be exported.
 * @throws AbortedError when `options.signal` fires.
 */
export async function* exportHfDataset(
  source: PairSource | (() => PairSource),
  options: HfDatasetOptions,
): AsyncGenerator<Uint8Array, void, undefined> {
  const format = options.format ?? 'trl-conversational';
  const testFraction = options.testFraction ?? DEFAULT_TEST_FRACTION;
  const seed = options.seed ?? 0;
  const includeEval = options.includeEval ?? true;
  const includeSystem = options.includeSystem ?? FORMAT_INFO[format].conversational;
  const rowOptions: RowOptions = { includeSystem, provenance: options.provenance ?? false };
  const splitOf = createInstanceSplit(options.context.instances.keys(), { testFraction, seed });
  const mix = options.mix;
  const stage = stageOfFormat(format);
  const otherStage: TrainingStage = stage === 'dpo' ? 'sft' : 'dpo';
  const otherFormat = companionFormat(format);
  if (mix && mix.summary.considered > 0 && mix.summary[stage] === 0) {
    throw new EmptyExportError(
      `Nothing to export: the training mix leaves no pair for ${stage.toUpperCase()}, the stage of ${FORMAT_INFO[format].label} (${mix.summary.kept} kept pair${mix.summary.kept === 1 ? ' goes' : 's go'} to ${otherStage.toUpperCase()}). Change the SFT:DPO parts, or choose ${stage === 'dpo' ? 'an SFT' : 'a preference'} format.`,
    );
  }
  const withCompanion = !!mix && mix.summary[otherStage] > 0;
  const paths: Record<Target, string> = {
    train: HF_PATHS.train,
    test: HF_PATHS.test,
    ctrain: HF_PATHS.companion[otherStage].train,
    ctest: HF_PATHS.companion[otherStage].test,
    eval: HF_PATHS.eval,
  };
  const targetsOf = (
    pair: PreferencePair,
  ): { data?: DatasetSplit; companion?: boolean; eval: boolean } => {
    const split = splitOf(pair.instanceId);
    if (isMarkedEval(pair)) return { eval: includeEval };
    const evalToo = includeEval && split === 'test';
    if (!mix) return { data: split, eval: evalToo };
    const pairStage = mix.stageOf(pair.id);
    if (pairStage === undefined) return { eval: evalToo };
    return { data: split, companion: pairStage !== stage, eval: evalToo };
  };

  const encoder = new TextEncoder();
  const out: Uint8Array[] = [];
  let zipError: Error | undefined;
  let zip: Zip | undefined;
  const openZip = (): Zip =>
    (zip ??= new Zip((error, chunk) => {
      if (error) zipError ??= error;
      else out.push(chunk);
    }));
  function* drain(): Generator<Uint8Array> {
    if (zipError) throw zipError;
    while (out.length) yield out.shift() as Uint8Array;
  }

  const entries = new Map<Target, Entry>();
  const entry = (target: Target): Entry => {
    let e = entries.get(target);
    if (!e) {
      e = new Entry(paths[target], openZip(), options, encoder);
      entries.set(target, e);
    }
    return e;
  };
  const stats = new DatasetStatsCollector(options.context);
  /** Instances written per data split, for a card that describes what the zip holds. */
  const splitInstances = { train: new Set<string>(), test: new Set<string>() };
  const deduper = new EvalDeduper();
  let rows = 0;
  let skipped = 0;
  let refused = 0;
  let corrupt = 0;

  /** Writes one pair to the active targets' files; true when it belongs to any file at all. */
  const write = (
    pair: PreferencePair,
    active: ReadonlySet<Target>,
    countStats: boolean,
  ): boolean => {
    const t = targetsOf(pair);
    // Statistics describe the training data (train + test); eval-only pairs are not in it.
    if (countStats && t.data) {
      stats.add(pair, t.data);
      splitInstances[t.data].add(pair.instanceId);
    }
    const target: Target | undefined = t.data && (t.companion ? `c${t.data}` : t.data);
    if (target && active.has(target)) {
      const e = entry(target);
      const rowFormat = t.companion ? otherFormat : format;
      for (const line of pairLines(pair, rowFormat, options.context, rowOptions)) {
        e.line(line);
        rows++;
      }
    }
    if (t.eval && active.has('eval')) {
      const row = evalRow(pair, options.context);
      if (deduper.firstTime(row)) {
        entry('eval').line(JSON.stringify(row));
        rows++;
      }
    }
    return t.data !== undefined || t.eval;
  };

  // One read per file with a factory (nothing waits in memory), else one read for all files.
  const passes: Target[][] =
    typeof source === 'function'
      ? withCompanion
        ? [['train'], ['test'], ['ctrain'], ['ctest'], ['eval']]
        : [['train'], ['test'], ['eval']]
      : [['train', 'test', 'ctrain', 'ctest', 'eval']];
  for (const [pass, targets] of passes.entries()) {
    const active = new Set(targets);
    const file = targets.map((t) => paths[t]).join(', ');
    let read = 0;
    const progress = (done: boolean): void =>
      options.onProgress?.({
        file,
        pass,
        passes: passes.length,
        read,
        rows,
        skipped,
        refused,
        corrupt,
        done,
      });
    const counters: StreamCounters = { pairs: 0, rows: 0, skipped: 0 };
    const raw = typeof source === 'function' ? source() : source;
    const counted = (async function* () {
      for await (const pair of raw) {
        read++;
        yield pair;
      }
    })();
    let exportable = 0;
    for await (const pair of exportablePairs(counted, options.select, counters, options.signal)) {
      if (write(pair, active, pass === 0)) exportable++;
      yield* drain();
      if (read % 1000 === 0) progress(false);
    }
    if (pass === 0) {
      skipped = counters.skipped;
      refused = counters.refused ?? 0;
      corrupt = counters.corrupt ?? 0;
      // Nothing has been yielded yet when no pair belongs to any file: no archive at all.
      if (exportable === 0) throw emptyExportError(counters);
      options.onStats?.(stats.result());
    }
    for (const target of targets) entries.get(target)?.close();
    yield* drain();
    progress(false);
  }
  throwIfAborted(options.signal);

  const fileOf = (target: Target, split: string): CardFile | undefined => {
    const e = entries.get(target);
    return e && { split, path: e.path, numExamples: e.rows, numBytes: e.bytes };
  };
  const files = [fileOf('train', 'train'), fileOf('test', 'test')].filter(
    (f): f is CardFile => !!f,
  );
  const evalFile = fileOf('eval', 'test');
  const companionFiles = [fileOf('ctrain', 'train'), fileOf('ctest', 'test')].filter(
    (f): f is CardFile => !!f,
  );
  const rulesFile = options.rulesFile;
  const archive = openZip();
  if (rulesFile) {
    const rules = rulesFile.rules ?? [...options.context.rules.values()];
    addWhole(archive, HF_PATHS.rules, rulesFile.serialize(rules), options, encoder);
  }
  const card = renderDatasetCard({
    ...(typeof options.card === 'function' ? options.card() : options.card),
    format,
    provenance: rowOptions.provenance ?? false,
    includeSystem,
    files,
    ...(evalFile ? { evalFile } : {}),
    ...(rulesFile ? { extraFiles: [HF_PATHS.rules] } : {}),
    stats: stats.result(),
    split: { testFraction, seed },
    splitInstances: { train: splitInstances.train.size, test: splitInstances.test.size },
    evalRequested: includeEval,
    ...(mix ? { mix: mix.summary } : {}),
    ...(companionFiles.length
      ? { companion: { config: otherStage, format: otherFormat, files: companionFiles } }
      : {}),
  });
  addWhole(archive, HF_PATHS.card, card, options, encoder);
  archive.end();
  yield* drain();
  options.onProgress?.({
    file: HF_PATHS.card,
    pass: passes.length - 1,
    passes: passes.length,
    read: 0,
    rows,
    skipped,
    refused,
    corrupt,
    done: true,
  });
}
