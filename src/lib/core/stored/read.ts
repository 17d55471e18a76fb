/**
 * Reading stored records through their schemas. IndexedDB holds whatever an older app version, an
 * imported project or a bug wrote, so a record typed `unknown` is parsed, never cast: a record
 * that fails its schema becomes a {@link CorruptRecordError} naming the table, the row and the
 * first failing path, which the caller reports and skips. A corrupt or foreign row never crashes
 * a screen or a run.
 */
import { z } from 'zod';
import { SpecAlignError } from '../errors';

/** A stored record does not have the shape its table promises. */
export class CorruptRecordError extends SpecAlignError {
  constructor(
    /** Table (and field) of the record, e.g. `pairs.provenance`. */
    readonly table: string,
    /** The row's id (or key), when known. */
    readonly id: string,
    /** The first failing path inside the record, e.g. `chosen.safety.overRefusal`. */
    readonly path: string,
    detail: string,
  ) {
    super(
      `Stored record ${table} ${JSON.stringify(id)} is unreadable at ${path || '(root)'}: ${detail}. It was skipped; delete it or re-create it.`,
    );
  }
}

/** A typed value, or why the record could not be read. */
export type ReadResult<T> = { ok: true; value: T } | { ok: false; error: CorruptRecordError };

/** Where a record lives, for the error message. */
export interface RecordRef {
  table: string;
  id: string;
}

/** Parses `raw` with `schema`; a failure names the record and the first failing path. */
export function readRecord<S extends z.ZodType>(
  schema: S,
  raw: unknown,
  ref: RecordRef,
): ReadResult<z.output<S>> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0];
  const path = (issue?.path ?? []).map(String).join('.');
  return {
    ok: false,
    error: new CorruptRecordError(ref.table, ref.id, path, issue?.message ?? 'invalid'),
  };
}

/**
 * Records written before shapes carried a version have no `v`: they are version 1. Stamping it in
 * a preprocess (instead of a Dexie upgrade) keeps old rows readable without rewriting them.
 */
export function versioned<S extends z.ZodType>(schema: S) {
  return z.preprocess(
    (raw) =>
      raw !== null && typeof raw === 'object' && !Array.isArray(raw) && !('v' in raw)
        ? { ...raw, v: 1 }
        : raw,
    schema,
  );
}
