/** Evaluated-vs-sent prompt accounting (issue 13 §2): summing, reading engine timings, wording. */
import { describe, expect, it } from 'vitest';
import {
  addUsage,
  describePrefill,
  evaluatedShare,
  usageOfResult,
  type ChatResult,
} from '$lib/core/llm';

const result = (extra: Partial<ChatResult> = {}): ChatResult => ({
  text: '{}',
  usage: { promptTokens: 1000, completionTokens: 20 },
  finishReason: 'stop',
  durationMs: 5,
  ...extra,
});
const timings = (promptTokens: number) => ({
  promptTokens,
  promptMs: 1,
  decodeTokens: 20,
  decodeMs: 1,
});

describe('usageOfResult', () => {
  it('reads the evaluated prompt tokens from the engine timings', () => {
    expect(usageOfResult(result({ timings: timings(150) }))).toEqual({
      promptTokens: 1000,
      completionTokens: 20,
      prefill: { sent: 1000, evaluated: 150 },
    });
  });

  it('has no prefill count when the engine reports none, and caps what it reports at the prompt', () => {
    expect(usageOfResult(result())).toEqual({ promptTokens: 1000, completionTokens: 20 });
    expect(usageOfResult(result({ timings: timings(1200) })).prefill).toEqual({
      sent: 1000,
      evaluated: 1000,
    });
    // An engine that set its own count (an endpoint's cached_tokens) is taken as it is.
    expect(
      usageOfResult(
        result({
          usage: {
            promptTokens: 1000,
            completionTokens: 20,
            prefill: { sent: 1000, evaluated: 40 },
          },
          timings: timings(999),
        }),
      ).prefill,
    ).toEqual({ sent: 1000, evaluated: 40 });
  });
});

describe('addUsage', () => {
  it('sums tokens and the prefill counts of the sides that have one', () => {
    const a = { promptTokens: 10, completionTokens: 1, prefill: { sent: 10, evaluated: 4 } };
    const b = { promptTokens: 5, completionTokens: 2 };
    expect(addUsage(a, b)).toEqual({
      promptTokens: 15,
      completionTokens: 3,
      prefill: { sent: 10, evaluated: 4 },
    });
    expect(addUsage(a, a).prefill).toEqual({ sent: 20, evaluated: 8 });
    expect(addUsage(b, b)).toEqual({ promptTokens: 10, completionTokens: 4 });
  });
});

describe('describePrefill and evaluatedShare', () => {
  it('says x of y sent with a whole percentage that never hides a partial reuse', () => {
    expect(describePrefill({ sent: 12_000, evaluated: 3_000 })).toBe('3,000 of 12,000 sent (25 %)');
    expect(describePrefill({ sent: 1000, evaluated: 999 })).toBe('999 of 1,000 sent (99 %)');
    expect(describePrefill({ sent: 1000, evaluated: 1 })).toBe('1 of 1,000 sent (1 %)');
    expect(describePrefill({ sent: 0, evaluated: 0 })).toBe('0 of 0 sent (0 %)');
    expect(
      evaluatedShare({ promptTokens: 8, completionTokens: 0, prefill: { sent: 8, evaluated: 2 } }),
    ).toBe(0.25);
    expect(evaluatedShare({ promptTokens: 8, completionTokens: 0 })).toBeUndefined();
  });
});
