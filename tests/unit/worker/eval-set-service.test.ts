import { closeTestDbs, openTestDb } from '../../helpers/db';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentRole, EngineConfig } from '$lib/core/engine-config';
import { InvalidFileError } from '$lib/core/errors';
import type { EvalItem } from '$lib/core/evaluation';
import { renderInstancePrompt } from '$lib/core/instances/render';
import type { ChatRequest } from '$lib/core/llm';
import type { Run } from '$lib/core/records';
import type { SpecAlignDb } from '$lib/db/database';
import { createProject } from '$lib/db/projects';
import { createImportedEvaluationRun, readEvalSetFile } from '$lib/worker/eval-set-service';
import {
  evaluationHandler,
  summariseEvaluation,
  type RcsResults,
  type RcsRunConfig,
} from '$lib/worker/runs/evaluation';
import { executeRun } from '$lib/worker/runs/executor';
import { checklistReply, readChecklistPrompt } from '../../helpers/checklist-prompt';
import { ScriptedEngine } from '../../helpers/scripted-engine';
import { makeInstance, makeRule } from '../core/evaluation/fixtures';

afterEach(closeTestDbs);

const TARGET: EngineConfig = { kind: 'openai', baseUrl: 'http://x', model: 'target' };
const lastUser = (r: ChatRequest) =>
  r.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';

function targetEngine() {
  return new ScriptedEngine((r) => JSON.stringify({ response: `Answer to ${lastUser(r)}` }), {
    id: 'scripted:target',
  });
}

/**
 * Finds each asked label's line in the instance prompt it is shown and says "violated" when that
 * line says EVEN: a label that names another rule of the prompt gives another verdict.
 */
function judgeEngine() {
  return new ScriptedEngine(
    (r) => {
      const { labels, focus, line, reply } = readChecklistPrompt(
        lastUser(r),
        r.messages[0]?.content,
      );
      return checklistReply(labels, (label) => {
        if (!focus.includes(label)) return { verdict: 'not-applicable' };
        return line(label).includes('EVEN')
          ? { verdict: 'violated', evidence: reply.slice(0, 8) }
          : { verdict: 'complied' };
      });
    },
    { id: 'scripted:judge' },
  );
}

/** A project with rules r1–r4 (r2 and r4 say EVEN) in one instance `i1`. */
async function seed(db: SpecAlignDb) {
  const { id: projectId } = await createProject(db, 'Imported eval');
  const rules = [1, 2, 3, 4].map((n) =>
    makeRule(`r${n}`, {
      projectId,
      statement: `Rule number ${n}${n % 2 === 0 ? ' EVEN' : ''}.`,
      stage: n % 2 ? 'content' : 'decision',
    }),
  );
  await db.rules.bulkAdd(rules);
  const prompt = renderInstancePrompt(rules).text;
  await db.instances.add({ ...makeInstance('i1', ['r1', 'r2', 'r3', 'r4'], prompt), projectId });
  return { projectId, prompt };
}

const line = (over: Record<string, unknown>) =>
  JSON.stringify({
    instance_id: 'i1',
    system: '',
    messages: [{ role: 'user', content: 'Question' }],
    rule_ids: ['r1'],
    case_type: 'violation',
    ...over,
  });

async function rowCounts(db: SpecAlignDb) {
  return Promise.all([db.runs.count(), db.tasks.count(), db.evaluations.count()]);
}

