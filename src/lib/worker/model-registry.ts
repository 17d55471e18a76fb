import {
  concurrencyOf,
  engineKey,
  sameEngineConfig,
  type EngineConfig,
} from '$lib/core/engine-config';
import { AbortedError } from '$lib/core/errors';
import { limitConcurrency, type ConcurrencyLimited } from '$lib/core/llm';
import type { EngineBackend, EngineLoadOptions, LoadedEngine } from '$lib/engines/types';
import type { ReplicaStatus } from '$lib/core/endpoint-policy';
import type { EndpointStatus, LoadedModelInfo } from './api';

/** An endpoint's price and concurrency are settings of its use, not of the engine (see `ensure`). */
const engineIdentity = (config: EngineConfig): EngineConfig =>
  config.kind === 'openai' ? { ...config, price: undefined, concurrency: undefined } : config;

type Loader = (config: EngineConfig, options: EngineLoadOptions) => Promise<LoadedEngine>;

/**
 * The models loaded in this worker, by engine key. Loading a second GPU/CPU model of the same
 * kind unloads the first: two web-llm models rarely fit in VRAM, and wllama models share the
 * CPU. Endpoint "models" cost nothing and stay. The same model asked for with other options
 * (e.g. a GGUF's layers on GPU) is loaded again with them.
 */
export class ModelRegistry {
  #loaded = new Map<
    string,
    {
      engine: LoadedEngine;
      info: LoadedModelInfo;
      raw: LoadedEngine;
      limited: ConcurrencyLimited<LoadedEngine>;
    }
  >();
  #pending = new Map<string, Promise<LoadedEngine>>();

  constructor(
    private readonly loader: Loader,
    private readonly apiKeyFor: (config: EngineConfig) => Promise<string | undefined>,
  ) {}

  get(key: string): LoadedEngine | undefined {
    return this.#loaded.get(key)?.engine;
  }

  list(): LoadedModelInfo[] {
    return [...this.#loaded.values()].map((m) => m.info);
  }

  async ensure(
    config: EngineConfig,
    options: Omit<EngineLoadOptions, 'apiKey'>,
  ): Promise<LoadedEngine> {
    const key = engineKey(config);
    const ready = this.#loaded.get(key);
    if (ready && sameEngineConfig(engineIdentity(ready.info.config), engineIdentity(config))) {
      // A new price or concurrency changes nothing about the engine (results do not depend on
      // them): the loaded one stays, with the newest details and concurrency.
      if (config.kind === 'openai') ready.limited.setConcurrency(concurrencyOf(config));
      if (!sameEngineConfig(ready.info.config, config)) ready.info = { ...ready.info, config };
      return ready.engine;
    }
    const inFlight = this.#pending.get(key);
    if (inFlight) return inFlight;
    if (ready) await this.unload(key);
    const promise = this.#load(key, config, options);
    this.#pending.set(key, promise);
    try {
      return await promise;
    } finally {
      this.#pending.delete(key);
    }
  }

  async #load(key: string, config: EngineConfig, options: Omit<EngineLoadOptions, 'apiKey'>) {
    if (config.kind !== 'openai') {
      for (const [other, m] of this.#loaded) {
        if (m.info.config.kind === config.kind) await this.unload(other);
      }
    }
    const started = Date.now();
    const apiKey = await this.apiKeyFor(config);
    const raw = await this.loader(config, { ...options, apiKey });
    if (options.signal?.aborted) {
      await raw.unload();
      throw new AbortedError('Model loading was cancelled.');
    }
    // In-browser engines take one request at a time; an endpoint as many as its setting says.
    const limited = limitConcurrency(raw, raw.maxConcurrency ?? 1);
    const engine: LoadedEngine = {
      id: raw.id,
      contextWindow: raw.contextWindow,
      config: raw.config,
      get maxConcurrency() {
        return limited.maxConcurrency;
      },
      unload: () => raw.unload(),
      chat: async (request) => {
        try {
          return await limited.chat(request);
        } catch (error) {
          // A lost GPU device never comes back: forget the engine so the next use reloads it.
          if (error instanceof Error && error.name === 'DeviceLostError') {
            if (this.#loaded.get(key)?.engine === engine) this.#loaded.delete(key);
            await raw.unload().catch(() => undefined);
          }
          throw error;
        }
      },
    };
    const info: LoadedModelInfo = {
      key,
      config,
      contextWindow: engine.contextWindow,
      loadMs: Date.now() - started,
      backend: raw.backend ?? defaultBackend(config),
    };
    this.#loaded.set(key, { engine, info, raw, limited });
    return engine;
  }

  /** The replicas of every loaded endpoint model, with their health and load. */
  endpointStatus(): EndpointStatus[] {
    const out: EndpointStatus[] = [];
    for (const { info, raw } of this.#loaded.values()) {
      const status = (raw as { replicaStatus?: () => ReplicaStatus[] }).replicaStatus;
      if (info.config.kind === 'openai' && typeof status === 'function')
        out.push({ key: info.key, model: info.config.model, replicas: status.call(raw) });
    }
    return out;
  }

  async unload(key: string): Promise<void> {
    const entry = this.#loaded.get(key);
    if (!entry) return;
    this.#loaded.delete(key);
    await entry.engine.unload();
  }
}

/** Where engines without their own report compute: web-llm always on WebGPU, endpoints remotely. */
function defaultBackend(config: EngineConfig): EngineBackend {
  switch (config.kind) {
    case 'webllm':
      return { kind: 'webgpu', label: 'WebGPU (web-llm)', detail: 'web-llm runs on WebGPU only.' };
    case 'openai':
      return {
        kind: 'remote',
        label: 'Endpoint',
        detail: `Runs on the server at ${config.baseUrl}.`,
      };
    case 'wllama':
      return { kind: 'cpu', label: 'CPU', detail: 'llama.cpp in WebAssembly.' };
  }
}
