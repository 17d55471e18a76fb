import { describe, expect, it } from 'vitest';
import {
  BATCH_WAVE_WIDTH,
  expectedInFlight,
  nextDecision,
  waveBounds,
  waveOf,
  waveWidthFor,
  type QueuedTask,
  type ScheduleDecision,
  type ScheduleInput,
} from '$lib/core/run-schedule';
import type { EngineConfig } from '$lib/core/engine-config';

const open = (n: number): QueuedTask[] =>
  Array.from({ length: n }, () => ({ ended: false, inFlight: false, touched: false }));

/**
 * Drives the scheduler to the end like the executor does: starts what it says, and finishes the
 * in-flight task `pick` chooses (a stand-in for "whichever reply arrives first"). Returns the
 * order tasks started in, the waves closed, and the most tasks ever in flight.
 */
function simulate(
  tasks: number,
  concurrency: number,
  waveWidth: number | undefined,
  pick: (inFlight: number[]) => number,
  barriers: number[] = [],
) {
  const queue = open(tasks).map((t, i) => ({
    ...t,
    ...(barriers.includes(i) ? { barrier: true } : {}),
  }));
  const input: ScheduleInput = {
    queue,
    concurrency,
    ...(waveWidth ? { waveWidth } : {}),
    closedWaves: 0,
  };
  const started: number[] = [];
  const closed: number[] = [];
  const startedWhileOpen: { task: number; closedWaves: number }[] = [];
  let maxInFlight = 0;
  for (let guard = 0; guard < 10_000; guard++) {
    const decision: ScheduleDecision = nextDecision(input);
    if (decision.kind === 'done') return { started, closed, maxInFlight, startedWhileOpen };
    if (decision.kind === 'close') {
      closed.push(decision.wave);
      input.closedWaves++;
    } else if (decision.kind === 'start') {
      for (const p of decision.positions) {
        const t = queue[p]!;
        t.inFlight = true;
        t.touched = true;
        started.push(p);
        startedWhileOpen.push({ task: p, closedWaves: input.closedWaves });
      }
      maxInFlight = Math.max(maxInFlight, queue.filter((t) => t.inFlight).length);
    } else {
      const flying = queue.flatMap((t, i) => (t.inFlight ? [i] : []));
      expect(flying.length).toBeGreaterThan(0);
      const done = queue[pick(flying)]!;
      done.inFlight = false;
      done.ended = true;
    }
  }
  throw new Error('the scheduler never finished');
}

