/**
 * The Review screen's state: filters, the filtered ids (a snapshot, computed in the worker) and
 * the cursor. Only ids live here; the rows shown are fetched by the list and the pair view, so a
 * 100,000-pair project costs a few MB of ids, not its full text.
 */
import { isAbortError } from '$lib/core/errors';
import type { CaseType, PairStatus, RuleStage } from '$lib/core/records';
import type {
  DefenderFilter,
  OriginFilter,
  QualityFilter,
  VerdictFilter,
} from '$lib/core/review/facets';
import { notices } from '$lib/state/notices.svelte';
import { pipeline } from '$lib/worker/client';
import type { ReviewFilter } from '$lib/worker/pairs-service';

/** The quality-score choices offered on the Review screen (scores are 1–5; see `qualityScore`). */
export const QUALITY_RANGES = {
  top: { label: '5 (best)', filter: { min: 5 } },
  good: { label: '4 or more', filter: { min: 4 } },
  fair: { label: '3 or more', filter: { min: 3 } },
  low: { label: '3 or less', filter: { max: 3 } },
  poor: { label: '2 or less', filter: { max: 2 } },
  unscored: { label: 'Not scored', filter: 'unscored' },
} as const satisfies Record<string, { label: string; filter: QualityFilter }>;

export type QualityRange = keyof typeof QUALITY_RANGES;

/** The last bulk action, while it can still be undone. */
export interface LastBulkAction {
  batchId: string;
  status: PairStatus;
  changed: number;
}

export const BULK_VERB: Record<PairStatus, string> = {
  accepted: 'Accepted',
  rejected: 'Rejected',
  flagged: 'Flagged',
  pending: 'Reset',
};

export class ReviewState {
  status = $state<PairStatus | 'all'>('all');
  caseType = $state<CaseType | 'all'>('all');
  ruleId = $state('');
  instanceId = $state('');
  family = $state('');
  stage = $state<RuleStage | ''>('');
  verdict = $state<VerdictFilter | ''>('');
  /** Where the pair's sides came from (ORIGIN_FILTERS), or '' for any. */
  origin = $state<OriginFilter | ''>('');
  /** Who defended (DEFENDER_FILTERS), or '' for any. */
  defender = $state<DefenderFilter | ''>('');
  /** A key of QUALITY_RANGES, or '' for any score. */
  quality = $state<QualityRange | ''>('');
  text = $state('');
  /** Only pairs whose chosen reply carries markup. */
  markup = $state(false);
  /** Stale pairs only (a spec update changed or retired their rule), current ones only, or all. */
  currency = $state<'stale' | 'current' | ''>('');
  /** Bulk actions change only pending pairs unless the reviewer ticks this. */
  includeDecided = $state(false);

  #lastBulk = $state<LastBulkAction | undefined>();
  #ids = $state.raw<string[]>([]);
  #unreadable = $state(0);
  #index = $state(0);
  #loading = $state(true);
  #query = 0;

  constructor(readonly projectId: string) {}

  get ids(): string[] {
    return this.#ids;
  }
  /** Pairs the verdict or quality filter left out: their judging record is unreadable. */
  get unreadable(): number {
    return this.#unreadable;
  }
  get index(): number {
    return this.#index;
  }
  get loading(): boolean {
    return this.#loading;
  }
  get currentId(): string | undefined {
    return this.#ids[this.#index];
  }
  get lastBulk(): LastBulkAction | undefined {
    return this.#lastBulk;
  }

  get filter(): ReviewFilter {
    return {
      ...(this.status !== 'all' ? { statuses: [this.status] } : {}),
      ...(this.caseType !== 'all' ? { caseTypes: [this.caseType] } : {}),
      ...(this.ruleId ? { ruleId: this.ruleId } : {}),
      ...(this.instanceId ? { instanceId: this.instanceId } : {}),
      ...(this.family ? { family: this.family } : {}),
      ...(this.stage ? { stage: this.stage } : {}),
      ...(this.verdict ? { verdict: this.verdict } : {}),
      ...(this.origin ? { origin: this.origin } : {}),
      ...(this.defender ? { defender: this.defender } : {}),
      ...(this.quality ? { quality: QUALITY_RANGES[this.quality].filter } : {}),
      ...(this.text.trim() ? { text: this.text.trim() } : {}),
      ...(this.markup ? { markup: true } : {}),
      ...(this.currency ? { currency: this.currency } : {}),
      queryKey: `review:${this.projectId}`,
    };
  }

  /**
   * Re-runs the filters in the worker. The list is a snapshot: accepting a pair while showing
   * "pending" keeps it in place (so j/k stay predictable) until the next refresh.
   */
  async refresh(filter: ReviewFilter = this.filter): Promise<void> {
    const query = ++this.#query;
    const keep = this.currentId;
    this.#loading = true;
    try {
      const { ids, unreadable } = await pipeline().findPairs(this.projectId, filter);
      if (query !== this.#query) return; // a newer filter won
      this.#ids = ids;
      this.#unreadable = unreadable;
      const at = keep ? ids.indexOf(keep) : -1;
      this.#index = at >= 0 ? at : Math.min(this.#index, Math.max(0, ids.length - 1));
    } catch (error) {
      // A newer filter superseded this scan in the worker: its result no longer matters.
      if (query === this.#query && !isAbortError(error)) notices.error(error);
    } finally {
      if (query === this.#query) this.#loading = false;
    }
  }

  select(index: number): void {
    if (this.#ids.length === 0) return;
    this.#index = Math.max(0, Math.min(this.#ids.length - 1, index));
  }

  move(delta: number): void {
    this.select(this.#index + delta);
  }

  /** Sets the current pair's status and moves on, the way a reviewer works through a queue. */
  async decide(status: PairStatus): Promise<void> {
    const id = this.currentId;
    if (!id) return;
    try {
      await pipeline().setPairStatus([id], status);
      this.move(1);
    } catch (error) {
      notices.error(error);
    }
  }

  /** How many of the shown pairs `decideAll(status)` would change; undefined if it cannot tell. */
  async countBulk(status: PairStatus): Promise<number | undefined> {
    try {
      return await pipeline().countBulkDecision(this.#bulk(status));
    } catch (error) {
      notices.error(error);
      return undefined;
    }
  }

  /**
   * Sets the status of the pairs the filters show: the pending ones, or every one when
   * `includeDecided` is ticked. The action can be undone until the next one.
   */
  async decideAll(status: PairStatus): Promise<void> {
    try {
      const { batchId, changed } = await pipeline().decidePairs(this.#bulk(status));
      this.#lastBulk = batchId ? { batchId, status, changed } : undefined;
      notices.info(`${BULK_VERB[status]} ${changed.toLocaleString('en')} pairs.`);
    } catch (error) {
      notices.error(error);
    }
  }

  /** Restores the statuses the last bulk action replaced. */
  async undoBulk(): Promise<void> {
    const last = this.#lastBulk;
    if (!last) return;
    this.#lastBulk = undefined;
    try {
      const restored = await pipeline().undoBulkDecision(last.batchId);
      notices.info(
        `Undone: ${restored.toLocaleString('en')} pairs have their previous status again.`,
      );
    } catch (error) {
      notices.error(error);
    }
  }

  #bulk(status: PairStatus) {
    return { ids: this.#ids, status, includeDecided: this.includeDecided };
  }

  async edit(id: string, side: 'chosen' | 'rejected', text: string): Promise<boolean> {
    try {
      await pipeline().editPairText(id, side, text);
      return true;
    } catch (error) {
      notices.error(error);
      return false;
    }
  }
}
