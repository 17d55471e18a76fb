import { describe, expect, it } from 'vitest';
import { InvalidFileError } from '../../../../src/lib/core/errors';
import { layoutPdfLines, loadPdfjs, pdfToText } from '../../../../src/lib/core/spec/pdf';
import { buildPdf } from './fixtures';

describe('pdfToText', () => {
  it('reads the text layer of a hand-written PDF', async () => {
    const pdf = buildPdf('BT /F1 12 Tf 72 720 Td (Hello rules) Tj ET', { title: 'Rule book' });
    expect(await pdfToText(pdf, 'hello.pdf')).toEqual({
      text: 'Hello rules',
      pageCount: 1,
      title: 'Rule book',
    });
  });

  it('turns larger type into headings and separates paragraphs', async () => {
    const pdf = buildPdf(
      [
        'BT /F1 20 Tf 72 720 Td (Safety rules) Tj ET',
        'BT /F1 12 Tf 72 690 Td (The assistant must not help with weapons.) Tj ET',
        'BT /F1 12 Tf 72 676 Td (It should explain why.) Tj ET',
        'BT /F1 12 Tf 72 640 Td (A second paragraph.) Tj ET',
      ].join('\n'),
    );
    expect((await pdfToText(pdf, 'h.pdf')).text).toBe(
      '# Safety rules\n\nThe assistant must not help with weapons.\nIt should explain why.\n\nA second paragraph.',
    );
  });

  it('rejects a PDF without a text layer as scanned', async () => {
    // A valid page whose content only paints a rectangle: no text operators at all.
    const pdf = buildPdf('0 0 1 rg 72 72 200 200 re f');
    const error = await pdfToText(pdf, 'scan.pdf').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidFileError);
    expect((error as Error).message).toContain(
      '"scan.pdf" has no text layer (1 page, no selectable text)',
    );
    expect((error as Error).message).toContain('scanned');
    expect((error as Error).message).toContain('OCR');
  });

  it('rejects a corrupt PDF', async () => {
    const bytes = new TextEncoder().encode('%PDF-1.7\nthis is not really a pdf\n');
    const error = await pdfToText(bytes, 'broken.pdf').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidFileError);
    expect((error as Error).message).toMatch(
      /^"broken\.pdf" could not be (opened|read) as a PDF: it is damaged/,
    );
  });

  it('accepts a pdf.js module from the caller', async () => {
    const pdfjs = await loadPdfjs();
    const pdf = buildPdf('BT /F1 12 Tf 72 720 Td (Injected) Tj ET');
    expect((await pdfToText(pdf, 'x.pdf', { pdfjs })).text).toBe('Injected');
  });

  it('lays out lines by size', () => {
    const line = (text: string, y: number, size = 10) => ({ text, y, size, page: 1 });
    expect(
      layoutPdfLines([
        line('Big', 700, 24),
        line('Mid', 670, 16),
        line('body text', 650),
        line('more', 638),
      ]),
    ).toBe('# Big\n\n## Mid\n\nbody text\nmore');
    expect(layoutPdfLines([])).toBe('');
  });
});
