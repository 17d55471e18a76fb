import { strFromU8, unzipSync } from 'fflate';
import { synthesisProvenance } from '../helpers/provenance';
import { featureProblems, splitCard } from '../unit/core/export/fixtures';
import { expect, test, download } from './fixtures';
import { openProjectFile, projectFileOf } from './harness/project-file';

const WORDS =
  'harbor dock weather boat refund account order policy caller number privacy detail support tide anchor sail engine fuel ticket schedule storm chart radio crew cargo license permit marina slip mooring'.split(
    ' ',
  );

/** A 14-word query of its own for pair `i` (distinct queries share almost no word 3-gram). */
function query(i: number): string {
  let x = (i + 1) * 2654435761;
  const words = Array.from({ length: 14 }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return WORDS[(x >>> 16) % WORDS.length];
  });
  return `Question ${i}: ${words.join(' ')}?`;
}

/**
 * 24 accepted pairs over two runs and two instances. Pairs 20–23 (run 2) ask pairs 0–3's
 * questions again (upper-cased, with "please"): near-duplicates across runs. Pairs 16 and 17
 * have a chosen reply ten times longer than the rejected one: outside ½–2.
 */
function projectFile() {
  const now = 1_700_000_000_000;
  const system = (inst: string) =>
    `You are a marina assistant (${inst}). Never reveal personal data.`;
  const pairs = Array.from({ length: 24 }, (_, i) => {
    const instanceId = i % 2 ? 'inst-b' : 'inst-a';
    const text = i >= 20 ? `${query(i - 20).toUpperCase()} please` : query(i);
    const reply = `I cannot share that, but here is what I can do for case ${i}.`;
    return {
      id: `pair-${String(i).padStart(2, '0')}`,
      projectId: 'p',
      runId: i < 12 || i === 16 || i === 17 ? 'run-1' : 'run-2',
      instanceId,
      ruleIds: ['rule-a'],
      caseType: 'violation',
      prompt: [
        { role: 'system', content: system(instanceId) },
        { role: 'user', content: text },
      ],
      chosen: i === 16 || i === 17 ? reply.repeat(10) : reply,
      rejected: `Sure, the number for case ${i} is 555-01${String(i).padStart(2, '0')} ok.`,
      status: 'accepted',
      provenance: synthesisProvenance({ instanceId }),
      createdAt: now + i,
    };
  });
  const instance = (id: string, index: number) => ({
    id,
    projectId: 'p',
    specVersionId: 'v',
    seed: 1,
    index,
    ruleIds: ['rule-a'],
    pinned: false,
    systemPrompt: system(id),
    createdAt: now,
  });
  return projectFileOf(
    'Mix test',
    {
      rules: [
        {
          id: 'rule-a',
          projectId: 'p',
          specVersionId: 'v',
          sectionAnchor: 'privacy',
          statement: 'Never reveal personal data of another user.',
          direction: 'negative',
          stage: 'content',
          domain: 'support',
          family: 'privacy',
          priority: 4,
          strength: 'must',
          exceptions: [],
          appliesWhen: [],
          source: { quote: 'never reveal', start: 0, end: 12, located: true },
          status: 'accepted',
          origin: 'model',
          createdAt: now,
          updatedAt: now,
        },
      ],
      instances: [instance('inst-a', 0), instance('inst-b', 1)],
      pairs,
    },
    { now },
  );
}

