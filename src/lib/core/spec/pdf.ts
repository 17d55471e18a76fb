/**
 * PDF → Markdown-ish text from the PDF's text layer, with pdf.js (`pdfjs-dist`).
 *
 * Where pdf.js parses is decided by {@link loadPdfjs} (in-thread in Node, a nested worker in the
 * browser); callers may pass their own loaded module instead. pdf.js 5 has no `disableWorker`
 * option any more: in-thread parsing is its "fake worker". `isEvalSupported: false` keeps pdf.js
 * from compiling fonts with `new Function`.
 *
 * Layout → text: items are joined into lines by baseline, a vertical gap larger than 1.5 lines
 * starts a new paragraph, and lines set noticeably larger than the body size (≥ 1.15×, short, one
 * or more lines at the same size) become `#` headings, the largest size `#`, the next `##`, the
 * next `###`, so the section parser finds structure in PDFs exported from word processors.
 */
import { InvalidFileError } from '../errors';

/** The part of a pdf.js text item we read. */
interface PdfTextItem {
  str: string;
  transform: number[];
  width: number;
  height: number;
  hasEOL?: boolean;
}

/** The part of the pdf.js API we use; both `pdfjs-dist` and its legacy build satisfy it. */
export interface PdfjsLike {
  getDocument(source: {
    data: Uint8Array;
    isEvalSupported?: boolean;
    disableFontFace?: boolean;
    useSystemFonts?: boolean;
    verbosity?: number;
  }): {
    promise: Promise<{
      numPages: number;
      getPage(pageNumber: number): Promise<{
        getTextContent(): Promise<{ items: unknown[] }>;
        cleanup?(): unknown;
      }>;
      getMetadata?(): Promise<{ info?: unknown }>;
      destroy(): Promise<void>;
    }>;
    destroy(): Promise<void>;
  };
}

export interface PdfText {
  text: string;
  pageCount: number;
  /** The PDF's own Title metadata, when set. */
  title?: string;
}

let pdfjsPromise: Promise<PdfjsLike> | undefined;

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/**
 * Loads pdf.js once, for Node (tests, CLI): the legacy build, which parses in-thread (the modern
 * build needs newer JS than Node 20). In the browser the pipeline worker passes its own loader
 * (`src/lib/worker/pdfjs-loader.ts`), which runs pdf.js's parser in a nested worker: core stays
 * free of workers and bundler specifics.
 */
export function loadPdfjs(): Promise<PdfjsLike> {
  pdfjsPromise ??= (async () => {
    if (isNode()) {
      // Kept out of the browser bundle on purpose: a variable specifier is not followed by Vite.
      const legacy = 'pdfjs-dist/legacy/build/pdf.mjs';
      return (await import(/* @vite-ignore */ legacy)) as PdfjsLike;
    }
    return (await import('pdfjs-dist')) as unknown as PdfjsLike;
  })();
  pdfjsPromise.catch(() => (pdfjsPromise = undefined));
  return pdfjsPromise;
}

function isTextItem(item: unknown): item is PdfTextItem {
  return (
    typeof item === 'object' &&
    item !== null &&
    typeof (item as PdfTextItem).str === 'string' &&
    Array.isArray((item as PdfTextItem).transform)
  );
}

interface PdfLine {
  text: string;
  y: number;
  size: number;
  page: number;
}

/** Groups a page's text items into lines (top to bottom as pdf.js delivers them). */
function pageLines(items: PdfTextItem[], page: number): PdfLine[] {
  const lines: PdfLine[] = [];
  let current: (PdfLine & { endX: number }) | undefined;
  for (const item of items) {
    const [a = 0, b = 0, c = 0, d = 0, x = 0, y = 0] = item.transform;
    const size = Math.hypot(c, d) || Math.hypot(a, b) || item.height || 1;
    if (item.str === '') {
      if (item.hasEOL && current) current.endX = Number.NEGATIVE_INFINITY;
      continue;
    }
    const sameLine = current && Math.abs(y - current.y) <= Math.max(current.size, size) * 0.5;
    if (current && sameLine && current.endX !== Number.NEGATIVE_INFINITY) {
      const gap = x - current.endX;
      const needsSpace =
        gap > size * 0.15 && !current.text.endsWith(' ') && !item.str.startsWith(' ');
      current.text += (needsSpace ? ' ' : '') + item.str;
      current.size = Math.max(current.size, size);
    } else {
      if (current) lines.push(current);
      current = { text: item.str, y, size, page, endX: x };
    }
    current.endX = item.hasEOL ? Number.NEGATIVE_INFINITY : x + item.width;
  }
  if (current) lines.push(current);
  return lines
    .map(({ text, y, size }) => ({ text: text.replace(/\s+/g, ' ').trim(), y, size, page }))
    .filter((l) => l.text !== '');
}

/** Rounds a font size so that 11.98 and 12.02 count as the same size. */
const sizeKey = (size: number): number => Math.round(size * 2) / 2;

