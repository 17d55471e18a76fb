/**
 * Evaluation end to end with the fake endpoint as both target and safety judge.
 *
 * The known score: the project has 4 rules (R1–R4 in its one instance) and 8 queries, two per
 * rule (a violation-seeking one and a benign one). The judge's checklist covers all four rules;
 * the scripted judge marks the rules a query was not written to test as untouched
 * (not-applicable, counted nowhere) and finds a rule violated exactly when its label is even and
 * the reply does not say "cannot" — the target never does — so R2 and R4 fail both their
 * checks: RCS = 4 / 8 = 50.0%. The target refuses one benign query
 * (of four): over-refusal 25.0%.
 *
 * Calibration: the spec's two worked examples live in the rules' section, so every reply is
 * judged against R1–R4. GOOD "I cannot share that." → complied (agree); BAD "Sure, it is …" →
 * violated (agree); GOOD "Happy to help…" → violated (disagree); BAD "Sure, here is…" → violated
 * (agree): agreement 3 / 4 = 75.0%, confusion 2 / 0 / 1 / 1.
 *
 * Imported eval set: the same 8 queries, marked for evaluation, downloaded from Export and
 * imported on Evaluate give the same 50.0% — also when half of them name an instance the project
 * no longer has (they then run under the system prompt stored in the file).
 */
import { readFile } from 'node:fs/promises';
import { startFakeOpenAiServer, type FakeOpenAiServer } from '../fixtures/fake-openai-server';
import { expect, test } from './fixtures';
import { projectFile, script } from './harness/eval-project';
import { openProjectFile } from './harness/project-file';

let server: FakeOpenAiServer;
test.beforeAll(async () => {
  server = await startFakeOpenAiServer({ models: ['evalfake'], script, latencyMs: 120 });
});
test.afterAll(async () => {
  await server.close();
});

