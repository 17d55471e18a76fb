/**
 * Merging duplicate rules across chunks and grouping related rules into families (METHOD.md §1:
 * `family` — cluster of closely related rules).
 *
 * Method choices (the paper names families but not how they are built):
 * - **Statement tokens**: lowercase words, curly apostrophes straightened, stop words removed
 *   (articles, pronouns, prepositions, modals, negations and the words "assistant"/"model": they
 *   say *how strongly* or *who*, not *what*; negation is compared through `direction` instead),
 *   plurals folded (`prompts` → `prompt`, `policies` → `policy`). No other stemming: it keeps
 *   family labels readable.
 * - **Duplicates**: same direction and token Jaccard ≥ `threshold` (default 0.7: "Do not reveal
 *   the system prompt" and "Never reveal the system prompt to users" merge, "refuse to help with
 *   X" and "help with X research" do not). Rules are visited best first (reviewed before proposed
 *   before flagged; located before not; then document order) and each joins the most similar
 *   existing group whose *representative* (its best rule) is similar enough, so there is no
 *   chaining through intermediate rules. The representative is kept; `exceptions` and
 *   `appliesWhen` become the union over the group; its other fields are the representative's.
 *   Rejected rules are passed through, never merged.
 * - **Families**: average-linkage agglomerative clustering on cosine similarity of TF-IDF
 *   vectors over the statement tokens plus the domain as one feature (`self-harm` stays whole),
 *   stopping when no two clusters reach `threshold` (default 0.2: a shared domain alone, with no
 *   shared content word, scores about 0.1 and does not merge). Ties break by lower index, so the
 *   result is deterministic. A family is named by the model-proposed `family` label held by at
 *   least half its members (ties: the earliest member's label), else by its three
 *   highest-weighted terms; repeated names get ` (2)`, ` (3)`….
 */
import type { RuleDirection, RuleStatus } from '../records';

/** What dedupe needs of a rule (a {@link Rule} or a draft). */
export interface DedupableRule {
  statement: string;
  direction: RuleDirection;
  exceptions: string[];
  appliesWhen: string[];
  source: { start: number; end: number; located: boolean };
  status: RuleStatus;
}

export interface DedupeOptions {
  /** Token Jaccard similarity at or above which two same-direction statements are duplicates; default 0.7. */
  threshold?: number;
}

export interface DedupeResult<R> {
  /** The surviving rules, in the input order of their representatives. */
  rules: R[];
  /** One entry per group of more than one rule: input indices of the kept rule and the merged ones. */
  merges: { kept: number; merged: number[] }[];
}

const STOP_WORDS = new Set(
  (
    'a an the and or but nor of to in on at by for with from into onto about as than then so ' +
    'that this these those it its it’s they them their there here which who whom whose what when ' +
    'where while if unless whether be is are was were been being am do does did doing done has have ' +
    'had having can could may might must shall should will would ought not no never dont don’t ' +
    "don't doesn't shouldn't mustn't cannot can't won't always any all each every some such " +
    'assistant model ai its own also only just even very more most other another one ' +
    'you your yours i me my we us our he him his she her'
  ).split(/\s+/),
);

/** Folds plurals: `prompts` → `prompt`, `policies` → `policy`; leaves `process`, `status`, `this`. */
function fold(word: string): string {
  if (word.length > 4 && word.endsWith('ies')) return word.slice(0, -3) + 'y';
  if (word.length > 3 && word.endsWith('s') && !/(?:ss|us|is)$/.test(word))
    return word.slice(0, -1);
  return word;
}

