/**
 * Batch job files end to end (issue 12 §5) with the fake endpoint: an annotation run and an
 * evaluation run are planned for a batch file, their requests downloaded from the page, answered
 * by `runBatchFile` (playing `vllm run-batch` against the fake server) and imported. The runs end
 * done with the same results as live runs; a malformed output file gives a per-line report and
 * leaves those tasks pending until a re-exported file completes them.
 */
import type { Page } from '@playwright/test';
import { startFakeOpenAiServer, type FakeOpenAiServer } from '../fixtures/fake-openai-server';
import { createProject, download, expect, test } from './fixtures';
import { projectFile, script as evalScript } from './harness/eval-project';
import { customIds, runBatchFile } from './harness/run-batch';
import type { ChatCompletionBody } from '../fixtures/fake-openai-server';
import { openProjectFile } from './harness/project-file';

/** One rule per "must"/"never" sentence of the chunk, quoted verbatim (as rules.spec.ts). */
function annotator(body: ChatCompletionBody): string | undefined {
  if (!JSON.stringify(body.response_format ?? '').includes('sourceQuote')) return undefined;
  const user = body.messages?.find((m) => m.role === 'user')?.content ?? '';
  const sentences = user.match(/[A-Z][^.\n]*\b(must|never|should)\b[^.\n]*\./g) ?? [];
  const rules = [...new Set(sentences)].slice(0, 3).map((quote) => ({
    sourceQuote: quote,
    statement: quote,
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
    models: ['annotator', 'evalfake'],
    script: (body) => annotator(body) ?? evalScript(body),
  });
});
test.afterAll(async () => {
  await server.close();
});

async function exportFile(page: Page): Promise<string> {
  const panel = page.locator('details.batch');
  const file = await download(page, () =>
    panel.getByRole('button', { name: 'Export batch file' }).click(),
  );
  expect(file.name).toMatch(/\.jsonl$/);
  return file.bytes.toString('utf8');
}

async function importFile(page: Page, name: string, text: string): Promise<void> {
  await page
    .locator('details.batch')
    .getByLabel('Import batch results')
    .setInputFiles({ name, mimeType: 'application/jsonl', buffer: Buffer.from(text) });
}

async function annotatedProject(page: Page, name: string): Promise<string> {
  const id = await createProject(page, name);
  await page.getByRole('button', { name: 'Try an example' }).click();
  // The first project's notice may still show: either one will do.
  await expect(page.getByText(/Imported version 1/).first()).toBeVisible();
  await page.goto(`/#/p/${id}/models`);
  await page.getByRole('radio', { name: 'OpenAI-compatible endpoint' }).check();
  await page.getByLabel('Base URL').fill(server.url);
  await page.getByLabel('Model name').fill('annotator');
  await page.getByRole('button', { name: 'Connect' }).click();
  await expect(page.getByText('Default for every role: annotator (openai)')).toBeVisible();
  await page.goto(`/#/p/${id}/rules`);
  return id;
}

async function ruleStatements(page: Page): Promise<string[]> {
  await expect(page.getByRole('heading', { name: /^Rules \(\d+\)/ })).toBeVisible();
  return (await page.locator('li.rule .statement').allInnerTexts()).sort();
}

test('an annotation run through a batch file ends done with the rules of a live run', async ({
  page,
}) => {
  test.setTimeout(180_000);
  await annotatedProject(page, 'Batch annotation');
  await page.getByRole('button', { name: 'Plan for a batch file' }).click();
  await expect(
    page.getByRole('progressbar', { name: 'Annotation waiting (live or batch file)' }),
  ).toBeVisible();
  await page.getByText('Batch file (vLLM run-batch, provider batch APIs)').click();
  const before = server.chatBodies().length;
  const input = await exportFile(page);
  // Exporting sends nothing to the endpoint.
  expect(server.chatBodies()).toHaveLength(before);
  const ids = customIds(input);
  expect(ids.length).toBeGreaterThan(3);
  const first = JSON.parse(input.split('\n')[0] ?? '') as {
    method: string;
    url: string;
    body: { model: string; response_format: { type: string } };
  };
  expect(first).toMatchObject({
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: 'annotator', response_format: { type: 'json_schema' } },
  });
  await expect(page.getByRole('status').filter({ hasText: /^Exported \d+ annotator/ })).toHaveText(
    new RegExp(`^Exported ${ids.length} annotator requests \\(model “annotator”\\)`),
  );

  const output = await runBatchFile(input, server.url);
  const lines = output.trimEnd().split('\n');
  // Half the file first, then all of it: the first half is not applied twice.
  const half = Math.floor(lines.length / 2);
  await importFile(page, 'half.jsonl', lines.slice(0, half).join('\n') + '\n');
  const summary = page.getByTestId('batch-report-summary');
  await expect(summary).toHaveText(
    `“half.jsonl”: ${half} lines · ${half} applied · 0 already applied · 0 with problems · ${lines.length - half} tasks still pending.`,
  );
  await expect(page.getByText(`${half} of ${ids.length + 1} chunks`)).toBeVisible();
  await importFile(page, 'results.jsonl', output);
  // Nothing waits for a model any more: the run finishes (the merge step) by itself.
  await expect(page.getByText(/Last annotation: done/)).toBeVisible({ timeout: 60_000 });
  const viaBatch = await ruleStatements(page);
  expect(viaBatch.length).toBeGreaterThan(3);

  // The same spec annotated live gives the same rules.
  await annotatedProject(page, 'Live annotation');
  await page.getByRole('button', { name: 'Annotate spec' }).click();
  await expect(page.getByText(/Last annotation: done/)).toBeVisible({ timeout: 60_000 });
  expect(await ruleStatements(page)).toEqual(viaBatch);
});

