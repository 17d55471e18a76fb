import { liveQuery } from 'dexie';

/**
 * A Dexie liveQuery as rune state. `deps` is read reactively (props, route); the query re-runs
 * when they change and whenever any writer — including the worker — changes the tables it read.
 */
export class LiveQuery<T, D = void> {
  #value = $state.raw<T>() as T;
  #error = $state<unknown>(undefined);
  #loading = $state(true);

  constructor(deps: () => D, query: (deps: D) => Promise<T> | T, initial: T) {
    this.#value = initial;
    $effect(() => {
      const d = deps();
      this.#loading = true;
      const sub = liveQuery(() => query(d)).subscribe({
        next: (v) => {
          this.#value = v;
          this.#error = undefined;
          this.#loading = false;
        },
        error: (e: unknown) => {
          this.#error = e;
          this.#loading = false;
        },
      });
      return () => sub.unsubscribe();
    });
  }

  get current(): T {
    return this.#value;
  }

  get error(): unknown {
    return this.#error;
  }

  get loading(): boolean {
    return this.#loading;
  }
}
