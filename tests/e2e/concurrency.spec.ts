/**
 * Many tasks in flight (issue 12): with the fake endpoint playing every agent, a run with 8
 * parallel requests, its page reloaded while several requests are in flight, ends with exactly
 * the pairs of an uninterrupted run with one request at a time.
 */
import type { FakeOpenAiServer } from '../fixtures/fake-openai-server';
import { expect, test } from './fixtures';
import {
  agentRequests,
  connectEndpoint,
  expectConsistentRun,
  exportProject,
  pairContent,
  RequestGate,
  setUpProject,
  startGeneration,
  startSocietyServer,
  synthesisRuns,
  waitForDone,
} from './run-helpers';

const TASKS = 24;

let server: FakeOpenAiServer;
const gate = new RequestGate();
// Requests the server is answering at once: each takes a few ms, so overlapping ones are seen.
const load = { active: 0, max: 0 };
test.beforeAll(async () => {
  server = await startSocietyServer(async (n) => {
    load.max = Math.max(load.max, ++load.active);
    await new Promise((resolve) => setTimeout(resolve, 15));
    load.active--;
    await gate.beforeAgentReply(n);
  });
});
test.afterAll(async () => {
  await server.close();
});

test('a run at 8 parallel requests, reloaded mid-run, gives the pairs of an uninterrupted run at 1', async ({
  page,
}) => {
  test.setTimeout(240_000);
  const name = 'Parallel requests';
  const id = await setUpProject(page, server, name, 3, 1);

  load.max = 0;
  await startGeneration(page, id, TASKS);
  await waitForDone(page);
  expect(load.max).toBe(1);
  const calls = agentRequests(server).length;

  // The same endpoint, connected again with 8 parallel requests: the project takes the setting.
  await connectEndpoint(page, id, server, 8);
  await expect(page.getByText(/the new settings apply to every role/)).toBeVisible();
  // The time estimate divides by the tasks in flight: 8 requests, capped at the browser's 6
  // connections to the server's one origin.
  await page.goto(`/#/p/${id}/generate`);
  const form = page.getByRole('form', { name: 'Generation settings' });
  await form.getByLabel('Task budget (optional)').fill(String(TASKS));
  await expect(form.getByTestId('estimate-in-flight')).toContainText('with 6 tasks in flight');
  load.max = 0;
  // Reload once the run is well under way, its 40th request held in flight (the others go on).
  const reached = gate.next(calls + 40, true);
  await startGeneration(page, id, TASKS);
  await reached;
  await page.reload();
  gate.release(); // the held reply goes to a closed page
  await waitForDone(page);
  expect(load.max).toBeGreaterThan(1);
  expect(load.max).toBeLessThanOrEqual(8);

  const data = await exportProject(page, name);
  const [sequential, parallel] = synthesisRuns(data);
  expect(parallel).toBeDefined();
  for (const run of [sequential!, parallel!]) expectConsistentRun(data, run.id);
  const expected = pairContent(data.pairs, sequential!.id);
  const actual = pairContent(data.pairs, parallel!.id);
  expect(expected.length).toBeGreaterThanOrEqual(TASKS / 2);
  expect(new Set(actual).size).toBe(actual.length); // nothing duplicated
  expect(actual).toEqual(expected); // nothing lost, nothing different
  const runs = data.runs.filter((r) => r.kind === 'synthesize');
  expect(runs[0]?.progress).toEqual(runs[1]?.progress);
});
