import { describe, expect, it } from 'vitest';
import {
  classifyNormative,
  detectNormativeSentences,
  findNonProseSpans,
  splitSentences,
  type NormativeSentence,
} from '$lib/core/rules/normative';
import { loadCorpus, naiveFences } from './fixtures';

const texts = (text: string, base = 0) => splitSentences(text, base).sentences.map((s) => s.text);

/** The detected sentence whose text starts with `opening` (fails the test when there is none). */
function find(found: readonly NormativeSentence[], opening: string): NormativeSentence {
  const hit = found.find((s) => s.text.startsWith(opening));
  expect(hit, `no normative sentence starting "${opening}"`).toBeDefined();
  return hit as NormativeSentence;
}

describe('splitSentences', () => {
  it('splits at terminators but not after abbreviations, initials, decimals or before lowercase', () => {
    const text =
      'The assistant must help, e.g. by citing sources. It should not guess vs. Estimate at 3.5 percent! ' +
      'Dr. Smith met J. Doe. Is that so? yes it is. Then etc. The end';
    expect(texts(text)).toEqual([
      'The assistant must help, e.g. by citing sources.',
      'It should not guess vs. Estimate at 3.5 percent!',
      'Dr. Smith met J. Doe.',
      'Is that so? yes it is.',
      'Then etc.',
      'The end',
    ]);
  });

  it('keeps closing quotes, brackets, emphasis and footnote marks with their sentence', () => {
    const text = 'He said "stop." Then (it ended.) **Bold.** Next one.[^ab12] Last.';
    expect(texts(text)).toEqual([
      'He said "stop."',
      'Then (it ended.)',
      '**Bold.**',
      'Next one.[^ab12]',
      'Last.',
    ]);
  });

  it('treats a single newline as a space and a blank line as a boundary', () => {
    const text = 'First line\ncontinues here. Second\n\nThird paragraph';
    expect(texts(text)).toEqual(['First line\ncontinues here.', 'Second', 'Third paragraph']);
  });

  it('strips list markers and heading syntax, and preserves offsets with a base', () => {
    const text =
      '## Title {#t authority=root}\n\n- item one. item two?\n* star item\n12. numbered\n3) paren';
    const split = splitSentences(text, 1000);
    expect(split.sentences.map((s) => [s.kind, s.text])).toEqual([
      ['heading', 'Title'],
      ['list-item', 'item one. item two?'],
      ['list-item', 'star item'],
      ['list-item', 'numbered'],
      ['list-item', 'paren'],
    ]);
    for (const s of split.sentences) expect(text.slice(s.start - 1000, s.end - 1000)).toBe(s.text);
  });

  it('skips fenced code, ~~~xml examples and !!! meta commentary, and honours excludeSpans', () => {
    const text = [
      'Before. Must stay.',
      '~~~xml',
      '<user>You must obey. Never stop.</user>',
      '~~~',
      '!!! meta "Commentary"',
      '    We should explain. Never a rule.',
      '',
      'After one. After two.',
      '```',
      'code must not split',
      '```',
      'Tail sentence.',
    ].join('\n');
    const skip = text.indexOf('After two.');
    const split = splitSentences(text, 0, { excludeSpans: [{ start: skip, end: skip + 10 }] });
    expect(split.sentences.map((s) => s.text)).toEqual([
      'Before.',
      'Must stay.',
      'After one.',
      'Tail sentence.',
    ]);
    expect(findNonProseSpans(text).map((s) => text.slice(s.start, s.end).split('\n')[0])).toEqual([
      '~~~xml',
      '!!! meta "Commentary"',
      '```',
    ]);
    // Keeping admonitions as prose makes the commentary sentences appear.
    expect(texts(text.slice(0, skip))).not.toContain('We should explain.');
    expect(
      splitSentences(text, 0, { excludeAdmonitions: [] }).sentences.map((s) => s.text),
    ).toContain('We should explain.');
  });

  it('links list items to the lead-in paragraph ending with ":" and not across other blocks', () => {
    const text =
      'The assistant must not:\n\n- lie\n- cheat\n    - nested\n\nPlain paragraph.\n\n- unrelated';
    const split = splitSentences(text);
    const lead = split.blocks.findIndex(
      (b) => text.slice(b.start, b.end) === 'The assistant must not:',
    );
    const items = split.blocks.filter((b) => b.kind === 'list-item');
    expect(items.map((b) => text.slice(b.start, b.end))).toEqual([
      'lie',
      'cheat',
      'nested',
      'unrelated',
    ]);
    expect(items.map((b) => b.leadIn)).toEqual([lead, lead, lead, undefined]);
  });
});

