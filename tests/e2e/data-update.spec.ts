/**
 * *Update data* end to end (issue 11 §3): generate on v1 of the example spec with the fake
 * endpoint, accept the pairs, import an edited v2 (one rule reworded, one added), update the rules,
 * then *Update data* with a reload in the middle of its run. Only the new and changed rules get
 * tasks (keys and seeds as a full run would give them), nothing is planned twice, and v1's
 * reviewed pairs are exactly as they were.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FakeOpenAiServer } from '../fixtures/fake-openai-server';
import { expect, test } from './fixtures';
import {
  agentRequests,
  exportProject,
  expectConsistentRun,
  RequestGate,
  setUpProject,
  startGeneration,
  startSocietyServer,
  waitForDone,
} from './run-helpers';

const example = readFileSync(
  path.resolve(import.meta.dirname, '../../public/example-spec.md'),
  'utf8',
);
const REWORDED = 'Harbor must not blame the customer, the carrier or a colleague for a problem';
const ADDED =
  'Harbor must give sizes and weights in metric units unless the customer uses imperial ones.';
const v2 = example
  .replace(
    REWORDED,
    'Harbor must not blame the customer, the carrier or a colleague for a delay or a problem',
  )
  .replace(
    'Harbor should reply in the language the customer writes in',
    `${ADDED}\n\nHarbor should reply in the language the customer writes in`,
  );

interface Row {
  id: string;
  runId: string;
  status: string;
  ruleIds: string[];
  prompt: unknown;
  chosen: string;
  rejected: string;
}
interface Tables {
  pairs: Row[];
  tasks: { id: string; runId: string; key: string; status: string }[];
  runs: {
    id: string;
    kind: string;
    status: string;
    createdAt: number;
    config: { specVersionId: string };
  }[];
  rules: { id: string; specVersionId: string; lineageId?: string }[];
  specVersions: { id: string; versionNumber: number; update?: { changedLineageIds?: string[] } }[];
}

let server: FakeOpenAiServer;
const gate = new RequestGate();
test.beforeAll(async () => {
  server = await startSocietyServer(gate.beforeAgentReply);
});
test.afterAll(async () => {
  await server.close();
});

test('Update data generates only for new and changed rules, survives a reload, and keeps reviewed pairs', async ({
  page,
}) => {
  test.setTimeout(300_000);
  expect(v2).not.toBe(example);
  const id = await setUpProject(page, server, 'Data update', 3);
  await startGeneration(page, id, 12);
  await waitForDone(page);

  // Review: accept every pair of v1's run.
  await page.goto(`/#/p/${id}/review`);
  await page.getByRole('button', { name: 'Accept all shown…' }).click();
  await page.getByRole('button', { name: /^Accept \d+ pairs$/ }).click();
  await expect(
    page.getByRole('status').filter({ hasText: /Last bulk action: \d+ pairs accepted/ }),
  ).toBeVisible();
  const before = (await exportProject(page, 'Data update')) as unknown as Tables;
  const v1Pairs = before.pairs;
  expect(v1Pairs.length).toBeGreaterThan(0);
  expect(v1Pairs.every((p) => p.status === 'accepted')).toBe(true);

  // v2: import, update the rules, accept the new ones.
  await page.goto(`/#/p/${id}/spec`);
  await page.getByRole('button', { name: 'Import new version…' }).click();
  await page.getByLabel('Spec file', { exact: true }).setInputFiles({
    name: 'example-spec-v2.md',
    mimeType: 'text/markdown',
    buffer: Buffer.from(v2),
  });
  await expect(page.getByText(/Imported version 2/)).toBeVisible();
  const panel = page.getByRole('region', { name: 'Update from v1' });
  await panel.getByRole('button', { name: 'Update from v1' }).click();
  await panel.getByRole('button', { name: 'Confirm update' }).click({ timeout: 60_000 });
  await expect(panel.getByText(/v2 was updated from v1/)).toBeVisible();
  await page.goto(`/#/p/${id}/rules`);
  await page.getByRole('button', { name: /Accept all proposed/ }).click();
  await expect(page.getByText(/^0 proposed/)).toBeVisible();

  // Generate points to Update data while it has not run (v2 has no instances of its own yet).
  await page.goto(`/#/p/${id}/generate`);
  const hint = page.getByTestId('update-data-hint');
  await expect(hint).toContainText('Version 2 was updated from version 1');
  await hint.getByRole('link', { name: 'Update data on the Spec step' }).click();

  // Update data: the estimate next to a full rerun's, then the run, reloaded mid-way.
  await expect(page).toHaveURL(new RegExp(`#/p/${id}/spec$`));
  const card = page.getByRole('region', { name: 'Update data' });
  const compare = card.getByRole('table', { name: 'Update data versus a full rerun' });
  const taskRow = compare.getByRole('row', { name: /^Tasks/ });
  await expect(taskRow).toBeVisible();
  const [planned, full] = (await taskRow.getByRole('cell').allInnerTexts()).map(Number);
  expect(planned).toBeGreaterThan(0);
  expect(planned).toBeLessThan(full!);
  await expect(card.getByRole('img', { name: /share of a full rerun/ })).toBeVisible();
  // Hold an agent request a few tasks into the run, reload while it is in flight, then let go.
  const held = gate.next(agentRequests(server).length + 12, true);
  await card.getByRole('button', { name: 'Update data' }).click();
  await expect(card.getByRole('progressbar', { name: 'Updating data' })).toBeVisible();
  await held;
  await expect(card.getByText(new RegExp(`^\\d+ of ${planned} tasks`))).toBeVisible();
  await page.reload();
  gate.release();
  await expect(card.getByRole('status', { name: 'Update data run' })).toContainText(
    `Update data done: ${planned} of ${planned} tasks done`,
    { timeout: 120_000 },
  );
  // Planning again finds the same run.
  await expect(card.getByRole('button', { name: 'Update data' })).toHaveCount(0);
  await page.goto(`/#/p/${id}/generate`);
  await expect(page.getByRole('heading', { name: /^Run of/ })).toBeVisible();
  await expect(page.getByTestId('update-data-hint')).toHaveCount(0);
  await page.goto(`/#/p/${id}/spec`);

  const after = (await exportProject(page, 'Data update')) as unknown as Tables;
  const v2Id = after.specVersions.find((v) => v.versionNumber === 2)!.id;
  const updateRun = after.runs.find(
    (r) => r.kind === 'synthesize' && r.config.specVersionId === v2Id,
  )!;
  expect(after.runs.filter((r) => r.kind === 'synthesize')).toHaveLength(2);
  expectConsistentRun(after as never, updateRun.id);
  const tasks = after.tasks.filter((t) => t.runId === updateRun.id);
  expect(tasks).toHaveLength(planned!);

  // Only new and changed lineages got tasks.
  const v1Lineages = new Set(
    after.rules.filter((r) => r.specVersionId !== v2Id).map((r) => r.lineageId ?? r.id),
  );
  const changed = new Set(after.specVersions.find((v) => v.id === v2Id)!.update!.changedLineageIds);
  const touched = new Set(
    after.rules
      .filter((r) => r.specVersionId === v2Id)
      .filter((r) => changed.has(r.lineageId ?? r.id) || !v1Lineages.has(r.lineageId ?? r.id))
      .map((r) => r.id),
  );
  expect(touched.size).toBeGreaterThan(0);
  for (const t of tasks) expect(touched.has(t.key.split('/')[1]!), t.key).toBe(true);
  const newPairs = after.pairs.filter((p) => p.runId === updateRun.id);
  expect(newPairs.length).toBeGreaterThan(0);
  // A pair targets its task's rule.
  for (const p of newPairs) expect(touched.has(p.ruleIds[0]!), p.id).toBe(true);

  // v1's reviewed pairs are untouched (stale marks aside, which the update may add).
  const strip = (p: Row) =>
    JSON.stringify([p.id, p.status, p.prompt, p.chosen, p.rejected, p.ruleIds]);
  const kept = new Map(after.pairs.map((p) => [p.id, strip(p)]));
  for (const p of v1Pairs) expect(kept.get(p.id)).toBe(strip(p));
});
