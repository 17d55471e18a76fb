/**
 * Engine factory: the only door from the worker to engine packages. Each engine module is
 * imported dynamically so that web-llm (~6 MB) and wllama load only when first used, and only
 * in the worker chunk.
 */
import type { EngineConfig } from '$lib/core/engine-config';
import type { CachedModel, EngineLoadOptions, LoadedEngine } from './types';

export async function loadEngine(
  config: EngineConfig,
  options: EngineLoadOptions,
): Promise<LoadedEngine> {
  switch (config.kind) {
    case 'webllm': {
      const { createWebLlmEngine } = await import('./webllm-engine');
      return createWebLlmEngine(config, options);
    }
    case 'wllama': {
      const { createWllamaEngine } = await import('./wllama-engine');
      const file =
        config.source.type === 'local'
          ? await (await import('./local-models')).openLocalModel(config.source.fileName)
          : undefined;
      return createWllamaEngine(config, { ...options, file });
    }
    case 'openai': {
      const { createOpenAiEngine } = await import('./openai-engine');
      return createOpenAiEngine(config, options);
    }
  }
}

/** Every model kept in browser storage by web-llm or wllama, with its size where known. */
export async function listCachedModels(): Promise<CachedModel[]> {
  const [webllm, wllama] = await Promise.all([
    import('./webllm-cache').then((m) => m.listWebLlmCache()),
    import('./local-models').then((m) => m.listWllamaModels()),
  ]);
  return [...webllm, ...wllama];
}

export async function deleteCachedModel(key: string): Promise<void> {
  if (key.startsWith('webllm:')) {
    const { deleteWebLlmCache } = await import('./webllm-cache');
    await deleteWebLlmCache(key.slice('webllm:'.length));
  } else {
    const { deleteWllamaModel } = await import('./local-models');
    await deleteWllamaModel(key);
  }
}
