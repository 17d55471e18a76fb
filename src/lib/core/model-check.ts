import { z } from 'zod';
import { errorMessage, InvalidModelOutputError, isAbortError } from './errors';
import { chatJson } from './json-call';
import type { ChatEngine } from './llm';

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
  /** Generated tokens per second of engine time over both calls. */
  tokensPerSecond: number;
  totalMs: number;
}

/**
 * A short chat and a JSON-schema call, as the Models screen's "test this model": proves the model
 * answers, that constrained decoding yields schema-valid JSON, and how fast it generates.
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
  return {
    chatText: chat.text,
    jsonValue,
    jsonValid,
    jsonError,
    promptTokens,
    completionTokens,
    tokensPerSecond: busyMs > 0 ? (completionTokens * 1000) / busyMs : 0,
    totalMs: busyMs,
  };
}
