import { describe, expect, it, vi } from 'vitest';
import {
  probeWebGpu,
  type GpuAdapterInfoLike,
  type GpuAdapterLike,
  type GpuLike,
} from '$lib/engines/webgpu-report';

const ROOMY_LIMITS = {
  maxBufferSize: 2 ** 31,
  maxStorageBufferBindingSize: 2 ** 31,
  maxComputeWorkgroupStorageSize: 32768,
  maxComputeInvocationsPerWorkgroup: 1024,
  maxStorageBuffersPerShaderStage: 10,
};

function fakeAdapter(
  options: {
    features?: string[];
    limits?: Partial<typeof ROOMY_LIMITS>;
    info?: GpuAdapterInfoLike;
    isFallbackAdapter?: boolean;
    requestAdapterInfo?: () => Promise<GpuAdapterInfoLike>;
  } = {},
): GpuAdapterLike {
  return {
    features: new Set(options.features ?? []),
    limits: { ...ROOMY_LIMITS, ...options.limits },
    info: options.info,
    isFallbackAdapter: options.isFallbackAdapter,
    requestAdapterInfo: options.requestAdapterInfo,
  };
}

function fakeGpu(adapter: GpuAdapterLike | null) {
  const requestAdapter = vi.fn(async () => adapter);
  return { gpu: { requestAdapter } satisfies GpuLike, requestAdapter };
}

/** What Chromium 156 headless with --enable-unsafe-webgpu and no GPU reports (adapter.info). */
const SWIFTSHADER_INFO: GpuAdapterInfoLike = {
  vendor: 'google',
  architecture: 'swiftshader',
  device: '',
  description: '',
  isFallbackAdapter: true,
};

