import {
  prebuiltAppConfig,
  type AppConfig,
  type ChatCompletion,
  type ChatCompletionRequestNonStreaming,
  type InitProgressReport,
  type MLCEngineConfig,
} from '@mlc-ai/web-llm';
import type * as WebLlm from '@mlc-ai/web-llm';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import type { WebLlmConfig } from '$lib/core/engine-config';
import {
  AbortedError,
  DeviceLostError,
  EngineUnavailableError,
  ModelLoadError,
  NoModelLoadedError,
  StorageFullError,
} from '$lib/core/errors';
import { chatJson } from '$lib/core/json-call';
import type { GpuLike } from '$lib/engines/webgpu-report';
import {
  createProgressMapper,
  createWebLlmEngine,
  type WebLlmDeps,
  type WebLlmEngineLike,
} from '$lib/engines/webllm-engine';
import {
  deleteWebLlmCache,
  listWebLlmCache,
  type CacheStorageLike,
} from '$lib/engines/webllm-cache';

// Module-level mock: proves `vi.mock('@mlc-ai/web-llm')` reaches the default deps. The real module
// is kept (prebuiltAppConfig etc.); only the engine class and the cache helpers are replaced.
const mocked = vi.hoisted(() => ({
  current: undefined as undefined | (new (config?: MLCEngineConfig) => WebLlmEngineLike),
  hasModelInCache: vi.fn<(id: string, appConfig?: AppConfig) => Promise<boolean>>(),
  deleteModelAllInfoInCache: vi.fn<(id: string, appConfig?: AppConfig) => Promise<void>>(),
}));
vi.mock('@mlc-ai/web-llm', async (importOriginal) => {
  const actual = await importOriginal<typeof WebLlm>();
  class MockMLCEngine {
    constructor(config?: MLCEngineConfig) {
      if (!mocked.current) throw new Error('no fake engine configured');
      return new mocked.current(config);
    }
  }
  return {
    ...actual,
    MLCEngine: MockMLCEngine,
    hasModelInCache: mocked.hasModelInCache,
    deleteModelAllInfoInCache: mocked.deleteModelAllInfoInCache,
  };
});

const MODEL = 'Qwen2.5-1.5B-Instruct-q4f16_1-MLC';
const CONFIG: WebLlmConfig = { kind: 'webllm', model: MODEL };

function gpu(features: string[] = ['shader-f16']): GpuLike {
  return {
    requestAdapter: async () => ({
      features: new Set(features),
      limits: {},
      info: { vendor: 'test', architecture: 'fake', description: 'Fake GPU' },
    }),
  };
}

function completion(
  content: string,
  finish: ChatCompletion['choices'][number]['finish_reason'] = 'stop',
  usage = { prompt_tokens: 12, completion_tokens: 5 },
): ChatCompletion {
  return {
    id: 'c1',
    object: 'chat.completion',
    created: 0,
    model: MODEL,
    choices: [
      { index: 0, finish_reason: finish, logprobs: null, message: { role: 'assistant', content } },
    ],
    usage: {
      ...usage,
      total_tokens: usage.prompt_tokens + usage.completion_tokens,
      extra: {} as never,
    },
  };
}

interface FakeBehaviour {
  progress?: InitProgressReport[];
  /** Thrown by reload(). */
  loadError?: unknown;
  /** reload() waits until unload() is called (then resolves quietly, as web-llm does). */
  hangOnLoad?: boolean;
  reply?: (
    request: ChatCompletionRequestNonStreaming,
    engine: FakeEngine,
  ) => Promise<ChatCompletion>;
}

class FakeEngine implements WebLlmEngineLike {
  static instances: FakeEngine[] = [];
  static behaviour: FakeBehaviour = {};
  readonly requests: ChatCompletionRequestNonStreaming[] = [];
  interrupts = 0;
  unloads = 0;
  loadedModel: string | undefined;
  #onInterrupt: Array<() => void> = [];
  #onUnload: Array<() => void> = [];

  constructor(readonly config?: MLCEngineConfig) {
    FakeEngine.instances.push(this);
  }

