/** The Generate screen's requests, mapped onto synthesis runs (worker side). */
import type { TokenPrice } from '$lib/core/cost';
import { AGENT_ROLES, engineKey, type AgentRole } from '$lib/core/engine-config';
import { resolveEstimateSpeed, type EstimateSpeed } from '$lib/core/speed';
import type { Project } from '$lib/core/records';
import type { RunEstimate } from '$lib/core/synthesis/estimate';
import type { ScenarioControls } from '$lib/core/synthesis/controls';
import type { SpecAlignDb } from '$lib/db/database';
import { getModelSpeed } from '$lib/db/settings';
import {
  createSynthesisRun,
  planSynthesisRun,
  type SynthesisEstimateOptions,
  type SynthesisRunInput,
} from './runs/synthesis-plan';
import { expectedInFlight, waveWidthFor } from '$lib/core/run-schedule';
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
  /** Adversarial rounds per task before the violator writes (loop `attackRounds`); default 3. */
  attackRounds?: number;
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
    ...(request.attackRounds !== undefined ? { loop: { attackRounds: request.attackRounds } } : {}),
  };
}

/**
 * What the estimate needs besides the request: the rates, the tasks in flight, calibration and
 * each role's price.
 */
export async function estimateOptions(
  db: SpecAlignDb,
  projectId: string,
  speed: EstimateSpeed,
): Promise<SynthesisEstimateOptions> {
  const configs = await configsForRun(db, projectId, 'synthesize');
  return {
    tokensPerSecond: speed.decodeTokensPerSecond,
    promptTokensPerSecond: speed.prefillTokensPerSecond,
    inFlight: expectedInFlight(configs, Infinity, waveWidthFor(configs)),
    // Calibrates the expected pairs from the project's finished runs (keys-only reads).
    observedYield: await observedYield(db, projectId),
    prices: rolePrices(await db.projects.get(projectId)),
  };
}

/** The price of each role's model (its own, else the project default's), where it has one. */
export function rolePrices(project: Project | undefined): Partial<Record<AgentRole, TokenPrice>> {
  const prices: Partial<Record<AgentRole, TokenPrice>> = {};
  for (const role of AGENT_ROLES) {
    const config = project?.roleModels?.[role] ?? project?.defaultModel;
    if (config?.kind === 'openai' && config.price) prices[role] = { ...config.price };
  }
  return prices;
}

export async function planSynthesis(
  db: SpecAlignDb,
  projectId: string,
  request: SynthesisRequest,
): Promise<{ tasks: number; estimate: RunEstimate; warnings: string[]; speed: EstimateSpeed }> {
  const speed = await estimateSpeed(db, projectId, request);
  const plan = await planSynthesisRun(
    db,
    projectId,
    toInput(request),
    await estimateOptions(db, projectId, speed),
  );
  return { tasks: plan.tasks.length, estimate: plan.estimate, warnings: plan.warnings, speed };
}

export async function startSynthesisRun(
  db: SpecAlignDb,
  projectId: string,
  request: SynthesisRequest,
): Promise<{ runId: string; tasks: number }> {
  // Waves as wide as the engines the run is planned with can batch (never their concurrency).
  const waveWidth = waveWidthFor(await configsForRun(db, projectId, 'synthesize'));
  // The same options as the estimate shown, so the run stores exactly that estimate.
  const speed = await estimateSpeed(db, projectId, request);
  const { run, tasks } = await createSynthesisRun(
    db,
    projectId,
    { ...toInput(request), waveWidth },
    await estimateOptions(db, projectId, speed),
  );
  return { runId: run.id, tasks: tasks.length };
}
