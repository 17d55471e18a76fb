/**
 * web-llm's prebuilt model list, reduced to what the model picker needs, plus the AppConfig for
 * self-hosted weights. Imports @mlc-ai/web-llm, so it is only ever loaded inside the worker.
 */
import { ModelType, prebuiltAppConfig, type AppConfig, type ModelRecord } from '@mlc-ai/web-llm';
import { ModelLoadError } from '$lib/core/errors';
import type { WebGpuReport, WebLlmModelInfo } from './types';

/**
 * Preferred defaults, best first: small instruct models that follow JSON schemas well and fit
 * in ~2 GB of VRAM. Qwen3 is left out on purpose: it "thinks" aloud before answering.
 */
const DEFAULT_MODEL_FAMILIES = [
  'Qwen2.5-1.5B-Instruct',
  'Llama-3.2-1B-Instruct',
  'Qwen2.5-0.5B-Instruct',
] as const;

/** Quantisation suffix of a web-llm model id, e.g. `q4f16_1`, `q4f32_1`, `q0f32`; '' if none. */
export function parseQuantization(modelId: string): string {
  return /(?:^|-)(q\d+f\d+(?:_\d+)?)(?=-|$)/i.exec(modelId)?.[1] ?? '';
}

/** f16 variants (`q4f16_1`, `q0f16`, `q3f16_1`) run only where WebGPU offers `shader-f16`. */
export function isF16Quantization(quantization: string): boolean {
  return /^q\d+f16/i.test(quantization);
}

/** f32 variants (`q4f32_1`, `q0f32`) run on any WebGPU adapter. */
export function isF32Quantization(quantization: string): boolean {
  return /^q\d+f32/i.test(quantization);
}

/** Parameter counts of ids that do not spell them out ("phi-2", "Phi-3.5-mini"). */
const KNOWN_PARAMETER_COUNTS: ReadonlyArray<[RegExp, number]> = [
  [/^phi-1_5-/i, 1.4e9],
  [/^phi-2-/i, 2.7e9],
  [/^phi-3(\.5)?-mini-/i, 3.8e9],
  [/^phi-3\.5-vision-/i, 4.2e9],
  [/^phi-4-mini-/i, 3.8e9],
];

/**
 * Nominal parameter count from a model id: "Qwen2.5-1.5B-…" → 1.5e9, "SmolLM2-360M-…" → 3.6e8,
 * "stablelm-2-zephyr-1_6b-…" → 1.6e9. Undefined when the id does not say (e.g. gemma-4 "E2B",
 * whose *effective* size is not its stored size).
 */
export function estimateParameterCount(modelId: string): number | undefined {
  for (const [pattern, count] of KNOWN_PARAMETER_COUNTS) if (pattern.test(modelId)) return count;
  const match = /(?:^|[-_])(\d+(?:[._]\d+)?)([bm])(?=[-_]|$)/i.exec(modelId);
  if (!match?.[1] || !match[2]) return undefined;
  const value = Number(match[1].replace('_', '.'));
  return value * (match[2].toLowerCase() === 'b' ? 1e9 : 1e6);
}

/**
 * Storage bits per weight of an MLC quantisation: `qXfY_1` stores X-bit weights plus one
 * Y-bit scale per group of 32 (40 for q3), `q0fY` stores plain Y-bit floats.
 */
export function bitsPerWeight(quantization: string): number | undefined {
  const match = /^q(\d+)f(\d+)/i.exec(quantization);
  if (!match) return undefined;
  const weightBits = Number(match[1]);
  const scaleBits = Number(match[2]);
  if (weightBits === 0) return scaleBits;
  const groupSize = weightBits === 3 ? 40 : 32;
  return weightBits + scaleBits / groupSize;
}

/**
 * Estimated download size in bytes: parameters × bits per weight / 8. web-llm's list carries
 * no byte sizes; this is within ~15% of the real shard totals for the listed models (the
 * embedding table and unquantised norms make the real figure a little larger).
 */
export function estimateDownloadBytes(modelId: string): number | undefined {
  const parameters = estimateParameterCount(modelId);
  const bits = bitsPerWeight(parseQuantization(modelId));
  if (parameters === undefined || bits === undefined) return undefined;
  return Math.round((parameters * bits) / 8);
}

/** Reduces one web-llm ModelRecord to what the picker shows. */
export function toModelInfo(record: ModelRecord): WebLlmModelInfo {
  const quantization = parseQuantization(record.model_id);
  const needsShaderF16 =
    isF16Quantization(quantization) || (record.required_features ?? []).includes('shader-f16');
  const contextWindow = record.overrides?.context_window_size;
  return {
    id: record.model_id,
    quantization,
    needsShaderF16,
    downloadBytes: estimateDownloadBytes(record.model_id),
    vramMB: record.vram_required_MB,
    lowResourceRequired: record.low_resource_required ?? false,
    contextWindow:
      typeof contextWindow === 'number' && contextWindow > 0 ? contextWindow : undefined,
    isChatModel: isChatRecord(record),
  };
}

/**
 * Embedding models cannot chat; vision-language models (Phi-3.5-vision) cost more VRAM for a
 * modality this app never sends; base models are not instruction-tuned.
 */
function isChatRecord(record: ModelRecord): boolean {
  if (record.model_type === ModelType.embedding || record.model_type === ModelType.VLM)
    return false;
  if (/embed/i.test(record.model_id)) return false;
  return !/-Base-/i.test(record.model_id);
}

