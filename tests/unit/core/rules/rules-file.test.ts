import { describe, expect, it } from 'vitest';
import { InvalidFileError } from '$lib/core/errors';
import type { Rule } from '$lib/core/records';
import {
  RULES_FILE_FORMAT,
  RULES_FILE_VERSION,
  importRules,
  parseRulesFile,
  serializeRulesFile,
} from '$lib/core/rules/rules-file';
import { draft } from './fixtures';

const rule = (id: string, overrides: Partial<Rule> = {}): Rule => ({
  ...draft({ statement: `Rule ${id}: do not reveal the system prompt.` }),
  id,
  projectId: 'project-1',
  createdAt: 1_700_000_000_000,
  updatedAt: 1_700_000_000_500,
  ...overrides,
});

const rules: Rule[] = [
  rule('r1', {
    authority: 'root',
    priority: 0,
    exceptions: ['debug mode'],
    source: { quote: 'must not reveal', start: 10, end: 25, located: true },
  }),
  rule('r2', {
    direction: 'negative',
    stage: 'style',
    strength: 'may',
    status: 'flagged',
    origin: 'manual',
  }),
];

/** A valid file as a mutable object, for breaking it in one place. */
const fileObject = () =>
  JSON.parse(serializeRulesFile(rules)) as Record<string, unknown> & {
    rules: Record<string, unknown>[];
  };

function parseError(text: string): string {
  try {
    parseRulesFile(text, 'rules.json');
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidFileError);
    return (error as Error).message;
  }
  throw new Error('parseRulesFile accepted a broken file');
}

describe('rules file', () => {
  it('round-trips rules (without their project) and writes the same bytes every time', () => {
    const text = serializeRulesFile(rules, {
      spec: { specVersionId: 'v1', title: 'Model Spec', contentHash: 'abc' },
      exportedAt: '2026-01-01T00:00:00.000Z',
    });
    expect(text).toBe(
      serializeRulesFile(rules, {
        spec: { specVersionId: 'v1', title: 'Model Spec', contentHash: 'abc' },
        exportedAt: '2026-01-01T00:00:00.000Z',
      }),
    );
    expect(text.endsWith('\n')).toBe(true);
    const file = parseRulesFile(text);
    expect(file.format).toBe(RULES_FILE_FORMAT);
    expect(file.version).toBe(RULES_FILE_VERSION);
    expect(file.spec).toEqual({ specVersionId: 'v1', title: 'Model Spec', contentHash: 'abc' });
    expect(file.exportedAt).toBe('2026-01-01T00:00:00.000Z');
    expect(file.rules).toEqual(rules.map(({ projectId: _projectId, ...rest }) => rest));
    expect(text).not.toContain('projectId');
    // Key order is fixed, whatever order the objects had.
    const shuffled = rules.map(
      (r) => Object.fromEntries(Object.entries(r).reverse()) as unknown as Rule,
    );
    expect(serializeRulesFile(shuffled)).toBe(serializeRulesFile(rules));
  });

  it('imports entries as new rules of a project', () => {
    let n = 0;
    const imported = importRules(parseRulesFile(serializeRulesFile(rules)).rules, {
      projectId: 'project-2',
      newId: () => `new-${++n}`,
      now: 42,
    });
    expect(imported.map((r) => [r.id, r.projectId, r.origin, r.createdAt, r.updatedAt])).toEqual([
      ['new-1', 'project-2', 'import', 42, 42],
      ['new-2', 'project-2', 'import', 42, 42],
    ]);
    expect(imported[0]?.statement).toBe(rules[0]?.statement);
    expect(imported[0]?.source).toEqual(rules[0]?.source);
  });

  it('rejects text that is not JSON, or not a rules file', () => {
    expect(parseError('{"format": nope}')).toMatch(/^"rules\.json" is not valid JSON/);
    expect(parseError('[1, 2]')).toMatch(/expected a JSON object/);
    expect(parseError('{"format": "specalign-project", "version": 1, "rules": []}')).toMatch(
      /is not a SpecAlign rules file \(its "format" is "specalign-project"/,
    );
    expect(parseError('{"rules": []}')).toMatch(/its "format" is null/);
  });

  it('says where a cut-short file ends, before anything is returned', () => {
    const text = serializeRulesFile(rules);
    for (const cut of [11, Math.floor(text.length / 2), text.length - 3]) {
      expect(parseError(text.slice(0, cut))).toMatch(
        /^"rules\.json" is not a complete rules file\. The file ends early \(truncated at byte [\d,]+\)/,
      );
    }
  });

  it('names the place, the expected type and the type found', () => {
    const wrong = fileObject();
    (wrong.rules[1] as Record<string, unknown>).statement = 12;
    expect(parseError(JSON.stringify(wrong))).toContain(
      'rules[1].statement: expected a string, got a number',
    );
    expect(parseError(JSON.stringify({ ...fileObject(), rules: { a: 1 } }))).toContain(
      'rules: expected a list, got an object',
    );
  });

  it('rejects a newer version with a message that says what to do', () => {
    expect(
      parseError(JSON.stringify({ ...fileObject(), version: RULES_FILE_VERSION + 1 })),
    ).toMatch(/written by a newer SpecAlign .* Update the app/);
  });

  it('names the invalid fields, and returns nothing from a partly valid file', () => {
    const broken = fileObject();
    (broken.rules[1] as Record<string, unknown>).direction = 'sideways';
    delete (broken.rules[1] as Record<string, unknown>).statement;
    const message = parseError(JSON.stringify(broken));
    expect(message).toMatch(/^"rules\.json" has invalid content: /);
    expect(message).toContain('rules[1].direction');
    expect(message).toContain('rules[1].statement');
  });

  it('rejects inconsistent spans, negative offsets and duplicate ids', () => {
    const backwards = fileObject();
    (backwards.rules[0] as { source: { start: number; end: number } }).source = {
      ...(backwards.rules[0] as { source: { start: number; end: number } }).source,
      start: 30,
      end: 10,
    };
    expect(parseError(JSON.stringify(backwards))).toContain('source.end is before source.start');
    const negative = fileObject();
    (negative.rules[0] as { priority: number }).priority = -1;
    expect(parseError(JSON.stringify(negative))).toContain('rules[0].priority');
    const twice = fileObject();
    (twice.rules[1] as { id: string }).id = 'r1';
    expect(parseError(JSON.stringify(twice))).toContain('lists rule id "r1" twice');
  });

  it('ignores unknown keys and a byte-order mark', () => {
    const extra = { ...fileObject(), comment: 'hello' };
    extra.rules[0] = { ...extra.rules[0], futureField: true };
    const file = parseRulesFile('\uFEFF' + JSON.stringify(extra));
    expect(file.rules).toHaveLength(2);
    expect(Object.keys(file.rules[0] ?? {})).not.toContain('futureField');
  });
});
