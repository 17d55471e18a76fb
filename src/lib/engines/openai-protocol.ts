/**
 * The OpenAI chat-completions wire format and its failures, for the endpoint engine: request
 * bodies (JSON schema or JSON mode), replies (text, finish reason, usage), `/models` listings,
 * and HTTP and network errors turned into messages this app's users can act on (CORS, a wrong
 * base URL, a missing key).
 */
import { AbortedError, EndpointError, errorMessage } from '$lib/core/errors';
import {
  estimateTokens,
  type ChatRequest,
  type ChatResult,
  type FinishReason,
  type JsonSchema,
  type PrefillCount,
} from '$lib/core/llm';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;
/** How the server is asked for JSON: a schema, or (servers without schema support) JSON mode. */
export type JsonMode = 'json_schema' | 'json_object';

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

export function toChatResult(
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
  const prefill =
    typeof usage.prompt_tokens === 'number' ? prefillOf(completion, promptTokens) : undefined;
  return {
    text,
    usage: { promptTokens, completionTokens, ...(prefill && { prefill }) },
    finishReason,
    durationMs,
  };
}

/**
 * Prompt tokens the server evaluated anew, when it says (issue 13 §2): OpenAI-style
 * `usage.prompt_tokens_details.cached_tokens` (vLLM with prefix caching, OpenAI, recent
 * llama-server), else llama-server's `timings.prompt_n`. Undefined when the reply has neither.
 */
function prefillOf(completion: unknown, sent: number): PrefillCount | undefined {
  if (!isRecord(completion)) return undefined;
  const usage = isRecord(completion.usage) ? completion.usage : {};
  const details = isRecord(usage.prompt_tokens_details) ? usage.prompt_tokens_details : {};
  const timings = isRecord(completion.timings) ? completion.timings : {};
  const evaluated =
    typeof details.cached_tokens === 'number'
      ? sent - details.cached_tokens
      : typeof timings.prompt_n === 'number'
        ? timings.prompt_n
        : undefined;
  if (evaluated === undefined || !Number.isFinite(evaluated)) return undefined;
  return { sent, evaluated: Math.max(0, Math.min(sent, evaluated)) };
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

export function headers(apiKey: string | undefined): Record<string, string> {
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

export async function send(
  fetchImpl: FetchLike,
  url: string,
  init: RequestInit,
): Promise<Response> {
  if (init.signal?.aborted) throw new AbortedError('Generation was cancelled.');
  try {
    return await fetchImpl(url, init);
  } catch (error) {
    if (init.signal?.aborted || isAbort(error)) throw new AbortedError('Generation was cancelled.');
    throw unreachable(url, error);
  }
}

export async function readText(
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

export function parseJson(text: string, response: Response, url: string): unknown {
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

export function httpError(
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
export function modelEntries(listing: unknown): ModelEntry[] {
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
export function sameModel(listed: string, wanted: string): boolean {
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

export function listForHumans(ids: readonly string[]): string {
  if (ids.length === 0) return 'no models';
  const shown = ids.slice(0, 8).join(', ');
  return ids.length > 8 ? `${shown} and ${ids.length - 8} more` : shown;
}

/** setTimeout as a promise that rejects with AbortedError when `signal` aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
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
