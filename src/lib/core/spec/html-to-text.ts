/**
 * HTML → Markdown-ish text without a DOM: a small, tolerant tokenizer (malformed markup never
 * throws) that keeps document structure the section parser understands.
 *
 * - `<h1>`–`<h6>` → `#`…`######` headings; a heading's `id` is kept as `{#id}` so anchors stay stable.
 * - Paragraphs and other blocks → blank-line separated; `<br>` → line break; lists → `- ` / `1. `
 *   with two spaces per nesting level; `<pre>` → fenced code; `<blockquote>` → `> `; table rows →
 *   one line with ` | ` between cells; inline `<code>` → backticks.
 * - All other inline markup (`<b>`, `<a>`, `<span>`…) becomes its text. `<script>`, `<style>`,
 *   `<template>`, `<noscript>`, `<svg>`, `<math>`, `<iframe>`, `<object>` are dropped with their
 *   content and are **never executed**: this is string processing only.
 * - Entities are decoded (named, decimal, hex); non-breaking spaces become plain spaces.
 * - A text line that would read as Markdown structure (`#`, a code fence, `!!!`) is escaped with a
 *   backslash so converted prose never turns into headings or code blocks.
 */

export interface HtmlConversion {
  /** The Markdown-ish text. */
  text: string;
  /** The document's `<title>`, when present. */
  title?: string;
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  ensp: ' ',
  emsp: ' ',
  thinsp: ' ',
  shy: '',
  zwj: '\u200d',
  zwnj: '\u200c',
  lrm: '\u200e',
  rlm: '\u200f',
  ndash: '–',
  mdash: '—',
  hellip: '…',
  lsquo: '‘',
  rsquo: '’',
  sbquo: '‚',
  ldquo: '“',
  rdquo: '”',
  bdquo: '„',
  laquo: '«',
  raquo: '»',
  lsaquo: '‹',
  rsaquo: '›',
  bull: '•',
  middot: '·',
  prime: '′',
  Prime: '″',
  dagger: '†',
  Dagger: '‡',
  permil: '‰',
  copy: '©',
  reg: '®',
  trade: '™',
  sect: '§',
  para: '¶',
  deg: '°',
  plusmn: '±',
  times: '×',
  divide: '÷',
  minus: '−',
  le: '≤',
  ge: '≥',
  ne: '≠',
  asymp: '≈',
  infin: '∞',
  larr: '←',
  rarr: '→',
  uarr: '↑',
  darr: '↓',
  harr: '↔',
  rArr: '⇒',
  lArr: '⇐',
  hArr: '⇔',
  euro: '€',
  pound: '£',
  yen: '¥',
  cent: '¢',
  curren: '¤',
  frac12: '½',
  frac14: '¼',
  frac34: '¾',
  sup1: '¹',
  sup2: '²',
  sup3: '³',
  micro: 'µ',
  iexcl: '¡',
  iquest: '¿',
  ordf: 'ª',
  ordm: 'º',
  not: '¬',
  macr: '¯',
  acute: '´',
  cedil: '¸',
  uml: '¨',
  brvbar: '¦',
  check: '✓',
  star: '☆',
  hearts: '♥',
  larrow: '←',
  rarrow: '→',
  alpha: 'α',
  beta: 'β',
  gamma: 'γ',
  delta: 'δ',
  epsilon: 'ε',
  lambda: 'λ',
  mu: 'μ',
  pi: 'π',
  sigma: 'σ',
  tau: 'τ',
  phi: 'φ',
  omega: 'ω',
  Delta: 'Δ',
  Sigma: 'Σ',
  Omega: 'Ω',
  Agrave: 'À',
  Aacute: 'Á',
  Acirc: 'Â',
  Atilde: 'Ã',
  Auml: 'Ä',
  Aring: 'Å',
  AElig: 'Æ',
  Ccedil: 'Ç',
  Egrave: 'È',
  Eacute: 'É',
  Ecirc: 'Ê',
  Euml: 'Ë',
  Igrave: 'Ì',
  Iacute: 'Í',
  Icirc: 'Î',
  Iuml: 'Ï',
  Ntilde: 'Ñ',
  Ograve: 'Ò',
  Oacute: 'Ó',
  Ocirc: 'Ô',
  Otilde: 'Õ',
  Ouml: 'Ö',
  Oslash: 'Ø',
  Ugrave: 'Ù',
  Uacute: 'Ú',
  Ucirc: 'Û',
  Uuml: 'Ü',
  Yacute: 'Ý',
  szlig: 'ß',
  agrave: 'à',
  aacute: 'á',
  acirc: 'â',
  atilde: 'ã',
  auml: 'ä',
  aring: 'å',
  aelig: 'æ',
  ccedil: 'ç',
  egrave: 'è',
  eacute: 'é',
  ecirc: 'ê',
  euml: 'ë',
  igrave: 'ì',
  iacute: 'í',
  icirc: 'î',
  iuml: 'ï',
  ntilde: 'ñ',
  ograve: 'ò',
  oacute: 'ó',
  ocirc: 'ô',
  otilde: 'õ',
  ouml: 'ö',
  oslash: 'ø',
  ugrave: 'ù',
  uacute: 'ú',
  ucirc: 'û',
  uuml: 'ü',
  yacute: 'ý',
  yuml: 'ÿ',
  OElig: 'Œ',
  oelig: 'œ',
  Scaron: 'Š',
  scaron: 'š',
  Yuml: 'Ÿ',
  fnof: 'ƒ',
  circ: 'ˆ',
  tilde: '˜',
};
/** Entities HTML still decodes without the trailing semicolon (the common legacy ones). */
const LEGACY_NO_SEMICOLON = new Set(['amp', 'lt', 'gt', 'quot', 'nbsp', 'copy', 'reg']);

