/**
 * web-llm's model cache (the browser's Cache API): which models are stored, their weight size,
 * and deleting them. Apart from the engine because it runs without loading any model.
 */
import {
  deleteModelAllInfoInCache,
  hasModelInCache,
  prebuiltAppConfig,
  type AppConfig,
  type ModelRecord,
} from '@mlc-ai/web-llm';
import { engineKey, type WebLlmConfig } from '$lib/core/engine-config';
import { ModelLoadError } from '$lib/core/errors';
import type { CachedModel } from './types';
import { buildCustomAppConfig, findPrebuiltRecord, webLlmModelFilesUrl } from './webllm-catalog';

/** The part of the Cache API we read; `globalThis.caches` in browsers and workers. */
export interface CacheStorageLike {
  open(name: string): Promise<{ match(url: string): Promise<Response | undefined> }>;
}

/** Injection points for the cache helpers; defaults are web-llm's own functions. */
export interface WebLlmCacheDeps {
  hasModelInCache: (modelId: string, appConfig?: AppConfig) => Promise<boolean>;
  deleteModelAllInfoInCache: (modelId: string, appConfig?: AppConfig) => Promise<void>;
  /** Used to read `tensor-cache.json` (weight sizes); undefined where there is no Cache API. */
  caches?: CacheStorageLike | undefined;
}

const defaultCacheDeps = (): WebLlmCacheDeps => ({
  hasModelInCache,
  deleteModelAllInfoInCache,
  caches: typeof caches === 'undefined' ? undefined : caches,
});

/** web-llm's Cache API scope for weights and tokenizers (see `getTensorCacheAccessOptions`). */
const WEBLLM_MODEL_CACHE = 'webllm/model';

export interface ListWebLlmCacheOptions {
  /** Self-hosted configs to check as well (their cache entries are keyed by their own URLs). */
  custom?: readonly WebLlmConfig[];
}

/**
 * The web-llm models whose weights are fully in browser storage. Ids that share weights (e.g.
 * `…-MLC` and its `…-MLC-1k` context variant) are listed once, under the id that names the
 * weights repo; `bytes` is the weights' exact size from their cached `tensor-cache.json`.
 */
export async function listWebLlmCache(
  options: ListWebLlmCacheOptions = {},
  deps: WebLlmCacheDeps = defaultCacheDeps(),
): Promise<CachedModel[]> {
  const groups = new Map<string, { ids: string[]; config: WebLlmConfig; appConfig: AppConfig }>();
  const add = (record: ModelRecord, config: WebLlmConfig, appConfig: AppConfig) => {
    let url: string;
    try {
      url = webLlmModelFilesUrl(record.model);
    } catch {
      return;
    }
    const group = groups.get(url);
    if (!group) {
      groups.set(url, { ids: [record.model_id], config, appConfig });
      return;
    }
    group.ids.push(record.model_id);
    // Prefer the id that names the weights repo (no "-1k" suffix) as the representative.
    if (url.includes(`/${record.model_id}/`)) {
      group.config = config;
      group.appConfig = appConfig;
    }
  };
  for (const record of prebuiltAppConfig.model_list) {
    add(record, { kind: 'webllm', model: record.model_id }, prebuiltAppConfig);
  }
  for (const config of options.custom ?? []) {
    if (!config.baseUrl) continue;
    try {
      const appConfig = buildCustomAppConfig(config.model, config.baseUrl);
      const record = appConfig.model_list[0];
      if (record) add(record, config, appConfig);
    } catch {
      // An invalid custom URL cannot have cached anything.
    }
  }

  const found = await Promise.all(
    [...groups].map(async ([url, group]): Promise<CachedModel | undefined> => {
      const cached = await deps
        .hasModelInCache(group.config.model, group.appConfig)
        .catch(() => false);
      if (!cached) return undefined;
      const others = group.ids.filter((id) => id !== group.config.model);
      const model: CachedModel = {
        key: engineKey(group.config),
        kind: 'webllm',
        name: others.length
          ? `${group.config.model} (also ${others.join(', ')})`
          : group.config.model,
      };
      const bytes = await cachedWeightBytes(url, deps.caches);
      if (bytes !== undefined) model.bytes = bytes;
      return model;
    }),
  );
  return found.filter((model): model is CachedModel => model !== undefined);
}

/**
 * Deletes a web-llm model's weights, tokenizer, config and model library from browser storage.
 * Accepts a model id, `id@baseUrl` (an {@link engineKey} without its `webllm:` prefix, as the
 * worker passes it) or a full `webllm:` key. Ids sharing weights with it lose them too.
 */
export async function deleteWebLlmCache(
  modelId: string,
  deps: WebLlmCacheDeps = defaultCacheDeps(),
): Promise<void> {
  const bare = modelId.startsWith('webllm:') ? modelId.slice('webllm:'.length) : modelId;
  const at = bare.indexOf('@');
  const id = at < 0 ? bare : bare.slice(0, at);
  const baseUrl = at < 0 ? undefined : bare.slice(at + 1);
  const appConfig = baseUrl ? buildCustomAppConfig(id, baseUrl) : prebuiltAppConfig;
  const record = baseUrl ? appConfig.model_list[0] : findPrebuiltRecord(id);
  if (!record) {
    throw new ModelLoadError(`No web-llm model "${id}" is known, so nothing was deleted.`);
  }
  // web-llm's delete *downloads* tensor-cache.json when it is not cached; skip it then (nothing
  // of the weights can be cached without it, since it is fetched before any shard).
  if (deps.caches) {
    const manifest = await openManifest(webLlmModelFilesUrl(record.model), deps.caches);
    if (manifest === undefined) return;
  }
  await deps.deleteModelAllInfoInCache(id, appConfig);
}

async function openManifest(
  filesUrl: string,
  cacheStorage: CacheStorageLike,
): Promise<Response | undefined> {
  try {
    const cache = await cacheStorage.open(WEBLLM_MODEL_CACHE);
    return await cache.match(new URL('tensor-cache.json', filesUrl).href);
  } catch {
    return undefined;
  }
}

/** Sum of the shard sizes listed in the cached `tensor-cache.json`, if readable. */
async function cachedWeightBytes(
  filesUrl: string,
  cacheStorage: CacheStorageLike | undefined,
): Promise<number | undefined> {
  if (!cacheStorage) return undefined;
  const response = await openManifest(filesUrl, cacheStorage);
  if (!response) return undefined;
  try {
    const manifest = (await response.json()) as { records?: Array<{ nbytes?: unknown }> };
    let total = 0;
    for (const shard of manifest.records ?? []) {
      if (typeof shard.nbytes === 'number') total += shard.nbytes;
    }
    return total > 0 ? total : undefined;
  } catch {
    return undefined;
  }
}
