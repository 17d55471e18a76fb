/**
 * Faults during a synthesis run, with the fake endpoint playing every agent deterministically:
 * - the tab is closed at 20 seeded-random points of one run and the Generate screen reopened in a
 *   new tab (which resumes the run by itself); the pairs equal an uninterrupted run's and every
 *   engine request beyond the uninterrupted run's is a redo of the step that was in flight;
 * - the browser's storage quota runs out mid-run (the browser's QuotaExceededError, injected into
 *   the worker: see quotaPrelude): the run pauses with the "storage is full" message, what was
 *   stored is intact and consistent, and once space is back the run resumes and ends with the
 *   pairs of an uninterrupted run, none duplicated;
 * - the same when the disk refuses every write, the record of the failure included: the message
 *   still reaches the screen, the run stays resumable, a visit while the disk is still full stops
 *   at the first step, and a visit once space is back resumes the run by itself.
 */
import type { BrowserContext, Page } from '@playwright/test';
import type { FakeOpenAiServer } from '../fixtures/fake-openai-server';
import { expect, test } from './fixtures';
import {
  agentRequests,
  expectConsistentRun,
  exportProject,
  multisetMinus,
  openTab,
  pairContent,
  RequestGate,
  requestSignature,
  seededRandom,
  setUpProject,
  startGeneration,
  startSocietyServer,
  synthesisRuns,
  waitForDone,
} from './run-helpers';

const TASKS = 24;
const INTERRUPTIONS = 20;

let server: FakeOpenAiServer;
const gate = new RequestGate();
test.beforeAll(async () => {
  server = await startSocietyServer(gate.beforeAgentReply);
});
test.afterAll(async () => {
  await server.close();
});

test(`closing the tab at ${INTERRUPTIONS} random points of a run and reopening it gives the pairs of an uninterrupted run`, async ({
  page,
  context,
}) => {
  test.setTimeout(180_000);
  const name = 'Closed tabs';
  // One task in flight, so each closed tab cuts at most one request short (concurrency.spec.ts
  // closes tabs with many in flight).
  const id = await setUpProject(page, server, name, 3, 1);

  // The uninterrupted run first: it says how many engine requests a run makes.
  let mark = agentRequests(server).length;
  await startGeneration(page, id, TASKS);
  await waitForDone(page);
  const uninterrupted = agentRequests(server).slice(mark).map(requestSignature);
  const calls = uninterrupted.length;
  expect(calls).toBeGreaterThan(INTERRUPTIONS * 4);

  // The same run again, its tab closed at a seeded-random engine request, 20 times: half of the
  // time while that request is in flight, else a few random milliseconds after its reply (in
  // the step's checkpoint or the next step).
  const random = seededRandom(20_260_611);
  const errors: string[] = [];
  mark = agentRequests(server).length;
  let reached = gate.next(mark + 1 + Math.floor(random() * (calls / 25)), random() < 0.5);
  await startGeneration(page, id, TASKS);
  let tab = page;
  for (let i = 0; i < INTERRUPTIONS; i++) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      reached,
      new Promise((_, reject) => {
        timer = setTimeout(() => {
          void tab
            .locator('main')
            .innerText()
            .then((screen) =>
              reject(
                new Error(
                  `interruption ${i + 1}: the reopened tab did not resume the run (${calls} requests per run, ${agentRequests(server).length - mark} made; screen: ${screen})`,
                ),
              ),
            );
        }, 30_000);
      }),
    ]);
    clearTimeout(timer);
    await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 30)));
    await tab.close();
    gate.release(); // the held reply goes to a closed connection
    if (i + 1 < INTERRUPTIONS) {
      const n = agentRequests(server).length + 1 + Math.floor(random() * (calls / 25));
      reached = gate.next(n, random() < 0.5);
    }
    tab = await openTab(context, errors, `/#/p/${id}/generate`);
  }
  await waitForDone(tab);
  const interrupted = agentRequests(server).slice(mark).map(requestSignature);
  expect(errors).toEqual([]);

  const data = await exportProject(tab, name);
  const [first, second] = synthesisRuns(data);
  expect(second).toBeDefined();
  for (const run of [first!, second!]) expectConsistentRun(data, run.id);
  const expected = pairContent(data.pairs, first!.id);
  const actual = pairContent(data.pairs, second!.id);
  expect(expected.length).toBeGreaterThanOrEqual(TASKS / 2);
  expect(new Set(actual).size).toBe(actual.length); // nothing duplicated
  expect(actual).toEqual(expected); // nothing lost, nothing different

  // Every request of the uninterrupted run was made; the only extra ones redo a step whose
  // request was in flight when its tab closed (at most one per close).
  expect(multisetMinus(uninterrupted, interrupted)).toEqual([]);
  const extra = multisetMinus(interrupted, uninterrupted);
  expect(extra.length).toBeLessThanOrEqual(INTERRUPTIONS);
  const known = new Set(uninterrupted);
  expect(extra.every((r) => known.has(r))).toBe(true);
  console.log(
    `faults: ${calls} requests uninterrupted, ${interrupted.length} with ${INTERRUPTIONS} closed tabs (${extra.length} redone); ${actual.length} pairs`,
  );
});

