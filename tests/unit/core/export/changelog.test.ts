import { describe, expect, it } from 'vitest';
import { changelogLines, exportChangelog, filterPairs, pairDelta } from '$lib/core/export';
import type { ExportedRule } from '$lib/core/stored';
import type { PreferencePair } from '$lib/core/records';

const rule = (lineageId: string, statement: string, ruleId = `${lineageId}-v1`): ExportedRule => ({
  lineageId,
  ruleId,
  statement,
});

const earlier = {
  id: 'exp-1',
  fileName: 'bot-v1-dpo-standard.jsonl',
  createdAt: Date.UTC(2026, 0, 2),
  specVersionNumber: 1,
  pairIds: ['p1', 'p2', 'p3', 'p4'],
  rules: [
    rule('kept', 'Say when unsure.'),
    rule('reworded', 'Never share personal data.'),
    rule('rewrapped', 'Cite  sources\nwhen asked.'),
    rule('gone', 'Use formal language.'),
  ],
};

describe('pairDelta', () => {
  it('gives the pairs added (current order) and retired (earlier order)', () => {
    expect(pairDelta(['a', 'b', 'c'], ['d', 'c', 'a', 'e'])).toEqual({
      added: ['d', 'e'],
      retired: ['b'],
    });
    expect(pairDelta([], ['x'])).toEqual({ added: ['x'], retired: [] });
    expect(pairDelta(['x'], ['x'])).toEqual({ added: [], retired: [] });
  });
});

describe('exportChangelog', () => {
  it('counts rules added, changed and retired by lineage, and pairs added and retired', () => {
    const log = exportChangelog(earlier, {
      pairIds: ['p2', 'p4', 'p5', 'p6', 'p7'],
      rules: [
        // Same lineage, new id in the new version, same statement: kept, not changed.
        rule('kept', 'Say when unsure.', 'kept-v2'),
        rule('reworded', 'Never share personal data with third parties.', 'reworded-v2'),
        // Only whitespace differs: not a change.
        rule('rewrapped', 'Cite sources when asked.', 'rewrapped-v2'),
        rule('new-b', 'Refuse weapons synthesis.'),
        rule('new-a', 'Offer a hotline in a crisis.'),
      ],
    });
    expect(log).toEqual({
      since: {
        id: 'exp-1',
        fileName: 'bot-v1-dpo-standard.jsonl',
        createdAt: earlier.createdAt,
        specVersionNumber: 1,
      },
      rules: { added: ['new-a', 'new-b'], changed: ['reworded'], retired: ['gone'] },
      pairs: { added: 3, retired: 2 },
    });
    expect(changelogLines(log)).toEqual([
      '## Changelog',
      '',
      'Since the previous export, `bot-v1-dpo-standard.jsonl` of 2026-01-02 (spec version 1):',
      '',
      '- Rules: 2 added, 1 changed, 1 retired.',
      '- Pairs: 3 pairs added, 2 pairs retired.',
      '',
    ]);
  });

  it('treats the first export as all new', () => {
    const log = exportChangelog(undefined, { pairIds: ['p1'], rules: [rule('a', 'x')] });
    expect(log).toEqual({
      rules: { added: ['a'], changed: [], retired: [] },
      pairs: { added: 1, retired: 0 },
    });
    expect(changelogLines(log)).toContain(
      'First export of this project: every rule and pair is new.',
    );
    expect(changelogLines(log)).toContain('- Pairs: 1 pair added, 0 pairs retired.');
  });
});

describe('filterPairs and stale pairs', () => {
  const pair = (id: string, stale: boolean) =>
    ({
      id,
      status: 'accepted',
      ...(stale
        ? { stale: { reason: 'changed', specVersionId: 'sv2', lineageIds: ['reworded'] } }
        : {}),
    }) as unknown as PreferencePair;
  const pairs = [pair('fresh', false), pair('stale', true)];

  it('leaves stale pairs out by default', () => {
    expect(pairs.filter(filterPairs()).map((p) => p.id)).toEqual(['fresh']);
    expect(pairs.filter(filterPairs({ includeStale: false })).map((p) => p.id)).toEqual(['fresh']);
  });

  it('keeps them when asked', () => {
    expect(pairs.filter(filterPairs({ includeStale: true })).map((p) => p.id)).toEqual([
      'fresh',
      'stale',
    ]);
  });
});
