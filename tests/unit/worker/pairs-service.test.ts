import { afterEach, describe, expect, it } from 'vitest';
import 'fake-indexeddb/auto';
import { closeTestDbs, openTestDb } from '../../helpers/db';
import { isAbortError } from '$lib/core/errors';
import type { PairStatus, PreferencePair } from '$lib/core/records';
import type { SpecAlignDb } from '$lib/db/database';
import { findPairIds, findPairs, PAIR_PAGE } from '$lib/worker/pairs-service';
import { buildProjectRows } from '../../helpers/project-rows';
import { synthesisProvenance } from '../../helpers/provenance';

afterEach(closeTestDbs);

const PATHS = ['defender-violated', 'over-refusal', 'violator', 'refusal-writer'] as const;

/**
 * A project with two rules (privacy: content stage; honesty: made a style rule here) and pairs
 * `q0…q{n-1}`: statuses cycle through `statuses`, case types alternate, pair i targets rule
 * i % 2, takes defender path i % 4, has chosen quality score (i % 5) + 1, and every third pair
 * had a candidate rewritten.
 */
async function seeded(
  n: number,
  statuses: PairStatus[] = ['accepted'],
): Promise<{ db: SpecAlignDb; projectId: string; pairs: PreferencePair[]; ruleIds: string[] }> {
  const db = await openTestDb();
  const rows = buildProjectRows('Review test');
  rows.rules[1]!.stage = 'style';
  const ruleIds = rows.rules.map((r) => r.id);
  const template = rows.pairs[0]!;
  const pairs: PreferencePair[] = Array.from({ length: n }, (_, i) => ({
    ...template,
    id: `pair-${String(i).padStart(6, '0')}`,
    ruleIds: [ruleIds[i % 2]!],
    caseType: i % 2 === 0 ? 'violation' : 'benign',
    prompt: [
      { role: 'system', content: rows.instances[0]!.systemPrompt },
      { role: 'user', content: `q${i}` },
    ],
    chosen: `good ${i}`,
    rejected: `bad ${i}`,
    status: statuses[i % statuses.length]!,
    provenance: synthesisProvenance({
      path: PATHS[i % 4]!,
      chosen: { quality: { helpfulness: 5, fluency: (i % 5) + 1, rationale: '' } },
      judgements: [
        { subject: 'defender', judge: 'safety', attempt: 1, passed: i % 4 !== 0 },
        ...(i % 3 === 0
          ? [{ subject: 'chosen', judge: 'quality', attempt: 1, passed: false } as const]
          : []),
        { subject: 'chosen', judge: 'quality', attempt: 2, passed: true },
      ],
    }),
    // Reverse insertion order: results must follow createdAt, not the id or insertion order.
    createdAt: 1_000 + i,
  }));
  await db.projects.add(rows.project);
  await db.rules.bulkAdd(rows.rules);
  await db.instances.bulkAdd(rows.instances);
  await db.pairs.bulkAdd([...pairs].reverse());
  return { db, projectId: rows.project.id, pairs, ruleIds };
}

const idsWhere = (pairs: PreferencePair[], keep: (i: number) => boolean) =>
  pairs.filter((_, i) => keep(i)).map((p) => p.id);

