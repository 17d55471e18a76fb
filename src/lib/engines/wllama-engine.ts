/**
 * The GGUF engine: llama.cpp compiled to WebAssembly (@wllama/wllama v3), running any GGUF model
 * on WebGPU when this browser can (see gpu-offload.ts for what that takes) and on the CPU
 * otherwise. wllama v3 embeds llama-server's request handling, so chat templates (Jinja, from
 * the GGUF), sampling, and JSON-schema-constrained decoding (`response_format: json_schema`,
 * converted to a GBNF grammar inside llama.cpp) come from llama.cpp itself.
 *
 * Threads: the wasm build is one file for both modes; it runs multi-threaded only when the
 * context is cross-origin isolated (COOP/COEP headers give SharedArrayBuffer).
 */
import {
  LogLevel,
  Wllama,
  WllamaAbortError,
  WllamaError,
  type LoadedContextInfo,
  type WllamaLogger,
} from '@wllama/wllama';
// One wasm for single- and multi-thread since wllama 3.1; Vite copies it into the build.
import wllamaWasmUrl from '@wllama/wllama/esm/wasm/wllama.wasm?url';
import { engineKey, type LoadProgress, type WllamaConfig } from '$lib/core/engine-config';
import {
  AbortedError,
  EngineUnavailableError,
  ModelLoadError,
  NoModelLoadedError,
  SpecAlignError,
  errorMessage,
  isAbortError,
} from '$lib/core/errors';
import type { ChatRequest, ChatResult } from '$lib/core/llm';
import {
  capabilitiesFromReport,
  chooseGpuLayers,
  confirmOffload,
  hasJspi,
  offloadedLayersIn,
  type OffloadChoice,
  type WebGpuCapabilities,
  type WllamaBackend,
} from './gpu-offload';
import { openLocalModel, readGgufHeader, type GgufHeader } from './local-models';
import type { EngineLoadOptions, LoadedEngine } from './types';
import { probeWebGpu } from './webgpu-report';

/** Context allocated when the config does not say; bounded by the model's training context. */
export const DEFAULT_WLLAMA_CONTEXT = 4096;
/** More threads than this stop helping llama.cpp on the CPU and starve the UI. */
export const MAX_WLLAMA_THREADS = 8;

export type { WllamaBackend };

/** Extra load options of the wllama engine. */
export interface WllamaLoadOptions extends EngineLoadOptions {
  /** The model bytes, when the caller already opened the file (skips the config's source). */
  file?: Blob;
  /**
   * llama.cpp threads when the page is cross-origin isolated (ignored otherwise: 1); at most
   * the logical cores. Default: half of them, see {@link pickThreadCount}.
   */
  threads?: number;
  /** What WebGPU offers; probed in this context (JSPI + `navigator.gpu`) when left out. */
  webgpu?: WebGpuCapabilities;
}

/** A loaded wllama model: a {@link LoadedEngine} plus what the Models screen can show. */
export interface WllamaEngine extends LoadedEngine {
  readonly config: WllamaConfig;
  /** Threads llama.cpp uses: 1 unless the page is cross-origin isolated. */
  readonly threads: number;
  /** What the GGUF header says (architecture, trained context). */
  readonly header: GgufHeader;
  /** Size of the model file in bytes. */
  readonly fileBytes: number;
  readonly backend: WllamaBackend;
}

/** llama-server's per-reply timings (wllama's `ResultTimings`, not exported by its index). */
interface LlamaTimings {
  prompt_n: number;
  prompt_ms: number;
  predicted_n: number;
  predicted_ms: number;
}

/** The model ran but llama.cpp reported an error (e.g. the prompt does not fit the context). */
export class WllamaInferenceError extends SpecAlignError {}

/**
 * Loads a GGUF model into wllama and returns it as a {@link WllamaEngine}.
 *
 * The model comes from `options.file` when given (a File the caller opened), else from the
 * config's source: a URL (downloaded once into wllama's OPFS cache, with progress) or a file
 * kept in OPFS by `saveLocalModel`. Layers go to WebGPU as {@link chooseGpuLayers} decides from
 * `config.gpuLayers`, this browser and the model; when the GPU load fails the model loads on
 * the CPU and `backend.detail` says why. Throws `InvalidModelFileError` when the bytes are not
 * GGUF (or cut off), {@link ModelLoadError} when download or llama.cpp loading fails,
 * {@link EngineUnavailableError} when this browser's WebAssembly lacks what the build needs, and
 * {@link AbortedError} when `options.signal` aborts.
 *
 * The engine's `chat` queues requests (llama.cpp has one context), rejects with
 * {@link AbortedError} on `request.signal` (queued or running), {@link WllamaInferenceError}
 * when llama.cpp refuses (e.g. the prompt exceeds the context) and {@link NoModelLoadedError}
 * after `unload()`.
 */
