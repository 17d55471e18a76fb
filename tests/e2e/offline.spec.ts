/**
 * Offline (issue: trust): after the first visit the service worker has the app shell, so the
 * app loads and works with the network gone — projects, the example spec, ingestion.
 */
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
