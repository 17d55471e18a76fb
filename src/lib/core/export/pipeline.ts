/**
 * Streaming JSONL exporters. A source of pairs goes in (the worker reads Dexie page by page);
 * chunks of JSONL text come out, each about `chunkChars` long, to be written to a stream or
 * collected as Blob parts. At any moment the pipeline holds one pair's rows and one chunk of
 * output, whatever the number of pairs.
 *
 * Nothing is yielded before the first exportable pair is found, and a selection that yields none
 * throws {@link EmptyExportError} instead of producing an empty file. Open the destination file
 * only once the first chunk arrives.
 */
import { AbortedError } from '../errors';
import { readPairProvenance } from '../stored/pair-provenance';
import { pairProblem, storedPairForCheck } from '../synthesis/pair-checks';
import type { PreferencePair } from '../records';
import { unexportableReason } from './conversation';
import { EmptyExportError } from './errors';
import { EvalDeduper, evalRow, isMarkedEval } from './eval-set';
import {
  FORMAT_INFO,
  pairLines,
  type ExportContext,
  type PairFormat,
  type RowOptions,
} from './formats';
import type { TrainingMix } from './mix';
import { toPredicate, type PairFilter, type PairSource } from './select';
import { createInstanceSplit, type InstanceSplitOptions } from './splits';

/** How far an export has got. */
export interface ExportProgress {
  /** Pairs exported so far. */
  pairs: number;
  /** JSONL rows written so far (two per pair for KTO). */
  rows: number;
  /** Selected pairs left out because they cannot form a row (see `unexportableReason`). */
  skipped: number;
  /** Selected pairs refused because they carry no preference (see `pairProblem`). */
  refused: number;
  /** Selected pairs skipped because their stored provenance is corrupt (see `readPairProvenance`). */
  corrupt: number;
  /** True on the last report. */
  done: boolean;
}

/** Options every streaming exporter understands. */
export interface StreamOptions {
  /** The instances and rules the pairs refer to. */
  context: ExportContext;
  /** Which pairs to export. Default: accepted pairs only (see `filterPairs`). */
  select?: PairFilter;
  /** Approximate characters per yielded chunk. Default 65,536. */
  chunkChars?: number;
  /** Stops the export between two pairs with {@link AbortedError}. */
  signal?: AbortSignal;
  /** Called after every chunk and once at the end (`done: true`). */
  onProgress?: (progress: ExportProgress) => void;
}

/** Options of {@link exportPairs}. */
export interface ExportPairsOptions extends StreamOptions, RowOptions {
  /** Also export pairs marked as eval queries (held out by default; see `isMarkedEval`). */
  includeMarkedEval?: boolean;
  /**
   * The training mix (`planTrainingMix`, planned over the same source and selection): only its
   * kept pairs of the format's stage are written (SFT formats: the SFT share; preference
   * formats: the DPO share). Pairs it never saw, marked eval ones included, are left out.
   */
  mix?: TrainingMix;
}

/** Default size of a yielded chunk, in characters. */
export const DEFAULT_CHUNK_CHARS = 65_536;

/** Counters shared by a stream and its error messages. */
export interface StreamCounters {
  pairs: number;
  rows: number;
  skipped: number;
  firstSkip?: string;
  /** Pairs refused because chosen and rejected carry no preference (issue 10 §8). */
  refused?: number;
  firstRefusal?: string;
  /** Pairs whose stored record fails its schema (reported and skipped). */
  corrupt?: number;
  firstCorrupt?: string;
}

/** Throws {@link AbortedError} when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError('Export cancelled.');
}

/**
 * The selected pairs that can become rows, one at a time: applies the filter, skips (and counts)
 * unusable pairs, checks for cancellation between pairs.
 */
