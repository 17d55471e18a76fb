/**
 * Run records: `Run.config` of synthesis and evaluation runs, and a synthesis task's checkpointed
 * `Task.state` (the loop's `LoopState`, whose `version` field predates `v` and stays its version).
 */
import { z } from 'zod';
import { versioned } from './read';

const caseType = z.enum(['violation', 'borderline', 'benign']);

/**
 * A task's planned attacker/defender models (`TaskRoles`, core/synthesis/role-rotation.ts): an
 * optional field of the loop state and of pair provenance (absent: the project's per-role models).
 */
export const taskRolesV1 = z.looseObject({
  attacker: z.string().optional(),
  defender: z.string().optional(),
  defenderIsTarget: z.boolean(),
  slot: z.number().optional(),
});

/**
 * The role options of a synthesis run (`SynthesisRoles` in worker/runs/synthesis-plan.ts): an
 * optional field of the version-2 config (absent: every role uses the project's model, as before
 * the option existed). `models` holds the engine configs the tasks' `roles` name, by engine key,
 * so a run resumes on the models it was planned with even if the project's picks change.
 */
export const synthesisRolesV1 = z.looseObject({
  defenderTarget: z.string().optional(),
  rotate: z.array(z.string()),
  models: z.record(z.string(), z.looseObject({ kind: z.enum(['webllm', 'wllama', 'openai']) })),
});

/** Version 1 of a synthesis run's `Run.config` (pinned in the schema test). */
export const synthesisRunConfigV1 = z.looseObject({
  v: z.literal(1),
  specVersionId: z.string(),
  instanceIds: z.array(z.string()),
  controls: z.looseObject({}),
  seed: z.number(),
  budgets: z.looseObject({}),
  loop: z.looseObject({
    qualityThreshold: z.number(),
    maxCandidateAttempts: z.number(),
    roleSwapEvery: z.number(),
    experienceLimit: z.number(),
    duplicateThreshold: z.number(),
    jsonRetries: z.number(),
    /**
     * Adversarial rounds (issue 14 §1), added compatibly to versions 1 and 2: a run stored
     * before it existed reads as 1 round, the behaviour it was started with, so it resumes
     * unchanged.
     */
    attackRounds: z.number().optional().default(1),
  }),
  instanceFingerprints: z.record(z.string(), z.string()),
});

const tokenPrice = z.looseObject({ inputPerMillion: z.number(), outputPerMillion: z.number() });

/** The estimate a synthesis run was started with (`StartEstimate`), kept to compare with actuals. */
export const startEstimateV1 = z.looseObject({
  tasks: z.number(),
  calls: z.number(),
  promptTokens: z.number(),
  completionTokens: z.number(),
  timeMs: z.number(),
  expectedPairs: z.number(),
  tokensPerSecond: z.number(),
  /** USD per million tokens of each role's model when the run started. */
  prices: z.record(z.string(), tokenPrice),
  cost: z.looseObject({ total: z.number(), unpricedRoles: z.array(z.string()) }).optional(),
});

/**
 * Version 2 of a synthesis run's `Run.config`: version 1 plus the estimate it started with, and
 * optionally the run's role options (on-policy defender, role rotation; absent before them).
 */
export const synthesisRunConfigV2 = synthesisRunConfigV1.extend({
  v: z.literal(2),
  estimate: startEstimateV1,
  roles: synthesisRolesV1.optional(),
});
export const synthesisRunConfigSchema = versioned(
  z.discriminatedUnion('v', [synthesisRunConfigV1, synthesisRunConfigV2]),
);

/** The estimate a synthesis run's config holds (version 2), else undefined. */
export function readStartEstimate(config: unknown): z.output<typeof startEstimateV1> | undefined {
  const parsed = synthesisRunConfigSchema.safeParse(config);
  return parsed.success && parsed.data.v === 2 ? parsed.data.estimate : undefined;
}

/** Version 1 of an evaluation run's `Run.config` (pinned in the schema test). */
export const evaluationRunConfigV1 = z.discriminatedUnion('mode', [
  z.looseObject({
    v: z.literal(1),
    mode: z.literal('rcs'),
    evaluationId: z.string(),
    request: z.looseObject({}),
    targetEngineId: z.string(),
  }),
  z.looseObject({
    v: z.literal(1),
    mode: z.literal('calibration'),
    evaluationId: z.string(),
    specVersionId: z.string(),
    judgeEngineId: z.string(),
  }),
]);
export const evaluationRunConfigSchema = z.preprocess(
  (raw) =>
    raw !== null && typeof raw === 'object' && !Array.isArray(raw) && !('v' in raw)
      ? { ...raw, v: 1 }
      : raw,
  evaluationRunConfigV1,
);

/** Version 1 of a synthesis task's `Task.state` (`LoopState`; pinned in the schema test). */
export const loopStateV1 = z.looseObject({
  version: z.literal(1),
  task: z.looseObject({
    key: z.string(),
    order: z.number(),
    seed: z.number(),
    instanceId: z.string(),
    ruleId: z.string(),
    caseType,
    persona: z.string(),
    difficulty: z.number(),
    turns: z.number(),
    language: z.string(),
    setting: z.string(),
  }),
  next: z.string(),
  calls: z.number(),
  pending: z.array(z.enum(['chosen', 'violation', 'refusal'])),
  writes: z.looseObject({ chosen: z.number(), violation: z.number(), refusal: z.number() }),
  usage: z.record(z.string(), z.unknown()),
  engines: z.record(z.string(), z.string()),
  judgements: z.array(z.looseObject({})),
  roles: taskRolesV1.optional(),
});
