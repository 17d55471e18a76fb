/**
 * GGUF model files kept in this browser: files the user picked (copied into the origin-private
 * file system, so they survive reloads) and files wllama downloaded from a URL (its own cache).
 * Also the GGUF header check every wllama load starts with.
 *
 * Storage layout: OPFS `models/<fileName>` is ours; OPFS `cache/` belongs to wllama's
 * CacheManager. Changing the folder name orphans every stored model: keep it.
 */
import { ModelManager, ModelValidationStatus, type Model } from '@wllama/wllama';
import { engineKey } from '$lib/core/engine-config';
import {
  EngineUnavailableError,
  InvalidModelFileError,
  ModelLoadError,
  StorageFullError,
  errorMessage,
} from '$lib/core/errors';
import type { CachedModel } from './types';

/** OPFS folder with the GGUF files the user picked. Renaming it loses every stored file. */
export const LOCAL_MODELS_DIR = 'models';

// ---------------------------------------------------------------------------------------------
// GGUF header

/** What a GGUF header says about the model, read without loading the weights. */
export interface GgufHeader {
  /** GGUF format version (2 or 3). */
  version: number;
  tensorCount: number;
  /** `general.architecture`, e.g. `llama`, `qwen2`. */
  architecture?: string;
  /** `general.name`, when the file has one. */
  name?: string;
  /** `<architecture>.context_length`: the context the model was trained with. */
  contextLength?: number;
  /** Sizes of the weights by layer, for choosing how many layers fit the GPU. */
  tensorSizes?: GgufTensorSizes;
}

/** Bytes of a group of tensors, and of its largest tensor (one GPU buffer binding holds it). */
export interface TensorGroupSize {
  bytes: number;
  largestTensorBytes: number;
}

/**
 * Weight sizes as llama.cpp offloads them: repeating layers (`blk.N.*`, index N) and the output
 * layer (`output.weight`, `output_norm.*`; the token embedding when the output is tied to it).
 * The input embedding stays on the CPU in llama.cpp, so it is not counted.
 */
export interface GgufTensorSizes {
  layers: TensorGroupSize[];
  output: TensorGroupSize;
}

const GGUF_MAGIC = 'GGUF';
const READ_CHUNK = 1024 * 1024;
// Byte sizes of GGUF metadata value types 0..12; 0 marks the variable-size ones (string, array).
const GGUF_VALUE_SIZE = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8] as const;
const GGUF_UINT32 = 4;
const GGUF_STRING = 8;
const GGUF_ARRAY = 9;
const GGUF_UINT64 = 10;
/**
 * ggml tensor types whose size we know: [bytes per block, values per block]. Enough to check
 * that common models are complete; other types only get a weaker "starts inside" check.
 */
const GGML_TYPE_BLOCK: Record<number, readonly [number, number]> = {
  0: [4, 1], // F32
  1: [2, 1], // F16
  2: [18, 32], // Q4_0
  3: [20, 32], // Q4_1
  6: [22, 32], // Q5_0
  7: [24, 32], // Q5_1
  8: [34, 32], // Q8_0
  10: [84, 256], // Q2_K
  11: [110, 256], // Q3_K
  12: [144, 256], // Q4_K
  13: [176, 256], // Q5_K
  14: [210, 256], // Q6_K
  20: [18, 32], // IQ4_NL
  23: [136, 256], // IQ4_XS
  30: [2, 1], // BF16
};

/**
 * Reads the GGUF header (metadata and tensor table) of `blob` without loading weights, and
 * throws {@link InvalidModelFileError} when it is not a usable GGUF model: wrong magic bytes,
 * unsupported version, corrupt header, or a file cut off before its tensors end (an incomplete
 * download). `displayName` names the file in messages. Reads the header only (a few MB).
 */
