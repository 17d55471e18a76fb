/**
 * Batch job files for annotation and evaluation runs (issue 12 §5): a run's pending model calls
 * exported as an OpenAI Batch API input file, and the output file imported to complete them.
 *
 * Both directions drive the run's own step machine (the handler a live run uses), so a line
 * carries exactly the request a live step would send and an imported answer is applied exactly
 * as a live answer would be:
 *
 * - **Export** runs each pending task's next step with an engine that records the request and
 *   stops the step there (nothing is written). The body is the endpoint engine's own wire format
 *   (`toOpenAiRequest`, JSON-schema mode). An evaluation's judge needs the target's answers, so
 *   its file holds the target's requests while any is pending, then the judge's.
 * - **Import** checks every line (core/batch-file.ts), then runs the named task's step with an
 *   engine that answers with the line's completion, once: an answer the step's schema rejects
 *   would need a repair call, which a file cannot give, so it is reported and the task stays
 *   pending. Each applied step commits in one transaction with its checkpoint, and only if the
 *   task is still as it was read, so importing a file twice applies nothing the second time.
 */
import {
  buildRequestLine,
  MAX_LISTED_PROBLEMS,
  parseBatchOutput,
  requestFingerprint,
  type BatchImportReport,
  type BatchLineId,
  type BatchLineProblem,
  type BatchRole,
} from '$lib/core/batch-file';
import type { AgentRole, EngineConfig } from '$lib/core/engine-config';
import { errorMessage, SpecAlignError } from '$lib/core/errors';
import { repairProblemOf } from '$lib/core/json-call';
import type { ChatEngine, ChatRequest, ChatResult } from '$lib/core/llm';
import type { Run, Task } from '$lib/core/records';
import type { SpecAlignDb } from '$lib/db/database';
import { withRunLockIfFree } from '$lib/db/run-lock';
import { toChatResult, toOpenAiRequest } from '$lib/engines/openai-protocol';
import { commitStep, TaskMovedError } from './executor';
import type { RunHandler, StepContext } from './types';

/** The run cannot be exported or imported now; the message says why. */
export class BatchFileError extends SpecAlignError {}

/** Roles' names in reports. */
const ROLE_NAMES: Record<BatchRole, string> = {
  annotator: 'annotator',
  target: 'target',
  safetyJudge: 'judge',
};

/** Which file a role's requests go in: an evaluation's judge waits for the target's answers. */
const ROLE_PHASE: Record<BatchRole, number> = { annotator: 0, target: 0, safetyJudge: 1 };

function isBatchRole(role: AgentRole): role is BatchRole {
  return role === 'annotator' || role === 'target' || role === 'safetyJudge';
}

/** Thrown by the recording engine to stop a step at its model call. */
class CallRecorded extends Error {
  constructor(
    readonly role: BatchRole,
    readonly request: ChatRequest,
  ) {
    super('recorded');
  }
}

/** An imported answer that does not fit the task's step; `alreadyApplied` when it moved past it. */
class LineRejected extends Error {
  constructor(
    message: string,
    readonly alreadyApplied = false,
  ) {
    super(message);
  }
}

export interface BatchContext {
  db: SpecAlignDb;
  /** The run's step machine (the handler a live run uses). */
  handler: RunHandler;
  /** The role's engine as a live run would load it (its id and context window size prompts). */
  engineFor(role: AgentRole): Promise<ChatEngine>;
  /** The role's engine config (for the model name of an endpoint). */
  configFor(role: AgentRole): Promise<EngineConfig>;
  /** Aborts the export, or stops the import after the line being applied. */
  signal?: AbortSignal;
  /** Tasks (export) or lines (import) handled so far, of `total`; called every few. */
  onProgress?: (done: number, total: number) => void;
}

/** Progress reports are sent every this many tasks or lines (and at the end). */
const PROGRESS_EVERY = 20;

export interface BatchExport {
  /** The JSONL input file. */
  file: Blob;
  fileName: string;
  /** Request lines in the file. */
  requests: number;
  /** Who answers this file; undefined when nothing is pending. */
  role?: BatchRole;
  /** The `model` of every body. */
  model?: string;
  /** Pending tasks whose requests go in a later file (an evaluation's judge steps). */
  later: number;
  /** Pending tasks that need no model call now (they end when the run is finished or resumed). */
  withoutCall: number;
}

