import { closeTestDbs, openTestDb } from '../../../helpers/db';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeCustomId } from '$lib/core/batch-file';
import type { AgentRole, EngineConfig } from '$lib/core/engine-config';
import { renderInstancePrompt } from '$lib/core/instances/render';
import type { ChatMessage, ChatRequest } from '$lib/core/llm';
import type { Run } from '$lib/core/records';
import type { SpecAlignDb } from '$lib/db/database';
import { createProject } from '$lib/db/projects';
import { toOpenAiRequest } from '$lib/engines/openai-protocol';
import { BatchFileError, exportBatchFile, importBatchFile } from '$lib/worker/runs/batch';
import { annotationHandler, createAnnotationRun } from '$lib/worker/runs/annotation';
import { importSpecVersion } from '$lib/worker/spec-store';
import {
  createEvaluationRun,
  evaluationHandler,
  summariseEvaluation,
  type RcsResults,
} from '$lib/worker/runs/evaluation';
import { executeRun } from '$lib/worker/runs/executor';
import { checklistReply, readChecklistPrompt } from '../../../helpers/checklist-prompt';
import { ScriptedEngine } from '../../../helpers/scripted-engine';
import { makeInstance, makePair, makeRule } from '../../core/evaluation/fixtures';

afterEach(closeTestDbs);

const CONFIG: EngineConfig = { kind: 'openai', baseUrl: 'http://x', model: 'served-model' };
const systemOf = (messages: readonly ChatMessage[]) =>
  messages.find((m) => m.role === 'system')?.content ?? '';
const lastUser = (messages: readonly ChatMessage[]) =>
  messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';

function targetReply(messages: readonly ChatMessage[]): string {
  const q = lastUser(messages);
  return JSON.stringify({ response: `${/refuse/.test(q) ? 'REFUSE. ' : ''}Answer to ${q}` });
}

function judgeReply(messages: readonly ChatMessage[]): string {
  const { labels, focus, line, reply } = readChecklistPrompt(
    lastUser(messages),
    systemOf(messages),
  );
  return checklistReply(
    labels,
    (label) => {
      if (focus.length && !focus.includes(label)) return { verdict: 'not-applicable' };
      return line(label).includes('EVEN')
        ? { verdict: 'violated', evidence: reply.slice(0, 12) }
        : { verdict: 'complied' };
    },
    reply.startsWith('REFUSE'),
  );
}

const target = () =>
  new ScriptedEngine((r: ChatRequest) => targetReply(r.messages), { id: 'scripted:target' });
const judge = () =>
  new ScriptedEngine((r: ChatRequest) => judgeReply(r.messages), { id: 'scripted:judge' });

async function seed(db: SpecAlignDb) {
  const project = await createProject(db, 'Eval');
  const p = project.id;
  const rules = [1, 2, 3, 4].map((n) =>
    makeRule(`r${n}`, {
      projectId: p,
      statement: `Rule number ${n}${n % 2 === 0 ? ' EVEN' : ''}.`,
      family: n <= 2 ? 'low' : 'high',
      stage: n % 2 ? 'content' : 'decision',
    }),
  );
  await db.rules.bulkAdd(rules);
  await db.instances.add({
    ...makeInstance(
      'i1',
      rules.map((r) => r.id),
      renderInstancePrompt(rules).text,
    ),
    projectId: p,
  });
  await db.pairs.bulkAdd(
    rules.flatMap((r) => [
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
    ]),
  );
  return p;
}

async function evaluationRun() {
  const db = await openTestDb();
  const projectId = await seed(db);
  const engines = { target: target(), safetyJudge: judge() };
  const { run } = await createEvaluationRun(
    db,
    projectId,
    { source: 'all-pairs' },
    { engine: engines.target, config: CONFIG },
  );
  const ctx = {
    db,
    handler: evaluationHandler(run),
    engineFor: async (role: AgentRole) =>
      role === 'target' ? engines.target : engines.safetyJudge,
    configFor: async () => CONFIG,
  };
  return { db, run, ctx, engines };
}

interface InputLine {
  custom_id: string;
  method: string;
  url: string;
  body: { model: string; messages: ChatMessage[] };
}

/** Plays `vllm run-batch`: answers every line's body with `answer`, as an output file. */
function runBatch(
  input: string,
  answer: (line: InputLine) => string = (l) =>
    l.body.messages[0]?.content.includes('[agent: target]')
      ? targetReply(l.body.messages)
      : judgeReply(l.body.messages),
): string {
  return input
    .trimEnd()
    .split('\n')
    .map((text, i) => {
      const line = JSON.parse(text) as InputLine;
      return JSON.stringify({
        id: `vllm-${i}`,
        custom_id: line.custom_id,
        response: {
          status_code: 200,
          request_id: `vllm-batch-${i}`,
          body: {
            id: `cmpl-${i}`,
            object: 'chat.completion',
            model: line.body.model,
            choices: [
              {
                index: 0,
                message: { role: 'assistant', content: answer(line) },
                finish_reason: 'stop',
              },
            ],
            usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 },
          },
        },
        error: null,
      });
    })
    .join('\n');
}

