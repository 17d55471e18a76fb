import { closeTestDbs, openTestDb } from '../../../helpers/db';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatRequest } from '$lib/core/llm';
import type { SpecAlignDb } from '$lib/db/database';
import { createProject } from '$lib/db/projects';
import { MAX_RULES_PER_REPLY } from '$lib/core/rules/schema';
import {
  createAnnotationRun,
  FINALIZE_KEY,
  MAX_NORMATIVE_PER_CHUNK,
  annotationHandler,
} from '$lib/worker/runs/annotation';
import { executeRun, MAX_TASK_ATTEMPTS } from '$lib/worker/runs/executor';
import { importSpecVersion } from '$lib/worker/spec-store';
import { ScriptedEngine } from '../../../helpers/scripted-engine';

afterEach(closeTestDbs);

const exampleSpec = path.resolve(process.cwd(), 'public/example-spec.md');

/**
 * Plays the annotator: quotes the chunk's first "must" sentence, adds one rule every chunk
 * repeats (to be merged), one rule whose quote is invented (to be flagged), and returns invalid
 * JSON for the chunk about emergencies (to fail after bounded retries).
 */
function annotatorScript(request: ChatRequest): string {
  const user = request.messages.find((m) => m.role === 'user')?.content ?? '';
  if (/Emergencies/.test(user.split('\n').slice(0, 6).join('\n')))
    return 'I cannot produce JSON today.';
  const must = /[A-Z][^.\n]*\bmust\b[^.\n]*\./.exec(user)?.[0];
  const rule = (statement: string, sourceQuote: string) => ({
    sourceQuote,
    statement,
    direction: 'positive',
    strength: 'must',
    stage: 'content',
    domain: 'general',
    family: 'general',
    priority: 'unspecified',
    appliesWhen: [],
    exceptions: [],
  });
  const anySentence = /[A-Z][^.\n]{20,}\./.exec(user)?.[0] ?? 'Harbor is the assistant.';
  const rules = [
    rule('Always be honest and transparent with every customer.', must ?? anySentence),
  ];
  if (must) rules.push(rule(`Follow: ${must}`, must));
  rules.push(rule('Offer free kayaks to everyone who asks.', 'Harbor gives away free kayaks.'));
  return JSON.stringify({ rules });
}

async function setup(): Promise<{ db: SpecAlignDb; projectId: string; specVersionId: string }> {
  const db = await openTestDb();
  const project = await createProject(db, 'Annotate');
  const text = await readFile(exampleSpec, 'utf8');
  const { specVersionId } = await importSpecVersion(db, project.id, {
    name: 'example-spec.md',
    text,
  });
  return { db, projectId: project.id, specVersionId };
}

describe('annotation run', () => {
  it('annotates every chunk, flags unfound quotes, survives bad output, and merges duplicates', async () => {
    const { db, projectId, specVersionId } = await setup();
    const engine = new ScriptedEngine(annotatorScript, { contextWindow: 2048 });
    const { run, chunks } = await createAnnotationRun(db, projectId, specVersionId, engine);
    expect(chunks).toBeGreaterThan(3);
    const tasks = await db.tasks.where('runId').equals(run.id).sortBy('order');
    expect(tasks.at(-1)?.key).toBe(FINALIZE_KEY);

    const final = await executeRun(db, run.id, annotationHandler(run), {
      signal: new AbortController().signal,
      engineFor: async () => engine,
    });
    expect(final.status).toBe('done');
    expect(final.failed).toBe(1); // the Emergencies chunk
    expect(final.done).toBe(chunks); // every other chunk + finalize
    const failed = (await db.tasks.where('runId').equals(run.id).toArray()).find(
      (t) => t.status === 'failed',
    );
    expect(failed?.attempts).toBe(MAX_TASK_ATTEMPTS);
    expect(failed?.error).toMatch(/not valid JSON/);

    const rules = await db.rules.where('specVersionId').equals(specVersionId).toArray();
    const version = await db.specVersions.get(specVersionId);
    // Located rules point at their quote in the spec text.
    const located = rules.filter((r) => r.source.located);
    expect(located.length).toBeGreaterThan(3);
    for (const r of located)
      expect(version?.text.slice(r.source.start, r.source.end).length).toBeGreaterThan(10);
    // The invented quote is flagged, never silently kept as located.
    const kayaks = rules.filter((r) => r.statement.includes('free kayaks'));
    expect(kayaks.length).toBeGreaterThan(0);
    expect(kayaks.every((r) => r.status === 'flagged' && !r.source.located)).toBe(true);
    // The statement every chunk repeated survives once.
    expect(rules.filter((r) => r.statement.startsWith('Always be honest'))).toHaveLength(1);
    // Families were assigned.
    expect(rules.every((r) => r.family.length > 0)).toBe(true);
    expect(engine.maxConcurrent).toBe(1);
  });

  it('resumes after an interruption without redoing chunks or duplicating rules', async () => {
    const a = await setup();
    const engineA = new ScriptedEngine(annotatorScript, { contextWindow: 2048 });
    const { run: runA } = await createAnnotationRun(a.db, a.projectId, a.specVersionId, engineA);
    await executeRun(a.db, runA.id, annotationHandler(runA), {
      signal: new AbortController().signal,
      engineFor: async () => engineA,
    });
    const uninterrupted = (await a.db.rules.where('runId').equals(runA.id).toArray())
      .map((r) => r.statement)
      .sort();

    const b = await setup();
    const controller = new AbortController();
    let calls = 0;
    const engineB = new ScriptedEngine(
      (request) => {
        if (++calls === 3) controller.abort(); // the tab closes during the third chunk
        return annotatorScript(request);
      },
      { contextWindow: 2048 },
    );
    const { run: runB } = await createAnnotationRun(b.db, b.projectId, b.specVersionId, engineB);
    const paused = await executeRun(b.db, runB.id, annotationHandler(runB), {
      signal: controller.signal,
      engineFor: async () => engineB,
    });
    expect(paused.status).toBe('paused');
    const callsBefore = engineB.calls;
    const resumed = await executeRun(b.db, runB.id, annotationHandler(runB), {
      signal: new AbortController().signal,
      engineFor: async () => engineB,
    });
    expect(resumed.status).toBe('done');
    // Only the unfinished chunks were asked again (2 done before the abort; the bad chunk retries).
    expect(engineB.calls - callsBefore).toBe(engineA.calls - 2);
    const after = (await b.db.rules.where('runId').equals(runB.id).toArray())
      .map((r) => r.statement)
      .sort();
    expect(after).toEqual(uninterrupted);
  });
});

