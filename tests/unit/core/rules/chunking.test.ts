import { describe, expect, it } from 'vitest';
import { fnv1aHex } from '$lib/core/hash';
import { estimateTokens } from '$lib/core/llm';
import {
  ChunkBudgetError,
  chunkBudget,
  chunkSections,
  type Chunk,
  type ChunkOptions,
} from '$lib/core/rules/chunking';
import { splitSentences } from '$lib/core/rules/sentences';
import { annotationPromptOverhead } from '$lib/core/rules/prompt';
import { loadCorpus, sectionsOf } from './fixtures';

const forWindow = (contextWindow: number, answerTokens: number): ChunkOptions => ({
  contextWindow,
  promptOverheadTokens: annotationPromptOverhead(),
  answerTokens,
});

/** Every chunk start that lies strictly inside a sentence (sentences as the splitter sees them). */
function boundariesInsideSentences(text: string, chunks: readonly Chunk[]): string[] {
  // Commentary kept as prose here: a cut inside a `!!! meta` block's sentences counts too.
  const sentences = splitSentences(text, 0, { excludeAdmonitions: [] }).sentences;
  const bad: string[] = [];
  for (const c of chunks.slice(1)) {
    const inside = sentences.find((s) => s.start < c.start && c.start < s.end);
    if (inside) bad.push(`${c.key} cuts "${inside.text.slice(0, 60)}"`);
  }
  return bad;
}

describe('chunkSections on the 270 KB Model Spec', () => {
  it('has a boundary check that does catch a cut inside a sentence', async () => {
    const { text } = await loadCorpus();
    const at = text.indexOf('The assistant must strive to follow all');
    const fake = [
      { start: 0, key: 'a' },
      { start: at + 20, key: 'b' },
    ] as Chunk[];
    expect(boundariesInsideSentences(text, fake)).toEqual([
      'b cuts "The assistant must strive to follow all *applicable instruct"',
    ]);
  });

  for (const [window, answer] of [
    [2048, 512],
    [4096, 1024],
    [8192, 2048],
  ] as const) {
    it(`fits a ${window}-token window, never cuts a sentence and covers all section text`, async () => {
      const { text, sections } = await loadCorpus();
      const options = forWindow(window, answer);
      const budget = chunkBudget(options);
      const chunks = chunkSections(sections, text, options);

      for (const c of chunks) {
        expect(c.text).toBe(text.slice(c.start, c.end));
        expect(c.estimatedTokens).toBe(estimateTokens(c.text));
        expect(c.estimatedTokens, c.key).toBeLessThanOrEqual(budget);
        expect(c.estimatedTokens + options.promptOverheadTokens + answer).toBeLessThanOrEqual(
          window,
        );
        expect(c.cutsSentence).toBe(false);
        expect(c.sectionAnchors).toEqual(c.sections.map((s) => s.anchor));
      }
      expect(boundariesInsideSentences(text, chunks)).toEqual([]);

      // Concatenated chunks are exactly the sections' text, in order, with no gap or overlap.
      const nonEmpty = sections.filter((s) => s.end > s.start);
      expect(chunks.map((c) => c.text).join('')).toBe(
        nonEmpty.map((s) => text.slice(s.start, s.end)).join(''),
      );
      chunks.slice(1).forEach((c, i) => expect(c.start).toBe(chunks[i]?.end));
      // Every section appears, and a split section's parts are numbered 1..n.
      expect(new Set(chunks.flatMap((c) => c.sectionAnchors))).toEqual(
        new Set(nonEmpty.map((s) => s.anchor)),
      );
      for (const c of chunks.filter((c) => c.parts > 1)) {
        const siblings = chunks.filter((o) => o.sectionAnchors[0] === c.sectionAnchors[0]);
        expect(siblings.map((o) => o.part)).toEqual(
          Array.from({ length: c.parts }, (_, i) => i + 1),
        );
      }
      expect(new Set(chunks.map((c) => c.key)).size).toBe(chunks.length);
    });
  }

  it('packs small sections but never across a chapter (level-1 heading)', async () => {
    const { text, sections } = await loadCorpus();
    const chunks = chunkSections(sections, text, forWindow(4096, 1024));
    const level = new Map(sections.map((s) => [s.anchor, s.level]));
    expect(chunks.some((c) => c.sections.length > 1)).toBe(true);
    for (const c of chunks) {
      const later = c.sectionAnchors.slice(1).map((a) => level.get(a));
      expect(
        later.every((l) => (l ?? 0) > 1),
        c.key,
      ).toBe(true);
    }
    // The heading path shown to the model is the first section's.
    const c = chunks.find((o) => o.sectionAnchors.includes('sexual_content_involving_minors'));
    const s = c?.sections.find((o) => o.anchor === 'sexual_content_involving_minors');
    expect(c?.headingPath).toEqual(c?.sections[0]?.headingPath);
    expect(s?.headingPath).toEqual([
      'Stay in bounds',
      'Do not generate disallowed content',
      'Prohibited content',
      'Never generate sexual content involving minors',
    ]);
    expect(s?.authority).toBe('root');
  });

  it('gives deterministic keys that survive an edit elsewhere in the spec', async () => {
    const { text, sections } = await loadCorpus();
    const options = forWindow(4096, 1024);
    const first = chunkSections(sections, text, options);
    expect(chunkSections(sections, text, options).map((c) => c.key)).toEqual(
      first.map((c) => c.key),
    );

    // Edit one sentence of one section: only that section's chunk changes key.
    const target = sections.find((s) => s.anchor === 'do_not_lie');
    expect(target).toBeDefined();
    const at = text.indexOf('The assistant', target?.bodyStart);
    const edited =
      text.slice(0, at) + 'Really, the assistant' + text.slice(at + 'The assistant'.length);
    const delta = edited.length - text.length;
    const shifted = sections.map((s) =>
      s.start > at
        ? { ...s, start: s.start + delta, end: s.end + delta }
        : s.end > at
          ? { ...s, end: s.end + delta }
          : s,
    );
    const second = chunkSections(shifted, edited, options);
    const before = new Set(first.map((c) => c.key));
    const changed = second.filter((c) => !before.has(c.key));
    expect(changed.map((c) => c.sectionAnchors[0])).toEqual(['do_not_lie']);
  });
});