  async reload(modelId: string): Promise<void> {
    for (const report of FakeEngine.behaviour.progress ?? [])
      this.config?.initProgressCallback?.(report);
    if (FakeEngine.behaviour.hangOnLoad) {
      await new Promise<void>((resolve) => this.#onUnload.push(resolve));
      return;
    }
    if (FakeEngine.behaviour.loadError !== undefined) throw FakeEngine.behaviour.loadError;
    this.loadedModel = modelId;
  }

  async chatCompletion(request: ChatCompletionRequestNonStreaming): Promise<ChatCompletion> {
    this.requests.push(request);
    const reply = FakeEngine.behaviour.reply;
    return reply ? reply(request, this) : completion('{"ok":true}');
  }

  interruptGenerate(): void {
    this.interrupts++;
    this.#onInterrupt.splice(0).forEach((fn) => fn());
  }

  /** Resolves at the next interruptGenerate() call. */
  nextInterrupt(): Promise<void> {
    return new Promise((resolve) => this.#onInterrupt.push(resolve));
  }

  async unload(): Promise<void> {
    this.unloads++;
    this.#onUnload.splice(0).forEach((fn) => fn());
  }
}

function deps(overrides: Partial<WebLlmDeps> = {}): WebLlmDeps {
  return { MLCEngine: FakeEngine, gpu: gpu(), ...overrides };
}

beforeEach(() => {
  FakeEngine.instances = [];
  FakeEngine.behaviour = {};
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('createWebLlmEngine: loading', () => {
  it('creates MLCEngine directly with the prebuilt AppConfig and reloads the model', async () => {
    const engine = await createWebLlmEngine(CONFIG, {}, deps());
    const fake = FakeEngine.instances[0]!;
    expect(FakeEngine.instances).toHaveLength(1);
    expect(fake.config?.appConfig).toBe(prebuiltAppConfig);
    expect(fake.loadedModel).toBe(MODEL);
    expect(engine.id).toBe(`webllm:${MODEL}`);
    expect(engine.config).toEqual(CONFIG);
    expect(engine.contextWindow).toBe(4096);
  });

  it('takes the context window from the record overrides', async () => {
    const model = 'Llama-3.2-1B-Instruct-q4f32_1-MLC';
    const small = await createWebLlmEngine({ kind: 'webllm', model }, {}, deps());
    expect(small.contextWindow).toBe(4096);
    const oneK = await createWebLlmEngine(
      { kind: 'webllm', model: 'TinyLlama-1.1B-Chat-v1.0-q4f32_1-MLC-1k' },
      {},
      deps(),
    );
    expect(oneK.contextWindow).toBe(1024);
  });

  it('loads self-hosted weights from a custom base URL', async () => {
    const baseUrl = `http://127.0.0.1:9/models/${MODEL}`;
    const engine = await createWebLlmEngine({ ...CONFIG, baseUrl }, {}, deps());
    const appConfig = FakeEngine.instances[0]!.config!.appConfig!;
    expect(appConfig.model_list).toHaveLength(1);
    expect(appConfig.model_list[0]?.model).toBe(baseUrl);
    expect(appConfig.model_list[0]?.model_id).toBe(MODEL);
    expect(engine.id).toBe(`webllm:${MODEL}@${baseUrl}`);
  });

  it('maps web-llm init reports to one monotone progress fraction', async () => {
    FakeEngine.behaviour.progress = [
      { progress: 0, timeElapsed: 0, text: 'Start to fetch params' },
      {
        progress: 0.25,
        timeElapsed: 1,
        text: 'Fetching param cache[1/4]: 100MB fetched. 25% completed, 1 secs elapsed.',
      },
      {
        progress: 1,
        timeElapsed: 4,
        text: 'Fetching param cache[4/4]: 400MB fetched. 100% completed, 4 secs elapsed.',
      },
      {
        progress: 0.5,
        timeElapsed: 5,
        text: 'Loading model from cache[2/4]: 200MB loaded. 50% completed, 5 secs elapsed.',
      },
      {
        progress: 1,
        timeElapsed: 6,
        text: 'Loading GPU shader modules[80/80]: 100% completed, 6 secs elapsed.',
      },
      { progress: 1, timeElapsed: 6, text: 'Finish loading on WebGPU - Fake GPU' },
    ];
    const onProgress = vi.fn();
    await createWebLlmEngine(CONFIG, { onProgress }, deps());
    const fractions = onProgress.mock.calls.map(([p]) => (p as { fraction: number }).fraction);
    expect(fractions).toEqual([0, 0.2, 0.8, 0.875, 0.99, 1]);
    expect(onProgress.mock.calls[1]?.[0]).toMatchObject({
      text: expect.stringContaining('Fetching param cache[1/4]'),
      loadedBytes: 100 * 1024 * 1024,
    });
  });

  it('gives a cached model (no download phase) the whole range for loading', () => {
    const map = createProgressMapper();
    expect(
      map({ progress: 0.5, timeElapsed: 0, text: 'Loading model from cache[1/2]: …' }).fraction,
    ).toBe(0.375);
    expect(
      map({ progress: 0, timeElapsed: 0, text: 'Loading GPU shader modules[0/9]' }).fraction,
    ).toBe(0.75);
    expect(map({ progress: NaN, timeElapsed: 0, text: 'Fetching param cache[0/0]' }).fraction).toBe(
      0.75,
    );
    expect(
      map({ progress: 1, timeElapsed: 0, text: 'Finish loading on WebGPU - x' }).fraction,
    ).toBe(1);
  });

  it('cancels a load: unload() aborts web-llm, and the promise rejects with AbortedError', async () => {
    FakeEngine.behaviour.hangOnLoad = true;
    const controller = new AbortController();
    const loading = createWebLlmEngine(CONFIG, { signal: controller.signal }, deps());
    await vi.waitFor(() => expect(FakeEngine.instances).toHaveLength(1));
    controller.abort();
    await expect(loading).rejects.toBeInstanceOf(AbortedError);
    expect(FakeEngine.instances[0]!.unloads).toBeGreaterThanOrEqual(1);
  });

  it('does nothing when already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      createWebLlmEngine(CONFIG, { signal: controller.signal }, deps()),
    ).rejects.toBeInstanceOf(AbortedError);
    expect(FakeEngine.instances).toHaveLength(0);
  });
});

describe('createWebLlmEngine: load errors', () => {
  it('refuses without WebGPU, before creating an engine, pointing to the CPU engine', async () => {
    const error = await createWebLlmEngine(CONFIG, {}, deps({ gpu: undefined })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EngineUnavailableError);
    expect((error as Error).message).toMatch(/WebGPU is not available/);
    expect((error as Error).message).toMatch(/GGUF engine \(wllama\)/);
    expect(FakeEngine.instances).toHaveLength(0);
  });

  it('refuses an f16 model without shader-f16 and names its f32 variant', async () => {
    const error = await createWebLlmEngine(CONFIG, {}, deps({ gpu: gpu([]) })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EngineUnavailableError);
    expect((error as Error).message).toContain('shader-f16');
    expect((error as Error).message).toContain('Qwen2.5-1.5B-Instruct-q4f32_1-MLC');
    expect(FakeEngine.instances).toHaveLength(0);
  });

  it('loads an f32 model without shader-f16', async () => {
    const engine = await createWebLlmEngine(
      { kind: 'webllm', model: 'Qwen2.5-1.5B-Instruct-q4f32_1-MLC' },
      {},
      deps({ gpu: gpu([]) }),
    );
    expect(engine.id).toBe('webllm:Qwen2.5-1.5B-Instruct-q4f32_1-MLC');
  });

  it('rejects unknown and non-chat model ids', async () => {
    await expect(
      createWebLlmEngine({ kind: 'webllm', model: 'nope' }, {}, deps()),
    ).rejects.toBeInstanceOf(ModelLoadError);
    await expect(
      createWebLlmEngine(
        { kind: 'webllm', model: 'snowflake-arctic-embed-s-q0f32-MLC-b4' },
        {},
        deps(),
      ),
    ).rejects.toThrow(/not a chat model/);
  });

  it('maps web-llm DeviceLostError during load to DeviceLostError', async () => {
    const lost = new Error('The WebGPU device was lost while loading the model.');
    lost.name = 'DeviceLostError';
    FakeEngine.behaviour.loadError = lost;
    const error = await createWebLlmEngine(CONFIG, {}, deps()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeviceLostError);
    expect((error as Error).message).toMatch(/^The GPU device was lost \(while loading/);
    expect((error as Error).message).toMatch(
      /Reload the model; if it keeps happening pick a smaller model or use the GGUF engine \(wllama\)\./,
    );
    expect((error as Error).cause).toBe(lost);
    expect(FakeEngine.instances[0]!.unloads).toBe(1);
  });

  it('maps web-llm WebGPUNotAvailableError to EngineUnavailableError', async () => {
    const error = new Error('WebGPU is not supported in your current environment');
    error.name = 'WebGPUNotAvailableError';
    FakeEngine.behaviour.loadError = error;
    await expect(createWebLlmEngine(CONFIG, {}, deps())).rejects.toBeInstanceOf(
      EngineUnavailableError,
    );
  });

  it('maps a failed download to ModelLoadError naming the host', async () => {
    FakeEngine.behaviour.loadError = new Error(
      `Failed to store https://huggingface.co/mlc-ai/${MODEL}/resolve/main/params_shard_3.bin with error: TypeError: Failed to fetch`,
    );
    const error = await createWebLlmEngine(CONFIG, {}, deps()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect((error as Error).message).toMatch(
      /^Could not download Qwen2\.5-1\.5B-Instruct-q4f16_1-MLC from huggingface\.co/,
    );
  });

  it("maps Chromium's Cache.add failure (no URL in it) to ModelLoadError naming the model hosts", async () => {
    FakeEngine.behaviour.loadError = new TypeError(
      "Failed to execute 'add' on 'Cache': Request failed",
    );
    const error = await createWebLlmEngine(CONFIG, {}, deps()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect((error as Error).message).toContain('huggingface.co or raw.githubusercontent.com');
  });

  it('names the self-hosted host for a custom base URL', async () => {
    FakeEngine.behaviour.loadError = new TypeError('Failed to fetch');
    const error = await createWebLlmEngine(
      { ...CONFIG, baseUrl: 'http://127.0.0.1:9/weights/qwen' },
      {},
      deps(),
    ).catch((e: unknown) => e);
    expect((error as Error).message).toContain('from 127.0.0.1:9 or raw.githubusercontent.com');
  });

  it('maps a full disk to StorageFullError', async () => {
    const quota = new Error('Quota exceeded.');
    quota.name = 'QuotaExceededError';
    FakeEngine.behaviour.loadError = quota;
    await expect(createWebLlmEngine(CONFIG, {}, deps())).rejects.toBeInstanceOf(StorageFullError);
  });
});

describe('chat', () => {
  const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] };

  it('shapes the request: stringified schema, seed, max_tokens, temperature', async () => {
    const engine = await createWebLlmEngine(CONFIG, {}, deps());
    await engine.chat({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
      ],
      jsonSchema: schema,
      seed: 7,
      maxTokens: 64,
      temperature: 0,
    });
    expect(FakeEngine.instances[0]!.requests[0]).toEqual({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
      ],
      stream: false,
      max_tokens: 64,
      temperature: 0,
      seed: 7,
      response_format: { type: 'json_object', schema: JSON.stringify(schema) },
    });
  });

  it('sends no response_format or sampling fields that were not asked for', async () => {
    const engine = await createWebLlmEngine(CONFIG, {}, deps());
    await engine.chat({ messages: [{ role: 'user', content: 'Hi' }] });
    expect(FakeEngine.instances[0]!.requests[0]).toEqual({
      messages: [{ role: 'user', content: 'Hi' }],
      stream: false,
    });
  });

  it('switches off Qwen3 thinking', async () => {
    const engine = await createWebLlmEngine(
      { kind: 'webllm', model: 'Qwen3-0.6B-q4f16_1-MLC' },
      {},
      deps(),
    );
    await engine.chat({ messages: [{ role: 'user', content: 'Hi' }], seed: 1.9 });
    expect(FakeEngine.instances[0]!.requests[0]).toMatchObject({
      extra_body: { enable_thinking: false },
      seed: 1,
    });
  });

  it('maps text, usage and finish reasons', async () => {
    const replies = [
      completion('cut off', 'length', { prompt_tokens: 30, completion_tokens: 64 }),
      completion('done'),
    ];
    FakeEngine.behaviour.reply = async () => replies.shift()!;
    const engine = await createWebLlmEngine(CONFIG, {}, deps());
    const first = await engine.chat({ messages: [{ role: 'user', content: 'Hi' }] });
    expect(first).toMatchObject({
      text: 'cut off',
      usage: { promptTokens: 30, completionTokens: 64 },
      finishReason: 'length',
    });
    expect(first.durationMs).toBeGreaterThanOrEqual(0);
    const second = await engine.chat({ messages: [{ role: 'user', content: 'Hi' }] });
    expect(second).toMatchObject({
      text: 'done',
      finishReason: 'stop',
      usage: { promptTokens: 12, completionTokens: 5 },
    });
  });

  it('works with chatJson end to end', async () => {
    FakeEngine.behaviour.reply = async () =>
      completion('```json\n{"rule":"Never reveal secrets","direction":"negative"}\n```');
    const engine = await createWebLlmEngine(CONFIG, {}, deps());
    const result = await chatJson(
      engine,
      { messages: [{ role: 'user', content: 'Extract the rule as JSON.' }] },
      z.object({ rule: z.string().min(1), direction: z.enum(['positive', 'negative']) }),
    );
    expect(result.value).toEqual({ rule: 'Never reveal secrets', direction: 'negative' });
    const sent = FakeEngine.instances[0]!.requests[0]!.response_format;
    expect(sent?.type).toBe('json_object');
    expect(JSON.parse(sent!.schema!)).toMatchObject({ required: ['rule', 'direction'] });
  });

  it('abort calls interruptGenerate and rejects with AbortedError', async () => {
    // Like web-llm: an interrupted generation resolves with finish_reason "abort".
    FakeEngine.behaviour.reply = async (_request, fake) => {
      await fake.nextInterrupt();
      return completion('partial', 'abort');
    };
    const engine = await createWebLlmEngine(CONFIG, {}, deps());
    const controller = new AbortController();
    const pending = engine.chat({
      messages: [{ role: 'user', content: 'Hi' }],
      signal: controller.signal,
    });
    await vi.waitFor(() => expect(FakeEngine.instances[0]!.requests).toHaveLength(1));
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortedError);
    expect(FakeEngine.instances[0]!.interrupts).toBeGreaterThanOrEqual(1);
  });

  it('repeats the interrupt until web-llm stops, and the next request waits for it', async () => {
    // web-llm clears an interrupt raised before it takes its lock: ignore the first one.
    let finish: (() => void) | undefined;
    FakeEngine.behaviour.reply = async (request, fake) => {
      if (request.messages.length > 1) return completion('second');
      await fake.nextInterrupt();
      await fake.nextInterrupt();
      await new Promise<void>((resolve) => (finish = resolve));
      return completion('partial', 'abort');
    };
    const engine = await createWebLlmEngine(CONFIG, {}, deps());
    const fake = FakeEngine.instances[0]!;
    const controller = new AbortController();
    const first = engine.chat({
      messages: [{ role: 'user', content: 'one' }],
      signal: controller.signal,
    });
    await vi.waitFor(() => expect(fake.requests).toHaveLength(1));
    controller.abort();
    await expect(first).rejects.toBeInstanceOf(AbortedError);
    await vi.waitFor(() => expect(fake.interrupts).toBeGreaterThanOrEqual(2));
    await vi.waitFor(() => expect(finish).toBeDefined());

    const second = engine.chat({
      messages: [
        { role: 'user', content: 'two' },
        { role: 'user', content: 'again' },
      ],
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fake.requests).toHaveLength(1); // still draining the cancelled generation
    finish!();
    await expect(second).resolves.toMatchObject({ text: 'second' });
    const interruptsAfterDrain = fake.interrupts;
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(fake.interrupts).toBe(interruptsAfterDrain); // the repeat timer stopped
  });

  it('rejects at once when the signal is already aborted', async () => {
    const engine = await createWebLlmEngine(CONFIG, {}, deps());
    const controller = new AbortController();
    controller.abort();
    await expect(
      engine.chat({ messages: [{ role: 'user', content: 'Hi' }], signal: controller.signal }),
    ).rejects.toBeInstanceOf(AbortedError);
    expect(FakeEngine.instances[0]!.requests).toHaveLength(0);
  });

  it('maps a lost device during generation to DeviceLostError', async () => {
    FakeEngine.behaviour.reply = async () => {
      throw new Error(
        'Device was lost. This can happen due to insufficient memory. Detailed error: [object GPUDeviceLostInfo]',
      );
    };
    const engine = await createWebLlmEngine(CONFIG, {}, deps());
    const error = await engine
      .chat({ messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeviceLostError);
    expect((error as Error).message).toMatch(/^The GPU device was lost \(during generation/);
  });

  it('treats "model not loaded" after web-llm unloaded itself as a lost device', async () => {
    FakeEngine.behaviour.reply = async () => {
      const error = new Error('Model not loaded before trying to complete ChatCompletionRequest.');
      error.name = 'ModelNotLoadedError';
      throw error;
    };
    const engine = await createWebLlmEngine(CONFIG, {}, deps());
    await expect(
      engine.chat({ messages: [{ role: 'user', content: 'Hi' }] }),
    ).rejects.toBeInstanceOf(DeviceLostError);
  });

  it('unload() frees the model; later chats fail with NoModelLoadedError', async () => {
    const engine = await createWebLlmEngine(CONFIG, {}, deps());
    await engine.unload();
    expect(FakeEngine.instances[0]!.unloads).toBe(1);
    await expect(
      engine.chat({ messages: [{ role: 'user', content: 'Hi' }] }),
    ).rejects.toBeInstanceOf(NoModelLoadedError);
    await engine.unload();
    expect(FakeEngine.instances[0]!.unloads).toBe(1);
  });
});

describe('vi.mock("@mlc-ai/web-llm") reaches the default deps', () => {
  it('loads through the mocked MLCEngine with navigator.gpu stubbed', async () => {
    mocked.current = FakeEngine;
    vi.stubGlobal('navigator', { gpu: gpu() });
    const engine = await createWebLlmEngine(CONFIG);
    expect(FakeEngine.instances).toHaveLength(1);
    expect((await engine.chat({ messages: [{ role: 'user', content: 'Hi' }] })).text).toBe(
      '{"ok":true}',
    );
  });

  it('lists and deletes through the mocked cache helpers', async () => {
    mocked.hasModelInCache.mockImplementation(async (id) => id === MODEL);
    mocked.deleteModelAllInfoInCache.mockResolvedValue(undefined);
    expect(await listWebLlmCache()).toEqual([
      { key: `webllm:${MODEL}`, kind: 'webllm', name: MODEL },
    ]);
    await deleteWebLlmCache(MODEL);
    expect(mocked.deleteModelAllInfoInCache).toHaveBeenCalledWith(MODEL, prebuiltAppConfig);
  });
});

describe('cache management', () => {
  /** A Cache API holding one tensor-cache.json per given files URL. */
  function fakeCaches(manifests: Record<string, Array<{ nbytes: number }>>): CacheStorageLike {
    return {
      open: async (name) => ({
        match: async (url) => {
          if (name !== 'webllm/model') return undefined;
          const base = url.replace(/tensor-cache\.json$/, '');
          const records = manifests[base];
          return records ? new Response(JSON.stringify({ records })) : undefined;
        },
      }),
    };
  }
  const filesUrl = (id: string) => `https://huggingface.co/mlc-ai/${id}/resolve/main/`;

  it('lists cached models once per set of weights, with their exact size', async () => {
    const cached = new Set([MODEL, 'Llama-3.1-8B-Instruct-q4f32_1-MLC']);
    const hasModelInCache = vi.fn(async (id: string) => cached.has(id));
    const list = await listWebLlmCache(
      {},
      {
        hasModelInCache,
        deleteModelAllInfoInCache: vi.fn(),
        caches: fakeCaches({ [filesUrl(MODEL)]: [{ nbytes: 100 }, { nbytes: 50 }] }),
      },
    );
    expect(list).toEqual([
      {
        key: 'webllm:Llama-3.1-8B-Instruct-q4f32_1-MLC',
        kind: 'webllm',
        name: 'Llama-3.1-8B-Instruct-q4f32_1-MLC (also Llama-3.1-8B-Instruct-q4f32_1-MLC-1k)',
      },
      { key: `webllm:${MODEL}`, kind: 'webllm', name: MODEL, bytes: 150 },
    ]);
    // Shared weights are checked once, not once per id.
    expect(
      hasModelInCache.mock.calls.filter(([id]) => id.startsWith('Llama-3.1-8B-Instruct-q4f32_1')),
    ).toHaveLength(1);
  });

  it('lists self-hosted models under their engine key', async () => {
    const baseUrl = 'http://127.0.0.1:9/models/qwen';
    const hasModelInCache = vi.fn(
      async (_id: string, appConfig?: AppConfig) => appConfig?.model_list[0]?.model === baseUrl,
    );
    const list = await listWebLlmCache(
      { custom: [{ kind: 'webllm', model: MODEL, baseUrl }] },
      { hasModelInCache, deleteModelAllInfoInCache: vi.fn() },
    );
    expect(list).toEqual([{ key: `webllm:${MODEL}@${baseUrl}`, kind: 'webllm', name: MODEL }]);
  });

  it('deletes by id, by id@baseUrl and by full engine key', async () => {
    const deleteModelAllInfoInCache = vi.fn(async () => undefined);
    const cacheDeps = { hasModelInCache: vi.fn(), deleteModelAllInfoInCache };
    await deleteWebLlmCache(MODEL, cacheDeps);
    expect(deleteModelAllInfoInCache).toHaveBeenLastCalledWith(MODEL, prebuiltAppConfig);
    await deleteWebLlmCache(`webllm:${MODEL}`, cacheDeps);
    expect(deleteModelAllInfoInCache).toHaveBeenLastCalledWith(MODEL, prebuiltAppConfig);
    await deleteWebLlmCache(`${MODEL}@http://127.0.0.1:9/models/qwen`, cacheDeps);
    expect(deleteModelAllInfoInCache).toHaveBeenLastCalledWith(MODEL, {
      model_list: [
        expect.objectContaining({ model_id: MODEL, model: 'http://127.0.0.1:9/models/qwen' }),
      ],
    });
    await expect(deleteWebLlmCache('nope', cacheDeps)).rejects.toBeInstanceOf(ModelLoadError);
  });

  it('skips web-llm delete (which would download the manifest) when nothing is cached', async () => {
    const deleteModelAllInfoInCache = vi.fn(async () => undefined);
    await deleteWebLlmCache(MODEL, {
      hasModelInCache: vi.fn(),
      deleteModelAllInfoInCache,
      caches: fakeCaches({}),
    });
    expect(deleteModelAllInfoInCache).not.toHaveBeenCalled();
    await deleteWebLlmCache(MODEL, {
      hasModelInCache: vi.fn(),
      deleteModelAllInfoInCache,
      caches: fakeCaches({ [filesUrl(MODEL)]: [{ nbytes: 1 }] }),
    });
    expect(deleteModelAllInfoInCache).toHaveBeenCalledOnce();
  });
});
