/**
 * Spec ingestion (METHOD.md §0): a pasted text or a dropped file → one normalised text, its
 * SHA-256, a Section tree, the spec's worked examples and its commentary spans. Deterministic and
 * model-free: the same input and ids always give the same records.
 */
import { InvalidFileError } from '../errors';
import { estimateTokens } from '../llm';
import { countWords } from '../text';

export { countWords };
import type { Section, SpecExample, SpecFormat, SpecSourceType, SpecVersion } from '../records';
import { detectSourceType, fileExtension, looksLikeHtml } from './detect-type';
import { docxToText, type MammothLike } from './docx';
import { htmlToText } from './html-to-text';
import { assertSpecSize, decodeSpecBytes, normalizeSpecText, utf8ByteLength } from './normalize';
import { parseExamples, type MetaSpan } from './parse-examples';
import { DOCUMENT_ANCHOR, parseSections, type HeadingStyle } from './parse-markdown';
import { pdfToText, type PdfjsLike } from './pdf';
import { scanText } from './scan-lines';

export interface IngestInput {
  /** File name (or a label for pasted text); used for type detection, the title and messages. */
  name: string;
  /** The file's bytes. Either `bytes` or `text` is required. */
  bytes?: Uint8Array;
  /** Pasted or already-decoded text (HTML when `sourceType` is `html`). */
  text?: string;
  /** Overrides detection (PDF and DOCX claims are still checked against the bytes). */
  sourceType?: SpecSourceType;
}

/** Ids the records get. Supplied by the caller so that tests (and re-imports) are deterministic. */
export interface SpecIds {
  specVersionId: string;
  projectId: string;
  /** Example ids; default {@link defaultExampleId}. */
  exampleId?: (specVersionId: string, order: number) => string;
}

export interface IngestOptions {
  /** A loaded pdf.js module (see pdf.ts); loaded on demand when omitted. */
  pdfjs?: PdfjsLike;
  /** Loads pdf.js only when a PDF arrives (the browser worker's nested-worker set-up). */
  loadPdfjs?: () => Promise<PdfjsLike>;
  /** A loaded mammoth module (see docx.ts); loaded on demand when omitted. */
  mammoth?: MammothLike;
}

/** The SpecVersion fields ingestion knows; the caller adds id, project, version number and time. */
export type SpecVersionDraft = Omit<
  SpecVersion,
  'id' | 'projectId' | 'versionNumber' | 'createdAt'
>;

export interface IngestStats {
  /** Size of the input (file bytes, or UTF-8 bytes of pasted text). */
  inputBytes: number;
  /** Length of the normalised text in UTF-16 code units (the unit of every offset). */
  characters: number;
  words: number;
  /** {@link estimateTokens} of the whole text. */
  estimatedTokens: number;
  sections: number;
  examples: number;
  /** Labelled alternative replies over all examples. */
  comparisons: number;
  metaBlocks: number;
  headingStyle: HeadingStyle;
  /** Pages, for PDFs. */
  pages?: number;
}

export interface SpecIngestion {
  version: SpecVersionDraft;
  /** Document order; they tile `version.text` (see parse-markdown.ts). */
  sections: Section[];
  examples: SpecExample[];
  /** Commentary (`!!! meta`) spans: context for later stages, never rules. */
  metaSpans: MetaSpan[];
  stats: IngestStats;
  /** Non-fatal findings worth showing the user (duplicate ids, unlabelled replies…). */
  warnings: string[];
}

/** `Section.id`: the version id and the anchor, so a section is addressable across tables. */
export function sectionId(specVersionId: string, anchor: string): string {
  return `${specVersionId}#${anchor}`;
}

/** Default `SpecExample.id`: the version id and the example's document order. */
export function defaultExampleId(specVersionId: string, order: number): string {
  return `${specVersionId}:example:${order}`;
}

/** SHA-256 of the UTF-8 encoding of `text`, as lowercase hex (Web Crypto: browsers, workers, Node ≥ 20). */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Title for the version: the document's own title, a lone leading H1, else the file name. */
function chooseTitle(name: string, documentTitle: string | undefined, sections: Section[]): string {
  if (documentTitle?.trim()) return documentTitle.trim();
  const h1s = sections.filter((s) => s.level === 1);
  const only = h1s.length === 1 ? h1s[0] : undefined;
  if (only && only === sections.find((s) => s.level > 0) && only.anchor !== DOCUMENT_ANCHOR)
    return only.title;
  return baseName(name).replace(/_+/g, ' ').trim() || 'Untitled specification';
}

/** Rejects converted text with nothing readable in it, naming what was removed. */
function requireText(converted: string, name: string, what: string): string {
  if (converted.trim() === '')
    throw new InvalidFileError(`"${name}" contains no readable text ${what}.`);
  return converted;
}

