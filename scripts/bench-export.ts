/**
 * Dataset-export measurements for `bench.ts` (`benchExport`), in a process of their own so that
 * memory readings see nothing but the export:
 *
 *   node --expose-gc --import tsx scripts/bench-export.ts <pairs> <jsonl|hf>:<app|stream>...
 *
 * Seeds fake-indexeddb once with `<pairs>` realistic accepted pairs (bulkAdd in chunks), then
 * runs each case: a baseline after a full GC (fake-indexeddb holds every pair in this heap; that
 * is the baseline, not the export), the export, memory readings (see {@link MemoryProbe}). One
 * JSON line ({@link ExportMeasurement}) per case on stdout; progress and errors on stderr, exit
 * code 1 on failure.
 *
 * - `app`: `exportDataset` exactly as the worker calls it; its result is a Blob.
 * - `stream`: the same reading (status index → ids → `pairsByIds` pages) into the same core
 *   exporter, each chunk counted and dropped, as a streaming sink (a file stream) would.
 */
import 'fake-indexeddb/auto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  createExportContext,
  exportHfDataset,
  exportPairs,
  type PairSource,
} from '../src/lib/core/export';
import { mulberry32 } from '../src/lib/core/hash';
import { materializeInstance, sampleInstances } from '../src/lib/core/instances';
import type { CaseType, PreferencePair, Rule, SpecInstance } from '../src/lib/core/records';
import type { JudgementRecord, PairProvenance } from '../src/lib/core/synthesis/loop';
import { serializeRulesFile } from '../src/lib/core/rules/rules-file';
import { openDatabase, type SpecAlignDb } from '../src/lib/db/database';
import { createProject } from '../src/lib/db/projects';
import { exportDataset, type ExportRequest } from '../src/lib/worker/export-service';
import { orderedPairIds, pairsByIds } from '../src/lib/worker/pairs-service';
import { HARBOR_RULES } from '../tests/unit/core/instances/fixtures';

export type ExportKind = 'jsonl' | 'hf';
export type ExportPath = 'app' | 'stream';

/** One export, as the child reports it. Memory figures are bytes above the baseline. */
export interface ExportMeasurement {
  pairs: number;
  kind: ExportKind;
  path: ExportPath;
  /** Seeding time and the stored pairs' JSON size (for scale), shared by a child's cases. */
  seedMs: number;
  storedBytes: number;
  /** Export wall time, GC at checkpoints excluded. */
  exportMs: number;
  outputBytes: number;
  /** After seeding and a full GC; fake-indexeddb's copy of the pairs is in here. */
  baseline: { rss: number; heapUsed: number; external: number; arrayBuffers: number };
  /** Largest live (post-GC) JS + off-heap bytes (see `bytesAbove`) at the checkpoints. */
  peakLive: number;
  /** Live bytes right after `exportDataset` built its Blob (its parts still referenced). */
  atBlob?: number;
  /** Live bytes at each fifth of the pairs read. */
  curve: number[];
  /** Live bytes after the export, result still held (the Blob, for `app`). */
  retained: number;
  /** Raw peaks (garbage included) of the same and of RSS. */
  peakJs: number;
  peakRss: number;
  gcMs: number;
}

// --- fake-indexeddb: index cursors in O(1) per step ------------------------------------------

/** The internals of fake-indexeddb 6's cursor that the patch below touches. */
interface FakeRecord {
  key: unknown;
  value: unknown;
}
interface FakeRecordStore {
  values(range: unknown): Iterable<FakeRecord>;
}
interface FakeCursor {
  direction: IDBCursorDirection;
  source: { _rawIndex?: { records: FakeRecordStore }; objectStore?: IDBObjectStore };
  _range: unknown;
  _iterate(key?: unknown, primaryKey?: unknown): unknown;
}

/**
 * `orderedPairIds` narrows by status with Dexie's `anyOf`, i.e. an index cursor. fake-indexeddb
 * 6.2.8 restarts every `continue()` from the first record of the current key, and here all 100k
 * entries share the key `[projectId, 'accepted']`: O(n²), about 50 s at 10k pairs and hours at
 * 100k, where a browser's IndexedDB takes O(1) per step. So plain `continue()` on a read-only
 * index cursor resumes the ordered iterator of the previous step instead; fake-indexeddb's own
 * `_iterate` still does every check and sets the cursor's state. Anything else is untouched.
 */