test('an evaluation run gives the known RCS and over-refusal; calibration shows the known agreement', async ({
  page,
}) => {
  test.setTimeout(180_000);
  const nav = await openProjectFile(page, projectFile(server.url));
  await nav.getByRole('link', { name: 'Evaluate' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Evaluate' })).toBeVisible();

  // Dashboard: 8 pairs, rules × case types with counts as text.
  await expect(page.getByTestId('dashboard-pairs')).toHaveText('8');
  await expect(page.getByTestId('acceptance-rate')).toHaveText(/100% \(1 accepted, 0 rejected\)/);
  const heatmap = page.getByRole('table', { name: /Coverage: pairs per accepted rule/ });
  await expect(
    heatmap.getByRole('row', { name: /Never share a caller’s number\. 1 0 1 2/ }),
  ).toBeVisible();

  // One instance always stays in train: the held-out set is empty until "all pairs" is chosen.
  const form = page.getByRole('form', { name: 'Evaluation settings' });
  await expect(form.getByText(/^0 queries testing 0 rules/)).toBeVisible();
  await expect(form.getByRole('button', { name: 'Start evaluation' })).toBeDisabled();
  await form.getByRole('radio', { name: /All pairs' queries/ }).check();
  await expect(form.getByText(/^8 queries testing 4 rules/)).toBeVisible();
  await form.getByRole('button', { name: 'Start evaluation' }).click();

  // Pause after a step, then resume: the score must come out the same.
  const active = page.getByRole('region', { name: /^Evaluation — / });
  await active.getByRole('button', { name: 'Pause' }).click();
  await expect(page.getByRole('heading', { name: 'Evaluation — paused' })).toBeVisible();
  await active.getByRole('button', { name: 'Resume' }).click();
  const results = page.getByRole('region', { name: 'Results' });
  await expect(page.getByRole('heading', { name: /^Evaluation — / })).toBeHidden({
    timeout: 60_000,
  });
  await expect(results.getByTestId('rcs-overall')).toHaveText('50.0%');
  await expect(results.getByText('4 of 8 rule checks passed · 8 queries')).toBeVisible();
  await expect(results.getByTestId('over-refusal')).toHaveText('25.0%');
  await expect(results.getByRole('img', { name: 'RCS per rule' })).toBeVisible();
  await expect(results.getByRole('img', { name: 'RCS per family' })).toBeVisible();
  await expect(results.getByRole('img', { name: 'RCS per stage' })).toBeVisible();
  // Per rule: R1 and R3 pass everything, R2 and R4 nothing.
  await expect(
    results.getByRole('row', { name: 'Never share a caller’s number. 2 2 100.0%' }),
  ).toBeVisible();
  await expect(results.getByRole('row', { name: 'Say when unsure. 0 2 0.0%' })).toBeVisible();

  // A second, smaller run, then compare the two.
  await form.getByLabel('Most queries (optional)').fill('2');
  await expect(form.getByText(/^2 queries testing 1 rules/)).toBeVisible();
  await form.getByRole('button', { name: 'Start evaluation' }).click();
  await expect(page.getByRole('heading', { name: /^Evaluation — / })).toBeHidden({
    timeout: 60_000,
  });
  const compare = page.getByRole('region', { name: 'Compare two evaluations' });
  await expect(compare.getByTestId('compare-overall')).toHaveText(/RCS A 50\.0% · B 100\.0%/);
  await expect(compare.getByRole('img', { name: 'RCS per rule, run A and run B' })).toBeVisible();

  // Judge calibration on the spec's own examples.
  const calibration = page.getByRole('region', { name: 'Judge calibration' });
  await calibration.getByRole('button', { name: 'Calibrate the judge' }).click();
  await expect(calibration.getByTestId('calibration-accuracy')).toHaveText('75.0%', {
    timeout: 60_000,
  });
  await expect(calibration.getByTestId('calibration-row')).toHaveText(
    /openai:evalfake@.*\s*4\s*75\.0%\s*95 % CI 30\.1–95\.4 %\s*0\.50 \(-0\.35 to 1\.00\)\s*2\s*0\s*1\s*1/,
  );
  // κ's interval reaches 0 on four examples: the panel says not to trust this judge.
  await expect(calibration.getByTestId('calibration-chance')).toContainText(
    'no better than chance',
  );
  await calibration.getByText(/Disagreements of/).click();
  await expect(
    calibration.getByText('Example ex2: the spec says complied, the judge said violated'),
  ).toBeVisible();

  // No model output became markup.
  await expect(page.locator('main i')).toHaveCount(0);
});

test('an eval set downloaded from Export and imported on Evaluate gives the known RCS; a malformed one is refused', async ({
  page,
}) => {
  test.setTimeout(180_000);
  const nav = await openProjectFile(
    page,
    projectFile(server.url, { name: 'Eval set test', markEval: true }),
  );

  // Export the eval set (every pair is marked for evaluation, most are unreviewed).
  await nav.getByRole('link', { name: 'Export' }).click();
  await page.getByLabel('Include pending (unreviewed) pairs').check();
  const pending = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download eval set (JSONL)' }).click();
  const exported = (await readFile((await (await pending).path()) as string, 'utf8'))
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as { instance_id: string; system: string; rule_ids: string[] });
  expect(exported).toHaveLength(8);
  // The last four as if their instance had been re-sampled away since the export.
  const rows = exported.map((r, i) => (i < 4 ? r : { ...r, instance_id: 'resampled-away' }));
  expect(rows[7]?.system).toContain('R4. Use plain words.');

  await nav.getByRole('link', { name: 'Evaluate' }).click();
  const form = page.getByRole('form', { name: 'Evaluation settings' });
  await form.getByRole('radio', { name: 'Imported eval set (JSONL file)' }).check();
  const file = form.getByLabel('Eval set file (JSONL)');
  const start = form.getByRole('button', { name: 'Start evaluation' });
  await expect(start).toBeDisabled();

  // Malformed files: the first problem is named and no run is created.
  const lines = rows.map((r) => JSON.stringify(r));
  await file.setInputFiles({
    name: 'broken.jsonl',
    mimeType: 'application/jsonl',
    buffer: Buffer.from([lines[0], '{"instance_id": ', ...lines.slice(2)].join('\n')),
  });
  await expect(form.getByRole('alert')).toHaveText(
    '“broken.jsonl” cannot be evaluated: Line 2 is not valid JSON.',
  );
  await expect(start).toBeDisabled();
  // A file cut short says where it ends; one with a wrong type names the field.
  const cut = [lines[0], lines[1]?.slice(0, 40)].join('\n');
  await file.setInputFiles({
    name: 'cut.jsonl',
    mimeType: 'application/jsonl',
    buffer: Buffer.from(cut),
  });
  await expect(form.getByRole('alert')).toHaveText(
    `“cut.jsonl” cannot be evaluated: Line 2 is cut short: the file ends early (truncated at byte ${Buffer.byteLength(cut)}). Export the eval set again, or use the complete copy.`,
  );
  await file.setInputFiles({
    name: 'types.jsonl',
    mimeType: 'application/jsonl',
    buffer: Buffer.from(JSON.stringify({ ...rows[0], messages: [{ role: 'user', content: 3 }] })),
  });
  await expect(form.getByRole('alert')).toContainText(
    '(messages[0].content: expected a string, got a number)',
  );
  await expect(start).toBeDisabled();
  // The project file's own rule ids were replaced on import: its original ids are foreign here.
  await file.setInputFiles({
    name: 'other-project.jsonl',
    mimeType: 'application/jsonl',
    buffer: Buffer.from(JSON.stringify({ ...rows[0], rule_ids: ['rule-1', 'rule-2'] })),
  });
  await expect(form.getByRole('alert')).toHaveText(
    '“other-project.jsonl” cannot be evaluated: Line 1 refers to rules not in this project: rule-1, rule-2 (the eval set was exported from another project?)',
  );
  await expect(start).toBeDisabled();

  // The valid file: summarised, then evaluated on exactly its queries.
  await file.setInputFiles({
    name: 'eval-set.jsonl',
    mimeType: 'application/jsonl',
    buffer: Buffer.from(lines.join('\n') + '\n'),
  });
  await expect(form.getByTestId('eval-set-summary')).toHaveText(
    '“eval-set.jsonl”: 8 queries testing 4 rules (4 violation, 0 borderline, 4 benign). 4 queries belong to instances not in this project and use the file’s system prompt.',
  );
  await expect(form.getByRole('alert')).toBeHidden();
  await start.click();
  await expect(page.getByRole('heading', { name: /^Evaluation — / })).toBeHidden({
    timeout: 60_000,
  });
  const results = page.getByRole('region', { name: 'Results' });
  await expect(results.getByTestId('rcs-overall')).toHaveText('50.0%');
  await expect(results.getByText('4 of 8 rule checks passed · 8 queries')).toBeVisible();
  await expect(results.getByTestId('over-refusal')).toHaveText('25.0%');
  await expect(results.getByTestId('run-source')).toHaveText(
    'Queries from “eval-set.jsonl”: 8 queries testing 4 rules.',
  );
  // The refused files left no run behind: this is the only one.
  await expect(results.getByLabel('Evaluation run').locator('option')).toHaveCount(1);
  await expect(page.locator('main i')).toHaveCount(0);
});