describe('chunkSections on hand-written text', () => {
  const small = {
    contextWindow: 1000,
    promptOverheadTokens: 300,
    answerTokens: 300,
    safetyMargin: 0,
  };

  it('splits a long paragraph at sentence boundaries only', () => {
    const sentence = (i: number) =>
      `Sentence number ${i} says the assistant should do thing ${i} carefully.`;
    const body = Array.from({ length: 200 }, (_, i) => sentence(i)).join(' ');
    const text = `# Big {#big}\n\n${body}\n`;
    const chunks = chunkSections(sectionsOf(text), text, small);
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.map((c) => c.text).join('')).toBe(text);
    for (const c of chunks.slice(1)) expect(c.text).toMatch(/^Sentence number \d+ says/);
    for (const c of chunks) expect(c.estimatedTokens).toBeLessThanOrEqual(chunkBudget(small));
    expect(chunks.map((c) => [c.part, c.parts])).toEqual(
      chunks.map((_, i) => [i + 1, chunks.length]),
    );
    expect(chunks.every((c) => c.key.startsWith(`big@${c.part}/${c.parts}:`))).toBe(true);
  });

  it('prefers paragraph boundaries over sentence boundaries', () => {
    const para = (i: number) =>
      Array.from({ length: 8 }, (_, j) => `Paragraph ${i} sentence ${j} is about rules.`).join(' ');
    const text = `# P {#p}\n\n${Array.from({ length: 12 }, (_, i) => para(i)).join('\n\n')}\n`;
    const chunks = chunkSections(sectionsOf(text), text, small);
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks.slice(1)) expect(c.text).toMatch(/^Paragraph \d+ sentence 0 /);
  });

  it('cuts an oversized code block at line starts and keeps its caption with it', () => {
    const code = Array.from({ length: 400 }, (_, i) => `line ${i} of code`).join('\n');
    const text = `# Code {#code}\n\nIntro must be read.\n\n**Example**: big one\n\n~~~xml\n${code}\n~~~\n\nOutro.\n`;
    const chunks = chunkSections(sectionsOf(text), text, small);
    expect(chunks.map((c) => c.text).join('')).toBe(text);
    const withCaption = chunks.find((c) => c.text.includes('**Example**'));
    expect(withCaption?.text).toContain('~~~xml');
    for (const c of chunks.slice(1)) expect(text[c.start - 1]).toBe('\n');
    expect(chunks.every((c) => !c.cutsSentence)).toBe(true);
  });

  it('cuts a single over-budget sentence at whitespace as a last resort, and says so', () => {
    const words = Array.from({ length: 1500 }, (_, i) => `word${i}`).join(' ');
    const text = `# Huge {#huge}\n\nThe assistant must ${words}.\n`;
    const chunks = chunkSections(sectionsOf(text), text, small);
    expect(chunks.length).toBeGreaterThan(2);
    // The heading goes alone (no cut needed there); every piece of the sentence is marked.
    expect(chunks[0]?.text).toBe('# Huge {#huge}\n\n');
    expect(chunks.map((c) => c.cutsSentence)).toEqual(chunks.map((_, i) => i > 0));
    expect(chunks.map((c) => c.text).join('')).toBe(text);
    for (const c of chunks.slice(2)) expect(text[c.start - 1]).toBe(' ');
  });

  it('packs contiguous sections within a chapter, starts a new chunk at each chapter', () => {
    const text = [
      '# One {#one}',
      'A must be done.',
      '## One.a {#one_a authority=user}',
      'B should be done.',
      '# Two {#two}',
      'C must not be done.',
      '',
    ].join('\n');
    const chunks = chunkSections(sectionsOf(text), text, small);
    expect(chunks.map((c) => c.sectionAnchors)).toEqual([['one', 'one_a'], ['two']]);
    expect(chunks[0]?.key).toBe(`one+1:${fnv1aHex(chunks[0]?.text ?? '')}`);
    expect(chunks[0]?.sections[1]).toMatchObject({
      anchor: 'one_a',
      authority: 'user',
      headingPath: ['One', 'One.a'],
    });
  });

  it('rejects a budget that leaves no room for text', () => {
    expect(() =>
      chunkSections([], '', { contextWindow: 1024, promptOverheadTokens: 900, answerTokens: 100 }),
    ).toThrow(ChunkBudgetError);
    expect(() =>
      chunkBudget({ contextWindow: 512, promptOverheadTokens: 1000, answerTokens: 0 }),
    ).toThrow(/context window of 512 tokens/);
  });

  it('honours maxChunkTokens', () => {
    const text = `# S {#s}\n\n${'The assistant should be kind. '.repeat(200)}\n`;
    const chunks = chunkSections(sectionsOf(text), text, {
      ...forWindow(32_768, 1024),
      maxChunkTokens: 300,
    });
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) expect(c.estimatedTokens).toBeLessThanOrEqual(300);
  });
});
