/**
 * Test fixtures for spec ingestion: the real Model Spec releases (copied with their CC0 licence
 * into `tests/fixtures/model-spec/`) and hand-built PDF and DOCX files.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest ancestor of this file holding package.json. */
function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above the tests');
    dir = up;
  }
  return dir;
}

/** The Model Spec releases inside the repository: a clone needs nothing beside it. */
export const CORPUS_DIR = path.resolve(repoRoot(), 'tests/fixtures/model-spec');

/** Release files `openai-model-spec-YYYY-MM-DD.md`, oldest first. */
export const MODEL_SPEC_FILES = readdirSync(CORPUS_DIR)
  .filter((f) => /^openai-model-spec-\d{4}-\d{2}-\d{2}\.md$/.test(f))
  .sort();

export function readCorpus(file: string): string {
  return readFileSync(path.join(CORPUS_DIR, file), 'utf8');
}

export function readCorpusBytes(file: string): Uint8Array {
  return new Uint8Array(readFileSync(path.join(CORPUS_DIR, file)));
}

export { buildDocx, buildPdf, type DocxParagraph } from '../../../fixtures/documents';
