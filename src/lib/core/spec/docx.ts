/**
 * DOCX → Markdown-ish text: mammoth turns the document into semantic HTML (Word heading styles →
 * `<h1>`…`<h6>`, lists, tables), then {@link htmlToText} makes it the text every offset points into.
 *
 * We use mammoth's self-contained browser bundle (`mammoth/mammoth.browser.js`) everywhere: it
 * needs no Node built-ins, so the worker and the Node tests run exactly the same code. Images are
 * dropped (not base64-inlined) because a spec's rules are in its text.
 */
import { InvalidFileError } from '../errors';
import { htmlToText } from './html-to-text';
import { describeMagicBytes } from './normalize';

/** The part of mammoth's API we use. */
export interface MammothLike {
  convertToHtml(
    input: { arrayBuffer: ArrayBuffer },
    options?: { styleMap?: string[]; convertImage?: unknown; ignoreEmptyParagraphs?: boolean },
  ): Promise<{ value: string; messages: { type: string; message: string }[] }>;
  images: { imgElement(f: (image: unknown) => Promise<{ src: string }>): unknown };
}

export interface DocxText {
  text: string;
  /** mammoth's warnings (unknown styles, unsupported elements), deduplicated. */
  warnings: string[];
}

/**
 * Style ids as well as names: documents written by generators (and the test fixtures) often lack
 * `styles.xml`, so mammoth only sees the id (`Heading1`) and its default name-based map misses it.
 */
const STYLE_MAP = [
  "p[style-name='Title'] => h1:fresh",
  "p[style-name='Subtitle'] => h2:fresh",
  'p.Title => h1:fresh',
  'p.Subtitle => h2:fresh',
  ...[1, 2, 3, 4, 5, 6].map((n) => `p.Heading${n} => h${n}:fresh`),
];

let mammothPromise: Promise<MammothLike> | undefined;

/** Loads mammoth's browser bundle once (CommonJS default export, whichever way it is interop'd). */
export function loadMammoth(): Promise<MammothLike> {
  mammothPromise ??= import('mammoth/mammoth.browser.js').then((mod) => {
    const withDefault = mod as { default?: MammothLike };
    return (withDefault.default ?? mod) as unknown as MammothLike;
  });
  mammothPromise.catch(() => (mammothPromise = undefined));
  return mammothPromise;
}

const isZip = (b: Uint8Array): boolean =>
  b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;

/**
 * Converts a .docx file to Markdown-ish text.
 *
 * @param options.mammoth a loaded mammoth module; defaults to {@link loadMammoth}.
 * @throws InvalidFileError when the bytes are not a readable Word document.
 */
export async function docxToText(
  bytes: Uint8Array,
  name: string,
  options: { mammoth?: MammothLike } = {},
): Promise<DocxText> {
  if (!isZip(bytes)) {
    const kind = describeMagicBytes(bytes);
    throw new InvalidFileError(
      `"${name}" is not a Word (.docx) document: ${kind ? `it looks like ${kind}` : 'it is not a ZIP archive, which every .docx is'}.` +
        (kind?.includes('legacy Microsoft Office')
          ? ' Save it as .docx in Word and try again.'
          : ''),
    );
  }
  const mammoth = options.mammoth ?? (await loadMammoth());
  const arrayBuffer = bytes.buffer.slice(
    bytes.byteOffset,
    bytes.byteOffset + bytes.byteLength,
  ) as ArrayBuffer;
  let result: Awaited<ReturnType<MammothLike['convertToHtml']>>;
  try {
    result = await mammoth.convertToHtml(
      { arrayBuffer },
      {
        styleMap: STYLE_MAP,
        convertImage: mammoth.images.imgElement(() => Promise.resolve({ src: '' })),
        ignoreEmptyParagraphs: true,
      },
    );
  } catch (cause) {
    const reason = (cause instanceof Error ? cause.message : String(cause)).replace(/\.+$/, '');
    throw new InvalidFileError(
      `"${name}" could not be read as a Word document: it is damaged or not a .docx file (${reason}).`,
      { cause },
    );
  }
  // Styles we map by id (see STYLE_MAP) are expected to lack a definition: not worth a warning.
  const mappedById =
    /^Paragraph style with ID (Heading[1-6]|Title|Subtitle) was referenced but not defined/;
  const warnings = [...new Set(result.messages.map((m) => m.message))].filter(
    (m) => !mappedById.test(m),
  );
  return { text: htmlToText(result.value).text, warnings };
}
