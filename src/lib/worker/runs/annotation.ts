/**
 * Rule annotation as a resumable run (METHOD.md §1): one task per chunk of the spec (keyed by
 * the chunk's stable key, so a resumed run skips finished chunks), then one `finalize` task that
 * merges duplicates across chunks and clusters families.
 */
import type { ChatEngine } from '$lib/core/llm';
import type { Rule, Run, Section, Task } from '$lib/core/records';
import {
  annotateChunk,
  DEFAULT_ANSWER_TOKENS,
  type AnnotationFinding,
} from '$lib/core/rules/annotate';
import { chunkSections, type Chunk } from '$lib/core/rules/chunking';
import { applyFamilies, clusterFamilies, dedupeRules } from '$lib/core/rules/dedupe';
import { annotationPromptOverhead } from '$lib/core/rules/prompt';
import { matchExistingRules } from '$lib/core/rules/reannotate';
import { MAX_RULES_PER_REPLY } from '$lib/core/rules/schema';
import type { SpecAlignDb } from '$lib/db/database';
import { guardStorage } from '$lib/db/errors';
import type { RunHandler } from './types';

export const FINALIZE_KEY = 'finalize';

/**
 * Chunks stay small even for large context windows: a reply holds at most 12 rules, and small
 * models extract rules more completely from a few paragraphs than from pages.
 */
export const MAX_CHUNK_TOKENS = 1200;

/**
 * Density cap: most normative sentences per chunk. A normative sentence yields about one rule, some
 * two (a duty and its exception), so 8 keeps the expected rules of a chunk under the
 * {@link MAX_RULES_PER_REPLY} one reply holds; a dense spec (27 duties on a page) is then split
 * instead of losing the duties past the twelfth.
 */
export const MAX_NORMATIVE_PER_CHUNK = Math.floor((MAX_RULES_PER_REPLY * 2) / 3);

export interface AnnotationRunConfig {
  specVersionId: string;
  engineId: string;
  contextWindow: number;
  answerTokens: number;
  /** Only these sections were chunked (an update re-annotates the changed and added ones). */
  sectionAnchors?: string[];
  /**
   * Set on an *Update from vN* run (issue 11 §2): proposals stay in the run's task states, and
   * reach the rules table only when the reviewer confirms the update plan.
   */
  update?: { fromVersionId: string };
}

/** What an update run's chunk and finalize tasks keep instead of writing rules. */
export interface UpdateTaskState {
  proposals: Rule[];
}

export interface AnnotationScope {
  sectionAnchors: readonly string[];
  update: { fromVersionId: string };
}

interface ChunkTaskState {
  chunk: Chunk;
}

export async function versionSections(db: SpecAlignDb, specVersionId: string): Promise<Section[]> {
  return db.sections
    .where('[specVersionId+order]')
    .between([specVersionId, -Infinity], [specVersionId, Infinity])
    .toArray();
}

/** Plans the run: chunks sized for the annotator's context window, one task each. */
export async function createAnnotationRun(
  db: SpecAlignDb,
  projectId: string,
  specVersionId: string,
  engine: ChatEngine,
  scope?: AnnotationScope,
): Promise<{ run: Run; chunks: number; allChunks: number }> {
  const version = await db.specVersions.get(specVersionId);
  if (!version) throw new Error('That spec version no longer exists.');
  const sections = await versionSections(db, specVersionId);
  const answerTokens = Math.min(DEFAULT_ANSWER_TOKENS, Math.floor(engine.contextWindow / 4));
  const chunk = (of: Section[]) =>
    chunkSections(of, version.text, {
      contextWindow: engine.contextWindow,
      promptOverheadTokens: annotationPromptOverhead(),
      answerTokens,
      maxChunkTokens: MAX_CHUNK_TOKENS,
      maxNormativeSentences: MAX_NORMATIVE_PER_CHUNK,
      excludeSpans: version.metaSpans ?? [],
    });
  const wanted = scope && new Set(scope.sectionAnchors);
  const chunks = chunk(wanted ? sections.filter((s) => wanted.has(s.anchor)) : sections);
  // What a full run would cost, for the update's "x of y chunks" (cheap: no model call).
  const allChunks = wanted ? chunk(sections).length : chunks.length;
  const now = Date.now();
  const config: AnnotationRunConfig = {
    specVersionId,
    engineId: engine.id,
    contextWindow: engine.contextWindow,
    answerTokens,
    ...(scope ? { sectionAnchors: [...scope.sectionAnchors], update: { ...scope.update } } : {}),
  };
  const run: Run = {
    id: crypto.randomUUID(),
    projectId,
    kind: 'annotate',
    status: 'queued',
    config,
    createdAt: now,
    updatedAt: now,
    progress: { done: 0, failed: 0, total: chunks.length + 1 },
    usage: { promptTokens: 0, completionTokens: 0 },
  };
  const task = (key: string, order: number, state?: ChunkTaskState): Task => ({
    id: `${run.id}:${order}`,
    runId: run.id,
    projectId,
    key,
    order,
    status: 'pending',
    attempts: 0,
    updatedAt: now,
    ...(state ? { state } : {}),
  });
  const tasks = [
    ...chunks.map((chunk, i) => task(chunk.key, i, { chunk })),
    task(FINALIZE_KEY, chunks.length),
  ];
  await guardStorage(() =>
    db.transaction('rw', [db.runs, db.tasks], async () => {
      await db.runs.add(run);
      await db.tasks.bulkAdd(tasks);
    }),
  );
  return { run, chunks: chunks.length, allChunks };
}

