/**
 * Which engine and model a role uses: plain data, stored per project and sent to the worker.
 * Secrets (an endpoint's API key) are never part of it: they live in the browser's settings
 * store, keyed by endpoint, and are never exported.
 */
import type { TokenPrice } from './cost';

export type EngineKind = 'webllm' | 'wllama' | 'openai';

export interface WebLlmConfig {
  kind: 'webllm';
  /** A model id from web-llm's prebuilt list (or the custom base URL's config). */
  model: string;
  /** Absolute URL of self-hosted weights; web-llm appends `resolve/main/`. */
  baseUrl?: string;
}

export interface WllamaConfig {
  kind: 'wllama';
  /** Display name; for a local file, its file name. */
  model: string;
  /** Where the GGUF comes from: a URL, or a file the user picked and we keep in OPFS. */
  source: { type: 'url'; url: string } | { type: 'local'; fileName: string };
  /** Context size to allocate (tokens). */
  contextSize?: number;
  /**
   * Layers llama.cpp puts on the GPU (WebGPU): `auto` (default) as many as the adapter's limits
   * allow, `none` for the CPU only, or a number (fewer if they do not fit).
   */
  gpuLayers?: GpuLayersSetting;
}

/** The user's choice of layers on the GPU for a GGUF model; see {@link WllamaConfig.gpuLayers}. */
export type GpuLayersSetting = 'auto' | 'none' | number;

/**
 * Parses the "layers on GPU" field: `auto`/empty, `none`/`0`/`cpu`, or a whole number of layers
 * (1–999).
 */
export function parseGpuLayers(
  input: string,
): { ok: true; value: GpuLayersSetting } | { ok: false; error: string } {
  const text = input.trim().toLowerCase();
  if (text === '' || text === 'auto') return { ok: true, value: 'auto' };
  if (text === 'none' || text === 'cpu' || text === '0') return { ok: true, value: 'none' };
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 999)
    return {
      ok: false,
      error: `Layers on GPU must be "auto", "none", or a whole number of layers from 1 to 999. You gave "${input.trim()}".`,
    };
  return { ok: true, value: n };
}

export interface OpenAiConfig {
  kind: 'openai';
  /** e.g. http://localhost:11434/v1; the first replica (the API key is stored under it). */
  baseUrl: string;
  /**
   * Further base URLs serving the same model (replicas); requests spread over `baseUrl` and
   * these (core/endpoint-policy.ts). Configs stored before replicas existed have none: one replica.
   */
  replicas?: string[];
  model: string;
  /**
   * The model's context window in tokens, as the user set it on the server (Ollama `num_ctx`,
   * llama.cpp `-c`). Wins over what `/models` reports; unset: the reported value, else 8,192.
   * Chunking and estimates size prompts by it.
   */
  contextSize?: number;
  /** What the provider charges, for cost estimates (unset: not priced). */
  price?: TokenPrice;
  /**
   * Requests sent to the server at once (1–64, default {@link DEFAULT_ENDPOINT_CONCURRENCY}): a run
   * keeps this many tasks in flight. Results do not depend on it, so it is not part of the
   * engine's id (see `engineKey`).
   */
  concurrency?: number;
}

/** Bounds of an endpoint's `concurrency` setting. */
export const CONCURRENCY_LIMITS = { min: 1, max: 64 } as const;
/** Requests in flight per endpoint when its `concurrency` is unset. */
export const DEFAULT_ENDPOINT_CONCURRENCY = 8;

/**
 * Most requests an engine config serves at once: in-browser engines (web-llm, wllama) 1, since
 * they cannot batch; an endpoint its `concurrency` setting, clamped to {@link CONCURRENCY_LIMITS}.
 */
export function concurrencyOf(config: EngineConfig): number {
  if (config.kind !== 'openai') return 1;
  const value = config.concurrency ?? DEFAULT_ENDPOINT_CONCURRENCY;
  if (!Number.isFinite(value)) return DEFAULT_ENDPOINT_CONCURRENCY;
  return Math.min(CONCURRENCY_LIMITS.max, Math.max(CONCURRENCY_LIMITS.min, Math.floor(value)));
}

/**
 * Parses the endpoint form's "parallel requests" field: empty means the default; otherwise a
 * whole number within {@link CONCURRENCY_LIMITS}.
 */
export function parseConcurrency(
  input: string,
): { ok: true; value: number | undefined } | { ok: false; error: string } {
  const text = input.trim();
  if (!text) return { ok: true, value: undefined };
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  const { min, max } = CONCURRENCY_LIMITS;
  if (!Number.isSafeInteger(value) || value < min || value > max)
    return {
      ok: false,
      error: `Parallel requests must be a whole number from ${min} to ${max} (or empty for ${DEFAULT_ENDPOINT_CONCURRENCY}). You gave "${text}".`,
    };
  return { ok: true, value };
}

/** Every base URL of an endpoint config, first replica first, without duplicates. */
export function replicaUrls(config: Pick<OpenAiConfig, 'baseUrl' | 'replicas'>): string[] {
  return [...new Set([config.baseUrl, ...(config.replicas ?? [])])];
}

