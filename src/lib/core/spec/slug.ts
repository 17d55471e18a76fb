/** Anchor slugs: readable, Unicode-aware, deterministic. */

/**
 * Lowercase slug of a heading title: letters and digits of any script kept, everything else
 * collapsed to `-` (`"Don't lie!"` → `"don-t-lie"`, `"Übersicht"` → `"übersicht"`).
 * Returns `fallback` when nothing is left.
 */
export function slugify(title: string, fallback = 'section'): string {
  const slug = title
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80)
    .replace(/-+$/, '');
  return slug || fallback;
}

/**
 * Hands out unique anchors: the first use of a base keeps it, later ones get `-2`, `-3`… in
 * document order, so re-parsing the same text always yields the same anchors. Anchors the spec
 * declares itself can be reserved up front so that no generated slug takes one of them.
 */
export class AnchorRegistry {
  readonly #used = new Set<string>();
  readonly #reserved = new Set<string>();

  /** Keeps these anchors for {@link claim} calls with `declared = true`. */
  reserve(anchors: Iterable<string>): void {
    for (const a of anchors) this.#reserved.add(a);
  }

  /**
   * Returns `base`, or `base-N` with the smallest N ≥ 2 that is free. A reserved anchor is free
   * only for a declared claim of exactly that anchor.
   */
  claim(base: string, declared = false): string {
    const taken = (a: string): boolean =>
      this.#used.has(a) || (this.#reserved.has(a) && !(declared && a === base));
    let anchor = base;
    for (let n = 2; taken(anchor); n++) anchor = `${base}-${n}`;
    this.#used.add(anchor);
    return anchor;
  }
}