describe('run schedule', () => {
  it('numbers waves by queue position, the last one shorter', () => {
    expect(waveOf(0, 8)).toBe(0);
    expect(waveOf(7, 8)).toBe(0);
    expect(waveOf(8, 8)).toBe(1);
    expect(waveOf(100, undefined)).toBe(0);
    expect(waveBounds(2, 8, 20)).toEqual({ start: 16, end: 20 });
    expect(waveBounds(0, undefined, 20)).toEqual({ start: 0, end: 20 });
  });

  it('starts tasks in queue order, at most K at a time', () => {
    for (const k of [1, 3, 8]) {
      const run = simulate(20, k, undefined, (f) => f[f.length - 1]!);
      expect(run.started).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(run.maxInFlight).toBe(k);
    }
  });

  it('starts no task of a wave before the previous wave closed, and closes every wave in order', () => {
    for (const k of [1, 4, 16]) {
      // Replies arrive newest first: the worst case for the oldest task of a wave.
      const run = simulate(20, k, 8, (f) => f[f.length - 1]!);
      expect(run.closed).toEqual([0, 1, 2]);
      for (const { task, closedWaves } of run.startedWhileOpen)
        expect(closedWaves, `task ${task} at K=${k}`).toBe(waveOf(task, 8));
      expect(run.maxInFlight).toBe(Math.min(k, 8));
    }
  });

  it('opens a wave only once: budgets are checked before its first task, never mid-wave', () => {
    const queue = open(6);
    const first = nextDecision({ queue, concurrency: 2, waveWidth: 3, closedWaves: 0 });
    expect(first).toEqual({ kind: 'start', positions: [0, 1], opensWave: true });
    queue[0]!.inFlight = queue[0]!.touched = true;
    queue[1]!.inFlight = queue[1]!.touched = true;
    expect(nextDecision({ queue, concurrency: 2, waveWidth: 3, closedWaves: 0 })).toEqual({
      kind: 'wait',
    });
    queue[0]!.inFlight = false;
    queue[0]!.ended = true;
    expect(nextDecision({ queue, concurrency: 2, waveWidth: 3, closedWaves: 0 })).toEqual({
      kind: 'start',
      positions: [2],
      opensWave: false,
    });
    // After a reload mid-wave (task 1 touched, nothing in flight) the wave is still open.
    queue[1]!.inFlight = false;
    expect(nextDecision({ queue, concurrency: 4, waveWidth: 3, closedWaves: 0 })).toEqual({
      kind: 'start',
      positions: [1, 2],
      opensWave: false,
    });
  });

  it('closes a finished wave that a crash left unclosed before starting the next', () => {
    const queue = open(6).map((t, i) => ({ ...t, ended: i < 3, touched: i < 3 }));
    expect(nextDecision({ queue, concurrency: 8, waveWidth: 3, closedWaves: 0 })).toEqual({
      kind: 'close',
      wave: 0,
    });
    expect(nextDecision({ queue, concurrency: 8, waveWidth: 3, closedWaves: 1 })).toEqual({
      kind: 'start',
      positions: [3, 4, 5],
      opensWave: true,
    });
  });

  it('runs a barrier task alone, after every earlier task, and nothing after it before it ends', () => {
    const run = simulate(10, 4, undefined, (f) => f[0]!, [6]);
    const barrierAt = run.started.indexOf(6);
    expect(run.started.slice(0, barrierAt)).toEqual([0, 1, 2, 3, 4, 5]);
    const queue = open(8).map((t, i) => ({
      ...t,
      ended: i < 6,
      ...(i === 6 ? { barrier: true } : {}),
    }));
    queue[6]!.inFlight = true;
    expect(nextDecision({ queue, concurrency: 4, closedWaves: 0 })).toEqual({ kind: 'wait' });
  });

  it('is done only when every task ended and every wave closed', () => {
    const queue = open(4).map((t) => ({ ...t, ended: true, touched: true }));
    expect(nextDecision({ queue, concurrency: 2, waveWidth: 4, closedWaves: 0 }).kind).toBe(
      'close',
    );
    expect(nextDecision({ queue, concurrency: 2, waveWidth: 4, closedWaves: 1 }).kind).toBe('done');
    expect(nextDecision({ queue, concurrency: 2, closedWaves: 0 }).kind).toBe('done');
    expect(nextDecision({ queue: [], concurrency: 2, waveWidth: 4, closedWaves: 0 }).kind).toBe(
      'done',
    );
  });

  it('plans waves from the engines a run uses, never from their concurrency', () => {
    const endpoint = (concurrency: number) =>
      ({ kind: 'openai', baseUrl: 'http://127.0.0.1:1/v1', model: 'm', concurrency }) as const;
    expect(waveWidthFor([endpoint(1)])).toBe(BATCH_WAVE_WIDTH);
    expect(waveWidthFor([endpoint(16)])).toBe(BATCH_WAVE_WIDTH);
    expect(waveWidthFor([{ kind: 'webllm', model: 'x' }])).toBe(1);
    expect(waveWidthFor([{ kind: 'webllm', model: 'x' }, endpoint(4)])).toBe(BATCH_WAVE_WIDTH);
  });
});

describe('expectedInFlight', () => {
  const endpoint = (concurrency: number, replicas: string[] = []): EngineConfig => ({
    kind: 'openai',
    baseUrl: 'http://127.0.0.1:8000/v1',
    model: 'm',
    concurrency,
    replicas,
  });
  const browser: EngineConfig = { kind: 'webllm', model: 'x' };

  it('is 1 for in-browser engines', () => {
    expect(expectedInFlight([browser], 100, 1)).toBe(1);
  });

  it("takes the endpoint's parallel requests, capped by the browser's 6 connections per origin", () => {
    expect(expectedInFlight([endpoint(4)], 100, BATCH_WAVE_WIDTH)).toBe(4);
    // Every task calls every role: the engine with the fewest at once bounds the rest.
    expect(expectedInFlight([endpoint(4), endpoint(2)], 100, BATCH_WAVE_WIDTH)).toBe(2);
    expect(expectedInFlight([browser, endpoint(4)], 100, BATCH_WAVE_WIDTH)).toBe(1);
    expect(expectedInFlight([endpoint(32)], 100, BATCH_WAVE_WIDTH)).toBe(6);
    // A second port is a second origin: 12 connections.
    expect(expectedInFlight([endpoint(32, ['http://127.0.0.1:8001/v1'])], 100, 64)).toBe(12);
  });

  it('never exceeds the wave width or the task count', () => {
    expect(expectedInFlight([endpoint(8)], 3, BATCH_WAVE_WIDTH)).toBe(3);
    expect(expectedInFlight([endpoint(8)], 100, 2)).toBe(2);
  });
});
