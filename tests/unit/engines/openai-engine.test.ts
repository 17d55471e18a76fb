import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import type { OpenAiConfig } from '$lib/core/engine-config';
import { AbortedError, EndpointError, NoModelLoadedError } from '$lib/core/errors';
import { chatJson, toJsonSchema } from '$lib/core/json-call';
import { estimateTokens } from '$lib/core/llm';
import {
  DEFAULT_OPENAI_CONTEXT_WINDOW,
  createOpenAiEngine,
  normalizeBaseUrl,
  type FetchLike,
} from '$lib/engines/openai-engine';
import {
  sampleFromSchema,
  startFakeOpenAiServer,
  type FakeOpenAiServer,
  type FakeServerOptions,
} from '../../fixtures/fake-openai-server';

const servers: FakeOpenAiServer[] = [];
async function start(options: FakeServerOptions = {}): Promise<FakeOpenAiServer> {
  const server = await startFakeOpenAiServer(options);
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const config = (server: FakeOpenAiServer, model = 'fake-model'): OpenAiConfig => ({
  kind: 'openai',
  baseUrl: server.url,
  model,
});

const hi = { messages: [{ role: 'user' as const, content: 'Hi there' }] };

async function failure(promise: Promise<unknown>): Promise<EndpointError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EndpointError);
  return error as EndpointError;
}

