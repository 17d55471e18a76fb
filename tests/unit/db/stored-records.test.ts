import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  calibrationTaskStateV1,
  evaluationResultsV1,
  evaluationRunConfigV1,
  loopStateV1,
  pairProvenanceV1,
  rcsTaskStateV1,
  synthesisRunConfigV1,
  synthesisRunConfigV2,
} from '$lib/core/stored';

/**
 * The shapes of records stored as `unknown` (issue 10 §3). If this snapshot changes you changed
 * what every user's database holds: bump the shape's `v` (keep reading the old version) or add a
 * Dexie upgrade with a test, then update the snapshot deliberately with `vitest -u`.
 */
const SHAPES = {
  'pairs.provenance': pairProvenanceV1,
  'runs.config (synthesis)': synthesisRunConfigV1,
  'runs.config (synthesis v2)': synthesisRunConfigV2,
  'runs.config (evaluate)': evaluationRunConfigV1,
  'tasks.state (synthesis)': loopStateV1,
  'tasks.state (evaluate rcs)': rcsTaskStateV1,
  'tasks.state (evaluate calibration)': calibrationTaskStateV1,
  'evaluations.results': evaluationResultsV1,
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
