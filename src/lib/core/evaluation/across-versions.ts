/**
 * Evaluate across spec versions (issue 11 §5): re-score a finished RCS run on another version's
 * rules, and compare two runs rule by rule on one version, grouped by what the update did to
 * each rule. Pure; no model is called again: the judge's checks are re-attributed by lineage.
 *
 * Method (ours):
 * - Each check of the run names a rule; its lineage (core/rules/lineage.ts) finds that rule in
 *   the target version. The target's rule of the lineage (the first not rejected) takes the
 *   check. A lineage the target does not hold (retired, or rejected there) drops out of the score.
 * - A rule is **kept** when its statement is the one the run judged against (the run's own rule
 *   snapshot, `results.rules`), **changed** when it differs (reworded by an update, or edited by
 *   a reviewer since), **new** when no check of the run cites its lineage.
 * - An item citing a changed or retired lineage is **stale**: its checks judged a rule that no
 *   longer reads that way. Stale items are kept and marked; their kept rules' checks still
 *   count, their changed rules' checks count under *changed* (so a reader sees how much of a
 *   score rests on old wording), retired ones nowhere.
 */
import type { RuleStage } from '../records';
import { computeRcs, type EvalItemResult, type RcsSummary, type RuleMeta, type Score } from './rcs';

/** What the update did to a rule of the target version, seen from a run. */
export type RuleChange = 'kept' | 'changed' | 'new';
export const RULE_CHANGES: readonly RuleChange[] = ['kept', 'changed', 'new'];

/** A rule of the target version, as re-scoring needs it. */
export interface VersionRule {
  id: string;
  lineageId: string;
  statement: string;
  family: string;
  stage: RuleStage;
  status: string;
}

export interface RescoreInput {
  /** The run's judged items. */
  items: readonly EvalItemResult[];
  /** The run's rule snapshot (rule id → statement, family, stage as judged). */
  rules: Readonly<Record<string, RuleMeta>>;
  /** Rule id → lineage id for the run's rules (a rule missing here is its own lineage). */
  lineageOf: ReadonlyMap<string, string>;
  /** The target version's rules. */
  target: readonly VersionRule[];
}

export interface RescoredRun {
  /** Target rule id → what happened to it, for every target rule not rejected. */
  change: Record<string, RuleChange>;
  /** The RCS on the target version's rules (rule ids are the target's). */
  summary: RcsSummary;
  /** The target's rule meta (statement, family, stage) by id. */
  rules: Record<string, RuleMeta>;
  /** Keys of items citing a changed or retired lineage. */
  staleItems: string[];
  /** Lineages of the run that the target does not hold: their checks dropped out. */
  retiredLineages: string[];
  /** Checks counted, by change. */
  checks: Record<RuleChange, number>;
}

/** Re-scores a run's items on the target version's rules; see the module comment. */
export function rescoreOnVersion(input: RescoreInput): RescoredRun {
  const targetByLineage = new Map<string, VersionRule>();
  for (const r of input.target)
    if (r.status !== 'rejected' && !targetByLineage.has(r.lineageId))
      targetByLineage.set(r.lineageId, r);
  const lineage = (ruleId: string) => input.lineageOf.get(ruleId) ?? ruleId;
  const change: Record<string, RuleChange> = {};
  const seen = new Set<string>();
  const retired = new Set<string>();
  const stale: string[] = [];
  const checks: Record<RuleChange, number> = { kept: 0, changed: 0, new: 0 };
  const items: EvalItemResult[] = [];
  for (const item of input.items) {
    let isStale = false;
    const mapped: EvalItemResult['checks'] = [];
    for (const check of item.checks) {
      const l = lineage(check.ruleId);
      seen.add(l);
      const rule = targetByLineage.get(l);
      if (!rule) {
        retired.add(l);
        isStale = true;
        continue;
      }
      const judged = input.rules[check.ruleId]?.statement;
      const kind: RuleChange =
        judged === undefined || judged === rule.statement ? 'kept' : 'changed';
      // A lineage judged under two wordings (two rules of one lineage in one run) reads changed.
      if (change[rule.id] !== 'changed') change[rule.id] = kind;
      if (kind === 'changed') isStale = true;
      if (check.verdict !== 'not-applicable') checks[kind]++;
      mapped.push({ ruleId: rule.id, verdict: check.verdict });
    }
    if (isStale) stale.push(item.key);
    items.push({ ...item, checks: mapped });
  }
  const rules: Record<string, RuleMeta> = {};
  for (const r of targetByLineage.values()) {
    rules[r.id] = { statement: r.statement, family: r.family, stage: r.stage };
    if (!seen.has(r.lineageId)) change[r.id] = 'new';
  }
  return {
    change,
    summary: computeRcs(items, rules),
    rules,
    staleItems: stale,
    retiredLineages: [...retired].sort(),
    checks,
  };
}

/** One row of a comparison: a target rule with both runs' scores. */
export interface VersionComparisonRow {
  ruleId: string;
  statement: string;
  /** What the update did to the rule, seen from run A (the older run, usually). */
  change: RuleChange;
  a?: Score;
  b?: Score;
}

export interface VersionComparison {
  rows: VersionComparisonRow[];
  /** Pooled scores of each group, per run. */
  groups: Record<RuleChange, { rules: number; a: Score; b: Score }>;
}

/**
 * Compares two runs re-scored on the same version, per rule and per group (kept, changed, new:
 * as seen from run A). Rows in group order, then by statement.
 */
export function compareOnVersion(a: RescoredRun, b: RescoredRun): VersionComparison {
  const pool = (): Score => ({ passed: 0, total: 0 });
  const groups = Object.fromEntries(
    RULE_CHANGES.map((c) => [c, { rules: 0, a: pool(), b: pool() }]),
  ) as VersionComparison['groups'];
  const rows: VersionComparisonRow[] = [];
  for (const [ruleId, change] of Object.entries(a.change)) {
    const sa = a.summary.byRule[ruleId];
    const sb = b.summary.byRule[ruleId];
    const group = groups[change];
    group.rules++;
    for (const [s, into] of [
      [sa, group.a],
      [sb, group.b],
    ] as const) {
      if (!s) continue;
      into.passed += s.passed;
      into.total += s.total;
    }
    rows.push({
      ruleId,
      statement: a.rules[ruleId]?.statement ?? ruleId,
      change,
      ...(sa ? { a: sa } : {}),
      ...(sb ? { b: sb } : {}),
    });
  }
  for (const g of Object.values(groups))
    for (const s of [g.a, g.b]) if (s.total > 0) s.score = s.passed / s.total;
  rows.sort(
    (x, y) =>
      RULE_CHANGES.indexOf(x.change) - RULE_CHANGES.indexOf(y.change) ||
      (x.statement < y.statement ? -1 : x.statement > y.statement ? 1 : 0),
  );
  return { rows, groups };
}
