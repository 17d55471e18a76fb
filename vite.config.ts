import { svelte } from '@sveltejs/vite-plugin-svelte';
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

export default defineConfig({
  plugins: [svelte()],
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
