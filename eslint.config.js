import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import ts from 'typescript-eslint';
import svelteConfig from './svelte.config.js';

export default ts.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'test-results/',
      'playwright-report/',
      'tests/fixtures/generated/',
    ],
  },
  js.configs.recommended,
  ...ts.configs.recommended,
  ...svelte.configs.recommended,
  {
    languageOptions: { globals: { ...globals.browser, ...globals.node, ...globals.worker } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: {
      parserOptions: {
        projectService: true,
        extraFileExtensions: ['.svelte'],
        parser: ts.parser,
        svelteConfig,
      },
    },
  },
  {
    // Engine packages are ~6 MB: only engines/ may import them, and only the worker imports engines/.
    files: ['src/**/*.ts', 'src/**/*.svelte'],
    ignores: ['src/lib/engines/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['@mlc-ai/*', '@wllama/*'] }],
    },
  },
  {
    // core/ is the method: pure TypeScript, no DOM, storage, UI or engine packages.
    files: ['src/lib/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            'dexie',
            'svelte',
            'svelte/*',
            'comlink',
            '@mlc-ai/*',
            '@wllama/*',
            '$lib/db/*',
            '$lib/engines/*',
            '$lib/worker/*',
            '../db/*',
            '../engines/*',
            '../worker/*',
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        'document',
        'window',
        'localStorage',
        'indexedDB',
        'navigator',
      ],
    },
  },
);
