/**
 * The worker's live runs: starts the executor for a stored run with the right handler, and keeps
 * its AbortController so the UI can pause or cancel it by run id.
 */
import { concurrencyOf, type AgentRole, type EngineConfig } from '$lib/core/engine-config';
import { NoModelLoadedError } from '$lib/core/errors';
import type { ChatEngine } from '$lib/core/llm';
import type { Run } from '$lib/core/records';
import { synthesisRunConfigSchema } from '$lib/core/stored';
import type { SpecAlignDb } from '$lib/db/database';
import { withRunLock } from '$lib/db/run-lock';
import { sampleStorage } from '$lib/db/storage-quota';
import { annotationHandler } from './annotation';
import { evaluationHandler } from './evaluation';
import { executeRun } from './executor';
import { synthesisHandler } from './synthesis';
import type { RunHandler, RunProgress } from './types';

export type EngineLoader = (config: EngineConfig) => Promise<ChatEngine>;

/** The engine config a project uses for a role: the role's own, else the project default. */
export async function configForRole(
  db: SpecAlignDb,
  projectId: string,
  role: AgentRole,
): Promise<EngineConfig> {
  const project = await db.projects.get(projectId);
  const config = project?.roleModels?.[role] ?? project?.defaultModel;
  if (!config) {
    throw new NoModelLoadedError(
      'No model is chosen for this project yet. Load one on the Models step; it becomes the model for every role.',
    );
  }
  return config;
}

/** The engine roles a run of each kind calls. */
export const RUN_ROLES: Record<Run['kind'], readonly AgentRole[]> = {
  annotate: ['annotator'],
  synthesize: ['planner', 'attacker', 'defender', 'safetyJudge', 'qualityJudge', 'violator'],
  evaluate: ['target', 'safetyJudge'],
};

/** The engine configs of the roles a run of `kind` calls (roles without a model are skipped). */
export async function configsForRun(
  db: SpecAlignDb,
  projectId: string,
  kind: Run['kind'],
): Promise<EngineConfig[]> {
  const configs: EngineConfig[] = [];
  for (const role of RUN_ROLES[kind] ?? []) {
    // A role without a model fails the run's first step with the message that says so.
    const config = await configForRole(db, projectId, role).catch(() => undefined);
    if (config) configs.push(config);
  }
  return configs;
}

/**
 * Tasks a run keeps in flight (K): the largest concurrency among its roles' engines (1 for
 * in-browser engines). Each engine still queues requests beyond its own setting.
 */
export async function runConcurrency(db: SpecAlignDb, run: Run): Promise<number> {
  const configs = await configsForRun(db, run.projectId, run.kind);
  return Math.max(1, ...configs.map(concurrencyOf), ...runModels(run).map(concurrencyOf));
}

/**
 * The engine configs a run stored for its tasks' own models (a synthesis run's on-policy defender
 * and role rotation: `config.roles.models`); none for other runs.
 */
export function runModels(run: Pick<Run, 'kind' | 'config'>): EngineConfig[] {
  if (run.kind !== 'synthesize') return [];
  const read = synthesisRunConfigSchema.safeParse(run.config);
  if (!read.success || read.data.v !== 2 || !read.data.roles) return [];
  // The schema checks each config's kind; the rest is the config as planning stored it.
  return Object.values(read.data.roles.models) as unknown as EngineConfig[];
}

/** The step machine that executes a run of its kind. */
export function handlerFor(run: Run): RunHandler {
  switch (run.kind) {
    case 'annotate':
      return annotationHandler(run);
    case 'synthesize':
      return synthesisHandler(run);
    case 'evaluate':
      return evaluationHandler(run);
    default:
      throw new Error(`Runs of kind "${run.kind}" are not supported by this version of the app.`);
  }
}

type StopMode = 'pause' | 'cancel';

/** Carries stop requests to the tab executing a run: a tab's UI reaches only its own worker. */
const STOP_CHANNEL = 'specalign-run-stop';

interface StopRequest {
  runId: string;
  mode: StopMode;
}

export class RunRunner {
  #active = new Map<
    string,
    { controller: AbortController; mode: StopMode; finished?: Promise<unknown> }
  >();
  /** Open only while a run executes here, so an idle worker (or a Node test) holds nothing. */
  #stops: BroadcastChannel | undefined;

  constructor(
    private readonly db: SpecAlignDb,
    private readonly loadEngine: EngineLoader,
    /** Which handler executes a run (tests pass a scripted one). */
    private readonly handlers: (run: Run) => RunHandler = handlerFor,
    /** Sees every progress report of every run (the snapshot service's trigger). */
    private readonly observe?: (projectId: string, progress: RunProgress) => void,
  ) {}

  isActive(runId: string): boolean {
    return this.#active.has(runId);
  }