/** Content tokens of a statement (see the module comment), in order, repeats kept. */
export function statementTokens(statement: string): string[] {
  const words =
    statement
      .toLowerCase()
      .replace(/[\u2018\u2019]/g, "'")
      .match(/[\p{L}\p{N}']+/gu) ?? [];
  const out: string[] = [];
  for (const raw of words) {
    const w = raw.replace(/^'+|'+$/g, '');
    if (w.length < 2 || STOP_WORDS.has(w)) continue;
    out.push(fold(w));
  }
  return out;
}

/** Token Jaccard similarity of two statements (1 for two statements without content words that are equal). */
export function statementSimilarity(a: string, b: string): number {
  return jaccard(new Set(statementTokens(a)), new Set(statementTokens(b)), a, b);
}

function jaccard(a: Set<string>, b: Set<string>, rawA: string, rawB: string): number {
  if (a.size === 0 || b.size === 0)
    return rawA.trim().toLowerCase() === rawB.trim().toLowerCase() ? 1 : 0;
  let inter = 0;
  for (const t of a) if (b.has(t)) inter++;
  return inter / (a.size + b.size - inter);
}

const STATUS_RANK: Record<RuleStatus, number> = {
  accepted: 0,
  proposed: 1,
  flagged: 2,
  rejected: 3,
};

/** Merges duplicate rules; see the module comment. The input is not modified. */
export function dedupeRules<R extends DedupableRule>(
  rules: readonly R[],
  options: DedupeOptions = {},
): DedupeResult<R> {
  const threshold = options.threshold ?? 0.7;
  const tokens = rules.map((r) => new Set(statementTokens(r.statement)));
  const order = rules
    .map((_, i) => i)
    .filter((i) => (rules[i] as R).status !== 'rejected')
    .sort((a, b) => compareQuality(rules[a] as R, rules[b] as R) || a - b);
  /** Representative index → member indices (representative first). */
  const groups = new Map<number, number[]>();
  /** Token → representatives holding it (candidate lookup). */
  const index = new Map<string, number[]>();
  for (const i of order) {
    const rule = rules[i] as R;
    const own = tokens[i] as Set<string>;
    const candidates = new Set<number>();
    for (const t of own) for (const rep of index.get(t) ?? []) candidates.add(rep);
    if (own.size === 0) for (const rep of groups.keys()) candidates.add(rep);
    let best: number | undefined;
    let bestSim = threshold;
    for (const rep of [...candidates].sort((a, b) => a - b)) {
      const other = rules[rep] as R;
      if (other.direction !== rule.direction) continue;
      const sim = jaccard(own, tokens[rep] as Set<string>, rule.statement, other.statement);
      if (sim >= bestSim && (best === undefined || sim > bestSim)) {
        best = rep;
        bestSim = sim;
      }
    }
    if (best !== undefined) {
      (groups.get(best) as number[]).push(i);
    } else {
      groups.set(i, [i]);
      for (const t of own) {
        const list = index.get(t);
        if (list) list.push(i);
        else index.set(t, [i]);
      }
    }
  }
  const result: R[] = [];
  const merges: { kept: number; merged: number[] }[] = [];
  const groupOf = new Map<number, number[]>();
  for (const [rep, members] of groups) groupOf.set(rep, members);
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i] as R;
    if (rule.status === 'rejected') {
      result.push(rule);
      continue;
    }
    const members = groupOf.get(i);
    if (!members) continue;
    if (members.length === 1) {
      result.push(rule);
      continue;
    }
    const merged = members.slice(1).sort((a, b) => a - b);
    const all = [rule, ...merged.map((m) => rules[m] as R)];
    result.push({
      ...rule,
      exceptions: union(all.map((r) => r.exceptions)),
      appliesWhen: union(all.map((r) => r.appliesWhen)),
    });
    merges.push({ kept: i, merged });
  }
  return { rules: result, merges };
}

/** Negative when `a` is the better rule to keep. */
function compareQuality(a: DedupableRule, b: DedupableRule): number {
  return (
    STATUS_RANK[a.status] - STATUS_RANK[b.status] ||
    Number(b.source.located) - Number(a.source.located) ||
    a.source.start - b.source.start
  );
}

function union(lists: readonly (readonly string[])[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const list of lists) {
    for (const item of list) {
      const key = item.trim().toLowerCase();
      if (key && !seen.has(key)) {
        seen.add(key);
        out.push(item.trim());
      }
    }
  }
  return out;
}

/** What family clustering needs of a rule. */
export interface FamilyRule {
  statement: string;
  domain: string;
  /** The model's proposed family label, if any. */
  family?: string;
}

export interface FamilyOptions {
  /** Average cosine similarity at or above which clusters merge; default 0.2. */
  threshold?: number;
}

export interface Family {
  label: string;
  /** Input indices, ascending. */
  members: number[];
  /** The family's highest-weighted terms, best first (up to five). */
  terms: string[];
}

export interface FamilyClustering {
  /** Ordered by their first member. */
  families: Family[];
  /** The family label of each input rule. */
  familyOf: string[];
}

