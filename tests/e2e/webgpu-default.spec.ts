import { createProject, expect, test } from './fixtures';

// Default headless Chromium grants no WebGPU adapter: the app must say so and point to the CPU.
test('without a WebGPU adapter the report says so and offers the CPU engine', async ({ page }) => {
  const id = await createProject(page, 'No GPU');
  await page.goto(`/#/p/${id}/models`);
  const card = page.locator('[data-webgpu-status]');
  await expect(card).toHaveAttribute('data-webgpu-status', 'none');
  await expect(card).toContainText(/not available/i);
  await expect(card).toContainText(/wllama/i);
  // The engine choice starts on the CPU engine, which can run here.
  await expect(page.getByRole('radio', { name: 'GGUF (wllama: WebGPU or CPU)' })).toBeChecked();
  await page.getByRole('radio', { name: 'WebGPU (web-llm)' }).check();
  await expect(page.getByText('WebGPU is not available here')).toBeVisible();
  await expect(
    page
      .getByRole('form', { name: 'WebGPU model (web-llm)' })
      .getByRole('button', { name: 'Load model' }),
  ).toBeDisabled();
});
