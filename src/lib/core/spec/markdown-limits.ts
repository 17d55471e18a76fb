/**
 * Limits on what the Markdown view renders. marked's list and blockquote parsing grows much
 * faster than the text with nesting depth (a 200-deep list takes seconds, 3,000-deep hangs the
 * tab), and rendering megabytes of HTML on the main thread stalls it too. Text past these limits
 * is shown as plain text with a notice instead; nothing is lost, it is only not formatted.
 */

/** Deepest list/blockquote nesting rendered as Markdown (real specs stay under ten). */
export const MAX_RENDER_DEPTH = 32;
/** Largest section body rendered as Markdown, in characters. */
export const MAX_RENDER_CHARS = 256 * 1024;

/**
 * An upper estimate of the nesting depth of Markdown lists and blockquotes, in one linear pass:
 * per line, the leading indentation in list steps (two columns, tabs to four) plus the number of
 * `>` markers. It can overestimate (indented code), which only means plain-text display.
 */
export function markdownNestingDepth(text: string, stopAbove = Infinity): number {
  let max = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    let columns = 0;
    let quotes = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c === 32) columns++;
      else if (c === 9) columns += 4 - (columns % 4);
      else if (c === 62 /* > */) quotes++;
      else break;
    }
    const depth = Math.floor(columns / 2) + quotes;
    if (depth > max) max = depth;
    if (max > stopAbove) return max; // the answer is already "too deep": skip the rest
    const next = text.indexOf('\n', i);
    i = next === -1 ? n : next + 1;
  }
  return max;
}

/** Why `text` is shown as plain text instead of formatted Markdown, or undefined to render it. */
export function plainTextReason(text: string): string | undefined {
  if (markdownNestingDepth(text, MAX_RENDER_DEPTH) > MAX_RENDER_DEPTH) {
    return `This section is shown as plain text: its lists or quotes nest more than ${MAX_RENDER_DEPTH} levels deep, deeper than the formatted view renders.`;
  }
  if (text.length > MAX_RENDER_CHARS) {
    return `This section is shown as plain text: at ${Math.round(text.length / 1024).toLocaleString('en-US')} KB it is larger than the ${MAX_RENDER_CHARS / 1024} KB the formatted view renders.`;
  }
  return undefined;
}
