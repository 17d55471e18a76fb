import { defineConfig } from '@playwright/test';
import { existsSync } from 'node:fs';

const chromium =
  [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
    (p) => p && existsSync(p),
  ) ?? '/usr/bin/chromium';

/** E2E_DEV=1 runs against the dev server (no build); the default tests the production build. */
const dev = process.env.E2E_DEV === '1';
const port = Number(process.env.E2E_PORT ?? 4173);

export const chromiumArgs = [
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export default defineConfig({
  testDir: 'tests/e2e',
  timeout: 120_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    launchOptions: { executablePath: chromium, args: chromiumArgs },
    trace: 'retain-on-failure',
  },
  projects: [
    { name: 'chromium', testIgnore: /webgpu-swiftshader/ },
    {
      // SwiftShader's software WebGPU adapter: fallback, no shader-f16.
      name: 'chromium-webgpu',
      testMatch: /webgpu-swiftshader/,
      use: {
        launchOptions: {
          executablePath: chromium,
          args: [...chromiumArgs, '--enable-unsafe-webgpu'],
        },
      },
    },
  ],
  webServer: {
    command: dev
      ? `npx vite --port ${port} --strictPort --host 127.0.0.1`
      : `npx vite preview --port ${port} --strictPort --host 127.0.0.1`,
    url: `http://127.0.0.1:${port}`,
    reuseExistingServer: false,
    timeout: 60_000,
  },
});