describe('an RCS run on an imported eval set', () => {
  it('writes one task per query, keeps only the file name and counts in its config, and resumes to the known score', async () => {
    const db = await openTestDb();
    const { projectId, prompt } = await seed(db);
    // Rows 1–3 are of this project's instance; rows 4–5 of an instance re-sampled away since
    // the export, under the prompt it had (same rules): labels must come from that text.
    const text = [
      line({ rule_ids: ['r1', 'r2'], messages: [{ role: 'user', content: 'q1' }] }),
      line({ rule_ids: ['r3'], case_type: 'benign', messages: [{ role: 'user', content: 'q2' }] }),
      line({ rule_ids: ['r1', 'r2'], messages: [{ role: 'user', content: 'q1' }] }), // repeat
      line({
        instance_id: 'gone',
        system: prompt,
        rule_ids: ['r3'],
        messages: [{ role: 'user', content: 'q3' }],
      }),
      line({
        instance_id: 'gone',
        system: prompt,
        rule_ids: ['r4'],
        messages: [{ role: 'user', content: 'q4' }],
      }),
    ].join('\n');
    const target = targetEngine();
    const judge = judgeEngine();
    const { run, items } = await createImportedEvaluationRun(
      db,
      projectId,
      new Blob([text]),
      'held-out.jsonl',
      async () => ({ engine: target, config: TARGET }),
    );
    expect(items).toBe(4);
    expect((run.config as RcsRunConfig).request).toEqual({
      source: 'imported',
      fileName: 'held-out.jsonl',
      items: 4,
      rules: 4,
      byCaseType: { violation: 3, borderline: 0, benign: 1 },
      duplicates: 1,
      foreignItems: 2,
    });
    const tasks = await db.tasks.where('[runId+order]').between([run.id, 0], [run.id, 9]).toArray();
    const stored = tasks.map((t) => (t.state as { item: EvalItem }).item);
    expect(stored.map((i) => [i.instanceId, i.ruleIds, i.system !== undefined])).toEqual([
      ['i1', ['r1', 'r2'], false],
      ['i1', ['r3'], false],
      ['gone', ['r3'], true],
      ['gone', ['r4'], true],
    ]);
    const row = await db.evaluations.where('runId').equals(run.id).first();
    expect((row?.results as unknown as RcsResults).label).toContain('held-out.jsonl');

    // Pause after three engine calls, then resume.
    const controller = new AbortController();
    let calls = 0;
    const engines = async (role: AgentRole) => (role === 'target' ? target : judge);
    const paused = await executeRun(db, run.id, evaluationHandler(run), {
      signal: controller.signal,
      engineFor: async (role) => {
        if (++calls === 3) controller.abort();
        return engines(role);
      },
    });
    expect(paused.status).toBe('paused');
    const resumed = (await db.runs.get(run.id)) as Run;
    const done = await executeRun(db, run.id, evaluationHandler(resumed), {
      signal: new AbortController().signal,
      engineFor: engines,
    });
    expect(done).toMatchObject({ status: 'done', done: 4, failed: 0 });

    // r2 and r4 fail; r1 and r3 (twice) pass: 3 of 5 checks.
    const results = (await summariseEvaluation(db, run.id)) as RcsResults;
    expect(results.summary.overall).toEqual({ passed: 3, total: 5, score: 0.6 });
    expect(results.summary.byRule.r3).toEqual({ passed: 2, total: 2, score: 1 });
    expect(results.summary.byRule.r4).toEqual({ passed: 0, total: 1, score: 0 });
    // The re-sampled instance's queries were answered under the file's system prompt.
    const q3 = target.requests.find((r) => lastUser({ messages: r.messages }) === 'q3');
    expect(q3?.messages[0]?.content.startsWith(prompt)).toBe(true);
  });

  it('writes nothing, and resolves no model, when the file is malformed', async () => {
    const db = await openTestDb();
    const { projectId } = await seed(db);
    const before = await rowCounts(db);
    let resolved = false;
    const create = (text: string) =>
      createImportedEvaluationRun(db, projectId, new Blob([text]), 'bad.jsonl', async () => {
        resolved = true;
        return { engine: targetEngine(), config: TARGET };
      });
    await expect(create('')).rejects.toThrow('The file is empty.');
    await expect(create([line({}), 'not json'].join('\n'))).rejects.toThrow(
      'Line 2 is not valid JSON.',
    );
    const error = await create(line({ rule_ids: ['r1', 'r-abc'] })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidFileError);
    expect((error as Error).message).toBe(
      'Line 1 refers to rules not in this project: r-abc (the eval set was exported from another project?)',
    );
    expect(resolved).toBe(false);
    expect(await rowCounts(db)).toEqual(before);
    expect(before).toEqual([0, 0, 0]);
  });

  it('validates against the project it is read into (another project’s rules are unknown)', async () => {
    const db = await openTestDb();
    await seed(db);
    const { id: other } = await createProject(db, 'Other');
    await expect(readEvalSetFile(db, other, new Blob([line({})]))).rejects.toThrow(
      /^Line 1 refers to rules not in this project: r1 /,
    );
  });
});
