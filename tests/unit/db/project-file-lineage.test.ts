/**
 * Rule lineage in project files (issue 11 §1): lineages travel with the file and follow the id
 * remapping of an import; files from before lineages get one per rule; a file that claims a
 * schema with lineages but lacks them, or cites rules and lineages out of step, is refused.
 */
import { closeTestDbs, openTestDb } from '../../helpers/db';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidFileError } from '$lib/core/errors';
import type { PreferencePair, Rule, SpecInstance } from '$lib/core/records';
import { exportProjectFile, importProjectFile } from '$lib/db/project-file';
import { buildProjectRows, seedProject, withoutLineages } from '../../helpers/project-rows';

afterEach(closeTestDbs);

type FileJson = { schemaVersion: number; tables: Record<string, Record<string, unknown>[]> };

async function exported(rows = buildProjectRows()): Promise<FileJson> {
  const db = await openTestDb();
  await seedProject(db, rows);
  return JSON.parse(await (await exportProjectFile(db, rows.project.id)).text()) as FileJson;
}

const blob = (file: FileJson) => new Blob([JSON.stringify(file)]);

async function importedRows(file: FileJson) {
  const db = await openTestDb();
  const { projectId } = await importProjectFile(db, blob(file));
  const [rules, instances, pairs] = await Promise.all([
    db.rules.where('projectId').equals(projectId).toArray(),
    db.instances.where('projectId').equals(projectId).toArray(),
    db.pairs.where('projectId').equals(projectId).toArray(),
  ]);
  return { rules, instances, pairs };
}

function expectConsistent(rules: Rule[], cites: (SpecInstance | PreferencePair)[]) {
  const lineage = new Map(rules.map((r) => [r.id, r.lineageId]));
  for (const row of cites) {
    expect(row.lineageIds).toBeDefined();
    expect(row.lineageIds).toEqual(row.ruleIds.map((id) => lineage.get(id)));
  }
}

describe('lineage in project files', () => {
  it('carries lineages through an import with fresh ids, still pointing at the same rules', async () => {
    const rows = buildProjectRows();
    // A second-version rule that carried over the first rule's lineage.
    const carried: Rule = {
      ...rows.rules[0]!,
      id: 'carried-rule',
      lineageId: rows.rules[0]!.id,
      previousRuleId: rows.rules[0]!.id,
    };
    rows.rules.push(carried);
    const file = await exported(rows);
    const { rules, instances, pairs } = await importedRows(file);
    expect(rules).toHaveLength(3);
    const copy = rules.find((r) => r.previousRuleId !== undefined)!;
    const origin = rules.find((r) => r.id === copy.previousRuleId)!;
    expect(origin).toBeDefined();
    expect(origin.id).not.toBe(rows.rules[0]!.id); // fresh ids…
    expect(copy.lineageId).toBe(origin.id); // …and the lineage followed them
    expect(origin.lineageId).toBe(origin.id);
    expectConsistent(rules, [...instances, ...pairs]);
  });

  it('gives each rule of a pre-lineage file (schema v2) its own lineage', async () => {
    const file = await exported(withoutLineages(buildProjectRows()));
    file.schemaVersion = 2;
    expect(file.tables.rules!.every((r) => r.lineageId === undefined)).toBe(true);
    const { rules, instances, pairs } = await importedRows(file);
    for (const r of rules) expect(r.lineageId).toBe(r.id);
    expectConsistent(rules, [...instances, ...pairs]);
  });

  it('refuses a schema v3 file whose rule has no lineage, naming the row', async () => {
    const file = await exported();
    delete file.tables.rules![1]!.lineageId;
    const db = await openTestDb();
    const attempt = importProjectFile(db, blob(file));
    await expect(attempt).rejects.toThrow(InvalidFileError);
    await expect(attempt).rejects.toThrow(/tables\.rules\[1\]\.lineageId is missing/);
    expect(await db.projects.count()).toBe(0);
  });

  it('refuses lineage ids out of step with rule ids', async () => {
    const file = await exported();
    file.tables.pairs![0]!.lineageIds = ['a', 'b'];
    const db = await openTestDb();
    await expect(importProjectFile(db, blob(file))).rejects.toThrow(
      /tables\.pairs\[0\]\.lineageIds has 2 entries for 1 rule ids/,
    );
  });
});