  async start(runId: string, onProgress?: (p: RunProgress) => void): Promise<RunProgress> {
    if (this.#active.has(runId)) throw new Error('This run is already running.');
    const run = await this.db.runs.get(runId);
    if (!run) throw new Error('That run no longer exists.');
    if (run.status === 'done' || run.status === 'cancelled') {
      throw new Error(`This run is ${run.status}; start a new one instead.`);
    }
    const entry: { controller: AbortController; mode: StopMode; finished?: Promise<unknown> } = {
      controller: new AbortController(),
      mode: 'pause',
    };
    this.#active.set(runId, entry);
    this.#listenForStops();
    const execute = async (expectedStatus: Run['status']) =>
      executeRun(this.db, runId, this.handlers(run), {
        signal: entry.controller.signal,
        // As many tasks in flight as the run's engines serve at once (1 for in-browser ones).
        concurrency: await runConcurrency(this.db, run),
        expectedStatus,
        stopMode: () => entry.mode,
        checkStorage: sampleStorage,
        onProgress: (progress) => {
          onProgress?.(progress);
          this.observe?.(run.projectId, progress);
        },
        engineFor: async (role) =>
          this.loadEngine(await configForRole(this.db, run.projectId, role)),
        engineForConfig: (config) => this.loadEngine(config),
      });
    try {
      const execution = this.#executeAndResume(runId, entry, () => execute(run.status), execute);
      entry.finished = execution.catch(() => undefined);
      return await execution;
    } finally {
      this.#active.delete(runId);
      if (this.#active.size === 0) {
        this.#stops?.close();
        this.#stops = undefined;
      }
    }
  }

  /**
   * Executes the run; a pause that clears by itself (every endpoint replica down: `resumeAt`)
   * waits here, still stoppable, and resumes when a replica may be probed again, as often as it
   * takes: the replicas' growing cool-downs space the tries out.
   */
  async #executeAndResume(
    runId: string,
    entry: { controller: AbortController; mode: StopMode },
    start: () => Promise<RunProgress>,
    execute: (expected: Run['status']) => Promise<RunProgress>,
  ): Promise<RunProgress> {
    let result = await start();
    const { signal } = entry.controller;
    while (result.status === 'paused' && result.resumeAt !== undefined) {
      const woke = await sleepUntil(result.resumeAt, signal);
      if (!woke) {
        if (entry.mode === 'cancel') {
          await this.db.runs.update(runId, { status: 'cancelled', updatedAt: Date.now() });
          return { ...result, status: 'cancelled' };
        }
        return result;
      }
      result = await execute('paused');
    }
    return result;
  }

  /** Stops a run after its current step: 'pause' keeps it resumable, 'cancel' ends it. */
  async stop(runId: string, mode: StopMode): Promise<void> {
    if (this.#abort(runId, mode)) return;
    // Executing in another tab: that tab stops it and records the stop itself.
    if (typeof BroadcastChannel === 'function') {
      const channel = new BroadcastChannel(STOP_CHANNEL);
      channel.postMessage({ runId, mode } satisfies StopRequest);
      channel.close();
    }
    // Record the decision for a run nobody executes (e.g. interrupted by a reload). Holding the
    // run's lock keeps this write from interleaving with an executor's checkpoints: if a tab
    // executes it, this waits until that tab has stopped.
    await withRunLock(runId, {}, async () => {
      const run = await this.db.runs.get(runId);
      if (run && run.status !== 'done' && run.status !== 'cancelled') {
        await this.db.runs.update(runId, {
          status: mode === 'cancel' ? 'cancelled' : 'paused',
          updatedAt: Date.now(),
        });
      }
    });
  }

  /**
   * Cancels every unfinished run of a project and waits until none executes any more: here (its
   * executor returned) or in another tab (its run lock was released). Deleting a project calls
   * this first, so no step is in flight when its rows go.
   */
  async stopProjectRuns(projectId: string): Promise<void> {
    const runs = await this.db.runs.where('projectId').equals(projectId).toArray();
    const open = runs.filter((r) => r.status !== 'done' && r.status !== 'cancelled');
    await Promise.all(
      open.map(async (r) => {
        const finished = this.#active.get(r.id)?.finished;
        await this.stop(r.id, 'cancel');
        await finished;
      }),
    );
  }

  /** Aborts the run if it executes here; false if it does not. */
  #abort(runId: string, mode: StopMode): boolean {
    const entry = this.#active.get(runId);
    if (!entry) return false;
    entry.mode = mode;
    entry.controller.abort();
    return true;
  }

  #listenForStops(): void {
    if (this.#stops || typeof BroadcastChannel !== 'function') return;
    this.#stops = new BroadcastChannel(STOP_CHANNEL);
    this.#stops.onmessage = ({ data }: MessageEvent<StopRequest>) => {
      this.#abort(data.runId, data.mode);
    };
  }
}

/** Resolves true at `time` (epoch ms), or false as soon as `signal` aborts. */
function sleepUntil(time: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      },
      Math.max(0, time - Date.now()),
    );
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
