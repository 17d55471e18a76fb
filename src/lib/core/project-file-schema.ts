/**
 * The project-file format: its envelope (format name + version) and the exact shape of every
 * table's rows, checked whole before an import writes anything. A refused file gets one message
 * that names the place ("tables.rules[12].statement: expected a string, got a number"), so the
 * user can see what is wrong without opening the file in an editor.
 */
import { z } from 'zod';
import { AUTHORITY_LEVELS, RULE_STAGES } from './records';
import { describeIssue, describeTruncation } from './validation-messages';

export const PROJECT_FILE_FORMAT = 'specalign-project';
/** Format versions this app reads, oldest first. */
export const PROJECT_FILE_VERSION = 1;
export const MIN_PROJECT_FILE_VERSION = 1;

const id = z.string().min(1);
const count = z.number().int().nonnegative();
const time = z.number().finite();
const offset = z.number().int().nonnegative();
const strings = z.array(z.string());
const usage = z.looseObject({ promptTokens: z.number(), completionTokens: z.number() });
// Engine configs are re-checked where a model is loaded; here only their discriminant.
const engineConfig = z.looseObject({ kind: z.enum(['webllm', 'wllama', 'openai']) });
const chatMessage = z.looseObject({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string(),
});

/** A row a spec update made stale (issue 11 §3). */
const staleMark = z
  .looseObject({
    reason: z.enum(['changed', 'retired']),
    specVersionId: id,
    lineageIds: z.array(id),
  })
  .optional();

const projectRow = z.looseObject({
  id,
  name: z.string().min(1),
  description: z.string().optional(),
  createdAt: time,
  updatedAt: time,
  defaultModel: engineConfig.optional(),
  roleModels: z.record(z.string(), engineConfig).optional(),
});

const specVersionRow = z.looseObject({
  id,
  projectId: id,
  versionNumber: z.number().int().min(1),
  title: z.string(),
  sourceName: z.string(),
  sourceType: z.enum(['paste', 'markdown', 'text', 'html', 'pdf', 'docx']),
  format: z.enum(['openai-model-spec', 'markdown', 'plain']),
  text: z.string(),
  contentHash: z.string(),
  createdAt: time,
  previousVersionId: id.optional(),
  metaSpans: z.array(z.looseObject({ start: offset, end: offset })).optional(),
  stats: z
    .looseObject({ words: count, estimatedTokens: count, sections: count, examples: count })
    .optional(),
  warnings: strings.optional(),
  update: z
    .looseObject({
      fromVersionId: id,
      runId: id,
      confirmedAt: time,
      kept: count,
      changed: count,
      added: count,
      retiredRuleIds: z.array(id),
      changedLineageIds: z.array(id).optional(),
      retiredLineageIds: z.array(id).optional(),
      stale: z.looseObject({ pairs: count, instances: count, evalItems: count }).optional(),
    })
    .optional(),
});

const sectionRow = z.looseObject({
  id,
  specVersionId: id,
  projectId: id,
  anchor: z.string(),
  title: z.string(),
  headingPath: strings,
  level: z.number().int().nonnegative(),
  order: count,
  parentAnchor: z.string().optional(),
  start: offset,
  bodyStart: offset,
  end: offset,
  authority: z.enum(AUTHORITY_LEVELS).optional(),
  tags: strings.optional(),
});

const exampleRow = z.looseObject({
  id,
  specVersionId: id,
  projectId: id,
  sectionAnchor: z.string(),
  order: count,
  title: z.string().optional(),
  description: z.string().optional(),
  turns: z.array(
    z.looseObject({
      role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
      content: z.string(),
      attributes: z.record(z.string(), z.string()).optional(),
    }),
  ),
  comparisons: z.array(
    z.looseObject({
      verdict: z.enum(['good', 'bad']),
      content: z.string(),
      note: z.string().optional(),
      label: z.enum(['GOOD', 'OK', 'BAD']).optional(),
      citedAnchor: z.string().optional(),
    }),
  ),
  start: offset,
  end: offset,
});

