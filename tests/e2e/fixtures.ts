import { test as base, expect, type Page } from '@playwright/test';
import { readFile } from 'node:fs/promises';

/**
 * Every e2e test fails on a console error or uncaught exception in the page or its workers,
 * unless it declares the pattern as expected (e.g. a deliberately unreachable endpoint).
 */
export const test = base.extend<{ consoleErrors: { allow: (pattern: RegExp) => void } }>({
  consoleErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      const allowed: RegExp[] = [];
      page.on('console', (msg) => {
        if (msg.type() === 'error') errors.push(msg.text());
      });
      page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
      page.on('worker', (worker) => {
        worker.on('console', (msg) => {
          if (msg.type() === 'error') errors.push(`worker: ${msg.text()}`);
        });
      });
      await use({ allow: (pattern) => allowed.push(pattern) });
      const unexpected = errors.filter((e) => !allowed.some((p) => p.test(e)));
      expect(unexpected, 'console errors in the page').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

/** Creates a project from the Projects screen and waits for its Spec step. */
export async function createProject(page: Page, name: string): Promise<string> {
  await page.goto('/#/');
  await page.getByLabel('New project name').fill(name);
  await page.getByRole('button', { name: 'Create project' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Spec' })).toBeVisible();
  const match = /#\/p\/([^/]+)\//.exec(page.url());
  if (!match?.[1]) throw new Error(`no project id in ${page.url()}`);
  return match[1];
}

/** Clicks what starts a download and returns the file's suggested name and bytes. */
export async function download(page: Page, click: () => Promise<void>) {
  const pending = page.waitForEvent('download');
  await click();
  const file = await pending;
  return { name: file.suggestedFilename(), bytes: await readFile(await file.path()) };
}
