import { readFile } from 'node:fs/promises';
import type { Page } from '@playwright/test';
import { deeplyNestedList, hugeParagraph, manySections } from '../fixtures/pathological-specs';
import { createProject, expect, test } from './fixtures';

/**
 * Every import is checked whole before anything is written: a refused file shows a message that
 * names the place, leaves the project list as it was, and no screen throws afterwards (the
 * fixture fails the test on any page error).
 */

async function exportedFile(page: Page, name: string): Promise<Record<string, unknown>> {
  await createProject(page, name);
  await page.goto('/#/');
  const downloadPromise = page.waitForEvent('download');
  await page.getByRole('button', { name: `Export ${name}` }).click();
  const download = await downloadPromise;
  return JSON.parse(await readFile(await download.path(), 'utf8')) as Record<string, unknown>;
}

async function importText(page: Page, name: string, text: string) {
  await page.getByLabel('Project file to import').setInputFiles({
    name,
    mimeType: 'application/json',
    buffer: Buffer.from(text),
  });
}

const specVersionRow = (projectId: string, text: unknown) => ({
  id: 'sv-1',
  projectId,
  versionNumber: 1,
  title: 'Policy',
  sourceName: 'policy.md',
  sourceType: 'markdown',
  format: 'markdown',
  text,
  contentHash: '0'.repeat(64),
  createdAt: 1,
});

test('refused project files say what is wrong and where, and change nothing', async ({ page }) => {
  const file = await exportedFile(page, 'Source');
  const projectId = (file.project as { id: string }).id;
  const links = page.getByRole('list', { name: 'Your projects' }).getByRole('listitem');
  await expect(links).toHaveCount(1);
  const alert = page.getByRole('alert');

  const valid = JSON.stringify({
    ...file,
    tables: { ...(file.tables as object), specVersions: [specVersionRow(projectId, '# Policy')] },
  });
  const cases: [string, string, RegExp][] = [
    [
      'truncated.json',
      valid.slice(0, 120),
      /truncated\.json was not imported\. The file ends early \(truncated at byte 120\): it is not a complete project file/,
    ],
    [
      'wrong-types.json',
      JSON.stringify({
        ...file,
        tables: { ...(file.tables as object), specVersions: [specVersionRow(projectId, 1234)] },
      }),
      /tables\.specVersions\[0\]\.text: expected a string, got a number/,
    ],
    [
      'future.json',
      JSON.stringify({ ...file, formatVersion: 7 }),
      /format version 7 is newer than this app reads \(version 1\)/,
    ],
  ];
  for (const [name, text, message] of cases) {
    await importText(page, name, text);
    await expect(alert).toContainText(message);
    await expect(links).toHaveCount(1);
    // The page still answers.
    expect(await page.evaluate(() => 1 + 1)).toBe(2);
  }

  // A valid file still imports, and its screens open without errors.
  await importText(page, 'valid.json', valid);
  await expect(page.getByText('Imported "Source".')).toBeVisible();
  await expect(alert).toHaveCount(0);
  await expect(links).toHaveCount(2);
  await links.nth(0).getByRole('link').first().click();
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
});

test('pathological specs import in the worker and leave the page responsive', async ({ page }) => {
  await createProject(page, 'Pathological');
  const specs: [string, string, RegExp | undefined][] = [
    ['nested.md', deeplyNestedList(3000), /nest more than 32 levels deep/],
    ['paragraph.md', hugeParagraph(), /larger than the 256 KB/],
    ['sections.md', manySections(3000), undefined],
  ];
  for (const [i, [name, text, plainNotice]] of specs.entries()) {
    if (i > 0) await page.getByRole('button', { name: 'Import new version…' }).click();
    await page
      .getByLabel('Spec file', { exact: true })
      .setInputFiles({ name, mimeType: 'text/markdown', buffer: Buffer.from(text) });
    await expect(page.getByText(`Imported version ${i + 1}:`)).toBeVisible({ timeout: 60_000 });
    // The page answers and a control still responds.
    expect(await page.evaluate(() => document.title.length >= 0)).toBe(true);
    const filter = page.getByLabel('Filter sections');
    await filter.fill('Section 1');
    await filter.fill('');
    if (plainNotice) {
      await page
        .getByRole('button', { name: /Nested policy|One paragraph/ })
        .first()
        .click();
      await expect(page.getByRole('status').filter({ hasText: plainNotice })).toBeVisible();
    }
  }
});

test('refused rules files say what is wrong and where, and add no rule', async ({ page }) => {
  const id = await createProject(page, 'Rules import');
  await page.getByLabel('…or paste the text').fill('# Policy\n\nThe assistant must be kind.\n');
  await page.getByRole('button', { name: 'Import pasted text' }).click();
  await expect(page.getByText(/Imported version 1/)).toBeVisible();
  await page.goto(`/#/p/${id}/rules`);
  const rule = {
    id: 'r1',
    specVersionId: 'v',
    sectionAnchor: 'policy',
    statement: 'Be kind.',
    direction: 'positive',
    stage: 'style',
    domain: 'support',
    family: 'tone',
    priority: 4,
    strength: 'must',
    exceptions: [],
    appliesWhen: [],
    source: { quote: 'must be kind', start: 0, end: 12, located: true },
    status: 'accepted',
    origin: 'model',
    createdAt: 1,
    updatedAt: 1,
  };
  const file = { format: 'specalign-rules', version: 1, rules: [rule] };
  const cases: [string, string, RegExp][] = [
    [
      'cut.json',
      JSON.stringify(file).slice(0, 90),
      /not a complete rules file\. The file ends early \(truncated at byte 90\)/,
    ],
    [
      'types.json',
      JSON.stringify({ ...file, rules: [{ ...rule, statement: 7 }] }),
      /rules\[0\]\.statement: expected a string, got a number/,
    ],
    [
      'future.json',
      JSON.stringify({ ...file, version: 9 }),
      /rules file version 9; this app reads up to 1/,
    ],
  ];
  for (const [name, text, message] of cases) {
    await page.getByLabel('Rules file to import').setInputFiles({
      name,
      mimeType: 'application/json',
      buffer: Buffer.from(text),
    });
    await expect(page.getByRole('alert').filter({ hasText: name })).toContainText(message);
    await expect(page.getByText('No rules yet.')).toBeVisible();
  }
});
