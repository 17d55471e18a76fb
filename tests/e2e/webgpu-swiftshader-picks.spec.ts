import { createProject, expect, test } from './fixtures';

// SwiftShader offers a WebGPU adapter, but a software one without shader-f16: "Which model?"
// must not recommend web-llm on it, and GGUF stays on the CPU (llama.cpp's WebGPU needs f16).
test('on a software WebGPU adapter, web-llm picks say why not and GGUF runs on the CPU', async ({
  page,
}) => {
  const id = await createProject(page, 'Fallback adapter');
  await page.goto(`/#/p/${id}/models`);
  const table = page.getByRole('table', { name: 'Recommended models for this device' });
  const webllm = table.locator('tr[data-engine="webllm"]');
  await expect(webllm.first()).toBeVisible();
  const count = await webllm.count();
  for (let i = 0; i < count; i++) {
    await expect(webllm.nth(i)).toHaveAttribute('data-fit', 'no');
    await expect(webllm.nth(i)).toContainText('software fallback');
    // Without shader-f16 the f32 variant is the one judged.
    await expect(webllm.nth(i)).toHaveAttribute('data-pick', /-q4f32_1-MLC$/);
  }
  const gguf = table.locator('tr[data-engine="wllama"]');
  await expect(gguf.first()).toContainText('GGUF on CPU (wllama)');
  await expect(gguf.first()).not.toHaveAttribute('data-fit', 'no');
});
