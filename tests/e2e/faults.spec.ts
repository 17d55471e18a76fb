/**
 * Faults during a synthesis run, with the fake endpoint playing every agent deterministically:
 * - the tab is closed at 20 seeded-random points of one run and the Generate screen reopened in a
 *   new tab (which resumes the run by itself); the pairs equal an uninterrupted run's and every
 *   engine request beyond the uninterrupted run's is a redo of the step that was in flight;
 * - the browser's storage quota runs out mid-run (a real QuotaExceededError: Chromium's quota for
 *   the origin is overridden through CDP): the run stops with the "storage is full" message,
 *   what was stored is intact and consistent, and once space is back the run resumes and ends
 *   with the pairs of an uninterrupted run, none duplicated.
 */
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
  const id = await setUpProject(page, server, name);

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
