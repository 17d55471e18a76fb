/**
 * Rolling project snapshots in a directory (OPFS in the app, a user-picked folder for backups):
 * a second copy of each project outside IndexedDB, which browsers delete when they judge it
 * corrupt. Each snapshot is a project file (the Export format) plus a small `.meta.json` written
 * after it: a snapshot exists only once its meta does, so a write cut short is never listed.
 *
 * Layout: `<dir>/<projectId>/<savedAt>.json` and `<savedAt>.meta.json`.
 */
export interface SnapshotCounts {
  runs: number;
  pairs: number;
  rules: number;
  /** Runs that were still running when the snapshot was taken (resumed after a restore). */
  interruptedRuns: number;
}

export interface SnapshotInfo {
  /** `<projectId>/<savedAt>`: what `read` and `remove` take. */
  id: string;
  projectId: string;
  projectName: string;
  savedAt: number;
  bytes: number;
  counts: SnapshotCounts;
}

/** Snapshots kept per project: the newest ones. */
export const SNAPSHOTS_PER_PROJECT = 3;

const META = '.meta.json';

async function writeFile(dir: FileSystemDirectoryHandle, name: string, data: Blob | string) {
  const handle = await dir.getFileHandle(name, { create: true });
  // A writable stream writes to a swap file and replaces the file only on close: atomic.
  const writable = await handle.createWritable();
  try {
    await writable.write(data);
    await writable.close();
  } catch (error) {
    await writable.abort().catch(() => undefined);
    throw error;
  }
}

async function names(dir: FileSystemDirectoryHandle): Promise<string[]> {
  const out: string[] = [];
  for await (const name of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) {
    out.push(name);
  }
  return out;
}

export class SnapshotStore {
  constructor(private readonly root: () => Promise<FileSystemDirectoryHandle>) {}

  async #projectDir(projectId: string, create: boolean) {
    if (!/^[\w-]+$/.test(projectId)) throw new Error(`Not a project id: ${projectId}`);
    return (await this.root()).getDirectoryHandle(projectId, { create });
  }

  /** Stores a snapshot and drops the project's older ones beyond {@link SNAPSHOTS_PER_PROJECT}. */
  async write(info: Omit<SnapshotInfo, 'id' | 'bytes'>, file: Blob): Promise<SnapshotInfo> {
    const dir = await this.#projectDir(info.projectId, true);
    const stamp = String(info.savedAt);
    await writeFile(dir, `${stamp}.json`, file);
    const full: SnapshotInfo = { ...info, id: `${info.projectId}/${stamp}`, bytes: file.size };
    await writeFile(dir, stamp + META, JSON.stringify(full));
    const old = (await this.list(info.projectId)).slice(SNAPSHOTS_PER_PROJECT);
    for (const snapshot of old) await this.remove(snapshot.id);
    return full;
  }

  /** Snapshots newest first, of one project or of all. Unreadable entries are skipped. */
  async list(projectId?: string): Promise<SnapshotInfo[]> {
    const root = await this.root();
    const projects = projectId ? [projectId] : await names(root);
    const out: SnapshotInfo[] = [];
    for (const id of projects) {
      let dir: FileSystemDirectoryHandle;
      try {
        dir = await root.getDirectoryHandle(id);
      } catch {
        continue;
      }
      const files = new Set(await names(dir));
      for (const name of files) {
        if (!name.endsWith(META) || !files.has(name.slice(0, -META.length) + '.json')) continue;
        try {
          const file = await (await dir.getFileHandle(name)).getFile();
          out.push(JSON.parse(await file.text()) as SnapshotInfo);
        } catch {
          // A damaged meta file: that snapshot is not offered.
        }
      }
    }
    return out.sort((a, b) => b.savedAt - a.savedAt);
  }

  /** The project file of a snapshot. */
  async read(snapshotId: string): Promise<Blob> {
    const [projectId = '', stamp = ''] = snapshotId.split('/');
    const dir = await this.#projectDir(projectId, false);
    return (await dir.getFileHandle(`${stamp}.json`)).getFile();
  }

  async remove(snapshotId: string): Promise<void> {
    const [projectId = '', stamp = ''] = snapshotId.split('/');
    const dir = await this.#projectDir(projectId, false);
    // Meta first: a half-removed snapshot is then simply not listed.
    for (const name of [stamp + META, `${stamp}.json`]) {
      await dir.removeEntry(name).catch(() => undefined);
    }
  }

  /** Removes every snapshot of a project. */
  async removeProject(projectId: string): Promise<void> {
    const root = await this.root();
    await root.removeEntry(projectId, { recursive: true }).catch(() => undefined);
  }
}

/** The app's snapshot directory in origin-private storage, or undefined where there is none. */
export async function opfsSnapshotDir(): Promise<FileSystemDirectoryHandle> {
  if (typeof navigator === 'undefined' || !navigator.storage?.getDirectory) {
    throw new Error('This browser has no origin-private file system for snapshots.');
  }
  const root = await navigator.storage.getDirectory();
  return root.getDirectoryHandle('snapshots', { create: true });
}
