/**
 * The stored shapes of everything the method produces. Plain data (structured-cloneable), so
 * the same objects live in IndexedDB, cross postMessage and feed Node tests.
 * Every artifact keeps its provenance: a section anchor and character span in a spec version.
 */
import type { AgentRole, EngineConfig } from './engine-config';
import type { ChatMessage, TokenUsage } from './llm';
import type { ExperiencePool } from './synthesis/experience';

/** Model Spec authority levels, highest first (METHOD.md §1). */
export const AUTHORITY_LEVELS = ['root', 'system', 'developer', 'user', 'guideline'] as const;
export type Authority = (typeof AUTHORITY_LEVELS)[number];

export interface Project {
  id: string;
  name: string;
  description?: string;
  createdAt: number;
  updatedAt: number;
  /** Model used by every role that has no override. */
  defaultModel?: EngineConfig;
  /** Per-role overrides (METHOD.md §3: each role may use its own model). */
  roleModels?: Partial<Record<AgentRole, EngineConfig>>;
}

export type SpecSourceType = 'paste' | 'markdown' | 'text' | 'html' | 'pdf' | 'docx';
export type SpecFormat = 'openai-model-spec' | 'markdown' | 'plain';

export interface SpecVersion {
  id: string;
  projectId: string;
  /** 1, 2, 3… within the project, in import order. */
  versionNumber: number;
  title: string;
  sourceName: string;
  sourceType: SpecSourceType;
  format: SpecFormat;
  /** The normalised source text that every offset points into. */
  text: string;
  /** SHA-256 of `text`, hex. */
  contentHash: string;
  createdAt: number;
  /** The version this one was compared against when imported, if any. */
  previousVersionId?: string;
  /** Commentary spans (`!!! meta`): context for annotation, never rules. */
  metaSpans?: { start: number; end: number }[];
  /** Words and estimated tokens of `text`, for the Spec screen. */
  stats?: { words: number; estimatedTokens: number; sections: number; examples: number };
  /** Non-fatal findings from ingestion (duplicate anchors, unlabelled replies…). */
  warnings?: string[];
  /** Set when this version's rules were carried over from its previous version (issue 11 §2). */
  update?: SpecVersionUpdate;
}

/** A confirmed *Update from vN*: where this version's rules came from. */
export interface SpecVersionUpdate {
  fromVersionId: string;
  /** The annotation run that re-annotated the changed and added sections. */
  runId: string;
  confirmedAt: number;
  kept: number;
  changed: number;
  added: number;
  /** Rules of the previous version that did not carry over (they stay readable there). */
  retiredRuleIds: string[];
  /** Lineages the update reworded (changed) or ended (retired): what makes data stale. */
  changedLineageIds?: string[];
  retiredLineageIds?: string[];
  /** Rows marked {@link StaleMark} by this update. */
  stale?: { pairs: number; instances: number; evalItems: number };
}

/**
 * Set on a pair, instance or evaluation task whose rules a spec update changed or retired
 * (issue 11 §3): the row is kept and readable, but no longer reflects the current spec.
 */
export interface StaleMark {
  reason: 'changed' | 'retired';
  /** The spec version whose update made the row stale. */
  specVersionId: string;
  /** The lineages of the row that changed or retired. */
  lineageIds: string[];
}

export interface Section {
  /** `${specVersionId}#${anchor}` */
  id: string;
  specVersionId: string;
  projectId: string;
  /** Stable anchor: the spec's own `{#id}` where present, else a slug of the heading path. */
  anchor: string;
  title: string;
  headingPath: string[];
  level: number;
  /** Document order, 0-based. */
  order: number;
  parentAnchor?: string;
  /** Character offsets into SpecVersion.text: the heading line starts at `start`, body at `bodyStart`. */
  start: number;
  bodyStart: number;
  end: number;
  authority?: Authority;
  /** Extra labels the spec puts on the heading, e.g. Model Spec `{#id tags=under_18}` → `['under_18']`. */
  tags?: string[];
}

export type ExampleTurnRole = 'system' | 'developer' | 'user' | 'assistant' | 'tool';

export interface SpecExample {
  id: string;
  specVersionId: string;
  projectId: string;
  sectionAnchor: string;
  order: number;
  title?: string;
  description?: string;
  turns: {
    role: ExampleTurnRole;
    content: string;
    /** Tag attributes, e.g. `<assistant recipient="browser">` or `<tool name="browser">`. */
    attributes?: Record<string, string>;
  }[];
  /** Alternative final assistant replies with the spec's verdict. */
  comparisons: {
    verdict: 'good' | 'bad';
    content: string;
    note?: string;
    /** The spec's literal label. Model Spec `OK` (acceptable, not ideal) counts as verdict `good`. */
    label?: 'GOOD' | 'OK' | 'BAD';
    /** Anchor of the section the spec cites for this verdict (`<!-- BAD[#chain_of_command] -->`). */
    citedAnchor?: string;
  }[];
  start: number;
  end: number;
}

