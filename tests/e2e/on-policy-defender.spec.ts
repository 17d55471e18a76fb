/**
 * On-policy defender (issue 14 §2) end to end: the fake endpoint serves two model names, the
 * project's default ("society") and its evaluation target ("target"). With "Defender: the
 * evaluation target" ticked on Generate, every defender request names the target model and every
 * other agent the default one; the estimate is split per model; Review's pair view says which
 * model defended; Review filtered by origin holds the target's own failures, and the dataset
 * exported with the training mix applied matches its card (issue 14's end-to-end test).
 */
import { strFromU8, unzipSync } from 'fflate';
import type { FakeOpenAiServer } from '../fixtures/fake-openai-server';
import { featureProblems, splitCard } from '../unit/core/export/fixtures';
import { download, expect, test } from './fixtures';
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

  // Review filtered by origin (3 attack rounds by default): the rejected replies the defender
  // produced are the target's own failures. Accept them and export with the training mix.
  const filters = page.getByRole('form', { name: 'Filter pairs' });
  await filters
    .getByLabel('Origin')
    .selectOption({ label: 'Rejected: the defender’s own failure (any round)' });
  const count = page.locator('p.count');
  await expect(count).toHaveText(/^[1-9]\d* of \d+ pairs shown$/);
  const elicited = Number((await count.innerText()).split(' ')[0]);
  // Every pair of this run was defended by the target: the Defender filter says so.
  const defender = filters.getByRole('combobox', { name: /^Defender/ });
  await defender.selectOption({ label: 'Another model' });
  await expect(page.getByText('No pair matches these filters.')).toBeVisible();
  await defender.selectOption({ label: 'The evaluation target (on-policy)' });
  await expect(count).toHaveText(new RegExp(`^${elicited} of \\d+ pairs shown$`));
  await expect(page.getByTestId('pair-origin')).toContainText(
    /^Rejected: the defender’s own reply in round \d/,
  );
  await expect(models.locator('dd[data-role="defender"]')).toContainText('evaluation target');
  await page.getByRole('button', { name: 'Accept all shown…' }).click();
  await page
    .getByRole('dialog')
    .getByRole('button', { name: new RegExp(`^Accept ${elicited} pairs?$`) })
    .click();

  await page.goto(`/#/p/${id}/export`);
  await expect(page.getByText(`${elicited} accepted and`)).toBeVisible();
  await expect(page.getByLabel(/Apply the training mix/)).toBeChecked();
  await page.getByLabel('Format').selectOption({ label: 'TRL DPO (conversational)' });
  await page.getByLabel(/Provenance column/).check();
  await page.getByLabel('Test fraction').fill('0');
  const zip = await download(page, () =>
    page.getByRole('button', { name: 'Download dataset (.zip)' }).click(),
  );
  const files = unzipSync(new Uint8Array(zip.bytes));
  const card = splitCard(strFromU8(files['README.md']!));
  const meta = card.meta as {
    dataset_info: { config_name: string; features: Parameters<typeof featureProblems>[1] }[];
  };
  let exported = 0;
  for (const { config_name: config, features } of meta.dataset_info) {
    const path = config === 'sft' ? 'sft/train.jsonl' : 'data/train.jsonl';
    const rows = strFromU8(files[path]!)
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { metadata: { defender_is_target: boolean; origin: unknown } });
    exported += rows.length;
    for (const row of rows) {
      // Each row matches the card's features, and says the target defended and failed.
      expect(featureProblems(row, features)).toEqual([]);
      expect(row.metadata.defender_is_target).toBe(true);
      expect(row.metadata.origin).toMatchObject({ rejected: 'defender', chosen: 'written' });
    }
  }
  expect(exported).toBeGreaterThan(0);
  expect(exported).toBeLessThanOrEqual(elicited);
  expect(card.body).toContain('| SFT:DPO split | 1:3');

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
