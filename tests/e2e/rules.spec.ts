/**
 * Rule annotation end to end: the shipped example spec annotated by (1) the fake endpoint with
 * scripted, meaningful rules, surviving a reload mid-annotation, and (2) the tiny random GGUF in
 * wllama (schema-valid, meaningless rules). Then review: accept, edit, reject, add, export.
 */
import { readFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from '@playwright/test';
import {
  startFakeOpenAiServer,
  type ChatCompletionBody,
  type FakeOpenAiServer,
} from '../fixtures/fake-openai-server';
import { makeTinyGguf } from '../fixtures/make-tiny-gguf.mjs';
import { createProject, expect, test } from './fixtures';

/** Plays a careful annotator: one rule per "must"/"never" sentence of the chunk, quoted verbatim. */
function annotator(body: ChatCompletionBody): string | undefined {
  if (!JSON.stringify(body.response_format ?? '').includes('sourceQuote')) return undefined;
  const user = body.messages?.find((m) => m.role === 'user')?.content ?? '';
  const sentences = user.match(/[A-Z][^.\n]*\b(must|never|should)\b[^.\n]*\./g) ?? [];
  const rules = [...new Set(sentences)].slice(0, 3).map((quote) => ({
    sourceQuote: quote,
    statement: quote.replace(/^Harbor /, 'The assistant '),
    direction: /\b(never|must not|should not)\b/.test(quote) ? 'negative' : 'positive',
    strength: /\bshould\b/.test(quote) ? 'should' : 'must',
    stage: 'content',
    domain: 'support',
    family: 'support',
    priority: 'unspecified',
    appliesWhen: [],
    exceptions: [],
  }));
  return JSON.stringify({ rules });
}

let server: FakeOpenAiServer;
test.beforeAll(async () => {
  server = await startFakeOpenAiServer({
    models: ['annotator'],
    script: annotator,
    latencyMs: 400,
  });
});
test.afterAll(async () => {
  await server.close();
});

async function projectWithExample(page: Page, name: string): Promise<string> {
  const id = await createProject(page, name);
  await page.getByRole('button', { name: 'Try an example' }).click();
  await expect(page.getByText(/Imported version 1/)).toBeVisible();
  return id;
}

test('annotation with a scripted endpoint survives a reload, then rules are reviewed and exported', async ({
  page,
}) => {
  const id = await projectWithExample(page, 'Annotate by endpoint');
  await page.goto(`/#/p/${id}/models`);
  await page.getByRole('radio', { name: 'OpenAI-compatible endpoint' }).check();
  await page.getByLabel('Base URL').fill(server.url);
  await page.getByLabel('Model name').fill('annotator');
  // One chunk in flight, so the reload repeats at most one (concurrency.spec.ts covers many).
  await page.getByLabel('Parallel requests (optional)').fill('1');
  await page.getByRole('button', { name: 'Connect' }).click();
  await expect(page.getByText('Default for every role: annotator (openai)')).toBeVisible();

  await page.goto(`/#/p/${id}/rules`);
  await page.getByRole('button', { name: 'Annotate spec' }).click();
  const progress = page.getByRole('progressbar', { name: 'Annotating' });
  await expect(progress).toBeVisible();
  // Reload mid-annotation, once a few chunks are done.
  await expect(page.getByText(/^[2-9] of \d+ chunks/)).toBeVisible({ timeout: 30_000 });
  const beforeReload = server.chatBodies().length;
  await page.reload();
  // The interrupted run resumes by itself and finishes.
  await expect(page.getByText(/Last annotation: done/)).toBeVisible({ timeout: 60_000 });
  const total = Number(
    /of (\d+) tasks/.exec(await page.getByText(/Last annotation: done/).innerText())?.[1],
  );
  // Finished chunks were not asked again: at most the one in flight at the reload repeats.
  const chunkCalls = server
    .chatBodies()
    .filter((b) => JSON.stringify(b.response_format ?? '').includes('sourceQuote')).length;
  expect(beforeReload).toBeGreaterThan(0);
  expect(chunkCalls).toBeLessThanOrEqual(total); // total = chunks + finalize, so chunks + 1 at most
  await expect(page.getByRole('heading', { name: /^Rules \(\d+\)/ })).toBeVisible();

  // Rules show their source highlighted in the spec text.
  const first = page.locator('li.rule').first();
  await first.getByText('Source in the spec').click();
  await expect(first.locator('mark')).not.toBeEmpty();
  const statement = await first.locator('.statement').innerText();
  expect(await first.locator('mark').innerText()).toContain(
    statement.replace(/^The assistant /, '').slice(0, 20),
  );

  // Coverage is measured against the spec's normative sentences.
  await expect(page.getByRole('region', { name: 'Coverage' })).toContainText(/\d+ of \d+/);

  // Review: accept one, reject another, edit a third.
  await first.getByRole('button', { name: /^Accept rule/ }).click();
  await expect(first.locator('.badge.status')).toHaveText('accepted');
  const second = page.locator('li.rule').nth(1);
  await second.getByRole('button', { name: /^Reject rule/ }).click();
  await expect(second.locator('.badge.status')).toHaveText('rejected');
  const third = page.locator('li.rule').nth(2);
  await third.getByRole('button', { name: /^Edit rule/ }).click();
  await third.getByLabel('Statement').fill('The assistant must quote refund limits exactly.');
  await third.getByRole('button', { name: 'Save rule' }).click();
  await expect(page.getByText('The assistant must quote refund limits exactly.')).toBeVisible();

  // Annotating again merges with these rules: no copies, and the decisions above stand.
  const heading = page.getByRole('heading', { name: /^Rules \(\d+\)/ });
  const count = await heading.innerText();
  const annotating = page.getByRole('progressbar', { name: 'Annotating' });
  await page.getByRole('button', { name: 'Annotate again' }).click();
  await expect(annotating).toBeVisible();
  await expect(annotating).toBeHidden({ timeout: 60_000 });
  await expect(page.getByText(/Last annotation: done/)).toBeVisible();
  await expect(heading).toHaveText(count);
  await expect(first.locator('.badge.status')).toHaveText('accepted');
  await expect(second.locator('.badge.status')).toHaveText('rejected');
  await expect(page.getByText('The assistant must quote refund limits exactly.')).toHaveCount(1);

  // Add by hand.
  await page.getByRole('button', { name: 'Add rule by hand' }).click();
  await page
    .getByLabel('Statement')
    .fill('The assistant must never promise delivery dates it cannot see.');
  await page.getByRole('button', { name: 'Add rule', exact: true }).click();
  await expect(
    page.getByText('The assistant must never promise delivery dates it cannot see.'),
  ).toBeVisible();

  // Export the rules as JSON.
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export rules (JSON)' }).click();
  const file = JSON.parse(await readFile(await (await download).path(), 'utf8')) as {
    format: string;
    rules: { statement: string; status: string }[];
  };
  expect(file.format).toBe('specalign-rules');
  expect(
    file.rules.some(
      (r) =>
        r.statement === 'The assistant must quote refund limits exactly.' &&
        r.status === 'accepted',
    ),
  ).toBe(true);

  // A new spec version that rewrites every rule-bearing sentence: the diff says which rules it touches.
  const original = await readFile(path.resolve(process.cwd(), 'public/example-spec.md'), 'utf8');
  await page.goto(`/#/p/${id}/spec`);
  await page.getByRole('button', { name: 'Import new version…' }).click();
  await page.getByLabel('…or paste the text').fill(original.replaceAll(' must ', ' shall '));
  await page.getByRole('button', { name: 'Import pasted text' }).click();
  const diff = page.getByRole('region', { name: 'What changed from v1 to v2' });
  await expect(diff).toContainText(/These changes touch \d+ rules annotated on\s*v1/);
  await page.goto(`/#/p/${id}/rules`);

  // A malformed rules file is refused with a clear message.
  await page.getByLabel('Rules file to import').setInputFiles({
    name: 'bad.json',
    mimeType: 'application/json',
    buffer: Buffer.from('{"format":"nope"}'),
  });
  await expect(page.getByRole('alert')).toContainText('bad.json');
});

const SHORT_SPEC = `# Kiosk assistant policy

## Privacy {#privacy authority=root}

The assistant must never read a customer's saved card number aloud.

## Tone {#tone authority=guideline}

The assistant should answer in two sentences or fewer.
`;

test('annotation with the tiny GGUF in wllama yields schema-valid rules', async ({ page }) => {
  test.setTimeout(240_000);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'specalign-gguf-'));
  const modelPath = path.join(dir, 'tiny-llama.gguf');
  // One token per byte: the instructions plus a chunk need a longer context than the default.
  // Seed 1 is one whose greedy output proposes at least one rule here (seeds 3 and 5 propose
  // none: `{"rules": []}` is schema-valid too), so the flagging below is really exercised.
  await makeTinyGguf(modelPath, { seed: 1, contextLength: 8192 });
  const id = await createProject(page, 'Annotate on CPU');
  await page.getByLabel('…or paste the text').fill(SHORT_SPEC);
  await page.getByRole('button', { name: 'Import pasted text' }).click();
  await expect(page.getByText(/Imported version 1/)).toBeVisible();
  await page.goto(`/#/p/${id}/models`);
  await page.getByRole('radio', { name: 'GGUF (wllama: WebGPU or CPU)' }).check();
  await page.getByLabel('GGUF file').setInputFiles(modelPath);
  await page.getByLabel('Context size (tokens)').fill('8192');
  await page
    .getByRole('form', { name: 'GGUF model (wllama)' })
    .getByRole('button', { name: 'Load model' })
    .click();
  await expect(page.getByText('Default for every role: tiny-llama.gguf (wllama)')).toBeVisible({
    timeout: 60_000,
  });

  await page.goto(`/#/p/${id}/rules`);
  await page.getByRole('button', { name: 'Annotate spec' }).click();
  await expect(page.getByText(/Last annotation: done/)).toBeVisible({ timeout: 200_000 });
  await expect(page.getByText(/chunks? failed/)).toHaveCount(0);
  // Random weights quote nothing real: every rule is flagged, none silently kept as located.
  const rules = page.locator('li.rule');
  await expect(rules.first()).toBeVisible();
  const n = await rules.count();
  for (let i = 0; i < n; i++)
    await expect(rules.nth(i).locator('.badge.status')).toHaveText('flagged');
});
