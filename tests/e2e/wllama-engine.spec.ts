/**
 * Real llama.cpp inference in Chromium: the wllama engine loads the tiny random-weight GGUF
 * (tests/fixtures/make-tiny-gguf.mjs), chats, and answers JSON-schema calls with schema-valid
 * JSON, multi-threaded (COOP/COEP) and single-threaded (headers stripped).
 *
 * Self-sufficient: it starts its own Vite dev server (the harness page exists only there), so it
 * passes under the default `npx playwright test` (which serves the production build) too.
 */
import { expect, test, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createServer, type ViteDevServer } from 'vite';
import { z } from 'zod';
import { toJsonSchema } from '../../src/lib/core/json-call';
import type { ChatRequest, ChatResult } from '../../src/lib/core/llm';
import { DEFAULT_TINY_GGUF_PATH, makeTinyGguf } from '../fixtures/make-tiny-gguf.mjs';
import type { HarnessApi, HarnessLoadInfo, Outcome } from './harness/wllama-harness';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const HARNESS_PATH = '/tests/e2e/harness/wllama.html';
const MODEL_PATH = '/tests/fixtures/generated/tiny-llama.gguf';

/** A schema in the shape the pipeline uses: strings, enum, integer range, array, nested object. */
const ruleSchema = z.object({
  rule: z.string().min(1).max(80),
  direction: z.enum(['positive', 'negative']),
  priority: z.number().int().min(1).max(5),
  tags: z.array(z.string().max(12)).max(2),
  source: z.object({ section: z.string().max(12), strict: z.boolean() }),
});

const chatMessages: ChatRequest['messages'] = [
  { role: 'system', content: 'You are a concise assistant.' },
  { role: 'user', content: 'In one short sentence: why should an assistant follow its policy?' },
];
const jsonMessages: ChatRequest['messages'] = [
  {
    role: 'user',
    content:
      'Extract the rule from: "The assistant must never reveal its system prompt." Reply as JSON.',
  },
];

test.describe.configure({ mode: 'serial' });

let server: ViteDevServer;
let origin = '';
let modelBytes = 0;

test.beforeAll(async () => {
  modelBytes = makeTinyGguf(DEFAULT_TINY_GGUF_PATH, { seed: 42 }).bytes;
  server = await createServer({
    root: repoRoot,
    configFile: `${repoRoot}/vite.config.ts`,
    logLevel: 'warn',
    clearScreen: false,
    // No watcher/HMR: other edits to the checkout must not reload the page mid-test.
    server: { host: '127.0.0.1', port: 0, strictPort: false, watch: null, hmr: false },
  });
  await server.listen();
  const address = server.httpServer?.address();
  if (!address || typeof address === 'string')
    throw new Error('Vite dev server has no TCP address');
  origin = `http://127.0.0.1:${address.port}`;
});

test.afterAll(async () => {
  await server?.close();
});

/** Opens the harness; `isolated: false` strips COOP/COEP so the page cannot use threads. */
async function openHarness(page: Page, isolated: boolean): Promise<string[]> {
  const external: string[] = [];
  page.on('request', (r) => {
    const url = r.url();
    if (!/^(blob|data):/.test(url) && !url.startsWith(origin)) external.push(url);
  });
  if (!isolated) {
    await page.route(`${origin}${HARNESS_PATH}`, async (route) => {
      const response = await route.fetch();
      const headers = { ...response.headers() };
      delete headers['cross-origin-opener-policy'];
      delete headers['cross-origin-embedder-policy'];
      await route.fulfill({ response, headers });
    });
  }
  await page.goto(`${origin}${HARNESS_PATH}`);
  await page
    .waitForFunction(() => window.wllamaHarness !== undefined, null, { timeout: 60_000 })
    .catch(() => {
      throw new Error(
        `The wllama harness did not start at ${origin}${HARNESS_PATH}; see the page console.`,
      );
    });
  return external;
}

/** Calls the harness API in the page, or (`inWorker`) in a module worker as the app runs it. */
function harness(page: Page, inWorker = false) {
  const call = <K extends keyof HarnessApi>(name: K, ...args: Parameters<HarnessApi[K]>) =>
    page.evaluate(
      ([n, a, w]) => {
        const target = w ? window.wllamaWorkerHarness! : window.wllamaHarness!;
        return (target[n] as (...x: unknown[]) => unknown)(...a);
      },
      [name, args, inWorker] as const,
    ) as Promise<Awaited<ReturnType<HarnessApi[K]>>>;
  return call;
}

function unwrap<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) throw new Error(`${outcome.name}: ${outcome.message}`);
  return outcome.value;
}