/** Turns positioned lines into paragraphs and `#` headings (see module comment). */
export function layoutPdfLines(lines: PdfLine[]): string {
  if (lines.length === 0) return '';
  const charsBySize = new Map<number, number>();
  for (const l of lines)
    charsBySize.set(sizeKey(l.size), (charsBySize.get(sizeKey(l.size)) ?? 0) + l.text.length);
  const body = [...charsBySize.entries()].sort((x, y) => y[1] - x[1])[0]?.[0] ?? 12;
  const isHeading = (l: PdfLine): boolean =>
    sizeKey(l.size) >= body * 1.15 && l.text.length <= 120 && /\p{L}/u.test(l.text);
  const headingSizes = [...new Set(lines.filter(isHeading).map((l) => sizeKey(l.size)))].sort(
    (x, y) => y - x,
  );
  const levelOf = (l: PdfLine): number => Math.min(3, headingSizes.indexOf(sizeKey(l.size)) + 1);

  const out: string[] = [];
  let prev: PdfLine | undefined;
  let paragraph: string[] = [];
  let headingRun: { level: number; size: number; parts: string[] } | undefined;
  const flushParagraph = (): void => {
    if (paragraph.length) out.push(paragraph.join('\n'));
    paragraph = [];
  };
  const flushHeading = (): void => {
    if (headingRun) out.push(`${'#'.repeat(headingRun.level)} ${headingRun.parts.join(' ')}`);
    headingRun = undefined;
  };

  for (const line of lines) {
    if (isHeading(line)) {
      flushParagraph();
      const continues =
        headingRun &&
        prev &&
        prev.page === line.page &&
        sizeKey(line.size) === headingRun.size &&
        Math.abs(prev.y - line.y) <= line.size * 1.6;
      if (!continues) {
        flushHeading();
        headingRun = { level: levelOf(line), size: sizeKey(line.size), parts: [] };
      }
      headingRun?.parts.push(line.text);
    } else {
      flushHeading();
      const gap =
        prev && prev.page === line.page ? Math.abs(prev.y - line.y) : Number.POSITIVE_INFINITY;
      if (prev && gap > Math.max(prev.size, line.size) * 1.5) flushParagraph();
      // Escape line starts that Markdown would read as structure.
      paragraph.push(line.text.replace(/^(#|`{3}|~{3}|!!!)/, '\\$1'));
    }
    prev = line;
  }
  flushParagraph();
  flushHeading();
  return out.join('\n\n');
}

function describePdfError(error: unknown): string {
  const name = error instanceof Error ? error.name : '';
  const message = (error instanceof Error ? error.message : String(error)).replace(/\.+$/, '');
  if (name === 'PasswordException')
    return 'it is password-protected; remove the password and try again';
  return `it is damaged or not a PDF (${message || name || 'unknown error'})`;
}

/**
 * Extracts the text layer of a PDF as Markdown-ish text.
 *
 * @param options.pdfjs a loaded pdf.js module (either build); else `options.loadPdfjs`, else
 *   {@link loadPdfjs}.
 * @throws InvalidFileError when the PDF cannot be opened, or has no text layer (a scan: it needs OCR).
 */
export async function pdfToText(
  bytes: Uint8Array,
  name: string,
  options: { pdfjs?: PdfjsLike; loadPdfjs?: () => Promise<PdfjsLike> } = {},
): Promise<PdfText> {
  const pdfjs = options.pdfjs ?? (await (options.loadPdfjs ?? loadPdfjs)());
  // pdf.js may transfer (detach) the buffer it is given: pass a copy.
  const task = pdfjs.getDocument({
    data: bytes.slice(),
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    verbosity: 0,
  });
  let doc: Awaited<typeof task.promise>;
  try {
    doc = await task.promise;
  } catch (cause) {
    await task.destroy().catch(() => undefined);
    throw new InvalidFileError(
      `"${name}" could not be opened as a PDF: ${describePdfError(cause)}.`,
      { cause },
    );
  }
  try {
    const lines: PdfLine[] = [];
    for (let p = 1; p <= doc.numPages; p++) {
      const page = await doc.getPage(p);
      const content = await page.getTextContent();
      lines.push(...pageLines(content.items.filter(isTextItem), p));
      page.cleanup?.();
    }
    const text = layoutPdfLines(lines);
    const visible = text.replace(/[\s#\\]/g, '').length;
    if (visible === 0 || (doc.numPages >= 3 && visible / doc.numPages < 10)) {
      throw new InvalidFileError(
        `"${name}" has no text layer (${doc.numPages} page${doc.numPages === 1 ? '' : 's'}, ` +
          `${visible === 0 ? 'no' : 'almost no'} selectable text): it looks like a scanned document. ` +
          'Run OCR on it first (e.g. "Make searchable" in a PDF tool), or paste the text instead.',
      );
    }
    let title: string | undefined;
    try {
      const info = (await doc.getMetadata?.())?.info as { Title?: unknown } | undefined;
      if (typeof info?.Title === 'string' && info.Title.trim()) title = info.Title.trim();
    } catch {
      // Metadata is optional; a broken Info dictionary is not worth failing the import.
    }
    return { text, pageCount: doc.numPages, ...(title ? { title } : {}) };
  } catch (error) {
    if (error instanceof InvalidFileError) throw error;
    throw new InvalidFileError(
      `"${name}" could not be read as a PDF: ${describePdfError(error)}.`,
      {
        cause: error,
      },
    );
  } finally {
    await doc.destroy().catch(() => undefined);
  }
}
