import { describe, expect, it } from 'vitest';
import { InvalidFileError } from '../../../../src/lib/core/errors';
import {
  MAX_SPEC_BYTES,
  decodeSpecBytes,
  findInvalidUtf8,
  normalizeSpecText,
  utf8ByteLength,
} from '../../../../src/lib/core/spec/normalize';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function utf16(s: string, endian: 'le' | 'be', bom = true): Uint8Array {
  const out = new Uint8Array((bom ? 2 : 0) + s.length * 2);
  let p = 0;
  if (bom) {
    out[p++] = endian === 'le' ? 0xff : 0xfe;
    out[p++] = endian === 'le' ? 0xfe : 0xff;
  }
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[p++] = endian === 'le' ? c & 0xff : c >> 8;
    out[p++] = endian === 'le' ? c >> 8 : c & 0xff;
  }
  return out;
}

function rejection(fn: () => unknown): InvalidFileError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidFileError);
    return error as InvalidFileError;
  }
  throw new Error('expected an InvalidFileError');
}

describe('decodeSpecBytes', () => {
  it('decodes UTF-8 with and without a BOM, and normalises line ends', () => {
    expect(decodeSpecBytes(utf8('# Title\r\nBody ü\rMore\n'), 'a.md')).toBe(
      '# Title\nBody ü\nMore\n',
    );
    expect(decodeSpecBytes(Uint8Array.from([0xef, 0xbb, 0xbf, ...utf8('# Ä')]), 'a.md')).toBe(
      '# Ä',
    );
  });

  it('decodes UTF-16 LE and BE by BOM, and BOM-less UTF-16 by its zero bytes', () => {
    const text = '# Regeln\r\nDer Assistent muss höflich sein. 😀';
    const want = '# Regeln\nDer Assistent muss höflich sein. 😀';
    expect(decodeSpecBytes(utf16(text, 'le'), 'a.txt')).toBe(want);
    expect(decodeSpecBytes(utf16(text, 'be'), 'a.txt')).toBe(want);
    expect(decodeSpecBytes(utf16(text, 'le', false), 'a.txt')).toBe(want);
  });

  it('rejects empty and whitespace-only files', () => {
    expect(rejection(() => decodeSpecBytes(new Uint8Array(), 'e.md')).message).toBe(
      '"e.md" is empty (0 bytes).',
    );
    expect(rejection(() => decodeSpecBytes(utf8(' \n\t\r\n  '), 'w.md')).message).toContain(
      'only whitespace',
    );
    expect(
      rejection(() => decodeSpecBytes(Uint8Array.from([0xef, 0xbb, 0xbf]), 'bom.md')).message,
    ).toContain('is empty');
  });

  it('rejects binary data and names known formats', () => {
    const png = Uint8Array.from([
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48,
    ]);
    expect(rejection(() => decodeSpecBytes(png, 'pic.md')).message).toContain(
      'looks like a PNG image',
    );
    const random = Uint8Array.from({ length: 512 }, (_, i) => (i * 37 + 11) % 256);
    expect(rejection(() => decodeSpecBytes(random, 'blob.txt')).message).toMatch(
      /binary data|not valid UTF-8/,
    );
    const nul = utf8('abc\u0000def ghi');
    expect(rejection(() => decodeSpecBytes(nul, 'n.txt')).message).toContain(
      'NUL byte at offset 3',
    );
    const controls = utf8('text\u0001\u0002\u0003\u0004\u0005 and more text');
    expect(rejection(() => decodeSpecBytes(controls, 'c.txt')).message).toContain(
      '5 control characters',
    );
  });

  it('rejects invalid UTF-8 and says where and what to do', () => {
    // "café" in Windows-1252: é is the lone byte 0xE9.
    const latin1 = Uint8Array.from([...utf8('Le caf'), 0xe9, ...utf8(' est bon.')]);
    const message = rejection(() => decodeSpecBytes(latin1, 'fr.txt')).message;
    expect(message).toContain('not valid UTF-8');
    expect(message).toContain('offset 6 (E9 20 65 73)');
    expect(message).toContain('Windows-1252');
  });

  it('rejects files over 20 MB, naming the limit', () => {
    const big = new Uint8Array(MAX_SPEC_BYTES + 1).fill(0x61);
    const message = rejection(() => decodeSpecBytes(big, 'big.txt')).message;
    expect(message).toContain('the limit for a specification is 20 MB');
    expect(message).toContain('"big.txt" is 20 MB');
    expect(decodeSpecBytes(new Uint8Array(1000).fill(0x61), 'ok.txt')).toHaveLength(1000);
  });
});

describe('normalize helpers', () => {
  it('finds the first invalid UTF-8 byte (overlong, surrogate, truncated)', () => {
    expect(findInvalidUtf8(utf8('ok ü 😀'))).toBe(-1);
    expect(findInvalidUtf8(Uint8Array.from([0x41, 0xc0, 0x80]))).toBe(1); // overlong NUL
    expect(findInvalidUtf8(Uint8Array.from([0x41, 0xed, 0xa0, 0x80]))).toBe(1); // UTF-16 surrogate
    expect(findInvalidUtf8(Uint8Array.from([0x41, 0x42, 0xe2, 0x82]))).toBe(2); // truncated €
    expect(findInvalidUtf8(Uint8Array.from([0x80]))).toBe(0);
  });

  it('counts UTF-8 bytes like TextEncoder', () => {
    for (const s of ['', 'abc', 'ü', '€', '😀', 'a\ud800b']) {
      expect(utf8ByteLength(s)).toBe(new TextEncoder().encode(s).length);
    }
  });

  it('normalises pasted text and checks its size', () => {
    expect(normalizeSpecText('\ufeffa\r\nb', 'paste')).toBe('a\nb');
    expect(
      rejection(() => normalizeSpecText('x'.repeat(MAX_SPEC_BYTES + 1), 'paste')).message,
    ).toContain('20 MB');
  });
});