export async function createWllamaEngine(
  config: WllamaConfig,
  options: WllamaLoadOptions = {},
): Promise<WllamaEngine> {
  const { signal, onProgress } = options;
  throwIfAborted(signal);
  assertWasmSupport();
  // The model source is resolved once; the blob survives a failed GPU attempt.
  let source: { blob: Blob; displayName: string; header?: GgufHeader } | undefined;
  let plannedGpu = false;
  const attempt = async (wllama: Wllama, log: NativeLog, choice: () => Promise<OffloadChoice>) => {
    if (!source) source = await resolveModelBlob(wllama, config, options.file, signal, onProgress);
    const { blob, displayName } = source;
    throwIfAborted(signal);
    const header = (source.header ??= await readGgufHeader(blob, displayName));
    const nCtx = Math.min(
      config.contextSize ?? DEFAULT_WLLAMA_CONTEXT,
      header.contextLength ?? Infinity,
    );
    const threads = pickThreadCount(options.threads);
    const offload = await choice();
    const where =
      offload.backend === 'webgpu'
        ? `WebGPU, ${offload.gpuLayers} of ${offload.totalLayers} layers`
        : `${threads} CPU thread${threads > 1 ? 's' : ''}`;
    onProgress?.({ fraction: 1, text: `Loading ${displayName} into llama.cpp (${where})…` });
    await raceAbort(
      wllama.loadModel([blob], {
        n_ctx: nCtx,
        n_threads: threads,
        // 0 also makes wllama skip its WebGPU probe entirely.
        n_gpu_layers: offload.gpuLayers,
        // One request at a time (the engine is serialised), so one slot gets the whole context.
        n_parallel: 1,
        // INFO on the GPU path: llama.cpp's "offloaded N/M layers to GPU" line confirms it.
        log_level: offload.backend === 'webgpu' ? LogLevel.INFO : LogLevel.WARN,
      }),
      signal,
      'Model loading was cancelled.',
    );
    // wllama 3.13 resolves even when llama.cpp failed to load: the reply says success=false.
    const info = wllama.getLoadedContextInfo() as LoadedContextInfo & { success?: boolean };
    if (info.success === false || !info.n_ctx || !info.n_vocab) {
      throw new WllamaError('llama.cpp did not load the model', 'load_error');
    }
    return new LoadedWllamaEngine(wllama, config, {
      contextWindow: info.n_ctx,
      threads: wllama.getNumThreads(),
      header,
      fileBytes: blob.size,
      backend: confirmOffload(
        offload,
        log.offloadedLayers,
        log.gpuProblem(),
        wllama.getNumThreads(),
      ),
    });
  };

  const gpu = newWllama();
  let gpuFailure: string;
  try {
    return await attempt(gpu.wllama, gpu.log, async () => {
      const caps = options.webgpu ?? (await probeCapabilities());
      const choice = chooseGpuLayers(config.gpuLayers, caps, source?.header?.tensorSizes);
      plannedGpu = choice.backend === 'webgpu';
      return choice;
    });
  } catch (error) {
    await gpu.wllama.exit().catch(() => undefined);
    const failure = toLoadError(error, config, gpu.log, signal);
    // Only a failed GPU attempt is worth a second, CPU-only one.
    if (!plannedGpu || !(failure instanceof ModelLoadError)) throw failure;
    gpuFailure = gpu.log.gpuProblem() ?? gpu.log.reason() ?? errorMessage(error);
  }
  const cpu = newWllama();
  try {
    return await attempt(cpu.wllama, cpu.log, async () => ({
      backend: 'cpu',
      gpuLayers: 0,
      totalLayers: (source?.header?.tensorSizes?.layers.length ?? 0) + 1,
      reason: `CPU: loading on WebGPU failed (${gpuFailure}), so the model runs on the CPU.`,
    }));
  } catch (error) {
    await cpu.wllama.exit().catch(() => undefined);
    throw toLoadError(error, config, cpu.log, signal);
  }
}

