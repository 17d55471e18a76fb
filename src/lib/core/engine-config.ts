/**
 * Which engine and model a role uses: plain data, stored per project and sent to the worker.
 * Secrets (an endpoint's API key) are never part of it: they live in the browser's settings
 * store, keyed by endpoint, and are never exported.
 */
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
}

export interface OpenAiConfig {
  kind: 'openai';
  /** e.g. http://localhost:11434/v1 */
  baseUrl: string;
  model: string;
  /**
   * The model's context window in tokens, as the user set it on the server (Ollama `num_ctx`,
   * llama.cpp `-c`). Wins over what `/models` reports; unset: the reported value, else 8,192.
   * Chunking and estimates size prompts by it.
   */
  contextSize?: number;
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
      return `openai:${config.model}@${config.baseUrl}${config.contextSize ? `#ctx=${config.contextSize}` : ''}`;
  }
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
