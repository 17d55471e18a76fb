/**
 * "Which model?": a short list of small instruct models known to work for this app, and a pure
 * verdict per device on whether each fits and which agent roles it suits. The worker gathers the
 * device facts (WebGPU probe, wllama's GPU outlook, navigator.deviceMemory) and web-llm's
 * catalog figures; this module only judges, so every device class is unit-tested.
 *
 * Sizes are never made up here: web-llm entries take their VRAM need and download estimate
 * from web-llm's own prebuilt list (passed in as `catalog`); GGUF entries state an approximate
 * size together with where the figure comes from.
 */
import type { AgentRole, EngineConfig } from './engine-config';

/** What the worker knows about this device. */
export interface DeviceFacts {
  webgpu: {
    adapterFound: boolean;
    /** A software adapter (SwiftShader): it works but is far too slow for a language model. */
    isFallback: boolean;
    shaderF16: boolean;
  };
  /** wllama's GPU outlook (`ggufBackendOutlook`): whether GGUF layers can go on WebGPU here. */
  gguf: { webgpu: boolean; reason: string };
  /**
   * `navigator.deviceMemory` in GB, where the browser offers it. Chrome rounds it down to a
   * power of two and caps it at {@link DEVICE_MEMORY_CAP_GB}, so 8 means "8 GB or more".
   */
  deviceMemoryGB?: number;
}

/** The highest value Chrome reports for `navigator.deviceMemory`. */
export const DEVICE_MEMORY_CAP_GB = 8;

/**
 * Share of the device's memory a model may take. WebGPU reports no VRAM size; on integrated GPUs
 * (most laptops) the GPU shares system RAM with the OS, the browser and this page, so we assume
 * a model can have about half of it.
 */
export const MODEL_MEMORY_SHARE = 0.5;

/** web-llm's figures for one prebuilt model (a subset of the catalog's WebLlmModelInfo). */
export interface WebLlmCatalogFacts {
  id: string;
  vramMB?: number;
  downloadBytes?: number;
}

interface PickBase {
  /** Model family, e.g. "Qwen2.5-1.5B-Instruct". */
  family: string;
  /** Nominal parameters in billions (from the model's name). */
  parametersB: number;
}

/** A web-llm family: the f16 variant where the adapter has `shader-f16`, else the f32 one. */
export interface WebLlmPick extends PickBase {
  engine: 'webllm';
  ids: { f16: string; f32: string };
}

/** A GGUF file on the Hugging Face Hub, run by wllama (llama.cpp in WebAssembly). */
export interface GgufPick extends PickBase {
  engine: 'wllama';
  repo: string;
  file: string;
  /** Approximate file size in bytes; see {@link GgufPick.sizeSource}. */
  approxBytes: number;
  /** Where {@link GgufPick.approxBytes} comes from. */
  sizeSource: string;
}

export type ModelPick = WebLlmPick | GgufPick;

/** llama.cpp's Q4_K_M averages ~4.9 bits per weight, more on small models whose embedding
 *  table is kept at higher precision; 5 bits is the honest round figure. */
const Q4_K_M_BITS = 5;
const Q4_K_M_SOURCE = 'estimate: parameters × ~5 bits per weight (Q4_K_M)';

function q4kmBytes(parametersB: number): number {
  return Math.round((parametersB * 1e9 * Q4_K_M_BITS) / 8);
}

/**
 * The list. Qwen3 is left out on purpose (it "thinks" aloud before answering, see
 * webllm-catalog.ts); Qwen2.5 and Llama 3.2 follow JSON schemas well at these sizes. GGUF
 * picks stay under wllama's 2 GB single-file limit (bigger files must be split) and the
 * 4 GB WebAssembly memory.
 */