function newWllama(): { wllama: Wllama; log: NativeLog } {
  const log = new NativeLog();
  const wllama = new Wllama(
    { default: wllamaWasmUrl },
    { logger: log.logger, parallelDownloads: 1 },
  );
  // Compat mode fetches a second build from a CDN; we never reach out to third parties.
  wllama.setCompat(null);
  return { wllama, log };
}

/** JSPI and the WebGPU adapter of this context (the worker: wllama's own worker sees the same). */
async function probeCapabilities(): Promise<WebGpuCapabilities> {
  return capabilitiesFromReport(await probeWebGpu(), hasJspi());
}

class LoadedWllamaEngine implements WllamaEngine {
  readonly id: string;
  readonly contextWindow: number;
  readonly threads: number;
  readonly header: GgufHeader;
  readonly fileBytes: number;
  readonly backend: WllamaBackend;
  #wllama: Wllama | undefined;
  // llama.cpp has one context: requests queue here (see serializeEngine for the why).
  #tail: Promise<unknown> = Promise.resolve();

  constructor(
    wllama: Wllama,
    readonly config: WllamaConfig,
    loaded: {
      contextWindow: number;
      threads: number;
      header: GgufHeader;
      fileBytes: number;
      backend: WllamaBackend;
    },
  ) {
    this.#wllama = wllama;
    this.id = engineKey(config);
    this.contextWindow = loaded.contextWindow;
    this.threads = loaded.threads;
    this.header = loaded.header;
    this.fileBytes = loaded.fileBytes;
    this.backend = loaded.backend;
  }

  chat(request: ChatRequest): Promise<ChatResult> {
    const run = this.#tail.then(() => this.#chat(request));
    this.#tail = run.catch(() => undefined);
    // A caller that cancels while queued behind another request hears back at once.
    return raceAbort(run, request.signal, 'Cancelled.');
  }

  async #chat(request: ChatRequest): Promise<ChatResult> {
    const wllama = this.#wllama;
    if (!wllama) {
      throw new NoModelLoadedError(
        `${this.config.model} was unloaded; load it again on the Models screen.`,
      );
    }
    throwIfAborted(request.signal);
    const started = performance.now();
    try {
      const response = await wllama.createChatCompletion({
        messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
        // Reuse the longest token prefix this request shares with the last one in llama.cpp's KV
        // cache and evaluate only the rest (issue 13 §2; llama-server's default, stated here so a
        // change of default cannot turn it off). Agents' prompts start with the same instance
        // prompt (core/synthesis/agents/prompt-layout.ts), so most of each prompt is reused;
        // `timings.prompt_n` below counts what was evaluated.
        cache_prompt: true,
        ...(request.maxTokens !== undefined && { max_tokens: request.maxTokens }),
        ...(request.temperature !== undefined && { temperature: request.temperature }),
        ...(request.seed !== undefined && { seed: request.seed }),
        ...(request.jsonSchema && {
          response_format: {
            type: 'json_schema' as const,
            json_schema: { name: 'reply', schema: request.jsonSchema, strict: true },
          },
        }),
        ...(request.signal && { abortSignal: request.signal }),
      });
      const choice = response.choices[0];
      // llama-server adds its timings to every reply (wllama's type omits them).
      const t = (response as { timings?: Partial<LlamaTimings> }).timings;
      const timings =
        t && typeof t.prompt_ms === 'number' && typeof t.predicted_ms === 'number'
          ? {
              promptTokens: t.prompt_n ?? 0,
              promptMs: t.prompt_ms,
              decodeTokens: t.predicted_n ?? 0,
              decodeMs: t.predicted_ms,
            }
          : undefined;
      return {
        text: choice?.message.content ?? '',
        usage: {
          promptTokens: response.usage?.prompt_tokens ?? 0,
          completionTokens: response.usage?.completion_tokens ?? 0,
        },
        finishReason: choice?.finish_reason === 'length' ? 'length' : 'stop',
        durationMs: performance.now() - started,
        ...(timings && { timings }),
      };
    } catch (error) {
      if (error instanceof WllamaAbortError || isAbortError(error) || request.signal?.aborted) {
        throw new AbortedError();
      }
      if (!this.#wllama) {
        throw new NoModelLoadedError(`${this.config.model} was unloaded while it was answering.`);
      }
      throw new WllamaInferenceError(inferenceMessage(error, this.contextWindow), { cause: error });
    }
  }

  async unload(): Promise<void> {
    const wllama = this.#wllama;
    this.#wllama = undefined;
    await wllama?.exit();
  }
}

