/**
 * Worked examples and commentary of the OpenAI Model Spec format, parsed without a model.
 *
 * An example is a ` ~~~xml ` fenced block (``` works too) of conversation turns:
 * `<system>`, `<developer>`, `<user>`, `<assistant>`, `<tool>` (attributes such as
 * `recipient="browser"` are kept), and `<comparison>` groups of alternative assistant replies, each
 * labelled by an HTML comment right after the opening tag. Label grammar, from all five corpus
 * releases: `<!-- (GOOD|BAD|OK)([#anchor])?([:,] note)? -->`, e.g. `<!-- BAD: breaks confidentiality -->`,
 * `<!-- BAD[#chain_of_command] -->`, `<!-- GOOD, given high uncertainty -->`.
 *
 * Decisions:
 * - `OK` ("acceptable, not ideal") becomes verdict `good` with `label: 'OK'`: it is not a violation,
 *   so it must not become a gold "violated" label; rankers can still put GOOD above OK.
 * - A block with several `<comparison>` groups (multi-turn) yields **one SpecExample per group**:
 *   each keeps the turns before its group, and every earlier group is replaced by its preferred
 *   reply (first GOOD, else first OK, else the first reply) so the conversation reads on. All of
 *   them share the block's span; `order` tells them apart. A block without groups is one example
 *   with no comparisons (e.g. the Model Spec's format illustrations).
 * - The title is the `**Example**: title` line before the block; any paragraphs between that line
 *   and the block are the description. Text before the first tag inside a block is a description too.
 * - Tags are found anywhere (the 2025-02/04 releases have a stray `*<comparison>` typo). Inside a
 *   turn only its own closing tag ends it, so nested markup (`<untrusted>`, `<settings>`) is content.
 * - `!!! meta "…"` admonitions (indented content) are commentary: their spans are returned as
 *   {@link MetaSpan}s so rule extraction treats them as context, never as rules.
 */
import type { ExampleTurnRole, Section, SpecExample } from '../records';
import { sectionAt } from './parse-markdown';
import { scanText, type Line, type ScannedText } from './scan-lines';

/** A commentary block: context for the reader, not a rule. */
export interface MetaSpan {
  start: number;
  end: number;
  /** Admonition type; always `meta` for the Model Spec. */
  kind: string;
  /** The quoted admonition title, e.g. `Commentary`. */
  title?: string;
  sectionAnchor?: string;
}

/** An example before ids are assigned (ingest adds `id`, `specVersionId`, `projectId`). */
export type ParsedExample = Omit<SpecExample, 'id' | 'specVersionId' | 'projectId'>;

type Turn = SpecExample['turns'][number];
type Reply = SpecExample['comparisons'][number];

export interface ParsedExamples {
  examples: ParsedExample[];
  metaSpans: MetaSpan[];
  /** Number of fenced blocks that held example turns. */
  blockCount: number;
  warnings: string[];
}