export const MODEL_PICKS: readonly ModelPick[] = [
  {
    engine: 'webllm',
    family: 'Qwen2.5-0.5B-Instruct',
    parametersB: 0.5,
    ids: { f16: 'Qwen2.5-0.5B-Instruct-q4f16_1-MLC', f32: 'Qwen2.5-0.5B-Instruct-q4f32_1-MLC' },
  },
  {
    engine: 'webllm',
    family: 'Llama-3.2-1B-Instruct',
    parametersB: 1,
    ids: { f16: 'Llama-3.2-1B-Instruct-q4f16_1-MLC', f32: 'Llama-3.2-1B-Instruct-q4f32_1-MLC' },
  },
  {
    engine: 'webllm',
    family: 'Qwen2.5-1.5B-Instruct',
    parametersB: 1.5,
    ids: { f16: 'Qwen2.5-1.5B-Instruct-q4f16_1-MLC', f32: 'Qwen2.5-1.5B-Instruct-q4f32_1-MLC' },
  },
  {
    engine: 'webllm',
    family: 'Llama-3.2-3B-Instruct',
    parametersB: 3,
    ids: { f16: 'Llama-3.2-3B-Instruct-q4f16_1-MLC', f32: 'Llama-3.2-3B-Instruct-q4f32_1-MLC' },
  },
  {
    engine: 'webllm',
    family: 'Phi-3.5-mini-instruct',
    parametersB: 3.8,
    ids: { f16: 'Phi-3.5-mini-instruct-q4f16_1-MLC', f32: 'Phi-3.5-mini-instruct-q4f32_1-MLC' },
  },
  {
    engine: 'wllama',
    family: 'Qwen2.5-0.5B-Instruct',
    parametersB: 0.5,
    repo: 'Qwen/Qwen2.5-0.5B-Instruct-GGUF',
    file: 'qwen2.5-0.5b-instruct-q4_k_m.gguf',
    approxBytes: q4kmBytes(0.5),
    sizeSource: Q4_K_M_SOURCE,
  },
  {
    engine: 'wllama',
    family: 'Llama-3.2-1B-Instruct',
    parametersB: 1,
    repo: 'bartowski/Llama-3.2-1B-Instruct-GGUF',
    file: 'Llama-3.2-1B-Instruct-Q4_K_M.gguf',
    // Not fetched here (model hubs are unreachable from our test machines).
    approxBytes: 807_694_464,
    sizeSource: 'file size published with its SHA-256 in public download scripts; not re-checked',
  },
  {
    engine: 'wllama',
    family: 'Qwen2.5-1.5B-Instruct',
    parametersB: 1.5,
    repo: 'Qwen/Qwen2.5-1.5B-Instruct-GGUF',
    file: 'qwen2.5-1.5b-instruct-q4_k_m.gguf',
    approxBytes: 1_117_320_736,
    sizeSource: 'file size published with its SHA-256 in public download scripts; not re-checked',
  },
  {
    engine: 'wllama',
    family: 'SmolLM2-1.7B-Instruct',
    parametersB: 1.7,
    repo: 'HuggingFaceTB/SmolLM2-1.7B-Instruct-GGUF',
    file: 'smollm2-1.7b-instruct-q4_k_m.gguf',
    approxBytes: q4kmBytes(1.7),
    sizeSource: Q4_K_M_SOURCE,
  },
];

/**
 * Roles a model of this size suits. Any model can be the evaluation target (it is what you
 * measure) or the violator (writing a rule-breaking reply is the easy side). Planning attacks,
 * attacking and defending need a model that keeps to a JSON schema and a persona: ~1B and up.
 * Judging and annotating rules need the most reliability (small judges agree with anything and
 * small annotators invent rules): ~3B and up.
 */
export function suitedRoles(parametersB: number): AgentRole[] {
  const roles: AgentRole[] = [];
  if (parametersB >= 3) roles.push('annotator');
  if (parametersB >= 1) roles.push('planner', 'attacker', 'defender');
  if (parametersB >= 3) roles.push('safetyJudge', 'qualityJudge');
  roles.push('violator', 'target');
  return roles;
}

/** `yes`; `maybe` when the device does not say enough; `no` with the reason. */
export type Fit = 'yes' | 'maybe' | 'no';

export interface PickVerdict {
  pick: ModelPick;
  /** The exact model: a web-llm id, or a GGUF file name. */
  model: string;
  /** What the Models screen loads or assigns for it. */
  config: EngineConfig;
  /** "WebGPU (web-llm)", "GGUF on WebGPU", "GGUF on CPU". */
  runsOn: string;
  /** Download size in bytes, when known (an estimate; see `sizeNote`). */
  downloadBytes?: number;
  /** Where the size comes from. */
  sizeNote: string;
  /** Memory the model needs while running, in MB (estimate). */
  memoryMB?: number;
  fit: Fit;
  /** Why it does not fit, or what is uncertain or slow; '' when nothing needs saying. */
  why: string;
  roles: AgentRole[];
}

/** Context the GGUF picks load with (the wllama panel's default). */
export const GGUF_PICK_CONTEXT = 4096;

/**
 * Memory a GGUF model needs on top of its weights: the KV cache for {@link GGUF_PICK_CONTEXT}
 * tokens and llama.cpp's compute buffers. ~20% of the weights plus 256 MB covers these models
 * (KV cache at 4k context is 50–230 MB for them).
 */
export function ggufMemoryMB(fileBytes: number): number {
  return Math.round((fileBytes * 1.2) / 2 ** 20 + 256);
}