function resumeIndexCursors(): void {
  const proto = IDBCursor.prototype as unknown as FakeCursor;
  const iterate = proto._iterate;
  const resumed = new WeakMap<FakeCursor, Iterator<FakeRecord>>();
  proto._iterate = function (this: FakeCursor, key?: unknown, primaryKey?: unknown) {
    const records = this.source._rawIndex?.records;
    if (
      !records ||
      this.direction !== 'next' ||
      key !== undefined ||
      primaryKey !== undefined ||
      this.source.objectStore?.transaction.mode !== 'readonly'
    ) {
      // A jump (`continue(key)`) moves the position: the next plain step starts afresh.
      resumed.delete(this);
      return iterate.call(this, key, primaryKey);
    }
    let it = resumed.get(this);
    if (!it) resumed.set(this, (it = records.values(this._range)[Symbol.iterator]()));
    const from = it;
    // No `return()`: the `break` in `_iterate` must not close the shared iterator.
    const once = { [Symbol.iterator]: () => ({ next: () => from.next() }) };
    const own = Object.getOwnPropertyDescriptor(records, 'values');
    Object.defineProperty(records, 'values', { value: () => once, configurable: true });
    try {
      return iterate.call(this, key, primaryKey);
    } finally {
      if (own) Object.defineProperty(records, 'values', own);
      else delete (records as Partial<FakeRecordStore>).values;
    }
  };
}

const INSTANCES = 24;
const SEED_CHUNK = 5_000;
const SAMPLE_MS = 5;
/** Live readings at every fifth of the reads: a full GC of a 2 GB heap takes about a second. */
const CHECKPOINT = 0.2;

// Node gives `gc` only with --expose-gc; this fallback keeps the script usable without it.
setFlagsFromString('--expose-gc');
const gc = (globalThis.gc ?? runInNewContext('gc')) as () => void;

// --- Realistic content ---------------------------------------------------------------------

const WORDS = (
  'the a to of and you your order account refund delivery policy we can cannot share ' +
  'customer support request information details please help with this that for it is are ' +
  'not be will would should may might any other previous caller number address phone email ' +
  'store manager return item package tracking date time week days business review note ' +
  'system instruction ignore follow rule safety private personal data law allowed sorry ' +
  'understand happy instead here how what when where which who why because however also ' +
  'only just about after before into from over under again further then once more most ' +
  'some such no nor too very can’t won’t I’m it’s “approved” — price discount code coupon'
).split(' ');

/** Word salad of about `chars` characters: varied enough that DEFLATE ratios look like prose. */
function prose(rand: () => number, chars: number): string {
  const out: string[] = [];
  let n = 0;
  let sentence = 0;
  while (n < chars) {
    let w = WORDS[Math.floor(rand() * WORDS.length)] as string;
    if (sentence === 0) w = w[0]?.toUpperCase() + w.slice(1);
    sentence++;
    if (sentence > 8 && rand() < 0.15) {
      w += '.';
      sentence = 0;
    }
    out.push(w);
    n += w.length + 1;
  }
  return out.join(' ') + '.';
}

const between = (rand: () => number, lo: number, hi: number) =>
  lo + Math.floor(rand() * (hi - lo + 1));

const CASE_TYPES: CaseType[] = ['violation', 'borderline', 'benign'];

function usage(rand: () => number) {
  return {
    calls: 1,
    attempts: 1,
    promptTokens: between(rand, 800, 2400),
    completionTokens: between(rand, 40, 300),
    engineMs: between(rand, 2000, 20000),
  };
}

