/**
 * Stale pairs and dataset versions (issue 11 §3–4) end to end: a project whose spec update
 * marked some pairs stale shows them in Review (filter and badge); the Export screen counts them,
 * leaves them out by default and includes them on request; exports name the spec version, the
 * card carries the changelog, and a delta gives the pairs added since an earlier export.
 */
import { strFromU8, unzipSync } from 'fflate';
import { expect, test, download } from './fixtures';
import { openProjectFile, projectFileOf } from './harness/project-file';

const SYSTEM = 'You are a support assistant. Never reveal personal data.';
/** Pairs s-0 … s-5 are accepted; s-1 and s-4 test a rule the v2 update retired. */
const STALE = new Set([1, 4]);

function projectFile() {
  const now = 1_700_000_000_000;
  const text = '# Policy\n\nThe assistant must never reveal personal data.\n';
  const pairs = Array.from({ length: 6 }, (_, i) => ({
    id: `pair-${i}`,
    projectId: 'p',
    runId: 'run',
    instanceId: 'inst',
    ruleIds: ['rule-a'],
    caseType: 'violation',
    prompt: [
      { role: 'system', content: SYSTEM },
      { role: 'user', content: `Question s-${i}` },
    ],
    chosen: `I can't share that (c-${i}).`,
    rejected: `Sure (r-${i}).`,
    status: 'accepted',
    provenance: {},
    createdAt: now + i,
    ...(STALE.has(i)
      ? { stale: { reason: 'retired', specVersionId: 'v', lineageIds: ['rule-old'] } }
      : {}),
  }));
  return projectFileOf(
    'Stale test',
    {
      specVersions: [
        {
          id: 'v',
          projectId: 'p',
          versionNumber: 1,
          title: 'Policy',
          sourceName: 'policy.md',
          sourceType: 'markdown',
          format: 'markdown',
          text,
          contentHash: 'abc',
          createdAt: now,
        },
      ],
      rules: [
        {
          id: 'rule-a',
          projectId: 'p',
          specVersionId: 'v',
          sectionAnchor: 'policy',
          statement: 'Never reveal personal data.',
          direction: 'negative',
          stage: 'content',
          domain: 'support',
          family: 'privacy',
          priority: 4,
          strength: 'must',
          exceptions: [],
          appliesWhen: [],
          source: { quote: 'must never reveal personal data', start: 24, end: 55, located: true },
          status: 'accepted',
          origin: 'model',
          createdAt: now,
          updatedAt: now,
        },
      ],
      instances: [
        {
          id: 'inst',
          projectId: 'p',
          specVersionId: 'v',
          seed: 1,
          index: 0,
          ruleIds: ['rule-a'],
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

const prompts = (bytes: Buffer | Uint8Array) =>
  Buffer.from(bytes)
    .toString('utf8')
    .trimEnd()
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { prompt: string }).prompt);

test('stale pairs are filterable in Review, left out of exports by default, and versions are tracked', async ({
  page,
}) => {
  const nav = await openProjectFile(page, projectFile());

  // Review: the Stale filter runs in the worker; the list and the pair say why.
  await nav.getByRole('link', { name: 'Review' }).click();
  await expect(page.getByText('6 of 6 pairs shown')).toBeVisible();
  await page.getByLabel('Spec currency').selectOption('stale');
  await expect(page.getByText('2 of 6 pairs shown')).toBeVisible();
  await expect(
    page.getByRole('button', { name: /^Pair 1 of 2: accepted, violation, stale/ }),
  ).toBeVisible();
  await expect(page.getByTestId('stale-note')).toContainText('retired a rule this pair tests');
  await expect(page.getByRole('article').getByText('Question s-1')).toBeVisible();
  await page.getByLabel('Spec currency').selectOption('current');
  await expect(page.getByText('4 of 6 pairs shown')).toBeVisible();

  // Export: the count, the default exclusion, the file named after the spec version.
  await nav.getByRole('link', { name: 'Export' }).click();
  await page.getByLabel(/Apply the training mix/).uncheck();
  await expect(page.getByTestId('stale-summary')).toContainText('2 stale pairs left out');
  await expect(page.getByText('4 pairs selected.')).toBeVisible();
  await expect(page.getByTestId('no-exports')).toBeVisible();
  await page.getByLabel('Format').selectOption({ label: 'TRL DPO (standard)' });
  const first = await download(page, () =>
    page.getByRole('button', { name: 'Download TRL DPO (standard) JSONL' }).click(),
  );
  expect(first.name).toBe('stale-test-v1-dpo-standard.jsonl');
  expect(prompts(first.bytes)).toEqual(['s-0', 's-2', 's-3', 's-5'].map((s) => `Question ${s}`));
  await expect(
    page.getByRole('status').filter({ hasText: '2 stale pairs left out' }),
  ).toBeVisible();

  // Included on request; the card of the dataset says so, with the changelog since the JSONL.
  await page.getByLabel('Include stale pairs').check();
  await expect(page.getByText('6 pairs selected.')).toBeVisible();
  await page.getByLabel('Test fraction').fill('0');
  const zip = await download(page, () =>
    page.getByRole('button', { name: 'Download dataset (.zip)' }).click(),
  );
  expect(zip.name).toBe('stale-test-v1-dpo-standard-dataset.zip');
  const card = strFromU8(unzipSync(new Uint8Array(zip.bytes))['README.md']!);
  expect(card).toContain('This dataset includes 2 pairs marked stale');
  expect(card).toContain('Since the previous export, `stale-test-v1-dpo-standard.jsonl`');
  expect(card).toContain('- Pairs: 2 pairs added, 0 pairs retired.');

  // A delta since the first export: just the two stale pairs now included.
  const since = page.getByLabel('Delta since');
  await expect(since.locator('option')).toHaveCount(2);
  await since.selectOption({ index: 1 }); // newest first: the JSONL export
  const delta = await download(page, () =>
    page.getByRole('button', { name: 'Download delta (.zip)' }).click(),
  );
  expect(delta.name).toBe('stale-test-v1-dpo-standard-delta-since-v1.zip');
  const files = unzipSync(new Uint8Array(delta.bytes));
  expect(prompts(files['added.jsonl']!)).toEqual(['Question s-1', 'Question s-4']);
  expect(JSON.parse(strFromU8(files['retired.json']!)).retiredPairIds).toEqual([]);
  await expect(
    page.getByRole('status').filter({ hasText: '2 pairs added, 0 pairs retired' }),
  ).toBeVisible();
});