// ---------------------------------------------------------------------------------------------
// Loading helpers

async function resolveModelBlob(
  wllama: Wllama,
  config: WllamaConfig,
  file: Blob | undefined,
  signal: AbortSignal | undefined,
  onProgress: ((p: LoadProgress) => void) | undefined,
): Promise<{ blob: Blob; displayName: string; header?: GgufHeader }> {
  const source = config.source;
  if (file) {
    return { blob: file, displayName: source.type === 'local' ? source.fileName : config.model };
  }
  if (source.type === 'local') {
    return { blob: await openLocalModel(source.fileName), displayName: source.fileName };
  }
  const url = source.url;
  const displayName = decodeURIComponent(url.split('?')[0]?.split('/').pop() || url);
  if (!/\.gguf(\?.*)?$/i.test(url)) {
    throw new ModelLoadError(
      `The model URL must point to a .gguf file (it ends in "${displayName}"). ` +
        'For a split model, give the URL of the first part (…-00001-of-0000N.gguf).',
    );
  }
  let model;
  try {
    const manager = wllama.modelManager;
    model = (await manager.getModels()).find((m) => m.url === url);
    if (model) {
      onProgress?.({
        fraction: 1,
        text: `Using ${displayName} from this browser's storage (${formatMb(model.size)})`,
        loadedBytes: model.size,
        totalBytes: model.size,
      });
    } else {
      model = await manager.downloadModel(url, {
        ...(signal && { signal }),
        progressCallback: ({ loaded, total }) =>
          onProgress?.({
            fraction: total > 0 ? Math.min(1, loaded / total) : 0,
            text: `Downloading ${displayName}: ${formatMb(loaded)}${total > 0 ? ` of ${formatMb(total)}` : ''}`,
            loadedBytes: loaded,
            ...(total > 0 && { totalBytes: total }),
          }),
      });
    }
  } catch (error) {
    if (isAbortError(error) || signal?.aborted)
      throw new AbortedError('Model download was cancelled.');
    throw new ModelLoadError(
      `Could not download ${displayName} from ${url}: ${errorMessage(error)}. Check the URL and ` +
        'your connection; a server on another origin must allow CORS (and send ' +
        'Cross-Origin-Resource-Policy when this page is cross-origin isolated).',
      { cause: error },
    );
  }
  const blobs = await model.open();
  const blob = blobs.length === 1 ? blobs[0] : undefined;
  if (!blob) {
    throw new ModelLoadError(
      `${displayName} is split into ${blobs.length} parts; load the file as one .gguf part.`,
    );
  }
  try {
    return { blob, displayName, header: await readGgufHeader(blob, displayName) };
  } catch (error) {
    // Don't keep a cached HTML error page or a truncated file: the next try downloads afresh.
    await model.remove().catch(() => undefined);
    throw error;
  }
}

/** Memory64 is required by the single wllama build we ship (compat builds come from a CDN). */
function assertWasmSupport(): void {
  try {
    new WebAssembly.Memory({
      address: 'i64',
      initial: 1n,
    } as unknown as WebAssembly.MemoryDescriptor);
  } catch {
    throw new EngineUnavailableError(
      "This browser's WebAssembly lacks 64-bit memory (Memory64), which the GGUF engine (wllama) needs. " +
        'Use Chrome or Edge 133+ or Firefox 134+, or connect an OpenAI-compatible endpoint instead.',
    );
  }
}

/**
 * Threads for llama.cpp: 1 unless cross-origin isolated; else `requested`, or by default half
 * the logical cores (≈ physical cores, and room for the UI), capped at {@link MAX_WLLAMA_THREADS}.
 * Why not all cores: llama.cpp threads spin at barriers, so when any thread loses its core
 * (hyper-threads, the UI, other tabs) every token waits; measured on a busy 2-core machine,
 * 2 threads ran the tiny test model 2-7x slower than 1.
 */
export function pickThreadCount(requested?: number): number {
  const isolated = typeof crossOriginIsolated !== 'undefined' && crossOriginIsolated;
  if (!isolated || typeof SharedArrayBuffer === 'undefined') return 1;
  const cores = typeof navigator !== 'undefined' ? navigator.hardwareConcurrency || 1 : 1;
  const wanted = requested ?? Math.floor(cores / 2);
  return Math.max(1, Math.min(Math.round(wanted), cores, MAX_WLLAMA_THREADS));
}

