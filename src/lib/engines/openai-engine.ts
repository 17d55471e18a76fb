/**
 * An OpenAI-compatible HTTP endpoint (Ollama, LM Studio, llama.cpp server, vLLM, hosted APIs)
 * as a {@link LoadedEngine}. Plain `fetch`, no SDK: the request is small and the error cases
 * (CORS, wrong base URL, API key) need messages written for this app's users.
 */
import { concurrencyOf, engineKey, replicaUrls, type OpenAiConfig } from '$lib/core/engine-config';
import {
  backoffDelay,
  DEFAULT_ENDPOINT_POLICY,
  parseRetryAfter,
  ReplicaPool,
  throttleDelay,
  type EndpointPolicy,
  type ReplicaStatus,
} from '$lib/core/endpoint-policy';
import {
  AbortedError,
  EndpointError,
  EndpointsDownError,
  NoModelLoadedError,
  errorMessage,
} from '$lib/core/errors';
import type { ChatRequest, ChatResult } from '$lib/core/llm';
import type { EngineLoadOptions, LoadedEngine } from './types';
import {
  abortableSleep,
  headers,
  httpError,
  listForHumans,
  modelEntries,
  normalizeBaseUrl,
  parseJson,
  readContextWindow,
  readText,
  sameModel,
  send,
  toChatResult,
  toOpenAiRequest,
  type FetchLike,
  type JsonMode,
} from './openai-protocol';

export { normalizeBaseUrl, readContextWindow, toOpenAiRequest, type FetchLike };

/**
 * Context window assumed when `/models` does not report one. 8192 fits today's small local
 * models (Llama 3.x, Qwen 2.5 and Gemma all train on ≥ 8k) and Ollama's recent default, while
 * staying safe for most servers; prompts are sized against it.
 */
export const DEFAULT_OPENAI_CONTEXT_WINDOW = 8192;

/** `fetch` or a stand-in; called as a plain function (never as a method: browsers' fetch needs `this`). */

