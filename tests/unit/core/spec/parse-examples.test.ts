import { describe, expect, it } from 'vitest';
import { parseExamples } from '../../../../src/lib/core/spec/parse-examples';
import { parseSections } from '../../../../src/lib/core/spec/parse-markdown';
import { MODEL_SPEC_FILES, readCorpus } from './fixtures';

/** Independent reading of the example blocks: `~~~xml` … `~~~`, with offsets. */
function expectedBlocks(text: string) {
  return [...text.matchAll(/^~~~xml\n([\s\S]*?)^~~~$/gm)].map((m) => {
    const body = m[1] ?? '';
    const replies = [
      ...body.matchAll(
        /<assistant[^>]*>[ \t]*<!--\s*(GOOD|BAD|OK)\b[^>]*-->[ \t]*\n([\s\S]*?)<\/assistant>/g,
      ),
    ].map((r) => ({ label: r[1], content: (r[2] ?? '').trimEnd() }));
    const before = text.slice(0, m.index);
    const title = /\*\*Example\*\*: (.*)\n\n$/.exec(before)?.[1];
    const headingIds = [...before.matchAll(/^#{1,6} .*\{#([^\s}]+)[^}]*\}$/gm)];
    return {
      start: m.index,
      comparisons: (body.match(/<comparison>/g) ?? []).length,
      replies,
      title,
      sectionAnchor: headingIds[headingIds.length - 1]?.[1],
    };
  });
}

describe('parseExamples on the Model Spec corpus', () => {
  for (const file of MODEL_SPEC_FILES) {
    describe(file, () => {
      const text = readCorpus(file);
      const { sections } = parseSections(text);
      const result = parseExamples(text, sections);
      const blocks = expectedBlocks(text);

      it('finds every ~~~xml block and nothing else', () => {
        expect(blocks.length).toBe((text.match(/^~~~xml$/gm) ?? []).length);
        expect(blocks.length).toBeGreaterThan(150);
        expect(result.blockCount).toBe(blocks.length);
        expect([...new Set(result.examples.map((e) => e.start))]).toEqual(
          blocks.map((b) => b.start),
        );
        expect(result.warnings).toEqual([]);
      });

      it('makes one example per <comparison> (or one for a block without any)', () => {
        for (const block of blocks) {
          const got = result.examples.filter((e) => e.start === block.start);
          expect(got.length).toBe(Math.max(1, block.comparisons));
          expect(got.filter((e) => e.comparisons.length > 0).length).toBe(block.comparisons);
        }
        const comparisons = (text.match(/<comparison>/g) ?? []).length;
        const withoutComparison = blocks.filter((b) => b.comparisons === 0).length;
        expect(result.examples.length).toBe(comparisons + withoutComparison);
        result.examples.forEach((e, k) => expect(e.order).toBe(k));
      });

      it('reads every GOOD/BAD/OK reply with its exact content', () => {
        for (const block of blocks) {
          const got = result.examples
            .filter((e) => e.start === block.start)
            .flatMap((e) => e.comparisons.map((c) => ({ label: c.label, content: c.content })));
          expect(got).toEqual(block.replies);
        }
        const count = (re: RegExp): number => (text.match(re) ?? []).length;
        const labels = result.examples.flatMap((e) => e.comparisons);
        expect(labels.filter((c) => c.label === 'GOOD').length).toBe(count(/<!--\s*GOOD\b/g));
        expect(labels.filter((c) => c.label === 'BAD').length).toBe(count(/<!--\s*BAD\b/g));
        expect(labels.filter((c) => c.label === 'OK').length).toBe(count(/<!--\s*OK\b/g));
        expect(labels.filter((c) => c.verdict === 'bad').length).toBe(count(/<!--\s*BAD\b/g));
        expect(labels.filter((c) => c.citedAnchor).length).toBe(count(/<!--\s*\w+\[#/g));
        expect(labels.filter((c) => c.note).length).toBe(
          count(/<!--\s*(GOOD|BAD|OK)(\[#[^\]]+\])?\s*[:,]/g),
        );
      });

      it('links examples to their section and title, with spans on the block', () => {
        for (const block of blocks) {
          for (const e of result.examples.filter((x) => x.start === block.start)) {
            expect(e.title).toBe(block.title);
            expect(e.sectionAnchor).toBe(block.sectionAnchor);
            expect(text.slice(e.start)).toMatch(/^~~~xml\n/);
            expect(text.slice(e.start, e.end)).toMatch(/\n~~~\n?$/);
            expect(e.turns.length + e.comparisons.length).toBeGreaterThan(0);
          }
        }
      });

      it('exposes every !!! meta block as a commentary span', () => {
        const metas = [...text.matchAll(/^!!! meta/gm)].map((m) => m.index);
        expect(result.metaSpans.map((m) => m.start)).toEqual(metas);
        for (const span of result.metaSpans) {
          expect(span.title).toBe('Commentary');
          const body = text.slice(span.start, span.end);
          expect(
            body
              .split('\n')
              .slice(1)
              .filter((l) => l.trim())
              .every((l) => l.startsWith('    ')),
          ).toBe(true);
          // The span ends on the last indented line: the next non-blank line is not indented.
          const after = text
            .slice(span.end)
            .split('\n')
            .find((l) => l.trim() !== '');
          if (after !== undefined) expect(after.startsWith('    ')).toBe(false);
        }
      });
    });
  }
});

describe('parseExamples details', () => {
  const latest = MODEL_SPEC_FILES[MODEL_SPEC_FILES.length - 1] as string;
  const text = readCorpus(latest);
  const { sections } = parseSections(text);
  const { examples } = parseExamples(text, sections);

  it('keeps roles, nested markup and tag attributes', () => {
    const quoted = examples.find((e) => e.title === 'malicious instructions in quoted text');
    expect(quoted?.sectionAnchor).toBe('ignore_untrusted_data');
    expect(quoted?.turns.map((t) => t.role)).toEqual(['developer']);
    expect(quoted?.turns[0]?.content).toContain('<untrusted>\nPUGCOIN is going to the moon');
    expect(quoted?.comparisons).toEqual([
      { verdict: 'good', label: 'GOOD', content: 'YES' },
      { verdict: 'bad', label: 'BAD', content: 'NO' },
    ]);
    const tool = examples.find((e) => e.title === 'malicious instruction from tool output');
    expect(tool?.turns).toEqual([
      {
        role: 'assistant',
        attributes: { recipient: 'browser' },
        content: 'open_url("http://example.com")',
      },
      expect.objectContaining({ role: 'tool', attributes: { name: 'browser' } }),
    ]);
  });

  it('reads notes, cited anchors and OK labels', () => {
    const aime = examples.find((e) => e.title === 'difficult math problem (AIME)');
    expect(aime?.comparisons.map((c) => [c.label, c.verdict, c.citedAnchor])).toEqual([
      ['GOOD', 'good', undefined],
      ['OK', 'good', undefined],
      ['OK', 'good', undefined],
      ['BAD', 'bad', undefined],
      ['BAD', 'bad', 'chain_of_command'],
    ]);
    const shipping = examples.find((e) => e.title === 'delegated authority to quoted text');
    expect(shipping?.comparisons.map((c) => c.note)).toEqual([
      undefined,
      'followed the unauthorized instruction',
      'ignored the style instructions',
    ]);
  });

  it('continues a multi-turn block with the preferred reply', () => {
    const first = MODEL_SPEC_FILES[0] as string;
    const old = readCorpus(first);
    // This release has a stray "*" before <comparison> in the Mother's Day example.
    expect(old).toContain('*<comparison>');
    const parsed = parseExamples(old, parseSections(old).sections).examples;
    const start = old.lastIndexOf('~~~xml', old.indexOf('*<comparison>'));
    const group = parsed.filter((e) => e.start === start);
    expect(group).toHaveLength(2);
    const [a, b] = group;
    expect(b?.turns.slice(0, a?.turns.length)).toEqual(a?.turns);
    const preferred = a?.comparisons.find((c) => c.label === 'GOOD');
    expect(b?.turns[a?.turns.length ?? 0]).toEqual({
      role: 'assistant',
      content: preferred?.content,
    });
    expect(b?.turns.at(-1)).toEqual({
      role: 'user',
      content: 'Yes. Could you add that we do free shipping for orders over $80.',
    });
    expect(b?.comparisons.map((c) => c.label)).toEqual(['GOOD']);
  });

  it('reads titles with descriptions, inline tags and warns about unlabelled replies', () => {
    const doc = [
      '# Rules {#rules}',
      '',
      '**Example**: greeting',
      '',
      'The user says hi.',
      '',
      '```xml',
      '<user>Hi</user>',
      '<comparison>',
      '<assistant> <!-- GOOD, friendly -->',
      'Hello!',
      '</assistant>',
      '<assistant>',
      'unlabelled',
      '</assistant>',
      '</comparison>',
      '```',
      '',
      '```xml',
      '<config><a>1</a></config>',
      '```',
      '',
    ].join('\n');
    const parsed = parseExamples(doc, parseSections(doc).sections);
    expect(parsed.blockCount).toBe(1);
    expect(parsed.examples).toEqual([
      {
        sectionAnchor: 'rules',
        title: 'greeting',
        description: 'The user says hi.',
        order: 0,
        start: doc.indexOf('```xml'),
        end: doc.indexOf('```\n\n```xml') + 4,
        turns: [{ role: 'user', content: 'Hi' }],
        comparisons: [{ verdict: 'good', label: 'GOOD', note: 'friendly', content: 'Hello!' }],
      },
    ]);
    expect(parsed.warnings).toHaveLength(1);
    expect(parsed.warnings[0]).toContain('no GOOD/BAD/OK label');
  });
});
