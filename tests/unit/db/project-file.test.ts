import { closeTestDbs, openTestDb } from '../../helpers/db';
import Dexie from 'dexie';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvalidFileError } from '$lib/core/errors';
import type { SpecAlignDb } from '$lib/db/database';
import {
  exportProjectFile,
  importProjectFile,
  PROJECT_FILE_FORMAT,
  PROJECT_FILE_VERSION,
  projectFileName,
} from '$lib/db/project-file';
import { deleteProject } from '$lib/db/projects';
import { PROJECT_TABLES, SCHEMA_VERSIONS } from '$lib/db/schema';
import { putApiKey } from '$lib/db/settings';
import {
  buildProjectRows,
  countAllRows,
  readProjectRows,
  seedProject,
  type ProjectRows,
  type ProjectTableName,
} from '../../helpers/project-rows';

afterEach(closeTestDbs);

type Row = Record<string, unknown>;
type Dump = Record<ProjectTableName, Row[]>;

async function roundTrip(db: SpecAlignDb, projectId: string) {
  const blob = await exportProjectFile(db, projectId);
  return importProjectFile(db, blob);
}

const jsonFile = (value: unknown) =>
  new Blob([typeof value === 'string' ? value : JSON.stringify(value)], {
    type: 'application/json',
  });

/**
 * Pairs each original row with its imported copy by content that does not depend on ids, and
 * returns old id → new id (section ids included).
 */
function matchIds(
  original: ProjectRows,
  imported: Dump,
  newProjectId: string,
): Map<string, string> {
  const map = new Map<string, string>([[original.project.id, newProjectId]]);
  const naturalKey = (table: ProjectTableName, row: Row, versionOf: Map<unknown, unknown>) => {
    switch (table) {
      case 'specVersions':
        return `v${String(row.versionNumber)}`;
      case 'sections':
        return `v${String(versionOf.get(row.specVersionId))}#${String(row.anchor)}`;
      case 'specExamples':
        return `v${String(versionOf.get(row.specVersionId))}/${String(row.order)}`;
      case 'rules':
        return String(row.statement);
      case 'instances':
        return String(row.index);
      case 'runs':
        return String(row.kind);
      case 'tasks':
        return String(row.key);
      case 'pairs':
        return String(row.chosen);
      case 'evaluations':
        return String(row.createdAt);
    }
  };
  const versions = (rows: Row[]) => new Map(rows.map((r) => [r.id, r.versionNumber]));
  const oldVersions = versions(original.specVersions as unknown as Row[]);
  const newVersions = versions(imported.specVersions);
  for (const table of PROJECT_TABLES) {
    const byKey = new Map(imported[table].map((r) => [naturalKey(table, r, newVersions), r]));
    expect(byKey.size, `${table}: natural keys must be unique`).toBe(imported[table].length);
    for (const row of original[table] as unknown as Row[]) {
      const copy = byKey.get(naturalKey(table, row, oldVersions));
      expect(copy, `${table}: no imported copy of ${String(row.id)}`).toBeDefined();
      map.set(String(row.id), String(copy!.id));
    }
  }
  return map;
}

/** Replaces ids (and `${id}#anchor` ids) in a value through `map`: "equal modulo ids". */
function remapIds(value: unknown, map: Map<string, string>): unknown {
  if (typeof value === 'string') {
    if (map.has(value)) return map.get(value);
    const [prefix, ...rest] = value.split('#');
    if (rest.length && map.has(prefix!)) return `${map.get(prefix!)}#${rest.join('#')}`;
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => remapIds(v, map));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, remapIds(v, map)]));
  }
  return value;
}

