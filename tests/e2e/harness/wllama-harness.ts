/**
 * Test-only page script: drives the wllama engine in a real browser for
 * tests/e2e/wllama-engine.spec.ts. Served by the Vite dev server only; never part of the app.
 * Every call resolves to a plain-data {@link Outcome} because errors lose their class when they
 * cross `page.evaluate`.
 */
import type { GpuLayersSetting, LoadProgress, WllamaConfig } from '$lib/core/engine-config';
import type { ChatRequest, ChatResult } from '$lib/core/llm';
import { deleteWllamaModel, listWllamaModels, saveLocalModel } from '$lib/engines/local-models';
import type { CachedModel } from '$lib/engines/types';
import type { WebGpuCapabilities } from '$lib/engines/gpu-offload';
import {
  createWllamaEngine,
  type WllamaBackend,
  type WllamaEngine,
} from '$lib/engines/wllama-engine';

export type Outcome<T> = { ok: true; value: T } | { ok: false; name: string; message: string };

export interface HarnessLoadInfo {
  id: string;
  contextWindow: number;
  threads: number;
  fileBytes: number;
  architecture: string | undefined;
  loadMs: number;
  progress: LoadProgress[];
  backend: WllamaBackend;
}

export interface HarnessLoadOptions {
  contextSize?: number;
  threads?: number;
  /** Aborts the load through its AbortSignal after this many milliseconds. */
  abortAfterMs?: number;
  gpuLayers?: GpuLayersSetting;
  /** Replaces the engine's own WebGPU/JSPI probe. */
  webgpu?: WebGpuCapabilities;
}

export interface HarnessApi {
  environment(): { crossOriginIsolated: boolean; hardwareConcurrency: number };
  /** Loads a GGUF by URL (downloads into wllama's cache). */
  loadUrl(url: string, options?: HarnessLoadOptions): Promise<Outcome<HarnessLoadInfo>>;
  /** Fetches `url`, stores it as a picked file in OPFS, then loads it by file name. */
  loadPicked(url: string, fileName: string): Promise<Outcome<HarnessLoadInfo>>;
  /** Loads a file previously stored in OPFS, by name. */
  loadStored(fileName: string): Promise<Outcome<HarnessLoadInfo>>;
  /** Tries to store a picked file with these text contents (for the invalid-file path). */
  storeText(text: string, fileName: string): Promise<Outcome<unknown>>;
  /** Tries to load a Blob with these text contents directly. */
  loadText(text: string, fileName: string): Promise<Outcome<HarnessLoadInfo>>;
  /** One chat call; `abortAfterMs` aborts it through an AbortSignal. */
  chat(request: Omit<ChatRequest, 'signal'>, abortAfterMs?: number): Promise<Outcome<ChatResult>>;
  /** Unloads the model; `keepEngine` keeps the reference so a later chat hits the unloaded engine. */
  unload(keepEngine?: boolean): Promise<Outcome<void>>;
  listModels(): Promise<Outcome<CachedModel[]>>;
  deleteModel(key: string): Promise<Outcome<void>>;
}

/** The same API, run inside a module worker as the app runs engines; every call is async. */
export type WorkerHarnessApi = {
  [K in keyof HarnessApi]: (
    ...args: Parameters<HarnessApi[K]>
  ) => Promise<Awaited<ReturnType<HarnessApi[K]>>>;
};

declare global {
  interface Window {
    wllamaHarness?: HarnessApi;
    wllamaWorkerHarness?: WorkerHarnessApi;
  }
}

interface WorkerCall {
  id: number;
  name: keyof HarnessApi;
  args: unknown[];
}

let engine: WllamaEngine | undefined;

async function outcome<T>(work: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    return { ok: false, name: e.name, message: e.message };
  }
}

