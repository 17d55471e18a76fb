import { engineKey, type EngineConfig, type LoadProgress } from '$lib/core/engine-config';
import { errorMessage, isAbortError } from '$lib/core/errors';
import type { LoadedModelInfo, ModelTestResult } from '$lib/worker/api';
import { newJobId, pipeline, progressProxy } from '$lib/worker/client';

export interface ModelJob {
  id: string;
  kind: 'load' | 'test';
  config: EngineConfig;
  label: string;
  startedAt: number;
  progress: LoadProgress;
}

/**
 * Model loading and testing as seen by the UI: one job at a time (the worker runs one engine
 * request at a time anyway), with progress, cancel, and the last error or test result.
 */
export class ModelJobs {
  #job = $state.raw<ModelJob | undefined>();
  #error = $state<string | undefined>();
  #loaded = $state.raw<LoadedModelInfo[]>([]);
  #tests = $state.raw<Record<string, ModelTestResult>>({});

  get job(): ModelJob | undefined {
    return this.#job;
  }
  get error(): string | undefined {
    return this.#error;
  }
  get loaded(): LoadedModelInfo[] {
    return this.#loaded;
  }
  testResult(config: EngineConfig): ModelTestResult | undefined {
    return this.#tests[engineKey(config)];
  }

  async refresh(): Promise<void> {
    this.#loaded = await pipeline().loadedModels();
  }

  /** Loads a model; resolves to its info, or undefined when it failed or was cancelled. */
  load(config: EngineConfig): Promise<LoadedModelInfo | undefined> {
    return this.#run('load', config, `Loading ${config.model}`, (id, onProgress, plain) =>
      pipeline().loadModel(id, plain, onProgress),
    );
  }

  async test(config: EngineConfig): Promise<void> {
    const result = await this.#run(
      'test',
      config,
      `Testing ${config.model}`,
      (id, onProgress, plain) => pipeline().testModel(id, plain, onProgress),
    );
    if (result) this.#tests = { ...this.#tests, [engineKey(config)]: result };
  }

  async unload(key: string): Promise<void> {
    await pipeline().unloadModel(key);
    await this.refresh();
  }

  cancel(): void {
    if (this.#job) void pipeline().cancel(this.#job.id);
  }

  clearError(): void {
    this.#error = undefined;
  }

  async #run<T>(
    kind: ModelJob['kind'],
    config: EngineConfig,
    label: string,
    call: (id: string, onProgress: (p: LoadProgress) => void, config: EngineConfig) => Promise<T>,
  ): Promise<T | undefined> {
    // Configs may arrive as rune proxies, which postMessage cannot clone.
    config = $state.snapshot(config) as EngineConfig;
    const id = newJobId(kind);
    this.#error = undefined;
    this.#job = {
      id,
      kind,
      config,
      label,
      startedAt: Date.now(),
      progress: { fraction: 0, text: 'Starting…' },
    };
    try {
      return await call(
        id,
        progressProxy((progress) => {
          if (this.#job?.id === id) this.#job = { ...this.#job, progress };
        }),
        config,
      );
    } catch (error) {
      this.#error = isAbortError(error) ? 'Cancelled.' : errorMessage(error);
      return undefined;
    } finally {
      if (this.#job?.id === id) this.#job = undefined;
      await this.refresh().catch(() => undefined);
    }
  }
}
