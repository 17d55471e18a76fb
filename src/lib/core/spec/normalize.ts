/**
 * Bytes → the one normalised text that every offset of a spec version points into.
 *
 * Normalisation is deliberately minimal (BOM removed, CRLF/CR → LF) so that quotes a person copies
 * from the original still match; everything that is not text is rejected with a message that says
 * what the file looked like, so the user knows what to do instead.
 */
import { InvalidFileError } from '../errors';

/** Largest spec we accept, in bytes (20 MB): ~70× the 270 KB Model Spec, and still safe to hold in a worker. */
export const MAX_SPEC_BYTES = 20 * 1024 * 1024;

/** Share of control characters above which decoded "text" is treated as binary data. */
const MAX_CONTROL_CHAR_RATIO = 0.01;

/** Formats a byte count for messages: `20 MB`, `312 KB`. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}

/** Throws {@link InvalidFileError} when `byteLength` is over {@link MAX_SPEC_BYTES}. */
export function assertSpecSize(byteLength: number, name: string): void {
  if (byteLength > MAX_SPEC_BYTES) {
    throw new InvalidFileError(
      `"${name}" is ${formatBytes(byteLength)}; the limit for a specification is ${formatBytes(MAX_SPEC_BYTES)}. ` +
        'Split it into smaller documents or remove embedded images and attachments.',
    );
  }
}

/**
 * Names well-known binary formats by their magic bytes, for error messages
 * (e.g. `"a PNG image"`). Returns undefined when nothing is recognised.
 */
export function describeMagicBytes(bytes: Uint8Array): string | undefined {
  const starts = (...sig: number[]): boolean => sig.every((b, i) => bytes[i] === b);
  if (starts(0x25, 0x50, 0x44, 0x46, 0x2d)) return 'a PDF document';
  if (starts(0x50, 0x4b, 0x03, 0x04)) return 'a ZIP archive (e.g. DOCX, XLSX, ODT)';
  if (starts(0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1))
    return 'a legacy Microsoft Office file (.doc/.xls)';
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'a PNG image';
  if (starts(0xff, 0xd8, 0xff)) return 'a JPEG image';
  if (starts(0x47, 0x49, 0x46, 0x38)) return 'a GIF image';
  if (starts(0x52, 0x49, 0x46, 0x46)) return 'a RIFF media file (WebP, WAV or AVI)';
  if (starts(0x1f, 0x8b)) return 'a gzip archive';
  if (starts(0x7f, 0x45, 0x4c, 0x46)) return 'a Linux executable';
  if (starts(0x4d, 0x5a)) return 'a Windows executable';
  if (starts(0x47, 0x47, 0x55, 0x46)) return 'a GGUF model file';
  if (starts(0x7b, 0x5c, 0x72, 0x74, 0x66)) return 'an RTF document';
  return undefined;
}

/** Counts UTF-8 bytes of a string without allocating an encoded copy. */
export function utf8ByteLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Offset of the first byte that is not valid UTF-8, or -1 when all of `bytes` is valid. */
export function findInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) [need, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [need, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [need, min] = [3, 0x10000];
    else return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are invalid UTF-8.
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return i;
    i += need + 1;
  }
  return -1;
}

/** Guesses UTF-16 without a BOM: ASCII-heavy UTF-16 has a zero in every other byte. */
function guessBomlessUtf16(bytes: Uint8Array): 'utf-16le' | 'utf-16be' | undefined {
  const n = Math.min(bytes.length - (bytes.length % 2), 4096);
  if (n < 8) return undefined;
  let evenZeros = 0;
  let oddZeros = 0;
  for (let i = 0; i < n; i += 2) {
    if (bytes[i] === 0) evenZeros++;
    if (bytes[i + 1] === 0) oddZeros++;
  }
  const pairs = n / 2;
  if (oddZeros / pairs > 0.7 && evenZeros / pairs < 0.05) return 'utf-16le';
  if (evenZeros / pairs > 0.7 && oddZeros / pairs < 0.05) return 'utf-16be';
  return undefined;
}

