import type { EngineConfig, LoadProgress } from '$lib/core/engine-config';
import type { ChatEngine } from '$lib/core/llm';

/** Where a loaded model computes, for the Models screen. */
export interface EngineBackend {
  kind: 'webgpu' | 'cpu' | 'remote';
  /** Short label, e.g. "WebGPU (all 29 layers)", "CPU (4 threads)". */
  label: string;
  /** Why it runs there: what was chosen, or why the GPU was not used. */
  detail: string;
}

/** A loaded model: a ChatEngine that can also free its memory. */
export interface LoadedEngine extends ChatEngine {
  readonly config: EngineConfig;
  /** Where it computes; engines that always run in one place may leave it out. */
  readonly backend?: EngineBackend;
  unload(): Promise<void>;
}

export interface EngineLoadOptions {
  onProgress?: (progress: LoadProgress) => void;
  signal?: AbortSignal;
  /** API key for an OpenAI-compatible endpoint, read from browser-only settings by the worker. */
  apiKey?: string;
}

/** What the WebGPU probe found; plain data for the Models screen. */
export interface WebGpuReport {
  /** navigator.gpu exists in this context (the worker). */
  apiPresent: boolean;
  /** An adapter was granted. */
  adapterFound: boolean;
  /** Software fallback adapter (e.g. SwiftShader): works but far too slow for real models. */
  isFallback: boolean;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  shaderF16: boolean;
  limits: {
    maxBufferSize: number;
    maxStorageBufferBindingSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
  };
  features: string[];
  /** Plain-language summary: what works here and what to do otherwise. */
  summary: string;
}

/** One entry of web-llm's prebuilt model list, reduced to what the picker shows. */
export interface WebLlmModelInfo {
  id: string;
  /** Quantisation suffix, e.g. q4f16_1, q4f32_1. */
  quantization: string;
  needsShaderF16: boolean;
  /** Approximate download size in bytes (weights), when known. */
  downloadBytes?: number;
  vramMB?: number;
  lowResourceRequired: boolean;
  contextWindow?: number;
  /** Suitable for this app (instruct/chat LLM, not embedding or vision-only). */
  isChatModel: boolean;
}

export interface CachedModel {
  /** engineKey of the config that can load it. */
  key: string;
  kind: 'webllm' | 'wllama';
  name: string;
  bytes?: number;
}
