/** The Generate screen's requests, mapped onto synthesis runs (worker side). */
import { engineKey } from '$lib/core/engine-config';
import { resolveEstimateSpeed, type EstimateSpeed } from '$lib/core/speed';
import type { RunEstimate } from '$lib/core/synthesis/estimate';
import type { ScenarioControls } from '$lib/core/synthesis/controls';
import type { SpecAlignDb } from '$lib/db/database';
import { getModelSpeed } from '$lib/db/settings';
import {
  createSynthesisRun,
  planSynthesisRun,
  type SynthesisRunInput,
} from './runs/synthesis-plan';
import { observedYield } from './stats-service';

/** What the Generate screen sends: the run's choices plus the speed to estimate with. */
export interface SynthesisRequest {
  specVersionId: string;
  instanceIds: string[];
  controls: ScenarioControls;
  seed: number;
  /** Keep only the first N planned tasks. */
  maxTasks?: number;
  /** Generation (decode) speed the user entered, tokens/s; else measured or default. */
  tokensPerSecond?: number;
  /** Prompt processing (prefill) speed the user entered, tokens/s; else measured or default. */
  promptTokensPerSecond?: number;
}

/**
 * The rates to estimate with: entered, else this device's "Test this model" measurement of the
 * project's default model, else defaults for where it runs (core/speed.ts).
 */
export async function estimateSpeed(
  db: SpecAlignDb,
  projectId: string,
  request: Pick<SynthesisRequest, 'tokensPerSecond' | 'promptTokensPerSecond'>,
): Promise<EstimateSpeed> {
  const config = (await db.projects.get(projectId))?.defaultModel;
  const measured = config ? await getModelSpeed(db, engineKey(config)) : undefined;
  return resolveEstimateSpeed(config, measured, {
    ...(request.promptTokensPerSecond !== undefined && { prefill: request.promptTokensPerSecond }),
    ...(request.tokensPerSecond !== undefined && { decode: request.tokensPerSecond }),
  });
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
): Promise<{ tasks: number; estimate: RunEstimate; warnings: string[]; speed: EstimateSpeed }> {
  const speed = await estimateSpeed(db, projectId, request);
  const plan = await planSynthesisRun(db, projectId, toInput(request), {
    tokensPerSecond: speed.decodeTokensPerSecond,
    promptTokensPerSecond: speed.prefillTokensPerSecond,
    // Calibrates the expected pairs from the project's finished runs (keys-only reads).
    observedYield: await observedYield(db, projectId),
  });
  return { tasks: plan.tasks.length, estimate: plan.estimate, warnings: plan.warnings, speed };
}

export async function startSynthesisRun(
  db: SpecAlignDb,
  projectId: string,
  request: SynthesisRequest,
): Promise<{ runId: string; tasks: number }> {
  const speed = await estimateSpeed(db, projectId, request);
  const { run, tasks } = await createSynthesisRun(db, projectId, toInput(request), {
    tokensPerSecond: speed.decodeTokensPerSecond,
    promptTokensPerSecond: speed.prefillTokensPerSecond,
  });
  return { runId: run.id, tasks: tasks.length };
}
