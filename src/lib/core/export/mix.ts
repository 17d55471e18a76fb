/**
 * The training mix (METHOD.md §3–4): what of the selected pairs goes into training and for which
 * stage. Three steps, in this order, over the pairs an export would write (selected, exportable,
 * not marked eval):
 *
 * 1. **Length balancing.** DPO rewards whatever separates chosen from rejected, length included:
 *    a chosen reply systematically longer than the rejected one teaches verbosity. The per-pair
 *    chosen/rejected character ratio must lie in [minRatio, maxRatio]. Mode `apply` drops the
 *    pairs outside; `report` only counts them (over-refusal pairs — a helpful answer against a
 *    one-line refusal — are outside almost any bounds, which is why `report` is the default).
 *    Balancing runs first so a dropped pair never stands in as the kept copy of a duplicate.
 * 2. **Near-duplicates across all runs** (`near-duplicates.ts`: MinHash + LSH over the prompt's
 *    turns): of a group of near-identical queries the earliest pair stays.
 * 3. **SFT:DPO split** of what is left, exact (`createStageSplit`): `round(n × sft/(sft+dpo))`
 *    pairs feed SFT (prompt + chosen), the rest DPO; seeded, so exporting again gives the same
 *    division.
 *
 * The plan holds ids and a few numbers per pair (plus the MinHash index while it is built), never
 * the pairs, so it is computed in one streaming read before the export's own reads.
 */
import type { PreferencePair } from '../records';
import { isMarkedEval } from './eval-set';
import { FORMAT_INFO, type PairFormat } from './formats';
import {
  CROSS_RUN_THRESHOLD,
  LSH_BANDS,
  LSH_ROWS,
  MINHASH_PERMUTATIONS,
  NearDuplicateIndex,
} from './near-duplicates';
import { exportablePairs, type StreamCounters } from './pipeline';
import type { PairFilter, PairSource } from './select';
import {
  createStageSplit,
  PAPER_STAGE_PARTS,
  sftShareOf,
  type StageParts,
  type TrainingStage,
} from './splits';

/** `apply`: pairs outside the bounds are dropped; `report`: only counted. */
export type BalanceMode = 'apply' | 'report';

/** Bounds on the per-pair chosen/rejected length ratio (characters). */
export interface LengthBalance {
  minRatio: number;
  maxRatio: number;
  mode: BalanceMode;
}

/** Cross-run near-duplicate removal. */
export interface DedupSettings {
  enabled: boolean;
  /** Estimated Jaccard similarity of word 3-gram shingles at or above which prompts are duplicates. */
  threshold: number;
}

/** Everything the Export screen sets about the mix. */
export interface MixSettings {
  parts: StageParts;
  balance: LengthBalance;
  dedup: DedupSettings;
  /** Seed of the SFT:DPO split (the export's seed). */
  seed: number;
}

/** The method's defaults: SFT:DPO 1:3, ratio bounds ½–2 reported only, duplicates at 0.8 removed. */
export const DEFAULT_MIX: MixSettings = {
  parts: PAPER_STAGE_PARTS,
  balance: { minRatio: 0.5, maxRatio: 2, mode: 'report' },
  dedup: { enabled: true, threshold: CROSS_RUN_THRESHOLD },
  seed: 0,
};

/** A mix setting a user typed that cannot work; the message says which and why. */
export class MixSettingsError extends RangeError {
  override name = 'MixSettingsError';
}

/** The SFT share of valid settings; throws {@link MixSettingsError} naming the first bad field. */
export function checkMixSettings(settings: MixSettings): number {
  const share = sftShareOf(settings.parts);
  if (typeof share === 'string') throw new MixSettingsError(share);
  const { minRatio, maxRatio } = settings.balance;
  if (!(Number.isFinite(minRatio) && minRatio > 0))
    throw new MixSettingsError(
      `The lowest chosen/rejected length ratio must be a number above 0 (got ${minRatio}).`,
    );
  if (!(Number.isFinite(maxRatio) && maxRatio >= minRatio))
    throw new MixSettingsError(
      `The highest chosen/rejected length ratio must be at least the lowest, ${minRatio} (got ${maxRatio}).`,
    );
  const t = settings.dedup.threshold;
  if (settings.dedup.enabled && !(t > 0 && t <= 1))
    throw new MixSettingsError(
      `The near-duplicate similarity must be above 0 and at most 1 (got ${t}).`,
    );
  if (!Number.isFinite(settings.seed))
    throw new MixSettingsError(`The seed must be a number (got ${settings.seed}).`);
  return share;
}

