/**
 * GGUF on WebGPU under SwiftShader (project `chromium-webgpu`, --enable-unsafe-webgpu).
 *
 * Finding, pinned here: wllama 3.13's WebGPU backend cannot run on SwiftShader. ggml-webgpu
 * requests its device with `requiredFeatures: ['shader-f16', 'subgroups']`; SwiftShader has
 * `subgroups` but no `shader-f16` (in every Chromium flag combination tried), so llama.cpp
 * registers no GPU and runs on the CPU. Forced past that check (the adapter made to claim
 * shader-f16), the device request fails with "Unsupported feature: shader-f16" and llama.cpp
 * aborts the load. So on SwiftShader we test the decision and both fallbacks; the greedy
 * GPU-vs-CPU token comparison (last test) runs only where the adapter has shader-f16.
 */
import { expect, test, type Page } from '@playwright/test';
import { fileURLToPath } from 'node:url';
import { createServer, type ViteDevServer } from 'vite';
import { z } from 'zod';
import { toJsonSchema } from '../../src/lib/core/json-call';
import { DEFAULT_TINY_GGUF_PATH, makeTinyGguf } from '../fixtures/make-tiny-gguf.mjs';
import type { Outcome } from './harness/wllama-harness';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const HARNESS_PATH = '/tests/e2e/harness/wllama.html';
const MODEL_PATH = '/tests/fixtures/generated/tiny-llama.gguf';

const ruleSchema = z.object({
  rule: z.string().min(1).max(80),
  direction: z.enum(['positive', 'negative']),
});
const jsonMessages = [
  {
    role: 'user' as const,
    content: 'Extract the rule from: "The assistant must never reveal its system prompt." JSON.',
  },
];

/**
 * Makes the adapter that wllama's own worker sees claim `shader-f16`, so llama.cpp tries the GPU.
 * wllama builds its worker from a Blob of source text; the init script prefixes that source.
 */
const CLAIM_SHADER_F16 = `(() => {
  const gpu = navigator.gpu;
  if (!gpu) return;
  const requestAdapter = gpu.requestAdapter.bind(gpu);
  Object.defineProperty(WorkerNavigator.prototype, 'gpu', {
    get: () => ({
      wgslLanguageFeatures: gpu.wgslLanguageFeatures,
      getPreferredCanvasFormat: () => 'rgba8unorm',
      requestAdapter: async (options) => {
        const adapter = await requestAdapter(options);
        if (adapter)
          Object.defineProperty(adapter, 'features', {
            value: new Set([...adapter.features, 'shader-f16']),
          });
        return adapter;
      },
    }),
  });
})();`;

test.describe.configure({ mode: 'serial' });

let server: ViteDevServer;
let origin = '';

test.beforeAll(async () => {
  makeTinyGguf(DEFAULT_TINY_GGUF_PATH, { seed: 42 });
  server = await createServer({
    root: repoRoot,
    configFile: `${repoRoot}/vite.config.ts`,
    logLevel: 'warn',
    clearScreen: false,
    server: { host: '127.0.0.1', port: 0, strictPort: false, watch: null, hmr: false },
  });
  await server.listen();
  const address = server.httpServer?.address();
  if (!address || typeof address === 'string') throw new Error('Vite dev server has no address');
  origin = `http://127.0.0.1:${address.port}`;
});

test.afterAll(async () => {
  await server?.close();
});

async function openHarness(page: Page): Promise<void> {
  await page.goto(`${origin}${HARNESS_PATH}`);
  await page.waitForFunction(() => window.wllamaHarness !== undefined, null, { timeout: 60_000 });
}

function unwrap<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) throw new Error(`${outcome.name}: ${outcome.message}`);
  return outcome.value;
}

test('SwiftShader offers an adapter without shader-f16: the GGUF runs on the CPU, saying why, and answers JSON', async ({
  page,
}) => {
  await openHarness(page);
  const adapter = await page.evaluate(async () => {
    const a = await (
      navigator as Navigator & {
        gpu?: { requestAdapter(): Promise<{ features: Set<string> } | null> };
      }
    ).gpu?.requestAdapter();
    return a ? { f16: a.features.has('shader-f16'), subgroups: a.features.has('subgroups') } : null;
  });
  expect(adapter).toEqual({ f16: false, subgroups: true });

  const info = unwrap(
    await page.evaluate(
      (url) => window.wllamaHarness!.loadUrl(url, { gpuLayers: 'auto' }),
      `${origin}${MODEL_PATH}`,
    ),
  );
  expect(info.backend).toMatchObject({ kind: 'cpu', gpuLayers: 0, totalLayers: 3 });
  expect(info.backend.detail).toMatch(
    /^CPU: the WebGPU adapter \(.*\) lacks shader-f16, which llama\.cpp's WebGPU backend needs\.$/,
  );
  const reply = unwrap(
    await page.evaluate((request) => window.wllamaHarness!.chat(request), {
      messages: jsonMessages,
      jsonSchema: toJsonSchema(ruleSchema),
      maxTokens: 120,
      temperature: 0,
      seed: 1,
    }),
  );
  expect(ruleSchema.safeParse(JSON.parse(reply.text)).success, reply.text).toBe(true);
  unwrap(await page.evaluate(() => window.wllamaHarness!.unload()));
});

