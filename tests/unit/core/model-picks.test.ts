import { describe, expect, it } from 'vitest';
import {
  DEVICE_MEMORY_CAP_GB,
  MODEL_PICKS,
  ggufMemoryMB,
  recommendModels,
  suitedRoles,
  type DeviceFacts,
  type PickVerdict,
} from '$lib/core/model-picks';
import { allPrebuiltModels } from '$lib/engines/webllm-catalog';

const catalog = allPrebuiltModels();

function device(overrides: Partial<DeviceFacts> & { f16?: boolean; gpu?: boolean }): DeviceFacts {
  const gpu = overrides.gpu ?? true;
  return {
    webgpu: { adapterFound: gpu, isFallback: false, shaderF16: overrides.f16 ?? gpu },
    gguf: overrides.gguf ?? {
      webgpu: gpu && (overrides.f16 ?? gpu),
      reason: gpu ? 'WebGPU: …' : 'CPU: no WebGPU adapter.',
    },
    deviceMemoryGB: 'deviceMemoryGB' in overrides ? overrides.deviceMemoryGB : 8,
    ...(overrides.webgpu ? { webgpu: overrides.webgpu } : {}),
  };
}

const byEngine = (verdicts: PickVerdict[], engine: 'webllm' | 'wllama') =>
  verdicts.filter((v) => v.pick.engine === engine);
const find = (verdicts: PickVerdict[], engine: 'webllm' | 'wllama', family: string) => {
  const v = verdicts.find((x) => x.pick.engine === engine && x.pick.family === family);
  if (!v) throw new Error(`no ${engine} ${family}`);
  return v;
};

describe('MODEL_PICKS', () => {
  it("names only web-llm ids that web-llm 0.2.86's prebuilt list contains, both variants", () => {
    const ids = new Set(catalog.map((m) => m.id));
    const webllm = MODEL_PICKS.filter((p) => p.engine === 'webllm');
    expect(webllm.length).toBeGreaterThan(0);
    for (const pick of webllm) {
      expect(ids, pick.ids.f16).toContain(pick.ids.f16);
      expect(ids, pick.ids.f32).toContain(pick.ids.f32);
      expect(pick.ids.f16).toMatch(/q4f16/);
      expect(pick.ids.f32).toMatch(/q4f32/);
    }
  });

  it('names GGUF files on the Hub under the 2 GB single-file limit of wllama', () => {
    for (const pick of MODEL_PICKS) {
      if (pick.engine !== 'wllama') continue;
      expect(pick.repo).toMatch(/^[\w.-]+\/[\w.-]+-GGUF$/);
      expect(pick.file).toMatch(/\.gguf$/);
      expect(pick.approxBytes).toBeLessThan(2 * 1024 ** 3);
      expect(pick.sizeSource).not.toBe('');
    }
  });
});

describe('suitedRoles', () => {
  it('keeps judges and the annotator for ~3B and up, attack roles for ~1B and up', () => {
    expect(suitedRoles(0.5)).toEqual(['violator', 'target']);
    expect(suitedRoles(1.5)).toEqual(['planner', 'attacker', 'defender', 'violator', 'target']);
    expect(suitedRoles(3)).toEqual([
      'annotator',
      'planner',
      'attacker',
      'defender',
      'safetyJudge',
      'qualityJudge',
      'violator',
      'target',
    ]);
  });
});