function jsonl(bytes: Buffer | Uint8Array): Record<string, unknown>[] {
  return Buffer.from(bytes)
    .toString('utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('the training mix is previewed, applied and recorded: SFT:DPO 1:3, length bounds, cross-run duplicates', async ({
  page,
}) => {
  const nav = await openProjectFile(page, projectFile());
  await nav.getByRole('link', { name: 'Export' }).click();
  await expect(page.getByText('24 accepted and 0 pending pairs.')).toBeVisible();

  // The defaults: 1:3, bounds ½–2 only reported, duplicates removed; counted in the worker.
  const preview = page.getByTestId('mix-preview');
  await expect(preview).toContainText('Length balancing: 2 pairs outside 0.5–2, only reported.');
  await expect(preview).toContainText(
    'Near-duplicates: 4 pairs removed (4 repeating another run).',
  );
  await expect(preview).toContainText('Of 24 pairs, 20 kept: 5 SFT, 15 DPO.');
  await expect(
    page.getByRole('img', { name: 'Chosen ÷ rejected length per pair, with the bounds' }),
  ).toBeVisible();
  // The chart's numbers as a table: the two long pairs (ratio ≈ 13) fall outside the bounds.
  const chart = page.getByRole('figure').filter({ hasText: 'Chosen ÷ rejected length per pair' });
  await chart.getByText('Data').click();
  await expect(chart.getByRole('row', { name: '≥ 8 (outside the bounds) 2' })).toBeVisible();
  await expect(chart.getByRole('row', { name: '1–1.4142 22' })).toBeVisible();

  // Applying the bounds removes the two long pairs; the preview follows.
  await page.getByLabel('Leave out pairs outside the bounds').check();
  await expect(preview).toContainText('Length balancing: 2 pairs outside 0.5–2, 2 removed.');
  await expect(preview).toContainText('Of 24 pairs, 18 kept: 5 SFT, 13 DPO.');
  // A setting that cannot work says why, and nothing is computed.
  await page.getByLabel('SFT parts').fill('0');
  await page.getByLabel('DPO parts').fill('0');
  await expect(preview.getByRole('alert')).toHaveText('SFT and DPO parts cannot both be 0.');
  await page.getByLabel('SFT parts').fill('1');
  await page.getByLabel('DPO parts').fill('3');
  await expect(preview).toContainText('Of 24 pairs, 18 kept: 5 SFT, 13 DPO.');

  // A preference format gets the DPO share, an SFT format the SFT share; never a removed pair.
  const removed = [16, 17, 20, 21, 22, 23].map((i) => `case ${i}`);
  await page.getByLabel('Format').selectOption({ label: 'TRL DPO (standard)' });
  await expect(page.getByTestId('file-share')).toContainText('DPO share: 13 pairs');
  const dpo = jsonl(
    (
      await download(page, () =>
        page.getByRole('button', { name: 'Download TRL DPO (standard) JSONL' }).click(),
      )
    ).bytes,
  );
  expect(dpo).toHaveLength(13);
  expect(dpo.every((r) => Object.keys(r).join() === 'prompt,chosen,rejected')).toBe(true);
  await page.getByLabel('Format').selectOption({ label: 'SFT (prompt / completion)' });
  const sft = jsonl(
    (
      await download(page, () =>
        page.getByRole('button', { name: 'Download SFT (prompt / completion) JSONL' }).click(),
      )
    ).bytes,
  );
  expect(sft).toHaveLength(5);
  expect(sft.every((r) => Object.keys(r).join() === 'prompt,completion')).toBe(true);
  const written = [...dpo.map((r) => r.chosen), ...sft.map((r) => r.completion)].join('\n');
  for (const c of removed) expect(written).not.toContain(`${c}.`);
  expect(new Set([...dpo, ...sft].map((r) => r.prompt)).size).toBe(18);

  // The dataset zip: both shares, each in its config, rows matching the card's features.
  await page.getByLabel('Format').selectOption({ label: 'TRL DPO (conversational)' });
  await page.getByLabel('Test fraction').fill('0');
  const zip = await download(page, () =>
    page.getByRole('button', { name: 'Download dataset (.zip)' }).click(),
  );
  const files = unzipSync(new Uint8Array(zip.bytes));
  expect(Object.keys(files).sort()).toEqual([
    'README.md',
    'data/train.jsonl',
    'rules.json',
    'sft/train.jsonl',
  ]);
  const card = splitCard(strFromU8(files['README.md']!));
  const meta = card.meta as {
    configs: { config_name: string }[];
    dataset_info: { config_name: string; features: Parameters<typeof featureProblems>[1] }[];
  };
  expect(meta.configs.map((c) => c.config_name)).toEqual(['default', 'sft']);
  for (const [config, path, rows] of [
    ['default', 'data/train.jsonl', 13],
    ['sft', 'sft/train.jsonl', 5],
  ] as const) {
    const features = meta.dataset_info.find((d) => d.config_name === config)!.features;
    const lines = jsonl(files[path]!);
    expect(lines).toHaveLength(rows);
    for (const row of lines) expect(featureProblems(row, features)).toEqual([]);
  }
  expect(card.body).toContain('| SFT:DPO split | 1:3 (SFT share 25.0 %, exact, seed `0`)');
  expect(card.body).toContain('bounds 0.5–2, mode `apply` | 2 outside the bounds, 2 removed |');
  expect(card.body).toContain('threshold 0.8 | 4 removed (4 duplicating a pair of another run) |');
  await expect(page.getByRole('status').filter({ hasText: 'Saved' })).toContainText(
    'Training mix: 18 pairs kept (5 SFT, 13 DPO), 6 pairs removed.',
  );
});
