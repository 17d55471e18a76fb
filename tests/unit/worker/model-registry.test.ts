import { describe, expect, it } from 'vitest';
import { concurrencyOf, type EngineConfig } from '$lib/core/engine-config';
import { DeviceLostError } from '$lib/core/errors';
import type { ChatRequest } from '$lib/core/llm';
import type { EngineLoadOptions, LoadedEngine } from '$lib/engines/types';
import { ModelRegistry } from '$lib/worker/model-registry';

const wllama = (name: string): EngineConfig => ({
  kind: 'wllama',
  model: name,
  source: { type: 'local', fileName: name },
});
const endpoint: EngineConfig = { kind: 'openai', baseUrl: 'http://127.0.0.1:1/v1', model: 'm' };

function fakeLoader() {
  const loads: { config: EngineConfig; apiKey?: string }[] = [];
  const unloaded: string[] = [];
  let failNextChat: Error | undefined;
  const loader = async (
    config: EngineConfig,
    options: EngineLoadOptions,
  ): Promise<LoadedEngine> => {
    loads.push({ config, apiKey: options.apiKey });
    return {
      id: `fake:${config.model}`,
      contextWindow: 2048,
      config,
      async chat(_request: ChatRequest) {
        if (failNextChat) {
          const e = failNextChat;
          failNextChat = undefined;
          throw e;
        }
        return {
          text: 'ok',
          usage: { promptTokens: 1, completionTokens: 1 },
          finishReason: 'stop',
          durationMs: 1,
        };
      },
      async unload() {
        unloaded.push(config.model);
      },
    };
  };
  return { loader, loads, unloaded, failNext: (e: Error) => (failNextChat = e) };
}

describe('ModelRegistry', () => {
  it('loads once per config, even for concurrent requests', async () => {
    const f = fakeLoader();
    const registry = new ModelRegistry(f.loader, async () => undefined);
    const [a, b] = await Promise.all([
      registry.ensure(wllama('a'), {}),
      registry.ensure(wllama('a'), {}),
    ]);
    expect(a).toBe(b);
    expect(f.loads).toHaveLength(1);
    expect(registry.list().map((m) => m.key)).toEqual(['wllama:local/a']);
  });

  it('unloads the previous local model of the same kind, but keeps endpoints', async () => {
    const f = fakeLoader();
    const registry = new ModelRegistry(f.loader, async () => undefined);
    await registry.ensure(wllama('a'), {});
    await registry.ensure(endpoint, {});
    await registry.ensure(wllama('b'), {});
    expect(f.unloaded).toEqual(['a']);
    expect(
      registry
        .list()
        .map((m) => m.config.model)
        .sort(),
    ).toEqual(['b', 'm']);
  });

  it('passes the API key only from the secret lookup', async () => {
    const f = fakeLoader();
    const registry = new ModelRegistry(f.loader, async (c) =>
      c.kind === 'openai' ? 'sk-1' : undefined,
    );
    await registry.ensure(endpoint, {});
    expect(f.loads[0]?.apiKey).toBe('sk-1');
  });

  it('forgets an engine whose GPU device was lost, so the next use reloads it', async () => {
    const f = fakeLoader();
    const registry = new ModelRegistry(f.loader, async () => undefined);
    const engine = await registry.ensure(wllama('a'), {});
    f.failNext(new DeviceLostError('The GPU device was lost.'));
    await expect(engine.chat({ messages: [] })).rejects.toThrow('The GPU device was lost.');
    expect(registry.list()).toEqual([]);
    expect(f.unloaded).toEqual(['a']);
    await registry.ensure(wllama('a'), {});
    expect(f.loads).toHaveLength(2);
  });

  it('keeps the engine after an ordinary failure', async () => {
    const f = fakeLoader();
    const registry = new ModelRegistry(f.loader, async () => undefined);
    const engine = await registry.ensure(wllama('a'), {});
    f.failNext(new Error('bad request'));
    await expect(engine.chat({ messages: [] })).rejects.toThrow('bad request');
    expect(registry.list()).toHaveLength(1);
  });

  it('unloads and reports a load that was cancelled while it finished', async () => {
    const f = fakeLoader();
    const registry = new ModelRegistry(f.loader, async () => undefined);
    const controller = new AbortController();
    controller.abort();
    await expect(registry.ensure(wllama('a'), { signal: controller.signal })).rejects.toThrow(
      'Model loading was cancelled.',
    );
    expect(f.unloaded).toEqual(['a']);
    expect(registry.list()).toEqual([]);
  });

  it('reloads the same model asked for with other options (layers on GPU), not for key order', async () => {
    const f = fakeLoader();
    const registry = new ModelRegistry(f.loader, async () => undefined);
    const local = { type: 'local', fileName: 'a' } as const;
    const auto: EngineConfig = { kind: 'wllama', model: 'a', source: local, gpuLayers: 'auto' };
    const cpuOnly: EngineConfig = { kind: 'wllama', model: 'a', source: local, gpuLayers: 'none' };
    const first = await registry.ensure(auto, {});
    // Same content, other key order: the loaded engine serves it.
    const reordered = { gpuLayers: 'auto', source: { fileName: 'a', type: 'local' }, model: 'a' };
    expect(await registry.ensure({ ...reordered, kind: 'wllama' } as EngineConfig, {})).toBe(first);
    const cpu = await registry.ensure(cpuOnly, {});
    expect(cpu).not.toBe(first);
    expect(f.loads.map((l) => l.config)).toEqual([auto, cpuOnly]);
    expect(f.unloaded).toEqual(['a']);
    expect(registry.list()).toHaveLength(1);
  });

  it("lists each model's backend: the engine's own report, else where its kind runs", async () => {
    const f = fakeLoader();
    const backend = { kind: 'webgpu', label: 'WebGPU (all 3 layers)', detail: 'why' } as const;
    const loader = async (config: EngineConfig, options: EngineLoadOptions) => ({
      ...(await f.loader(config, options)),
      ...(config.kind === 'wllama' ? { backend } : {}),
    });
    const registry = new ModelRegistry(loader, async () => undefined);
    await registry.ensure(wllama('a'), {});
    await registry.ensure(endpoint, {});
    expect(registry.list().map((m) => m.backend)).toEqual([
      backend,
      { kind: 'remote', label: 'Endpoint', detail: 'Runs on the server at http://127.0.0.1:1/v1.' },
    ]);
  });
});