/**
 * Fills the disk from the test: the endpoint engine's module (loaded only in the app's worker)
 * is served with a prelude that makes IndexedDB `put`/`add` throw the browser's
 * QuotaExceededError: on the `pairs` store once the test posts 'pairs' on a BroadcastChannel, on
 * every store after 'all', on none after 'free'. A worker started later (a new tab) begins in the
 * state the module was served with. Nothing of this ships: the prelude exists only in the
 * response Playwright serves to this test's browser context.
 *
 * (Chromium's CDP `Storage.overrideQuotaForOrigin` is the obvious tool, but in Chromium 156 a
 * new quota only reaches databases opened after it is set: the app's open database keeps
 * writing, even across closed and reopened tabs. And a worker whose own script is fulfilled by
 * a route loses its network access to the endpoint, hence a module it imports.)
 */
type Disk = 'free' | 'pairs' | 'all';

const quotaPrelude = (disk: Disk) => `(() => {
  let full = ${JSON.stringify(disk)};
  new BroadcastChannel('e2e-storage').onmessage = (e) => { full = e.data; };
  for (const method of ['put', 'add']) {
    const original = IDBObjectStore.prototype[method];
    IDBObjectStore.prototype[method] = function (...args) {
      if (full === 'all' || (full === 'pairs' && this.name === 'pairs')) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      return original.apply(this, args);
    };
  }
})();
`;

/** Serves the engine module with the prelude; `disk()` is the state new workers start in. */
async function injectQuota(context: BrowserContext, disk: () => Disk): Promise<void> {
  await context.route(/\/assets\/openai-engine-[^/]+\.js$/, async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, body: quotaPrelude(disk()) + (await response.text()) });
  });
}

/** Sets the disk state of the workers running now. */
function setDisk(page: Page, disk: Disk): Promise<void> {
  return page.evaluate((d) => new BroadcastChannel('e2e-storage').postMessage(d), disk);
}

