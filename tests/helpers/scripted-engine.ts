/**
 * The scripted engine: a {@link ChatEngine} test double that answers from a script instead of a
 * model. It lives in `tests/` and is never shipped.
 *
 * It records every request, counts tokens, can charge a fixed time per token (on a fake or a
 * real clock), honours `signal`, and notices overlapping calls so tests can prove that callers
 * drive an engine strictly one request at a time.
 *
 * @example
 * ```ts
 * const engine = new ScriptedEngine(['not json', '{"ok":true}']);
 * const result = await chatJson(engine, { messages }, schema);
 * expect(engine.calls).toBe(2);
 * expect(engine.requests[1]?.messages.at(-1)?.content).toContain('not JSON');
 * ```
 */
import { AbortedError } from '$lib/core/errors';
import {
  estimateTokens,
  type ChatEngine,
  type ChatMessage,
  type ChatRequest,
  type ChatResult,
  type FinishReason,
  type JsonSchema,
  type TokenUsage,
} from '$lib/core/llm';

/** One scripted reply. An `Error` makes `chat` reject with it (after the call is recorded). */
export type ScriptReply =
  | string
  | {
      text: string;
      finishReason?: FinishReason;
      usage?: Partial<TokenUsage>;
      /** The engine's own prefill/decode split, as llama.cpp and web-llm report it. */
      timings?: ChatResult['timings'];
    }
  | Error;

/** Computes the reply for call number `callIndex` (0-based), given the request as sent. */
export type ScriptFunction = (
  request: ChatRequest,
  callIndex: number,
) => ScriptReply | Promise<ScriptReply>;

/** Either the replies in call order, or a function of the request. */
export type Script = readonly ScriptReply[] | ScriptFunction;

/** What the engine saw of one request (a deep copy: later mutation by the caller is not seen). */
export interface RecordedRequest {
  messages: ChatMessage[];
  jsonSchema?: JsonSchema;
  maxTokens?: number;
  temperature?: number;
  seed?: number;
  /** Whether the caller passed an AbortSignal. */
  hadSignal: boolean;
}

/** Time source and waiting, injectable so benchmarks can run on a fake clock. */
export interface EngineTiming {
  /** Milliseconds now; default `Date.now`. */
  clock?: () => number;
  /**
   * Waits `ms` milliseconds; default a real `setTimeout`. Receives the request's signal so a
   * real wait can end early; the engine also races it against the signal itself.
   */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface ScriptedEngineOptions extends EngineTiming {
  /** Engine id for provenance; default `scripted:test`. */
  id?: string;
  /** Context window in tokens; default 4096. */
  contextWindow?: number;
  /** Time charged per completion token, in ms; default 0 (no waiting at all). */
  msPerToken?: number;
  /** Time charged per prompt token, in ms (prefill); default 0. */
  msPerPromptToken?: number;
  /**
   * Imitates a real engine's `max_tokens`: a reply longer than `request.maxTokens` tokens is cut
   * to that many tokens (≈4 characters each) and finishes with `length`. Default false.
   */
  truncateAtMaxTokens?: boolean;
  /**
   * A random extra wait per call, up to this many ms (seeded by `jitterSeed`), on the engine's
   * `sleep`: replies of overlapping calls then arrive in a different order on every run, as a
   * server's would. Default 0.
   */
  jitterMs?: number;
  /** Seed of the jitter; default 1. */
  jitterSeed?: number;
  /**
   * Imitates llama-server's prompt cache (`cache_prompt`; wllama keeps 4 slots) with this many
   * slots: a request goes to the slot whose cached prompt shares the longest prefix with it (else
   * the least recently used one) and its reply reports `timings.promptTokens` = the prompt tokens
   * NOT in that prefix (≈ 4 characters per token of the messages' text joined in order). 1 = a
   * single KV cache (the previous request only). Default 0: no timings.
   */
  prefixCacheSlots?: number;
}

/** A scripted list ran out: the code under test made more calls than the test expected. */
export class ScriptExhaustedError extends Error {
  constructor(calls: number) {
    super(`The scripted engine has no reply for call #${calls + 1} (script has ${calls}).`);
    this.name = 'ScriptExhaustedError';
  }
}

/** A scripted {@link ChatEngine}; see the module comment. */
export class ScriptedEngine implements ChatEngine {
  readonly id: string;
  readonly contextWindow: number;
  /** Every request in the order `chat` was called, including ones that failed or were aborted. */
  readonly requests: RecordedRequest[] = [];
  /** Every successful result, in completion order. */
  readonly results: ChatResult[] = [];
  /** Prompt tokens of every successful call. */
  promptTokens = 0;
  /** Completion tokens of every successful call. */
  completionTokens = 0;
  /** Calls currently in flight. */
  active = 0;
  /** The most calls ever in flight at once: 1 proves the caller serialised them. */
  maxConcurrent = 0;

  readonly #script: Script;
  readonly #options: ScriptedEngineOptions;
  readonly #clock: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #jitter: () => number;

  constructor(script: Script, options: ScriptedEngineOptions = {}) {
    this.#script = script;
    this.#options = options;
    this.id = options.id ?? 'scripted:test';
    this.contextWindow = options.contextWindow ?? 4096;
    this.#clock = options.clock ?? Date.now;
    this.#sleep = options.sleep ?? realSleep;
    this.#jitter = seededRandom(options.jitterSeed ?? 1);
  }

  /** Number of `chat` calls so far (the next call's index). */
  get calls(): number {
    return this.requests.length;
  }