test('an evaluation run through two batch files gives the live score; a malformed file is reported line by line', async ({
  page,
}) => {
  test.setTimeout(180_000);
  const nav = await openProjectFile(page, projectFile(server.url, { name: 'Batch eval' }));
  await nav.getByRole('link', { name: 'Evaluate' }).click();
  const form = page.getByRole('form', { name: 'Evaluation settings' });
  await form.getByRole('radio', { name: /All pairs' queries/ }).check();
  await expect(form.getByText(/^8 queries testing 4 rules/)).toBeVisible();
  await form.getByRole('button', { name: 'Plan for a batch file' }).click();
  await expect(page.getByRole('heading', { name: 'Evaluation — queued' })).toBeVisible();
  await page.getByText('Batch file (vLLM run-batch, provider batch APIs)').click();

  // First file: the target's answers.
  const targetInput = await exportFile(page);
  expect(customIds(targetInput)).toHaveLength(8);
  expect(targetInput).toContain('[agent: target]');
  expect(targetInput).not.toContain('[agent: safetyJudge]');
  const good = (await runBatchFile(targetInput, server.url)).trimEnd().split('\n');

  // A malformed output: a non-JSON answer, a failed request, an error line, a duplicate, and a
  // last line cut short. Those tasks stay pending; the good lines are applied.
  type OutputLine = {
    response: { body: { choices: { message: { content: string } }[] } } | null;
  } & Record<string, unknown>;
  const parsed = good.map((l) => JSON.parse(l) as OutputLine);
  const notJson = structuredClone(parsed[1]) as OutputLine;
  const choice = notJson.response?.body.choices[0];
  if (choice) choice.message.content = 'Sure! Here is my answer, not in JSON.';
  const failed = {
    ...parsed[2],
    response: { status_code: 500, body: { error: { message: 'GPU fell over' } } },
  };
  const expired = {
    ...parsed[3],
    response: null,
    error: { code: 'batch_expired', message: 'Not run in time.' },
  };
  const broken = [
    good[0],
    JSON.stringify(notJson),
    JSON.stringify(failed),
    JSON.stringify(expired),
    good[4],
    good[4],
    good[5],
    (good[6] ?? '').slice(0, 60),
  ].join('\r\n');
  await importFile(page, 'broken.jsonl', broken);
  const report = page.getByRole('region', { name: 'Batch import report' });
  await expect(report.getByTestId('batch-report-summary')).toHaveText(
    '“broken.jsonl”: 8 lines · 3 applied · 0 already applied · 5 with problems · 8 tasks still pending.',
  );
  const problems = report.getByRole('list', { name: 'Lines with problems' }).getByRole('listitem');
  await expect(problems).toHaveText([
    /^line 2 \(task \d+\): target answer is not usable: it is not JSON/,
    /^line 3 \(task \d+\): the request failed with HTTP 500: GPU fell over$/,
    /^line 4 \(task \d+\): the batch reported an error: batch_expired: Not run in time\.$/,
    /^line 6 \(task \d+\): duplicate custom_id \(first on line 5\)$/,
    /^line 8: the line is cut short/,
  ]);
  await expect(page.getByText('0 of 8 done')).toBeVisible();

  // Re-export: the five tasks still waiting for the target; the three answered wait for the judge.
  const retryInput = await exportFile(page);
  expect(customIds(retryInput)).toHaveLength(5);
  await expect(page.getByRole('status').filter({ hasText: /^Exported 5/ })).toContainText(
    '3 judge requests follow in a second file once these answers are imported.',
  );
  await importFile(page, 'retry.jsonl', await runBatchFile(retryInput, server.url));
  await expect(report.getByTestId('batch-report-summary')).toHaveText(
    '“retry.jsonl”: 5 lines · 5 applied · 0 already applied · 0 with problems · 8 tasks still pending.',
  );
  // The first complete output again changes nothing.
  await importFile(page, 'results.jsonl', good.join('\n'));
  await expect(report.getByTestId('batch-report-summary')).toHaveText(
    '“results.jsonl”: 8 lines · 0 applied · 8 already applied · 0 with problems · 8 tasks still pending.',
  );

  // Second file: the judge's checklists, now that every answer is in.
  const judgeInput = await exportFile(page);
  expect(customIds(judgeInput)).toHaveLength(8);
  expect(judgeInput).toContain('[agent: safetyJudge]');
  await importFile(page, 'judged.jsonl', await runBatchFile(judgeInput, server.url));
  await expect(page.getByRole('heading', { name: /^Evaluation — / })).toBeHidden({
    timeout: 60_000,
  });
  const results = page.getByRole('region', { name: 'Results' });
  await expect(results.getByTestId('rcs-overall')).toHaveText('50.0%');
  await expect(results.getByText('4 of 8 rule checks passed · 8 queries')).toBeVisible();
  await expect(results.getByTestId('over-refusal')).toHaveText('25.0%');

  // A live run of the same evaluation scores the same.
  await form.getByRole('button', { name: 'Start evaluation' }).click();
  await expect(page.getByRole('heading', { name: /^Evaluation — / })).toBeHidden({
    timeout: 60_000,
  });
  const compare = page.getByRole('region', { name: 'Compare two evaluations' });
  await expect(compare.getByTestId('compare-overall')).toHaveText(/RCS A 50\.0% · B 50\.0%/);
  await expect(page.locator('main i')).toHaveCount(0);
});