/** Time, chance and the retry policy, injectable so tests run storms without waiting. */
export interface EndpointRuntime {
  now(): number;
  random(): number;
  /** Waits `ms`; rejects with AbortedError when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  policy: EndpointPolicy;
}

export const DEFAULT_RUNTIME: EndpointRuntime = {
  now: () => Date.now(),
  random: () => Math.random(),
  sleep: abortableSleep,
  policy: DEFAULT_ENDPOINT_POLICY,
};

/** How the engine asks for JSON; downgraded once if the server rejects `json_schema`. */

/** An endpoint engine, with what the server said about its models at load time. */
export interface OpenAiEngine extends LoadedEngine {
  readonly config: OpenAiConfig;
  /** Model ids the server listed at load time (may be empty). */
  readonly availableModels: readonly string[];
  /**
   * False when the server's list did not include `config.model`. Loading still succeeds:
   * servers name models differently (Ollama's `llama3.2` is listed as `llama3.2:latest`, some
   * proxies list nothing or load models on demand), and a wrong name fails clearly (404) on
   * the first request anyway.
   */
  readonly modelListed: boolean;
  /** Each replica's health and load, for the Models screen. */
  replicaStatus(): ReplicaStatus[];
}

/**
 * Connects to an OpenAI-compatible endpoint: GET `{baseUrl}/models` proves the server is
 * reachable, accepts the API key and (usually) serves the model; its entry gives the context
 * window when the server reports one (`max_model_len`, `context_length`, `meta.n_ctx_train`, …),
 * else {@link DEFAULT_OPENAI_CONTEXT_WINDOW}.
 *
 * A 404 from `/models` is fatal: it nearly always means a wrong base URL (missing `/v1`).
 *
 * @throws {EndpointError} unreachable (not running, CORS, DNS), 401/403, 404, 429, 5xx, non-JSON.
 * @throws {AbortedError} `options.signal` aborted.
 */
export async function createOpenAiEngine(
  config: OpenAiConfig,
  options: EngineLoadOptions = {},
  fetchImpl: FetchLike = fetch,
  runtime: Partial<EndpointRuntime> = {},
): Promise<OpenAiEngine> {
  const rt: EndpointRuntime = { ...DEFAULT_RUNTIME, ...runtime };
  const urls = replicaUrls(config).map(normalizeBaseUrl);
  const [baseUrl = ''] = urls;
  const { signal, onProgress, apiKey } = options;
  onProgress?.({
    fraction: 0,
    text: urls.length > 1 ? `Connecting to ${urls.length} replicas…` : `Connecting to ${baseUrl}…`,
  });

  // Every replica is asked at once. One that cannot be reached is set aside (the rest serve);
  // one that answers with an error (wrong key, wrong path) fails the load: a setup mistake.
  type Answer = { url: string; response: Response; text: string } | { url: string; error: unknown };
  const answers = await Promise.all(
    urls.map(async (base): Promise<Answer> => {
      const url = `${base}/models`;
      try {
        const response = await send(fetchImpl, url, {
          method: 'GET',
          headers: headers(apiKey),
          signal,
        });
        return { url, response, text: await readText(response, url, signal) };
      } catch (error) {
        if (error instanceof AbortedError) throw error;
        return { url, error };
      }
    }),
  );
  const reached = answers.flatMap((a) => ('response' in a ? [a] : []));
  const first = reached[0];
  if (!first) {
    const errors = answers.flatMap((a) => ('error' in a ? [a.error] : []));
    const [firstError = new EndpointError('No base URL given.')] = errors;
    // Nothing answers at all (no HTTP status): down, not misconfigured. A run that loads the
    // engine now (e.g. resumed after a reload) pauses on this instead of failing its tasks.
    if (errors.every((e) => e instanceof EndpointError && e.status === undefined)) {
      const detail = errorMessage(firstError);
      throw new EndpointsDownError(
        urls.length === 1 ? detail : `None of the ${urls.length} replicas answers. ${detail}`,
        rt.now() + rt.policy.setAside.coolDownMs,
        { cause: firstError },
      );
    }
    throw firstError;
  }
  for (const { response, text, url } of reached) {
    if (!response.ok)
      throw httpError(response, text, url, { apiKey, model: config.model, phase: 'models' });
  }
  const { response, text, url } = first;
  const listing = parseJson(text, response, url);
  const entries = modelEntries(listing);
  const availableModels = entries.map((entry) => entry.id);
  const entry = entries.find((candidate) => sameModel(candidate.id, config.model));
  const modelListed = entries.length === 0 || entry !== undefined;
  // What the user set on the form wins: many servers (Ollama) report the training context, not
  // the one they allocate.
  const contextWindow =
    config.contextSize ?? (entry && readContextWindow(entry.raw)) ?? DEFAULT_OPENAI_CONTEXT_WINDOW;

  const pool = new ReplicaPool(urls, rt.policy.setAside, rt.now);
  const down: string[] = [];
  answers.forEach((a, i) => {
    if ('error' in a) {
      pool.setAside(i, errorMessage(a.error));
      down.push(new URL(a.url).host);
    }
  });
  const host = new URL(first.url).host;
  const where =
    urls.length > 1
      ? `${reached.length} of ${urls.length} replicas${down.length ? ` (set aside, unreachable: ${down.join(', ')})` : ''}`
      : host;
  onProgress?.({
    fraction: 1,
    text: modelListed
      ? `Connected to ${where}.`
      : `Connected to ${where}, but it does not list "${config.model}" (it lists ${listForHumans(availableModels)}). Requests will name it anyway; check the model name if they fail.`,
  });
  const replicas = urls.slice(1);
  return new OpenAiEndpointEngine(
    { ...config, baseUrl, ...(replicas.length ? { replicas } : {}) },
    fetchImpl,
    apiKey,
    contextWindow,
    availableModels,
    modelListed,
    pool,
    rt,
  );
}

class OpenAiEndpointEngine implements OpenAiEngine {
  readonly id: string;
  /** The endpoint's `concurrency` setting: the worker keeps up to this many requests in flight. */
  get maxConcurrency(): number {
    return concurrencyOf(this.config);
  }
  #fetch: FetchLike;
  #apiKey: string | undefined;
  #jsonMode: JsonMode = 'json_schema';
  #unloaded = false;
  #pool: ReplicaPool;
  #rt: EndpointRuntime;

  constructor(
    readonly config: OpenAiConfig,
    fetchImpl: FetchLike,
    apiKey: string | undefined,
    readonly contextWindow: number,
    readonly availableModels: readonly string[],
    readonly modelListed: boolean,
    pool: ReplicaPool,
    runtime: EndpointRuntime,
  ) {
    this.id = engineKey(config);
    this.#fetch = fetchImpl;
    this.#apiKey = apiKey;
    this.#pool = pool;
    this.#rt = runtime;
  }

  replicaStatus(): ReplicaStatus[] {
    return this.#pool.status();
  }

