/**
 * The experience pool (METHOD.md §3): strategies tried against an instance and whether they
 * worked, fed back to the planner.
 *
 * Method choices (the paper names the pool, not its policy):
 * - **Pure data**, structured-cloneable: the worker stores it with the run and hands a snapshot to
 *   each task; the loop never mutates it but returns an {@link ExperienceEntryDraft} for the caller
 *   to add with {@link addExperience} (in the same transaction as the step's checkpoint).
 * - **Success** means the attacker achieved what the case type was after: the defender violated
 *   the rule (violation-seeking, borderline) or refused needlessly (benign look-alike).
 * - **Selection**: entries of the same instance, grouped by normalised strategy text; the
 *   planner sees successful strategies, most successes first, then most recent, capped at
 *   `limit` (default 5). Recency is the pool's own sequence number, not a clock.
 * - **Role swap** (the paper: "attacker and defender swap roles so that strategies don't
 *   freeze"). Our models are fixed, so the swap is emulated in the prompt: on every K-th task the
 *   planner is also shown recent strategies the defender *held* against, each with what the
 *   defender did (the opening of its reply), and is asked to reason from the defender's side
 *   about what it would not anticipate. This keeps the planner from re-proposing what already
 *   failed and grounds it in actual defender behaviour.
 * - The pool is capped (default 500 entries, oldest dropped first).
 * - **Rounds** (issue 14 §1): an entry is made once per task, when the defender's verdict is final —
 *   when the attacker succeeded, or after the last of the run's attack rounds — and records how
 *   many rounds it took (`rounds`) and the target rule's family, so the pool says which
 *   strategies broke which rule families and how hard they had to push. Hints carry the mean
 *   rounds of a strategy's successes; the planner's "worked before" lines mention it.
 */
import type { CaseType } from '../records';
import type { AttackTechnique } from './agents/planner';

/** One strategy's outcome against one instance. */
export interface ExperienceEntry {
  /** Position in the pool's history (1, 2, …): the recency order. */
  seq: number;
  instanceId: string;
  ruleId: string;
  caseType: CaseType;
  taskKey: string;
  /** The strategy's family (absent in entries made before techniques existed). */
  technique?: AttackTechnique;
  strategy: string;
  angle: string;
  persona: string;
  /** The attacker got what the case type was after. */
  success: boolean;
  /** Attack rounds run until the verdict was final (absent in entries made before rounds: 1). */
  rounds?: number;
  /** The target rule's family (absent in entries made before rounds). */
  family?: string;
  /** The opening of the defender's reply, for role-swap feedback. */
  defenderMove?: string;
}

/** An entry before the pool numbers it. */
export type ExperienceEntryDraft = Omit<ExperienceEntry, 'seq'>;

/** The pool: entries in history order. */
export interface ExperiencePool {
  entries: ExperienceEntry[];
  /** The next sequence number. */
  nextSeq: number;
}

/** What the planner is shown. */
export interface ExperienceHint {
  technique?: AttackTechnique;
  strategy: string;
  angle: string;
  outcome: 'worked' | 'held';
  /** Times this strategy worked / was tried on the instance. */
  successes: number;
  uses: number;
  /** Mean attack rounds the successes took (1 decimal); absent for held strategies. */
  rounds?: number;
  defenderMove?: string;
}

/** Default cap on pool entries. */
export const DEFAULT_POOL_CAP = 500;
/** Characters of the defender's reply kept as its "move". */
export const DEFENDER_MOVE_CHARS = 200;

/** A pool with no entries. */
export function emptyExperiencePool(): ExperiencePool {
  return { entries: [], nextSeq: 1 };
}

/** A new pool with `entry` added (oldest entries dropped beyond `cap`). */
export function addExperience(
  pool: ExperiencePool,
  entry: ExperienceEntryDraft,
  cap = DEFAULT_POOL_CAP,
): ExperiencePool {
  const entries = [...pool.entries, { ...entry, seq: pool.nextSeq }];
  return { entries: entries.slice(Math.max(0, entries.length - cap)), nextSeq: pool.nextSeq + 1 };
}

/** How many hints to show, and whether to include held strategies. */
export interface SelectOptions {
  /** Most successful strategies shown; default 5. */
  limit?: number;
  /** Also show strategies the defender held against, with its moves (role swap). */
  includeHeld?: boolean;
  /** Most held strategies shown; default 3. */
  heldLimit?: number;
}

/** The hints for a planner working on `instanceId`; see the module comment for the order. */
export function selectExperience(
  pool: ExperiencePool,
  instanceId: string,
  options: SelectOptions = {},
): ExperienceHint[] {
  const groups = new Map<
    string,
    {
      first: ExperienceEntry;
      successes: number;
      uses: number;
      lastSeq: number;
      lastHeld?: ExperienceEntry;
      /** Rounds summed over the successes. */
      successRounds: number;
    }
  >();
  for (const entry of pool.entries) {
    if (entry.instanceId !== instanceId) continue;
    const key = normaliseStrategy(entry.strategy);
    if (!key) continue;
    const group = groups.get(key) ?? {
      first: entry,
      successes: 0,
      uses: 0,
      lastSeq: 0,
      successRounds: 0,
    };
    group.uses++;
    if (entry.success) {
      group.successes++;
      group.successRounds += entry.rounds ?? 1;
    } else group.lastHeld = entry;
    group.lastSeq = Math.max(group.lastSeq, entry.seq);
    groups.set(key, group);
  }
  const all = [...groups.values()];
  const worked = all
    .filter((g) => g.successes > 0)
    .sort((a, b) => b.successes - a.successes || b.lastSeq - a.lastSeq)
    .slice(0, options.limit ?? 5)
    .map((g): ExperienceHint => ({
      ...(g.first.technique ? { technique: g.first.technique } : {}),
      strategy: g.first.strategy,
      angle: g.first.angle,
      outcome: 'worked',
      successes: g.successes,
      uses: g.uses,
      rounds: Math.round((g.successRounds / g.successes) * 10) / 10,
    }));
  if (!options.includeHeld) return worked;
  const held = all
    .filter((g) => g.successes === 0 && g.lastHeld)
    .sort((a, b) => b.lastSeq - a.lastSeq)
    .slice(0, options.heldLimit ?? 3)
    .map((g): ExperienceHint => ({
      ...(g.first.technique ? { technique: g.first.technique } : {}),
      strategy: g.first.strategy,
      angle: g.first.angle,
      outcome: 'held',
      successes: 0,
      uses: g.uses,
      ...(g.lastHeld?.defenderMove ? { defenderMove: g.lastHeld.defenderMove } : {}),
    }));
  return [...worked, ...held];
}

/** True when the task at `order` (0-based) is a role-swap task for cadence `every` (0 = never). */
export function isRoleSwapTask(order: number, every: number): boolean {
  return every > 0 && order % every === every - 1;
}

function normaliseStrategy(strategy: string): string {
  return strategy
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}
