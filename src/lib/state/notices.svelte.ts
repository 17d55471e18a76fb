import { errorMessage } from '$lib/core/errors';

export interface Notice {
  id: number;
  kind: 'error' | 'info';
  text: string;
}

/** App-wide messages (errors the user must see, short confirmations). */
class Notices {
  #items = $state<Notice[]>([]);
  #next = 1;

  get items(): Notice[] {
    return this.#items;
  }

  info(text: string): void {
    this.#push('info', text);
  }

  error(error: unknown): void {
    this.#push('error', errorMessage(error));
  }

  dismiss(id: number): void {
    this.#items = this.#items.filter((n) => n.id !== id);
  }

  #push(kind: Notice['kind'], text: string): void {
    const id = this.#next++;
    this.#items = [...this.#items.slice(-4), { id, kind, text }];
    if (kind === 'info') setTimeout(() => this.dismiss(id), 5000);
  }
}

export const notices = new Notices();
