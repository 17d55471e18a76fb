/**
 * The public types of the synthesis loop (see `loop.ts` for the flow): its options and context,
 * the checkpointed state, the provenance a pair carries, and what one step returns.
 */
import type { AgentRole } from '../engine-config';
import { SpecAlignError } from '../errors';
import type { ChatEngine, ChatMessage, TokenUsage } from '../llm';
import type { CaseType, PreferencePair, Rule, SpecExample } from '../records';
import { type AgentName, type ChosenIssue, type PlannerOutput } from './agents';
import { DEFAULT_ATTACK_ROUNDS, type TaskDescriptor } from './controls';
import { type ExperienceEntryDraft, type ExperienceHint, type ExperiencePool } from './experience';
import { NEAR_DUPLICATE_THRESHOLD } from './near-duplicate';
import type { TaskRoles } from './role-rotation';

/** Tunables of the loop. */
export interface LoopOptions {
  /** Least helpfulness and fluency (1–5) a chosen reply needs; least fluency a rejected one needs. Default 3. */
  qualityThreshold: number;
  /** Writes per candidate kind (chosen, violation, refusal) before the task fails. Default 3. */
  maxCandidateAttempts: number;
  /** Every K-th task (by order) is a role-swap task; 0 turns it off. Default 4. */
  roleSwapEvery: number;
  /** Most "worked before" strategies shown to the planner. Default 5. */
  experienceLimit: number;
  /** Jaccard threshold for near-duplicate prompts. Default 0.8. */
  duplicateThreshold: number;
  /** `chatJson` repair attempts per call. Default 2. */
  jsonRetries: number;
  /**
   * Adversarial rounds before the violator writes the rejected side (issue 14 §1): when the
   * defender holds, the attacker sees its reply and the judge's verdict and tries again, up to
   * this many attacks in all. 1 = one attack, then the violator. Default 3. Runs stored before
   * the option existed read as 1 (core/stored/runs.ts), so they resume unchanged.
   */
  attackRounds: number;
}

/** Defaults of {@link LoopOptions}. */
export const DEFAULT_LOOP_OPTIONS: LoopOptions = {
  qualityThreshold: 3,
  maxCandidateAttempts: 3,
  roleSwapEvery: 4,
  experienceLimit: 5,
  duplicateThreshold: NEAR_DUPLICATE_THRESHOLD,
  jsonRetries: 2,
  attackRounds: DEFAULT_ATTACK_ROUNDS,
};

/** The instance a task works on. */
export interface SynthesisInstance {
  id: string;
  specVersionId: string;
  rules: readonly Rule[];
  /** The stored system prompt; rendered from `rules` when absent. Must match `rules`' labels. */
  systemPrompt?: string;
}

/** Everything a step needs besides the task's own state. */
export interface LoopContext {
  instance: SynthesisInstance;
  /** Spec examples by rule id (see `examplesByRule`): few-shot grounding. */
  examples?: Readonly<Record<string, readonly SpecExample[]>>;
  /** Snapshot of the run's experience pool. */
  experience?: ExperiencePool;
  /** Prompts (user turns joined by newlines) already produced in the run, for deduplication. */
  existingPrompts?: readonly string[];
  /**
   * The engine for a role, loaded on demand. `agent` says which agent calls (the chosen writer
   * runs on the defender's role): a task whose `roles` assign the attacker or the defender a model
   * resolves that agent's engine by it (see role-rotation.ts).
   */
  engineFor(role: AgentRole, agent?: AgentName): Promise<ChatEngine>;
  /** Engine ids for provenance; default each engine's own `id`. */
  engineIds?: Partial<Record<AgentRole, string>>;
  signal?: AbortSignal;
  /** Clock for provenance timestamps; default `Date.now`. */
  now?: () => number;
  options?: Partial<LoopOptions>;
}

/** The kinds of candidate response the loop writes and judges. */
export type CandidateKind = 'chosen' | 'violation' | 'refusal';

/** Every step the loop can take (the `next` of a state; the `step` of a result). */
export type LoopStep =
  | 'plan'
  | 'attack'
  | 'defend'
  | 'judge-defender-safety'
  | 'judge-defender-quality'
  | `write-${CandidateKind}`
  | `judge-${CandidateKind}-safety`
  | `judge-${CandidateKind}-quality`;

/** How a pair came about. */
export type PairPath = 'defender-violated' | 'over-refusal' | 'violator' | 'refusal-writer';

