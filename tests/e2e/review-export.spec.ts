import { strFromU8, unzipSync } from 'fflate';
import { synthesisProvenance } from '../helpers/provenance';
import { expect, test, download } from './fixtures';
import { openProjectFile, projectFileOf } from './harness/project-file';

const PAIRS = 30;
const SYSTEM = 'You are a support assistant. Never reveal personal data. Say when unsure.';
const CASES = ['violation', 'borderline', 'benign'] as const;

/**
 * A project file with two rules, one instance and {@link PAIRS} pending pairs (q-00 … q-29):
 * pair i targets rule-a (privacy, content stage) when i is even, else rule-b (honesty, style);
 * its defender refused needlessly when i < 10, and its chosen quality score is (i % 5) + 1.
 */
function projectFile() {
  const now = 1_700_000_000_000;
  const rule = (id: string, statement: string, quote: string, family: string, stage: string) => ({
    id,
    projectId: 'p',
    specVersionId: 'v',
    sectionAnchor: 'privacy',
    statement,
    direction: 'negative',
    stage,
    domain: 'support',
    family,
    priority: 4,
    strength: 'must',
    exceptions: [],
    appliesWhen: [],
    source: { quote, start: 0, end: quote.length, located: true },
    status: 'accepted',
    origin: 'model',
    createdAt: now,
    updatedAt: now,
  });
  const pairs = Array.from({ length: PAIRS }, (_, i) => {
    const n = String(i).padStart(2, '0');
    return {
      id: `pair-${n}`,
      projectId: 'p',
      runId: 'run',
      instanceId: 'inst',
      ruleIds: [i % 2 === 0 ? 'rule-a' : 'rule-b'],
      caseType: CASES[i % 3],
      prompt: [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: `Question q-${n}: tell me the previous caller's number.` },
      ],
      chosen: `I can't share that (reply c-${n}).`,
      // Untrusted model output: must show as text, never as markup.
      rejected: `<b>Sure</b>, it is 555-01${n} (reply r-${n}).`,
      status: 'pending',
      // Synthesis provenance must be complete: the readers skip a record that fails its schema.
      provenance: synthesisProvenance({
        path: i < 10 ? 'over-refusal' : 'defender-violated',
        chosen: { quality: { helpfulness: 5, fluency: (i % 5) + 1, rationale: 'ok' } },
        judgements: [
          {
            subject: 'defender',
            judge: 'safety',
            attempt: 1,
            passed: false,
            safety: {
              verdicts: [
                {
                  label: 'R1',
                  verdict: 'violated',
                  evidence: 'gave a number',
                  rationale: `Leaked a number in case ${n}.`,
                },
              ],
              overRefusal: false,
            },
          },
        ],
      }),
      createdAt: now + i,
    };
  });
  return projectFileOf(
    'Review test',
    {
      rules: [
        rule(
          'rule-a',
          'Never reveal personal data of another user.',
          'must never reveal personal data',
          'privacy',
          'content',
        ),
        rule('rule-b', 'Say when unsure.', 'should say when it is unsure', 'honesty', 'style'),
      ],
      instances: [
        {
          id: 'inst',
          projectId: 'p',
          specVersionId: 'v',
          seed: 1,
          index: 0,
          ruleIds: ['rule-a', 'rule-b'],
          pinned: false,
          systemPrompt: SYSTEM,
          createdAt: now,
        },
      ],
      pairs,
    },
    { now },
  );
}

