/**
 * A lost database is not lost work: with a persistent Chromium profile, a synthesis run is cut
 * off by closing the whole browser, the profile's IndexedDB directory is deleted (what Chromium
 * does to a database it judges corrupt), and the browser is started again. The app finds its
 * snapshots outside IndexedDB and offers a restore; the restored run resumes by itself and ends
 * with exactly the pairs of an uninterrupted run, redoing only the steps after the snapshot.
 */
import { chromium, type BrowserContext, type Page } from '@playwright/test';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FakeOpenAiServer } from '../fixtures/fake-openai-server';
import { chromiumArgs } from '../../playwright.config';
import { createProject, expect, test } from './fixtures';
import {
  agentRequests,
  expectConsistentRun,
  exportProject,
  multisetMinus,
  openTab,
  pairContent,
  RequestGate,
  requestSignature,
  setUpProject,
  startGeneration,
  synthesisRuns,
  startSocietyServer,
  waitForDone,
} from './run-helpers';

const TASKS = 24;

let server: FakeOpenAiServer;
const gate = new RequestGate();
test.beforeAll(async () => {
  server = await startSocietyServer(gate.beforeAgentReply);
});
test.afterAll(async () => {
  await server.close();
});

test('a profile whose IndexedDB was deleted restores from the last snapshot and the run resumes to the uninterrupted result', async ({
  baseURL,
}, testInfo) => {
  test.setTimeout(240_000);
  const profile = await mkdtemp(join(tmpdir(), 'specalign-profile-'));
  const launch = (): Promise<BrowserContext> =>
    chromium.launchPersistentContext(profile, {
      executablePath: testInfo.project.use.launchOptions?.executablePath,
      args: chromiumArgs,
      baseURL,
      serviceWorkers: 'block',
    });
  let context = await launch();
  const errors: string[] = [];
  try {
    let page = await openTab(context, errors, '/');
    const name = 'Lost database';
    // One task in flight: the bound on redone steps below is the snapshot cadence's (K tasks in
    // flight across a reload: concurrency.spec.ts).
    const id = await setUpProject(page, server, name, 3, 1);

    // The uninterrupted run: the reference pairs and engine requests.
    let mark = agentRequests(server).length;
    await startGeneration(page, id, TASKS);
    await waitForDone(page);
    const uninterrupted = agentRequests(server).slice(mark).map(requestSignature);
    const calls = uninterrupted.length;

    // The same run again, the whole browser closed while a request ~70% in is in flight.
    mark = agentRequests(server).length;
    const reached = gate.next(mark + Math.floor(calls * 0.7), true);
    await startGeneration(page, id, TASKS);
    await reached;
    await context.close();
    gate.release();

    // The browser deleted the database: nothing of the IndexedDB directory is left.
    const indexedDb = join(profile, 'Default', 'IndexedDB');
    for (const entry of await readdir(indexedDb)) {
      await rm(join(indexedDb, entry), { recursive: true, force: true });
    }

    context = await launch();
    page = await openTab(context, errors, '/');
    const dialog = page.getByRole('dialog', { name: 'Restore your projects?' });
    await expect(dialog).toBeVisible();
    await expect(dialog).toContainText(name);
    await expect(dialog).toContainText('1 interrupted');
    await dialog.getByRole('button', { name: `Restore ${name}` }).click();
    await expect(dialog).toHaveCount(0);
    // The Generate screen resumes the interrupted run by itself.
    await waitForDone(page);
    const resumed = agentRequests(server).slice(mark).map(requestSignature);

    const data = await exportProject(page, name);
    const [first, second] = synthesisRuns(data);
    expect(second).toBeDefined();
    // The restore kept every id: pairs still read `${runId}:${taskKey}`, counters agree with tasks.
    for (const run of [first!, second!]) expectConsistentRun(data, run.id);
    const expected = pairContent(data.pairs, first!.id);
    const actual = pairContent(data.pairs, second!.id);
    expect(expected.length).toBeGreaterThanOrEqual(TASKS / 2);
    expect(new Set(actual).size).toBe(actual.length);
    expect(actual).toEqual(expected);

    // Every request is one of the uninterrupted run's; the redone ones are only the steps after
    // the last snapshot (snapshots are taken every 10 steps), never the run from the start.
    expect(multisetMinus(uninterrupted, resumed)).toEqual([]);
    const redone = multisetMinus(resumed, uninterrupted);
    const known = new Set(uninterrupted);
    expect(redone.every((r) => known.has(r))).toBe(true);
    expect(redone.length).toBeLessThanOrEqual(12);
    expect(errors).toEqual([]);
    console.log(
      `recovery: ${calls} requests per run, ${redone.length} redone after restoring the snapshot`,
    );
  } finally {
    await context.close().catch(() => undefined);
    await rm(profile, { recursive: true, force: true });
  }
});

/** The snapshot files of a project in the origin-private file system (what the worker wrote). */
function snapshotFiles(page: Page, projectId: string): Promise<string[]> {
  return page.evaluate(async (id) => {
    const root = await navigator.storage.getDirectory();
    try {
      const dir = await (await root.getDirectoryHandle('snapshots')).getDirectoryHandle(id);
      const names: string[] = [];
      for await (const name of (dir as unknown as { keys(): AsyncIterable<string> }).keys())
        names.push(name);
      return names;
    } catch {
      return [];
    }
  }, projectId);
}

test('a project the browser drops while the app is open is offered back in place; a deleted one leaves no copy', async ({
  page,
}) => {
  const id = await createProject(page, 'Dropped');
  await page.getByRole('button', { name: 'Try an example' }).click();
  await expect(page.getByText(/Imported version 1/)).toBeVisible();
  // The import schedules a snapshot once edits settle.
  await expect
    .poll(() => snapshotFiles(page, id), { timeout: 30_000 })
    .toContainEqual(expect.stringMatching(/\.meta\.json$/));

  // The browser drops the database under the open app (as Chromium does with one it judges
  // damaged, e.g. after a write refused on a full disk). Dexie closes on `versionchange`.
  await page.evaluate(
    () =>
      new Promise<void>((resolve, reject) => {
        const request = indexedDB.deleteDatabase('specalign-studio');
        request.onsuccess = () => resolve();
        request.onerror = () => reject(request.error);
      }),
  );
  await page.evaluate(() => (location.hash = '#/'));
  await page.evaluate((p) => (location.hash = `#/p/${p}/spec`), id);
  await expect(page.getByRole('heading', { name: 'Project not found' })).toBeVisible();
  await expect(page.getByText(/“Dropped” is no longer in this browser's database/)).toBeVisible();
  await page.getByRole('button', { name: 'Restore from the snapshot' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Spec' })).toBeVisible();
  await expect(page.getByText('Dropped', { exact: true }).first()).toBeVisible();

  // Deleting the project removes its snapshots too: nothing lingers, nothing is offered back.
  await page.goto('/#/');
  await page.getByRole('button', { name: 'Delete Dropped' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete project' }).click();
  await expect(page.getByText('No projects yet')).toBeVisible();
  await expect.poll(() => snapshotFiles(page, id)).toEqual([]);
  await page.reload();
  await expect(page.getByText('No projects yet')).toBeVisible();
  await expect(page.getByRole('dialog', { name: 'Restore your projects?' })).toHaveCount(0);
});
