/** A stored run with a queue of one-step tasks, and a handler that writes one row per task. */
import type { Run, Task } from '$lib/core/records';
import type { SpecAlignDb } from '$lib/db/database';
import type { RunHandler, StepOutcome } from '$lib/worker/runs/types';

export async function seedRun(db: SpecAlignDb, taskCount: number): Promise<Run> {
  const run: Run = {
    id: 'run-1',
    projectId: 'p',
    kind: 'annotate',
    status: 'queued',
    config: {},
    createdAt: 0,
    updatedAt: 0,
    progress: { done: 0, failed: 0, total: taskCount },
    usage: { promptTokens: 0, completionTokens: 0 },
  };
  await db.runs.add(run);
  await db.tasks.bulkAdd(
    Array.from({ length: taskCount }, (_, i): Task => ({
      id: `t${i}`,
      runId: run.id,
      projectId: 'p',
      key: `chunk-${i}`,
      order: i,
      status: 'pending',
      attempts: 0,
      updatedAt: 0,
    })),
  );
  return run;
}

/** Each task writes one evaluation row named after it, as a stand-in for a real result. */
export function writingHandler(
  overrides: Partial<Record<string, () => StepOutcome | Promise<StepOutcome>>> = {},
): RunHandler & { calls: string[] } {
  const calls: string[] = [];
  return {
    kind: 'annotate',
    calls,
    async step(task) {
      calls.push(task.key);
      const override = overrides[task.key];
      if (override) return override();
      return {
        done: true,
        step: 'annotated',
        usage: { promptTokens: 10, completionTokens: 5 },
        engineMs: 50,
        tables: ['evaluations'],
        write: async (db) => {
          await db.evaluations.add({
            id: `result-${task.key}`,
            projectId: 'p',
            runId: task.runId,
            target: { kind: 'openai', baseUrl: 'x', model: 'm' },
            createdAt: 0,
            results: {},
          });
        },
      };
    },
  };
}

export const engineFor = async () => {
  throw new Error('not used');
};
