import type { Run, RunKind, Task } from '$lib/core/records';
import type { ChatEngine, TokenUsage } from '$lib/core/llm';
import type { AgentRole, EngineConfig } from '$lib/core/engine-config';
import type { SpecAlignDb } from '$lib/db/database';

/** Live progress of a run, sent to the UI through a comlink callback (small, every step). */
export interface RunProgress {
  runId: string;
  status: 'running' | 'paused' | 'done' | 'cancelled' | 'failed';
  done: number;
  failed: number;
  total: number;
  usage: TokenUsage;
  /** Tokens per agent role, when the run's steps report it (see `Run.usageByRole`). */
  usageByRole?: Partial<Record<AgentRole, TokenUsage>>;
  /** Generated tokens per second of engine time in this session. */
  tokensPerSecond: number;
  /** Estimated time left, from this session's pace. */
  etaMs?: number;
  /** What is being worked on, e.g. "chunk 12/80: Do not lie" (the latest step started). */
  current?: string;
  /** Tasks with a step in flight now (up to the engines' concurrency). */
  inFlight?: number;
  error?: string;
  /**
   * Set on a pause whose cause may clear by itself (every endpoint replica down): when to try
   * again (epoch ms). The runner resumes the run then.
   */
  resumeAt?: number;
}

export interface StepContext {
  db: SpecAlignDb;
  signal: AbortSignal;
  /** The engine for a role, loaded on demand by the worker's model registry. */
  engineFor(role: AgentRole): Promise<ChatEngine>;
  /**
   * The engine of a given config, loaded on demand: for tasks planned with their own models
   * (a synthesis run's on-policy defender and role rotation). Absent where nothing loads by config.
   */
  engineForConfig?(config: EngineConfig): Promise<ChatEngine>;
  /** The executor's clock (injectable in tests); default `Date.now`. */
  now?: () => number;
}

/** What one step of a task produced. Writes run in the same transaction as the checkpoint. */
export interface StepOutcome {
  /** True when the task is finished; false to run another step (multi-step tasks). */
  done: boolean;
  /**
   * With `done`: the task ended without a result, for this reason, and retrying cannot help
   * (e.g. a duplicate prompt). The task is marked failed at once, with no further attempts;
   * `write` and `patchRun` are still applied with the checkpoint.
   */
  failure?: string;
  /** Name of the step just completed, stored on the task for resume. */
  step: string;
  /** State the next step needs; persisted with the checkpoint. */
  state?: unknown;
  usage?: TokenUsage;
  /** The same tokens split by agent role, accumulated on `Run.usageByRole`. */
  usageByRole?: Partial<Record<AgentRole, TokenUsage>>;
  /** Engine time spent, for tokens/s. */
  engineMs?: number;
  /** Result rows to store atomically with the task's checkpoint. */
  write?: (db: SpecAlignDb) => Promise<void>;
  /** Tables `write` touches (needed to open the transaction). */
  tables?: string[];
  /**
   * Changes the run row (run-level state such as an experience pool), applied to a copy that is
   * stored in the checkpoint's transaction: it becomes visible only if the checkpoint commits.
   */
  patchRun?: (run: Run) => void;
  /**
   * A contribution to state the run's tasks share (plain JSON), for handlers with waves: stored
   * on the task row with this checkpoint and handed to `closeWave` when the task's wave closes,
   * so no task of the same wave sees it (see core/run-schedule.ts).
   */
  share?: unknown;
}

/** What closing a wave changes, in one transaction with the run's `closedWaves`. */
export interface WaveClosing {
  /** Applies the wave's contributions to the run row. */
  patchRun?: (run: Run) => void;
  write?: (db: SpecAlignDb) => Promise<void>;
  tables?: string[];
  /** Done tasks that turn out failed after all (e.g. a duplicate of an earlier task in the wave), by id, with the reason. */
  fail?: Record<string, string>;
}

/**
 * What an error thrown by a step may carry so that a failed attempt is still charged: the
 * executor reads these fields from any thrown value (e.g. `InvalidModelOutputError`,
 * `SynthesisStepError`, or a handler's own error that adds `usageByRole`).
 */
export interface ChargedFailure {
  usage?: TokenUsage;
  usageByRole?: Partial<Record<AgentRole, TokenUsage>>;
  durationMs?: number;
}

export interface RunHandler {
  kind: RunKind;
  /** Executes the task's next step. Throwing marks an attempt failed (bounded retries). */
  step(task: Task, context: StepContext): Promise<StepOutcome>;
  /** A short label for progress, e.g. the chunk's heading. */
  describe?(task: Task): string;
  /**
   * Checked with the run as last checkpointed as each wave opens (runs without waves: before
   * each task starts): a message stops the run as `paused` with that message as its error (e.g.
   * a token budget is spent). Resuming checks again, so the run stays paused until the limit is
   * raised.
   */
  limitReached?(run: Readonly<Run>): string | undefined;
  /**
   * Tasks per wave for runs whose tasks share state (core/run-schedule.ts); undefined: the tasks
   * share nothing and run in any overlap. With waves, `limitReached` is checked when a wave opens.
   */
  waveWidth?: number;
  /**
   * Called once per wave when all its tasks have ended (`tasks`: their rows, in queue order, as
   * stored): what the wave's contributions change. Applied with the wave's closing.
   */
  closeWave?(
    tasks: readonly Task[],
    context: StepContext,
    run: Readonly<Run>,
  ): Promise<WaveClosing>;
  /** A task that may start only after every earlier task ended (e.g. a final merge). */
  isBarrier?(task: Task): boolean;
}
