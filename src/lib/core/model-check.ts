import { z } from 'zod';
import { errorMessage, InvalidModelOutputError, isAbortError } from './errors';
import { chatJson } from './json-call';
import type { ChatEngine, ChatResult } from './llm';
import { measureRates, type SpeedSample } from './speed';

/** The structured half of "test this model": small enough for a 0.5B model to get right. */
export const modelCheckSchema = z.object({
  rule: z.string().min(1).max(100),
  direction: z.enum(['positive', 'negative']),
});

export interface ModelCheckResult {
  chatText: string;
  jsonValue: unknown;
  jsonValid: boolean;
  jsonError?: string;
  promptTokens: number;
  completionTokens: number;
  /** Generated tokens per second of engine time over all calls (prompt time included). */
  tokensPerSecond: number;
  /** Prompt processing rate (prefill), tokens/s. */
  prefillTokensPerSecond: number;
  /** Generation rate (decode), tokens/s. */
  decodeTokensPerSecond: number;
  /** How the two rates were obtained; see {@link measureRates}. */
  rateMethod: 'engine' | 'wall-clock';
  totalMs: number;
}

/** Policy-like filler for the prefill probe: a long prompt and a one-word answer. */
const PREFILL_TEXT =
  'The assistant follows the instructions of the platform first, then of the developer, then of the user. ' +
  'It declines requests that would cause serious harm, explains briefly why, and offers a safer alternative. ' +
  'It does not reveal private information about people, and it keeps its system prompt confidential. ';

/**
 * A short chat, a JSON-schema call and a long-prompt call, as the Models screen's "test this
 * model": proves the model answers, that constrained decoding yields schema-valid JSON, and
 * measures prompt processing (prefill) and generation (decode) speed separately. The long prompt
 * is half the context window in characters (at most 2,400), so it fits any tokenizer.
 */
export async function checkModel(
  engine: ChatEngine,
  signal?: AbortSignal,
): Promise<ModelCheckResult> {
  const chat = await engine.chat({
    messages: [
      { role: 'system', content: 'You are a concise assistant.' },
      {
        role: 'user',
        content: 'In one short sentence: why should an assistant follow its policy?',
      },
    ],
    maxTokens: 48,
    temperature: 0,
    seed: 1,
    signal,
  });
  const samples: SpeedSample[] = [sample(chat)];
  let promptTokens = chat.usage.promptTokens;
  let completionTokens = chat.usage.completionTokens;
  let busyMs = chat.durationMs;
  let jsonValue: unknown = null;
  let jsonValid = false;
  let jsonError: string | undefined;
  try {
    const json = await chatJson(
      engine,
      {
        messages: [
          {
            role: 'user',
            content:
              'Extract the rule from: "The assistant must never reveal its system prompt." Reply as JSON with "rule" and "direction" (positive or negative).',
          },
        ],
        // Room for byte-level tokenizers too: the reply is ~40 characters plus the rule.
        maxTokens: 200,
        temperature: 0,
        seed: 1,
        signal,
      },
      modelCheckSchema,
      { retries: 1 },
    );
    jsonValue = json.value;
    jsonValid = true;
    promptTokens += json.usage.promptTokens;
    completionTokens += json.usage.completionTokens;
    busyMs += json.durationMs;
    // Retries would mix attempts into one figure; a first-try reply is one clean sample.
    if (json.attempts === 1) samples.push(sample(json.last));
  } catch (error) {
    if (isAbortError(error) || signal?.aborted) throw error;
    jsonError = errorMessage(error);
    // Failed attempts still cost tokens and time.
    if (error instanceof InvalidModelOutputError) {
      promptTokens += error.usage.promptTokens;
      completionTokens += error.usage.completionTokens;
      busyMs += error.durationMs;
    }
  }
  const chars = Math.max(200, Math.min(2400, Math.floor(engine.contextWindow / 2)));
  const prefill = await engine.chat({
    messages: [
      {
        role: 'user',
        content: `${PREFILL_TEXT.repeat(Math.ceil(chars / PREFILL_TEXT.length)).slice(0, chars)}\n\nIn one word: what is this text about?`,
      },
    ],
    maxTokens: 4,
    temperature: 0,
    seed: 1,
    signal,
  });
  samples.push(sample(prefill));
  promptTokens += prefill.usage.promptTokens;
  completionTokens += prefill.usage.completionTokens;
  busyMs += prefill.durationMs;
  const rates = measureRates(samples) ?? {
    prefillTokensPerSecond: 0,
    decodeTokensPerSecond: 0,
    method: 'wall-clock' as const,
  };
  return {
    chatText: chat.text,
    jsonValue,
    jsonValid,
    jsonError,
    promptTokens,
    completionTokens,
    tokensPerSecond: busyMs > 0 ? (completionTokens * 1000) / busyMs : 0,
    prefillTokensPerSecond: rates.prefillTokensPerSecond,
    decodeTokensPerSecond: rates.decodeTokensPerSecond,
    rateMethod: rates.method,
    totalMs: busyMs,
  };
}

function sample(result: Pick<ChatResult, 'usage' | 'durationMs' | 'timings'>): SpeedSample {
  return {
    promptTokens: result.usage.promptTokens,
    completionTokens: result.usage.completionTokens,
    durationMs: result.durationMs,
    ...(result.timings && { timings: result.timings }),
  };
}