test.describe('a full disk', () => {
  // The offline service worker would serve the module from its cache, past the route.
  test.use({ serviceWorkers: 'block' });

  test('pauses the run with a clear message, keeps what was stored, and the run resumes once space is freed', async ({
    page,
    context,
    consoleErrors,
  }) => {
    test.setTimeout(180_000);
    await injectQuota(context, () => 'free');
    const name = 'Full disk';
    const id = await setUpProject(page, server, name);
    const start = agentRequests(server).length; // earlier tests' requests
    await startGeneration(page, id, TASKS);
    await waitForDone(page);

    // The second run: the disk fills up while a request is in flight, some pairs already stored.
    consoleErrors.allow(/quota/i);
    // Half-way through (by the first run's calls): with several tasks in flight and up to three
    // attack rounds each, pairs are stored only some way into a run.
    const firstCalls = agentRequests(server).length - start;
    const reached = gate.next(agentRequests(server).length + 1 + Math.floor(firstCalls / 2), true);
    await startGeneration(page, id, TASKS);
    await reached;
    await setDisk(page, 'pairs');
    gate.release();
    await expect(page.getByRole('alert')).toContainText('storage is full', { timeout: 30_000 });
    await expect(page.getByRole('heading', { name: /^Run of .* — paused$/ })).toBeVisible();

    // Space is back: what was stored before the failure is intact and consistent.
    await setDisk(page, 'free');
    const stored = await exportProject(page, name);
    const [first, second] = synthesisRuns(stored);
    for (const run of [first!, second!]) expectConsistentRun(stored, run.id);
    const expected = pairContent(stored.pairs, first!.id);
    const partial = pairContent(stored.pairs, second!.id);
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.length).toBeLessThan(expected.length);
    expect(multisetMinus(partial, expected)).toEqual([]); // every stored pair is a right one

    // Resuming finishes the run with the pairs of the uninterrupted run, none duplicated.
    await page.goto(`/#/p/${id}/generate`);
    await page.getByRole('button', { name: 'Resume generation' }).click();
    await waitForDone(page);
    await expect(page.getByRole('alert')).toHaveCount(0);
    const data = await exportProject(page, name);
    for (const run of synthesisRuns(data)) expectConsistentRun(data, run.id);
    const actual = pairContent(data.pairs, second!.id);
    expect(new Set(actual).size).toBe(actual.length);
    expect(actual).toEqual(expected);
    console.log(`full disk: stopped with ${partial.length} of ${expected.length} pairs stored`);
  });

  test('that refuses even the record of the failure: the message still shows, and a later visit resumes the run', async ({
    page,
    context,
    consoleErrors,
  }) => {
    test.setTimeout(180_000);
    let disk: Disk = 'free';
    await injectQuota(context, () => disk);
    const name = 'Full disk everywhere';
    const id = await setUpProject(page, server, name);
    const start = agentRequests(server).length; // earlier tests' requests
    await startGeneration(page, id, TASKS);
    await waitForDone(page);

    // The second run: every write fails from a request in flight on.
    consoleErrors.allow(/quota/i);
    // Half-way through (by the first run's calls): with several tasks in flight and up to three
    // attack rounds each, pairs are stored only some way into a run.
    const firstCalls = agentRequests(server).length - start;
    const reached = gate.next(agentRequests(server).length + 1 + Math.floor(firstCalls / 2), true);
    await startGeneration(page, id, TASKS);
    await reached;
    disk = 'all';
    await setDisk(page, 'all');
    gate.release();
    const alert = page.getByRole('alert');
    await expect(alert).toContainText('storage is full', { timeout: 30_000 });
    await expect(alert).toContainText('could not be marked paused');
    // Its row could not be changed: it reads 'running', so it counts as interrupted.
    await expect(page.getByRole('heading', { name: /^Run of .* — running$/ })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Resume generation' })).toBeVisible();

    // A visit while the disk is still full resumes it, which stops at its first steps (one per
    // task in flight: 8, the endpoint's default parallel requests) and says why.
    let mark = agentRequests(server).length;
    await page.reload();
    await expect(alert).toContainText('storage is full', { timeout: 30_000 });
    expect(agentRequests(server).length - mark).toBeLessThanOrEqual(8);

    // Space is back: the next visit resumes the run by itself and ends it with the pairs of an
    // uninterrupted run, none duplicated.
    disk = 'free';
    mark = agentRequests(server).length;
    await page.reload();
    await waitForDone(page);
    await expect(alert).toHaveCount(0);
    expect(agentRequests(server).length).toBeGreaterThan(mark);
    const data = await exportProject(page, name);
    const [first, second] = synthesisRuns(data);
    for (const run of [first!, second!]) expectConsistentRun(data, run.id);
    const actual = pairContent(data.pairs, second!.id);
    expect(new Set(actual).size).toBe(actual.length);
    expect(actual).toEqual(pairContent(data.pairs, first!.id));
  });
});
