/**
 * Markdown (and heading-less plain text) → a flat, ordered Section tree with offsets.
 *
 * Decisions a later stage relies on:
 * - **Sections tile the text.** A section runs from its heading line (`start`) to the next
 *   heading of any level (`end`), so `end` covers the section's *own* text, not its subsections;
 *   use {@link subtreeEnd} for the whole subtree. Text before the first heading is a `preamble`
 *   section (level 0, `start === bodyStart`). A text with no headings is one `document` section.
 * - **Anchors.** The spec's own `{#id}` wins. Otherwise the anchor is the parent's anchor plus a
 *   slug of the title (`parent/child-title`), i.e. a slug of the heading path that reuses stable
 *   declared ids where the spec has them. Collisions get `-2`, `-3`… in document order.
 * - **Authority** (Model Spec `{#id authority=root|system|developer|user|guideline}`): a section
 *   that declares none inherits the nearest ancestor's. In every corpus release (2025-02 to
 *   2025-12) no section with a declared authority has subsections, so the rule only matters for
 *   other specs in this format; we inherit because the level belongs to the principle and a
 *   sub-heading under a principle is part of it. Authority never flows upward: organising
 *   headings such as `# Stay in bounds` keep none. `authority=platform` (releases before
 *   2025-09-12, renamed **root** in that release) is read as `root`.
 * - Headings inside fenced code blocks (``` and ~~~) are content, never structure.
 */
import { AUTHORITY_LEVELS, type Authority, type Section } from '../records';
import { scanText, type Line, type ScannedText } from './scan-lines';
import { AnchorRegistry, slugify } from './slug';

/** A section before ids are assigned (ingest adds `id`, `specVersionId`, `projectId`). */
export type ParsedSection = Omit<Section, 'id' | 'specVersionId' | 'projectId'>;

/** How the headings were found. */
export type HeadingStyle = 'atx' | 'inferred' | 'none';

export interface ParsedSections {
  sections: ParsedSection[];
  headingStyle: HeadingStyle;
  /** True when at least one heading carries a Model Spec `authority=` attribute. */
  hasAuthorityAttributes: boolean;
  /** Things the user may want to know (unknown authority values, duplicate ids…). */
  warnings: string[];
}

export interface ParseSectionsOptions {
  /** Reuse a scan of the same text (the ingest pipeline scans once). */
  scanned?: ScannedText;
  /** Title of the single section of a text without headings. */
  fallbackTitle?: string;
}

/** Anchor of the section holding the text before the first heading. */
export const PREAMBLE_ANCHOR = 'preamble';
/** Anchor of the only section of a text without headings. */
export const DOCUMENT_ANCHOR = 'document';

/** A heading found in the text, before anchors and the tree are assigned. */
export interface HeadingHit {
  start: number;
  bodyStart: number;
  level: number;
  title: string;
  id?: string;
  authority?: string;
  tags?: string[];
}

const ATX = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$/;
const CLOSING_HASHES = /(?:^|[ \t]+)#+[ \t]*$/;
const ATTR_BLOCK = /[ \t]*\{([^{}]*)\}[ \t]*$/;
const ATTR_TOKEN =
  /\s*(?:#([^\s}"'=]+)|\.([^\s}"'=]+)|([A-Za-z_][\w-]*)=(?:"([^"]*)"|'([^']*)'|([^\s}"']+)))/y;

/** Parsed `{#id .class key=value}` heading attributes, or undefined when the braces hold something else. */
export function parseHeadingAttributes(
  inner: string,
): { id?: string; classes: string[]; values: Record<string, string> } | undefined {
  const result: { id?: string; classes: string[]; values: Record<string, string> } = {
    classes: [],
    values: {},
  };
  ATTR_TOKEN.lastIndex = 0;
  let pos = 0;
  let count = 0;
  while (pos < inner.length) {
    if (inner.slice(pos).trim() === '') break;
    ATTR_TOKEN.lastIndex = pos;
    const m = ATTR_TOKEN.exec(inner);
    if (!m) return undefined;
    if (m[1] !== undefined) result.id = m[1];
    else if (m[2] !== undefined) result.classes.push(m[2]);
    else if (m[3] !== undefined) result.values[m[3]] = m[4] ?? m[5] ?? m[6] ?? '';
    pos = ATTR_TOKEN.lastIndex;
    count++;
  }
  return count > 0 ? result : undefined;
}

/** Reads one ATX heading line; undefined when the line is not a heading. */
function readAtxHeading(
  line: Line,
  next: Line | undefined,
  textLength: number,
): HeadingHit | undefined {
  const m = ATX.exec(line.text);
  if (!m) return undefined;
  let content = (m[2] ?? '').replace(CLOSING_HASHES, '');
  let id: string | undefined;
  let authority: string | undefined;
  let tags: string[] | undefined;
  const attrs = ATTR_BLOCK.exec(content);
  if (attrs) {
    const parsed = parseHeadingAttributes(attrs[1] ?? '');
    if (parsed) {
      content = content.slice(0, attrs.index);
      id = parsed.id;
      authority = parsed.values['authority'];
      const tagValue = parsed.values['tags'];
      if (tagValue)
        tags = tagValue
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean);
    }
  }
  const title = content.trim() || id;
  if (!title) return undefined; // an empty `#` line is not worth a section
  return {
    start: line.start,
    bodyStart: next ? next.start : textLength,
    level: (m[1] ?? '#').length,
    title,
    ...(id !== undefined ? { id } : {}),
    ...(authority !== undefined ? { authority } : {}),
    ...(tags ? { tags } : {}),
  };
}

