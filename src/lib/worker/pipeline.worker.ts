/**
 * The pipeline worker: the only place that composes core, engines and the database. It owns
 * every loaded model and is the single writer of results; the UI reads Dexie with liveQuery.
 */
import * as Comlink from 'comlink';
import { engineKey, sameEngineConfig, type EngineConfig } from '$lib/core/engine-config';
import type { PairStatus } from '$lib/core/records';
import { InvalidModelFileError } from '$lib/core/errors';
import { checkModel } from '$lib/core/model-check';
import { getDb } from '$lib/db/database';
import { exportProjectFile, importProjectFile } from '$lib/db/project-file';
import { getApiKey, getSetting, putModelSpeed, putSetting } from '$lib/db/settings';
import { deleteCachedModel, listCachedModels, loadEngine } from '$lib/engines';
import type { WorkerApi } from './api';
import { JobRegistry } from './jobs';
import { sampleAndStoreInstances } from './instances-service';
import { planSynthesis, startSynthesisRun } from './synthesis-service';
import { previewDataUpdate, reopenDataUpdate, startDataUpdate } from './data-update-service';
import { compareEvaluationsOnVersion } from './eval-versions-service';
import { ModelRegistry } from './model-registry';
import { createAnnotationRun } from './runs/annotation';
import {
  createCalibrationRun,
  createEvaluationRun,
  planEvaluation,
  summariseEvaluation,
} from './runs/evaluation';
import { exportRulesFile, importRulesFile, ruleCoverage } from './rules-service';
import { configForRole, handlerFor, RunRunner } from './runs/runner';
import { BatchFileError, exportBatchFile, importBatchFile, type BatchContext } from './runs/batch';
import { diffStoredVersions, importSpecVersion } from './spec-store';
import {
  confirmSpecUpdate,
  createSpecUpdateRun,
  previewSpecUpdate,
  specUpdatePlan,
} from './spec-update-service';
import {
  countExportSelection,
  exportDataset,
  listExportSummaries,
  previewTrainingMix,
} from './export-service';
import { createImportedEvaluationRun, readEvalSetFile } from './eval-set-service';
import { findPairs } from './pairs-service';
import { createProject, renameProject, setProjectModels } from '$lib/db/projects';
import { putApiKey } from '$lib/db/settings';
import { addRule, mergeRules, setRuleStatus, splitRule, updateRule } from '$lib/db/rules';
import { editPairText, setPairStatus } from '$lib/db/pairs';
import { guardStorage } from '$lib/db/errors';
import { deleteProjectAfterRuns } from './projects-service';
import { countBulkDecision, ReviewDecisions } from './review-service';
import { SnapshotService } from './snapshots/snapshot-service';
import { editResolvers, noteEditsOf } from './snapshots/edit-snapshots';
import { opfsSnapshotDir, SnapshotStore } from './snapshots/snapshot-store';
import { projectDashboard, rejectedOrigins, runStats } from './stats-service';

const jobs = new JobRegistry();
const models = new ModelRegistry(loadEngine, async (config: EngineConfig) =>
  config.kind === 'openai' ? (await getApiKey(getDb(), config.baseUrl)) || undefined : undefined,
);

const decisions = new ReviewDecisions(getDb());
const snapshots = new SnapshotService(getDb(), new SnapshotStore(opfsSnapshotDir));
const runs = new RunRunner(
  getDb(),
  (config) => models.ensure(config, {}),
  undefined,
  (projectId, progress) => {
    if (progress.status !== 'running') void snapshots.snapshot(projectId);
    else void snapshots.noteStep(projectId);
  },
);

/** What batch files of a run need: its step machine and its roles' engines, as a live run has. */
async function batchContext(runId: string): Promise<BatchContext> {
  const db = getDb();
  const run = await db.runs.get(runId);
  if (!run) throw new BatchFileError('That run no longer exists.');
  const configFor = (role: Parameters<typeof configForRole>[2]) =>
    configForRole(db, run.projectId, role);
  return {
    db,
    handler: handlerFor(run),
    configFor,
    engineFor: async (role) => models.ensure(await configFor(role), {}),
  };
}

/** A batch export's or import's progress as the UI's callback takes it (one object). */
function batchProgress(
  callback: ((progress: { done: number; total: number }) => void) | undefined,
): ((done: number, total: number) => void) | undefined {
  return callback && ((done, total) => callback({ done, total }));
}

