/**
 * One pass over normalised text that finds lines, fenced code blocks and admonition blocks: the
 * shared ground truth for the heading, example and commentary parsers, so that none of them
 * mistakes a `#` or a `<user>` inside a code block for structure.
 */

/** One line of the text; `end` excludes the `\n`. */
export interface Line {
  start: number;
  end: number;
  text: string;
}

/** A fenced code block (CommonMark: ``` or ~~~, at most 3 spaces of indentation). */
export interface FenceBlock {
  /** Offset of the opening fence line. */
  start: number;
  /** Offset just past the closing fence line (or the end of the text when the fence never closes). */
  end: number;
  /** First character of the content (after the opening line). */
  contentStart: number;
  /** Offset where the closing fence line begins (or the end of the text). */
  contentEnd: number;
  /** Index of the opening line in {@link ScannedText.lines}. */
  openLine: number;
  /** Index of the closing line, or -1 when the fence runs to the end of the text. */
  closeLine: number;
  marker: '`' | '~';
  /** The info string, e.g. `xml`, lowercased and trimmed. */
  info: string;
}

/** A `!!! kind "Title"` admonition (Python-Markdown / MkDocs syntax), e.g. Model Spec commentary. */
export interface AdmonitionBlock {
  start: number;
  /** Offset just past the last indented content line (trailing blank lines excluded). */
  end: number;
  /** The admonition type, e.g. `meta`, `note`. */
  kind: string;
  title?: string;
}

export interface ScannedText {
  lines: Line[];
  fences: FenceBlock[];
  admonitions: AdmonitionBlock[];
  /** Per line: the index into `fences` of the block the line belongs to (fence lines included), else -1. */
  fenceOfLine: Int32Array;
}

const FENCE_OPEN = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const ADMONITION = /^ {0,3}(?:!!!|\?\?\?\+?)[ \t]+([\w-]+)(?:[ \t]+"([^"]*)")?[ \t]*$/;

/** Splits text into lines with offsets. */
export function splitLines(text: string): Line[] {
  const lines: Line[] = [];
  let start = 0;
  while (start <= text.length) {
    const nl = text.indexOf('\n', start);
    const end = nl === -1 ? text.length : nl;
    lines.push({ start, end, text: text.slice(start, end) });
    if (nl === -1) break;
    start = nl + 1;
  }
  return lines;
}

/** Scans `text` once for lines, fenced code blocks and admonitions. */
export function scanText(text: string): ScannedText {
  const lines = splitLines(text);
  const fences: FenceBlock[] = [];
  const admonitions: AdmonitionBlock[] = [];
  const fenceOfLine = new Int32Array(lines.length).fill(-1);

  let i = 0;
  while (i < lines.length) {
    const line = lines[i] as Line;
    const open = FENCE_OPEN.exec(line.text);
    const fenceRun = open?.[1];
    // A backtick fence's info string may not contain backticks (CommonMark), so "```x```" is inline code.
    if (open && fenceRun && !(fenceRun[0] === '`' && (open[2] ?? '').includes('`'))) {
      const marker = fenceRun[0] as '`' | '~';
      const close = new RegExp(`^ {0,3}${marker === '`' ? '`' : '~'}{${fenceRun.length},}[ \\t]*$`);
      let j = i + 1;
      while (j < lines.length && !close.test((lines[j] as Line).text)) j++;
      const closed = j < lines.length;
      const index = fences.length;
      const last = closed ? j : lines.length - 1;
      for (let k = i; k <= last; k++) fenceOfLine[k] = index;
      const closeLine = closed ? (lines[j] as Line) : undefined;
      fences.push({
        start: line.start,
        end: closeLine ? Math.min(closeLine.end + 1, text.length) : text.length,
        contentStart: Math.min(line.end + 1, text.length),
        contentEnd: closeLine ? closeLine.start : text.length,
        openLine: i,
        closeLine: closed ? j : -1,
        marker,
        info: (open[2] ?? '').trim().toLowerCase(),
      });
      i = last + 1;
      continue;
    }

    const adm = ADMONITION.exec(line.text);
    if (adm) {
      // Content: following lines indented by 4+ spaces (or a tab), blank lines allowed in between.
      let lastContent = i;
      let j = i + 1;
      while (j < lines.length) {
        const t = (lines[j] as Line).text;
        if (t.trim() === '') {
          j++;
          continue;
        }
        if (/^(?: {4}|\t)/.test(t)) {
          lastContent = j;
          j++;
          continue;
        }
        break;
      }
      const endLine = lines[lastContent] as Line;
      admonitions.push({
        start: line.start,
        end: Math.min(endLine.end + 1, text.length),
        kind: (adm[1] ?? '').toLowerCase(),
        ...(adm[2] !== undefined ? { title: adm[2] } : {}),
      });
      i = lastContent + 1;
      continue;
    }
    i++;
  }
  return { lines, fences, admonitions, fenceOfLine };
}
