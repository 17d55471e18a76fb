/**
 * *Update from vN* in the database (issue 11 §2), on the real Model Spec 2025-10-26 → 2025-12-18
 * update: only the changed and added sections are re-annotated (a resumable run), nothing
 * reaches the new version before the reviewer confirms, confirming carries rules with their
 * lineage and decisions, and the old version is left exactly as it was.
 */
import { closeTestDbs, openTestDb } from '../../helpers/db';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatRequest } from '$lib/core/llm';
import type { Rule } from '$lib/core/records';
import type { SpecAlignDb } from '$lib/db/database';
import { createProject } from '$lib/db/projects';
import { setRuleStatus, updateRule } from '$lib/db/rules';
import {
  annotationHandler,
  FINALIZE_KEY,
  type AnnotationRunConfig,
} from '$lib/worker/runs/annotation';
import { executeRun } from '$lib/worker/runs/executor';
import { importSpecVersion } from '$lib/worker/spec-store';
import {
  confirmSpecUpdate,
  createSpecUpdateRun,
  previewSpecUpdate,
  specUpdatePlan,
  SpecUpdateError,
} from '$lib/worker/spec-update-service';
import { ScriptedEngine } from '../../helpers/scripted-engine';
import { MODEL_SPEC_FILES, readCorpus } from '../core/spec/fixtures';

afterEach(closeTestDbs);

const release = (date: string) => readCorpus(MODEL_SPEC_FILES.find((f) => f.includes(date))!);

/** A careful annotator: one rule per normative sentence of the chunk, quoted verbatim. */
function annotator(request: ChatRequest): string {
  const user = request.messages.find((m) => m.role === 'user')?.content ?? '';
  const sentences = user.match(/[A-Z][^.\n]*\b(?:must|never|should)\b[^.\n]*\./g) ?? [];
  const rules = [...new Set(sentences)].slice(0, 6).map((quote) => ({
    sourceQuote: quote,
    statement: quote,
    direction: /\b(?:never|not)\b/.test(quote) ? 'negative' : 'positive',
    strength: /\bshould\b/.test(quote) ? 'should' : 'must',
    stage: 'content',
    domain: 'general',
    family: 'general',
    priority: 'unspecified',
    appliesWhen: [],
    exceptions: [],
  }));
  return JSON.stringify({ rules });
}

/** v1's rules, as a finished annotation of a few sections would leave them. */
async function annotateSections(
  db: SpecAlignDb,
  projectId: string,
  versionId: string,
  anchors: string[],
): Promise<Rule[]> {
  const version = (await db.specVersions.get(versionId))!;
  const rules: Rule[] = [];
  for (const anchor of anchors) {
    const section = (await db.sections.get(`${versionId}#${anchor}`))!;
    const body = version.text.slice(section.bodyStart, section.end);
    for (const m of body.matchAll(/[A-Z][^.\n]*\b(?:must|never|should)\b[^.\n]*\./g)) {
      const start = section.bodyStart + m.index;
      const id = `${versionId}:${anchor}:${rules.length}`;
      rules.push({
        id,
        lineageId: id,
        projectId,
        specVersionId: versionId,
        sectionAnchor: anchor,
        statement: m[0],
        direction: /\b(?:never|not)\b/.test(m[0]) ? 'negative' : 'positive',
        stage: 'content',
        domain: 'general',
        family: 'general',
        priority: 5,
        strength: 'must',
        exceptions: [],
        appliesWhen: [],
        source: { quote: m[0], start, end: start + m[0].length, located: true },
        status: 'proposed',
        origin: 'model',
        createdAt: rules.length,
        updatedAt: rules.length,
      });
    }
  }
  await db.rules.bulkAdd(rules);
  return rules;
}

