/**
 * Dataset exports in the worker: Dexie pages → a core streaming exporter → Blobs. One page of
 * pairs and at most 8 MB of output chunks live on the JS heap at a time; what is written is
 * folded into Blobs, whose contents the browser keeps off the heap (see `BlobBuilder`). The Blob
 * crosses postMessage as a handle, not as bytes.
 */
import { strToU8, zipSync } from 'fflate';
import {
  createExportContext,
  changelogLines,
  exportChangelog,
  exportEvalSet,
  exportHfDataset,
  exportPairs,
  filterPairs,
  FORMAT_INFO,
  planTrainingMix,
  type MixSettings,
  type MixSummary,
  type PairFilter,
  type PairFormat,
  type PairSource,
  pairDelta,
  toPredicate,
  versionFit,
  type VersionFit,
} from '$lib/core/export';
import type { PairStatus, PreferencePair, Rule, SpecVersion } from '$lib/core/records';
import { exportRecordSchema, readRecord, type ExportRecord } from '$lib/core/stored';
import { serializeRulesFile } from '$lib/core/rules/rules-file';
import type { SpecAlignDb } from '$lib/db/database';
import { hasChosenMarkup } from '$lib/core/review/markup';
import { orderedPairIds, pairsByIds } from './pairs-service';

/** The status selection (stale pairs left out unless `includeStale`), minus pairs with markup. */
function withoutMarkup(statuses: readonly PairStatus[], includeStale: boolean): PairFilter {
  const selected = filterPairs({ statuses, includeStale });
  return (pair) => selected(pair) && !hasChosenMarkup(pair);
}

/** Options every export kind shares. */
interface ExportBase {
  /** Also export unreviewed pairs (default: accepted only). */
  includePending: boolean;
  /** Leave out pairs whose chosen reply carries markup (core/review/markup.ts). */
  excludeMarkup?: boolean;
  /** Also export pairs a spec update marked stale (default: left out; issue 11 §3). */
  includeStale?: boolean;
}

/** What the Export screen asks for. */
export type ExportRequest =
  | (ExportBase & {
      kind: 'pairs';
      format: PairFormat;
      /** The `metadata` column. */
      provenance: boolean;
      /** The instance's system prompt in each row's prompt. */
      includeSystem: boolean;
      /** The training mix: the file then holds the format's stage share (see core/export/mix.ts). */
      mix?: MixSettings;
    })
  | (ExportBase & {
      kind: 'hf';
      format: PairFormat;
      provenance: boolean;
      includeSystem: boolean;
      testFraction: number;
      seed: number;
      /** Hub license id for the dataset card. */
      license: string;
      /** The training mix: both stages' shares, each in its config; the card records it. */
      mix?: MixSettings;
    })
  | (ExportBase & { kind: 'eval'; testFraction: number; seed: number })
  | (ExportBase & {
      kind: 'delta';
      /** The earlier export (an `exports` row) the delta is relative to. */
      fromExportId: string;
      format: PairFormat;
      provenance: boolean;
      includeSystem: boolean;
    });

/** How far an export has got: `fraction` 0..1 of the pairs read. */
export interface ExportStatus {
  fraction: number;
  detail: string;
}

export interface ExportResult {
  blob: Blob;
  fileName: string;
  /** Pairs read from the database (selected or not). */
  pairsRead: number;
  /** Selected pairs left out because they cannot form a row (no user turn, empty reply). */
  skipped: number;
  /** Selected pairs refused because chosen and rejected carry no preference. */
  refused: number;
  /** Selected pairs skipped because their stored record is corrupt. */
  corrupt: number;
  /** The training mix applied, when one was asked for. */
  mix?: MixSummary;
  /** Stale pairs among the status-selected ones, and whether they were exported. */
  stale: { count: number; included: boolean };
  /** The record kept of this export (full JSONL and HF exports), for later changelogs and deltas. */
  recordId?: string;
  /** A delta export's added and retired pair counts. */
  delta?: { added: number; retired: number };
  /**
   * Status-selected pairs of other spec versions (issue 11 §6): carried over with unchanged rules
   * (exported), or testing rules the export's version does not hold (left out).
   */
  versions: { carried: number; leftOut: number };
}

/** Which pairs an export or a mix preview reads. */
export type ExportSelection = ExportBase;

/** How often (in pairs read) progress is reported: often enough for a bar, rarely enough to be cheap. */
const PROGRESS_EVERY = 1000;

function slug(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 60) || 'project'
  );
}

