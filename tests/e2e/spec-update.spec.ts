/**
 * *Update from vN* end to end (issue 11 §2) on the real Model Spec 2025-10-26 → 2025-12-18
 * update: annotate v1 with a scripted endpoint, decide on two rules, import v2, run the update
 * with a reload in the middle, review the plan and confirm. Only the changed and added sections
 * are re-annotated, nothing reaches v2 before Confirm, and the decisions carry over.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  startFakeOpenAiServer,
  type ChatCompletionBody,
  type FakeOpenAiServer,
} from '../fixtures/fake-openai-server';
import { createProject, expect, test } from './fixtures';

const corpus = path.resolve(import.meta.dirname, '../fixtures/model-spec');
const OCT = 'openai-model-spec-2025-10-26.md';
const DEC = 'openai-model-spec-2025-12-18.md';
const squash = (s: string) => s.replace(/\s+/g, ' ');
const decText = squash(readFileSync(path.join(corpus, DEC), 'utf8'));

const isAnnotation = (body: ChatCompletionBody) =>
  JSON.stringify(body.response_format ?? '').includes('sourceQuote');

/** A careful annotator: one rule per "must"/"should"/"never" sentence, quoted verbatim. */
function annotator(body: ChatCompletionBody): string | undefined {
  if (!isAnnotation(body)) return undefined;
  const user = body.messages?.find((m) => m.role === 'user')?.content ?? '';
  const sentences = user.match(/[A-Z][^.\n]*\b(?:must|never|should)\b[^.\n]*\./g) ?? [];
  const rules = [...new Set(sentences)].slice(0, 3).map((quote) => ({
    sourceQuote: quote,
    statement: quote,
    direction: /\b(?:never|not)\b/.test(quote) ? 'negative' : 'positive',
    strength: /\bshould\b/.test(quote) ? 'should' : 'must',
    stage: 'content',
    domain: 'general',
    family: 'general',
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
    latencyMs: 150,
  });
});
test.afterAll(async () => {
  await server.close();
});

test('Update from v1 re-annotates only what changed, survives a reload, and keeps decisions', async ({
  page,
}) => {
  test.setTimeout(300_000);
  const id = await createProject(page, 'Model Spec update');
  await page.getByLabel('Spec file', { exact: true }).setInputFiles(path.join(corpus, OCT));
  await expect(page.getByText(/Imported version 1/)).toBeVisible();

  await page.goto(`/#/p/${id}/models`);
  await page.getByRole('radio', { name: 'OpenAI-compatible endpoint' }).check();
  await page.getByLabel('Base URL').fill(server.url);
  await page.getByLabel('Model name').fill('annotator');
  await page.getByRole('button', { name: 'Connect' }).click();
  await expect(page.getByText('Default for every role: annotator (openai)')).toBeVisible();

  // v1: annotate the whole spec.
  await page.goto(`/#/p/${id}/rules`);
  await page.getByRole('button', { name: 'Annotate spec' }).click();
  await expect(page.getByText(/Last annotation: done/)).toBeVisible({ timeout: 180_000 });
  const v1Calls = server.chatBodies().filter(isAnnotation).length;
  expect(v1Calls).toBeGreaterThan(50);

  // Decide on two rules whose sentences the December release still has.
  const statements = await page.locator('li.rule .statement').allInnerTexts();
  const surviving = statements.filter((s) => decText.includes(squash(s)));
  expect(surviving.length).toBeGreaterThanOrEqual(2);
  const [accepted, rejected] = surviving as [string, string];
  const ruleWith = (s: string) => page.locator('li.rule', { hasText: s }).first();
  await ruleWith(accepted)
    .getByRole('button', { name: /^Accept rule/ })
    .click();
  await expect(ruleWith(accepted).locator('.badge.status')).toHaveText('accepted');
  await ruleWith(rejected)
    .getByRole('button', { name: /^Reject rule/ })
    .click();
  await expect(ruleWith(rejected).locator('.badge.status')).toHaveText('rejected');

  // v2: import, then Update from v1.
  await page.goto(`/#/p/${id}/spec`);
  await page.getByRole('button', { name: 'Import new version…' }).click();
  await page.getByLabel('Spec file', { exact: true }).setInputFiles(path.join(corpus, DEC));
  await expect(page.getByText(/Imported version 2/)).toBeVisible();
  const panel = page.getByRole('region', { name: 'Update from v1' });
  await expect(panel).toContainText(/only \d+ changed or added sections/);
  await panel.getByRole('button', { name: 'Update from v1' }).click();
  await expect(
    panel.getByRole('progressbar', { name: 'Re-annotating changed sections' }),
  ).toBeVisible();
  // Reload once a chunk is done: the update resumes by itself.
  await expect(panel.getByText(/^[1-9]\d* of \d+ tasks/)).toBeVisible({ timeout: 30_000 });
  await page.reload();
  const confirm = panel.getByRole('button', { name: 'Confirm update' });
  await expect(confirm).toBeVisible({ timeout: 60_000 });

  // Only the touched sections were asked: a fraction of v1's chunks (14 of ~93 here).
  const updateCalls = server.chatBodies().filter(isAnnotation).length - v1Calls;
  expect(updateCalls).toBeGreaterThan(0);
  expect(updateCalls).toBeLessThan(v1Calls / 4);

  // The plan, side by side, with counts; nothing applied yet.
  const counts = panel.getByRole('status', { name: 'Update plan' });
  await expect(counts).toContainText(/\d+ kept · \d+ changed · [1-9]\d* new · \d+ retired/);
  await panel.getByText(/^Kept \(\d+\)/).click(); // the kept group starts folded
  const kept = panel.getByRole('table', { name: 'Kept rules' });
  await expect(kept.locator('tr', { hasText: accepted }).first()).toContainText('accepted');
  await page.goto(`/#/p/${id}/rules`);
  await expect(page.locator('li.rule')).toHaveCount(0);
  await expect(page.getByRole('note')).toContainText(/previous version has \d+ rules/);
  await page.goto(`/#/p/${id}/spec`);

  await panel.getByRole('button', { name: 'Confirm update' }).click();
  await expect(panel.getByText(/v2 was updated from v1/)).toBeVisible();

  // The Rules step of v2: the carried rules with their decisions.
  await page.goto(`/#/p/${id}/rules`);
  await expect(ruleWith(accepted).locator('.badge.status')).toHaveText('accepted');
  await expect(ruleWith(rejected).locator('.badge.status')).toHaveText('rejected');
});
