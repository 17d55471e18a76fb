import type { SpecVersion } from '$lib/core/records';
import { getDb } from '$lib/db/database';
import { specVersionsOf } from '$lib/db/queries';
import { LiveQuery } from './live.svelte';

/**
 * A project's spec versions, read live, and the one a screen works on: the user's choice, else
 * the latest. Shared by every screen that works per version.
 */
export class SpecVersions {
  #query: LiveQuery<SpecVersion[], string>;
  #chosenId = $state<string | undefined>();

  constructor(projectId: () => string) {
    const db = getDb();
    this.#query = new LiveQuery(projectId, (id) => specVersionsOf(db, id), [] as SpecVersion[]);
  }

  /** Oldest first. */
  get all(): SpecVersion[] {
    return this.#query.current;
  }

  get loading(): boolean {
    return this.#query.loading;
  }

  get current(): SpecVersion | undefined {
    return this.all.find((v) => v.id === this.#chosenId) ?? this.all.at(-1);
  }

  choose(id: string | undefined): void {
    this.#chosenId = id;
  }
}