async function setup() {
  const db = await openTestDb();
  const project = await createProject(db, 'Model Spec');
  const v1 = await importSpecVersion(db, project.id, {
    name: 'model-spec-2025-10-26.md',
    text: release('2025-10-26'),
  });
  const rules = await annotateSections(db, project.id, v1.specVersionId, [
    'letter_and_spirit', // unchanged in December
    'no_other_objectives', // one sentence changed
    'do_not_lie', // rewritten in part
  ]);
  // Decisions: accept the unchanged section's rules, reject one, reword one.
  const steady = rules.filter((r) => r.sectionAnchor === 'letter_and_spirit');
  await setRuleStatus(
    db,
    steady.map((r) => r.id),
    'accepted',
  );
  await setRuleStatus(db, [steady[1]!.id], 'rejected');
  await updateRule(db, steady[2]!.id, {
    ...steady[2]!,
    statement: 'Honour the intent behind instructions.',
  });
  const v2 = await importSpecVersion(db, project.id, {
    name: 'model-spec-2025-12-18.md',
    text: release('2025-12-18'),
  });
  return { db, projectId: project.id, v1: v1.specVersionId, v2: v2.specVersionId, steady };
}

async function run(
  db: SpecAlignDb,
  runId: string,
  engine: ScriptedEngine,
  signal = new AbortController().signal,
) {
  const stored = (await db.runs.get(runId))!;
  return executeRun(db, runId, annotationHandler(stored), {
    signal,
    engineFor: async () => engine,
  });
}

