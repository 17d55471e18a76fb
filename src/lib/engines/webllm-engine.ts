/**
 * The WebGPU engine: web-llm's `MLCEngine`, created directly inside our pipeline worker (no
 * nested web-llm worker under comlink), wrapped as a {@link LoadedEngine}.
 */
import {
  MLCEngine,
  prebuiltAppConfig,
  type AppConfig,
  type ChatCompletion,
  type ChatCompletionMessageParam,
  type ChatCompletionRequestNonStreaming,
  type InitProgressReport,
  type MLCEngineConfig,
  type ModelRecord,
} from '@mlc-ai/web-llm';
import { engineKey, type LoadProgress, type WebLlmConfig } from '$lib/core/engine-config';
import {
  AbortedError,
  DeviceLostError,
  EngineUnavailableError,
  ModelLoadError,
  NoModelLoadedError,
  SpecAlignError,
  StorageFullError,
  errorMessage,
} from '$lib/core/errors';
import type { ChatMessage, ChatRequest, ChatResult } from '$lib/core/llm';
import type { EngineLoadOptions, LoadedEngine } from './types';
import { defaultGpu, probeWebGpu, type GpuLike } from './webgpu-report';
import { buildCustomAppConfig, toModelInfo } from './webllm-catalog';

/** Context window when neither the record's overrides nor the model config say (web-llm's usual). */
export const DEFAULT_WEBLLM_CONTEXT_WINDOW = 4096;

/**
 * web-llm clears a pending interrupt when a request takes the model's lock, so an abort that
 * lands in that gap would be lost; we repeat the interrupt at this interval until it sticks.
 */
const INTERRUPT_REPEAT_MS = 50;

/** How long unload() waits for an interrupted generation to stop before freeing the GPU. */
const UNLOAD_DRAIN_TIMEOUT_MS = 5000;

/** The part of web-llm's `MLCEngine` this module uses. */
export interface WebLlmEngineLike {
  reload(modelId: string): Promise<void>;
  chatCompletion(request: ChatCompletionRequestNonStreaming): Promise<ChatCompletion>;
  interruptGenerate(): void | Promise<void>;
  unload(): Promise<void>;
}

/** Injection points so unit tests can replace web-llm and WebGPU without a GPU. */
export interface WebLlmDeps {
  /**
   * web-llm's engine class. We construct it and call `reload()` ourselves (what
   * `CreateMLCEngine` does) because only a handle held *during* loading lets an abort call
   * `unload()`, which cancels web-llm's downloads.
   */
  MLCEngine: new (config?: MLCEngineConfig) => WebLlmEngineLike;
  /**
   * WebGPU entry point for the preflight check. Absent: `navigator.gpu`. Present but
   * `undefined`: no WebGPU (how tests simulate a browser without it).
   */
  gpu?: GpuLike | undefined;
}

const defaultDeps: WebLlmDeps = { MLCEngine };

/**
 * Downloads (or reads from cache) and initialises a web-llm model on WebGPU.
 *
 * Fails early, before any download, with {@link EngineUnavailableError} when there is no WebGPU
 * adapter or the model is an f16 variant and the adapter lacks `shader-f16`. Download and load
 * progress arrive through `options.onProgress` as one monotone fraction over web-llm's phases.
 * Aborting `options.signal` cancels the download and rejects with {@link AbortedError}.
 *
 * @throws {EngineUnavailableError} no WebGPU, missing `shader-f16`, or GPU limits too small.
 * @throws {DeviceLostError} the GPU device was lost while loading (usually out of memory).
 * @throws {ModelLoadError} unknown model id, or the weights could not be downloaded.
 * @throws {StorageFullError} the browser refused to cache the weights.
 */
