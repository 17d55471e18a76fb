import { closeTestDbs, openTestDb } from '../../helpers/db';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidFileError } from '$lib/core/errors';
import { serializeRulesFile } from '$lib/core/rules/rules-file';
import { createProject } from '$lib/db/projects';
import { importRulesFile } from '$lib/worker/rules-service';
import { makeRule } from '../core/evaluation/fixtures';

afterEach(closeTestDbs);

describe('importRulesFile', () => {
  it('adds the rules of a valid file to the version, with new ids', async () => {
    const db = await openTestDb();
    const { id: projectId } = await createProject(db, 'Rules');
    const text = serializeRulesFile([makeRule('a'), makeRule('b')]);
    const n = await importRulesFile(db, projectId, 'v2', new Blob([text]), 'rules.json');
    expect(n).toBe(2);
    const stored = await db.rules.where('projectId').equals(projectId).toArray();
    expect(stored.map((r) => [r.specVersionId, r.origin])).toEqual([
      ['v2', 'import'],
      ['v2', 'import'],
    ]);
    expect(stored.map((r) => r.id)).not.toContain('a');
  });

  it('refuses a malformed file with a message naming it, and changes nothing', async () => {
    const db = await openTestDb();
    const { id: projectId } = await createProject(db, 'Rules');
    await db.rules.add(makeRule('kept', { projectId }));
    const before = await db.rules.toArray();
    // One valid rule next to a broken one: neither may be added.
    const partly = JSON.parse(serializeRulesFile([makeRule('a'), makeRule('b')])) as {
      rules: Record<string, unknown>[];
    };
    delete partly.rules[1]?.statement;
    const cases: [string, RegExp][] = [
      ['', /^"bad\.json" is empty: it holds no rules\./],
      ['{"format": "specalign-rules", "rules": [', /^"bad\.json" is not a complete rules file/],
      ['{"format": "specalign-project"}', /^"bad\.json" is not a SpecAlign rules file/],
      [JSON.stringify(partly), /^"bad\.json" has invalid content: rules\[1\]\.statement/],
    ];
    for (const [text, message] of cases) {
      const error = await importRulesFile(db, projectId, 'v1', new Blob([text]), 'bad.json').catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InvalidFileError);
      expect((error as Error).message).toMatch(message);
    }
    expect(await db.rules.toArray()).toEqual(before);
  });
});
