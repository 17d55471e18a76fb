/**
 * A reviewer's decisions on pairs. Bulk actions change only undecided (pending) pairs unless the
 * reviewer includes decided ones, because a hand decision is worth more than a bulk default (a
 * rejected pair once reached the training files through "Accept all shown"). Each bulk action
 * keeps the previous statuses of the pairs it changed, so it can be undone.
 */
import type { PairStatus } from '$lib/core/records';
import type { SpecAlignDb } from '$lib/db/database';
import { setPairStatus } from '$lib/db/pairs';
import { guardStorage } from '$lib/db/errors';

/** Rows per read/write transaction, so a 100k-pair bulk action never holds one huge transaction. */
const BULK_PAGE = 2000;

export interface BulkDecision {
  /** The pairs among those shown that the action considers. */
  ids: readonly string[];
  status: PairStatus;
  /** Also overwrite accepted, rejected and flagged pairs (default: only pending ones change). */
  includeDecided?: boolean;
}

export interface BulkDecisionResult {
  /** Undoes the action with `undoBulkDecision`; absent when nothing changed. */
  batchId?: string;
  changed: number;
}

/** The pairs a bulk decision would change, with their current status. */
async function plannedChanges(
  db: SpecAlignDb,
  { ids, status, includeDecided = false }: BulkDecision,
): Promise<[string, PairStatus][]> {
  const changes: [string, PairStatus][] = [];
  for (let i = 0; i < ids.length; i += BULK_PAGE) {
    const rows = await db.pairs.bulkGet(ids.slice(i, i + BULK_PAGE));
    for (const pair of rows) {
      if (!pair || pair.status === status) continue;
      if (!includeDecided && pair.status !== 'pending') continue;
      changes.push([pair.id, pair.status]);
    }
  }
  return changes;
}

/** How many pairs a bulk decision would change (shown on the button before it runs). */
export async function countBulkDecision(db: SpecAlignDb, decision: BulkDecision): Promise<number> {
  return (await plannedChanges(db, decision)).length;
}

interface Batch {
  status: PairStatus;
  previous: [string, PairStatus][];
}

/**
 * Applies bulk decisions and remembers them for undo. Batches live in the worker's memory: undo
 * is offered right after the action, within the page session.
 */
export class ReviewDecisions {
  #batches = new Map<string, Batch>();

  constructor(private readonly db: SpecAlignDb) {}

  async decide(decision: BulkDecision): Promise<BulkDecisionResult> {
    const previous = await plannedChanges(this.db, decision);
    if (previous.length === 0) return { changed: 0 };
    await setPairStatus(
      this.db,
      previous.map(([id]) => id),
      decision.status,
    );
    const batchId = crypto.randomUUID();
    this.#batches.set(batchId, { status: decision.status, previous });
    return { batchId, changed: previous.length };
  }

  /**
   * Restores each pair of the batch to its status before the action; a pair decided again by
   * hand since (its status is no longer the batch's) keeps that newer decision. Returns how many
   * pairs were restored.
   */
  /** A pair a bulk action changed (to tell which project its undo touches). */
  firstPairOf(batchId: string): string | undefined {
    return this.#batches.get(batchId)?.previous[0]?.[0];
  }

  async undo(batchId: string): Promise<number> {
    const batch = this.#batches.get(batchId);
    if (!batch)
      throw new Error('That bulk action can no longer be undone (the page was reloaded).');
    this.#batches.delete(batchId);
    let restored = 0;
    await guardStorage(async () => {
      for (let i = 0; i < batch.previous.length; i += BULK_PAGE) {
        const page = batch.previous.slice(i, i + BULK_PAGE);
        await this.db.transaction('rw', this.db.pairs, async () => {
          const rows = await this.db.pairs.bulkGet(page.map(([id]) => id));
          const updates = page
            .filter((_, k) => rows[k]?.status === batch.status)
            .map(([key, status]) => ({ key, changes: { status } }));
          await this.db.pairs.bulkUpdate(updates);
          restored += updates.length;
        });
      }
    });
    return restored;
  }
}
