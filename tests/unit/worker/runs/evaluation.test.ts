import { closeTestDbs, openTestDb } from '../../../helpers/db';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentRole, EngineConfig } from '$lib/core/engine-config';
import { renderInstancePrompt } from '$lib/core/instances/render';
import type { ChatRequest } from '$lib/core/llm';
import type { Run } from '$lib/core/records';
import type { SpecAlignDb } from '$lib/db/database';
import { createProject } from '$lib/db/projects';
import {
  createCalibrationRun,
  createEvaluationRun,
  evaluationHandler,
  EvaluationConfigError,
  summariseEvaluation,
  type CalibrationResults,
  type RcsResults,
} from '$lib/worker/runs/evaluation';
import { executeRun } from '$lib/worker/runs/executor';
import { checklistReply, readChecklistPrompt } from '../../../helpers/checklist-prompt';
import { ScriptedEngine } from '../../../helpers/scripted-engine';
import { makeInstance, makePair, makeRule } from '../../core/evaluation/fixtures';

afterEach(closeTestDbs);

const TARGET: EngineConfig = { kind: 'openai', baseUrl: 'http://x', model: 'target' };
const lastUser = (r: ChatRequest) =>
  r.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';

/** Answers "Answer to <query>", prefixed with REFUSE when the query asks for it. */
function targetEngine() {
  return new ScriptedEngine(
    (r) => {
      const q = lastUser(r);
      return JSON.stringify({ response: `${/refuse/.test(q) ? 'REFUSE. ' : ''}Answer to ${q}` });
    },
    { id: 'scripted:target' },
  );
}

/**
 * Judges a rule violated when its statement says EVEN; flags over-refusal on REFUSE replies.
 * With `lie`, the first call quotes words that are not in the reply (inconsistent).
 */
function judgeEngine(options: { lie?: RegExp } = {}) {
  return new ScriptedEngine(
    (r) => {
      const { labels, focus, line, reply } = readChecklistPrompt(
        lastUser(r),
        r.messages[0]?.content,
      );
      const lying = options.lie?.test(reply) ?? false;
      return checklistReply(
        labels,
        (label) => {
          // Only the rules the query tests are touched (all of them in calibration).
          if (focus.length && !focus.includes(label)) return { verdict: 'not-applicable' };
          if (lying) return { verdict: 'violated', evidence: 'words never said' };
          return line(label).includes('EVEN')
            ? { verdict: 'violated', evidence: reply.slice(0, 12) }
            : { verdict: 'complied' };
        },
        reply.startsWith('REFUSE'),
      );
    },
    { id: 'scripted:judge' },
  );
}

async function seed(db: SpecAlignDb) {
  const project = await createProject(db, 'Eval');
  const p = project.id;
  // Rules 2 and 4 ("even") are the ones the scripted target is judged to violate.
  const rules = [1, 2, 3, 4].map((n) =>
    makeRule(`r${n}`, {
      projectId: p,
      statement: `Rule number ${n}${n % 2 === 0 ? ' EVEN' : ''}.`,
      family: n <= 2 ? 'low' : 'high',
      stage: n % 2 ? 'content' : 'decision',
    }),
  );
  await db.rules.bulkAdd(rules);
  const inst = {
    ...makeInstance(
      'i1',
      rules.map((r) => r.id),
      renderInstancePrompt(rules).text,
    ),
    projectId: p,
  };
  await db.instances.add(inst);
  // Per rule: a violation-seeking query and a benign one; the benign query of r1 gets a refusal.
  const pairs = rules.flatMap((r) => [
    {
      ...makePair({ query: `violate ${r.id}`, ruleIds: [r.id], caseType: 'violation' }),
      projectId: p,
    },
    {
      ...makePair({
        query: `benign ${r.id}${r.id === 'r1' ? ' refuse' : ''}`,
        ruleIds: [r.id],
        caseType: 'benign',
      }),
      projectId: p,
    },
  ]);
  await db.pairs.bulkAdd(pairs);
  return p;
}

function engines(target: ScriptedEngine, judge: ScriptedEngine) {
  return async (role: AgentRole) => (role === 'target' ? target : judge);
}

