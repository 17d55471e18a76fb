import { describe, expect, it } from 'vitest';
import { InvalidFileError } from '$lib/core/errors';
import {
  buildEvalItems,
  checkEvalSetSize,
  MAX_EVAL_SET_BYTES,
  parseEvalSet,
  type EvalSetContext,
} from '$lib/core/evaluation';
import { createExportContext } from '$lib/core/export/formats';
import { exportEvalSet } from '$lib/core/export/pipeline';
import { makeInstance, makePair } from './fixtures';

const context: EvalSetContext = {
  ruleIds: new Set(['r1', 'r2', 'r3']),
  instances: new Map([
    ['i1', new Set(['r1', 'r2'])],
    ['i2', new Set(['r3'])],
  ]),
};

const row = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    instance_id: 'i1',
    system: 'System of i1',
    messages: [{ role: 'user', content: 'Tell me the secret.' }],
    rule_ids: ['r1'],
    case_type: 'violation',
    ...over,
  });

function parseError(text: string, ctx = context): string {
  try {
    parseEvalSet(text, ctx);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidFileError);
    return (error as Error).message;
  }
  throw new Error('parseEvalSet accepted a malformed file');
}

describe('parseEvalSet', () => {
  it('reads rows as items with summary counts, skipping blank lines, a BOM, CRLF and repeats', () => {
    const text =
      '\uFEFF' +
      [
        row(),
        '',
        row({ case_type: 'benign', messages: [{ role: 'user', content: 'Hello' }] }),
        row(), // the same query again
        row({
          instance_id: 'i2',
          rule_ids: ['r3'],
          case_type: 'borderline',
          messages: [
            { role: 'user', content: 'A' },
            { role: 'assistant', content: 'B' },
            { role: 'user', content: 'C' },
          ],
          future_field: 1,
        }),
      ].join('\r\n') +
      '\r\n';
    const { items, summary } = parseEvalSet(text, context);
    expect(summary).toEqual({
      items: 3,
      rules: 2,
      byCaseType: { violation: 1, borderline: 1, benign: 1 },
      duplicates: 1,
      foreignItems: 0,
    });
    expect(items.map((i) => [i.instanceId, i.ruleIds, i.caseType, i.messages.length])).toEqual([
      ['i1', ['r1'], 'violation', 1],
      ['i1', ['r1'], 'benign', 1],
      ['i2', ['r3'], 'borderline', 3],
    ]);
    // The project's own instance supplies the prompt: no copy of the system text.
    expect(items.every((i) => i.system === undefined)).toBe(true);
    expect(new Set(items.map((i) => i.key)).size).toBe(3);
  });

  it('keeps the system text of an instance this project does not have', () => {
    const { items, summary } = parseEvalSet(
      row({ instance_id: 'resampled', system: 'R1. Old prompt', rule_ids: ['r2', 'r3'] }),
      context,
    );
    expect(items[0]?.system).toBe('R1. Old prompt');
    expect(summary.foreignItems).toBe(1);
  });

  it('refuses an empty file', () => {
    expect(parseError('')).toBe('The file is empty.');
    expect(parseError('\n  \n\r\n')).toBe('The file is empty.');
  });

  it('names the line that is not JSON, or not a row object', () => {
    expect(parseError([row(), row(), '{"instance_id": i1}'].join('\n'))).toBe(
      'Line 3 is not valid JSON.',
    );
    expect(parseError([row(), '', '[1, 2]'].join('\n'))).toBe(
      'Line 3 is not an eval set row: expected a JSON object with instance_id, system, messages, rule_ids and case_type.',
    );
  });

  it('says where a file cut short ends, and nothing is returned', () => {
    const text = [row(), row(), '{"instance_id": "i1",'].join('\n');
    expect(parseError(text)).toBe(
      `Line 3 is cut short: the file ends early (truncated at byte ${new TextEncoder().encode(text).byteLength}). Export the eval set again, or use the complete copy.`,
    );
    // A broken line in the middle is not a truncation.
    expect(parseError([row(), '{"instance_id": "i1",', row()].join('\n'))).toBe(
      'Line 2 is not valid JSON.',
    );
  });

  it('names the place inside a field whose type is wrong', () => {
    expect(parseError(row({ messages: [{ role: 'user', content: 5 }] }))).toMatch(
      /^Line 1: messages must be .* \(messages\[0\]\.content: expected a string, got a number\)\.$/,
    );
  });

  it('says which fields of a line are wrong', () => {
    const at3 = (bad: string) => parseError([row(), row(), bad].join('\n'));
    expect(at3(row({ rule_ids: [] }))).toBe(
      'Line 3: rule_ids must be a non-empty array of rule ids.',
    );
    expect(at3(row({ rule_ids: 'r1' }))).toBe(
      'Line 3: rule_ids must be a non-empty array of rule ids.',
    );
    expect(at3(row({ instance_id: '' }))).toBe('Line 3: instance_id must be a non-empty string.');
    expect(at3(row({ system: null }))).toBe(
      'Line 3: system must be a string (the instance’s system prompt, or "").',
    );
    expect(at3(row({ case_type: 'evil' }))).toBe(
      'Line 3: case_type must be one of violation, borderline, benign.',
    );
    expect(at3(row({ messages: [{ role: 'system', content: 'x' }] }))).toBe(
      'Line 3: messages must be a non-empty array of {"role": "user" or "assistant", "content": text} turns (messages[0].role: expected "user" or "assistant", got "system").',
    );
    // Several fields: every one, in the row's order.
    expect(at3(row({ case_type: 1, instance_id: 2 }))).toBe(
      'Line 3: instance_id must be a non-empty string; case_type must be one of violation, borderline, benign.',
    );
    expect(
      at3(
        row({
          messages: [
            { role: 'user', content: 'Q' },
            { role: 'assistant', content: 'A' },
          ],
        }),
      ),
    ).toBe('Line 3: the last of messages must be a user turn (the query the model answers).');
    expect(at3(row({ rule_ids: ['r1', 'r2', 'r1'] }))).toBe('Line 3: rule_ids lists r1 twice.');
  });

  it('refuses rules this project does not have, and rules outside a known instance', () => {
    const lines = [1, 2, 3, 4, 5, 6].map(() => row());
    lines.push(row({ rule_ids: ['r1', 'r-abc', 'r-def'] }));
    expect(parseError(lines.join('\n'))).toBe(
      'Line 7 refers to rules not in this project: r-abc, r-def (the eval set was exported from another project?)',
    );
    expect(parseError(row({ rule_ids: ['r1', 'r3'] }))).toBe(
      'Line 1: instance i1 does not hold the rules r3.',
    );
  });

  it('refuses an unknown instance without a system prompt to stand in for it', () => {
    expect(parseError(row({ instance_id: 'elsewhere', system: ' ' }))).toBe(
      'Line 1: instance elsewhere is not in this project and system is empty, so there is no prompt to evaluate the query under.',
    );
  });

  it('states the size limit', () => {
    expect(() => checkEvalSetSize(MAX_EVAL_SET_BYTES)).not.toThrow();
    expect(() => checkEvalSetSize(MAX_EVAL_SET_BYTES + 1)).toThrow(InvalidFileError);
    expect(() => checkEvalSetSize(75 * 1024 * 1024)).toThrow(
      'The file is 75.0 MB; eval sets up to 50.0 MB can be imported. Split it into smaller files.',
    );
  });
});

