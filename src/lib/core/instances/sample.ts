/**
 * Controllable specification instantiation (METHOD.md §2): sample spec instances, i.e. subsets of
 * 8–13 accepted rules, under coverage constraints, reproducibly from a seed.
 *
 * ## Algorithm (the paper names the constraints, not the procedure)
 * For each instance `i`, a generator seeded with `subSeed(seed, 'instance', i)` draws the size in
 * `[minSize, maxSize]`. The instance starts with the pinned rules, then grows greedily: every
 * remaining rule of the pool is scored and the best one is added, until the size is reached.
 * Scores are lexicographic in spirit for stage and direction (their weights dwarf the rest);
 * domain, family and usage trade off against each other (weights tuned on a 41-rule pool so that
 * instances repeat a domain rarely while usage still spreads):
 *
 * | criterion                                   | weight                                 |
 * |---------------------------------------------|----------------------------------------|
 * | covers a stage the instance lacks           | +1000                                  |
 * | has the direction the instance has fewer of | +300 (−300 for the majority direction) |
 * | a domain the instance lacks                 | +120                                   |
 * | a family the instance lacks                 | +100                                   |
 * | never used by an earlier instance           | +80, else −30 × uses                   |
 * | seeded jitter (tie-break)                   | [0, 10)                                |
 *
 * A family already holding `maxPerFamily` rules is ineligible; only when nothing else is left is
 * the cap relaxed (and reported). Usage spreading is part of the score, and a **repair pass**
 * follows: every rule still unused is swapped into an instance in place of a rule used at least
 * twice, when the swap keeps that instance's stage coverage, direction balance and family cap.
 *
 * Unmet constraints never throw: they come back as warnings, per instance and for the whole
 * sample. Rule order inside an instance is canonical (stage order, then priority, then id), so
 * the same set always renders the same prompt. The pool is sorted by id first, so the result does
 * not depend on the order rules are passed in.
 *
 * Ours, not the paper's: pinned rules (in every instance), excluded rules, the family cap, the
 * size range being configurable, and the repair pass.
 */
import type { Rule, RuleDirection, RuleStage } from '../records';
import { Rng, subSeed } from './random';
import { normaliseLabel, stageRank } from './stages';

/** The paper's instance size range. */
export const DEFAULT_MIN_SIZE = 8;
/** The paper's largest instance. */
export const DEFAULT_MAX_SIZE = 13;
/** Default most rules of one family in an instance. */
export const DEFAULT_MAX_PER_FAMILY = 2;

const WEIGHT = {
  stage: 1000,
  direction: 300,
  domain: 120,
  family: 100,
  unused: 80,
  perUse: 30,
  jitter: 10,
} as const;

/** What to sample. */
export interface SampleConfig {
  /** Number of instances. */
  count: number;
  /** Seed of every choice; the same seed and pool give the same instances. */
  seed: number;
  /** Smallest instance; default {@link DEFAULT_MIN_SIZE}. */
  minSize?: number;
  /** Largest instance; default {@link DEFAULT_MAX_SIZE}. */
  maxSize?: number;
  /** Rules placed in every instance. */
  pinnedRuleIds?: readonly string[];
  /** Rules never sampled (wins over pinning). */
  excludedRuleIds?: readonly string[];
  /** Most rules of one family per instance; default {@link DEFAULT_MAX_PER_FAMILY}. */
  maxPerFamily?: number;
}

/** What an instance covers, for display and checks. */
export interface InstanceCoverage {
  stages: RuleStage[];
  domains: string[];
  families: string[];
  positive: number;
  negative: number;
  /** Rules in the largest family. */
  maxFamilyCount: number;
}

/** One sampled instance, before storage gives it an id and a rendered prompt. */
export interface InstanceDraft {
  /** 0-based position in the sample. */
  index: number;
  /** The sample's seed (the instance's own stream is `subSeed(seed, 'instance', index)`). */
  seed: number;
  /** Rule ids in canonical order: stage order, then priority, then id. */
  ruleIds: string[];
  /** The size drawn for this instance (may exceed the result when the pool is small). */
  targetSize: number;
  coverage: InstanceCoverage;
  /** Constraints this instance could not meet. */
  warnings: string[];
}

/** The whole sample. */
export interface SampleResult {
  instances: InstanceDraft[];
  /** Problems with the configuration or the sample as a whole. */
  warnings: string[];
  /** How many instances each pool rule is in. */
  ruleUsage: Record<string, number>;
  /** Pool rules in no instance. */
  unusedRuleIds: string[];
}

interface Candidate {
  rule: Rule;
  family: string;
  domain: string;
}