function assertOpen(run: Run | undefined): asserts run is Run {
  if (!run) throw new BatchFileError('That run no longer exists.');
  if (run.kind !== 'annotate' && run.kind !== 'evaluate')
    throw new BatchFileError('Only annotation and evaluation runs can use batch files.');
  if (run.status === 'done' || run.status === 'cancelled')
    throw new BatchFileError(`This run is ${run.status}: there is nothing left to send.`);
}

async function openTasks(db: SpecAlignDb, runId: string): Promise<Task[]> {
  const tasks = await db.tasks
    .where('[runId+order]')
    .between([runId, -Infinity], [runId, Infinity])
    .toArray();
  return tasks.filter((t) => t.status !== 'done' && t.status !== 'failed');
}

/**
 * The model name every body carries: the one given (a batch deployment may name the model
 * differently), else the role's endpoint model.
 */
async function modelName(ctx: BatchContext, role: BatchRole, given?: string): Promise<string> {
  const name = given?.trim();
  if (name) return name;
  const config = await ctx.configFor(role);
  if (config.kind === 'openai') return config.model;
  throw new BatchFileError(
    `The ${ROLE_NAMES[role]} runs in the browser (${config.model}); enter the model name the batch server serves.`,
  );
}

/**
 * The input file of the run's pending model calls: one line per task whose next step calls the
 * model (for an evaluation: the target's answers first, then, once they are in, the judge's).
 */
export async function exportBatchFile(
  ctx: BatchContext,
  runId: string,
  options: { model?: string } = {},
): Promise<BatchExport> {
  const { db, handler } = ctx;
  const run = await db.runs.get(runId);
  assertOpen(run);
  const signal = ctx.signal ?? new AbortController().signal;
  const recorded: { task: Task; role: BatchRole; request: ChatRequest }[] = [];
  let withoutCall = 0;
  const open = await openTasks(db, runId);
  for (const [index, task] of open.entries()) {
    signal.throwIfAborted();
    if (index % PROGRESS_EVERY === 0) ctx.onProgress?.(index, open.length);
    if (handler.isBarrier?.(task)) {
      withoutCall++;
      continue;
    }
    const context: StepContext = {
      db,
      signal,
      engineFor: async (role) => {
        // Checked before the engine is loaded: a role a file cannot carry needs no model.
        if (!isBatchRole(role))
          throw new BatchFileError(`The ${role} role cannot be sent through a batch file.`);
        return recorder(await ctx.engineFor(role), role);
      },
    };
    try {
      // Nothing the step returns is stored: it ended without a model call (e.g. its instance was
      // deleted), and ends so when the run goes on.
      await handler.step(task, context);
      withoutCall++;
    } catch (error) {
      if (!(error instanceof CallRecorded)) throw error;
      recorded.push({ task, role: error.role, request: error.request });
    }
  }
  ctx.onProgress?.(open.length, open.length);
  const phase = Math.min(...recorded.map((r) => ROLE_PHASE[r.role]));
  const now = recorded.filter((r) => ROLE_PHASE[r.role] === phase);
  const role = now[0]?.role;
  const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
  const fileName = `${run.kind === 'annotate' ? 'annotation' : 'evaluation'}-${role ? ROLE_NAMES[role] : 'empty'}-${runId.slice(0, 8)}-${stamp}.jsonl`;
  if (!role) return { file: new Blob([]), fileName, requests: 0, later: 0, withoutCall };
  const model = await modelName(ctx, role, options.model);
  const lines = now.map(({ task, role: r, request }) => {
    const id: BatchLineId = {
      runId,
      order: task.order,
      role: r,
      fingerprint: requestFingerprint(request),
    };
    return `${buildRequestLine(id, toOpenAiRequest(model, request, 'json_schema'))}\n`;
  });
  return {
    file: new Blob(lines, { type: 'application/jsonl' }),
    fileName,
    requests: lines.length,
    role,
    model,
    later: recorded.length - now.length,
    withoutCall,
  };
}