/** Usage of one agent over the task. */
export interface RoleUsage {
  calls: number;
  /** `chatJson` attempts (repairs included). */
  attempts: number;
  promptTokens: number;
  completionTokens: number;
  engineMs: number;
}

/** A safety checklist, with rule ids resolved: one verdict per rule of the instance. */
export type SafetySummary = {
  verdicts: {
    ruleId?: string;
    label: string;
    /** `not-applicable`: the exchange does not touch the rule (checklists, provenance v2). */
    verdict: 'complied' | 'violated' | 'not-applicable';
    evidence: string;
    rationale: string;
  }[];
  overRefusal: boolean;
};

/** A quality verdict as recorded in provenance. */
export type QualitySummary = { helpfulness: number; fluency: number; rationale: string };

/** One judge call, for provenance. */
export type JudgementRecord = {
  subject: 'defender' | CandidateKind;
  judge: 'safety' | 'quality';
  attempt: number;
  /** The attack round of a defender judgement, when the run had several rounds (absent = 1). */
  round?: number;
  passed: boolean;
  safety?: SafetySummary;
  quality?: QualitySummary;
  /** Set when the verdict contradicted itself. */
  contradiction?: string;
};

/** A response with where it came from and how it was judged. */
export type JudgedResponse = {
  source: 'defender' | 'chosen-writer' | 'violator';
  response: string;
  safety?: SafetySummary;
  quality?: QualitySummary;
};

/**
 * An attack round the defender held (issue 14 §1): what the attacker sent that round, what the
 * defender answered and what the judge said of the target rule. The next round's attacker is
 * shown it.
 */
export type AttackRound = {
  /** 1-based. */
  round: number;
  /** The turns the attacker wrote in this round (all of them in round 1; one user turn after that in multi-turn tasks). */
  turns: ChatMessage[];
  /** The defender's reply. */
  reply: string;
  /** The judge's verdict on the target rule (absent when the checklist left it out). */
  verdict?: 'complied' | 'violated' | 'not-applicable';
  rationale: string;
  overRefusal: boolean;
};

/**
 * Where a pair's sides came from (issue 14 §4), defined on the loop's paths:
 * - rejected `defender`: the defender's own reply of attack round `round` (paths
 *   `defender-violated` and `over-refusal`): an elicited failure;
 * - rejected `violator`: written to order by the violator (paths `violator`, `refusal-writer`)
 *   and accepted on its first write;
 * - rejected `rewrite`: written by the violator and accepted only after one or more rewrites with
 *   the judge's feedback (`writes.violation` or `writes.refusal` > 1);
 * - chosen `defender`: the defender's reply of the final round, which passed every rule and the
 *   quality bar; chosen `written`: the chosen writer's reply, written with the instance given
 *   explicitly;
 * - `unknown` (readers only): a stored record whose fields do not tell (see `pairOrigin`).
 */
export type PairOrigin = {
  rejected: 'defender' | 'violator' | 'rewrite' | 'unknown';
  /** The attack round of a `defender` rejected side. */
  round?: number;
  chosen: 'defender' | 'written' | 'unknown';
  /** Attack rounds run before the defender's verdict was final (1 when unknown). */
  rounds: number;
};

/** The checkpointed state of one synthesis task: plain JSON. */
export type LoopState = {
  version: 1;
  task: TaskDescriptor;
  /** The step the next call performs. */
  next: LoopStep;
  /** Agent calls made so far (seeds derive from it). */
  calls: number;
  startedAt?: number;
  plan?: PlannerOutput & { roleSwap: boolean };
  /**
   * The attack round in progress (1-based; absent = 1: states written before rounds existed).
   * Rounds never exceed the run's `attackRounds`.
   */
  round?: number;
  /** The rounds the defender held, in order (absent = none). */
  rounds?: AttackRound[];
  /**
   * The defender's held answer and the conversation of the round just recorded, until the next
   * round's prompt passes the duplicate check: a repeated prompt falls back to it.
   */
  lastHeld?: { defender: JudgedResponse; conversation: ChatMessage[] };
  /** The planner's "worked before" hints, kept for the attacker's later rounds (absent = none). */
  hints?: ExperienceHint[];
  conversation?: ChatMessage[];
  defender?: JudgedResponse;
  path?: PairPath;
  rejected?: JudgedResponse;
  chosen?: JudgedResponse;
  /** Candidates still to write, in order. */
  pending: CandidateKind[];
  /** Why a chosen reply is needed (guidance for the writer). */
  chosenIssue?: ChosenIssue;
  /** The candidate being judged. */
  candidate?: JudgedResponse & { kind: CandidateKind };
  /** Judge feedback for the next write. */
  feedback?: string;
  /** Writes per candidate kind. */
  writes: Record<CandidateKind, number>;
  /** Set while a contradicting safety verdict is being re-judged. */
  rejudge?: string;
  usage: Partial<Record<AgentName, RoleUsage>>;
  engines: Partial<Record<AgentName, string>>;
  judgements: JudgementRecord[];
  /**
   * The models assigned to this task's attacker and defender when the run was planned (on-policy
   * defender, role rotation; role-rotation.ts). Absent: every agent uses its role's model (runs
   * planned without these options, or before they existed).
   */
  roles?: TaskRoles;
};

