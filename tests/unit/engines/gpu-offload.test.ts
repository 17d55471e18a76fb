import { describe, expect, it } from 'vitest';
import {
  capabilitiesFromReport,
  chooseGpuLayers,
  confirmOffload,
  offloadedLayersIn,
  type OffloadChoice,
  type WebGpuCapabilities,
} from '../../../src/lib/engines/gpu-offload';
import type { GgufTensorSizes } from '../../../src/lib/engines/local-models';
import type { WebGpuReport } from '../../../src/lib/engines/types';

const MiB = 2 ** 20;

/** `n` repeating layers whose largest tensor is `layer` bytes, and an output layer. */
function model(n: number, layer: number, output: number, overrides: number[] = []) {
  const layers = Array.from({ length: n }, (_, i) => {
    const largest = overrides[i] ?? layer;
    return { bytes: largest * 7, largestTensorBytes: largest };
  });
  return { layers, output: { bytes: output, largestTensorBytes: output } } as GgufTensorSizes;
}

const gpu = (limits: Partial<{ buffer: number; binding: number }> = {}): WebGpuCapabilities => ({
  jspi: true,
  adapter: {
    description: 'nvidia RTX 3060',
    isFallback: false,
    shaderF16: true,
    subgroups: true,
    maxBufferSize: limits.buffer ?? 1024 * MiB,
    maxStorageBufferBindingSize: limits.binding ?? 1024 * MiB,
  },
});

describe('chooseGpuLayers', () => {
  const qwen = model(24, 20 * MiB, 130 * MiB);

  it('auto: every layer, output included, when every tensor fits the limits', () => {
    expect(chooseGpuLayers('auto', gpu(), qwen)).toEqual({
      backend: 'webgpu',
      gpuLayers: 25,
      totalLayers: 25,
      reason: 'WebGPU: all 25 layers on the GPU.',
    });
    expect(chooseGpuLayers(undefined, gpu(), qwen).gpuLayers).toBe(25);
  });

  it('keeps the output layer on the CPU when its tensor exceeds the binding limit', () => {
    const choice = chooseGpuLayers('auto', gpu({ binding: 128 * MiB }), qwen);
    expect(choice).toMatchObject({ backend: 'webgpu', gpuLayers: 24, totalLayers: 25 });
    expect(choice.reason).toBe(
      "WebGPU: 24 of 25 layers on the GPU. The rest have a tensor larger than the adapter's 128 MiB buffer limit, so they stay on the CPU.",
    );
  });

  it('offloads only the layers after the last one too large (llama.cpp offloads from the end)', () => {
    const big = model(10, 10 * MiB, 50 * MiB, [10 * MiB, 10 * MiB, 300 * MiB]);
    // Layer 2 is too large: layers 3..9 (7) can go, and not the output (it needs all before).
    expect(chooseGpuLayers('auto', gpu({ buffer: 256 * MiB }), big).gpuLayers).toBe(7);
    // The smaller of the two limits counts.
    expect(chooseGpuLayers('auto', gpu({ binding: 256 * MiB }), big).gpuLayers).toBe(7);
  });

  it('honours a number, clamped to what fits and to the layer count', () => {
    expect(chooseGpuLayers(10, gpu(), qwen)).toMatchObject({
      backend: 'webgpu',
      gpuLayers: 10,
      reason: 'WebGPU: 10 of 25 layers on the GPU. The rest run on the CPU, as chosen.',
    });
    expect(chooseGpuLayers(99, gpu(), qwen).gpuLayers).toBe(25);
    expect(chooseGpuLayers(99, gpu({ binding: 128 * MiB }), qwen).gpuLayers).toBe(24);
  });

  it('runs on the CPU when chosen, or when nothing fits', () => {
    expect(chooseGpuLayers('none', gpu(), qwen)).toEqual({
      backend: 'cpu',
      gpuLayers: 0,
      totalLayers: 25,
      reason: 'CPU, as chosen (layers on GPU: none).',
    });
    const huge = model(4, 600 * MiB, 900 * MiB);
    expect(chooseGpuLayers('auto', gpu({ binding: 512 * MiB }), huge)).toMatchObject({
      backend: 'cpu',
      gpuLayers: 0,
      reason:
        "CPU: no layer fits the WebGPU adapter's 512 MiB buffer limit (largest tensor 900 MiB).",
    });
  });

  it('falls back to the CPU with the reason: no JSPI, no adapter, missing features', () => {
    expect(chooseGpuLayers('auto', { ...gpu(), jspi: false }, qwen).reason).toBe(
      "CPU: this browser's WebAssembly lacks JSPI (WebAssembly.Suspending), which llama.cpp's WebGPU backend needs (Chrome/Edge 137+).",
    );
    expect(
      chooseGpuLayers('auto', { jspi: true, noAdapterReason: 'the browser offers none' }, qwen),
    ).toMatchObject({
      backend: 'cpu',
      reason: 'CPU: no WebGPU adapter (the browser offers none).',
    });
    const swiftShader: WebGpuCapabilities = {
      jspi: true,
      adapter: {
        ...gpu().adapter!,
        description: 'SwiftShader',
        shaderF16: false,
        isFallback: true,
      },
    };
    expect(chooseGpuLayers(12, swiftShader, qwen)).toMatchObject({
      backend: 'cpu',
      gpuLayers: 0,
      reason:
        "CPU: the WebGPU adapter (SwiftShader) lacks shader-f16, which llama.cpp's WebGPU backend needs.",
    });
    const neither = { ...swiftShader, adapter: { ...swiftShader.adapter!, subgroups: false } };
    expect(chooseGpuLayers('auto', neither, qwen).reason).toContain(
      'lacks shader-f16 and subgroups',
    );
    expect(chooseGpuLayers('auto', gpu(), undefined).backend).toBe('cpu');
  });

  it('warns that a software adapter is slow', () => {
    const soft = { ...gpu(), adapter: { ...gpu().adapter!, isFallback: true } };
    expect(chooseGpuLayers('auto', soft, qwen).reason).toBe(
      'WebGPU: all 25 layers on the GPU. The adapter is a software fallback: expect it to be slow.',
    );
  });
});

