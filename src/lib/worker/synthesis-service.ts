/** The Generate screen's requests, mapped onto synthesis runs (worker side). */
import type { TokenPrice } from '$lib/core/cost';
import { AGENT_ROLES, type AgentRole } from '$lib/core/engine-config';
import type { Project } from '$lib/core/records';
import type { RunEstimate } from '$lib/core/synthesis/estimate';
import type { ScenarioControls } from '$lib/core/synthesis/controls';
import type { SpecAlignDb } from '$lib/db/database';
import {
  createSynthesisRun,
  planSynthesisRun,
  type SynthesisEstimateOptions,
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

/** What the estimate needs besides the request: calibration and each role's price. */
async function estimateOptions(
  db: SpecAlignDb,
  projectId: string,
  request: SynthesisRequest,
): Promise<SynthesisEstimateOptions> {
  return {
    tokensPerSecond: request.tokensPerSecond,
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
): Promise<{ tasks: number; estimate: RunEstimate; warnings: string[] }> {
  const plan = await planSynthesisRun(
    db,
    projectId,
    toInput(request),
    await estimateOptions(db, projectId, request),
  );
  return { tasks: plan.tasks.length, estimate: plan.estimate, warnings: plan.warnings };
}

export async function startSynthesisRun(
  db: SpecAlignDb,
  projectId: string,
  request: SynthesisRequest,
): Promise<{ runId: string; tasks: number }> {
  // The same options as the estimate shown, so the run stores exactly that estimate.
  const { run, tasks } = await createSynthesisRun(
    db,
    projectId,
    toInput(request),
    await estimateOptions(db, projectId, request),
  );
  return { runId: run.id, tasks: tasks.length };
}
