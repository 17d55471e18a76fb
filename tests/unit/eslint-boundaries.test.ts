/**
 * The architecture's boundaries are enforced by ESLint (eslint.config.js). This runs the real
 * config on small sources placed at paths in src/ and checks each violation is reported, so a
 * config change cannot silently switch a boundary off.
 */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

/** The ids of the boundary rules reported for `code` as if it lived at `filePath`. */
async function boundaryErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  const fatal = result?.messages.filter((m) => m.fatal) ?? [];
  if (fatal.length) throw new Error(fatal.map((m) => m.message).join('\n'));
  return (result?.messages ?? [])
    .map((m) => m.ruleId ?? '')
    .filter((id) => id === 'no-restricted-syntax' || id === 'no-restricted-imports');
}

const COMPONENT = 'src/lib/components/review/fixture.ts';
const STATE = 'src/lib/state/fixture.ts';
const CORE = 'src/lib/core/review/fixture.ts';
const WORKER = 'src/lib/worker/fixture.ts';

describe('ESLint: only the worker writes the database', () => {
  it.each([
    ['getDb().<table>.update', `getDb().pairs.update('x', { status: 'accepted' });`],
    ['db.<table>.bulkPut', `db.rules.bulkPut([]);`],
    ['db.<table>.add', `db.projects.add({});`],
    ['db.<table>.delete', `db.projects.delete('x');`],
    ['db.table(name).clear', `db.table('pairs').clear();`],
    ['collection.modify', `db.pairs.where('projectId').equals('p').modify({});`],
    ['collection.delete', `db.pairs.where('projectId').equals('p').delete();`],
  ])('reports %s in components and state', async (_label, statement) => {
    const code = `declare const db: any;\ndeclare function getDb(): any;\n${statement}\nexport {};\n`;
    expect(await boundaryErrors(COMPONENT, code)).toEqual(['no-restricted-syntax']);
    expect(await boundaryErrors(STATE, code)).toEqual(['no-restricted-syntax']);
  });

  it('allows the same writes in the worker, and reads and Set/Map writes in the UI', async () => {
    const write = `declare const db: any;\ndb.pairs.put({});\nexport {};\n`;
    expect(await boundaryErrors(WORKER, write)).toEqual([]);
    const ui = [
      'declare const db: any;',
      'const seen = new Set<string>();',
      'const byId = new Map<string, number>();',
      "seen.add('a');",
      "seen.delete('a');",
      "byId.delete('a');",
      "void db.pairs.where('projectId').equals('p').count();",
      'export {};',
    ].join('\n');
    expect(await boundaryErrors(COMPONENT, ui)).toEqual([]);
  });

  it.each([
    `import { setPairStatus } from '$lib/db/pairs';`,
    `import { setPairStatus } from '../../db/pairs';`,
    `import { createProject } from '$lib/db/projects';`,
    `import { putApiKey } from '../db/settings';`,
    `import { addRule } from '$lib/db/rules';`,
  ])('reports a db write helper import from the UI: %s', async (line) => {
    const code = `${line}\nexport const used = [${line.match(/\{ (\w+) \}/)?.[1]}];\n`;
    expect(await boundaryErrors(COMPONENT, code)).toEqual(['no-restricted-imports']);
    expect(await boundaryErrors(STATE, code)).toEqual(['no-restricted-imports']);
  });

  it('allows type imports of db modules and the read queries', async () => {
    const code = [
      `import type { RuleEdit } from '$lib/db/rules';`,
      `import { listProjects } from '$lib/db/queries';`,
      `export const used: [RuleEdit | undefined, typeof listProjects] = [undefined, listProjects];`,
    ].join('\n');
    expect(await boundaryErrors(COMPONENT, code)).toEqual([]);
  });
});

describe('ESLint: engines only in the worker, core stays pure', () => {
  it.each([
    `import { loadEngine } from '$lib/engines';`,
    `import { loadEngine } from '../../engines/index';`,
  ])('reports an engines import from the UI: %s', async (line) => {
    const code = `${line}\nexport const used = loadEngine;\n`;
    expect(await boundaryErrors(COMPONENT, code)).toEqual(['no-restricted-imports']);
    expect(await boundaryErrors(STATE, code)).toEqual(['no-restricted-imports']);
  });

  it.each([
    `import { getDb } from '../../db/database';`,
    `import { getDb } from '../db/database';`,
    `import { getDb } from '$lib/db/database';`,
    `import { getDb } from '../../worker/api';`,
    `import { getDb } from '../../../lib/engines/index';`,
  ])('reports a db, worker or engines import from core: %s', async (line) => {
    const code = `${line}\nexport const used = getDb;\n`;
    expect(await boundaryErrors(CORE, code)).toEqual(['no-restricted-imports']);
  });

  it('allows core to import core', async () => {
    const code = `import { sha } from '../text';\nimport { x } from './facets';\nexport const used = [sha, x];\n`;
    expect(await boundaryErrors(CORE, code)).toEqual([]);
  });
});

describe('db/queries.ts', () => {
  it('holds only reads: none of the write selectors matches it', async () => {
    // The config exempts db/ (it holds the write helpers the worker calls); check queries.ts alone.
    const { dexieWriteSelectors } = await import('../../eslint.config.js');
    const strict = new ESLint({
      cwd: process.cwd(),
      overrideConfig: { rules: { 'no-restricted-syntax': ['error', ...dexieWriteSelectors] } },
    });
    const [result] = await strict.lintFiles(['src/lib/db/queries.ts']);
    expect(result?.messages.filter((m) => m.ruleId === 'no-restricted-syntax')).toEqual([]);
    // And the selectors do see this file's shape of code: a write added to it would be caught.
    const [probe] = await strict.lintText(
      `declare const db: any;\nexport const x = () => db.pairs.put({});\n`,
      { filePath: 'src/lib/db/queries.ts' },
    );
    expect(probe?.messages.map((m) => m.ruleId)).toContain('no-restricted-syntax');
  });
});