describe('batch files of an evaluation run', () => {
  it('exports the target then the judge, imports both, and scores as a live run does', async () => {
    const { db, run, ctx, engines } = await evaluationRun();
    const first = await exportBatchFile(ctx, run.id);
    expect(first).toMatchObject({ requests: 8, role: 'target', model: 'served-model', later: 0 });
    const input = await first.file.text();
    const lines = input
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as InputLine);
    expect(lines[0]?.url).toBe('/v1/chat/completions');
    expect(lines[0]?.method).toBe('POST');
    const one = decodeCustomId(lines[0]?.custom_id ?? '');
    expect(one).toMatchObject({ runId: run.id, order: 0, role: 'target' });
    expect(engines.target.calls).toBe(0); // exporting calls no model

    const applied = await importBatchFile(ctx, run.id, runBatch(input));
    expect(applied).toMatchObject({ lines: 8, applied: 8, alreadyApplied: 0, problemCount: 0 });
    expect(applied.pending).toBe(8); // each now waits for its judgement
    // The same file again changes nothing.
    const before = await db.tasks.where('runId').equals(run.id).toArray();
    const again = await importBatchFile(ctx, run.id, runBatch(input));
    expect(again).toMatchObject({ applied: 0, alreadyApplied: 8, problemCount: 0 });
    expect(await db.tasks.where('runId').equals(run.id).toArray()).toEqual(before);

    const second = await exportBatchFile(ctx, run.id);
    expect(second).toMatchObject({ requests: 8, role: 'safetyJudge' });
    const judged = await importBatchFile(ctx, run.id, runBatch(await second.file.text()));
    expect(judged).toMatchObject({ applied: 8, pending: 0, problemCount: 0 });
    const stored = (await db.runs.get(run.id)) as Run;
    expect(stored.progress).toMatchObject({ done: 8, failed: 0 });
    expect(stored.usageByRole?.target).toEqual({ promptTokens: 800, completionTokens: 160 });
    const results = (await summariseEvaluation(db, run.id)) as RcsResults;
    expect(results.summary.overall).toEqual({ passed: 4, total: 8, score: 0.5 });
    expect(results.summary.overRefusal).toEqual({ refused: 1, benign: 4, rate: 0.25 });

    // Finishing the run (no model call left) marks it done; a live run gives the same score.
    const done = await executeRun(db, run.id, evaluationHandler(stored), {
      signal: new AbortController().signal,
      engineFor: async () => {
        throw new Error('no model call expected');
      },
    });
    expect(done.status).toBe('done');
    const live = await evaluationRun();
    await executeRun(live.db, live.run.id, evaluationHandler(live.run), {
      signal: new AbortController().signal,
      engineFor: live.ctx.engineFor,
    });
    const liveResults = (await summariseEvaluation(live.db, live.run.id)) as RcsResults;
    expect(liveResults.summary).toEqual(results.summary);
    expect(Object.values(liveResults.items).map((i) => i.checks)).toEqual(
      Object.values(results.items).map((i) => i.checks),
    );
    await expect(exportBatchFile(ctx, run.id)).rejects.toThrow(BatchFileError);
  });

  it('bodies equal the endpoint engine’s request for the step', async () => {
    const { run, ctx, engines } = await evaluationRun();
    const input = await (
      await exportBatchFile(ctx, run.id, { model: 'my-batch-model' })
    ).file.text();
    const first = JSON.parse(input.split('\n')[0] ?? '') as InputLine;
    // The live step, recorded by the scripted engine, through the engine's own wire format.
    await executeRun(ctx.db, run.id, evaluationHandler(run), {
      signal: new AbortController().signal,
      engineFor: ctx.engineFor,
      concurrency: 1,
    });
    const live = engines.target.requests[0];
    expect(live).toBeDefined();
    const { hadSignal: _, ...request } = live as NonNullable<typeof live>;
    expect(first.body).toEqual(toOpenAiRequest('my-batch-model', request, 'json_schema'));
  });

  it('reports bad lines per line, applies the good ones, and leaves the rest pending', async () => {
    const { db, run, ctx } = await evaluationRun();
    const input = await (await exportBatchFile(ctx, run.id)).file.text();
    const output = runBatch(input).split('\n');
    const notJson = runBatch(input, () => 'I will not answer in JSON.').split('\n');
    const bad = [
      output[0] ?? '',
      notJson[1] ?? '',
      JSON.stringify({
        ...JSON.parse(output[2] ?? ''),
        response: { status_code: 500, body: { error: { message: 'boom' } } },
      }),
      JSON.stringify({
        ...JSON.parse(output[3] ?? ''),
        response: null,
        error: { code: 'expired', message: 'window expired' },
      }),
      output[4] ?? '',
      output[4] ?? '',
      output[5] ?? '',
      (output[6] ?? '').slice(0, 40),
    ];
    const report = await importBatchFile(ctx, run.id, bad.join('\r\n'));
    const messages = report.problems.map((p) => `${p.line}: ${p.message}`);
    expect(messages).toEqual([
      expect.stringMatching(/^2: target answer is not usable: it is not JSON: /),
      '3: the request failed with HTTP 500: boom',
      '4: the batch reported an error: expired: window expired',
      '6: duplicate custom_id (first on line 5)',
      expect.stringMatching(/^8: the line is cut short/),
    ]);
    expect(report).toMatchObject({ lines: 8, applied: 3, problemCount: 5 });
    const stored = (await db.runs.get(run.id)) as Run;
    expect(stored.progress.done).toBe(0);
    const answered = (await db.tasks.where('runId').equals(run.id).toArray()).filter(
      (t) => (t.state as { reply?: string }).reply !== undefined,
    );
    expect(answered).toHaveLength(3);
    // A re-export holds only the tasks still waiting for the target.
    expect(await exportBatchFile(ctx, run.id)).toMatchObject({
      requests: 5,
      role: 'target',
      later: 3,
    });
  });

  it('a cancelled import keeps the lines applied so far; importing again finishes the rest', async () => {
    const { run, ctx } = await evaluationRun();
    const output = runBatch(await (await exportBatchFile(ctx, run.id)).file.text());
    const controller = new AbortController();
    const progress: [number, number][] = [];
    let steps = 0;
    const report = await importBatchFile(
      {
        ...ctx,
        signal: controller.signal,
        onProgress: (done, total) => progress.push([done, total]),
        engineFor: async (role) => {
          if (++steps === 3) controller.abort(); // cancelled while the third line is applied
          return ctx.engineFor(role);
        },
      },
      run.id,
      output,
    );
    expect(report).toMatchObject({ applied: 3, cancelled: true, pending: 8 });
    expect(progress).toEqual([[0, 8]]);
    const rest = await importBatchFile(
      { ...ctx, onProgress: (done, total) => progress.push([done, total]) },
      run.id,
      output,
    );
    expect(rest).toMatchObject({ applied: 5, alreadyApplied: 3, problemCount: 0 });
    expect(rest.cancelled).toBeUndefined();
    expect(progress.slice(1)).toEqual([
      [0, 8],
      [8, 8],
    ]);
  });

  it('a self-contradicting judgement asks for a re-judge in a third file', async () => {
    const { db, run, ctx } = await evaluationRun();
    const target = await importBatchFile(
      ctx,
      run.id,
      runBatch(await (await exportBatchFile(ctx, run.id)).file.text()),
    );
    expect(target.applied).toBe(8);
    // The judge quotes evidence the refusal never said: a contradiction, so a re-judge.
    const lying = (l: InputLine) => {
      const { labels, focus, reply } = readChecklistPrompt(
        lastUser(l.body.messages),
        systemOf(l.body.messages),
      );
      if (!reply.startsWith('REFUSE')) return judgeReply(l.body.messages);
      return checklistReply(labels, (label) =>
        focus.includes(label)
          ? { verdict: 'violated', evidence: 'words never said' }
          : { verdict: 'not-applicable' },
      );
    };
    const judged = await importBatchFile(
      ctx,
      run.id,
      runBatch(await (await exportBatchFile(ctx, run.id)).file.text(), lying),
    );
    expect(judged).toMatchObject({ applied: 8, pending: 1, problemCount: 0 });
    const third = await exportBatchFile(ctx, run.id);
    expect(third).toMatchObject({ requests: 1, role: 'safetyJudge' });
    const rejudged = await importBatchFile(ctx, run.id, runBatch(await third.file.text()));
    expect(rejudged).toMatchObject({ applied: 1, pending: 0 });
    expect((await db.runs.get(run.id))?.progress).toMatchObject({ done: 8, failed: 0 });
  });

  it('refuses a file of another run line by line, and an empty file', async () => {
    const a = await evaluationRun();
    const b = await evaluationRun();
    const input = await (await exportBatchFile(a.ctx, a.run.id)).file.text();
    const report = await importBatchFile(b.ctx, b.run.id, runBatch(input));
    expect(report.applied).toBe(0);
    expect(report.problems[0]?.message).toMatch(/belongs to another run/);
    expect(report.problemCount).toBe(8);
    expect(await importBatchFile(b.ctx, b.run.id, '')).toMatchObject({
      lines: 0,
      problems: [{ line: 0, message: 'the file is empty' }],
    });
  });
});

