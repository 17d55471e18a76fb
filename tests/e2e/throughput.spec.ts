/**
 * Issue 12 (items 2, 3, 6) end to end with the fake endpoint: a run rides out a 429/503 storm;
 * prices give a money estimate and a finished run's estimate against actual; a dead replica is
 * listed as set aside; a run whose every replica is down pauses with the reason and resumes by
 * itself once one answers again.
 */
import type { Page } from '@playwright/test';
import {
  deadBaseUrl,
  type FakeHttpReply,
  type FakeOpenAiServer,
} from '../fixtures/fake-openai-server';
import { expect, test } from './fixtures';
import { setUpProject, startGeneration, startSocietyServer, waitForDone } from './run-helpers';

const servers: FakeOpenAiServer[] = [];
test.afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function connect(page: Page, urls: string[], price?: [string, string]) {
  await page.getByRole('radio', { name: 'OpenAI-compatible endpoint' }).check();
  const [first = '', ...more] = urls;
  await page.getByLabel('Base URL').fill(first);
  for (const [i, url] of more.entries()) {
    await page.getByRole('button', { name: 'Add a replica' }).click();
    // The new field has the focus: typing goes there.
    await expect(page.getByLabel(`Replica ${i + 2} URL`)).toBeFocused();
    await page.keyboard.type(url);
  }
  await page.getByLabel('Model name').fill('society');
  if (price) {
    await page.getByLabel('Input tokens, USD per million').fill(price[0]);
    await page.getByLabel('Output tokens, USD per million').fill(price[1]);
  }
  await page.getByRole('button', { name: 'Connect' }).click();
}

test('a run rides out a 429/503 storm; a priced endpoint estimates money and compares it with the actual', async ({
  page,
}) => {
  const server = await startSocietyServer();
  servers.push(server);
  const id = await setUpProject(page, server, 'Storm project', 1);

  // The same endpoint again, now with prices: the roles that use it take them.
  await page.goto(`/#/p/${id}/models`);
  await connect(page, [server.url], ['2', '8']);
  await expect(
    page.getByText(/society: the new settings apply to every role that uses it/),
  ).toBeVisible();

  // Every other request of the first 16 is throttled: 429 with Retry-After in seconds, or 503
  // with an HTTP date.
  let throttled = 0;
  server.intercept((n): FakeHttpReply | undefined => {
    if (n > 16 || n % 2 === 0) return undefined;
    throttled++;
    return n % 4 === 1
      ? { status: 429, body: { error: { message: 'Rate limit' } }, headers: { 'Retry-After': '1' } }
      : {
          status: 503,
          body: { error: { message: 'Overloaded' } },
          headers: { 'Retry-After': new Date(Date.now() + 1000).toUTCString() },
        };
  });
  await startGeneration(page, id, 4);
  await expect(page.getByTestId('estimate-cost')).toContainText('$');
  await waitForDone(page);
  expect(throttled).toBe(8);
  // Back-pressure never failed a task.
  await expect(page.getByTestId('failure-groups')).toHaveCount(0);

  const versus = page.getByTestId('estimate-vs-actual');
  await expect(versus.getByRole('row', { name: /Prompt tokens/ })).toBeVisible();
  await expect(versus.getByRole('row', { name: /Cost \(USD\)/ })).toContainText('$');
  await expect(
    page.getByRole('img', { name: 'Actual as a share of the estimate (%)' }),
  ).toBeVisible();
});

test('a dead replica is listed as set aside; with every replica down a run pauses with the reason and resumes when one returns', async ({
  page,
  consoleErrors,
}) => {
  consoleErrors.allow(/ERR_CONNECTION|ERR_EMPTY_RESPONSE|Failed to load resource|Failed to fetch/);
  const server = await startSocietyServer();
  servers.push(server);
  const dead = await deadBaseUrl();
  const id = await setUpProject(page, server, 'Replica project', 1);

  await page.goto(`/#/p/${id}/models`);
  await page.getByRole('button', { name: 'Unload society' }).click();
  // Each URL is checked on its own: a bad replica is named and marked, and nothing loads.
  await connect(page, [server.url, 'ftp://nowhere']);
  await expect(page.getByRole('alert')).toContainText(
    'Replica 2 URL: "ftp://nowhere" is not an http(s) URL',
  );
  await expect(page.getByLabel('Replica 2 URL')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByLabel('Replica 2 URL')).toBeFocused();
  await page.getByRole('button', { name: 'Remove replica 2' }).click();
  await expect(page.getByRole('button', { name: 'Add a replica' })).toBeFocused();
  await connect(page, [server.url, dead]);
  await page.getByRole('button', { name: 'Use society for all roles' }).click();
  const replicas = page.getByRole('region', { name: 'Replicas of society' });
  await expect(replicas).toContainText('Effective concurrency: 8');
  const deadRow = replicas.getByRole('row', { name: new RegExp(dead.replace(/[.:/]/g, '\\$&')) });
  await expect(deadRow).toContainText(/set aside|being tried again/);
  await expect(deadRow).toContainText('Could not reach');
  const liveRow = replicas.getByRole('row', {
    name: new RegExp(server.url.replace(/[.:/]/g, '\\$&')),
  });
  await expect(liveRow).toContainText('ready');

  // The live replica goes down at the 6th generation request.
  server.intercept((n) => {
    if (n === 6) server.setDown(true);
    return undefined;
  });
  await startGeneration(page, id, 3);
  await expect(
    page.getByText(/All 2 replicas of this endpoint are set aside after failing 3 times in a row/),
  ).toBeVisible({ timeout: 60_000 });
  await expect(page.getByText(/resumes by itself when a replica answers again/)).toBeVisible();
  await expect(page.getByRole('heading', { name: /— paused$/ })).toBeVisible();

  server.setDown(false);
  await waitForDone(page);
  await expect(page.getByText(/set aside after failing/)).toHaveCount(0);
});
