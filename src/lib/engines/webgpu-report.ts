/**
 * What this browser's WebGPU can do, in plain data for the Models screen and for web-llm's
 * preflight. A pure function of the injected `gpu` object, so unit tests drive it with fakes.
 *
 * TypeScript's DOM lib has no WebGPU types (they live in @webgpu/types, which we don't ship), so
 * the few members we read are typed structurally below.
 */
import type { WebGpuReport } from './types';

/** The members of `GPUAdapterInfo` we read (Chromium also has subgroup sizes). */
export interface GpuAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  /** Chromium ≥ 140 (and the current spec) report the fallback flag here. */
  isFallbackAdapter?: boolean;
}

/** The members of `GPUAdapter` we read. */
export interface GpuAdapterLike {
  readonly features: { has(feature: string): boolean; forEach(cb: (value: string) => void): void };
  readonly limits: Readonly<Record<string, unknown>>;
  /** Chromium ≥ 121. */
  readonly info?: GpuAdapterInfoLike;
  /** Older Chromium and the pre-2024 spec put the fallback flag on the adapter itself. */
  readonly isFallbackAdapter?: boolean;
  /** Chromium < 121; removed since. */
  requestAdapterInfo?: () => Promise<GpuAdapterInfoLike>;
}

/** The member of `GPU` (navigator.gpu) we call. */
export interface GpuLike {
  requestAdapter(options?: {
    powerPreference?: 'high-performance' | 'low-power';
  }): Promise<GpuAdapterLike | null>;
}

/** `navigator.gpu` of this page or worker, when there is one (never in Node). */
export function defaultGpu(): GpuLike | undefined {
  if (typeof navigator === 'undefined') return undefined;
  return (navigator as Navigator & { gpu?: GpuLike }).gpu ?? undefined;
}

/**
 * Minimums web-llm's runtime asks for when it requests the device (see `detectGPUDevice` in
 * @mlc-ai/web-llm): below them loading fails even though an adapter exists.
 */
const WEBLLM_MINIMUM_LIMITS = {
  maxStorageBufferBindingSize: 128 * 1024 * 1024,
  maxBufferSize: 256 * 1024 * 1024,
  maxComputeWorkgroupStorageSize: 32 * 1024,
  maxStorageBuffersPerShaderStage: 10,
} as const;

/** Software rasterisers that expose WebGPU: usable for tests, hopeless for real models. */
const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|\bwarp\b|microsoft basic render/i;

const NO_WEBGPU_ADVICE =
  'Use the GGUF engine (wllama), which runs on the CPU without WebGPU, or an OpenAI-compatible endpoint (e.g. Ollama, LM Studio) instead.';

/**
 * Probes WebGPU: requests a high-performance adapter and reads its identity, the `shader-f16`
 * feature and the limits that matter for LLMs. Never throws: every failure becomes a report
 * whose `summary` says what works here and what to do otherwise.
 */
