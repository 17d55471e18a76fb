import { describe, expect, it } from 'vitest';
import { labelRulesFromPrompt } from '$lib/core/evaluation';
import { renderInstancePrompt } from '$lib/core/instances/render';
import { makeRule } from './fixtures';

describe('labelRulesFromPrompt', () => {
  const rules = [
    makeRule('a', { stage: 'style', statement: 'Use plain words.' }),
    makeRule('b', { stage: 'interpretation', statement: 'Read the whole question first.' }),
    makeRule('c', { stage: 'content', statement: 'Never share a caller’s number.' }),
  ];

  it('gives each rule the label its line has in a rendered instance prompt', () => {
    const rendered = renderInstancePrompt(rules);
    const labels = labelRulesFromPrompt(rendered.text, [rules[0]!, rules[2]!]);
    expect(Object.fromEntries(labels)).toEqual({
      a: rendered.labelOf.a,
      c: rendered.labelOf.c,
    });
  });

  it('reads untagged lines and statements shortened with "…"', () => {
    const prompt = 'Rules:\nR1. Read the whole\nR2. Never share a caller’s…\nR3. Use plain words.';
    expect(Object.fromEntries(labelRulesFromPrompt(prompt, rules))).toEqual({
      a: 'R3',
      c: 'R2',
      // "Read the whole" is not the full statement and not marked shortened: no match.
      b: 'R4',
    });
  });

  it('labels rules the prompt does not state after its highest label', () => {
    expect(Object.fromEntries(labelRulesFromPrompt('No rule lines here.', rules))).toEqual({
      a: 'R1',
      b: 'R2',
      c: 'R3',
    });
  });
});