/** Keeps llama.cpp's own log lines so a failed load can say why; drops chatter. */
class NativeLog {
  #lines: string[] = [];
  /** From llama.cpp's "offloaded N/M layers to GPU" line, when it printed one. */
  offloadedLayers: number | undefined;
  readonly logger: WllamaLogger = {
    // llama.cpp's INFO lines arrive as debug: only the offload summary matters here.
    debug: (...args: unknown[]) => this.#watch(args),
    log: (...args: unknown[]) => this.#keep(args),
    warn: (...args: unknown[]) => this.#keep(args),
    error: (...args: unknown[]) => {
      this.#keep(args);
      console.warn('[wllama]', ...args);
    },
  };

  #watch(args: unknown[]): void {
    const line = args.map((a) => (typeof a === 'string' ? a : '')).join(' ');
    this.offloadedLayers = offloadedLayersIn(line) ?? this.offloadedLayers;
    if (/ggml_webgpu|WebGPU/i.test(line)) this.#keep(args);
  }

  #keep(args: unknown[]): void {
    const line = args
      .map((a) => (typeof a === 'string' ? a : errorMessage(a)))
      .join(' ')
      .trim();
    if (!line) return;
    this.#lines.push(line);
    if (this.#lines.length > 40) this.#lines.shift();
  }

  /** llama.cpp's last WebGPU complaint ("ggml_webgpu: Failed to get a device: …"), if any. */
  gpuProblem(): string | undefined {
    // The cause ("Failed to get a device: …") comes before its echo ("Device lost! …").
    const lines = this.#lines;
    return (
      lines.findLast((l) => /ggml_webgpu: failed/i.test(l)) ??
      lines.findLast((l) => /ggml_webgpu: device lost/i.test(l))
    )
      ?.replace(/^.*?ggml_webgpu:\s*/i, '')
      .replace(/\s+/g, ' ')
      .trim();
  }

  /** The most telling native line: llama.cpp's "error loading model: …" when there is one. */
  reason(): string | undefined {
    const lines = this.#lines;
    const pick =
      lines.findLast((l) => /error loading model:/i.test(l)) ??
      lines.findLast((l) => /error|failed|invalid/i.test(l));
    return pick
      ?.replace(/^.*?error loading model:\s*/i, '')
      .replace(/\s+/g, ' ')
      .trim();
  }
}

function toLoadError(
  error: unknown,
  config: WllamaConfig,
  log: NativeLog,
  signal?: AbortSignal,
): Error {
  if (signal?.aborted || isAbortError(error))
    return new AbortedError('Model loading was cancelled.');
  if (error instanceof SpecAlignError) return error;
  const name = config.source.type === 'local' ? config.source.fileName : config.model;
  const native = log.reason();
  const detail = native ?? errorMessage(error);
  let advice = 'Check that it is a complete GGUF file of a model architecture llama.cpp supports.';
  if (/architecture/i.test(detail)) {
    advice = 'This build of llama.cpp does not know that model architecture; pick another model.';
  } else if (/memory|alloc|OOM/i.test(detail)) {
    advice =
      'The model (or its context) does not fit in WebAssembly memory; try a smaller quantisation or context size.';
  } else if (error instanceof WllamaError && error.type === 'version_mismatch') {
    advice = 'The wllama script and wasm file are from different releases; reinstall the app.';
  }
  return new ModelLoadError(`Could not load "${name}" into llama.cpp: ${detail}. ${advice}`, {
    cause: error,
  });
}

function inferenceMessage(error: unknown, contextWindow: number): string {
  const detail = errorMessage(error);
  if (
    /context|kv cache|exceed/i.test(detail) ||
    (error instanceof WllamaError && error.type === 'kv_cache_full')
  ) {
    return `The prompt and reply do not fit the model's context of ${contextWindow} tokens (${detail}). Shorten the input or load the model with a larger context size.`;
  }
  return `llama.cpp (wllama) failed to answer: ${detail}.`;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError();
}

/** Rejects with AbortedError(`message`) as soon as `signal` aborts; the caller cleans up. */
function raceAbort<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  message: string,
): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortedError(message));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function formatMb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`;
}
