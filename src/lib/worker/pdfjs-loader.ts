/**
 * pdf.js for the pipeline worker: the modern build with its parser in a nested dedicated worker
 * (`GlobalWorkerOptions.workerPort`), pdf.js's supported set-up. Importing `pdf.worker.mjs`
 * in-thread instead would register it on this worker's `self` and post a stray message to the
 * page. Loaded once, and only when a PDF is imported.
 */
import type { PdfjsLike } from '$lib/core/spec/pdf';

let loading: Promise<PdfjsLike> | undefined;

export function loadBrowserPdfjs(): Promise<PdfjsLike> {
  loading ??= (async () => {
    const pdfjs = await import('pdfjs-dist');
    if (!pdfjs.GlobalWorkerOptions.workerPort) {
      if (typeof Worker === 'function') {
        const { default: PdfjsWorker } = await import('pdfjs-dist/build/pdf.worker.mjs?worker');
        pdfjs.GlobalWorkerOptions.workerPort = new PdfjsWorker({ name: 'pdfjs' });
      } else {
        // No nested workers here: parse in-thread (comlink ignores the stray message).
        await import('pdfjs-dist/build/pdf.worker.mjs');
      }
    }
    return pdfjs as unknown as PdfjsLike;
  })();
  loading.catch(() => (loading = undefined));
  return loading;
}