describe('classifyNormative', () => {
  const cases: [string, string, 'must' | 'should' | 'may', 'positive' | 'negative'][] = [
    ['The assistant must refuse.', 'must', 'must', 'positive'],
    ['The assistant must not reveal it.', 'must not', 'must', 'negative'],
    ['It must never do that.', 'must never', 'must', 'negative'],
    ['The assistant should generally not speculate.', 'should generally not', 'should', 'negative'],
    ['It shouldn’t moralize.', "shouldn't", 'should', 'negative'],
    ['Never generate CSAM.', 'never', 'must', 'negative'],
    ['Don’t facilitate harm.', "don't", 'must', 'negative'],
    ['Avoid hateful content.', 'avoid', 'should', 'negative'],
    ['The assistant should always cite sources.', 'should always', 'should', 'positive'],
    ['Always use the preset voice.', 'always', 'must', 'positive'],
    ['The assistant is required to log actions.', 'is required to', 'must', 'positive'],
    ['Such content is prohibited.', 'is prohibited', 'must', 'negative'],
    ['High-risk activities are always prohibited.', 'are always prohibited', 'must', 'negative'],
    ['It is not acceptable to lie.', 'it is not acceptable', 'must', 'negative'],
    ['It is acceptable to decline politely.', 'it is acceptable to', 'may', 'positive'],
    ['The assistant may discuss it in educational contexts.', 'assistant may', 'may', 'positive'],
    ['The assistant may not share private data.', 'assistant may not', 'must', 'negative'],
    ['The assistant should refrain from jokes.', 'should refrain', 'should', 'negative'],
    [
      'In no circumstances should it message the peer.',
      'in no circumstances should',
      'must',
      'negative',
    ],
    ['The assistant may only pursue stated goals.', 'may only', 'must', 'positive'],
  ];
  it.each(cases)('%s → %s', (sentence, marker, strength, direction) => {
    const c = classifyNormative(sentence);
    expect(c).toMatchObject({ marker, strength, direction, mixed: false });
  });

  it('does not read descriptive or possibility uses as norms', () => {
    for (const s of [
      'Users can always access a transparent experience.',
      'If you don’t know the answer, that is fine.',
      'People who don’t want ads can opt out.',
      'It may not make sense in all cases.',
      'The user may not be aware of the truncation.',
      'The assistant may sometimes encounter ambiguous instructions.',
      'The assistant may face uncertainty for many reasons.',
      'The assistant cannot see images.',
      'This section describes the chain of command.',
    ]) {
      expect(classifyNormative(s), s).toBeUndefined();
    }
  });

  it('prefers the strongest marker, then the negative one, and reports mixed directions', () => {
    const c = classifyNormative(
      'While the assistant should display big-picture thinking, it should never overstep.',
    );
    expect(c).toMatchObject({
      strength: 'should',
      direction: 'negative',
      marker: 'should never',
      mixed: true,
    });
    expect(c?.markers.map((m) => m.marker)).toEqual(['should', 'should never']);
    const d = classifyNormative('It is prohibited and should never be produced.', 100);
    expect(d).toMatchObject({ strength: 'must', direction: 'negative', mixed: false });
    expect(d?.markers[0]).toMatchObject({ start: 103, end: 116, marker: 'is prohibited' });
  });
});