describe('recommendModels', () => {
  it('without WebGPU: GGUF on the CPU fits, every web-llm pick says why not', () => {
    const verdicts = recommendModels(device({ gpu: false }), catalog);
    for (const v of byEngine(verdicts, 'webllm')) {
      expect(v.fit).toBe('no');
      expect(v.why).toMatch(/No WebGPU adapter/);
    }
    const gguf = byEngine(verdicts, 'wllama');
    expect(gguf.every((v) => v.fit === 'yes' && v.runsOn === 'GGUF on CPU (wllama)')).toBe(true);
    // Fitting picks first, the largest first.
    expect(verdicts[0]!.pick.engine).toBe('wllama');
    expect(verdicts[0]!.pick.family).toBe('SmolLM2-1.7B-Instruct');
    expect(verdicts.at(-1)!.fit).toBe('no');
    const url = verdicts[0]!.config;
    expect(url).toMatchObject({
      kind: 'wllama',
      source: {
        type: 'url',
        url: 'https://huggingface.co/HuggingFaceTB/SmolLM2-1.7B-Instruct-GGUF/resolve/main/smollm2-1.7b-instruct-q4_k_m.gguf',
      },
    });
  });

  it('a software fallback adapter does not count as a GPU for web-llm', () => {
    const facts = device({});
    facts.webgpu = { adapterFound: true, isFallback: true, shaderF16: false };
    const v = find(recommendModels(facts, catalog), 'webllm', 'Qwen2.5-0.5B-Instruct');
    expect(v.fit).toBe('no');
    expect(v.why).toMatch(/software fallback/);
  });

  it('WebGPU without shader-f16 picks the f32 variant with its larger VRAM need', () => {
    const noF16 = recommendModels(device({ f16: false, deviceMemoryGB: 8 }), catalog);
    const withF16 = recommendModels(device({ f16: true, deviceMemoryGB: 8 }), catalog);
    const a = find(noF16, 'webllm', 'Qwen2.5-1.5B-Instruct');
    const b = find(withF16, 'webllm', 'Qwen2.5-1.5B-Instruct');
    expect(a.model).toBe('Qwen2.5-1.5B-Instruct-q4f32_1-MLC');
    expect(b.model).toBe('Qwen2.5-1.5B-Instruct-q4f16_1-MLC');
    expect(a.memoryMB).toBeGreaterThan(b.memoryMB!);
    expect(a.why).toMatch(/shader-f16/);
    expect(a.fit).toBe('yes');
    // GGUF cannot use this adapter (llama.cpp's WebGPU backend needs shader-f16): CPU.
    expect(find(noF16, 'wllama', 'Qwen2.5-1.5B-Instruct').runsOn).toBe('GGUF on CPU (wllama)');
    // VRAM and download come from web-llm's list, not from this module.
    const record = catalog.find((m) => m.id === a.model)!;
    expect(a.memoryMB).toBe(record.vramMB);
    expect(a.downloadBytes).toBe(record.downloadBytes);
  });

  it('small memory: only the small models fit, the rest say how much they need', () => {
    const verdicts = recommendModels(device({ deviceMemoryGB: 2 }), catalog);
    // Half of 2 GB: 1024 MB. Llama-3.2-1B q4f16 needs 879 MB; Qwen2.5-1.5B q4f16 1630 MB.
    expect(find(verdicts, 'webllm', 'Llama-3.2-1B-Instruct').fit).toBe('yes');
    const big = find(verdicts, 'webllm', 'Qwen2.5-1.5B-Instruct');
    expect(big.fit).toBe('no');
    expect(big.why).toMatch(/Needs about 1\.6 GB of memory; this device has about 2 GB/);
    expect(find(verdicts, 'wllama', 'Qwen2.5-0.5B-Instruct').fit).toBe('yes');
    expect(find(verdicts, 'wllama', 'SmolLM2-1.7B-Instruct').fit).toBe('no');
    // What fits comes first.
    const firstNo = verdicts.findIndex((v) => v.fit === 'no');
    expect(verdicts.slice(firstNo).every((v) => v.fit === 'no')).toBe(true);
  });

  it('big memory: at the browser cap, a model beyond half of it is "maybe", not "no"', () => {
    const verdicts = recommendModels(
      device({ f16: false, deviceMemoryGB: DEVICE_MEMORY_CAP_GB }),
      catalog,
    );
    for (const v of verdicts) expect(v.fit).not.toBe('no');
    const phi = find(verdicts, 'webllm', 'Phi-3.5-mini-instruct');
    expect(phi.model).toBe('Phi-3.5-mini-instruct-q4f32_1-MLC');
    expect(phi.fit).toBe('maybe');
    expect(phi.why).toMatch(/8 GB or more/);
    expect(find(verdicts, 'webllm', 'Llama-3.2-3B-Instruct').fit).toBe('yes');
    expect(verdicts[0]!.roles).toContain('safetyJudge');
  });

  it('unknown device memory: "maybe" with the need stated', () => {
    const v = find(
      recommendModels(device({ deviceMemoryGB: undefined }), catalog),
      'wllama',
      'Qwen2.5-1.5B-Instruct',
    );
    expect(v.fit).toBe('maybe');
    expect(v.why).toMatch(/does not say how much the device has/);
    expect(v.runsOn).toBe('GGUF on WebGPU (wllama)');
  });

  it('a web-llm id missing from the catalog does not fit', () => {
    const v = find(recommendModels(device({}), []), 'webllm', 'Qwen2.5-0.5B-Instruct');
    expect(v.fit).toBe('no');
    expect(v.why).toMatch(/not in this web-llm version's prebuilt list/);
  });
});

describe('ggufMemoryMB', () => {
  it('adds ~20% and 256 MB for the KV cache and compute buffers', () => {
    expect(ggufMemoryMB(1024 * 2 ** 20)).toBe(1485);
  });
});
