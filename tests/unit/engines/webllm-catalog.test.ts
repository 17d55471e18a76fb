import { prebuiltAppConfig } from '@mlc-ai/web-llm';
import { describe, expect, it } from 'vitest';
import { ModelLoadError } from '$lib/core/errors';
import type { WebGpuReport, WebLlmModelInfo } from '$lib/engines/types';
import {
  bitsPerWeight,
  buildCustomAppConfig,
  estimateDownloadBytes,
  estimateParameterCount,
  isF32Quantization,
  listWebLlmModels,
  parseQuantization,
  pickDefaultModel,
  toModelInfo,
  webLlmModelFilesUrl,
} from '$lib/engines/webllm-catalog';

function report(overrides: Partial<WebGpuReport>): WebGpuReport {
  return {
    apiPresent: true,
    adapterFound: true,
    isFallback: false,
    vendor: 'test',
    architecture: '',
    device: '',
    description: '',
    shaderF16: true,
    limits: {
      maxBufferSize: 2 ** 31,
      maxStorageBufferBindingSize: 2 ** 31,
      maxComputeWorkgroupStorageSize: 32768,
      maxComputeInvocationsPerWorkgroup: 1024,
    },
    features: [],
    summary: '',
    ...overrides,
  };
}

const WITH_F16 = report({ shaderF16: true, features: ['shader-f16'] });
const F32_ONLY = report({ shaderF16: false, isFallback: true });
const NO_ADAPTER = report({ adapterFound: false, shaderF16: false });

const ids = (models: WebLlmModelInfo[]) => models.map((m) => m.id);

describe('parsing model ids', () => {
  it.each([
    ['Qwen2.5-1.5B-Instruct-q4f16_1-MLC', 'q4f16_1'],
    ['Llama-3.1-8B-Instruct-q4f32_1-MLC-1k', 'q4f32_1'],
    ['SmolLM2-360M-Instruct-q0f32-MLC', 'q0f32'],
    ['Llama-3.1-70B-Instruct-q3f16_1-MLC', 'q3f16_1'],
    ['not-a-model', ''],
  ])('quantization of %s is %j', (id, quantization) => {
    expect(parseQuantization(id)).toBe(quantization);
  });

  it.each([
    ['Qwen2.5-1.5B-Instruct-q4f16_1-MLC', 1.5e9],
    ['SmolLM2-360M-Instruct-q0f32-MLC', 3.6e8],
    ['stablelm-2-zephyr-1_6b-q4f16_1-MLC', 1.6e9],
    ['gemma-2-2b-it-q4f32_1-MLC', 2e9],
    ['Llama-3.1-70B-Instruct-q3f16_1-MLC', 7e10],
    ['Phi-3.5-mini-instruct-q4f16_1-MLC', 3.8e9],
    ['phi-2-q4f32_1-MLC', 2.7e9],
    ['gemma-4-E2B-it-q4f16_1-MLC', undefined],
  ])('parameter count of %s is %j', (id, count) => {
    expect(estimateParameterCount(id)).toBe(count);
  });

  it('derives bits per weight from the quantisation', () => {
    expect(bitsPerWeight('q4f16_1')).toBe(4.5);
    expect(bitsPerWeight('q4f32_1')).toBe(5);
    expect(bitsPerWeight('q3f16_1')).toBe(3.4);
    expect(bitsPerWeight('q0f16')).toBe(16);
    expect(bitsPerWeight('q0f32')).toBe(32);
    expect(bitsPerWeight('')).toBeUndefined();
  });

  it('estimates the download size as parameters × bits / 8', () => {
    expect(estimateDownloadBytes('Qwen2.5-1.5B-Instruct-q4f16_1-MLC')).toBe(843_750_000);
    expect(estimateDownloadBytes('SmolLM2-360M-Instruct-q0f32-MLC')).toBe(1_440_000_000);
    expect(estimateDownloadBytes('gemma-4-E2B-it-q4f16_1-MLC')).toBeUndefined();
  });
});

