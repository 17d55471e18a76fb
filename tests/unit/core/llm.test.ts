import { describe, expect, it } from 'vitest';
import { AbortedError } from '$lib/core/errors';
import { estimateTokens, limitConcurrency, serializeEngine, type ChatRequest } from '$lib/core/llm';
import {
  createFakeClock,
  promptTokensOf,
  ScriptedEngine,
  ScriptExhaustedError,
} from '../../helpers/scripted-engine';

const ask = (content: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  messages: [{ role: 'user', content }],
  ...extra,
});

/** A promise plus its resolve function, to hold a scripted reply until the test releases it. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('estimateTokens', () => {
  it('counts about four characters per token, rounding up', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('a')).toBe(1);
    expect(estimateTokens('abcd')).toBe(1);
    expect(estimateTokens('abcde')).toBe(2);
    expect(estimateTokens('x'.repeat(4000))).toBe(1000);
  });
});

describe('serializeEngine', () => {
  it('never lets concurrent callers overlap on the wrapped engine', async () => {
    const engine = new ScriptedEngine((req) => `echo ${req.messages[0]?.content}`, {
      msPerToken: 1,
    });
    const queued = serializeEngine(engine);
    await Promise.all(Array.from({ length: 6 }, (_, i) => queued.chat(ask(`q${i}`))));
    expect(engine.calls).toBe(6);
    expect(engine.maxConcurrent).toBe(1);
  });

  it('is what prevents overlap: the bare scripted engine does see concurrent calls', async () => {
    // Proves the overlap detector works, so the test above can fail.
    const engine = new ScriptedEngine(() => 'ok', { msPerToken: 1 });
    await Promise.all([engine.chat(ask('a')), engine.chat(ask('b')), engine.chat(ask('c'))]);
    expect(engine.maxConcurrent).toBe(3);
    expect(engine.overlapped).toBe(true);
  });

  it('runs requests in call order and gives each caller its own reply', async () => {
    const gates = [deferred<string>(), deferred<string>(), deferred<string>()];
    const engine = new ScriptedEngine((_req, i) => gates[i]!.promise);
    const queued = serializeEngine(engine);
    const replies = ['first', 'second', 'third'].map((q) => queued.chat(ask(q)));
    // Only the first request has reached the engine; the rest wait in the queue.
    await new Promise((r) => setTimeout(r, 5));
    expect(engine.calls).toBe(1);
    // Releasing out of order must not reorder the engine's requests.
    gates[2]!.resolve('reply 3');
    gates[1]!.resolve('reply 2');
    gates[0]!.resolve('reply 1');
    const texts = (await Promise.all(replies)).map((r) => r.text);
    expect(texts).toEqual(['reply 1', 'reply 2', 'reply 3']);
    expect(engine.requests.map((r) => r.messages[0]?.content)).toEqual([
      'first',
      'second',
      'third',
    ]);
    expect(engine.maxConcurrent).toBe(1);
  });

  it('keeps the queue moving after a rejected call', async () => {
    const engine = new ScriptedEngine(['one', new Error('engine crashed'), 'three'], {
      msPerToken: 1,
    });
    const queued = serializeEngine(engine);
    const [a, b, c] = await Promise.allSettled([
      queued.chat(ask('1')),
      queued.chat(ask('2')),
      queued.chat(ask('3')),
    ]);
    expect(a).toMatchObject({ status: 'fulfilled', value: { text: 'one' } });
    expect(b).toMatchObject({ status: 'rejected', reason: { message: 'engine crashed' } });
    expect(c).toMatchObject({ status: 'fulfilled', value: { text: 'three' } });
    expect(engine.maxConcurrent).toBe(1);
  });

  it('keeps the queue moving after an aborted call', async () => {
    const engine = new ScriptedEngine(() => 'ok', { msPerToken: 1 });
    const queued = serializeEngine(engine);
    const controller = new AbortController();
    controller.abort();
    const cancelled = queued.chat(ask('cancelled', { signal: controller.signal }));
    const next = queued.chat(ask('next'));
    await expect(cancelled).rejects.toBeInstanceOf(AbortedError);
    await expect(next).resolves.toMatchObject({ text: 'ok' });
  });

  it('passes other properties and methods through to the engine', async () => {
    class EngineWithExtras extends ScriptedEngine {
      unloaded = false;
      unload(): string {
        // `this` must be the real engine, not the proxy, for #private fields to work.
        this.unloaded = true;
        return `${this.id} unloaded`;
      }
    }
    const engine = new EngineWithExtras(['hi'], { id: 'webllm:tiny', contextWindow: 2048 });
    const queued: EngineWithExtras = serializeEngine(engine);
    expect(queued.id).toBe('webllm:tiny');
    expect(queued.contextWindow).toBe(2048);
    expect(queued.unload()).toBe('webllm:tiny unloaded');
    expect(engine.unloaded).toBe(true);
    await expect(queued.chat(ask('hello'))).resolves.toMatchObject({ text: 'hi' });
    expect(queued.calls).toBe(1);
  });
});

describe('ScriptedEngine (test double)', () => {
  it('replies from a list in order and fails clearly when the list runs out', async () => {
    const engine = new ScriptedEngine(['a', { text: 'b', finishReason: 'length' }]);
    await expect(engine.chat(ask('1'))).resolves.toMatchObject({ text: 'a', finishReason: 'stop' });
    await expect(engine.chat(ask('2'))).resolves.toMatchObject({
      text: 'b',
      finishReason: 'length',
    });
    await expect(engine.chat(ask('3'))).rejects.toBeInstanceOf(ScriptExhaustedError);
  });

  it('records every request as sent, copied so later mutation is not seen', async () => {
    const engine = new ScriptedEngine(() => 'ok');
    const request = ask('original', {
      jsonSchema: { type: 'object' },
      maxTokens: 64,
      temperature: 0,
      seed: 3,
      signal: new AbortController().signal,
    });
    await engine.chat(request);
    request.messages[0]!.content = 'mutated';
    expect(engine.requests).toEqual([
      {
        messages: [{ role: 'user', content: 'original' }],
        jsonSchema: { type: 'object' },
        maxTokens: 64,
        temperature: 0,
        seed: 3,
        hadSignal: true,
      },
    ]);
  });

  it('counts tokens by estimate, or as the script says', async () => {
    const engine = new ScriptedEngine([
      'x'.repeat(40),
      { text: 'short', usage: { promptTokens: 100, completionTokens: 7 } },
    ]);
    const request = ask('y'.repeat(21));
    const first = await engine.chat(request);
    expect(first.usage).toEqual({
      promptTokens: promptTokensOf(request.messages),
      completionTokens: 10,
    });
    expect(first.usage.promptTokens).toBe(6);
    const second = await engine.chat(request);
    expect(second.usage).toEqual({ promptTokens: 100, completionTokens: 7 });
    expect(engine.promptTokens).toBe(106);
    expect(engine.completionTokens).toBe(17);
  });

  it('charges msPerToken on an injected fake clock', async () => {
    const clock = createFakeClock(1000);
    const engine = new ScriptedEngine(['x'.repeat(40)], {
      msPerToken: 25,
      clock: clock.now,
      sleep: clock.sleep,
    });
    const result = await engine.chat(ask('q'));
    expect(result.durationMs).toBe(250);
    expect(clock.now()).toBe(1250);
  });

  it('charges msPerToken in real time by default', async () => {
    const engine = new ScriptedEngine(['x'.repeat(40)], { msPerToken: 3 });
    const started = Date.now();
    const result = await engine.chat(ask('q'));
    expect(result.durationMs).toBeGreaterThanOrEqual(29);
    expect(Date.now() - started).toBeGreaterThanOrEqual(29);
  });

  it('cuts a long reply at maxTokens with finishReason length when asked to', async () => {
    const engine = new ScriptedEngine(['{"a":"' + 'x'.repeat(100) + '"}'], {
      truncateAtMaxTokens: true,
    });
    const result = await engine.chat(ask('q', { maxTokens: 5 }));
    expect(result.text).toBe('{"a":"xxxxxxxxxxxxxx');
    expect(result.finishReason).toBe('length');
    expect(result.usage.completionTokens).toBe(5);
  });

  it('rejects with AbortedError when the signal is already aborted, without replying', async () => {
    const script = (): string => {
      throw new Error('the script must not run');
    };
    const engine = new ScriptedEngine(script);
    const controller = new AbortController();
    controller.abort();
    await expect(engine.chat(ask('q', { signal: controller.signal }))).rejects.toBeInstanceOf(
      AbortedError,
    );
    expect(engine.calls).toBe(1);
    expect(engine.results).toHaveLength(0);
  });

  it('rejects with AbortedError when aborted during a real-time wait, promptly', async () => {
    const engine = new ScriptedEngine(['x'.repeat(4000)], { msPerToken: 10 }); // 10 s
    const controller = new AbortController();
    const started = Date.now();
    const pending = engine.chat(ask('q', { signal: controller.signal }));
    setTimeout(() => controller.abort(), 10);
    await expect(pending).rejects.toBeInstanceOf(AbortedError);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(engine.active).toBe(0);
    expect(engine.completionTokens).toBe(0);
  });

  it('rejects with a scripted Error after recording the request', async () => {
    const engine = new ScriptedEngine([new TypeError('Failed to fetch')]);
    await expect(engine.chat(ask('q'))).rejects.toThrow(TypeError);
    expect(engine.calls).toBe(1);
    expect(engine.active).toBe(0);
  });
});

describe('limitConcurrency', () => {
  it('keeps at most K requests on the engine and starts queued ones in call order', async () => {
    const gates = Array.from({ length: 6 }, () => deferred<string>());
    const engine = new ScriptedEngine((_req, i) => gates[i]!.promise);
    const limited = limitConcurrency(engine, 3);
    expect(limited.maxConcurrency).toBe(3);
    const replies = Array.from({ length: 6 }, (_, i) => limited.chat(ask(`q${i}`)));
    await new Promise((r) => setTimeout(r, 5));
    expect(engine.calls).toBe(3);
    gates[1]!.resolve('one');
    await expect(replies[1]).resolves.toMatchObject({ text: 'one' });
    await new Promise((r) => setTimeout(r, 5));
    expect(engine.requests.map((r) => r.messages[0]?.content)).toEqual(['q0', 'q1', 'q2', 'q3']);
    for (const [i, gate] of gates.entries()) gate.resolve(`r${i}`);
    await Promise.all(replies);
    expect(engine.maxConcurrent).toBe(3);
  });

  it('drops a queued request whose signal aborts, without sending it', async () => {
    const gate = deferred<string>();
    const engine = new ScriptedEngine(() => gate.promise);
    const limited = limitConcurrency(engine, 1);
    const controller = new AbortController();
    const first = limited.chat(ask('first'));
    const queued = limited.chat(ask('queued', { signal: controller.signal }));
    controller.abort();
    await expect(queued).rejects.toBeInstanceOf(AbortedError);
    gate.resolve('done');
    await first;
    expect(engine.calls).toBe(1);
  });

  it('applies a changed limit at once, starting queued requests', async () => {
    const gates = Array.from({ length: 4 }, () => deferred<string>());
    const engine = new ScriptedEngine((_req, i) => gates[i]!.promise);
    const limited = limitConcurrency(engine, 1);
    const replies = Array.from({ length: 4 }, (_, i) => limited.chat(ask(`q${i}`)));
    await new Promise((r) => setTimeout(r, 5));
    expect(engine.calls).toBe(1);
    limited.setConcurrency(4);
    expect(limited.maxConcurrency).toBe(4);
    await new Promise((r) => setTimeout(r, 5));
    expect(engine.calls).toBe(4);
    for (const [i, gate] of gates.entries()) gate.resolve(`r${i}`);
    await Promise.all(replies);
  });
});
