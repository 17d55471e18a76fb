/**
 * The rules as a file (METHOD.md §4: "the rules (JSON)"): a stable, versioned shape to export,
 * and an import that validates everything before returning anything.
 *
 * Format: `{ "format": "specalign-rules", "version": 1, "spec"?: {…}, "exportedAt"?: ISO date,
 * "rules": [...] }`. Each rule is a {@link Rule} without `projectId` (a file moves between
 * projects); keys are written in one fixed order so that exporting the same rules twice gives the
 * same bytes. Import accepts any version up to {@link RULES_FILE_VERSION}, ignores unknown keys
 * (forward compatible within a version), and throws {@link InvalidFileError} naming the first
 * problems (JSON syntax, wrong format marker, newer version, invalid fields, duplicate ids,
 * inconsistent spans); nothing is returned partially.
 */
import { z } from 'zod';
import { InvalidFileError } from '../errors';
import { describeIssue, describeTruncation, formatPath } from '../validation-messages';
import { AUTHORITY_LEVELS, type Rule } from '../records';
import { RULE_DIRECTIONS, RULE_STAGES, RULE_STRENGTHS } from './schema';

/** The format marker of a rules file. */
export const RULES_FILE_FORMAT = 'specalign-rules';
/** The current version of the rules file shape. Bump it (and migrate in {@link parseRulesFile}) on any change. */
export const RULES_FILE_VERSION = 1;

/** A rule as stored in a file: a {@link Rule} without its project. */
export type RuleFileEntry = Omit<Rule, 'projectId'>;

/** Where the rules came from, for the reader's benefit. */
export interface RulesFileSpec {
  specVersionId?: string;
  title?: string;
  contentHash?: string;
}

export interface RulesFile {
  format: typeof RULES_FILE_FORMAT;
  version: number;
  spec?: RulesFileSpec;
  exportedAt?: string;
  rules: RuleFileEntry[];
}

const nonNegativeInt = z.number().int().nonnegative();

const ruleEntrySchema = z
  .object({
    id: z.string().min(1),
    specVersionId: z.string().min(1),
    sectionAnchor: z.string(),
    statement: z.string().min(1),
    direction: z.enum(RULE_DIRECTIONS),
    stage: z.enum(RULE_STAGES),
    domain: z.string(),
    family: z.string(),
    priority: nonNegativeInt,
    authority: z.enum(AUTHORITY_LEVELS).optional(),
    strength: z.enum(RULE_STRENGTHS),
    exceptions: z.array(z.string()),
    appliesWhen: z.array(z.string()),
    source: z.object({
      quote: z.string(),
      start: nonNegativeInt,
      end: nonNegativeInt,
      located: z.boolean(),
    }),
    status: z.enum(['proposed', 'accepted', 'rejected', 'flagged']),
    origin: z.enum(['model', 'manual', 'split', 'merge', 'import']),
    createdAt: z.number(),
    updatedAt: z.number(),
  })
  .refine((r) => r.source.end >= r.source.start, {
    message: 'source.end is before source.start',
    path: ['source', 'end'],
  });

const fileSchema = z.object({
  format: z.literal(RULES_FILE_FORMAT),
  version: z.number().int().min(1).max(RULES_FILE_VERSION),
  spec: z
    .object({
      specVersionId: z.string().optional(),
      title: z.string().optional(),
      contentHash: z.string().optional(),
    })
    .optional(),
  exportedAt: z.string().optional(),
  rules: z.array(ruleEntrySchema),
});

/** One rule with keys in the file's fixed order (and no `projectId`). */
function toEntry(rule: Rule | RuleFileEntry): RuleFileEntry {
  return {
    id: rule.id,
    specVersionId: rule.specVersionId,
    sectionAnchor: rule.sectionAnchor,
    statement: rule.statement,
    direction: rule.direction,
    stage: rule.stage,
    domain: rule.domain,
    family: rule.family,
    priority: rule.priority,
    ...(rule.authority !== undefined ? { authority: rule.authority } : {}),
    strength: rule.strength,
    exceptions: [...rule.exceptions],
    appliesWhen: [...rule.appliesWhen],
    source: {
      quote: rule.source.quote,
      start: rule.source.start,
      end: rule.source.end,
      located: rule.source.located,
    },
    status: rule.status,
    origin: rule.origin,
    createdAt: rule.createdAt,
    updatedAt: rule.updatedAt,
  };
}

