/**
 * The CPU engine through the app itself: pick the tiny random-weight GGUF made by the fixture
 * (no binary is committed), load it in wllama inside the pipeline worker, and run "test this
 * model": a chat and a JSON-schema call that must come back schema-valid.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeTinyGguf } from '../fixtures/make-tiny-gguf.mjs';
import { createProject, expect, test } from './fixtures';

let modelPath: string;
let notGguf: string;

test.beforeAll(async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'specalign-gguf-'));
  modelPath = path.join(dir, 'tiny-llama.gguf');
  await makeTinyGguf(modelPath, { seed: 7 });
  notGguf = path.join(dir, 'notes.gguf');
  await writeFile(notGguf, '<!DOCTYPE html><html>not a model</html>');
});

test('a local GGUF loads in wllama and answers a JSON-schema call with schema-valid JSON', async ({
  page,
}) => {
  const id = await createProject(page, 'CPU model');
  await page.goto(`/#/p/${id}/models`);
  await page.getByRole('radio', { name: 'GGUF (wllama: WebGPU or CPU)' }).check();
  await page.getByLabel('GGUF file').setInputFiles(modelPath);
  await page.getByLabel('Context size (tokens)').fill('1024');
  await page
    .getByRole('form', { name: 'GGUF model (wllama)' })
    .getByRole('button', { name: 'Load model' })
    .click();

  const row = page.getByRole('row', { name: /tiny-llama\.gguf/ });
  await expect(row).toBeVisible({ timeout: 60_000 });
  await expect(row).toContainText('wllama');
  await expect(page.getByText('Default for every role: tiny-llama.gguf (wllama)')).toBeVisible();

  // Where it runs, and why: default headless Chromium has no WebGPU adapter.
  const runsOn = row.locator('[data-backend]');
  await expect(runsOn).toHaveAttribute('data-backend', 'cpu');
  await expect(runsOn).toContainText(/^CPU \(\d+ threads?\)/);
  await expect(runsOn).toContainText('CPU: no WebGPU adapter');
  await expect(
    page.getByRole('form', { name: 'GGUF model (wllama)' }).locator('[data-gguf-outlook]'),
  ).toHaveAttribute('data-gguf-outlook', 'cpu');

  await page.getByRole('button', { name: 'Test tiny-llama.gguf' }).click();
  await expect(row).toContainText('JSON valid', { timeout: 90_000 });
  // Prefill and decode separately, as whole numbers, from llama.cpp's own timings, and where.
  await expect(row.getByTestId('speed')).toHaveText(
    /^Prompt [\d,]+ tokens\/s · generation [\d,]+ tokens\/s$/,
  );
  await expect(row).toContainText(/on CPU \(\d+ threads?\)/);
  await expect(row).not.toContainText('from whole-call times');
  await row.getByText('Replies').click();
  const json = await row.locator('code.reply').innerText();
  const value = JSON.parse(json) as { rule: unknown; direction: unknown };
  expect(typeof value.rule).toBe('string');
  expect(['positive', 'negative']).toContain(value.direction);

  // The picked file is kept in the browser, listed, survives a reload, and can be deleted.
  const stored = () => page.getByRole('region', { name: 'Models stored in this browser' });
  await expect(stored()).toContainText(/tiny-llama\.gguf \(wllama, 470 KB\)/);
  await page.reload();
  await expect(stored()).toContainText('tiny-llama.gguf');
  await stored().getByRole('button', { name: 'Delete tiny-llama.gguf from this browser' }).click();
  await expect(stored()).toContainText('No downloaded or picked model files are stored yet.');
});

test('a file that is not a GGUF gets a specific message and loads nothing', async ({ page }) => {
  const id = await createProject(page, 'Wrong file');
  await page.goto(`/#/p/${id}/models`);
  await page.getByRole('radio', { name: 'GGUF (wllama: WebGPU or CPU)' }).check();
  await page.getByLabel('GGUF file').setInputFiles(notGguf);
  await page
    .getByRole('form', { name: 'GGUF model (wllama)' })
    .getByRole('button', { name: 'Load model' })
    .click();
  await expect(page.getByRole('alert')).toContainText('"notes.gguf" is not a GGUF model file');
  await expect(page.getByText('No model is loaded in this tab yet.')).toBeVisible();
});