describe('toModelInfo', () => {
  it('reduces a prebuilt record to the picker fields', () => {
    const record = prebuiltAppConfig.model_list.find(
      (r) => r.model_id === 'Llama-3.1-8B-Instruct-q4f32_1-MLC-1k',
    );
    expect(record).toBeDefined();
    expect(toModelInfo(record!)).toEqual({
      id: 'Llama-3.1-8B-Instruct-q4f32_1-MLC-1k',
      quantization: 'q4f32_1',
      needsShaderF16: false,
      downloadBytes: 5_000_000_000,
      vramMB: record!.vram_required_MB,
      lowResourceRequired: true,
      contextWindow: 1024,
      isChatModel: true,
    });
  });

  it('marks f16 variants as needing shader-f16 even when the record lists no required_features', () => {
    const record = prebuiltAppConfig.model_list.find(
      (r) => r.model_id === 'Llama-3.2-1B-Instruct-q4f16_1-MLC',
    )!;
    expect(record.required_features).toBeUndefined();
    expect(toModelInfo(record).needsShaderF16).toBe(true);
  });

  it('marks embedding, vision and base models as not chat models', () => {
    const info = (id: string) =>
      toModelInfo(prebuiltAppConfig.model_list.find((r) => r.model_id === id)!);
    expect(info('snowflake-arctic-embed-m-q0f32-MLC-b32').isChatModel).toBe(false);
    expect(info('Phi-3.5-vision-instruct-q4f16_1-MLC').isChatModel).toBe(false);
    expect(info('Ministral-3-3B-Base-2512-q4f16_1-MLC').isChatModel).toBe(false);
    expect(info('Qwen2.5-0.5B-Instruct-q4f16_1-MLC').isChatModel).toBe(true);
  });
});

describe('listWebLlmModels', () => {
  it('offers nothing without a WebGPU adapter', () => {
    expect(listWebLlmModels(NO_ADAPTER)).toEqual([]);
  });

  it('offers only f32 variants without shader-f16', () => {
    const models = listWebLlmModels(F32_ONLY);
    expect(models.length).toBeGreaterThan(20);
    for (const model of models) {
      expect(model.needsShaderF16).toBe(false);
      expect(isF32Quantization(model.quantization)).toBe(true);
    }
    expect(ids(models)).toContain('Qwen2.5-1.5B-Instruct-q4f32_1-MLC');
    expect(ids(models)).toContain('SmolLM2-360M-Instruct-q0f32-MLC');
    expect(ids(models)).not.toContain('Qwen2.5-1.5B-Instruct-q4f16_1-MLC');
    // Every f32 chat model of the prebuilt list is offered.
    const expected = prebuiltAppConfig.model_list
      .map(toModelInfo)
      .filter((m) => m.isChatModel && isF32Quantization(m.quantization));
    expect(ids(models)).toEqual(ids(expected));
  });

  it('offers f16 and f32 variants with shader-f16, chat models only by default', () => {
    const models = listWebLlmModels(WITH_F16);
    expect(ids(models)).toContain('Qwen2.5-1.5B-Instruct-q4f16_1-MLC');
    expect(ids(models)).toContain('Qwen2.5-1.5B-Instruct-q4f32_1-MLC');
    expect(models.every((m) => m.isChatModel)).toBe(true);
    expect(ids(models)).not.toContain('snowflake-arctic-embed-s-q0f32-MLC-b4');
  });

  it('includes non-chat models, flagged, on request', () => {
    const models = listWebLlmModels(WITH_F16, { includeNonChat: true });
    const embed = models.find((m) => m.id === 'snowflake-arctic-embed-s-q0f32-MLC-b4');
    expect(embed?.isChatModel).toBe(false);
    expect(models).toHaveLength(prebuiltAppConfig.model_list.length);
  });
});