/** Decodes HTML character references; unknown names are left as written. */
export function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(
    /&(#[xX][0-9a-fA-F]{1,6}|#\d{1,7}|[A-Za-z][A-Za-z0-9]{1,31})(;?)/g,
    (whole, ref: string, semi: string) => {
      if (ref.startsWith('#')) {
        const code =
          ref[1] === 'x' || ref[1] === 'X'
            ? parseInt(ref.slice(2), 16)
            : parseInt(ref.slice(1), 10);
        // NUL, surrogates and out-of-range references decode to U+FFFD, as browsers do.
        if (
          !Number.isFinite(code) ||
          code === 0 ||
          code > 0x10ffff ||
          (code >= 0xd800 && code <= 0xdfff)
        ) {
          return '\ufffd';
        }
        return String.fromCodePoint(code);
      }
      const value = NAMED_ENTITIES[ref];
      if (value === undefined || (!semi && !LEGACY_NO_SEMICOLON.has(ref))) return whole;
      return value;
    },
  );
}

/** Elements dropped with everything inside them. */
const DROPPED = new Set([
  'script',
  'style',
  'template',
  'noscript',
  'svg',
  'math',
  'iframe',
  'object',
]);
/** Raw-text elements: their content ends only at the matching close tag, markup inside is not parsed. */
const RAW_TEXT = new Set(['script', 'style', 'title', 'textarea', 'xmp', 'plaintext']);
const VOID = new Set([
  'area',
  'base',
  'br',
  'col',
  'embed',
  'hr',
  'img',
  'input',
  'link',
  'meta',
  'source',
  'track',
  'wbr',
]);
const BLOCK = new Set([
  'address',
  'article',
  'aside',
  'blockquote',
  'body',
  'caption',
  'dd',
  'details',
  'dialog',
  'div',
  'dl',
  'dt',
  'fieldset',
  'figcaption',
  'figure',
  'footer',
  'form',
  'header',
  'hgroup',
  'html',
  'li',
  'main',
  'nav',
  'ol',
  'p',
  'pre',
  'section',
  'summary',
  'table',
  'tbody',
  'thead',
  'tfoot',
  'tr',
  'ul',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'hr',
]);

interface Tag {
  name: string;
  closing: boolean;
  selfClosing: boolean;
  attrs: Record<string, string>;
  end: number;
}

