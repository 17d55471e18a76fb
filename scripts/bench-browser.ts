/**
 * Browser benchmarks, run by `npm run bench` after the Node ones (scripts/bench.ts merges the
 * rows): serves the production build with `vite preview` on loopback, drives Chromium with
 * Playwright and measures
 * - main-thread long tasks (PerformanceObserver 'longtask', > 50 ms) during a synthesis run
 *   against the fake endpoint, and while scrolling the Review list over 100,000 pairs;
 * - wllama tokens/s on the tiny random-weight GGUF ("Test this model" on the Models screen),
 *   cross-origin isolated (threads) and with COOP/COEP stripped (single thread).
 * The long-task observer is calibrated first (one deliberate 120 ms task must be seen), so "0"
 * means none happened, not that none could be observed. Nothing is asserted. Every server
 * started here is stopped. Run alone:
 * `npx vite build && npx tsx scripts/bench-browser.ts`.
 */
import { chromium, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { preview } from 'vite';
import { chromiumArgs } from '../playwright.config';
import { makeTinyGguf } from '../tests/fixtures/make-tiny-gguf.mjs';
import { createProject, expect } from '../tests/e2e/fixtures';
import {
  setUpProject,
  startGeneration,
  startSocietyServer,
  waitForDone,
} from '../tests/e2e/run-helpers';

export interface BenchRow {
  metric: string;
  value: string;
  note: string;
}

const root = path.resolve(import.meta.dirname, '..');
const REVIEW_PAIRS = 100_000;
const RUN_TASKS = 24;

/** Collects long tasks from the first script on; `window.__longTasks` holds their durations. */
const LONGTASK_OBSERVER = `(() => {
  window.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longTasks.push(e.duration);
  }).observe({ type: 'longtask', buffered: true });
})();`;

interface LongTasks {
  count: number;
  longest: number;
  total: number;
}

declare global {
  interface Window {
    __longTasks: number[];
  }
}

const resetLongTasks = (page: Page) => page.evaluate(() => (window.__longTasks = []));
const readLongTasks = (page: Page): Promise<LongTasks> =>
  page.evaluate(() => {
    const d = window.__longTasks;
    return { count: d.length, longest: Math.max(0, ...d), total: d.reduce((a, b) => a + b, 0) };
  });
const describe = (t: LongTasks) => `${t.count} long tasks, longest ${t.longest.toFixed(0)} ms`;

async function newContext(browser: Browser, baseURL: string): Promise<BrowserContext> {
  // No service worker: every context starts cold and routes see every request.
  const context = await browser.newContext({ baseURL, serviceWorkers: 'block' });
  await context.addInitScript(LONGTASK_OBSERVER);
  return context;
}

/** A synthesis run on the fake endpoint, then the Review list over 100,000 pairs. */
async function benchMainThread(browser: Browser, baseURL: string): Promise<BenchRow[]> {
  const server = await startSocietyServer();
  const context = await newContext(browser, baseURL);
  try {
    const page = await context.newPage();
    const id = await setUpProject(page, server, 'Bench');
    await page.goto(`/#/p/${id}/generate`);
    // Calibration: a deliberate 120 ms task must be seen, or the counts below mean nothing.
    await resetLongTasks(page);
    await page.evaluate(
      () =>
        new Promise((resolve) =>
          setTimeout(() => {
            const t = performance.now();
            while (performance.now() - t < 120);
            setTimeout(resolve, 50);
          }),
        ),
    );
    const calibration = await readLongTasks(page);
    if (calibration.count !== 1)
      throw new Error(
        `longtask observer saw ${calibration.count} tasks for one 120 ms task (supported: ${await page.evaluate(() => PerformanceObserver.supportedEntryTypes.join())})`,
      );
    await resetLongTasks(page);
    const t0 = performance.now();
    await startGeneration(page, id, RUN_TASKS);
    await waitForDone(page);
    const runMs = performance.now() - t0;
    const run = await readLongTasks(page);
    const calls = server.chatBodies().length;

    // 100,000 pairs written straight into IndexedDB (the app's schema), like a long-used project.
    const seedMs = await page.evaluate(
      async ({ projectId, n }) => {
        const t = performance.now();
        const db = await new Promise<IDBDatabase>((resolve, reject) => {
          const r = indexedDB.open('specalign-studio');
          r.onsuccess = () => resolve(r.result);
          r.onerror = () => reject(r.error);
        });
        const cases = ['violation', 'borderline', 'benign'];
        for (let start = 0; start < n; start += 10_000) {
          await new Promise<void>((resolve, reject) => {
            const tx = db.transaction('pairs', 'readwrite');
            const store = tx.objectStore('pairs');
            for (let i = start; i < Math.min(n, start + 10_000); i++) {
              store.put({
                id: `bench-${i}`,
                projectId,
                runId: 'bench-run',
                instanceId: 'bench-instance',
                ruleIds: [],
                caseType: cases[i % 3],
                prompt: [{ role: 'user', content: `Bench question ${i}: ${'words '.repeat(30)}` }],
                chosen: `A compliant answer ${i}. ${'text '.repeat(40)}`,
                rejected: `A violating answer ${i}. ${'text '.repeat(40)}`,
                status: 'pending',
                provenance: {},
                createdAt: 2_000_000_000_000 + i,
              });
            }
            tx.oncomplete = () => resolve();
            tx.onerror = () => reject(tx.error);
          });
        }
        db.close();
        return performance.now() - t;
      },
      { projectId: id, n: REVIEW_PAIRS },
    );

    await resetLongTasks(page);
    const t1 = performance.now();
    await page.goto(`/#/p/${id}/review`);
    await expect(page.getByText(/^\d[\d,]* of [\d,]+ pairs shown/)).toBeVisible({
      timeout: 120_000,
    });
    const openMs = performance.now() - t1;
    const shown = await page.getByText(/^\d[\d,]* of [\d,]+ pairs shown/).innerText();
    const open = await readLongTasks(page);

    await resetLongTasks(page);
    const list = page.locator('.viewport').first();
    await list.hover();
    for (let i = 0; i < 150; i++) {
      await page.mouse.wheel(0, 1500);
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(undefined))));
    }
    // Jumps anywhere in the list (scrollbar drags).
    for (let i = 1; i <= 50; i++) {
      await list.evaluate((el, f) => (el.scrollTop = f * el.scrollHeight), ((i * 37) % 100) / 100);
      await page.evaluate(
        () =>
          new Promise((r) =>
            requestAnimationFrame(() => requestAnimationFrame(() => r(undefined))),
          ),
      );
    }
    await expect(
      page.getByRole('button', { name: /^Pair \d+ of \d+: pending/ }).first(),
    ).toBeVisible();
    const scroll = await readLongTasks(page);

    return [
      {
        metric: `Main-thread long tasks during a synthesis run (${RUN_TASKS} tasks, fake endpoint)`,
        value: describe(run),
        note: `${calls} endpoint calls in ${(runMs / 1000).toFixed(1)} s (instant replies: the worst case for UI updates); total ${run.total.toFixed(0)} ms blocked`,
      },
      {
        metric: `Review: open over ${REVIEW_PAIRS.toLocaleString('en')} pairs`,
        value: `${(openMs / 1000).toFixed(1)} s; ${describe(open)}`,
        note: `until "${shown}"; seeding them straight into IndexedDB took ${(seedMs / 1000).toFixed(1)} s`,
      },
      {
        metric: `Review: scrolling ${REVIEW_PAIRS.toLocaleString('en')} pairs`,
        value: describe(scroll),
        note: `150 wheel steps of 1500 px and 50 jumps across the list; total ${scroll.total.toFixed(0)} ms blocked`,
      },
    ];
  } finally {
    await context.close();
    await server.close();
  }
}