export async function createWebLlmEngine(
  config: WebLlmConfig,
  options: EngineLoadOptions = {},
  deps: WebLlmDeps = defaultDeps,
): Promise<LoadedEngine> {
  const { signal, onProgress } = options;
  if (signal?.aborted) throw new AbortedError('Model loading was cancelled.');

  const appConfig = config.baseUrl
    ? buildCustomAppConfig(config.model, config.baseUrl)
    : prebuiltAppConfig;
  const record = appConfig.model_list.find((r) => r.model_id === config.model);
  if (!record) {
    throw new ModelLoadError(
      `"${config.model}" is not a model web-llm knows. Pick one from the list on the Models screen.`,
    );
  }
  const info = toModelInfo(record);
  if (!info.isChatModel) {
    throw new ModelLoadError(
      `"${config.model}" is not a chat model (embedding, vision or base model). Pick an instruct model.`,
    );
  }

  const report = await probeWebGpu('gpu' in deps ? deps.gpu : defaultGpu());
  if (!report.adapterFound) throw new EngineUnavailableError(report.summary);
  if (info.needsShaderF16 && !report.shaderF16) {
    const sibling = f32Sibling(config.model, appConfig);
    throw new EngineUnavailableError(
      `${config.model} needs the WebGPU feature shader-f16, which this browser/GPU does not offer. ` +
        (sibling ? `Pick its f32 variant ${sibling}, ` : 'Pick a q4f32_1 variant, ') +
        'or use the GGUF engine (wllama).',
    );
  }
  if (signal?.aborted) throw new AbortedError('Model loading was cancelled.');

  const mapProgress = createProgressMapper();
  const engine = new deps.MLCEngine({
    appConfig,
    initProgressCallback: (init) => onProgress?.(mapProgress(init)),
    logLevel: 'WARN',
  });
  // unload() aborts web-llm's in-flight downloads (its internal reload AbortController).
  const onAbort = () => void engine.unload().catch(() => undefined);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await engine.reload(config.model);
  } catch (error) {
    if (signal?.aborted) throw new AbortedError('Model loading was cancelled.');
    await engine.unload().catch(() => undefined);
    throw mapLoadError(error, record);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  // web-llm's reload() returns quietly when unload() aborted it, so check again.
  if (signal?.aborted) {
    await engine.unload().catch(() => undefined);
    throw new AbortedError('Model loading was cancelled.');
  }
  return new WebLlmEngine(config, engine, info.contextWindow ?? DEFAULT_WEBLLM_CONTEXT_WINDOW);
}

