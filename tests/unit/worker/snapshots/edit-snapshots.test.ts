import { closeTestDbs, openTestDb } from '../../../helpers/db';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { SpecAlignDb } from '$lib/db/database';
import type { WorkerApi } from '$lib/worker/api';
import { editResolvers, noteEditsOf } from '$lib/worker/snapshots/edit-snapshots';

afterEach(closeTestDbs);

/** One rule, instance and pair of project p1 (only the fields the resolvers read matter). */
async function seed(db: SpecAlignDb): Promise<void> {
  const row = { projectId: 'p1' } as never;
  await db.rules.add({ ...(row as object), id: 'rule-1' } as never);
  await db.instances.add({ ...(row as object), id: 'inst-1' } as never);
  await db.pairs.add({ ...(row as object), id: 'pair-1' } as never);
}

/** An API whose editing calls record their arguments; `splitRule` deletes its rule, as the real one does. */
function fakeApi(db: SpecAlignDb, calls: string[]): WorkerApi {
  const record =
    (name: string) =>
    async (...args: unknown[]) => {
      calls.push(`${name}(${JSON.stringify(args)})`);
      return name === 'decidePairs' ? { changed: 1, batchId: 'b1' } : undefined;
    };
  const names = [
    'importSpec',
    'renameProject',
    'setRuleStatus',
    'updateRule',
    'addRule',
    'mergeRules',
    'setInstancePinned',
    'setPairStatus',
    'editPairText',
    'decidePairs',
    'undoBulkDecision',
  ];
  const api = Object.fromEntries(names.map((n) => [n, record(n)])) as Record<string, unknown>;
  api.splitRule = async (id: string) => {
    await db.rules.delete(id);
    return ['rule-2', 'rule-3'];
  };
  api.setProjectModels = async () => {
    throw new Error('refused');
  };
  return api as unknown as WorkerApi;
}

async function setUp() {
  const db = await openTestDb();
  await seed(db);
  const calls: string[] = [];
  const noted: string[] = [];
  const api = fakeApi(db, calls);
  noteEditsOf(
    api,
    editResolvers(db, (batchId) => (batchId === 'b1' ? 'pair-1' : undefined)),
    (p) => noted.push(p),
  );
  return { api, calls, noted };
}

describe('edits schedule a snapshot of the project they changed', () => {
  it('resolves edits addressed by rule, instance, pair and bulk decision to their project', async () => {
    const { api, calls, noted } = await setUp();
    await api.setRuleStatus(['rule-1'], 'accepted');
    await api.updateRule('rule-1', { statement: 'x' } as never);
    await api.mergeRules(['rule-1']);
    await api.setInstancePinned('inst-1', true);
    await api.setPairStatus(['pair-1'], 'accepted');
    await api.editPairText('pair-1', 'chosen', 'better');
    await api.decidePairs({ ids: ['pair-1'], status: 'accepted' });
    await api.undoBulkDecision('b1');
    await api.addRule({ projectId: 'p2' } as never, {} as never);
    await api.renameProject('p3', 'New name');
    expect(noted).toEqual(['p1', 'p1', 'p1', 'p1', 'p1', 'p1', 'p1', 'p1', 'p2', 'p3']);
    // The calls themselves went through unchanged.
    expect(calls[0]).toBe('setRuleStatus([["rule-1"],"accepted"])');
    expect(calls).toHaveLength(10);
  });

  it('finds the project of a rule that the edit deletes (split)', async () => {
    const { api, noted } = await setUp();
    expect(await api.splitRule('rule-1', ['a', 'b'])).toEqual(['rule-2', 'rule-3']);
    expect(noted).toEqual(['p1']);
  });

  it('notes nothing for a failed edit and passes its error on', async () => {
    const { api, noted } = await setUp();
    await expect(api.setProjectModels('p1', {} as never)).rejects.toThrow('refused');
    expect(noted).toEqual([]);
  });

  it('still makes an edit whose record is unknown, without a snapshot', async () => {
    const { api, calls, noted } = await setUp();
    await api.setPairStatus(['missing'], 'accepted');
    await api.undoBulkDecision('forgotten');
    expect(calls).toHaveLength(2);
    expect(noted).toEqual([]);
  });

  it('covers every call of the editing API that changes a project', () => {
    const source = readFileSync('src/lib/worker/api.ts', 'utf8');
    const body = /export interface EditApi \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? '';
    const calls = [...body.matchAll(/^ {2}(\w+)\(/gm)].map((m) => m[1]);
    expect(calls.length).toBeGreaterThan(10);
    // Creating and deleting a project have no project to save; a key and a count change none.
    const unsaved = ['createProject', 'deleteProject', 'putApiKey', 'countBulkDecision'];
    const resolved = Object.keys(editResolvers({} as SpecAlignDb, () => undefined));
    expect(calls.filter((c) => !unsaved.includes(c!) && !resolved.includes(c!))).toEqual([]);
  });
});
