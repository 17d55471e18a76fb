import { describe, expect, it } from 'vitest';
import { materializeInstance } from '$lib/core/instances';
import {
  DEFAULT_INSTANCE_TOKENS,
  labelInstanceRules,
  PRIORITY_NOTE,
  renderInstancePrompt,
} from '$lib/core/instances/render';
import { sampleInstances } from '$lib/core/instances/sample';
import { STAGE_ORDER, STAGE_TITLES } from '$lib/core/instances/stages';
import { estimateTokens } from '$lib/core/llm';
import type { Rule } from '$lib/core/records';
import { HARBOR_RULES, longestThirteen, rule, RULES_BY_ID, rulesOf } from './fixtures';

describe('renderInstancePrompt', () => {
  it('numbers rules R1…Rn in stage groups, with tags, conditions and the priority note', () => {
    const rules = longestThirteen();
    const rendered = renderInstancePrompt(rules);
    const { text } = rendered;
    expect(rendered.labeled.map((l) => l.label)).toEqual(rules.map((_, i) => `R${i + 1}`));
    for (const r of rules) {
      const label = rendered.labelOf[r.id] as string;
      expect(text).toContain(`${label}. [${r.authority}, ${r.strength}] ${r.statement}`);
      for (const c of r.appliesWhen) expect(text).toContain(c);
      for (const c of r.exceptions) expect(text).toContain(c);
    }
    // Stage headings appear in STAGE_ORDER, and every rule sits under its own stage's heading.
    const headings = STAGE_ORDER.filter((s) => rules.some((r) => r.stage === s)).map((s) =>
      text.indexOf(`${STAGE_TITLES[s]}:`),
    );
    expect(headings.every((i) => i >= 0)).toBe(true);
    expect(headings).toEqual([...headings].sort((a, b) => a - b));
    for (const { label, rule: r } of rendered.labeled) {
      const at = text.indexOf(`\n${label}. `);
      const heading = text.lastIndexOf(':\n', at);
      expect(text.slice(text.lastIndexOf('\n', heading - 1) + 1, heading)).toBe(
        STAGE_TITLES[r.stage],
      );
    }
    expect(text).toContain(`Priority: ${PRIORITY_NOTE}`);
    expect(rendered.conflicts.length).toBeGreaterThan(0);
    for (const c of rendered.conflicts)
      expect(text).toContain(`${rendered.labelOf[c.winnerId]} over ${rendered.labelOf[c.loserId]}`);
  });

  it('is deterministic and independent of input order', () => {
    const rules = longestThirteen();
    const a = renderInstancePrompt(rules);
    const b = renderInstancePrompt([...rules].reverse());
    expect(b).toEqual(a);
    expect(renderInstancePrompt(rules).text).toBe(a.text);
  });

  it('fits a 13-rule instance comfortably: under 1000 tokens, unshortened', () => {
    const rendered = renderInstancePrompt(longestThirteen());
    expect(rendered.tokens).toBe(estimateTokens(rendered.text));
    expect(rendered.tokens).toBeLessThan(1000);
    expect(rendered.compaction).toBe(0);
    expect(rendered.warnings).toEqual([]);
    // Every sampled instance of the realistic pool fits too.
    for (const instance of sampleInstances(HARBOR_RULES, { count: 10, seed: 5 }).instances)
      expect(renderInstancePrompt(rulesOf(instance.ruleIds)).tokens).toBeLessThanOrEqual(
        DEFAULT_INSTANCE_TOKENS,
      );
  });

  it('shortens over-long rules step by step to fit its budget, never dropping a rule', () => {
    const long = (i: number): Rule =>
      rule({
        id: `L${i}`,
        statement: `Rule ${i}: ${'explain the relevant consideration in careful detail '.repeat(5)}`,
        direction: i % 2 ? 'positive' : 'negative',
        stage: STAGE_ORDER[i % 5] as Rule['stage'],
        domain: `d${i}`,
        family: `f${i}`,
        appliesWhen: [
          'the customer asks about a condition that is described at great length here, '.repeat(3),
        ],
        exceptions: [
          'one exception',
          'two exceptions',
          'three exceptions that are rather long to state',
        ],
      });
    const rules = Array.from({ length: 13 }, (_, i) => long(i));
    const full = renderInstancePrompt(rules, { maxTokens: 100_000 });
    expect(full.compaction).toBe(0);
    const fitted = renderInstancePrompt(rules, { maxTokens: 1400 });
    expect(fitted.compaction).toBeGreaterThan(0);
    expect(fitted.tokens).toBeLessThanOrEqual(1400);
    expect(fitted.warnings[0]).toMatch(/shortened to fit 1400 tokens/);
    expect(fitted.labeled).toHaveLength(13);
    for (let i = 1; i <= 13; i++) expect(fitted.text).toContain(`\nR${i}. `);
    const impossible = renderInstancePrompt(rules, { maxTokens: 200 });
    expect(impossible.compaction).toBe(3);
    expect(impossible.warnings[0]).toMatch(/over its budget of 200/);
  });

  it('can leave out the priority note and take a custom preamble', () => {
    const { text } = renderInstancePrompt(rulesOf(['r21', 'r22']), {
      priorityNote: false,
      preamble: 'You are Harbor, Northwind’s assistant.',
    });
    expect(text.startsWith('You are Harbor, Northwind’s assistant.\n')).toBe(true);
    expect(text).not.toContain('Priority:');
    expect(text).not.toContain(' over ');
  });

  it('labels the same way for the prompt and for lookups', () => {
    const rules = rulesOf(['r40', 'r1', 'r29', 'r7']);
    expect(labelInstanceRules(rules).map((l) => `${l.label}=${l.rule.id}`)).toEqual([
      'R1=r1',
      'R2=r29',
      'R3=r7',
      'R4=r40',
    ]);
  });
});

describe('materializeInstance', () => {
  it('builds a storable instance with the rendered prompt', () => {
    const [draft] = sampleInstances(HARBOR_RULES, { count: 1, seed: 7 }).instances;
    if (!draft) throw new Error('no draft');
    const { instance, rendered } = materializeInstance(draft, RULES_BY_ID, {
      id: 'i1',
      projectId: 'p1',
      specVersionId: 'v1',
      createdAt: 5,
    });
    expect(instance).toEqual({
      id: 'i1',
      projectId: 'p1',
      specVersionId: 'v1',
      seed: 7,
      index: 0,
      ruleIds: draft.ruleIds,
      // Rules without a lineage (written before schema v3) are their own lineage.
      lineageIds: draft.ruleIds.map((id) => RULES_BY_ID.get(id)?.lineageId ?? id),
      pinned: false,
      systemPrompt: rendered.text,
      createdAt: 5,
    });
    expect(() =>
      materializeInstance({ ...draft, ruleIds: ['gone'] }, RULES_BY_ID, {
        id: 'i2',
        projectId: 'p1',
        specVersionId: 'v1',
        createdAt: 5,
      }),
    ).toThrow(/Rule gone of instance 1 no longer exists/);
  });
});
