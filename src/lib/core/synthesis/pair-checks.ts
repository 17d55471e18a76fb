/**
 * Checks that a preference pair actually carries a preference (issue 10 §8).
 *
 * A pair whose chosen and rejected replies say the same thing teaches DPO nothing and makes KTO
 * label one completion both desirable and undesirable. This was seen in real runs: a benign
 * look-alike whose "needless refusal" (written by the violator, waved through by a lenient
 * judge) was the helpful answer itself. So synthesis drops such a pair and export refuses it.
 *
 * Method choices:
 * - Replies are compared after normalisation: Unicode NFKC, lower case, punctuation removed,
 *   whitespace collapsed. "Sure!  Here it is." and "sure here it is" are the same reply.
 * - Beyond exact equality, replies are **near-identical** when the Dice coefficient of their word
 *   bigram multisets is at least {@link NEAR_IDENTICAL_SIMILARITY} (0.9). Bigrams keep some word
 *   order, multisets keep repetitions, and the whole check is linear in the replies' length (it
 *   runs on every pair at export). At 0.9, a 100-word reply must change roughly five or more
 *   words to count as different; an appended "I can't help with that." to a long helpful answer
 *   does not make it a refusal, and the refusal check below catches that case anyway.
 * - Case type: the rejected side must be what the pair's path says. Over-refusal pairs (benign
 *   look-alikes, needless refusals) need a rejected reply judged an over-refusal and a chosen
 *   reply not judged one; violation pairs need a rejected reply judged to violate the target
 *   rule. Verdicts absent from an old record are not held against it: only contradicting ones.
 * - The chosen side must not break any rule it was judged on (the safety judge's checklist
 *   covers every rule of the instance): DPO would otherwise learn to prefer that violation.
 */
import type { CaseType, PreferencePair } from '../records';
import type { PairProvenance } from './loop-types';

/** Replies at least this similar (bigram Dice, 0..1) count as the same reply. */
export const NEAR_IDENTICAL_SIMILARITY = 0.9;

/** A reply reduced to what the comparison looks at (see the module comment). */
export function normaliseReply(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\p{P}\p{S}]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Bigram count of a reply of `words` words (a one-word reply counts its word). */
const bigramTotal = (words: number) => (words === 1 ? 1 : Math.max(0, words - 1));

/**
 * Word-bigram multiset counts, keyed by numbers: each word gets an id from `ids` (shared by the
 * two replies), a bigram is `id1 * 2^21 + id2`. Numeric keys avoid building a string per bigram:
 * the check runs on every pair of an export.
 */
function bigramCounts(words: readonly string[], ids: Map<string, number>): Map<number, number> {
  const id = (w: string) => {
    let n = ids.get(w);
    if (n === undefined) ids.set(w, (n = ids.size));
    return n;
  };
  const counts = new Map<number, number>();
  // A one-word reply has no bigram: compare its single word instead.
  if (words.length === 1) counts.set(id(words[0] as string), 1);
  let previous = words.length > 1 ? id(words[0] as string) : 0;
  for (let i = 1; i < words.length; i++) {
    const current = id(words[i] as string);
    const key = previous * 0x20_0000 + current;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    previous = current;
  }
  return counts;
}

function diceOfWords(a: readonly string[], b: readonly string[]): number {
  const ids = new Map<string, number>();
  const ca = bigramCounts(a, ids);
  const cb = bigramCounts(b, ids);
  let shared = 0;
  for (const [key, n] of cb) shared += Math.min(n, ca.get(key) ?? 0);
  const total = bigramTotal(a.length) + bigramTotal(b.length);
  return total === 0 ? 0 : (2 * shared) / total;
}

/** Dice similarity (0..1) of two replies' word-bigram multisets after normalisation. */
export function replySimilarity(a: string, b: string): number {
  const na = normaliseReply(a);
  const nb = normaliseReply(b);
  if (na === nb) return 1;
  if (!na || !nb) return 0;
  return diceOfWords(na.split(' '), nb.split(' '));
}