describe('detectNormativeSentences', () => {
  it('labels sentences, inherits lead-ins for unmarked items, skips questions and headings', () => {
    const text = [
      '# Never do X {#x}',
      '',
      'Background sentence. How should the assistant respond? The assistant must refuse.',
      '',
      'The assistant should not generate the following:',
      '',
      '- graphic violence. It is described elsewhere.',
      '- content that must be reviewed',
    ].join('\n');
    const found = detectNormativeSentences(text, 50);
    expect(found.map((s) => [s.text, s.strength, s.direction, s.marker])).toEqual([
      ['The assistant must refuse.', 'must', 'positive', 'must'],
      ['The assistant should not generate the following:', 'should', 'negative', 'should not'],
      ['graphic violence.', 'should', 'negative', 'lead-in: should not'],
      ['content that must be reviewed', 'must', 'positive', 'must'],
    ]);
    const lead = found[1] as NormativeSentence;
    expect(found[2]?.leadIn).toEqual({ start: lead.start, end: lead.end });
    for (const s of found) expect(text.slice(s.start - 50, s.end - 50)).toBe(s.text);
    expect(detectNormativeSentences(text, 0, { includeHeadings: true })[0]).toMatchObject({
      text: 'Never do X',
      kind: 'heading',
    });
  });
});

describe('detectNormativeSentences on the 270 KB Model Spec', () => {
  it('finds the norms of known passages with the right labels', async () => {
    const { text, metaSpans } = await loadCorpus();
    const found = detectNormativeSentences(text, 0, { excludeSpans: metaSpans });
    expect(find(found, 'Sexual content involving minors is prohibited')).toMatchObject({
      strength: 'must',
      direction: 'negative',
    });
    expect(find(found, 'The assistant must not introduce, elaborate on')).toMatchObject({
      strength: 'must',
      direction: 'negative',
      marker: 'must not',
    });
    expect(
      find(found, 'If a user requests any such content, the assistant must refuse.'),
    ).toMatchObject({
      strength: 'must',
      direction: 'positive',
    });
    expect(
      find(found, 'However, the assistant may discuss sexual content involving minors'),
    ).toMatchObject({
      strength: 'may',
      direction: 'positive',
    });
    expect(find(found, 'The assistant should not allow lower-level content')).toMatchObject({
      strength: 'should',
      direction: 'negative',
    });
    // List items under "It must not adopt, … including but not limited to:" inherit the lead-in.
    const item = find(found, 'revenue or upsell for OpenAI');
    expect(item).toMatchObject({
      strength: 'must',
      direction: 'negative',
      marker: 'lead-in: must not',
    });
    expect(text.slice(item.leadIn?.start, item.leadIn?.end)).toMatch(
      /^It must not adopt, optimize for/,
    );
    // Commentary is not a source of norms.
    expect(
      found.some((s) => s.text.startsWith('While we believe that our models should not')),
    ).toBe(false);
  });

  it('never puts a sentence inside or across a code block or commentary, and keeps offsets exact', async () => {
    const { text, metaSpans } = await loadCorpus();
    const split = splitSentences(text, 0, { excludeSpans: metaSpans });
    const fences = naiveFences(text);
    expect(fences.length).toBeGreaterThan(150);
    const holes = [...fences, ...metaSpans];
    for (const s of split.sentences) {
      expect(text.slice(s.start, s.end)).toBe(s.text);
      const hit = holes.find((h) => s.start < h.end && h.start < s.end);
      expect(
        hit,
        `sentence overlaps a code block or commentary: "${s.text.slice(0, 60)}"`,
      ).toBeUndefined();
    }
    expect(split.sentences.length).toBeGreaterThan(800);
  });

  it('gives the same sentences section by section (text + base offset) as over the whole text', async () => {
    const { text, sections, metaSpans } = await loadCorpus();
    const whole = detectNormativeSentences(text, 0, { excludeSpans: metaSpans });
    const perSection = sections.flatMap((s) =>
      detectNormativeSentences(text.slice(s.start, s.end), s.start, { excludeSpans: metaSpans }),
    );
    expect(perSection.map((s) => [s.start, s.end, s.marker])).toEqual(
      whole.map((s) => [s.start, s.end, s.marker]),
    );
    expect(whole.length).toBeGreaterThan(250);
    const strengths = new Set(whole.map((s) => s.strength));
    expect([...strengths].sort()).toEqual(['may', 'must', 'should']);
  });
});
