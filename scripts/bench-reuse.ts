/**
 * Prompt reuse in real llama.cpp (issue 13 §2): the agent calls of a synthesis run, replayed in
 * order through the app's wllama engine in Chromium on the tiny GGUF, counting the prompt tokens
 * llama.cpp evaluated (its `timings.prompt_n`) against those sent.
 *
 * The calls are the scripted society's (scripts/bench-prefix.ts: realistic 8–13-rule instances of
 * the example spec, every agent in its real order), so the replay measures the prompt layout and
 * wllama's cache, not what a random-weight model happens to write. Each call generates only a
 * few tokens: what is measured is prefill. The app loads llama.cpp with one slot (`n_parallel:
 * 1`, the engine serves one request at a time) and `cache_prompt`, so each call reuses the longest
 * prefix it shares with the call before it (measured: four slots evaluate the same within 0.2 %).
 * Tasks run one after another, as W = 1 in-browser runs do, with the app's default settings (three
 * attack rounds).
 *
 * `npx tsx scripts/bench-reuse.ts [tasks] [calls.json]`: replays the first `tasks` tasks (default
 * 4) of this checkout's layout, or of a JSON dump of `PromptCall[][]` (how the "before" figures
 * were taken: the same society recorded at the commit before the layout).
 */
import { chromium } from '@playwright/test';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createServer } from 'vite';
import type { ChatResult } from '../src/lib/core/llm';
import type { PromptCall } from '../src/lib/core/synthesis/prefix-share';
import { chromiumArgs } from '../playwright.config';
import type { HarnessApi, Outcome } from '../tests/e2e/harness/wllama-harness';
import { makeTinyGguf } from '../tests/fixtures/make-tiny-gguf.mjs';
import { recordSocietyCalls } from './bench-prefix';

const root = fileURLToPath(new URL('..', import.meta.url));
const HARNESS_PATH = '/tests/e2e/harness/wllama.html';
const MODEL_FILE = 'tests/fixtures/generated/tiny-llama-32k.gguf';
/** Measured with this script at 7a0fcde (the commit before the layout), same 4 tasks. */
export const BEFORE_REUSE = { commit: '7a0fcde', evaluated: 66_539, sent: 117_536 };
/**
 * The variant that gave the attacker and the quality judge the instance too (so every agent's
 * prompt opened with it), measured the same way before it was dropped: a better ratio, more work.
 */
export const ALL_INSTANCE_FIRST = { evaluated: 69_299, sent: 157_853 };
/** This layout with one attack round per task (the setting before rounds existed), same 4 tasks. */
export const ONE_ROUND = { evaluated: 61_482, sent: 119_454 };

export interface ReuseMeasurement {
  calls: number;
  sent: number;
  evaluated: number;
  byAgent: Record<string, { sent: number; evaluated: number }>;
}