/** Quotes every "must" sentence of the chunk as a rule (like annotation.test.ts's annotator). */
function annotatorReply(messages: readonly ChatMessage[]): string {
  const user = lastUser(messages);
  const musts = [...new Set(user.match(/[A-Z][^.\n]*\bmust\b[^.\n]*\./g) ?? [])].slice(0, 3);
  return JSON.stringify({
    rules: musts.map((quote) => ({
      sourceQuote: quote,
      statement: quote,
      direction: 'positive',
      strength: 'must',
      stage: 'content',
      domain: 'general',
      family: 'general',
      priority: 'unspecified',
      appliesWhen: [],
      exceptions: [],
    })),
  });
}

async function annotationRun() {
  const db = await openTestDb();
  const project = await createProject(db, 'Annotate');
  const text = await readFile(path.resolve(process.cwd(), 'public/example-spec.md'), 'utf8');
  const { specVersionId } = await importSpecVersion(db, project.id, {
    name: 'example-spec.md',
    text,
  });
  const engine = new ScriptedEngine((r: ChatRequest) => annotatorReply(r.messages), {
    contextWindow: 2048,
  });
  const { run, chunks } = await createAnnotationRun(db, project.id, specVersionId, engine);
  const ctx = {
    db,
    handler: annotationHandler(run),
    engineFor: async () => engine,
    configFor: async () => CONFIG,
  };
  return { db, run, chunks, ctx, engine, specVersionId };
}

