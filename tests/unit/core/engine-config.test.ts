import { describe, expect, it } from 'vitest';
import {
  AGENT_ROLES,
  concurrencyOf,
  DEFAULT_ENDPOINT_CONCURRENCY,
  engineKey,
  parseConcurrency,
  parseContextSize,
  parseGpuLayers,
  ROLE_LABELS,
  type EngineConfig,
} from '$lib/core/engine-config';

const configs: Record<string, EngineConfig> = {
  webllm: { kind: 'webllm', model: 'Qwen2.5-0.5B-Instruct-q4f16_1-MLC' },
  webllmSelfHosted: {
    kind: 'webllm',
    model: 'Qwen2.5-0.5B-Instruct-q4f16_1-MLC',
    baseUrl: 'https://models.example.org/qwen',
  },
  wllamaUrl: {
    kind: 'wllama',
    model: 'tiny.gguf',
    source: { type: 'url', url: 'https://models.example.org/tiny.gguf' },
  },
  wllamaLocal: {
    kind: 'wllama',
    model: 'tiny.gguf',
    source: { type: 'local', fileName: 'tiny.gguf' },
  },
  openai: { kind: 'openai', baseUrl: 'http://localhost:11434/v1', model: 'llama3.2' },
  openaiOtherHost: { kind: 'openai', baseUrl: 'http://gpu-box:11434/v1', model: 'llama3.2' },
};

describe('engineKey', () => {
  it('names each kind readably', () => {
    expect(engineKey(configs.webllm!)).toBe('webllm:Qwen2.5-0.5B-Instruct-q4f16_1-MLC');
    expect(engineKey(configs.webllmSelfHosted!)).toBe(
      'webllm:Qwen2.5-0.5B-Instruct-q4f16_1-MLC@https://models.example.org/qwen',
    );
    expect(engineKey(configs.wllamaUrl!)).toBe('wllama:https://models.example.org/tiny.gguf');
    expect(engineKey(configs.wllamaLocal!)).toBe('wllama:local/tiny.gguf');
    expect(engineKey(configs.openai!)).toBe('openai:llama3.2@http://localhost:11434/v1');
  });

  it('is stable: equal configs give equal keys, whatever the property order or copy', () => {
    for (const config of Object.values(configs)) {
      const reordered = Object.fromEntries(Object.entries(config).reverse()) as EngineConfig;
      expect(engineKey(structuredClone(config))).toBe(engineKey(config));
      expect(engineKey(reordered)).toBe(engineKey(config));
    }
  });

  it('is distinct for every different engine, model or source', () => {
    const keys = Object.values(configs).map(engineKey);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('ignores display-only fields (wllama display name, context size)', () => {
    expect(
      engineKey({ ...configs.wllamaUrl!, model: 'Renamed', contextSize: 4096 } as EngineConfig),
    ).toBe(engineKey(configs.wllamaUrl!));
  });
});

describe('agent roles', () => {
  it('has a label for every role', () => {
    expect(Object.keys(ROLE_LABELS).sort()).toEqual([...AGENT_ROLES].sort());
    for (const role of AGENT_ROLES) expect(ROLE_LABELS[role].length).toBeGreaterThan(0);
  });
});

describe('parseContextSize', () => {
  it('reads tokens, a k suffix and separators; empty asks the server', () => {
    expect(parseContextSize('')).toEqual({ ok: true, value: undefined });
    expect(parseContextSize(' 8192 ')).toEqual({ ok: true, value: 8192 });
    expect(parseContextSize('32k')).toEqual({ ok: true, value: 32768 });
    expect(parseContextSize('16,384')).toEqual({ ok: true, value: 16384 });
  });

  it.each(['abc', '4096.5', '-8192', '100', '9999999', '8 k tokens'])(
    'refuses %s with the accepted range',
    (input) => {
      const result = parseContextSize(input);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error).toMatch(/from 512 to 2,097,152/);
    },
  );

  it('keys an endpoint with a set context size apart from one without', () => {
    const base = {
      kind: 'openai',
      baseUrl: 'http://localhost:11434/v1',
      model: 'llama3.2',
    } as const;
    expect(engineKey({ ...base, contextSize: 4096 })).toBe(
      'openai:llama3.2@http://localhost:11434/v1#ctx=4096',
    );
    expect(engineKey(base)).toBe('openai:llama3.2@http://localhost:11434/v1');
  });
});

describe('parseGpuLayers', () => {
  it('reads auto, none and a layer count', () => {
    expect(parseGpuLayers('')).toEqual({ ok: true, value: 'auto' });
    expect(parseGpuLayers(' Auto ')).toEqual({ ok: true, value: 'auto' });
    expect(parseGpuLayers('none')).toEqual({ ok: true, value: 'none' });
    expect(parseGpuLayers('0')).toEqual({ ok: true, value: 'none' });
    expect(parseGpuLayers('cpu')).toEqual({ ok: true, value: 'none' });
    expect(parseGpuLayers('12')).toEqual({ ok: true, value: 12 });
  });

  it('rejects anything else with a message that says what is allowed', () => {
    for (const bad of ['-3', '1.5', 'all', '1000']) {
      const r = parseGpuLayers(bad);
      expect(r.ok).toBe(false);
      expect(!r.ok && r.error).toBe(
        `Layers on GPU must be "auto", "none", or a whole number of layers from 1 to 999. You gave "${bad}".`,
      );
    }
  });
});

describe('endpoint concurrency', () => {
  const endpoint = { kind: 'openai', baseUrl: 'http://127.0.0.1:1/v1', model: 'm' } as const;

  it('parses the form field: empty is the default, whole numbers 1–64 only', () => {
    expect(parseConcurrency('')).toEqual({ ok: true, value: undefined });
    expect(parseConcurrency(' 16 ')).toEqual({ ok: true, value: 16 });
    expect(parseConcurrency('1')).toEqual({ ok: true, value: 1 });
    expect(parseConcurrency('64')).toEqual({ ok: true, value: 64 });
    for (const bad of ['0', '65', '2.5', '-3', 'eight', '1e2']) {
      const result = parseConcurrency(bad);
      expect(result.ok, bad).toBe(false);
      if (!result.ok) expect(result.error).toContain(`from 1 to 64`);
    }
  });

  it('is 1 for in-browser engines and the setting (default 8, clamped) for endpoints', () => {
    expect(concurrencyOf({ kind: 'webllm', model: 'x' })).toBe(1);
    expect(
      concurrencyOf({
        kind: 'wllama',
        model: 'x',
        source: { type: 'url', url: 'http://x/m.gguf' },
      }),
    ).toBe(1);
    expect(concurrencyOf(endpoint)).toBe(DEFAULT_ENDPOINT_CONCURRENCY);
    expect(concurrencyOf({ ...endpoint, concurrency: 16 })).toBe(16);
    expect(concurrencyOf({ ...endpoint, concurrency: 500 })).toBe(64);
    expect(concurrencyOf({ ...endpoint, concurrency: 0 })).toBe(1);
  });

  it('is not part of the engine id: results and provenance do not depend on it', () => {
    expect(engineKey({ ...endpoint, concurrency: 16 })).toBe(engineKey(endpoint));
  });
});
