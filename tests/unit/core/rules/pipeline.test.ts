/**
 * The whole annotation flow on the 270 KB Model Spec with a scripted "model" that quotes the
 * chunk's own sentences (slightly garbled, as small models do): every offset must land on the
 * sentence quoted, every rule gets its section's authority, and coverage, dedupe, families and
 * the rules file work at full scale.
 */
import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '$lib/core/llm';
import { AUTHORITY_LEVELS, type Rule } from '$lib/core/records';
import {
  DEFAULT_ANSWER_TOKENS,
  annotateChunk,
  annotationPromptOverhead,
  chunkSections,
  clusterFamilies,
  dedupeRules,
  detectNormativeSentences,
  measureCoverage,
  parseRulesFile,
  serializeRulesFile,
  splitSentences,
  type RuleDraft,
} from '$lib/core/rules';
import { ScriptedEngine } from '../../../helpers/scripted-engine';
import { loadCorpus } from './fixtures';

/** Plays the annotator: up to 12 rules quoting the chunk's sentences that say must/should/never. */
function quotingModel(request: ChatRequest): string {
  const user = request.messages[1]?.content ?? '';
  const text = user.slice(user.indexOf('"""\n') + 4, user.lastIndexOf('\n"""'));
  const picked = splitSentences(text)
    .sentences.map((s) => s.text)
    .filter((s) => /\b(must|should|never)\b/i.test(s) && s.split(' ').length >= 6)
    .slice(0, 12);
  return JSON.stringify({
    rules: picked.map((s, i) => ({
      // Garble every other quote the way small models do: case, spacing, curly → straight.
      sourceQuote: i % 2 ? s.toLowerCase().replace(/[’‘]/g, "'").replace(/ /g, '  ') : s,
      statement: s.replace(/\s+/g, ' ').slice(0, 200),
      direction: /\b(not|never)\b/i.test(s) ? 'negative' : 'positive',
      strength: /\bmust\b/i.test(s) ? 'must' : 'should',
      stage: 'content',
      domain: 'general',
      family: `f${i % 3}`,
      priority: 'unspecified',
      appliesWhen: [],
      exceptions: [],
    })),
  });
}

const squash = (s: string) =>
  s.toLowerCase().replace(/[’‘]/g, "'").replace(/[*`]/g, '').replace(/\s+/g, ' ').trim();

describe('annotation pipeline on the Model Spec with a scripted model', () => {
  it('annotates every chunk, locates every quote and carries the spec’s authority', async () => {
    const { text, sections, metaSpans } = await loadCorpus();
    const normative = detectNormativeSentences(text, 0, { excludeSpans: metaSpans });
    const chunks = chunkSections(sections, text, {
      contextWindow: 4096,
      promptOverheadTokens: annotationPromptOverhead(),
      answerTokens: DEFAULT_ANSWER_TOKENS,
    });
    const engine = new ScriptedEngine((request) => quotingModel(request), { contextWindow: 4096 });

    const t0 = performance.now();
    const drafts: RuleDraft[] = [];
    for (const chunk of chunks) {
      const result = await annotateChunk(engine, chunk, {
        specVersionId: 'v1',
        normative,
        excludeSpans: metaSpans,
      });
      expect(result.attempts).toBe(1);
      drafts.push(...result.rules);
    }
    const ms = performance.now() - t0;
    console.info(
      `pipeline: ${chunks.length} chunks, ${drafts.length} rules annotated in ${ms.toFixed(0)} ms (scripted model)`,
    );
    expect(engine.calls).toBe(chunks.length);
    expect(engine.overlapped).toBe(false);
    expect(drafts.length).toBeGreaterThan(200);

    const bySection = new Map(sections.map((s) => [s.anchor, s]));
    for (const r of drafts) {
      expect(r.source.located, r.source.quote).toBe(true);
      expect(squash(text.slice(r.source.start, r.source.end))).toBe(squash(r.source.quote));
      const section = bySection.get(r.sectionAnchor);
      expect(section && r.source.start >= section.start && r.source.start < section.end).toBe(true);
      const expected = section?.authority
        ? AUTHORITY_LEVELS.indexOf(section.authority)
        : AUTHORITY_LEVELS.length;
      expect(r.priority).toBe(expected);
    }
    expect(drafts.filter((r) => r.authority === 'root').length).toBeGreaterThan(50);

    // Downstream: dedupe, families, coverage, and the rules file, at full scale.
    const { rules: merged } = dedupeRules(drafts);
    expect(merged.length).toBeLessThanOrEqual(drafts.length);
    const families = clusterFamilies(merged);
    expect(families.familyOf).toHaveLength(merged.length);
    const coverage = measureCoverage(normative, merged, sections);
    expect(coverage.covered).toBeGreaterThan(coverage.total / 2);
    expect(coverage.covered + coverage.uncovered.length).toBe(coverage.total);

    const stored: Rule[] = merged.map((r, i) => ({
      ...r,
      id: `r${i}`,
      projectId: 'p1',
      createdAt: 1,
      updatedAt: 1,
    }));
    expect(parseRulesFile(serializeRulesFile(stored)).rules).toHaveLength(stored.length);
  });
});
