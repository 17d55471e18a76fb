/**
 * The one typed contract between the UI and the pipeline worker (exposed with comlink).
 * Progress flows back through `Comlink.proxy` callbacks; cancellation is an explicit method
 * keyed by a job id because an AbortSignal cannot cross postMessage. Large results never cross:
 * the worker writes them to Dexie and the UI reads them with liveQuery.
 */
import type { EngineConfig, LoadProgress } from '$lib/core/engine-config';
import type { ReplicaStatus } from '$lib/core/endpoint-policy';
import type { SpecDiff } from '$lib/core/spec/diff';
import type { IngestInput } from '$lib/core/spec/ingest';
import type { ModelCheckResult } from '$lib/core/model-check';
import type { PickVerdict } from '$lib/core/model-picks';
import type { EvalSetSummary } from '$lib/core/evaluation/eval-set-file';
import type { CachedModel, EngineBackend, WebGpuReport, WebLlmModelInfo } from '$lib/engines/types';
import type { SampleConfig } from '$lib/core/instances/sample';
import type { EstimateSpeed } from '$lib/core/speed';
import type { RunEstimate } from '$lib/core/synthesis/estimate';
import type { SynthesisRequest } from './synthesis-service';
import type { SampleInstancesResult } from './instances-service';
import type { CoverageSummary } from './rules-service';
import type { RunProgress } from './runs/types';
import type { BatchExport } from './runs/batch';
import type { BatchImportReport } from '$lib/core/batch-file';
import type { ImportSpecResult } from './spec-store';
import type {
  ExportRequest,
  ExportResult,
  ExportSelection,
  ExportSelectionCounts,
  ExportStatus,
  ExportSummary,
} from './export-service';
import type { MixSettings, MixSummary } from '$lib/core/export/mix';
import type { PairSearch, ReviewFilter } from './pairs-service';
import type { DashboardStats, RunStats } from './stats-service';
import type { OriginShareRow } from '$lib/core/evaluation/dashboard';
import type { EvaluationRequest, EvaluationResults } from './runs/evaluation';
import type { PairStatus, Project, Rule, RuleStatus, SpecVersionUpdate } from '$lib/core/records';
import type { SpecUpdatePlan } from '$lib/core/rules/update-plan';
import type { SpecUpdatePreview } from './spec-update-service';
import type { DataUpdatePreview } from './data-update-service';
import type { VersionedComparison } from './eval-versions-service';
import type { NewRuleAnchor, RuleEdit } from '$lib/db/rules';
import type { BulkDecision, BulkDecisionResult } from './review-service';

/**
 * The user's edits. The worker is the database's single writer: the UI sends every change here
 * (and reads with liveQuery), so invariants that span tables and running work hold in one place.
 */
export interface EditApi {
  createProject(name: string): Promise<Project>;
  renameProject(projectId: string, name: string): Promise<void>;
  /** Cancels the project's runs (here and in other tabs), waits for them to stop, then deletes it. */
  deleteProject(projectId: string): Promise<void>;
  setProjectModels(
    projectId: string,
    models: { defaultModel?: EngineConfig; roleModels?: Project['roleModels'] },
  ): Promise<void>;
  /** Stores an endpoint's API key in this browser (never exported). */
  putApiKey(baseUrl: string, apiKey: string): Promise<void>;

  setRuleStatus(ruleIds: string[], status: RuleStatus): Promise<void>;
  updateRule(ruleId: string, edit: RuleEdit): Promise<void>;
  addRule(anchor: NewRuleAnchor, edit: RuleEdit): Promise<Rule>;
  splitRule(ruleId: string, statements: string[]): Promise<string[]>;
  mergeRules(ruleIds: string[], statement?: string): Promise<string>;

  setInstancePinned(instanceId: string, pinned: boolean): Promise<void>;

  /** Hand decisions on single pairs: always applied, whatever the pair's status. */
  setPairStatus(pairIds: string[], status: PairStatus): Promise<void>;
  editPairText(pairId: string, side: 'chosen' | 'rejected', text: string): Promise<void>;
  /** How many pairs `decidePairs` would change (pending ones only, unless `includeDecided`). */
  countBulkDecision(decision: BulkDecision): Promise<number>;
  /** A bulk action; its result's `batchId` undoes it with `undoBulkDecision`. */
  decidePairs(decision: BulkDecision): Promise<BulkDecisionResult>;
  /** Restores the statuses a bulk action replaced; returns how many pairs were restored. */
  undoBulkDecision(batchId: string): Promise<number>;
}
import type { SnapshotInfo } from './snapshots/snapshot-store';