describe('findPairIds', () => {
  it('filters by status, case type, rule, instance and text, in creation order', async () => {
    const { db, projectId, pairs } = await seeded(6, ['accepted', 'pending', 'flagged']);
    expect(await findPairIds(db, projectId)).toEqual(pairs.map((p) => p.id));
    expect(await findPairIds(db, projectId, { statuses: ['pending', 'flagged'] })).toEqual(
      idsWhere(pairs, (i) => i % 3 !== 0),
    );
    expect(await findPairIds(db, projectId, { caseTypes: ['benign'] })).toEqual(
      idsWhere(pairs, (i) => i % 2 === 1),
    );
    expect(await findPairIds(db, projectId, { text: 'GOOD 4' })).toEqual([pairs[4]!.id]);
    expect(await findPairIds(db, projectId, { text: 'Q3' })).toEqual([pairs[3]!.id]);
    expect(await findPairIds(db, projectId, { ruleId: 'no-such-rule' })).toEqual([]);
    expect(await findPairIds(db, projectId, { instanceId: pairs[0]!.instanceId })).toHaveLength(6);
  });

  it('filters by the targeted rule’s family and stage', async () => {
    const { db, projectId, pairs } = await seeded(8);
    const privacy = idsWhere(pairs, (i) => i % 2 === 0);
    const honesty = idsWhere(pairs, (i) => i % 2 === 1);
    expect(await findPairIds(db, projectId, { family: 'privacy' })).toEqual(privacy);
    expect(await findPairIds(db, projectId, { stage: 'style' })).toEqual(honesty);
    expect(await findPairIds(db, projectId, { stage: 'content' })).toEqual(privacy);
    expect(await findPairIds(db, projectId, { family: 'honesty', stage: 'content' })).toEqual([]);
    expect(await findPairIds(db, projectId, { family: 'no-such-family' })).toEqual([]);
  });

  it('filters by the judges’ verdicts and the chosen reply’s quality score', async () => {
    const { db, projectId, pairs } = await seeded(20);
    expect(await findPairIds(db, projectId, { verdict: 'over-refusal' })).toEqual(
      idsWhere(pairs, (i) => i % 4 === 1),
    );
    expect(await findPairIds(db, projectId, { verdict: 'rewritten' })).toEqual(
      idsWhere(pairs, (i) => i % 3 === 0),
    );
    expect(await findPairIds(db, projectId, { verdict: 'first-pass' })).toEqual(
      idsWhere(pairs, (i) => i % 3 !== 0),
    );
    expect(await findPairIds(db, projectId, { quality: { min: 4 } })).toEqual(
      idsWhere(pairs, (i) => i % 5 >= 3),
    );
    expect(await findPairIds(db, projectId, { quality: { max: 2 } })).toEqual(
      idsWhere(pairs, (i) => i % 5 <= 1),
    );
    expect(await findPairIds(db, projectId, { quality: 'unscored' })).toEqual([]);
    // Filters combine (every over-refusal here is a benign case).
    expect(
      await findPairIds(db, projectId, {
        caseTypes: ['benign'],
        verdict: 'over-refusal',
        text: 'good',
        quality: { min: 1 },
      }),
    ).toEqual(idsWhere(pairs, (i) => i % 4 === 1));
  });

  it('filters by origin (issue 14 §4): derived for old records, unknown when unreadable', async () => {
    const { db, projectId, pairs } = await seeded(8);
    // Version-1 records: the defender paths are elicited in round 1; the written paths here
    // claim a defender-written rejected side, which the reader does not guess at: unknown.
    expect(await findPairIds(db, projectId, { origin: 'elicited' })).toEqual(
      idsWhere(pairs, (i) => i % 4 < 2),
    );
    expect(await findPairIds(db, projectId, { origin: 'elicited-later-round' })).toEqual([]);
    const later = pairs[6]!;
    await db.pairs.update(later.id, {
      provenance: {
        ...later.provenance,
        v: 3,
        path: 'defender-violated',
        origin: { rejected: 'defender', round: 2, chosen: 'written', rounds: 2 },
        heldRounds: [],
      },
    });
    await db.pairs.update(pairs[1]!.id, {
      provenance: { ...pairs[1]!.provenance, judgements: 'lost' } as never,
    });
    expect(await findPairs(db, projectId, { origin: 'elicited-later-round' })).toEqual({
      ids: [later.id],
      unreadable: 1,
    });
    expect(await findPairIds(db, projectId, { origin: 'unknown' })).toEqual(
      idsWhere(pairs, (i) => i === 1 || (i % 4 >= 2 && i !== 6)),
    );
  });

  it('counts the pairs a verdict or quality filter leaves out because their record is unreadable', async () => {
    const { db, projectId, pairs } = await seeded(8);
    // Pairs 0 and 5: synthesis provenance that fails its schema (corrupt, or a newer writer).
    for (const i of [0, 5])
      await db.pairs.update(pairs[i]!.id, {
        provenance: { ...pairs[i]!.provenance, judgements: 'lost' } as never,
      });
    const readable = (i: number) => i !== 0 && i !== 5;
    expect(await findPairs(db, projectId, { verdict: 'first-pass' })).toEqual({
      ids: idsWhere(pairs, (i) => readable(i) && i % 3 !== 0),
      unreadable: 2,
    });
    expect((await findPairs(db, projectId, { quality: { min: 1 } })).unreadable).toBe(2);
    // Other filters do not read provenance: nothing is left out for it.
    expect(await findPairs(db, projectId, { text: 'good' })).toEqual({
      ids: pairs.map((p) => p.id),
      unreadable: 0,
    });
  });

  it('stops a scan superseded by a newer one with the same key, and only that scan', async () => {
    const { db, projectId, pairs } = await seeded(PAIR_PAGE * 2 + 10);
    const first = findPairIds(db, projectId, { text: 'good', queryKey: 'review' });
    const other = findPairIds(db, projectId, { text: 'good', queryKey: 'elsewhere' });
    const second = findPairIds(db, projectId, { text: 'good 1', queryKey: 'review' });
    const error = await first.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isAbortError(error)).toBe(true);
    expect(await other).toHaveLength(pairs.length);
    expect((await second).length).toBeGreaterThan(0);
  });
});