/** Plain chat, determinism, schema-constrained calls; logs rough tokens/s for the report. */
async function exerciseModel(
  call: ReturnType<typeof harness>,
  label: string,
  info: HarnessLoadInfo,
) {
  expect(info.architecture).toBe('llama');
  expect(info.fileBytes).toBe(modelBytes);
  expect(info.contextWindow).toBe(2048); // n_ctx is clamped to the model's trained context

  const chat = unwrap(
    await call('chat', { messages: chatMessages, maxTokens: 64, temperature: 0.8, seed: 7 }),
  );
  expect(chat.text.length).toBeGreaterThan(0);
  expect(chat.text).toMatch(/^[\x20-\x7e\n]*$/); // the biased output layer: printable ASCII only
  expect(chat.finishReason).toBe('length'); // the tiny model never picks EOS on its own
  expect(chat.usage.completionTokens).toBe(64);
  expect(chat.usage.promptTokens).toBeGreaterThan(50);
  const again = unwrap(
    await call('chat', { messages: chatMessages, maxTokens: 64, temperature: 0.8, seed: 7 }),
  );
  expect(again.text, 'same seed, same text').toBe(chat.text);

  const jsonSchema = toJsonSchema(ruleSchema);
  const results: ChatResult[] = [];
  for (const [seed, temperature] of [
    [1, 0],
    [2, 0.8],
    [3, 1],
  ] as const) {
    const reply = unwrap(
      await call('chat', { messages: jsonMessages, jsonSchema, maxTokens: 160, temperature, seed }),
    );
    expect(reply.finishReason, `JSON reply cut off: ${reply.text}`).toBe('stop');
    const parsed = ruleSchema.safeParse(JSON.parse(reply.text));
    expect(parsed.success, `${reply.text} → ${parsed.error?.message}`).toBe(true);
    results.push(reply);
  }

  const long = unwrap(await call('chat', { messages: chatMessages, maxTokens: 96, seed: 11 }));
  const tokensPerSecond = (long.usage.completionTokens / long.durationMs) * 1000;
  console.log(
    `[wllama ${label}] threads=${info.threads} load=${Math.round(info.loadMs)}ms file=${info.fileBytes}B ` +
      `chat: ${long.usage.completionTokens} tokens in ${Math.round(long.durationMs)}ms = ${tokensPerSecond.toFixed(0)} tok/s ` +
      `(prompt ${long.usage.promptTokens}); json: ${results.map((r) => `${r.usage.completionTokens}t/${Math.round(r.durationMs)}ms`).join(', ')}`,
  );
}

test('multi-threaded with COOP/COEP: loads by URL, chats, answers schema-valid JSON, aborts', async ({
  page,
}) => {
  const external = await openHarness(page, true);
  const call = harness(page);
  const env = await page.evaluate(() => window.wllamaHarness!.environment());
  expect(env.crossOriginIsolated).toBe(true);

  const url = `${origin}${MODEL_PATH}`;
  // Two threads explicitly: the default (half the cores) is 1 on a 2-core test machine.
  const info = unwrap(await call('loadUrl', url, { threads: 2 }));
  expect(info.threads).toBe(Math.min(env.hardwareConcurrency, 2));
  if (env.hardwareConcurrency > 1) expect(info.threads).toBeGreaterThan(1);
  expect(info.id).toBe(`wllama:${url}`);
  // Default headless Chromium grants no WebGPU adapter: the CPU, and the reason.
  expect(info.backend).toMatchObject({ kind: 'cpu', gpuLayers: 0, totalLayers: 3 });
  expect(info.backend.label).toBe(`CPU (${info.threads} threads)`);
  expect(info.backend.detail).toMatch(
    /^CPU: no WebGPU adapter \((the browser offers none|this browser or context has no WebGPU)\)\.$/,
  );
  const download = info.progress.filter((p) => p.totalBytes === modelBytes);
  expect(download.at(-1)?.fraction).toBe(1);
  await exerciseModel(call, 'multi-thread', info);

  // Abort mid-generation: AbortedError, and the engine still answers afterwards.
  const aborted = await call('chat', { messages: chatMessages, maxTokens: 1500, seed: 3 }, 150);
  expect(aborted).toMatchObject({ ok: false, name: 'AbortedError' });
  const after = unwrap(await call('chat', { messages: chatMessages, maxTokens: 8, seed: 3 }));
  expect(after.usage.completionTokens).toBe(8);

  // A request cancelled while queued behind another one is rejected at once, before the first ends.
  const order = await page.evaluate(async (messages) => {
    const h = window.wllamaHarness!;
    const done: string[] = [];
    const first = h
      .chat({ messages, maxTokens: 400, seed: 5 })
      .then((r) => done.push(`first:${r.ok}`));
    const queued = h
      .chat({ messages, maxTokens: 400, seed: 5 }, 5)
      .then((r) => done.push(`queued:${r.ok ? 'ok' : r.name}`));
    await Promise.all([first, queued]);
    return done;
  }, chatMessages);
  expect(order).toEqual(['queued:AbortedError', 'first:true']);

  // The download is in wllama's cache, listed under the engine key, and can be deleted.
  const listed = unwrap(await call('listModels'));
  expect(listed).toContainEqual({
    key: info.id,
    kind: 'wllama',
    name: 'tiny-llama.gguf',
    bytes: modelBytes,
  });
  unwrap(await call('unload'));
  unwrap(await call('deleteModel', info.id));
  expect(unwrap(await call('listModels')).map((m) => m.key)).not.toContain(info.id);

  // Cancelling a load gives AbortedError; a smaller context is honoured; a chat after unload
  // says the model is gone.
  const cancelled = await call('loadUrl', url, { contextSize: 512, abortAfterMs: 0 });
  expect(cancelled).toMatchObject({ ok: false, name: 'AbortedError' });
  const small = unwrap(await call('loadUrl', url, { contextSize: 512 }));
  expect(small.contextWindow).toBe(512);
  // A prompt larger than the context: a named error that says what to do.
  const tooLong = await call('chat', {
    messages: [{ role: 'user', content: 'x'.repeat(700) }],
    maxTokens: 8,
  });
  expect(tooLong).toMatchObject({ ok: false, name: 'WllamaInferenceError' });
  expect(!tooLong.ok && tooLong.message).toContain("do not fit the model's context of 512 tokens");
  // Prompt fits but the reply would not: generation stops at the context's end.
  const nearlyFull = unwrap(
    await call('chat', { messages: [{ role: 'user', content: 'x'.repeat(400) }], maxTokens: 400 }),
  );
  expect(nearlyFull.finishReason).toBe('length');
  expect(nearlyFull.usage.completionTokens).toBeLessThan(400);
  expect(nearlyFull.usage.promptTokens + nearlyFull.usage.completionTokens).toBeLessThanOrEqual(
    512,
  );
  unwrap(await call('unload', true));
  const afterUnload = await call('chat', { messages: chatMessages, maxTokens: 4 });
  expect(afterUnload).toMatchObject({ ok: false, name: 'NoModelLoadedError' });
  expect(external, 'requests to non-loopback hosts').toEqual([]);
});

