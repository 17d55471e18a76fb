/** The Generate screen's requests, mapped onto synthesis runs (worker side). */
import type { TokenPrice } from '$lib/core/cost';
import { AGENT_ROLES, engineKey, type AgentRole, type EngineConfig } from '$lib/core/engine-config';
import { resolveEstimateSpeed, type EstimateSpeed } from '$lib/core/speed';
import type { Project } from '$lib/core/records';
import type { ModelRates, RunEstimate } from '$lib/core/synthesis/estimate';
import { configuredModels } from '$lib/core/synthesis/role-rotation';
import type { ScenarioControls } from '$lib/core/synthesis/controls';
import type { SpecAlignDb } from '$lib/db/database';
import { getModelSpeed } from '$lib/db/settings';
import {
  createSynthesisRun,
  planSynthesisRun,
  SynthesisConfigError,
  type SynthesisEstimateOptions,
  type SynthesisRolesInput,
  type SynthesisRunInput,
} from './runs/synthesis-plan';
import { expectedInFlight, waveWidthFor } from '$lib/core/run-schedule';
import { configsForRun, RUN_ROLES } from './runs/runner';
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
  /**
   * On-policy defender: the project's evaluation target (its "Evaluation target" model on
   * Models) defends every task. Refused when the project has no target model of its own.
   */
  defenderIsTarget?: boolean;
  /** Engine keys of configured models to rotate attacker and defender among (two or more). */
  rotate?: string[];
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

function toInput(request: SynthesisRequest, project: Project | undefined): SynthesisRunInput {
  const roles = resolveRoleRequest(request, project);
  return {
    specVersionId: request.specVersionId,
    instanceIds: request.instanceIds,
    controls: request.controls,
    seed: request.seed,
    ...(request.maxTasks ? { budgets: { maxTasks: request.maxTasks } } : {}),
    ...(request.attackRounds !== undefined ? { loop: { attackRounds: request.attackRounds } } : {}),
    ...(roles ? { roles } : {}),
  };
}

/**
 * The request's role options with their engine configs: the target is the project's own
 * "Evaluation target" pick (not the default model it falls back to: defending with the model
 * every role already uses would change nothing); rotated models must be configured models.
 *
 * @throws SynthesisConfigError naming what to set when a model is missing.
 */
export function resolveRoleRequest(
  request: Pick<SynthesisRequest, 'defenderIsTarget' | 'rotate'>,
  project: Project | undefined,
): SynthesisRolesInput | undefined {
  const out: { defenderTarget?: EngineConfig; rotate?: EngineConfig[] } = {};
  if (request.defenderIsTarget) {
    const target = project?.roleModels?.target;
    if (!target)
      throw new SynthesisConfigError(
        'The on-policy defender needs an evaluation target: choose the model you will train as "Evaluation target" under Models → Model per role, then try again.',
      );
    out.defenderTarget = target;
  }
  const keys = [...new Set(request.rotate ?? [])];
  if (keys.length) {
    const configured = new Map(configuredModels(project ?? {}).map((m) => [m.key, m.config]));
    out.rotate = keys.map((key) => {
      const config = configured.get(key);
      if (!config)
        throw new SynthesisConfigError(
          `The model ${key} is no longer configured for this project; choose the models to rotate again.`,
        );
      return config;
    });
  }
  return out.defenderTarget || out.rotate ? out : undefined;
}

/**
 * What the estimate needs besides the request: the rates, the tasks in flight, calibration and
 * each role's price (per model when the run uses several).
 */
export async function estimateOptions(
  db: SpecAlignDb,
  projectId: string,
  speed: EstimateSpeed,
  request: Pick<SynthesisRequest, 'tokensPerSecond' | 'promptTokensPerSecond'>,
  input: Pick<SynthesisRunInput, 'roles'>,
): Promise<SynthesisEstimateOptions> {
  const project = await db.projects.get(projectId);
  // The models the run's tasks are assigned count too (on-policy defender, rotation).
  const configs = [
    ...(await configsForRun(db, projectId, 'synthesize')),
    ...(input.roles?.defenderTarget ? [input.roles.defenderTarget] : []),
    ...(input.roles?.rotate ?? []),
  ];
  return {
    tokensPerSecond: speed.decodeTokensPerSecond,
    promptTokensPerSecond: speed.prefillTokensPerSecond,
    inFlight: expectedInFlight(configs, Infinity, waveWidthFor(configs)),
    // Calibrates the expected pairs from the project's finished runs (keys-only reads).
    observedYield: await observedYield(db, projectId),
    prices: rolePrices(project),
    // Runs on several models (per-role picks, or models per task) are estimated per model, each
    // at its own rates and price.
    ...(input.roles || severalModels(project)
      ? { models: await modelRates(db, project, request, input) }
      : {}),
  };
}

