/**
 * A whole project as one JSON file: the project row plus every row of its tables. Import always
 * creates a new project with fresh ids (so importing twice never collides) and is atomic: a bad
 * file changes nothing. Secrets never leave: the settings table is not exported and any
 * key-like field is scrubbed as a second line of defence.
 */
import type { Table } from 'dexie';
import { InvalidFileError } from '$lib/core/errors';
import {
  fillLineages,
  parseProjectFile,
  PROJECT_FILE_FORMAT,
  PROJECT_FILE_VERSION,
  ProjectFileProblem,
  type ProjectFileData,
} from '$lib/core/project-file-schema';
import type { Project } from '$lib/core/records';
import type { SpecAlignDb } from './database';
import { guardStorage } from './errors';

export { projectFileName } from './project-file-name';
import { PROJECT_TABLES, SCHEMA_VERSIONS } from './schema';

export { PROJECT_FILE_FORMAT, PROJECT_FILE_VERSION };

const EXPORT_PAGE = 2000;
const SECRET_FIELD = /^(api_?key|authorization|secret|token|password)$/i;

const LATEST_SCHEMA = SCHEMA_VERSIONS[SCHEMA_VERSIONS.length - 1]?.version ?? 1;

function scrub(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(scrub);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (!SECRET_FIELD.test(k)) out[k] = scrub(v);
    return out;
  }
  return value;
}

/** Serialises a project into a Blob, one row at a time, so a large project is never one giant string. */
export async function exportProjectFile(db: SpecAlignDb, projectId: string): Promise<Blob> {
  // One read transaction: a snapshot taken while a run checkpoints sees its run row, tasks and
  // pairs as of one moment (read table by table, a restored run's counters disagreed with its
  // tasks). Writers wait for it; nothing but reads happens inside.
  const parts = await db.transaction('r', ['projects', ...PROJECT_TABLES], () =>
    readProjectParts(db, projectId),
  );
  return new Blob(parts, { type: 'application/json' });
}

async function readProjectParts(db: SpecAlignDb, projectId: string): Promise<string[]> {
  const project = await db.projects.get(projectId);
  if (!project) throw new Error('That project no longer exists.');
  const schemaVersion = LATEST_SCHEMA;
  const parts: string[] = [
    `{"format":${JSON.stringify(PROJECT_FILE_FORMAT)},"formatVersion":${PROJECT_FILE_VERSION},`,
    `"schemaVersion":${schemaVersion},"exportedAt":${JSON.stringify(new Date().toISOString())},`,
    `"project":${JSON.stringify(scrub(project))},"tables":{`,
  ];
  let firstTable = true;
  for (const table of PROJECT_TABLES) {
    parts.push(`${firstTable ? '' : ','}${JSON.stringify(table)}:[`);
    firstTable = false;
    // Keys first, rows in pages: bounded memory, and far faster than a long-lived cursor.
    const keys = await db.table(table).where('projectId').equals(projectId).primaryKeys();
    for (let i = 0; i < keys.length; i += EXPORT_PAGE) {
      const page = await db.table(table).bulkGet(keys.slice(i, i + EXPORT_PAGE));
      const text = page.map((row) => JSON.stringify(scrub(row))).join(',');
      parts.push(i === 0 ? text : `,${text}`);
    }
    parts.push(']');
  }
  parts.push('}}');
  return parts;
}

/**
 * Rewrites every id through `ids`, and ids derived from one: a section's `${versionId}#anchor`
 * and a run's `${runId}:…` (its tasks, pairs and annotated rules), so that a resumed run finds
 * the rows it would have written under its new id and redoes nothing.
 */
function remap(value: unknown, ids: Map<string, string>): unknown {
  if (typeof value === 'string') {
    const exact = ids.get(value);
    if (exact) return exact;
    for (const separator of DERIVED_ID_SEPARATORS) {
      const at = value.indexOf(separator);
      if (at <= 0) continue;
      const prefix = ids.get(value.slice(0, at));
      if (prefix) return prefix + value.slice(at);
    }
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => remap(v, ids));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    // Keys too: per-rule results are maps keyed by rule id.
    for (const [k, v] of Object.entries(value)) out[remap(k, ids) as string] = remap(v, ids);
    return out;
  }
  return value;
}

/** How derived ids join their base id: sections `#`, a run's rows `:`. */
const DERIVED_ID_SEPARATORS = ['#', ':'] as const;

export interface ImportOptions {
  /**
   * Keep the file's ids when its project id is free (a restore into a database that lost the
   * project): rows, links and run state come back exactly as saved. Otherwise ids are fresh.
   */
  keepIds?: boolean;
}

export async function importProjectFile(
  db: SpecAlignDb,
  file: Blob,
  options: ImportOptions = {},
): Promise<{ projectId: string; name: string }> {
  let data: ProjectFileData;
  try {
    // The whole file is checked (shape, versions, ids, references) before the first write.
    data = parseProjectFile(await file.text(), LATEST_SCHEMA);
    // Files from before schema v3 have no rule lineages: each rule starts its own.
    data = { ...data, tables: fillLineages(data.tables) };
  } catch (error) {
    if (error instanceof ProjectFileProblem) throw new InvalidFileError(error.message);
    throw error;
  }
  const ids = new Map<string, string>();
  const keep = options.keepIds === true && !(await db.projects.get(data.project.id));
  if (!keep) ids.set(data.project.id, crypto.randomUUID());
  const runIds = new Set((data.tables.runs ?? []).map((r) => r.id));
  for (const rows of keep ? [] : Object.values(data.tables)) {
    for (const row of rows ?? []) {
      // Derived ids follow their base id (see remap) instead of getting a fresh one.
      const derived = row.id.includes('#') || runIds.has(row.id.slice(0, row.id.indexOf(':')));
      if (!derived) ids.set(row.id, crypto.randomUUID());
    }
  }
  const now = Date.now();
  const project = {
    ...(remap(data.project, ids) as Project),
    name: data.project.name,
    updatedAt: now,
  };
  const tables = [db.projects, ...PROJECT_TABLES.map((t) => db[t])];
  await guardStorage(() =>
    db.transaction('rw', tables, async () => {
      await db.projects.add(project);
      for (const table of PROJECT_TABLES) {
        const rows = data.tables[table];
        if (!rows?.length) continue;
        // Rows were checked against their table's shape by parseProjectFile.
        // Every row belongs to the new project, whatever the file claimed.
        const fresh = rows.map((r) => ({ ...(remap(r, ids) as object), projectId: project.id }));
        await (db.table(table) as Table<unknown, string>).bulkAdd(fresh);
      }
    }),
  );
  return { projectId: project.id, name: project.name };
}
