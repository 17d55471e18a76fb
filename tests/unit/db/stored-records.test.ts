import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  calibrationTaskStateSchema,
  calibrationTaskStateV1,
  calibrationTaskStateV2,
  evaluationResultsV1,
  evaluationResultsV2,
  evaluationRunConfigV1,
  exportRecordV1,
  loopStateV1,
  pairProvenanceV1,
  pairProvenanceV2,
  pairProvenanceV3,
  rcsTaskStateSchema,
  rcsTaskStateV1,
  rcsTaskStateV2,
  readEvaluationResults,
  readPairProvenance,
  synthesisRunConfigSchema,
  synthesisRunConfigV1,
  synthesisRunConfigV2,
} from '$lib/core/stored';
import { synthesisProvenance } from '../../helpers/provenance';

/**
 * The shapes of records stored as `unknown` (issue 10 §3). If this snapshot changes you changed
 * what every user's database holds: bump the shape's `v` (keep reading the old version) or add a
 * Dexie upgrade with a test, then update the snapshot deliberately with `vitest -u`.
 */
const SHAPES = {
  'pairs.provenance': pairProvenanceV1,
  'pairs.provenance v2 (checklist judge)': pairProvenanceV2,
  'pairs.provenance v3 (adversarial rounds, origin)': pairProvenanceV3,
  'runs.config (synthesis)': synthesisRunConfigV1,
  'runs.config (synthesis v2)': synthesisRunConfigV2,
  'runs.config (evaluate)': evaluationRunConfigV1,
  'tasks.state (synthesis)': loopStateV1,
  'tasks.state (evaluate rcs)': rcsTaskStateV1,
  'tasks.state (evaluate rcs) v2': rcsTaskStateV2,
  'tasks.state (evaluate calibration)': calibrationTaskStateV1,
  'tasks.state (evaluate calibration) v2': calibrationTaskStateV2,
  'evaluations.results': evaluationResultsV1,
  'evaluations.results v2': evaluationResultsV2,
  'exports (dataset versions)': exportRecordV1,
};

describe('stored record shapes', () => {
  it('match the pinned JSON Schemas', async () => {
    const schemas = Object.fromEntries(
      Object.entries(SHAPES).map(([name, schema]) => [name, z.toJSONSchema(schema)]),
    );
    await expect(JSON.stringify(schemas, null, 2)).toMatchFileSnapshot(
      './__snapshots__/stored-records.json',
    );
  });
});

