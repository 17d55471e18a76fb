import { closeTestDbs, openTestDb } from '../../helpers/db';
import { afterEach, describe, expect, it } from 'vitest';
import type { Run } from '$lib/core/records';
import { createProject } from '$lib/db/projects';
import { deleteProjectAfterRuns } from '$lib/worker/projects-service';
import { RunRunner } from '$lib/worker/runs/runner';
import type { RunHandler } from '$lib/worker/runs/types';
import { seedRun } from './runs/executor-fixtures';

afterEach(closeTestDbs);

/** A handler whose first step is held open until the test releases it, then writes a row. */
function heldHandler() {
  let entered!: () => void;
  let release!: () => void;
  const started = new Promise<void>((resolve) => (entered = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  const handler: RunHandler = {
    kind: 'annotate',
    async step(task) {
      entered();
      await released;
      return {
        done: true,
        step: 'annotated',
        tables: ['evaluations'],
        write: async (db) => {
          await db.evaluations.add({
            id: `result-${task.key}`,
            projectId: task.projectId,
            runId: task.runId,
            target: { kind: 'openai', baseUrl: 'x', model: 'm' },
            createdAt: 0,
            results: {},
          });
        },
      };
    },
  };
  return { handler, started, release };
}

describe('deleteProjectAfterRuns', () => {
  it('stops the project’s running run first, then deletes; the step in flight writes nothing', async () => {
    const db = await openTestDb();
    const project = await createProject(db, 'Doomed');
    const run = await seedRun(db, 3);
    await db.runs.update(run.id, { projectId: project.id });
    await db.tasks.toCollection().modify({ projectId: project.id });
    const held = heldHandler();
    const runner = new RunRunner(
      db,
      async () => {
        throw new Error('not used');
      },
      (_run: Run) => held.handler,
    );
    const events: string[] = [];
    const running = runner.start(run.id).then((p) => {
      events.push(`run ${p.status}`);
      return p;
    });
    await held.started;

    const deleting = deleteProjectAfterRuns(db, runner, project.id).then(() =>
      events.push('deleted'),
    );
    // Deleting waits for the run to stop: the step is still in flight, so nothing is gone yet.
    await Promise.resolve();
    expect(await db.projects.get(project.id)).toBeDefined();
    held.release();
    await deleting;
    const final = await running;

    expect(events).toEqual(['run cancelled', 'deleted']);
    expect(final.status).toBe('cancelled');
    expect(await db.projects.count()).toBe(0);
    expect(await db.runs.count()).toBe(0);
    expect(await db.tasks.count()).toBe(0);
    expect(await db.evaluations.count()).toBe(0);
    expect(runner.isActive(run.id)).toBe(false);
  });

  it('deletes a project whose runs are not executing here (paused or finished)', async () => {
    const db = await openTestDb();
    const project = await createProject(db, 'Idle');
    const run = await seedRun(db, 1);
    await db.runs.update(run.id, { projectId: project.id, status: 'paused' });
    const runner = new RunRunner(db, async () => {
      throw new Error('not used');
    });
    await deleteProjectAfterRuns(db, runner, project.id);
    expect(await db.projects.count()).toBe(0);
    expect(await db.runs.count()).toBe(0);
  });
});