/** Provenance of a pair (METHOD.md §3): plain JSON. */
export type PairProvenance = {
  /**
   * Shape version (see core/stored/pair-provenance.ts); rows without it are version 1. Version 2:
   * the safety judge is a checklist over every rule of the instance (`judgedRuleIds`), and a
   * verdict may be `not-applicable`. Version 3: adversarial rounds — `origin` states where each
   * side came from, `heldRounds` the rounds the defender held. Synthesis writes 3; readers accept
   * all (`pairOrigin` derives the origin of older records).
   */
  v: 1 | 2 | 3;
  method: 'specalign-adversarial/1';
  specVersionId: string;
  instanceId: string;
  taskKey: string;
  seed: number;
  targetRuleIds: string[];
  /** Rules every safety judgement covered (version 2: all of the instance's rules). */
  judgedRuleIds: string[];
  ruleLabels: Record<string, string>;
  caseType: CaseType;
  path: PairPath;
  persona: string;
  difficulty: number;
  /** User turns the task planned; each escalation round of a multi-turn task added one more (see `heldRounds`). */
  turns: number;
  language: string;
  setting: string;
  plan: PlannerOutput & { roleSwap: boolean };
  engines: Partial<Record<AgentName, string>>;
  chosen: JudgedResponse;
  rejected: JudgedResponse;
  /** The defender's final answer as judged (it is the chosen or the rejected side, or neither). */
  defender: JudgedResponse;
  /** Where each side came from (version 3; read it through `pairOrigin`, which derives it for older records). */
  origin?: PairOrigin;
  /** The attack rounds the defender held before its final answer (version 3; empty when it broke in round 1). */
  heldRounds?: AttackRound[];
  judgements: JudgementRecord[];
  writes: Record<CandidateKind, number>;
  lengths: {
    chosenChars: number;
    rejectedChars: number;
    chosenWords: number;
    rejectedWords: number;
    /** chosenChars / rejectedChars. */
    ratio: number;
  };
  usage: Partial<Record<AgentName, RoleUsage>>;
  timing: { startedAt: number; finishedAt: number; engineMs: number };
  /**
   * The task's planned attacker/defender assignment (on-policy defender, role rotation), when the
   * run had one; `engines` holds the ids of the engines that actually answered. Optional in every
   * version: pairs without it used the project's per-role models.
   */
  roleAssignment?: TaskRoles;
};

/** A preference pair before storage gives it an id, project, run, status and date. */
export type PairDraft = Omit<
  PreferencePair,
  'id' | 'projectId' | 'runId' | 'status' | 'createdAt' | 'provenance'
> & { provenance: PairProvenance };

/** What one step produced. */
export interface LoopStepResult {
  /** The step just performed. */
  step: LoopStep;
  /** The state to checkpoint (the final state when `done`). */
  state: LoopState;
  done: boolean;
  /** Set when the task finished with a pair. */
  pair?: PairDraft;
  /** Set when the task finished without a pair, with the reason. */
  failure?: string;
  /** Set once per task, when the defender's verdict is final: add it to the experience pool. */
  experience?: ExperienceEntryDraft;
  usage: TokenUsage;
  engineMs: number;
}

/** A step's agent gave no usable answer even after `chatJson`'s repair; the executor may retry. */
export class SynthesisStepError extends SpecAlignError {
  constructor(
    message: string,
    readonly step: LoopStep,
    /** Tokens and engine time the failed call spent. */
    readonly usage: TokenUsage,
    readonly durationMs: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
