/**
 * A clone must pass `npm test` on its own: nothing the app, its tests or its scripts read may
 * live outside the repository (our machines have a `../shared` folder a user's clone lacks).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const SCANNED = ['src', 'tests', 'scripts', '.ci'];
const SOURCE = /\.(ts|js|mjs|cjs|svelte|sh)$|^run$/;

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'generated' || name === 'model-spec') continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) yield* files(full);
    else if (SOURCE.test(name)) yield full;
  }
}

describe('the repository is self-contained', () => {
  it('no source, test or script refers to a folder beside the clone', () => {
    const offenders: string[] = [];
    const self = path.relative(root, import.meta.filename);
    for (const dir of SCANNED) {
      for (const file of files(path.join(root, dir))) {
        const rel = path.relative(root, file);
        if (rel === self) continue;
        const text = readFileSync(file, 'utf8');
        if (/\.\.\/shared\b|shared\/corpus|shared\/design/.test(text)) offenders.push(rel);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('the Model Spec fixtures the tests read are in the repository, with their licence', () => {
    const dir = path.join(root, 'tests/fixtures/model-spec');
    const names = readdirSync(dir);
    expect(names).toContain('openai-model-spec.LICENSE');
    expect(names.filter((n) => /^openai-model-spec-\d{4}-\d{2}-\d{2}\.md$/.test(n))).toHaveLength(
      5,
    );
    expect(readFileSync(path.join(dir, 'openai-model-spec.LICENSE'), 'utf8')).toMatch(/CC0/);
  });
});