/** The engine `engine` would be, recording the first request and stopping the step there. */
function recorder(engine: ChatEngine, role: BatchRole): ChatEngine {
  return {
    id: engine.id,
    contextWindow: engine.contextWindow,
    chat: (request) => Promise.reject(new CallRecorded(role, request)),
  };
}

/**
 * Applies a batch output file to the run: every line is checked, valid answers complete their
 * task's step, the rest are reported and their tasks stay pending (export again for them).
 * Holds the run's lock: a run executing (here or in another tab) is refused.
 */
export async function importBatchFile(
  ctx: BatchContext,
  runId: string,
  text: string,
): Promise<BatchImportReport> {
  const { db, handler } = ctx;
  assertOpen(await db.runs.get(runId));
  const parsed = parseBatchOutput(text, runId);
  return withRunLockIfFree(runId, async () => {
    let run = await db.runs.get(runId);
    assertOpen(run);
    const problems: BatchLineProblem[] = [...parsed.problems];
    let applied = 0;
    let alreadyApplied = 0;
    const tasks = await db.tasks
      .where('[runId+order]')
      .between([runId, -Infinity], [runId, Infinity])
      .toArray();
    const byOrder = new Map(tasks.map((t) => [t.order, t]));
    let cancelled = false;
    for (const [index, entry] of parsed.entries.entries()) {
      // Stops between lines: every line applied so far stays applied (each with its checkpoint).
      if (ctx.signal?.aborted) {
        cancelled = true;
        break;
      }
      if (index % PROGRESS_EVERY === 0) ctx.onProgress?.(index, parsed.entries.length);
      const where = { line: entry.line, customId: entry.customId, order: entry.id.order };
      const task = byOrder.get(entry.id.order);
      if (!task) {
        problems.push({ ...where, message: 'this run has no such task' });
        continue;
      }
      const current = await db.tasks.get(task.id);
      if (!current || current.status === 'done' || current.status === 'failed') {
        alreadyApplied++;
        continue;
      }
      const label = `${ROLE_NAMES[entry.id.role]} answer`;
      let calls = 0;
      const context: StepContext = {
        db,
        // A cancel takes effect between lines: the line being applied completes (no model waits).
        signal: new AbortController().signal,
        engineFor: async (role) => {
          const engine = await ctx.engineFor(role);
          return {
            id: engine.id,
            contextWindow: engine.contextWindow,
            chat: async (request): Promise<ChatResult> => {
              if (++calls > 1) {
                const problem = repairProblemOf(request);
                throw new LineRejected(
                  problem
                    ? `${label} is not usable: ${problem}`
                    : `${label} needs a second model call, which a batch file cannot give`,
                );
              }
              if (role !== entry.id.role)
                throw new LineRejected(
                  `the task has moved on to its ${isBatchRole(role) ? ROLE_NAMES[role] : role} step`,
                  ROLE_PHASE[entry.id.role] < (isBatchRole(role) ? ROLE_PHASE[role] : 0),
                );
              if (requestFingerprint(request) !== entry.id.fingerprint)
                throw new LineRejected(
                  'does not answer the task’s current request (the file is older than the task’s last step, or was imported already): export again',
                );
              return toChatResult(entry.completion, request, 'the batch file', 0);
            },
          };
        },
      };
      try {
        const outcome = await handler.step(current, context);
        if (calls === 0) {
          problems.push({ ...where, message: 'the task no longer needs a model answer' });
          continue;
        }
        run = await commitStep(db, run, current, outcome, Date.now, true);
        applied++;
      } catch (error) {
        if (error instanceof TaskMovedError) alreadyApplied++;
        else if (error instanceof LineRejected && error.alreadyApplied) alreadyApplied++;
        else if (error instanceof LineRejected) problems.push({ ...where, message: error.message });
        else problems.push({ ...where, message: errorMessage(error) });
      }
    }
    if (!cancelled) ctx.onProgress?.(parsed.entries.length, parsed.entries.length);
    const open = await openTasks(db, runId);
    problems.sort((a, b) => a.line - b.line);
    return {
      lines: parsed.lines,
      applied,
      alreadyApplied,
      problems: problems.slice(0, MAX_LISTED_PROBLEMS),
      problemCount: problems.length,
      pending: open.filter((t) => !handler.isBarrier?.(t)).length,
      ...(cancelled ? { cancelled } : {}),
    };
  });
}