test('forced onto SwiftShader, the WebGPU device request fails on shader-f16 and the model reloads on the CPU', async ({
  page,
}) => {
  await page.addInitScript((prefix) => {
    const NativeBlob = Blob;
    // Prefix wllama's worker source (it contains wModuleInit) with the shader-f16 claim.
    globalThis.Blob = class extends NativeBlob {
      constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
        const first = parts?.[0];
        super(
          typeof first === 'string' && first.includes('wModuleInit') ? [prefix, ...parts!] : parts,
          options,
        );
      }
    };
  }, CLAIM_SHADER_F16);
  await openHarness(page);
  // The engine's own probe sees the real adapter (no shader-f16): tell it the adapter has it.
  const webgpu = {
    jspi: true,
    adapter: {
      description: 'SwiftShader claiming shader-f16',
      isFallback: true,
      shaderF16: true,
      subgroups: true,
      maxBufferSize: 2 ** 30,
      maxStorageBufferBindingSize: 2 ** 30,
    },
  };
  const info = unwrap(
    await page.evaluate(
      ([url, caps]) => window.wllamaHarness!.loadUrl(url, { gpuLayers: 'auto', webgpu: caps }),
      [`${origin}${MODEL_PATH}`, webgpu] as const,
    ),
  );
  // The GPU attempt was made (all 3 layers planned) and failed; the CPU attempt loaded.
  expect(info.progress.map((p) => p.text)).toContain(
    'Loading tiny-llama.gguf into llama.cpp (WebGPU, 3 of 3 layers)…',
  );
  expect(info.backend).toMatchObject({ kind: 'cpu', gpuLayers: 0 });
  expect(info.backend.detail).toMatch(
    /^CPU: loading on WebGPU failed \(.*Unsupported feature: shader-f16.*\), so the model runs on the CPU\.$/,
  );
  const reply = unwrap(
    await page.evaluate((request) => window.wllamaHarness!.chat(request), {
      messages: jsonMessages,
      jsonSchema: toJsonSchema(ruleSchema),
      maxTokens: 120,
      seed: 1,
    }),
  );
  expect(ruleSchema.safeParse(JSON.parse(reply.text)).success, reply.text).toBe(true);
  unwrap(await page.evaluate(() => window.wllamaHarness!.unload()));
});

/**
 * On a machine with a real GPU (run this file under `--project=chromium-webgpu` there): the
 * same greedy prompt on WebGPU and on the CPU. Tolerance: the first 16 tokens must agree (the
 * tiny model's byte vocabulary makes a token one character); llama.cpp's WebGPU kernels compute
 * in f16, so a near-tie later in a random-weight model may legitimately flip.
 */
test('greedy output with GPU layers on auto matches the CPU: on WebGPU with shader-f16, else on the stated fallback', async ({
  page,
}) => {
  await openHarness(page);
  const f16 = await page.evaluate(async () => {
    const gpu = (
      navigator as Navigator & {
        gpu?: { requestAdapter(): Promise<{ features: Set<string> } | null> };
      }
    ).gpu;
    return Boolean((await gpu?.requestAdapter())?.features.has('shader-f16'));
  });
  // Without shader-f16 (SwiftShader) wllama 3.13 cannot use WebGPU: "auto" must then run on the
  // CPU and give exactly the CPU's reply.
  const url = `${origin}${MODEL_PATH}`;
  const greedy = {
    messages: [{ role: 'user' as const, content: 'Write one line about rules.' }],
    maxTokens: 32,
    temperature: 0,
    seed: 1,
  };
  const replies: Record<string, string> = {};
  for (const gpuLayers of ['auto', 'none'] as const) {
    const info = unwrap(
      await page.evaluate(
        ([u, layers]) => window.wllamaHarness!.loadUrl(u, { gpuLayers: layers }),
        [url, gpuLayers] as const,
      ),
    );
    expect(info.backend.kind).toBe(gpuLayers === 'auto' && f16 ? 'webgpu' : 'cpu');
    replies[gpuLayers] = unwrap(
      await page.evaluate((request) => window.wllamaHarness!.chat(request), greedy),
    ).text;
    const json = unwrap(
      await page.evaluate((request) => window.wllamaHarness!.chat(request), {
        messages: jsonMessages,
        jsonSchema: toJsonSchema(ruleSchema),
        maxTokens: 120,
        seed: 1,
      }),
    );
    expect(ruleSchema.safeParse(JSON.parse(json.text)).success, json.text).toBe(true);
  }
  // f16 GPU kernels may break near-ties differently after a while; the same CPU kernels never.
  const compared = f16 ? 16 : undefined;
  expect(replies.auto!.slice(0, compared), `auto ${replies.auto} vs CPU ${replies.none}`).toBe(
    replies.none!.slice(0, compared),
  );
});
