import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SIMILARITY_THRESHOLD,
  diffSpecVersions,
  jaccard,
  type DiffSide,
} from '../../../../src/lib/core/spec/diff';
import { parseSections } from '../../../../src/lib/core/spec/parse-markdown';
import { MODEL_SPEC_FILES, readCorpus } from './fixtures';

const side = (text: string): DiffSide => ({ text, sections: parseSections(text).sections });
const declaredIds = (text: string): string[] =>
  [...text.matchAll(/^#{1,6} .*\{#([^\s}]+)/gm)].map((m) => m[1] as string);

describe('diffSpecVersions on the Model Spec corpus', () => {
  const oldFile = MODEL_SPEC_FILES.find((f) => f.includes('2025-10-26')) as string;
  const newFile = MODEL_SPEC_FILES.find((f) => f.includes('2025-12-18')) as string;
  const oldText = readCorpus(oldFile);
  const newText = readCorpus(newFile);
  const diff = diffSpecVersions(side(oldText), side(newText));

  it('flags what the changelog names for v2025.12.18', () => {
    const changelog = readCorpus('openai-model-spec-CHANGELOG.md');
    const entry = /^## v2025\.12\.18\n([\s\S]*?)^## /m.exec(changelog)?.[1] ?? '';
    // The only hand-made part: which sections the changelog's phrases refer to (read off the spec).
    const named: { phrase: string; added?: string[]; changed?: string[] }[] = [
      { phrase: 'Under-18 Safety Mode', added: ['chatgpt_u18', 'prioritize_teen_safety'] },
      { phrase: 'guidance on **honesty**', changed: ['do_not_lie'] },
      // "removing rules around lying to protect confidentiality": the lie-to-keep-secrets passages
      // were in both the honesty section and the privileged-information section.
      {
        phrase: 'lying to protect confidentiality',
        changed: ['do_not_lie', 'protect_privileged_information'],
      },
      { phrase: '**time-on-site**', changed: ['no_other_objectives'] },
    ];
    const added = diff.added.map((s) => s.anchor);
    const changed = diff.changed.map((c) => c.new.anchor);
    for (const { phrase, added: wantAdded = [], changed: wantChanged = [] } of named) {
      expect(entry, `changelog mentions "${phrase}"`).toContain(phrase);
      for (const a of wantAdded) expect(added, phrase).toContain(a);
      for (const c of wantChanged) expect(changed, phrase).toContain(c);
    }
  });

  it('adds and removes exactly the ids that appear or disappear', () => {
    const before = new Set(declaredIds(oldText));
    const after = new Set(declaredIds(newText));
    expect(diff.added.map((s) => s.anchor)).toEqual([...after].filter((id) => !before.has(id)));
    expect(diff.removed.map((s) => s.anchor)).toEqual([...before].filter((id) => !after.has(id)));
    const newCount = parseSections(newText).sections.length;
    const oldCount = parseSections(oldText).sections.length;
    expect(diff.unchanged + diff.changed.length + diff.added.length).toBe(newCount);
    expect(diff.unchanged + diff.changed.length + diff.removed.length).toBe(oldCount);
  });

  it('describes body changes with a similarity and a word diff', () => {
    const objectives = diff.changed.find((c) => c.new.anchor === 'no_other_objectives');
    expect(objectives).toMatchObject({ matchedBy: 'anchor', changes: ['body'] });
    expect(objectives?.similarity).toBeGreaterThan(0.8);
    expect(objectives?.similarity).toBeLessThan(1);
    const inserted = objectives?.wordDiff
      .filter((p) => p.op === 'insert')
      .map((p) => p.text)
      .join(' ');
    expect(inserted).toContain('time-on-site');
    const lie = diff.changed.find((c) => c.new.anchor === 'do_not_lie');
    const deleted = lie?.wordDiff
      .filter((p) => p.op === 'delete')
      .map((p) => p.text)
      .join(' ');
    // The release removed the worked example of lying to keep a system message confidential.
    expect(deleted).toContain('**Example**: probing for privileged information');
  });

  it('finds nothing changed between a version and itself', () => {
    for (const file of MODEL_SPEC_FILES) {
      const s = side(readCorpus(file));
      const same = diffSpecVersions(s, side(readCorpus(file)));
      expect(same).toEqual({ added: [], removed: [], changed: [], unchanged: s.sections.length });
    }
  });

  it('ignores whitespace-only edits', () => {
    const reflowed = newText
      .replace(/ (must|should) /g, '  $1\n')
      .replace(/\n\n(?=[A-Z])/g, '\n\n\n');
    expect(reflowed).not.toBe(newText);
    const d = diffSpecVersions(side(newText), side(reflowed));
    expect(d.changed).toEqual([]);
    expect(d.unchanged).toBe(parseSections(newText).sections.length);
  });
});

describe('diffSpecVersions across the v2025.09.12 restructuring', () => {
  const oldFile = MODEL_SPEC_FILES.find((f) => f.includes('2025-04-11')) as string;
  const newFile = MODEL_SPEC_FILES.find((f) => f.includes('2025-09-12')) as string;
  const diff = diffSpecVersions(side(readCorpus(oldFile)), side(readCorpus(newFile)));

  it('follows renamed sections by text similarity', () => {
    const renames = diff.changed
      .filter((c) => c.matchedBy === 'similarity')
      .map((c) => [c.old.anchor, c.new.anchor]);
    // Renames read off the two releases (ids and titles changed, text largely kept).
    expect(renames).toEqual(
      expect.arrayContaining([
        ['protect_privileged_messages', 'protect_privileged_information'],
        ['be_kind', 'love_humanity'],
      ]),
    );
    for (const c of diff.changed.filter((x) => x.matchedBy === 'similarity')) {
      expect(c.changes).toContain('anchor');
    }
  });

  it('reports the merged "Be Approachable" stub as removed and the new sections as added', () => {
    const changelog = readCorpus('openai-model-spec-CHANGELOG.md');
    expect(changelog).toContain(
      'merging the stub "Be Approachable" section into "Use appropriate style"',
    );
    expect(diff.removed.map((s) => s.anchor)).toEqual(['approachable']);
    const added = diff.added.map((s) => s.anchor);
    // "Adds a ***No Other Objectives*** section", "Adds a ***Red-line Principles*** section",
    // "two new sections ... scope of autonomy, ... side effects".
    for (const [phrase, anchor] of [
      ['No Other Objectives', 'no_other_objectives'],
      ['Red-line Principles', 'red_line_principles'],
      ['Act within an agreed-upon scope of autonomy', 'scope_of_autonomy'],
      ['Control and communicate side effects', 'control_side_effects'],
    ] as const) {
      expect(changelog).toContain(phrase);
      expect(added).toContain(anchor);
    }
  });
});

describe('diffSpecVersions matching', () => {
  const base = [
    '# Greeting {#greet}',
    'The assistant must always greet users politely and warmly, using their name when known.',
    '# Refunds {#refunds}',
    'Refund requests go to a human agent; never promise money back.',
    '',
  ].join('\n');

  it('matches a changed id by heading path', () => {
    const d = diffSpecVersions(side(base), side(base.replace('{#greet}', '{#greeting}')));
    expect(d.changed).toEqual([
      {
        old: { anchor: 'greet', title: 'Greeting', headingPath: ['Greeting'], index: 0 },
        new: { anchor: 'greeting', title: 'Greeting', headingPath: ['Greeting'], index: 0 },
        matchedBy: 'heading-path',
        changes: ['anchor'],
        similarity: 1,
        wordDiff: [],
      },
    ]);
    expect(d.unchanged).toBe(1);
  });

  it('matches a renamed, edited section by text similarity, and not an unrelated one', () => {
    const renamed = base
      .replace('# Greeting {#greet}', '# Salutations {#salute authority=user}')
      .replace('politely and warmly', 'politely');
    const d = diffSpecVersions(side(base), side(renamed));
    expect(d.added).toEqual([]);
    expect(d.removed).toEqual([]);
    expect(d.changed[0]).toMatchObject({
      matchedBy: 'similarity',
      changes: ['body', 'title', 'authority', 'anchor'],
      wordDiff: [
        { op: 'equal', text: 'The assistant must always greet users politely' },
        { op: 'delete', text: ' and warmly' },
        { op: 'equal', text: ', using their name when known.' },
      ],
    });
    const unrelated = base.replace(
      /# Greeting[\s\S]*?\n# Refunds/,
      '# Tone {#tone}\nKeep answers short and factual.\n# Refunds',
    );
    const d2 = diffSpecVersions(side(base), side(unrelated));
    expect(d2.added.map((s) => s.anchor)).toEqual(['tone']);
    expect(d2.removed.map((s) => s.anchor)).toEqual(['greet']);
  });

  it('compacts long unchanged runs around a change', () => {
    const words = Array.from({ length: 40 }, (_, i) => `w${i}`);
    const a = `# S\n${words.join(' ')}\n`;
    const b = a.replace('w20', 'CHANGED');
    const [change] = diffSpecVersions(side(a), side(b), { contextWords: 3 }).changed;
    expect(change?.wordDiff).toEqual([
      { op: 'equal', text: '… w17 w18 w19 ', elidedWords: 17 },
      { op: 'delete', text: 'w20' },
      { op: 'insert', text: 'CHANGED' },
      { op: 'equal', text: ' w21 w22 w23 … ', elidedWords: 16 },
    ]);
    expect(change?.similarity).toBeCloseTo(39 / 40, 5);
  });

  it('documents its threshold and computes Jaccard', () => {
    expect(DEFAULT_SIMILARITY_THRESHOLD).toBe(0.4);
    expect(jaccard(new Set(['a', 'b']), new Set(['b', 'c']))).toBeCloseTo(1 / 3);
    expect(jaccard(new Set(), new Set())).toBe(1);
  });
});
