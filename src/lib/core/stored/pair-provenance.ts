/**
 * `PreferencePair.provenance` as synthesis writes it (METHOD.md §3; the TS type is
 * `PairProvenance` in synthesis/loop-types.ts). Extra keys are kept (`review` holds a reviewer's
 * originals), so the object schemas are loose; the fields below are what readers rely on.
 *
 * Pairs from elsewhere (a hand-made or older import) may carry free-form provenance without
 * `method`: they are *foreign*, read as "no synthesis provenance", not as corrupt. A record that
 * claims `method: 'specalign-adversarial/1'` and fails the schema is corrupt.
 */
import { z } from 'zod';
import type { PairOrigin, PairProvenance } from '../synthesis/loop-types';
import { readRecord, versioned, type ReadResult } from './read';
import { taskRolesV1 } from './runs';

const caseType = z.enum(['violation', 'borderline', 'benign']);
const candidateKind = z.enum(['chosen', 'violation', 'refusal']);

/** A safety summary whose verdicts take `values` (version 1: two; version 2: the checklist's three). */
const safetySummaryOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.looseObject({
    verdicts: z.array(
      z.looseObject({
        ruleId: z.string().optional(),
        label: z.string(),
        verdict: z.enum(values),
        evidence: z.string(),
        rationale: z.string(),
      }),
    ),
    overRefusal: z.boolean(),
  });
const safetySummaryV1 = safetySummaryOf(['complied', 'violated']);
const safetySummaryV2 = safetySummaryOf(['complied', 'violated', 'not-applicable']);

const qualitySummary = z.looseObject({
  helpfulness: z.number(),
  fluency: z.number(),
  rationale: z.string(),
});

type SafetySummarySchema = typeof safetySummaryV1 | typeof safetySummaryV2;

const judgedResponseOf = (safety: SafetySummarySchema) =>
  z.looseObject({
    source: z.enum(['defender', 'chosen-writer', 'violator']),
    response: z.string(),
    safety: safety.optional(),
    quality: qualitySummary.optional(),
  });

const judgementRecordOf = (safety: SafetySummarySchema) =>
  z.looseObject({
    subject: z.enum(['defender', 'chosen', 'violation', 'refusal']),
    judge: z.enum(['safety', 'quality']),
    attempt: z.number(),
    passed: z.boolean(),
    safety: safety.optional(),
    quality: qualitySummary.optional(),
    contradiction: z.string().optional(),
  });

const roleUsage = z.looseObject({
  calls: z.number(),
  attempts: z.number(),
  promptTokens: z.number(),
  completionTokens: z.number(),
  engineMs: z.number(),
});

/** The fields every version shares; `safety` is the version's safety summary. */
const provenanceFields = (safety: SafetySummarySchema) => ({
  method: z.literal('specalign-adversarial/1'),
  specVersionId: z.string(),
  instanceId: z.string(),
  taskKey: z.string(),
  seed: z.number(),
  targetRuleIds: z.array(z.string()),
  judgedRuleIds: z.array(z.string()),
  ruleLabels: z.record(z.string(), z.string()),
  caseType,
  path: z.enum(['defender-violated', 'over-refusal', 'violator', 'refusal-writer']),
  persona: z.string(),
  difficulty: z.number(),
  turns: z.number(),
  language: z.string(),
  setting: z.string(),
  plan: z.looseObject({
    strategy: z.string(),
    angle: z.string(),
    persona: z.string(),
    roleSwap: z.boolean(),
  }),
  engines: z.record(z.string(), z.string()),
  chosen: judgedResponseOf(safety),
  rejected: judgedResponseOf(safety),
  defender: judgedResponseOf(safety),
  judgements: z.array(judgementRecordOf(safety)),
  writes: z.record(candidateKind, z.number()),
  lengths: z.looseObject({
    chosenChars: z.number(),
    rejectedChars: z.number(),
    chosenWords: z.number(),
    rejectedWords: z.number(),
    ratio: z.number(),
  }),
  usage: z.record(z.string(), roleUsage),
  timing: z.looseObject({ startedAt: z.number(), finishedAt: z.number(), engineMs: z.number() }),
  /** The task's planned attacker/defender models (on-policy defender, rotation); optional. */
  roleAssignment: taskRolesV1.optional(),
});

