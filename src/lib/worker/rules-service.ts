/** Rule coverage and rules files, computed in the worker (they need the spec text and zod). */
import { detectNormativeSentences } from '$lib/core/rules/normative';
import { measureCoverage } from '$lib/core/rules/coverage';
import { importRules, parseRulesFile, serializeRulesFile } from '$lib/core/rules/rules-file';
import type { SpecAlignDb } from '$lib/db/database';
import { addImportedRules, rulesOfVersion } from '$lib/db/rules';
import { versionSections } from './runs/annotation';

/** Small enough to cross postMessage on every change of the rules. */
export interface CoverageSummary {
  total: number;
  covered: number;
  ratio: number;
  /** Uncovered normative sentences (capped), with the section they are in. */
  uncovered: { anchor: string; title: string; text: string; start: number }[];
  uncoveredCount: number;
  /** Sections with normative sentences but no rule at all. */
  sectionsWithoutRules: { anchor: string; title: string }[];
}

const MAX_UNCOVERED = 200;

export async function ruleCoverage(
  db: SpecAlignDb,
  specVersionId: string,
): Promise<CoverageSummary> {
  const version = await db.specVersions.get(specVersionId);
  if (!version) throw new Error('That spec version no longer exists.');
  const [sections, rules] = await Promise.all([
    versionSections(db, specVersionId),
    rulesOfVersion(db, specVersionId),
  ]);
  const normative = detectNormativeSentences(version.text, 0, {
    excludeSpans: version.metaSpans ?? [],
  });
  const report = measureCoverage(normative, rules, sections);
  const titleOf = new Map(sections.map((s) => [s.anchor, s.title]));
  return {
    total: report.total,
    covered: report.covered,
    ratio: report.ratio,
    uncoveredCount: report.uncovered.length,
    uncovered: report.uncoveredSections
      .flatMap((s) =>
        s.uncovered.map((u) => ({
          anchor: s.anchor,
          title: s.title,
          text: u.text,
          start: u.start,
        })),
      )
      .slice(0, MAX_UNCOVERED),
    sectionsWithoutRules: report.sectionsWithoutRules.map((anchor) => ({
      anchor,
      title: titleOf.get(anchor) ?? anchor,
    })),
  };
}

export async function exportRulesFile(db: SpecAlignDb, specVersionId: string): Promise<Blob> {
  const version = await db.specVersions.get(specVersionId);
  const rules = await rulesOfVersion(db, specVersionId);
  if (rules.length === 0) throw new Error('There are no rules to export yet.');
  const text = serializeRulesFile(rules, {
    ...(version
      ? { spec: { title: version.title, contentHash: version.contentHash, specVersionId } }
      : {}),
    exportedAt: new Date().toISOString(),
  });
  return new Blob([text], { type: 'application/json' });
}

export async function importRulesFile(
  db: SpecAlignDb,
  projectId: string,
  specVersionId: string,
  file: Blob,
  fileName: string,
): Promise<number> {
  const parsed = parseRulesFile(await file.text(), fileName);
  const rules = importRules(parsed.rules, {
    projectId,
    specVersionId,
    newId: () => crypto.randomUUID(),
    now: Date.now(),
  });
  await addImportedRules(db, rules);
  return rules.length;
}