export async function readGgufHeader(blob: Blob, displayName: string): Promise<GgufHeader> {
  const reader = new BlobReader(blob);
  await reader.ensure(Math.min(16, blob.size));
  const head = reader.bytes(Math.min(16, blob.size));
  if (head.length < 4 || String.fromCharCode(...head.subarray(0, 4)) !== GGUF_MAGIC) {
    throw new InvalidModelFileError(
      `"${displayName}" is not a GGUF model file (${describeStart(head, blob.size)}). ` +
        'The GGUF engine (wllama) needs a .gguf file, e.g. a Q4_K_M quantisation of an instruct model.',
    );
  }
  try {
    return await parseHeader(reader, displayName);
  } catch (error) {
    if (error instanceof InvalidModelFileError) throw error;
    if (error instanceof GgufFormatError) {
      throw new InvalidModelFileError(
        `"${displayName}" starts like a GGUF model file but its header is ${error.message}; ` +
          'the file is probably truncated or corrupted. Download or pick it again.',
      );
    }
    throw new ModelLoadError(`Could not read "${displayName}": ${errorMessage(error)}`, {
      cause: error,
    });
  }
}

async function parseHeader(reader: BlobReader, displayName: string): Promise<GgufHeader> {
  reader.position = 4;
  await reader.ensure(20);
  const version = reader.u32();
  if (version < 2 || version > 3) {
    throw new InvalidModelFileError(
      `"${displayName}" is a GGUF file of version ${version}; this app reads versions 2 and 3. ` +
        'Convert it again with a recent llama.cpp.',
    );
  }
  const tensorCount = reader.u64();
  const kvCount = reader.u64();
  if (kvCount > 1_000_000 || tensorCount > 1_000_000) {
    throw new GgufFormatError(`claiming ${kvCount} metadata entries and ${tensorCount} tensors`);
  }
  const header: GgufHeader = { version, tensorCount };
  const contextLengths = new Map<string, number>();
  let alignment = 32;
  for (let i = 0; i < kvCount; i++) {
    const key = await reader.string();
    await reader.ensure(4);
    const type = reader.u32();
    if (key === 'general.architecture' && type === GGUF_STRING) {
      header.architecture = await reader.string();
    } else if (key === 'general.name' && type === GGUF_STRING) {
      header.name = await reader.string();
    } else if (key === 'general.alignment' && type === GGUF_UINT32) {
      await reader.ensure(4);
      alignment = reader.u32() || 32;
    } else if (key.endsWith('.context_length') && (type === GGUF_UINT32 || type === GGUF_UINT64)) {
      await reader.ensure(8);
      contextLengths.set(key, type === GGUF_UINT32 ? reader.u32() : reader.u64());
    } else {
      await reader.skipValue(type);
    }
  }
  const trained = contextLengths.get(`${header.architecture}.context_length`);
  if (trained) header.contextLength = trained;

  // The tensor table: where the last tensor ends tells whether the file is complete.
  let lastStart = 0;
  let lastEnd = 0;
  let allSizesKnown = true;
  const tensors: TensorEntry[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = await reader.string();
    await reader.ensure(4);
    const nDims = reader.u32();
    if (nDims > 8) throw new GgufFormatError(`describing a tensor with ${nDims} dimensions`);
    await reader.ensure(nDims * 8 + 12);
    let values = 1;
    for (let d = 0; d < nDims; d++) values *= reader.u64();
    const block = GGML_TYPE_BLOCK[reader.u32()];
    const offset = reader.u64();
    lastStart = Math.max(lastStart, offset);
    const bytes = block ? Math.ceil(values / block[1]) * block[0] : undefined;
    if (bytes !== undefined) lastEnd = Math.max(lastEnd, offset + bytes);
    else allSizesKnown = false;
    tensors.push({ name, offset, bytes });
  }
  const dataStart = Math.ceil(reader.position / alignment) * alignment;
  const needed = dataStart + (allSizesKnown ? lastEnd : lastStart + 1);
  if (tensorCount > 0 && needed > reader.size) {
    throw new InvalidModelFileError(
      `"${displayName}" is cut off: it has ${reader.size} bytes but its tensors need ` +
        `${allSizesKnown ? '' : 'more than '}${needed}. The download or copy was incomplete; ` +
        'get the file again.',
    );
  }
  if (tensorCount > 0) header.tensorSizes = groupTensorSizes(tensors, reader.size - dataStart);
  return header;
}

interface TensorEntry {
  name: string;
  offset: number;
  /** Known from the type; else the distance to the next tensor is used. */
  bytes: number | undefined;
}

