import { readFile } from 'node:fs/promises';
import { startFakeOpenAiServer, type FakeOpenAiServer } from '../fixtures/fake-openai-server';
import { createProject, expect, test } from './fixtures';

const API_KEY = 'sk-test-secret-4242';
let server: FakeOpenAiServer;

test.beforeAll(async () => {
  server = await startFakeOpenAiServer({ models: ['fake-model'], requireApiKey: API_KEY });
});
test.afterAll(async () => {
  await server.close();
});

test('an OpenAI-compatible endpoint connects, passes "test this model", and its key never leaves the browser', async ({
  page,
}) => {
  const id = await createProject(page, 'Endpoint project');
  await page.goto(`/#/p/${id}/models`);
  await page.getByRole('radio', { name: 'OpenAI-compatible endpoint' }).check();
  await page.getByLabel('Base URL').fill(server.url);
  await page.getByLabel('Model name').fill('fake-model');
  await page.getByLabel('API key (optional)').fill(API_KEY);
  await page.getByRole('button', { name: 'Connect' }).click();

  const row = page.getByRole('row', { name: /fake-model/ });
  await expect(row).toBeVisible();
  // The first loaded model becomes the default for every role.
  await expect(page.getByText('Default for every role: fake-model (openai)')).toBeVisible();

  await page.getByRole('button', { name: 'Test fake-model' }).click();
  await expect(row).toContainText('JSON valid');
  await expect(row).toContainText(/\d+(\.\d)? tokens\/s/);

  const chats = server.chatBodies();
  expect(chats.length).toBeGreaterThanOrEqual(2);
  expect(chats.some((b) => JSON.stringify(b.response_format ?? '').includes('json_schema'))).toBe(
    true,
  );
  const authorized = server.requests.filter((r) => r.method === 'POST');
  expect(authorized.every((r) => r.headers.authorization === `Bearer ${API_KEY}`)).toBe(true);

  // The key survives a reload (kept in this browser) …
  await page.reload();
  await page.getByRole('radio', { name: 'OpenAI-compatible endpoint' }).check();
  await page.getByLabel('Base URL').fill(server.url);
  await expect(page.getByLabel('API key (optional)')).toHaveValue(API_KEY);

  // … but never appears in an exported project.
  await page.goto('/#/');
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export Endpoint project' }).click();
  const text = await readFile(await (await download).path(), 'utf8');
  expect(text).toContain('fake-model');
  expect(text).not.toContain(API_KEY);
});

test('an unreachable endpoint and a wrong key get clear messages', async ({
  page,
  consoleErrors,
}) => {
  consoleErrors.allow(/ERR_CONNECTION_REFUSED|Failed to load resource/);
  const id = await createProject(page, 'Bad endpoint');
  await page.goto(`/#/p/${id}/models`);
  await page.getByRole('radio', { name: 'OpenAI-compatible endpoint' }).check();
  await page.getByLabel('Base URL').fill('http://127.0.0.1:9/v1');
  await page.getByLabel('Model name').fill('fake-model');
  await page.getByRole('button', { name: 'Connect' }).click();
  await expect(page.getByRole('alert')).toContainText('Could not reach http://127.0.0.1:9/v1');
  await expect(page.getByText('No model is loaded in this tab yet.')).toBeVisible();

  await page.getByLabel('Base URL').fill(server.url);
  await page.getByLabel('API key (optional)').fill('sk-wrong');
  await page.getByRole('button', { name: 'Connect' }).click();
  await expect(page.getByRole('alert')).toContainText(/API key/i);
  // The project is intact after both failures.
  await page.goto('/#/');
  await expect(page.getByRole('link', { name: 'Bad endpoint', exact: true })).toBeVisible();
});

test('the endpoint form takes a context size, refusing one that is not a token count', async ({
  page,
}) => {
  const id = await createProject(page, 'Context endpoint');
  await page.goto(`/#/p/${id}/models`);
  await page.getByRole('radio', { name: 'OpenAI-compatible endpoint' }).check();
  await page.getByLabel('Base URL').fill(server.url);
  await page.getByLabel('Model name').fill('fake-model');
  await page.getByLabel('API key (optional)').fill(API_KEY);
  const context = page.getByLabel('Context size in tokens (optional)');
  const listings = () => server.requests.filter((r) => r.path.endsWith('/models')).length;
  const before = listings();
  await expect(context).toHaveAccessibleDescription(/Annotation chunks and estimates are sized/);
  await context.fill('lots');
  await page.getByRole('button', { name: 'Connect' }).click();
  await expect(page.getByRole('alert')).toContainText('Context size must be a whole number');
  await expect(page.getByText('No model is loaded in this tab yet.')).toBeVisible();
  expect(listings()).toBe(before); // refused before anything was sent

  await context.fill('4k');
  await page.getByRole('button', { name: 'Connect' }).click();
  await expect(page.getByRole('row', { name: /fake-model/ })).toBeVisible();
});