describe('pickDefaultModel', () => {
  it('picks Qwen2.5-1.5B-Instruct q4f16_1 where shader-f16 exists', () => {
    expect(pickDefaultModel(listWebLlmModels(WITH_F16))).toBe('Qwen2.5-1.5B-Instruct-q4f16_1-MLC');
  });

  it('picks its q4f32_1 variant without shader-f16', () => {
    expect(pickDefaultModel(listWebLlmModels(F32_ONLY))).toBe('Qwen2.5-1.5B-Instruct-q4f32_1-MLC');
  });

  it('returns "" when nothing can run', () => {
    expect(pickDefaultModel([])).toBe('');
  });

  it('falls back to the smallest low-resource chat model when no preferred family is offered', () => {
    const models = listWebLlmModels(WITH_F16).filter(
      (m) => !/^(Qwen2\.5-(0\.5|1\.5)B-Instruct|Llama-3\.2-1B-Instruct)-/.test(m.id),
    );
    const picked = models.find((m) => m.id === pickDefaultModel(models))!;
    expect(picked.lowResourceRequired).toBe(true);
    const smallest = Math.min(
      ...models.filter((m) => m.lowResourceRequired).map((m) => m.vramMB ?? Infinity),
    );
    expect(picked.vramMB).toBe(smallest);
  });
});

describe('custom base URL', () => {
  const id = 'Qwen2.5-1.5B-Instruct-q4f16_1-MLC';
  const prebuilt = prebuiltAppConfig.model_list.find((r) => r.model_id === id)!;

  it('builds a one-model AppConfig pointing at the self-hosted folder', () => {
    const config = buildCustomAppConfig(id, 'http://127.0.0.1:8080/models/' + id);
    expect(config.model_list).toHaveLength(1);
    expect(config.model_list[0]).toEqual({
      ...prebuilt,
      model: `http://127.0.0.1:8080/models/${id}`,
      model_lib: prebuilt.model_lib,
    });
  });

  it('uses a self-hosted model library when given', () => {
    const config = buildCustomAppConfig(id, 'http://127.0.0.1:8080/m', {
      modelLib: 'http://127.0.0.1:8080/libs/qwen.wasm',
    });
    expect(config.model_list[0]?.model_lib).toBe('http://127.0.0.1:8080/libs/qwen.wasm');
  });

  it('needs a model library for ids web-llm does not ship', () => {
    expect(() => buildCustomAppConfig('MyModel-q4f16_1-MLC', 'http://127.0.0.1:8080/m')).toThrow(
      ModelLoadError,
    );
    const config = buildCustomAppConfig('MyModel-q4f16_1-MLC', 'http://127.0.0.1:8080/m', {
      modelLib: 'http://127.0.0.1:8080/my.wasm',
    });
    expect(config.model_list[0]).toEqual({
      model: 'http://127.0.0.1:8080/m',
      model_id: 'MyModel-q4f16_1-MLC',
      model_lib: 'http://127.0.0.1:8080/my.wasm',
    });
  });

  it('rejects relative and non-http URLs, which web-llm cannot use', () => {
    expect(() => buildCustomAppConfig(id, '/models/qwen')).toThrow(/not an absolute URL/);
    expect(() => buildCustomAppConfig(id, 'file:///models/qwen')).toThrow(/http/);
  });

  it('predicts where web-llm fetches the files from (resolve/main/ appended once)', () => {
    expect(webLlmModelFilesUrl('http://127.0.0.1:8080/models/qwen')).toBe(
      'http://127.0.0.1:8080/models/qwen/resolve/main/',
    );
    expect(webLlmModelFilesUrl('http://127.0.0.1:8080/models/qwen/')).toBe(
      'http://127.0.0.1:8080/models/qwen/resolve/main/',
    );
    expect(webLlmModelFilesUrl('http://127.0.0.1:8080/models/qwen/resolve/v2/')).toBe(
      'http://127.0.0.1:8080/models/qwen/resolve/v2/',
    );
    expect(webLlmModelFilesUrl(prebuilt.model)).toBe(`${prebuilt.model}/resolve/main/`);
  });
});