/** Groups tensor sizes by llama.cpp layer; see {@link GgufTensorSizes}. */
function groupTensorSizes(tensors: TensorEntry[], dataBytes: number): GgufTensorSizes {
  const byOffset = [...tensors].sort((a, b) => a.offset - b.offset);
  const size = new Map<TensorEntry, number>();
  byOffset.forEach((t, i) => {
    const next = byOffset[i + 1]?.offset ?? dataBytes;
    size.set(t, t.bytes ?? Math.max(0, next - t.offset));
  });
  const layers: TensorGroupSize[] = [];
  const output: TensorGroupSize = { bytes: 0, largestTensorBytes: 0 };
  const add = (group: TensorGroupSize, bytes: number) => {
    group.bytes += bytes;
    group.largestTensorBytes = Math.max(group.largestTensorBytes, bytes);
  };
  const tied = !tensors.some((t) => t.name === 'output.weight');
  for (const t of tensors) {
    const bytes = size.get(t) ?? 0;
    const layer = /^blk\.(\d+)\./.exec(t.name);
    if (layer) {
      const index = Number(layer[1]);
      for (let i = layers.length; i <= index; i++) layers.push({ bytes: 0, largestTensorBytes: 0 });
      add(layers[index]!, bytes);
    } else if (t.name.startsWith('output') || (tied && t.name === 'token_embd.weight')) {
      add(output, bytes);
    }
  }
  return { layers, output };
}

class GgufFormatError extends Error {}

/**
 * Little-endian reader over a Blob: `ensure` loads a 1 MB window when needed, the typed reads
 * are synchronous so a 150k-entry vocabulary is skipped without an await per entry.
 */
class BlobReader {
  #window = new Uint8Array(0);
  #view = new DataView(this.#window.buffer);
  #windowStart = 0;
  position = 0;
  readonly size: number;

  constructor(private readonly blob: Blob) {
    this.size = blob.size;
  }

  #available(n: number): boolean {
    const at = this.position - this.#windowStart;
    return at >= 0 && at + n <= this.#window.length;
  }

  async ensure(n: number): Promise<void> {
    if (this.#available(n)) return;
    if (this.position + n > this.size) throw new GgufFormatError(`cut off at byte ${this.size}`);
    const end = Math.min(this.size, this.position + Math.max(n, READ_CHUNK));
    this.#window = new Uint8Array(await this.blob.slice(this.position, end).arrayBuffer());
    this.#view = new DataView(this.#window.buffer);
    this.#windowStart = this.position;
  }

  /** The next `n` bytes; call {@link ensure} first. */
  bytes(n: number): Uint8Array {
    const at = this.position - this.#windowStart;
    this.position += n;
    return this.#window.subarray(at, at + n);
  }

  u32(): number {
    const v = this.#view.getUint32(this.position - this.#windowStart, true);
    this.position += 4;
    return v;
  }

  u64(): number {
    const v = Number(this.#view.getBigUint64(this.position - this.#windowStart, true));
    this.position += 8;
    return v;
  }

  async string(): Promise<string> {
    await this.ensure(8);
    const length = this.u64();
    if (length > 16 * 1024 * 1024) throw new GgufFormatError(`holding a ${length}-byte string`);
    await this.ensure(length);
    return new TextDecoder().decode(this.bytes(length));
  }

  #skip(n: number): void {
    if (this.position + n > this.size) throw new GgufFormatError(`cut off at byte ${this.size}`);
    this.position += n;
  }

  async skipValue(type: number): Promise<void> {
    if (type === GGUF_STRING) {
      await this.ensure(8);
      this.#skip(this.u64());
    } else if (type === GGUF_ARRAY) {
      await this.ensure(12);
      const itemType = this.u32();
      const count = this.u64();
      const size = GGUF_VALUE_SIZE[itemType];
      if (size === undefined) throw new GgufFormatError(`using unknown value type ${itemType}`);
      if (size > 0) {
        this.#skip(count * size);
      } else if (itemType === GGUF_STRING) {
        for (let i = 0; i < count; i++) {
          if (!this.#available(8)) await this.ensure(8);
          this.#skip(this.u64());
        }
      } else {
        for (let i = 0; i < count; i++) await this.skipValue(itemType);
      }
    } else {
      const size = GGUF_VALUE_SIZE[type];
      if (!size) throw new GgufFormatError(`using unknown value type ${type}`);
      this.#skip(size);
    }
  }
}

/** "it starts with "<!DOCTYPE ht": a web page, …" for messages about non-GGUF files. */
function describeStart(head: Uint8Array, size: number): string {
  if (size === 0) return 'it is empty';
  const bytes = head.subarray(0, 12);
  const printable = bytes.every(
    (b) => b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b < 0x7f),
  );
  const shown = printable
    ? `"${String.fromCharCode(...bytes).replace(/\s+/g, ' ')}"`
    : [...bytes].map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join(' ');
  const text = String.fromCharCode(...bytes).trimStart();
  let hint = '';
  if (text.startsWith('<')) {
    hint =
      ': a web page or XML, not a model; a URL may point to a download page instead of the file';
  } else if (text.startsWith('{') || text.startsWith('[')) {
    hint = ': JSON, not a model';
  } else if (bytes[0] === 0x50 && bytes[1] === 0x4b) {
    hint = ': a ZIP archive; unpack it first';
  } else if (printable) {
    hint = ': text, not a model';
  }
  return `it starts with ${shown}${hint}`;
}

