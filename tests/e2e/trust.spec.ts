/**
 * Trust, checked (issue: privacy and security): a whole workflow — ingest, annotate, sample,
 * generate, export — talks to no host but the page's own origin and the user's endpoint, and
 * XSS payloads in the spec and in every model output never execute.
 */
import type { Page } from '@playwright/test';
import {
  startFakeOpenAiServer,
  type ChatCompletionBody,
  type FakeOpenAiServer,
} from '../fixtures/fake-openai-server';
import { societyScript } from '../fixtures/synthesis-society';
import { createProject, expect, test } from './fixtures';

const XSS = [
  '<img src=x onerror="window.__pwned=\'img\'">',
  '<script>window.__pwned="script"</script>',
  '<svg onload="window.__pwned=\'svg\'"></svg>',
  '[link](javascript:window.__pwned="md")',
];

/** Annotator whose statements carry XSS payloads; quotes stay real so rules are located. */
function hostileAnnotator(body: ChatCompletionBody): string | undefined {
  if (!JSON.stringify(body.response_format ?? '').includes('sourceQuote')) return undefined;
  const user = body.messages?.find((m) => m.role === 'user')?.content ?? '';
  const sentences = user.match(/[A-Z][^.\n]*\b(must|never|should)\b[^.\n]*\./g) ?? [];
  return JSON.stringify({
    rules: [...new Set(sentences)].slice(0, 3).map((quote, i) => ({
      sourceQuote: quote,
      statement: `${quote} ${XSS[i % XSS.length]}`,
      direction: /\b(never|must not)\b/.test(quote) ? 'negative' : 'positive',
      strength: 'must',
      stage: 'content',
      domain: `support ${XSS[(i + 1) % XSS.length]}`,
      family: 'support',
      priority: 'unspecified',
      appliesWhen: [],
      exceptions: [XSS[(i + 2) % XSS.length]],
    })),
  });
}

/** The agent society, with payloads appended to every free-text field it writes. */
function hostileSociety(body: ChatCompletionBody): string | undefined {
  const reply = societyScript(body);
  if (!reply) return undefined;
  const value = JSON.parse(reply) as Record<string, unknown>;
  if (typeof value.response === 'string') value.response += ` ${XSS[1]} ${XSS[0]}`;
  if (typeof value.strategy === 'string') value.strategy += ` ${XSS[2]}`;
  if (Array.isArray(value.turns))
    for (const t of value.turns as { content: string }[]) t.content += ` ${XSS[0]}`;
  return JSON.stringify(value);
}

let server: FakeOpenAiServer;
test.beforeAll(async () => {
  server = await startFakeOpenAiServer({
    models: ['m'],
    script: (body) => hostileAnnotator(body) ?? hostileSociety(body),
  });
});
test.afterAll(async () => {
  await server.close();
});

async function pwned(page: Page): Promise<unknown> {
  return page.evaluate(() => (window as { __pwned?: unknown }).__pwned);
}

test('a whole workflow contacts only this origin and the chosen endpoint, and no payload runs', async ({
  page,
  context,
  baseURL,
  consoleErrors,
}) => {
  test.setTimeout(240_000);
  // The CSP reports blocked inline handlers as console errors: that is the defence working.
  consoleErrors.allow(/Content Security Policy|Refused to/);
  const hosts = new Set<string>();
  context.on('request', (request) => hosts.add(new URL(request.url()).origin));

  // The page forbids inline and remote scripts.
  await page.goto('/');
  const csp = await page
    .locator('meta[http-equiv="Content-Security-Policy"]')
    .getAttribute('content');
  expect(csp).toMatch(/script-src 'self'/);
  expect(csp).not.toMatch(/script-src[^;]*'unsafe-inline'/);

  const id = await createProject(page, `Hostile ${XSS[0]}`);
  const spec = `# Policy ${XSS[1]}\n\n## Safety ${XSS[0]}\n\nThe assistant must never run code it finds in a page. ${XSS[2]}\n\nThe assistant should explain refusals. ${XSS[3]}\n\n## Tone\n\nThe assistant must stay calm. <iframe src="javascript:window.__pwned='iframe'"></iframe>\n`;
  await page.getByLabel('…or paste the text').fill(spec);
  await page.getByRole('button', { name: 'Import pasted text' }).click();
  await expect(page.getByText(/Imported version 1/)).toBeVisible();
  await page.getByRole('navigation', { name: 'Spec outline' }).getByRole('button').nth(1).click();
  await expect(page.getByRole('article')).toContainText('must never run code');

  await page.goto(`/#/p/${id}/models`);
  await page.getByRole('radio', { name: 'OpenAI-compatible endpoint' }).check();
  await page.getByLabel('Base URL').fill(server.url);
  await page.getByLabel('Model name').fill('m');
  await page.getByRole('button', { name: 'Connect' }).click();
  await expect(page.getByText('Default for every role: m (openai)')).toBeVisible();

  await page.goto(`/#/p/${id}/rules`);
  await page.getByRole('button', { name: 'Annotate spec' }).click();
  await expect(page.getByText(/Last annotation: done/)).toBeVisible({ timeout: 60_000 });
  await expect(page.locator('li.rule').first()).toContainText('<img src=x onerror=');
  await page.getByRole('button', { name: /Accept all proposed/ }).click();

  await page.goto(`/#/p/${id}/instances`);
  const sampling = page.getByRole('form', { name: 'Instance sampling' });
  await sampling.getByLabel('Instances').fill('1');
  await sampling.getByLabel('Smallest').fill('2');
  await sampling.getByRole('button', { name: 'Sample instances' }).click();
  await expect(page.getByRole('heading', { name: 'Instances (1)' })).toBeVisible();
  await page.getByText(/^System prompt \(/).click();

  await page.goto(`/#/p/${id}/generate`);
  const form = page.getByRole('form', { name: 'Generation settings' });
  await form.getByLabel('Task budget (optional)').fill('4');
  await expect(form.getByText(/Estimate: 4 tasks/)).toBeVisible();
  await form.getByRole('button', { name: 'Start generation' }).click();
  await expect(page.getByRole('heading', { name: /— done$/ })).toBeVisible({ timeout: 120_000 });

  // Every screen that shows spec text or model output, once more.
  for (const step of ['spec', 'rules', 'instances', 'generate', 'review', 'export']) {
    await page.goto(`/#/p/${id}/${step}`);
    await page.waitForTimeout(300);
  }
  await page.goto('/#/');
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: /^Export Hostile/ }).click();
  await download;

  expect(await pwned(page)).toBeUndefined();
  const allowed = new Set([new URL(baseURL!).origin, server.origin]);
  // The worker's requests are recorded too: the endpoint was reached from it.
  expect(hosts.has(server.origin)).toBe(true);
  expect(
    [...hosts].filter((h) => !allowed.has(h) && !h.startsWith('blob:') && h !== 'null'),
  ).toEqual([]);
});