/**
 * Samples `config.count` instances from `rules` (the accepted rules; `rejected` ones are dropped
 * defensively). See the module comment for the algorithm.
 */
export function sampleInstances(rules: readonly Rule[], config: SampleConfig): SampleResult {
  const warnings: string[] = [];
  const minSize = Math.max(1, Math.floor(config.minSize ?? DEFAULT_MIN_SIZE));
  const maxSize = Math.max(minSize, Math.floor(config.maxSize ?? DEFAULT_MAX_SIZE));
  if ((config.maxSize ?? DEFAULT_MAX_SIZE) < minSize)
    warnings.push(`The largest size is below the smallest; using ${minSize}.`);
  const maxPerFamily = Math.max(1, Math.floor(config.maxPerFamily ?? DEFAULT_MAX_PER_FAMILY));
  const count = Math.max(0, Math.floor(config.count));

  const excluded = new Set(config.excludedRuleIds ?? []);
  const byId = new Map<string, Rule>();
  let rejected = 0;
  for (const rule of rules) {
    if (rule.status === 'rejected') rejected++;
    else byId.set(rule.id, rule);
  }
  if (rejected) warnings.push(`${rejected} rejected rule(s) were left out of the pool.`);
  const pool: Candidate[] = [...byId.values()]
    .filter((r) => !excluded.has(r.id))
    .sort((a, b) => compareIds(a.id, b.id))
    .map((rule) => ({ rule, family: familyKey(rule), domain: normaliseLabel(rule.domain) }));
  const inPool = new Set(pool.map((c) => c.rule.id));

  const pinned: string[] = [];
  for (const id of new Set(config.pinnedRuleIds ?? [])) {
    if (excluded.has(id)) warnings.push(`Rule ${id} is both pinned and excluded; it is excluded.`);
    else if (!inPool.has(id)) warnings.push(`Pinned rule ${id} is not an accepted rule; ignored.`);
    else pinned.push(id);
  }
  pinned.sort(compareIds);
  if (pinned.length > maxSize)
    warnings.push(
      `${pinned.length} pinned rules exceed the largest instance size (${maxSize}); every instance holds all of them.`,
    );
  if (pool.length < minSize)
    warnings.push(
      `Only ${pool.length} rules are available; instances need at least ${minSize}. Accept more rules or lower the size.`,
    );

  const usage = new Map<string, number>(pool.map((c) => [c.rule.id, 0]));
  const candidates = new Map(pool.map((c) => [c.rule.id, c]));
  const selections: { ids: string[]; target: number; relaxedFamily: boolean }[] = [];

  for (let index = 0; index < count; index++) {
    const rng = new Rng(subSeed(config.seed, 'instance', index));
    let target = Math.min(rng.between(minSize, maxSize), pool.length);
    target = Math.max(target, pinned.length);
    const chosen = [...pinned];
    let relaxedFamily = false;
    while (chosen.length < target) {
      const state = summarise(chosen.map((id) => candidates.get(id) as Candidate));
      const chosenSet = new Set(chosen);
      const open = pool.filter((c) => !chosenSet.has(c.rule.id));
      let eligible = open.filter((c) => (state.familyCounts.get(c.family) ?? 0) < maxPerFamily);
      if (!eligible.length) {
        eligible = open;
        relaxedFamily = true;
      }
      let best: Candidate | undefined;
      let bestScore = -Infinity;
      for (const c of eligible) {
        const score =
          scoreCandidate(c, state, usage.get(c.rule.id) ?? 0) + rng.next() * WEIGHT.jitter;
        if (score > bestScore) {
          best = c;
          bestScore = score;
        }
      }
      if (!best) break;
      chosen.push(best.rule.id);
    }
    for (const id of chosen) usage.set(id, (usage.get(id) ?? 0) + 1);
    selections.push({ ids: chosen, target, relaxedFamily });
  }

  repairUnused(selections, candidates, usage, new Set(pinned), maxPerFamily, config.seed);

  const poolStages = new Set(pool.map((c) => c.rule.stage));
  const poolPositive = pool.filter((c) => c.rule.direction === 'positive').length;
  const poolNegative = pool.length - poolPositive;
  const instances = selections.map(({ ids, target, relaxedFamily }, index): InstanceDraft => {
    const members = ids.map((id) => candidates.get(id) as Candidate);
    const coverage = coverageOf(members);
    const own: string[] = [];
    const possibleStages = Math.min(members.length, poolStages.size);
    if (coverage.stages.length < possibleStages)
      own.push(`Covers ${coverage.stages.length} of the ${possibleStages} stages the pool allows.`);
    const imbalance = Math.abs(coverage.positive - coverage.negative);
    const best = bestImbalance(members.length, poolPositive, poolNegative);
    if (imbalance > Math.max(1, best))
      own.push(
        `Directions are unbalanced: ${coverage.positive} positive, ${coverage.negative} negative.`,
      );
    else if (imbalance > 1)
      own.push(
        `Directions differ by ${imbalance} (${coverage.positive} positive, ${coverage.negative} negative): the pool allows no closer balance.`,
      );
    if (relaxedFamily || coverage.maxFamilyCount > maxPerFamily)
      own.push(
        `A family holds ${coverage.maxFamilyCount} rules (cap ${maxPerFamily}): the pool has too few families.`,
      );
    if (members.length < minSize)
      own.push(`Holds ${members.length} rules, fewer than the minimum of ${minSize}.`);
    return {
      index,
      seed: config.seed,
      ruleIds: canonicalOrder(members.map((m) => m.rule)),
      targetSize: target,
      coverage,
      warnings: own,
    };
  });

  const seen = new Map<string, number>();
  for (const instance of instances) {
    const key = [...instance.ruleIds].sort(compareIds).join('\u0000');
    const twin = seen.get(key);
    if (twin !== undefined) instance.warnings.push(`Holds the same rules as instance ${twin + 1}.`);
    else seen.set(key, instance.index);
  }

  const unusedRuleIds = pool.map((c) => c.rule.id).filter((id) => !usage.get(id));
  if (count > 0 && unusedRuleIds.length) {
    const capacity = selections.reduce((n, s) => n + s.ids.length, 0);
    warnings.push(
      capacity < pool.length
        ? `${unusedRuleIds.length} of ${pool.length} rules are in no instance: ${count} instance(s) hold ${capacity} rule slots. Add instances to use every rule.`
        : `${unusedRuleIds.length} rule(s) are in no instance despite room for them (family or balance constraints): ${unusedRuleIds.join(', ')}.`,
    );
  }
  const coveredDomains = new Set(instances.flatMap((i) => i.coverage.domains));
  const missingDomains = [...new Set(pool.map((c) => c.domain))].filter(
    (d) => !coveredDomains.has(d),
  );
  if (count > 0 && missingDomains.length)
    warnings.push(`Domains in no instance: ${missingDomains.sort().join(', ')}.`);

  return {
    instances,
    warnings,
    ruleUsage: Object.fromEntries([...usage.entries()]),
    unusedRuleIds,
  };
}