export interface LoadedModelInfo {
  key: string;
  config: EngineConfig;
  contextWindow: number;
  loadMs: number;
  /** Where it computes (WebGPU, CPU, an endpoint) and why. */
  backend: EngineBackend;
}

/** An endpoint model's replicas as the Models screen shows them. */
export interface EndpointStatus {
  /** engineKey of the loaded model. */
  key: string;
  model: string;
  replicas: ReplicaStatus[];
}

export interface ModelTestResult extends ModelCheckResult {
  key: string;
  /** Where the model ran while tested. */
  backend: EngineBackend;
}

export type ProgressCallback = (progress: LoadProgress) => void;

export interface WorkerApi extends EditApi {
  ping(): Promise<'pong'>;
  /** Whether this worker is cross-origin isolated (wllama threads need it). */
  environment(): Promise<{ crossOriginIsolated: boolean; hardwareConcurrency: number }>;

  webgpuReport(): Promise<WebGpuReport>;
  /** Whether GGUF models (wllama) can use WebGPU here, and if not why: JSPI, adapter, features. */
  ggufBackendOutlook(): Promise<{ webgpu: boolean; reason: string }>;
  /** web-llm's prebuilt list, filtered to chat models this device can run (f32 only without shader-f16). */
  webllmCatalog(): Promise<{ models: WebLlmModelInfo[]; defaultModel: string }>;
  /**
   * "Which model?": the recommended small instruct models judged for this device (fits or why
   * not, download size, suited roles), those that fit first.
   */
  modelPicks(): Promise<PickVerdict[]>;
  listCachedModels(): Promise<CachedModel[]>;
  deleteCachedModel(key: string): Promise<void>;
  /** Keeps a GGUF the user picked in origin-private storage so it survives reloads. */
  storeLocalModel(file: File): Promise<{ fileName: string; bytes: number }>;

  loadModel(
    jobId: string,
    config: EngineConfig,
    onProgress: ProgressCallback,
  ): Promise<LoadedModelInfo>;
  unloadModel(key: string): Promise<void>;
  loadedModels(): Promise<LoadedModelInfo[]>;
  /** Each loaded endpoint model's replicas: in flight, throttled, set aside (and until when). */
  endpointStatus(): Promise<EndpointStatus[]>;
  /**
   * Loads if needed, then runs a short chat, a JSON-schema call and a long prompt; measures
   * prefill and decode tokens/s and keeps them as this device's speed of the model.
   */
  testModel(
    jobId: string,
    config: EngineConfig,
    onProgress: ProgressCallback,
  ): Promise<ModelTestResult>;

  /** Cancels the job with this id, if it is still running. */
  cancel(jobId: string): Promise<void>;

  /** Ingests a spec file or pasted text as the project's next version (identical text is not duplicated). */
  importSpec(projectId: string, input: IngestInput): Promise<ImportSpecResult>;
  /** Section-level diff of two versions of a project's spec. */
  diffSpecVersions(oldVersionId: string, newVersionId: string): Promise<SpecDiff>;

  /**
   * Plans a rule-annotation run over a spec version with the project's annotator model (loading
   * it if needed); returns the run id. Start it with `startRun`.
   */
  createAnnotationRun(
    projectId: string,
    specVersionId: string,
  ): Promise<{ runId: string; chunks: number }>;
  /** Executes (or resumes) a run until it is done, paused, cancelled or failed. */
  startRun(runId: string, onProgress: (progress: RunProgress) => void): Promise<RunProgress>;
  /** Pauses (resumable) or cancels a run after its current step. */
  stopRun(runId: string, mode: 'pause' | 'cancel'): Promise<void>;
  /** Whether this tab's worker is executing the run right now. */
  isRunActive(runId: string): Promise<boolean>;
  /**
   * The pending model calls of an annotation or evaluation run as an OpenAI Batch API input file
   * (JSONL; for an evaluation the target's answers first, then the judge's). `model` overrides
   * the role's endpoint model name in the bodies. Throws BatchFileError when the run is done or
   * its role runs in the browser and no model name was given. Cancellable with `cancel(jobId)`.
   */
  exportBatchFile(
    jobId: string,
    runId: string,
    options: { model?: string },
    onProgress?: (progress: { done: number; total: number }) => void,
  ): Promise<BatchExport>;
  /**
   * Applies a batch output file to the run: valid lines complete their tasks' steps (each with
   * its checkpoint), the rest are reported line by line and stay pending. Throws BatchFileError
   * when the run is done, and RunLockedError when it is executing. `cancel(jobId)` stops it
   * between lines (the report then says `cancelled`; what was applied stays applied).
   */
  importBatchFile(
    jobId: string,
    runId: string,
    file: Blob,
    onProgress?: (progress: { done: number; total: number }) => void,
  ): Promise<BatchImportReport>;