/** Replays `tasks` through wllama in Chromium; see the module comment. */
export async function replayCalls(
  tasks: readonly (readonly PromptCall[])[],
): Promise<ReuseMeasurement> {
  makeTinyGguf(`${root}/${MODEL_FILE}`, { seed: 1, contextLength: 32768 });
  const server = await createServer({
    root,
    configFile: `${root}/vite.config.ts`,
    logLevel: 'warn',
    clearScreen: false,
    server: { port: 0, host: '127.0.0.1', strictPort: false, watch: null, hmr: false },
  });
  await server.listen();
  const address = server.httpServer?.address();
  if (!address || typeof address === 'string') throw new Error('Vite dev server has no address');
  const origin = `http://127.0.0.1:${address.port}`;
  const executablePath =
    [process.env.CHROMIUM_PATH, '/usr/bin/chromium'].find((p) => p && existsSync(p)) ??
    '/usr/bin/chromium';
  const browser = await chromium.launch({ executablePath, args: chromiumArgs });
  try {
    const page = await browser.newPage();
    await page.goto(`${origin}${HARNESS_PATH}`);
    await page.waitForFunction(() => window.wllamaHarness !== undefined, null, {
      timeout: 60_000,
    });
    const call = <K extends keyof HarnessApi>(name: K, ...args: Parameters<HarnessApi[K]>) =>
      page.evaluate(([n, a]) => (window.wllamaHarness![n] as (...x: unknown[]) => unknown)(...a), [
        name,
        args,
      ] as const) as Promise<Awaited<ReturnType<HarnessApi[K]>>>;
    const loaded = await call('loadUrl', `${origin}/${MODEL_FILE}`, {
      contextSize: 32768,
      threads: 2,
    });
    if (!loaded.ok) throw new Error(`${loaded.name}: ${loaded.message}`);
    const out: ReuseMeasurement = { calls: 0, sent: 0, evaluated: 0, byAgent: {} };
    for (const calls of tasks)
      for (const c of calls) {
        const result: Outcome<ChatResult> = await call('chat', {
          messages: c.messages.map((m) => ({ role: m.role, content: m.content })),
          maxTokens: 4,
          temperature: 0,
          seed: 1,
        });
        if (!result.ok) throw new Error(`${c.agent}: ${result.name}: ${result.message}`);
        const sent = result.value.usage.promptTokens;
        const evaluated = result.value.timings?.promptTokens ?? sent;
        const row = (out.byAgent[c.agent] ??= { sent: 0, evaluated: 0 });
        row.sent += sent;
        row.evaluated += evaluated;
        out.calls++;
        out.sent += sent;
        out.evaluated += evaluated;
      }
    return out;
  } finally {
    await browser.close();
    await server.close();
  }
}

const ratio = (m: { sent: number; evaluated: number }) =>
  (m.evaluated / Math.max(1, m.sent)).toFixed(2);

/** The BENCHMARKS.md row: this layout's first `tasks` society tasks, replayed. */
export async function benchReuse(
  tasks = 4,
): Promise<{ metric: string; value: string; note: string }> {
  const m = await replayCalls((await recordSocietyCalls()).slice(0, tasks));
  const before = ` (before the layout ${ratio(BEFORE_REUSE)})`;
  return {
    metric:
      'wllama prompt reuse, society calls replayed on the tiny GGUF: prompt tokens evaluated ÷ sent',
    value: `${ratio(m)}${before}; without reuse 1.00`,
    note: `${m.calls} calls of the first ${tasks} tasks of the scripted society (8–13-rule instances), in order, through wllama in Chromium (one slot, cache_prompt: each call reuses the prefix it shares with the previous one; default settings, 3 attack rounds); ${m.evaluated.toLocaleString('en')} of ${m.sent.toLocaleString('en')} prompt tokens evaluated (llama.cpp timings; one token per byte in the tiny model). Per agent: ${Object.entries(
      m.byAgent,
    )
      .map(([a, r]) => `${a} ${ratio(r)}`)
      .join(
        ', ',
      )}. Before = the same society's first ${tasks} tasks recorded at ${BEFORE_REUSE.commit} (the layout before, one attack per task) and replayed by this script: ${BEFORE_REUSE.evaluated.toLocaleString('en')} of ${BEFORE_REUSE.sent.toLocaleString('en')} (${ratio(BEFORE_REUSE)}). This layout at one attack round: ${ONE_ROUND.evaluated.toLocaleString('en')} of ${ONE_ROUND.sent.toLocaleString('en')} (${ratio(ONE_ROUND)}, 8 % fewer tokens evaluated than before for the same calls); three rounds make more calls per task, and a round's attack, defence and judgement share long prefixes with the round before. A variant giving the attacker and the quality judge the instance too reached ${ratio(ALL_INSTANCE_FIRST)} at one round but sent ${Math.round((ALL_INSTANCE_FIRST.sent / BEFORE_REUSE.sent - 1) * 100)} % more and evaluated ${ALL_INSTANCE_FIRST.evaluated.toLocaleString('en')}: dropped. Without reuse every prompt is evaluated whole. Target ≤ 0.5`,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const tasks = Number(process.argv[2] ?? 4);
  const file = process.argv[3];
  const all = file
    ? (JSON.parse(await readFile(file, 'utf8')) as PromptCall[][])
    : await recordSocietyCalls();
  const m = await replayCalls(all.slice(0, tasks));
  console.log(JSON.stringify({ ...m, ratio: ratio(m) }));
}
