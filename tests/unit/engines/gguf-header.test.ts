/**
 * readGgufHeader: the check every wllama load and every picked file goes through. Runs in Node
 * on Blobs, so the messages users see for wrong files are pinned here.
 */
import { describe, expect, it } from 'vitest';
import { InvalidModelFileError } from '../../../src/lib/core/errors';
import { readGgufHeader } from '../../../src/lib/engines/local-models';
import {
  buildTinyGguf,
  TINY_LLAMA_SHAPE,
  TINY_LLAMA_VOCAB_SIZE,
} from '../../fixtures/make-tiny-gguf.mjs';

const tiny = buildTinyGguf({ seed: 1 });

async function failure(blob: Blob, name = 'model.gguf'): Promise<Error> {
  const error = await readGgufHeader(blob, name).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  if (!error) throw new Error('expected readGgufHeader to reject');
  return error;
}

describe('readGgufHeader', () => {
  it('reads version, tensor count, architecture, name and trained context', async () => {
    const header = await readGgufHeader(new Blob([tiny]), 'tiny.gguf');
    expect(header).toEqual({
      version: 3,
      tensorCount: 21,
      architecture: 'llama',
      name: 'tiny-random-llama-seed1',
      contextLength: 2048,
      tensorSizes: expect.any(Object),
    });
  });

  it('sizes each layer and the output layer from the tensor table (F32: 4 bytes a value)', async () => {
    const { nEmbd: d, nFf: ff, nLayer } = TINY_LLAMA_SHAPE;
    const header = await readGgufHeader(new Blob([tiny]), 'tiny.gguf');
    // Two norms, q/k/v/output (d×d, no grouped KV), gate/up/down (d×ff).
    const layer = { bytes: 4 * (2 * d + 4 * d * d + 3 * d * ff), largestTensorBytes: 4 * d * ff };
    expect(header.tensorSizes).toEqual({
      layers: Array.from({ length: nLayer }, () => layer),
      // output.weight (d×vocab) + output_norm; the input embedding stays on the CPU.
      output: {
        bytes: 4 * (d * TINY_LLAMA_VOCAB_SIZE + d),
        largestTensorBytes: 4 * d * TINY_LLAMA_VOCAB_SIZE,
      },
    });
  });

  it('names the file and shows how it starts when it is not GGUF', async () => {
    const html = await failure(new Blob(['<!DOCTYPE html><p>404</p>']), 'qwen.gguf');
    expect(html).toBeInstanceOf(InvalidModelFileError);
    expect(html.message).toMatch(
      /^"qwen\.gguf" is not a GGUF model file \(it starts with "<!DOCTYPE ht": a web page/,
    );
    const zip = await failure(new Blob([new Uint8Array([0x50, 0x4b, 3, 4, 0, 0, 0xff])]));
    expect(zip.message).toContain('it starts with 50 4B 03 04 00 00 FF: a ZIP archive');
    expect((await failure(new Blob([]))).message).toContain('(it is empty)');
    expect((await failure(new Blob(['GG']))).message).toContain('is not a GGUF model file');
  });

  it('calls a cut-off header truncated or corrupted', async () => {
    const error = await failure(new Blob([tiny.slice(0, 2000)]), 'half.gguf');
    expect(error).toBeInstanceOf(InvalidModelFileError);
    expect(error.message).toContain('"half.gguf" starts like a GGUF model file');
    expect(error.message).toContain('truncated or corrupted');
  });

  it('says the file is cut off when its tensors end past the end of the file', async () => {
    const error = await failure(new Blob([tiny.slice(0, tiny.length - 1000)]), 'partial.gguf');
    expect(error).toBeInstanceOf(InvalidModelFileError);
    expect(error.message).toBe(
      `"partial.gguf" is cut off: it has ${tiny.length - 1000} bytes but its tensors need ` +
        `${tiny.length}. The download or copy was incomplete; get the file again.`,
    );
  });

  it('rejects GGUF versions it cannot read', async () => {
    const v1 = tiny.slice(0, 64);
    new DataView(v1.buffer).setUint32(4, 1, true);
    expect((await failure(new Blob([v1]))).message).toContain('GGUF file of version 1');
  });
});
