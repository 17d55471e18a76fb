/**
 * *Update from vN* (issue 11 §2) in the database: preview what an update would do, plan the
 * annotation run over only the changed and added sections, turn its proposals into the core plan
 * (core/rules/update-plan.ts), and apply the plan when the reviewer confirms. Until then the new
 * version's rules table is untouched; the previous version's rules are never modified, so
 * retired rules stay readable there.
 */
import { SpecAlignError } from '$lib/core/errors';
import type { ChatEngine } from '$lib/core/llm';
import type { Rule, Run, RunStatus, SpecVersion, SpecVersionUpdate } from '$lib/core/records';
import {
  matchedShare,
  MIN_RELATED_SHARE,
  planSpecUpdate,
  sectionsToReannotate,
  type SpecUpdatePlan,
} from '$lib/core/rules/update-plan';
import { diffSpecVersions, type SpecDiff } from '$lib/core/spec/diff';
import { staleMarkFor, updateLineages, type UpdateLineages } from '$lib/core/rules/stale';
import type { SpecAlignDb } from '$lib/db/database';
import { guardStorage } from '$lib/db/errors';
import {
  createAnnotationRun,
  FINALIZE_KEY,
  versionSections,
  type AnnotationRunConfig,
  type UpdateTaskState,
} from './runs/annotation';

/** An update that cannot be planned or applied, with what to do instead. */
export class SpecUpdateError extends SpecAlignError {}

export interface SpecUpdatePreview {
  fromVersionId: string;
  fromVersionNumber: number;
  toVersionNumber: number;
  /** Rules of the previous version, by what their section did. */
  rules: {
    total: number;
    unchangedSections: number;
    changedSections: number;
    removedSections: number;
  };
  /** Rules the new version already has (an update only fills an empty version). */
  targetRules: number;
  sections: SpecUpdatePlan['sections'];
  /** New-version anchors the update re-annotates. */
  reannotate: string[];
  matchedShare: number;
  related: boolean;
  /** The latest update run of this version, if one was started. */
  run?: { id: string; status: RunStatus; chunks: number; done: number; failed: number };
  /** Set once the update is confirmed. */
  confirmed?: SpecVersionUpdate;
}

async function loadPair(db: SpecAlignDb, newVersionId: string) {
  const to = await db.specVersions.get(newVersionId);
  if (!to) throw new SpecUpdateError('That spec version no longer exists.');
  const from = to.previousVersionId ? await db.specVersions.get(to.previousVersionId) : undefined;
  return { to, from };
}

async function diffOf(db: SpecAlignDb, from: SpecVersion, to: SpecVersion) {
  const [oldSections, newSections] = await Promise.all([
    versionSections(db, from.id),
    versionSections(db, to.id),
  ]);
  const diff: SpecDiff = diffSpecVersions(
    { sections: oldSections, text: from.text },
    { sections: newSections, text: to.text },
    { contextWords: 0, wordDiffTimeoutMs: 200 },
  );
  return { diff, oldSections, newSections };
}

/** The newest update run of a version, if any. */
export async function latestUpdateRun(
  db: SpecAlignDb,
  projectId: string,
  versionId: string,
): Promise<Run | undefined> {
  const runs = await db.runs.where('[projectId+kind]').equals([projectId, 'annotate']).toArray();
  return runs
    .filter((r) => {
      const config = r.config as Partial<AnnotationRunConfig>;
      return config.specVersionId === versionId && config.update !== undefined;
    })
    .sort((a, b) => b.createdAt - a.createdAt)[0];
}

/**
 * What *Update from vN* would do for `newVersionId`, or undefined when there is nothing to carry
 * (no previous version, or one without rules).
 */
