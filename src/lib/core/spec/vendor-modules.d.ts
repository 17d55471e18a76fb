/**
 * Types for the vendor entry points the ingestion code imports by file path; their packages only
 * type the main entry.
 */

/** pdf.js's worker module; importing it registers `globalThis.pdfjsWorker` (see pdf.ts). */
declare module 'pdfjs-dist/build/pdf.worker.mjs' {
  export const WorkerMessageHandler: unknown;
}

/**
 * mammoth's self-contained browser bundle (JSZip and an XML parser included, no Node built-ins),
 * used in the worker and in Node tests alike; same API as the `mammoth` package.
 */
declare module 'mammoth/mammoth.browser.js' {
  import mammoth from 'mammoth';
  export default mammoth;
}
