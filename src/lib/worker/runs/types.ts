import type { RunKind, Task } from '$lib/core/records';
import type { ChatEngine, TokenUsage } from '$lib/core/llm';
import type { AgentRole } from '$lib/core/engine-config';
import type { SpecAlignDb } from '$lib/db/database';

/** Live progress of a run, sent to the UI through a comlink callback (small, every step). */
export interface RunProgress {
  runId: string;
  status: 'running' | 'paused' | 'done' | 'cancelled' | 'failed';
  done: number;
  failed: number;
  total: number;
  usage: TokenUsage;
  /** Generated tokens per second of engine time in this session. */
  tokensPerSecond: number;
  /** Estimated time left, from this session's pace. */
  etaMs?: number;
  /** What is being worked on, e.g. "chunk 12/80: Do not lie". */
  current?: string;
  error?: string;
}

export interface StepContext {
  db: SpecAlignDb;
  signal: AbortSignal;
  /** The engine for a role, loaded on demand by the worker's model registry. */
  engineFor(role: AgentRole): Promise<ChatEngine>;
}

/** What one step of a task produced. Writes run in the same transaction as the checkpoint. */
export interface StepOutcome {
  /** True when the task is finished; false to run another step (multi-step tasks). */
  done: boolean;
  /** Name of the step just completed, stored on the task for resume. */
  step: string;
  /** State the next step needs; persisted with the checkpoint. */
  state?: unknown;
  usage?: TokenUsage;
  /** Engine time spent, for tokens/s. */
  engineMs?: number;
  /** Result rows to store atomically with the task's checkpoint. */
  write?: (db: SpecAlignDb) => Promise<void>;
  /** Tables `write` touches (needed to open the transaction). */
  tables?: string[];
}

export interface RunHandler {
  kind: RunKind;
  /** Executes the task's next step. Throwing marks an attempt failed (bounded retries). */
  step(task: Task, context: StepContext): Promise<StepOutcome>;
  /** A short label for progress, e.g. the chunk's heading. */
  describe?(task: Task): string;
}