const ruleRow = z.looseObject({
  id,
  projectId: id,
  specVersionId: id,
  // Absent in files of schema v1–v2 (before lineages); importProjectFile fills it in.
  lineageId: id.optional(),
  previousRuleId: id.optional(),
  sectionAnchor: z.string(),
  statement: z.string(),
  direction: z.enum(['positive', 'negative']),
  stage: z.enum(RULE_STAGES),
  domain: z.string(),
  family: z.string(),
  priority: z.number().finite(),
  authority: z.enum(AUTHORITY_LEVELS).optional(),
  strength: z.enum(['must', 'should', 'may']),
  exceptions: strings,
  appliesWhen: strings,
  source: z.looseObject({
    quote: z.string(),
    start: z.number(),
    end: z.number(),
    located: z.boolean(),
  }),
  status: z.enum(['proposed', 'accepted', 'rejected', 'flagged']),
  origin: z.enum(['model', 'manual', 'split', 'merge', 'import']),
  notes: strings.optional(),
  runId: id.optional(),
  createdAt: time,
  updatedAt: time,
});

const instanceRow = z.looseObject({
  id,
  projectId: id,
  specVersionId: id,
  seed: z.number().finite(),
  index: count,
  ruleIds: z.array(id),
  lineageIds: z.array(id).optional(),
  stale: staleMark,
  pinned: z.boolean(),
  systemPrompt: z.string(),
  createdAt: time,
});

// Nested run state (`config`, `experience`, `Task.state`, pair provenance, evaluation results)
// is checked by the record readers that consume it; here it only has to be present and plain.
const runRow = z.looseObject({
  id,
  projectId: id,
  kind: z.enum(['annotate', 'synthesize', 'evaluate']),
  status: z.enum(['queued', 'running', 'paused', 'done', 'cancelled', 'failed']),
  config: z.unknown(),
  createdAt: time,
  updatedAt: time,
  progress: z.looseObject({ done: count, failed: count, total: count }),
  usage,
  usageByRole: z.record(z.string(), usage).optional(),
  experience: z.unknown().optional(),
  error: z.string().optional(),
});

const taskRow = z.looseObject({
  id,
  runId: id,
  projectId: id,
  key: z.string(),
  order: z.number().finite(),
  status: z.enum(['pending', 'running', 'done', 'failed']),
  step: z.string().optional(),
  state: z.unknown().optional(),
  attempts: count,
  error: z.string().optional(),
  updatedAt: time,
  lineageIds: z.array(id).optional(),
  stale: staleMark,
});

const pairRow = z.looseObject({
  id,
  projectId: id,
  runId: id,
  instanceId: id,
  ruleIds: z.array(id),
  lineageIds: z.array(id).optional(),
  stale: staleMark,
  caseType: z.enum(['violation', 'borderline', 'benign']),
  prompt: z.array(chatMessage),
  chosen: z.string(),
  rejected: z.string(),
  status: z.enum(['pending', 'accepted', 'rejected', 'flagged']),
  provenance: z.record(z.string(), z.unknown()),
  createdAt: time,
});

const evaluationRow = z.looseObject({
  id,
  projectId: id,
  runId: id,
  target: engineConfig,
  createdAt: time,
  results: z.record(z.string(), z.unknown()),
});

/** A recorded dataset export (core/stored/export-record.ts; schema v4): the project's history. */
const exportRow = z.looseObject({
  id,
  projectId: id,
  createdAt: time,
  fileName: z.string(),
  pairIds: z.array(id),
  rules: z.array(z.looseObject({ lineageId: id, ruleId: id, statement: z.string() })),
});

export const PROJECT_FILE_TABLES = {
  specVersions: specVersionRow,
  sections: sectionRow,
  specExamples: exampleRow,
  rules: ruleRow,
  instances: instanceRow,
  runs: runRow,
  tasks: taskRow,
  pairs: pairRow,
  evaluations: evaluationRow,
  exports: exportRow,
} as const;

