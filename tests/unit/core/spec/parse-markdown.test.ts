import { describe, expect, it } from 'vitest';
import {
  inferPlainHeadings,
  parseHeadingAttributes,
  parseSections,
  sectionAt,
  subtreeEnd,
} from '../../../../src/lib/core/spec/parse-markdown';
import { scanText } from '../../../../src/lib/core/spec/scan-lines';
import { MODEL_SPEC_FILES, readCorpus } from './fixtures';

/** Independent reading of the corpus headings: every `{#id …}` heading line, by regex. */
function expectedHeadings(text: string) {
  return [...text.matchAll(/^(#{1,6}) (.*?) \{#([^\s}]+)([^}]*)\}[ \t]*$/gm)].map((m) => {
    const declared = /authority=(\w+)/.exec(m[4] ?? '')?.[1];
    return {
      level: (m[1] ?? '').length,
      title: m[2] ?? '',
      anchor: m[3] ?? '',
      // The 2025-09-12 release renamed the top level "platform" to "root".
      declared: declared === 'platform' ? 'root' : declared,
      line: m[0],
    };
  });
}

describe('parseSections on the Model Spec corpus', () => {
  it('finds the corpus releases', () => {
    expect(MODEL_SPEC_FILES.length).toBeGreaterThanOrEqual(5);
  });

  for (const file of MODEL_SPEC_FILES) {
    describe(file, () => {
      const text = readCorpus(file);
      const parsed = parseSections(text);
      const expected = expectedHeadings(text);
      const headed = parsed.sections.filter((s) => s.level > 0);

      it('yields every {#id} heading, in order, with level, title and anchor', () => {
        expect(expected.length).toBeGreaterThan(60);
        expect(headed.map((s) => s.anchor)).toEqual(expected.map((h) => h.anchor));
        expect(headed.map((s) => s.title)).toEqual(expected.map((h) => h.title));
        expect(headed.map((s) => s.level)).toEqual(expected.map((h) => h.level));
        expect(parsed.hasAuthorityAttributes).toBe(true);
        expect(parsed.headingStyle).toBe('atx');
        expect(parsed.warnings).toEqual([]);
      });

      it('reads declared authority, and inherits it only from an ancestor', () => {
        // Independent inheritance: walk the expected headings with a level stack.
        const stack: { level: number; authority?: string }[] = [];
        const want = expected.map((h) => {
          while (stack.length && (stack[stack.length - 1]?.level ?? 0) >= h.level) stack.pop();
          const authority = h.declared ?? stack[stack.length - 1]?.authority;
          stack.push({ level: h.level, ...(authority ? { authority } : {}) });
          return authority;
        });
        expect(headed.map((s) => s.authority)).toEqual(want);
        expect(want.filter(Boolean).length).toBeGreaterThan(40);
      });

      it('ignores # lines inside fenced code blocks', () => {
        const hashLines = text.split('\n').filter((l) => /^#{1,6} /.test(l)).length;
        // Every # line that is not an {#id} heading sits inside a code block in this corpus.
        expect(parsed.sections.length).toBe(
          expected.length + (parsed.sections[0]?.level === 0 ? 1 : 0),
        );
        expect(hashLines).toBeGreaterThanOrEqual(expected.length);
        expect(headed.some((s) => s.title === 'functions' || s.title.includes('imports'))).toBe(
          false,
        );
      });

      it('has offsets that point at the heading line and tile the text', () => {
        headed.forEach((s, k) => {
          expect(text.slice(s.start, s.bodyStart)).toBe(`${expected[k]?.line}\n`);
        });
        parsed.sections.forEach((s, k) => {
          expect(s.order).toBe(k);
          expect(s.start).toBeLessThanOrEqual(s.bodyStart);
          expect(s.bodyStart).toBeLessThanOrEqual(s.end);
          const next = parsed.sections[k + 1];
          expect(s.end).toBe(next ? next.start : text.length);
        });
        expect(parsed.sections[0]?.start).toBe(0);
      });

      it('links each section to the nearest shallower heading before it', () => {
        parsed.sections.forEach((s, k) => {
          const parent = parsed.sections
            .slice(0, k)
            .reverse()
            .find((p) => p.level > 0 && p.level < s.level);
          expect(s.parentAnchor).toBe(s.level === 0 ? undefined : parent?.anchor);
          expect(s.headingPath).toEqual(
            s.level === 0 ? ['Preamble'] : [...(parent?.headingPath ?? []), s.title],
          );
        });
      });
    });
  }

  it('reads the under-18 tag of the 2025-12-18 release', () => {
    const file = MODEL_SPEC_FILES.find((f) => f.includes('2025-12-18'));
    expect(file).toBeDefined();
    const sections = parseSections(readCorpus(file as string)).sections;
    const teen = sections.find((s) => s.anchor === 'prioritize_teen_safety');
    expect(teen).toMatchObject({
      authority: 'root',
      tags: ['under_18'],
      parentAnchor: 'chatgpt_u18',
      level: 2,
    });
    expect(teen?.headingPath).toEqual(['Under-18 Principles', 'Prioritize safety for teens']);
  });
});

describe('parseSections on small inputs', () => {
  it('makes a preamble of text before the first heading', () => {
    const text = 'Intro line.\n\n# One\nBody one.\n## Two\nBody two.\n';
    const { sections } = parseSections(text);
    expect(sections.map((s) => [s.anchor, s.level, s.title])).toEqual([
      ['preamble', 0, 'Preamble'],
      ['one', 1, 'One'],
      ['one/two', 2, 'Two'],
    ]);
    expect(text.slice(sections[0]?.start, sections[0]?.end)).toBe('Intro line.\n\n');
    expect(text.slice(sections[2]?.bodyStart, sections[2]?.end)).toBe('Body two.\n');
  });

  it('deduplicates slugs with -2, -3 and never takes a declared id', () => {
    const text = '# Rules\n## Scope\n# Rules\n## Scope\n# Rules\n# Other {#rules-2}\n';
    const anchors = parseSections(text).sections.map((s) => s.anchor);
    expect(anchors).toEqual([
      'rules',
      'rules/scope',
      'rules-3',
      'rules-3/scope',
      'rules-4',
      'rules-2',
    ]);
  });

  it('inherits authority from an ancestor but never upward', () => {
    const text = [
      '# Group {#group}',
      '## Rule {#rule authority=developer}',
      '### Detail',
      '#### Deeper {#deeper authority=user}',
      '## Sibling {#sibling}',
      '',
    ].join('\n');
    const got = parseSections(text).sections.map((s) => [s.anchor, s.authority]);
    expect(got).toEqual([
      ['group', undefined],
      ['rule', 'developer'],
      ['rule/detail', 'developer'],
      ['deeper', 'user'],
      ['sibling', undefined],
    ]);
  });

  it('warns about unknown authority values and duplicate ids', () => {
    const { sections, warnings } = parseSections('# A {#a authority=boss}\n# B {#a}\n');
    expect(sections.map((s) => s.anchor)).toEqual(['a', 'a-2']);
    expect(sections[0]?.authority).toBeUndefined();
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('boss');
    expect(warnings[1]).toContain('#a');
  });

  it('does not read # lines in ``` or ~~~ fences, or without a space, as headings', () => {
    const text =
      '# Real\n```\n# not\n```\n~~~xml\n## not\n~~~~\n#hashtag\n    # indented code\n## Also real ##\n';
    const { sections } = parseSections(text);
    expect(sections.map((s) => s.title)).toEqual(['Real', 'Also real']);
  });

  it('treats an unclosed fence as running to the end (CommonMark)', () => {
    const { sections } = parseSections('# A\n```\n# B\n');
    expect(sections.map((s) => s.title)).toEqual(['A']);
  });

  it('parses heading attribute blocks and leaves other braces in the title', () => {
    expect(parseHeadingAttributes('#x authority=root tags=a,b .cls k="v w"')).toEqual({
      id: 'x',
      classes: ['cls'],
      values: { authority: 'root', tags: 'a,b', k: 'v w' },
    });
    expect(parseHeadingAttributes('not attrs')).toBeUndefined();
    const { sections } = parseSections('# Use {braces} freely\n');
    expect(sections[0]?.title).toBe('Use {braces} freely');
    expect(sections[0]?.anchor).toBe('use-braces-freely');
  });

  it('makes one document section when there are no headings', () => {
    const text = 'Just a paragraph of rules.\nThe assistant must be kind.\n';
    const parsed = parseSections(text, { fallbackTitle: 'My spec' });
    expect(parsed.headingStyle).toBe('none');
    expect(parsed.sections).toEqual([
      {
        anchor: 'document',
        title: 'My spec',
        headingPath: ['My spec'],
        level: 1,
        order: 0,
        start: 0,
        bodyStart: 0,
        end: text.length,
      },
    ]);
  });

  it('infers numbered, underlined and all-caps headings in plain text', () => {
    const text = [
      'GENERAL RULES',
      '',
      '1. Scope',
      'This policy applies to every reply.',
      '',
      '1.1 Definitions',
      'A user is a person.',
      '',
      '2. Safety',
      'The assistant must not help with weapons.',
      '',
      'Steps to follow:',
      '',
      '1. Ask first.',
      '2. Then act.',
      '',
      'APPENDIX',
      '',
      'Notes here.',
      '',
    ].join('\n');
    const parsed = parseSections(text);
    expect(parsed.headingStyle).toBe('inferred');
    expect(parsed.sections.map((s) => [s.title, s.level])).toEqual([
      ['GENERAL RULES', 1],
      ['1. Scope', 2],
      ['1.1 Definitions', 3],
      ['2. Safety', 2],
      ['APPENDIX', 1],
    ]);
    const safety = parsed.sections[3];
    expect(text.slice(safety?.bodyStart, safety?.end)).toContain('1. Ask first.');
  });

  it('infers Setext headings', () => {
    const text = 'Title\n=====\n\nIntro.\n\nPart\n----\nBody.\n';
    const hits = inferPlainHeadings(scanText(text), text.length);
    expect(hits.map((h) => [h.title, h.level])).toEqual([
      ['Title', 1],
      ['Part', 2],
    ]);
    const { sections } = parseSections(text);
    expect(text.slice(sections[1]?.bodyStart, sections[1]?.end)).toBe('Body.\n');
  });

  it('finds subtree ends and the section at an offset', () => {
    const text = '# A\na\n## B\nb\n### C\nc\n# D\nd\n';
    const { sections } = parseSections(text);
    expect(subtreeEnd(sections, 0)).toBe(sections[3]?.start);
    expect(subtreeEnd(sections, 1)).toBe(sections[3]?.start);
    expect(subtreeEnd(sections, 3)).toBe(text.length);
    expect(sectionAt(sections, text.indexOf('c\n'))?.anchor).toBe('a/b/c');
    expect(sectionAt(sections, text.length)).toBeUndefined();
  });
});