// ---------------------------------------------------------------------------------------------
// Files the user picked (OPFS models/)

/** A GGUF file stored in this browser, as the engine config refers to it. */
export interface StoredLocalModel {
  /** Name inside OPFS `models/`; goes into `WllamaConfig.source.fileName`. */
  fileName: string;
  bytes: number;
}

async function modelsDir(create: boolean): Promise<FileSystemDirectoryHandle> {
  if (typeof navigator === 'undefined' || !navigator.storage?.getDirectory) {
    throw new EngineUnavailableError(
      'This browser has no origin-private file system, so picked model files cannot be kept. ' +
        'Use a recent Chrome, Edge, Firefox or Safari, or load the model from a URL.',
    );
  }
  const root = await navigator.storage.getDirectory();
  return root.getDirectoryHandle(LOCAL_MODELS_DIR, { create });
}

/** OPFS names cannot contain path separators; keep the rest of the user's file name. */
function storageName(name: string): string {
  const cleaned = name.replace(/[/\\]/g, '_').replace(/^\.+/, '').trim();
  return cleaned || 'model.gguf';
}

function isQuotaError(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'QuotaExceededError';
}

function isNotFound(error: unknown): boolean {
  return (
    error instanceof DOMException &&
    (error.name === 'NotFoundError' || error.name === 'TypeMismatchError')
  );
}

/**
 * Copies a GGUF file the user picked into OPFS `models/`, replacing a file of the same name.
 * Checks the GGUF header first ({@link InvalidModelFileError}); a full disk gives
 * {@link StorageFullError} and leaves no partial file behind.
 */
export async function saveLocalModel(file: File): Promise<StoredLocalModel> {
  await readGgufHeader(file, file.name);
  const fileName = storageName(file.name);
  const dir = await modelsDir(true);
  const handle = await dir.getFileHandle(fileName, { create: true });
  try {
    await writeFile(handle, file);
  } catch (error) {
    await dir.removeEntry(fileName).catch(() => undefined);
    if (isQuotaError(error)) {
      const mb = Math.ceil(file.size / 1e6);
      throw new StorageFullError(
        `Not enough browser storage to keep "${file.name}" (${mb} MB). Delete models you no ` +
          'longer need on the Models screen, or free disk space, then pick the file again.',
      );
    }
    throw new ModelLoadError(
      `Could not store "${file.name}" in this browser: ${errorMessage(error)}`,
      {
        cause: error,
      },
    );
  }
  return { fileName, bytes: file.size };
}

/** Writes with createWritable where it exists; Safari only has sync handles (worker only). */
async function writeFile(handle: FileSystemFileHandle, file: File): Promise<void> {
  if ('createWritable' in handle) {
    const writable = await handle.createWritable();
    try {
      await file.stream().pipeTo(writable);
    } catch (error) {
      await writable.abort().catch(() => undefined);
      throw error;
    }
    return;
  }
  const sync = await (
    handle as FileSystemFileHandle & {
      createSyncAccessHandle(): Promise<{
        write(buffer: Uint8Array, options: { at: number }): number;
        truncate(size: number): void;
        flush(): void;
        close(): void;
      }>;
    }
  ).createSyncAccessHandle();
  try {
    sync.truncate(0);
    let at = 0;
    const reader = file.stream().getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      at += sync.write(value, { at });
    }
    sync.flush();
  } finally {
    sync.close();
  }
}