export async function previewSpecUpdate(
  db: SpecAlignDb,
  newVersionId: string,
): Promise<SpecUpdatePreview | undefined> {
  const { to, from } = await loadPair(db, newVersionId);
  if (!from) return undefined;
  const oldRules = await db.rules.where('specVersionId').equals(from.id).toArray();
  if (oldRules.length === 0 && !to.update) return undefined;
  const { diff } = await diffOf(db, from, to);
  const changed = new Set(diff.changed.map((c) => c.old.anchor));
  const removed = new Set(diff.removed.map((s) => s.anchor));
  const count = (pick: (anchor: string) => boolean) =>
    oldRules.filter((r) => pick(r.sectionAnchor)).length;
  const run = await latestUpdateRun(db, to.projectId, to.id);
  const share = matchedShare(diff);
  return {
    fromVersionId: from.id,
    fromVersionNumber: from.versionNumber,
    toVersionNumber: to.versionNumber,
    rules: {
      total: oldRules.length,
      changedSections: count((a) => changed.has(a)),
      removedSections: count((a) => removed.has(a)),
      unchangedSections: count((a) => !changed.has(a) && !removed.has(a)),
    },
    targetRules: await db.rules.where('specVersionId').equals(to.id).count(),
    sections: {
      unchanged: diff.unchanged,
      changed: diff.changed.length,
      added: diff.added.length,
      removed: diff.removed.length,
    },
    reannotate: sectionsToReannotate(diff),
    matchedShare: share,
    related: share >= MIN_RELATED_SHARE,
    ...(run
      ? {
          run: {
            id: run.id,
            status: run.status,
            chunks: Math.max(0, run.progress.total - 1),
            done: run.progress.done,
            failed: run.progress.failed,
          },
        }
      : {}),
    ...(to.update ? { confirmed: to.update } : {}),
  };
}

/**
 * Plans the update's annotation run: only the changed and added sections' chunks. Start it with
 * the runner; confirm with {@link confirmSpecUpdate} once it is done.
 */
export async function createSpecUpdateRun(
  db: SpecAlignDb,
  projectId: string,
  newVersionId: string,
  engine: ChatEngine,
): Promise<{ runId: string; chunks: number; allChunks: number }> {
  const { to, from } = await loadPair(db, newVersionId);
  if (!from)
    throw new SpecUpdateError(
      'This is the first version of the spec: there is nothing to update from.',
    );
  if (to.update)
    throw new SpecUpdateError(
      `v${to.versionNumber} was already updated from v${from.versionNumber}.`,
    );
  const targetRules = await db.rules.where('specVersionId').equals(to.id).count();
  if (targetRules > 0)
    throw new SpecUpdateError(
      `v${to.versionNumber} already has ${targetRules} rules: an update only fills a version without rules. Review them on the Rules step instead.`,
    );
  const { diff } = await diffOf(db, from, to);
  if (matchedShare(diff) < MIN_RELATED_SHARE)
    throw new SpecUpdateError(
      `v${to.versionNumber} shares almost no sections with v${from.versionNumber} (${Math.round(matchedShare(diff) * 100)} % matched): it looks like another document. Annotate it from scratch on the Rules step instead.`,
    );
  const { run, chunks, allChunks } = await createAnnotationRun(db, projectId, to.id, engine, {
    sectionAnchors: sectionsToReannotate(diff),
    update: { fromVersionId: from.id },
  });
  return { runId: run.id, chunks, allChunks };
}

/** The plan of a finished update run (recomputed from stored rows: deterministic). */
export async function specUpdatePlan(db: SpecAlignDb, runId: string): Promise<SpecUpdatePlan> {
  const run = await db.runs.get(runId);
  const config = run?.config as Partial<AnnotationRunConfig> | undefined;
  if (!run || !config?.update || !config.specVersionId)
    throw new SpecUpdateError('That update no longer exists.');
  if (run.status !== 'done')
    throw new SpecUpdateError('The re-annotation of the changed sections has not finished yet.');
  const [from, to] = await Promise.all([
    db.specVersions.get(config.update.fromVersionId),
    db.specVersions.get(config.specVersionId),
  ]);
  if (!from || !to) throw new SpecUpdateError('One of the two spec versions no longer exists.');
  const [{ diff, oldSections, newSections }, oldRules, tasks] = await Promise.all([
    diffOf(db, from, to),
    db.rules.where('specVersionId').equals(from.id).toArray(),
    db.tasks.where('runId').equals(runId).toArray(),
  ]);
  const finalTask = tasks.find((t) => t.key === FINALIZE_KEY);
  const proposals = (finalTask?.state as Partial<UpdateTaskState> | undefined)?.proposals ?? [];
  const failedAnchors = tasks
    .filter((t) => t.status === 'failed')
    .flatMap(
      (t) =>
        (t.state as { chunk?: { sectionAnchors?: string[] } } | undefined)?.chunk?.sectionAnchors ??
        [],
    );
  return planSpecUpdate({
    diff,
    oldSections,
    newSections,
    newText: to.text,
    newVersionId: to.id,
    runId,
    oldRules: oldRules.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id)),
    proposals,
    failedAnchors,
    now: run.updatedAt,
  });
}

