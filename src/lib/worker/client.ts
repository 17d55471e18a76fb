/**
 * The UI's handle on the pipeline worker. One worker per page; the first call starts it.
 */
import * as Comlink from 'comlink';
import type { ProgressCallback, WorkerApi } from './api';

let remote: Comlink.Remote<WorkerApi> | undefined;

export function pipeline(): Comlink.Remote<WorkerApi> {
  if (!remote) {
    const worker = new Worker(new URL('./pipeline.worker.ts', import.meta.url), {
      type: 'module',
      name: 'specalign-pipeline',
    });
    remote = Comlink.wrap<WorkerApi>(worker);
  }
  return remote;
}

/** Wraps a progress callback so it can cross to the worker. */
export function progressProxy<T = Parameters<ProgressCallback>[0]>(
  callback: (progress: T) => void,
): (progress: T) => void {
  return Comlink.proxy(callback);
}

/** A fresh job id for a cancellable call. */
export function newJobId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID()}`;
}