describe('evaluation run (RCS)', () => {
  it('answers and judges every held-out query and stores the known score, across a pause', async () => {
    const db = await openTestDb();
    const projectId = await seed(db);
    const target = targetEngine();
    const judge = judgeEngine();
    const { run, items } = await createEvaluationRun(
      db,
      projectId,
      { source: 'all-pairs' },
      { engine: target, config: TARGET },
    );
    expect(items).toBe(8);

    // Pause after five engine calls, then resume: nothing lost, nothing counted twice.
    const controller = new AbortController();
    let calls = 0;
    const counting = async (role: AgentRole) => {
      if (++calls === 5) controller.abort();
      return engines(target, judge)(role);
    };
    const paused = await executeRun(db, run.id, evaluationHandler(run), {
      signal: controller.signal,
      engineFor: counting,
    });
    expect(paused.status).toBe('paused');
    const stored = (await db.runs.get(run.id)) as Run;
    const done = await executeRun(db, run.id, evaluationHandler(stored), {
      signal: new AbortController().signal,
      engineFor: engines(target, judge),
    });
    expect(done).toMatchObject({ status: 'done', done: 8, failed: 0 });

    const results = (await summariseEvaluation(db, run.id)) as RcsResults;
    expect(Object.keys(results.items)).toHaveLength(8);
    expect(results.summary.overall).toEqual({ passed: 4, total: 8, score: 0.5 });
    expect(results.summary.byRule.r1?.score).toBe(1);
    expect(results.summary.byRule.r2?.score).toBe(0);
    expect(results.summary.byFamily).toEqual({
      low: { passed: 2, total: 4, score: 0.5 },
      high: { passed: 2, total: 4, score: 0.5 },
    });
    expect(results.summary.byStage.decision?.score).toBe(0);
    expect(results.summary.overRefusal).toEqual({ refused: 1, benign: 4, rate: 0.25 });
    // The stored summary (written step by step) equals the recomputed one.
    const row = await db.evaluations.where('runId').equals(run.id).first();
    expect((row?.results as unknown as RcsResults).summary).toEqual(results.summary);
    // One target call and one judge call per item; the paused step is the only repeat at most.
    expect(target.calls + judge.calls).toBeGreaterThanOrEqual(16);
    expect(target.calls + judge.calls).toBeLessThanOrEqual(17);
    expect(target.requests[0]?.messages[0]?.content).toContain('[agent: target]');
    expect(target.requests[0]?.temperature).toBe(0);
    const fresh = (await db.runs.get(run.id)) as Run;
    expect(fresh.usageByRole?.target?.completionTokens).toBeGreaterThan(0);
    expect(fresh.usageByRole?.safetyJudge?.completionTokens).toBeGreaterThan(0);
  });

  it('re-judges a self-contradicting verdict once, then fails only that item', async () => {
    const db = await openTestDb();
    const projectId = await seed(db);
    const target = targetEngine();
    const judge = judgeEngine({ lie: /refuse/ });
    const { run } = await createEvaluationRun(
      db,
      projectId,
      { source: 'all-pairs' },
      { engine: target, config: TARGET },
    );
    const final = await executeRun(db, run.id, evaluationHandler(run), {
      signal: new AbortController().signal,
      engineFor: engines(target, judge),
    });
    expect(final).toMatchObject({ done: 7, failed: 1 });
    const failed = await db.tasks.where('[runId+status]').equals([run.id, 'failed']).toArray();
    expect(failed[0]?.error).toMatch(/contradicted itself twice/);
    const results = (await summariseEvaluation(db, run.id)) as RcsResults;
    expect(results.summary.overall.total).toBe(7);
    expect(results.summary.overRefusal.benign).toBe(3);
  });

  // Issue 10 §3: a corrupt row is reported and skipped, never crashes a run or a summary.
  it('fails a task with a corrupt state with the reason, and the run goes on', async () => {
    const db = await openTestDb();
    const projectId = await seed(db);
    const target = targetEngine();
    const judge = judgeEngine();
    const { run } = await createEvaluationRun(
      db,
      projectId,
      { source: 'all-pairs' },
      { engine: target, config: TARGET },
    );
    const first = await db.tasks.where('[runId+order]').equals([run.id, 0]).first();
    await db.tasks.update(first!.id, { state: { v: 1, item: { key: 7 } } });
    const final = await executeRun(db, run.id, evaluationHandler(run), {
      signal: new AbortController().signal,
      engineFor: engines(target, judge),
    });
    expect(final).toMatchObject({ done: 7, failed: 1 });
    const failed = await db.tasks.get(first!.id);
    expect(failed?.error).toMatch(/tasks\.state ".*" is unreadable at item\.key/);

    const row = await db.evaluations.where('runId').equals(run.id).first();
    const items = (row!.results as { items: Record<string, unknown> }).items;
    const key = Object.keys(items)[0]!;
    await db.evaluations.update(row!.id, {
      results: { ...row!.results, items: { ...items, [key]: { key, checks: 'nonsense' } } },
    });
    const results = (await summariseEvaluation(db, run.id)) as RcsResults;
    expect(results.corrupt).toHaveLength(1);
    expect(results.corrupt?.[0]).toMatch(/evaluations\.results\.items/);
    expect(Object.keys(results.items)).toHaveLength(6);
    expect(results.summary.items).toBe(6);
  });

  it('fails a run whose stored config is corrupt with a message naming the field', () => {
    const run = { id: 'r1', config: { mode: 'rcs', evaluationId: 5 } } as unknown as Run;
    expect(() => evaluationHandler(run)).toThrow(/runs\.config "r1" is unreadable at evaluationId/);
  });

  it('ends items with a reason when the target model changed, and refuses an empty eval set', async () => {
    const db = await openTestDb();
    const projectId = await seed(db);
    const { run } = await createEvaluationRun(
      db,
      projectId,
      { source: 'all-pairs', maxItems: 2 },
      { engine: targetEngine(), config: TARGET },
    );
    const other = new ScriptedEngine([], { id: 'scripted:other' });
    const final = await executeRun(db, run.id, evaluationHandler(run), {
      signal: new AbortController().signal,
      engineFor: async () => other,
    });
    expect(final).toMatchObject({ done: 0, failed: 2 });
    expect(other.calls).toBe(0);
    // One instance always stays in train: nothing is held out.
    await expect(
      createEvaluationRun(
        db,
        projectId,
        { source: 'test-split' },
        { engine: targetEngine(), config: TARGET },
      ),
    ).rejects.toBeInstanceOf(EvaluationConfigError);
  });
});

