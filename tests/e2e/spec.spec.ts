import path from 'node:path';
import { buildDocx, buildPdf } from '../fixtures/documents';
import { createProject, expect, test } from './fixtures';

const corpus = path.resolve(import.meta.dirname, '../fixtures/model-spec');

test('two Model Spec releases import as versions, and the diff names what the changelog names', async ({
  page,
}) => {
  await createProject(page, 'Model Spec');
  await page
    .getByLabel('Spec file', { exact: true })
    .setInputFiles(path.join(corpus, 'openai-model-spec-2025-10-26.md'));
  await expect(page.getByText(/Imported version 1: \d+ sections, \d+ examples/)).toBeVisible();
  await expect(page.getByLabel('Version')).toContainText('v1');
  await expect(page.getByText('Model Spec format')).toBeVisible();

  // The outline filters and opens a section with its authority and worked examples.
  const outline = page.getByRole('navigation', { name: 'Spec outline' });
  await outline.getByLabel('Filter sections').fill('Do not lie');
  await outline.getByRole('button', { name: 'Do not lie' }).click();
  const section = page.getByRole('article');
  await expect(section.getByRole('heading', { name: 'Do not lie' })).toBeVisible();
  await expect(section).toContainText('#do_not_lie');
  await expect(section).toContainText('authority: user');
  await expect(section.getByRole('heading', { name: /Worked examples \(\d+\)/ })).toBeVisible();
  await expect(section.locator('.reply.good').first()).toBeVisible();
  await expect(section.locator('.reply.bad').first()).toBeVisible();

  await page.getByRole('button', { name: 'Import new version…' }).click();
  await page
    .getByLabel('Spec file', { exact: true })
    .setInputFiles(path.join(corpus, 'openai-model-spec-2025-12-18.md'));
  await expect(page.getByText(/Imported version 2/)).toBeVisible();
  const diff = page.getByRole('region', { name: 'What changed from v1 to v2' });
  await expect(diff).toBeVisible();
  await expect(diff.getByRole('list', { name: 'Added sections' })).toContainText(
    'Under-18 Principles',
  );
  await expect(diff.getByRole('list', { name: 'Added sections' })).toContainText(
    'Prioritize safety for teens',
  );
  const changed = diff.getByRole('list', { name: 'Changed sections' });
  await expect(changed).toContainText('Do not lie');
  await expect(changed).toContainText('Do not reveal privileged information');
  await expect(changed).toContainText('No other objectives');

  // Importing the same text again creates nothing new.
  await page.getByRole('button', { name: 'Import new version…' }).click();
  await page
    .getByLabel('Spec file', { exact: true })
    .setInputFiles(path.join(corpus, 'openai-model-spec-2025-12-18.md'));
  await expect(page.getByText('This text is identical to version 2')).toBeVisible();
  await expect(page.getByLabel('Version').locator('option')).toHaveCount(2);
});

test('"Try an example" imports the shipped example spec in one click', async ({ page }) => {
  await createProject(page, 'Example');
  await page.getByRole('button', { name: 'Try an example' }).click();
  await expect(page.getByText(/Imported version 1: \d+ sections, [1-9]\d* examples/)).toBeVisible();
  const outline = page.getByRole('navigation', { name: 'Spec outline' });
  // The outline renders after the import settles: poll, since count() does not wait.
  await expect.poll(() => outline.getByRole('button').count()).toBeGreaterThan(8);
  // Keyboard: arrow keys move through the outline.
  await outline.getByRole('button').first().focus();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await expect(outline.getByRole('button').nth(1)).toHaveAttribute('aria-current', 'true');
});

test('HTML with scripts is shown as text and never executed; bad files get clear messages', async ({
  page,
}) => {
  await createProject(page, 'Hostile input');
  const html = `<!doctype html><html><head><title>Policy</title>
    <script>window.__pwned = 'script';</script></head><body>
    <h1>Policy</h1><h2>Safety</h2><p>The assistant must never run <b>code</b> from a page.</p>
    <img src="x" onerror="window.__pwned='img'"><p>&lt;script&gt;window.__pwned='text'&lt;/script&gt;</p>
    </body></html>`;
  const input = page.getByLabel('Spec file', { exact: true });
  await input.setInputFiles({
    name: 'empty.md',
    mimeType: 'text/markdown',
    buffer: Buffer.alloc(0),
  });
  await expect(page.getByRole('alert')).toContainText('empty');
  await input.setInputFiles({
    name: 'weights.bin',
    mimeType: 'application/octet-stream',
    buffer: Buffer.from([0, 1, 2, 3, 0, 0, 255, 254, 0, 7, 8, 9, 0, 0, 0, 0]),
  });
  await expect(page.getByRole('alert')).toContainText(/binary|not a text/i);

  await input.setInputFiles({
    name: 'policy.html',
    mimeType: 'text/html',
    buffer: Buffer.from(html),
  });
  await expect(page.getByText(/Imported version 1/)).toBeVisible();
  await page
    .getByRole('navigation', { name: 'Spec outline' })
    .getByRole('button', { name: 'Safety' })
    .click();
  const article = page.getByRole('article');
  // Formatted view: Markdown through the sanitizer; the escaped script in the source is inert.
  await expect(article).toContainText('The assistant must never run code from a page.');
  await expect(article.locator('script, img')).toHaveCount(0);
  // Source view: the literal text, exactly as written.
  await article.getByLabel('Formatted').uncheck();
  await expect(article).toContainText("<script>window.__pwned='text'</script>");
  expect(await page.evaluate(() => (window as { __pwned?: string }).__pwned)).toBeUndefined();
});

test('PDF (text layer) and DOCX specs import in the browser; a scanned PDF is refused', async ({
  page,
}) => {
  await createProject(page, 'Documents');
  const input = page.getByLabel('Spec file', { exact: true });
  await input.setInputFiles({
    name: 'scan.pdf',
    mimeType: 'application/pdf',
    buffer: Buffer.from(buildPdf('0.5 g 0 0 612 792 re f')),
  });
  await expect(page.getByRole('alert')).toContainText(/scanned|text layer|OCR/i);

  await input.setInputFiles({
    name: 'policy.docx',
    mimeType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    buffer: Buffer.from(
      buildDocx([
        { text: 'Support policy', style: 'Heading1' },
        { text: 'Refunds', style: 'Heading2' },
        { text: 'The assistant must not promise refunds above 100 dollars.' },
      ]),
    ),
  });
  await expect(page.getByText(/Imported version 1/)).toBeVisible();
  const outline = page.getByRole('navigation', { name: 'Spec outline' });
  await outline.getByRole('button', { name: 'Refunds' }).click();
  await expect(page.getByRole('article')).toContainText('must not promise refunds above 100');

  await page.getByRole('button', { name: 'Import new version…' }).click();
  await page.getByLabel('Spec file', { exact: true }).setInputFiles({
    name: 'policy.pdf',
    mimeType: 'application/pdf',
    buffer: Buffer.from(
      buildPdf('BT /F1 12 Tf 72 720 Td (The assistant must never share card numbers.) Tj ET'),
    ),
  });
  await expect(page.getByText(/Imported version 2/)).toBeVisible();
  await expect(page.getByRole('article')).toContainText('must never share card numbers');
});
