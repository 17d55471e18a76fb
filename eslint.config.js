import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import ts from 'typescript-eslint';
import svelteConfig from './svelte.config.js';

/*
 * The one-writer rule (ARCHITECTURE.md): the worker is the database's single writer. These
 * selectors catch Dexie writes — `db.<table>.put(…)`, `getDb().<table>.add(…)`,
 * `db.table('x').clear()`, `….where(…).modify(…)` — anywhere else in src/.
 */
const WRITE_METHODS =
  '/^(put|add|update|delete|bulkAdd|bulkPut|bulkDelete|bulkUpdate|clear|modify)$/';
const COLLECTION_STEPS =
  '/^(where|equals|equalsIgnoreCase|between|above|aboveOrEqual|below|belowOrEqual|anyOf|noneOf|startsWith|startsWithAnyOf|inAnyRange|filter|and|or|limit|offset|reverse|until|distinct|toCollection|orderBy)$/';
const writeMessage =
  'Only the worker writes the database: add a method to WorkerApi (src/lib/worker/api.ts) and call it through pipeline().';
export const dexieWriteSelectors = [
  // db.<table>.put(…) / database.<table>.put(…)
  `CallExpression[callee.property.name=${WRITE_METHODS}][callee.object.type='MemberExpression'][callee.object.object.name=/^(db|database)$/]`,
  // getDb().<table>.put(…)
  `CallExpression[callee.property.name=${WRITE_METHODS}][callee.object.type='MemberExpression'][callee.object.object.callee.name='getDb']`,
  // db.table('x').put(…)
  `CallExpression[callee.property.name=${WRITE_METHODS}][callee.object.type='CallExpression'][callee.object.callee.property.name='table']`,
  // db.<table>.where(…).equals(…).delete() / .modify(…)
  `CallExpression[callee.property.name=${WRITE_METHODS}][callee.object.type='CallExpression'][callee.object.callee.property.name=${COLLECTION_STEPS}]`,
].map((selector) => ({ selector, message: writeMessage }));

/** Engine packages are ~6 MB: only engines/ may import them, and only the worker imports engines/. */
const ENGINE_PACKAGES = { group: ['@mlc-ai/*', '@wllama/*'] };

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
      'no-restricted-imports': ['error', { patterns: [ENGINE_PACKAGES] }],
    },
  },
  {
    // The UI reads (db/queries.ts, liveQuery) and sends every change through the worker.
    files: ['src/**/*.ts', 'src/**/*.svelte'],
    ignores: ['src/lib/worker/**', 'src/lib/db/**'],
    rules: {
      'no-restricted-syntax': ['error', ...dexieWriteSelectors],
    },
  },
  {
    // Path-based boundaries for the UI: `$lib/…` and relative paths alike. Type imports are fine.
    files: ['src/lib/components/**', 'src/lib/state/**', 'src/*.ts', 'src/*.svelte'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ENGINE_PACKAGES,
            {
              regex:
                '(^\\$lib|^\\.\\.?)(/.*)?/db/(projects|rules|pairs|settings|project-file|schema)$',
              allowTypeImports: true,
              message:
                'Components and state do not write the database: read with $lib/db/queries and change through pipeline() (WorkerApi).',
            },
            {
              regex: '(^\\$lib|^\\.\\.?)(/.*)?/engines(/.*)?$',
              allowTypeImports: true,
              message: 'Engines load only in the worker: call them through pipeline() (WorkerApi).',
            },
          ],
        },
      ],
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
            {
              group: ['dexie', 'svelte', 'svelte/*', 'comlink', '@mlc-ai/*', '@wllama/*'],
            },
            {
              // Any depth of relative path (../../db/x), not only one level up.
              regex: '^(\\$lib|\\.\\.?)(/.*)?/(db|engines|worker|components|state)(/.*)?$',
              message:
                'core/ is the method in pure TypeScript: it must not import db, engines, worker or UI code.',
            },
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