export type ProjectFileTable = keyof typeof PROJECT_FILE_TABLES;
type Row = { id: string } & Record<string, unknown>;

const tablesSchema = z.strictObject(
  Object.fromEntries(
    Object.entries(PROJECT_FILE_TABLES).map(([name, row]) => [name, z.array(row).optional()]),
  ) as { [K in ProjectFileTable]: z.ZodOptional<z.ZodArray<(typeof PROJECT_FILE_TABLES)[K]>> },
);

const envelopeSchema = z.object({
  format: z.string(),
  formatVersion: z.number().int(),
  schemaVersion: z.number().int().min(1),
});

const projectFileSchema = z.object({
  format: z.literal(PROJECT_FILE_FORMAT),
  formatVersion: z.number().int(),
  schemaVersion: z.number().int().min(1),
  exportedAt: z.string(),
  project: projectRow,
  tables: tablesSchema,
});

export interface ProjectFileData {
  formatVersion: number;
  schemaVersion: number;
  project: Row & { name: string };
  tables: Partial<Record<ProjectFileTable, Row[]>>;
}

/** Thrown with a message that names the place in the file; the caller wraps it as it likes. */
export class ProjectFileProblem extends Error {}

const fail = (message: string): never => {
  throw new ProjectFileProblem(message);
};

/**
 * Parses and checks a whole project file: JSON, truncation, envelope and version, every row's
 * shape, duplicate ids and references between tables. Writes nothing; throws ProjectFileProblem.
 */
export function parseProjectFile(text: string, latestSchemaVersion: number): ProjectFileData {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    const truncated = describeTruncation(text);
    fail(
      truncated
        ? `${truncated}: it is not a complete project file. Export the project again, or use the complete copy.`
        : 'This file is not a SpecAlign project: it is not valid JSON.',
    );
  }
  const envelope = envelopeSchema.safeParse(raw);
  if (!envelope.success) {
    fail(
      `This file is not a SpecAlign project file (${describeIssue(envelope.error.issues[0], raw)}).`,
    );
  }
  const { format, formatVersion, schemaVersion } = envelope.data!;
  if (format !== PROJECT_FILE_FORMAT) {
    fail(
      `This file is not a SpecAlign project file (its format is "${format.slice(0, 60)}", expected "${PROJECT_FILE_FORMAT}").`,
    );
  }
  if (formatVersion > PROJECT_FILE_VERSION || schemaVersion > latestSchemaVersion) {
    const [what, got, max] =
      formatVersion > PROJECT_FILE_VERSION
        ? ['format version', formatVersion, PROJECT_FILE_VERSION]
        : ['database schema version', schemaVersion, latestSchemaVersion];
    fail(
      `This project file's ${what} ${got} is newer than this app reads (${range(1, max)}). Update the app (reload the page) and import it again.`,
    );
  }
  if (formatVersion < MIN_PROJECT_FILE_VERSION) {
    fail(
      `This project file's format version ${formatVersion} is not one this app reads (${range(MIN_PROJECT_FILE_VERSION, PROJECT_FILE_VERSION)}).`,
    );
  }
  const parsed = projectFileSchema.safeParse(raw);
  if (!parsed.success) {
    fail(
      `This project file is damaged and was not imported: ${describeIssue(parsed.error.issues[0], raw)}.`,
    );
  }
  const data = parsed.data as unknown as ProjectFileData;
  checkIds(data);
  checkReferences(data);
  checkLineages(data);
  return data;
}

const range = (from: number, to: number) =>
  from === to ? `version ${to}` : `versions ${from}–${to}`;

/** Per table: a synthesis task and the pair it made share an id by design. */
function checkIds(data: ProjectFileData): void {
  for (const [table, rows] of Object.entries(data.tables)) {
    const seen = new Map<string, string>();
    rows?.forEach((row, i) => {
      const place = `tables.${table}[${i}].id`;
      const first = seen.get(row.id);
      if (first)
        fail(
          `This project file is damaged and was not imported: ${place}: the id "${row.id.slice(0, 80)}" is already used at ${first}.`,
        );
      seen.set(row.id, place);
    });
  }
}

