/**
 * The optional `metadata` column (off by default): where a row came from, in a fixed shape so
 * that Arrow/`datasets` can load the JSONL with one schema for every row.
 *
 * `PreferencePair.provenance` is free-form (synthesis decides what it records), so this module
 * reads it by convention and never copies it wholesale:
 * - **models** — the string entries of an `engines` or `models` object (synthesis records
 *   `engines: { attacker: 'webllm:…', chosen: '…' }`) and string values under an agent-role key
 *   (`{ attacker: 'webllm:…' }`), as `{role, model}` sorted by role;
 * - **judges** — every object- or array-valued key whose name contains `judge` or `verdict`
 *   (synthesis: `judgements`; also `judge`, `safetyJudge`, `verdicts`…), as one JSON string (its
 *   shape varies with the judge, and a string keeps the column schema fixed). Secret-looking
 *   fields (`apiKey`, `token`, `authorization`, `password`, `secret`) are removed at any depth, as
 *   in the project file;
 * - **spec_version_id** — the version the pair was made on (its origin): the instance's, else
 *   `provenance.specVersionId`, else `null`. A pair an update carried over (its rule unchanged)
 *   keeps its origin;
 * - **dataset_spec_version_id** — the version the whole export reflects (issue 11 §6), the same
 *   on every row; `null` when the project has none;
 * - **origin** — where the rejected and chosen sides came from (issue 14 §4; definitions on
 *   `PairOrigin`): read through the synthesis provenance reader, which derives it for records
 *   written before version 3; `unknown` for foreign or unreadable provenance;
 * - **defender_is_target** — whether the evaluation target (the model to be trained) was the
 *   defender (synthesis `roleAssignment.defenderIsTarget`: the on-policy option); `false` otherwise.
 */
import { AGENT_ROLES } from '../engine-config';
import type { CaseType, PairStatus, PreferencePair, SpecInstance } from '../records';
import { pairOrigin, readPairProvenance } from '../stored/pair-provenance';

/** The `metadata` column of every format when provenance is on. */
export interface PairMetadata {
  pair_id: string;
  run_id: string;
  /** From the instance (or the pair's provenance); `null` when neither knows it. */
  spec_version_id: string | null;
  /** The spec version the export reflects (every row the same); `null` when unknown. */
  dataset_spec_version_id: string | null;
  instance_id: string;
  rule_ids: string[];
  case_type: CaseType;
  status: PairStatus;
  /** Milliseconds since the epoch. */
  created_at: number;
  /** Which model played which role. */
  models: { role: string; model: string }[];
  /** The judges' verdicts as recorded by synthesis, JSON-encoded (`"{}"` when none). */
  judges: string;
  /** Where the sides came from (see the module comment). */
  origin: MetadataOrigin;
  /** True when the evaluation target played the defender (on-policy defender option). */
  defender_is_target: boolean;
}

/** The `origin` field of the `metadata` column. */
export interface MetadataOrigin {
  /** `defender` (elicited), `violator`, `rewrite` (violator after rewrites) or `unknown`. */
  rejected: string;
  /** The attack round of a `defender` rejected side, else `null`. */
  rejected_round: number | null;
  /** `defender`, `written` or `unknown`. */
  chosen: string;
  /** Attack rounds run before the defender's verdict was final (1 when unknown). */
  rounds: number;
}

/** The pair's origin for the `metadata` column (see the module comment). */
export function metadataOrigin(pair: PreferencePair): MetadataOrigin {
  const read = readPairProvenance(pair.provenance, pair.id);
  if (!read.ok || !read.value)
    return { rejected: 'unknown', rejected_round: null, chosen: 'unknown', rounds: 1 };
  const origin = pairOrigin(read.value);
  return {
    rejected: origin.rejected,
    rejected_round: origin.round ?? null,
    chosen: origin.chosen,
    rounds: origin.rounds,
  };
}

const SECRET_FIELD = /^(api_?key|authorization|secret|token|password)$/i;
const ROLE_KEYS = new Set<string>(AGENT_ROLES);
const JUDGE_KEY = /judge|verdict/i;

function scrub(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(scrub);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (!SECRET_FIELD.test(k)) out[k] = scrub(v);
    return out;
  }
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The models that played each role, from a pair's provenance (see the module comment). */
export function provenanceModels(provenance: Record<string, unknown>): PairMetadata['models'] {
  const byRole = new Map<string, string>();
  for (const key of ['engines', 'models']) {
    const models = provenance[key];
    if (isRecord(models)) {
      for (const [role, model] of Object.entries(models))
        if (typeof model === 'string') byRole.set(role, model);
    }
  }
  for (const [key, value] of Object.entries(provenance))
    if (ROLE_KEYS.has(key) && typeof value === 'string') byRole.set(key, value);
  return [...byRole]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([role, model]) => ({ role, model }));
}

/** The judges' verdicts from a pair's provenance, secrets removed (see the module comment). */
export function provenanceJudges(provenance: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(provenance))
    if (JUDGE_KEY.test(key) && value !== null && typeof value === 'object') out[key] = scrub(value);
  return out;
}

/** The `metadata` column for one pair. */
export function pairMetadata(
  pair: PreferencePair,
  instance?: SpecInstance,
  datasetSpecVersionId?: string,
): PairMetadata {
  return {
    pair_id: pair.id,
    run_id: pair.runId,
    spec_version_id:
      instance?.specVersionId ??
      (typeof pair.provenance.specVersionId === 'string' ? pair.provenance.specVersionId : null),
    dataset_spec_version_id: datasetSpecVersionId ?? null,
    instance_id: pair.instanceId,
    rule_ids: [...pair.ruleIds],
    case_type: pair.caseType,
    status: pair.status,
    created_at: pair.createdAt,
    models: provenanceModels(pair.provenance),
    judges: JSON.stringify(provenanceJudges(pair.provenance)),
    origin: metadataOrigin(pair),
    defender_is_target: defenderIsTarget(pair.provenance),
  };
}

/** Whether synthesis recorded the evaluation target as this pair's defender. */
function defenderIsTarget(provenance: Record<string, unknown>): boolean {
  const assignment = provenance.roleAssignment;
  return isRecord(assignment) && assignment.defenderIsTarget === true;
}