export async function* exportablePairs(
  source: PairSource,
  filter: PairFilter | undefined,
  counters: StreamCounters,
  signal?: AbortSignal,
): AsyncGenerator<PreferencePair, void, undefined> {
  const keep = toPredicate(filter);
  for await (const pair of source) {
    throwIfAborted(signal);
    if (!keep(pair)) continue;
    const reason = unexportableReason(pair);
    if (reason) {
      counters.skipped++;
      counters.firstSkip ??= `pair ${pair.id}: ${reason}`;
      continue;
    }
    const provenance = readPairProvenance(pair.provenance, pair.id);
    if (!provenance.ok) {
      counters.corrupt = (counters.corrupt ?? 0) + 1;
      counters.firstCorrupt ??= provenance.error.message;
      continue;
    }
    // A pair without a preference would teach nothing (DPO) or contradict itself (KTO).
    const problem = pairProblem(storedPairForCheck(pair, provenance.value));
    if (problem) {
      counters.refused = (counters.refused ?? 0) + 1;
      counters.firstRefusal ??= `pair ${pair.id}: ${problem}`;
      continue;
    }
    yield pair;
  }
  throwIfAborted(signal);
}

/** The error for a stream that produced no row. */
export function emptyExportError(
  counters: StreamCounters,
  what = 'preference pair',
): EmptyExportError {
  const refused = counters.refused ?? 0;
  const corrupt = counters.corrupt ?? 0;
  if (corrupt > 0 && counters.skipped === 0 && refused === 0) {
    return new EmptyExportError(
      `Nothing to export: ${corrupt} selected pair${corrupt === 1 ? ' is' : 's are'} unreadable (first: ${counters.firstCorrupt ?? 'unknown'})`,
      corrupt,
    );
  }
  if (refused > 0 && counters.skipped === 0) {
    return new EmptyExportError(
      `Nothing to export: ${refused} selected pair${refused === 1 ? ' carries' : 's carry'} no preference (first: ${counters.firstRefusal ?? 'unknown'}). Edit or reject them in Review and export again.`,
      refused,
    );
  }
  if (counters.skipped > 0) {
    return new EmptyExportError(
      `Nothing to export: ${counters.skipped} selected pair${counters.skipped === 1 ? '' : 's'} could not be turned into training rows (first: ${counters.firstSkip ?? 'unknown'}). Fix or reject them and export again.`,
      counters.skipped,
    );
  }
  return new EmptyExportError(
    `Nothing to export: no ${what} matches the selection. Accept some pairs (or include pending ones) and export again.`,
  );
}

/** Joins lines into chunks of about `size` characters. */
export class LineChunker {
  #lines: string[] = [];
  #chars = 0;
  constructor(readonly size = DEFAULT_CHUNK_CHARS) {}

  /** Adds one line (newline appended); returns a chunk once enough text has gathered. */
  push(line: string): string | undefined {
    this.#lines.push(line, '\n');
    this.#chars += line.length + 1;
    return this.#chars >= this.size ? this.flush() : undefined;
  }

  /** The gathered text (possibly `''`), and a fresh buffer. */
  flush(): string {
    const chunk = this.#lines.join('');
    this.#lines = [];
    this.#chars = 0;
    return chunk;
  }
}

function report(options: StreamOptions, c: StreamCounters, done: boolean): void {
  options.onProgress?.({
    pairs: c.pairs,
    rows: c.rows,
    skipped: c.skipped,
    refused: c.refused ?? 0,
    corrupt: c.corrupt ?? 0,
    done,
  });
}

/**
 * Streams the selected pairs of `source` as JSONL in `format`.
 *
 * @returns chunks of JSONL text, each a whole number of `\n`-terminated lines.
 * @throws EmptyExportError before yielding anything when no pair can be exported.
 * @throws AbortedError when `options.signal` fires.
 */
