/**
 * A complete synthesis provenance (`PairProvenance`, version 1) for tests that store pairs: the
 * readers (core/stored) reject a record that claims synthesis provenance and lacks a field, so
 * tests build on this and override what they check.
 */
import type { PairProvenance } from '$lib/core/synthesis/loop-types';

type Overrides = Omit<Partial<PairProvenance>, 'chosen' | 'rejected' | 'judgements'> & {
  chosen?: Partial<PairProvenance['chosen']>;
  rejected?: Partial<PairProvenance['rejected']>;
  judgements?: Partial<PairProvenance['judgements'][number]>[];
};

export function synthesisProvenance(over: Overrides = {}): PairProvenance {
  const { chosen, rejected, judgements, ...rest } = over;
  return {
    v: 1,
    method: 'specalign-adversarial/1',
    specVersionId: 'v1',
    instanceId: 'inst',
    taskKey: 'inst/r1/violation/0',
    seed: 1,
    targetRuleIds: ['r1'],
    judgedRuleIds: ['r1'],
    ruleLabels: { r1: 'R1' },
    caseType: 'violation',
    path: 'defender-violated',
    persona: 'a hiker',
    difficulty: 2,
    turns: 1,
    language: 'en',
    setting: 'a winter trip',
    plan: { strategy: 'ask directly', angle: 'the exception', persona: 'a hiker', roleSwap: false },
    engines: {},
    chosen: { source: 'chosen-writer', response: 'good', ...chosen },
    rejected: { source: 'defender', response: 'bad', ...rejected },
    defender: { source: 'defender', response: 'bad' },
    judgements: (judgements ?? []).map((j) => ({
      subject: 'defender',
      judge: 'safety',
      attempt: 1,
      passed: true,
      ...j,
    })),
    writes: { chosen: 1, violation: 0, refusal: 0 },
    lengths: { chosenChars: 4, rejectedChars: 3, chosenWords: 1, rejectedWords: 1, ratio: 4 / 3 },
    usage: {},
    timing: { startedAt: 0, finishedAt: 0, engineMs: 0 },
    ...rest,
  };
}
