import { svelte } from '@sveltejs/vite-plugin-svelte';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Plugin } from 'vite';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Cross-origin isolation lets wllama use threads (SharedArrayBuffer). Static hosts must send
 * the same two headers; see README "Hosting".
 */
const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/** Files above this size are cached when first used rather than on install (engine chunks, wasm). */
const PRECACHE_MAX_BYTES = 1_500_000;

/**
 * Emits dist/sw.js from src/sw-template.js with the app shell's files listed for precaching:
 * a few lines instead of a PWA framework, and no runtime dependency.
 */
function offlinePlugin(): Plugin {
  return {
    name: 'specalign-offline',
    apply: 'build',
    generateBundle(_options, bundle) {
      const files = Object.values(bundle)
        .filter((f) => (f.type === 'chunk' ? f.code.length : f.source.length) <= PRECACHE_MAX_BYTES)
        .map((f) => `./${f.fileName}`)
        .filter((f) => !f.endsWith('.map'));
      const precache = ['./', './favicon.svg', './example-spec.md', ...files];
      const version = createHash('sha256').update(precache.join('\n')).digest('hex').slice(0, 12);
      const template = readFileSync(new URL('./src/sw-template.js', import.meta.url), 'utf8');
      this.emitFile({
        type: 'asset',
        fileName: 'sw.js',
        source: template
          .replace('__VERSION__', version)
          .replace('__PRECACHE__', JSON.stringify(precache, null, 2)),
      });
    },
  };
}

export default defineConfig({
  plugins: [svelte(), offlinePlugin()],
  resolve: {
    alias: { $lib: fileURLToPath(new URL('./src/lib', import.meta.url)) },
  },
  server: { headers: isolationHeaders },
  preview: { headers: isolationHeaders },
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 8000,
  },
  optimizeDeps: {
    exclude: ['@wllama/wllama', '@mlc-ai/web-llm'],
    // Pre-bundle what the worker imports lazily, or the dev server reloads the page on first use.
    include: ['dexie', 'comlink', 'zod', 'diff', 'mammoth/mammoth.browser.js', 'pdfjs-dist'],
  },
  test: {
    include: ['tests/unit/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
  },
});
