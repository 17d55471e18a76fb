import { describe, expect, it } from 'vitest';
import { JobRegistry } from '$lib/worker/jobs';

describe('JobRegistry', () => {
  it('cancel(id) aborts the signal of the running job, and only that one', async () => {
    const jobs = new JobRegistry();
    let release!: () => void;
    const seen: AbortSignal[] = [];
    const a = jobs.run('a', (signal) => {
      seen.push(signal);
      return new Promise<void>((resolve) => (release = resolve));
    });
    const b = jobs.run('b', async (signal) => {
      seen.push(signal);
    });
    await b;
    expect(jobs.active).toEqual(['a']);
    expect(jobs.cancel('a')).toBe(true);
    expect(seen[0]?.aborted).toBe(true);
    expect(seen[1]?.aborted).toBe(false);
    release();
    await a;
    expect(jobs.active).toEqual([]);
    expect(jobs.cancel('a')).toBe(false);
  });

  it('a new job with the same id aborts the previous one', async () => {
    const jobs = new JobRegistry();
    let first: AbortSignal | undefined;
    const p = jobs.run('x', (signal) => {
      first = signal;
      return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
    });
    await jobs.run('x', async () => undefined);
    await p;
    expect(first?.aborted).toBe(true);
  });
});
