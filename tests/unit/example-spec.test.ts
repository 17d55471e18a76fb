/**
 * The example spec behind "Try an example" (public/example-spec.md): checks its Model Spec format
 * with regexes of its own (independent of the app's parser), then, when the ingestion module is
 * present, that ingestion reads the same structure.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SPEC_PATH = fileURLToPath(new URL('../../public/example-spec.md', import.meta.url));
const INGEST_PATH = fileURLToPath(new URL('../../src/lib/core/spec/ingest.ts', import.meta.url));

const bytes = new Uint8Array(readFileSync(SPEC_PATH));
const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
const lines = text.split('\n');

const AUTHORITIES = ['root', 'system', 'developer', 'user', 'guideline'];
/** Words that make a sentence a rule. */
const NORMATIVE = /\b(?:must|should|shall|never|always|avoid|do not|don['’]t|required to)\b/i;
const NEGATIVE = /\b(?:must not|should not|never|do not|don['’]t|avoid)\b/i;
const EXCEPTION = /\b(?:unless|except|even when|even if)\b/i;

/** Lines inside fenced blocks (``` or ~~~), fence lines included. */
function fencedLines(): boolean[] {
  const inside = lines.map(() => false);
  let open: string | undefined;
  lines.forEach((line, i) => {
    const fence = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (open) {
      inside[i] = true;
      if (fence && fence[0] === open[0] && fence.length >= open.length && line.trim() === fence)
        open = undefined;
    } else if (fence) {
      inside[i] = true;
      open = fence;
    }
  });
  return inside;
}
const fenced = fencedLines();

/** Heading lines outside fenced blocks. */
const headings = lines.filter((line, i) => !fenced[i] && /^#{1,6}[ \t]/.test(line));

/** `~~~xml` blocks: their content. */
const xmlBlocks = [...text.matchAll(/^~~~xml[ \t]*\n([\s\S]*?)^~~~[ \t]*$/gm)].map(
  (m) => m[1] as string,
);

/** `!!! meta "Title"` admonitions, each with its indented content. */
const metaBlocks = [
  ...text.matchAll(/^!!! meta "[^"\n]+"[ \t]*\n((?:[ \t]*\n)*(?: {4}\S.*\n(?:[ \t]*\n)*)+)/gm),
].map((m) => m[1] as string);

interface Unit {
  text: string;
  kind: 'sentence' | 'item';
  /** For a list item: the normative lead-in sentence (ending in ':') just before the list. */
  leadIn?: string;
}

/**
 * Rule candidates: sentences of prose paragraphs and list items, outside fenced blocks, headings
 * and commentary. A sentence ending in ':' right before a list is a lead-in: it is not a unit of
 * its own, and its items count as normative when it is ("Harbor must never:" + bullets).
 */
function proseUnits(): Unit[] {
  const paragraphs: string[][] = [];
  let current: string[] = [];
  let inMeta = false;
  const flush = (): void => {
    if (current.length) paragraphs.push(current);
    current = [];
  };
  lines.forEach((line, i) => {
    if (inMeta && (line.trim() === '' || /^ {4}/.test(line))) return;
    inMeta = false;
    if (fenced[i] || /^#{1,6}[ \t]/.test(line) || line.trim() === '') return flush();
    if (/^!!! /.test(line)) {
      flush();
      inMeta = true;
      return;
    }
    current.push(line);
  });
  flush();

  const units: Unit[] = [];
  let previous: Unit | undefined;
  for (const para of paragraphs) {
    const isList = /^\s*(?:[-*+]|\d+[.)])\s/.test(para[0] as string);
    if (isList) {
      const leadIn =
        previous?.kind === 'sentence' && /:$/.test(previous.text) ? previous : undefined;
      if (leadIn) units.splice(units.indexOf(leadIn), 1);
      const items: string[] = [];
      for (const line of para) {
        if (/^\s*(?:[-*+]|\d+[.)])\s/.test(line))
          items.push(line.replace(/^\s*(?:[-*+]|\d+[.)])\s+/, ''));
        else items[items.length - 1] += ` ${line.trim()}`;
      }
      for (const item of items)
        units.push({ text: item, kind: 'item', ...(leadIn ? { leadIn: leadIn.text } : {}) });
      previous = undefined;
      continue;
    }
    const sentences = para
      .join(' ')
      .replace(/\s+/g, ' ')
      .trim()
      .split(/(?<=[.!?:]["”’)]?)\s+(?=["“(]?[A-Z0-9])/);
    for (const sentence of sentences) units.push({ text: sentence, kind: 'sentence' });
    previous = units[units.length - 1];
  }
  return units;
}
const units = proseUnits();
const isNormative = (u: Unit): boolean =>
  NORMATIVE.test(u.text) || (u.leadIn !== undefined && NORMATIVE.test(u.leadIn));
const isNegative = (u: Unit): boolean =>
  NEGATIVE.test(u.text) || (u.leadIn !== undefined && NEGATIVE.test(u.leadIn));
const rules = units.filter(isNormative);

describe('public/example-spec.md', () => {
  it('is plain UTF-8 under 40 KB, with LF line ends and one final newline', () => {
    expect(bytes.byteLength).toBeLessThan(40 * 1024);
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes)).not.toThrow();
    expect([...bytes.slice(0, 3)]).not.toEqual([0xef, 0xbb, 0xbf]); // no BOM
    // No tabs, CRs or other control characters, and no replacement characters.
    const bad = [...text].filter((c) => {
      const code = c.codePointAt(0) ?? 0;
      return (code < 0x20 && code !== 0x0a) || code === 0x7f || code === 0xfffd;
    });
    expect(bad).toEqual([]);
    expect(text).not.toMatch(/[\u00a0\u200b-\u200f\u2028\u2029\u2060\ufeff]/); // no invisible characters
    expect(text.endsWith('\n') && !text.endsWith('\n\n')).toBe(true);
  });

  it('is 2,000 to 3,500 words long', () => {
    const words = text.split(/\s+/).filter(Boolean).length;
    expect(words).toBeGreaterThanOrEqual(2000);
    expect(words).toBeLessThanOrEqual(3500);
  });

  it('gives every heading a unique snake_case id and a valid authority level', () => {
    expect(headings.length).toBeGreaterThan(10);
    const ids: string[] = [];
    const levels = new Set<string>();
    for (const heading of headings) {
      const m = /^#{1,6} \S.*? \{#([a-z][a-z0-9_]*) authority=([a-z]+)\}$/.exec(heading);
      expect(m, heading).not.toBeNull();
      expect(AUTHORITIES, heading).toContain(m?.[2]);
      ids.push(m?.[1] as string);
      levels.add(m?.[2] as string);
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect([...levels].sort()).toEqual([...AUTHORITIES].sort()); // a mix: every level is used
  });

  it('has one title and 6 to 8 top-level sections', () => {
    expect(headings.filter((h) => h.startsWith('# '))).toHaveLength(1);
    expect(headings[0]).toMatch(/^# /);
    const sections = headings.filter((h) => h.startsWith('## ')).length;
    expect(sections).toBeGreaterThanOrEqual(6);
    expect(sections).toBeLessThanOrEqual(8);
  });

  it('states 25 to 45 rules, both positive and negative, some with exceptions', () => {
    expect(rules.length).toBeGreaterThanOrEqual(25);
    expect(rules.length).toBeLessThanOrEqual(45);
    const negative = rules.filter(isNegative).length;
    expect(negative).toBeGreaterThanOrEqual(10);
    expect(rules.length - negative).toBeGreaterThanOrEqual(10);
    expect(rules.filter((u) => EXCEPTION.test(u.text)).length).toBeGreaterThanOrEqual(3);
    // Normative lead-ins with bullets ("Harbor must never:") are there too.
    expect(rules.filter((u) => u.leadIn !== undefined).length).toBeGreaterThanOrEqual(3);
  });

  it('has at least 4 ~~~xml examples, each comparing GOOD and BAD replies', () => {
    expect(xmlBlocks.length).toBeGreaterThanOrEqual(4);
    for (const block of xmlBlocks) {
      const comparison = /<comparison>([\s\S]*?)<\/comparison>/.exec(block)?.[1];
      expect(comparison, block.slice(0, 80)).toBeDefined();
      expect(comparison).toMatch(/<assistant>\s*<!--\s*GOOD\b[^>]*-->/);
      expect(comparison).toMatch(/<assistant>\s*<!--\s*BAD\b[^>]*-->/);
      // Every reply in the comparison is labelled, and every turn is closed.
      const replies = comparison?.match(/<assistant\b[^>]*>/g) ?? [];
      const labelled = comparison?.match(/<assistant\b[^>]*>[ \t]*<!--\s*(?:GOOD|BAD)\b/g) ?? [];
      expect(labelled.length).toBe(replies.length);
      for (const role of ['developer', 'user', 'assistant', 'tool', 'comparison']) {
        const opened = block.match(new RegExp(`<${role}\\b[^>]*>`, 'g'))?.length ?? 0;
        const closed = block.match(new RegExp(`</${role}>`, 'g'))?.length ?? 0;
        expect(closed, `${role} in ${block.slice(0, 60)}`).toBe(opened);
      }
    }
    expect(xmlBlocks.some((b) => /^<developer>$/m.test(b))).toBe(true);
  });

  it('puts a title line before every example', () => {
    const opens = lines.flatMap((line, i) => (/^~~~xml[ \t]*$/.test(line) ? [i] : []));
    expect(opens).toHaveLength(xmlBlocks.length);
    for (const open of opens) {
      // The nearest non-blank line before the block, or the one before it (then a description).
      const previous = lines.slice(0, open).filter((l) => l.trim() !== '');
      const [earlier, nearest] = previous.slice(-2);
      const title = /^\*\*Example\*\*: \S/;
      expect(title.test(nearest ?? '') || title.test(earlier ?? ''), `line ${open + 1}`).toBe(true);
    }
  });

  it('has at least 2 !!! meta commentary blocks with indented content', () => {
    expect(metaBlocks.length).toBeGreaterThanOrEqual(2);
    expect(metaBlocks.length).toBe((text.match(/^!!! /gm) ?? []).length);
  });
});

/** The part of ingest.ts this test uses, typed here so the test compiles without it. */
interface IngestModule {
  ingestSpec(
    input: { name: string; text: string },
    ids: { specVersionId: string; projectId: string },
  ): Promise<{
    version: { format: string; title: string };
    sections: { anchor: string; title: string; authority?: string }[];
    examples: {
      sectionAnchor: string;
      turns: { role: string }[];
      comparisons: { verdict: 'good' | 'bad' }[];
    }[];
    metaSpans: unknown[];
    warnings: string[];
  }>;
}

describe.runIf(existsSync(INGEST_PATH))('ingestSpec on public/example-spec.md', () => {
  it('reads the format, every section, every example and every labelled reply', async () => {
    const { ingestSpec } = (await import(/* @vite-ignore */ INGEST_PATH)) as IngestModule;
    const result = await ingestSpec(
      { name: 'example-spec.md', text },
      { specVersionId: 'v', projectId: 'p' },
    );
    expect(result.version.format).toBe('openai-model-spec');
    expect(result.version.title).toBe(/^# (.*?) \{#/.exec(headings[0] as string)?.[1]);
    expect(result.warnings).toEqual([]);

    expect(result.sections).toHaveLength(headings.length);
    const declared = headings.map((h) => /\{#(\S+) authority=(\w+)\}$/.exec(h));
    expect(result.sections.map((s) => s.anchor)).toEqual(declared.map((m) => m?.[1]));
    expect(result.sections.map((s) => s.authority)).toEqual(declared.map((m) => m?.[2]));

    expect(result.examples).toHaveLength(xmlBlocks.length);
    const anchors = new Set(result.sections.map((s) => s.anchor));
    result.examples.forEach((example, i) => {
      const block = xmlBlocks[i] as string;
      const good = block.match(/<!--\s*GOOD\b/g)?.length ?? 0;
      const bad = block.match(/<!--\s*BAD\b/g)?.length ?? 0;
      expect(example.comparisons.filter((c) => c.verdict === 'good')).toHaveLength(good);
      expect(example.comparisons.filter((c) => c.verdict === 'bad')).toHaveLength(bad);
      expect(anchors.has(example.sectionAnchor)).toBe(true);
    });
    expect(result.examples.some((e) => e.turns.some((t) => t.role === 'developer'))).toBe(true);
    expect(result.metaSpans).toHaveLength(metaBlocks.length);
  });
});