  async chat(request: ChatRequest): Promise<ChatResult> {
    if (this.#unloaded) {
      throw new NoModelLoadedError(`${this.config.model} at ${this.config.baseUrl} was unloaded.`);
    }
    const { signal, jsonSchema } = request;
    if (signal?.aborted) throw new AbortedError('Generation was cancelled.');
    const started = performance.now();
    const path = '/chat/completions';

    let mode = this.#jsonMode;
    let { response, text, url } = await this.#post(
      path,
      toOpenAiRequest(this.config.model, request, mode),
      signal,
    );
    // Fallback: servers without structured outputs (older Ollama/LM Studio, some proxies) answer
    // 400 to json_schema. Retry once with json_object plus the schema in the prompt; if that works,
    // use it for every later request to this engine.
    if (response.status === 400 && jsonSchema && mode === 'json_schema') {
      mode = 'json_object';
      ({ response, text, url } = await this.#post(
        path,
        toOpenAiRequest(this.config.model, request, mode),
        signal,
      ));
      if (response.ok) this.#jsonMode = mode;
    }
    if (!response.ok) {
      throw httpError(response, text, url, {
        apiKey: this.#apiKey,
        model: this.config.model,
        phase: 'chat',
        availableModels: this.availableModels,
      });
    }
    const completion = parseJson(text, response, url);
    return toChatResult(completion, request, url, performance.now() - started);
  }

  async unload(): Promise<void> {
    // Nothing to free on our side; the server keeps its model.
    this.#unloaded = true;
  }

  /**
   * POSTs to `path` on a replica the pool chooses, riding out back-pressure and failures (see
   * core/endpoint-policy.ts): 429/503 wait and retry without limit (Pause and Cancel abort the
   * wait); no connection, or a proxy's 502/504, retries with backoff until every replica is set
   * aside, then throws {@link EndpointsDownError}. Any other reply is returned, errors included.
   */
  async #post(path: string, body: unknown, signal: AbortSignal | undefined) {
    const { backoff } = this.#rt.policy;
    const init: RequestInit = {
      method: 'POST',
      headers: { ...headers(this.#apiKey), 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      signal,
    };
    let failures = 0;
    let throttles = 0;
    for (;;) {
      if (signal?.aborted) throw new AbortedError('Generation was cancelled.');
      const choice = this.#pool.pick();
      if (choice.kind === 'down') throw this.#downError(choice.until);
      if (choice.kind === 'wait') {
        await this.#rt.sleep(Math.max(0, choice.until - this.#rt.now()), signal);
        continue;
      }
      const { index } = choice;
      const url = `${this.#pool.url(index)}${path}`;
      let response: Response;
      let text: string;
      try {
        response = await send(this.#fetch, url, init);
        text = await readText(response, url, signal);
      } catch (error) {
        this.#pool.finish(index);
        if (error instanceof AbortedError) throw error;
        await this.#afterFailure(index, errorMessage(error), failures++, signal);
        continue;
      }
      this.#pool.finish(index);
      const status = response.status;
      if (status === 429 || status === 503) {
        const now = this.#rt.now();
        const retryAfter = parseRetryAfter(response.headers.get('retry-after'), now);
        const delay = throttleDelay(throttles++, retryAfter, this.#rt.random, backoff);
        // The replica is held for every request as long as the server asked; this request also
        // waits its own jittered delay, so requests throttled together do not return together.
        if (retryAfter !== undefined)
          this.#pool.throttled(index, now + Math.min(retryAfter, backoff.maxRetryAfterMs));
        await this.#rt.sleep(delay, signal);
        continue;
      }
      if (status === 502 || status === 504) {
        // A gateway that cannot reach the server behind it: the replica is down, not busy.
        const error = httpError(response, text, url, {
          apiKey: this.#apiKey,
          model: this.config.model,
          phase: 'chat',
        });
        await this.#afterFailure(index, error.message, failures++, signal);
        continue;
      }
      this.#pool.succeeded(index);
      return { response, text, url };
    }
  }

  /**
   * Records a failure; backs off before the retry unless the replica was just set aside (the
   * retry then goes to another replica, or finds every replica down, at once).
   */
  async #afterFailure(
    index: number,
    message: string,
    attempt: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    if (this.#pool.failed(index, message)) return;
    await this.#rt.sleep(backoffDelay(attempt, this.#rt.random, this.#rt.policy.backoff), signal);
  }

  #downError(until: number): EndpointsDownError {
    const replicas = this.#pool.status();
    const last = replicas.find((r) => r.lastError)?.lastError;
    const which =
      replicas.length === 1
        ? `The endpoint ${replicas[0]?.url ?? ''} is`
        : `All ${replicas.length} replicas of this endpoint are`;
    const rule = this.#rt.policy.setAside.failuresToSetAside;
    return new EndpointsDownError(
      `${which} set aside after failing ${rule} times in a row${last ? ` (last error: ${last})` : ''}. The next try is at ${new Date(until).toLocaleTimeString()}.`,
      until,
    );
  }
}