  /** True when two calls were ever in flight at the same time. */
  get overlapped(): boolean {
    return this.maxConcurrent > 1;
  }

  async chat(request: ChatRequest): Promise<ChatResult> {
    const callIndex = this.requests.length;
    this.requests.push(record(request));
    this.active++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.active);
    try {
      throwIfAborted(request.signal);
      const started = this.#clock();
      // Always yield at least once, so callers that do not queue really do overlap here.
      const reply = await this.#reply(request, callIndex);
      throwIfAborted(request.signal);
      const jitter = (this.#options.jitterMs ?? 0) * this.#jitter();
      if (jitter > 0) await raceAbort(this.#sleep(jitter, request.signal), request.signal);
      throwIfAborted(request.signal);
      if (reply instanceof Error) throw reply;
      const shaped = this.#shape(reply, request);
      const cost =
        shaped.usage.promptTokens * (this.#options.msPerPromptToken ?? 0) +
        shaped.usage.completionTokens * (this.#options.msPerToken ?? 0);
      if (cost > 0) await raceAbort(this.#sleep(cost, request.signal), request.signal);
      throwIfAborted(request.signal);
      const result: ChatResult = { ...shaped, durationMs: this.#clock() - started };
      this.promptTokens += result.usage.promptTokens;
      this.completionTokens += result.usage.completionTokens;
      this.results.push(result);
      return result;
    } finally {
      this.active--;
    }
  }

  async #reply(request: ChatRequest, callIndex: number): Promise<ScriptReply> {
    if (typeof this.#script === 'function') return await this.#script(request, callIndex);
    if (callIndex >= this.#script.length) throw new ScriptExhaustedError(this.#script.length);
    return await (this.#script[callIndex] as ScriptReply);
  }

  #shape(reply: Exclude<ScriptReply, Error>, request: ChatRequest): Omit<ChatResult, 'durationMs'> {
    const step = typeof reply === 'string' ? { text: reply } : reply;
    let text = step.text;
    let finishReason: FinishReason = step.finishReason ?? 'stop';
    const limit = request.maxTokens;
    if (this.#options.truncateAtMaxTokens && limit !== undefined && estimateTokens(text) > limit) {
      text = text.slice(0, limit * 4);
      finishReason = 'length';
    }
    const usage: TokenUsage = {
      promptTokens: step.usage?.promptTokens ?? promptTokensOf(request.messages),
      completionTokens: step.usage?.completionTokens ?? estimateTokens(text),
    };
    const timings =
      step.timings ?? (this.#options.prefixCacheSlots ? this.#cached(request, usage) : undefined);
    return { text, usage, finishReason, ...(timings && { timings }) };
  }

  /** Cached prompts, least recently used first (see `prefixCacheSlots`). */
  #slots: string[] = [];

  /** The prefix-cache timings of a request (see `prefixCacheSlots`); the request fills its slot. */
  #cached(request: ChatRequest, usage: TokenUsage): ChatResult['timings'] {
    const prompt = request.messages.map((m) => `${m.role}\n${m.content}`).join('\n');
    const common = (cached: string) => {
      let n = 0;
      const limit = Math.min(prompt.length, cached.length);
      while (n < limit && prompt.charCodeAt(n) === cached.charCodeAt(n)) n++;
      return n;
    };
    let best = -1;
    let shared = 0;
    this.#slots.forEach((cached, i) => {
      const n = common(cached);
      if (n > shared) [best, shared] = [i, n];
    });
    const slots = this.#options.prefixCacheSlots ?? 1;
    if (best >= 0) this.#slots.splice(best, 1);
    else if (this.#slots.length >= slots) this.#slots.shift();
    this.#slots.push(prompt);
    const evaluated = Math.max(0, usage.promptTokens - Math.floor(shared / 4));
    return {
      promptTokens: evaluated,
      promptMs: 0,
      decodeTokens: usage.completionTokens,
      decodeMs: 0,
    };
  }
}

/** Prompt tokens as the scripted engine counts them: the estimate of each message, summed. */
export function promptTokensOf(messages: readonly ChatMessage[]): number {
  return messages.reduce((sum, m) => sum + estimateTokens(m.content), 0);
}

/**
 * A manual clock: `sleep(ms)` advances `now()` by `ms` at once (after one microtask), so a
 * per-token cost shows up in `durationMs` without the test waiting.
 */
export interface FakeClock {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** Moves time forward by hand (e.g. to simulate work between calls). */
  advance: (ms: number) => void;
}

export function createFakeClock(start = 0): FakeClock {
  let t = start;
  return {
    now: () => t,
    sleep: async (ms) => {
      await Promise.resolve();
      t += ms;
    },
    advance: (ms) => {
      t += ms;
    },
  };
}

/** mulberry32: a small seeded generator in [0, 1). */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function record(request: ChatRequest): RecordedRequest {
  return {
    messages: request.messages.map((m) => ({ ...m })),
    ...(request.jsonSchema !== undefined && { jsonSchema: structuredClone(request.jsonSchema) }),
    ...(request.maxTokens !== undefined && { maxTokens: request.maxTokens }),
    ...(request.temperature !== undefined && { temperature: request.temperature }),
    ...(request.seed !== undefined && { seed: request.seed }),
    hadSignal: request.signal !== undefined,
  };
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError();
}

/** Resolves with `work`, or rejects with {@link AbortedError} as soon as `signal` aborts. */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortedError());
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function realSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