class WebLlmEngine implements LoadedEngine {
  readonly id: string;
  #engine: WebLlmEngineLike;
  #unloaded = false;
  /** Settles when the last web-llm generation has really finished (it may outlive an abort). */
  #drain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly config: WebLlmConfig,
    engine: WebLlmEngineLike,
    readonly contextWindow: number,
  ) {
    this.id = engineKey(config);
    this.#engine = engine;
  }

  async chat(request: ChatRequest): Promise<ChatResult> {
    const { signal } = request;
    if (this.#unloaded) {
      throw new NoModelLoadedError(`${this.config.model} was unloaded. Load it again to continue.`);
    }
    // A cancelled generation may still be winding down; never overlap requests (web-llm garbles them).
    await raceAbort(this.#drain, signal);
    const started = performance.now();
    const body = toWebLlmRequest(this.config.model, request);

    let run: Promise<ChatCompletion>;
    try {
      run = this.#engine.chatCompletion(body);
    } catch (error) {
      throw this.#mapGenerationError(error);
    }
    const drain = run.catch(() => undefined);
    this.#drain = drain;
    let timer: ReturnType<typeof setInterval> | undefined;
    const interrupt = () => void Promise.resolve(this.#engine.interruptGenerate()).catch(() => {});
    const onAbort = () => {
      interrupt();
      timer ??= setInterval(interrupt, INTERRUPT_REPEAT_MS);
      void drain.finally(() => clearInterval(timer));
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    let completion: ChatCompletion;
    try {
      completion = await raceAbort(run, signal);
    } catch (error) {
      if (signal?.aborted) throw new AbortedError('Generation was cancelled.');
      throw this.#mapGenerationError(error);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    const choice = completion.choices[0];
    if (choice?.finish_reason === 'abort') throw new AbortedError('Generation was cancelled.');
    const promptTokens = completion.usage?.prompt_tokens ?? 0;
    const completionTokens = completion.usage?.completion_tokens ?? 0;
    // web-llm reports rates, not times: turn them back into the engine's split of its time.
    const extra = completion.usage?.extra;
    const timings =
      extra && extra.prefill_tokens_per_s > 0 && extra.decode_tokens_per_s > 0
        ? {
            promptTokens,
            promptMs: (promptTokens * 1000) / extra.prefill_tokens_per_s,
            decodeTokens: completionTokens,
            decodeMs: (completionTokens * 1000) / extra.decode_tokens_per_s,
          }
        : undefined;
    return {
      text: choice?.message.content ?? '',
      usage: { promptTokens, completionTokens },
      finishReason: choice?.finish_reason === 'length' ? 'length' : 'stop',
      durationMs: performance.now() - started,
      ...(timings && { timings }),
    };
  }

  async unload(): Promise<void> {
    if (this.#unloaded) return;
    this.#unloaded = true;
    await this.#engine.interruptGenerate();
    // Let an interrupted generation stop before freeing its buffers; don't hang on a dead device.
    await settleWithin(this.#drain, UNLOAD_DRAIN_TIMEOUT_MS);
    await this.#engine.unload();
  }

  #mapGenerationError(error: unknown): Error {
    // web-llm unloads itself when the device is lost, so "not loaded" without our unload() means that.
    if (errorName(error) === 'ModelNotLoadedError' && !this.#unloaded) {
      return deviceLost(`during generation with ${this.config.model}`, error);
    }
    if (isDeviceLost(error))
      return deviceLost(`during generation with ${this.config.model}`, error);
    if (errorName(error) === 'ContextWindowSizeExceededError') {
      return new SpecAlignError(
        `The prompt is longer than ${this.config.model}'s context window (${this.contextWindow} tokens): ${errorMessage(error)} Shorten the input or pick a model with a larger context.`,
        { cause: error },
      );
    }
    if (error instanceof SpecAlignError) return error;
    return new SpecAlignError(`web-llm failed while generating: ${errorMessage(error)}`, {
      cause: error,
    });
  }
}

/** Shapes a ChatRequest as web-llm's OpenAI-style non-streaming request. */
export function toWebLlmRequest(
  modelId: string,
  request: ChatRequest,
): ChatCompletionRequestNonStreaming {
  const body: ChatCompletionRequestNonStreaming = {
    messages: request.messages.map(toWebLlmMessage),
    stream: false,
  };
  if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
  if (request.temperature !== undefined) body.temperature = request.temperature;
  // web-llm rejects non-integer seeds (SeedTypeError).
  if (request.seed !== undefined) body.seed = Math.trunc(request.seed);
  if (request.jsonSchema) {
    // web-llm takes the schema as a *string* and compiles it to a grammar (xgrammar).
    body.response_format = { type: 'json_object', schema: JSON.stringify(request.jsonSchema) };
  }
  // Qwen3 "thinks" aloud in <think> blocks by default: wasted tokens and broken JSON for us.
  if (/^Qwen3/i.test(modelId)) body.extra_body = { enable_thinking: false };
  return body;
}

function toWebLlmMessage(message: ChatMessage): ChatCompletionMessageParam {
  switch (message.role) {
    case 'system':
      return { role: 'system', content: message.content };
    case 'user':
      return { role: 'user', content: message.content };
    case 'assistant':
      return { role: 'assistant', content: message.content };
  }
}

/**
 * Turns web-llm's init reports into one monotone fraction. web-llm restarts `progress` at 0 for
 * each phase: downloading shards ("Fetching param cache"), copying them to the GPU ("Loading
 * model from cache") and compiling shaders ("Loading GPU shader modules"); a cached model skips
 * the first. Each phase gets a slice of 0..1, weighted by how long it usually takes.
 */
export function createProgressMapper(): (report: InitProgressReport) => LoadProgress {
  let fraction = 0;
  let downloaded = false;
  return (report) => {
    const p = Number.isFinite(report.progress) ? Math.min(1, Math.max(0, report.progress)) : 0;
    const text = report.text;
    let next = fraction;
    let loadedBytes: number | undefined;
    if (/^Fetching param cache/i.test(text)) {
      downloaded = true;
      next = 0.8 * p;
      const mb = /(\d+)\s*MB fetched/i.exec(text)?.[1];
      if (mb) loadedBytes = Number(mb) * 1024 * 1024;
    } else if (/^Loading model from cache/i.test(text)) {
      next = downloaded ? 0.8 + 0.15 * p : 0.75 * p;
    } else if (/^Loading GPU shader modules/i.test(text)) {
      const start = downloaded ? 0.95 : 0.75;
      next = start + (0.99 - start) * p;
    } else if (/^Finish loading/i.test(text)) {
      next = 1;
    }
    fraction = Math.max(fraction, next);
    const progress: LoadProgress = { fraction, text };
    if (loadedBytes !== undefined) progress.loadedBytes = loadedBytes;
    return progress;
  };
}

/**
 * Maps whatever web-llm threw while loading to one of our named errors, with a message that
 * says what to do. Exported for tests.
 */
export function mapLoadError(
  error: unknown,
  record: Pick<ModelRecord, 'model_id' | 'model' | 'model_lib'>,
): Error {
  const name = errorName(error);
  const message = errorMessage(error);
  const modelId = record.model_id;
  if (error instanceof SpecAlignError) return error;
  if (isDeviceLost(error)) return deviceLost(`while loading ${modelId}`, error);
  if (
    name === 'WebGPUNotAvailableError' ||
    name === 'WebGPUNotFoundError' ||
    /unable to find a compatible gpu|webgpu is not supported/i.test(message)
  ) {
    return new EngineUnavailableError(
      'WebGPU is not available in this browser, so web-llm cannot run here. Use the GGUF engine (wllama) or an OpenAI-compatible endpoint.',
      { cause: error },
    );
  }
  if (name === 'ShaderF16SupportError' || /shader-f16/i.test(message)) {
    return new EngineUnavailableError(
      `${modelId} needs the WebGPU feature shader-f16, which this browser/GPU does not offer. Pick a q4f32_1 variant or use the GGUF engine (wllama).`,
      { cause: error },
    );
  }
  if (
    name === 'FeatureSupportError' ||
    /cannot initialize runtime because of requested/i.test(message)
  ) {
    return new EngineUnavailableError(
      `This GPU cannot run web-llm: ${message} Use the GGUF engine (wllama) or an endpoint.`,
      { cause: error },
    );
  }
  if (name === 'QuotaExceededError' || /quota/i.test(message)) {
    return new StorageFullError(
      `The browser refused to store ${modelId}: storage is full. Delete cached models you no longer need (Models screen) or free disk space, then try again.`,
      { cause: error },
    );
  }
  if (name === 'ModelNotFoundError') {
    return new ModelLoadError(`"${modelId}" is not a model web-llm knows.`, { cause: error });
  }
  if (isNetworkError(error)) {
    const host = hostIn(message) ?? hostsOf(record);
    return new ModelLoadError(
      `Could not download ${modelId} from ${host} (${shorten(message)}). Check the network connection, proxy or firewall; offline, host the weights yourself and set a custom base URL.`,
      { cause: error },
    );
  }
  return new ModelLoadError(`Could not load ${modelId}: ${shorten(message)}`, { cause: error });
}

function deviceLost(context: string, cause: unknown): DeviceLostError {
  return new DeviceLostError(
    `The GPU device was lost (${context}; usually the GPU ran out of memory or its driver reset). Reload the model; if it keeps happening pick a smaller model or use the GGUF engine (wllama).`,
    { cause },
  );
}

/** web-llm's DeviceLostError, or TVM/WebGPU messages about a lost device. */
function isDeviceLost(error: unknown): boolean {
  if (errorName(error) === 'DeviceLostError') return true;
  return /device (was |is |has been )?lost|GPUDeviceLostInfo|device.lost/i.test(
    errorMessage(error),
  );
}

function isNetworkError(error: unknown): boolean {
  const message = errorMessage(error);
  if (
    errorName(error) === 'TypeError' &&
    /fetch|network|load failed|request failed/i.test(message)
  ) {
    return true;
  }
  // web-llm's caches wrap fetch failures: "Failed to store …", "Unable to fetch …", "Cannot fetch …".
  return /failed to fetch|fetch failed|networkerror|network response was not ok|failed to store|unable to fetch|cannot fetch|request failed/i.test(
    message,
  );
}

function hostIn(message: string): string | undefined {
  const url = /https?:\/\/[^\s'"),]+/.exec(message)?.[0];
  if (!url) return undefined;
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}

function hostsOf(record: Pick<ModelRecord, 'model' | 'model_lib'>): string {
  const hosts = new Set<string>();
  for (const url of [record.model, record.model_lib]) {
    try {
      hosts.add(new URL(url).host);
    } catch {
      // A relative model_lib is served by this app itself: not a download host worth naming.
    }
  }
  return [...hosts].join(' or ') || 'the model host';
}

function shorten(text: string, max = 240): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function errorName(error: unknown): string {
  return error instanceof Error || (typeof error === 'object' && error !== null && 'name' in error)
    ? String((error as { name: unknown }).name)
    : '';
}

/** The id of the `q4f32_1` twin of an f16 model id, if the list has one. */
function f32Sibling(modelId: string, appConfig: AppConfig): string | undefined {
  const candidate = modelId.replace(/q(\d+)f16(_\d+)?/i, (_, bits: string) =>
    bits === '0' ? 'q0f32' : `q${bits}f32_1`,
  );
  if (candidate === modelId) return undefined;
  const lists = [appConfig.model_list, prebuiltAppConfig.model_list];
  return lists.some((list) => list.some((r) => r.model_id === candidate)) ? candidate : undefined;
}

/** Waits for `promise` to settle, but at most `ms` milliseconds. */
function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    promise.then(done, done);
  });
}

/** Resolves/rejects with `promise`, or rejects with AbortedError as soon as `signal` aborts. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new AbortedError('Generation was cancelled.'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortedError('Generation was cancelled.'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