function decodeOrThrow(bytes: Uint8Array, encoding: string, name: string): string {
  try {
    return new TextDecoder(encoding, { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new InvalidFileError(
      `"${name}" starts with a ${encoding.toUpperCase()} byte-order mark but is not valid ${encoding.toUpperCase()} text.`,
      { cause },
    );
  }
}

/**
 * Decodes the bytes of a text file (Markdown, plain text, HTML) and normalises it with
 * {@link normalizeSpecText}. UTF-8 is assumed; a UTF-8, UTF-16 LE or UTF-16 BE byte-order mark
 * wins over that assumption.
 *
 * @throws InvalidFileError for files over {@link MAX_SPEC_BYTES}, binary data, invalid UTF-8,
 *   and empty or whitespace-only content.
 */
export function decodeSpecBytes(bytes: Uint8Array, name: string): string {
  assertSpecSize(bytes.byteLength, name);
  if (bytes.byteLength === 0) throw new InvalidFileError(`"${name}" is empty (0 bytes).`);

  let text: string;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    text = decodeUtf8(bytes.subarray(3), name);
  } else if (bytes[0] === 0xff && bytes[1] === 0xfe) {
    text = decodeOrThrow(bytes.subarray(2), 'utf-16le', name);
  } else if (bytes[0] === 0xfe && bytes[1] === 0xff) {
    text = decodeOrThrow(bytes.subarray(2), 'utf-16be', name);
  } else {
    const utf16 = guessBomlessUtf16(bytes);
    if (utf16) text = decodeOrThrow(bytes, utf16, name);
    else {
      // NUL never occurs in real text; it is the cheapest reliable sign of binary data.
      const nul = bytes.indexOf(0);
      if (nul !== -1) throw binaryFileError(bytes, name, `a NUL byte at offset ${nul}`);
      text = decodeUtf8(bytes, name);
    }
  }
  return normalizeSpecText(text, name, bytes);
}

function decodeUtf8(bytes: Uint8Array, name: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (cause) {
    const at = findInvalidUtf8(bytes);
    const kind = describeMagicBytes(bytes);
    if (kind) throw binaryFileError(bytes, name, 'bytes that are not text');
    const sample = Array.from(bytes.subarray(Math.max(0, at), Math.max(0, at) + 4))
      .map((b) => b.toString(16).padStart(2, '0').toUpperCase())
      .join(' ');
    throw new InvalidFileError(
      `"${name}" is not valid UTF-8 text: the first invalid byte is at offset ${at} (${sample}). ` +
        'It may be saved in a legacy encoding such as Windows-1252 or Latin-1; re-save it as UTF-8 and try again.',
      { cause },
    );
  }
}

function binaryFileError(bytes: Uint8Array, name: string, evidence: string): InvalidFileError {
  const kind = describeMagicBytes(bytes);
  return new InvalidFileError(
    kind
      ? `"${name}" looks like ${kind}, not a text document. Upload Markdown, plain text, HTML, PDF or DOCX.`
      : `"${name}" looks like binary data, not text (found ${evidence}). Upload Markdown, plain text, HTML, PDF or DOCX.`,
  );
}

/** True for C0/C1 control characters other than the whitespace ones text legitimately contains. */
function isSuspiciousControl(code: number): boolean {
  if (code < 0x20) return code !== 0x09 && code !== 0x0a && code !== 0x0d && code !== 0x0c;
  return code === 0x7f || (code >= 0x80 && code <= 0x9f);
}

/**
 * Normalises text (pasted, decoded or converted): drops a leading BOM, turns CRLF and lone CR into
 * LF, and rejects empty, whitespace-only, oversized or binary-looking input. The result is the
 * text all section and example offsets point into.
 *
 * @param bytes the original bytes, when there were any, to name the format in an error message.
 */
export function normalizeSpecText(text: string, name: string, bytes?: Uint8Array): string {
  if (!bytes) assertSpecSize(utf8ByteLength(text), name);
  let out = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  out = out.replace(/\r\n?/g, '\n');
  if (out.length === 0) throw new InvalidFileError(`"${name}" is empty.`);
  if (out.trim().length === 0) {
    throw new InvalidFileError(`"${name}" contains only whitespace; there is no text to read.`);
  }
  let controls = 0;
  let firstControl = -1;
  for (let i = 0; i < out.length; i++) {
    if (isSuspiciousControl(out.charCodeAt(i))) {
      controls++;
      if (firstControl === -1) firstControl = i;
    }
  }
  if (controls > 0 && controls / out.length > MAX_CONTROL_CHAR_RATIO) {
    const evidence = `${controls} control characters in ${out.length} characters, the first at offset ${firstControl}`;
    throw binaryFileError(bytes ?? new Uint8Array(), name, evidence);
  }
  return out;
}