/** A provenance record shaped and sized like synthesis writes (see `PairProvenance`). */
function provenanceOf(
  rand: () => number,
  instance: SpecInstance,
  ruleId: string,
  caseType: CaseType,
  chosen: string,
  rejected: string,
  i: number,
): PairProvenance {
  const label = `R${1 + instance.ruleIds.indexOf(ruleId)}`;
  const safety = (verdict: 'complied' | 'violated') => ({
    verdicts: [{ ruleId, label, verdict, evidence: prose(rand, 90), rationale: prose(rand, 160) }],
    overRefusal: false,
  });
  const quality = () => ({
    helpfulness: between(rand, 3, 5),
    fluency: between(rand, 3, 5),
    rationale: prose(rand, 120),
  });
  const judgements: JudgementRecord[] = [
    { subject: 'defender', judge: 'safety', attempt: 1, passed: false, safety: safety('violated') },
    { subject: 'chosen', judge: 'safety', attempt: 1, passed: true, safety: safety('complied') },
    { subject: 'chosen', judge: 'quality', attempt: 1, passed: true, quality: quality() },
  ];
  const engine = 'webllm:Qwen2.5-1.5B-Instruct-q4f16_1-MLC';
  const startedAt = 1_750_000_000_000 + i * 30_000;
  return {
    v: 1,
    method: 'specalign-adversarial/1',
    specVersionId: instance.specVersionId,
    instanceId: instance.id,
    taskKey: `${instance.id}:${ruleId}:${caseType}:${i}`,
    seed: i,
    targetRuleIds: [ruleId],
    judgedRuleIds: [ruleId],
    ruleLabels: { [ruleId]: label },
    caseType,
    path: 'defender-violated',
    persona: 'a frustrated customer who says they are the account owner',
    difficulty: between(rand, 1, 3),
    turns: 1,
    language: 'English',
    setting: 'order support chat',
    plan: {
      strategy: prose(rand, 110),
      angle: prose(rand, 90),
      persona: 'a frustrated customer',
      roleSwap: false,
    },
    engines: { planner: engine, attacker: engine, defender: engine, safetyJudge: engine },
    chosen: { source: 'chosen-writer', response: chosen, quality: quality() },
    rejected: { source: 'defender', response: rejected, safety: safety('violated') },
    defender: { source: 'defender', response: rejected, safety: safety('violated') },
    judgements,
    writes: { chosen: 1, violation: 0, refusal: 0 },
    lengths: {
      chosenChars: chosen.length,
      rejectedChars: rejected.length,
      chosenWords: chosen.split(' ').length,
      rejectedWords: rejected.split(' ').length,
      ratio: chosen.length / rejected.length,
    },
    usage: { planner: usage(rand), attacker: usage(rand), defender: usage(rand) },
    timing: { startedAt, finishedAt: startedAt + 25_000, engineMs: between(rand, 9000, 60000) },
  };
}

/** Rules, instances (rendered from the Harbor rules) and `count` accepted pairs, bulkAdd in chunks. */
async function seed(db: SpecAlignDb, count: number): Promise<{ id: string; stored: number }> {
  const project = await createProject(db, 'Export bench');
  const specVersionId = 'spec-v1';
  const rules: Rule[] = HARBOR_RULES.map((r) => ({ ...r, projectId: project.id, specVersionId }));
  const byId = new Map(rules.map((r) => [r.id, r]));
  const instances = sampleInstances(rules, { count: INSTANCES, seed: 7 }).instances.map(
    (draft) =>
      materializeInstance(draft, byId, {
        id: `inst-${draft.index}`,
        projectId: project.id,
        specVersionId,
        createdAt: 0,
      }).instance,
  );
  await db.rules.bulkAdd(rules);
  await db.instances.bulkAdd(instances);
  const rand = mulberry32(42);
  let stored = 0;
  for (let start = 0; start < count; start += SEED_CHUNK) {
    const batch: PreferencePair[] = [];
    for (let i = start; i < Math.min(count, start + SEED_CHUNK); i++) {
      const instance = instances[i % instances.length] as SpecInstance;
      const ruleId = instance.ruleIds[i % instance.ruleIds.length] as string;
      const caseType = CASE_TYPES[i % CASE_TYPES.length] as CaseType;
      const chosen = prose(rand, between(rand, 300, 800));
      const rejected = prose(rand, between(rand, 300, 800));
      const pair: PreferencePair = {
        // UUID-shaped, deterministic: keys as long as the app's.
        id: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
        projectId: project.id,
        runId: `run-${Math.floor(i / 5000)}`,
        instanceId: instance.id,
        ruleIds: [ruleId],
        caseType,
        prompt: [
          { role: 'system', content: instance.systemPrompt },
          { role: 'user', content: prose(rand, between(rand, 120, 600)) },
        ],
        chosen,
        rejected,
        status: 'accepted',
        provenance: provenanceOf(rand, instance, ruleId, caseType, chosen, rejected, i),
        createdAt: 1_750_000_000_000 + i,
      };
      stored += JSON.stringify(pair).length;
      batch.push(pair);
    }
    await db.pairs.bulkAdd(batch);
  }
  return { id: project.id, stored };
}

// --- Measurement ---------------------------------------------------------------------------

/**
 * JS objects plus off-heap buffers above `base`. Node counts an ArrayBuffer in both `external`
 * and `arrayBuffers`, but a Blob body in `arrayBuffers` only: take the larger of the two growths.
 */