/** Reads a tag starting at `i` (`html[i] === '<'`); undefined when it is not a tag (a lone `<`). */
function readTag(html: string, i: number): Tag | undefined {
  const m = /^<(\/?)([A-Za-z][A-Za-z0-9:-]*)/.exec(html.slice(i, i + 64));
  if (!m) return undefined;
  const name = (m[2] ?? '').toLowerCase();
  const attrs: Record<string, string> = {};
  const attrRe = /\s*(?:([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?|(\/))/y;
  let p = i + m[0].length;
  let selfClosing = false;
  while (p < html.length && html[p] !== '>') {
    attrRe.lastIndex = p;
    const a = attrRe.exec(html);
    if (!a || attrRe.lastIndex === p) {
      p++; // skip a junk character rather than fail
      continue;
    }
    if (a[5]) selfClosing = true;
    else if (a[1]) attrs[a[1].toLowerCase()] = decodeEntities(a[2] ?? a[3] ?? a[4] ?? '');
    p = attrRe.lastIndex;
  }
  return { name, closing: m[1] === '/', selfClosing, attrs, end: Math.min(p + 1, html.length) };
}

/** Accumulates Markdown-ish output with block spacing, list indentation and quote prefixes. */
class MarkdownWriter {
  readonly #buffers: string[][] = [[]];
  #pendingBreaks = 0;
  #atLineStart = true;
  #started = false;
  prefix = '';

  get #out(): string[] {
    return this.#buffers[this.#buffers.length - 1] as string[];
  }

  /** Requests `n` line breaks (1: new line, 2: blank line) before the next text. */
  breakLines(n: number): void {
    if (this.#started) this.#pendingBreaks = Math.max(this.#pendingBreaks, n);
  }

  #flushBreaks(): void {
    if (this.#pendingBreaks > 0) {
      this.#out.push('\n'.repeat(this.#pendingBreaks));
      this.#atLineStart = true;
      this.#pendingBreaks = 0;
    }
  }

  /** Writes inline text (whitespace already handled by the caller). */
  write(s: string, opts: { escapeLineStart?: boolean } = {}): void {
    if (!s) return;
    this.#flushBreaks();
    if (this.#atLineStart) {
      if (opts.escapeLineStart !== false) s = s.replace(/^(#|`{3}|~{3}|!!!)/, '\\$1');
      this.#out.push(this.prefix);
    }
    this.#out.push(s);
    this.#started = true;
    this.#atLineStart = false;
  }

  get atLineStart(): boolean {
    return this.#atLineStart || this.#pendingBreaks > 0;
  }

  /** True when the last written character is a space (so collapsed whitespace is not doubled). */
  get endsWithSpace(): boolean {
    const last = this.#out[this.#out.length - 1];
    return last !== undefined && last.endsWith(' ');
  }

  /** A hard line break (`<br>`): unlike {@link breakLines}, consecutive ones accumulate. */
  lineBreak(): void {
    this.#flushBreaks();
    this.#out.push('\n');
    this.#atLineStart = true;
    this.#started = true;
  }

  /** Starts collecting into a separate buffer (for `<pre>`, whose fence depends on its content). */
  push(): void {
    this.#buffers.push([]);
  }

  /** Ends the buffer started by {@link push} and returns its content. */
  pop(): string {
    return (this.#buffers.length > 1 ? (this.#buffers.pop() ?? []) : []).join('');
  }

  /** Writes preformatted text verbatim into the current buffer. */
  raw(s: string): void {
    this.#out.push(s);
  }

  toString(): string {
    return (this.#buffers[0] ?? [])
      .join('')
      .split('\n')
      .map((l) => l.replace(/[ \t]+$/, ''))
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trim();
  }
}

/** Converts an HTML document or fragment to Markdown-ish text. Never throws on malformed markup. */
export function htmlToText(html: string): HtmlConversion {
  const w = new MarkdownWriter();
  let title: string | undefined;
  const lists: { ordered: boolean; next: number }[] = [];
  let quoteDepth = 0;
  let heading: { level: number; id?: string } | undefined;
  let preDepth = 0;
  let cellIndex = 0;

  const updatePrefix = (): void => {
    w.prefix = '  '.repeat(Math.max(0, lists.length - 1)) + '> '.repeat(quoteDepth);
  };

  const text = (raw: string): void => {
    if (preDepth > 0) {
      w.raw(decodeEntities(raw).replace(/\u00a0/g, ' '));
      return;
    }
    let s = decodeEntities(raw).replace(/[\s\u00a0]+/g, ' ');
    if (w.atLineStart || w.endsWithSpace) s = s.replace(/^ /, '');
    w.write(s, { escapeLineStart: heading === undefined });
  };

  let i = 0;
  const n = html.length;
  let lower: string | undefined; // lowercased copy, made only when a raw-text element needs it
  while (i < n) {
    const lt = html.indexOf('<', i);
    if (lt === -1) {
      text(html.slice(i));
      break;
    }
    if (lt > i) text(html.slice(i, lt));
    i = lt;

    if (html.startsWith('<!--', i)) {
      const close = html.indexOf('-->', i + 4);
      i = close === -1 ? n : close + 3;
      continue;
    }
    if (html.startsWith('<![CDATA[', i)) {
      const close = html.indexOf(']]>', i + 9);
      text(html.slice(i + 9, close === -1 ? n : close).replace(/&/g, '&amp;'));
      i = close === -1 ? n : close + 3;
      continue;
    }
    if (html.startsWith('<!', i) || html.startsWith('<?', i)) {
      const close = html.indexOf('>', i);
      i = close === -1 ? n : close + 1;
      continue;
    }
    const tag = readTag(html, i);
    if (!tag) {
      text('<');
      i++;
      continue;
    }
    i = tag.end;
    const { name } = tag;

    if (!tag.closing && (RAW_TEXT.has(name) || DROPPED.has(name))) {
      if (RAW_TEXT.has(name)) {
        // Raw text ends at the first matching close tag, whatever it contains (`<script>` never nests).
        lower ??= html.toLowerCase();
        const close = lower.indexOf(`</${name}`, i);
        const content = html.slice(i, close === -1 ? n : close);
        if (name === 'title' && title === undefined) {
          title = decodeEntities(content).replace(/\s+/g, ' ').trim() || undefined;
        } else if (name === 'textarea' || name === 'xmp' || name === 'plaintext') {
          text(content);
        }
        const gt = close === -1 ? -1 : html.indexOf('>', close);
        i = gt === -1 ? n : gt + 1;
        continue;
      }
      if (tag.selfClosing) continue;
      // Dropped containers may nest (an <svg> in an <svg>): skip to the matching close.
      let depth = 1;
      const re = new RegExp(`<(/?)${name}(?=[\\s/>])[^>]*>`, 'gi');
      re.lastIndex = i;
      let m: RegExpExecArray | null;
      while (depth > 0 && (m = re.exec(html))) depth += m[1] === '/' ? -1 : 1;
      i = depth > 0 ? n : re.lastIndex;
      continue;
    }

    if (name === 'br') {
      if (heading) text(' ');
      else if (preDepth > 0) w.raw('\n');
      else w.lineBreak();
      continue;
    }
    if (preDepth > 0 && name !== 'pre') continue; // markup inside <pre> contributes its text only

    const level = /^h([1-6])$/.exec(name);
    if (level) {
      if (!tag.closing) {
        w.breakLines(2);
        heading = { level: Number(level[1]), ...(tag.attrs['id'] ? { id: tag.attrs['id'] } : {}) };
        w.write('#'.repeat(heading.level) + ' ', { escapeLineStart: false });
      } else if (heading) {
        if (heading.id && /^[^\s}"'=]+$/.test(heading.id)) w.write(` {#${heading.id}}`);
        heading = undefined;
        w.breakLines(2);
      }
      continue;
    }

    switch (name) {
      case 'pre':
        if (!tag.closing) {
          if (preDepth++ === 0) {
            w.breakLines(2);
            w.push();
          }
        } else if (preDepth > 0 && --preDepth === 0) {
          const body = w.pop().replace(/^\n/, '').replace(/\s+$/, '');
          const longest = Math.max(2, ...Array.from(body.matchAll(/`+/g), (m) => m[0].length));
          const fence = '`'.repeat(longest + 1);
          w.write(fence, { escapeLineStart: false });
          w.raw('\n' + body + '\n' + fence);
          w.breakLines(2);
        }
        continue;
      case 'ul':
      case 'ol':
        if (!tag.closing) {
          w.breakLines(lists.length > 0 ? 1 : 2);
          const start = Number.parseInt(tag.attrs['start'] ?? '1', 10);
          lists.push({ ordered: name === 'ol', next: Number.isFinite(start) ? start : 1 });
        } else if (lists.length > 0) {
          lists.pop();
          w.breakLines(lists.length > 0 ? 1 : 2);
        }
        updatePrefix();
        continue;
      case 'li':
        if (!tag.closing) {
          w.breakLines(1);
          const list = lists[lists.length - 1];
          const marker = list?.ordered ? `${list.next++}. ` : '- ';
          w.write(marker, { escapeLineStart: false });
        } else w.breakLines(1);
        continue;
      case 'blockquote':
        w.breakLines(2);
        quoteDepth = Math.max(0, quoteDepth + (tag.closing ? -1 : 1));
        updatePrefix();
        continue;
      case 'tr':
        w.breakLines(1);
        cellIndex = 0;
        continue;
      case 'td':
      case 'th':
        if (!tag.closing && cellIndex++ > 0) w.write(' | ');
        continue;
      case 'hr':
        w.breakLines(2);
        w.write('---', { escapeLineStart: false });
        w.breakLines(2);
        continue;
      case 'code':
        w.write('`', { escapeLineStart: false });
        continue;
      default:
        if (BLOCK.has(name)) w.breakLines(name === 'dt' || name === 'dd' ? 1 : 2);
        else if (VOID.has(name) || tag.selfClosing) continue;
    }
  }

  const out = w.toString();
  return { text: out, ...(title ? { title } : {}) };
}
