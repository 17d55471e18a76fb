export type ThemeChoice = 'system' | 'light' | 'dark';
const KEY = 'specalign:theme';

/** Light/dark theme, following the system unless the user picks one; kept in localStorage. */
class Theme {
  #choice = $state<ThemeChoice>('system');

  constructor() {
    const saved = localStorage.getItem(KEY);
    if (saved === 'light' || saved === 'dark' || saved === 'system') this.#choice = saved;
    this.#apply();
  }

  get choice(): ThemeChoice {
    return this.#choice;
  }

  set choice(value: ThemeChoice) {
    this.#choice = value;
    localStorage.setItem(KEY, value);
    this.#apply();
  }

  #apply(): void {
    if (this.#choice === 'system') delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = this.#choice;
  }
}

export const theme = new Theme();