function isBlank(line: Line | undefined): boolean {
  return line === undefined || line.text.trim() === '';
}

const NUMBERED =
  /^ {0,3}((?:(?:section|article|chapter|part)[ \t]+)?(\d+(?:\.\d+)*)\.?)[ \t]+(\S.*?)[ \t]*$/i;
const SETEXT = /^ {0,3}(=+|-+)[ \t]*$/;

function looksLikeTitle(title: string): boolean {
  const words = title.split(/\s+/).length;
  return (
    title.length <= 100 &&
    words <= 12 &&
    !/[.;,]$/.test(title) &&
    !/[.!?]\s+\p{Lu}/u.test(title) && // a second sentence: this is prose, not a title
    /^[\p{Lu}\p{Lo}\p{N}"'“(]/u.test(title)
  );
}

/**
 * Headings of a text without ATX headings: Setext underlines (`Title` over `====`/`----`), numbered
 * titles (`2.1 Scope`, `Section 3. Duties`) and ALL-CAPS title lines, each standing alone after a
 * blank line. Numbered and all-caps candidates need at least two hits, and a numbered line directly
 * followed by a sibling number is a list item, not a heading. Exported for tests.
 */
export function inferPlainHeadings(scanned: ScannedText, textLength: number): HeadingHit[] {
  const { lines, fenceOfLine } = scanned;
  const setext: HeadingHit[] = [];
  const numbered: (HeadingHit & { depth: number; line: number })[] = [];
  const caps: HeadingHit[] = [];

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as Line;
    if (fenceOfLine[i] !== -1 || isBlank(line) || !isBlank(lines[i - 1])) continue;
    const title = line.text.trim();
    const under = lines[i + 1];
    const u = under ? SETEXT.exec(under.text) : null;
    if (under && u && (u[1] ?? '').length >= 3 && title.length <= 120 && !/^[-*+>]/.test(title)) {
      setext.push({
        start: line.start,
        bodyStart: lines[i + 2]?.start ?? textLength,
        level: (u[1] ?? '=').startsWith('=') ? 1 : 2,
        title,
      });
      continue;
    }
    const n = NUMBERED.exec(line.text);
    if (n && looksLikeTitle(n[3] ?? '')) {
      numbered.push({
        start: line.start,
        bodyStart: lines[i + 1]?.start ?? textLength,
        level: 0,
        depth: (n[2] ?? '').split('.').length,
        line: i,
        title,
      });
      continue;
    }
    const letters = title.replace(/[^\p{L}]/gu, '');
    if (
      letters.length >= 3 &&
      letters === letters.toUpperCase() &&
      letters !== letters.toLowerCase() &&
      looksLikeTitle(title) &&
      isBlank(lines[i + 1])
    ) {
      caps.push({
        start: line.start,
        bodyStart: lines[i + 1]?.start ?? textLength,
        level: 1,
        title,
      });
    }
  }

  // A numbered "heading" immediately followed (after blank lines) by a sibling number is a list item.
  const startsAt = new Map(numbered.map((h, k) => [h.start, k]));
  const keptNumbered = numbered.filter((h) => {
    let j = h.line + 1;
    while (j < lines.length && isBlank(lines[j])) j++;
    const nextLine = lines[j];
    if (!nextLine) return false; // nothing under it
    const k = startsAt.get(nextLine.start);
    return k === undefined || (numbered[k] as { depth: number }).depth > h.depth;
  });

  const hits: HeadingHit[] = [...setext];
  if (keptNumbered.length >= 2) {
    const shift = caps.length >= 2 ? 1 : 0; // ALL-CAPS titles sit above numbered ones
    for (const { depth, line: _line, ...h } of keptNumbered) {
      hits.push({ ...h, level: Math.min(6, depth + shift) });
    }
  }
  if (caps.length >= 2) for (const h of caps) hits.push({ ...h, level: 1 });
  return hits.sort((a, b) => a.start - b.start);
}

/**
 * Parses the section tree of a Markdown or plain text. See the module comment for the anchor,
 * authority and offset rules.
 */
