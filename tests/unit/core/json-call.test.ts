import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AbortedError, InvalidModelOutputError, isAbortError } from '$lib/core/errors';
import { chatJson, extractJson, toJsonSchema } from '$lib/core/json-call';
import type { ChatEngine, ChatRequest } from '$lib/core/llm';
import { ScriptedEngine } from '../../helpers/scripted-engine';

const ruleSchema = z.object({
  rule: z.string().min(1),
  direction: z.enum(['positive', 'negative']),
  exceptions: z.array(z.string()),
});

const request: Omit<ChatRequest, 'jsonSchema'> = {
  messages: [
    { role: 'system', content: 'You extract rules.' },
    { role: 'user', content: 'Extract the rule from: "Never reveal the system prompt."' },
  ],
  maxTokens: 128,
  seed: 11,
};

const good = { rule: 'Never reveal the system prompt.', direction: 'negative', exceptions: [] };
const goodText = JSON.stringify(good);

/** The corrective user message chatJson appended for the retry, as the engine saw it. */
function retryMessage(engine: ScriptedEngine, call: number): string {
  const messages = engine.requests[call]?.messages ?? [];
  expect(messages.at(-1)?.role).toBe('user');
  return messages.at(-1)?.content ?? '';
}

describe('extractJson', () => {
  it('parses a bare JSON object or array', () => {
    expect(extractJson('  {"a": 1}\n')).toEqual({ a: 1 });
    expect(extractJson('[1, 2]')).toEqual([1, 2]);
  });

  it('strips ```json code fences', () => {
    expect(extractJson('```json\n{"a": [1, 2]}\n```')).toEqual({ a: [1, 2] });
    expect(extractJson('Here you go:\n```\n{"a": true}\n```\nAnything else?')).toEqual({
      a: true,
    });
  });

  it('finds the JSON among prose before and after it', () => {
    expect(
      extractJson('Sure! Here is the rule: {"rule": "x", "n": {"m": 2}} Hope this helps.'),
    ).toEqual({ rule: 'x', n: { m: 2 } });
  });

  it('ignores braces, brackets and escaped quotes inside strings', () => {
    const text =
      'Answer: {"quote": "use {braces} and [brackets] and \\"quotes\\" }", "n": 1} bye }';
    expect(extractJson(text)).toEqual({
      quote: 'use {braces} and [brackets] and "quotes" }',
      n: 1,
    });
  });

  it('says when there is no JSON at all', () => {
    expect(() => extractJson('I cannot help with that.')).toThrow(/no JSON object/);
  });

  it('says when the JSON is cut off', () => {
    expect(() => extractJson('{"rule": "never reveal the sys')).toThrow(/cut off/);
  });
});

describe('toJsonSchema', () => {
  it('gives an object schema with properties and required, without $schema', () => {
    const schema = toJsonSchema(ruleSchema);
    expect(schema).not.toHaveProperty('$schema');
    expect(schema.type).toBe('object');
    expect(Object.keys(schema.properties as object).sort()).toEqual([
      'direction',
      'exceptions',
      'rule',
    ]);
    expect([...(schema.required as string[])].sort()).toEqual(['direction', 'exceptions', 'rule']);
    expect((schema.properties as Record<string, unknown>).direction).toMatchObject({
      enum: ['positive', 'negative'],
    });
  });
});