/**
 * Applies a finished update's plan: the new version gets the kept, changed and new rules, and
 * records where they came from. Idempotent (a second confirm changes nothing); the previous
 * version's rules are not touched.
 */
export async function confirmSpecUpdate(
  db: SpecAlignDb,
  projectId: string,
  runId: string,
): Promise<SpecVersionUpdate> {
  const plan = await specUpdatePlan(db, runId);
  const run = await db.runs.get(runId);
  if (run?.projectId !== projectId)
    throw new SpecUpdateError('That update belongs to another project.');
  const config = run.config as AnnotationRunConfig;
  const versionId = config.specVersionId;
  const rules = plan.entries.flatMap((e) => (e.rule ? [e.rule] : []));
  const lineages = updateLineages(plan);
  const now = Date.now();
  return guardStorage(() =>
    db.transaction(
      'rw',
      [db.rules, db.specVersions, db.projects, db.pairs, db.instances, db.tasks, db.runs],
      async () => {
        const version = await db.specVersions.get(versionId);
        if (!version) throw new SpecUpdateError('That spec version no longer exists.');
        if (version.update) return version.update;
        const existing = await db.rules.where('specVersionId').equals(versionId).count();
        if (existing > 0)
          throw new SpecUpdateError(
            `v${version.versionNumber} got ${existing} rules in the meantime: the update was not applied. Review them on the Rules step.`,
          );
        const update: SpecVersionUpdate = {
          fromVersionId: config.update!.fromVersionId,
          runId,
          confirmedAt: now,
          kept: plan.counts.kept,
          changed: plan.counts.changed,
          added: plan.counts.new,
          retiredRuleIds: plan.entries.flatMap((e) =>
            e.kind === 'retired' && e.old ? [e.old.id] : [],
          ),
          changedLineageIds: lineages.changed,
          retiredLineageIds: lineages.retired,
          stale: await markStale(db, projectId, versionId, lineages),
        };
        await db.rules.bulkPut(rules.map((r): Rule => ({ ...r, updatedAt: now })));
        await db.specVersions.update(versionId, { update });
        await db.projects.update(version.projectId, { updatedAt: now });
        return update;
      },
    ),
  );
}

/**
 * Marks the project's pairs, instances and evaluation items that cite a changed or retired
 * lineage (issue 11 §3); a row already marked by an earlier update keeps its first mark. Runs
 * inside the confirm transaction.
 */
async function markStale(
  db: SpecAlignDb,
  projectId: string,
  versionId: string,
  lineages: UpdateLineages,
): Promise<{ pairs: number; instances: number; evalItems: number }> {
  const touched = [...lineages.changed, ...lineages.retired];
  if (touched.length === 0) return { pairs: 0, instances: 0, evalItems: 0 };
  const mark = <T extends { lineageIds?: string[]; stale?: unknown }>(rows: T[]) =>
    rows.flatMap((row) => {
      if (row.stale) return [];
      const stale = staleMarkFor(row.lineageIds, lineages, versionId);
      return stale ? [{ ...row, stale }] : [];
    });
  const pairs = mark(
    (await db.pairs.where('lineageIds').anyOf(touched).distinct().toArray()).filter(
      (p) => p.projectId === projectId,
    ),
  );
  const instances = mark(await db.instances.where('projectId').equals(projectId).toArray());
  const evalRuns = await db.runs
    .where('[projectId+kind]')
    .equals([projectId, 'evaluate'])
    .primaryKeys();
  const evalItems = mark(await db.tasks.where('runId').anyOf(evalRuns).toArray());
  await db.pairs.bulkPut(pairs);
  await db.instances.bulkPut(instances);
  await db.tasks.bulkPut(evalItems);
  return { pairs: pairs.length, instances: instances.length, evalItems: evalItems.length };
}