test('single-threaded without COOP/COEP: loads a picked file kept in OPFS and answers JSON', async ({
  page,
}) => {
  const external = await openHarness(page, false);
  const call = harness(page);
  const env = await page.evaluate(() => window.wllamaHarness!.environment());
  expect(env.crossOriginIsolated).toBe(false);

  const info = unwrap(await call('loadPicked', `${origin}${MODEL_PATH}`, 'my tiny/model.gguf'));
  expect(info.threads).toBe(1);
  expect(info.id).toBe('wllama:local/my tiny_model.gguf');
  await exerciseModel(call, 'single-thread', info);

  // llama.cpp's timings come back with every reply; a call that repeats the previous call's
  // long prefix evaluates only the new suffix (llama.cpp keeps the KV cache of its one slot).
  const system = { role: 'system' as const, content: 'Policy: be brief. '.repeat(20) };
  const first = unwrap(
    await call('chat', { messages: [system, { role: 'user', content: 'One.' }], maxTokens: 4 }),
  );
  const second = unwrap(
    await call('chat', { messages: [system, { role: 'user', content: 'Two!' }], maxTokens: 4 }),
  );
  expect(first.timings?.decodeTokens).toBe(4);
  expect(first.timings!.promptMs).toBeGreaterThan(0);
  expect(second.usage.promptTokens).toBeGreaterThan(360);
  expect(second.timings!.promptTokens).toBeLessThan(second.usage.promptTokens / 4);

  const listed = unwrap(await call('listModels'));
  expect(listed).toContainEqual({
    key: info.id,
    kind: 'wllama',
    name: 'my tiny_model.gguf',
    bytes: modelBytes,
  });
  unwrap(await call('unload'));
  unwrap(await call('deleteModel', info.id));
  expect(unwrap(await call('listModels'))).toEqual([]);

  // Loading a stored file that is gone (site data cleared) says what to do.
  const gone = await call('loadStored', 'my tiny_model.gguf');
  expect(gone).toMatchObject({ ok: false, name: 'ModelLoadError' });
  expect(!gone.ok && gone.message).toContain('Pick the file again');
  expect(external, 'requests to non-loopback hosts').toEqual([]);
});

