/**
 * Which spec examples ground which rule (few-shot material for the agents).
 *
 * Method choice: an example belongs to a rule when it sits in the rule's section, or when one of
 * its verdicts cites the rule's section (`<!-- BAD[#section] -->`). Examples with both a GOOD and
 * a BAD reply come first (they show the boundary), then document order.
 */
import type { Rule, SpecExample } from '../records';

/** The spec examples that ground `rule`, best first. */
export function examplesForRule(rule: Rule, examples: readonly SpecExample[]): SpecExample[] {
  const related = examples.filter(
    (e) =>
      e.specVersionId === rule.specVersionId &&
      (e.sectionAnchor === rule.sectionAnchor ||
        e.comparisons.some((c) => c.citedAnchor === rule.sectionAnchor)),
  );
  const contrast = (e: SpecExample) =>
    e.comparisons.some((c) => c.verdict === 'good') &&
    e.comparisons.some((c) => c.verdict === 'bad')
      ? 0
      : 1;
  return related.sort((a, b) => contrast(a) - contrast(b) || a.order - b.order);
}

/** {@link examplesForRule} for every rule, keyed by rule id. */
export function examplesByRule(
  rules: readonly Rule[],
  examples: readonly SpecExample[],
): Record<string, SpecExample[]> {
  return Object.fromEntries(rules.map((r) => [r.id, examplesForRule(r, examples)]));
}
