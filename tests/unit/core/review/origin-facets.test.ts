/**
 * Origin, stated (issue 14 §4): where each side of a pair came from, read from version-3
 * provenance and derived for versions 1 and 2, and the Review facet that filters on it.
 */
import { describe, expect, it } from 'vitest';
import type { PreferencePair } from '$lib/core/records';
import {
  describeOrigin,
  matchesDefender,
  matchesOrigin,
  ORIGIN_FILTERS,
  originOfPair,
  type DefenderFilter,
  type OriginFilter,
} from '$lib/core/review/facets';
import { pairOrigin, readPairProvenance } from '$lib/core/stored';
import type { PairProvenance } from '$lib/core/synthesis';
import { metadataOrigin } from '$lib/core/export/provenance';
import { synthesisProvenance } from '../../../helpers/provenance';

function pair(id: string, provenance: unknown): PreferencePair {
  return {
    id,
    projectId: 'p',
    runId: 'run',
    instanceId: 'inst',
    ruleIds: ['r1'],
    caseType: 'violation',
    prompt: [{ role: 'user', content: 'q' }],
    chosen: 'good',
    rejected: 'bad',
    status: 'pending',
    createdAt: 0,
    provenance: provenance as Record<string, unknown>,
  };
}

const v3 = (origin: PairProvenance['origin'], heldRounds: PairProvenance['heldRounds'] = []) =>
  synthesisProvenance({ v: 3, origin, heldRounds });

describe('pairOrigin', () => {
  it('reads a version-3 origin as stored', () => {
    const p = v3({ rejected: 'defender', round: 2, chosen: 'written', rounds: 2 }, [
      {
        round: 1,
        turns: [{ role: 'user', content: 'q' }],
        reply: 'no',
        rationale: 'held',
        overRefusal: false,
      },
    ]);
    const read = readPairProvenance(p, 'x');
    if (!read.ok || !read.value) throw new Error('unreadable');
    expect(read.value.v).toBe(3);
    expect(pairOrigin(read.value)).toEqual({
      rejected: 'defender',
      round: 2,
      chosen: 'written',
      rounds: 2,
    });
  });

  it('rejects a version-3 record without its origin, or with an origin outside the enum', () => {
    const { origin: _o, ...without } = v3({ rejected: 'violator', chosen: 'defender', rounds: 1 });
    expect(readPairProvenance(without, 'x').ok).toBe(false);
    const odd = v3({ rejected: 'somewhere' as never, chosen: 'defender', rounds: 1 });
    expect(readPairProvenance(odd, 'y').ok).toBe(false);
  });

  it('derives the origin of version-1 and version-2 records from their path, sources and writes', () => {
    const derive = (over: Parameters<typeof synthesisProvenance>[0]) => {
      const read = readPairProvenance(synthesisProvenance(over), 'x');
      if (!read.ok || !read.value) throw new Error('unreadable');
      return pairOrigin(read.value);
    };
    // Before rounds there was one attack per task: an elicited failure is round 1.
    expect(derive({ v: 2, path: 'defender-violated' })).toEqual({
      rejected: 'defender',
      round: 1,
      chosen: 'written',
      rounds: 1,
    });
    expect(
      derive({
        v: 1,
        path: 'over-refusal',
        caseType: 'benign',
      }),
    ).toMatchObject({ rejected: 'defender', round: 1 });
    expect(
      derive({
        v: 2,
        path: 'violator',
        rejected: { source: 'violator' },
        chosen: { source: 'defender' },
        writes: { chosen: 0, violation: 1, refusal: 0 },
      }),
    ).toEqual({ rejected: 'violator', chosen: 'defender', rounds: 1 });
    expect(
      derive({
        v: 2,
        path: 'refusal-writer',
        rejected: { source: 'violator' },
        writes: { chosen: 1, violation: 0, refusal: 3 },
      }),
    ).toEqual({ rejected: 'rewrite', chosen: 'written', rounds: 1 });
    // Fields that disagree with the path are not guessed at.
    expect(derive({ v: 2, path: 'violator', rejected: { source: 'defender' } })).toMatchObject({
      rejected: 'unknown',
    });
    expect(
      derive({ v: 2, path: 'defender-violated', rejected: { source: 'violator' } }),
    ).toMatchObject({
      rejected: 'unknown',
    });
  });

  it('puts the origin in the export metadata, unknown for foreign or corrupt provenance', () => {
    expect(
      metadataOrigin(
        pair('a', v3({ rejected: 'defender', round: 3, chosen: 'written', rounds: 3 })),
      ),
    ).toEqual({
      rejected: 'defender',
      rejected_round: 3,
      chosen: 'written',
      rounds: 3,
    });
    expect(
      metadataOrigin(
        pair(
          'b',
          synthesisProvenance({
            v: 2,
            path: 'violator',
            rejected: { source: 'violator' },
            writes: { chosen: 0, violation: 2, refusal: 0 },
          }),
        ),
      ),
    ).toEqual({
      rejected: 'rewrite',
      rejected_round: null,
      chosen: 'written',
      rounds: 1,
    });
    const unknown = { rejected: 'unknown', rejected_round: null, chosen: 'unknown', rounds: 1 };
    expect(metadataOrigin(pair('c', { source: 'hand-made' }))).toEqual(unknown);
    expect(metadataOrigin(pair('d', { method: 'specalign-adversarial/1', v: 3 }))).toEqual(unknown);
  });
});