  /**
   * What *Update from vN* would do for a version (issue 11 §2): rules carried, re-checked and
   * retired, sections re-annotated, the update run and its confirmation; undefined when the
   * previous version has no rules.
   */
  previewSpecUpdate(specVersionId: string): Promise<SpecUpdatePreview | undefined>;
  /**
   * Plans the update's annotation run over only the changed and added sections (with the
   * annotator model); start it with `startRun`. Throws SpecUpdateError when the version already
   * has rules or shares almost nothing with the previous one.
   */
  createSpecUpdateRun(
    projectId: string,
    specVersionId: string,
  ): Promise<{ runId: string; chunks: number; allChunks: number }>;
  /** The kept / changed / new / retired rules of a finished update run; nothing is applied. */
  specUpdatePlan(runId: string): Promise<SpecUpdatePlan>;
  /** Applies the update's plan to the new version (idempotent); the previous version is untouched. */
  confirmSpecUpdate(projectId: string, runId: string): Promise<SpecVersionUpdate>;
  /**
   * Two finished RCS runs re-scored on one spec version's rules and compared per rule, grouped
   * kept / changed / new (issue 11 §5); stale items counted. Reads only.
   */
  compareEvaluationsOnVersion(
    projectId: string,
    runA: string,
    runB: string,
    specVersionId: string,
  ): Promise<VersionedComparison>;
  /**
   * *Update data* for a confirmed update (issue 11 §3): instances kept / repaired / new, the
   * rules that get tasks, and the estimate next to a full rerun's with the previous version's
   * run settings; the run once planned. Writes nothing. Throws DataUpdateError when the version
   * was not updated or its predecessor has no synthesis run.
   */
  previewDataUpdate(projectId: string, specVersionId: string): Promise<DataUpdatePreview>;
  /**
   * Stores the new version's instances and the *Update data* run (tasks only for new and changed
   * rules); start it with `startRun`. Idempotent: a second call returns the same run.
   */
  startDataUpdate(
    projectId: string,
    specVersionId: string,
  ): Promise<{ runId: string; tasks: number; created: boolean }>;
  /**
   * Makes a cancelled or failed *Update data* run resumable (paused, tasks as they are) and
   * returns its id; start it with `startRun`.
   */
  reopenDataUpdate(projectId: string, specVersionId: string): Promise<string>;

  /** Which normative sentences and sections of a version have a rule yet. */
  ruleCoverage(specVersionId: string): Promise<CoverageSummary>;
  /** The version's rules as a JSON file. */
  exportRules(specVersionId: string): Promise<Blob>;
  /** Adds the rules of a rules file to a version; throws InvalidFileError and adds nothing on bad input. */
  importRules(
    projectId: string,
    specVersionId: string,
    file: Blob,
    fileName: string,
  ): Promise<number>;

  /**
   * Samples spec instances from the version's accepted rules (seeded), replacing the unpinned
   * ones and keeping pinned instances.
   */
  sampleInstances(
    projectId: string,
    specVersionId: string,
    config: SampleConfig,
  ): Promise<SampleInstancesResult>;

  /** Plans a synthesis run without storing it: task count, cost estimate and planning notes. */
  planSynthesis(
    projectId: string,
    request: SynthesisRequest,
  ): Promise<{ tasks: number; estimate: RunEstimate; warnings: string[]; speed: EstimateSpeed }>;
  /** Stores a synthesis run and its task queue; start it with `startRun`. */
  createSynthesisRun(
    projectId: string,
    request: SynthesisRequest,
  ): Promise<{ runId: string; tasks: number }>;

  /**
   * The ids of the project's pairs that pass `filter`, in creation order (ids only: the Review
   * screen fetches the rows it shows), and how many an unreadable record kept from the verdict or
   * quality filters. Text search scans rows here, off the UI thread.
   */
  findPairs(projectId: string, filter: ReviewFilter): Promise<PairSearch>;
  /**
   * The export summary's warnings, in one scan of the pairs with the export's statuses (accepted,
   * plus pending when asked): how many have markup or script-like payloads in the chosen reply,
   * how many a spec update marked stale (left out unless "Include stale pairs" is ticked), and
   * how many test rules the export's spec version does not hold (always left out).
   */
  countExportSelection(projectId: string, includePending: boolean): Promise<ExportSelectionCounts>;
  /**
   * Streams the project's selected pairs through a core exporter into a Blob (JSONL, HF dataset
   * .zip, eval set, or a delta since an earlier export). Full JSONL and HF exports are recorded. Cancellable with `cancel(jobId)`; throws EmptyExportError, and writes no
   * file, when nothing is selected.
   */
  exportDataset(
    jobId: string,
    projectId: string,
    request: ExportRequest,
    onProgress: (status: ExportStatus) => void,
  ): Promise<ExportResult>;
  /** The project's recorded exports (dataset versions), newest first: a delta's choices. */
  listExports(projectId: string): Promise<ExportSummary[]>;

