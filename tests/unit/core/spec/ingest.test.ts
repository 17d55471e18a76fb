import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidFileError } from '../../../../src/lib/core/errors';
import { estimateTokens } from '../../../../src/lib/core/llm';
import { MAX_SPEC_BYTES } from '../../../../src/lib/core/spec/normalize';
import { detectSourceType } from '../../../../src/lib/core/spec/detect-type';
import {
  countWords,
  ingestSpec,
  sectionId,
  type IngestInput,
} from '../../../../src/lib/core/spec/ingest';
import { MODEL_SPEC_FILES, buildDocx, buildPdf, readCorpus, readCorpusBytes } from './fixtures';

const ids = { specVersionId: 'v1', projectId: 'p1' };
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

async function rejection(input: IngestInput): Promise<InvalidFileError> {
  const error = await ingestSpec(input, ids).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(InvalidFileError);
  return error as InvalidFileError;
}

describe('ingestSpec on the Model Spec corpus', () => {
  const latest = MODEL_SPEC_FILES[MODEL_SPEC_FILES.length - 1] as string;

  it('produces a version, sections with ids, examples and stats', async () => {
    const text = readCorpus(latest);
    const result = await ingestSpec({ name: latest, bytes: readCorpusBytes(latest) }, ids);
    expect(result.version).toEqual({
      title: latest.replace(/\.md$/, ''),
      sourceName: latest,
      sourceType: 'markdown',
      format: 'openai-model-spec',
      text,
      contentHash: createHash('sha256').update(text, 'utf8').digest('hex'),
    });
    for (const s of result.sections) {
      expect(s.id).toBe(sectionId('v1', s.anchor));
      expect(s.id).toBe(`v1#${s.anchor}`);
      expect(s).toMatchObject({ specVersionId: 'v1', projectId: 'p1' });
    }
    expect(new Set(result.sections.map((s) => s.id)).size).toBe(result.sections.length);
    expect(new Set(result.examples.map((e) => e.id)).size).toBe(result.examples.length);
    expect(result.examples[0]).toMatchObject({
      id: 'v1:example:0',
      specVersionId: 'v1',
      projectId: 'p1',
    });
    const anchors = new Set(result.sections.map((s) => s.anchor));
    expect(result.examples.every((e) => anchors.has(e.sectionAnchor))).toBe(true);
    expect(result.stats).toEqual({
      inputBytes: readCorpusBytes(latest).byteLength,
      characters: text.length,
      words: text.split(/\s+/).filter(Boolean).length,
      estimatedTokens: estimateTokens(text),
      sections: (text.match(/^#{1,6} .*\{#/gm) ?? []).length,
      examples: result.examples.length,
      comparisons: (text.match(/<!--\s*(GOOD|BAD|OK)\b/g) ?? []).length,
      metaBlocks: (text.match(/^!!! meta/gm) ?? []).length,
      headingStyle: 'atx',
    });
    expect(result.warnings).toEqual([]);
  });

  it('is deterministic, and ids are injectable', async () => {
    const input = { name: latest, text: readCorpus(latest), sourceType: 'markdown' as const };
    const a = await ingestSpec(input, ids);
    const b = await ingestSpec(input, ids);
    expect(b).toEqual(a);
    const custom = await ingestSpec(input, { ...ids, exampleId: (v, n) => `${v}/ex/${n}` });
    expect(custom.examples.map((e) => e.id)).toEqual(a.examples.map((e) => `v1/ex/${e.order}`));
  });
});

describe('ingestSpec on other inputs', () => {
  it('takes pasted text; CRLF becomes LF and offsets point into the normalised text', async () => {
    const r = await ingestSpec(
      { name: 'Pasted', text: '# Rules\r\n\r\nBe kind.\r\n## Scope\r\nAll replies.\r\n' },
      ids,
    );
    expect(r.version).toMatchObject({ sourceType: 'paste', format: 'markdown', title: 'Rules' });
    expect(r.version.text).toBe('# Rules\n\nBe kind.\n## Scope\nAll replies.\n');
    const scope = r.sections[1];
    expect(r.version.text.slice(scope?.start, scope?.bodyStart)).toBe('## Scope\n');
    expect(r.version.text.slice(scope?.bodyStart, scope?.end)).toBe('All replies.\n');
  });

  it('reads plain text without headings as one section', async () => {
    const r = await ingestSpec({ name: 'notes.txt', bytes: utf8('Be kind.\nBe honest.\n') }, ids);
    expect(r.version).toMatchObject({ sourceType: 'text', format: 'plain', title: 'notes' });
    expect(r.sections).toEqual([
      expect.objectContaining({
        id: 'v1#document',
        anchor: 'document',
        title: 'notes',
        start: 0,
        end: 20,
      }),
    ]);
    expect(r.stats).toMatchObject({ words: 4, sections: 1, examples: 0, headingStyle: 'none' });
  });

  it('reads UTF-16 files', async () => {
    const s = '# Ünïcode\n\nText.';
    const bytes = new Uint8Array(2 + s.length * 2);
    bytes.set([0xff, 0xfe]);
    for (let i = 0; i < s.length; i++)
      bytes.set([s.charCodeAt(i) & 0xff, s.charCodeAt(i) >> 8], 2 + i * 2);
    const r = await ingestSpec({ name: 'u.md', bytes }, ids);
    expect(r.version.text).toBe(s);
    expect(r.sections[0]?.anchor).toBe('ünïcode');
  });

  it('converts HTML, dropping scripts, and uses its <title>', async () => {
    const html =
      '<!doctype html><title>Shop bot spec</title><script>alert("<h1>x</h1>")</script>' +
      '<h1>Refunds</h1><p>The assistant <b>must not</b> promise refunds.</p>';
    const r = await ingestSpec({ name: 'spec', bytes: utf8(html) }, ids);
    expect(r.version).toMatchObject({
      sourceType: 'html',
      format: 'markdown',
      title: 'Shop bot spec',
    });
    expect(r.version.text).toBe('# Refunds\n\nThe assistant must not promise refunds.');
    expect(r.version.text).not.toContain('alert');
    expect(r.sections.map((s) => s.anchor)).toEqual(['refunds']);
  });

  it('converts a pasted whole HTML document, but leaves Markdown with inline tags alone', async () => {
    const html = await ingestSpec(
      { name: 'Pasted', text: '<html><body><h2>Tone</h2><p>Be <em>brief</em>.</p></body></html>' },
      ids,
    );
    expect(html.version).toMatchObject({ sourceType: 'paste', text: '## Tone\n\nBe brief.' });
    const md = await ingestSpec(
      { name: 'Pasted', text: '# Tone\n\nUse <kbd>Ctrl</kbd> rarely.' },
      ids,
    );
    expect(md.version.text).toBe('# Tone\n\nUse <kbd>Ctrl</kbd> rarely.');
  });

  it('reads a generated DOCX into sections', async () => {
    const docx = buildDocx([
      { text: 'Scope', style: 'Heading1' },
      { text: 'The assistant answers questions about cooking.' },
      { text: 'Safety', style: 'Heading1' },
      { text: 'Knives', style: 'Heading2' },
      { text: 'It must explain safe knife handling.' },
    ]);
    const r = await ingestSpec({ name: 'cooking.docx', bytes: docx }, ids);
    expect(r.version).toMatchObject({ sourceType: 'docx', format: 'markdown' });
    expect(r.sections.map((s) => [s.anchor, s.level, s.parentAnchor])).toEqual([
      ['scope', 1, undefined],
      ['safety', 1, undefined],
      ['safety/knives', 2, 'safety'],
    ]);
    const knives = r.sections[2];
    expect(r.version.text.slice(knives?.bodyStart, knives?.end).trim()).toBe(
      'It must explain safe knife handling.',
    );
  });

  it('reads a generated text PDF', async () => {
    const r = await ingestSpec(
      { name: 'hello.pdf', bytes: buildPdf('BT /F1 12 Tf 72 720 Td (Hello rules) Tj ET') },
      ids,
    );
    expect(r.version).toMatchObject({ sourceType: 'pdf', format: 'plain', text: 'Hello rules' });
    expect(r.stats.pages).toBe(1);
  });
});

describe('ingestSpec rejects bad input', () => {
  it('empty and whitespace-only files', async () => {
    expect((await rejection({ name: 'e.md', bytes: new Uint8Array() })).message).toContain(
      'is empty',
    );
    expect((await rejection({ name: 'w.md', bytes: utf8('  \n\t\n') })).message).toContain(
      'only whitespace',
    );
    expect((await rejection({ name: 'paste', text: '   ' })).message).toContain('only whitespace');
  });

  it('binary data and invalid UTF-8', async () => {
    const gif = Uint8Array.from([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 1, 0, 1, 0, 0x80, 0, 0]);
    expect((await rejection({ name: 'a.gif', bytes: gif })).message).toContain(
      'looks like a GIF image',
    );
    const bad = Uint8Array.from([...utf8('Hello '), 0xff, 0xfe, 0xfd, ...utf8(' world')]);
    expect((await rejection({ name: 'bad.md', bytes: bad })).message).toContain('not valid UTF-8');
  });

  it('more than 20 MB', async () => {
    const big = new Uint8Array(MAX_SPEC_BYTES + 1).fill(0x20);
    expect((await rejection({ name: 'big.md', bytes: big })).message).toContain(
      'limit for a specification is 20 MB',
    );
  });

  it('HTML with nothing readable', async () => {
    const html = '<html><script>document.title = "x"</script><style>b{}</style></html>';
    expect((await rejection({ name: 'x.html', bytes: utf8(html) })).message).toContain(
      'no readable text',
    );
  });

  it('a PDF without a text layer, and a corrupt DOCX', async () => {
    const scan = buildPdf('0.5 g 0 0 612 792 re f');
    expect((await rejection({ name: 'scan.pdf', bytes: scan })).message).toContain(
      'looks like a scanned document',
    );
    const docx = buildDocx([{ text: 'x' }]);
    const corrupt = docx.slice(0, docx.length - 30); // the end of central directory is cut off
    expect((await rejection({ name: 'c.docx', bytes: corrupt })).message).toMatch(
      /not a Word|could not be read as a Word document/,
    );
  });

  it('names that contradict the content, and the legacy .doc format', async () => {
    expect((await rejection({ name: 'fake.pdf', bytes: utf8('hello') })).message).toContain(
      'is not a PDF',
    );
    expect((await rejection({ name: 'fake.docx', bytes: utf8('hello') })).message).toContain(
      'not a Word document',
    );
    const zip = buildDocx([{ text: 'x' }]).slice();
    expect(detectSourceType('renamed.txt', zip)).toBe('docx');
    expect((await rejection({ name: 'old.doc', bytes: utf8('whatever') })).message).toContain(
      'legacy Word .doc',
    );
  });
});

describe('countWords', () => {
  it('counts whitespace-separated words', () => {
    expect(countWords('')).toBe(0);
    expect(countWords('  one two\nthree\t four  ')).toBe(4);
  });
});
