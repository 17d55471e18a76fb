/**
 * The IndexedDB schema, append-only.
 *
 * WARNING: table names, primary keys and indexes are persisted in every user's browser.
 * Never edit a published version: add a new entry to SCHEMA_VERSIONS (with an upgrade function
 * when data must move) and a test in tests/unit/db/ that upgrades real v(N-1) data.
 * tests/unit/db/schema.test.ts fails on any unplanned change to the latest stores.
 */
import type { Transaction } from 'dexie';
import { upgradeToLineage } from './lineage-upgrade';

export const DB_NAME = 'specalign-studio';

/** Table names, in one place: renaming one needs a migration. */
export const TABLES = {
  projects: 'projects',
  specVersions: 'specVersions',
  sections: 'sections',
  specExamples: 'specExamples',
  rules: 'rules',
  instances: 'instances',
  runs: 'runs',
  tasks: 'tasks',
  pairs: 'pairs',
  evaluations: 'evaluations',
  settings: 'settings',
  exports: 'exports',
} as const;

export type TableName = keyof typeof TABLES;

export interface SchemaVersion {
  version: number;
  stores: Record<string, string | null>;
  upgrade?: (tx: Transaction) => Promise<void> | void;
}

export const SCHEMA_VERSIONS: readonly SchemaVersion[] = [
  {
    version: 1,
    stores: {
      projects: 'id, updatedAt',
      specVersions: 'id, projectId, [projectId+versionNumber], contentHash',
      sections: 'id, specVersionId, projectId, [specVersionId+order]',
      specExamples: 'id, specVersionId, projectId, [specVersionId+sectionAnchor]',
      rules:
        'id, projectId, specVersionId, runId, [projectId+status], [specVersionId+sectionAnchor]',
      instances: 'id, projectId, specVersionId',
      runs: 'id, projectId, [projectId+kind], status',
      tasks: 'id, runId, projectId, [runId+status], [runId+order], [runId+key]',
      pairs: 'id, projectId, runId, instanceId, [projectId+status], [projectId+createdAt]',
      evaluations: 'id, projectId, runId',
      settings: 'key',
    },
  },
  {
    // The dashboard's rule × case-type coverage from keys alone (issue 10 §5): which pairs
    // target a rule (multiEntry over `ruleIds`) and which have a case type. Index-only: no row
    // changes, so no upgrade function; IndexedDB builds both over existing rows.
    version: 2,
    stores: {
      pairs:
        'id, projectId, runId, instanceId, [projectId+status], [projectId+createdAt], [projectId+caseType], *ruleIds',
    },
  },
  {
    // Rule lineage (issue 11 §1): a rule keeps a lineage id across spec versions, and the rows
    // that cite rules cite their lineages too. Indexes answer "every version of this rule"
    // (`[projectId+lineageId]`) and "every pair of this lineage" (multiEntry `*lineageIds`).
    version: 3,
    stores: {
      rules:
        'id, projectId, specVersionId, runId, [projectId+status], [specVersionId+sectionAnchor], [projectId+lineageId]',
      pairs:
        'id, projectId, runId, instanceId, [projectId+status], [projectId+createdAt], [projectId+caseType], *ruleIds, *lineageIds',
    },
    upgrade: upgradeToLineage,
  },
  {
    // Dataset versions (issue 11 §4): one record per full export (core/stored/export-record.ts),
    // so the next export's card carries a changelog and a delta export knows what changed. A new
    // table: existing rows don't change, so no upgrade function.
    version: 4,
    stores: {
      exports: 'id, projectId, [projectId+createdAt]',
    },
  },
];

/** Tables whose rows belong to a project (have `projectId`): exported, imported and deleted with it. */
export const PROJECT_TABLES = [
  'specVersions',
  'sections',
  'specExamples',
  'rules',
  'instances',
  'runs',
  'tasks',
  'pairs',
  'evaluations',
  'exports',
] as const satisfies readonly TableName[];
