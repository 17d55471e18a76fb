import { closeTestDbs, openTestDb } from '../../../helpers/db';
import { afterEach, describe, expect, it } from 'vitest';
import { deleteProject } from '$lib/db/projects';
import {
  SNAPSHOT_EVERY_MS,
  SNAPSHOT_EVERY_STEPS,
  SnapshotService,
} from '$lib/worker/snapshots/snapshot-service';
import { SNAPSHOTS_PER_PROJECT, SnapshotStore } from '$lib/worker/snapshots/snapshot-store';
import { MemoryDirectory } from '../../../helpers/memory-directory';
import { buildProjectRows, readProjectRows, seedProject } from '../../../helpers/project-rows';

afterEach(closeTestDbs);

async function setUp() {
  const db = await openTestDb();
  const dir = new MemoryDirectory();
  let clock = 1_000;
  const service = new SnapshotService(
    db,
    new SnapshotStore(async () => dir.asHandle()),
    () => clock,
  );
  return { db, dir, service, tick: (ms = 1) => (clock += ms) };
}

/** Rows with ids and project ids taken out, to compare a restored project with the original. */
function content(rows: Record<string, Record<string, unknown>[]>) {
  return Object.fromEntries(Object.entries(rows).map(([table, list]) => [table, list.length]));
}

describe('SnapshotService', () => {
  it('writes a project file and its meta, and lists it with counts', async () => {
    const { db, dir, service } = await setUp();
    const rows = await seedProject(db, buildProjectRows('Policy A'));
    rows.runs[0]!.status = 'running';
    await db.runs.put(rows.runs[0]!);
    const info = await service.snapshot(rows.project.id);
    expect(info).toMatchObject({
      projectId: rows.project.id,
      projectName: 'Policy A',
      savedAt: 1_000,
      counts: { runs: rows.runs.length, pairs: rows.pairs.length, interruptedRuns: 1 },
    });
    expect(dir.paths()).toEqual([
      `${rows.project.id}/1000.json`,
      `${rows.project.id}/1000.meta.json`,
    ]);
    expect(await service.list()).toEqual([info]);
  });

  it('forgets a project after the snapshot in progress, so none lands after the removal', async () => {
    const { db, dir, service } = await setUp();
    const rows = await seedProject(db);
    const inFlight = service.snapshot(rows.project.id);
    service.noteEdit(rows.project.id); // a debounced edit snapshot, cancelled by forget
    await service.forget(rows.project.id);
    expect(await inFlight).toBeDefined();
    expect(dir.paths()).toEqual([]);
    expect(await service.list(rows.project.id)).toEqual([]);
  });

  it(`keeps only the newest ${SNAPSHOTS_PER_PROJECT} per project`, async () => {
    const { db, service, tick } = await setUp();
    const rows = await seedProject(db);
    for (let i = 0; i < SNAPSHOTS_PER_PROJECT + 2; i++) {
      tick();
      await service.snapshot(rows.project.id);
    }
    const kept = await service.list(rows.project.id);
    expect(kept.map((s) => s.savedAt)).toEqual([1_005, 1_004, 1_003]);
  });

  it('snapshots a run every few steps or minutes, not on every step', async () => {
    const { db, service, tick } = await setUp();
    const rows = await seedProject(db);
    const id = rows.project.id;
    for (let i = 0; i < SNAPSHOT_EVERY_STEPS - 1; i++) expect(service.noteStep(id)).toBeUndefined();
    await service.noteStep(id);
    expect(await service.list(id)).toHaveLength(1);
    tick(SNAPSHOT_EVERY_MS);
    await service.noteStep(id);
    expect(await service.list(id)).toHaveLength(2);
  });

  it('never throws when the snapshot cannot be written (full disk)', async () => {
    const { db, dir, service } = await setUp();
    const rows = await seedProject(db);
    dir.root.failWrites = true;
    await expect(service.snapshot(rows.project.id)).resolves.toBeUndefined();
    dir.root.failWrites = false;
    expect(await service.snapshot(rows.project.id)).toBeDefined();
  });

  it('does not list a snapshot whose write was cut short (no meta yet)', async () => {
    const { db, dir, service } = await setUp();
    const rows = await seedProject(db);
    const info = await service.snapshot(rows.project.id);
    const projectDir = await dir.getDirectoryHandle(rows.project.id);
    await projectDir.removeEntry(`${info!.savedAt}.meta.json`);
    expect(await service.list()).toEqual([]);
  });

  it('offers a restore only when the database has no project, and restores every row as it was', async () => {
    const { db, service } = await setUp();
    const rows = await seedProject(db, buildProjectRows('Kept'));
    const before = await readProjectRows(db, rows.project.id);
    await service.snapshot(rows.project.id);
    expect(await service.restoreOffer()).toEqual([]);

    // The browser dropped the database: every project is gone, the snapshots are not.
    await deleteProject(db, rows.project.id);
    const offer = await service.restoreOffer();
    expect(offer.map((s) => s.projectName)).toEqual(['Kept']);

    // Same ids, same rows: links between rows and the state of interrupted runs are exact.
    const restored = await service.restore(offer[0]!.id);
    expect(restored).toEqual({ projectId: rows.project.id, name: 'Kept' });
    expect(await readProjectRows(db, restored.projectId)).toEqual(before);
    expect(await service.restoreOffer()).toEqual([]);

    // Restoring it again next to the original makes a copy with fresh ids and its own snapshots.
    const copy = await service.restore(offer[0]!.id);
    expect(copy.projectId).not.toBe(rows.project.id);
    expect(content(await readProjectRows(db, copy.projectId))).toEqual(content(before));
    expect((await service.list()).map((s) => s.projectId).sort()).toEqual(
      [copy.projectId, rows.project.id].sort(),
    );
  });

  it('copies snapshots to a backup folder, which restores a project once the browser lost it all', async () => {
    const { db, dir, service, tick } = await setUp();
    const rows = await seedProject(db, buildProjectRows('Backed up'));
    const before = await readProjectRows(db, rows.project.id);
    const folder = new MemoryDirectory('backups');
    const backups = new SnapshotStore(async () => folder.asHandle());
    expect(await service.setBackupFolder(backups)).toBe(1);
    tick();
    await service.snapshot(rows.project.id);
    expect(await backups.list()).toHaveLength(2);

    // Site data cleared: the database and the origin's snapshots are gone, the folder is not.
    await deleteProject(db, rows.project.id);
    dir.entries.clear();
    const [newest] = await backups.list();
    const restored = await service.restore(newest!.id, backups);
    expect(restored.projectId).toBe(rows.project.id);
    expect(await readProjectRows(db, rows.project.id)).toEqual(before);
  });
});