describe('stored records of the checklist judge (version 2) and before it (version 1)', () => {
  const verdict = (label: string, v: string) => ({
    ruleId: label.toLowerCase(),
    label,
    verdict: v,
    evidence: '',
    rationale: '',
  });
  const withSafety = (v: 1 | 2, verdicts: ReturnType<typeof verdict>[]) =>
    synthesisProvenance({
      v,
      chosen: { safety: { verdicts: verdicts as never, overRefusal: false } },
    });

  it('reads version-1 provenance (two verdicts) and version-2 (not-applicable too)', () => {
    const old = withSafety(1, [verdict('R1', 'complied')]);
    expect(readPairProvenance(old, 'p1')).toMatchObject({ ok: true, value: { v: 1 } });
    const { v: _v, ...unversioned } = old;
    expect(readPairProvenance(unversioned, 'p0')).toMatchObject({ ok: true, value: { v: 1 } });
    const checklist = withSafety(2, [verdict('R1', 'complied'), verdict('R2', 'not-applicable')]);
    expect(readPairProvenance(checklist, 'p2')).toMatchObject({ ok: true, value: { v: 2 } });
    // `not-applicable` did not exist in version 1: such a record is corrupt, not silently read.
    const mixed = withSafety(1, [verdict('R2', 'not-applicable')]);
    expect(readPairProvenance(mixed, 'p3').ok).toBe(false);
  });

  it('reads a version-1 RCS state and results; version 2 allows not-applicable checks', () => {
    const item = {
      key: 'q',
      instanceId: 'i',
      ruleIds: ['r1'],
      caseType: 'violation',
      messages: [{ role: 'user', content: 'hi' }],
    };
    const v1 = { item, checks: [{ ruleId: 'r1', verdict: 'complied' }], overRefusal: false };
    expect(rcsTaskStateSchema.parse(v1)).toMatchObject({ v: 1 });
    const v2 = { ...v1, v: 2, checks: [{ ruleId: 'r2', verdict: 'not-applicable' }] };
    expect(rcsTaskStateSchema.parse(v2)).toMatchObject({ v: 2 });
    expect(rcsTaskStateSchema.safeParse({ ...v2, v: 1 }).success).toBe(false);
    const results = (v: 1 | 2) => ({
      v,
      mode: 'rcs',
      label: 'x',
      rules: {},
      summary: {},
      items: {
        q: {
          key: 'q',
          instanceId: 'i',
          caseType: 'violation',
          checks: [{ ruleId: 'r2', verdict: v === 2 ? 'not-applicable' : 'violated' }],
          overRefusal: false,
          judge: 'j',
        },
      },
    });
    for (const v of [1, 2] as const) {
      const read = readEvaluationResults(results(v), { table: 'evaluations.results', id: 'e' });
      expect(read).toMatchObject({ ok: true, value: { v, corrupt: [] } });
    }
  });

  it('turns a version-1 calibration state (rule groups) into one checklist over all its rules', () => {
    const v1 = {
      item: {
        key: 'cal',
        exampleId: 'ex',
        title: 't',
        gold: 'violated',
        reply: 'r',
        conversation: [{ role: 'user', content: 'q' }],
        instancePrompt: 'R1. a',
        groups: [
          [
            { label: 'R1', ruleId: 'a' },
            { label: 'R2', ruleId: 'b' },
            { label: 'R3', ruleId: 'c' },
          ],
          [{ label: 'R4', ruleId: 'd' }],
        ],
      },
      group: 1,
      violated: true,
    };
    const read = calibrationTaskStateSchema.parse(v1);
    expect(read).toMatchObject({ v: 2, violated: true });
    expect(read.item.rules.map((r) => r.label)).toEqual(['R1', 'R2', 'R3', 'R4']);
    expect('groups' in read.item).toBe(false);
    expect('group' in read).toBe(false);
    const v2 = calibrationTaskStateSchema.parse(read);
    expect(v2).toEqual(read);
  });
});

describe('stored synthesis run configs and adversarial rounds (issue 14 §1)', () => {
  const loop = {
    qualityThreshold: 3,
    maxCandidateAttempts: 3,
    roleSwapEvery: 4,
    experienceLimit: 5,
    duplicateThreshold: 0.8,
    jsonRetries: 2,
  };
  const config = (extra: Record<string, unknown> = {}) => ({
    specVersionId: 'sv',
    instanceIds: ['i'],
    controls: {},
    seed: 1,
    budgets: {},
    loop,
    instanceFingerprints: {},
    ...extra,
  });
  const estimate = {
    tasks: 1,
    calls: 8,
    promptTokens: 1,
    completionTokens: 1,
    timeMs: 1,
    expectedPairs: 1,
    tokensPerSecond: 1,
    prices: {},
  };

  it('reads a run stored before rounds (v1 unversioned, and v2) as one round: it resumes unchanged', () => {
    for (const raw of [config(), config({ v: 2, estimate })]) {
      const read = synthesisRunConfigSchema.parse(raw);
      expect(read.loop.attackRounds).toBe(1);
    }
    const withRounds = synthesisRunConfigSchema.parse(
      config({ v: 2, estimate, loop: { ...loop, attackRounds: 5 } }),
    );
    expect(withRounds.loop.attackRounds).toBe(5);
    expect(
      synthesisRunConfigSchema.safeParse(config({ loop: { ...loop, attackRounds: 'three' } }))
        .success,
    ).toBe(false);
  });
});