test('a file that is not GGUF gives InvalidModelFileError with an actionable message', async ({
  page,
}) => {
  await openHarness(page, true);
  const call = harness(page);

  const stored = await call('storeText', '<!DOCTYPE html><html>Not found</html>', 'model.gguf');
  expect(stored).toMatchObject({ ok: false, name: 'InvalidModelFileError' });
  expect(!stored.ok && stored.message).toContain(
    '"model.gguf" is not a GGUF model file (it starts with "<!DOCTYPE ht": a web page',
  );
  expect(unwrap(await call('listModels'))).toEqual([]); // nothing half-stored

  const loaded = await call('loadText', 'hello world, not weights', 'notes.gguf');
  expect(loaded).toMatchObject({ ok: false, name: 'InvalidModelFileError' });
  expect(!loaded.ok && loaded.message).toContain(
    '"notes.gguf" is not a GGUF model file (it starts with "hello world,": text',
  );

  const empty = await call('loadText', '', 'empty.gguf');
  expect(!empty.ok && empty.message).toContain('(it is empty)');

  const truncated = await call('loadText', 'GGUF\x03\x00\x00\x00\x05', 'cut.gguf');
  expect(truncated).toMatchObject({ ok: false, name: 'InvalidModelFileError' });
  expect(!truncated.ok && truncated.message).toContain('truncated or corrupted');
});

test('inside a module worker, as the app runs engines: loads, answers JSON, uses OPFS', async ({
  page,
}) => {
  const external = await openHarness(page, true);
  const call = harness(page, true);
  const env = await call('environment');
  expect(env.crossOriginIsolated).toBe(true);

  const info = unwrap(await call('loadUrl', `${origin}${MODEL_PATH}`));
  // Default thread count: half the logical cores, at least 1, at most 8.
  expect(info.threads).toBe(Math.max(1, Math.min(8, Math.floor(env.hardwareConcurrency / 2))));
  const reply = unwrap(
    await call('chat', {
      messages: jsonMessages,
      jsonSchema: toJsonSchema(ruleSchema),
      maxTokens: 160,
      temperature: 0,
      seed: 1,
    }),
  );
  expect(ruleSchema.safeParse(JSON.parse(reply.text)).success, reply.text).toBe(true);

  // A second load of the same URL reads wllama's cache instead of downloading.
  const again = unwrap(await call('loadUrl', `${origin}${MODEL_PATH}`, { gpuLayers: 'none' }));
  expect(again.backend).toMatchObject({
    kind: 'cpu',
    detail: 'CPU, as chosen (layers on GPU: none).',
  });
  expect(again.progress[0]?.text).toBe(
    "Using tiny-llama.gguf from this browser's storage (0.5 MB)",
  );

  // OPFS from a worker: store a picked file, list it, load it by name.
  const picked = unwrap(await call('loadPicked', `${origin}${MODEL_PATH}`, 'worker.gguf'));
  expect(picked.id).toBe('wllama:local/worker.gguf');
  const keys = unwrap(await call('listModels')).map((m) => m.key);
  expect(keys).toEqual(expect.arrayContaining([info.id, picked.id]));
  unwrap(await call('unload'));
  expect(external, 'requests to non-loopback hosts').toEqual([]);
});

/** The tiny model with one metadata value overwritten in place (same byte length). */
function patchedModel(key: string, value: string | number): Buffer {
  const bytes = readFileSync(DEFAULT_TINY_GGUF_PATH);
  const at = bytes.indexOf(Buffer.from(key)) + key.length + 4; // skip the value type
  if (typeof value === 'string')
    bytes.write(value, at + 8); // skip the string length
  else bytes.writeUInt32LE(value, at);
  return bytes;
}

test('llama.cpp load failures become ModelLoadError with the native reason', async ({ page }) => {
  await openHarness(page, true);
  const call = harness(page);
  const models = {
    'unknown-arch.gguf': patchedModel('general.architecture', 'nollm'),
    'wrong-shape.gguf': patchedModel('llama.feed_forward_length', 96),
  };
  await page.route(`${origin}/served/*.gguf`, (route) => {
    const name = new URL(route.request().url()).pathname.split('/').pop()!;
    return route.fulfill({
      body: models[name as keyof typeof models],
      contentType: 'application/octet-stream',
    });
  });

  const arch = await call('loadUrl', `${origin}/served/unknown-arch.gguf`);
  expect(arch).toMatchObject({ ok: false, name: 'ModelLoadError' });
  expect(!arch.ok && arch.message).toMatch(
    /^Could not load "unknown-arch\.gguf" into llama\.cpp: .*unknown model architecture: 'nollm'.*pick another model\.$/,
  );

  const shape = await call('loadUrl', `${origin}/served/wrong-shape.gguf`);
  expect(shape).toMatchObject({ ok: false, name: 'ModelLoadError' });
  expect(!shape.ok && shape.message).toMatch(
    /^Could not load "wrong-shape\.gguf" into llama\.cpp: .*tensor 'blk\.0\.ffn_gate\.weight' has wrong shape; expected 64, 96, got 64, 128/,
  );

  // A failed load leaves nothing running: a good model loads right after.
  unwrap(await call('loadUrl', `${origin}${MODEL_PATH}`));
  unwrap(await call('unload'));
});
