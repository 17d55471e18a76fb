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
import {
  estimateTokens,
  type ChatRequest,
  type ChatResult,
  type FinishReason,
  type JsonSchema,
} from '$lib/core/llm';
import type { EngineLoadOptions, LoadedEngine } from './types';

/**
 * Context window assumed when `/models` does not report one. 8192 fits today's small local
 * models (Llama 3.x, Qwen 2.5 and Gemma all train on ≥ 8k) and Ollama's recent default, while
 * staying safe for most servers; prompts are sized against it.
 */
export const DEFAULT_OPENAI_CONTEXT_WINDOW = 8192;

/** `fetch` or a stand-in; called as a plain function (never as a method: browsers' fetch needs `this`). */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

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
type JsonMode = 'json_schema' | 'json_object';

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

/** The OpenAI chat-completions body for a ChatRequest. Exported for tests. */
export function toOpenAiRequest(
  model: string,
  request: ChatRequest,
  jsonMode: JsonMode = 'json_schema',
): Record<string, unknown> {
  let messages: Array<{ role: string; content: string }> = request.messages.map((m) => ({
    role: m.role,
    content: m.content,
  }));
  const body: Record<string, unknown> = { model, messages, stream: false };
  if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.seed !== undefined) body.seed = Math.trunc(request.seed);
  if (request.jsonSchema) {
    if (jsonMode === 'json_schema') {
      body.response_format = {
        type: 'json_schema',
        json_schema: { name: 'reply', schema: request.jsonSchema, strict: true },
      };
    } else {
      // json_object only promises *some* JSON: the model must see the schema. (OpenAI also
      // requires the word "JSON" in the messages for this mode; the instruction supplies it.)
      messages = withSchemaInstruction(messages, request.jsonSchema);
      body.messages = messages;
      body.response_format = { type: 'json_object' };
    }
  }
  return body;
}

function withSchemaInstruction(
  messages: Array<{ role: string; content: string }>,
  schema: JsonSchema,
): Array<{ role: string; content: string }> {
  const instruction = `Reply with only a JSON value that matches this JSON Schema:\n${JSON.stringify(schema)}`;
  const [first, ...rest] = messages;
  // Some chat templates reject a system message anywhere but first: extend the existing one.
  if (first?.role === 'system') {
    return [{ role: 'system', content: `${first.content}\n\n${instruction}` }, ...rest];
  }
  return [{ role: 'system', content: instruction }, ...messages];
}

function toChatResult(
  completion: unknown,
  request: ChatRequest,
  url: string,
  durationMs: number,
): ChatResult {
  const choice = firstChoice(completion);
  if (!choice) {
    throw new EndpointError(`${url} answered without a completion (no "choices" in the reply).`);
  }
  const text = messageText(choice.message);
  const usage = isRecord(completion) && isRecord(completion.usage) ? completion.usage : {};
  const promptTokens =
    typeof usage.prompt_tokens === 'number'
      ? usage.prompt_tokens
      : estimateTokens(request.messages.map((m) => m.content).join('\n'));
  const completionTokens =
    typeof usage.completion_tokens === 'number' ? usage.completion_tokens : estimateTokens(text);
  const finishReason: FinishReason = choice.finish_reason === 'length' ? 'length' : 'stop';
  return { text, usage: { promptTokens, completionTokens }, finishReason, durationMs };
}

function firstChoice(
  completion: unknown,
): { message: unknown; finish_reason: unknown } | undefined {
  if (!isRecord(completion) || !Array.isArray(completion.choices)) return undefined;
  const choice: unknown = completion.choices[0];
  if (!isRecord(choice)) return undefined;
  return { message: choice.message, finish_reason: choice.finish_reason };
}

function messageText(message: unknown): string {
  if (!isRecord(message)) return '';
  const content = message.content;
  if (typeof content === 'string') return content;
  // A few servers return content parts even for text.
  if (Array.isArray(content)) {
    return content
      .map((part) => (isRecord(part) && typeof part.text === 'string' ? part.text : ''))
      .join('');
  }
  return '';
}

// ---------------------------------------------------------------------------------------------
// HTTP plumbing and error messages

function headers(apiKey: string | undefined): Record<string, string> {
  const result: Record<string, string> = { Accept: 'application/json' };
  if (apiKey) result.Authorization = `Bearer ${apiKey}`;
  return result;
}

/**
 * Trims the base URL and drops a trailing slash or a pasted `/chat/completions` or `/models`,
 * so `http://localhost:11434/v1/` and `…/v1/chat/completions` both work.
 */
