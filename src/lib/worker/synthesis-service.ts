/** The Generate screen's requests, mapped onto synthesis runs (worker side). */
import type { RunEstimate } from '$lib/core/synthesis/estimate';
import type { ScenarioControls } from '$lib/core/synthesis/controls';
import type { SpecAlignDb } from '$lib/db/database';
import {
  createSynthesisRun,
  planSynthesisRun,
  type SynthesisRunInput,
} from './runs/synthesis-plan';
import { waveWidthFor } from '$lib/core/run-schedule';
import { configsForRun } from './runs/runner';
import { observedYield } from './stats-service';

/** What the Generate screen sends: the run's choices plus the speed to estimate with. */
export interface SynthesisRequest {
  specVersionId: string;
  instanceIds: string[];
  controls: ScenarioControls;
  seed: number;
  /** Keep only the first N planned tasks. */
  maxTasks?: number;
  /** Generation speed for the time estimate, tokens/s (e.g. measured by "test this model"). */
  tokensPerSecond: number;
}

function toInput(request: SynthesisRequest): SynthesisRunInput {
  return {
    specVersionId: request.specVersionId,
    instanceIds: request.instanceIds,
    controls: request.controls,
    seed: request.seed,
    ...(request.maxTasks ? { budgets: { maxTasks: request.maxTasks } } : {}),
  };
}

export async function planSynthesis(
  db: SpecAlignDb,
  projectId: string,
  request: SynthesisRequest,
): Promise<{ tasks: number; estimate: RunEstimate; warnings: string[] }> {
  const plan = await planSynthesisRun(db, projectId, toInput(request), {
    tokensPerSecond: request.tokensPerSecond,
    // Calibrates the expected pairs from the project's finished runs (keys-only reads).
    observedYield: await observedYield(db, projectId),
  });
  return { tasks: plan.tasks.length, estimate: plan.estimate, warnings: plan.warnings };
}

export async function startSynthesisRun(
  db: SpecAlignDb,
  projectId: string,
  request: SynthesisRequest,
): Promise<{ runId: string; tasks: number }> {
  // Waves as wide as the engines the run is planned with can batch (never their concurrency).
  const waveWidth = waveWidthFor(await configsForRun(db, projectId, 'synthesize'));
  const input = { ...toInput(request), waveWidth };
  const { run, tasks } = await createSynthesisRun(db, projectId, input, {
    tokensPerSecond: request.tokensPerSecond,
  });
  return { runId: run.id, tasks: tasks.length };
}
