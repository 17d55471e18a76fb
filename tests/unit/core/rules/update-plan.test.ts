/**
 * The *Update from vN* plan (issue 11 §2) on real Model Spec releases: rules "annotated" on one
 * release by a careful annotator (one rule per normative sentence, quoted verbatim), then the next
 * release's changed and added sections re-annotated the same way.
 */
import { describe, expect, it } from 'vitest';
import type { Rule, Section } from '$lib/core/records';
import {
  CLOSE_STATEMENT_SIMILARITY,
  matchedShare,
  planSpecUpdate,
  sectionsToReannotate,
  type SpecUpdatePlan,
  type UpdatePlanInput,
} from '$lib/core/rules/update-plan';
import { statementSimilarity } from '$lib/core/rules/dedupe';
import { diffSpecVersions } from '$lib/core/spec/diff';
import { parseSections } from '$lib/core/spec/parse-markdown';
import { MODEL_SPEC_FILES, readCorpus } from '../spec/fixtures';

interface Version {
  id: string;
  text: string;
  sections: Section[];
}

function version(date: string): Version {
  const file = MODEL_SPEC_FILES.find((f) => f.includes(date));
  if (!file) throw new Error(`no release ${date}`);
  const text = readCorpus(file);
  const id = `v-${date}`;
  const sections = parseSections(text).sections.map(
    (s, order) =>
      ({ ...s, id: `${id}#${s.anchor}`, specVersionId: id, projectId: 'p', order }) as Section,
  );
  return { id, text, sections };
}

/** Normative sentences of a section's own text: what a careful annotator turns into rules. */
function normativeSentences(v: Version, anchor: string): { quote: string; start: number }[] {
  const s = v.sections.find((x) => x.anchor === anchor);
  if (!s) throw new Error(`no section ${anchor}`);
  const body = v.text.slice(s.bodyStart, s.end);
  const out: { quote: string; start: number }[] = [];
  for (const m of body.matchAll(/[A-Z][^.\n]*\b(?:must|should|never)\b[^.\n]*\./g)) {
    if (!out.some((o) => o.quote === m[0])) out.push({ quote: m[0], start: s.bodyStart + m.index });
  }
  return out;
}

let seq = 0;
function rulesOf(v: Version, anchor: string, runId: string): Rule[] {
  return normativeSentences(v, anchor).map(({ quote, start }, i) => {
    const id = `${runId}:${anchor}:${i}:${seq++}`;
    return {
      id,
      lineageId: id,
      projectId: 'p',
      specVersionId: v.id,
      sectionAnchor: anchor,
      statement: quote,
      direction: /\b(?:never|not)\b/.test(quote) ? 'negative' : 'positive',
      stage: 'content',
      domain: 'general',
      family: anchor,
      priority: 0,
      strength: /\bshould\b/.test(quote) ? 'should' : 'must',
      exceptions: [],
      appliesWhen: [],
      source: { quote, start, end: start + quote.length, located: true },
      status: 'proposed',
      origin: 'model',
      runId,
      createdAt: 1,
      updatedAt: 1,
    };
  });
}

function plan(
  from: Version,
  to: Version,
  oldRules: Rule[],
  proposals: Rule[],
  extra: Partial<UpdatePlanInput> = {},
): SpecUpdatePlan {
  return planSpecUpdate({
    diff: diffSpecVersions(from, to),
    oldSections: from.sections,
    newSections: to.sections,
    newText: to.text,
    newVersionId: to.id,
    runId: 'update-run',
    oldRules,
    proposals,
    now: 2,
    ...extra,
  });
}

const byOld = (p: SpecUpdatePlan, id: string) => p.entries.find((e) => e.old?.id === id);