export async function probeWebGpu(gpu: GpuLike | undefined = defaultGpu()): Promise<WebGpuReport> {
  if (!gpu || typeof gpu.requestAdapter !== 'function') {
    return emptyReport(
      false,
      `WebGPU is not available in this browser, so the GPU engine (web-llm) cannot run here. ${NO_WEBGPU_ADVICE} (WebGPU needs a recent Chrome or Edge; in other browsers it may have to be enabled.)`,
    );
  }
  let adapter: GpuAdapterLike | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (error) {
    // requestAdapter rejects only on invalid options or a broken implementation; say which.
    const reason = error instanceof Error ? error.message : String(error);
    return emptyReport(
      true,
      `WebGPU is not available in this browser: asking for a GPU adapter failed (${reason}). ${NO_WEBGPU_ADVICE}`,
    );
  }
  if (!adapter) {
    return emptyReport(
      true,
      `WebGPU is not available in this browser: it offers no GPU adapter (no usable GPU, a blocklisted driver, or WebGPU switched off). ${NO_WEBGPU_ADVICE}`,
    );
  }

  const info = await readAdapterInfo(adapter);
  const vendor = info.vendor ?? '';
  const architecture = info.architecture ?? '';
  const device = info.device ?? '';
  const description = info.description ?? '';
  const isFallback =
    info.isFallbackAdapter === true ||
    adapter.isFallbackAdapter === true ||
    SOFTWARE_ADAPTER.test(`${vendor} ${architecture} ${device} ${description}`);
  const features: string[] = [];
  adapter.features.forEach((feature) => features.push(feature));
  features.sort();
  const shaderF16 = adapter.features.has('shader-f16');
  const limits = {
    maxBufferSize: readLimit(adapter, 'maxBufferSize'),
    maxStorageBufferBindingSize: readLimit(adapter, 'maxStorageBufferBindingSize'),
    maxComputeWorkgroupStorageSize: readLimit(adapter, 'maxComputeWorkgroupStorageSize'),
    maxComputeInvocationsPerWorkgroup: readLimit(adapter, 'maxComputeInvocationsPerWorkgroup'),
  };
  const name = describeAdapter(vendor, architecture, device, description);

  let summary: string;
  if (isFallback) {
    summary = `WebGPU works here only through a software adapter (${name || 'SwiftShader'}, no real GPU): it works but is far too slow for real models. ${NO_WEBGPU_ADVICE}`;
  } else {
    summary = shaderF16
      ? `WebGPU is available on ${name || 'this GPU'} with shader-f16: every model variant can run (f16 variants are smaller and faster).`
      : `WebGPU is available on ${name || 'this GPU'}, but without shader-f16: only f32 model variants (q4f32_1, q0f32) can run.`;
  }
  const tooSmall = limitsBelowWebLlmMinimum(adapter);
  if (tooSmall.length > 0) {
    summary += ` Its limits are below what web-llm needs (${tooSmall.join(', ')}), so loading will likely fail. ${NO_WEBGPU_ADVICE}`;
  }

  return {
    apiPresent: true,
    adapterFound: true,
    isFallback,
    vendor,
    architecture,
    device,
    description,
    shaderF16,
    limits,
    features,
    summary,
  };
}

async function readAdapterInfo(adapter: GpuAdapterLike): Promise<GpuAdapterInfoLike> {
  if (adapter.info) return adapter.info;
  if (typeof adapter.requestAdapterInfo === 'function') {
    try {
      return await adapter.requestAdapterInfo();
    } catch {
      // Identity is cosmetic; a report without it is still useful.
    }
  }
  return {};
}

function readLimit(adapter: GpuAdapterLike, name: string): number {
  const value = adapter.limits[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function limitsBelowWebLlmMinimum(adapter: GpuAdapterLike): string[] {
  const problems: string[] = [];
  for (const [name, minimum] of Object.entries(WEBLLM_MINIMUM_LIMITS)) {
    const value = adapter.limits[name];
    // An absent limit is unknown, not too small.
    if (typeof value === 'number' && value < minimum)
      problems.push(`${name} ${value} < ${minimum}`);
  }
  return problems;
}

/** "nvidia ampere (NVIDIA GeForce RTX 3060)"-style label from whatever the browser disclosed. */
function describeAdapter(
  vendor: string,
  architecture: string,
  device: string,
  description: string,
): string {
  const head = [vendor, architecture].filter(Boolean).join(' ');
  const detail = description || device;
  if (head && detail && !detail.toLowerCase().includes(head.toLowerCase())) {
    return `${head} (${detail})`;
  }
  return detail || head;
}

function emptyReport(apiPresent: boolean, summary: string): WebGpuReport {
  return {
    apiPresent,
    adapterFound: false,
    isFallback: false,
    vendor: '',
    architecture: '',
    device: '',
    description: '',
    shaderF16: false,
    limits: {
      maxBufferSize: 0,
      maxStorageBufferBindingSize: 0,
      maxComputeWorkgroupStorageSize: 0,
      maxComputeInvocationsPerWorkgroup: 0,
    },
    features: [],
    summary,
  };
}