/** Most replicas one endpoint model may list. */
export const MAX_REPLICAS = 16;

/**
 * Parses the endpoint form's base-URL fields (one replica each; empty fields are skipped): each
 * must be an http(s) URL; duplicates are reported. Errors are per field, by index.
 */
export function parseReplicaUrls(
  inputs: readonly string[],
): { ok: true; value: string[] } | { ok: false; errors: Record<number, string> } {
  const errors: Record<number, string> = {};
  const value: string[] = [];
  const seen = new Map<string, number>();
  inputs.forEach((input, i) => {
    const url = input.trim().replace(/\/+$/, '');
    if (!url) return;
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (
      !parsed ||
      (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') ||
      /\s/.test(url)
    ) {
      errors[i] =
        `"${input.trim()}" is not an http(s) URL. Give the server's API base, e.g. http://localhost:11434/v1.`;
      return;
    }
    const earlier = seen.get(url);
    if (earlier !== undefined) {
      errors[i] = `This URL is already replica ${earlier + 1}.`;
      return;
    }
    seen.set(url, i);
    value.push(url);
  });
  if (Object.keys(errors).length) return { ok: false, errors };
  if (value.length === 0)
    return {
      ok: false,
      errors: { 0: 'Enter the endpoint’s base URL, e.g. http://localhost:11434/v1' },
    };
  if (value.length > MAX_REPLICAS)
    return {
      ok: false,
      errors: { [inputs.length - 1]: `At most ${MAX_REPLICAS} replicas per endpoint model.` },
    };
  return { ok: true, value };
}

/** Bounds of a context size the endpoint form accepts (tokens). */
export const CONTEXT_SIZE_LIMITS = { min: 512, max: 2_097_152 } as const;

/**
 * Parses the endpoint form's context-size field: empty means "ask the server" (undefined);
 * otherwise a whole number of tokens within {@link CONTEXT_SIZE_LIMITS}, `k` suffix allowed
 * (`32k` = 32,768) and thousands separators ignored.
 */
export function parseContextSize(
  input: string,
): { ok: true; value: number | undefined } | { ok: false; error: string } {
  const text = input
    .trim()
    .toLowerCase()
    .replace(/[,_\s]/g, '');
  if (!text) return { ok: true, value: undefined };
  const match = /^(\d+)(k?)$/.exec(text);
  const value = match ? Number(match[1]) * (match[2] ? 1024 : 1) : NaN;
  const { min, max } = CONTEXT_SIZE_LIMITS;
  if (!Number.isSafeInteger(value) || value < min || value > max)
    return {
      ok: false,
      error: `Context size must be a whole number of tokens from ${min.toLocaleString('en')} to ${max.toLocaleString('en')} (e.g. 8192 or 32k), or empty to use what the server reports. You gave "${input.trim()}".`,
    };
  return { ok: true, value };
}

export type EngineConfig = WebLlmConfig | WllamaConfig | OpenAiConfig;

/** The agent roles of the method (METHOD.md §1, §3, §5). */
export const AGENT_ROLES = [
  'annotator',
  'planner',
  'attacker',
  'defender',
  'safetyJudge',
  'qualityJudge',
  'violator',
  'target',
] as const;
export type AgentRole = (typeof AGENT_ROLES)[number];

export const ROLE_LABELS: Record<AgentRole, string> = {
  annotator: 'Rule annotator',
  planner: 'Planner',
  attacker: 'Attacker',
  defender: 'Defender',
  safetyJudge: 'Safety judge',
  qualityJudge: 'Quality judge',
  violator: 'Violator',
  target: 'Evaluation target',
};

/** Stable, human-readable id of an engine config; used as a cache key and in provenance. */
export function engineKey(config: EngineConfig): string {
  switch (config.kind) {
    case 'webllm':
      return `webllm:${config.model}${config.baseUrl ? `@${config.baseUrl}` : ''}`;
    case 'wllama':
      return `wllama:${config.source.type === 'url' ? config.source.url : `local/${config.source.fileName}`}`;
    case 'openai':
      // The context size changes how work is sized, so a different one is a different engine.
      // Replicas are where requests go, so they are part of the engine; a price is not.
      return `openai:${config.model}@${replicaUrls(config).join(',')}${config.contextSize ? `#ctx=${config.contextSize}` : ''}`;
  }
}

/**
 * Whether two configs load the same thing in the same way (key order ignored). Same
 * {@link engineKey} with different options (e.g. layers on GPU, context size) means a reload.
 */
export function sameEngineConfig(a: EngineConfig, b: EngineConfig): boolean {
  return stableJson(a) === stableJson(b);
}

function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'undefined';
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
}

/** Progress of a model download or load, normalised across engines. */
export interface LoadProgress {
  /** 0..1 */
  fraction: number;
  /** Human-readable status from the engine, e.g. "Fetching param cache[3/20]". */
  text: string;
  loadedBytes?: number;
  totalBytes?: number;
}
