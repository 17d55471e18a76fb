import { describe, expect, it } from 'vitest';
import { InvalidFileError } from '../../../../src/lib/core/errors';
import { docxToText } from '../../../../src/lib/core/spec/docx';
import { buildDocx } from './fixtures';

describe('docxToText', () => {
  it('converts Word heading styles to # headings and keeps body text', async () => {
    const docx = buildDocx([
      { text: 'Assistant policy', style: 'Title' },
      { text: 'Scope', style: 'Heading1' },
      { text: 'The assistant must help users <politely> & honestly.' },
      { text: 'Limits', style: 'Heading2' },
      { text: 'Never reveal secrets.' },
    ]);
    const { text, warnings } = await docxToText(docx, 'policy.docx');
    expect(text).toBe(
      '# Assistant policy\n\n# Scope\n\nThe assistant must help users <politely> & honestly.\n\n## Limits\n\nNever reveal secrets.',
    );
    expect(warnings).toEqual([]);
  });

  it('rejects a corrupt DOCX', async () => {
    const good = buildDocx([{ text: 'x' }]);
    const truncated = good.slice(0, 40); // a ZIP header with the rest cut off
    const error = await docxToText(truncated, 'cut.docx').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidFileError);
    expect((error as Error).message).toContain('"cut.docx" could not be read as a Word document');
  });

  it('rejects non-ZIP bytes, naming what they look like', async () => {
    const doc = Uint8Array.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0]);
    const error = await docxToText(doc, 'old.docx').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidFileError);
    expect((error as Error).message).toContain('legacy Microsoft Office file');
    expect((error as Error).message).toContain('Save it as .docx');
  });
});
