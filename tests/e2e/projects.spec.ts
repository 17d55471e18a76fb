import { readFile } from 'node:fs/promises';
import { createProject, expect, test } from './fixtures';

test('the app loads with no console errors and shows the projects screen', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1, name: 'Projects' })).toBeVisible();
  await expect(page.getByText('No projects yet')).toBeVisible();
  // Cross-origin isolation (COOP/COEP) is on, so wllama can use threads.
  expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);
});

test('a project can be created, navigated by keyboard, renamed, and reopened after reload', async ({
  page,
}) => {
  const id = await createProject(page, 'Support policy');
  // Every workflow step has an empty state that says what it does and what it needs first.
  const nav = page.getByRole('navigation', { name: 'Workflow steps' });
  for (const step of ['Rules', 'Instances', 'Generate', 'Review', 'Export', 'Evaluate']) {
    await nav.getByRole('link', { name: step }).click();
    await expect(page.getByRole('heading', { level: 1, name: step })).toBeFocused();
    // Each says what it needs first, with a link to that step.
    await expect(page.locator('section.content').getByText(/first/).first()).toBeVisible();
    await expect(
      page
        .locator('section.content')
        .getByRole('link', { name: /step|Go to/ })
        .first(),
    ).toBeVisible();
  }
  // Keyboard: tab to the Models link and follow it with Enter.
  await nav.getByRole('link', { name: 'Models' }).focus();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(new RegExp(`#/p/${id}/models$`));

  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: 'Models' })).toBeVisible();
  await expect(nav.getByText('Support policy')).toBeVisible();

  await page.goto('/#/');
  await page.getByRole('button', { name: 'Rename Support policy' }).click();
  const input = page.getByLabel('New name for Support policy');
  await input.fill('Support policy v2');
  await input.press('Enter');
  await expect(page.getByRole('link', { name: 'Support policy v2', exact: true })).toBeVisible();
  await page.reload();
  await expect(page.getByRole('link', { name: 'Support policy v2', exact: true })).toBeVisible();
});

test('a project exports to one file and imports back as a new project', async ({ page }) => {
  await createProject(page, 'Round trip');
  await page.goto('/#/');
  const downloadPromise = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export Round trip' }).click();
  const download = await downloadPromise;
  expect(download.suggestedFilename()).toBe('round-trip.specalign.json');
  const path = await download.path();
  const data = JSON.parse(await readFile(path, 'utf8'));
  expect(data.format).toBe('specalign-project');
  expect(data.project.name).toBe('Round trip');

  await page.getByLabel('Project file to import').setInputFiles(path);
  await expect(page.getByText('Imported "Round trip".')).toBeVisible();
  await expect(page.getByRole('link', { name: 'Round trip', exact: true })).toHaveCount(2);

  // A malformed file gets a clear message and changes nothing.
  await page.getByLabel('Project file to import').setInputFiles({
    name: 'broken.json',
    mimeType: 'application/json',
    buffer: Buffer.from('{"not": "a project"'),
  });
  await expect(page.getByRole('alert')).toContainText('The file ends early (truncated at byte 19)');
  await expect(page.getByRole('link', { name: 'Round trip', exact: true })).toHaveCount(2);
});

test('deleting a project asks first and removes it', async ({ page }) => {
  await createProject(page, 'Short-lived');
  await page.goto('/#/');
  await page.getByRole('button', { name: 'Delete Short-lived' }).click();
  const dialog = page.getByRole('dialog', { name: 'Delete project?' });
  await expect(dialog).toBeVisible();
  await dialog.getByRole('button', { name: 'Keep it' }).click();
  await expect(page.getByRole('link', { name: 'Short-lived', exact: true })).toBeVisible();
  await page.getByRole('button', { name: 'Delete Short-lived' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete project' }).click();
  await expect(page.getByText('No projects yet')).toBeVisible();
});

test('theme can be switched to dark and persists', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('Theme').selectOption('dark');
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await page.reload();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
});
