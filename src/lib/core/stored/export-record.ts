/**
 * The record of a past dataset export (issue 11 §4): what it contained, so the next export's card
 * can carry a changelog and a *delta* export can give just what changed since it. One row per
 * full export (JSONL or HF dataset) in the `exports` table (schema v4).
 */
import { z } from 'zod';
import { versioned } from './read';

/** A rule as an export saw it: enough to tell added, reworded and retired rules apart later. */
export const exportedRuleV1 = z.object({
  lineageId: z.string(),
  ruleId: z.string(),
  statement: z.string(),
});

/** Version 1 of an export record (pinned in the schema test). */
export const exportRecordV1 = z.object({
  v: z.literal(1),
  id: z.string(),
  projectId: z.string(),
  createdAt: z.number(),
  kind: z.enum(['pairs', 'hf']),
  fileName: z.string(),
  format: z.string(),
  /** The spec version the export reflects (the project's latest when it was made). */
  specVersionId: z.string().optional(),
  specVersionNumber: z.number().optional(),
  /**
   * The pairs the export selected (status, stale and markup filters), in creation order. Pairs a
   * training mix or a row-level check then left out of the files are still listed: the record is
   * of the selection, which is what a later selection is compared with.
   */
  pairIds: z.array(z.string()),
  /** The accepted rules of that spec version. */
  rules: z.array(exportedRuleV1),
  /** Whether stale pairs were included. */
  staleIncluded: z.boolean(),
});
export const exportRecordSchema = versioned(exportRecordV1);

export type ExportedRule = z.infer<typeof exportedRuleV1>;
export type ExportRecord = z.infer<typeof exportRecordV1>;
