/**
 * *Update data* in the database (issue 11 §3): with the previous version's run settings, plan
 * tasks only for new and changed rules, estimate them next to a full rerun, and store the run
 * once however often it is started (a reload between planning steps adds nothing).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { engineKey } from '$lib/core/engine-config';
import type { Rule, SpecVersion } from '$lib/core/records';
import type { SpecAlignDb } from '$lib/db/database';
import { createProject } from '$lib/db/projects';
import {
  dataUpdateRunId,
  DataUpdateError,
  previewDataUpdate,
  reopenDataUpdate,
  startDataUpdate,
} from '$lib/worker/data-update-service';
import { sampleAndStoreInstances } from '$lib/worker/instances-service';
import { createSynthesisRun, readConfig } from '$lib/worker/runs/synthesis-plan';
import { closeTestDbs, openTestDb } from '../../helpers/db';
import { HARBOR_RULES } from '../core/instances/fixtures';

afterEach(closeTestDbs);

const SEED = 11;

function version(projectId: string, id: string, n: number, extra: Partial<SpecVersion> = {}) {
  return {
    id,
    projectId,
    versionNumber: n,
    title: 'Harbor',
    sourceName: 'harbor.md',
    sourceType: 'paste',
    format: 'markdown',
    text: 'Harbor spec',
    contentHash: `h${n}`,
    createdAt: n,
    ...extra,
  } as SpecVersion;
}

/** v1 with HARBOR_RULES, instances and a run on them; v2 updated from it. */
async function setUp(db: SpecAlignDb, changed: string[], retired: string[], added: Rule[]) {
  const project = await createProject(db, 'Harbor');
  const pid = project.id;
  const v1Rules = HARBOR_RULES.map((r) => ({ ...r, projectId: pid, lineageId: r.id }));
  const v2Rules: Rule[] = [
    ...v1Rules
      .filter((r) => !retired.includes(r.id))
      .map((r) => ({
        ...r,
        id: `v2:${r.id}`,
        specVersionId: 'v2',
        statement: changed.includes(r.id) ? `${r.statement} Reworded.` : r.statement,
      })),
    ...added.map((r) => ({ ...r, projectId: pid, specVersionId: 'v2' })),
  ];
  await db.specVersions.bulkPut([
    version(pid, 'v1', 1),
    version(pid, 'v2', 2, {
      previousVersionId: 'v1',
      update: {
        fromVersionId: 'v1',
        runId: 'annotate-run',
        confirmedAt: 3,
        kept: v2Rules.length - changed.length - added.length,
        changed: changed.length,
        added: added.length,
        retiredRuleIds: retired,
        changedLineageIds: changed,
        retiredLineageIds: retired,
      },
    }),
  ]);
  await db.rules.bulkPut([...v1Rules, ...v2Rules]);
  await sampleAndStoreInstances(db, pid, 'v1', { count: 5, seed: SEED });
  const instanceIds = (await db.instances.where('specVersionId').equals('v1').toArray()).map(
    (i) => i.id,
  );
  const controls = { probesPerRule: 1 };
  const source = await createSynthesisRun(db, pid, {
    specVersionId: 'v1',
    instanceIds,
    controls,
    seed: SEED,
  });
  return { pid, source, instanceIds };
}

const added = (id: string, stage: Rule['stage']): Rule => ({
  ...HARBOR_RULES[0]!,
  id,
  lineageId: undefined as unknown as string,
  statement: `New duty ${id}.`,
  stage,
  family: `fam-${id}`,
  domain: `dom-${id}`,
});

