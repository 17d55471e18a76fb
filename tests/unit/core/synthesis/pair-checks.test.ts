import { describe, expect, it } from 'vitest';
import {
  NEAR_IDENTICAL_SIMILARITY,
  normaliseReply,
  pairProblem,
  pairsDifferMeaningfully,
  replySimilarity,
  type PairForCheck,
} from '$lib/core/synthesis/pair-checks';

const HELP =
  'Your guide could say: “Keep your layers dry and your pace steady, and turn back if the wind picks up above the tree line.”';
const REFUSAL = 'I’m sorry, but I can’t help with questions about trips.';

const refused = { overRefusal: true, verdicts: [{ ruleId: 'r1', verdict: 'complied' as const }] };
const helped = { overRefusal: false, verdicts: [{ ruleId: 'r1', verdict: 'complied' as const }] };
const broke = { overRefusal: false, verdicts: [{ ruleId: 'r1', verdict: 'violated' as const }] };

function benign(chosen: string, rejected: string, judged = true): PairForCheck {
  return {
    caseType: 'benign',
    path: 'refusal-writer',
    targetRuleIds: ['r1'],
    chosen: { response: chosen, ...(judged ? { safety: helped } : {}) },
    rejected: { response: rejected, ...(judged ? { safety: refused } : {}) },
  };
}

describe('pairsDifferMeaningfully', () => {
  it('treats whitespace, case and punctuation as no difference', () => {
    expect(normaliseReply('  Sure!\n\nHere   it IS…')).toBe('sure here it is');
    expect(pairsDifferMeaningfully(HELP, HELP)).toBe(false);
    expect(pairsDifferMeaningfully(HELP, `  ${HELP.toUpperCase().replace(/,/g, '')}\n`)).toBe(
      false,
    );
  });

  it('treats a one-word edit of a long reply as near-identical, a refusal as different', () => {
    const edited = HELP.replace('steady', 'even');
    expect(replySimilarity(HELP, edited)).toBeGreaterThanOrEqual(NEAR_IDENTICAL_SIMILARITY);
    expect(pairsDifferMeaningfully(HELP, edited)).toBe(false);
    expect(pairsDifferMeaningfully(HELP, REFUSAL)).toBe(true);
    expect(pairsDifferMeaningfully('Yes.', 'No.')).toBe(true);
  });

  it('counts an empty side as different (emptiness is reported elsewhere)', () => {
    expect(replySimilarity('', HELP)).toBe(0);
    expect(replySimilarity('', '  ')).toBe(1);
  });
});

describe('pairProblem', () => {
  it('rejects the benign look-alike whose rejected reply is the chosen one (issue 10 §8)', () => {
    expect(pairProblem(benign(HELP, `${HELP} `))).toMatch(
      /chosen and rejected replies are the same/,
    );
  });

  it('accepts a real over-refusal pair, with or without recorded verdicts', () => {
    expect(pairProblem(benign(HELP, REFUSAL))).toBeUndefined();
    expect(pairProblem(benign(HELP, REFUSAL, false))).toBeUndefined();
  });

  it('needs the over-refusal side to be a refusal and the chosen side not to be one', () => {
    const notRefusal = benign(HELP, REFUSAL);
    notRefusal.rejected.safety = helped;
    expect(pairProblem(notRefusal)).toMatch(/rejected reply .* not judged a needless refusal/);
    const chosenRefuses = benign(HELP, REFUSAL);
    chosenRefuses.chosen.safety = refused;
    expect(pairProblem(chosenRefuses)).toMatch(/chosen reply .* is itself a refusal/);
  });

  it('needs the rejected side of a violation pair to be judged violating its target rule', () => {
    const pair: PairForCheck = {
      caseType: 'violation',
      path: 'violator',
      targetRuleIds: ['r1'],
      chosen: { response: HELP, safety: helped },
      rejected: { response: 'I personally hiked it last winter.', safety: helped },
    };
    expect(pairProblem(pair)).toMatch(/not judged to break its target rule/);
    pair.rejected.safety = broke;
    expect(pairProblem(pair)).toBeUndefined();
  });

  it('refuses a pair whose chosen side was judged to break any rule of the checklist', () => {
    const pair: PairForCheck = {
      caseType: 'violation',
      path: 'violator',
      targetRuleIds: ['r1'],
      chosen: {
        response: HELP,
        safety: {
          overRefusal: false,
          verdicts: [
            { ruleId: 'r1', label: 'R1', verdict: 'complied' },
            { ruleId: 'r9', label: 'R9', verdict: 'violated' },
            { ruleId: 'r2', label: 'R2', verdict: 'not-applicable' },
          ],
        },
      },
      rejected: { response: 'I personally hiked it last winter.', safety: broke },
    };
    expect(pairProblem(pair)).toBe('the chosen reply was judged to break R9');
    const benignPair = benign(HELP, REFUSAL);
    benignPair.chosen.safety = pair.chosen.safety;
    expect(pairProblem(benignPair)).toBe('the chosen reply was judged to break R9');
  });
});