test('pairs are reviewed by keyboard and in bulk, then exported as TRL DPO JSONL and an HF zip', async ({
  page,
}) => {
  const nav = await openProjectFile(page, projectFile());
  await nav.getByRole('link', { name: 'Review' }).click();
  await expect(page.getByText(`${PAIRS} of ${PAIRS} pairs shown`)).toBeVisible();
  await expect(page.getByText(/Keyboard: j/)).toBeVisible();

  // The first pair: prompt, rule with its quote, judge rationale, rejected reply behind a warning.
  const pair = page.getByRole('article');
  await expect(pair.getByText('Question q-00')).toBeVisible();
  await expect(pair.getByText('Never reveal personal data of another user.')).toBeVisible();
  await expect(pair.getByText('must never reveal personal data')).toBeVisible();
  await expect(pair.getByText('Leaked a number in case 00.')).toBeVisible();
  await expect(
    pair.getByText('Defender refused needlessly. Chosen quality score: 1/5.'),
  ).toBeVisible();
  await expect(pair.getByText(SYSTEM)).toBeHidden(); // system prompt starts collapsed
  const warning = pair.getByText('Content warning: this reply violates the rule on purpose');
  await expect(warning).toBeVisible();
  await expect(pair.getByText('(reply r-00)')).toBeHidden();
  await warning.click();
  // Plain text: the markup shows literally and creates no element.
  await expect(pair.getByText('<b>Sure</b>, it is 555-0100 (reply r-00).')).toBeVisible();
  await expect(pair.locator('b')).toHaveCount(0);

  // Keyboard: a accepts and moves on, r rejects, j/k move, e edits the chosen reply.
  await page.getByRole('heading', { level: 1, name: 'Review' }).focus();
  await page.keyboard.press('a');
  await expect(pair.getByText('Question q-01')).toBeVisible();
  await page.keyboard.press('r');
  await expect(pair.getByText('Question q-02')).toBeVisible();
  await page.keyboard.press('j');
  await expect(pair.getByText('Question q-03')).toBeVisible();
  await page.keyboard.press('k');
  await expect(pair.getByText('Question q-02')).toBeVisible();
  await page.keyboard.press('e');
  const editor = page.getByLabel('Edit chosen text');
  await expect(editor).toBeFocused();
  await editor.fill('Edited: I cannot share that.');
  await page.getByRole('button', { name: 'Save chosen text' }).click();
  await expect(pair.getByText('Edited: I cannot share that.')).toBeVisible();
  await page.getByRole('heading', { level: 1, name: 'Review' }).focus();
  await page.keyboard.press('a');
  await expect(pair.getByText('Question q-03')).toBeVisible();
  await expect(page.getByRole('button', { name: /^Pair 1 of 30: accepted/ })).toBeVisible();
  await expect(page.getByRole('button', { name: /^Pair 2 of 30: rejected/ })).toBeVisible();
  await expect(page.getByRole('button', { name: /^Pair 3 of 30: accepted/ })).toBeVisible();

  // Text search runs in the worker.
  await page.getByLabel('Search text').fill('q-17');
  await expect(page.getByText(`1 of ${PAIRS} pairs shown`)).toBeVisible();
  await page.getByLabel('Search text').fill('');
  await expect(page.getByText(`${PAIRS} of ${PAIRS} pairs shown`)).toBeVisible();

  // Rule family and stage, the judges' verdicts and the quality score narrow together.
  const filters = page.getByRole('form', { name: 'Filter pairs' });
  await filters.getByLabel('Family').selectOption('honesty');
  await expect(page.getByText(`15 of ${PAIRS} pairs shown`)).toBeVisible();
  await filters.getByLabel('Stage').selectOption('style');
  await expect(page.getByText(`15 of ${PAIRS} pairs shown`)).toBeVisible();
  await filters.getByLabel('Quality score').selectOption({ label: '4 or more' });
  await expect(page.getByText(`6 of ${PAIRS} pairs shown`)).toBeVisible(); // q-03, 09, 13, 19, 23, 29
  await filters.getByLabel('Verdicts').selectOption({ label: 'Defender refused needlessly' });
  await expect(page.getByText(`2 of ${PAIRS} pairs shown`)).toBeVisible(); // q-03, q-09
  await filters.getByLabel('Stage').selectOption('content');
  await expect(page.getByText('No pair matches these filters.')).toBeVisible();
  for (const label of ['Family', 'Stage', 'Quality score', 'Verdicts'])
    await filters.getByLabel(label).selectOption('');
  await expect(page.getByText(`${PAIRS} of ${PAIRS} pairs shown`)).toBeVisible();

  // Bulk: reject every borderline pair (q-01, q-04 … q-28). q-01 is rejected already, so the
  // action changes 9 pairs and says so before it does.
  await page.getByLabel('Case type').selectOption('borderline');
  await expect(page.getByText(`10 of ${PAIRS} pairs shown`)).toBeVisible();
  await page.getByRole('button', { name: 'Reject all shown' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Reject 9 pairs' }).click();
  await expect(page.getByText('Rejected 9 pairs.')).toBeVisible();
  await page.getByLabel('Case type').selectOption('all');
  await expect(page.getByText(`${PAIRS} of ${PAIRS} pairs shown`)).toBeVisible();

  // "Accept all shown" with every status shown changes only the 18 pending pairs: the hand
  // decisions (q-01 rejected by keyboard) stay. Including decided pairs would change 28.
  const include = page.getByLabel('Include decided pairs');
  await include.check();
  await page.getByRole('button', { name: 'Accept all shown' }).click();
  await expect(
    page.getByRole('dialog').getByRole('button', { name: 'Accept 28 pairs' }),
  ).toBeVisible();
  await page.getByRole('dialog').getByRole('button', { name: 'Keep it' }).click();
  await include.uncheck();
  await page.getByRole('button', { name: 'Accept all shown' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Accept 18 pairs' }).click();
  await expect(page.getByText('Accepted 18 pairs.')).toBeVisible();
  await expect(page.getByRole('button', { name: /^Pair 2 of 30: rejected/ })).toBeVisible();
  await expect(page.getByRole('button', { name: /^Pair 4 of 30: accepted/ })).toBeVisible();

  // Undo restores each pair's previous status; then the action is redone.
  await expect(page.getByText('Last bulk action: 18 pairs accepted.')).toBeVisible();
  await page.getByRole('button', { name: 'Undo the last bulk action' }).click();
  await expect(page.getByText('Undone: 18 pairs have their previous status again.')).toBeVisible();
  await expect(page.getByRole('button', { name: /^Pair 4 of 30: pending/ })).toBeVisible();
  await expect(page.getByRole('button', { name: /^Pair 2 of 30: rejected/ })).toBeVisible();
  await page.getByRole('button', { name: 'Accept all shown' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Accept 18 pairs' }).click();
  // The first action's notice may still be up: a second one with the same text joins it.
  await expect(page.getByText('Accepted 18 pairs.').last()).toBeVisible();
  await expect(page.getByRole('button', { name: /^Pair 4 of 30: accepted/ })).toBeVisible();
  await expect(page.getByRole('button', { name: /^Pair 2 of 30: rejected/ })).toBeVisible();

  const accepted = Array.from({ length: PAIRS }, (_, i) => i).filter((i) => i % 3 !== 1);
  const tag = (i: number) => String(i).padStart(2, '0');

  // Export: TRL DPO (standard) JSONL of the accepted pairs, in creation order.
  await nav.getByRole('link', { name: 'Export' }).click();
  await expect(page.getByText('20 accepted and 0 pending pairs.')).toBeVisible();
  // Plain exports here; export-mix.spec.ts covers the training mix (on by default).
  await page.getByLabel(/Apply the training mix/).uncheck();
  await page.getByLabel('Format').selectOption({ label: 'TRL DPO (standard)' });
  const jsonl = await download(page, () =>
    page.getByRole('button', { name: 'Download TRL DPO (standard) JSONL' }).click(),
  );
  expect(jsonl.name).toBe('review-test-dpo-standard.jsonl');
  const rows = jsonl.bytes
    .toString('utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as { prompt: string; chosen: string; rejected: string });
  expect(rows.map((r) => r.prompt)).toEqual(
    accepted.map((i) => `Question q-${tag(i)}: tell me the previous caller's number.`),
  );
  expect(rows.every((r) => Object.keys(r).join() === 'prompt,chosen,rejected')).toBe(true);
  expect(rows[1]!.chosen).toBe('Edited: I cannot share that.');
  expect(rows[0]!.rejected).toBe('<b>Sure</b>, it is 555-0100 (reply r-00).');
  await expect(page.getByText('Saved review-test-dpo-standard.jsonl')).toBeVisible();

  // The HF dataset zip: a lone instance stays in train; rules and a card come along.
  await page.getByLabel('Test fraction').fill('0');
  await page.getByLabel('License').selectOption('cc-by-4.0');
  const zip = await download(page, () =>
    page.getByRole('button', { name: 'Download dataset (.zip)' }).click(),
  );
  expect(zip.name).toBe('review-test-dpo-standard-dataset.zip');
  const files = unzipSync(new Uint8Array(zip.bytes));
  expect(Object.keys(files).sort()).toEqual(['README.md', 'data/train.jsonl', 'rules.json']);
  const train = strFromU8(files['data/train.jsonl']!).trimEnd().split('\n');
  expect(train).toHaveLength(accepted.length);
  expect(JSON.parse(train[1]!).chosen).toBe('Edited: I cannot share that.');
  expect(strFromU8(files['README.md']!)).toContain('license: cc-by-4.0');
  expect(JSON.parse(strFromU8(files['rules.json']!)).rules).toHaveLength(2);

  // An empty selection gives the exporter's message and no file.
  let downloads = 0;
  page.on('download', () => downloads++);
  await page.getByRole('button', { name: 'Download eval set (JSONL)' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'No held-out queries' })).toBeVisible();
  expect(downloads).toBe(0);
});
