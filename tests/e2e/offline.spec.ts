/**
 * Offline (issue: trust): after the first visit the service worker has the app shell, so the
 * app loads and works with the network gone — projects, the example spec, ingestion.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeTinyGguf } from '../fixtures/make-tiny-gguf.mjs';
import { expect, test } from './fixtures';

test('after one visit the app loads and works offline', async ({ page, context }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1, name: 'Projects' })).toBeVisible();
  // Wait until the service worker is installed and controls the page.
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise<void>((resolve) =>
        navigator.serviceWorker.addEventListener('controllerchange', () => resolve(), {
          once: true,
        }),
      );
    }
  });

  await context.setOffline(true);
  try {
    await page.reload();
    await expect(page.getByRole('heading', { level: 1, name: 'Projects' })).toBeVisible();
    expect(await page.evaluate(() => navigator.onLine)).toBe(false);
    // Still cross-origin isolated from the cached shell: wllama keeps its threads offline.
    expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);

    await page.getByLabel('New project name').fill('Offline project');
    await page.getByRole('button', { name: 'Create project' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Spec' })).toBeVisible();
    await page.getByRole('button', { name: 'Try an example' }).click();
    await expect(page.getByText(/Imported version 1: \d+ sections/)).toBeVisible();
  } finally {
    await context.setOffline(false);
  }
});

test('a model stored in the browser keeps working offline', async ({ page, context }) => {
  test.setTimeout(180_000);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'specalign-gguf-'));
  const modelPath = path.join(dir, 'tiny-llama.gguf');
  await makeTinyGguf(modelPath, { seed: 1, contextLength: 8192 });

  // Online, once: the page, the engine's code and the model file (kept in OPFS).
  await page.goto('/');
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.getByLabel('New project name').fill('Offline model');
  await page.getByRole('button', { name: 'Create project' }).click();
  await page
    .getByLabel('…or paste the text')
    .fill('# Kiosk\n\n## Privacy\n\nThe assistant must never read card numbers aloud.\n');
  await page.getByRole('button', { name: 'Import pasted text' }).click();
  await expect(page.getByText(/Imported version 1/)).toBeVisible();
  const id = /#\/p\/([^/]+)\//.exec(page.url())?.[1] ?? '';
  await page.goto(`/#/p/${id}/models`);
  await page.getByRole('radio', { name: 'GGUF (wllama: WebGPU or CPU)' }).check();
  await page.getByLabel('GGUF file').setInputFiles(modelPath);
  await page.getByLabel('Context size (tokens)').fill('8192');
  await page
    .getByRole('form', { name: 'GGUF model (wllama)' })
    .getByRole('button', { name: 'Load model' })
    .click();
  await expect(page.getByText('Default for every role: tiny-llama.gguf (wllama)')).toBeVisible({
    timeout: 60_000,
  });

  await context.setOffline(true);
  try {
    await page.reload();
    await page.goto(`/#/p/${id}/rules`);
    // The worker loads the stored model from OPFS and llama.cpp from the cache, with no network.
    await page.getByRole('button', { name: 'Annotate spec' }).click();
    await expect(page.getByText(/Last annotation: done/)).toBeVisible({ timeout: 120_000 });
    await expect(page.getByText(/chunks? failed/)).toHaveCount(0);
  } finally {
    await context.setOffline(false);
  }
});