export function normalizeBaseUrl(baseUrl: string): string {
  const trimmed = baseUrl
    .trim()
    .replace(/\/+$/, '')
    .replace(/\/(chat\/completions|models)$/, '');
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new EndpointError(
      `"${baseUrl}" is not a valid URL. Give the server's API base, e.g. http://localhost:11434/v1 for Ollama or http://localhost:1234/v1 for LM Studio.`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new EndpointError(`"${baseUrl}" must start with http:// or https://.`);
  }
  return trimmed;
}

async function send(fetchImpl: FetchLike, url: string, init: RequestInit): Promise<Response> {
  if (init.signal?.aborted) throw new AbortedError('Generation was cancelled.');
  try {
    return await fetchImpl(url, init);
  } catch (error) {
    if (init.signal?.aborted || isAbort(error)) throw new AbortedError('Generation was cancelled.');
    throw unreachable(url, error);
  }
}

async function readText(
  response: Response,
  url: string,
  signal: AbortSignal | undefined,
): Promise<string> {
  try {
    return await response.text();
  } catch (error) {
    if (signal?.aborted || isAbort(error)) throw new AbortedError('Generation was cancelled.');
    throw new EndpointError(
      `The connection to ${url} broke while reading the reply: ${errorMessage(error)}`,
      response.status,
      { cause: error },
    );
  }
}

function parseJson(text: string, response: Response, url: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const type = response.headers.get('content-type') ?? 'no content type';
    throw new EndpointError(
      `${url} answered with something that is not JSON (${type}: "${snippet(text, 80)}"). Is the base URL right? OpenAI-compatible APIs usually end in /v1.`,
      response.status,
      { cause: error },
    );
  }
}

/**
 * A fetch that rejects without a response. Browsers say only "Failed to fetch" for a stopped
 * server, a DNS failure and a CORS refusal alike, so the message names all likely causes; Node
 * (tests, CLI) gives a cause code, which makes it specific.
 */
