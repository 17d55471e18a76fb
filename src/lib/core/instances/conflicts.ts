/**
 * Conflicts inside a spec instance and how they resolve (METHOD.md §2).
 *
 * ## Detection (the paper does not define "conflict"; our reading)
 * Two rules of one instance are a *potential conflict* when
 * - they share a family or a domain and point in opposite directions (one says do, one says
 *   don't: the pairs a reply is most likely to have to trade off), or
 * - one is an **exception** of the other: a condition in the general rule's `exceptions` is
 *   stated by the other rule (most of that condition's content words occur in the other rule's
 *   statement or `appliesWhen`). Rules carry no explicit links, so this word overlap is the
 *   "explicit exception relation" the text gives us.
 *
 * ## Precedence (paper's order, with authority in front)
 * For each conflicting pair the winner is decided by the first criterion that differs:
 * 1. **authority** — lower `priority` (the spec's authority level: root > system > developer >
 *    user > guideline) wins; the spec's own chain of command comes before anything we infer;
 * 2. **stage** — the earlier stage in {@link STAGE_ORDER} wins;
 * 3. **direction** — a prohibition (negative) wins over a positive rule (the safer default when a
 *    reply cannot satisfy both);
 * 4. **exception** — the exception wins over the general rule it carves out of;
 * 5. **specificity** — the rule with more conditions (`appliesWhen` + `exceptions`), then the
 *    longer conditions text, wins;
 * 6. otherwise a **tie**, broken by id so the result is deterministic, and flagged as such.
 * An exception and its general rule usually differ in direction, so criterion 3 often decides
 * before 4; that is the paper's order, and the general rule's rendered `Except:` clause still
 * tells the model where the general rule stops.
 *
 * `ordered` is a total order on the instance's rules by the same criteria (with "is an exception
 * of some rule here" standing in for 4); the pairwise decisions in `conflicts` are what renders.
 */
import type { Rule } from '../records';
import { compareIds } from './sample';
import { normaliseLabel, stageRank } from './stages';

/** Why two rules are a potential conflict. */
export type ConflictKind = 'opposite-direction' | 'exception';
/** The precedence criterion that decided a conflict. */
export type PrecedenceReason =
  'authority' | 'stage' | 'direction' | 'exception' | 'specificity' | 'tie';

/** One resolved potential conflict. */
export interface RuleConflict {
  winnerId: string;
  loserId: string;
  kind: ConflictKind;
  /** The first criterion that told the two apart. */
  reason: PrecedenceReason;
  /** Why, in a few words, e.g. "higher authority (root over developer)". */
  note: string;
}

/** The rules in precedence order and their resolved potential conflicts. */
export interface ConflictResolution {
  /** The rules, highest precedence first. */
  ordered: Rule[];
  /** Every potential conflict with its winner, winners' order then losers' order. */
  conflicts: RuleConflict[];
}

/** Share of an exception condition's content words that must occur in the other rule. */
export const EXCEPTION_OVERLAP = 0.6;

/** Detects and resolves the potential conflicts among `rules`; see the module comment. */
export function resolveConflicts(rules: readonly Rule[]): ConflictResolution {
  const unique = [...new Map(rules.map((r) => [r.id, r])).values()];
  const exceptionPairs = new Set<string>();
  for (const general of unique)
    for (const other of unique)
      if (other.id !== general.id && isExceptionOf(other, general))
        exceptionPairs.add(pairKey(other.id, general.id));
  const isException = (rule: Rule) =>
    unique.some((g) => exceptionPairs.has(pairKey(rule.id, g.id)));

  const ordered = [...unique].sort(
    (a, b) =>
      a.priority - b.priority ||
      stageRank(a.stage) - stageRank(b.stage) ||
      directionRank(a) - directionRank(b) ||
      Number(isException(b)) - Number(isException(a)) ||
      specificity(b) - specificity(a) ||
      compareIds(a.id, b.id),
  );
  const rank = new Map(ordered.map((r, i) => [r.id, i]));

  const conflicts: RuleConflict[] = [];
  for (let i = 0; i < ordered.length; i++) {
    for (let j = i + 1; j < ordered.length; j++) {
      const a = ordered[i] as Rule;
      const b = ordered[j] as Rule;
      const aExceptsB = exceptionPairs.has(pairKey(a.id, b.id));
      const bExceptsA = exceptionPairs.has(pairKey(b.id, a.id));
      let kind: ConflictKind | undefined;
      if (aExceptsB || bExceptsA) kind = 'exception';
      else if (a.direction !== b.direction && (sameFamily(a, b) || sameDomain(a, b)))
        kind = 'opposite-direction';
      if (!kind) continue;
      const decision = decide(a, b, aExceptsB, bExceptsA);
      conflicts.push({ ...decision, kind });
    }
  }
  conflicts.sort(
    (x, y) =>
      (rank.get(x.winnerId) ?? 0) - (rank.get(y.winnerId) ?? 0) ||
      (rank.get(x.loserId) ?? 0) - (rank.get(y.loserId) ?? 0),
  );
  return { ordered, conflicts };
}

