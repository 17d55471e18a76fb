/**
 * The "update" rows of `npm run bench` (issue 11): what *Update from vN* re-does on real Model
 * Spec updates — the share of sections changed or added, and the share of annotation chunks
 * re-annotated versus annotating the new version in full, with the annotation run's chunking
 * (4096-token window). Target: re-annotated chunks ≤ 1.5 × the changed share of all chunks plus
 * one chunk per changed or added section, and none for unchanged sections.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { chunkSections } from '../src/lib/core/rules/chunking';
import { annotationPromptOverhead } from '../src/lib/core/rules/prompt';
import { sectionsToReannotate } from '../src/lib/core/rules/update-plan';
import { diffSpecVersions } from '../src/lib/core/spec/diff';
import { ingestSpec } from '../src/lib/core/spec/ingest';
import { MAX_CHUNK_TOKENS, MAX_NORMATIVE_PER_CHUNK } from '../src/lib/worker/runs/annotation';

const corpus = path.resolve(import.meta.dirname, '../tests/fixtures/model-spec');

async function version(date: string) {
  const text = readFileSync(path.join(corpus, `openai-model-spec-${date}.md`), 'utf8');
  const ids = { projectId: 'p', specVersionId: date };
  const { version, sections } = await ingestSpec({ name: `${date}.md`, text }, ids);
  return { text: version.text, sections, metaSpans: version.metaSpans ?? [] };
}

export async function benchUpdate(): Promise<{ metric: string; value: string; note: string }[]> {
  const pairs: [string, string][] = [
    ['2025-10-26', '2025-12-18'],
    ['2025-09-12', '2025-10-26'],
  ];
  const rows = [];
  for (const [a, b] of pairs) {
    const from = await version(a);
    const to = await version(b);
    const t0 = performance.now();
    const diff = diffSpecVersions(from, to);
    const touched = new Set(sectionsToReannotate(diff));
    const chunk = (sections: typeof to.sections) =>
      chunkSections(sections, to.text, {
        contextWindow: 4096,
        promptOverheadTokens: annotationPromptOverhead(),
        answerTokens: 1024,
        maxChunkTokens: MAX_CHUNK_TOKENS,
        maxNormativeSentences: MAX_NORMATIVE_PER_CHUNK,
        excludeSpans: to.metaSpans,
      });
    const all = chunk(to.sections);
    const redone = chunk(to.sections.filter((s) => touched.has(s.anchor)));
    const ms = performance.now() - t0;
    const sectionShare = touched.size / to.sections.length;
    const chunkShare = redone.length / all.length;
    const limit = Math.ceil(1.5 * sectionShare * all.length) + touched.size;
    const unchangedRedone = redone.filter((c) => c.sectionAnchors.some((x) => !touched.has(x)));
    rows.push({
      metric: `Update ${a} → ${b}: sections changed / chunks re-annotated`,
      value: `${(sectionShare * 100).toFixed(1)} % / ${(chunkShare * 100).toFixed(1)} %`,
      note:
        `${touched.size} of ${to.sections.length} sections changed or added; ${redone.length} of ` +
        `${all.length} chunks (target ≤ ${limit}; ${unchangedRedone.length} chunks of unchanged ` +
        `sections); diff + chunking ${ms.toFixed(0)} ms`,
    });
  }
  return rows;
}
