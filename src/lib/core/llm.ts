/**
 * The one interface the method needs from a language model. Engines (web-llm, wllama, an
 * OpenAI-compatible endpoint, the scripted test double) implement it; core never knows which.
 */
import { AbortedError } from './errors';

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
  /**
   * Prompt reuse (issue 13 §2), over the calls whose engine reports how many prompt tokens it
   * actually evaluated (llama.cpp and wllama reuse the longest matching prefix of their KV cache;
   * vLLM's prefix cache reports cached tokens): `sent` = those calls' prompt tokens, `evaluated`
   * = the part computed anew. Absent when no call reported it (e.g. a scripted engine, a server
   * that does not say); older stored usage has none.
   */
  prefill?: PrefillCount;
}

/** Prompt tokens sent and actually evaluated (the rest came from a reused KV-cache prefix). */
export interface PrefillCount {
  sent: number;
  evaluated: number;
}

/** The sum of two usages; `prefill` is summed over the sides that have it. */
export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  const sum: TokenUsage = {
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
  };
  if (a.prefill || b.prefill)
    sum.prefill = {
      sent: (a.prefill?.sent ?? 0) + (b.prefill?.sent ?? 0),
      evaluated: (a.prefill?.evaluated ?? 0) + (b.prefill?.evaluated ?? 0),
    };
  return sum;
}

/**
 * A call's usage with its prefill count: the engine's own `usage.prefill` when it set one, else
 * from `timings.promptTokens` (the tokens llama.cpp evaluated), capped at the tokens sent.
 */
export function usageOfResult(result: ChatResult): TokenUsage {
  const { promptTokens, completionTokens, prefill } = result.usage;
  const usage: TokenUsage = { promptTokens, completionTokens };
  if (prefill)
    usage.prefill = { sent: prefill.sent, evaluated: Math.min(prefill.evaluated, prefill.sent) };
  else if (result.timings && promptTokens > 0)
    usage.prefill = {
      sent: promptTokens,
      evaluated: Math.max(0, Math.min(result.timings.promptTokens, promptTokens)),
    };
  return usage;
}

/** `evaluated ÷ sent` of a usage's prefill count, or undefined when nothing was reported. */
export function evaluatedShare(usage: TokenUsage): number | undefined {
  const p = usage.prefill;
  return p && p.sent > 0 ? p.evaluated / p.sent : undefined;
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
  /**
   * Most requests the engine serves at once (a batching server); absent means 1. In-browser
   * engines (web-llm, wllama) stay at 1; an OpenAI-compatible endpoint takes it from its
   * `concurrency` setting. The worker queues requests beyond it (see {@link limitConcurrency}).
   */
  readonly maxConcurrency?: number;
  /** Runs one chat completion. Callers queue beyond `maxConcurrency`; see {@link limitConcurrency}. */
  chat(request: ChatRequest): Promise<ChatResult>;
}

/** Rough token estimate (≈4 characters per token for English) for sizing before a tokenizer exists. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** An engine wrapped by {@link limitConcurrency}: its limit can change while it is loaded. */
export type ConcurrencyLimited<E extends ChatEngine> = E & {
  /** The current limit. */
  readonly maxConcurrency: number;
  /** Changes the limit; queued requests start at once if the new limit allows. */
  setConcurrency(limit: number): void;
};

/**
 * Wraps an engine so that at most `limit` requests reach it at once; the rest queue and start in
 * call order as slots free up. web-llm garbles overlapping requests and llama.cpp-in-WASM has one
 * context, so in-browser engines run with 1; a batching server takes several. A queued request
 * whose signal aborts leaves the queue at once.
 */
export function limitConcurrency<E extends ChatEngine>(
  engine: E,
  limit: number,
): ConcurrencyLimited<E> {
  let max = Math.max(1, Math.floor(limit));
  let active = 0;
  const waiting: Array<() => void> = [];
  const pump = () => {
    while (active < max && waiting.length) waiting.shift()?.();
  };
  const chat = (request: ChatRequest): Promise<ChatResult> =>
    new Promise<ChatResult>((resolve, reject) => {
      const { signal } = request;
      const start = () => {
        signal?.removeEventListener('abort', onAbort);
        active++;
        // Called inside the promise: a synchronous throw from the engine rejects this request.
        new Promise<ChatResult>((r) => r(engine.chat(request)))
          .then(resolve, reject)
          .finally(() => {
            active--;
            pump();
          });
      };
      function onAbort() {
        const i = waiting.indexOf(start);
        if (i >= 0) waiting.splice(i, 1);
        reject(new AbortedError());
      }
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      waiting.push(start);
      pump();
    });
  const setConcurrency = (next: number) => {
    max = Math.max(1, Math.floor(next));
    pump();
  };
  return new Proxy(engine, {
    get(target, prop, receiver) {
      if (prop === 'chat') return chat;
      if (prop === 'setConcurrency') return setConcurrency;
      if (prop === 'maxConcurrency') return max;
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as ConcurrencyLimited<E>;
}

/** An engine driven strictly one request at a time: {@link limitConcurrency} with 1. */
export function serializeEngine<E extends ChatEngine>(engine: E): E {
  return limitConcurrency(engine, 1);
}

/**
 * "x of y sent (z %)": the prompt tokens an engine evaluated out of those sent, as the Generate
 * run view shows them. The percentage is whole, and never rounds a partial reuse to 100 % or 0 %.
 */
export function describePrefill(prefill: PrefillCount): string {
  const { evaluated, sent } = prefill;
  const exact = sent > 0 ? (evaluated / sent) * 100 : 0;
  const pct =
    evaluated > 0 && evaluated < sent
      ? Math.min(99, Math.max(1, Math.round(exact)))
      : Math.round(exact);
  return `${evaluated.toLocaleString('en')} of ${sent.toLocaleString('en')} sent (${pct} %)`;
}