describe('planSpecUpdate on Model Spec 2025-10-26 → 2025-12-18', () => {
  const oct = version('2025-10-26');
  const dec = version('2025-12-18');
  const diff = diffSpecVersions(oct, dec);
  const changedAnchors = diff.changed.map((c) => c.new.anchor);
  const unchangedAnchor = 'letter_and_spirit';
  expect(changedAnchors).not.toContain(unchangedAnchor);

  // v1's rules: an unchanged section, a section barely changed, one heavily changed.
  const oldRules = [
    ...rulesOf(oct, unchangedAnchor, 'annotate-v1'),
    ...rulesOf(oct, 'no_other_objectives', 'annotate-v1'),
    ...rulesOf(oct, 'do_not_lie', 'annotate-v1'),
  ];
  // The reviewer's decisions: accept one, reject one, reword an accepted one.
  const unchangedRules = oldRules.filter((r) => r.sectionAnchor === unchangedAnchor);
  expect(unchangedRules.length).toBeGreaterThanOrEqual(2);
  unchangedRules[0]!.status = 'accepted';
  unchangedRules[0]!.statement = 'Follow the letter and the spirit of instructions.';
  unchangedRules[1]!.status = 'rejected';
  const lieRules = oldRules.filter((r) => r.sectionAnchor === 'do_not_lie');
  for (const r of lieRules) r.status = 'accepted';
  // An accepted rule the reviewer reworded, whose sentence the December release kept as it was.
  const survivor = lieRules.find((r) => dec.text.includes(r.source.quote))!;
  survivor.statement = 'Reviewer’s own wording of this honesty duty.';

  const reannotated = sectionsToReannotate(diff);
  const proposals = reannotated.flatMap((a) => rulesOf(dec, a, 'update-run'));
  const result = plan(oct, dec, oldRules, proposals);

  it('re-annotates only the changed and added sections', () => {
    expect(new Set(reannotated)).toEqual(
      new Set([...changedAnchors, ...diff.added.map((s) => s.anchor)]),
    );
    expect(reannotated).toContain('chatgpt_u18');
    expect(reannotated).toContain('do_not_lie');
    expect(reannotated).not.toContain(unchangedAnchor);
    expect(result.reannotated).toEqual(reannotated);
    expect(result.related).toBe(true);
  });

  it('carries rules of unchanged sections over as they are, quotes located in the new text', () => {
    for (const old of unchangedRules) {
      const entry = byOld(result, old.id)!;
      expect(entry).toMatchObject({ kind: 'kept', reason: 'unchanged-section' });
      const rule = entry.rule!;
      expect(rule).toMatchObject({
        statement: old.statement,
        status: old.status,
        lineageId: old.lineageId,
        previousRuleId: old.id,
        specVersionId: dec.id,
        sectionAnchor: unchangedAnchor,
      });
      expect(rule.id).toBe(`update-run:kept:${old.id}`);
      expect(dec.text.slice(rule.source.start, rule.source.end)).toBe(old.source.quote);
    }
    // The text above moved (a section was added before it), so the offsets did too.
    const moved = byOld(result, unchangedRules[0]!.id)!.rule!;
    expect(moved.source.start).not.toBe(unchangedRules[0]!.source.start);
  });

  it('keeps rules whose quoted sentence survived a changed section, with the reviewer’s edits', () => {
    const edited = byOld(result, survivor.id)!;
    // The proposal restates the sentence; the reviewer's wording stands: its text did not change.
    expect(edited).toMatchObject({ kind: 'kept', reason: 'quote-unchanged' });
    expect(edited.rule?.statement).toBe('Reviewer’s own wording of this honesty duty.');
    expect(edited.rule?.status).toBe('accepted');
    expect(edited.rule?.lineageId).toBe(survivor.lineageId);
    const objectives = oldRules.filter((r) => r.sectionAnchor === 'no_other_objectives');
    const keptObjectives = objectives.filter((r) => byOld(result, r.id)?.kind === 'kept');
    expect(keptObjectives.length).toBeGreaterThan(0);
  });

  it('matches reworded rules of changed sections: lineage and decision inherited', () => {
    const changed = result.entries.filter((e) => e.kind === 'changed');
    expect(changed.length).toBeGreaterThan(0);
    for (const e of changed) {
      expect(e.rule!.lineageId).toBe(e.old!.lineageId);
      expect(e.rule!.previousRuleId).toBe(e.old!.id);
      expect(e.rule!.status).toBe(e.old!.status);
      expect(e.rule!.statement).not.toBe(e.old!.statement);
      expect(dec.text.slice(e.rule!.source.start, e.rule!.source.end)).toBe(e.rule!.source.quote);
      if (e.reason === 'close-statement')
        expect(statementSimilarity(e.old!.statement, e.rule!.statement)).toBeGreaterThanOrEqual(
          CLOSE_STATEMENT_SIMILARITY,
        );
    }
  });

  it('makes unmatched proposals new rules of their own lineage, and retires the rest', () => {
    const fresh = result.entries.filter((e) => e.kind === 'new');
    expect(fresh.some((e) => e.rule!.sectionAnchor === 'chatgpt_u18')).toBe(
      rulesOf(dec, 'chatgpt_u18', 'x').length > 0,
    );
    for (const e of fresh) {
      expect(e.rule!.lineageId).toBe(e.rule!.id);
      expect(e.rule!.status).toBe('proposed');
      expect(reannotated).toContain(e.rule!.sectionAnchor);
    }
    // Every old rule is accounted for once; every proposal once.
    const oldSeen = result.entries.flatMap((e) => (e.old ? [e.old.id] : []));
    expect(oldSeen.sort()).toEqual(oldRules.map((r) => r.id).sort());
    const proposalsUsed = result.entries.filter((e) => e.kind === 'new' || e.kind === 'changed');
    const keptFromChanged = result.entries.filter(
      (e) => e.kind === 'kept' && e.reason !== 'unchanged-section',
    );
    expect(proposalsUsed.length + keptFromChanged.length).toBeLessThanOrEqual(
      proposals.length + keptFromChanged.length,
    );
    const newIds = result.entries.flatMap((e) => (e.rule ? [e.rule.id] : []));
    expect(new Set(newIds).size).toBe(newIds.length);
    expect(result.counts.kept + result.counts.changed + result.counts.retired).toBe(
      oldRules.length,
    );
    // Sentences of do_not_lie that the December release dropped retire.
    const retired = result.entries.filter((e) => e.kind === 'retired');
    expect(retired.length).toBeGreaterThan(0);
    for (const e of retired) {
      expect(e).toMatchObject({ reason: 'no-match' });
      expect(dec.text).not.toContain(e.old!.source.quote);
    }
  });

  it('is deterministic', () => {
    expect(plan(oct, dec, oldRules, proposals)).toEqual(result);
  });

  it('keeps, unre-annotated, the rules of a section whose re-annotation failed', () => {
    const failed = plan(
      oct,
      dec,
      oldRules,
      proposals.filter((p) => p.sectionAnchor !== 'do_not_lie'),
      { failedAnchors: ['do_not_lie'] },
    );
    for (const r of lieRules)
      expect(byOld(failed, r.id)).toMatchObject({ kind: 'kept', reason: 'not-reannotated' });
  });
});

