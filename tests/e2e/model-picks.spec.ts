import { createProject, expect, test } from './fixtures';

const SMOL = 'smollm2-1.7b-instruct-q4_k_m.gguf';
const SMOL_KEY =
  'wllama:https://huggingface.co/HuggingFaceTB/SmolLM2-1.7B-Instruct-GGUF/resolve/main/smollm2-1.7b-instruct-q4_k_m.gguf';
const QWEN_05 = 'qwen2.5-0.5b-instruct-q4_k_m.gguf';
const QWEN_05_KEY =
  'wllama:https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q4_k_m.gguf';

// Default headless Chromium grants no WebGPU adapter: "Which model?" must recommend GGUF on
// the CPU, say why the web-llm models do not fit, and let the keyboard assign a pick.
test('without WebGPU the Models screen recommends GGUF on the CPU and assigns it by keyboard', async ({
  page,
}) => {
  const id = await createProject(page, 'Which model');
  await page.goto(`/#/p/${id}/models`);
  const table = page.getByRole('table', { name: 'Recommended models for this device' });
  await expect(table).toBeVisible();

  // Web-llm picks: listed, but none fits, each saying why.
  const webllm = table.locator('tr[data-engine="webllm"]');
  await expect(webllm.first()).toBeVisible();
  const webllmCount = await webllm.count();
  expect(webllmCount).toBeGreaterThan(0);
  for (let i = 0; i < webllmCount; i++) {
    await expect(webllm.nth(i)).toHaveAttribute('data-fit', 'no');
    await expect(webllm.nth(i)).toContainText('Does not fit');
    await expect(webllm.nth(i)).toContainText('No WebGPU adapter here');
    await expect(webllm.nth(i).getByRole('button')).toHaveCount(0);
  }

  // GGUF picks run on the CPU and come first, the largest (SmolLM2 1.7B) at the top.
  const rows = table.locator('tbody tr');
  await expect(rows.first()).toHaveAttribute('data-pick', SMOL);
  const gguf = table.locator('tr[data-engine="wllama"]');
  const ggufCount = await gguf.count();
  expect(ggufCount).toBeGreaterThan(0);
  for (let i = 0; i < ggufCount; i++) {
    await expect(gguf.nth(i)).toContainText('GGUF on CPU (wllama)');
    await expect(gguf.nth(i)).not.toHaveAttribute('data-fit', 'no');
    await expect(gguf.nth(i)).toContainText(/about \d/);
  }
  await expect(rows.first()).toContainText('Planner, Attacker, Defender');

  // Keyboard only: Tab to the top pick's "Use for all roles" and press Enter.
  const useAll = page.getByRole('button', { name: `Use ${SMOL} for all roles` });
  await page.locator('body').focus();
  for (let i = 0; i < 80 && !(await useAll.evaluate((el) => el === document.activeElement)); i++) {
    await page.keyboard.press('Tab');
  }
  await expect(useAll).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByText(/Default for every role/)).toContainText(`${SMOL} (wllama)`);

  // The 0.5B pick suits only the violator and the evaluation target: assign it to those.
  const suited = page.getByRole('button', { name: `Use ${QWEN_05} for the roles it suits` });
  await suited.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByLabel('Violator', { exact: true })).toHaveValue(QWEN_05_KEY);
  await expect(page.getByLabel('Evaluation target', { exact: true })).toHaveValue(QWEN_05_KEY);
  await expect(page.getByLabel('Planner', { exact: true })).toHaveValue('');
  // Per-role choice stays possible, recommended picks included.
  await page.getByLabel('Planner', { exact: true }).selectOption(SMOL_KEY);
  await expect(page.getByLabel('Planner', { exact: true })).toHaveValue(SMOL_KEY);
});
