import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  effectiveConcurrency,
  parseRetryAfter,
  ReplicaPool,
  throttleDelay,
  type BackoffSchedule,
  type SetAsideRules,
} from '$lib/core/endpoint-policy';
import { mulberry32 } from '$lib/core/hash';

const NOW = Date.UTC(2026, 9, 21, 7, 28, 0);
const schedule: BackoffSchedule = {
  baseMs: 100,
  maxMs: 10_000,
  retryAfterJitter: 0.2,
  maxRetryAfterMs: 60_000,
};
const rules: SetAsideRules = { failuresToSetAside: 3, coolDownMs: 1_000, maxCoolDownMs: 8_000 };

function clock(start = NOW) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => (t += ms),
  };
}

describe('parseRetryAfter', () => {
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter(' 120 ', NOW)).toBe(120_000);
    expect(parseRetryAfter('1.5', NOW)).toBe(1_500);
  });

  it('reads an HTTP date relative to now, and a past date as 0', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:28:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfter(new Date(NOW + 90_000).toUTCString(), NOW)).toBe(90_000);
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:00:00 GMT', NOW)).toBe(0);
  });

  it('ignores a missing or unreadable value', () => {
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
    expect(parseRetryAfter('', NOW)).toBeUndefined();
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter('-5', NOW)).toBeUndefined();
    expect(parseRetryAfter('12abc', NOW)).toBeUndefined();
    expect(parseRetryAfter('Someday, 99 Foo 2026 99:99:99 GMT', NOW)).toBeUndefined();
  });
});

describe('backoff', () => {
  it('doubles per attempt, stays within [e/2, e] and under the cap, with a seeded random', () => {
    const random = mulberry32(42);
    for (let attempt = 0; attempt < 12; attempt++) {
      const e = Math.min(schedule.maxMs, schedule.baseMs * 2 ** attempt);
      for (let i = 0; i < 200; i++) {
        const d = backoffDelay(attempt, random, schedule);
        expect(d).toBeGreaterThanOrEqual(e / 2);
        expect(d).toBeLessThanOrEqual(e);
      }
    }
  });

  it('spreads delays (jitter is not constant) and is reproducible from the seed', () => {
    const a = Array.from({ length: 20 }, () => backoffDelay(3, mulberry32(7), schedule));
    expect(new Set(a).size).toBe(1);
    const random = mulberry32(7);
    const spread = Array.from({ length: 20 }, () => backoffDelay(3, random, schedule));
    expect(new Set(spread).size).toBeGreaterThan(15);
    expect(spread[0]).toBe(a[0]);
  });

  it('gives the ends of the jitter range for random 0 and ~1', () => {
    expect(backoffDelay(2, () => 0, schedule)).toBe(200);
    expect(backoffDelay(2, () => 0.999999, schedule)).toBeCloseTo(400, 2);
  });

  it('never retries before Retry-After, adds at most its jitter share, and still backs off', () => {
    const random = mulberry32(3);
    for (let i = 0; i < 500; i++) {
      const d = throttleDelay(0, 2_000, random, schedule);
      expect(d).toBeGreaterThanOrEqual(2_000);
      expect(d).toBeLessThanOrEqual(2_000 * 1.2);
    }
    // A server that keeps saying "0 s" is asked less and less often.
    expect(throttleDelay(6, 0, () => 0, schedule)).toBe(3_200);
    // Without Retry-After: plain backoff.
    expect(throttleDelay(2, undefined, () => 0, schedule)).toBe(200);
    // An absurd Retry-After is capped.
    expect(throttleDelay(0, 86_400_000, () => 0, schedule)).toBe(60_000);
  });
});

describe('ReplicaPool: choice', () => {
  it('sends each request to the replica with the fewest in flight, taking turns on ties', () => {
    const pool = new ReplicaPool(['a', 'b', 'c'], rules, clock().now);
    const picks = Array.from({ length: 6 }, () => pool.pick());
    expect(picks.map((p) => (p.kind === 'use' ? pool.url(p.index) : p.kind))).toEqual([
      'a',
      'b',
      'c',
      'a',
      'b',
      'c',
    ]);
    // b finishes both of its requests: it has the fewest in flight now.
    pool.finish(1);
    pool.finish(1);
    const next = pool.pick();
    expect(next).toEqual({ kind: 'use', index: 1 });
    expect(pool.status().map((r) => r.inFlight)).toEqual([2, 1, 2]);
  });

  it('holds a throttled replica until its time without counting a failure', () => {
    const c = clock();
    const pool = new ReplicaPool(['a', 'b'], rules, c.now);
    pool.pick(); // a
    pool.finish(0);
    pool.throttled(0, NOW + 5_000);
    expect(pool.status()[0]).toMatchObject({ state: 'throttled', failures: 0, until: NOW + 5_000 });
    expect(pool.pick()).toEqual({ kind: 'use', index: 1 });
    expect(pool.pick()).toEqual({ kind: 'use', index: 1 });
    c.advance(5_000);
    expect(pool.pick()).toEqual({ kind: 'use', index: 0 });
  });

  it('says when to look again when every replica is throttled', () => {
    const c = clock();
    const pool = new ReplicaPool(['a', 'b'], rules, c.now);
    pool.throttled(0, NOW + 3_000);
    pool.throttled(1, NOW + 2_000);
    expect(pool.pick()).toEqual({ kind: 'wait', until: NOW + 2_000 });
  });
});