describe('planSpecUpdate: removed sections (2025-04-11 → 2025-09-12)', () => {
  const apr = version('2025-04-11');
  const sep = version('2025-09-12');
  const diff = diffSpecVersions(apr, sep);
  it('retires the rules of a removed section', () => {
    expect(diff.removed.map((s) => s.anchor)).toContain('approachable');
    const approachable = rulesOf(apr, 'approachable', 'a');
    const fallback: Rule = {
      ...rulesOf(apr, 'letter_and_spirit', 'a')[0]!,
      id: 'hand-made',
      lineageId: 'hand-made',
      sectionAnchor: 'approachable',
      statement: 'Be approachable.',
      source: { quote: '', start: 0, end: 0, located: false },
    };
    const result = plan(apr, sep, [...approachable, fallback], []);
    for (const r of [...approachable, fallback])
      expect(byOld(result, r.id)).toMatchObject({ kind: 'retired', reason: 'section-removed' });
    expect(result.counts).toEqual({
      kept: 0,
      changed: 0,
      new: 0,
      retired: approachable.length + 1,
    });
  });
});

describe('planSpecUpdate: matching thresholds', () => {
  const oct = version('2025-10-26');
  const dec = version('2025-12-18');
  const old = rulesOf(oct, 'do_not_lie', 'a')[0]!;
  // A proposal elsewhere in the section, so only the statement can match.
  const elsewhere = (statement: string): Rule => ({
    ...rulesOf(dec, 'do_not_lie', 'u').at(-1)!,
    id: 'proposal',
    lineageId: 'proposal',
    statement,
    direction: old.direction,
  });
  const withOldQuoteGone: Rule = {
    ...old,
    source: { ...old.source, quote: 'A sentence that no release of the spec contains at all.' },
  };

  it('reads the same statement as kept, a close one as changed, a distant one as new', () => {
    const same = plan(oct, dec, [withOldQuoteGone], [elsewhere(old.statement)]);
    expect(byOld(same, old.id)).toMatchObject({ kind: 'kept', reason: 'same-statement' });
    expect(same.counts.new).toBe(0);

    const words = old.statement.split(' ');
    const reworded = `${words.slice(0, Math.ceil(words.length * 0.8)).join(' ')} in every reply.`;
    const sim = statementSimilarity(old.statement, reworded);
    expect(sim).toBeGreaterThanOrEqual(CLOSE_STATEMENT_SIMILARITY);
    expect(sim).toBeLessThan(0.9);
    const close = plan(oct, dec, [withOldQuoteGone], [elsewhere(reworded)]);
    expect(byOld(close, old.id)).toMatchObject({ kind: 'changed', reason: 'close-statement' });
    expect(byOld(close, old.id)!.rule!.lineageId).toBe(old.lineageId);

    const distant = plan(oct, dec, [withOldQuoteGone], [elsewhere('Use metric units in recipes.')]);
    expect(byOld(distant, old.id)).toMatchObject({ kind: 'retired', reason: 'no-match' });
    expect(distant.counts.new).toBe(1);
  });

  it('never matches across directions', () => {
    const opposite = {
      ...elsewhere(old.statement),
      direction: old.direction === 'positive' ? ('negative' as const) : ('positive' as const),
    };
    const result = plan(oct, dec, [withOldQuoteGone], [opposite]);
    expect(byOld(result, old.id)?.kind).toBe('retired');
    expect(result.counts.new).toBe(1);
  });

  it('flags, instead of silently moving, a carried rule whose quote is gone', () => {
    const unchanged = rulesOf(oct, 'letter_and_spirit', 'a')[0]!;
    const handEdited = {
      ...unchanged,
      source: { ...unchanged.source, quote: 'Quote edited by hand to text that is nowhere.' },
    };
    const result = plan(oct, dec, [handEdited], []);
    const entry = byOld(result, unchanged.id)!;
    expect(entry.kind).toBe('kept');
    expect(entry.rule).toMatchObject({ status: 'flagged', source: { located: false } });
    expect(entry.rule!.notes?.join(' ')).toMatch(/quote was not found/);
  });
});

describe('planSpecUpdate: unrelated documents', () => {
  it('says two different documents are not versions of one spec', () => {
    const dec = version('2025-12-18');
    const other = `# Recipes {#recipes}\n\n## Soup {#soup}\n\nBoil water. Add salt.\n\n## Bread {#bread}\n\nKnead the dough for ten minutes.\n`;
    const otherSections = parseSections(other).sections.map(
      (s, order) =>
        ({ ...s, id: `o#${s.anchor}`, specVersionId: 'o', projectId: 'p', order }) as Section,
    );
    const diff = diffSpecVersions(dec, { text: other, sections: otherSections });
    expect(matchedShare(diff)).toBeLessThan(0.2);
    const result = plan(dec, { id: 'o', text: other, sections: otherSections }, [], []);
    expect(result.related).toBe(false);
  });
});