/**
 * How well `candidate` fits an instance already holding `members`, by the sampler's own score
 * (stage, direction, domain, family, usage; no jitter); undefined when it would push a family
 * past `maxPerFamily`. For repairs that swap a rule into an existing instance (spec updates:
 * core/rules/data-update.ts) with the same preferences as sampling.
 */
export function instanceFitScore(
  candidate: Rule,
  members: readonly Rule[],
  uses: number,
  maxPerFamily: number = DEFAULT_MAX_PER_FAMILY,
): number | undefined {
  const asCandidate = (rule: Rule): Candidate => ({
    rule,
    family: familyKey(rule),
    domain: normaliseLabel(rule.domain),
  });
  const c = asCandidate(candidate);
  const state = summarise(members.map(asCandidate));
  if ((state.familyCounts.get(c.family) ?? 0) >= maxPerFamily) return undefined;
  return scoreCandidate(c, state, uses);
}

/** Rules in canonical order: stage order, then priority (strongest first), then id. */
export function canonicalOrder(rules: readonly Rule[]): string[] {
  return [...rules]
    .sort(
      (a, b) =>
        stageRank(a.stage) - stageRank(b.stage) ||
        a.priority - b.priority ||
        compareIds(a.id, b.id),
    )
    .map((r) => r.id);
}

/** Coverage of a set of rules. */
export function describeCoverage(rules: readonly Rule[]): InstanceCoverage {
  return coverageOf(
    rules.map((rule) => ({ rule, family: familyKey(rule), domain: normaliseLabel(rule.domain) })),
  );
}

interface SelectionState {
  stages: Set<RuleStage>;
  familyCounts: Map<string, number>;
  domains: Set<string>;
  positive: number;
  negative: number;
}

function summarise(members: readonly Candidate[]): SelectionState {
  const state: SelectionState = {
    stages: new Set(),
    familyCounts: new Map(),
    domains: new Set(),
    positive: 0,
    negative: 0,
  };
  for (const m of members) {
    state.stages.add(m.rule.stage);
    state.familyCounts.set(m.family, (state.familyCounts.get(m.family) ?? 0) + 1);
    state.domains.add(m.domain);
    if (m.rule.direction === 'positive') state.positive++;
    else state.negative++;
  }
  return state;
}