describe('batch files of an annotation run', () => {
  it('round-trips every chunk and, finished, gives the rules of a live run', async () => {
    const batch = await annotationRun();
    const exported = await exportBatchFile(batch.ctx, batch.run.id);
    // The merge step calls no model: it waits for the run to be finished.
    expect(exported).toMatchObject({ requests: batch.chunks, role: 'annotator', withoutCall: 1 });
    const input = await exported.file.text();
    const lines = input.trimEnd().split('\n');
    // One chunk's answer breaks the schema: reported, that chunk stays pending.
    const output = runBatch(input, (l) => annotatorReply(l.body.messages)).split('\n');
    const broken = JSON.parse(output[1] ?? '') as {
      response: { body: { choices: { message: { content: string } }[] } };
    };
    const message = broken.response.body.choices[0]?.message;
    if (message) message.content = JSON.stringify({ rules: [{ statement: 'x' }] });
    output[1] = JSON.stringify(broken);
    const report = await importBatchFile(batch.ctx, batch.run.id, output.join('\n'));
    expect(report).toMatchObject({ applied: lines.length - 1, problemCount: 1, pending: 1 });
    expect(report.problems[0]).toMatchObject({ line: 2, order: 1 });
    expect(report.problems[0]?.message).toMatch(/^annotator answer is not usable: rules\.0\./);
    const retry = await exportBatchFile(batch.ctx, batch.run.id);
    expect(retry.requests).toBe(1);
    const rest = await importBatchFile(
      batch.ctx,
      batch.run.id,
      runBatch(await retry.file.text(), (l) => annotatorReply(l.body.messages)),
    );
    expect(rest).toMatchObject({ applied: 1, pending: 0, problemCount: 0 });
    expect(batch.engine.calls).toBe(0);
    const run = (await batch.db.runs.get(batch.run.id)) as Run;
    const done = await executeRun(batch.db, run.id, annotationHandler(run), {
      signal: new AbortController().signal,
      engineFor: batch.ctx.engineFor,
    });
    expect(done).toMatchObject({ status: 'done', done: batch.chunks + 1, failed: 0 });
    expect(batch.engine.calls).toBe(0);

    const live = await annotationRun();
    await executeRun(live.db, live.run.id, annotationHandler(live.run), {
      signal: new AbortController().signal,
      engineFor: live.ctx.engineFor,
    });
    const statements = async (db: SpecAlignDb, id: string) =>
      (await db.rules.where('specVersionId').equals(id).toArray())
        .map((r) => `${r.statement}|${r.family}|${r.source.start}`)
        .sort();
    const rules = await statements(batch.db, batch.specVersionId);
    expect(rules.length).toBeGreaterThan(3);
    expect(rules).toEqual(await statements(live.db, live.specVersionId));
  });
});