  /**
   * What a training mix would do to the selected pairs (SFT:DPO counts, pairs outside the length
   * bounds, near-duplicates across runs, the ratio histogram), from one read of the pairs in the
   * worker, reported every 1,000 pairs read. A newer call with the same job id cancels the older
   * one, as does `cancel(jobId)`. Throws MixSettingsError for settings that cannot work.
   */
  previewTrainingMix(
    jobId: string,
    projectId: string,
    selection: ExportSelection,
    settings: MixSettings,
    onProgress?: (status: ExportStatus) => void,
  ): Promise<MixSummary>;

  /** A whole project as one file (API keys are never included). */
  exportProject(projectId: string): Promise<Blob>;
  /** Imports a project file as a new project; throws InvalidFileError and changes nothing on bad input. */
  importProject(file: Blob): Promise<{ projectId: string; name: string }>;

  /** How many held-out queries (and distinct rules) an evaluation with `request` would score. */
  planEvaluation(
    projectId: string,
    request: EvaluationRequest,
  ): Promise<{ items: number; rules: number }>;
  /**
   * Stores an evaluation run (kind `evaluate`) of the project's `target` role model on the
   * held-out queries, judged by its `safetyJudge` model; start it with `startRun`. Throws
   * EvaluationConfigError when nothing is held out.
   */
  createEvaluationRun(
    projectId: string,
    request: EvaluationRequest,
  ): Promise<{ runId: string; items: number }>;
  /**
   * Reads an eval set file (the JSONL Export writes) and validates it against the project: what
   * an evaluation on it would score. Throws InvalidFileError naming the first bad line.
   */
  inspectEvalSet(projectId: string, file: Blob): Promise<EvalSetSummary>;
  /**
   * Like `createEvaluationRun`, on exactly the queries of an eval set file. Throws
   * InvalidFileError, and stores nothing, when the file is malformed.
   */
  createImportedEvaluationRun(
    projectId: string,
    file: Blob,
    fileName: string,
  ): Promise<{ runId: string; items: number }>;
  /**
   * Stores a judge-calibration run: the `safetyJudge` model judges the spec version's worked
   * GOOD/BAD replies; start it with `startRun`.
   */
  createCalibrationRun(
    projectId: string,
    specVersionId: string,
  ): Promise<{ runId: string; items: number; unmapped: number }>;
  /** The stored results of an evaluation or calibration run, recomputed from its items. */
  summariseEvaluation(runId: string): Promise<EvaluationResults | undefined>;

  /**
   * Start-up check: when the database holds no project (new, or deleted by the browser as
   * corrupt) but snapshots exist outside it, the newest snapshot of each project; else [].
   */
  snapshotRestoreOffer(): Promise<SnapshotInfo[]>;
  /** Rolling snapshots (newest first) of one project, or of all. */
  listSnapshots(projectId?: string): Promise<SnapshotInfo[]>;
  /**
   * Restores a snapshot as a project; interrupted runs resume when their screen opens, redoing
   * only the steps after the snapshot. Throws InvalidFileError if the snapshot is damaged.
   */
  restoreSnapshot(snapshotId: string): Promise<{ projectId: string; name: string }>;
  /** Deletes a project's snapshots (the user declined to restore it). */
  forgetSnapshots(projectId: string): Promise<void>;
  /**
   * Copies every snapshot to a folder the user picked (File System Access API; the UI asks for
   * write permission first) and backs up every project now; returns how many. undefined stops.
   */
  setBackupFolder(folder: FileSystemDirectoryHandle | undefined): Promise<number>;
  /** The backups in a folder (newest first); restore one with `restoreBackup`. */
  listBackups(folder: FileSystemDirectoryHandle): Promise<SnapshotInfo[]>;
  /** Restores a backup from a folder, like `restoreSnapshot`. */
  restoreBackup(
    folder: FileSystemDirectoryHandle,
    snapshotId: string,
  ): Promise<{ projectId: string; name: string }>;
  /** The project dashboard's numbers, from indexes and one pass in the worker (no pair crosses). */
  projectDashboard(projectId: string): Promise<DashboardStats>;
  /**
   * Rejected replies per rule family by where they came from (issue 14 §4): read from each pair's
   * provenance once, then only new pairs.
   */
  rejectedOrigins(projectId: string): Promise<OriginShareRow[]>;
  /** A synthesis run's pair counts and its dropped tasks with their full reasons. */
  runStats(runId: string): Promise<RunStats>;
}