/** "Test this model" on the tiny GGUF in wllama, with or without cross-origin isolation. */
async function benchWllama(
  browser: Browser,
  baseURL: string,
  modelPath: string,
  isolated: boolean,
): Promise<{ tokensPerSecond: string; crossOriginIsolated: boolean }> {
  const context = await newContext(browser, baseURL);
  try {
    if (!isolated) {
      // Strip COOP/COEP from the document: no SharedArrayBuffer, so wllama runs one thread.
      await context.route(
        (url) => url.origin === new URL(baseURL).origin && url.pathname === '/',
        async (route) => {
          const response = await route.fetch();
          const headers = { ...response.headers() };
          delete headers['cross-origin-opener-policy'];
          delete headers['cross-origin-embedder-policy'];
          await route.fulfill({ response, headers });
        },
      );
    }
    const page = await context.newPage();
    const id = await createProject(page, 'wllama bench');
    const crossOriginIsolated = await page.evaluate(() => window.crossOriginIsolated);
    await page.goto(`/#/p/${id}/models`);
    await page.getByRole('radio', { name: 'CPU (wllama)' }).check();
    await page.getByLabel('GGUF file').setInputFiles(modelPath);
    await page.getByLabel('Context size (tokens)').fill('1024');
    await page
      .getByRole('form', { name: 'CPU model (wllama)' })
      .getByRole('button', { name: 'Load model' })
      .click();
    const row = page.getByRole('row', { name: /tiny-llama\.gguf/ });
    await expect(row).toBeVisible({ timeout: 120_000 });
    await page.getByRole('button', { name: 'Test tiny-llama.gguf' }).click();
    await expect(row).toContainText(/JSON (valid|invalid)/, { timeout: 180_000 });
    const text = await row.locator('.test-result').innerText();
    return {
      tokensPerSecond: /([\d.]+) tokens\/s/.exec(text)?.[1] ?? '?',
      crossOriginIsolated,
    };
  } finally {
    await context.close();
  }
}