function scoreCandidate(c: Candidate, state: SelectionState, uses: number): number {
  let score = 0;
  if (!state.stages.has(c.rule.stage)) score += WEIGHT.stage;
  const minority: RuleDirection | undefined =
    state.positive < state.negative
      ? 'positive'
      : state.negative < state.positive
        ? 'negative'
        : undefined;
  if (minority) score += c.rule.direction === minority ? WEIGHT.direction : -WEIGHT.direction;
  score += uses === 0 ? WEIGHT.unused : -WEIGHT.perUse * uses;
  if (!state.familyCounts.has(c.family)) score += WEIGHT.family;
  if (!state.domains.has(c.domain)) score += WEIGHT.domain;
  return score;
}

function coverageOf(members: readonly Candidate[]): InstanceCoverage {
  const state = summarise(members);
  return {
    stages: [...state.stages].sort((a, b) => stageRank(a) - stageRank(b)),
    domains: [...state.domains].sort(),
    families: [...state.familyCounts.keys()].sort(),
    positive: state.positive,
    negative: state.negative,
    maxFamilyCount: Math.max(0, ...state.familyCounts.values()),
  };
}

/** The smallest |positive − negative| an instance of `size` can reach from the pool. */
function bestImbalance(size: number, positives: number, negatives: number): number {
  let best = Infinity;
  for (let p = Math.max(0, size - negatives); p <= Math.min(positives, size); p++)
    best = Math.min(best, Math.abs(p - (size - p)));
  return best === Infinity ? size : best;
}

/**
 * Swaps each unused rule into some instance in place of a non-pinned rule used at least twice,
 * when the swap keeps that instance's stage count, does not worsen its direction balance beyond
 * ±1 or its family cap, and (preferably) keeps its domain count. Deterministic: unused rules in id
 * order, instances in index order, ties broken by a seeded draw.
 */
function repairUnused(
  selections: { ids: string[] }[],
  candidates: ReadonlyMap<string, Candidate>,
  usage: Map<string, number>,
  pinned: ReadonlySet<string>,
  maxPerFamily: number,
  seed: number,
): void {
  const unused = [...usage.entries()].filter(([, n]) => n === 0).map(([id]) => id);
  const rng = new Rng(subSeed(seed, 'repair'));
  for (const id of unused) {
    const incoming = candidates.get(id) as Candidate;
    let best: { selection: number; slot: number; score: number } | undefined;
    for (const [s, selection] of selections.entries()) {
      const members = selection.ids.map((m) => candidates.get(m) as Candidate);
      const before = summarise(members);
      const beforeImbalance = Math.abs(before.positive - before.negative);
      const beforeFamilyOverflow = overflow(before.familyCounts, maxPerFamily);
      for (const [slot, outgoingId] of selection.ids.entries()) {
        if (pinned.has(outgoingId) || (usage.get(outgoingId) ?? 0) < 2) continue;
        const after = summarise(members.map((m, i) => (i === slot ? incoming : m)));
        if (after.stages.size < before.stages.size) continue;
        const afterImbalance = Math.abs(after.positive - after.negative);
        if (afterImbalance > Math.max(1, beforeImbalance)) continue;
        if (overflow(after.familyCounts, maxPerFamily) > beforeFamilyOverflow) continue;
        const score =
          (after.domains.size >= before.domains.size ? 100 : 0) +
          (usage.get(outgoingId) ?? 0) +
          rng.next();
        if (!best || score > best.score) best = { selection: s, slot, score };
      }
    }
    if (!best) continue;
    const selection = selections[best.selection] as { ids: string[] };
    const outgoing = selection.ids[best.slot] as string;
    selection.ids[best.slot] = id;
    usage.set(outgoing, (usage.get(outgoing) ?? 0) - 1);
    usage.set(id, 1);
  }
}

function overflow(counts: ReadonlyMap<string, number>, cap: number): number {
  let total = 0;
  for (const n of counts.values()) total += Math.max(0, n - cap);
  return total;
}

/** A rule's family for diversity; a rule without one is a family of its own. */
function familyKey(rule: Rule): string {
  const family = normaliseLabel(rule.family);
  return family || `rule:${rule.id}`;
}

/**
 * Id order that sorts `r2` before `r10`: digit runs compare by value, everything else by UTF-16
 * code unit (not by locale, so the order is the same in every browser and in Node).
 */
export function compareIds(a: string, b: string): number {
  const pa = a.match(/\d+|\D+/g) ?? [];
  const pb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i] as string;
    const y = pb[i] as string;
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const diff = Number(x) - Number(y);
      if (diff) return diff;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length || (a < b ? -1 : a > b ? 1 : 0);
}