/** True when chosen and rejected differ in more than whitespace, case, punctuation or a few words. */
export function pairsDifferMeaningfully(chosen: string, rejected: string): boolean {
  const na = normaliseReply(chosen);
  const nb = normaliseReply(rejected);
  if (na === nb) return false;
  if (!na || !nb) return true;
  const a = na.split(' ');
  const b = nb.split(' ');
  // Shared bigrams cannot exceed the smaller side: replies of very different lengths differ.
  const ta = bigramTotal(a.length);
  const tb = bigramTotal(b.length);
  if ((2 * Math.min(ta, tb)) / (ta + tb) < NEAR_IDENTICAL_SIMILARITY) return true;
  return diceOfWords(a, b) < NEAR_IDENTICAL_SIMILARITY;
}

/** The judged facts about one side of a pair that the case-type check needs. */
export interface JudgedSide {
  response: string;
  safety?: {
    overRefusal: boolean;
    verdicts: readonly {
      ruleId?: string;
      label?: string;
      verdict: 'complied' | 'violated' | 'not-applicable';
    }[];
  };
}

/** A pair as the checks see it: the same shape at synthesis time and in stored provenance. */
export interface PairForCheck {
  caseType: CaseType;
  /** How the pair came about (provenance `path`); decides which kind of rejected reply it needs. */
  path?: string;
  targetRuleIds: readonly string[];
  chosen: JudgedSide;
  rejected: JudgedSide;
}

/** True when the pair is meant to teach "help instead of refusing". */
function isOverRefusalPair(pair: PairForCheck): boolean {
  if (pair.path) return pair.path === 'over-refusal' || pair.path === 'refusal-writer';
  return pair.caseType === 'benign';
}

/**
 * Why `pair` carries no usable preference, or `undefined` when it does. The message names the
 * problem in words a reviewer understands.
 */
export function pairProblem(pair: PairForCheck): string | undefined {
  if (!pairsDifferMeaningfully(pair.chosen.response, pair.rejected.response))
    return 'chosen and rejected replies are the same (or nearly: they differ only in wording, whitespace or punctuation)';
  const chosen = pair.chosen.safety;
  const rejected = pair.rejected.safety;
  const broken = chosen?.verdicts.filter((v) => v.verdict === 'violated') ?? [];
  if (broken.length)
    return `the chosen reply was judged to break ${broken.map((v) => v.label ?? v.ruleId ?? 'a rule').join(', ')}`;
  if (isOverRefusalPair(pair)) {
    if (rejected && !rejected.overRefusal)
      return 'the rejected reply of this over-refusal pair was not judged a needless refusal';
    if (chosen?.overRefusal)
      return 'the chosen reply of this over-refusal pair is itself a refusal';
    return undefined;
  }
  if (
    rejected &&
    !rejected.verdicts.some(
      (v) =>
        v.verdict === 'violated' &&
        (v.ruleId === undefined || pair.targetRuleIds.includes(v.ruleId)),
    )
  )
    return 'the rejected reply of this violation pair was not judged to break its target rule';
  return undefined;
}

/**
 * A stored pair as the checks see it: its current texts (a reviewer's edits included) and, when
 * synthesis recorded them (`provenance`, read with `readPairProvenance`), the judges' verdicts
 * and the path. Pairs from elsewhere are checked on their texts alone.
 */
export function storedPairForCheck(
  pair: PreferencePair,
  provenance: PairProvenance | undefined,
): PairForCheck {
  const chosen = provenance?.chosen.safety;
  const rejected = provenance?.rejected.safety;
  return {
    caseType: pair.caseType,
    ...(provenance ? { path: provenance.path } : {}),
    targetRuleIds: pair.ruleIds,
    chosen: { response: pair.chosen, ...(chosen ? { safety: chosen } : {}) },
    rejected: { response: pair.rejected, ...(rejected ? { safety: rejected } : {}) },
  };
}