export type RuleDirection = 'positive' | 'negative';
/** Where in answering a rule applies (METHOD.md §1), in pipeline order. */
export const RULE_STAGES = ['interpretation', 'decision', 'content', 'style', 'action'] as const;
export type RuleStage = (typeof RULE_STAGES)[number];
export type RuleStrength = 'must' | 'should' | 'may';
export type RuleStatus = 'proposed' | 'accepted' | 'rejected' | 'flagged';

export interface Rule {
  id: string;
  projectId: string;
  specVersionId: string;
  /**
   * The same rule across spec versions (issue 11 §1; core/rules/lineage.ts): a new rule's own
   * id, a carried-over or matched rule's predecessor's lineage. Every stored rule has one since
   * schema v3; optional in the type because rows older than v3 in an imported file lack it.
   */
  lineageId?: string;
  /** The rule of the previous spec version this one carries over or replaces (issue 11 §2). */
  previousRuleId?: string;
  sectionAnchor: string;
  statement: string;
  direction: RuleDirection;
  stage: RuleStage;
  domain: string;
  family: string;
  /** Lower is stronger: the index in AUTHORITY_LEVELS, or a ranked level for other specs. */
  priority: number;
  authority?: Authority;
  strength: RuleStrength;
  exceptions: string[];
  appliesWhen: string[];
  source: { quote: string; start: number; end: number; located: boolean };
  status: RuleStatus;
  origin: 'model' | 'manual' | 'split' | 'merge' | 'import';
  /** What a reviewer should know (quote not found, direction differs from the spec…). */
  notes?: string[];
  /** The annotation run that proposed it, for provenance and dedupe. */
  runId?: string;
  createdAt: number;
  updatedAt: number;
}

export interface SpecInstance {
  id: string;
  projectId: string;
  specVersionId: string;
  seed: number;
  index: number;
  ruleIds: string[];
  /** Lineage ids of `ruleIds`, in the same order (schema v3). */
  lineageIds?: string[];
  /** Set when a spec update changed or retired one of its rules. */
  stale?: StaleMark;
  pinned: boolean;
  /** The instance rendered as the system prompt agents and the trained model see. */
  systemPrompt: string;
  createdAt: number;
}

export type RunKind = 'annotate' | 'synthesize' | 'evaluate';
export type RunStatus = 'queued' | 'running' | 'paused' | 'done' | 'cancelled' | 'failed';

export interface Run {
  id: string;
  projectId: string;
  kind: RunKind;
  status: RunStatus;
  /** The run's full configuration (kind-specific), enough to re-derive its task queue. */
  config: unknown;
  createdAt: number;
  updatedAt: number;
  progress: { done: number; failed: number; total: number };
  usage: TokenUsage;
  /**
   * Tokens per agent role (the engine role each call ran on), failed attempts included. Set by
   * runs whose steps report it (synthesis); sums to at most `usage`.
   */
  usageByRole?: Partial<Record<AgentRole, TokenUsage>>;
  /**
   * A synthesis run's experience pool (METHOD.md §3), grown with each task's checkpoint in the
   * same transaction, so a resumed run sees exactly the pool an uninterrupted one would.
   */
  experience?: ExperiencePool;
  /**
   * Runs that share state between tasks run in waves (core/run-schedule.ts): the waves whose
   * tasks' contributions (`Task.shared`) are applied. Absent on runs stored before waves.
   */
  schedule?: { closedWaves: number };
  error?: string;
}

export type TaskStatus = 'pending' | 'running' | 'done' | 'failed';

/** One unit of a run's queue, checkpointed after every agent step. */
export interface Task {
  id: string;
  runId: string;
  projectId: string;
  /** Deterministic key within the run (e.g. chunk or instance/rule/case), so resuming never duplicates. */
  key: string;
  order: number;
  status: TaskStatus;
  /** Name of the last completed step, and its intermediate state. */
  step?: string;
  state?: unknown;
  attempts: number;
  error?: string;
  /**
   * What the task's steps contributed to state its run shares (e.g. an experience entry), held
   * until its wave closes and then applied in task order (core/run-schedule.ts).
   */
  shared?: unknown[];
  updatedAt: number;
  /** Lineage ids of the rules a synthesis or evaluation task is about (schema v3). */
  lineageIds?: string[];
  /** Set on an evaluation item when a spec update changed or retired one of its rules. */
  stale?: StaleMark;
}

export type CaseType = 'violation' | 'borderline' | 'benign';
export type PairStatus = 'pending' | 'accepted' | 'rejected' | 'flagged';

export interface PreferencePair {
  id: string;
  projectId: string;
  runId: string;
  instanceId: string;
  ruleIds: string[];
  /** Lineage ids of `ruleIds`, in the same order (schema v3; multiEntry index). */
  lineageIds?: string[];
  /** Set when a spec update changed or retired one of its rules. */
  stale?: StaleMark;
  caseType: CaseType;
  prompt: ChatMessage[];
  chosen: string;
  rejected: string;
  status: PairStatus;
  /** Judges' verdicts, models per role, timings and usage (issue: synthesis). */
  provenance: Record<string, unknown>;
  createdAt: number;
}

export interface Evaluation {
  id: string;
  projectId: string;
  runId: string;
  target: EngineConfig;
  createdAt: number;
  results: Record<string, unknown>;
}

export interface Setting {
  key: string;
  value: unknown;
}