/** Whether GGUF models (wllama) can use WebGPU here, and if not why. */
async function ggufOutlook(): Promise<{ webgpu: boolean; reason: string }> {
  const [{ probeWebGpu }, offload] = await Promise.all([
    import('$lib/engines/webgpu-report'),
    import('$lib/engines/gpu-offload'),
  ]);
  const caps = offload.capabilitiesFromReport(await probeWebGpu(), offload.hasJspi());
  const blocker = offload.webGpuBlocker(caps);
  return blocker
    ? { webgpu: false, reason: blocker }
    : {
        webgpu: true,
        reason: `WebGPU: layers go to ${caps.adapter?.description || 'the GPU'} as far as its buffer limits allow.${caps.adapter?.isFallback ? ' It is a software fallback adapter: expect it to be slow.' : ''}`,
      };
}

const api: WorkerApi = {
  async ping() {
    return 'pong';
  },

  async environment() {
    return {
      crossOriginIsolated: self.crossOriginIsolated,
      hardwareConcurrency: navigator.hardwareConcurrency ?? 1,
    };
  },

  async webgpuReport() {
    const { probeWebGpu } = await import('$lib/engines/webgpu-report');
    return probeWebGpu();
  },

  async ggufBackendOutlook() {
    return ggufOutlook();
  },

  async modelPicks() {
    const [{ probeWebGpu }, catalog, picks, outlook] = await Promise.all([
      import('$lib/engines/webgpu-report'),
      import('$lib/engines/webllm-catalog'),
      import('$lib/core/model-picks'),
      ggufOutlook(),
    ]);
    const report = await probeWebGpu();
    // Chrome exposes navigator.deviceMemory to workers too; other browsers leave it undefined.
    const deviceMemoryGB = (navigator as Navigator & { deviceMemory?: number }).deviceMemory;
    return picks.recommendModels(
      {
        webgpu: {
          adapterFound: report.adapterFound,
          isFallback: report.isFallback,
          shaderF16: report.shaderF16,
        },
        gguf: outlook,
        deviceMemoryGB,
      },
      catalog.allPrebuiltModels(),
    );
  },

  async webllmCatalog() {
    const [{ probeWebGpu }, catalog] = await Promise.all([
      import('$lib/engines/webgpu-report'),
      import('$lib/engines/webllm-catalog'),
    ]);
    const models = catalog.listWebLlmModels(await probeWebGpu());
    return { models, defaultModel: catalog.pickDefaultModel(models) };
  },

  listCachedModels,
  deleteCachedModel,

  async storeLocalModel(file: File) {
    const head = new Uint8Array(await file.slice(0, 4).arrayBuffer());
    if (String.fromCharCode(...head) !== 'GGUF') {
      throw new InvalidModelFileError(
        `"${file.name}" is not a GGUF model file: GGUF files start with the bytes "GGUF". Pick a .gguf file (e.g. a Q4_K_M quantisation).`,
      );
    }
    const { saveLocalModel } = await import('$lib/engines/local-models');
    return saveLocalModel(file);
  },

  async loadModel(jobId, config, onProgress) {
    return jobs.run(jobId, async (signal) => {
      await models.ensure(config, { onProgress, signal });
      const info = models
        .list()
        .find((m) => m.config === config || sameEngineConfig(m.config, config));
      if (!info) throw new Error('The model loaded but was then unloaded by another request.');
      return info;
    });
  },

  async unloadModel(key) {
    await models.unload(key);
  },

  async loadedModels() {
    return models.list();
  },

  async endpointStatus() {
    return models.endpointStatus();
  },

  async testModel(jobId, config, onProgress) {
    return jobs.run(jobId, async (signal) => {
      const engine = await models.ensure(config, { onProgress, signal });
      const result = await checkModel(engine, signal);
      const key = engineKey(config);
      const backend = models.list().find((m) => m.key === key)?.backend ?? {
        kind: 'remote' as const,
        label: 'unknown',
        detail: '',
      };
      if (result.prefillTokensPerSecond > 0 && result.decodeTokensPerSecond > 0) {
        await putModelSpeed(getDb(), {
          v: 1,
          engineKey: key,
          backend: backend.kind,
          backendLabel: backend.label,
          prefillTokensPerSecond: result.prefillTokensPerSecond,
          decodeTokensPerSecond: result.decodeTokensPerSecond,
          method: result.rateMethod,
          measuredAt: Date.now(),
        });
      }
      return { ...result, key: engine.id, backend };
    });
  },

  async cancel(jobId) {
    jobs.cancel(jobId);
  },

  async importSpec(projectId, input) {
    return importSpecVersion(getDb(), projectId, input);
  },

  async diffSpecVersions(oldVersionId, newVersionId) {
    return diffStoredVersions(getDb(), oldVersionId, newVersionId);
  },

  async previewSpecUpdate(specVersionId) {
    return previewSpecUpdate(getDb(), specVersionId);
  },

  async createSpecUpdateRun(projectId, specVersionId) {
    const db = getDb();
    const engine = await models.ensure(await configForRole(db, projectId, 'annotator'), {});
    return createSpecUpdateRun(db, projectId, specVersionId, engine);
  },

  async specUpdatePlan(runId) {
    return specUpdatePlan(getDb(), runId);
  },

  async confirmSpecUpdate(projectId, runId) {
    return confirmSpecUpdate(getDb(), projectId, runId);
  },

  compareEvaluationsOnVersion(projectId, runA, runB, specVersionId) {
    return compareEvaluationsOnVersion(getDb(), projectId, runA, runB, specVersionId);
  },

  previewDataUpdate(projectId, specVersionId) {
    return previewDataUpdate(getDb(), projectId, specVersionId);
  },

  startDataUpdate(projectId, specVersionId) {
    return startDataUpdate(getDb(), projectId, specVersionId);
  },

  reopenDataUpdate(projectId, specVersionId) {
    return reopenDataUpdate(getDb(), projectId, specVersionId);
  },

  async createAnnotationRun(projectId, specVersionId) {
    const db = getDb();
    const engine = await models.ensure(await configForRole(db, projectId, 'annotator'), {});
    const { run, chunks } = await createAnnotationRun(db, projectId, specVersionId, engine);
    return { runId: run.id, chunks };
  },

  startRun(runId, onProgress) {
    return runs.start(runId, onProgress);
  },

  stopRun(runId, mode) {
    return runs.stop(runId, mode);
  },

  async isRunActive(runId) {
    return runs.isActive(runId);
  },

  async exportBatchFile(jobId, runId, options, onProgress) {
    if (runs.isActive(runId))
      throw new BatchFileError('This run is executing: pause it before exporting a batch file.');
    const context = await batchContext(runId);
    return jobs.run(jobId, (signal) =>
      exportBatchFile(
        { ...context, signal, onProgress: batchProgress(onProgress) },
        runId,
        options,
      ),
    );
  },

  async importBatchFile(jobId, runId, file, onProgress) {
    if (runs.isActive(runId))
      throw new BatchFileError('This run is executing: pause it before importing batch results.');
    const [context, text] = await Promise.all([batchContext(runId), file.text()]);
    return jobs.run(jobId, (signal) =>
      importBatchFile({ ...context, signal, onProgress: batchProgress(onProgress) }, runId, text),
    );
  },

  ruleCoverage(specVersionId) {
    return ruleCoverage(getDb(), specVersionId);
  },

  exportRules(specVersionId) {
    return exportRulesFile(getDb(), specVersionId);
  },

  importRules(projectId, specVersionId, file, fileName) {
    return importRulesFile(getDb(), projectId, specVersionId, file, fileName);
  },

  sampleInstances(projectId, specVersionId, config) {
    return sampleAndStoreInstances(getDb(), projectId, specVersionId, config);
  },

  planSynthesis(projectId, request) {
    return planSynthesis(getDb(), projectId, request);
  },

  createSynthesisRun(projectId, request) {
    return startSynthesisRun(getDb(), projectId, request);
  },

  findPairs(projectId, filter) {
    return findPairs(getDb(), projectId, filter);
  },

  countExportSelection(projectId, includePending) {
    const statuses: PairStatus[] = includePending ? ['accepted', 'pending'] : ['accepted'];
    return countExportSelection(getDb(), projectId, statuses);
  },

  exportDataset(jobId, projectId, request, onProgress) {
    return jobs.run(jobId, (signal) =>
      exportDataset(getDb(), projectId, request, { signal, onProgress }),
    );
  },

  listExports(projectId) {
    return listExportSummaries(getDb(), projectId);
  },

  previewTrainingMix(jobId, projectId, selection, settings, onProgress) {
    return jobs.run(jobId, (signal) =>
      previewTrainingMix(getDb(), projectId, selection, settings, {
        signal,
        ...(onProgress ? { onProgress } : {}),
      }),
    );
  },

  async exportProject(projectId) {
    return exportProjectFile(getDb(), projectId);
  },

  async importProject(file) {
    return importProjectFile(getDb(), file);
  },

  async planEvaluation(projectId, request) {
    const plan = await planEvaluation(getDb(), projectId, request);
    // The rules the queries test (the snapshot also holds the rest of their instances).
    const tested = new Set(plan.items.flatMap((i) => i.ruleIds));
    return { items: plan.items.length, rules: tested.size };
  },

  async createEvaluationRun(projectId, request) {
    const db = getDb();
    const target = await evaluationTarget(projectId);
    const { run, items } = await createEvaluationRun(db, projectId, request, target);
    return { runId: run.id, items };
  },

  async inspectEvalSet(projectId, file) {
    return (await readEvalSetFile(getDb(), projectId, file)).summary;
  },

  async createImportedEvaluationRun(projectId, file, fileName) {
    const { run, items } = await createImportedEvaluationRun(
      getDb(),
      projectId,
      file,
      fileName,
      () => evaluationTarget(projectId),
    );
    return { runId: run.id, items };
  },

  async createCalibrationRun(projectId, specVersionId) {
    const db = getDb();
    const config = await configForRole(db, projectId, 'safetyJudge');
    const engine = await models.ensure(config, {});
    const created = await createCalibrationRun(db, projectId, specVersionId, { engine, config });
    return { runId: created.run.id, items: created.items, unmapped: created.unmapped };
  },

  summariseEvaluation(runId) {
    return summariseEvaluation(getDb(), runId);
  },

  // The user's edits (EditApi): thin calls into db/ and the services that keep invariants.
  createProject: (name) => createProject(getDb(), name),
  renameProject: (projectId, name) => renameProject(getDb(), projectId, name),
  async deleteProject(projectId) {
    await deleteProjectAfterRuns(getDb(), runs, projectId);
    // Deleted means gone: no copy lingers outside the database (nor is it offered back later).
    await snapshots.forget(projectId);
  },
  setProjectModels: (projectId, choice) => setProjectModels(getDb(), projectId, choice),
  putApiKey: (baseUrl, apiKey) => putApiKey(getDb(), baseUrl, apiKey),
  setRuleStatus: (ruleIds, status) => setRuleStatus(getDb(), ruleIds, status),
  updateRule: (ruleId, edit) => updateRule(getDb(), ruleId, edit),
  addRule: (anchor, edit) => addRule(getDb(), anchor, edit),
  splitRule: (ruleId, statements) => splitRule(getDb(), ruleId, statements),
  mergeRules: (ruleIds, statement) => mergeRules(getDb(), ruleIds, statement),
  async setInstancePinned(instanceId, pinned) {
    await guardStorage(() => getDb().instances.update(instanceId, { pinned }));
  },
  setPairStatus: (pairIds, status) => setPairStatus(getDb(), pairIds, status),
  editPairText: (pairId, side, text) => editPairText(getDb(), pairId, side, text),
  countBulkDecision: (decision) => countBulkDecision(getDb(), decision),
  decidePairs: (decision) => decisions.decide(decision),
  undoBulkDecision: (batchId) => decisions.undo(batchId),

  snapshotRestoreOffer() {
    return snapshots.restoreOffer();
  },

  listSnapshots(projectId) {
    return snapshots.list(projectId);
  },

  restoreSnapshot(snapshotId) {
    return snapshots.restore(snapshotId);
  },

  forgetSnapshots(projectId) {
    return snapshots.forget(projectId);
  },

  async setBackupFolder(folder) {
    // Remembered (a handle can be stored in IndexedDB) so backups go on after a reload.
    await putSetting(getDb(), BACKUP_FOLDER_SETTING, folder ?? null);
    return snapshots.setBackupFolder(folder && new SnapshotStore(async () => folder));
  },

  listBackups(folder) {
    return new SnapshotStore(async () => folder).list();
  },

  restoreBackup(folder, snapshotId) {
    return snapshots.restore(snapshotId, new SnapshotStore(async () => folder));
  },

  projectDashboard(projectId) {
    return projectDashboard(getDb(), projectId);
  },

  rejectedOrigins(projectId) {
    return rejectedOrigins(getDb(), projectId);
  },

  runStats(runId) {
    return runStats(getDb(), runId);
  },
};

/** The remembered backup folder, used again while the browser still grants write access. */
const BACKUP_FOLDER_SETTING = 'backupFolder';
void getSetting<FileSystemDirectoryHandle | null>(getDb(), BACKUP_FOLDER_SETTING, null)
  .then(async (folder) => {
    const permission = await (
      folder as unknown as {
        queryPermission?: (d: { mode: string }) => Promise<PermissionState>;
      } | null
    )?.queryPermission?.({ mode: 'readwrite' });
    if (folder && permission === 'granted') {
      await snapshots.setBackupFolder(new SnapshotStore(async () => folder), false);
    }
  })
  .catch(() => undefined);

// Every edit schedules a snapshot of the project it changed (debounced).
noteEditsOf(
  api,
  editResolvers(getDb(), (batchId) => decisions.firstPairOf(batchId)),
  (projectId) => snapshots.noteEdit(projectId),
);

/** The target engine of an evaluation, with the judge loaded too (so a missing judge fails now). */
async function evaluationTarget(projectId: string) {
  const db = getDb();
  const config = await configForRole(db, projectId, 'target');
  const engine = await models.ensure(config, {});
  await models.ensure(await configForRole(db, projectId, 'safetyJudge'), {});
  return { engine, config };
}

Comlink.expose(api);
