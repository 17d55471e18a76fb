/**
 * Which of a run's tasks run next when several may be in flight at once: pure, so the executor's
 * choices are a function of the stored task rows and can be tested without an engine.
 *
 * ## Waves: results that do not depend on concurrency or timing
 * Tasks of a run may share state: a synthesis run's experience pool, its near-duplicate set and
 * its token budget. If a task read that state whenever it happened to run, its result would
 * depend on which other tasks had finished by then, so on the number of tasks in flight (K) and
 * on the engine's timing. Runs that share state therefore run in **waves**: consecutive slices of
 * the queue, {@link waveWidth} tasks each (the last may be shorter).
 * - A wave's tasks read shared state as it was when the wave opened (all earlier waves closed).
 * - What a task contributes to shared state is held back (on its task row) and applied when its
 *   wave **closes** — every task of the wave has ended — in task order, in one transaction.
 * - No task of a wave starts before the previous wave closed; budgets are checked when a wave
 *   opens, with the usage of the closed waves.
 * So a wave's inputs are fixed by the waves before it, whatever K is: K only limits how many of
 * the open wave's tasks are in flight (at most `min(K, width)`). The width is a property of the
 * run, chosen when it is planned and stored with it, never derived from K; K = 1 and K = 16 give
 * the same tasks, pairs, usage and pool.
 *
 * Runs whose tasks share nothing (annotation chunks, evaluation items) have no waves (width
 * `undefined`): any K unfinished tasks may be in flight, in queue order. A **barrier** task (an
 * annotation run's final merge) starts only once every earlier task has ended, and nothing after
 * it starts before it.
 */
import { effectiveConcurrency } from './endpoint-policy';
import { concurrencyOf, replicaUrls, type EngineConfig } from './engine-config';

/**
 * Wave width of a run planned for an engine that can batch (an OpenAI-compatible endpoint): the
 * most requests in flight an endpoint may be set to (`CONCURRENCY_LIMITS.max`), so every setting
 * keeps its slots busy. The price: a task sees the experience of tasks at least one wave earlier.
 */
export const BATCH_WAVE_WIDTH = 64;

/**
 * The wave width for a synthesis run planned with `configs` (the engines of its roles). Runs on
 * in-browser engines only — which take one request at a time, so no task ever overlaps another —
 * use width 1: every task sees everything every earlier task contributed, as in a sequential
 * run. A run with an endpoint among its engines uses {@link BATCH_WAVE_WIDTH}, whatever the
 * endpoint's concurrency setting: the setting may change between two sessions of one run, the
 * width may not.
 */
export function waveWidthFor(configs: readonly EngineConfig[]): number {
  return configs.some((c) => c.kind === 'openai') ? BATCH_WAVE_WIDTH : 1;
}

/**
 * Tasks a run of `tasks` tasks on `configs` will have in flight at once, for its time estimate:
 * the smallest effective concurrency among its engines (an endpoint's parallel requests, capped by
 * the browser's connections per origin; in-browser engines 1), at most the wave width and the
 * task count. The smallest, because every task calls every role: an engine that serves fewer
 * requests at once holds the others back (an in-browser model among endpoints makes it 1).
 */
export function expectedInFlight(
  configs: readonly EngineConfig[],
  tasks: number,
  waveWidth: number | undefined,
): number {
  if (!configs.length) return 1;
  const perEngine = configs.map((c) =>
    c.kind === 'openai' ? effectiveConcurrency(concurrencyOf(c), replicaUrls(c)).effective : 1,
  );
  const k = Math.min(...perEngine);
  return Math.max(1, Math.min(k, waveWidth ?? k, tasks));
}

/** The wave (0-based) of the task at queue position `position`; 0 for runs without waves. */
export function waveOf(position: number, width: number | undefined): number {
  return width ? Math.floor(position / width) : 0;
}

/** Queue positions `[start, end)` of wave `wave` of a queue of `total` tasks. */
export function waveBounds(
  wave: number,
  width: number | undefined,
  total: number,
): { start: number; end: number } {
  if (!width) return { start: 0, end: total };
  return { start: Math.min(total, wave * width), end: Math.min(total, (wave + 1) * width) };
}

/** What the scheduler needs to know of one task, in queue order. */
export interface QueuedTask {
  /** Done or failed: it will not run again. */
  ended: boolean;
  /** A step of it is executing now. */
  inFlight: boolean;
  /** It has run before (a checkpointed step or a failed attempt): its wave has opened. */
  touched: boolean;
  /** Starts only after every earlier task has ended (see the module comment). */
  barrier?: boolean;
}

export interface ScheduleInput {
  queue: readonly QueuedTask[];
  /** Most tasks in flight at once (K), at least 1. */
  concurrency: number;
  /** Tasks per wave; undefined: no waves. */
  waveWidth?: number;
  /** Waves whose contributions are applied (every wave before this index). */
  closedWaves: number;
}

export type ScheduleDecision =
  /** Every task of `wave` ended: apply its contributions before anything of the next starts. */
  | { kind: 'close'; wave: number }
  /**
   * Start these queue positions now, in this order. `opensWave`: none of the wave's tasks has
   * run yet — the moment to check budgets.
   */
  | { kind: 'start'; positions: number[]; opensWave: boolean }
  /** Tasks are in flight and nothing else may start: wait for one to finish. */
  | { kind: 'wait' }
  /** Every task ended and every wave closed. */
  | { kind: 'done' };

/** The scheduler's next move for `input`; see the module comment for the rules. */
export function nextDecision(input: ScheduleInput): ScheduleDecision {
  const { queue, waveWidth, closedWaves } = input;
  const slots = Math.max(1, Math.floor(input.concurrency));
  const inFlight = queue.filter((t) => t.inFlight).length;
  const { start, end } = waveBounds(closedWaves, waveWidth, queue.length);
  const wave = queue.slice(start, end);
  if (waveWidth && start >= queue.length) return inFlight ? { kind: 'wait' } : { kind: 'done' };
  if (wave.every((t) => t.ended && !t.inFlight)) {
    if (waveWidth) return { kind: 'close', wave: closedWaves };
    return inFlight ? { kind: 'wait' } : { kind: 'done' };
  }
  const positions: number[] = [];
  for (let i = start; i < end && inFlight + positions.length < slots; i++) {
    const task = queue[i];
    if (!task || task.ended) continue;
    if (task.barrier) {
      const earlierOpen = queue.slice(0, i).some((t) => !t.ended || t.inFlight);
      if (!task.inFlight && !earlierOpen && !positions.length) positions.push(i);
      break;
    }
    if (task.inFlight) continue;
    positions.push(i);
  }
  if (!positions.length) return { kind: 'wait' };
  const opensWave = !wave.some((t) => t.touched || t.inFlight);
  return { kind: 'start', positions, opensWave };
}