/**
 * Exports a project's pairs as `request` says.
 *
 * @throws EmptyExportError (before writing anything) when no pair is selected.
 * @throws AbortedError when `signal` fires.
 */
/** Bytes of chunks kept as loose parts before they are folded into one Blob. */
const FOLD_BYTES = 8 * 1024 * 1024;

/**
 * Collects the output as Blobs of at most {@link FOLD_BYTES} loose bytes each: the browser keeps
 * Blob contents outside the JS heap (and may page them to disk), so the worker holds at most one
 * batch of chunks, never the whole file twice. Strings are encoded to UTF-8 first: as JS strings
 * they would take two bytes per character once any chunk holds a non-Latin-1 character.
 */
class BlobBuilder {
  readonly #folded: Blob[] = [];
  #loose: Uint8Array<ArrayBuffer>[] = [];
  #looseBytes = 0;
  readonly #encoder = new TextEncoder();

  push(chunk: string | Uint8Array<ArrayBuffer>): void {
    const bytes = typeof chunk === 'string' ? this.#encoder.encode(chunk) : chunk;
    this.#loose.push(bytes);
    this.#looseBytes += bytes.byteLength;
    if (this.#looseBytes >= FOLD_BYTES) this.#fold();
  }

  #fold(): void {
    if (this.#loose.length) this.#folded.push(new Blob(this.#loose));
    this.#loose = [];
    this.#looseBytes = 0;
  }

  build(type: string): Blob {
    this.#fold();
    return new Blob(this.#folded, { type });
  }
}

/**
 * How each pair relates to the version an export reflects (core/export/versions.ts), or
 * undefined for a project with one version (every pair is of it).
 */
async function fitOfVersion(
  db: SpecAlignDb,
  projectId: string,
): Promise<((pair: PreferencePair) => VersionFit) | undefined> {
  const version = await latestVersion(db, projectId);
  const versions = await db.specVersions.where('projectId').equals(projectId).count();
  if (!version || versions < 2) return undefined;
  const [rules, instances] = await Promise.all([
    db.rules.where('specVersionId').equals(version.id).toArray(),
    db.instances.where('projectId').equals(projectId).toArray(),
  ]);
  const lineages = new Set(
    rules.filter((r) => r.status !== 'rejected').map((r) => r.lineageId ?? r.id),
  );
  return versionFit(version.id, lineages, new Map(instances.map((i) => [i.id, i])));
}

/** What the Export screen warns about in the pairs an export would select. */
export interface ExportSelectionCounts {
  /** Pairs with the export's statuses. */
  pairs: number;
  /** Of those, pairs with markup or script-like payloads in the chosen reply. */
  markup: number;
  /** Of those, pairs a spec update marked stale (left out unless asked for). */
  stale: number;
  /**
   * Of those, pairs testing rules the export's version does not hold (always left out; see
   * core/export/versions.ts): `current` ones not stale, `stale` ones stale too.
   */
  otherVersion: { current: number; stale: number };
}

/**
 * Counts, in one scan a page at a time, the project's pairs with one of `statuses` that have
 * markup in the chosen reply, that a spec update marked stale, and that belong to another spec
 * version than the export's (the Export screen's summary).
 */
export async function countExportSelection(
  db: SpecAlignDb,
  projectId: string,
  statuses: readonly PairStatus[],
): Promise<ExportSelectionCounts> {
  const ids = await orderedPairIds(db, projectId, statuses);
  const fit = await fitOfVersion(db, projectId);
  const counts: ExportSelectionCounts = {
    pairs: ids.length,
    markup: 0,
    stale: 0,
    otherVersion: { current: 0, stale: 0 },
  };
  for await (const pair of pairsByIds(db, ids)) {
    if (hasChosenMarkup(pair)) counts.markup++;
    if (pair.stale) counts.stale++;
    if (fit?.(pair) === 'other') counts.otherVersion[pair.stale ? 'stale' : 'current']++;
  }
  return counts;
}

/**
 * The project's selected pair ids (creation order) and the export filter: pairs testing rules the
 * export's version does not hold are left out (one dataset, one spec version; issue 11 §6).
 */
async function selection(
  db: SpecAlignDb,
  projectId: string,
  request: ExportBase,
): Promise<{ ids: string[]; select: PairFilter; fit?: (pair: PreferencePair) => VersionFit }> {
  const statuses: PairStatus[] = request.includePending ? ['accepted', 'pending'] : ['accepted'];
  // Narrow by the status index first (keys only), so unselected rows are never read.
  const ids = await orderedPairIds(db, projectId, statuses);
  const includeStale = request.includeStale ?? false;
  const base: PairFilter = request.excludeMarkup
    ? withoutMarkup(statuses, includeStale)
    : { statuses, includeStale };
  const fit = await fitOfVersion(db, projectId);
  if (!fit) return { ids, select: base };
  const keep = toPredicate(base);
  return { ids, select: (pair) => keep(pair) && fit(pair) !== 'other', fit };
}

/**
 * What a training mix would do to the selected pairs, before exporting: one read of the pairs
 * (in creation order, so the earliest copy of a duplicate stays), no file. The Export screen
 * shows it as the settings change (a newer call with the same job id cancels the older one).
 *
 * @throws MixSettingsError for settings that cannot work; AbortedError when cancelled.
 */
export async function previewTrainingMix(
  db: SpecAlignDb,
  projectId: string,
  request: ExportSelection,
  settings: MixSettings,
  options: { signal?: AbortSignal; onProgress?: (status: ExportStatus) => void } = {},
): Promise<MixSummary> {
  const { ids, select } = await selection(db, projectId, request);
  let read = 0;
  const source = (async function* () {
    for await (const pair of pairsByIds(db, ids)) {
      read++;
      if (read % PROGRESS_EVERY === 0)
        options.onProgress?.({
          fraction: read / ids.length,
          detail: `${read.toLocaleString('en')} of ${ids.length.toLocaleString('en')} pairs read`,
        });
      yield pair;
    }
  })();
  const plan = await planTrainingMix(source, {
    settings,
    select,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return plan.summary;
}

/** The project's latest spec version: the one its exports reflect. */
function latestVersion(db: SpecAlignDb, projectId: string): Promise<SpecVersion | undefined> {
  return db.specVersions
    .where('[projectId+versionNumber]')
    .between([projectId, 0], [projectId, Infinity])
    .last();
}

/** The project's export records, oldest first; unreadable ones are skipped. */
export async function listExportRecords(
  db: SpecAlignDb,
  projectId: string,
): Promise<ExportRecord[]> {
  const rows = await db.exports
    .where('[projectId+createdAt]')
    .between([projectId, -Infinity], [projectId, Infinity])
    .toArray();
  return rows.flatMap((row) => {
    const read = readRecord(exportRecordSchema, row, { table: 'exports', id: row.id });
    return read.ok ? [read.value] : [];
  });
}

/** What the Export screen lists of a past export (no pair ids: they stay in the worker). */
export interface ExportSummary {
  id: string;
  fileName: string;
  createdAt: number;
  kind: ExportRecord['kind'];
  specVersionNumber?: number;
  pairs: number;
}

/** The project's recorded exports, newest first. */
export async function listExportSummaries(
  db: SpecAlignDb,
  projectId: string,
): Promise<ExportSummary[]> {
  return (await listExportRecords(db, projectId)).reverse().map((r) => ({
    id: r.id,
    fileName: r.fileName,
    createdAt: r.createdAt,
    kind: r.kind,
    ...(r.specVersionNumber !== undefined ? { specVersionNumber: r.specVersionNumber } : {}),
    pairs: r.pairIds.length,
  }));
}

/** The accepted rules of the version an export reflects, as its record keeps them. */
function exportedRules(rules: readonly Rule[], version: SpecVersion | undefined) {
  return rules
    .filter((r) => r.status === 'accepted' && (!version || r.specVersionId === version.id))
    .map((r) => ({ lineageId: r.lineageId ?? r.id, ruleId: r.id, statement: r.statement }));
}

export async function exportDataset(
  db: SpecAlignDb,
  projectId: string,
  request: ExportRequest,
  options: { signal?: AbortSignal; onProgress?: (status: ExportStatus) => void } = {},
): Promise<ExportResult> {
  const project = await db.projects.get(projectId);
  if (!project) throw new Error('That project no longer exists.');
  const [instances, rules, version] = await Promise.all([
    db.instances.where('projectId').equals(projectId).toArray(),
    db.rules.where('projectId').equals(projectId).toArray(),
    latestVersion(db, projectId),
  ]);
  const context = createExportContext(instances, rules, version?.id);
  const { ids, select, fit } = await selection(db, projectId, request);
  const includeStale = request.includeStale ?? false;
  const mixSettings = request.kind === 'eval' || request.kind === 'delta' ? undefined : request.mix;
  // Reads of the pairs: the mix plan (when asked), then one per file (HF: train, test, eval, and
  // the other stage's train and test when the mix gives it pairs; delta: the selection, then the
  // added pairs).
  // With a mix, the HF count starts at 5 file reads and drops to 3 when the other stage is empty:
  // a progress bar may jump forward, never back.
  let passes =
    (request.kind === 'hf' ? (mixSettings ? 5 : 3) : request.kind === 'delta' ? 2 : 1) +
    (mixSettings ? 1 : 0);
  let read = 0;
  const left = { skipped: 0, refused: 0, corrupt: 0 };
  const tally = (p: { skipped: number; refused: number; corrupt: number; done: boolean }) => {
    if (p.done) Object.assign(left, { skipped: p.skipped, refused: p.refused, corrupt: p.corrupt });
  };
  const report = (detail: string) =>
    options.onProgress?.({
      fraction: ids.length === 0 ? 1 : Math.min(1, read / (ids.length * passes)),
      detail,
    });
  // The first read also counts the stale pairs and keeps the selected ids (the export's record):
  // every later read sees the same rows, so once is enough.
  const keep = toPredicate(select);
  const selectedIds: string[] = [];
  let staleCount = 0;
  const versionMix = { carried: 0, leftOut: 0 };
  const stalePass = toPredicate({
    statuses: request.includePending ? ['accepted', 'pending'] : ['accepted'],
    includeStale,
  });
  let firstRead = true;
  const source = (from: readonly string[] = ids): PairSource =>
    (async function* () {
      const counting = firstRead;
      firstRead = false;
      for await (const pair of pairsByIds(db, from)) {
        read++;
        if (read % PROGRESS_EVERY === 0) report(`${read.toLocaleString('en')} pairs read`);
        if (counting) {
          if (pair.stale) staleCount++;
          if (keep(pair)) selectedIds.push(pair.id);
          const fits = fit && stalePass(pair) ? fit(pair) : undefined;
          // A stale pair's rule changed: exported on request, but not "carried over unchanged".
          if (fits === 'carried' && keep(pair) && !pair.stale) versionMix.carried++;
          else if (fits === 'other') versionMix.leftOut++;
        }
        yield pair;
      }
    })();

  const stem = `${slug(project.name)}${version ? `-v${version.versionNumber}` : ''}`;
  const parts = new BlobBuilder();
  const common = { context, select, ...(options.signal ? { signal: options.signal } : {}) };
  let blob: Blob;
  let fileName: string;
  let delta: { added: number; retired: number } | undefined;
  report('Reading pairs…');
  const mix =
    mixSettings && (await planTrainingMix(source(), { ...common, settings: mixSettings }));
  if (mix && request.kind === 'hf') {
    const other = FORMAT_INFO[request.format].usesRejected ? mix.summary.sft : mix.summary.dpo;
    if (other === 0) passes -= 2;
  }
  const withMix = mix ? { mix } : {};
  const records = request.kind === 'pairs' || request.kind === 'hf';
  const previous = records ? (await listExportRecords(db, projectId)).at(-1) : undefined;
  const currentRules = exportedRules(rules, version);
  if (request.kind === 'pairs') {
    for await (const chunk of exportPairs(source(), request.format, {
      ...common,
      provenance: request.provenance,
      includeSystem: request.includeSystem,
      onProgress: tally,
      ...withMix,
    }))
      parts.push(chunk);
    blob = parts.build('application/jsonl');
    fileName = `${stem}-${FORMAT_INFO[request.format].fileStem}.jsonl`;
  } else if (request.kind === 'eval') {
    for await (const chunk of exportEvalSet(source(), {
      ...common,
      split: { testFraction: request.testFraction, seed: request.seed },
      onProgress: tally,
    }))
      parts.push(chunk);
    blob = parts.build('application/jsonl');
    fileName = `${stem}-eval.jsonl`;
  } else if (request.kind === 'delta') {
    ({ blob, fileName, delta } = await deltaExport(db, projectId, request, {
      stem,
      version,
      rules: currentRules,
      readSelection: async () => {
        for await (const pair of source()) void pair; // the first read fills selectedIds
        return selectedIds;
      },
      exportAdded: async (added) => {
        if (added.length === 0) return new Uint8Array(0);
        const rows = new BlobBuilder();
        for await (const chunk of exportPairs(source(added), request.format, {
          ...common,
          provenance: request.provenance,
          includeSystem: request.includeSystem,
          onProgress: tally,
        }))
          rows.push(chunk);
        return new Uint8Array(await rows.build('application/jsonl').arrayBuffer());
      },
    }));
  } else {
    for await (const bytes of exportHfDataset(source, {
      ...common,
      format: request.format,
      provenance: request.provenance,
      includeSystem: request.includeSystem,
      testFraction: request.testFraction,
      seed: request.seed,
      onProgress: tally,
      ...withMix,
      rulesFile: {
        serialize: (list) => serializeRulesFile(list),
        // The accepted rules of the version the dataset reflects: an export is of one spec
        // version (issue 11 §6: rules.json once mixed two while the card named one).
        rules: rules.filter(
          (r) => r.status === 'accepted' && (!version || r.specVersionId === version.id),
        ),
      },
      // Called once the pairs are read: the stale count and the changelog need the first read.
      card: () => ({
        prettyName: `${project.name} preference pairs`,
        license: request.license || 'other',
        generatedAt: new Date().toISOString(),
        ...(version
          ? {
              spec: {
                title: version.title,
                versionNumber: version.versionNumber,
                contentHash: version.contentHash,
                specVersionId: version.id,
              },
            }
          : {}),
        stalePairs: { count: staleCount, included: includeStale },
        versionMix,
        changelog: exportChangelog(previous, { pairIds: selectedIds, rules: currentRules }),
      }),
    }))
      parts.push(bytes as Uint8Array<ArrayBuffer>);
    blob = parts.build('application/zip');
    fileName = `${stem}-${FORMAT_INFO[request.format].fileStem}-dataset.zip`;
  }
  let recordId: string | undefined;
  if (records) {
    // Kept only once the file exists: a failed or cancelled export is no dataset version.
    recordId = crypto.randomUUID();
    const record: ExportRecord = {
      v: 1,
      id: recordId,
      projectId,
      createdAt: Date.now(),
      kind: request.kind,
      fileName,
      format: request.format,
      ...(version ? { specVersionId: version.id, specVersionNumber: version.versionNumber } : {}),
      pairIds: selectedIds,
      rules: currentRules,
      staleIncluded: includeStale,
    };
    await db.exports.add(record);
  }
  options.onProgress?.({ fraction: 1, detail: `${read.toLocaleString('en')} pairs read` });
  return {
    blob,
    fileName,
    pairsRead: read,
    ...left,
    ...(mix ? { mix: mix.summary } : {}),
    stale: { count: staleCount, included: includeStale },
    versions: versionMix,
    ...(recordId ? { recordId } : {}),
    ...(delta ? { delta } : {}),
  };
}

/** The file of a delta export: a .zip with the added pairs' rows, the retired ids and a README. */
async function deltaExport(
  db: SpecAlignDb,
  projectId: string,
  request: Extract<ExportRequest, { kind: 'delta' }>,
  io: {
    stem: string;
    version: SpecVersion | undefined;
    rules: ReturnType<typeof exportedRules>;
    readSelection: () => Promise<string[]>;
    exportAdded: (added: string[]) => Promise<Uint8Array>;
  },
): Promise<{ blob: Blob; fileName: string; delta: { added: number; retired: number } }> {
  const from = (await listExportRecords(db, projectId)).find((r) => r.id === request.fromExportId);
  if (!from)
    throw new Error(
      'That earlier export is not recorded for this project (it was made before exports were recorded, or in another browser): choose another one.',
    );
  const current = await io.readSelection();
  const { added, retired } = pairDelta(from.pairIds, current);
  const changelog = exportChangelog(from, { pairIds: current, rules: io.rules });
  const rows = await io.exportAdded(added);
  const since = `v${from.specVersionNumber ?? '?'}`;
  const readme = [
    `# Delta since ${from.fileName}`,
    '',
    `Pairs selected now${io.version ? ` (spec version ${io.version.versionNumber})` : ''} versus the export \`${from.fileName}\` of ${new Date(from.createdAt).toISOString()}.`,
    '',
    `- \`added.jsonl\`: ${added.length} added pair(s), in the format \`${request.format}\`.`,
    `- \`retired.json\`: ${retired.length} retired pair id(s): in the earlier export, no longer selected (rejected, stale or deleted since).`,
    '',
    ...changelogLines(changelog),
  ].join('\n');
  const zip = zipSync({
    'added.jsonl': rows,
    'retired.json': strToU8(
      `${JSON.stringify({ fromExport: from.id, fromFile: from.fileName, retiredPairIds: retired }, null, 2)}\n`,
    ),
    'README.md': strToU8(readme),
  });
  return {
    blob: new Blob([zip as Uint8Array<ArrayBuffer>], { type: 'application/zip' }),
    fileName: `${io.stem}-${FORMAT_INFO[request.format].fileStem}-delta-since-${since}.zip`,
    delta: { added: added.length, retired: retired.length },
  };
}