export interface ListWebLlmModelsOptions {
  /** Also list embedding, vision and base models (flagged `isChatModel: false`). Default false. */
  includeNonChat?: boolean;
  /** The model list to read; defaults to web-llm's prebuilt list. */
  appConfig?: AppConfig;
}

/**
 * The web-llm models this device can run, in web-llm's order: none without a WebGPU adapter,
 * only f32 variants (`q4f32_1`, `q0f32`) without `shader-f16`, and by default chat models only.
 */
export function listWebLlmModels(
  report: WebGpuReport,
  options: ListWebLlmModelsOptions = {},
): WebLlmModelInfo[] {
  if (!report.adapterFound) return [];
  const records = (options.appConfig ?? prebuiltAppConfig).model_list;
  return records
    .map(toModelInfo)
    .filter((model) => options.includeNonChat || model.isChatModel)
    .filter((model) => report.shaderF16 || !model.needsShaderF16);
}

/**
 * A sensible default among `models` (already filtered for this device): the first preferred
 * family present, f16 variant first (smaller and faster) when offered; else the smallest
 * low-resource chat model; '' when `models` is empty.
 */
export function pickDefaultModel(models: readonly WebLlmModelInfo[]): string {
  const chat = models.filter((model) => model.isChatModel);
  for (const family of DEFAULT_MODEL_FAMILIES) {
    for (const quantization of ['q4f16_1', 'q4f32_1']) {
      const id = `${family}-${quantization}-MLC`;
      if (chat.some((model) => model.id === id)) return id;
    }
  }
  const small = chat
    .filter((model) => model.lowResourceRequired)
    .sort((a, b) => (a.vramMB ?? Infinity) - (b.vramMB ?? Infinity));
  return small[0]?.id ?? chat[0]?.id ?? '';
}

/** Every model in web-llm's prebuilt list, whatever this device supports (for "Which model?"). */
export function allPrebuiltModels(): WebLlmModelInfo[] {
  return prebuiltAppConfig.model_list.map(toModelInfo);
}

/** The prebuilt record for a model id, if web-llm ships one. */
export function findPrebuiltRecord(modelId: string): ModelRecord | undefined {
  return prebuiltAppConfig.model_list.find((record) => record.model_id === modelId);
}

/**
 * The folder web-llm will actually fetch a model's files from, given a `ModelRecord.model` URL.
 * Mirrors web-llm's `cleanModelUrl`: adds a trailing slash, then `resolve/main/` unless the URL
 * already has a `/resolve/<branch>/` part. Throws if `baseUrl` is not an absolute http(s) URL.
 */
export function webLlmModelFilesUrl(baseUrl: string): string {
  const absolute = parseAbsoluteHttpUrl(baseUrl);
  let url = absolute.href;
  url += url.endsWith('/') ? '' : '/';
  if (!/.+\/resolve\/.+\//.test(url)) url += 'resolve/main/';
  return new URL(url).href;
}

export interface CustomAppConfigOptions {
  /**
   * URL of the compiled model library (.wasm). Defaults to the prebuilt record's, which lives on
   * raw.githubusercontent.com: fully air-gapped setups must self-host it too and pass it here.
   */
  modelLib?: string;
}

/**
 * AppConfig for `modelId` with weights served from `baseUrl` (self-hosted or air-gapped).
 *
 * `baseUrl` must be absolute (web-llm calls `new URL()` on it without a base) and point at the
 * model's own folder: web-llm appends `resolve/main/` and fetches `mlc-chat-config.json`,
 * the tokenizer files, `tensor-cache.json` and the `params_shard_*.bin` files from there. So
 * serving a copy of the Hugging Face repo `mlc-ai/<modelId>` at
 * `https://host/models/<modelId>/resolve/main/` works with
 * `baseUrl = "https://host/models/<modelId>"`; a URL that already ends in `/resolve/<branch>/`
 * is used as is. Everything else (overrides, VRAM, required features, model_lib) is copied from
 * the prebuilt record; an id web-llm does not ship needs `options.modelLib`.
 */
export function buildCustomAppConfig(
  modelId: string,
  baseUrl: string,
  options: CustomAppConfigOptions = {},
): AppConfig {
  const model = parseAbsoluteHttpUrl(baseUrl).href;
  const prebuilt = findPrebuiltRecord(modelId);
  const modelLib = options.modelLib ?? prebuilt?.model_lib;
  if (!modelLib) {
    throw new ModelLoadError(
      `"${modelId}" is not in web-llm's prebuilt model list, so its compiled model library (.wasm) is unknown. Use a prebuilt model id, or give the URL of the model library too.`,
    );
  }
  const record: ModelRecord = prebuilt
    ? { ...prebuilt, model, model_lib: modelLib }
    : { model, model_id: modelId, model_lib: modelLib };
  return { model_list: [record] };
}

function parseAbsoluteHttpUrl(baseUrl: string): URL {
  let url: URL;
  try {
    url = new URL(baseUrl.trim());
  } catch {
    throw new ModelLoadError(
      `"${baseUrl}" is not an absolute URL. Give the full address of the model folder, e.g. https://models.example.org/Qwen2.5-1.5B-Instruct-q4f16_1-MLC.`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ModelLoadError(`"${baseUrl}" must be an http:// or https:// URL.`);
  }
  return url;
}
