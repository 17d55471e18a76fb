/**
 * Dataset statistics in one streaming pass, in memory that does not grow with the number of
 * pairs: a counter per category (rules, stages, directions, case types, splits — all bounded by
 * the project, not the data) and, per length measure, running count/min/max/sum plus a fixed-size
 * reservoir sample for the median.
 *
 * **Median.** Exact while a measure has seen at most `reservoirSize` values (default 8,192: the
 * reservoir then holds every value). Beyond that it is the median of a uniform random sample of
 * `reservoirSize` values (Vitter's algorithm R, seeded, so the same data gives the same number):
 * its rank error is about ±1.1 % of n (2σ ≈ 1/√reservoirSize). `medianExact` says which.
 * Min, max and mean are always exact.
 *
 * **Lengths** are JavaScript string lengths (UTF-16 code units; equal to characters outside
 * astral-plane text such as emoji). The prompt length counts the conversation turns only: the
 * system prompt is the instance, constant across its pairs. The chosen/rejected ratio is per pair
 * (`chosen.length / rejected.length`); `ofTotals` is total chosen over total rejected characters.
 */
import {
  RULE_STAGES,
  type CaseType,
  type PreferencePair,
  type RuleDirection,
  type RuleStage,
} from '../records';
import { promptLength } from './conversation';
import type { ExportContext } from './formats';
import { mulberry32 } from '../hash';

/** Summary of one numeric measure. All zero when `count` is 0. */
export interface SummaryStats {
  count: number;
  min: number;
  mean: number;
  median: number;
  max: number;
  /** False once more values were seen than the reservoir holds (the median is then estimated). */
  medianExact: boolean;
}

/** Default reservoir size per measure (4 measures × 8,192 × 8 bytes = 256 KiB). */
export const DEFAULT_RESERVOIR_SIZE = 8192;

/**
 * Count, min, max, mean and median of a stream of numbers in constant memory (see the module
 * comment for the median's accuracy).
 */
export class StreamingSummary {
  readonly #sample: Float64Array;
  readonly #random: () => number;
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;

  constructor(reservoirSize = DEFAULT_RESERVOIR_SIZE, seed = 1) {
    if (!Number.isInteger(reservoirSize) || reservoirSize < 1)
      throw new RangeError(`The reservoir size must be a positive integer (got ${reservoirSize}).`);
    this.#sample = new Float64Array(reservoirSize);
    this.#random = mulberry32(seed);
  }

  /** Values seen so far. */
  get count(): number {
    return this.#count;
  }