function unreachable(url: string, error: unknown): EndpointError {
  const code = causeCode(error);
  const target = new URL(url);
  if (code === 'ECONNREFUSED') {
    return new EndpointError(
      `Could not reach ${url}: connection refused (nothing is listening on ${target.host}). Is the server running?`,
      undefined,
      { cause: error },
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new EndpointError(
      `Could not reach ${url}: the host name "${target.hostname}" could not be resolved (DNS). Check the base URL.`,
      undefined,
      { cause: error },
    );
  }
  const origin = pageOrigin();
  const mixed =
    pageProtocol() === 'https:' && target.protocol === 'http:' && !isLoopback(target.hostname)
      ? ' Also, a page served over https cannot call a plain http server other than localhost (mixed content): use https for it.'
      : '';
  return new EndpointError(
    `Could not reach ${url}: the server is not running, or it does not allow requests from this page (CORS). ` +
      `For Ollama set OLLAMA_ORIGINS=${origin ?? '<this page’s origin>'} (or *) and restart it; ` +
      `for LM Studio enable CORS in the server settings; other servers need an Access-Control-Allow-Origin header for ${origin ?? 'this page'}.` +
      mixed +
      ` (${errorMessage(error)})`,
    undefined,
    { cause: error },
  );
}

interface ErrorContext {
  apiKey: string | undefined;
  model: string;
  phase: 'models' | 'chat';
  availableModels?: readonly string[];
}

function httpError(
  response: Response,
  text: string,
  url: string,
  context: ErrorContext,
): EndpointError {
  const status = response.status;
  const detail = serverMessage(text) || response.statusText || 'no details';
  const host = new URL(url).host;
  let message: string;
  if (status === 401 || status === 403) {
    message = context.apiKey
      ? `The server at ${host} rejected the API key (${status}): ${detail}. Check the key saved for this endpoint in Settings.`
      : `The server at ${host} needs an API key (${status}): ${detail}. Add one for this endpoint in Settings.`;
  } else if (status === 404) {
    message =
      context.phase === 'models'
        ? `${url} was not found (404): ${detail}. The base URL is probably wrong; OpenAI-compatible APIs usually end in /v1 (e.g. http://localhost:11434/v1).`
        : `${url} answered 404: ${detail}. Either the model "${context.model}" is not available on this server` +
          (context.availableModels?.length
            ? ` (it lists ${listForHumans(context.availableModels)})`
            : '') +
          ` — for Ollama run \`ollama pull ${context.model}\` — or the base URL is wrong.`;
  } else if (status === 429) {
    const retry = response.headers.get('retry-after');
    message = `The server at ${host} is rate-limiting requests (429): ${detail}. Wait${retry ? ` ${retry} s` : ''} and try again, or lower the request rate.`;
  } else if (status >= 500) {
    message = `The server at ${host} failed (${status}): ${detail}.`;
  } else {
    message = `The server at ${host} rejected the request (${status}): ${detail}.`;
  }
  return new EndpointError(message, status);
}

/** The human part of an error body: OpenAI `{error:{message}}`, `{error:"…"}`, FastAPI `{detail}`, or text. */
function serverMessage(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return '';
  try {
    const body: unknown = JSON.parse(trimmed);
    if (isRecord(body)) {
      const error = body.error;
      if (isRecord(error) && typeof error.message === 'string') return snippet(error.message, 300);
      if (typeof error === 'string') return snippet(error, 300);
      if (typeof body.message === 'string') return snippet(body.message, 300);
      if (typeof body.detail === 'string') return snippet(body.detail, 300);
      if (Array.isArray(body.detail)) return snippet(JSON.stringify(body.detail), 300);
    }
  } catch {
    // not JSON: use the text itself
  }
  return snippet(trimmed, 300);
}

// ---------------------------------------------------------------------------------------------
// /models parsing

interface ModelEntry {
  id: string;
  raw: Record<string, unknown>;
}

/** Entries of an OpenAI `{data:[{id}]}` listing (also accepts Ollama-style `{models:[{name}]}`). */
function modelEntries(listing: unknown): ModelEntry[] {
  if (!isRecord(listing)) return [];
  const list = Array.isArray(listing.data)
    ? listing.data
    : Array.isArray(listing.models)
      ? listing.models
      : [];
  const entries: ModelEntry[] = [];
  for (const item of list) {
    if (!isRecord(item)) continue;
    const id =
      typeof item.id === 'string' ? item.id : typeof item.name === 'string' ? item.name : '';
    if (id) entries.push({ id, raw: item });
  }
  return entries;
}

/** Ollama lists `llama3.2:latest` for a model requested as `llama3.2`; ids are case-insensitive enough. */
function sameModel(listed: string, wanted: string): boolean {
  const a = listed.toLowerCase();
  const b = wanted.toLowerCase();
  return a === b || a === `${b}:latest` || `${a}:latest` === b;
}

/**
 * The context window a `/models` entry reports, runtime values first: vLLM `max_model_len`,
 * LM Studio `loaded_context_length`, llama.cpp `meta.n_ctx`, then `context_length`
 * (OpenRouter, LM Studio), `context_window`, `max_context_length`, and llama.cpp's
 * `meta.n_ctx_train` (the trained maximum: the server may run with less).
 */
export function readContextWindow(entry: Record<string, unknown>): number | undefined {
  const meta = isRecord(entry.meta) ? entry.meta : {};
  const candidates = [
    entry.max_model_len,
    entry.loaded_context_length,
    meta.n_ctx,
    entry.context_length,
    entry.context_window,
    entry.max_context_length,
    meta.n_ctx_train,
  ];
  for (const value of candidates) {
    if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// small helpers

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'AbortedError');
}

/** Node's fetch (undici) puts the socket error code on `cause`. */
function causeCode(error: unknown): string | undefined {
  const cause = error instanceof Error ? (error.cause as unknown) : undefined;
  if (isRecord(cause) && typeof cause.code === 'string') return cause.code;
  if (cause instanceof Error && 'code' in cause && typeof cause.code === 'string')
    return cause.code;
  return undefined;
}

function pageOrigin(): string | undefined {
  const origin = (globalThis as { location?: { origin?: unknown } }).location?.origin;
  return typeof origin === 'string' && origin !== 'null' ? origin : undefined;
}

function pageProtocol(): string | undefined {
  const protocol = (globalThis as { location?: { protocol?: unknown } }).location?.protocol;
  return typeof protocol === 'string' ? protocol : undefined;
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\./.test(hostname);
}

function snippet(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function listForHumans(ids: readonly string[]): string {
  if (ids.length === 0) return 'no models';
  const shown = ids.slice(0, 8).join(', ');
  return ids.length > 8 ? `${shown} and ${ids.length - 8} more` : shown;
}

/** setTimeout as a promise that rejects with AbortedError when `signal` aborts. */
function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortedError('Generation was cancelled.'));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError('Generation was cancelled.'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