/**
 * Serialises rules as a rules file (pretty-printed JSON, fixed key order, trailing newline).
 * Pass `exportedAt` (e.g. `new Date().toISOString()`) to stamp it; without it the output depends
 * on the rules alone.
 */
export function serializeRulesFile(
  rules: readonly (Rule | RuleFileEntry)[],
  meta: { spec?: RulesFileSpec; exportedAt?: string } = {},
): string {
  const file: RulesFile = {
    format: RULES_FILE_FORMAT,
    version: RULES_FILE_VERSION,
    ...(meta.spec ? { spec: meta.spec } : {}),
    ...(meta.exportedAt ? { exportedAt: meta.exportedAt } : {}),
    rules: rules.map(toEntry),
  };
  return JSON.stringify(file, null, 2) + '\n';
}

/**
 * Reads a rules file.
 *
 * @param text the file's text.
 * @param fileName shown in error messages.
 * @throws InvalidFileError for anything that is not a valid rules file of a known version.
 */
export function parseRulesFile(text: string, fileName = 'The rules file'): RulesFile {
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    if (!text.trim())
      throw new InvalidFileError(`${quoteName(fileName)} is empty: it holds no rules.`);
    const truncated = describeTruncation(text);
    throw new InvalidFileError(
      truncated
        ? `${quoteName(fileName)} is not a complete rules file. ${truncated}. Export the rules again from SpecAlign.`
        : `${quoteName(fileName)} is not valid JSON (${(error as Error).message}). Export the rules again from SpecAlign.`,
    );
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new InvalidFileError(
      `${quoteName(fileName)} is not a SpecAlign rules file (expected a JSON object).`,
    );
  }
  const head = data as { format?: unknown; version?: unknown };
  if (head.format !== RULES_FILE_FORMAT) {
    throw new InvalidFileError(
      `${quoteName(fileName)} is not a SpecAlign rules file (its "format" is ${JSON.stringify(head.format ?? null)}, expected "${RULES_FILE_FORMAT}").`,
    );
  }
  if (typeof head.version === 'number' && head.version > RULES_FILE_VERSION) {
    throw new InvalidFileError(
      `${quoteName(fileName)} was written by a newer SpecAlign (rules file version ${head.version}; this app reads up to ${RULES_FILE_VERSION}). Update the app to import it.`,
    );
  }
  const parsed = fileSchema.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .slice(0, 5)
      .map((issue) =>
        issue.code === 'custom'
          ? `${formatPath(issue.path) || 'the file'}: ${issue.message}`
          : describeIssue(issue, data),
      )
      .join('; ');
    const more =
      parsed.error.issues.length > 5 ? ` (and ${parsed.error.issues.length - 5} more)` : '';
    throw new InvalidFileError(`${quoteName(fileName)} has invalid content: ${problems}${more}.`);
  }
  const seen = new Set<string>();
  for (const [i, rule] of parsed.data.rules.entries()) {
    if (seen.has(rule.id))
      throw new InvalidFileError(
        `${quoteName(fileName)} lists rule id "${rule.id}" twice (rules[${i}]).`,
      );
    seen.add(rule.id);
  }
  const file: RulesFile = {
    format: RULES_FILE_FORMAT,
    version: parsed.data.version,
    ...(parsed.data.spec ? { spec: stripUndefined(parsed.data.spec) } : {}),
    ...(parsed.data.exportedAt !== undefined ? { exportedAt: parsed.data.exportedAt } : {}),
    rules: parsed.data.rules.map((r) => toEntry(r as RuleFileEntry)),
  };
  return file;
}

/**
 * Turns imported entries into rules of a project: new ids (so importing twice never collides),
 * `origin: 'import'` and fresh timestamps, everything else as in the file.
 */
export function importRules(
  entries: readonly RuleFileEntry[],
  target: { projectId: string; newId: () => string; now: number; specVersionId?: string },
): Rule[] {
  return entries.map((e) => {
    const id = target.newId();
    return {
      ...toEntry(e),
      id,
      // A rule from a file is new to this project: it starts its own lineage.
      lineageId: id,
      projectId: target.projectId,
      ...(target.specVersionId ? { specVersionId: target.specVersionId } : {}),
      origin: 'import',
      createdAt: target.now,
      updatedAt: target.now,
    };
  });
}

function quoteName(name: string): string {
  return name === 'The rules file' ? name : `"${name}"`;
}

function stripUndefined<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}
