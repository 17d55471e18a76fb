/**
 * The "update" rows of `npm run bench` (issue 11): what *Update from vN* re-does on real Model
 * Spec updates — the share of sections changed or added, and the share of annotation chunks
 * re-annotated versus annotating the new version in full, with the annotation run's chunking
 * (4096-token window). Target: re-annotated chunks ≤ 1.5 × the changed share of all chunks plus
 * one chunk per changed or added section, and none for unchanged sections.
 *
 * Then *Update data* (issue 11 §3): the share of synthesis tasks it plans versus a full rerun
 * with the same settings (default controls, one seed, as many instances as the old run, sampled
 * from the new version). Rules come without a model: one rule per normative sentence of each
 * section (core/rules/normative.ts; stage and domain from its place, family its section), and the
 * new version's from core's update plan with the re-annotated sections' sentences as proposals
 * (new rules accepted, as a reviewer would). Target: tasks re-done ≤ 1.5 × the touched-rule share
 * of a full rerun's tasks plus one rule's tasks per changed section, and none for rules of
 * unchanged sections.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { chunkSections } from '../src/lib/core/rules/chunking';
import { annotationPromptOverhead } from '../src/lib/core/rules/prompt';
import { planSpecUpdate, sectionsToReannotate } from '../src/lib/core/rules/update-plan';
import { planDataUpdate, planDataUpdateTasks } from '../src/lib/core/rules/data-update';
import { detectNormativeSentences } from '../src/lib/core/rules/normative';
import { sampleInstances } from '../src/lib/core/instances/sample';
import { STAGE_ORDER } from '../src/lib/core/instances/stages';
import { planTasks } from '../src/lib/core/synthesis/controls';
import { hashString } from '../src/lib/core/hash';
import type { Rule, Section } from '../src/lib/core/records';
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

/** Rules without a model: one per normative sentence of each of `sections`. */
function sentenceRules(
  v: { text: string; sections: Section[]; metaSpans: { start: number; end: number }[] },
  sections: readonly Section[],
  versionId: string,
): Rule[] {
  const rules: Rule[] = [];
  for (const section of sections) {
    const body = v.text.slice(section.bodyStart, section.end);
    for (const s of detectNormativeSentences(body, section.bodyStart, {
      excludeSpans: v.metaSpans,
    })) {
      const id = `${versionId}:${section.anchor}:${rules.length}`;
      const h = hashString(s.text);
      rules.push({
        id,
        lineageId: id,
        projectId: 'p',
        specVersionId: versionId,
        sectionAnchor: section.anchor,
        statement: s.text,
        direction: s.direction,
        stage: STAGE_ORDER[h % STAGE_ORDER.length]!,
        domain: section.headingPath[0] ?? section.anchor,
        family: section.anchor,
        priority: 2,
        strength: s.strength,
        exceptions: [],
        appliesWhen: [],
        source: { quote: s.text, start: s.start, end: s.end, located: true },
        status: 'accepted',
        origin: 'model',
        createdAt: 0,
        updatedAt: 0,
      });
    }
  }
  return rules;
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
    rows.push(dataUpdateRow(a, b, from, to, diff, touched));
  }
  return rows;
}

/** The *Update data* row of one update: tasks planned versus a full rerun with the same settings. */
function dataUpdateRow(
  a: string,
  b: string,
  from: Awaited<ReturnType<typeof version>>,
  to: Awaited<ReturnType<typeof version>>,
  diff: ReturnType<typeof diffSpecVersions>,
  touched: ReadonlySet<string>,
): { metric: string; value: string; note: string } {
  const t0 = performance.now();
  const seed = 11;
  const controls = {};
  const oldRules = sentenceRules(from, from.sections, 'a');
  const proposals = sentenceRules(
    to,
    to.sections.filter((s) => touched.has(s.anchor)),
    'b',
  ).map((r) => ({ ...r, status: 'proposed' as const }));
  const plan = planSpecUpdate({
    diff,
    oldSections: from.sections,
    newSections: to.sections,
    newText: to.text,
    newVersionId: 'b',
    runId: 'u',
    oldRules,
    proposals,
    now: 0,
  });
  // A reviewer accepts the new rules; changed ones keep their decision (accepted).
  const newRules = plan.entries.flatMap((e) =>
    e.rule ? [{ ...e.rule, status: 'accepted' as const }] : [],
  );
  const changedLineages = plan.entries.flatMap((e) =>
    e.kind === 'changed' && e.old ? [e.old.lineageId ?? e.old.id] : [],
  );
  // The old run: enough instances for every rule to be used about once.
  const count = Math.ceil(oldRules.length / 10.5);
  const old = sampleInstances(oldRules, { count, seed });
  const update = planDataUpdate({
    newVersionId: 'b',
    oldInstances: old.instances.map((d) => ({ id: `a:${d.index}`, ruleIds: d.ruleIds })),
    oldLineages: new Map(oldRules.map((r) => [r.id, r.lineageId ?? r.id])),
    newRules,
    changedLineageIds: changedLineages,
    seed,
  });
  const tasks = planDataUpdateTasks(update.instances, controls, seed).tasks;
  const fullSample = sampleInstances(newRules, { count, seed });
  const full = planTasks(
    fullSample.instances.map((d) => ({ id: `b:${d.index}`, ruleIds: d.ruleIds })),
    controls,
    seed,
  ).tasks;
  const ms = performance.now() - t0;
  const ruleOf = new Map(newRules.map((r) => [r.id, r]));
  const unchangedSectionTasks = tasks.filter(
    (t) => !touched.has(ruleOf.get(t.ruleId)?.sectionAnchor ?? ''),
  ).length;
  const touchedShare = update.touchedRuleIds.length / newRules.length;
  const slots = fullSample.instances.reduce((n, i) => n + i.ruleIds.length, 0);
  const perRule = full.length / Math.max(1, slots);
  const changedSections = diff.changed.length + diff.added.length;
  const limit = Math.ceil(1.5 * touchedShare * full.length + perRule * changedSections);
  return {
    metric: `Update ${a} → ${b}: rules new or changed / Update data tasks vs full rerun`,
    value: `${(touchedShare * 100).toFixed(1)} % / ${((tasks.length / full.length) * 100).toFixed(1)} %`,
    note:
      `${update.touchedRuleIds.length} of ${newRules.length} rules (one per normative sentence) new ` +
      `or changed; ${tasks.length} of ${full.length} tasks (target ≤ ${limit}; ` +
      `${unchangedSectionTasks} for rules of unchanged sections); instances ${update.counts.kept} ` +
      `kept, ${update.counts.repaired} repaired, ${update.counts.new} new of ${count}; ` +
      `plan ${ms.toFixed(0)} ms`,
  };
}
