import { liveQuery } from 'dexie';
import { errorMessage } from '$lib/core/errors';

/** Least time between two worker computations while the signal keeps changing. */
export const STATS_MIN_INTERVAL_MS = 1000;
/**
 * Between computations the worker gets at least this many times the last one's duration for
 * its own work: a slow pass (100k pairs) during a run must not starve the run.
 */
const IDLE_FACTOR = 4;

/**
 * Statistics computed in the worker, kept live without loading rows on the UI thread: a cheap
 * Dexie liveQuery (`signal`: index counts, one small row) notices writes, and each change of its
 * value asks the worker (`compute`) again — at most once per `minIntervalMs` (longer after a slow
 * computation), never two at once,
 * and always once more after the last change, so the figures end up current. `key` (project,
 * run) is read reactively; when it changes the old figures are dropped.
 */
export class WorkerStats<T, K, S = unknown> {
  #value = $state.raw<T | undefined>(undefined);
  #signal = $state.raw<S | undefined>(undefined);
  #error = $state<string | undefined>(undefined);

  constructor(
    key: () => K,
    signal: (key: K) => Promise<S>,
    compute: (key: K) => Promise<T>,
    minIntervalMs = STATS_MIN_INTERVAL_MS,
  ) {
    $effect(() => {
      const k = key();
      this.#value = undefined;
      this.#signal = undefined;
      let disposed = false;
      let running = false;
      let dirty = false;
      let lastStart = -Infinity;
      let lastDuration = 0;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let lastSignal: string | undefined;

      const run = async () => {
        if (disposed) return;
        if (running) {
          dirty = true;
          return;
        }
        running = true;
        dirty = false;
        lastStart = performance.now();
        try {
          const v = await compute(k);
          if (!disposed) {
            this.#value = v;
            this.#error = undefined;
          }
        } catch (e) {
          if (!disposed) this.#error = errorMessage(e);
        } finally {
          lastDuration = performance.now() - lastStart;
          running = false;
          if (dirty) schedule();
        }
      };
      const schedule = () => {
        if (disposed || timer !== undefined) return;
        const gap = Math.max(minIntervalMs, lastDuration * (1 + IDLE_FACTOR));
        const wait = Math.max(0, lastStart + gap - performance.now());
        timer = setTimeout(() => {
          timer = undefined;
          void run();
        }, wait);
      };
      const sub = liveQuery(() => signal(k)).subscribe({
        next: (v) => {
          this.#signal = v;
          // liveQuery re-emits on any write to the ranges it read; only a new value matters.
          const s = JSON.stringify(v);
          if (s === lastSignal) return;
          lastSignal = s;
          schedule();
        },
        error: (e: unknown) => (this.#error = errorMessage(e)),
      });
      return () => {
        disposed = true;
        clearTimeout(timer);
        sub.unsubscribe();
      };
    });
  }

  /** The latest figures; undefined until the first computation for the current key. */
  get current(): T | undefined {
    return this.#value;
  }

  /** The signal's latest value: live index counts, current before the worker's figures are. */
  get signal(): S | undefined {
    return this.#signal;
  }

  /** Why the last computation failed, if it did. */
  get error(): string | undefined {
    return this.#error;
  }
}
