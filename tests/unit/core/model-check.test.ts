import { describe, expect, it } from 'vitest';
import { AbortedError, isAbortError } from '$lib/core/errors';
import { toJsonSchema } from '$lib/core/json-call';
import type { ChatEngine } from '$lib/core/llm';
import { checkModel, modelCheckSchema } from '$lib/core/model-check';
import { createFakeClock, ScriptedEngine } from '../../helpers/scripted-engine';

const chatReply = {
  text: 'Because its policy encodes what users and operators can rely on.',
  usage: { promptTokens: 30, completionTokens: 12 },
};
const jsonReply = {
  text: '{"rule": "Never reveal the system prompt.", "direction": "negative"}',
  usage: { promptTokens: 50, completionTokens: 18 },
};
const prefillReply = { text: 'Policy', usage: { promptTokens: 500, completionTokens: 2 } };
const replies = [chatReply, jsonReply, prefillReply];

describe('checkModel', () => {
  it('reports a schema-valid JSON value, the chat text and summed token counts', async () => {
    const engine = new ScriptedEngine(replies);
    const result = await checkModel(engine);
    expect(result.chatText).toBe(chatReply.text);
    expect(result.jsonValid).toBe(true);
    expect(result.jsonError).toBeUndefined();
    expect(result.jsonValue).toEqual({
      rule: 'Never reveal the system prompt.',
      direction: 'negative',
    });
    expect(result.promptTokens).toBe(580);
    expect(result.completionTokens).toBe(32);
  });

  it('sends a short free chat, a schema-constrained call and a long prompt, all deterministic', async () => {
    const engine = new ScriptedEngine(replies, { contextWindow: 1024 });
    await checkModel(engine);
    expect(engine.calls).toBe(3);
    const [chat, json, prefill] = engine.requests;
    expect(chat).toMatchObject({ maxTokens: 48, temperature: 0, seed: 1 });
    expect(chat?.jsonSchema).toBeUndefined();
    expect(json).toMatchObject({ maxTokens: 200, temperature: 0, seed: 1 });
    expect(json?.jsonSchema).toEqual(toJsonSchema(modelCheckSchema));
    // Half the context in characters, so it fits even a byte-level tokenizer, plus the question.
    expect(prefill).toMatchObject({ maxTokens: 4, temperature: 0, seed: 1 });
    const text = prefill!.messages[0]!.content;
    expect(text.length).toBe(512 + '\n\nIn one word: what is this text about?'.length);
  });

  it('measures prefill and decode separately from whole-call times (no engine timings)', async () => {
    // 2 ms per prompt token (500 tokens/s), 40 ms per generated token (25 tokens/s), fake clock.
    const clock = createFakeClock();
    const engine = new ScriptedEngine(replies, {
      msPerPromptToken: 2,
      msPerToken: 40,
      clock: clock.now,
      sleep: clock.sleep,
    });
    const result = await checkModel(engine);
    expect(result.rateMethod).toBe('wall-clock');
    expect(result.prefillTokensPerSecond).toBeCloseTo(500, 6);
    expect(result.decodeTokensPerSecond).toBeCloseTo(25, 6);
  });

  it("takes the engine's own prefill/decode split when it reports one", async () => {
    const withTimings = (r: typeof chatReply, promptMs: number, decodeMs: number) => ({
      ...r,
      timings: {
        promptTokens: r.usage.promptTokens,
        promptMs,
        decodeTokens: r.usage.completionTokens,
        decodeMs,
      },
    });
    const engine = new ScriptedEngine([
      withTimings(chatReply, 100, 600),
      withTimings(jsonReply, 200, 900),
      withTimings(prefillReply, 1700, 100),
    ]);
    const result = await checkModel(engine);
    expect(result.rateMethod).toBe('engine');
    expect(result.prefillTokensPerSecond).toBeCloseTo(580 / 2, 6); // 580 tokens in 2 s
    expect(result.decodeTokensPerSecond).toBeCloseTo(32 / 1.6, 6); // 32 tokens in 1.6 s
  });

  it('measures tokens per second from usage and real durations', async () => {
    // 5 ms per completion token, in real time: 30 tokens take at least 150 ms.
    const engine = new ScriptedEngine(replies, { msPerToken: 5 });
    const result = await checkModel(engine);
    const engineMs = engine.results.reduce((sum, r) => sum + r.durationMs, 0);
    expect(result.totalMs).toBeGreaterThanOrEqual(160);
    expect(result.tokensPerSecond).toBeGreaterThan(0);
    expect(result.tokensPerSecond).toBeCloseTo((32 * 1000) / result.totalMs, 6);
    // Wall time and engine time agree within timer jitter.
    expect(Math.abs(result.totalMs - engineMs)).toBeLessThan(50);
    expect(result.tokensPerSecond).toBeLessThanOrEqual(200);
  });

  it('measures all calls in engine time, so a fake-clock benchmark gets the true rate', async () => {
    // 100 ms per completion token on a fake clock: 12 + 18 + 2 tokens = 3200 ms of engine time,
    // i.e. 10 tokens/s. The doc comment promises "tokens per second of engine time over all calls".
    const clock = createFakeClock();
    const engine = new ScriptedEngine(replies, {
      msPerToken: 100,
      clock: clock.now,
      sleep: clock.sleep,
    });
    const result = await checkModel(engine);
    expect(engine.results.map((r) => r.durationMs)).toEqual([1200, 1800, 200]);
    expect(result.totalMs).toBe(3200);
    expect(result.tokensPerSecond).toBeCloseTo(10, 6);
  });

  it('reports invalid JSON as a result, not an exception', async () => {
    const engine = new ScriptedEngine([
      chatReply,
      'Sure! The rule is: never reveal it.',
      '{"rule": ""}',
      prefillReply,
    ]);
    const result = await checkModel(engine);
    expect(result.chatText).toBe(chatReply.text);
    expect(result.jsonValid).toBe(false);
    expect(result.jsonValue).toBeNull();
    expect(result.jsonError).toMatch(/not valid JSON for this step after 2 attempts/);
    // The first JSON attempt plus exactly one retry, then the long prompt.
    expect(engine.calls).toBe(4);
  });

  it('reports an engine failure during the JSON call as jsonError', async () => {
    const engine = new ScriptedEngine([chatReply, new Error('GPU device was lost'), prefillReply]);
    const result = await checkModel(engine);
    expect(result.jsonValid).toBe(false);
    expect(result.jsonError).toBe('GPU device was lost');
  });

  it('rejects when the chat call itself fails', async () => {
    const engine = new ScriptedEngine([new Error('model not loaded')]);
    await expect(checkModel(engine)).rejects.toThrow('model not loaded');
  });

  it('rejects with AbortedError when cancelled before it starts', async () => {
    const controller = new AbortController();
    controller.abort();
    const engine = new ScriptedEngine([chatReply, jsonReply]);
    await expect(checkModel(engine, controller.signal)).rejects.toBeInstanceOf(AbortedError);
    expect(engine.results).toHaveLength(0);
  });

  it('rejects (does not report invalid JSON) when cancelled during the JSON call', async () => {
    const controller = new AbortController();
    const engine = new ScriptedEngine((_req, i) => {
      if (i === 1) controller.abort();
      return i === 0 ? chatReply : jsonReply;
    });
    const error = await checkModel(engine, controller.signal).catch((e: unknown) => e);
    expect(isAbortError(error)).toBe(true);
    expect(engine.calls).toBe(2);
  });

  it('rejects when cancelled between the chat and the JSON call', async () => {
    const controller = new AbortController();
    const scripted = new ScriptedEngine([chatReply, jsonReply]);
    const engine: ChatEngine = {
      id: scripted.id,
      contextWindow: scripted.contextWindow,
      chat: async (request) => {
        const result = await scripted.chat(request);
        controller.abort(); // cancelled right as the chat reply arrives
        return result;
      },
    };
    const error = await checkModel(engine, controller.signal).catch((e: unknown) => e);
    expect(isAbortError(error)).toBe(true);
    expect(scripted.calls).toBe(1);
  });
});