export async function* exportPairs(
  source: PairSource,
  format: PairFormat,
  options: ExportPairsOptions,
): AsyncGenerator<string, void, undefined> {
  const counters: StreamCounters = { pairs: 0, rows: 0, skipped: 0 };
  const chunker = new LineChunker(options.chunkChars);
  const rowOptions: RowOptions = {
    ...(options.includeSystem !== undefined ? { includeSystem: options.includeSystem } : {}),
    provenance: options.provenance ?? false,
  };
  const markedEvalToo = options.includeMarkedEval ?? false;
  const mix = options.mix;
  const stage = FORMAT_INFO[format].usesRejected ? 'dpo' : 'sft';
  let heldOut = 0;
  let mixedOut = 0;
  for await (const pair of exportablePairs(source, options.select, counters, options.signal)) {
    if (!markedEvalToo && isMarkedEval(pair)) {
      heldOut++;
      continue;
    }
    if (mix && mix.stageOf(pair.id) !== stage) {
      mixedOut++;
      continue;
    }
    counters.pairs++;
    for (const line of pairLines(pair, format, options.context, rowOptions)) {
      counters.rows++;
      const chunk = chunker.push(line);
      if (chunk !== undefined) {
        yield chunk;
        report(options, counters, false);
      }
    }
  }
  if (counters.rows === 0) {
    if (heldOut > 0 && counters.skipped === 0 && !counters.refused && !counters.corrupt) {
      throw new EmptyExportError(
        `Nothing to export: all ${heldOut} selected pair${heldOut === 1 ? ' is' : 's are'} marked as evaluation queries and held out of training files. Export the eval set instead, or include them explicitly.`,
      );
    }
    if (mixedOut > 0 && counters.pairs === 0) {
      const other = stage === 'dpo' ? 'SFT' : 'DPO';
      throw new EmptyExportError(
        `Nothing to export: the training mix leaves no pair for ${stage.toUpperCase()} (${mixedOut} selected pair${mixedOut === 1 ? ' goes' : 's go'} to ${other} or ${mixedOut === 1 ? 'was' : 'were'} removed). Change the SFT:DPO parts, the length bounds or the duplicate threshold, or choose ${stage === 'dpo' ? 'an SFT' : 'a preference'} format.`,
      );
    }
    throw emptyExportError(counters);
  }
  const rest = chunker.flush();
  if (rest) yield rest;
  report(options, counters, true);
}

/** Options of {@link exportEvalSet}. */
export interface EvalExportOptions extends StreamOptions {
  /** The instance split; use the same options as the dataset export so the test split matches. */
  split?: InstanceSplitOptions;
}

/**
 * Streams the eval set as JSONL (`{"instance_id", "system", "messages", "rule_ids",
 * "case_type"}` per line): the queries of test-split instances and of pairs marked eval,
 * deduplicated per instance and rule set (see `eval-set.ts`).
 *
 * @throws EmptyExportError when no selected pair is held out (e.g. a single instance, which
 *   always stays in train, and no pair marked eval).
 */
export async function* exportEvalSet(
  source: PairSource,
  options: EvalExportOptions,
): AsyncGenerator<string, void, undefined> {
  const counters: StreamCounters = { pairs: 0, rows: 0, skipped: 0 };
  const chunker = new LineChunker(options.chunkChars);
  const splitOf = createInstanceSplit(options.context.instances.keys(), options.split);
  const deduper = new EvalDeduper();
  for await (const pair of exportablePairs(source, options.select, counters, options.signal)) {
    if (splitOf(pair.instanceId) !== 'test' && !isMarkedEval(pair)) continue;
    counters.pairs++;
    const row = evalRow(pair, options.context);
    if (!deduper.firstTime(row)) continue;
    counters.rows++;
    const chunk = chunker.push(JSON.stringify(row));
    if (chunk !== undefined) {
      yield chunk;
      report(options, counters, false);
    }
  }
  if (counters.rows === 0) {
    throw (counters.skipped > 0 || (counters.refused ?? 0) > 0 || (counters.corrupt ?? 0) > 0) &&
      counters.pairs === 0
      ? emptyExportError(counters)
      : new EmptyExportError(
          'No held-out queries to export: none of the selected pairs belongs to a test-split instance or is marked eval. Raise the test fraction, or create more instances (a lone instance always stays in train).',
        );
  }
  const rest = chunker.flush();
  if (rest) yield rest;
  report(options, counters, true);
}

/** UTF-8 encodes a stream of text chunks (for sinks that take bytes). */
export async function* encodeUtf8(
  chunks: AsyncIterable<string>,
): AsyncGenerator<Uint8Array, void, undefined> {
  const encoder = new TextEncoder();
  for await (const chunk of chunks) yield encoder.encode(chunk);
}
