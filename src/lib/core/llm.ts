/**
 * The one interface the method needs from a language model. Engines (web-llm, wllama, an
 * OpenAI-compatible endpoint, the scripted test double) implement it; core never knows which.
 */

/** A JSON Schema object, as sent to an engine's constrained decoder. */
export type JsonSchema = { [key: string]: unknown };

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

/** Why generation stopped: `length` means max_tokens cut the reply short. */
export type FinishReason = 'stop' | 'length';

export interface ChatRequest {
  messages: ChatMessage[];
  /** When set, the reply must be JSON valid against this schema (constrained decoding). */
  jsonSchema?: JsonSchema;
  /** Upper bound on generated tokens. */
  maxTokens?: number;
  temperature?: number;
  /** Sampling seed, for engines that honour one. */
  seed?: number;
  /** Aborts the request; the engine rejects with {@link AbortedError}. */
  signal?: AbortSignal;
}

export interface ChatResult {
  text: string;
  usage: TokenUsage;
  finishReason: FinishReason;
  /** Wall time of the request in milliseconds, measured by the engine. */
  durationMs: number;
  /**
   * The engine's own split of its time between prompt processing (prefill) and generation
   * (decode), when it reports one (llama.cpp, web-llm). `promptTokens` counts the tokens
   * actually evaluated, which is fewer than sent when a cached prefix was reused.
   */
  timings?: { promptTokens: number; promptMs: number; decodeTokens: number; decodeMs: number };
}

export interface ChatEngine {
  /** Stable id of engine + model, e.g. `webllm:Qwen2.5-0.5B-Instruct-q4f16_1-MLC`; goes into provenance. */
  readonly id: string;
  /** Context window in tokens, used to size prompts and chunks. */
  readonly contextWindow: number;
  /** Runs one chat completion. Engines process one request at a time; see {@link serializeEngine}. */
  chat(request: ChatRequest): Promise<ChatResult>;
}

/** Rough token estimate (≈4 characters per token for English) for sizing before a tokenizer exists. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/**
 * Wraps an engine so that concurrent callers queue: web-llm garbles overlapping requests and
 * llama.cpp has one context, so every engine is driven strictly one request at a time.
 */
export function serializeEngine<E extends ChatEngine>(engine: E): E {
  let tail: Promise<unknown> = Promise.resolve();
  const chat = (request: ChatRequest): Promise<ChatResult> => {
    const run = tail.then(
      () => engine.chat(request),
      () => engine.chat(request),
    );
    tail = run.catch(() => undefined);
    return run;
  };
  return new Proxy(engine, {
    get(target, prop, receiver) {
      if (prop === 'chat') return chat;
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