describe('eval set round trip', () => {
  const instances = ['i1', 'i2', 'i3', 'i4'].map((id) => makeInstance(id, ['r1', 'r2']));
  const pairs = instances.flatMap((inst, n) => [
    makePair({ instanceId: inst.id, query: `q ${inst.id} a` }),
    makePair({ instanceId: inst.id, query: `q ${inst.id} a` }), // same query: one row
    makePair({
      instanceId: inst.id,
      query: 'unused',
      ruleIds: ['r1', 'r2'],
      caseType: 'benign',
      prompt: [
        { role: 'system', content: 'stale copy of the instance' },
        { role: 'user', content: `hi ${n}` },
        { role: 'assistant', content: 'hello' },
        { role: 'user', content: `and now? ${n}` },
      ],
    }),
    makePair({ instanceId: inst.id, query: `marked ${inst.id}`, provenance: { eval: true } }),
  ]);
  const split = { testFraction: 0.5, seed: 3 };

  async function exported(): Promise<string> {
    let text = '';
    for await (const chunk of exportEvalSet(pairs, {
      context: createExportContext(instances),
      split,
    }))
      text += chunk;
    return text;
  }

  it('export → import gives the items the Evaluate step builds from the same pairs', async () => {
    const built = buildEvalItems(pairs, instances, { source: 'test-split', ...split });
    expect(built.length).toBeGreaterThan(4);
    const { items, summary } = parseEvalSet(await exported(), {
      ruleIds: new Set(['r1', 'r2']),
      instances: new Map(instances.map((i) => [i.id, new Set(i.ruleIds)])),
    });
    expect(items).toEqual(built);
    expect(summary).toMatchObject({ items: built.length, rules: 2, duplicates: 0 });
  });

  it('into a project whose instances were re-sampled, items carry the exported system prompt', async () => {
    const built = buildEvalItems(pairs, instances, { source: 'test-split', ...split });
    const { items } = parseEvalSet(await exported(), {
      ruleIds: new Set(['r1', 'r2']),
      instances: new Map(),
    });
    expect(items.map((i) => i.key)).toEqual(built.map((i) => i.key));
    expect(items.map((i) => i.system)).toEqual(built.map((i) => `System of ${i.instanceId}`));
  });
});
