/**
 * The Generate estimate's speed, as the worker resolves it: entered rates, else this device's
 * "Test this model" measurement of the project's default model (kept in settings), else defaults.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { EngineConfig } from '$lib/core/engine-config';
import { DEFAULT_SPEEDS, modelSpeedKey } from '$lib/core/speed';
import { createProject, setProjectModels } from '$lib/db/projects';
import { getModelSpeed, putModelSpeed, putSetting } from '$lib/db/settings';
import { estimateSpeed } from '$lib/worker/synthesis-service';
import { closeTestDbs, openTestDb } from '../../helpers/db';

afterEach(closeTestDbs);

const gguf: EngineConfig = {
  kind: 'wllama',
  model: 'tiny.gguf',
  source: { type: 'local', fileName: 'tiny.gguf' },
};

describe('estimateSpeed', () => {
  it("uses the default model's measured rates on this device, else the stated defaults", async () => {
    const db = await openTestDb();
    const project = await createProject(db, 'Speed');
    // No model yet: WebGPU defaults.
    expect(await estimateSpeed(db, project.id, {})).toMatchObject({
      source: 'default',
      decodeTokensPerSecond: DEFAULT_SPEEDS.webgpu.decode,
    });
    await setProjectModels(db, project.id, { defaultModel: gguf });
    expect(await estimateSpeed(db, project.id, {})).toMatchObject({
      source: 'default',
      prefillTokensPerSecond: DEFAULT_SPEEDS.cpu.prefill,
      decodeTokensPerSecond: DEFAULT_SPEEDS.cpu.decode,
    });

    await putModelSpeed(db, {
      v: 1,
      engineKey: 'wllama:local/tiny.gguf',
      backend: 'cpu',
      backendLabel: 'CPU (1 thread)',
      prefillTokensPerSecond: 812.5,
      decodeTokensPerSecond: 95.2,
      method: 'engine',
      measuredAt: 0,
    });
    const measured = await estimateSpeed(db, project.id, {});
    expect(measured).toMatchObject({
      source: 'measured',
      prefillTokensPerSecond: 812.5,
      decodeTokensPerSecond: 95.2,
    });
    expect(measured.note).toMatch(/^measured on this device by Test this model \(CPU \(1 thread\)/);
    // What the user typed wins.
    expect(await estimateSpeed(db, project.id, { tokensPerSecond: 5 })).toMatchObject({
      source: 'entered',
      prefillTokensPerSecond: 812.5,
      decodeTokensPerSecond: 5,
    });
  });

  it('ignores an unreadable stored speed instead of failing the estimate', async () => {
    const db = await openTestDb();
    await putSetting(db, modelSpeedKey('wllama:local/tiny.gguf'), { decode: 'fast' });
    expect(await getModelSpeed(db, 'wllama:local/tiny.gguf')).toBeUndefined();
  });
});
