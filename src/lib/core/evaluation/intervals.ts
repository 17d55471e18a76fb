/**
 * Honest statistics for small evaluations (issue 10 §8: "judge calibration shows 40 % agreement
 * and κ −0.25 without saying that this is chance level; Evaluate reports RCS on 2–4 queries
 * without a sample-size caveat").
 *
 * Method choices:
 * - **Wilson score interval** (95 %, z = 1.96) for every proportion: unlike the normal
 *   approximation it stays inside [0, 1] and is usable at n = 2 or with 0 or n successes.
 * - **Cohen's κ interval**: κ ± z·SE with the large-sample SE
 *   `√(pₒ(1 − pₒ) / (n (1 − pₑ)²))` (Cohen 1960), clipped to [−1, 1]. Rough at small n, which
 *   is when the verdict below matters most, so the verdict reads the interval conservatively.
 * - **Chance verdict**: a judge is "no better than chance" when κ ≤ 0.2 (Landis & Koch's "slight")
 *   or κ's interval includes 0, or its agreement interval includes the chance agreement pₑ.
 * - **Small samples**: fewer than {@link SMALL_SAMPLE} checks gets a caveat wherever a score is
 *   shown, with the interval's width in words.
 */

/** 95 % two-sided normal quantile. */
export const Z95 = 1.959963984540054;

/** Below this many checks a score gets a sample-size caveat. */
export const SMALL_SAMPLE = 30;

/** κ at or below which agreement is "slight": no better than chance for a judge. */
export const CHANCE_KAPPA = 0.2;

export interface Interval {
  low: number;
  high: number;
}

/** Wilson score interval of `successes` out of `n`; undefined when n = 0. */
export function wilsonInterval(successes: number, n: number, z = Z95): Interval | undefined {
  if (!(n > 0)) return undefined;
  const p = successes / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/** The confusion counts of a judge against gold labels ("positive" = violated). */
export interface Confusion {
  truePositive: number;
  falseNegative: number;
  falsePositive: number;
  trueNegative: number;
}

export interface AgreementStats {
  n: number;
  /** Observed agreement pₒ. */
  agreement?: number;
  agreementInterval?: Interval;
  /** Agreement expected by chance from the two marginals, pₑ. */
  chance?: number;
  kappa?: number;
  kappaInterval?: Interval;
  /** True when the judge is no better than chance (see the module comment). */
  atChance: boolean;
  /** True when n < {@link SMALL_SAMPLE}. */
  small: boolean;
}

/** Agreement, chance agreement, κ and their intervals from a confusion matrix. */
export function agreementStats(c: Confusion, z = Z95): AgreementStats {
  const n = c.truePositive + c.falseNegative + c.falsePositive + c.trueNegative;
  if (n === 0) return { n, atChance: true, small: true };
  const agree = c.truePositive + c.trueNegative;
  const po = agree / n;
  const goldV = (c.truePositive + c.falseNegative) / n;
  const predV = (c.truePositive + c.falsePositive) / n;
  const pe = goldV * predV + (1 - goldV) * (1 - predV);
  const agreementInterval = wilsonInterval(agree, n, z) as Interval;
  const out: AgreementStats = {
    n,
    agreement: po,
    agreementInterval,
    chance: pe,
    atChance: true,
    small: n < SMALL_SAMPLE,
  };
  if (pe < 1) {
    const kappa = (po - pe) / (1 - pe);
    const se = Math.sqrt((po * (1 - po)) / (n * (1 - pe) ** 2));
    out.kappa = kappa;
    out.kappaInterval = {
      low: Math.max(-1, kappa - z * se),
      high: Math.min(1, kappa + z * se),
    };
    out.atChance =
      kappa <= CHANCE_KAPPA || out.kappaInterval.low <= 0 || agreementInterval.low <= pe;
  }
  return out;
}

/** "62.5 % (95 % CI 40.1–80.2 %)"-style text pieces for a proportion. */
export function formatInterval(interval: Interval | undefined): string {
  if (!interval) return '';
  return `95 % CI ${(interval.low * 100).toFixed(1)}–${(interval.high * 100).toFixed(1)} %`;
}

/** A plain-language caveat for a score over `n` checks, or '' when n is large enough. */
export function sampleCaveat(n: number, interval: Interval | undefined): string {
  if (n >= SMALL_SAMPLE) return '';
  const width = interval ? Math.round((interval.high - interval.low) * 100) : 100;
  return `Only ${n} check${n === 1 ? '' : 's'}: the true score could lie anywhere in a ${width}-point range. Evaluate on at least ${SMALL_SAMPLE} checks before comparing models.`;
}
