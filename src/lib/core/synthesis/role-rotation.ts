/**
 * Which model plays attacker and defender on each task of a synthesis run (METHOD.md §3: the
 * attacker and the defender swap roles so that strategies do not freeze; issue 14 §2).
 *
 * Two run options, both decided when the run is planned and stored with each task (never at run
 * time), so a task's assignment does not depend on how many tasks are in flight (K), on timing, or
 * on a reload:
 * - **On-policy defender**: the evaluation target — the model the user will train — answers every
 *   attack, so an elicited rejected reply is that model's own failure.
 * - **Role rotation** among n ≥ 2 models: task `order` takes slot `order mod n(n−1)` of the ordered
 *   (attacker, defender) pairs of distinct models, listed by offset: (0→1, 1→2, …, n−1→0, 0→2, …).
 *   Over every full cycle each ordered pair occurs once, so each model attacks and defends n − 1
 *   times, and within any n consecutive tasks every model attacks once. With two models A and B:
 *   A attacks B, then B attacks A, and so on.
 * - Both: the target defends every task and the attacker rotates among the other models (the
 *   target attacks only when it is the only model listed).
 *
 * Method choices where the paper is silent: only the attacker and the defender rotate; planner,
 * judges and violator keep the project's per-role models, so the verdicts of a run stay comparable
 * across tasks. The *chosen* writer (the defender's role in the project's settings) is not
 * reassigned: the chosen side must pass every check of the instance, and the point of the
 * on-policy option is the *rejected* side.
 */
import { AGENT_ROLES, engineKey, type AgentRole, type EngineConfig } from '../engine-config';

/** The agents whose model a task assignment may set. */
export const ROTATED_AGENTS = ['attacker', 'defender'] as const;
export type RotatedAgent = (typeof ROTATED_AGENTS)[number];

/** The role options of a run, by engine key (core/engine-config.ts `engineKey`). */
export interface RolePlanOptions {
  /** The evaluation target's engine key: set to make it the defender of every task. */
  defenderTarget?: string;
  /** Engine keys to rotate attacker and defender among (order as the user listed them). */
  rotate?: readonly string[];
}

/** The models of one task, stored with the task (`LoopState.roles`) and in its pair's provenance. */
export interface TaskRoles {
  /** Engine key of the attacker's model; absent: the project's attacker model. */
  attacker?: string;
  /** Engine key of the defender's model; absent: the project's defender model. */
  defender?: string;
  /** True when the defender is the evaluation target (the on-policy option). */
  defenderIsTarget: boolean;
  /** Position in the rotation cycle (absent without rotation). */
  slot?: number;
}

/** The rotation list without duplicates, in the user's order. */
export function rotationModels(options: RolePlanOptions): string[] {
  return [...new Set(options.rotate ?? [])];
}

/**
 * The models of the task at queue position `order` (a whole number ≥ 0); undefined when the run
 * has neither option (every role keeps the project's model). Pure: the same inputs always give the
 * same assignment. See the module comment for the rules.
 */
export function assignTaskRoles(order: number, options: RolePlanOptions): TaskRoles | undefined {
  if (!Number.isSafeInteger(order) || order < 0)
    throw new RangeError(`Task order must be a whole number ≥ 0, got ${order}.`);
  const models = rotationModels(options);
  const rotating = models.length >= 2;
  const target = options.defenderTarget;
  if (target !== undefined) {
    if (!rotating) return { defender: target, defenderIsTarget: true };
    const attackers = models.filter((m) => m !== target);
    const pool = attackers.length ? attackers : models;
    const slot = order % pool.length;
    return { attacker: pool[slot] as string, defender: target, defenderIsTarget: true, slot };
  }
  if (!rotating) return undefined;
  const n = models.length;
  const slot = order % (n * (n - 1));
  const offset = 1 + Math.floor(slot / n);
  const attacker = slot % n;
  return {
    attacker: models[attacker] as string,
    defender: models[(attacker + offset) % n] as string,
    defenderIsTarget: false,
    slot,
  };
}

/** Tasks per full rotation cycle (1 without rotation). */
export function rotationCycle(options: RolePlanOptions): number {
  const n = rotationModels(options).length;
  if (n < 2) return 1;
  if (options.defenderTarget === undefined) return n * (n - 1);
  return Math.max(1, rotationModels(options).filter((m) => m !== options.defenderTarget).length);
}

/** A model configured for a project, with the roles it serves there. */
export interface ConfiguredModel {
  key: string;
  config: EngineConfig;
  /** Display name: the model's name. */
  label: string;
  /** The roles it serves (the default model serves every role without its own). */
  roles: AgentRole[];
}

/**
 * The distinct models a project has configured (its default model and per-role picks), in the
 * order of first use: what a run may rotate roles among.
 */
export function configuredModels(project: {
  defaultModel?: EngineConfig | undefined;
  roleModels?: Partial<Record<AgentRole, EngineConfig>> | undefined;
}): ConfiguredModel[] {
  const out = new Map<string, ConfiguredModel>();
  const add = (config: EngineConfig | undefined, role?: AgentRole) => {
    if (!config) return;
    const key = engineKey(config);
    const entry = out.get(key) ?? { key, config, label: config.model, roles: [] };
    if (role && !entry.roles.includes(role)) entry.roles.push(role);
    out.set(key, entry);
  };
  add(project.defaultModel);
  for (const role of AGENT_ROLES) add(project.roleModels?.[role] ?? project.defaultModel, role);
  return [...out.values()];
}

/**
 * What a stored synthesis run config (`Run.config`) says about who attacks and defends, for
 * display; undefined when the run has no role options (every agent on its role's model).
 */
export function describeRunRoles(config: unknown): string | undefined {
  const roles = (config as { roles?: unknown } | null | undefined)?.roles;
  if (!roles || typeof roles !== 'object') return undefined;
  const { defenderTarget, rotate, models } = roles as {
    defenderTarget?: unknown;
    rotate?: unknown;
    models?: Record<string, { model?: unknown } | undefined>;
  };
  const name = (key: unknown) => {
    const model = typeof key === 'string' ? models?.[key]?.model : undefined;
    return typeof model === 'string' ? model : String(key);
  };
  const rotating = Array.isArray(rotate) ? rotate.filter((k) => k !== defenderTarget) : [];
  const parts: string[] = [];
  if (typeof defenderTarget === 'string')
    parts.push(`the evaluation target (${name(defenderTarget)}) defends every task`);
  if (rotating.length >= (typeof defenderTarget === 'string' ? 1 : 2))
    parts.push(
      typeof defenderTarget === 'string'
        ? `the attacker rotates among ${rotating.map(name).join(', ')}`
        : `attacker and defender rotate among ${rotating.map(name).join(', ')}`,
    );
  return parts.length ? parts.join('; ') : undefined;
}