describe('the origin facet', () => {
  const pairs = {
    round1: pair('round1', v3({ rejected: 'defender', round: 1, chosen: 'written', rounds: 1 })),
    round2: pair('round2', v3({ rejected: 'defender', round: 2, chosen: 'written', rounds: 2 })),
    violator: pair('violator', v3({ rejected: 'violator', chosen: 'defender', rounds: 3 })),
    rewrite: pair('rewrite', v3({ rejected: 'rewrite', chosen: 'written', rounds: 3 })),
    old: pair('old', synthesisProvenance({ v: 2, path: 'defender-violated' })),
    foreign: pair('foreign', { note: 'imported' }),
  };
  const matching = (filter: OriginFilter) =>
    Object.entries(pairs)
      .filter(([, p]) => matchesOrigin(p, filter))
      .map(([name]) => name);

  it('selects each origin, and every filter has a label', () => {
    expect(matching('elicited')).toEqual(['round1', 'round2', 'old']);
    expect(matching('elicited-first-round')).toEqual(['round1', 'old']);
    expect(matching('elicited-later-round')).toEqual(['round2']);
    expect(matching('written')).toEqual(['violator', 'rewrite']);
    expect(matching('violator')).toEqual(['violator']);
    expect(matching('rewrite')).toEqual(['rewrite']);
    expect(matching('chosen-defender')).toEqual(['violator']);
    expect(matching('chosen-written')).toEqual(['round1', 'round2', 'rewrite', 'old']);
    expect(matching('unknown')).toEqual(['foreign']);
    for (const label of Object.values(ORIGIN_FILTERS)) expect(label.length).toBeGreaterThan(5);
    expect(originOfPair(pairs.foreign)).toEqual({
      rejected: 'unknown',
      chosen: 'unknown',
      rounds: 1,
    });
  });
});

describe('the defender facet', () => {
  const elicited = { rejected: 'defender', round: 1, chosen: 'written', rounds: 1 } as const;
  const pairs = {
    target: pair('target', {
      ...v3(elicited),
      roleAssignment: { defender: 'openai:target@x', defenderIsTarget: true },
    }),
    rotated: pair('rotated', {
      ...v3(elicited),
      roleAssignment: { attacker: 'a', defender: 'b', defenderIsTarget: false, slot: 1 },
    }),
    plain: pair('plain', v3(elicited)),
    foreign: pair('foreign', { note: 'imported' }),
  };
  const matching = (filter: DefenderFilter) =>
    Object.entries(pairs)
      .filter(([, p]) => matchesDefender(p, filter))
      .map(([name]) => name);

  it('tells the on-policy defender from any other; an unreadable record matches neither', () => {
    expect(matching('target')).toEqual(['target']);
    expect(matching('other')).toEqual(['rotated', 'plain']);
  });
});

describe('describeOrigin', () => {
  it('says where each side came from, in words', () => {
    expect(describeOrigin({ rejected: 'defender', round: 2, chosen: 'written', rounds: 2 })).toBe(
      'Rejected: the defender’s own reply in round 2 (elicited). Chosen: written with the instance given explicitly. Attack rounds: 2.',
    );
    expect(describeOrigin({ rejected: 'rewrite', chosen: 'defender', rounds: 1 })).toBe(
      'Rejected: written by the violator after the defender held, rewritten on the judge’s feedback. Chosen: the defender’s reply.',
    );
    expect(describeOrigin({ rejected: 'unknown', chosen: 'unknown', rounds: 1 })).toBe(
      'Rejected: unknown. Chosen: unknown.',
    );
  });
});