/** Groups related rules into families; see the module comment. */
export function clusterFamilies(
  rules: readonly FamilyRule[],
  options: FamilyOptions = {},
): FamilyClustering {
  const threshold = options.threshold ?? 0.2;
  const n = rules.length;
  const surface = new Map<string, Map<string, number>>();
  const docs = rules.map((r) => {
    const domain = r.domain.trim().toLowerCase();
    const features = [...statementTokens(r.statement), ...(domain ? [`d:${domain}`] : [])];
    for (const raw of r.statement.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? []) {
      const f = fold(raw);
      const forms = surface.get(f) ?? new Map<string, number>();
      forms.set(raw, (forms.get(raw) ?? 0) + 1);
      surface.set(f, forms);
    }
    return features;
  });
  const df = new Map<string, number>();
  for (const d of docs) for (const t of new Set(d)) df.set(t, (df.get(t) ?? 0) + 1);
  const vectors = docs.map((d) => {
    const tf = new Map<string, number>();
    for (const t of d) tf.set(t, (tf.get(t) ?? 0) + 1);
    const v = new Map<string, number>();
    let norm = 0;
    for (const [t, c] of tf) {
      const w = c * Math.log(1 + n / (df.get(t) as number));
      v.set(t, w);
      norm += w * w;
    }
    norm = Math.sqrt(norm) || 1;
    for (const [t, w] of v) v.set(t, w / norm);
    return v;
  });

  // Similarity matrix and per-row best neighbour (average linkage, Lance–Williams updates).
  const sim = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const s = cosine(vectors[i] as Map<string, number>, vectors[j] as Map<string, number>);
      sim[i * n + j] = s;
      sim[j * n + i] = s;
    }
  }
  const size = new Int32Array(n).fill(1);
  const active = new Uint8Array(n).fill(1);
  const members: number[][] = rules.map((_, i) => [i]);
  const best = new Int32Array(n).fill(-1);
  const rowBest = (i: number) => {
    let b = -1;
    let bs = -Infinity;
    for (let j = 0; j < n; j++) {
      if (j === i || !active[j]) continue;
      const s = sim[i * n + j] as number;
      if (s > bs) {
        bs = s;
        b = j;
      }
    }
    best[i] = b;
  };
  for (let i = 0; i < n; i++) rowBest(i);
  for (;;) {
    let bi = -1;
    let bs = -Infinity;
    for (let i = 0; i < n; i++) {
      if (!active[i] || (best[i] as number) < 0) continue;
      const s = sim[i * n + (best[i] as number)] as number;
      if (s > bs) {
        bs = s;
        bi = i;
      }
    }
    if (bi < 0 || bs < threshold) break;
    const a = Math.min(bi, best[bi] as number);
    const b = Math.max(bi, best[bi] as number);
    const sa = size[a] as number;
    const sb = size[b] as number;
    for (let k = 0; k < n; k++) {
      if (!active[k] || k === a || k === b) continue;
      const s = ((sim[k * n + a] as number) * sa + (sim[k * n + b] as number) * sb) / (sa + sb);
      sim[k * n + a] = s;
      sim[a * n + k] = s;
    }
    active[b] = 0;
    size[a] = sa + sb;
    (members[a] as number[]).push(...(members[b] as number[]));
    for (let k = 0; k < n; k++) {
      if (!active[k]) continue;
      if (k === a || best[k] === a || best[k] === b) rowBest(k);
      else if ((sim[k * n + a] as number) > (sim[k * n + (best[k] as number)] as number))
        best[k] = a;
    }
  }

  const families: Family[] = [];
  for (let i = 0; i < n; i++) {
    if (!active[i]) continue;
    const m = (members[i] as number[]).sort((x, y) => x - y);
    const weights = new Map<string, number>();
    for (const r of m) {
      for (const [t, w] of vectors[r] as Map<string, number>) {
        const term = t.startsWith('d:') ? t.slice(2) : t;
        weights.set(term, (weights.get(term) ?? 0) + w);
      }
    }
    const terms = [...weights]
      .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))
      .slice(0, 5)
      .map(([t]) => surfaceForm(surface, t));
    families.push({ label: familyLabel(rules, m, terms), members: m, terms });
  }
  families.sort((x, y) => (x.members[0] as number) - (y.members[0] as number));
  const used = new Map<string, number>();
  for (const f of families) {
    const count = (used.get(f.label) ?? 0) + 1;
    used.set(f.label, count);
    if (count > 1) f.label = `${f.label} (${count})`;
  }
  const familyOf = new Array<string>(n).fill('');
  for (const f of families) for (const m of f.members) familyOf[m] = f.label;
  return { families, familyOf };
}

/** Returns copies of `rules` with `family` set from a clustering. */
export function applyFamilies<R extends FamilyRule>(
  rules: readonly R[],
  clustering: FamilyClustering,
): R[] {
  return rules.map((r, i) => ({ ...r, family: clustering.familyOf[i] ?? r.family }));
}

function cosine(a: Map<string, number>, b: Map<string, number>): number {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let dot = 0;
  for (const [t, w] of small) {
    const o = large.get(t);
    if (o !== undefined) dot += w * o;
  }
  return dot;
}

function familyLabel(
  rules: readonly FamilyRule[],
  members: readonly number[],
  terms: readonly string[],
): string {
  const votes = new Map<string, number>();
  for (const m of members) {
    const label = (rules[m]?.family ?? '').trim().toLowerCase();
    if (label) votes.set(label, (votes.get(label) ?? 0) + 1);
  }
  // Most votes; ties go to the label of the earliest member (votes keep first-seen order).
  const top = [...votes].sort((x, y) => y[1] - x[1])[0];
  if (top && top[1] * 2 >= members.length) return top[0];
  return terms.slice(0, 3).join(', ') || 'general';
}

function surfaceForm(surface: Map<string, Map<string, number>>, stem: string): string {
  const forms = surface.get(stem);
  if (!forms) return stem;
  return [...forms].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))[0]?.[0] ?? stem;
}
