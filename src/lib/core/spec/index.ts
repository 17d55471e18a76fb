/**
 * Spec ingestion (METHOD.md §0): deterministic, model-free, pure TypeScript that runs unchanged in
 * the pipeline worker and in Node. Start with {@link ingestSpec} and {@link diffSpecVersions}.
 */
export {
  ingestSpec,
  sectionId,
  defaultExampleId,
  sha256Hex,
  countWords,
  baseName,
  type IngestInput,
  type IngestOptions,
  type IngestStats,
  type SpecIds,
  type SpecIngestion,
  type SpecVersionDraft,
} from './ingest';
export {
  diffSpecVersions,
  jaccard,
  DEFAULT_SIMILARITY_THRESHOLD,
  MAX_SIMILARITY_PAIRS,
  type ChangedSection,
  type DiffOptions,
  type DiffSide,
  type DiffableSection,
  type SectionChangeKind,
  type SectionRef,
  type SpecDiff,
  type WordDiffPart,
} from './diff';
export {
  parseSections,
  subtreeEnd,
  sectionAt,
  PREAMBLE_ANCHOR,
  DOCUMENT_ANCHOR,
  type ParsedSection,
  type ParsedSections,
  type HeadingStyle,
} from './parse-markdown';
export {
  parseExamples,
  type MetaSpan,
  type ParsedExample,
  type ParsedExamples,
} from './parse-examples';
export { htmlToText, type HtmlConversion } from './html-to-text';
export { pdfToText, loadPdfjs, type PdfjsLike, type PdfText } from './pdf';
export { docxToText, loadMammoth, type MammothLike, type DocxText } from './docx';
export { detectSourceType } from './detect-type';
export { MAX_SPEC_BYTES, decodeSpecBytes, normalizeSpecText } from './normalize';
