/**
 * Markup in a chosen reply (issue 10 §8: "a chosen reply that contains markup or script-like
 * payloads reaches the training files unflagged"). A reply a model is trained to prefer should not
 * teach it to emit live HTML, scripts or tracking images, so Review flags such replies and the
 * export counts them (and can leave them out). Pure and deterministic; it flags, never rewrites.
 *
 * What counts (each a {@link MarkupKind}):
 * - `script`: a `<script`, `<iframe`, `<object`, `<embed` or `<svg … on…` opening tag;
 * - `event-handler`: an `on…=` attribute inside a tag (`<img onerror=…>`);
 * - `script-url`: a `javascript:`, `vbscript:` or `data:text/html` URL anywhere;
 * - `remote-image`: a Markdown image or `<img src>` that loads from a remote host (an exfiltration
 *   channel: the URL can carry the conversation);
 * - `html`: any other HTML element tag (`<div>`, `<a href>`, `<style>`…). Text like `a < b` or
 *   `<3`, and autolinks like `<https://…>`, are not tags.
 * Markdown links to remote hosts are ordinary in helpful replies and are not flagged.
 */

export const MARKUP_KINDS = [
  'script',
  'event-handler',
  'script-url',
  'remote-image',
  'html',
] as const;
export type MarkupKind = (typeof MARKUP_KINDS)[number];

/** Human labels for badges and summaries. */
export const MARKUP_LABELS: Record<MarkupKind, string> = {
  script: 'script or embedded frame',
  'event-handler': 'event-handler attribute',
  'script-url': 'javascript: or data: URL',
  'remote-image': 'image loaded from a remote host',
  html: 'HTML tag',
};

export interface MarkupFinding {
  kind: MarkupKind;
  /** Offset of the match in the text. */
  index: number;
  /** The matched text, at most 80 characters. */
  excerpt: string;
}

const PATTERNS: readonly { kind: MarkupKind; re: RegExp }[] = [
  { kind: 'script', re: /<\s*(?:script|iframe|object|embed|frame|frameset|applet)\b/gi },
  { kind: 'event-handler', re: /<[a-z][\w:-]*\b[^<>]*?\son[a-z]{3,}\s*=/gi },
  { kind: 'script-url', re: /\b(?:javascript|vbscript)\s*:|\bdata:\s*text\/html\b/gi },
  { kind: 'remote-image', re: /!\[[^\]\n]*\]\(\s*<?(?:https?:)?\/\/[^)\s]+/gi },
  { kind: 'remote-image', re: /<\s*img\b[^<>]*?\bsrc\s*=\s*["']?\s*(?:https?:)?\/\//gi },
  {
    kind: 'html',
    re: /<\/?(?:a|abbr|b|base|body|br|button|div|em|form|h[1-6]|head|html|i|img|input|link|meta|p|span|strong|style|svg|table|td|tr|textarea|u|ul|ol|li|video|audio|source|math)\b[^<>]*>/gi,
  },
];

/** Every markup finding in `text`, in order of position (one finding per kind and position). */
export function detectMarkup(text: string): MarkupFinding[] {
  const found: MarkupFinding[] = [];
  const seen = new Set<string>();
  for (const { kind, re } of PATTERNS) {
    re.lastIndex = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      const key = `${kind}:${m.index}`;
      if (!seen.has(key)) {
        seen.add(key);
        found.push({ kind, index: m.index, excerpt: m[0].slice(0, 80) });
      }
      if (m[0].length === 0) re.lastIndex++;
    }
  }
  return found.sort((a, b) => a.index - b.index || kindOrder(a.kind) - kindOrder(b.kind));
}

function kindOrder(kind: MarkupKind): number {
  return MARKUP_KINDS.indexOf(kind);
}

/** The distinct kinds found in `text`, most serious first; empty when the text is clean. */
export function markupKinds(text: string): MarkupKind[] {
  const kinds = new Set(detectMarkup(text).map((f) => f.kind));
  return MARKUP_KINDS.filter((k) => kinds.has(k));
}

/** Whether a pair's chosen reply carries markup (the reply a model would learn to prefer). */
export function hasChosenMarkup(pair: { chosen: string }): boolean {
  return markupKinds(pair.chosen).length > 0;
}
