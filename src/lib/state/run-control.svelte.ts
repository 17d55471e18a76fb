import { errorMessage } from '$lib/core/errors';
import type { Run } from '$lib/core/records';
import type { RunProgress } from '$lib/worker/runs/types';
import { pipeline, progressProxy } from '$lib/worker/client';

/**
 * One run as the UI drives it: start or resume in this tab's worker, live progress while it
 * runs here, pause and cancel. The stored Run row (read live) says what happened elsewhere.
 */
export class RunControl {
  #progress = $state.raw<RunProgress | undefined>();
  #startedAt = $state(0);
  #error = $state<string | undefined>();
  #busy = $state(false);
  /** Runs this control started or resumed: never auto-resume those (their stored row may lag). */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a memo, not state: nothing renders it
  #handled = new Set<string>();

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
      return undefined;
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Resumes, once, a run left "running" by a closed tab or a reload: the user asked for it and
   * the tab went away. A run this control already started, or paused, is left alone.
   */
  resumeIfInterrupted(run: Pick<Run, 'id' | 'status'> | undefined): void {
    if (run?.status === 'running' && !this.#busy && !this.#handled.has(run.id)) {
      void this.start(run.id);
    }
  }

  async stop(runId: string, mode: 'pause' | 'cancel'): Promise<void> {
    await pipeline().stopRun(runId, mode);
  }

  /** The fraction done, from live progress or the stored run. */
  static fraction(run: Pick<Run, 'progress'> | RunProgress | undefined): number {
    if (!run) return 0;
    const p = 'progress' in run ? run.progress : run;
    return p.total > 0 ? (p.done + p.failed) / p.total : 0;
  }
}
