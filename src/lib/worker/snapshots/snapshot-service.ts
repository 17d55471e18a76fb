/**
 * Keeps rolling snapshots of each project outside IndexedDB (see SnapshotStore) and restores
 * them. Runs snapshot every {@link SNAPSHOT_EVERY_STEPS} steps or {@link SNAPSHOT_EVERY_MS},
 * whichever comes first, and when they stop; edits snapshot debounced. Snapshots are a safety
 * net: one that fails (e.g. on a full disk) is skipped and never stops a run.
 */
import type { SpecAlignDb } from '$lib/db/database';
import { exportProjectFile, importProjectFile } from '$lib/db/project-file';
import type { SnapshotInfo, SnapshotStore } from './snapshot-store';

export const SNAPSHOT_EVERY_STEPS = 10;
export const SNAPSHOT_EVERY_MS = 120_000;
/** Quiet time after an edit before the project is snapshotted. */
export const EDIT_DEBOUNCE_MS = 5_000;

export class SnapshotService {
  #since = new Map<string, { steps: number; at: number }>();
  #edits = new Map<string, ReturnType<typeof setTimeout>>();
  /** One snapshot at a time: exports are heavy and two writes to one project must not race. */
  #queue: Promise<unknown> = Promise.resolve();
  /** A folder the user picked, outside the browser's storage: every snapshot is copied there. */
  #backup: SnapshotStore | undefined;

  constructor(
    private readonly db: SpecAlignDb,
    private readonly store: SnapshotStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Snapshots the project now (after any snapshot in progress); undefined if that failed. */
  snapshot(projectId: string): Promise<SnapshotInfo | undefined> {
    const next = this.#queue.then(() => this.#take(projectId)).catch(() => undefined);
    this.#queue = next;
    return next;
  }

  async #take(projectId: string): Promise<SnapshotInfo | undefined> {
    this.#since.set(projectId, { steps: 0, at: this.now() });
    const project = await this.db.projects.get(projectId);
    if (!project) return undefined;
    const [runs, pairs, rules, interruptedRuns] = await Promise.all([
      this.db.runs.where('projectId').equals(projectId).count(),
      this.db.pairs.where('projectId').equals(projectId).count(),
      this.db.rules.where('projectId').equals(projectId).count(),
      this.db.runs
        .where('projectId')
        .equals(projectId)
        .filter((r) => r.status === 'running')
        .count(),
    ]);
    const file = await exportProjectFile(this.db, projectId);
    const info = {
      projectId,
      projectName: project.name,
      savedAt: this.now(),
      counts: { runs, pairs, rules, interruptedRuns },
    };
    // The backup folder first: it survives what OPFS does not (site data cleared, eviction).
    await this.#backup?.write(info, file).catch(() => undefined);
    return this.store.write(info, file);
  }

  /** Copies every later snapshot to `folder` too (undefined: stop), and backs up every project now. */
  async setBackupFolder(folder: SnapshotStore | undefined, backUpNow = true): Promise<number> {
    this.#backup = folder;
    if (!folder || !backUpNow) return 0;
    const ids = (await this.db.projects.toCollection().primaryKeys()) as string[];
    const written = await Promise.all(ids.map((id) => this.snapshot(id)));
    return written.filter(Boolean).length;
  }

  /** A run checkpointed a step of this project: snapshots when enough steps or time passed. */
  noteStep(projectId: string): Promise<SnapshotInfo | undefined> | undefined {
    const since = this.#since.get(projectId);
    if (!since) {
      // First step seen: start counting from here (the run's start is already in the last snapshot).
      this.#since.set(projectId, { steps: 1, at: this.now() });
      return undefined;
    }
    since.steps++;
    if (since.steps < SNAPSHOT_EVERY_STEPS && this.now() - since.at < SNAPSHOT_EVERY_MS) {
      return undefined;
    }
    return this.snapshot(projectId);
  }

  /** The user changed the project: snapshot once the edits settle. */
  noteEdit(projectId: string): void {
    clearTimeout(this.#edits.get(projectId));
    this.#edits.set(
      projectId,
      setTimeout(() => {
        this.#edits.delete(projectId);
        void this.snapshot(projectId);
      }, EDIT_DEBOUNCE_MS),
    );
  }

  list(projectId?: string): Promise<SnapshotInfo[]> {
    return this.store.list(projectId);
  }

  /**
   * The newest snapshot of each project when the database holds no project at all (new, or
   * deleted by the browser) while snapshots exist: what to offer at start-up.
   */
  async restoreOffer(): Promise<SnapshotInfo[]> {
    if ((await this.db.projects.count()) > 0) return [];
    const newest = new Map<string, SnapshotInfo>();
    for (const s of await this.list().catch(() => [])) {
      if (!newest.has(s.projectId)) newest.set(s.projectId, s);
    }
    return [...newest.values()];
  }

  /**
   * Imports a snapshot as a project (through the project-file import, which validates it). Runs
   * that were running stay so, and resume when their screen opens, redoing only the steps after
   * the snapshot. Ids are kept when the project is gone (links, URLs and run state stay exact);
   * a copy restored next to the original gets fresh ids and its own snapshots.
   */
  async restore(
    snapshotId: string,
    from: SnapshotStore = this.store,
  ): Promise<{ projectId: string; name: string }> {
    const file = await from.read(snapshotId);
    const restored = await importProjectFile(this.db, file, { keepIds: true });
    const oldProjectId = snapshotId.split('/')[0] ?? '';
    // A copy next to the original (fresh ids) gets snapshots of its own.
    if (restored.projectId !== oldProjectId) await this.snapshot(restored.projectId);
    return restored;
  }

  /** Drops the snapshots of a project the user deleted (or chose not to restore). */
  forget(projectId: string): Promise<void> {
    this.#since.delete(projectId);
    clearTimeout(this.#edits.get(projectId));
    this.#edits.delete(projectId);
    // Behind any snapshot in progress, so that one cannot land after the removal.
    const next = this.#queue.then(() => this.store.removeProject(projectId));
    this.#queue = next.catch(() => undefined);
    return next;
  }
}