/** Version 1 of synthesis provenance (pinned in tests/unit/db/stored-records.test.ts). */
export const pairProvenanceV1 = z.looseObject({
  v: z.literal(1),
  ...provenanceFields(safetySummaryV1),
});

/**
 * Version 2: the safety judge is a checklist over every rule of the instance, so a verdict may
 * be `not-applicable` and `judgedRuleIds` lists the whole instance (pinned in the same test).
 */
export const pairProvenanceV2 = z.looseObject({
  v: z.literal(2),
  ...provenanceFields(safetySummaryV2),
});

const attackRound = z.looseObject({
  round: z.number(),
  turns: z.array(z.looseObject({ role: z.string(), content: z.string() })),
  reply: z.string(),
  verdict: z.enum(['complied', 'violated', 'not-applicable']).optional(),
  rationale: z.string(),
  overRefusal: z.boolean(),
});

/**
 * Version 3: adversarial rounds (issue 14 §1, §4). Version 2 plus `origin` — where the rejected
 * side came from (`defender` in round n, `violator`, `rewrite`) and the chosen side (`defender`,
 * `written`), defined on `PairOrigin` — and `heldRounds`, the rounds the defender held. Pinned
 * in tests/unit/db/stored-records.test.ts.
 */
export const pairProvenanceV3 = z.looseObject({
  v: z.literal(3),
  ...provenanceFields(safetySummaryV2),
  judgements: z.array(
    judgementRecordOf(safetySummaryV2).extend({ round: z.number().int().min(1).optional() }),
  ),
  origin: z.looseObject({
    rejected: z.enum(['defender', 'violator', 'rewrite']),
    round: z.number().int().min(1).optional(),
    chosen: z.enum(['defender', 'written']),
    rounds: z.number().int().min(1),
  }),
  heldRounds: z.array(attackRound),
});

/** Synthesis provenance of any version, stamped `v: 1` when written before versions existed. */
export const pairProvenanceSchema = versioned(
  z.discriminatedUnion('v', [pairProvenanceV1, pairProvenanceV2, pairProvenanceV3]),
);

/**
 * Where a pair's sides came from (definitions on `PairOrigin`): version 3 stores it; for
 * versions 1 and 2 (one attack per task, so round 1) it is derived from the path, the sides'
 * `source` and the write counts, and a field that disagrees with the path reads as `unknown`
 * rather than as a guess.
 */
export function pairOrigin(provenance: PairProvenance): PairOrigin {
  if (provenance.v === 3 && provenance.origin) return provenance.origin;
  const { path, rejected, chosen, writes } = provenance;
  const elicited = path === 'defender-violated' || path === 'over-refusal';
  const kind = path === 'refusal-writer' ? 'refusal' : 'violation';
  const written = writes[kind];
  const rejectedOrigin: PairOrigin['rejected'] = elicited
    ? rejected.source === 'defender'
      ? 'defender'
      : 'unknown'
    : rejected.source !== 'violator' || written === undefined || written < 1
      ? 'unknown'
      : written > 1
        ? 'rewrite'
        : 'violator';
  return {
    rejected: rejectedOrigin,
    ...(rejectedOrigin === 'defender' ? { round: 1 } : {}),
    chosen:
      chosen.source === 'defender'
        ? 'defender'
        : chosen.source === 'chosen-writer'
          ? 'written'
          : 'unknown',
    rounds: 1,
  };
}

/** The synthesis method marker: provenance with it must pass the schema. */
export const SYNTHESIS_METHOD = 'specalign-adversarial/1';

/**
 * A pair's provenance as typed synthesis provenance: `value` is `undefined` for foreign (free-form)
 * provenance, an error for a record that claims to be synthesis provenance and is not.
 */
export function readPairProvenance(
  raw: unknown,
  pairId: string,
): ReadResult<PairProvenance | undefined> {
  const isSynthesis =
    raw !== null &&
    typeof raw === 'object' &&
    (raw as { method?: unknown }).method === SYNTHESIS_METHOD;
  if (!isSynthesis) return { ok: true, value: undefined };
  return readRecord(pairProvenanceSchema, raw, {
    table: 'pairs.provenance',
    id: pairId,
  }) as ReadResult<PairProvenance>;
}