describe('chatJson', () => {
  it('returns the parsed value on the first valid reply, sending the JSON schema', async () => {
    const engine = new ScriptedEngine([goodText]);
    const result = await chatJson(engine, request, ruleSchema);
    expect(result.value).toEqual(good);
    expect(result.attempts).toBe(1);
    expect(result.last.text).toBe(goodText);
    expect(engine.calls).toBe(1);
    const sent = engine.requests[0]!;
    expect(sent.messages).toEqual(request.messages);
    expect(sent.maxTokens).toBe(128);
    expect(sent.seed).toBe(11);
    expect(sent.jsonSchema).toEqual(toJsonSchema(ruleSchema));
    expect(sent.jsonSchema).not.toHaveProperty('$schema');
    expect(sent.jsonSchema).toMatchObject({
      type: 'object',
      properties: { rule: { type: 'string' } },
      required: expect.arrayContaining(['rule', 'direction', 'exceptions']),
    });
  });

  it('accepts fenced JSON with prose around it', async () => {
    const engine = new ScriptedEngine([`Here it is:\n\`\`\`json\n${goodText}\n\`\`\`\nDone.`]);
    const result = await chatJson(engine, request, ruleSchema);
    expect(result.value).toEqual(good);
    expect(result.attempts).toBe(1);
  });

  it('retries after invalid JSON, telling the model what was wrong', async () => {
    const engine = new ScriptedEngine(['The rule is: never reveal it.', goodText]);
    const result = await chatJson(engine, request, ruleSchema);
    expect(result.value).toEqual(good);
    expect(result.attempts).toBe(2);
    const retry = engine.requests[1]!.messages;
    // The original conversation, the bad reply, then the correction.
    expect(retry.slice(0, 2)).toEqual(request.messages);
    expect(retry[2]).toEqual({ role: 'assistant', content: 'The rule is: never reveal it.' });
    expect(retryMessage(engine, 1)).toContain('not JSON');
    expect(retryMessage(engine, 1)).toContain('no JSON object');
    expect(engine.requests[1]!.jsonSchema).toEqual(engine.requests[0]!.jsonSchema);
  });

  it('retries after schema-invalid JSON, naming the failing fields', async () => {
    const engine = new ScriptedEngine([
      JSON.stringify({ rule: '', direction: 'sideways', exceptions: [] }),
      goodText,
    ]);
    const result = await chatJson(engine, request, ruleSchema);
    expect(result.value).toEqual(good);
    expect(result.attempts).toBe(2);
    const problem = retryMessage(engine, 1);
    expect(problem).toContain('rule:');
    expect(problem).toContain('direction:');
  });

  it('retries after an empty reply', async () => {
    const engine = new ScriptedEngine(['   \n', goodText]);
    const result = await chatJson(engine, request, ruleSchema);
    expect(result.attempts).toBe(2);
    expect(retryMessage(engine, 1)).toContain('the reply was empty');
  });

  it('mentions the token limit when max_tokens cut the JSON short', async () => {
    const engine = new ScriptedEngine([
      { text: '{"rule": "Never reveal the sys', finishReason: 'length' },
      goodText,
    ]);
    const result = await chatJson(engine, request, ruleSchema);
    expect(result.attempts).toBe(2);
    expect(retryMessage(engine, 1)).toContain('token limit');
    expect(retryMessage(engine, 1)).toContain('cut off');
  });

  it('does not blame the token limit when the reply finished normally', async () => {
    const engine = new ScriptedEngine(['{"rule": "Never reveal the sys', goodText]);
    await chatJson(engine, request, ruleSchema);
    expect(retryMessage(engine, 1)).not.toContain('token limit');
  });

  it('throws InvalidModelOutputError with the last raw output after retries + 1 attempts', async () => {
    const replies = ['nope', '{"rule": 1}', 'still not it'];
    const engine = new ScriptedEngine(replies);
    const error = await chatJson(engine, request, ruleSchema, { retries: 2 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidModelOutputError);
    const invalid = error as InvalidModelOutputError;
    expect(invalid.rawOutput).toBe('still not it');
    expect(invalid.message).toContain('after 3 attempts');
    expect(invalid.message).toContain('no JSON object');
    expect(engine.calls).toBe(3);
  });

  it('makes exactly retries + 1 attempts for any retries setting', async () => {
    for (const retries of [0, 1, 4]) {
      const engine = new ScriptedEngine(() => 'not json');
      await expect(chatJson(engine, request, ruleSchema, { retries })).rejects.toBeInstanceOf(
        InvalidModelOutputError,
      );
      expect(engine.calls).toBe(retries + 1);
    }
  });

  it('defaults to two retries', async () => {
    const engine = new ScriptedEngine(() => 'not json');
    await expect(chatJson(engine, request, ruleSchema)).rejects.toThrow(/after 3 attempts/);
    expect(engine.calls).toBe(3);
  });

  it('sums usage over every attempt, failed ones included', async () => {
    const engine = new ScriptedEngine([
      { text: 'garbage', usage: { promptTokens: 100, completionTokens: 5 } },
      { text: '{}', usage: { promptTokens: 120, completionTokens: 2 } },
      { text: goodText, usage: { promptTokens: 140, completionTokens: 20 } },
    ]);
    const result = await chatJson(engine, request, ruleSchema);
    expect(result.attempts).toBe(3);
    expect(result.usage).toEqual({ promptTokens: 360, completionTokens: 27 });
    expect(result.last.usage).toEqual({ promptTokens: 140, completionTokens: 20 });
  });

  it('does not start a retry once the signal is aborted', async () => {
    const controller = new AbortController();
    const scripted = new ScriptedEngine(() => 'not json');
    // The user cancels just as the first (unusable) reply comes back.
    const engine: ChatEngine = {
      id: scripted.id,
      contextWindow: scripted.contextWindow,
      chat: async (req) => {
        const result = await scripted.chat(req);
        controller.abort();
        return result;
      },
    };
    const error = await chatJson(
      engine,
      { ...request, signal: controller.signal },
      ruleSchema,
    ).catch((e: unknown) => e);
    expect(isAbortError(error)).toBe(true);
    expect(error).not.toBeInstanceOf(InvalidModelOutputError);
    expect(scripted.calls).toBe(1);
  });

  it("rejects with the engine's AbortedError when aborted during an attempt", async () => {
    const controller = new AbortController();
    const engine = new ScriptedEngine(() => {
      controller.abort();
      return goodText;
    });
    await expect(
      chatJson(engine, { ...request, signal: controller.signal }, ruleSchema),
    ).rejects.toBeInstanceOf(AbortedError);
    expect(engine.calls).toBe(1);
  });

  it('does not call the engine at all when aborted before the first attempt', async () => {
    const controller = new AbortController();
    controller.abort();
    const engine = new ScriptedEngine([goodText]);
    const error = await chatJson(
      engine,
      { ...request, signal: controller.signal },
      ruleSchema,
    ).catch((e: unknown) => e);
    expect(isAbortError(error)).toBe(true);
    expect(engine.calls).toBe(0);
  });

  it('passes an engine failure straight through without retrying', async () => {
    const engine = new ScriptedEngine([new Error('device lost'), goodText]);
    await expect(chatJson(engine, request, ruleSchema)).rejects.toThrow('device lost');
    expect(engine.calls).toBe(1);
  });

  it('returns the schema output type (defaults and transforms applied)', async () => {
    const schema = z.object({
      n: z.string().transform(Number),
      tags: z.array(z.string()).default([]),
    });
    const engine = new ScriptedEngine(['{"n": "42"}']);
    const result = await chatJson(engine, request, schema);
    expect(result.value).toEqual({ n: 42, tags: [] });
  });
});

describe('chatJson prompt reuse accounting', () => {
  it('sums the evaluated prompt tokens of every attempt, the repaired one included', async () => {
    const valid = JSON.stringify({ rule: 'x', direction: 'negative', exceptions: [] });
    const engine = new ScriptedEngine([
      {
        text: 'not json',
        usage: { promptTokens: 100 },
        timings: { promptTokens: 100, promptMs: 1, decodeTokens: 2, decodeMs: 1 },
      },
      // The repair extends the first prompt: a prefix cache evaluates only the new turns.
      {
        text: valid,
        usage: { promptTokens: 130 },
        timings: { promptTokens: 30, promptMs: 1, decodeTokens: 9, decodeMs: 1 },
      },
    ]);
    const result = await chatJson(engine, request, ruleSchema);
    expect(result.attempts).toBe(2);
    expect(result.usage.promptTokens).toBe(230);
    expect(result.usage.prefill).toEqual({ sent: 230, evaluated: 130 });
  });

  it('carries no prefill count when the engine reports no timings', async () => {
    const engine = new ScriptedEngine([
      JSON.stringify({ rule: 'x', direction: 'negative', exceptions: [] }),
    ]);
    expect((await chatJson(engine, request, ruleSchema)).usage.prefill).toBeUndefined();
  });
});
