/** A reviewer's changes to preference pairs (status, edited texts). */
import type { PairStatus, PreferencePair } from '$lib/core/records';
import type { SpecAlignDb } from './database';
import { guardStorage } from './errors';

/** Rows per write transaction in bulk updates, so a 100k-pair bulk action never holds one huge transaction. */
const BULK_PAGE = 2000;

/** Sets the status of the pairs with these ids (missing ids are ignored). */
export async function setPairStatus(
  db: SpecAlignDb,
  ids: readonly string[],
  status: PairStatus,
): Promise<void> {
  await guardStorage(async () => {
    for (let i = 0; i < ids.length; i += BULK_PAGE) {
      const page = ids.slice(i, i + BULK_PAGE);
      await db.pairs.bulkUpdate(page.map((key) => ({ key, changes: { status } })));
    }
  });
}

/**
 * Replaces the chosen or rejected text. The model's original text is kept once in
 * `provenance.review.original` so an edit can be traced (and undone by hand).
 */
export async function editPairText(
  db: SpecAlignDb,
  id: string,
  side: 'chosen' | 'rejected',
  text: string,
): Promise<void> {
  await guardStorage(() =>
    db.transaction('rw', db.pairs, async () => {
      const pair = await db.pairs.get(id);
      if (!pair) throw new Error('That pair no longer exists.');
      if (pair[side] === text) return;
      const review = (pair.provenance.review ?? {}) as {
        original?: Partial<Record<'chosen' | 'rejected', string>>;
        editedAt?: number;
      };
      const original = { ...review.original };
      original[side] ??= pair[side];
      const changes: Partial<PreferencePair> = {
        [side]: text,
        provenance: { ...pair.provenance, review: { ...review, original, editedAt: Date.now() } },
      };
      await db.pairs.update(id, changes);
    }),
  );
}
