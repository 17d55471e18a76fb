/**
 * How many layers of a GGUF model llama.cpp (wllama) puts on the GPU: a pure function of the
 * user's setting, what this browser offers, and the model's tensor sizes, so it is unit-tested.
 *
 * What wllama 3.13's WebGPU backend needs (measured, see tests/e2e/webgpu-swiftshader-wllama):
 * - JSPI (`WebAssembly.Suspending`): its wasm awaits WebGPU calls through it;
 * - an adapter with `shader-f16` and `subgroups`: ggml-webgpu requests the device with both.
 *   Without `shader-f16` it registers no GPU at all and silently runs on the CPU, so we say so.
 * - every offloaded tensor fits one storage-buffer binding (`maxStorageBufferBindingSize`) and
 *   one buffer (`maxBufferSize`); WebGPU reports no VRAM size, so these limits are what we know.
 *
 * llama.cpp offloads the *last* `n_gpu_layers` repeating layers; `n_layer + 1` adds the output
 * layer (see llama-model.cpp). So a layer whose tensor is too large blocks the ones before it.
 */
import type { GpuLayersSetting } from '$lib/core/engine-config';
import type { GgufTensorSizes } from './local-models';
import type { EngineBackend, WebGpuReport } from './types';

/** What this browser offers wllama's WebGPU backend. */
export interface WebGpuCapabilities {
  /** `'Suspending' in WebAssembly` (JS Promise Integration). */
  jspi: boolean;
  /** The adapter, when one was granted. */
  adapter?: {
    description: string;
    isFallback: boolean;
    shaderF16: boolean;
    subgroups: boolean;
    maxBufferSize: number;
    maxStorageBufferBindingSize: number;
  };
  /** Why there is no adapter (no WebGPU API, or requestAdapter gave none). */
  noAdapterReason?: string;
}

/** The capabilities in a WebGPU probe's report (webgpu-report.ts), plus the JSPI check. */
export function capabilitiesFromReport(report: WebGpuReport, jspi: boolean): WebGpuCapabilities {
  if (!report.adapterFound)
    return {
      jspi,
      noAdapterReason: report.apiPresent
        ? 'the browser offers none'
        : 'this browser or context has no WebGPU',
    };
  return {
    jspi,
    adapter: {
      description: [report.vendor, report.description || report.device || report.architecture]
        .filter(Boolean)
        .join(' '),
      isFallback: report.isFallback,
      shaderF16: report.shaderF16,
      subgroups: report.features.includes('subgroups'),
      maxBufferSize: report.limits.maxBufferSize,
      maxStorageBufferBindingSize: report.limits.maxStorageBufferBindingSize,
    },
  };
}

/** Whether this JavaScript engine has JSPI, as wllama checks it. */
export function hasJspi(): boolean {
  return typeof WebAssembly !== 'undefined' && 'Suspending' in WebAssembly;
}

/** Where a model runs, in plain data for the Models screen. */
export interface OffloadChoice {
  backend: 'webgpu' | 'cpu';
  /** `n_gpu_layers` for wllama; 0 keeps it off the GPU entirely. */
  gpuLayers: number;
  /** Repeating layers + the output layer. */
  totalLayers: number;
  /** Plain-language why: which layers went where, or why the CPU. */
  reason: string;
}

/** Why wllama's WebGPU backend cannot run here at all ("CPU: …"), or undefined when it can. */
export function webGpuBlocker(caps: WebGpuCapabilities): string | undefined {
  if (!caps.jspi)
    return "CPU: this browser's WebAssembly lacks JSPI (WebAssembly.Suspending), which llama.cpp's WebGPU backend needs (Chrome/Edge 137+).";
  const adapter = caps.adapter;
  if (!adapter)
    return `CPU: no WebGPU adapter${caps.noAdapterReason ? ` (${caps.noAdapterReason})` : ''}.`;
  const missing = [!adapter.shaderF16 && 'shader-f16', !adapter.subgroups && 'subgroups'].filter(
    Boolean,
  );
  if (missing.length)
    return `CPU: the WebGPU adapter${adapter.description ? ` (${adapter.description})` : ''} lacks ${missing.join(' and ')}, which llama.cpp's WebGPU backend needs.`;
  return undefined;
}

