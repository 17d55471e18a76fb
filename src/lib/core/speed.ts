/**
 * Model speed as two rates: prompt processing (prefill) and generation (decode), tokens/s. In
 * the browser a synthesis call sends ~10k prompt tokens for ~1k generated, so on the CPU prefill
 * can dominate; one "tokens/s" figure hides that. "Test this model" measures both; the Generate
 * estimate uses the measurement of this device when there is one, else stated defaults.
 */
import { z } from 'zod';
import type { EngineConfig } from './engine-config';
import type { ChatResult } from './llm';

/** Where a model computes, as the speed figures name it. */
export type SpeedBackend = 'webgpu' | 'cpu' | 'remote';

/** One call's tokens and engine time, split when the engine reports the split. */
export interface SpeedSample {
  promptTokens: number;
  completionTokens: number;
  durationMs: number;
  timings?: ChatResult['timings'];
}

/** Prefill and decode rates, tokens/s. */
export interface SpeedRates {
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  /**
   * `engine`: from the engine's own timings (llama.cpp, web-llm); `wall-clock`: solved from
   * whole-call times of a prefill-heavy and a decode-heavy call (endpoints report no split).
   */
  method: 'engine' | 'wall-clock';
}

/**
 * Prefill and decode rates from calls. With engine timings on every call they are exact sums.
 * Otherwise each call's time is modelled as `prompt/prefill + completion/decode` and the two
 * unknowns are solved by least squares; a degenerate or non-positive solution falls back to
 * bounds (the prefill-heaviest call's prompt rate, the rest of the time for decoding).
 * Returns undefined when there is nothing to measure.
 */
export function measureRates(samples: readonly SpeedSample[]): SpeedRates | undefined {
  const timed = samples.filter((s) => s.timings);
  if (timed.length && timed.length === samples.length) {
    let pTok = 0,
      pMs = 0,
      dTok = 0,
      dMs = 0;
    for (const { timings: t } of timed) {
      pTok += t!.promptTokens;
      pMs += t!.promptMs;
      dTok += t!.decodeTokens;
      dMs += t!.decodeMs;
    }
    if (pMs > 0 && dMs > 0)
      return {
        prefillTokensPerSecond: (pTok * 1000) / pMs,
        decodeTokensPerSecond: (dTok * 1000) / dMs,
        method: 'engine',
      };
  }
  const usable = samples.filter((s) => s.durationMs > 0 && s.promptTokens + s.completionTokens > 0);
  if (!usable.length) return undefined;
  // Least squares for a = ms per prompt token, b = ms per generated token.
  let spp = 0,
    spd = 0,
    sdd = 0,
    spt = 0,
    sdt = 0;
  for (const s of usable) {
    spp += s.promptTokens ** 2;
    spd += s.promptTokens * s.completionTokens;
    sdd += s.completionTokens ** 2;
    spt += s.promptTokens * s.durationMs;
    sdt += s.completionTokens * s.durationMs;
  }
  const det = spp * sdd - spd * spd;
  let a = det > 0 ? (spt * sdd - sdt * spd) / det : NaN;
  let b = det > 0 ? (sdt * spp - spt * spd) / det : NaN;
  if (!(a > 0) || !(b > 0)) {
    const heavy = usable.reduce((x, y) =>
      y.promptTokens / (y.completionTokens + 1) > x.promptTokens / (x.completionTokens + 1) ? y : x,
    );
    a = heavy.durationMs / Math.max(1, heavy.promptTokens);
    const total = usable.reduce((n, s) => n + s.durationMs, 0);
    const prompt = usable.reduce((n, s) => n + s.promptTokens, 0);
    const completion = usable.reduce((n, s) => n + s.completionTokens, 0);
    b = Math.max(total - prompt * a, total * 0.05) / Math.max(1, completion);
  }
  return {
    prefillTokensPerSecond: 1000 / a,
    decodeTokensPerSecond: 1000 / b,
    method: 'wall-clock',
  };
}

/** A speed measured by "Test this model", kept per engine key in this browser's settings. */
export const storedModelSpeedSchema = z.object({
  v: z.literal(1),
  engineKey: z.string(),
  backend: z.enum(['webgpu', 'cpu', 'remote']),
  /** The backend's label as shown, e.g. "WebGPU (all 29 layers)". */
  backendLabel: z.string(),
  prefillTokensPerSecond: z.number().positive(),
  decodeTokensPerSecond: z.number().positive(),
  method: z.enum(['engine', 'wall-clock']),
  measuredAt: z.number(),
});
export type StoredModelSpeed = z.infer<typeof storedModelSpeedSchema>;

/** Settings key of a model's measured speed. */
export const modelSpeedKey = (engineKey: string) => `speed:${engineKey}`;

/**
 * Rates assumed when a model was not tested on this device: rough medians for ~1B-parameter
 * Q4 models (prefill is batched, so it is many times faster than decoding, most of all on GPUs).
 */
export const DEFAULT_SPEEDS: Record<SpeedBackend, { prefill: number; decode: number }> = {
  webgpu: { prefill: 400, decode: 25 },
  cpu: { prefill: 40, decode: 8 },
  remote: { prefill: 800, decode: 30 },
};

/** The rates an estimate uses, and where they come from (for the screen). */
export interface EstimateSpeed {
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  source: 'measured' | 'default' | 'entered';
  /** e.g. "measured on this device by Test this model (WebGPU (all 29 layers))". */
  note: string;
}

/**
 * The speed to estimate with: what the user entered wins (each rate on its own), then this
 * device's measurement of the model, then {@link DEFAULT_SPEEDS} for where the model runs.
 */
export function resolveEstimateSpeed(
  config: EngineConfig | undefined,
  measured: StoredModelSpeed | undefined,
  entered: { prefill?: number; decode?: number } = {},
): EstimateSpeed {
  // An untested GGUF is assumed on the CPU: where it runs is known only once it is loaded.
  const backend: SpeedBackend =
    config?.kind === 'openai' ? 'remote' : config?.kind === 'wllama' ? 'cpu' : 'webgpu';
  const base = measured
    ? {
        prefill: measured.prefillTokensPerSecond,
        decode: measured.decodeTokensPerSecond,
        note: `measured on this device by Test this model (${measured.backendLabel}, ${new Date(measured.measuredAt).toLocaleDateString('en')})`,
        source: 'measured' as const,
      }
    : {
        ...DEFAULT_SPEEDS[backend],
        note: `defaults for ${backend === 'webgpu' ? 'WebGPU' : backend === 'cpu' ? 'the CPU' : 'an endpoint'}; run Test this model on the Models screen to measure this device`,
        source: 'default' as const,
      };
  const valid = (x: number | undefined): x is number => x !== undefined && x > 0 && isFinite(x);
  const prefill = valid(entered.prefill) ? entered.prefill : base.prefill;
  const decode = valid(entered.decode) ? entered.decode : base.decode;
  const anyEntered = valid(entered.prefill) || valid(entered.decode);
  return {
    prefillTokensPerSecond: prefill,
    decodeTokensPerSecond: decode,
    source: anyEntered ? 'entered' : base.source,
    note: anyEntered
      ? valid(entered.prefill) && valid(entered.decode)
        ? 'entered by you'
        : `partly entered by you, the rest ${base.note}`
      : base.note,
  };
}

/** "29.48" → "29", "1234.5" → "1,235": estimates are not that precise. */
export function formatWhole(x: number): string {
  return Math.round(x).toLocaleString('en');
}