/** Checks that every reference in an imported project points at a row of that project. */
function expectConsistentReferences(rows: Dump, projectId: string): void {
  const ids = (table: ProjectTableName) => new Set(rows[table].map((r) => r.id));
  const specVersions = ids('specVersions');
  const rules = ids('rules');
  const instances = ids('instances');
  const runs = ids('runs');
  const sectionKeys = new Set(
    rows.sections.map((s) => `${String(s.specVersionId)}#${String(s.anchor)}`),
  );
  const expectIn = (set: Set<unknown>, value: unknown, what: string) =>
    expect(set.has(value), `${what} = ${String(value)} points outside the project`).toBe(true);

  for (const table of PROJECT_TABLES) {
    for (const row of rows[table]) expect(row.projectId, `${table}.projectId`).toBe(projectId);
  }
  for (const v of rows.specVersions) {
    if (v.previousVersionId !== undefined)
      expectIn(specVersions, v.previousVersionId, 'previousVersionId');
  }
  for (const s of rows.sections) {
    expectIn(specVersions, s.specVersionId, 'section.specVersionId');
    expect(s.id).toBe(`${String(s.specVersionId)}#${String(s.anchor)}`);
  }
  for (const e of rows.specExamples) {
    expectIn(specVersions, e.specVersionId, 'example.specVersionId');
    expectIn(
      sectionKeys,
      `${String(e.specVersionId)}#${String(e.sectionAnchor)}`,
      'example section',
    );
  }
  for (const r of rows.rules) {
    expectIn(specVersions, r.specVersionId, 'rule.specVersionId');
    expectIn(sectionKeys, `${String(r.specVersionId)}#${String(r.sectionAnchor)}`, 'rule section');
  }
  for (const i of rows.instances) {
    expectIn(specVersions, i.specVersionId, 'instance.specVersionId');
    for (const id of i.ruleIds as string[]) expectIn(rules, id, 'instance.ruleIds');
  }
  for (const run of rows.runs) {
    const config = run.config as { specVersionId?: string; instanceIds?: string[] };
    if (config.specVersionId)
      expectIn(specVersions, config.specVersionId, 'run.config.specVersionId');
    for (const id of config.instanceIds ?? []) expectIn(instances, id, 'run.config.instanceIds');
  }
  for (const t of rows.tasks) {
    expectIn(runs, t.runId, 'task.runId');
    const state = t.state as { instanceId?: string; ruleId?: string } | undefined;
    if (state?.instanceId) expectIn(instances, state.instanceId, 'task.state.instanceId');
    if (state?.ruleId) expectIn(rules, state.ruleId, 'task.state.ruleId');
  }
  for (const p of rows.pairs) {
    expectIn(runs, p.runId, 'pair.runId');
    expectIn(instances, p.instanceId, 'pair.instanceId');
    for (const id of p.ruleIds as string[]) expectIn(rules, id, 'pair.ruleIds');
  }
  for (const e of rows.evaluations) {
    expectIn(runs, e.runId, 'evaluation.runId');
    const perRule = (e.results as { perRule?: { ruleId: string }[] }).perRule ?? [];
    for (const r of perRule) expectIn(rules, r.ruleId, 'evaluation.results.perRule.ruleId');
  }
}

function allIds(rows: Dump): string[] {
  return PROJECT_TABLES.flatMap((t) => rows[t].map((r) => String(r.id)));
}