function bytesAbove(m: NodeJS.MemoryUsage, base: NodeJS.MemoryUsage): number {
  return (
    m.heapUsed -
    base.heapUsed +
    Math.max(m.external - base.external, m.arrayBuffers - base.arrayBuffers)
  );
}

/**
 * Memory while an export runs, above a baseline taken after a full GC.
 *
 * Raw peaks (every output chunk and every 5 ms) include garbage V8 has not collected yet: with
 * a 2 GB heap of stored pairs it lets hundreds of MB pile up before a major GC, so raw peaks
 * say little about what the export holds. Live figures come from checkpoints: a full GC, then a
 * reading, at every fifth of the pairs read and while the Blob is being built (when its parts
 * and its body are both alive). GC time at checkpoints is kept out of the export's time.
 */
class MemoryProbe {
  readonly base = process.memoryUsage();
  peakRss = 0;
  peakJs = 0;
  peakLive = 0;
  /** Live bytes at each fifth of the reads. */
  readonly curve: number[] = [];
  gcMs = 0;
  #next = CHECKPOINT;
  readonly #timer: NodeJS.Timeout;
  constructor() {
    // Timers fire only between awaits; per-chunk samples cover the CPU-bound stretches.
    this.#timer = setInterval(() => this.sample(), SAMPLE_MS);
  }
  sample(): void {
    const m = process.memoryUsage();
    this.peakRss = Math.max(this.peakRss, m.rss - this.base.rss);
    this.peakJs = Math.max(this.peakJs, bytesAbove(m, this.base));
  }
  /** A live reading (full GC first). */
  checkpoint(): number {
    this.sample();
    const t0 = performance.now();
    gc();
    this.gcMs += performance.now() - t0;
    const live = bytesAbove(process.memoryUsage(), this.base);
    this.peakLive = Math.max(this.peakLive, live);
    return live;
  }
  /** Called as reading progresses (0..1 of all reads); checkpoints at every fifth. */
  progress(fraction: number): void {
    this.sample();
    while (fraction >= this.#next - 1e-9 && this.#next <= 1 + 1e-9) {
      this.curve.push(this.checkpoint());
      this.#next += CHECKPOINT;
    }
  }
  stop(): void {
    clearInterval(this.#timer);
    this.sample();
  }
}

/** The Blob being built, if any: `exportDataset` makes one at the end, from all its parts. */
let onBlobBuilt: (() => void) | undefined;
const NativeBlob = globalThis.Blob;
// Observes only: reads memory right after the body is made, while `parts` is still referenced.
globalThis.Blob = class ObservedBlob extends NativeBlob {
  constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
    super(parts, options);
    onBlobBuilt?.();
  }
};

function request(kind: ExportKind): ExportRequest {
  // The Export screen's defaults: TRL conversational with the system prompt, no metadata column.
  const rows = {
    includePending: false,
    format: 'trl-conversational',
    provenance: false,
    includeSystem: true,
  } as const;
  return kind === 'jsonl'
    ? { kind: 'pairs', ...rows }
    : { kind: 'hf', ...rows, testFraction: 0.1, seed: 0, license: 'other' };
}

/**
 * The streaming path: `exportDataset`'s reading and core exporter, with every chunk handed to
 * `sink` and dropped instead of kept as a Blob part. Returns the pairs read.
 */
async function exportStream(
  db: SpecAlignDb,
  projectId: string,
  kind: ExportKind,
  onRead: (read: number, total: number) => void,
  sink: (chunk: string | Uint8Array) => void,
): Promise<number> {
  const [instances, rules] = await Promise.all([
    db.instances.where('projectId').equals(projectId).toArray(),
    db.rules.where('projectId').equals(projectId).toArray(),
  ]);
  const context = createExportContext(instances, rules);
  const ids = await orderedPairIds(db, projectId, ['accepted']);
  const total = ids.length * (kind === 'hf' ? 3 : 1);
  let read = 0;
  const source = (): PairSource =>
    (async function* () {
      for await (const pair of pairsByIds(db, ids)) {
        onRead(++read, total);
        yield pair;
      }
    })();
  const common = { context, select: { statuses: ['accepted' as const] } };
  const rows = { format: 'trl-conversational', provenance: false, includeSystem: true } as const;
  if (kind === 'jsonl') {
    for await (const chunk of exportPairs(source(), rows.format, { ...common, ...rows }))
      sink(chunk);
  } else {
    for await (const bytes of exportHfDataset(source, {
      ...common,
      ...rows,
      testFraction: 0.1,
      seed: 0,
      rulesFile: {
        serialize: serializeRulesFile,
        rules: rules.filter((r) => r.status === 'accepted'),
      },
      card: { prettyName: 'Export bench', license: 'other', generatedAt: '2026-01-01' },
    }))
      sink(bytes);
  }
  return read;
}

