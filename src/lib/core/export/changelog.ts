/**
 * Dataset versions (issue 11 §4): what changed between two exports of a project. Rules are
 * compared by lineage (the same rule across spec versions), pairs by id. Pure arithmetic over the
 * records the worker keeps (core/stored/export-record.ts).
 */
import type { ExportedRule } from '../stored/export-record';

/** What an export contained, as far as a changelog needs. */
export interface ExportContents {
  pairIds: readonly string[];
  rules: readonly ExportedRule[];
}

/** The earlier export a changelog or delta is relative to. */
export interface ExportRef {
  id: string;
  fileName: string;
  createdAt: number;
  specVersionNumber?: number;
}

export interface PairDelta {
  /** In the current selection, not in the earlier one (current order). */
  added: string[];
  /** In the earlier selection, not in the current one (earlier order). */
  retired: string[];
}

export interface ExportChangelog {
  /** Undefined for a project's first export: everything is new. */
  since?: ExportRef;
  /** Lineage ids, sorted. */
  rules: { added: string[]; changed: string[]; retired: string[] };
  pairs: { added: number; retired: number };
}

/** Pairs added and retired between two selections. */
export function pairDelta(previous: readonly string[], current: readonly string[]): PairDelta {
  const before = new Set(previous);
  const now = new Set(current);
  return {
    added: current.filter((id) => !before.has(id)),
    retired: previous.filter((id) => !now.has(id)),
  };
}

/** Whitespace-insensitive: re-wrapping a statement is not a change. */
const normalize = (text: string) => text.replace(/\s+/g, ' ').trim();

/**
 * The changelog of `current` versus `previous` (absent: the first export, so every rule and pair
 * is added). A rule is changed when its lineage is in both and its statement differs.
 */
export function exportChangelog(
  previous: (ExportContents & ExportRef) | undefined,
  current: ExportContents,
): ExportChangelog {
  const before = new Map((previous?.rules ?? []).map((r) => [r.lineageId, r]));
  const now = new Map(current.rules.map((r) => [r.lineageId, r]));
  const sorted = (ids: Iterable<string>) => [...new Set(ids)].sort();
  const added = sorted([...now.keys()].filter((l) => !before.has(l)));
  const retired = sorted([...before.keys()].filter((l) => !now.has(l)));
  const changed = sorted(
    [...now].flatMap(([l, rule]) => {
      const old = before.get(l);
      return old && normalize(old.statement) !== normalize(rule.statement) ? [l] : [];
    }),
  );
  const delta = pairDelta(previous?.pairIds ?? [], current.pairIds);
  return {
    ...(previous
      ? {
          since: {
            id: previous.id,
            fileName: previous.fileName,
            createdAt: previous.createdAt,
            ...(previous.specVersionNumber !== undefined
              ? { specVersionNumber: previous.specVersionNumber }
              : {}),
          },
        }
      : {}),
    rules: { added, changed, retired },
    pairs: { added: delta.added.length, retired: delta.retired.length },
  };
}

/** The card's "Changelog" section (Markdown lines). */
export function changelogLines(changelog: ExportChangelog): string[] {
  const n = (count: number, one: string) => `${count} ${one}${count === 1 ? '' : 's'}`;
  const since = changelog.since;
  const lines = ['## Changelog', ''];
  if (!since) {
    lines.push('First export of this project: every rule and pair is new.', '');
  } else {
    const version =
      since.specVersionNumber !== undefined ? ` (spec version ${since.specVersionNumber})` : '';
    lines.push(
      `Since the previous export, \`${since.fileName}\` of ${new Date(since.createdAt).toISOString().slice(0, 10)}${version}:`,
      '',
    );
  }
  const { rules, pairs } = changelog;
  lines.push(
    `- Rules: ${rules.added.length} added, ${rules.changed.length} changed, ${rules.retired.length} retired.`,
    `- Pairs: ${n(pairs.added, 'pair')} added, ${n(pairs.retired, 'pair')} retired.`,
    '',
  );
  return lines;
}
