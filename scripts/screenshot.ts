/**
 * Regenerates docs/screenshot.png for the README: serves the production build, creates a
 * project from the shipped example spec, opens a section with worked examples.
 * Run: `npx vite build && npx tsx scripts/screenshot.ts`
 */
import { chromium } from '@playwright/test';
import path from 'node:path';
import { preview } from 'vite';
import { chromiumArgs } from '../playwright.config';

const root = path.resolve(import.meta.dirname, '..');
const server = await preview({
  root,
  preview: { port: 4599, host: '127.0.0.1', strictPort: true },
});
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
try {
  const page = await browser.newPage({
    viewport: { width: 1360, height: 860 },
    deviceScaleFactor: 1,
  });
  await page.goto('http://127.0.0.1:4599/#/');
  await page.getByLabel('New project name').fill('Harbor Assistant policy');
  await page.getByRole('button', { name: 'Create project' }).click();
  await page.getByRole('button', { name: 'Try an example' }).click();
  await page.getByText(/Imported version 1/).waitFor();
  const outline = page.getByRole('navigation', { name: 'Spec outline' });
  const section = process.env.SCREENSHOT_SECTION;
  if (section) await outline.getByRole('button', { name: section }).click();
  await page.waitForTimeout(5500); // let the confirmation toast fade
  await page.screenshot({ path: path.join(root, 'docs/screenshot.png') });
  console.log('wrote docs/screenshot.png');
} finally {
  await browser.close();
  await new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
}