describe('ModelRegistry: endpoints', () => {
  it('reports the replicas of loaded endpoint models only', async () => {
    const replicas = [
      { url: 'http://a/v1', state: 'ready' as const, inFlight: 0, failures: 0 },
      { url: 'http://b/v1', state: 'set-aside' as const, inFlight: 0, failures: 3, until: 9 },
    ];
    const registry = new ModelRegistry(
      async (config) => ({
        id: `fake:${config.model}`,
        contextWindow: 2048,
        config,
        chat: () => Promise.reject(new Error('unused')),
        unload: async () => undefined,
        ...(config.kind === 'openai' ? { replicaStatus: () => replicas } : {}),
      }),
      async () => undefined,
    );
    await registry.ensure(wllama('a'), {});
    await registry.ensure(endpoint, {});
    expect(registry.endpointStatus()).toEqual([
      { key: 'openai:m@http://127.0.0.1:1/v1', model: 'm', replicas },
    ]);
  });

  it('keeps the loaded engine when only details outside its key change (a price), and lists them', async () => {
    const f = fakeLoader();
    const registry = new ModelRegistry(f.loader, async () => undefined);
    const first = await registry.ensure(endpoint, {});
    const priced: EngineConfig = {
      ...endpoint,
      price: { inputPerMillion: 1, outputPerMillion: 2 },
    };
    expect(await registry.ensure(priced, {})).toBe(first);
    expect(f.loads).toHaveLength(1);
    expect(registry.list()[0]?.config).toEqual(priced);
  });
});

describe('ModelRegistry concurrency', () => {
  /** Engines that report the config's concurrency (as the endpoint engine does) and count overlap. */
  function countingLoader() {
    const stats = { active: 0, max: 0 };
    const loader = async (config: EngineConfig): Promise<LoadedEngine> => ({
      id: `fake:${config.model}`,
      contextWindow: 2048,
      config,
      ...(config.kind === 'openai' ? { maxConcurrency: concurrencyOf(config) } : {}),
      async chat() {
        stats.active++;
        stats.max = Math.max(stats.max, stats.active);
        await new Promise((r) => setTimeout(r, 2));
        stats.active--;
        return {
          text: 'ok',
          usage: { promptTokens: 1, completionTokens: 1 },
          finishReason: 'stop',
          durationMs: 1,
        };
      },
      async unload() {},
    });
    return { loader, stats };
  }
  const ask = { messages: [{ role: 'user' as const, content: 'hi' }] };

  it('sends an endpoint as many requests at once as its setting, an in-browser engine one', async () => {
    const { loader, stats } = countingLoader();
    const registry = new ModelRegistry(loader, async () => undefined);
    const api = await registry.ensure({ ...endpoint, concurrency: 4 }, {});
    expect(api.maxConcurrency).toBe(4);
    await Promise.all(Array.from({ length: 12 }, () => api.chat(ask)));
    expect(stats.max).toBe(4);

    // A changed setting applies to the loaded engine (its key, and so its id, is unchanged).
    const again = await registry.ensure({ ...endpoint, concurrency: 2 }, {});
    expect(again).toBe(api);
    expect(registry.list()[0]?.config).toEqual({ ...endpoint, concurrency: 2 });
    stats.max = 0;
    await Promise.all(Array.from({ length: 12 }, () => again.chat(ask)));
    expect(stats.max).toBe(2);

    const cpu = await registry.ensure(wllama('tiny'), {});
    stats.max = 0;
    await Promise.all(Array.from({ length: 6 }, () => cpu.chat(ask)));
    expect(stats.max).toBe(1);
  });
});
