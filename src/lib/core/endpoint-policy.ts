/**
 * How requests to an OpenAI-compatible endpoint with several replicas (base URLs serving the same
 * model) are spread, retried and held back: the policy, without any I/O. The endpoint engine
 * (`engines/openai-engine.ts`) asks it which replica to use, how long to wait, and reports each
 * outcome; time and randomness are injected so tests drive it exactly.
 *
 * - **Replica choice**: the replica with the fewest requests in flight; ties go to the one picked
 *   least recently, so equal replicas take turns.
 * - **Back-pressure** (HTTP 429, 503): the replica is held until its `Retry-After` (seconds or an
 *   HTTP date), else for a jittered exponential backoff. It never counts as a failure: a busy
 *   server is healthy, and a task is never failed by back-pressure alone.
 * - **Failures** (no connection, a proxy's 502/504): retried with jittered exponential backoff.
 *   After {@link SetAsideRules.failuresToSetAside} failures in a row a replica is set aside for a
 *   cool-down that doubles each time it is set aside again (capped). When the cool-down ends one
 *   request probes it ("half-open"): success brings it back, failure sets it aside again.
 * - When every replica is set aside, {@link ReplicaPool.pick} says so with the time of the next
 *   probe: the caller stops (a run pauses) instead of spinning.
 */

/** Delays between retries. */
export interface BackoffSchedule {
  /** First backoff, ms; doubled per attempt. */
  baseMs: number;
  /** Longest backoff, ms. */
  maxMs: number;
  /** Jitter added on top of a server's Retry-After, as a fraction of it (spreads a herd). */
  retryAfterJitter: number;
  /** Longest Retry-After honoured, ms: a server asking for an hour is waited on in steps. */
  maxRetryAfterMs: number;
}

/** When a failing replica is set aside, and for how long. */
export interface SetAsideRules {
  /** Failures in a row that set a replica aside. */
  failuresToSetAside: number;
  /** First cool-down, ms; doubled each time the replica is set aside again in a row. */
  coolDownMs: number;
  /** Longest cool-down, ms. */
  maxCoolDownMs: number;
}

export interface EndpointPolicy {
  backoff: BackoffSchedule;
  setAside: SetAsideRules;
}

export const DEFAULT_ENDPOINT_POLICY: EndpointPolicy = {
  backoff: { baseMs: 500, maxMs: 30_000, retryAfterJitter: 0.2, maxRetryAfterMs: 300_000 },
  setAside: { failuresToSetAside: 3, coolDownMs: 5_000, maxCoolDownMs: 120_000 },
};

/** A uniform number in [0, 1) (`Math.random` or a seeded source). */
export type Random = () => number;

/**
 * Milliseconds a `Retry-After` header asks to wait: delay-seconds (`120`) or an HTTP date
 * (`Wed, 21 Oct 2026 07:28:00 GMT`, relative to `nowMs`). A date in the past is 0; a missing or
 * unreadable value is undefined (the caller falls back to backoff).
 */