/**
 * Reads a specification into records.
 *
 * @throws InvalidFileError for anything that is not a readable spec (empty, binary, invalid UTF-8,
 *   over 20 MB, corrupt PDF/DOCX, scanned PDF without text layer); nothing is half-imported.
 */
export async function ingestSpec(
  input: IngestInput,
  ids: SpecIds,
  options: IngestOptions = {},
): Promise<SpecIngestion> {
  const { name } = input;
  const warnings: string[] = [];
  let sourceType: SpecSourceType;
  let text: string;
  let documentTitle: string | undefined;
  let pages: number | undefined;
  let inputBytes: number;

  if (input.bytes) {
    const bytes = input.bytes;
    inputBytes = bytes.byteLength;
    assertSpecSize(bytes.byteLength, name);
    if (bytes.byteLength === 0) throw new InvalidFileError(`"${name}" is empty (0 bytes).`);
    sourceType = detectSourceType(name, bytes, input.sourceType);
    if (sourceType === 'pdf') {
      const pdf = await pdfToText(bytes, name, {
        ...(options.pdfjs ? { pdfjs: options.pdfjs } : {}),
        ...(options.loadPdfjs ? { loadPdfjs: options.loadPdfjs } : {}),
      });
      text = normalizeSpecText(requireText(pdf.text, name, 'in its text layer'), name);
      documentTitle = pdf.title;
      pages = pdf.pageCount;
    } else if (sourceType === 'docx') {
      const docx = await docxToText(
        bytes,
        name,
        options.mammoth ? { mammoth: options.mammoth } : {},
      );
      text = normalizeSpecText(requireText(docx.text, name, '(the document body is empty)'), name);
      warnings.push(...docx.warnings.slice(0, 20).map((w) => `DOCX: ${w}`));
    } else {
      text = decodeSpecBytes(bytes, name);
    }
  } else if (input.text !== undefined) {
    inputBytes = utf8ByteLength(input.text);
    sourceType = input.sourceType ?? 'paste';
    if (sourceType === 'pdf' || sourceType === 'docx') {
      throw new InvalidFileError(
        `"${name}" was given as text, but ${sourceType.toUpperCase()} needs the file's bytes.`,
      );
    }
    text = normalizeSpecText(input.text, name);
  } else {
    throw new InvalidFileError(
      `"${name}": nothing to import (neither file bytes nor text were given).`,
    );
  }

  // Pasted text has no extension: a whole HTML document ("view source") is converted like a file.
  if (sourceType === 'html' || (sourceType === 'paste' && looksLikeHtml(text.slice(0, 2048)))) {
    const html = htmlToText(text);
    documentTitle = html.title;
    text = normalizeSpecText(
      requireText(html.text, name, 'once markup and scripts are removed'),
      name,
    );
  }

  const scanned = scanText(text);
  const parsed = parseSections(text, { scanned, fallbackTitle: documentTitle ?? baseName(name) });
  warnings.push(...parsed.warnings);
  const { specVersionId, projectId } = ids;
  const sections: Section[] = parsed.sections.map((s) => ({
    id: sectionId(specVersionId, s.anchor),
    specVersionId,
    projectId,
    ...s,
  }));

  const parsedExamples = parseExamples(text, sections, { scanned });
  warnings.push(...parsedExamples.warnings);
  const exampleId = ids.exampleId ?? defaultExampleId;
  const examples: SpecExample[] = parsedExamples.examples.map((e) => ({
    id: exampleId(specVersionId, e.order),
    specVersionId,
    projectId,
    ...e,
  }));

  let format: SpecFormat;
  if (parsed.hasAuthorityAttributes) format = 'openai-model-spec';
  else if (parsed.headingStyle === 'atx' || sourceType === 'markdown') format = 'markdown';
  else format = 'plain';

  const version: SpecVersionDraft = {
    title: chooseTitle(name, documentTitle, sections),
    sourceName: name,
    sourceType,
    format,
    text,
    contentHash: await sha256Hex(text),
  };

  const stats: IngestStats = {
    inputBytes,
    characters: text.length,
    words: countWords(text),
    estimatedTokens: estimateTokens(text),
    sections: sections.length,
    examples: examples.length,
    comparisons: examples.reduce((n, e) => n + e.comparisons.length, 0),
    metaBlocks: parsedExamples.metaSpans.length,
    headingStyle: parsed.headingStyle,
    ...(pages !== undefined ? { pages } : {}),
  };

  return { version, sections, examples, metaSpans: parsedExamples.metaSpans, stats, warnings };
}

/** The extension-less base of a file name (exported for UI labels). */
export function baseName(name: string): string {
  const ext = fileExtension(name);
  const base = name.split(/[\\/]/).pop() ?? name;
  return ext ? base.slice(0, -(ext.length + 1)) : base;
}