  /** Adds one value (non-finite values are ignored). */
  add(value: number): void {
    if (!Number.isFinite(value)) return;
    const size = this.#sample.length;
    if (this.#count < size) this.#sample[this.#count] = value;
    else {
      const j = Math.floor(this.#random() * (this.#count + 1));
      if (j < size) this.#sample[j] = value;
    }
    this.#count++;
    this.#sum += value;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
  }

  /** The summary so far. */
  summary(): SummaryStats {
    const n = this.#count;
    if (n === 0) return { count: 0, min: 0, mean: 0, median: 0, max: 0, medianExact: true };
    const kept = this.#sample.slice(0, Math.min(n, this.#sample.length)).sort();
    const mid = kept.length >> 1;
    const median =
      kept.length % 2
        ? (kept[mid] as number)
        : ((kept[mid - 1] as number) + (kept[mid] as number)) / 2;
    return {
      count: n,
      min: this.#min,
      mean: this.#sum / n,
      median,
      max: this.#max,
      medianExact: n <= this.#sample.length,
    };
  }
}

/** One category and how many pairs fall in it. */
export interface CategoryCount {
  key: string;
  /** Human-readable name (a rule's statement), when known. */
  label?: string;
  count: number;
}

/** Everything the dataset card reports. */
export interface DatasetStats {
  /** Pairs counted. */
  pairs: number;
  /** Distinct instances among them. */
  instances: number;
  /** Pairs per split label (`train`, `test`, `eval`…), in first-seen order. */
  bySplit: CategoryCount[];
  /** Pairs per rule (a pair counts once for each of its rules), most frequent first. */
  byRule: CategoryCount[];
  /** Accepted rules of the context that no counted pair tests (coverage gaps). */
  rulesWithoutPairs: number;
  /** Pairs per rule stage (once per distinct stage among a pair's rules); `unknown` when no rule is known. */
  byStage: CategoryCount[];
  /** Pairs per rule direction, counted like stages. */
  byDirection: CategoryCount[];
  /** Pairs per case type. */
  byCaseType: CategoryCount[];
  lengths: {
    prompt: SummaryStats;
    chosen: SummaryStats;
    rejected: SummaryStats;
    /** Per-pair chosen/rejected length ratio; `ofTotals` = Σchosen / Σrejected. */
    ratio: SummaryStats & { ofTotals: number };
  };
  /** The reservoir size used for medians. */
  reservoirSize: number;
}

const STAGES: readonly RuleStage[] = RULE_STAGES;
const DIRECTIONS: readonly RuleDirection[] = ['positive', 'negative'];
const CASE_TYPES: readonly CaseType[] = ['violation', 'borderline', 'benign'];
const UNKNOWN = 'unknown';

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** Fixed keys first (zeros included, so gaps show), then any other key. */
function ordered(map: Map<string, number>, fixed: readonly string[]): CategoryCount[] {
  const rows = fixed.map((key) => ({ key, count: map.get(key) ?? 0 }));
  for (const [key, count] of map) if (!fixed.includes(key)) rows.push({ key, count });
  return rows;
}

/** Options of {@link DatasetStatsCollector}. */
export interface StatsOptions {
  reservoirSize?: number;
  /** Seed of the reservoir sampling. Default 1. */
  seed?: number;
}

/** Accumulates {@link DatasetStats} one pair at a time. */
export class DatasetStatsCollector {
  readonly #context: ExportContext;
  readonly #reservoirSize: number;
  #pairs = 0;
  readonly #instances = new Set<string>();
  readonly #splits = new Map<string, number>();
  readonly #rules = new Map<string, number>();
  readonly #stages = new Map<string, number>();
  readonly #directions = new Map<string, number>();
  readonly #caseTypes = new Map<string, number>();
  readonly #prompt: StreamingSummary;
  readonly #chosen: StreamingSummary;
  readonly #rejected: StreamingSummary;
  readonly #ratio: StreamingSummary;
  #chosenTotal = 0;
  #rejectedTotal = 0;

  constructor(context: ExportContext, options: StatsOptions = {}) {
    this.#context = context;
    this.#reservoirSize = options.reservoirSize ?? DEFAULT_RESERVOIR_SIZE;
    const seed = options.seed ?? 1;
    this.#prompt = new StreamingSummary(this.#reservoirSize, seed);
    this.#chosen = new StreamingSummary(this.#reservoirSize, seed + 1);
    this.#rejected = new StreamingSummary(this.#reservoirSize, seed + 2);
    this.#ratio = new StreamingSummary(this.#reservoirSize, seed + 3);
  }

  /** Counts one pair, optionally under a split label. */
  add(pair: PreferencePair, split?: string): void {
    this.#pairs++;
    this.#instances.add(pair.instanceId);
    if (split !== undefined) bump(this.#splits, split);
    const stages = new Set<string>();
    const directions = new Set<string>();
    for (const id of new Set(pair.ruleIds)) {
      bump(this.#rules, id);
      const rule = this.#context.rules.get(id);
      if (rule) {
        stages.add(rule.stage);
        directions.add(rule.direction);
      }
    }
    if (!stages.size) stages.add(UNKNOWN);
    if (!directions.size) directions.add(UNKNOWN);
    for (const s of stages) bump(this.#stages, s);
    for (const d of directions) bump(this.#directions, d);
    bump(this.#caseTypes, pair.caseType);

    const chosen = pair.chosen.length;
    const rejected = pair.rejected.length;
    this.#prompt.add(promptLength(pair));
    this.#chosen.add(chosen);
    this.#rejected.add(rejected);
    if (rejected > 0) this.#ratio.add(chosen / rejected);
    this.#chosenTotal += chosen;
    this.#rejectedTotal += rejected;
  }

  /** The statistics so far. */
  result(): DatasetStats {
    const byRule = [...this.#rules]
      .map(([key, count]) => {
        const label = this.#context.rules.get(key)?.statement;
        return label === undefined ? { key, count } : { key, label, count };
      })
      .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    let rulesWithoutPairs = 0;
    for (const rule of this.#context.rules.values())
      if (rule.status === 'accepted' && !this.#rules.has(rule.id)) rulesWithoutPairs++;
    return {
      pairs: this.#pairs,
      instances: this.#instances.size,
      bySplit: [...this.#splits].map(([key, count]) => ({ key, count })),
      byRule,
      rulesWithoutPairs,
      byStage: ordered(this.#stages, STAGES),
      byDirection: ordered(this.#directions, DIRECTIONS),
      byCaseType: ordered(this.#caseTypes, CASE_TYPES),
      lengths: {
        prompt: this.#prompt.summary(),
        chosen: this.#chosen.summary(),
        rejected: this.#rejected.summary(),
        ratio: {
          ...this.#ratio.summary(),
          ofTotals: this.#rejectedTotal > 0 ? this.#chosenTotal / this.#rejectedTotal : 0,
        },
      },
      reservoirSize: this.#reservoirSize,
    };
  }
}