export function parseRetryAfter(
  value: string | null | undefined,
  nowMs: number,
): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Fractional seconds are not in the standard but some proxies send them.
  if (/^\d*\.\d+$/.test(text)) return Math.round(Number(text) * 1000);
  // Only something that looks like an HTTP date: Date.parse accepts far too much.
  if (!/[a-z]{3}/i.test(text) || !/\d{1,2}:\d{2}/.test(text)) return undefined;
  const at = Date.parse(text);
  if (!Number.isFinite(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/**
 * Jittered exponential backoff for retry number `attempt` (0-based): "equal jitter", a uniform
 * delay in [e/2, e] with e = min(maxMs, baseMs × 2^attempt), so retries spread out but never
 * come back at once.
 */
export function backoffDelay(attempt: number, random: Random, schedule: BackoffSchedule): number {
  const exp = Math.min(schedule.maxMs, schedule.baseMs * 2 ** Math.max(0, attempt));
  return exp / 2 + random() * (exp / 2);
}

/**
 * The wait before retrying after back-pressure (429/503). A server's `Retry-After` is a floor, never
 * undercut, with up to `retryAfterJitter` of it added so requests throttled together do not return
 * together; the exponential backoff still applies when it is longer (a server that keeps saying
 * "1 s" is asked less and less often).
 */
export function throttleDelay(
  attempt: number,
  retryAfterMs: number | undefined,
  random: Random,
  schedule: BackoffSchedule,
): number {
  const backoff = backoffDelay(attempt, random, schedule);
  if (retryAfterMs === undefined) return backoff;
  const floor = Math.min(Math.max(0, retryAfterMs), schedule.maxRetryAfterMs);
  return Math.max(floor + random() * floor * schedule.retryAfterJitter, backoff);
}

/** A replica's state as the Models screen shows it. */
export type ReplicaState = 'ready' | 'throttled' | 'set-aside' | 'probing';

/** Plain data about one replica (crosses the worker boundary). */
export interface ReplicaStatus {
  url: string;
  state: ReplicaState;
  inFlight: number;
  /** Failures in a row (reset by any answer). */
  failures: number;
  /** Until when it is throttled or set aside (epoch ms). */
  until?: number;
  /** The last failure's message. */
  lastError?: string;
}

/** What {@link ReplicaPool.pick} decides. */
export type ReplicaPick =
  | { kind: 'use'; index: number }
  /** No replica can take a request now; one can at `until` (throttled or probe in flight). */
  | { kind: 'wait'; until: number }
  /** Every replica is set aside; the first probe is possible at `until`. */
  | { kind: 'down'; until: number };

interface Replica {
  url: string;
  inFlight: number;
  failures: number;
  /** Times set aside in a row: sets the next cool-down. */
  setAsideCount: number;
  setAsideUntil: number;
  throttledUntil: number;
  lastPicked: number;
  lastError?: string;
}

/** The replicas of one endpoint and their health; see the module comment. */
export class ReplicaPool {
  readonly #replicas: Replica[];
  readonly #rules: SetAsideRules;
  readonly #now: () => number;
  #picks = 0;

  constructor(urls: readonly string[], rules: SetAsideRules, now: () => number) {
    if (urls.length === 0) throw new Error('An endpoint needs at least one base URL.');
    this.#replicas = urls.map((url) => ({
      url,
      inFlight: 0,
      failures: 0,
      setAsideCount: 0,
      setAsideUntil: 0,
      throttledUntil: 0,
      lastPicked: 0,
    }));
    this.#rules = rules;
    this.#now = now;
  }

  get size(): number {
    return this.#replicas.length;
  }

  url(index: number): string {
    return this.#at(index).url;
  }

  /**
   * Chooses a replica for the next request and counts it in flight ({@link finish} ends it).
   * A replica whose cool-down ended takes one probe request at a time.
   */
  pick(): ReplicaPick {
    const now = this.#now();
    let best: Replica | undefined;
    let bestIndex = -1;
    this.#replicas.forEach((r, i) => {
      if (this.#stateOf(r, now) !== 'ready' && !this.#probeFree(r, now)) return;
      if (
        !best ||
        r.inFlight < best.inFlight ||
        (r.inFlight === best.inFlight && r.lastPicked < best.lastPicked)
      ) {
        best = r;
        bestIndex = i;
      }
    });
    if (best) {
      const chosen: Replica = best;
      chosen.lastPicked = ++this.#picks;
      chosen.inFlight++;
      return { kind: 'use', index: bestIndex };
    }
    const live = this.#replicas.filter((r) => r.setAsideUntil <= now);
    if (live.length) {
      // Throttled replicas free up at their time; a probe in flight decides soon: look again then.
      const until = Math.min(
        ...live.map((r) =>
          r.throttledUntil > now ? r.throttledUntil : now + this.#rules.coolDownMs / 10,
        ),
      );
      return { kind: 'wait', until };
    }
    return { kind: 'down', until: Math.min(...this.#replicas.map((r) => r.setAsideUntil)) };
  }

  /** The request on `index` ended (however it ended). */
  finish(index: number): void {
    const r = this.#at(index);
    r.inFlight = Math.max(0, r.inFlight - 1);
  }

  /** The replica answered (any HTTP reply that is not back-pressure or a proxy's failure). */
  succeeded(index: number): void {
    const r = this.#at(index);
    r.failures = 0;
    r.setAsideCount = 0;
    r.setAsideUntil = 0;
    delete r.lastError;
  }

  /** The replica asked to be left alone until `until` (429/503): not a failure. */
  throttled(index: number, until: number): void {
    const r = this.#at(index);
    r.throttledUntil = Math.max(r.throttledUntil, until);
  }

  /**
   * The replica failed (no connection, proxy error). Sets it aside after enough failures in a
   * row, or at once when it was being probed; a failure while already set aside (a request sent
   * before) changes nothing. Returns true when it was set aside now.
   */
  failed(index: number, message: string): boolean {
    const r = this.#at(index);
    const now = this.#now();
    r.failures++;
    r.lastError = message;
    // Requests sent before it was set aside fail too: they do not lengthen its cool-down.
    if (r.setAsideUntil > now) return false;
    const probing = r.setAsideCount > 0;
    if (!probing && r.failures < this.#rules.failuresToSetAside) return false;
    this.#setAside(r, now);
    return true;
  }

  /** Sets a replica aside at once (e.g. unreachable when the endpoint was connected). */
  setAside(index: number, message: string): void {
    const r = this.#at(index);
    r.failures = Math.max(r.failures, 1);
    r.lastError = message;
    this.#setAside(r, this.#now());
  }

  /** Every replica's state, in configuration order. */
  status(): ReplicaStatus[] {
    const now = this.#now();
    return this.#replicas.map((r) => {
      const state = this.#stateOf(r, now);
      const until =
        state === 'set-aside'
          ? r.setAsideUntil
          : state === 'throttled'
            ? r.throttledUntil
            : undefined;
      return {
        url: r.url,
        state,
        inFlight: r.inFlight,
        failures: r.failures,
        ...(until !== undefined ? { until } : {}),
        ...(r.lastError !== undefined ? { lastError: r.lastError } : {}),
      };
    });
  }

  #setAside(r: Replica, now: number): void {
    const { coolDownMs, maxCoolDownMs } = this.#rules;
    r.setAsideUntil = now + Math.min(maxCoolDownMs, coolDownMs * 2 ** r.setAsideCount);
    r.setAsideCount++;
  }

  #stateOf(r: Replica, now: number): ReplicaState {
    if (r.setAsideUntil > now) return 'set-aside';
    if (r.setAsideCount > 0) return 'probing';
    if (r.throttledUntil > now) return 'throttled';
    return 'ready';
  }

  /** A replica out of its cool-down takes one probe at a time (and none while throttled). */
  #probeFree(r: Replica, now: number): boolean {
    return this.#stateOf(r, now) === 'probing' && r.inFlight === 0 && r.throttledUntil <= now;
  }

  #at(index: number): Replica {
    const r = this.#replicas[index];
    if (!r) throw new RangeError(`No replica ${index}.`);
    return r;
  }
}

/** Browsers open at most this many HTTP/1.1 connections to one origin (scheme, host, port). */
export const BROWSER_CONNECTIONS_PER_ORIGIN = 6;

/**
 * Requests an endpoint can really have in flight from a browser over HTTP/1.1: the concurrency
 * setting, capped at {@link BROWSER_CONNECTIONS_PER_ORIGIN} per distinct origin among the
 * replicas (several ports of one host count separately). HTTP/2 multiplexes one connection and
 * lifts the cap.
 */
export function effectiveConcurrency(
  setting: number,
  replicaUrls: readonly string[],
): { effective: number; connectionCap: number; origins: number } {
  const origins = new Set(
    replicaUrls.map((url) => {
      try {
        return new URL(url).origin;
      } catch {
        return url;
      }
    }),
  ).size;
  const connectionCap = BROWSER_CONNECTIONS_PER_ORIGIN * Math.max(1, origins);
  return { effective: Math.max(1, Math.min(setting, connectionCap)), connectionCap, origins };
}
