import { describe, expect, it } from 'vitest';
import {
  agreementStats,
  formatInterval,
  sampleCaveat,
  wilsonInterval,
} from '$lib/core/evaluation/intervals';

describe('wilsonInterval', () => {
  it('matches published values', () => {
    // Wilson 95 % for 8/10 (Newcombe 1998 style tables): 0.490–0.943.
    const a = wilsonInterval(8, 10)!;
    expect(a.low).toBeCloseTo(0.4902, 3);
    expect(a.high).toBeCloseTo(0.9433, 3);
    // 0/10 keeps a non-zero upper bound: 0–0.278.
    const b = wilsonInterval(0, 10)!;
    expect(b.low).toBe(0);
    expect(b.high).toBeCloseTo(0.2775, 3);
    // 2/4 at n = 4 is very wide: 0.150–0.850.
    const c = wilsonInterval(2, 4)!;
    expect(c.low).toBeCloseTo(0.15, 2);
    expect(c.high).toBeCloseTo(0.85, 2);
  });

  it('is undefined without observations', () => {
    expect(wilsonInterval(0, 0)).toBeUndefined();
  });
});

describe('agreementStats', () => {
  it('calls 40 % agreement with κ −0.25 chance level (the issue’s judge)', () => {
    // 10 replies, 6 bad; the judge says "violated" 6 times and agrees on 4: TP 3, FN 3, FP 3, TN 1.
    const s = agreementStats({
      truePositive: 3,
      falseNegative: 3,
      falsePositive: 3,
      trueNegative: 1,
    });
    expect(s.agreement).toBe(0.4);
    expect(s.chance).toBeCloseTo(0.52, 10);
    expect(s.kappa).toBeCloseTo(-0.25, 10);
    expect(s.atChance).toBe(true);
    expect(s.small).toBe(true);
    expect(s.kappaInterval!.low).toBeLessThan(0);
  });

  it('trusts a judge whose κ is high and whose interval clears 0', () => {
    // 90 of 100 agree on balanced labels: κ = 0.8, SE = √(.09 / (100 · .25)) = 0.06.
    const s = agreementStats({
      truePositive: 45,
      falseNegative: 5,
      falsePositive: 5,
      trueNegative: 45,
    });
    expect(s.kappa).toBeCloseTo(0.8, 10);
    expect(s.kappaInterval!.low).toBeCloseTo(0.8 - 1.96 * 0.06, 3);
    expect(s.atChance).toBe(false);
    expect(s.small).toBe(false);
  });

  it('does not trust a perfect score on 3 replies: κ’s interval is wide', () => {
    const s = agreementStats({
      truePositive: 2,
      falseNegative: 0,
      falsePositive: 0,
      trueNegative: 1,
    });
    expect(s.agreement).toBe(1);
    expect(s.agreementInterval!.low).toBeLessThan(0.5);
    expect(s.atChance).toBe(true);
  });

  it('handles no items and one-sided labels', () => {
    expect(
      agreementStats({ truePositive: 0, falseNegative: 0, falsePositive: 0, trueNegative: 0 }),
    ).toMatchObject({ n: 0, atChance: true });
    const s = agreementStats({
      truePositive: 5,
      falseNegative: 0,
      falsePositive: 0,
      trueNegative: 0,
    });
    expect(s.kappa).toBeUndefined(); // chance agreement is 1: κ is undefined
    expect(s.atChance).toBe(true);
  });
});

describe('caveats', () => {
  it('formats intervals and warns below 30 checks only', () => {
    expect(formatInterval(wilsonInterval(2, 4))).toBe('95 % CI 15.0–85.0 %');
    expect(sampleCaveat(4, wilsonInterval(2, 4))).toMatch(/^Only 4 checks: .* 70-point range/);
    expect(sampleCaveat(30, wilsonInterval(15, 30))).toBe('');
  });
});