describe('project file export', () => {
  it('writes a versioned JSON document with the project and every project table', async () => {
    const db = await openTestDb();
    const original = await seedProject(db);
    const blob = await exportProjectFile(db, original.project.id);
    expect(blob.type).toBe('application/json');
    const file = JSON.parse(await blob.text()) as Record<string, unknown>;
    expect(file).toMatchObject({
      format: PROJECT_FILE_FORMAT,
      formatVersion: PROJECT_FILE_VERSION,
      schemaVersion: SCHEMA_VERSIONS.at(-1)!.version,
      project: original.project,
    });
    expect(Number.isNaN(Date.parse(file.exportedAt as string))).toBe(false);
    const tables = file.tables as Record<string, Row[]>;
    expect(Object.keys(tables).sort()).toEqual([...PROJECT_TABLES].sort());
    for (const table of PROJECT_TABLES) {
      const byId = (a: Row, b: Row) => String(a.id).localeCompare(String(b.id));
      expect(tables[table]!.sort(byId), table).toEqual(
        [...(original[table] as unknown as Row[])].sort(byId),
      );
    }
  });

  it('exports only the rows of the chosen project', async () => {
    const db = await openTestDb();
    const mine = await seedProject(db, buildProjectRows('Mine'));
    const other = await seedProject(db, buildProjectRows('Other'));
    const text = await (await exportProjectFile(db, mine.project.id)).text();
    for (const id of [other.project.id, ...other.rules.map((r) => r.id)]) {
      expect(text).not.toContain(id);
    }
  });

  it('exports a project without rows as valid JSON with empty tables', async () => {
    const db = await openTestDb();
    const { project } = buildProjectRows('Empty');
    await db.projects.add(project);
    const file = JSON.parse(await (await exportProjectFile(db, project.id)).text()) as {
      tables: Record<string, unknown[]>;
    };
    for (const table of PROJECT_TABLES) expect(file.tables[table], table).toEqual([]);
  });

  it('reads the project as of one moment, even while a run checkpoints', async () => {
    const db = await openTestDb();
    const rows = await seedProject(db, buildProjectRows('Busy'));
    const run = rows.runs[0]!;
    const task = rows.tasks.find((t) => t.runId === run.id)!;
    // A checkpoint (the task ends and the run counts it, in one transaction) begins just as the
    // export turns to the tasks table, after it read the runs.
    let checkpoint: Promise<unknown> | undefined;
    let armed = true;
    const table = db.table.bind(db);
    vi.spyOn(db, 'table').mockImplementation((name: string) => {
      if (name === 'tasks' && armed) {
        armed = false;
        // Outside the export's zone, as the executor's checkpoints are.
        checkpoint = Dexie.ignoreTransaction(() =>
          db.transaction('rw', db.runs, db.tasks, async () => {
            await db.tasks.update(task.id, { status: 'failed' });
            await db.runs.update(run.id, { progress: { ...run.progress, failed: 99 } });
          }),
        );
      }
      return table(name);
    });
    const file = await exportProjectFile(db, rows.project.id);
    expect(checkpoint).toBeDefined();
    await checkpoint;
    const dump = JSON.parse(await file.text()) as { tables: Dump };
    const exportedRun = dump.tables.runs.find((r) => r.id === run.id) as unknown as typeof run;
    const exportedTask = dump.tables.tasks.find((t) => t.id === task.id) as unknown as typeof task;
    const after = exportedRun.progress.failed === 99;
    expect(exportedTask.status === 'failed').toBe(after);
  });

  it('says so when the project no longer exists', async () => {
    const db = await openTestDb();
    await expect(exportProjectFile(db, 'missing-id')).rejects.toThrow(
      'That project no longer exists.',
    );
  });

  it('never writes an API key: not from settings, not planted in any row', async () => {
    const db = await openTestDb();
    const rows = buildProjectRows();
    await putApiKey(db, 'http://localhost:11434/v1', 'sk-SETTINGS-SECRET-111');
    // Planted where a careless engine config or run config might carry one.
    const judge = rows.project.roleModels!.safetyJudge!;
    Object.assign(judge, { apiKey: 'sk-PLANTED-SECRET-222' });
    rows.runs[0]!.config = {
      ...(rows.runs[0]!.config as object),
      endpoint: {
        baseUrl: 'http://localhost:11434/v1',
        api_key: 'sk-PLANTED-SECRET-333',
        headers: { Authorization: 'Bearer sk-PLANTED-SECRET-444' },
      },
    };
    Object.assign(rows.pairs[0]!.provenance, { token: 'sk-PLANTED-SECRET-555' });
    await seedProject(db, rows);

    const text = await (await exportProjectFile(db, rows.project.id)).text();
    expect(text).not.toMatch(/SECRET/);
    expect(text).not.toMatch(/"api_?key"/i);
    expect(text).not.toContain('secret:apiKey');
    // Scrubbing removes only the secret fields, not their neighbours.
    const file = JSON.parse(text) as { project: typeof rows.project; tables: Dump };
    expect(file.project.roleModels?.safetyJudge).toEqual({
      kind: 'openai',
      baseUrl: 'http://localhost:11434/v1',
      model: 'llama3.2',
    });
    const run = file.tables.runs.find((r) => r.id === rows.runs[0]!.id)!;
    expect(run.config).toMatchObject({
      endpoint: { baseUrl: 'http://localhost:11434/v1', headers: {} },
    });
    // The database itself is untouched by the export.
    expect((await db.projects.get(rows.project.id))?.roleModels?.safetyJudge).toHaveProperty(
      'apiKey',
      'sk-PLANTED-SECRET-222',
    );
  });
});