describe('createOpenAiEngine: loading', () => {
  it('checks /models, then chats', async () => {
    const server = await start();
    const onProgress = vi.fn();
    const engine = await createOpenAiEngine(config(server), { onProgress });
    expect(engine.id).toBe(`openai:fake-model@${server.url}`);
    expect(engine.contextWindow).toBe(DEFAULT_OPENAI_CONTEXT_WINDOW);
    expect(engine.modelListed).toBe(true);
    expect(engine.availableModels).toEqual(['fake-model']);
    expect(onProgress).toHaveBeenLastCalledWith({
      fraction: 1,
      text: expect.stringMatching(/^Connected to 127\.0\.0\.1:\d+\.$/),
    });
    expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/models']);

    const result = await engine.chat(hi);
    expect(result.text).toBe('Echo: Hi there');
    expect(result.finishReason).toBe('stop');
    expect(result.usage).toEqual({ promptTokens: 2, completionTokens: 4 });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  it.each([
    [{ id: 'fake-model', context_length: 32768 }, 32768],
    [{ id: 'fake-model', max_model_len: 16384, context_length: 131072 }, 16384],
    [{ id: 'fake-model', meta: { n_ctx_train: 2048, n_vocab: 32000 } }, 2048],
    [{ id: 'fake-model', context_length: 'big' }, DEFAULT_OPENAI_CONTEXT_WINDOW],
  ])('reads the context window from %j', async (entry, expected) => {
    const server = await start({ models: [entry] });
    const engine = await createOpenAiEngine(config(server), {});
    expect(engine.contextWindow).toBe(expected);
  });

  it('uses the context size set on the form over the one the server reports', async () => {
    const server = await start({ models: [{ id: 'fake-model', context_length: 131072 }] });
    const engine = await createOpenAiEngine({ ...config(server), contextSize: 4096 }, {});
    expect(engine.contextWindow).toBe(4096);
    expect(engine.id).toBe(`openai:fake-model@${server.url}#ctx=4096`);
  });

  it("matches Ollama's :latest tag", async () => {
    const server = await start({ models: ['llama3.2:latest', 'qwen2.5:1.5b'] });
    const engine = await createOpenAiEngine(config(server, 'llama3.2'), {});
    expect(engine.modelListed).toBe(true);
  });

  it('allows a model the server does not list, and says so', async () => {
    const server = await start({ models: ['other-model'] });
    const onProgress = vi.fn();
    const engine = await createOpenAiEngine(config(server, 'missing-model'), { onProgress });
    expect(engine.modelListed).toBe(false);
    expect(onProgress).toHaveBeenLastCalledWith({
      fraction: 1,
      text: expect.stringContaining('does not list "missing-model" (it lists other-model)'),
    });
    await expect(engine.chat(hi)).resolves.toMatchObject({ text: 'Echo: Hi there' });
    expect(server.chatBodies()[0]?.model).toBe('missing-model');
  });

  it('accepts a base URL with a trailing slash or a pasted /chat/completions', () => {
    expect(normalizeBaseUrl(' http://localhost:11434/v1/ ')).toBe('http://localhost:11434/v1');
    expect(normalizeBaseUrl('http://localhost:1234/v1/chat/completions')).toBe(
      'http://localhost:1234/v1',
    );
    expect(() => normalizeBaseUrl('localhost:11434')).toThrow(EndpointError);
    expect(() => normalizeBaseUrl('ftp://example.test/v1')).toThrow(/http/);
  });

  it('explains a wrong base URL (404 on /models)', async () => {
    const server = await start();
    const error = await failure(
      createOpenAiEngine({ ...config(server), baseUrl: `${server.origin}/api` }, {}),
    );
    expect(error.status).toBe(404);
    expect(error.message).toMatch(/was not found \(404\)/);
    expect(error.message).toMatch(/base URL is probably wrong/);
    expect(error.message).toMatch(/\/v1/);
  });

  it('explains a refused connection (nothing listening)', async () => {
    const server = await startFakeOpenAiServer();
    const url = server.url;
    await server.close();
    const error = await failure(
      createOpenAiEngine({ kind: 'openai', baseUrl: url, model: 'm' }, {}),
    );
    expect(error.message).toMatch(
      /^Could not reach http:\/\/127\.0\.0\.1:\d+\/v1\/models: connection refused/,
    );
    expect(error.message).toMatch(/Is the server running\?/);
    expect(error.status).toBeUndefined();
  });

  it("explains the browser's ambiguous 'Failed to fetch' (stopped server or CORS)", async () => {
    const browserFetch: FetchLike = () => Promise.reject(new TypeError('Failed to fetch'));
    const error = await failure(
      createOpenAiEngine(
        { kind: 'openai', baseUrl: 'http://localhost:11434/v1', model: 'm' },
        {},
        browserFetch,
      ),
    );
    expect(error.message).toMatch(
      /^Could not reach http:\/\/localhost:11434\/v1\/models: the server is not running, or it does not allow requests from this page \(CORS\)\./,
    );
    expect(error.message).toContain('OLLAMA_ORIGINS=');
    expect(error.message).toContain('LM Studio enable CORS');
  });

  it('names the page origin in the CORS advice when there is one', async () => {
    vi.stubGlobal('location', { origin: 'http://127.0.0.1:4173', protocol: 'http:' });
    try {
      const browserFetch: FetchLike = () => Promise.reject(new TypeError('Failed to fetch'));
      const error = await failure(
        createOpenAiEngine(
          { kind: 'openai', baseUrl: 'http://127.0.0.1:11434/v1', model: 'm' },
          {},
          browserFetch,
        ),
      );
      expect(error.message).toContain('OLLAMA_ORIGINS=http://127.0.0.1:4173');
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('explains a missing API key (401 without a key)', async () => {
    const server = await start({ requireApiKey: 'sk-test' });
    const error = await failure(createOpenAiEngine(config(server), {}));
    expect(error.status).toBe(401);
    expect(error.message).toMatch(/needs an API key \(401\): Incorrect API key provided\./);
    expect(server.requests[0]?.headers.authorization).toBeUndefined();
  });

  it('explains a wrong API key (401 with a key)', async () => {
    const server = await start({ requireApiKey: 'sk-test' });
    const error = await failure(createOpenAiEngine(config(server), { apiKey: 'sk-wrong' }));
    expect(error.status).toBe(401);
    expect(error.message).toMatch(/rejected the API key \(401\)/);
    expect(error.message).toMatch(/Settings/);
  });

  it('honours an already-aborted signal without a request', async () => {
    const server = await start();
    const controller = new AbortController();
    controller.abort();
    await expect(
      createOpenAiEngine(config(server), { signal: controller.signal }),
    ).rejects.toBeInstanceOf(AbortedError);
    expect(server.requests).toHaveLength(0);
  });
});

describe('chat', () => {
  const schema = z.object({ rule: z.string().min(1), direction: z.enum(['positive', 'negative']) });

  it('sends the API key as a Bearer token on every request', async () => {
    const server = await start({ requireApiKey: 'sk-test' });
    const engine = await createOpenAiEngine(config(server), { apiKey: 'sk-test' });
    await engine.chat(hi);
    expect(server.requests.map((r) => r.headers.authorization)).toEqual([
      'Bearer sk-test',
      'Bearer sk-test',
    ]);
  });

  it('shapes a JSON-schema request body', async () => {
    const server = await start();
    const engine = await createOpenAiEngine(config(server), {});
    const jsonSchema = toJsonSchema(schema);
    const result = await engine.chat({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Extract the rule.' },
      ],
      jsonSchema,
      maxTokens: 64,
      temperature: 0,
      seed: 7,
    });
    expect(server.chatBodies()[0]).toEqual({
      model: 'fake-model',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Extract the rule.' },
      ],
      stream: false,
      max_tokens: 64,
      temperature: 0,
      seed: 7,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'reply', schema: jsonSchema, strict: true },
      },
    });
    expect(schema.parse(JSON.parse(result.text))).toEqual({
      rule: 'sample',
      direction: 'positive',
    });
    const post = server.requests.find((r) => r.method === 'POST');
    expect(post?.headers['content-type']).toBe('application/json');
  });

  it('omits response_format and sampling fields that were not asked for', async () => {
    const server = await start();
    const engine = await createOpenAiEngine(config(server), {});
    await engine.chat(hi);
    expect(server.chatBodies()[0]).toEqual({
      model: 'fake-model',
      messages: [{ role: 'user', content: 'Hi there' }],
      stream: false,
    });
  });

  it('falls back once to json_object when json_schema is rejected with 400, then sticks to it', async () => {
    const server = await start({
      script: (body) =>
        body.response_format?.type === 'json_schema'
          ? {
              status: 400,
              body: { error: { message: "Invalid 'response_format': json_schema not supported" } },
            }
          : '{"rule":"Be kind","direction":"positive"}',
    });
    const engine = await createOpenAiEngine(config(server), {});
    const jsonSchema = toJsonSchema(schema);
    const request = {
      messages: [
        { role: 'system' as const, content: 'Be brief.' },
        { role: 'user' as const, content: 'Extract the rule.' },
      ],
      jsonSchema,
    };
    const result = await engine.chat(request);
    expect(result.text).toBe('{"rule":"Be kind","direction":"positive"}');
    const [rejected, retried] = server.chatBodies();
    expect(rejected?.response_format?.type).toBe('json_schema');
    expect(retried?.response_format).toEqual({ type: 'json_object' });
    // The schema moves into the (existing, first) system message so the model can follow it.
    expect(retried?.messages?.[0]).toEqual({
      role: 'system',
      content: `Be brief.\n\nReply with only a JSON value that matches this JSON Schema:\n${JSON.stringify(jsonSchema)}`,
    });
    expect(retried?.messages).toHaveLength(2);

    await engine.chat(request);
    expect(server.chatBodies()).toHaveLength(3);
    expect(server.chatBodies()[2]?.response_format).toEqual({ type: 'json_object' });
  });

  it('reports the second 400 when json_object is rejected too', async () => {
    const server = await start({
      script: () => ({ status: 400, body: { error: { message: 'context length exceeded' } } }),
    });
    const engine = await createOpenAiEngine(config(server), {});
    const error = await failure(engine.chat({ ...hi, jsonSchema: toJsonSchema(schema) }));
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/rejected the request \(400\): context length exceeded/);
    expect(server.chatBodies()).toHaveLength(2);
  });

  it('explains a 404 for the model, with what the server lists', async () => {
    const server = await start({
      models: ['llama3.2:latest'],
      script: [
        {
          status: 404,
          body: { error: { message: 'model "qwen9" not found, try pulling it first' } },
        },
      ],
    });
    const engine = await createOpenAiEngine(config(server, 'qwen9'), {});
    const error = await failure(engine.chat(hi));
    expect(error.status).toBe(404);
    expect(error.message).toContain('model "qwen9" not found, try pulling it first');
    expect(error.message).toContain('(it lists llama3.2:latest)');
    expect(error.message).toContain('ollama pull qwen9');
  });

  it('passes on the server message of a 500', async () => {
    const server = await start({
      script: [{ status: 500, body: { error: { message: 'CUDA out of memory' } } }],
    });
    const engine = await createOpenAiEngine(config(server), {});
    const error = await failure(engine.chat(hi));
    expect(error.status).toBe(500);
    expect(error.message).toMatch(
      /^The server at 127\.0\.0\.1:\d+ failed \(500\): CUDA out of memory\.$/,
    );
  });

  it('reads FastAPI-style {detail} and plain-text error bodies', async () => {
    const server = await start({
      script: [
        { status: 500, body: { detail: 'Model is still loading' } },
        { status: 422, body: 'Bad gateway from proxy' },
      ],
    });
    const engine = await createOpenAiEngine(config(server), {});
    expect((await failure(engine.chat(hi))).message).toContain('Model is still loading');
    expect((await failure(engine.chat(hi))).message).toContain('Bad gateway from proxy');
  });

  it('explains 429 with Retry-After when connecting (chat requests wait instead)', async () => {
    const limited: FetchLike = () =>
      Promise.resolve(
        new Response(JSON.stringify({ error: { message: 'Rate limit reached' } }), {
          status: 429,
          headers: { 'Retry-After': '20' },
        }),
      );
    const error = await failure(
      createOpenAiEngine(
        { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1', model: 'm' },
        {},
        limited,
      ),
    );
    expect(error.status).toBe(429);
    expect(error.message).toMatch(/rate-limiting requests \(429\): Rate limit reached\. Wait 20 s/);
  });

  it('explains a reply that is not JSON', async () => {
    const server = await start({
      script: [{ status: 200, body: '<!DOCTYPE html><html>LM Studio</html>' }],
    });
    const engine = await createOpenAiEngine(config(server), {});
    const error = await failure(engine.chat(hi));
    expect(error.message).toMatch(
      /answered with something that is not JSON \(text\/plain; charset=utf-8: "<!DOCTYPE html>/,
    );
    expect(error.message).toMatch(/Is the base URL right\?/);
  });

  it('maps finish_reason length and estimates usage when the server omits it', async () => {
    const server = await start({
      script: [{ content: 'abcdefgh', finishReason: 'length', omitUsage: true }],
    });
    const engine = await createOpenAiEngine(config(server), {});
    const result = await engine.chat(hi);
    expect(result.finishReason).toBe('length');
    expect(result.usage).toEqual({ promptTokens: estimateTokens('Hi there'), completionTokens: 2 });
  });

  it('aborts an in-flight request with AbortedError', async () => {
    const server = await start({ latencyMs: 5000 });
    const engine = await createOpenAiEngine(config(server), {});
    const controller = new AbortController();
    const started = Date.now();
    const pending = engine.chat({ ...hi, signal: controller.signal });
    await vi.waitFor(() => expect(server.chatBodies()).toHaveLength(1));
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortedError);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('rejects an already-aborted chat without a request', async () => {
    const server = await start();
    const engine = await createOpenAiEngine(config(server), {});
    const controller = new AbortController();
    controller.abort();
    await expect(engine.chat({ ...hi, signal: controller.signal })).rejects.toBeInstanceOf(
      AbortedError,
    );
    expect(server.chatBodies()).toHaveLength(0);
  });

  it('rejects after unload() with NoModelLoadedError', async () => {
    const server = await start();
    const engine = await createOpenAiEngine(config(server), {});
    await engine.unload();
    await expect(engine.chat(hi)).rejects.toBeInstanceOf(NoModelLoadedError);
  });

  it('serves chatJson end to end with schema-valid sampled JSON', async () => {
    const server = await start();
    const engine = await createOpenAiEngine(config(server), {});
    const rich = z.object({
      rules: z
        .array(
          z.object({
            id: z.string().min(3),
            direction: z.enum(['positive', 'negative']),
            weight: z.number().int().min(1).max(5),
            note: z.string().optional(),
          }),
        )
        .min(2),
      confident: z.boolean(),
      source: z.union([z.literal('spec'), z.literal('inferred')]),
    });
    const result = await chatJson(
      engine,
      { messages: [{ role: 'user', content: 'List the rules as JSON.' }], seed: 1 },
      rich,
    );
    expect(result.attempts).toBe(1);
    expect(result.value.rules).toHaveLength(2);
    expect(result.value.rules[0]).toEqual({ id: 'sample', direction: 'positive', weight: 1 });
    expect(result.value.source).toBe('spec');
    expect(result.usage.completionTokens).toBeGreaterThan(0);
    expect(server.chatBodies()[0]?.response_format?.type).toBe('json_schema');
  });
});

describe('fake server fixture', () => {
  it('answers CORS preflights that ask for the Authorization header', async () => {
    const server = await start();
    const response = await fetch(`${server.url}/chat/completions`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'http://127.0.0.1:4173',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization,content-type',
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:4173');
    expect(response.headers.get('access-control-allow-headers')).toBe('authorization,content-type');
    expect(response.headers.get('access-control-allow-methods')).toContain('POST');
    expect(server.requests[0]?.method).toBe('OPTIONS');
  });

  it('sends no CORS headers with cors: false', async () => {
    const server = await start({ cors: false });
    const response = await fetch(`${server.url}/models`, {
      headers: { Origin: 'http://127.0.0.1:4173' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('consumes a scripted queue, then falls back to the default reply', async () => {
    const server = await start({ script: ['first'] });
    const engine = await createOpenAiEngine(config(server), {});
    expect((await engine.chat(hi)).text).toBe('first');
    expect((await engine.chat(hi)).text).toBe('Echo: Hi there');
  });

  it('samples web-llm style json_object requests from their stringified schema', async () => {
    const server = await start();
    const response = await fetch(`${server.url}/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        messages: [{ role: 'user', content: 'x' }],
        response_format: {
          type: 'json_object',
          schema: JSON.stringify({
            type: 'object',
            properties: { n: { type: 'integer', minimum: 3 } },
            required: ['n'],
          }),
        },
      }),
    });
    const body = (await response.json()) as { choices: Array<{ message: { content: string } }> };
    expect(JSON.parse(body.choices[0]!.message.content)).toEqual({ n: 3 });
  });

  it.each([
    [
      'nested objects and arrays',
      z.object({ a: z.array(z.object({ b: z.string() })).min(1), c: z.number() }),
    ],
    [
      'bounded numbers',
      z.object({ x: z.number().gt(2).lt(10), y: z.number().int().multipleOf(5).min(7) }),
    ],
    [
      'string bounds and formats',
      z.object({ s: z.string().min(10).max(12), e: z.email(), u: z.uuid() }),
    ],
    ['nullable and optional', z.object({ n: z.string().nullable(), o: z.number().optional() })],
    [
      'records and tuples',
      z.object({ r: z.record(z.string(), z.number()), t: z.tuple([z.string(), z.boolean()]) }),
    ],
    [
      'discriminated unions',
      z.discriminatedUnion('kind', [
        z.object({ kind: z.literal('a'), v: z.string() }),
        z.object({ kind: z.literal('b') }),
      ]),
    ],
    [
      'recursive refs',
      z.object({ tree: z.lazy((): z.ZodType => z.object({ children: z.array(z.any()) })) }),
    ],
  ])('sampleFromSchema yields a valid value for %s', (_name, schema: z.ZodType) => {
    const value = sampleFromSchema(toJsonSchema(schema));
    expect(schema.safeParse(value).success).toBe(true);
  });
});