/**
 * In-browser engines hold one model per kind at a time (worker/model-registry.ts): a run whose
 * tasks switch between two web-llm (or two GGUF) models reloads a model at every switch. Said
 * before the run starts, so the user can pick an endpoint or fewer models instead.
 */
export function reloadWarnings(project: Project | undefined, input: SynthesisRunInput): string[] {
  if (!input.roles) return [];
  const configs = new Map<string, EngineConfig>();
  for (const role of RUN_ROLES.synthesize) {
    const config = project?.roleModels?.[role] ?? project?.defaultModel;
    if (config) configs.set(engineKey(config), config);
  }
  if (input.roles.defenderTarget)
    configs.set(engineKey(input.roles.defenderTarget), input.roles.defenderTarget);
  for (const config of input.roles.rotate ?? []) configs.set(engineKey(config), config);
  const warnings: string[] = [];
  for (const kind of ['webllm', 'wllama'] as const) {
    const names = [...configs.values()].filter((c) => c.kind === kind).map((c) => c.model);
    if (names.length > 1)
      warnings.push(
        `${names.join(', ')} are all ${kind === 'webllm' ? 'WebGPU (web-llm)' : 'GGUF'} models, and this browser holds one of them at a time: the run reloads a model whenever a task switches between them, which is slow. An endpoint serving them, or fewer models, avoids it.`,
      );
  }
  return warnings;
}

/** Whether the roles a synthesis run calls use more than one model. */
function severalModels(project: Project | undefined): boolean {
  const keys = new Set<string>();
  for (const role of RUN_ROLES.synthesize) {
    const config = project?.roleModels?.[role] ?? project?.defaultModel;
    if (config) keys.add(engineKey(config));
  }
  return keys.size > 1;
}

/**
 * Every model a run uses (its roles' project models and the models its tasks are assigned),
 * with this device's measured rates (else defaults for where it runs; speeds the user entered
 * apply to every model) and its price.
 */
async function modelRates(
  db: SpecAlignDb,
  project: Project | undefined,
  request: Pick<SynthesisRequest, 'tokensPerSecond' | 'promptTokensPerSecond'>,
  input: Pick<SynthesisRunInput, 'roles'>,
): Promise<NonNullable<SynthesisEstimateOptions['models']>> {
  const byRole: Partial<Record<AgentRole, string>> = {};
  const configs = new Map<string, EngineConfig>();
  for (const role of RUN_ROLES.synthesize) {
    const config = project?.roleModels?.[role] ?? project?.defaultModel;
    if (!config) continue;
    byRole[role] = engineKey(config);
    configs.set(engineKey(config), config);
  }
  const assigned = [
    ...(input.roles?.defenderTarget ? [input.roles.defenderTarget] : []),
    ...(input.roles?.rotate ?? []),
  ];
  for (const config of assigned) configs.set(engineKey(config), config);
  const rates: Record<string, ModelRates> = {};
  for (const [key, config] of configs) {
    const speed = resolveEstimateSpeed(config, await getModelSpeed(db, key), {
      ...(request.promptTokensPerSecond !== undefined && {
        prefill: request.promptTokensPerSecond,
      }),
      ...(request.tokensPerSecond !== undefined && { decode: request.tokensPerSecond }),
    });
    rates[key] = {
      label: config.model,
      tokensPerSecond: speed.decodeTokensPerSecond,
      promptTokensPerSecond: speed.prefillTokensPerSecond,
      ...(config.kind === 'openai' && config.price ? { price: { ...config.price } } : {}),
    };
  }
  return { byRole, rates };
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
  const input = toInput(request, await db.projects.get(projectId));
  const plan = await planSynthesisRun(
    db,
    projectId,
    input,
    await estimateOptions(db, projectId, speed, request, input),
  );
  const warnings = [...plan.warnings, ...reloadWarnings(await db.projects.get(projectId), input)];
  return { tasks: plan.tasks.length, estimate: plan.estimate, warnings, speed };
}

export async function startSynthesisRun(
  db: SpecAlignDb,
  projectId: string,
  request: SynthesisRequest,
): Promise<{ runId: string; tasks: number }> {
  const input = toInput(request, await db.projects.get(projectId));
  // Waves as wide as the engines the run is planned with can batch (never their concurrency),
  // the models its tasks are assigned included.
  const waveWidth = waveWidthFor([
    ...(await configsForRun(db, projectId, 'synthesize')),
    ...(input.roles?.defenderTarget ? [input.roles.defenderTarget] : []),
    ...(input.roles?.rotate ?? []),
  ]);
  // The same options as the estimate shown, so the run stores exactly that estimate.
  const speed = await estimateSpeed(db, projectId, request);
  const { run, tasks } = await createSynthesisRun(
    db,
    projectId,
    { ...input, waveWidth },
    await estimateOptions(db, projectId, speed, request, input),
  );
  return { runId: run.id, tasks: tasks.length };
}