const THINGS = (
  'anchor awning ballast beacon bilge buoy cabin canopy chart compass deck dinghy engine fender ' +
  'galley hatch helm hull keel ladder lantern mast mooring oar paddle rudder sail'
).split(' ');
const DUTIES = THINGS.map((thing) => `The assistant must inspect the ${thing} for every guest.`);

/** The 27-duty spec of issue 10: one short section, far denser than one reply's 12 rules. */
const DENSE_SPEC = `# Harbor duties\n\n## Service\n\n${DUTIES.join(' ')}\n`;

/** Plays a thorough annotator: one rule per duty sentence in the chunk, at most a reply's worth. */
function dutyScript(request: ChatRequest): string {
  const user = request.messages.find((m) => m.role === 'user')?.content ?? '';
  const duties = user.match(/The assistant must inspect the \w+ for every guest\./g) ?? [];
  const rules = duties.slice(0, MAX_RULES_PER_REPLY).map((quote) => ({
    sourceQuote: quote,
    statement: quote.replace('The assistant must inspect', 'Inspect'),
    direction: 'positive',
    strength: 'must',
    stage: 'content',
    domain: 'service',
    family: 'service',
    priority: 'unspecified',
    appliesWhen: [],
    exceptions: [],
  }));
  return JSON.stringify({ rules });
}

describe('annotation of a dense spec, twice', () => {
  it('chunks by normative density so every duty gets a rule, and a second run adds no copies', async () => {
    const db = await openTestDb();
    const project = await createProject(db, 'Dense');
    const { specVersionId } = await importSpecVersion(db, project.id, {
      name: 'duties.md',
      text: DENSE_SPEC,
    });
    const engine = new ScriptedEngine(dutyScript, { contextWindow: 8192 });
    const annotate = async () => {
      const { run, chunks } = await createAnnotationRun(db, project.id, specVersionId, engine);
      const final = await executeRun(db, run.id, annotationHandler(run), {
        signal: new AbortController().signal,
        engineFor: async () => engine,
      });
      expect(final.status).toBe('done');
      return chunks;
    };

    // Far under the token budget, yet split: at most MAX_NORMATIVE_PER_CHUNK duties a chunk
    // (a reply that saw all 27 would hold only 12 of them).
    expect(await annotate()).toBeGreaterThanOrEqual(Math.ceil(27 / MAX_NORMATIVE_PER_CHUNK));
    const first = await db.rules.where('specVersionId').equals(specVersionId).toArray();
    expect(first).toHaveLength(27);
    expect(new Set(first.map((r) => r.source.quote)).size).toBe(27);

    // A reviewer accepts one rule and rewrites another past recognition, then annotates again.
    const accepted = first.find((r) => r.statement.includes(' buoy '));
    const edited = first.find((r) => r.statement.includes(' keel '));
    await db.rules.update(accepted?.id ?? '', { status: 'accepted' });
    await db.rules.update(edited?.id ?? '', {
      status: 'accepted',
      statement: 'Greet arriving kayakers by name.',
    });
    await annotate();

    const second = await db.rules.where('specVersionId').equals(specVersionId).toArray();
    expect(second).toHaveLength(27);
    expect(second.map((r) => r.id).sort()).toEqual(first.map((r) => r.id).sort());
    const byId = new Map(second.map((r) => [r.id, r]));
    expect(byId.get(accepted?.id ?? '')?.status).toBe('accepted');
    expect(byId.get(edited?.id ?? '')?.statement).toBe('Greet arriving kayakers by name.');

    // Mid-run (paused on the third call, with duty chunks done), the list holds no passing copies.
    const controller = new AbortController();
    let calls = 0;
    const pausing = new ScriptedEngine(
      (request) => {
        if (++calls === 3) controller.abort();
        return dutyScript(request);
      },
      { contextWindow: 8192 },
    );
    const { run } = await createAnnotationRun(db, project.id, specVersionId, pausing);
    const paused = await executeRun(db, run.id, annotationHandler(run), {
      signal: controller.signal,
      engineFor: async () => pausing,
    });
    expect(paused.status).toBe('paused');
    expect(await db.rules.where('specVersionId').equals(specVersionId).count()).toBe(27);
  });
});
