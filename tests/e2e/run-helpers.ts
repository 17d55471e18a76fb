/**
 * Shared by the fault-injection e2e tests (faults.spec.ts, tabs.spec.ts): a project set up with
 * the fake endpoint playing every agent deterministically, synthesis runs started from the UI,
 * pages opened in the same browser context (like new tabs) with their console errors collected,
 * and the exported pairs compared by content.
 */
import { readFile } from 'node:fs/promises';
import type { BrowserContext, Page } from '@playwright/test';
import {
  startFakeOpenAiServer,
  type ChatCompletionBody,
  type FakeOpenAiServer,
} from '../fixtures/fake-openai-server';
import { societyScript } from '../fixtures/synthesis-society';
import { createProject, expect } from './fixtures';

/** The annotator of synthesis.spec.ts: up to four rules per chunk, quoted from the chunk. */
function annotator(body: ChatCompletionBody): string | undefined {
  if (!JSON.stringify(body.response_format ?? '').includes('sourceQuote')) return undefined;
  const user = body.messages?.find((m) => m.role === 'user')?.content ?? '';
  const sentences = user.match(/[A-Z][^.\n]*\b(must|never|should)\b[^.\n]*\./g) ?? [];
  return JSON.stringify({
    rules: [...new Set(sentences)].slice(0, 4).map((quote) => ({
      sourceQuote: quote,
      statement: quote,
      direction: /\b(never|must not|should not)\b/.test(quote) ? 'negative' : 'positive',
      strength: /\bshould\b/.test(quote) ? 'should' : 'must',
      stage: /\bfollow|instruction/i.test(quote) ? 'interpretation' : 'content',
      domain: 'support',
      family: quote.split(' ').slice(0, 3).join(' '),
      priority: 'unspecified',
      appliesWhen: [],
      exceptions: [],
    })),
  });
}

/**
 * A fake endpoint that annotates the example spec and plays the synthesis society.
 * `beforeAgentReply(n)` runs before the reply to the n-th agent request (1-based, annotation
 * excluded); the reply waits for it, which lets a test hold a request in flight. `override` may
 * answer an agent request instead of the society (e.g. with broken JSON).
 */
export function startSocietyServer(
  beforeAgentReply?: (n: number) => Promise<void> | void,
  override?: (body: ChatCompletionBody) => string | undefined,
  /** Model names the server lists (it answers any of them the same way). */
  models: string[] = ['society'],
): Promise<FakeOpenAiServer> {
  let agentCalls = 0;
  return startFakeOpenAiServer({
    models,
    script: async (body) => {
      const annotation = annotator(body);
      if (annotation !== undefined) return annotation;
      const reply = override?.(body) ?? societyScript(body);
      if (reply !== undefined) await beforeAgentReply?.(++agentCalls);
      return reply;
    },
  });
}

/**
 * Interruption points on the fake endpoint: `next(n, hold)` resolves once the n-th agent request
 * (counted from the server's start) arrives; with `hold` its reply waits until `release()`.
 */
export class RequestGate {
  #at = Infinity;
  #hold = false;
  #reached: (() => void) | undefined;
  #release: (() => void) | undefined;