/** True when `candidate` states a condition listed in `general.exceptions`. */
export function isExceptionOf(candidate: Rule, general: Rule): boolean {
  const target = new Set(contentWords([candidate.statement, ...candidate.appliesWhen].join(' ')));
  if (!target.size) return false;
  return general.exceptions.some((condition) => {
    const words = [...new Set(contentWords(condition))];
    if (words.length < 2) return false;
    const hits = words.filter((w) => target.has(w)).length;
    return hits / words.length >= EXCEPTION_OVERLAP;
  });
}

function decide(
  a: Rule,
  b: Rule,
  aExceptsB: boolean,
  bExceptsA: boolean,
): Omit<RuleConflict, 'kind'> {
  const win = (winner: Rule, loser: Rule, reason: PrecedenceReason, note: string) => ({
    winnerId: winner.id,
    loserId: loser.id,
    reason,
    note,
  });
  if (a.priority !== b.priority) {
    const [w, l] = a.priority < b.priority ? [a, b] : [b, a];
    return win(w, l, 'authority', `higher authority (${levelName(w)} over ${levelName(l)})`);
  }
  if (a.stage !== b.stage) {
    const [w, l] = stageRank(a.stage) < stageRank(b.stage) ? [a, b] : [b, a];
    return win(w, l, 'stage', `earlier stage (${w.stage} before ${l.stage})`);
  }
  if (a.direction !== b.direction) {
    const [w, l] = a.direction === 'negative' ? [a, b] : [b, a];
    return win(w, l, 'direction', 'a prohibition wins over a positive rule');
  }
  if (aExceptsB !== bExceptsA) {
    const [w, l] = aExceptsB ? [a, b] : [b, a];
    return win(w, l, 'exception', 'an exception wins over its general rule');
  }
  const sa = specificity(a);
  const sb = specificity(b);
  if (sa !== sb) {
    const [w, l] = sa > sb ? [a, b] : [b, a];
    return win(w, l, 'specificity', 'the more specific rule wins');
  }
  const [w, l] = compareIds(a.id, b.id) <= 0 ? [a, b] : [b, a];
  return win(w, l, 'tie', 'no criterion separates them; listed order decides');
}

/**
 * How specific a rule is: 1000 per stated condition plus the conditions' length in characters
 * (so the count dominates and the length breaks ties).
 */
export function specificity(rule: Rule): number {
  const conditions = [...rule.appliesWhen, ...rule.exceptions];
  return conditions.length * 1000 + Math.min(999, conditions.join(' ').length);
}

function directionRank(rule: Rule): number {
  return rule.direction === 'negative' ? 0 : 1;
}

function levelName(rule: Rule): string {
  return rule.authority ?? `level ${rule.priority}`;
}

function sameFamily(a: Rule, b: Rule): boolean {
  const fa = normaliseLabel(a.family);
  return fa !== '' && fa === normaliseLabel(b.family);
}

function sameDomain(a: Rule, b: Rule): boolean {
  const da = normaliseLabel(a.domain);
  return da !== '' && da === normaliseLabel(b.domain);
}

function pairKey(exception: string, general: string): string {
  return `${exception}\u0000${general}`;
}

const STOPWORDS = new Set(
  (
    'the a an and or of to in on for with by at from as is are be been being it its this that ' +
    'these those when whenever if unless not no any some such than then there their they them ' +
    'user users assistant model should must may can will would could do does did has have had ' +
    'about into over under more most only own same so too very just also asks ask asked'
  ).split(' '),
);

/** Lowercased content words (≥ 3 letters, no stopwords), with a plural `s` stripped. */
export function contentWords(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [])
    .filter((w) => w.length >= 3 && !STOPWORDS.has(w))
    .map((w) => (w.length > 4 && w.endsWith('s') && !w.endsWith('ss') ? w.slice(0, -1) : w));
}