/**
 * Opens a stored GGUF file. Throws {@link ModelLoadError} telling the user to pick the file
 * again when it is gone (site data cleared, or stored in another browser profile).
 */
export async function openLocalModel(fileName: string): Promise<File> {
  try {
    const dir = await modelsDir(false);
    const handle = await dir.getFileHandle(fileName);
    return await handle.getFile();
  } catch (error) {
    if (isNotFound(error)) {
      throw new ModelLoadError(
        `The model file "${fileName}" is no longer in this browser's storage (site data may ` +
          'have been cleared). Pick the file again on the Models screen.',
        { cause: error },
      );
    }
    throw error;
  }
}

/** The GGUF files kept in OPFS `models/`, with their sizes. */
export async function listLocalModels(): Promise<StoredLocalModel[]> {
  let dir: FileSystemDirectoryHandle;
  try {
    dir = await modelsDir(false);
  } catch (error) {
    if (isNotFound(error) || error instanceof EngineUnavailableError) return [];
    throw error;
  }
  const models: StoredLocalModel[] = [];
  for await (const handle of (
    dir as unknown as { values(): AsyncIterable<FileSystemHandle> }
  ).values()) {
    if (handle.kind !== 'file') continue;
    const file = await (handle as FileSystemFileHandle).getFile();
    models.push({ fileName: handle.name, bytes: file.size });
  }
  return models.sort((a, b) => a.fileName.localeCompare(b.fileName));
}

/** Removes a stored GGUF file; a missing file is not an error. */
export async function deleteLocalModel(fileName: string): Promise<void> {
  try {
    const dir = await modelsDir(false);
    await dir.removeEntry(fileName);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// wllama's URL cache (OPFS cache/) and the combined view for the Models screen

function wllamaModelManager(): ModelManager {
  try {
    // A quiet logger: the manager only reports download chatter.
    return new ModelManager({
      logger: { ...console, debug: () => undefined, log: () => undefined },
    });
  } catch (error) {
    throw new EngineUnavailableError(
      `This browser cannot store downloaded models: ${errorMessage(error)}.`,
    );
  }
}

/** Models wllama downloaded from a URL, including unfinished downloads (they use space too). */
async function listUrlModels(): Promise<Model[]> {
  try {
    return await wllamaModelManager().getModels({ includeInvalid: true });
  } catch (error) {
    if (error instanceof EngineUnavailableError) return []; // no OPFS: nothing was downloaded
    throw error;
  }
}

function urlKey(url: string): string {
  return engineKey({ kind: 'wllama', model: url, source: { type: 'url', url } });
}

function localKey(fileName: string): string {
  return engineKey({ kind: 'wllama', model: fileName, source: { type: 'local', fileName } });
}

/**
 * Every wllama model kept in this browser: picked files and URL downloads, as
 * {@link CachedModel}s whose `key` matches the engine key of the config that loads them.
 */
export async function listWllamaModels(): Promise<CachedModel[]> {
  const [local, remote] = await Promise.all([listLocalModels(), listUrlModels()]);
  return [
    ...local.map((m): CachedModel => ({
      key: localKey(m.fileName),
      kind: 'wllama',
      name: m.fileName,
      bytes: m.bytes,
    })),
    ...remote.map((m): CachedModel => {
      const name = decodeURIComponent(m.url.split('?')[0]?.split('/').pop() || m.url);
      const complete = m.validate() === ModelValidationStatus.VALID;
      return {
        key: urlKey(m.url),
        kind: 'wllama',
        name: complete ? name : `${name} (incomplete download)`,
        bytes: m.files.reduce((sum, f) => sum + f.size, 0),
      };
    }),
  ];
}

/** Deletes a model listed by {@link listWllamaModels}, by its key; unknown keys are ignored. */
export async function deleteWllamaModel(key: string): Promise<void> {
  const prefix = 'wllama:local/';
  if (key.startsWith(prefix)) {
    await deleteLocalModel(key.slice(prefix.length));
    return;
  }
  for (const model of await listUrlModels()) {
    if (urlKey(model.url) === key) await model.remove();
  }
}
