/**
 * The Generate screen (issue 10 §8): the first click on "Start generation" right after editing
 * the Task budget of a finished run's screen starts a run; dropped tasks show their full stored
 * reason, grouped and per task; the estimate is a whole number of pairs, calibrated from the
 * finished runs.
 */
import type { FakeOpenAiServer } from '../fixtures/fake-openai-server';
import { expect, test } from './fixtures';
import { setUpProject, startGeneration, startSocietyServer, waitForDone } from './run-helpers';

let server: FakeOpenAiServer;
/** While set, the attacker answers with JSON cut off mid-array, so its tasks fail. */
let breakAttacker = false;
test.beforeAll(async () => {
  server = await startSocietyServer(undefined, (body) => {
    const system = body.messages?.find((m) => m.role === 'system')?.content ?? '';
    return breakAttacker && system.includes('[agent: attacker]')
      ? '{"turns": [{"role": "user"'
      : undefined;
  });
});
test.afterAll(async () => {
  await server.close();
});
test.afterEach(() => {
  breakAttacker = false;
});

test('the first click on Start generation after a finished run starts a run', async ({ page }) => {
  const id = await setUpProject(page, server, 'Lost click', 2);
  await startGeneration(page, id, 2);
  await waitForDone(page);
  const heading = page.getByRole('heading', { name: /^Run of/ });
  const form = page.getByRole('form', { name: 'Generation settings' });
  const budget = form.getByLabel('Task budget (optional)');
  const button = form.getByRole('button', { name: 'Start generation' });
  for (const tasks of ['3', '2']) {
    const before = await heading.innerText();
    // Like a user: type in the field, then click the button with the real mouse at once (the
    // estimate is still being recomputed; focus leaves the field on mouse down).
    await budget.click();
    await budget.fill('');
    await budget.pressSequentially(tasks);
    // A person's click lasts a moment: press at the button, then release ~250 ms later at the
    // same place. Anything that moves the button meanwhile (focus leaving the field, the
    // estimate redrawing above it) makes the release land elsewhere and the click is lost.
    await button.scrollIntoViewIfNeeded();
    const box = await button.boundingBox();
    if (!box) throw new Error('Start generation is not on screen');
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.waitForTimeout(250);
    await page.mouse.up();
    await expect(heading).not.toHaveText(before);
    await waitForDone(page);
  }
});

test('Start generation stays put while the estimate, its notes and errors change', async ({
  page,
}) => {
  // The lost click's cause, checked without timing: nothing above the button may change height
  // as settings change. Before the fix the estimate, its planning notes and errors sat above it.
  const id = await setUpProject(page, server, 'Steady button', 2);
  await page.goto(`/#/p/${id}/generate`);
  const form = page.getByRole('form', { name: 'Generation settings' });
  const button = form.getByRole('button', { name: 'Start generation' });
  await expect(form.getByText(/Estimate: \d+ tasks/)).toBeVisible();
  const at = async () => {
    const box = await button.boundingBox();
    if (!box) throw new Error('Start generation is not on screen');
    return { x: box.x, y: box.y };
  };
  const home = await at();
  // Planning notes appear: no case type has a weight above 0.
  for (const kind of ['Violation-seeking', 'Borderline', 'Benign look-alike'])
    await form.getByLabel(kind).fill('0');
  await expect(form.getByText(/No case type has a weight above 0/)).toBeAttached();
  expect(await at()).toEqual(home);
  // An error replaces the estimate: a seed that is not a whole number.
  await form.getByLabel('Seed').fill('1.5');
  await expect(form.getByRole('alert')).toContainText('The seed must be a whole number');
  expect(await at()).toEqual(home);
  // Back to an estimate, with a budget that changes it.
  await form.getByLabel('Seed').fill('7');
  await form.getByLabel('Violation-seeking').fill('2');
  await form.getByLabel('Task budget (optional)').fill('1');
  await expect(form.getByText(/Estimate: 1 tasks?/)).toBeVisible();
  await expect(form.getByRole('alert')).toBeHidden();
  expect(await at()).toEqual(home);
});

test('dropped tasks show their full stored reason, grouped and per task', async ({ page }) => {
  const id = await setUpProject(page, server, 'Failure reasons', 1);
  breakAttacker = true;
  await startGeneration(page, id, 2);
  await waitForDone(page, 180_000);
  const reason =
    /Step "attack": The model's reply was not valid JSON for this step after 3 attempts: .*the JSON in the reply is cut off/;
  const groups = page.getByTestId('failure-groups');
  await expect(groups.getByRole('row', { name: reason })).toContainText('2');
  // The per-task table opens from the keyboard.
  const summary = page.getByText(/^Each dropped task/);
  await summary.focus();
  await page.keyboard.press('Enter');
  const tasks = page.getByTestId('failed-tasks');
  await expect(tasks.getByRole('row', { name: reason })).toHaveCount(2);
  await expect(tasks.getByRole('row').nth(1)).toContainText('attack');
});

test('the estimate is a whole number of pairs, calibrated from finished runs', async ({ page }) => {
  const id = await setUpProject(page, server, 'Estimate', 1);
  const form = page.getByRole('form', { name: 'Generation settings' });
  await page.goto(`/#/p/${id}/generate`);
  await form.getByLabel('Task budget (optional)').fill('4');
  const estimate = form.getByRole('status').filter({ hasText: 'Estimate:' });
  await expect(estimate).toContainText(/Estimate: 4 tasks → about \d+\s+pairs,/);
  await expect(estimate).not.toContainText(/\d\.\d+\s+pairs/);
  await expect(estimate).toContainText('not calibrated yet');
  // Two rates, the time of each, the tasks in flight (an endpoint: 4 tasks at once), which
  // rate dominates, and where the rates come from.
  await expect(estimate).toContainText(
    /reading prompts at [\d,]+ tokens\/s and .* generating at [\d,]+ tokens\/s with 4 tasks in flight \(.* of engine time if the server keeps that speed for every request\), so (prompt processing|generation) dominates\./,
  );
  await expect(estimate).toContainText('Speeds: defaults for an endpoint; run Test this model');
  await form.getByLabel('Generation speed for the estimate (tokens/s)').fill('1');
  await expect(estimate).toContainText(
    /generating at 1 tokens\/s with 4 tasks in flight \(.*\), so generation dominates\./,
  );
  await expect(estimate).toContainText('Speeds: partly entered by you, the rest defaults');
  await form.getByLabel('Generation speed for the estimate (tokens/s)').fill('');
  await startGeneration(page, id, 4);
  await waitForDone(page);
  await form.getByLabel('Task budget (optional)').fill('3');
  await expect(estimate).toContainText(/calibrated from 4 finished tasks of 1\s+run\b/);
});
