/**
 * A reviewer's edits to rules, applied by the worker (the database's single writer) on the UI's
 * request through WorkerApi; every change is one transaction and bumps `updatedAt`.
 */
import type { Rule, RuleStatus } from '$lib/core/records';
import type { SpecAlignDb } from './database';
import { guardStorage } from './errors';

export type RuleEdit = Pick<
  Rule,
  | 'statement'
  | 'direction'
  | 'stage'
  | 'domain'
  | 'family'
  | 'strength'
  | 'priority'
  | 'exceptions'
  | 'appliesWhen'
>;

export { rulesOfVersion } from './queries';

export async function setRuleStatus(
  db: SpecAlignDb,
  ids: string[],
  status: RuleStatus,
): Promise<void> {
  const now = Date.now();
  await guardStorage(() =>
    db.rules.bulkUpdate(ids.map((key) => ({ key, changes: { status, updatedAt: now } }))),
  );
}

export function checkRuleEdit(edit: RuleEdit): RuleEdit {
  const statement = edit.statement.replace(/\s+/g, ' ').trim();
  if (statement.length < 8) throw new Error('A rule needs a statement of at least a few words.');
  const list = (xs: string[]) => xs.map((x) => x.trim()).filter(Boolean);
  return {
    ...edit,
    statement,
    domain: edit.domain.trim() || 'general',
    family: edit.family.trim() || 'general',
    exceptions: list(edit.exceptions),
    appliesWhen: list(edit.appliesWhen),
  };
}

/** Saves an edit; an edited rule counts as reviewed and accepted. */
export async function updateRule(db: SpecAlignDb, id: string, edit: RuleEdit): Promise<void> {
  const clean = checkRuleEdit(edit);
  const changed = await guardStorage(() =>
    db.rules.update(id, { ...clean, status: 'accepted', updatedAt: Date.now() }),
  );
  if (!changed) throw new Error('That rule no longer exists.');
}

/** Where a hand-written rule is anchored: a section of a spec version. */
export interface NewRuleAnchor {
  projectId: string;
  specVersionId: string;
  sectionAnchor: string;
  start: number;
  end: number;
  /** The located quote (core/rules/manual-source.ts); default: the section span, no quote. */
  source?: Rule['source'];
}

/** Adds a rule by hand, anchored to a section (its whole span is the source). */
export async function addRule(db: SpecAlignDb, base: NewRuleAnchor, edit: RuleEdit): Promise<Rule> {
  const clean = checkRuleEdit(edit);
  const now = Date.now();
  const id = crypto.randomUUID();
  const rule: Rule = {
    ...clean,
    id,
    lineageId: id, // a rule written by hand starts its own lineage
    projectId: base.projectId,
    specVersionId: base.specVersionId,
    sectionAnchor: base.sectionAnchor,
    source: base.source ?? { quote: '', start: base.start, end: base.end, located: false },
    status: 'accepted',
    origin: 'manual',
    createdAt: now,
    updatedAt: now,
  };
  await guardStorage(() => db.rules.add(rule));
  return rule;
}

/** Splits one rule into several statements sharing its source and metadata. */
export async function splitRule(
  db: SpecAlignDb,
  id: string,
  statements: string[],
): Promise<string[]> {
  const parts = statements.map((s) => s.replace(/\s+/g, ' ').trim()).filter((s) => s.length >= 8);
  if (parts.length < 2) throw new Error('Write at least two statements to split a rule.');
  const now = Date.now();
  return guardStorage(() =>
    db.transaction('rw', db.rules, async () => {
      const rule = await db.rules.get(id);
      if (!rule) throw new Error('That rule no longer exists.');
      const created = parts.map((statement, i) => ({
        ...rule,
        id: `${rule.id}/split-${i + 1}-${now}`,
        // Each part is a new rule: its own lineage (the split rule's lineage ends here).
        lineageId: `${rule.id}/split-${i + 1}-${now}`,
        statement,
        origin: 'split' as const,
        status: 'proposed' as const,
        createdAt: now,
        updatedAt: now,
      }));
      await db.rules.bulkAdd(created);
      await db.rules.delete(id);
      return created.map((r) => r.id);
    }),
  );
}

/**
 * Merges rules into the first one: its statement is kept (or replaced), exceptions and
 * conditions are united, the others are deleted.
 */
export async function mergeRules(
  db: SpecAlignDb,
  ids: string[],
  statement?: string,
): Promise<string> {
  if (ids.length < 2) throw new Error('Select at least two rules to merge.');
  return guardStorage(() =>
    db.transaction('rw', db.rules, async () => {
      const rules = (await db.rules.bulkGet(ids)).filter((r): r is Rule => Boolean(r));
      const [first, ...rest] = rules;
      if (!first || rest.length === 0) throw new Error('Some of these rules no longer exist.');
      const union = (pick: (r: Rule) => string[]) => [...new Set(rules.flatMap(pick))];
      const merged: Rule = {
        ...first,
        statement: statement?.trim() || first.statement,
        exceptions: union((r) => r.exceptions),
        appliesWhen: union((r) => r.appliesWhen),
        priority: Math.min(...rules.map((r) => r.priority)),
        origin: 'merge',
        status: 'accepted',
        updatedAt: Date.now(),
      };
      await db.rules.put(merged);
      await db.rules.bulkDelete(rest.map((r) => r.id));
      return merged.id;
    }),
  );
}

export async function addImportedRules(db: SpecAlignDb, rules: Rule[]): Promise<void> {
  await guardStorage(() => db.rules.bulkAdd(rules));
}