function notesFor(findings: AnnotationFinding[], index: number): string[] {
  return findings.filter((f) => f.rule === index).map((f) => f.message);
}

export function annotationHandler(run: Run): RunHandler {
  const config = run.config as AnnotationRunConfig;
  return {
    kind: 'annotate',
    // Chunks share nothing and may overlap; the merge needs every chunk's rules.
    isBarrier: (task) => task.key === FINALIZE_KEY,
    describe(task) {
      if (task.key === FINALIZE_KEY) return 'Merging duplicates and grouping families';
      const chunk = (task.state as ChunkTaskState | undefined)?.chunk;
      return chunk ? `Chunk ${chunk.index + 1}: ${chunk.headingPath.join(' › ')}` : task.key;
    },
    async step(task, { db, signal, engineFor }) {
      if (task.key === FINALIZE_KEY)
        return config.update ? finalizeUpdate(db, run) : finalize(db, run);
      const { chunk } = task.state as ChunkTaskState;
      const [engine, version] = await Promise.all([
        engineFor('annotator'),
        db.specVersions.get(config.specVersionId),
      ]);
      const started = Date.now();
      const result = await annotateChunk(
        engine,
        chunk,
        {
          specVersionId: config.specVersionId,
          excludeSpans: version?.metaSpans ?? [],
          ...(version ? { specTitle: version.title } : {}),
          contextWindow: engine.contextWindow,
          answerTokens: config.answerTokens,
          seed: chunk.index + 1,
        },
        { signal },
      );
      const engineMs = Date.now() - started;
      const now = Date.now();
      const proposed: Rule[] = result.rules.map((draft, i) => {
        const notes = notesFor(result.findings, i);
        return {
          ...draft,
          // Deterministic ids: re-running a step can never add a second copy.
          id: `${run.id}:${chunk.key}:${i}`,
          lineageId: `${run.id}:${chunk.key}:${i}`, // a new rule starts its own lineage
          projectId: run.projectId,
          runId: run.id,
          createdAt: now,
          updatedAt: now,
          ...(notes.length ? { notes } : {}),
        };
      });
      if (config.update) {
        // An update keeps its proposals until the reviewer confirms the plan (nothing applied).
        return {
          done: true,
          step: 'annotated',
          state: { chunk, proposals: proposed } satisfies ChunkTaskState & UpdateTaskState,
          usage: result.usage,
          engineMs,
        };
      }
      // Re-annotation: a proposal restating a rule the version already has is never written, so
      // the list shows no passing copies (finalize repeats the check over the whole run).
      const existing = (
        await db.rules.where('specVersionId').equals(config.specVersionId).toArray()
      ).filter((r) => r.runId !== run.id);
      const { added } = matchExistingRules(existing, proposed);
      const rules = added.map((i) => proposed[i] as Rule);
      return {
        done: true,
        step: 'annotated',
        state: {
          chunk,
          rules: rules.length,
          reproposed: proposed.length - rules.length,
          dropped: result.findings.filter((f) => f.rule < 0).length,
        },
        usage: result.usage,
        engineMs,
        tables: ['rules'],
        write: async (d) => {
          await d.rules.bulkPut(rules);
        },
      };
    },
  };
}

/**
 * Merges near-duplicate proposals of this run, then drops those that restate a rule the version
 * already has (re-annotation: the existing rule keeps its review status and edits; see
 * core/rules/reannotate.ts), and assigns families over every rule of the spec version, so
 * families stay consistent.
 */
async function finalize(db: SpecAlignDb, run: Run) {
  const config = run.config as AnnotationRunConfig;
  const all = await db.rules.where('specVersionId').equals(config.specVersionId).toArray();
  const mine = all.filter((r) => r.runId === run.id && r.status !== 'rejected');
  const others = all.filter((r) => r.runId !== run.id);
  const { rules: deduped, merges } = dedupeRules(mine);
  const mergedIds = merges.flatMap((m) => m.merged.map((i) => mine[i]?.id ?? ''));
  const { matches, added } = matchExistingRules(others, deduped);
  const kept = added.map((i) => deduped[i] as Rule);
  mergedIds.push(...matches.map((m) => deduped[m.proposed]?.id ?? ''));
  const survivors = [...others, ...kept];
  const families = clusterFamilies(survivors);
  const updated = applyFamilies(survivors, families).filter(
    (r, i) => r.family !== survivors[i]?.family || r.runId === run.id,
  );
  return {
    done: true,
    step: 'finalized',
    state: {
      merged: mergedIds.length - matches.length,
      reproposed: matches.length,
      added: kept.length,
      families: families.families.length,
    },
    tables: ['rules'],
    write: async (d: SpecAlignDb) => {
      await d.rules.bulkDelete(mergedIds);
      await d.rules.bulkPut(updated.map((r) => ({ ...r, updatedAt: Date.now() })));
    },
  };
}

/** An update run's proposals, near-duplicates across chunks merged (as {@link finalize} does). */
async function finalizeUpdate(db: SpecAlignDb, run: Run) {
  const tasks = await db.tasks.where('runId').equals(run.id).toArray();
  const proposals = tasks
    .filter((t) => t.key !== FINALIZE_KEY && t.status === 'done')
    .sort((a, b) => a.order - b.order)
    .flatMap((t) => (t.state as Partial<UpdateTaskState> | undefined)?.proposals ?? []);
  const { rules } = dedupeRules(proposals.filter((r) => r.status !== 'rejected'));
  return {
    done: true,
    step: 'finalized',
    state: { proposals: rules } satisfies UpdateTaskState,
  };
}
