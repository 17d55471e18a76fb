/**
 * Spec versions in the database: ingestion runs here, in the worker, off the UI thread, and the
 * whole version (text, sections, examples) is written in one transaction so a failure leaves
 * nothing half-imported.
 */
import { InvalidFileError } from '$lib/core/errors';
import type { SpecVersion } from '$lib/core/records';
import { diffSpecVersions, type SpecDiff } from '$lib/core/spec/diff';
import { ingestSpec, type IngestInput } from '$lib/core/spec/ingest';
import type { SpecAlignDb } from '$lib/db/database';
import { guardStorage } from '$lib/db/errors';
import { loadBrowserPdfjs } from './pdfjs-loader';

export interface ImportSpecResult {
  specVersionId: string;
  versionNumber: number;
  /** Set when the text is identical to an existing version: nothing new was stored. */
  duplicateOfVersion?: number;
  sections: number;
  examples: number;
  words: number;
  warnings: string[];
}

export async function importSpecVersion(
  db: SpecAlignDb,
  projectId: string,
  input: IngestInput,
): Promise<ImportSpecResult> {
  if (!(await db.projects.get(projectId)))
    throw new InvalidFileError('That project no longer exists.');
  const specVersionId = crypto.randomUUID();
  const ingestion = await ingestSpec(
    input,
    { specVersionId, projectId },
    { loadPdfjs: loadBrowserPdfjs },
  );
  const { version: draft, sections, examples, stats, metaSpans, warnings } = ingestion;

  const existing = await db.specVersions.where('projectId').equals(projectId).toArray();
  const same = existing.find((v) => v.contentHash === draft.contentHash);
  const result = {
    sections: stats.sections,
    examples: stats.examples,
    words: stats.words,
    warnings,
  };
  if (same) {
    return {
      ...result,
      specVersionId: same.id,
      versionNumber: same.versionNumber,
      duplicateOfVersion: same.versionNumber,
    };
  }
  const latest = existing.reduce<SpecVersion | undefined>(
    (a, v) => (!a || v.versionNumber > a.versionNumber ? v : a),
    undefined,
  );
  const version: SpecVersion = {
    ...draft,
    id: specVersionId,
    projectId,
    versionNumber: (latest?.versionNumber ?? 0) + 1,
    createdAt: Date.now(),
    metaSpans: metaSpans.map(({ start, end }) => ({ start, end })),
    stats: {
      words: stats.words,
      estimatedTokens: stats.estimatedTokens,
      sections: stats.sections,
      examples: stats.examples,
    },
    warnings,
    ...(latest ? { previousVersionId: latest.id } : {}),
  };
  await guardStorage(() =>
    db.transaction('rw', [db.specVersions, db.sections, db.specExamples, db.projects], async () => {
      await db.specVersions.add(version);
      await db.sections.bulkAdd(sections);
      await db.specExamples.bulkAdd(examples);
      await db.projects.update(projectId, { updatedAt: Date.now() });
    }),
  );
  return { ...result, specVersionId, versionNumber: version.versionNumber };
}

/** Section-level diff between two stored versions (small result: refs and word diffs). */
export async function diffStoredVersions(
  db: SpecAlignDb,
  oldId: string,
  newId: string,
): Promise<SpecDiff> {
  const [oldV, newV] = await Promise.all([db.specVersions.get(oldId), db.specVersions.get(newId)]);
  if (!oldV || !newV) throw new Error('One of the two spec versions no longer exists.');
  const [oldSections, newSections] = await Promise.all([
    db.sections
      .where('[specVersionId+order]')
      .between([oldId, -Infinity], [oldId, Infinity])
      .toArray(),
    db.sections
      .where('[specVersionId+order]')
      .between([newId, -Infinity], [newId, Infinity])
      .toArray(),
  ]);
  return diffSpecVersions(
    { sections: oldSections, text: oldV.text },
    { sections: newSections, text: newV.text },
  );
}