  readonly beforeAgentReply = async (n: number): Promise<void> => {
    if (n < this.#at) return;
    this.#at = Infinity;
    const held = this.#hold ? new Promise<void>((resolve) => (this.#release = resolve)) : undefined;
    this.#reached?.();
    await held;
  };

  next(n: number, hold: boolean): Promise<void> {
    this.#at = n;
    this.#hold = hold;
    return new Promise((resolve) => (this.#reached = resolve));
  }

  release(): void {
    this.#release?.();
    this.#release = undefined;
  }
}

/** Chat requests made by synthesis agents (annotation requests excluded). */
export function agentRequests(server: FakeOpenAiServer): ChatCompletionBody[] {
  return server
    .chatBodies()
    .filter((b) =>
      /\[agent: \w+\]/.test(b.messages?.find((m) => m.role === 'system')?.content ?? ''),
    );
}

/** One request's identity: what the engine was asked, not when. */
export function requestSignature(body: ChatCompletionBody): string {
  return JSON.stringify([body.messages, body.response_format, body.seed ?? null]);
}

/** `a` minus `b` as multisets: what `a` has more often than `b`. */
export function multisetMinus(a: string[], b: string[]): string[] {
  const counts = new Map<string, number>();
  for (const x of b) counts.set(x, (counts.get(x) ?? 0) + 1);
  const out: string[] = [];
  for (const x of a) {
    const n = counts.get(x) ?? 0;
    if (n > 0) counts.set(x, n - 1);
    else out.push(x);
  }
  return out;
}

/**
 * A project with the example spec, the fake endpoint as its model, every proposed rule accepted
 * and `instances` sampled instances: ready to generate.
 */
export async function setUpProject(
  page: Page,
  server: FakeOpenAiServer,
  name: string,
  instances = 3,
  /** The endpoint's "Parallel requests" (tasks in flight); empty: the app's default. */
  parallel?: number,
): Promise<string> {
  const id = await createProject(page, name);
  await page.getByRole('button', { name: 'Try an example' }).click();
  await expect(page.getByText(/Imported version 1/)).toBeVisible();
  await connectEndpoint(page, id, server, parallel);

  await page.goto(`/#/p/${id}/rules`);
  await page.getByRole('button', { name: 'Annotate spec' }).click();
  await expect(page.getByText(/Last annotation: done/)).toBeVisible({ timeout: 60_000 });
  await page.getByRole('button', { name: /Accept all proposed/ }).click();
  await expect(page.getByText(/^0 proposed/)).toBeVisible();

  await page.goto(`/#/p/${id}/instances`);
  const sampling = page.getByRole('form', { name: 'Instance sampling' });
  await sampling.getByLabel('Instances').fill(String(instances));
  await sampling.getByRole('button', { name: 'Sample instances' }).click();
  await expect(page.getByRole('heading', { name: `Instances (${instances})` })).toBeVisible();
  return id;
}

/** Connects the fake endpoint as the project's model, with `parallel` requests in flight. */
export async function connectEndpoint(
  page: Page,
  id: string,
  server: FakeOpenAiServer,
  parallel?: number,
): Promise<void> {
  await page.goto(`/#/p/${id}/models`);
  await page.getByRole('radio', { name: 'OpenAI-compatible endpoint' }).check();
  await page.getByLabel('Base URL').fill(server.url);
  await page.getByLabel('Model name').fill('society');
  await page.getByLabel('Parallel requests (optional)').fill(parallel ? String(parallel) : '');
  await page.getByRole('button', { name: 'Connect' }).click();
  await expect(page.getByText('Default for every role: society (openai)')).toBeVisible();
}

export const RUN_SEED = 11;

/** Starts a new synthesis run of `tasks` tasks from the Generate screen; returns its heading. */
export async function startGeneration(page: Page, id: string, tasks: number): Promise<void> {
  await page.goto(`/#/p/${id}/generate`);
  const heading = page.getByRole('heading', { name: /^Run of/ });
  const before = (await heading.count()) ? await heading.innerText() : undefined;
  const form = page.getByRole('form', { name: 'Generation settings' });
  await form.getByLabel('Seed').fill(String(RUN_SEED));
  await form.getByLabel('Task budget (optional)').fill(String(tasks));
  await expect(form.getByText(new RegExp(`Estimate: ${tasks} tasks`))).toBeVisible();
  await form.getByRole('button', { name: 'Start generation' }).click();
  if (before !== undefined) await expect(heading).not.toHaveText(before);
  await expect(heading).toBeVisible();
}

/** Waits until the latest run's heading says it is done. */
export async function waitForDone(page: Page, timeout = 120_000): Promise<void> {
  await expect(page.getByRole('heading', { name: /— done$/ })).toBeVisible({ timeout });
}

/**
 * Opens a new page (a new tab) in `context` and records its console errors and those of its
 * workers, like the `consoleErrors` fixture does for the test's first page.
 */
export async function openTab(
  context: BrowserContext,
  errors: string[],
  url?: string,
): Promise<Page> {
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('worker', (worker) => {
    worker.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(`worker: ${msg.text()}`);
    });
  });
  if (url) await page.goto(url);
  return page;
}

export interface PairRow {
  id: string;
  runId: string;
  prompt: { role: string; content: string }[];
  chosen: string;
  rejected: string;
  caseType: string;
  ruleIds: string[];
}

interface TaskRow {
  id: string;
  runId: string;
  key: string;
  status: string;
}

interface RunRow {
  id: string;
  kind: string;
  status: string;
  createdAt: number;
  progress: { total: number; done: number; failed: number };
}

export interface ProjectExport {
  pairs: PairRow[];
  tasks: TaskRow[];
  runs: RunRow[];
}

/** Exports the project from the Projects screen and reads the file's tables. */
export async function exportProject(page: Page, projectName: string): Promise<ProjectExport> {
  await page.goto('/#/');
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: `Export ${projectName}` }).click();
  const file = JSON.parse(await readFile(await (await download).path(), 'utf8')) as {
    tables: ProjectExport;
  };
  return file.tables;
}

/** A pair's content, independent of its run: what must be equal between two runs. */
export function pairContent(pairs: PairRow[], runId: string): string[] {
  return pairs
    .filter((p) => p.runId === runId)
    .map((p) => JSON.stringify([p.prompt, p.chosen, p.rejected, p.caseType, p.ruleIds]))
    .sort();
}

/** Synthesis runs of the export, oldest first. */
export function synthesisRuns(data: ProjectExport): RunRow[] {
  return data.runs.filter((r) => r.kind === 'synthesize').sort((a, b) => a.createdAt - b.createdAt);
}

/** A run's stored counters agree with its tasks' stored states (nothing half-applied). */
export function expectConsistentRun(data: ProjectExport, runId: string): void {
  const run = data.runs.find((r) => r.id === runId)!;
  const tasks = data.tasks.filter((t) => t.runId === runId);
  expect(tasks).toHaveLength(run.progress.total);
  expect(new Set(tasks.map((t) => t.key)).size).toBe(tasks.length);
  expect(tasks.filter((t) => t.status === 'done')).toHaveLength(run.progress.done);
  expect(tasks.filter((t) => t.status === 'failed')).toHaveLength(run.progress.failed);
  const pairs = data.pairs.filter((p) => p.runId === runId);
  expect(new Set(pairs.map((p) => p.id)).size).toBe(pairs.length);
  // A pair exists only for a finished task.
  const doneKeys = new Set(
    tasks.filter((t) => t.status === 'done').map((t) => `${runId}:${t.key}`),
  );
  for (const p of pairs)
    expect(doneKeys.has(p.id), `pair ${p.id} of an unfinished task`).toBe(true);
}

/** mulberry32: a small seeded PRNG, so the interruption points are the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
