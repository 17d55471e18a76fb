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
      return `openai:${config.model}@${config.baseUrl}`;
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
