/**
 * Fixtures for the rule-annotation tests: the real Model Spec corpus (copied into
 * `tests/fixtures/model-spec/`) ingested once, a tiny independent section parser for
 * hand-written texts, and a rule factory.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { RuleDraft } from '$lib/core/rules/annotate';
import type { ChunkableSection } from '$lib/core/rules/chunking';
import { AUTHORITY_LEVELS, type Authority, type Section } from '$lib/core/records';
import { ingestSpec } from '$lib/core/spec/ingest';

export const CORPUS_DIR = path.resolve(import.meta.dirname, '../../../fixtures/model-spec');
export const LATEST_SPEC = 'openai-model-spec-2025-12-18.md';

export interface CorpusSpec {
  text: string;
  sections: Section[];
  metaSpans: { start: number; end: number }[];
}

const cache = new Map<string, Promise<CorpusSpec>>();

/** The corpus release ingested by the real spec pipeline (cached per file). */
export function loadCorpus(file = LATEST_SPEC): Promise<CorpusSpec> {
  let loaded = cache.get(file);
  if (!loaded) {
    loaded = (async () => {
      const raw = readFileSync(path.join(CORPUS_DIR, file), 'utf8');
      const ingested = await ingestSpec(
        { name: file, text: raw, sourceType: 'markdown' },
        { specVersionId: 'v1', projectId: 'p1' },
      );
      return {
        text: ingested.version.text,
        sections: ingested.sections,
        metaSpans: ingested.metaSpans.map((m) => ({ start: m.start, end: m.end })),
      };
    })();
    cache.set(file, loaded);
  }
  return loaded;
}

/**
 * Fenced code blocks found by an independent, deliberately naive reading (opening and closing
 * ``` / ~~~ lines in pairs), to check the detector against.
 */
export function naiveFences(text: string): { start: number; end: number }[] {
  const spans: { start: number; end: number }[] = [];
  const re = /^(`{3,}|~{3,}).*$/gm;
  let open: { start: number; marker: string } | undefined;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const marker = (m[1] as string)[0] as string;
    if (!open) open = { start: m.index, marker };
    else if (marker === open.marker && m[0].trim() === m[0].trim().replace(/[^`~]/g, '')) {
      spans.push({ start: open.start, end: m.index + m[0].length });
      open = undefined;
    }
  }
  return spans;
}

/**
 * Sections of a hand-written Markdown text: one per ATX heading (tiling the text), with
 * `{#id authority=level}` read from the heading. Independent of the spec ingester.
 */
export function sectionsOf(text: string): ChunkableSection[] {
  const heads: {
    start: number;
    level: number;
    title: string;
    anchor: string;
    authority?: Authority;
  }[] = [];
  const re = /^(#{1,6})[ \t]+(.*?)(?:[ \t]*\{#([\w-]+)(?:[ \t]+authority=(\w+))?\})?[ \t]*$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const level = (m[1] as string).length;
    const title = (m[2] as string).trim();
    const authority = m[4] as Authority | undefined;
    heads.push({
      start: m.index,
      level,
      title,
      anchor: m[3] ?? title.toLowerCase().replace(/\W+/g, '-'),
      ...(authority && (AUTHORITY_LEVELS as readonly string[]).includes(authority)
        ? { authority }
        : {}),
    });
  }
  const stack: string[] = [];
  return heads.map((h, i) => {
    stack.length = h.level - 1;
    stack[h.level - 1] = h.title;
    return {
      anchor: h.anchor,
      title: h.title,
      headingPath: stack.filter(Boolean),
      level: h.level,
      start: h.start,
      end: heads[i + 1]?.start ?? text.length,
      ...(h.authority ? { authority: h.authority } : {}),
    };
  });
}

/** A rule draft with sensible defaults. */
export function draft(overrides: Partial<RuleDraft> & { statement: string }): RuleDraft {
  return {
    specVersionId: 'v1',
    sectionAnchor: 's',
    direction: 'positive',
    stage: 'content',
    domain: 'general',
    family: 'general',
    priority: 0,
    strength: 'should',
    exceptions: [],
    appliesWhen: [],
    source: { quote: overrides.statement, start: 0, end: 0, located: false },
    status: 'proposed',
    origin: 'model',
    ...overrides,
  };
}