describe('capabilitiesFromReport', () => {
  const report: WebGpuReport = {
    apiPresent: true,
    adapterFound: true,
    isFallback: true,
    vendor: 'google',
    architecture: 'swiftshader',
    device: '',
    description: 'SwiftShader Device',
    shaderF16: false,
    limits: {
      maxBufferSize: 1024,
      maxStorageBufferBindingSize: 512,
      maxComputeWorkgroupStorageSize: 0,
      maxComputeInvocationsPerWorkgroup: 0,
    },
    features: ['subgroups', 'timestamp-query'],
    summary: '',
  };

  it('reads features and limits from the probe', () => {
    expect(capabilitiesFromReport(report, true)).toEqual({
      jspi: true,
      adapter: {
        description: 'google SwiftShader Device',
        isFallback: true,
        shaderF16: false,
        subgroups: true,
        maxBufferSize: 1024,
        maxStorageBufferBindingSize: 512,
      },
    });
  });

  it('says why there is no adapter', () => {
    expect(capabilitiesFromReport({ ...report, adapterFound: false }, false)).toEqual({
      jspi: false,
      noAdapterReason: 'the browser offers none',
    });
    expect(
      capabilitiesFromReport({ ...report, adapterFound: false, apiPresent: false }, true)
        .noAdapterReason,
    ).toBe('this browser or context has no WebGPU');
  });
});

describe('confirmOffload', () => {
  const planned: OffloadChoice = {
    backend: 'webgpu',
    gpuLayers: 25,
    totalLayers: 25,
    reason: 'WebGPU: all 25 layers on the GPU.',
  };

  it("reads llama.cpp's offload line", () => {
    expect(offloadedLayersIn('load_tensors: offloaded 25/25 layers to GPU')).toBe(25);
    expect(
      offloadedLayersIn('load_tensors: offloading 24 repeating layers to GPU'),
    ).toBeUndefined();
    expect(offloadedLayersIn('load_tensors:          CPU model buffer size =     0.44 MiB')).toBe(
      undefined,
    );
  });

  it('labels what llama.cpp confirmed: all layers, some layers + CPU', () => {
    expect(confirmOffload(planned, 25, undefined, 4)).toEqual({
      kind: 'webgpu',
      gpuLayers: 25,
      totalLayers: 25,
      label: 'WebGPU (all 25 layers)',
      detail: 'WebGPU: all 25 layers on the GPU.',
    });
    expect(confirmOffload({ ...planned, gpuLayers: 10 }, 10, undefined, 4).label).toBe(
      'WebGPU (10 of 25 layers) + CPU',
    );
  });

  it('reports the CPU when a planned GPU load offloaded nothing, with the native complaint', () => {
    expect(confirmOffload(planned, undefined, 'Failed to get a device: no f16', 1)).toEqual({
      kind: 'cpu',
      gpuLayers: 0,
      totalLayers: 25,
      label: 'CPU (1 thread)',
      detail: 'CPU: llama.cpp put no layer on WebGPU (Failed to get a device: no f16).',
    });
    expect(confirmOffload(planned, 0, undefined, 2).detail).toBe(
      'CPU: llama.cpp put no layer on WebGPU.',
    );
    const cpu = chooseGpuLayers('none', gpu(), model(2, 1, 1));
    expect(confirmOffload(cpu, undefined, undefined, 2)).toEqual({
      kind: 'cpu',
      gpuLayers: 0,
      totalLayers: 3,
      label: 'CPU (2 threads)',
      detail: 'CPU, as chosen (layers on GPU: none).',
    });
  });
});