describe('probeWebGpu', () => {
  it('reports no WebGPU API and points to the CPU engine or an endpoint', async () => {
    const report = await probeWebGpu(undefined);
    expect(report.apiPresent).toBe(false);
    expect(report.adapterFound).toBe(false);
    expect(report.shaderF16).toBe(false);
    expect(report.features).toEqual([]);
    expect(report.summary).toMatch(/^WebGPU is not available in this browser/);
    expect(report.summary).toMatch(/GGUF engine \(wllama\)/);
    expect(report.summary).toMatch(/endpoint/);
  });

  it('defaults to navigator.gpu, which Node does not have', async () => {
    const report = await probeWebGpu();
    expect(report.apiPresent).toBe(false);
  });

  it('reports an API without an adapter', async () => {
    const { gpu, requestAdapter } = fakeGpu(null);
    const report = await probeWebGpu(gpu);
    expect(requestAdapter).toHaveBeenCalledWith({ powerPreference: 'high-performance' });
    expect(report.apiPresent).toBe(true);
    expect(report.adapterFound).toBe(false);
    expect(report.summary).toMatch(/^WebGPU is not available in this browser/);
    expect(report.summary).toMatch(/no GPU adapter/);
    expect(report.summary).toMatch(/wllama/);
  });

  it('turns a rejected requestAdapter into a report, not an exception', async () => {
    const gpu: GpuLike = { requestAdapter: () => Promise.reject(new Error('GPU process crashed')) };
    const report = await probeWebGpu(gpu);
    expect(report.adapterFound).toBe(false);
    expect(report.summary).toContain('GPU process crashed');
  });

  it('flags a SwiftShader-like fallback adapter without shader-f16 as far too slow', async () => {
    const { gpu } = fakeGpu(
      fakeAdapter({
        info: SWIFTSHADER_INFO,
        features: ['float32-filterable', 'depth-clip-control'],
        limits: { maxComputeInvocationsPerWorkgroup: 256 },
      }),
    );
    const report = await probeWebGpu(gpu);
    expect(report).toMatchObject({
      apiPresent: true,
      adapterFound: true,
      isFallback: true,
      shaderF16: false,
      vendor: 'google',
      architecture: 'swiftshader',
      description: '',
      features: ['depth-clip-control', 'float32-filterable'],
    });
    expect(report.limits.maxComputeInvocationsPerWorkgroup).toBe(256);
    expect(report.summary).toMatch(/software adapter \(google swiftshader, no real GPU\)/);
    expect(report.summary).toMatch(/works but is far too slow for real models/);
    expect(report.summary).toMatch(/wllama/);
  });

  it('reads adapter.info.isFallbackAdapter (current Chromium) whatever the adapter is called', async () => {
    const { gpu } = fakeGpu(
      fakeAdapter({ info: { vendor: 'acme', description: 'Acme GPU', isFallbackAdapter: true } }),
    );
    expect((await probeWebGpu(gpu)).isFallback).toBe(true);
  });

  it('reads the legacy adapter.isFallbackAdapter flag', async () => {
    const { gpu } = fakeGpu(
      fakeAdapter({ info: { vendor: 'acme', description: 'Acme GPU' }, isFallbackAdapter: true }),
    );
    expect((await probeWebGpu(gpu)).isFallback).toBe(true);
  });

  it('recognises a software adapter by name when no flag is set', async () => {
    const { gpu } = fakeGpu(
      fakeAdapter({
        info: { vendor: 'mesa', architecture: '', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' },
      }),
    );
    expect((await probeWebGpu(gpu)).isFallback).toBe(true);
  });

  it('reports a real adapter with shader-f16: every variant can run', async () => {
    const { gpu } = fakeGpu(
      fakeAdapter({
        info: {
          vendor: 'nvidia',
          architecture: 'ampere',
          device: '',
          description: 'NVIDIA GeForce RTX 3060',
          isFallbackAdapter: false,
        },
        features: ['subgroups', 'shader-f16', 'timestamp-query'],
      }),
    );
    const report = await probeWebGpu(gpu);
    expect(report.isFallback).toBe(false);
    expect(report.shaderF16).toBe(true);
    expect(report.features).toEqual(['shader-f16', 'subgroups', 'timestamp-query']);
    expect(report.limits).toEqual({
      maxBufferSize: 2 ** 31,
      maxStorageBufferBindingSize: 2 ** 31,
      maxComputeWorkgroupStorageSize: 32768,
      maxComputeInvocationsPerWorkgroup: 1024,
    });
    expect(report.summary).toContain('nvidia ampere (NVIDIA GeForce RTX 3060)');
    expect(report.summary).toMatch(/with shader-f16/);
    expect(report.summary).not.toMatch(/only f32/);
  });

  it('reports a real adapter without shader-f16: only f32 variants', async () => {
    const { gpu } = fakeGpu(
      fakeAdapter({ info: { vendor: 'intel', architecture: 'gen-12lp', description: '' } }),
    );
    const report = await probeWebGpu(gpu);
    expect(report.isFallback).toBe(false);
    expect(report.shaderF16).toBe(false);
    expect(report.summary).toMatch(/only f32 model variants \(q4f32_1, q0f32\) can run/);
  });

  it('falls back to requestAdapterInfo() on browsers without adapter.info', async () => {
    const requestAdapterInfo = vi.fn(async () => ({ vendor: 'apple', architecture: 'metal-3' }));
    const { gpu } = fakeGpu(fakeAdapter({ requestAdapterInfo, features: ['shader-f16'] }));
    const report = await probeWebGpu(gpu);
    expect(requestAdapterInfo).toHaveBeenCalledOnce();
    expect(report.vendor).toBe('apple');
    expect(report.architecture).toBe('metal-3');
  });

  it('warns when the limits are below what web-llm requests', async () => {
    const { gpu } = fakeGpu(
      fakeAdapter({
        info: { vendor: 'arm', description: 'Mali-G78' },
        limits: { maxStorageBufferBindingSize: 64 * 1024 * 1024 },
      }),
    );
    const report = await probeWebGpu(gpu);
    expect(report.summary).toMatch(/limits are below what web-llm needs/);
    expect(report.summary).toMatch(/maxStorageBufferBindingSize/);
  });
});