/**
 * References whose target is part of what the referring row means: a section or example is
 * offsets into its spec version's text, a task or evaluation is a step of its run. A dangling one
 * means a damaged or hand-edited file. Rules, instances and pairs stand on their own (rules and
 * instances can be deleted after pairs cite them; hand-made files ship pairs without their run).
 */
function checkReferences(data: ProjectFileData): void {
  const ids = (table: ProjectFileTable) => new Set((data.tables[table] ?? []).map((r) => r.id));
  const specVersions = ids('specVersions');
  const runs = ids('runs');
  const links: [ProjectFileTable, string, Set<string>, string][] = [
    ['specVersions', 'previousVersionId', specVersions, 'spec version'],
    ['sections', 'specVersionId', specVersions, 'spec version'],
    ['specExamples', 'specVersionId', specVersions, 'spec version'],
    ['tasks', 'runId', runs, 'run'],
    ['evaluations', 'runId', runs, 'run'],
  ];
  for (const [table, field, targets, noun] of links) {
    data.tables[table]?.forEach((row, i) => {
      const ref = row[field];
      if (typeof ref === 'string' && !targets.has(ref)) {
        fail(
          `This project file is damaged and was not imported: tables.${table}[${i}].${field} points at ${noun} "${ref.slice(0, 80)}", which is not in the file.`,
        );
      }
    });
  }
}

/**
 * Lineage (issue 11 §1): a file written at schema v3 or later carries every rule's lineage id,
 * and a row that cites rules lists one lineage per rule (`lineageIds` parallel to `ruleIds`).
 * Older files have no lineages at all; the import gives each rule its own.
 */
function checkLineages(data: ProjectFileData): void {
  if (data.schemaVersion >= LINEAGE_SCHEMA_VERSION) {
    data.tables.rules?.forEach((row, i) => {
      if (typeof row.lineageId !== 'string')
        fail(
          `This project file is damaged and was not imported: tables.rules[${i}].lineageId is missing (every rule of a schema version ${data.schemaVersion} file has a lineage id).`,
        );
    });
  }
  for (const table of ['instances', 'pairs'] as const) {
    data.tables[table]?.forEach((row, i) => {
      const { ruleIds, lineageIds } = row as unknown as {
        ruleIds: string[];
        lineageIds?: string[];
      };
      if (lineageIds && lineageIds.length !== ruleIds.length)
        fail(
          `This project file is damaged and was not imported: tables.${table}[${i}].lineageIds has ${lineageIds.length} entries for ${ruleIds.length} rule ids (one lineage per rule).`,
        );
    });
  }
}

/** The first database schema whose rules carry lineage ids. */
export const LINEAGE_SCHEMA_VERSION = 3;

/**
 * Lineages for rows of a file written before them: each rule is its own lineage; a row citing
 * rules gets their lineages. Returns new row arrays; the input is not modified.
 */
export function fillLineages(tables: ProjectFileData['tables']): ProjectFileData['tables'] {
  const lineage = new Map<string, string>();
  const rules = tables.rules?.map((r) => {
    const lineageId = typeof r.lineageId === 'string' ? r.lineageId : r.id;
    lineage.set(r.id, lineageId);
    return r.lineageId === lineageId ? r : { ...r, lineageId };
  });
  const cite = (row: Row): Row => {
    const ruleIds = row.ruleIds as string[];
    return Array.isArray(row.lineageIds)
      ? row
      : { ...row, lineageIds: ruleIds.map((id) => lineage.get(id) ?? id) };
  };
  return {
    ...tables,
    ...(rules ? { rules } : {}),
    ...(tables.instances ? { instances: tables.instances.map(cite) } : {}),
    ...(tables.pairs ? { pairs: tables.pairs.map(cite) } : {}),
  };
}
