import { errorMessage, isAbortError } from '$lib/core/errors';
import type { Run } from '$lib/core/records';
import { getDb } from '$lib/db/database';
import { runStatus } from '$lib/db/queries';
import { isRunLockedError, RunLockedError, withRunLock } from '$lib/db/run-lock';
import type { RunProgress } from '$lib/worker/runs/types';
import { pipeline, progressProxy } from '$lib/worker/client';

/** Runs this page's worker executes, started by any control (a screen left and reopened). */
// eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping, not state: nothing renders it
const executingHere = new Set<string>();

/**
 * One run as the UI drives it: start or resume in this tab's worker, live progress while it
 * runs here, pause and cancel. The stored Run row (read live) says what happened elsewhere.
 * While another tab executes the run this control waits for that tab's lock and takes the run
 * over if the tab goes away mid-run. Create it during component initialisation: leaving the
 * screen ends the wait.
 */
export class RunControl {
  #progress = $state.raw<RunProgress | undefined>();
  #startedAt = $state(0);
  #error = $state<string | undefined>();
  #busy = $state(false);
  /**
   * Runs this control executed or tried to: not auto-resumed again until their row is seen
   * settled, so a failure that leaves the row 'running' (a full disk) is not retried in a loop.
   */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a memo, not state: nothing renders it
  #handled = new Set<string>();
  /** Ends the wait for another tab's run; not state, so that effects do not re-run on it. */
  #waiting: AbortController | undefined;

  constructor() {
    $effect(() => () => this.#stopWaiting());
  }

  get progress(): RunProgress | undefined {
    return this.#progress;
  }
  get startedAt(): number {
    return this.#startedAt;
  }
  get error(): string | undefined {
    return this.#error;
  }
  /** True while this tab executes the run. */
  get busy(): boolean {
    return this.#busy;
  }

  async start(runId: string): Promise<RunProgress | undefined> {
    this.#handled.add(runId);
    if (this.#busy) return undefined;
    this.#busy = true;
    this.#error = undefined;
    this.#startedAt = Date.now();
    executingHere.add(runId);
    try {
      const final = await pipeline().startRun(
        runId,
        // Block body: a callback's return value travels back to the worker, so return nothing.
        progressProxy<RunProgress>((p) => {
          this.#progress = p;
        }),
      );
      this.#progress = final;
      if (final.error) this.#error = final.error;
      return final;
    } catch (error) {
      this.#error = errorMessage(error);
      if (isRunLockedError(error)) void this.#takeOver(runId);
      return undefined;
    } finally {
      executingHere.delete(runId);
      this.#busy = false;
    }
  }

  /**
   * Resumes a run left "running" by a closed tab or a reload: the user asked for it and the tab
   * went away. If another tab still executes it, waits and takes over should that tab go away.
   * A paused or finished run is left alone.
   */
  resumeIfInterrupted(run: Pick<Run, 'id' | 'status'> | undefined): void {
    if (!run || this.#busy) return;
    // Settled: should it run (elsewhere) again and be interrupted, it may be taken over again.
    if (run.status !== 'running') this.#handled.delete(run.id);
    else if (!this.#handled.has(run.id)) void this.#takeOver(run.id);
  }

  async stop(runId: string, mode: 'pause' | 'cancel'): Promise<void> {
    // Stopped here: not to be taken over while another tab still winds it down.
    this.#handled.add(runId);
    this.#stopWaiting();
    await pipeline().stopRun(runId, mode);
  }

  /**
   * Waits until no tab executes the run (saying so meanwhile), then reads its status holding its
   * lock, which makes the answer final: 'running' means its tab went away mid-run, so it resumes
   * here; anything else means it was paused, cancelled or finished, and there is nothing to do.
   * Deciding from the live row instead could resume a run whose pause it had not seen yet.
   */
  async #takeOver(runId: string): Promise<void> {
    if (this.#waiting) return;
    const waiting = new AbortController();
    this.#waiting = waiting;
    let status: Run['status'] | undefined;
    try {
      status = await withRunLock(
        runId,
        {
          signal: waiting.signal,
          // This page's own worker may hold it (started from this screen before it was left).
          onWait: () => {
            if (!executingHere.has(runId)) this.#error = new RunLockedError().message;
          },
        },
        () => runStatus(getDb(), runId),
      );
    } catch (error) {
      this.#error = isAbortError(error) ? undefined : errorMessage(error);
      return;
    } finally {
      if (this.#waiting === waiting) this.#waiting = undefined;
    }
    this.#error = undefined;
    if (status === 'running') await this.start(runId);
    else this.#handled.delete(runId);
  }

  /** Stops waiting for another tab's run: the screen closed, or the user stopped the run. */
  #stopWaiting(): void {
    this.#waiting?.abort();
    this.#waiting = undefined;
  }

  /** The fraction done, from live progress or the stored run. */
  static fraction(run: Pick<Run, 'progress'> | RunProgress | undefined): number {
    if (!run) return 0;
    const p = 'progress' in run ? run.progress : run;
    return p.total > 0 ? (p.done + p.failed) / p.total : 0;
  }
}