/** Runs every browser benchmark against `dist/` and returns the rows. */
export async function benchBrowser(): Promise<BenchRow[]> {
  if (!existsSync(path.join(root, 'dist/index.html')))
    throw new Error('dist/ is missing; run `vite build` first');
  const server = await preview({
    root,
    logLevel: 'warn',
    preview: { port: 4598, host: '127.0.0.1', strictPort: false },
  });
  const address = server.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('vite preview has no TCP address');
  const baseURL = `http://127.0.0.1:${address.port}`;
  const executablePath =
    [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
      (p) => p && existsSync(p),
    ) ?? '/usr/bin/chromium';
  const browser = await chromium.launch({ executablePath, args: chromiumArgs });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'specalign-bench-'));
  try {
    const rows = await benchMainThread(browser, baseURL);
    const modelPath = path.join(dir, 'tiny-llama.gguf');
    const { bytes } = makeTinyGguf(modelPath, { seed: 42 });
    const threaded = await benchWllama(browser, baseURL, modelPath, true);
    const single = await benchWllama(browser, baseURL, modelPath, false);
    rows.push({
      metric: 'wllama "Test this model" on the tiny GGUF: isolated / not isolated',
      value: `${threaded.tokensPerSecond} / ${single.tokensPerSecond} tokens/s`,
      note: `crossOriginIsolated ${threaded.crossOriginIsolated} / ${single.crossOriginIsolated} (COOP/COEP stripped); ${(bytes / 1024).toFixed(0)} KB random-weight model, so this measures wllama's per-token overhead, not a real model; ${os.cpus().length} cores`,
    });
    return rows;
  } finally {
    await browser.close();
    await new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await benchBrowser();
  for (const r of rows) console.log(`| ${r.metric} | ${r.value} | ${r.note} |`);
}