export function parseSections(text: string, options: ParseSectionsOptions = {}): ParsedSections {
  const scanned = options.scanned ?? scanText(text);
  const { lines, fenceOfLine } = scanned;
  const warnings: string[] = [];

  let hits: HeadingHit[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (fenceOfLine[i] !== -1) continue;
    const hit = readAtxHeading(lines[i] as Line, lines[i + 1], text.length);
    if (hit) hits.push(hit);
  }
  let headingStyle: HeadingStyle = 'atx';
  if (hits.length === 0) {
    hits = inferPlainHeadings(scanned, text.length);
    headingStyle = hits.length > 0 ? 'inferred' : 'none';
  }

  const sections: ParsedSection[] = [];
  const anchors = new AnchorRegistry();
  // Declared ids are reserved first so that a slug can never take an id the spec uses later.
  anchors.reserve(hits.map((h) => h.id).filter((id): id is string => id !== undefined));

  if (hits.length === 0) {
    const title = options.fallbackTitle?.trim() || 'Document';
    sections.push({
      anchor: anchors.claim(DOCUMENT_ANCHOR),
      title,
      headingPath: [title],
      level: 1,
      order: 0,
      start: 0,
      bodyStart: 0,
      end: text.length,
    });
    return { sections, headingStyle, hasAuthorityAttributes: false, warnings };
  }

  const first = hits[0] as HeadingHit;
  if (text.slice(0, first.start).trim() !== '') {
    sections.push({
      anchor: anchors.claim(PREAMBLE_ANCHOR),
      title: 'Preamble',
      headingPath: ['Preamble'],
      level: 0,
      order: 0,
      start: 0,
      bodyStart: 0,
      end: first.start,
    });
  }

  const seenIds = new Set<string>();
  let hasAuthorityAttributes = false;
  const stack: ParsedSection[] = [];

  hits.forEach((hit, k) => {
    while (stack.length > 0 && (stack[stack.length - 1] as ParsedSection).level >= hit.level) {
      stack.pop();
    }
    const parent = stack[stack.length - 1];

    let anchor: string;
    if (hit.id !== undefined) {
      if (seenIds.has(hit.id)) warnings.push(`The heading id "#${hit.id}" is used more than once.`);
      seenIds.add(hit.id);
      anchor = anchors.claim(hit.id, true);
    } else {
      const slug = slugify(hit.title);
      anchor = anchors.claim(parent ? `${parent.anchor}/${slug}` : slug);
    }

    let authority: Authority | undefined;
    if (hit.authority !== undefined) {
      hasAuthorityAttributes = true;
      const value =
        hit.authority.toLowerCase() === 'platform' ? 'root' : hit.authority.toLowerCase();
      if ((AUTHORITY_LEVELS as readonly string[]).includes(value)) authority = value as Authority;
      else {
        warnings.push(
          `Heading "${hit.title}" declares an unknown authority "${hit.authority}"; expected one of ${AUTHORITY_LEVELS.join(', ')}.`,
        );
      }
    }
    authority ??= parent?.authority;

    const next = hits[k + 1];
    const section: ParsedSection = {
      anchor,
      title: hit.title,
      headingPath: [...(parent?.headingPath ?? []), hit.title],
      level: hit.level,
      order: sections.length,
      start: hit.start,
      bodyStart: hit.bodyStart,
      end: next ? next.start : text.length,
      ...(parent ? { parentAnchor: parent.anchor } : {}),
      ...(authority ? { authority } : {}),
      ...(hit.tags && hit.tags.length > 0 ? { tags: hit.tags } : {}),
    };
    sections.push(section);
    stack.push(section);
  });

  return { sections, headingStyle, hasAuthorityAttributes, warnings };
}

/**
 * End of a section's subtree: where the next section at the same or a higher level (smaller
 * number) begins, or the end of the last section. `sections` must be in document order.
 */
export function subtreeEnd<S extends Pick<Section, 'level' | 'end'>>(
  sections: S[],
  index: number,
): number {
  const own = sections[index];
  if (!own) throw new RangeError(`No section at index ${index}.`);
  let end = own.end;
  for (let k = index + 1; k < sections.length; k++) {
    const s = sections[k] as S;
    if (s.level <= own.level) break;
    end = s.end;
  }
  return end;
}

/**
 * The section whose own text contains `offset` (binary search over sections that tile the text),
 * or undefined for an offset outside every section.
 */
export function sectionAt<S extends Pick<Section, 'start' | 'end'>>(
  sections: S[],
  offset: number,
): S | undefined {
  let lo = 0;
  let hi = sections.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = sections[mid] as S;
    if (offset < s.start) hi = mid - 1;
    else if (offset >= s.end) lo = mid + 1;
    else return s;
  }
  return undefined;
}