/**
 * Edges of the ratio histogram: powers of √2 from ⅛ to 8, so ½, 1 and 2 are edges and a ratio
 * and its inverse sit symmetrically. Bin 0 is below the first edge, the last bin at or above the
 * last.
 */
export const RATIO_EDGES: readonly number[] = Array.from({ length: 13 }, (_, k) =>
  Number((2 ** ((k - 6) / 2)).toFixed(4)),
);

/** The histogram bin of a ratio (see {@link RATIO_EDGES}). */
export function ratioBin(ratio: number): number {
  let bin = 0;
  while (bin < RATIO_EDGES.length && ratio >= (RATIO_EDGES[bin] as number)) bin++;
  return bin;
}

/** A pair's chosen/rejected length ratio (∞ for an empty rejected reply). */
export function lengthRatio(pair: PreferencePair): number {
  return pair.rejected.length > 0 ? pair.chosen.length / pair.rejected.length : Infinity;
}

/** The text the near-duplicate check compares: the conversation turns, without the system prompt. */
export function dedupText(pair: PreferencePair): string {
  return pair.prompt
    .filter((m) => m.role !== 'system')
    .map((m) => m.content)
    .join('\n');
}

/** The stage a format trains: SFT formats carry no rejected reply; every other format is preference data. */
export function stageOfFormat(format: PairFormat): TrainingStage {
  return FORMAT_INFO[format].usesRejected ? 'dpo' : 'sft';
}

/**
 * The format of the other stage's file in a dataset folder: the SFT or DPO format of the same
 * style (messages or strings) as `format`.
 */
export function companionFormat(format: PairFormat): PairFormat {
  const conversational = FORMAT_INFO[format].conversational;
  if (stageOfFormat(format) === 'dpo')
    return conversational ? 'sft-messages' : 'sft-prompt-completion';
  return conversational ? 'trl-conversational' : 'trl-standard';
}

/** What a mix did: plain data, for the Export screen, the dataset card and tests. */
export interface MixSummary {
  settings: MixSettings;
  /** `sft / (sft + dpo)`. */
  sftShare: number;
  /** Pairs the mix looked at (selected, exportable, not marked eval). */
  considered: number;
  /** Pairs whose length ratio is outside the bounds (removed only in mode `apply`). */
  lengthOutside: number;
  /** Pairs removed by length balancing (0 in mode `report`). */
  lengthRemoved: number;
  /** Pairs removed as near-duplicates of an earlier pair. */
  duplicates: number;
  /** Pairs removed as duplicates whose kept copy is from another run. */
  crossRunDuplicates: number;
  /** Pairs left, and how they divide. */
  kept: number;
  sft: number;
  dpo: number;
  /** Ratio histogram of the considered pairs: `counts[i]` below `edges[i]` (last: at or above the last edge). */
  ratio: { edges: number[]; counts: number[] };
  /** How duplicates are found, in words (the card quotes it). */
  dedupMethod: string;
}

/** A computed mix: its summary and each pair's fate. */
export interface TrainingMix {
  summary: MixSummary;
  /** The stage of a kept pair; `undefined` for a removed pair or one the mix never saw. */
  stageOf(pairId: string): TrainingStage | undefined;
  /** Why a pair was removed, if it was. */
  removalOf(pairId: string): 'length' | 'duplicate' | undefined;
}

/** The near-duplicate method in words. */
export function describeDedup(threshold: number): string {
  return `MinHash (${MINHASH_PERMUTATIONS} permutations) with LSH banding (${LSH_BANDS} bands × ${LSH_ROWS} rows) over word 3-gram shingles of the prompt's turns; estimated Jaccard ≥ ${threshold}; across all runs; the earliest pair of a group is kept`;
}

