/**
 * A project whose every role runs the tiny GGUF in wllama, with `rules` added by hand and one
 * instance holding all of them: ready to generate (the wllama synthesis e2e test and the prompt
 * reuse bench).
 */
import type { Page } from '@playwright/test';
import { createProject, expect } from '../fixtures';

export const TINY_GGUF_RULES = [
  'The assistant must never read card numbers aloud.',
  'The assistant should answer in two sentences or fewer.',
];

/** Creates the project through the UI; returns its id. */
export async function setUpTinyGgufProject(
  page: Page,
  name: string,
  modelPath: string,
  rules: readonly string[] = TINY_GGUF_RULES,
): Promise<string> {
  const id = await createProject(page, name);
  await page
    .getByLabel('…or paste the text')
    .fill('# Kiosk policy\n\n## Privacy\n\nThe assistant must never read card numbers aloud.\n');
  await page.getByRole('button', { name: 'Import pasted text' }).click();
  await expect(page.getByText(/Imported version 1/)).toBeVisible();

  await page.goto(`/#/p/${id}/models`);
  await page.getByRole('radio', { name: 'GGUF (wllama: WebGPU or CPU)' }).check();
  await page.getByLabel('GGUF file').setInputFiles(modelPath);
  // One token per byte in the tiny model: agent prompts need a long context.
  await page.getByLabel('Context size (tokens)').fill('16384');
  await page
    .getByRole('form', { name: 'GGUF model (wllama)' })
    .getByRole('button', { name: 'Load model' })
    .click();
  await expect(page.getByText('Default for every role: tiny-llama.gguf (wllama)')).toBeVisible({
    timeout: 120_000,
  });

  await page.goto(`/#/p/${id}/rules`);
  for (const statement of rules) {
    await page.getByRole('button', { name: 'Add rule by hand' }).click();
    await page.getByLabel('Statement').fill(statement);
    await page.getByRole('button', { name: 'Add rule', exact: true }).click();
    await expect(page.locator('li.rule .statement', { hasText: statement })).toBeVisible();
  }

  await page.goto(`/#/p/${id}/instances`);
  const sampling = page.getByRole('form', { name: 'Instance sampling' });
  await sampling.getByLabel('Instances').fill('1');
  await sampling.getByLabel('Smallest').fill(String(rules.length));
  await sampling.getByLabel('Largest').fill(String(rules.length));
  await sampling.getByRole('button', { name: 'Sample instances' }).click();
  await expect(page.getByRole('heading', { name: 'Instances (1)' })).toBeVisible();
  return id;
}
