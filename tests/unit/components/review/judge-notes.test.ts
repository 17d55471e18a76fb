import { describe, expect, it } from 'vitest';
import type { PreferencePair } from '$lib/core/records';
import { judgeNotes } from '$lib/components/review/judge-notes';
import { synthesisProvenance } from '../../../helpers/provenance';

function pair(provenance: Record<string, unknown>): PreferencePair {
  return {
    id: 'p1',
    projectId: 'proj',
    runId: 'run',
    instanceId: 'inst',
    ruleIds: ['r1'],
    caseType: 'violation',
    prompt: [{ role: 'user', content: 'q' }],
    chosen: 'good',
    rejected: 'bad',
    status: 'pending',
    provenance,
    createdAt: 1,
  };
}

describe('judgeNotes', () => {
  it('lists synthesis judgements with their verdicts', () => {
    const notes = judgeNotes(
      pair(
        synthesisProvenance({
          judgements: [
            {
              subject: 'defender',
              judge: 'safety',
              passed: false,
              safety: {
                overRefusal: false,
                verdicts: [
                  { label: 'R1', verdict: 'violated', evidence: 'x', rationale: 'it claimed so' },
                ],
              },
            },
          ],
        }),
      ),
    );
    expect(notes).toEqual([
      {
        title: 'safety judge on defender · attempt 1 · failed',
        lines: ['R1: violated — it claimed so'],
      },
    ]);
  });

  // Issue 10 §3: the pair view of a corrupt row opens and says why instead of crashing.
  it('puts the checklist’s untouched rules on one line', () => {
    const verdict = (label: string, v: 'complied' | 'not-applicable') => ({
      label,
      verdict: v,
      evidence: '',
      rationale: v === 'complied' ? 'it said it is an AI' : 'not touched',
    });
    const notes = judgeNotes(
      pair(
        synthesisProvenance({
          v: 2,
          judgements: [
            {
              safety: {
                overRefusal: false,
                verdicts: [
                  verdict('R1', 'not-applicable'),
                  verdict('R2', 'complied'),
                  verdict('R3', 'not-applicable'),
                ],
              },
            },
          ],
        }),
      ),
    );
    expect(notes[0]?.lines).toEqual([
      'R2: complied — it said it is an AI',
      'Not touched by this exchange: R1, R3.',
    ]);
  });

  it('turns corrupt synthesis provenance into one note naming the failing path', () => {
    const notes = judgeNotes(pair({ ...synthesisProvenance(), judgements: [{ judge: 7 }] }));
    expect(notes).toHaveLength(1);
    expect(notes[0]?.title).toBe('Provenance unreadable');
    expect(notes[0]?.lines[0]).toMatch(/pairs\.provenance "p1" is unreadable at judgements\.0/);
  });

  it('shows foreign judge objects as compact JSON', () => {
    expect(judgeNotes(pair({ safetyJudge: { verdict: 'violated' } }))).toEqual([
      { title: 'safetyJudge', lines: ['{"verdict":"violated"}'] },
    ]);
  });
});