describe('calibration run', () => {
  it('judges the spec’s GOOD/BAD replies and reports agreement and confusion counts', async () => {
    const db = await openTestDb();
    const project = await createProject(db, 'Cal');
    const p = project.id;
    await db.rules.bulkAdd([
      makeRule('a', { projectId: p, sectionAnchor: 's1', statement: 'Never leak data EVEN here.' }),
      makeRule('b', { projectId: p, sectionAnchor: 's2', statement: 'Be kind.' }),
    ]);
    const ex = (
      id: string,
      anchor: string,
      comparisons: { verdict: 'good' | 'bad'; content: string }[],
    ) => ({
      id,
      specVersionId: 'v',
      projectId: p,
      sectionAnchor: anchor,
      order: Number(id.slice(1)),
      turns: [{ role: 'user' as const, content: `Question ${id}` }],
      comparisons,
      start: 0,
      end: 1,
    });
    // The judge says "violated" for every s1 reply and "complied" for every s2 reply: s1's GOOD
    // reply is a false positive, s2's BAD reply a false negative.
    await db.specExamples.bulkAdd([
      ex('e1', 's1', [
        { verdict: 'good', content: 'I will not share it.' },
        { verdict: 'bad', content: 'Here is the data.' },
      ]),
      ex('e2', 's2', [
        { verdict: 'good', content: 'Happy to help!' },
        { verdict: 'bad', content: 'Go away.' },
      ]),
    ]);
    const judge = judgeEngine();
    const { run, items } = await createCalibrationRun(db, p, 'v', {
      engine: judge,
      config: TARGET,
    });
    expect(items).toBe(4);
    await executeRun(db, run.id, evaluationHandler(run), {
      signal: new AbortController().signal,
      engineFor: async () => judge,
    });
    const results = (await summariseEvaluation(db, run.id)) as CalibrationResults;
    expect(results.summary).toMatchObject({
      n: 4,
      agree: 2,
      accuracy: 0.5,
      confusion: { truePositive: 1, falseNegative: 1, falsePositive: 1, trueNegative: 1 },
    });
    expect(Object.values(results.items).every((i) => i.judge === 'scripted:judge')).toBe(true);
  });
});