async function load(
  config: WllamaConfig,
  file?: Blob,
  { abortAfterMs, threads, webgpu }: HarnessLoadOptions = {},
): Promise<HarnessLoadInfo> {
  await engine?.unload();
  engine = undefined;
  const progress: LoadProgress[] = [];
  const controller = new AbortController();
  if (abortAfterMs !== undefined) setTimeout(() => controller.abort(), abortAfterMs);
  const started = performance.now();
  engine = await createWllamaEngine(config, {
    onProgress: (p) => progress.push(p),
    signal: controller.signal,
    ...(file && { file }),
    ...(threads !== undefined && { threads }),
    ...(webgpu && { webgpu }),
  });
  return {
    id: engine.id,
    contextWindow: engine.contextWindow,
    threads: engine.threads,
    fileBytes: engine.fileBytes,
    architecture: engine.header.architecture,
    loadMs: performance.now() - started,
    progress,
    backend: engine.backend,
  };
}

const api: HarnessApi = {
  environment: () => ({
    crossOriginIsolated,
    hardwareConcurrency: navigator.hardwareConcurrency,
  }),
  loadUrl: (url, options = {}) =>
    outcome(() =>
      load(
        {
          kind: 'wllama',
          model: url.split('/').pop() ?? url,
          source: { type: 'url', url },
          ...(options.contextSize !== undefined && { contextSize: options.contextSize }),
          ...(options.gpuLayers !== undefined && { gpuLayers: options.gpuLayers }),
        },
        undefined,
        options,
      ),
    ),
  loadPicked: (url, fileName) =>
    outcome(async () => {
      const bytes = await (await fetch(url)).blob();
      const stored = await saveLocalModel(new File([bytes], fileName));
      return load({
        kind: 'wllama',
        model: stored.fileName,
        source: { type: 'local', fileName: stored.fileName },
      });
    }),
  loadStored: (fileName) =>
    outcome(() => load({ kind: 'wllama', model: fileName, source: { type: 'local', fileName } })),
  storeText: (text, fileName) =>
    outcome(() => saveLocalModel(new File([text], fileName, { type: 'application/octet-stream' }))),
  loadText: (text, fileName) =>
    outcome(() =>
      load(
        { kind: 'wllama', model: fileName, source: { type: 'local', fileName } },
        new Blob([text]),
      ),
    ),
  chat: (request, abortAfterMs) =>
    outcome(async () => {
      if (!engine) throw new Error('harness: no model loaded');
      const controller = new AbortController();
      if (abortAfterMs !== undefined) setTimeout(() => controller.abort(), abortAfterMs);
      return engine.chat({ ...request, signal: controller.signal });
    }),
  unload: (keepEngine) =>
    outcome(async () => {
      await engine?.unload();
      if (!keepEngine) engine = undefined;
    }),
  listModels: () => outcome(listWllamaModels),
  deleteModel: (key) => outcome(() => deleteWllamaModel(key)),
};

/** Starts this same module as a worker on first use and forwards calls to it. */
function workerHarness(): WorkerHarnessApi {
  let worker: Worker | undefined;
  let nextId = 1;
  const pending = new Map<number, (result: unknown) => void>();
  const callWorker = (name: keyof HarnessApi, args: unknown[]) => {
    if (!worker) {
      worker = new Worker(new URL('./wllama-harness.ts', import.meta.url), { type: 'module' });
      worker.onmessage = (event: MessageEvent<{ id: number; result: unknown }>) => {
        pending.get(event.data.id)?.(event.data.result);
        pending.delete(event.data.id);
      };
    }
    const id = nextId++;
    return new Promise((resolve) => {
      pending.set(id, resolve);
      worker!.postMessage({ id, name, args } satisfies WorkerCall);
    });
  };
  return new Proxy({} as WorkerHarnessApi, {
    get:
      (_, name) =>
      (...args: unknown[]) =>
        callWorker(name as keyof HarnessApi, args),
  });
}

if (typeof window === 'undefined') {
  const scope = self as unknown as DedicatedWorkerGlobalScope;
  scope.onmessage = async (event: MessageEvent<WorkerCall>) => {
    const { id, name, args } = event.data;
    const result = await (api[name] as (...a: unknown[]) => unknown)(...args);
    scope.postMessage({ id, result });
  };
} else {
  window.wllamaHarness = api;
  window.wllamaWorkerHarness = workerHarness();
  document.getElementById('status')!.textContent = 'harness ready';
}
