/**
 * Which reader a dropped file needs: magic bytes first (they cannot lie about PDF and ZIP), then
 * the file extension, then a look at the text itself.
 */
import { InvalidFileError } from '../errors';
import type { SpecSourceType } from '../records';
import { describeMagicBytes } from './normalize';

const EXTENSIONS: Record<string, SpecSourceType> = {
  md: 'markdown',
  markdown: 'markdown',
  mdown: 'markdown',
  mkd: 'markdown',
  mdx: 'markdown',
  txt: 'text',
  text: 'text',
  htm: 'html',
  html: 'html',
  xhtml: 'html',
  pdf: 'pdf',
  docx: 'docx',
};

/** Lowercased extension of a file name without the dot, or '' when it has none. */
export function fileExtension(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? name;
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
}

const startsWith = (bytes: Uint8Array, sig: number[]): boolean =>
  sig.every((b, i) => bytes[i] === b);
const isPdf = (b: Uint8Array): boolean => startsWith(b, [0x25, 0x50, 0x44, 0x46, 0x2d]);
const isZip = (b: Uint8Array): boolean => startsWith(b, [0x50, 0x4b, 0x03, 0x04]);

/** True when a ZIP archive names a `word/document.xml` entry (entry names are stored uncompressed). */
function zipHasWordDocument(bytes: Uint8Array): boolean {
  const needle = new TextEncoder().encode('word/document.xml');
  const first = needle[0] as number;
  for (
    let i = bytes.indexOf(first);
    i !== -1 && i <= bytes.length - needle.length;
    i = bytes.indexOf(first, i + 1)
  ) {
    let k = 1;
    while (k < needle.length && bytes[i + k] === needle[k]) k++;
    if (k === needle.length) return true;
  }
  return false;
}

/** True when the start of a text looks like an HTML document rather than Markdown with some tags. */
export function looksLikeHtml(head: string): boolean {
  return /^\s*(?:<\?xml[^>]*>\s*)?(?:<!--[\s\S]*?-->\s*)*<(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>])/i.test(
    head,
  );
}

/**
 * Detects the source type of a file from its bytes and name.
 *
 * @param claimed a type the caller already believes (e.g. from a file picker filter); PDF and DOCX
 *   claims are checked against the magic bytes.
 * @throws InvalidFileError when the name and the content disagree (a `.pdf` that is no PDF), for
 *   ZIP archives that are not Word documents, and for the legacy `.doc` format.
 */
export function detectSourceType(
  name: string,
  bytes: Uint8Array,
  claimed?: SpecSourceType,
): SpecSourceType {
  const ext = fileExtension(name);
  const byName = claimed && claimed !== 'paste' ? claimed : EXTENSIONS[ext];
  const looksLike = (): string => describeMagicBytes(bytes) ?? 'something else';

  // Magic bytes cannot lie: a PDF saved as "spec.txt" is still read as a PDF.
  if (isPdf(bytes)) return 'pdf';
  if (isZip(bytes)) {
    if (!zipHasWordDocument(bytes)) {
      throw new InvalidFileError(
        `"${name}" is a ZIP archive but not a Word (.docx) document (no word/document.xml inside). ` +
          'Upload the specification itself: Markdown, plain text, HTML, PDF or DOCX.',
      );
    }
    return 'docx';
  }
  if (byName === 'pdf')
    throw new InvalidFileError(
      `"${name}" is named .pdf but is not a PDF: it looks like ${looksLike()}.`,
    );
  if (byName === 'docx') {
    throw new InvalidFileError(
      `"${name}" is named .docx but is not a Word document: it looks like ${looksLike()}.`,
    );
  }
  if (ext === 'doc' || startsWith(bytes, [0xd0, 0xcf, 0x11, 0xe0])) {
    throw new InvalidFileError(
      `"${name}" is in the legacy Word .doc format, which cannot be read here. Save it as .docx (or PDF) and try again.`,
    );
  }
  if (byName) return byName;
  const head = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, 2048));
  return looksLikeHtml(head) ? 'html' : 'text';
}
