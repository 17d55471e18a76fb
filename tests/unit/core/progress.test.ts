import { describe, expect, it } from 'vitest';
import { estimateRemainingMs, formatBytes, formatDuration } from '$lib/core/progress';

describe('estimateRemainingMs', () => {
  const start = 1_000_000;

  it('extrapolates the average rate since the start', () => {
    // Half done after 10 s: another 10 s to go.
    expect(estimateRemainingMs(start, 0.5, start + 10_000)).toBe(10_000);
    // A quarter done after 4 s: 12 s to go.
    expect(estimateRemainingMs(start, 0.25, start + 4_000)).toBe(12_000);
  });

  it('waits for at least one second of elapsed time', () => {
    expect(estimateRemainingMs(start, 0.5, start + 999)).toBeUndefined();
    expect(estimateRemainingMs(start, 0.5, start + 1_000)).toBe(1_000);
  });

  it('waits for some progress (more than 0.1 %)', () => {
    expect(estimateRemainingMs(start, 0, start + 60_000)).toBeUndefined();
    expect(estimateRemainingMs(start, 0.001, start + 60_000)).toBeUndefined();
    expect(estimateRemainingMs(start, 0.002, start + 2_000)).toBeCloseTo(998_000, 6);
  });

  it('gives undefined for nonsense fractions and a clock that went backwards', () => {
    expect(estimateRemainingMs(start, Number.NaN, start + 5_000)).toBeUndefined();
    expect(estimateRemainingMs(start, -0.5, start + 5_000)).toBeUndefined();
    expect(estimateRemainingMs(start, 0.5, start - 5_000)).toBeUndefined();
  });

  it('gives 0 once the work is complete (or over-reported)', () => {
    expect(estimateRemainingMs(start, 1, start + 5_000)).toBe(0);
    expect(estimateRemainingMs(start, 1.2, start + 5_000)).toBe(0);
  });
});

describe('formatDuration', () => {
  it('shows seconds under a minute, rounded', () => {
    expect(formatDuration(0)).toBe('0 s');
    expect(formatDuration(499)).toBe('0 s');
    expect(formatDuration(12_000)).toBe('12 s');
    expect(formatDuration(59_499)).toBe('59 s');
  });

  it('shows minutes and seconds under an hour', () => {
    expect(formatDuration(59_500)).toBe('1 min 0 s');
    expect(formatDuration(200_000)).toBe('3 min 20 s');
    expect(formatDuration(3_599_000)).toBe('59 min 59 s');
  });

  it('shows hours and minutes from an hour on', () => {
    expect(formatDuration(3_600_000)).toBe('1 h 0 min');
    expect(formatDuration(7_500_000)).toBe('2 h 5 min');
    expect(formatDuration(26 * 3_600_000 + 59_000)).toBe('26 h 0 min');
  });

  it('never shows a negative duration', () => {
    expect(formatDuration(-5_000)).toBe('0 s');
  });
});

describe('formatBytes', () => {
  it('shows bytes below a kilobyte', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
  });

  it('uses decimal units with one decimal below 10', () => {
    expect(formatBytes(1_000)).toBe('1.0 KB');
    expect(formatBytes(1_250)).toBe('1.3 KB');
    expect(formatBytes(12_345)).toBe('12 KB');
    expect(formatBytes(350_000_000)).toBe('350 MB');
    expect(formatBytes(1_200_000_000)).toBe('1.2 GB');
    expect(formatBytes(2_500_000_000_000)).toBe('2.5 TB');
  });

  it('stays in terabytes beyond the largest unit', () => {
    expect(formatBytes(5_000_000_000_000_000)).toBe('5000 TB');
  });

  it('shows ? for sizes that are unknown or invalid', () => {
    expect(formatBytes(Number.NaN)).toBe('?');
    expect(formatBytes(Number.POSITIVE_INFINITY)).toBe('?');
    expect(formatBytes(-1)).toBe('?');
  });
});
