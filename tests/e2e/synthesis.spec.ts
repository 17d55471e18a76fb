/**
 * Synthesis end to end with the fake endpoint playing every agent deterministically: annotate the
 * example spec, accept the rules, sample instances, then generate ~20 pairs, reloading the page
 * mid-run. A second run with the same seed, uninterrupted, must produce exactly the same pairs:
 * nothing lost, nothing duplicated.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from '@playwright/test';
import {
  startFakeOpenAiServer,
  type ChatCompletionBody,
  type FakeOpenAiServer,
} from '../fixtures/fake-openai-server';
import { makeTinyGguf } from '../fixtures/make-tiny-gguf.mjs';
import { societyScript } from '../fixtures/synthesis-society';
import { createProject, expect, test } from './fixtures';
import { setUpTinyGgufProject } from './harness/tiny-gguf-project';

function annotator(body: ChatCompletionBody): string | undefined {
  if (!JSON.stringify(body.response_format ?? '').includes('sourceQuote')) return undefined;
  const user = body.messages?.find((m) => m.role === 'user')?.content ?? '';
  const sentences = user.match(/[A-Z][^.\n]*\b(must|never|should)\b[^.\n]*\./g) ?? [];
  return JSON.stringify({
    rules: [...new Set(sentences)].slice(0, 4).map((quote) => ({
      sourceQuote: quote,
      statement: quote,
      direction: /\b(never|must not|should not)\b/.test(quote) ? 'negative' : 'positive',
      strength: /\bshould\b/.test(quote) ? 'should' : 'must',
      stage: /\bfollow|instruction/i.test(quote) ? 'interpretation' : 'content',
      domain: 'support',
      family: quote.split(' ').slice(0, 3).join(' '),
      priority: 'unspecified',
      appliesWhen: [],
      exceptions: [],
    })),
  });
}

let server: FakeOpenAiServer;
test.beforeAll(async () => {
  server = await startFakeOpenAiServer({
    models: ['society'],
    script: (body) => annotator(body) ?? societyScript(body),
  });
});
test.afterAll(async () => {
  await server.close();
});

interface PairRow {
  runId: string;
  prompt: { role: string; content: string }[];
  chosen: string;
  rejected: string;
  caseType: string;
  ruleIds: string[];
}

async function exportedPairs(page: Page, projectName: string): Promise<PairRow[]> {
  await page.goto('/#/');
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: `Export ${projectName}` }).click();
  const file = JSON.parse(await readFile(await (await download).path(), 'utf8')) as {
    tables: { pairs: PairRow[] };
  };

  return file.tables.pairs;
}

async function startGeneration(page: Page, id: string) {
  await page.goto(`/#/p/${id}/generate`);
  const form = page.getByRole('form', { name: 'Generation settings' });
  await form.getByLabel('Seed').fill('7');
  await form.getByLabel('Task budget (optional)').fill('20');
  await expect(form.getByText(/Estimate: 20 tasks/)).toBeVisible();
  await form.getByRole('button', { name: 'Start generation' }).click();
}

test('a ~20-pair run survives a reload and equals an uninterrupted run with the same seed', async ({
  page,
}) => {
  test.setTimeout(300_000);
  const name = 'Synthesis';
  const id = await createProject(page, name);
  await page.getByRole('button', { name: 'Try an example' }).click();
  await expect(page.getByText(/Imported version 1/)).toBeVisible();
  await page.goto(`/#/p/${id}/models`);
  await page.getByRole('radio', { name: 'OpenAI-compatible endpoint' }).check();
  await page.getByLabel('Base URL').fill(server.url);
  await page.getByLabel('Model name').fill('society');
  // One task at a time, so the reload lands mid-run (K tasks in flight: concurrency.spec.ts).
  await page.getByLabel('Parallel requests (optional)').fill('1');
  await page.getByRole('button', { name: 'Connect' }).click();
  await expect(page.getByText('Default for every role: society (openai)')).toBeVisible();

  await page.goto(`/#/p/${id}/rules`);
  await page.getByRole('button', { name: 'Annotate spec' }).click();
  await expect(page.getByText(/Last annotation: done/)).toBeVisible({ timeout: 60_000 });
  await page.getByRole('button', { name: /Accept all proposed/ }).click();
  await expect(page.getByText(/^0 proposed/)).toBeVisible();

  await page.goto(`/#/p/${id}/instances`);
  const sampling = page.getByRole('form', { name: 'Instance sampling' });
  await sampling.getByLabel('Instances').fill('2');
  await sampling.getByRole('button', { name: 'Sample instances' }).click();
  await expect(page.getByRole('heading', { name: 'Instances (2)' })).toBeVisible();

  // Run 1, interrupted by a reload once some pairs exist.
  await startGeneration(page, id);
  await expect(page.getByTestId('pairs-count')).toHaveText(/^([3-9]|1\d)$/, { timeout: 60_000 });
  await page.reload();
  await expect(page.getByRole('heading', { name: /— done$/ })).toBeVisible({ timeout: 120_000 });

  // Run 2, the same configuration, uninterrupted.
  const firstRun = await page.getByRole('heading', { name: /^Run of/ }).innerText();
  await startGeneration(page, id);
  await expect(page.getByRole('heading', { name: /^Run of/ })).not.toHaveText(firstRun);
  await expect(page.getByRole('heading', { name: /— done$/ })).toBeVisible({ timeout: 120_000 });
  await expect(page.getByRole('img', { name: 'Pairs per rule' })).toBeVisible();

  const pairs = await exportedPairs(page, name);
  const runs = [...new Set(pairs.map((p) => p.runId))];
  expect(runs).toHaveLength(2);
  const content = (runId: string) =>
    pairs
      .filter((p) => p.runId === runId)
      .map((p) => JSON.stringify([p.prompt, p.chosen, p.rejected, p.caseType, p.ruleIds]))
      .sort();
  const [first, second] = runs.map(content);
  expect(first!.length).toBeGreaterThanOrEqual(10);
  expect(new Set(first).size).toBe(first!.length); // nothing duplicated
  expect(first).toEqual(second); // nothing lost, nothing different
  // Every path of the loop produced pairs.
  const cases = new Set(pairs.map((p) => p.caseType));
  expect(cases.has('violation')).toBe(true);
  expect(cases.has('benign')).toBe(true);
});

test('a short run on the tiny GGUF in wllama finishes, every task with a pair or a reason', async ({
  page,
}) => {
  test.setTimeout(300_000);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'specalign-gguf-'));
  const modelPath = path.join(dir, 'tiny-llama.gguf');
  // One token per byte: agent prompts need a long context.
  await makeTinyGguf(modelPath, { seed: 1, contextLength: 16384 });
  const id = await setUpTinyGgufProject(page, 'Tiny synthesis', modelPath);

  await page.goto(`/#/p/${id}/generate`);
  const form = page.getByRole('form', { name: 'Generation settings' });
  await form.getByLabel('Task budget (optional)').fill('2');
  await expect(form.getByText(/Estimate: 2 tasks/)).toBeVisible();
  await form.getByRole('button', { name: 'Start generation' }).click();
  await expect(page.getByRole('heading', { name: /— done$/ })).toBeVisible({ timeout: 280_000 });
  await expect(page.getByText('2 of 2', { exact: true })).toBeVisible();
  // Random weights rarely satisfy the judges: each task ends with a pair or a stated reason.
  const pairs = Number(await page.getByTestId('pairs-count').innerText());
  if (pairs < 2) await expect(page.getByText('Why tasks were dropped')).toBeVisible();

  // Prompt reuse (issue 13 §2): llama.cpp evaluated only what each call did not share with the
  // previous one; every agent's prompt starts with the same instance prompt.
  const reuse = page.getByTestId('prompt-evaluated');
  await expect(reuse).toHaveText(/^[\d,]+ of [\d,]+ sent \(\d+ %\)$/);
  const evaluated = Number(await reuse.getAttribute('data-evaluated'));
  const sent = Number(await reuse.getAttribute('data-sent'));
  expect(evaluated).toBeGreaterThan(0);
  expect(evaluated).toBeLessThan(sent);
  test.info().annotations.push({
    type: 'prompt tokens evaluated ÷ sent',
    description: `${evaluated} / ${sent} = ${(evaluated / sent).toFixed(3)}`,
  });
});
