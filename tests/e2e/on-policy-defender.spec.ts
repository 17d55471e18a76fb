/**
 * On-policy defender (issue 14 §2) end to end: the fake endpoint serves two model names, the
 * project's default ("society") and its evaluation target ("target"). With "Defender: the
 * evaluation target" ticked on Generate, every defender request names the target model and every
 * other agent the default one; the estimate is split per model; Review's pair view says which
 * model defended.
 */
import type { FakeOpenAiServer } from '../fixtures/fake-openai-server';
import { expect, test } from './fixtures';
import { agentRequests, setUpProject, startSocietyServer, waitForDone } from './run-helpers';

let server: FakeOpenAiServer;
test.beforeAll(async () => {
  server = await startSocietyServer(undefined, undefined, ['society', 'target']);
});
test.afterAll(async () => {
  await server.close();
});

const agentOf = (system: string) => /\[agent: (\w+)\]/.exec(system)?.[1];

test('the evaluation target defends every task, and Review shows it', async ({ page }) => {
  test.setTimeout(180_000);
  const id = await setUpProject(page, server, 'On-policy defender', 1);

  // Without an evaluation target of its own the option is off, disabled, and says what to set.
  await page.goto(`/#/p/${id}/generate`);
  const form = page.getByRole('form', { name: 'Generation settings' });
  const onPolicy = form.getByRole('checkbox', { name: 'Defender: the evaluation target' });
  await expect(onPolicy).toBeDisabled();
  await expect(form.getByTestId('on-policy-hint')).toContainText('Needs an evaluation target');

  // Connect the second model on the same endpoint and make it the evaluation target.
  await page.goto(`/#/p/${id}/models`);
  await page.getByRole('radio', { name: 'OpenAI-compatible endpoint' }).check();
  await page.getByLabel('Base URL').fill(server.url);
  await page.getByLabel('Model name').fill('target');
  await page.getByRole('button', { name: 'Connect' }).click();
  const targetPick = page.getByLabel('Evaluation target', { exact: true });
  await expect(targetPick.getByRole('option', { name: 'target (openai)' })).toBeAttached();
  await targetPick.selectOption({ label: 'target (openai)' });
  await expect(targetPick).toHaveValue(/^openai:target@/);

  // Generate: tick the option from the keyboard; the estimate is split per model.
  await page.goto(`/#/p/${id}/generate`);
  await expect(form.getByTestId('on-policy-hint')).toContainText('target');
  await expect(onPolicy).toBeEnabled();
  await onPolicy.focus();
  await page.keyboard.press('Space');
  await expect(onPolicy).toBeChecked();
  await form.getByLabel('Seed').fill('5');
  await form.getByLabel('Task budget (optional)').fill('6');
  await expect(form.getByText(/Estimate: 6 tasks/)).toBeVisible();
  const perModel = form.getByTestId('estimate-per-model');
  await expect(perModel.getByRole('rowheader', { name: 'target' })).toBeVisible();
  await expect(perModel.getByRole('rowheader', { name: 'society' })).toBeVisible();
  await expect(form.getByRole('status')).toContainText('each model at its own rates');
  const before = agentRequests(server).length;
  await form.getByRole('button', { name: 'Start generation' }).click();
  await waitForDone(page);

  // Every defender request named the target; every other agent the default model.
  const requests = agentRequests(server).slice(before);
  const byAgent = new Map<string, Set<string>>();
  for (const body of requests) {
    const agent = agentOf(body.messages?.find((m) => m.role === 'system')?.content ?? '');
    if (!agent) continue;
    const models = byAgent.get(agent) ?? new Set<string>();
    models.add(String(body.model));
    byAgent.set(agent, models);
  }
  expect(byAgent.get('defender')).toEqual(new Set(['target']));
  for (const [agent, models] of byAgent)
    if (agent !== 'defender') expect(models, agent).toEqual(new Set(['society']));
  await expect(page.getByTestId('pairs-count')).not.toHaveText('0');
  await expect(page.getByTestId('run-roles')).toHaveText(
    'the evaluation target (target) defends every task',
  );

  // Review: the pair view names the defender's model and marks it as the evaluation target.
  await page.goto(`/#/p/${id}/review`);
  const models = page.getByTestId('pair-models');
  await expect(models.locator('dd[data-role="defender"]')).toContainText('openai:target@');
  await expect(models.locator('dd[data-role="defender"]')).toContainText('evaluation target');
  await expect(models.locator('dd[data-role="attacker"]')).toContainText('openai:society@');

  // Rotation between the two models instead: each attacks the other in turn.
  await page.goto(`/#/p/${id}/generate`);
  await onPolicy.uncheck();
  const rotation = form.getByRole('group', { name: 'Rotate roles among' });
  await rotation.getByRole('checkbox', { name: /^society/ }).check();
  await rotation.getByRole('checkbox', { name: /^target/ }).check();
  await expect(rotation).toContainText('The models take turns attacking each other');
  await form.getByLabel('Seed').fill('6');
  await form.getByLabel('Task budget (optional)').fill('6');
  await expect(form.getByText(/Estimate: 6 tasks/)).toBeVisible();
  const heading = page.getByRole('heading', { name: /^Run of/ });
  const first = await heading.innerText();
  const start = agentRequests(server).length;
  await form.getByRole('button', { name: 'Start generation' }).click();
  await expect(heading).not.toHaveText(first);
  await waitForDone(page);
  const rotated = agentRequests(server).slice(start);
  const modelsOf = (agent: string) =>
    new Set(
      rotated
        .filter(
          (b) => agentOf(b.messages?.find((m) => m.role === 'system')?.content ?? '') === agent,
        )
        .map((b) => String(b.model)),
    );
  expect(modelsOf('defender')).toEqual(new Set(['society', 'target']));
  expect(modelsOf('attacker')).toEqual(new Set(['society', 'target']));
  expect(modelsOf('planner')).toEqual(new Set(['society']));
  await expect(page.getByTestId('run-roles')).toHaveText(
    'attacker and defender rotate among society, target',
  );
});