describe('data update service', () => {
  it('plans tasks only for new and changed rules, with the source run settings, next to a full rerun', async () => {
    const db = await openTestDb();
    const { pid, source, instanceIds } = await setUp(db, ['r3'], ['r7'], [added('n1', 'content')]);
    const preview = await previewDataUpdate(db, pid, 'v2');
    expect(preview.sourceRunId).toBe(source.run.id);
    expect(preview.instances.kept + preview.instances.repaired).toBe(instanceIds.length);
    expect(preview.targetedRules).toBe(2);
    expect(preview.update.tasks).toBeGreaterThan(0);
    expect(preview.full.tasks).toBeGreaterThan(preview.update.tasks * 5);
    expect(preview.update.promptTokens).toBeLessThan(preview.full.promptTokens);
    expect(preview.run).toBeUndefined();

    const started = await startDataUpdate(db, pid, 'v2');
    expect(started).toEqual({
      runId: dataUpdateRunId('v2'),
      tasks: preview.update.tasks,
      created: true,
    });
    const run = (await db.runs.get(started.runId))!;
    const config = readConfig(run.config, run.id);
    expect(config.seed).toBe(SEED);
    expect(config.controls).toEqual(readConfig(source.run.config, source.run.id).controls);
    expect(config.specVersionId).toBe('v2');
    // The card's estimate is the run's own (same tasks, rounds, rates).
    expect(config.estimate).toMatchObject({
      tasks: preview.update.tasks,
      promptTokens: preview.update.promptTokens,
      completionTokens: preview.update.completionTokens,
      timeMs: preview.update.timeMs,
    });
    const tasks = await db.tasks.where('runId').equals(run.id).toArray();
    // Task keys are `${instanceId}/${ruleId}/${caseType}/${n}`.
    const targeted = new Set(tasks.map((t) => t.key.split('/')[1]));
    expect([...targeted].sort()).toEqual(['n1', 'v2:r3']);
    // Instances of v2 are stored: kept ones too (no tasks), all citing v2 rules.
    const v2Instances = await db.instances.where('specVersionId').equals('v2').toArray();
    expect(v2Instances).toHaveLength(instanceIds.length + preview.instances.new);
    const v2Ids = new Set(
      (await db.rules.where('specVersionId').equals('v2').toArray()).map((r) => r.id),
    );
    expect(v2Instances.every((i) => i.ruleIds.every((id) => v2Ids.has(id)))).toBe(true);
  });

  it("plays the source run's models in the same parts (on-policy defender)", async () => {
    const db = await openTestDb();
    const { pid, instanceIds } = await setUp(db, ['r3'], [], []);
    const target = { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1', model: 'target' } as const;
    // A later run of v1 with the on-policy defender: the latest one is the source.
    const source = await createSynthesisRun(db, pid, {
      specVersionId: 'v1',
      instanceIds,
      controls: { probesPerRule: 1 },
      seed: SEED,
      roles: { defenderTarget: target },
    });
    await db.runs.update(source.run.id, { createdAt: Date.now() + 1_000 });
    expect((await previewDataUpdate(db, pid, 'v2')).sourceRunId).toBe(source.run.id);
    const { runId } = await startDataUpdate(db, pid, 'v2');
    const run = (await db.runs.get(runId))!;
    const roles = readConfig(run.config, run.id).roles;
    expect(roles).toEqual(readConfig(source.run.config, source.run.id).roles);
    expect(roles?.defenderTarget).toBe(engineKey(target));
  });

  it('a second update in a row starts from every instance the first one stored', async () => {
    const db = await openTestDb();
    const { pid } = await setUp(db, ['r3'], [], []);
    await startDataUpdate(db, pid, 'v2');
    const v2Instances = await db.instances.where('specVersionId').equals('v2').toArray();
    const first = (await db.runs.get(dataUpdateRunId('v2')))!;
    const listed = new Set(readConfig(first.config, first.id).instanceIds);
    // The first update's run lists only the instances that got tasks; the others were kept.
    const kept = v2Instances.filter((i) => !listed.has(i.id));
    expect(kept.length).toBeGreaterThan(0);
    // v3 rewords a rule that only a kept instance holds.
    const inListed = new Set(v2Instances.filter((i) => listed.has(i.id)).flatMap((i) => i.ruleIds));
    const target = kept.flatMap((i) => i.ruleIds).find((id) => !inListed.has(id))!;
    expect(target).toBeDefined();
    const v2Rules = await db.rules.where('specVersionId').equals('v2').toArray();
    const lineage = v2Rules.find((r) => r.id === target)!.lineageId!;
    await db.rules.bulkPut(
      v2Rules.map((r) => ({
        ...r,
        id: `v3:${r.id}`,
        specVersionId: 'v3',
        statement: r.id === target ? `${r.statement} Again.` : r.statement,
      })),
    );
    await db.specVersions.put(
      version(pid, 'v3', 3, {
        previousVersionId: 'v2',
        update: {
          fromVersionId: 'v2',
          runId: 'annotate-run-2',
          confirmedAt: 4,
          kept: v2Rules.length - 1,
          changed: 1,
          added: 0,
          retiredRuleIds: [],
          changedLineageIds: [lineage],
          retiredLineageIds: [],
        },
      }),
    );
    const preview = await previewDataUpdate(db, pid, 'v3');
    expect(preview.instances.kept + preview.instances.repaired).toBe(v2Instances.length);
    expect(preview.targetedRules).toBe(1);
    expect(preview.update.tasks).toBeGreaterThan(0);
  });

  it('a cancelled run can be finished: reopened as paused with its tasks, still one run', async () => {
    const db = await openTestDb();
    const { pid } = await setUp(db, ['r3'], [], []);
    const { runId, tasks } = await startDataUpdate(db, pid, 'v2');
    await db.runs.update(runId, { status: 'cancelled' });
    expect(await reopenDataUpdate(db, pid, 'v2')).toBe(runId);
    expect((await db.runs.get(runId))?.status).toBe('paused');
    expect(await db.tasks.where('runId').equals(runId).count()).toBe(tasks);
    // A paused run is left as it is; a version without the run says so.
    await reopenDataUpdate(db, pid, 'v2');
    expect((await db.runs.get(runId))?.status).toBe('paused');
    await expect(reopenDataUpdate(db, pid, 'v1')).rejects.toThrow(DataUpdateError);
  });

  it('is idempotent: starting again (or after a reload) adds no run, task or instance', async () => {
    const db = await openTestDb();
    const { pid } = await setUp(db, ['r3'], [], []);
    const first = await startDataUpdate(db, pid, 'v2');
    const counts = async () => [
      await db.runs.count(),
      await db.tasks.count(),
      await db.instances.count(),
    ];
    const before = await counts();
    const again = await startDataUpdate(db, pid, 'v2');
    expect(again).toEqual({ ...first, created: false });
    expect(await counts()).toEqual(before);
    expect((await previewDataUpdate(db, pid, 'v2')).run).toMatchObject({
      id: first.runId,
      status: 'queued',
      total: first.tasks,
    });
  });

  it('two starts at once (two tabs) plan one run', async () => {
    const db = await openTestDb();
    const { pid } = await setUp(db, ['r3'], [], []);
    const [one, two] = await Promise.all([
      startDataUpdate(db, pid, 'v2'),
      startDataUpdate(db, pid, 'v2'),
    ]);
    expect(one.runId).toBe(two.runId);
    expect([one.created, two.created].sort()).toEqual([false, true]);
    expect(await db.tasks.where('runId').equals(one.runId).count()).toBe(one.tasks);
    expect((await db.runs.toArray()).filter((r) => r.kind === 'synthesize')).toHaveLength(2);
  });

  it('resumes a planning interrupted after the instances were stored', async () => {
    const db = await openTestDb();
    const { pid } = await setUp(db, ['r3'], [], []);
    const preview = await previewDataUpdate(db, pid, 'v2');
    const first = await startDataUpdate(db, pid, 'v2');
    // As if the tab closed after the instances' transaction, before the run's.
    await db.transaction('rw', db.runs, db.tasks, async () => {
      await db.tasks.where('runId').equals(first.runId).delete();
      await db.runs.delete(first.runId);
    });
    const instances = await db.instances.count();
    const second = await startDataUpdate(db, pid, 'v2');
    expect(second).toEqual(first);
    expect(second.tasks).toBe(preview.update.tasks);
    expect(await db.instances.count()).toBe(instances);
  });

  it('says why when there is nothing to update', async () => {
    const db = await openTestDb();
    const { pid } = await setUp(db, [], [], []);
    await expect(startDataUpdate(db, pid, 'v2')).rejects.toThrow(/changed no rule/);
    await expect(startDataUpdate(db, pid, 'v1')).rejects.toThrow(DataUpdateError);
    await expect(previewDataUpdate(db, pid, 'v1')).rejects.toThrow(/has not been updated/);
  });
});
