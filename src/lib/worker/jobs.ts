/**
 * Cancellable jobs: an AbortSignal cannot cross postMessage, so the UI names each job with an id
 * and calls `cancel(id)`; the worker keeps the matching AbortController here.
 */
export class JobRegistry {
  #controllers = new Map<string, AbortController>();

  /** Runs `work` with a signal that `cancel(jobId)` aborts. */
  async run<T>(jobId: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    this.#controllers.get(jobId)?.abort();
    const controller = new AbortController();
    this.#controllers.set(jobId, controller);
    try {
      return await work(controller.signal);
    } finally {
      if (this.#controllers.get(jobId) === controller) this.#controllers.delete(jobId);
    }
  }

  cancel(jobId: string): boolean {
    const controller = this.#controllers.get(jobId);
    controller?.abort();
    return Boolean(controller);
  }

  get active(): string[] {
    return [...this.#controllers.keys()];
  }
}