/** Builds a {@link TrainingMix} one pair at a time, in the order that decides which copy stays. */
export class TrainingMixPlanner {
  readonly #settings: MixSettings;
  readonly #share: number;
  readonly #counts: number[] = new Array<number>(RATIO_EDGES.length + 1).fill(0);
  readonly #removed = new Map<string, 'length' | 'duplicate'>();
  readonly #index: NearDuplicateIndex | undefined;
  /** Ids of the pairs still in, in order (the index's item numbers when deduplicating). */
  readonly #ids: string[] = [];
  readonly #runs: string[] = [];
  #considered = 0;
  #outside = 0;

  /** @throws MixSettingsError for settings that cannot work. */
  constructor(settings: MixSettings) {
    this.#share = checkMixSettings(settings);
    this.#settings = structuredClone(settings);
    this.#index = settings.dedup.enabled
      ? new NearDuplicateIndex(settings.dedup.threshold)
      : undefined;
  }

  add(pair: PreferencePair): void {
    this.#considered++;
    const ratio = lengthRatio(pair);
    const bin = ratioBin(ratio);
    this.#counts[bin] = (this.#counts[bin] ?? 0) + 1;
    const { minRatio, maxRatio, mode } = this.#settings.balance;
    if (!(ratio >= minRatio && ratio <= maxRatio)) {
      this.#outside++;
      if (mode === 'apply') {
        this.#removed.set(pair.id, 'length');
        return;
      }
    }
    this.#index?.add(dedupText(pair));
    this.#ids.push(pair.id);
    this.#runs.push(pair.runId);
  }

  finish(): TrainingMix {
    let duplicates = 0;
    let crossRun = 0;
    let kept = this.#ids;
    if (this.#index) {
      const { duplicateOf } = this.#index.resolve();
      kept = [];
      this.#ids.forEach((id, i) => {
        const of = duplicateOf[i] as number;
        if (of < 0) kept.push(id);
        else {
          duplicates++;
          if (this.#runs[of] !== this.#runs[i]) crossRun++;
          this.#removed.set(id, 'duplicate');
        }
      });
    }
    const stageOf = createStageSplit(kept, this.#share, this.#settings.seed);
    const sft = kept.reduce((n, id) => n + (stageOf(id) === 'sft' ? 1 : 0), 0);
    const removed = this.#removed;
    const summary: MixSummary = {
      settings: this.#settings,
      sftShare: this.#share,
      considered: this.#considered,
      lengthOutside: this.#outside,
      lengthRemoved: this.#settings.balance.mode === 'apply' ? this.#outside : 0,
      duplicates,
      crossRunDuplicates: crossRun,
      kept: kept.length,
      sft,
      dpo: kept.length - sft,
      ratio: { edges: [...RATIO_EDGES], counts: [...this.#counts] },
      dedupMethod: this.#settings.dedup.enabled
        ? describeDedup(this.#settings.dedup.threshold)
        : 'off',
    };
    return { summary, stageOf, removalOf: (id) => removed.get(id) };
  }
}

/** Options of {@link planTrainingMix}. */
export interface PlanMixOptions {
  settings: MixSettings;
  /** The export's selection (the same filter the export will apply). */
  select?: PairFilter;
  signal?: AbortSignal;
}

/**
 * Reads `source` once and plans the mix over the pairs an export of `select` would write
 * (exportable, not marked eval), in source order (the worker reads in creation order, so the
 * earliest copy of a duplicate stays).
 *
 * @throws MixSettingsError for settings that cannot work; AbortedError when `signal` fires.
 */
export async function planTrainingMix(
  source: PairSource,
  options: PlanMixOptions,
): Promise<TrainingMix> {
  const planner = new TrainingMixPlanner(options.settings);
  const counters: StreamCounters = { pairs: 0, rows: 0, skipped: 0 };
  for await (const pair of exportablePairs(source, options.select, counters, options.signal))
    if (!isMarkedEval(pair)) planner.add(pair);
  return planner.finish();
}