/** Chooses `n_gpu_layers`; see the module comment. */
export function chooseGpuLayers(
  setting: GpuLayersSetting | undefined,
  caps: WebGpuCapabilities,
  sizes: GgufTensorSizes | undefined,
): OffloadChoice {
  const repeating = sizes?.layers.length ?? 0;
  const totalLayers = repeating + 1;
  const cpu = (reason: string): OffloadChoice => ({
    backend: 'cpu',
    gpuLayers: 0,
    totalLayers,
    reason,
  });
  if (setting === 'none') return cpu('CPU, as chosen (layers on GPU: none).');
  const blocker = webGpuBlocker(caps);
  if (blocker || !caps.adapter) return cpu(blocker ?? 'CPU: no WebGPU adapter.');
  const adapter = caps.adapter;
  if (!sizes || repeating === 0)
    return cpu('CPU: the model file does not say how its layers are laid out.');

  const limit = Math.min(adapter.maxBufferSize, adapter.maxStorageBufferBindingSize);
  // Trailing repeating layers whose every tensor fits one binding (offloading goes from the end).
  let fitting = 0;
  for (let i = repeating - 1; i >= 0 && sizes.layers[i]!.largestTensorBytes <= limit; i--) {
    fitting++;
  }
  const outputFits = fitting === repeating && sizes.output.largestTensorBytes <= limit;
  const possible = fitting + (outputFits ? 1 : 0);
  const wanted = setting === undefined || setting === 'auto' ? totalLayers : setting;
  const gpuLayers = Math.min(wanted, possible);
  const limitText = `${formatMiB(limit)} buffer limit`;
  if (gpuLayers <= 0)
    return cpu(
      `CPU: no layer fits the WebGPU adapter's ${limitText} (largest tensor ${formatMiB(largestTensor(sizes))}).`,
    );
  const slow = adapter.isFallback
    ? ' The adapter is a software fallback: expect it to be slow.'
    : '';
  if (gpuLayers === totalLayers)
    return {
      backend: 'webgpu',
      gpuLayers,
      totalLayers,
      reason: `WebGPU: all ${totalLayers} layers on the GPU.${slow}`,
    };
  const why =
    gpuLayers < wanted
      ? ` The rest have a tensor larger than the adapter's ${limitText}, so they stay on the CPU.`
      : ' The rest run on the CPU, as chosen.';
  return {
    backend: 'webgpu',
    gpuLayers,
    totalLayers,
    reason: `WebGPU: ${gpuLayers} of ${totalLayers} layers on the GPU.${why}${slow}`,
  };
}

function largestTensor(sizes: GgufTensorSizes): number {
  return Math.max(
    sizes.output.largestTensorBytes,
    ...sizes.layers.map((l) => l.largestTensorBytes),
  );
}

function formatMiB(bytes: number): string {
  const mib = bytes / 2 ** 20;
  return `${mib >= 10 ? Math.round(mib) : mib.toFixed(1)} MiB`;
}

/** Where a wllama model runs, as loaded: the Models screen's label and why. */
export interface WllamaBackend extends EngineBackend {
  kind: 'webgpu' | 'cpu';
  /** Layers llama.cpp reported on the GPU (0 on the CPU). */
  gpuLayers: number;
  /** Repeating layers + the output layer. */
  totalLayers: number;
}

/** N from llama.cpp's load log line "load_tensors: offloaded N/M layers to GPU". */
export function offloadedLayersIn(line: string): number | undefined {
  const match = /offloaded (\d+)\/\d+ layers to GPU/.exec(line);
  return match ? Number(match[1]) : undefined;
}

/**
 * The backend as llama.cpp reports it after loading: a planned GPU load that offloaded nothing
 * (ggml-webgpu registered no device) is the CPU, with llama.cpp's own complaint when it gave one.
 */
export function confirmOffload(
  offload: OffloadChoice,
  offloadedLayers: number | undefined,
  gpuProblem: string | undefined,
  threads: number,
): WllamaBackend {
  const { totalLayers } = offload;
  const cpuLabel = `CPU (${threads} thread${threads > 1 ? 's' : ''})`;
  if (offload.backend === 'cpu')
    return { kind: 'cpu', gpuLayers: 0, totalLayers, label: cpuLabel, detail: offload.reason };
  if (!offloadedLayers)
    return {
      kind: 'cpu',
      gpuLayers: 0,
      totalLayers,
      label: cpuLabel,
      detail: `CPU: llama.cpp put no layer on WebGPU${gpuProblem ? ` (${gpuProblem})` : ''}.`,
    };
  return {
    kind: 'webgpu',
    gpuLayers: offloadedLayers,
    totalLayers,
    label:
      offloadedLayers >= totalLayers
        ? `WebGPU (all ${totalLayers} layers)`
        : `WebGPU (${offloadedLayers} of ${totalLayers} layers) + CPU`,
    detail: offload.reason,
  };
}