describe('ReplicaPool: set-aside and recovery', () => {
  it('sets a replica aside after enough failures in a row; an answer in between resets the count', () => {
    const c = clock();
    const pool = new ReplicaPool(['a', 'b'], rules, c.now);
    expect(pool.failed(0, 'refused')).toBe(false);
    expect(pool.failed(0, 'refused')).toBe(false);
    pool.succeeded(0);
    expect(pool.status()[0]).toMatchObject({ state: 'ready', failures: 0 });
    expect(pool.failed(0, 'refused')).toBe(false);
    expect(pool.failed(0, 'refused')).toBe(false);
    expect(pool.failed(0, 'refused')).toBe(true);
    expect(pool.status()[0]).toEqual({
      url: 'a',
      state: 'set-aside',
      inFlight: 0,
      failures: 3,
      until: NOW + 1_000,
      lastError: 'refused',
    });
    // Requests go to b meanwhile.
    for (let i = 0; i < 3; i++) expect(pool.pick()).toEqual({ kind: 'use', index: 1 });
  });

  it('probes a replica once its cool-down ends: one request at a time; success brings it back', () => {
    const c = clock();
    const pool = new ReplicaPool(['a', 'b'], rules, c.now);
    for (let i = 0; i < 3; i++) pool.failed(0, 'refused');
    c.advance(1_000);
    expect(pool.status()[0]?.state).toBe('probing');
    // a gets the probe (tie on load, first in order) …
    expect(pool.pick()).toEqual({ kind: 'use', index: 0 });
    expect(pool.status().map((r) => r.inFlight)).toEqual([1, 0]);
    // … and no second request while the probe is in flight.
    expect(pool.pick()).toEqual({ kind: 'use', index: 1 });
    expect(pool.pick()).toEqual({ kind: 'use', index: 1 });
    pool.finish(0);
    pool.succeeded(0);
    expect(pool.status()[0]).toMatchObject({ state: 'ready', failures: 0 });
    expect(pool.status()[0]?.lastError).toBeUndefined();
  });

  it('sets a failed probe aside again at once, for twice as long, up to the cap', () => {
    const c = clock();
    const pool = new ReplicaPool(['a'], rules, c.now);
    for (let i = 0; i < 3; i++) pool.failed(0, 'refused');
    const coolDowns: number[] = [];
    for (let round = 0; round < 5; round++) {
      const until = pool.status()[0]?.until ?? 0;
      coolDowns.push(until - c.now());
      c.advance(until - c.now());
      const probe = pool.pick();
      expect(probe).toEqual({ kind: 'use', index: 0 });
      pool.finish(0);
      expect(pool.failed(0, 'still refused')).toBe(true);
    }
    expect(coolDowns).toEqual([1_000, 2_000, 4_000, 8_000, 8_000]);
  });

  it('does not lengthen the cool-down for requests that were already in flight when it was set aside', () => {
    const c = clock();
    const pool = new ReplicaPool(['a'], rules, c.now);
    for (let i = 0; i < 8; i++) pool.pick();
    for (let i = 0; i < 8; i++) {
      pool.finish(0);
      pool.failed(0, 'connection reset');
    }
    expect(pool.status()[0]).toMatchObject({ state: 'set-aside', failures: 8, until: NOW + 1_000 });
  });

  it('reports every replica down with the time of the first probe', () => {
    const c = clock();
    const pool = new ReplicaPool(['a', 'b'], rules, c.now);
    for (let i = 0; i < 3; i++) pool.failed(0, 'refused');
    c.advance(200);
    for (let i = 0; i < 3; i++) pool.failed(1, 'refused');
    expect(pool.pick()).toEqual({ kind: 'down', until: NOW + 1_000 });
    c.advance(800);
    expect(pool.pick()).toEqual({ kind: 'use', index: 0 });
    // While a's probe is in flight and b is still cooling down, callers wait rather than stop.
    expect(pool.pick().kind).toBe('wait');
  });

  it('sets a replica aside at once when asked (unreachable at connect time)', () => {
    const pool = new ReplicaPool(['a', 'b'], rules, clock().now);
    pool.setAside(1, 'connection refused');
    expect(pool.status()[1]).toMatchObject({ state: 'set-aside', failures: 1 });
    expect(pool.pick()).toEqual({ kind: 'use', index: 0 });
  });

  it('needs at least one URL', () => {
    expect(() => new ReplicaPool([], rules, clock().now)).toThrow(/at least one base URL/);
  });
});

describe('effectiveConcurrency', () => {
  it('caps at 6 connections per origin on HTTP/1.1; several ports count as several origins', () => {
    expect(effectiveConcurrency(8, ['http://gpu:8000/v1'])).toEqual({
      effective: 6,
      connectionCap: 6,
      origins: 1,
    });
    expect(effectiveConcurrency(4, ['http://gpu:8000/v1']).effective).toBe(4);
    expect(effectiveConcurrency(16, ['http://gpu:8000/v1', 'http://gpu:8001/v1']).effective).toBe(
      12,
    );
    // Two paths on one origin share its 6 connections.
    expect(effectiveConcurrency(16, ['http://gpu:8000/a/v1', 'http://gpu:8000/b/v1'])).toEqual({
      effective: 6,
      connectionCap: 6,
      origins: 1,
    });
    expect(effectiveConcurrency(64, ['http://a/v1', 'http://b/v1', 'http://c/v1']).effective).toBe(
      18,
    );
  });
});
