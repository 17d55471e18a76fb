/**
 * Project files for browser tests: the `.specalign.json` envelope the app's export writes, around
 * the tables a test builds, and importing one from the Projects screen.
 */
import type { Locator, Page } from '@playwright/test';

/** A project file of project `p` named `name` (with `options.project`'s fields) holding `tables`. */
export function projectFileOf<T extends Record<string, unknown[]>>(
  name: string,
  tables: T,
  options: { now?: number; schemaVersion?: number; project?: Record<string, unknown> } = {},
) {
  const now = options.now ?? Date.now();
  return {
    format: 'specalign-project',
    formatVersion: 1,
    schemaVersion: options.schemaVersion ?? 1,
    exportedAt: new Date(now).toISOString(),
    project: { id: 'p', name, createdAt: now, updatedAt: now, ...options.project },
    tables,
  };
}

/**
 * Imports `file` on the Projects screen and opens the project it holds; returns the workflow
 * navigation (its links go to each step).
 */
export async function openProjectFile(
  page: Page,
  file: { project: { name: string } },
): Promise<Locator> {
  await page.goto('/#/');
  await page.getByLabel('Project file to import').setInputFiles({
    name: 'project.specalign.json',
    mimeType: 'application/json',
    buffer: Buffer.from(JSON.stringify(file)),
  });
  await page.getByRole('link', { name: file.project.name, exact: true }).click();
  return page.getByRole('navigation', { name: 'Workflow steps' });
}
