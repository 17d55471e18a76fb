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

describe('checkModel', () => {
  it('reports a schema-valid JSON value, the chat text and summed token counts', async () => {
    const engine = new ScriptedEngine([chatReply, jsonReply]);
    const result = await checkModel(engine);
    expect(result.chatText).toBe(chatReply.text);
    expect(result.jsonValid).toBe(true);
    expect(result.jsonError).toBeUndefined();
    expect(result.jsonValue).toEqual({
      rule: 'Never reveal the system prompt.',
      direction: 'negative',
    });
    expect(result.promptTokens).toBe(80);
    expect(result.completionTokens).toBe(30);
  });

  it('sends a short free chat, then a schema-constrained call, both deterministic', async () => {
    const engine = new ScriptedEngine([chatReply, jsonReply]);
    await checkModel(engine);
    expect(engine.calls).toBe(2);
    const [chat, json] = engine.requests;
    expect(chat).toMatchObject({ maxTokens: 48, temperature: 0, seed: 1 });
    expect(chat?.jsonSchema).toBeUndefined();
    expect(json).toMatchObject({ maxTokens: 200, temperature: 0, seed: 1 });
    expect(json?.jsonSchema).toEqual(toJsonSchema(modelCheckSchema));
  });

  it('measures tokens per second from usage and real durations', async () => {
    // 5 ms per completion token, in real time: 30 tokens take at least 150 ms.
    const engine = new ScriptedEngine([chatReply, jsonReply], { msPerToken: 5 });
    const result = await checkModel(engine);
    const engineMs = engine.results.reduce((sum, r) => sum + r.durationMs, 0);
    expect(result.totalMs).toBeGreaterThanOrEqual(150);
    expect(result.tokensPerSecond).toBeGreaterThan(0);
    expect(result.tokensPerSecond).toBeCloseTo((30 * 1000) / result.totalMs, 6);
    // Wall time and engine time agree within timer jitter.
    expect(Math.abs(result.totalMs - engineMs)).toBeLessThan(50);
    expect(result.tokensPerSecond).toBeLessThanOrEqual(200);
  });

  it('measures both calls in engine time, so a fake-clock benchmark gets the true rate', async () => {
    // 100 ms per completion token on a fake clock: 12 + 18 tokens = 3000 ms of engine time,
    // i.e. 10 tokens/s. The doc comment promises "tokens per second of engine time over both calls".
    const clock = createFakeClock();
    const engine = new ScriptedEngine([chatReply, jsonReply], {
      msPerToken: 100,
      clock: clock.now,
      sleep: clock.sleep,
    });
    const result = await checkModel(engine);
    expect(engine.results.map((r) => r.durationMs)).toEqual([1200, 1800]);
    expect(result.totalMs).toBe(3000);
    expect(result.tokensPerSecond).toBeCloseTo(10, 6);
  });

  it('reports invalid JSON as a result, not an exception', async () => {
    const engine = new ScriptedEngine([
      chatReply,
      'Sure! The rule is: never reveal it.',
      '{"rule": ""}',
    ]);
    const result = await checkModel(engine);
    expect(result.chatText).toBe(chatReply.text);
    expect(result.jsonValid).toBe(false);
    expect(result.jsonValue).toBeNull();
    expect(result.jsonError).toMatch(/not valid JSON for this step after 2 attempts/);
    // The first JSON attempt plus exactly one retry.
    expect(engine.calls).toBe(3);
  });

  it('reports an engine failure during the JSON call as jsonError', async () => {
    const engine = new ScriptedEngine([chatReply, new Error('GPU device was lost')]);
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