describe('project file import', () => {
  it('round-trips a project into a NEW project with fresh ids and the same content', async () => {
    const db = await openTestDb();
    const original = await seedProject(db);
    const originalDump = await readProjectRows(db, original.project.id);

    const before = Date.now();
    const { projectId, name } = await roundTrip(db, original.project.id);

    expect(projectId).not.toBe(original.project.id);
    expect(name).toBe(original.project.name);
    const project = await db.projects.get(projectId);
    expect(project).toEqual({ ...original.project, id: projectId, updatedAt: project!.updatedAt });
    expect(project!.updatedAt).toBeGreaterThanOrEqual(before);

    const imported = await readProjectRows(db, projectId);
    for (const table of PROJECT_TABLES) {
      expect(imported[table].length, table).toBe(original[table].length);
    }
    // Every id is fresh.
    const oldIds = new Set(allIds(originalDump));
    for (const id of allIds(imported)) expect(oldIds.has(id), `reused id ${id}`).toBe(false);

    // Content equals the original once ids are mapped.
    const map = matchIds(original, imported, projectId);
    expect(new Set(map.values()).size, 'two rows mapped to one').toBe(map.size);
    for (const table of PROJECT_TABLES) {
      const expected = (original[table] as unknown as Row[]).map((r) => remapIds(r, map) as Row);
      const byId = (a: Row, b: Row) => String(a.id).localeCompare(String(b.id));
      expect(imported[table], table).toEqual(expected.sort(byId));
    }
  });

  it('rewires every reference to rows of the imported project', async () => {
    const db = await openTestDb();
    const original = await seedProject(db);
    const { projectId } = await roundTrip(db, original.project.id);
    const imported = await readProjectRows(db, projectId);
    expectConsistentReferences(imported, projectId);
    // Sanity: the checker accepts the original and rejects a mix of the two.
    const originalRows = await readProjectRows(db, original.project.id);
    expectConsistentReferences(originalRows, original.project.id);
    const mixed = {
      ...imported,
      pairs: imported.pairs.map((p) => ({ ...p, instanceId: originalRows.instances[0]!.id })),
    };
    expect(() => expectConsistentReferences(mixed, projectId)).toThrow(/pair.instanceId/);
    expect(imported.sections.every((s) => String(s.id).includes('#'))).toBe(true);
  });

  it('leaves the source project exactly as it was', async () => {
    const db = await openTestDb();
    const original = await seedProject(db);
    const before = await readProjectRows(db, original.project.id);
    await roundTrip(db, original.project.id);
    await expect(db.projects.get(original.project.id)).resolves.toEqual(original.project);
    await expect(readProjectRows(db, original.project.id)).resolves.toEqual(before);
  });

  it('imports the same file twice as two independent projects', async () => {
    const db = await openTestDb();
    const original = await seedProject(db);
    const blob = await exportProjectFile(db, original.project.id);
    const first = await importProjectFile(db, blob);
    const second = await importProjectFile(db, blob);
    expect(new Set([original.project.id, first.projectId, second.projectId]).size).toBe(3);

    const a = await readProjectRows(db, first.projectId);
    const b = await readProjectRows(db, second.projectId);
    const idsA = new Set(allIds(a));
    for (const id of allIds(b)) expect(idsA.has(id), `shared id ${id}`).toBe(false);
    expectConsistentReferences(a, first.projectId);
    expectConsistentReferences(b, second.projectId);

    // Deleting one import leaves the other (and the original) whole.
    await deleteProject(db, first.projectId);
    await expect(readProjectRows(db, second.projectId)).resolves.toEqual(b);
    expect((await readProjectRows(db, original.project.id)).rules).toHaveLength(2);
    expect(await db.projects.count()).toBe(3 - 1);
  });

  it('also rewrites rule ids used as object keys (a per-rule results map)', async () => {
    // METHOD.md §5 reports evaluation results per rule; a map keyed by rule id is the natural
    // shape for Evaluation.results. Its keys are references too.
    const db = await openTestDb();
    const rows = buildProjectRows();
    const [r0, r1] = rows.rules.map((r) => r.id);
    rows.evaluations[0]!.results = { byRule: { [r0!]: 1, [r1!]: 0 } };
    await seedProject(db, rows);
    const { projectId } = await roundTrip(db, rows.project.id);
    const imported = await readProjectRows(db, projectId);
    const ruleIds = new Set(imported.rules.map((r) => r.id));
    const byRule = (imported.evaluations[0]!.results as { byRule: Record<string, number> }).byRule;
    expect(Object.keys(byRule)).toHaveLength(2);
    for (const key of Object.keys(byRule)) {
      expect(ruleIds.has(key), `results.byRule key ${key} is not a rule of the import`).toBe(true);
    }
  });

  describe('rejects a malformed file with InvalidFileError and adds no rows', () => {
    async function validFile(db: SpecAlignDb): Promise<Record<string, unknown>> {
      const { project } = await seedProject(db);
      return JSON.parse(await (await exportProjectFile(db, project.id)).text()) as Record<
        string,
        unknown
      >;
    }

    const cases: [string, (file: Record<string, unknown>) => unknown, RegExp][] = [
      ['not JSON', () => '{"format": specalign-project }', /it is not valid JSON/],
      [
        'a truncated file',
        () => '{"format": "specalign-project", ',
        /ends early \(truncated at byte 32\): it is not a complete project file/,
      ],
      ['not an object', () => '[1, 2, 3]', /not a SpecAlign project file/],
      [
        'a wrong format marker',
        (f) => ({ ...f, format: 'some-other-app' }),
        /its format is "some-other-app", expected "specalign-project"/,
      ],
      [
        'no project',
        (f) => {
          const { project: _project, ...rest } = f;
          return rest;
        },
        /damaged and was not imported: project: missing \(expected an object\)/,
      ],
      [
        'a project without a name',
        (f) => ({ ...f, project: { id: 'p1' } }),
        /project\.name: missing \(expected a string\)/,
      ],
      [
        'a table that is not an array',
        (f) => ({ ...f, tables: { ...(f.tables as object), rules: { id: 'r1' } } }),
        /tables\.rules: expected a list, got an object/,
      ],
      [
        'a row without an id',
        (f) => {
          const tables = f.tables as Dump;
          return { ...f, tables: { ...tables, rules: [{ ...tables.rules[0], id: undefined }] } };
        },
        /tables\.rules\[0\]\.id: missing/,
      ],
      [
        'a row with an empty id',
        (f) => {
          const tables = f.tables as Dump;
          return { ...f, tables: { ...tables, pairs: [{ ...tables.pairs[0], id: '' }] } };
        },
        /tables\.pairs\[0\]\.id: expected a non-empty string/,
      ],
      [
        'a table that is not a project table (settings could carry secrets)',
        (f) => ({
          ...f,
          tables: { ...(f.tables as object), settings: [{ id: 'x', key: 'secret:apiKey:x' }] },
        }),
        /tables: unexpected "settings"/,
      ],
      [
        'a future formatVersion',
        (f) => ({ ...f, formatVersion: PROJECT_FILE_VERSION + 1 }),
        /format version 2 is newer than this app reads \(version 1\)/,
      ],
    ];

    const withRow = (f: Record<string, unknown>, table: ProjectTableName, patch: Row) => {
      const tables = f.tables as Dump;
      const rows = [...tables[table]];
      rows[0] = { ...rows[0], ...patch };
      return { ...f, tables: { ...tables, [table]: rows } };
    };
    cases.push(
      [
        'a spec text that is a number (the "t.text.slice is not a function" file)',
        (f) => withRow(f, 'specVersions', { text: 42 }),
        /tables\.specVersions\[0\]\.text: expected a string, got a number/,
      ],
      [
        'a rule statement that is a list',
        (f) => withRow(f, 'rules', { statement: ['x'] }),
        /tables\.rules\[0\]\.statement: expected a string, got a list/,
      ],
      [
        'a pair status outside its set',
        (f) => withRow(f, 'pairs', { status: 'maybe' }),
        /tables\.pairs\[0\]\.status: expected "pending" or "accepted" or "rejected" or "flagged", got "maybe"/,
      ],
      [
        'a pair prompt message without content',
        (f) => withRow(f, 'pairs', { prompt: [{ role: 'user' }] }),
        /tables\.pairs\[0\]\.prompt\[0\]\.content: missing \(expected a string\)/,
      ],
      [
        'a future database schema version',
        (f) => ({ ...f, schemaVersion: 99 }),
        /database schema version 99 is newer than this app reads/,
      ],
      [
        'a section of a spec version that is not in the file',
        (f) => withRow(f, 'sections', { specVersionId: 'nowhere' }),
        /tables\.sections\[0\]\.specVersionId points at spec version "nowhere", which is not in the file/,
      ],
      [
        'a task of a run that is not in the file',
        (f) => withRow(f, 'tasks', { runId: 'gone' }),
        /tables\.tasks\[0\]\.runId points at run "gone"/,
      ],
    );

    it.each(cases)('%s', async (_label, corrupt, message) => {
      const db = await openTestDb();
      const file = await validFile(db);
      const rowsBefore = await countAllRows(db);
      const error = await importProjectFile(db, jsonFile(corrupt(file))).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidFileError);
      expect((error as Error).message).toMatch(message);
      expect(await countAllRows(db)).toBe(rowsBefore);
    });

    it('a real export cut short anywhere: a truncation message naming the byte', async () => {
      const db = await openTestDb();
      const text = JSON.stringify(await validFile(db));
      const rowsBefore = await countAllRows(db);
      for (const cut of [1, 100, Math.floor(text.length / 2), text.length - 1]) {
        const error = await importProjectFile(db, jsonFile(text.slice(0, cut))).catch(
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(InvalidFileError);
        expect((error as Error).message).toMatch(/ends early \(truncated at byte [\d,]+\)/);
      }
      expect(await countAllRows(db)).toBe(rowsBefore);
    });

    it('an empty file', async () => {
      const db = await openTestDb();
      await expect(importProjectFile(db, new Blob([]))).rejects.toThrow(/The file is empty/);
      expect(await countAllRows(db)).toBe(0);
    });
  });

  it('imports a project whose task and pair share an id (as synthesis makes them), keeping them linked', async () => {
    const db = await openTestDb();
    const rows = buildProjectRows();
    const shared = `${rows.runs[0]!.id}:shared-key`;
    rows.tasks[0]!.id = shared;
    rows.pairs[0]!.id = shared;
    await seedProject(db, rows);
    const { projectId } = await roundTrip(db, rows.project.id);
    const tasks = await db.tasks.where('projectId').equals(projectId).toArray();
    const pairs = await db.pairs.where('projectId').equals(projectId).toArray();
    const linked = tasks.filter((t) => pairs.some((p) => p.id === t.id));
    expect(linked).toHaveLength(1);
    // A run's derived ids follow its new id, so a resumed run finds (and redoes none of) them.
    const runs = await db.runs.where('projectId').equals(projectId).primaryKeys();
    expect(runs).not.toContain(rows.runs[0]!.id);
    expect(linked[0]!.id).toMatch(/^[^:]+:shared-key$/);
    expect(runs).toContain(linked[0]!.id.split(':')[0]);
  });

  it('reports duplicate row ids as a damaged file and adds nothing', async () => {
    const db = await openTestDb();
    const { project } = await seedProject(db);
    const file = JSON.parse(await (await exportProjectFile(db, project.id)).text()) as {
      tables: Dump;
    };
    const evaluations = file.tables.evaluations;
    file.tables.evaluations = [...evaluations, { ...evaluations[0]!, createdAt: 1 }];
    const rowsBefore = await countAllRows(db);
    const error = await importProjectFile(db, jsonFile(file)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidFileError);
    expect((error as Error).message).toMatch(
      /tables\.evaluations\[1\]\.id: the id .* is already used at tables\.evaluations\[0\]\.id/,
    );
    expect(await countAllRows(db)).toBe(rowsBefore);
  });

  it('is atomic: a write that fails midway leaves no rows behind', async () => {
    const db = await openTestDb();
    const { project } = await seedProject(db);
    const blob = await exportProjectFile(db, project.id);
    const rowsBefore = await countAllRows(db);
    // The last table's write fails after the project row and every other table were added.
    const evaluations = db.table('evaluations');
    const spy = vi
      .spyOn(evaluations, 'bulkAdd')
      .mockRejectedValue(Object.assign(new Error('disk on fire'), { name: 'UnknownError' }));
    const error = await importProjectFile(db, blob).catch((e: unknown) => e);
    spy.mockRestore();
    // IndexedDB's UnknownError is its backing store failing (a full or failing disk).
    expect((error as Error).message).toMatch(/storage is full/);
    expect(await countAllRows(db)).toBe(rowsBefore);
    expect(await db.projects.count()).toBe(1);
  });
});

describe('projectFileName', () => {
  it('slugs the project name', () => {
    expect(projectFileName({ name: 'Support bot policy' })).toBe(
      'support-bot-policy.specalign.json',
    );
    expect(projectFileName({ name: '  Rules: v2 (draft)!  ' })).toBe(
      'rules-v2-draft.specalign.json',
    );
  });

  it('falls back to "project" when nothing usable is left', () => {
    expect(projectFileName({ name: '***' })).toBe('project.specalign.json');
    expect(projectFileName({ name: '' })).toBe('project.specalign.json');
  });
});
