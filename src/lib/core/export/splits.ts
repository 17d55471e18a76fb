/**
 * Deterministic splits. Train/test is decided **per instance** (METHOD.md §4: "splits (by
 * instance, so no leakage)"): every pair of an instance lands in the same split, so a model is
 * never tested on queries written against a system prompt it was trained on. SFT vs DPO is
 * decided per pair (the paper trains SFT:DPO at 1:3). Both depend on ids and a seed only, so the
 * same selection exported twice, in any order, splits the same way.
 */
import { unitHash } from '../hash';

/** The data splits of an exported dataset. */
export type DatasetSplit = 'train' | 'test';

/** Which training stage a pair feeds when the data is divided SFT:DPO. */
export type TrainingStage = 'sft' | 'dpo';

/** The paper's SFT share: SFT:DPO = 1:3, so a quarter of the pairs go to SFT. */
export const PAPER_SFT_FRACTION = 0.25;

/** Default share of instances held out for the test split. */
export const DEFAULT_TEST_FRACTION = 0.1;

export interface InstanceSplitOptions {
  /** Share of instances in the test split, in [0, 1). Default {@link DEFAULT_TEST_FRACTION}. */
  testFraction?: number;
  /** Changes which instances are held out; the same seed always gives the same split. Default 0. */
  seed?: number | string;
}

/**
 * Builds the instance → split function.
 *
 * With the project's instance ids given, the split is exact: the instances are ranked by
 * `unitHash(seed, id)` and the first `round(testFraction × n)` go to test, clamped to at least one
 * and at most `n − 1` when `n ≥ 2` and `testFraction > 0` (a lone instance stays in train). So the
 * fraction is a fraction of **instances**, not of pairs. An instance id not in the list (a pair
 * whose instance was deleted) falls back to `unitHash(seed, id) < testFraction`, which is still
 * deterministic and still keeps all its pairs together.
 *
 * @throws RangeError when `testFraction` is outside [0, 1).
 */
export function createInstanceSplit(
  instanceIds: Iterable<string>,
  options: InstanceSplitOptions = {},
): (instanceId: string) => DatasetSplit {
  const fraction = options.testFraction ?? DEFAULT_TEST_FRACTION;
  const seed = options.seed ?? 0;
  if (!(fraction >= 0 && fraction < 1)) {
    throw new RangeError(`The test fraction must be at least 0 and below 1 (got ${fraction}).`);
  }
  const ranked = [...new Set(instanceIds)]
    .map((id) => ({ id, h: unitHash(seed, `instance:${id}`) }))
    .sort((a, b) => a.h - b.h || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const n = ranked.length;
  let nTest = Math.round(fraction * n);
  if (fraction > 0 && n >= 2) nTest = Math.min(n - 1, Math.max(1, nTest));
  if (n < 2) nTest = 0;
  const test = new Set(ranked.slice(0, nTest).map((r) => r.id));
  const known = new Set(ranked.map((r) => r.id));
  return (instanceId) => {
    if (known.has(instanceId)) return test.has(instanceId) ? 'test' : 'train';
    return unitHash(seed, `instance:${instanceId}`) < fraction ? 'test' : 'train';
  };
}

export interface TrainingStageOptions {
  /** Share of pairs used for SFT (prompt + chosen). Default {@link PAPER_SFT_FRACTION} (1:3). */
  sftFraction?: number;
  /** Default 0. */
  seed?: number | string;
}

/**
 * Which stage a pair feeds under an SFT:DPO division: `sft` when
 * `unitHash(seed, pairId) < sftFraction`, else `dpo`. Per pair and stateless, so the share is
 * approximate (2σ ≈ ±1.6 percentage points at 3,000 pairs) but stable: adding pairs never moves
 * an existing pair to the other stage. Export the `sft` pairs with an SFT format and the `dpo`
 * pairs with a preference format (see `PairSelection.trainingStage`).
 *
 * @throws RangeError when `sftFraction` is outside [0, 1].
 */
export function trainingStageOf(pairId: string, options: TrainingStageOptions = {}): TrainingStage {
  const fraction = options.sftFraction ?? PAPER_SFT_FRACTION;
  if (!(fraction >= 0 && fraction <= 1)) {
    throw new RangeError(`The SFT fraction must be between 0 and 1 (got ${fraction}).`);
  }
  return unitHash(options.seed ?? 0, `stage:${pairId}`) < fraction ? 'sft' : 'dpo';
}

/** SFT:DPO as parts, e.g. `{ sft: 1, dpo: 3 }` (the paper's 1:3). */
export interface StageParts {
  sft: number;
  dpo: number;
}

/** The paper's SFT:DPO = 1:3. */
export const PAPER_STAGE_PARTS: StageParts = { sft: 1, dpo: 3 };

/** The SFT share of `parts`, or an error message a user can act on. */
export function sftShareOf(parts: StageParts): number | string {
  const { sft, dpo } = parts;
  if (!(Number.isFinite(sft) && sft >= 0) || !(Number.isFinite(dpo) && dpo >= 0))
    return `SFT and DPO parts must be numbers of at least 0 (got ${sft}:${dpo}).`;
  if (sft + dpo === 0) return 'SFT and DPO parts cannot both be 0.';
  return sft / (sft + dpo);
}

/**
 * Builds the exact pair → training stage function over a known set of pairs: the pairs are
 * ranked by the same `unitHash(seed, 'stage:' + id)` as {@link trainingStageOf} (ties by id) and
 * the first `round(n × sftShare)` go to SFT, so the counts are exact and the choice depends on ids
 * and the seed only (not on the order the pairs come in). Ids not in the set get `undefined`.
 *
 * @throws RangeError when `sftShare` is outside [0, 1].
 */
export function createStageSplit(
  pairIds: Iterable<string>,
  sftShare: number,
  seed: number | string = 0,
): (pairId: string) => TrainingStage | undefined {
  if (!(sftShare >= 0 && sftShare <= 1))
    throw new RangeError(`The SFT share must be between 0 and 1 (got ${sftShare}).`);
  const ranked = [...new Set(pairIds)]
    .map((id) => ({ id, h: unitHash(seed, `stage:${id}`) }))
    .sort((a, b) => a.h - b.h || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const nSft = Math.round(sftShare * ranked.length);
  const stage = new Map<string, TrainingStage>();
  ranked.forEach((r, i) => stage.set(r.id, i < nSft ? 'sft' : 'dpo'));
  return (pairId) => stage.get(pairId);
}