describe('spec update service', () => {
  it('re-annotates only the touched sections, applies nothing before confirm, then carries rules and decisions', async () => {
    const { db, projectId, v1, v2, steady } = await setup();
    const v1Before = await db.rules.where('specVersionId').equals(v1).sortBy('id');

    const preview = (await previewSpecUpdate(db, v2))!;
    expect(preview).toMatchObject({
      fromVersionId: v1,
      fromVersionNumber: 1,
      toVersionNumber: 2,
      targetRules: 0,
      related: true,
      sections: { changed: 6, added: 2, removed: 0 },
    });
    expect(preview.rules.unchangedSections).toBe(steady.length);
    expect(preview.reannotate).toContain('chatgpt_u18');
    expect(preview.reannotate).not.toContain('letter_and_spirit');

    // Interrupted after two chunks (a closed tab), then resumed.
    const controller = new AbortController();
    let calls = 0;
    const engine = new ScriptedEngine(
      (request) => {
        if (++calls === 2) controller.abort();
        return annotator(request);
      },
      { contextWindow: 4096 },
    );
    const { runId, chunks, allChunks } = await createSpecUpdateRun(db, projectId, v2, engine);
    expect(chunks).toBeGreaterThanOrEqual(preview.reannotate.length / 2);
    expect(chunks).toBeLessThan(allChunks / 4);
    const tasks = await db.tasks.where('runId').equals(runId).toArray();
    const wanted = new Set(preview.reannotate);
    for (const t of tasks.filter((x) => x.key !== FINALIZE_KEY)) {
      const anchors = (t.state as { chunk: { sectionAnchors: string[] } }).chunk.sectionAnchors;
      for (const a of anchors) expect(wanted, a).toContain(a);
    }
    expect((await run(db, runId, engine, controller.signal)).status).toBe('paused');
    const callsBefore = engine.calls;
    expect((await run(db, runId, engine)).status).toBe('done');
    // Every chunk asked once, at most the one in flight at the interruption twice.
    expect(engine.calls).toBeLessThanOrEqual(chunks + 1);
    expect(engine.calls - callsBefore).toBeLessThanOrEqual(chunks);

    // Nothing applied yet.
    expect(await db.rules.where('specVersionId').equals(v2).count()).toBe(0);
    const plan = await specUpdatePlan(db, runId);
    expect(plan.counts.kept).toBeGreaterThanOrEqual(steady.length);
    expect(plan.counts.new).toBeGreaterThan(0);
    expect(plan.counts.retired).toBeGreaterThan(0);
    const ids = plan.entries.flatMap((e) => (e.rule ? [e.rule.id] : []));
    expect(new Set(ids).size).toBe(ids.length); // no duplicate from the resumed chunk
    expect(await db.rules.where('specVersionId').equals(v2).count()).toBe(0);

    const update = await confirmSpecUpdate(db, projectId, runId);
    expect(update).toMatchObject({
      fromVersionId: v1,
      runId,
      kept: plan.counts.kept,
      changed: plan.counts.changed,
      added: plan.counts.new,
    });
    expect(update.retiredRuleIds).toHaveLength(plan.counts.retired);
    const v2Rules = await db.rules.where('specVersionId').equals(v2).toArray();
    expect(v2Rules).toHaveLength(plan.counts.kept + plan.counts.changed + plan.counts.new);
    // Decisions on unchanged rules survived, edits too, with the same lineage.
    for (const old of await db.rules.bulkGet(steady.map((r) => r.id))) {
      const carried = v2Rules.find((r) => r.previousRuleId === old!.id)!;
      expect(carried).toMatchObject({
        statement: old!.statement,
        status: old!.status,
        lineageId: old!.lineageId,
      });
    }
    expect(v2Rules.some((r) => r.statement === 'Honour the intent behind instructions.')).toBe(
      true,
    );
    // The lineage index finds both versions of a carried rule.
    const both = await db.rules
      .where('[projectId+lineageId]')
      .equals([projectId, steady[0]!.lineageId!])
      .toArray();
    expect(both.map((r) => r.specVersionId).sort()).toEqual([v1, v2].sort());
    // The old version, retired rules included, is exactly as it was.
    expect(await db.rules.where('specVersionId').equals(v1).sortBy('id')).toEqual(v1Before);
    expect((await db.specVersions.get(v2))?.update).toEqual(update);

    // Confirming again changes nothing.
    expect(await confirmSpecUpdate(db, projectId, runId)).toEqual(update);
    expect(await db.rules.where('specVersionId').equals(v2).count()).toBe(v2Rules.length);
    expect((await previewSpecUpdate(db, v2))?.confirmed).toEqual(update);
    await expect(createSpecUpdateRun(db, projectId, v2, engine)).rejects.toThrow(
      /already updated from v1/,
    );
  });

  it('marks stale the pairs, instances and eval items of changed and retired rules, only those', async () => {
    const { db, projectId, v1, v2 } = await setup();
    const engine = new ScriptedEngine(annotator, { contextWindow: 4096 });
    const { runId } = await createSpecUpdateRun(db, projectId, v2, engine);
    expect((await run(db, runId, engine)).status).toBe('done');
    const plan = await specUpdatePlan(db, runId);
    const lineageOfKind = (kind: string) =>
      plan.entries.find((e) => e.kind === kind && e.reason !== 'unchanged-section')?.old
        ?.lineageId ?? plan.entries.find((e) => e.kind === kind)!.old!.lineageId!;
    const kept = lineageOfKind('kept');
    const retired = lineageOfKind('retired');
    const changed = plan.entries.find((e) => e.kind === 'changed')?.old?.lineageId;
    expect(changed).toBeDefined();
    const base = {
      projectId,
      runId: 'synth',
      caseType: 'violation' as const,
      prompt: [],
      chosen: 'a',
      rejected: 'b',
      status: 'accepted' as const,
      provenance: {},
      createdAt: 1,
    };
    await db.pairs.bulkAdd([
      { ...base, id: 'p-kept', instanceId: 'i1', ruleIds: [kept], lineageIds: [kept] },
      { ...base, id: 'p-retired', instanceId: 'i1', ruleIds: [retired], lineageIds: [retired] },
      { ...base, id: 'p-changed', instanceId: 'i1', ruleIds: [changed!], lineageIds: [changed!] },
    ]);
    const instance = {
      projectId,
      specVersionId: v1,
      seed: 1,
      pinned: false,
      systemPrompt: 's',
      createdAt: 1,
    };
    await db.instances.bulkAdd([
      {
        ...instance,
        id: 'i-mixed',
        index: 0,
        ruleIds: [kept, retired],
        lineageIds: [kept, retired],
      },
      { ...instance, id: 'i-kept', index: 1, ruleIds: [kept], lineageIds: [kept] },
    ]);
    await db.runs.add({
      id: 'eval',
      projectId,
      kind: 'evaluate',
      status: 'done',
      config: {},
      createdAt: 1,
      updatedAt: 1,
      progress: { done: 1, failed: 0, total: 1 },
      usage: { promptTokens: 0, completionTokens: 0 },
    });
    await db.tasks.add({
      id: 'eval:0',
      runId: 'eval',
      projectId,
      key: 'k',
      order: 0,
      status: 'done',
      attempts: 1,
      updatedAt: 1,
      lineageIds: [changed!],
    });

    const update = await confirmSpecUpdate(db, projectId, runId);
    expect(update.stale).toEqual({ pairs: 2, instances: 1, evalItems: 1 });
    expect(update.retiredLineageIds).toContain(retired);
    expect(update.changedLineageIds).toContain(changed);
    expect((await db.pairs.get('p-kept'))?.stale).toBeUndefined();
    expect((await db.pairs.get('p-retired'))?.stale).toEqual({
      reason: 'retired',
      specVersionId: v2,
      lineageIds: [retired],
    });
    expect((await db.pairs.get('p-changed'))?.stale).toEqual({
      reason: 'changed',
      specVersionId: v2,
      lineageIds: [changed],
    });
    // Kept, readable, and otherwise unchanged.
    expect((await db.pairs.get('p-retired'))?.status).toBe('accepted');
    expect((await db.instances.get('i-mixed'))?.stale?.reason).toBe('retired');
    expect((await db.instances.get('i-kept'))?.stale).toBeUndefined();
    expect((await db.tasks.get('eval:0'))?.stale?.reason).toBe('changed');
  });

  it('refuses to plan before the re-annotation is done', async () => {
    const { db, projectId, v2 } = await setup();
    const engine = new ScriptedEngine(annotator, { contextWindow: 4096 });
    const { runId } = await createSpecUpdateRun(db, projectId, v2, engine);
    await expect(specUpdatePlan(db, runId)).rejects.toThrow(/has not finished/);
    await expect(confirmSpecUpdate(db, projectId, runId)).rejects.toThrow(SpecUpdateError);
    expect(await db.rules.where('specVersionId').equals(v2).count()).toBe(0);
    const config = (await db.runs.get(runId))!.config as AnnotationRunConfig;
    expect(config.update).toEqual({
      fromVersionId: (await db.specVersions.get(v2))!.previousVersionId,
    });
  });

  it('refuses a version that already has rules, and a document that is not a version of the spec', async () => {
    const { db, projectId, v2 } = await setup();
    const engine = new ScriptedEngine(annotator, { contextWindow: 4096 });
    await annotateSections(db, projectId, v2, ['letter_and_spirit']);
    await expect(createSpecUpdateRun(db, projectId, v2, engine)).rejects.toThrow(
      /already has \d+ rules/,
    );
    const other = await importSpecVersion(db, projectId, {
      name: 'recipes.md',
      text: '# Recipes\n\n## Soup\n\nBoil water. Add salt.\n\n## Bread\n\nKnead the dough.\n',
    });
    // v3 (recipes) follows v2, whose rules exist: unrelated, so no plan but a clear message.
    const preview = await previewSpecUpdate(db, other.specVersionId);
    expect(preview?.related).toBe(false);
    await expect(createSpecUpdateRun(db, projectId, other.specVersionId, engine)).rejects.toThrow(
      /shares almost no sections .* Annotate it from scratch/,
    );
    expect(await db.runs.count()).toBe(0);
  });

  it('offers nothing when the previous version has no rules', async () => {
    const db = await openTestDb();
    const project = await createProject(db, 'Empty');
    await importSpecVersion(db, project.id, { name: 'a.md', text: release('2025-10-26') });
    const v2 = await importSpecVersion(db, project.id, {
      name: 'b.md',
      text: release('2025-12-18'),
    });
    expect(await previewSpecUpdate(db, v2.specVersionId)).toBeUndefined();
  });
});