/** Judges every pick for this device; those that fit come first, larger (more capable) first. */
export function recommendModels(
  device: DeviceFacts,
  catalog: readonly WebLlmCatalogFacts[],
): PickVerdict[] {
  const verdicts = MODEL_PICKS.map((pick) =>
    pick.engine === 'webllm' ? judgeWebLlm(pick, device, catalog) : judgeGguf(pick, device),
  );
  const rank: Record<Fit, number> = { yes: 0, maybe: 1, no: 2 };
  return verdicts
    .map((v, i) => ({ v, i }))
    .sort(
      (a, b) =>
        rank[a.v.fit] - rank[b.v.fit] || b.v.pick.parametersB - a.v.pick.parametersB || a.i - b.i,
    )
    .map(({ v }) => v);
}

function judgeWebLlm(
  pick: WebLlmPick,
  device: DeviceFacts,
  catalog: readonly WebLlmCatalogFacts[],
): PickVerdict {
  const id = device.webgpu.shaderF16 ? pick.ids.f16 : pick.ids.f32;
  const facts = catalog.find((m) => m.id === id);
  const base = {
    pick,
    model: id,
    config: { kind: 'webllm', model: id } as const,
    runsOn: 'WebGPU (web-llm)',
    downloadBytes: facts?.downloadBytes,
    sizeNote: "estimate from web-llm's list: parameters × bits per weight",
    memoryMB: facts?.vramMB,
    roles: suitedRoles(pick.parametersB),
  };
  if (!device.webgpu.adapterFound)
    return {
      ...base,
      fit: 'no',
      why: 'No WebGPU adapter here; web-llm needs one.',
    };
  if (device.webgpu.isFallback)
    return {
      ...base,
      fit: 'no',
      why: 'The only WebGPU adapter is a software fallback: far too slow for a language model.',
    };
  if (!facts)
    return { ...base, fit: 'no', why: `${id} is not in this web-llm version's prebuilt list.` };
  const f32Note = device.webgpu.shaderF16
    ? ''
    : 'f32 variant: the adapter lacks shader-f16, so it needs more memory. ';
  return { ...base, ...judgeMemory(facts.vramMB, device.deviceMemoryGB, f32Note) };
}

function judgeGguf(pick: GgufPick, device: DeviceFacts): PickVerdict {
  const memoryMB = ggufMemoryMB(pick.approxBytes);
  const onGpu = device.gguf.webgpu;
  const cpuNote = onGpu ? '' : pick.parametersB >= 1.5 ? 'On the CPU: slow but works. ' : '';
  return {
    pick,
    model: pick.file,
    config: {
      kind: 'wllama',
      model: pick.file,
      source: { type: 'url', url: `https://huggingface.co/${pick.repo}/resolve/main/${pick.file}` },
      contextSize: GGUF_PICK_CONTEXT,
      gpuLayers: 'auto',
    },
    runsOn: onGpu ? 'GGUF on WebGPU (wllama)' : 'GGUF on CPU (wllama)',
    downloadBytes: pick.approxBytes,
    sizeNote: pick.sizeSource,
    memoryMB,
    roles: suitedRoles(pick.parametersB),
    ...judgeMemory(memoryMB, device.deviceMemoryGB, cpuNote),
  };
}

function judgeMemory(
  needMB: number | undefined,
  deviceMemoryGB: number | undefined,
  note: string,
): { fit: Fit; why: string } {
  if (needMB === undefined)
    return { fit: 'maybe', why: `${note}Its memory need is not listed.`.trim() };
  if (deviceMemoryGB === undefined || !(deviceMemoryGB > 0))
    return {
      fit: 'maybe',
      why: `${note}Needs about ${gb(needMB)} of memory; this browser does not say how much the device has.`,
    };
  const budgetMB = deviceMemoryGB * 1024 * MODEL_MEMORY_SHARE;
  if (needMB <= budgetMB) return { fit: 'yes', why: note.trim() };
  if (deviceMemoryGB >= DEVICE_MEMORY_CAP_GB)
    return {
      fit: 'maybe',
      why: `${note}Needs about ${gb(needMB)} of memory; the browser reports "${DEVICE_MEMORY_CAP_GB} GB or more", so it fits only on a larger machine.`,
    };
  return {
    fit: 'no',
    why: `${note}Needs about ${gb(needMB)} of memory; this device has about ${deviceMemoryGB} GB and a model can have about half of it.`,
  };
}

function gb(mb: number): string {
  return `${(mb / 1024).toFixed(1)} GB`;
}
