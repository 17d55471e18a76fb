import { createProject, expect, test } from './fixtures';

// Runs in the `chromium-webgpu` project (--enable-unsafe-webgpu): SwiftShader's software
// adapter, which is a fallback adapter without shader-f16.
test('with SwiftShader the report shows a fallback adapter and only f32 models are offered', async ({
  page,
}) => {
  const id = await createProject(page, 'SwiftShader');
  await page.goto(`/#/p/${id}/models`);
  const card = page.locator('[data-webgpu-status]');
  await expect(card).toHaveAttribute('data-webgpu-status', 'fallback');
  await expect(card).toContainText('Fallback (software) adapter');
  await expect(card.getByText('yes', { exact: true })).toBeVisible();
  await expect(card).toContainText('not supported — only f32 models are offered');

  await page.getByRole('radio', { name: 'WebGPU (web-llm)' }).check();
  const select = page.getByLabel('Model', { exact: true });
  await expect(select.locator('option').first()).toBeAttached();
  const ids = await select
    .locator('option')
    .evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value));
  expect(ids.length).toBeGreaterThan(5);
  for (const modelId of ids) expect(modelId).toMatch(/q\df32/);
  // The preselected default is a small f32 instruct model.
  expect(await select.inputValue()).toMatch(/Instruct.*q\df32/i);
});

test('with SwiftShader the GGUF engine says it will run on the CPU, and why', async ({ page }) => {
  const id = await createProject(page, 'SwiftShader GGUF');
  await page.goto(`/#/p/${id}/models`);
  await page.getByRole('radio', { name: 'GGUF (wllama: WebGPU or CPU)' }).check();
  const form = page.getByRole('form', { name: 'GGUF model (wllama)' });
  const outlook = form.locator('[data-gguf-outlook]');
  await expect(outlook).toHaveAttribute('data-gguf-outlook', 'cpu');
  await expect(outlook).toContainText(/lacks shader-f16, which llama\.cpp's WebGPU backend needs/);
  // The layer choice is there all the same, operable from the keyboard.
  await form.getByRole('radio', { name: 'This many:' }).check();
  await expect(form.getByLabel('Number of layers on GPU')).toBeEnabled();
  await form.getByRole('radio', { name: 'None (CPU only)' }).check();
  await expect(form.getByLabel('Number of layers on GPU')).toBeDisabled();
});
