import { describe, expect, it } from 'vitest';
import type { EngineConfig } from '$lib/core/engine-config';
import {
  DEFAULT_SPEEDS,
  formatWhole,
  measureRates,
  resolveEstimateSpeed,
  storedModelSpeedSchema,
  type StoredModelSpeed,
} from '$lib/core/speed';

/** A call on an engine that takes `a` ms per prompt token and `b` ms per generated token. */
const call = (promptTokens: number, completionTokens: number, a: number, b: number) => ({
  promptTokens,
  completionTokens,
  durationMs: promptTokens * a + completionTokens * b,
});

describe('measureRates', () => {
  it("sums the engine's own timings when every call has them", () => {
    const timed = (pTok: number, pMs: number, dTok: number, dMs: number) => ({
      promptTokens: pTok,
      completionTokens: dTok,
      durationMs: pMs + dMs + 5,
      timings: { promptTokens: pTok, promptMs: pMs, decodeTokens: dTok, decodeMs: dMs },
    });
    expect(measureRates([timed(100, 500, 20, 1000), timed(300, 1500, 20, 1000)])).toEqual({
      prefillTokensPerSecond: 200, // 400 tokens in 2 s
      decodeTokensPerSecond: 20, // 40 tokens in 2 s
      method: 'engine',
    });
  });

  it('solves prefill and decode from whole-call times when the engine gives no split', () => {
    // 5 ms per prompt token (200 tokens/s), 50 ms per generated token (20 tokens/s).
    const rates = measureRates([call(40, 48, 5, 50), call(60, 20, 5, 50), call(500, 4, 5, 50)]);
    expect(rates?.method).toBe('wall-clock');
    expect(rates?.prefillTokensPerSecond).toBeCloseTo(200, 6);
    expect(rates?.decodeTokensPerSecond).toBeCloseTo(20, 6);
  });

  it('falls back to bounds when the times are inconsistent (noise), never a negative rate', () => {
    // The long-prompt call is faster than the short one: least squares gives a negative cost.
    const rates = measureRates([
      { promptTokens: 40, completionTokens: 48, durationMs: 2000 },
      { promptTokens: 500, completionTokens: 4, durationMs: 100 },
    ]);
    expect(rates?.method).toBe('wall-clock');
    // Prefill from the prompt-heaviest call alone: 500 tokens in ≤ 100 ms.
    expect(rates?.prefillTokensPerSecond).toBeCloseTo(500 / 0.1, 6);
    expect(rates!.decodeTokensPerSecond).toBeGreaterThan(0);
  });

  it('uses wall-clock times when only some calls have timings, and nothing from nothing', () => {
    const rates = measureRates([
      call(40, 48, 5, 50),
      {
        ...call(500, 4, 5, 50),
        timings: { promptTokens: 1, promptMs: 1, decodeTokens: 1, decodeMs: 1 },
      },
    ]);
    expect(rates?.method).toBe('wall-clock');
    expect(rates?.prefillTokensPerSecond).toBeCloseTo(200, 6);
    expect(measureRates([])).toBeUndefined();
    expect(measureRates([{ promptTokens: 0, completionTokens: 0, durationMs: 0 }])).toBeUndefined();
  });
});

describe('resolveEstimateSpeed', () => {
  const gguf: EngineConfig = {
    kind: 'wllama',
    model: 'm',
    source: { type: 'local', fileName: 'm' },
  };
  const measured: StoredModelSpeed = {
    v: 1,
    engineKey: 'wllama:local/m',
    backend: 'webgpu',
    backendLabel: 'WebGPU (all 25 layers)',
    prefillTokensPerSecond: 350,
    decodeTokensPerSecond: 30,
    method: 'engine',
    measuredAt: Date.UTC(2026, 11, 7),
  };

  it("uses this device's measurement when there is one", () => {
    expect(resolveEstimateSpeed(gguf, measured)).toEqual({
      prefillTokensPerSecond: 350,
      decodeTokensPerSecond: 30,
      source: 'measured',
      note: 'measured on this device by Test this model (WebGPU (all 25 layers), 12/7/2026)',
    });
  });

  it('else states the defaults for where the model runs', () => {
    expect(resolveEstimateSpeed(gguf, undefined)).toMatchObject({
      prefillTokensPerSecond: DEFAULT_SPEEDS.cpu.prefill,
      decodeTokensPerSecond: DEFAULT_SPEEDS.cpu.decode,
      source: 'default',
      note: 'defaults for the CPU; run Test this model on the Models screen to measure this device',
    });
    const webllm: EngineConfig = { kind: 'webllm', model: 'x' };
    expect(resolveEstimateSpeed(webllm, undefined).decodeTokensPerSecond).toBe(
      DEFAULT_SPEEDS.webgpu.decode,
    );
    const endpoint: EngineConfig = { kind: 'openai', baseUrl: 'http://h/v1', model: 'x' };
    expect(resolveEstimateSpeed(endpoint, undefined).note).toMatch(/^defaults for an endpoint/);
  });

  it('lets each rate the user entered win, and says so', () => {
    expect(resolveEstimateSpeed(gguf, measured, { prefill: 100, decode: 10 })).toMatchObject({
      prefillTokensPerSecond: 100,
      decodeTokensPerSecond: 10,
      source: 'entered',
      note: 'entered by you',
    });
    const partly = resolveEstimateSpeed(gguf, measured, { decode: 12, prefill: 0 });
    expect(partly).toMatchObject({ prefillTokensPerSecond: 350, decodeTokensPerSecond: 12 });
    expect(partly.note).toMatch(/^partly entered by you, the rest measured on this device/);
  });

  it('stores measurements in a versioned shape that rejects nonsense', () => {
    expect(storedModelSpeedSchema.parse(measured)).toEqual(measured);
    expect(
      storedModelSpeedSchema.safeParse({ ...measured, decodeTokensPerSecond: 0 }).success,
    ).toBe(false);
    expect(storedModelSpeedSchema.safeParse({ ...measured, v: 2 }).success).toBe(false);
  });
});

describe('formatWhole', () => {
  it('shows estimates as whole numbers', () => {
    expect(formatWhole(29.48)).toBe('29');
    expect(formatWhole(29.5)).toBe('30');
    expect(formatWhole(1234.5)).toBe('1,235');
  });
});
