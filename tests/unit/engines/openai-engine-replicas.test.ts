/**
 * The endpoint engine against the fake server: back-pressure storms (429/503 with Retry-After),
 * dead and crashing replicas, least-in-flight spreading, every replica down and recovery. Time
 * and randomness are injected, so storms of many seconds run in milliseconds.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { OpenAiConfig } from '$lib/core/engine-config';
import { DEFAULT_ENDPOINT_POLICY, type ReplicaStatus } from '$lib/core/endpoint-policy';
import { AbortedError, EndpointsDownError } from '$lib/core/errors';
import { mulberry32 } from '$lib/core/hash';
import { createOpenAiEngine, type EndpointRuntime } from '$lib/engines/openai-engine';
import {
  deadBaseUrl,
  startFakeOpenAiServer,
  throttleStorm,
  type FakeOpenAiServer,
  type FakeServerOptions,
} from '../../fixtures/fake-openai-server';

const servers: FakeOpenAiServer[] = [];
async function start(options: FakeServerOptions = {}): Promise<FakeOpenAiServer> {
  const server = await startFakeOpenAiServer(options);
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const T0 = Date.UTC(2026, 11, 7, 12, 0, 0);
const hi = { messages: [{ role: 'user' as const, content: 'Hi there' }] };

/** A fake clock whose sleeps return at once and move time forward; every sleep is recorded. */
function fakeTime(seed = 1): Partial<EndpointRuntime> & { sleeps: number[]; now(): number } {
  let t = T0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    random: mulberry32(seed),
    sleep: async (ms, signal) => {
      if (signal?.aborted) throw new AbortedError();
      sleeps.push(ms);
      t += ms;
    },
  };
}

function endpoint(urls: string[]): OpenAiConfig {
  const [baseUrl = '', ...replicas] = urls;
  return { kind: 'openai', baseUrl, model: 'fake-model', ...(replicas.length ? { replicas } : {}) };
}

const chatPosts = (server: FakeOpenAiServer) =>
  server.requests.filter((r) => r.method === 'POST').length;

describe('back-pressure', () => {
  it('rides out a 429 storm, never retrying before Retry-After', async () => {
    const server = await start({
      script: [...throttleStorm(5, { status: 429, retryAfter: '2' }), 'finally'],
    });
    const time = fakeTime();
    const engine = await createOpenAiEngine(endpoint([server.url]), {}, fetch, time);
    const result = await engine.chat(hi);
    expect(result.text).toBe('finally');
    expect(chatPosts(server)).toBe(6);
    expect(time.sleeps).toHaveLength(5);
    for (const ms of time.sleeps) {
      expect(ms).toBeGreaterThanOrEqual(2_000);
      // Retry-After plus at most its jitter share, unless the backoff has grown past it.
      expect(ms).toBeLessThanOrEqual(Math.max(2_000 * 1.2, DEFAULT_ENDPOINT_POLICY.backoff.maxMs));
    }
    expect(engine.replicaStatus()[0]).toMatchObject({ state: 'ready', failures: 0 });
  });

  it('honours a 503 Retry-After given as an HTTP date', async () => {
    const until = new Date(T0 + 30_000).toUTCString();
    const server = await start({
      script: [...throttleStorm(1, { status: 503, retryAfter: until }), 'ok'],
    });
    const time = fakeTime();
    const engine = await createOpenAiEngine(endpoint([server.url]), {}, fetch, time);
    expect((await engine.chat(hi)).text).toBe('ok');
    expect(time.sleeps).toHaveLength(1);
    expect(time.sleeps[0]).toBeGreaterThanOrEqual(30_000);
    expect(time.sleeps[0]).toBeLessThanOrEqual(36_000);
  });

  it('backs off exponentially (jittered) when the server gives no Retry-After, and never gives up', async () => {
    const server = await start({ script: [...throttleStorm(8, { status: 503 }), 'ok'] });
    const time = fakeTime(9);
    const engine = await createOpenAiEngine(endpoint([server.url]), {}, fetch, time);
    expect((await engine.chat(hi)).text).toBe('ok');
    const { baseMs, maxMs } = DEFAULT_ENDPOINT_POLICY.backoff;
    time.sleeps.forEach((ms, attempt) => {
      const e = Math.min(maxMs, baseMs * 2 ** attempt);
      expect(ms).toBeGreaterThanOrEqual(e / 2);
      expect(ms).toBeLessThanOrEqual(e);
    });
    expect(time.sleeps).toHaveLength(8);
  });

  it('holds a throttled replica for every request until its Retry-After; the retry goes elsewhere', async () => {
    const a = await start({ script: throttleStorm(1, { retryAfter: '10' }) });
    const b = await start();
    const time = fakeTime();
    let seen: ReplicaStatus[] = [];
    const engine = await createOpenAiEngine(endpoint([a.url, b.url]), {}, fetch, {
      ...time,
      sleep: async (ms, signal) => {
        seen = engine.replicaStatus();
        await time.sleep?.(ms, signal);
      },
    });
    expect((await engine.chat(hi)).text).toBe('Echo: Hi there');
    expect(seen[0]).toMatchObject({ state: 'throttled', until: T0 + 10_000, failures: 0 });
    expect(seen[1]).toMatchObject({ state: 'ready' });
    expect([chatPosts(a), chatPosts(b)]).toEqual([1, 1]);
  });

  it('stops waiting when the request is aborted', async () => {
    const server = await start({ script: throttleStorm(1, { retryAfter: '60' }) });
    const controller = new AbortController();
    const engine = await createOpenAiEngine(endpoint([server.url]), {}, fetch, {
      sleep: (_ms, signal) =>
        new Promise((_resolve, reject) => {
          signal?.addEventListener('abort', () => reject(new AbortedError()));
          controller.abort();
        }),
    });
    await expect(engine.chat({ ...hi, signal: controller.signal })).rejects.toBeInstanceOf(
      AbortedError,
    );
  });
});