const TURN_ROLES = new Set<string>(['system', 'developer', 'user', 'assistant', 'tool']);
const TAG =
  /<(\/?)(system|developer|user|assistant|tool|comparison)((?:\s+[\w:-]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>"']+))?)*)\s*>/gi;
const ATTR = /([\w:-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?/g;
const LABEL =
  /^[ \t]*<!--\s*(GOOD|BAD|OK)\b(?:\s*\[#([^\]\s]+)\])?\s*(?:[:,]\s*([\s\S]*?))?\s*-->/i;
const TITLE_LINE = /^\s*\*\*Example(?::\*\*|\*\*:?)\s*(.*)$/i;

function parseAttributes(source: string): Record<string, string> | undefined {
  const attrs: Record<string, string> = {};
  let any = false;
  for (const m of source.matchAll(ATTR)) {
    if (!m[1]) continue;
    attrs[m[1]] = m[2] ?? m[3] ?? m[4] ?? '';
    any = true;
  }
  return any ? attrs : undefined;
}

/** Drops the rest of the tag line when it is blank, and trailing whitespace. */
function cleanContent(raw: string): string {
  return raw.replace(/^[ \t]*\n/, '').replace(/\s+$/, '');
}

type Segment = { kind: 'turn'; turn: Turn } | { kind: 'comparison'; replies: Reply[] };

/** Parses the inside of one example block into turns and comparison groups. */
function parseBlock(
  content: string,
  where: string,
  warnings: string[],
): { segments: Segment[]; leading: string } {
  const segments: Segment[] = [];
  let group: Reply[] | undefined;
  let open:
    | {
        role: ExampleTurnRole;
        attrs?: Record<string, string>;
        contentStart: number;
        label?: RegExpExecArray;
      }
    | undefined;
  let firstTag = -1;

  TAG.lastIndex = 0;
  for (let m = TAG.exec(content); m; m = TAG.exec(content)) {
    const closing = m[1] === '/';
    const name = (m[2] ?? '').toLowerCase();
    if (firstTag === -1) firstTag = m.index;
    if (open) {
      if (!closing || name !== open.role) continue; // nested markup is turn content
      const text = cleanContent(content.slice(open.contentStart, m.index));
      if (group && open.role === 'assistant') {
        if (open.label) {
          const word = (open.label[1] ?? '').toUpperCase() as 'GOOD' | 'BAD' | 'OK';
          const reply: Reply = {
            verdict: word === 'BAD' ? 'bad' : 'good',
            content: text,
            label: word,
          };
          const note = open.label[3]?.trim();
          if (note) reply.note = note;
          if (open.label[2]) reply.citedAnchor = open.label[2];
          group.push(reply);
        } else {
          warnings.push(
            `${where}: an assistant reply in <comparison> has no GOOD/BAD/OK label; skipped.`,
          );
        }
      } else {
        if (open.label) {
          warnings.push(
            `${where}: a labelled assistant reply outside <comparison> was read as a plain turn.`,
          );
        }
        const turn: Turn = { role: open.role, content: text };
        if (open.attrs) turn.attributes = open.attrs;
        if (group) {
          warnings.push(
            `${where}: a <${open.role}> turn inside <comparison> was read as a plain turn.`,
          );
        }
        segments.push({ kind: 'turn', turn });
      }
      open = undefined;
      continue;
    }
    if (name === 'comparison') {
      if (!closing) {
        if (group) segments.push({ kind: 'comparison', replies: group });
        group = [];
      } else if (group) {
        segments.push({ kind: 'comparison', replies: group });
        group = undefined;
      }
      continue;
    }
    if (closing || !TURN_ROLES.has(name)) {
      warnings.push(`${where}: stray </${name}> ignored.`);
      continue;
    }
    const tagEnd = m.index + m[0].length;
    const label = LABEL.exec(content.slice(tagEnd, tagEnd + 2000)) ?? undefined;
    const attrs = parseAttributes(m[3] ?? '');
    open = {
      role: name as ExampleTurnRole,
      contentStart: tagEnd + (label ? label[0].length : 0),
      ...(attrs ? { attrs } : {}),
      ...(label ? { label } : {}),
    };
  }
  if (open) {
    warnings.push(`${where}: <${open.role}> is never closed; read to the end of the block.`);
    segments.push({
      kind: 'turn',
      turn: { role: open.role, content: cleanContent(content.slice(open.contentStart)) },
    });
  }
  if (group) {
    warnings.push(`${where}: <comparison> is never closed.`);
    segments.push({ kind: 'comparison', replies: group });
  }
  const leading =
    firstTag > 0
      ? content
          .slice(0, firstTag)
          .replace(/<!--|-->/g, '')
          .trim()
      : '';
  return { segments, leading };
}

/** The reply that continues the conversation after a comparison group. */
function preferredReply(replies: Reply[]): Reply | undefined {
  return (
    replies.find((r) => r.label === 'GOOD') ??
    replies.find((r) => r.verdict === 'good') ??
    replies[0]
  );
}

/** Title (`**Example**: …`) and description paragraphs before the block at `openLine`. */
function readHeading(lines: Line[], openLine: number): { title?: string; description?: string } {
  const paragraphs: string[][] = [];
  let i = openLine - 1;
  // Look back at most three paragraphs: title, then up to two description paragraphs.
  while (paragraphs.length < 3) {
    while (i >= 0 && (lines[i] as Line).text.trim() === '') i--;
    if (i < 0) break;
    const para: string[] = [];
    while (i >= 0 && (lines[i] as Line).text.trim() !== '') {
      const t = (lines[i] as Line).text;
      if (/^ {0,3}(#{1,6}\s|~~~|```)/.test(t)) break; // never look past a heading or another block
      para.unshift(t);
      i--;
    }
    if (para.length === 0) break;
    paragraphs.unshift(para);
    const m = TITLE_LINE.exec(para[0] as string);
    if (m) {
      const title = (m[1] ?? '').trim();
      const rest = [para.slice(1).join('\n'), ...paragraphs.slice(1).map((p) => p.join('\n'))]
        .map((s) => s.trim())
        .filter(Boolean)
        .join('\n\n');
      return { ...(title ? { title } : {}), ...(rest ? { description: rest } : {}) };
    }
    if (i >= 0 && /^ {0,3}(#{1,6}\s|~~~|```)/.test((lines[i] as Line).text)) break;
  }
  return {};
}

/**
 * Finds the examples and commentary spans of a normalised spec text.
 *
 * @param sections the parsed sections of the same text (document order), to link each example
 *   and commentary block to the section that contains it.
 */
export function parseExamples(
  text: string,
  sections: Pick<Section, 'anchor' | 'start' | 'end'>[],
  options: { scanned?: ScannedText } = {},
): ParsedExamples {
  const scanned = options.scanned ?? scanText(text);
  const warnings: string[] = [];
  const examples: ParsedExample[] = [];
  let blockCount = 0;

  for (const fence of scanned.fences) {
    if (fence.info.split(/\s+/)[0] !== 'xml') continue;
    const content = text.slice(fence.contentStart, fence.contentEnd);
    TAG.lastIndex = 0;
    if (!TAG.test(content)) continue; // ordinary XML, not a conversation
    blockCount++;
    const line = fence.openLine + 1;
    const where = `Example block at line ${line}`;
    const sectionAnchor = sectionAt(sections, fence.start)?.anchor ?? '';
    if (fence.closeLine === -1) warnings.push(`${where} is never closed.`);
    const { segments, leading } = parseBlock(content, where, warnings);
    const heading = readHeading(scanned.lines, fence.openLine);
    const description = heading.description ?? (leading || undefined);

    const base = {
      sectionAnchor,
      ...(heading.title !== undefined ? { title: heading.title } : {}),
      ...(description !== undefined ? { description } : {}),
      start: fence.start,
      end: fence.end,
    };
    const context: Turn[] = [];
    let groups = 0;
    for (const seg of segments) {
      if (seg.kind === 'turn') {
        context.push(seg.turn);
        continue;
      }
      groups++;
      examples.push({
        ...base,
        order: examples.length,
        turns: [...context],
        comparisons: seg.replies,
      });
      const next = preferredReply(seg.replies);
      if (next) context.push({ role: 'assistant', content: next.content });
    }
    if (groups === 0) {
      examples.push({ ...base, order: examples.length, turns: context, comparisons: [] });
    } else if (segments[segments.length - 1]?.kind === 'turn') {
      warnings.push(`${where}: turns after the last <comparison> are not part of any example.`);
    }
  }

  const metaSpans: MetaSpan[] = scanned.admonitions
    .filter((a) => a.kind === 'meta')
    .map((a) => {
      const anchor = sectionAt(sections, a.start)?.anchor;
      return {
        start: a.start,
        end: a.end,
        kind: a.kind,
        ...(a.title !== undefined ? { title: a.title } : {}),
        ...(anchor !== undefined ? { sectionAnchor: anchor } : {}),
      };
    });

  return { examples, metaSpans, blockCount, warnings };
}
