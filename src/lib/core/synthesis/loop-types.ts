/**
 * The public types of the synthesis loop (see `loop.ts` for the flow): its options and context,
 * the checkpointed state, the provenance a pair carries, and what one step returns.
 */
import type { AgentRole } from '../engine-config';
import { SpecAlignError } from '../errors';
import type { ChatEngine, ChatMessage, TokenUsage } from '../llm';
import type { CaseType, PreferencePair, Rule, SpecExample } from '../records';
import { type AgentName, type ChosenIssue, type PlannerOutput } from './agents';
import type { TaskDescriptor } from './controls';
import { type ExperienceEntryDraft, type ExperiencePool } from './experience';
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
}

/** Defaults of {@link LoopOptions}. */
export const DEFAULT_LOOP_OPTIONS: LoopOptions = {
  qualityThreshold: 3,
  maxCandidateAttempts: 3,
  roleSwapEvery: 4,
  experienceLimit: 5,
  duplicateThreshold: NEAR_DUPLICATE_THRESHOLD,
  jsonRetries: 2,
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
   * verdict may be `not-applicable`. Synthesis writes 2; readers accept both.
   */
  v: 1 | 2;
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
  turns: number;
  language: string;
  setting: string;
  plan: PlannerOutput & { roleSwap: boolean };
  engines: Partial<Record<AgentName, string>>;
  chosen: JudgedResponse;
  rejected: JudgedResponse;
  /** The defender's first answer as judged (it is the chosen or the rejected side, or neither). */
  defender: JudgedResponse;
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
