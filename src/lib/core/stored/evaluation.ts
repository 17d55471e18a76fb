/**
 * Evaluation records: `Evaluation.results` (RCS or calibration, one row per run) and the
 * checkpointed state of an evaluation task (`Task.state`). Summaries are recomputed from the
 * items on read, so only the items and the rule snapshot are pinned strictly.
 */
import { z } from 'zod';
import { readRecord, versioned, type ReadResult, type RecordRef } from './read';

const caseType = z.enum(['violation', 'borderline', 'benign']);
const verdict = z.enum(['complied', 'violated']);
/** A rule check of version 2 (the checklist judge): a rule may be untouched by the exchange. */
const checkVerdict = z.enum(['complied', 'violated', 'not-applicable']);
const message = z.looseObject({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string(),
});

const rcsItem = z.looseObject({
  key: z.string(),
  instanceId: z.string(),
  caseType,
  // Version-1 items hold two verdicts; version 2 adds `not-applicable` (a superset: both read).
  checks: z.array(z.looseObject({ ruleId: z.string(), verdict: checkVerdict })),
  overRefusal: z.boolean(),
  judge: z.string(),
});

const calibrationItem = z.looseObject({
  key: z.string(),
  gold: verdict,
  predicted: verdict,
  judge: z.string(),
  title: z.string(),
});

/** The `Evaluation.results` envelope of version `v` (items are checked one by one on read). */
const evaluationResultsOf = <V extends 1 | 2>(v: V) =>
  z.discriminatedUnion('mode', [
    z.looseObject({
      v: z.literal(v),
      mode: z.literal('rcs'),
      label: z.string(),
      rules: z.record(
        z.string(),
        z.looseObject({ statement: z.string(), family: z.string(), stage: z.string() }),
      ),
      items: z.record(z.string(), z.unknown()),
      summary: z.looseObject({}),
    }),
    z.looseObject({
      v: z.literal(v),
      mode: z.literal('calibration'),
      label: z.string(),
      unmapped: z.number(),
      items: z.record(z.string(), z.unknown()),
      summary: z.looseObject({}),
    }),
  ]);

/** Version 1 of `Evaluation.results` (pinned in tests/unit/db/stored-records.test.ts). */
export const evaluationResultsV1 = evaluationResultsOf(1);
/**
 * Version 2 (pinned too): an RCS item checks every rule of its instance (the checklist judge), so
 * a check may be `not-applicable`; a calibration reply was judged in one call. Same envelope.
 */
export const evaluationResultsV2 = evaluationResultsOf(2);

/** One finished item of an RCS or calibration run. */
export const evaluationItemSchemas = { rcs: rcsItem, calibration: calibrationItem } as const;

export const evaluationResultsSchema = versioned(
  z.union([evaluationResultsV1, evaluationResultsV2]),
);

/** An evaluation's results with each item checked: unreadable items are listed and left out. */
export type ReadEvaluationResults =
  | {
      v: 1 | 2;
      mode: 'rcs';
      label: string;
      rules: Record<string, { statement: string; family: string; stage: string }>;
      items: Record<string, z.output<typeof rcsItem>>;
      /** Items that failed their schema, as messages (they count nowhere). */
      corrupt: string[];
    }
  | {
      v: 1 | 2;
      mode: 'calibration';
      label: string;
      unmapped: number;
      items: Record<string, z.output<typeof calibrationItem>>;
      corrupt: string[];
    };

/** Reads `Evaluation.results`; a corrupt envelope is an error, a corrupt item is skipped. */
export function readEvaluationResults(
  raw: unknown,
  ref: RecordRef,
): ReadResult<ReadEvaluationResults> {
  const envelope = readRecord(evaluationResultsSchema, raw, ref);
  if (!envelope.ok) return envelope;
  const { items, summary: _summary, ...rest } = envelope.value;
  const schema = evaluationItemSchemas[rest.mode];
  const good: Record<string, unknown> = {};
  const corrupt: string[] = [];
  for (const [key, item] of Object.entries(items)) {
    const read = readRecord(schema, item, { table: `${ref.table}.items`, id: `${ref.id}/${key}` });
    if (read.ok) good[key] = read.value;
    else corrupt.push(read.error.message);
  }
  return { ok: true, value: { ...rest, items: good, corrupt } as ReadEvaluationResults };
}

const rcsItemOfState = z.looseObject({
  key: z.string(),
  instanceId: z.string(),
  ruleIds: z.array(z.string()),
  caseType,
  messages: z.array(message),
  system: z.string().optional(),
});

/** Version 1 of an RCS task's state: the query's rules judged one call each (pinned). */
export const rcsTaskStateV1 = z.looseObject({
  v: z.literal(1),
  item: rcsItemOfState,
  reply: z.string().optional(),
  checks: z.array(z.looseObject({ ruleId: z.string(), verdict })),
  overRefusal: z.boolean(),
  feedback: z.string().optional(),
  judge: z.string().optional(),
});

/**
 * Version 2 (pinned): one checklist call judges every rule of the instance, so a check may be
 * `not-applicable`. A version-1 state resumes under version 2: its partial checks are replaced.
 */
export const rcsTaskStateV2 = rcsTaskStateV1.extend({
  v: z.literal(2),
  checks: z.array(z.looseObject({ ruleId: z.string(), verdict: checkVerdict })),
});

/** Version 1 of a calibration task's state (pinned in the schema test). */
export const calibrationTaskStateV1 = z.looseObject({
  v: z.literal(1),
  item: z.looseObject({
    key: z.string(),
    exampleId: z.string(),
    title: z.string(),
    gold: verdict,
    reply: z.string(),
    conversation: z.array(message),
    instancePrompt: z.string(),
    groups: z.array(z.array(z.looseObject({ label: z.string(), ruleId: z.string() }))),
  }),
  group: z.number().int().nonnegative(),
  violated: z.boolean(),
  feedback: z.string().optional(),
  judge: z.string().optional(),
});

const calibrationRule = z.looseObject({ label: z.string(), ruleId: z.string() });
const calibrationItemV2 = calibrationTaskStateV1.shape.item.omit({ groups: true }).extend({
  rules: z.array(calibrationRule),
});

/** Version 2 of a calibration task's state: one checklist over `item.rules` (no rule groups). */
export const calibrationTaskStateV2 = z.looseObject({
  v: z.literal(2),
  item: calibrationItemV2,
  violated: z.boolean(),
  feedback: z.string().optional(),
  judge: z.string().optional(),
});

/**
 * A version-1 calibration state as version 2: its groups become one rule list. A state part-way
 * through its groups keeps `violated` and judges the whole list again (one call).
 */
function upgradeCalibrationState(raw: z.output<typeof calibrationTaskStateV1>) {
  const { groups, ...item } = raw.item;
  const { group: _group, ...rest } = raw;
  return { ...rest, v: 2 as const, item: { ...item, rules: groups.flat() } };
}

export const rcsTaskStateSchema = versioned(
  z.discriminatedUnion('v', [rcsTaskStateV1, rcsTaskStateV2]),
);
export const calibrationTaskStateSchema = versioned(
  z.union([calibrationTaskStateV2, calibrationTaskStateV1.transform(upgradeCalibrationState)]),
);