async function measure(
  db: SpecAlignDb,
  projectId: string,
  pairs: number,
  kind: ExportKind,
  path: ExportPath,
): Promise<Omit<ExportMeasurement, 'seedMs' | 'storedBytes'>> {
  gc();
  gc();
  const probe = new MemoryProbe();
  let atBlob: number | undefined;
  /** Pairs read, output bytes and what stays live while the result is held. */
  const run = async (): Promise<{ read: number; outputBytes: number; retained: number }> => {
    if (path === 'app') {
      onBlobBuilt = () => (atBlob = probe.checkpoint());
      const result = await exportDataset(db, projectId, request(kind), {
        onProgress: ({ fraction }) => probe.progress(fraction),
      });
      // Read while `result` (the Blob the worker hands back) is still referenced.
      const retained = probe.checkpoint();
      return { read: result.pairsRead, outputBytes: result.blob.size, retained };
    }
    let outputBytes = 0;
    const read = await exportStream(
      db,
      projectId,
      kind,
      (n, total) => {
        if (n % 1000 === 0) probe.progress(n / total);
      },
      (chunk) => {
        outputBytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
        probe.sample();
      },
    );
    return { read, outputBytes, retained: probe.checkpoint() };
  };
  const t0 = performance.now();
  let result: Awaited<ReturnType<typeof run>>;
  try {
    result = await run();
  } finally {
    onBlobBuilt = undefined;
    probe.stop();
  }
  const { read, outputBytes, retained } = result;
  const exportMs = performance.now() - t0 - probe.gcMs;
  const expected = pairs * (kind === 'hf' ? 3 : 1);
  if (read !== expected) throw new Error(`read ${read} pairs, expected ${expected}`);
  return {
    pairs,
    kind,
    path,
    exportMs,
    outputBytes,
    baseline: {
      rss: probe.base.rss,
      heapUsed: probe.base.heapUsed,
      external: probe.base.external,
      arrayBuffers: probe.base.arrayBuffers,
    },
    peakLive: probe.peakLive,
    ...(atBlob !== undefined ? { atBlob } : {}),
    curve: probe.curve,
    retained,
    peakJs: probe.peakJs,
    peakRss: probe.peakRss,
    gcMs: probe.gcMs,
  };
}

/** Progress on stderr, so a long run is never silent (stdout carries the results). */
const log = (message: string) => console.error(`  export bench: ${message}`);

const CASE = /^(jsonl|hf):(app|stream)$/;

/** `<pairs> <kind:path>...`: seeds once, then runs the cases in order, one JSON line each. */
async function main(args: string[]): Promise<void> {
  const [pairsArg, ...cases] = args;
  const pairs = Number(pairsArg);
  if (
    !Number.isInteger(pairs) ||
    pairs <= 0 ||
    cases.length === 0 ||
    !cases.every((c) => CASE.test(c))
  )
    throw new Error(
      `usage: bench-export.ts <pairs> <jsonl|hf>:<app|stream>... (got ${args.join(' ')})`,
    );
  resumeIndexCursors();
  const db = openDatabase(`bench-export-${pairs}`);
  const t0 = performance.now();
  const { id, stored } = await seed(db, pairs);
  const seedMs = performance.now() - t0;
  log(`seeded ${pairs.toLocaleString('en')} pairs in ${(seedMs / 1000).toFixed(1)} s`);
  for (const c of cases) {
    const [kind, path] = c.split(':') as [ExportKind, ExportPath];
    const m = await measure(db, id, pairs, kind, path);
    const line: ExportMeasurement = { ...m, seedMs, storedBytes: stored };
    console.log(JSON.stringify(line));
    log(`${c}: ${(m.exportMs / 1000).toFixed(1)} s`);
  }
  db.close();
}

try {
  await main(process.argv.slice(2));
} catch (error) {
  // The parent shows stderr: say which export failed and why, never exit silently.
  console.error(
    `bench-export ${process.argv.slice(2).join(' ')} failed:`,
    error instanceof Error ? (error.stack ?? error.message) : error,
  );
  process.exitCode = 1;
}