describe('replicas', () => {
  it('spreads concurrent requests to the replica with the fewest in flight', async () => {
    const a = await start({ latencyMs: 40 });
    const b = await start({ latencyMs: 40 });
    const engine = await createOpenAiEngine(endpoint([a.url, b.url]), {}, fetch, fakeTime());
    expect(engine.id).toBe(`openai:fake-model@${a.url},${b.url}`);
    await Promise.all(Array.from({ length: 6 }, () => engine.chat(hi)));
    expect([chatPosts(a), chatPosts(b)]).toEqual([3, 3]);
  });

  it('sets aside a replica that is unreachable at connect time, and serves from the others', async () => {
    const dead = await deadBaseUrl();
    const live = await start();
    const progress: string[] = [];
    const engine = await createOpenAiEngine(
      endpoint([dead, live.url]),
      { onProgress: (p) => progress.push(p.text) },
      fetch,
      fakeTime(),
    );
    expect(progress.at(-1)).toMatch(/^Connected to 1 of 2 replicas \(set aside, unreachable: /);
    expect(engine.replicaStatus().map((r) => r.state)).toEqual(['set-aside', 'ready']);
    for (let i = 0; i < 4; i++) await engine.chat(hi);
    expect(chatPosts(live)).toBe(4);
  });

  it('says an endpoint none of whose replicas answers at connect time is down (a run pauses on it)', async () => {
    const time = fakeTime();
    const one = await createOpenAiEngine(endpoint([await deadBaseUrl()]), {}, fetch, time).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(one).toBeInstanceOf(EndpointsDownError);
    expect((one as EndpointsDownError).message).toMatch(/^Could not reach .*connection refused/);
    expect((one as EndpointsDownError).retryAt).toBe(
      T0 + DEFAULT_ENDPOINT_POLICY.setAside.coolDownMs,
    );
    const both = createOpenAiEngine(
      endpoint([await deadBaseUrl(), await deadBaseUrl()]),
      {},
      fetch,
      time,
    );
    await expect(both).rejects.toThrow(/^None of the 2 replicas answers\. Could not reach/);
  });

  it('sets aside a replica that fails repeatedly mid-run; no request fails meanwhile', async () => {
    const a = await start();
    const b = await start();
    const time = fakeTime();
    const engine = await createOpenAiEngine(endpoint([a.url, b.url]), {}, fetch, time);
    a.setDown(true);
    const texts = [];
    for (let i = 0; i < 8; i++) texts.push((await engine.chat(hi)).text);
    expect(texts.every((t) => t === 'Echo: Hi there')).toBe(true);
    const [statusA, statusB] = engine.replicaStatus();
    expect(statusA).toMatchObject({ state: 'set-aside', failures: 3 });
    expect(statusA?.lastError).toMatch(/Could not reach/);
    expect(statusA?.until).toBeGreaterThan(time.now());
    expect(statusA?.until).toBeLessThanOrEqual(
      time.now() + DEFAULT_ENDPOINT_POLICY.setAside.coolDownMs,
    );
    expect(statusB).toMatchObject({ state: 'ready', failures: 0 });
    expect(chatPosts(b)).toBe(8);
  });

  it('treats a gateway 502 as a failing replica, retried elsewhere', async () => {
    const a = await start({
      script: [{ status: 502, body: 'Bad gateway' }, 'a answers again'],
    });
    const b = await start({ script: ['b answers'] });
    const engine = await createOpenAiEngine(endpoint([a.url, b.url]), {}, fetch, fakeTime());
    expect((await engine.chat(hi)).text).toBe('b answers');
    expect(engine.replicaStatus()[0]).toMatchObject({ state: 'ready', failures: 1 });
    expect(engine.replicaStatus()[0]?.lastError).toMatch(/failed \(502\): Bad gateway/);
  });

  it('throws EndpointsDownError when every replica is down, and recovers when one returns', async () => {
    const server = await start();
    const time = fakeTime();
    const engine = await createOpenAiEngine(endpoint([server.url]), {}, fetch, time);
    server.setDown(true);
    const error = await engine.chat(hi).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EndpointsDownError);
    const down = error as EndpointsDownError;
    expect(down.message).toMatch(
      /^The endpoint http:\/\/127\.0\.0\.1:\d+\/v1 is set aside after failing 3 times in a row \(last error: Could not reach/,
    );
    expect(down.retryAt).toBe(time.now() + DEFAULT_ENDPOINT_POLICY.setAside.coolDownMs);
    // Backoff between the three attempts, none after the last.
    expect(time.sleeps).toHaveLength(2);
    // Before the cool-down ends nothing is sent: the next call fails at once.
    const before = server.requests.length;
    await expect(engine.chat(hi)).rejects.toBeInstanceOf(EndpointsDownError);
    expect(server.requests.length).toBe(before);

    server.setDown(false);
    await time.sleep?.(down.retryAt - time.now());
    expect((await engine.chat(hi)).text).toBe('Echo: Hi there');
    expect(engine.replicaStatus()[0]).toMatchObject({ state: 'ready', failures: 0 });
  });
});
